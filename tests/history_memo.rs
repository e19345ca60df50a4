//! Security item 1: a request folds each stream of the log (each `asOf` instant of it)
//! at most once, however many aliased `history` fields, or items of a list, ask for it.
//!
//! The checks run the server's schema on its own database with a `RequestReads` of
//! their own, to read what the request folded; the timing goes over HTTP.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use carnet_api::auth::{Authenticator, ClaimedRole};
use carnet_api::reader::{Folds, RequestReads};
use carnet_api::schema::CarnetSchema;
use carnet_api::state::{AppState, Caller};
use carnet_store::BackendKind;
use serde_json::{json, Value};
use support::server::{data, TestServer};

const STUDENTS: usize = 100;
const CHILD: &str = "eleve00001";

/// The demo server, and the same schema over its database run directly.
struct Harness {
    server: TestServer,
    schema: CarnetSchema,
    auth: Authenticator,
}

impl Harness {
    async fn start() -> Harness {
        let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
        let state = Arc::new(AppState::new(
            server.store.clone(),
            Authenticator::new(Some(server.key.clone()), None),
        ));
        Harness {
            schema: carnet_api::schema::build(state),
            auth: Authenticator::new(Some(server.key.clone()), None),
            server,
        }
    }

    /// The answer to `query` as `person`, and what the request folded of each stream.
    async fn run(
        &self,
        person: &str,
        role: ClaimedRole,
        query: &str,
        variables: Value,
    ) -> (Value, BTreeMap<String, Folds>) {
        let token = self.server.token(person, role);
        let principal = self
            .auth
            .authenticate(Some(&format!("Bearer {token}")))
            .await
            .unwrap();
        let reads = Arc::new(RequestReads::default());
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables))
            .data(Caller::new(Ok(principal), None, None))
            .data(reads.clone());
        let answer = serde_json::to_value(self.schema.execute(request).await).unwrap();
        (answer, reads.folds())
    }
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

/// Every field of a mark's history.
const MARKS: &str = "evaluation class student history { at person role via commandId event position version before after }";

/// `n` aliases of the child's T1 report card with each mark's history (`asOf` if given),
/// asking `selection` of each mark.
fn aliased(n: usize, as_of: bool, selection: &str) -> String {
    let at = if as_of { ", asOf: $at" } else { "" };
    let fields: String = (0..n)
        .map(|i| {
            format!(
                "a{i}: student(id: $child{at}) {{ reportCard(period: \"T1\") {{ marks {{ {selection} }} }} }} "
            )
        })
        .collect();
    let var = if as_of { ", $at: DateTime" } else { "" };
    format!("query($child: String!{var}) {{ {fields} }}")
}

/// The marks of alias `a{i}` of an answer.
fn marks(answer: &Value, i: usize) -> &Vec<Value> {
    data(answer)[format!("a{i}")]["reportCard"]["marks"]
        .as_array()
        .unwrap()
}

