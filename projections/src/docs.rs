//! Read-model documents: JSON values by key, per establishment, projection and
//! generation, read and written inside the projector's transaction.

use std::any::Any;
use std::collections::{BTreeSet, HashMap};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sqlx::QueryBuilder;

use crate::checkpoint::on_each;

use crate::error::ProjectionError;

/// Which documents: one generation of one projection of one establishment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub tenant: String,
    pub projection: String,
    pub generation: i32,
}

/// A transaction on either database: the projector's own, or an append's (inline).
pub use carnet_store::AppendTx as Tx;

/// A document kept as its Rust value while a batch works on it, and written as JSON only
/// when the batch ends: an aggregate's state changes with every event of its stream, and
/// serializing it each time would cost more than the projection itself.
trait Typed: Send + Sync {
    fn json(&self) -> Result<Value, serde_json::Error>;
    /// Straight to text, for writing: no intermediate `Value` tree.
    fn text(&self) -> Result<String, serde_json::Error>;
    fn any(&mut self) -> &mut dyn Any;
}

impl<T: Serialize + Send + Sync + 'static> Typed for T {
    fn json(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }
    fn text(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
    fn any(&mut self) -> &mut dyn Any {
        self
    }
}

/// The documents a batch of events reads and writes: loaded on first use, kept in
/// memory, written back at the end of the batch.
pub struct Docs {
    scope: Scope,
    cache: HashMap<String, Option<Value>>,
    typed: HashMap<String, Box<dyn Typed>>,
    dirty: BTreeSet<String>,
    /// The generation held no document when this started (a rebuild): a key not in the
    /// cache does not exist, no need to ask the database.
    empty_start: bool,
}

impl std::fmt::Debug for Docs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Docs")
            .field("scope", &self.scope)
            .field("cached", &(self.cache.len() + self.typed.len()))
            .field("dirty", &self.dirty.len())
            .finish()
    }
}

impl Docs {
    pub fn new(scope: Scope, empty_start: bool) -> Self {
        Docs {
            scope,
            cache: HashMap::new(),
            typed: HashMap::new(),
            dirty: BTreeSet::new(),
            empty_start,
        }
    }

    async fn load(&mut self, tx: &mut Tx, key: &str) -> Result<Option<Value>, ProjectionError> {
        if let Some(doc) = self.typed.get(key) {
            return doc.json().map(Some).map_err(|e| self.bad(key, e));
        }
        if let Some(value) = self.cache.get(key) {
            return Ok(value.clone());
        }
        let value = if self.empty_start {
            None
        } else {
            read(tx, &self.scope, key).await?
        };
        self.cache.insert(key.to_string(), value.clone());
        Ok(value)
    }

    /// Loads in one query those of `keys` not held yet: a batch asks for what its events
    /// will touch before applying them, instead of one round trip per document.
    pub async fn prefetch(
        &mut self,
        tx: &mut Tx,
        keys: Vec<String>,
    ) -> Result<(), ProjectionError> {
        if self.empty_start {
            return Ok(());
        }
        let mut missing: Vec<String> = keys
            .into_iter()
            .filter(|k| !self.typed.contains_key(k) && !self.cache.contains_key(k))
            .collect();
        missing.sort();
        missing.dedup();
        for chunk in missing.chunks(500) {
            for (key, value) in read_many(tx, &self.scope, chunk).await? {
                self.cache.insert(key, Some(value));
            }
            for key in chunk {
                self.cache.entry(key.clone()).or_insert(None);
            }
        }
        Ok(())
    }

    /// The document `key`, if it exists.
    pub async fn get<T: DeserializeOwned>(
        &mut self,
        tx: &mut Tx,
        key: &str,
    ) -> Result<Option<T>, ProjectionError> {
        match self.load(tx, key).await? {
            None => Ok(None),
            Some(value) => {
                serde_json::from_value(value)
                    .map(Some)
                    .map_err(|e| ProjectionError::BadDocument {
                        projection: self.scope.projection.clone(),
                        key: key.to_string(),
                        reason: e.to_string(),
                    })
            }
        }
    }

    /// The document `key`, or its default when it does not exist yet.
    pub async fn get_or_default<T: DeserializeOwned + Default>(
        &mut self,
        tx: &mut Tx,
        key: &str,
    ) -> Result<T, ProjectionError> {
        Ok(self.get(tx, key).await?.unwrap_or_default())
    }

    fn bad(&self, key: &str, e: impl std::fmt::Display) -> ProjectionError {
        ProjectionError::BadDocument {
            projection: self.scope.projection.clone(),
            key: key.to_string(),
            reason: e.to_string(),
        }
    }

    /// The document `key` as a Rust value to change in place (its default when it does
    /// not exist yet); it is written back when the batch ends.
    pub async fn typed_mut<T>(&mut self, tx: &mut Tx, key: &str) -> Result<&mut T, ProjectionError>
    where
        T: DeserializeOwned + Serialize + Default + Send + Sync + 'static,
    {
        if !self.typed.contains_key(key) {
            let value: T = self.get(tx, key).await?.unwrap_or_default();
            self.cache.remove(key);
            self.typed.insert(key.to_string(), Box::new(value));
        }
        self.dirty.insert(key.to_string());
        let bad = self.bad(key, "used as two different types");
        self.typed
            .get_mut(key)
            .and_then(|doc| doc.any().downcast_mut::<T>())
            .ok_or(bad)
    }

