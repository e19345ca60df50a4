//! What the end-to-end tests share; each test file uses part of it.
#![allow(dead_code)]

pub mod browser;
pub mod process;
pub mod server;

/// Store options for a test that shares its database with Carnet processes run with
/// `data_dir`: the keyring those processes use (`carnet.keys` there, made if need be).
pub fn keyed(data_dir: &std::path::Path) -> carnet_store::StoreOptions {
    let keyring = carnet_store::keyring::Keyring::load_or_create(
        &data_dir.join(carnet_store::keyring::FILE_NAME),
    )
    .expect("the test's keyring");
    carnet_store::StoreOptions {
        keyring: Some(std::sync::Arc::new(keyring)),
        ..Default::default()
    }
}
