//! The mutations: each is one domain command, decided by its aggregate and appended
//! with who sent it. Each takes an optional `commandId` (or the request's
//! `Idempotency-Key` header): a retry answers what the first run answered and writes
//! nothing more. `expectedVersion`, where given, refuses to act on a stream that
//! changed since the client read it (CONFLICT, with the current version).

use std::sync::Arc;

use async_graphql::{Context, Enum, InputObject, MergedObject, Object, SimpleObject};
use carnet_domain::attendance::{AttendanceCommand, Status};
use carnet_domain::enrolment::{GuardianRights, SchoolYear, Student, StudentCommand};
use carnet_domain::grades::{EvaluationSpec, GradebookCommand, Mark, NotHandedIn};
use carnet_domain::reservations::ReservationCommand;
use carnet_domain::timetable::{Occurrence, TimetableCommand};
use carnet_store::{CommandBus, CommandContext, CommandOutcome, School, Source};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use cqrs_es::Aggregate;
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use super::query::find_lesson;
use super::types::{current_period, year_of, AttendanceKind};
use super::{caller, state};
use crate::access::Actor;
use crate::error::{ApiError, ApiResult};
use crate::reader::Reader;
use crate::state::Caller;

type GqlResult<T> = async_graphql::Result<T>;

/// Namespace of the command ids derived from an `Idempotency-Key`.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6361_726e_6574_2d69_6465_6d70_6f74_656e);

/// Every mutation: those of the school's days, and those that set it up.
#[derive(Debug, Default, MergedObject)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    DailyMutation,
    super::setup::SetupMutation,
    super::imports::ImportMutation,
    crate::feeds::FeedMutation,
    crate::notifications::NotificationMutation,
);

/// Roll calls, justifications, marks, bookings, enrolment and timetable changes.
#[derive(Debug, Default)]
pub struct DailyMutation;

/// What a command did.
#[derive(Debug, Clone, SimpleObject)]
pub struct CommandResult {
    /// The stream the command was decided on, e.g. `attendance/2026-2027/eleve00001`.
    pub stream: String,
    /// Its version after the command: pass it as `expectedVersion` to the next one.
    pub version: i64,
    /// False when the command changed nothing (it was already so).
    pub changed: bool,
    /// Where its last event is in the establishment's log.
    pub position: Option<i64>,
    pub recorded_at: Option<DateTime<Utc>>,
    pub command_id: Option<Uuid>,
    /// The id of what the command created (an evaluation, a booking, a justification).
    pub created: Option<String>,
}

#[derive(Debug, Clone, InputObject)]
pub struct AttendanceStatusInput {
    pub kind: AttendanceKind,
    /// Minutes late: required for LATE.
    pub minutes: Option<u32>,
    /// When the student left: required for EARLY_DEPARTURE.
    pub left_at: Option<NaiveTime>,
}

impl AttendanceStatusInput {
    fn status(&self) -> ApiResult<Status> {
        Ok(match self.kind {
            AttendanceKind::Present => Status::Present,
            AttendanceKind::Absent => Status::Absent,
            AttendanceKind::Excluded => Status::Excluded,
            AttendanceKind::Late => Status::Late {
                minutes: self.minutes.filter(|m| *m > 0).ok_or_else(|| {
                    ApiError::validation(
                        "status.minutes",
                        "a late arrival needs its minutes (more than 0)",
                    )
                })?,
            },
            AttendanceKind::EarlyDeparture => Status::EarlyDeparture {
                at: self.left_at.ok_or_else(|| {
                    ApiError::validation(
                        "status.leftAt",
                        "an early departure needs the time the student left",
                    )
                })?,
            },
        })
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
                "give either a score or a code, not both",
            )),
        }
    }
}

#[derive(Debug, Clone, InputObject)]
pub struct MarkLine {
    pub student: String,
    pub mark: MarkInput,
}

#[derive(Debug, Clone, InputObject)]
pub struct EvaluationInput {
    /// The evaluation's id; by default one is made.
    pub id: Option<String>,
    pub class: String,
    /// The period; by default the current one.
    pub period: Option<String>,
    pub subject: String,
    pub title: String,
    pub date: NaiveDate,
    #[graphql(default_with = "Decimal::from(20)")]
    pub scale: Decimal,
    #[graphql(default_with = "Decimal::ONE")]
    pub coefficient: Decimal,
    #[graphql(default)]
    pub bonus: bool,
    /// NR counts as 0 (default) or is left out of averages.
    #[graphql(default = true)]
    pub not_handed_in_counts_as_zero: bool,
}

