//! Feeds people open in the tools they have: a timetable as an iCalendar subscription
//! (`GET /calendar/<secret>.ics`, no token: calendar applications cannot send one) and
//! the establishment's absences and grades as CSV for a spreadsheet
//! (`GET /export/absences.csv`, `GET /export/grades.csv`, with the bearer token).
//!
//! A calendar link is a secret of 256 bits from the operating system's generator, given
//! once (`calendarLink`); the table `calendar_links` keeps only its keyed digest (HMAC
//! with the keyring's fingerprint key), so the database alone can neither give a link
//! back nor serve a calendar. Each fetch checks again that the person who asked for the
//! link still has the right to see that timetable (a guardian unlinked from the child, a
//! student who left, a teacher who left: 404). An unknown, revoked or no longer allowed
//! link answers 404 and nothing else.

use crate::i18n::{self, Text};
use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject, ID};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use carnet_domain::attendance::AttendancePolicy;
use carnet_domain::enrolment::Role;
use carnet_domain::Uai;
use carnet_importers::export::{absences, grades, ical, CsvOptions, ExportError, Language, Scope};
use carnet_store::Pool;
use serde::Deserialize;

use crate::access::Actor;
use crate::auth::{AuthError, ClaimedRole, Principal};
use crate::error::{ApiError, ApiResult};
use crate::reader::{Reader, RequestReads};
use crate::state::{AppState, Caller, ESTABLISHMENT_HEADER};

/// The purpose the digests of calendar secrets are computed for.
const DIGEST_PURPOSE: &str = "calendar-link";
/// Bytes of a calendar secret (256 bits).
const SECRET_BYTES: usize = 32;

/// Whose timetable a link shows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Whose {
    Student(String),
    Teacher(String),
}

/// A stored link: who asked for it, as what, and whose timetable it shows.
#[derive(Debug, Clone)]
struct Link {
    id: String,
    tenant: Uai,
    owner: String,
    role: ClaimedRole,
    whose: Whose,
}

fn role_name(role: ClaimedRole) -> &'static str {
    match role {
        ClaimedRole::Guardian => "guardian",
        ClaimedRole::Student => "student",
        _ => "teacher",
    }
}

fn role_of(name: &str) -> Option<ClaimedRole> {
    match name {
        "guardian" => Some(ClaimedRole::Guardian),
        "student" => Some(ClaimedRole::Student),
        "teacher" => Some(ClaimedRole::Teacher),
        _ => None,
    }
}

fn db_error(e: sqlx::Error) -> ApiError {
    ApiError::internal(&e)
}

