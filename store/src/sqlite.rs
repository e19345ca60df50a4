//! The SQLite backend: the embedded default for a single school, a laptop or a demo.
//! WAL mode lets readers run beside the one writer; appends take the write lock at
//! BEGIN IMMEDIATE, so they commit one after another in position order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use carnet_domain::Uai;
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};
use uuid::Uuid;

use crate::backend::{
    batch_keys, hash_from_bytes, metadata_from_value, tenant_from_db, Backend, BackendKind,
    BatchOutcome, Heard,
};
use crate::error::StoreError;
use crate::hook::{AppendTx, Hooks};
use crate::model::{
    now_micros, AppendOutcome, AppendRequest, Position, RecordedEvent, Snapshot, StreamRef,
    TenantInfo,
};
use crate::plan::{plan, restored_row, CommandRow, EventRow, KnownCommand, StreamHead};

/// Rows per multi-row INSERT: 12 parameters a row stays under SQLite's 32,766.
const INSERT_CHUNK: usize = 1_000;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// The write gate of each database file this process opened.
static WRITE_GATES: LazyLock<std::sync::Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

/// Makes this process's writers to the database of `pool` take turns in arrival order.
/// SQLite lets one writer in at a time and a waiting connection polls for the lock:
/// under a steady stream of appends, a projector's transaction could miss it for the
/// whole busy timeout and fail with "database is locked". Writers of other processes
/// still meet at the database's lock.
pub async fn write_turn(pool: &SqlitePool) -> tokio::sync::OwnedMutexGuard<()> {
    let file = pool.connect_options().get_filename().to_path_buf();
    let gate = WRITE_GATES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .entry(file)
        .or_default()
        .clone();
    gate.lock_owned().await
}

#[derive(Clone)]
pub struct SqliteBackend {
    pool: SqlitePool,
    hooks: Hooks,
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBackend").finish_non_exhaustive()
    }
}

