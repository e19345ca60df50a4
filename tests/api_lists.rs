//! The establishment's setup as paged lists (divisions, groups, subjects, staff, rooms,
//! periods, the calendar), their keyed cursors, global ids and `node`, on both backends.
#![allow(clippy::unwrap_used)]

mod support;

use carnet_api::auth::ClaimedRole;
use carnet_store::BackendKind;
use serde_json::{json, Value};
use support::server::{code, data, TestServer};

const CHILD: &str = "eleve00001";

async fn principal(server: &TestServer, query: &str, variables: Value) -> Value {
    let answer = server
        .as_("principal", ClaimedRole::Principal, query, variables)
        .await;
    data(&answer).clone()
}

async fn guardian_of(server: &TestServer, student: &str) -> String {
    let d = principal(
        server,
        "query($id: String!) { student(id: $id) { guardians { id } } }",
        json!({ "id": student }),
    )
    .await;
    d["student"]["guardians"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Every node of a list, paged `size` at a time with `after`.
async fn all_pages(server: &TestServer, field: &str, selection: &str, size: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let query = format!(
            "query($after: String) {{ {field}(first: {size}, after: $after) {{ totalCount edges {{ cursor node {{ {selection} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        );
        let d = principal(server, &query, json!({ "after": after })).await;
        let page = &d[field];
        out.extend(
            page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone()),
        );
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            assert_eq!(page["totalCount"].as_u64().unwrap() as usize, out.len());
            return out;
        }
        after = Some(page["pageInfo"]["endCursor"].as_str().unwrap().to_string());
    }
}

async fn register_resource(server: &TestServer, id: &str) {
    // The mutation's input argument, whatever it is called.
    for form in ["input", "resource"] {
        let mutation = format!(
            "mutation {{ registerResource({form}: {{ id: \"{id}\", name: \"Salle {id}\", kind: ROOM, seats: 30 }}) {{ created }} }}"
        );
        let answer = server
            .as_("principal", ClaimedRole::Principal, &mutation, json!({}))
            .await;
        if answer.get("errors").is_none_or(Value::is_null) {
            return;
        }
    }
    panic!("could not register resource {id}");
}

