//! The administration through the API alone: opening a school year with its periods
//! and calendar, subjects, divisions and groups, staff and their roles, services, and
//! the year-end rollover with its dry run — on both backends, against a real server.
#![allow(clippy::unwrap_used)]

mod support;

use carnet_api::auth::ClaimedRole;
use carnet_store::BackendKind;
use serde_json::{json, Value};
use support::server::{code, data, TestServer};

const STUDENTS: usize = 12;

async fn principal(server: &TestServer, query: &str, input: Value) -> Value {
    server
        .as_(
            "principal",
            ClaimedRole::Principal,
            query,
            json!({ "input": input }),
        )
        .await
}

const OPEN_YEAR: &str = "mutation($input: OpenSchoolYearInput!) {
  openSchoolYear(input: $input) {
    changed replayed position
    schoolYear { id firstDay lastDay periods { id name from to } }
  }
}";

fn next_year(periods: Value) -> Value {
    json!({
        "year": "2027-2028",
        "firstDay": "2027-09-01",
        "lastDay": "2028-07-01",
        "periods": periods,
        "calendar": {
            "closures": [
                { "name": "Vacances de la Toussaint", "from": "2027-10-23", "to": "2027-11-07" },
                { "name": "Vacances de Noël", "from": "2027-12-18", "to": "2028-01-02" }
            ],
            "weekLabels": [ { "monday": "2027-09-06", "label": "A" } ]
        }
    })
}

fn trimesters() -> Value {
    json!([
        { "id": "T1", "name": "1er trimestre", "from": "2027-09-01", "to": "2027-11-30" },
        { "id": "T2", "name": "2e trimestre", "from": "2027-12-01", "to": "2028-02-29" },
        { "id": "T3", "name": "3e trimestre", "from": "2028-03-01", "to": "2028-07-01" }
    ])
}

