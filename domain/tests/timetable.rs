//! The rules of the timetable, given / when / then, and the lessons it gives.

#[path = "support/english.rs"]
mod english;
use english::ThenRefused;
use std::collections::BTreeSet;

use carnet_domain::calendar::{Closure, SchoolCalendar, WeekLabel};
use carnet_domain::timetable::{
    CourseSpec, ExtraLesson, Occurrence, OccurrenceKind, Timetable, TimetableCommand as C,
    TimetableEvent as V, WeekPattern,
};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Europe::Paris;
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use proptest::prelude::*;

fn test() -> TestFramework<Timetable> {
    TestFramework::with(())
}

#[allow(clippy::unwrap_used)]
fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

#[allow(clippy::unwrap_used)]
fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

#[allow(clippy::unwrap_used)]
fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn closure(name: &str, from: NaiveDate, to: NaiveDate) -> Closure {
    Closure {
        name: name.into(),
        from,
        to,
    }
}

/// 2026-2027 without holidays: the rentrée is Tuesday 1 September, so the first week
/// (of Monday 31 August) is week A.
#[allow(clippy::unwrap_used)]
fn plain_year() -> SchoolCalendar {
    SchoolCalendar::new(d(2026, 9, 1), d(2027, 7, 3)).unwrap()
}

/// 2026-2027 with the holidays of zone C.
fn year() -> SchoolCalendar {
    let mut calendar = plain_year();
    calendar.closures = vec![
        closure("Vacances de la Toussaint", d(2026, 10, 17), d(2026, 11, 1)),
        closure("Vacances de Noël", d(2026, 12, 19), d(2027, 1, 3)),
        closure("Vacances d'hiver", d(2027, 2, 20), d(2027, 3, 7)),
        closure("Vacances de printemps", d(2027, 4, 17), d(2027, 5, 2)),
    ];
    calendar
}

fn opened_with(calendar: SchoolCalendar) -> V {
    V::TimetableOpened {
        year: "2026-2027".into(),
        time_zone: Paris,
        calendar,
    }
}

fn group(name: &str, divisions: &[&str], partition: &str) -> V {
    V::GroupDeclared {
        group: name.into(),
        divisions: divisions.iter().map(|d| d.to_string()).collect(),
        partition: partition.into(),
    }
}

/// The year opened with its holidays, 4A's halves and the LV2 groups of 4A and 4B.
fn base() -> Vec<V> {
    vec![
        opened_with(year()),
        group("4A-G1", &["4A"], "demi-groupes"),
        group("4A-G2", &["4A"], "demi-groupes"),
        group("ESP-4AB", &["4A", "4B"], "LV2"),
        group("ALL-4AB", &["4A", "4B"], "LV2"),
    ]
}

fn given(events: Vec<V>) -> Vec<V> {
    let mut all = base();
    all.extend(events);
    all
}

/// A whole-class course, every week of the year.
fn course(
    id: &str,
    subject: &str,
    teacher: &str,
    division: &str,
    day: Weekday,
    hours: (u32, u32),
) -> CourseSpec {
    CourseSpec {
        id: id.into(),
        weekday: day,
        start: t(hours.0, 0),
        end: t(hours.1, 0),
        subject: subject.into(),
        teachers: vec![teacher.into()],
        divisions: vec![division.into()],
        groups: vec![],
        room: None,
        weeks: WeekPattern::Every,
        valid_from: d(2026, 9, 1),
        valid_to: d(2027, 7, 3),
    }
}

/// The same course for groups instead of whole divisions.
fn for_groups(spec: CourseSpec, groups: &[&str]) -> CourseSpec {
    CourseSpec {
        divisions: vec![],
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ..spec
    }
}

fn maths() -> CourseSpec {
    CourseSpec {
        room: Some("B12".into()),
        ..course("c1", "Maths", "M. Durand", "4A", Weekday::Mon, (8, 9))
    }
}

fn state(events: &[V]) -> Timetable {
    let mut timetable = Timetable::default();
    for event in events {
        timetable.apply(event.clone());
    }
    timetable
}

fn accepts(events: Vec<V>, command: C) -> Vec<V> {
    let result = test().given(events).when(command).inspect_result();
    assert!(result.is_ok(), "refused: {result:?}");
    result.unwrap_or_default()
}

fn refuses(events: Vec<V>, command: C, message: &str) {
    test()
        .given(events)
        .when(command)
        .then_expect_english_error(message);
}

fn dates(occurrences: &[Occurrence]) -> Vec<NaiveDate> {
    occurrences.iter().map(|o| o.date).collect()
}

// ---------------------------------------------------------------------------------
// Opening the year and its calendar

#[test]
fn a_timetable_opens_once_on_a_valid_calendar() {
    test()
        .given_no_previous_events()
        .when(C::OpenTimetable {
            year: "2026-2027".into(),
            time_zone: Paris,
            calendar: year(),
        })
        .then_expect_events(vec![opened_with(year())]);
    refuses(
        base(),
        C::OpenTimetable {
            year: "2027-2028".into(),
            time_zone: Paris,
            calendar: year(),
        },
        "the timetable of 2026-2027 is already open",
    );
    let mut reversed = year();
    reversed.last_day = d(2026, 8, 1);
    refuses(
        vec![],
        C::OpenTimetable {
            year: "2026-2027".into(),
            time_zone: Paris,
            calendar: reversed,
        },
        "the school year must end after it starts (2026-09-01 to 2026-08-01)",
    );
    refuses(
        vec![],
        C::OpenTimetable {
            year: " ".into(),
            time_zone: Paris,
            calendar: year(),
        },
        "the school year must not be empty",
    );
    refuses(
        vec![],
        C::AddCourse(maths()),
        "the timetable is not open yet: open it for a school year first",
    );
    assert_eq!(Timetable::default().time_zone(), Paris);
    assert_eq!(state(&base()).year(), Some("2026-2027"));
}

#[test]
fn closures_and_week_labels_change_the_calendar() {
    let pont = closure("Pont de l'Ascension", d(2027, 5, 7), d(2027, 5, 7));
    test()
        .given(base())
        .when(C::AddClosure(pont.clone()))
        .then_expect_events(vec![V::ClosureAdded(pont)]);
    refuses(
        base(),
        C::AddClosure(closure("Été", d(2027, 7, 1), d(2027, 8, 31))),
        "closure \"Été\" (2027-07-01 to 2027-08-31) is outside the school year (2026-09-01 to 2027-07-03)",
    );
    refuses(
        base(),
        C::AddClosure(closure(" ", d(2027, 5, 7), d(2027, 5, 7))),
        "a closure needs a name (e.g. \"Vacances de la Toussaint\")",
    );

    // The week of 7 September is week B by the alternation.
    test()
        .given(base())
        .when(C::SetWeekLabel {
            monday: d(2026, 9, 7),
            label: WeekLabel::A,
        })
        .then_expect_events(vec![V::WeekLabelSet {
            monday: d(2026, 9, 7),
            label: WeekLabel::A,
            previous: WeekLabel::B,
        }]);
    refuses(
        base(),
        C::SetWeekLabel {
            monday: d(2026, 9, 8),
            label: WeekLabel::A,
        },
        "2026-09-08 is not a Monday; a week is named by its Monday",
    );
    refuses(
        base(),
        C::SetWeekLabel {
            monday: d(2026, 10, 19),
            label: WeekLabel::A,
        },
        "the week of 2026-10-19 has no school day",
    );
}

