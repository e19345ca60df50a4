//! The notifier: sends the deliveries the notifications projection queued
//! (`carnet_projections::notifications`), by e-mail and signed webhooks, at least once.
//!
//! Each round claims a batch of due deliveries of every establishment with a lease,
//! sends them at the same time, and settles each: sent; tried again later with a
//! doubling wait (a server down, a timeout); a dead letter after the last attempt or a
//! refusal that will not change (staff see it with the reason, and may send it again);
//! dropped when there is nothing left to send it to (the guardian erased, their address
//! removed). A notifier killed mid-round leaves its deliveries leased; once the lease
//! runs out, another (or the same, restarted) takes them again. Any number of notifiers
//! may run against one database.

pub mod config;
pub mod message;
pub mod transport;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use carnet_domain::contact::{Channel, Notice};
use carnet_domain::personal::Personal;
use carnet_domain::Uai;
use carnet_projections::notifications::outbox::{self, Delivery, Outcome};
use carnet_projections::notifications::{EntIds, EstablishmentName, Pupil, Reach, NAME};
use carnet_projections::query;
use carnet_store::{EventStore, Pool};
use futures::future::join_all;
use serde_json::json;

pub use config::NotifyConfig;
use message::{compose, About};
use transport::{Email, SendError, Webhook};

#[derive(Debug, Clone)]
pub struct Notifier {
    pool: Pool,
    /// For its vault: names and addresses are opened at sending time.
    store: EventStore,
    email: Option<Email>,
    sms: Option<Webhook>,
    ent: Option<Webhook>,
    config: Arc<NotifyConfig>,
}

/// What a delivery is to be sent to, once opened.
enum Recipient {
    Email(String),
    Sms(String),
    Ent(Vec<carnet_domain::enrolment::ExternalId>),
}

impl Notifier {
    pub fn new(store: &EventStore, config: NotifyConfig) -> Result<Notifier, String> {
        let email = config.smtp.as_ref().map(Email::new).transpose()?;
        let hook = |channel: Channel| {
            config
                .webhook
                .iter()
                .find(|h| h.channel == channel.as_str())
                .map(Webhook::new)
                .transpose()
        };
        Ok(Notifier {
            pool: store.backend().pool(),
            store: store.clone(),
            email,
            sms: hook(Channel::Sms)?,
            ent: hook(Channel::Ent)?,
            config: Arc::new(config),
        })
    }

