//! Timetable (emploi du temps): recurring courses on a school calendar with weeks A and B,
//! groups drawn from divisions, exceptions on single lessons (cancelled, moved, another
//! teacher or room, extra lessons), and the dated lessons (occurrences) they give.
//!
//! One [`Timetable`] aggregate per establishment and school year: a teacher, a room or a
//! class must never be in two places at once, and that depends on every course of the
//! year, so it is decided in one place. Every command that sets when and where a lesson
//! takes place is refused if it would make two lessons clash, and the refusal names both.

mod aggregate;
mod conflicts;
mod course;
mod error;
mod occurrences;

pub use aggregate::{Timetable, TimetableCommand, TimetableEvent};
pub use course::{CourseSpec, ExtraLesson, Group, WeekPattern};
pub use error::TimetableError;
pub use occurrences::{Occurrence, OccurrenceKind};
