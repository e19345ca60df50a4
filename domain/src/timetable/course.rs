//! What a course is: the values carried by the timetable's commands and events.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

use crate::calendar::{monday_of, WeekLabel};

/// The weeks in which a recurring course takes place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WeekPattern {
    Every,
    A,
    B,
    /// An explicit list of weeks, by their Monday (Pronote's "semaines personnalisées",
    /// e.g. a course held only in the weeks before the brevet blanc).
    Weeks(BTreeSet<NaiveDate>),
}

impl WeekPattern {
    /// Whether the week starting on `monday`, labelled `label` by the calendar, is one of
    /// this pattern's weeks.
    pub fn includes(&self, monday: NaiveDate, label: Option<WeekLabel>) -> bool {
        match self {
            WeekPattern::Every => true,
            WeekPattern::A => label == Some(WeekLabel::A),
            WeekPattern::B => label == Some(WeekLabel::B),
            WeekPattern::Weeks(mondays) => mondays.contains(&monday),
        }
    }
}

impl std::fmt::Display for WeekPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WeekPattern::Every => f.write_str("every week"),
            WeekPattern::A => f.write_str("week A only"),
            WeekPattern::B => f.write_str("week B only"),
            WeekPattern::Weeks(mondays) => write!(f, "{} chosen weeks", mondays.len()),
        }
    }
}

/// A recurring course (cours) of the timetable: one weekly slot, from `valid_from` to
/// `valid_to`, in the weeks of `weeks`. Times are local to the establishment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseSpec {
    pub id: String,
    pub weekday: Weekday,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub subject: String,
    /// May be empty: Pronote accepts a course without a teacher (a "Permanence" or
    /// "Étude" watched over by the vie scolaire, or a course whose teacher is not
    /// appointed yet). Such a course simply has no teacher to clash with.
    pub teachers: Vec<String>,
    /// Whole classes (divisions) attending.
    pub divisions: Vec<String>,
    /// Declared groups attending (half-classes, language groups, options).
    pub groups: Vec<String>,
    pub room: Option<String>,
    pub weeks: WeekPattern,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
}

/// A one-off lesson added to the timetable (cours exceptionnel): a catch-up lesson, a
/// test in a double period, a conseil de classe slot with the students.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraLesson {
    pub id: String,
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub subject: String,
    pub teachers: Vec<String>,
    pub divisions: Vec<String>,
    pub groups: Vec<String>,
    pub room: Option<String>,
}

impl ExtraLesson {
    /// The extra lesson as a course held once, so that exceptions, occurrences and
    /// conflicts treat both the same way.
    pub(crate) fn as_course(&self) -> CourseSpec {
        CourseSpec {
            id: self.id.clone(),
            weekday: self.date.weekday(),
            start: self.start,
            end: self.end,
            subject: self.subject.clone(),
            teachers: self.teachers.clone(),
            divisions: self.divisions.clone(),
            groups: self.groups.clone(),
            room: self.room.clone(),
            weeks: WeekPattern::Weeks(BTreeSet::from([monday_of(self.date)])),
            valid_from: self.date,
            valid_to: self.date,
        }
    }
}

/// A group of students drawn from one or more divisions.
///
/// Pronote's rule: the groups of one partition of a division share no student (the
/// halves G1 and G2 of "demi-groupes" may have lessons at the same time), while groups
/// of different partitions (a half and a language group) may share students.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub divisions: Vec<String>,
    pub partition: String,
}

/// The English name of a weekday, for messages ("Monday", not chrono's "Mon").
pub(crate) fn weekday_name(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// "Monday 2026-09-07": the weekday helps a reader check a date at a glance.
pub(crate) fn day_name(date: NaiveDate) -> String {
    format!("{} {date}", weekday_name(date.weekday()))
}

/// The dates from `from` to `to` (both included) falling on `weekday`.
pub(crate) fn weekdays_between(
    weekday: Weekday,
    from: NaiveDate,
    to: NaiveDate,
) -> impl Iterator<Item = NaiveDate> {
    let ahead = (7 + weekday.num_days_from_monday() - from.weekday().num_days_from_monday()) % 7;
    let first = from + Duration::days(i64::from(ahead));
    first.iter_weeks().take_while(move |d| *d <= to)
}
