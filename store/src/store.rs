//! [`EventStore`]: the handle the rest of Carnet holds. It validates requests, routes
//! command appends through the establishment's group-commit writer, runs bulk appends as
//! one all-or-nothing transaction, and fans out commit notifications.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use carnet_domain::Uai;
use tokio::sync::{broadcast, oneshot, OnceCell};

use crate::postgres::PoolSettings;
use crate::wakeups::{WakeupOptions, Wakeups};
use uuid::Uuid;

use crate::backend::{Backend, BackendKind, CommitGate};
use crate::error::StoreError;
use crate::hook::{BeforeCommit, Hooks};
use crate::keyring::Keyring;
use crate::model::{
    AppendOutcome, AppendRequest, Committed, Position, RecordedEvent, Snapshot, StreamRef,
    TenantInfo,
};
use crate::plan::KnownCommand;
use crate::postgres::PgBackend;
use crate::sqlite::SqliteBackend;
use crate::validate::{check_request, check_stream, Limits};
use crate::vault::Vault;
use crate::writer::{self, Job};

/// How to open a store.
#[derive(Clone, Default)]
pub struct StoreOptions {
    pub limits: Limits,
    /// The Postgres pool (SQLite uses its own fixed pool).
    pub pool: PoolSettings,
    /// How readers are woken when the log moves.
    pub wakeups: WakeupOptions,
    /// See [`CommitGate`]: fault-injection tests only.
    pub commit_gate: Option<CommitGate>,
    /// See [`BeforeCommit`]: the read models kept in the append transaction.
    pub before_commit: Option<Arc<dyn BeforeCommit>>,
    /// The keyring that wraps the keys of personal data (see [`Keyring`]). When absent:
    /// the file `carnet.keys` beside the embedded database (made the first time), a new
    /// one for an in-memory database; a Postgres store must be given the deployment's.
    pub keyring: Option<Arc<Keyring>>,
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("limits", &self.limits)
            .field("pool", &self.pool)
            .field("wakeups", &self.wakeups)
            .field("commit_gate", &self.commit_gate.is_some())
            .field("before_commit", &self.before_commit.is_some())
            .field("keyring", &self.keyring)
            .finish()
    }
}

/// Where the log lives: a `postgres://` or `sqlite:` URL, or else the embedded SQLite file
/// `carnet.sqlite` in the data directory.
#[derive(Clone, Debug)]
pub enum Location {
    Url(String),
    DataDir(PathBuf),
}

impl Location {
    /// `DATABASE_URL` when given, the data directory otherwise.
    pub fn from_env(database_url: Option<String>, data_dir: PathBuf) -> Self {
        match database_url.filter(|u| !u.trim().is_empty()) {
            Some(url) => Location::Url(url),
            None => Location::DataDir(data_dir),
        }
    }
}

#[derive(Clone, Debug)]
pub struct EventStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    backend: Arc<dyn Backend>,
    limits: Limits,
    writers: Mutex<HashMap<Uai, tokio::sync::mpsc::Sender<Job>>>,
    commits: Arc<Wakeups>,
    watching: OnceCell<()>,
    vault: Vault,
}

impl EventStore {
    /// Opens the store at `location` and applies pending migrations.
    pub async fn open(location: &Location, options: StoreOptions) -> Result<Self, StoreError> {
        let hooks = Hooks {
            gate: options.commit_gate.clone(),
            before_commit: options.before_commit.clone(),
        };
        let backend: Arc<dyn Backend> = match location {
            Location::Url(url)
                if url.starts_with("postgres://") || url.starts_with("postgresql://") =>
            {
                Arc::new(PgBackend::connect(url, options.pool, hooks.clone()).await?)
            }
            Location::Url(url) if url.starts_with("sqlite:") => {
                Arc::new(SqliteBackend::connect(url, hooks.clone()).await?)
            }
            Location::Url(url) => {
                return Err(StoreError::Config(format!(
                    "DATABASE_URL must start with postgres://, postgresql:// or sqlite:, not `{}`",
                    url.split(':').next().unwrap_or_default()
                )))
            }
            Location::DataDir(dir) => {
                Arc::new(SqliteBackend::open(&Self::sqlite_file(dir), hooks.clone()).await?)
            }
        };
        let keyring = match options.keyring {
            Some(keyring) => keyring,
            None => Arc::new(Self::default_keyring(location)?),
        };
        let store = Self::with_wakeups(backend, options.limits, options.wakeups, keyring);
        store.migrate().await?;
        store.inner.vault.take_keyring().await?;
        Ok(store)
    }