async fn insert(pool: &Pool, digest: &[u8; 32], link: &Link) -> ApiResult<()> {
    let (kind, whose) = match &link.whose {
        Whose::Student(id) => ("student", id.as_str()),
        Whose::Teacher(id) => ("teacher", id.as_str()),
    };
    macro_rules! run {
        ($p:expr, $sql:literal) => {
            sqlx::query($sql)
                .bind(&digest[..])
                .bind(&link.id)
                .bind(link.tenant.as_str())
                .bind(&link.owner)
                .bind(role_name(link.role))
                .bind(kind)
                .bind(whose)
                .execute($p)
                .await
                .map_err(db_error)?
        };
    }
    match pool {
        Pool::Postgres(p) => {
            run!(p, "INSERT INTO calendar_links (digest, id, tenant_id, owner, role, whose_kind, whose_id) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        }
        Pool::Sqlite(p) => {
            run!(p, "INSERT INTO calendar_links (digest, id, tenant_id, owner, role, whose_kind, whose_id) VALUES (?, ?, ?, ?, ?, ?, ?)");
        }
    }
    Ok(())
}

type Row = (String, String, String, String, String, String);

async fn find(pool: &Pool, digest: &[u8; 32]) -> ApiResult<Option<Link>> {
    let row: Option<Row> = match pool {
        Pool::Postgres(p) => sqlx::query_as(
            "SELECT id, tenant_id, owner, role, whose_kind, whose_id FROM calendar_links WHERE digest = $1",
        )
        .bind(&digest[..])
        .fetch_optional(p)
        .await
        .map_err(db_error)?,
        Pool::Sqlite(p) => sqlx::query_as(
            "SELECT id, tenant_id, owner, role, whose_kind, whose_id FROM calendar_links WHERE digest = ?",
        )
        .bind(&digest[..])
        .fetch_optional(p)
        .await
        .map_err(db_error)?,
    };
    let Some((id, tenant, owner, role, kind, whose)) = row else {
        return Ok(None);
    };
    let (Ok(tenant), Some(role)) = (Uai::parse(&tenant), role_of(&role)) else {
        return Ok(None);
    };
    let whose = match kind.as_str() {
        "student" => Whose::Student(whose),
        "teacher" => Whose::Teacher(whose),
        _ => return Ok(None),
    };
    Ok(Some(Link {
        id,
        tenant,
        owner,
        role,
        whose,
    }))
}

/// Deletes the link `id` of `owner` in `tenant`; whether there was one.
async fn delete(pool: &Pool, tenant: &Uai, owner: &str, id: &str) -> ApiResult<bool> {
    let done = match pool {
        Pool::Postgres(p) => sqlx::query(
            "DELETE FROM calendar_links WHERE id = $1 AND tenant_id = $2 AND owner = $3",
        )
        .bind(id)
        .bind(tenant.as_str())
        .bind(owner)
        .execute(p)
        .await
        .map_err(db_error)?
        .rows_affected(),
        Pool::Sqlite(p) => {
            sqlx::query("DELETE FROM calendar_links WHERE id = ? AND tenant_id = ? AND owner = ?")
                .bind(id)
                .bind(tenant.as_str())
                .bind(owner)
                .execute(p)
                .await
                .map_err(db_error)?
                .rows_affected()
        }
    };
    Ok(done > 0)
}

/// Whether `actor` may see `whose`'s timetable, and as what role the link is recorded.
fn may_subscribe(actor: &Actor, whose: &Whose) -> ApiResult<ClaimedRole> {
    match whose {
        Whose::Student(id) => {
            if actor.children.get(id).is_some_and(|r| r.see) {
                Ok(ClaimedRole::Guardian)
            } else if actor.student && actor.person == *id {
                Ok(ClaimedRole::Student)
            } else {
                Err(ApiError::forbidden(Text::new(
                    format!(
                        "vous ne pouvez pas vous abonner à l'emploi du temps de l'élève {id} : \
                         un lien d'agenda est réservé à l'élève ou à un responsable légal qui \
                         peut le consulter"
                    ),
                    format!(
                        "you may not subscribe to the timetable of student {id}: a calendar \
                         link is for the student, or a guardian who may see them"
                    ),
                )))
            }
        }
        Whose::Teacher(id) => {
            if actor.is(Role::Teacher) && actor.person == *id {
                Ok(ClaimedRole::Teacher)
            } else {
                Err(ApiError::forbidden(Text::new(
                    format!(
                        "vous ne pouvez pas vous abonner à l'emploi du temps de {id} : le lien \
                         d'agenda d'un enseignant est réservé à cet enseignant"
                    ),
                    format!(
                        "you may not subscribe to the timetable of {id}: a teacher's calendar \
                         link is for that teacher"
                    ),
                )))
            }
        }
    }
}

/// The right behind `link`, checked again now: the actor it was made for, if they may
/// still see that timetable.
async fn still_allowed(reader: &Reader, link: &Link) -> ApiResult<()> {
    let principal = Principal {
        person: link.owner.clone(),
        establishments: vec![link.tenant.clone()],
        roles: vec![link.role],
        issuer: "calendar-link".to_string(),
        expires_at: i64::MAX,
    };
    let actor = Actor::resolve(&principal, reader).await?;
    may_subscribe(&actor, &link.whose)?;
    if let Whose::Student(id) = &link.whose {
        let record = reader.student(id).await?;
        actor.may_see_student(&record, id)?;
    }
    Ok(())
}

/// A calendar link, as given once to the person who asked for it.
#[derive(Debug, Clone, SimpleObject)]
pub struct CalendarLink {
    /// What revokes it (`revokeCalendarLink`).
    pub id: ID,
    /// The path to add to this server's address, e.g. `/calendar/<secret>.ics`: the
    /// secret is shown this once, and only its keyed digest is kept.
    pub path: String,
}

/// Calendar links.
#[derive(Debug, Default)]
pub struct FeedMutation;

#[Object]
impl FeedMutation {
    /// A secret link to a timetable for a calendar application: a student's (the
    /// student themselves, or a guardian who may see them) or a teacher's (that teacher).
    /// It works without a token until revoked, or until its right ends.
    async fn calendar_link(
        &self,
        ctx: &Context<'_>,
        student: Option<String>,
        teacher: Option<String>,
    ) -> async_graphql::Result<CalendarLink> {
        let (reader, actor) = crate::schema::caller(ctx, None).await?;
        let state = crate::schema::state(ctx)?;
        actor.may_write()?;
        let whose = match (student, teacher) {
            (Some(id), None) => Whose::Student(id),
            (None, Some(id)) => Whose::Teacher(id),
            _ => {
                return Err(ApiError::validation(
                    "student",
                    Text::new(
                        "indiquez soit `student`, soit `teacher`, et un seul des deux",
                        "name exactly one of `student` and `teacher`",
                    ),
                )
                .into())
            }
        };
        let role = may_subscribe(&actor, &whose)?;
        let mut secret = [0u8; SECRET_BYTES];
        {
            use rand::TryRngCore;
            rand::rngs::OsRng
                .try_fill_bytes(&mut secret)
                .map_err(|e| ApiError::internal(&e))?;
        }
        let digest = state.store.keyed_digest(DIGEST_PURPOSE, &secret);
        let link = Link {
            id: uuid::Uuid::new_v4().to_string(),
            tenant: reader.tenant.clone(),
            owner: actor.person.clone(),
            role,
            whose,
        };
        insert(&state.pool, &digest, &link).await?;
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        Ok(CalendarLink {
            id: ID(link.id),
            path: format!("/calendar/{encoded}.ics"),
        })
    }

    /// Revokes one of your calendar links: it answers 404 from now on. False when you
    /// have no such link.
    async fn revoke_calendar_link(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let (reader, actor) = crate::schema::caller(ctx, None).await?;
        let state = crate::schema::state(ctx)?;
        actor.may_write()?;
        Ok(delete(&state.pool, &reader.tenant, &actor.person, &id).await?)
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "").into_response()
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Response {
    let reference = uuid::Uuid::new_v4();
    tracing::error!(%reference, error = %e, "a feed could not be made");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Text::new(
            format!("erreur interne (référence {reference})"),
            format!("internal error (reference {reference})"),
        )
        .current()
        .to_string(),
    )
        .into_response()
}

/// The time zone of `tenant` as recorded with it.
async fn zone_of(state: &AppState, tenant: &Uai) -> Option<chrono_tz::Tz> {
    let tenants = state.store.tenants().await.ok()?;
    let info = tenants.into_iter().find(|t| &t.tenant == tenant)?;
    info.time_zone.parse().ok()
}

/// `GET /calendar/<secret>.ics`: the timetable a link shows, or 404.
pub async fn calendar(State(state): State<Arc<AppState>>, Path(file): Path<String>) -> Response {
    let Some(secret) = file
        .strip_suffix(".ics")
        .and_then(|s| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .ok()
        })
        .filter(|s| s.len() == SECRET_BYTES)
    else {
        return not_found();
    };
    // The lookup is by keyed digest: how long it takes tells nothing of the secrets kept.
    let digest = state.store.keyed_digest(DIGEST_PURPOSE, &secret);
    let link = match find(&state.pool, &digest).await {
        Ok(Some(link)) => link,
        Ok(None) => return not_found(),
        Err(e) => return internal(format!("{e:?}")),
    };
    // A pace per link, as for a person: a leaked link cannot be fetched in a loop.
    let pace = Principal {
        person: format!("calendar-link/{}", link.id),
        establishments: vec![link.tenant.clone()],
        roles: Vec::new(),
        issuer: "calendar-link".to_string(),
        expires_at: i64::MAX,
    };
    if let Err(wait) = state.limits.check(&pace) {
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, seconds.to_string())],
        )
            .into_response();
    }
    let reader = Reader::new(
        state.store.clone(),
        state.pool.clone(),
        link.tenant.clone(),
        state.docs.clone(),
    )
    .with_reads(Arc::new(RequestReads::with_budget(
        state.server_limits.stream_reads,
    )));
    match still_allowed(&reader, &link).await {
        Ok(()) => {}
        Err(ApiError::Internal { .. }) => return internal("checking a calendar link's right"),
        Err(e) => {
            tracing::debug!(link = %link.id, reason = ?e, "a calendar link no longer allowed");
            return not_found();
        }
    }
    let Some(zone) = zone_of(&state, &link.tenant).await else {
        return internal(format!("the time zone of {}", link.tenant));
    };
    let school = match state.school(&reader).await {
        Ok(school) => school,
        Err(e) => return internal(format!("{e:?}")),
    };
    let now = chrono::Utc::now();
    let today = now.with_timezone(&zone).date_naive();
    let scope = match Scope::open(&school, None, today).await {
        Ok(scope) => scope,
        Err(ExportError::Store(e)) => return internal(e),
        Err(_) => return not_found(),
    };
    let whose = match &link.whose {
        Whose::Student(id) => ical::Whose::Student(id.clone()),
        Whose::Teacher(id) => ical::Whose::Teacher(id.clone()),
    };
    match ical::export(&scope, &whose, now).await {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
                (header::CACHE_CONTROL, "private, no-store"),
            ],
            body,
        )
            .into_response(),
        Err(ExportError::Store(e)) => internal(e),
        Err(_) => not_found(),
    }
}

