//! The hash chain: each event's SHA-256 covers its content and the hash of the previous
//! event of its stream, so altering, removing or reordering any stored event is visible.
//!
//! The hashed bytes are computed here, in Rust, from a canonical form of the event (JSON
//! objects with sorted keys, timestamps in microseconds), so both backends and the
//! verifier agree byte for byte whatever the database does to whitespace or key order.

use carnet_domain::Uai;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::{EventMetadata, Position, StreamRef};

/// The "previous hash" of the first event of a stream.
pub const GENESIS: [u8; 32] = [0; 32];

/// A domain separator, so that these hashes can never be confused with other SHA-256 uses.
const DOMAIN: &[u8] = b"carnet-event-v1";

/// The fields of an event that its hash covers.
#[derive(Debug, Clone, Copy)]
pub struct HashedFields<'a> {
    pub tenant: &'a Uai,
    pub position: Position,
    pub stream: &'a StreamRef,
    pub stream_version: i64,
    pub event_type: &'a str,
    pub event_version: i32,
    pub canonical_payload: &'a str,
    pub canonical_metadata: &'a str,
    pub recorded_at: DateTime<Utc>,
}

pub fn event_hash(previous: &[u8; 32], fields: &HashedFields<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(previous);
    // Every variable-length field is length-prefixed so that no two events share bytes.
    let mut text = |s: &str| {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    text(fields.tenant.as_str());
    text(&fields.stream.stream_type);
    text(&fields.stream.stream_id);
    text(fields.event_type);
    text(fields.canonical_payload);
    text(fields.canonical_metadata);
    h.update(fields.position.to_be_bytes());
    h.update(fields.stream_version.to_be_bytes());
    h.update(fields.event_version.to_be_bytes());
    h.update(fields.recorded_at.timestamp_micros().to_be_bytes());
    h.finalize().into()
}

/// JSON text with object keys sorted at every depth and no insignificant whitespace.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

pub fn canonical_metadata(metadata: &EventMetadata) -> String {
    // Serializing a struct of strings, uuids and a map cannot fail.
    let value = serde_json::to_value(metadata).unwrap_or(Value::Null);
    canonical_json(&value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let a = json!({"b": 1, "a": {"z": [1, {"y": 2, "x": 3}], "c": "é"}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":"é","z":[1,{"x":3,"y":2}]},"b":1}"#
        );
    }

    #[test]
    fn the_hash_covers_every_field() {
        let tenant = Uai::parse("0750655E").unwrap();
        let other_tenant = Uai::parse("0750654D").unwrap();
        let stream = StreamRef::new("attendance", "s-1");
        let other_stream = StreamRef::new("attendance", "s-2");
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let base = HashedFields {
            tenant: &tenant,
            position: 1,
            stream: &stream,
            stream_version: 1,
            event_type: "AbsenceRecorded",
            event_version: 1,
            canonical_payload: "{}",
            canonical_metadata: "{}",
            recorded_at: at,
        };
        let h = event_hash(&GENESIS, &base);
        let variants = [
            event_hash(&[1; 32], &base),
            event_hash(
                &GENESIS,
                &HashedFields {
                    tenant: &other_tenant,
                    ..base
                },
            ),
            event_hash(
                &GENESIS,
                &HashedFields {
                    position: 2,
                    ..base
                },
            ),
            event_hash(
                &GENESIS,
                &HashedFields {
                    stream: &other_stream,
                    ..base
                },
            ),
            event_hash(
                &GENESIS,
                &HashedFields {
                    stream_version: 2,
                    ..base
                },
            ),
            event_hash(
                &GENESIS,
                &HashedFields {
                    event_type: "LatenessRecorded",
                    ..base
                },
            ),
            event_hash(
                &GENESIS,
                &HashedFields {
                    event_version: 2,
                    ..base
                },
            ),
            event_hash(
                &GENESIS,
                &HashedFields {
                    canonical_payload: "{\"a\":1}",
                    ..base
                },
            ),
            event_hash(
                &GENESIS,
                &HashedFields {
                    canonical_metadata: "{\"a\":1}",
                    ..base
                },
            ),
            event_hash(
                &GENESIS,
                &HashedFields {
                    recorded_at: at + chrono::Duration::microseconds(1),
                    ..base
                },
            ),
        ];
        for (i, v) in variants.iter().enumerate() {
            assert_ne!(&h, v, "variant {i} hashes like the original");
        }
    }
}
