//! The PostgreSQL backend: production, and the one every storage test also runs on.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use carnet_domain::Uai;
use chrono::{DateTime, Utc};
use lru::LruCache;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use crate::backend::{
    batch_keys, hash_from_bytes, metadata_from_value, tenant_from_db, Backend, BackendKind,
    BatchOutcome, Heard,
};
use crate::error::StoreError;
use crate::hook::{AppendTx, Hooks};
use crate::model::{
    now_micros, AppendOutcome, AppendRequest, ExpectedVersion, Position, RecordedEvent, Snapshot,
    StreamRef, TenantInfo,
};
use crate::plan::{plan, restored_row, CommandRow, EventRow, KnownCommand, Plan, StreamHead};

/// Rows per INSERT statement: large enough to amortize round trips, small enough to keep
/// the bound arrays reasonable.
const INSERT_CHUNK: usize = 5_000;

/// Stream heads a writer remembers per establishment (about 100 bytes each).
const VIEW_HEADS: usize = 50_000;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The connection pool of a Postgres store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections at most. Every path holds one connection at a time, so a small pool
    /// only queues work, never deadlocks it.
    pub max_connections: u32,
    /// How long a request waits for a connection before it fails.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Clone)]
pub struct PgBackend {
    pool: PgPool,
    options: PgConnectOptions,
    hooks: Hooks,
    views: Arc<Mutex<HashMap<Uai, TenantView>>>,
}

/// What this process last knew of an establishment's log: its next position and the
/// heads of streams it appended to or read. Valid exactly while nobody else appends;
/// `carnet_append_planned` checks that before trusting a plan made from it.
struct TenantView {
    next_position: Position,
    heads: LruCache<StreamRef, StreamHead>,
}

/// Where a batch went.
enum Planned {
    Done(crate::backend::BatchOutcome),
    /// The view was not enough to decide: decide from the database.
    Undecided,
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend").finish_non_exhaustive()
    }
}

