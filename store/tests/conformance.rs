//! The conformance suite: every test of the event store, run against both backends (a
//! fresh Postgres database of the real server, and a fresh SQLite file).
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use carnet_domain::Uai;
use carnet_store::testing::TestStore;
use carnet_store::verify::verify_tenant;
use carnet_store::{
    command_metadata, AggregateCache, AggregateStore, AppendRequest, BackendKind, CommandBus,
    CommandContext, CommandError, CommandKey, CommandOutcome, CommitGate, EventMetadata,
    EventStore, ExpectedVersion, NewEvent, Source, StoreError, StoreOptions, StreamRef,
};
use cqrs_es::{AggregateError, CqrsFramework};
use serde_json::json;
use tokio::sync::{Notify, Semaphore};
use uuid::Uuid;

mod register;
use register::{Register, RegisterCommand};

fn uai() -> Uai {
    Uai::parse("0750655E").unwrap()
}

async fn store_with_tenant(kind: BackendKind) -> TestStore {
    let ts = TestStore::new(kind).await;
    ts.store
        .create_tenant(&uai(), "Lycée Charlemagne", "Europe/Paris")
        .await
        .unwrap();
    ts
}

fn absence(stream: &str, expected: i64, lesson: &str) -> AppendRequest {
    AppendRequest::new(
        StreamRef::new("register", stream),
        ExpectedVersion::Exactly(expected),
        vec![NewEvent::new(
            "AbsenceRecorded",
            1,
            json!({ "lesson": lesson, "student": "Hélène Zoë N'Guessan" }),
        )],
    )
}

async fn head(store: &EventStore) -> i64 {
    store
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.tenant == uai())
        .unwrap()
        .head
}

async fn all_events(store: &EventStore) -> Vec<carnet_store::RecordedEvent> {
    store.read_log(&uai(), 0, 100_000).await.unwrap()
}

