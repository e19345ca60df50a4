//! Weeks A and B of a UDT export.
//!
//! UDT's yearly timetable (`UDCal_11`/`UDCal_12`) says nothing of the weeks a line is
//! held in. What does is the export's week by week timetable: one `UDCal_12_NN.xml` per
//! published week (ISO week `NN`, the weeks `semaines.xml` lists), holding the lines
//! held that week. A yearly lesson met only in the published weeks A (or only in the
//! weeks B) is a week A (week B) course; met in both, or in none (a published span of one
//! kind of week cannot tell), it is held every week.
//!
//! Weeks are labelled by UDT's calendar (`UDCal_24`) the way Carnet's calendar labels
//! them: the pupils' first school week is A, then school weeks alternate, weeks without
//! a school day (closed from Monday to Friday) are skipped.

use std::collections::{BTreeMap, BTreeSet};

use carnet_domain::timetable::WeekPattern;
use chrono::{Datelike, Duration, NaiveDate, Weekday};

use super::records::Record;
use crate::report::Problem;
use crate::xml::french_date;

/// Longest school year a calendar may span (a hostile one could loop for ever).
const MAX_DAYS: i64 = 400;

/// UDT's calendar: the school weeks by Monday, `true` for a week A.
#[derive(Debug, Clone)]
pub(super) struct Calendar {
    first: NaiveDate,
    weeks: BTreeMap<NaiveDate, bool>,
}

impl Calendar {
    /// Reads `UDCal_24`'s `debut_eleve`, `fin_eleve` and `fermeture` records; `None` when
    /// the file gives no pupils' dates.
    pub fn read(records: &[Record<'_>], problems: &mut Vec<Problem>) -> Option<Self> {
        let date = |name: &str, problems: &mut Vec<Problem>| {
            let record = records.iter().find(|r| r.element == name)?;
            let text = record.text.as_deref().unwrap_or_default();
            let date = french_date(text);
            if date.is_none() {
                problems.push(record.problem(name, format!("`{text}` is not a date (dd/mm/yyyy)")));
            }
            date
        };
        let (first, last) = (date("debut_eleve", problems)?, date("fin_eleve", problems)?);
        if last < first || (last - first).num_days() > MAX_DAYS {
            let record = records.iter().find(|r| r.element == "fin_eleve")?;
            problems.push(record.problem(
                "fin_eleve",
                format!("the pupils' year from {first} to {last} is not a school year"),
            ));
            return None;
        }
        let mut closures = Vec::new();
        for record in records.iter().filter(|r| r.element == "fermeture") {
            let from = record.get("debut").and_then(french_date);
            let to = record.get("fin").and_then(french_date);
            match (from, to) {
                (Some(from), Some(to)) if from <= to => closures.push((from, to)),
                _ => problems.push(record.problem(
                    "debut",
                    "a closure needs its first and last days (debut, fin: dd/mm/yyyy)",
                )),
            }
        }
        let open = |day: NaiveDate| {
            day >= first && day <= last && !closures.iter().any(|(f, t)| day >= *f && day <= *t)
        };
        let mut weeks = BTreeMap::new();
        let back = Duration::days(i64::from(first.weekday().num_days_from_monday()));
        let mut monday = first.checked_sub_signed(back);
        let mut week_a = true;
        while let Some(week) = monday.filter(|m| *m <= last) {
            let mut days = (0..5).filter_map(|d| week.checked_add_signed(Duration::days(d)));
            if days.any(open) {
                weeks.insert(week, week_a);
                week_a = !week_a;
            }
            monday = week.checked_add_signed(Duration::days(7));
        }
        Some(Calendar { first, weeks })
    }

    /// The Monday of ISO week `week` in the school year.
    pub fn monday(&self, week: u32) -> Option<NaiveDate> {
        let start = self.first.iso_week();
        let year = if week >= start.week() {
            start.year()
        } else {
            start.year() + 1
        };
        NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)
    }

    /// Whether the week starting on `monday` is a week A, B, or no school week.
    pub fn is_week_a(&self, monday: NaiveDate) -> Option<bool> {
        self.weeks.get(&monday).copied()
    }
}

/// The published weeks, each with the lessons (by key) held in it.
#[derive(Debug, Default)]
pub(super) struct Sample {
    /// Week A (`true`) or B, and the keys held, by Monday.
    weeks: BTreeMap<NaiveDate, (bool, BTreeSet<String>)>,
}

impl Sample {
    /// Adds the published week starting on `monday` (a school week of `calendar`).
    pub fn add(&mut self, calendar: &Calendar, monday: NaiveDate, held: BTreeSet<String>) {
        if let Some(week_a) = calendar.is_week_a(monday) {
            self.weeks.insert(monday, (week_a, held));
        }
    }

    pub fn len(&self) -> usize {
        self.weeks.len()
    }

    /// The weeks the lesson `key` of the yearly timetable is held in.
    pub fn pattern(&self, key: &str) -> WeekPattern {
        let (mut a, mut b) = ((false, false), (false, false)); // (published, held)
        for (week_a, held) in self.weeks.values() {
            let side = if *week_a { &mut a } else { &mut b };
            side.0 = true;
            side.1 |= held.contains(key);
        }
        match (a, b) {
            ((true, true), (true, false)) => WeekPattern::A,
            ((true, false), (true, true)) => WeekPattern::B,
            _ => WeekPattern::Every,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;

    fn calendar(xml: &str) -> (Option<Calendar>, Vec<Problem>) {
        let source = SourceFile::from_bytes("UDCal_24.xml", xml.as_bytes()).unwrap();
        let mut problems = Vec::new();
        let records = super::super::records::read(
            &source,
            &["debut_eleve", "fin_eleve", "fermeture"],
            &mut problems,
        );
        (Calendar::read(&records, &mut problems), problems)
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn weeks_alternate_over_school_weeks_only() {
        let (calendar, problems) = calendar(
            "<c><debut_eleve>01/09/2026</debut_eleve><fin_eleve>03/07/2027</fin_eleve>\
             <fermeture debut=\"17/10/2026\" fin=\"01/11/2026\"/></c>",
        );
        assert!(problems.is_empty(), "{problems:?}");
        let calendar = calendar.unwrap();
        // ISO week 36 of 2026 starts on Monday 31 August: the first school week, A.
        assert_eq!(calendar.monday(36), Some(day(2026, 8, 31)));
        assert_eq!(calendar.is_week_a(day(2026, 8, 31)), Some(true));
        assert_eq!(calendar.is_week_a(day(2026, 9, 7)), Some(false));
        // Weeks 43 and 44 are closed: week 42 is A (the seventh school week), week 45
        // B (the eighth).
        assert_eq!(calendar.is_week_a(day(2026, 10, 12)), Some(true));
        assert_eq!(calendar.is_week_a(day(2026, 10, 19)), None);
        assert_eq!(calendar.is_week_a(day(2026, 11, 2)), Some(false));
        // Week 2 is in the year after the first day's.
        assert_eq!(calendar.monday(2), Some(day(2027, 1, 11)));
    }

    #[test]
    fn bad_calendars_are_named() {
        let (read, problems) = calendar(
            "<c><debut_eleve>01/09/2026</debut_eleve><fin_eleve>3 juillet</fin_eleve></c>",
        );
        assert!(read.is_none());
        assert_eq!(problems[0].field, "fin_eleve");
        let (read, problems) = calendar(
            "<c><debut_eleve>01/09/2026</debut_eleve><fin_eleve>01/09/2030</fin_eleve></c>",
        );
        assert!(read.is_none());
        assert!(problems[0].rule.contains("is not a school year"));
    }
}
