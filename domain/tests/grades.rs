//! The rules of the gradebook, given / when / then, and its averages.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

#[path = "support/english.rs"]
mod english;
use carnet_domain::grades::averages::{
    evaluation_figures, overall_average, rounded, subject_average, subject_figures,
};
use carnet_domain::grades::{
    EvaluationSpec, Gradebook, GradebookCommand as C, GradebookError as E, GradebookEvent as V,
    Mark, NotHandedIn,
};
use carnet_domain::personal::Personal;
use chrono::NaiveDate;
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use english::ThenRefused;
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

type Test = TestFramework<Gradebook>;

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
}

fn spec(id: &str, subject: &str, scale: Decimal, coefficient: Decimal) -> EvaluationSpec {
    EvaluationSpec {
        evaluation: id.into(),
        class: "4A".into(),
        period: "T1".into(),
        subject: subject.into(),
        teacher: "m.martin".into(),
        title: format!("Contrôle {id}"),
        date: date(3),
        scale,
        coefficient,
        bonus: false,
        not_handed_in: NotHandedIn::CountsAsZero,
        competences: Vec::new(),
    }
}

fn created(id: &str, subject: &str, scale: Decimal, coefficient: Decimal) -> V {
    V::EvaluationCreated(spec(id, subject, scale, coefficient))
}

fn create(id: &str) -> C {
    C::CreateEvaluation(spec(id, "MATHS", dec!(20), dec!(1)))
}

fn entered(evaluation: &str, student: &str, mark: Mark) -> V {
    V::MarkEntered {
        evaluation: evaluation.into(),
        student: student.into(),
        mark,
        by: "m.martin".into(),
    }
}

fn enter(evaluation: &str, student: &str, mark: Mark) -> C {
    C::EnterMark {
        evaluation: evaluation.into(),
        student: student.into(),
        mark,
        by: "m.martin".into(),
    }
}

fn score(value: Decimal) -> Mark {
    Mark::Score(value)
}

#[test]
fn a_teacher_creates_an_evaluation() {
    Test::with(())
        .given_no_previous_events()
        .when(create("e1"))
        .then_expect_events(vec![created("e1", "MATHS", dec!(20), dec!(1))]);
}

#[test]
fn an_evaluation_needs_a_positive_scale_and_no_negative_coefficient() {
    let with = |scale, coefficient| C::CreateEvaluation(spec("e1", "MATHS", scale, coefficient));
    Test::with(())
        .given_no_previous_events()
        .when(with(dec!(0), dec!(1)))
        .then_expect_error(E::InvalidScale(dec!(0)));
    Test::with(())
        .given_no_previous_events()
        .when(with(dec!(20), dec!(-1)))
        .then_expect_error(E::NegativeCoefficient(dec!(-1)));
    // Coefficient 0 is allowed: the evaluation is then left out of averages.
    Test::with(())
        .given_no_previous_events()
        .when(with(dec!(10), dec!(0)))
        .then_expect_events(vec![created("e1", "MATHS", dec!(10), dec!(0))]);
}

#[test]
fn an_evaluation_belongs_to_the_class_and_period_of_its_gradebook() {
    let other_class = C::CreateEvaluation(EvaluationSpec {
        class: "4B".into(),
        ..spec("e2", "MATHS", dec!(20), dec!(1))
    });
    Test::with(())
        .given(vec![created("e1", "MATHS", dec!(20), dec!(1))])
        .when(other_class)
        .then_expect_english_error("this gradebook is for 4A, T1; the evaluation is for 4B, T1");
    Test::with(())
        .given(vec![created("e1", "MATHS", dec!(20), dec!(1))])
        .when(create("e1"))
        .then_expect_error(E::EvaluationExists("e1".into()));
}

#[test]
fn scores_and_special_marks_are_entered_once() {
    let given = || Test::with(()).given(vec![created("e1", "MATHS", dec!(20), dec!(1))]);
    given()
        .when(enter("e1", "lea", score(dec!(14.5))))
        .then_expect_events(vec![entered("e1", "lea", score(dec!(14.5)))]);
    for special in [
        Mark::Absent,
        Mark::Exempted,
        Mark::NotGraded,
        Mark::NotHandedIn,
    ] {
        given()
            .when(enter("e1", "lea", special))
            .then_expect_events(vec![entered("e1", "lea", special)]);
    }
    Test::with(())
        .given(vec![
            created("e1", "MATHS", dec!(20), dec!(1)),
            entered("e1", "lea", score(dec!(12))),
        ])
        .when(enter("e1", "lea", score(dec!(13))))
        .then_expect_english_error(
            "lea already has the mark 12 for e1; change it with a correction",
        );
}

