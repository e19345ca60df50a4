//! A `carnet` process of its own, for the tests that kill or disturb it.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

pub fn carnet(data_dir: &Path, url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_carnet"));
    command
        .args(args)
        .env("CARNET_DATA_DIR", data_dir)
        .env("DATABASE_URL", url)
        .env("CARNET_INSTANCE", "command-crash")
        // These tests send as fast as the server answers, on purpose: no pace limit.
        .env("CARNET_RATE_PER_SECOND", "1000000")
        .env("CARNET_RATE_BURST", "1000000")
        .env("RUST_LOG", "error");
    command
}

pub fn serve(data_dir: &Path, url: &str, port: u16) -> Child {
    carnet(
        data_dir,
        url,
        &[
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--dev-tokens",
            "true",
        ],
    )
    .stdout(Stdio::null())
    // CARNET_TEST_SERVER_LOG=FILE keeps the server's log, to see why a test failed.
    .stderr(match std::env::var_os("CARNET_TEST_SERVER_LOG") {
        Some(path) => std::fs::File::create(path).unwrap().into(),
        None => Stdio::null(),
    })
    .spawn()
    .unwrap()
}

pub async fn ready(http: &reqwest::Client, port: u16) {
    for _ in 0..600 {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
        {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not become ready");
}

pub async fn graphql(
    http: &reqwest::Client,
    port: u16,
    token: &str,
    query: &str,
    variables: Value,
) -> reqwest::Result<Value> {
    http.post(format!("http://127.0.0.1:{port}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .timeout(Duration::from_secs(10))
        .send()
        .await?
        .json()
        .await
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// Runs `carnet` with `args` to its end, on the data directory and database given (the
/// embedded SQLite database when `database_url` is `None`).
pub fn run(data_dir: &Path, database_url: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_carnet"));
    command
        .args(args)
        .env("CARNET_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn");
    match database_url {
        Some(url) => command.env("DATABASE_URL", url),
        None => command.env_remove("DATABASE_URL"),
    };
    command.output().expect("run carnet")
}

/// A command's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
