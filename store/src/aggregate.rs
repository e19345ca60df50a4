//! The adapter that lets domain aggregates run in cqrs-es's `CqrsFramework` unchanged.
//!
//! Loading must not get slower as a stream grows, so an aggregate comes from, in order:
//! the in-process cache (the state left by the last command on it), the latest snapshot
//! plus the events after it, or the whole stream. A snapshot is saved every
//! `snapshot_every` events. The cache cannot make a stale decision stick: the append
//! checks the version the state was loaded at, and a conflict evicts the entry.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use carnet_domain::Uai;
use cqrs_es::{Aggregate, AggregateContext, AggregateError, DomainEvent, EventEnvelope};
use lru::LruCache;
use uuid::Uuid;

use crate::error::StoreError;
use crate::keyring::Keyring;
use crate::model::{
    AppendOutcome, AppendRequest, CommandKey, EventMetadata, ExpectedVersion, NewEvent,
    RecordedEvent, Snapshot, Source, StreamRef,
};
use crate::store::EventStore;

/// Keys of the cqrs-es metadata map that this store understands; any other key is kept
/// in [`EventMetadata::extra`].
pub mod meta {
    pub const ACTOR: &str = "actor";
    pub const ROLE: &str = "role";
    pub const COMMAND_ID: &str = "command_id";
    /// Hex of the command's keyed fingerprint, see [`Keyring::fingerprint`].
    pub const REQUEST_HASH: &str = "request_hash";
    pub const CORRELATION_ID: &str = "correlation_id";
    pub const CAUSATION_ID: &str = "causation_id";
    pub const SOURCE: &str = "source";
}

/// The default number of events between two snapshots.
pub const SNAPSHOT_EVERY: i64 = 100;

/// Aggregates kept in memory after their last command, shared by every establishment's
/// [`AggregateStore`] of one aggregate type.
pub struct AggregateCache<A> {
    entries: Mutex<LruCache<(Uai, String), (i64, A)>>,
}

impl<A> std::fmt::Debug for AggregateCache<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggregateCache").finish_non_exhaustive()
    }
}

impl<A> AggregateCache<A> {
    pub fn new(capacity: usize) -> Arc<Self> {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Arc::new(AggregateCache {
            entries: Mutex::new(LruCache::new(capacity)),
        })
    }

    /// Takes the entry out: the command that loads it owns it until it commits.
    fn take(&self, key: &(Uai, String)) -> Option<(i64, A)> {
        self.lock().pop(key)
    }