#[test]
fn a_grid_of_marks_is_saved_whole_or_not_at_all() {
    let grid = |marks: Vec<(&str, Mark)>| C::EnterMarks {
        evaluation: "e1".into(),
        marks: marks.into_iter().map(|(s, m)| (s.to_string(), m)).collect(),
        by: "m.martin".into(),
    };
    let given = || Test::with(()).given(vec![created("e1", "MATHS", dec!(20), dec!(1))]);
    given()
        .when(grid(vec![("lea", score(dec!(12))), ("tom", Mark::Absent)]))
        .then_expect_events(vec![
            entered("e1", "lea", score(dec!(12))),
            entered("e1", "tom", Mark::Absent),
        ]);
    given()
        .when(grid(vec![
            ("lea", score(dec!(12))),
            ("tom", score(dec!(21))),
        ]))
        .then_expect_english_error("the score 21 is outside the scale of the evaluation (0 to 20)");
    given()
        .when(grid(vec![
            ("lea", score(dec!(12))),
            ("lea", score(dec!(13))),
        ]))
        .then_expect_english_error("lea appears twice in the marks of e1");
    Test::with(())
        .given(vec![
            created("e1", "MATHS", dec!(20), dec!(1)),
            entered("e1", "tom", Mark::Absent),
        ])
        .when(grid(vec![
            ("lea", score(dec!(12))),
            ("tom", score(dec!(8))),
        ]))
        .then_expect_english_error(
            "tom already has the mark ABS for e1; change it with a correction",
        );
}

#[test]
fn a_score_outside_the_scale_is_refused() {
    let given = || Test::with(()).given(vec![created("e1", "MATHS", dec!(10), dec!(1))]);
    given()
        .when(enter("e1", "lea", score(dec!(10.5))))
        .then_expect_english_error(
            "the score 10.5 is outside the scale of the evaluation (0 to 10)",
        );
    given()
        .when(enter("e1", "lea", score(dec!(-1))))
        .then_expect_error(E::ScoreOutOfScale {
            score: dec!(-1),
            scale: dec!(10),
        });
    given()
        .when(enter("e1", "lea", score(dec!(10))))
        .then_expect_events(vec![entered("e1", "lea", score(dec!(10)))]);
    given()
        .when(enter("e9", "lea", score(dec!(5))))
        .then_expect_error(E::UnknownEvaluation("e9".into()));
}

#[test]
fn only_the_teacher_of_the_evaluation_enters_and_corrects_its_marks() {
    let given = || {
        Test::with(()).given(vec![
            created("e1", "MATHS", dec!(20), dec!(1)),
            entered("e1", "lea", score(dec!(8))),
        ])
    };
    given()
        .when(C::EnterMark {
            evaluation: "e1".into(),
            student: "tom".into(),
            mark: score(dec!(9)),
            by: "mme.durand".into(),
        })
        .then_expect_english_error("only m.martin, who set e1, can enter or correct its marks");
    given()
        .when(C::CorrectMark {
            evaluation: "e1".into(),
            student: "lea".into(),
            mark: score(dec!(9)),
            by: "mme.durand".into(),
            reason: "recount".into(),
        })
        .then_expect_error(E::NotTheTeacher {
            evaluation: "e1".into(),
            teacher: "m.martin".into(),
        });
}

