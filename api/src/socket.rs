//! The GraphQL WebSocket (`/graphql/ws`, graphql-transport-ws and the older graphql-ws).
//!
//! The router's body limit and request timeout bound an HTTP request; a WebSocket lives
//! for hours and carries any number of operations (queries and mutations as well as
//! subscriptions), so it bounds itself here, to the same measure:
//!
//! - each message at most [`ServerLimits::max_message_bytes`] (the HTTP body limit);
//! - `connection_init` within [`ServerLimits::init_timeout`], with a valid token, and at
//!   most [`ServerLimits::connections_per_identity`] connections per identity; the
//!   connection ends when its token expires;
//! - each operation paced as an HTTP request of the same identity, its fields counted
//!   before validation, its caller resolved anew (rights are today's, not those of the
//!   connection's first minute), and for a query or mutation the stream-read budget and
//!   the deadline of an HTTP request;
//! - at most [`ServerLimits::subscriptions_per_connection`] subscriptions open at once.
//!
//! [`ServerLimits::max_message_bytes`]: crate::limits::ServerLimits::max_message_bytes
//! [`ServerLimits::init_timeout`]: crate::limits::ServerLimits::init_timeout
//! [`ServerLimits::connections_per_identity`]: crate::limits::ServerLimits::connections_per_identity
//! [`ServerLimits::subscriptions_per_connection`]: crate::limits::ServerLimits::subscriptions_per_connection

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use async_graphql::http::{WebSocket as Protocol, WebSocketProtocols, WsMessage};
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Request, Response};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::stream::{self, BoxStream, Stream, StreamExt};
use futures::SinkExt;
use tokio::sync::watch;

use crate::auth::{AuthError, Principal};
use crate::error::ApiError;
use crate::i18n::{self, Lang, Text};
use crate::limits::SocketSlot;
use crate::reader::RequestReads;
use crate::schema::CarnetSchema;
use crate::state::{AppState, Caller, ESTABLISHMENT_HEADER};

/// graphql-transport-ws: no `connection_init` in time.
const CLOSE_INIT_TIMEOUT: u16 = 4408;
/// graphql-transport-ws: `connection_init` refused, or the connection's rights are over
/// (its token expired).
const CLOSE_FORBIDDEN: u16 = 4403;
/// RFC 6455: a message too big to process.
const CLOSE_TOO_BIG: u16 = 1009;
/// RFC 6455: the longest reason a close frame carries.
const MAX_CLOSE_REASON: usize = 123;

/// What the upgrade request said, for a token sent there rather than in
/// `connection_init`.
#[derive(Debug, Default)]
pub struct Upgrade {
    pub authorization: Option<String>,
    pub establishment: Option<String>,
    /// The language its `Accept-Language` asks for; `connection_init` may name another
    /// (`{"acceptLanguage": "en"}`).
    pub lang: Lang,
}

/// Serves one WebSocket until the client leaves, a limit closes it, or its token expires.
pub async fn serve(
    state: Arc<AppState>,
    schema: CarnetSchema,
    socket: WebSocket,
    protocol: WebSocketProtocols,
    upgrade: Upgrade,
) {
    let limits = state.server_limits.clone();
    let connection = Arc::new(Connection {
        state,
        upgrade_lang: upgrade.lang,
        lang: OnceLock::new(),
        opened: OnceLock::new(),
        refused: AtomicBool::new(false),
        subscriptions: Arc::default(),
    });
    // When the connection's token expires, known at `connection_init`.
    let (expiry, expires) = watch::channel(None::<i64>);
    let (mut sink, source) = socket.split();
    // Why reading stopped, when it failed (a message over the size limit, mostly).
    let read_failure: Arc<OnceLock<String>> = Arc::default();
    let input = {
        let read_failure = read_failure.clone();
        source
            .scan((), move |_, message| {
                std::future::ready(match message {
                    Ok(message) => Some(message),
                    Err(error) => {
                        let _ = read_failure.set(error.to_string());
                        None
                    }
                })
            })
            .filter_map(|message| {
                std::future::ready(match message {
                    Message::Text(_) | Message::Binary(_) => Some(message.into_data()),
                    _ => None,
                })
            })
    };
    let operations = Operations {
        schema,
        connection: connection.clone(),
    };
    let init = {
        let connection = connection.clone();
        move |payload: serde_json::Value| async move {
            let field = |name: &str| {
                payload
                    .as_object()
                    .and_then(|o| {
                        o.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(name))
                            .and_then(|(_, v)| v.as_str())
                    })
                    .map(str::to_string)
            };
            // The connection's language: `connection_init`'s, or the upgrade request's.
            let lang = field("acceptLanguage")
                .or_else(|| field("accept-language"))
                .map_or(upgrade.lang, |v| i18n::from_accept_language(Some(&v)));
            let _ = connection.lang.set(lang);
            let opening = connection.open(
                field("authorization").or(upgrade.authorization),
                field(ESTABLISHMENT_HEADER).or(upgrade.establishment),
            );
            let expires_at = i18n::scope(lang, opening).await.map_err(|refused| {
                connection.refused.store(true, Ordering::Release);
                async_graphql::Error::new(refused)
            })?;
            let _ = expiry.send(Some(expires_at));
            Ok(Data::default())
        }
    };
    let graphql = Protocol::new(operations, input, protocol).on_connection_init(init);
    tokio::pin!(graphql);
    let init_deadline = tokio::time::sleep(limits.init_timeout);
    tokio::pin!(init_deadline);
    let token_end = token_expiry(expires);
    tokio::pin!(token_end);
    let mut awaiting_init = true;
    let close = loop {
        tokio::select! {
            message = graphql.next() => match message {
                Some(WsMessage::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                // A refused `connection_init` (said with graphql-transport-ws's code,
                // where async-graphql says 1002), a message that is not the protocol's.
                Some(WsMessage::Close(code, reason)) => {
                    let refused = connection.refused.load(Ordering::Acquire);
                    break Some((if refused { CLOSE_FORBIDDEN } else { code }, reason));
                }
                None => break read_failure.get().and_then(|failure| too_big(failure, limits.max_message_bytes, connection.lang())),
            },
            () = &mut init_deadline, if awaiting_init => {
                if connection.opened.get().is_some() {
                    awaiting_init = false;
                } else {
                    tracing::debug!("a WebSocket sent no connection_init in time: closed");
                    break Some((CLOSE_INIT_TIMEOUT, "Connection initialisation timeout".into()));
                }
            }
            // The connection's rights were those of its token.
            () = &mut token_end => {
                tracing::debug!("a WebSocket's token expired: connection closed");
                break Some((CLOSE_FORBIDDEN, AuthError::Expired.text().get(connection.lang()).to_string()));
            }
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: shortened(reason).into(),
        };
        let _ = sink.send(Message::Close(Some(frame))).await;
    }
}

