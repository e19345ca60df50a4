//! The notifier's configuration file (`carnet notify --config`, `carnet serve
//! --notify-config`, or `CARNET_NOTIFY_CONFIG`), TOML:
//!
//! ```toml
//! [smtp]
//! url = "smtp://relay.ac-exemple.fr:587?tls=required"   # smtps://… for implicit TLS
//! from = "Vie scolaire <ne-pas-repondre@ac-exemple.fr>"
//!
//! [[webhook]]                 # the ENT's notification service
//! channel = "ent"
//! url = "https://ent.exemple.fr/carnet/notifications"
//! secret = "at least 32 characters shared with the receiver"
//!
//! [[webhook]]                 # an SMS gateway
//! channel = "sms"
//! url = "https://sms.exemple.fr/hooks/carnet"
//! secret_env = "CARNET_SMS_SECRET"   # or the secret read from the environment
//!
//! [retry]                     # the defaults
//! base_seconds = 30           # first wait after a failure, doubled at each attempt
//! max_seconds = 3600          # longest wait
//! max_attempts = 12           # then the delivery is a dead letter
//! lease_seconds = 60          # a claimed delivery not settled by then is taken again
//! ```

use std::path::Path;

use carnet_domain::contact::Channel;
use serde::Deserialize;

/// Shortest webhook secret accepted: 128 bits of a random base64 string.
const MIN_SECRET: usize = 22;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the notifier's configuration {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("the notifier's configuration {file} is not valid: {reason}")]
    Invalid { file: String, reason: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    pub smtp: Option<SmtpConfig>,
    #[serde(default)]
    pub webhook: Vec<WebhookConfig>,
    #[serde(default)]
    pub retry: RetryConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// `smtp://host:port` (plain: a relay on the same machine or network),
    /// `smtp://host:587?tls=required` (STARTTLS), `smtps://host:465` (TLS); user and
    /// password in the URL when the relay wants them.
    pub url: String,
    /// The sender, `Name <address>`.
    pub from: String,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `sms` or `ent`.
    pub channel: String,
    pub url: String,
    pub secret: Option<String>,
    /// The environment variable holding the secret, to keep it out of the file.
    pub secret_env: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("channel", &self.channel)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn default_timeout() -> u64 {
    20
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    pub base_seconds: f64,
    pub max_seconds: f64,
    pub max_attempts: i32,
    pub lease_seconds: f64,
    /// How often the queue is looked at when it was empty.
    pub poll_seconds: f64,
    /// Deliveries claimed at once, and sent at the same time.
    pub batch: i64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            base_seconds: 30.0,
            max_seconds: 3600.0,
            max_attempts: 12,
            lease_seconds: 60.0,
            poll_seconds: 2.0,
            batch: 32,
        }
    }
}

impl RetryConfig {
    /// The wait after the `attempts`-th failed attempt, in microseconds: doubled each
    /// time up to the longest, with a tenth of jitter so that deliveries that failed
    /// together (a receiver down) do not all come back in the same instant.
    pub fn backoff(&self, attempts: i32, jitter: f64) -> i64 {
        let exponent = attempts.saturating_sub(1).clamp(0, 30);
        let wait = (self.base_seconds * 2f64.powi(exponent)).min(self.max_seconds);
        let wait = wait * (1.0 + 0.1 * jitter.clamp(-1.0, 1.0));
        (wait * 1e6) as i64
    }
}

impl NotifyConfig {
    pub fn load(path: &Path) -> Result<NotifyConfig, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        Self::parse(&text).map_err(|reason| ConfigError::Invalid { file, reason })
    }

    pub fn parse(text: &str) -> Result<NotifyConfig, String> {
        let config: NotifyConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        let mut seen = Vec::new();
        for hook in &self.webhook {
            let channel = Channel::parse(&hook.channel)
                .filter(|c| *c != Channel::Email)
                .ok_or_else(|| {
                    format!(
                        "webhook channel `{}`: a webhook carries `sms` or `ent`",
                        hook.channel
                    )
                })?;
            if seen.contains(&channel) {
                return Err(format!("two webhooks for the channel `{}`", hook.channel));
            }
            seen.push(channel);
            reqwest::Url::parse(&hook.url)
                .map_err(|e| format!("webhook `{}`: url `{}`: {e}", hook.channel, hook.url))?;
            hook.secret()?;
        }
        let r = &self.retry;
        if r.base_seconds <= 0.0 || r.max_seconds < r.base_seconds || r.lease_seconds <= 0.0 {
            return Err(
                "retry: base_seconds > 0, max_seconds ≥ base_seconds and lease_seconds > 0".into(),
            );
        }
        if r.max_attempts < 1 || r.batch < 1 || r.poll_seconds <= 0.0 {
            return Err("retry: max_attempts, batch and poll_seconds must be positive".into());
        }
        Ok(())
    }
}

impl WebhookConfig {
    /// The shared secret, from the file or the environment.
    pub fn secret(&self) -> Result<String, String> {
        let secret = match (&self.secret, &self.secret_env) {
            (Some(s), None) => s.clone(),
            (None, Some(var)) => std::env::var(var)
                .map_err(|_| format!("webhook `{}`: the environment has no {var}", self.channel))?,
            _ => {
                return Err(format!(
                    "webhook `{}`: give exactly one of secret and secret_env",
                    self.channel
                ))
            }
        };
        if secret.len() < MIN_SECRET {
            return Err(format!(
                "webhook `{}`: the secret must be at least {MIN_SECRET} characters",
                self.channel
            ));
        }
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_webhook_for_email_or_a_short_secret_is_refused() {
        let email = "[[webhook]]\nchannel = \"email\"\nurl = \"http://x\"\nsecret = \"0123456789012345678901234\"";
        assert!(NotifyConfig::parse(email).unwrap_err().contains("sms"));
        let short = "[[webhook]]\nchannel = \"sms\"\nurl = \"http://x\"\nsecret = \"court\"";
        assert!(NotifyConfig::parse(short).unwrap_err().contains("at least"));
        let unknown = "[smtp]\nurl = \"smtp://x\"\nfrom = \"a@b.fr\"\nport = 25";
        assert!(NotifyConfig::parse(unknown).unwrap_err().contains("port"));
    }

    #[test]
    fn the_backoff_doubles_up_to_its_ceiling() {
        let r = RetryConfig::default();
        assert_eq!(r.backoff(1, 0.0), 30_000_000);
        assert_eq!(r.backoff(2, 0.0), 60_000_000);
        assert_eq!(r.backoff(20, 0.0), 3_600_000_000);
        assert_eq!(r.backoff(1, 1.0), 33_000_000);
    }
}
