//! `carnet replay export` / `import`: the whole log out as JSON Lines and into an empty
//! store of the other backend, with the same hashes and the same read models; a file
//! altered or cut on the way is refused and nothing is written.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use carnet::demo::{self, DemoOptions};
use carnet_replay_tools::log::{self, LogError};
use carnet_store::testing::TestStore;
use carnet_store::{BackendKind, EventStore};
use serde_json::{json, Value};

const STUDENTS: usize = 40;

/// An empty store of `kind` with `source`'s keyring: another database of the same
/// deployment, where the keys exported from `source` unwrap.
async fn sibling(kind: BackendKind, source: &TestStore) -> TestStore {
    TestStore::with_options(
        kind,
        carnet_store::StoreOptions {
            keyring: Some(source.keyring()),
            ..Default::default()
        },
    )
    .await
}

async fn demo_store(kind: BackendKind) -> TestStore {
    let ts = TestStore::new(kind).await;
    demo::load(
        &ts.store,
        &DemoOptions {
            students: STUDENTS,
            seed: 7,
        },
    )
    .await
    .unwrap();
    ts
}

async fn export_bytes(store: &EventStore) -> Vec<u8> {
    let tenants = store.tenants().await.unwrap();
    let mut out = Vec::new();
    log::export(store, &tenants, true, &mut out).await.unwrap();
    out
}

/// `docs` with their personal values opened by `store`'s keys.
async fn opened(store: &EventStore, docs: Vec<(String, String, Value)>) -> Vec<Value> {
    let uai = store.tenants().await.unwrap()[0].tenant.clone();
    let mut out = Vec::new();
    for (_, _, mut doc) in docs {
        store.vault().reveal(&uai, &mut doc).await.unwrap();
        out.push(doc);
    }
    out
}

/// Every line of `export` is valid against the committed schema, and it has keys.
fn check_schema(export: &[u8]) {
    let kinds = check_schema_lines(export);
    assert!(kinds["key"] > STUDENTS, "{kinds:?}");
}