    /// Rounds until `until` resolves; a round that found nothing waits `poll_seconds`.
    pub async fn run(&self, until: impl Future<Output = ()>) {
        tokio::pin!(until);
        let idle = Duration::from_secs_f64(self.config.retry.poll_seconds);
        loop {
            let wait = match self.round().await {
                Ok(0) => idle,
                Ok(_) => Duration::ZERO,
                Err(error) => {
                    tracing::error!(%error, "the notifier cannot read its queue");
                    idle
                }
            };
            tokio::select! {
                _ = &mut until => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Claims, sends and settles one batch; how many deliveries it claimed.
    pub async fn round(&self) -> Result<usize, carnet_projections::ProjectionError> {
        let r = &self.config.retry;
        let lease = (r.lease_seconds * 1e6) as i64;
        let claimed = outbox::claim(&self.pool, lease, r.batch).await?;
        let count = claimed.len();
        let settled = join_all(claimed.into_iter().map(|d| async move {
            let outcome = self.deliver(&d).await;
            (d, outcome)
        }))
        .await;
        for (d, outcome) in settled {
            log(&d, &outcome);
            outbox::settle(&self.pool, &d.tenant_id, &d.id, &outcome).await?;
        }
        Ok(count)
    }

    /// Sends one delivery and says how it ended.
    async fn deliver(&self, d: &Delivery) -> Outcome {
        let prepared = match self.prepare(d).await {
            Ok(prepared) => prepared,
            Err(outcome) => return outcome,
        };
        let (recipient, message) = prepared;
        let sent = match recipient {
            Recipient::Email(address) => match &self.email {
                Some(email) => email.send(&d.id, &address, &message).await,
                None => return unconfigured(d),
            },
            Recipient::Sms(mobile) => match &self.sms {
                Some(hook) => {
                    hook.send(&d.id, &body(d, json!({ "mobile": mobile }), &message))
                        .await
                }
                None => return unconfigured(d),
            },
            Recipient::Ent(ids) => match &self.ent {
                Some(hook) => {
                    hook.send(&d.id, &body(d, json!({ "ent": ids }), &message))
                        .await
                }
                None => return unconfigured(d),
            },
        };
        let r = &self.config.retry;
        match sent {
            Ok(()) => Outcome::Sent,
            Err(SendError::Refused(error)) => Outcome::Dead { error },
            Err(SendError::Transient(error)) if d.attempts >= r.max_attempts => Outcome::Dead {
                error: format!("abandonné après {} tentatives: {error}", d.attempts),
            },
            Err(SendError::Transient(error)) => {
                let jitter = rand::random::<f64>() * 2.0 - 1.0;
                let at = chrono::Utc::now().timestamp_micros() + r.backoff(d.attempts, jitter);
                Outcome::Retry { at, error }
            }
        }
    }

    /// The recipient and the message of `d`, read and opened now; or why there is
    /// nothing to send.
    async fn prepare(&self, d: &Delivery) -> Result<(Recipient, message::Message), Outcome> {
        let failed = |e: &dyn std::fmt::Display| Outcome::Retry {
            at: chrono::Utc::now().timestamp_micros()
                + (self.config.retry.poll_seconds * 1e6) as i64,
            error: format!("lecture impossible: {e}"),
        };
        let tenant = Uai::parse(&d.tenant_id).map_err(|e| Outcome::Dead {
            error: format!("établissement illisible: {e}"),
        })?;
        let (Some(channel), Some(notice)) = (d.channel(), d.notice()) else {
            return Err(Outcome::Dead {
                error: format!("canal {} ou avis {} inconnus", d.channel, d.notice),
            });
        };
        let reach: Reach = self
            .doc(&tenant, format!("contact/{}", d.guardian))
            .await
            .map_err(|e| failed(&e))?
            .unwrap_or_default();
        let recipient = match channel {
            Channel::Email => self
                .open(&tenant, reach.email.as_ref())
                .await
                .map(Recipient::Email),
            Channel::Sms => self
                .open(&tenant, reach.mobile.as_ref())
                .await
                .map(Recipient::Sms),
            Channel::Ent => {
                let ent: Option<EntIds> = self
                    .doc(&tenant, format!("ent/{}", d.guardian))
                    .await
                    .map_err(|e| failed(&e))?;
                ent.filter(|e| !e.ids.is_empty())
                    .map(|e| Recipient::Ent(e.ids))
            }
        };
        let recipient = recipient.ok_or_else(|| Outcome::Dropped {
            reason: format!(
                "plus rien pour joindre {} par {} (adresse retirée ou personne effacée)",
                d.guardian, d.channel
            ),
        })?;
        let pupil: Pupil = self
            .doc(&tenant, format!("student/{}", d.student))
            .await
            .map_err(|e| failed(&e))?
            .unwrap_or_default();
        let first = self.open(&tenant, pupil.first_name.as_ref()).await;
        let last = self.open(&tenant, pupil.last_name.as_ref()).await;
        let (Some(first), Some(last)) = (first, last) else {
            return Err(Outcome::Dropped {
                reason: format!("l'élève {} est effacé(e)", d.student),
            });
        };
        let establishment: EstablishmentName = self
            .doc(&tenant, "establishment".to_string())
            .await
            .map_err(|e| failed(&e))?
            .unwrap_or_default();
        let child = format!("{first} {last}");
        let about = About {
            child: &child,
            establishment: &establishment.name,
        };
        let message = compose(notice, &d.details(), &about, reach.preferences.language)
            .ok_or_else(|| Outcome::Dead {
                error: format!("détails incomplets pour un avis {}", notice_name(notice)),
            })?;
        Ok((recipient, message))
    }

    /// A document of the notifications read model.
    async fn doc<T: serde::de::DeserializeOwned>(
        &self,
        tenant: &Uai,
        key: String,
    ) -> Result<Option<T>, carnet_projections::ProjectionError> {
        query::doc(&self.pool, tenant, NAME, &key).await
    }

    /// A personal value in clear, or `None` if absent or erased (or unreadable: logged).
    async fn open(&self, tenant: &Uai, value: Option<&Personal<String>>) -> Option<String> {
        match self.store.vault().open(tenant, value?).await {
            Ok(clear) => clear,
            Err(error) => {
                tracing::warn!(%error, %tenant, "a personal value cannot be opened");
                None
            }
        }
    }
}

fn notice_name(notice: Notice) -> &'static str {
    notice.as_str()
}

fn unconfigured(d: &Delivery) -> Outcome {
    Outcome::Dead {
        error: format!("aucun transport configuré pour le canal {}", d.channel),
    }
}

/// The JSON a webhook receives.
fn body(d: &Delivery, to: serde_json::Value, message: &message::Message) -> serde_json::Value {
    json!({
        "id": d.id,
        "notice": d.notice,
        "channel": d.channel,
        "establishment": d.tenant_id,
        "student": d.student,
        "guardian": d.guardian,
        "to": to,
        "subject": message.subject,
        "text": message.text,
        "details": d.details(),
        "created_at": chrono::DateTime::from_timestamp_micros(d.created_at)
            .map(|t| t.to_rfc3339()),
        "attempt": d.attempts,
    })
}

fn log(d: &Delivery, outcome: &Outcome) {
    let (tenant, id, channel) = (&d.tenant_id, &d.id, &d.channel);
    match outcome {
        Outcome::Sent => tracing::info!(%tenant, %id, %channel, "notification sent"),
        Outcome::Retry { error, .. } => {
            tracing::warn!(%tenant, %id, %channel, attempts = d.attempts, %error, "notification to be tried again")
        }
        Outcome::Dead { error } => {
            tracing::error!(%tenant, %id, %channel, attempts = d.attempts, %error, "notification given up")
        }
        Outcome::Dropped { reason } => {
            tracing::info!(%tenant, %id, %channel, %reason, "notification dropped")
        }
    }
}
