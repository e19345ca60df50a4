//! Report cards end to end, against a real server on both backends: the demo's first
//! term published (a guardian downloads the PDF, reads it back with poppler's
//! pdftotext, anyone verifies it; an edited file or a made-up code does not verify),
//! then a second term prepared through the API (who writes which appreciation, the LSU
//! lengths, positionings from competences, decisions, closing and publication).
#![allow(clippy::unwrap_used)]

mod support;

use carnet_api::auth::ClaimedRole;
use carnet_domain::enrolment::SchoolYear;
use carnet_domain::reportcards::Team;
use carnet_store::{BackendKind, School};
use serde_json::{json, Value};
use support::server::{code, data, TestServer};

const YEAR: &str = "2026-2027";

/// Who is who in the demo's first 3e division, from the aggregates themselves.
struct Cast {
    division: String,
    student: String,
    guardian: String,
    other_student: String,
    team: Team,
}

impl Cast {
    fn teacher_of(&self, subject: &str) -> String {
        self.team.teachers[subject].iter().next().unwrap().clone()
    }

    fn pp(&self) -> String {
        self.team.principal_teachers.iter().next().unwrap().clone()
    }

    fn cpe(&self) -> String {
        self.team.cpes.iter().next().unwrap().clone()
    }
}

async fn cast(server: &TestServer, period: &str) -> Cast {
    let school = School::new(server.store.clone(), server.uai.clone(), Default::default());
    let year = SchoolYear::parse(YEAR).unwrap();
    let (_, establishment) = school
        .establishment
        .state(&school.establishment_id())
        .await
        .unwrap();
    let division = establishment.years[&year]
        .divisions
        .values()
        .find(|d| d.level == "3e")
        .unwrap()
        .id
        .clone();
    let roster = carnet_projections::enrolment::roster_on(
        &server.store.backend().pool(),
        &server.uai,
        &year,
        &division,
        chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
    )
    .await
    .unwrap();
    let student = roster[0].clone();
    let (_, record) = school.students.state(&student).await.unwrap();
    let guardian = record
        .guardians
        .iter()
        .find(|(_, g)| g.rights.see)
        .map(|(id, _)| id.clone())
        .unwrap();
    let other_student = carnet_projections::enrolment::roster_on(
        &server.store.backend().pool(),
        &server.uai,
        &year,
        &establishment.years[&year]
            .divisions
            .values()
            .find(|d| d.id != division)
            .unwrap()
            .id,
        chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
    )
    .await
    .unwrap()[0]
        .clone();
    let team = Team::of(&establishment, &year, &division, period).unwrap();
    Cast {
        division,
        student,
        guardian,
        other_student,
        team,
    }
}

