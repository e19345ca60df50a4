//! The append benchmark: prints events/s and command latency (p50, p99) on Postgres and
//! SQLite for
//!   - one-event commands from 1, 8 and 32 concurrent clients on distinct streams of one
//!     establishment (2000 students x 10 commands, as the cqrs-es baseline runs them);
//!   - one-event commands on streams that already hold 2000 events, beside the same run
//!     on new streams (16 streams x 100 commands, 8 clients);
//!   - a bulk append (an import) of 100,000 events in one transaction;
//!   - on Postgres, a région's morning: 32 clients appending one-event commands across
//!     100 establishments (each establishment's group commit then carries one command),
//!     with a process listening for wake-ups, as a server is: the way Carnet wakes
//!     readers now (a coalesced NOTIFY after the commits) beside the way it did before
//!     (a NOTIFY inside every append transaction, reproduced by a trigger), in one run.
//!
//! Commands go through cqrs-es's `CqrsFramework` with a command id and request hash, so
//! they pay the full protocol: positions, hash chain, idempotency record.
//!
//!   cargo bench -p carnet-store --bench append                  # both backends
//!   cargo bench -p carnet-store --bench append -- postgres      # or sqlite
//!   CARNET_BENCH_COMMANDS_ONLY=1 cargo bench ...                # only the 1/8/32-client runs
//!
//! Postgres: the server at $BENCH_PG (default postgresql://root@127.0.0.1:5432), in a
//! database `carnet_bench` recreated at each run. SQLite: a file in a temporary directory.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::sync::Arc;
use std::time::{Duration, Instant};

use carnet_domain::Uai;
use carnet_store::{
    command_metadata, AggregateCache, AggregateStore, AppendRequest, EventStore, ExpectedVersion,
    Location, NewEvent, StoreOptions, StreamRef,
};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, CqrsFramework, DomainEvent};
use serde::{Deserialize, Serialize};
use sqlx::{Connection, Executor};
use uuid::Uuid;

/// The baseline's aggregate: a student's attendance, one event per command.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Attendance {
    absences: u32,
}