/// Every line of `export` is valid against the committed schema; the count of each kind.
fn check_schema_lines(export: &[u8]) -> std::collections::BTreeMap<String, usize> {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("replay-tools/log.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for (n, line) in String::from_utf8_lossy(export).lines().enumerate() {
        let value: Value = serde_json::from_str(line).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "line {}: {errors:?}\n{line}", n + 1);
        *kinds
            .entry(value["kind"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(kinds["tenant"], kinds["end"]);
    assert!(kinds["event"] > 1000, "{kinds:?}");
    kinds
}

/// Every projection rebuilt from the log, as (projection, key, document).
async fn read_models(store: &EventStore) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for tenant in store.tenants().await.unwrap() {
        for projection in carnet_projections::all() {
            let name = projection.name().to_string();
            carnet_projections::rebuild(store, &tenant.tenant, projection, |_, _| {})
                .await
                .unwrap();
            let docs: Vec<(String, Value)> = carnet_projections::query::docs_with_prefix(
                &store.backend().pool(),
                &tenant.tenant,
                &name,
                "",
            )
            .await
            .unwrap();
            all.extend(docs.into_iter().map(|(k, d)| (name.clone(), k, d)));
        }
    }
    all
}

async fn intact(store: &EventStore) {
    for report in carnet_replay_tools::verify(store, None).await.unwrap() {
        assert!(report.is_intact(), "{report:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_goes_from_postgres_to_sqlite_and_back_with_its_hashes_and_read_models() {
    let pg = demo_store(BackendKind::Postgres).await;
    let from_pg = export_bytes(&pg.store).await;
    check_schema(&from_pg);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.jsonl");
    std::fs::write(&file, &from_pg).unwrap();

    // A store with another keyring does not take the keys: they would not unwrap there.
    let foreign = TestStore::new(BackendKind::Sqlite).await;
    let error = log::import(&foreign.store, &file)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("does not hold"), "{error}");
    assert!(
        foreign.store.tenants().await.unwrap().is_empty(),
        "nothing written"
    );

    let sqlite = sibling(BackendKind::Sqlite, &pg).await;
    let sections = log::import(&sqlite.store, &file).await.unwrap();
    assert_eq!(sections.len(), 1);
    intact(&sqlite.store).await;
    assert_eq!(
        pg.store.tenants().await.unwrap(),
        sqlite.store.tenants().await.unwrap()
    );
    // The same log, byte for byte, read back from the other backend.
    let from_sqlite = export_bytes(&sqlite.store).await;
    assert!(from_pg == from_sqlite, "the exports differ");
    let models = read_models(&pg.store).await;
    assert!(models.len() > 100, "{} documents", models.len());
    assert!(models == read_models(&sqlite.store).await);
    // The keys came along: personal values open the same on both sides.
    let in_clear = opened(&pg.store, models.clone()).await;
    assert!(in_clear == opened(&sqlite.store, read_models(&sqlite.store).await).await);
    let text = serde_json::to_string(&in_clear).unwrap();
    assert!(!text.contains("$sealed") && !text.contains("$erased"));

    // Without its keys, the log still verifies and its personal values read as erased.
    let tenants = pg.store.tenants().await.unwrap();
    let mut bare = Vec::new();
    log::export(&pg.store, &tenants, false, &mut bare)
        .await
        .unwrap();
    check_schema_lines(&bare);
    std::fs::write(&file, &bare).unwrap();
    let keyless = TestStore::new(BackendKind::Sqlite).await;
    log::import(&keyless.store, &file).await.unwrap();
    intact(&keyless.store).await;
    let text =
        serde_json::to_string(&opened(&keyless.store, read_models(&keyless.store).await).await)
            .unwrap();
    assert!(text.contains("$erased") && !text.contains("$sealed"));

    // And back into an empty Postgres.
    std::fs::write(&file, &from_sqlite).unwrap();
    let pg_again = sibling(BackendKind::Postgres, &pg).await;
    log::import(&pg_again.store, &file).await.unwrap();
    intact(&pg_again.store).await;
    assert!(export_bytes(&pg_again.store).await == from_pg);
    // The store goes on from where the log stopped.
    let head = pg_again.store.tenants().await.unwrap()[0].head;
    let uai = pg_again.store.tenants().await.unwrap()[0].tenant.clone();
    pg_again
        .store
        .append(
            &uai,
            carnet_store::AppendRequest::new(
                carnet_store::StreamRef::new("Note", "after-import"),
                carnet_store::ExpectedVersion::Exactly(0),
                vec![carnet_store::NewEvent::new(
                    "Noted",
                    1,
                    serde_json::json!({ "text": "Hélène" }),
                )],
            ),
        )
        .await
        .unwrap();
    assert_eq!(pg_again.store.tenants().await.unwrap()[0].head, head + 1);
    intact(&pg_again.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_or_truncated_export_writes_nothing_and_names_the_line() {
    let source = demo_store(BackendKind::Sqlite).await;
    let export = String::from_utf8(export_bytes(&source.store).await).unwrap();
    let lines: Vec<&str> = export.lines().collect();
    let dir = tempfile::tempdir().unwrap();
    let target = sibling(BackendKind::Postgres, &source).await;
    let attempt = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };

    // A mark changed in the file: the hash of its line no longer matches.
    let n = lines
        .iter()
        .position(|l| l.contains("\"MarkEntered\""))
        .unwrap();
    let mut altered: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let mut event: Value = serde_json::from_str(&altered[n]).unwrap();
    let score = event
        .pointer_mut("/payload/MarkEntered/mark/Score")
        .unwrap_or_else(|| panic!("a score in {}", altered[n]));
    *score = if *score == "20" {
        "19".into()
    } else {
        "20".into()
    };
    altered[n] = event.to_string();
    let path = attempt("altered.jsonl", altered.join("\n"));
    let error = log::import(&target.store, &path).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("line {}: position ", n + 1))
            && text.contains("does not match its hash"),
        "{text}"
    );

    // Cut before its end.
    let path = attempt("cut.jsonl", lines[..lines.len() - 1].join("\n"));
    let error = log::import(&target.store, &path).await.unwrap_err();
    assert!(error.to_string().contains("truncated"), "{error}");

    // An event missing in the middle.
    let mut gap: Vec<&str> = lines.clone();
    gap.remove(10);
    let path = attempt("gap.jsonl", gap.join("\n"));
    let error = log::import(&target.store, &path).await.unwrap_err();
    assert!(error.to_string().contains("are missing"), "{error}");

    // Not the format.
    let path = attempt("other.jsonl", "{\"kind\":\"tenant\",\"format\":2}\n".into());
    let error = log::import(&target.store, &path).await.unwrap_err();
    assert!(matches!(error, LogError::Bad { line: 1, .. }), "{error}");

    assert!(target.store.tenants().await.unwrap().is_empty());

    // The good file goes in once; a second time is refused by name.
    let path = attempt("good.jsonl", export.clone());
    log::import(&target.store, &path).await.unwrap();
    let error = log::import(&target.store, &path).await.unwrap_err();
    assert!(matches!(error, LogError::Exists(_)), "{error}");
    intact(&target.store).await;
}

fn carnet(data_dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_carnet"))
        .args(args)
        .env("CARNET_DATA_DIR", data_dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn export_and_import_through_the_command() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let demo = carnet(a.path(), &["demo", "--students", "20"]);
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let file = a.path().join("log.jsonl");
    let export = carnet(
        a.path(),
        &[
            "replay",
            "export",
            "--with-keys",
            "--output",
            file.to_str().unwrap(),
        ],
    );
    let said = String::from_utf8_lossy(&export.stderr).to_string();
    assert!(
        export.status.success() && said.contains("events exported"),
        "{said}"
    );
    // The keys travel wrapped: they open where the deployment's keyring is.
    std::fs::copy(a.path().join("carnet.keys"), b.path().join("carnet.keys")).unwrap();
    let import = carnet(b.path(), &["replay", "import", file.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&import.stderr).to_string();
    assert!(
        import.status.success() && said.contains("events imported"),
        "{said}"
    );
    let verify = carnet(b.path(), &["replay", "verify"]);
    let out = String::from_utf8_lossy(&verify.stdout).to_string();
    assert!(verify.status.success() && out.contains("intact"), "{out}");
    // To standard output too, the same bytes.
    let stdout = carnet(a.path(), &["replay", "export", "--with-keys"]);
    assert_eq!(stdout.stdout, std::fs::read(&file).unwrap());

    // Erasing a person in the imported copy: named, recorded, keys destroyed; the log
    // still verifies and its export carries the erasure, not the key.
    let unknown = carnet(b.path(), &["erase-person", "nobody", "--grounds", "x"]);
    let said = String::from_utf8_lossy(&unknown.stderr).to_string();
    assert!(
        !unknown.status.success() && said.contains("`nobody`"),
        "{said}"
    );
    let erase = carnet(
        b.path(),
        &[
            "erase-person",
            "eleve00001",
            "--grounds",
            "fin de la durée de conservation",
            "--as",
            "dpo",
        ],
    );
    let said = String::from_utf8_lossy(&erase.stdout).to_string();
    assert!(
        erase.status.success() && said.contains("eleve00001 erased"),
        "{said}\n{}",
        String::from_utf8_lossy(&erase.stderr)
    );
    let verify = carnet(b.path(), &["replay", "verify"]);
    let out = String::from_utf8_lossy(&verify.stdout).to_string();
    assert!(verify.status.success() && out.contains("intact"), "{out}");
    let export = carnet(b.path(), &["replay", "export", "--with-keys"]);
    let lines: Vec<Value> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let key = lines
        .iter()
        .find(|l| l["kind"] == "key" && l["owner"] == "eleve00001")
        .unwrap();
    assert_eq!(key["key"], Value::Null);
    assert_eq!(key["wrapped"], Value::Null);
    assert_eq!(key["grounds"], "fin de la durée de conservation");
    let erasure = lines
        .iter()
        .find(|l| l["event_type"] == "PersonErased")
        .unwrap();
    assert_eq!(erasure["metadata"]["actor"], "dpo");
}

/// A row changed behind Carnet's back, by a superuser who disabled the append-only
/// triggers: `carnet replay verify` finds it, names it, and exits non-zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_a_row_altered_behind_carnets_back() {
    let db = carnet_store::testing::PgTestDb::create().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_carnet"))
            .args(args)
            .env("CARNET_DATA_DIR", dir.path())
            .env("DATABASE_URL", &db.url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let demo = run(&["demo", "--students", "20"]);
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let verify = run(&["replay", "verify"]);
    assert!(verify.status.success());

    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let refused = sqlx::query("UPDATE events SET payload = '{}' WHERE position = 1")
        .execute(&pool)
        .await;
    assert!(refused.is_err(), "the triggers refuse it");
    let (position, stream): (i64, String) = sqlx::query_as(
        "SELECT position, stream_type || '/' || stream_id FROM events
         WHERE event_type = 'MarkEntered' ORDER BY position LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let mut tx = pool.begin().await.unwrap();
    for sql in [
        "ALTER TABLE events DISABLE TRIGGER USER".to_string(),
        format!("UPDATE events SET payload = jsonb_set(payload, '{{MarkEntered,mark}}', '{{\"Score\": \"20\"}}') WHERE position = {position}"),
        "ALTER TABLE events ENABLE TRIGGER USER".to_string(),
    ] {
        sqlx::query(&sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    pool.close().await;

    let verify = run(&["replay", "verify"]);
    let out = String::from_utf8_lossy(&verify.stdout).to_string();
    assert_eq!(verify.status.code(), Some(2), "{out}");
    assert!(
        out.contains(&format!("BROKEN at position {position}")) && out.contains(&stream),
        "{out}"
    );
}

/// `carnet retention`: absence data is kept to the end of its school year (plus the
/// years asked), then its keys are erased; identities stay, the log still verifies.
#[test]
fn retention_erases_absence_data_past_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let demo = carnet(dir.path(), &["demo", "--students", "20"]);
    assert!(demo.status.success());
    let listed = |args: &[&str]| {
        let out = carnet(dir.path(), args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let june = listed(&["retention", "--today", "2027-06-30"]);
    assert!(june.contains(": 0 key(s) past"), "{june}");
    let later = listed(&["retention", "--today", "2028-06-30", "--absence-years", "1"]);
    assert!(
        later.contains(": 0 key(s) past"),
        "kept one more year: {later}"
    );
    let september = listed(&["retention", "--today", "2027-09-01"]);
    let rows = september
        .lines()
        .filter(|l| l.contains("absences 2026-2027"))
        .count();
    assert!(rows > 0, "{september}");
    let applied = listed(&["retention", "--today", "2027-09-01", "--apply"]);
    assert!(
        applied.contains(&format!(": {rows} key(s) erased")),
        "{applied}"
    );
    let again = listed(&["retention", "--today", "2027-09-01"]);
    assert!(again.contains(": 0 key(s) past"), "{again}");
    let verify = listed(&["replay", "verify"]);
    assert!(verify.contains("intact"), "{verify}");
    let export = listed(&["replay", "export"]);
    let keys: Vec<Value> = export
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["kind"] == "key")
        .collect();
    for key in &keys {
        let owner = key["owner"].as_str().unwrap();
        let absences = owner.ends_with("/absences/2026-2027");
        assert_eq!(key["key"].is_null(), absences, "{key}");
        if absences {
            assert!(key["grounds"].as_str().unwrap().starts_with("retention"));
        }
    }
}

/// `carnet replay as-of` and `replay diff`: a student's record before and after an
/// absence is recorded, what changed in between with who recorded it, and the same
/// record once the student is erased.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_and_diff_read_the_log_at_an_instant() {
    use carnet_domain::attendance::{AttendanceCommand, AttendancePolicy, Status};
    use carnet_domain::enrolment::SchoolYear;
    use carnet_store::{CommandContext, Location, School, Source, StoreOptions};

    let dir = tempfile::tempdir().unwrap();
    let demo = carnet(dir.path(), &["demo", "--students", "20"]);
    assert!(demo.status.success());
    let json = |args: &[&str]| -> Value {
        let out = carnet(dir.path(), args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let before = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    let store = EventStore::open(
        &Location::DataDir(dir.path().into()),
        StoreOptions::default(),
    )
    .await
    .unwrap();
    let uai = store.tenants().await.unwrap()[0].tenant.clone();
    let school = School::new(store.clone(), uai, AttendancePolicy::default());
    school
        .attendance
        .execute(
            &School::attendance_id(&SchoolYear::starting(2026), "eleve00001"),
            AttendanceCommand::RecordAttendance {
                student: "eleve00001".into(),
                lesson: "etude@2026-11-30".into(),
                date: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
                start: chrono::NaiveTime::from_hms_opt(16, 0, 0).unwrap(),
                end: chrono::NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
                status: Status::Absent,
                by: "aed1".into(),
                notify: vec![],
            },
            &CommandContext {
                actor: Some("aed1".into()),
                role: Some("aed".into()),
                source: Source::Api,
                ..CommandContext::default()
            },
        )
        .await
        .unwrap();
    drop((school, store));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let after = chrono::Utc::now();
    let (before, after) = (before.to_rfc3339(), after.to_rfc3339());

    let lesson = |record: &Value| {
        record["state"]["attendance"]["2026-2027"]["lessons"]["etude@2026-11-30"].clone()
    };
    let then = json(&["replay", "as-of", &before, "--student", "eleve00001"]);
    assert_eq!(lesson(&then), Value::Null, "not yet recorded");
    assert!(
        then["state"]["student"]["identity"]["last_name"].is_string(),
        "{}",
        then["state"]["student"]
    );
    assert!(then["state"]["marks"].as_array().unwrap().len() > 3);
    let now = json(&["replay", "as-of", &after, "--student", "eleve00001"]);
    assert_eq!(lesson(&now)["status"], "Absent");
    // By INE too, and one stream alone.
    let ine = now["state"]["student"]["identity"]["ine"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        json(&["replay", "as-of", &after, "--student", &ine])["state"]["id"],
        "eleve00001"
    );
    let stream = json(&[
        "replay",
        "as-of",
        &after,
        "--stream",
        "attendance/2026-2027/eleve00001",
    ]);
    assert_eq!(
        stream["state"]["lessons"]["etude@2026-11-30"]["status"],
        "Absent"
    );

    let changes = json(&["replay", "diff", &before, &after]);
    assert_eq!(changes["events"], 1, "{changes}");
    let events = &changes["streams"]["attendance/2026-2027/eleve00001"];
    assert_eq!(events[0]["event"], "AttendanceRecorded");
    assert_eq!(
        (&events[0]["by"], &events[0]["role"]),
        (&json!("aed1"), &json!("aed"))
    );

    let division = json(&["replay", "as-of", &after, "--division", "6e1"]);
    assert!(
        !division["state"]["students"].as_array().unwrap().is_empty(),
        "{division}"
    );

    // Once erased, the past reads as erased too.
    let erase = carnet(
        dir.path(),
        &["erase-person", "eleve00001", "--grounds", "RGPD art. 17"],
    );
    assert!(erase.status.success());
    let then = json(&["replay", "as-of", &before, "--student", "eleve00001"]);
    assert_eq!(
        then["state"]["student"]["identity"]["last_name"],
        json!({ "$erased": "eleve00001" })
    );
    let bad = carnet(dir.path(), &["replay", "as-of", "yesterday"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`yesterday` is not an instant"));
}

/// SIGKILL during `carnet replay import`: whenever the process dies, the establishment
/// is either absent or whole (verify intact, every event there), never half-written;
/// importing again afterwards gives back exactly the exported log and its keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_import_leaves_nothing_half_written() {
    use carnet_store::{Location, StoreOptions};

    let source = tempfile::tempdir().unwrap();
    assert!(carnet(source.path(), &["demo", "--students", "40"])
        .status
        .success());
    let file = source.path().join("log.jsonl");
    let export = carnet(
        source.path(),
        &[
            "replay",
            "export",
            "--with-keys",
            "-o",
            file.to_str().unwrap(),
        ],
    );
    assert!(export.status.success());
    let exported = std::fs::read(&file).unwrap();

    let db = carnet_store::testing::PgTestDb::create().await.unwrap();
    let import = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_carnet"));
        command
            .args(["replay", "import", file.to_str().unwrap()])
            // The keyring of the export's source: its keys unwrap with it only.
            .env("CARNET_DATA_DIR", source.path())
            .env("DATABASE_URL", &db.url)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    };
    let open = || async {
        let keyring = carnet_store::keyring::Keyring::load_or_create(
            &source.path().join(carnet_store::keyring::FILE_NAME),
        )
        .unwrap();
        let options = StoreOptions {
            keyring: Some(std::sync::Arc::new(keyring)),
            ..Default::default()
        };
        EventStore::open(&Location::Url(db.url.clone()), options)
            .await
            .unwrap()
    };
    let mut killed_midway = 0;
    for delay in [30u64, 120, 250, 500, 1000] {
        let mut child = import().spawn().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let store = open().await;
        let tenants = store.tenants().await.unwrap();
        if tenants.is_empty() {
            killed_midway += 1;
            continue;
        }
        intact(&store).await;
        assert!(export_bytes(&store).await == exported, "imported whole");
        break;
    }
    // The first kill comes 30 ms in, long before the 2 900 events are written.
    assert!(killed_midway >= 1);
    let store = open().await;
    if store.tenants().await.unwrap().is_empty() {
        assert!(import().status().unwrap().success());
    }
    intact(&store).await;
    assert!(
        export_bytes(&store).await == exported,
        "the log and its keys, byte for byte (killed midway {killed_midway} time(s))"
    );
}
