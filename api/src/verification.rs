//! Anyone can check a printed bulletin: its verification code (and the QR code of its
//! address) leads to `GET /verify/{code}`, which answers whether a bulletin was issued
//! with that code and whether the log it was made from is still intact, and nothing
//! else: no name, no mark. `POST /verify/{code}` with the PDF file as body also says
//! whether the file is the one issued, byte for byte (an edited PDF is not).
//!
//! A code is the establishment's UAI and 60 random bits in Crockford's base 32
//! (`0750655E-K7QM-3XPA-9D2F`): short enough to type, too many to guess. The UAI finds
//! the establishment; its class councils' streams hold the `BulletinIssued` events.
//! "Intact" means: every stream the bulletin was made from still has an unbroken hash
//! chain up to the bulletin's position, and the last hashes give the digest recorded
//! when it was issued. An answer is JSON, or a short page in French for a browser (the
//! QR code opens one).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use carnet_domain::reportcards::{ClassCouncil, CouncilEvent, Issued};
use carnet_domain::Uai;
use cqrs_es::Aggregate;
use rand::Rng;
use serde::Serialize;

use crate::bulletin;
use crate::error::ApiResult;
use crate::feeds::internal;
use crate::state::AppState;

/// Crockford's base 32: no I, L, O or U, so a code read aloud or typed is not misread.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new code for a bulletin of `tenant`: its UAI and 60 bits from the OS's generator.
pub fn new_code(tenant: &Uai) -> String {
    let mut rng = rand::rng();
    let chars: String = (0..12)
        .map(|_| char::from(ALPHABET[rng.random_range(0..32)]))
        .collect();
    format!(
        "{tenant}-{}-{}-{}",
        &chars[0..4],
        &chars[4..8],
        &chars[8..12]
    )
}

/// The address of a code's verification.
pub fn url(base: &str, code: &str) -> String {
    format!("{base}/verify/{code}")
}

/// Where people reach this server: the configured address, else the request's host.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.public_url {
        return url.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// A code as typed: upper case, the letters Crockford reads as digits mapped back.
fn normalized(code: &str) -> String {
    code.trim()
        .to_uppercase()
        .chars()
        .map(|c| match c {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

/// The answer of a verification: whether a bulletin was issued with the code, whether
/// the log it was made from is intact, and (for a file sent) whether it is that file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub code: String,
    pub authentic: bool,
    pub intact: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_file: Option<bool>,
}

/// The bulletin issued with `code`, if any.
async fn find(state: &AppState, code: &str) -> ApiResult<Option<(Uai, Issued)>> {
    // The UAI keeps its letter in upper case; the Crockford mapping must not touch it.
    let Some((uai, _)) = code.split_once('-') else {
        return Ok(None);
    };
    let Ok(tenant) = Uai::parse(uai) else {
        return Ok(None);
    };
    let events = match state
        .store
        .read_stream_type(&tenant, ClassCouncil::TYPE)
        .await
    {
        Ok(events) => events,
        Err(carnet_store::StoreError::UnknownTenant(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    for event in events.iter().filter(|e| e.event_type == "BulletinIssued") {
        if let CouncilEvent::BulletinIssued { issued, .. } = crate::reader::decode(event)? {
            if issued.code == code {
                return Ok(Some((tenant, issued)));
            }
        }
    }
    Ok(None)
}

async fn verdict(state: &AppState, code: &str, file: Option<&[u8]>) -> ApiResult<Verdict> {
    let code = match code.split_once('-') {
        Some((uai, rest)) => format!("{}-{}", uai.to_uppercase(), normalized(rest)),
        None => normalized(code),
    };
    let Some((tenant, issued)) = find(state, &code).await? else {
        return Ok(Verdict {
            code,
            authentic: false,
            intact: false,
            same_file: file.map(|_| false),
        });
    };
    let now = bulletin::recompute(&state.store, &tenant, &issued).await?;
    Ok(Verdict {
        intact: now.as_deref() == Some(issued.event_hash.as_str()),
        same_file: file.map(|bytes| crate::downloads::digest(bytes) == issued.digest),
        authentic: true,
        code,
    })
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

fn answer(headers: &HeaderMap, verdict: &Verdict) -> Response {
    let status = if verdict.authentic {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    if !wants_html(headers) {
        return (status, axum::Json(verdict)).into_response();
    }
    let (title, line) = match (verdict.authentic, verdict.intact, verdict.same_file) {
        (false, _, _) => (
            "Code inconnu",
            "Aucun bulletin n'a été délivré avec ce code : ce document n'est pas authentique, ou le code a été mal recopié.",
        ),
        (true, _, Some(false)) => (
            "Fichier modifié",
            "Un bulletin a bien été délivré avec ce code, mais ce fichier n'est pas celui qui a été délivré.",
        ),
        (true, false, _) => (
            "Registre altéré",
            "Un bulletin a été délivré avec ce code, mais le registre dont il est issu a été modifié depuis : contactez l'établissement.",
        ),
        (true, true, _) => (
            "Bulletin authentique",
            "Ce bulletin a été délivré par l'établissement et les données dont il est issu sont intactes.",
        ),
    };
    let page = format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{line}</p><p>Code : <code>{}</code></p></body></html>",
        html_escape(&verdict.code)
    );
    (status, Html(page)).into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /verify/{code}`.
pub async fn check(
    State(state): State<Arc<AppState>>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    match verdict(&state, &code, None).await {
        Ok(v) => answer(&headers, &v),
        Err(e) => internal(format!("{e:?}")),
    }
}

/// `POST /verify/{code}` with the PDF as body.
pub async fn check_file(
    State(state): State<Arc<AppState>>,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match verdict(&state, &code, Some(&body)).await {
        Ok(v) => answer(&headers, &v),
        Err(e) => internal(format!("{e:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_carry_the_uai_and_sixty_bits() {
        let tenant = Uai::parse("0750655E").expect("uai");
        let code = new_code(&tenant);
        assert!(code.starts_with("0750655E-"), "{code}");
        assert_eq!(code.len(), "0750655E-XXXX-XXXX-XXXX".len());
        assert_ne!(code, new_code(&tenant));
        assert!(code[9..]
            .chars()
            .all(|c| c == '-' || ALPHABET.contains(&(c as u8))));
    }

    #[test]
    fn a_code_typed_with_o_and_l_reads_as_printed() {
        assert_eq!(normalized(" k7qm-3xpa-9d2o "), "K7QM-3XPA-9D20");
        assert_eq!(normalized("L1I"), "111");
    }
}
