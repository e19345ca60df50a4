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
mod inline;
pub mod notifications;
pub mod query;
pub mod reservations;
mod runtime;
mod scheduler;
mod state;
pub mod timetable;

pub use docs::Scope;
pub use error::ProjectionError;
pub use inline::Inline;
pub use runtime::{
    decode, rebuild, status, Batch, Projection, Projector, Rebuilt, Status, Step, DEFAULT_LEASE,
};
pub use scheduler::{
    BadShard, Scheduler, SchedulerOptions, SchedulerStats, Shard, DEFAULT_COALESCE,
};

use std::sync::Arc;

/// Every read model the API serves, in the order they are worked, and the
/// notifications projection, which turns what the log says is due into deliveries.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(enrolment::EnrolmentProjection),
        Arc::new(attendance::AttendanceProjection),
        Arc::new(timetable::TimetableProjection),
        Arc::new(grades::GradesProjection),
        Arc::new(reservations::ReservationsProjection),
        Arc::new(notifications::NotificationsProjection),
    ]
}

/// The read models kept in the append transaction unless configured otherwise: what the
/// API's authorization reads and what users write and expect to see at once. The
/// timetable, one large document per year, is cheaper to follow asynchronously.
pub const INLINE_BY_DEFAULT: &str = "enrolment,attendance,grades,reservations";

/// A name given for a projection that does not exist.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no projection `{name}`; there are: all, none, {known}")]
pub struct UnknownProjection {
    pub name: String,
    pub known: String,
}

/// The projections `names` designate (each may hold several, comma-separated), in the
/// order of [`all`]; `all` and `none` stand for what they say.
pub fn named<S: AsRef<str>>(names: &[S]) -> Result<Vec<Arc<dyn Projection>>, UnknownProjection> {
    let every = all();
    let mut wanted = std::collections::BTreeSet::new();
    for name in names
        .iter()
        .flat_map(|n| n.as_ref().split(','))
        .map(str::trim)
    {
        match name {
            "none" | "" => {}
            "all" => wanted.extend(every.iter().map(|p| p.name())),
            _ => match every.iter().find(|p| p.name() == name) {
                Some(p) => {
                    wanted.insert(p.name());
                }
                None => {
                    return Err(UnknownProjection {
                        name: name.to_string(),
                        known: every
                            .iter()
                            .map(|p| p.name())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                }
            },
        }
    }
    Ok(every
        .into_iter()
        .filter(|p| wanted.contains(p.name()))
        .collect())
}
