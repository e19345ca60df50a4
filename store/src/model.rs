//! What goes into the log and what comes out of it.

use std::collections::BTreeMap;
use std::fmt;

use carnet_domain::Uai;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::StoreError;

/// A gap-free, per-establishment sequence number of an event in the log, starting at 1.
pub type Position = i64;

/// A stream: the events of one aggregate instance, e.g. (`attendance`, `student-42`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StreamRef {
    pub stream_type: String,
    pub stream_id: String,
}

impl StreamRef {
    pub fn new(stream_type: impl Into<String>, stream_id: impl Into<String>) -> Self {
        StreamRef {
            stream_type: stream_type.into(),
            stream_id: stream_id.into(),
        }
    }
}

impl fmt::Display for StreamRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.stream_type, self.stream_id)
    }
}

/// The version a writer expects the stream to be at before its events (optimistic
/// concurrency). A new stream is at version 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// The stream must be at exactly this version; 0 means it must not exist yet.
    Exactly(i64),
    /// Append whatever the stream's version (for streams with a single writer by design).
    Any,
}

/// One event to append: its type, the version of its shape, and its JSON payload.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub event_type: String,
    pub event_version: i32,
    pub payload: serde_json::Value,
}

impl NewEvent {
    pub fn new(
        event_type: impl Into<String>,
        event_version: i32,
        payload: serde_json::Value,
    ) -> Self {
        NewEvent {
            event_type: event_type.into(),
            event_version,
            payload,
        }
    }

    /// Builds an event from JSON text as it arrives from outside (an import, the API),
    /// naming where the text is broken when it is.
    pub fn from_json_text(
        event_type: impl Into<String>,
        event_version: i32,
        text: &str,
    ) -> Result<Self, StoreError> {
        let event_type = event_type.into();
        let payload = serde_json::from_str(text).map_err(|e| StoreError::MalformedPayload {
            index: 0,
            event_type: event_type.clone(),
            reason: format!(
                "not valid JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        })?;
        Ok(NewEvent {
            event_type,
            event_version,
            payload,
        })
    }
}

/// Where a fact entered the system.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    #[default]
    Api,
    Import,
    Replay,
    System,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Import => "import",
            Source::Replay => "replay",
            Source::System => "system",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "api" => Some(Source::Api),
            "import" => Some(Source::Import),
            "replay" => Some(Source::Replay),
            "system" => Some(Source::System),
            _ => None,
        }
    }
}

/// Who recorded an event, on behalf of which command, and from where. Stored beside the
/// payload and covered by the hash chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    #[serde(default)]
    pub source: Source,
    /// Anything else worth keeping, e.g. an import's file name, SHA-256 and line.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// The identity of a command, for idempotency: the same id with the same request hash is
/// the same command sent again; the same id with another hash is a client error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandKey {
    pub id: Uuid,
    pub request_hash: [u8; 32],
}

/// Events to append to one stream, atomically.
#[derive(Clone, Debug)]
pub struct AppendRequest {
    pub stream: StreamRef,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
    pub metadata: EventMetadata,
    pub command: Option<CommandKey>,
}

impl AppendRequest {
    pub fn new(stream: StreamRef, expected: ExpectedVersion, events: Vec<NewEvent>) -> Self {
        AppendRequest {
            stream,
            expected,
            events,
            metadata: EventMetadata::default(),
            command: None,
        }
    }

    pub fn with_metadata(mut self, metadata: EventMetadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Makes the append idempotent under `command`; the command id is also recorded in
    /// every event's metadata.
    pub fn with_command(mut self, command: CommandKey) -> Self {
        self.metadata.command_id = Some(command.id);
        self.command = Some(command);
        self
    }
}

/// What an append did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendOutcome {
    /// The stream's version after the append.
    pub stream_version: i64,
    pub first_position: Position,
    pub last_position: Position,
    pub recorded_at: DateTime<Utc>,
    /// True when this is the answer of an earlier identical command: nothing was appended.
    pub replayed: bool,
}

/// An event as it stands in the log.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedEvent {
    pub tenant: Uai,
    pub position: Position,
    pub stream: StreamRef,
    pub stream_version: i64,
    pub event_type: String,
    pub event_version: i32,
    pub payload: serde_json::Value,
    pub metadata: EventMetadata,
    pub recorded_at: DateTime<Utc>,
    /// SHA-256 chaining this event to the previous one of its stream.
    pub hash: [u8; 32],
}

impl RecordedEvent {
    /// The payload in the shape the code reads today: an older event version goes
    /// through the domain's upcasters (the recorded payload, and its hash, stay as
    /// they are).
    pub fn current_payload(&self) -> Result<serde_json::Value, crate::StoreError> {
        carnet_domain::upcast::upcast(
            &self.stream.stream_type,
            &self.stream.stream_id,
            &self.event_type,
            self.event_version,
            self.payload.clone(),
        )
        .map_err(|e| crate::StoreError::Corrupt {
            tenant: self.tenant.clone(),
            position: self.position,
            reason: e.to_string(),
        })
    }
}

/// An establishment known to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantInfo {
    pub tenant: Uai,
    pub name: String,
    pub time_zone: String,
    /// Position of the last event in its log (0 when empty).
    pub head: Position,
}

/// Sent when events commit: the log of `tenant` now reaches at least `head`. A wake-up,
/// not a delivery: a reader may get it more than once and re-reads from its checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    pub tenant: Uai,
    pub head: Position,
}

/// The latest saved state of an aggregate, to avoid folding its whole stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub stream_version: i64,
    pub state: serde_json::Value,
}

/// Now, at the precision both databases keep (microseconds), so that a timestamp read
/// back hashes like the one written.
pub fn now_micros() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
