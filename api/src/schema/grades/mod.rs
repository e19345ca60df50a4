//! Grades: evaluations, marks, averages and the period's report card.

mod mutation;

pub(crate) use mutation::GradesMutation;

use crate::schema::prelude::*;

/// A mark as the gradebook writes it: a score, or ABS, DISP, NN, NR.
#[derive(Debug, Clone, SimpleObject)]
pub struct MarkValue {
    /// "14.5", "ABS", "DISP", "NN", "NR".
    pub label: String,
    pub score: Option<Decimal>,
    /// The code of a mark that is not a score (null for a score), as `MarkInput` takes it.
    pub code: Option<MarkCode>,
}

impl From<&Mark> for MarkValue {
    fn from(mark: &Mark) -> Self {
        MarkValue {
            label: mark.to_string(),
            score: match mark {
                Mark::Score(s) => Some(*s),
                _ => None,
            },
            code: match mark {
                Mark::Score(_) => None,
                Mark::Absent => Some(MarkCode::Absent),
                Mark::Exempted => Some(MarkCode::Exempted),
                Mark::NotGraded => Some(MarkCode::NotGraded),
                Mark::NotHandedIn => Some(MarkCode::NotHandedIn),
            },
        }
    }
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Figures {
    pub average: Decimal,
    pub min: Decimal,
    pub max: Decimal,
    pub count: usize,
}

impl From<averages::ClassFigures> for Figures {
    fn from(f: averages::ClassFigures) -> Self {
        Figures {
            average: averages::rounded(f.average),
            min: f.min,
            max: f.max,
            count: f.count,
        }
    }
}

/// A student's mark on one evaluation.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct StudentMark {
    pub evaluation: String,
    pub class: String,
    /// The subject's code in the establishment (`Subject.code`, e.g. `MATHS`).
    pub subject: String,
    pub title: String,
    pub date: Date,
    pub scale: Decimal,
    pub coefficient: Decimal,
    pub bonus: bool,
    pub student: String,
    pub mark: Option<MarkValue>,
    /// Marks this one replaced, oldest first.
    pub corrected_from: Vec<MarkValue>,
    pub class_figures: Option<Figures>,
    /// The levels given on the evaluation's competence items.
    pub competences: Vec<ItemLevel>,
    #[graphql(skip)]
    pub stream: (Reader, String),
}

/// A level given on one competence item.
#[derive(Debug, Clone, SimpleObject)]
pub struct ItemLevel {
    /// The item's id in the framework.
    pub competence: String,
    pub level: crate::schema::reportcards::MasteryLevel,
}

#[ComplexObject]
impl StudentMark {
    /// Each change of this mark: who entered it, each correction and why.
    #[graphql(complexity = "HISTORY_COST + child_complexity")]
    async fn history(&self) -> GqlResult<Vec<Change>> {
        let (reader, stream) = &self.stream;
        let (evaluation, student) = (self.evaluation.clone(), self.student.clone());
        let entity = ("mark", vec![evaluation.clone(), student.clone()]);
        Ok(
            history::<Gradebook, Mark, _>(reader, stream, entity, move |b| {
                b.evaluations
                    .get(&evaluation)
                    .and_then(|e| e.marks.get(&student))
                    .map(|m| m.mark)
            })
            .await?,
        )
    }
}

#[derive(Debug, Clone, SimpleObject)]
pub struct SubjectAverage {
    /// The subject's code in the establishment (`Subject.code`, e.g. `MATHS`).
    pub subject: String,
    /// Rounded to the hundredth, as report cards print it.
    pub average: Decimal,
    pub coefficient: Decimal,
}

/// A student's period: subject averages, the overall average and every mark.
#[derive(Debug, Clone, SimpleObject)]
pub struct ReportCard {
    pub year: String,
    pub period: String,
    pub subjects: Vec<SubjectAverage>,
    pub overall: Option<Decimal>,
    /// Latest first.
    pub marks: Vec<StudentMark>,
}

