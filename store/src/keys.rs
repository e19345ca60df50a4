//! The key table of personal data (`person_keys`), on both databases. Kept beside the log,
//! never in it: erasing a key is an UPDATE here, while the log refuses any. Keys are
//! stored wrapped by a KEK of the keyring ([`crate::keyring`]), never in clear (but for
//! rows written before wrapping existed, which [`crate::vault::Vault::wrap_clear_keys`]
//! wraps when the store opens).

use carnet_domain::Uai;
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::Row;

use crate::backend::Pool;
use crate::error::StoreError;
use crate::keyring::Wrapped;
use crate::sqlite::write_turn;

/// One row of the key table.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonKey {
    /// The key id: a person, or a person's data of one purpose and year.
    pub owner: String,
    pub person: String,
    /// `None` once erased.
    pub key: Option<StoredKey>,
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

/// A key as a row holds it.
#[derive(Clone, PartialEq, Eq)]
pub enum StoredKey {
    Wrapped(Wrapped),
    /// In clear: a row written before keys were wrapped, or read from an export of then.
    Clear([u8; 32]),
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoredKey::Wrapped(w) => w.fmt(f),
            StoredKey::Clear(_) => f.write_str("Clear(..)"),
        }
    }
}

impl StoredKey {
    /// The bytes and KEK id of the row.
    fn columns(&self) -> (Vec<u8>, Option<&str>) {
        match self {
            StoredKey::Wrapped(w) => (w.bytes.clone(), Some(w.kek.as_str())),
            StoredKey::Clear(key) => (key.to_vec(), None),
        }
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

const COLUMNS: &str = "owner, person, key, kek, created_at, erased_at, grounds";

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
            let columns: Vec<Option<(Vec<u8>, Option<&str>)>> = keys
                .iter()
                .map(|k| k.key.as_ref().map(StoredKey::columns))
                .collect();
            let secrets: Vec<Option<Vec<u8>>> = columns
                .iter()
                .map(|c| c.as_ref().map(|(bytes, _)| bytes.clone()))
                .collect();
            let keks: Vec<Option<&str>> = columns
                .iter()
                .map(|c| c.as_ref().and_then(|(_, kek)| *kek))
                .collect();
            let created: Vec<DateTime<Utc>> = keys.iter().map(|k| k.created_at).collect();
            let erased: Vec<Option<DateTime<Utc>>> = keys.iter().map(|k| k.erased_at).collect();
            let grounds: Vec<Option<&str>> = keys.iter().map(|k| k.grounds.as_deref()).collect();
            sqlx::query(
                "INSERT INTO person_keys (tenant_id, owner, person, key, kek, created_at, erased_at, grounds)
                 SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::bytea[], $5::text[],
                                          $6::timestamptz[], $7::timestamptz[], $8::text[])
                 ON CONFLICT (tenant_id, owner) DO NOTHING",
            )
            .bind(tenant.as_str())
            .bind(owners)
            .bind(persons)
            .bind(secrets)
            .bind(keks)
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
                let (secret, kek) = match k.key.as_ref().map(StoredKey::columns) {
                    Some((bytes, kek)) => (Some(bytes), kek),
                    None => (None, None),
                };
                sqlx::query(
                    "INSERT INTO person_keys (tenant_id, owner, person, key, kek, created_at, erased_at, grounds)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (tenant_id, owner) DO NOTHING",
                )
                .bind(tenant.as_str())
                .bind(&k.owner)
                .bind(&k.person)
                .bind(secret)
                .bind(kek)
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
                "UPDATE person_keys SET key = NULL, kek = NULL, erased_at = $3, grounds = $4
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
                "UPDATE person_keys SET key = NULL, kek = NULL, erased_at = ?3, grounds = ?4
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

/// Up to `limit` live keys, of any establishment, in clear (rows from before wrapping)
/// and, if `current` is given, wrapped by another KEK than it.
pub async fn not_wrapped_by(
    pool: &Pool,
    current: Option<&str>,
    limit: i64,
) -> Result<Vec<(Uai, PersonKey)>, StoreError> {
    let sql = |p: [&str; 2]| {
        let older = if current.is_some() {
            format!("OR kek <> {}", p[0])
        } else {
            String::new()
        };
        format!(
            "SELECT tenant_id, {COLUMNS} FROM person_keys
             WHERE key IS NOT NULL AND (kek IS NULL {older}) LIMIT {}",
            p[1]
        )
    };
    let current = current.unwrap_or_default();
    let tenant = |text: String| {
        Uai::parse(&text).map_err(|e| StoreError::Config(format!("person_keys: {e}")))
    };
    match pool {
        Pool::Postgres(pg) => {
            let rows = sqlx::query(&sql(["$1", "$2"]))
                .bind(current)
                .bind(limit)
                .fetch_all(pg)
                .await?;
            rows.iter()
                .map(|r| Ok((tenant(r.try_get("tenant_id")?)?, pg_row(r)?)))
                .collect()
        }
        Pool::Sqlite(lite) => {
            let rows = sqlx::query(&sql(["?1", "?2"]))
                .bind(current)
                .bind(limit)
                .fetch_all(lite)
                .await?;
            rows.iter()
                .map(|r| Ok((tenant(r.try_get("tenant_id")?)?, sqlite_row(r)?)))
                .collect()
        }
    }
}

/// Replaces the key of `owner` by `new` if the row still holds `old` (an erasure or
/// another rewrap meanwhile wins); whether it was replaced.
pub async fn replace(
    pool: &Pool,
    tenant: &Uai,
    owner: &str,
    old: &StoredKey,
    new: &Wrapped,
) -> Result<bool, StoreError> {
    let (old_bytes, _) = old.columns();
    let sql = |p: [&str; 5]| {
        format!(
            "UPDATE person_keys SET key = {}, kek = {}
             WHERE tenant_id = {} AND owner = {} AND key = {}",
            p[0], p[1], p[2], p[3], p[4]
        )
    };
    let done = match pool {
        Pool::Postgres(pg) => sqlx::query(&sql(["$1", "$2", "$3", "$4", "$5"]))
            .bind(&new.bytes)
            .bind(&new.kek)
            .bind(tenant.as_str())
            .bind(owner)
            .bind(old_bytes)
            .execute(pg)
            .await?
            .rows_affected(),
        Pool::Sqlite(lite) => {
            let _turn = write_turn(lite).await;
            sqlx::query(&sql(["?1", "?2", "?3", "?4", "?5"]))
                .bind(&new.bytes)
                .bind(&new.kek)
                .bind(tenant.as_str())
                .bind(owner)
                .bind(old_bytes)
                .execute(lite)
                .await?
                .rows_affected()
        }
    };
    Ok(done == 1)
}

/// How many live keys each KEK wraps (`None`: keys in clear, from before wrapping).
pub async fn usage(pool: &Pool) -> Result<Vec<(Option<String>, i64)>, StoreError> {
    let sql = "SELECT kek, count(*) AS keys FROM person_keys WHERE key IS NOT NULL
               GROUP BY kek ORDER BY kek";
    let rows = match pool {
        Pool::Postgres(pg) => sqlx::query(sql)
            .fetch_all(pg)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("kek")?, r.try_get("keys")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?,
        Pool::Sqlite(lite) => sqlx::query(sql)
            .fetch_all(lite)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("kek")?, r.try_get("keys")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?,
    };
    Ok(rows)
}

/// The probes of the KEKs that wrapped keys here (see [`crate::keyring::Keyring::probe`]).
pub async fn probes(pool: &Pool) -> Result<Vec<Wrapped>, StoreError> {
    let sql = "SELECT kek, probe FROM key_wrapping ORDER BY kek";
    let probe = |kek: String, bytes: Vec<u8>| Wrapped { kek, bytes };
    Ok(match pool {
        Pool::Postgres(pg) => sqlx::query(sql)
            .fetch_all(pg)
            .await?
            .iter()
            .map(|r| Ok(probe(r.try_get("kek")?, r.try_get("probe")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?,
        Pool::Sqlite(lite) => sqlx::query(sql)
            .fetch_all(lite)
            .await?
            .iter()
            .map(|r| Ok(probe(r.try_get("kek")?, r.try_get("probe")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?,
    })
}

/// Records the probe of a KEK (kept if one is there already).
pub async fn add_probe(pool: &Pool, probe: &Wrapped) -> Result<(), StoreError> {
    match pool {
        Pool::Postgres(pg) => {
            sqlx::query(
                "INSERT INTO key_wrapping (kek, probe) VALUES ($1, $2) ON CONFLICT (kek) DO NOTHING",
            )
            .bind(&probe.kek)
            .bind(&probe.bytes)
            .execute(pg)
            .await?;
        }
        Pool::Sqlite(lite) => {
            let _turn = write_turn(lite).await;
            sqlx::query(
                "INSERT INTO key_wrapping (kek, probe, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (kek) DO NOTHING",
            )
            .bind(&probe.kek)
            .bind(&probe.bytes)
            .bind(time_text(crate::model::now_micros()))
            .execute(lite)
            .await?;
        }
    }
    Ok(())
}

/// Forgets a retired KEK; refused while a key is still wrapped by it.
pub async fn drop_probe(pool: &Pool, kek: &str) -> Result<(), StoreError> {
    let in_use = usage(pool)
        .await?
        .into_iter()
        .find(|(id, _)| id.as_deref() == Some(kek));
    if let Some((_, keys)) = in_use {
        return Err(StoreError::Config(format!(
            "{keys} keys are still wrapped by the KEK `{kek}`: run `carnet keys rewrap` first"
        )));
    }
    match pool {
        Pool::Postgres(pg) => {
            sqlx::query("DELETE FROM key_wrapping WHERE kek = $1")
                .bind(kek)
                .execute(pg)
                .await?;
        }
        Pool::Sqlite(lite) => {
            let _turn = write_turn(lite).await;
            sqlx::query("DELETE FROM key_wrapping WHERE kek = ?1")
                .bind(kek)
                .execute(lite)
                .await?;
        }
    }
    Ok(())
}

/// Removes from the database's files what an erasure left of the keys: the old row
/// versions (Postgres: VACUUM of the key table, which prunes them from its pages) and the
/// write-ahead log's copy of the pages (SQLite, whose `secure_delete` already zeroes
/// what is freed: a checkpoint that empties the WAL file).
pub async fn purge(pool: &Pool) -> Result<(), StoreError> {
    match pool {
        Pool::Postgres(pg) => {
            sqlx::query("VACUUM person_keys").execute(pg).await?;
        }
        Pool::Sqlite(lite) => {
            let _turn = write_turn(lite).await;
            let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(lite)
                .await?;
            if busy != 0 {
                tracing::warn!(
                    "a reader held the database: the WAL will be emptied at the next checkpoint"
                );
            }
        }
    }
    Ok(())
}

fn stored(
    bytes: Option<Vec<u8>>,
    kek: Option<String>,
    owner: &str,
) -> Result<Option<StoredKey>, StoreError> {
    Ok(match (bytes, kek) {
        (None, _) => None,
        (Some(bytes), Some(kek)) => Some(StoredKey::Wrapped(Wrapped { kek, bytes })),
        (Some(bytes), None) => Some(StoredKey::Clear(
            <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                StoreError::Config(format!(
                    "the key of {owner} has {} bytes, not 32",
                    bytes.len()
                ))
            })?,
        )),
    })
}

fn pg_row(row: &sqlx::postgres::PgRow) -> Result<PersonKey, StoreError> {
    let owner: String = row.try_get("owner")?;
    Ok(PersonKey {
        key: stored(row.try_get("key")?, row.try_get("kek")?, &owner)?,
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
        key: stored(row.try_get("key")?, row.try_get("kek")?, &owner)?,
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