macro_rules! conformance {
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

conformance!(
    append_and_read_back,
    stale_version_is_a_conflict_naming_the_current_version,
    same_command_id_appends_once_and_answers_the_same,
    command_bus_answers_a_retry_that_the_new_state_refuses,
    database_refuses_update_delete_and_truncate,
    verify_detects_a_row_altered_with_triggers_disabled,
    verify_detects_a_deleted_event,
    late_commit_is_never_skipped_by_a_tailing_reader,
    concurrent_writers_and_a_tailing_reader_see_every_event_once_in_order,
    bad_input_is_refused_with_a_typed_error_and_nothing_written,
    bulk_append_is_all_or_nothing,
    aggregates_run_in_cqrs_framework_with_cache_and_snapshots,
    two_instances_conflict_instead_of_overwriting,
    commits_wake_subscribers_of_another_instance,
    tenants_are_isolated,
    what_another_instance_wrote_is_never_overwritten_or_repeated,
);

async fn append_and_read_back(kind: BackendKind) {
    let ts = store_with_tenant(kind).await;
    let store = &ts.store;
    let metadata = EventMetadata {
        actor: Some("teacher-7".into()),
        role: Some("teacher".into()),
        correlation_id: Some(Uuid::new_v4()),
        source: Source::Api,
        ..Default::default()
    };
    let first = store
        .append(
            &uai(),
            absence("s-1", 0, "l-1").with_metadata(metadata.clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            first.first_position,
            first.last_position,
            first.stream_version,
            first.replayed
        ),
        (1, 1, 1, false)
    );
    let two = AppendRequest::new(
        StreamRef::new("register", "s-2"),
        ExpectedVersion::Exactly(0),
        vec![
            NewEvent::new(
                "AbsenceRecorded",
                1,
                json!({"lesson": "l-2", "nested": {"b": 1, "a": [1.5, null, "Œdipe"]}}),
            ),
            NewEvent::new(
                "LatenessRecorded",
                2,
                json!({"lesson": "l-3", "minutes": 12}),
            ),
        ],
    );
    let second = store.append(&uai(), two).await.unwrap();
    assert_eq!(
        (
            second.first_position,
            second.last_position,
            second.stream_version
        ),
        (2, 3, 2)
    );

    let stream = store
        .read_stream(&uai(), &StreamRef::new("register", "s-2"), 0)
        .await
        .unwrap();
    assert_eq!(stream.len(), 2);
    assert_eq!(
        stream[0].payload,
        json!({"lesson": "l-2", "nested": {"a": [1.5, null, "Œdipe"], "b": 1}})
    );
    assert_eq!(
        (
            stream[1].event_type.as_str(),
            stream[1].event_version,
            stream[1].stream_version
        ),
        ("LatenessRecorded", 2, 2)
    );
    assert_eq!(
        store
            .read_stream(&uai(), &StreamRef::new("register", "s-2"), 1)
            .await
            .unwrap()
            .len(),
        1
    );

    let log = all_events(store).await;
    assert_eq!(
        log.iter().map(|e| e.position).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(log[0].metadata, metadata);
    assert_eq!(log[0].payload["student"], "Hélène Zoë N'Guessan");
    assert_eq!(log[0].recorded_at, first.recorded_at);
    assert_eq!(store.read_log(&uai(), 1, 1).await.unwrap()[0].position, 2);
    assert_eq!(head(store).await, 3);
    assert!(verify_tenant(store, &uai()).await.unwrap().is_intact());
}

async fn stale_version_is_a_conflict_naming_the_current_version(kind: BackendKind) {
    let ts = store_with_tenant(kind).await;
    let store = &ts.store;
    store
        .append(&uai(), absence("s-1", 0, "l-1"))
        .await
        .unwrap();
    store
        .append(&uai(), absence("s-1", 1, "l-2"))
        .await
        .unwrap();
    let err = store
        .append(&uai(), absence("s-1", 1, "l-3"))
        .await
        .unwrap_err();
    match &err {
        StoreError::Conflict {
            stream,
            expected,
            current,
        } => {
            assert_eq!(
                (stream.stream_id.as_str(), *expected, *current),
                ("s-1", 1, 2)
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(err.to_string().contains("at version 2"), "{err}");
    // A new stream expected at version 0 conflicts once it exists.
    assert!(matches!(
        store.append(&uai(), absence("s-1", 0, "l-4")).await,
        Err(StoreError::Conflict { current: 2, .. })
    ));
    assert_eq!(head(store).await, 2);
    // `Any` appends after whatever is there.
    let any = AppendRequest {
        expected: ExpectedVersion::Any,
        ..absence("s-1", 0, "l-5")
    };
    assert_eq!(store.append(&uai(), any).await.unwrap().stream_version, 3);
}

async fn same_command_id_appends_once_and_answers_the_same(kind: BackendKind) {
    let ts = store_with_tenant(kind).await;
    let store = &ts.store;
    let key = CommandKey {
        id: Uuid::new_v4(),
        request_hash: [1; 32],
    };
    let first = store
        .append(&uai(), absence("s-1", 0, "l-1").with_command(key))
        .await
        .unwrap();
    // The retry is sent with the version the client saw, now stale: still the same answer.
    let again = store
        .append(&uai(), absence("s-1", 0, "l-1").with_command(key))
        .await
        .unwrap();
    assert!(again.replayed && !first.replayed);
    assert_eq!(
        (
            again.first_position,
            again.last_position,
            again.stream_version,
            again.recorded_at
        ),
        (
            first.first_position,
            first.last_position,
            first.stream_version,
            first.recorded_at
        )
    );
    assert_eq!(head(store).await, 1);
    // Same id, another request: refused, and says so.
    let reused = CommandKey {
        request_hash: [2; 32],
        ..key
    };
    let err = store
        .append(&uai(), absence("s-2", 0, "l-9").with_command(reused))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::CommandIdReused { id, .. } if id == key.id),
        "{err:?}"
    );
    assert_eq!(head(store).await, 1);
    assert_eq!(all_events(store).await[0].metadata.command_id, Some(key.id));
    // Concurrent duplicates (a flaky network retrying fast) still append once.
    let key2 = CommandKey {
        id: Uuid::new_v4(),
        request_hash: [3; 32],
    };
    let tries = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .append(&uai(), absence("s-3", 0, "l-1").with_command(key2))
                .await
        })
    });
    let answers: Vec<_> = futures::future::join_all(tries)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    assert_eq!(answers.iter().filter(|a| !a.replayed).count(), 1);
    assert!(answers
        .iter()
        .all(|a| a.first_position == answers[0].first_position));
    assert_eq!(head(store).await, 2);
    assert!(store.find_command(&uai(), key2.id).await.unwrap().is_some());
}

