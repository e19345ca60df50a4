//! PostgreSQL restarted (`pg_ctlcluster ... restart`) while `carnet serve` takes commands:
//! the server reconnects by itself, a command caught by the restart fails with an error
//! that says so (never a hang), and its retry with the same command id applies it at
//! most once; nothing acknowledged is lost and the log verifies.
//!
//! The restarted server is a cluster of this test's own (`pg_createcluster`), so the
//! other tests, running in parallel on the shared server, are not disturbed.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use carnet_store::{EventStore, Location};
use serde_json::json;
use uuid::Uuid;

mod support;
use support::process::{carnet, free_port, graphql, ready, serve};

/// A PostgreSQL cluster of its own, trusting local connections; dropped with the test.
struct Cluster {
    version: String,
    name: String,
    port: u16,
}

impl Cluster {
    fn create() -> Self {
        let version = std::fs::read_dir("/etc/postgresql")
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .max()
            .unwrap();
        let cluster = Cluster {
            version,
            name: format!("carnet_restart_{}", std::process::id()),
            port: free_port(),
        };
        let made = Command::new("pg_createcluster")
            .args([
                &cluster.version,
                &cluster.name,
                "--port",
                &cluster.port.to_string(),
            ])
            .args(["--", "--auth-host=trust", "--auth-local=trust"])
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        cluster.ctl("start");
        cluster
    }

    fn ctl(&self, action: &str) {
        let done = Command::new("pg_ctlcluster")
            .args([
                "--skip-systemctl-redirect",
                &self.version,
                &self.name,
                action,
            ])
            .output()
            .unwrap();
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster")
            .args(["--stop", &self.version, &self.name])
            .output();
    }
}

const REGISTER: &str = "mutation($id: String!, $c: UUID) { registerResource(input: { id: $id, name: \"Salle\", kind: ROOM, commandId: $c }) { version changed } }";

#[derive(Debug, Clone)]
enum Sent {
    Acknowledged(String),
    Failed(String, Uuid, String),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_rides_out_a_postgres_restart() {
    let cluster = Cluster::create();
    let url = cluster.url();
    let dir = tempfile::tempdir().unwrap();
    let demo = carnet(dir.path(), &url, &["demo", "--students", "20"])
        .output()
        .unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let token = carnet(
        dir.path(),
        &url,
        &["token", "--as", "principal", "--role", "principal"],
    )
    .output()
    .unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    let port = free_port();
    let http = reqwest::Client::new();
    let mut server = serve(dir.path(), &url, port);
    ready(&http, port).await;

    let sent: Arc<Mutex<Vec<Sent>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let acks = |sent: &Arc<Mutex<Vec<Sent>>>| {
        sent.lock()
            .unwrap()
            .iter()
            .filter(|s| matches!(s, Sent::Acknowledged(..)))
            .count()
    };
    let mut clients = Vec::new();
    for client in 0..3 {
        let (http, token, sent, stop) = (http.clone(), token.clone(), sent.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let (id, command) = (format!("salle-{client}-{n}"), Uuid::new_v4());
                let vars = json!({ "id": id, "c": command });
                let outcome = match graphql(&http, port, &token, REGISTER, vars).await {
                    Ok(answer) if answer["data"]["registerResource"]["changed"] == true => {
                        Sent::Acknowledged(id)
                    }
                    Ok(answer) => Sent::Failed(id, command, answer["errors"].to_string()),
                    Err(e) => Sent::Failed(id, command, e.to_string()),
                };
                let failed = matches!(outcome, Sent::Failed(..));
                sent.lock().unwrap().push(outcome);
                if failed {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    while acks(&sent) < 30 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = acks(&sent);
    cluster.ctl("restart");
    // The same server process goes on acknowledging commands after the restart.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acks(&sent) < before + 30 {
        assert!(
            Instant::now() < deadline,
            "no command acknowledged after the restart: {:?}",
            sent.lock().unwrap().last()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let sent = sent.lock().unwrap().clone();

    // A failure says what happened; its retry with the same command id applies it once.
    for s in &sent {
        if let Sent::Failed(id, command, error) = s {
            // Either the connection to Carnet itself broke, or Carnet says the
            // database was unreachable, never a bare internal error.
            assert!(
                error.contains("UNAVAILABLE") || !error.contains("\"code\""),
                "{id}: {error}"
            );
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
    }
    let store = EventStore::open(&Location::Url(url.clone()), support::keyed(dir.path()))
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
            .filter(|e| e.stream.stream_id.starts_with("salle-"))
        {
            *per_stream.entry(e.stream.stream_id.clone()).or_default() += 1;
        }
    }
    for s in &sent {
        let (Sent::Acknowledged(id) | Sent::Failed(id, _, _)) = s;
        assert_eq!(per_stream.get(id), Some(&1), "{id}: once, and not lost");
    }
    for report in carnet_replay_tools::verify(&store, None).await.unwrap() {
        assert!(report.is_intact(), "{report:?}");
    }
    let failed = sent
        .iter()
        .filter(|s| matches!(s, Sent::Failed(..)))
        .count();
    eprintln!(
        "{} commands acknowledged, {failed} failed during the restart and applied once on retry; first failure: {:?}",
        sent.len() - failed,
        sent.iter().find(|s| matches!(s, Sent::Failed(..)))
    );
    server.kill().unwrap();
    server.wait().unwrap();
}
