//! The API's errors, each with the stable code clients switch on (`extensions.code`).
//!
//! Messages are written for the person in front of the app: a refusal by a school rule
//! says the rule; an internal failure says nothing of the internals (it is logged with a
//! reference the user can quote to support).

use async_graphql::ErrorExtensions;
use carnet_projections::ProjectionError;
use carnet_store::{CommandError, StoreError};

/// Deliberately not `Display`: async-graphql turns any `Display` error into a bare
/// message, and this one must always arrive with its code (see the `From` below).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No token, or a token that is not valid.
    Unauthenticated(String),
    /// A valid token whose person may not see or do this.
    Forbidden(String),
    NotFound(String),
    /// The entity changed since the client read it.
    Conflict {
        message: String,
        current_version: i64,
    },
    /// An argument that cannot be right, whatever the school's data.
    Validation {
        field: String,
        reason: String,
    },
    /// A school rule refused the command.
    RuleViolation(String),
    /// An imported file breaks rules: every problem, nothing written.
    InvalidFile(Vec<carnet_importers::Problem>),
    Internal {
        reference: uuid::Uuid,
    },
    /// The request would read more of the log than one request may.
    TooCostly(String),
    /// The person sends faster than one identity may: try again after `retry_after` s.
    RateLimited {
        retry_after: u64,
    },
    /// A query or mutation ran past its deadline and was stopped.
    TimedOut {
        after: std::time::Duration,
    },
    /// Something one connection or person may hold a bounded number of at once
    /// (subscriptions on a WebSocket) is at that number.
    LimitReached(String),
    /// The database could not be reached during the request.
    Unavailable {
        reference: uuid::Uuid,
    },
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Conflict { .. } => "CONFLICT",
            ApiError::Validation { .. } | ApiError::InvalidFile(_) => "VALIDATION",
            ApiError::RuleViolation(_) => "RULE_VIOLATION",
            ApiError::Internal { .. } => "INTERNAL",
            ApiError::Unavailable { .. } => "UNAVAILABLE",
            ApiError::TooCostly(_) => "TOO_COSTLY",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::TimedOut { .. } => "TIMEOUT",
            ApiError::LimitReached(_) => "LIMIT_REACHED",
        }
    }

    pub fn validation(field: &str, reason: impl Into<String>) -> Self {
        ApiError::Validation {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    pub fn forbidden(what: impl Into<String>) -> Self {
        ApiError::Forbidden(what.into())
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::NotFound(what.into())
    }

    /// The database was unreachable: logged with a fresh reference.
    pub fn unavailable(error: &dyn std::fmt::Display) -> Self {
        let reference = uuid::Uuid::new_v4();
        tracing::warn!(%reference, %error, "database unavailable");
        ApiError::Unavailable { reference }
    }

    /// Logs `error` with a fresh reference and answers only the reference.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        let reference = uuid::Uuid::new_v4();
        tracing::error!(%reference, %error, "internal error");
        ApiError::Internal { reference }
    }
}

