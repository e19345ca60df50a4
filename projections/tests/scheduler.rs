//! The projection scheduler at the scale of a région: hundreds of establishments, a pool
//! of two connections, writers in this process and in another one, establishments
//! registered while it runs, projector processes splitting the work by shard. Postgres
//! and SQLite.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::time::{Duration, Instant};

use carnet_domain::attendance::AttendancePolicy;
use carnet_domain::enrolment::{EstablishmentCommand as E, Role};
use carnet_domain::Uai;
use carnet_projections::checkpoint::{self, Health};
use carnet_projections::{enrolment, Scheduler, SchedulerOptions, Shard};
use carnet_store::testing::TestStore;
use carnet_store::{
    BackendKind, CommandContext, EventStore, PoolSettings, School, StoreOptions, WakeupOptions,
};
use chrono::NaiveTime;

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(carnet_store::BackendKind::Postgres).await
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(carnet_store::BackendKind::Sqlite).await
                }
            )*
        }
    };
}

both!(
    hundreds_of_establishments_on_two_connections_follow_every_writer,
    shards_split_the_establishments_between_projector_processes,
);

const ESTABLISHMENTS: u32 = 200;

fn uai(n: u32) -> Uai {
    Uai::from_number(750_000 + n).unwrap()
}

/// Short timers, so that leases run out and polls fire many times during the test.
fn small() -> StoreOptions {
    StoreOptions {
        pool: PoolSettings {
            max_connections: 2,
            acquire_timeout: Duration::from_secs(30),
        },
        wakeups: WakeupOptions {
            poll: Duration::from_millis(300),
            ..Default::default()
        },
        ..StoreOptions::default()
    }
}

fn scheduler_options(owner: &str, shard: Shard) -> SchedulerOptions {
    SchedulerOptions {
        workers: 4,
        owner: owner.into(),
        lease: Duration::from_secs(1),
        batch_size: 50,
        shard,
        ..Default::default()
    }
}

async fn register_all(store: &EventStore) {
    for n in 0..ESTABLISHMENTS {
        store
            .create_tenant(&uai(n), &format!("Collège {n}"), "Europe/Paris")
            .await
            .unwrap();
    }
}

