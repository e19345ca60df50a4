//! The deadline of one query or mutation, whichever transport brings it. Over HTTP the
//! router's timeout also bounds the request; over a WebSocket, which lives for hours,
//! nothing else would: a slow operation there would hold the server's time and a
//! database connection for as long as it liked. The extension wraps execution (after
//! validation, which the field count bounds first), so both transports share it.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::Response;

use crate::error::ApiError;

/// Stops a query or mutation still running after its duration, answering TIMEOUT.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub Duration);

impl ExtensionFactory for Deadline {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Deadline {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        match tokio::time::timeout(self.0, next.run(ctx, operation_name)).await {
            Ok(response) => response,
            Err(_) => {
                tracing::warn!(
                    operation = operation_name.unwrap_or("(anonymous)"),
                    deadline_ms = self.0.as_millis() as u64,
                    "an operation ran past its deadline and was stopped"
                );
                ApiError::TimedOut { after: self.0 }.to_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    use super::*;

    struct Query;

    #[Object]
    impl Query {
        async fn slow(&self) -> i32 {
            tokio::time::sleep(Duration::from_secs(10)).await;
            1
        }

        async fn quick(&self) -> i32 {
            1
        }
    }

    #[tokio::test]
    async fn an_operation_past_its_deadline_is_stopped_and_answered_timeout() {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(Deadline(Duration::from_millis(50)))
            .finish();
        let started = std::time::Instant::now();
        let stopped = schema.execute("{ slow }").await;
        assert!(started.elapsed() < Duration::from_secs(5));
        let error = &stopped.errors[0];
        let code = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code").cloned());
        assert_eq!(
            code,
            Some(async_graphql::Value::from("TIMEOUT")),
            "{error:?}"
        );
        let answered = schema.execute("{ quick }").await;
        assert!(answered.errors.is_empty(), "{:?}", answered.errors);
    }
}
