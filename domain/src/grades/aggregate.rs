//! The gradebook of one class for one period.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::values::{Mark, NotHandedIn};
use crate::personal::Personal;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Gradebook {
    /// The division or group, and the period, set by the first evaluation.
    pub class: Option<String>,
    pub period: Option<String>,
    pub closed: bool,
    /// Coefficient of each subject in the overall average; 1 when not set.
    pub subject_coefficients: BTreeMap<String, Decimal>,
    pub evaluations: BTreeMap<String, Evaluation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub id: String,
    pub subject: String,
    pub teacher: String,
    pub title: String,
    pub date: NaiveDate,
    /// The maximum score, e.g. 20 or 10.
    pub scale: Decimal,
    /// Weight in the subject average; 0 keeps the evaluation out of averages.
    pub coefficient: Decimal,
    /// A bonus evaluation counts only where it raises the student's average.
    pub bonus: bool,
    pub not_handed_in: NotHandedIn,
    pub marks: BTreeMap<String, MarkEntry>,
}

/// A student's mark on an evaluation, with every value it had before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkEntry {
    pub mark: Mark,
    pub previous: Vec<Mark>,
}

/// What a teacher sets when creating an evaluation; the event records it as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationSpec {
    pub evaluation: String,
    pub class: String,
    pub period: String,
    pub subject: String,
    pub teacher: String,
    pub title: String,
    pub date: NaiveDate,
    /// The maximum score, e.g. 20 or 10.
    pub scale: Decimal,
    /// Weight in the subject average; 0 keeps the evaluation out of averages.
    pub coefficient: Decimal,
    /// A bonus evaluation counts only where it raises the student's average.
    pub bonus: bool,
    pub not_handed_in: NotHandedIn,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GradebookCommand {
    CreateEvaluation(EvaluationSpec),
    EnterMark {
        evaluation: String,
        student: String,
        mark: Mark,
        by: String,
    },
    /// The whole grid of an evaluation saved at once, as a teacher fills it in: every
    /// mark is checked as [`GradebookCommand::EnterMark`] would, and one refused mark
    /// refuses the grid (nothing half-saved).
    EnterMarks {
        evaluation: String,
        marks: Vec<(String, Mark)>,
        by: String,
    },
    CorrectMark {
        evaluation: String,
        student: String,
        mark: Mark,
        by: String,
        reason: String,
    },
    SetSubjectCoefficient {
        subject: String,
        coefficient: Decimal,
    },
    /// The class council has met: no mark of the period may change any more.
    ClosePeriod {
        by: String,
    },
    /// The administration reopens a closed period, saying why.
    ReopenPeriod {
        by: String,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum GradebookEvent {
    EvaluationCreated(EvaluationSpec),
    MarkEntered {
        evaluation: String,
        student: String,
        mark: Mark,
        by: String,
    },
    MarkCorrected {
        evaluation: String,
        student: String,
        previous: Mark,
        mark: Mark,
        by: String,
        /// The student's personal data: it often says why (an illness, a family matter).
        reason: Personal<String>,
    },
    SubjectCoefficientSet {
        subject: String,
        coefficient: Decimal,
    },
    PeriodClosed {
        by: String,
    },
    PeriodReopened {
        by: String,
        reason: String,
    },
}

impl DomainEvent for GradebookEvent {
    fn event_type(&self) -> String {
        match self {
            GradebookEvent::EvaluationCreated(_) => "EvaluationCreated",
            GradebookEvent::MarkEntered { .. } => "MarkEntered",
            GradebookEvent::MarkCorrected { .. } => "MarkCorrected",
            GradebookEvent::SubjectCoefficientSet { .. } => "SubjectCoefficientSet",
            GradebookEvent::PeriodClosed { .. } => "PeriodClosed",
            GradebookEvent::PeriodReopened { .. } => "PeriodReopened",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        // Version 2 of a correction: its reason became the student's personal data.
        match self {
            GradebookEvent::MarkCorrected { .. } => "2",
            _ => "1",
        }
        .to_string()
    }
}

/// Why a gradebook command is refused, in the words of the school.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GradebookError {
    #[error("the period {period} of {class} was closed by the class council; the administration must reopen it before any change")]
    PeriodClosed { class: String, period: String },
    #[error("this gradebook is for {expected}; the evaluation is for {given}")]
    WrongGradebook { expected: String, given: String },
    #[error("an evaluation {0} already exists")]
    EvaluationExists(String),
    #[error("there is no evaluation {0} in this gradebook")]
    UnknownEvaluation(String),
    #[error("the scale of an evaluation must be above 0 (e.g. 20 or 10), not {0}")]
    InvalidScale(Decimal),
    #[error(
        "a coefficient cannot be negative ({0}); use 0 to leave an evaluation out of averages"
    )]
    NegativeCoefficient(Decimal),
    #[error("the score {score} is outside the scale of the evaluation (0 to {scale})")]
    ScoreOutOfScale { score: Decimal, scale: Decimal },
    #[error("{student} already has the mark {mark} for {evaluation}; change it with a correction")]
    AlreadyMarked {
        evaluation: String,
        student: String,
        mark: Mark,
    },
    #[error("{student} has no mark for {evaluation} to correct")]
    NothingToCorrect { evaluation: String, student: String },
    #[error("only {teacher}, who set {evaluation}, can enter or correct its marks")]
    NotTheTeacher { evaluation: String, teacher: String },
    #[error("a correction must say why the mark changes")]
    ReasonRequired,
    #[error("the mark of {student} for {evaluation} is already {mark}")]
    SameMark {
        evaluation: String,
        student: String,
        mark: Mark,
    },
    #[error("{student} appears twice in the marks of {evaluation}")]
    StudentTwice { evaluation: String, student: String },
    #[error("the grid of {0} has no mark")]
    EmptyGrid(String),
    #[error("the period is already closed")]
    AlreadyClosed,
    #[error("the period is not closed")]
    NotClosed,
    #[error("{0} must not be empty")]
    Missing(&'static str),
}

impl Gradebook {
    fn check_open(&self) -> Result<(), GradebookError> {
        if self.closed {
            return Err(GradebookError::PeriodClosed {
                class: self.class.clone().unwrap_or_default(),
                period: self.period.clone().unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// The evaluation `id`, if `by` is the teacher who set it.
    fn evaluation_of(&self, id: &str, by: &str) -> Result<&Evaluation, GradebookError> {
        let evaluation = self
            .evaluations
            .get(id)
            .ok_or_else(|| GradebookError::UnknownEvaluation(id.to_string()))?;
        if evaluation.teacher != by {
            return Err(GradebookError::NotTheTeacher {
                evaluation: id.to_string(),
                teacher: evaluation.teacher.clone(),
            });
        }
        Ok(evaluation)
    }

    fn decide(&self, command: GradebookCommand) -> Result<Vec<GradebookEvent>, GradebookError> {
        match command {
            GradebookCommand::CreateEvaluation(spec) => {
                self.check_open()?;
                for (field, value) in [
                    ("the evaluation id", &spec.evaluation),
                    ("the class", &spec.class),
                    ("the period", &spec.period),
                    ("the subject", &spec.subject),
                    ("the teacher", &spec.teacher),
                    ("the title", &spec.title),
                ] {
                    if value.trim().is_empty() {
                        return Err(GradebookError::Missing(field));
                    }
                }
                if let (Some(c), Some(p)) = (&self.class, &self.period) {
                    if (c, p) != (&spec.class, &spec.period) {
                        return Err(GradebookError::WrongGradebook {
                            expected: format!("{c}, {p}"),
                            given: format!("{}, {}", spec.class, spec.period),
                        });
                    }
                }
                if self.evaluations.contains_key(&spec.evaluation) {
                    return Err(GradebookError::EvaluationExists(spec.evaluation));
                }
                if spec.scale <= Decimal::ZERO {
                    return Err(GradebookError::InvalidScale(spec.scale));
                }
                if spec.coefficient < Decimal::ZERO {
                    return Err(GradebookError::NegativeCoefficient(spec.coefficient));
                }
                Ok(vec![GradebookEvent::EvaluationCreated(spec)])
            }
            GradebookCommand::EnterMark {
                evaluation,
                student,
                mark,
                by,
            } => {
                self.check_open()?;
                if student.trim().is_empty() {
                    return Err(GradebookError::Missing("the student"));
                }
                let found = self.evaluation_of(&evaluation, &by)?;
                check_in_scale(mark, found.scale)?;
                if let Some(entry) = found.marks.get(&student) {
                    return Err(GradebookError::AlreadyMarked {
                        evaluation,
                        student,
                        mark: entry.mark,
                    });
                }
                Ok(vec![GradebookEvent::MarkEntered {
                    evaluation,
                    student,
                    mark,
                    by,
                }])
            }
            GradebookCommand::EnterMarks {
                evaluation,
                marks,
                by,
            } => {
                if marks.is_empty() {
                    return Err(GradebookError::EmptyGrid(evaluation));
                }
                let mut seen = std::collections::BTreeSet::new();
                let mut events = Vec::with_capacity(marks.len());
                for (student, mark) in marks {
                    if !seen.insert(student.clone()) {
                        return Err(GradebookError::StudentTwice {
                            evaluation,
                            student,
                        });
                    }
                    events.extend(self.decide(GradebookCommand::EnterMark {
                        evaluation: evaluation.clone(),
                        student,
                        mark,
                        by: by.clone(),
                    })?);
                }
                Ok(events)
            }
            GradebookCommand::CorrectMark {
                evaluation,
                student,
                mark,
                by,
                reason,
            } => {
                self.check_open()?;
                let found = self.evaluation_of(&evaluation, &by)?;
                if reason.trim().is_empty() {
                    return Err(GradebookError::ReasonRequired);
                }
                check_in_scale(mark, found.scale)?;
                let Some(entry) = found.marks.get(&student) else {
                    return Err(GradebookError::NothingToCorrect {
                        evaluation,
                        student,
                    });
                };
                if entry.mark == mark {
                    return Err(GradebookError::SameMark {
                        evaluation,
                        student,
                        mark,
                    });
                }
                Ok(vec![GradebookEvent::MarkCorrected {
                    evaluation,
                    reason: Personal::known(student.clone(), reason),
                    student,
                    previous: entry.mark,
                    mark,
                    by,
                }])
            }
            GradebookCommand::SetSubjectCoefficient {
                subject,
                coefficient,
            } => {
                self.check_open()?;
                if coefficient < Decimal::ZERO {
                    return Err(GradebookError::NegativeCoefficient(coefficient));
                }
                Ok(vec![GradebookEvent::SubjectCoefficientSet {
                    subject,
                    coefficient,
                }])
            }
            GradebookCommand::ClosePeriod { by } => {
                if self.closed {
                    return Err(GradebookError::AlreadyClosed);
                }
                Ok(vec![GradebookEvent::PeriodClosed { by }])
            }
            GradebookCommand::ReopenPeriod { by, reason } => {
                if !self.closed {
                    return Err(GradebookError::NotClosed);
                }
                if reason.trim().is_empty() {
                    return Err(GradebookError::ReasonRequired);
                }
                Ok(vec![GradebookEvent::PeriodReopened { by, reason }])
            }
        }
    }
}

fn check_in_scale(mark: Mark, scale: Decimal) -> Result<(), GradebookError> {
    match mark {
        Mark::Score(score) if score < Decimal::ZERO || score > scale => {
            Err(GradebookError::ScoreOutOfScale { score, scale })
        }
        _ => Ok(()),
    }
}

impl Aggregate for Gradebook {
    const TYPE: &'static str = "gradebook";
    type Command = GradebookCommand;
    type Event = GradebookEvent;
    type Error = GradebookError;
    type Services = ();

    async fn handle(
        &mut self,
        command: GradebookCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), GradebookError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: GradebookEvent) {
        match event {
            GradebookEvent::EvaluationCreated(spec) => {
                self.class.get_or_insert(spec.class);
                self.period.get_or_insert(spec.period);
                self.evaluations.insert(
                    spec.evaluation.clone(),
                    Evaluation {
                        id: spec.evaluation,
                        subject: spec.subject,
                        teacher: spec.teacher,
                        title: spec.title,
                        date: spec.date,
                        scale: spec.scale,
                        coefficient: spec.coefficient,
                        bonus: spec.bonus,
                        not_handed_in: spec.not_handed_in,
                        marks: BTreeMap::new(),
                    },
                );
            }
            GradebookEvent::MarkEntered {
                evaluation,
                student,
                mark,
                ..
            } => {
                if let Some(e) = self.evaluations.get_mut(&evaluation) {
                    e.marks.insert(
                        student,
                        MarkEntry {
                            mark,
                            previous: Vec::new(),
                        },
                    );
                }
            }
            GradebookEvent::MarkCorrected {
                evaluation,
                student,
                mark,
                previous,
                ..
            } => {
                if let Some(e) = self.evaluations.get_mut(&evaluation) {
                    let entry = e.marks.entry(student).or_insert(MarkEntry {
                        mark: previous,
                        previous: Vec::new(),
                    });
                    entry.previous.push(entry.mark);
                    entry.mark = mark;
                }
            }
            GradebookEvent::SubjectCoefficientSet {
                subject,
                coefficient,
            } => {
                self.subject_coefficients.insert(subject, coefficient);
            }
            GradebookEvent::PeriodClosed { .. } => self.closed = true,
            GradebookEvent::PeriodReopened { .. } => self.closed = false,
        }
    }
}
