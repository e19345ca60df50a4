//! FET timetables, as FET exports them: `fet-cl --inputfile=<file.fet> --exportcsv=true`
//! writes, in `csv/<name>/`, `<name>_timetable.csv` (one row per hour of every placed
//! activity) and `<name>_students.csv` (the years, groups and subgroups), among others.
//!
//! Layout (FET's CSV export, the same since FET 5; UTF-8 with a byte-order mark, every
//! field quoted, several students sets or teachers joined with `+`):
//!
//! ```text
//! _timetable.csv: "Activity Id","Day","Hour","Students Sets","Subject","Teachers","Activity Tags","Room","Comments"
//! _students.csv:  "Year","Number of Students per Year","Group","Number of Students per Group","Subgroup","Number of Students per Subgroup","Comments"
//! ```
//!
//! Days and hours carry the names the school gave them in FET, which are free text. A
//! day is, in this order: what `--days` says (`--days A=Mon,B=Tue`); a weekday's name in
//! the usual languages, Sunday included (see [`timetable::weekday`]); else its place in
//! the days list of the `.fet` file beside the CSV files (the first day is Monday: the
//! letters of a rotation, `Day 1`...). Hours are read by the times their names hold
//! (`08:00-08:55`, `14.40 - 15.40`, `01:15p`, `1:15 PM`, or a start time alone, which
//! lasts until the next hour starts, 55 minutes at most); numbered hours (`1`, `2ª`)
//! need the bell schedule (`--hours 1=08:00-08:55,2=09:00-09:55`).
//!
//! Students sets become classes: a year's groups are its divisions (a year without
//! groups is a division itself), subgroups are groups drawn from the groups that hold
//! them, in one partition per year (FET's subgroups are disjoint).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveTime, Weekday};

use crate::report::{ImportError, Location, Problem};
use crate::roster::Row;
use crate::source::{csv_record, SourceFile};
use crate::timetable::{hour_times, weekday, ClassRow, LessonRow, TimetableFile};
use carnet_domain::timetable::WeekPattern;

pub const FORMAT: &str = "fet";

/// The files of one FET export.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub timetable: SourceFile,
    pub students: Option<SourceFile>,
    /// The `.fet` file beside them, for its days list.
    pub fet: Option<SourceFile>,
}

impl Bundle {
    /// Reads the export at `path`: FET's CSV folder, or its `_timetable.csv` (the
    /// `_students.csv` beside it is read when present).
    pub fn read(path: &Path) -> Result<Self, ImportError> {
        let timetable_path = if path.is_dir() {
            find(path, "_timetable.csv").ok_or_else(|| ImportError::Io {
                file: path.display().to_string(),
                reason: "the folder holds no FET *_timetable.csv".into(),
            })?
        } else {
            path.to_path_buf()
        };
        let students_path = timetable_path
            .to_str()
            .and_then(|p| p.strip_suffix("_timetable.csv"))
            .map(|stem| PathBuf::from(format!("{stem}_students.csv")))
            .filter(|p| p.exists());
        let fet_path = timetable_path.parent().and_then(|dir| find(dir, ".fet"));
        Ok(Bundle {
            timetable: SourceFile::read(&timetable_path)?,
            students: students_path.as_deref().map(SourceFile::read).transpose()?,
            fet: fet_path.as_deref().map(SourceFile::read).transpose()?,
        })
    }
}

fn find(dir: &Path, suffix: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(suffix)))
        .collect();
    found.sort();
    found.into_iter().next()
}

/// The columns of a CSV, by name, checked present.
struct Columns {
    index: BTreeMap<&'static str, usize>,
}

