//! An académie on one server: 1 000 establishments on Postgres, `COLLEGES` of them loaded
//! with the 600-student demo collège, the others small (registered, a few teachers). The
//! real `carnet serve` runs as a process of its own; the benchmark measures, in one run:
//!
//! - the first fold of every read model (`carnet project --until-caught-up`);
//! - start to ready: `carnet serve` started until `/readyz` answers 200 (goal < 30 s);
//! - idle: commits/s in `pg_stat_database` and the server's CPU (goal ≤ 20 commits/s and
//!   < 2 % of a core);
//! - an 8:00 roll call: for each morning lesson of each collège, its first students'
//!   roll-call entries through the GraphQL API, offered at `RATE` commands/s whatever
//!   the answers (open loop): command p50/p99 (goal p99 < 50 ms), projection lag p99 over
//!   every establishment sampled every 50 ms (goal < 0.5 s), and the p99 of parents'
//!   dashboards asked meanwhile.
//!
//!   cargo bench --bench academie                  # 1 000 establishments, 20 collèges
//!   cargo bench --bench academie -- 200 5         # 200 establishments, 5 collèges
//!
//! Postgres: the server at $BENCH_PG (default postgresql://root@127.0.0.1:5432), in a
//! database `carnet_academie_bench` recreated at each run.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark that cannot run stops

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use carnet::demo;
use carnet_api::auth::{ClaimedRole, DevKey};
use carnet_domain::attendance::AttendancePolicy;
use carnet_domain::enrolment::{EstablishmentCommand as E, Role};
use carnet_domain::Uai;
use carnet_store::{CommandContext, EventStore, Location, School};
use chrono::NaiveTime;
use serde_json::{json, Value};
use sqlx::PgPool;

/// Roll-call commands offered per second at 8:00.
const RATE: u64 = 400;
/// Roll-call entries per lesson (the students a teacher marks absent or late).
const ENTRIES_PER_LESSON: usize = 3;
/// Parents' dashboards asked per second during the roll call.
const DASHBOARDS: u64 = 20;
/// The morning of the roll call: a Monday of the demo's school year.
const DAY: &str = "2026-12-07";

const ROLL_CALL: &str = "mutation($l: String!, $s: String!) {
  recordAttendance(input: { lesson: $l, student: $s, status: { kind: ABSENT } }) { version }
}";

