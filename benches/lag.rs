//! Projection lag under write load: the seconds between a command's commit and the moment
//! each asynchronous projection has applied it, while 8 clients append one-event commands
//! (roll-call entries, as the append benchmark's clients do) as fast as they are answered.
//! Then the same load with the default inline projections, to show what read-your-writes
//! costs the appends.
//!
//!   cargo bench --bench lag                 # both backends, 10 s of load each
//!   cargo bench --bench lag -- postgres 30  # one backend, 30 s
//!
//! Postgres: the server at $BENCH_PG (default postgresql://root@127.0.0.1:5432), in a
//! database `carnet_lag_bench` recreated at each run. SQLite: a file in a temporary
//! directory. Both start with the 600-student demo establishment.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark that cannot run stops

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use carnet::demo::{self, DemoOptions};
use carnet_domain::attendance::{AttendanceCommand, AttendancePolicy, Status};
use carnet_domain::Uai;
use carnet_projections::{checkpoint, Inline, Projector};
use carnet_store::{
    BeforeCommit, CommandContext, CommandOutcome, EventStore, Location, School, StoreOptions,
};
use chrono::{NaiveDate, NaiveTime};

const CLIENTS: usize = 8;
/// How often the checkpoints are read: the resolution of the lag figures.
const POLL: Duration = Duration::from_millis(2);

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let seconds: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(10);
    let only = args.iter().find(|a| a.parse::<u64>().is_err()).cloned();
    for backend in ["postgres", "sqlite"] {
        if only.as_deref().is_some_and(|o| o != backend) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let location = match backend {
            "postgres" => Location::Url(common::fresh_pg_database("carnet_lag_bench").await),
            _ => Location::Url(format!(
                "sqlite:{}",
                dir.path().join("lag.sqlite").display()
            )),
        };
        run(backend, &location, dir.path(), Duration::from_secs(seconds)).await;
    }
}

async fn run(backend: &str, location: &Location, dir: &std::path::Path, load: Duration) {
    let store = EventStore::open(location, common::keyed(dir))
        .await
        .unwrap();
    let reports = demo::load(&store, &DemoOptions::default()).await.unwrap();
    let uai = Uai::parse(&reports[0].uai).unwrap();
    let students: Vec<String> = (1..=reports[0].students)
        .map(|n| format!("eleve{n:05}"))
        .collect();

    // The asynchronous projectors, caught up with the demo before the load starts.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut runners = Vec::new();
    for projection in carnet_projections::all() {
        let projector = Projector::new(store.clone(), uai.clone(), projection);
        projector.catch_up().await.unwrap();
        let mut stopped = stopped.clone();
        runners.push(tokio::spawn(async move {
            projector
                .run(async move {
                    while !*stopped.borrow_and_update() {
                        let _ = stopped.changed().await;
                    }
                })
                .await
        }));
    }

    let school = Arc::new(School::new(
        store.clone(),
        uai.clone(),
        AttendancePolicy::default(),
    ));
    let (last, last_answered) = tokio::sync::watch::channel(None);
    let poller = tokio::spawn(watch_checkpoints(store.clone(), uai.clone(), last_answered));
    let (answers, seconds) = write_load(&school, &students, load, "a").await;
    last.send(answers.iter().map(|a| a.position).max()).unwrap();
    let polls = poller.await.unwrap();
    println!(
        "{backend}: {CLIENTS} clients, {} one-event commands in {seconds:.1} s = {:.0} events/s (async projections only)",
        answers.len(),
        answers.len() as f64 / seconds
    );
    for (projection, lags) in lags(&answers, &polls) {
        println!(
            "{backend}:   {projection:<13} lag p50 {:.3} s  p99 {:.3} s  max {:.3} s",
            quantile(&lags, 0.50),
            quantile(&lags, 0.99),
            quantile(&lags, 1.0)
        );
    }
    stop.send(true).unwrap();
    for runner in runners {
        runner.await.unwrap().unwrap();
    }

    // The same load through an instance that keeps the default inline projections.
    let inline = carnet_projections::named(&[carnet_projections::INLINE_BY_DEFAULT]).unwrap();
    let names: Vec<_> = inline.iter().map(|p| p.name()).collect();
    let inline_store = EventStore::open(
        location,
        StoreOptions {
            before_commit: Some(Arc::new(Inline::new(inline)) as Arc<dyn BeforeCommit>),
            ..common::keyed(dir)
        },
    )
    .await
    .unwrap();
    let school = Arc::new(School::new(inline_store, uai, AttendancePolicy::default()));
    let (answers, seconds) = write_load(&school, &students, load, "b").await;
    println!(
        "{backend}: {CLIENTS} clients, {} one-event commands in {seconds:.1} s = {:.0} events/s with inline {}; latency p50 {:.2} ms p99 {:.2} ms",
        answers.len(),
        answers.len() as f64 / seconds,
        names.join(","),
        quantile(&answers.iter().map(|a| a.latency).collect::<Vec<_>>(), 0.5) * 1e3,
        quantile(&answers.iter().map(|a| a.latency).collect::<Vec<_>>(), 0.99) * 1e3,
    );
}