impl Columns {
    fn new(
        source: &SourceFile,
        headers: &csv::StringRecord,
        wanted: &[&'static str],
        problems: &mut Vec<Problem>,
    ) -> Option<Self> {
        let mut index = BTreeMap::new();
        for name in wanted {
            match headers.iter().position(|h| h.trim() == *name) {
                Some(i) => {
                    index.insert(*name, i);
                }
                None => problems.push(source.problem(
                    Location::Line(1),
                    *name,
                    format!("the column \"{name}\" is missing"),
                )),
            }
        }
        (index.len() == wanted.len()).then_some(Columns { index })
    }

    fn get<'r>(&self, record: &'r csv::StringRecord, name: &'static str) -> &'r str {
        self.index
            .get(name)
            .and_then(|i| record.get(*i))
            .map_or("", str::trim)
    }
}

fn split(field: &str) -> Vec<String> {
    field
        .split('+')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn reader(source: &SourceFile) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(source.text.as_bytes())
}

/// The classes of `_students.csv`, and the divisions each year stands for.
type Classes = (
    BTreeMap<String, Row<ClassRow>>,
    BTreeMap<String, Vec<String>>,
);

fn read_students(source: &SourceFile, problems: &mut Vec<Problem>) -> Classes {
    let mut reader = reader(source);
    let Ok(headers) = reader.headers().cloned() else {
        problems.push(source.problem(Location::Line(1), "header", "the file has no header line"));
        return Default::default();
    };
    let Some(columns) = Columns::new(source, &headers, &["Year", "Group", "Subgroup"], problems)
    else {
        return Default::default();
    };
    // year -> groups, group -> (year, subgroups)
    let mut years: BTreeMap<String, (Location, BTreeSet<String>)> = BTreeMap::new();
    let mut subgroups: BTreeMap<String, (Location, BTreeSet<String>, String)> = BTreeMap::new();
    for record in reader.records() {
        let Some((line, record)) = csv_record(source, record, problems) else {
            continue;
        };
        let at = Location::Line(line);
        let (year, group, subgroup) = (
            columns.get(&record, "Year"),
            columns.get(&record, "Group"),
            columns.get(&record, "Subgroup"),
        );
        if year.is_empty() {
            problems.push(source.problem(at, "Year", "the row names no year"));
            continue;
        }
        let entry = years
            .entry(year.to_string())
            .or_insert_with(|| (at.clone(), BTreeSet::new()));
        if !group.is_empty() {
            entry.1.insert(group.to_string());
        }
        if !subgroup.is_empty() {
            if group.is_empty() {
                problems.push(source.problem(
                    at,
                    "Group",
                    format!("subgroup {subgroup} belongs to no group"),
                ));
                continue;
            }
            subgroups
                .entry(subgroup.to_string())
                .or_insert_with(|| (at.clone(), BTreeSet::new(), year.to_string()))
                .1
                .insert(group.to_string());
        }
    }
    let mut classes = BTreeMap::new();
    let mut year_divisions = BTreeMap::new();
    for (year, (at, groups)) in &years {
        if groups.is_empty() {
            let level = crate::mef::level(None, None, year);
            classes.insert(
                year.clone(),
                Row {
                    at: at.clone(),
                    value: ClassRow::Division { level },
                },
            );
            year_divisions.insert(year.clone(), vec![year.clone()]);
        } else {
            for group in groups {
                classes.entry(group.clone()).or_insert_with(|| Row {
                    at: at.clone(),
                    value: ClassRow::Division {
                        level: year.clone(),
                    },
                });
            }
            year_divisions.insert(year.clone(), groups.iter().cloned().collect());
        }
    }
    for (subgroup, (at, groups, year)) in subgroups {
        // A subgroup named as its only group ("8 а целия клас" of "8 а" is the whole class
        // in some schools) is still a group of that division.
        if classes.contains_key(&subgroup) {
            continue;
        }
        classes.insert(
            subgroup,
            Row {
                at,
                value: ClassRow::Group {
                    divisions: groups.into_iter().collect(),
                    partition: year,
                },
            },
        );
    }
    (classes, year_divisions)
}

/// Options of a FET import: the bell schedule for hours whose names hold no time.
pub type Hours = BTreeMap<String, (NaiveTime, NaiveTime)>;

/// Options of a FET import: the weekday of each day name that is not a weekday's name
/// (`--days A=Mon,B=Tue`).
pub type Days = BTreeMap<String, Weekday>;

const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// The names of the `.fet` file's days list, in its order: `<Days_List><Day><Name>`
/// (FET 5 and 6) or `<Days_List><Day>name</Day>` (older files).
fn days_list(fet: &SourceFile, problems: &mut Vec<Problem>) -> Vec<String> {
    let document = match crate::xml::parse(fet) {
        Ok(document) => document,
        Err(problem) => {
            problems.push(problem);
            return Vec::new();
        }
    };
    let Some(list) = crate::xml::child(document.root_element(), "Days_List") else {
        problems.push(fet.problem(
            Location::Line(1),
            "Days_List",
            "the .fet file has no days list",
        ));
        return Vec::new();
    };
    crate::xml::children(list, "Day")
        .filter_map(|day| crate::xml::text(day, "Name").or_else(|| crate::xml::own_text(day)))
        .collect()
}

/// How the export's day names are weekdays (see the module's documentation).
struct DayNames<'a> {
    given: &'a Days,
    listed: Vec<String>,
}

