//! aSc Timetables: its XML export (File → Import/Export → XML, "aSc Timetables 2008 XML"),
//! the format aSc documents for exchanging a whole timetable with other software.
//!
//! Layout (root `timetable`; ids are aSc's own, e.g. `*1`; lists of ids are joined with
//! commas; days, weeks and terms are bit masks, first character first):
//!
//! ```text
//! periods/period   @period @short @starttime (h:mm) @endtime
//! daysdefs/daysdef @id @name @days (10000 = Monday)
//! weeksdefs/weeksdef @id @name @weeks (11 = every week, 10 = week A, 01 = week B)
//! subjects/subject @id @name @short
//! teachers/teacher @id @firstname @lastname @name @short
//! classrooms/classroom @id @name @short
//! classes/class    @id @name @short
//! groups/group     @id @name @classid @entireclass (1: the whole class) @divisiontag
//! lessons/lesson   @id @classids @subjectid @teacherids @groupids @classroomids @weeksdefid @daysdefid
//! cards/card       @lessonid @classroomids @period @days @weeks
//! ```
//!
//! Each card is one period of a lesson on the days its mask names; cards of one lesson
//! on one day in consecutive periods are one course. A group that is not the entire class
//! becomes a group of that division named `<class>-<group>`, in the partition of its
//! division tag (aSc's "divisions": the groups of one division of a class are disjoint).

use std::collections::BTreeMap;

use carnet_domain::timetable::WeekPattern;
use chrono::{NaiveTime, Weekday};
use roxmltree::Node;

use crate::report::{ImportError, Location};
use crate::roster::Row;
use crate::source::SourceFile;
use crate::timetable::{ClassRow, LessonRow, TimetableFile};
use crate::xml::{self, attribute, children};

pub const FORMAT: &str = "asc";

/// An element's attributes by id, with where it stands.
struct Table<'a, 'input> {
    nodes: BTreeMap<String, Node<'a, 'input>>,
}

impl<'a, 'input> Table<'a, 'input> {
    fn get(&self, id: &str) -> Option<Node<'a, 'input>> {
        self.nodes.get(id).copied()
    }
}

