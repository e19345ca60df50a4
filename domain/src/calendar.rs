//! The school calendar: the days of a school year on which lessons take place, and which
//! week is week A or week B.
//!
//! Shared by the timetable (occurrences never fall on a closed day) and reservations
//! (recurring bookings skip holidays). It is a value: the timetable aggregate records it
//! through events, and the other contexts receive a copy in their commands.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::refusal::{date_fr, Lang, Refusal};

/// Holidays (vacances scolaires) or a closed day (pont, exam day), first and last day
/// included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closure {
    pub name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The label of an alternating week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WeekLabel {
    A,
    B,
}

impl std::fmt::Display for WeekLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WeekLabel::A => "week A",
            WeekLabel::B => "week B",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("l'année scolaire doit se terminer après avoir commencé (du {} au {})", date_fr(.first), date_fr(.last))]
    YearReversed { first: NaiveDate, last: NaiveDate },
    #[error("une année scolaire dure au plus un an et demi ; du {} au {}, c'est plus long", date_fr(.first), date_fr(.last))]
    YearTooLong { first: NaiveDate, last: NaiveDate },
    #[error("la fermeture « {name} » se termine avant de commencer (du {} au {})", date_fr(.from), date_fr(.to))]
    ClosureReversed {
        name: String,
        from: NaiveDate,
        to: NaiveDate,
    },
    #[error("la fermeture « {name} » (du {} au {}) sort de l'année scolaire (du {} au {})", date_fr(.from), date_fr(.to), date_fr(.first), date_fr(.last))]
    ClosureOutsideYear {
        name: String,
        from: NaiveDate,
        to: NaiveDate,
        first: NaiveDate,
        last: NaiveDate,
    },
    #[error("une fermeture doit avoir un nom (par exemple « Vacances de la Toussaint »)")]
    ClosureWithoutName,
    #[error("les cours ont lieu au moins un jour de la semaine")]
    NoWeekday,
}

impl Refusal for CalendarError {
    fn rule(&self) -> &'static str {
        match self {
            CalendarError::YearReversed { .. } => "YEAR_DATES_REVERSED",
            CalendarError::YearTooLong { .. } => "YEAR_TOO_LONG",
            CalendarError::ClosureReversed { .. } => "CLOSURE_DATES_REVERSED",
            CalendarError::ClosureOutsideYear { .. } => "CLOSURE_OUTSIDE_YEAR",
            CalendarError::ClosureWithoutName => "CLOSURE_WITHOUT_NAME",
            CalendarError::NoWeekday => "NO_WEEKDAY",
        }
    }

    fn message(&self, lang: Lang) -> String {
        if lang == Lang::Fr {
            return self.to_string();
        }
        match self {
            CalendarError::YearReversed { first, last } => {
                format!("the school year must end after it starts ({first} to {last})")
            }
            CalendarError::YearTooLong { first, last } => format!(
                "a school year lasts at most one year and a half; {first} to {last} is longer"
            ),
            CalendarError::ClosureReversed { name, from, to } => {
                format!("closure \"{name}\" ends before it starts ({from} to {to})")
            }
            CalendarError::ClosureOutsideYear {
                name,
                from,
                to,
                first,
                last,
            } => format!(
                "closure \"{name}\" ({from} to {to}) is outside the school year ({first} to {last})"
            ),
            CalendarError::ClosureWithoutName => {
                "a closure needs a name (e.g. \"Vacances de la Toussaint\")".to_string()
            }
            CalendarError::NoWeekday => "lessons need at least one weekday".to_string(),
        }
    }
}

