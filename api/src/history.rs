//! The history of an entity: each change with who made it, when, through what, the value
//! before and after, and the command id.
//!
//! The stream of the entity's aggregate is folded event by event, and the entity's value
//! (a mark, a roll-call entry, a booking, a placement) is read before and after each
//! event: an event that leaves it as it was is not one of its changes. So the values
//! are exactly what the API showed at each moment, by the same types.

use async_graphql::{Json, SimpleObject};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use carnet_store::RecordedEvent;

use crate::error::ApiResult;
use crate::reader::{decode, Reader};

#[derive(Debug, Clone, SimpleObject)]
pub struct Change {
    /// When Carnet recorded it.
    pub at: DateTime<Utc>,
    /// Who: the person, and the role they acted in.
    pub person: Option<String>,
    pub role: Option<String>,
    /// Through what: api, import, replay, demo, ...
    pub via: String,
    /// The command that made it (the one a client retried, if it did).
    pub command_id: Option<Uuid>,
    /// The event recorded.
    pub event: String,
    /// Where it is in the establishment's log, and in its stream.
    pub position: i64,
    pub version: i64,
    pub before: Option<Json<Value>>,
    pub after: Option<Json<Value>>,
}

/// The changes `events` made to what `value` reads of the aggregate `A`, personal values
/// in clear (or marked erased).
pub async fn changes<A, V>(
    reader: &Reader,
    events: &[RecordedEvent],
    value: impl Fn(&A) -> Option<V>,
) -> ApiResult<Vec<Change>>
where
    A: Aggregate + Default,
    A::Event: DeserializeOwned,
    V: Serialize + PartialEq,
{
    let mut state = A::default();
    let mut out = Vec::new();
    for event in events {
        let before = value(&state);
        state.apply(decode(event)?);
        let after = value(&state);
        if before != after {
            out.push(Change {
                at: event.recorded_at,
                person: event.metadata.actor.clone(),
                role: event.metadata.role.clone(),
                via: event.metadata.source.as_str().to_string(),
                command_id: event.metadata.command_id,
                event: event.event_type.clone(),
                position: event.position,
                version: event.stream_version,
                before: before.map(json),
                after: after.map(json),
            });
        }
    }
    let vault = reader.store.vault();
    for change in &mut out {
        for value in [&mut change.before, &mut change.after]
            .into_iter()
            .flatten()
        {
            vault.reveal(&reader.tenant, &mut value.0).await?;
        }
    }
    Ok(out)
}

fn json<V: Serialize>(v: V) -> Json<Value> {
    Json(serde_json::to_value(v).unwrap_or(Value::Null))
}