async fn command_bus_answers_a_retry_that_the_new_state_refuses(kind: BackendKind) {
    let ts = store_with_tenant(kind).await;
    let bus = CommandBus::new(
        AggregateStore::<Register>::new(ts.store.clone(), uai(), AggregateCache::new(100)),
        (),
    );
    let context = CommandContext {
        command_id: Some(Uuid::new_v4()),
        actor: Some("cpe-1".into()),
        ..Default::default()
    };
    let command = || RecordAbsence("l-1");
    let first = bus.execute("s-1", command(), &context).await.unwrap();
    // The register refuses the same lesson twice, but a retry of the same command
    // gets the first answer, not the refusal.
    let retry = bus.execute("s-1", command(), &context).await.unwrap();
    let (CommandOutcome::Appended(a), CommandOutcome::Appended(b)) = (&first, &retry) else {
        panic!("{first:?} {retry:?}")
    };
    assert!(!a.replayed && b.replayed && a.first_position == b.first_position);
    // Without a command id, the second recording is refused by the school rule.
    let err = bus
        .execute("s-1", command(), &CommandContext::default())
        .await
        .unwrap_err();
    assert!(matches!(err, CommandError::Rejected(_)), "{err:?}");
    assert!(err.to_string().contains("already recorded"), "{err}");
    // The same id for another command is a clear error.
    let err = bus
        .execute("s-1", RecordAbsence("l-2"), &context)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CommandError::Store(StoreError::CommandIdReused { .. })),
        "{err:?}"
    );
    assert_eq!(head(&ts.store).await, 1);
    assert_eq!(
        all_events(&ts.store).await[0].metadata.actor.as_deref(),
        Some("cpe-1")
    );
}

#[allow(non_snake_case)]
fn RecordAbsence(lesson: &str) -> RegisterCommand {
    RegisterCommand::RecordAbsence {
        lesson: lesson.into(),
    }
}

async fn database_refuses_update_delete_and_truncate(kind: BackendKind) {
    let ts = store_with_tenant(kind).await;
    ts.store
        .append(
            &uai(),
            absence("s-1", 0, "l-1").with_command(CommandKey {
                id: Uuid::new_v4(),
                request_hash: [0; 32],
            }),
        )
        .await
        .unwrap();
    let mut attempts = vec![
        "UPDATE events SET payload = payload WHERE position = 1",
        "DELETE FROM events WHERE position = 1",
        "DELETE FROM events",
        "UPDATE commands SET stream_version = 9",
        "DELETE FROM commands",
    ];
    if kind == BackendKind::Postgres {
        attempts.extend([
            "TRUNCATE events",
            "TRUNCATE commands",
            "TRUNCATE events CASCADE",
        ]);
    }
    for sql in attempts {
        let err = ts.raw_sql(sql).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(all_events(&ts.store).await.len(), 1);
    assert!(verify_tenant(&ts.store, &uai()).await.unwrap().is_intact());
}

/// SQL that changes one payload behind Carnet's back, as only a superuser (Postgres) or
/// someone with the file (SQLite) could.
fn tamper_sql(kind: BackendKind, position: i64) -> String {
    match kind {
        BackendKind::Postgres => format!(
            "SET session_replication_role = replica;
             UPDATE events SET payload = jsonb_set(payload, '{{lesson}}', '\"forged\"') WHERE position = {position};"
        ),
        BackendKind::Sqlite => format!(
            "DROP TRIGGER events_no_update;
             UPDATE events SET payload = json_set(payload, '$.lesson', 'forged') WHERE position = {position};"
        ),
    }
}

async fn verify_detects_a_row_altered_with_triggers_disabled(kind: BackendKind) {
    let ts = store_with_tenant(kind).await;
    for (i, stream) in ["s-1", "s-2", "s-1", "s-3", "s-1"].iter().enumerate() {
        let version = [0, 0, 1, 0, 2][i];
        ts.store
            .append(&uai(), absence(stream, version, &format!("l-{i}")))
            .await
            .unwrap();
    }
    let report = verify_tenant(&ts.store, &uai()).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.events, report.streams), (5, 3));
    ts.raw_sql(&tamper_sql(kind, 3)).await.unwrap();
    assert_eq!(all_events(&ts.store).await[2].payload["lesson"], "forged");
    let report = verify_tenant(&ts.store, &uai()).await.unwrap();
    let broken = report.first_break.expect("the altered row is found");
    assert_eq!(broken.position, 3);
    assert_eq!(broken.stream, Some(StreamRef::new("register", "s-1")));
    assert!(
        broken.what.contains("does not match its hash"),
        "{}",
        broken.what
    );
}

