//! End-to-end tests of the GraphQL API: a real server on port 0 with its own database
//! (both backends), spoken to over HTTP and WebSocket as the apps do.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use carnet_api::auth::ClaimedRole;
use carnet_store::BackendKind;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use support::server::{code, data, TestServer};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const STUDENTS: usize = 100;
const CHILD: &str = "eleve00001";

/// A lesson of `CHILD` after the demo's last roll call, and its teacher.
async fn december_lesson(server: &TestServer, date: &str) -> (String, String, String) {
    let answer = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "query($id: String!, $d: NaiveDate!) { student(id: $id) { timetable(from: $d, to: $d) { id teachers subject } } }",
            json!({ "id": CHILD, "d": date }),
        )
        .await;
    let lesson = &data(&answer)["student"]["timetable"][0];
    (
        lesson["id"].as_str().unwrap().to_string(),
        lesson["teachers"][0].as_str().unwrap().to_string(),
        lesson["subject"].as_str().unwrap().to_string(),
    )
}

async fn guardian_of(server: &TestServer, student: &str) -> String {
    let answer = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "query($id: String!) { student(id: $id) { guardians { id mayJustify } } }",
            json!({ "id": student }),
        )
        .await;
    data(&answer)["student"]["guardians"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

const RECORD: &str = "mutation($lesson: String!, $student: String!, $id: UUID, $v: Int) {
  recordAttendance(lesson: $lesson, student: $student, status: { kind: ABSENT }, commandId: $id, expectedVersion: $v) {
    stream version changed position recordedAt commandId
  }
}";

