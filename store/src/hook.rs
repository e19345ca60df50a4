//! Work done inside an append's own transaction, after its events are written and before
//! it commits: what the read models kept "inline" need, so that a command's effect is
//! readable as soon as the command is answered (read-your-writes).

use std::sync::Arc;

use async_trait::async_trait;
use carnet_domain::Uai;
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Sqlite, Transaction};

use crate::backend::{metadata_from_value, CommitGate};
use crate::error::StoreError;
use crate::model::{Position, RecordedEvent};
use crate::plan::EventRow;

/// A transaction on either database: the append's, lent to a [`BeforeCommit`] hook.
pub enum AppendTx {
    Postgres(Transaction<'static, Postgres>),
    Sqlite(Transaction<'static, Sqlite>),
}

impl std::fmt::Debug for AppendTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AppendTx::Postgres(_) => "AppendTx::Postgres",
            AppendTx::Sqlite(_) => "AppendTx::Sqlite",
        })
    }
}

impl AppendTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            AppendTx::Postgres(tx) => tx.commit().await,
            AppendTx::Sqlite(tx) => tx.commit().await,
        }
    }
}

/// Runs in every append transaction that writes events, under the tenant's append lock,
/// with the events just written (in position order). It hands the transaction back; an
/// error rolls the whole append back and is the append's answer.
#[async_trait]
pub trait BeforeCommit: Send + Sync + 'static {
    async fn run(
        &self,
        tx: AppendTx,
        tenant: &Uai,
        events: &[RecordedEvent],
    ) -> Result<AppendTx, StoreError>;

    /// Told when the transaction `run` was last given for `tenant` has committed. A hook
    /// that keeps state from one append to the next trusts it only from then on.
    fn committed(&self, _tenant: &Uai) {}
}

/// What a backend runs around its append transactions.
#[derive(Clone, Default)]
pub struct Hooks {
    pub gate: Option<CommitGate>,
    pub before_commit: Option<Arc<dyn BeforeCommit>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("gate", &self.gate.is_some())
            .field("before_commit", &self.before_commit.is_some())
            .finish()
    }
}

impl Hooks {
    /// Whether appends need a transaction held open on the client side (the Postgres
    /// one-statement path has none).
    pub(crate) fn need_transaction(&self) -> bool {
        self.gate.is_some() || self.before_commit.is_some()
    }

    /// Runs the gate and the hook on a transaction whose rows are written.
    pub(crate) async fn before_commit(
        &self,
        tx: AppendTx,
        tenant: &Uai,
        rows: &[EventRow],
        recorded_at: DateTime<Utc>,
    ) -> Result<AppendTx, StoreError> {
        let tx = match &self.before_commit {
            Some(hook) => {
                let events = recorded_events(tenant, rows, recorded_at)?;
                hook.run(tx, tenant, &events).await?
            }
            None => tx,
        };
        if let Some(gate) = &self.gate {
            gate(tenant.clone()).await;
        }
        Ok(tx)
    }

    /// Commits `tx` and tells the hook.
    pub(crate) async fn commit(&self, tx: AppendTx, tenant: &Uai) -> Result<(), StoreError> {
        tx.commit().await?;
        if let Some(hook) = &self.before_commit {
            hook.committed(tenant);
        }
        Ok(())
    }
}

/// The events of `rows` as readers will see them once committed.
fn recorded_events(
    tenant: &Uai,
    rows: &[EventRow],
    recorded_at: DateTime<Utc>,
) -> Result<Vec<RecordedEvent>, StoreError> {
    rows.iter()
        .map(|row| {
            let malformed = |e: serde_json::Error| StoreError::Corrupt {
                tenant: tenant.clone(),
                position: row.position,
                reason: format!("an event being written does not read back: {e}"),
            };
            Ok(RecordedEvent {
                tenant: tenant.clone(),
                position: row.position,
                stream: row.stream.clone(),
                stream_version: row.stream_version,
                event_type: row.event_type.clone(),
                event_version: row.event_version,
                payload: serde_json::from_str(&row.payload).map_err(malformed)?,
                metadata: metadata_from_value(
                    serde_json::from_str(&row.metadata).map_err(malformed)?,
                    tenant,
                    row.position,
                )?,
                recorded_at,
                hash: row.hash,
            })
        })
        .collect()
}

/// The events of `tenant`'s log with a position in `(after, before)`, read in `tx`: a
/// hook that is behind catches up with what it missed before the batch it is given.
pub async fn read_log_in(
    tx: &mut AppendTx,
    tenant: &Uai,
    after: Position,
    before: Position,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    match tx {
        AppendTx::Postgres(tx) => {
            crate::postgres::read_range(&mut **tx, tenant, after, before, limit).await
        }
        AppendTx::Sqlite(tx) => {
            crate::sqlite::read_range(&mut **tx, tenant, after, before, limit).await
        }
    }
}