    /// The keyring of a store opened without one (see [`StoreOptions::keyring`]).
    fn default_keyring(location: &Location) -> Result<Keyring, StoreError> {
        match location {
            Location::DataDir(dir) => Keyring::load_or_create(&dir.join(crate::keyring::FILE_NAME)),
            Location::Url(url) if url.starts_with("sqlite:") => {
                let path = url
                    .trim_start_matches("sqlite:")
                    .trim_start_matches("//")
                    .split('?')
                    .next()
                    .unwrap_or_default();
                if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
                    Ok(Keyring::generate())
                } else {
                    Keyring::load_or_create(Path::new(&format!("{path}.keys")))
                }
            }
            Location::Url(_) => Err(StoreError::Config(
                "a Postgres store needs the deployment's keyring, which wraps the keys of personal data: \
                 give it with CARNET_KEYS_FILE (a file of Carnet's account only) or CARNET_KEYS"
                    .to_string(),
            )),
        }
    }

    /// The embedded database file of a data directory.
    pub fn sqlite_file(data_dir: &Path) -> PathBuf {
        data_dir.join("carnet.sqlite")
    }

    fn with_wakeups(
        backend: Arc<dyn Backend>,
        limits: Limits,
        wakeups: WakeupOptions,
        keyring: Arc<Keyring>,
    ) -> Self {
        EventStore {
            inner: Arc::new(Inner {
                vault: Vault::new(backend.pool(), keyring),
                backend,
                limits,
                writers: Mutex::new(HashMap::new()),
                commits: Wakeups::new(wakeups),
                watching: OnceCell::new(),
            }),
        }
    }

    /// The keys of personal data in this database.
    pub fn vault(&self) -> &Vault {
        &self.inner.vault
    }

    /// The keyed fingerprint of a command to `stream` (see [`Keyring::fingerprint`]).
    pub fn fingerprint(&self, stream: &StreamRef, command: &serde_json::Value) -> [u8; 32] {
        self.inner.vault.keyring().fingerprint(stream, command)
    }

    /// The keyed digest of `bytes` for `purpose` (see [`Keyring::keyed_digest`]).
    pub fn keyed_digest(&self, purpose: &str, bytes: &[u8]) -> [u8; 32] {
        self.inner.vault.keyring().keyed_digest(purpose, bytes)
    }

    /// Seals the personal values of `requests`' events (see [`Vault`]).
    async fn seal(&self, tenant: &Uai, requests: &mut [AppendRequest]) -> Result<(), StoreError> {
        let mut payloads: Vec<&mut serde_json::Value> = requests
            .iter_mut()
            .flat_map(|r| r.events.iter_mut().map(|e| &mut e.payload))
            .collect();
        self.inner.vault.seal(tenant, &mut payloads).await
    }

    pub fn kind(&self) -> BackendKind {
        self.inner.backend.kind()
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    #[tracing::instrument(skip_all, fields(backend = %self.kind()), err)]
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.inner.backend.migrate().await
    }

    pub async fn create_tenant(
        &self,
        tenant: &Uai,
        name: &str,
        time_zone: &str,
    ) -> Result<(), StoreError> {
        if name.trim().is_empty() {
            return Err(StoreError::InvalidInput {
                field: "name",
                reason: "an establishment needs a name".into(),
            });
        }
        self.inner
            .backend
            .create_tenant(tenant, name.trim(), time_zone)
            .await
    }

    pub async fn tenants(&self) -> Result<Vec<TenantInfo>, StoreError> {
        self.inner.backend.tenants().await
    }

    /// Appends one request (a command's events), committed together with whatever else
    /// this establishment is appending at the same moment.
    #[tracing::instrument(skip_all, fields(%tenant, stream = %request.stream, events = request.events.len()), err(level = "debug"))]
    pub async fn append(
        &self,
        tenant: &Uai,
        mut request: AppendRequest,
    ) -> Result<AppendOutcome, StoreError> {
        self.seal(tenant, std::slice::from_mut(&mut request))
            .await?;
        check_request(&request, &self.inner.limits)?;
        let (reply, answer) = oneshot::channel();
        let mut job = Job { request, reply };
        // A writer whose task ended (its runtime stopped) is replaced once.
        for _ in 0..2 {
            let sender = self.writer(tenant);
            match sender.send(job).await {
                Ok(()) => {
                    return answer
                        .await
                        .map_err(|_| StoreError::WriterStopped(tenant.clone()))?
                }
                Err(returned) => {
                    job = returned.0;
                    self.forget_writer(tenant);
                }
            }
        }
        Err(StoreError::WriterStopped(tenant.clone()))
    }

    /// Appends all `requests` in one transaction, or nothing: an import. Every refused
    /// request is listed in [`StoreError::BulkRejected`].
    #[tracing::instrument(skip_all, fields(%tenant, requests = requests.len()), err(level = "debug"))]
    pub async fn append_bulk(
        &self,
        tenant: &Uai,
        mut requests: Vec<AppendRequest>,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        if requests.is_empty() {
            return Err(StoreError::EmptyBatch);
        }
        self.seal(tenant, &mut requests).await?;
        let refusals: Vec<(usize, StoreError)> = requests
            .iter()
            .enumerate()
            .filter_map(|(i, r)| check_request(r, &self.inner.limits).err().map(|e| (i, e)))
            .collect();
        if !refusals.is_empty() {
            return Err(StoreError::BulkRejected { errors: refusals });
        }
        let outcomes = self
            .inner
            .backend
            .append_batch(tenant, &requests, true)
            .await?;
        let outcomes: Vec<AppendOutcome> = outcomes.into_iter().collect::<Result<_, _>>()?;
        if let Some(head) = outcomes.iter().map(|o| o.last_position).max() {
            self.inner.commits.committed(Committed {
                tenant: tenant.clone(),
                head,
            });
        }
        Ok(outcomes)
    }

    pub async fn read_stream(
        &self,
        tenant: &Uai,
        stream: &StreamRef,
        after_version: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        check_stream(stream)?;
        self.inner
            .backend
            .read_stream(tenant, stream, after_version)
            .await
    }

    /// Every event of the streams of `stream_type`, by stream id then version.
    pub async fn read_stream_type(
        &self,
        tenant: &Uai,
        stream_type: &str,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner
            .backend
            .read_stream_type(tenant, stream_type)
            .await
    }

    /// Reads the establishment's log after `after`, at most `limit` events, in order.
    pub async fn read_log(
        &self,
        tenant: &Uai,
        after: Position,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner
            .backend
            .read_log(tenant, after, limit.clamp(1, 100_000))
            .await
    }

    pub async fn find_command(
        &self,
        tenant: &Uai,
        id: Uuid,
    ) -> Result<Option<KnownCommand>, StoreError> {
        self.inner.backend.find_command(tenant, id).await
    }

    pub async fn load_snapshot(
        &self,
        tenant: &Uai,
        stream: &StreamRef,
    ) -> Result<Option<Snapshot>, StoreError> {
        self.inner.backend.load_snapshot(tenant, stream).await
    }

    /// The latest snapshot of a stream and the events after it.
    pub async fn load_latest(
        &self,
        tenant: &Uai,
        stream: &StreamRef,
    ) -> Result<(Option<Snapshot>, Vec<RecordedEvent>), StoreError> {
        check_stream(stream)?;
        self.inner.backend.load_latest(tenant, stream).await
    }

    pub async fn save_snapshot(
        &self,
        tenant: &Uai,
        stream: &StreamRef,
        snapshot: &Snapshot,
    ) -> Result<(), StoreError> {
        // A state folded from a command's own events holds its personal values in clear.
        let mut sealed = snapshot.clone();
        self.inner
            .vault
            .seal(tenant, &mut [&mut sealed.state])
            .await?;
        self.inner
            .backend
            .save_snapshot(tenant, stream, &sealed)
            .await
    }

    /// Wake-ups for new commits, from this process at once and from other processes
    /// writing to the same database (a coalesced NOTIFY sent after their commits on
    /// Postgres, and a slow poll of the heads on both backends; see `wakeups`). A
    /// receiver that lags must assume that any establishment may have moved.
    pub async fn subscribe(&self) -> Result<broadcast::Receiver<Committed>, StoreError> {
        let receiver = self.inner.commits.subscribe();
        self.inner
            .watching
            .get_or_try_init(|| self.inner.commits.start(self.inner.backend.clone()))
            .await?;
        Ok(receiver)
    }

    fn writer(&self, tenant: &Uai) -> tokio::sync::mpsc::Sender<Job> {
        let mut writers = self
            .inner
            .writers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        writers
            .entry(tenant.clone())
            .or_insert_with(|| {
                writer::spawn(
                    self.inner.backend.clone(),
                    tenant.clone(),
                    self.inner.commits.clone(),
                )
            })
            .clone()
    }

    fn forget_writer(&self, tenant: &Uai) {
        let mut writers = self
            .inner
            .writers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        writers.remove(tenant);
    }
}
