//! carnet-projections: see README.md. Nothing lives here yet; the issue that builds it fills it.
#![forbid(unsafe_code)]