async fn verify_detects_a_deleted_event(kind: BackendKind) {
    let ts = store_with_tenant(kind).await;
    for i in 0..4 {
        ts.store
            .append(&uai(), absence("s-1", i, &format!("l-{i}")))
            .await
            .unwrap();
    }
    let disable = match kind {
        BackendKind::Postgres => "SET session_replication_role = replica;",
        BackendKind::Sqlite => "DROP TRIGGER IF EXISTS events_no_delete;",
    };
    ts.raw_sql(&format!("{disable} DELETE FROM events WHERE position = 2;"))
        .await
        .unwrap();
    let broken = verify_tenant(&ts.store, &uai())
        .await
        .unwrap()
        .first_break
        .expect("a gap");
    assert_eq!(broken.position, 3);
    assert!(broken.what.contains("missing"), "{}", broken.what);
    // Removing the last event is seen too: the log ends before the head.
    ts.raw_sql(&format!(
        "{disable} DELETE FROM events WHERE position >= 2;"
    ))
    .await
    .unwrap();
    let broken = verify_tenant(&ts.store, &uai())
        .await
        .unwrap()
        .first_break
        .expect("a truncated tail");
    assert!(
        broken.what.contains("ends at position 1"),
        "{}",
        broken.what
    );
}

/// A gate that holds the first transaction that reaches it until released.
fn holding_gate() -> (CommitGate, Arc<Notify>, Arc<Semaphore>) {
    let reached = Arc::new(Notify::new());
    let release = Arc::new(Semaphore::new(0));
    let (r, s) = (reached.clone(), release.clone());
    let gate: CommitGate = Arc::new(move |_| {
        let (r, s) = (r.clone(), s.clone());
        Box::pin(async move {
            r.notify_one();
            if let Ok(permit) = s.acquire().await {
                permit.forget();
            }
        })
    });
    (gate, reached, release)
}

/// Writer A takes position 1 and stalls before committing; writer B (another instance)
/// comes after it. The reader must not see B's event before A's, nor skip A's.
async fn late_commit_is_never_skipped_by_a_tailing_reader(kind: BackendKind) {
    let (gate, reached, release) = holding_gate();
    let ts = TestStore::with_options(
        kind,
        StoreOptions {
            commit_gate: Some(gate),
            ..Default::default()
        },
    )
    .await;
    ts.store
        .create_tenant(&uai(), "Lycée", "Europe/Paris")
        .await
        .unwrap();
    let other = ts.open_another(StoreOptions::default()).await;
    let slow = {
        let store = ts.store.clone();
        tokio::spawn(async move { store.append(&uai(), absence("s-a", 0, "l-1")).await })
    };
    reached.notified().await; // A holds position 1, uncommitted.
    let fast = {
        let other = other.clone();
        tokio::spawn(async move { other.append(&uai(), absence("s-b", 0, "l-1")).await })
    };
    if let Some(url) = ts.pg_url() {
        // Deterministic, not a sleep: wait until Postgres shows B blocked on A's lock.
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        loop {
            let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
                .fetch_one(&pool).await.unwrap();
            if waiting > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    } else {
        tokio::time::sleep(Duration::from_millis(100)).await; // let B reach SQLite's busy wait
    }
    // Neither event is visible while A is open, and B has not committed past it.
    assert!(other.read_log(&uai(), 0, 100).await.unwrap().is_empty());
    assert!(!fast.is_finished());
    release.add_permits(1);
    let a = slow.await.unwrap().unwrap();
    let b = fast.await.unwrap().unwrap();
    assert_eq!((a.first_position, b.first_position), (1, 2));
    let seen: Vec<_> = other
        .read_log(&uai(), 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.position, e.stream.stream_id))
        .collect();
    assert_eq!(seen, [(1, "s-a".to_string()), (2, "s-b".to_string())]);
}

