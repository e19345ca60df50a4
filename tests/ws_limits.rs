//! Issue 17, item 4: the GraphQL WebSocket (`/graphql/ws`) is held to the limits of an
//! HTTP request, and its operations to the rights the establishment's records give now.
//! Each test performs the attack on a real server (port 0, its own database) as a
//! graphql-transport-ws client would, and fails if the server lets it through.
//!
//! A few tests need a limit shorter than production's to see it work in seconds (a
//! deadline, the wait for `connection_init`, a stream-read budget): they run a second
//! server on the test server's store with those limits (see [`tuned`]).
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use carnet_api::auth::{Authenticator, ClaimedRole};
use carnet_api::limits::ServerLimits;
use carnet_api::state::AppState;
use carnet_domain::attendance::AttendancePolicy;
use carnet_domain::enrolment::{EstablishmentCommand, Service};
use carnet_store::{BackendKind, CommandContext, Pool, School};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use support::server::{data, TestServer};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const STUDENTS: usize = 100;
const CHILD: &str = "eleve00001";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const RECORD: &str = "mutation($lesson: String!, $student: String!) {
  recordAttendance(input: { lesson: $lesson, student: $student, status: { kind: ABSENT } }) { position }
}";

// --- A graphql-transport-ws client -------------------------------------------------

/// A WebSocket to `base`'s GraphQL endpoint, nothing sent yet.
async fn connect(base: &str) -> Socket {
    let url = format!("{}/graphql/ws", base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

async fn send_init(socket: &mut Socket, token: &str) {
    send(
        socket,
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }),
    )
    .await;
}

/// A connection acknowledged for `token`.
async fn open(base: &str, token: &str) -> Socket {
    let mut socket = connect(base).await;
    send_init(&mut socket, token).await;
    let ack = next(&mut socket, Duration::from_secs(10)).await;
    assert_eq!(ack.json()["type"], json!("connection_ack"), "{ack:?}");
    socket
}

async fn start(socket: &mut Socket, id: &str, query: &str, variables: Value) {
    send(
        socket,
        json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }),
    )
    .await;
}

/// What the server did next.
#[derive(Debug)]
enum Got {
    Json(Value),
    /// The connection closed: with the close frame's code and reason when one came.
    Closed(Option<(u16, String)>),
    Nothing,
}

impl Got {
    fn json(&self) -> &Value {
        match self {
            Got::Json(value) => value,
            other => panic!("a message was expected, got {other:?}"),
        }
    }
}

/// The next text message, the close, or nothing within `within`.
async fn next(socket: &mut Socket, within: Duration) -> Got {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, socket.next()).await {
            Err(_) => return Got::Nothing,
            Ok(Some(Ok(Message::Text(text)))) => {
                return Got::Json(serde_json::from_str(&text).unwrap())
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Got::Closed(frame.map(|f| (u16::from(f.code), f.reason.to_string())))
            }
            Ok(None | Some(Err(_))) => return Got::Closed(None),
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// The payload of the next `next` message of operation `id` within `within`, skipping
/// the other operations' messages; `None` if none came.
async fn answer_within(socket: &mut Socket, id: &str, within: Duration) -> Option<Value> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next(socket, left).await {
            Got::Json(m) if m["id"] == json!(id) && m["type"] == json!("next") => {
                return Some(m["payload"].clone())
            }
            Got::Json(_) => {}
            Got::Nothing => return None,
            Got::Closed(frame) => panic!("the connection closed while waiting for {id}: {frame:?}"),
        }
    }
}

