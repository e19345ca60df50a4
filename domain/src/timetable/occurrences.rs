//! From courses to dated lessons: which days a course takes place, its exceptions, and
//! the lessons (occurrences) that registers, roll calls and personal timetables show.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::course::{day_name, weekday_name, weekdays_between, CourseSpec, WeekPattern};
use super::Timetable;
use crate::calendar::{monday_of, SchoolCalendar, WeekLabel};
use crate::refusal::{date_fr, day_fr, time_fr, weekday_fr, Words};

/// How an occurrence came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OccurrenceKind {
    /// On its course's day and time.
    Regular,
    /// Moved to another day or time; `from_date` is the day it was due.
    Moved { from_date: NaiveDate },
    /// A one-off lesson.
    Extra,
}

/// One lesson on one day, exceptions applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    /// The lesson id the roll call uses: `"{course}@{date}"` with the day the lesson was
    /// due (it keeps its id when moved, so a roll call stays attached to it), or the
    /// extra lesson's id.
    pub id: String,
    /// The course id, or the extra lesson's id.
    pub course: String,
    /// The day the lesson takes place.
    pub date: NaiveDate,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub start_utc: DateTime<Utc>,
    pub end_utc: DateTime<Utc>,
    pub subject: String,
    pub teachers: Vec<String>,
    pub divisions: Vec<String>,
    pub groups: Vec<String>,
    pub room: Option<String>,
    pub week: Option<WeekLabel>,
    pub kind: OccurrenceKind,
    /// Why the lesson is cancelled. Cancelled lessons are kept: registers and personal
    /// timetables show them crossed out, as Pronote and the ENTs do.
    pub cancelled: Option<String>,
}

/// A course (or extra lesson) as the timetable holds it, with its exceptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Course {
    pub spec: CourseSpec,
    pub extra: bool,
    /// Exceptions, by the day the changed lesson was due.
    pub changes: BTreeMap<NaiveDate, Change>,
}

/// What the exceptions changed in one lesson.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Change {
    pub cancelled: Option<String>,
    pub moved: Option<Moved>,
    pub teachers: Option<Vec<String>>,
    pub room: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Moved {
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// The calendar with each week's label worked out once: `SchoolCalendar::week_label`
/// recounts the weeks from the rentrée at every call.
#[derive(Debug)]
pub(crate) struct Days<'a> {
    pub calendar: &'a SchoolCalendar,
    labels: BTreeMap<NaiveDate, WeekLabel>,
}

impl<'a> Days<'a> {
    pub fn new(calendar: &'a SchoolCalendar) -> Self {
        let labels = monday_of(calendar.first_day)
            .iter_weeks()
            .take_while(|monday| *monday <= calendar.last_day)
            .filter_map(|monday| calendar.week_label(monday).map(|label| (monday, label)))
            .collect();
        Days { calendar, labels }
    }

    pub fn label(&self, date: NaiveDate) -> Option<WeekLabel> {
        self.labels.get(&monday_of(date)).copied()
    }

    /// Why there are no lessons on `date`, or `None` on a school day.
    pub fn closed_because(&self, date: NaiveDate) -> Option<Words> {
        let calendar = self.calendar;
        if date < calendar.first_day || date > calendar.last_day {
            Some(Words::new(
                format!(
                    "ce jour est hors de l'année scolaire (du {} au {})",
                    date_fr(&calendar.first_day),
                    date_fr(&calendar.last_day)
                ),
                format!(
                    "it is outside the school year ({} to {})",
                    calendar.first_day, calendar.last_day
                ),
            ))
        } else if let Some(closure) = calendar.closure_on(date) {
            Some(Words::new(
                format!("ce jour tombe pendant « {} »", closure.name),
                format!("it falls in {}", closure.name),
            ))
        } else if !calendar.weekdays.contains(&date.weekday()) {
            Some(Words::new(
                format!(
                    "le {} n'est pas un jour de cours",
                    weekday_fr(date.weekday())
                ),
                format!("{} is not a day of lessons", weekday_name(date.weekday())),
            ))
        } else {
            None
        }
    }
}

