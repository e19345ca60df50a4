//! The grades read model: every gradebook (evaluations with their marks and history,
//! coefficients, closing), and per student and period the subject averages of each of
//! their gradebooks, from which the overall average is computed.
//!
//! Documents:
//! - `gradebook/{year}/{class}/{period}`: the [`Gradebook`] as its events build it; class
//!   average, min and max per evaluation and subject come from the domain's functions;
//! - `averages/{year}/{period}/{student}`: [`StudentAverages`].

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use carnet_domain::grades::averages::{self, ClassFigures};
use carnet_domain::grades::{Gradebook, GradebookEvent};
use carnet_domain::Uai;
use carnet_store::{Pool, RecordedEvent};
use cqrs_es::Aggregate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::ProjectionError;
use crate::query;
use crate::runtime::{decode, Batch, Projection};
use crate::state::fold;

pub const NAME: &str = "grades";

/// A student's averages of one period, per gradebook (their division's, each group's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StudentAverages {
    /// By gradebook stream: subject → unrounded average out of 20.
    pub books: BTreeMap<String, BTreeMap<String, Decimal>>,
    /// Subject coefficients of the overall average (1 when not set).
    pub coefficients: BTreeMap<String, Decimal>,
}

impl StudentAverages {
    /// Subject averages over all the student's gradebooks, unrounded.
    pub fn subjects(&self) -> BTreeMap<String, Decimal> {
        let mut out = BTreeMap::new();
        for book in self.books.values() {
            for (subject, average) in book {
                out.insert(subject.clone(), *average);
            }
        }
        out
    }

    /// The overall average: subject averages weighted by subject coefficient, rounded
    /// once by the domain's rule. `None` without any average.
    pub fn overall(&self) -> Option<Decimal> {
        let (mut sum, mut weights) = (Decimal::ZERO, Decimal::ZERO);
        for (subject, average) in self.subjects() {
            let c = self
                .coefficients
                .get(&subject)
                .copied()
                .unwrap_or(Decimal::ONE);
            sum += average * c;
            weights += c;
        }
        (weights > Decimal::ZERO).then(|| averages::rounded(sum / weights))
    }
}

#[derive(Debug)]
pub struct GradesProjection;

#[async_trait]
impl Projection for GradesProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn wants(&self, stream_type: &str) -> bool {
        stream_type == Gradebook::TYPE
    }

    async fn apply(&self, event: &RecordedEvent, batch: &mut Batch) -> Result<(), ProjectionError> {
        let stream = event.stream.stream_id.clone();
        let e: GradebookEvent = decode(event)?;
        // `{year}/{class}/{period}`
        let mut parts = stream.splitn(3, '/');
        let (year, period) = match (parts.next(), parts.next(), parts.next()) {
            (Some(y), Some(_), Some(p)) => (y.to_string(), p.to_string()),
            _ => {
                return Err(ProjectionError::Apply {
                    projection: NAME.into(),
                    position: event.position,
                    event_type: event.event_type.clone(),
                    reason: format!("gradebook stream `{stream}` is not year/class/period"),
                })
            }
        };
        // A mark changes its student's averages; a coefficient, everyone's (`None`).
        let affected = match &e {
            GradebookEvent::MarkEntered { student, .. }
            | GradebookEvent::MarkCorrected { student, .. } => {
                Some(BTreeSet::from([student.clone()]))
            }
            GradebookEvent::SubjectCoefficientSet { .. } => None,
            _ => Some(BTreeSet::new()),
        };
        let book = fold::<Gradebook>(batch, &format!("gradebook/{stream}"), e).await?;
        let affected = affected.unwrap_or_else(|| averages::students(book));
        let subjects = averages::subjects(book);
        let updates: Vec<(String, BTreeMap<String, Decimal>)> = affected
            .into_iter()
            .map(|student| {
                let figures = subjects
                    .iter()
                    .filter_map(|s| {
                        averages::subject_average(book, &student, s).map(|a| (s.clone(), a))
                    })
                    .collect();
                (student, figures)
            })
            .collect();
        let coefficients = book.subject_coefficients.clone();
        for (student, figures) in updates {
            let doc: &mut StudentAverages = batch
                .typed_mut(&format!("averages/{year}/{period}/{student}"))
                .await?;
            doc.books.insert(stream.clone(), figures);
            for (subject, c) in &coefficients {
                doc.coefficients.insert(subject.clone(), *c);
            }
        }
        Ok(())
    }
}

pub async fn gradebook(
    pool: &Pool,
    tenant: &Uai,
    year: &str,
    class: &str,
    period: &str,
) -> Result<Option<Gradebook>, ProjectionError> {
    query::doc(
        pool,
        tenant,
        NAME,
        &format!("gradebook/{year}/{class}/{period}"),
    )
    .await
}

pub async fn student_averages(
    pool: &Pool,
    tenant: &Uai,
    year: &str,
    period: &str,
    student: &str,
) -> Result<StudentAverages, ProjectionError> {
    Ok(query::doc(
        pool,
        tenant,
        NAME,
        &format!("averages/{year}/{period}/{student}"),
    )
    .await?
    .unwrap_or_default())
}

/// Class average, min and max of every evaluation and subject of a gradebook.
pub fn class_figures(
    book: &Gradebook,
) -> (
    BTreeMap<String, ClassFigures>,
    BTreeMap<String, ClassFigures>,
) {
    let evaluations = book
        .evaluations
        .keys()
        .filter_map(|e| averages::evaluation_figures(book, e).map(|f| (e.clone(), f)))
        .collect();
    let subjects = averages::subjects(book)
        .into_iter()
        .filter_map(|s| averages::subject_figures(book, &s).map(|f| (s, f)))
        .collect();
    (evaluations, subjects)
}
