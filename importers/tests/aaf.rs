//! AAF exports (the ENT's annuaire académique fédérateur files) on both backends: a full
//! import of an export's folder (students with their divisions and groups, legal
//! guardians with their rights, staff with their roles, everyone's ENT identifiers), a
//! dry run, the same export again (nothing to do), broken files (every problem with its
//! file and line, nothing written), the records of another establishment left aside.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::collections::BTreeMap;
use std::path::Path;

use carnet_domain::attendance::AttendancePolicy;
use carnet_domain::enrolment::{Establishment, GuardianRights, PersonKind, Role, Student};
use carnet_domain::Uai;
use carnet_importers::{import_path, Format, ImportError, Options, Summary};
use carnet_store::testing::TestStore;
use carnet_store::{BackendKind, EventStore, School, StreamRef};
use chrono::NaiveDate;

const PREFIX: &str = "ENT2D.AAF_0750655E_Complet_20260915";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/aaf");

fn uai() -> Uai {
    Uai::parse("0750655E").unwrap()
}

fn other_uai() -> Uai {
    Uai::parse("0691234S").unwrap()
}

fn options(tenant: &Uai) -> Options {
    let mut options = Options::new("admin1", NaiveDate::from_ymd_opt(2026, 9, 20).unwrap());
    options.tenant = Some(tenant.clone());
    options
}

fn file_name(category: &str) -> String {
    format!("{PREFIX}_{category}_0000.xml")
}

fn fixture(category: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(file_name(category))).unwrap()
}

/// A folder holding the export, with `changes` (category, new text) made to it.
fn export(changes: &[(&str, String)]) -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap();
    for category in ["Eleve", "PersRelEleve", "PersEducNat", "EtabEducNat"] {
        let text = changes
            .iter()
            .find(|(c, _)| *c == category)
            .map_or_else(|| fixture(category), |(_, t)| t.clone());
        std::fs::write(folder.path().join(file_name(category)), text).unwrap();
    }
    // A category Carnet does not read, as real exports have.
    std::fs::write(
        folder.path().join(file_name("MefEducNat")),
        "<ficAlimMENESR></ficAlimMENESR>",
    )
    .unwrap();
    folder
}

async fn run(store: &EventStore, path: &Path, options: &Options) -> Result<Summary, ImportError> {
    import_path(store, Format::Aaf, path, options).await
}

async fn head(store: &EventStore) -> i64 {
    store
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.head)
        .sum()
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

fn school(store: &EventStore, uai: &Uai) -> School {
    School::new(store.clone(), uai.clone(), AttendancePolicy::default())
}

async fn student(store: &EventStore, uai: &Uai, ine: &str) -> Student {
    school(store, uai).students.state(ine).await.unwrap().1
}

async fn establishment(store: &EventStore, uai: &Uai) -> Establishment {
    school(store, uai)
        .establishment
        .state(uai.as_str())
        .await
        .unwrap()
        .1
}

/// The guardians of a student: id → (name in clear, relationship, rights).
async fn guardians(
    store: &EventStore,
    ine: &str,
) -> Vec<(String, Option<String>, String, GuardianRights)> {
    let mut found = Vec::new();
    for (id, link) in student(store, &uai(), ine).await.guardians {
        let name = store.vault().open(&uai(), &link.name).await.unwrap();
        found.push((id, name, link.relationship, link.rights));
    }
    found
}

fn full(
    id: &str,
    name: &str,
    relationship: &str,
) -> (String, Option<String>, String, GuardianRights) {
    (
        id.to_string(),
        Some(name.to_string()),
        relationship.to_string(),
        GuardianRights::FULL,
    )
}

