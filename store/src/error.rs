//! The store's typed errors. A refusal of the request (conflict, bad input) is kept apart
//! from a failure of the database, so the API can answer each with its own code.

use std::sync::Arc;

use carnet_domain::Uai;
use uuid::Uuid;

use crate::model::{Position, StreamRef};

/// Cloneable, because one failed group-commit transaction is answered to every command
/// that was in it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("establishment {0} is not known to this store")]
    UnknownTenant(Uai),

    #[error("establishment {0} already exists")]
    TenantExists(Uai),

    #[error("stream {stream} is at version {current}, not at the expected version {expected}: it changed since it was read")]
    Conflict {
        stream: StreamRef,
        expected: i64,
        current: i64,
    },

    #[error("command id {id} was already used for a different request (on stream {stream})")]
    CommandIdReused { id: Uuid, stream: StreamRef },

    #[error("an append needs at least one event; this one has none")]
    EmptyBatch,

    #[error("event #{index} ({event_type}) has a payload of {size} bytes, over the limit of {limit} bytes")]
    PayloadTooLarge {
        index: usize,
        event_type: String,
        size: usize,
        limit: usize,
    },

    #[error("event #{index} ({event_type}) has a malformed payload: {reason}")]
    MalformedPayload {
        index: usize,
        event_type: String,
        reason: String,
    },

    #[error("invalid {field}: {reason}")]
    InvalidInput { field: &'static str, reason: String },

    #[error("bulk append refused, nothing was written: {} request(s) failed, the first (#{}) with: {}", .errors.len(), .errors[0].0, .errors[0].1)]
    BulkRejected { errors: Vec<(usize, StoreError)> },

    #[error("the database refused to change the event log: {0}")]
    AppendOnly(String),

    #[error("the log of {tenant} is damaged at position {position}: {reason}")]
    Corrupt {
        tenant: Uai,
        position: Position,
        reason: String,
    },

    #[error("invalid database configuration: {0}")]
    Config(String),

    #[error("the store's writer for {0} stopped")]
    WriterStopped(Uai),

    #[error("database error: {0}")]
    Database(#[source] Arc<sqlx::Error>),

    #[error("migration failed: {0}")]
    Migrate(#[source] Arc<sqlx::migrate::MigrateError>),
}

impl StoreError {
    /// True when the database could not be reached or went away during the call (a
    /// restart, a network cut): the request may or may not have been applied, and
    /// sending it again with the same command id applies it at most once.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::WriterStopped(_) => true,
            StoreError::Database(e) => unreachable_database(e),
            _ => false,
        }
    }

    /// True for refusals of the request itself; false for failures of the database.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            StoreError::Database(_)
                | StoreError::Migrate(_)
                | StoreError::WriterStopped(_)
                | StoreError::Corrupt { .. }
                | StoreError::Config(_)
        )
    }
}

/// Whether `error` says the database could not be reached or went away (a restart, a
/// network cut), rather than refused the statement.
pub fn unreachable_database(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE classes 08 (connection exception) and 57P (the server shut down, or
        // is starting).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        // The append-only triggers raise this message on both backends.
        if let sqlx::Error::Database(db) = &error {
            if db.message().contains("append-only") {
                return StoreError::AppendOnly(db.message().to_string());
            }
        }
        StoreError::Database(Arc::new(error))
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(Arc::new(error))
    }
}