async fn opening_a_year_and_setting_it_up(kind: BackendKind) {
    let server = TestServer::start(kind, STUDENTS).await;

    // Overlapping periods: the domain's refusal, and neither the year nor its
    // timetable is written.
    let before = server.head().await;
    let overlapping = json!([
        { "id": "S1", "name": "1er semestre", "from": "2027-09-01", "to": "2028-02-15" },
        { "id": "S2", "name": "2e semestre", "from": "2028-02-01", "to": "2028-07-01" }
    ]);
    let refused = principal(&server, OPEN_YEAR, next_year(overlapping)).await;
    assert_eq!(
        code(&refused).as_deref(),
        Some("RULE_VIOLATION"),
        "{refused}"
    );
    assert_eq!(
        server.head().await,
        before,
        "a refused command writes nothing"
    );

    // A teacher may not open a year.
    let teacher = server
        .as_(
            "prof001",
            ClaimedRole::Teacher,
            OPEN_YEAR,
            json!({ "input": next_year(trimesters()) }),
        )
        .await;
    assert_eq!(code(&teacher).as_deref(), Some("FORBIDDEN"), "{teacher}");

    // The head opens it; the payload is the year as now opened.
    let id = uuid::Uuid::new_v4().to_string();
    let mut input = next_year(trimesters());
    input["commandId"] = json!(id);
    let opened = principal(&server, OPEN_YEAR, input.clone()).await;
    let year = &data(&opened)["openSchoolYear"];
    assert_eq!(year["changed"], json!(true), "{opened}");
    assert_eq!(year["replayed"], json!(false));
    assert_eq!(year["schoolYear"]["id"], json!("2027-2028"));
    assert_eq!(year["schoolYear"]["periods"][1]["to"], json!("2028-02-29"));
    let written = server.head().await;
    // Its retry answers as the first run did, and writes nothing more.
    let again = principal(&server, OPEN_YEAR, input).await;
    assert_eq!(
        data(&again)["openSchoolYear"]["replayed"],
        json!(true),
        "{again}"
    );
    assert_eq!(server.head().await, written);

    // A subject, a division and a group of the new year.
    let subject = principal(
        &server,
        "mutation($input: DefineSubjectInput!) { defineSubject(input: $input) { changed subject { code label nationalCode } } }",
        json!({ "code": "ECOL", "label": "Éducation au développement durable", "nationalCode": "072700" }),
    )
    .await;
    let defined = &data(&subject)["defineSubject"]["subject"];
    assert_eq!(defined["code"], json!("ECOL"), "{subject}");
    assert_eq!(defined["nationalCode"], json!("072700"));
    let division = principal(
        &server,
        "mutation($input: CreateDivisionInput!) { createDivision(input: $input) { changed class { name year isGroup level } } }",
        json!({ "year": "2027-2028", "id": "3Z", "name": "3e Z", "level": "3e" }),
    )
    .await;
    let class = &data(&division)["createDivision"]["class"];
    assert_eq!(class["name"], json!("3e Z"), "{division}");
    assert_eq!(class["level"], json!("3e"));
    assert_eq!(class["isGroup"], json!(false));
    let group = principal(
        &server,
        "mutation($input: CreateGroupInput!) { createGroup(input: $input) { class { name isGroup divisions } } }",
        json!({ "year": "2027-2028", "id": "3Z-LV2", "name": "3e Z espagnol", "divisions": ["3Z"] }),
    )
    .await;
    let class = &data(&group)["createGroup"]["class"];
    assert_eq!(class["isGroup"], json!(true), "{group}");
    assert_eq!(class["divisions"], json!(["3Z"]));
    // A group drawn from a division the year does not have is refused.
    let stray = principal(
        &server,
        "mutation($input: CreateGroupInput!) { createGroup(input: $input) { changed } }",
        json!({ "year": "2027-2028", "id": "9X-G", "name": "?", "divisions": ["9X"] }),
    )
    .await;
    assert_eq!(code(&stray).as_deref(), Some("RULE_VIOLATION"), "{stray}");

    // A teacher hired, their roles changed, a service assigned then ended.
    let hired = principal(
        &server,
        "mutation($input: HireStaffInput!) { hireStaff(input: $input) { changed staffMember { name roles leftOn } } }",
        json!({ "person": "prof-neuf", "name": "Mme Durand", "roles": ["TEACHER"] }),
    )
    .await;
    let member = &data(&hired)["hireStaff"]["staffMember"];
    assert_eq!(member["name"], json!("Mme Durand"), "{hired}");
    assert_eq!(member["roles"], json!(["TEACHER"]));
    let roles = principal(
        &server,
        "mutation($input: ChangeStaffRolesInput!) { changeStaffRoles(input: $input) { staffMember { roles } } }",
        json!({ "person": "prof-neuf", "roles": ["TEACHER", "PRINCIPAL"] }),
    )
    .await;
    assert_eq!(
        data(&roles)["changeStaffRoles"]["staffMember"]["roles"],
        json!(["TEACHER", "PRINCIPAL"]),
        "{roles}"
    );
    const SERVICE: &str = "mutation($input: ServiceInput!) { assignService(input: $input) { changed teacher { name services { year class } } } }";
    let service =
        json!({ "year": "2027-2028", "teacher": "prof-neuf", "subject": "ECOL", "class": "3Z" });
    let assigned = principal(&server, SERVICE, service.clone()).await;
    let services = &data(&assigned)["assignService"]["teacher"]["services"];
    assert!(
        services
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["class"] == json!("3Z") && s["year"] == json!("2027-2028")),
        "{assigned}"
    );
    // By its national code as well: the same service, already so.
    let mut by_code = service.clone();
    by_code["subject"] = json!("072700");
    let same = principal(&server, SERVICE, by_code).await;
    assert_eq!(code(&same).as_deref(), Some("RULE_VIOLATION"), "{same}");
    let ended = principal(
        &server,
        "mutation($input: ServiceInput!) { endService(input: $input) { changed teacher { services { year class } } } }",
        service,
    )
    .await;
    let services = &data(&ended)["endService"]["teacher"]["services"];
    assert!(
        !services
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["class"] == json!("3Z")),
        "{ended}"
    );
    // An unknown subject names the field.
    let unknown = principal(
        &server,
        SERVICE,
        json!({ "year": "2027-2028", "teacher": "prof-neuf", "subject": "ZZZ", "class": "3Z" }),
    )
    .await;
    assert_eq!(code(&unknown).as_deref(), Some("VALIDATION"), "{unknown}");

    let left = principal(
        &server,
        "mutation($input: StaffMemberLeavesInput!) { staffMemberLeaves(input: $input) { staffMember { leftOn } } }",
        json!({ "person": "prof-neuf", "lastDay": "2028-07-01" }),
    )
    .await;
    assert_eq!(
        data(&left)["staffMemberLeaves"]["staffMember"]["leftOn"],
        json!("2028-07-01"),
        "{left}"
    );
}

const ROLL_OVER: &str = "mutation($input: RollOverYearInput!) {
  rollOverYear(input: $input) {
    dryRun problems continuing leaving commandsApplied commandsReplayed
    schoolYear { id periods { id } }
  }
}";

