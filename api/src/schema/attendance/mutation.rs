//! The attendance commands: roll calls, their corrections, justifications.

use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct AttendanceMutation;

/// One student's line of a lesson's roll call.
#[derive(Debug, Clone, InputObject)]
pub struct RecordAttendanceInput {
    /// The lesson's id (`Lesson.id`).
    pub lesson: String,
    pub student: String,
    pub status: AttendanceStatusInput,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    RecordAttendancePayload,
    "The roll call's line for the student, as it now stands.",
    line: RegisterLine
);

/// The student's line of the lesson's register, read back after a command.
async fn register_line(
    c: &Command<'_>,
    year: &SchoolYear,
    lesson: &str,
    student: &str,
) -> ApiResult<Option<RegisterLine>> {
    let record = c.reader.fresh().attendance(year, student).await?;
    Ok(record.lessons.get(lesson).map(|entry| RegisterLine {
        student: student.to_string(),
        status: entry.status.into(),
        corrected_from: entry.previous.iter().map(|s| (*s).into()).collect(),
    }))
}

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl AttendanceMutation {
    /// One student's line of a lesson's roll call. The guardians with the right to be
    /// told are notified of an absence.
    async fn record_attendance(
        &self,
        ctx: &Context<'_>,
        input: RecordAttendanceInput,
    ) -> GqlResult<RecordAttendancePayload> {
        let c = Command::sent(ctx, input.options).await?;
        let status = input.status.status()?;
        let (year, o, record) = c.lesson_for(&input.lesson, &input.student).await?;
        let command = AttendanceCommand::RecordAttendance {
            student: input.student.clone(),
            lesson: input.lesson.clone(),
            date: o.date,
            start: o.start.time(),
            end: o.end.time(),
            status,
            by: c.actor.person.clone(),
            notify: record.guardians_to_notify(),
        };
        let result = c
            .run(
                "record_attendance",
                &c.school.attendance,
                &School::attendance_id(&year, &input.student),
                command,
                None,
            )
            .await?;
        let line = register_line(&c, &year, &input.lesson, &input.student).await?;
        Ok(RecordAttendancePayload { result, line })
    }

    /// Corrects a roll-call entry, saying why.
    async fn correct_attendance(
        &self,
        ctx: &Context<'_>,
        lesson: String,
        student: String,
        status: AttendanceStatusInput,
        reason: String,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        let status = status.status()?;
        let (year, _, record) = c.lesson_for(&lesson, &student).await?;
        let command = AttendanceCommand::CorrectAttendance {
            lesson,
            status,
            by: c.actor.person.clone(),
            reason,
            notify: record.guardians_to_notify(),
        };
        c.run(
            "correct_attendance",
            &c.school.attendance,
            &School::attendance_id(&year, &student),
            command,
            None,
        )
        .await
    }

    /// A guardian (or vie scolaire) explains an absence from `from` to `to`; `reason`
    /// is a code of the establishment's list.
    async fn declare_justification(
        &self,
        ctx: &Context<'_>,
        student: String,
        from: NaiveDate,
        to: NaiveDate,
        reason: String,
        #[graphql(default)] comment: String,
        justification: Option<String>,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_justify(&student)?;
        c.reader.student(&student).await?;
        let year = c.year_of(from).await?;
        let id = c.new_id(justification, "just");
        let command = AttendanceCommand::DeclareJustification {
            student: student.clone(),
            justification: id.clone(),
            from,
            to,
            reason,
            comment,
            by: c.actor.person.clone(),
        };
        c.run(
            "declare_justification",
            &c.school.attendance,
            &School::attendance_id(&year, &student),
            command,
            Some(id),
        )
        .await
    }

    /// The CPE accepts or refuses a justification.
    async fn decide_justification(
        &self,
        ctx: &Context<'_>,
        student: String,
        justification: String,
        accept: bool,
        #[graphql(default)] note: String,
        year: Option<String>,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_decide_justification()?;
        let year = crate::schema::common::year(&c.reader, year.as_deref()).await?;
        let command = AttendanceCommand::DecideJustification {
            justification,
            accept,
            by: c.actor.person.clone(),
            note,
        };
        c.run(
            "decide_justification",
            &c.school.attendance,
            &School::attendance_id(&year, &student),
            command,
            None,
        )
        .await
    }
}
