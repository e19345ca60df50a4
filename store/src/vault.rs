//! Crypto-shredding: personal values are sealed with their owner's key on their way into
//! the log, and opened with it on their way out to a reader. Destroying the key erases
//! them everywhere at once (the log, its exports, snapshots, read models all hold only
//! the sealed form) while the log's hash chain is left untouched.
//!
//! A value to seal is a `{"$personal": {"owner", "value"}}` object anywhere in a payload
//! ([`carnet_domain::personal::Personal::Known`]); it becomes `{"$sealed": {"owner",
//! "nonce", "data"}}`: XChaCha20-Poly1305 (random 24-byte nonce) of the value's JSON,
//! with the establishment and the owner as associated data.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use carnet_domain::personal::{person_of, Personal, Sealed, KNOWN_TAG, SEALED_TAG};
use carnet_domain::Uai;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::backend::Pool;
use crate::error::StoreError;
use crate::keyring::Keyring;
use crate::keys::{self, Erase, PersonKey, StoredKey};

/// How long a key read from the table is trusted before it is read again: the bound on
/// how long another process's erasure takes to be seen here. An erasure made through
/// this vault is seen at once.
const KEY_TTL: Duration = Duration::from_secs(5);

/// The JSON an erased value reads as in exports and as-of documents.
pub const ERASED_TAG: &str = "$erased";

#[derive(Clone, Copy)]
enum Cached {
    Live([u8; 32], Instant),
    Erased,
}