async fn a_full_export_is_imported_once(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let store = &ts.store;
    let folder = export(&[]);

    // A dry run plans everything and writes nothing.
    let mut dry = options(&uai());
    dry.dry_run = true;
    let planned = run(store, folder.path(), &dry).await.unwrap();
    assert_eq!(counts(&planned, "students"), (3, 0, 0), "{planned}");
    assert_eq!(head(store).await, 0, "a dry run writes nothing");

    let first = run(store, folder.path(), &options(&uai())).await.unwrap();
    assert_eq!(first.format, Format::Aaf);
    assert_eq!(first.events, planned.events);
    assert_eq!(counts(&first, "students"), (3, 0, 0), "{first}");
    assert_eq!(counts(&first, "divisions"), (2, 0, 0), "{first}");
    assert_eq!(counts(&first, "groups"), (1, 0, 0), "{first}");
    assert_eq!(counts(&first, "guardians"), (4, 0, 0), "{first}");
    assert_eq!(counts(&first, "staff"), (3, 0, 0), "{first}");
    assert_eq!(counts(&first, "identifiers"), (9, 0, 0), "{first}");
    let notes = first.notes.join("\n");
    for note in [
        "1 students of other establishments",
        "1 staff of other establishments",
        "aaf-2397812 (Anne FAURE) has function ORI (ORIENTATION)",
        "1 contact or other persons",
        "MefEducNat_0000.xml: not an AAF category",
    ] {
        assert!(notes.contains(note), "{note}: {notes}");
    }

    // Students, with division and groups; the other establishment's is not here.
    let lea = student(store, &uai(), "070123456AB").await;
    let stint = lea.stints.last().unwrap();
    assert_eq!(stint.division, "6A");
    assert_eq!(
        stint
            .groups
            .iter()
            .map(|g| g.group.as_str())
            .collect::<Vec<_>>(),
        ["6LAT"]
    );
    assert!(student(store, &uai(), "071234567EF")
        .await
        .stints
        .is_empty());
    // Legal guardians with every right, relationship from the lien code; the contact
    // is not linked.
    assert_eq!(
        guardians(store, "070123456AB").await,
        [
            full("aaf-resp-2867253", "Sophie MARTIN", "mère"),
            full("aaf-resp-2867254", "Paul MARTIN", "père"),
        ]
    );
    assert_eq!(
        guardians(store, "080234567BC").await,
        [full("aaf-resp-2866658", "Hélène DURAND", "mère")]
    );

    // Staff with the roles of their functions, and everyone's ENT identifier.
    let state = establishment(store, &uai()).await;
    let roles: BTreeMap<&str, Vec<Role>> = state
        .staff
        .iter()
        .map(|(id, m)| (id.as_str(), m.roles.iter().copied().collect()))
        .collect();
    assert_eq!(
        roles,
        BTreeMap::from([
            ("aaf-2397809", vec![Role::Teacher]),
            ("aaf-2397810", vec![Role::Cpe]),
            ("aaf-2397811", vec![Role::Principal]),
        ])
    );
    let holders: BTreeMap<&str, (&str, PersonKind, &str)> = state
        .external_ids
        .iter()
        .map(|(value, link)| {
            (
                value.as_str(),
                (link.person.as_str(), link.kind, link.scheme.as_str()),
            )
        })
        .collect();
    assert_eq!(holders.len(), 9, "{holders:#?}");
    assert_eq!(
        holders["2605692"],
        ("070123456AB", PersonKind::Student, "ENTPersonJointure")
    );
    assert_eq!(
        holders["2866658"],
        (
            "aaf-resp-2866658",
            PersonKind::Guardian,
            "ENTPersonJointure"
        )
    );
    assert_eq!(
        holders["2397809"],
        ("aaf-2397809", PersonKind::Staff, "ENTPersonJointure")
    );

    // The events name the export, its file and the record's line.
    let events = store
        .read_stream(&uai(), &StreamRef::new("student", "070123456AB"), 0)
        .await
        .unwrap();
    let extra = &events[0].metadata.extra;
    assert_eq!(extra["import.format"], "aaf");
    assert_eq!(extra["import.sha256"], first.sha256);
    assert!(
        extra["import.element"].starts_with(&file_name("Eleve")),
        "{extra:?}"
    );
    assert_eq!(
        extra["import.line"],
        (line_of(&fixture("Eleve"), "<id>2605692</id>") - 2).to_string()
    );

    // The same export again: nothing to do.
    let before = head(store).await;
    let again = run(store, folder.path(), &options(&uai())).await.unwrap();
    assert!(again.changes.is_empty(), "{again}");
    assert_eq!(again.events, 0);
    assert_eq!(head(store).await, before);
}