/// One lesson of a course on one day, borrowed from the timetable: conflicts are checked
/// on these without copying names around.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot<'a> {
    pub course: &'a Course,
    /// The day the lesson was due: its identity.
    pub due: NaiveDate,
    /// The day it takes place.
    pub on: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub teachers: &'a [String],
    pub room: Option<&'a str>,
    pub cancelled: Option<&'a str>,
    pub moved: bool,
}

impl Slot<'_> {
    pub fn id(&self) -> String {
        lesson_id(self.course, self.due)
    }

    pub fn overlaps(&self, other: &Slot<'_>) -> bool {
        self.on == other.on && self.start < other.end && other.start < self.end
    }
}

pub(crate) fn lesson_id(course: &Course, due: NaiveDate) -> String {
    if course.extra {
        course.spec.id.clone()
    } else {
        format!("{}@{due}", course.spec.id)
    }
}

impl Course {
    /// Whether the course has a lesson due on `date` (cancelled or not).
    pub fn holds(&self, date: NaiveDate, days: &Days<'_>) -> bool {
        let spec = &self.spec;
        spec.valid_from <= date
            && date <= spec.valid_to
            && date.weekday() == spec.weekday
            && days.calendar.is_school_day(date)
            && spec.weeks.includes(monday_of(date), days.label(date))
    }

    /// Why the course has no lesson due on `date`, or `None` if it has one.
    pub fn absent_on(&self, date: NaiveDate, days: &Days<'_>) -> Option<Words> {
        let spec = &self.spec;
        if date < spec.valid_from {
            Some(Words::new(
                format!("il commence le {}", date_fr(&spec.valid_from)),
                format!("it starts on {}", spec.valid_from),
            ))
        } else if date > spec.valid_to {
            Some(Words::new(
                format!("il s'est terminé le {}", date_fr(&spec.valid_to)),
                format!("it ended on {}", spec.valid_to),
            ))
        } else if date.weekday() != spec.weekday {
            Some(Words::new(
                format!("il a lieu le {}", weekday_fr(spec.weekday)),
                format!("it takes place on {}s", weekday_name(spec.weekday)),
            ))
        } else if let Some(why) = days.closed_because(date) {
            Some(why)
        } else if !spec.weeks.includes(monday_of(date), days.label(date)) {
            let monday = monday_of(date);
            Some(match (&spec.weeks, days.label(date)) {
                (WeekPattern::A | WeekPattern::B, Some(label)) => Words::new(
                    format!(
                        "il a lieu {} et la semaine du {} est en {}",
                        weeks_fr(&spec.weeks),
                        date_fr(&monday),
                        label_fr(label)
                    ),
                    format!(
                        "it takes place in {} and the week of {monday} is {label}",
                        spec.weeks
                    ),
                ),
                _ => Words::new(
                    format!(
                        "la semaine du {} ne fait pas partie de ses semaines",
                        date_fr(&monday)
                    ),
                    format!("the week of {monday} is not one of its weeks"),
                ),
            })
        } else {
            None
        }
    }

    /// The lesson due on `due`, exceptions applied. The caller knows it is due.
    pub fn slot(&self, due: NaiveDate) -> Slot<'_> {
        let spec = &self.spec;
        let change = self.changes.get(&due);
        let moved = change.and_then(|c| c.moved);
        Slot {
            course: self,
            due,
            on: moved.map_or(due, |m| m.date),
            start: moved.map_or(spec.start, |m| m.start),
            end: moved.map_or(spec.end, |m| m.end),
            teachers: change
                .and_then(|c| c.teachers.as_deref())
                .unwrap_or(&spec.teachers),
            room: change
                .and_then(|c| c.room.as_deref())
                .or(spec.room.as_deref()),
            cancelled: change.and_then(|c| c.cancelled.as_deref()),
            moved: moved.is_some(),
        }
    }

    /// The lessons taking place from `from` to `to`, both included: those due then and
    /// not moved away, and those moved in from other days. A lesson moved onto a day
    /// that has since been closed does not take place.
    pub fn slots(&self, days: &Days<'_>, from: NaiveDate, to: NaiveDate) -> Vec<Slot<'_>> {
        let spec = &self.spec;
        let mut due: BTreeSet<NaiveDate> = weekdays_between(
            spec.weekday,
            from.max(spec.valid_from),
            to.min(spec.valid_to),
        )
        .filter(|date| self.holds(*date, days))
        .collect();
        due.extend(
            self.changes
                .iter()
                .filter(|(date, change)| {
                    change.moved.is_some_and(|m| from <= m.date && m.date <= to)
                        && self.holds(**date, days)
                })
                .map(|(date, _)| *date),
        );
        due.into_iter()
            .map(|date| self.slot(date))
            .filter(|s| from <= s.on && s.on <= to && days.calendar.is_school_day(s.on))
            .collect()
    }
}