#[test]
fn a_correction_keeps_the_previous_mark_and_needs_a_reason() {
    let correct = |mark, reason: &str| C::CorrectMark {
        evaluation: "e1".into(),
        student: "lea".into(),
        mark,
        by: "m.martin".into(),
        reason: reason.into(),
    };
    let given = || {
        Test::with(()).given(vec![
            created("e1", "MATHS", dec!(20), dec!(1)),
            entered("e1", "lea", score(dec!(8))),
        ])
    };
    given()
        .when(correct(score(dec!(11)), "copie mal additionnée"))
        .then_expect_events(vec![V::MarkCorrected {
            evaluation: "e1".into(),
            student: "lea".into(),
            previous: score(dec!(8)),
            mark: score(dec!(11)),
            by: "m.martin".into(),
            reason: Personal::known("lea", "copie mal additionnée".to_string()),
        }]);
    given()
        .when(correct(score(dec!(11)), "  "))
        .then_expect_error(E::ReasonRequired);
    given()
        .when(correct(score(dec!(8)), "no change"))
        .then_expect_english_error("the mark of lea for e1 is already 8");
    given()
        .when(correct(score(dec!(21)), "bonus"))
        .then_expect_error(E::ScoreOutOfScale {
            score: dec!(21),
            scale: dec!(20),
        });
    Test::with(())
        .given(vec![created("e1", "MATHS", dec!(20), dec!(1))])
        .when(correct(score(dec!(11)), "x"))
        .then_expect_error(E::NothingToCorrect {
            evaluation: "e1".into(),
            student: "lea".into(),
        });
    // The history keeps every value.
    let mut book = Gradebook::default();
    for event in [
        created("e1", "MATHS", dec!(20), dec!(1)),
        entered("e1", "lea", score(dec!(8))),
        V::MarkCorrected {
            evaluation: "e1".into(),
            student: "lea".into(),
            previous: score(dec!(8)),
            mark: Mark::Absent,
            by: "m.martin".into(),
            reason: Personal::known("lea", "était absente".to_string()),
        },
        V::MarkCorrected {
            evaluation: "e1".into(),
            student: "lea".into(),
            previous: Mark::Absent,
            mark: score(dec!(15)),
            by: "m.martin".into(),
            reason: Personal::known("lea", "rattrapage".to_string()),
        },
    ] {
        book.apply(event);
    }
    let entry = &book.evaluations["e1"].marks["lea"];
    assert_eq!(
        (entry.mark, entry.previous.clone()),
        (score(dec!(15)), vec![score(dec!(8)), Mark::Absent])
    );
}

#[test]
fn a_closed_period_refuses_every_change_until_the_administration_reopens_it() {
    let closed = vec![
        created("e1", "MATHS", dec!(20), dec!(1)),
        entered("e1", "lea", score(dec!(8))),
        V::PeriodClosed {
            by: "principal".into(),
        },
    ];
    let refusal = "the period T1 of 4A was closed by the class council; the administration must reopen it before any change";
    Test::with(())
        .given(closed.clone())
        .when(enter("e1", "tom", score(dec!(9))))
        .then_expect_english_error(refusal);
    Test::with(())
        .given(closed.clone())
        .when(create("e2"))
        .then_expect_english_error(refusal);
    Test::with(())
        .given(closed.clone())
        .when(C::CorrectMark {
            evaluation: "e1".into(),
            student: "lea".into(),
            mark: score(dec!(9)),
            by: "m.martin".into(),
            reason: "x".into(),
        })
        .then_expect_english_error(refusal);
    Test::with(())
        .given(closed.clone())
        .when(C::SetSubjectCoefficient {
            subject: "MATHS".into(),
            coefficient: dec!(3),
        })
        .then_expect_english_error(refusal);
    Test::with(())
        .given(closed.clone())
        .when(C::ClosePeriod {
            by: "principal".into(),
        })
        .then_expect_error(E::AlreadyClosed);
    Test::with(())
        .given(closed.clone())
        .when(C::ReopenPeriod {
            by: "principal".into(),
            reason: "".into(),
        })
        .then_expect_error(E::ReasonRequired);
    let reopened = V::PeriodReopened {
        by: "principal".into(),
        reason: "erreur de saisie signalée au conseil".into(),
    };
    Test::with(())
        .given(closed.clone())
        .when(C::ReopenPeriod {
            by: "principal".into(),
            reason: "erreur de saisie signalée au conseil".into(),
        })
        .then_expect_events(vec![reopened.clone()]);
    let mut after = closed;
    after.push(reopened);
    Test::with(())
        .given(after)
        .when(enter("e1", "tom", score(dec!(9))))
        .then_expect_events(vec![entered("e1", "tom", score(dec!(9)))]);
    Test::with(())
        .given_no_previous_events()
        .when(C::ReopenPeriod {
            by: "principal".into(),
            reason: "x".into(),
        })
        .then_expect_error(E::NotClosed);
}