#[derive(Debug, Clone, InputObject)]
pub struct RightsInput {
    pub see: bool,
    pub justify: bool,
    pub notified: bool,
}

impl From<RightsInput> for GuardianRights {
    fn from(r: RightsInput) -> Self {
        GuardianRights {
            see: r.see,
            justify: r.justify,
            notified: r.notified,
        }
    }
}

/// Everything a mutation needs: who, where, and the command's id.
pub(crate) struct Command<'a> {
    ctx: &'a Context<'a>,
    pub(crate) reader: Reader,
    pub(crate) actor: Arc<Actor>,
    pub(crate) school: Arc<School>,
    command_id: Option<Uuid>,
    expected: Option<i64>,
}

impl<'a> Command<'a> {
    pub(crate) async fn new(
        ctx: &'a Context<'a>,
        command_id: Option<Uuid>,
        expected: Option<i64>,
    ) -> ApiResult<Command<'a>> {
        let (reader, actor) = caller(ctx, None).await?;
        actor.may_write()?;
        let school = state(ctx)?.school(&reader).await?;
        let command_id = command_id.or_else(|| {
            // One key per request; each mutation of it gets an id of its own.
            let key = ctx.data::<Caller>().ok()?.idempotency_key.clone()?;
            let name = format!(
                "{}\n{}\n{key}\n{}",
                reader.tenant,
                actor.person,
                ctx.item.node.response_key().node
            );
            Some(Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, name.as_bytes()))
        });
        Ok(Command {
            ctx,
            reader,
            actor,
            school,
            command_id,
            expected,
        })
    }

    pub(super) fn context(&self) -> CommandContext {
        CommandContext {
            command_id: self.command_id,
            actor: Some(self.actor.person.clone()),
            role: Some(self.actor.role_label().to_string()),
            source: Source::Api,
            ..CommandContext::default()
        }
    }

    /// An id for what the command creates: the one given, or one derived from the
    /// command id (so a retry creates the same thing), or a new one.
    pub(super) fn new_id(&self, given: Option<String>, prefix: &str) -> String {
        given.unwrap_or_else(|| {
            let uuid = self
                .command_id
                .map_or_else(Uuid::new_v4, |id| Uuid::new_v5(&id, prefix.as_bytes()));
            format!("{prefix}-{}", &uuid.simple().to_string()[..12])
        })
    }

    pub(crate) async fn run<A>(
        &self,
        name: &str,
        bus: &CommandBus<A>,
        stream_id: &str,
        command: A::Command,
        created: Option<String>,
    ) -> GqlResult<CommandResult>
    where
        A: Aggregate + std::fmt::Debug + 'static,
        A::Command: Serialize + Clone,
    {
        let metrics = &state(self.ctx)?.metrics;
        let outcome = bus
            .execute_at(stream_id, command, &self.context(), self.expected)
            .await;
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                let error = ApiError::from(e);
                metrics.command(name, &error.code().to_lowercase());
                return Err(error.into());
            }
        };
        let stream = format!("{}/{stream_id}", A::TYPE);
        let command_id = self.command_id;
        Ok(match outcome {
            CommandOutcome::Appended(o) => {
                metrics.command(name, if o.replayed { "replayed" } else { "appended" });
                CommandResult {
                    stream,
                    version: o.stream_version,
                    changed: true,
                    position: Some(o.last_position),
                    recorded_at: Some(o.recorded_at),
                    command_id,
                    created,
                }
            }
            CommandOutcome::Unchanged { stream_version } => {
                metrics.command(name, "unchanged");
                CommandResult {
                    stream,
                    version: stream_version,
                    changed: false,
                    position: None,
                    recorded_at: None,
                    command_id,
                    created,
                }
            }
        })
    }

    /// The school year a date is in.
    pub(super) async fn year_of(&self, date: NaiveDate) -> ApiResult<SchoolYear> {
        let establishment = self.reader.establishment().await?;
        year_of(&establishment, date).ok_or_else(|| {
            ApiError::validation(
                "date",
                format!("{date} is in no school year of this establishment"),
            )
        })
    }

    /// A lesson for a roll call: it exists, is not cancelled, the caller may take it,
    /// and the student is in it.
    async fn lesson_for(
        &self,
        lesson: &str,
        student: &str,
    ) -> ApiResult<(SchoolYear, Occurrence, Arc<Student>)> {
        let (year, occurrence) = find_lesson(&self.reader, lesson, "lesson").await?;
        self.actor.may_take_roll_call(&occurrence.teachers)?;
        if let Some(reason) = &occurrence.cancelled {
            return Err(ApiError::RuleViolation(format!(
                "lesson {lesson} is cancelled ({reason}): it has no roll call"
            )));
        }
        let record = self.reader.student(student).await?;
        let here = record.placement_on(occurrence.date).is_some_and(|p| {
            occurrence.divisions.contains(&p.division)
                || occurrence.groups.iter().any(|g| p.groups.contains(g))
        });
        if !here {
            return Err(ApiError::validation(
                "student",
                format!(
                    "{student} is not in the class of lesson {lesson} on {}",
                    occurrence.date
                ),
            ));
        }
        Ok((year, occurrence, record))
    }

    /// The gradebook stream a mark of `evaluation` goes to, once the caller is known to
    /// teach the evaluation's subject to the class (the year and the period default to
    /// the current ones).
    async fn marking(
        &self,
        class: &str,
        period: Option<String>,
        year: Option<String>,
        evaluation: &str,
    ) -> ApiResult<String> {
        let year = super::types::year(&self.reader, year.as_deref()).await?;
        let period = self.period(&year, period).await?;
        let book = self
            .reader
            .gradebook(&year, class, &period)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(format!("no gradebook for {class} in period {period}"))
            })?;
        let subject = book
            .evaluations
            .get(evaluation)
            .map(|e| e.subject.as_str())
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "no evaluation `{evaluation}` in the gradebook of {class}, {period}"
                ))
            })?;
        self.actor.may_grade(&year, class, subject)?;
        Ok(School::gradebook_id(&year, class, &period))
    }

    async fn period(&self, year: &SchoolYear, period: Option<String>) -> ApiResult<String> {
        match period {
            Some(p) => Ok(p),
            None => current_period(&self.reader, year).await,
        }
    }
}

