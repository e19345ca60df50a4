//! The lines of fiches-T (`UDCal_12`) as lessons: runs of one lesson's lines in
//! consecutive half-sequences of one day.

use std::collections::BTreeMap;

use super::records::Record;
use super::weeks::Sample;
use super::{Export, Place, Tables, DIVISIONS, LINES, ROOMS, SUBJECTS, TEACHERS, WEEKDAYS};
use crate::report::Problem;
use crate::roster::Row;
use crate::timetable::{ClassRow, LessonRow};

/// What makes lines one lesson, as entcore groups them: division, subject, teacher,
/// regroupement, group. A regroupement's lines (one per division it gathers) are one
/// lesson: their division is left out.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Lesson {
    division: String,
    subject: String,
    teacher: String,
    regrouping: String,
    group: String,
}

impl Lesson {
    /// The lesson of a line; `None` for lines without a division or a subject.
    pub fn of(record: &Record<'_>) -> Option<Self> {
        let regrouping = record
            .get("rgpmt")
            .filter(|r| *r != "0")
            .unwrap_or_default();
        let division = record.get("div")?;
        Some(Lesson {
            division: if regrouping.is_empty() {
                division.to_string()
            } else {
                String::new()
            },
            subject: record.get("mat")?.to_string(),
            teacher: record.or_empty("prof").to_string(),
            regrouping: regrouping.to_string(),
            group: record.or_empty("gpe").to_string(),
        })
    }

    /// The lesson's key at `place`, stable from one export to the next.
    pub fn key(&self, place: &Place) -> String {
        let class = if !self.regrouping.is_empty() {
            format!("r{}", slug(&self.regrouping))
        } else if !self.group.is_empty() {
            format!("g{}", slug(&self.group))
        } else {
            "_".into()
        };
        let mut key = format!(
            "{}-{}-{}-{class}-{}-{}",
            if self.division.is_empty() {
                "_".into()
            } else {
                slug(&self.division)
            },
            slug(&self.subject),
            if self.teacher.is_empty() {
                "_".into()
            } else {
                slug(&self.teacher)
            },
            place.day + 1,
            place.sequence
        );
        // Most establishments have one site, `1`: its lessons' keys do not name it.
        if !place.site.is_empty() && place.site != "1" {
            key = format!("{key}-s{}", slug(&place.site));
        }
        key
    }
}

/// A code's letters and digits (others as `_`): course ids hold no `.` nor `@`.
fn slug(code: &str) -> String {
    code.chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect()
}

/// The key of a weekly timetable's line, when it is one Carnet can place.
pub(super) fn key_of(record: &Record<'_>, tables: &Tables) -> Option<String> {
    let place = tables.cards.get(record.get("fic")?)?;
    Some(Lesson::of(record)?.key(place))
}

/// One line of the yearly timetable, checked.
struct Line<'r, 'b> {
    record: &'r Record<'b>,
    lesson: Lesson,
    place: Place,
    room: Option<String>,
    classes: Vec<String>,
}

/// The yearly timetable's lessons; the groups they use are added to `classes`.
pub(super) fn read(
    export: &Export<'_>,
    tables: &Tables,
    sample: &Sample,
    classes: &mut BTreeMap<String, Row<ClassRow>>,
    problems: &mut Vec<Problem>,
) -> (Vec<Row<LessonRow>>, usize) {
    let mut skipped = 0;
    let mut runs: BTreeMap<(Lesson, usize, String), Vec<Line>> = BTreeMap::new();
    for record in export.records(LINES) {
        let Some(lesson) = Lesson::of(record) else {
            skipped += 1;
            continue;
        };
        if let Some(line) = check(record, lesson, tables, classes, problems) {
            let day = (line.lesson.clone(), line.place.day, line.place.site.clone());
            runs.entry(day).or_default().push(line);
        }
    }
    let mut lessons = Vec::new();
    for mut lines in runs.into_values() {
        lines.sort_by_key(|l| l.place.sequence);
        lines.dedup_by_key(|l| l.place.sequence);
        let mut start = 0;
        for i in 1..=lines.len() {
            let follows = i < lines.len()
                && lines[i - 1].place.sequence.checked_add(1) == Some(lines[i].place.sequence);
            if !follows {
                lessons.push(lesson(&lines[start..i], tables, sample));
                start = i;
            }
        }
    }
    (lessons, skipped)
}

