//! FET imports on both backends, from exports FET itself made of its bundled examples
//! (fixtures/fet/README.md says how): every activity becomes the course FET placed, the
//! same export again changes nothing, a changed export ends and replaces what changed
//! from the day it takes effect, and bad exports are refused whole.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use carnet_domain::attendance::AttendancePolicy;
use carnet_domain::enrolment::SchoolYear;
use carnet_domain::timetable::Timetable;
use carnet_domain::Uai;
use carnet_importers::{import_path, Format, ImportError, Options};
use carnet_store::testing::TestStore;
use carnet_store::verify::verify_tenant;
use carnet_store::{BackendKind, EventStore, School};
use chrono::{NaiveDate, NaiveTime, Weekday};

fn uai() -> Uai {
    Uai::parse("0750655E").unwrap()
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fet")
        .join(name)
}

/// Brazil's example numbers its hours: its bell schedule.
fn brazil_hours() -> carnet_importers::fet::Hours {
    (0..5)
        .map(|h| {
            let start = NaiveTime::from_hms_opt(7 + h, 30, 0).unwrap();
            (
                h.to_string(),
                (start, start + chrono::Duration::minutes(50)),
            )
        })
        .collect()
}

fn options(from: NaiveDate) -> Options {
    let mut options = Options::new("secretariat1", from);
    options.tenant = Some(uai());
    options.year = Some(SchoolYear::starting(2026));
    options.from = Some(from);
    options
}

async fn store_with_tenant(kind: BackendKind) -> TestStore {
    let ts = TestStore::new(kind).await;
    ts.store
        .create_tenant(&uai(), "Lycée Jean Moulin", "Europe/Paris")
        .await
        .unwrap();
    ts
}

async fn timetable(store: &EventStore) -> Timetable {
    let school = School::new(store.clone(), uai(), AttendancePolicy::default());
    school.timetable.state("2026-2027").await.unwrap().1
}

async fn head(store: &EventStore) -> i64 {
    store.tenants().await.unwrap()[0].head
}

/// The activities of a FET `_timetable.csv` as the test reads them itself: id → (day,
/// hours, students sets, subject, teachers).
type Activity = (String, Vec<String>, Vec<String>, String, Vec<String>);

fn activities(name: &str) -> BTreeMap<String, Activity> {
    let path = example(name).join(format!("{name}_timetable.csv"));
    let mut reader = csv::Reader::from_path(path).unwrap();
    let mut found: BTreeMap<String, Activity> = BTreeMap::new();
    for record in reader.records() {
        let r = record.unwrap();
        let split = |s: &str| -> Vec<String> {
            s.split('+')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        };
        let entry = found.entry(r[0].to_string()).or_insert_with(|| {
            (
                r[1].to_string(),
                Vec::new(),
                split(&r[3]),
                r[4].to_string(),
                split(&r[5]),
            )
        });
        entry.1.push(r[2].to_string());
    }
    found.retain(|_, a| !a.2.is_empty());
    found
}

/// The day names of the examples (Romanian and Bulgarian).
fn day(name: &str) -> Weekday {
    match name {
        "Luni" | "Понеделник" => Weekday::Mon,
        "Marti" | "Вторник" => Weekday::Tue,
        "Miercuri" | "Сряда" => Weekday::Wed,
        "Joi" | "Четвъртък" => Weekday::Thu,
        "Vineri" | "Петък" => Weekday::Fri,
        other => panic!("day {other}"),
    }
}