async fn lists(kind: BackendKind) {
    let server = TestServer::start(kind, 30).await;

    // Divisions and groups, paged two at a time, are the whole list once each.
    let divisions = all_pages(
        &server,
        "divisions",
        "id localId name year isGroup level",
        2,
    )
    .await;
    assert!(divisions.len() >= 2, "{divisions:?}");
    assert!(divisions.iter().all(|d| d["isGroup"] == json!(false)));
    let ids: Vec<&str> = divisions
        .iter()
        .map(|d| d["localId"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted, "in order of id, each once");
    let groups = all_pages(&server, "groups", "localId isGroup divisions", 3).await;
    assert!(groups
        .iter()
        .all(|g| g["isGroup"] == json!(true) && !g["divisions"].as_array().unwrap().is_empty()));
    let classes = principal(&server, "{ classes(first: 100) { totalCount } }", json!({})).await;
    assert_eq!(
        classes["classes"]["totalCount"].as_u64().unwrap() as usize,
        divisions.len() + groups.len()
    );

    // `last`/`before` page backwards over the same keys.
    let back = principal(
        &server,
        "{ divisions(last: 2) { edges { node { localId } } pageInfo { hasPreviousPage startCursor } } }",
        json!({}),
    )
    .await;
    let tail: Vec<&str> = back["divisions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["localId"].as_str().unwrap())
        .collect();
    assert_eq!(tail, ids[ids.len() - 2..].to_vec());

    // Subjects: one naming everywhere, the establishment's code with its national code.
    let subjects = all_pages(&server, "subjects", "code label nationalCode", 5).await;
    assert!(!subjects.is_empty());
    let codes: Vec<&str> = subjects
        .iter()
        .map(|s| s["code"].as_str().unwrap())
        .collect();
    assert!(subjects.iter().all(|s| s["nationalCode"].is_string()));

    // Staff: teachers with their roles and services, whose subjects are those codes.
    let teachers = principal(
        &server,
        "{ staff(role: TEACHER, first: 100) { totalCount edges { node { id localId name roles services { year class subject { code label nationalCode } } } } } }",
        json!({}),
    )
    .await;
    let teachers = teachers["staff"]["edges"].as_array().unwrap();
    assert!(!teachers.is_empty());
    for t in teachers {
        assert!(
            t["node"]["roles"]
                .as_array()
                .unwrap()
                .contains(&json!("TEACHER")),
            "{t}"
        );
        for s in t["node"]["services"].as_array().unwrap() {
            let code = s["subject"]["code"].as_str().unwrap();
            assert!(codes.contains(&code), "{code} is a subject's code: {s}");
        }
    }
    let everyone = principal(&server, "{ staff { totalCount } }", json!({})).await;
    assert!(everyone["staff"]["totalCount"].as_u64().unwrap() as usize > teachers.len());
    // A teacher's services through `teacher` say the same subject codes.
    let teacher = teachers
        .iter()
        .find(|t| !t["node"]["services"].as_array().unwrap().is_empty())
        .unwrap()["node"]
        .clone();
    let local = teacher["localId"].as_str().unwrap();
    let through_teacher = principal(
        &server,
        "query($id: String!) { teacher(id: $id) { services { subject { code } } } }",
        json!({ "id": local }),
    )
    .await;
    let first_code = &through_teacher["teacher"]["services"][0]["subject"]["code"];
    assert!(
        codes.contains(&first_code.as_str().unwrap()),
        "{through_teacher}"
    );

    // A guardian lists their child's classes only, and no staff.
    let guardian = guardian_of(&server, CHILD).await;
    let placement = principal(
        &server,
        "query($id: String!) { student(id: $id) { placement(date: \"2026-11-23\") { division groups } } }",
        json!({ "id": CHILD }),
    )
    .await;
    let division = placement["student"]["placement"]["division"]
        .as_str()
        .unwrap()
        .to_string();
    let mine = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            "{ divisions { edges { node { localId name } } } }",
            json!({}),
        )
        .await;
    let mine: Vec<&str> = data(&mine)["divisions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["localId"].as_str().unwrap())
        .collect::<Vec<_>>()
        .into_iter()
        .map(|s| if s == division { "CHILD" } else { "OTHER" })
        .collect();
    assert_eq!(mine, vec!["CHILD"]);
    let roster = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            "{ divisions { edges { node { roster { totalCount } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&roster).as_deref(), Some("FORBIDDEN"), "{roster}");
    let staff = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            "{ staff { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&staff).as_deref(), Some("FORBIDDEN"), "{staff}");

    // Periods and the calendar of the year.
    let periods = principal(
        &server,
        "{ periods(year: \"2026-2027\") { totalCount edges { node { id label from to closed(class: \"DIVISION\") } } } }"
            .replace("DIVISION", &division)
            .as_str(),
        json!({}),
    )
    .await;
    let periods = periods["periods"]["edges"].as_array().unwrap();
    assert!(!periods.is_empty());
    let froms: Vec<&str> = periods
        .iter()
        .map(|p| p["node"]["from"].as_str().unwrap())
        .collect();
    let mut in_order = froms.clone();
    in_order.sort();
    assert_eq!(froms, in_order);
    let calendar = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            "{ calendar(year: \"2026-2027\") { year firstDay lastDay weekdays holidays { name from to } closures { name holidays } weeks { monday week } } }",
            json!({}),
        )
        .await;
    let calendar = &data(&calendar)["calendar"];
    assert_eq!(calendar["year"], json!("2026-2027"));
    let weeks = calendar["weeks"].as_array().unwrap();
    assert!(weeks.len() > 30, "{calendar}");
    assert_eq!(weeks[0]["week"], json!("A"));
    assert!(weeks.iter().any(|w| w["week"] == json!("B")));

    // Rooms and resources: keyed cursors stay right when a resource is registered
    // before the cursor between two pages: no duplicate, no gap.
    let before = all_pages(&server, "resources", "localId kind", 100).await;
    let rooms = principal(
        &server,
        "{ rooms(first: 100) { edges { node { kind } } } }",
        json!({}),
    )
    .await;
    assert!(rooms["rooms"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["node"]["kind"] == json!("ROOM")));
    if before.len() < 2 {
        register_resource(&server, "zz-salle-1").await;
        register_resource(&server, "zz-salle-2").await;
    }
    let before = all_pages(&server, "resources", "localId", 100).await;
    let page = "query($after: String) { resources(first: 1, after: $after) { totalCount edges { node { localId } } pageInfo { hasNextPage endCursor } } }";
    let first = principal(&server, page, json!({ "after": null })).await;
    let cursor = first["resources"]["pageInfo"]["endCursor"].clone();
    let mut seen = vec![first["resources"]["edges"][0]["node"]["localId"].clone()];
    register_resource(&server, "0-inserted-first").await;
    let mut after = cursor;
    loop {
        let next = principal(&server, page, json!({ "after": after })).await;
        let edges = next["resources"]["edges"].as_array().unwrap();
        seen.extend(edges.iter().map(|e| e["node"]["localId"].clone()));
        if !next["resources"]["pageInfo"]["hasNextPage"]
            .as_bool()
            .unwrap()
        {
            break;
        }
        after = next["resources"]["pageInfo"]["endCursor"].clone();
    }
    let expected: Vec<Value> = before.iter().map(|r| r["localId"].clone()).collect();
    assert_eq!(seen, expected, "no duplicate, no gap");
    let now = all_pages(&server, "resources", "localId", 100).await;
    assert_eq!(now[0]["localId"], json!("0-inserted-first"));
    assert_eq!(now.len(), before.len() + 1);

    // A forged cursor is refused, not read as an offset.
    let forged = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "{ divisions(after: \"***\") { totalCount } }",
            json!({}),
        )
        .await;
    assert!(forged["errors"][0]["message"].is_string(), "{forged}");
}