    fn put(&self, key: (Uai, String), version: i64, aggregate: A) {
        let mut entries = self.lock();
        // Keep the newer state if a concurrent command already put one back.
        if entries.peek(&key).is_none_or(|(v, _)| *v < version) {
            entries.put(key, (version, aggregate));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<(Uai, String), (i64, A)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An aggregate loaded for a command, with the stream version it reflects.
#[derive(Debug)]
pub struct LoadedAggregate<A> {
    pub stream_id: String,
    pub version: i64,
    pub aggregate: A,
}

impl<A: Aggregate> AggregateContext<A> for LoadedAggregate<A> {
    fn aggregate(&mut self) -> &mut A {
        &mut self.aggregate
    }
}

/// The event store of one aggregate type in one establishment.
pub struct AggregateStore<A> {
    store: EventStore,
    tenant: Uai,
    cache: Arc<AggregateCache<A>>,
    snapshot_every: i64,
}

impl<A> std::fmt::Debug for AggregateStore<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggregateStore")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl<A> Clone for AggregateStore<A> {
    fn clone(&self) -> Self {
        AggregateStore {
            store: self.store.clone(),
            tenant: self.tenant.clone(),
            cache: self.cache.clone(),
            snapshot_every: self.snapshot_every,
        }
    }
}

impl<A: Aggregate + 'static> AggregateStore<A> {
    pub fn new(store: EventStore, tenant: Uai, cache: Arc<AggregateCache<A>>) -> Self {
        AggregateStore {
            store,
            tenant,
            cache,
            snapshot_every: SNAPSHOT_EVERY,
        }
    }

    pub fn with_snapshot_every(mut self, events: i64) -> Self {
        self.snapshot_every = events.max(1);
        self
    }

    pub fn tenant(&self) -> &Uai {
        &self.tenant
    }

    pub fn event_store(&self) -> &EventStore {
        &self.store
    }

    pub fn stream(&self, stream_id: &str) -> StreamRef {
        StreamRef::new(A::TYPE, stream_id)
    }

    fn key(&self, stream_id: &str) -> (Uai, String) {
        (self.tenant.clone(), stream_id.to_string())
    }

    /// The current state of an aggregate, from the cache, a snapshot or its stream.
    pub async fn load(&self, stream_id: &str) -> Result<LoadedAggregate<A>, StoreError> {
        if let Some((version, aggregate)) = self.cache.take(&self.key(stream_id)) {
            return Ok(LoadedAggregate {
                stream_id: stream_id.to_string(),
                version,
                aggregate,
            });
        }
        let stream = self.stream(stream_id);
        let (snapshot, mut events) = self.store.load_latest(&self.tenant, &stream).await?;
        let (mut aggregate, mut version) = match snapshot {
            Some(s) => match serde_json::from_value::<A>(s.state) {
                Ok(state) => (state, s.stream_version),
                // A snapshot of an older shape of the aggregate is ignored, not trusted:
                // fold the whole stream instead.
                Err(_) => {
                    events = self.store.read_stream(&self.tenant, &stream, 0).await?;
                    (A::default(), 0)
                }
            },
            None => (A::default(), 0),
        };
        let folded = events.len() as i64;
        for event in events {
            version = event.stream_version;
            aggregate.apply(decode::<A>(event)?);
        }
        if folded >= self.snapshot_every {
            self.save_snapshot(&stream, version, &aggregate);
        }
        Ok(LoadedAggregate {
            stream_id: stream_id.to_string(),
            version,
            aggregate,
        })
    }

    /// Appends the events a command produced on `loaded`, and keeps the new state.
    /// `Ok(None)` when there were no events to append.
    pub async fn commit_events(
        &self,
        events: Vec<A::Event>,
        loaded: LoadedAggregate<A>,
        metadata: EventMetadata,
        command: Option<CommandKey>,
    ) -> Result<Option<(AppendOutcome, Vec<EventEnvelope<A>>)>, StoreError> {
        let LoadedAggregate {
            stream_id,
            version,
            aggregate,
        } = loaded;
        if events.is_empty() {
            self.cache.put(self.key(&stream_id), version, aggregate);
            return Ok(None);
        }
        let stream = self.stream(&stream_id);
        let new_events = events.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        let request_has_personal_data = new_events
            .iter()
            .any(|e| crate::vault::holds_clear_personal_data(&e.payload));
        let mut request = AppendRequest::new(
            stream.clone(),
            ExpectedVersion::Exactly(version),
            new_events,
        )
        .with_metadata(metadata.clone());
        if let Some(command) = command {
            request = request.with_command(command);
        }
        let outcome = self.store.append(&self.tenant, request).await?;
        if outcome.replayed {
            // The state we hold came from re-running the command; the log has the first run.
            return Ok(Some((outcome, Vec::new())));
        }
        let map = metadata_map(&metadata);
        let envelopes = events
            .into_iter()
            .zip(version + 1..)
            .map(|(payload, sequence)| EventEnvelope {
                aggregate_id: stream_id.clone(),
                sequence: sequence as usize,
                payload,
                metadata: map.clone(),
            })
            .collect();
        // The state in hand applied these events with their personal values in clear
        // while the log holds them sealed: such a state is folded again from the log
        // next time, so that every reader of the aggregate sees what the log holds.
        if !request_has_personal_data {
            if outcome.stream_version / self.snapshot_every > version / self.snapshot_every {
                self.save_snapshot(&stream, outcome.stream_version, &aggregate);
            }
            self.cache
                .put(self.key(&stream_id), outcome.stream_version, aggregate);
        }
        Ok(Some((outcome, envelopes)))
    }

    /// Saves a snapshot in the background: it is a shortcut, and a lost one costs only a
    /// longer fold later.
    fn save_snapshot(&self, stream: &StreamRef, version: i64, aggregate: &A) {
        let Ok(state) = serde_json::to_value(aggregate) else {
            return;
        };
        let (store, tenant, stream) = (self.store.clone(), self.tenant.clone(), stream.clone());
        tokio::spawn(async move {
            let snapshot = Snapshot {
                stream_version: version,
                state,
            };
            if let Err(error) = store.save_snapshot(&tenant, &stream, &snapshot).await {
                tracing::warn!(%error, %stream, "saving a snapshot failed");
            }
        });
    }
}

impl<A: Aggregate + 'static> cqrs_es::EventStore<A> for AggregateStore<A> {
    type AC = LoadedAggregate<A>;

