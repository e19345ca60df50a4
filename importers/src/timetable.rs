//! What timetable files (FET, Untis, aSc) say, in one model, and the commands that bring
//! the establishment's timetable to it.
//!
//! A timetable file lists weekly lessons: a day, hours, a subject, teachers, classes and
//! rooms. Carnet keeps them as recurring courses of the year's timetable, valid from the
//! day the import takes effect. Teachers are matched to the staff by name (the names are
//! opened with the vault) and added when unknown; classes are matched to the year's
//! divisions and groups by code, and added when unknown (with the structure the file
//! gives). Importing the same file again finds nothing to do; a changed file changes the
//! courses that changed (ended and replaced from the import's date, once lessons have
//! taken place, so that past lessons stay as they were) and ends the courses that are
//! no longer in it.

use std::collections::{BTreeMap, BTreeSet};

use carnet_domain::calendar::SchoolCalendar;
use carnet_domain::enrolment::{
    DivisionSpec, Establishment, EstablishmentCommand, GroupSpec, Role, SchoolYear,
};
use carnet_domain::timetable::{CourseSpec, Timetable, TimetableCommand, WeekPattern};
use carnet_domain::Uai;
use carnet_store::{EventStore, StoreError};
use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Weekday};

use crate::plan::{self, Change, Plan, Tracked};
use crate::report::Location;
use crate::roster::Row;

/// A class of the file: a division, or a group drawn from divisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassRow {
    Division {
        level: String,
    },
    /// Groups of one partition share no student (FET's subgroups of one year).
    Group {
        divisions: Vec<String>,
        partition: String,
    },
}

/// One weekly lesson of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonRow {
    /// The file's own id of the lesson, stable from one export to the next.
    pub key: String,
    pub weekday: Weekday,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub subject: String,
    /// Teachers by name, as the file writes them.
    pub teachers: Vec<String>,
    /// Classes by code: divisions or groups.
    pub classes: Vec<String>,
    pub room: Option<String>,
    pub weeks: WeekPattern,
}

/// A timetable file, read.
#[derive(Debug, Clone)]
pub struct TimetableFile {
    pub format: &'static str,
    /// The classes the file defines, by code (files that list none leave it empty).
    pub classes: BTreeMap<String, Row<ClassRow>>,
    pub lessons: Vec<Row<LessonRow>>,
    pub rows: usize,
    pub notes: Vec<String>,
}

/// The establishment and its year's timetable, as the log has them.
#[derive(Debug)]
pub struct Current {
    pub establishment: Tracked<Establishment>,
    pub timetable: Tracked<Timetable>,
    /// Staff ids by their name in clear.
    staff_by_name: BTreeMap<String, String>,
}

impl Current {
    pub async fn load(
        store: &EventStore,
        tenant: &Uai,
        year: &SchoolYear,
    ) -> Result<Self, StoreError> {
        let establishment =
            plan::load::<Establishment>(store, tenant, tenant.as_str(), |_, _| {}).await?;
        let timetable = plan::load::<Timetable>(store, tenant, year.as_str(), |_, _| {}).await?;
        let mut staff_by_name = BTreeMap::new();
        for (id, member) in &establishment.state.staff {
            if let Some(name) = store.vault().open(tenant, &member.name).await? {
                staff_by_name.insert(normalize(&name), id.clone());
            }
        }
        Ok(Current {
            establishment,
            timetable,
            staff_by_name,
        })
    }
}

