//! `carnet demo`: built only through commands, deterministic, safe to run again, on both
//! backends.

#![allow(clippy::unwrap_used)] // helpers of a test file may panic: that is the failure report

use std::process::Command;

use carnet::demo::{self, DemoOptions};
use carnet_domain::Uai;
use carnet_store::testing::TestStore;
use carnet_store::{BackendKind, EventStore};

/// The log as (stream type, stream id, event type, payload), stream by stream: what must
/// not depend on the backend or the run (streams are written concurrently, so their
/// interleaving in the log may differ).
async fn log_of(store: &EventStore) -> Vec<(String, String, String, serde_json::Value)> {
    let mut log = Vec::new();
    for tenant in store.tenants().await.unwrap() {
        let mut from = 0;
        loop {
            let page = store.read_log(&tenant.tenant, from, 5000).await.unwrap();
            let Some(last) = page.last() else { break };
            from = last.position;
            for e in page {
                // Personal values are sealed with keys of this store: compare them in
                // clear, and check none was written in clear.
                let text = e.payload.to_string();
                assert!(
                    !text.contains("\"$personal\""),
                    "in clear in the log: {text}"
                );
                if e.event_type == "StudentAdmitted" {
                    assert!(text.contains("\"$sealed\""), "names not sealed: {text}");
                }
                let mut payload = e.payload.clone();
                store
                    .vault()
                    .reveal(&tenant.tenant, &mut payload)
                    .await
                    .unwrap();
                log.push((
                    e.stream.stream_type.clone(),
                    e.stream.stream_id.clone(),
                    e.event_type.clone(),
                    payload,
                ));
            }
        }
    }
    log.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    log
}

async fn demo_on(kind: BackendKind) -> Vec<(String, String, String, serde_json::Value)> {
    let ts = TestStore::new(kind).await;
    let options = DemoOptions {
        students: 120,
        seed: 7,
    };
    let reports = demo::load(&ts.store, &options).await.unwrap();
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report.students, 120);
    assert_eq!(
        report.divisions, 8,
        "120 students in classes of 25, at least 2 per level"
    );
    assert!(report.teachers >= 10, "{report}");
    assert!(report.marks > 120 * 10, "{report}");
    let log = log_of(&ts.store).await;
    assert_eq!(log.len() as i64, report.events);

    // Run again: every command answers its first outcome and nothing is appended.
    let again = demo::load(&ts.store, &options).await.unwrap();
    assert_eq!(again[0].events, report.events);
    let verify = carnet_replay_tools::verify(&ts.store, None).await.unwrap();
    assert!(verify.iter().all(|r| r.is_intact()));
    log
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_gives_the_same_events_on_postgres_and_sqlite_and_runs_twice_safely() {
    let sqlite = demo_on(BackendKind::Sqlite).await;
    let postgres = demo_on(BackendKind::Postgres).await;
    assert_eq!(sqlite.len(), postgres.len());
    assert!(
        sqlite == postgres,
        "the same seed must give the same events"
    );
    let types: std::collections::BTreeSet<&str> =
        sqlite.iter().map(|(_, _, t, _)| t.as_str()).collect();
    for expected in [
        "EstablishmentRegistered",
        "SchoolYearOpened",
        "DivisionCreated",
        "GroupCreated",
        "ServiceAssigned",
        "StudentAdmitted",
        "GuardianLinked",
        "EvaluationCreated",
        "MarkEntered",
        "TimetableOpened",
        "GroupDeclared",
        "CourseAdded",
        "AttendanceRecorded",
        "GuardiansNotified",
        "JustificationDeclared",
        "ResourceRegistered",
        "Booked",
        "BookedWeekly",
    ] {
        assert!(types.contains(expected), "no {expected} in {types:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn beyond_one_collège_the_demo_builds_a_district() {
    let options = DemoOptions {
        students: 2500,
        seed: 1,
    };
    let establishments = demo::establishments(&options);
    assert_eq!(establishments.len(), 3);
    assert_eq!(
        establishments.iter().map(|(_, _, n)| n).sum::<usize>(),
        2500
    );
    let uais: std::collections::BTreeSet<&Uai> = establishments.iter().map(|(u, _, _)| u).collect();
    assert_eq!(uais.len(), 3);
    let ts = TestStore::new(BackendKind::Sqlite).await;
    let too_few = demo::load(
        &ts.store,
        &DemoOptions {
            students: 2,
            seed: 1,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(too_few.to_string(), "the demo needs at least 4 students");
}

/// Runs the main command (`carnet` alone: the server) until it says where it serves and
/// has printed its tokens, checks `/healthz` there, stops it with SIGTERM and returns
/// everything it printed; it must stop cleanly.
fn serve_once(data_dir: &std::path::Path) -> String {
    use std::io::{BufRead, Read, Write};
    let mut child = Command::new(env!("CARGO_BIN_EXE_carnet"))
        .env("CARNET_DATA_DIR", data_dir)
        .env("CARNET_BIND", "127.0.0.1:0")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if lines.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut out = String::new();
    let mut address = None;
    // Up to the auditor's token, the last printed.
    let mut auditor = false;
    while let Ok(line) = received.recv_timeout(std::time::Duration::from_secs(300)) {
        out.push_str(&line);
        out.push('\n');
        if let Some(rest) = line.strip_prefix("Carnet serves GraphQL at http://") {
            address = rest.split('/').next().map(str::to_string);
        }
        if auditor {
            break;
        }
        auditor = line.trim_start().starts_with("auditor");
    }
    let address = address.unwrap_or_else(|| panic!("no address printed:\n{out}"));
    let mut health = std::net::TcpStream::connect(&address).unwrap();
    health.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    health.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    let term = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    while let Ok(line) = received.recv_timeout(std::time::Duration::from_secs(10)) {
        out.push_str(&line);
        out.push('\n');
    }
    assert!(status.success(), "{status}\n{out}");
    assert!(
        out.contains("stopping: finishing the requests in flight"),
        "{out}"
    );
    out
}

#[test]
fn the_main_command_serves_the_demo_from_an_empty_embedded_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = serve_once(dir.path());
    assert!(out.contains("loading the demo establishment"), "{out}");
    assert!(out.contains("600 students in 24 divisions"), "{out}");
    assert!(
        out.contains("Collège Jean Moulin (démo) (0750655E)"),
        "{out}"
    );
    assert!(out.contains("guardian    resp00001a"), "{out}");
    assert!(out.contains("{\"Authorization\": \"Bearer ey"), "{out}");
    // Not empty any more: the second start serves what is there.
    let out = serve_once(dir.path());
    assert!(!out.contains("loading the demo"), "{out}");
    assert!(out.contains("0750655E"), "{out}");
}