/// The close of a connection whose reading failed for a message over the size limit;
/// `None` for other failures (the peer went away: nobody to tell).
fn too_big(failure: &str, max: usize, lang: Lang) -> Option<(u16, String)> {
    // axum's error wraps tungstenite's, not reachable by type from here: its words say
    // which it is ("Space limit exceeded: Message too long: ...").
    failure.contains("too long").then(|| {
        tracing::debug!(%failure, "a WebSocket message over the size limit: closed");
        (
            CLOSE_TOO_BIG,
            Text::new(
                format!("un message fait au plus {max} octets"),
                format!("a message may be at most {max} bytes"),
            )
            .get(lang)
            .to_string(),
        )
    })
}

/// `reason` cut to what a close frame carries, on a character boundary.
fn shortened(mut reason: String) -> String {
    if reason.len() > MAX_CLOSE_REASON {
        let mut end = MAX_CLOSE_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

/// Resolves when the expiry sent on `expires` has passed (never, before one is sent).
async fn token_expiry(mut expires: watch::Receiver<Option<i64>>) {
    let at = loop {
        if let Some(at) = *expires.borrow_and_update() {
            break at;
        }
        if expires.changed().await.is_err() {
            return std::future::pending().await;
        }
    };
    let left = at - chrono::Utc::now().timestamp();
    tokio::time::sleep(Duration::from_secs(u64::try_from(left).unwrap_or(0))).await;
}

/// One WebSocket connection: who opened it, once `connection_init` said so.
struct Connection {
    state: Arc<AppState>,
    /// The language of the upgrade request's `Accept-Language`.
    upgrade_lang: Lang,
    /// The language `connection_init` settled on.
    lang: OnceLock<Lang>,
    opened: OnceLock<Opened>,
    /// `connection_init` was refused.
    refused: AtomicBool,
    /// Subscriptions open now on this connection.
    subscriptions: Arc<AtomicUsize>,
}

struct Opened {
    principal: Principal,
    establishment: Option<String>,
    /// This connection's place among its identity's; given back when it ends.
    _slot: SocketSlot,
}

impl Connection {
    /// The language the connection's answers speak.
    fn lang(&self) -> Lang {
        self.lang.get().copied().unwrap_or(self.upgrade_lang)
    }

    /// `connection_init`: a valid token, within the pace and the connections its
    /// identity may hold. Returns when the token expires, or why it is refused.
    async fn open(
        &self,
        authorization: Option<String>,
        establishment: Option<String>,
    ) -> Result<i64, String> {
        let state = &self.state;
        // A subscription needs a valid token from its first message on: the connection
        // is refused otherwise (graphql-ws closes it).
        let principal = state
            .auth
            .authenticate(authorization.as_deref())
            .await
            .map_err(|e| crate::server::auth_refusal(&e).current().to_string())?;
        // Opening a connection is a request of its identity like any other.
        state
            .limits
            .check(&principal)
            .map_err(|wait| rate_limited(wait).message())?;
        let max = state.server_limits.connections_per_identity;
        let slot = state.sockets.open(&principal, max).ok_or_else(|| {
            tracing::info!(
                max,
                "a WebSocket refused: its identity holds the most it may"
            );
            Text::new(
                format!(
                    "trop de connexions : cette personne en a déjà {max} \
                     ouvertes, le maximum autorisé"
                ),
                format!(
                    "too many connections: this person has {max} open already, the most allowed"
                ),
            )
            .current()
            .to_string()
        })?;
        let expires_at = principal.expires_at;
        let _ = self.opened.set(Opened {
            principal,
            establishment,
            _slot: slot,
        });
        Ok(expires_at)
    }
}

fn rate_limited(wait: Duration) -> ApiError {
    ApiError::RateLimited {
        retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
    }
}

/// The schema as the WebSocket runs it: each operation admitted (or refused) first.
#[derive(Clone)]
struct Operations {
    schema: CarnetSchema,
    connection: Arc<Connection>,
}

impl Executor for Operations {
    async fn execute(&self, request: Request) -> Response {
        match self.execute_stream(request, None).next().await {
            Some(response) => response,
            None => ApiError::internal(&"an operation ended without an answer").to_response(),
        }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        // Each operation, and each answer of a subscription, speaks the connection's
        // language.
        let lang = self.connection.lang();
        match i18n::sync_scope(lang, || {
            self.admit(request.data(lang), session_data.unwrap_or_default())
        }) {
            Ok(running) => i18n::scope_stream(lang, running).boxed(),
            Err(refused) => stream::once(std::future::ready(refused.to_response_in(lang))).boxed(),
        }
    }
}

impl Operations {
    /// The operation running, or why it may not: the same checks as an HTTP request's,
    /// in the same order, and the subscriptions a connection may hold.
    fn admit(
        &self,
        mut request: Request,
        session: Arc<Data>,
    ) -> Result<BoxStream<'static, Response>, ApiError> {
        let connection = &self.connection;
        let state = &connection.state;
        let limits = &state.server_limits;
        // The protocol runs nothing before `connection_init` succeeded, which sets this.
        let opened = connection.opened.get().ok_or_else(|| {
            ApiError::Unauthenticated(Text::new(
                "envoyez d'abord connection_init avec un jeton",
                "send connection_init with a token first",
            ))
        })?;
        state
            .limits
            .check(&opened.principal)
            .map_err(rate_limited)?;
        let name = request.operation_name.clone();
        // Parsed once here and handed on: the schema does not parse it again. A query
        // that does not parse is the schema's to answer.
        let kind = match request.parsed_query() {
            Ok(document) => {
                let fields = crate::cost::fields_in(document);
                if fields > crate::cost::MAX_FIELDS {
                    return Err(ApiError::TooCostly(crate::cost::too_many_fields(fields)));
                }
                crate::cost::operation_type(document, name.as_deref())
            }
            Err(_) => None,
        };
        // A caller of its own, as an HTTP request has: its actor is resolved from the
        // records as they stand now, not as they stood when the connection opened.
        let request = request.data(Caller::new(
            Ok(opened.principal.clone()),
            opened.establishment.clone(),
            None,
        ));
        if kind == Some(OperationType::Subscription) {
            let max = limits.subscriptions_per_connection;
            let slot = SubscriptionSlot::take(&connection.subscriptions, max).ok_or_else(|| {
                ApiError::LimitReached(Text::new(
                    format!(
                        "cette connexion a {max} abonnements ouverts, le maximum autorisé : \
                         terminez-en un avant d'en commencer un autre"
                    ),
                    format!(
                        "this connection has {max} subscriptions open, the most allowed: end \
                         one before starting another"
                    ),
                ))
            })?;
            // No stream-read budget for the subscription's lifetime: its fields each read
            // afresh, under a budget of their own (see `schema::caller`).
            return Ok(Held {
                stream: self
                    .schema
                    .execute_stream_with_session_data(request, session),
                _slot: slot,
            }
            .boxed());
        }
        let request = request.data(Arc::new(RequestReads::with_budget(limits.stream_reads)));
        Ok(self
            .schema
            .execute_stream_with_session_data(request, session))
    }
}

/// One of the subscriptions a connection may hold; given back when dropped (the
/// subscription completed, was stopped, or its connection ended).
struct SubscriptionSlot(Arc<AtomicUsize>);

impl SubscriptionSlot {
    fn take(open: &Arc<AtomicUsize>, max: usize) -> Option<SubscriptionSlot> {
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
        .map(|_| SubscriptionSlot(open.clone()))
    }
}

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A subscription's responses, holding its slot for as long as it runs.
struct Held {
    stream: BoxStream<'static, Response>,
    _slot: SubscriptionSlot,
}

impl Stream for Held {
    type Item = Response;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Response>> {
        self.stream.poll_next_unpin(cx)
    }
}
