//! Group commit. Each establishment has one writer task: commands queue their appends to
//! it, and it commits whatever has queued up meanwhile in one transaction. A transaction
//! per event would cap the log at the database's commit rate; batching shares each
//! commit (and its fsync) among all the commands waiting for it, while every command
//! still gets its own answer (a conflict refuses that command only).

use std::sync::Arc;

use carnet_domain::Uai;
use tokio::sync::{mpsc, oneshot};

use crate::backend::Backend;
use crate::error::StoreError;
use crate::model::{AppendOutcome, AppendRequest, Committed};
use crate::wakeups::Wakeups;

/// Most events committed in one group transaction.
const MAX_BATCH_EVENTS: usize = 2_000;
/// Scheduler turns the writer gives the commands it just answered to come back.
const LINGER_TURNS: usize = 16;
/// Appends that may wait for a writer before callers wait to queue (back-pressure).
pub(crate) const QUEUE_DEPTH: usize = 4_096;

pub(crate) struct Job {
    pub request: AppendRequest,
    pub reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

pub(crate) fn spawn(
    backend: Arc<dyn Backend>,
    tenant: Uai,
    commits: Arc<Wakeups>,
) -> mpsc::Sender<Job> {
    let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
    tokio::spawn(run(backend, tenant, receiver, commits));
    sender
}

async fn run(
    backend: Arc<dyn Backend>,
    tenant: Uai,
    mut queue: mpsc::Receiver<Job>,
    commits: Arc<Wakeups>,
) {
    // How many commands recent batches carried: the clients likely to be back soon.
    let mut recent = 1;
    while let Some(first) = queue.recv().await {
        let mut events = first.request.events.len();
        let mut jobs = vec![first];
        let mut turns = 0;
        loop {
            while events < MAX_BATCH_EVENTS {
                match queue.try_recv() {
                    Ok(job) => {
                        events += job.request.events.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            // The clients answered by the last batch are sending their next commands:
            // waiting a few scheduler turns for them lets one commit carry them all,
            // instead of two half-full batches taking turns.
            if jobs.len() >= recent || events >= MAX_BATCH_EVENTS || turns == LINGER_TURNS {
                break;
            }
            turns += 1;
            tokio::task::yield_now().await;
        }
        recent = jobs.len().max(recent.saturating_sub(1)).max(1);
        let (requests, replies): (Vec<_>, Vec<_>) =
            jobs.into_iter().map(|j| (j.request, j.reply)).unzip();
        let outcomes = commit_group(backend.as_ref(), &tenant, &requests).await;
        if let Some(head) = outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .filter(|o| !o.replayed)
            .map(|o| o.last_position)
            .max()
        {
            commits.committed(Committed {
                tenant: tenant.clone(),
                head,
            });
        }
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // A caller that gave up waiting still has its append done; nobody to tell.
            let _ = reply.send(outcome);
        }
    }
}

/// Commits `requests` together; if the transaction itself fails (not a per-request
/// refusal), each request is retried alone so that one bad request cannot fail others.
async fn commit_group(
    backend: &dyn Backend,
    tenant: &Uai,
    requests: &[AppendRequest],
) -> Vec<Result<AppendOutcome, StoreError>> {
    match backend.append_batch(tenant, requests, false).await {
        Ok(outcomes) => outcomes,
        Err(error) if requests.len() == 1 => vec![Err(error)],
        Err(error) => {
            tracing::warn!(%error, requests = requests.len(), "group commit failed; committing its requests one by one");
            let mut outcomes = Vec::with_capacity(requests.len());
            for request in requests {
                let outcome = match backend
                    .append_batch(tenant, std::slice::from_ref(request), false)
                    .await
                {
                    Ok(mut single) => single.pop().unwrap_or(Err(error.clone())),
                    Err(e) => Err(e),
                };
                outcomes.push(outcome);
            }
            outcomes
        }
    }
}
