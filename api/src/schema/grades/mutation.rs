//! The gradebook commands: evaluations, marks, corrections, closing a period.

use super::student_mark;
use crate::schema::node::NodeType;
use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct GradesMutation;

/// A new evaluation in a class's gradebook.
#[derive(Debug, Clone, InputObject)]
pub struct CreateEvaluationInput {
    /// The evaluation's id; by default one is made.
    pub id: Option<String>,
    pub class: String,
    /// The period; by default the current one.
    pub period: Option<String>,
    pub subject: String,
    pub title: String,
    pub date: Date,
    #[graphql(default_with = "Decimal::from(20)")]
    pub scale: Decimal,
    #[graphql(default_with = "Decimal::ONE")]
    pub coefficient: Decimal,
    #[graphql(default)]
    pub bonus: bool,
    /// NR counts as 0 (default) or is left out of averages.
    #[graphql(default = true)]
    pub not_handed_in_counts_as_zero: bool,
    /// The competence items of the subject it assesses (ids in the framework), besides
    /// or instead of a mark (an evaluation of competences only has coefficient 0).
    #[graphql(default)]
    pub competences: Vec<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    CreateEvaluationPayload,
    "The evaluation as created.",
    evaluation: EvaluationView
);

/// A student's mark on an evaluation.
#[derive(Debug, Clone, InputObject)]
pub struct EnterMarkInput {
    /// The division or group whose gradebook holds the evaluation.
    pub class: String,
    /// The period; by default the current one.
    pub period: Option<String>,
    /// The evaluation's id (`Evaluation.id`).
    pub evaluation: String,
    pub student: String,
    pub mark: MarkInput,
    /// The school year; by default the current one.
    pub year: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    EnterMarkPayload,
    "The student's mark on the evaluation, as it now stands.",
    mark: StudentMark
);

/// The whole grid of an evaluation.
#[derive(Debug, Clone, InputObject)]
pub struct EnterMarksInput {
    /// The division or group whose gradebook holds the evaluation.
    pub class: String,
    /// The period; by default the current one.
    pub period: Option<String>,
    /// The evaluation's id (`Evaluation.id`).
    pub evaluation: String,
    /// One line per student.
    pub marks: Vec<MarkLine>,
    /// The school year; by default the current one.
    pub year: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    EnterMarksPayload,
    "The evaluation with its marks, as they now stand.",
    evaluation: EvaluationView
);

/// A mark's correction.
#[derive(Debug, Clone, InputObject)]
pub struct CorrectMarkInput {
    /// The division or group whose gradebook holds the evaluation.
    pub class: String,
    /// The period; by default the current one.
    pub period: Option<String>,
    /// The evaluation's id (`Evaluation.id`).
    pub evaluation: String,
    pub student: String,
    /// The mark it should be.
    pub mark: MarkInput,
    /// Why the mark is corrected; kept in its history.
    pub reason: String,
    /// The school year; by default the current one.
    pub year: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    CorrectMarkPayload,
    "The student's mark on the evaluation, as it now stands (the earlier one in `correctedFrom`).",
    mark: StudentMark
);

/// A class's period closed by the class council.
#[derive(Debug, Clone, InputObject)]
pub struct ClosePeriodInput {
    /// The division or group.
    pub class: String,
    pub period: String,
    /// The school year; by default the current one.
    pub year: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    ClosePeriodPayload,
    "The period's gradebook, now closed.",
    gradebook: GradebookView
);

/// A closed period reopened.
#[derive(Debug, Clone, InputObject)]
pub struct ReopenPeriodInput {
    /// The division or group.
    pub class: String,
    pub period: String,
    /// Why the period is reopened; kept in its history.
    pub reason: String,
    /// The school year; by default the current one.
    pub year: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    ReopenPeriodPayload,
    "The period's gradebook, open again.",
    gradebook: GradebookView
);

/// The year and the period a mark goes to (the current ones by default).
async fn year_and_period(
    c: &Command<'_>,
    year: Option<String>,
    period: Option<String>,
) -> ApiResult<(SchoolYear, String)> {
    let year = crate::schema::common::year(&c.reader, year.as_deref()).await?;
    let period = c.period(&year, period).await?;
    Ok((year, period))
}

/// A gradebook read back after a command (its read model is updated in the command's
/// transaction).
async fn gradebook_after(
    c: &Command<'_>,
    year: &SchoolYear,
    class: &str,
    period: &str,
) -> ApiResult<Option<(Reader, Arc<Gradebook>)>> {
    let reader = c.reader.fresh();
    let book = reader.gradebook(year, class, period).await?;
    Ok(book.map(|book| (reader, book)))
}

