//! The API's errors, each with the stable code clients switch on (`extensions.code`).
//!
//! Messages are written for the person in front of the app: a refusal by a school rule
//! says the rule; an internal failure says nothing of the internals (it is logged with a
//! reference the user can quote to support).

use async_graphql::ErrorExtensions;
use carnet_domain::refusal::Refusal;
use carnet_projections::ProjectionError;
use carnet_store::{CommandError, StoreError};

use crate::i18n::{self, Lang, Text};

/// Deliberately not `Display`: async-graphql turns any `Display` error into a bare
/// message, and this one must always arrive with its code (see the `From` below).
///
/// Messages are [`Text`]s, in French and English: the answer speaks the request's
/// language (see [`crate::i18n`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No token, or a token that is not valid.
    Unauthenticated(Text),
    /// A valid token whose person may not see or do this.
    Forbidden(Text),
    NotFound(Text),
    /// The entity changed since the client read it.
    Conflict {
        message: Text,
        current_version: i64,
    },
    /// An argument that cannot be right, whatever the school's data.
    Validation {
        field: String,
        reason: Text,
    },
    /// A school rule refused the command.
    RuleViolation(Rule),
    /// An imported file breaks rules: every problem, nothing written.
    InvalidFile(Vec<carnet_importers::Problem>),
    Internal {
        reference: uuid::Uuid,
    },
    /// The request would read more of the log than one request may.
    TooCostly(Text),
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
    LimitReached(Text),
    /// The database could not be reached during the request.
    Unavailable {
        reference: uuid::Uuid,
    },
}