/// The keys of personal data of one database, with a cache.
pub struct Vault {
    pool: Pool,
    keyring: Arc<Keyring>,
    cache: Mutex<HashMap<(Uai, String), Cached>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

/// A key's state for a reader.
#[derive(Clone, Copy)]
enum Opening {
    Key([u8; 32]),
    Erased,
    /// No row at all: the log came without its keys.
    Missing,
}

impl Vault {
    pub fn new(pool: Pool, keyring: Arc<Keyring>) -> Self {
        Vault {
            pool,
            keyring,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The keyring that wraps this database's keys.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// Checks, when the store opens, that the keyring is the deployment's: every KEK
    /// that wrapped keys here is in it and is the same key (a process given another
    /// keyring would write keys the others cannot unwrap). Records the probe of the
    /// current KEK, and wraps the keys of rows written before keys were wrapped.
    pub async fn take_keyring(&self) -> Result<(), StoreError> {
        let probes = keys::probes(&self.pool).await?;
        for probe in &probes {
            self.keyring.check_probe(probe)?;
        }
        if !probes.iter().any(|p| p.kek == self.keyring.current()) {
            keys::add_probe(&self.pool, &self.keyring.probe()?).await?;
            // Two processes may have added a probe at once: the one kept must be ours.
            for probe in keys::probes(&self.pool).await? {
                self.keyring.check_probe(&probe)?;
            }
        }
        let wrapped = self.rewrap_keys(false).await?;
        if wrapped > 0 {
            tracing::info!(
                keys = wrapped,
                "keys of personal data written in clear before are now wrapped"
            );
        }
        Ok(())
    }

    /// Wraps by the current KEK every live key wrapped by an older one (and any left in
    /// clear); returns how many. What `carnet keys rewrap` runs after a rotation.
    pub async fn rewrap(&self) -> Result<u64, StoreError> {
        self.rewrap_keys(true).await
    }

    async fn rewrap_keys(&self, older_keks: bool) -> Result<u64, StoreError> {
        const BATCH: i64 = 1_000;
        let current = older_keks.then(|| self.keyring.current().to_string());
        let mut done = 0u64;
        loop {
            let rows = keys::not_wrapped_by(&self.pool, current.as_deref(), BATCH).await?;
            if rows.is_empty() {
                return Ok(done);
            }
            let mut moved = 0;
            for (tenant, row) in &rows {
                let Some(stored) = &row.key else { continue };
                let key = self.unwrap(tenant, &row.owner, stored)?;
                let new = self.keyring.wrap(tenant, &row.owner, &key)?;
                if keys::replace(&self.pool, tenant, &row.owner, stored, &new).await? {
                    moved += 1;
                }
            }
            done += moved;
            if moved == 0 {
                // Every row of the batch changed under us (erased, rewrapped elsewhere):
                // the next read sees the new state.
                tokio::task::yield_now().await;
            }
        }
    }

    fn unwrap(
        &self,
        tenant: &Uai,
        owner: &str,
        stored: &StoredKey,
    ) -> Result<[u8; 32], StoreError> {
        match stored {
            StoredKey::Clear(key) => Ok(*key),
            StoredKey::Wrapped(wrapped) => self.keyring.unwrap_key(tenant, owner, wrapped),
        }
    }

    /// Seals every personal value in `payloads`, making the keys owners do not have yet.
    /// Refused for an owner whose data was erased: nothing personal is written about
    /// them again.
    pub async fn seal(&self, tenant: &Uai, payloads: &mut [&mut Value]) -> Result<(), StoreError> {
        let mut owners = BTreeSet::new();
        for payload in payloads.iter() {
            visit(payload, &mut |node| {
                if let Some(owner) = known_owner(node) {
                    owners.insert(owner.to_string());
                }
            });
        }
        if owners.is_empty() {
            return Ok(());
        }
        let keys = self.keys_for_writing(tenant, &owners).await?;
        for payload in payloads.iter_mut() {
            let mut failure = None;
            visit_mut(payload, &mut |node| {
                let Some(owner) = known_owner(node).map(str::to_string) else {
                    return false;
                };
                let value = take_known_value(node);
                match keys.get(&owner) {
                    Some(key) => match encrypt(key, tenant, &owner, &value) {
                        Ok(sealed) => *node = json!({ SEALED_TAG: sealed }),
                        Err(e) => failure = Some(e),
                    },
                    None => failure = Some(StoreError::Config(format!("no key made for {owner}"))),
                }
                true
            });
            if let Some(e) = failure {
                return Err(e);
            }
        }
        Ok(())
    }

    /// `value` in clear if its owner's key still exists; `None` once erased.
    pub async fn open<T: DeserializeOwned + Clone>(
        &self,
        tenant: &Uai,
        value: &Personal<T>,
    ) -> Result<Option<T>, StoreError> {
        let sealed = match value {
            Personal::Known { value, .. } => return Ok(Some(value.clone())),
            Personal::Sealed(sealed) => sealed,
        };
        match self.opening(tenant, &sealed.owner).await? {
            Opening::Key(key) => {
                let clear = decrypt(&key, tenant, sealed)?;
                serde_json::from_value(clear).map(Some).map_err(|e| {
                    StoreError::Config(format!(
                        "a personal value of {} is not of the expected kind: {e}",
                        sealed.owner
                    ))
                })
            }
            Opening::Erased => Ok(None),
            Opening::Missing => {
                tracing::warn!(owner = %sealed.owner, %tenant, "no key for a personal value: it reads as erased");
                Ok(None)
            }
        }
    }

    /// Replaces every personal value in `value` by its clear value, or by
    /// `{"$erased": owner}` once erased: what an auditor's document shows.
    pub async fn reveal(&self, tenant: &Uai, value: &mut Value) -> Result<(), StoreError> {
        let mut owners = BTreeSet::new();
        visit(value, &mut |node| {
            if let Some(owner) = sealed_of(node).map(|s| s.owner) {
                owners.insert(owner);
            }
        });
        let keys = self.openings(tenant, owners).await?;
        let mut failure = None;
        visit_mut(value, &mut |node| {
            if known_owner(node).is_some() {
                *node = take_known_value(node);
                return true;
            }
            let Some(sealed) = sealed_of(node) else {
                return false;
            };
            *node = match keys.get(&sealed.owner) {
                Some(Opening::Key(key)) => match decrypt(key, tenant, &sealed) {
                    Ok(clear) => clear,
                    Err(e) => {
                        failure = Some(e);
                        Value::Null
                    }
                },
                _ => json!({ ERASED_TAG: sealed.owner }),
            };
            true
        });
        failure.map_or(Ok(()), Err)
    }

    /// Destroys the keys `what` names; returns the owners erased now.
    pub async fn erase(
        &self,
        tenant: &Uai,
        what: &Erase,
        grounds: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let erased = keys::erase(&self.pool, tenant, what, grounds, at).await?;
        {
            let mut cache = self.lock();
            for owner in &erased {
                cache.insert((tenant.clone(), owner.clone()), Cached::Erased);
            }
            if let Erase::Person(person) = what {
                cache.retain(|(t, owner), _| t != tenant || person_of(owner) != person);
            }
        }
        if !erased.is_empty() {
            // The erasure holds already (the row says so); what the database's files
            // still hold of the old row goes now. A failure here is logged, not
            // returned: the next erasure or `carnet keys purge` finishes it.
            if let Err(error) = keys::purge(&self.pool).await {
                tracing::error!(%error, "the old versions of erased keys could not be purged yet");
            }
        }
        Ok(erased)
    }

    /// Whether `person` has, or had, personal data here.
    pub async fn knows_person(&self, tenant: &Uai, person: &str) -> Result<bool, StoreError> {
        Ok(!keys::load(&self.pool, tenant, &[person.to_string()])
            .await?
            .is_empty())
    }

    /// Every key row of the establishment.
    pub async fn keys(&self, tenant: &Uai) -> Result<Vec<PersonKey>, StoreError> {
        keys::all(&self.pool, tenant).await
    }

    /// Writes key rows as another store had them (`replay import`); existing owners are
    /// left as they are. Keys in clear (exports from before keys were wrapped) are wrapped
    /// first; wrapped ones must unwrap with this keyring, or nothing is written.
    pub async fn restore(&self, tenant: &Uai, rows: &[PersonKey]) -> Result<(), StoreError> {
        let mut wrapped = Vec::with_capacity(rows.len());
        for row in rows {
            let mut row = row.clone();
            row.key = match &row.key {
                // Kept as it came, once it is known to unwrap here.
                Some(StoredKey::Wrapped(wrapped)) => {
                    self.keyring.unwrap_key(tenant, &row.owner, wrapped)?;
                    Some(StoredKey::Wrapped(wrapped.clone()))
                }
                Some(StoredKey::Clear(key)) => Some(StoredKey::Wrapped(
                    self.keyring.wrap(tenant, &row.owner, key)?,
                )),
                None => None,
            };
            wrapped.push(row);
        }
        keys::insert(&self.pool, tenant, &wrapped).await
    }

    /// Empties what the database's files keep of erased keys now (see [`keys::purge`]).
    pub async fn purge(&self) -> Result<(), StoreError> {
        keys::purge(&self.pool).await
    }

    /// Removes every key row of an establishment that is not in this store (what a
    /// failed import left); refused for one that is.
    pub async fn forget(&self, tenant: &Uai) -> Result<(), StoreError> {
        keys::forget(&self.pool, tenant).await?;
        self.lock().retain(|(t, _), _| t != tenant);
        Ok(())
    }

    async fn opening(&self, tenant: &Uai, owner: &str) -> Result<Opening, StoreError> {
        let owners = BTreeSet::from([owner.to_string()]);
        let mut openings = self.openings(tenant, owners).await?;
        Ok(openings.remove(owner).unwrap_or(Opening::Missing))
    }

    /// The state of the keys of `owners`: from the cache, the others in one query.
    async fn openings(
        &self,
        tenant: &Uai,
        owners: BTreeSet<String>,
    ) -> Result<HashMap<String, Opening>, StoreError> {
        let mut found = HashMap::new();
        let mut unknown = Vec::new();
        {
            let cache = self.lock();
            for owner in owners {
                match cache.get(&(tenant.clone(), owner.clone())) {
                    Some(Cached::Erased) => {
                        found.insert(owner, Opening::Erased);
                    }
                    Some(Cached::Live(key, at)) if at.elapsed() < KEY_TTL => {
                        found.insert(owner, Opening::Key(*key));
                    }
                    _ => unknown.push(owner),
                }
            }
        }
        if unknown.is_empty() {
            return Ok(found);
        }
        let rows = self.rows(tenant, &unknown).await?;
        for owner in unknown {
            let opening = match rows.get(&owner) {
                Some(PersonKey {
                    key: Some(stored), ..
                }) => {
                    let key = self.unwrap(tenant, &owner, stored)?;
                    self.remember(tenant, &owner, Cached::Live(key, Instant::now()));
                    Opening::Key(key)
                }
                Some(_) => {
                    self.remember(tenant, &owner, Cached::Erased);
                    Opening::Erased
                }
                None => Opening::Missing,
            };
            found.insert(owner, opening);
        }
        Ok(found)
    }

    /// The keys of `owners`, made for those that have none; an error naming the first
    /// owner (or person) that was erased.
    async fn keys_for_writing(
        &self,
        tenant: &Uai,
        owners: &BTreeSet<String>,
    ) -> Result<HashMap<String, [u8; 32]>, StoreError> {
        let mut found = HashMap::new();
        let mut unknown = Vec::new();
        {
            let cache = self.lock();
            for owner in owners {
                match cache.get(&(tenant.clone(), owner.clone())) {
                    // Writing trusts a cached key however old: a key is never replaced,
                    // and sealing with one erased meanwhile only makes unreadable data.
                    Some(Cached::Live(key, _)) => {
                        found.insert(owner.clone(), *key);
                    }
                    Some(Cached::Erased) => return Err(erased(owner)),
                    None => unknown.push(owner.clone()),
                }
            }
        }
        if unknown.is_empty() {
            return Ok(found);
        }
        // The persons' own rows say whether they were erased as a whole.
        let mut asked: BTreeSet<String> = unknown.iter().cloned().collect();
        asked.extend(unknown.iter().map(|o| person_of(o).to_string()));
        let asked: Vec<String> = asked.into_iter().collect();
        let mut rows = self.rows(tenant, &asked).await?;
        for owner in &unknown {
            let erased_row = |id: &str| rows.get(id).is_some_and(|row| row.erased_at.is_some());
            if erased_row(owner) || erased_row(person_of(owner)) {
                self.remember(tenant, owner, Cached::Erased);
                return Err(erased(owner));
            }
        }
        let missing: Vec<PersonKey> = unknown
            .iter()
            .filter(|o| !rows.contains_key(*o))
            .map(|owner| self.new_key(tenant, owner))
            .collect::<Result<_, _>>()?;
        if !missing.is_empty() {
            keys::insert(&self.pool, tenant, &missing).await?;
            // Another writer may have made some of them first: read back the winners.
            let made: Vec<String> = missing.iter().map(|k| k.owner.clone()).collect();
            rows.extend(self.rows(tenant, &made).await?);
        }
        for owner in &unknown {
            match rows.get(owner) {
                Some(PersonKey {
                    key: Some(stored), ..
                }) => {
                    let key = self.unwrap(tenant, owner, stored)?;
                    self.remember(tenant, owner, Cached::Live(key, Instant::now()));
                    found.insert(owner.clone(), key);
                }
                Some(_) => {
                    self.remember(tenant, owner, Cached::Erased);
                    return Err(erased(owner));
                }
                None => {
                    return Err(StoreError::Config(format!(
                        "the key of {owner} was not kept"
                    )))
                }
            }
        }
        Ok(found)
    }

    async fn rows(
        &self,
        tenant: &Uai,
        owners: &[String],
    ) -> Result<HashMap<String, PersonKey>, StoreError> {
        Ok(keys::load(&self.pool, tenant, owners)
            .await?
            .into_iter()
            .map(|row| (row.owner.clone(), row))
            .collect())
    }

    /// A new random key for `owner`, wrapped for its row.
    fn new_key(&self, tenant: &Uai, owner: &str) -> Result<PersonKey, StoreError> {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Ok(PersonKey {
            owner: owner.to_string(),
            person: person_of(owner).to_string(),
            key: Some(StoredKey::Wrapped(self.keyring.wrap(tenant, owner, &key)?)),
            created_at: crate::model::now_micros(),
            erased_at: None,
            grounds: None,
        })
    }

    fn remember(&self, tenant: &Uai, owner: &str, state: Cached) {
        self.lock()
            .insert((tenant.clone(), owner.to_string()), state);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Uai, String), Cached>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn erased(owner: &str) -> StoreError {
    StoreError::InvalidInput {
        field: "personal data",
        reason: format!(
            "the personal data of {} was erased: nothing personal is recorded about them again",
            person_of(owner)
        ),
    }
}

fn associated_data(tenant: &Uai, owner: &str) -> Vec<u8> {
    format!("carnet personal data\0{tenant}\0{owner}").into_bytes()
}

fn encrypt(key: &[u8; 32], tenant: &Uai, owner: &str, value: &Value) -> Result<Sealed, StoreError> {
    let clear = serde_json::to_vec(value).map_err(|e| StoreError::InvalidInput {
        field: "personal data",
        reason: e.to_string(),
    })?;
    let mut nonce = [0u8; 24];
    rand::rng().fill_bytes(&mut nonce);
    let aad = associated_data(tenant, owner);
    let data = XChaCha20Poly1305::new(key.into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &clear,
                aad: &aad,
            },
        )
        .map_err(|_| {
            StoreError::Config(format!("encrypting a personal value of {owner} failed"))
        })?;
    Ok(Sealed {
        owner: owner.to_string(),
        nonce: BASE64.encode(nonce),
        data: BASE64.encode(data),
    })
}

fn decrypt(key: &[u8; 32], tenant: &Uai, sealed: &Sealed) -> Result<Value, StoreError> {
    let damaged = |what: &str| {
        StoreError::Config(format!(
            "a personal value of {} does not open: {what}",
            sealed.owner
        ))
    };
    let nonce = BASE64
        .decode(&sealed.nonce)
        .map_err(|_| damaged("its nonce is not base64"))?;
    if nonce.len() != 24 {
        return Err(damaged("its nonce is not 24 bytes"));
    }
    let data = BASE64
        .decode(&sealed.data)
        .map_err(|_| damaged("its data is not base64"))?;
    let aad = associated_data(tenant, &sealed.owner);
    let clear = XChaCha20Poly1305::new(key.into())
        .decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &data,
                aad: &aad,
            },
        )
        .map_err(|_| damaged("the key does not authenticate it"))?;
    serde_json::from_slice(&clear).map_err(|_| damaged("its content is not JSON"))
}

/// Whether `payload` holds a personal value in clear, which the store seals before
/// writing it.
pub fn holds_clear_personal_data(payload: &Value) -> bool {
    let mut found = false;
    visit(payload, &mut |node| found |= known_owner(node).is_some());
    found
}

/// The clear value of a `{"$personal": ...}` node, taken out of it.
fn take_known_value(node: &mut Value) -> Value {
    node.get_mut(KNOWN_TAG)
        .and_then(|k| k.get_mut("value"))
        .map(Value::take)
        .unwrap_or(Value::Null)
}

/// The owner of a `{"$personal": ...}` node.
fn known_owner(node: &Value) -> Option<&str> {
    let object = node.as_object().filter(|o| o.len() == 1)?;
    object.get(KNOWN_TAG)?.get("owner")?.as_str()
}

/// The sealed value of a `{"$sealed": ...}` node.
fn sealed_of(node: &Value) -> Option<Sealed> {
    let object = node.as_object().filter(|o| o.len() == 1)?;
    serde_json::from_value(object.get(SEALED_TAG)?.clone()).ok()
}

fn visit(value: &Value, f: &mut impl FnMut(&Value)) {
    f(value);
    match value {
        Value::Array(items) => items.iter().for_each(|v| visit(v, f)),
        Value::Object(map) => map.values().for_each(|v| visit(v, f)),
        _ => {}
    }
}

/// Calls `f` on every node, top down; a node `f` replaced (returned true) is not
/// descended into.
fn visit_mut(value: &mut Value, f: &mut impl FnMut(&mut Value) -> bool) {
    if f(value) {
        return;
    }
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| visit_mut(v, f)),
        Value::Object(map) => map.values_mut().for_each(|v| visit_mut(v, f)),
        _ => {}
    }
}
