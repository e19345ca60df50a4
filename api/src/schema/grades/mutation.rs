//! The gradebook commands: evaluations, marks, corrections, closing a period.

use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct GradesMutation;

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl GradesMutation {
    /// A new evaluation in a class's gradebook, by the teacher of that subject.
    async fn create_evaluation(
        &self,
        ctx: &Context<'_>,
        input: EvaluationInput,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        let year = c.year_of(input.date).await?;
        c.actor.may_grade(&year, &input.class, &input.subject)?;
        let period = c.period(&year, input.period).await?;
        let id = c.new_id(input.id, "eval");
        let spec = EvaluationSpec {
            evaluation: id.clone(),
            class: input.class.clone(),
            period: period.clone(),
            subject: input.subject,
            teacher: c.actor.person.clone(),
            title: input.title,
            date: input.date,
            scale: input.scale,
            coefficient: input.coefficient,
            bonus: input.bonus,
            not_handed_in: if input.not_handed_in_counts_as_zero {
                NotHandedIn::CountsAsZero
            } else {
                NotHandedIn::Excluded
            },
        };
        let stream = School::gradebook_id(&year, &input.class, &period);
        c.run(
            "create_evaluation",
            &c.school.gradebooks,
            &stream,
            GradebookCommand::CreateEvaluation(spec),
            Some(id),
        )
        .await
    }

    /// A student's mark on an evaluation.
    async fn enter_mark(
        &self,
        ctx: &Context<'_>,
        class: String,
        period: Option<String>,
        evaluation: String,
        student: String,
        mark: MarkInput,
        year: Option<String>,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        let mark = mark.mark("mark")?;
        let stream = c.marking(&class, period, year, &evaluation).await?;
        let command = GradebookCommand::EnterMark {
            evaluation,
            student,
            mark,
            by: c.actor.person.clone(),
        };
        c.run("enter_mark", &c.school.gradebooks, &stream, command, None)
            .await
    }

    /// The whole grid of an evaluation at once: one refused mark refuses the grid.
    async fn enter_marks(
        &self,
        ctx: &Context<'_>,
        class: String,
        period: Option<String>,
        evaluation: String,
        marks: Vec<MarkLine>,
        year: Option<String>,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        let marks = marks
            .iter()
            .enumerate()
            .map(|(i, l)| Ok((l.student.clone(), l.mark.mark(&format!("marks[{i}].mark"))?)))
            .collect::<ApiResult<Vec<_>>>()?;
        let stream = c.marking(&class, period, year, &evaluation).await?;
        let command = GradebookCommand::EnterMarks {
            evaluation,
            marks,
            by: c.actor.person.clone(),
        };
        c.run("enter_marks", &c.school.gradebooks, &stream, command, None)
            .await
    }

    /// Corrects a mark, saying why; the earlier mark stays in its history.
    async fn correct_mark(
        &self,
        ctx: &Context<'_>,
        class: String,
        period: Option<String>,
        evaluation: String,
        student: String,
        mark: MarkInput,
        reason: String,
        year: Option<String>,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        let mark = mark.mark("mark")?;
        let stream = c.marking(&class, period, year, &evaluation).await?;
        let command = GradebookCommand::CorrectMark {
            evaluation,
            student,
            mark,
            by: c.actor.person.clone(),
            reason,
        };
        c.run("correct_mark", &c.school.gradebooks, &stream, command, None)
            .await
    }

    /// The class council has met: the period's marks are frozen.
    async fn close_period(
        &self,
        ctx: &Context<'_>,
        class: String,
        period: String,
        year: Option<String>,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_administer("closing a period")?;
        let year = crate::schema::common::year(&c.reader, year.as_deref()).await?;
        let command = GradebookCommand::ClosePeriod {
            by: c.actor.person.clone(),
        };
        c.run(
            "close_period",
            &c.school.gradebooks,
            &School::gradebook_id(&year, &class, &period),
            command,
            None,
        )
        .await
    }

    async fn reopen_period(
        &self,
        ctx: &Context<'_>,
        class: String,
        period: String,
        reason: String,
        year: Option<String>,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_administer("reopening a period")?;
        let year = crate::schema::common::year(&c.reader, year.as_deref()).await?;
        let command = GradebookCommand::ReopenPeriod {
            by: c.actor.person.clone(),
            reason,
        };
        c.run(
            "reopen_period",
            &c.school.gradebooks,
            &School::gradebook_id(&year, &class, &period),
            command,
            None,
        )
        .await
    }
}
