//! The `importFile` mutation: the secretariat uploads a SIECLE export through the API, as
//! `carnet import` would read it (dry run, import, the same file again, a bad file with
//! every problem in `extensions.problems`); other roles may not.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

mod support;

use base64::Engine as _;
use carnet_api::auth::ClaimedRole;
use carnet_store::BackendKind;
use serde_json::{json, Value};
use support::server::{code, data, TestServer, ENT_ORIGIN};

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
        assert!(message.contains("chef d'établissement"), "{message}");
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

/// A GraphQL multipart request (the convention of graphql-multipart-request-spec): the
/// operation, the map of files to variables, the file.
fn multipart(input: Value, name: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "carnet-test-boundary-7MA4YWxkTrZu0gW";
    let operations = json!({ "query": IMPORT, "variables": { "input": input } });
    let mut body = Vec::new();
    let mut part = |headers: &str, bytes: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    };
    part(
        "Content-Disposition: form-data; name=\"operations\"",
        operations.to_string().as_bytes(),
    );
    part(
        "Content-Disposition: form-data; name=\"map\"",
        br#"{"0": ["variables.input.file"]}"#,
    );
    part(
        &format!(
            "Content-Disposition: form-data; name=\"0\"; filename=\"{name}\"\r\nContent-Type: application/xml"
        ),
        content,
    );
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn send_multipart(
    server: &TestServer,
    token: &str,
    upload: (String, Vec<u8>),
) -> reqwest::Response {
    server
        .http
        .post(format!("{}/graphql", server.base))
        .bearer_auth(token)
        .header("content-type", upload.0)
        .body(upload.1)
        .send()
        .await
        .unwrap()
}

/// The file uploaded as a file (multipart), not as base64 text in JSON: the way a
/// browser or an ENT sends a large lycée's export, beyond the JSON body's 1 MiB.
async fn a_file_is_uploaded_as_multipart(kind: BackendKind) {
    let server = TestServer::start(kind, 60).await;
    let token = server.token("secretariat", ClaimedRole::Secretariat);
    let (latin9, _, _) = encoding_rs::ISO_8859_15.encode(SIECLE);
    let input = json!({ "format": "siecle", "file": null, "dryRun": false });
    let answer: Value = send_multipart(
        &server,
        &token,
        multipart(input.clone(), "ElevesSansAdresses.xml", &latin9),
    )
    .await
    .json()
    .await
    .unwrap();
    let summary = &data(&answer)["importFile"];
    assert_eq!(summary["fileName"], "ElevesSansAdresses.xml", "{answer}");
    assert_eq!(summary["encoding"], "ISO-8859-15");
    assert_eq!(students_created(summary), 4, "{answer}");

    // Three megabytes: past the JSON limit, within the upload's. The file is read (and
    // refused for what it holds, not for its size).
    let large = vec![b'x'; 3 * 1024 * 1024];
    let answer: Value = send_multipart(&server, &token, multipart(input, "big.xml", &large))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(code(&answer).as_deref(), Some("VALIDATION"), "{answer}");
    let as_json = json!({ "input": { "format": "siecle", "fileName": "big.xml", "contentBase64": base64::engine::general_purpose::STANDARD.encode(&large) } });
    // A client of its own: the server closes the connection of a refused body, and the
    // shared client must not pick that connection again for the next request.
    let refused = reqwest::Client::new()
        .post(format!("{}/graphql", server.base))
        .bearer_auth(&token)
        .json(&json!({ "query": IMPORT, "variables": as_json }))
        .send()
        .await;
    // 413 at once, by its Content-Length; a client still sending may instead see the
    // connection closed under it: refused either way, never read.
    match refused {
        Ok(response) => assert_eq!(response.status(), 413),
        Err(error) => assert!(!error.is_status(), "{error}"),
    }

    // Neither a file nor its base64: the field is named.
    let neither = server
        .as_(
            "secretariat",
            ClaimedRole::Secretariat,
            IMPORT,
            json!({ "input": { "format": "siecle", "fileName": "x.xml" } }),
        )
        .await;
    assert_eq!(code(&neither).as_deref(), Some("VALIDATION"), "{neither}");
    assert_eq!(neither["errors"][0]["extensions"]["field"], "input.file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_uploaded_as_multipart_on_sqlite() {
    a_file_is_uploaded_as_multipart(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_uploaded_as_multipart_on_postgres() {
    a_file_is_uploaded_as_multipart(BackendKind::Postgres).await;
}

/// An ENT's web app on its own origin may call the API from the browser; a page of any
/// other origin may not (the browser is told no such origin is allowed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_configured_origins_may_call_from_a_browser() {
    let server = TestServer::start(BackendKind::Sqlite, 10).await;
    let preflight = |origin: &'static str| {
        server
            .http
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", server.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, accept-language",
            )
            .send()
    };
    let allowed = preflight(ENT_ORIGIN).await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], ENT_ORIGIN);
    let asked = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(asked.contains("authorization"), "{asked}");
    let other = preflight("https://phishing.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // The request itself carries the header for the allowed origin.
    let answer = server
        .http
        .post(format!("{}/graphql", server.base))
        .header("origin", ENT_ORIGIN)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["access-control-allow-origin"], ENT_ORIGIN);
}
