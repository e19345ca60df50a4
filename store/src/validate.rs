//! Checks of an append request made before it reaches the database, so that bad input is
//! refused with an error naming the field and the rule, and nothing is written.

use crate::error::StoreError;
use crate::model::{AppendRequest, StreamRef};

/// Limits on what one append may carry.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest payload of one event, in bytes of canonical JSON.
    pub max_payload_bytes: usize,
    /// Most events in one append request.
    pub max_events_per_request: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // 64 KiB is far above any school fact (a long comment is a few KiB) and keeps a
        // runaway client from bloating the log that every replay must read.
        Limits {
            max_payload_bytes: 64 * 1024,
            max_events_per_request: 10_000,
        }
    }
}

pub fn check_request(request: &AppendRequest, limits: &Limits) -> Result<(), StoreError> {
    check_stream(&request.stream)?;
    if request.events.is_empty() {
        return Err(StoreError::EmptyBatch);
    }
    if request.events.len() > limits.max_events_per_request {
        return Err(StoreError::InvalidInput {
            field: "events",
            reason: format!(
                "{} events in one append, over the limit of {}",
                request.events.len(),
                limits.max_events_per_request
            ),
        });
    }
    for (index, event) in request.events.iter().enumerate() {
        check_name("event type", &event.event_type)?;
        if event.event_version < 1 {
            return Err(StoreError::InvalidInput {
                field: "event version",
                reason: format!(
                    "event #{index} has version {}; versions start at 1",
                    event.event_version
                ),
            });
        }
        let malformed = |reason: String| StoreError::MalformedPayload {
            index,
            event_type: event.event_type.clone(),
            reason,
        };
        if !event.payload.is_object() {
            return Err(malformed(format!(
                "a payload is a JSON object, this one is {}",
                json_kind(&event.payload)
            )));
        }
        if contains_nul(&event.payload) {
            // PostgreSQL's jsonb cannot hold U+0000; refusing it on both backends keeps
            // them identical.
            return Err(malformed("it contains the character U+0000".into()));
        }
        let size = crate::hash::canonical_json(&event.payload).len();
        if size > limits.max_payload_bytes {
            return Err(StoreError::PayloadTooLarge {
                index,
                event_type: event.event_type.clone(),
                size,
                limit: limits.max_payload_bytes,
            });
        }
    }
    Ok(())
}

pub fn check_stream(stream: &StreamRef) -> Result<(), StoreError> {
    check_name("stream type", &stream.stream_type)?;
    let id = &stream.stream_id;
    if id.is_empty() || id.len() > 255 || id.chars().any(char::is_control) {
        return Err(StoreError::InvalidInput {
            field: "stream id",
            reason: format!("`{id}` must have 1 to 255 bytes and no control character"),
        });
    }
    Ok(())
}

/// Event and stream types are identifiers: a letter, then letters, digits, `_`, `-`, `.`.
fn check_name(field: &'static str, name: &str) -> Result<(), StoreError> {
    let mut chars = name.chars();
    let valid = name.len() <= 100
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if valid {
        Ok(())
    } else {
        Err(StoreError::InvalidInput {
            field,
            reason: format!("`{name}` must start with a letter and hold only letters, digits, `_`, `-` or `.` (100 at most)"),
        })
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn contains_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(contains_nul),
        serde_json::Value::Object(map) => {
            map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v))
        }
        _ => false,
    }
}