impl ApiError {
    /// What the person in front of the app reads.
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::RuleViolation(m)
            | ApiError::TooCostly(m)
            | ApiError::LimitReached(m) => m.clone(),
            ApiError::RateLimited { retry_after } => {
                format!("too many requests from this person: try again in {retry_after} s")
            }
            ApiError::TimedOut { after } => format!(
                "the request took longer than {} s and was stopped: a command in it may or may \
                 not have been recorded; send it again with the same commandId, which applies \
                 it at most once",
                after.as_secs_f64().ceil()
            ),
            ApiError::Conflict { message, .. } => message.clone(),
            ApiError::Validation { field, reason } => format!("{field}: {reason}"),
            ApiError::InvalidFile(problems) => format!(
                "{} problem(s) in the file, nothing was imported{}",
                problems.len(),
                problems.first().map(|p| format!("; the first: {p}")).unwrap_or_default()
            ),
            ApiError::Internal { reference } => format!(
                "internal error (reference {reference}); nothing of this part of the request was done"
            ),
            ApiError::Unavailable { reference } => format!(
                "the database could not be reached (reference {reference}): a command may or \
                 may not have been recorded; send it again with the same commandId, which \
                 applies it at most once"
            ),
        }
    }

    pub fn to_graphql(&self) -> async_graphql::Error {
        async_graphql::Error::new(self.message()).extend_with(|_, e| {
            e.set("code", self.code());
            match self {
                ApiError::Conflict {
                    current_version, ..
                } => e.set("currentVersion", *current_version),
                ApiError::Validation { field, reason } => {
                    e.set("field", field.as_str());
                    e.set("reason", reason.as_str());
                }
                ApiError::InvalidFile(problems) => {
                    e.set("field", "input.contentBase64");
                    e.set("problems", problem_list(problems));
                }
                ApiError::Internal { reference } | ApiError::Unavailable { reference } => {
                    e.set("reference", reference.to_string())
                }
                ApiError::RateLimited { retry_after } => e.set("retryAfter", *retry_after),
                _ => {}
            }
        })
    }
}

impl ApiError {
    /// The error as a whole response's error, for an operation refused before it runs
    /// (no field, no position to name).
    pub fn to_server_error(&self) -> async_graphql::ServerError {
        let error = self.to_graphql();
        let mut server = async_graphql::ServerError::new(error.message, None);
        server.extensions = error.extensions;
        server
    }

    /// A response carrying only this error.
    pub fn to_response(&self) -> async_graphql::Response {
        async_graphql::Response::from_errors(vec![self.to_server_error()])
    }
}

/// The problems of a file as `extensions.problems`: file, line, element, field, rule.
fn problem_list(problems: &[carnet_importers::Problem]) -> async_graphql::Value {
    use async_graphql::{Name, Value};
    let item = |p: &carnet_importers::Problem| {
        let (line, element) = match &p.at {
            carnet_importers::Location::File => (Value::Null, Value::Null),
            carnet_importers::Location::Line(line) => (Value::from(*line), Value::Null),
            carnet_importers::Location::Element { path, line } => {
                (Value::from(*line), Value::from(path.as_str()))
            }
        };
        Value::Object(
            [
                ("file", Value::from(p.file.as_str())),
                ("line", line),
                ("element", element),
                ("field", Value::from(p.field.as_str())),
                ("rule", Value::from(p.rule.as_str())),
            ]
            .into_iter()
            .map(|(k, v)| (Name::new(k), v))
            .collect(),
        )
    };
    Value::List(problems.iter().map(item).collect())
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        error.to_graphql()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict {
                stream, current, ..
            } => ApiError::Conflict {
                message: format!(
                    "{stream} changed since it was read: it is now at version {current}; \
                     read it again and retry"
                ),
                current_version: current,
            },
            StoreError::CommandIdReused { id, .. } => ApiError::Validation {
                field: "commandId".into(),
                reason: format!("{id} was already used for a different request"),
            },
            StoreError::InvalidInput { field, reason } => ApiError::validation(field, reason),
            StoreError::PayloadTooLarge { .. } | StoreError::MalformedPayload { .. } => {
                ApiError::validation("input", error.to_string())
            }
            StoreError::UnknownTenant(uai) => {
                ApiError::not_found(format!("establishment {uai} is not served here"))
            }
            other if other.is_unavailable() => ApiError::unavailable(&other),
            other => ApiError::internal(&other),
        }
    }
}

impl From<ProjectionError> for ApiError {
    fn from(error: ProjectionError) -> Self {
        match &error {
            ProjectionError::Database(e) if carnet_store::error::unreachable_database(e) => {
                ApiError::unavailable(&error)
            }
            _ => ApiError::internal(&error),
        }
    }
}

impl<E: std::error::Error> From<CommandError<E>> for ApiError {
    fn from(error: CommandError<E>) -> Self {
        match error {
            CommandError::Rejected(rule) => ApiError::RuleViolation(rule.to_string()),
            CommandError::Store(store) => store.into(),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