    async fn load_events(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let stream = self.stream(aggregate_id);
        let events = self
            .store
            .read_stream(&self.tenant, &stream, 0)
            .await
            .map_err(to_aggregate_error)?;
        events
            .into_iter()
            .map(|event| {
                let sequence = event.stream_version as usize;
                let metadata = metadata_map(&event.metadata);
                Ok(EventEnvelope {
                    aggregate_id: aggregate_id.to_string(),
                    sequence,
                    payload: decode::<A>(event)?,
                    metadata,
                })
            })
            .collect::<Result<_, StoreError>>()
            .map_err(to_aggregate_error)
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<LoadedAggregate<A>, AggregateError<A::Error>> {
        self.load(aggregate_id).await.map_err(to_aggregate_error)
    }

    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: LoadedAggregate<A>,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let (metadata, command) = parse_metadata_map(metadata).map_err(to_aggregate_error)?;
        let committed = self
            .commit_events(events, context, metadata, command)
            .await
            .map_err(to_aggregate_error)?;
        Ok(committed
            .map(|(_, envelopes)| envelopes)
            .unwrap_or_default())
    }
}

/// A domain event as the log writes it: its type, version and JSON payload.
pub fn encode<E: DomainEvent>(event: &E) -> Result<NewEvent, StoreError> {
    let event_type = event.event_type();
    let version = event.event_version();
    let event_version = version
        .trim()
        .parse::<i32>()
        .map_err(|_| StoreError::InvalidInput {
            field: "event version",
            reason: format!(
                "{event_type} has version `{version}`; Carnet's event versions are whole numbers"
            ),
        })?;
    let payload = serde_json::to_value(event).map_err(|e| StoreError::InvalidInput {
        field: "event",
        reason: format!("{event_type} cannot be written as JSON: {e}"),
    })?;
    Ok(NewEvent {
        event_type,
        event_version,
        payload,
    })
}

/// A recorded event as its aggregate reads it (upcast to today's shape).
pub fn decode<A: Aggregate>(event: RecordedEvent) -> Result<A::Event, StoreError> {
    serde_json::from_value(event.current_payload()?).map_err(|e| StoreError::Corrupt {
        tenant: event.tenant,
        position: event.position,
        reason: format!(
            "{} v{} cannot be read as a {} event: {e}",
            event.event_type,
            event.event_version,
            A::TYPE
        ),
    })
}

fn to_aggregate_error<E: std::error::Error>(error: StoreError) -> AggregateError<E> {
    match error {
        StoreError::Conflict { .. } => {
            tracing::debug!(%error, "optimistic concurrency conflict");
            AggregateError::AggregateConflict
        }
        StoreError::Database(_) | StoreError::WriterStopped(_) => {
            AggregateError::DatabaseConnectionError(Box::new(error))
        }
        StoreError::Corrupt { .. } => AggregateError::DeserializationError(Box::new(error)),
        other => AggregateError::UnexpectedError(Box::new(other)),
    }
}