/// Names compared without case and extra spaces.
fn normalize(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A staff id for a teacher a timetable file names: the format, then the name's letters.
fn teacher_id(format: &str, name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{format}-{}", slug.trim_matches('-'))
}

/// The course id of a lesson of the file.
fn course_id(format: &str, key: &str) -> String {
    format!("{format}-{}", key.replace('@', "-"))
}

/// Plans the commands that bring the year's timetable to `file`, from `from` on.
pub async fn plan_timetable(
    plan: &mut Plan,
    current: &mut Current,
    file: &TimetableFile,
    year: &SchoolYear,
    from: NaiveDate,
    header: &Location,
) {
    let Some((first_day, last_day)) = current
        .establishment
        .state
        .years
        .get(year)
        .map(|y| (y.first_day, y.last_day))
    else {
        plan.problem(
            header,
            "school year",
            format!("school year {year} is not open in this establishment: open it (or import STS-Web) first"),
        );
        return;
    };
    let from = from.clamp(first_day, last_day);
    let teachers = teachers(plan, current, file).await;
    structure(plan, current, file, year).await;
    if !open_timetable(plan, current, file, year, header, (first_day, last_day)).await {
        return;
    }
    declare_groups(plan, current, file, year).await;
    courses(plan, current, file, year, &teachers, (from, last_day)).await;
}

/// Staff ids of the file's teachers, adding those the establishment does not know.
async fn teachers(
    plan: &mut Plan,
    current: &mut Current,
    file: &TimetableFile,
) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for row in &file.lessons {
        for name in &row.value.teachers {
            if ids.contains_key(name) {
                continue;
            }
            let id = match current.staff_by_name.get(&normalize(name)) {
                Some(id) => id.clone(),
                None => {
                    let id = teacher_id(file.format, name);
                    if !current.establishment.state.staff.contains_key(&id) {
                        let command = EstablishmentCommand::AddStaffMember {
                            person: id.clone(),
                            name: name.clone(),
                            roles: BTreeSet::from([Role::Teacher]),
                        };
                        let kind = ("staff", Change::Created);
                        plan.execute(
                            &mut current.establishment,
                            command,
                            &(),
                            &row.at,
                            kind,
                            "teachers",
                        )
                        .await;
                    }
                    current.staff_by_name.insert(normalize(name), id.clone());
                    id
                }
            };
            ids.insert(name.clone(), id);
        }
    }
    ids
}

/// Divisions and groups of the file the year does not have yet.
async fn structure(
    plan: &mut Plan,
    current: &mut Current,
    file: &TimetableFile,
    year: &SchoolYear,
) {
    let target = &mut current.establishment;
    // Divisions first: groups are drawn from them.
    let ordered = file
        .classes
        .iter()
        .filter(|(_, r)| matches!(r.value, ClassRow::Division { .. }))
        .chain(
            file.classes
                .iter()
                .filter(|(_, r)| matches!(r.value, ClassRow::Group { .. })),
        );
    for (code, row) in ordered {
        let Some(y) = target.state.years.get(year) else {
            return;
        };
        if y.divisions.contains_key(code) || y.groups.contains_key(code) {
            continue;
        }
        let (command, kind) = match &row.value {
            ClassRow::Division { level } => (
                EstablishmentCommand::CreateDivision {
                    year: year.clone(),
                    division: DivisionSpec {
                        id: code.clone(),
                        name: code.clone(),
                        level: level.clone(),
                    },
                },
                "divisions",
            ),
            ClassRow::Group {
                divisions,
                partition,
            } => (
                EstablishmentCommand::CreateGroup {
                    year: year.clone(),
                    group: GroupSpec {
                        id: code.clone(),
                        name: code.clone(),
                        divisions: divisions.clone(),
                        partition: partition.clone(),
                    },
                },
                "groups",
            ),
        };
        plan.execute(
            target,
            command,
            &(),
            &row.at,
            (kind, Change::Created),
            "classes",
        )
        .await;
    }
}

