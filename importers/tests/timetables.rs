//! Untis (GPU001) and aSc (XML) timetable imports on both backends, from fixtures
//! written after each tool's published layout (see the module comments of
//! importers/src/untis.rs and asc.rs): the lessons become the courses the files place,
//! the same file again changes nothing, bad files are refused whole.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::collections::BTreeMap;
use std::path::PathBuf;

use carnet_domain::attendance::AttendancePolicy;
use carnet_domain::enrolment::SchoolYear;
use carnet_domain::timetable::{CourseSpec, Timetable, WeekPattern};
use carnet_domain::Uai;
use carnet_importers::{import, import_path, Format, ImportError, Options, SourceFile};
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

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// A collège's bell schedule, for Untis's numbered periods.
fn bells() -> carnet_importers::fet::Hours {
    [
        ("1", t(8, 0), t(8, 55)),
        ("2", t(9, 0), t(9, 55)),
        ("3", t(10, 10), t(11, 5)),
        ("4", t(11, 10), t(12, 5)),
        ("5", t(13, 30), t(14, 25)),
        ("6", t(14, 30), t(15, 25)),
    ]
    .into_iter()
    .map(|(n, s, e)| (n.to_string(), (s, e)))
    .collect()
}

fn options() -> Options {
    let mut options = Options::new("secretariat1", NaiveDate::from_ymd_opt(2026, 9, 1).unwrap());
    options.tenant = Some(uai());
    options.year = Some(SchoolYear::starting(2026));
    options.hours = bells();
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

async fn untis_lessons_become_courses(kind: BackendKind) {
    let ts = store(kind).await;
    let store = &ts.store;
    let path = fixture("untis/GPU001.TXT");
    let summary = import_path(store, Format::Untis, &path, &options())
        .await
        .unwrap();
    assert_eq!(summary.changes["courses"].created, 7, "{summary}");
    assert_eq!(summary.changes["divisions"].created, 3, "{summary}");
    let found = courses(store).await;
    // Lesson 1: a double period on Monday.
    let (french, names) = &found["untis-1-1-1"];
    assert_eq!(
        (
            french.weekday,
            french.start,
            french.end,
            french.subject.as_str()
        ),
        (Weekday::Mon, t(8, 0), t(9, 55), "FRANC")
    );
    assert_eq!(
        (names.as_slice(), french.room.as_deref()),
        (&["MÜL".to_string()][..], Some("101"))
    );
    // Lesson 2 twice a week: one course a day.
    assert_eq!(found["untis-2-2-3"].0.weekday, Weekday::Tue);
    assert_eq!(found["untis-2-4-1"].0.weekday, Weekday::Thu);
    // Lesson 3: two classes in one lesson.
    assert_eq!(found["untis-3-3-4"].0.divisions, ["4A", "4B"]);
    // Lesson 4 on Friday: 45 minutes, week A.
    let friday = &found["untis-4-5-5"].0;
    assert_eq!((friday.end, &friday.weeks), (t(14, 15), &WeekPattern::A));
    // Lesson 5: two teachers.
    assert_eq!(found["untis-5-5-6"].1, ["LEF", "NGU"]);

    let before = head(store).await;
    let again = import_path(store, Format::Untis, &path, &options())
        .await
        .unwrap();
    assert_eq!((again.events, again.changes.len()), (0, 0), "{again}");
    assert_eq!(head(store).await, before);

    // Bad rows: every one is named; nothing is written.
    let bad = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            "2;\"4A\";\"NGU\";\"MATHS\";\"102\";2;3;;",
            "2;\"4A\";\"NGU\";\"MATHS\";\"102\";9;3;;",
        )
        .replace(
            "5;\"3B\";\"LEF\";\"EPS\";\"GYM\";5;6;;",
            "5;\"3B\";\"LEF\";\"\";\"GYM\";5;six;;",
        )
        // A length past a day (one beyond chrono's durations panicked).
        .replace(
            "2;\"4A\";\"NGU\";\"MATHS\";\"102\";4;1;;",
            "2;\"4A\";\"NGU\";\"MATHS\";\"102\";4;1;9999999999999999;",
        )
        + "6;\"4A\"\n";
    let source = SourceFile::from_bytes("GPU001.TXT", bad.as_bytes()).unwrap();
    let Err(ImportError::Invalid(problems)) =
        import(store, Format::Untis, &source, &options()).await
    else {
        panic!("refused")
    };
    let found: Vec<(Option<u32>, &str)> = problems
        .iter()
        .map(|p| (p.at.line(), p.field.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (Some(3), "weekday"),
            (Some(4), "length"),
            (Some(9), "period"),
            (Some(11), "fields")
        ],
        "{problems:#?}"
    );
    // Without the bell schedule, the periods are named.
    let mut no_bells = options();
    no_bells.hours.clear();
    let Err(ImportError::Invalid(problems)) =
        import_path(store, Format::Untis, &path, &no_bells).await
    else {
        panic!("refused")
    };
    assert!(
        problems[0]
            .rule
            .contains("the periods 1, 2, 3, 4, 5, 6 have no times"),
        "{}",
        problems[0]
    );
    assert_eq!(head(store).await, before);
    assert!(verify_tenant(store, &uai()).await.unwrap().is_intact());
}

