//! Untis timetables: the GPU001 text export (`GPU001.TXT`, "Stundenplan"), the file
//! Untis writes under Datei → Import/Export → Untis → GPU-Dateien.
//!
//! Layout (Untis's published GPU interface, as the GPU001 DTO of the SVWS-NRW server
//! reads it): no header; one row per class, teacher and period of each lesson;
//! fields separated by `;` (Untis may be set to `,`), texts in double quotes:
//!
//! ```text
//! 1 lesson number (Unterrichtsnummer)   2 class (Klasse)      3 teacher (Lehrer)
//! 4 subject (Fach)                      5 room (Raum)         6 weekday, 1 = Monday
//! 7 period (Stunde)                     8 length in minutes, or empty
//! 9 unused by Untis (SVWS and Carnet read A or B here as the week)
//! ```
//!
//! Periods are numbers: their times come from the bell schedule (`--hours
//! 1=08:00-08:55,...`). Rows of one lesson number on one day in consecutive periods are
//! one course (a double period); the same lesson number on other days gives one course
//! per day. Classes are the establishment's divisions or groups by code, created as
//! divisions when unknown; teachers are matched by their staff name, or added under
//! their Untis code.

use std::collections::{BTreeMap, BTreeSet};

use carnet_domain::timetable::WeekPattern;
use chrono::{Duration, Weekday};

use crate::fet::Hours;
use crate::report::{ImportError, Location};
use crate::roster::Row;
use crate::source::{csv_record, SourceFile};
use crate::timetable::{ClassRow, LessonRow, TimetableFile};

pub const FORMAT: &str = "untis";

/// One row of GPU001.
struct Entry {
    line: u32,
    lesson: String,
    class: String,
    teacher: String,
    subject: String,
    room: String,
    weekday: Weekday,
    period: u32,
    minutes: Option<i64>,
    week: WeekPattern,
}

/// The longest lesson a row may give: a day.
const MAX_MINUTES: i64 = 24 * 60;