/// Opens the year's timetable when it is not yet, with the establishment's dates and
/// the weekdays the file has lessons on.
async fn open_timetable(
    plan: &mut Plan,
    current: &mut Current,
    file: &TimetableFile,
    year: &SchoolYear,
    header: &Location,
    (first_day, last_day): (NaiveDate, NaiveDate),
) -> bool {
    if current.timetable.state.year().is_some() {
        return true;
    }
    let mut calendar = match SchoolCalendar::new(first_day, last_day) {
        Ok(calendar) => calendar,
        Err(e) => {
            plan.problem(header, "school year", e.to_string());
            return false;
        }
    };
    let mut days: Vec<Weekday> = file
        .lessons
        .iter()
        .map(|l| l.value.weekday)
        .chain(calendar.weekdays.iter().copied())
        .collect();
    days.sort_by_key(Weekday::num_days_from_monday);
    days.dedup();
    calendar.weekdays = days;
    let command = TimetableCommand::OpenTimetable {
        year: year.to_string(),
        time_zone: current.establishment.state.time_zone,
        calendar,
    };
    let kind = ("timetables", Change::Created);
    plan.execute(
        &mut current.timetable,
        command,
        &(),
        header,
        kind,
        "timetable",
    )
    .await
}

/// The establishment's groups that the file's lessons use, declared to the timetable.
async fn declare_groups(
    plan: &mut Plan,
    current: &mut Current,
    file: &TimetableFile,
    year: &SchoolYear,
) {
    let Some(y) = current.establishment.state.years.get(year) else {
        return;
    };
    let mut declared = BTreeSet::new();
    for row in &file.lessons {
        for class in &row.value.classes {
            let Some(group) = y.groups.get(class) else {
                continue;
            };
            if current.timetable.state.group(class).is_some() || !declared.insert(class.clone()) {
                continue;
            }
            let command = TimetableCommand::DeclareGroup {
                group: class.clone(),
                divisions: group.divisions.clone(),
                partition: group.partition.clone(),
            };
            let kind = ("timetable groups", Change::Created);
            plan.execute(
                &mut current.timetable,
                command,
                &(),
                &row.at,
                kind,
                "classes",
            )
            .await;
        }
    }
}

/// Adds, changes and ends courses so that the timetable holds the file's lessons.
async fn courses(
    plan: &mut Plan,
    current: &mut Current,
    file: &TimetableFile,
    year: &SchoolYear,
    teachers: &BTreeMap<String, String>,
    (from, last_day): (NaiveDate, NaiveDate),
) {
    let prefix = format!("{}-", file.format);
    let mut listed = BTreeSet::new();
    for row in &file.lessons {
        let lesson = &row.value;
        let Some(y) = current.establishment.state.years.get(year) else {
            return;
        };
        let mut divisions = Vec::new();
        let mut groups = Vec::new();
        let mut unknown = false;
        for class in &lesson.classes {
            if y.divisions.contains_key(class) {
                divisions.push(class.clone());
            } else if y.groups.contains_key(class) {
                groups.push(class.clone());
            } else {
                plan.problem(
                    &row.at,
                    "classes",
                    format!("class {class} is neither a division nor a group of the year"),
                );
                unknown = true;
            }
        }
        if unknown {
            continue;
        }
        let base = course_id(file.format, &lesson.key);
        let spec = CourseSpec {
            id: base.clone(),
            weekday: lesson.weekday,
            start: lesson.start,
            end: lesson.end,
            subject: lesson.subject.clone(),
            teachers: lesson
                .teachers
                .iter()
                .filter_map(|t| teachers.get(t).cloned())
                .collect(),
            divisions,
            groups,
            room: lesson.room.clone(),
            weeks: lesson.weeks.clone(),
            valid_from: from,
            valid_to: last_day,
        };
        // The course of this lesson now: its first id, or the one that replaced it.
        let existing = live_course(&current.timetable.state, &base, from);
        listed.insert(base.clone());
        match existing {
            None => {
                let command = TimetableCommand::AddCourse(CourseSpec {
                    id: fresh_id(&current.timetable.state, &base, from),
                    ..spec
                });
                plan.execute(
                    &mut current.timetable,
                    command,
                    &(),
                    &row.at,
                    ("courses", Change::Created),
                    "lesson",
                )
                .await;
            }
            Some(old) if same_lesson(&old, &spec) => {}
            Some(old) if old.valid_from >= from => {
                // No lesson of it has taken place yet: redefine it.
                let command = TimetableCommand::ChangeCourse(CourseSpec {
                    id: old.id.clone(),
                    valid_from: old.valid_from,
                    ..spec
                });
                plan.execute(
                    &mut current.timetable,
                    command,
                    &(),
                    &row.at,
                    ("courses", Change::Changed),
                    "lesson",
                )
                .await;
            }
            Some(old) => {
                // Past lessons stay as they were: the course ends, a new one takes over.
                let end = TimetableCommand::EndCourse {
                    id: old.id.clone(),
                    last_day: from - Duration::days(1),
                };
                if plan
                    .execute(
                        &mut current.timetable,
                        end,
                        &(),
                        &row.at,
                        ("courses", Change::Changed),
                        "lesson",
                    )
                    .await
                {
                    let command = TimetableCommand::AddCourse(CourseSpec {
                        id: fresh_id(&current.timetable.state, &base, from),
                        ..spec
                    });
                    // The course's change was counted with its end.
                    let kind = ("courses", Change::Continued);
                    plan.execute(
                        &mut current.timetable,
                        command,
                        &(),
                        &row.at,
                        kind,
                        "lesson",
                    )
                    .await;
                }
            }
        }
    }
    // Courses an earlier file of this format made that this one no longer has.
    let gone: Vec<(String, NaiveDate)> = current
        .timetable
        .state
        .courses()
        .filter(|c| c.id.starts_with(&prefix) && c.valid_to >= from)
        .filter(|c| !listed.contains(base_of(&c.id)))
        .map(|c| (c.id.clone(), c.valid_from))
        .collect();
    for (id, valid_from) in gone {
        let command = TimetableCommand::EndCourse {
            id,
            last_day: (from - Duration::days(1)).max(valid_from),
        };
        plan.execute(
            &mut current.timetable,
            command,
            &(),
            &Location::File,
            ("courses", Change::Removed),
            "lesson",
        )
        .await;
    }
}

