//! Report cards as files, with the bearer token (and `X-Carnet-Establishment` when the
//! person works in several):
//!
//! - `GET /bulletins/{year}/{period}/{student}.pdf`: a student's bulletin, for the
//!   guardians who may see the child and the student once the bulletins are published,
//!   and for the staff who may see the student at any time (before publication it is
//!   marked provisional and carries no verification code);
//! - `GET /bulletins/{year}/{period}/classes/{division}.pdf`: every bulletin of a
//!   division in one file, for the staff who may see the class;
//! - `GET /lsu/{year}/{period}/{division}.xml`: the division's bilans for the Livret
//!   scolaire unique, for the head (see [`crate::lsu`]).
//!
//! A published bulletin is issued once per state of the log: the first download records
//! `BulletinIssued` with a new verification code, the streams it was made from and the
//! SHA-256 of the file; later downloads of the same state render the same bytes with
//! the same code. See [`crate::verification`].

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use carnet_domain::enrolment::SchoolYear;
use carnet_domain::reportcards::{CouncilCommand, CouncilError, Issued};
use carnet_store::{CommandContext, CommandError, School, Source};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::access::Actor;
use crate::bulletin::{self, Basis, BasisCache, BulletinFacts};
use crate::error::{ApiError, ApiResult};
use crate::feeds::{api_refusal, authenticated, refusal};
use crate::i18n::{self, Text};
use crate::reader::Reader;
use crate::state::AppState;
use crate::verification;

/// A request for the file `{name}{ext}` of a year and period, authenticated.
pub(crate) struct FileRequest {
    pub state: Arc<AppState>,
    pub headers: HeaderMap,
    pub reader: Reader,
    pub actor: Arc<Actor>,
    pub year: String,
    pub period: String,
    pub name: String,
}

/// Answers a file request with `make`, in the request's language: 404 for a name
/// without `ext`, the authentication's refusal, or `make`'s refusal.
pub(crate) async fn serve_file<F, Fut>(
    state: Arc<AppState>,
    (year, period, file): (String, String, String),
    headers: HeaderMap,
    ext: &str,
    make: F,
) -> Response
where
    F: FnOnce(FileRequest) -> Fut,
    Fut: std::future::Future<Output = ApiResult<Response>>,
{
    let lang = i18n::from_headers(&headers);
    i18n::scope(lang, async move {
        let Some(name) = file.strip_suffix(ext).map(str::to_string) else {
            return not_a_file();
        };
        let (reader, actor) = match authenticated(&state, &headers).await {
            Ok(found) => found,
            Err(refused) => return refused,
        };
        let request = FileRequest {
            state,
            headers,
            reader,
            actor,
            year,
            period,
            name,
        };
        // Boxed: the bulletins' futures are deep, and each handler would carry them.
        Box::pin(make(request))
            .await
            .unwrap_or_else(|e| api_refusal(&e))
    })
    .await
}

/// `GET /bulletins/{year}/{period}/{student}.pdf`.
pub async fn student_pdf(
    State(state): State<Arc<AppState>>,
    Path(path): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    serve_file(state, path, headers, ".pdf", |r| async move {
        let pdf = student_bulletin(&r).await?;
        Ok(pdf_response(
            pdf,
            &format!("bulletin-{}-{}.pdf", r.period, r.name),
        ))
    })
    .await
}

/// `GET /bulletins/{year}/{period}/classes/{division}.pdf`.
pub async fn class_pdf(
    State(state): State<Arc<AppState>>,
    Path(path): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    serve_file(state, path, headers, ".pdf", |r| async move {
        let pdf = class_bulletins(&r).await?;
        Ok(pdf_response(
            pdf,
            &format!("bulletins-{}-{}.pdf", r.period, r.name),
        ))
    })
    .await
}

fn not_a_file() -> Response {
    refusal(
        StatusCode::NOT_FOUND,
        Text::new("pas de fichier de ce nom", "no such file"),
    )
}

fn pdf_response(pdf: Vec<u8>, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        pdf,
    )
        .into_response()
}

pub(crate) fn parse_year(text: &str) -> ApiResult<SchoolYear> {
    SchoolYear::parse(text).map_err(|e| ApiError::validation("year", e.to_string()))
}

/// Whether the actor works in the establishment (staff, teachers): they see bulletins
/// before publication, marked provisional.
fn is_staff(actor: &Actor) -> bool {
    actor.sees_establishment() || !actor.services.is_empty()
}

async fn student_bulletin(r: &FileRequest) -> ApiResult<Vec<u8>> {
    let (reader, actor, period, student) = (&r.reader, &*r.actor, &r.period, &r.name);
    let year = parse_year(&r.year)?;
    let record = reader.student(student).await?;
    actor.may_see_student(&record, student)?;
    let facts = bulletin::assemble(reader, &year, period, student).await?;
    let establishment = reader.establishment().await?;
    let today = crate::schema::common::today(reader, &establishment);
    if !facts.published_by(today) && !is_staff(actor) {
        return Err(ApiError::not_found(Text::new(
            format!("le bulletin de la période {period} n'est pas encore publié"),
            format!("the report card of period {period} is not published yet"),
        )));
    }
    let school = r.state.school(reader).await?;
    let base = verification::base_url(&r.state, &r.headers);
    let cache = BasisCache::default();
    let (_, pdf) = printable(&school, actor, &facts, &base, today, &cache).await?;
    Ok(pdf)
}