#[test]
fn groups_are_declared_once_from_divisions() {
    test()
        .given(vec![opened_with(year())])
        .when(C::DeclareGroup {
            group: "4A-G1".into(),
            divisions: vec!["4A".into()],
            partition: "demi-groupes".into(),
        })
        .then_expect_events(vec![group("4A-G1", &["4A"], "demi-groupes")]);
    refuses(
        base(),
        C::DeclareGroup {
            group: "4A-G1".into(),
            divisions: vec!["4A".into()],
            partition: "demi-groupes".into(),
        },
        "group 4A-G1 is already declared",
    );
    refuses(
        base(),
        C::DeclareGroup {
            group: "4C-G1".into(),
            divisions: vec![],
            partition: "demi-groupes".into(),
        },
        "the divisions a group is drawn from must not be empty",
    );
    refuses(
        base(),
        C::DeclareGroup {
            group: "4C-G1".into(),
            divisions: vec!["4C".into()],
            partition: "".into(),
        },
        "the group's partition must not be empty",
    );
    let groups = state(&base());
    assert_eq!(
        groups.group("ESP-4AB").map(|g| g.partition.as_str()),
        Some("LV2")
    );
}

// ---------------------------------------------------------------------------------
// Courses

#[test]
fn a_course_is_added_and_a_permanence_needs_no_teacher() {
    test()
        .given(base())
        .when(C::AddCourse(maths()))
        .then_expect_events(vec![V::CourseAdded(maths())]);
    // Pronote accepts a course without a teacher: a permanence watched over by the vie
    // scolaire.
    let permanence = CourseSpec {
        teachers: vec![],
        ..course("p1", "Permanence", "", "4A", Weekday::Tue, (10, 11))
    };
    test()
        .given(base())
        .when(C::AddCourse(permanence.clone()))
        .then_expect_events(vec![V::CourseAdded(permanence)]);
}

#[test]
fn a_course_must_be_complete_and_fit_the_year() {
    let refuse = |spec: CourseSpec, message: &str| {
        refuses(
            given(vec![V::CourseAdded(maths())]),
            C::AddCourse(spec),
            message,
        )
    };
    let art = || {
        course(
            "c2",
            "Arts plastiques",
            "Mme Roy",
            "4B",
            Weekday::Thu,
            (14, 15),
        )
    };
    refuse(maths(), "a course or extra lesson c1 already exists");
    refuse(
        CourseSpec {
            id: "".into(),
            ..art()
        },
        "the course id must not be empty",
    );
    refuse(
        CourseSpec {
            id: "c2@2026-09-03".into(),
            ..art()
        },
        "the id c2@2026-09-03 must not contain \"@\": lesson ids are written course@date",
    );
    refuse(
        CourseSpec {
            subject: " ".into(),
            ..art()
        },
        "the subject must not be empty",
    );
    refuse(
        CourseSpec {
            end: t(14, 0),
            ..art()
        },
        "a lesson must end after it starts (14:00 to 14:00)",
    );
    refuse(
        CourseSpec {
            teachers: vec!["".into()],
            ..art()
        },
        "a teacher's name must not be empty",
    );
    refuse(
        CourseSpec {
            room: Some("".into()),
            ..art()
        },
        "the room's name must not be empty",
    );
    refuse(
        CourseSpec {
            divisions: vec![],
            ..art()
        },
        "c2 needs at least one division or group",
    );
    refuse(
        for_groups(art(), &["4B-G1"]),
        "group 4B-G1 is not declared; declare it with the divisions it is drawn from first",
    );
    refuse(
        CourseSpec {
            valid_from: d(2027, 1, 4),
            valid_to: d(2026, 12, 18),
            ..art()
        },
        "course c2 cannot run from 2027-01-04 to 2026-12-18: its first day is after its last",
    );
    refuse(
        CourseSpec { valid_from: d(2026, 8, 24), ..art() },
        "course c2 (2026-08-24 to 2027-07-03) must run within the school year (2026-09-01 to 2027-07-03)",
    );
    refuse(
        CourseSpec {
            weeks: WeekPattern::Weeks(BTreeSet::new()),
            ..art()
        },
        "course c2 lists no week: list at least one, or choose every week, week A or week B",
    );
    refuse(
        CourseSpec {
            weeks: WeekPattern::Weeks(BTreeSet::from([d(2026, 9, 9)])),
            ..art()
        },
        "2026-09-09 is not a Monday; a week is named by its Monday",
    );
    refuse(
        CourseSpec {
            weeks: WeekPattern::Weeks(BTreeSet::from([d(2027, 8, 30)])),
            ..art()
        },
        "the week of 2027-08-30 is outside the school year (2026-09-01 to 2027-07-03)",
    );
    // Lessons are Monday to Friday; and a Thursday course within the Christmas holidays
    // never meets.
    refuse(
        CourseSpec {
            weekday: Weekday::Sat,
            ..art()
        },
        "course c2 would never take place: none of its days is a school day in its weeks",
    );
    refuse(
        CourseSpec {
            valid_from: d(2026, 12, 21),
            valid_to: d(2027, 1, 1),
            ..art()
        },
        "course c2 would never take place: none of its days is a school day in its weeks",
    );
}

#[test]
fn a_teacher_a_room_or_a_division_cannot_be_in_two_places() {
    let given_maths = || given(vec![V::CourseAdded(maths())]);
    // The same division.
    refuses(
        given_maths(),
        C::AddCourse(course(
            "c7",
            "Physique",
            "Mme Petit",
            "4A",
            Weekday::Mon,
            (8, 9),
        )),
        "Physique 4A (course c7, 08:00–09:00) and Maths 4A (course c1, 08:00–09:00) \
         would both have division 4A on Monday 2026-09-07",
    );
    // The same teacher, another class, half an hour later.
    refuses(
        given_maths(),
        C::AddCourse(CourseSpec {
            start: t(8, 30),
            end: t(9, 30),
            ..course("c8", "Maths", "M. Durand", "3B", Weekday::Mon, (8, 9))
        }),
        "Maths 3B (course c8, 08:30–09:30) and Maths 4A (course c1, 08:00–09:00) \
         would both have teacher M. Durand on Monday 2026-09-07",
    );
    // The same room.
    refuses(
        given_maths(),
        C::AddCourse(CourseSpec {
            room: Some("B12".into()),
            ..course("c9", "SVT", "Mme Blanc", "5C", Weekday::Mon, (8, 10))
        }),
        "SVT 5C (course c9, 08:00–10:00) and Maths 4A (course c1, 08:00–09:00) \
         would both have room B12 on Monday 2026-09-07",
    );
    // Back to back, another day, or another class, teacher and room: no clash.
    for spec in [
        course("c10", "Physique", "M. Durand", "4A", Weekday::Mon, (9, 10)),
        course("c11", "Physique", "M. Durand", "4A", Weekday::Tue, (8, 9)),
        CourseSpec {
            room: Some("B14".into()),
            ..course("c12", "Maths", "Mme Petit", "4B", Weekday::Mon, (8, 9))
        },
    ] {
        accepts(given_maths(), C::AddCourse(spec));
    }
}