pub(crate) fn student_mark(
    reader: &Reader,
    year: &SchoolYear,
    book: &Gradebook,
    evaluation: &str,
    student: &str,
) -> Option<StudentMark> {
    let e = book.evaluations.get(evaluation)?;
    let class = book.class.clone().unwrap_or_default();
    let period = book.period.clone().unwrap_or_default();
    let entry = e.marks.get(student);
    Some(StudentMark {
        evaluation: e.id.clone(),
        class: class.clone(),
        subject: e.subject.clone(),
        title: e.title.clone(),
        date: e.date.into(),
        scale: e.scale,
        coefficient: e.coefficient,
        bonus: e.bonus,
        student: student.to_string(),
        mark: entry.map(|m| (&m.mark).into()),
        corrected_from: entry
            .map(|m| m.previous.iter().map(Into::into).collect())
            .unwrap_or_default(),
        class_figures: averages::evaluation_figures(book, evaluation).map(Into::into),
        competences: e
            .assessments
            .get(student)
            .map(|a| {
                a.levels
                    .iter()
                    .map(|(item, level)| ItemLevel {
                        competence: item.clone(),
                        level: (*level).into(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        stream: (reader.clone(), format!("{year}/{class}/{period}")),
    })
}

pub async fn report_card(
    reader: &Reader,
    actor: &Actor,
    student: &Student,
    id: &str,
    year: &SchoolYear,
    period: &str,
) -> ApiResult<ReportCard> {
    let mut averages_doc = StudentAverages::default();
    let mut marks = Vec::new();
    let mut restricted = false;
    for (y, class) in student_classes(student) {
        if &y != year {
            continue;
        }
        let Some(book) = reader.gradebook(year, &class, period).await? else {
            continue;
        };
        let readable = actor.readable_subjects(id, year, &class);
        restricted |= readable.is_some();
        let reads = |subject: &str| readable.as_ref().is_none_or(|r| r.contains(subject));
        let subjects: BTreeMap<String, Decimal> = averages::subjects(&book)
            .into_iter()
            .filter(|s| reads(s))
            .filter_map(|s| averages::subject_average(&book, id, &s).map(|a| (s, a)))
            .collect();
        if !subjects.is_empty() {
            averages_doc
                .books
                .insert(format!("{year}/{class}/{period}"), subjects);
        }
        for (subject, c) in &book.subject_coefficients {
            averages_doc.coefficients.insert(subject.clone(), *c);
        }
        marks.extend(
            book.evaluations
                .values()
                .filter(|e| e.marks.contains_key(id) && reads(&e.subject))
                .filter_map(|e| student_mark(reader, year, &book, &e.id, id)),
        );
    }
    marks.sort_by(|a, b| (b.date, &b.evaluation).cmp(&(a.date, &a.evaluation)));
    // An overall average over a teacher's own subjects would read as the student's.
    let overall = if restricted {
        None
    } else {
        averages_doc.overall()
    };
    let subjects = averages_doc
        .subjects()
        .into_iter()
        .map(|(subject, average)| SubjectAverage {
            coefficient: averages_doc
                .coefficients
                .get(&subject)
                .copied()
                .unwrap_or(Decimal::ONE),
            subject,
            average: averages::rounded(average),
        })
        .collect();
    Ok(ReportCard {
        year: year.to_string(),
        period: period.to_string(),
        subjects,
        overall,
        marks,
    })
}

pub struct GradebookView {
    pub(crate) reader: Reader,
    pub(crate) actor: Arc<Actor>,
    pub(crate) year: SchoolYear,
    pub(crate) class: String,
    pub(crate) period: String,
    pub(crate) version: i64,
    pub(crate) book: Arc<Gradebook>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct SubjectFigures {
    /// The subject's code in the establishment (`Subject.code`, e.g. `MATHS`).
    pub subject: String,
    pub coefficient: Decimal,
    pub figures: Figures,
}

#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex, name = "Evaluation")]
pub struct EvaluationView {
    pub id: String,
    /// The subject's code in the establishment (`Subject.code`, e.g. `MATHS`).
    pub subject: String,
    pub teacher: String,
    pub title: String,
    pub date: Date,
    pub scale: Decimal,
    pub coefficient: Decimal,
    pub bonus: bool,
    pub figures: Option<Figures>,
    pub marks: Vec<StudentMark>,
    #[graphql(skip)]
    pub stream: (Reader, String),
}

/// What an evaluation is, apart from its marks (which have their own history).
#[derive(Debug, PartialEq, serde::Serialize)]
struct EvaluationFacts {
    subject: String,
    teacher: String,
    title: String,
    date: NaiveDate,
    scale: Decimal,
    coefficient: Decimal,
    bonus: bool,
    not_handed_in: carnet_domain::grades::NotHandedIn,
}

#[ComplexObject]
impl EvaluationView {
    /// Each change of the evaluation itself: created, then changed (title, date,
    /// scale, coefficient...).
    #[graphql(complexity = "HISTORY_COST + child_complexity")]
    async fn history(&self) -> GqlResult<Vec<Change>> {
        let (reader, stream) = &self.stream;
        let id = self.id.clone();
        let entity = ("evaluation", vec![id.clone()]);
        Ok(
            history::<Gradebook, _, _>(reader, stream, entity, move |b| {
                b.evaluations.get(&id).map(|e| EvaluationFacts {
                    subject: e.subject.clone(),
                    teacher: e.teacher.clone(),
                    title: e.title.clone(),
                    date: e.date,
                    scale: e.scale,
                    coefficient: e.coefficient,
                    bonus: e.bonus,
                    not_handed_in: e.not_handed_in,
                })
            })
            .await?,
        )
    }
}

#[Object(name = "Gradebook")]
impl GradebookView {
    async fn class(&self) -> &str {
        &self.class
    }

    async fn period(&self) -> &str {
        &self.period
    }

    /// Closed by the class council: no mark may change until it is reopened.
    async fn closed(&self) -> bool {
        self.book.closed
    }

    /// The gradebook's version, for `expectedVersion` in mutations.
    async fn version(&self) -> i64 {
        self.version
    }

    async fn subjects(&self) -> Vec<SubjectFigures> {
        let (_, subjects) = carnet_projections::grades::class_figures(&self.book);
        subjects
            .into_iter()
            .map(|(subject, f)| SubjectFigures {
                coefficient: self
                    .book
                    .subject_coefficients
                    .get(&subject)
                    .copied()
                    .unwrap_or(Decimal::ONE),
                subject,
                figures: f.into(),
            })
            .collect()
    }

    /// Evaluations (for a teacher: those of the subjects they teach the class).
    async fn evaluations(&self) -> Vec<EvaluationView> {
        let teacher_only = !self.actor.sees_establishment();
        self.book
            .evaluations
            .values()
            .filter(|e| {
                !teacher_only
                    || self
                        .actor
                        .teaches_subject(&self.year, &self.class, &e.subject)
            })
            .map(|e| EvaluationView {
                id: e.id.clone(),
                subject: e.subject.clone(),
                teacher: e.teacher.clone(),
                title: e.title.clone(),
                date: e.date.into(),
                scale: e.scale,
                coefficient: e.coefficient,
                bonus: e.bonus,
                figures: averages::evaluation_figures(&self.book, &e.id).map(Into::into),
                marks: e
                    .marks
                    .keys()
                    .filter_map(|s| student_mark(&self.reader, &self.year, &self.book, &e.id, s))
                    .collect(),
                stream: (
                    self.reader.clone(),
                    format!("{}/{}/{}", self.year, self.class, self.period),
                ),
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum MarkCode {
    /// ABS: absent.
    Absent,
    /// DISP: exempted.
    Exempted,
    /// NN: not graded.
    NotGraded,
    /// NR: not handed in.
    NotHandedIn,
}

/// A score, or one of the codes; exactly one.
#[derive(Debug, Clone, InputObject)]
pub struct MarkInput {
    pub score: Option<Decimal>,
    pub code: Option<MarkCode>,
}

impl MarkInput {
    fn mark(&self, field: &str) -> ApiResult<Mark> {
        match (self.score, self.code) {
            (Some(score), None) => Ok(Mark::Score(score)),
            (None, Some(MarkCode::Absent)) => Ok(Mark::Absent),
            (None, Some(MarkCode::Exempted)) => Ok(Mark::Exempted),
            (None, Some(MarkCode::NotGraded)) => Ok(Mark::NotGraded),
            (None, Some(MarkCode::NotHandedIn)) => Ok(Mark::NotHandedIn),
            _ => Err(ApiError::validation(
                field,
                Text::new(
                    "indiquez soit une note, soit un code, pas les deux",
                    "give either a score or a code, not both",
                ),
            )),
        }
    }
}

#[derive(Debug, Clone, InputObject)]
pub struct MarkLine {
    pub student: String,
    pub mark: MarkInput,
}
