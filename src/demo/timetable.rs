//! The demo's timetable: every division's weekly hours placed by a greedy builder so
//! that no teacher, room or class is in two places at once (the timetable aggregate
//! checks it again, and refuses the demo if the builder got it wrong), with half hours
//! as week A / week B lessons, LV2 groups side by side, and a few exceptions of the term.

use std::collections::{BTreeMap, HashSet};

use carnet_domain::calendar::WeekLabel;
use carnet_domain::enrolment::{ClassRef, YearSpec};
use carnet_domain::timetable::{CourseSpec, TimetableCommand as T, WeekPattern};
use chrono::{Duration, NaiveDate, NaiveTime, Weekday};
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::calendar::calendar;
use super::structure::{RoomKind, Structure, SubjectHours, SUBJECTS};
use super::{DemoError, Runner};

/// Lesson start times: four in the morning, three in the afternoon (55-minute lessons).
pub const HOURS: [(u32, u32); 7] = [
    (8, 0),
    (9, 0),
    (10, 0),
    (11, 0),
    (13, 30),
    (14, 30),
    (15, 30),
];
const DAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];

/// The timetable stream of a school year.
pub fn stream(year: &YearSpec) -> String {
    year.year.to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Slot {
    day: usize,
    hour: usize,
}

impl Slot {
    fn all() -> Vec<Slot> {
        let mut slots = Vec::new();
        for (day, weekday) in DAYS.iter().enumerate() {
            // Wednesday afternoon is free in collèges.
            let hours = if *weekday == Weekday::Wed {
                4
            } else {
                HOURS.len()
            };
            for hour in 0..hours {
                slots.push(Slot { day, hour });
            }
        }
        slots
    }
}

/// One lesson to place: the courses that take place together (one, or the LV2 groups
/// of a division side by side).
struct Item {
    division: String,
    subject: usize,
    pattern: WeekPattern,
    /// (group if not the whole division, teacher) for each course of the item.
    parts: Vec<(Option<String>, String)>,
}

/// Who and what is busy when: keys are "d:4e1", "t:maths3", "r:Labo 2".
#[derive(Default)]
struct Busy(HashSet<(String, Slot, WeekLabel)>);

impl Busy {
    fn weeks(pattern: &WeekPattern) -> &'static [WeekLabel] {
        match pattern {
            WeekPattern::A => &[WeekLabel::A],
            WeekPattern::B => &[WeekLabel::B],
            _ => &[WeekLabel::A, WeekLabel::B],
        }
    }

    fn free(&self, key: &str, slot: Slot, pattern: &WeekPattern) -> bool {
        Self::weeks(pattern)
            .iter()
            .all(|w| !self.0.contains(&(key.to_string(), slot, *w)))
    }

    fn take(&mut self, key: &str, slot: Slot, pattern: &WeekPattern) {
        for w in Self::weeks(pattern) {
            self.0.insert((key.to_string(), slot, *w));
        }
    }
}

fn rooms(kind: RoomKind, count: usize) -> Vec<String> {
    (1..=count)
        .map(|n| match kind {
            RoomKind::Classroom => format!("Salle {}", 100 + n),
            other => format!("{} {n}", other.label()),
        })
        .collect()
}

