//! UDT (UnDeuxTEMPS) timetable imports on both backends, from an export shaped as the one
//! UDT writes for the ENT (the files and records Open ENT NG's feeder reads, see
//! importers/src/udt/mod.rs): the lessons become courses, weeks A and B come from the
//! weekly timetables, the same export again changes nothing, a broken export is refused
//! whole with every problem's file and line, a dry run writes nothing.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use carnet_domain::attendance::AttendancePolicy;
use carnet_domain::enrolment::SchoolYear;
use carnet_domain::timetable::{CourseSpec, Timetable, WeekPattern};
use carnet_domain::Uai;
use carnet_importers::{import_path, udt, Format, ImportError, Options};
use carnet_store::testing::TestStore;
use carnet_store::verify::verify_tenant;
use carnet_store::{BackendKind, EventStore, School};
use chrono::{NaiveDate, NaiveTime, Weekday};

fn uai() -> Uai {
    Uai::parse("0750655E").unwrap()
}

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn export() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/udt")
}

/// The export's files, as (name, bytes).
fn files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(export())
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// The export as UDT delivers it: a zip named after the establishment and the hour.
fn zip_export(dir: &Path, files: &[(String, Vec<u8>)]) -> PathBuf {
    let path = dir.join("0750655E_20260828120000_UDT.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in files {
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    path
}

/// The export's files written to `dir`, `change` applied to each file's text.
fn folder_export(dir: &Path, change: impl Fn(&str, String) -> Option<String>) -> PathBuf {
    let folder = dir.join("export");
    std::fs::create_dir_all(&folder).unwrap();
    for (name, bytes) in files() {
        let text: String = bytes.iter().map(|b| char::from(*b)).collect(); // ISO-8859-1
        if let Some(text) = change(&name, text) {
            let latin1: Vec<u8> = text.chars().map(|c| u8::try_from(c).unwrap()).collect();
            std::fs::write(folder.join(&name), latin1).unwrap();
        }
    }
    folder
}

fn options() -> Options {
    let mut options = Options::new("secretariat1", NaiveDate::from_ymd_opt(2026, 9, 1).unwrap());
    options.tenant = Some(uai());
    options.year = Some(SchoolYear::starting(2026));
    options
}

async fn store(kind: BackendKind) -> TestStore {
    let ts = TestStore::new(kind).await;
    ts.store
        .create_tenant(&uai(), "Collège Jean Moulin", "Europe/Paris")
        .await
        .unwrap();
    ts
}

async fn timetable(store: &EventStore) -> Timetable {
    let school = School::new(store.clone(), uai(), AttendancePolicy::default());
    school.timetable.state("2026-2027").await.unwrap().1
}

/// The courses by id, with their teachers' names opened.
async fn courses(store: &EventStore) -> BTreeMap<String, (CourseSpec, Vec<String>)> {
    let school = School::new(store.clone(), uai(), AttendancePolicy::default());
    let (_, establishment) = school.establishment.state(uai().as_str()).await.unwrap();
    let mut found = BTreeMap::new();
    for course in timetable(store).await.courses() {
        let mut names = Vec::new();
        for id in &course.teachers {
            let name = &establishment.staff[id].name;
            names.push(store.vault().open(&uai(), name).await.unwrap().unwrap());
        }
        found.insert(course.id.clone(), (course.clone(), names));
    }
    found
}

async fn head(store: &EventStore) -> i64 {
    store.tenants().await.unwrap()[0].head
}

async fn udt_lessons_become_courses(kind: BackendKind) {
    let ts = store(kind).await;
    let store = &ts.store;
    let summary = import_path(store, Format::Udt, &export(), &options())
        .await
        .unwrap();
    assert_eq!(summary.format, Format::Udt);
    assert_eq!(summary.encoding, "windows-1252", "{summary}");
    assert_eq!(summary.rows, 19, "{summary}");
    assert_eq!(summary.changes["courses"].created, 7, "{summary}");
    assert_eq!(summary.changes["divisions"].created, 2, "{summary}");
    assert_eq!(summary.changes["groups"].created, 3, "{summary}");
    assert_eq!(summary.changes["staff"].created, 3, "{summary}");
    assert!(
        summary.notes.iter().any(|n| n.contains("1 line(s)")),
        "{summary}"
    );
    let found = courses(store).await;
    assert_eq!(found.len(), 7, "{:?}", found.keys());

    // Four half-sequences in a row: one course, Monday 08:00 to 09:55, in room 101.
    let (french, names) = &found["udt-6A-FRANC-P01-_-1-1"];
    assert_eq!(
        (french.weekday, french.start, french.end),
        (Weekday::Mon, t(8, 0), t(9, 55))
    );
    assert_eq!(
        (french.subject.as_str(), french.room.as_deref()),
        ("FRANÇAIS", Some("101"))
    );
    assert_eq!(names, &["Hélène MÜLLER"]);
    assert_eq!(french.divisions, ["6A"]);
    assert_eq!(french.weeks, WeekPattern::Every);
    // A co-teaching (UDCal_23): two teachers.
    let (maths, names) = &found["udt-6A-MATHS-P02-_-2-1"];
    assert_eq!((maths.weekday, maths.end), (Weekday::Tue, t(8, 55)));
    assert_eq!(names, &["Aïcha N'GUESSAN", "Marc LEFEBVRE"]);
    // A regroupement of two divisions: one course, a group drawn from both.
    let latin = &found["udt-_-LATIN-P01-rR1-4-3"].0;
    assert_eq!(
        (
            latin.weekday,
            latin.start,
            latin.end,
            latin.groups.as_slice()
        ),
        (Weekday::Thu, t(9, 0), t(9, 55), &["LATIN6".to_string()][..])
    );
    // A line without room.
    assert_eq!(found["udt-6B-FRANC-P01-_-3-1"].0.room, None);
    assert_eq!(found["udt-6B-MATHS-P02-_-1-5"].0.start, t(10, 10));
}

/// Half-classes side by side in one slot, one in week A, the other in week B: the weekly
/// timetables (UDCal_12_36: week A, UDCal_12_37: week B) tell which.
async fn udt_weeks_a_and_b(kind: BackendKind) {
    let ts = store(kind).await;
    let store = &ts.store;
    import_path(store, Format::Udt, &export(), &options())
        .await
        .unwrap();
    let found = courses(store).await;
    let g1 = &found["udt-6A-TECHN-P03-gG1-1-7"].0;
    assert_eq!(
        (g1.groups.as_slice(), &g1.weeks, g1.room.as_deref()),
        (
            &["6A_TECHNO_G1".to_string()][..],
            &WeekPattern::A,
            Some("Labo techno")
        )
    );
    // A group without STS-Web code is named after its division.
    let g2 = &found["udt-6A-TECHN-P03-gG2-1-7"].0;
    assert_eq!(
        (g2.groups.as_slice(), &g2.weeks),
        (&["6A-G2".to_string()][..], &WeekPattern::B)
    );
    assert_eq!((g1.start, g1.end), (t(11, 10), t(12, 5)));

    // Without the weekly timetables, UDT's yearly timetable does not say: both every week.
    let dir = tempfile::tempdir().unwrap();
    let yearly = folder_export(dir.path(), |name, text| {
        (!name.starts_with("UDCal_12_")).then_some(text)
    });
    let file = udt::read(&udt::Bundle::read(&yearly).unwrap()).unwrap();
    let weeks: Vec<&WeekPattern> = file
        .lessons
        .iter()
        .filter(|l| l.value.subject == "TECHNOLOGIE")
        .map(|l| &l.value.weeks)
        .collect();
    assert_eq!(weeks, [&WeekPattern::Every, &WeekPattern::Every]);
    assert!(
        file.notes.iter().any(|n| n.contains("no weekly timetable")),
        "{:?}",
        file.notes
    );
}

async fn udt_reimport_changes_nothing(kind: BackendKind) {
    let ts = store(kind).await;
    let store = &ts.store;
    import_path(store, Format::Udt, &export(), &options())
        .await
        .unwrap();
    let before = head(store).await;
    let again = import_path(store, Format::Udt, &export(), &options())
        .await
        .unwrap();
    assert_eq!((again.events, again.changes.len()), (0, 0), "{again}");
    // The same export as UDT delivers it, zipped: nothing to do either.
    let dir = tempfile::tempdir().unwrap();
    let zip = zip_export(dir.path(), &files());
    let zipped = import_path(store, Format::Udt, &zip, &options())
        .await
        .unwrap();
    assert_eq!(zipped.file, "0750655E_20260828120000_UDT.zip");
    assert_eq!((zipped.events, zipped.changes.len()), (0, 0), "{zipped}");
    assert_eq!(head(store).await, before);
    assert!(verify_tenant(store, &uai()).await.unwrap().is_intact());
}

async fn udt_broken_export_writes_nothing(kind: BackendKind) {
    let ts = store(kind).await;
    let store = &ts.store;
    let before = head(store).await;
    let dir = tempfile::tempdir().unwrap();
    let broken = folder_export(dir.path(), |name, text| {
        Some(match name {
            // A fiche-T on day 9 (line 11 of UDCal_11.xml).
            "UDCal_11.xml" => text.replace(
                "<fiche code=\"009\" jour=\"2\"",
                "<fiche code=\"009\" jour=\"9\"",
            ),
            // A teacher and a fiche-T the export does not have (lines 6 and 11).
            "UDCal_12.xml" => text
                .replace(
                    "<ligfiche code=\"00401\" fic=\"004\" div=\"6A\" mat=\"FRANC\" prof=\"P01\"",
                    "<ligfiche code=\"00401\" fic=\"004\" div=\"6A\" mat=\"FRANC\" prof=\"P09\"",
                )
                .replace(
                    "<ligfiche code=\"00701\" fic=\"007\"",
                    "<ligfiche code=\"00701\" fic=\"777\"",
                ),
            // A half-sequence without times (line 5 of UDCal_07.xml).
            "UDCal_07.xml" => text.replacen("hre_deb=\"09h00\"", "hre_deb=\"neuf\"", 1),
            _ => text,
        })
    });
    let Err(ImportError::Invalid(problems)) =
        import_path(store, Format::Udt, &broken, &options()).await
    else {
        panic!("refused")
    };
    // Every problem once: the lines on the broken fiche-T and half-sequence are not
    // reported again.
    let mut found: Vec<(&str, Option<u32>, &str)> = problems
        .iter()
        .map(|p| (p.file.as_str(), p.at.line(), p.field.as_str()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("UDCal_07.xml", Some(5), "hre_deb"),
            ("UDCal_11.xml", Some(11), "jour"),
            ("UDCal_12.xml", Some(6), "prof"),
            ("UDCal_12.xml", Some(11), "fic"),
        ],
        "{problems:#?}"
    );
    let rules: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        rules
            .iter()
            .any(|r| r.contains("teacher P09 is not among UDCal_04.xml's teachers")),
        "{rules:#?}"
    );
    assert!(
        rules
            .iter()
            .any(|r| r.contains("fiche-T `777` is not among UDCal_11.xml's fiches-T")),
        "{rules:#?}"
    );
    assert_eq!(head(store).await, before);

    // An export without its lines is named as such.
    let partial = tempfile::tempdir().unwrap();
    let partial = folder_export(partial.path(), |name, text| {
        (name != "UDCal_12.xml").then_some(text)
    });
    let Err(ImportError::Invalid(problems)) =
        import_path(store, Format::Udt, &partial, &options()).await
    else {
        panic!("refused")
    };
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].field, "UDCal_12.xml");
    assert_eq!(head(store).await, before);
}

