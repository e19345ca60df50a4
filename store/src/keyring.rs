//! The keyring: the secrets that live outside the database, so that no copy of the
//! database (its files, its write-ahead log, a backup, a dump, an export) is enough to
//! read personal data.
//!
//! - **Key-encryption keys** (KEK) wrap every person key before it is written to
//!   `person_keys` (XChaCha20-Poly1305, the establishment, the owner and the KEK's id as
//!   associated data). The first one listed wraps new keys; the others still unwrap the
//!   rows they wrapped until `carnet keys rewrap` moves them to the first. Retiring a KEK
//!   once nothing uses it makes every older copy of the database's keys (backups, WAL
//!   archives, old row versions) useless, erased keys included: that is how an erasure
//!   reaches the copies the server cannot rewrite.
//! - **The fingerprint key** keys the request fingerprints of idempotent commands
//!   (HMAC-SHA256): without it, the `commands` table does not let anyone confirm a
//!   guess of what a request said (a justification reason from a short list, a name).
//!
//! Its text form, in a file of its owner's only or in the `CARNET_KEYS` environment
//! variable (lines, or entries separated by `;`):
//!
//! ```text
//! kek 20261207-0512 <base64 of 32 bytes>
//! kek 20260901-0800 <base64 of 32 bytes>
//! fingerprint <base64 of 32 bytes>
//! ```

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use carnet_domain::Uai;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::Value;
use sha2::Sha256;

use crate::error::StoreError;
use crate::hash::canonical_json;
use crate::model::StreamRef;

/// The file name of the keyring in a data directory.
pub const FILE_NAME: &str = "carnet.keys";

const NONCE: usize = 24;
/// A wrapped key: its nonce, then the 32 bytes encrypted with their 16-byte tag.
pub const WRAPPED_LEN: usize = NONCE + 32 + 16;

/// A person key as the database holds it: wrapped by the KEK `kek`.
#[derive(Clone, PartialEq, Eq)]
pub struct Wrapped {
    pub kek: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Wrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wrapped")
            .field("kek", &self.kek)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct Keyring {
    /// The first wraps new keys.
    keks: Vec<(String, [u8; 32])>,
    fingerprint: [u8; 32],
    /// Where it was read from, for messages (never the keys).
    origin: String,
}

impl std::fmt::Debug for Keyring {
    // Never prints a key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("origin", &self.origin)
            .field("keks", &self.kek_ids())
            .finish_non_exhaustive()
    }
}

fn config(reason: String) -> StoreError {
    StoreError::Config(reason)
}

impl Keyring {
    /// A new keyring: one KEK and a fingerprint key, from the system's random source.
    pub fn generate() -> Self {
        Keyring {
            keks: vec![(new_kek_id(), random_key())],
            fingerprint: random_key(),
            origin: "a new keyring".to_string(),
        }
    }

    /// Reads the text form; `origin` names it in errors (a path, `CARNET_KEYS`).
    pub fn parse(text: &str, origin: &str) -> Result<Self, StoreError> {
        let mut keks: Vec<(String, [u8; 32])> = Vec::new();
        let mut fingerprint = None;
        let entries = text.lines().flat_map(|line| line.split(';')).enumerate();
        for (index, entry) in entries {
            let entry = entry.trim();
            if entry.is_empty() || entry.starts_with('#') {
                continue;
            }
            let at = format!("{origin}, entry {}", index + 1);
            let words: Vec<&str> = entry.split_whitespace().collect();
            match words.as_slice() {
                ["kek", id, key] => {
                    if keks.iter().any(|(known, _)| known == id) {
                        return Err(config(format!("{at}: the KEK `{id}` is given twice")));
                    }
                    if !id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                    {
                        return Err(config(format!(
                            "{at}: a KEK id is letters, digits, `-`, `_` or `.`, not `{id}`"
                        )));
                    }
                    keks.push((id.to_string(), decode_key(key, &at)?));
                }
                ["fingerprint", key] => {
                    if fingerprint.is_some() {
                        return Err(config(format!("{at}: the fingerprint key is given twice")));
                    }
                    fingerprint = Some(decode_key(key, &at)?);
                }
                _ => {
                    return Err(config(format!(
                        "{at}: expected `kek <id> <base64 key>` or `fingerprint <base64 key>`"
                    )))
                }
            }
        }
        if keks.is_empty() {
            return Err(config(format!(
                "{origin}: no `kek` line: nothing can wrap keys"
            )));
        }
        let fingerprint =
            fingerprint.ok_or_else(|| config(format!("{origin}: no `fingerprint` line")))?;
        Ok(Keyring {
            keks,
            fingerprint,
            origin: origin.to_string(),
        })
    }

