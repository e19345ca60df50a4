//! Twelve people book the last tablets at the same instant, none sending an expected
//! version: as many get them as there are tablets, every other one is refused by the
//! rule (naming who holds them), and no one is answered CONFLICT, which only a client
//! that asked to act on the version it read may get.
#![allow(clippy::unwrap_used)]

mod support;

use carnet_api::auth::ClaimedRole;
use carnet_store::BackendKind;
use serde_json::json;
use support::server::{code, data, TestServer};

const TABLETS: u64 = 3;
const BOOKERS: [&str; 12] = [
    "principal",
    "adjoint",
    "secretariat",
    "cpe1",
    "aed1",
    "aed2",
    "principal",
    "adjoint",
    "secretariat",
    "cpe1",
    "aed1",
    "aed2",
];

async fn twelve_bookers(kind: BackendKind) {
    let server = TestServer::start(kind, 20).await;
    let register = "mutation($q: Int) { registerResource(input: { id: \"tablettes-3\", name: \"Chariot de tablettes n°3\", kind: POOL, quantity: $q }) { created } }";
    let registered = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            register,
            json!({ "q": TABLETS }),
        )
        .await;
    data(&registered);
    let book = "mutation($b: String!) { book(input: { resource: \"tablettes-3\", start: \"2026-12-10T10:00:00\", end: \"2026-12-10T12:00:00\", purpose: \"Atelier\", booking: $b }) { changed booking { localId status quantity } } }";
    let role = |person: &str| match person {
        "principal" | "adjoint" => ClaimedRole::Principal,
        "secretariat" => ClaimedRole::Secretariat,
        "cpe1" => ClaimedRole::Cpe,
        _ => ClaimedRole::Aed,
    };
    let answers = futures::future::join_all(BOOKERS.iter().enumerate().map(|(i, person)| {
        let server = &server;
        async move {
            server
                .as_(
                    person,
                    role(person),
                    book,
                    json!({ "b": format!("resa-{i}") }),
                )
                .await
        }
    }))
    .await;
    let booked = answers.iter().filter(|a| a["errors"].is_null()).count() as u64;
    let codes: Vec<Option<String>> = answers.iter().map(code).collect();
    assert_eq!(booked, TABLETS, "{answers:#?}");
    // Each winner's answer holds its booking, confirmed (the pool needs no approval).
    for (i, answer) in answers.iter().enumerate() {
        if answer["errors"].is_null() {
            assert_eq!(
                answer["data"]["book"]["booking"],
                json!({ "localId": format!("resa-{i}"), "status": "CONFIRMED", "quantity": 1 }),
                "{answer}"
            );
        }
    }
    assert!(
        !codes.iter().any(|c| c.as_deref() == Some("CONFLICT")),
        "no CONFLICT without an expected version: {answers:#?}"
    );
    for refused in answers.iter().filter(|a| !a["errors"].is_null()) {
        assert_eq!(
            code(refused).as_deref(),
            Some("RULE_VIOLATION"),
            "{refused}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twelve_bookers_of_the_last_tablets_on_postgres() {
    twelve_bookers(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twelve_bookers_of_the_last_tablets_on_sqlite() {
    twelve_bookers(BackendKind::Sqlite).await;
}

/// The same on the command bus itself, two dozen at once from two separate schools'
/// buses (two server instances): losers decide again until the rule answers.
async fn on_the_bus(kind: BackendKind) {
    use carnet_domain::reservations::ReservationCommand;
    use carnet_store::{CommandContext, CommandError, School, StoreError};
    let server = TestServer::start(kind, 20).await;
    let register = "mutation { registerResource(input: { id: \"tablettes-bus\", name: \"Chariot\", kind: POOL, quantity: 3 }) { created } }";
    data(
        &server
            .as_("principal", ClaimedRole::Principal, register, json!({}))
            .await,
    );
    let schools = [
        School::new(server.store.clone(), server.uai.clone(), Default::default()),
        School::new(server.store.clone(), server.uai.clone(), Default::default()),
    ];
    let at = |h: u32| {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 11)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    };
    let outcomes = futures::future::join_all((0..24).map(|i| {
        let school = &schools[i % 2];
        async move {
            let command = ReservationCommand::Book {
                booking: format!("bus-{i}"),
                by: "principal".into(),
                start: at(10),
                end: at(12),
                quantity: 1,
                purpose: "Atelier".into(),
            };
            let context = CommandContext {
                actor: Some("principal".into()),
                ..Default::default()
            };
            school
                .resources
                .execute("tablettes-bus", command, &context)
                .await
        }
    }))
    .await;
    let booked = outcomes.iter().filter(|o| o.is_ok()).count();
    let conflicts = outcomes
        .iter()
        .filter(|o| matches!(o, Err(CommandError::Store(StoreError::Conflict { .. }))))
        .count();
    assert_eq!((booked, conflicts), (3, 0), "{outcomes:#?}");
    assert!(outcomes
        .iter()
        .all(|o| o.is_ok() || matches!(o, Err(CommandError::Rejected(_)))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_dozen_on_the_bus_on_postgres() {
    on_the_bus(BackendKind::Postgres).await;
}
