//! What the benchmarks share.

use sqlx::{Connection, Executor};

/// The URL of database `name` on the Postgres server at $BENCH_PG, as it is.
#[allow(dead_code)] // not every benchmark reuses a database
pub fn pg_database(name: &str) -> String {
    let server =
        std::env::var("BENCH_PG").unwrap_or_else(|_| "postgresql://root@127.0.0.1:5432".into());
    format!("{server}/{name}")
}

/// A database `name` recreated empty on the Postgres server at $BENCH_PG (default
/// postgresql://root@127.0.0.1:5432); its URL.
pub async fn fresh_pg_database(name: &str) -> String {
    let server =
        std::env::var("BENCH_PG").unwrap_or_else(|_| "postgresql://root@127.0.0.1:5432".into());
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/test"))
        .await
        .expect("connect to the benchmark's Postgres server");
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .expect("drop the benchmark database");
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create the benchmark database");
    format!("{server}/{name}")
}

/// Store options with the keyring of `dir` (`carnet.keys`, made if need be): the one the
/// Carnet processes a bench starts with that data directory use, and the one every store
/// of the bench must share on its database.
pub fn keyed(dir: &std::path::Path) -> carnet_store::StoreOptions {
    let keyring =
        carnet_store::keyring::Keyring::load_or_create(&dir.join(carnet_store::keyring::FILE_NAME))
            .expect("the bench's keyring");
    carnet_store::StoreOptions {
        keyring: Some(std::sync::Arc::new(keyring)),
        ..Default::default()
    }
}
