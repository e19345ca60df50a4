//! A real Carnet server for end-to-end tests: its own database (Postgres or SQLite) with
//! a small demo establishment, the inline projections and projectors `carnet serve`
//! runs, listening on a port of its own (port 0), spoken to over HTTP and WebSocket.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use carnet::demo::DemoOptions;
use carnet_api::auth::{Authenticator, ClaimedRole, DevKey};
use carnet_api::state::AppState;
use carnet_domain::Uai;
use carnet_projections::Inline;
use carnet_store::testing::TestStore;
use carnet_store::{BackendKind, BeforeCommit, EventStore, StoreOptions};
use serde_json::{json, Value};
use tokio::sync::watch;

pub const UAI: &str = "0750655E";

/// The web origin (an ENT's web app) the test servers let call them from a browser.
pub const ENT_ORIGIN: &str = "https://ent.monlycee.example";

pub struct TestServer {
    pub base: String,
    pub key: DevKey,
    pub uai: Uai,
    pub store: EventStore,
    pub http: reqwest::Client,
    stop: watch::Sender<bool>,
    _db: TestStore,
}

impl TestServer {
    pub async fn start(kind: BackendKind, students: usize) -> TestServer {
        let db = TestStore::new(kind).await;
        carnet::demo::load(
            &db.store,
            &DemoOptions {
                students,
                seed: 2026,
            },
        )
        .await
        .unwrap();
        let inline = carnet_projections::named(&[carnet_projections::INLINE_BY_DEFAULT]).unwrap();
        let store = db
            .open_another(StoreOptions {
                before_commit: Some(Arc::new(Inline::new(inline)) as Arc<dyn BeforeCommit>),
                ..Default::default()
            })
            .await;
        let uai = Uai::parse(UAI).unwrap();
        let (stop, stopped) = watch::channel(false);
        let scheduler = carnet_projections::Scheduler::new(store.clone(), Default::default());
        scheduler.catch_up().await.unwrap();
        let mut until = stopped.clone();
        tokio::spawn(async move {
            let _ = scheduler
                .run(async move {
                    let _ = until.wait_for(|s| *s).await;
                })
                .await;
        });
        let key = DevKey::new(rand_key());
        // The demo's auditor for every establishment; another only for one that is not
        // the demo's (tests/api.rs `the_auditor_role_is_granted_not_claimed`).
        let auditors = carnet_api::auth::Auditors::parse(&format!(
            "auditeur, insp.ailleurs@{}",
            carnet_domain::Uai::from_number(750_656).unwrap()
        ))
        .unwrap();
        let state = Arc::new(
            AppState::new(
                store.clone(),
                Authenticator::new(Some(key.clone()), None).with_auditors(auditors),
            )
            .with_cors_origins(vec![ENT_ORIGIN.to_string()]),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut on_stop = stopped.clone();
        tokio::spawn(carnet_api::server::serve(state, listener, async move {
            let _ = on_stop.wait_for(|s| *s).await;
        }));
        TestServer {
            base,
            key,
            uai,
            store,
            http: reqwest::Client::new(),
            stop,
            _db: db,
        }
    }

    pub fn token(&self, person: &str, role: ClaimedRole) -> String {
        self.key
            .mint(
                person,
                std::slice::from_ref(&self.uai),
                &[role],
                chrono::Duration::hours(1),
            )
            .unwrap()
    }

    pub async fn post(
        &self,
        token: Option<&str>,
        headers: &[(&str, &str)],
        query: &str,
        variables: Value,
    ) -> Value {
        let mut request = self
            .http
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send().await.unwrap().json().await.unwrap()
    }

    /// A query as `person` acting as `role`.
    pub async fn as_(
        &self,
        person: &str,
        role: ClaimedRole,
        query: &str,
        variables: Value,
    ) -> Value {
        let token = self.token(person, role);
        self.post(Some(&token), &[], query, variables).await
    }

    /// The test database under this server.
    pub fn db(&self) -> &TestStore {
        &self._db
    }

    pub async fn head(&self) -> i64 {
        self.store
            .tenants()
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.tenant == self.uai)
            .unwrap()
            .head
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn rand_key() -> Vec<u8> {
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .chain(uuid::Uuid::new_v4().as_bytes())
        .copied()
        .collect()
}

/// The error code of the first error, if any.
pub fn code(answer: &Value) -> Option<String> {
    answer["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_string)
}

/// The data of an answer that must have no error.
pub fn data(answer: &Value) -> &Value {
    assert!(
        answer.get("errors").is_none_or(Value::is_null),
        "unexpected errors: {answer:#}"
    );
    &answer["data"]
}
