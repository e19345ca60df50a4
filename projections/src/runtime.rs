//! The projector runtime: follows one establishment's log in position order and applies
//! each event to a projection's documents, writing the documents and the checkpoint in
//! one transaction.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use carnet_domain::Uai;
use carnet_store::{read_log_in, EventStore, Pool, RecordedEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::checkpoint::{self, Claim};
use crate::docs::{Docs, Scope, Tx};
use crate::error::ProjectionError;

/// A read model: a fold of the log into documents.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Its name in the checkpoint table; part of its contract with readers.
    fn name(&self) -> &'static str;

    /// Whether events of this stream type matter to it (others are passed over, and
    /// still move the checkpoint on).
    fn wants(&self, stream_type: &str) -> bool;

    /// Applies one event. An `Err` stops the projection at this event, with the reason.
    async fn apply(&self, event: &RecordedEvent, batch: &mut Batch) -> Result<(), ProjectionError>;

    /// The documents `event` will read, when the projection can tell without applying
    /// it: a batch loads them all in one query first. Only a hint; unnamed documents are
    /// loaded when first read.
    fn reads(&self, _event: &RecordedEvent) -> Vec<String> {
        Vec::new()
    }
}

/// The documents of a batch, in its transaction.
#[derive(Debug)]
pub struct Batch {
    pub(crate) tx: Tx,
    pub(crate) docs: Docs,
}

impl Batch {
    pub async fn get<T: DeserializeOwned>(
        &mut self,
        key: &str,
    ) -> Result<Option<T>, ProjectionError> {
        self.docs.get(&mut self.tx, key).await
    }

    pub async fn get_or_default<T: DeserializeOwned + Default>(
        &mut self,
        key: &str,
    ) -> Result<T, ProjectionError> {
        self.docs.get_or_default(&mut self.tx, key).await
    }

    pub fn put<T: Serialize>(&mut self, key: &str, doc: &T) -> Result<(), ProjectionError> {
        self.docs.put(key, doc)
    }

    /// The document `key` as a value to change in place, written back at the batch's end.
    pub async fn typed_mut<T>(&mut self, key: &str) -> Result<&mut T, ProjectionError>
    where
        T: DeserializeOwned + Serialize + Default + Send + Sync + 'static,
    {
        self.docs.typed_mut(&mut self.tx, key).await
    }

    pub fn delete(&mut self, key: &str) {
        self.docs.delete(key)
    }
}

/// Decodes an event's payload into the domain event it was written from.
pub fn decode<T: DeserializeOwned>(event: &RecordedEvent) -> Result<T, ProjectionError> {
    let payload = event
        .current_payload()
        .map_err(|e| ProjectionError::Apply {
            projection: String::new(),
            position: event.position,
            event_type: event.event_type.clone(),
            reason: e.to_string(),
        })?;
    serde_json::from_value(payload).map_err(|e| ProjectionError::Apply {
        projection: String::new(),
        position: event.position,
        event_type: event.event_type.clone(),
        reason: format!("payload not understood: {e}"),
    })
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Applied {
        events: usize,
        position: i64,
    },
    CaughtUp {
        position: i64,
    },
    /// Another instance holds the lease.
    Leased,
}

/// How long a projector's claim on a projection of an establishment lasts without being
/// renewed (each batch renews it); another instance takes over once it runs out.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(15);

/// Events after which a catch-up refreshes the planner's statistics of the documents.
const GREW: usize = 10_000;

/// Documents a projector keeps warm beyond this are dropped, to bound its memory.
pub(crate) const MAX_WARM_DOCS: usize = 100_000;

/// The documents a projector keeps in memory from one batch to the next. They are valid
/// while the checkpoint stands at `position`: whoever writes a generation's documents
/// moves its checkpoint in the same transaction, so an unmoved checkpoint means nobody
/// else wrote them.
#[derive(Debug)]
pub(crate) struct Warm {
    pub(crate) position: i64,
    pub(crate) docs: Docs,
}

impl Warm {
    pub(crate) fn cold(scope: Scope) -> Self {
        Warm {
            position: -1,
            docs: Docs::new(scope, false),
        }
    }

    /// These documents if they are still what the database holds at `position`, or an
    /// empty cache.
    pub(crate) fn at(self, scope: &Scope, position: i64) -> Docs {
        if self.position == position && self.docs.scope() == scope {
            self.docs
        } else {
            Docs::new(scope.clone(), false)
        }
    }
}

/// Works one projection of one establishment.
pub struct Projector {
    store: EventStore,
    pool: Pool,
    tenant: Uai,
    projection: Arc<dyn Projection>,
    owner: String,
    batch_size: i64,
    lease: Duration,
    warm: tokio::sync::Mutex<Option<Warm>>,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector")
            .field("projection", &self.projection.name())
            .field("tenant", &self.tenant)
            .field("owner", &self.owner)
            .finish()
    }
}