async fn concurrent_writers_and_a_tailing_reader_see_every_event_once_in_order(kind: BackendKind) {
    const WRITERS: usize = 8;
    const PER_WRITER: i64 = 40;
    let ts = store_with_tenant(kind).await;
    let second = ts.open_another(StoreOptions::default()).await;
    let total = WRITERS as i64 * PER_WRITER;
    let reader = {
        let store = ts.open_another(StoreOptions::default()).await;
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut last = 0;
            while last < total {
                let page = store.read_log(&uai(), last, 7).await.unwrap();
                for e in &page {
                    assert_eq!(e.position, last + 1, "the reader met a gap or a repeat");
                    last = e.position;
                    seen.push((e.stream.stream_id.clone(), e.stream_version));
                }
                if page.is_empty() {
                    tokio::task::yield_now().await;
                }
            }
            seen
        })
    };
    // Half the writers on one instance, half on another: two group-commit writers and
    // the database lock between them.
    let writers = (0..WRITERS).map(|w| {
        let store = if w % 2 == 0 {
            ts.store.clone()
        } else {
            second.clone()
        };
        tokio::spawn(async move {
            for v in 0..PER_WRITER {
                store
                    .append(&uai(), absence(&format!("w-{w}"), v, &format!("l-{v}")))
                    .await
                    .unwrap();
            }
        })
    });
    for w in futures::future::join_all(writers).await {
        w.unwrap();
    }
    let seen = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the reader caught up")
        .unwrap();
    assert_eq!(seen.len() as i64, total);
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an event was seen twice");
    let mut versions: HashMap<&str, i64> = HashMap::new();
    for (stream, version) in &seen {
        let last = versions.entry(stream).or_insert(0);
        assert_eq!(*version, *last + 1, "stream {stream} read out of order");
        *last = *version;
    }
    assert!(verify_tenant(&ts.store, &uai()).await.unwrap().is_intact());
}

