//! The HTTP server: the GraphQL endpoint (POST, and graphql-ws over WebSocket at
//! `/graphql/ws`), GraphiQL at `/`, `/healthz`, `/readyz`, `/status/projections`,
//! `/metrics`, and the feeds of [`crate::feeds`] (`/calendar/<secret>.ics`,
//! `/export/absences.csv`, `/export/grades.csv`), with request
//! size and time limits and graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::http::{WebSocketProtocols, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::{MatchedPath, State, WebSocketUpgrade};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::auth::{AuthError, ClaimedRole};
use crate::i18n::{self, Lang, Text};
use crate::schema::{self, CarnetSchema};
use crate::state::{AppState, Caller, ESTABLISHMENT_HEADER};

/// Largest request body accepted: a big roll call or gradebook grid fits many times.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest GraphQL multipart request (a file uploaded to `importFile`): a large lycée's
/// SIECLE export with addresses or its STS-Web file is a few megabytes, a OneRoster zip
/// of a few thousand people some more.
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;
/// Longest a request may take before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A projection further behind than this makes the server not ready.
pub const READY_MAX_LAG_SECONDS: f64 = 60.0;

/// What GraphiQL shows first: a student's week, absences, report card and history.
pub const DEFAULT_QUERY: &str = r#"# In the Headers tab, write {"Authorization": "Bearer <a token printed by carnet serve>"}, then run.
# The Docs pane (top left) describes every type and field.
query Dashboard {
  me { person establishment roles children }
  student(id: "eleve00001") {
    firstName lastName
    placement { division groups }
    timetable(from: "2026-11-23", to: "2026-11-27") {
      start end subject room teachers cancelled
    }
    absences(first: 5) {
      totalCount
      edges { node { date start status { label } justified history { at person role via event } } }
    }
    halfDays(from: "2026-09-01", to: "2026-12-19") { total justified unjustified }
    reportCard {
      period overall
      subjects { subject average }
      marks { date subject title mark { label } history { at person event before after } }
    }
  }
}
"#;

#[derive(Clone)]
struct Server {
    state: Arc<AppState>,
    schema: CarnetSchema,
}

impl axum::extract::FromRef<Server> for Arc<AppState> {
    fn from_ref(server: &Server) -> Self {
        server.state.clone()
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    let server = Server {
        schema: schema::build(state.clone()),
        state,
    };
    // The GraphQL endpoint takes files by the multipart request convention: its body
    // limit depends on the kind of request (`limit_body`).
    let graphql_route = Router::new()
        .route("/graphql", get(graphiql_page).post(graphql))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(middleware::from_fn(limit_body));
    let limited = Router::new()
        .route("/", get(graphiql_page))
        .route("/graphiql/{name}", get(crate::graphiql::asset))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/status/projections", get(lagging))
        .route("/calendar/{file}", get(crate::feeds::calendar))
        .route("/export/{file}", get(crate::feeds::csv))
        .route(
            "/bulletins/{year}/{period}/{file}",
            get(crate::downloads::student_pdf),
        )
        .route(
            "/bulletins/{year}/{period}/classes/{file}",
            get(crate::downloads::class_pdf),
        )
        .route("/lsu/{year}/{period}/{file}", get(crate::lsu::division_xml))
        .route(
            "/verify/{code}",
            get(crate::verification::check).post(crate::verification::check_file),
        )
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES));
    let cors = cors(&server.state.cors_origins);
    Router::new()
        // The WebSocket lives as long as its subscriptions: no request timeout; it
        // bounds its messages and operations itself (see `crate::socket`).
        .route("/graphql/ws", get(subscriptions))
        .merge(graphql_route)
        .merge(limited)
        .layer(middleware::from_fn_with_state(server.clone(), observe))
        .layer(cors)
        .with_state(server)
}

/// Cross-origin requests from the pages of the configured origins only (an ENT's web
/// app on its own domain), with the headers the API reads; tokens travel in the
/// `Authorization` header, never in cookies, so no credentials mode. Without any origin
/// configured, browsers keep other origins' pages out.
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::{header, HeaderName, HeaderValue, Method};
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim().trim_end_matches('/')).ok())
        .collect();
    tower_http::cors::CorsLayer::new()
        .allow_origin(allowed)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            HeaderName::from_static("x-carnet-establishment"),
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([header::CONTENT_LANGUAGE, header::RETRY_AFTER])
        .max_age(Duration::from_secs(3600))
}