fn book(events: Vec<V>) -> Gradebook {
    let mut book = Gradebook::default();
    for event in events {
        book.apply(event);
    }
    book
}

#[test]
fn subject_average_brings_scores_to_twenty_and_weights_them() {
    // 15/20 coef 2, 4/10 (= 8/20) coef 1: (30 + 8) / 3 = 12.666…
    let b = book(vec![
        created("e1", "MATHS", dec!(20), dec!(2)),
        created("e2", "MATHS", dec!(10), dec!(1)),
        entered("e1", "lea", score(dec!(15))),
        entered("e2", "lea", score(dec!(4))),
    ]);
    let average = subject_average(&b, "lea", "MATHS").unwrap();
    assert_eq!(rounded(average), dec!(12.67));
    // Decimal keeps 28 significant digits: only a repeating decimal's last digit is cut.
    assert!((average * dec!(3) - dec!(38)).abs() < dec!(0.000000000000000000001));
}

#[test]
fn special_marks_count_each_in_their_own_way() {
    let mut events = vec![
        created("e1", "MATHS", dec!(20), dec!(1)),
        created("e2", "MATHS", dec!(20), dec!(1)),
        created("e3", "MATHS", dec!(20), dec!(0)),
        entered("e1", "lea", score(dec!(12))),
        entered("e3", "lea", score(dec!(0))), // coefficient 0: left out
    ];
    for (mark, expected) in [
        (Mark::Absent, Some(dec!(12))),
        (Mark::Exempted, Some(dec!(12))),
        (Mark::NotGraded, Some(dec!(12))),
        (Mark::NotHandedIn, Some(dec!(6))), // NR counts as 0 here
    ] {
        let mut e = events.clone();
        e.push(entered("e2", "lea", mark));
        assert_eq!(
            subject_average(&book(e), "lea", "MATHS"),
            expected,
            "{mark:?}"
        );
    }
    // An evaluation that leaves NR out.
    events[1] = V::EvaluationCreated(EvaluationSpec {
        not_handed_in: NotHandedIn::Excluded,
        ..spec("e2", "MATHS", dec!(20), dec!(1))
    });
    events.push(entered("e2", "lea", Mark::NotHandedIn));
    assert_eq!(
        subject_average(&book(events), "lea", "MATHS"),
        Some(dec!(12))
    );
    // Nothing counted: no average rather than 0.
    let only_absent = book(vec![
        created("e1", "MATHS", dec!(20), dec!(1)),
        entered("e1", "tom", Mark::Absent),
    ]);
    assert_eq!(subject_average(&only_absent, "tom", "MATHS"), None);
}

#[test]
fn a_bonus_counts_only_when_it_raises_the_average() {
    let bonus = |id: &str| {
        V::EvaluationCreated(EvaluationSpec {
            bonus: true,
            ..spec(id, "MATHS", dec!(20), dec!(1))
        })
    };
    let base = vec![
        created("e1", "MATHS", dec!(20), dec!(1)),
        bonus("b1"),
        entered("e1", "lea", score(dec!(10))),
        entered("e1", "tom", score(dec!(10))),
    ];
    let mut e = base.clone();
    e.push(entered("b1", "lea", score(dec!(16))));
    e.push(entered("b1", "tom", score(dec!(6))));
    let b = book(e);
    assert_eq!(subject_average(&b, "lea", "MATHS"), Some(dec!(13))); // raised: counted
    assert_eq!(subject_average(&b, "tom", "MATHS"), Some(dec!(10))); // would lower: left out
}

#[test]
fn overall_average_weights_exact_subject_averages_by_subject_coefficient() {
    let b = book(vec![
        created("m1", "MATHS", dec!(20), dec!(1)),
        created("f1", "FRANC", dec!(20), dec!(1)),
        created("h1", "HIGEO", dec!(20), dec!(1)),
        entered("m1", "lea", score(dec!(10))),
        entered("f1", "lea", score(dec!(13))),
        entered("h1", "lea", score(dec!(11.335))),
        V::SubjectCoefficientSet {
            subject: "MATHS".into(),
            coefficient: dec!(3),
        },
        V::SubjectCoefficientSet {
            subject: "HIGEO".into(),
            coefficient: dec!(0),
        },
    ]);
    // (10 x 3 + 13 x 1) / 4 = 10.75; HIGEO has coefficient 0.
    assert_eq!(overall_average(&b, "lea"), Some(dec!(10.75)));
    assert_eq!(
        rounded(subject_average(&b, "lea", "HIGEO").unwrap()),
        dec!(11.34)
    ); // half away from zero
    assert_eq!(rounded(dec!(12.345)), dec!(12.35));
    assert_eq!(overall_average(&b, "nobody"), None);
}