/// An evaluation of a gradebook, as `Gradebook.evaluations` shows it.
fn evaluation_view(
    reader: &Reader,
    year: &SchoolYear,
    book: &Gradebook,
    evaluation: &str,
) -> Option<EvaluationView> {
    let e = book.evaluations.get(evaluation)?;
    let class = book.class.clone().unwrap_or_default();
    let period = book.period.clone().unwrap_or_default();
    Some(EvaluationView {
        id: e.id.clone(),
        subject: e.subject.clone(),
        teacher: e.teacher.clone(),
        title: e.title.clone(),
        date: e.date.into(),
        scale: e.scale,
        coefficient: e.coefficient,
        bonus: e.bonus,
        figures: averages::evaluation_figures(book, &e.id).map(Into::into),
        marks: e
            .marks
            .keys()
            .filter_map(|s| student_mark(reader, year, book, &e.id, s))
            .collect(),
        stream: (reader.clone(), School::gradebook_id(year, &class, &period)),
    })
}

/// The evaluation read back after a command.
async fn evaluation_after(
    c: &Command<'_>,
    year: &SchoolYear,
    class: &str,
    period: &str,
    evaluation: &str,
) -> ApiResult<Option<EvaluationView>> {
    let found = gradebook_after(c, year, class, period).await?;
    Ok(found.and_then(|(reader, book)| evaluation_view(&reader, year, &book, evaluation)))
}

/// The student's mark read back after a command.
async fn mark_after(
    c: &Command<'_>,
    (year, class, period): (&SchoolYear, &str, &str),
    evaluation: &str,
    student: &str,
) -> ApiResult<Option<StudentMark>> {
    let found = gradebook_after(c, year, class, period).await?;
    Ok(found.and_then(|(reader, book)| student_mark(&reader, year, &book, evaluation, student)))
}

/// The period's gradebook read back after a command that left it at `version`.
async fn gradebook_view(
    c: &Command<'_>,
    year: &SchoolYear,
    class: &str,
    period: &str,
    version: i64,
) -> ApiResult<Option<GradebookView>> {
    let found = gradebook_after(c, year, class, period).await?;
    Ok(found.map(|(reader, book)| GradebookView {
        reader,
        actor: c.actor.clone(),
        year: year.clone(),
        class: class.to_string(),
        period: period.to_string(),
        version,
        book,
    }))
}

#[Object]
impl GradesMutation {
    /// A new evaluation in a class's gradebook, by the teacher of that subject.
    async fn create_evaluation(
        &self,
        ctx: &Context<'_>,
        input: CreateEvaluationInput,
    ) -> GqlResult<CreateEvaluationPayload> {
        let c = Command::sent(ctx, input.options).await?;
        let year = c.year_of(input.date.0).await?;
        c.actor.may_grade(&year, &input.class, &input.subject)?;
        let period = c.period(&year, input.period).await?;
        if !input.competences.is_empty() {
            // From the framework's own stream, not a read model: an item defined a
            // moment ago is known.
            let (_, framework) = c
                .school
                .framework
                .state(&c.school.establishment_id())
                .await?;
            framework
                .check_items(&input.subject, &input.competences)
                .map_err(ApiError::refused)?;
        }
        let id = c.new_id(input.id, "eval");
        let spec = EvaluationSpec {
            evaluation: id.clone(),
            class: input.class.clone(),
            period: period.clone(),
            subject: input.subject,
            teacher: c.actor.person.clone(),
            title: input.title,
            date: input.date.0,
            scale: input.scale,
            coefficient: input.coefficient,
            bonus: input.bonus,
            not_handed_in: if input.not_handed_in_counts_as_zero {
                NotHandedIn::CountsAsZero
            } else {
                NotHandedIn::Excluded
            },
            competences: input.competences,
        };
        let stream = School::gradebook_id(&year, &input.class, &period);
        let result = c
            .run(
                "create_evaluation",
                &c.school.gradebooks,
                &stream,
                GradebookCommand::CreateEvaluation(spec),
                Some(id.clone()),
            )
            .await?;
        let evaluation = evaluation_after(&c, &year, &input.class, &period, &id).await?;
        Ok(CreateEvaluationPayload { result, evaluation })
    }

