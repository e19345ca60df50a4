//! The parent's dashboard under load: 64 concurrent clients ask for a child's week, this
//! term's absences, latest grades and averages, over HTTP, while roll calls are written
//! through the API at 100 per second. Prints requests/s, p50/p99/max latency and errors.
//!
//!   cargo bench --bench dashboard             # Postgres, 30 s of load
//!   cargo bench --bench dashboard -- 60       # 60 s
//!   cargo bench --bench dashboard -- sqlite   # on SQLite instead
//!
//! Postgres: the server at $BENCH_PG (default postgresql://root@127.0.0.1:5432), in a
//! database `carnet_dashboard_bench` recreated at each run, with the 600-student demo.
//! The server runs in this process, as `carnet serve` does (inline projections and
//! projectors), on 127.0.0.1:0.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark that cannot run stops

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use carnet::demo::{self, DemoOptions};
use carnet_api::auth::{Authenticator, ClaimedRole, DevKey};
use carnet_api::state::AppState;
use carnet_domain::Uai;
use carnet_projections::{Inline, Projector};
use carnet_store::{BeforeCommit, EventStore, Location, StoreOptions};
use serde_json::{json, Value};

// The allocator of the `carnet` binary, so the server here runs as it does there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CLIENTS: usize = 64;
const ROLL_CALLS_PER_SECOND: u64 = 100;