/// The id a course was first given (`fet-17` of `fet-17.2026-10-05`).
fn base_of(id: &str) -> &str {
    id.split_once('.').map_or(id, |(base, _)| base)
}

/// A new id for the lesson `base` from `from`: the base itself the first time, then
/// suffixed with the day it starts.
fn fresh_id(timetable: &Timetable, base: &str, from: NaiveDate) -> String {
    if timetable.course(base).is_some() {
        format!("{base}.{from}")
    } else {
        base.to_string()
    }
}

/// The course of the lesson `base` that holds on `from` or later.
fn live_course(timetable: &Timetable, base: &str, from: NaiveDate) -> Option<CourseSpec> {
    timetable
        .courses()
        .filter(|c| base_of(&c.id) == base && c.valid_to >= from)
        .max_by_key(|c| c.valid_from)
        .cloned()
}

/// Whether two definitions of a course give the same weekly lesson.
fn same_lesson(a: &CourseSpec, b: &CourseSpec) -> bool {
    a.weekday == b.weekday
        && a.start == b.start
        && a.end == b.end
        && a.subject == b.subject
        && a.teachers == b.teachers
        && a.divisions == b.divisions
        && a.groups == b.groups
        && a.room == b.room
        && a.weeks == b.weeks
}

/// Weekday names of the languages timetable tools are used in (FET writes the names its
/// user gave the days): English, French, Spanish, Italian, Portuguese, Romanian, German,
/// Bulgarian, Greek, with their usual abbreviations.
pub fn weekday(name: &str) -> Option<Weekday> {
    let n = name.trim().to_lowercase();
    let n = n.trim_end_matches('.');
    let table: [(Weekday, &[&str]); 7] = [
        (
            Weekday::Mon,
            &[
                "monday",
                "mon",
                "mo",
                "lundi",
                "lun",
                "lunes",
                "lunedi",
                "lunedì",
                "segunda",
                "segunda-feira",
                "luni",
                "montag",
                "понеделник",
                "δευτέρα",
                "δευτερα",
            ],
        ),
        (
            Weekday::Tue,
            &[
                "tuesday",
                "tue",
                "tu",
                "di",
                "mardi",
                "mar",
                "martes",
                "martedi",
                "martedì",
                "terça",
                "terca",
                "terça-feira",
                "marti",
                "marți",
                "dienstag",
                "вторник",
                "τρίτη",
                "τριτη",
            ],
        ),
        (
            Weekday::Wed,
            &[
                "wednesday",
                "wed",
                "we",
                "mi",
                "mercredi",
                "mer",
                "miércoles",
                "miercoles",
                "mercoledi",
                "mercoledì",
                "quarta",
                "quarta-feira",
                "miercuri",
                "mittwoch",
                "сряда",
                "τετάρτη",
                "τεταρτη",
            ],
        ),
        (
            Weekday::Thu,
            &[
                "thursday",
                "thu",
                "th",
                "do",
                "jeudi",
                "jeu",
                "jueves",
                "giovedi",
                "giovedì",
                "quinta",
                "quinta-feira",
                "joi",
                "donnerstag",
                "четвъртък",
                "πέμπτη",
                "πεμπτη",
            ],
        ),
        (
            Weekday::Fri,
            &[
                "friday",
                "fri",
                "fr",
                "vendredi",
                "ven",
                "viernes",
                "venerdi",
                "venerdì",
                "sexta",
                "sexta-feira",
                "vineri",
                "freitag",
                "петък",
                "παρασκευή",
                "παρασκευη",
            ],
        ),
        (
            Weekday::Sat,
            &[
                "saturday",
                "sat",
                "sa",
                "samedi",
                "sam",
                "sábado",
                "sabado",
                "sabato",
                "sâmbătă",
                "sambata",
                "samstag",
                "събота",
                "σάββατο",
                "σαββατο",
            ],
        ),
        (
            Weekday::Sun,
            &[
                "sunday",
                "sun",
                "su",
                "dimanche",
                "dim",
                "domingo",
                "dom",
                "domenica",
                "duminică",
                "duminica",
                "sonntag",
                "неделя",
                "κυριακή",
                "κυριακη",
            ],
        ),
    ];
    table
        .iter()
        .find(|(_, names)| names.contains(&n))
        .map(|(day, _)| *day)
}

