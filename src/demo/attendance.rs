//! The first term's roll calls: each lesson's teacher records who is absent, late or
//! excluded; guardians are notified of absences and most justify them; the CPE decides.
//! A few students miss school often enough to reach the L131-8 threshold.

use std::collections::BTreeMap;

use carnet_domain::attendance::{AttendanceCommand as A, Status};
use carnet_domain::enrolment::YearSpec;
use carnet_domain::timetable::Timetable;
use carnet_store::School;
use chrono::{Duration, NaiveDate, NaiveTime};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::structure::{Structure, StudentPlan};
use super::{DemoError, Runner};

/// The demo's "today": the roll calls run up to this day.
pub fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 27).unwrap_or_default()
}

pub struct Attendance {
    pub entries: usize,
    pub justifications: usize,
}

pub async fn record(
    runner: &Runner<'_>,
    plan: &Structure,
    year: &YearSpec,
    timetable_stream: &str,
    rng: &mut ChaCha8Rng,
) -> Result<Attendance, DemoError> {
    let (_, timetable): (i64, Timetable) =
        runner.school().timetable.state(timetable_stream).await?;
    let lessons = timetable.occurrences(year.first_day, last_day());
    // Lessons of each class, by day.
    let mut by_class: BTreeMap<&str, BTreeMap<NaiveDate, Vec<usize>>> = BTreeMap::new();
    for (i, lesson) in lessons.iter().enumerate() {
        if lesson.cancelled.is_some() {
            continue;
        }
        for class in lesson.divisions.iter().chain(&lesson.groups) {
            by_class
                .entry(class)
                .or_default()
                .entry(lesson.date)
                .or_default()
                .push(i);
        }
    }
    let cpe = plan
        .staff
        .iter()
        .find(|s| s.id.starts_with("cpe"))
        .map(|s| s.id.clone())
        .unwrap_or_else(|| "cpe1".into());
    let (mut entries, mut justifications) = (0, 0);
    let mut streams = Vec::with_capacity(plan.students.len());
    for student in &plan.students {
        // The student's lessons, day by day.
        let mut days: BTreeMap<NaiveDate, Vec<usize>> = BTreeMap::new();
        for class in std::iter::once(&student.division).chain(&student.groups) {
            for (date, list) in by_class.get(class.as_str()).into_iter().flatten() {
                days.entry(*date).or_default().extend(list);
            }
        }
        let commands = student_term(student, &days, &lessons, &cpe, rng);
        entries += commands
            .iter()
            .filter(|(_, c)| matches!(c, A::RecordAttendance { .. }))
            .count();
        justifications += commands
            .iter()
            .filter(|(_, c)| matches!(c, A::DeclareJustification { .. }))
            .count();
        streams.push((School::attendance_id(&year.year, &student.id), commands));
    }
    runner
        .run_streams(&runner.school().attendance, streams)
        .await?;
    Ok(Attendance {
        entries,
        justifications,
    })
}

/// One student's roll-call lines and justifications over the term.
fn student_term(
    student: &StudentPlan,
    days: &BTreeMap<NaiveDate, Vec<usize>>,
    lessons: &[carnet_domain::timetable::Occurrence],
    cpe: &str,
    rng: &mut ChaCha8Rng,
) -> Vec<(String, A)> {
    let notify: Vec<String> = student
        .guardians
        .iter()
        .filter(|g| g.rights.notified)
        .map(|g| g.id.clone())
        .collect();
    let justifier = student.guardians.iter().find(|g| g.rights.justify);
    let truant = student.absence_rate > 0.2;
    let mut commands = Vec::new();
    let mut episode: Option<(NaiveDate, NaiveDate)> = None;
    let mut episodes = Vec::new();
    for (date, list) in days {
        let mut list = list.clone();
        list.sort_by_key(|i| lessons[*i].start);
        list.dedup();
        let away = rng.random_bool(student.absence_rate);
        // A truant skips afternoons; an ill student misses the whole day.
        let noon = NaiveTime::from_hms_opt(12, 30, 0).unwrap_or_default();
        for i in &list {
            let lesson = &lessons[*i];
            let status = if away && (!truant || lesson.start.time() >= noon) {
                Status::Absent
            } else if rng.random_bool(0.01) {
                Status::Late {
                    minutes: rng.random_range(3..=20),
                }
            } else if rng.random_bool(0.0005) {
                Status::Excluded
            } else {
                continue;
            };
            commands.push((
                format!("roll-call/{}/{}", lesson.id, student.id),
                A::RecordAttendance {
                    student: student.id.clone(),
                    lesson: lesson.id.clone(),
                    date: lesson.date,
                    start: lesson.start.time(),
                    end: lesson.end.time(),
                    status,
                    by: lesson
                        .teachers
                        .first()
                        .cloned()
                        .unwrap_or_else(|| cpe.into()),
                    notify: notify.clone(),
                },
            ));
        }
        // Consecutive days away make one episode, justified once.
        episode = match (episode, away) {
            (Some((from, to)), true) if (*date - to).num_days() <= 3 => Some((from, *date)),
            (Some(done), true) => {
                episodes.push(done);
                Some((*date, *date))
            }
            (None, true) => Some((*date, *date)),
            (Some(done), false) => {
                episodes.push(done);
                None
            }
            (None, false) => None,
        };
    }
    episodes.extend(episode);
    for (n, (from, to)) in episodes.into_iter().enumerate() {
        let Some(guardian) = justifier else { break };
        let declares = if truant { 0.3 } else { 0.85 };
        if !rng.random_bool(declares) {
            continue;
        }
        let (reason, comment) = if truant {
            ("CON", "Rendez-vous personnel")
        } else if (to - from) >= Duration::days(1) {
            ("MAL", "Grippe, certificat médical fourni")
        } else {
            ("RDV", "Rendez-vous chez l'orthodontiste")
        };
        let id = format!("{}-j{}", student.id, n + 1);
        commands.push((
            format!("justify/{id}"),
            A::DeclareJustification {
                student: student.id.clone(),
                justification: id.clone(),
                from,
                to,
                reason: reason.into(),
                comment: comment.into(),
                by: guardian.id.clone(),
            },
        ));
        commands.push((
            format!("decide/{id}"),
            A::DecideJustification {
                justification: id,
                accept: !truant && rng.random_bool(0.95),
                by: cpe.to_string(),
                note: String::new(),
            },
        ));
    }
    commands
}
