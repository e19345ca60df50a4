//! GraphiQL, served from the binary, in a real browser (Debian's headless Chromium): the
//! page loads with no other host, a query typed into it with a printed token returns
//! the student's data, and the Docs pane shows the schema (its introspection passes the
//! depth and complexity limits).
#![allow(clippy::unwrap_used)]

mod support;

use carnet_api::auth::ClaimedRole;
use carnet_store::BackendKind;
use support::server::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_typed_in_graphiql_returns_the_students_data() {
    let server = TestServer::start(BackendKind::Sqlite, 100).await;
    let token = server.token("eleve00001", ClaimedRole::Student);
    let headers = format!("{{\"Authorization\": \"Bearer {token}\"}}");
    let query = "{ student(id: \"eleve00001\") { lastName placement { division } reportCard { overall } } }";
    let screenshot =
        std::env::temp_dir().join(format!("carnet-graphiql-{}.png", std::process::id()));
    let base = server.base.clone();
    let shot = screenshot.clone();
    let result = tokio::task::spawn_blocking(move || {
        support::browser::run_in_graphiql_with_docs(&base, &headers, query, Some(&shot))
    })
    .await
    .unwrap()
    .unwrap();
    let (result, docs) = result;
    assert!(
        docs.contains("student") && docs.contains("Student"),
        "the Docs pane lists Query's fields and their types: {docs}"
    );
    let answer: serde_json::Value = serde_json::from_str(&result).unwrap();
    let student = &answer["data"]["student"];
    assert!(student["lastName"].is_string(), "{answer}");
    assert!(student["placement"]["division"].is_string(), "{answer}");
    // The report card of the current period (marks may not be entered yet).
    assert!(student["reportCard"].is_object(), "{answer}");
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 10_000,
        "a screenshot of the page"
    );
    println!("screenshot: {}", screenshot.display());
}