#[test]
fn halves_of_one_partition_may_meet_but_other_partitions_may_not() {
    let g1 = for_groups(
        course("g1", "Technologie", "M. Leroy", "4A", Weekday::Wed, (8, 10)),
        &["4A-G1"],
    );
    let given_g1 = || given(vec![V::CourseAdded(g1.clone())]);
    // G2 of the same partition: the two halves have lessons at the same time.
    accepts(
        given_g1(),
        C::AddCourse(for_groups(
            course("g2", "SVT", "Mme Blanc", "4A", Weekday::Wed, (8, 10)),
            &["4A-G2"],
        )),
    );
    // A language group may hold students of G1.
    refuses(
        given_g1(),
        C::AddCourse(for_groups(
            course("esp", "Espagnol", "Sr. García", "4A", Weekday::Wed, (9, 10)),
            &["ESP-4AB"],
        )),
        "Espagnol ESP-4AB (course esp, 09:00–10:00) and Technologie 4A-G1 (course g1, 08:00–10:00) \
         would both have students of division 4A (groups ESP-4AB and 4A-G1 belong to different \
         partitions, so they may share students) on Wednesday 2026-09-02",
    );
    // The whole class is not free while one of its halves has a lesson.
    refuses(
        given_g1(),
        C::AddCourse(course(
            "vs",
            "Vie de classe",
            "Mme Roy",
            "4A",
            Weekday::Wed,
            (8, 9),
        )),
        "Vie de classe 4A (course vs, 08:00–09:00) and Technologie 4A-G1 (course g1, 08:00–10:00) \
         would both have division 4A (group 4A-G1 is drawn from it) on Wednesday 2026-09-02",
    );
    // The same group twice.
    refuses(
        given_g1(),
        C::AddCourse(for_groups(
            course("g1b", "Sciences", "Mme Blanc", "4A", Weekday::Wed, (9, 11)),
            &["4A-G1"],
        )),
        "Sciences 4A-G1 (course g1b, 09:00–11:00) and Technologie 4A-G1 (course g1, 08:00–10:00) \
         would both have group 4A-G1 on Wednesday 2026-09-02",
    );
    // The two LV2 groups of 4A and 4B are one partition: at the same time, and 4B's
    // other lessons are elsewhere.
    let esp = for_groups(
        course(
            "esp",
            "Espagnol",
            "Sr. García",
            "4A",
            Weekday::Thu,
            (10, 11),
        ),
        &["ESP-4AB"],
    );
    accepts(
        given(vec![V::CourseAdded(esp)]),
        C::AddCourse(for_groups(
            course(
                "all",
                "Allemand",
                "Frau Weber",
                "4A",
                Weekday::Thu,
                (10, 11),
            ),
            &["ALL-4AB"],
        )),
    );
}

#[test]
fn weeks_a_and_b_and_chosen_weeks_meet_only_on_common_weeks() {
    let on = |id: &str, weeks: WeekPattern| CourseSpec {
        weeks,
        ..course(id, "Physique", "Mme Petit", "4A", Weekday::Mon, (8, 9))
    };
    let a = CourseSpec {
        weeks: WeekPattern::A,
        ..maths()
    };
    let given_a = || given(vec![V::CourseAdded(a.clone())]);
    accepts(given_a(), C::AddCourse(on("b", WeekPattern::B)));
    // 31 August is week A but the first Monday of lessons is 14 September (7 September
    // is week B).
    refuses(
        given_a(),
        C::AddCourse(on("every", WeekPattern::Every)),
        "Physique 4A (course every, 08:00–09:00) and Maths 4A (course c1, 08:00–09:00) \
         would both have division 4A on Monday 2026-09-14",
    );
    // Weeks of 7 September and 2 November are B weeks (Toussaint weeks do not count).
    let b_weeks = BTreeSet::from([d(2026, 9, 7), d(2026, 11, 2)]);
    accepts(
        given_a(),
        C::AddCourse(on("w", WeekPattern::Weeks(b_weeks.clone()))),
    );
    refuses(
        given_a(),
        C::AddCourse(on(
            "w",
            WeekPattern::Weeks(BTreeSet::from([d(2026, 9, 7), d(2026, 11, 9)])),
        )),
        "Physique 4A (course w, 08:00–09:00) and Maths 4A (course c1, 08:00–09:00) \
         would both have division 4A on Monday 2026-11-09",
    );
    // Two lists meet only if they share a week.
    let listed = CourseSpec {
        weeks: WeekPattern::Weeks(b_weeks),
        ..maths()
    };
    accepts(
        given(vec![V::CourseAdded(listed.clone())]),
        C::AddCourse(on(
            "w2",
            WeekPattern::Weeks(BTreeSet::from([d(2026, 9, 14)])),
        )),
    );
    refuses(
        given(vec![V::CourseAdded(listed)]),
        C::AddCourse(on(
            "w2",
            WeekPattern::Weeks(BTreeSet::from([d(2026, 11, 2)])),
        )),
        "Physique 4A (course w2, 08:00–09:00) and Maths 4A (course c1, 08:00–09:00) \
         would both have division 4A on Monday 2026-11-02",
    );
}

#[test]
fn courses_whose_common_validity_has_no_school_day_do_not_clash() {
    // The first course runs until the end of the first week of the Toussaint holidays,
    // the second from its start: their validities share that week, and no lesson.
    let autumn = CourseSpec {
        valid_to: d(2026, 10, 23),
        ..maths()
    };
    let after = CourseSpec {
        valid_from: d(2026, 10, 19),
        ..course("c2", "Physique", "Mme Petit", "4A", Weekday::Mon, (8, 9))
    };
    accepts(
        given(vec![V::CourseAdded(autumn)]),
        C::AddCourse(after.clone()),
    );
    refuses(
        given(vec![V::CourseAdded(CourseSpec {
            valid_to: d(2026, 11, 2),
            ..maths()
        })]),
        C::AddCourse(after),
        "Physique 4A (course c2, 08:00–09:00) and Maths 4A (course c1, 08:00–09:00) \
         would both have division 4A on Monday 2026-11-02",
    );
}