// Each argument of a mutation is a parameter of its resolver: the command's own
// fields, then `commandId` and `expectedVersion`.
#[allow(clippy::too_many_arguments)]
#[Object]
impl DailyMutation {
    /// One student's line of a lesson's roll call. The guardians with the right to be
    /// told are notified of an absence.
    async fn record_attendance(
        &self,
        ctx: &Context<'_>,
        lesson: String,
        student: String,
        status: AttendanceStatusInput,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        let status = status.status()?;
        let (year, o, record) = c.lesson_for(&lesson, &student).await?;
        let command = AttendanceCommand::RecordAttendance {
            student: student.clone(),
            lesson,
            date: o.date,
            start: o.start.time(),
            end: o.end.time(),
            status,
            by: c.actor.person.clone(),
            notify: record.guardians_to_notify(),
        };
        c.run(
            "record_attendance",
            &c.school.attendance,
            &School::attendance_id(&year, &student),
            command,
            None,
        )
        .await
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
        let year = super::types::year(&c.reader, year.as_deref()).await?;
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
        let year = super::types::year(&c.reader, year.as_deref()).await?;
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
        let year = super::types::year(&c.reader, year.as_deref()).await?;
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

    /// Books (part of) a resource; it may wait for a manager's approval.
    async fn book(
        &self,
        ctx: &Context<'_>,
        resource: String,
        start: NaiveDateTime,
        end: NaiveDateTime,
        #[graphql(default = 1)] quantity: u32,
        #[graphql(default)] purpose: String,
        booking: Option<String>,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_book()?;
        c.reader.resource(&resource).await?;
        let id = c.new_id(booking, "book");
        let command = ReservationCommand::Book {
            booking: id.clone(),
            by: c.actor.person.clone(),
            start,
            end,
            quantity,
            purpose,
        };
        c.run("book", &c.school.resources, &resource, command, Some(id))
            .await
    }

    async fn cancel_booking(
        &self,
        ctx: &Context<'_>,
        resource: String,
        booking: String,
        reason: String,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_book()?;
        let command = ReservationCommand::CancelBooking {
            booking,
            by: c.actor.person.clone(),
            reason,
        };
        c.run(
            "cancel_booking",
            &c.school.resources,
            &resource,
            command,
            None,
        )
        .await
    }

    async fn approve_booking(
        &self,
        ctx: &Context<'_>,
        resource: String,
        booking: String,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        let found = c.reader.resource(&resource).await?;
        c.actor.may_manage(&found.managers)?;
        let command = ReservationCommand::ApproveBooking {
            booking,
            by: c.actor.person.clone(),
        };
        c.run(
            "approve_booking",
            &c.school.resources,
            &resource,
            command,
            None,
        )
        .await
    }

    async fn refuse_booking(
        &self,
        ctx: &Context<'_>,
        resource: String,
        booking: String,
        reason: String,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        let found = c.reader.resource(&resource).await?;
        c.actor.may_manage(&found.managers)?;
        let command = ReservationCommand::RefuseBooking {
            booking,
            by: c.actor.person.clone(),
            reason,
        };
        c.run(
            "refuse_booking",
            &c.school.resources,
            &resource,
            command,
            None,
        )
        .await
    }

    /// The student moves to another division from `on`, with the groups they are in
    /// from that day.
    async fn change_division(
        &self,
        ctx: &Context<'_>,
        student: String,
        division: String,
        groups: Vec<String>,
        on: NaiveDate,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_enrol()?;
        let command = StudentCommand::ChangeDivision {
            division,
            groups,
            on,
        };
        c.run(
            "change_division",
            &c.school.students,
            &student,
            command,
            None,
        )
        .await
    }

    async fn join_group(
        &self,
        ctx: &Context<'_>,
        student: String,
        group: String,
        on: NaiveDate,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_enrol()?;
        let command = StudentCommand::JoinGroup { group, on };
        c.run("join_group", &c.school.students, &student, command, None)
            .await
    }

    async fn leave_group(
        &self,
        ctx: &Context<'_>,
        student: String,
        group: String,
        last_day: NaiveDate,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_enrol()?;
        let command = StudentCommand::LeaveGroup { group, last_day };
        c.run("leave_group", &c.school.students, &student, command, None)
            .await
    }

    /// What a guardian may do for this child (see, justify, be notified).
    async fn change_guardian_rights(
        &self,
        ctx: &Context<'_>,
        student: String,
        guardian: String,
        rights: RightsInput,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_enrol()?;
        let command = StudentCommand::ChangeGuardianRights {
            guardian,
            rights: rights.into(),
        };
        c.run(
            "change_guardian_rights",
            &c.school.students,
            &student,
            command,
            None,
        )
        .await
    }

    /// A lesson does not take place (teacher absent, outing): its course and due date.
    async fn cancel_lesson(
        &self,
        ctx: &Context<'_>,
        course: String,
        date: NaiveDate,
        reason: String,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_administer("changing the timetable")?;
        let year = c.year_of(date).await?;
        let command = TimetableCommand::CancelOccurrence {
            course,
            date,
            reason,
        };
        c.run(
            "cancel_lesson",
            &c.school.timetable,
            year.as_str(),
            command,
            None,
        )
        .await
    }

    /// A lesson moves to another day, time or room.
    async fn move_lesson(
        &self,
        ctx: &Context<'_>,
        course: String,
        date: NaiveDate,
        to_date: NaiveDate,
        start: NaiveTime,
        end: NaiveTime,
        room: Option<String>,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_administer("changing the timetable")?;
        let year = c.year_of(date).await?;
        let command = TimetableCommand::MoveOccurrence {
            course,
            date,
            to_date,
            start,
            end,
            room,
        };
        c.run(
            "move_lesson",
            &c.school.timetable,
            year.as_str(),
            command,
            None,
        )
        .await
    }

    /// Another teacher takes one lesson (remplacement).
    async fn replace_teacher(
        &self,
        ctx: &Context<'_>,
        course: String,
        date: NaiveDate,
        teachers: Vec<String>,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_administer("changing the timetable")?;
        let year = c.year_of(date).await?;
        let command = TimetableCommand::ReplaceTeacher {
            course,
            date,
            teachers,
        };
        c.run(
            "replace_teacher",
            &c.school.timetable,
            year.as_str(),
            command,
            None,
        )
        .await
    }
}