/// Reads the cqrs-es metadata map into the store's metadata and command key.
pub fn parse_metadata_map(
    mut map: HashMap<String, String>,
) -> Result<(EventMetadata, Option<CommandKey>), StoreError> {
    let uuid = |map: &mut HashMap<String, String>,
                key: &'static str|
     -> Result<Option<Uuid>, StoreError> {
        map.remove(key)
            .map(|v| {
                Uuid::parse_str(&v).map_err(|e| StoreError::InvalidInput {
                    field: key,
                    reason: format!("`{v}` is not a UUID: {e}"),
                })
            })
            .transpose()
    };
    let command_id = uuid(&mut map, meta::COMMAND_ID)?;
    let correlation_id = uuid(&mut map, meta::CORRELATION_ID)?;
    let causation_id = uuid(&mut map, meta::CAUSATION_ID)?;
    let request = map.remove(meta::REQUEST_HASH);
    let source = match map.remove(meta::SOURCE) {
        Some(s) => Source::parse(&s).ok_or_else(|| StoreError::InvalidInput {
            field: meta::SOURCE,
            reason: format!("`{s}` is not one of api, import, replay, system"),
        })?,
        None => Source::Api,
    };
    let command = match (command_id, request) {
        (None, _) => None,
        (Some(id), Some(hex_hash)) => {
            let mut request_hash = [0u8; 32];
            hex::decode_to_slice(hex_hash.trim(), &mut request_hash).map_err(|e| {
                StoreError::InvalidInput {
                    field: meta::REQUEST_HASH,
                    reason: format!("not 64 hex digits: {e}"),
                }
            })?;
            Some(CommandKey { id, request_hash })
        }
        (Some(_), None) => {
            return Err(StoreError::InvalidInput {
                field: meta::REQUEST_HASH,
                reason: "a command id needs the hash of its request, to tell a retry from a reuse"
                    .into(),
            })
        }
    };
    let metadata = EventMetadata {
        actor: map.remove(meta::ACTOR),
        role: map.remove(meta::ROLE),
        command_id,
        correlation_id,
        causation_id,
        source,
        extra: map.into_iter().collect(),
    };
    Ok((metadata, command))
}

/// The store's metadata as the cqrs-es map handed to queries.
pub fn metadata_map(metadata: &EventMetadata) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = metadata.extra.clone().into_iter().collect();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            map.insert(k.to_string(), v);
        }
    };
    put(meta::ACTOR, metadata.actor.clone());
    put(meta::ROLE, metadata.role.clone());
    put(meta::COMMAND_ID, metadata.command_id.map(|u| u.to_string()));
    put(
        meta::CORRELATION_ID,
        metadata.correlation_id.map(|u| u.to_string()),
    );
    put(
        meta::CAUSATION_ID,
        metadata.causation_id.map(|u| u.to_string()),
    );
    map.insert(
        meta::SOURCE.to_string(),
        metadata.source.as_str().to_string(),
    );
    map
}

/// The metadata map for a command sent through `CqrsFramework::execute_with_metadata`,
/// making it idempotent under `command_id`.
pub fn command_metadata<C: serde::Serialize>(
    keyring: &Keyring,
    stream: &StreamRef,
    command: &C,
    command_id: Uuid,
    actor: Option<&str>,
    role: Option<&str>,
) -> Result<HashMap<String, String>, StoreError> {
    let value = serde_json::to_value(command).map_err(|e| StoreError::InvalidInput {
        field: "command",
        reason: format!("cannot be written as JSON: {e}"),
    })?;
    let mut map = HashMap::new();
    map.insert(meta::COMMAND_ID.to_string(), command_id.to_string());
    map.insert(
        meta::REQUEST_HASH.to_string(),
        hex::encode(keyring.fingerprint(stream, &value)),
    );
    if let Some(actor) = actor {
        map.insert(meta::ACTOR.to_string(), actor.to_string());
    }
    if let Some(role) = role {
        map.insert(meta::ROLE.to_string(), role.to_string());
    }
    Ok(map)
}
