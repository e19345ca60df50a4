//! The key table of personal data (`person_keys`), on both databases. Kept beside the log,
//! never in it: erasing a key is an UPDATE here, while the log refuses any.

use carnet_domain::Uai;
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::Row;

use crate::backend::Pool;
use crate::error::StoreError;
use crate::sqlite::write_turn;

/// One row of the key table.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonKey {
    /// The key id: a person, or a person's data of one purpose and year.
    pub owner: String,
    pub person: String,
    /// `None` once erased.
    pub key: Option<[u8; 32]>,
    pub created_at: DateTime<Utc>,
    pub erased_at: Option<DateTime<Utc>>,
    /// Why it was erased: the request, or the retention rule.
    pub grounds: Option<String>,
}

impl std::fmt::Debug for PersonKey {
    // Never prints the key itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonKey")
            .field("owner", &self.owner)
            .field("erased_at", &self.erased_at)
            .finish_non_exhaustive()
    }
}

/// What an erasure destroys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erase {
    /// Every key of a person, and no key is made for them again.
    Person(String),
    /// One key id (a retention rule: a student's absences of one year).
    Owner(String),
}

const COLUMNS: &str = "owner, person, key, created_at, erased_at, grounds";

/// The rows of `owners` (those that exist).
pub async fn load(
    pool: &Pool,
    tenant: &Uai,
    owners: &[String],
) -> Result<Vec<PersonKey>, StoreError> {
    if owners.is_empty() {
        return Ok(Vec::new());
    }
    match pool {
        Pool::Postgres(pool) => {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM person_keys WHERE tenant_id = $1 AND owner = ANY($2)"
            ))
            .bind(tenant.as_str())
            .bind(owners)
            .fetch_all(pool)
            .await?;
            rows.iter().map(pg_row).collect()
        }
        Pool::Sqlite(pool) => {
            let mut out = Vec::with_capacity(owners.len());
            // SQLite has no arrays: a JSON array unpacked by json_each, one statement.
            let list = serde_json::to_string(owners).map_err(|e| StoreError::InvalidInput {
                field: "owners",
                reason: e.to_string(),
            })?;
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM person_keys
                 WHERE tenant_id = ?1 AND owner IN (SELECT value FROM json_each(?2))"
            ))
            .bind(tenant.as_str())
            .bind(list)
            .fetch_all(pool)
            .await?;
            for row in &rows {
                out.push(sqlite_row(row)?);
            }
            Ok(out)
        }
    }
}

/// Every row of the establishment, by owner.
pub async fn all(pool: &Pool, tenant: &Uai) -> Result<Vec<PersonKey>, StoreError> {
    match pool {
        Pool::Postgres(pool) => {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM person_keys WHERE tenant_id = $1 ORDER BY owner"
            ))
            .bind(tenant.as_str())
            .fetch_all(pool)
            .await?;
            rows.iter().map(pg_row).collect()
        }
        Pool::Sqlite(pool) => {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM person_keys WHERE tenant_id = ?1 ORDER BY owner"
            ))
            .bind(tenant.as_str())
            .fetch_all(pool)
            .await?;
            rows.iter().map(sqlite_row).collect()
        }
    }
}

/// Inserts `keys`; an owner already present keeps its row (another writer made its key
/// first, or it was erased).
pub async fn insert(pool: &Pool, tenant: &Uai, keys: &[PersonKey]) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    match pool {
        Pool::Postgres(pool) => {
            let owners: Vec<&str> = keys.iter().map(|k| k.owner.as_str()).collect();
            let persons: Vec<&str> = keys.iter().map(|k| k.person.as_str()).collect();
            let secrets: Vec<Option<Vec<u8>>> =
                keys.iter().map(|k| k.key.map(|b| b.to_vec())).collect();
            let created: Vec<DateTime<Utc>> = keys.iter().map(|k| k.created_at).collect();
            let erased: Vec<Option<DateTime<Utc>>> = keys.iter().map(|k| k.erased_at).collect();
            let grounds: Vec<Option<&str>> = keys.iter().map(|k| k.grounds.as_deref()).collect();
            sqlx::query(
                "INSERT INTO person_keys (tenant_id, owner, person, key, created_at, erased_at, grounds)
                 SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::bytea[], $5::timestamptz[],
                                          $6::timestamptz[], $7::text[])
                 ON CONFLICT (tenant_id, owner) DO NOTHING",
            )
            .bind(tenant.as_str())
            .bind(owners)
            .bind(persons)
            .bind(secrets)
            .bind(created)
            .bind(erased)
            .bind(grounds)
            .execute(pool)
            .await?;
        }
        Pool::Sqlite(pool) => {
            let _turn = write_turn(pool).await;
            let mut tx = pool.begin().await?;
            for k in keys {
                sqlx::query(
                    "INSERT INTO person_keys (tenant_id, owner, person, key, created_at, erased_at, grounds)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (tenant_id, owner) DO NOTHING",
                )
                .bind(tenant.as_str())
                .bind(&k.owner)
                .bind(&k.person)
                .bind(k.key.map(|b| b.to_vec()))
                .bind(time_text(k.created_at))
                .bind(k.erased_at.map(time_text))
                .bind(k.grounds.as_deref())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
    }
    Ok(())
}