async fn bad_input_is_refused_with_a_typed_error_and_nothing_written(kind: BackendKind) {
    let ts = store_with_tenant(kind).await;
    let store = &ts.store;
    let unknown = Uai::parse("0690026D").unwrap();
    assert!(
        matches!(store.append(&unknown, absence("s-1", 0, "l")).await, Err(StoreError::UnknownTenant(t)) if t == unknown)
    );
    assert!(matches!(
        store
            .append_bulk(&unknown, vec![absence("s-1", 0, "l")])
            .await,
        Err(StoreError::UnknownTenant(_))
    ));

    let empty = AppendRequest::new(
        StreamRef::new("register", "s-1"),
        ExpectedVersion::Exactly(0),
        vec![],
    );
    assert!(matches!(
        store.append(&uai(), empty).await,
        Err(StoreError::EmptyBatch)
    ));
    assert!(matches!(
        store.append_bulk(&uai(), vec![]).await,
        Err(StoreError::EmptyBatch)
    ));

    let broken = NewEvent::from_json_text(
        "AbsenceRecorded",
        1,
        "{\"lesson\": \"l-1\",\n \"minutes\": }",
    )
    .unwrap_err();
    assert!(
        matches!(&broken, StoreError::MalformedPayload { reason, .. } if reason.contains("line 2")),
        "{broken}"
    );
    for (payload, why) in [
        (json!("just a string"), "a string"),
        (json!([1, 2]), "an array"),
        (json!({"a": "nul\u{0}"}), "U+0000"),
    ] {
        let req = AppendRequest::new(
            StreamRef::new("register", "s-1"),
            ExpectedVersion::Exactly(0),
            vec![NewEvent::new("AbsenceRecorded", 1, payload)],
        );
        let err = store.append(&uai(), req).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::MalformedPayload { reason, .. } if reason.contains(why)),
            "{err}"
        );
    }
    let big = json!({ "comment": "é".repeat(40 * 1024) });
    let req = AppendRequest::new(
        StreamRef::new("register", "s-1"),
        ExpectedVersion::Exactly(0),
        vec![NewEvent::new("CommentWritten", 1, big)],
    );
    let err = store.append(&uai(), req).await.unwrap_err();
    assert!(
        matches!(err, StoreError::PayloadTooLarge { size, limit: 65536, .. } if size > 80_000),
        "{err}"
    );
    for (stream_type, stream_id, event_type) in [
        ("register", "", "A"),
        ("", "s", "A"),
        ("register", "s", "9lives"),
        ("reg ister", "s", "A"),
    ] {
        let req = AppendRequest::new(
            StreamRef::new(stream_type, stream_id),
            ExpectedVersion::Exactly(0),
            vec![NewEvent::new(event_type, 1, json!({}))],
        );
        assert!(
            matches!(
                store.append(&uai(), req).await,
                Err(StoreError::InvalidInput { .. })
            ),
            "{stream_type}/{stream_id}/{event_type}"
        );
    }
    let zero_version = AppendRequest::new(
        StreamRef::new("register", "s"),
        ExpectedVersion::Exactly(0),
        vec![NewEvent::new("A", 0, json!({}))],
    );
    assert!(matches!(
        store.append(&uai(), zero_version).await,
        Err(StoreError::InvalidInput {
            field: "event version",
            ..
        })
    ));
    // A bulk with one bad request among good ones writes nothing and names it.
    let mixed = vec![
        absence("s-1", 0, "l-1"),
        AppendRequest::new(
            StreamRef::new("register", "s-2"),
            ExpectedVersion::Exactly(0),
            vec![],
        ),
        absence("s-3", 0, "l-1"),
    ];
    match store.append_bulk(&uai(), mixed).await {
        Err(StoreError::BulkRejected { errors }) => {
            assert_eq!(errors.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1])
        }
        other => panic!("{other:?}"),
    }
    assert!(all_events(store).await.is_empty());
    assert_eq!(head(store).await, 0);
    assert!(matches!(
        store.create_tenant(&uai(), "again", "Europe/Paris").await,
        Err(StoreError::TenantExists(_))
    ));
}

