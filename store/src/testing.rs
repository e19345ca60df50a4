//! Test support (feature `testing`): every test gets its own store, on a fresh Postgres
//! database of the real server or a fresh SQLite file, so tests run in parallel.
//!
//! The Postgres server is `CARNET_TEST_PG` (default `postgres://root@127.0.0.1:5432/test`);
//! each test database is created from it and dropped when the test ends.

use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection, SqliteConnection};
use tempfile::TempDir;
use uuid::Uuid;

use crate::backend::BackendKind;
use crate::error::StoreError;
use crate::keyring::Keyring;
use crate::store::{EventStore, Location, StoreOptions};

pub const DEFAULT_TEST_PG: &str = "postgres://root@127.0.0.1:5432/test";

pub fn admin_url() -> String {
    std::env::var("CARNET_TEST_PG").unwrap_or_else(|_| DEFAULT_TEST_PG.to_string())
}

/// A Postgres database of its own, dropped (with its connections) on drop.
#[derive(Debug)]
pub struct PgTestDb {
    pub url: String,
    name: String,
}

impl PgTestDb {
    pub async fn create() -> Result<Self, StoreError> {
        let admin = admin_url();
        let name = format!("carnet_test_{}", Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin).await?;
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await?;
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(base, _)| base);
        Ok(PgTestDb {
            url: format!("{base}/{name}"),
            name,
        })
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async code; a thread of its own can block on the cleanup.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
                    let _ = conn
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// A migrated store of its own on the given backend.
#[derive(Debug)]
pub struct TestStore {
    pub store: EventStore,
    pub location: Location,
    pg: Option<PgTestDb>,
    dir: Option<TempDir>,
}

impl TestStore {
    pub async fn new(kind: BackendKind) -> Self {
        Self::with_options(kind, StoreOptions::default()).await
    }

    pub async fn with_options(kind: BackendKind, mut options: StoreOptions) -> Self {
        let (location, pg, dir) = match kind {
            BackendKind::Postgres => {
                let db = PgTestDb::create()
                    .await
                    .expect("create a test database (is Postgres running?)");
                // A Postgres store has no default keyring: each test database its own.
                options
                    .keyring
                    .get_or_insert_with(|| std::sync::Arc::new(Keyring::generate()));
                (Location::Url(db.url.clone()), Some(db), None)
            }
            BackendKind::Sqlite => {
                let dir = tempfile::tempdir().expect("create a temporary directory");
                (Location::DataDir(dir.path().to_path_buf()), None, Some(dir))
            }
        };
        let store = EventStore::open(&location, options)
            .await
            .expect("open the test store");
        TestStore {
            store,
            location,
            pg,
            dir,
        }
    }

    pub fn kind(&self) -> BackendKind {
        if self.pg.is_some() {
            BackendKind::Postgres
        } else {
            BackendKind::Sqlite
        }
    }

    /// The keyring of this store's database, for another store or process on it.
    pub fn keyring(&self) -> std::sync::Arc<Keyring> {
        std::sync::Arc::new(self.store.vault().keyring().clone())
    }

    /// Another store on the same database: a second server instance, with the same
    /// keyring unless `options` names one.
    pub async fn open_another(&self, options: StoreOptions) -> EventStore {
        self.open_another_result(options)
            .await
            .expect("open a second store")
    }

    /// As [`TestStore::open_another`], with the error of a store that does not open.
    pub async fn open_another_result(
        &self,
        mut options: StoreOptions,
    ) -> Result<EventStore, StoreError> {
        options.keyring.get_or_insert_with(|| self.keyring());
        EventStore::open(&self.location, options).await
    }

    /// Runs SQL on a connection of its own, as a database superuser or someone holding
    /// the SQLite file would, bypassing the store. For tampering tests.
    pub async fn raw_sql(&self, sql: &str) -> Result<(), sqlx::Error> {
        match (&self.pg, &self.dir) {
            (Some(db), _) => {
                let mut conn = PgConnection::connect(&db.url).await?;
                conn.execute(sql).await?;
            }
            (None, Some(dir)) => {
                let path = EventStore::sqlite_file(dir.path());
                let mut conn =
                    SqliteConnection::connect(&format!("sqlite:{}", path.display())).await?;
                conn.execute(
                    format!(
                        "PRAGMA busy_timeout = {};",
                        Duration::from_secs(10).as_millis()
                    )
                    .as_str(),
                )
                .await?;
                conn.execute(sql).await?;
            }
            (None, None) => unreachable!("a test store is on Postgres or SQLite"),
        }
        Ok(())
    }

    /// The Postgres URL of this store, if it is on Postgres.
    pub fn pg_url(&self) -> Option<&str> {
        self.pg.as_ref().map(|db| db.url.as_str())
    }
}
