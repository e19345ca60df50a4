//! SIECLE `ResponsablesAvecAdresses.xml` imports on both backends: the legal guardians of
//! the students linked with their rights, contacts left unlinked, the same file again
//! (nothing to do), a changed file (only the differences), a dry run, bad files (every
//! problem listed with its line, nothing written), the students' file found beside it,
//! the guardians' e-mail addresses and mobiles recorded (sealed) only when they change.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use carnet_domain::attendance::AttendancePolicy;
use carnet_domain::contact::{ContactCommand, ContactEvent, GuardianContact};
use carnet_domain::enrolment::{GuardianRights, Student};
use carnet_domain::Uai;
use carnet_importers::siecle_responsables::Bundle;
use carnet_importers::{
    import, import_input, import_path, Format, ImportError, Input, Options, SourceFile, Summary,
};
use carnet_store::aggregate::decode;
use carnet_store::testing::TestStore;
use carnet_store::{BackendKind, CommandContext, EventStore, School, StreamRef};
use chrono::NaiveDate;

const SIECLE: &str = include_str!("fixtures/ElevesSansAdresses.xml");
const RESPONSABLES: &str = include_str!("fixtures/ResponsablesAvecAdresses.xml");

fn uai() -> Uai {
    Uai::parse("0750655E").unwrap()
}

fn options() -> Options {
    Options::new("secretariat1", NaiveDate::from_ymd_opt(2026, 9, 3).unwrap())
}

