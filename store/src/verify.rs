//! Checking an establishment's log: positions gap-free from 1 to the head, stream
//! versions contiguous from 1, and every hash equal to the one recomputed from the
//! stored row and the previous hash of its stream. What an auditor runs, and what shows a
//! row altered by someone who disabled the append-only triggers.

use std::collections::HashMap;

use carnet_domain::Uai;

use crate::error::StoreError;
use crate::hash::{canonical_json, canonical_metadata, event_hash, HashedFields, GENESIS};
use crate::model::{Position, RecordedEvent, StreamRef};
use crate::store::EventStore;

const PAGE: i64 = 5_000;

/// The hash `event`'s content and the previous hash of its stream give.
fn recomputed_hash(tenant: &Uai, previous: &[u8; 32], event: &RecordedEvent) -> [u8; 32] {
    let payload = canonical_json(&event.payload);
    let metadata = canonical_metadata(&event.metadata);
    event_hash(
        previous,
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
    )
}

/// Checks the first events of one stream on their own: versions from 1 without a gap,
/// each hash the one its content and the previous hash give. What the verification of a
/// document made from a few streams runs, without reading the whole log.
pub fn check_stream(tenant: &Uai, events: &[RecordedEvent]) -> Result<(), Break> {
    let mut previous = GENESIS;
    for (i, event) in events.iter().enumerate() {
        let broken = |what: String| Break {
            position: event.position,
            stream: Some(event.stream.clone()),
            what,
        };
        if event.stream_version != i as i64 + 1 {
            return Err(broken(format!(
                "stream version {} follows {i}",
                event.stream_version
            )));
        }
        if recomputed_hash(tenant, &previous, event) != event.hash {
            return Err(broken(format!(
                "{} v{} does not match its hash",
                event.event_type, event.stream_version
            )));
        }
        previous = event.hash;
    }
    Ok(())
}

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

/// The links of a log checked one event after another, in position order: what
/// `verify` runs over the stored log, and `replay import` over a file before writing it.
#[derive(Debug)]
pub struct Chain {
    tenant: Uai,
    streams: HashMap<StreamRef, (i64, [u8; 32])>,
    last: Position,
    events: u64,
}

impl Chain {
    pub fn new(tenant: &Uai) -> Self {
        Chain {
            tenant: tenant.clone(),
            streams: HashMap::new(),
            last: 0,
            events: 0,
        }
    }

    /// The events checked so far, and the position of the last one.
    pub fn events(&self) -> u64 {
        self.events
    }

    pub fn last(&self) -> Position {
        self.last
    }

    pub fn streams(&self) -> u64 {
        self.streams.len() as u64
    }

    /// Checks that `event` follows the events checked before it: next position, next
    /// version of its stream, and a hash equal to the one its content and the previous
    /// hash of its stream give.
    pub fn check(&mut self, event: &RecordedEvent) -> Result<(), Break> {
        let broken = |what: String| Break {
            position: event.position,
            stream: Some(event.stream.clone()),
            what,
        };
        let last = self.last;
        if event.position != last + 1 {
            return Err(broken(format!(
                "position {} follows {last}: events {}..{} are missing",
                event.position,
                last + 1,
                event.position - 1
            )));
        }
        let (version, previous) = self
            .streams
            .get(&event.stream)
            .copied()
            .unwrap_or((0, GENESIS));
        if event.stream_version != version + 1 {
            return Err(broken(format!(
                "stream version {} follows {version}",
                event.stream_version
            )));
        }
        let expected = recomputed_hash(&self.tenant, &previous, event);
        if expected != event.hash {
            return Err(broken(format!(
                "{} v{} does not match its hash: stored {}, content gives {} (the row was altered, or an earlier event of its stream was)",
                event.event_type,
                event.stream_version,
                hex::encode(event.hash),
                hex::encode(expected)
            )));
        }
        self.last = event.position;
        self.events += 1;
        self.streams
            .insert(event.stream.clone(), (event.stream_version, event.hash));
        Ok(())
    }

    /// The break of a log that stops at the last event checked while its head says
    /// `head`.
    pub fn end(&self, head: Position) -> Option<Break> {
        (self.last != head).then(|| Break {
            position: self.last + 1,
            stream: None,
            what: format!(
                "the log ends at position {} but the establishment's head is {head}: events {}..{head} are missing",
                self.last,
                self.last + 1
            ),
        })
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
    let mut chain = Chain::new(tenant);
    let mut first_break = None;
    'pages: loop {
        let page = store.read_log(tenant, chain.last(), PAGE).await?;
        if page.is_empty() {
            break;
        }
        for event in &page {
            if let Err(b) = chain.check(event) {
                first_break = Some(b);
                break 'pages;
            }
        }
    }
    let first_break = first_break.or_else(|| chain.end(head));
    // A break counts the event where it was found.
    let events =
        chain.events() + u64::from(first_break.as_ref().is_some_and(|b| b.stream.is_some()));
    Ok(VerifyReport {
        tenant: tenant.clone(),
        events,
        streams: chain.streams(),
        first_break,
    })
}
