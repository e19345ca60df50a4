use std::sync::Arc;

use carnet_store::StoreError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ProjectionError {
    /// An event the projection cannot apply: the projection stops there, it never skips.
    #[error("projection {projection} stopped at position {position} ({event_type}): {reason}")]
    Apply {
        projection: String,
        position: i64,
        event_type: String,
        reason: String,
    },
    #[error("projection {projection} is stopped since position {position}: {failure}")]
    Stopped {
        projection: String,
        position: i64,
        failure: String,
    },
    #[error("document {key} of projection {projection} is not valid JSON of its kind: {reason}")]
    BadDocument {
        projection: String,
        key: String,
        reason: String,
    },
    #[error("database error: {0}")]
    Database(Arc<sqlx::Error>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ProjectionError {
    fn from(e: sqlx::Error) -> Self {
        ProjectionError::Database(Arc::new(e))
    }
}
