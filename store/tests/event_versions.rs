//! Old event versions through the real store, on Postgres and SQLite: every fixture of
//! `domain/tests/fixtures/events` (every event type at each version Carnet ever wrote)
//! appended at its recorded version, read back through the store's read path (which
//! upcasts), decoded, and equal to the fixture of the same fact at today's version; the
//! log still verifies.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

#[path = "../../domain/tests/support/event_fixtures.rs"]
mod event_fixtures;

use carnet_domain::personal::{Personal, SEALED_TAG};
use carnet_domain::Uai;
use carnet_store::testing::TestStore;
use carnet_store::vault::holds_clear_personal_data;
use carnet_store::verify::verify_tenant;
use carnet_store::{AppendRequest, BackendKind, EventStore, ExpectedVersion, NewEvent, StreamRef};
use event_fixtures::{AnyEvent, Fixture};
use serde_json::Value;

fn uai() -> Uai {
    Uai::parse("0750655E").unwrap()
}

/// The sealed personal values of `value`, in the order [`replace_sealed`] visits them.
fn sealed_values(value: &Value, found: &mut Vec<Personal<Value>>) {
    if is_sealed(value) {
        found.push(serde_json::from_value(value.clone()).expect("a sealed value"));
        return;
    }
    match value {
        Value::Array(items) => items.iter().for_each(|v| sealed_values(v, found)),
        Value::Object(map) => map.values().for_each(|v| sealed_values(v, found)),
        _ => {}
    }
}

fn replace_sealed(value: &mut Value, opened: &mut impl Iterator<Item = Value>) {
    if is_sealed(value) {
        *value = opened.next().expect("as many opened values as sealed ones");
        return;
    }
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| replace_sealed(v, opened)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_sealed(v, opened)),
        _ => {}
    }
}

fn is_sealed(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|o| o.len() == 1 && o.contains_key(SEALED_TAG))
}

/// `payload` with every sealed value opened with its owner's key, as the domain wrote
/// it before the store sealed it: `{"$personal": {"owner", "value"}}`.
async fn unsealed(store: &EventStore, name: &str, mut payload: Value) -> Value {
    let mut sealed = Vec::new();
    sealed_values(&payload, &mut sealed);
    let mut opened = Vec::new();
    for value in sealed {
        let clear = store
            .vault()
            .open(&uai(), &value)
            .await
            .unwrap_or_else(|e| panic!("{name}: a personal value does not open: {e}"))
            .unwrap_or_else(|| panic!("{name}: the key of {} is missing", value.owner()));
        let known = Personal::known(value.owner(), clear);
        opened.push(serde_json::to_value(known).unwrap());
    }
    replace_sealed(&mut payload, &mut opened.into_iter());
    payload
}

async fn every_fixture_reads_back_as_todays_event(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let store = &ts.store;
    store
        .create_tenant(&uai(), "Collège Hélène Boucher", "Europe/Paris")
        .await
        .unwrap();
    let fixtures = event_fixtures::all();
    assert!(fixtures.len() >= 62, "{} fixtures", fixtures.len());

    // Written as each Carnet version wrote them: one append per event, at its version.
    for fixture in &fixtures {
        let request = AppendRequest::new(
            StreamRef::new(&fixture.stream_type, &fixture.stream_id),
            ExpectedVersion::Any,
            vec![NewEvent::new(
                &fixture.event_type,
                fixture.version,
                fixture.payload.clone(),
            )],
        );
        store
            .append(&uai(), request)
            .await
            .unwrap_or_else(|e| panic!("{fixture}: the store refuses it: {e}"));
    }

    let log = store.read_log(&uai(), 0, 10_000).await.unwrap();
    assert_eq!(
        log.len(),
        fixtures.len(),
        "every fixture is in the log once"
    );
    for (fixture, recorded) in fixtures.iter().zip(&log) {
        let name = fixture.name();
        assert_eq!(
            (
                recorded.stream.stream_type.as_str(),
                recorded.stream.stream_id.as_str(),
                recorded.event_type.as_str(),
                recorded.event_version
            ),
            (
                fixture.stream_type.as_str(),
                fixture.stream_id.as_str(),
                fixture.event_type.as_str(),
                fixture.version
            ),
            "{name}: recorded as another event"
        );
        assert!(
            !holds_clear_personal_data(&recorded.payload),
            "{name}: a personal value is in clear in the log: {}",
            recorded.payload
        );

        let payload = recorded
            .current_payload()
            .unwrap_or_else(|e| panic!("{name}: the store cannot read it back: {e}"));
        let payload = unsealed(store, &name, payload).await;
        let read = AnyEvent::decode(&fixture.stream_type, payload)
            .unwrap_or_else(|e| panic!("{name}: read back, it is not today's event: {e}"));

        let current: &Fixture = event_fixtures::current_of(&fixtures, fixture);
        let expected = AnyEvent::decode(&current.stream_type, current.payload.clone())
            .unwrap_or_else(|e| panic!("{current}: not today's event: {e}"));
        assert_eq!(
            read, expected,
            "{name}, read back from the store, is not the event of {current}"
        );
        assert_eq!(
            read.event_version(),
            fixture.current_version().to_string(),
            "{name}"
        );
    }

    let report = verify_tenant(store, &uai()).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.events, fixtures.len() as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_reads_every_event_fixture_at_every_version() {
    every_fixture_reads_back_as_todays_event(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_reads_every_event_fixture_at_every_version() {
    every_fixture_reads_back_as_todays_event(BackendKind::Sqlite).await;
}
