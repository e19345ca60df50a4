//! Carnet's projections: a crash-safe projector runtime and the read models the API
//! reads. Read models are JSON documents by key, built only from the log: each is the
//! exact fold of the events, and can be rebuilt at any time.
#![forbid(unsafe_code)]

pub mod attendance;
pub mod checkpoint;
mod docs;
pub mod enrolment;
mod error;
pub mod grades;
pub mod query;
pub mod reservations;
mod runtime;
mod state;
pub mod timetable;

pub use docs::Scope;
pub use error::ProjectionError;
pub use runtime::{decode, rebuild, status, Batch, Projection, Projector, Rebuilt, Status, Step};

use std::sync::Arc;

/// Every read model the API serves, in the order they are worked.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(enrolment::EnrolmentProjection),
        Arc::new(attendance::AttendanceProjection),
        Arc::new(timetable::TimetableProjection),
        Arc::new(grades::GradesProjection),
        Arc::new(reservations::ReservationsProjection),
    ]
}
