//! Deciding a batch of appends against the log's current state: which requests conflict,
//! which repeat an earlier command, and the rows (positions, versions, hashes) of the
//! others. Pure: the backends fetch the state, call [`plan`], and write what it says,
//! all in one transaction that holds the establishment's append lock.

use std::collections::HashMap;

use carnet_domain::Uai;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::StoreError;
use crate::hash::{canonical_json, canonical_metadata, event_hash, HashedFields, GENESIS};
use crate::model::{AppendOutcome, AppendRequest, ExpectedVersion, Position, StreamRef};

/// The last event of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamHead {
    pub version: i64,
    pub hash: [u8; 32],
}

/// A command already recorded in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownCommand {
    pub request_hash: [u8; 32],
    pub stream: StreamRef,
    pub outcome: AppendOutcome,
}

/// One event row to insert.
#[derive(Debug)]
pub struct EventRow {
    pub position: Position,
    pub stream: StreamRef,
    pub stream_version: i64,
    pub event_type: String,
    pub event_version: i32,
    pub payload: String,
    pub metadata: String,
    pub command_id: Option<Uuid>,
    pub hash: [u8; 32],
}

/// The row of an event recorded elsewhere, as it was (`restore`).
pub(crate) fn restored_row(e: &crate::model::RecordedEvent) -> EventRow {
    EventRow {
        position: e.position,
        stream: e.stream.clone(),
        stream_version: e.stream_version,
        event_type: e.event_type.clone(),
        event_version: e.event_version,
        payload: canonical_json(&e.payload),
        metadata: canonical_metadata(&e.metadata),
        command_id: e.metadata.command_id,
        hash: e.hash,
    }
}

/// One command row to insert.
#[derive(Debug)]
pub struct CommandRow {
    pub id: Uuid,
    pub request_hash: [u8; 32],
    pub stream: StreamRef,
    pub outcome: AppendOutcome,
}

#[derive(Debug)]
pub struct Plan {
    pub rows: Vec<EventRow>,
    pub commands: Vec<CommandRow>,
    /// One answer per request, in the order of the requests.
    pub outcomes: Vec<Result<AppendOutcome, StoreError>>,
    /// The establishment's next free position after this batch.
    pub next_position: Position,
    /// The head of every stream the batch touched, after it.
    pub heads: HashMap<StreamRef, StreamHead>,
    /// When every event of the batch is recorded.
    pub recorded_at: DateTime<Utc>,
}

impl Plan {
    pub fn has_refusals(&self) -> bool {
        self.outcomes.iter().any(|o| o.is_err())
    }

    /// The refusals with the index of their request, for an all-or-nothing batch.
    pub fn into_refusals(self) -> Vec<(usize, StoreError)> {
        self.outcomes
            .into_iter()
            .enumerate()
            .filter_map(|(i, o)| o.err().map(|e| (i, e)))
            .collect()
    }
}

/// Plans `requests` in order, as if each were appended after the ones before it.
/// `heads` holds the current head of every stream the requests touch (absent: new
/// stream) and `known` every already-recorded command among their command ids.
pub fn plan(
    tenant: &Uai,
    next_position: Position,
    mut heads: HashMap<StreamRef, StreamHead>,
    mut known: HashMap<Uuid, KnownCommand>,
    requests: &[AppendRequest],
    recorded_at: DateTime<Utc>,
) -> Plan {
    let mut plan = Plan {
        rows: Vec::with_capacity(requests.iter().map(|r| r.events.len()).sum()),
        commands: Vec::new(),
        outcomes: Vec::with_capacity(requests.len()),
        next_position,
        heads: HashMap::new(),
        recorded_at,
    };
    for request in requests {
        let outcome = plan_one(
            tenant,
            &mut plan,
            &mut heads,
            &mut known,
            request,
            recorded_at,
        );
        plan.outcomes.push(outcome);
    }
    plan.heads = heads;
    plan
}