impl SqliteBackend {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path, hooks: Hooks) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::files::private_dir(dir).map_err(|e| {
                StoreError::Config(format!(
                    "cannot create the data directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        // The log holds children's records: the owner's only (SQLite gives its -wal and
        // -shm files the database file's mode).
        let private = if path.exists() {
            crate::files::restrict(path)
        } else {
            crate::files::create_private(path).map(drop)
        };
        private.map_err(|e| {
            StoreError::Config(format!("cannot make {} private: {e}", path.display()))
        })?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged append survives a power cut, not only a crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        Self::with_options(options, hooks).await
    }

    /// Opens a database from a `sqlite:` URL.
    pub async fn connect(url: &str, hooks: Hooks) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30));
        Self::with_options(options, hooks).await
    }

    async fn with_options(options: SqliteConnectOptions, hooks: Hooks) -> Result<Self, StoreError> {
        // What is deleted or overwritten is zeroed in the file, not left in free pages:
        // an erased key must not be recoverable from the database file.
        let options = options.pragma("secure_delete", "on");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        Ok(SqliteBackend { pool, hooks })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn heads(
        tx: &mut Transaction<'_, Sqlite>,
        tenant: &Uai,
        streams: &[StreamRef],
    ) -> Result<HashMap<StreamRef, StreamHead>, StoreError> {
        let mut heads = HashMap::with_capacity(streams.len());
        for chunk in streams.chunks(INSERT_CHUNK) {
            let keys = serde_json::Value::from(
                chunk
                    .iter()
                    .map(|s| serde_json::json!([s.stream_type, s.stream_id]))
                    .collect::<Vec<_>>(),
            )
            .to_string();
            // CROSS JOIN keeps the keys as the outer loop, so each is an index probe;
            // a plain JOIN lets SQLite scan the tenant's whole log instead.
            let rows = sqlx::query(
                "SELECT e.stream_type, e.stream_id, e.stream_version, e.hash
                 FROM json_each(?2) AS k
                 CROSS JOIN events AS e ON e.tenant_id = ?1
                      AND e.stream_type = k.value ->> 0 AND e.stream_id = k.value ->> 1
                      AND e.stream_version = (SELECT max(stream_version) FROM events
                          WHERE tenant_id = ?1 AND stream_type = k.value ->> 0 AND stream_id = k.value ->> 1)",
            )
            .bind(tenant.as_str())
            .bind(keys)
            .fetch_all(&mut **tx)
            .await?;
            for row in rows {
                let hash: Vec<u8> = row.try_get("hash")?;
                heads.insert(
                    StreamRef::new(
                        row.try_get::<String, _>("stream_type")?,
                        row.try_get::<String, _>("stream_id")?,
                    ),
                    StreamHead {
                        version: row.try_get("stream_version")?,
                        hash: hash_from_bytes(&hash, tenant, 0)?,
                    },
                );
            }
        }
        Ok(heads)
    }

    async fn known_commands(
        executor: impl sqlx::SqliteExecutor<'_>,
        tenant: &Uai,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, KnownCommand>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids_json =
            serde_json::Value::from(ids.iter().map(|id| id.to_string()).collect::<Vec<_>>())
                .to_string();
        let rows = sqlx::query(
            "SELECT command_id, request_hash, stream_type, stream_id, stream_version,
                    first_position, last_position, recorded_at
             FROM commands WHERE tenant_id = ?1 AND command_id IN (SELECT value FROM json_each(?2))",
        )
        .bind(tenant.as_str())
        .bind(ids_json)
        .fetch_all(executor)
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("command_id")?;
                let id = Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt {
                    tenant: tenant.clone(),
                    position: 0,
                    reason: format!("unreadable command id {id}: {e}"),
                })?;
                Ok((id, known_command(row, tenant)?))
            })
            .collect()
    }

    async fn insert_events(
        tx: &mut Transaction<'_, Sqlite>,
        tenant: &Uai,
        rows: &[EventRow],
        recorded_at: &str,
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO events (tenant_id, position, stream_type, stream_id, stream_version,
                                     event_type, event_version, payload, metadata, command_id,
                                     recorded_at, hash) ",
            );
            insert.push_values(chunk, |values, row| {
                push_event(values, tenant, row, recorded_at);
            });
            insert.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    async fn insert_commands(
        tx: &mut Transaction<'_, Sqlite>,
        tenant: &Uai,
        commands: &[CommandRow],
    ) -> Result<(), StoreError> {
        for chunk in commands.chunks(INSERT_CHUNK) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO commands (tenant_id, command_id, request_hash, stream_type, stream_id,
                                       stream_version, first_position, last_position, recorded_at) ",
            );
            insert.push_values(chunk, |mut values, command| {
                values
                    .push_bind(tenant.as_str())
                    .push_bind(command.id.to_string())
                    .push_bind(command.request_hash.as_slice())
                    .push_bind(&command.stream.stream_type)
                    .push_bind(&command.stream.stream_id)
                    .push_bind(command.outcome.stream_version)
                    .push_bind(command.outcome.first_position)
                    .push_bind(command.outcome.last_position)
                    .push_bind(format_time(command.outcome.recorded_at));
            });
            insert.build().execute(&mut **tx).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Sqlite
    }

    fn pool(&self) -> crate::backend::Pool {
        crate::backend::Pool::Sqlite(self.pool.clone())
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
        let _turn = write_turn(&self.pool).await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = sqlx::query(
            "INSERT INTO tenants (tenant_id, name, time_zone, next_position)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (tenant_id) DO NOTHING",
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
            let rows: Vec<(EventRow, String)> = chunk
                .iter()
                .map(|e| (restored_row(e), format_time(e.recorded_at)))
                .collect();
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO events (tenant_id, position, stream_type, stream_id, stream_version,
                                     event_type, event_version, payload, metadata, command_id,
                                     recorded_at, hash) ",
            );
            insert.push_values(&rows, |values, (row, recorded_at)| {
                push_event(values, &tenant.tenant, row, recorded_at);
            });
            insert.build().execute(&mut *tx).await?;
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
            "INSERT INTO tenants (tenant_id, name, time_zone) VALUES (?1, ?2, ?3)
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

    #[tracing::instrument(skip_all, fields(backend = "sqlite", %tenant, requests = requests.len()), err)]
    async fn append_batch(
        &self,
        tenant: &Uai,
        requests: &[AppendRequest],
        all_or_nothing: bool,
    ) -> Result<BatchOutcome, StoreError> {
        let _turn = write_turn(&self.pool).await;
        // IMMEDIATE takes the write lock now, before anything is read, so the state this
        // transaction decides on cannot change under it.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let next: Option<i64> =
            sqlx::query_scalar("SELECT next_position FROM tenants WHERE tenant_id = ?1")
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
            return Ok(plan.outcomes);
        }
        Self::insert_events(&mut tx, tenant, &plan.rows, &format_time(recorded_at)).await?;
        Self::insert_commands(&mut tx, tenant, &plan.commands).await?;
        sqlx::query("UPDATE tenants SET next_position = ?2 WHERE tenant_id = ?1")
            .bind(tenant.as_str())
            .bind(plan.next_position)
            .execute(&mut *tx)
            .await?;
        let tx = self
            .hooks
            .before_commit(AppendTx::Sqlite(tx), tenant, &plan.rows, recorded_at)
            .await?;
        self.hooks.commit(tx, tenant).await?;
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
             FROM events WHERE tenant_id = ?1 AND stream_type = ?2 AND stream_id = ?3 AND stream_version > ?4
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
             FROM events WHERE tenant_id = ?1 AND stream_type = ?2
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
             WHERE tenant_id = ?1 AND stream_type = ?2 AND stream_id = ?3",
        )
        .bind(tenant.as_str())
        .bind(&stream.stream_type)
        .bind(&stream.stream_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let state: String = row.try_get("state")?;
        let stream_version: i64 = row.try_get("stream_version")?;
        // An unreadable snapshot is only a lost shortcut: the stream is folded instead.
        Ok(serde_json::from_str(&state).ok().map(|state| Snapshot {
            stream_version,
            state,
        }))
    }

    async fn save_snapshot(
        &self,
        tenant: &Uai,
        stream: &StreamRef,
        snapshot: &Snapshot,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO snapshots (tenant_id, stream_type, stream_id, stream_version, state)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant_id, stream_type, stream_id) DO UPDATE
             SET stream_version = excluded.stream_version, state = excluded.state,
                 saved_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE snapshots.stream_version < excluded.stream_version",
        )
        .bind(tenant.as_str())
        .bind(&stream.stream_type)
        .bind(&stream.stream_id)
        .bind(snapshot.stream_version)
        .bind(snapshot.state.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// SQLite has no notifications: readers of other processes poll the heads.
    async fn listen(&self, _channel: &str, _heard: Heard) -> Result<bool, StoreError> {
        Ok(false)
    }

    async fn announce(&self, _channel: &str, _payload: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The twelve columns of an event row, in the order of the `INSERT INTO events` of
/// appends and restores.
fn push_event<'q>(
    mut values: sqlx::query_builder::Separated<'_, 'q, Sqlite, &'static str>,
    tenant: &'q Uai,
    row: &'q EventRow,
    recorded_at: &'q str,
) {
    values
        .push_bind(tenant.as_str())
        .push_bind(row.position)
        .push_bind(&row.stream.stream_type)
        .push_bind(&row.stream.stream_id)
        .push_bind(row.stream_version)
        .push_bind(&row.event_type)
        .push_bind(row.event_version)
        .push_bind(&row.payload)
        .push_bind(&row.metadata)
        .push_bind(row.command_id.map(|id| id.to_string()))
        .push_bind(recorded_at)
        .push_bind(row.hash.as_slice());
}

/// RFC 3339 in UTC with exactly six fractional digits: sortable as text, exact to the
/// microsecond the hash covers.
fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_time(text: &str, tenant: &Uai, position: Position) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt {
            tenant: tenant.clone(),
            position,
            reason: format!("unreadable time {text}: {e}"),
        })
}