async fn fet_examples_import_as_fet_placed_them(kind: BackendKind) {
    for (name, hours) in [
        ("School-10-Oradea-2007-2008", BTreeMap::new()),
        ("Lom_high_school_2007-2008", BTreeMap::new()),
        ("Brazil", brazil_hours()),
    ] {
        let ts = store_with_tenant(kind).await;
        let store = &ts.store;
        let mut options = options(d(2026, 9, 1));
        options.hours = hours.clone();
        let summary = import_path(store, Format::Fet, &example(name), &options)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = activities(name);
        assert_eq!(
            summary.changes["courses"].created,
            expected.len(),
            "{name}: {summary}"
        );
        let tt = timetable(store).await;
        let school = School::new(store.clone(), uai(), AttendancePolicy::default());
        let (_, establishment) = school.establishment.state(uai().as_str()).await.unwrap();
        let mut staff_names = BTreeMap::new();
        for (id, member) in &establishment.staff {
            let name = store
                .vault()
                .open(&uai(), &member.name)
                .await
                .unwrap()
                .unwrap();
            staff_names.insert(id.clone(), name);
        }
        let year = &establishment.years[&SchoolYear::starting(2026)];
        for (id, (day_name, hour_names, sets, subject, teachers)) in &expected {
            let course = tt
                .course(&format!("fet-{id}"))
                .unwrap_or_else(|| panic!("{name}: activity {id} has no course"));
            assert_eq!(course.weekday, day(day_name), "{name} activity {id}");
            assert_eq!(&course.subject, subject, "{name} activity {id}");
            let first_start = hour_names
                .iter()
                .map(|h| match hours.get(h) {
                    Some((start, _)) => *start,
                    None => NaiveTime::parse_from_str(&h[..5].replace('-', ""), "%H:%M")
                        .or_else(|_| NaiveTime::parse_from_str(&h[..4], "%H:%M"))
                        .unwrap(),
                })
                .min()
                .unwrap();
            assert_eq!(
                course.start, first_start,
                "{name} activity {id} {hour_names:?}"
            );
            assert!(course.end > course.start);
            let named: Vec<&String> = course.teachers.iter().map(|t| &staff_names[t]).collect();
            assert_eq!(
                named,
                teachers.iter().collect::<Vec<_>>(),
                "{name} activity {id}"
            );
            // Every students set is there: itself, or the divisions of a year.
            let classes: BTreeSet<&String> =
                course.divisions.iter().chain(&course.groups).collect();
            for set in sets {
                let covered = classes.contains(set)
                    || year
                        .divisions
                        .values()
                        .any(|d| d.level == *set && classes.contains(&d.id));
                assert!(covered, "{name} activity {id}: {set} not in {classes:?}");
            }
            assert_eq!(
                (course.valid_from, course.valid_to),
                (d(2026, 9, 1), year.last_day)
            );
        }

        let before = head(store).await;
        let again = import_path(store, Format::Fet, &example(name), &options)
            .await
            .unwrap();
        assert_eq!(
            (again.events, again.changes.len()),
            (0, 0),
            "{name}: {again}"
        );
        assert_eq!(head(store).await, before);
        assert!(verify_tenant(store, &uai()).await.unwrap().is_intact());
    }
}