/// Every demo student: the first goes on to `NEXT`, the others leave.
fn decisions(all: bool) -> Value {
    let count = if all { STUDENTS } else { STUDENTS - 1 };
    (1..=count)
        .map(|n| {
            let student = format!("eleve{n:05}");
            if n == 1 {
                json!({ "student": student, "division": "NEXT", "groups": ["NEXT-G1"] })
            } else {
                json!({ "student": student, "leaves": "passage au lycée" })
            }
        })
        .collect()
}

fn rollover(decisions: Value, dry_run: bool) -> Value {
    json!({
        "from": "2026-2027",
        "year": "2027-2028",
        "firstDay": "2027-09-01",
        "lastDay": "2028-07-01",
        "periods": trimesters(),
        "calendar": { "closures": [] },
        "divisions": [ { "id": "NEXT", "name": "Suivante", "level": "3e" } ],
        "groups": [ { "id": "NEXT-G1", "name": "Suivante groupe 1", "divisions": ["NEXT"] } ],
        "decisions": decisions,
        "dryRun": dry_run
    })
}

async fn the_rollover_is_checked_before_it_is_run(kind: BackendKind) {
    let server = TestServer::start(kind, STUDENTS).await;
    let before = server.head().await;

    // A forgotten student and a group outside the plan: every problem, nothing written.
    let mut incomplete = decisions(false);
    incomplete[0]["groups"] = json!(["NOWHERE"]);
    let checked = principal(&server, ROLL_OVER, rollover(incomplete, false)).await;
    let answer = &data(&checked)["rollOverYear"];
    assert_eq!(answer["dryRun"], json!(true), "{checked}");
    let problems: Vec<String> = answer["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    let forgotten = format!("eleve{STUDENTS:05}");
    assert!(
        problems.iter().any(|p| p.contains(&forgotten)),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("NOWHERE")),
        "{problems:?}"
    );
    assert_eq!(server.head().await, before);

    // The dry run of a complete plan: no problem, the counts, nothing written.
    let dry = principal(&server, ROLL_OVER, rollover(decisions(true), true)).await;
    let answer = &data(&dry)["rollOverYear"];
    assert_eq!(answer["problems"], json!([]), "{dry}");
    assert_eq!(answer["continuing"], json!(1));
    assert_eq!(answer["leaving"], json!(STUDENTS - 1));
    assert_eq!(answer["commandsApplied"], json!(0));
    assert_eq!(server.head().await, before);

    // Carried out: the establishment, the timetable and every student.
    let done = principal(&server, ROLL_OVER, rollover(decisions(true), false)).await;
    let answer = &data(&done)["rollOverYear"];
    assert_eq!(answer["dryRun"], json!(false), "{done}");
    assert_eq!(answer["commandsApplied"], json!(STUDENTS + 2), "{done}");
    assert_eq!(answer["schoolYear"]["id"], json!("2027-2028"));
    let after = server.head().await;
    assert!(after > before);
    let placed = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "{ student(id: \"eleve00001\") { placement(date: \"2027-09-02\") { year division groups } leftOn } }",
            json!({}),
        )
        .await;
    let student = &data(&placed)["student"];
    assert_eq!(student["placement"]["division"], json!("NEXT"), "{placed}");
    assert_eq!(student["placement"]["groups"], json!(["NEXT-G1"]));
    let gone = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "{ student(id: \"eleve00002\") { leftOn } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&gone)["student"]["leftOn"],
        json!("2027-07-03"),
        "{gone}"
    );

    // Run again (another command id): already so, nothing more written.
    let again = principal(&server, ROLL_OVER, rollover(decisions(true), false)).await;
    let answer = &data(&again)["rollOverYear"];
    assert_eq!(answer["problems"], json!([]), "{again}");
    assert_eq!(answer["commandsApplied"], json!(0), "{again}");
    assert_eq!(server.head().await, after);
}

#[tokio::test]
async fn opening_a_year_and_setting_it_up_postgres() {
    opening_a_year_and_setting_it_up(BackendKind::Postgres).await;
}

#[tokio::test]
async fn opening_a_year_and_setting_it_up_sqlite() {
    opening_a_year_and_setting_it_up(BackendKind::Sqlite).await;
}

#[tokio::test]
async fn the_rollover_is_checked_before_it_is_run_postgres() {
    the_rollover_is_checked_before_it_is_run(BackendKind::Postgres).await;
}

#[tokio::test]
async fn the_rollover_is_checked_before_it_is_run_sqlite() {
    the_rollover_is_checked_before_it_is_run(BackendKind::Sqlite).await;
}