/// The courses of the year, placed.
pub fn build(plan: &Structure, year: &YearSpec) -> Result<Vec<CourseSpec>, DemoError> {
    let teacher_of: BTreeMap<(usize, ClassRef), &str> = plan
        .services
        .iter()
        .map(|(t, s, c)| ((*s, c.clone()), t.as_str()))
        .collect();
    let mut items = Vec::new();
    for division in &plan.divisions {
        for (index, subject) in SUBJECTS.iter().enumerate() {
            if subject.lv2 {
                continue;
            }
            let teacher = teacher_of
                .get(&(index, ClassRef::Division(division.id.clone())))
                .copied()
                .unwrap_or("vacant");
            for pattern in patterns(subject) {
                items.push(Item {
                    division: division.id.clone(),
                    subject: index,
                    pattern,
                    parts: vec![(None, teacher.to_string())],
                });
            }
        }
        if division.level != "6e" {
            let lv2: Vec<(usize, &SubjectHours)> =
                SUBJECTS.iter().enumerate().filter(|(_, s)| s.lv2).collect();
            if let Some((first, subject)) = lv2.first() {
                let parts: Vec<(Option<String>, String)> = lv2
                    .iter()
                    .map(|(index, s)| {
                        let group = format!("{}-{}", division.id, s.short);
                        let teacher = teacher_of
                            .get(&(*index, ClassRef::Group(group.clone())))
                            .copied()
                            .unwrap_or("vacant");
                        (Some(group), teacher.to_string())
                    })
                    .collect();
                for pattern in patterns(subject) {
                    items.push(Item {
                        division: division.id.clone(),
                        subject: *first,
                        pattern,
                        parts: parts.clone(),
                    });
                }
            }
        }
    }
    // Rooms: enough of each kind for its hours, with some slack.
    let slots = Slot::all();
    let mut need: BTreeMap<RoomKind, usize> = BTreeMap::new();
    for item in &items {
        *need.entry(SUBJECTS[item.subject].room).or_default() += item.parts.len();
    }
    let rooms: BTreeMap<RoomKind, Vec<String>> = need
        .iter()
        .map(|(kind, hours)| (*kind, rooms(*kind, hours * 10 / (slots.len() * 7) + 2)))
        .collect();

    // The hardest first: LV2 (two teachers and two rooms at once), then labs and gyms.
    // Divisions take turns (the n-th lesson of every division, then the next), so that a
    // teacher's classes share the week fairly rather than the last one getting what is
    // left.
    let mut rank: BTreeMap<String, usize> = BTreeMap::new();
    let mut ranked: Vec<(usize, Item)> = items
        .into_iter()
        .map(|item| {
            let r = rank.entry(item.division.clone()).or_default();
            *r += 1;
            (*r, item)
        })
        .collect();
    ranked.sort_by_key(|(r, i)| {
        (
            std::cmp::Reverse(i.parts.len()),
            SUBJECTS[i.subject].room == RoomKind::Classroom,
            *r,
        )
    });
    let items: Vec<Item> = ranked.into_iter().map(|(_, i)| i).collect();

    let mut failure = None;
    for stride in STRIDES {
        match place(&items, &rooms, &slots, stride, year) {
            Ok(courses) => return Ok(courses),
            Err(e) => failure = Some(e),
        }
    }
    Err(failure.unwrap_or(DemoError::TooFew(0)))
}

/// Strides tried in turn (coprime with the 32 weekly slots, so every slot is visited).
const STRIDES: [usize; 8] = [7, 5, 11, 13, 3, 9, 15, 17];

/// Places every item, or fails on the first that finds no slot. The builder is greedy:
/// `stride` changes where each item starts looking, and another stride is tried when one
/// paints itself into a corner.
fn place(
    items: &[Item],
    rooms: &BTreeMap<RoomKind, Vec<String>>,
    slots: &[Slot],
    stride: usize,
    year: &YearSpec,
) -> Result<Vec<CourseSpec>, DemoError> {
    let mut busy = Busy::default();
    let mut courses = Vec::new();
    let mut per_day: HashSet<(String, usize, usize)> = HashSet::new();
    for (n, item) in items.iter().enumerate() {
        let kind = SUBJECTS[item.subject].room;
        let candidates = &rooms[&kind];
        let division_key = format!("d:{}", item.division);
        // Spread lessons: start the search at a different slot for each item, and
        // prefer days that do not already have this subject.
        let order: Vec<Slot> = (0..slots.len())
            .map(|k| slots[(k + n * stride) % slots.len()])
            .collect();
        let mut placed = None;
        'search: for pass in 0..2 {
            for slot in &order {
                if pass == 0 && per_day.contains(&(item.division.clone(), item.subject, slot.day)) {
                    continue;
                }
                if !busy.free(&division_key, *slot, &item.pattern) {
                    continue;
                }
                if !item
                    .parts
                    .iter()
                    .all(|(_, t)| busy.free(&format!("t:{t}"), *slot, &item.pattern))
                {
                    continue;
                }
                let free_rooms: Vec<&String> = candidates
                    .iter()
                    .filter(|r| busy.free(&format!("r:{r}"), *slot, &item.pattern))
                    .take(item.parts.len())
                    .collect();
                if free_rooms.len() == item.parts.len() {
                    placed = Some((*slot, free_rooms));
                    break 'search;
                }
            }
        }
        let Some((slot, chosen)) = placed else {
            return Err(DemoError::Refused {
                what: format!("timetable of {}", item.division),
                reason: format!(
                    "no free slot left for {} ({:?}) after {} tries",
                    SUBJECTS[item.subject].name,
                    item.pattern,
                    STRIDES.len()
                ),
            });
        };
        busy.take(&division_key, slot, &item.pattern);
        per_day.insert((item.division.clone(), item.subject, slot.day));
        for ((group, teacher), room) in item.parts.iter().zip(chosen) {
            busy.take(&format!("t:{teacher}"), slot, &item.pattern);
            busy.take(&format!("r:{room}"), slot, &item.pattern);
            let (h, m) = HOURS[slot.hour];
            let start = NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default();
            let class = group.clone().unwrap_or_else(|| item.division.clone());
            let subject = match group {
                Some(g) => g.rsplit('-').next().unwrap_or_default().to_string(),
                None => SUBJECTS[item.subject].short.to_string(),
            };
            courses.push(CourseSpec {
                id: format!("{class}-{subject}-{n}"),
                weekday: DAYS[slot.day],
                start,
                end: start + Duration::minutes(55),
                subject,
                teachers: vec![teacher.clone()],
                divisions: if group.is_some() {
                    vec![]
                } else {
                    vec![item.division.clone()]
                },
                groups: group.iter().cloned().collect(),
                room: Some(room.clone()),
                weeks: item.pattern.clone(),
                valid_from: year.first_day,
                valid_to: year.last_day,
            });
        }
    }
    courses.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(courses)
}