async fn a_changed_export_changes_only_what_changed(kind: BackendKind) {
    let name = "School-10-Oradea-2007-2008";
    let ts = store_with_tenant(kind).await;
    let store = &ts.store;
    import_path(store, Format::Fet, &example(name), &options(d(2026, 9, 1)))
        .await
        .unwrap();
    // October's export: activity 1 is taught as another subject, activity 2 is gone.
    let dir = tempfile::tempdir().unwrap();
    let original =
        std::fs::read_to_string(example(name).join(format!("{name}_timetable.csv"))).unwrap();
    let changed: String = original
        .lines()
        .filter(|l| !l.starts_with("\"2\","))
        .map(|l| {
            if l.starts_with("\"1\",") {
                l.replace("\"BIOLOGIE\"", "\"ȘTIINȚE\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let file = dir.path().join(format!("{name}_timetable.csv"));
    std::fs::write(&file, changed).unwrap();
    let october = d(2026, 10, 5);
    let diff = import_path(store, Format::Fet, &file, &options(october))
        .await
        .unwrap();
    let courses = diff.changes["courses"];
    assert_eq!(
        (courses.created, courses.changed, courses.removed),
        (0, 1, 1),
        "{diff}"
    );
    let tt = timetable(store).await;
    // September's lessons stay as they were; from October the new definition holds.
    let old = tt.course("fet-1").unwrap();
    assert_eq!(
        (old.subject.as_str(), old.valid_to),
        ("BIOLOGIE", d(2026, 10, 4))
    );
    let new = tt.course("fet-1.2026-10-05").unwrap();
    assert_eq!((new.subject.as_str(), new.valid_from), ("ȘTIINȚE", october));
    assert_eq!(tt.course("fet-2").unwrap().valid_to, d(2026, 10, 4));
    let events = store
        .read_stream(
            &uai(),
            &carnet_store::StreamRef::new("timetable", "2026-2027"),
            0,
        )
        .await
        .unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.metadata.extra["import.format"], "fet");
    assert_eq!(
        last.metadata.extra["import.file"],
        format!("{name}_timetable.csv")
    );

    // The same October export again: nothing to do.
    let again = import_path(store, Format::Fet, &file, &options(october))
        .await
        .unwrap();
    assert_eq!((again.events, again.changes.len()), (0, 0), "{again}");
    assert!(verify_tenant(store, &uai()).await.unwrap().is_intact());
}

async fn bad_exports_are_refused_whole(kind: BackendKind) {
    let ts = store_with_tenant(kind).await;
    let store = &ts.store;
    let name = "School-10-Oradea-2007-2008";
    let original =
        std::fs::read_to_string(example(name).join(format!("{name}_timetable.csv"))).unwrap();
    let students =
        std::fs::read_to_string(example(name).join(format!("{name}_students.csv"))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |timetable: &str| {
        std::fs::write(dir.path().join("x_timetable.csv"), timetable).unwrap();
        std::fs::write(dir.path().join("x_students.csv"), &students).unwrap();
        dir.path().to_path_buf()
    };
    let problems = |result: Result<_, ImportError>| match result {
        Err(ImportError::Invalid(p)) => p,
        other => panic!("{other:?}"),
    };

    // A missing column.
    let no_day = original.replacen("\"Day\",", "\"Jour\",", 1);
    let p =
        problems(import_path(store, Format::Fet, &write(&no_day), &options(d(2026, 9, 1))).await);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!((p[0].at.line(), p[0].field.as_str()), (Some(1), "Day"));
    assert!(p[0].rule.contains("the column \"Day\" is missing"));

    // An unknown students set, an unknown day and an activity with no subject: all three.
    let bad = original
        .replacen(
            "\"1\",\"Miercuri\",\"12:10-13:00\",\"5A\"",
            "\"1\",\"Miercuri\",\"12:10-13:00\",\"5Z\"",
            1,
        )
        .replacen("\"2\",\"Vineri\"", "\"2\",\"Someday\"", 1);
    let line_of = |text: &str, prefix: &str| {
        text.lines().position(|l| l.starts_with(prefix)).unwrap() as u32 + 1
    };
    let third = original
        .lines()
        .position(|l| l.starts_with("\"3\","))
        .unwrap();
    let mut lines: Vec<String> = bad.lines().map(str::to_string).collect();
    let fields: Vec<&str> = lines[third].split("\",\"").collect();
    let without_subject = format!(
        "{}\",\"{}\",\"{}\",\"{}\",\"\",\"{}",
        fields[0],
        fields[1],
        fields[2],
        fields[3],
        fields[5..].join("\",\"")
    );
    lines[third] = without_subject;
    let bad = lines.join("\n");
    let p = problems(import_path(store, Format::Fet, &write(&bad), &options(d(2026, 9, 1))).await);
    let found: Vec<(Option<u32>, &str)> =
        p.iter().map(|p| (p.at.line(), p.field.as_str())).collect();
    assert_eq!(
        found,
        [
            (Some(line_of(&bad, "\"1\",")), "Students Sets"),
            (Some(line_of(&bad, "\"2\",")), "Day"),
            (Some(line_of(&bad, "\"3\",")), "Subject"),
        ],
        "{p:#?}"
    );
    assert!(p[0]
        .rule
        .contains("students set 5Z is not in the export's _students.csv"));
    assert!(p[1].rule.contains("`Someday` is not a weekday"));

    // Numbered hours without the bell schedule.
    let p = problems(
        import_path(
            store,
            Format::Fet,
            &example("Brazil"),
            &options(d(2026, 9, 1)),
        )
        .await,
    );
    assert_eq!(p.len(), 1);
    assert!(
        p[0].rule
            .contains("the hours `0`, `1`, `2`, `3`, `4` hold no time"),
        "{}",
        p[0]
    );

    // A file cut in the middle of a quoted field.
    let cut = &original[..original.len() / 2];
    let cut = &cut[..cut.rfind("\",\"").unwrap() + 2];
    let result = import_path(store, Format::Fet, &write(cut), &options(d(2026, 9, 1))).await;
    assert!(result.is_err(), "a truncated export is refused: {result:?}");

    assert_eq!(head(store).await, 0, "nothing was written");
}

/// Day names are free text in FET and hours may be typed in 12-hour notation: letters of
/// a rotation placed by the `.fet` file's days list, a Sunday-first week given with
/// `--days`, `01:10p`. The same timetable comes out as from the plain export.
async fn days_and_hours_as_schools_write_them(kind: BackendKind) {
    let name = "School-10-Oradea-2007-2008";
    let original =
        std::fs::read_to_string(example(name).join(format!("{name}_timetable.csv"))).unwrap();
    let students =
        std::fs::read_to_string(example(name).join(format!("{name}_students.csv"))).unwrap();
    let letters = [
        ("\"Luni\"", "\"A\""),
        ("\"Marti\"", "\"B\""),
        ("\"Miercuri\"", "\"C\""),
        ("\"Joi\"", "\"D\""),
        ("\"Vineri\"", "\"E\""),
    ];
    let twelve_hours = [
        ("\"12:10-13:00\"", "\"12:10p-01:00p\""),
        ("\"13:10-14:00\"", "\"1:10 PM - 2:00 PM\""),
        ("\"14:10-15:00\"", "\"02:10p.m.-03:00p.m.\""),
        ("\"08:00-8:50\"", "\"8:00a-8:50a\""),
    ];
    let mut rewritten = original.clone();
    for (from, to) in letters.iter().chain(twelve_hours.iter()) {
        rewritten = rewritten.replace(from, to);
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x_timetable.csv"), &rewritten).unwrap();
    std::fs::write(dir.path().join("x_students.csv"), &students).unwrap();

    // Letters with nothing to place them: refused, naming the day and the way out.
    let ts = store_with_tenant(kind).await;
    match import_path(&ts.store, Format::Fet, dir.path(), &options(d(2026, 9, 1))).await {
        Err(ImportError::Invalid(p)) => {
            assert!(p.iter().all(|p| p.field == "Day"), "{p:#?}");
            assert_eq!(p.len(), 5, "each unknown day once: {p:#?}");
            assert!(p.iter().all(|p| p.rule.contains("--days")), "{p:#?}");
            assert!(p.iter().any(|p| p.rule.contains("`A`")), "{p:#?}");
            assert!(p[0].at.line().is_some());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(head(&ts.store).await, 0, "nothing written");

    // The .fet file's days list places them: the first is Monday.
    let days: String = ["A", "B", "C", "D", "E"]
        .iter()
        .map(|d| format!("<Day>\n\t<Name>{d}</Name>\n\t<Long_Name></Long_Name>\n</Day>\n"))
        .collect();
    std::fs::write(
        dir.path().join("x.fet"),
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<fet version=\"6.9.0\">\n<Days_List>\n<Number_of_Days>5</Number_of_Days>\n{days}</Days_List>\n</fet>\n"),
    )
    .unwrap();
    let plain = store_with_tenant(kind).await;
    import_path(
        &plain.store,
        Format::Fet,
        &example(name),
        &options(d(2026, 9, 1)),
    )
    .await
    .unwrap();
    let expected = timetable(&plain.store).await;
    let placed = store_with_tenant(kind).await;
    import_path(
        &placed.store,
        Format::Fet,
        dir.path(),
        &options(d(2026, 9, 1)),
    )
    .await
    .unwrap();
    let got = timetable(&placed.store).await;
    let mut compared = 0;
    for (id, (day_name, ..)) in activities(name) {
        let want = expected.course(&format!("fet-{id}")).unwrap();
        let have = got.course(&format!("fet-{id}")).unwrap();
        assert_eq!(have.weekday, day(&day_name), "activity {id}");
        assert_eq!(
            (have.start, have.end),
            (want.start, want.end),
            "activity {id}"
        );
        compared += 1;
    }
    assert!(compared > 100, "{compared} activities");

    // A Sunday-first week, said with --days: the first letter is Sunday.
    let sunday_first = store_with_tenant(kind).await;
    let mut with_days = options(d(2026, 9, 1));
    with_days.days = [
        ("A", Weekday::Sun),
        ("B", Weekday::Mon),
        ("C", Weekday::Tue),
        ("D", Weekday::Wed),
        ("E", Weekday::Thu),
    ]
    .into_iter()
    .map(|(n, d)| (n.to_string(), d))
    .collect();
    import_path(&sunday_first.store, Format::Fet, dir.path(), &with_days)
        .await
        .unwrap();
    let sundays = timetable(&sunday_first.store).await;
    let monday_activity = activities(name)
        .into_iter()
        .find(|(_, a)| a.0 == "Luni")
        .map(|(id, _)| id)
        .unwrap();
    assert_eq!(
        sundays
            .course(&format!("fet-{monday_activity}"))
            .unwrap()
            .weekday,
        Weekday::Sun
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_reads_fet_days_and_hours_as_schools_write_them() {
    days_and_hours_as_schools_write_them(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_reads_fet_days_and_hours_as_schools_write_them() {
    days_and_hours_as_schools_write_them(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_imports_fet_examples() {
    fet_examples_import_as_fet_placed_them(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_imports_fet_examples() {
    fet_examples_import_as_fet_placed_them(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_applies_a_changed_fet_export() {
    a_changed_export_changes_only_what_changed(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_applies_a_changed_fet_export() {
    a_changed_export_changes_only_what_changed(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_refuses_bad_fet_exports() {
    bad_exports_are_refused_whole(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_refuses_bad_fet_exports() {
    bad_exports_are_refused_whole(BackendKind::Sqlite).await;
}