    /// The text form, with a header that says what it is.
    pub fn to_text(&self) -> String {
        let mut text = String::from(
            "# Carnet keyring: the keys that wrap the keys of personal data, and the key of\n\
             # request fingerprints. Keep it outside the database and its backups, readable\n\
             # by Carnet's account only. The first `kek` wraps new keys.\n",
        );
        for (id, key) in &self.keks {
            text.push_str(&format!("kek {id} {}\n", BASE64.encode(key)));
        }
        text.push_str(&format!(
            "fingerprint {}\n",
            BASE64.encode(self.fingerprint)
        ));
        text
    }

    /// Reads the keyring file at `path`.
    pub fn load(path: &Path) -> Result<Self, StoreError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| config(format!("reading the keyring {}: {e}", path.display())))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Reads the keyring file at `path`, or makes one there (mode 0600) if there is none.
    pub fn load_or_create(path: &Path) -> Result<Self, StoreError> {
        if path.exists() {
            crate::files::restrict(path).map_err(|e| {
                config(format!(
                    "narrowing the keyring {} to its owner: {e}",
                    path.display()
                ))
            })?;
            return Self::load(path);
        }
        let mut keyring = Self::generate();
        keyring.origin = path.display().to_string();
        keyring.save(path)?;
        tracing::info!(path = %path.display(), "a new keyring was made: keep it, and keep it out of the database's backups");
        Ok(keyring)
    }

    /// Writes the keyring to `path` (0600), replacing it whole: a crash leaves the old
    /// file or the new one, never half of one.
    pub fn save(&self, path: &Path) -> Result<(), StoreError> {
        let fail =
            |e: std::io::Error| config(format!("writing the keyring {}: {e}", path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::files::private_dir(dir).map_err(fail)?;
        }
        let mut temporary = PathBuf::from(path);
        temporary.set_extension("keys.new");
        crate::files::write_private(&temporary, self.to_text()).map_err(fail)?;
        std::fs::rename(&temporary, path).map_err(fail)
    }

    /// Where it was read from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The id of the KEK that wraps new keys.
    pub fn current(&self) -> &str {
        &self.keks[0].0
    }

    /// The ids of the KEKs, the current one first.
    pub fn kek_ids(&self) -> Vec<&str> {
        self.keks.iter().map(|(id, _)| id.as_str()).collect()
    }

    pub fn knows(&self, kek: &str) -> bool {
        self.keks.iter().any(|(id, _)| id == kek)
    }

    /// A new KEK put first: it wraps new keys from now on. Returns its id.
    pub fn add_kek(&mut self) -> String {
        let mut id = new_kek_id();
        while self.knows(&id) {
            id.push('b');
        }
        self.keks.insert(0, (id.clone(), random_key()));
        id
    }

    /// Removes the KEK `kek` (not the current one).
    pub fn remove_kek(&mut self, kek: &str) -> Result<(), StoreError> {
        if self.current() == kek {
            return Err(config(format!(
                "`{kek}` wraps new keys: add a new KEK (carnet keys rotate) before retiring it"
            )));
        }
        let before = self.keks.len();
        self.keks.retain(|(id, _)| id != kek);
        if self.keks.len() == before {
            return Err(config(format!("{}: no KEK `{kek}`", self.origin)));
        }
        Ok(())
    }

    /// `key`, the key of `owner` in `tenant`, wrapped by the current KEK.
    pub fn wrap(&self, tenant: &Uai, owner: &str, key: &[u8; 32]) -> Result<Wrapped, StoreError> {
        self.wrap_in(tenant.as_str(), owner, key)
    }

    /// The key of `owner` in `tenant` out of `wrapped`.
    pub fn unwrap_key(
        &self,
        tenant: &Uai,
        owner: &str,
        wrapped: &Wrapped,
    ) -> Result<[u8; 32], StoreError> {
        self.unwrap_in(tenant.as_str(), owner, wrapped)
    }

    fn wrap_in(&self, scope: &str, owner: &str, key: &[u8; 32]) -> Result<Wrapped, StoreError> {
        let (kek, secret) = &self.keks[0];
        let mut nonce = [0u8; NONCE];
        rand::rng().fill_bytes(&mut nonce);
        let aad = wrapping_data(scope, owner, kek);
        let sealed = XChaCha20Poly1305::new(secret.into())
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: key,
                    aad: &aad,
                },
            )
            .map_err(|_| config(format!("wrapping the key of {owner} failed")))?;
        let mut bytes = Vec::with_capacity(WRAPPED_LEN);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(Wrapped {
            kek: kek.clone(),
            bytes,
        })
    }

    fn unwrap_in(
        &self,
        scope: &str,
        owner: &str,
        wrapped: &Wrapped,
    ) -> Result<[u8; 32], StoreError> {
        let secret = self
            .keks
            .iter()
            .find(|(id, _)| *id == wrapped.kek)
            .map(|(_, secret)| secret)
            .ok_or_else(|| self.missing(&wrapped.kek))?;
        if wrapped.bytes.len() != WRAPPED_LEN {
            return Err(config(format!(
                "the wrapped key of {owner} has {} bytes, not {WRAPPED_LEN}",
                wrapped.bytes.len()
            )));
        }
        let (nonce, sealed) = wrapped.bytes.split_at(NONCE);
        let aad = wrapping_data(scope, owner, &wrapped.kek);
        let clear = XChaCha20Poly1305::new(secret.into())
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: &aad })
            .map_err(|_| {
                config(format!(
                    "the key of {owner} does not unwrap with the KEK `{}` of {}: it is not the KEK that wrapped it",
                    wrapped.kek, self.origin
                ))
            })?;
        <[u8; 32]>::try_from(clear.as_slice())
            .map_err(|_| config(format!("the key of {owner} is not 32 bytes")))
    }

    /// A proof that a KEK is the one a database's keys were wrapped with, for
    /// [`Keyring::check_probe`]: the wrapping of nothing under a fixed name.
    pub fn probe(&self) -> Result<Wrapped, StoreError> {
        self.wrap_in("", PROBE_OWNER, &[0u8; 32])
    }

    /// Whether `probe` was made by this keyring's KEK of the same id; an error naming
    /// what to give the process otherwise.
    pub fn check_probe(&self, probe: &Wrapped) -> Result<(), StoreError> {
        self.unwrap_in("", PROBE_OWNER, probe)
            .map(|_| ())
            .map_err(|_| {
                if self.knows(&probe.kek) {
                    config(format!(
                        "the KEK `{}` of {} is not the one this database's keys were wrapped with: give this process the deployment's keyring",
                        probe.kek, self.origin
                    ))
                } else {
                    self.missing(&probe.kek)
                }
            })
    }

    /// The keyed digest of arbitrary `bytes` for `purpose` (a fixed label, so digests of
    /// one purpose never match another's): what a table keeps of a secret it must
    /// recognise without being able to give it back (calendar links). Same key as
    /// [`Keyring::fingerprint`]: the database alone cannot compute it.
    pub fn keyed_digest(&self, purpose: &str, bytes: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.fingerprint)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"carnet-digest-v1");
        for part in [purpose.as_bytes(), bytes] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// The keyed fingerprint of a command sent to `stream`, which the idempotency records
    /// keep to tell a retry from another request under the same command id.
    pub fn fingerprint(&self, stream: &StreamRef, command: &Value) -> [u8; 32] {
        // HMAC accepts a key of any length: `new_from_slice` cannot fail here.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.fingerprint)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"carnet-command-v2");
        for part in [
            stream.stream_type.as_str(),
            stream.stream_id.as_str(),
            &canonical_json(command),
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    fn missing(&self, kek: &str) -> StoreError {
        config(format!(
            "keys of personal data here are wrapped by the KEK `{kek}`, which {} does not hold (it holds {}): give this process the deployment's keyring (CARNET_KEYS_FILE or CARNET_KEYS)",
            self.origin,
            self.kek_ids().join(", ")
        ))
    }
}

const PROBE_OWNER: &str = "carnet keyring probe";

/// What a wrapping is bound to: the establishment (empty for the probe, which no UAI
/// can be), the owner and the KEK's id.
fn wrapping_data(scope: &str, owner: &str, kek: &str) -> Vec<u8> {
    format!("carnet person key\0{scope}\0{owner}\0{kek}").into_bytes()
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    key
}

/// A KEK id that says when it was made (which helps decide when to retire it).
fn new_kek_id() -> String {
    chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string()
}

fn decode_key(text: &str, at: &str) -> Result<[u8; 32], StoreError> {
    let bytes = BASE64
        .decode(text)
        .map_err(|_| config(format!("{at}: the key is not base64")))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| config(format!("{at}: a key is 32 bytes, this one {}", bytes.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uai() -> Uai {
        Uai::from_number(750_001).expect("uai")
    }

    #[test]
    fn keys_wrap_and_unwrap_only_where_they_belong() {
        let keyring = Keyring::generate();
        let key = [7u8; 32];
        let wrapped = keyring.wrap(&uai(), "eleve1", &key).expect("wrap");
        assert_eq!(wrapped.bytes.len(), WRAPPED_LEN);
        assert!(!wrapped.bytes.windows(32).any(|w| w == key));
        assert_eq!(
            keyring
                .unwrap_key(&uai(), "eleve1", &wrapped)
                .expect("unwrap"),
            key
        );
        // Moved to another owner or establishment, it does not open.
        assert!(keyring.unwrap_key(&uai(), "eleve2", &wrapped).is_err());
        let other = Uai::from_number(750_002).expect("uai");
        assert!(keyring.unwrap_key(&other, "eleve1", &wrapped).is_err());
        // Another keyring does not open it, and says which KEK is missing.
        let error = Keyring::generate()
            .unwrap_key(&uai(), "eleve1", &wrapped)
            .expect_err("foreign");
        assert!(
            error.to_string().contains("does not hold")
                || error.to_string().contains("not the KEK")
        );
    }

    #[test]
    fn the_text_form_reads_back_and_bad_lines_are_named() {
        let mut keyring = Keyring::generate();
        let old = keyring.current().to_string();
        let new = keyring.add_kek();
        let text = keyring.to_text();
        let read = Keyring::parse(&text, "test").expect("parse");
        assert_eq!(read.kek_ids(), vec![new.as_str(), old.as_str()]);
        let joined = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join(";");
        assert_eq!(Keyring::parse(&joined, "env").expect("env").current(), new);
        let error = Keyring::parse("kek a AAAA\nfingerprint AAAA", "x").expect_err("short");
        assert!(error.to_string().contains("32 bytes"), "{error}");
        let only_fingerprint = format!("fingerprint {}", BASE64.encode([1u8; 32]));
        let error = Keyring::parse(&only_fingerprint, "x").expect_err("no kek");
        assert!(error.to_string().contains("no `kek`"), "{error}");
        assert!(keyring.remove_kek(&new).is_err(), "the current KEK stays");
        keyring.remove_kek(&old).expect("retire");
        assert_eq!(keyring.kek_ids(), vec![new.as_str()]);
    }

    #[test]
    fn fingerprints_are_keyed() {
        let stream = StreamRef {
            stream_type: "attendance".into(),
            stream_id: "2026-2027/e1".into(),
        };
        let command = serde_json::json!({"Justify": {"reason": "maladie"}});
        let a = Keyring::generate();
        assert_eq!(
            a.fingerprint(&stream, &command),
            a.fingerprint(&stream, &command)
        );
        assert_ne!(
            a.fingerprint(&stream, &command),
            Keyring::generate().fingerprint(&stream, &command)
        );
    }

    #[test]
    fn probes_tell_the_right_kek() {
        let keyring = Keyring::generate();
        let probe = keyring.probe().expect("probe");
        keyring.check_probe(&probe).expect("same keyring");
        let mut other = Keyring::generate();
        assert!(other.check_probe(&probe).is_err());
        // Same id, other bytes: refused too.
        other.keks[0].0 = probe.kek.clone();
        let error = other.check_probe(&probe).expect_err("other bytes");
        assert!(error.to_string().contains("not the one"), "{error}");
    }
}
