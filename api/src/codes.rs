//! A stable `extensions.code` on every error, including those async-graphql makes
//! itself before any resolver runs: a document that does not parse
//! (`GRAPHQL_PARSE_FAILED`), one the schema refuses (`GRAPHQL_VALIDATION_FAILED`: an
//! unknown field, a missing argument, a value of the wrong type), a query over the
//! complexity limit (`TOO_COSTLY`). Errors that already carry a code (every `ApiError`)
//! keep it. Clients switch on codes, never on messages, which are in the request's
//! language.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe,
    NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Variables};
use futures::stream::BoxStream;
use futures::StreamExt;

pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
/// A field's error without a code of its own: an argument's value async-graphql could
/// not read as its type (a variable), caught while the field was resolved.
pub const FIELD_INPUT: &str = "VALIDATION";

#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodes)
    }
}

fn has_code(error: &ServerError) -> bool {
    error
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some())
}

/// Gives `error` the code `code` unless it has one.
fn coded(mut error: ServerError, code: &str) -> ServerError {
    if !has_code(&error) {
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
    error
}

/// The code of a validation error: the complexity limit's is a cost, the others the
/// schema's refusal of the document.
fn validation_code(error: &ServerError) -> &'static str {
    if error.message.contains("too complex") {
        "TOO_COSTLY"
    } else {
        VALIDATION_FAILED
    }
}

/// Codes whatever a response still carries without one.
fn complete(mut response: Response) -> Response {
    response.errors = response
        .errors
        .into_iter()
        .map(|e| {
            let code = if e.path.is_empty() {
                VALIDATION_FAILED
            } else {
                FIELD_INPUT
            };
            coded(e, code)
        })
        .collect();
    response
}

#[async_trait::async_trait]
impl Extension for ErrorCodes {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        complete(next.run(ctx).await)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream).map(complete).boxed()
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables)
            .await
            .map_err(|e| coded(e, PARSE_FAILED))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    let code = validation_code(&e);
                    coded(e, code)
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    use super::*;

    struct Query;

    #[Object]
    impl Query {
        async fn value(&self, n: i32) -> i32 {
            n
        }
    }

    async fn first_code(query: &str) -> Option<String> {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(ErrorCodes)
            .limit_complexity(3)
            .finish();
        let response = schema.execute(query).await;
        let error = response.errors.first()?;
        match error.extensions.as_ref()?.get("code")? {
            async_graphql::Value::String(code) => Some(code.clone()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn errors_made_before_any_resolver_carry_a_code() {
        assert_eq!(
            first_code("{ value(n: 1").await.as_deref(),
            Some(PARSE_FAILED)
        );
        assert_eq!(
            first_code("{ nothing }").await.as_deref(),
            Some(VALIDATION_FAILED)
        );
        assert_eq!(
            first_code("{ value(n: \"one\") }").await.as_deref(),
            Some(VALIDATION_FAILED)
        );
        assert_eq!(
            first_code("{ a: value(n: 1) b: value(n: 2) c: value(n: 3) d: value(n: 4) }")
                .await
                .as_deref(),
            Some("TOO_COSTLY")
        );
        assert_eq!(first_code("{ value(n: 1) }").await, None);
    }
}
