//! Checkpoints and leases: where each projection of each establishment stands, and which
//! instance works it. The lease is taken by the batch's first statement, an UPDATE of the
//! checkpoint row that also locks it until the batch commits, so two instances never
//! apply the same event: the second one's UPDATE waits, then finds the lease taken.

use carnet_store::Pool;
use sqlx::Row;

use crate::docs::{Scope, Tx};
use crate::error::ProjectionError;

/// Evaluates the same sqlx expression on whichever database `$on` is (a `Pool` or a
/// `Tx`): the statements are written once, in SQL both databases accept.
macro_rules! on_each {
    (pool $on:expr, $p:ident => $body:expr) => {
        match $on {
            Pool::Postgres($p) => $body,
            Pool::Sqlite($p) => $body,
        }
    };
    (tx $on:expr, $t:ident => $body:expr) => {
        match $on {
            Tx::Postgres($t) => $body,
            Tx::Sqlite($t) => $body,
        }
    };
}
pub(crate) use on_each;

/// Generation 1 of a projection, active, unless it has any generation already.
const CREATE_FIRST: &str = "INSERT INTO projection_checkpoints (tenant_id, projection, generation, active)
     SELECT $1, $2, 1, $3
     WHERE NOT EXISTS (SELECT 1 FROM projection_checkpoints WHERE tenant_id = $1 AND projection = $2)
     ON CONFLICT DO NOTHING";

/// What the lease's row says when a batch claims it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub position: i64,
    pub failure: Option<(i64, String)>,
}

/// This process's turn to write, on SQLite (see `carnet_store::sqlite::write_turn`):
/// held for the whole of a batch's transaction.
pub async fn write_turn(pool: &Pool) -> Option<tokio::sync::OwnedMutexGuard<()>> {
    match pool {
        Pool::Postgres(_) => None,
        Pool::Sqlite(p) => Some(carnet_store::sqlite::write_turn(p).await),
    }
}

pub async fn begin(pool: &Pool) -> Result<Tx, ProjectionError> {
    Ok(match pool {
        Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        // IMMEDIATE: the batch writes, and a deferred transaction that read first could
        // not upgrade to a writer once another connection has committed.
        Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
    })
}

/// The active generation of a projection, creating generation 1 the first time.
pub async fn ensure(pool: &Pool, tenant: &str, projection: &str) -> Result<i32, ProjectionError> {
    // Every batch asks: one read when the row exists, which is nearly always.
    if let Some(generation) = active_generation(pool, tenant, projection).await? {
        return Ok(generation);
    }
    on_each!(pool pool, p => {
        sqlx::query(CREATE_FIRST)
            .bind(tenant)
            .bind(projection)
            .bind(true)
            .execute(p)
            .await?;
    });
    active_generation(pool, tenant, projection)
        .await?
        .ok_or_else(|| ProjectionError::Stopped {
            projection: projection.to_string(),
            position: 0,
            failure: "no active generation (a rebuild is switching it?)".into(),
        })
}

pub async fn active_generation(
    pool: &Pool,
    tenant: &str,
    projection: &str,
) -> Result<Option<i32>, ProjectionError> {
    const SQL: &str = "SELECT generation FROM projection_checkpoints
         WHERE tenant_id = $1 AND projection = $2 AND active";
    Ok(on_each!(pool pool, p => sqlx::query_scalar(SQL)
            .bind(tenant)
            .bind(projection)
            .fetch_optional(p)
            .await?))
}

/// The database's clock in microseconds since the epoch, as each backend writes it.
/// Leases are stamped by the database, never by the clocks of the hosts that run
/// projectors, which may disagree.
macro_rules! now_us {
    (postgres) => {
        "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS bigint)"
    };
    (sqlite) => {
        "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)"
    };
}

/// Microseconds since the epoch of a `recorded_at` column, as each backend stores it.
macro_rules! recorded_us {
    (postgres, $column:expr) => {
        concat!(
            "CAST(EXTRACT(EPOCH FROM ",
            $column,
            ") * 1000000 AS bigint)"
        )
    };
    (sqlite, $column:expr) => {
        concat!(
            "CAST((julianday(",
            $column,
            ") - 2440587.5) * 86400000000.0 AS INTEGER)"
        )
    };
}