/// The times an hour's name gives: `08:00-08:50`, `14.40 - 15.40`, `8h00`, `10:05`
/// (start only), `6ª 13:45 - FP13:45` (the first time), and in 12-hour notation
/// `01:15p`, `1:15 PM - 2:10 PM`, `12:30a.m.` (FET writes what the school typed). `None`
/// when it holds no time.
pub fn hour_times(name: &str) -> Option<(NaiveTime, Option<NaiveTime>)> {
    let mut times = Vec::new();
    let chars: Vec<char> = name.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && chars[j].is_ascii_digit() {
            j += 1;
        }
        let hours: String = chars[i..j].iter().collect();
        if chars
            .get(j)
            .is_some_and(|c| matches!(c, ':' | '.' | 'h' | 'H'))
            && chars.get(j + 1).is_some_and(char::is_ascii_digit)
            && chars.get(j + 2).is_some_and(char::is_ascii_digit)
        {
            let minutes: String = chars[j + 1..j + 3].iter().collect();
            let (meridiem, after) = meridiem(&chars, j + 3);
            if let (Ok(h), Ok(m)) = (hours.parse::<u32>(), minutes.parse::<u32>()) {
                let h = match meridiem {
                    // 12-hour notation: 1 to 12 only.
                    Some(_) if !(1..=12).contains(&h) => None,
                    Some(Meridiem::Am) => Some(h % 12),
                    Some(Meridiem::Pm) => Some(h % 12 + 12),
                    None => Some(h),
                };
                if let Some(t) = h.and_then(|h| NaiveTime::from_hms_opt(h, m, 0)) {
                    times.push(t);
                }
            }
            i = after;
        } else {
            i = j;
        }
    }
    let start = *times.first()?;
    let end = times.get(1).copied().filter(|end| *end > start);
    Some((start, end))
}