/// The global id of `local` of `t` in `uai`, as the API makes it.
fn global(t: &str, uai: &str, local: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{t}:{uai}:{local}"))
}

async fn nodes(kind: BackendKind) {
    let server = TestServer::start(kind, 30).await;
    let uai = support::server::UAI;
    let guardian = guardian_of(&server, CHILD).await;

    // A student's global id finds them again, through `node` and `student(id:)`.
    let d = principal(
        &server,
        "query($id: String!) { student(id: $id) { id localId placement(date: \"2026-11-23\") { division } timetable(from: \"2026-11-23\", to: \"2026-11-23\") { id localId week subject subjectInfo { code label } } } }",
        json!({ "id": CHILD }),
    )
    .await;
    let student = &d["student"];
    assert_eq!(student["localId"], json!(CHILD));
    let id = student["id"].as_str().unwrap().to_string();
    assert_eq!(id, global("Student", uai, CHILD));
    let lesson = student["timetable"][0].clone();
    // One subject naming: the lesson's subject is its `Subject`'s code; weeks are A or B.
    for l in student["timetable"].as_array().unwrap() {
        assert_eq!(l["subjectInfo"]["code"], l["subject"], "{l}");
        assert!(
            [json!("A"), json!("B"), Value::Null].contains(&l["week"]),
            "{l}"
        );
    }
    let division = student["placement"]["division"]
        .as_str()
        .unwrap()
        .to_string();
    let found = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            "query($id: ID!) { node(id: $id) { id ... on Student { localId } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data(&found)["node"], json!({ "id": id, "localId": CHILD }));
    let by_global = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            "query($id: String!) { student(id: $id) { localId } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data(&by_global)["student"]["localId"], json!(CHILD));

    // Another student: null with FORBIDDEN, as `student` answers; the rest still answers.
    let me = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            "{ me { children } }",
            json!({}),
        )
        .await;
    let children = data(&me)["me"]["children"].clone();
    let stranger = (2..30)
        .map(|n| format!("eleve{n:05}"))
        .find(|s| !children.as_array().unwrap().contains(&json!(s)))
        .unwrap();
    let other = global("Student", uai, &stranger);
    let answer = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            "query($a: ID!, $b: String!) { node(id: $a) { id } student(id: $b) { localId } me { person } }",
            json!({ "a": other, "b": stranger }),
        )
        .await;
    assert_eq!(answer["data"]["node"], Value::Null, "{answer}");
    assert_eq!(answer["data"]["student"], Value::Null, "{answer}");
    assert_eq!(answer["data"]["me"]["person"], json!(guardian), "{answer}");
    let codes: Vec<&str> = answer["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["extensions"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["FORBIDDEN", "FORBIDDEN"], "{answer}");

    // Forged, of another establishment, of another type: NOT_FOUND, never data.
    for forged in [
        "not-an-id".to_string(),
        global("Student", "0750656F", CHILD),
        global("Unknown", uai, CHILD),
    ] {
        let answer = server
            .as_(
                "principal",
                ClaimedRole::Principal,
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": forged }),
            )
            .await;
        assert_eq!(answer["data"]["node"], Value::Null, "{answer}");
        assert_eq!(code(&answer).as_deref(), Some("NOT_FOUND"), "{answer}");
    }
    let wrong_type = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "query($id: String!) { teacher(id: $id) { localId } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        code(&wrong_type).as_deref(),
        Some("NOT_FOUND"),
        "{wrong_type}"
    );

    // Class, lesson, teacher, staff, resource: each type through `nodes`, in order,
    // with a null for what the caller may not see.
    let class = global("Class", uai, &format!("2026-2027/{division}"));
    let teachers = principal(
        &server,
        "{ staff(role: TEACHER, first: 1) { edges { node { id localId teacher { id } } } } resources(first: 1) { edges { node { id localId } } } }",
        json!({}),
    )
    .await;
    let staff = teachers["staff"]["edges"][0]["node"].clone();
    let resource = teachers["resources"]["edges"][0]["node"].clone();
    let ids = json!([
        class,
        lesson["id"],
        staff["teacher"]["id"],
        staff["id"],
        resource["id"],
        other,
    ]);
    let all = principal(
        &server,
        "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Class { localId } ... on Lesson { localId } ... on Resource { localId } } }",
        json!({ "ids": ids }),
    )
    .await;
    let all = all["nodes"].as_array().unwrap();
    let types: Vec<&str> = all
        .iter()
        .map(|n| n["__typename"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["Class", "Lesson", "Teacher", "Staff", "Resource", "Student"]
    );
    assert_eq!(all[0]["localId"], json!(division));
    assert_eq!(all[1]["localId"], lesson["localId"]);
    assert_eq!(all[4]["localId"], resource["localId"]);
    for (node, id) in all.iter().zip(ids.as_array().unwrap()) {
        assert_eq!(&node["id"], id);
    }
    // The guardian: the child's class and lesson are not theirs to open by id.
    let theirs = server
        .as_(
            &guardian,
            ClaimedRole::Guardian,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [id, class, lesson["id"], staff["id"]] }),
        )
        .await;
    assert_eq!(
        theirs["data"]["nodes"],
        json!([{ "id": id }, null, null, null]),
        "{theirs}"
    );
    assert_eq!(theirs["errors"].as_array().unwrap().len(), 3, "{theirs}");
    // Lookups take the global ids too.
    let lookups = principal(
        &server,
        "query($c: String!, $l: String!, $r: String!) { class(id: $c) { localId year } lesson(id: $l) { localId } resource(id: $r) { localId } }",
        json!({ "c": class, "l": lesson["id"], "r": resource["id"] }),
    )
    .await;
    assert_eq!(lookups["class"]["localId"], json!(division));
    assert_eq!(lookups["lesson"]["localId"], lesson["localId"]);
    assert_eq!(lookups["resource"]["localId"], resource["localId"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_on_sqlite() {
    nodes(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_on_postgres() {
    nodes(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_on_sqlite() {
    lists(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_on_postgres() {
    lists(BackendKind::Postgres).await;
}

/// A client passes the ids it read (`Node.id`) straight to mutations: the lesson and the
/// student of a roll call by their global ids; another establishment's id is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_take_global_ids() {
    let server = TestServer::start(BackendKind::Sqlite, 20).await;
    let week = principal(
        &server,
        "query($id: String!) { student(id: $id) { id timetable(from: \"2026-12-01\", to: \"2026-12-01\") { id localId teachers cancelled } } }",
        json!({ "id": CHILD }),
    )
    .await;
    let student = &week["student"];
    let lesson = student["timetable"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["cancelled"].is_null())
        .unwrap()
        .clone();
    const RECORD: &str = "mutation($input: RecordAttendanceInput!) { recordAttendance(input: $input) { changed line { student status { kind } } } }";
    let recorded = server
        .as_(
        "cpe1",
        ClaimedRole::Cpe,
        RECORD,
        json!({ "input": { "lesson": lesson["id"], "student": student["id"], "status": { "kind": "ABSENT" } } }),
    )
    .await;
    let answer = &data(&recorded)["recordAttendance"];
    assert_eq!(answer["changed"], json!(true), "{recorded}");
    assert_eq!(answer["line"]["student"], json!(CHILD));
    assert_eq!(answer["line"]["status"]["kind"], json!("ABSENT"));

    let elsewhere = global("Student", "0750656K", CHILD);
    let refused = server
        .as_(
        "cpe1",
        ClaimedRole::Cpe,
        RECORD,
        json!({ "input": { "lesson": lesson["localId"], "student": elsewhere, "status": { "kind": "ABSENT" } } }),
    )
    .await;
    assert_eq!(code(&refused).as_deref(), Some("NOT_FOUND"), "{refused}");
}
