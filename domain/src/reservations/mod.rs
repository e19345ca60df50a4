//! Reservations (réservation de salles et de matériel): rooms, single items and pools of
//! interchangeable items (a cart of 30 tablets) booked once or every week, with a
//! manager's approval where the resource requires it.
//!
//! One [`Resource`] aggregate per resource: every booking of it goes through its stream,
//! so "is there still enough free?" is always answered on the latest state. Two people
//! booking the last tablets at the same instant both load version N; the event store
//! accepts one append, and the other command is retried on the new state and refused.

mod aggregate;
mod capacity;
mod resource;

pub use aggregate::{ReservationCommand, ReservationError, ReservationEvent, Resource};
pub use resource::{
    ActiveOccurrence, Booking, BookingStatus, Conflict, Conflicts, Occurrence, ResourceKind, Span,
};
