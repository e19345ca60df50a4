//! End-to-end tests of the `carnet` command, as an administrator runs it, on the
//! embedded SQLite default and on a real Postgres database.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::path::Path;
use std::process::Output;

use carnet_store::testing::PgTestDb;
use support::process::run as carnet;

mod support;

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn administer(data_dir: &Path, url: Option<&str>) {
    let status = carnet(data_dir, url, &["status"]);
    assert!(status.status.success(), "{}", stderr(&status));
    assert!(
        stdout(&status).contains("no establishment yet"),
        "{}",
        stdout(&status)
    );

    let added = carnet(
        data_dir,
        url,
        &["tenant", "add", "0750655e", "Lycée Charlemagne"],
    );
    assert!(added.status.success(), "{}", stderr(&added));
    assert!(stdout(&added).contains("0750655E"));

    let wrong = carnet(data_dir, url, &["tenant", "add", "0750655F", "Faux"]);
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong).contains("la lettre clé de l'UAI `0750655F` devrait être `E`"),
        "{}",
        stderr(&wrong)
    );

    let again = carnet(data_dir, url, &["tenant", "add", "0750655E", "Again"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );

    let list = carnet(data_dir, url, &["tenant", "list"]);
    assert_eq!(
        stdout(&list),
        "0750655E\tLycée Charlemagne\tEurope/Paris\t0\n"
    );

    let verify = carnet(data_dir, url, &["replay", "verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(
        stdout(&verify).contains("0750655E: intact, 0 events"),
        "{}",
        stdout(&verify)
    );
}

#[test]
fn administers_the_embedded_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    administer(dir.path(), None);
    assert!(dir.path().join("carnet.sqlite").exists());
    let migrate = carnet(dir.path(), None, &["migrate"]);
    assert!(migrate.status.success() && stdout(&migrate).contains("carnet.sqlite"));
}

#[tokio::test(flavor = "multi_thread")]
async fn administers_a_postgres_database() {
    let db = PgTestDb::create().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || administer(dir.path(), Some(&url)))
        .await
        .unwrap();
}

#[test]
fn refuses_an_unknown_database_url_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = carnet(dir.path(), Some("mysql://root@localhost/x"), &["status"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("DATABASE_URL must start with postgres://"),
        "{}",
        stderr(&out)
    );
}