/// Reads a GPU001 export; every problem is listed.
pub fn read(source: &SourceFile, hours: &Hours) -> Result<TimetableFile, ImportError> {
    let separator = if source
        .text
        .lines()
        .next()
        .is_some_and(|l| !l.contains(';') && l.contains(','))
    {
        b','
    } else {
        b';'
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(separator)
        .from_reader(source.text.as_bytes());
    let mut problems = Vec::new();
    let mut entries = Vec::new();
    let mut rows = 0;
    for record in reader.records() {
        let Some((line, record)) = csv_record(source, record, &mut problems) else {
            continue;
        };
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        rows += 1;
        let at = Location::Line(line);
        let field = |i: usize| record.get(i).map_or("", str::trim);
        if record.len() < 7 {
            problems.push(source.problem(
                at,
                "fields",
                format!("a GPU001 row has at least 7 fields, this one {}: the file is cut short or not GPU001", record.len()),
            ));
            continue;
        }
        let mut bad =
            |field: &str, rule: String| problems.push(source.problem(at.clone(), field, rule));
        let lesson = field(0).to_string();
        if lesson.is_empty() {
            bad("lesson number", "the row names no lesson".into());
            continue;
        }
        let weekday = match field(5).parse::<u32>().ok().and_then(|d| match d {
            1 => Some(Weekday::Mon),
            2 => Some(Weekday::Tue),
            3 => Some(Weekday::Wed),
            4 => Some(Weekday::Thu),
            5 => Some(Weekday::Fri),
            6 => Some(Weekday::Sat),
            _ => None,
        }) {
            Some(day) => day,
            None => {
                bad(
                    "weekday",
                    format!(
                        "`{}` is not a day from 1 (Monday) to 6 (Saturday)",
                        field(5)
                    ),
                );
                continue;
            }
        };
        let Ok(period) = field(6).parse::<u32>() else {
            bad("period", format!("`{}` is not a period number", field(6)));
            continue;
        };
        let minutes = match field(7) {
            "" => None,
            // At most a day: a longer one is no lesson (and would overflow the times).
            text => match text.parse::<i64>() {
                Ok(m) if (1..=MAX_MINUTES).contains(&m) => Some(m),
                _ => {
                    bad(
                        "length",
                        format!("`{text}` is not a length in minutes (1 to {MAX_MINUTES})"),
                    );
                    continue;
                }
            },
        };
        let week = match field(8).to_uppercase().as_str() {
            "" => WeekPattern::Every,
            "A" => WeekPattern::A,
            "B" => WeekPattern::B,
            other => {
                bad("week", format!("`{other}` is neither A nor B"));
                continue;
            }
        };
        if field(1).is_empty() {
            bad("class", format!("lesson {lesson} names no class"));
            continue;
        }
        if field(3).is_empty() {
            bad("subject", format!("lesson {lesson} has no subject"));
            continue;
        }
        entries.push(Entry {
            line,
            lesson,
            class: field(1).to_string(),
            teacher: field(2).to_string(),
            subject: field(3).to_string(),
            room: field(4).to_string(),
            weekday,
            period,
            minutes,
            week,
        });
    }
    let untimed: BTreeSet<u32> = entries
        .iter()
        .map(|e| e.period)
        .filter(|p| !hours.contains_key(&p.to_string()))
        .collect();
    if !untimed.is_empty() {
        let first = entries
            .iter()
            .find(|e| untimed.contains(&e.period))
            .map_or(Location::File, |e| Location::Line(e.line));
        problems.push(source.problem(
            first,
            "period",
            format!(
                "the periods {} have no times: give the bell schedule, e.g. --hours \"{}=08:00-08:55\"",
                untimed.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
                untimed.iter().next().copied().unwrap_or(1)
            ),
        ));
    }
    if !problems.is_empty() {
        return Err(ImportError::Invalid(problems));
    }

    // One course per lesson number, day and run of consecutive periods.
    let mut by_day: BTreeMap<(String, u32), Vec<&Entry>> = BTreeMap::new();
    for e in &entries {
        by_day
            .entry((e.lesson.clone(), e.weekday.num_days_from_monday()))
            .or_default()
            .push(e);
    }
    let mut classes = BTreeMap::new();
    let mut lessons = Vec::new();
    for ((lesson, _), day_entries) in by_day {
        let periods: BTreeSet<u32> = day_entries.iter().map(|e| e.period).collect();
        let mut runs: Vec<Vec<u32>> = Vec::new();
        for p in periods {
            match runs.last_mut() {
                Some(run) if run.last() == Some(&(p - 1)) => run.push(p),
                _ => runs.push(vec![p]),
            }
        }
        for run in runs {
            let in_run: Vec<&&Entry> = day_entries
                .iter()
                .filter(|e| run.contains(&e.period))
                .collect();
            let first = in_run[0];
            let (Some(first_period), Some(last_period)) = (run.first(), run.last()) else {
                continue;
            };
            let Some((start, _)) = hours.get(&first_period.to_string()) else {
                continue;
            };
            let Some((last_start, last_end)) = hours.get(&last_period.to_string()) else {
                continue;
            };
            let end = match in_run
                .iter()
                .find(|e| e.period == *last_period)
                .and_then(|e| e.minutes)
            {
                Some(minutes) => *last_start + Duration::minutes(minutes),
                None => *last_end,
            };
            let mut seen = BTreeSet::new();
            let class_list: Vec<String> = in_run
                .iter()
                .map(|e| e.class.clone())
                .filter(|c| seen.insert(c.clone()))
                .collect();
            let mut seen = BTreeSet::new();
            let teachers: Vec<String> = in_run
                .iter()
                .map(|e| e.teacher.clone())
                .filter(|t| !t.is_empty() && seen.insert(t.clone()))
                .collect();
            let rooms: BTreeSet<&str> = in_run
                .iter()
                .map(|e| e.room.as_str())
                .filter(|r| !r.is_empty())
                .collect();
            for class in &class_list {
                classes.entry(class.clone()).or_insert_with(|| Row {
                    at: Location::Line(first.line),
                    value: ClassRow::Division {
                        level: crate::mef::level(None, None, class),
                    },
                });
            }
            lessons.push(Row {
                at: Location::Line(first.line),
                value: LessonRow {
                    key: format!("{lesson}-{}-{first_period}", weekday_code(first.weekday)),
                    weekday: first.weekday,
                    start: *start,
                    end,
                    subject: first.subject.clone(),
                    teachers,
                    classes: class_list,
                    room: (!rooms.is_empty())
                        .then(|| rooms.into_iter().collect::<Vec<_>>().join("+")),
                    weeks: first.week.clone(),
                },
            });
        }
    }
    Ok(TimetableFile {
        format: FORMAT,
        classes,
        lessons,
        rows,
        notes: Vec::new(),
    })
}

fn weekday_code(day: Weekday) -> u32 {
    day.num_days_from_monday() + 1
}