async fn answer(socket: &mut Socket, id: &str) -> Value {
    answer_within(socket, id, Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no answer to {id} within 10 s"))
}

fn error_code(payload: &Value) -> Option<&str> {
    payload["errors"][0]["extensions"]["code"].as_str()
}

/// A query over `socket` as operation `id`, and its answer.
async fn ask(socket: &mut Socket, id: &str, query: &str, variables: Value) -> Value {
    start(socket, id, query, variables).await;
    answer(socket, id).await
}

// --- Servers and the school's data ---------------------------------------------------

/// A second server on `server`'s store and signing key, with `limits`; it stops when
/// dropped.
struct Tuned {
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn tuned(server: &TestServer, limits: ServerLimits) -> Tuned {
    let state = Arc::new(
        AppState::new(
            server.store.clone(),
            Authenticator::new(Some(server.key.clone()), None)
                .with_auditors(carnet_api::auth::Auditors::default().with("auditeur")),
        )
        .with_server_limits(limits),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(carnet_api::server::serve(state, listener, async move {
        let _ = stopped.await;
    }));
    Tuned { base, _stop: stop }
}

/// `CHILD`'s lessons of `day` that take place: (id, first teacher).
async fn lessons(server: &TestServer, day: &str) -> Vec<(String, String)> {
    let answer = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "query($id: String!, $d: Date!) { student(id: $id) { timetable(from: $d, to: $d) { localId teachers cancelled } } }",
            json!({ "id": CHILD, "d": day }),
        )
        .await;
    data(&answer)["student"]["timetable"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["cancelled"].is_null())
        .map(|l| {
            (
                l["localId"].as_str().unwrap().to_string(),
                l["teachers"][0].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `CHILD` recorded absent from `lesson` by the head (over HTTP, on the test server).
async fn absent(server: &TestServer, lesson: &str) {
    let answer = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            RECORD,
            json!({ "lesson": lesson, "student": CHILD }),
        )
        .await;
    data(&answer);
}

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

/// A command on the establishment's stream, as an import or the CLI records it.
async fn establishment_command(server: &TestServer, command: EstablishmentCommand) {
    let school = School::new(
        server.store.clone(),
        server.uai.clone(),
        AttendancePolicy::default(),
    );
    school
        .establishment
        .execute(
            &school.establishment_id(),
            command,
            &CommandContext::default(),
        )
        .await
        .unwrap();
}

/// The log held by another writer: a transaction of the test's own that keeps every
/// append of the server waiting until [`release`].
enum LogLock {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
}

async fn lock_the_log(server: &TestServer) -> LogLock {
    match server.store.backend().pool() {
        Pool::Postgres(pool) => {
            let mut tx = pool.begin().await.unwrap();
            // Appends move `tenants.next_position`: they wait for this lock.
            sqlx::query("LOCK TABLE tenants IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .unwrap();
            LogLock::Postgres(tx)
        }
        Pool::Sqlite(pool) => {
            let mut conn = pool.acquire().await.unwrap();
            // The one writer's lock: other writers wait (the store's busy timeout is 30 s).
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut *conn)
                .await
                .unwrap();
            LogLock::Sqlite(conn)
        }
    }
}

async fn release(lock: LogLock) {
    match lock {
        LogLock::Postgres(tx) => tx.rollback().await.unwrap(),
        LogLock::Sqlite(mut conn) => {
            sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
        }
    }
}

// --- 1. The limits of an HTTP request ------------------------------------------------

/// A thousand aliases of a history over the socket are refused by counting, before
/// validation (which compares them pairwise and would keep a core busy for long), as
/// over HTTP; the schema's depth and complexity limits hold there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_the_socket_is_counted_and_bounded_as_over_http() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let guardian = guardian_of(&server, CHILD).await;
    let mut socket = open(
        &server.base,
        &server.token(&guardian, ClaimedRole::Guardian),
    )
    .await;
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
    let started = Instant::now();
    let refused = ask(
        &mut socket,
        "aliases",
        &aliased(999),
        json!({ "child": CHILD }),
    )
    .await;
    assert_eq!(error_code(&refused), Some("TOO_COSTLY"), "{refused}");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("4995 champs"),
        "{refused}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused by counting"
    );
    // Naming a small operation of the document does not hide the large one beside it
    // (validation reads the whole document).
    let document = format!(
        "query Small {{ me {{ person }} }} query Big($child: String!) {{ ...F }} fragment F on Query {{ {} }}",
        (0..1500)
            .map(|i| format!("a{i}: student(id: $child) {{ id }} "))
            .collect::<String>()
    );
    send(
        &mut socket,
        json!({ "id": "named", "type": "subscribe", "payload": {
            "query": document, "operationName": "Small", "variables": { "child": CHILD } } }),
    )
    .await;
    let refused = answer(&mut socket, "named").await;
    assert_eq!(error_code(&refused), Some("TOO_COSTLY"), "{refused}");

    let costly = ask(
        &mut socket,
        "costly",
        &aliased(200),
        json!({ "child": CHILD }),
    )
    .await;
    assert!(
        costly["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("too complex"),
        "{costly}"
    );
    // Data fields nest at most 12 deep; the standard introspection query (GraphiQL's
    // Docs pane, codegen tools: `ofType` nine deep) is measured on its own scale.
    let too_deep = format!(
        "{{ {} name {} }}",
        "student(id: \"eleve00001\") { ".repeat(13),
        "} ".repeat(13)
    );
    let too_deep = too_deep.as_str();
    let deep = ask(&mut socket, "deep", too_deep, json!({})).await;
    assert!(
        deep["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("trop imbriquée"),
        "{deep}"
    );
    // And what is within the limits is answered.
    let allowed = ask(
        &mut socket,
        "allowed",
        &aliased(20),
        json!({ "child": CHILD }),
    )
    .await;
    assert!(allowed["errors"].is_null(), "{allowed}");
}

/// A message over the HTTP body limit closes the socket unanswered (1009, message too
/// big); one under it is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_body_limit_closes_the_socket() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let limit = carnet_api::server::MAX_BODY_BYTES;
    assert_eq!(ServerLimits::default().max_message_bytes, limit);
    let token = server.token("cpe1", ClaimedRole::Cpe);
    let mut socket = open(&server.base, &token).await;
    let padded = |bytes: usize| format!("{{ me {{ person }} }} #{}", "x".repeat(bytes));
    let fits = ask(&mut socket, "fits", &padded(limit / 2), json!({})).await;
    assert_eq!(fits["data"]["me"]["person"], json!("cpe1"), "{fits}");

    let message =
        json!({ "id": "huge", "type": "subscribe", "payload": { "query": padded(2 * limit) } });
    // The server stops reading mid-message: the send itself may fail.
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        socket.send(Message::text(message.to_string())),
    )
    .await;
    loop {
        match next(&mut socket, Duration::from_secs(10)).await {
            // The end of the first query.
            Got::Json(m) if m["type"] == json!("complete") && m["id"] == json!("fits") => {}
            Got::Closed(Some((code, reason))) => {
                assert_eq!(code, 1009, "{reason}");
                assert!(reason.contains(&limit.to_string()), "{reason}");
                break;
            }
            // The connection reset before the close frame could be read: closed all the
            // same.
            Got::Closed(None) => break,
            other => panic!("a message over the limit must close the socket, got {other:?}"),
        }
    }
}

/// A query or mutation over the socket stops at the deadline of an HTTP request: a
/// mutation kept waiting for the log is answered TIMEOUT at the deadline, not whenever
/// the log frees up (the socket has no request timeout of its own).
async fn operations_have_a_deadline(kind: BackendKind) {
    let server = TestServer::start(kind, STUDENTS).await;
    assert_eq!(
        ServerLimits::default().operation_deadline,
        carnet_api::server::REQUEST_TIMEOUT
    );
    let deadline = Duration::from_secs(1);
    let short = tuned(
        &server,
        ServerLimits {
            operation_deadline: deadline,
            ..ServerLimits::default()
        },
    )
    .await;
    let (lesson, _) = lessons(&server, "2026-12-01").await.remove(0);
    let mut socket = open(&short.base, &server.token("cpe1", ClaimedRole::Cpe)).await;

    let lock = lock_the_log(&server).await;
    let sent = Instant::now();
    start(
        &mut socket,
        "record",
        RECORD,
        json!({ "lesson": lesson, "student": CHILD }),
    )
    .await;
    let answered = answer_within(&mut socket, "record", Duration::from_secs(8)).await;
    let waited = sent.elapsed();
    release(lock).await;
    let answered = answered.expect("the mutation is answered at its deadline");
    assert_eq!(error_code(&answered), Some("TIMEOUT"), "{answered}");
    assert!(waited >= deadline, "{waited:?}");
    // The socket serves on.
    let me = ask(&mut socket, "me", "{ me { person } }", json!({})).await;
    assert_eq!(me["data"]["me"]["person"], json!("cpe1"), "{me}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_have_a_deadline_on_sqlite() {
    operations_have_a_deadline(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_have_a_deadline_on_postgres() {
    operations_have_a_deadline(BackendKind::Postgres).await;
}

/// Each query over the socket has the stream-read budget of an HTTP request, its own:
/// not unbounded, and not one budget for the whole connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_operation_has_its_own_stream_read_budget() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let small = tuned(
        &server,
        ServerLimits {
            stream_reads: 2,
            ..ServerLimits::default()
        },
    )
    .await;
    let histories = |students: &[&str]| {
        let fields: String = students
            .iter()
            .enumerate()
            .map(|(i, s)| format!("s{i}: student(id: \"{s}\") {{ history {{ at }} }} "))
            .collect();
        format!("{{ {fields} }}")
    };
    let mut socket = open(
        &small.base,
        &server.token("principal", ClaimedRole::Principal),
    )
    .await;
    let over = ask(
        &mut socket,
        "three",
        &histories(&["eleve00001", "eleve00002", "eleve00003"]),
        json!({}),
    )
    .await;
    assert_eq!(error_code(&over), Some("TOO_COSTLY"), "{over}");
    // Two at a time, again and again: each operation starts with a whole budget.
    for (n, pair) in [["eleve00004", "eleve00005"], ["eleve00006", "eleve00007"]]
        .iter()
        .enumerate()
    {
        let within = ask(
            &mut socket,
            &format!("pair{n}"),
            &histories(pair),
            json!({}),
        )
        .await;
        assert!(within["errors"].is_null(), "{within}");
        assert!(within["data"]["s1"]["history"].is_array(), "{within}");
    }
}

// --- 2. What one socket and one identity may hold ------------------------------------

/// A socket that never sends `connection_init` is closed (4408) once the wait for it
/// is over; one that did is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_without_connection_init_is_closed() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    assert_eq!(
        ServerLimits::default().init_timeout,
        Duration::from_secs(10)
    );
    let wait = Duration::from_secs(1);
    let short = tuned(
        &server,
        ServerLimits {
            init_timeout: wait,
            ..ServerLimits::default()
        },
    )
    .await;
    let mut silent = connect(&short.base).await;
    let mut talking = open(&short.base, &server.token("cpe1", ClaimedRole::Cpe)).await;
    match next(&mut silent, Duration::from_secs(5)).await {
        Got::Closed(Some((code, _))) => assert_eq!(code, 4408),
        other => panic!("a silent socket must be closed, got {other:?}"),
    }
    // Well past the wait, the socket that said who it is still serves.
    let me = ask(&mut talking, "me", "{ me { person } }", json!({})).await;
    assert_eq!(me["data"]["me"]["person"], json!("cpe1"), "{me}");
}

/// One identity holds at most 8 sockets: the 9th is refused at `connection_init` with
/// why; another person is not concerned, and a socket closed gives its place back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_identity_holds_a_bounded_number_of_sockets() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let max = carnet_api::limits::CONNECTIONS_PER_IDENTITY;
    assert_eq!(max, 8);
    let guardian = guardian_of(&server, CHILD).await;
    let token = server.token(&guardian, ClaimedRole::Guardian);
    let mut held = Vec::new();
    for _ in 0..max {
        held.push(open(&server.base, &token).await);
    }
    let mut extra = connect(&server.base).await;
    send_init(&mut extra, &token).await;
    match next(&mut extra, Duration::from_secs(5)).await {
        Got::Closed(Some((code, reason))) => {
            assert_eq!(code, 4403, "{reason}");
            assert!(reason.contains("trop de connexions"), "{reason}");
            assert!(reason.contains(&max.to_string()), "{reason}");
        }
        other => panic!("the socket past the limit must be refused, got {other:?}"),
    }
    // Another person connects.
    open(&server.base, &server.token("cpe1", ClaimedRole::Cpe)).await;
    // A socket closed gives its place back.
    let mut first = held.remove(0);
    first.close(None).await.unwrap();
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = connect(&server.base).await;
        send_init(&mut again, &token).await;
        match next(&mut again, Duration::from_secs(5)).await {
            Got::Json(ack) if ack["type"] == json!("connection_ack") => break,
            other => assert!(
                Instant::now() < deadline,
                "a closed socket's place was not given back: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One socket holds at most 16 subscriptions: the 17th is refused (LIMIT_REACHED), a
/// query is still answered, and a subscription ended makes room for another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_socket_holds_a_bounded_number_of_subscriptions() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let max = carnet_api::limits::SUBSCRIPTIONS_PER_CONNECTION;
    assert_eq!(max, 16);
    let mut socket = open(&server.base, &server.token("cpe1", ClaimedRole::Cpe)).await;
    let absences = "subscription { absences { lesson } }";
    for n in 0..max {
        start(&mut socket, &format!("s{n}"), absences, json!({})).await;
    }
    start(&mut socket, "over", absences, json!({})).await;
    let refused = answer(&mut socket, "over").await;
    assert_eq!(error_code(&refused), Some("LIMIT_REACHED"), "{refused}");
    let me = ask(&mut socket, "me", "{ me { person } }", json!({})).await;
    assert_eq!(me["data"]["me"]["person"], json!("cpe1"), "{me}");

    // One ended: another may start, and hears of the next absence.
    send(&mut socket, json!({ "id": "s0", "type": "complete" })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    start(&mut socket, "room", absences, json!({})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (lesson, _) = lessons(&server, "2026-12-01").await.remove(0);
    absent(&server, &lesson).await;
    let heard = answer(&mut socket, "room").await;
    assert_eq!(
        heard["data"]["absences"]["lesson"],
        json!(lesson),
        "{heard}"
    );
}

/// The pace of one identity holds over the socket as over HTTP: a burst of queries on
/// one connection is slowed down (RATE_LIMITED, with when to come back), and another
/// person is still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pace_of_one_identity_holds_over_the_socket() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let guardian = guardian_of(&server, CHILD).await;
    let mut socket = open(
        &server.base,
        &server.token(&guardian, ClaimedRole::Guardian),
    )
    .await;
    // Sent at once, as a script would: twice the burst an identity may send.
    let sent = carnet_api::limits::BURST * 2;
    for n in 0..sent {
        start(
            &mut socket,
            &format!("q{n}"),
            "{ me { person } }",
            json!({}),
        )
        .await;
    }
    let (mut served, mut limited) = (0, Vec::new());
    while served + limited.len() < sent as usize {
        let got = next(&mut socket, Duration::from_secs(10)).await;
        let message = got.json();
        if message["type"] != json!("next") {
            continue;
        }
        match error_code(&message["payload"]) {
            None => served += 1,
            Some("RATE_LIMITED") => limited.push(message["payload"].clone()),
            Some(other) => panic!("{other}: {message}"),
        }
    }
    assert!(
        !limited.is_empty(),
        "a burst past the quota over the socket is slowed down"
    );
    assert!(served >= 1, "the quota itself is served");
    assert!(
        limited[0]["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .is_some_and(|s| s >= 1),
        "{}",
        limited[0]
    );
    let cpe = server
        .as_("cpe1", ClaimedRole::Cpe, "{ me { person } }", json!({}))
        .await;
    assert_eq!(data(&cpe)["me"]["person"], "cpe1");
}

// --- 3. Rights as the records stand now ----------------------------------------------

/// Whether `socket` delivers an absence within `within` (a `next` with data); a
/// subscription ended with an error is not one.
async fn hears_an_absence(socket: &mut Socket, id: &str, within: Duration) -> Option<Value> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next(socket, left).await {
            Got::Json(m)
                if m["id"] == json!(id)
                    && m["type"] == json!("next")
                    && !m["payload"]["data"]["absences"].is_null() =>
            {
                return Some(m)
            }
            Got::Json(_) => {}
            Got::Nothing | Got::Closed(_) => return None,
        }
    }
}

/// A guardian whose links to their children end while subscribed hears no more of
/// the child's absences, and cannot subscribe again on the same connection.
async fn an_unlinked_guardian_hears_no_more(kind: BackendKind) {
    let server = TestServer::start(kind, STUDENTS).await;
    let guardian = guardian_of(&server, CHILD).await;
    let mut parent = open(
        &server.base,
        &server.token(&guardian, ClaimedRole::Guardian),
    )
    .await;
    let absences = "subscription { absences { student lesson } }";
    start(&mut parent, "a", absences, json!({})).await;
    // Vie scolaire's subscription: once it has heard an absence, the guardian's would
    // have too.
    let mut cpe = open(&server.base, &server.token("cpe1", ClaimedRole::Cpe)).await;
    start(&mut cpe, "c", absences, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (before, _) = lessons(&server, "2026-12-01").await.remove(0);
    absent(&server, &before).await;
    let heard = hears_an_absence(&mut parent, "a", Duration::from_secs(10))
        .await
        .expect("the guardian hears of the absence while linked");
    assert_eq!(
        heard["payload"]["data"]["absences"]["lesson"],
        json!(before)
    );
    assert!(hears_an_absence(&mut cpe, "c", Duration::from_secs(10))
        .await
        .is_some());

    // The secretariat ends every link of this guardian.
    let children = carnet_projections::enrolment::guardian_children(
        &server.store.backend().pool(),
        &server.uai,
        &guardian,
    )
    .await
    .unwrap()
    .children;
    assert!(children.contains_key(CHILD));
    for child in children.keys() {
        let answer = server
            .as_(
                "secretariat",
                ClaimedRole::Secretariat,
                "mutation($s: String!, $g: String!) { unlinkGuardian(input: { student: $s, guardian: $g }) { position } }",
                json!({ "s": child, "g": guardian }),
            )
            .await;
        data(&answer);
    }

    let (after, _) = lessons(&server, "2026-12-02").await.remove(0);
    absent(&server, &after).await;
    let told = hears_an_absence(&mut cpe, "c", Duration::from_secs(10))
        .await
        .expect("vie scolaire hears of the absence");
    assert_eq!(told["payload"]["data"]["absences"]["lesson"], json!(after));
    let leaked = hears_an_absence(&mut parent, "a", Duration::from_secs(2)).await;
    assert!(
        leaked.is_none(),
        "an unlinked guardian was told: {leaked:?}"
    );

    // A new subscription on the same connection is refused: rights are today's.
    start(&mut parent, "again", absences, json!({})).await;
    let refused = answer(&mut parent, "again").await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlinked_guardian_hears_no_more_on_sqlite() {
    an_unlinked_guardian_hears_no_more(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlinked_guardian_hears_no_more_on_postgres() {
    an_unlinked_guardian_hears_no_more(BackendKind::Postgres).await;
}

/// A CPE who has left the establishment (their last day recorded) hears no more of its
/// absences on a subscription opened while in post.
async fn a_cpe_who_left_hears_no_more(kind: BackendKind) {
    let server = TestServer::start(kind, STUDENTS).await;
    let absences = "subscription { absences { student lesson } }";
    let mut leaving = open(&server.base, &server.token("cpe1", ClaimedRole::Cpe)).await;
    start(&mut leaving, "l", absences, json!({})).await;
    let mut head = open(
        &server.base,
        &server.token("adjoint", ClaimedRole::Principal),
    )
    .await;
    start(&mut head, "h", absences, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (before, _) = lessons(&server, "2026-12-01").await.remove(0);
    absent(&server, &before).await;
    assert!(
        hears_an_absence(&mut leaving, "l", Duration::from_secs(10))
            .await
            .is_some(),
        "the CPE hears of absences while in post"
    );
    assert!(hears_an_absence(&mut head, "h", Duration::from_secs(10))
        .await
        .is_some());

    let yesterday = chrono::Utc::now().date_naive() - chrono::Days::new(1);
    establishment_command(
        &server,
        EstablishmentCommand::StaffMemberLeaves {
            person: "cpe1".into(),
            last_day: yesterday,
        },
    )
    .await;

    let (after, _) = lessons(&server, "2026-12-02").await.remove(0);
    absent(&server, &after).await;
    assert!(hears_an_absence(&mut head, "h", Duration::from_secs(10))
        .await
        .is_some());
    let leaked = hears_an_absence(&mut leaving, "l", Duration::from_secs(2)).await;
    assert!(leaked.is_none(), "a CPE who left was told: {leaked:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpe_who_left_hears_no_more_on_sqlite() {
    a_cpe_who_left_hears_no_more(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpe_who_left_hears_no_more_on_postgres() {
    a_cpe_who_left_hears_no_more(BackendKind::Postgres).await;
}

/// A teacher whose services end reads their former student no more, even over the
/// connection opened while they taught them.
async fn a_teacher_whose_services_ended_reads_no_more(kind: BackendKind) {
    let server = TestServer::start(kind, STUDENTS).await;
    let (_, teacher) = lessons(&server, "2026-12-01").await.remove(0);
    let mut socket = open(&server.base, &server.token(&teacher, ClaimedRole::Teacher)).await;
    let record = "query($id: String!) { student(id: $id) { localId firstName } }";
    let before = ask(&mut socket, "before", record, json!({ "id": CHILD })).await;
    assert_eq!(
        before["data"]["student"]["localId"],
        json!(CHILD),
        "{before}"
    );

    let services = carnet_projections::enrolment::teacher_services(
        &server.store.backend().pool(),
        &server.uai,
        &teacher,
    )
    .await
    .unwrap()
    .services;
    assert!(!services.is_empty());
    for (year, subject, class) in services {
        establishment_command(
            &server,
            EstablishmentCommand::RemoveService {
                year,
                service: Service {
                    teacher: teacher.clone(),
                    subject,
                    class,
                },
            },
        )
        .await;
    }

    let after = ask(&mut socket, "after", record, json!({ "id": CHILD })).await;
    assert_eq!(error_code(&after), Some("FORBIDDEN"), "{after}");
    assert!(after["data"]["student"].is_null(), "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teacher_whose_services_ended_reads_no_more_on_sqlite() {
    a_teacher_whose_services_ended_reads_no_more(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teacher_whose_services_ended_reads_no_more_on_postgres() {
    a_teacher_whose_services_ended_reads_no_more(BackendKind::Postgres).await;
}
