//! Personal data through the real store, on Postgres and SQLite: sealed in the log,
//! opened with the owner's key, erased by destroying it (crypto-shredding) while the
//! log still verifies; old event versions read through the upcasters.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use carnet_domain::attendance::{AttendanceCommand, AttendancePolicy, StudentAttendance};
use carnet_domain::enrolment::{
    EstablishmentCommand, GuardianRights, Identity, Ine, Role, SchoolYear, Student, StudentCommand,
};
use carnet_domain::personal::Personal;
use carnet_domain::Uai;
use carnet_store::testing::TestStore;
use carnet_store::verify::verify_tenant;
use carnet_store::{
    AppendRequest, BackendKind, CommandContext, ExpectedVersion, NewEvent, School, Source,
    StreamRef,
};
use chrono::{NaiveDate, NaiveTime};
use serde_json::json;

fn uai() -> Uai {
    Uai::parse("0750655E").unwrap()
}

fn d(m: u32, day: u32) -> NaiveDate {
    let year = if m >= 9 { 2026 } else { 2027 };
    NaiveDate::from_ymd_opt(year, m, day).unwrap()
}

fn ctx(actor: &str) -> CommandContext {
    CommandContext {
        actor: Some(actor.into()),
        role: Some("principal".into()),
        source: Source::Api,
        ..CommandContext::default()
    }
}

async fn school(kind: BackendKind) -> (TestStore, School) {
    let ts = TestStore::new(kind).await;
    ts.store
        .create_tenant(&uai(), "Collège Hélène Boucher", "Europe/Paris")
        .await
        .unwrap();
    let school = School::new(ts.store.clone(), uai(), AttendancePolicy::default());
    let id = school.establishment_id();
    for command in [
        EstablishmentCommand::Register {
            uai: uai(),
            name: "Collège Hélène Boucher".into(),
            time_zone: chrono_tz::Europe::Paris,
            morning_ends: NaiveTime::from_hms_opt(12, 30, 0).unwrap(),
        },
        EstablishmentCommand::AddStaffMember {
            person: "cpe1".into(),
            name: "Œdipe Martin".into(),
            roles: [Role::Cpe].into(),
        },
    ] {
        school
            .establishment
            .execute(&id, command, &ctx("principal"))
            .await
            .unwrap();
    }
    let admit = StudentCommand::Admit {
        student: "zoe".into(),
        identity: Identity {
            ine: Ine::parse("123456789AB").unwrap(),
            last_name: "N'Guessan".into(),
            first_name: "Zoë".into(),
            birth_date: NaiveDate::from_ymd_opt(2013, 4, 2).unwrap(),
        },
        year: SchoolYear::starting(2026),
        division: "4A".into(),
        groups: vec![],
        on: d(9, 1),
    };
    let link = StudentCommand::LinkGuardian {
        guardian: "resp-zoe".into(),
        name: "Hélène N'Guessan".into(),
        relationship: "mère".into(),
        rights: GuardianRights::FULL,
    };
    for command in [admit, link] {
        school
            .students
            .execute("zoe", command, &ctx("secretariat"))
            .await
            .unwrap();
    }
    school
        .attendance
        .execute(
            &School::attendance_id(&SchoolYear::starting(2026), "zoe"),
            AttendanceCommand::DeclareJustification {
                student: "zoe".into(),
                justification: "j1".into(),
                from: d(11, 2),
                to: d(11, 3),
                reason: "MAL".into(),
                comment: "Fièvre, certificat du Dr Zoé".into(),
                by: "resp-zoe".into(),
            },
            &ctx("resp-zoe"),
        )
        .await
        .unwrap();
    (ts, school)
}

