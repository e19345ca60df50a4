//! Tools that work on the whole log of an establishment, for auditors and administrators.
#![forbid(unsafe_code)]

pub mod log;
pub mod retention;
pub mod timeline;

use carnet_domain::Uai;
use carnet_store::verify::{verify_tenant, VerifyReport};
use carnet_store::{EventStore, StoreError};

/// Verifies the log of `tenant`, or of every establishment when `None`.
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
    let mut reports = Vec::with_capacity(tenants.len());
    for tenant in &tenants {
        reports.push(verify_tenant(store, tenant).await?);
    }
    Ok(reports)
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
