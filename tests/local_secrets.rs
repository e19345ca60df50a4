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
    assert_eq!(mode(&data.join("carnet.keys")), 0o600, "the keyring");
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

/// Which of `needles` the embedded database's files hold.
fn found_in_database(data: &Path, needles: &[(&str, Vec<u8>)]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(data).unwrap().flatten() {
        let path = entry.path();
        if !path.to_string_lossy().contains("carnet.sqlite") {
            continue;
        }
        // A WAL file may go away as the last connection closes.
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for (name, needle) in needles {
            if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                found.push(format!("{name} in {}", path.display()));
            }
        }
    }
    found
}

/// A stolen laptop after an erasure (issue 17, item 5): the database's files, read/
/// folded by every projection, hold neither the erased student's key (in clear or
/// wrapped) nor their name in clear; exports carry no key unless asked, and then only
/// wrapped.
#[tokio::test(flavor = "multi_thread")]
async fn an_erased_student_leaves_nothing_readable_in_the_files() {
    use carnet_domain::enrolment::StudentEvent;
    use carnet_store::keys::{self, StoredKey};
    use carnet_store::{EventStore, Location, StoreOptions};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("carnet-data");
    let demo = run(&data, None, &["demo", "--students", "30"]);
    assert!(demo.status.success(), "{}", text(&demo.stderr));

    let (uai, student, names, wrapped, key) = {
        let store = EventStore::open(&Location::DataDir(data.clone()), StoreOptions::default())
            .await
            .unwrap();
        let uai = store.tenants().await.unwrap()[0].tenant.clone();
        // Every read model folded, so that their tables are searched too.
        for p in carnet_projections::all() {
            carnet_projections::rebuild(&store, &uai, p, |_, _| {})
                .await
                .unwrap();
        }
        let admitted = store
            .read_log(&uai, 0, 100_000)
            .await
            .unwrap()
            .into_iter()
            .find_map(
                |e| match serde_json::from_value(e.current_payload().unwrap()) {
                    Ok(StudentEvent::StudentAdmitted {
                        student, identity, ..
                    }) => Some((student, identity)),
                    _ => None,
                },
            )
            .unwrap();
        let (student, identity) = admitted;
        let vault = store.vault();
        let last: String = vault
            .open(&uai, &identity.last_name)
            .await
            .unwrap()
            .unwrap();
        let first: String = vault
            .open(&uai, &identity.first_name)
            .await
            .unwrap()
            .unwrap();
        let row = keys::load(
            &store.backend().pool(),
            &uai,
            std::slice::from_ref(&student),
        )
        .await
        .unwrap()
        .remove(0);
        let Some(StoredKey::Wrapped(wrapped)) = row.key else {
            panic!("keys are stored wrapped")
        };
        let key = vault
            .keyring()
            .unwrap_key(&uai, &student, &wrapped)
            .unwrap();
        (uai, student, (first, last), wrapped, key)
    };
    let needles = [
        ("the key in clear", key.to_vec()),
        ("the key in hex", hex::encode(key).into_bytes()),
        ("the first name in clear", names.0.clone().into_bytes()),
        ("the last name in clear", names.1.clone().into_bytes()),
    ];
    assert_eq!(found_in_database(&data, &needles), Vec::<String>::new());
    assert_eq!(
        found_in_database(&data, &[("wrapped", wrapped.bytes.clone())]).len(),
        1,
        "the control: the wrapped key is found before the erasure"
    );

    // Exports: no key unless asked; asked, wrapped only.
    let plain = dir.path().join("plain.jsonl");
    let out = run(
        &data,
        None,
        &["replay", "export", "-o", plain.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plain = std::fs::read_to_string(&plain).unwrap();
    assert!(
        !plain.contains(r#""kind":"key""#),
        "no key lines by default"
    );
    let keyed = dir.path().join("keyed.jsonl");
    let out = run(
        &data,
        None,
        &[
            "replay",
            "export",
            "--with-keys",
            "-o",
            keyed.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let keyed = std::fs::read_to_string(&keyed).unwrap();
    assert!(keyed.contains(r#""kind":"key""#) && keyed.contains(r#""wrapped""#));
    assert!(!keyed.contains(&hex::encode(key)) && !keyed.contains(&names.1));

    let erased = run(
        &data,
        None,
        &[
            "erase-person",
            &student,
            "--grounds",
            "demande de la famille (RGPD art. 17)",
        ],
    );
    assert!(erased.status.success(), "{}", text(&erased.stderr));
    assert!(
        text(&erased.stdout).contains(&student),
        "{}",
        text(&erased.stdout)
    );
    let mut all = needles.to_vec();
    all.push(("the wrapped key", wrapped.bytes.clone()));
    assert_eq!(
        found_in_database(&data, &all),
        Vec::<String>::new(),
        "after the erasure of {student} in {uai}"
    );
}