/// When the first event a checkpoint `c` has not applied was recorded, in microseconds:
/// the age of a projection's lag.
macro_rules! next_event_us {
    ($backend:tt) => {
        concat!(
            "(SELECT ",
            recorded_us!($backend, "e.recorded_at"),
            " FROM events e WHERE e.tenant_id = c.tenant_id AND e.position = c.position + 1)"
        )
    };
}

macro_rules! claim_sql {
    ($backend:tt) => {
        concat!(
            "UPDATE projection_checkpoints
             SET lease_owner = $4, lease_until_us = ",
            now_us!($backend),
            " + $5
             WHERE tenant_id = $1 AND projection = $2 AND generation = $3
               AND (lease_owner IS NULL OR lease_owner = $4 OR lease_until_us < ",
            now_us!($backend),
            ")
             RETURNING position, failed_position, failure"
        )
    };
}

/// Takes or renews the lease of `scope` for `owner` for `lease_us` microseconds of the
/// database's clock, if it is free, ours, or ran out. `None` when another instance holds
/// it (or the generation is gone: a rebuild switched it).
pub async fn claim(
    tx: &mut Tx,
    scope: &Scope,
    owner: &str,
    lease_us: i64,
) -> Result<Option<Claim>, ProjectionError> {
    let row = match tx {
        Tx::Postgres(t) => sqlx::query(claim_sql!(postgres))
            .bind(&scope.tenant)
            .bind(&scope.projection)
            .bind(scope.generation)
            .bind(owner)
            .bind(lease_us)
            .fetch_optional(&mut **t)
            .await?
            .map(|r| claim_of(r.try_get(0), r.try_get(1), r.try_get(2))),
        Tx::Sqlite(t) => sqlx::query(claim_sql!(sqlite))
            .bind(&scope.tenant)
            .bind(&scope.projection)
            .bind(scope.generation)
            .bind(owner)
            .bind(lease_us)
            .fetch_optional(&mut **t)
            .await?
            .map(|r| claim_of(r.try_get(0), r.try_get(1), r.try_get(2))),
    };
    row.transpose()
}

fn claim_of(
    position: Result<i64, sqlx::Error>,
    failed: Result<Option<i64>, sqlx::Error>,
    failure: Result<Option<String>, sqlx::Error>,
) -> Result<Claim, ProjectionError> {
    Ok(Claim {
        position: position?,
        failure: match (failed?, failure?) {
            (Some(p), Some(f)) => Some((p, f)),
            _ => None,
        },
    })
}

/// Moves the checkpoint to `position`, in the batch's transaction; `docs_written`: the
/// batch wrote or removed documents (readers' parsed copies are then stale).
pub async fn advance(
    tx: &mut Tx,
    scope: &Scope,
    position: i64,
    recorded_us: i64,
    docs_written: bool,
) -> Result<(), ProjectionError> {
    const SQL: &str = "UPDATE projection_checkpoints
         SET position = $4, applied_recorded_us = $5,
             docs_position = CASE WHEN $6 THEN $4 ELSE docs_position END
         WHERE tenant_id = $1 AND projection = $2 AND generation = $3";
    on_each!(tx tx, t => {
        sqlx::query(SQL)
            .bind(&scope.tenant)
            .bind(&scope.projection)
            .bind(scope.generation)
            .bind(position)
            .bind(recorded_us)
            .bind(docs_written)
            .execute(&mut **t)
            .await?;
    });
    Ok(())
}

/// Records why the projection stopped, so every instance and the health check see it.
pub async fn fail(
    pool: &Pool,
    scope: &Scope,
    position: i64,
    failure: &str,
) -> Result<(), ProjectionError> {
    const SQL: &str = "UPDATE projection_checkpoints SET failed_position = $4, failure = $5
         WHERE tenant_id = $1 AND projection = $2 AND generation = $3";
    on_each!(pool pool, p => {
        sqlx::query(SQL)
            .bind(&scope.tenant)
            .bind(&scope.projection)
            .bind(scope.generation)
            .bind(position)
            .bind(failure)
            .execute(p)
            .await?;
    });
    Ok(())
}

/// Gives the lease up (a clean shutdown), so another instance need not wait for it to
/// run out.
pub async fn release(pool: &Pool, scope: &Scope, owner: &str) -> Result<(), ProjectionError> {
    const SQL: &str = "UPDATE projection_checkpoints SET lease_owner = NULL, lease_until_us = NULL
         WHERE tenant_id = $1 AND projection = $2 AND generation = $3 AND lease_owner = $4";
    on_each!(pool pool, p => {
        sqlx::query(SQL)
            .bind(&scope.tenant)
            .bind(&scope.projection)
            .bind(scope.generation)
            .bind(owner)
            .execute(p)
            .await?;
    });
    Ok(())
}

/// One row of the checkpoint table, as the health check reads it.
#[derive(Debug, Clone)]
pub struct CheckpointRow {
    pub generation: i32,
    pub position: i64,
    pub failure: Option<(i64, String)>,
}

pub async fn read_active(
    pool: &Pool,
    tenant: &str,
    projection: &str,
) -> Result<Option<CheckpointRow>, ProjectionError> {
    const SQL: &str = "SELECT generation, position, failed_position, failure
         FROM projection_checkpoints WHERE tenant_id = $1 AND projection = $2 AND active";
    on_each!(pool pool, p => sqlx::query(SQL)
        .bind(tenant)
        .bind(projection)
        .fetch_optional(p)
        .await?
        .map(|r| -> Result<CheckpointRow, ProjectionError> {
            Ok(CheckpointRow {
                generation: r.try_get(0)?,
                position: r.try_get(1)?,
                failure: claim_of(Ok(0), r.try_get(2), r.try_get(3))?.failure,
            })
        })
        .transpose())
}

/// For each projection of `tenant`, its active generation and the position of its last
/// batch that changed documents: a document parsed at those is still current. One query
/// for every projection, since a request reads several.
pub async fn docs_positions(
    pool: &Pool,
    tenant: &str,
) -> Result<Vec<(String, i32, i64)>, ProjectionError> {
    const SQL: &str = "SELECT projection, generation, docs_position
         FROM projection_checkpoints WHERE tenant_id = $1 AND active";
    Ok(on_each!(pool pool, p => sqlx::query_as(SQL)
        .bind(tenant)
        .fetch_all(p)
        .await?))
}

/// Adds a new, inactive generation after the newest one, leased to nobody.
pub async fn create_generation(pool: &Pool, current: &Scope) -> Result<i32, ProjectionError> {
    const SQL: &str =
        "INSERT INTO projection_checkpoints (tenant_id, projection, generation, active)
         SELECT $1, $2, MAX(generation) + 1, $3 FROM projection_checkpoints
         WHERE tenant_id = $1 AND projection = $2
         RETURNING generation";
    Ok(on_each!(pool pool, p => sqlx::query_scalar(SQL)
        .bind(&current.tenant)
        .bind(&current.projection)
        .bind(false)
        .fetch_one(p)
        .await?))
}

/// Makes `generation` the one readers use, and drops the other generations and their
/// documents, in one transaction.
pub async fn switch(pool: &Pool, current: &Scope, generation: i32) -> Result<(), ProjectionError> {
    const OFF: &str = "UPDATE projection_checkpoints SET active = $3
         WHERE tenant_id = $1 AND projection = $2 AND active";
    const ON: &str = "UPDATE projection_checkpoints SET active = $4
         WHERE tenant_id = $1 AND projection = $2 AND generation = $3";
    const DROP_DOCS: &str = "DELETE FROM projection_docs
         WHERE tenant_id = $1 AND projection = $2 AND generation <> $3";
    const DROP_ROWS: &str = "DELETE FROM projection_checkpoints
         WHERE tenant_id = $1 AND projection = $2 AND generation <> $3";
    let (t, p) = (&current.tenant, &current.projection);
    let mut tx = begin(pool).await?;
    on_each!(tx &mut tx, c => {
        sqlx::query(OFF).bind(t).bind(p).bind(false).execute(&mut **c).await?;
        sqlx::query(ON).bind(t).bind(p).bind(generation).bind(true).execute(&mut **c).await?;
        sqlx::query(DROP_DOCS).bind(t).bind(p).bind(generation).execute(&mut **c).await?;
        sqlx::query(DROP_ROWS).bind(t).bind(p).bind(generation).execute(&mut **c).await?;
    });
    Ok(tx.commit().await?)
}

/// The active generation's checkpoint, locked until `tx` ends: `(generation, position,
/// stopped)`. Inline projections read it in the append transaction.
pub async fn lock_active(
    tx: &mut Tx,
    tenant: &str,
    projection: &str,
) -> Result<Option<(i32, i64, bool)>, ProjectionError> {
    const SQL: &str = "SELECT generation, position, failed_position IS NOT NULL
         FROM projection_checkpoints WHERE tenant_id = $1 AND projection = $2 AND active";
    // SQLite has no row locks: the append transaction already holds the database's.
    let row = match tx {
        Tx::Postgres(t) => sqlx::query(&format!("{SQL} FOR UPDATE"))
            .bind(tenant)
            .bind(projection)
            .fetch_optional(&mut **t)
            .await?
            .map(|r| -> Result<_, sqlx::Error> {
                Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
            }),
        Tx::Sqlite(t) => sqlx::query(SQL)
            .bind(tenant)
            .bind(projection)
            .fetch_optional(&mut **t)
            .await?
            .map(|r| -> Result<_, sqlx::Error> {
                Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
            }),
    };
    Ok(row.transpose()?)
}

/// Creates generation 1 of a projection in `tx` unless it has any generation.
pub async fn create_first(
    tx: &mut Tx,
    tenant: &str,
    projection: &str,
) -> Result<(), ProjectionError> {
    on_each!(tx tx, t => {
        sqlx::query(CREATE_FIRST)
            .bind(tenant)
            .bind(projection)
            .bind(true)
            .execute(&mut **t)
            .await?;
    });
    Ok(())
}

/// Refreshes Postgres's statistics of the documents table after it grew a lot (a
/// catch-up, a rebuild). With the statistics of a nearly empty table, the planner
/// looks a batch's documents up by establishment and projection alone and filters the
/// keys, reading every document of the projection; autovacuum would fix it, but only
/// a minute or so later. SQLite plans by the primary key without statistics.
pub async fn refresh_statistics(pool: &Pool) -> Result<(), ProjectionError> {
    if let Pool::Postgres(p) = pool {
        sqlx::query("ANALYZE projection_docs").execute(p).await?;
    }
    Ok(())
}

/// Where an active projection of an establishment stands, as the scheduler reads it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Standing {
    pub tenant: String,
    pub projection: String,
    pub position: i64,
    pub stopped: bool,
}