const DASHBOARD: &str = "query Dashboard($id: String!) {
  student(id: $id) {
    firstName lastName placement { division groups }
    timetable(from: \"2026-12-07\", to: \"2026-12-11\") { start end subject room teachers cancelled }
    absences(first: 20) { totalCount edges { node { date start status { label } justified } } }
    halfDays(from: \"2026-09-01\", to: \"2026-12-19\") { total justified unjustified }
  }
}";

#[tokio::main]
async fn main() {
    let numbers: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let establishments = numbers.first().copied().unwrap_or(1000);
    let colleges = numbers.get(1).copied().unwrap_or(20).min(establishments);
    // CARNET_BENCH_REUSE=1: the académie of the last run, already loaded and folded (ask
    // for another CARNET_BENCH_DAY then: the last run's roll calls are recorded).
    let reuse = std::env::var_os("CARNET_BENCH_REUSE").is_some();
    let rate: u64 = std::env::var("CARNET_BENCH_RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(RATE);
    let day = std::env::var("CARNET_BENCH_DAY").unwrap_or_else(|_| DAY.to_string());
    let url = if reuse {
        common::pg_database("carnet_academie_bench")
    } else {
        common::fresh_pg_database("carnet_academie_bench").await
    };
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(&Location::Url(url.clone()), common::keyed(dir.path()))
        .await
        .unwrap();
    let pg = PgPool::connect(&url).await.unwrap();
    if reuse {
        let collèges: Vec<(Uai, usize)> = (0..colleges)
            .map(|n| (Uai::from_number(800_000 + n).unwrap(), 600))
            .collect();
        return measure(store, pg, &url, dir.path(), collèges, rate, &day).await;
    }

    // The académie.
    let started = Instant::now();
    let mut collèges = Vec::new();
    for n in 0..colleges {
        let uai = Uai::from_number(800_000 + n).unwrap();
        let report = demo::load_establishment(
            &store,
            uai.clone(),
            format!("Collège {n}"),
            600,
            2026 + u64::from(n),
        )
        .await
        .unwrap();
        collèges.push((uai, report.students));
    }
    for n in colleges..establishments {
        small(&store, Uai::from_number(800_000 + n).unwrap()).await;
    }
    let events: i64 = store.tenants().await.unwrap().iter().map(|t| t.head).sum();
    println!(
        "académie: {establishments} establishments ({colleges} demo collèges of 600 students), {events} events, loaded in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The first fold of every read model, by a projector process.
    let started = Instant::now();
    let folded = carnet(dir.path(), &url)
        .args(["project", "--until-caught-up"])
        .status()
        .unwrap();
    assert!(folded.success());
    println!(
        "first fold of the read models: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    measure(store, pg, &url, dir.path(), collèges, rate, &day).await;
}

/// Serves the académie and measures it: start to ready, idle, the 8:00 roll call.
async fn measure(
    store: EventStore,
    pg: PgPool,
    url: &str,
    dir: &std::path::Path,
    collèges: Vec<(Uai, usize)>,
    rate: u64,
    day: &str,
) {
    // The steady state of a morning: the night's loads vacuumed (otherwise autovacuum's
    // own transactions would count as the idle server's).
    sqlx::query("VACUUM ANALYZE").execute(&pg).await.unwrap();

    // Start to ready.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let mut server = carnet(dir, url)
        .args([
            "serve",
            "--dev-tokens",
            "true",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .spawn()
        .unwrap();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    loop {
        let ok = http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(600), "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let to_ready = started.elapsed();

    // Idle.
    let idle = Duration::from_secs(30);
    let commits = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()";
    // Postgres reports an idle connection's statistics up to ten seconds late: let those
    // of the start (and of the loads before it) arrive before the window opens.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let (c0, cpu0) = (scalar(&pg, commits).await, cpu_ticks(&server));
    tokio::time::sleep(idle).await;
    let (c1, cpu1) = (scalar(&pg, commits).await, cpu_ticks(&server));
    let idle_commits = (c1 - c0) as f64 / idle.as_secs_f64();
    let idle_cpu = (cpu1 - cpu0) as f64 / ticks_per_second() / idle.as_secs_f64() * 100.0;

    // The 8:00 roll call.
    let key = DevKey::load_or_create(dir).unwrap();
    let token = |uai: &Uai, person: &str, role| {
        key.mint(
            person,
            std::slice::from_ref(uai),
            &[role],
            chrono::Duration::hours(2),
        )
        .unwrap()
    };
    let mut roll_calls = Vec::new();
    let mut parents = Vec::new();
    for (uai, students) in &collèges {
        let cpe = token(uai, "cpe1", ClaimedRole::Cpe);
        let mut lessons: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
        for s in 1..=*students {
            let id = format!("eleve{s:05}");
            let answer = post(&http, &base, &cpe, "query($id: String!, $d: Date!) { student(id: $id) { timetable(from: $d, to: $d) { localId start teachers cancelled } } }", json!({ "id": id, "d": day })).await.unwrap();
            for lesson in answer["data"]["student"]["timetable"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let start = lesson["start"].as_str().unwrap_or_default();
                // The 8:00 and 9:00 lessons: the morning's roll calls.
                if !lesson["cancelled"].is_null()
                    || !(start.contains("T08:") || start.contains("T09:"))
                {
                    continue;
                }
                let Some(teacher) = lesson["teachers"][0].as_str() else {
                    continue;
                };
                let entry = lessons
                    .entry(lesson["localId"].as_str().unwrap().to_string())
                    .or_insert_with(|| (teacher.to_string(), Vec::new()));
                if entry.1.len() < ENTRIES_PER_LESSON {
                    entry.1.push(id.clone());
                }
            }
            parents.push((
                id,
                token(uai, &format!("resp{s:05}a"), ClaimedRole::Guardian),
            ));
        }
        for (lesson, (teacher, students)) in lessons {
            let t = token(uai, &teacher, ClaimedRole::Teacher);
            for student in students {
                roll_calls.push((lesson.clone(), student, t.clone()));
            }
        }
    }
    // Every collège's first lesson, then every collège's second...: as they arrive at 8:00.
    roll_calls.sort_by_key(|(lesson, student, _)| (student.clone(), lesson.clone()));
    let commands = roll_calls.len();
    let errors = Arc::new(AtomicUsize::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let (done, finished) = tokio::sync::watch::channel(false);
    let lag = {
        let (pg, finished) = (store.backend().pool(), finished.clone());
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while !*finished.borrow() {
                if let Ok(h) = carnet_projections::checkpoint::health(&pg, 5).await {
                    let worst = h
                        .projections
                        .iter()
                        .filter_map(|p| p.max_lag_us)
                        .max()
                        .unwrap_or(0);
                    samples.push(Duration::from_micros(worst.max(0) as u64));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            samples
        })
    };
    let dashboards = {
        let (http, base, finished) = (http.clone(), base.clone(), finished.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / DASHBOARDS));
            let mut asked = Vec::new();
            for (id, t) in parents.iter().cycle() {
                tick.tick().await;
                if *finished.borrow() {
                    break;
                }
                let (http, base, id, t) = (http.clone(), base.clone(), id.clone(), t.clone());
                asked.push(tokio::spawn(async move {
                    let started = Instant::now();
                    post(&http, &base, &t, DASHBOARD, json!({ "id": id }))
                        .await
                        .map(|_| started.elapsed())
                }));
            }
            let mut latencies = Vec::new();
            for a in asked {
                if let Ok(Ok(l)) = a.await {
                    latencies.push(l);
                }
            }
            latencies
        })
    };
    println!(
        "8:00: {commands} roll-call commands (server pid {})",
        server.id()
    );
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let mut sent = Vec::with_capacity(commands);
    for (lesson, student, t) in roll_calls {
        tick.tick().await;
        // Open loop: the latency counts from when the command was due, not sent.
        let due = Instant::now();
        let (http, base, errors, first_error) = (
            http.clone(),
            base.clone(),
            errors.clone(),
            first_error.clone(),
        );
        sent.push(tokio::spawn(async move {
            let answer = post(
                &http,
                &base,
                &t,
                ROLL_CALL,
                json!({ "l": lesson, "s": student }),
            )
            .await;
            if let Err(e) = answer {
                errors.fetch_add(1, Ordering::Relaxed);
                first_error.lock().unwrap().get_or_insert(e);
            }
            due.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(commands);
    for s in sent {
        latencies.push(s.await.unwrap());
    }
    let peak = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = done.send(true);
    let lags = lag.await.unwrap();
    let dashboard_latencies = dashboards.await.unwrap();

    println!();
    println!("| figure | measured | goal |");
    println!("|---|---|---|");
    println!(
        "| start to ready | {:.2} s | < 30 s |",
        to_ready.as_secs_f64()
    );
    println!(
        "| commits/s when idle ({} s) | {idle_commits:.1} | ≤ 20 |",
        idle.as_secs()
    );
    println!("| server CPU when idle | {idle_cpu:.2} % of a core | < 2 % |");
    println!(
        "| 8:00 roll call ({day}): {commands} commands offered at {rate}/s, {} errors | {:.0} commands/s over {:.1} s | |",
        errors.load(Ordering::Relaxed),
        commands as f64 / peak.as_secs_f64(),
        peak.as_secs_f64()
    );
    println!(
        "| command latency p50 / p99 | {:.1} ms / {:.1} ms | p99 < 50 ms |",
        ms(&mut latencies, 0.5),
        ms(&mut latencies, 0.99)
    );
    let mut lags = lags;
    println!(
        "| projection lag p99 (worst establishment, {} samples) | {:.3} s | < 0.5 s |",
        lags.len(),
        ms(&mut lags, 0.99) / 1000.0
    );
    let mut dashboard_latencies = dashboard_latencies;
    println!(
        "| parent dashboard p50 / p99 during the peak ({} asked) | {:.1} ms / {:.1} ms | |",
        dashboard_latencies.len(),
        ms(&mut dashboard_latencies, 0.5),
        ms(&mut dashboard_latencies, 0.99)
    );
    if let Some(e) = first_error.lock().unwrap().as_ref() {
        println!("first error: {e}");
    }
    let _ = Command::new("kill").arg(server.id().to_string()).status();
    let _ = server.wait();
}

/// A small establishment: registered, with three teachers.
async fn small(store: &EventStore, uai: Uai) {
    store
        .create_tenant(&uai, &format!("Établissement {uai}"), "Europe/Paris")
        .await
        .unwrap();
    let school = School::new(store.clone(), uai.clone(), AttendancePolicy::default());
    let id = school.establishment_id();
    let ctx = CommandContext::default();
    school
        .establishment
        .execute(
            &id,
            E::Register {
                uai: uai.clone(),
                name: format!("Établissement {uai}"),
                time_zone: chrono_tz::Europe::Paris,
                morning_ends: NaiveTime::from_hms_opt(12, 30, 0).unwrap(),
            },
            &ctx,
        )
        .await
        .unwrap();
    for t in 0..3 {
        school
            .establishment
            .execute(
                &id,
                E::AddStaffMember {
                    person: format!("prof{t}"),
                    name: format!("Professeur {t}"),
                    roles: [Role::Teacher].into_iter().collect(),
                },
                &ctx,
            )
            .await
            .unwrap();
    }
}

fn carnet(dir: &std::path::Path, url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_carnet"));
    command
        .env("DATABASE_URL", url)
        .env("CARNET_DATA_DIR", dir)
        .env("RUST_LOG", "warn")
        // Capacity is measured here, not the pace limit of one identity (the lesson
        // survey asks 600 questions with one token per collège).
        .env("CARNET_RATE_PER_SECOND", "1000000")
        .env("CARNET_RATE_BURST", "1000000")
        .stdout(Stdio::null());
    command
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// User and system CPU ticks of a process so far (Linux).
fn cpu_ticks(child: &Child) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap_or_default();
    // The fields after the command name (which may hold spaces) start after its ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    tick(11) + tick(12)
}

fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn ms(latencies: &mut [Duration], p: f64) -> f64 {
    if latencies.is_empty() {
        return f64::NAN;
    }
    latencies.sort();
    let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
    latencies[index].as_secs_f64() * 1000.0
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> Result<Value, String> {
    let response = http
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let answer: Value = response.json().await.map_err(|e| e.to_string())?;
    match answer.get("errors") {
        Some(errors) => Err(errors.to_string()),
        None => Ok(answer),
    }
}
