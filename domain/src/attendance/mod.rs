//! Attendance (absences): what the roll call of each lesson said about a student,
//! corrections, justifications and the CPE's decision, half-day counting, and the legal
//! alert threshold.
//!
//! One [`StudentAttendance`] aggregate per student and school year: the half-day count and
//! the once-a-month alert depend on all of the student's lessons, so they are decided in
//! one place. A lesson's roll call sends one command per student concerned.

mod aggregate;
mod policy;

pub use aggregate::{
    AttendanceCommand, AttendanceError, AttendanceEvent, Justification, LessonEntry, Status,
    StudentAttendance, ALERT_THRESHOLD,
};
pub use policy::{AttendancePolicy, HalfDay, Part, Reason};