enum Meridiem {
    Am,
    Pm,
}

/// The `a`/`p` of a 12-hour time at `at` (after optional spaces: `a`, `p`, `am`, `PM`,
/// `a.m.`), and where the text goes on after it. A letter that starts a word (`8:00 art`)
/// is not one.
fn meridiem(chars: &[char], at: usize) -> (Option<Meridiem>, usize) {
    let mut i = at;
    while chars.get(i) == Some(&' ') {
        i += 1;
    }
    let which = match chars.get(i).map(|c| c.to_ascii_lowercase()) {
        Some('a') => Meridiem::Am,
        Some('p') => Meridiem::Pm,
        _ => return (None, at),
    };
    let mut end = i + 1;
    if chars.get(end) == Some(&'.') {
        end += 1;
    }
    if chars.get(end).is_some_and(|c| c.eq_ignore_ascii_case(&'m')) {
        end += 1;
        if chars.get(end) == Some(&'.') {
            end += 1;
        }
    }
    if chars.get(end).is_some_and(|c| c.is_alphanumeric()) {
        return (None, at);
    }
    (Some(which), end)
}

/// The year an establishment's log is about: for a `from` date, the school year it falls in.
pub fn year_of(date: NaiveDate) -> SchoolYear {
    let first = if date.month() >= 8 {
        date.year()
    } else {
        date.year() - 1
    };
    SchoolYear::starting(u16::try_from(first).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn hours_as_tools_name_them() {
        assert_eq!(hour_times("08:00-8:50"), Some((t(8, 0), Some(t(8, 50)))));
        assert_eq!(
            hour_times("14.40 - 15.40"),
            Some((t(14, 40), Some(t(15, 40))))
        );
        assert_eq!(hour_times("10:05"), Some((t(10, 5), None)));
        assert_eq!(hour_times("8h00-8h55"), Some((t(8, 0), Some(t(8, 55)))));
        assert_eq!(hour_times("6ª 13:45 - FP13:45"), Some((t(13, 45), None)));
        assert_eq!(hour_times("1ª"), None);
        assert_eq!(hour_times("2"), None);
    }

    #[test]
    fn hours_in_twelve_hour_notation() {
        assert_eq!(hour_times("01:15p"), Some((t(13, 15), None)));
        assert_eq!(hour_times("12:00p"), Some((t(12, 0), None)));
        assert_eq!(hour_times("12:30a"), Some((t(0, 30), None)));
        assert_eq!(
            hour_times("11:15 AM - 1:10 PM"),
            Some((t(11, 15), Some(t(13, 10))))
        );
        assert_eq!(
            hour_times("8:00a.m.-8:55a.m."),
            Some((t(8, 0), Some(t(8, 55))))
        );
        // Not a meridiem: a word that starts with a or p, or an hour past 12.
        assert_eq!(hour_times("8:00 art"), Some((t(8, 0), None)));
        assert_eq!(hour_times("13:00p"), None);
    }

    #[test]
    fn weekdays_in_the_languages_of_the_examples() {
        assert_eq!(weekday("Lundi"), Some(Weekday::Mon));
        assert_eq!(weekday("Miércoles"), Some(Weekday::Wed));
        assert_eq!(weekday("Joi"), Some(Weekday::Thu));
        assert_eq!(weekday("Петък"), Some(Weekday::Fri));
        assert_eq!(weekday("Τετάρτη"), Some(Weekday::Wed));
        assert_eq!(weekday("Mo"), Some(Weekday::Mon));
        assert_eq!(weekday("Sunday"), Some(Weekday::Sun));
        assert_eq!(weekday("Dimanche"), Some(Weekday::Sun));
        assert_eq!(weekday("Daily"), None);
    }
}
