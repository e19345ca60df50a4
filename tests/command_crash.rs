//! A `carnet serve` process killed with SIGKILL while clients send it commands: after a
//! restart every acknowledged command is in the log exactly once (a retry with the same
//! command id appends nothing), nothing is half-written, the log verifies, and the read
//! models equal a rebuild from the log.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::sync::{Arc, Mutex};
use std::time::Duration;

use carnet_projections::{query, rebuild};
use carnet_store::testing::PgTestDb;
use carnet_store::{EventStore, Location};
use serde_json::{json, Value};
use uuid::Uuid;

mod support;
use support::process::{carnet, free_port, graphql, ready, serve};

const REGISTER: &str = "mutation($id: String!, $c: UUID) { registerResource(input: { id: $id, name: \"Salle de crise\", kind: ROOM, commandId: $c }) { version changed } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_acknowledged_command() {
    let db = PgTestDb::create().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let demo = carnet(dir.path(), &db.url, &["demo", "--students", "20"])
        .output()
        .unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let token = carnet(
        dir.path(),
        &db.url,
        &["token", "--as", "principal", "--role", "principal"],
    )
    .output()
    .unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    let port = free_port();
    let http = reqwest::Client::new();
    let mut server = serve(dir.path(), &db.url, port);
    ready(&http, port).await;

    // Four clients send commands without pause; each remembers what was acknowledged.
    let acknowledged: Arc<Mutex<Vec<(String, Uuid)>>> = Arc::default();
    let mut clients = Vec::new();
    for client in 0..4 {
        let (http, token, acknowledged) = (http.clone(), token.clone(), acknowledged.clone());
        clients.push(tokio::spawn(async move {
            for n in 0.. {
                let (id, command) = (format!("crise-{client}-{n}"), Uuid::new_v4());
                let vars = json!({ "id": id, "c": command });
                match graphql(&http, port, &token, REGISTER, vars).await {
                    Ok(answer) if answer["data"]["registerResource"]["changed"] == true => {
                        acknowledged.lock().unwrap().push((id, command));
                    }
                    // The server died under the request: not acknowledged.
                    _ => return,
                }
            }
        }));
    }
    while acknowledged.lock().unwrap().len() < 40 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill().unwrap(); // SIGKILL, requests in flight
    server.wait().unwrap();
    for client in clients {
        client.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    // Restarted: every acknowledged command is there, and a retry appends nothing.
    let mut server = serve(dir.path(), &db.url, port);
    ready(&http, port).await;
    for (id, command) in &acknowledged {
        let retry = graphql(
            &http,
            port,
            &token,
            REGISTER,
            json!({ "id": id, "c": command }),
        )
        .await
        .unwrap();
        assert_eq!(retry["data"]["registerResource"]["version"], 1, "{retry}");
    }
    let store = EventStore::open(&Location::Url(db.url.clone()), support::keyed(dir.path()))
        .await
        .unwrap();
    let uai = store.tenants().await.unwrap()[0].tenant.clone();
    let mut per_stream = std::collections::BTreeMap::<String, usize>::new();
    let mut after = 0;
    loop {
        let page = store.read_log(&uai, after, 10_000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.position;
        for e in page
            .iter()
            .filter(|e| e.stream.stream_id.starts_with("crise-"))
        {
            *per_stream.entry(e.stream.stream_id.clone()).or_default() += 1;
        }
    }
    for (id, _) in &acknowledged {
        assert_eq!(per_stream.get(id), Some(&1), "{id} must be there once");
    }
    assert!(per_stream.values().all(|n| *n == 1), "{per_stream:?}");
    for report in carnet_replay_tools::verify(&store, None).await.unwrap() {
        assert!(report.is_intact(), "{report:?}");
    }

    // The restarted server's read models equal a rebuild from the log.
    let registered = graphql(
        &http,
        port,
        &token,
        "query($id: String!) { resource(id: $id) { name } }",
        json!({ "id": acknowledged[0].0 }),
    )
    .await
    .unwrap();
    assert_eq!(registered["data"]["resource"]["name"], "Salle de crise");
    server.kill().unwrap();
    server.wait().unwrap();
    let projection = carnet_projections::all()
        .into_iter()
        .find(|p| p.name() == carnet_projections::reservations::NAME)
        .unwrap();
    let served: Vec<(String, Value)> =
        query::docs_with_prefix(&store.backend().pool(), &uai, projection.name(), "")
            .await
            .unwrap();
    rebuild(&store, &uai, projection.clone(), |_, _| {})
        .await
        .unwrap();
    let rebuilt: Vec<(String, Value)> =
        query::docs_with_prefix(&store.backend().pool(), &uai, projection.name(), "")
            .await
            .unwrap();
    assert!(served.len() > acknowledged.len());
    assert!(
        served == rebuilt,
        "the served read model differs from a rebuild"
    );
}