#[test]
fn a_course_changes_or_ends_and_stays_free_of_clashes() {
    let physique = course("c2", "Physique", "Mme Petit", "4A", Weekday::Mon, (9, 10));
    let both = || {
        given(vec![
            V::CourseAdded(maths()),
            V::CourseAdded(physique.clone()),
        ])
    };
    let later = CourseSpec {
        start: t(10, 0),
        end: t(11, 0),
        ..maths()
    };
    test()
        .given(both())
        .when(C::ChangeCourse(later.clone()))
        .then_expect_events(vec![V::CourseChanged {
            previous: maths(),
            spec: later,
        }]);
    refuses(
        both(),
        C::ChangeCourse(CourseSpec {
            end: t(10, 0),
            ..maths()
        }),
        "Maths 4A (course c1, 08:00–10:00) and Physique 4A (course c2, 09:00–10:00) \
         would both have division 4A on Monday 2026-09-07",
    );
    refuses(
        both(),
        C::ChangeCourse(maths()),
        "course c1 already has this definition",
    );
    refuses(
        both(),
        C::ChangeCourse(course("c9", "SVT", "Mme Blanc", "4A", Weekday::Fri, (8, 9))),
        "there is no course or extra lesson c9",
    );

    // Its lessons moved elsewhere move with it: the lesson of 21 September, moved to
    // 28 September at 10:00, would meet the course's own lesson of that day.
    let mut moved = both();
    moved.push(V::OccurrenceMoved {
        lesson: "c1@2026-09-21".into(),
        course: "c1".into(),
        date: d(2026, 9, 21),
        to_date: d(2026, 9, 28),
        start: t(10, 0),
        end: t(11, 0),
        room: None,
    });
    refuses(
        moved,
        C::ChangeCourse(CourseSpec {
            start: t(10, 0),
            end: t(11, 0),
            ..maths()
        }),
        "Maths 4A (course c1 moved from Monday 2026-09-21, 10:00–11:00) and Maths 4A \
         (course c1, 10:00–11:00) would both have teacher M. Durand on Monday 2026-09-28",
    );

    // M. Durand leaves at Christmas; Mme Noël takes the class from January, same slot.
    test()
        .given(both())
        .when(C::EndCourse {
            id: "c1".into(),
            last_day: d(2026, 12, 18),
        })
        .then_expect_events(vec![V::CourseEnded {
            id: "c1".into(),
            last_day: d(2026, 12, 18),
            previous_last_day: d(2027, 7, 3),
        }]);
    let ended = given(vec![
        V::CourseAdded(maths()),
        V::CourseEnded {
            id: "c1".into(),
            last_day: d(2026, 12, 18),
            previous_last_day: d(2027, 7, 3),
        },
    ]);
    let successor = CourseSpec {
        valid_from: d(2027, 1, 4),
        ..course("c1b", "Maths", "Mme Noël", "4A", Weekday::Mon, (8, 9))
    };
    let mut events = ended.clone();
    events.extend(accepts(ended, C::AddCourse(successor)));
    let december = state(&events).occurrences(d(2026, 12, 7), d(2027, 1, 10));
    assert_eq!(
        december
            .iter()
            .map(|o| (o.id.as_str(), o.teachers[0].as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("c1@2026-12-07", "M. Durand"),
            ("c1@2026-12-14", "M. Durand"),
            ("c1b@2027-01-04", "Mme Noël"),
        ]
    );
    refuses(
        both(),
        C::EndCourse {
            id: "c1".into(),
            last_day: d(2027, 7, 3),
        },
        "course c1 runs from 2026-09-01 to 2027-07-03: its last day must be on or after 2026-09-01 and before 2027-07-03, not 2027-07-03",
    );
}

// ---------------------------------------------------------------------------------
// Exceptions on single lessons

fn with_maths() -> Vec<V> {
    given(vec![V::CourseAdded(maths())])
}

#[test]
fn a_lesson_is_cancelled_once_and_only_if_it_exists() {
    test()
        .given(with_maths())
        .when(C::CancelOccurrence {
            course: "c1".into(),
            date: d(2026, 9, 14),
            reason: "sortie au musée".into(),
        })
        .then_expect_events(vec![V::OccurrenceCancelled {
            lesson: "c1@2026-09-14".into(),
            course: "c1".into(),
            date: d(2026, 9, 14),
            reason: "sortie au musée".into(),
        }]);
    let cancel = |date: NaiveDate| C::CancelOccurrence {
        course: "c1".into(),
        date,
        reason: "professeur absent".into(),
    };
    let mut cancelled = with_maths();
    cancelled.push(V::OccurrenceCancelled {
        lesson: "c1@2026-09-14".into(),
        course: "c1".into(),
        date: d(2026, 9, 14),
        reason: "sortie au musée".into(),
    });
    refuses(
        cancelled,
        cancel(d(2026, 9, 14)),
        "the lesson c1@2026-09-14 is cancelled (sortie au musée)",
    );
    refuses(
        with_maths(),
        cancel(d(2026, 9, 15)),
        "course c1 has no lesson on Tuesday 2026-09-15: it takes place on Mondays",
    );
    refuses(
        with_maths(),
        cancel(d(2026, 10, 19)),
        "course c1 has no lesson on Monday 2026-10-19: it falls in Vacances de la Toussaint",
    );
    refuses(
        given(vec![V::CourseAdded(CourseSpec {
            weeks: WeekPattern::A,
            ..maths()
        })]),
        cancel(d(2026, 9, 7)),
        "course c1 has no lesson on Monday 2026-09-07: it takes place in week A only and the week of 2026-09-07 is week B",
    );
    refuses(
        given(vec![V::CourseAdded(CourseSpec {
            weeks: WeekPattern::Weeks(BTreeSet::from([d(2026, 9, 14)])),
            ..maths()
        })]),
        cancel(d(2026, 9, 7)),
        "course c1 has no lesson on Monday 2026-09-07: the week of 2026-09-07 is not one of its weeks",
    );
    refuses(
        given(vec![V::CourseAdded(CourseSpec {
            valid_from: d(2026, 9, 10),
            ..maths()
        })]),
        cancel(d(2026, 9, 7)),
        "course c1 has no lesson on Monday 2026-09-07: it starts on 2026-09-10",
    );
    refuses(
        with_maths(),
        C::CancelOccurrence {
            course: "c1".into(),
            date: d(2026, 9, 7),
            reason: "".into(),
        },
        "the reason for cancelling must not be empty",
    );
    refuses(
        with_maths(),
        C::CancelOccurrence {
            course: "c5".into(),
            date: d(2026, 9, 7),
            reason: "grève".into(),
        },
        "there is no course or extra lesson c5",
    );
}

#[test]
fn a_lesson_moves_to_a_free_slot_of_a_school_day() {
    let move_to = |to_date: NaiveDate, start: u32, room: Option<&str>| C::MoveOccurrence {
        course: "c1".into(),
        date: d(2026, 9, 21),
        to_date,
        start: t(start, 0),
        end: t(start + 1, 0),
        room: room.map(str::to_string),
    };
    test()
        .given(with_maths())
        .when(move_to(d(2026, 9, 22), 14, Some("C3")))
        .then_expect_events(vec![V::OccurrenceMoved {
            lesson: "c1@2026-09-21".into(),
            course: "c1".into(),
            date: d(2026, 9, 21),
            to_date: d(2026, 9, 22),
            start: t(14, 0),
            end: t(15, 0),
            room: Some("C3".into()),
        }]);
    refuses(
        with_maths(),
        move_to(d(2026, 10, 20), 14, None),
        "there are no lessons on Tuesday 2026-10-20: it falls in Vacances de la Toussaint",
    );
    refuses(
        with_maths(),
        move_to(d(2026, 9, 26), 9, None),
        "there are no lessons on Saturday 2026-09-26: Saturday is not a day of lessons",
    );
    refuses(
        with_maths(),
        C::MoveOccurrence {
            course: "c1".into(),
            date: d(2026, 9, 21),
            to_date: d(2026, 9, 22),
            start: t(15, 0),
            end: t(14, 0),
            room: None,
        },
        "a lesson must end after it starts (15:00 to 14:00)",
    );
    // Tuesday at 14:00, 4A has Anglais; and the lesson cannot go onto the course's own
    // lesson of the next Monday either.
    let anglais = course("c3", "Anglais", "Ms Smith", "4A", Weekday::Tue, (14, 15));
    refuses(
        given(vec![V::CourseAdded(maths()), V::CourseAdded(anglais)]),
        move_to(d(2026, 9, 22), 14, None),
        "Maths 4A (course c1 moved from Monday 2026-09-21, 14:00–15:00) and Anglais 4A \
         (course c3, 14:00–15:00) would both have division 4A on Tuesday 2026-09-22",
    );
    refuses(
        with_maths(),
        move_to(d(2026, 9, 28), 8, None),
        "Maths 4A (course c1 moved from Monday 2026-09-21, 08:00–09:00) and Maths 4A \
         (course c1, 08:00–09:00) would both have teacher M. Durand on Monday 2026-09-28",
    );
}

#[test]
fn a_substitute_teacher_or_another_room_must_be_free() {
    let svt = CourseSpec {
        room: Some("Labo".into()),
        ..course("c4", "SVT", "Mme Blanc", "3B", Weekday::Mon, (8, 9))
    };
    let both = || given(vec![V::CourseAdded(maths()), V::CourseAdded(svt.clone())]);
    test()
        .given(both())
        .when(C::ReplaceTeacher {
            course: "c1".into(),
            date: d(2026, 9, 28),
            teachers: vec!["Mme Remplaçante".into()],
        })
        .then_expect_events(vec![V::TeacherReplaced {
            lesson: "c1@2026-09-28".into(),
            course: "c1".into(),
            date: d(2026, 9, 28),
            teachers: vec!["Mme Remplaçante".into()],
            previous: vec!["M. Durand".into()],
        }]);
    refuses(
        both(),
        C::ReplaceTeacher {
            course: "c1".into(),
            date: d(2026, 9, 28),
            teachers: vec!["Mme Blanc".into()],
        },
        "Maths 4A (course c1, 08:00–09:00) and SVT 3B (course c4, 08:00–09:00) \
         would both have teacher Mme Blanc on Monday 2026-09-28",
    );
    refuses(
        both(),
        C::ReplaceTeacher {
            course: "c1".into(),
            date: d(2026, 9, 28),
            teachers: vec![],
        },
        "a replacement needs at least one teacher; if nobody replaces, cancel the lesson",
    );
    test()
        .given(both())
        .when(C::ChangeRoom {
            course: "c1".into(),
            date: d(2026, 10, 5),
            room: "B14".into(),
        })
        .then_expect_events(vec![V::RoomChanged {
            lesson: "c1@2026-10-05".into(),
            course: "c1".into(),
            date: d(2026, 10, 5),
            room: "B14".into(),
            previous: Some("B12".into()),
        }]);
    refuses(
        both(),
        C::ChangeRoom {
            course: "c1".into(),
            date: d(2026, 10, 5),
            room: "Labo".into(),
        },
        "Maths 4A (course c1, 08:00–09:00) and SVT 3B (course c4, 08:00–09:00) \
         would both have room Labo on Monday 2026-10-05",
    );
    // Once M. Durand is replaced on 28 September, he is free to teach elsewhere then.
    let mut replaced = both();
    replaced.push(V::TeacherReplaced {
        lesson: "c1@2026-09-28".into(),
        course: "c1".into(),
        date: d(2026, 9, 28),
        teachers: vec!["Mme Remplaçante".into()],
        previous: vec!["M. Durand".into()],
    });
    replaced.push(V::ExtraLessonAdded(ExtraLesson {
        id: "x9".into(),
        date: d(2026, 9, 29),
        start: t(8, 0),
        end: t(9, 0),
        subject: "Soutien".into(),
        teachers: vec!["M. Durand".into()],
        divisions: vec!["5C".into()],
        groups: vec![],
        room: None,
    }));
    accepts(
        replaced,
        C::MoveOccurrence {
            course: "x9".into(),
            date: d(2026, 9, 29),
            to_date: d(2026, 9, 28),
            start: t(8, 0),
            end: t(9, 0),
            room: Some("B20".into()),
        },
    );
}

#[test]
fn an_extra_lesson_falls_on_a_free_slot_of_a_school_day() {
    let extra = |date: NaiveDate, start: u32| ExtraLesson {
        id: "x1".into(),
        date,
        start: t(start, 0),
        end: t(start + 2, 0),
        subject: "Devoir commun".into(),
        teachers: vec!["M. Durand".into()],
        divisions: vec!["4A".into()],
        groups: vec![],
        room: Some("Salle polyvalente".into()),
    };
    test()
        .given(with_maths())
        .when(C::AddExtraLesson(extra(d(2026, 9, 9), 10)))
        .then_expect_events(vec![V::ExtraLessonAdded(extra(d(2026, 9, 9), 10))]);
    refuses(
        with_maths(),
        C::AddExtraLesson(extra(d(2026, 12, 23), 10)),
        "there are no lessons on Wednesday 2026-12-23: it falls in Vacances de Noël",
    );
    refuses(
        with_maths(),
        C::AddExtraLesson(extra(d(2026, 9, 14), 7)),
        "Devoir commun 4A (extra lesson x1, 07:00–09:00) and Maths 4A (course c1, 08:00–09:00) \
         would both have teacher M. Durand on Monday 2026-09-14",
    );
    refuses(
        with_maths(),
        C::AddExtraLesson(ExtraLesson {
            id: "c1".into(),
            ..extra(d(2026, 9, 9), 10)
        }),
        "a course or extra lesson c1 already exists",
    );
    // An extra lesson is changed through its occurrence, not as a course.
    let mut events = with_maths();
    events.push(V::ExtraLessonAdded(extra(d(2026, 9, 9), 10)));
    refuses(
        events.clone(),
        C::EndCourse {
            id: "x1".into(),
            last_day: d(2026, 9, 9),
        },
        "x1 is an extra lesson: change its occurrence instead (cancel, move, replace the teacher, change the room)",
    );
    // A recurring course cannot then take its slot.
    refuses(
        events.clone(),
        C::AddCourse(course(
            "c5",
            "Histoire",
            "Mme Roy",
            "4A",
            Weekday::Wed,
            (11, 12),
        )),
        "Histoire 4A (course c5, 11:00–12:00) and Devoir commun 4A (extra lesson x1, 10:00–12:00) \
         would both have division 4A on Wednesday 2026-09-09",
    );
    test()
        .given(events)
        .when(C::CancelOccurrence {
            course: "x1".into(),
            date: d(2026, 9, 9),
            reason: "reporté".into(),
        })
        .then_expect_events(vec![V::OccurrenceCancelled {
            lesson: "x1".into(),
            course: "x1".into(),
            date: d(2026, 9, 9),
            reason: "reporté".into(),
        }]);
}

#[test]
fn a_cancelled_lesson_frees_its_slot_and_cannot_be_changed() {
    let mut events = with_maths();
    events.push(V::OccurrenceCancelled {
        lesson: "c1@2026-09-14".into(),
        course: "c1".into(),
        date: d(2026, 9, 14),
        reason: "professeur absent".into(),
    });
    accepts(
        events.clone(),
        C::AddExtraLesson(ExtraLesson {
            id: "x2".into(),
            date: d(2026, 9, 14),
            start: t(8, 0),
            end: t(9, 0),
            subject: "Histoire".into(),
            teachers: vec!["Mme Roy".into()],
            divisions: vec!["4A".into()],
            groups: vec![],
            room: Some("B12".into()),
        }),
    );
    refuses(
        events,
        C::ChangeRoom {
            course: "c1".into(),
            date: d(2026, 9, 14),
            room: "B14".into(),
        },
        "the lesson c1@2026-09-14 is cancelled (professeur absent)",
    );
}

#[test]
fn a_calendar_change_that_would_make_lessons_clash_is_refused() {
    // Physique meets in the week of 21 September only, a B week by the alternation.
    let physique = CourseSpec {
        weeks: WeekPattern::Weeks(BTreeSet::from([d(2026, 9, 21)])),
        ..course("c2", "Physique", "Mme Petit", "4A", Weekday::Mon, (8, 9))
    };
    let events = given(vec![
        V::CourseAdded(CourseSpec {
            weeks: WeekPattern::A,
            ..maths()
        }),
        V::CourseAdded(physique),
    ]);
    refuses(
        events.clone(),
        C::SetWeekLabel {
            monday: d(2026, 9, 21),
            label: WeekLabel::A,
        },
        "setting the week of 2026-09-21 as week A would change which weeks are A and B, and then \
         Maths 4A (course c1, 08:00–09:00) and Physique 4A (course c2, 08:00–09:00) would both \
         have division 4A on Monday 2026-09-21",
    );
    // Closing the whole week of 14 September makes the week of 21 September week A.
    refuses(
        events.clone(),
        C::AddClosure(closure("Semaine banalisée", d(2026, 9, 14), d(2026, 9, 18))),
        "closure \"Semaine banalisée\" would change which weeks are A and B, and then \
         Maths 4A (course c1, 08:00–09:00) and Physique 4A (course c2, 08:00–09:00) would both \
         have division 4A on Monday 2026-09-21",
    );
    // A closed day that leaves the week's count alone is fine.
    accepts(
        events,
        C::AddClosure(closure(
            "Journée pédagogique",
            d(2026, 9, 16),
            d(2026, 9, 16),
        )),
    );
}

// ---------------------------------------------------------------------------------
// Occurrences

#[test]
fn a_monday_at_eight_is_seven_utc_in_winter_and_six_in_summer() {
    let events = vec![opened_with(plain_year()), V::CourseAdded(maths())];
    let timetable = state(&events);
    let at = |monday: NaiveDate| {
        let found = timetable.occurrences(monday, monday);
        assert_eq!(found.len(), 1, "one lesson on {monday}");
        (found[0].start, found[0].start_utc, found[0].end_utc)
    };
    // Summer time ends on Sunday 25 October 2026 and starts again on 28 March 2027.
    assert_eq!(
        at(d(2026, 10, 19)),
        (
            d(2026, 10, 19).and_time(t(8, 0)),
            utc("2026-10-19T06:00:00Z"),
            utc("2026-10-19T07:00:00Z")
        )
    );
    assert_eq!(
        at(d(2026, 10, 26)),
        (
            d(2026, 10, 26).and_time(t(8, 0)),
            utc("2026-10-26T07:00:00Z"),
            utc("2026-10-26T08:00:00Z")
        )
    );
    assert_eq!(at(d(2027, 3, 22)).1, utc("2027-03-22T07:00:00Z"));
    assert_eq!(at(d(2027, 3, 29)).1, utc("2027-03-29T06:00:00Z"));
}

#[test]
fn a_repeated_hour_takes_its_first_passing_and_a_missing_hour_moves_forward() {
    let mut every_day = plain_year();
    every_day.weekdays = vec![
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    let night = |id: &str, date: NaiveDate, end: NaiveTime| CourseSpec {
        start: t(2, 30),
        end,
        valid_from: date,
        valid_to: date,
        ..course(id, "Astronomie", "M. Kepler", "2nde", Weekday::Sun, (2, 3))
    };
    let timetable = state(&[
        opened_with(every_day),
        V::CourseAdded(night("autumn", d(2026, 10, 25), t(3, 30))),
        V::CourseAdded(night("spring", d(2027, 3, 28), t(4, 0))),
    ]);
    let autumn = timetable.occurrences(d(2026, 10, 25), d(2026, 10, 25));
    // 02:30 happens at 00:30 UTC (summer time) and again at 01:30 UTC.
    assert_eq!(autumn[0].start_utc, utc("2026-10-25T00:30:00Z"));
    assert_eq!(autumn[0].end_utc, utc("2026-10-25T02:30:00Z"));
    let spring = timetable.occurrences(d(2027, 3, 28), d(2027, 3, 28));
    // 02:30 does not exist: 03:30 summer time.
    assert_eq!(spring[0].start_utc, utc("2027-03-28T01:30:00Z"));
    assert_eq!(spring[0].end_utc, utc("2027-03-28T02:00:00Z"));
}

#[test]
fn weeks_a_and_b_alternate_over_school_weeks_around_holidays() {
    let a = CourseSpec {
        weeks: WeekPattern::A,
        ..maths()
    };
    let b = CourseSpec {
        weeks: WeekPattern::B,
        ..course("c2", "Physique", "Mme Petit", "4A", Weekday::Mon, (8, 9))
    };
    let timetable = state(&given(vec![V::CourseAdded(a), V::CourseAdded(b)]));
    let autumn = timetable.occurrences(d(2026, 10, 5), d(2026, 11, 15));
    assert_eq!(
        autumn
            .iter()
            .map(|o| (o.date, o.course.as_str(), o.week))
            .collect::<Vec<_>>(),
        vec![
            (d(2026, 10, 5), "c2", Some(WeekLabel::B)),
            (d(2026, 10, 12), "c1", Some(WeekLabel::A)),
            // The two holiday weeks do not count: the week of 2 November is B.
            (d(2026, 11, 2), "c2", Some(WeekLabel::B)),
            (d(2026, 11, 9), "c1", Some(WeekLabel::A)),
        ]
    );
}

#[test]
fn chosen_weeks_and_holidays_give_only_school_days() {
    let listed = CourseSpec {
        weeks: WeekPattern::Weeks(BTreeSet::from([
            d(2026, 9, 7),
            d(2026, 10, 19),
            d(2026, 11, 2),
        ])),
        ..maths()
    };
    let timetable = state(&given(vec![V::CourseAdded(listed)]));
    assert_eq!(
        dates(&timetable.occurrences(d(2026, 9, 1), d(2027, 7, 3))),
        vec![d(2026, 9, 7), d(2026, 11, 2)]
    );
    let weekly = state(&with_maths());
    let all = weekly.occurrences(d(2026, 8, 1), d(2027, 8, 31));
    let calendar = year();
    assert!(all.iter().all(|o| calendar.is_school_day(o.date)));
    assert!(weekly
        .occurrences(d(2026, 10, 17), d(2026, 11, 1))
        .is_empty());
    // 43 Mondays from 7 September to 28 June, less 8 in holidays.
    assert_eq!(all.len(), 35);
}

#[test]
fn exceptions_show_in_the_lessons() {
    let mut events = with_maths();
    events.extend([
        V::OccurrenceCancelled {
            lesson: "c1@2026-09-14".into(),
            course: "c1".into(),
            date: d(2026, 9, 14),
            reason: "sortie au musée".into(),
        },
        V::OccurrenceMoved {
            lesson: "c1@2026-09-21".into(),
            course: "c1".into(),
            date: d(2026, 9, 21),
            to_date: d(2026, 9, 22),
            start: t(14, 0),
            end: t(15, 0),
            room: Some("C3".into()),
        },
        V::TeacherReplaced {
            lesson: "c1@2026-09-28".into(),
            course: "c1".into(),
            date: d(2026, 9, 28),
            teachers: vec!["Mme Remplaçante".into()],
            previous: vec!["M. Durand".into()],
        },
        V::RoomChanged {
            lesson: "c1@2026-10-05".into(),
            course: "c1".into(),
            date: d(2026, 10, 5),
            room: "B14".into(),
            previous: Some("B12".into()),
        },
        V::ExtraLessonAdded(ExtraLesson {
            id: "x1".into(),
            date: d(2026, 9, 9),
            start: t(10, 0),
            end: t(12, 0),
            subject: "Devoir commun".into(),
            teachers: vec!["M. Durand".into()],
            divisions: vec!["4A".into()],
            groups: vec![],
            room: None,
        }),
    ]);
    let timetable = state(&events);
    let found = timetable.occurrences(d(2026, 9, 7), d(2026, 10, 11));
    let summary: Vec<_> = found
        .iter()
        .map(|o| {
            (
                o.id.as_str(),
                o.start,
                o.kind,
                o.teachers.join("+"),
                o.room.clone(),
                o.cancelled.clone(),
            )
        })
        .collect();
    let at = |date: NaiveDate, h: u32| date.and_time(t(h, 0));
    let room = |r: &str| Some(r.to_string());
    assert_eq!(
        summary,
        vec![
            (
                "c1@2026-09-07",
                at(d(2026, 9, 7), 8),
                OccurrenceKind::Regular,
                "M. Durand".into(),
                room("B12"),
                None
            ),
            (
                "x1",
                at(d(2026, 9, 9), 10),
                OccurrenceKind::Extra,
                "M. Durand".into(),
                None,
                None
            ),
            (
                "c1@2026-09-14",
                at(d(2026, 9, 14), 8),
                OccurrenceKind::Regular,
                "M. Durand".into(),
                room("B12"),
                Some("sortie au musée".into())
            ),
            (
                "c1@2026-09-21",
                at(d(2026, 9, 22), 14),
                OccurrenceKind::Moved {
                    from_date: d(2026, 9, 21)
                },
                "M. Durand".into(),
                room("C3"),
                None
            ),
            (
                "c1@2026-09-28",
                at(d(2026, 9, 28), 8),
                OccurrenceKind::Regular,
                "Mme Remplaçante".into(),
                room("B12"),
                None
            ),
            (
                "c1@2026-10-05",
                at(d(2026, 10, 5), 8),
                OccurrenceKind::Regular,
                "M. Durand".into(),
                room("B14"),
                None
            ),
        ]
    );
    // A lesson moved out of the range is not in it; one moved into it is.
    assert!(timetable
        .occurrences(d(2026, 9, 21), d(2026, 9, 21))
        .is_empty());
    assert_eq!(
        timetable.occurrences(d(2026, 9, 22), d(2026, 9, 22))[0].id,
        "c1@2026-09-21"
    );
}

#[test]
fn views_by_teacher_room_division_group_and_student() {
    let events = given(vec![
        V::CourseAdded(maths()),
        V::CourseAdded(for_groups(
            CourseSpec {
                room: Some("Techno".into()),
                ..course(
                    "g1",
                    "Technologie",
                    "M. Leroy",
                    "4A",
                    Weekday::Mon,
                    (10, 11),
                )
            },
            &["4A-G1"],
        )),
        V::CourseAdded(for_groups(
            course("g2", "SVT", "Mme Blanc", "4A", Weekday::Mon, (10, 11)),
            &["4A-G2"],
        )),
        V::CourseAdded(for_groups(
            course(
                "esp",
                "Espagnol",
                "Sr. García",
                "4B",
                Weekday::Mon,
                (11, 12),
            ),
            &["ESP-4AB"],
        )),
        V::CourseAdded(course(
            "c5",
            "Maths",
            "M. Durand",
            "4B",
            Weekday::Mon,
            (9, 10),
        )),
    ]);
    let timetable = state(&events);
    let monday = d(2026, 9, 7);
    let ids = |found: Vec<Occurrence>| found.into_iter().map(|o| o.course).collect::<Vec<_>>();
    assert_eq!(
        ids(timetable.for_teacher(monday, monday, "M. Durand")),
        ["c1", "c5"]
    );
    assert_eq!(ids(timetable.for_room(monday, monday, "Techno")), ["g1"]);
    assert_eq!(
        ids(timetable.for_division(monday, monday, "4A")),
        ["c1", "g1", "g2", "esp"]
    );
    assert_eq!(
        ids(timetable.for_division(monday, monday, "4B")),
        ["c5", "esp"]
    );
    assert_eq!(ids(timetable.for_group(monday, monday, "4A-G1")), ["g1"]);
    let groups = ["4A-G2".to_string(), "ESP-4AB".to_string()];
    assert_eq!(
        ids(timetable.for_student(monday, monday, "4A", &groups)),
        ["c1", "g2", "esp"]
    );
}

#[test]
fn the_timetable_survives_a_snapshot() {
    let mut events = with_maths();
    events.push(V::OccurrenceCancelled {
        lesson: "c1@2026-09-14".into(),
        course: "c1".into(),
        date: d(2026, 9, 14),
        reason: "grève".into(),
    });
    let timetable = state(&events);
    let json = serde_json::to_string(&timetable).map_err(|e| e.to_string());
    let back: Result<Timetable, String> =
        json.and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()));
    assert_eq!(back, Ok(timetable));
}

