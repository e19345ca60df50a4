//! Who may see and do what: every role against every query and mutation family, each
//! allowed or refused as the table says, on a real server. Refused is FORBIDDEN; allowed
//! is anything else (a school rule may still refuse the command itself).
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;

use carnet_api::auth::ClaimedRole;
use carnet_domain::Uai;
use carnet_store::BackendKind;
use serde_json::{json, Value};
use support::server::{code, data, TestServer};

const CHILD: &str = "eleve00001";

struct Fixture {
    division: String,
    group: String,
    other_student: String,
    past_lesson: String,
    december_lesson: String,
    course: String,
    teacher_in: String,
    teacher_out: String,
    subject: String,
    resource: String,
    guardian: String,
}

async fn principal(server: &TestServer, query: &str, variables: Value) -> Value {
    let answer = server
        .as_("principal", ClaimedRole::Principal, query, variables)
        .await;
    data(&answer).clone()
}

async fn week_lessons(server: &TestServer, class: &str, from: &str, to: &str) -> Vec<Value> {
    let d = principal(
        server,
        "query($c: String!, $f: Date!, $t: Date!) { class(id: $c) { timetable(from: $f, to: $t) { localId course teachers subject cancelled } } }",
        json!({ "c": class, "f": from, "t": to }),
    )
    .await;
    d["class"]["timetable"].as_array().unwrap().clone()
}