async fn get(server: &TestServer, token: &str, path: &str) -> reqwest::Response {
    server
        .http
        .get(format!("{}{path}", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// The text of a PDF, as poppler's pdftotext reads it (the test fails without it).
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulletin.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) must be installed: .ci/run installs it");
    assert!(out.status.success(), "pdftotext failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The verification code printed on a bulletin.
fn printed_code(text: &str, uai: &str) -> String {
    let start = text.find(&format!("{uai}-")).expect("a verification code");
    text[start..start + "0750655E-XXXX-XXXX-XXXX".len()].to_string()
}

/// Changes who wrote the student's first appreciation behind Carnet's back, as only a
/// superuser (Postgres) or someone with the file (SQLite) could.
async fn tamper_with_an_appreciation(server: &TestServer, kind: BackendKind, cast: &Cast) {
    let stream = School::council_id(&SchoolYear::parse(YEAR).unwrap(), &cast.division, "T1");
    let find = format!(
        "(SELECT min(position) FROM events WHERE tenant_id = '{}' AND stream_type = 'class_council'
          AND stream_id = '{stream}' AND event_type = 'AppreciationWritten')",
        server.uai
    );
    match server.store.backend().pool() {
        carnet_store::Pool::Postgres(pool) => {
            let mut conn = pool.acquire().await.unwrap();
            for sql in [
                "SET session_replication_role = replica".to_string(),
                format!("UPDATE events SET payload = jsonb_set(payload, '{{AppreciationWritten,by}}', '\"forged\"') WHERE tenant_id = '{}' AND position = {find}", server.uai),
                "SET session_replication_role = origin".to_string(),
            ] {
                sqlx::query(&sql).execute(&mut *conn).await.unwrap();
            }
        }
        carnet_store::Pool::Sqlite(pool) => {
            for sql in [
                "DROP TRIGGER IF EXISTS events_no_update".to_string(),
                format!("UPDATE events SET payload = json_set(payload, '$.AppreciationWritten.by', 'forged') WHERE tenant_id = '{}' AND position = {find}", server.uai),
            ] {
                sqlx::query(&sql).execute(&pool).await.unwrap();
            }
        }
    }
    assert_eq!(kind, server.store.kind());
}

async fn verify(server: &TestServer, code: &str, file: Option<Vec<u8>>) -> (u16, Value) {
    let url = format!("{}/verify/{code}", server.base);
    let response = match file {
        Some(bytes) => server.http.post(url).body(bytes).send().await.unwrap(),
        None => server.http.get(url).send().await.unwrap(),
    };
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn a_published_bulletin_is_downloaded_and_verified(kind: BackendKind) {
    let server = TestServer::start(kind, 24).await;
    let cast = cast(&server, "T1").await;
    let guardian = server.token(&cast.guardian, ClaimedRole::Guardian);
    let path = format!("/bulletins/{YEAR}/T1/{}.pdf", cast.student);

    let response = get(&server, &guardian, &path).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/pdf"
    );
    let pdf = response.bytes().await.unwrap().to_vec();
    let text = pdf_text(&pdf);
    for expected in [
        "1er trimestre",
        "Code de vérification",
        "Demi-journées d'absence",
        "Mathématiques",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` missing from:\n{text}"
        );
    }
    let code = printed_code(&text, server.uai.as_str());

    // The same state of the log gives the same file, and records nothing more.
    let head = server.head().await;
    let again = get(&server, &guardian, &path).await.bytes().await.unwrap();
    assert_eq!(
        again.to_vec(),
        pdf,
        "a bulletin given again is the same file"
    );
    assert_eq!(server.head().await, head);

    // Anyone verifies it: no token, nothing shown but the verdict.
    let (status, verdict) = verify(&server, &code, None).await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["authentic"], true);
    assert_eq!(verdict["intact"], true);
    assert_eq!(
        verdict.as_object().unwrap().len(),
        3,
        "nothing but the verdict: {verdict}"
    );
    let (_, verdict) = verify(&server, &code, Some(pdf.clone())).await;
    assert_eq!(verdict["sameFile"], true, "{verdict}");
    // A code typed in lower case with an O for a zero reads the same.
    let typed = format!("{}-{}", server.uai, code[9..].to_lowercase());
    assert_eq!(verify(&server, &typed, None).await.1["authentic"], true);

    // An edited file is not the one issued.
    let mut edited = pdf.clone();
    let middle = edited.len() / 2;
    edited[middle] ^= 0x20;
    let (_, verdict) = verify(&server, &code, Some(edited)).await;
    assert_eq!(verdict["authentic"], true);
    assert_eq!(verdict["sameFile"], false, "{verdict}");
    // A made-up code, or one of an unknown establishment, is not authentic.
    for made_up in [
        format!("{}-AAAA-BBBB-CCCC", server.uai),
        "0999999Z-AAAA-BBBB-CCCC".to_string(),
        "n'importe-quoi".to_string(),
    ] {
        let (status, verdict) = verify(&server, &made_up, None).await;
        assert_eq!(status, 404, "{made_up}: {verdict}");
        assert_eq!(verdict["authentic"], false);
    }
    // A browser (the QR code) gets a page in French.
    let page = server
        .http
        .get(format!("{}/verify/{code}", server.base))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Bulletin authentique"), "{page}");

    // Someone with the database alters an appreciation the bulletin was made from: the
    // code is still one that was issued, but the log it was made from is not intact.
    tamper_with_an_appreciation(&server, kind, &cast).await;
    let (_, verdict) = verify(&server, &code, None).await;
    assert_eq!(verdict["authentic"], true, "{verdict}");
    assert_eq!(verdict["intact"], false, "{verdict}");

    // The parents' dashboard shows the latest published bulletin.
    let answer = server
        .post(
            Some(&guardian),
            &[],
            "{ myChildren { localId latestBulletin { period publishedOn generalAppreciation
               subjects { code average appreciation } pdfUrl } } }",
            json!({}),
        )
        .await;
    let children = data(&answer)["myChildren"].as_array().unwrap().clone();
    let child = children
        .iter()
        .find(|c| c["localId"] == cast.student.as_str())
        .unwrap();
    let latest = &child["latestBulletin"];
    assert_eq!(latest["period"], "T1", "{answer}");
    assert!(latest["generalAppreciation"].as_str().is_some(), "{latest}");
    assert!(
        latest["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["appreciation"].as_str().is_some()),
        "{latest}"
    );
    assert_eq!(latest["pdfUrl"], path.as_str());

    // Another family's child is not theirs to download.
    let other = get(
        &server,
        &guardian,
        &format!("/bulletins/{YEAR}/T1/{}.pdf", cast.other_student),
    )
    .await;
    assert_eq!(other.status().as_u16(), 403);
}

#[tokio::test]
async fn a_published_bulletin_is_downloaded_and_verified_on_postgres() {
    a_published_bulletin_is_downloaded_and_verified(BackendKind::Postgres).await;
}

#[tokio::test]
async fn a_published_bulletin_is_downloaded_and_verified_on_sqlite() {
    a_published_bulletin_is_downloaded_and_verified(BackendKind::Sqlite).await;
}

const WRITE: &str = "mutation($input: WriteAppreciationInput!) {
  writeAppreciation(input: $input) {
    changed recordedAt
    bulletin { subjects { code appreciation } generalAppreciation vieScolaireAppreciation }
  }
}";

fn appreciation(cast: &Cast, topic: &str, subject: Option<&str>, text: &str) -> Value {
    json!({ "input": {
        "report": { "division": cast.division, "period": "T2", "student": cast.student, "year": YEAR },
        "topic": topic,
        "subject": subject,
        "text": text,
    }})
}

fn rule(answer: &Value) -> Option<String> {
    answer["errors"][0]["extensions"]["rule"]
        .as_str()
        .map(str::to_string)
}

async fn a_term_is_prepared_closed_and_published(kind: BackendKind) {
    let server = TestServer::start(kind, 24).await;
    let cast = cast(&server, "T2").await;
    let maths = cast.teacher_of("MATHS");
    let french = cast.teacher_of("FRANC");
    let teacher = |who: &str| server.token(who, ClaimedRole::Teacher);

    // The maths teacher writes the maths appreciation; the French teacher may not.
    let text = "Zoë progresse : « raisonner » devient un réflexe.";
    let answer = server
        .post(
            Some(&teacher(&maths)),
            &[],
            WRITE,
            appreciation(&cast, "SUBJECT", Some("MATHS"), text),
        )
        .await;
    let subjects = data(&answer)["writeAppreciation"]["bulletin"]["subjects"].clone();
    assert!(
        subjects
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["code"] == "MATHS" && s["appreciation"] == text),
        "{answer}"
    );
    let refused = server
        .post(
            Some(&teacher(&french)),
            &[],
            WRITE,
            appreciation(&cast, "SUBJECT", Some("MATHS"), "Bien."),
        )
        .await;
    assert_eq!(
        rule(&refused).as_deref(),
        Some("MAY_NOT_WRITE_APPRECIATION"),
        "{refused}"
    );
    // Longer than the LSU accepts.
    let long = "é".repeat(1001);
    let refused = server
        .post(
            Some(&teacher(&maths)),
            &[],
            WRITE,
            appreciation(&cast, "SUBJECT", Some("MATHS"), &long),
        )
        .await;
    assert_eq!(rule(&refused).as_deref(), Some("APPRECIATION_TOO_LONG"));
    // A correction keeps the earlier text in the history, and the bulletin as of
    // before it shows the earlier text.
    let first_at = data(&answer)["writeAppreciation"]["recordedAt"].clone();
    server
        .post(
            Some(&teacher(&maths)),
            &[],
            WRITE,
            appreciation(&cast, "SUBJECT", Some("MATHS"), "Très bon trimestre."),
        )
        .await;
    let before = server
        .post(
            Some(&teacher(&maths)),
            &[],
            "query($id: String!, $at: DateTime!) { student(id: $id, asOf: $at) {
               bulletin(period: \"T2\") { subjects { code appreciation } } } }",
            json!({ "id": cast.student, "at": first_at }),
        )
        .await;
    let then = data(&before)["student"]["bulletin"]["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "MATHS")
        .unwrap()["appreciation"]
        .clone();
    assert_eq!(then, text, "{before}");
    // The general one is the professeur principal's, vie scolaire the CPE's.
    let general = server
        .post(
            Some(&teacher(&cast.pp())),
            &[],
            WRITE,
            appreciation(&cast, "GENERAL", None, "Un trimestre sérieux."),
        )
        .await;
    assert_eq!(
        data(&general)["writeAppreciation"]["bulletin"]["generalAppreciation"],
        "Un trimestre sérieux.",
        "{general}"
    );
    let cpe = server.token(&cast.cpe(), ClaimedRole::Cpe);
    let vs = server
        .post(
            Some(&cpe),
            &[],
            WRITE,
            appreciation(&cast, "VIE_SCOLAIRE", None, "Assidue et ponctuelle."),
        )
        .await;
    assert_eq!(
        data(&vs)["writeAppreciation"]["bulletin"]["vieScolaireAppreciation"],
        "Assidue et ponctuelle.",
        "{vs}"
    );

    // Competences: an item, an evaluation assessing it, levels; the positioning is
    // computed by the rule, then overridden by the teacher, the rule's value kept.
    let principal = server.token("principal", ClaimedRole::Principal);
    let defined = server
        .post(
            Some(&principal),
            &[],
            "mutation { defineCompetence(input: { id: \"MATHS-MODEL\", subject: \"MATHS\",
               label: \"Modéliser\", component: SCIENTIFIC_LANGUAGES }) { framework { id } } }",
            json!({}),
        )
        .await;
    assert!(code(&defined).is_none(), "{defined}");
    let created = server
        .post(
            Some(&teacher(&maths)),
            &[],
            "mutation($input: CreateEvaluationInput!) { createEvaluation(input: $input) { created } }",
            json!({ "input": {
                "id": "comp-1", "class": cast.division, "period": "T2", "subject": "MATHS",
                "title": "Bilan de compétences", "date": "2026-12-04", "coefficient": 0,
                "competences": ["MATHS-MODEL"]
            }}),
        )
        .await;
    assert!(code(&created).is_none(), "{created}");
    let assessed = server
        .post(
            Some(&teacher(&maths)),
            &[],
            "mutation($input: AssessCompetencesInput!) { assessCompetences(input: $input) {
               mark { competences { competence level } } } }",
            json!({ "input": {
                "class": cast.division, "period": "T2", "year": YEAR, "evaluation": "comp-1",
                "student": cast.student,
                "levels": [{ "competence": "MATHS-MODEL", "level": "FRAGILE" }]
            }}),
        )
        .await;
    assert_eq!(
        data(&assessed)["assessCompetences"]["mark"]["competences"][0]["level"],
        "FRAGILE",
        "{assessed}"
    );
    let positioned = server
        .post(
            Some(&teacher(&maths)),
            &[],
            "mutation($input: SetPositioningInput!) { setPositioning(input: $input) {
               bulletin { subjects { code positioning computedPositioning positionedBy } } } }",
            json!({ "input": {
                "report": { "division": cast.division, "period": "T2", "student": cast.student, "year": YEAR },
                "subject": "MATHS", "level": "SATISFACTORY"
            }}),
        )
        .await;
    let line = data(&positioned)["setPositioning"]["bulletin"]["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "MATHS")
        .unwrap()
        .clone();
    assert_eq!(line["positioning"], "SATISFACTORY", "{positioned}");
    assert_eq!(line["computedPositioning"], "FRAGILE");
    assert_eq!(line["positionedBy"], maths.as_str());

    // Decisions are the head's.
    let decide = "mutation($input: RecordDecisionsInput!) { recordCouncilDecisions(input: $input) {
        bulletin { decisions { decision label } } } }";
    let report =
        json!({ "division": cast.division, "period": "T2", "student": cast.student, "year": YEAR });
    let refused = server
        .post(
            Some(&teacher(&cast.pp())),
            &[],
            decide,
            json!({ "input": { "report": report, "decisions": ["COMPLIMENTS"] } }),
        )
        .await;
    assert_eq!(rule(&refused).as_deref(), Some("HEADS_ONLY"));
    let decided = server
        .post(
            Some(&principal),
            &[],
            decide,
            json!({ "input": { "report": report, "decisions": ["COMPLIMENTS"] } }),
        )
        .await;
    assert_eq!(
        data(&decided)["recordCouncilDecisions"]["bulletin"]["decisions"][0]["label"],
        "Compliments du conseil de classe",
        "{decided}"
    );

    // Before publication: staff get a provisional file without a code, families nothing.
    let guardian = server.token(&cast.guardian, ClaimedRole::Guardian);
    let path = format!("/bulletins/{YEAR}/T2/{}.pdf", cast.student);
    assert_eq!(get(&server, &guardian, &path).await.status().as_u16(), 404);
    let provisional = get(&server, &teacher(&cast.pp()), &path).await;
    assert_eq!(provisional.status().as_u16(), 200);
    let text = pdf_text(&provisional.bytes().await.unwrap());
    assert!(!text.contains("Code de vérification"), "{text}");
    assert!(text.contains("Bulletin provisoire"), "{text}");
    assert!(text.contains("Très bon trimestre."), "{text}");
    let student_query =
        "query($id: String!) { student(id: $id) { bulletin(period: \"T2\") { period } } }";
    let hidden = server
        .post(
            Some(&guardian),
            &[],
            student_query,
            json!({ "id": cast.student }),
        )
        .await;
    assert_eq!(
        data(&hidden)["student"]["bulletin"],
        Value::Null,
        "{hidden}"
    );

    // The council closes: nothing more is written; then the head publishes.
    let council = |name: &str| {
        format!(
            "mutation($input: CouncilInput!) {{ {name}(input: $input) {{ changed council {{ closed publishedOn }} }} }}"
        )
    };
    let input = json!({ "input": { "division": cast.division, "period": "T2", "year": YEAR } });
    let closed = server
        .post(
            Some(&principal),
            &[],
            &council("closeClassCouncil"),
            input.clone(),
        )
        .await;
    assert_eq!(
        data(&closed)["closeClassCouncil"]["council"]["closed"],
        true,
        "{closed}"
    );
    let refused = server
        .post(
            Some(&teacher(&maths)),
            &[],
            WRITE,
            appreciation(&cast, "SUBJECT", Some("MATHS"), "Trop tard."),
        )
        .await;
    assert_eq!(
        rule(&refused).as_deref(),
        Some("COUNCIL_CLOSED"),
        "{refused}"
    );
    let published = server
        .post(Some(&principal), &[], &council("publishBulletins"), input)
        .await;
    assert!(
        data(&published)["publishBulletins"]["council"]["publishedOn"].is_string(),
        "{published}"
    );
    let shown = server
        .post(
            Some(&guardian),
            &[],
            student_query,
            json!({ "id": cast.student }),
        )
        .await;
    assert_eq!(
        data(&shown)["student"]["bulletin"]["period"],
        "T2",
        "{shown}"
    );
    let official = get(&server, &guardian, &path).await;
    assert_eq!(official.status().as_u16(), 200);
    assert!(pdf_text(&official.bytes().await.unwrap()).contains("Code de vérification"));

    // The history of the report keeps every text.
    let history = server
        .post(
            Some(&principal),
            &[],
            "query($d: String!, $s: String!) { classCouncil(division: $d, period: \"T2\", year: \"2026-2027\") {
               history(student: $s) { event } } }",
            json!({ "d": cast.division, "s": cast.student }),
        )
        .await;
    let changes = data(&history)["classCouncil"]["history"]
        .as_array()
        .unwrap()
        .len();
    assert!(changes >= 6, "{history}");
}

#[tokio::test]
async fn a_term_is_prepared_closed_and_published_on_postgres() {
    a_term_is_prepared_closed_and_published(BackendKind::Postgres).await;
}

#[tokio::test]
async fn a_term_is_prepared_closed_and_published_on_sqlite() {
    a_term_is_prepared_closed_and_published(BackendKind::Sqlite).await;
}

/// Validates `xml` against the LSU's import schema with libxml2's xmllint (the test
/// fails without it).
fn xmllint(xml: &[u8]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lsu.xml");
    std::fs::write(&path, xml).unwrap();
    let schema = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/importers/tests/fixtures/lsu/import-bilan-complet.xsd"
    );
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--schema", schema, path.to_str().unwrap()])
        .output()
        .expect("xmllint (libxml2-utils) must be installed: .ci/run installs it");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

async fn the_lsu_export_refuses_first_then_validates(kind: BackendKind) {
    use carnet_domain::enrolment::{EstablishmentCommand, ExternalId, PersonKind};
    let server = TestServer::start(kind, 24).await;
    let cast = cast(&server, "T1").await;
    let path = format!("/lsu/{YEAR}/T1/{}.xml", cast.division);
    let principal = server.token("principal", ClaimedRole::Principal);

    // A teacher may not export; the head may.
    let teacher = server.token(&cast.pp(), ClaimedRole::Teacher);
    assert_eq!(get(&server, &teacher, &path).await.status().as_u16(), 403);

    // The demo's people have no national ids: every one of them is named, no file.
    let refused = get(&server, &principal, &path).await;
    assert_eq!(refused.status().as_u16(), 422);
    let problems: Value = refused.json().await.unwrap();
    let problems = problems["problems"].as_array().unwrap().clone();
    assert!(
        problems
            .iter()
            .any(|p| p["code"] == "LSU_TEACHER_WITHOUT_NATIONAL_ID"),
        "{problems:?}"
    );
    let students_refused = problems
        .iter()
        .filter(|p| p["code"] == "LSU_STUDENT_WITHOUT_NATIONAL_ID")
        .count();
    assert!(
        students_refused >= 2,
        "every student is named: {problems:?}"
    );

    // With the STS ids of the teachers and the SIECLE ids of the students linked, the
    // file is written and the ministry's schema accepts it.
    let school = School::new(server.store.clone(), server.uai.clone(), Default::default());
    let context = carnet_store::CommandContext::default();
    let mut teachers: Vec<String> = cast.team.teachers.values().flatten().cloned().collect();
    teachers.extend(cast.team.principal_teachers.iter().cloned());
    teachers.sort();
    teachers.dedup();
    for (n, teacher) in teachers.iter().enumerate() {
        school
            .establishment
            .execute(
                &school.establishment_id(),
                EstablishmentCommand::LinkExternalId {
                    person: teacher.clone(),
                    kind: PersonKind::Staff,
                    identifier: ExternalId {
                        scheme: "STS".into(),
                        value: format!("{}", 4100 + n),
                    },
                },
                &context,
            )
            .await
            .unwrap();
    }
    let year = SchoolYear::parse(YEAR).unwrap();
    let students = carnet_projections::enrolment::roster_on(
        &server.store.backend().pool(),
        &server.uai,
        &year,
        &cast.division,
        chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
    )
    .await
    .unwrap();
    for (n, student) in students.iter().enumerate() {
        school
            .establishment
            .execute(
                &school.establishment_id(),
                EstablishmentCommand::LinkExternalId {
                    person: student.clone(),
                    kind: PersonKind::Student,
                    identifier: ExternalId {
                        scheme: "SIECLE ELEVE_ID".into(),
                        value: format!("{}", 880_000 + n),
                    },
                },
                &context,
            )
            .await
            .unwrap();
    }
    let written = get(&server, &principal, &path).await;
    let status = written.status().as_u16();
    let body = written.bytes().await.unwrap().to_vec();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    xmllint(&body).unwrap();
    let xml = String::from_utf8(body).unwrap();
    assert!(xml.contains("bilan-periodique"), "{xml}");
}

#[tokio::test]
async fn the_lsu_export_refuses_first_then_validates_on_postgres() {
    the_lsu_export_refuses_first_then_validates(BackendKind::Postgres).await;
}

#[tokio::test]
async fn the_lsu_export_refuses_first_then_validates_on_sqlite() {
    the_lsu_export_refuses_first_then_validates(BackendKind::Sqlite).await;
}