// ---------------------------------------------------------------------------------
// Nobody is ever in two places at once

const TEACHERS: [&str; 4] = ["M. Durand", "Mme Petit", "Mme Blanc", "M. Leroy"];
const ROOMS: [Option<&str>; 3] = [None, Some("B12"), Some("B14")];
/// Who a generated lesson is for: a whole division, or a group (named with a division
/// it is drawn from, for the reader).
const AUDIENCES: [(&str, Option<&str>); 6] = [
    ("4A", None),
    ("4B", None),
    ("4A", Some("4A-G1")),
    ("4A", Some("4A-G2")),
    ("4A", Some("ESP-4AB")),
    ("4B", Some("ALL-4AB")),
];

fn audience(index: usize) -> (Vec<String>, Vec<String>) {
    match AUDIENCES[index % AUDIENCES.len()] {
        (division, None) => (vec![division.to_string()], vec![]),
        (_, Some(group)) => (vec![], vec![group.to_string()]),
    }
}

/// Who attends: each division with the partition and group of the students attending,
/// `None` for the whole class.
fn students(o: &Occurrence, timetable: &Timetable) -> Vec<(String, Option<(String, String)>)> {
    let mut found: Vec<_> = o.divisions.iter().map(|d| (d.clone(), None)).collect();
    for name in &o.groups {
        if let Some(group) = timetable.group(name) {
            for division in &group.divisions {
                found.push((
                    division.clone(),
                    Some((group.partition.clone(), name.clone())),
                ));
            }
        }
    }
    found
}