#[derive(Debug, Serialize, Deserialize)]
enum Cmd {
    RecordAbsence { lesson: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
enum Ev {
    AbsenceRecorded { lesson: String, kind: String },
}

impl DomainEvent for Ev {
    fn event_type(&self) -> String {
        "AbsenceRecorded".into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("refused")]
struct Refused;

impl Aggregate for Attendance {
    const TYPE: &'static str = "attendance";
    type Command = Cmd;
    type Event = Ev;
    type Error = Refused;
    type Services = ();
    async fn handle(
        &mut self,
        command: Cmd,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Refused> {
        let Cmd::RecordAbsence { lesson } = command;
        sink.write(
            Ev::AbsenceRecorded {
                lesson,
                kind: "absent".into(),
            },
            self,
        )
        .await;
        Ok(())
    }
    fn apply(&mut self, _event: Ev) {
        self.absences += 1;
    }
}

type Cqrs = CqrsFramework<Attendance, AggregateStore<Attendance>>;

struct Figures {
    events: usize,
    seconds: f64,
    latencies: Vec<Duration>,
}

impl Figures {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[index].as_secs_f64() * 1000.0
    }

    fn print(&self, backend: &str, scenario: &str) {
        println!(
            "{backend:<9}{scenario:<44}{:>8}{:>9.2}{:>11.0}{:>9.2}{:>9.2}",
            self.events,
            self.seconds,
            self.events as f64 / self.seconds,
            self.percentile(0.5),
            self.percentile(0.99),
        );
    }
}

/// `students` streams, `per` commands each, at most `clients` commands in flight.
async fn run_commands(
    cqrs: Arc<Cqrs>,
    prefix: &str,
    students: usize,
    per: usize,
    clients: usize,
) -> Figures {
    let gate = Arc::new(tokio::sync::Semaphore::new(clients));
    // The fingerprint costs the same whichever keyring keys it.
    let keyring = Arc::new(carnet_store::keyring::Keyring::generate());
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(students);
    for s in 0..students {
        let (cqrs, gate, keyring) = (cqrs.clone(), gate.clone(), keyring.clone());
        let id = format!("{prefix}-{s}");
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("semaphore");
            let mut latencies = Vec::with_capacity(per);
            let stream = StreamRef::new(Attendance::TYPE, &id);
            for i in 0..per {
                let command = Cmd::RecordAbsence {
                    lesson: format!("lesson-{i}"),
                };
                let metadata = command_metadata(
                    &keyring,
                    &stream,
                    &command,
                    Uuid::new_v4(),
                    Some("teacher-7"),
                    Some("teacher"),
                )
                .expect("metadata");
                let t = Instant::now();
                cqrs.execute_with_metadata(&id, command, metadata)
                    .await
                    .expect("command");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(students * per);
    for task in tasks {
        latencies.extend(task.await.expect("client task"));
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    Figures {
        events: students * per,
        seconds,
        latencies,
    }
}

fn cqrs_for(store: &EventStore, tenant: &Uai) -> Arc<Cqrs> {
    let aggregates =
        AggregateStore::new(store.clone(), tenant.clone(), AggregateCache::new(100_000));
    Arc::new(CqrsFramework::new(aggregates, vec![], ()))
}

fn absence_event(i: usize) -> NewEvent {
    NewEvent::new(
        "AbsenceRecorded",
        1,
        serde_json::json!({ "AbsenceRecorded": { "lesson": format!("lesson-{i}"), "kind": "absent" } }),
    )
}

async fn bench(backend: &str, store: EventStore) {
    let mut n = 1;
    let mut tenant = || {
        n += 1;
        Uai::from_number(750_000 + n).expect("a seven-digit number")
    };

    if backend == "postgres" {
        region_morning(&store).await;
    }

    for clients in [1, 8, 32] {
        let t = tenant();
        store
            .create_tenant(&t, "bench", "Europe/Paris")
            .await
            .expect("tenant");
        let figures = run_commands(cqrs_for(&store, &t), "student", 2000, 10, clients).await;
        figures.print(backend, &format!("1-event commands, {clients} clients"));
    }
    if std::env::var_os("CARNET_BENCH_COMMANDS_ONLY").is_some() {
        return;
    }

    // Long streams against new streams, same shape.
    let t = tenant();
    store
        .create_tenant(&t, "bench", "Europe/Paris")
        .await
        .expect("tenant");
    let short = run_commands(cqrs_for(&store, &t), "new", 16, 100, 8).await;
    short.print(backend, "new streams, 16x100 commands, 8 clients");
    let requests: Vec<AppendRequest> = (0..16)
        .map(|s| {
            AppendRequest::new(
                StreamRef::new(Attendance::TYPE, format!("long-{s}")),
                ExpectedVersion::Exactly(0),
                (0..2000).map(absence_event).collect(),
            )
        })
        .collect();
    store
        .append_bulk(&t, requests)
        .await
        .expect("prefill long streams");
    let long = run_commands(cqrs_for(&store, &t), "long", 16, 100, 8).await;
    long.print(backend, "2000-event streams, 16x100 commands, 8 clients");
    println!(
        "{backend:<9}p50 on 2000-event streams / p50 on new streams = {:.2}",
        long.percentile(0.5) / short.percentile(0.5)
    );
    // A cold load (empty cache) of a 2000-event stream: from its snapshot, and folding it all.
    let fresh =
        AggregateStore::<Attendance>::new(store.clone(), t.clone(), AggregateCache::new(10));
    let started = Instant::now();
    let loaded = fresh.load("long-0").await.expect("load");
    let from_snapshot = started.elapsed();
    let started = Instant::now();
    let all = store
        .read_stream(&t, &StreamRef::new(Attendance::TYPE, "long-0"), 0)
        .await
        .expect("read");
    let full_fold = started.elapsed();
    println!(
        "{backend:<9}cold load of a {}-event stream: {:.2} ms from snapshot + tail, {:.2} ms to read all {} events",
        loaded.version,
        from_snapshot.as_secs_f64() * 1000.0,
        full_fold.as_secs_f64() * 1000.0,
        all.len()
    );

    // An import: 100,000 events over 25,000 streams, in one all-or-nothing transaction.
    let t = tenant();
    store
        .create_tenant(&t, "bench", "Europe/Paris")
        .await
        .expect("tenant");
    let requests: Vec<AppendRequest> = (0..25_000)
        .map(|s| {
            AppendRequest::new(
                StreamRef::new(Attendance::TYPE, format!("import-{s}")),
                ExpectedVersion::Exactly(0),
                (0..4).map(absence_event).collect(),
            )
        })
        .collect();
    let started = Instant::now();
    let outcomes = store.append_bulk(&t, requests).await.expect("bulk append");
    let seconds = started.elapsed().as_secs_f64();
    let events = outcomes
        .iter()
        .map(|o| (o.last_position - o.first_position + 1) as usize)
        .sum();
    Figures {
        events,
        seconds,
        latencies: Vec::new(),
    }
    .print(backend, "bulk append (import), one transaction");
}

/// 32 clients over 100 establishments, one client per establishment at a time: the
/// commit rate is the database's, each commit carrying one command.
async fn region_across(store: &EventStore, tenants: &[Uai], prefix: &str) -> Figures {
    const CLIENTS: usize = 32;
    const PER_CLIENT: usize = 400;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let store = store.clone();
        let tenants = tenants.to_vec();
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(PER_CLIENT);
            for i in 0..PER_CLIENT {
                // Client c moves round the establishments, never two clients on one.
                let tenant = &tenants[(c + i * CLIENTS) % tenants.len()];
                let request = AppendRequest::new(
                    StreamRef::new(Attendance::TYPE, format!("{prefix}-{c}-{i}")),
                    ExpectedVersion::Exactly(0),
                    vec![absence_event(i)],
                );
                let t = Instant::now();
                store.append(tenant, request).await.expect("append");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("client task"));
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    Figures {
        events: CLIENTS * PER_CLIENT,
        seconds,
        latencies,
    }
}

/// See the module's documentation: wake-ups after the commit against a NOTIFY in each
/// append transaction, on the same database, in one run.
async fn region_morning(store: &EventStore) {
    let tenants: Vec<Uai> = (0..100)
        .map(|n| Uai::from_number(760_000 + n).expect("a seven-digit number"))
        .collect();
    for t in &tenants {
        store
            .create_tenant(t, "bench", "Europe/Paris")
            .await
            .expect("tenant");
    }
    // A listener, as every server and projector process has.
    let mut wakeups = store.subscribe().await.expect("subscribe");
    tokio::spawn(async move { while wakeups.recv().await.is_ok() {} });
    let carnet_store::Pool::Postgres(pool) = store.backend().pool() else {
        return;
    };
    // The design before: every append transaction notified, at its commit.
    pool.execute(
        "CREATE FUNCTION bench_notify_in_append() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_notify('carnet_events', NEW.tenant_id || ':' || (NEW.next_position - 1));
         RETURN NEW; END $$;
         CREATE TRIGGER bench_notify_in_append AFTER UPDATE OF next_position ON tenants
         FOR EACH ROW EXECUTE FUNCTION bench_notify_in_append();",
    )
    .await
    .expect("the trigger of the former design");
    let before = region_across(store, &tenants, "before").await;
    pool.execute(
        "DROP TRIGGER bench_notify_in_append ON tenants;
         DROP FUNCTION bench_notify_in_append();",
    )
    .await
    .expect("drop the trigger");
    // Second, on the larger tables: if anything, to its disadvantage.
    let after = region_across(store, &tenants, "after").await;
    before.print("postgres", "100 establishments, 32 clients, NOTIFY in tx");
    after.print("postgres", "100 establishments, 32 clients, NOTIFY after");
    println!(
        "postgres wake-ups after the commit / NOTIFY in the append transaction = {:.2}",
        after.events as f64 / after.seconds / (before.events as f64 / before.seconds)
    );
}

async fn postgres_store() -> EventStore {
    let server =
        std::env::var("BENCH_PG").unwrap_or_else(|_| "postgresql://root@127.0.0.1:5432".into());
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("connect to Postgres");
    admin
        .execute("DROP DATABASE IF EXISTS carnet_bench WITH (FORCE)")
        .await
        .expect("drop");
    admin
        .execute("CREATE DATABASE carnet_bench")
        .await
        .expect("create");
    EventStore::open(
        &Location::Url(format!("{server}/carnet_bench")),
        StoreOptions {
            pool: carnet_store::PoolSettings {
                max_connections: 40,
                ..Default::default()
            },
            keyring: Some(std::sync::Arc::new(
                carnet_store::keyring::Keyring::generate(),
            )),
            ..Default::default()
        },
    )
    .await
    .expect("open the Postgres store")
}

#[tokio::main]
async fn main() {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    println!(
        "{:<9}{:<44}{:>8}{:>9}{:>11}{:>9}{:>9}",
        "backend", "scenario", "events", "seconds", "events/s", "p50 ms", "p99 ms"
    );
    if wants("postgres") {
        bench("postgres", postgres_store().await).await;
    }
    if wants("sqlite") {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = EventStore::open(
            &Location::DataDir(dir.path().to_path_buf()),
            StoreOptions::default(),
        )
        .await
        .expect("open the SQLite store");
        bench("sqlite", store).await;
    }
}
