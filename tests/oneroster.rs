//! `carnet import oneroster` and `carnet export-oneroster` as an administrator runs them:
//! a OneRoster 1.2 bundle into an empty database (a dry run first, then again: nothing to
//! change), exported and imported into another database, a bad bundle refused whole; on
//! the embedded SQLite default and on Postgres.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::path::Path;

use carnet_store::testing::PgTestDb;
use support::process::{run as carnet, text};

mod support;

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/importers/tests/fixtures/oneroster"
);

fn row<'a>(out: &'a str, kind: &str) -> Vec<&'a str> {
    out.lines()
        .find(|l| l.trim_start().starts_with(kind))
        .unwrap_or_else(|| panic!("no {kind} in {out}"))
        .split_whitespace()
        .collect()
}

fn round_trip_through_the_cli(
    first: (&Path, Option<&str>),
    second: (&Path, Option<&str>),
    work: &Path,
) {
    let (dir, url) = first;
    let dry = carnet(dir, url, &["import", "oneroster", SAMPLE, "--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert!(text(&dry.stdout).contains("dry run: nothing was written"));
    assert!(text(&carnet(dir, url, &["status"]).stdout).contains("no establishment yet"));

    let done = carnet(dir, url, &["import", "oneroster", SAMPLE]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let out = text(&done.stdout);
    assert!(out.contains("(oneroster, UTF-8,"), "{out}");
    assert!(out.contains("for 0691234S"), "{out}");
    assert_eq!(row(&out, "students"), ["students", "4", "0", "0"]);
    assert_eq!(row(&out, "guardians"), ["guardians", "3", "0", "0"]);
    assert!(
        out.contains("note: line 13 (users.csv): usr-proctor has role proctor"),
        "{out}"
    );
    let again = carnet(dir, url, &["import", "oneroster", SAMPLE]);
    assert!(
        text(&again.stdout).contains("nothing to change"),
        "{}",
        text(&again.stdout)
    );

    // Export, then into another database.
    let bundle = work.join("export");
    let exported = carnet(
        dir,
        url,
        &[
            "export-oneroster",
            "--out",
            bundle.to_str().unwrap(),
            "--as-of",
            "2026-09-03",
        ],
    );
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let out = text(&exported.stdout);
    assert!(
        out.contains("OneRoster 1.2 bundle of 0691234S for 2026-2027"),
        "{out}"
    );
    assert_eq!(row(&out, "users.csv"), ["users.csv", "11"]);
    let (dir2, url2) = second;
    let copied = carnet(
        dir2,
        url2,
        &["import", "oneroster", bundle.to_str().unwrap()],
    );
    assert!(copied.status.success(), "{}", text(&copied.stderr));
    let out = text(&copied.stdout);
    assert_eq!(row(&out, "students"), ["students", "4", "0", "0"]);
    assert_eq!(row(&out, "staff"), ["staff", "5", "0", "0"]);
    assert_eq!(row(&out, "services"), ["services", "3", "0", "0"]);
    let again = carnet(
        dir2,
        url2,
        &["import", "oneroster", bundle.to_str().unwrap()],
    );
    assert!(
        text(&again.stdout).contains("nothing to change"),
        "{}",
        text(&again.stdout)
    );

    // A bad bundle: every problem on standard error, exit status 1, nothing written.
    let before = text(&carnet(dir2, url2, &["status"]).stdout);
    let enrollments = std::fs::read_to_string(bundle.join("enrollments.csv"))
        .unwrap()
        .replace(",division-5A,", ",division-5Z,");
    std::fs::write(bundle.join("enrollments.csv"), enrollments).unwrap();
    std::fs::remove_file(bundle.join("roles.csv")).unwrap();
    let refused = carnet(
        dir2,
        url2,
        &["import", "oneroster", bundle.to_str().unwrap()],
    );
    assert_eq!(refused.status.code(), Some(1));
    let err = text(&refused.stderr);
    assert!(
        err.contains("export: the file: roles.csv: the bundle has no such file"),
        "{err}"
    );
    assert_eq!(text(&carnet(dir2, url2, &["status"]).stdout), before);

    for (dir, url) in [first, second] {
        let verify = carnet(dir, url, &["replay", "verify"]);
        assert!(verify.status.success(), "{}", text(&verify.stdout));
    }
}

#[test]
fn oneroster_through_the_embedded_sqlite_database() {
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    round_trip_through_the_cli((one.path(), None), (two.path(), None), work.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn oneroster_through_postgres() {
    let one = PgTestDb::create().await.unwrap();
    let two = PgTestDb::create().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    round_trip_through_the_cli(
        (dir.path(), Some(&one.url)),
        (dir.path(), Some(&two.url)),
        work.path(),
    );
}
