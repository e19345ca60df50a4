//! Running a domain command idempotently: the path the API and the importers take.
//!
//! cqrs-es's `CqrsFramework` answers `()`; this bus answers what was appended and where,
//! and handles the retry whose command the new state refuses (a teacher's phone sending
//! "record absence" twice may be told "already recorded" by the aggregate the second
//! time; it must get the first answer instead).

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::Serialize;
use uuid::Uuid;

use crate::aggregate::AggregateStore;
use crate::error::StoreError;
use crate::model::{AppendOutcome, CommandKey, EventMetadata, Source};

/// Who sends a command, and the id that makes it idempotent.
#[derive(Clone, Debug, Default)]
pub struct CommandContext {
    pub command_id: Option<Uuid>,
    pub actor: Option<String>,
    pub role: Option<String>,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandOutcome {
    /// Events were appended (or, with `replayed`, had been by the same command before).
    Appended(AppendOutcome),
    /// The command changed nothing.
    Unchanged { stream_version: i64 },
}

/// A command's failure: the school rule that refused it, or the store.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    #[error("{0}")]
    Rejected(E),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug)]
pub struct CommandBus<A: Aggregate> {
    aggregates: AggregateStore<A>,
    services: A::Services,
}

/// How many times a command is decided again when another writer extended its stream
/// between our read and our append. A client that sent no expected version must get the
/// rule's answer, never a conflict it did not ask for: each round of a contention lets
/// at least one writer through, so twelve people booking the last tablets at once need
/// at most eleven rounds; this bound is only against a stream written without pause.
const CONFLICT_RETRIES: usize = 64;

/// The longest pause before deciding again, growing with the attempts: writers that
/// collided spread out instead of colliding again in the same instant.
const MAX_RETRY_PAUSE_MS: u64 = 20;

impl<A> CommandBus<A>
where
    A: Aggregate + std::fmt::Debug + 'static,
    A::Command: Serialize + Clone,
{
    pub fn new(aggregates: AggregateStore<A>, services: A::Services) -> Self {
        CommandBus {
            aggregates,
            services,
        }
    }

    /// Decides `command` on the current state of `stream_id` and appends its events.
    ///
    /// When another writer appended to the stream in between (optimistic concurrency),
    /// the command is decided again on the new state: that is how two people booking the
    /// last tablets at once end with one booking and one refusal naming it.
    #[tracing::instrument(skip_all, fields(aggregate = A::TYPE, stream_id, command_id = ?context.command_id))]
    pub async fn execute(
        &self,
        stream_id: &str,
        command: A::Command,
        context: &CommandContext,
    ) -> Result<CommandOutcome, CommandError<A::Error>> {
        self.execute_at(stream_id, command, context, None).await
    }

    /// As [`CommandBus::execute`], but only on the version of the stream the client
    /// read (`expected`): if anyone changed it since, the answer is a conflict naming
    /// the current version, and nothing is decided on a state the client never saw.
    pub async fn execute_at(
        &self,
        stream_id: &str,
        command: A::Command,
        context: &CommandContext,
        expected: Option<i64>,
    ) -> Result<CommandOutcome, CommandError<A::Error>> {
        let mut attempt = 0;
        loop {
            match self
                .execute_once(stream_id, command.clone(), context, expected)
                .await
            {
                // With an expected version the conflict is the answer: deciding again
                // would be deciding on a state the client never saw.
                Err(CommandError::Store(StoreError::Conflict { .. }))
                    if expected.is_none() && attempt < CONFLICT_RETRIES =>
                {
                    attempt += 1;
                    tracing::debug!(attempt, "stream moved on; deciding again");
                    let most = (attempt as u64).min(MAX_RETRY_PAUSE_MS);
                    let pause = rand::random::<u64>() % (most + 1);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                other => return other,
            }
        }
    }

    /// The current state of `stream_id` and its version: what the next command would be
    /// decided on.
    pub async fn state(&self, stream_id: &str) -> Result<(i64, A), StoreError>
    where
        A: Clone,
    {
        let loaded = self.aggregates.load(stream_id).await?;
        let answer = (loaded.version, loaded.aggregate.clone());
        // Hands the state back to the cache for the next command.
        self.aggregates
            .commit_events(Vec::new(), loaded, EventMetadata::default(), None)
            .await?;
        Ok(answer)
    }

    async fn execute_once(
        &self,
        stream_id: &str,
        command: A::Command,
        context: &CommandContext,
        expected: Option<i64>,
    ) -> Result<CommandOutcome, CommandError<A::Error>> {
        let stream = self.aggregates.stream(stream_id);
        let key = match context.command_id {
            Some(id) => {
                let value =
                    serde_json::to_value(&command).map_err(|e| StoreError::InvalidInput {
                        field: "command",
                        reason: format!("cannot be written as JSON: {e}"),
                    })?;
                Some(CommandKey {
                    id,
                    request_hash: self.aggregates.event_store().fingerprint(&stream, &value),
                })
            }
            None => None,
        };
        let mut loaded = self.aggregates.load(stream_id).await?;
        if let Some(expected) = expected.filter(|e| *e != loaded.version) {
            // A retry of a command that did run answers as it did, not as a conflict.
            if let Some(outcome) = self.earlier_answer(key).await? {
                return Ok(outcome);
            }
            return Err(StoreError::Conflict {
                stream,
                expected,
                current: loaded.version,
            }
            .into());
        }
        let sink = EventSink::<A>::default();
        if let Err(refusal) = loaded
            .aggregate
            .handle(command, &self.services, &sink)
            .await
        {
            return match self.earlier_answer(key).await? {
                Some(outcome) => Ok(outcome),
                None => Err(CommandError::Rejected(refusal)),
            };
        }
        let events = sink.collect().await;
        if events.is_empty() {
            if let Some(outcome) = self.earlier_answer(key).await? {
                return Ok(outcome);
            }
        }
        let version = loaded.version;
        let metadata = EventMetadata {
            actor: context.actor.clone(),
            role: context.role.clone(),
            command_id: context.command_id,
            correlation_id: context.correlation_id,
            causation_id: context.causation_id,
            source: context.source,
            extra: Default::default(),
        };
        match self
            .aggregates
            .commit_events(events, loaded, metadata, key)
            .await?
        {
            Some((outcome, _)) => Ok(CommandOutcome::Appended(outcome)),
            None => Ok(CommandOutcome::Unchanged {
                stream_version: version,
            }),
        }
    }

    /// The recorded answer of this command id, if it ran before; an error if the id was
    /// used for another request.
    async fn earlier_answer(
        &self,
        key: Option<CommandKey>,
    ) -> Result<Option<CommandOutcome>, StoreError> {
        let Some(key) = key else { return Ok(None) };
        let store = self.aggregates.event_store();
        match store.find_command(self.aggregates.tenant(), key.id).await? {
            Some(known) if known.request_hash == key.request_hash => {
                Ok(Some(CommandOutcome::Appended(known.outcome)))
            }
            Some(known) => Err(StoreError::CommandIdReused {
                id: key.id,
                stream: known.stream,
            }),
            None => Ok(None),
        }
    }
}