/// The instant a local time of the establishment stands for. At the autumn change an
/// hour happens twice: take the first, as a lesson at 02:30 would begin at its first
/// passing. In the spring an hour does not exist: move forward by the gap (02:30 becomes
/// 03:30), as calendar applications (RFC 5545, Temporal's "compatible") do.
pub(crate) fn to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, second) => first.min(second).with_timezone(&Utc),
        LocalResult::None => {
            // The offset in force before the gap, read a day earlier: time zones do not
            // change their offset twice within a day.
            let before = tz
                .offset_from_utc_datetime(&(local - Duration::days(1)))
                .fix();
            (local - before).and_utc()
        }
    }
}

impl Timetable {
    /// The lessons from `from` to `to` (both included), exceptions applied, sorted by
    /// start. Cancelled lessons are included with their reason.
    pub fn occurrences(&self, from: NaiveDate, to: NaiveDate) -> Vec<Occurrence> {
        self.filtered(from, to, |_| true, |_| true)
    }

    /// The lesson `id` (`course@due-date`, or an extra lesson's id), wherever and
    /// whenever it was moved in the year.
    pub fn occurrence_by_id(&self, id: &str) -> Option<Occurrence> {
        let calendar = self.calendar()?;
        let course = id.split_once('@').map_or(id, |(course, _)| course);
        self.filtered(
            calendar.first_day,
            calendar.last_day,
            |c| c.id == course,
            |s| s.id() == id,
        )
        .into_iter()
        .next()
    }

    /// A teacher's lessons.
    pub fn for_teacher(&self, from: NaiveDate, to: NaiveDate, teacher: &str) -> Vec<Occurrence> {
        self.filtered(
            from,
            to,
            |_| true,
            |s| s.teachers.iter().any(|t| t == teacher),
        )
    }

    /// The lessons held in a room.
    pub fn for_room(&self, from: NaiveDate, to: NaiveDate, room: &str) -> Vec<Occurrence> {
        self.filtered(from, to, |_| true, |s| s.room == Some(room))
    }

    /// A division's timetable: its whole-class lessons and the lessons of every group
    /// drawn from it (what the class's register and its professeur principal see).
    pub fn for_division(&self, from: NaiveDate, to: NaiveDate, division: &str) -> Vec<Occurrence> {
        self.filtered(
            from,
            to,
            |c| {
                c.divisions.iter().any(|d| d == division)
                    || c.groups.iter().any(|g| self.drawn_from(g, division))
            },
            |_| true,
        )
    }

    /// The lessons of one group only.
    pub fn for_group(&self, from: NaiveDate, to: NaiveDate, group: &str) -> Vec<Occurrence> {
        self.filtered(from, to, |c| c.groups.iter().any(|g| g == group), |_| true)
    }

    /// A student's timetable: the lessons of their division and of their groups.
    pub fn for_student(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        division: &str,
        groups: &[String],
    ) -> Vec<Occurrence> {
        self.filtered(
            from,
            to,
            |c| {
                c.divisions.iter().any(|d| d == division)
                    || c.groups.iter().any(|g| groups.contains(g))
            },
            |_| true,
        )
    }

