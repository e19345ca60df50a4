//! The `importFile` mutation: the secretariat uploads a SIECLE export through the API, as
//! `carnet import` would read it (dry run, import, the same file again, a bad file with
//! every problem in `extensions.problems`); other roles may not.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

mod support;

use base64::Engine as _;
use carnet_api::auth::ClaimedRole;
use carnet_store::BackendKind;
use serde_json::{json, Value};
use support::server::{code, data, TestServer};

const SIECLE: &str = include_str!("../importers/tests/fixtures/ElevesSansAdresses.xml");

const IMPORT: &str = "mutation($input: ImportInput!) { importFile(input: $input) { format fileName sha256 encoding dryRun rows events changes { kind created changed removed } notes } }";

fn input(content: &[u8], dry_run: bool) -> Value {
    json!({ "input": {
        "format": "siecle",
        "fileName": "ElevesSansAdresses.xml",
        "contentBase64": base64::engine::general_purpose::STANDARD.encode(content),
        "dryRun": dry_run,
    }})
}

fn students_created(summary: &Value) -> i64 {
    summary["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "students")
        .map_or(0, |c| c["created"].as_i64().unwrap())
}

async fn the_secretariat_imports_siecle(kind: BackendKind) {
    let server = TestServer::start(kind, 60).await;
    // SIECLE writes ISO-8859-15.
    let (latin9, _, _) = encoding_rs::ISO_8859_15.encode(SIECLE);

    let refused = server
        .as_(
            "resp00001a",
            ClaimedRole::Guardian,
            IMPORT,
            input(&latin9, true),
        )
        .await;
    assert_eq!(code(&refused).as_deref(), Some("FORBIDDEN"), "{refused}");

    let before = server.head().await;
    let dry = server
        .as_(
            "secretariat",
            ClaimedRole::Secretariat,
            IMPORT,
            input(&latin9, true),
        )
        .await;
    let summary = &data(&dry)["importFile"];
    assert_eq!(summary["dryRun"], true, "{dry}");
    assert_eq!(summary["encoding"], "ISO-8859-15");
    assert_eq!(students_created(summary), 4, "{dry}");
    assert_eq!(server.head().await, before, "a dry run writes nothing");

    let done = server
        .as_(
            "secretariat",
            ClaimedRole::Secretariat,
            IMPORT,
            input(&latin9, false),
        )
        .await;
    let summary = &data(&done)["importFile"];
    assert_eq!(students_created(summary), 4, "{done}");
    assert!(server.head().await > before);
    // Read at once (the enrolment read model is updated in the append).
    let student = server
        .as_(
            "secretariat",
            ClaimedRole::Secretariat,
            "{ student(id: \"070123456AB\") { firstName lastName placement(date: \"2026-09-03\") { division groups } } }",
            json!({}),
        )
        .await;
    let s = &data(&student)["student"];
    assert_eq!(
        (s["firstName"].as_str(), s["lastName"].as_str()),
        (Some("Hélène"), Some("MARTIN")),
        "{student}"
    );
    assert_eq!(s["placement"]["division"], "4A");

    let again = server
        .as_(
            "secretariat",
            ClaimedRole::Secretariat,
            IMPORT,
            input(&latin9, false),
        )
        .await;
    assert_eq!(data(&again)["importFile"]["events"], 0, "{again}");

    let bad = SIECLE
        .replace("080234567BC", "BAD")
        .replace("14/02/2013", "31/02/2013");
    let before = server.head().await;
    let refused = server
        .as_(
            "secretariat",
            ClaimedRole::Secretariat,
            IMPORT,
            input(bad.as_bytes(), false),
        )
        .await;
    assert_eq!(code(&refused).as_deref(), Some("VALIDATION"), "{refused}");
    let problems = refused["errors"][0]["extensions"]["problems"]
        .as_array()
        .unwrap();
    assert_eq!(problems.len(), 2, "{refused}");
    assert_eq!(problems[0]["line"], 14);
    assert_eq!(problems[0]["element"], "BEE_ELEVES/DONNEES/ELEVES/ELEVE");
    assert_eq!(problems[0]["field"], "DATE_NAISS");
    assert_eq!(problems[1]["field"], "ID_NATIONAL");
    assert_eq!(server.head().await, before, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secretariat_imports_siecle_on_sqlite() {
    the_secretariat_imports_siecle(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secretariat_imports_siecle_on_postgres() {
    the_secretariat_imports_siecle(BackendKind::Postgres).await;
}