async fn udt_dry_run_writes_nothing(kind: BackendKind) {
    let ts = store(kind).await;
    let store = &ts.store;
    let before = head(store).await;
    let mut dry = options();
    dry.dry_run = true;
    let summary = import_path(store, Format::Udt, &export(), &dry)
        .await
        .unwrap();
    assert!(summary.dry_run);
    assert_eq!(summary.changes["courses"].created, 7, "{summary}");
    assert!(summary.events > 0);
    assert!(summary.to_string().contains("dry run: nothing was written"));
    assert_eq!(head(store).await, before);
    assert!(timetable(store).await.courses().next().is_none());
}

/// Hostile exports are refused with a problem, never read without bound.
#[test]
fn udt_hostile_exports_are_refused() {
    let refused = |result: Result<udt::Bundle, ImportError>| match result {
        Err(ImportError::Invalid(problems)) => problems,
        other => panic!("refused: {other:?}"),
    };
    // Not a zip.
    let problems = refused(udt::Bundle::from_zip("x_UDT.zip", b"not a zip"));
    assert_eq!(problems[0].field, "zip");
    // A zip bomb: megabytes of zeros packed a thousand times.
    let dir = tempfile::tempdir().unwrap();
    let bomb = zip_export(dir.path(), &[("UDCal_12.xml".into(), vec![b' '; 4 << 20])]);
    let problems = refused(udt::Bundle::from_zip(
        "bomb.zip",
        &std::fs::read(bomb).unwrap(),
    ));
    assert!(problems[0].rule.contains("zip bomb"), "{problems:#?}");
    // An XML entity (the "billion laughs"): refused at its line, nothing expanded.
    let mut files = files();
    for (name, bytes) in &mut files {
        if name == "UDCal_04.xml" {
            let text = String::from_utf8_lossy(bytes).replace(
                "<UDCal_04>",
                "<!DOCTYPE UDCal_04 [\n<!ENTITY a \"aaaaaaaa\">\n]>\n<UDCal_04>",
            );
            *bytes = text.into_bytes();
        }
    }
    let bundle = udt::Bundle::from_files("entity", files).unwrap();
    let Err(ImportError::Invalid(problems)) = udt::read(&bundle) else {
        panic!("refused")
    };
    assert_eq!(
        (problems[0].file.as_str(), problems[0].at.line()),
        ("UDCal_04.xml", Some(3)),
        "{problems:#?}"
    );
    assert!(problems[0].rule.contains("<!ENTITY"));
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_imports_udt() {
    udt_lessons_become_courses(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_imports_udt() {
    udt_lessons_become_courses(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_udt_weeks_a_and_b() {
    udt_weeks_a_and_b(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_udt_weeks_a_and_b() {
    udt_weeks_a_and_b(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_udt_reimport_changes_nothing() {
    udt_reimport_changes_nothing(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_udt_reimport_changes_nothing() {
    udt_reimport_changes_nothing(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_udt_broken_export_writes_nothing() {
    udt_broken_export_writes_nothing(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_udt_broken_export_writes_nothing() {
    udt_broken_export_writes_nothing(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_udt_dry_run_writes_nothing() {
    udt_dry_run_writes_nothing(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_udt_dry_run_writes_nothing() {
    udt_dry_run_writes_nothing(BackendKind::Sqlite).await;
}
