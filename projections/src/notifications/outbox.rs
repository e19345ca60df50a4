//! The `notification_deliveries` table: one row per notice, guardian and channel, from
//! the moment the projection writes it to the moment it is sent, dropped or given up.
//!
//! A row is `pending` until sent (`sent`), given up after its last attempt (`dead`: a
//! dead letter staff see, with the reason, and may send again), or `dropped` (nothing
//! left to send it to: the guardian was erased or has no address any more). The notifier
//! claims due rows with a lease and counts the attempt at the claim: a notifier killed
//! mid-send leaves the row leased, and another takes it once the lease runs out. Sending
//! is at least once; the row's id lets the receiver drop a second copy.

use carnet_domain::contact::{Channel, Notice};
use carnet_store::{AppendTx as Tx, Pool};
use serde_json::Value;
use uuid::Uuid;

use crate::checkpoint::on_each;
use crate::error::ProjectionError;

/// What the projection asks to be sent, before it is split by guardian and channel.
#[derive(Debug, Clone)]
pub struct NewNotice {
    pub position: i64,
    pub notice: Notice,
    pub student: String,
    /// What the message says besides names: dates, times, counts. Never personal data.
    pub details: Value,
}

/// One notification to one guardian by one channel.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Delivery {
    pub tenant_id: String,
    pub id: String,
    pub position: i64,
    pub notice: String,
    pub channel: String,
    pub guardian: String,
    pub student: String,
    pub details: String,
    pub status: String,
    pub attempts: i32,
    pub next_at: i64,
    pub lease_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

impl Delivery {
    pub fn channel(&self) -> Option<Channel> {
        Channel::parse(&self.channel)
    }

    pub fn notice(&self) -> Option<Notice> {
        Notice::parse(&self.notice)
    }

    pub fn details(&self) -> Value {
        serde_json::from_str(&self.details).unwrap_or(Value::Null)
    }
}

/// Names the ids of deliveries (UUID v5): the same notice to the same guardian by the
/// same channel always has the same id.
const NAMESPACE: Uuid = Uuid::from_u128(0x6361_726e_6574_2d6e_6f74_6966_6963_6174);

