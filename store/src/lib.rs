//! Carnet's event store.
//!
//! Every fact is an event in the append-only log of its establishment (tenant). Each
//! event has a gap-free per-tenant `position`, a stream and stream version (optimistic
//! concurrency), its type and version, a JSON payload, metadata (who, which command,
//! correlation, source), the time it was recorded (UTC) and a SHA-256 hash chaining it to
//! the previous event of its stream.
//!
//! - [`Backend`] is the one trait; [`postgres::PgBackend`] and [`sqlite::SqliteBackend`]
//!   implement it, each with its migrations under `migrations/`.
//! - [`EventStore`] is the handle: validation, group commit, bulk appends, notifications.
//! - [`AggregateStore`] implements `cqrs_es::EventStore`, so aggregates run in
//!   `CqrsFramework` unchanged; [`CommandBus`] runs commands idempotently.
//! - [`verify::verify_tenant`] checks positions, versions and the hash chain.
#![forbid(unsafe_code)]

pub mod aggregate;
pub mod backend;
pub mod commands;
pub mod error;
pub mod files;
pub mod hash;
pub mod hook;
pub mod keyring;
pub mod keys;
pub mod model;
pub mod plan;
pub mod postgres;
pub mod school;
pub mod sqlite;
mod store;
pub mod validate;
pub mod vault;
pub mod verify;
pub mod wakeups;
mod writer;

#[cfg(feature = "testing")]
pub mod testing;

pub use aggregate::{command_metadata, AggregateCache, AggregateStore, LoadedAggregate};
pub use backend::{Backend, BackendKind, CommitGate, Pool};
pub use commands::{CommandBus, CommandContext, CommandError, CommandOutcome};
pub use error::StoreError;
pub use hook::{read_log_in, AppendTx, BeforeCommit, Hooks};
pub use model::{
    AppendOutcome, AppendRequest, CommandKey, Committed, EventMetadata, ExpectedVersion, NewEvent,
    Position, RecordedEvent, Snapshot, Source, StreamRef, TenantInfo,
};
pub use postgres::PoolSettings;
pub use school::School;
pub use store::{EventStore, Location, StoreOptions};
pub use validate::Limits;
pub use vault::Vault;
pub use wakeups::WakeupOptions;