/// Destroys the keys `what` names and returns the owners erased now (already erased
/// ones are left as they were). Erasing a person also leaves a row under their id, so
/// that no key is made for them later.
pub async fn erase(
    pool: &Pool,
    tenant: &Uai,
    what: &Erase,
    grounds: &str,
    at: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let (column, id) = match what {
        Erase::Person(person) => ("person", person),
        Erase::Owner(owner) => ("owner", owner),
    };
    let erased = match pool {
        Pool::Postgres(pg) => {
            let rows = sqlx::query(&format!(
                "UPDATE person_keys SET key = NULL, erased_at = $3, grounds = $4
                 WHERE tenant_id = $1 AND {column} = $2 AND key IS NOT NULL RETURNING owner"
            ))
            .bind(tenant.as_str())
            .bind(id)
            .bind(at)
            .bind(grounds)
            .fetch_all(pg)
            .await?;
            rows.iter()
                .map(|r| r.try_get::<String, _>("owner"))
                .collect::<Result<Vec<_>, _>>()?
        }
        Pool::Sqlite(lite) => {
            let _turn = write_turn(lite).await;
            let rows = sqlx::query(&format!(
                "UPDATE person_keys SET key = NULL, erased_at = ?3, grounds = ?4
                 WHERE tenant_id = ?1 AND {column} = ?2 AND key IS NOT NULL RETURNING owner"
            ))
            .bind(tenant.as_str())
            .bind(id)
            .bind(time_text(at))
            .bind(grounds)
            .fetch_all(lite)
            .await?;
            rows.iter()
                .map(|r| r.try_get::<String, _>("owner"))
                .collect::<Result<Vec<_>, _>>()?
        }
    };
    if let Erase::Person(person) = what {
        let marker = PersonKey {
            owner: person.clone(),
            person: person.clone(),
            key: None,
            created_at: at,
            erased_at: Some(at),
            grounds: Some(grounds.to_string()),
        };
        insert(pool, tenant, &[marker]).await?;
    }
    Ok(erased)
}

/// Deletes the key rows of an establishment absent from `tenants` (leftovers of a
/// failed import). The establishment's own row is checked in the same statement, so the
/// keys of a live establishment are never deleted.
pub async fn forget(pool: &Pool, tenant: &Uai) -> Result<(), StoreError> {
    let sql = |p: &str| {
        format!(
            "DELETE FROM person_keys WHERE tenant_id = {p}
             AND NOT EXISTS (SELECT 1 FROM tenants WHERE tenant_id = {p})"
        )
    };
    match pool {
        Pool::Postgres(pg) => {
            sqlx::query(&sql("$1"))
                .bind(tenant.as_str())
                .execute(pg)
                .await?;
        }
        Pool::Sqlite(lite) => {
            let _turn = write_turn(lite).await;
            sqlx::query(&sql("?1"))
                .bind(tenant.as_str())
                .execute(lite)
                .await?;
        }
    }
    Ok(())
}

fn secret(bytes: Option<Vec<u8>>, owner: &str) -> Result<Option<[u8; 32]>, StoreError> {
    bytes
        .map(|b| {
            <[u8; 32]>::try_from(b.as_slice()).map_err(|_| {
                StoreError::Config(format!("the key of {owner} has {} bytes, not 32", b.len()))
            })
        })
        .transpose()
}

fn pg_row(row: &sqlx::postgres::PgRow) -> Result<PersonKey, StoreError> {
    let owner: String = row.try_get("owner")?;
    Ok(PersonKey {
        key: secret(row.try_get("key")?, &owner)?,
        person: row.try_get("person")?,
        created_at: row.try_get("created_at")?,
        erased_at: row.try_get("erased_at")?,
        grounds: row.try_get("grounds")?,
        owner,
    })
}

fn sqlite_row(row: &sqlx::sqlite::SqliteRow) -> Result<PersonKey, StoreError> {
    let owner: String = row.try_get("owner")?;
    let time = |text: String| {
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                StoreError::Config(format!("the key of {owner} has a bad time {text}: {e}"))
            })
    };
    Ok(PersonKey {
        key: secret(row.try_get("key")?, &owner)?,
        person: row.try_get("person")?,
        created_at: time(row.try_get("created_at")?)?,
        erased_at: row
            .try_get::<Option<String>, _>("erased_at")?
            .map(time)
            .transpose()?,
        grounds: row.try_get("grounds")?,
        owner: owner.clone(),
    })
}

fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}
