//! How a message leaves: e-mail over SMTP (lettre), or a signed webhook (the ENT's
//! notification service, an SMS gateway).
//!
//! A webhook is a JSON `POST` with two headers: `Carnet-Delivery` (the delivery's id,
//! the same on every attempt: the receiver drops what it already has) and
//! `Carnet-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under the
//! secret shared with the receiver, which checks it and refuses an old `t` (replays).
//! An e-mail's `Message-ID` is `<delivery id@carnet>`, for the same purpose.

use std::time::Duration;

use hmac::{Hmac, Mac};
use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::Value;
use sha2::Sha256;

use super::config::{SmtpConfig, WebhookConfig};
use super::message::Message;

/// Why a send failed, and whether trying again may help.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The receiver refused for good (a mailbox that does not exist, a 4xx answer):
    /// trying again would be refused again.
    #[error("{0}")]
    Refused(String),
    /// Down, slow, busy: try again later.
    #[error("{0}")]
    Transient(String),
}

#[derive(Debug, Clone)]
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Email {
    pub fn new(config: &SmtpConfig) -> Result<Email, String> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| format!("smtp.from `{}`: {e}", config.from))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url)
            .map_err(|e| format!("smtp.url: {e}"))?
            .timeout(Some(Duration::from_secs(config.timeout_seconds)))
            .build();
        Ok(Email { transport, from })
    }

    pub async fn send(&self, id: &str, to: &str, message: &Message) -> Result<(), SendError> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| SendError::Refused(format!("adresse refusée `{to}`: {e}")))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(format!("<{id}@carnet>")))
            .header(ContentType::TEXT_PLAIN)
            .body(message.text.clone())
            .map_err(|e| SendError::Refused(format!("message impossible à construire: {e}")))?;
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Refused(format!("SMTP: {e}"))),
            Err(e) => Err(SendError::Transient(format!("SMTP: {e}"))),
        }
    }
}

#[derive(Clone)]
pub struct Webhook {
    http: reqwest::Client,
    url: String,
    secret: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// `t=<seconds>,v1=<hex>`: the signature of `body` at `at` under `secret`.
pub fn signature(secret: &str, at: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(at.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={at},v1={}", hex::encode(mac.finalize().into_bytes()))
}

impl Webhook {
    pub fn new(config: &WebhookConfig) -> Result<Webhook, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds))
            .build()
            .map_err(|e| format!("webhook `{}`: {e}", config.channel))?;
        Ok(Webhook {
            http,
            url: config.url.clone(),
            secret: config.secret()?,
        })
    }

    pub async fn send(&self, id: &str, body: &Value) -> Result<(), SendError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| SendError::Refused(format!("corps impossible à écrire: {e}")))?;
        let at = chrono::Utc::now().timestamp();
        let answer = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("carnet-delivery", id)
            .header("carnet-signature", signature(&self.secret, at, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::Transient(format!("webhook injoignable: {e}")))?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let said = format!("webhook: HTTP {status}");
        // 408 and 429 say "later"; any other 4xx says the request itself is wrong.
        if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
            Err(SendError::Refused(said))
        } else {
            Err(SendError::Transient(said))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // From openssl: printf '1700000000.{}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            signature("secret", 1_700_000_000, b"{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }
}
