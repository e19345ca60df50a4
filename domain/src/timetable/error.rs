//! Why the timetable refuses a command, in words the timetable's author understands.

use chrono::{NaiveDate, NaiveTime};

use crate::calendar::CalendarError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimetableError {
    #[error("the timetable is not open yet: open it for a school year first")]
    NotOpen,
    #[error("the timetable of {0} is already open")]
    AlreadyOpen(String),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error("{0} must not be empty")]
    Missing(&'static str),
    #[error("{0} is not a Monday; a week is named by its Monday")]
    NotAMonday(NaiveDate),
    #[error("the week of {0} has no school day")]
    WeekWithoutLessons(NaiveDate),
    #[error("the week of {monday} is outside the school year ({first} to {last})")]
    WeekOutsideYear {
        monday: NaiveDate,
        first: NaiveDate,
        last: NaiveDate,
    },
    #[error("group {0} is already declared")]
    GroupExists(String),
    #[error("group {0} is not declared; declare it with the divisions it is drawn from first")]
    UnknownGroup(String),
    #[error("the id {0} must not contain \"@\": lesson ids are written course@date")]
    IdWithAt(String),
    #[error("a course or extra lesson {0} already exists")]
    CourseExists(String),
    #[error("there is no course or extra lesson {0}")]
    UnknownCourse(String),
    #[error("{0} is an extra lesson: change its occurrence instead (cancel, move, replace the teacher, change the room)")]
    IsExtraLesson(String),
    #[error("course {0} already has this definition")]
    Unchanged(String),
    #[error("a lesson must end after it starts ({start} to {end})")]
    Times { start: NaiveTime, end: NaiveTime },
    #[error("{0} needs at least one division or group")]
    NoAudience(String),
    #[error("course {id} cannot run from {from} to {to}: its first day is after its last")]
    ValidityReversed {
        id: String,
        from: NaiveDate,
        to: NaiveDate,
    },
    #[error("course {id} ({from} to {to}) must run within the school year ({first} to {last})")]
    OutsideYear {
        id: String,
        from: NaiveDate,
        to: NaiveDate,
        first: NaiveDate,
        last: NaiveDate,
    },
    #[error("course {0} lists no week: list at least one, or choose every week, week A or week B")]
    NoWeeks(String),
    #[error("course {0} would never take place: none of its days is a school day in its weeks")]
    NeverTakesPlace(String),
    #[error("course {id} runs from {from} to {to}: its last day must be on or after {from} and before {to}, not {last_day}")]
    EndOutsideValidity {
        id: String,
        last_day: NaiveDate,
        from: NaiveDate,
        to: NaiveDate,
    },
    #[error("{course} has no lesson on {day}: {why}")]
    NoLesson {
        course: String,
        day: String,
        why: String,
    },
    #[error("the lesson {lesson} is cancelled ({reason})")]
    Cancelled { lesson: String, reason: String },
    #[error("there are no lessons on {day}: {why}")]
    NotASchoolDay { day: String, why: String },
    #[error("a replacement needs at least one teacher; if nobody replaces, cancel the lesson")]
    NoReplacement,
    #[error("{first} and {second} would both have {shared} on {day}")]
    Conflict {
        first: String,
        second: String,
        shared: String,
        day: String,
    },
    #[error("{change} would change which weeks are A and B, and then {conflict}")]
    WeeksShifted { change: String, conflict: String },
}