fn ids(node: Node<'_, '_>, name: &'static str) -> Vec<String> {
    attribute(node, name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn label(node: Node<'_, '_>) -> String {
    attribute(node, "short")
        .or_else(|| attribute(node, "name"))
        .unwrap_or_default()
}

/// Reads an aSc XML export; every problem is listed.
pub fn read(source: &SourceFile) -> Result<TimetableFile, ImportError> {
    let document = xml::parse(source).map_err(|p| ImportError::Invalid(vec![p]))?;
    let root = document.root_element();
    if root.tag_name().name() != "timetable" {
        return Err(ImportError::Invalid(vec![source.problem(
            Location::File,
            "root element",
            format!(
                "an aSc export starts with <timetable>, this file with <{}>",
                root.tag_name().name()
            ),
        )]));
    }
    let mut problems = Vec::new();
    let mut report = |node: Node<'_, '_>, field: &str, rule: String| {
        problems.push(source.problem(xml::location(&document, node), field, rule));
    };
    let table = |list: &'static str,
                 item: &'static str,
                 report: &mut dyn FnMut(Node<'_, '_>, &str, String)| {
        let mut nodes = BTreeMap::new();
        for node in root
            .children()
            .filter(|n| n.tag_name().name() == list)
            .flat_map(|n| children(n, item))
        {
            match attribute(node, "id") {
                Some(id) if nodes.contains_key(&id) => {
                    report(node, "id", format!("{item} id {id} is used twice"))
                }
                Some(id) => {
                    nodes.insert(id, node);
                }
                None => report(node, "id", format!("the {item} has no id")),
            }
        }
        Table { nodes }
    };
    let subjects = table("subjects", "subject", &mut report);
    let teachers = table("teachers", "teacher", &mut report);
    let rooms = table("classrooms", "classroom", &mut report);
    let classes = table("classes", "class", &mut report);
    let groups = table("groups", "group", &mut report);
    let lessons_table = table("lessons", "lesson", &mut report);

    let mut periods: BTreeMap<String, (NaiveTime, NaiveTime)> = BTreeMap::new();
    for node in root
        .children()
        .filter(|n| n.tag_name().name() == "periods")
        .flat_map(|n| children(n, "period"))
    {
        let name = attribute(node, "period")
            .or_else(|| attribute(node, "name"))
            .unwrap_or_default();
        let time = |a: &'static str| {
            attribute(node, a).and_then(|t| NaiveTime::parse_from_str(&t, "%H:%M").ok())
        };
        match (time("starttime"), time("endtime")) {
            (Some(start), Some(end)) if end > start => {
                periods.insert(name, (start, end));
            }
            _ => report(
                node,
                "starttime",
                format!("period {name} has no valid start and end times (h:mm)"),
            ),
        }
    }

    // The classes Carnet gets: every class a division, every partial group a group.
    let mut class_rows = BTreeMap::new();
    for (id, node) in &classes.nodes {
        let code = label(*node);
        if code.is_empty() {
            report(*node, "short", format!("class {id} has no name"));
            continue;
        }
        class_rows.insert(
            code.clone(),
            Row {
                at: xml::location(&document, *node),
                value: ClassRow::Division {
                    level: crate::mef::level(None, None, &code),
                },
            },
        );
    }
    let group_code = |group: Node<'_, '_>| -> Option<(String, bool)> {
        let class = classes.get(&attribute(group, "classid")?)?;
        let whole = attribute(group, "entireclass").as_deref() == Some("1");
        Some(if whole {
            (label(class), true)
        } else {
            (format!("{}-{}", label(class), label(group)), false)
        })
    };
    for (id, node) in &groups.nodes {
        let Some(class) = attribute(*node, "classid").and_then(|c| classes.get(&c)) else {
            report(
                *node,
                "classid",
                format!("group {id} names a class the file does not define"),
            );
            continue;
        };
        if let Some((code, false)) = group_code(*node) {
            let partition = format!(
                "{}-{}",
                label(class),
                attribute(*node, "divisiontag").unwrap_or_default()
            );
            class_rows.insert(
                code,
                Row {
                    at: xml::location(&document, *node),
                    value: ClassRow::Group {
                        divisions: vec![label(class)],
                        partition,
                    },
                },
            );
        }
    }

    // Cards: (lesson, day) -> periods, with the card's rooms and weeks.
    struct Card<'a, 'input> {
        node: Node<'a, 'input>,
        period: String,
        rooms: Vec<String>,
        weeks: String,
    }
    let mut cards: BTreeMap<(String, usize), Vec<Card>> = BTreeMap::new();
    let mut rows = 0;
    for node in root
        .children()
        .filter(|n| n.tag_name().name() == "cards")
        .flat_map(|n| children(n, "card"))
    {
        rows += 1;
        let Some(lesson) = attribute(node, "lessonid") else {
            report(node, "lessonid", "the card names no lesson".into());
            continue;
        };
        if lessons_table.get(&lesson).is_none() {
            report(
                node,
                "lessonid",
                format!("lesson {lesson} is not among the file's lessons"),
            );
            continue;
        }
        let period = attribute(node, "period").unwrap_or_default();
        if !periods.contains_key(&period) {
            report(
                node,
                "period",
                format!("period `{period}` is not among the file's periods"),
            );
            continue;
        }
        let days = attribute(node, "days").unwrap_or_default();
        let day_indexes: Vec<usize> = days
            .char_indices()
            .filter(|(_, c)| *c == '1')
            .map(|(i, _)| i)
            .collect();
        if day_indexes.is_empty() || day_indexes.iter().any(|i| *i > 5) {
            report(
                node,
                "days",
                format!("`{days}` names no day from Monday to Saturday"),
            );
            continue;
        }
        let mut room_names = Vec::new();
        for room in ids(node, "classroomids") {
            match rooms.get(&room) {
                Some(r) => room_names.push(label(r)),
                None => report(
                    node,
                    "classroomids",
                    format!("classroom {room} is not among the file's classrooms"),
                ),
            }
        }
        let weeks = attribute(node, "weeks").unwrap_or_default();
        for day in day_indexes {
            cards.entry((lesson.clone(), day)).or_default().push(Card {
                node,
                period: period.clone(),
                rooms: room_names.clone(),
                weeks: weeks.clone(),
            });
        }
    }

    // Periods in the order of the day, for runs of consecutive ones.
    let mut order: Vec<(&String, &(NaiveTime, NaiveTime))> = periods.iter().collect();
    order.sort_by_key(|(_, (start, _))| *start);
    let rank: BTreeMap<&String, usize> = order
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (*name, i))
        .collect();

    let mut lessons = Vec::new();
    for ((lesson_id, day), day_cards) in cards {
        let Some(lesson) = lessons_table.get(&lesson_id) else {
            continue;
        };
        let subject = match attribute(lesson, "subjectid").and_then(|s| subjects.get(&s)) {
            Some(subject) => attribute(subject, "name").unwrap_or_else(|| label(subject)),
            None => {
                report(
                    lesson,
                    "subjectid",
                    format!("lesson {lesson_id} names no subject of the file"),
                );
                continue;
            }
        };
        let mut names = Vec::new();
        for id in ids(lesson, "teacherids") {
            match teachers.get(&id) {
                Some(t) => names.push(teacher_name(t)),
                None => report(
                    lesson,
                    "teacherids",
                    format!("teacher {id} is not among the file's teachers"),
                ),
            }
        }
        let mut lesson_classes = Vec::new();
        let group_ids = ids(lesson, "groupids");
        if group_ids.is_empty() {
            for id in ids(lesson, "classids") {
                match classes.get(&id) {
                    Some(c) => lesson_classes.push(label(c)),
                    None => report(
                        lesson,
                        "classids",
                        format!("class {id} is not among the file's classes"),
                    ),
                }
            }
        } else {
            for id in group_ids {
                match groups.get(&id).and_then(group_code) {
                    Some((code, _)) => lesson_classes.push(code),
                    None => report(
                        lesson,
                        "groupids",
                        format!("group {id} is not among the file's groups"),
                    ),
                }
            }
        }
        lesson_classes.dedup();
        if lesson_classes.is_empty() {
            report(
                lesson,
                "classids",
                format!("lesson {lesson_id} has no class"),
            );
            continue;
        }
        let week = match day_cards[0].weeks.as_str() {
            "" | "1" | "11" => WeekPattern::Every,
            "10" => WeekPattern::A,
            "01" => WeekPattern::B,
            other => {
                report(day_cards[0].node, "weeks", format!("`{other}` is a cycle Carnet does not follow: every week (11), week A (10) or week B (01)"));
                continue;
            }
        };
        let mut by_rank: Vec<(usize, &Card)> = day_cards
            .iter()
            .filter_map(|c| Some((*rank.get(&c.period)?, c)))
            .collect();
        by_rank.sort_by_key(|(r, _)| *r);
        let mut runs: Vec<Vec<(usize, &Card)>> = Vec::new();
        for (r, card) in by_rank {
            match runs.last_mut() {
                Some(run) if run.last().is_some_and(|(last, _)| last + 1 == r) => {
                    run.push((r, card))
                }
                Some(run) if run.last().is_some_and(|(last, _)| *last == r) => {}
                _ => runs.push(vec![(r, card)]),
            }
        }
        for run in runs {
            let (Some((first_rank, first)), Some((last_rank, _))) = (run.first(), run.last())
            else {
                continue;
            };
            let start = order[*first_rank].1 .0;
            let end = order[*last_rank].1 .1;
            let mut rooms_used: Vec<String> =
                run.iter().flat_map(|(_, c)| c.rooms.clone()).collect();
            rooms_used.sort();
            rooms_used.dedup();
            lessons.push(Row {
                at: xml::location(&document, first.node),
                value: LessonRow {
                    key: format!(
                        "{}-{}-{}",
                        lesson_id.trim_start_matches('*'),
                        day + 1,
                        first.period
                    ),
                    weekday: WEEKDAYS[day],
                    start,
                    end,
                    subject: subject.clone(),
                    teachers: names.clone(),
                    classes: lesson_classes.clone(),
                    room: (!rooms_used.is_empty()).then(|| rooms_used.join("+")),
                    weeks: week.clone(),
                },
            });
        }
    }
    if !problems.is_empty() {
        return Err(ImportError::Invalid(problems));
    }
    Ok(TimetableFile {
        format: FORMAT,
        classes: class_rows,
        lessons,
        rows,
        notes: Vec::new(),
    })
}

const WEEKDAYS: [Weekday; 6] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
];

/// A teacher's name as aSc holds it: first and last name, or its name, or its code.
fn teacher_name(teacher: Node<'_, '_>) -> String {
    match (
        attribute(teacher, "firstname"),
        attribute(teacher, "lastname"),
    ) {
        (Some(first), Some(last)) => format!("{first} {last}"),
        (None, Some(last)) => last,
        _ => attribute(teacher, "name").unwrap_or_else(|| label(teacher)),
    }
}
