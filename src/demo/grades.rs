//! The first term's evaluations and marks: three evaluations per class and subject,
//! each saved as a whole grid by its teacher, as teachers do.

use std::collections::BTreeMap;

use carnet_domain::enrolment::{ClassRef, YearSpec};
use carnet_domain::grades::{EvaluationSpec, GradebookCommand, Mark, NotHandedIn};
use carnet_store::School;
use chrono::Duration;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use super::structure::{Structure, SUBJECTS};
use super::{DemoError, Runner};

const PER_SUBJECT: i64 = 3;

/// Returns how many evaluations and marks were entered.
pub async fn enter(
    runner: &Runner<'_>,
    plan: &Structure,
    year: &YearSpec,
    rng: &mut ChaCha8Rng,
) -> Result<(usize, usize), DemoError> {
    let Some(term) = year.periods.first() else {
        return Ok((0, 0));
    };
    // Each student's level, so a student's marks hang together across subjects.
    let level: BTreeMap<&str, f64> = plan
        .students
        .iter()
        .map(|s| (s.id.as_str(), 6.0 + rng.random::<f64>() * 11.0))
        .collect();
    let mut streams: BTreeMap<String, Vec<(String, GradebookCommand)>> = BTreeMap::new();
    let (mut evaluations, mut marks) = (0, 0);
    let days = (term.to - term.from).num_days().max(1);
    for (teacher, subject_index, class) in &plan.services {
        let subject = &SUBJECTS[*subject_index];
        let (class_id, members): (&str, Vec<&str>) = match class {
            ClassRef::Division(d) => (
                d,
                plan.students
                    .iter()
                    .filter(|s| &s.division == d)
                    .map(|s| s.id.as_str())
                    .collect(),
            ),
            ClassRef::Group(g) => (
                g,
                plan.students
                    .iter()
                    .filter(|s| s.groups.contains(g))
                    .map(|s| s.id.as_str())
                    .collect(),
            ),
        };
        if members.is_empty() {
            continue;
        }
        let stream = School::gradebook_id(&year.year, class_id, &term.id);
        let commands = streams.entry(stream).or_default();
        for n in 1..=PER_SUBJECT {
            let id = format!("{class_id}-{}-{}-{n}", term.id, subject.short);
            let scale = if n == 2 && rng.random_bool(0.3) {
                Decimal::from(10)
            } else {
                Decimal::from(20)
            };
            let coefficient = match n {
                3 => Decimal::from(2),
                _ if rng.random_bool(0.2) => Decimal::new(5, 1),
                _ => Decimal::ONE,
            };
            let spec = EvaluationSpec {
                evaluation: id.clone(),
                class: class_id.to_string(),
                period: term.id.clone(),
                subject: subject.short.to_string(),
                teacher: teacher.clone(),
                title: title(subject.short, n),
                date: term.from + Duration::days(days * n / (PER_SUBJECT + 1)),
                scale,
                coefficient,
                bonus: false,
                not_handed_in: NotHandedIn::CountsAsZero,
                competences: Vec::new(),
            };
            commands.push((
                format!("evaluation/{id}"),
                GradebookCommand::CreateEvaluation(spec),
            ));
            let grid: Vec<(String, Mark)> = members
                .iter()
                .map(|student| {
                    let ability = level.get(student).copied().unwrap_or(12.0);
                    (
                        student.to_string(),
                        mark(ability, scale, subject.short, rng),
                    )
                })
                .collect();
            marks += grid.len();
            evaluations += 1;
            commands.push((
                format!("marks/{id}"),
                GradebookCommand::EnterMarks {
                    evaluation: id,
                    marks: grid,
                    by: teacher.clone(),
                },
            ));
        }
    }
    runner
        .run_streams(&runner.school().gradebooks, streams)
        .await?;
    Ok((evaluations, marks))
}

fn title(subject: &str, n: i64) -> String {
    match n {
        1 => format!("{subject} : évaluation diagnostique"),
        2 => format!("{subject} : interrogation"),
        _ => format!("{subject} : devoir de fin de trimestre"),
    }
}

/// A mark around the student's level, in half points; now and then absent, not handed
/// in, or exempted (in EPS, with a medical certificate).
fn mark(ability: f64, scale: Decimal, subject: &str, rng: &mut ChaCha8Rng) -> Mark {
    let roll: f64 = rng.random();
    if roll < 0.03 {
        return Mark::Absent;
    }
    if roll < 0.04 {
        return if subject == "EPS" {
            Mark::Exempted
        } else {
            Mark::NotHandedIn
        };
    }
    let spread = (rng.random::<f64>() + rng.random::<f64>() - 1.0) * 6.0;
    let out_of_20 = (ability + spread).clamp(0.0, 20.0);
    let halves = (out_of_20 * 2.0).round() as i64;
    let score = Decimal::new(halves * 5, 1) * scale / Decimal::from(20);
    Mark::Score(score.round_dp(1).normalize())
}