async fn bulk_append_is_all_or_nothing(kind: BackendKind) {
    let ts = store_with_tenant(kind).await;
    let store = &ts.store;
    store.append(&uai(), absence("s-0", 0, "l")).await.unwrap();
    // 3000 requests over 1500 streams, two events each stream: one transaction.
    let mut requests: Vec<_> = (0..1500)
        .map(|i| absence(&format!("s-{i}"), if i == 0 { 1 } else { 0 }, "a"))
        .collect();
    requests.extend((0..1500).map(|i| absence(&format!("s-{i}"), if i == 0 { 2 } else { 1 }, "b")));
    let outcomes = store.append_bulk(&uai(), requests).await.unwrap();
    assert_eq!(outcomes.len(), 3000);
    assert_eq!(
        (outcomes[0].first_position, outcomes[2999].last_position),
        (2, 3001)
    );
    assert_eq!(outcomes[2999].stream_version, 2);
    // One stale request refuses the whole import; every refusal is listed.
    let requests = vec![
        absence("new-1", 0, "x"),
        absence("s-5", 0, "x"),
        absence("new-2", 0, "x"),
        absence("s-6", 1, "x"),
    ];
    match store.append_bulk(&uai(), requests).await {
        Err(StoreError::BulkRejected { errors }) => {
            assert_eq!(errors.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 3]);
            assert!(matches!(
                errors[0].1,
                StoreError::Conflict { current: 2, .. }
            ));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(head(store).await, 3001);
    assert!(store
        .read_stream(&uai(), &StreamRef::new("register", "new-1"), 0)
        .await
        .unwrap()
        .is_empty());
    assert!(verify_tenant(store, &uai()).await.unwrap().is_intact());
}

async fn aggregates_run_in_cqrs_framework_with_cache_and_snapshots(kind: BackendKind) {
    let ts = store_with_tenant(kind).await;
    let aggregates =
        AggregateStore::<Register>::new(ts.store.clone(), uai(), AggregateCache::new(100))
            .with_snapshot_every(50);
    let cqrs = CqrsFramework::new(aggregates, vec![], ());
    for i in 0..120 {
        let command = RecordAbsence(&format!("l-{i}"));
        let metadata = command_metadata(
            ts.store.vault().keyring(),
            &StreamRef::new("register", "s-1"),
            &command,
            Uuid::new_v4(),
            Some("teacher-7"),
            Some("teacher"),
        )
        .unwrap();
        cqrs.execute_with_metadata("s-1", command, metadata)
            .await
            .unwrap();
    }
    // The aggregate refuses a lesson twice: its state was kept across commands.
    let err = cqrs.execute("s-1", RecordAbsence("l-3")).await.unwrap_err();
    assert!(matches!(err, AggregateError::UserError(_)), "{err:?}");
    // Snapshots are saved in the background every 50 events.
    let stream = StreamRef::new("register", "s-1");
    let mut snapshot = None;
    for _ in 0..200 {
        snapshot = ts.store.load_snapshot(&uai(), &stream).await.unwrap();
        if snapshot.as_ref().is_some_and(|s| s.stream_version == 100) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(snapshot.map(|s| s.stream_version), Some(100));
    // A fresh instance (empty cache) loads from the snapshot and the 20 events after it.
    let fresh = AggregateStore::<Register>::new(ts.store.clone(), uai(), AggregateCache::new(100));
    let loaded = fresh.load("s-1").await.unwrap();
    assert_eq!((loaded.version, loaded.aggregate.lessons.len()), (120, 120));
    // A snapshot of another shape is ignored rather than trusted.
    ts.store
        .save_snapshot(
            &uai(),
            &stream,
            &carnet_store::Snapshot {
                stream_version: 110,
                state: json!({"unexpected": true}),
            },
        )
        .await
        .unwrap();
    let loaded = AggregateStore::<Register>::new(ts.store.clone(), uai(), AggregateCache::new(1))
        .load("s-1")
        .await
        .unwrap();
    assert_eq!((loaded.version, loaded.aggregate.lessons.len()), (120, 120));
    let events = cqrs_es::EventStore::load_events(&fresh, "s-1")
        .await
        .unwrap();
    assert_eq!(events.len(), 120);
    assert_eq!(
        (
            events[0].sequence,
            events[0].metadata.get("actor").map(String::as_str)
        ),
        (1, Some("teacher-7"))
    );
}

async fn two_instances_conflict_instead_of_overwriting(kind: BackendKind) {
    let ts = store_with_tenant(kind).await;
    let a = AggregateStore::<Register>::new(ts.store.clone(), uai(), AggregateCache::new(10));
    let b = AggregateStore::<Register>::new(
        ts.open_another(StoreOptions::default()).await,
        uai(),
        AggregateCache::new(10),
    );
    let (cqrs_a, cqrs_b) = (
        CqrsFramework::new(a, vec![], ()),
        CqrsFramework::new(b, vec![], ()),
    );
    cqrs_a.execute("s-1", RecordAbsence("l-1")).await.unwrap();
    cqrs_b.execute("s-1", RecordAbsence("l-2")).await.unwrap(); // b loads from the log
                                                                // a's cached state is stale now: its command is refused, not written over b's.
    let err = cqrs_a
        .execute("s-1", RecordAbsence("l-3"))
        .await
        .unwrap_err();
    assert!(matches!(err, AggregateError::AggregateConflict), "{err:?}");
    // The conflict evicted the stale state: the retry loads the truth and succeeds.
    cqrs_a.execute("s-1", RecordAbsence("l-3")).await.unwrap();
    assert_eq!(all_events(&ts.store).await.len(), 3);
}

async fn commits_wake_subscribers_of_another_instance(kind: BackendKind) {
    let ts = store_with_tenant(kind).await;
    let mut local = ts.store.subscribe().await.unwrap();
    let other = ts.open_another(StoreOptions::default()).await;
    other
        .append(&uai(), absence("s-1", 0, "l-1"))
        .await
        .unwrap();
    let woke = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let c = local.recv().await.unwrap();
            if c.tenant == uai() && c.head >= 1 {
                return c;
            }
        }
    })
    .await
    .expect("a wake-up from the other instance's commit");
    assert_eq!(woke.head, 1);
    // And at once from this instance's own commits.
    ts.store
        .append(&uai(), absence("s-1", 1, "l-2"))
        .await
        .unwrap();
    let own = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let c = local.recv().await.unwrap();
            if c.head >= 2 {
                return c;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(own.head, 2);
}

