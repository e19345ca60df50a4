//! `carnet import` as the secretariat runs it: STS-Web then SIECLE into an empty
//! database, a dry run, the same file again, a bad file; on the embedded SQLite default
//! and on Postgres.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::path::Path;

use carnet_store::testing::PgTestDb;
use support::process::{run as carnet, text};

mod support;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/importers/tests/fixtures");

fn imports_through_the_cli(data_dir: &Path, url: Option<&str>) {
    let sts = format!("{FIXTURES}/sts_emp_0750655E_2026.xml");
    let siecle = format!("{FIXTURES}/ElevesSansAdresses.xml");

    let unknown = carnet(data_dir, url, &["import", "pronote", &sts]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr)
            .contains("unknown format `pronote`: Carnet imports siecle, siecle-responsables, sts"),
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

/// FET, Untis and aSc timetables through the CLI, each into an establishment of its own.
fn imports_timetables_through_the_cli(url_for: &dyn Fn() -> Option<String>) {
    let fet = format!("{FIXTURES}/fet/School-10-Oradea-2007-2008");
    let untis = format!("{FIXTURES}/untis/GPU001.TXT");
    let asc = format!("{FIXTURES}/asc/asctt.xml");
    let runs: [(&str, &str, &[&str], &str); 3] = [
        ("fet", &fet, &[], "410"),
        ("untis", &untis, &["--hours", "1=08:00-08:55,2=09:00-09:55,3=10:10-11:05,4=11:10-12:05,5=13:30-14:25,6=14:30-15:25"], "7"),
        ("asc", &asc, &[], "5"),
    ];
    for (format, file, extra, courses) in runs {
        let dir = tempfile::tempdir().unwrap();
        let url = url_for();
        let url = url.as_deref();
        let added = carnet(
            dir.path(),
            url,
            &["tenant", "add", "0750655E", "Lycée Jean Moulin"],
        );
        assert!(added.status.success(), "{}", text(&added.stderr));
        let mut args = vec![
            "import",
            format,
            file,
            "--year",
            "2026-2027",
            "--from",
            "2026-09-01",
        ];
        args.extend_from_slice(extra);
        let done = carnet(dir.path(), url, &args);
        assert!(done.status.success(), "{format}: {}", text(&done.stderr));
        let out = text(&done.stdout);
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with("courses"))
            .unwrap();
        assert_eq!(
            line.split_whitespace().collect::<Vec<_>>(),
            ["courses", courses, "0", "0"],
            "{format}: {out}"
        );
        let again = carnet(dir.path(), url, &args);
        assert!(
            text(&again.stdout).contains("nothing to change"),
            "{format}: {}",
            text(&again.stdout)
        );
        let verify = carnet(dir.path(), url, &["replay", "verify"]);
        assert!(verify.status.success(), "{}", text(&verify.stdout));
    }
}

#[test]
fn imports_timetables_into_the_embedded_sqlite_database() {
    imports_timetables_through_the_cli(&|| None);
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_timetables_into_postgres_databases() {
    // A database of its own per establishment, dropped at the end.
    let dbs = std::sync::Mutex::new(Vec::new());
    let handle = tokio::runtime::Handle::current();
    let url_for = || {
        let db = tokio::task::block_in_place(|| handle.block_on(PgTestDb::create())).unwrap();
        let url = db.url.clone();
        dbs.lock().unwrap().push(db);
        Some(url)
    };
    tokio::task::block_in_place(|| imports_timetables_through_the_cli(&url_for));
}
