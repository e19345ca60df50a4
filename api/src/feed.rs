//! The live feed of each establishment's log, for subscriptions: one reader task per
//! establishment with subscribers, woken by the store's commit notifications (with a
//! tick as a fallback), fanning the new events out to every subscription.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use carnet_domain::Uai;
use carnet_store::{EventStore, RecordedEvent, StoreError};
use tokio::sync::broadcast;

/// Events a slow subscriber may fall behind by before it is told it lagged.
const BUFFER: usize = 4096;
const TICK: Duration = Duration::from_millis(500);

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
    loop {
        // Woken by a commit of any establishment, or the tick; then reads what is new.
        let _ = tokio::time::timeout(TICK, commits.recv()).await;
        {
            let mut map = tenants.lock().unwrap_or_else(|p| p.into_inner());
            if sender.receiver_count() == 0 {
                map.remove(&tenant);
                return;
            }
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
                    break;
                }
            }
        }
    }
}