async fn guardian_teacher_and_vie_scolaire(kind: BackendKind) {
    let server = TestServer::start(kind, STUDENTS).await;
    let guardian = guardian_of(&server, CHILD).await;

    // No token: UNAUTHENTICATED; a token of another establishment: FORBIDDEN.
    let anonymous = server.post(None, &[], "{ me { person } }", json!({})).await;
    assert_eq!(
        code(&anonymous).as_deref(),
        Some("UNAUTHENTICATED"),
        "{anonymous}"
    );
    let elsewhere = server
        .key
        .mint(
            "principal",
            &[carnet_domain::Uai::parse("0750656F").unwrap()],
            &[ClaimedRole::Principal],
            chrono::Duration::hours(1),
        )
        .unwrap();
    let answer = server
        .post(
            Some(&elsewhere),
            &[],
            "{ student(id: \"eleve00001\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&answer).as_deref(), Some("FORBIDDEN"), "{answer}");
    let answer = server
        .post(
            Some(&elsewhere),
            &[("x-carnet-establishment", "0750655E")],
            "{ student(id: \"eleve00001\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&answer).as_deref(), Some("FORBIDDEN"), "{answer}");

    // The parent's dashboard.
    let dashboard = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            &format!("{{ student(id: \"{CHILD}\") {{ firstName timetable(from: \"2026-11-23\", to: \"2026-11-27\") {{ id subject }} absences(first: 2) {{ totalCount edges {{ cursor node {{ lesson }} }} pageInfo {{ hasNextPage endCursor }} }} reportCard {{ period overall subjects {{ subject average }} }} }} }}"),
            json!({}),
        )
        .await;
    let student = &data(&dashboard)["student"];
    assert!(
        student["timetable"].as_array().unwrap().len() >= 20,
        "{student}"
    );
    assert!(student["reportCard"]["overall"].is_string(), "{student}");
    let total = student["absences"]["totalCount"].as_u64().unwrap();
    let first_page = student["absences"]["edges"].as_array().unwrap().len() as u64;
    assert_eq!(first_page, total.min(2));

    // A teacher takes the roll call of a December lesson: the absence is in the
    // child's record as soon as the command is answered.
    let (lesson, teacher, _) = december_lesson(&server, "2026-12-01").await;
    let id = uuid::Uuid::new_v4().to_string();
    let before = server.head().await;
    let vars = json!({ "lesson": lesson, "student": CHILD, "id": id });
    let first = server
        .as_(&teacher, ClaimedRole::Teacher, RECORD, vars.clone())
        .await;
    let recorded = data(&first)["recordAttendance"].clone();
    assert_eq!(recorded["changed"], json!(true));
    let written = server.head().await - before;
    assert!(written >= 1);
    // A retry answers the same and writes nothing.
    let again = server
        .as_(&teacher, ClaimedRole::Teacher, RECORD, vars.clone())
        .await;
    assert_eq!(data(&again)["recordAttendance"], recorded);
    assert_eq!(server.head().await - before, written);
    // The same command id for another request is refused.
    let other = json!({ "lesson": lesson, "student": "eleve00002", "id": id });
    let reused = server.as_("cpe1", ClaimedRole::Cpe, RECORD, other).await;
    assert!(
        matches!(code(&reused).as_deref(), Some("VALIDATION")),
        "{reused}"
    );
    // Without a command id, the school rule answers.
    let twice = server
        .as_(
            &teacher,
            ClaimedRole::Teacher,
            RECORD,
            json!({ "lesson": lesson, "student": CHILD }),
        )
        .await;
    assert_eq!(code(&twice).as_deref(), Some("RULE_VIOLATION"), "{twice}");
    assert!(
        twice["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("already"),
        "{twice}"
    );
    let absences = server
        .as_(&guardian, ClaimedRole::Guardian, &format!("{{ student(id: \"{CHILD}\") {{ absences(first: 500) {{ edges {{ node {{ lesson status {{ kind }} history {{ person role via event commandId }} }} }} }} }} }}"), json!({}))
        .await;
    let edges = data(&absences)["student"]["absences"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    let entry = edges
        .iter()
        .find(|e| e["node"]["lesson"] == json!(lesson))
        .expect("the new absence");
    assert_eq!(entry["node"]["history"][0]["person"], json!(teacher));
    assert_eq!(entry["node"]["history"][0]["role"], json!("teacher"));
    assert_eq!(entry["node"]["history"][0]["via"], json!("api"));
    assert_eq!(entry["node"]["history"][0]["commandId"], json!(id));

    // A stale version is a conflict that names the current one.
    let (lesson2, teacher2, _) = december_lesson(&server, "2026-12-02").await;
    let stale = server
        .as_(
            &teacher2,
            ClaimedRole::Teacher,
            RECORD,
            json!({ "lesson": lesson2, "student": CHILD, "v": 1 }),
        )
        .await;
    assert_eq!(code(&stale).as_deref(), Some("CONFLICT"), "{stale}");
    assert_eq!(
        stale["errors"][0]["extensions"]["currentVersion"], recorded["version"],
        "{stale}"
    );

    // A teacher corrects a mark: the report card as of before shows the old one, and the
    // mark's history both.
    let marks = server
        .as_("principal", ClaimedRole::Principal, &format!("{{ student(id: \"{CHILD}\") {{ reportCard {{ period marks {{ evaluation class subject mark {{ score }} }} }} }} }}"), json!({}))
        .await;
    let card = &data(&marks)["student"]["reportCard"];
    let mark = card["marks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mark"]["score"].is_string())
        .unwrap()
        .clone();
    let period = card["period"].as_str().unwrap();
    let (class, subject) = (
        mark["class"].as_str().unwrap(),
        mark["subject"].as_str().unwrap(),
    );
    let services = server
        .as_("principal", ClaimedRole::Principal, "query($c: String!, $p: String) { class(id: $c) { gradebook(period: $p) { evaluations { id teacher } } } }", json!({ "c": class, "p": period }))
        .await;
    let grader = data(&services)["class"]["gradebook"]["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == mark["evaluation"])
        .unwrap()["teacher"]
        .as_str()
        .unwrap()
        .to_string();
    let before_correction = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let correct = "mutation($c: String!, $p: String, $e: String!, $s: String!) { correctMark(class: $c, period: $p, evaluation: $e, student: $s, mark: { score: \"3\" }, reason: \"copie mal reportée\") { changed } }";
    let vars = json!({ "c": class, "p": period, "e": mark["evaluation"], "s": CHILD });
    let corrected = server
        .as_(&grader, ClaimedRole::Teacher, correct, vars.clone())
        .await;
    assert_eq!(
        data(&corrected)["correctMark"]["changed"],
        json!(true),
        "{subject}"
    );
    // Not a teacher of that subject: FORBIDDEN.
    let refused = server
        .as_(&teacher2, ClaimedRole::Teacher, correct, vars)
        .await;
    if teacher2 != grader {
        assert_eq!(code(&refused).as_deref(), Some("FORBIDDEN"), "{refused}");
    }
    let card_query = "query($id: String!, $at: DateTime) { student(id: $id, asOf: $at) { reportCard { marks { evaluation mark { score } history { person event before after } } } } }";
    let then = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            card_query,
            json!({ "id": CHILD, "at": before_correction }),
        )
        .await;
    let now = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            card_query,
            json!({ "id": CHILD }),
        )
        .await;
    let find = |answer: &Value| -> Value {
        data(answer)["student"]["reportCard"]["marks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["evaluation"] == mark["evaluation"])
            .unwrap()
            .clone()
    };
    assert_eq!(find(&then)["mark"], mark["mark"]);
    assert_eq!(find(&now)["mark"]["score"], json!("3"));
    let history = find(&now)["history"].as_array().unwrap().clone();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[1]["event"], json!("MarkCorrected"));
    assert_eq!(history[1]["person"], json!(grader));
    assert_eq!(history[1]["after"], json!({ "Score": "3" }));

    // Not found, validation.
    let missing = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "{ student(id: \"nobody\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&missing).as_deref(), Some("NOT_FOUND"), "{missing}");
    let too_long = server
        .as_(&guardian, ClaimedRole::Guardian, &format!("{{ student(id: \"{CHILD}\") {{ timetable(from: \"2026-09-01\", to: \"2027-06-30\") {{ id }} }} }}"), json!({}))
        .await;
    assert_eq!(code(&too_long).as_deref(), Some("VALIDATION"), "{too_long}");
    assert_eq!(too_long["errors"][0]["extensions"]["field"], json!("to"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guardian_teacher_and_vie_scolaire_on_sqlite() {
    guardian_teacher_and_vie_scolaire(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guardian_teacher_and_vie_scolaire_on_postgres() {
    guardian_teacher_and_vie_scolaire(BackendKind::Postgres).await;
}

/// A graphql-transport-ws client: connects, authenticates in `connection_init`,
/// subscribes to `query`.
async fn subscribe(
    server: &TestServer,
    token: &str,
    query: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = format!("{}/graphql/ws", server.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    socket.send(Message::text(init.to_string())).await.unwrap();
    let ack = next_json(&mut socket).await;
    assert_eq!(ack["type"], json!("connection_ack"), "{ack}");
    let start = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
    socket.send(Message::text(start.to_string())).await.unwrap();
    socket
}

async fn next_json(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

async fn subscriptions(kind: BackendKind) {
    let server = TestServer::start(kind, STUDENTS).await;
    let guardian = guardian_of(&server, CHILD).await;
    let mut parent = subscribe(
        &server,
        &server.token(&guardian, ClaimedRole::Guardian),
        "subscription { absences { student lesson date } }",
    )
    .await;
    let mut cpe = subscribe(
        &server,
        &server.token("cpe1", ClaimedRole::Cpe),
        "subscription { attendanceAlerts { student month unjustifiedHalfDays } }",
    )
    .await;
    // A student refused the alerts subscription.
    let mut child = subscribe(
        &server,
        &server.token(CHILD, ClaimedRole::Student),
        "subscription { attendanceAlerts { student } }",
    )
    .await;
    let refused = next_json(&mut child).await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"],
        json!("FORBIDDEN"),
        "{refused}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Four half-days of absence in December: the parent is told of each, the CPE of
    // the alert.
    let mut half_days = Vec::new();
    for day in ["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"] {
        let answer = server
            .as_("principal", ClaimedRole::Principal, "query($id: String!, $d: NaiveDate!) { student(id: $id) { timetable(from: $d, to: $d) { id cancelled } } }", json!({ "id": CHILD, "d": day }))
            .await;
        let lessons = data(&answer)["student"]["timetable"]
            .as_array()
            .unwrap()
            .clone();
        let lesson = lessons.iter().find(|l| l["cancelled"].is_null()).unwrap();
        half_days.push(lesson["id"].as_str().unwrap().to_string());
    }
    for (n, lesson) in half_days.iter().enumerate() {
        let sent = Instant::now();
        let answer = server
            .as_(
                "cpe1",
                ClaimedRole::Cpe,
                RECORD,
                json!({ "lesson": lesson, "student": CHILD }),
            )
            .await;
        data(&answer);
        let notice = next_json(&mut parent).await;
        let latency = sent.elapsed();
        assert_eq!(notice["type"], json!("next"), "{notice}");
        assert_eq!(
            notice["payload"]["data"]["absences"]["lesson"],
            json!(lesson)
        );
        println!("absence {n} reached the guardian {latency:?} after the roll call was sent");
    }
    let alert = next_json(&mut cpe).await;
    assert_eq!(
        alert["payload"]["data"]["attendanceAlerts"]["student"],
        json!(CHILD),
        "{alert}"
    );
    assert_eq!(
        alert["payload"]["data"]["attendanceAlerts"]["month"],
        json!("2026-12"),
        "{alert}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_on_sqlite() {
    subscriptions(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_on_postgres() {
    subscriptions(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_limits() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let get = |path: &str| server.http.get(format!("{}{path}", server.base)).send();
    let health = get("/healthz").await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 200);
    let readiness: Value = ready.json().await.unwrap();
    assert_eq!(readiness["database"], json!("ok"));
    assert_eq!(
        readiness["projections"].as_array().unwrap().len(),
        5,
        "{readiness}"
    );

    // GraphiQL and its assets come from the binary.
    let page = get("/").await.unwrap().text().await.unwrap();
    assert!(
        page.contains("/graphiql/graphiql.min.js") && page.contains("query Dashboard"),
        "{page}"
    );
    assert_eq!(
        get("/graphiql/graphiql.min.js").await.unwrap().status(),
        200
    );
    assert_eq!(get("/graphiql/nothing.js").await.unwrap().status(), 404);

    // A query and a command, then the metrics count them.
    let token = server.token("cpe1", ClaimedRole::Cpe);
    server
        .post(Some(&token), &[], "{ me { person } }", json!({}))
        .await;
    let (lesson, _, _) = december_lesson(&server, "2026-12-01").await;
    data(
        &server
            .post(
                Some(&token),
                &[],
                RECORD,
                json!({ "lesson": lesson, "student": CHILD }),
            )
            .await,
    );
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("carnet_http_requests_total{route=\"/graphql\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "carnet_commands_total{command=\"record_attendance\",outcome=\"appended\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "carnet_projection_lag_events{establishment=\"0750655E\",projection=\"attendance\"}"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("carnet_http_request_duration_seconds_bucket"),
        "{metrics}"
    );

    // Limits: depth, page size, body size.
    let too_deep = "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } }";
    let answer = server.post(Some(&token), &[], too_deep, json!({})).await;
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nested too deep"),
        "{answer}"
    );
    let answer = server
        .post(
            Some(&token),
            &[],
            "{ attendanceAlerts(first: 100000) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&answer).as_deref(), Some("VALIDATION"), "{answer}");
    let huge = "x".repeat(2 * 1024 * 1024);
    let response = server
        .http
        .post(format!("{}/graphql", server.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(json!({ "query": format!("{{ me {{ person }} }} #{huge}") }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    // Introspection needs no token (GraphiQL loads the schema before one is pasted).
    let schema = server
        .post(None, &[], "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(
        data(&schema)["__schema"]["queryType"]["name"],
        json!("Query")
    );
}