async fn tenants_are_isolated(kind: BackendKind) {
    let ts = store_with_tenant(kind).await;
    let other = Uai::parse("0690026D").unwrap();
    ts.store
        .create_tenant(&other, "Lycée du Parc", "Europe/Paris")
        .await
        .unwrap();
    ts.store
        .append(&uai(), absence("s-1", 0, "l-1"))
        .await
        .unwrap();
    let b = ts
        .store
        .append(&other, absence("s-1", 0, "l-1"))
        .await
        .unwrap();
    // Same stream id, another establishment: its own positions and versions.
    assert_eq!((b.first_position, b.stream_version), (1, 1));
    assert_eq!(ts.store.read_log(&other, 0, 10).await.unwrap().len(), 1);
    assert_eq!(
        ts.store
            .tenants()
            .await
            .unwrap()
            .iter()
            .map(|t| t.head)
            .collect::<Vec<_>>(),
        [1, 1]
    );
    assert!(verify_tenant(&ts.store, &other).await.unwrap().is_intact());
}

/// Each instance plans from what it last saw; what another instance wrote since must be
/// found by the database, not assumed away.
async fn what_another_instance_wrote_is_never_overwritten_or_repeated(kind: BackendKind) {
    let ts = store_with_tenant(kind).await;
    let (a, b) = (&ts.store, ts.open_another(StoreOptions::default()).await);
    let key = CommandKey {
        id: Uuid::new_v4(),
        request_hash: [9; 32],
    };
    b.append(&uai(), absence("s-x", 0, "l-1")).await.unwrap();
    b.append(&uai(), absence("s-z", 0, "l-1").with_command(key))
        .await
        .unwrap();
    // `a` learns the current head through a stream of its own...
    a.append(&uai(), absence("s-y", 0, "l-1")).await.unwrap();
    // ...but has never seen s-x: it must not take it for a new stream.
    let err = a
        .append(&uai(), absence("s-x", 0, "l-2"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { current: 1, .. }),
        "{err:?}"
    );
    // Nor a command id that `b` recorded.
    let again = a
        .append(&uai(), absence("s-z", 0, "l-1").with_command(key))
        .await
        .unwrap();
    assert!(again.replayed && again.first_position == 2, "{again:?}");
    // And after `b` appends again, `a` places its events after b's.
    b.append(&uai(), absence("s-x", 1, "l-3")).await.unwrap();
    let next = a.append(&uai(), absence("s-y", 1, "l-2")).await.unwrap();
    assert_eq!(next.first_position, 5);
    assert_eq!(head(a).await, 5);
    assert!(verify_tenant(a, &uai()).await.unwrap().is_intact());
}
