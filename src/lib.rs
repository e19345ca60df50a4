//! The `carnet` package's library: what the binary wires together and the end-to-end
//! tests reach directly.
#![forbid(unsafe_code)]

pub mod demo;
pub mod notify;
