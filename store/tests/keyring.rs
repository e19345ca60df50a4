//! The keys of personal data against someone who holds the database's files: keys are
//! wrapped by a keyring kept outside the database, an erasure leaves nothing of the key
//! in the files once checkpointed, request fingerprints are keyed, a process with
//! another keyring is refused, and rotation makes older copies useless.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::path::PathBuf;
use std::sync::Arc;

use carnet_domain::attendance::{AttendanceCommand, AttendancePolicy, StudentAttendance};
use carnet_domain::enrolment::SchoolYear;
use carnet_domain::personal::Personal;
use carnet_domain::Uai;
use carnet_store::keyring::{Keyring, Wrapped};
use carnet_store::keys::{self, StoredKey};
use carnet_store::testing::TestStore;
use carnet_store::{
    AppendRequest, BackendKind, CommandContext, EventStore, ExpectedVersion, NewEvent, School,
    StoreOptions, StreamRef,
};
use chrono::NaiveDate;
use cqrs_es::Aggregate;
use serde_json::json;
use sha2::{Digest, Sha256};

/// A clear value no other test writes, to look for in the files.
const CLEAR: &str = "Zéphyrine Quasimodo-Vétiver";
const OWNER: &str = "eleve-grep";

fn uai() -> Uai {
    Uai::from_number(750_655).unwrap()
}

/// An establishment whose log holds one personal value of `OWNER`; its key as the
/// database holds it, and in clear.
async fn with_one_secret(store: &EventStore) -> (Wrapped, [u8; 32]) {
    store
        .create_tenant(&uai(), "Collège Hélène Boucher", "Europe/Paris")
        .await
        .unwrap();
    let payload = json!({ "Noted": { "name": Personal::known(OWNER, CLEAR.to_string()) } });
    store
        .append(
            &uai(),
            AppendRequest::new(
                StreamRef::new("note", OWNER),
                ExpectedVersion::Exactly(0),
                vec![NewEvent::new("Noted", 1, payload)],
            ),
        )
        .await
        .unwrap();
    let row = keys::load(&store.backend().pool(), &uai(), &[OWNER.to_string()])
        .await
        .unwrap()
        .remove(0);
    let Some(StoredKey::Wrapped(wrapped)) = row.key else {
        panic!("the key is stored wrapped: {row:?}")
    };
    let key = store
        .vault()
        .keyring()
        .unwrap_key(&uai(), OWNER, &wrapped)
        .unwrap();
    (wrapped, key)
}

/// Which of `needles` the files hold (any of them, anywhere in any file).
fn found_in(files: &[PathBuf], needles: &[(&str, Vec<u8>)]) -> Vec<String> {
    let mut found = Vec::new();
    for (name, needle) in needles {
        for file in files {
            let Ok(bytes) = std::fs::read(file) else {
                continue;
            };
            if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                found.push(format!("{name} in {}", file.display()));
            }
        }
    }
    found
}