const STANDINGS: &str = "SELECT tenant_id AS tenant, projection, position,
        failed_position IS NOT NULL AS stopped
     FROM projection_checkpoints WHERE active";

/// Every active checkpoint, in one query: the scheduler's first look at a database.
pub async fn standings(pool: &Pool) -> Result<Vec<Standing>, ProjectionError> {
    Ok(on_each!(pool pool, p => sqlx::query_as(STANDINGS).fetch_all(p).await?))
}

/// The active checkpoints of one establishment.
pub async fn standings_of(pool: &Pool, tenant: &str) -> Result<Vec<Standing>, ProjectionError> {
    let sql = format!("{STANDINGS} AND tenant_id = $1");
    Ok(on_each!(pool pool, p => sqlx::query_as(&sql).bind(tenant).fetch_all(p).await?))
}

/// The position of the last event of `tenant`'s log (0 when it is empty or unknown).
pub async fn head(pool: &Pool, tenant: &str) -> Result<i64, ProjectionError> {
    const SQL: &str = "SELECT next_position - 1 FROM tenants WHERE tenant_id = $1";
    let head: Option<i64> =
        on_each!(pool pool, p => sqlx::query_scalar(SQL).bind(tenant).fetch_optional(p).await?);
    Ok(head.unwrap_or_default())
}