impl Projector {
    pub fn new(store: EventStore, tenant: Uai, projection: Arc<dyn Projection>) -> Self {
        Projector {
            pool: store.backend().pool(),
            store,
            tenant,
            projection,
            owner: uuid::Uuid::new_v4().to_string(),
            batch_size: 500,
            lease: DEFAULT_LEASE,
            warm: tokio::sync::Mutex::new(None),
        }
    }

    /// Names this instance. A restarted instance with the same name resumes its leases
    /// at once instead of waiting for them to run out (e.g. the host or pod name).
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }

    pub fn with_batch_size(mut self, events: i64) -> Self {
        self.batch_size = events.max(1);
        self
    }

    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(100));
        self
    }

    pub fn name(&self) -> &'static str {
        self.projection.name()
    }

    pub fn tenant(&self) -> &Uai {
        &self.tenant
    }

    async fn scope(&self) -> Result<Scope, ProjectionError> {
        let generation =
            checkpoint::ensure(&self.pool, self.tenant.as_str(), self.projection.name()).await?;
        Ok(Scope {
            tenant: self.tenant.to_string(),
            projection: self.projection.name().to_string(),
            generation,
        })
    }

    /// One batch on the active generation.
    #[tracing::instrument(skip_all, fields(projection = self.projection.name(), tenant = %self.tenant))]
    pub async fn step(&self) -> Result<Step, ProjectionError> {
        let scope = self.scope().await?;
        let mut slot = self.warm.lock().await;
        let mut warm = slot.take().unwrap_or_else(|| Warm::cold(scope.clone()));
        let step = run_batch(self, &scope, &mut warm, self.batch_size).await?;
        if warm.docs.held() <= MAX_WARM_DOCS {
            *slot = Some(warm);
        }
        Ok(step)
    }

    /// Steps until the log's end (as it was when the last batch read it).
    pub async fn catch_up(&self) -> Result<Step, ProjectionError> {
        let mut applied = 0;
        loop {
            match self.step().await? {
                Step::Applied { events, .. } => applied += events,
                other => {
                    if applied >= GREW {
                        checkpoint::refresh_statistics(&self.pool).await?;
                    }
                    return Ok(other);
                }
            }
        }
    }

    /// Follows the log until `shutdown` resolves: catches up whenever the store says
    /// this establishment's log moved (from this process or another), and once the lease
    /// of another instance may have run out. A projection that meets an event it cannot
    /// apply stops and returns the error. (A deployment runs a [`crate::Scheduler`]
    /// instead, which works any number of establishments with a few tasks.)
    pub async fn run(
        &self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), ProjectionError> {
        let mut commits = self.store.subscribe().await?;
        tokio::pin!(shutdown);
        loop {
            let retry = match self.catch_up().await {
                Ok(Step::Leased) => Some(self.lease),
                Ok(_) => None,
                // The projection cannot go on: stop, and say why.
                Err(e @ (ProjectionError::Apply { .. } | ProjectionError::Stopped { .. })) => {
                    return Err(e)
                }
                // The database went away or was busy: the batch rolled back, and the next
                // attempt starts again from the checkpoint.
                Err(error) => {
                    tracing::warn!(projection = self.projection.name(), %error, "projector retrying");
                    Some(Duration::from_secs(1))
                }
            };
            let retry = async {
                match retry {
                    Some(after) => tokio::time::sleep(after).await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(retry);
            loop {
                tokio::select! {
                    _ = &mut shutdown => {
                        if let Ok(scope) = self.scope().await {
                            checkpoint::release(&self.pool, &scope, &self.owner).await?;
                        }
                        return Ok(());
                    }
                    commit = commits.recv() => match commit {
                        Ok(c) if c.tenant == self.tenant => break,
                        Ok(_) => {}
                        // Some wake-ups were missed: ours may be among them.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                        // The store is gone: nothing will move any more.
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
                    },
                    _ = &mut retry => break,
                }
            }
        }
    }
}

async fn run_batch(
    projector: &Projector,
    scope: &Scope,
    warm: &mut Warm,
    limit: i64,
) -> Result<Step, ProjectionError> {
    let _turn = checkpoint::write_turn(&projector.pool).await;
    let mut tx = checkpoint::begin(&projector.pool).await?;
    let lease_us = i64::try_from(projector.lease.as_micros()).unwrap_or(i64::MAX);
    let Some(Claim { position, failure }) =
        checkpoint::claim(&mut tx, scope, &projector.owner, lease_us).await?
    else {
        return Ok(Step::Leased);
    };
    if let Some((position, failure)) = failure {
        return Err(ProjectionError::Stopped {
            projection: scope.projection.clone(),
            position,
            failure,
        });
    }
    // Read in the batch's transaction: a task holding a connection never waits for a
    // second one, which a small pool shared by many projectors could not give.
    let events = read_log_in(&mut tx, &projector.tenant, position, i64::MAX, limit).await?;
    let Some(last) = events.last() else {
        tx.commit().await?;
        return Ok(Step::CaughtUp { position });
    };
    let (last_position, last_recorded) = (last.position, last.recorded_at.timestamp_micros());
    let cold = Warm::cold(scope.clone());
    let mut batch = Batch {
        tx,
        docs: std::mem::replace(warm, cold).at(scope, position),
    };
    let reads = events
        .iter()
        .filter(|e| projector.projection.wants(&e.stream.stream_type))
        .flat_map(|e| projector.projection.reads(e))
        .collect();
    batch.docs.prefetch(&mut batch.tx, reads).await?;
    for event in &events {
        if !projector.projection.wants(&event.stream.stream_type) {
            continue;
        }
        if let Err(error) = projector.projection.apply(event, &mut batch).await {
            let reason = match error {
                ProjectionError::Apply { reason, .. } => reason,
                other => other.to_string(),
            };
            drop(batch);
            let failure = format!("{} ({}): {reason}", event.position, event.event_type);
            checkpoint::fail(&projector.pool, scope, event.position, &failure).await?;
            tracing::error!(position = event.position, %failure, "projection stopped");
            return Err(ProjectionError::Apply {
                projection: scope.projection.clone(),
                position: event.position,
                event_type: event.event_type.clone(),
                reason,
            });
        }
    }
    let Batch {
        mut tx,
        docs: mut used,
    } = batch;
    let written = used.flush(&mut tx).await?;
    checkpoint::advance(&mut tx, scope, last_position, last_recorded, written > 0).await?;
    tx.commit().await?;
    *warm = Warm {
        position: last_position,
        docs: used,
    };
    Ok(Step::Applied {
        events: events.len(),
        position: last_position,
    })
}

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq)]
pub struct Rebuilt {
    pub generation: i32,
    pub events: i64,
    pub seconds: f64,
}