fn known_command(row: &SqliteRow, tenant: &Uai) -> Result<KnownCommand, StoreError> {
    let first_position: i64 = row.try_get("first_position")?;
    let hash: Vec<u8> = row.try_get("request_hash")?;
    let recorded_at: String = row.try_get("recorded_at")?;
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
            recorded_at: parse_time(&recorded_at, tenant, first_position)?,
            replayed: true,
        },
    })
}

/// At most `limit` events of `tenant` with a position in `(after, before)`, in position
/// order: the log as a projector or a hook reads it, through a pool or a transaction.
pub(crate) async fn read_range<'c>(
    conn: impl sqlx::SqliteExecutor<'c>,
    tenant: &Uai,
    after: Position,
    before: Position,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows = sqlx::query(
        "SELECT position, stream_type, stream_id, stream_version, event_type, event_version,
                payload, metadata, recorded_at, hash
         FROM events WHERE tenant_id = ?1 AND position > ?2 AND position < ?3
         ORDER BY position LIMIT ?4",
    )
    .bind(tenant.as_str())
    .bind(after)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| recorded_event(row, tenant)).collect()
}

fn recorded_event(row: &SqliteRow, tenant: &Uai) -> Result<RecordedEvent, StoreError> {
    let position: i64 = row.try_get("position")?;
    let corrupt = |what: &str, e: serde_json::Error| StoreError::Corrupt {
        tenant: tenant.clone(),
        position,
        reason: format!("unreadable {what}: {e}"),
    };
    let payload: String = row.try_get("payload")?;
    let metadata: String = row.try_get("metadata")?;
    let recorded_at: String = row.try_get("recorded_at")?;
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
        payload: serde_json::from_str(&payload).map_err(|e| corrupt("payload", e))?,
        metadata: metadata_from_value(
            serde_json::from_str(&metadata).map_err(|e| corrupt("metadata", e))?,
            tenant,
            position,
        )?,
        recorded_at: parse_time(&recorded_at, tenant, position)?,
        hash: hash_from_bytes(&hash, tenant, position)?,
    })
}
