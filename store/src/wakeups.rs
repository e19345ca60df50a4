//! Wake-ups: telling readers (projectors, live feeds) that an establishment's log moved,
//! and to which position.
//!
//! Nothing is sent from inside an append transaction. Postgres serialises the commits of
//! transactions that NOTIFY (they take a database-wide lock at commit), which capped a
//! région's morning roll calls at the notifying commit rate (on the 2-core reference
//! machine, pgbench one-insert transactions: about 6 700/s without a NOTIFY, 2 100–2 400/s
//! with one). Instead:
//!
//! - in this process, the writer that committed tells the local subscribers at once;
//! - other processes hear of it through one NOTIFY sent *after* the commit by an
//!   announcer task that coalesces whatever committed meanwhile (every establishment that
//!   moved, each with its newest head) into one notification per window;
//! - a poll of the heads (`tenants.next_position`, one small row per establishment) at a
//!   slow interval covers a notification lost while a listener reconnected, and is the
//!   only cross-process signal on SQLite, which has no NOTIFY.
//!
//! A wake-up is a hint, never a delivery: readers always re-read from their checkpoint.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use carnet_domain::Uai;
use tokio::sync::{broadcast, Notify};
use uuid::Uuid;

use crate::backend::Backend;
use crate::error::StoreError;
use crate::model::Committed;

/// The NOTIFY channel of commits. A payload is `<instance>|<uai>:<head>,<uai>:<head>...`.
pub const CHANNEL: &str = "carnet_events";

/// Postgres refuses payloads of 8 000 bytes or more: longer announcements are split.
const MAX_PAYLOAD: usize = 7_000;

/// Buffered wake-ups per local subscriber. One that falls further behind is told it
/// lagged and must assume that every establishment may have moved.
const LOCAL_BUFFER: usize = 4_096;

/// How the store wakes readers.
#[derive(Clone, Copy, Debug)]
pub struct WakeupOptions {
    /// Commits of this process gathered into one cross-process notification.
    pub coalesce: Duration,
    /// How often the heads are polled for commits whose notification was lost (or, on
    /// SQLite, for every commit of another process).
    pub poll: Duration,
}

impl Default for WakeupOptions {
    fn default() -> Self {
        WakeupOptions {
            coalesce: Duration::from_millis(10),
            poll: Duration::from_secs(2),
        }
    }
}

/// The wake-ups of one store handle.
#[derive(Debug)]
pub(crate) struct Wakeups {
    local: broadcast::Sender<Committed>,
    /// Establishments moved since the last announcement, with their newest head.
    pending: Mutex<HashMap<Uai, i64>>,
    announce: Notify,
    /// Names this process in its announcements, so that it ignores its own.
    instance: Uuid,
    options: WakeupOptions,
}