impl DayNames<'_> {
    fn weekday(&self, name: &str) -> Option<Weekday> {
        if let Some(day) = self.given.get(name.trim()) {
            return Some(*day);
        }
        if let Some(day) = weekday(name) {
            return Some(day);
        }
        let place = self.listed.iter().position(|d| d.trim() == name.trim())?;
        WEEK.get(place).copied()
    }
}

/// Reads a FET export; every problem of its files is listed.
pub fn read(bundle: &Bundle, hours: &Hours, days: &Days) -> Result<TimetableFile, ImportError> {
    let mut problems = Vec::new();
    let day_names = DayNames {
        given: days,
        listed: bundle
            .fet
            .as_ref()
            .map(|fet| days_list(fet, &mut problems))
            .unwrap_or_default(),
    };
    let (mut classes, year_divisions) = match &bundle.students {
        Some(students) => read_students(students, &mut problems),
        None => Default::default(),
    };
    let source = &bundle.timetable;
    let mut reader = reader(source);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Err(ImportError::Invalid(vec![source.problem(
                Location::Line(1),
                "header",
                e.to_string(),
            )]));
        }
    };
    let wanted = [
        "Activity Id",
        "Day",
        "Hour",
        "Students Sets",
        "Subject",
        "Teachers",
        "Room",
    ];
    let Some(columns) = Columns::new(source, &headers, &wanted, &mut problems) else {
        return Err(ImportError::Invalid(problems));
    };

    struct Slot {
        at: Location,
        day: String,
        hour: String,
        sets: Vec<String>,
        subject: String,
        teachers: Vec<String>,
        room: String,
    }
    let mut activities: BTreeMap<String, Vec<Slot>> = BTreeMap::new();
    let mut order = Vec::new();
    let mut rows = 0;
    for record in reader.records() {
        let Some((line, record)) = csv_record(source, record, &mut problems) else {
            continue;
        };
        rows += 1;
        let at = Location::Line(line);
        if record.len() < headers.len() {
            problems.push(source.problem(
                at,
                "CSV",
                format!(
                    "the row has {} fields where the header has {}: the file is cut short or a quote is not closed",
                    record.len(),
                    headers.len()
                ),
            ));
            continue;
        }
        let id = columns.get(&record, "Activity Id").to_string();
        if id.is_empty() {
            problems.push(source.problem(at, "Activity Id", "the row names no activity"));
            continue;
        }
        if !activities.contains_key(&id) {
            order.push(id.clone());
        }
        activities.entry(id).or_default().push(Slot {
            at,
            day: columns.get(&record, "Day").to_string(),
            hour: columns.get(&record, "Hour").to_string(),
            sets: split(columns.get(&record, "Students Sets")),
            subject: columns.get(&record, "Subject").to_string(),
            teachers: split(columns.get(&record, "Teachers")),
            room: columns.get(&record, "Room").to_string(),
        });
    }

    // The hours of the file, with their times.
    let names: BTreeSet<String> = activities
        .values()
        .flatten()
        .map(|s| s.hour.clone())
        .collect();
    let mut starts: BTreeMap<String, (NaiveTime, Option<NaiveTime>)> = BTreeMap::new();
    let mut untimed: Vec<String> = Vec::new();
    for name in names {
        if let Some((start, end)) = hours.get(&name) {
            starts.insert(name, (*start, Some(*end)));
        } else if let Some(times) = hour_times(&name) {
            starts.insert(name, times);
        } else {
            untimed.push(name);
        }
    }
    let all_starts: BTreeSet<NaiveTime> = starts.values().map(|(s, _)| *s).collect();
    let times = |name: &str| -> Option<(NaiveTime, NaiveTime)> {
        let (start, end) = *starts.get(name)?;
        let end = end.unwrap_or_else(|| {
            let longest = start + Duration::minutes(55);
            all_starts
                .range(start + Duration::minutes(1)..)
                .next()
                .map_or(longest, |next| (*next).min(longest))
        });
        Some((start, end))
    };
    if !untimed.is_empty() {
        let first = activities
            .values()
            .flatten()
            .find(|s| untimed.contains(&s.hour))
            .map_or(Location::File, |s| s.at.clone());
        problems.push(source.problem(
            first,
            "Hour",
            format!(
                "the hours {} hold no time: give the bell schedule, e.g. --hours \"{}=08:00-08:55\"",
                untimed.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", "),
                untimed[0]
            ),
        ));
    }
    let mut unknown_days = BTreeSet::new();
    let mut lessons = Vec::new();
    let mut without_students = 0;
    for id in order {
        let Some(slots) = activities.remove(&id) else {
            continue;
        };
        let first = &slots[0];
        if first.sets.is_empty() {
            // A teacher's duty (guard, meeting) with no students: not a lesson.
            without_students += 1;
            continue;
        }
        let Some(day) = day_names.weekday(&first.day) else {
            if unknown_days.insert(first.day.clone()) {
                problems.push(source.problem(
                    first.at.clone(),
                    "Day",
                    format!(
                        "`{}` is not a weekday Carnet knows (Monday to Sunday, in English, French, Spanish, Italian, Portuguese, Romanian, German, Bulgarian or Greek){}: say which day it is with --days \"{}=Mon\"",
                        first.day,
                        if bundle.fet.is_some() { ", nor a day of the .fet file's days list" } else { " and there is no .fet file beside the export to place it" },
                        first.day
                    ),
                ));
            }
            continue;
        };
        if let Some(other) = slots.iter().find(|s| s.day != first.day) {
            problems.push(source.problem(
                other.at.clone(),
                "Day",
                format!(
                    "activity {id} is on {} and on {}: one activity is one lesson",
                    first.day, other.day
                ),
            ));
            continue;
        }
        let Some(spans) = slots
            .iter()
            .map(|s| times(&s.hour))
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let start = spans.iter().map(|(s, _)| *s).min();
        let end = spans.iter().map(|(_, e)| *e).max();
        let (Some(start), Some(end)) = (start, end) else {
            continue;
        };
        if first.subject.is_empty() {
            problems.push(source.problem(
                first.at.clone(),
                "Subject",
                format!("activity {id} has no subject"),
            ));
            continue;
        }
        let mut sets = Vec::new();
        for set in &first.sets {
            match year_divisions.get(set) {
                Some(divisions) if !classes.contains_key(set) => {
                    sets.extend(divisions.iter().cloned())
                }
                _ => sets.push(set.clone()),
            }
        }
        if bundle.students.is_none() {
            for set in &sets {
                classes.entry(set.clone()).or_insert_with(|| Row {
                    at: first.at.clone(),
                    value: ClassRow::Division {
                        level: crate::mef::level(None, None, set),
                    },
                });
            }
        } else if let Some(unknown) = sets.iter().find(|s| !classes.contains_key(*s)) {
            problems.push(source.problem(
                first.at.clone(),
                "Students Sets",
                format!("students set {unknown} is not in the export's _students.csv"),
            ));
            continue;
        }
        lessons.push(Row {
            at: first.at.clone(),
            value: LessonRow {
                key: id,
                weekday: day,
                start,
                end,
                subject: first.subject.clone(),
                teachers: first.teachers.clone(),
                classes: sets,
                room: (!first.room.is_empty()).then(|| first.room.clone()),
                weeks: WeekPattern::Every,
            },
        });
    }
    if !problems.is_empty() {
        return Err(ImportError::Invalid(problems));
    }
    let mut notes = Vec::new();
    if without_students > 0 {
        notes.push(format!(
            "{without_students} activities have no students (duties, meetings): not lessons, not imported"
        ));
    }
    Ok(TimetableFile {
        format: FORMAT,
        classes,
        lessons,
        rows,
        notes,
    })
}
