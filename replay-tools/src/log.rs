//! The log as JSON Lines: `carnet replay export` writes it, `carnet replay import` reads
//! it into an empty store of either backend. The format is versioned and described by
//! `replay-tools/log.schema.json`; every line is one JSON object with a `kind`:
//!
//! - `tenant`: opens an establishment's section (UAI, name, time zone, head, format
//!   version);
//! - `event`: one event exactly as recorded (position, stream, versions, type, payload,
//!   metadata, time to the microsecond, hash in hex);
//! - `key`: one key of personal data (after the events), only when asked for
//!   (`--with-keys`): owner, person, the key wrapped by a key-encryption key of the
//!   keyring (`kek`, `wrapped` in base64; format 1 had the key in clear, `key` in hex,
//!   which is still read), or null with when and why it was erased. Without its keys an
//!   export still verifies, and its personal values do not open; with them, they open
//!   only where the keyring that wrapped them is.
//! - `end`: closes the section with its counts of events and keys, so a truncated file
//!   is refused.
//!
//! The hashes are exported, not recomputed: importing checks the chain again before
//! writing anything, so a file altered on the way is refused with the line that breaks.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use carnet_domain::Uai;
use carnet_store::keyring::{Keyring, Wrapped};
use carnet_store::keys::{PersonKey, StoredKey};
use carnet_store::verify::Chain;
use carnet_store::{EventMetadata, EventStore, RecordedEvent, StoreError, StreamRef, TenantInfo};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of the format this code writes (it reads this one and the ones before).
/// 2: keys are exported wrapped, never in clear.
pub const FORMAT_VERSION: u32 = 2;