/// Every file under `dir`.
fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// The files of the test's database: the SQLite file and its WAL, or the Postgres
/// database's directory and the cluster's WAL.
async fn database_files(ts: &TestStore) -> (Vec<PathBuf>, Vec<PathBuf>) {
    match ts.pg_url() {
        None => {
            let carnet_store::Location::DataDir(dir) = &ts.location else {
                panic!("a SQLite test store lives in a data directory")
            };
            let files: Vec<PathBuf> = files_under(dir)
                .into_iter()
                .filter(|f| f.to_string_lossy().contains("carnet.sqlite"))
                .collect();
            (files.clone(), files)
        }
        Some(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let data: String = sqlx::query_scalar("SELECT current_setting('data_directory')")
                .fetch_one(&pool)
                .await
                .unwrap();
            let table: String = sqlx::query_scalar("SELECT pg_relation_filepath('person_keys')")
                .fetch_one(&pool)
                .await
                .unwrap();
            let database: String = sqlx::query_scalar(
                "SELECT 'base/' || oid FROM pg_database WHERE datname = current_database()",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            let data = PathBuf::from(data);
            let mut everything = files_under(&data.join(database));
            everything.extend(files_under(&data.join("pg_wal")));
            assert!(
                everything.len() > 10,
                "the test reads Postgres's files (it runs as their owner or root)"
            );
            (vec![data.join(table)], everything)
        }
    }
}

async fn checkpoint(ts: &TestStore) {
    if let Some(url) = ts.pg_url() {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query("CHECKPOINT").execute(&pool).await.unwrap();
    }
}

async fn erasure_leaves_no_key_in_the_files(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let (wrapped, key) = with_one_secret(&ts.store).await;
    let needles = [
        ("the key in clear", key.to_vec()),
        ("the clear value", CLEAR.as_bytes().to_vec()),
    ];
    checkpoint(&ts).await;
    let (key_table, everything) = database_files(&ts).await;
    // The control: the files are where the wrapped key is, so a search that finds
    // nothing later means something.
    assert_eq!(
        found_in(&key_table, &[("wrapped", wrapped.bytes.clone())]).len(),
        1,
        "the wrapped key is in the key table's file before the erasure"
    );
    assert_eq!(
        found_in(&everything, &needles),
        Vec::<String>::new(),
        "the key and the value are never written in clear"
    );

    let erased = ts
        .store
        .vault()
        .erase(
            &uai(),
            &keys::Erase::Person(OWNER.into()),
            "demande de la famille",
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(erased, [OWNER]);
    checkpoint(&ts).await;
    let (key_table, everything) = database_files(&ts).await;
    assert_eq!(
        found_in(&key_table, &[("wrapped", wrapped.bytes.clone())]),
        Vec::<String>::new(),
        "nothing of the erased key is left in the key table's file"
    );
    assert_eq!(found_in(&everything, &needles), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_erasure_leaves_no_key_in_the_files() {
    erasure_leaves_no_key_in_the_files(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_erasure_leaves_no_key_in_the_files() {
    erasure_leaves_no_key_in_the_files(BackendKind::Postgres).await;
}

async fn another_keyring_is_refused(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    with_one_secret(&ts.store).await;
    let other = Arc::new(Keyring::generate());
    let refused = ts
        .open_another_result(StoreOptions {
            keyring: Some(other),
            ..Default::default()
        })
        .await
        .unwrap_err()
        .to_string();
    let current = ts.store.vault().keyring().current().to_string();
    assert!(
        refused.contains(&current) && refused.contains("keyring"),
        "names the KEK and what to give: {refused}"
    );
    // Same id, other bytes (a keyring made again by hand): refused too.
    let forged = Keyring::parse(
        &format!(
            "kek {current} {}\nfingerprint {}",
            "A".repeat(43) + "=",
            "A".repeat(43) + "="
        ),
        "forged",
    )
    .unwrap();
    let refused = ts
        .open_another_result(StoreOptions {
            keyring: Some(Arc::new(forged)),
            ..Default::default()
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("not the one"), "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_refuses_another_keyring() {
    another_keyring_is_refused(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_refuses_another_keyring() {
    another_keyring_is_refused(BackendKind::Postgres).await;
}

/// After a rotation and the old KEK's retirement, a copy of the key table taken before
/// (a backup) holds nothing that unwraps: the erased keys of then included.
async fn rotation_makes_older_copies_useless(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let (old_copy, key) = with_one_secret(&ts.store).await;
    let mut keyring = ts.store.vault().keyring().clone();
    let old = keyring.current().to_string();
    let new = keyring.add_kek();
    let rotated = ts
        .open_another(StoreOptions {
            keyring: Some(Arc::new(keyring.clone())),
            ..Default::default()
        })
        .await;
    let pool = rotated.backend().pool();
    assert_eq!(rotated.vault().rewrap().await.unwrap(), 1);
    let usage = keys::usage(&pool).await.unwrap();
    assert_eq!(usage, vec![(Some(new.clone()), 1)]);
    // The value still opens, with the key it always had.
    let row = keys::load(&pool, &uai(), &[OWNER.to_string()])
        .await
        .unwrap();
    let Some(StoredKey::Wrapped(now)) = &row[0].key else {
        panic!("wrapped")
    };
    assert_eq!(now.kek, new);
    assert_eq!(keyring.unwrap_key(&uai(), OWNER, now).unwrap(), key);

    keyring.remove_kek(&old).unwrap();
    keys::drop_probe(&pool, &old).await.unwrap();
    let error = keyring.unwrap_key(&uai(), OWNER, &old_copy).unwrap_err();
    assert!(error.to_string().contains(&old), "{error}");
    // A process with only the new KEK opens the database.
    ts.open_another(StoreOptions {
        keyring: Some(Arc::new(keyring)),
        ..Default::default()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_rotation_makes_older_copies_useless() {
    rotation_makes_older_copies_useless(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_rotation_makes_older_copies_useless() {
    rotation_makes_older_copies_useless(BackendKind::Postgres).await;
}

/// A key written in clear before keys were wrapped is wrapped when the store opens.
#[tokio::test(flavor = "multi_thread")]
async fn keys_in_clear_from_before_are_wrapped_at_open() {
    let ts = TestStore::new(BackendKind::Postgres).await;
    let (_, key) = with_one_secret(&ts.store).await;
    ts.raw_sql(&format!(
        "UPDATE person_keys SET key = '\\x{}', kek = NULL",
        hex::encode(key)
    ))
    .await
    .unwrap();
    let pool = ts.store.backend().pool();
    assert_eq!(keys::usage(&pool).await.unwrap(), vec![(None, 1)]);
    let reopened = ts.open_another(StoreOptions::default()).await;
    let current = reopened.vault().keyring().current().to_string();
    assert_eq!(keys::usage(&pool).await.unwrap(), vec![(Some(current), 1)]);
}

/// The idempotency records keep a keyed fingerprint of each request: someone with the
/// database cannot confirm a guess of what a request said (a reason from the short list
/// of absence reasons) by hashing it.
#[tokio::test(flavor = "multi_thread")]
async fn request_fingerprints_do_not_confirm_guesses() {
    let ts = TestStore::new(BackendKind::Postgres).await;
    ts.store
        .create_tenant(&uai(), "Collège Hélène Boucher", "Europe/Paris")
        .await
        .unwrap();
    let school = School::new(ts.store.clone(), uai(), AttendancePolicy::default());
    let year = SchoolYear::starting(2026);
    let stream_id = School::attendance_id(&year, "eleve1");
    let day = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
    let command = |reason: &str| AttendanceCommand::DeclareJustification {
        student: "eleve1".into(),
        justification: "j1".into(),
        from: day,
        to: day,
        reason: reason.into(),
        comment: String::new(),
        by: "resp1".into(),
    };
    let context = CommandContext {
        command_id: Some(uuid::Uuid::new_v4()),
        actor: Some("resp1".into()),
        role: Some("guardian".into()),
        ..CommandContext::default()
    };
    school
        .attendance
        .execute(&stream_id, command("MAL"), &context)
        .await
        .unwrap();
    let pool = sqlx::PgPool::connect(ts.pg_url().unwrap()).await.unwrap();
    let recorded: Vec<u8> = sqlx::query_scalar("SELECT request_hash FROM commands")
        .fetch_one(&pool)
        .await
        .unwrap();
    // The attack: hash each guess as the unkeyed fingerprint of before did.
    let stream = StreamRef::new(StudentAttendance::TYPE, &stream_id);
    let unkeyed = |reason: &str| {
        let value = serde_json::to_value(command(reason)).unwrap();
        let mut h = Sha256::new();
        h.update(b"carnet-command-v1");
        for part in [
            stream.stream_type.as_str(),
            stream.stream_id.as_str(),
            &carnet_store::hash::canonical_json(&value),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().to_vec()
    };
    for guess in ["MAL", "RDV", "FAM", "TRA", "AUT"] {
        assert_ne!(
            recorded,
            unkeyed(guess),
            "the guess {guess} is not confirmed"
        );
    }
    // With the keyring, the store itself still recognises the retry.
    let value = serde_json::to_value(command("MAL")).unwrap();
    assert_eq!(recorded, ts.store.fingerprint(&stream, &value).to_vec());
    let again = school
        .attendance
        .execute(&stream_id, command("MAL"), &context)
        .await
        .unwrap();
    assert!(
        matches!(again, carnet_store::CommandOutcome::Appended(ref o) if o.replayed),
        "{again:?}"
    );
}
