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

/// Takes or renews the lease of `scope` for `owner` until `until_us`, if it is free, ours,
/// or ran out before `now_us`. `None` when another instance holds it.
pub async fn claim(
    tx: &mut Tx,
    scope: &Scope,
    owner: &str,
    now_us: i64,
    until_us: i64,
) -> Result<Option<Claim>, ProjectionError> {
    const SQL: &str = "UPDATE projection_checkpoints
         SET lease_owner = $4, lease_until_us = $5
         WHERE tenant_id = $1 AND projection = $2 AND generation = $3
           AND (lease_owner IS NULL OR lease_owner = $4 OR lease_until_us < $6)
         RETURNING position, failed_position, failure";
    on_each!(tx tx, t => sqlx::query(SQL)
        .bind(&scope.tenant)
        .bind(&scope.projection)
        .bind(scope.generation)
        .bind(owner)
        .bind(until_us)
        .bind(now_us)
        .fetch_optional(&mut **t)
        .await?
        .map(|r| claim_of(r.try_get(0), r.try_get(1), r.try_get(2)))
        .transpose())
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
