//! The rules of attendance, given / when / then.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

#[path = "support/english.rs"]
mod english;
use carnet_domain::attendance::{
    AttendanceCommand as C, AttendanceError as E, AttendanceEvent as V, AttendancePolicy, HalfDay,
    Part, Status, StudentAttendance,
};
use carnet_domain::personal::Personal;
use chrono::{NaiveDate, NaiveTime};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use english::ThenRefused;
use proptest::prelude::*;

fn test() -> TestFramework<StudentAttendance> {
    TestFramework::with(AttendancePolicy::default())
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn at(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn record(lesson: &str, date: NaiveDate, start: NaiveTime, status: Status) -> C {
    C::RecordAttendance {
        student: "lea".into(),
        lesson: lesson.into(),
        date,
        start,
        end: start + chrono::Duration::minutes(55),
        status,
        by: "m.martin".into(),
        notify: Vec::new(),
    }
}

fn recorded(lesson: &str, date: NaiveDate, start: NaiveTime, status: Status) -> V {
    let part = if start < at(12, 30) {
        Part::Morning
    } else {
        Part::Afternoon
    };
    V::AttendanceRecorded {
        student: "lea".into(),
        lesson: lesson.into(),
        date,
        start,
        end: start + chrono::Duration::minutes(55),
        half_day: HalfDay { date, part },
        status,
        by: "m.martin".into(),
    }
}

fn state(events: &[V]) -> StudentAttendance {
    let mut s = StudentAttendance::default();
    for e in events {
        s.apply(e.clone());
    }
    s
}

#[test]
fn the_roll_call_records_an_absence_in_its_half_day() {
    test()
        .given_no_previous_events()
        .when(record("l1", day(2), at(8, 0), Status::Absent))
        .then_expect_events(vec![recorded("l1", day(2), at(8, 0), Status::Absent)]);
    // 13:30 is after the establishment's 12:30: afternoon.
    test()
        .given_no_previous_events()
        .when(record(
            "l2",
            day(2),
            at(13, 30),
            Status::Late { minutes: 10 },
        ))
        .then_expect_events(vec![recorded(
            "l2",
            day(2),
            at(13, 30),
            Status::Late { minutes: 10 },
        )]);
}

#[test]
fn the_roll_call_refuses_what_cannot_be() {
    let refuse = |command, message: &str| {
        test()
            .given_no_previous_events()
            .when(command)
            .then_expect_english_error(message)
    };
    refuse(
        record("l1", day(2), at(8, 0), Status::Present),
        "a roll call records who is not simply present; there is nothing to record",
    );
    refuse(
        record("l1", day(2), at(8, 0), Status::Late { minutes: 0 }),
        "lateness is a number of minutes between 1 and the length of the lesson (55 min)",
    );
    refuse(
        record("l1", day(2), at(8, 0), Status::Late { minutes: 55 }),
        "lateness is a number of minutes between 1 and the length of the lesson (55 min)",
    );
    refuse(
        record(
            "l1",
            day(2),
            at(8, 0),
            Status::EarlyDeparture { at: at(9, 0) },
        ),
        "an early departure happens during the lesson (08:00 to 08:55)",
    );
    let backwards = C::RecordAttendance {
        student: "lea".into(),
        lesson: "l1".into(),
        date: day(2),
        start: at(9, 0),
        end: at(8, 0),
        status: Status::Absent,
        by: "x".into(),
        notify: Vec::new(),
    };
    refuse(
        backwards,
        "a lesson must end after it starts (09:00 to 08:00)",
    );
    test()
        .given(vec![recorded("l1", day(2), at(8, 0), Status::Absent)])
        .when(record("l1", day(2), at(8, 0), Status::Late { minutes: 5 }))
        .then_expect_english_error(
            "the roll call of lesson l1 already says absent; change it with a correction",
        );
    let other_student = C::RecordAttendance {
        student: "tom".into(),
        lesson: "l9".into(),
        date: day(2),
        start: at(8, 0),
        end: at(9, 0),
        status: Status::Absent,
        by: "x".into(),
        notify: Vec::new(),
    };
    test()
        .given(vec![recorded("l1", day(2), at(8, 0), Status::Absent)])
        .when(other_student)
        .then_expect_error(E::WrongStudent {
            expected: "lea".into(),
            given: "tom".into(),
        });
}

#[test]
fn corrections_keep_the_previous_value_and_say_why() {
    let given = || test().given(vec![recorded("l1", day(2), at(8, 0), Status::Absent)]);
    let correct = |status, reason: &str| C::CorrectAttendance {
        lesson: "l1".into(),
        status,
        by: "cpe".into(),
        reason: reason.into(),
        notify: Vec::new(),
    };
    given()
        .when(correct(
            Status::Late { minutes: 12 },
            "arrivée avec un mot du bus",
        ))
        .then_expect_events(vec![V::AttendanceCorrected {
            lesson: "l1".into(),
            previous: Status::Absent,
            status: Status::Late { minutes: 12 },
            by: "cpe".into(),
            reason: p("arrivée avec un mot du bus"),
        }]);
    given()
        .when(correct(Status::Present, ""))
        .then_expect_error(E::ReasonRequired);
    given()
        .when(correct(Status::Absent, "x"))
        .then_expect_english_error("lesson l1 already says absent");
    test()
        .given_no_previous_events()
        .when(correct(Status::Absent, "x"))
        .then_expect_error(E::NothingToCorrect("l1".into()));
    let s = state(&[
        recorded("l1", day(2), at(8, 0), Status::Absent),
        V::AttendanceCorrected {
            lesson: "l1".into(),
            previous: Status::Absent,
            status: Status::Present,
            by: "cpe".into(),
            reason: p("erreur d'appel"),
        },
    ]);
    assert_eq!(
        (s.lessons["l1"].status, s.lessons["l1"].previous.clone()),
        (Status::Present, vec![Status::Absent])
    );
    assert!(s.absence_half_days().is_empty());
}

#[test]
fn a_half_day_counts_once_and_lateness_is_not_an_absence() {
    let s = state(&[
        recorded("l1", day(2), at(8, 0), Status::Absent),
        recorded("l2", day(2), at(9, 0), Status::Absent),
        recorded("l3", day(2), at(10, 0), Status::Absent),
        recorded("l4", day(2), at(14, 0), Status::Late { minutes: 20 }),
        recorded("l5", day(3), at(14, 0), Status::Excluded),
        recorded(
            "l6",
            day(3),
            at(15, 0),
            Status::EarlyDeparture { at: at(15, 30) },
        ),
    ]);
    assert_eq!(
        s.absence_half_days().into_iter().collect::<Vec<_>>(),
        [HalfDay {
            date: day(2),
            part: Part::Morning
        }]
    );
    assert_eq!(s.month_counts(2026, 11), (1, 0, 1));
}

/// A personal value of Léa's absence data this year, in clear (as `handle` makes it).
fn p(text: &str) -> Personal<String> {
    Personal::known("lea/absences/2026-2027", text.to_string())
}

fn declared(id: &str, from: NaiveDate, to: NaiveDate, reason: &str, legitimate: bool) -> V {
    V::JustificationDeclared {
        student: "lea".into(),
        justification: id.into(),
        from,
        to,
        reason: p(reason),
        legitimate,
        comment: p(""),
        by: "mère".into(),
    }
}

#[test]
fn guardians_declare_and_the_cpe_decides() {
    let declare = |reason: &str, from, to| C::DeclareJustification {
        student: "lea".into(),
        justification: "j1".into(),
        from,
        to,
        reason: reason.into(),
        comment: "fièvre".into(),
        by: "mère".into(),
    };
    test()
        .given_no_previous_events()
        .when(declare("MAL", day(2), day(3)))
        .then_expect_events(vec![V::JustificationDeclared {
            student: "lea".into(),
            justification: "j1".into(),
            from: day(2),
            to: day(3),
            reason: p("MAL"),
            legitimate: true,
            comment: p("fièvre"),
            by: "mère".into(),
        }]);
    test()
        .given_no_previous_events()
        .when(declare("XYZ", day(2), day(3)))
        .then_expect_english_error("`XYZ` is not a reason of this establishment's list");
    test()
        .given_no_previous_events()
        .when(declare("MAL", day(3), day(2)))
        .then_expect_error(E::DatesReversed {
            from: day(3),
            to: day(2),
        });
    let decide = |accept| C::DecideJustification {
        justification: "j1".into(),
        accept,
        by: "cpe".into(),
        note: "".into(),
    };
    test()
        .given(vec![declared("j1", day(2), day(2), "MAL", true)])
        .when(decide(false))
        .then_expect_events(vec![V::JustificationRefused {
            justification: "j1".into(),
            by: "cpe".into(),
            note: p(""),
        }]);
    test()
        .given(vec![
            declared("j1", day(2), day(2), "MAL", true),
            V::JustificationAccepted {
                justification: "j1".into(),
                by: "cpe".into(),
                note: p(""),
            },
        ])
        .when(decide(false))
        .then_expect_error(E::AlreadyDecided("j1".into()));
    test()
        .given_no_previous_events()
        .when(decide(true))
        .then_expect_error(E::UnknownJustification("j1".into()));
}

#[test]
fn only_an_accepted_legitimate_reason_justifies() {
    let absences = [
        recorded("l1", day(2), at(8, 0), Status::Absent),
        recorded("l2", day(3), at(8, 0), Status::Absent),
    ];
    let accepted = |id: &str| V::JustificationAccepted {
        justification: id.into(),
        by: "cpe".into(),
        note: p(""),
    };
    let mut events = absences.to_vec();
    events.push(declared("j1", day(2), day(2), "MAL", true));
    assert_eq!(state(&events).month_counts(2026, 11), (2, 0, 2)); // declared, not yet accepted
    events.push(accepted("j1"));
    events.push(declared("j2", day(3), day(3), "CON", false));
    events.push(accepted("j2")); // accepted, but convenance personnelle is not legitimate
    assert_eq!(state(&events).month_counts(2026, 11), (2, 1, 1));
}

#[test]
fn four_unjustified_half_days_in_a_month_raise_the_alert_once() {
    let three = vec![
        recorded("l1", day(2), at(8, 0), Status::Absent),
        recorded("l2", day(2), at(14, 0), Status::Absent),
        recorded("l3", day(3), at(8, 0), Status::Absent),
    ];
    let alert = V::AlertThresholdReached {
        student: "lea".into(),
        month: "2026-11".into(),
        unjustified_half_days: 4,
    };
    test()
        .given(three.clone())
        .when(record("l4", day(9), at(10, 0), Status::Absent))
        .then_expect_events(vec![
            recorded("l4", day(9), at(10, 0), Status::Absent),
            alert.clone(),
        ]);
    // A second lesson of a half-day already counted does not make a fourth.
    test()
        .given(three.clone())
        .when(record("l4", day(3), at(10, 0), Status::Absent))
        .then_expect_events(vec![recorded("l4", day(3), at(10, 0), Status::Absent)]);
    // Once per month: the fifth half-day gives no second alert.
    let mut four = three.clone();
    four.push(recorded("l4", day(9), at(10, 0), Status::Absent));
    four.push(alert);
    test()
        .given(four)
        .when(record("l5", day(10), at(8, 0), Status::Absent))
        .then_expect_events(vec![recorded("l5", day(10), at(8, 0), Status::Absent)]);
    // Another month counts on its own.
    test()
        .given(three.clone())
        .when(record(
            "l4",
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            at(8, 0),
            Status::Absent,
        ))
        .then_expect_events(vec![recorded(
            "l4",
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            at(8, 0),
            Status::Absent,
        )]);
    // Justified half-days do not count.
    let mut justified = three;
    justified.push(declared("j1", day(2), day(2), "MAL", true));
    justified.push(V::JustificationAccepted {
        justification: "j1".into(),
        by: "cpe".into(),
        note: p(""),
    });
    test()
        .given(justified)
        .when(record("l4", day(9), at(10, 0), Status::Absent))
        .then_expect_events(vec![recorded("l4", day(9), at(10, 0), Status::Absent)]);
    // A correction that turns a lateness into an absence can reach it too.
    let with_late = vec![
        recorded("l1", day(2), at(8, 0), Status::Absent),
        recorded("l2", day(2), at(14, 0), Status::Absent),
        recorded("l3", day(3), at(8, 0), Status::Absent),
        recorded("l4", day(4), at(8, 0), Status::Late { minutes: 30 }),
    ];
    test()
        .given(with_late)
        .when(C::CorrectAttendance {
            lesson: "l4".into(),
            status: Status::Absent,
            by: "cpe".into(),
            reason: "n'est jamais arrivée".into(),
            notify: Vec::new(),
        })
        .then_expect_events(vec![
            V::AttendanceCorrected {
                lesson: "l4".into(),
                previous: Status::Late { minutes: 30 },
                status: Status::Absent,
                by: "cpe".into(),
                reason: p("n'est jamais arrivée"),
            },
            V::AlertThresholdReached {
                student: "lea".into(),
                month: "2026-11".into(),
                unjustified_half_days: 4,
            },
        ]);
}

proptest! {
    /// A month's half-days never exceed two per day of the month, and do not depend on the
    /// order in which the lessons were recorded.
    #[test]
    fn half_day_counts_are_bounded_and_order_free(lessons in prop::collection::vec((1u32..=30, 7u32..=17, 0u8..3), 0..80), seed in any::<u64>()) {
        let mut events: Vec<V> = lessons.iter().enumerate().map(|(i, (d, h, kind))| {
            let status = match kind { 0 => Status::Absent, 1 => Status::Late { minutes: 5 }, _ => Status::Excluded };
            recorded(&format!("l{i}"), day(*d), at(*h, 0), status)
        }).collect();
        let first = state(&events);
        let (total, justified, unjustified) = first.month_counts(2026, 11);
        prop_assert!(total <= 2 * 30);
        prop_assert_eq!(total, justified + unjustified);
        let n = events.len();
        for i in 0..n { let j = (seed as usize).wrapping_add(i * 7919) % n; events.swap(i, j); }
        prop_assert_eq!(state(&events).month_counts(2026, 11), (total, justified, unjustified));
    }
}

#[test]
fn an_absence_notifies_the_guardians_who_have_that_right() {
    let mut absent = record("l1", day(2), at(8, 0), Status::Absent);
    if let C::RecordAttendance { notify, .. } = &mut absent {
        *notify = vec!["mother".into(), "father".into(), "mother".into()];
    }
    test()
        .given_no_previous_events()
        .when(absent)
        .then_expect_events(vec![
            recorded("l1", day(2), at(8, 0), Status::Absent),
            V::GuardiansNotified {
                student: "lea".into(),
                lesson: "l1".into(),
                date: day(2),
                start: at(8, 0),
                guardians: vec!["father".into(), "mother".into()],
            },
        ]);
    // Lateness is not an absence: nobody is notified.
    let mut late = record("l1", day(2), at(8, 0), Status::Late { minutes: 5 });
    if let C::RecordAttendance { notify, .. } = &mut late {
        *notify = vec!["mother".into()];
    }
    test()
        .given_no_previous_events()
        .when(late)
        .then_expect_events(vec![recorded(
            "l1",
            day(2),
            at(8, 0),
            Status::Late { minutes: 5 },
        )]);
    // A correction that makes the entry an absence notifies too.
    test()
        .given(vec![recorded(
            "l1",
            day(2),
            at(8, 0),
            Status::Late { minutes: 5 },
        )])
        .when(C::CorrectAttendance {
            lesson: "l1".into(),
            status: Status::Absent,
            by: "cpe".into(),
            reason: "jamais arrivée".into(),
            notify: vec!["mother".into()],
        })
        .then_expect_events(vec![
            V::AttendanceCorrected {
                lesson: "l1".into(),
                previous: Status::Late { minutes: 5 },
                status: Status::Absent,
                by: "cpe".into(),
                reason: p("jamais arrivée"),
            },
            V::GuardiansNotified {
                student: "lea".into(),
                lesson: "l1".into(),
                date: day(2),
                start: at(8, 0),
                guardians: vec!["mother".into()],
            },
        ]);
}
