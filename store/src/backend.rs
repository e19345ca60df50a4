//! The one trait both databases implement. Everything above it (group commit, the
//! cqrs-es adapter, verification) is written once against this trait.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use carnet_domain::Uai;
use futures::future::BoxFuture;
use uuid::Uuid;

use crate::error::StoreError;
use crate::model::{
    AppendOutcome, AppendRequest, Position, RecordedEvent, Snapshot, StreamRef, TenantInfo,
};
use crate::plan::KnownCommand;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Postgres,
    Sqlite,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Postgres => "postgres",
            BackendKind::Sqlite => "sqlite",
        })
    }
}

/// The database connection pool behind a backend, for the components that keep their
/// own tables beside the log in the same database (the projections' read models).
#[derive(Clone, Debug)]
pub enum Pool {
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

/// Awaited inside an append transaction after its rows are written and before it
/// commits. Fault-injection tests use it to hold a transaction open (the late-commit
/// case); production code leaves it unset.
pub type CommitGate = Arc<dyn Fn(Uai) -> BoxFuture<'static, ()> + Send + Sync>;

/// Answers of a batch: one per request, in order.
pub type BatchOutcome = Vec<Result<AppendOutcome, StoreError>>;

#[async_trait]
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    fn kind(&self) -> BackendKind;

    /// The pool this backend's tables live in.
    fn pool(&self) -> Pool;

    /// Applies the migrations of this backend's folder under `migrations/`.
    async fn migrate(&self) -> Result<(), StoreError>;

    async fn create_tenant(
        &self,
        tenant: &Uai,
        name: &str,
        time_zone: &str,
    ) -> Result<(), StoreError>;

    async fn tenants(&self) -> Result<Vec<TenantInfo>, StoreError>;

    /// Appends `requests` in one transaction under the tenant's append lock. Each request
    /// is decided on its own (a conflict refuses that request only) unless
    /// `all_or_nothing`, where any refusal rolls everything back as
    /// [`StoreError::BulkRejected`]. An error of the whole call means nothing was written.
    async fn append_batch(
        &self,
        tenant: &Uai,
        requests: &[AppendRequest],
        all_or_nothing: bool,
    ) -> Result<BatchOutcome, StoreError>;

    /// The events of a stream with a version above `after_version`, in version order.
    async fn read_stream(
        &self,
        tenant: &Uai,
        stream: &StreamRef,
        after_version: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Every event of every stream of one type (all students, say), by stream id then
    /// version: what an import compares a file with.
    async fn read_stream_type(
        &self,
        tenant: &Uai,
        stream_type: &str,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// At most `limit` events of the tenant's log with a position above `after`, in
    /// position order.
    async fn read_log(
        &self,
        tenant: &Uai,
        after: Position,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    async fn find_command(
        &self,
        tenant: &Uai,
        id: Uuid,
    ) -> Result<Option<KnownCommand>, StoreError>;

    async fn load_snapshot(
        &self,
        tenant: &Uai,
        stream: &StreamRef,
    ) -> Result<Option<Snapshot>, StoreError>;

    async fn save_snapshot(
        &self,
        tenant: &Uai,
        stream: &StreamRef,
        snapshot: &Snapshot,
    ) -> Result<(), StoreError>;

    /// The latest snapshot of a stream and the events after it: what loading an aggregate
    /// needs. Backends where a query costs a round trip answer it in one.
    async fn load_latest(
        &self,
        tenant: &Uai,
        stream: &StreamRef,
    ) -> Result<(Option<Snapshot>, Vec<RecordedEvent>), StoreError> {
        let snapshot = self.load_snapshot(tenant, stream).await?;
        let after = snapshot.as_ref().map_or(0, |s| s.stream_version);
        let events = self.read_stream(tenant, stream, after).await?;
        Ok((snapshot, events))
    }

    /// Writes an establishment's log as another store recorded it (`replay import` of an
    /// export): positions, stream versions, times and hashes exactly as they were, so
    /// the hash chain still links. The establishment must not exist here; `events` are
    /// its whole log in position order, checked by the caller. One transaction: all of
    /// it or nothing.
    async fn restore(
        &self,
        tenant: &TenantInfo,
        events: &[RecordedEvent],
    ) -> Result<(), StoreError>;

    /// Calls `heard` with the payload of every notification sent on `channel` by any
    /// process, from a connection of its own (never one of the pool), until `heard`
    /// answers `false`. `Ok(false)` when this database has no notifications (the readers
    /// then poll the heads).
    async fn listen(&self, channel: &str, heard: Heard) -> Result<bool, StoreError>;

    /// Sends `payload` to the listeners of `channel`, in a transaction of its own.
    async fn announce(&self, channel: &str, payload: &str) -> Result<(), StoreError>;
}

/// What a listener calls with each notification's payload; `false` ends the listening.
pub type Heard = Box<dyn Fn(&str) -> bool + Send + Sync + 'static>;

/// The distinct streams and command ids a batch touches, sorted so that lookups are
/// deterministic.
pub(crate) fn batch_keys(requests: &[AppendRequest]) -> (Vec<StreamRef>, Vec<Uuid>) {
    let streams: BTreeSet<&StreamRef> = requests.iter().map(|r| &r.stream).collect();
    let commands: BTreeSet<Uuid> = requests
        .iter()
        .filter_map(|r| r.command.map(|c| c.id))
        .collect();
    (
        streams.into_iter().cloned().collect(),
        commands.into_iter().collect(),
    )
}

pub(crate) fn hash_from_bytes(
    bytes: &[u8],
    tenant: &Uai,
    position: Position,
) -> Result<[u8; 32], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt {
        tenant: tenant.clone(),
        position,
        reason: format!("stored hash has {} bytes, not 32", bytes.len()),
    })
}

pub(crate) fn metadata_from_value(
    value: serde_json::Value,
    tenant: &Uai,
    position: Position,
) -> Result<crate::model::EventMetadata, StoreError> {
    serde_json::from_value(value).map_err(|e| StoreError::Corrupt {
        tenant: tenant.clone(),
        position,
        reason: format!("unreadable metadata: {e}"),
    })
}

pub(crate) fn tenant_from_db(text: &str) -> Result<Uai, StoreError> {
    Uai::parse(text)
        .map_err(|e| StoreError::Config(format!("a tenant row holds an invalid UAI: {e}")))
}