fn may_share_students(a: &Occurrence, b: &Occurrence, timetable: &Timetable) -> bool {
    students(a, timetable).iter().any(|(division, part)| {
        students(b, timetable).iter().any(|(other, other_part)| {
            division == other
                && match (part, other_part) {
                    (Some((p, g)), Some((q, h))) => g == h || p != q,
                    _ => true,
                }
        })
    })
}

#[derive(Debug, Clone)]
enum Step {
    Course {
        day: u8,
        start: u8,
        length: u8,
        teacher: usize,
        room: usize,
        audience: usize,
        pattern: u8,
        weeks: u16,
        from_week: u8,
        span: u8,
    },
    Change {
        course: usize,
        day: u8,
        start: u8,
        length: u8,
    },
    Move {
        course: usize,
        week: u8,
        to_day: u8,
        start: u8,
    },
    Replace {
        course: usize,
        week: u8,
        teacher: usize,
    },
    Room {
        course: usize,
        week: u8,
        room: usize,
    },
    Extra {
        week: u8,
        day: u8,
        start: u8,
        teacher: usize,
        audience: usize,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let course = (
        (0u8..2, 0u8..8, 1u8..4),
        (0..4usize, 0..3usize, 0..6usize),
        (0u8..4, any::<u16>(), 0u8..30, 1u8..44),
    )
        .prop_map(
            |(
                (day, start, length),
                (teacher, room, audience),
                (pattern, weeks, from_week, span),
            )| {
                Step::Course {
                    day,
                    start,
                    length,
                    teacher,
                    room,
                    audience,
                    pattern,
                    weeks,
                    from_week,
                    span,
                }
            },
        );
    let change = (0..12usize, 0u8..2, 0u8..8, 1u8..4).prop_map(|(course, day, start, length)| {
        Step::Change {
            course,
            day,
            start,
            length,
        }
    });
    let moved = (0..12usize, 0u8..16, 0u8..5, 0u8..8).prop_map(|(course, week, to_day, start)| {
        Step::Move {
            course,
            week,
            to_day,
            start,
        }
    });
    let replace =
        (0..12usize, 0u8..16, 0..4usize).prop_map(|(course, week, teacher)| Step::Replace {
            course,
            week,
            teacher,
        });
    let room = (0..12usize, 0u8..16, 1..3usize).prop_map(|(course, week, room)| Step::Room {
        course,
        week,
        room,
    });
    let extra = (0u8..16, 0u8..5, 0u8..8, 0..4usize, 0..6usize).prop_map(
        |(week, day, start, teacher, audience)| Step::Extra {
            week,
            day,
            start,
            teacher,
            audience,
        },
    );
    prop_oneof![4 => course, 1 => change, 1 => moved, 1 => replace, 1 => room, 1 => extra]
}

/// Half-hour steps from 08:00.
fn half_hour(step: u8) -> NaiveTime {
    t(8, 0) + Duration::minutes(30 * i64::from(step))
}

const DAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];

