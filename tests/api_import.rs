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

const STS: &str = include_str!("../importers/tests/fixtures/sts_emp_0750655E_2026.xml");
const UNTIS: &str = include_str!("../importers/tests/fixtures/untis/GPU001.TXT");

fn file(format: &str, name: &str, content: &[u8]) -> Value {
    json!({ "input": {
        "format": format,
        "fileName": name,
        "contentBase64": base64::engine::general_purpose::STANDARD.encode(content),
        "dryRun": false,
        "from": "2026-12-07",
        "hours": ["1=08:00-08:55", "2=09:00-09:55", "3=10:05-11:00", "4=11:00-11:55", "5=13:30-14:25", "6=14:25-15:20", "7=15:30-16:25", "8=16:25-17:20"],
    }})
}

/// The attack of issue 17: the secretariat uploads an STS-Web file whose `FONCTION=DIR`
/// would make a staff member (itself, say) principal, or a timetable. An import records
/// only what its importer may do through the API: refused whole, nothing written.
async fn the_secretariat_cannot_import_staff_or_timetables(kind: BackendKind) {
    let server = TestServer::start(kind, 60).await;
    let before = server.head().await;
    for (format, name, content) in [
        ("sts", "sts_emp_0750655E_2026.xml", STS.as_bytes()),
        ("untis", "GPU001.TXT", UNTIS.as_bytes()),
    ] {
        let refused = server
            .as_(
                "secretariat",
                ClaimedRole::Secretariat,
                IMPORT,
                file(format, name, content),
            )
            .await;
        assert_eq!(code(&refused).as_deref(), Some("FORBIDDEN"), "{refused}");
        let message = refused["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("head of the establishment"), "{message}");
        assert_eq!(server.head().await, before, "{format}: nothing written");
    }
    // The head may, and the STS file's director is then a principal of the records.
    let done = server
        .as_(
            "adjoint",
            ClaimedRole::Principal,
            IMPORT,
            file("sts", "sts_emp_0750655E_2026.xml", STS.as_bytes()),
        )
        .await;
    assert!(
        data(&done)["importFile"]["events"].as_i64().unwrap() > 0,
        "{done}"
    );
}

/// A token that claims no role acts as nobody (it used to count as every role).
async fn a_token_without_roles_is_worth_nothing(kind: BackendKind) {
    let server = TestServer::start(kind, 60).await;
    let token = server
        .key
        .mint(
            "adjoint",
            std::slice::from_ref(&server.uai),
            &[],
            chrono::Duration::hours(1),
        )
        .unwrap();
    let import = server
        .post(
            Some(&token),
            &[],
            IMPORT,
            file("sts", "sts.xml", STS.as_bytes()),
        )
        .await;
    assert_eq!(code(&import).as_deref(), Some("FORBIDDEN"), "{import}");
    let child = server
        .post(
            Some(&token),
            &[],
            "{ student(id: \"eleve00001\") { lastName } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&child).as_deref(), Some("FORBIDDEN"), "{child}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secretariat_cannot_import_staff_or_timetables_on_sqlite() {
    the_secretariat_cannot_import_staff_or_timetables(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secretariat_cannot_import_staff_or_timetables_on_postgres() {
    the_secretariat_cannot_import_staff_or_timetables(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_roles_is_worth_nothing_on_sqlite() {
    a_token_without_roles_is_worth_nothing(BackendKind::Sqlite).await;
}
