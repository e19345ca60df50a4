//! The API's contract is committed in SDL (`api/schema.graphql`): any change of the
//! code's schema fails here until the file is updated, so it shows in review.
//!
//! To accept a change: `UPDATE_SCHEMA=1 cargo test -p carnet-api --test schema`.
#![allow(clippy::unwrap_used)]

#[test]
fn the_committed_schema_is_the_code_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let code = carnet_api::schema::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &code).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != code {
        let first = committed
            .lines()
            .zip(code.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(code.lines().count()));
        panic!(
            "api/schema.graphql differs from the code's schema from line {}:\n  committed: {:?}\n  code:      {:?}\n\
             Review the change, then run `UPDATE_SCHEMA=1 cargo test -p carnet-api --test schema`.",
            first + 1,
            committed.lines().nth(first),
            code.lines().nth(first)
        );
    }
}

/// The GraphQL of the client guide (`docs/api.md`) is valid against the schema: a guide
/// whose examples the server refuses would teach the wrong API.
#[tokio::test]
async fn the_guides_examples_are_valid_documents() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md");
    let guide = std::fs::read_to_string(&path).unwrap();
    let blocks: Vec<&str> = guide
        .split("```graphql")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .collect();
    assert!(blocks.len() >= 6, "the guide's examples: {}", blocks.len());
    let schema = carnet_api::schema::unserved();
    for block in blocks {
        if block.trim_start().starts_with("subscription") {
            let mut stream = schema.execute_stream(block);
            let first = futures::StreamExt::next(&mut stream).await.unwrap();
            check(block, &first.errors);
        } else {
            let response = schema.execute(block).await;
            check(block, &response.errors);
        }
    }
}

fn check(block: &str, errors: &[async_graphql::ServerError]) {
    for error in errors {
        let code = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .map(|c| c.to_string());
        let refused = code.as_deref().is_some_and(|c| {
            c.contains("GRAPHQL_PARSE_FAILED") || c.contains("GRAPHQL_VALIDATION_FAILED")
        });
        // A missing variable's value is not the document's fault.
        let missing_value =
            error.message.contains("Variable") || error.message.contains("variable");
        assert!(
            !refused || missing_value,
            "{block}\nis refused: {} ({code:?})",
            error.message
        );
    }
}