async fn asc_cards_become_courses(kind: BackendKind) {
    let ts = store(kind).await;
    let store = &ts.store;
    let path = fixture("asc/asctt.xml");
    let summary = import_path(store, Format::Asc, &path, &options())
        .await
        .unwrap();
    assert_eq!(summary.changes["courses"].created, 5, "{summary}");
    assert_eq!(summary.changes["groups"].created, 2, "{summary}");
    let found = courses(store).await;
    let (french, names) = &found["asc-1-1-1"];
    assert_eq!(
        (
            french.weekday,
            french.start,
            french.end,
            french.subject.as_str()
        ),
        (Weekday::Mon, t(8, 0), t(9, 55), "Français")
    );
    assert_eq!(names, &["Hélène Müller"]);
    assert_eq!(
        (french.divisions.as_slice(), french.room.as_deref()),
        (&["4A".to_string()][..], Some("101"))
    );
    // Half-classes side by side: G1 in week A, G2 every week.
    let g1 = &found["asc-2-1-3"].0;
    assert_eq!(
        (g1.groups.as_slice(), &g1.weeks),
        (&["4A-G1".to_string()][..], &WeekPattern::A)
    );
    assert_eq!(found["asc-3-1-3"].0.groups, ["4A-G2"]);
    assert_eq!(found["asc-2-1-3"].1, ["Aïcha N'Guessan"]);
    assert_eq!(found["asc-4-2-1"].0.weekday, Weekday::Tue);
    assert_eq!(found["asc-4-4-5"].0.weekday, Weekday::Thu);

    let before = head(store).await;
    let again = import_path(store, Format::Asc, &path, &options())
        .await
        .unwrap();
    assert_eq!((again.events, again.changes.len()), (0, 0), "{again}");

    let bad = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            "<card lessonid=\"*4\" classroomids=\"*1\" period=\"1\"",
            "<card lessonid=\"*9\" classroomids=\"*1\" period=\"1\"",
        )
        .replace(
            "teacherids=\"*1\" classroomids=\"*1\" groupids=\"*3\"",
            "teacherids=\"*7\" classroomids=\"*1\" groupids=\"*3\"",
        )
        .replace("period=\"5\" weeks=\"11\"", "period=\"8\" weeks=\"11\"");
    let source = SourceFile::from_bytes("asctt.xml", bad.as_bytes()).unwrap();
    let Err(ImportError::Invalid(problems)) = import(store, Format::Asc, &source, &options()).await
    else {
        panic!("refused")
    };
    let rules: Vec<&str> = problems.iter().map(|p| p.rule.as_str()).collect();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(rules
        .iter()
        .any(|r| r.contains("lesson *9 is not among the file's lessons")));
    assert!(rules
        .iter()
        .any(|r| r.contains("teacher *7 is not among the file's teachers")));
    assert!(rules
        .iter()
        .any(|r| r.contains("period `8` is not among the file's periods")));
    assert!(problems.iter().all(|p| p.at.line().is_some()));
    assert_eq!(head(store).await, before);
    assert!(verify_tenant(store, &uai()).await.unwrap().is_intact());
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_imports_untis() {
    untis_lessons_become_courses(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_imports_untis() {
    untis_lessons_become_courses(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_imports_asc() {
    asc_cards_become_courses(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_imports_asc() {
    asc_cards_become_courses(BackendKind::Sqlite).await;
}
