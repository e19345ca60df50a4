//! Averages, in exact decimals (rust_decimal), never floats.
//!
//! The rule, stated once and used everywhere: every average is computed from the marks in
//! decimal (28 significant digits, so 0.1 is 0.1 and not a binary approximation), scores
//! brought to /20, and rounded only when shown, to the hundredth, half away from zero
//! (12.345 shows as 12.35), with [`rounded`]. An average is never computed from rounded
//! averages: the overall average uses the unrounded subject averages.
//!
//! - Subject average of a student: the scores of the subject's evaluations brought to /20
//!   and weighted by their coefficients; ABS, DISP and NN are left out, NR counts as 0 or
//!   is left out as the evaluation says, coefficient 0 leaves an evaluation out. A bonus
//!   evaluation counts only if it raises the average of the others (bonuses are tried in
//!   date order).
//! - Overall average: the subject averages weighted by the subject coefficients (1 unless
//!   set).
//! - Class figures: average, minimum and maximum of the counted scores of an evaluation
//!   (on its own scale), or of the students' subject averages.

use std::collections::BTreeSet;

use rust_decimal::{Decimal, RoundingStrategy};

use super::aggregate::{Evaluation, Gradebook};
use super::values::{Mark, NotHandedIn};

const TWENTY: Decimal = Decimal::from_parts(20, 0, 0, false, 0);

/// An average as shown to people: to the hundredth, half away from zero.
pub fn rounded(average: Decimal) -> Decimal {
    average.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Average, minimum and maximum of a set of values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassFigures {
    pub average: Decimal,
    pub min: Decimal,
    pub max: Decimal,
    pub count: usize,
}

impl ClassFigures {
    fn of(values: impl IntoIterator<Item = Decimal>) -> Option<Self> {
        let values: Vec<Decimal> = values.into_iter().collect();
        let count = values.len();
        let min = values.iter().min().copied()?;
        let max = values.iter().max().copied()?;
        let sum: Decimal = values.iter().sum();
        Some(ClassFigures {
            average: sum / Decimal::from(count),
            min,
            max,
            count,
        })
    }
}

/// What a mark counts for in averages, on the evaluation's own scale; `None` when left out.
fn counted(evaluation: &Evaluation, mark: Mark) -> Option<Decimal> {
    match mark {
        Mark::Score(score) => Some(score),
        Mark::NotHandedIn if evaluation.not_handed_in == NotHandedIn::CountsAsZero => {
            Some(Decimal::ZERO)
        }
        Mark::NotHandedIn | Mark::Absent | Mark::Exempted | Mark::NotGraded => None,
    }
}

/// A student's counted mark on an evaluation, brought to /20, with its coefficient.
fn weighted_on_twenty(evaluation: &Evaluation, student: &str) -> Option<(Decimal, Decimal)> {
    if evaluation.coefficient.is_zero() {
        return None;
    }
    let value = counted(evaluation, evaluation.marks.get(student)?.mark)?;
    Some((value * TWENTY / evaluation.scale, evaluation.coefficient))
}

/// The unrounded average of a student in a subject, `None` when nothing counts.
pub fn subject_average(book: &Gradebook, student: &str, subject: &str) -> Option<Decimal> {
    let of_subject = || book.evaluations.values().filter(|e| e.subject == subject);
    let (mut total, mut weight) = (Decimal::ZERO, Decimal::ZERO);
    for (value, coefficient) in of_subject()
        .filter(|e| !e.bonus)
        .filter_map(|e| weighted_on_twenty(e, student))
    {
        total += value * coefficient;
        weight += coefficient;
    }
    let mut bonuses: Vec<&Evaluation> = of_subject().filter(|e| e.bonus).collect();
    bonuses.sort_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
    for bonus in bonuses {
        let Some((value, coefficient)) = weighted_on_twenty(bonus, student) else {
            continue;
        };
        if weight.is_zero() {
            continue; // nothing to raise
        }
        let with = (total + value * coefficient) / (weight + coefficient);
        if with > total / weight {
            total += value * coefficient;
            weight += coefficient;
        }
    }
    (!weight.is_zero()).then(|| total / weight)
}

/// The unrounded overall average of a student over every subject with an average.
pub fn overall_average(book: &Gradebook, student: &str) -> Option<Decimal> {
    let (mut total, mut weight) = (Decimal::ZERO, Decimal::ZERO);
    for subject in subjects(book) {
        let coefficient = book
            .subject_coefficients
            .get(&subject)
            .copied()
            .unwrap_or(Decimal::ONE);
        if coefficient.is_zero() {
            continue;
        }
        if let Some(average) = subject_average(book, student, &subject) {
            total += average * coefficient;
            weight += coefficient;
        }
    }
    (!weight.is_zero()).then(|| total / weight)
}

/// Class average, min and max of an evaluation, on its own scale, over counted marks.
pub fn evaluation_figures(book: &Gradebook, evaluation: &str) -> Option<ClassFigures> {
    let evaluation = book.evaluations.get(evaluation)?;
    ClassFigures::of(
        evaluation
            .marks
            .values()
            .filter_map(|m| counted(evaluation, m.mark)),
    )
}

/// Class average, min and max of the students' averages in a subject.
pub fn subject_figures(book: &Gradebook, subject: &str) -> Option<ClassFigures> {
    ClassFigures::of(
        students(book)
            .iter()
            .filter_map(|s| subject_average(book, s, subject)),
    )
}

/// Every student with a mark in the gradebook.
pub fn students(book: &Gradebook) -> BTreeSet<String> {
    book.evaluations
        .values()
        .flat_map(|e| e.marks.keys().cloned())
        .collect()
}

/// Every subject with an evaluation in the gradebook.
pub fn subjects(book: &Gradebook) -> BTreeSet<String> {
    book.evaluations
        .values()
        .map(|e| e.subject.clone())
        .collect()
}