impl Wakeups {
    pub(crate) fn new(options: WakeupOptions) -> Arc<Self> {
        let (local, _) = broadcast::channel(LOCAL_BUFFER);
        Arc::new(Wakeups {
            local,
            pending: Mutex::new(HashMap::new()),
            announce: Notify::new(),
            instance: Uuid::new_v4(),
            options,
        })
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Committed> {
        self.local.subscribe()
    }

    /// A commit of this process: local readers now, other processes at the next
    /// announcement.
    pub(crate) fn committed(&self, commit: Committed) {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let head = pending.entry(commit.tenant.clone()).or_insert(commit.head);
        *head = (*head).max(commit.head);
        drop(pending);
        self.announce.notify_one();
        let _ = self.local.send(commit);
    }

    /// A commit heard of from elsewhere (another process, the heads poll).
    fn heard(&self, commit: Committed) {
        let _ = self.local.send(commit);
    }

    fn take_pending(&self) -> Vec<(Uai, i64)> {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.drain().collect()
    }

    /// The announcements of `moved`, each under the size Postgres accepts.
    fn payloads(&self, moved: &[(Uai, i64)]) -> Vec<String> {
        let mut out = Vec::new();
        let mut current = String::new();
        for (tenant, head) in moved {
            if current.len() > MAX_PAYLOAD {
                out.push(std::mem::take(&mut current));
            }
            if current.is_empty() {
                current.push_str(&self.instance.simple().to_string());
                current.push('|');
            } else {
                current.push(',');
            }
            current.push_str(&format!("{tenant}:{head}"));
        }
        if !current.is_empty() {
            out.push(current);
        }
        out
    }

    /// The commits an announcement of another process names; none for our own.
    pub(crate) fn parse(&self, payload: &str) -> Vec<Committed> {
        let Some((instance, moved)) = payload.split_once('|') else {
            return Vec::new();
        };
        if instance == self.instance.simple().to_string() {
            return Vec::new();
        }
        moved
            .split(',')
            .filter_map(|entry| {
                let (tenant, head) = entry.split_once(':')?;
                Some(Committed {
                    tenant: Uai::parse(tenant).ok()?,
                    head: head.parse().ok()?,
                })
            })
            .collect()
    }

    /// Starts the tasks that carry wake-ups between processes: the announcer (when the
    /// backend can notify), the listener, and the heads poll. The poll's first reading is
    /// taken before this returns, so that a reader that subscribed, then read the heads,
    /// misses no commit after that.
    pub(crate) async fn start(
        self: &Arc<Self>,
        backend: Arc<dyn Backend>,
    ) -> Result<(), StoreError> {
        let mut seen: HashMap<Uai, i64> = backend
            .tenants()
            .await?
            .into_iter()
            .map(|t| (t.tenant, t.head))
            .collect();
        let listener = Arc::downgrade(self);
        let listens = backend
            .listen(
                CHANNEL,
                Box::new(move |payload| match listener.upgrade() {
                    Some(wakeups) => {
                        wakeups.on_announcement(payload);
                        true
                    }
                    None => false,
                }),
            )
            .await?;
        if listens {
            tokio::spawn(announce(Arc::downgrade(self), backend.clone()));
        }
        let wakeups = Arc::downgrade(self);
        let every = self.options.poll;
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                // The store handle was dropped: nobody left to wake.
                let Some(wakeups) = wakeups.upgrade() else {
                    return;
                };
                if wakeups.local.receiver_count() == 0 {
                    continue;
                }
                match backend.tenants().await {
                    Ok(tenants) => {
                        for t in tenants {
                            if seen.get(&t.tenant) != Some(&t.head) {
                                seen.insert(t.tenant.clone(), t.head);
                                wakeups.heard(Committed {
                                    tenant: t.tenant,
                                    head: t.head,
                                });
                            }
                        }
                    }
                    Err(error) => tracing::warn!(%error, "polling the heads failed; retrying"),
                }
            }
        });
        Ok(())
    }

    /// Forwards an announcement heard from the database.
    fn on_announcement(&self, payload: &str) {
        for commit in self.parse(payload) {
            self.heard(commit);
        }
    }
}

/// Sends, after the commits, one notification for everything committed in each window.
async fn announce(wakeups: std::sync::Weak<Wakeups>, backend: Arc<dyn Backend>) {
    loop {
        // Once the store handle is dropped, nothing is left to announce.
        let Some(w) = wakeups.upgrade() else {
            return;
        };
        if tokio::time::timeout(Duration::from_secs(5), w.announce.notified())
            .await
            .is_err()
        {
            continue;
        }
        tokio::time::sleep(w.options.coalesce).await;
        let moved = w.take_pending();
        for payload in w.payloads(&moved) {
            if let Err(error) = backend.announce(CHANNEL, &payload).await {
                // The heads poll of the other processes will find these commits.
                tracing::warn!(%error, "announcing commits failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uai(s: &str) -> Uai {
        Uai::parse(s).expect("a valid UAI")
    }

    #[test]
    fn announcements_round_trip_and_skip_their_own_instance() {
        let a = Wakeups::new(WakeupOptions::default());
        let b = Wakeups::new(WakeupOptions::default());
        let moved = vec![(uai("0750655E"), 12), (uai("0750680G"), 3)];
        let payloads = a.payloads(&moved);
        assert_eq!(payloads.len(), 1);
        assert!(a.parse(&payloads[0]).is_empty(), "its own announcement");
        let heard = b.parse(&payloads[0]);
        assert_eq!(
            heard,
            vec![
                Committed {
                    tenant: uai("0750655E"),
                    head: 12
                },
                Committed {
                    tenant: uai("0750680G"),
                    head: 3
                },
            ]
        );
        assert!(b.parse("garbage").is_empty());
    }

    #[test]
    fn long_announcements_are_split_under_the_payload_limit() {
        let a = Wakeups::new(WakeupOptions::default());
        let b = Wakeups::new(WakeupOptions::default());
        let moved: Vec<(Uai, i64)> = (0..2_000)
            .map(|i| (uai("0750655E"), i64::MAX - i))
            .collect();
        let payloads = a.payloads(&moved);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() < 8_000));
        let heard: usize = payloads.iter().map(|p| b.parse(p).len()).sum();
        assert_eq!(heard, 2_000);
    }

    #[test]
    fn commits_coalesce_to_the_newest_head_per_establishment() {
        let w = Wakeups::new(WakeupOptions::default());
        let _rx = w.subscribe();
        for head in [3, 9, 5] {
            w.committed(Committed {
                tenant: uai("0750655E"),
                head,
            });
        }
        assert_eq!(w.take_pending(), vec![(uai("0750655E"), 9)]);
        assert!(w.take_pending().is_empty());
    }
}