/// The options of a CSV download: French Excel's by default (`;`, a decimal comma, a
/// byte order mark, French column names).
#[derive(Debug, Default, Deserialize)]
pub struct CsvQuery {
    /// The school year (`2026-2027`); by default the current one.
    year: Option<String>,
    /// `;` (default), `,`, `tab`, ...
    separator: Option<String>,
    /// `true` (default) or `false`.
    bom: Option<bool>,
    /// `,` or `.`; by default `,` with the `;` separator, else `.`.
    decimal: Option<String>,
    /// The language of the column names and of words for people: `fr` (default) or `en`.
    lang: Option<String>,
}

impl CsvQuery {
    fn options(&self) -> Result<CsvOptions, Text> {
        let separator = match &self.separator {
            Some(text) => CsvOptions::separator_from(text).map_err(|e| e.to_string())?,
            None => b';',
        };
        let decimal_comma = match self.decimal.as_deref() {
            None => separator == b';',
            Some(",") => true,
            Some(".") => false,
            Some(other) => {
                return Err(Text::new(
                    format!("le séparateur décimal est `,` ou `.`, pas `{other}`"),
                    format!("the decimal mark is `,` or `.`, not `{other}`"),
                ))
            }
        };
        if decimal_comma && separator == b',' {
            return Err(Text::new(
                "une virgule décimale demande un autre séparateur que `,` (essayez `;`)",
                "a decimal comma needs another separator than `,` (try `;`)",
            ));
        }
        let language = match self.lang.as_deref() {
            Some(code) => Language::from_code(code).map_err(|e| e.to_string())?,
            None => Language::French,
        };
        Ok(CsvOptions {
            separator,
            bom: self.bom.unwrap_or(true),
            decimal_comma,
            language,
        })
    }
}