/// A school year's calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchoolCalendar {
    /// Jour de la rentrée des élèves.
    pub first_day: NaiveDate,
    /// Last day of lessons.
    pub last_day: NaiveDate,
    /// Weekdays with lessons (a collège usually has Monday to Friday, Wednesday morning
    /// included; some lycées add Saturday morning).
    pub weekdays: Vec<Weekday>,
    pub closures: Vec<Closure>,
    /// Weeks whose label the administration set by hand, by their Monday. Every other
    /// week with at least one school day takes the next label in turn, starting with A
    /// at the first week: holiday weeks do not count, which is Pronote's default
    /// alternation ("les semaines de vacances ne sont pas comptées").
    pub week_overrides: BTreeMap<NaiveDate, WeekLabel>,
}

impl SchoolCalendar {
    /// A calendar with lessons Monday to Friday and no closure yet.
    pub fn new(first_day: NaiveDate, last_day: NaiveDate) -> Result<Self, CalendarError> {
        let calendar = SchoolCalendar {
            first_day,
            last_day,
            weekdays: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            closures: Vec::new(),
            week_overrides: BTreeMap::new(),
        };
        calendar.check()?;
        Ok(calendar)
    }

    /// Every rule a calendar must satisfy.
    pub fn check(&self) -> Result<(), CalendarError> {
        let (first, last) = (self.first_day, self.last_day);
        if last <= first {
            return Err(CalendarError::YearReversed { first, last });
        }
        if (last - first).num_days() > 548 {
            return Err(CalendarError::YearTooLong { first, last });
        }
        if self.weekdays.is_empty() {
            return Err(CalendarError::NoWeekday);
        }
        for closure in &self.closures {
            self.check_closure(closure)?;
        }
        Ok(())
    }

    /// Whether `closure` may be added to this calendar.
    pub fn check_closure(&self, closure: &Closure) -> Result<(), CalendarError> {
        if closure.name.trim().is_empty() {
            return Err(CalendarError::ClosureWithoutName);
        }
        if closure.to < closure.from {
            return Err(CalendarError::ClosureReversed {
                name: closure.name.clone(),
                from: closure.from,
                to: closure.to,
            });
        }
        if closure.from < self.first_day || closure.to > self.last_day {
            return Err(CalendarError::ClosureOutsideYear {
                name: closure.name.clone(),
                from: closure.from,
                to: closure.to,
                first: self.first_day,
                last: self.last_day,
            });
        }
        Ok(())
    }

    /// The closure that covers `date`, if any.
    pub fn closure_on(&self, date: NaiveDate) -> Option<&Closure> {
        self.closures
            .iter()
            .find(|c| c.from <= date && date <= c.to)
    }

    /// Whether lessons take place on `date`.
    pub fn is_school_day(&self, date: NaiveDate) -> bool {
        self.first_day <= date
            && date <= self.last_day
            && self.weekdays.contains(&date.weekday())
            && self.closure_on(date).is_none()
    }

    /// School days from `from` to `to`, both included.
    pub fn school_days(&self, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        let from = from.max(self.first_day);
        let to = to.min(self.last_day);
        from.iter_days()
            .take_while(|d| *d <= to)
            .filter(|d| self.is_school_day(*d))
            .collect()
    }

    /// Dates from `from` to `to` (both included) that fall in a closure or outside the
    /// school year: what a recurring booking skips.
    pub fn closed_days(&self, from: NaiveDate, to: NaiveDate) -> BTreeSet<NaiveDate> {
        from.iter_days()
            .take_while(|d| *d <= to)
            .filter(|d| *d < self.first_day || *d > self.last_day || self.closure_on(*d).is_some())
            .collect()
    }

    /// Week A or B of the week holding `date`; `None` outside the school year or in a
    /// week without any school day.
    pub fn week_label(&self, date: NaiveDate) -> Option<WeekLabel> {
        let monday = monday_of(date);
        if !self.has_school_day(monday) {
            return None;
        }
        if let Some(label) = self.week_overrides.get(&monday) {
            return Some(*label);
        }
        // Count the school weeks before this one, restarting the count after each
        // week set by hand, so an override shifts the alternation that follows.
        let mut label = WeekLabel::A;
        let mut week = monday_of(self.first_day);
        let mut first = true;
        while week < monday {
            if self.has_school_day(week) {
                label = match self.week_overrides.get(&week) {
                    Some(set) => *set,
                    None if first => WeekLabel::A,
                    None => other(label),
                };
                first = false;
            }
            week += Duration::days(7);
        }
        Some(if first { WeekLabel::A } else { other(label) })
    }

