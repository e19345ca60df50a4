//! `carnet keys`: the keyring that wraps the keys of personal data, and its rotation.
//!
//! Rotation, from a keyring file: `carnet keys rotate` puts a new key-encryption key
//! (KEK) first in the file and rewraps every key under it; once every process runs with
//! the new file, `carnet keys retire <old id>` removes the old KEK. From then on, no copy
//! of the database made before (a backup, archived WAL, an old row version) holds a key
//! that anything can unwrap: erased keys included. From `CARNET_KEYS`, the same steps by
//! hand: `carnet keys new-kek` prints a line to put first in the variable, then
//! `carnet keys rewrap`, then `carnet keys retire`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use carnet_store::keyring::{self, Keyring};
use carnet_store::{keys, EventStore, Location, StoreOptions};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Where the keyring comes from, its KEKs (the current one first) and how many keys
    /// of personal data each one wraps in this database. Never prints a key.
    Status,
    /// Adds a new KEK first in the keyring file and rewraps every key under it.
    Rotate,
    /// Prints a new KEK line (`kek <id> <base64>`) to put first in CARNET_KEYS.
    NewKek,
    /// Rewraps under the current KEK every key still wrapped by an older one.
    Rewrap,
    /// Removes a KEK that no key is wrapped by any more (refused otherwise).
    Retire { kek: String },
}

/// Where this process's keyring comes from.
#[derive(Debug, Clone)]
pub enum KeyringSource {
    /// `CARNET_KEYS`: the keyring's text in the environment (a secret of the deployment).
    Environment(String),
    /// A file of Carnet's account only; made the first time if it does not exist.
    File(PathBuf),
}

impl KeyringSource {
    /// `CARNET_KEYS` when set, else `--keys-file`, else `carnet.keys` in the data
    /// directory.
    pub fn choose(file: Option<PathBuf>, data_dir: &std::path::Path) -> Self {
        match std::env::var("CARNET_KEYS") {
            Ok(text) if !text.trim().is_empty() => KeyringSource::Environment(text),
            _ => KeyringSource::File(file.unwrap_or_else(|| data_dir.join(keyring::FILE_NAME))),
        }
    }

    pub fn load(&self) -> anyhow::Result<Keyring> {
        Ok(match self {
            KeyringSource::Environment(text) => Keyring::parse(text, "CARNET_KEYS")?,
            KeyringSource::File(path) => Keyring::load_or_create(path)?,
        })
    }
}

pub async fn run(
    command: KeysCommand,
    store: &EventStore,
    location: &Location,
    source: &KeyringSource,
) -> anyhow::Result<()> {
    let vault = store.vault();
    match command {
        KeysCommand::Status => {
            let keyring = vault.keyring();
            println!("keyring: {}", keyring.origin());
            let usage = keys::usage(&store.backend().pool()).await?;
            let wrapping = |kek: &str| {
                usage
                    .iter()
                    .find(|(id, _)| id.as_deref() == Some(kek))
                    .map_or(0, |(_, n)| *n)
            };
            for (i, kek) in keyring.kek_ids().into_iter().enumerate() {
                let role = if i == 0 { "current" } else { "older" };
                println!("kek {kek}\t{role}\twraps {} keys", wrapping(kek));
            }
            for (kek, n) in &usage {
                match kek {
                    None => println!(
                        "{n} keys in clear (they are wrapped when Carnet opens the database)"
                    ),
                    Some(kek) if !keyring.knows(kek) => {
                        println!("kek {kek}\tnot in this keyring\twraps {n} keys")
                    }
                    Some(_) => {}
                }
            }
        }
        KeysCommand::Rotate => {
            let KeyringSource::File(path) = source else {
                anyhow::bail!(
                    "the keyring comes from CARNET_KEYS, which Carnet cannot change: put the line of \
                     `carnet keys new-kek` first in it, restart, then run `carnet keys rewrap`"
                );
            };
            let mut keyring = vault.keyring().clone();
            let kek = keyring.add_kek();
            keyring
                .save(path)
                .with_context(|| format!("saving the keyring {}", path.display()))?;
            println!("new KEK {kek} written first in {}", path.display());
            let rotated = EventStore::open(
                location,
                StoreOptions {
                    keyring: Some(Arc::new(keyring)),
                    ..Default::default()
                },
            )
            .await?;
            let moved = rotated.vault().rewrap().await?;
            println!(
                "{moved} keys rewrapped under {kek}; restart every Carnet process with this keyring, \
                 then retire the older KEKs (carnet keys retire <id>)"
            );
        }
        KeysCommand::NewKek => {
            let mut keyring = Keyring::generate();
            let kek = keyring.add_kek();
            let line = keyring
                .to_text()
                .lines()
                .find(|l| l.starts_with(&format!("kek {kek} ")))
                .map(str::to_string)
                .context("the new KEK line")?;
            println!("{line}");
        }
        KeysCommand::Rewrap => {
            let moved = vault.rewrap().await?;
            println!("{moved} keys rewrapped under {}", vault.keyring().current());
        }
        KeysCommand::Retire { kek } => {
            let mut keyring = vault.keyring().clone();
            // Checked first: the current KEK and unknown ids are refused before anything
            // is changed.
            keyring.remove_kek(&kek)?;
            keys::drop_probe(&store.backend().pool(), &kek).await?;
            match source {
                KeyringSource::File(path) => {
                    keyring.save(path)?;
                    println!("KEK {kek} retired: removed from {}", path.display());
                }
                KeyringSource::Environment(_) => {
                    println!("KEK {kek} retired here: now remove its line from CARNET_KEYS");
                }
            }
        }
    }
    Ok(())
}