#[test]
fn class_figures_per_evaluation_and_per_subject() {
    let b = book(vec![
        created("e1", "MATHS", dec!(10), dec!(1)),
        created("e2", "MATHS", dec!(20), dec!(1)),
        entered("e1", "lea", score(dec!(8))),
        entered("e1", "tom", score(dec!(5))),
        entered("e1", "zoe", Mark::Absent),
        entered("e1", "max", Mark::NotHandedIn),
        entered("e2", "lea", score(dec!(12))),
    ]);
    let figures = evaluation_figures(&b, "e1").unwrap();
    // On the evaluation's own scale (/10); ABS left out, NR counts as 0.
    assert_eq!(
        (figures.average, figures.min, figures.max, figures.count),
        (dec!(13) / dec!(3), dec!(0), dec!(8), 3)
    );
    // Subject averages: lea (16 + 12) / 2 = 14, tom 10, max 0.
    let subject = subject_figures(&b, "MATHS").unwrap();
    assert_eq!(
        (subject.average, subject.min, subject.max, subject.count),
        (dec!(8), dec!(0), dec!(14), 3)
    );
    assert_eq!(evaluation_figures(&b, "nope"), None);
}

/// Scores in hundredths of a point on /20.
fn marks() -> impl Strategy<Value = Vec<(usize, usize, u32)>> {
    prop::collection::vec((0usize..4, 0usize..6, 0u32..=2000), 1..40)
}

proptest! {
    /// The averages do not depend on the order the marks were entered in, nor on
    /// corrections that were undone.
    #[test]
    fn averages_do_not_depend_on_event_order_or_undone_corrections(
        marks in marks(),
        seed in any::<u64>(),
        detour in 0u32..=2000,
    ) {
        let mut header: Vec<V> = (0..4).map(|e| created(&format!("e{e}"), if e % 2 == 0 { "MATHS" } else { "FRANC" }, dec!(20), Decimal::from(e as u32 + 1))).collect();
        let mut seen = std::collections::BTreeSet::new();
        let mut entries: Vec<V> = marks.iter()
            .filter(|(e, s, _)| seen.insert((*e, *s)))
            .map(|(e, s, v)| entered(&format!("e{e}"), &format!("s{s}"), score(Decimal::new(*v as i64, 2))))
            .collect();
        let first = book(header.iter().cloned().chain(entries.iter().cloned()).collect());
        // Another order of the same marks.
        let n = entries.len();
        for i in 0..n {
            let j = ((seed as usize).wrapping_mul(31).wrapping_add(i * 17)) % n;
            entries.swap(i, j);
        }
        // And a correction away from the first mark and back.
        if let Some(V::MarkEntered { evaluation, student, mark, .. }) = entries.first().cloned() {
            let away = score(Decimal::new(detour as i64, 2));
            entries.push(V::MarkCorrected { evaluation: evaluation.clone(), student: student.clone(), previous: mark, mark: away, by: "m.martin".into(), reason: Personal::known(student.clone(), "x".to_string()) });
            entries.push(V::MarkCorrected { evaluation, reason: Personal::known(student.clone(), "y".to_string()), student, previous: away, mark, by: "m.martin".into() });
        }
        header.extend(entries);
        let second = book(header);
        for s in 0..6 {
            let student = format!("s{s}");
            for subject in ["MATHS", "FRANC"] {
                prop_assert_eq!(subject_average(&first, &student, subject), subject_average(&second, &student, subject));
            }
            prop_assert_eq!(overall_average(&first, &student), overall_average(&second, &student));
            if let Some(average) = overall_average(&first, &student) {
                prop_assert!(average >= Decimal::ZERO && average <= dec!(20));
            }
        }
    }
}
