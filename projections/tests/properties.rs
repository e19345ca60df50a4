//! Property: for random sequences of attendance and grades commands, projected in batches
//! of random sizes while the log grows, the read models equal a rebuild from scratch, and
//! every counter equals the one the domain aggregate computes (half-days per month,
//! subject and overall averages). On Postgres and SQLite.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::sync::Arc;

use carnet_domain::attendance::{
    AttendanceCommand as A, AttendancePolicy, Status, StudentAttendance,
};
use carnet_domain::enrolment::SchoolYear;
use carnet_domain::grades::{
    averages, EvaluationSpec, Gradebook, GradebookCommand as G, Mark, NotHandedIn,
};
use carnet_domain::Uai;
use carnet_projections::attendance::{self, AttendanceProjection};
use carnet_projections::grades::{self, GradesProjection};
use carnet_projections::{query, rebuild, Projection, Projector};
use carnet_store::testing::TestStore;
use carnet_store::{BackendKind, CommandContext, School};
use chrono::{NaiveDate, NaiveTime};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::Value;

const STUDENTS: [&str; 3] = ["s0", "s1", "s2"];
const SUBJECTS: [&str; 2] = ["MATHS", "FRANC"];

#[derive(Debug, Clone)]
enum Op {
    Roll {
        student: usize,
        lesson: u8,
        day: u32,
        status: u8,
    },
    Correct {
        student: usize,
        lesson: u8,
        status: u8,
    },
    Justify {
        student: usize,
        id: u8,
        from: u32,
        days: u32,
    },
    Decide {
        student: usize,
        id: u8,
        accept: bool,
    },
    Evaluation {
        id: u8,
        subject: usize,
        scale: u8,
        coefficient: u8,
        bonus: bool,
        excluded: bool,
    },
    Mark {
        evaluation: u8,
        student: usize,
        mark: u8,
    },
    CorrectMark {
        evaluation: u8,
        student: usize,
        mark: u8,
    },
    Coefficient {
        subject: usize,
        coefficient: u8,
    },
    Close,
    Reopen,
    /// The projectors apply at most this many events.
    Project(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let student = 0..STUDENTS.len();
    prop_oneof![
        4 => (student.clone(), 0..6u8, 2..7u32, 0..4u8)
            .prop_map(|(student, lesson, day, status)| Op::Roll { student, lesson, day, status }),
        1 => (student.clone(), 0..6u8, 0..4u8)
            .prop_map(|(student, lesson, status)| Op::Correct { student, lesson, status }),
        1 => (student.clone(), 0..2u8, 2..7u32, 0..3u32)
            .prop_map(|(student, id, from, days)| Op::Justify { student, id, from, days }),
        1 => (student.clone(), 0..2u8, any::<bool>())
            .prop_map(|(student, id, accept)| Op::Decide { student, id, accept }),
        1 => (0..4u8, 0..SUBJECTS.len(), prop::sample::select(vec![10u8, 20]), 1..4u8, prop::bool::weighted(0.2), any::<bool>())
            .prop_map(|(id, subject, scale, coefficient, bonus, excluded)| Op::Evaluation { id, subject, scale, coefficient, bonus, excluded }),
        4 => (0..4u8, student.clone(), 0..25u8)
            .prop_map(|(evaluation, student, mark)| Op::Mark { evaluation, student, mark }),
        1 => (0..4u8, student, 0..25u8)
            .prop_map(|(evaluation, student, mark)| Op::CorrectMark { evaluation, student, mark }),
        1 => (0..SUBJECTS.len(), 1..4u8).prop_map(|(subject, coefficient)| Op::Coefficient { subject, coefficient }),
        1 => Just(Op::Close),
        1 => Just(Op::Reopen),
        2 => (1..12i64).prop_map(Op::Project),
    ]
}

fn uai() -> Uai {
    Uai::parse("0750655E").unwrap()
}

fn year() -> SchoolYear {
    SchoolYear::parse("2026-2027").unwrap()
}

fn nov(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
}

fn status(n: u8) -> Status {
    match n {
        0 => Status::Present,
        1 => Status::Absent,
        2 => Status::Late { minutes: 10 },
        _ => Status::Excluded,
    }
}

/// Marks 0..=20 are scores; above, the special marks.
fn mark(n: u8) -> Mark {
    match n {
        21 => Mark::Absent,
        22 => Mark::Exempted,
        23 => Mark::NotGraded,
        24 => Mark::NotHandedIn,
        n => Mark::Score(Decimal::from(n) / Decimal::TWO),
    }
}

fn attendance_command(op: &Op) -> Option<(usize, A)> {
    let lesson = |l: u8| format!("cours{l}@2026-11-0{}", 2 + l % 5);
    Some(match *op {
        Op::Roll {
            student,
            lesson: l,
            day,
            status: s,
        } => (
            student,
            A::RecordAttendance {
                student: STUDENTS[student].into(),
                lesson: lesson(l),
                date: nov(day),
                start: NaiveTime::from_hms_opt(8 + u32::from(l), 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(8 + u32::from(l), 55, 0).unwrap(),
                status: status(s),
                by: "prof".into(),
                notify: vec!["resp".into()],
            },
        ),
        Op::Correct {
            student,
            lesson: l,
            status: s,
        } => (
            student,
            A::CorrectAttendance {
                lesson: lesson(l),
                status: status(s),
                by: "cpe".into(),
                reason: "erreur d'appel".into(),
                notify: vec![],
            },
        ),
        Op::Justify {
            student,
            id,
            from,
            days,
        } => (
            student,
            A::DeclareJustification {
                student: STUDENTS[student].into(),
                justification: format!("j{id}"),
                from: nov(from),
                to: nov((from + days).min(6)),
                reason: "MAL".into(),
                comment: String::new(),
                by: "resp".into(),
            },
        ),
        Op::Decide {
            student,
            id,
            accept,
        } => (
            student,
            A::DecideJustification {
                justification: format!("j{id}"),
                accept,
                by: "cpe".into(),
                note: String::new(),
            },
        ),
        _ => return None,
    })
}

fn grades_command(op: &Op) -> Option<G> {
    Some(match *op {
        Op::Evaluation {
            id,
            subject,
            scale,
            coefficient,
            bonus,
            excluded,
        } => G::CreateEvaluation(EvaluationSpec {
            evaluation: format!("e{id}"),
            class: "4A".into(),
            period: "T1".into(),
            subject: SUBJECTS[subject].into(),
            teacher: "prof".into(),
            title: format!("Évaluation {id}"),
            date: nov(2 + u32::from(id)),
            scale: Decimal::from(scale),
            coefficient: Decimal::from(coefficient),
            bonus,
            not_handed_in: if excluded {
                NotHandedIn::Excluded
            } else {
                NotHandedIn::CountsAsZero
            },
            competences: Vec::new(),
        }),
        Op::Mark {
            evaluation,
            student,
            mark: m,
        } => G::EnterMark {
            evaluation: format!("e{evaluation}"),
            student: STUDENTS[student].into(),
            mark: mark(m),
            by: "prof".into(),
        },
        Op::CorrectMark {
            evaluation,
            student,
            mark: m,
        } => G::CorrectMark {
            evaluation: format!("e{evaluation}"),
            student: STUDENTS[student].into(),
            mark: mark(m),
            by: "prof".into(),
            reason: "copie revue".into(),
        },
        Op::Coefficient {
            subject,
            coefficient,
        } => G::SetSubjectCoefficient {
            subject: SUBJECTS[subject].into(),
            coefficient: Decimal::from(coefficient),
        },
        Op::Close => G::ClosePeriod {
            by: "principal".into(),
        },
        Op::Reopen => G::ReopenPeriod {
            by: "principal".into(),
            reason: "erreur de saisie".into(),
        },
        _ => return None,
    })
}

async fn all_docs(ts: &TestStore, projection: &str) -> Vec<(String, Value)> {
    query::docs_with_prefix(&ts.store.backend().pool(), &uai(), projection, "")
        .await
        .unwrap()
}

/// Runs `ops` (commands the domain refuses are part of the game: they write nothing),
/// then checks the property.
async fn check(kind: BackendKind, ops: Vec<Op>) {
    let ts = TestStore::new(kind).await;
    ts.store
        .create_tenant(&uai(), "Collège", "Europe/Paris")
        .await
        .unwrap();
    let school = School::new(ts.store.clone(), uai(), AttendancePolicy::default());
    let projections: [Arc<dyn Projection>; 2] =
        [Arc::new(AttendanceProjection), Arc::new(GradesProjection)];
    let ctx = CommandContext::default();
    let book_id = School::gradebook_id(&year(), "4A", "T1");
    // Two evaluations to start with, so that most marks land on one.
    let start = [0, 1].map(|subject| Op::Evaluation {
        id: subject as u8,
        subject,
        scale: 20,
        coefficient: 1,
        bonus: false,
        excluded: false,
    });
    for op in &start {
        let command = grades_command(op).unwrap();
        school
            .gradebooks
            .execute(&book_id, command, &ctx)
            .await
            .unwrap();
    }
    for op in &ops {
        if let Some((student, command)) = attendance_command(op) {
            let stream = School::attendance_id(&year(), STUDENTS[student]);
            let _ = school.attendance.execute(&stream, command, &ctx).await;
        } else if let Some(command) = grades_command(op) {
            let _ = school.gradebooks.execute(&book_id, command, &ctx).await;
        } else if let Op::Project(events) = op {
            for projection in &projections {
                // One owner throughout: the lease stays theirs from batch to batch.
                Projector::new(ts.store.clone(), uai(), projection.clone())
                    .with_owner("property")
                    .with_batch_size(*events)
                    .step()
                    .await
                    .unwrap();
            }
        }
    }
    for projection in &projections {
        Projector::new(ts.store.clone(), uai(), projection.clone())
            .with_owner("property")
            .with_batch_size(5)
            .catch_up()
            .await
            .unwrap();
    }
    let incremental = (
        all_docs(&ts, attendance::NAME).await,
        all_docs(&ts, grades::NAME).await,
    );
    for projection in projections {
        rebuild(&ts.store, &uai(), projection, |_, _| {})
            .await
            .unwrap();
    }
    let rebuilt = (
        all_docs(&ts, attendance::NAME).await,
        all_docs(&ts, grades::NAME).await,
    );
    for (a, b) in [(&incremental.0, &rebuilt.0), (&incremental.1, &rebuilt.1)] {
        let differs = a.iter().zip(b).find(|(x, y)| x != y);
        assert!(
            a.len() == b.len() && differs.is_none(),
            "incremental and rebuilt read models differ: {a:?} against {b:?}, first difference {differs:?}"
        );
    }

    let pool = ts.store.backend().pool();
    let (_, book): (i64, Gradebook) = school.gradebooks.state(&book_id).await.unwrap();
    for student in STUDENTS {
        let (_, record): (i64, StudentAttendance) = school
            .attendance
            .state(&School::attendance_id(&year(), student))
            .await
            .unwrap();
        let projected = attendance::student_year(&pool, &uai(), "2026-2027", student)
            .await
            .unwrap();
        assert_eq!(projected, record);
        assert_eq!(
            attendance::month(&projected, 2026, 11),
            record.month_counts(2026, 11).into()
        );

        let projected = grades::student_averages(&pool, &uai(), "2026-2027", "T1", student)
            .await
            .unwrap();
        let expected: std::collections::BTreeMap<String, Decimal> = averages::subjects(&book)
            .into_iter()
            .filter_map(|s| averages::subject_average(&book, student, &s).map(|a| (s, a)))
            .collect();
        assert_eq!(projected.subjects(), expected, "{student}");
        assert_eq!(
            projected.overall(),
            averages::overall_average(&book, student).map(averages::rounded),
            "{student}"
        );
    }
}

fn run(kind: BackendKind, ops: Vec<Op>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(check(kind, ops));
}

proptest! {
    // Each case builds a database: a few dozen cases per backend keep the suite short.
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn postgres_incremental_equals_rebuild_and_the_aggregates(ops in prop::collection::vec(op(), 1..80)) {
        run(BackendKind::Postgres, ops);
    }

    #[test]
    fn sqlite_incremental_equals_rebuild_and_the_aggregates(ops in prop::collection::vec(op(), 1..80)) {
        run(BackendKind::Sqlite, ops);
    }
}