async fn log_text(school: &School) -> String {
    let events = school.store.read_log(&uai(), 0, 1000).await.unwrap();
    events
        .iter()
        .map(|e| e.payload.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn personal_data_is_sealed_and_erased_by_its_key(kind: BackendKind) {
    let (_ts, school) = school(kind).await;
    let vault = school.store.vault();

    // Nothing personal is in the log in clear.
    let log = log_text(&school).await;
    for clear in [
        "N'Guessan",
        "Zoë",
        "2013-04-02",
        "Œdipe",
        "Fièvre",
        "MAL",
        "$personal",
    ] {
        assert!(
            !log.contains(clear),
            "`{clear}` is in clear in the log:\n{log}"
        );
    }
    assert!(log.contains("$sealed"));

    // Folded from the log, the aggregate holds sealed values; the key opens them.
    let (_, student): (i64, Student) = school.students.state("zoe").await.unwrap();
    let identity = student.identity.clone().unwrap();
    assert!(matches!(identity.last_name, Personal::Sealed(_)));
    assert_eq!(
        vault.open(&uai(), &identity.last_name).await.unwrap(),
        Some("N'Guessan".to_string())
    );
    assert_eq!(
        vault.open(&uai(), &identity.birth_date).await.unwrap(),
        NaiveDate::from_ymd_opt(2013, 4, 2)
    );
    let attendance_id = School::attendance_id(&SchoolYear::starting(2026), "zoe");
    let (_, record): (i64, StudentAttendance) =
        school.attendance.state(&attendance_id).await.unwrap();
    let comment = &record.justifications["j1"].comment;
    assert_eq!(comment.owner(), "zoe/absences/2026-2027");
    assert_eq!(
        vault.open(&uai(), comment).await.unwrap().as_deref(),
        Some("Fièvre, certificat du Dr Zoé")
    );

    // A sealed value moved to another owner does not open with that owner's key.
    let mut moved = serde_json::to_value(&identity.last_name).unwrap();
    moved["$sealed"]["owner"] = json!("resp-zoe");
    let moved: Personal<String> = serde_json::from_value(moved).unwrap();
    let refused = vault.open(&uai(), &moved).await.unwrap_err().to_string();
    assert!(refused.contains("does not authenticate"), "{refused}");

    // Snapshots keep personal values sealed too.
    let stream = StreamRef::new("student", "zoe");
    let mut in_memory = student.clone();
    in_memory.identity.as_mut().unwrap().first_name = Personal::known("zoe", "Zoë".to_string());
    school
        .store
        .save_snapshot(
            &uai(),
            &stream,
            &carnet_store::Snapshot {
                stream_version: 2,
                state: serde_json::to_value(&in_memory).unwrap(),
            },
        )
        .await
        .unwrap();
    let saved = school
        .store
        .load_snapshot(&uai(), &stream)
        .await
        .unwrap()
        .unwrap();
    assert!(!saved.state.to_string().contains("Zoë"), "{}", saved.state);

    // Erasure: recorded, keys destroyed, the person reads as erased; others do not.
    let erased = school
        .erase_person(
            "zoe",
            "demande de la famille (RGPD art. 17)",
            &ctx("principal"),
        )
        .await
        .unwrap();
    assert_eq!(erased, ["zoe", "zoe/absences/2026-2027"]);
    let (_, student): (i64, Student) = school.students.state("zoe").await.unwrap();
    let identity = student.identity.unwrap();
    assert_eq!(vault.open(&uai(), &identity.last_name).await.unwrap(), None);
    assert_eq!(
        vault.open(&uai(), &identity.birth_date).await.unwrap(),
        None
    );
    assert_eq!(vault.open(&uai(), comment).await.unwrap(), None);
    assert_eq!(
        vault
            .open(&uai(), &student.guardians["resp-zoe"].name)
            .await
            .unwrap()
            .as_deref(),
        Some("Hélène N'Guessan"),
        "the guardian is another person"
    );
    let mut shown = serde_json::to_value(&student.guardians).unwrap();
    shown["zoe"] = serde_json::to_value(&identity.first_name).unwrap();
    vault.reveal(&uai(), &mut shown).await.unwrap();
    assert_eq!(shown["zoe"], json!({ "$erased": "zoe" }));
    assert_eq!(shown["resp-zoe"]["name"], json!("Hélène N'Guessan"));

    // The log is untouched: it verifies, and the erasure is in it.
    let report = verify_tenant(&school.store, &uai()).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    let log = log_text(&school).await;
    assert!(log.contains("PersonErased") && log.contains("RGPD art. 17"));

    // Nothing personal is recorded about the erased person again, and erasing twice
    // destroys nothing more.
    let refused = school
        .attendance
        .execute(
            &attendance_id,
            AttendanceCommand::DeclareJustification {
                student: "zoe".into(),
                justification: "j2".into(),
                from: d(11, 9),
                to: d(11, 9),
                reason: "RDV".into(),
                comment: String::new(),
                by: "resp-zoe".into(),
            },
            &ctx("resp-zoe"),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("personal data of zoe was erased"),
        "{refused}"
    );
    let again = school
        .erase_person("zoe", "second request", &ctx("principal"))
        .await
        .unwrap();
    assert!(again.is_empty());
    let keys = vault.keys(&uai()).await.unwrap();
    let zoe: Vec<_> = keys.iter().filter(|k| k.person == "zoe").collect();
    assert!(zoe.iter().all(|k| k.key.is_none() && k.erased_at.is_some()));
    assert_eq!(
        zoe[0].grounds.as_deref(),
        Some("demande de la famille (RGPD art. 17)")
    );
}

async fn version_one_events_read_through_the_upcasters(kind: BackendKind) {
    let (_ts, school) = school(kind).await;
    // Written as Carnet wrote them before personal data was sealed.
    let v1 = |stream: StreamRef, event_type: &str, payload| {
        AppendRequest::new(
            stream,
            ExpectedVersion::Exactly(0),
            vec![NewEvent::new(event_type, 1, payload)],
        )
    };
    school
        .store
        .append(
            &uai(),
            v1(
                StreamRef::new("student", "tom"),
                "StudentAdmitted",
                json!({"StudentAdmitted": {
                    "student": "tom",
                    "identity": {"ine": "987654321AB", "last_name": "Dupont", "first_name": "Tom", "birth_date": "2012-12-24"},
                    "year": "2026-2027", "division": "4A", "groups": [], "on": "2026-09-01"
                }}),
            ),
        )
        .await
        .unwrap();
    school
        .store
        .append(
            &uai(),
            v1(
                StreamRef::new("attendance", "2026-2027/tom"),
                "JustificationDeclared",
                json!({"JustificationDeclared": {
                    "justification": "j1", "from": "2026-11-02", "to": "2026-11-02",
                    "reason": "RDV", "legitimate": true, "comment": "orthodontiste", "by": "resp-tom"
                }}),
            ),
        )
        .await
        .unwrap();
    let vault = school.store.vault();
    let (_, tom): (i64, Student) = school.students.state("tom").await.unwrap();
    let identity = tom.identity.unwrap();
    assert_eq!(
        identity.last_name,
        Personal::known("tom", "Dupont".to_string())
    );
    assert_eq!(
        vault.open(&uai(), &identity.birth_date).await.unwrap(),
        NaiveDate::from_ymd_opt(2012, 12, 24)
    );
    let (_, record): (i64, StudentAttendance) =
        school.attendance.state("2026-2027/tom").await.unwrap();
    assert_eq!(record.student.as_deref(), Some("tom"));
    assert_eq!(
        record.justifications["j1"].comment,
        Personal::known("tom/absences/2026-2027", "orthodontiste".to_string())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_seals_and_erases_personal_data() {
    personal_data_is_sealed_and_erased_by_its_key(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_seals_and_erases_personal_data() {
    personal_data_is_sealed_and_erased_by_its_key(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_reads_version_one_events() {
    version_one_events_read_through_the_upcasters(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_reads_version_one_events() {
    version_one_events_read_through_the_upcasters(BackendKind::Sqlite).await;
}