/// The body limit of a GraphQL request: a multipart request (a file to import) may be
/// as large as a national file, a JSON one as large as the largest grid of marks. Past
/// it, 413 before the body is read (by its `Content-Length`) or as soon as it is.
async fn limit_body(request: axum::extract::Request, next: middleware::Next) -> Response {
    let multipart = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("multipart/form-data"));
    let limit = if multipart {
        MAX_UPLOAD_BYTES
    } else {
        MAX_BODY_BYTES
    };
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::Body::new(http_body_util::Limited::new(body, limit));
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}

/// Serves until `shutdown` completes, then stops accepting and lets the requests in
/// flight finish.
pub async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn graphiql_page() -> impl IntoResponse {
    crate::graphiql::page(DEFAULT_QUERY)
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn graphql(
    State(server): State<Server>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    // The language of the answer (French unless `Accept-Language` prefers English).
    let lang = i18n::from_headers(&headers);
    let principal = server
        .state
        .auth
        .authenticate(header(&headers, "authorization").as_deref())
        .await;
    // A token that is sent and not valid answers nothing at all, not even the fields
    // that need no identity (RFC 6750: 401, `invalid_token`). No token at all may still
    // ask those (the schema, for a client's code generation).
    match &principal {
        Err(AuthError::Missing) => {}
        Err(error) => return invalid_token(error, lang),
        Ok(who) => {
            if let Err(wait) = server.state.limits.check(who) {
                return too_many_requests(wait, lang);
            }
        }
    }
    let request = request.into_inner();
    if let Some(fields) =
        crate::cost::fields_asked(&request.query).filter(|n| *n > crate::cost::MAX_FIELDS)
    {
        return too_costly(crate::cost::too_many_fields(fields), lang);
    }
    let caller = Caller::new(
        principal,
        header(&headers, ESTABLISHMENT_HEADER),
        header(&headers, "idempotency-key"),
    );
    // Errors made while the schema runs speak the request's language (`i18n::current`).
    let response = i18n::scope(
        lang,
        server
            .schema
            .execute(request.data(caller).data(lang).data(Arc::new(
                crate::reader::RequestReads::with_budget(server.state.server_limits.stream_reads),
            ))),
    )
    .await;
    let mut response = GraphQLResponse::from(response).into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(lang.tag()) {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_LANGUAGE, value);
    }
    response
}

/// 429 with when to come back (RFC 6585, `Retry-After` in whole seconds).
fn too_many_requests(wait: std::time::Duration, lang: Lang) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let body = serde_json::json!({
        "data": null,
        "errors": [{
            "message": crate::error::rate_limited(seconds).get(lang),
            "extensions": { "code": "RATE_LIMITED", "retryAfter": seconds },
        }],
    });
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(axum::http::header::RETRY_AFTER, seconds.to_string())],
        Json(body),
    )
        .into_response()
}

/// A query refused for its size before it is validated or run.
fn too_costly(reason: Text, lang: Lang) -> Response {
    let body = serde_json::json!({
        "data": null,
        "errors": [{ "message": reason.get(lang), "extensions": { "code": "TOO_COSTLY" } }],
    });
    (StatusCode::OK, Json(body)).into_response()
}

/// Why a token is refused, in words a developer can act on; the identity provider's
/// address and errors are logged, never answered.
pub(crate) fn auth_refusal(error: &AuthError) -> Text {
    match error {
        AuthError::Jwks(detail) => {
            tracing::warn!(%detail, "the identity provider's keys cannot be fetched");
            Text::new(
                "les clés du fournisseur d'identité ne peuvent pas être récupérées pour le \
                 moment ; réessayez plus tard",
                "the identity provider's keys cannot be fetched now; try again later",
            )
        }
        AuthError::Userinfo(detail) => {
            tracing::warn!(%detail, "the identity provider's userinfo cannot be fetched");
            Text::new(
                "le fournisseur d'identité ne peut pas dire qui vous êtes pour le moment ; \
                 réessayez plus tard",
                "the identity provider cannot tell who you are now; try again later",
            )
        }
        other => other.text(),
    }
}

/// 401 for a bearer token that is not valid, with why in words a developer can act on
/// (never the identity provider's address or errors, which are logged). The challenge's
/// description is always in English (RFC 6750 asks for ASCII).
fn invalid_token(error: &AuthError, lang: Lang) -> Response {
    let reason = auth_refusal(error);
    let challenge = format!(
        "Bearer error=\"invalid_token\", error_description=\"{}\"",
        reason.en.replace(['"', '\\'], "'")
    );
    let body = serde_json::json!({
        "data": null,
        "errors": [{ "message": reason.get(lang), "extensions": { "code": "UNAUTHENTICATED" } }],
    });
    let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(axum::http::header::WWW_AUTHENTICATE, value);
    }
    response
}