impl PgBackend {
    pub async fn connect(
        url: &str,
        settings: PoolSettings,
        hooks: Hooks,
    ) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::Config(format!("bad Postgres URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            // A checked-out connection that fails shows up on its first statement; a ping
            // per checkout would add a round trip to every append.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        Ok(PgBackend {
            pool,
            options,
            hooks,
            views: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn lock_views(&self) -> std::sync::MutexGuard<'_, HashMap<Uai, TenantView>> {
        self.views
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remembers the state a committed (or decided) batch leaves behind.
    fn remember(&self, tenant: &Uai, plan: &Plan) {
        let mut views = self.lock_views();
        let capacity = NonZeroUsize::new(VIEW_HEADS).unwrap_or(NonZeroUsize::MIN);
        let view = views.entry(tenant.clone()).or_insert_with(|| TenantView {
            next_position: plan.next_position,
            heads: LruCache::new(capacity),
        });
        // Batches decided from the database may finish in another order than they
        // committed: never move the view back.
        if plan.next_position < view.next_position {
            return;
        }
        view.next_position = plan.next_position;
        for (stream, head) in &plan.heads {
            view.heads.put(stream.clone(), *head);
        }
    }

    fn forget(&self, tenant: &Uai) {
        self.lock_views().remove(tenant);
    }

    /// The fast path of a group-commit batch: planned from the view, checked and written
    /// by `carnet_append_planned` in one round trip.
    ///
    /// The view is advanced when the batch is planned; if the batch does not commit, the
    /// view is dropped and the next batch is decided from the database.
    async fn append_planned(
        &self,
        tenant: &Uai,
        requests: &[AppendRequest],
    ) -> Result<Planned, StoreError> {
        let Some((plan, assumed_new, extended)) = self.plan_from_view(tenant, requests) else {
            return Ok(Planned::Undecided);
        };
        match self
            .call_planned(tenant, &plan, &assumed_new, &extended)
            .await
        {
            Ok(answer) if answer == "ok" => Ok(Planned::Done(plan.outcomes)),
            Ok(answer) => {
                self.forget(tenant);
                if answer == "unknown-tenant" {
                    return Err(StoreError::UnknownTenant(tenant.clone()));
                }
                Ok(Planned::Undecided)
            }
            Err(error) => {
                // Whether it committed is unknown: trust the database from now on.
                self.forget(tenant);
                Err(error.into())
            }
        }
    }

    async fn call_planned(
        &self,
        tenant: &Uai,
        plan: &Plan,
        assumed_new: &[StreamRef],
        extended: &[(StreamRef, StreamHead)],
    ) -> Result<String, sqlx::Error> {
        let events = EventColumns::of(&plan.rows);
        let commands = CommandColumns::of(&plan.commands);
        let query = sqlx::query(
            "SELECT carnet_append_planned($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                                          $14, $15, $16, $17, $18, $19, $20, $21, $22, $23,
                                          $24, $25, $26, $27)",
        )
        .bind(tenant.as_str())
        .bind(plan.rows[0].position)
        .bind(plan.next_position)
        .bind(
            assumed_new
                .iter()
                .map(|s| s.stream_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            assumed_new
                .iter()
                .map(|s| s.stream_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            extended
                .iter()
                .map(|(s, _)| s.stream_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            extended
                .iter()
                .map(|(s, _)| s.stream_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(extended.iter().map(|(_, h)| h.version).collect::<Vec<_>>())
        .bind(
            extended
                .iter()
                .map(|(_, h)| h.hash.as_slice())
                .collect::<Vec<_>>(),
        );
        events
            .bind_to(query)
            .bind(plan.recorded_at)
            .bind(commands.ids)
            .bind(commands.request_hashes)
            .bind(commands.stream_types)
            .bind(commands.stream_ids)
            .bind(commands.stream_versions)
            .bind(commands.first_positions)
            .bind(commands.last_positions)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)
    }

    /// Plans `requests` from the view and advances the view as if they committed. `None`
    /// when the view cannot decide: no view yet, a stream it has not seen that the request
    /// does not create, or a refusal (refusals are given on the database's word).
    #[allow(clippy::type_complexity)]
    fn plan_from_view(
        &self,
        tenant: &Uai,
        requests: &[AppendRequest],
    ) -> Option<(Plan, Vec<StreamRef>, Vec<(StreamRef, StreamHead)>)> {
        let mut views = self.lock_views();
        let view = views.get_mut(tenant)?;
        let mut heads = HashMap::new();
        let mut assumed_new: Vec<StreamRef> = Vec::new();
        for request in requests {
            if heads.contains_key(&request.stream) || assumed_new.contains(&request.stream) {
                continue;
            }
            match view.heads.get(&request.stream) {
                Some(head) => {
                    heads.insert(request.stream.clone(), *head);
                }
                None if matches!(
                    request.expected,
                    ExpectedVersion::Exactly(0) | ExpectedVersion::Any
                ) =>
                {
                    assumed_new.push(request.stream.clone());
                }
                None => return None,
            }
        }
        let extended: Vec<(StreamRef, StreamHead)> =
            heads.iter().map(|(s, h)| (s.clone(), *h)).collect();
        let plan = plan(
            tenant,
            view.next_position,
            heads,
            HashMap::new(),
            requests,
            now_micros(),
        );
        if plan.has_refusals() || plan.rows.is_empty() {
            return None;
        }
        view.next_position = plan.next_position;
        for (stream, head) in &plan.heads {
            view.heads.put(stream.clone(), *head);
        }
        Some((plan, assumed_new, extended))
    }

    async fn heads(
        tx: &mut Transaction<'_, Postgres>,
        tenant: &Uai,
        streams: &[StreamRef],
    ) -> Result<HashMap<StreamRef, StreamHead>, StoreError> {
        let mut heads = HashMap::with_capacity(streams.len());
        for chunk in streams.chunks(INSERT_CHUNK) {
            let types: Vec<&str> = chunk.iter().map(|s| s.stream_type.as_str()).collect();
            let ids: Vec<&str> = chunk.iter().map(|s| s.stream_id.as_str()).collect();
            let rows = sqlx::query(
                "SELECT s.stream_type, s.stream_id, e.stream_version, e.hash
                 FROM UNNEST($2::text[], $3::text[]) AS s(stream_type, stream_id)
                 CROSS JOIN LATERAL (
                     SELECT stream_version, hash FROM events
                     WHERE tenant_id = $1 AND stream_type = s.stream_type AND stream_id = s.stream_id
                     ORDER BY stream_version DESC LIMIT 1) e",
            )
            .bind(tenant.as_str())
            .bind(&types)
            .bind(&ids)
            .fetch_all(&mut **tx)
            .await?;
            for row in rows {
                let version: i64 = row.try_get("stream_version")?;
                let hash: Vec<u8> = row.try_get("hash")?;
                heads.insert(
                    StreamRef::new(
                        row.try_get::<String, _>("stream_type")?,
                        row.try_get::<String, _>("stream_id")?,
                    ),
                    StreamHead {
                        version,
                        hash: hash_from_bytes(&hash, tenant, 0)?,
                    },
                );
            }
        }
        Ok(heads)
    }

    async fn known_commands(
        executor: impl sqlx::PgExecutor<'_>,
        tenant: &Uai,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, KnownCommand>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = sqlx::query(
            "SELECT command_id, request_hash, stream_type, stream_id, stream_version,
                    first_position, last_position, recorded_at
             FROM commands WHERE tenant_id = $1 AND command_id = ANY($2)",
        )
        .bind(tenant.as_str())
        .bind(ids)
        .fetch_all(executor)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("command_id")?, known_command(row, tenant)?)))
            .collect()
    }

    async fn insert_events(
        tx: &mut Transaction<'_, Postgres>,
        tenant: &Uai,
        rows: &[EventRow],
        recorded_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let events = EventColumns::of(chunk);
            let query = sqlx::query(
                "INSERT INTO events (tenant_id, position, stream_type, stream_id, stream_version,
                                     event_type, event_version, payload, metadata, command_id,
                                     recorded_at, hash)
                 SELECT $1, position, stream_type, stream_id, stream_version, event_type,
                        event_version, payload::jsonb, metadata::jsonb, command_id, $12, hash
                 FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[],
                             $7::int[], $8::text[], $9::text[], $10::uuid[], $11::bytea[])
                      AS t(position, stream_type, stream_id, stream_version, event_type,
                           event_version, payload, metadata, command_id, hash)",
            )
            .bind(tenant.as_str());
            events
                .bind_to(query)
                .bind(recorded_at)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Records the commands and moves the tenant's next position, in one statement. No
    /// NOTIFY here: Postgres serialises the commits of notifying transactions (see
    /// `wakeups`).
    async fn finish_batch(
        tx: &mut Transaction<'_, Postgres>,
        tenant: &Uai,
        commands: &[CommandRow],
        next_position: Position,
        recorded_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let commands = CommandColumns::of(commands);
        sqlx::query(
            "WITH recorded AS (
                 INSERT INTO commands (tenant_id, command_id, request_hash, stream_type, stream_id,
                                       stream_version, first_position, last_position, recorded_at)
                 SELECT $1, c.*, $10 FROM UNNEST($3::uuid[], $4::bytea[], $5::text[], $6::text[],
                                                 $7::bigint[], $8::bigint[], $9::bigint[]) AS c)
             UPDATE tenants SET next_position = $2 WHERE tenant_id = $1",
        )
        .bind(tenant.as_str())
        .bind(next_position)
        .bind(commands.ids)
        .bind(commands.request_hashes)
        .bind(commands.stream_types)
        .bind(commands.stream_ids)
        .bind(commands.stream_versions)
        .bind(commands.first_positions)
        .bind(commands.last_positions)
        .bind(recorded_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// Event rows as the column arrays that `UNNEST` turns back into rows: one bound
/// parameter a column, whatever the number of rows.
struct EventColumns<'a> {
    positions: Vec<i64>,
    stream_types: Vec<&'a str>,
    stream_ids: Vec<&'a str>,
    stream_versions: Vec<i64>,
    event_types: Vec<&'a str>,
    event_versions: Vec<i32>,
    payloads: Vec<&'a str>,
    metadata: Vec<&'a str>,
    command_ids: Vec<Option<Uuid>>,
    hashes: Vec<&'a [u8]>,
}

impl<'a> EventColumns<'a> {
    /// Binds the ten columns, in the order both statements that insert events take them.
    fn bind_to(
        self,
        query: sqlx::query::Query<'a, Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'a, Postgres, sqlx::postgres::PgArguments> {
        query
            .bind(self.positions)
            .bind(self.stream_types)
            .bind(self.stream_ids)
            .bind(self.stream_versions)
            .bind(self.event_types)
            .bind(self.event_versions)
            .bind(self.payloads)
            .bind(self.metadata)
            .bind(self.command_ids)
            .bind(self.hashes)
    }

    fn of(rows: &'a [EventRow]) -> Self {
        EventColumns {
            positions: rows.iter().map(|r| r.position).collect(),
            stream_types: rows.iter().map(|r| r.stream.stream_type.as_str()).collect(),
            stream_ids: rows.iter().map(|r| r.stream.stream_id.as_str()).collect(),
            stream_versions: rows.iter().map(|r| r.stream_version).collect(),
            event_types: rows.iter().map(|r| r.event_type.as_str()).collect(),
            event_versions: rows.iter().map(|r| r.event_version).collect(),
            payloads: rows.iter().map(|r| r.payload.as_str()).collect(),
            metadata: rows.iter().map(|r| r.metadata.as_str()).collect(),
            command_ids: rows.iter().map(|r| r.command_id).collect(),
            hashes: rows.iter().map(|r| r.hash.as_slice()).collect(),
        }
    }
}

/// Command rows as column arrays, as [`EventColumns`].
struct CommandColumns<'a> {
    ids: Vec<Uuid>,
    request_hashes: Vec<&'a [u8]>,
    stream_types: Vec<&'a str>,
    stream_ids: Vec<&'a str>,
    stream_versions: Vec<i64>,
    first_positions: Vec<i64>,
    last_positions: Vec<i64>,
}

impl<'a> CommandColumns<'a> {
    fn of(commands: &'a [CommandRow]) -> Self {
        CommandColumns {
            ids: commands.iter().map(|c| c.id).collect(),
            request_hashes: commands.iter().map(|c| c.request_hash.as_slice()).collect(),
            stream_types: commands
                .iter()
                .map(|c| c.stream.stream_type.as_str())
                .collect(),
            stream_ids: commands
                .iter()
                .map(|c| c.stream.stream_id.as_str())
                .collect(),
            stream_versions: commands.iter().map(|c| c.outcome.stream_version).collect(),
            first_positions: commands.iter().map(|c| c.outcome.first_position).collect(),
            last_positions: commands.iter().map(|c| c.outcome.last_position).collect(),
        }
    }
}

#[async_trait]
impl Backend for PgBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Postgres
    }

