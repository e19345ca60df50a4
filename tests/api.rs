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
            "query($id: String!, $d: Date!) { student(id: $id) { timetable(from: $d, to: $d) { localId teachers subject } } }",
            json!({ "id": CHILD, "d": date }),
        )
        .await;
    let lesson = &data(&answer)["student"]["timetable"][0];
    (
        lesson["localId"].as_str().unwrap().to_string(),
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
  recordAttendance(input: { lesson: $lesson, student: $student, status: { kind: ABSENT }, commandId: $id, expectedVersion: $v }) {
    stream version changed replayed position recordedAt commandId
    line { student status { kind } }
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
            &format!("{{ student(id: \"{CHILD}\") {{ firstName timetable(from: \"2026-11-23\", to: \"2026-11-27\") {{ id subject }} absences(first: 2) {{ totalCount edges {{ cursor node {{ lesson }} }} pageInfo {{ hasNextPage endCursor }} }} reportCard(period: \"T1\") {{ period overall subjects {{ subject average }} }} }} }}"),
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
    assert_eq!(recorded["replayed"], json!(false));
    // The payload holds the line as it now stands: no need to fetch it again.
    assert_eq!(
        recorded["line"]["status"]["kind"],
        json!("ABSENT"),
        "{first}"
    );
    let written = server.head().await - before;
    assert!(written >= 1);
    // A retry answers the same and writes nothing.
    let again = server
        .as_(&teacher, ClaimedRole::Teacher, RECORD, vars.clone())
        .await;
    let mut replay = data(&again)["recordAttendance"].clone();
    assert_eq!(replay["replayed"], json!(true), "{again}");
    replay["replayed"] = json!(false);
    assert_eq!(replay, recorded);
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
    assert_eq!(
        twice["errors"][0]["extensions"]["rule"],
        json!("ALREADY_RECORDED"),
        "{twice}"
    );
    assert!(
        twice["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("déjà"),
        "{twice}"
    );
    let absences = server
        .as_(&guardian, ClaimedRole::Guardian, &format!("{{ student(id: \"{CHILD}\") {{ absences(first: 100) {{ edges {{ node {{ lesson status {{ kind }} history {{ person role via event commandId }} }} }} }} }} }}"), json!({}))
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
        .as_("principal", ClaimedRole::Principal, &format!("{{ student(id: \"{CHILD}\") {{ reportCard(period: \"T1\") {{ period marks {{ evaluation class subject mark {{ score }} }} }} }} }}"), json!({}))
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
    let correct = "mutation($c: String!, $p: String, $e: String!, $s: String!, $id: UUID) { correctMark(input: { class: $c, period: $p, evaluation: $e, student: $s, mark: { score: \"3\" }, reason: \"copie mal reportée\", commandId: $id }) { changed replayed mark { student mark { score } correctedFrom { score } } } }";
    let vars = json!({ "c": class, "p": period, "e": mark["evaluation"], "s": CHILD, "id": uuid::Uuid::new_v4().to_string() });
    let corrected = server
        .as_(&grader, ClaimedRole::Teacher, correct, vars.clone())
        .await;
    let answer = &data(&corrected)["correctMark"];
    assert_eq!(answer["changed"], json!(true), "{subject}");
    assert_eq!(answer["replayed"], json!(false), "{corrected}");
    // The payload holds the mark as it now stands, the earlier one in its corrections.
    assert_eq!(answer["mark"]["student"], json!(CHILD), "{corrected}");
    assert_eq!(answer["mark"]["mark"]["score"], json!("3"), "{corrected}");
    assert_eq!(
        answer["mark"]["correctedFrom"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["score"],
        mark["mark"]["score"],
        "{corrected}"
    );
    // A retry with the same command id is the first run's answer.
    let retried = server
        .as_(&grader, ClaimedRole::Teacher, correct, vars.clone())
        .await;
    assert_eq!(
        data(&retried)["correctMark"]["replayed"],
        json!(true),
        "{retried}"
    );
    assert_eq!(
        data(&retried)["correctMark"]["mark"],
        answer["mark"],
        "{retried}"
    );
    // Not a teacher of that subject: FORBIDDEN.
    let refused = server
        .as_(&teacher2, ClaimedRole::Teacher, correct, vars)
        .await;
    if teacher2 != grader {
        assert_eq!(code(&refused).as_deref(), Some("FORBIDDEN"), "{refused}");
    }
    let card_query = "query($id: String!, $at: DateTime) { student(id: $id, asOf: $at) { reportCard(period: \"T1\") { marks { evaluation mark { score } history { person event before after why via } } } } }";
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
    // And why, as the teacher gave it, through what.
    assert_eq!(history[1]["why"], json!("copie mal reportée"));
    assert_eq!(history[1]["via"], json!("api"));
    assert_eq!(
        history[0]["why"],
        Value::Null,
        "entering a mark gives no reason"
    );

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
    let parent_token = server.token(&guardian, ClaimedRole::Guardian);
    let mut parent = subscribe(
        &server,
        &parent_token,
        "subscription { absences { student lesson date position } }",
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
            .as_("principal", ClaimedRole::Principal, "query($id: String!, $d: Date!) { student(id: $id) { timetable(from: $d, to: $d) { localId cancelled } } }", json!({ "id": CHILD, "d": day }))
            .await;
        let lessons = data(&answer)["student"]["timetable"]
            .as_array()
            .unwrap()
            .clone();
        let lesson = lessons.iter().find(|l| l["cancelled"].is_null()).unwrap();
        half_days.push(lesson["localId"].as_str().unwrap().to_string());
    }
    let mut last_received = 0;
    for (n, lesson) in half_days.iter().enumerate() {
        if n == 2 {
            // The parent's phone loses its connection for the last two.
            parent.close(None).await.unwrap();
        }
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
        if n >= 2 {
            continue;
        }
        let notice = next_json(&mut parent).await;
        last_received = notice["payload"]["data"]["absences"]["position"]
            .as_i64()
            .unwrap();
        let latency = sent.elapsed();
        assert_eq!(notice["type"], json!("next"), "{notice}");
        assert_eq!(
            notice["payload"]["data"]["absences"]["lesson"],
            json!(lesson)
        );
        println!("absence {n} reached the guardian {latency:?} after the roll call was sent");
    }
    // Back online, it resumes after the last absence it received: the two it missed,
    // in order, once each; then the live feed.
    let mut parent = subscribe(
        &server,
        &parent_token,
        &format!("subscription {{ absences(after: {last_received}) {{ lesson position }} }}"),
    )
    .await;
    for lesson in &half_days[2..] {
        let notice = next_json(&mut parent).await;
        let absence = &notice["payload"]["data"]["absences"];
        assert_eq!(absence["lesson"], json!(lesson), "{notice}");
        assert!(absence["position"].as_i64().unwrap() > last_received);
        last_received = absence["position"].as_i64().unwrap();
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
        carnet_projections::all().len(),
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
        metrics.contains("carnet_projection_lag_events{projection=\"attendance\"} 0"),
        "{metrics}"
    );
    // No label per establishment: their number has no bound.
    assert!(!metrics.contains("establishment=\""), "{metrics}");
    assert!(metrics.contains("carnet_establishments 1"), "{metrics}");
    // The detail names the laggards (the asynchronous timetable may be a few events
    // behind for a moment), then none once caught up.
    // Only for the head or an auditor of the establishment, with a token.
    assert_eq!(get("/status/projections").await.unwrap().status(), 401);
    let forbidden = server
        .http
        .get(format!("{}/status/projections", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    let head = server.token("adjoint", ClaimedRole::Principal);
    let mut lagging = Value::Null;
    for _ in 0..100 {
        let answer = server
            .http
            .get(format!("{}/status/projections", server.base))
            .bearer_auth(&head)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        lagging = answer.json().await.unwrap();
        for row in lagging.as_array().unwrap() {
            assert_eq!(row["establishment"], json!(support::server::UAI), "{row}");
            assert_eq!(row["failure"], Value::Null, "{row}");
        }
        if lagging == json!([]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(lagging, json!([]));
    assert!(
        metrics.contains("carnet_http_request_duration_seconds_bucket"),
        "{metrics}"
    );

    // Limits: depth, page size, body size.
    // Data fields nest at most 12 deep; the standard introspection query (GraphiQL's
    // Docs pane, codegen tools: `ofType` nine deep) is measured on its own scale.
    let too_deep = format!(
        "{{ {} name {} }}",
        "student(id: \"eleve00001\") { ".repeat(13),
        "} ".repeat(13)
    );
    let too_deep = too_deep.as_str();
    let answer = server.post(Some(&token), &[], too_deep, json!({})).await;
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("trop imbriquée"),
        "{answer}"
    );
    assert_eq!(code(&answer).as_deref(), Some("TOO_COSTLY"), "{answer}");
    let introspection = include_str!("support/introspection.graphql");
    let answer = server
        .post(Some(&token), &[], introspection, json!({}))
        .await;
    assert!(answer["errors"].is_null(), "{answer}");
    let types = answer["data"]["__schema"]["types"].as_array().unwrap();
    assert!(
        types.iter().any(|t| t["name"] == json!("Student")),
        "the schema's types: {answer}"
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
        // The server answers 413 before reading the whole body and closes the
        // connection: it must not go back to the client's pool for the next request.
        .header("connection", "close")
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

/// `query` as the principal, again until `done` holds of its data (the timetable is
/// projected asynchronously: a course added is in the read model a moment later).
async fn principal_until(
    server: &TestServer,
    query: &str,
    variables: Value,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = server
            .as_(
                "principal",
                ClaimedRole::Principal,
                query,
                variables.clone(),
            )
            .await;
        // NOT_FOUND until the projector has it.
        if done(&answer["data"]) {
            return data(&answer).clone();
        }
        assert!(Instant::now() < deadline, "never came: {answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The mutations that set the school up: an admission with a guardian, a course and a
/// one-off lesson, a resource; each refused with the field named when it names
/// something the establishment does not have; and the history of each new thing
/// (justification, evaluation, lesson, resource).
async fn setting_up_the_school(kind: BackendKind) {
    let server = TestServer::start(kind, STUDENTS).await;
    let division = {
        let answer = server
            .as_(
                "principal",
                ClaimedRole::Principal,
                "query($id: String!) { student(id: $id) { placement(date: \"2026-11-27\") { division } } }",
                json!({ "id": CHILD }),
            )
            .await;
        data(&answer)["student"]["placement"]["division"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // A teacher of the whole division (not of one of its groups) and their subject.
    let week = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "query($d: String!) { class(id: $d) { timetable(from: \"2026-11-30\", to: \"2026-12-04\") { teachers subject divisions } } }",
            json!({ "d": division }),
        )
        .await;
    let lesson = data(&week)["class"]["timetable"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| {
            l["divisions"] == json!([division]) && l["teachers"].as_array().unwrap().len() == 1
        })
        .unwrap()
        .clone();
    let teacher = lesson["teachers"][0].as_str().unwrap().to_string();
    let subject = lesson["subject"].as_str().unwrap().to_string();

    // Admission: the INE and the division are checked, the field named.
    let admit = "mutation($d: String!, $ine: String!) { admitStudent(input: { student: \"eleve-zoe\", ine: $ine, lastName: \"N'Guessan\", firstName: \"Zoë\", birthDate: \"2013-04-02\", division: $d, on: \"2026-12-01\" }) { stream version changed replayed student { id placement(date: \"2026-12-02\") { division } } } }";
    for (vars, field) in [
        (json!({ "d": division, "ine": "12345" }), "ine"),
        (json!({ "d": "9Z", "ine": "123456789AB" }), "division"),
    ] {
        let refused = server
            .as_("secretariat", ClaimedRole::Secretariat, admit, vars)
            .await;
        assert_eq!(code(&refused).as_deref(), Some("VALIDATION"), "{refused}");
        assert_eq!(refused["errors"][0]["extensions"]["field"], json!(field));
    }
    let admitted = server
        .as_(
            "secretariat",
            ClaimedRole::Secretariat,
            admit,
            json!({ "d": division, "ine": "123456789AB" }),
        )
        .await;
    assert_eq!(data(&admitted)["admitStudent"]["changed"], json!(true));
    assert_eq!(data(&admitted)["admitStudent"]["replayed"], json!(false));
    // The payload holds the student as admitted, in their division.
    assert_eq!(
        data(&admitted)["admitStudent"]["student"]["placement"]["division"],
        json!(division),
        "{admitted}"
    );
    let link = "mutation { linkGuardian(input: { student: \"eleve-zoe\", guardian: \"resp-zoe\", name: \"Hélène N'Guessan\", relationship: \"mère\", rights: { see: true, justify: true, notified: true } }) { changed student { guardians { id mayJustify } } } }";
    let linked = server
        .as_("secretariat", ClaimedRole::Secretariat, link, json!({}))
        .await;
    assert_eq!(data(&linked)["linkGuardian"]["changed"], json!(true));
    assert_eq!(
        data(&linked)["linkGuardian"]["student"]["guardians"],
        json!([{ "id": "resp-zoe", "mayJustify": true }])
    );
    // The guardian sees the child at once (enrolment is projected in the command).
    let seen = server
        .as_(
            "resp-zoe",
            ClaimedRole::Guardian,
            "{ student(id: \"eleve-zoe\") { firstName lastName placement(date: \"2026-12-02\") { division } history { event person role via } } }",
            json!({}),
        )
        .await;
    let zoe = &data(&seen)["student"];
    assert_eq!(zoe["firstName"], json!("Zoë"));
    assert_eq!(zoe["lastName"], json!("N'Guessan"));
    assert_eq!(zoe["placement"]["division"], json!(division));
    let events: Vec<&str> = zoe["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["StudentAdmitted", "GuardianLinked"], "{zoe}");
    assert_eq!(zoe["history"][0]["person"], json!("secretariat"));
    assert_eq!(zoe["history"][0]["via"], json!("api"));

    // A Wednesday-afternoon course for the division: an unknown teacher is refused by
    // name, then the course is in the new student's timetable with its history.
    let add = "mutation($d: String!, $t: String!, $s: String!) { addCourse(input: { course: { id: \"atelier-sciences\", day: WEDNESDAY, start: \"14:00:00\", end: \"15:00:00\", subject: $s, attendees: { teachers: [$t], divisions: [$d], room: \"Salle polyvalente\" }, validFrom: \"2026-12-01\" } }) { changed created lessons { localId room } } }";
    let refused = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            add,
            json!({ "d": division, "t": "nobody", "s": subject }),
        )
        .await;
    assert_eq!(code(&refused).as_deref(), Some("VALIDATION"), "{refused}");
    assert_eq!(
        refused["errors"][0]["extensions"]["field"],
        json!("attendees.teachers")
    );
    let added = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            add,
            json!({ "d": division, "t": teacher, "s": subject }),
        )
        .await;
    assert_eq!(
        data(&added)["addCourse"]["created"],
        json!("atelier-sciences")
    );
    // Its lessons, from the write side (the timetable's read model may lag).
    assert_eq!(
        data(&added)["addCourse"]["lessons"][0],
        json!({ "localId": "atelier-sciences@2026-12-02", "room": "Salle polyvalente" }),
        "{added}"
    );
    let moved_room = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "mutation { changeRoom(input: { course: \"atelier-sciences\", date: \"2026-12-02\", room: \"CDI\" }) { changed lesson { localId room } } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&moved_room)["changeRoom"]["changed"], json!(true));
    assert_eq!(
        data(&moved_room)["changeRoom"]["lesson"],
        json!({ "localId": "atelier-sciences@2026-12-02", "room": "CDI" })
    );
    let week = "{ student(id: \"eleve-zoe\") { timetable(from: \"2026-12-02\", to: \"2026-12-02\") { localId room history { event before after } } } }";
    let atelier = |d: &Value| -> Option<Value> {
        d["student"]["timetable"]
            .as_array()?
            .iter()
            .find(|l| l["localId"] == json!("atelier-sciences@2026-12-02"))
            .cloned()
    };
    let answer = principal_until(&server, week, json!({}), |d| {
        atelier(d).is_some_and(|l| l["room"] == json!("CDI"))
    })
    .await;
    let lesson = atelier(&answer).unwrap();
    let history = lesson["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["event"], json!("CourseAdded"));
    assert_eq!(history[0]["before"], Value::Null);
    assert_eq!(history[1]["event"], json!("RoomChanged"));
    assert_eq!(history[0]["after"]["room"], json!("Salle polyvalente"));
    assert_eq!(history[1]["after"]["room"], json!("CDI"));

    // A one-off lesson takes roll calls like any other.
    let extra = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "mutation($d: String!, $t: String!, $s: String!) { addExtraLesson(input: { lesson: { date: \"2026-12-09\", start: \"16:00:00\", end: \"17:30:00\", subject: $s, attendees: { teachers: [$t], divisions: [$d], room: \"Salle polyvalente\" } } }) { created lesson { localId kind } } }",
            json!({ "d": division, "t": teacher, "s": subject }),
        )
        .await;
    let extra_id = data(&extra)["addExtraLesson"]["created"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(extra_id.starts_with("extra-"), "{extra_id}");
    assert_eq!(
        data(&extra)["addExtraLesson"]["lesson"],
        json!({ "localId": extra_id, "kind": "EXTRA" })
    );
    principal_until(
        &server,
        "query($l: String!) { lesson(id: $l) { localId } }",
        json!({ "l": extra_id }),
        |d| d["lesson"]["localId"] == json!(extra_id),
    )
    .await;
    let roll_call = server
        .as_(
            &teacher,
            ClaimedRole::Teacher,
            RECORD,
            json!({ "lesson": extra_id, "student": "eleve-zoe" }),
        )
        .await;
    assert_eq!(data(&roll_call)["recordAttendance"]["changed"], json!(true));

    // The guardian justifies it, the CPE accepts: the justification's history.
    let declared = server
        .as_(
            "resp-zoe",
            ClaimedRole::Guardian,
            "mutation { declareJustification(input: { student: \"eleve-zoe\", from: \"2026-12-09\", to: \"2026-12-09\", reason: \"MAL\", comment: \"Fièvre\" }) { created justification { id comment accepted } } }",
            json!({}),
        )
        .await;
    let justification = data(&declared)["declareJustification"]["created"]
        .as_str()
        .unwrap()
        .to_string();
    let declared = &data(&declared)["declareJustification"]["justification"];
    assert_eq!(declared["id"], json!(justification), "{declared}");
    assert_eq!(declared["comment"], json!("Fièvre"), "{declared}");
    assert_eq!(declared["accepted"], json!(null), "{declared}");
    let decided = server
        .as_(
            "cpe1",
            ClaimedRole::Cpe,
            "mutation($j: String!) { decideJustification(input: { student: \"eleve-zoe\", justification: $j, accept: true, note: \"certificat médical reçu\" }) { changed justification { accepted } } }",
            json!({ "j": justification }),
        )
        .await;
    assert_eq!(
        data(&decided)["decideJustification"]["changed"],
        json!(true)
    );
    assert_eq!(
        data(&decided)["decideJustification"]["justification"]["accepted"],
        json!(true),
        "{decided}"
    );
    let record = server
        .as_(
            "resp-zoe",
            ClaimedRole::Guardian,
            "{ student(id: \"eleve-zoe\") { justifications { id accepted history { event person role after why justification } } absences { edges { node { justified } } } } }",
            json!({}),
        )
        .await;
    let student = &data(&record)["student"];
    let j = &student["justifications"][0];
    assert_eq!(j["accepted"], json!(true));
    let history = j["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["person"], json!("resp-zoe"));
    assert_eq!(history[0]["after"]["comment"], json!("Fièvre"));
    assert_eq!(history[1]["person"], json!("cpe1"));
    assert_eq!(history[1]["role"], json!("cpe"));
    assert_eq!(history[1]["after"]["accepted"], json!(true));
    assert_eq!(history[1]["why"], json!("certificat médical reçu"));
    assert_eq!(history[1]["justification"], j["id"]);
    assert_eq!(
        student["absences"]["edges"][0]["node"]["justified"],
        json!(true)
    );
    // The teacher corrects the roll call: the answer is the line as it now stands.
    let corrected = server
        .as_(
            &teacher,
            ClaimedRole::Teacher,
            "mutation($l: String!) { correctAttendance(input: { lesson: $l, student: \"eleve-zoe\", status: { kind: LATE, minutes: 10 }, reason: \"arrivée en retard\" }) { changed line { student status { kind minutes } correctedFrom { kind } } } }",
            json!({ "l": extra_id }),
        )
        .await;
    assert_eq!(
        data(&corrected)["correctAttendance"]["line"],
        json!({ "student": "eleve-zoe", "status": { "kind": "LATE", "minutes": 10 }, "correctedFrom": [{ "kind": "ABSENT" }] }),
        "{corrected}"
    );

    // An evaluation's own history (its marks have theirs).
    let created = server
        .as_(
            &teacher,
            ClaimedRole::Teacher,
            "mutation($c: String!, $s: String!) { createEvaluation(input: { class: $c, subject: $s, title: \"Atelier\", date: \"2026-11-27\", period: \"T1\", coefficient: 2 }) { created evaluation { id title coefficient marks { student } } } }",
            json!({ "c": division, "s": subject }),
        )
        .await;
    let evaluation = data(&created)["createEvaluation"]["created"]
        .as_str()
        .unwrap()
        .to_string();
    let made = &data(&created)["createEvaluation"]["evaluation"];
    assert_eq!(made["id"], json!(evaluation), "{created}");
    assert_eq!(made["title"], json!("Atelier"), "{created}");
    assert_eq!(made["coefficient"], json!("2"), "{created}");
    assert_eq!(made["marks"], json!([]), "{created}");
    let book = server
        .as_(
            &teacher,
            ClaimedRole::Teacher,
            "query($c: String!) { class(id: $c) { gradebook(period: \"T1\") { evaluations { id history { event person after } } } } }",
            json!({ "c": division }),
        )
        .await;
    let found = data(&book)["class"]["gradebook"]["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == json!(evaluation))
        .unwrap()
        .clone();
    assert_eq!(found["history"][0]["event"], json!("EvaluationCreated"));
    assert_eq!(found["history"][0]["person"], json!(teacher));
    assert_eq!(found["history"][0]["after"]["coefficient"], json!("2"));

    // The whole grid at once: the answer is the evaluation with its marks.
    let grid = server
        .as_(
            &teacher,
            ClaimedRole::Teacher,
            "mutation($c: String!, $e: String!) { enterMarks(input: { class: $c, period: \"T1\", evaluation: $e, marks: [{ student: \"eleve-zoe\", mark: { score: \"15\" } }] }) { changed evaluation { id marks { student mark { score } } } } }",
            json!({ "c": division, "e": evaluation }),
        )
        .await;
    assert_eq!(
        data(&grid)["enterMarks"]["evaluation"],
        json!({ "id": evaluation, "marks": [{ "student": "eleve-zoe", "mark": { "score": "15" } }] }),
        "{grid}"
    );

    // A resource: a pool needs its quantity; registered, its history says by whom.
    let register = "mutation($q: Int) { registerResource(input: { id: \"tablettes-2\", name: \"Chariot de tablettes n°2\", kind: POOL, quantity: $q }) { created resource { localId capacity } } }";
    let refused = server
        .as_("principal", ClaimedRole::Principal, register, json!({}))
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["field"],
        json!("quantity")
    );
    let registered = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            register,
            json!({ "q": 30 }),
        )
        .await;
    assert_eq!(
        data(&registered)["registerResource"]["created"],
        json!("tablettes-2")
    );
    assert_eq!(
        data(&registered)["registerResource"]["resource"],
        json!({ "localId": "tablettes-2", "capacity": 30 })
    );
    let resource = server
        .as_(
            &teacher,
            ClaimedRole::Teacher,
            "{ resource(id: \"tablettes-2\") { name capacity managers history { event person after } } }",
            json!({}),
        )
        .await;
    let r = &data(&resource)["resource"];
    assert_eq!(r["capacity"], json!(30));
    assert_eq!(r["managers"], json!(["principal"]));
    assert_eq!(r["history"][0]["event"], json!("ResourceRegistered"));
    assert_eq!(
        r["history"][0]["after"]["name"],
        json!("Chariot de tablettes n°2")
    );

    // A room that needs approval: each booking command answers with the booking as it
    // now stands, retiring with the resource.
    let as_principal = |query: &'static str, vars: Value| {
        let server = &server;
        async move {
            let answer = server
                .as_("principal", ClaimedRole::Principal, query, vars)
                .await;
            data(&answer).clone()
        }
    };
    let room = as_principal(
        "mutation { registerResource(input: { id: \"salle-reunion\", name: \"Salle de réunion\", kind: ROOM, seats: 12, requiresApproval: true }) { resource { requiresApproval retiredAt } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        room["registerResource"]["resource"],
        json!({ "requiresApproval": true, "retiredAt": null })
    );
    let book = "mutation($b: String!, $s: LocalDateTime!, $e: LocalDateTime!) { book(input: { resource: \"salle-reunion\", start: $s, end: $e, purpose: \"Conseil\", booking: $b }) { created booking { localId status purpose } } }";
    let mut statuses = Vec::new();
    for (b, s, e) in [
        ("conseil-1", "2026-12-14T17:00:00", "2026-12-14T19:00:00"),
        ("conseil-2", "2026-12-15T17:00:00", "2026-12-15T19:00:00"),
    ] {
        let booked = server
            .as_(
                &teacher,
                ClaimedRole::Teacher,
                book,
                json!({ "b": b, "s": s, "e": e }),
            )
            .await;
        let booking = &data(&booked)["book"]["booking"];
        assert_eq!(booking["localId"], json!(b), "{booked}");
        assert_eq!(booking["purpose"], json!("Conseil"), "{booked}");
        statuses.push(booking["status"].clone());
    }
    assert_eq!(statuses, [json!("PENDING"), json!("PENDING")]);
    let approved = as_principal(
        "mutation { approveBooking(input: { resource: \"salle-reunion\", booking: \"conseil-1\" }) { changed booking { status } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        approved["approveBooking"]["booking"]["status"],
        json!("CONFIRMED")
    );
    let refused = as_principal(
        "mutation { refuseBooking(input: { resource: \"salle-reunion\", booking: \"conseil-2\", reason: \"salle prise\" }) { booking { status } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        refused["refuseBooking"]["booking"]["status"],
        json!("REFUSED")
    );
    let cancelled = server
        .as_(
            &teacher,
            ClaimedRole::Teacher,
            "mutation { cancelBooking(input: { resource: \"salle-reunion\", booking: \"conseil-1\", reason: \"reporté\" }) { booking { status } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&cancelled)["cancelBooking"]["booking"]["status"],
        json!("CANCELLED"),
        "{cancelled}"
    );
    let retired = as_principal(
        "mutation { retireResource(input: { resource: \"salle-reunion\", at: \"2027-01-01T00:00:00\", reason: \"travaux\" }) { resource { retiredAt } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        retired["retireResource"]["resource"]["retiredAt"],
        json!("2027-01-01T00:00:00")
    );

    // The class council closes the period, then it is reopened: each answer is the
    // gradebook as it now stands, with the version to send next.
    let close = as_principal(
        "mutation($c: String!) { closePeriod(input: { class: $c, period: \"T1\" }) { version gradebook { closed version } } }",
        json!({ "c": division }),
    )
    .await;
    let closed = &close["closePeriod"];
    assert_eq!(closed["gradebook"]["closed"], json!(true), "{closed}");
    assert_eq!(
        closed["gradebook"]["version"], closed["version"],
        "{closed}"
    );
    let reopen = as_principal(
        "mutation($c: String!, $v: Int) { reopenPeriod(input: { class: $c, period: \"T1\", reason: \"erreur de saisie\", expectedVersion: $v }) { version gradebook { closed version } } }",
        json!({ "c": division, "v": closed["version"] }),
    )
    .await;
    let reopened = &reopen["reopenPeriod"];
    assert_eq!(reopened["gradebook"]["closed"], json!(false), "{reopened}");
    assert_eq!(
        reopened["gradebook"]["version"],
        json!(closed["version"].as_i64().unwrap() + 1)
    );

    // Erasure (RGPD art. 17): for the head only; an unknown person is named; then the
    // student's names, birth date, reasons and comments read as erased, the guardian
    // (another person) keeps theirs, and a second call destroys nothing more.
    let erase = "mutation($p: String!) { erasePerson(input: { person: $p, grounds: \"demande de la famille\" }) { changed replayed position erasure { person keysDestroyed } } }";
    let refused = server
        .as_(
            "resp-zoe",
            ClaimedRole::Guardian,
            erase,
            json!({ "p": "eleve-zoe" }),
        )
        .await;
    assert_eq!(code(&refused).as_deref(), Some("FORBIDDEN"), "{refused}");
    let refused = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            erase,
            json!({ "p": "nobody" }),
        )
        .await;
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no personal data of `nobody`"),
        "{refused}"
    );
    let erased = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            erase,
            json!({ "p": "eleve-zoe" }),
        )
        .await;
    assert_eq!(
        data(&erased)["erasePerson"]["erasure"]["keysDestroyed"],
        json!(2),
        "{erased}"
    );
    let record = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "{ student(id: \"eleve-zoe\") { firstName lastName birthDate ine erased guardians { id name } justifications { reason comment accepted history { after } } history { event } } }",
            json!({}),
        )
        .await;
    let zoe = &data(&record)["student"];
    assert_eq!(
        (&zoe["firstName"], &zoe["lastName"], &zoe["birthDate"]),
        (&Value::Null, &Value::Null, &Value::Null),
        "{zoe}"
    );
    assert_eq!(zoe["erased"], json!(true));
    assert!(
        zoe["ine"].is_string(),
        "the national identifier stays: {zoe}"
    );
    let j = &zoe["justifications"][0];
    assert_eq!((&j["reason"], &j["comment"]), (&Value::Null, &Value::Null));
    assert_eq!(j["accepted"], json!(true), "the decision itself stays");
    assert_eq!(
        j["history"][0]["after"]["comment"],
        json!({ "$erased": "eleve-zoe/absences/2026-2027" })
    );
    assert!(zoe["guardians"][0]["name"].is_string(), "{zoe}");
    let again = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            erase,
            json!({ "p": "eleve-zoe" }),
        )
        .await;
    assert_eq!(
        data(&again)["erasePerson"]["erasure"]["keysDestroyed"],
        json!(0)
    );
    assert_eq!(data(&again)["erasePerson"]["changed"], json!(false));
    assert!(
        data(&erased)["erasePerson"]["position"].is_i64(),
        "{erased}"
    );

    // The timetable's mutations answer the lessons as the command left them (its read
    // model follows later); an enrolment's, the student.
    let cancelled = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "mutation { cancelLesson(input: { course: \"atelier-sciences\", date: \"2026-12-16\", reason: \"sortie\" }) { changed replayed lesson { localId cancelled } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&cancelled)["cancelLesson"],
        json!({ "changed": true, "replayed": false, "lesson": { "localId": "atelier-sciences@2026-12-16", "cancelled": "sortie" } })
    );
    let ended = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "mutation { endCourse(input: { course: \"atelier-sciences\", lastDay: \"2026-12-16\" }) { changed lessons { localId } } }",
            json!({}),
        )
        .await;
    let kept = data(&ended)["endCourse"]["lessons"].as_array().unwrap();
    assert_eq!(
        kept.last().unwrap()["localId"],
        json!("atelier-sciences@2026-12-16"),
        "{ended}"
    );
    let rights = server
        .as_(
            "secretariat",
            ClaimedRole::Secretariat,
            "mutation { changeGuardianRights(input: { student: \"eleve-zoe\", guardian: \"resp-zoe\", rights: { see: true, justify: false, notified: false } }) { changed student { guardians { id mayJustify notified } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&rights)["changeGuardianRights"]["student"]["guardians"],
        json!([{ "id": "resp-zoe", "mayJustify": false, "notified": false }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_up_the_school_on_sqlite() {
    setting_up_the_school(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_up_the_school_on_postgres() {
    setting_up_the_school(BackendKind::Postgres).await;
}

/// Issue 17: a bearer token that is sent and not valid (expired, forged) answers 401 with
/// RFC 6750's `invalid_token`, whatever it asks, even fields that need no identity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_token_gets_nothing_at_all() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let expired = server
        .key
        .mint(
            "adjoint",
            std::slice::from_ref(&server.uai),
            &[ClaimedRole::Principal],
            chrono::Duration::hours(-1),
        )
        .unwrap();
    let forged = format!("{}x", server.token("adjoint", ClaimedRole::Principal));
    for (what, token) in [
        ("expired", expired),
        ("forged", forged),
        ("garbage", "abc".into()),
    ] {
        let answer = server
            .http
            .post(format!("{}/graphql", server.base))
            .bearer_auth(&token)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401, "{what}");
        let challenge = answer.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(challenge.contains("invalid_token"), "{what}: {challenge}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["data"], Value::Null, "{what}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
    // No token at all may still ask what needs no identity (the schema).
    let anonymous = server.post(None, &[], "{ __typename }", json!({})).await;
    assert_eq!(anonymous["data"]["__typename"], "Query", "{anonymous}");
}

/// Issue 17: whether a student id (an INE) exists is not told to whoever may not see the
/// establishment's students: the same refusal for an existing child not theirs and for
/// an id nobody has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guardian_cannot_probe_which_students_exist() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let guardian = guardian_of(&server, CHILD).await;
    let ask = |id: &'static str| {
        let server = &server;
        let guardian = guardian.clone();
        async move {
            server
                .as_(
                    &guardian,
                    ClaimedRole::Guardian,
                    "query($id: String!) { student(id: $id) { lastName } }",
                    json!({ "id": id }),
                )
                .await
        }
    };
    let other = ask("eleve00099").await;
    let nobody = ask("eleve99999").await;
    assert_eq!(code(&other).as_deref(), Some("FORBIDDEN"), "{other}");
    assert_eq!(code(&nobody).as_deref(), Some("FORBIDDEN"), "{nobody}");
    let message = |answer: &Value| {
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .replace("eleve00099", "ID")
            .replace("eleve99999", "ID")
    };
    assert_eq!(message(&other), message(&nobody));
    // Staff who see every student still learn that an id is unknown.
    let cpe = server
        .as_(
            "cpe1",
            ClaimedRole::Cpe,
            "{ student(id: \"eleve99999\") { lastName } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&cpe).as_deref(), Some("NOT_FOUND"), "{cpe}");
}

/// Answers are in French unless `Accept-Language` prefers English; a refusal by a school
/// rule carries its language-free rule code either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_speak_french_unless_english_is_asked() {
    let server = TestServer::start(BackendKind::Sqlite, 20).await;
    let english: &[(&str, &str)] = &[("accept-language", "en-GB,en;q=0.9,fr;q=0.5")];
    let message = |answer: &Value| answer["errors"][0]["message"].as_str().unwrap().to_string();

    // (a) A rule violation: a group drawn from a division the year does not have.
    let token = server.token("principal", ClaimedRole::Principal);
    const CREATE_GROUP: &str =
        "mutation($input: CreateGroupInput!) { createGroup(input: $input) { changed } }";
    let input = json!({ "input": {
        "year": "2026-2027", "id": "9X-G", "name": "?", "divisions": ["9X"]
    } });
    let french = server
        .post(Some(&token), &[], CREATE_GROUP, input.clone())
        .await;
    let in_english = server
        .post(Some(&token), english, CREATE_GROUP, input.clone())
        .await;
    for answer in [&french, &in_english] {
        assert_eq!(code(answer).as_deref(), Some("RULE_VIOLATION"), "{answer}");
        assert_eq!(
            answer["errors"][0]["extensions"]["rule"],
            json!("UNKNOWN_DIVISION"),
            "{answer}"
        );
    }
    assert_eq!(
        message(&french),
        "il n'y a pas de division 9X en 2026-2027",
        "{french}"
    );
    assert_eq!(
        message(&in_english),
        "there is no division 9X in 2026-2027",
        "{in_english}"
    );

    // (b) An unauthenticated request.
    let query = "{ student(id: \"eleve00001\") { lastName } }";
    let french = server.post(None, &[], query, json!({})).await;
    let in_english = server
        .post(None, &[("Accept-Language", "en")], query, json!({}))
        .await;
    let weighted = server
        .post(
            None,
            &[("Accept-Language", "de, en;q=0.8, fr;q=0.9")],
            query,
            json!({}),
        )
        .await;
    for answer in [&french, &in_english, &weighted] {
        assert_eq!(code(answer).as_deref(), Some("UNAUTHENTICATED"), "{answer}");
    }
    assert!(
        message(&french).starts_with("aucun jeton d'accès"),
        "{french}"
    );
    assert!(
        message(&in_english).starts_with("no bearer token"),
        "{in_english}"
    );
    assert_eq!(message(&weighted), message(&french), "{weighted}");
}

/// Issue 17: the auditor role is granted by the deployment's configuration, not by the
/// token alone: a token that claims it for someone not listed, or listed for other
/// establishments only, acts as nobody; the listed auditor reads and never writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auditor_role_is_granted_not_claimed() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let query = "{ student(id: \"eleve00001\") { lastName } }";
    for stranger in ["insp.inconnu", "insp.ailleurs"] {
        let answer = server
            .as_(stranger, ClaimedRole::Auditor, query, json!({}))
            .await;
        assert_eq!(code(&answer).as_deref(), Some("FORBIDDEN"), "{answer}");
        let message = answer["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("aucune des fonctions"), "{message}");
    }
    let auditor = server
        .as_("auditeur", ClaimedRole::Auditor, query, json!({}))
        .await;
    assert!(
        auditor["data"]["student"]["lastName"].is_string(),
        "{auditor}"
    );
}

/// Issue 17: a teacher reads the marks of the subjects they teach the student's class,
/// not the whole report card (every subject was answered before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teacher_reads_only_the_marks_of_their_subjects() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let (_, teacher, subject) = december_lesson(&server, "2026-12-01").await;
    let query = "query($id: String!) { student(id: $id) { reportCard(period: \"T1\") { overall subjects { subject } marks { subject } } } }";
    let card = |answer: &Value| data(answer)["student"]["reportCard"].clone();
    let head = card(
        &server
            .as_(
                "adjoint",
                ClaimedRole::Principal,
                query,
                json!({ "id": CHILD }),
            )
            .await,
    );
    let theirs = card(
        &server
            .as_(
                &teacher,
                ClaimedRole::Teacher,
                query,
                json!({ "id": CHILD }),
            )
            .await,
    );
    let subjects = |card: &Value, field: &str| -> std::collections::BTreeSet<String> {
        card[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["subject"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(subjects(&head, "subjects").len() > 1, "{head}");
    assert!(!head["overall"].is_null());
    let taught = subjects(&theirs, "subjects");
    assert!(taught.contains(&subject), "{theirs}");
    assert!(taught.len() < subjects(&head, "subjects").len(), "{theirs}");
    for s in subjects(&theirs, "marks") {
        assert!(taught.contains(&s), "a mark of {s}: {theirs}");
    }
    assert!(
        theirs["overall"].is_null(),
        "no overall average of a few subjects"
    );
}

/// Issue 17: one parent's request of a thousand aliased histories (each a fold of a
/// stream of the log) is refused before anything is read, and a request under the limit
/// reads each stream once however many aliases ask for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_cannot_exhaust_the_database_with_aliases() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let guardian = guardian_of(&server, CHILD).await;
    let aliased = |n: usize| {
        let fields: String = (0..n)
            .map(|i| {
                format!(
                    "a{i}: student(id: $child) {{ reportCard(period: \"T1\") {{ marks {{ history {{ at }} }} }} }} "
                )
            })
            .collect();
        format!("query($child: String!) {{ {fields} }}")
    };
    let started = std::time::Instant::now();
    let refused = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            &aliased(999),
            json!({ "child": CHILD }),
        )
        .await;
    assert_eq!(code(&refused).as_deref(), Some("TOO_COSTLY"), "{refused}");
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("4995 champs"), "{refused}");
    assert!(refused["data"].is_null(), "{refused}");
    // Refused by counting, not by validating or running: well within the timeout.
    assert!(started.elapsed() < Duration::from_secs(10));
    // Fewer aliases, each costing a history: over the complexity a request may have.
    let costly = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            &aliased(200),
            json!({ "child": CHILD }),
        )
        .await;
    let message = costly["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("too complex"), "{costly}");

    let allowed = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            &aliased(20),
            json!({ "child": CHILD }),
        )
        .await;
    let data = data(&allowed);
    assert_eq!(data["a0"], data["a19"], "every alias the same answer");
    assert!(
        !data["a0"]["reportCard"]["marks"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{allowed}"
    );
}

/// Issue 17: one identity sending as fast as it can is slowed down (429 with
/// `Retry-After`), and another person is still served at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_identity_cannot_take_the_servers_time() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let guardian = guardian_of(&server, CHILD).await;
    let token = server.token(&guardian, ClaimedRole::Guardian);
    let mut limited = None;
    for _ in 0..(carnet_api::limits::BURST * 3) {
        let answer = server
            .http
            .post(format!("{}/graphql", server.base))
            .bearer_auth(&token)
            .json(&json!({ "query": "{ me { person } }" }))
            .send()
            .await
            .unwrap();
        if answer.status() == 429 {
            limited = Some(answer);
            break;
        }
    }
    let limited = limited.expect("a burst past the quota is slowed down");
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    // Someone else is not slowed by it.
    let cpe = server
        .as_("cpe1", ClaimedRole::Cpe, "{ me { person } }", json!({}))
        .await;
    assert_eq!(data(&cpe)["me"]["person"], "cpe1");
}

/// Issue 17: a subscription needs a valid token at `connection_init`, and its connection
/// ends when that token expires (its rights were the token's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_need_a_token_and_end_with_it() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let url = format!("{}/graphql/ws", server.base.replace("http://", "ws://"));
    let connect = || async {
        let mut request = url.clone().into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        tokio_tungstenite::connect_async(request).await.unwrap().0
    };
    // Whether the connection closes within `within`.
    async fn closes(
        socket: &mut tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        within: Duration,
    ) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, socket.next()).await {
                Err(_) => return false,
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => {}
            }
        }
    }
    for payload in [json!({}), json!({ "Authorization": "Bearer forged" })] {
        let mut socket = connect().await;
        let init = json!({ "type": "connection_init", "payload": payload });
        socket.send(Message::text(init.to_string())).await.unwrap();
        assert!(
            closes(&mut socket, Duration::from_secs(5)).await,
            "{payload}: refused at init"
        );
    }
    let brief = server
        .key
        .mint(
            "cpe1",
            std::slice::from_ref(&server.uai),
            &[ClaimedRole::Cpe],
            chrono::Duration::seconds(3),
        )
        .unwrap();
    let mut socket = subscribe(
        &server,
        &brief,
        "subscription { attendanceAlerts { student } }",
    )
    .await;
    assert!(
        !closes(&mut socket, Duration::from_secs(1)).await,
        "open while the token is valid"
    );
    assert!(
        closes(&mut socket, Duration::from_secs(10)).await,
        "closed once the token expired"
    );
}
