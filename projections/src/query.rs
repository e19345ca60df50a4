//! Reading the read models: the documents of a projection's active generation.

use crate::checkpoint::on_each;
use crate::docs::Scope;
use crate::error::ProjectionError;
use carnet_domain::Uai;
use carnet_store::Pool;
use serde::de::DeserializeOwned;

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

fn typed<T: DeserializeOwned>(s: &Scope, key: &str, text: &str) -> Result<T, ProjectionError> {
    serde_json::from_str(text).map_err(|e| ProjectionError::BadDocument {
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
    let text: Option<String> = on_each!(pool pool, p => sqlx::query_scalar(ONE)
        .bind(tenant.as_str())
        .bind(projection)
        .bind(key)
        .fetch_optional(p)
        .await?);
    text.map(|t| typed(&scope(tenant, projection), key, &t))
        .transpose()
}

/// Every document whose key starts with `prefix`, in key order.
pub async fn docs_with_prefix<T: DeserializeOwned>(
    pool: &Pool,
    tenant: &Uai,
    projection: &str,
    prefix: &str,
) -> Result<Vec<(String, T)>, ProjectionError> {
    let s = scope(tenant, projection);
    let rows: Vec<(String, String)> = on_each!(pool pool, p => sqlx::query_as(PREFIX)
        .bind(tenant.as_str())
        .bind(projection)
        .bind(prefix)
        .fetch_all(p)
        .await?);
    rows.into_iter()
        .map(|(k, text)| {
            let t = typed(&s, &k, &text)?;
            Ok((k, t))
        })
        .collect()
}