/// SIECLE writes ISO-8859-15: the fixtures, encoded as SIECLE would.
fn latin9(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::ISO_8859_15.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

fn bundle(responsables: &str) -> Input {
    Input::SiecleResponsables(Bundle {
        responsables: SourceFile::from_bytes("ResponsablesAvecAdresses.xml", &latin9(responsables))
            .unwrap(),
        eleves: SourceFile::from_bytes("ElevesSansAdresses.xml", &latin9(SIECLE)).unwrap(),
    })
}

async fn try_responsables(
    store: &EventStore,
    responsables: &str,
    options: &Options,
) -> Result<Summary, ImportError> {
    import_input(
        store,
        Format::SiecleResponsables,
        &bundle(responsables),
        options,
    )
    .await
}

async fn responsables(store: &EventStore, responsables: &str) -> Summary {
    try_responsables(store, responsables, &options())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The students of the SIECLE fixture, admitted.
async fn students(store: &EventStore) {
    let source = SourceFile::from_bytes("ElevesSansAdresses.xml", &latin9(SIECLE)).unwrap();
    let summary = import(store, Format::Siecle, &source, &options())
        .await
        .unwrap();
    assert_eq!(counts(&summary, "students"), (4, 0, 0));
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

async fn student(store: &EventStore, ine: &str) -> Student {
    let school = School::new(store.clone(), uai(), AttendancePolicy::default());
    school.students.state(ine).await.unwrap().1
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

/// The guardians of a student: id → (name in clear, relationship, rights).
async fn guardians(
    store: &EventStore,
    ine: &str,
) -> Vec<(String, Option<String>, String, GuardianRights)> {
    let mut found = Vec::new();
    for (id, link) in student(store, ine).await.guardians {
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

/// The e-mail address and mobile Carnet holds for a guardian, opened with the vault;
/// `None` when it has no `guardian_contact` stream.
async fn contact(store: &EventStore, guardian: &str) -> Option<(Option<String>, Option<String>)> {
    let stream = StreamRef::new("guardian_contact", guardian);
    let mut held = None;
    for record in store.read_stream(&uai(), &stream, 0).await.unwrap() {
        if let ContactEvent::ContactRecorded { email, mobile, .. } =
            decode::<GuardianContact>(record).unwrap()
        {
            let mut opened = Vec::new();
            for value in [email, mobile] {
                opened.push(match value {
                    Some(sealed) => {
                        assert!(sealed.in_clear().is_none(), "the log holds it sealed");
                        store.vault().open(&uai(), &sealed).await.unwrap()
                    }
                    None => None,
                });
            }
            held = Some((opened[0].clone(), opened[1].clone()));
        }
    }
    held
}

fn both(email: Option<&str>, mobile: Option<&str>) -> Option<(Option<String>, Option<String>)> {
    Some((email.map(str::to_string), mobile.map(str::to_string)))
}

async fn guardians_addresses_are_recorded_when_they_change(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let store = &ts.store;
    students(store).await;

    let first = responsables(store, RESPONSABLES).await;
    assert_eq!(counts(&first, "contacts"), (5, 0, 0), "{first}");
    assert_eq!(
        contact(store, "siecle-resp-700101").await,
        both(Some("sophie.martin@exemple.fr"), Some("+33612345678")),
        "the mobile in E.164, not the landline of TEL_PERSONNEL"
    );
    assert_eq!(
        contact(store, "siecle-resp-700102").await,
        both(None, Some("+33623456789")),
        "Jérôme's malformed e-mail is left out, his mobile kept"
    );
    assert_eq!(
        contact(store, "siecle-resp-700201").await,
        both(Some("aicha.nguessan@exemple.fr"), Some("+33745678901"))
    );
    assert_eq!(
        contact(store, "siecle-resp-700301").await,
        both(Some("benedicte.roi@exemple.fr"), None),
        "trimmed; a landline in TEL_PERSONNEL and an empty TEL_PORTABLE: no mobile"
    );
    assert_eq!(
        contact(store, "siecle-resp-700401").await,
        both(Some("noemie.garcon@exemple.fr"), Some("+33781223344"))
    );
    assert_eq!(
        contact(store, "siecle-resp-700402").await,
        None,
        "no address in the file: nothing recorded"
    );
    for (person, who) in [
        ("700103", "a contact person"),
        ("700202", "a contact person"),
        ("700501", "the guardian of a student who left"),
    ] {
        assert_eq!(
            contact(store, &format!("siecle-resp-{person}")).await,
            None,
            "nothing is kept of {who}"
        );
    }

    // The malformed e-mail is a note naming file, line, person and field; Jérôme is
    // linked all the same.
    let typos: Vec<&String> = first
        .notes
        .iter()
        .filter(|n| n.contains("MEL") || n.contains("TEL_PORTABLE"))
        .collect();
    assert_eq!(typos.len(), 1, "{:?}", first.notes);
    let person_line = line_of(RESPONSABLES, "PERSONNE_ID=\"700102\"");
    let note = typos[0];
    assert!(note.starts_with("ResponsablesAvecAdresses.xml: "), "{note}");
    for needed in [
        format!("line {person_line} "),
        ": MEL: ".to_string(),
        "jerome.martin@exemple,fr".to_string(),
        "700102".to_string(),
        "Jérôme MARTIN".to_string(),
    ] {
        assert!(note.contains(&needed), "{needed} in {note}");
    }
    assert!(guardians(store, "070123456AB")
        .await
        .iter()
        .any(|g| g.0 == "siecle-resp-700102"));

    // Recorded with the import's provenance: the line of the PERSONNE.
    let events = store
        .read_stream(
            &uai(),
            &StreamRef::new("guardian_contact", "siecle-resp-700101"),
            0,
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let extra = &events[0].metadata.extra;
    assert_eq!(extra["import.format"], "siecle-responsables");
    assert_eq!(extra["import.file"], "ResponsablesAvecAdresses.xml");
    assert_eq!(extra["import.sha256"], first.sha256);
    assert_eq!(
        extra["import.line"],
        line_of(RESPONSABLES, "PERSONNE_ID=\"700101\"").to_string()
    );

    // The same file again: nothing to do.
    let before = head(store).await;
    let again = responsables(store, RESPONSABLES).await;
    assert!(again.changes.is_empty(), "{again}");
    assert_eq!(again.events, 0);
    assert_eq!(head(store).await, before);

    // Loïc gives his address to the secretariat; SIECLE has none: it stays.
    let school = School::new(store.clone(), uai(), AttendancePolicy::default());
    let by_hand = CommandContext {
        actor: Some("secretariat1".into()),
        role: Some("secretariat".into()),
        ..CommandContext::default()
    };
    school
        .contacts
        .execute(
            "siecle-resp-700402",
            ContactCommand::RecordContact {
                guardian: "siecle-resp-700402".into(),
                email: Some("loic.garcon@exemple.fr".into()),
                mobile: None,
                by: "secretariat1".into(),
            },
            &by_hand,
        )
        .await
        .unwrap();
    let before = head(store).await;
    let again = responsables(store, RESPONSABLES).await;
    assert!(again.changes.is_empty(), "{again}");
    assert_eq!(head(store).await, before);
    assert_eq!(
        contact(store, "siecle-resp-700402").await,
        both(Some("loic.garcon@exemple.fr"), None)
    );

    // A month later Sophie changed her e-mail address in SIECLE: one change.
    let moved = RESPONSABLES.replace("sophie.martin@exemple.fr", "sophie.martin@laposte.net");
    let diff = responsables(store, &moved).await;
    assert_eq!(counts(&diff, "contacts"), (0, 1, 0), "{diff}");
    assert_eq!(diff.changes.len(), 1, "only an address changes: {diff}");
    assert_eq!(diff.events, 1);
    assert_eq!(
        contact(store, "siecle-resp-700101").await,
        both(Some("sophie.martin@laposte.net"), Some("+33612345678"))
    );
    let settled = head(store).await;
    assert!(responsables(store, &moved).await.changes.is_empty());
    assert_eq!(head(store).await, settled);

    // The school corrects Jérôme's typo, and Aïcha's e-mail, which SIECLE gave, is no
    // longer in SIECLE: the one recorded, the other removed.
    let fixed = moved
        .replace("jerome.martin@exemple,fr", "jerome.martin@exemple.fr")
        .replace("        <MEL>aicha.nguessan@exemple.fr</MEL>\n", "");
    let diff = responsables(store, &fixed).await;
    assert_eq!(counts(&diff, "contacts"), (0, 2, 0), "{diff}");
    assert!(
        !diff.notes.iter().any(|n| n.contains("MEL")),
        "{:?}",
        diff.notes
    );
    assert_eq!(
        contact(store, "siecle-resp-700102").await,
        both(Some("jerome.martin@exemple.fr"), Some("+33623456789"))
    );
    assert_eq!(
        contact(store, "siecle-resp-700201").await,
        both(None, Some("+33745678901"))
    );

    // A new typo does not take away the address Carnet holds.
    let typo = fixed.replace("jerome.martin@exemple.fr", "jerome.martin@exemple");
    let diff = responsables(store, &typo).await;
    assert!(diff.changes.is_empty(), "{diff}");
    assert!(diff
        .notes
        .iter()
        .any(|n| n.contains("jerome.martin@exemple`")));
    assert_eq!(
        contact(store, "siecle-resp-700102").await,
        both(Some("jerome.martin@exemple.fr"), Some("+33623456789"))
    );
}

async fn legal_guardians_are_linked_and_only_changes_apply(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let store = &ts.store;
    students(store).await;

    let first = responsables(store, RESPONSABLES).await;
    assert_eq!(first.format, Format::SiecleResponsables);
    assert_eq!(first.encoding, "ISO-8859-15");
    assert_eq!(first.rows, 9, "every RESPONSABLE_ELEVE is read");
    assert_eq!(counts(&first, "guardians"), (6, 0, 0), "{first}");
    assert!(
        first.notes.iter().any(|n| n.starts_with("2 contact")),
        "the two contact persons are named in the notes: {:?}",
        first.notes
    );
    assert!(
        first.notes.iter().any(|n| n.contains("2345678901G")),
        "Inès left before the year: {:?}",
        first.notes
    );
    assert_eq!(
        guardians(store, "070123456AB").await,
        [
            full("siecle-resp-700101", "Sophie MARTIN", "mère"),
            full("siecle-resp-700102", "Jérôme MARTIN", "père"),
        ],
        "the grandmother, a contact person (RESP_LEGAL 0), is not linked"
    );
    assert_eq!(
        guardians(store, "080234567BC").await,
        [full("siecle-resp-700201", "Aïcha N'GUESSAN", "mère")]
    );
    assert_eq!(
        guardians(store, "090345678CD").await,
        [full("siecle-resp-700301", "Bénédicte ROI", "tuteur")],
        "the usage name, and the tutor's relationship in words"
    );
    assert_eq!(
        guardians(store, "1234567890F").await,
        [
            full("siecle-resp-700401", "Noémie GARÇON", "mère"),
            full("siecle-resp-700402", "Loïc GARÇON", "père"),
        ]
    );

    // The events say which file, which bytes and which line linked the guardian.
    let events = store
        .read_stream(&uai(), &StreamRef::new("student", "070123456AB"), 0)
        .await
        .unwrap();
    let linked = events
        .iter()
        .find(|e| e.event_type == "GuardianLinked")
        .unwrap();
    let extra = &linked.metadata.extra;
    assert_eq!(extra["import.format"], "siecle-responsables");
    assert_eq!(extra["import.file"], "ResponsablesAvecAdresses.xml");
    assert_eq!(extra["import.sha256"], first.sha256);
    assert_eq!(
        extra["import.line"],
        (line_of(RESPONSABLES, "<PERSONNE_ID>700101</PERSONNE_ID>") - 2).to_string(),
        "the line of its RESPONSABLE_ELEVE"
    );

    // The same file again: nothing to do.
    let before = head(store).await;
    let again = responsables(store, RESPONSABLES).await;
    assert!(again.changes.is_empty(), "{again}");
    assert_eq!(again.events, 0);
    assert_eq!(head(store).await, before);

    // A month later: Maël's father is no longer listed, Hélène's father is now only a
    // person to contact.
    let changed = RESPONSABLES
        .replace(
            "<PERSONNE_ID>700102</PERSONNE_ID>\n        <RESP_LEGAL>2</RESP_LEGAL>",
            "<PERSONNE_ID>700102</PERSONNE_ID>\n        <RESP_LEGAL>0</RESP_LEGAL>",
        )
        .replace(
            "      <RESPONSABLE_ELEVE>
        <ELEVE_ID>500004</ELEVE_ID>
        <PERSONNE_ID>700402</PERSONNE_ID>
        <RESP_LEGAL>2</RESP_LEGAL>
        <CODE_PARENTE>20</CODE_PARENTE>
        <RESP_FINANCIER>0</RESP_FINANCIER>
        <PERS_PAIMENT>0</PERS_PAIMENT>
        <PERS_CONTACT>0</PERS_CONTACT>
      </RESPONSABLE_ELEVE>
",
            "",
        );
    assert_ne!(changed, RESPONSABLES);
    assert_eq!(changed.matches("<RESPONSABLE_ELEVE>").count(), 8);

    // Dry, it says what it would do and writes nothing.
    let mut dry = options();
    dry.dry_run = true;
    let planned = try_responsables(store, &changed, &dry).await.unwrap();
    assert_eq!(counts(&planned, "guardians"), (0, 0, 2), "{planned}");
    assert_eq!(head(store).await, before, "a dry run writes nothing");

    let diff = responsables(store, &changed).await;
    assert_eq!(counts(&diff, "guardians"), (0, 0, 2), "{diff}");
    assert_eq!(diff.changes.len(), 1, "only guardians change: {diff}");
    assert_eq!(
        guardians(store, "070123456AB").await,
        [full("siecle-resp-700101", "Sophie MARTIN", "mère")]
    );
    assert_eq!(
        guardians(store, "1234567890F").await,
        [full("siecle-resp-700401", "Noémie GARÇON", "mère")]
    );
    assert_eq!(guardians(store, "080234567BC").await.len(), 1);
    assert_eq!(guardians(store, "090345678CD").await.len(), 1);

    // And the changed file again: nothing.
    let settled = head(store).await;
    let again = responsables(store, &changed).await;
    assert!(again.changes.is_empty(), "{again}");
    assert_eq!(head(store).await, settled);
}

async fn bad_files_are_refused_whole(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let store = &ts.store;
    students(store).await;
    let before = head(store).await;

    // A student the students' file does not have, a person the file does not define, a
    // relationship code SIECLE does not have.
    let bad = RESPONSABLES
        .replace("<ELEVE_ID>500003</ELEVE_ID>", "<ELEVE_ID>599999</ELEVE_ID>")
        .replace(
            "<PERSONNE_ID>700401</PERSONNE_ID>",
            "<PERSONNE_ID>799999</PERSONNE_ID>",
        )
        .replace(
            "<PERSONNE_ID>700201</PERSONNE_ID>
        <RESP_LEGAL>1</RESP_LEGAL>
        <CODE_PARENTE>10</CODE_PARENTE>",
            "<PERSONNE_ID>700201</PERSONNE_ID>
        <RESP_LEGAL>1</RESP_LEGAL>
        <CODE_PARENTE>11</CODE_PARENTE>",
        );
    let Err(ImportError::Invalid(problems)) = try_responsables(store, &bad, &options()).await
    else {
        panic!("a bad file is refused");
    };
    let found: Vec<(u32, &str)> = problems
        .iter()
        .map(|p| (p.at.line().unwrap(), p.field.as_str()))
        .collect();
    let opening = |needle| line_of(&bad, needle) - 2;
    assert_eq!(
        found,
        [
            (opening("<PERSONNE_ID>700201</PERSONNE_ID>"), "CODE_PARENTE"),
            (opening("<PERSONNE_ID>700301</PERSONNE_ID>"), "ELEVE_ID"),
            (opening("<PERSONNE_ID>799999</PERSONNE_ID>"), "PERSONNE_ID"),
        ],
        "{problems:#?}"
    );
    assert!(problems
        .iter()
        .all(|p| p.file == "ResponsablesAvecAdresses.xml"));
    assert!(problems[1].rule.contains("599999"), "{}", problems[1]);
    assert!(
        problems[1].rule.contains("ElevesSansAdresses.xml"),
        "{}",
        problems[1]
    );
    assert!(problems[2].rule.contains("799999"), "{}", problems[2]);
    assert_eq!(head(store).await, before, "nothing is written");
    assert!(student(store, "070123456AB").await.guardians.is_empty());

    // Entities are refused as in every XML import.
    let entities = RESPONSABLES.replace(
        "<BEE_RESPONSABLES VERSION",
        "<!DOCTYPE BEE_RESPONSABLES [<!ENTITY a \"aaaa\">]>\n<BEE_RESPONSABLES VERSION",
    );
    match try_responsables(store, &entities, &options()).await {
        Err(ImportError::Invalid(p)) => assert!(p[0].rule.contains("<!ENTITY"), "{}", p[0]),
        other => panic!("entities are refused: {other:?}"),
    }

    // The students' file of another establishment.
    let other = Input::SiecleResponsables(Bundle {
        responsables: SourceFile::from_bytes(
            "ResponsablesAvecAdresses.xml",
            RESPONSABLES.as_bytes(),
        )
        .unwrap(),
        eleves: SourceFile::from_bytes(
            "ElevesSansAdresses.xml",
            SIECLE.replace("0750655E", "0750656F").as_bytes(),
        )
        .unwrap(),
    });
    match import_input(store, Format::SiecleResponsables, &other, &options()).await {
        Err(ImportError::Invalid(p)) => {
            assert!(
                p.iter()
                    .any(|p| p.file == "ElevesSansAdresses.xml" && p.field == "UAJ"),
                "{p:#?}"
            );
        }
        other => panic!("another establishment's students are refused: {other:?}"),
    }
    assert_eq!(head(store).await, before, "nothing is written");
}

async fn the_students_file_is_found_beside_it(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let store = &ts.store;
    students(store).await;
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("ResponsablesAvecAdresses.xml");
    std::fs::write(&file, latin9(RESPONSABLES)).unwrap();

    // Alone, the file cannot say who the students are: refused, naming what is missing.
    let before = head(store).await;
    match import_path(store, Format::SiecleResponsables, &file, &options()).await {
        Err(ImportError::Invalid(p)) => {
            assert_eq!(p.len(), 1);
            assert!(p[0].rule.contains("ElevesSansAdresses.xml"), "{}", p[0]);
        }
        other => panic!("the students' file is needed: {other:?}"),
    }
    assert_eq!(head(store).await, before);

    // Beside it, it is read: given the file, or the folder of the export.
    std::fs::write(folder.path().join("ElevesSansAdresses.xml"), latin9(SIECLE)).unwrap();
    let mut dry = options();
    dry.dry_run = true;
    let planned = import_path(store, Format::SiecleResponsables, &file, &dry)
        .await
        .unwrap();
    assert_eq!(counts(&planned, "guardians"), (6, 0, 0), "{planned}");
    let summary = import_path(store, Format::SiecleResponsables, folder.path(), &options())
        .await
        .unwrap();
    assert_eq!(counts(&summary, "guardians"), (6, 0, 0), "{summary}");
    assert_eq!(
        Format::parse("siecle-responsables"),
        Some(Format::SiecleResponsables)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_links_legal_guardians_and_only_changes() {
    legal_guardians_are_linked_and_only_changes_apply(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_links_legal_guardians_and_only_changes() {
    legal_guardians_are_linked_and_only_changes_apply(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_records_guardians_addresses_when_they_change() {
    guardians_addresses_are_recorded_when_they_change(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_records_guardians_addresses_when_they_change() {
    guardians_addresses_are_recorded_when_they_change(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_refuses_bad_responsables_whole() {
    bad_files_are_refused_whole(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_refuses_bad_responsables_whole() {
    bad_files_are_refused_whole(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_reads_the_students_file_beside_it() {
    the_students_file_is_found_beside_it(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_reads_the_students_file_beside_it() {
    the_students_file_is_found_beside_it(BackendKind::Sqlite).await;
}
