//! Reading the read models: the documents of a projection's active generation.

use carnet_domain::Uai;
use carnet_store::Pool;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::Row;

use crate::docs::{parse, Scope};
use crate::error::ProjectionError;

const ONE: &str = "SELECT d.doc FROM projection_docs d
     JOIN projection_checkpoints c ON c.tenant_id = d.tenant_id AND c.projection = d.projection
          AND c.generation = d.generation AND c.active
     WHERE d.tenant_id = $1 AND d.projection = $2 AND d.key = $3";

const PREFIX: &str = "SELECT d.key, d.doc FROM projection_docs d
     JOIN projection_checkpoints c ON c.tenant_id = d.tenant_id AND c.projection = d.projection
          AND c.generation = d.generation AND c.active
     WHERE d.tenant_id = $1 AND d.projection = $2 AND substr(d.key, 1, length($3)) = $3
     ORDER BY d.key";

fn scope(tenant: &Uai, projection: &str) -> Scope {
    Scope {
        tenant: tenant.to_string(),
        projection: projection.to_string(),
        generation: 0,
    }
}

fn typed<T: DeserializeOwned>(s: &Scope, key: &str, value: Value) -> Result<T, ProjectionError> {
    serde_json::from_value(value).map_err(|e| ProjectionError::BadDocument {
        projection: s.projection.clone(),
        key: key.to_string(),
        reason: e.to_string(),
    })
}

/// One document of the active generation.
pub async fn doc<T: DeserializeOwned>(
    pool: &Pool,
    tenant: &Uai,
    projection: &str,
    key: &str,
) -> Result<Option<T>, ProjectionError> {
    let s = scope(tenant, projection);
    let value = match pool {
        Pool::Postgres(p) => sqlx::query(ONE)
            .bind(tenant.as_str())
            .bind(projection)
            .bind(key)
            .fetch_optional(p)
            .await?
            .map(|r| r.try_get::<Value, _>(0))
            .transpose()?,
        Pool::Sqlite(p) => sqlx::query(ONE)
            .bind(tenant.as_str())
            .bind(projection)
            .bind(key)
            .fetch_optional(p)
            .await?
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?
            .map(|t| parse(&s, key, &t))
            .transpose()?,
    };
    value.map(|v| typed(&s, key, v)).transpose()
}

/// Every document whose key starts with `prefix`, in key order.
pub async fn docs_with_prefix<T: DeserializeOwned>(
    pool: &Pool,
    tenant: &Uai,
    projection: &str,
    prefix: &str,
) -> Result<Vec<(String, T)>, ProjectionError> {
    let s = scope(tenant, projection);
    let rows: Vec<(String, Value)> = match pool {
        Pool::Postgres(p) => sqlx::query(PREFIX)
            .bind(tenant.as_str())
            .bind(projection)
            .bind(prefix)
            .fetch_all(p)
            .await?
            .into_iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()?,
        Pool::Sqlite(p) => sqlx::query(PREFIX)
            .bind(tenant.as_str())
            .bind(projection)
            .bind(prefix)
            .fetch_all(p)
            .await?
            .into_iter()
            .map(|r| -> Result<(String, Value), ProjectionError> {
                let key: String = r.try_get(0)?;
                let text: String = r.try_get(1)?;
                let value = parse(&s, &key, &text)?;
                Ok((key, value))
            })
            .collect::<Result<_, _>>()?,
    };
    rows.into_iter()
        .map(|(k, v)| {
            let t = typed(&s, &k, v)?;
            Ok((k, t))
        })
        .collect()
}
