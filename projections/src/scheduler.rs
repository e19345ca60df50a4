//! The projection scheduler: keeps every projection of every establishment up to date
//! with a few worker tasks, whatever the number of establishments.
//!
//! Cost follows work. An establishment whose log does not move costs nothing: no task,
//! no timer, no query. A wake-up names the establishment that moved (see the store's
//! `wakeups`); its establishment is queued once however many commits arrive meanwhile; a
//! worker takes it, reads where its projections stand in one query (the inline ones are
//! usually already there, moved by the append itself), and works those behind, one batch
//! transaction at a time. A batch holds one connection and never asks for a second, so
//! any pool size works, only more slowly.
//!
//! Several processes may run schedulers on the same database: leases on the checkpoint
//! rows (stamped by the database's clock) keep two from applying the same events, and
//! `--shard K/N` splits the establishments between projector processes by a hash of
//! their UAI, so that they do not even compete.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use carnet_domain::Uai;
use carnet_store::EventStore;
use lru::LruCache;
use tokio::sync::{broadcast, watch, Notify};

use crate::checkpoint::{self, Standing};
use crate::error::ProjectionError;
use crate::runtime::{Projection, Projector, Step, DEFAULT_LEASE};

/// Batches a worker applies to one establishment before letting the others have a turn.
const BATCHES_PER_TURN: usize = 8;
/// A projection that stopped at an event it cannot apply is looked at again this often
/// (a rebuild may have mended it) when nothing else wakes its establishment.
const STOPPED_RECHECK: Duration = Duration::from_secs(60);
/// See [`SchedulerOptions::coalesce`].
pub const DEFAULT_COALESCE: Duration = Duration::from_millis(100);
/// Longest wait before a unit that failed on a database error is tried again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Which establishments a projector process works: those whose UAI hashes to `index`
/// among `count` (written `K/N` with K from 1 to N).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Every establishment.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn owns(&self, tenant: &Uai) -> bool {
        self.count <= 1
            || fnv1a(tenant.as_str().as_bytes()) % u64::from(self.count) == u64::from(self.index)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

/// A shard that is not `K/N` with 1 ≤ K ≤ N.
#[derive(Debug, Clone, thiserror::Error)]
#[error("a shard is written K/N with 1 ≤ K ≤ N (e.g. 2/4), not `{0}`")]
pub struct BadShard(pub String);

impl std::str::FromStr for Shard {
    type Err = BadShard;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadShard(text.to_string());
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        if n == 0 || k == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard {
            index: k - 1,
            count: n,
        })
    }
}

/// A stable hash (the same in every process and release), unlike std's `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// How a scheduler works.
#[derive(Clone)]
pub struct SchedulerOptions {
    pub projections: Vec<Arc<dyn Projection>>,
    /// Establishments worked at the same time (each holds at most one connection).
    pub workers: usize,
    /// This instance's name on the leases (a restarted instance of the same name takes
    /// its leases back at once).
    pub owner: String,
    pub lease: Duration,
    /// Events per batch transaction.
    pub batch_size: i64,
    pub shard: Shard,
    /// Shortest time between two turns on one establishment: under load, the commits of
    /// this window are applied by one batch rather than one batch each (each batch is a
    /// transaction of its own). The inline projections do not wait for it.
    pub coalesce: Duration,
    /// Only these establishments (of the shard), when given.
    pub only: Option<std::collections::HashSet<Uai>>,
}

impl SchedulerOptions {
    fn owns(&self, tenant: &Uai) -> bool {
        self.shard.owns(tenant) && self.only.as_ref().is_none_or(|only| only.contains(tenant))
    }
}

impl std::fmt::Debug for SchedulerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerOptions")
            .field(
                "projections",
                &self
                    .projections
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>(),
            )
            .field("workers", &self.workers)
            .field("owner", &self.owner)
            .field("lease", &self.lease)
            .field("batch_size", &self.batch_size)
            .field("shard", &self.shard)
            .field("coalesce", &self.coalesce)
            .field("only", &self.only)
            .finish()
    }
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            projections: crate::all(),
            workers: 4,
            owner: uuid::Uuid::new_v4().to_string(),
            lease: DEFAULT_LEASE,
            batch_size: 500,
            shard: Shard::ALL,
            coalesce: DEFAULT_COALESCE,
            only: None,
        }
    }
}

/// What a scheduler has done since it started, for metrics.
#[derive(Debug, Default)]
pub struct SchedulerStats {
    pub wakeups: AtomicU64,
    pub turns: AtomicU64,
    pub batches: AtomicU64,
    pub events: AtomicU64,
    pub queued: AtomicU64,
}