    /// The lessons of the courses `course` keeps whose slots `slot` keeps. Audiences
    /// are the course's, teachers and rooms may change per lesson: each is filtered
    /// where it is known, before any lesson is built (a student's week reads a handful
    /// of the establishment's hundreds of courses).
    fn filtered(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        course: impl Fn(&CourseSpec) -> bool,
        slot: impl Fn(&Slot<'_>) -> bool,
    ) -> Vec<Occurrence> {
        let Some(calendar) = self.calendar() else {
            return Vec::new();
        };
        let days = Days::new(calendar);
        let mut found: Vec<Occurrence> = self
            .courses
            .values()
            .filter(|c| course(&c.spec))
            .flat_map(|c| c.slots(&days, from, to))
            .filter(|s| slot(s))
            .map(|s| self.occurrence(&s, &days))
            .collect();
        found.sort_by(|a, b| (a.start_utc, &a.id).cmp(&(b.start_utc, &b.id)));
        found
    }

    fn drawn_from(&self, group: &str, division: &str) -> bool {
        self.groups
            .get(group)
            .is_some_and(|g| g.divisions.iter().any(|d| d == division))
    }

    fn occurrence(&self, slot: &Slot<'_>, days: &Days<'_>) -> Occurrence {
        let spec = &slot.course.spec;
        let start = slot.on.and_time(slot.start);
        let end = slot.on.and_time(slot.end);
        Occurrence {
            id: slot.id(),
            course: spec.id.clone(),
            date: slot.on,
            start,
            end,
            start_utc: to_utc(self.time_zone(), start),
            end_utc: to_utc(self.time_zone(), end),
            subject: spec.subject.clone(),
            teachers: slot.teachers.to_vec(),
            divisions: spec.divisions.clone(),
            groups: spec.groups.clone(),
            room: slot.room.map(str::to_string),
            week: days.label(slot.on),
            kind: if slot.course.extra {
                OccurrenceKind::Extra
            } else if slot.moved {
                OccurrenceKind::Moved {
                    from_date: slot.due,
                }
            } else {
                OccurrenceKind::Regular
            },
            cancelled: slot.cancelled.map(str::to_string),
        }
    }
}

/// "Maths 4A (course c12, 08:00–09:00)": a lesson as the timetable's author knows it.
pub(crate) fn describe(slot: &Slot<'_>) -> Words {
    let spec = &slot.course.spec;
    let audience: Vec<&str> = spec
        .divisions
        .iter()
        .chain(&spec.groups)
        .map(String::as_str)
        .collect();
    let (fr, en) = if slot.course.extra {
        (
            format!("cours supplémentaire {}", spec.id),
            format!("extra lesson {}", spec.id),
        )
    } else if slot.moved {
        (
            format!("cours {} déplacé du {}", spec.id, day_fr(&slot.due)),
            format!("course {} moved from {}", spec.id, day_name(slot.due)),
        )
    } else {
        (format!("cours {}", spec.id), format!("course {}", spec.id))
    };
    let audience = audience.join(", ");
    Words::new(
        format!(
            "{} {audience} ({fr}, {}–{})",
            spec.subject,
            time_fr(&slot.start),
            time_fr(&slot.end)
        ),
        format!(
            "{} {audience} ({en}, {}–{})",
            spec.subject,
            slot.start.format("%H:%M"),
            slot.end.format("%H:%M")
        ),
    )
}

/// "une semaine sur deux, en semaine A"...
pub(crate) fn weeks_fr(weeks: &WeekPattern) -> String {
    match weeks {
        WeekPattern::Every => "toutes les semaines".to_string(),
        WeekPattern::A => "en semaine A seulement".to_string(),
        WeekPattern::B => "en semaine B seulement".to_string(),
        WeekPattern::Weeks(mondays) => format!("{} semaines choisies", mondays.len()),
    }
}

pub(crate) fn label_fr(label: WeekLabel) -> &'static str {
    match label {
        WeekLabel::A => "semaine A",
        WeekLabel::B => "semaine B",
    }
}
