//! Feeds over HTTP (issue 18): a guardian's calendar subscription link, fetched without a
//! token as a calendar application does, revoked, refused for another child, ended when
//! the guardian is unlinked; the CSV downloads of absences and grades for vie scolaire.
#![allow(clippy::unwrap_used)]

mod support;

use carnet_api::auth::ClaimedRole;
use carnet_domain::attendance::AttendancePolicy;
use carnet_importers::export::{ical, Scope};
use carnet_store::{BackendKind, School};
use serde_json::{json, Value};
use support::server::{code, data, TestServer};

const STUDENTS: usize = 30;
const CHILD: &str = "eleve00001";

const LINK: &str = "mutation($student: String) { calendarLink(student: $student) { id path } }";
const REVOKE: &str = "mutation($id: ID!) { revokeCalendarLink(id: $id) }";

async fn guardian_of(server: &TestServer, student: &str) -> String {
    let answer = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "query($id: String!) { student(id: $id) { guardians { id } } }",
            json!({ "id": student }),
        )
        .await;
    data(&answer)["student"]["guardians"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A link for `student` asked as `guardian`: (id, path).
async fn link(server: &TestServer, guardian: &str, student: &str) -> Value {
    server
        .as_(
            guardian,
            ClaimedRole::Guardian,
            LINK,
            json!({ "student": student }),
        )
        .await
}

/// A GET without any token: (status, content type, body).
async fn fetch(server: &TestServer, path: &str) -> (u16, String, String) {
    let response = server
        .http
        .get(format!("{}{path}", server.base))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, kind, response.text().await.unwrap())
}

fn vevents(calendar: &str) -> usize {
    calendar
        .lines()
        .filter(|l| l.trim_end() == "BEGIN:VEVENT")
        .count()
}

