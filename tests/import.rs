//! `carnet import` as the secretariat runs it: STS-Web then SIECLE into an empty
//! database, a dry run, the same file again, a bad file; on the embedded SQLite default
//! and on Postgres.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::path::Path;
use std::process::{Command, Output};

use carnet_store::testing::PgTestDb;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/importers/tests/fixtures");

fn carnet(data_dir: &Path, database_url: Option<&str>, args: &[&str]) -> Output {
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

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn imports_through_the_cli(data_dir: &Path, url: Option<&str>) {
    let sts = format!("{FIXTURES}/sts_emp_0750655E_2026.xml");
    let siecle = format!("{FIXTURES}/ElevesSansAdresses.xml");

    let unknown = carnet(data_dir, url, &["import", "pronote", &sts]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("unknown format `pronote`: Carnet imports siecle, sts"),
        "{}",
        text(&unknown.stderr)
    );

    let dry = carnet(data_dir, url, &["import", "sts", &sts, "--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let out = text(&dry.stdout);
    assert!(out.contains("dry run: nothing was written"), "{out}");
    assert!(
        out.contains("staff") && out.contains("would append"),
        "{out}"
    );
    let status = carnet(data_dir, url, &["status"]);
    assert!(
        text(&status.stdout).contains("no establishment yet"),
        "{}",
        text(&status.stdout)
    );

    let done = carnet(
        data_dir,
        url,
        &["import", "sts", &sts, "--as", "secretaire"],
    );
    assert!(done.status.success(), "{}", text(&done.stderr));
    let out = text(&done.stdout);
    assert!(out.contains("for 0750655E"), "{out}");
    let staff_line = out
        .lines()
        .find(|l| l.trim_start().starts_with("staff"))
        .unwrap();
    assert_eq!(
        staff_line.split_whitespace().collect::<Vec<_>>(),
        ["staff", "5", "0", "0"]
    );
    let done = carnet(data_dir, url, &["import", "siecle", &siecle]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert!(
        text(&done.stdout).contains(
            "note: line 44 (BEE_ELEVES/DONNEES/ELEVES/ELEVE): 2345678901G left before 2026-2027"
        ),
        "{}",
        text(&done.stdout)
    );
    let again = carnet(data_dir, url, &["import", "siecle", &siecle]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains("nothing to change"),
        "{}",
        text(&again.stdout)
    );

    // A bad file: every problem on standard error, exit status 1, nothing written.
    let before = text(&carnet(data_dir, url, &["status"]).stdout);
    let bad_dir = tempfile::tempdir().unwrap();
    let bad = bad_dir.path().join("ElevesSansAdresses.xml");
    let content = std::fs::read_to_string(&siecle)
        .unwrap()
        .replace("080234567BC", "BAD")
        .replace("14/02/2013", "31/02/2013");
    std::fs::write(&bad, content).unwrap();
    let refused = carnet(data_dir, url, &["import", "siecle", bad.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    let err = text(&refused.stderr);
    assert!(err.contains("2 problem(s), nothing was imported"), "{err}");
    assert!(
        err.contains("ElevesSansAdresses.xml: line 14 (BEE_ELEVES/DONNEES/ELEVES/ELEVE): DATE_NAISS: `31/02/2013` is not a date written dd/mm/yyyy"),
        "{err}"
    );
    assert!(
        err.contains("line 22 (BEE_ELEVES/DONNEES/ELEVES/ELEVE): ID_NATIONAL: `BAD` is not an INE"),
        "{err}"
    );
    assert_eq!(text(&carnet(data_dir, url, &["status"]).stdout), before);

    let verify = carnet(data_dir, url, &["replay", "verify"]);
    assert!(verify.status.success(), "{}", text(&verify.stdout));
}

#[test]
fn imports_into_the_embedded_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    imports_through_the_cli(dir.path(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_into_a_postgres_database() {
    let db = PgTestDb::create().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    imports_through_the_cli(dir.path(), Some(&db.url));
}
