//! STS-Web and SIECLE imports on both backends: a school built from its national files,
//! the same files again (nothing to do), changed files (only the differences), dry runs,
//! bad files (every problem listed, nothing written), provenance in every event.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use carnet_domain::attendance::AttendancePolicy;
use carnet_domain::enrolment::{Identity, Ine, Role, SchoolYear, StudentCommand};
use carnet_domain::Uai;
use carnet_importers::{import, Format, ImportError, Options, SourceFile, Summary};
use carnet_store::testing::TestStore;
use carnet_store::verify::verify_tenant;
use carnet_store::{BackendKind, CommandContext, EventStore, School, Source, StreamRef};
use chrono::NaiveDate;

const STS: &str = include_str!("fixtures/sts_emp_0750655E_2026.xml");
const SIECLE: &str = include_str!("fixtures/ElevesSansAdresses.xml");

fn uai() -> Uai {
    Uai::parse("0750655E").unwrap()
}

fn options() -> Options {
    Options::new("secretariat1", NaiveDate::from_ymd_opt(2026, 9, 3).unwrap())
}

/// SIECLE writes ISO-8859-15: the fixture, encoded as SIECLE would.
fn latin9(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::ISO_8859_15.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

async fn run(store: &EventStore, format: Format, name: &str, bytes: &[u8]) -> Summary {
    let source = SourceFile::from_bytes(name, bytes).unwrap();
    import(store, format, &source, &options())
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn head(store: &EventStore) -> i64 {
    store
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.tenant == uai())
        .map_or(0, |t| t.head)
}

/// A school of its own for each read: a `School` caches the aggregates its commands
/// touched, and imports append beside it.
fn fresh(store: &EventStore) -> School {
    School::new(store.clone(), uai(), AttendancePolicy::default())
}

fn counts(summary: &Summary, kind: &str) -> (usize, usize, usize) {
    summary
        .changes
        .get(kind)
        .map_or((0, 0, 0), |c| (c.created, c.changed, c.removed))
}

/// The 1-based line of the first line of `text` holding `needle`.
fn line_of(text: &str, needle: &str) -> u32 {
    text.lines().position(|l| l.contains(needle)).unwrap() as u32 + 1
}

async fn a_school_is_built_from_its_national_files(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let store = &ts.store;

    // STS-Web first: the establishment, its year, subjects, structures, staff, services.
    let sts = run(
        store,
        Format::Sts,
        "sts_emp_0750655E_2026.xml",
        STS.as_bytes(),
    )
    .await;
    assert_eq!(counts(&sts, "establishment"), (1, 0, 0));
    assert_eq!(counts(&sts, "school years"), (1, 0, 0));
    assert_eq!(counts(&sts, "subjects"), (3, 0, 0));
    assert_eq!(counts(&sts, "divisions"), (2, 0, 0));
    assert_eq!(counts(&sts, "groups"), (1, 0, 0));
    assert_eq!(counts(&sts, "staff"), (5, 0, 0));
    assert_eq!(counts(&sts, "services"), (4, 0, 0));
    assert!(
        sts.notes
            .iter()
            .any(|n| n.contains("sts-10006") && n.contains("MDS")),
        "the school doctor has no Carnet role and is named: {:?}",
        sts.notes
    );
    let school = School::new(store.clone(), uai(), AttendancePolicy::default());
    let (_, establishment) = fresh(store)
        .establishment
        .state(uai().as_str())
        .await
        .unwrap();
    let year = SchoolYear::starting(2026);
    let y = &establishment.years[&year];
    assert_eq!(
        (
            y.divisions["4A"].name.as_str(),
            y.divisions["4A"].level.as_str()
        ),
        ("4e A", "4e")
    );
    assert_eq!(y.divisions["3B"].level, "3e");
    assert_eq!(y.groups["4ESP2"].divisions, ["4A"]);
    let teacher = &establishment.staff["sts-10001"];
    assert_eq!(teacher.roles, [Role::Teacher].into());
    assert_eq!(
        store.vault().open(&uai(), &teacher.name).await.unwrap(),
        Some("Hélène Müller".to_string())
    );
    assert_eq!(establishment.staff["sts-10004"].roles, [Role::Cpe].into());
    assert_eq!(
        establishment.staff["sts-10005"].roles,
        [Role::Principal].into()
    );
    assert_eq!(
        establishment.subjects[&carnet_domain::enrolment::SubjectCode::parse("061300").unwrap()]
            .name,
        "Mathématiques"
    );

    // SIECLE next, in ISO-8859-15 as SIECLE writes it.
    let siecle_bytes = latin9(SIECLE);
    let siecle = run(
        store,
        Format::Siecle,
        "ElevesSansAdresses.xml",
        &siecle_bytes,
    )
    .await;
    assert_eq!(siecle.encoding, "ISO-8859-15");
    assert_eq!(counts(&siecle, "students"), (4, 0, 0));
    assert_eq!(
        counts(&siecle, "groups"),
        (1, 0, 0),
        "3LAT is only in SIECLE"
    );
    assert_eq!(counts(&siecle, "divisions"), (0, 0, 0));
    assert!(siecle.notes.iter().any(|n| n.contains("2345678901G")));
    let (_, helene) = fresh(store).students.state("070123456AB").await.unwrap();
    let on = NaiveDate::from_ymd_opt(2026, 9, 3).unwrap();
    let placement = helene.placement_on(on).unwrap();
    assert_eq!(
        (placement.division.as_str(), placement.groups),
        ("4A", vec!["4ESP2".to_string()])
    );
    let identity = helene.identity.clone().unwrap();
    assert_eq!(
        store
            .vault()
            .open(&uai(), &identity.first_name)
            .await
            .unwrap(),
        Some("Hélène".to_string())
    );
    let (_, oedipe) = fresh(store).students.state("090345678CD").await.unwrap();
    assert_eq!(
        store
            .vault()
            .open(&uai(), &oedipe.identity.unwrap().last_name)
            .await
            .unwrap(),
        Some("ŒDIPE".to_string()),
        "the usage name, accents and ligature intact"
    );
    let (_, zoe) = fresh(store).students.state("080234567BC").await.unwrap();
    assert_eq!(
        store
            .vault()
            .open(&uai(), &zoe.identity.unwrap().last_name)
            .await
            .unwrap(),
        Some("N'GUESSAN".to_string())
    );

    // Every event says which file, which bytes and which line made it.
    let events = store
        .read_stream(&uai(), &StreamRef::new("student", "070123456AB"), 0)
        .await
        .unwrap();
    let admitted = &events[0];
    assert_eq!(admitted.event_type, "StudentAdmitted");
    assert_eq!(admitted.metadata.source, Source::Import);
    assert_eq!(admitted.metadata.actor.as_deref(), Some("secretariat1"));
    let extra = &admitted.metadata.extra;
    assert_eq!(extra["import.format"], "siecle");
    assert_eq!(extra["import.file"], "ElevesSansAdresses.xml");
    assert_eq!(extra["import.sha256"], siecle.sha256);
    assert_eq!(
        extra["import.line"],
        line_of(SIECLE, "ELEVE_ID=\"500001\"").to_string()
    );
    assert_eq!(
        siecle.sha256,
        SourceFile::from_bytes("x", &siecle_bytes).unwrap().sha256
    );

    // The same files again: nothing to do.
    let before = head(store).await;
    let again = run(
        store,
        Format::Siecle,
        "ElevesSansAdresses.xml",
        &siecle_bytes,
    )
    .await;
    assert_eq!((again.events, again.changes.len()), (0, 0), "{again}");
    let again = run(
        store,
        Format::Sts,
        "sts_emp_0750655E_2026.xml",
        STS.as_bytes(),
    )
    .await;
    assert_eq!((again.events, again.changes.len()), (0, 0), "{again}");
    assert_eq!(head(store).await, before);

    // A student the secretariat admitted by hand is not the SIECLE file's to remove.
    let context = CommandContext {
        actor: Some("secretariat1".into()),
        source: Source::Api,
        ..Default::default()
    };
    school
        .students
        .execute(
            "walk-in",
            StudentCommand::Admit {
                student: "walk-in".into(),
                identity: Identity {
                    ine: Ine::parse("3456789012H").unwrap(),
                    last_name: "Nouveau".into(),
                    first_name: "Léa".into(),
                    birth_date: NaiveDate::from_ymd_opt(2013, 1, 1).unwrap(),
                },
                year: year.clone(),
                division: "4A".into(),
                groups: vec![],
                on: NaiveDate::from_ymd_opt(2026, 9, 10).unwrap(),
            },
            &context,
        )
        .await
        .unwrap();

    // A month later: Zoë moved to 3B, Hélène dropped Spanish, Maël left.
    let changed = SIECLE
        .replace("03/09/2026", "01/10/2026")
        .replace(
            "<STRUCTURES_ELEVE ELEVE_ID=\"500002\">\n        <STRUCTURE><CODE_STRUCTURE>4A</CODE_STRUCTURE>",
            "<STRUCTURES_ELEVE ELEVE_ID=\"500002\">\n        <STRUCTURE><CODE_STRUCTURE>3B</CODE_STRUCTURE>",
        )
        .replace(
            "<STRUCTURE><CODE_STRUCTURE>4ESP2</CODE_STRUCTURE><TYPE_STRUCTURE>G</TYPE_STRUCTURE></STRUCTURE>\n",
            "",
        );
    let start = changed.find("<ELEVE ELEVE_ID=\"500004\"").unwrap();
    let end = start + changed[start..].find("</ELEVE>").unwrap() + "</ELEVE>".len();
    let changed = format!("{}{}", &changed[..start], &changed[end..]).replace(
        "<STRUCTURES_ELEVE ELEVE_ID=\"500004\">",
        "<!-- gone -->\n      <STRUCTURES_ELEVE ELEVE_ID=\"500004-gone\">",
    );
    // The structures of a student the file no longer has are a problem of the file.
    let refused = import(
        store,
        Format::Siecle,
        &SourceFile::from_bytes("ElevesSansAdresses.xml", changed.as_bytes()).unwrap(),
        &options(),
    )
    .await;
    assert!(
        matches!(&refused, Err(ImportError::Invalid(p)) if p.len() == 1 && p[0].rule.contains("500004-gone")),
        "{refused:?}"
    );
    let start = changed.find("<!-- gone -->").unwrap();
    let end =
        start + changed[start..].find("</STRUCTURES_ELEVE>").unwrap() + "</STRUCTURES_ELEVE>".len();
    let changed = format!("{}{}", &changed[..start], &changed[end..]);
    let before = head(store).await;
    let diff = run(
        store,
        Format::Siecle,
        "ElevesSansAdresses-octobre.xml",
        changed.as_bytes(),
    )
    .await;
    assert_eq!(counts(&diff, "students"), (0, 2, 1), "{diff}");
    assert_eq!(diff.events, 3, "{diff}");
    assert_eq!(head(store).await, before + 3);
    let october = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let (_, zoe) = fresh(store).students.state("080234567BC").await.unwrap();
    assert_eq!(zoe.placement_on(october).unwrap().division, "3B");
    assert_eq!(zoe.placement_on(on).unwrap().division, "4A", "history kept");
    let (_, helene) = fresh(store).students.state("070123456AB").await.unwrap();
    assert!(helene.placement_on(october).unwrap().groups.is_empty());
    let (_, mael) = fresh(store).students.state("1234567890F").await.unwrap();
    assert_eq!(mael.departure.as_ref().map(|d| d.0), Some(october));
    let (_, walk_in) = fresh(store).students.state("walk-in").await.unwrap();
    assert!(walk_in.departure.is_none(), "admitted by hand, kept");

    // STS-Web without Aïcha N'Guessan: she leaves, her service ends.
    let start = STS.find("<INDIVIDU ID=\"10002\"").unwrap();
    let end = start + STS[start..].find("</INDIVIDU>").unwrap() + "</INDIVIDU>".len();
    let sts_changed = format!("{}{}", &STS[..start], &STS[end..]).replace(
        "<SERVICE CODE_MATIERE=\"061300\" CODE_MOD_COURS=\"CG\">\n              <ENSEIGNANTS><ENSEIGNANT ID=\"10002\" TYPE=\"epp\"/></ENSEIGNANTS>\n            </SERVICE>",
        "",
    ).replace("02/09/2026", "15/10/2026");
    let diff = run(
        store,
        Format::Sts,
        "sts_emp_0750655E_2026.xml",
        sts_changed.as_bytes(),
    )
    .await;
    assert_eq!(counts(&diff, "staff"), (0, 0, 1), "{diff}");
    assert_eq!(counts(&diff, "services"), (0, 0, 1), "{diff}");
    let (_, establishment) = fresh(store)
        .establishment
        .state(uai().as_str())
        .await
        .unwrap();
    assert_eq!(
        establishment.staff["sts-10002"].left_on,
        NaiveDate::from_ymd_opt(2026, 10, 15)
    );
    assert_eq!(establishment.years[&year].services.len(), 3);

    assert!(verify_tenant(store, &uai()).await.unwrap().is_intact());
}

async fn a_dry_run_writes_nothing(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let store = &ts.store;
    let source = SourceFile::from_bytes("sts.xml", STS.as_bytes()).unwrap();
    let dry = Options {
        dry_run: true,
        ..options()
    };
    let summary = import(store, Format::Sts, &source, &dry).await.unwrap();
    assert!(summary.dry_run);
    assert_eq!(counts(&summary, "staff"), (5, 0, 0));
    assert!(summary.events > 0);
    assert!(summary.to_string().contains("dry run: nothing was written"));
    assert!(
        store.tenants().await.unwrap().is_empty(),
        "not even the tenant"
    );
    // The file is for 0750655E: another establishment's import refuses it.
    let other = Options {
        tenant: Some(Uai::parse("0750656F").unwrap()),
        ..options()
    };
    assert!(matches!(
        import(store, Format::Sts, &source, &other).await,
        Err(ImportError::OtherEstablishment { .. })
    ));
}

async fn bad_files_list_every_problem_and_write_nothing(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let store = &ts.store;
    let bad = SIECLE
        .replace("070123456AB", "07012345")
        .replace("<PRENOM>Zoë</PRENOM>", "")
        .replace("30/06/2013", "2013-06-30")
        .replace("ELEVE_ID=\"500004\" ELENOET", "ELEVE_ID=\"500003\" ELENOET")
        .replace(
            "<STRUCTURES_ELEVE ELEVE_ID=\"500005\">",
            "<STRUCTURES_ELEVE ELEVE_ID=\"999999\">",
        );
    let source = SourceFile::from_bytes("ElevesSansAdresses.xml", bad.as_bytes()).unwrap();
    let Err(ImportError::Invalid(problems)) =
        import(store, Format::Siecle, &source, &options()).await
    else {
        panic!("a bad file is refused");
    };
    let found: Vec<(u32, &str)> = problems
        .iter()
        .map(|p| (p.at.line().unwrap(), p.field.as_str()))
        .collect();
    let line = |needle| line_of(&bad, needle);
    assert_eq!(
        found,
        [
            (line("ELEVE_ID=\"500001\""), "ID_NATIONAL"),
            (line("ELEVE_ID=\"500002\""), "PRENOM"),
            (line("ELEVE_ID=\"500002\""), "DATE_NAISS"),
            (line("ELEVE_ID=\"500003\" ELENOET=\"1004\""), "ELEVE_ID"),
            (line("<STRUCTURES_ELEVE ELEVE_ID=\"500004\""), "ELEVE_ID"),
            (line("ELEVE_ID=\"999999\""), "ELEVE_ID"),
        ],
        "{problems:#?}"
    );
    assert!(problems.iter().all(|p| p.file == "ElevesSansAdresses.xml"));
    assert!(
        problems[0].rule.contains("is not an INE"),
        "{}",
        problems[0]
    );
    assert!(problems[3].rule.contains("used twice"), "{}", problems[3]);

    // STS-Web: a service naming a teacher and a subject the file does not define, a group
    // drawn from an unknown division, a subject code that is not a BCN code.
    let bad = STS
        .replace("<ENSEIGNANT ID=\"10003\"", "<ENSEIGNANT ID=\"77777\"")
        .replace("CODE_MATIERE=\"061300\"", "CODE_MATIERE=\"069999\"")
        .replace(
            "<DIVISION_APPARTENANCE CODE=\"4A\"/>",
            "<DIVISION_APPARTENANCE CODE=\"4Z\"/>",
        )
        .replace("<MATIERE CODE=\"030602\">", "<MATIERE CODE=\"ESP\">");
    let source = SourceFile::from_bytes("sts.xml", bad.as_bytes()).unwrap();
    let Err(ImportError::Invalid(problems)) = import(store, Format::Sts, &source, &options()).await
    else {
        panic!("a bad file is refused");
    };
    let rules: Vec<&str> = problems.iter().map(|p| p.rule.as_str()).collect();
    assert_eq!(problems.len(), 5, "{problems:#?}");
    assert!(rules
        .iter()
        .any(|r| r.contains("`ESP` is not a subject code")));
    assert!(rules
        .iter()
        .any(|r| r.contains("subject 069999 is not among the file's MATIERES")));
    assert!(rules.iter().any(|r| r.contains("drawn from division 4Z")));
    assert!(rules
        .iter()
        .any(|r| r.contains("teacher 77777 is not among the file's INDIVIDUS")));
    // The Spanish service names the subject whose code was refused.
    assert!(rules
        .iter()
        .any(|r| r.contains("subject 030602 is not among")));

    // Truncated, and another kind of file.
    let cut = &STS[..STS.len() / 2];
    let source = SourceFile::from_bytes("sts.xml", cut.as_bytes()).unwrap();
    match import(store, Format::Sts, &source, &options()).await {
        Err(ImportError::Invalid(p)) => {
            assert_eq!(p.len(), 1);
            assert!(p[0].rule.contains("not well-formed XML"), "{}", p[0]);
        }
        other => panic!("{other:?}"),
    }
    let source = SourceFile::from_bytes("sts.xml", STS.as_bytes()).unwrap();
    match import(store, Format::Siecle, &source, &options()).await {
        Err(ImportError::Invalid(p)) => assert!(p[0].rule.contains("starts with <BEE_ELEVES>")),
        other => panic!("{other:?}"),
    }
    assert!(store.tenants().await.unwrap().is_empty());

    // A file whose rows the domain refuses is refused whole: the first import is fine,
    // then a file dated before it moves a student on a day before their admission.
    run(store, Format::Sts, "sts.xml", STS.as_bytes()).await;
    run(
        store,
        Format::Siecle,
        "ElevesSansAdresses.xml",
        SIECLE.as_bytes(),
    )
    .await;
    let before = head(store).await;
    let earlier = SIECLE
        .replace("<DATE_EXPORT>03/09/2026", "<DATE_EXPORT>01/09/2026")
        .replace(
            "<STRUCTURES_ELEVE ELEVE_ID=\"500002\">\n        <STRUCTURE><CODE_STRUCTURE>4A",
            "<STRUCTURES_ELEVE ELEVE_ID=\"500002\">\n        <STRUCTURE><CODE_STRUCTURE>3B",
        )
        .replace("</ELEVES>", "<ELEVE ELEVE_ID=\"500009\"><ID_NATIONAL>4567890123J</ID_NATIONAL><NOM_DE_FAMILLE>NEUF</NOM_DE_FAMILLE><PRENOM>Léo</PRENOM><DATE_NAISS>01/01/2013</DATE_NAISS></ELEVE></ELEVES>")
        .replace("</STRUCTURES>", "<STRUCTURES_ELEVE ELEVE_ID=\"500009\"><STRUCTURE><CODE_STRUCTURE>4A</CODE_STRUCTURE><TYPE_STRUCTURE>D</TYPE_STRUCTURE></STRUCTURE></STRUCTURES_ELEVE></STRUCTURES>");
    let source = SourceFile::from_bytes("old.xml", earlier.as_bytes()).unwrap();
    match import(store, Format::Siecle, &source, &options()).await {
        Err(ImportError::Invalid(p)) => {
            assert_eq!(p.len(), 1, "{p:#?}");
            assert_eq!(
                p[0].at.line(),
                Some(line_of(&earlier, "ELEVE_ID=\"500002\""))
            );
            assert_eq!(p[0].field, "student");
            assert!(p[0].rule.contains("01/09/2026"), "{}", p[0]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(head(store).await, before, "Léo was not admitted either");
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_builds_a_school_from_sts_and_siecle() {
    a_school_is_built_from_its_national_files(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_builds_a_school_from_sts_and_siecle() {
    a_school_is_built_from_its_national_files(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_dry_run_writes_nothing() {
    a_dry_run_writes_nothing(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_dry_run_writes_nothing() {
    a_dry_run_writes_nothing(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_refuses_bad_files_whole() {
    bad_files_list_every_problem_and_write_nothing(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_refuses_bad_files_whole() {
    bad_files_list_every_problem_and_write_nothing(BackendKind::Sqlite).await;
}