pub fn delivery_id(tenant: &str, position: i64, guardian: &str, channel: Channel) -> Uuid {
    let name = format!("{tenant}/{position}/{guardian}/{}", channel.as_str());
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

const COLUMNS: &str = "tenant_id, id, position, notice, channel, guardian, student, details, \
     status, attempts, next_at, lease_until, last_error, created_at, sent_at";

/// Records a delivery in the projection's transaction; one already there (the same
/// notice projected again) is left as it is.
pub(crate) async fn enqueue(
    tx: &mut Tx,
    tenant: &str,
    notice: &NewNotice,
    guardian: &str,
    channel: Channel,
) -> Result<(), ProjectionError> {
    const SQL: &str = "INSERT INTO notification_deliveries
         (tenant_id, id, position, notice, channel, guardian, student, details, next_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT DO NOTHING";
    let id = delivery_id(tenant, notice.position, guardian, channel).to_string();
    let now = now_micros();
    let details = notice.details.to_string();
    on_each!(tx tx, t => sqlx::query(SQL)
        .bind(tenant)
        .bind(&id)
        .bind(notice.position)
        .bind(notice.notice.as_str())
        .bind(channel.as_str())
        .bind(guardian)
        .bind(&notice.student)
        .bind(&details)
        .bind(now)
        .execute(&mut **t)
        .await?
        .rows_affected());
    Ok(())
}

/// Takes up to `limit` due deliveries of any establishment for `lease` microseconds,
/// counting an attempt for each. Postgres skips rows another notifier is claiming;
/// SQLite has one writer at a time.
pub async fn claim(pool: &Pool, lease: i64, limit: i64) -> Result<Vec<Delivery>, ProjectionError> {
    let now = now_micros();
    let rows = match pool {
        Pool::Postgres(p) => {
            let sql = format!(
                "UPDATE notification_deliveries d SET lease_until = $1, attempts = d.attempts + 1
                 FROM (SELECT tenant_id, id FROM notification_deliveries
                       WHERE status = 'pending' AND next_at <= $2
                         AND (lease_until IS NULL OR lease_until < $2)
                       ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
                 WHERE d.tenant_id = due.tenant_id AND d.id = due.id
                 RETURNING {}",
                prefixed("d.")
            );
            sqlx::query_as(&sql)
                .bind(now + lease)
                .bind(now)
                .bind(limit)
                .fetch_all(p)
                .await?
        }
        Pool::Sqlite(p) => {
            let sql = format!(
                "UPDATE notification_deliveries SET lease_until = $1, attempts = attempts + 1
                 WHERE rowid IN (SELECT rowid FROM notification_deliveries
                       WHERE status = 'pending' AND next_at <= $2
                         AND (lease_until IS NULL OR lease_until < $2)
                       ORDER BY next_at LIMIT $3)
                 RETURNING {COLUMNS}"
            );
            sqlx::query_as(&sql)
                .bind(now + lease)
                .bind(now)
                .bind(limit)
                .fetch_all(p)
                .await?
        }
    };
    Ok(rows)
}

fn prefixed(prefix: &str) -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("{prefix}{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a claimed delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Try again at this time (microseconds), after this error.
    Retry {
        at: i64,
        error: String,
    },
    /// Given up: a dead letter.
    Dead {
        error: String,
    },
    /// Nothing to send it to any more.
    Dropped {
        reason: String,
    },
}

/// Records how the delivery `id` of `tenant` ended; a row no longer pending (a staff
/// member gave it up meanwhile) is left alone.
pub async fn settle(
    pool: &Pool,
    tenant: &str,
    id: &str,
    outcome: &Outcome,
) -> Result<(), ProjectionError> {
    const SQL: &str = "UPDATE notification_deliveries
         SET status = $3, next_at = COALESCE($4, next_at), last_error = $5,
             sent_at = $6, lease_until = NULL
         WHERE tenant_id = $1 AND id = $2 AND status = 'pending'";
    let now = now_micros();
    let (status, next_at, error, sent_at) = match outcome {
        Outcome::Sent => ("sent", None, None, Some(now)),
        Outcome::Retry { at, error } => ("pending", Some(*at), Some(error.as_str()), None),
        Outcome::Dead { error } => ("dead", None, Some(error.as_str()), None),
        Outcome::Dropped { reason } => ("dropped", None, Some(reason.as_str()), None),
    };
    on_each!(pool pool, p => sqlx::query(SQL)
        .bind(tenant)
        .bind(id)
        .bind(status)
        .bind(next_at)
        .bind(error)
        .bind(sent_at)
        .execute(p)
        .await?
        .rows_affected());
    Ok(())
}

/// An establishment's deliveries, newest first; of one status when given.
pub async fn list(
    pool: &Pool,
    tenant: &str,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<Delivery>, ProjectionError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM notification_deliveries
         WHERE tenant_id = $1 AND ($2 IS NULL OR status = $2)
         ORDER BY created_at DESC, id LIMIT $3"
    );
    let rows = on_each!(pool pool, p => sqlx::query_as(&sql)
        .bind(tenant)
        .bind(status)
        .bind(limit)
        .fetch_all(p)
        .await?);
    Ok(rows)
}

/// Puts a dead letter back in the queue, due now, with its attempts reset. Whether
/// there was one to put back.
pub async fn retry(pool: &Pool, tenant: &str, id: &str) -> Result<bool, ProjectionError> {
    const SQL: &str = "UPDATE notification_deliveries
         SET status = 'pending', attempts = 0, next_at = $3, lease_until = NULL
         WHERE tenant_id = $1 AND id = $2 AND status = 'dead'";
    let done = on_each!(pool pool, p => sqlx::query(SQL)
        .bind(tenant)
        .bind(id)
        .bind(now_micros())
        .execute(p)
        .await?
        .rows_affected());
    Ok(done == 1)
}

/// How many deliveries there are by status and channel, over every establishment (for
/// the metrics).
pub async fn counts(pool: &Pool) -> Result<Vec<(String, String, i64)>, ProjectionError> {
    const SQL: &str = "SELECT status, channel, COUNT(*) FROM notification_deliveries
         GROUP BY status, channel ORDER BY status, channel";
    let rows = on_each!(pool pool, p => sqlx::query_as(SQL).fetch_all(p).await?);
    Ok(rows)
}