async fn calendar_links(kind: BackendKind) {
    let server = TestServer::start(kind, STUDENTS).await;
    let guardian = guardian_of(&server, CHILD).await;

    // The guardian asks for a link to their child's week and adds it to a calendar
    // application, which fetches it without a token.
    let answer = link(&server, &guardian, CHILD).await;
    let made = &data(&answer)["calendarLink"];
    let path = made["path"].as_str().unwrap().to_string();
    let id = made["id"].as_str().unwrap().to_string();
    let secret = path
        .strip_prefix("/calendar/")
        .and_then(|p| p.strip_suffix(".ics"))
        .unwrap();
    assert!(secret.len() >= 22, "at least 128 bits: {path}");
    let (status, content_type, calendar) = fetch(&server, &path).await;
    assert_eq!(status, 200, "{calendar}");
    assert_eq!(content_type, "text/calendar; charset=utf-8");
    let calendar = calendar.replace("\r\n", "\n");
    assert!(calendar.starts_with("BEGIN:VCALENDAR\n"), "{calendar}");
    assert!(calendar.trim_end().ends_with("END:VCALENDAR"), "{calendar}");
    // The child's lessons: the same events as the CLI's export of that student.
    let school = School::new(
        server.store.clone(),
        server.uai.clone(),
        AttendancePolicy::default(),
    );
    let now = chrono::Utc::now();
    let today = now.with_timezone(&chrono_tz::Europe::Paris).date_naive();
    let scope = Scope::open(&school, None, today).await.unwrap();
    let expected = ical::export(&scope, &ical::Whose::Student(CHILD.into()), now)
        .await
        .unwrap();
    assert!(vevents(&calendar) > 0, "{calendar}");
    assert_eq!(vevents(&calendar), vevents(&expected));
    // Another link, unrelated: the second one is another secret.
    let again = link(&server, &guardian, CHILD).await;
    let second = data(&again)["calendarLink"]["path"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(second, path);

    // A forged secret, a malformed one: 404 and nothing else.
    for forged in [
        format!("/calendar/{}.ics", "A".repeat(secret.len())),
        "/calendar/not-a-secret.ics".to_string(),
        format!("/calendar/{secret}"),
    ] {
        let (status, _, body) = fetch(&server, &forged).await;
        assert_eq!(status, 404, "{forged}");
        assert!(body.is_empty(), "{body}");
    }

    // Revoked: 404; revoking someone else's link does nothing.
    let other_guardian = guardian_of(&server, "eleve00002").await;
    let answer = server
        .as_(
            &other_guardian,
            ClaimedRole::Guardian,
            REVOKE,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data(&answer)["revokeCalendarLink"], json!(false));
    assert_eq!(fetch(&server, &path).await.0, 200);
    let answer = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            REVOKE,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data(&answer)["revokeCalendarLink"], json!(true));
    let (status, _, body) = fetch(&server, &path).await;
    assert_eq!((status, body.as_str()), (404, ""));

    // A child who is not theirs: refused at creation.
    let me = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            "{ me { children } }",
            json!({}),
        )
        .await;
    let children: Vec<String> =
        serde_json::from_value(data(&me)["me"]["children"].clone()).unwrap();
    let stranger = (1..=STUDENTS)
        .map(|n| format!("eleve{n:05}"))
        .find(|s| !children.contains(s))
        .unwrap();
    let answer = link(&server, &guardian, &stranger).await;
    assert_eq!(code(&answer).as_deref(), Some("FORBIDDEN"), "{answer}");
    // Nor a teacher's timetable, for a guardian.
    let answer = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            "mutation { calendarLink(teacher: \"principal\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&answer).as_deref(), Some("FORBIDDEN"), "{answer}");

    // The guardian is unlinked from the child: the link they had stops working.
    let (status, _, _) = fetch(&server, &second).await;
    assert_eq!(status, 200);
    let answer = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "mutation($s: String!, $g: String!) { unlinkGuardian(input: { student: $s, guardian: $g }) { changed student { guardians { id } } } }",
            json!({ "s": CHILD, "g": guardian }),
        )
        .await;
    assert_eq!(data(&answer)["unlinkGuardian"]["changed"], json!(true));
    let guardians = &data(&answer)["unlinkGuardian"]["student"]["guardians"];
    assert!(
        !guardians
            .as_array()
            .unwrap()
            .contains(&json!({ "id": guardian })),
        "{answer}"
    );
    let (status, _, body) = fetch(&server, &second).await;
    assert_eq!((status, body.as_str()), (404, ""));

    // The student for themselves, not for a classmate.
    let answer = server
        .as_(
            CHILD,
            ClaimedRole::Student,
            LINK,
            json!({ "student": CHILD }),
        )
        .await;
    let own = data(&answer)["calendarLink"]["path"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _, calendar) = fetch(&server, &own).await;
    assert_eq!(status, 200);
    assert_eq!(vevents(&calendar.replace("\r\n", "\n")), vevents(&expected));
    let answer = server
        .as_(
            CHILD,
            ClaimedRole::Student,
            LINK,
            json!({ "student": stranger }),
        )
        .await;
    assert_eq!(code(&answer).as_deref(), Some("FORBIDDEN"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_links_on_sqlite() {
    calendar_links(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_links_on_postgres() {
    calendar_links(BackendKind::Postgres).await;
}

async fn get(server: &TestServer, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = server.http.get(format!("{}{path}", server.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_downloads_for_vie_scolaire() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let cpe = server.token("cpe1", ClaimedRole::Cpe);

    let response = get(&server, "/export/absences.csv", Some(&cpe)).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    let body = response.bytes().await.unwrap();
    assert!(body.starts_with(b"\xEF\xBB\xBF"), "French Excel's BOM");
    let text = std::str::from_utf8(&body[3..]).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.contains(';'), "{header}");
    // French column names by default.
    assert_eq!(
        header,
        carnet_importers::export::absences::HEADER_FR.join(";")
    );
    assert!(lines.count() > 0, "the demo's absences: {text}");

    let response = get(&server, "/export/grades.csv", Some(&cpe)).await;
    assert_eq!(response.status().as_u16(), 200);
    let body = response.bytes().await.unwrap();
    assert!(body.starts_with(b"\xEF\xBB\xBF"));
    let text = std::str::from_utf8(&body[3..]).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        carnet_importers::export::grades::HEADER_FR.join(";")
    );
    // Marks with a decimal comma, as French spreadsheets read them.
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    assert!(reader.records().count() > 0);

    // Without the French defaults, on request.
    let response = get(
        &server,
        "/export/absences.csv?separator=,&bom=false",
        Some(&cpe),
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    let body = response.bytes().await.unwrap();
    assert!(!body.starts_with(b"\xEF\xBB\xBF"));
    let text = std::str::from_utf8(&body).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        carnet_importers::export::absences::HEADER_FR.join(",")
    );

    // English column names with `?lang=en`; an unknown language is refused by name.
    let response = get(&server, "/export/grades.csv?lang=en", Some(&cpe)).await;
    assert_eq!(response.status().as_u16(), 200);
    let body = response.bytes().await.unwrap();
    let text = std::str::from_utf8(&body[3..]).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        carnet_importers::export::grades::HEADER.join(";")
    );
    let response = get(&server, "/export/absences.csv?lang=en", Some(&cpe)).await;
    let body = response.bytes().await.unwrap();
    let text = std::str::from_utf8(&body[3..]).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        carnet_importers::export::absences::HEADER.join(";")
    );
    let response = get(&server, "/export/absences.csv?lang=de", Some(&cpe)).await;
    assert_eq!(response.status().as_u16(), 400);
    let message = response.text().await.unwrap();
    assert!(
        message.contains("lang") && message.contains("`de`"),
        "{message}"
    );

    // A guardian: 403; no token: 401; a token that is not valid: 401.
    let guardian = guardian_of(&server, CHILD).await;
    let token = server.token(&guardian, ClaimedRole::Guardian);
    let response = get(&server, "/export/absences.csv", Some(&token)).await;
    assert_eq!(response.status().as_u16(), 403);
    let response = get(&server, "/export/grades.csv", Some(&token)).await;
    assert_eq!(response.status().as_u16(), 403);
    let response = get(&server, "/export/absences.csv", None).await;
    assert_eq!(response.status().as_u16(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    let response = get(&server, "/export/absences.csv", Some("not-a-token")).await;
    assert_eq!(response.status().as_u16(), 401);
    // An export that does not exist.
    let response = get(&server, "/export/unknown.csv", Some(&cpe)).await;
    assert_eq!(response.status().as_u16(), 404);
}
