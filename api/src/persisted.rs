//! Automatic persisted queries, as Apollo's clients speak them: an app sends
//! `extensions.persistedQuery { version: 1, sha256Hash }` without the query's text; the
//! server answers `PERSISTED_QUERY_NOT_FOUND` the first time, the app sends the text with
//! its hash once, and from then on the hash alone. A phone on a slow network sends a
//! few dozen bytes instead of kilobytes per request, and the server parses each text
//! once.
//!
//! async-graphql ships the same extension behind a feature that pulls an `lru` with a
//! known advisory; this one keeps the parsed documents in the workspace's `lru`.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, ServerError, ServerResult};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The error code Apollo's clients wait for before sending the query's text.
pub const NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersistedQuery {
    version: i32,
    sha256_hash: String,
}

/// The documents this server has seen, by the SHA-256 of their text (hex).
#[derive(Clone)]
pub struct PersistedQueries {
    documents: Arc<Mutex<lru::LruCache<String, ExecutableDocument>>>,
}

impl std::fmt::Debug for PersistedQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistedQueries").finish_non_exhaustive()
    }
}

impl PersistedQueries {
    /// Keeps the `capacity` most recently used documents.
    pub fn new(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        PersistedQueries {
            documents: Arc::new(Mutex::new(lru::LruCache::new(capacity))),
        }
    }

    fn get(&self, hash: &str) -> Option<ExecutableDocument> {
        self.documents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(hash)
            .cloned()
    }

    fn keep(&self, hash: String, document: ExecutableDocument) {
        self.documents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .put(hash, document);
    }

    /// The request with its document, from the cache or from its text.
    fn resolve(&self, mut request: Request) -> ServerResult<Request> {
        let Some(value) = request.extensions.remove("persistedQuery") else {
            return Ok(request);
        };
        let asked: PersistedQuery = serde_json::to_value(value)
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| {
                refusal(
                    "extensions.persistedQuery",
                    "needs `version` and `sha256Hash`",
                )
            })?;
        if asked.version != 1 {
            return Err(refusal(
                "extensions.persistedQuery.version",
                "only version 1 of persisted queries is spoken here",
            ));
        }
        let hash = asked.sha256_hash.to_ascii_lowercase();
        if request.query.is_empty() {
            let document = self.get(&hash).ok_or_else(not_found)?;
            request.set_parsed_query(document);
            return Ok(request);
        }
        let actual = hex(&Sha256::digest(request.query.as_bytes()));
        if actual != hash {
            return Err(refusal(
                "extensions.persistedQuery.sha256Hash",
                "is not the SHA-256 of the query sent with it",
            ));
        }
        let document = request.parsed_query()?.clone();
        self.keep(hash, document);
        Ok(request)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn refusal(field: &str, reason: &str) -> ServerError {
    ApiError::validation(field, reason.to_string()).to_server_error()
}

/// `PersistedQueryNotFound` is the message Apollo's clients also recognise.
fn not_found() -> ServerError {
    let mut error = ServerError::new("PersistedQueryNotFound", None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", NOT_FOUND);
    error.extensions = Some(extensions);
    error
}

impl ExtensionFactory for PersistedQueries {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Extension for PersistedQueries {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = self.resolve(request)?;
        next.run(ctx, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_hash(query: &str, hash: &str) -> Request {
        let mut request = Request::new(query);
        request.extensions.insert(
            "persistedQuery".to_string(),
            async_graphql::Value::from_json(serde_json::json!({
                "version": 1,
                "sha256Hash": hash,
            }))
            .unwrap_or_default(),
        );
        request
    }

    fn code(error: &ServerError) -> Option<String> {
        let value = error.extensions.as_ref()?.get("code")?;
        match value {
            async_graphql::Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }

    #[test]
    fn a_hash_alone_is_found_once_its_text_was_sent() {
        let queries = PersistedQueries::new(8);
        let text = "{ me { person } }";
        let hash = hex(&Sha256::digest(text.as_bytes()));
        let unknown = queries.resolve(with_hash("", &hash)).err();
        assert_eq!(unknown.as_ref().and_then(code).as_deref(), Some(NOT_FOUND));
        assert!(queries.resolve(with_hash(text, &hash)).is_ok());
        let mut found = queries.resolve(with_hash("", &hash)).ok();
        let parsed = found.as_mut().map(|r| r.parsed_query().is_ok());
        assert_eq!(parsed, Some(true));
    }

    #[test]
    fn a_text_with_another_hash_is_refused() {
        let queries = PersistedQueries::new(8);
        let refused = queries
            .resolve(with_hash("{ me { person } }", &"0".repeat(64)))
            .err();
        assert_eq!(
            refused.as_ref().and_then(code).as_deref(),
            Some("VALIDATION")
        );
    }
}