static STAFF: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A few events in establishment `n`'s log: its registration and `staff` new teachers.
async fn write(store: &EventStore, n: u32, staff: u32) {
    let school = School::new(store.clone(), uai(n), AttendancePolicy::default());
    let id = school.establishment_id();
    let ctx = CommandContext::default();
    let registered = school
        .establishment
        .execute(
            &id,
            E::Register {
                uai: uai(n),
                name: format!("Collège {n}"),
                time_zone: chrono_tz::Europe::Paris,
                morning_ends: NaiveTime::from_hms_opt(12, 30, 0).unwrap(),
            },
            &ctx,
        )
        .await;
    // Registered already by an earlier call: the rest still appends.
    let _ = registered;
    for _ in 0..staff {
        let person = format!(
            "prof{}",
            STAFF.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        school
            .establishment
            .execute(
                &id,
                E::AddStaffMember {
                    name: format!("Professeur {person}"),
                    person,
                    roles: [Role::Teacher].into_iter().collect(),
                },
                &ctx,
            )
            .await
            .unwrap();
    }
}

async fn health(store: &EventStore) -> Health {
    checkpoint::health(
        &store.backend().pool(),
        carnet_projections::all().len() as i64,
    )
    .await
    .unwrap()
}

/// Waits until every establishment with events has every projection at its head.
async fn caught_up(store: &EventStore, with_events: i64) -> Health {
    let started = Instant::now();
    loop {
        let h = health(store).await;
        let done = h.not_started == 0
            && h.projections.len() == carnet_projections::all().len()
            && h.projections
                .iter()
                .all(|p| p.units == with_events && p.behind == 0 && p.stopped == 0);
        if done {
            return h;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the projections did not catch up: {h:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn hundreds_of_establishments_on_two_connections_follow_every_writer(kind: BackendKind) {
    let ts = TestStore::with_options(kind, small()).await;
    register_all(&ts.store).await;
    // Twenty establishments with a log before the scheduler starts.
    for n in 0..20 {
        write(&ts.store, n, 2).await;
    }
    let scheduler = Scheduler::new(ts.store.clone(), scheduler_options("alpha", Shard::ALL));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let scheduler = scheduler.clone();
        tokio::spawn(async move {
            scheduler
                .run(async {
                    let _ = stopped.await;
                })
                .await
        })
    };
    caught_up(&ts.store, 20).await;

    // Commits of this process wake it at once; those of another process (a second API
    // instance, an import) through the database.
    let other = ts.open_another(small()).await;
    for n in 10..30 {
        let store = if n % 2 == 0 { &ts.store } else { &other };
        write(store, n, 3).await;
    }
    caught_up(&ts.store, 30).await;

    // An establishment registered while it runs is projected, with no restart.
    let late = Uai::from_number(760_001).unwrap();
    other
        .create_tenant(&late, "Lycée tardif", "Europe/Paris")
        .await
        .unwrap();
    let school = School::new(other.clone(), late.clone(), AttendancePolicy::default());
    school
        .establishment
        .execute(
            &school.establishment_id(),
            E::Register {
                uai: late.clone(),
                name: "Lycée tardif".into(),
                time_zone: chrono_tz::Europe::Paris,
                morning_ends: NaiveTime::from_hms_opt(12, 30, 0).unwrap(),
            },
            &CommandContext::default(),
        )
        .await
        .unwrap();
    let h = caught_up(&ts.store, 31).await;
    assert_eq!(h.establishments, i64::from(ESTABLISHMENTS) + 1);
    let pool = ts.store.backend().pool();
    let read = enrolment::establishment(&pool, &late)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.name, "Lycée tardif");
    // Written by both processes: 2 teachers before the start, 3 while it ran.
    let both = enrolment::establishment(&pool, &uai(15))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(both.staff.len(), 5);

    // The 170 establishments with no events cost nothing: no checkpoint, no lease.
    let standings = checkpoint::standings(&pool).await.unwrap();
    assert_eq!(
        standings.len(),
        31 * carnet_projections::all().len(),
        "only establishments with events"
    );

    // Idle through several lease lengths and polls: nothing wedges, no transaction is
    // left open, and the scheduler works nothing.
    let worked = scheduler
        .stats()
        .batches
        .load(std::sync::atomic::Ordering::Relaxed);
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(url) = ts.pg_url() {
            assert_eq!(idle_in_transaction(url).await, 0);
        }
    }
    assert_eq!(
        scheduler
            .stats()
            .batches
            .load(std::sync::atomic::Ordering::Relaxed),
        worked,
        "an idle database gives the projectors no work"
    );
    // And it still follows after the idle time.
    write(&other, 3, 1).await;
    caught_up(&ts.store, 31).await;

    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    // A clean stop gives every lease up for the next instance.
    if let Some(url) = ts.pg_url() {
        let held: i64 = scalar(
            url,
            "SELECT COUNT(*) FROM projection_checkpoints WHERE lease_owner IS NOT NULL",
        )
        .await;
        assert_eq!(held, 0);
    }
}

async fn shards_split_the_establishments_between_projector_processes(kind: BackendKind) {
    let ts = TestStore::with_options(kind, small()).await;
    register_all(&ts.store).await;
    for n in 0..40 {
        write(&ts.store, n, 1).await;
    }
    let mut runs = Vec::new();
    let mut stops = Vec::new();
    for k in 1..=2 {
        // Each projector process with its own store, as `carnet project --shard K/2`.
        let store = ts.open_another(small()).await;
        let shard: Shard = format!("{k}/2").parse().unwrap();
        let scheduler = Scheduler::new(store, scheduler_options(&format!("shard-{k}"), shard));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        runs.push(tokio::spawn(async move {
            scheduler
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }));
    }
    caught_up(&ts.store, 40).await;
    for n in 40..60 {
        write(&ts.store, n, 1).await;
    }
    caught_up(&ts.store, 60).await;
    // Each establishment was worked by the process of its shard only.
    if let Some(url) = ts.pg_url() {
        let owners: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT tenant_id, lease_owner FROM projection_checkpoints
             WHERE lease_owner IS NOT NULL",
        )
        .fetch_all(&sqlx::PgPool::connect(url).await.unwrap())
        .await
        .unwrap();
        assert!(!owners.is_empty());
        for (tenant, owner) in owners {
            let uai = Uai::parse(&tenant).unwrap();
            let k = if "1/2".parse::<Shard>().unwrap().owns(&uai) {
                1
            } else {
                2
            };
            assert_eq!(owner, format!("shard-{k}"), "{tenant}");
        }
    }
    for stop in stops {
        stop.send(()).unwrap();
    }
    for run in runs {
        run.await.unwrap().unwrap();
    }
}

async fn scalar(url: &str, sql: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let value = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
    pool.close().await;
    value
}

/// Connections of this test's database left idle inside a transaction for over a second.
async fn idle_in_transaction(url: &str) -> i64 {
    scalar(
        url,
        "SELECT COUNT(*) FROM pg_stat_activity
         WHERE datname = current_database() AND state = 'idle in transaction'
           AND now() - state_change > interval '1 second'",
    )
    .await
}