fn plan_one(
    tenant: &Uai,
    plan: &mut Plan,
    heads: &mut HashMap<StreamRef, StreamHead>,
    known: &mut HashMap<Uuid, KnownCommand>,
    request: &AppendRequest,
    recorded_at: DateTime<Utc>,
) -> Result<AppendOutcome, StoreError> {
    if let Some(command) = &request.command {
        if let Some(earlier) = known.get(&command.id) {
            return if earlier.request_hash == command.request_hash {
                Ok(AppendOutcome {
                    replayed: true,
                    ..earlier.outcome.clone()
                })
            } else {
                Err(StoreError::CommandIdReused {
                    id: command.id,
                    stream: earlier.stream.clone(),
                })
            };
        }
    }
    let head = heads.get(&request.stream).copied();
    let current = head.map_or(0, |h| h.version);
    if let ExpectedVersion::Exactly(expected) = request.expected {
        if expected != current {
            return Err(StoreError::Conflict {
                stream: request.stream.clone(),
                expected,
                current,
            });
        }
    }
    let metadata = canonical_metadata(&request.metadata);
    let first_position = plan.next_position;
    let mut previous = head.map_or(GENESIS, |h| h.hash);
    let mut version = current;
    for event in &request.events {
        version += 1;
        let payload = canonical_json(&event.payload);
        let hash = event_hash(
            &previous,
            &HashedFields {
                tenant,
                position: plan.next_position,
                stream: &request.stream,
                stream_version: version,
                event_type: &event.event_type,
                event_version: event.event_version,
                canonical_payload: &payload,
                canonical_metadata: &metadata,
                recorded_at,
            },
        );
        plan.rows.push(EventRow {
            position: plan.next_position,
            stream: request.stream.clone(),
            stream_version: version,
            event_type: event.event_type.clone(),
            event_version: event.event_version,
            payload,
            metadata: metadata.clone(),
            command_id: request.command.map(|c| c.id),
            hash,
        });
        previous = hash;
        plan.next_position += 1;
    }
    heads.insert(
        request.stream.clone(),
        StreamHead {
            version,
            hash: previous,
        },
    );
    let outcome = AppendOutcome {
        stream_version: version,
        first_position,
        last_position: plan.next_position - 1,
        recorded_at,
        replayed: false,
    };
    if let Some(command) = request.command {
        // Later requests of the same batch with this id see it as already recorded.
        known.insert(
            command.id,
            KnownCommand {
                request_hash: command.request_hash,
                stream: request.stream.clone(),
                outcome: outcome.clone(),
            },
        );
        plan.commands.push(CommandRow {
            id: command.id,
            request_hash: command.request_hash,
            stream: request.stream.clone(),
            outcome: outcome.clone(),
        });
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CommandKey, NewEvent};
    use serde_json::json;

    fn tenant() -> Uai {
        Uai::parse("0750655E").unwrap()
    }

    fn request(stream: &str, expected: i64, n: usize) -> AppendRequest {
        AppendRequest::new(
            StreamRef::new("attendance", stream),
            ExpectedVersion::Exactly(expected),
            (0..n)
                .map(|i| NewEvent::new("AbsenceRecorded", 1, json!({ "i": i })))
                .collect(),
        )
    }

    #[test]
    fn positions_follow_each_other_across_requests_and_versions_per_stream() {
        let reqs = [request("a", 0, 2), request("b", 0, 1), request("a", 2, 1)];
        let p = plan(
            &tenant(),
            10,
            HashMap::new(),
            HashMap::new(),
            &reqs,
            Utc::now(),
        );
        let positions: Vec<_> = p
            .rows
            .iter()
            .map(|r| (r.position, r.stream.stream_id.as_str(), r.stream_version))
            .collect();
        assert_eq!(
            positions,
            [(10, "a", 1), (11, "a", 2), (12, "b", 1), (13, "a", 3)]
        );
        assert_eq!(p.next_position, 14);
        // The third event of `a` chains to its second, not to `b`'s.
        assert_ne!(p.rows[3].hash, p.rows[2].hash);
        assert!(!p.has_refusals());
    }

    #[test]
    fn a_stale_request_is_refused_alone_and_takes_no_position() {
        let reqs = [request("a", 0, 1), request("a", 0, 1), request("b", 0, 1)];
        let p = plan(
            &tenant(),
            1,
            HashMap::new(),
            HashMap::new(),
            &reqs,
            Utc::now(),
        );
        assert!(matches!(
            p.outcomes[1],
            Err(StoreError::Conflict {
                expected: 0,
                current: 1,
                ..
            })
        ));
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.outcomes[2].as_ref().unwrap().first_position, 2);
    }

    #[test]
    fn the_same_command_twice_in_a_batch_appends_once() {
        let key = CommandKey {
            id: Uuid::new_v4(),
            request_hash: [7; 32],
        };
        let reqs = [
            request("a", 0, 1).with_command(key),
            request("a", 1, 1).with_command(key),
        ];
        let p = plan(
            &tenant(),
            1,
            HashMap::new(),
            HashMap::new(),
            &reqs,
            Utc::now(),
        );
        let first = p.outcomes[0].as_ref().unwrap();
        let second = p.outcomes[1].as_ref().unwrap();
        assert!(second.replayed);
        assert_eq!(
            (first.first_position, first.stream_version),
            (second.first_position, second.stream_version)
        );
        assert_eq!(p.rows.len(), 1);
        let other = CommandKey {
            request_hash: [8; 32],
            ..key
        };
        let p = plan(
            &tenant(),
            1,
            HashMap::new(),
            HashMap::new(),
            &[
                request("a", 0, 1).with_command(key),
                request("b", 0, 1).with_command(other),
            ],
            Utc::now(),
        );
        assert!(matches!(
            p.outcomes[1],
            Err(StoreError::CommandIdReused { .. })
        ));
    }
}
