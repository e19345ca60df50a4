//! The attendance commands: roll calls, their corrections, justifications.

use crate::schema::node::NodeType;
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

/// Corrects a roll-call entry, saying why.
#[derive(Debug, Clone, InputObject)]
pub struct CorrectAttendanceInput {
    /// The lesson's id (`Lesson.id`).
    pub lesson: String,
    pub student: String,
    /// The status the entry should have had.
    pub status: AttendanceStatusInput,
    /// Why the entry is corrected; kept in its history.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    CorrectAttendancePayload,
    "The roll call's line for the student, as it now stands.",
    line: RegisterLine
);

/// An absence explained by a guardian (or vie scolaire).
#[derive(Debug, Clone, InputObject)]
pub struct DeclareJustificationInput {
    pub student: String,
    /// The first day the justification covers.
    pub from: Date,
    /// The last day it covers (inclusive).
    pub to: Date,
    /// A reason code of the establishment's list.
    pub reason: String,
    #[graphql(default)]
    pub comment: String,
    /// The justification's id; by default one is made (the same on a retry with the
    /// same `commandId`).
    pub justification: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    DeclareJustificationPayload,
    "The justification as declared; null if the caller may not read the student's record.",
    justification: Justification
);

/// The CPE's decision on a justification.
#[derive(Debug, Clone, InputObject)]
pub struct DecideJustificationInput {
    pub student: String,
    /// The justification's id (`Justification.id`).
    pub justification: String,
    /// True to accept it, false to refuse it.
    pub accept: bool,
    #[graphql(default)]
    pub note: String,
    /// The school year of the justification; by default the current one.
    pub year: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    DecideJustificationPayload,
    "The justification with its decision; null if the caller may not read the student's record.",
    justification: Justification
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

/// A justification of the student, read back after a command; `None` if the caller
/// may not read the student's record (a guardian who may justify without seeing).
async fn justification(
    c: &Command<'_>,
    year: &SchoolYear,
    student: &str,
    id: &str,
) -> ApiResult<Option<Justification>> {
    let reader = c.reader.fresh();
    let record = reader.student(student).await?;
    if c.actor.may_see_student(&record, student).is_err() {
        return Ok(None);
    }
    let attendance = reader.attendance(year, student).await?;
    let Some(j) = attendance.justifications.get(id) else {
        return Ok(None);
    };
    Ok(Some(Justification {
        stream: (reader.clone(), School::attendance_id(year, student)),
        id: id.to_string(),
        from: j.from.into(),
        to: j.to.into(),
        reason: reader.open(&j.reason).await?,
        legitimate: j.legitimate,
        comment: reader.open(&j.comment).await?,
        declared_by: j.declared_by.clone(),
        accepted: j.accepted,
    }))
}

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
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.student = c.local(NodeType::Student, &input.student)?;
        input.lesson = c.local(NodeType::Lesson, &input.lesson)?;
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
        input: CorrectAttendanceInput,
    ) -> GqlResult<CorrectAttendancePayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.student = c.local(NodeType::Student, &input.student)?;
        input.lesson = c.local(NodeType::Lesson, &input.lesson)?;
        let status = input.status.status()?;
        let (year, _, record) = c.lesson_for(&input.lesson, &input.student).await?;
        let command = AttendanceCommand::CorrectAttendance {
            lesson: input.lesson.clone(),
            status,
            by: c.actor.person.clone(),
            reason: input.reason,
            notify: record.guardians_to_notify(),
        };
        let result = c
            .run(
                "correct_attendance",
                &c.school.attendance,
                &School::attendance_id(&year, &input.student),
                command,
                None,
            )
            .await?;
        let line = register_line(&c, &year, &input.lesson, &input.student).await?;
        Ok(CorrectAttendancePayload { result, line })
    }

    /// A guardian (or vie scolaire) explains an absence from `from` to `to`; `reason`
    /// is a code of the establishment's list.
    async fn declare_justification(
        &self,
        ctx: &Context<'_>,
        input: DeclareJustificationInput,
    ) -> GqlResult<DeclareJustificationPayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.student = c.local(NodeType::Student, &input.student)?;
        let student = input.student;
        c.actor.may_justify(&student)?;
        c.reader.student(&student).await?;
        let year = c.year_of(input.from.0).await?;
        let id = c.new_id(input.justification, "just");
        let command = AttendanceCommand::DeclareJustification {
            student: student.clone(),
            justification: id.clone(),
            from: input.from.0,
            to: input.to.0,
            reason: input.reason,
            comment: input.comment,
            by: c.actor.person.clone(),
        };
        let result = c
            .run(
                "declare_justification",
                &c.school.attendance,
                &School::attendance_id(&year, &student),
                command,
                Some(id.clone()),
            )
            .await?;
        let justification = justification(&c, &year, &student, &id).await?;
        Ok(DeclareJustificationPayload {
            result,
            justification,
        })
    }

    /// The CPE accepts or refuses a justification.
    async fn decide_justification(
        &self,
        ctx: &Context<'_>,
        input: DecideJustificationInput,
    ) -> GqlResult<DecideJustificationPayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.student = c.local(NodeType::Student, &input.student)?;
        c.actor.may_decide_justification()?;
        let year = crate::schema::common::year(&c.reader, input.year.as_deref()).await?;
        let command = AttendanceCommand::DecideJustification {
            justification: input.justification.clone(),
            accept: input.accept,
            by: c.actor.person.clone(),
            note: input.note,
        };
        let result = c
            .run(
                "decide_justification",
                &c.school.attendance,
                &School::attendance_id(&year, &input.student),
                command,
                None,
            )
            .await?;
        let justification = justification(&c, &year, &input.student, &input.justification).await?;
        Ok(DecideJustificationPayload {
            result,
            justification,
        })
    }
}