/// One answered command: the last position it wrote, when its answer came, how long
/// it took.
#[derive(Debug, Clone, Copy)]
struct Answer {
    position: i64,
    at: Instant,
    latency: f64,
}

/// `CLIENTS` clients, each on its own students, record roll-call entries for `load`.
async fn write_load(
    school: &Arc<School>,
    students: &[String],
    load: Duration,
    run: &str,
) -> (Vec<Answer>, f64) {
    let started = Instant::now();
    let answers = Arc::new(Mutex::new(Vec::new()));
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let school = school.clone();
        let answers = answers.clone();
        let mine: Vec<String> = students
            .iter()
            .skip(client)
            .step_by(CLIENTS)
            .cloned()
            .collect();
        let run = run.to_string();
        clients.push(tokio::spawn(async move {
            let year = demo::school_year().year;
            let mut n = 0usize;
            while started.elapsed() < load {
                let student = &mine[n % mine.len()];
                let command = AttendanceCommand::RecordAttendance {
                    student: student.clone(),
                    lesson: format!("bench-{run}-{client}-{n}"),
                    date: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
                    start: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
                    end: NaiveTime::from_hms_opt(8, 55, 0).unwrap(),
                    status: Status::Late { minutes: 5 },
                    by: "bench".into(),
                    notify: vec![],
                };
                let sent = Instant::now();
                let outcome = school
                    .attendance
                    .execute(
                        &School::attendance_id(&year, student),
                        command,
                        &CommandContext::default(),
                    )
                    .await
                    .unwrap();
                let at = Instant::now();
                if let CommandOutcome::Appended(outcome) = outcome {
                    answers.lock().unwrap().push(Answer {
                        position: outcome.last_position,
                        at,
                        latency: (at - sent).as_secs_f64(),
                    });
                }
                n += 1;
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    let answers = Arc::try_unwrap(answers).unwrap().into_inner().unwrap();
    (answers, seconds)
}

/// Reads every projection's checkpoint each `POLL`, from the start of the load until all
/// have passed the last answered position: `(projection, [(position, when)])`.
async fn watch_checkpoints(
    store: EventStore,
    uai: Uai,
    last: tokio::sync::watch::Receiver<Option<i64>>,
) -> BTreeMap<&'static str, Vec<(i64, Instant)>> {
    let pool = store.backend().pool();
    let mut polls: BTreeMap<&'static str, Vec<(i64, Instant)>> = BTreeMap::new();
    let mut deadline = None;
    loop {
        let mut lowest = i64::MAX;
        for projection in carnet_projections::all() {
            let row = checkpoint::read_active(&pool, uai.as_str(), projection.name())
                .await
                .unwrap()
                .expect("the projector created its checkpoint");
            polls
                .entry(projection.name())
                .or_default()
                .push((row.position, Instant::now()));
            lowest = lowest.min(row.position);
        }
        if let Some(last) = *last.borrow() {
            let deadline = *deadline.get_or_insert(Instant::now() + Duration::from_secs(120));
            if lowest >= last || Instant::now() > deadline {
                return polls;
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Per projection, each answered command's lag: from its answer to the first poll that
/// saw the projection past it.
fn lags(
    answers: &[Answer],
    polls: &BTreeMap<&'static str, Vec<(i64, Instant)>>,
) -> Vec<(&'static str, Vec<f64>)> {
    polls
        .iter()
        .map(|(name, seen)| {
            let lags = answers
                .iter()
                .map(|a| {
                    let first = seen.partition_point(|(p, _)| *p < a.position);
                    seen.get(first).map_or(f64::INFINITY, |(_, t)| {
                        t.saturating_duration_since(a.at).as_secs_f64()
                    })
                })
                .collect();
            (*name, lags)
        })
        .collect()
}

fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index]
}