/// Rebuilds a projection from the whole log into a new generation while the current one
/// keeps serving, then makes the new one active. `progress(position, head)` is called
/// after each batch.
pub async fn rebuild(
    store: &EventStore,
    tenant: &Uai,
    projection: Arc<dyn Projection>,
    mut progress: impl FnMut(i64, i64),
) -> Result<Rebuilt, ProjectionError> {
    let started = Instant::now();
    let projector = Projector::new(store.clone(), tenant.clone(), projection).with_batch_size(5000);
    let current = projector.scope().await?;
    let generation = checkpoint::create_generation(&projector.pool, &current).await?;
    let scope = Scope {
        generation,
        ..current.clone()
    };
    // The new generation starts empty and only this rebuild writes it: its documents
    // stay in memory from batch to batch, and a key never seen does not exist.
    let mut warm = Warm {
        position: 0,
        docs: Docs::new(scope.clone(), true),
    };
    let mut events = 0;
    // The head as the rebuild starts, for the progress line; the rebuild itself goes on
    // to whatever is committed meanwhile.
    let head = checkpoint::head(&projector.pool, tenant.as_str()).await?;
    loop {
        match run_batch(&projector, &scope, &mut warm, projector.batch_size).await? {
            Step::Applied {
                events: n,
                position,
            } => {
                events += n as i64;
                progress(position, head.max(position));
            }
            Step::CaughtUp { .. } => break,
            Step::Leased => {
                return Err(ProjectionError::Stopped {
                    projection: scope.projection.clone(),
                    position: 0,
                    failure: "another instance took the generation being rebuilt".into(),
                })
            }
        }
    }
    checkpoint::switch(&projector.pool, &current, generation).await?;
    // Appends that ran inline meanwhile wrote to the generation switched out: catch up
    // with them now rather than at the next append.
    projector.catch_up().await?;
    checkpoint::refresh_statistics(&projector.pool).await?;
    checkpoint::release(&projector.pool, &scope, &projector.owner).await?;
    Ok(Rebuilt {
        generation,
        events,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A projection's health: where it stands, how far behind the log, whether it stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub projection: String,
    pub generation: i32,
    pub position: i64,
    pub head: i64,
    pub lag_events: i64,
    /// Age of the oldest event not applied yet (0 when caught up).
    pub lag_seconds: f64,
    pub failure: Option<String>,
}

pub async fn status(
    store: &EventStore,
    tenant: &Uai,
    projection: &str,
) -> Result<Option<Status>, ProjectionError> {
    let pool = store.backend().pool();
    let Some(row) = checkpoint::read_active(&pool, tenant.as_str(), projection).await? else {
        return Ok(None);
    };
    let head = checkpoint::head(&pool, tenant.as_str()).await?;
    let lag_seconds = match store.read_log(tenant, row.position, 1).await?.first() {
        Some(next) => (now_us() - next.recorded_at.timestamp_micros()).max(0) as f64 / 1e6,
        None => 0.0,
    };
    Ok(Some(Status {
        projection: projection.to_string(),
        generation: row.generation,
        position: row.position,
        head,
        lag_events: (head - row.position).max(0),
        lag_seconds,
        failure: row.failure.map(|(_, f)| f),
    }))
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
