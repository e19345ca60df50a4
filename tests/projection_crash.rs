//! Crash safety of the projectors: a real `carnet project` process is killed with SIGKILL
//! in the middle of its work, again and again, then restarted; its read models must
//! equal a rebuild from scratch, on SQLite and on Postgres.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use carnet::demo::{self, DemoOptions};
use carnet_domain::Uai;
use carnet_projections::{query, rebuild, status};
use carnet_store::testing::PgTestDb;
use carnet_store::{EventStore, Location, StoreOptions};
use serde_json::Value;

fn carnet(data_dir: &Path, url: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_carnet"));
    command
        .env("CARNET_DATA_DIR", data_dir)
        .env("CARNET_INSTANCE", "crash-test")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match url {
        Some(url) => command.env("DATABASE_URL", url),
        None => command.env_remove("DATABASE_URL"),
    };
    command
}

async fn docs(store: &EventStore, uai: &Uai) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for p in carnet_projections::all() {
        for (key, doc) in
            query::docs_with_prefix::<Value>(&store.backend().pool(), uai, p.name(), "")
                .await
                .unwrap()
        {
            all.push((p.name().to_string(), key, doc));
        }
    }
    all
}

async fn killed_and_restarted(location: Location, data_dir: &Path, url: Option<&str>) {
    // The keyring the Carnet processes of the test use too.
    let keyring = carnet_store::keyring::Keyring::load_or_create(
        &data_dir.join(carnet_store::keyring::FILE_NAME),
    )
    .unwrap();
    let options = StoreOptions {
        keyring: Some(std::sync::Arc::new(keyring)),
        ..Default::default()
    };
    let store = EventStore::open(&location, options).await.unwrap();
    let reports = demo::load(
        &store,
        &DemoOptions {
            students: 150,
            seed: 3,
        },
    )
    .await
    .unwrap();
    let uai = Uai::parse(&reports[0].uai).unwrap();
    let head = reports[0].events;

    // Kill the projector at growing delays until a kill lands mid-way.
    let mut partial = 0;
    for attempt in 0..12u64 {
        let mut child = carnet(data_dir, url)
            .args(["project", "--batch", "50"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + 60 * attempt));
        // SIGKILL: no chance to finish a batch or release a lease.
        child.kill().unwrap();
        child.wait().unwrap();
        let mut done = true;
        for p in carnet_projections::all() {
            let position = status(&store, &uai, p.name())
                .await
                .unwrap()
                .map(|s| s.position)
                .unwrap_or(0);
            if 0 < position && position < head {
                partial += 1;
            }
            done &= position == head;
        }
        if partial >= 2 || done {
            break;
        }
    }
    assert!(
        partial > 0,
        "no kill landed while a projection was half-way"
    );

    let finish = carnet(data_dir, url)
        .args(["project", "--until-caught-up"])
        .status()
        .unwrap();
    assert!(finish.success());
    for p in carnet_projections::all() {
        let s = status(&store, &uai, p.name()).await.unwrap().unwrap();
        assert_eq!((s.position, s.failure), (head, None));
    }
    let resumed = docs(&store, &uai).await;
    for p in carnet_projections::all() {
        rebuild(&store, &uai, p, |_, _| {}).await.unwrap();
    }
    let rebuilt = docs(&store, &uai).await;
    assert_eq!(resumed.len(), rebuilt.len());
    assert!(
        resumed == rebuilt,
        "read models after crashes differ from a rebuild"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_projector_killed_mid_batch_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let location = Location::DataDir(dir.path().to_path_buf());
    killed_and_restarted(location, dir.path(), None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_projector_killed_mid_batch_resumes_exactly() {
    let db = PgTestDb::create().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = db.url.clone();
    killed_and_restarted(Location::Url(url.clone()), dir.path(), Some(&url)).await;
}