/// A plain-text refusal, in the language of the request being answered.
pub(crate) fn refusal(status: StatusCode, message: impl Into<Text>) -> Response {
    let message = message.into();
    let mut response = (status, format!("{}\n", message.current())).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

pub(crate) fn api_refusal(error: &ApiError) -> Response {
    match error {
        ApiError::Unauthenticated(m) => refusal(StatusCode::UNAUTHORIZED, m.clone()),
        ApiError::Forbidden(m) => refusal(StatusCode::FORBIDDEN, m.clone()),
        ApiError::NotFound(m) => refusal(StatusCode::NOT_FOUND, m.clone()),
        ApiError::Validation { .. } => refusal(StatusCode::BAD_REQUEST, error.message()),
        ApiError::RuleViolation(rule) => {
            refusal(StatusCode::UNPROCESSABLE_ENTITY, rule.message.clone())
        }
        ApiError::Unavailable { .. } => refusal(StatusCode::SERVICE_UNAVAILABLE, error.message()),
        other => internal(format!("{other:?}")),
    }
}

/// The reader and actor of a request outside GraphQL that carries the bearer token
/// (and `X-Carnet-Establishment` when the person works in several): authenticated,
/// within the person's rate, or the refusal to answer.
pub(crate) async fn authenticated(
    state: &Arc<AppState>,
    headers: &HeaderMap,
) -> Result<(Reader, Arc<Actor>), Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let principal = state.auth.authenticate(token).await;
    match &principal {
        Err(AuthError::Missing) => {
            return Err(refusal(StatusCode::UNAUTHORIZED, AuthError::Missing.text()))
        }
        Err(error) => {
            return Err(refusal(
                StatusCode::UNAUTHORIZED,
                crate::server::auth_refusal(error),
            ))
        }
        Ok(who) => {
            if let Err(wait) = state.limits.check(who) {
                let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
                return Err((
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, seconds.to_string())],
                )
                    .into_response());
            }
        }
    }
    let establishment = headers
        .get(ESTABLISHMENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let caller = Caller::new(principal, establishment, None);
    let reads = Arc::new(RequestReads::with_budget(state.server_limits.stream_reads));
    caller
        .reader_and_actor(state, reads)
        .await
        .map_err(|e| api_refusal(&e))
}