/// The gradebook streams the marks come from, as `RequestReads::folds` names them.
fn gradebooks(marks: &[Value]) -> BTreeSet<String> {
    marks
        .iter()
        .map(|m| format!("gradebook/2026-2027/{}/T1", m["class"].as_str().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_aliased_histories_fold_each_stream_once() {
    let h = Harness::start().await;
    let guardian = guardian_of(&h.server, CHILD).await;
    let vars = json!({ "child": CHILD });
    let (one, one_folds) = h
        .run(
            &guardian,
            ClaimedRole::Guardian,
            &aliased(1, false, MARKS),
            vars.clone(),
        )
        .await;
    let (twenty, folds) = h
        .run(
            &guardian,
            ClaimedRole::Guardian,
            &aliased(20, false, MARKS),
            vars,
        )
        .await;

    let expected = marks(&one, 0);
    assert!(expected.len() > 5, "the child has marks: {one}");
    assert!(expected.iter().all(|m| !m["history"][0].is_null()), "{one}");
    for i in 0..20 {
        assert_eq!(
            marks(&twenty, i),
            expected,
            "alias a{i} answers as one does"
        );
    }
    // Every mark's history comes from one pass over its gradebook: not one per mark,
    // not one per alias; and nothing else is folded (no `asOf`: the values are the
    // read models').
    let streams: BTreeSet<String> = folds.keys().cloned().collect();
    assert_eq!(streams, gradebooks(expected), "{folds:?}");
    for (stream, f) in &folds {
        assert_eq!(
            *f,
            Folds {
                states: 0,
                histories: 1
            },
            "{stream}"
        );
    }
    assert_eq!(folds, one_folds, "twenty aliases fold what one does");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_aliases_fold_each_stream_and_instant_once() {
    let h = Harness::start().await;
    let guardian = guardian_of(&h.server, CHILD).await;
    // The demo was recorded just now: as of an instant after it, the answer is today's.
    let at = chrono::Utc::now();
    let vars = json!({ "child": CHILD, "at": at.to_rfc3339() });
    let (now, _) = h
        .run(
            &guardian,
            ClaimedRole::Guardian,
            &aliased(1, false, MARKS),
            json!({ "child": CHILD }),
        )
        .await;
    let (one, one_folds) = h
        .run(
            &guardian,
            ClaimedRole::Guardian,
            &aliased(1, true, MARKS),
            vars.clone(),
        )
        .await;
    let (twenty, folds) = h
        .run(
            &guardian,
            ClaimedRole::Guardian,
            &aliased(20, true, MARKS),
            vars,
        )
        .await;

    let expected = marks(&now, 0);
    assert_eq!(marks(&one, 0), expected, "as of now, the answer of now");
    for i in 0..20 {
        assert_eq!(marks(&twenty, i), expected, "alias a{i}");
    }
    let at = at.to_rfc3339();
    let name = |stream: &str| format!("{stream}@{at}");
    // The establishment (the year) and the student, each folded once for its value;
    // each gradebook once for its value and once for its marks' histories.
    assert_eq!(
        folds[&name(&format!("establishment/{}", h.server.uai))].states,
        1
    );
    assert_eq!(folds[&name(&format!("student/{CHILD}"))].states, 1);
    for book in gradebooks(expected) {
        assert_eq!(
            folds[&name(&book)],
            Folds {
                states: 1,
                histories: 1
            },
            "{book}: {folds:?}"
        );
    }
    for (stream, f) in &folds {
        assert!(f.states <= 1 && f.histories <= 1, "{stream}: {f:?}");
    }
    assert_eq!(folds, one_folds, "twenty aliases fold what one does");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_marks_of_a_gradebook_share_one_fold() {
    let h = Harness::start().await;
    let guardian = guardian_of(&h.server, CHILD).await;
    let (card, _) = h
        .run(
            &guardian,
            ClaimedRole::Guardian,
            &aliased(1, false, MARKS),
            json!({ "child": CHILD }),
        )
        .await;
    let child_marks = marks(&card, 0);
    let class = child_marks[0]["class"].as_str().unwrap().to_string();

    let (answer, folds) = h
        .run(
            "principal",
            ClaimedRole::Principal,
            "query($c: String!) { class(id: $c) { gradebook(period: \"T1\") { evaluations { id history { event } marks { evaluation student history { at person role via commandId event position version before after } } } } } }",
            json!({ "c": class }),
        )
        .await;
    let evaluations = data(&answer)["class"]["gradebook"]["evaluations"]
        .as_array()
        .unwrap();
    let all: Vec<&Value> = evaluations
        .iter()
        .flat_map(|e| e["marks"].as_array().unwrap())
        .collect();
    assert!(all.len() > 20, "a class's marks: {answer}");
    assert!(evaluations
        .iter()
        .all(|e| e["history"][0]["event"] == "EvaluationCreated"));
    // The evaluations' and every mark's histories: one pass over the gradebook.
    let book = format!("gradebook/2026-2027/{class}/T1");
    assert_eq!(
        folds,
        BTreeMap::from([(
            book,
            Folds {
                states: 0,
                histories: 1
            }
        )])
    );
    // Followed with all the others, a mark's history is the one it has alone.
    for mark in child_marks.iter().filter(|m| m["class"] == class.as_str()) {
        let found = all
            .iter()
            .find(|m| m["evaluation"] == mark["evaluation"] && m["student"] == CHILD)
            .unwrap();
        assert_eq!(found["history"], mark["history"]);
    }
}

/// The bench figure of the report: the 20-alias query over HTTP, timed (debug build).
/// `cargo test --test history_memo -- --ignored --nocapture twenty_aliases_timed`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a timing, not a check: run by hand"]
async fn twenty_aliases_timed() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let guardian = guardian_of(&server, CHILD).await;
    let token = server.token(&guardian, ClaimedRole::Guardian);
    // The demo was recorded just now: an instant after it sees all of it.
    let at = chrono::Utc::now().to_rfc3339();
    // The selection the figure before the change was taken with.
    let timed = "evaluation history { at person event before after }";
    for (name, query, vars) in [
        ("now", aliased(20, false, timed), json!({ "child": CHILD })),
        (
            "asOf",
            aliased(20, true, timed),
            json!({ "child": CHILD, "at": at }),
        ),
    ] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let answer: Value = server.post(Some(&token), &[], &query, vars.clone()).await;
            times.push(started.elapsed());
            data(&answer);
        }
        times.sort();
        println!(
            "20 aliases ({name}): median {:?} (min {:?}, max {:?})",
            times[2], times[0], times[4]
        );
    }
}
