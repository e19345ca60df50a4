//! The request context of a mutation (`Command`): who sends it, to which
//! establishment, with which command id and expected version; and what a command
//! answers (`CommandResult`).

use crate::schema::prelude::*;

/// Namespace of the command ids derived from an `Idempotency-Key`.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6361_726e_6574_2d69_6465_6d70_6f74_656e);

/// How a command is sent, in every mutation's input: its id, so that a retry answers
/// what the first run answered and writes nothing more (or the request's
/// `Idempotency-Key` header), and the version of the stream the client read, so that
/// a command about a stream that changed since is refused (CONFLICT, with the current
/// version) instead of acting on what the client did not see.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct CommandOptions {
    pub command_id: Option<Uuid>,
    pub expected_version: Option<i64>,
}

/// A mutation's payload: what every command answers (`CommandResult`, flattened: the
/// stream, its version, the position, `replayed`...) and the object it changed, read
/// back after the command so a client need not fetch it again. The object is `null`
/// only when the caller may not read it.
///
/// `payload!(RecordAttendancePayload, "doc", line: RegisterLine)` declares
/// `RecordAttendancePayload { ...CommandResult, line: RegisterLine }`.
macro_rules! payload {
    ($name:ident, $doc:literal, $field:ident: $ty:ty) => {
        #[doc = $doc]
        #[derive(async_graphql::SimpleObject)]
        pub struct $name {
            #[graphql(flatten)]
            pub result: $crate::schema::context::CommandResult,
            pub $field: Option<$ty>,
        }
    };
}
pub(crate) use payload;