fn patterns(subject: &SubjectHours) -> Vec<WeekPattern> {
    let mut patterns = vec![WeekPattern::Every; subject.every as usize];
    patterns.extend(std::iter::repeat_n(WeekPattern::A, subject.week_a as usize));
    patterns.extend(std::iter::repeat_n(WeekPattern::B, subject.week_b as usize));
    patterns
}

/// Records the timetable: opens it on the demo calendar, declares the groups, adds the
/// courses, then a few exceptions of the first term. Returns (courses, exceptions).
pub async fn record(
    runner: &Runner<'_>,
    plan: &Structure,
    year: &YearSpec,
    rng: &mut ChaCha8Rng,
) -> Result<(usize, usize), DemoError> {
    let courses = build(plan, year)?;
    let calendar = calendar()?;
    let bus = &runner.school().timetable;
    let stream = stream(year);
    let mut commands = vec![(
        "timetable/open".to_string(),
        T::OpenTimetable {
            year: year.year.to_string(),
            time_zone: chrono_tz::Europe::Paris,
            calendar: calendar.clone(),
        },
    )];
    for group in &plan.groups {
        commands.push((
            format!("timetable/group/{}", group.id),
            T::DeclareGroup {
                group: group.id.clone(),
                divisions: group.divisions.clone(),
                partition: group.partition.clone(),
            },
        ));
    }
    for course in &courses {
        commands.push((
            format!("timetable/course/{}", course.id),
            T::AddCourse(course.clone()),
        ));
    }
    runner
        .run_streams(bus, [(stream.clone(), commands)])
        .await?;

    // Exceptions: a teacher away on training, a lab out of use, a lesson moved for an
    // outing. Some of them clash with another lesson and are refused, as they would be.
    let days = calendar.school_days(
        NaiveDate::from_ymd_opt(2026, 9, 14).unwrap_or_default(),
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap_or_default(),
    );
    let mut exceptions = 0;
    for n in 0..(courses.len() / 20).max(3) {
        let (Some(course), Some(day)) = (courses.choose(rng), days.choose(rng)) else {
            break;
        };
        let Some(date) = next_lesson(course, *day) else {
            continue;
        };
        let command = match n % 3 {
            0 => T::CancelOccurrence {
                course: course.id.clone(),
                date,
                reason: "Professeur en formation".into(),
            },
            1 => T::ChangeRoom {
                course: course.id.clone(),
                date,
                room: "CDI".into(),
            },
            _ => {
                let to_date = date + Duration::days(rng.random_range(1..=3));
                // One hour later in the morning, one earlier in the afternoon: still a
                // school hour.
                let later = chrono::Timelike::hour(&course.start) < 12;
                let start = course.start + Duration::hours(if later { 1 } else { -1 });
                T::MoveOccurrence {
                    course: course.id.clone(),
                    date,
                    to_date,
                    start,
                    end: start + Duration::minutes(55),
                    room: None,
                }
            }
        };
        if runner
            .try_run(bus, &stream, command, &format!("timetable/exception/{n}"))
            .await?
        {
            exceptions += 1;
        }
    }
    Ok((courses.len(), exceptions))
}

/// The first date on or after `from` that the course's weekday falls on.
fn next_lesson(course: &CourseSpec, from: NaiveDate) -> Option<NaiveDate> {
    from.iter_days()
        .take(7)
        .find(|d| chrono::Datelike::weekday(d) == course.weekday)
}
