//! Hostile uploads (issue 17, item 3): an XML entity bomb and a zip bomb are refused with
//! a problem that names them, at once, and nothing is written. Postgres and SQLite.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::io::Write;
use std::time::Duration;

use carnet_importers::{import_path, Format, ImportError, Options};
use carnet_store::testing::TestStore;
use carnet_store::BackendKind;
use chrono::NaiveDate;

const SIECLE: &str = include_str!("fixtures/ElevesSansAdresses.xml");

fn options() -> Options {
    Options::new("secretariat", NaiveDate::from_ymd_opt(2026, 9, 1).unwrap())
}

/// The review's measure: a 120 KB SIECLE file whose one 60 KB entity is referenced
/// 20 000 times (1.2 GB once expanded), in the first student's name.
fn entity_bomb() -> String {
    let entity = "A".repeat(60_000);
    let references = "&big;".repeat(20_000);
    let with_doctype = SIECLE.replacen(
        "<BEE_ELEVES",
        &format!("<!DOCTYPE BEE_ELEVES [\n<!ENTITY big \"{entity}\">\n]>\n<BEE_ELEVES"),
        1,
    );
    with_doctype.replacen(
        "<NOM_DE_FAMILLE>",
        &format!("<NOM_DE_FAMILLE>{references}"),
        1,
    )
}

/// A OneRoster "bundle" whose users.csv unzips from a few kilobytes to 64 MB.
fn zip_bomb() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("users.csv", options).unwrap();
    let zeros = vec![b'0'; 1024 * 1024];
    for _ in 0..64 {
        zip.write_all(&zeros).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}

async fn refused(kind: BackendKind, format: Format, name: &str, bytes: &[u8]) -> String {
    let ts = TestStore::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    // An answer within two seconds, whatever the file holds.
    let outcome = tokio::time::timeout(
        Duration::from_secs(2),
        import_path(&ts.store, format, &path, &options()),
    )
    .await
    .expect("refused at once, not parsed for minutes");
    let error = match outcome {
        Err(e @ ImportError::Invalid(_)) => e.to_string(),
        other => panic!("{other:?}"),
    };
    assert!(
        ts.store.tenants().await.unwrap().is_empty(),
        "nothing written"
    );
    error
}

async fn an_entity_bomb_is_refused_at_once(kind: BackendKind) {
    let bomb = entity_bomb();
    assert!(bomb.len() < 200_000);
    let error = refused(
        kind,
        Format::Siecle,
        "ElevesSansAdresses.xml",
        bomb.as_bytes(),
    )
    .await;
    assert!(error.contains("<!ENTITY"), "{error}");
    assert!(error.contains("line 6"), "{error}");
}

async fn a_zip_bomb_is_refused_at_once(kind: BackendKind) {
    let bomb = zip_bomb();
    assert!(bomb.len() < 1_000_000, "{} bytes", bomb.len());
    let error = refused(kind, Format::OneRoster, "oneroster.zip", &bomb).await;
    assert!(error.contains("zip bomb"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entity_bomb_is_refused_at_once_on_postgres() {
    an_entity_bomb_is_refused_at_once(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entity_bomb_is_refused_at_once_on_sqlite() {
    an_entity_bomb_is_refused_at_once(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_bomb_is_refused_at_once_on_postgres() {
    a_zip_bomb_is_refused_at_once(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_bomb_is_refused_at_once_on_sqlite() {
    a_zip_bomb_is_refused_at_once(BackendKind::Sqlite).await;
}