/// graphql-ws: the token comes in the `connection_init` payload
/// (`{"Authorization": "Bearer ..."}`), or in the upgrade request's header. The socket
/// bounds itself (see [`crate::socket`]): it is outside the router's body limit and
/// timeout, which would end it after the first 30 s.
async fn subscriptions(
    State(server): State<Server>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    // The first protocol offered that Carnet speaks; none is a bad request.
    let Some(protocol) = header(&headers, "sec-websocket-protocol").and_then(|offered| {
        offered
            .split(',')
            .find_map(|p| p.trim().parse::<WebSocketProtocols>().ok())
    }) else {
        return (
            StatusCode::BAD_REQUEST,
            "a GraphQL WebSocket protocol is needed: graphql-transport-ws or graphql-ws",
        )
            .into_response();
    };
    let upgrade_request = crate::socket::Upgrade {
        authorization: header(&headers, "authorization"),
        establishment: header(&headers, ESTABLISHMENT_HEADER),
        lang: i18n::from_headers(&headers),
    };
    let max = server.state.server_limits.max_message_bytes;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // Refused while being read, before it is buffered whole: the HTTP body limit.
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            crate::socket::serve(
                server.state,
                server.schema,
                socket,
                protocol,
                upgrade_request,
            )
        })
}

#[derive(Debug, Serialize)]
struct Readiness {
    ready: bool,
    /// This process's projectors are making their first catch-up.
    warming: bool,
    database: String,
    establishments: i64,
    /// Establishments with events and a projection not started yet.
    not_started: i64,
    projections: Vec<ProjectionReadiness>,
}

#[derive(Debug, Serialize)]
struct ProjectionReadiness {
    projection: String,
    establishments: i64,
    behind: i64,
    stopped: i64,
    max_lag_events: i64,
    max_lag_seconds: f64,
}

/// Ready when the database answers and no projection of any establishment is stopped or
/// further behind than [`READY_MAX_LAG_SECONDS`]. Two aggregated queries whatever the
/// number of establishments; which ones lag is at `/status/projections`.
async fn ready(State(server): State<Server>) -> Response {
    let pool = server.state.store.backend().pool();
    let wanted = carnet_projections::all().len() as i64;
    let warming = server
        .state
        .warming
        .load(std::sync::atomic::Ordering::Relaxed);
    let readiness = match carnet_projections::checkpoint::health(&pool, wanted).await {
        Ok(health) => {
            let projections: Vec<ProjectionReadiness> = health
                .projections
                .iter()
                .map(|p| ProjectionReadiness {
                    projection: p.projection.clone(),
                    establishments: p.units,
                    behind: p.behind,
                    stopped: p.stopped,
                    max_lag_events: p.max_lag_events,
                    max_lag_seconds: seconds(p.max_lag_us),
                })
                .collect();
            let ready = !warming
                && projections
                    .iter()
                    .all(|p| p.stopped == 0 && p.max_lag_seconds <= READY_MAX_LAG_SECONDS)
                && seconds(health.not_started_lag_us) <= READY_MAX_LAG_SECONDS;
            Readiness {
                ready,
                warming,
                database: "ok".into(),
                establishments: health.establishments,
                not_started: health.not_started,
                projections,
            }
        }
        Err(e) => Readiness {
            ready: false,
            warming,
            database: {
                tracing::warn!(error = %e, "readiness: the database does not answer");
                "unreachable".into()
            },
            establishments: 0,
            not_started: 0,
            projections: Vec::new(),
        },
    };
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness)).into_response()
}

fn seconds(micros: Option<i64>) -> f64 {
    micros.map_or(0.0, |us| us.max(0) as f64 / 1e6)
}

#[derive(Debug, serde::Deserialize)]
struct LaggingQuery {
    limit: Option<i64>,
}

#[derive(Debug, Serialize)]
struct LaggingProjection {
    establishment: String,
    projection: String,
    position: i64,
    head: i64,
    lag_events: i64,
    lag_seconds: f64,
    failure: Option<String>,
}