/// `GET /export/absences.csv` and `GET /export/grades.csv`: the whole establishment's,
/// for vie scolaire and administration (and auditors), with the bearer token. Refusals
/// speak the request's `Accept-Language` (French by default).
pub async fn csv(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    Query(query): Query<CsvQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = i18n::from_headers(&headers);
    i18n::scope(lang, export_csv(state, file, query, headers)).await
}

async fn export_csv(
    state: Arc<AppState>,
    file: String,
    query: CsvQuery,
    headers: HeaderMap,
) -> Response {
    let grades_wanted = match file.as_str() {
        "absences.csv" => false,
        "grades.csv" => true,
        _ => {
            return refusal(
                StatusCode::NOT_FOUND,
                Text::new("pas d'export de ce nom", "no such export"),
            )
        }
    };
    let (reader, actor) = match authenticated(&state, &headers).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    if !actor.sees_establishment() {
        return refusal(
            StatusCode::FORBIDDEN,
            Text::new(
                "les exports de l'établissement sont réservés à la vie scolaire et à \
                 l'administration",
                "the establishment's exports are for vie scolaire and administration",
            ),
        );
    }
    let options = match query.options() {
        Ok(options) => options,
        Err(reason) => return refusal(StatusCode::BAD_REQUEST, reason),
    };
    let Some(zone) = zone_of(&state, &reader.tenant).await else {
        return internal(format!("the time zone of {}", reader.tenant));
    };
    let school = match state.school(&reader).await {
        Ok(school) => school,
        Err(e) => return api_refusal(&e),
    };
    let today = chrono::Utc::now().with_timezone(&zone).date_naive();
    let scope = match Scope::open(&school, query.year.as_deref(), today).await {
        Ok(scope) => scope,
        Err(ExportError::Store(e)) => return internal(e),
        Err(e) => return refusal(StatusCode::NOT_FOUND, e.to_string()),
    };
    let mut out = Vec::new();
    let written = if grades_wanted {
        grades::export(&scope, &options, &mut out).await
    } else {
        let policy = match reader.at(None).establishment().await {
            Ok(establishment) => AttendancePolicy {
                morning_ends: establishment.morning_ends,
                ..AttendancePolicy::default()
            },
            Err(e) => return api_refusal(&e),
        };
        absences::export(&scope, &policy, &options, &mut out).await
    };
    if let Err(e) = written {
        return internal(e);
    }
    let name = if grades_wanted { "notes" } else { "absences" };
    let disposition = format!("attachment; filename=\"{name}-{}.csv\"", scope.year);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        out,
    )
        .into_response()
}