/// What a command did.
#[derive(Debug, Clone, SimpleObject)]
pub struct CommandResult {
    /// The stream the command was decided on, e.g. `attendance/2026-2027/eleve00001`.
    pub stream: String,
    /// Its version after the command: pass it as `expectedVersion` to the next one.
    pub version: i64,
    /// False when the command changed nothing (it was already so).
    pub changed: bool,
    /// True when this was a retry of a command already applied (same `commandId` or
    /// `Idempotency-Key`): nothing more was written, this is the first run's answer.
    pub replayed: bool,
    /// Where its last event is in the establishment's log: a client sends it back to
    /// read what it wrote (read-your-writes).
    pub position: Option<i64>,
    pub recorded_at: Option<DateTime<Utc>>,
    pub command_id: Option<Uuid>,
    /// The id of what the command created (an evaluation, a booking, a justification).
    pub created: Option<String>,
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
    /// The context of a mutation sent with `options`.
    pub(crate) async fn sent(
        ctx: &'a Context<'a>,
        options: CommandOptions,
    ) -> ApiResult<Command<'a>> {
        Self::new(ctx, options.command_id, options.expected_version).await
    }

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

    /// The context of one part of a mutation that runs several commands, with a
    /// command id of its own derived from the mutation's: a retry with the same id
    /// finds each part as the first run left it.
    pub(crate) fn part(&self, part: &str) -> Command<'a> {
        Command {
            ctx: self.ctx,
            reader: self.reader.clone(),
            actor: self.actor.clone(),
            school: self.school.clone(),
            command_id: self.command_id.map(|id| Uuid::new_v5(&id, part.as_bytes())),
            expected: None,
        }
    }

    /// The school's own id an input names, given as it or as a global id (`Node.id`)
    /// of type `t` of this establishment.
    pub(crate) fn local(&self, t: crate::schema::node::NodeType, id: &str) -> ApiResult<String> {
        crate::schema::node::local_id(&self.reader, t, id)
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
        A::Error: carnet_domain::refusal::Refusal,
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
                    replayed: o.replayed,
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
                    replayed: false,
                    position: None,
                    recorded_at: None,
                    command_id,
                    created,
                }
            }
        })
    }

    /// Runs `command` on the establishment's own stream (its setup: years, classes,
    /// subjects, staff, services).
    pub(crate) async fn on_establishment(
        &self,
        name: &str,
        command: EstablishmentCommand,
        created: Option<String>,
    ) -> GqlResult<CommandResult> {
        let school = &self.school;
        self.run(
            name,
            &school.establishment,
            &school.establishment_id(),
            command,
            created,
        )
        .await
    }

    /// Runs `command` on the enrolment stream of `student`.
    pub(crate) async fn on_student(
        &self,
        name: &str,
        student: &str,
        command: StudentCommand,
    ) -> GqlResult<CommandResult> {
        self.run(name, &self.school.students, student, command, None)
            .await
    }

    /// The school year a date is in.
    pub(super) async fn year_of(&self, date: NaiveDate) -> ApiResult<SchoolYear> {
        let establishment = self.reader.establishment().await?;
        year_of(&establishment, date).ok_or_else(|| {
            ApiError::validation(
                "date",
                Text::new(
                    format!("le {date} n'est dans aucune année scolaire de cet établissement"),
                    format!("{date} is in no school year of this establishment"),
                ),
            )
        })
    }

    /// A lesson for a roll call: it exists, is not cancelled, the caller may take it,
    /// and the student is in it.
    pub(crate) async fn lesson_for(
        &self,
        lesson: &str,
        student: &str,
    ) -> ApiResult<(SchoolYear, Occurrence, Arc<Student>)> {
        let (year, occurrence) = find_lesson(&self.reader, lesson, "lesson").await?;
        self.actor.may_take_roll_call(&occurrence.teachers)?;
        if let Some(reason) = &occurrence.cancelled {
            return Err(ApiError::rule_violation(
                "LESSON_CANCELLED",
                Text::new(
                    format!("le cours {lesson} est annulé ({reason}) : il n'a pas d'appel"),
                    format!("lesson {lesson} is cancelled ({reason}): it has no roll call"),
                ),
            ));
        }
        let record = self.reader.student(student).await?;
        let here = record.placement_on(occurrence.date).is_some_and(|p| {
            occurrence.divisions.contains(&p.division)
                || occurrence.groups.iter().any(|g| p.groups.contains(g))
        });
        if !here {
            return Err(ApiError::validation(
                "student",
                Text::new(
                    format!(
                        "l'élève {student} n'est pas dans la division ou le groupe du cours \
                         {lesson} le {}",
                        occurrence.date
                    ),
                    format!(
                        "{student} is not in the class of lesson {lesson} on {}",
                        occurrence.date
                    ),
                ),
            ));
        }
        Ok((year, occurrence, record))
    }

    /// The gradebook stream a mark of `evaluation` goes to, once the caller is known to
    /// teach the evaluation's subject to the class (the year and the period default to
    /// the current ones).
    pub(crate) async fn marking(
        &self,
        class: &str,
        period: Option<String>,
        year: Option<String>,
        evaluation: &str,
    ) -> ApiResult<String> {
        let year = crate::schema::common::year(&self.reader, year.as_deref()).await?;
        let period = self.period(&year, period).await?;
        let book = self
            .reader
            .gradebook(&year, class, &period)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(Text::new(
                    format!("aucun carnet de notes pour {class} sur la période {period}"),
                    format!("no gradebook for {class} in period {period}"),
                ))
            })?;
        let subject = book
            .evaluations
            .get(evaluation)
            .map(|e| e.subject.as_str())
            .ok_or_else(|| {
                ApiError::not_found(Text::new(
                    format!(
                        "aucune évaluation `{evaluation}` dans le carnet de notes de {class}, \
                         période {period}"
                    ),
                    format!("no evaluation `{evaluation}` in the gradebook of {class}, {period}"),
                ))
            })?;
        self.actor.may_grade(&year, class, subject)?;
        Ok(School::gradebook_id(&year, class, &period))
    }

    pub(crate) async fn period(
        &self,
        year: &SchoolYear,
        period: Option<String>,
    ) -> ApiResult<String> {
        match period {
            Some(p) => Ok(p),
            None => current_period(&self.reader, year).await,
        }
    }
}