/// The projections of establishments that are behind or stopped, furthest behind first
/// (at most `limit`, 100 by default): the detail behind `/readyz`, for the head of an
/// establishment or an auditor, about the establishments of their token only (which
/// establishments a service holds is not for anyone to list).
async fn lagging(
    State(server): State<Server>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<LaggingQuery>,
) -> Response {
    let lang = i18n::from_headers(&headers);
    let principal = match server
        .state
        .auth
        .authenticate(header(&headers, "authorization").as_deref())
        .await
    {
        Ok(p) => p,
        Err(_) => {
            return (
                StatusCode::UNAUTHORIZED,
                [("www-authenticate", "Bearer")],
                Text::new(
                    "un jeton d'accès (bearer) est nécessaire",
                    "a bearer token is needed",
                )
                .get(lang)
                .to_string(),
            )
                .into_response()
        }
    };
    let allowed = principal
        .roles
        .iter()
        .any(|r| matches!(r, ClaimedRole::Principal | ClaimedRole::Auditor));
    if !allowed {
        return (
            StatusCode::FORBIDDEN,
            Text::new(
                "réservé au chef d'établissement ou à un inspecteur",
                "the head of an establishment or an auditor only",
            )
            .get(lang)
            .to_string(),
        )
            .into_response();
    }
    let pool = server.state.store.backend().pool();
    let limit = query.limit.unwrap_or(100).clamp(1, 10_000) as usize;
    // The laggards are few: every one is read, then those of the token's scope kept.
    match carnet_projections::checkpoint::lagging(&pool, 100_000).await {
        Ok(rows) => Json(
            rows.into_iter()
                .filter(|l| {
                    principal
                        .establishments
                        .iter()
                        .any(|uai| uai.as_str() == l.tenant)
                })
                .take(limit)
                .map(|l| LaggingProjection {
                    lag_events: (l.head - l.position).max(0),
                    lag_seconds: seconds(l.lag_us),
                    establishment: l.tenant,
                    projection: l.projection,
                    position: l.position,
                    head: l.head,
                    failure: l.failure,
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(error) => {
            tracing::warn!(%error, "cannot read the projections' standing");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

/// Prometheus metrics. Labels have bounded values (routes, commands, projections): no
/// label per establishment, whose number has no bound.
async fn metrics(State(server): State<Server>) -> Response {
    let metrics = &server.state.metrics;
    let pool = server.state.store.backend().pool();
    let wanted = carnet_projections::all().len() as i64;
    if let Ok(health) = carnet_projections::checkpoint::health(&pool, wanted).await {
        metrics.establishments.set(health.establishments);
        metrics.not_started.set(health.not_started);
        for p in &health.projections {
            let labels = [p.projection.as_str()];
            metrics.behind.with_label_values(&labels).set(p.behind);
            metrics.stopped.with_label_values(&labels).set(p.stopped);
            metrics
                .lag_events
                .with_label_values(&labels)
                .set(p.max_lag_events);
            metrics
                .lag_seconds
                .with_label_values(&labels)
                .set(seconds(p.max_lag_us));
        }
    }
    if let Ok(counts) = carnet_projections::notifications::outbox::counts(&pool).await {
        for (status, channel, count) in counts {
            metrics
                .notifications
                .with_label_values(&[status.as_str(), channel.as_str()])
                .set(count);
        }
    }
    (
        [("content-type", "text/plain; version=0.0.4")],
        metrics.render(),
    )
        .into_response()
}

/// Counts every request and its latency by route.
async fn observe(
    State(server): State<Server>,
    request: Request<axum::body::Body>,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let started = Instant::now();
    let response = next.run(request).await;
    let metrics = &server.state.metrics;
    metrics
        .latency
        .with_label_values(&[&route])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .with_label_values(&[route.as_str(), response.status().as_str()])
        .inc();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_providers_address_and_errors_are_never_answered() {
        for error in [
            AuthError::Jwks("http://10.0.0.7/keys: connection refused".into()),
            AuthError::Userinfo("http://10.0.0.7/userinfo: 500 Internal Server Error".into()),
        ] {
            let text = auth_refusal(&error);
            for answer in [&text.fr, &text.en] {
                assert!(!answer.contains("10.0.0.7"), "{answer}");
                assert!(
                    !answer.contains("500") && !answer.contains("refused"),
                    "{answer}"
                );
            }
            assert!(text.en.ends_with("try again later"), "{}", text.en);
            assert!(text.fr.ends_with("réessayez plus tard"), "{}", text.fr);
        }
    }
}
