//! Checking an establishment's log: positions gap-free from 1 to the head, stream
//! versions contiguous from 1, and every hash equal to the one recomputed from the
//! stored row and the previous hash of its stream. What an auditor runs, and what shows a
//! row altered by someone who disabled the append-only triggers.

use std::collections::HashMap;

use carnet_domain::Uai;

use crate::error::StoreError;
use crate::hash::{canonical_json, canonical_metadata, event_hash, HashedFields, GENESIS};
use crate::model::{Position, StreamRef};
use crate::store::EventStore;

const PAGE: i64 = 5_000;

/// Where the log stops being what was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Break {
    pub position: Position,
    pub stream: Option<StreamRef>,
    pub what: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub tenant: Uai,
    pub events: u64,
    pub streams: u64,
    /// The first break in position order, if any.
    pub first_break: Option<Break>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

#[tracing::instrument(skip(store), err)]
pub async fn verify_tenant(store: &EventStore, tenant: &Uai) -> Result<VerifyReport, StoreError> {
    let head = store
        .tenants()
        .await?
        .into_iter()
        .find(|t| &t.tenant == tenant)
        .ok_or_else(|| StoreError::UnknownTenant(tenant.clone()))?
        .head;
    let mut streams: HashMap<StreamRef, (i64, [u8; 32])> = HashMap::new();
    let mut last = 0;
    let mut events = 0u64;
    let mut first_break = None;
    'pages: loop {
        let page = store.read_log(tenant, last, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for event in page {
            events += 1;
            let broken = |what: String| Break {
                position: event.position,
                stream: Some(event.stream.clone()),
                what,
            };
            if event.position != last + 1 {
                first_break = Some(broken(format!(
                    "position {} follows {last}: events {}..{} are missing",
                    event.position,
                    last + 1,
                    event.position - 1
                )));
                break 'pages;
            }
            last = event.position;
            let (version, previous) = streams.get(&event.stream).copied().unwrap_or((0, GENESIS));
            if event.stream_version != version + 1 {
                first_break = Some(broken(format!(
                    "stream version {} follows {version}",
                    event.stream_version
                )));
                break 'pages;
            }
            let payload = canonical_json(&event.payload);
            let metadata = canonical_metadata(&event.metadata);
            let expected = event_hash(
                &previous,
                &HashedFields {
                    tenant,
                    position: event.position,
                    stream: &event.stream,
                    stream_version: event.stream_version,
                    event_type: &event.event_type,
                    event_version: event.event_version,
                    canonical_payload: &payload,
                    canonical_metadata: &metadata,
                    recorded_at: event.recorded_at,
                },
            );
            if expected != event.hash {
                first_break = Some(broken(format!(
                    "{} v{} does not match its hash: stored {}, content gives {} (the row was altered, or an earlier event of its stream was)",
                    event.event_type,
                    event.stream_version,
                    hex::encode(event.hash),
                    hex::encode(expected)
                )));
                break 'pages;
            }
            streams.insert(event.stream.clone(), (event.stream_version, event.hash));
        }
    }
    if first_break.is_none() && last != head {
        first_break = Some(Break {
            position: last + 1,
            stream: None,
            what: format!("the log ends at position {last} but the establishment's head is {head}: events {}..{head} are missing", last + 1),
        });
    }
    Ok(VerifyReport {
        tenant: tenant.clone(),
        events,
        streams: streams.len() as u64,
        first_break,
    })
}