    /// A student's mark on an evaluation.
    async fn enter_mark(
        &self,
        ctx: &Context<'_>,
        input: EnterMarkInput,
    ) -> GqlResult<EnterMarkPayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.student = c.local(NodeType::Student, &input.student)?;
        let mark = input.mark.mark("mark")?;
        let (year, period) = year_and_period(&c, input.year, input.period).await?;
        let stream = c
            .marking(
                &input.class,
                Some(period.clone()),
                Some(year.to_string()),
                &input.evaluation,
            )
            .await?;
        let command = GradebookCommand::EnterMark {
            evaluation: input.evaluation.clone(),
            student: input.student.clone(),
            mark,
            by: c.actor.person.clone(),
        };
        let result = c
            .run("enter_mark", &c.school.gradebooks, &stream, command, None)
            .await?;
        let place = (&year, input.class.as_str(), period.as_str());
        let mark = mark_after(&c, place, &input.evaluation, &input.student).await?;
        Ok(EnterMarkPayload { result, mark })
    }

    /// The whole grid of an evaluation at once: one refused mark refuses the grid.
    async fn enter_marks(
        &self,
        ctx: &Context<'_>,
        input: EnterMarksInput,
    ) -> GqlResult<EnterMarksPayload> {
        let c = Command::sent(ctx, input.options).await?;
        let marks = input
            .marks
            .iter()
            .enumerate()
            .map(|(i, l)| Ok((l.student.clone(), l.mark.mark(&format!("marks[{i}].mark"))?)))
            .collect::<ApiResult<Vec<_>>>()?;
        let (year, period) = year_and_period(&c, input.year, input.period).await?;
        let stream = c
            .marking(
                &input.class,
                Some(period.clone()),
                Some(year.to_string()),
                &input.evaluation,
            )
            .await?;
        let command = GradebookCommand::EnterMarks {
            evaluation: input.evaluation.clone(),
            marks,
            by: c.actor.person.clone(),
        };
        let result = c
            .run("enter_marks", &c.school.gradebooks, &stream, command, None)
            .await?;
        let evaluation =
            evaluation_after(&c, &year, &input.class, &period, &input.evaluation).await?;
        Ok(EnterMarksPayload { result, evaluation })
    }

    /// Corrects a mark, saying why; the earlier mark stays in its history.
    async fn correct_mark(
        &self,
        ctx: &Context<'_>,
        input: CorrectMarkInput,
    ) -> GqlResult<CorrectMarkPayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.student = c.local(NodeType::Student, &input.student)?;
        let mark = input.mark.mark("mark")?;
        let (year, period) = year_and_period(&c, input.year, input.period).await?;
        let stream = c
            .marking(
                &input.class,
                Some(period.clone()),
                Some(year.to_string()),
                &input.evaluation,
            )
            .await?;
        let command = GradebookCommand::CorrectMark {
            evaluation: input.evaluation.clone(),
            student: input.student.clone(),
            mark,
            by: c.actor.person.clone(),
            reason: input.reason,
        };
        let result = c
            .run("correct_mark", &c.school.gradebooks, &stream, command, None)
            .await?;
        let place = (&year, input.class.as_str(), period.as_str());
        let mark = mark_after(&c, place, &input.evaluation, &input.student).await?;
        Ok(CorrectMarkPayload { result, mark })
    }

    /// The class council has met: the period's marks are frozen.
    async fn close_period(
        &self,
        ctx: &Context<'_>,
        input: ClosePeriodInput,
    ) -> GqlResult<ClosePeriodPayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_administer("closing a period")?;
        let year = crate::schema::common::year(&c.reader, input.year.as_deref()).await?;
        let command = GradebookCommand::ClosePeriod {
            by: c.actor.person.clone(),
        };
        let result = c
            .run(
                "close_period",
                &c.school.gradebooks,
                &School::gradebook_id(&year, &input.class, &input.period),
                command,
                None,
            )
            .await?;
        let gradebook =
            gradebook_view(&c, &year, &input.class, &input.period, result.version).await?;
        Ok(ClosePeriodPayload { result, gradebook })
    }

    /// A closed period is open again (its marks may change), saying why.
    async fn reopen_period(
        &self,
        ctx: &Context<'_>,
        input: ReopenPeriodInput,
    ) -> GqlResult<ReopenPeriodPayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_administer("reopening a period")?;
        let year = crate::schema::common::year(&c.reader, input.year.as_deref()).await?;
        let command = GradebookCommand::ReopenPeriod {
            by: c.actor.person.clone(),
            reason: input.reason,
        };
        let result = c
            .run(
                "reopen_period",
                &c.school.gradebooks,
                &School::gradebook_id(&year, &input.class, &input.period),
                command,
                None,
            )
            .await?;
        let gradebook =
            gradebook_view(&c, &year, &input.class, &input.period, result.version).await?;
        Ok(ReopenPeriodPayload { result, gradebook })
    }
}