    fn pool(&self) -> crate::backend::Pool {
        crate::backend::Pool::Postgres(self.pool.clone())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn restore(
        &self,
        tenant: &TenantInfo,
        events: &[RecordedEvent],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO tenants (tenant_id, name, time_zone, next_position)
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO NOTHING",
        )
        .bind(tenant.tenant.as_str())
        .bind(&tenant.name)
        .bind(&tenant.time_zone)
        .bind(tenant.head + 1)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::TenantExists(tenant.tenant.clone()));
        }
        for chunk in events.chunks(INSERT_CHUNK) {
            let rows: Vec<EventRow> = chunk.iter().map(restored_row).collect();
            let times: Vec<DateTime<Utc>> = chunk.iter().map(|e| e.recorded_at).collect();
            let query = sqlx::query(
                "INSERT INTO events (tenant_id, position, stream_type, stream_id, stream_version,
                                     event_type, event_version, payload, metadata, command_id,
                                     recorded_at, hash)
                 SELECT $1, position, stream_type, stream_id, stream_version, event_type,
                        event_version, payload::jsonb, metadata::jsonb, command_id, recorded_at,
                        hash
                 FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[],
                             $7::int[], $8::text[], $9::text[], $10::uuid[], $11::bytea[],
                             $12::timestamptz[])
                      AS t(position, stream_type, stream_id, stream_version, event_type,
                           event_version, payload, metadata, command_id, hash, recorded_at)",
            )
            .bind(tenant.tenant.as_str());
            EventColumns::of(&rows)
                .bind_to(query)
                .bind(times)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_tenant(
        &self,
        tenant: &Uai,
        name: &str,
        time_zone: &str,
    ) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO tenants (tenant_id, name, time_zone) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(name)
        .bind(time_zone)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::TenantExists(tenant.clone()));
        }
        Ok(())
    }

    async fn tenants(&self) -> Result<Vec<TenantInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant_id, name, time_zone, next_position FROM tenants ORDER BY tenant_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(TenantInfo {
                    tenant: tenant_from_db(row.try_get("tenant_id")?)?,
                    name: row.try_get("name")?,
                    time_zone: row.try_get("time_zone")?,
                    head: row.try_get::<i64, _>("next_position")? - 1,
                })
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(backend = "postgres", %tenant, requests = requests.len()), err)]
    async fn append_batch(
        &self,
        tenant: &Uai,
        requests: &[AppendRequest],
        all_or_nothing: bool,
    ) -> Result<BatchOutcome, StoreError> {
        // Hooks need a transaction held open, which the one-statement path has not.
        if !all_or_nothing && !self.hooks.need_transaction() {
            if let Planned::Done(outcomes) = self.append_planned(tenant, requests).await? {
                return Ok(outcomes);
            }
        }
        // Decided from the database: a batch planned from the view meanwhile would guess
        // wrong, so there is no view until this one is done.
        self.forget(tenant);
        let mut tx = self.pool.begin().await?;
        // The append lock of this tenant: held until commit, it orders the transactions
        // that take positions, so they commit in position order.
        let next: Option<i64> =
            sqlx::query_scalar("SELECT next_position FROM tenants WHERE tenant_id = $1 FOR UPDATE")
                .bind(tenant.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let Some(next) = next else {
            return Err(StoreError::UnknownTenant(tenant.clone()));
        };
        let (streams, command_ids) = batch_keys(requests);
        let heads = Self::heads(&mut tx, tenant, &streams).await?;
        let known = Self::known_commands(&mut *tx, tenant, &command_ids).await?;
        let recorded_at = now_micros();
        let plan = plan(tenant, next, heads, known, requests, recorded_at);
        if all_or_nothing && plan.has_refusals() {
            return Err(StoreError::BulkRejected {
                errors: plan.into_refusals(),
            });
        }
        if plan.rows.is_empty() {
            // Only refusals and replays: nothing to write.
            tx.commit().await?;
            self.remember(tenant, &plan);
            return Ok(plan.outcomes);
        }
        Self::insert_events(&mut tx, tenant, &plan.rows, recorded_at).await?;
        Self::finish_batch(
            &mut tx,
            tenant,
            &plan.commands,
            plan.next_position,
            recorded_at,
        )
        .await?;
        let tx = self
            .hooks
            .before_commit(AppendTx::Postgres(tx), tenant, &plan.rows, recorded_at)
            .await?;
        self.hooks.commit(tx, tenant).await?;
        self.remember(tenant, &plan);
        Ok(plan.outcomes)
    }

    async fn read_stream(
        &self,
        tenant: &Uai,
        stream: &StreamRef,
        after_version: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT position, stream_type, stream_id, stream_version, event_type, event_version,
                    payload, metadata, recorded_at, hash
             FROM events WHERE tenant_id = $1 AND stream_type = $2 AND stream_id = $3 AND stream_version > $4
             ORDER BY stream_version",
        )
        .bind(tenant.as_str())
        .bind(&stream.stream_type)
        .bind(&stream.stream_id)
        .bind(after_version)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| recorded_event(row, tenant)).collect()
    }

    async fn read_stream_type(
        &self,
        tenant: &Uai,
        stream_type: &str,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT position, stream_type, stream_id, stream_version, event_type, event_version,
                    payload, metadata, recorded_at, hash
             FROM events WHERE tenant_id = $1 AND stream_type = $2
             ORDER BY stream_id, stream_version",
        )
        .bind(tenant.as_str())
        .bind(stream_type)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| recorded_event(row, tenant)).collect()
    }

    async fn read_log(
        &self,
        tenant: &Uai,
        after: Position,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read_range(&self.pool, tenant, after, Position::MAX, limit).await
    }

    async fn find_command(
        &self,
        tenant: &Uai,
        id: Uuid,
    ) -> Result<Option<KnownCommand>, StoreError> {
        Ok(Self::known_commands(&self.pool, tenant, &[id])
            .await?
            .remove(&id))
    }

    async fn load_snapshot(
        &self,
        tenant: &Uai,
        stream: &StreamRef,
    ) -> Result<Option<Snapshot>, StoreError> {
        let row = sqlx::query(
            "SELECT stream_version, state FROM snapshots
             WHERE tenant_id = $1 AND stream_type = $2 AND stream_id = $3",
        )
        .bind(tenant.as_str())
        .bind(&stream.stream_type)
        .bind(&stream.stream_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Snapshot {
                stream_version: row.try_get("stream_version")?,
                state: row.try_get("state")?,
            })
        })
        .transpose()
    }

    async fn save_snapshot(
        &self,
        tenant: &Uai,
        stream: &StreamRef,
        snapshot: &Snapshot,
    ) -> Result<(), StoreError> {
        // Keep the newest: a slow writer of an older snapshot must not replace a newer one.
        sqlx::query(
            "INSERT INTO snapshots (tenant_id, stream_type, stream_id, stream_version, state)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, stream_type, stream_id) DO UPDATE
             SET stream_version = EXCLUDED.stream_version, state = EXCLUDED.state, saved_at = now()
             WHERE snapshots.stream_version < EXCLUDED.stream_version",
        )
        .bind(tenant.as_str())
        .bind(&stream.stream_type)
        .bind(&stream.stream_id)
        .bind(snapshot.stream_version)
        .bind(&snapshot.state)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn load_latest(
        &self,
        tenant: &Uai,
        stream: &StreamRef,
    ) -> Result<(Option<Snapshot>, Vec<RecordedEvent>), StoreError> {
        // One round trip: the snapshot row (position NULL) and the events after it.
        let rows = sqlx::query(
            "WITH snapshot AS (
                 SELECT stream_version, state FROM snapshots
                 WHERE tenant_id = $1 AND stream_type = $2 AND stream_id = $3)
             SELECT NULL::bigint AS position, $2 AS stream_type, $3 AS stream_id, stream_version,
                    NULL::text AS event_type, NULL::integer AS event_version, state AS payload,
                    NULL::jsonb AS metadata, NULL::timestamptz AS recorded_at, NULL::bytea AS hash
             FROM snapshot
             UNION ALL
             SELECT position, stream_type, stream_id, stream_version, event_type, event_version,
                    payload, metadata, recorded_at, hash
             FROM events
             WHERE tenant_id = $1 AND stream_type = $2 AND stream_id = $3
               AND stream_version > COALESCE((SELECT stream_version FROM snapshot), 0)",
        )
        .bind(tenant.as_str())
        .bind(&stream.stream_type)
        .bind(&stream.stream_id)
        .fetch_all(&self.pool)
        .await?;
        let mut snapshot = None;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.try_get::<Option<i64>, _>("position")?.is_none() {
                snapshot = Some(Snapshot {
                    stream_version: row.try_get("stream_version")?,
                    state: row.try_get("payload")?,
                });
            } else {
                events.push(recorded_event(row, tenant)?);
            }
        }
        events.sort_by_key(|e| e.stream_version);
        Ok((snapshot, events))
    }

    async fn listen(&self, channel: &str, heard: Heard) -> Result<bool, StoreError> {
        // A connection of its own: `PgListener::connect_with(&pool)` would keep one of
        // the pool's for ever, and a small pool cannot spare it.
        let own = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(self.options.clone())
            .await?;
        let mut listener = PgListener::connect_with(&own).await?;
        listener.listen(channel).await?;
        tokio::spawn(async move {
            // PgListener reconnects by itself after a lost connection; a notification
            // sent meanwhile is lost, which the heads poll covers.
            loop {
                match listener.recv().await {
                    Ok(notification) => {
                        if !heard(notification.payload()) {
                            return;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "listening for commits failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        Ok(true)
    }

    async fn announce(&self, channel: &str, payload: &str) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn known_command(row: &PgRow, tenant: &Uai) -> Result<KnownCommand, StoreError> {
    let first_position: i64 = row.try_get("first_position")?;
    let hash: Vec<u8> = row.try_get("request_hash")?;
    Ok(KnownCommand {
        request_hash: hash_from_bytes(&hash, tenant, first_position)?,
        stream: StreamRef::new(
            row.try_get::<String, _>("stream_type")?,
            row.try_get::<String, _>("stream_id")?,
        ),
        outcome: AppendOutcome {
            stream_version: row.try_get("stream_version")?,
            first_position,
            last_position: row.try_get("last_position")?,
            recorded_at: row.try_get("recorded_at")?,
            replayed: true,
        },
    })
}

/// At most `limit` events of `tenant` with a position in `(after, before)`, in position
/// order: the log as a projector or a hook reads it, through a pool or a transaction.
pub(crate) async fn read_range<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    tenant: &Uai,
    after: Position,
    before: Position,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows = sqlx::query(
        "SELECT position, stream_type, stream_id, stream_version, event_type, event_version,
                payload, metadata, recorded_at, hash
         FROM events WHERE tenant_id = $1 AND position > $2 AND position < $3
         ORDER BY position LIMIT $4",
    )
    .bind(tenant.as_str())
    .bind(after)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| recorded_event(row, tenant)).collect()
}

fn recorded_event(row: &PgRow, tenant: &Uai) -> Result<RecordedEvent, StoreError> {
    let position: i64 = row.try_get("position")?;
    let hash: Vec<u8> = row.try_get("hash")?;
    Ok(RecordedEvent {
        tenant: tenant.clone(),
        position,
        stream: StreamRef::new(
            row.try_get::<String, _>("stream_type")?,
            row.try_get::<String, _>("stream_id")?,
        ),
        stream_version: row.try_get("stream_version")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: row.try_get("payload")?,
        metadata: metadata_from_value(row.try_get("metadata")?, tenant, position)?,
        recorded_at: row.try_get("recorded_at")?,
        hash: hash_from_bytes(&hash, tenant, position)?,
    })
}