/// A refusal by a school rule: its stable, language-free code (`extensions.rule`, e.g.
/// `PERIOD_CLOSED`) and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub rule: &'static str,
    pub message: Text,
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

    /// The rule a refusal names (`extensions.rule`), for a [`ApiError::RuleViolation`].
    pub fn rule(&self) -> Option<&'static str> {
        match self {
            ApiError::RuleViolation(rule) => Some(rule.rule),
            _ => None,
        }
    }

    pub fn validation(field: &str, reason: impl Into<Text>) -> Self {
        ApiError::Validation {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    pub fn forbidden(what: impl Into<Text>) -> Self {
        ApiError::Forbidden(what.into())
    }

    pub fn not_found(what: impl Into<Text>) -> Self {
        ApiError::NotFound(what.into())
    }

    pub fn unauthenticated(why: impl Into<Text>) -> Self {
        ApiError::Unauthenticated(why.into())
    }

    /// A refusal by the school rule `rule` (a stable SCREAMING_SNAKE_CASE code, like the
    /// domain's: `LESSON_CANCELLED`), saying `message`.
    pub fn rule_violation(rule: &'static str, message: impl Into<Text>) -> Self {
        ApiError::RuleViolation(Rule {
            rule,
            message: message.into(),
        })
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
    /// What the person in front of the app reads, in the language of the request being
    /// answered (French outside any request).
    pub fn message(&self) -> String {
        self.message_in(i18n::current())
    }

    /// What the person in front of the app reads, in `lang`.
    pub fn message_in(&self, lang: Lang) -> String {
        let fr = lang == Lang::Fr;
        match self {
            ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::TooCostly(m)
            | ApiError::LimitReached(m) => m.get(lang).to_string(),
            ApiError::RuleViolation(rule) => rule.message.get(lang).to_string(),
            ApiError::RateLimited { retry_after } => rate_limited(*retry_after).get(lang).into(),
            ApiError::TimedOut { after } => {
                let seconds = after.as_secs_f64().ceil();
                if fr {
                    format!(
                        "la requête a duré plus de {seconds} s et a été interrompue : une \
                         commande qu'elle contenait a pu être enregistrée ou non ; renvoyez-la \
                         avec le même commandId, qui ne l'applique qu'une fois"
                    )
                } else {
                    format!(
                        "the request took longer than {seconds} s and was stopped: a command in \
                         it may or may not have been recorded; send it again with the same \
                         commandId, which applies it at most once"
                    )
                }
            }
            ApiError::Conflict { message, .. } => message.get(lang).to_string(),
            ApiError::Validation { field, reason } if fr => format!("{field} : {}", reason.fr),
            ApiError::Validation { field, reason } => format!("{field}: {}", reason.en),
            ApiError::InvalidFile(problems) => {
                let first = problems.first();
                if fr {
                    format!(
                        "{} problème(s) dans le fichier, rien n'a été importé{}",
                        problems.len(),
                        first
                            .map(|p| format!(" ; le premier : {p}"))
                            .unwrap_or_default()
                    )
                } else {
                    format!(
                        "{} problem(s) in the file, nothing was imported{}",
                        problems.len(),
                        first
                            .map(|p| format!("; the first: {p}"))
                            .unwrap_or_default()
                    )
                }
            }
            ApiError::Internal { reference } => {
                if fr {
                    format!(
                        "erreur interne (référence {reference}) : rien de cette partie de la \
                         requête n'a été fait"
                    )
                } else {
                    format!(
                        "internal error (reference {reference}); nothing of this part of the \
                         request was done"
                    )
                }
            }
            ApiError::Unavailable { reference } => {
                if fr {
                    format!(
                        "la base de données est injoignable (référence {reference}) : une \
                         commande a pu être enregistrée ou non ; renvoyez-la avec le même \
                         commandId, qui ne l'applique qu'une fois"
                    )
                } else {
                    format!(
                        "the database could not be reached (reference {reference}): a command \
                         may or may not have been recorded; send it again with the same \
                         commandId, which applies it at most once"
                    )
                }
            }
        }
    }

    /// The error for GraphQL, in the language of the request being answered.
    pub fn to_graphql(&self) -> async_graphql::Error {
        self.to_graphql_in(i18n::current())
    }

    /// The error for GraphQL, in `lang`: `extensions.code` always, `extensions.rule` for
    /// a refusal by a school rule.
    pub fn to_graphql_in(&self, lang: Lang) -> async_graphql::Error {
        async_graphql::Error::new(self.message_in(lang)).extend_with(|_, e| {
            e.set("code", self.code());
            match self {
                ApiError::Conflict {
                    current_version, ..
                } => e.set("currentVersion", *current_version),
                ApiError::Validation { field, reason } => {
                    e.set("field", field.as_str());
                    e.set("reason", reason.get(lang));
                }
                ApiError::RuleViolation(rule) => e.set("rule", rule.rule),
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

/// Too many requests from one person: come back in `seconds`.
pub fn rate_limited(seconds: u64) -> Text {
    Text::new(
        format!("trop de requêtes de cette personne : réessayez dans {seconds} s"),
        format!("too many requests from this person: try again in {seconds} s"),
    )
}

impl ApiError {
    /// The error as a whole response's error, for an operation refused before it runs
    /// (no field, no position to name).
    pub fn to_server_error(&self) -> async_graphql::ServerError {
        self.to_server_error_in(i18n::current())
    }

    /// [`ApiError::to_server_error`] in `lang`.
    pub fn to_server_error_in(&self, lang: Lang) -> async_graphql::ServerError {
        let error = self.to_graphql_in(lang);
        let mut server = async_graphql::ServerError::new(error.message, None);
        server.extensions = error.extensions;
        server
    }

    /// A response carrying only this error.
    pub fn to_response(&self) -> async_graphql::Response {
        self.to_response_in(i18n::current())
    }

    /// A response carrying only this error, in `lang`.
    pub fn to_response_in(&self, lang: Lang) -> async_graphql::Response {
        async_graphql::Response::from_errors(vec![self.to_server_error_in(lang)])
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
                message: Text::new(
                    format!(
                        "{stream} a changé depuis sa lecture : il est maintenant à la version \
                         {current} ; relisez-le et réessayez"
                    ),
                    format!(
                        "{stream} changed since it was read: it is now at version {current}; \
                         read it again and retry"
                    ),
                ),
                current_version: current,
            },
            StoreError::CommandIdReused { id, .. } => ApiError::Validation {
                field: "commandId".into(),
                reason: Text::new(
                    format!("{id} a déjà servi pour une autre requête"),
                    format!("{id} was already used for a different request"),
                ),
            },
            StoreError::InvalidInput { field, reason } => ApiError::validation(field, reason),
            StoreError::PayloadTooLarge { .. } | StoreError::MalformedPayload { .. } => {
                ApiError::validation("input", error.to_string())
            }
            StoreError::UnknownTenant(uai) => ApiError::not_found(Text::new(
                format!("l'établissement {uai} n'est pas servi ici"),
                format!("establishment {uai} is not served here"),
            )),
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

impl ApiError {
    /// A school rule's refusal checked before any command was sent (a team that cannot
    /// be formed, an item missing from the framework), with its rule code.
    pub fn refused(refusal: impl Refusal) -> Self {
        ApiError::rule_violation(
            refusal.rule(),
            Text::new(refusal.message(Lang::Fr), refusal.message(Lang::En)),
        )
    }
}

/// A refusal by a school rule keeps its rule code and says it in both languages.
impl<E: Refusal> From<CommandError<E>> for ApiError {
    fn from(error: CommandError<E>) -> Self {
        match error {
            CommandError::Rejected(refusal) => ApiError::refused(refusal),
            CommandError::Store(store) => store.into(),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use async_graphql::Value;
    use carnet_domain::grades::GradebookError;

    use super::*;

    fn extension(error: &async_graphql::Error, name: &str) -> Option<Value> {
        error.extensions.as_ref().and_then(|e| e.get(name)).cloned()
    }

    #[tokio::test]
    async fn a_refusal_speaks_the_request_s_language_and_names_its_rule() {
        let refused = ApiError::from(CommandError::Rejected(GradebookError::PeriodClosed {
            class: "4A".into(),
            period: "T1".into(),
        }));
        let french = refused.to_graphql();
        let english = i18n::scope(Lang::En, async { refused.to_graphql() }).await;
        assert!(
            french.message.contains("conseil de classe"),
            "{}",
            french.message
        );
        assert!(
            english.message.contains("class council"),
            "{}",
            english.message
        );
        for error in [&french, &english] {
            assert_eq!(
                extension(error, "code"),
                Some(Value::from("RULE_VIOLATION"))
            );
            assert_eq!(extension(error, "rule"), Some(Value::from("PERIOD_CLOSED")));
        }
        assert_eq!(refused.rule(), Some("PERIOD_CLOSED"));
    }

    #[tokio::test]
    async fn unauthenticated_is_french_unless_english_is_asked() {
        let error = ApiError::Unauthenticated(crate::auth::AuthError::Missing.text());
        assert!(error.message().starts_with("aucun jeton d'accès"));
        let english = i18n::scope(Lang::En, async { error.to_graphql().message }).await;
        assert!(english.starts_with("no bearer token"), "{english}");
        // Messages given in one language only are the same in both.
        let plain = ApiError::validation("first", "at most 100");
        assert_eq!(plain.message_in(Lang::Fr), "first : at most 100");
        assert_eq!(plain.message_in(Lang::En), "first: at most 100");
    }
}