/// The health of one projection over every establishment.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct ProjectionHealth {
    pub projection: String,
    /// Establishments whose log this projection has started to follow.
    pub units: i64,
    /// Of those, how many have events it has not applied yet.
    pub behind: i64,
    /// Of those, how many stopped at an event they cannot apply.
    pub stopped: i64,
    pub max_lag_events: i64,
    /// Age of the oldest event not applied, in microseconds of the database's clock.
    pub max_lag_us: Option<i64>,
}

/// The health of every projection of every establishment, in two aggregated queries
/// whatever the number of establishments: readiness and metrics read it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    pub establishments: i64,
    /// Establishments with events and no checkpoint yet for at least one projection.
    pub not_started: i64,
    /// Age of the first event of the oldest of those, in microseconds.
    pub not_started_lag_us: Option<i64>,
    pub projections: Vec<ProjectionHealth>,
}

macro_rules! health_sql {
    ($backend:tt) => {
        concat!(
            "SELECT c.projection,
                    COUNT(*) AS units,
                    COALESCE(SUM(CASE WHEN c.position < t.next_position - 1 THEN 1 ELSE 0 END), 0)
                        AS behind,
                    COALESCE(SUM(CASE WHEN c.failed_position IS NOT NULL THEN 1 ELSE 0 END), 0)
                        AS stopped,
                    COALESCE(MAX(t.next_position - 1 - c.position), 0) AS max_lag_events,
                    ",
            now_us!($backend),
            " - MIN(CASE WHEN c.position < t.next_position - 1 THEN ",
            next_event_us!($backend),
            " END) AS max_lag_us
             FROM projection_checkpoints c JOIN tenants t ON t.tenant_id = c.tenant_id
             WHERE c.active
             GROUP BY c.projection
             ORDER BY c.projection"
        )
    };
}

