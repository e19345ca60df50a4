//! Carnet's pure school model. Nothing here does I/O or reads a clock: time and ids come
//! in through commands, so every rule can be tested given / when / then.
#![forbid(unsafe_code)]

pub mod attendance;
pub mod calendar;
pub mod contact;
pub mod enrolment;
pub mod grades;
pub mod personal;
pub mod refusal;
pub mod reportcards;
pub mod reservations;
pub mod timetable;
pub mod uai;
pub mod upcast;

pub use uai::{Uai, UaiError};
