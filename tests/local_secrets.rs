//! Local secrets (issue 17, item 8): a stolen or shared machine. The embedded database,
//! the development signing key and exports are their owner's only (0600), development
//! tokens are trusted by default only by a server that listens on this machine alone,
//! and `carnet token` mints short-lived tokens.
#![cfg(unix)]
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use support::process::{free_port, run, text};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_database_the_key_and_exports_are_their_owners_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("carnet-data");
    let added = run(&data, None, &["tenant", "add", "0750655E", "Collège"]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let token = run(
        &data,
        None,
        &["token", "--as", "adjoint", "--role", "principal"],
    );
    assert!(token.status.success(), "{}", text(&token.stderr));
    let log = dir.path().join("log.jsonl");
    let exported = run(
        &data,
        None,
        &["replay", "export", "-o", log.to_str().unwrap()],
    );
    assert!(exported.status.success(), "{}", text(&exported.stderr));

    assert_eq!(mode(&data), 0o700, "the data directory");
    assert_eq!(mode(&data.join("carnet.sqlite")), 0o600, "the database");
    for extra in ["carnet.sqlite-wal", "carnet.sqlite-shm"] {
        let path = data.join(extra);
        if path.exists() {
            assert_eq!(mode(&path) & 0o077, 0, "{extra}");
        }
    }
    assert_eq!(mode(&data.join("dev-token.key")), 0o600, "the signing key");
    assert_eq!(mode(&log), 0o600, "an export of the log");
}

#[test]
fn development_tokens_are_short_lived() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("carnet-data");
    let added = run(&data, None, &["tenant", "add", "0750655E", "Collège"]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let long = run(
        &data,
        None,
        &[
            "token",
            "--as",
            "adjoint",
            "--role",
            "principal",
            "--hours",
            "720",
        ],
    );
    assert!(!long.status.success());
    assert!(text(&long.stderr).contains("720"), "{}", text(&long.stderr));
    let roleless = run(&data, None, &["token", "--as", "adjoint"]);
    assert!(!roleless.status.success(), "a token claims its roles");
}

async fn me(port: u16, token: &str) -> Value {
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(answer) = http
            .post(format!("http://127.0.0.1:{port}/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": "{ me { person } }" }))
            .send()
            .await
        {
            return answer.json().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not answer");
}

/// The embedded server trusts development tokens by default on 127.0.0.1 only: bound to
/// every address, it refuses them unless told otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_tokens_are_refused_on_an_address_others_reach() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("carnet-data");
    let added = run(&data, None, &["tenant", "add", "0750655E", "Collège"]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let minted = run(
        &data,
        None,
        &["token", "--as", "adjoint", "--role", "principal"],
    );
    let token = text(&minted.stdout).trim().to_string();
    for (bind, trusted) in [("127.0.0.1", true), ("0.0.0.0", false)] {
        let port = free_port();
        let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_carnet"))
            .args(["serve", "--bind", &format!("{bind}:{port}")])
            .env("CARNET_DATA_DIR", &data)
            .env_remove("DATABASE_URL")
            .env_remove("CARNET_DEV_TOKENS")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let answer = me(port, &token).await;
        let _ = server.kill();
        let _ = server.wait();
        // Trusted: the token is read (adjoint has no role in this empty establishment's
        // records, hence FORBIDDEN); refused: UNAUTHENTICATED.
        let expected = if trusted {
            "FORBIDDEN"
        } else {
            "UNAUTHENTICATED"
        };
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], expected,
            "{bind}: {answer}"
        );
    }
}