async fn broken_files_write_nothing(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let store = &ts.store;
    let eleve = fixture("Eleve")
        .replace("<attr name=\"ENTEleveINE\"><value>080234567BC</value></attr>\n", "")
        .replace("2866658$2$1$1$0$0</value></attr>\n<attr name=\"ENTEleveMEF\"><value>10010012110</value></attr>\n<attr name=\"ENTEleveNivFormation\"><value>6EME</value></attr>\n<attr name=\"ENTPersonStructRattach\"><value>4120</value></attr>\n<attr name=\"ENTEleveClasses\"><value>4120$6B</value></attr>\n<attr name=\"ENTEleveGroupes\"><value>4120$6LAT", "2866658$2$1$9$0$0</value></attr>\n<attr name=\"ENTEleveMEF\"><value>10010012110</value></attr>\n<attr name=\"ENTEleveNivFormation\"><value>6EME</value></attr>\n<attr name=\"ENTPersonStructRattach\"><value>4120</value></attr>\n<attr name=\"ENTEleveClasses\"><value>4120$6B</value></attr>\n<attr name=\"ENTEleveGroupes\"><value>4120$6LAT")
        .replace("<value>14/09/2014</value>", "<value>2014-31-12</value>");
    let folder = export(&[("Eleve", eleve.clone())]);
    let Err(ImportError::Invalid(problems)) = run(store, folder.path(), &options(&uai())).await
    else {
        panic!("a broken export is refused");
    };
    let found: Vec<(&str, u32, &str)> = problems
        .iter()
        .map(|p| (p.file.as_str(), p.at.line().unwrap(), p.field.as_str()))
        .collect();
    let eleve_file = file_name("Eleve");
    assert_eq!(
        found,
        [
            (
                eleve_file.as_str(),
                line_of(&eleve, "2014-31-12"),
                "ENTPersonDateNaissance"
            ),
            (
                eleve_file.as_str(),
                line_of(&eleve, "<id>2605693</id>") - 2,
                "ENTEleveINE"
            ),
            (
                eleve_file.as_str(),
                line_of(&eleve, "2866658$2$1$9$0$0"),
                "ENTElevePersRelEleve"
            ),
        ],
        "{problems:#?}"
    );
    assert!(
        problems[1].rule.contains("Eleve 2605693"),
        "{}",
        problems[1]
    );
    assert!(
        problems[2].rule.contains("RESP_LEGAL `9`"),
        "{}",
        problems[2]
    );
    assert_eq!(head(store).await, 0, "nothing is written");

    // A file that is not well-formed XML: its line.
    let cut = fixture("PersRelEleve")
        .replace("</addRequest>\n<addRequest>", "</addRequest>\n<addRequest");
    let folder = export(&[("PersRelEleve", cut)]);
    let Err(ImportError::Invalid(problems)) = run(store, folder.path(), &options(&uai())).await
    else {
        panic!("malformed XML is refused");
    };
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].file, file_name("PersRelEleve"));
    assert_eq!(problems[0].field, "XML");
    assert!(problems[0].at.line().is_some());

    // Hostile input: an entity declaration is refused at once, with its line.
    let bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE ficAlimMENESR [\n <!ENTITY a \"aaaa\">\n]>\n\
                <ficAlimMENESR>&a;&a;&a;</ficAlimMENESR>";
    let folder = export(&[("Eleve", bomb.to_string())]);
    let Err(ImportError::Invalid(problems)) = run(store, folder.path(), &options(&uai())).await
    else {
        panic!("an entity bomb is refused");
    };
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(
        (
            problems[0].file.as_str(),
            problems[0].at.line(),
            problems[0].field.as_str()
        ),
        (file_name("Eleve").as_str(), Some(3), "XML")
    );

    // A delta is refused: it lists only what changed.
    let delta = tempfile::tempdir().unwrap();
    let name = file_name("Eleve").replace("_Complet_", "_Delta_");
    std::fs::write(delta.path().join(&name), fixture("Eleve")).unwrap();
    let Err(ImportError::Invalid(problems)) = run(store, delta.path(), &options(&uai())).await
    else {
        panic!("a delta is refused");
    };
    assert_eq!(problems[0].file, name);

    // The students' file alone names establishments by their jointure: it needs the
    // EtabEducNat file to know which is which.
    let folder = export(&[]);
    let alone = folder.path().join(file_name("Eleve"));
    let Err(ImportError::Invalid(problems)) = run(store, &alone, &options(&uai())).await else {
        panic!("structures without EtabEducNat are refused");
    };
    assert!(problems[0].rule.contains("EtabEducNat"), "{}", problems[0]);
    assert_eq!(head(store).await, 0, "nothing is written");
}

async fn other_establishments_are_left_aside(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let store = &ts.store;
    let folder = export(&[]);

    // The export is about two establishments: which one is for the importer to say.
    let mut unsaid = options(&uai());
    unsaid.tenant = None;
    let Err(ImportError::Invalid(problems)) = run(store, folder.path(), &unsaid).await else {
        panic!("an académie's export needs the UAI");
    };
    assert!(
        problems[0].rule.contains("0691234S, 0750655E"),
        "{}",
        problems[0]
    );
    let absent = Uai::parse("0010001W").unwrap();
    let Err(ImportError::Invalid(problems)) = run(store, folder.path(), &options(&absent)).await
    else {
        panic!("an establishment the export does not have is refused");
    };
    assert!(
        problems[0].rule.contains("no establishment 0010001W"),
        "{}",
        problems[0]
    );
    assert_eq!(head(store).await, 0);

    // The other establishment of the export: its people only.
    let summary = run(store, folder.path(), &options(&other_uai()))
        .await
        .unwrap();
    assert_eq!(summary.establishment, other_uai());
    assert_eq!(counts(&summary, "students"), (1, 0, 0), "{summary}");
    assert_eq!(counts(&summary, "guardians"), (1, 0, 0), "{summary}");
    assert_eq!(counts(&summary, "staff"), (1, 0, 0), "{summary}");
    let notes = summary.notes.join("\n");
    assert!(
        notes.contains("3 students of other establishments"),
        "{notes}"
    );
    assert!(notes.contains("4 staff of other establishments"), "{notes}");
    let noe = student(store, &other_uai(), "071234567EF").await;
    assert_eq!(noe.stints.last().unwrap().division, "5C");
    assert!(student(store, &other_uai(), "070123456AB")
        .await
        .stints
        .is_empty());
    assert_eq!(Format::parse("aaf"), Some(Format::Aaf));
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_imports_a_full_aaf_export_once() {
    a_full_export_is_imported_once(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_imports_a_full_aaf_export_once() {
    a_full_export_is_imported_once(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_refuses_broken_aaf_files_whole() {
    broken_files_write_nothing(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_refuses_broken_aaf_files_whole() {
    broken_files_write_nothing(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_leaves_other_establishments_aside() {
    other_establishments_are_left_aside(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_leaves_other_establishments_aside() {
    other_establishments_are_left_aside(BackendKind::Sqlite).await;
}
