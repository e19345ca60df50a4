//! Nobody in two places at once: a teacher, a room, or students of a division.
//!
//! Checks are concrete: the lessons of a course are worked out day by day against the
//! calendar, so week A never meets week B, explicit week lists meet only on common weeks,
//! and two courses whose common validity holds no common school day never clash.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

use super::course::Group;
use super::error::TimetableError;
use super::occurrences::{describe, Course, Days, Slot};
use super::Timetable;
use crate::refusal::Words;

/// What two lessons would both need at the same time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shared {
    Teacher(String),
    Room(String),
    Division(String),
    /// One lesson has the whole division, the other a group drawn from it.
    DivisionAndGroup {
        division: String,
        group: String,
    },
    Group(String),
    /// Groups of different partitions drawn from the same division.
    Groups {
        division: String,
        first: String,
        second: String,
    },
}

impl Shared {
    /// What both lessons would need, in French.
    fn fr(&self) -> String {
        match self {
            Shared::Teacher(t) => format!("l'enseignant {t}"),
            Shared::Room(r) => format!("la salle {r}"),
            Shared::Division(d) => format!("la division {d}"),
            Shared::DivisionAndGroup { division, group } => {
                format!("la division {division} (dont est issu le groupe {group})")
            }
            Shared::Group(g) => format!("le groupe {g}"),
            Shared::Groups {
                division,
                first,
                second,
            } => format!(
                "des élèves de la division {division} (les groupes {first} et {second} \
                 appartiennent à des partitions différentes et peuvent donc avoir des élèves en commun)"
            ),
        }
    }
}

impl std::fmt::Display for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shared::Teacher(t) => write!(f, "teacher {t}"),
            Shared::Room(r) => write!(f, "room {r}"),
            Shared::Division(d) => write!(f, "division {d}"),
            Shared::DivisionAndGroup { division, group } => {
                write!(f, "division {division} (group {group} is drawn from it)")
            }
            Shared::Group(g) => write!(f, "group {g}"),
            Shared::Groups {
                division,
                first,
                second,
            } => write!(
                f,
                "students of division {division} (groups {first} and {second} belong to \
                 different partitions, so they may share students)"
            ),
        }
    }
}

/// What `a` and `b` would both need, if they overlap in time and neither is cancelled.
///
/// A cancelled lesson frees its teacher, room and students, as in Pronote where an
/// annulled course no longer occupies its room. A room takes one lesson at a time:
/// rooms that hold several classes at once (a gymnasium) are not modelled yet.
pub(crate) fn clash(
    a: &Slot<'_>,
    b: &Slot<'_>,
    groups: &BTreeMap<String, Group>,
) -> Option<Shared> {
    if !a.overlaps(b) || a.cancelled.is_some() || b.cancelled.is_some() {
        return None;
    }
    if let Some(t) = a.teachers.iter().find(|t| b.teachers.contains(t)) {
        return Some(Shared::Teacher(t.clone()));
    }
    if let (Some(r), Some(s)) = (a.room, b.room) {
        if r == s {
            return Some(Shared::Room(r.to_string()));
        }
    }
    audience_clash(&a.course.spec, &b.course.spec, groups)
}

fn audience_clash(
    a: &super::CourseSpec,
    b: &super::CourseSpec,
    groups: &BTreeMap<String, Group>,
) -> Option<Shared> {
    let drawn_from =
        |group: &str| -> &[String] { groups.get(group).map_or(&[], |g| g.divisions.as_slice()) };
    if let Some(d) = a.divisions.iter().find(|d| b.divisions.contains(d)) {
        return Some(Shared::Division(d.clone()));
    }
    for (divisions, other_groups) in [(&a.divisions, &b.groups), (&b.divisions, &a.groups)] {
        for group in other_groups {
            if let Some(d) = drawn_from(group).iter().find(|d| divisions.contains(d)) {
                return Some(Shared::DivisionAndGroup {
                    division: d.clone(),
                    group: group.clone(),
                });
            }
        }
    }
    for first in &a.groups {
        for second in &b.groups {
            if first == second {
                return Some(Shared::Group(first.clone()));
            }
            // Groups of one partition are disjoint by construction (Pronote's
            // "partitions"): G1 and G2 may have lessons at the same time.
            let same_partition = match (groups.get(first), groups.get(second)) {
                (Some(f), Some(s)) => f.partition == s.partition,
                // Courses name declared groups only; an unknown one meets only itself.
                _ => true,
            };
            if same_partition {
                continue;
            }
            if let Some(d) = drawn_from(first)
                .iter()
                .find(|d| drawn_from(second).contains(d))
            {
                return Some(Shared::Groups {
                    division: d.clone(),
                    first: first.clone(),
                    second: second.clone(),
                });
            }
        }
    }
    None
}

fn conflict(mine: &Slot<'_>, other: &Slot<'_>, shared: &Shared) -> TimetableError {
    TimetableError::Conflict {
        first: describe(mine),
        second: describe(other),
        shared: Box::new(Words::new(shared.fr(), shared.to_string())),
        day: mine.on,
    }
}

impl Timetable {
    /// Every lesson taking place on `date`.
    pub(crate) fn slots_on<'a>(&'a self, days: &Days<'_>, date: NaiveDate) -> Vec<Slot<'a>> {
        // A course held on another weekday has a lesson that day only if one was moved
        // there: skip the others before computing their lessons (an import of a
        // thousand courses checks each against every other, every week of the year).
        let weekday = date.weekday();
        self.courses
            .values()
            .filter(|course| {
                course.spec.weekday == weekday
                    || course.changes.values().any(|change| change.moved.is_some())
            })
            .flat_map(|course| course.slots(days, date, date))
            .collect()
    }

    /// Whether `candidate`, the new version of a course, fits with every other lesson.
    /// With `only`, only its lesson due that day changed (an exception); otherwise all of
    /// its lessons are new, and may also clash with each other (a lesson moved onto a
    /// day and time the course already holds).
    pub(crate) fn check_course(
        &self,
        days: &Days<'_>,
        candidate: &Course,
        only: Option<NaiveDate>,
    ) -> Result<(), TimetableError> {
        let id = &candidate.spec.id;
        let calendar = days.calendar;
        let mine: Vec<Slot<'_>> = match only {
            Some(due) => vec![candidate.slot(due)],
            None => candidate.slots(days, calendar.first_day, calendar.last_day),
        };
        for slot in mine.iter().filter(|s| s.cancelled.is_none()) {
            let replaced = |other: &Slot<'_>| {
                &other.course.spec.id == id && only.is_none_or(|due| other.due == due)
            };
            let others = self.slots_on(days, slot.on);
            let own = mine
                .iter()
                .filter(|o| only.is_none() && o.on == slot.on && o.due != slot.due);
            for other in others.iter().filter(|o| !replaced(o)).chain(own) {
                if let Some(shared) = clash(slot, other, &self.groups) {
                    return Err(conflict(slot, other, &shared));
                }
            }
        }
        Ok(())
    }

    /// Whether any two lessons from `from` on clash: after a change of the calendar
    /// that can shift weeks A and B under every course.
    pub(crate) fn check_all(&self, days: &Days<'_>, from: NaiveDate) -> Result<(), TimetableError> {
        for date in days.calendar.school_days(from, days.calendar.last_day) {
            let slots = self.slots_on(days, date);
            for (i, a) in slots.iter().enumerate() {
                for b in &slots[i + 1..] {
                    if let Some(shared) = clash(a, b, &self.groups) {
                        return Err(conflict(a, b, &shared));
                    }
                }
            }
        }
        Ok(())
    }
}
