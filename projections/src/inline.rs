//! Inline projections: read models updated in the append transaction itself, so that what
//! a command wrote is in them when the command is answered (a teacher's roll call shows
//! in the register the next query reads). They are the same projections as the
//! asynchronous ones, with the same checkpoint: the append holds the checkpoint row's
//! lock, so an asynchronous projector working the same projection (catching up after a
//! rebuild, say) and the appends take turns and never apply an event twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use carnet_domain::Uai;
use carnet_store::{read_log_in, AppendTx, BeforeCommit, RecordedEvent, StoreError};

use crate::checkpoint;
use crate::docs::{Docs, Scope};
use crate::error::ProjectionError;
use crate::runtime::{Batch, Projection, Warm, MAX_WARM_DOCS};

/// Events an append catches up with when its projection is behind (e.g. inline was just
/// turned on). Further behind, the append leaves the projection to the asynchronous
/// projector rather than grow one command's transaction without bound.
const MAX_CATCH_UP: i64 = 2_000;

/// The [`BeforeCommit`] hook applying `projections` in each append transaction.
pub struct Inline {
    projections: Vec<Arc<dyn Projection>>,
    /// Documents kept from the last committed append, by establishment and projection
    /// (see [`Warm`]), and those of the append not known to have committed yet.
    warm: Mutex<HashMap<(Uai, &'static str), Warm>>,
    pending: Mutex<HashMap<(Uai, &'static str), Warm>>,
}

impl std::fmt::Debug for Inline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inline")
            .field("projections", &self.names())
            .finish()
    }
}

impl Inline {
    pub fn new(projections: Vec<Arc<dyn Projection>>) -> Self {
        Inline {
            projections,
            warm: Mutex::default(),
            pending: Mutex::default(),
        }
    }

    /// The documents kept for `projection` of `tenant`, forgetting any of an append that
    /// did not commit.
    fn take_warm(&self, tenant: &Uai, projection: &'static str) -> Option<Warm> {
        let key = (tenant.clone(), projection);
        lock(&self.pending).remove(&key);
        lock(&self.warm).remove(&key)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.projections.iter().map(|p| p.name()).collect()
    }

    /// Applies `events` (and any before them the projection missed) to `projection`'s active
    /// generation, moving its checkpoint, in `tx`.
    async fn apply(
        &self,
        projection: &dyn Projection,
        mut tx: AppendTx,
        tenant: &Uai,
        events: &[RecordedEvent],
    ) -> Result<AppendTx, ProjectionError> {
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return Ok(tx);
        };
        let name = projection.name();
        let mut checkpoint = checkpoint::lock_active(&mut tx, tenant.as_str(), name).await?;
        if checkpoint.is_none() {
            checkpoint::create_first(&mut tx, tenant.as_str(), name).await?;
            checkpoint = checkpoint::lock_active(&mut tx, tenant.as_str(), name).await?;
        }
        let Some((generation, position, stopped)) = checkpoint else {
            // A rebuild is switching generations: its projector catches up after the switch.
            return Ok(tx);
        };
        let behind = first.position - 1 - position;
        if stopped || position >= last.position || behind > MAX_CATCH_UP {
            return Ok(tx);
        }
        let missed = if behind > 0 {
            read_log_in(&mut tx, tenant, position, first.position, i64::MAX).await?
        } else {
            Vec::new()
        };
        let scope = Scope {
            tenant: tenant.to_string(),
            projection: name.to_string(),
            generation,
        };
        let docs = match self.take_warm(tenant, name) {
            Some(warm) => warm.at(&scope, position),
            None => Docs::new(scope.clone(), false),
        };
        let mut batch = Batch { tx, docs };
        let todo: Vec<&RecordedEvent> = missed
            .iter()
            .chain(events)
            .filter(|e| e.position > position && projection.wants(&e.stream.stream_type))
            .collect();
        let reads = todo.iter().flat_map(|e| projection.reads(e)).collect();
        batch.docs.prefetch(&mut batch.tx, reads).await?;
        for event in todo {
            match projection.apply(event, &mut batch).await {
                Ok(()) => {}
                // An event this projection cannot apply must not refuse the command: the
                // projection stays where it was, and the asynchronous projector stops at
                // that event and records why, for the health check.
                Err(
                    error @ (ProjectionError::Apply { .. } | ProjectionError::BadDocument { .. }),
                ) => {
                    tracing::error!(projection = name, position = event.position, %error, "inline projection left behind");
                    return Ok(batch.tx);
                }
                Err(other) => return Err(other),
            }
        }
        let Batch { mut tx, mut docs } = batch;
        let written = docs.flush(&mut tx).await?;
        checkpoint::advance(
            &mut tx,
            &scope,
            last.position,
            last.recorded_at.timestamp_micros(),
            written > 0,
        )
        .await?;
        if docs.held() <= MAX_WARM_DOCS {
            let warm = Warm {
                position: last.position,
                docs,
            };
            lock(&self.pending).insert((tenant.clone(), name), warm);
        }
        Ok(tx)
    }
}

#[async_trait]
impl BeforeCommit for Inline {
    async fn run(
        &self,
        mut tx: AppendTx,
        tenant: &Uai,
        events: &[RecordedEvent],
    ) -> Result<AppendTx, StoreError> {
        for projection in &self.projections {
            tx = self
                .apply(projection.as_ref(), tx, tenant, events)
                .await
                .map_err(|error| match error {
                    ProjectionError::Database(e) => StoreError::Database(e),
                    ProjectionError::Store(e) => e,
                    other => StoreError::Config(other.to_string()),
                })?;
        }
        Ok(tx)
    }

    fn committed(&self, tenant: &Uai) {
        let mut pending = lock(&self.pending);
        let done: Vec<_> = pending
            .keys()
            .filter(|(t, _)| t == tenant)
            .cloned()
            .collect();
        let mut warm = lock(&self.warm);
        for key in done {
            if let Some(docs) = pending.remove(&key) {
                warm.insert(key, docs);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
