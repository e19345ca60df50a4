//! The live feed of each establishment's log, for subscriptions: one reader task per
//! establishment with subscribers, woken by the store's wake-ups for that establishment
//! (the store's heads poll covers a lost one), fanning the new events out to every
//! subscription. An establishment nobody subscribes to costs nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use carnet_domain::Uai;
use carnet_store::{EventStore, RecordedEvent, StoreError};
use tokio::sync::broadcast;

/// Events a slow subscriber may fall behind by before it is told it lagged.
const BUFFER: usize = 4096;
/// How often a reader with no wake-up checks whether it still has subscribers (no query).
const IDLE_CHECK: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Feed {
    store: EventStore,
    tenants: Arc<Mutex<HashMap<Uai, broadcast::Sender<Arc<RecordedEvent>>>>>,
}

impl Feed {
    pub fn new(store: EventStore) -> Self {
        Feed {
            store,
            tenants: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The events committed to `tenant`'s log from now on.
    pub async fn subscribe(
        &self,
        tenant: &Uai,
    ) -> Result<broadcast::Receiver<Arc<RecordedEvent>>, StoreError> {
        if let Some(sender) = self.lock().get(tenant) {
            return Ok(sender.subscribe());
        }
        let head = self
            .store
            .tenants()
            .await?
            .into_iter()
            .find(|t| &t.tenant == tenant)
            .map(|t| t.head)
            .ok_or_else(|| StoreError::UnknownTenant(tenant.clone()))?;
        let commits = self.store.subscribe().await?;
        let mut tenants = self.lock();
        if let Some(sender) = tenants.get(tenant) {
            return Ok(sender.subscribe());
        }
        let (sender, receiver) = broadcast::channel(BUFFER);
        tenants.insert(tenant.clone(), sender.clone());
        tokio::spawn(follow(
            self.store.clone(),
            tenant.clone(),
            head,
            commits,
            sender,
            self.tenants.clone(),
        ));
        Ok(receiver)
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Uai, broadcast::Sender<Arc<RecordedEvent>>>> {
        self.tenants
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn follow(
    store: EventStore,
    tenant: Uai,
    mut position: i64,
    mut commits: broadcast::Receiver<carnet_store::Committed>,
    sender: broadcast::Sender<Arc<RecordedEvent>>,
    tenants: Arc<Mutex<HashMap<Uai, broadcast::Sender<Arc<RecordedEvent>>>>>,
) {
    // A read that failed is tried again at the next check.
    let mut unread = false;
    loop {
        // Reads only when this establishment moved past what was sent.
        let read = match tokio::time::timeout(IDLE_CHECK, commits.recv()).await {
            Ok(Ok(c)) => unread || (c.tenant == tenant && c.head > position),
            // Wake-ups were lost: this establishment's may be among them.
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => true,
            Ok(Err(broadcast::error::RecvError::Closed)) => return,
            Err(_) => unread,
        };
        unread = false;
        {
            let mut map = tenants.lock().unwrap_or_else(|p| p.into_inner());
            if sender.receiver_count() == 0 {
                map.remove(&tenant);
                return;
            }
        }
        if !read {
            continue;
        }
        loop {
            match store.read_log(&tenant, position, 1000).await {
                Ok(events) if events.is_empty() => break,
                Ok(events) => {
                    for event in events {
                        position = event.position;
                        let _ = sender.send(Arc::new(event));
                    }
                }
                Err(error) => {
                    tracing::warn!(%tenant, %error, "live feed cannot read the log; retrying");
                    unread = true;
                    break;
                }
            }
        }
    }
}
