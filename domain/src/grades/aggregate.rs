//! The gradebook of one class for one period.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::competences::Level;
use super::values::{Mark, NotHandedIn};
use crate::personal::Personal;
use crate::refusal::{what_fr, Lang, Refusal};

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
    /// The competence items (of the establishment's framework) it assesses.
    #[serde(default)]
    pub competences: Vec<String>,
    /// The levels each student was given on those items, with every earlier assessment.
    #[serde(default)]
    pub assessments: BTreeMap<String, AssessmentEntry>,
}

/// A student's levels on an evaluation's items, with the assessments they replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssessmentEntry {
    pub levels: BTreeMap<String, Level>,
    pub previous: Vec<BTreeMap<String, Level>>,
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
    /// The competence items it assesses, besides or instead of a mark (an evaluation of
    /// competences only has coefficient 0). The caller checks that they exist in the
    /// establishment's framework. Left out of the JSON when empty: an evaluation
    /// without competences is written as it was before they existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub competences: Vec<String>,
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
    /// A student's levels on the evaluation's competence items; assessing again replaces
    /// the levels (the earlier ones are kept).
    AssessCompetences {
        evaluation: String,
        student: String,
        levels: BTreeMap<String, Level>,
        by: String,
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
    CompetencesAssessed {
        evaluation: String,
        student: String,
        levels: BTreeMap<String, Level>,
        by: String,
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
            GradebookEvent::CompetencesAssessed { .. } => "CompetencesAssessed",
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

/// A number as French schools write it: `12,5`.
fn num_fr(value: impl std::fmt::Display) -> String {
    value.to_string().replace('.', ",")
}

/// Why a gradebook command is refused, in the words of the school.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GradebookError {
    #[error("la période {period} de {class} a été close par le conseil de classe : l'administration doit la rouvrir avant toute modification")]
    PeriodClosed { class: String, period: String },
    #[error("ce carnet de notes est celui de {expected} ; l'évaluation concerne {given}")]
    WrongGradebook { expected: String, given: String },
    #[error("l'évaluation {0} existe déjà")]
    EvaluationExists(String),
    #[error("il n'y a pas d'évaluation {0} dans ce carnet de notes")]
    UnknownEvaluation(String),
    #[error("une évaluation est notée sur plus de 0 (par exemple sur 20 ou sur 10), pas sur {}", num_fr(.0.normalize()))]
    InvalidScale(Decimal),
    #[error("un coefficient ne peut pas être négatif ({}) ; mettez 0 pour ne pas compter l'évaluation dans les moyennes", num_fr(.0.normalize()))]
    NegativeCoefficient(Decimal),
    #[error("la note {} sort du barème de l'évaluation (de 0 à {})", num_fr(.score.normalize()), num_fr(.scale.normalize()))]
    ScoreOutOfScale { score: Decimal, scale: Decimal },
    #[error("{student} a déjà la note {} à l'évaluation {evaluation} ; pour la modifier, faites une correction", num_fr(.mark))]
    AlreadyMarked {
        evaluation: String,
        student: String,
        mark: Mark,
    },
    #[error("{student} n'a pas de note à l'évaluation {evaluation} : il n'y a rien à corriger")]
    NothingToCorrect { evaluation: String, student: String },
    #[error("seul {teacher}, qui a créé l'évaluation {evaluation}, peut en saisir ou en corriger les notes")]
    NotTheTeacher { evaluation: String, teacher: String },
    #[error("une correction doit indiquer pourquoi la note change")]
    ReasonRequired,
    #[error("la note de {student} à l'évaluation {evaluation} est déjà {}", num_fr(.mark))]
    SameMark {
        evaluation: String,
        student: String,
        mark: Mark,
    },
    #[error("{student} figure deux fois dans les notes de l'évaluation {evaluation}")]
    StudentTwice { evaluation: String, student: String },
    #[error("la grille de l'évaluation {0} ne contient aucune note")]
    EmptyGrid(String),
    #[error("la période est déjà close")]
    AlreadyClosed,
    #[error("la période n'est pas close")]
    NotClosed,
    #[error("il manque {}", what_fr(.0))]
    Missing(&'static str),
    #[error("l'évaluation {evaluation} n'évalue pas la compétence {item}")]
    ItemNotAssessed { evaluation: String, item: String },
    #[error("la compétence {0} figure deux fois dans l'évaluation")]
    ItemTwice(String),
    #[error("les niveaux de {student} à l'évaluation {evaluation} sont déjà ceux-là")]
    SameAssessment { evaluation: String, student: String },
}

impl Refusal for GradebookError {
    fn rule(&self) -> &'static str {
        match self {
            GradebookError::PeriodClosed { .. } => "PERIOD_CLOSED",
            GradebookError::WrongGradebook { .. } => "WRONG_GRADEBOOK",
            GradebookError::EvaluationExists(_) => "EVALUATION_EXISTS",
            GradebookError::UnknownEvaluation(_) => "UNKNOWN_EVALUATION",
            GradebookError::InvalidScale(_) => "INVALID_SCALE",
            GradebookError::NegativeCoefficient(_) => "NEGATIVE_COEFFICIENT",
            GradebookError::ScoreOutOfScale { .. } => "SCORE_OUT_OF_SCALE",
            GradebookError::AlreadyMarked { .. } => "ALREADY_MARKED",
            GradebookError::NothingToCorrect { .. } => "NO_MARK_TO_CORRECT",
            GradebookError::NotTheTeacher { .. } => "NOT_THE_TEACHER",
            GradebookError::ReasonRequired => "CORRECTION_REASON_REQUIRED",
            GradebookError::SameMark { .. } => "SAME_MARK",
            GradebookError::StudentTwice { .. } => "STUDENT_TWICE",
            GradebookError::EmptyGrid(_) => "EMPTY_GRID",
            GradebookError::AlreadyClosed => "PERIOD_ALREADY_CLOSED",
            GradebookError::NotClosed => "PERIOD_NOT_CLOSED",
            GradebookError::Missing(_) => "MISSING_VALUE",
            GradebookError::ItemNotAssessed { .. } => "ITEM_NOT_ASSESSED",
            GradebookError::ItemTwice(_) => "ITEM_TWICE",
            GradebookError::SameAssessment { .. } => "SAME_ASSESSMENT",
        }
    }

    fn message(&self, lang: Lang) -> String {
        if lang == Lang::Fr {
            return self.to_string();
        }
        match self {
            GradebookError::PeriodClosed { class, period } => format!(
                "the period {period} of {class} was closed by the class council; the administration must reopen it before any change"
            ),
            GradebookError::WrongGradebook { expected, given } => {
                format!("this gradebook is for {expected}; the evaluation is for {given}")
            }
            GradebookError::EvaluationExists(id) => format!("an evaluation {id} already exists"),
            GradebookError::UnknownEvaluation(id) => {
                format!("there is no evaluation {id} in this gradebook")
            }
            GradebookError::InvalidScale(scale) => format!(
                "the scale of an evaluation must be above 0 (e.g. 20 or 10), not {scale}"
            ),
            GradebookError::NegativeCoefficient(coefficient) => format!(
                "a coefficient cannot be negative ({coefficient}); use 0 to leave an evaluation out of averages"
            ),
            GradebookError::ScoreOutOfScale { score, scale } => format!(
                "the score {score} is outside the scale of the evaluation (0 to {scale})"
            ),
            GradebookError::AlreadyMarked {
                evaluation,
                student,
                mark,
            } => format!(
                "{student} already has the mark {mark} for {evaluation}; change it with a correction"
            ),
            GradebookError::NothingToCorrect {
                evaluation,
                student,
            } => format!("{student} has no mark for {evaluation} to correct"),
            GradebookError::NotTheTeacher {
                evaluation,
                teacher,
            } => format!("only {teacher}, who set {evaluation}, can enter or correct its marks"),
            GradebookError::ReasonRequired => {
                "a correction must say why the mark changes".to_string()
            }
            GradebookError::SameMark {
                evaluation,
                student,
                mark,
            } => format!("the mark of {student} for {evaluation} is already {mark}"),
            GradebookError::StudentTwice {
                evaluation,
                student,
            } => format!("{student} appears twice in the marks of {evaluation}"),
            GradebookError::EmptyGrid(evaluation) => {
                format!("the grid of {evaluation} has no mark")
            }
            GradebookError::AlreadyClosed => "the period is already closed".to_string(),
            GradebookError::NotClosed => "the period is not closed".to_string(),
            GradebookError::Missing(what) => format!("{what} must not be empty"),
            GradebookError::ItemNotAssessed { evaluation, item } => {
                format!("the evaluation {evaluation} does not assess the competence {item}")
            }
            GradebookError::ItemTwice(item) => {
                format!("the competence {item} appears twice in the evaluation")
            }
            GradebookError::SameAssessment {
                evaluation,
                student,
            } => format!("{student} already has exactly these levels for {evaluation}"),
        }
    }
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
                let mut items = std::collections::BTreeSet::new();
                if let Some(twice) = spec.competences.iter().find(|i| !items.insert(*i)) {
                    return Err(GradebookError::ItemTwice(twice.clone()));
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
            GradebookCommand::AssessCompetences {
                evaluation,
                student,
                levels,
                by,
            } => self.assess(evaluation, student, levels, by),
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

impl Gradebook {
    fn assess(
        &self,
        evaluation: String,
        student: String,
        levels: BTreeMap<String, Level>,
        by: String,
    ) -> Result<Vec<GradebookEvent>, GradebookError> {
        self.check_open()?;
        if student.trim().is_empty() {
            return Err(GradebookError::Missing("the student"));
        }
        let found = self.evaluation_of(&evaluation, &by)?;
        if levels.is_empty() {
            return Err(GradebookError::EmptyGrid(evaluation));
        }
        if let Some(item) = levels.keys().find(|i| !found.competences.contains(i)) {
            return Err(GradebookError::ItemNotAssessed {
                evaluation,
                item: item.clone(),
            });
        }
        if found.assessments.get(&student).map(|a| &a.levels) == Some(&levels) {
            return Err(GradebookError::SameAssessment {
                evaluation,
                student,
            });
        }
        Ok(vec![GradebookEvent::CompetencesAssessed {
            evaluation,
            student,
            levels,
            by,
        }])
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
                        competences: spec.competences,
                        assessments: BTreeMap::new(),
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
            GradebookEvent::CompetencesAssessed {
                evaluation,
                student,
                levels,
                ..
            } => {
                if let Some(e) = self.evaluations.get_mut(&evaluation) {
                    match e.assessments.entry(student) {
                        std::collections::btree_map::Entry::Occupied(mut entry) => {
                            let entry = entry.get_mut();
                            let earlier = std::mem::replace(&mut entry.levels, levels);
                            entry.previous.push(earlier);
                        }
                        std::collections::btree_map::Entry::Vacant(entry) => {
                            entry.insert(AssessmentEntry {
                                levels,
                                previous: Vec::new(),
                            });
                        }
                    }
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
