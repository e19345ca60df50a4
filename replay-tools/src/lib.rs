//! Tools that work on the whole log of an establishment, for auditors and administrators.
#![forbid(unsafe_code)]

pub mod log;
pub mod retention;
pub mod timeline;

use carnet_domain::Uai;
use carnet_store::verify::{verify_tenant, VerifyReport};
use carnet_store::{EventStore, StoreError};
use futures::{StreamExt, TryStreamExt};

/// Verifies the log of `tenant`, or of every establishment when `None`: establishments
/// side by side, one per core (each log is a single hash chain per stream read in
/// position order; a district's logs are independent), reports in the tenants' order.
pub async fn verify(
    store: &EventStore,
    tenant: Option<&Uai>,
) -> Result<Vec<VerifyReport>, StoreError> {
    let tenants = match tenant {
        Some(t) => vec![t.clone()],
        None => store
            .tenants()
            .await?
            .into_iter()
            .map(|t| t.tenant)
            .collect(),
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    futures::stream::iter(tenants)
        .map(|tenant| {
            // A task each, so that two establishments' hashes use two cores.
            let store = store.clone();
            tokio::spawn(async move { verify_tenant(&store, &tenant).await })
        })
        .buffered(cores)
        // A verification that panicked panics here too; none is ever cancelled.
        .map(|joined| joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())))
        .try_collect()
        .await
}

/// One line per report, for a terminal.
pub fn describe(report: &VerifyReport) -> String {
    match &report.first_break {
        None => format!(
            "{}: intact, {} events in {} streams",
            report.tenant, report.events, report.streams
        ),
        Some(b) => format!(
            "{}: BROKEN at position {}{}: {}",
            report.tenant,
            b.position,
            b.stream
                .as_ref()
                .map(|s| format!(" (stream {s})"))
                .unwrap_or_default(),
            b.what
        ),
    }
}
