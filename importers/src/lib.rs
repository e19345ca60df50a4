//! carnet-importers: see README.md. The importers arrive with their issue; the exports
//! (iCalendar timetables, CSV absences and grades) live in [`export`].
#![forbid(unsafe_code)]

pub mod export;