async fn fixture(server: &TestServer) -> Fixture {
    let child = principal(server, "query($id: String!) { student(id: $id) { placement { division groups } guardians { id } } }", json!({ "id": CHILD })).await;
    let division = child["student"]["placement"]["division"]
        .as_str()
        .unwrap()
        .to_string();
    let child_groups: Vec<String> = child["student"]["placement"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap().to_string())
        .collect();
    let group = child_groups[0].clone();
    let guardian = child["student"]["guardians"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let teachers = |lessons: &[Value]| -> Vec<String> {
        let mut out: Vec<String> = lessons
            .iter()
            .flat_map(|l| {
                l["teachers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out.dedup();
        out
    };
    let past = week_lessons(server, &division, "2026-11-23", "2026-11-27").await;
    let lesson = past.iter().find(|l| l["cancelled"].is_null()).unwrap();
    let teacher_in = lesson["teachers"][0].as_str().unwrap().to_string();
    let december = week_lessons(server, &division, "2026-12-07", "2026-12-11").await;
    let december_lesson = december
        .iter()
        .find(|l| l["teachers"][0] == json!(teacher_in) && l["cancelled"].is_null())
        .unwrap()["localId"]
        .as_str()
        .unwrap()
        .to_string();
    // A teacher, and one of their students, that the first teacher does not teach.
    let classes_of = |answer: &Value| -> BTreeSet<String> {
        data(answer)["me"]["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["class"].as_str().unwrap().to_string())
            .collect()
    };
    let me = "{ me { services { class } } }";
    let ours = classes_of(
        &server
            .as_(&teacher_in, ClaimedRole::Teacher, me, json!({}))
            .await,
    );
    let mut found = None;
    for other_division in ["3e1", "4e1", "5e1"] {
        for teacher in
            teachers(&week_lessons(server, other_division, "2026-11-23", "2026-11-27").await)
        {
            let theirs = classes_of(
                &server
                    .as_(&teacher, ClaimedRole::Teacher, me, json!({}))
                    .await,
            );
            if theirs.contains(&division) || child_groups.iter().any(|g| theirs.contains(g)) {
                continue;
            }
            for class in theirs.difference(&ours) {
                let roster = principal(server, "query($c: String!) { class(id: $c) { roster(first: 50) { edges { node { localId placement { division groups } } } } } }", json!({ "c": class })).await;
                for edge in roster["class"]["roster"]["edges"].as_array().unwrap() {
                    let p = &edge["node"]["placement"];
                    let mut in_classes = vec![p["division"].as_str().unwrap().to_string()];
                    in_classes.extend(
                        p["groups"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|g| g.as_str().unwrap().to_string()),
                    );
                    if in_classes.iter().all(|c| !ours.contains(c)) && found.is_none() {
                        found = Some((
                            teacher.clone(),
                            edge["node"]["localId"].as_str().unwrap().to_string(),
                        ));
                    }
                }
            }
        }
    }
    let (teacher_out, other_student) =
        found.expect("a teacher and a student the first teacher does not teach");
    let resources = principal(
        server,
        "{ resources(first: 1) { edges { node { localId } } } }",
        json!({}),
    )
    .await;
    Fixture {
        division,
        group,
        other_student,
        past_lesson: lesson["localId"].as_str().unwrap().to_string(),
        december_lesson,
        course: lesson["course"].as_str().unwrap().to_string(),
        teacher_in,
        teacher_out,
        subject: lesson["subject"].as_str().unwrap().to_string(),
        resource: resources["resources"]["edges"][0]["node"]["localId"]
            .as_str()
            .unwrap()
            .to_string(),
        guardian,
    }
}

/// The SIECLE fixture of the importers' tests, as an upload.
fn siecle_base64() -> String {
    use base64::Engine as _;
    let file = include_str!("../importers/tests/fixtures/ElevesSansAdresses.xml");
    base64::engine::general_purpose::STANDARD.encode(file)
}

/// The operations: (name, query, variables).
fn operations(f: &Fixture) -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("read the child", "query($s: String!) { student(id: $s) { id absences { totalCount } reportCard { overall } } }", json!({ "s": CHILD })),
        ("read another student", "query($s: String!) { student(id: $s) { id } }", json!({ "s": f.other_student })),
        ("read the division", "query($c: String!) { class(id: $c) { roster { totalCount } gradebook { closed } } }", json!({ "c": f.division })),
        ("read a teacher's week", "query($t: String!) { teacher(id: $t) { week(date: \"2026-11-23\") { id } } }", json!({ "t": f.teacher_in })),
        ("read a register", "query($l: String!) { lesson(id: $l) { register { student } } }", json!({ "l": f.past_lesson })),
        ("read resources", "{ resources { totalCount } }", json!({})),
        ("read alerts", "{ attendanceAlerts { totalCount } }", json!({})),
        ("take a roll call", "mutation($l: String!, $s: String!) { recordAttendance(input: { lesson: $l, student: $s, status: { kind: PRESENT } }) { changed } }", json!({ "l": f.december_lesson, "s": CHILD })),
        ("justify an absence", "mutation($s: String!) { declareJustification(input: { student: $s, from: \"2026-12-14\", to: \"2026-12-14\", reason: \"MAL\" }) { changed } }", json!({ "s": CHILD })),
        ("decide a justification", "mutation($s: String!) { decideJustification(input: { student: $s, justification: \"none\", accept: true }) { changed } }", json!({ "s": CHILD })),
        ("create an evaluation", "mutation($c: String!, $sub: String!) { createEvaluation(input: { class: $c, subject: $sub, title: \"Contrôle\", date: \"2026-11-30\" }) { changed } }", json!({ "c": f.division, "sub": f.subject })),
        ("close a period", "mutation($c: String!) { closePeriod(input: { class: $c, period: \"T3\" }) { changed } }", json!({ "c": f.division })),
        ("book a resource", "mutation($r: String!) { book(input: { resource: $r, start: \"2026-12-15T10:00:00\", end: \"2026-12-15T11:00:00\" }) { changed } }", json!({ "r": f.resource })),
        ("change enrolment", "mutation($s: String!, $g: String!) { joinGroup(input: { student: $s, group: $g, on: \"2026-12-01\" }) { changed } }", json!({ "s": CHILD, "g": f.group })),
        ("change the timetable", "mutation($c: String!) { cancelLesson(input: { course: $c, date: \"2026-12-21\", reason: \"sortie\" }) { changed } }", json!({ "c": f.course })),
        ("admit a student", "mutation($d: String!) { admitStudent(input: { student: \"eleve-nouveau\", ine: \"123456789AB\", lastName: \"Dupont\", firstName: \"Œdipe\", birthDate: \"2013-01-01\", division: $d, on: \"2026-12-01\" }) { changed } }", json!({ "d": f.division })),
        ("register a resource", "mutation { registerResource(input: { name: \"Vidéoprojecteur\", kind: ITEM }) { changed } }", json!({})),
        ("import a file (dry run)", "mutation($f: String!) { importFile(input: { format: \"siecle\", fileName: \"ElevesSansAdresses.xml\", contentBase64: $f, dryRun: true }) { events } }", json!({ "f": siecle_base64() })),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_against_every_query_and_mutation_family() {
    // Enough divisions that teachers of one subject share them out.
    let server = TestServer::start(BackendKind::Sqlite, 300).await;
    let f = fixture(&server).await;
    let ops = operations(&f);
    // One row per role: the operations it may do, in the order of `operations`.
    //                  read:   child other div  week reg  res  alert | write: roll just decide eval close book enrol tt admit resource import
    let table: Vec<(&str, String, ClaimedRole, [bool; 18])> = vec![
        (
            "guardian",
            f.guardian.clone(),
            ClaimedRole::Guardian,
            [
                true, false, false, false, false, false, false, false, true, false, false, false,
                false, false, false, false, false, false,
            ],
        ),
        (
            "student",
            CHILD.into(),
            ClaimedRole::Student,
            [
                true, false, false, false, false, false, false, false, false, false, false, false,
                false, false, false, false, false, false,
            ],
        ),
        (
            "teacher of the division",
            f.teacher_in.clone(),
            ClaimedRole::Teacher,
            [
                true, false, true, true, true, true, false, true, false, false, true, false, true,
                false, false, false, false, false,
            ],
        ),
        (
            "teacher of another division",
            f.teacher_out.clone(),
            ClaimedRole::Teacher,
            [
                false, true, false, false, false, true, false, false, false, false, false, false,
                true, false, false, false, false, false,
            ],
        ),
        (
            "cpe",
            "cpe1".into(),
            ClaimedRole::Cpe,
            [
                true, true, true, true, true, true, true, true, true, true, false, false, true,
                false, false, false, false, false,
            ],
        ),
        (
            "aed",
            "aed1".into(),
            ClaimedRole::Aed,
            [
                true, true, true, true, true, true, true, true, true, false, false, false, true,
                false, false, false, false, false,
            ],
        ),
        (
            "secretariat",
            "secretariat".into(),
            ClaimedRole::Secretariat,
            [
                true, true, true, true, true, true, false, false, false, false, false, false, true,
                true, false, true, false, true,
            ],
        ),
        (
            "principal",
            "principal".into(),
            ClaimedRole::Principal,
            [
                true, true, true, true, true, true, true, true, true, true, false, true, true,
                true, true, true, true, true,
            ],
        ),
        (
            "auditor",
            "auditeur".into(),
            ClaimedRole::Auditor,
            [
                true, true, true, true, true, true, true, false, false, false, false, false, false,
                false, false, false, false, false,
            ],
        ),
    ];
    let mut wrong = Vec::new();
    for (label, person, role, allowed) in &table {
        let token = server.token(person, *role);
        for ((name, query, variables), allowed) in ops.iter().zip(allowed) {
            let answer = server
                .post(Some(&token), &[], query, variables.clone())
                .await;
            let refused = code(&answer).as_deref() == Some("FORBIDDEN");
            let unauthenticated = code(&answer).as_deref() == Some("UNAUTHENTICATED");
            if refused == *allowed || unauthenticated {
                wrong.push(format!(
                    "{label} ({person}) {name}: expected {}, got {answer}",
                    if *allowed { "allowed" } else { "FORBIDDEN" }
                ));
            }
        }
    }
    // Another establishment's principal reaches nothing here, whatever the header says.
    let elsewhere = server
        .key
        .mint(
            "principal",
            &[Uai::parse("0750656F").unwrap()],
            &[ClaimedRole::Principal],
            chrono::Duration::hours(1),
        )
        .unwrap();
    for (name, query, variables) in &ops {
        for headers in [vec![], vec![("x-carnet-establishment", "0750655E")]] {
            let answer = server
                .post(Some(&elsewhere), &headers, query, variables.clone())
                .await;
            if code(&answer).as_deref() != Some("FORBIDDEN") {
                wrong.push(format!(
                    "another establishment's principal {name} ({headers:?}): {answer}"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cases wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
