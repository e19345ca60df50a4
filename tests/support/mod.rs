//! What the end-to-end tests share; each test file uses part of it.
#![allow(dead_code)]

pub mod browser;
pub mod process;
pub mod server;