    fn has_school_day(&self, monday: NaiveDate) -> bool {
        (0..7).any(|d| self.is_school_day(monday + Duration::days(d)))
    }
}

fn other(label: WeekLabel) -> WeekLabel {
    match label {
        WeekLabel::A => WeekLabel::B,
        WeekLabel::B => WeekLabel::A,
    }
}

/// The Monday of the ISO week holding `date`.
pub fn monday_of(date: NaiveDate) -> NaiveDate {
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn year() -> SchoolCalendar {
        let mut c = SchoolCalendar::new(d(2026, 9, 1), d(2027, 7, 3)).unwrap();
        c.closures.push(Closure {
            name: "Vacances de la Toussaint".into(),
            from: d(2026, 10, 17),
            to: d(2026, 11, 1),
        });
        c
    }

    #[test]
    fn holidays_and_weekends_are_not_school_days() {
        let c = year();
        assert!(c.is_school_day(d(2026, 9, 1)));
        assert!(!c.is_school_day(d(2026, 8, 31)), "before the rentrée");
        assert!(!c.is_school_day(d(2026, 9, 5)), "a Saturday");
        assert!(!c.is_school_day(d(2026, 10, 20)), "Toussaint");
        assert_eq!(
            c.closure_on(d(2026, 10, 20)).unwrap().name,
            "Vacances de la Toussaint"
        );
        assert!(c.is_school_day(d(2026, 11, 2)));
        assert_eq!(c.school_days(d(2026, 10, 12), d(2026, 11, 3)).len(), 5 + 2);
    }

    #[test]
    fn weeks_alternate_over_school_weeks_only() {
        let c = year();
        assert_eq!(c.week_label(d(2026, 9, 1)), Some(WeekLabel::A));
        assert_eq!(c.week_label(d(2026, 9, 10)), Some(WeekLabel::B));
        // Week of 12 Oct is the 7th school week (A); the two holiday weeks do not
        // count, so the week of 2 Nov is B.
        assert_eq!(c.week_label(d(2026, 10, 12)), Some(WeekLabel::A));
        assert_eq!(c.week_label(d(2026, 10, 21)), None);
        assert_eq!(c.week_label(d(2026, 11, 2)), Some(WeekLabel::B));
    }

    #[test]
    fn a_week_set_by_hand_shifts_the_alternation_after_it() {
        let mut c = year();
        c.week_overrides.insert(d(2026, 9, 14), WeekLabel::B);
        assert_eq!(c.week_label(d(2026, 9, 7)), Some(WeekLabel::B));
        assert_eq!(c.week_label(d(2026, 9, 14)), Some(WeekLabel::B));
        assert_eq!(c.week_label(d(2026, 9, 21)), Some(WeekLabel::A));
    }

    #[test]
    fn closures_must_fit_the_year() {
        let c = year();
        let outside = Closure {
            name: "Été".into(),
            from: d(2027, 7, 1),
            to: d(2027, 8, 31),
        };
        assert!(matches!(
            c.check_closure(&outside),
            Err(CalendarError::ClosureOutsideYear { .. })
        ));
        let reversed = Closure {
            name: "Pont".into(),
            from: d(2026, 11, 12),
            to: d(2026, 11, 11),
        };
        assert!(matches!(
            c.check_closure(&reversed),
            Err(CalendarError::ClosureReversed { .. })
        ));
        assert!(SchoolCalendar::new(d(2027, 7, 3), d(2026, 9, 1)).is_err());
    }
}
