//! carnet-importers: see README.md. Nothing lives here yet; the issue that builds it fills it.
#![forbid(unsafe_code)]

/// Exports: timetables as iCalendar, absences and grades as CSV.
pub mod export;