async fn class_bulletins(r: &FileRequest) -> ApiResult<Vec<u8>> {
    let (reader, actor, period, division) = (&r.reader, &*r.actor, &r.period, r.name.as_str());
    let year = parse_year(&r.year)?;
    actor.may_see_class(&year, division)?;
    if !is_staff(actor) {
        return Err(ApiError::forbidden(Text::new(
            "les bulletins d'une classe entière sont réservés aux personnels",
            "a whole class's report cards are for staff",
        )));
    }
    let establishment = reader.establishment().await?;
    let found = bulletin::period_of(&establishment, &year, period)?;
    let today = crate::schema::common::today(reader, &establishment);
    let students = bulletin::roster_at_end(reader, &establishment, &year, division, &found).await?;
    let school = r.state.school(reader).await?;
    let base = verification::base_url(&r.state, &r.headers);
    let cache = BasisCache::default();
    let mut printed = Vec::new();
    for student in &students {
        let facts = bulletin::assemble(reader, &year, period, student).await?;
        let (page, _) = printable(&school, actor, &facts, &base, today, &cache).await?;
        printed.push(page);
    }
    if printed.is_empty() {
        return Err(ApiError::not_found(Text::new(
            format!("la classe {division} n'a pas d'élève pendant la période {period}"),
            format!("division {division} has no student during period {period}"),
        )));
    }
    carnet_bulletins::render_class(&printed).map_err(|e| ApiError::internal(&e))
}

/// The bulletin as printed and its file, with its verification code when published
/// (`today` in the establishment's time zone).
async fn printable(
    school: &School,
    actor: &Actor,
    facts: &BulletinFacts,
    base: &str,
    today: NaiveDate,
    cache: &BasisCache,
) -> ApiResult<(carnet_bulletins::Bulletin, Vec<u8>)> {
    if !facts.published_by(today) {
        let printed = bulletin::printable(facts, today, None);
        let pdf = carnet_bulletins::render(&printed).map_err(|e| ApiError::internal(&e))?;
        return Ok((printed, pdf));
    }
    let basis = bulletin::basis(&school.store, &school.tenant, facts, cache).await?;
    // The same state of the log was issued before: give the same file again.
    let earlier = facts.issued.iter().rev().find(|i| {
        i.position == basis.position && i.event_hash == basis.digest && i.sources == basis.sources
    });
    if let Some(issued) = earlier {
        let (printed, pdf) = render_with(facts, issued.issued_on, &issued.code, base)?;
        if digest(&pdf) == issued.digest {
            return Ok((printed, pdf));
        }
        // The renderer or the address changed since: the file is issued anew.
    }
    issue(school, actor, facts, &basis, today, base).await
}

fn render_with(
    facts: &BulletinFacts,
    issued_on: NaiveDate,
    code: &str,
    base: &str,
) -> ApiResult<(carnet_bulletins::Bulletin, Vec<u8>)> {
    let printed = bulletin::printable(
        facts,
        issued_on,
        Some(carnet_bulletins::Verification {
            code: code.to_string(),
            url: verification::url(base, code),
        }),
    );
    let pdf = carnet_bulletins::render(&printed).map_err(|e| ApiError::internal(&e))?;
    Ok((printed, pdf))
}

pub(crate) fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Records a new issue of the bulletin: a fresh code, the basis and the file's digest.
async fn issue(
    school: &School,
    actor: &Actor,
    facts: &BulletinFacts,
    basis: &Basis,
    today: NaiveDate,
    base: &str,
) -> ApiResult<(carnet_bulletins::Bulletin, Vec<u8>)> {
    let stream = School::council_id(&facts.year, &facts.division, &facts.period.id);
    let context = CommandContext {
        actor: Some(actor.person.clone()),
        role: Some(actor.role_label().to_string()),
        source: Source::Api,
        ..CommandContext::default()
    };
    // A code already taken (one chance in 2^60) is drawn again.
    for _ in 0..3 {
        let code = verification::new_code(&facts.tenant);
        let (printed, pdf) = render_with(facts, today, &code, base)?;
        let command = CouncilCommand::Issue {
            student: facts.student.clone(),
            issued: Issued {
                code,
                sources: basis.sources.clone(),
                position: basis.position,
                event_hash: basis.digest.clone(),
                digest: digest(&pdf),
                issued_on: today,
            },
            by: actor.person.clone(),
        };
        match school.councils.execute(&stream, command, &context).await {
            Ok(_) => return Ok((printed, pdf)),
            Err(CommandError::Rejected(CouncilError::CodeTaken(_))) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal(
        &"no free verification code after three draws",
    ))
}
