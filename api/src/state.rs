//! What the server shares between requests, and what one request knows of its caller.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use carnet_domain::attendance::AttendancePolicy;
use carnet_domain::Uai;
use carnet_store::{EventStore, Pool, School};
use tokio::sync::{Mutex, OnceCell};

use crate::access::Actor;
use crate::auth::{AuthError, Authenticator, Principal};
use crate::error::{ApiError, ApiResult};
use crate::feed::Feed;
use crate::i18n::{Lang, Text};
use crate::metrics::Metrics;
use crate::reader::{DocCache, Reader};
use carnet_domain::refusal::Refusal;

/// The header naming the establishment a request is about, for tokens that cover
/// several (an auditor's); with one, it may be left out.
pub const ESTABLISHMENT_HEADER: &str = "x-carnet-establishment";

#[derive(Debug)]
pub struct AppState {
    pub store: EventStore,
    pub pool: Pool,
    pub auth: Authenticator,
    pub metrics: Metrics,
    pub feed: Feed,
    pub docs: Arc<DocCache>,
    /// Set while this process's projectors make their first catch-up: the server
    /// answers, and says it is not ready yet.
    pub warming: Arc<AtomicBool>,
    /// The pace each identity may ask at.
    pub limits: crate::limits::RateLimits,
    /// The bounds of an operation and of the WebSocket transport.
    pub server_limits: crate::limits::ServerLimits,
    /// The WebSocket connections open now, counted by identity.
    pub sockets: crate::limits::OpenSockets,
    /// The web origins whose pages may call the API from a browser (an ENT's web app
    /// served from another origin), e.g. `https://ent.monlycee.net`; none by default.
    pub cors_origins: Vec<String>,
    /// The address people reach this server at (`https://carnet.region.fr`), printed on
    /// bulletins for their verification; the request's `Host` when not set.
    pub public_url: Option<String>,
    schools: Mutex<HashMap<Uai, Arc<School>>>,
}

impl AppState {
    pub fn new(store: EventStore, auth: Authenticator) -> Self {
        AppState {
            pool: store.backend().pool(),
            feed: Feed::new(store.clone()),
            metrics: Metrics::new(),
            docs: Arc::default(),
            warming: Arc::default(),
            limits: crate::limits::RateLimits::default(),
            server_limits: crate::limits::ServerLimits::default(),
            sockets: crate::limits::OpenSockets::default(),
            cors_origins: Vec::new(),
            public_url: None,
            store,
            auth,
            schools: Mutex::new(HashMap::new()),
        }
    }

    /// With the web origins allowed to call the API from a browser.
    pub fn with_cors_origins(mut self, origins: Vec<String>) -> Self {
        self.cors_origins = origins;
        self
    }

    /// With the address people reach this server at (see [`AppState::public_url`]).
    pub fn with_public_url(mut self, url: Option<String>) -> Self {
        self.public_url = url.map(|u| u.trim_end_matches('/').to_string());
        self
    }

    /// With another pace per identity (requests per second, burst).
    pub fn with_rate_limit(mut self, per_second: u32, burst: u32) -> Self {
        self.limits = crate::limits::RateLimits::new(per_second, burst);
        self
    }

    /// With other bounds of an operation and of the WebSocket transport (tests shorten
    /// them to see them work).
    pub fn with_server_limits(mut self, limits: crate::limits::ServerLimits) -> Self {
        self.server_limits = limits;
        self
    }

    /// The command side of an establishment, made once (its aggregates stay cached).
    pub async fn school(&self, reader: &Reader) -> ApiResult<Arc<School>> {
        let mut schools = self.schools.lock().await;
        if let Some(school) = schools.get(&reader.tenant) {
            return Ok(school.clone());
        }
        let establishment = reader.at(None).establishment().await?;
        let policy = AttendancePolicy {
            morning_ends: establishment.morning_ends,
            ..AttendancePolicy::default()
        };
        let school = Arc::new(School::new(
            self.store.clone(),
            reader.tenant.clone(),
            policy,
        ));
        schools.insert(reader.tenant.clone(), school.clone());
        Ok(school)
    }
}

/// One request's caller: the token's verdict, the establishment asked for, the
/// idempotency key, and (resolved once, when a field first needs it) the actor.
#[derive(Debug)]
pub struct Caller {
    pub principal: Result<Principal, AuthError>,
    pub establishment: Option<String>,
    pub idempotency_key: Option<String>,
    actor: OnceCell<Result<Arc<Actor>, ApiError>>,
}

impl Caller {
    pub fn new(
        principal: Result<Principal, AuthError>,
        establishment: Option<String>,
        idempotency_key: Option<String>,
    ) -> Self {
        Caller {
            principal,
            establishment,
            idempotency_key,
            actor: OnceCell::new(),
        }
    }

    pub fn principal(&self) -> ApiResult<&Principal> {
        self.principal
            .as_ref()
            .map_err(|e| ApiError::Unauthenticated(e.text()))
    }

    /// The establishment of the request: the header's, or the token's only one.
    pub fn tenant(&self) -> ApiResult<Uai> {
        let principal = self.principal()?;
        match &self.establishment {
            Some(uai) => Uai::parse(uai).map_err(|e| {
                ApiError::validation(
                    ESTABLISHMENT_HEADER,
                    Text::new(e.message(Lang::Fr), e.message(Lang::En)),
                )
            }),
            None => match principal.establishments.as_slice() {
                [one] => Ok(one.clone()),
                _ => Err(ApiError::validation(
                    ESTABLISHMENT_HEADER,
                    Text::new(
                        "votre jeton couvre plusieurs établissements : indiquez-en un dans cet \
                         en-tête",
                        "your token covers several establishments: name one in this header",
                    ),
                )),
            },
        }
    }

    pub async fn reader_and_actor(
        &self,
        state: &AppState,
        reads: Arc<crate::reader::RequestReads>,
    ) -> ApiResult<(Reader, Arc<Actor>)> {
        let reader = Reader::new(
            state.store.clone(),
            state.pool.clone(),
            self.tenant()?,
            state.docs.clone(),
        )
        .with_reads(reads);
        let actor = self
            .actor
            .get_or_init(|| async {
                let principal = self.principal()?;
                Actor::resolve(principal, &reader).await.map(Arc::new)
            })
            .await
            .clone()?;
        Ok((reader, actor))
    }
}