fn command(step: &Step, index: usize, added: &[CourseSpec]) -> Option<C> {
    let first = d(2026, 8, 31);
    let monday = |week: u8| first + Duration::weeks(i64::from(week));
    let lesson_day = |course: usize, week: u8| {
        added.get(course % added.len().max(1)).map(|c| {
            (
                c.id.clone(),
                monday(week) + Duration::days(i64::from(c.weekday.num_days_from_monday())),
            )
        })
    };
    Some(match *step {
        Step::Course {
            day,
            start,
            length,
            teacher,
            room,
            audience: who,
            pattern,
            weeks,
            from_week,
            span,
        } => {
            let (divisions, groups) = audience(who);
            let valid_from = monday(from_week).max(d(2026, 9, 1));
            let valid_to = (valid_from + Duration::weeks(i64::from(span))).min(d(2027, 7, 3));
            C::AddCourse(CourseSpec {
                id: format!("c{index}"),
                weekday: DAYS[usize::from(day)],
                start: half_hour(start),
                end: half_hour(start + length),
                subject: "Cours".into(),
                teachers: vec![TEACHERS[teacher].into()],
                divisions,
                groups,
                room: ROOMS[room].map(str::to_string),
                weeks: match pattern {
                    0 => WeekPattern::Every,
                    1 => WeekPattern::A,
                    2 => WeekPattern::B,
                    _ => WeekPattern::Weeks(
                        (0..16u8)
                            .filter(|w| weeks & (1 << w) != 0)
                            .map(monday)
                            .collect(),
                    ),
                },
                valid_from,
                valid_to,
            })
        }
        Step::Change {
            course,
            day,
            start,
            length,
        } => {
            let spec = added.get(course % added.len().max(1))?;
            C::ChangeCourse(CourseSpec {
                weekday: DAYS[usize::from(day)],
                start: half_hour(start),
                end: half_hour(start + length),
                ..spec.clone()
            })
        }
        Step::Move {
            course,
            week,
            to_day,
            start,
        } => {
            let (course, date) = lesson_day(course, week)?;
            C::MoveOccurrence {
                course,
                date,
                to_date: monday(week) + Duration::days(i64::from(to_day)),
                start: half_hour(start),
                end: half_hour(start + 2),
                room: None,
            }
        }
        Step::Replace {
            course,
            week,
            teacher,
        } => {
            let (course, date) = lesson_day(course, week)?;
            C::ReplaceTeacher {
                course,
                date,
                teachers: vec![TEACHERS[teacher].into()],
            }
        }
        Step::Room { course, week, room } => {
            let (course, date) = lesson_day(course, week)?;
            C::ChangeRoom {
                course,
                date,
                room: ROOMS[room].unwrap_or("B12").into(),
            }
        }
        Step::Extra {
            week,
            day,
            start,
            teacher,
            audience: who,
        } => {
            let (divisions, groups) = audience(who);
            C::AddExtraLesson(ExtraLesson {
                id: format!("x{index}"),
                date: monday(week) + Duration::days(i64::from(day)),
                start: half_hour(start),
                end: half_hour(start + 2),
                subject: "Soutien".into(),
                teachers: vec![TEACHERS[teacher].into()],
                divisions,
                groups,
                room: None,
            })
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the timetable accepted, no two lessons of the year share a teacher, a
    /// room or students at overlapping times.
    #[test]
    fn accepted_timetables_never_put_anyone_in_two_places(steps in prop::collection::vec(step(), 1..24)) {
        let mut events = base();
        let mut added: Vec<CourseSpec> = Vec::new();
        for (index, step) in steps.iter().enumerate() {
            let Some(command) = command(step, index, &added) else { continue };
            if let Ok(new) = test().given(events.clone()).when(command).inspect_result() {
                for event in &new {
                    match event {
                        V::CourseAdded(spec) => added.push(spec.clone()),
                        V::CourseChanged { spec, .. } => {
                            added.retain(|c| c.id != spec.id);
                            added.push(spec.clone());
                        }
                        _ => {}
                    }
                }
                events.extend(new);
            }
        }
        let timetable = state(&events);
        let lessons: Vec<Occurrence> = timetable
            .occurrences(d(2026, 9, 1), d(2027, 7, 3))
            .into_iter()
            .filter(|o| o.cancelled.is_none())
            .collect();
        for (i, a) in lessons.iter().enumerate() {
            for b in &lessons[i + 1..] {
                if a.date != b.date || a.end <= b.start || b.end <= a.start {
                    continue;
                }
                prop_assert!(!a.teachers.iter().any(|t| b.teachers.contains(t)), "teacher in {} and {}", a.id, b.id);
                prop_assert!(a.room.is_none() || a.room != b.room, "room in {} and {}", a.id, b.id);
                prop_assert!(!may_share_students(a, b, &timetable), "students in {} and {}", a.id, b.id);
            }
        }
        let calendar = year();
        prop_assert!(lessons.iter().all(|o| calendar.is_school_day(o.date)));
    }
}