/// Where the work of one establishment stands.
#[derive(Debug, Default)]
struct Work {
    /// The newest head a wake-up announced.
    head: i64,
    queued: bool,
    running: bool,
    /// A wake-up came while a worker had it: another turn is needed.
    again: bool,
    /// A timer will queue it again (a lease held elsewhere, a database error).
    retrying: bool,
    /// A timer will queue it when the coalescing window of its last turn ends.
    delayed: bool,
    last_turn: Option<std::time::Instant>,
    failures: u32,
}

#[derive(Default)]
struct State {
    tenants: HashMap<Uai, Work>,
    queue: VecDeque<Uai>,
}

struct Shared {
    store: EventStore,
    options: SchedulerOptions,
    state: Mutex<State>,
    work: Notify,
    /// Recently worked projectors, kept for their warm documents.
    projectors: Mutex<LruCache<(Uai, usize), Arc<Projector>>>,
    stats: Arc<SchedulerStats>,
}

/// See the module's documentation.
#[derive(Clone)]
pub struct Scheduler {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

/// What a turn on one establishment ended with.
#[derive(Debug, Default)]
struct Turn {
    /// Work is left (the turn's batch budget ran out).
    more: bool,
    /// Try again after this long (a lease held elsewhere, an error).
    retry: Option<Duration>,
    failed: bool,
}

impl Scheduler {
    pub fn new(store: EventStore, options: SchedulerOptions) -> Self {
        let warm =
            NonZeroUsize::new((options.workers.max(1) * 16).max(64)).unwrap_or(NonZeroUsize::MIN);
        Scheduler {
            shared: Arc::new(Shared {
                store,
                options,
                state: Mutex::new(State::default()),
                work: Notify::new(),
                projectors: Mutex::new(LruCache::new(warm)),
                stats: Arc::default(),
            }),
        }
    }

    pub fn stats(&self) -> Arc<SchedulerStats> {
        self.shared.stats.clone()
    }

    /// Brings every projection of this shard's establishments to the end of their logs as
    /// they are now, with the workers, then returns.
    pub async fn catch_up(&self) -> Result<(), ProjectionError> {
        self.scan().await?;
        let (stop, stopped) = watch::channel(false);
        let workers = self.spawn_workers(stopped, true);
        for worker in workers {
            let _ = worker.await;
        }
        let _ = stop.send(true);
        let failed = self.failed_units().await?;
        match failed.into_iter().next() {
            Some(s) => Err(ProjectionError::Stopped {
                projection: s.projection,
                position: s.position,
                failure: format!("stopped in {}", s.tenant),
            }),
            None => Ok(()),
        }
    }

    /// Follows every establishment of this shard until `shutdown` resolves, then
    /// finishes the batches in flight and gives the leases up.
    pub async fn run(
        &self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), ProjectionError> {
        // Subscribed before the first look: no commit falls between the two.
        let mut commits = self.shared.store.subscribe().await?;
        self.scan().await?;
        let (stop, stopped) = watch::channel(false);
        let workers = self.spawn_workers(stopped, false);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                commit = commits.recv() => match commit {
                    Ok(c) => self.woken(c.tenant, c.head),
                    // Wake-ups were lost: look at every head again (one query).
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if let Err(error) = self.rescan_heads().await {
                            tracing::warn!(%error, "cannot read the heads after lost wake-ups");
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
        }
        let _ = stop.send(true);
        self.shared.work.notify_waiters();
        for worker in workers {
            let _ = worker.await;
        }
        checkpoint::release_all(
            &self.shared.store.backend().pool(),
            &self.shared.options.owner,
        )
        .await
    }

    /// The first look: every head and every checkpoint, two queries; queues the
    /// establishments with something to do.
    async fn scan(&self) -> Result<(), ProjectionError> {
        let pool = self.shared.store.backend().pool();
        let tenants = self.shared.store.tenants().await?;
        let mut standings: HashMap<String, Vec<Standing>> = HashMap::new();
        for s in checkpoint::standings(&pool).await? {
            standings.entry(s.tenant.clone()).or_default().push(s);
        }
        let wanted = self.shared.options.projections.len();
        let mut queued = 0;
        for t in tenants {
            if t.head == 0 || !self.shared.options.owns(&t.tenant) {
                continue;
            }
            let ours = standings.remove(t.tenant.as_str()).unwrap_or_default();
            let behind =
                ours.len() < wanted || ours.iter().any(|s| !s.stopped && s.position < t.head);
            if behind {
                queued += 1;
                self.woken(t.tenant, t.head);
            }
        }
        tracing::info!(queued, shard = %self.shared.options.shard, "projections: establishments to catch up");
        Ok(())
    }

    async fn rescan_heads(&self) -> Result<(), ProjectionError> {
        for t in self.shared.store.tenants().await? {
            self.woken(t.tenant, t.head);
        }
        Ok(())
    }

    /// `tenant`'s log reaches `head`: queue it unless it is queued or being worked.
    pub fn woken(&self, tenant: Uai, head: i64) {
        if head <= 0 || !self.shared.options.owns(&tenant) {
            return;
        }
        self.shared.stats.wakeups.fetch_add(1, Ordering::Relaxed);
        let mut state = lock(&self.shared.state);
        let work = state.tenants.entry(tenant.clone()).or_default();
        work.head = work.head.max(head);
        if work.running {
            work.again = true;
        } else if !work.queued && !work.delayed {
            self.queue(state, tenant);
        }
    }

    /// Queues `tenant` now, or when the coalescing window of its last turn ends.
    fn queue(&self, mut state: std::sync::MutexGuard<'_, State>, tenant: Uai) {
        let window = self.shared.options.coalesce;
        let Some(work) = state.tenants.get_mut(&tenant) else {
            return;
        };
        let wait = work
            .last_turn
            .map_or(Duration::ZERO, |t| window.saturating_sub(t.elapsed()));
        if wait.is_zero() {
            work.queued = true;
            state.queue.push_back(tenant);
            self.shared
                .stats
                .queued
                .store(state.queue.len() as u64, Ordering::Relaxed);
            drop(state);
            self.shared.work.notify_one();
            return;
        }
        work.delayed = true;
        drop(state);
        let scheduler = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let mut state = lock(&scheduler.shared.state);
            if let Some(work) = state.tenants.get_mut(&tenant) {
                work.delayed = false;
                if !work.running && !work.queued {
                    work.last_turn = None;
                    scheduler.queue(state, tenant);
                }
            }
        });
    }

