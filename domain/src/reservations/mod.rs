//! Reservations: filled in by the reservations work.