macro_rules! not_started_sql {
    ($backend:tt) => {
        concat!(
            "SELECT (SELECT COUNT(*) FROM tenants),
                    COUNT(*),
                    ",
            now_us!($backend),
            " - MIN((SELECT ",
            recorded_us!($backend, "e.recorded_at"),
            " FROM events e WHERE e.tenant_id = t.tenant_id AND e.position = 1))
             FROM tenants t
             WHERE t.next_position > 1
               AND (SELECT COUNT(*) FROM projection_checkpoints c
                    WHERE c.tenant_id = t.tenant_id AND c.active) < $1"
        )
    };
}

/// See [`Health`]; `projections`: how many projections each establishment should have.
pub async fn health(pool: &Pool, projections: i64) -> Result<Health, ProjectionError> {
    let (per_projection, (establishments, not_started, not_started_lag_us)) = match pool {
        Pool::Postgres(p) => (
            sqlx::query_as(health_sql!(postgres)).fetch_all(p).await?,
            sqlx::query_as::<_, (i64, i64, Option<i64>)>(not_started_sql!(postgres))
                .bind(projections)
                .fetch_one(p)
                .await?,
        ),
        Pool::Sqlite(p) => (
            sqlx::query_as(health_sql!(sqlite)).fetch_all(p).await?,
            sqlx::query_as::<_, (i64, i64, Option<i64>)>(not_started_sql!(sqlite))
                .bind(projections)
                .fetch_one(p)
                .await?,
        ),
    };
    Ok(Health {
        establishments,
        not_started,
        not_started_lag_us,
        projections: per_projection,
    })
}

/// One projection of one establishment that is behind or stopped.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Lagging {
    pub tenant: String,
    pub projection: String,
    pub position: i64,
    pub head: i64,
    pub lag_us: Option<i64>,
    pub failure: Option<String>,
}

macro_rules! lagging_sql {
    ($backend:tt) => {
        concat!(
            "SELECT c.tenant_id AS tenant, c.projection, c.position, t.next_position - 1 AS head,
                    CASE WHEN c.position < t.next_position - 1 THEN ",
            now_us!($backend),
            " - ",
            next_event_us!($backend),
            " END AS lag_us,
                    c.failure
             FROM projection_checkpoints c JOIN tenants t ON t.tenant_id = c.tenant_id
             WHERE c.active AND (c.position < t.next_position - 1 OR c.failed_position IS NOT NULL)
             ORDER BY t.next_position - 1 - c.position DESC, c.tenant_id, c.projection
             LIMIT $1"
        )
    };
}

/// The projections that are behind or stopped, furthest behind first, at most `limit`:
/// the detail behind [`health`], for operators.
pub async fn lagging(pool: &Pool, limit: i64) -> Result<Vec<Lagging>, ProjectionError> {
    Ok(match pool {
        Pool::Postgres(p) => {
            sqlx::query_as(lagging_sql!(postgres))
                .bind(limit)
                .fetch_all(p)
                .await?
        }
        Pool::Sqlite(p) => {
            sqlx::query_as(lagging_sql!(sqlite))
                .bind(limit)
                .fetch_all(p)
                .await?
        }
    })
}

/// Gives up every lease `owner` holds (a clean shutdown), in one statement.
pub async fn release_all(pool: &Pool, owner: &str) -> Result<(), ProjectionError> {
    const SQL: &str = "UPDATE projection_checkpoints SET lease_owner = NULL, lease_until_us = NULL
         WHERE lease_owner = $1";
    on_each!(pool pool, p => {
        sqlx::query(SQL).bind(owner).execute(p).await?;
    });
    Ok(())
}