    fn spawn_workers(
        &self,
        stopped: watch::Receiver<bool>,
        until_idle: bool,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..self.shared.options.workers.max(1))
            .map(|_| {
                let scheduler = self.clone();
                let stopped = stopped.clone();
                tokio::spawn(async move { scheduler.work(stopped, until_idle).await })
            })
            .collect()
    }

    /// A worker: takes queued establishments one at a time until stopped (or, when
    /// `until_idle`, until nothing is queued or being worked).
    async fn work(&self, stopped: watch::Receiver<bool>, until_idle: bool) {
        loop {
            if *stopped.borrow() {
                return;
            }
            let next = {
                let mut state = lock(&self.shared.state);
                let next = state.queue.pop_front();
                self.shared
                    .stats
                    .queued
                    .store(state.queue.len() as u64, Ordering::Relaxed);
                match &next {
                    Some(tenant) => {
                        if let Some(work) = state.tenants.get_mut(tenant) {
                            work.queued = false;
                            work.running = true;
                            work.again = false;
                            work.last_turn = Some(std::time::Instant::now());
                        }
                    }
                    None if until_idle
                        && state.tenants.values().all(|w| !w.running && !w.delayed) =>
                    {
                        // Wake the other workers so that they see it too.
                        self.shared.work.notify_waiters();
                        return;
                    }
                    None => {}
                }
                next
            };
            let Some(tenant) = next else {
                let mut stopped = stopped.clone();
                tokio::select! {
                    _ = self.shared.work.notified() => {}
                    _ = stopped.changed() => {}
                    // `until_idle`: the last busy worker may have finished meanwhile.
                    _ = tokio::time::sleep(Duration::from_millis(200)), if until_idle => {}
                }
                continue;
            };
            let turn = self.turn(&tenant).await;
            self.shared.stats.turns.fetch_add(1, Ordering::Relaxed);
            self.finish(tenant, turn, until_idle);
        }
    }

    /// After a turn: queue the establishment again if it has more to do, or set a timer.
    fn finish(&self, tenant: Uai, turn: Turn, until_idle: bool) {
        let mut state = lock(&self.shared.state);
        let Some(work) = state.tenants.get_mut(&tenant) else {
            return;
        };
        work.running = false;
        work.failures = if turn.failed { work.failures + 1 } else { 0 };
        let retry = turn.retry.map(|after| {
            if turn.failed {
                // 1 s, 2 s, 4 s... up to MAX_BACKOFF while the database stays away.
                (after * 2u32.saturating_pow(work.failures.saturating_sub(1).min(5)))
                    .min(MAX_BACKOFF)
            } else {
                after
            }
        });
        // Work left from a long catch-up goes on at once; commits that came during the
        // turn after the coalescing window, even when a projection of the establishment
        // also waits for a lease or a recheck.
        if turn.more {
            work.queued = true;
            state.queue.push_back(tenant);
            drop(state);
            self.shared.work.notify_one();
        } else if work.again {
            self.queue(state, tenant);
        } else if let Some(after) = retry {
            if work.retrying || until_idle {
                return;
            }
            work.retrying = true;
            let head = work.head;
            drop(state);
            let scheduler = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                if let Some(work) = lock(&scheduler.shared.state).tenants.get_mut(&tenant) {
                    work.retrying = false;
                }
                scheduler.woken(tenant, head);
            });
        }
    }

    /// One turn on an establishment: where do its projections stand (one query), then
    /// batches for those behind, up to the turn's budget.
    async fn turn(&self, tenant: &Uai) -> Turn {
        let pool = self.shared.store.backend().pool();
        let head = lock(&self.shared.state)
            .tenants
            .get(tenant)
            .map_or(0, |w| w.head);
        let standings = match checkpoint::standings_of(&pool, tenant.as_str()).await {
            Ok(s) => s,
            Err(error) => {
                tracing::warn!(%tenant, %error, "cannot read the checkpoints; retrying");
                return Turn {
                    retry: Some(Duration::from_secs(1)),
                    failed: true,
                    ..Turn::default()
                };
            }
        };
        let mut turn = Turn::default();
        let mut budget = BATCHES_PER_TURN;
        for (index, projection) in self.shared.options.projections.iter().enumerate() {
            let standing = standings.iter().find(|s| s.projection == projection.name());
            if let Some(s) = standing {
                if s.stopped {
                    // Looked at again later, or at the next commit: a rebuild may mend it.
                    turn.retry.get_or_insert(STOPPED_RECHECK);
                    continue;
                }
                if s.position >= head {
                    continue;
                }
            }
            let projector = self.projector(tenant, index, projection);
            loop {
                if budget == 0 {
                    turn.more = true;
                    return turn;
                }
                budget -= 1;
                self.shared.stats.batches.fetch_add(1, Ordering::Relaxed);
                match projector.step().await {
                    Ok(Step::Applied { events, position }) => {
                        self.shared
                            .stats
                            .events
                            .fetch_add(events as u64, Ordering::Relaxed);
                        if position >= head {
                            break;
                        }
                    }
                    Ok(Step::CaughtUp { .. }) => break,
                    Ok(Step::Leased) => {
                        // Another instance works it; take over if its lease runs out.
                        let lease = self.shared.options.lease;
                        turn.retry = Some(turn.retry.map_or(lease, |r| r.min(lease)));
                        break;
                    }
                    Err(
                        error @ (ProjectionError::Apply { .. } | ProjectionError::Stopped { .. }),
                    ) => {
                        tracing::error!(%tenant, projection = projection.name(), %error, "projection stopped");
                        turn.retry.get_or_insert(STOPPED_RECHECK);
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(%tenant, projection = projection.name(), %error, "projector retrying");
                        turn.retry = Some(Duration::from_secs(1));
                        turn.failed = true;
                        return turn;
                    }
                }
            }
        }
        turn
    }

    fn projector(
        &self,
        tenant: &Uai,
        index: usize,
        projection: &Arc<dyn Projection>,
    ) -> Arc<Projector> {
        let mut projectors = lock(&self.shared.projectors);
        projectors
            .get_or_insert((tenant.clone(), index), || {
                let options = &self.shared.options;
                Arc::new(
                    Projector::new(
                        self.shared.store.clone(),
                        tenant.clone(),
                        projection.clone(),
                    )
                    .with_owner(options.owner.clone())
                    .with_batch_size(options.batch_size)
                    .with_lease(options.lease),
                )
            })
            .clone()
    }

    async fn failed_units(&self) -> Result<Vec<Standing>, ProjectionError> {
        let pool = self.shared.store.backend().pool();
        Ok(checkpoint::standings(&pool)
            .await?
            .into_iter()
            .filter(|s| {
                s.stopped && Uai::parse(&s.tenant).is_ok_and(|t| self.shared.options.owns(&t))
            })
            .collect())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_parsed_and_split_every_establishment_exactly_once() {
        assert_eq!("1/1".parse::<Shard>().ok(), Some(Shard::ALL));
        for bad in ["0/3", "4/3", "1/0", "2", "a/b", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let shards: Vec<Shard> = (1..=4)
            .map(|k| format!("{k}/4").parse().expect("a shard"))
            .collect();
        let mut counts = [0usize; 4];
        for n in 0..1000u32 {
            let uai = Uai::from_number(750_000 + n).expect("a UAI");
            let owners: Vec<usize> = (0..4).filter(|i| shards[*i].owns(&uai)).collect();
            assert_eq!(owners.len(), 1, "{uai}");
            counts[owners[0]] += 1;
        }
        // A fair hash: no shard gets less than a sixth of 1 000.
        assert!(counts.iter().all(|c| *c > 160), "{counts:?}");
        assert_eq!(shards[1].to_string(), "2/4");
    }
}