/// A line whose references all hold, with its classes (added to `classes`).
fn check<'r, 'b>(
    record: &'r Record<'b>,
    lesson: Lesson,
    tables: &Tables,
    classes: &mut BTreeMap<String, Row<ClassRow>>,
    problems: &mut Vec<Problem>,
) -> Option<Line<'r, 'b>> {
    let before = problems.len();
    let mut missing = |field: &str, rule: String| problems.push(record.problem(field, rule));
    let division = record.or_empty("div");
    if !tables.divisions.contains_key(division) {
        missing(
            "div",
            format!("division {division} is not among {DIVISIONS}'s divisions"),
        );
    }
    if !tables.subjects.contains_key(&lesson.subject) {
        let subject = &lesson.subject;
        missing(
            "mat",
            format!("subject {subject} is not among {SUBJECTS}'s subjects"),
        );
    }
    if !lesson.teacher.is_empty() && !tables.teachers.contains_key(&lesson.teacher) {
        let teacher = &lesson.teacher;
        missing(
            "prof",
            format!("teacher {teacher} is not among {TEACHERS}'s teachers"),
        );
    }
    let card = record.or_empty("fic");
    let place = tables.cards.get(card).cloned();
    // A fiche-T with a problem of its own is not reported again.
    if place.is_none() && !tables.broken_cards.contains(card) {
        missing(
            "fic",
            format!("fiche-T `{card}` is not among {}'s fiches-T", super::CARDS),
        );
    }
    let room = match (record.get("salle"), &tables.rooms) {
        (None, _) => None,
        (Some(code), None) => Some(code.to_string()),
        (Some(code), Some(rooms)) => {
            if !rooms.contains_key(code) {
                missing("salle", format!("room {code} is not among {ROOMS}'s rooms"));
            }
            rooms.get(code).cloned()
        }
    };
    let line_classes = if lesson.regrouping.is_empty() {
        group_classes(record, &lesson, tables, classes)
    } else if let Some(name) = regrouping_class(&lesson.regrouping, tables, classes) {
        vec![name]
    } else {
        let (code, file) = (&lesson.regrouping, super::REGROUPINGS);
        missing(
            "rgpmt",
            format!("regroupement {code} is not among {file}'s regroupements"),
        );
        Vec::new()
    };
    (problems.len() == before).then_some(Line {
        record,
        lesson,
        place: place?,
        room,
        classes: line_classes,
    })
}

/// The group of the regroupement `code` (added to `classes`), when the export has it.
fn regrouping_class(
    code: &str,
    tables: &Tables,
    classes: &mut BTreeMap<String, Row<ClassRow>>,
) -> Option<String> {
    let (name, divisions, at) = tables.regroupings.get(code)?;
    let row = ClassRow::Group {
        divisions: divisions.clone(),
        partition: name.clone(),
    };
    classes.entry(name.clone()).or_insert(Row {
        at: at.clone(),
        value: row,
    });
    Some(name.clone())
}

/// A line's class without regroupement: its group of the division, or its division.
fn group_classes(
    record: &Record<'_>,
    lesson: &Lesson,
    tables: &Tables,
    classes: &mut BTreeMap<String, Row<ClassRow>>,
) -> Vec<String> {
    let division = &lesson.division;
    if lesson.group.is_empty() {
        return vec![division.clone()];
    }
    let code = tables
        .groups
        .get(&(division.clone(), lesson.group.clone()))
        .cloned()
        .unwrap_or_else(|| format!("{division}-{}", lesson.group));
    let row = ClassRow::Group {
        divisions: vec![division.clone()],
        partition: code.clone(),
    };
    classes.entry(code.clone()).or_insert(Row {
        at: record.at.clone(),
        value: row,
    });
    vec![code]
}

/// The course of a run of lines in consecutive half-sequences.
fn lesson(run: &[Line<'_, '_>], tables: &Tables, sample: &Sample) -> Row<LessonRow> {
    let first = &run[0];
    let last = &run[run.len() - 1];
    let time = |line: &Line<'_, '_>| tables.slots.times.get(&line.place).copied();
    let (start, _) = time(first).unwrap_or_default();
    let (_, end) = time(last).unwrap_or_default();
    let lesson = &first.lesson;
    let mut teachers: Vec<String> = Vec::new();
    let codes = std::iter::once(&lesson.teacher)
        .filter(|t| !t.is_empty())
        .chain(run.iter().flat_map(|line| {
            line.record
                .get("code")
                .and_then(|code| tables.coteachers.get(code))
                .into_iter()
                .flatten()
        }));
    for code in codes {
        let Some(name) = tables.teachers.get(code) else {
            continue;
        };
        if !teachers.contains(name) {
            teachers.push(name.clone());
        }
    }
    let mut rooms: Vec<String> = run.iter().filter_map(|l| l.room.clone()).collect();
    rooms.sort();
    rooms.dedup();
    let key = lesson.key(&first.place);
    Row {
        at: first.record.at.clone(),
        value: LessonRow {
            weeks: sample.pattern(&key),
            key,
            weekday: WEEKDAYS[first.place.day],
            start,
            end,
            subject: tables
                .subjects
                .get(&lesson.subject)
                .cloned()
                .unwrap_or_default(),
            teachers,
            classes: first.classes.clone(),
            room: (!rooms.is_empty()).then(|| rooms.join("+")),
        },
    }
}