    pub fn put<T: Serialize>(&mut self, key: &str, doc: &T) -> Result<(), ProjectionError> {
        self.typed.remove(key);
        let value = serde_json::to_value(doc).map_err(|e| ProjectionError::BadDocument {
            projection: self.scope.projection.clone(),
            key: key.to_string(),
            reason: e.to_string(),
        })?;
        self.cache.insert(key.to_string(), Some(value));
        self.dirty.insert(key.to_string());
        Ok(())
    }

    pub fn delete(&mut self, key: &str) {
        self.typed.remove(key);
        self.cache.insert(key.to_string(), None);
        self.dirty.insert(key.to_string());
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Documents held in memory.
    pub fn held(&self) -> usize {
        self.cache.len() + self.typed.len()
    }

    /// Writes the changed documents in `tx`. What is held stays valid after the commit
    /// for as long as nobody else writes this generation: the caller checks that with the
    /// checkpoint, which moves with every write.
    pub async fn flush(&mut self, tx: &mut Tx) -> Result<usize, ProjectionError> {
        let keys: Vec<String> = std::mem::take(&mut self.dirty).into_iter().collect();
        let mut upserts: Vec<(&str, String)> = Vec::new();
        let mut deletes: Vec<&str> = Vec::new();
        for key in &keys {
            if let Some(doc) = self.typed.get(key) {
                upserts.push((key, doc.text().map_err(|e| self.bad(key, e))?));
                continue;
            }
            match self.cache.get(key) {
                Some(Some(value)) => upserts.push((key, value.to_string())),
                _ => deletes.push(key),
            }
        }
        for chunk in upserts.chunks(1000) {
            upsert(tx, &self.scope, chunk).await?;
        }
        for key in deletes {
            remove(tx, &self.scope, key).await?;
        }
        Ok(keys.len())
    }
}

// Documents are JSON text on both databases: written whole and read whole, nothing
// queries inside them, and Postgres parses text into `jsonb` some thirty times slower
// than it stores it (see migrations/postgres/0004).

async fn read(tx: &mut Tx, scope: &Scope, key: &str) -> Result<Option<Value>, ProjectionError> {
    const SQL: &str = "SELECT doc FROM projection_docs
         WHERE tenant_id = $1 AND projection = $2 AND generation = $3 AND key = $4";
    let text: Option<String> = on_each!(tx tx, t => sqlx::query_scalar(SQL)
        .bind(&scope.tenant)
        .bind(&scope.projection)
        .bind(scope.generation)
        .bind(key)
        .fetch_optional(&mut **t)
        .await?);
    text.map(|t| parse(scope, key, &t)).transpose()
}

async fn read_many(
    tx: &mut Tx,
    scope: &Scope,
    keys: &[String],
) -> Result<Vec<(String, Value)>, ProjectionError> {
    const HEAD: &str = "SELECT key, doc FROM projection_docs WHERE tenant_id = ";
    let rows: Vec<(String, String)> = on_each!(tx tx, t => {
        let mut q = QueryBuilder::new(HEAD);
        q.push_bind(&scope.tenant)
            .push(" AND projection = ")
            .push_bind(&scope.projection)
            .push(" AND generation = ")
            .push_bind(scope.generation)
            .push(" AND key IN (");
        let mut list = q.separated(", ");
        for key in keys {
            list.push_bind(key);
        }
        q.push(")");
        q.build_query_as().fetch_all(&mut **t).await?
    });
    rows.into_iter()
        .map(|(key, text)| {
            let value = parse(scope, &key, &text)?;
            Ok((key, value))
        })
        .collect()
}

pub(crate) fn parse(scope: &Scope, key: &str, text: &str) -> Result<Value, ProjectionError> {
    serde_json::from_str(text).map_err(|e| ProjectionError::BadDocument {
        projection: scope.projection.clone(),
        key: key.to_string(),
        reason: e.to_string(),
    })
}

async fn upsert(
    tx: &mut Tx,
    scope: &Scope,
    rows: &[(&str, String)],
) -> Result<(), ProjectionError> {
    const HEAD: &str = "INSERT INTO projection_docs (tenant_id, projection, generation, key, doc) ";
    const TAIL: &str = " ON CONFLICT (tenant_id, projection, generation, key)
         DO UPDATE SET doc = excluded.doc";
    on_each!(tx tx, t => {
        let mut q = QueryBuilder::new(HEAD);
        q.push_values(rows, |mut b, (key, doc)| {
            b.push_bind(&scope.tenant)
                .push_bind(&scope.projection)
                .push_bind(scope.generation)
                .push_bind(*key)
                .push_bind(doc);
        });
        q.push(TAIL);
        q.build().execute(&mut **t).await?;
    });
    Ok(())
}

async fn remove(tx: &mut Tx, scope: &Scope, key: &str) -> Result<(), ProjectionError> {
    const SQL: &str = "DELETE FROM projection_docs
         WHERE tenant_id = $1 AND projection = $2 AND generation = $3 AND key = $4";
    on_each!(tx tx, t => {
        sqlx::query(SQL)
            .bind(&scope.tenant)
            .bind(&scope.projection)
            .bind(scope.generation)
            .bind(key)
            .execute(&mut **t)
            .await?;
    });
    Ok(())
}