const DASHBOARD: &str = "query Dashboard($id: String!, $at: DateTime) {
  student(id: $id, asOf: $at) {
    firstName lastName placement { division groups }
    timetable(from: \"2026-11-23\", to: \"2026-11-29\") { start end subject room teachers cancelled }
    absences(first: 20) { totalCount edges { node { date start status { label } justified } } }
    halfDays(from: \"2026-09-01\", to: \"2026-12-19\") { total justified unjustified }
    reportCard { period overall subjects { subject average } marks { date subject title mark { label } classFigures { average } } }
  }
}";

const ROLL_CALL: &str = "mutation($l: String!, $s: String!) {
  recordAttendance(input: { lesson: $l, student: $s, status: { kind: ABSENT } }) { version }
}";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let seconds: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(30);
    let sqlite = args.iter().any(|a| a == "sqlite");
    let dir = tempfile::tempdir().unwrap();
    let location = if sqlite {
        Location::Url(format!(
            "sqlite:{}",
            dir.path().join("dashboard.sqlite").display()
        ))
    } else {
        Location::Url(common::fresh_pg_database("carnet_dashboard_bench").await)
    };
    let plain = EventStore::open(&location, common::keyed(dir.path()))
        .await
        .unwrap();
    let reports = demo::load(&plain, &DemoOptions::default()).await.unwrap();
    let uai = Uai::parse(&reports[0].uai).unwrap();
    let students = reports[0].students;
    let inline = carnet_projections::named(&[carnet_projections::INLINE_BY_DEFAULT]).unwrap();
    let store = EventStore::open(
        &location,
        StoreOptions {
            before_commit: Some(Arc::new(Inline::new(inline)) as Arc<dyn BeforeCommit>),
            ..common::keyed(dir.path())
        },
    )
    .await
    .unwrap();
    for projection in carnet_projections::all() {
        let projector = Projector::new(store.clone(), uai.clone(), projection);
        projector.catch_up().await.unwrap();
        tokio::spawn(async move { projector.run(std::future::pending()).await });
    }
    let key = DevKey::new(vec![42; 32]);
    // Capacity is measured, not one identity's pace (the roll calls come from one CPE).
    let state = Arc::new(
        AppState::new(store.clone(), Authenticator::new(Some(key.clone()), None))
            .with_rate_limit(u32::MAX, u32::MAX),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(carnet_api::server::serve(
        state,
        listener,
        std::future::pending(),
    ));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS * 2)
        .build()
        .unwrap();
    let token = |person: &str, role| {
        key.mint(
            person,
            std::slice::from_ref(&uai),
            &[role],
            chrono::Duration::hours(2),
        )
        .unwrap()
    };

    // Roll calls to write: students' December lessons, one line each, taken in turn
    // from each student as registers are (one line per student of a lesson).
    let cpe = token("cpe1", ClaimedRole::Cpe);
    let mut per_student = Vec::new();
    for n in 1..=students.min(200) {
        let id = format!("eleve{n:05}");
        let answer = post(&http, &base, &cpe, "query($id: String!) { student(id: $id) { timetable(from: \"2026-12-01\", to: \"2026-12-18\") { localId cancelled } } }", json!({ "id": id })).await.unwrap();
        let lessons: Vec<(String, String)> = answer["data"]["student"]["timetable"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["cancelled"].is_null())
            .map(|l| (l["localId"].as_str().unwrap().to_string(), id.clone()))
            .collect();
        per_student.push(lessons);
    }
    let longest = per_student.iter().map(Vec::len).max().unwrap_or(0);
    let roll_calls: Vec<(String, String)> = (0..longest)
        .flat_map(|i| per_student.iter().filter_map(move |l| l.get(i).cloned()))
        .collect();
    let guardians: Vec<(String, String)> = (1..=students)
        .map(|n| {
            (
                format!("eleve{n:05}"),
                token(&format!("resp{n:05}a"), ClaimedRole::Guardian),
            )
        })
        .collect();
    println!(
        "{} backend, {students} students, {CLIENTS} clients for {seconds} s, {ROLL_CALLS_PER_SECOND} roll calls/s",
        if sqlite { "sqlite" } else { "postgres" }
    );
    // Warm-up: every child's dashboard once, as the first minutes of a morning would.
    for (id, t) in guardians.iter().take(50) {
        post(&http, &base, t, DASHBOARD, json!({ "id": id }))
            .await
            .unwrap();
    }

    let before_load = chrono::Utc::now();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicUsize::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let writer = {
        let (http, base, errors, first_error) = (
            http.clone(),
            base.clone(),
            errors.clone(),
            first_error.clone(),
        );
        tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(Duration::from_micros(1_000_000 / ROLL_CALLS_PER_SECOND));
            let mut written = 0usize;
            for (lesson, student) in roll_calls {
                tick.tick().await;
                if Instant::now() >= deadline {
                    break;
                }
                let (http, base, cpe, errors, first_error) = (
                    http.clone(),
                    base.clone(),
                    cpe.clone(),
                    errors.clone(),
                    first_error.clone(),
                );
                written += 1;
                tokio::spawn(async move {
                    if let Err(e) = post(
                        &http,
                        &base,
                        &cpe,
                        ROLL_CALL,
                        json!({ "l": lesson, "s": student }),
                    )
                    .await
                    {
                        errors.fetch_add(1, Ordering::Relaxed);
                        first_error
                            .lock()
                            .unwrap()
                            .get_or_insert(format!("roll call: {e}"));
                    }
                });
            }
            written
        })
    };
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (http, base, latencies, errors, first_error) = (
            http.clone(),
            base.clone(),
            latencies.clone(),
            errors.clone(),
            first_error.clone(),
        );
        let guardians = guardians.clone();
        clients.push(tokio::spawn(async move {
            let mut n = c;
            let mut mine = Vec::new();
            while Instant::now() < deadline {
                let (id, t) = &guardians[n % guardians.len()];
                n += CLIENTS;
                let started = Instant::now();
                match post(&http, &base, t, DASHBOARD, json!({ "id": id })).await {
                    Ok(_) => mine.push(started.elapsed()),
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        first_error.lock().unwrap().get_or_insert(e);
                    }
                }
            }
            latencies.lock().unwrap().extend(mine);
        }));
    }
    let started = Instant::now();
    for c in clients {
        c.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let written = writer.await.unwrap();
    let mut all = latencies.lock().unwrap().clone();
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "dashboard: {} requests in {elapsed:.1} s = {:.0} requests/s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "roll calls written: {written} ({:.0}/s); errors: {}",
        written as f64 / elapsed,
        errors.load(Ordering::Relaxed)
    );
    let first = first_error.lock().unwrap().clone();
    if let Some(e) = first {
        println!("first error: {e}");
    }

    // The same dashboard as Carnet knew it before the load's roll calls (folded from
    // the log) beside the current one (from the read models), one request at a time.
    for (label, at) in [
        ("current", Value::Null),
        ("asOf before the load", json!(before_load)),
    ] {
        let mut times = Vec::new();
        for (id, t) in guardians.iter().take(100) {
            let started = Instant::now();
            post(&http, &base, t, DASHBOARD, json!({ "id": id, "at": at }))
                .await
                .unwrap();
            times.push(started.elapsed());
        }
        times.sort();
        println!(
            "{label}: p50 {:.1} ms, p99 {:.1} ms (100 sequential requests)",
            times[50].as_secs_f64() * 1000.0,
            times[99].as_secs_f64() * 1000.0
        );
    }
}

/// One GraphQL request; an HTTP failure or a GraphQL error is an error.
async fn post(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> Result<Value, String> {
    let response = http
        .post(base)
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let answer: Value = response.json().await.map_err(|e| e.to_string())?;
    match answer.get("errors") {
        Some(errors) if !errors.is_null() => Err(errors.to_string()),
        _ => Ok(answer),
    }
}