const PAGE: i64 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Write(#[source] std::io::Error),
    #[error("reading {0}: {1}")]
    Read(String, #[source] std::io::Error),
    #[error("line {line}: {reason}")]
    Bad { line: usize, reason: String },
    #[error("establishment {0} is already in this store: import into an empty one")]
    Exists(Uai),
}

fn bad(line: usize, reason: impl Into<String>) -> LogError {
    LogError::Bad {
        line,
        reason: reason.into(),
    }
}

// One line is read or written at a time: boxing the event would cost an allocation per
// line for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum Line {
    Tenant {
        format: u32,
        uai: String,
        name: String,
        time_zone: String,
        head: i64,
    },
    Event(EventLine),
    Key(KeyLine),
    End {
        uai: String,
        events: u64,
        #[serde(default)]
        keys: u64,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyLine {
    owner: String,
    person: String,
    /// Format 1 only: the key in clear, 64 hex digits; null once erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    /// The KEK that wrapped `wrapped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kek: Option<String>,
    /// Base64 of the wrapped key; null once erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wrapped: Option<String>,
    created_at: String,
    erased_at: Option<String>,
    grounds: Option<String>,
}

impl KeyLine {
    /// The line of `k`, a key of `tenant`, wrapped (a row still in clear is wrapped by
    /// the current KEK on its way out).
    fn of(k: &PersonKey, tenant: &Uai, keyring: &Keyring) -> Result<Self, LogError> {
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
        let wrapped = match &k.key {
            None => None,
            Some(StoredKey::Wrapped(w)) => Some(w.clone()),
            Some(StoredKey::Clear(key)) => Some(keyring.wrap(tenant, &k.owner, key)?),
        };
        Ok(KeyLine {
            owner: k.owner.clone(),
            person: k.person.clone(),
            key: None,
            kek: wrapped.as_ref().map(|w| w.kek.clone()),
            wrapped: wrapped.map(|w| BASE64.encode(w.bytes)),
            created_at: time(k.created_at),
            erased_at: k.erased_at.map(time),
            grounds: k.grounds.clone(),
        })
    }

    fn into_key(self, line: usize) -> Result<PersonKey, LogError> {
        let time = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| bad(line, format!("key of {}: time `{text}`: {e}", self.owner)))
        };
        let key = match (&self.key, &self.kek, &self.wrapped) {
            (Some(text), None, None) => {
                let mut key = [0u8; 32];
                hex::decode_to_slice(text, &mut key)
                    .map_err(|e| bad(line, format!("key of {}: {e}", self.owner)))?;
                Some(StoredKey::Clear(key))
            }
            (None, Some(kek), Some(text)) => {
                let bytes = BASE64.decode(text).map_err(|e| {
                    bad(
                        line,
                        format!("wrapped key of {}: not base64: {e}", self.owner),
                    )
                })?;
                Some(StoredKey::Wrapped(Wrapped {
                    kek: kek.clone(),
                    bytes,
                }))
            }
            (None, None, None) => None,
            _ => {
                return Err(bad(
                    line,
                    format!(
                        "key of {}: either `key` (format 1) or `kek` and `wrapped`",
                        self.owner
                    ),
                ))
            }
        };
        if key.is_none() == self.erased_at.is_none() {
            return Err(bad(
                line,
                format!("key of {}: a key is either there or erased", self.owner),
            ));
        }
        Ok(PersonKey {
            created_at: time(&self.created_at)?,
            erased_at: self.erased_at.as_deref().map(time).transpose()?,
            key,
            owner: self.owner,
            person: self.person,
            grounds: self.grounds,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventLine {
    position: i64,
    stream_type: String,
    stream_id: String,
    stream_version: i64,
    event_type: String,
    event_version: i32,
    payload: Value,
    metadata: EventMetadata,
    /// RFC 3339, UTC, six fractional digits: the hash covers the microsecond.
    recorded_at: String,
    /// SHA-256, 64 hex digits.
    hash: String,
}

impl EventLine {
    fn of(e: &RecordedEvent) -> Self {
        EventLine {
            position: e.position,
            stream_type: e.stream.stream_type.clone(),
            stream_id: e.stream.stream_id.clone(),
            stream_version: e.stream_version,
            event_type: e.event_type.clone(),
            event_version: e.event_version,
            payload: e.payload.clone(),
            metadata: e.metadata.clone(),
            recorded_at: e.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            hash: hex::encode(e.hash),
        }
    }

    fn into_event(self, tenant: &Uai, line: usize) -> Result<RecordedEvent, LogError> {
        let recorded_at = DateTime::parse_from_rfc3339(&self.recorded_at)
            .map_err(|e| bad(line, format!("recorded_at `{}`: {e}", self.recorded_at)))?
            .with_timezone(&Utc);
        let mut hash = [0u8; 32];
        hex::decode_to_slice(&self.hash, &mut hash)
            .map_err(|e| bad(line, format!("hash `{}`: {e}", self.hash)))?;
        Ok(RecordedEvent {
            tenant: tenant.clone(),
            position: self.position,
            stream: StreamRef::new(self.stream_type, self.stream_id),
            stream_version: self.stream_version,
            event_type: self.event_type,
            event_version: self.event_version,
            payload: self.payload,
            metadata: self.metadata,
            recorded_at,
            hash,
        })
    }
}

/// What an export or an import did, per establishment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub tenant: Uai,
    pub events: u64,
    pub keys: u64,
}

/// Writes the logs of `tenants` to `out`, one section each, page by page, with the keys
/// of their personal data if `with_keys`.
pub async fn export(
    store: &EventStore,
    tenants: &[TenantInfo],
    with_keys: bool,
    out: &mut impl Write,
) -> Result<Vec<Section>, LogError> {
    let mut sections = Vec::new();
    for t in tenants {
        write_line(
            out,
            &Line::Tenant {
                format: FORMAT_VERSION,
                uai: t.tenant.to_string(),
                name: t.name.clone(),
                time_zone: t.time_zone.clone(),
                head: t.head,
            },
        )?;
        let mut last = 0;
        let mut events = 0u64;
        // Up to the head read at the start: what is appended meanwhile is not part of
        // this export, whose `head` says where it stops.
        while last < t.head {
            let page = store
                .read_log(&t.tenant, last, PAGE.min(t.head - last))
                .await?;
            let Some(end) = page.last() else { break };
            last = end.position;
            for e in &page {
                write_line(out, &Line::Event(EventLine::of(e)))?;
            }
            events += page.len() as u64;
        }
        let mut keys = 0u64;
        if with_keys {
            let keyring = store.vault().keyring();
            for key in store.vault().keys(&t.tenant).await? {
                write_line(out, &Line::Key(KeyLine::of(&key, &t.tenant, keyring)?))?;
                keys += 1;
            }
        }
        write_line(
            out,
            &Line::End {
                uai: t.tenant.to_string(),
                events,
                keys,
            },
        )?;
        sections.push(Section {
            tenant: t.tenant.clone(),
            events,
            keys,
        });
    }
    out.flush().map_err(LogError::Write)?;
    Ok(sections)
}

fn write_line(out: &mut impl Write, line: &Line) -> Result<(), LogError> {
    serde_json::to_writer(&mut *out, line)
        .map_err(|e| LogError::Write(std::io::Error::other(e)))?;
    out.write_all(b"\n").map_err(LogError::Write)
}

/// One establishment's section, read and checked.
struct Open {
    info: TenantInfo,
    chain: Chain,
    events: Vec<RecordedEvent>,
    keys: Vec<PersonKey>,
    key_count: u64,
}

/// The sections of an export, one at a time, each checked whole (format, counts,
/// positions, versions, every hash) before it is yielded.
struct Sections<R> {
    lines: std::io::Lines<R>,
    n: usize,
    known: Vec<Uai>,
    /// Keep the events (to write them) or only check them.
    keep: bool,
}

impl<R: BufRead> Sections<R> {
    fn next_section(&mut self) -> Result<Option<Open>, LogError> {
        let mut open: Option<Open> = None;
        for text in self.lines.by_ref() {
            self.n += 1;
            let n = self.n;
            let text = text.map_err(|e| bad(n, format!("unreadable: {e}")))?;
            if text.trim().is_empty() {
                continue;
            }
            let line: Line = serde_json::from_str(&text).map_err(|e| bad(n, e.to_string()))?;
            match (line, open.as_mut()) {
                (
                    Line::Tenant {
                        format,
                        uai,
                        name,
                        time_zone,
                        head,
                    },
                    None,
                ) => {
                    if !(1..=FORMAT_VERSION).contains(&format) {
                        return Err(bad(
                            n,
                            format!(
                                "format version {format}; this Carnet reads versions 1 to {FORMAT_VERSION}"
                            ),
                        ));
                    }
                    let tenant = Uai::parse(&uai).map_err(|e| bad(n, format!("uai: {e}")))?;
                    if self.known.contains(&tenant) {
                        return Err(LogError::Exists(tenant));
                    }
                    open = Some(Open {
                        chain: Chain::new(&tenant),
                        info: TenantInfo {
                            tenant,
                            name,
                            time_zone,
                            head,
                        },
                        events: Vec::new(),
                        keys: Vec::new(),
                        key_count: 0,
                    });
                }
                (Line::Event(e), Some(o)) => {
                    let event = e.into_event(&o.info.tenant, n)?;
                    o.chain
                        .check(&event)
                        .map_err(|b| bad(n, format!("position {}: {}", b.position, b.what)))?;
                    if self.keep {
                        o.events.push(event);
                    }
                }
                (Line::Key(k), Some(o)) => {
                    let key = k.into_key(n)?;
                    o.key_count += 1;
                    if self.keep {
                        o.keys.push(key);
                    }
                }
                (Line::End { uai, events, keys }, Some(o)) => {
                    if uai != o.info.tenant.as_str()
                        || events != o.chain.events()
                        || keys != o.key_count
                    {
                        return Err(bad(
                            n,
                            format!(
                                "the section of {} ends as {uai} with {events} events and {keys} keys, but it holds {} and {}",
                                o.info.tenant,
                                o.chain.events(),
                                o.key_count
                            ),
                        ));
                    }
                    if let Some(b) = o.chain.end(o.info.head) {
                        return Err(bad(n, b.what));
                    }
                    self.known.push(o.info.tenant.clone());
                    return Ok(open);
                }
                (Line::Tenant { .. }, Some(o)) => {
                    return Err(bad(
                        n,
                        format!(
                            "a new establishment begins before the end of {}",
                            o.info.tenant
                        ),
                    ))
                }
                (_, None) => return Err(bad(n, "expected a `tenant` line opening a section")),
            }
        }
        match open {
            None => Ok(None),
            Some(o) => Err(bad(
                self.n,
                format!(
                    "the file ends inside the section of {} (after {} events): it is truncated",
                    o.info.tenant,
                    o.chain.events()
                ),
            )),
        }
    }
}

/// Reads the export at `path` into `store`, which must not have its establishments
/// yet. The whole file is checked first and nothing is written if any line is wrong;
/// then it is read again and each establishment written in one transaction.
pub async fn import(store: &EventStore, path: &Path) -> Result<Vec<Section>, LogError> {
    let known: Vec<Uai> = store
        .tenants()
        .await?
        .into_iter()
        .map(|t| t.tenant)
        .collect();
    let reader = || -> Result<Sections<BufReader<File>>, LogError> {
        let file = File::open(path).map_err(|e| LogError::Read(path.display().to_string(), e))?;
        Ok(Sections {
            lines: BufReader::new(file).lines(),
            n: 0,
            known: known.clone(),
            keep: false,
        })
    };
    let mut check = reader()?;
    let mut sections = Vec::new();
    while let Some(o) = check.next_section()? {
        sections.push(Section {
            tenant: o.info.tenant,
            events: o.chain.events(),
            keys: o.key_count,
        });
    }
    let mut write = reader()?;
    write.keep = true;
    while let Some(o) = write.next_section()? {
        // The keys first: the establishment is not in this store yet, so rows of it
        // could only be left over from an import that failed; they are replaced, and
        // removed again if the log cannot be written.
        let vault = store.vault();
        vault.forget(&o.info.tenant).await?;
        vault.restore(&o.info.tenant, &o.keys).await?;
        if let Err(e) = store.backend().restore(&o.info, &o.events).await {
            vault.forget(&o.info.tenant).await?;
            return Err(e.into());
        }
    }
    Ok(sections)
}
