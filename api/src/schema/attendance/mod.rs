//! Attendance: roll calls, absences, lateness, justifications and the alerts of
//! the vie scolaire.

mod mutation;
mod query;

pub(crate) use mutation::AttendanceMutation;
pub(crate) use query::AttendanceQuery;

use crate::schema::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum AttendanceKind {
    Present,
    Absent,
    Late,
    EarlyDeparture,
    Excluded,
}

/// What the roll call says of a student in a lesson.
#[derive(Debug, Clone, SimpleObject)]
pub struct AttendanceStatus {
    pub kind: AttendanceKind,
    /// Minutes late, for LATE.
    pub minutes: Option<u32>,
    /// When the student left, for EARLY_DEPARTURE.
    pub left_at: Option<Time>,
    /// In words: "absent", "late by 10 min".
    pub label: String,
}

impl From<Status> for AttendanceStatus {
    fn from(status: Status) -> Self {
        let (kind, minutes, left_at) = match status {
            Status::Present => (AttendanceKind::Present, None, None),
            Status::Absent => (AttendanceKind::Absent, None, None),
            Status::Late { minutes } => (AttendanceKind::Late, Some(minutes), None),
            Status::EarlyDeparture { at } => (AttendanceKind::EarlyDeparture, None, Some(Time(at))),
            Status::Excluded => (AttendanceKind::Excluded, None, None),
        };
        AttendanceStatus {
            kind,
            minutes,
            left_at,
            label: status.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum HalfDayPart {
    Morning,
    Afternoon,
}

/// Half-days of absence, counted as the law counts them (R131-5, L131-8).
#[derive(Debug, Clone, SimpleObject)]
pub struct HalfDays {
    pub total: usize,
    pub justified: usize,
    /// Unjustified, or justified without a legitimate reason: what the alert counts.
    pub unjustified: usize,
}

impl From<attendance::HalfDays> for HalfDays {
    fn from(h: attendance::HalfDays) -> Self {
        HalfDays {
            total: h.total,
            justified: h.justified,
            unjustified: h.unjustified,
        }
    }
}

/// One roll-call entry of a student that is not "present": an absence, a late arrival,
/// an early departure or an exclusion from class.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Absence {
    pub lesson: String,
    pub date: Date,
    pub start: Time,
    pub end: Time,
    pub half_day: HalfDayPart,
    pub status: AttendanceStatus,
    /// The statuses this entry had before its corrections, oldest first.
    pub corrected_from: Vec<AttendanceStatus>,
    /// Covered by a justification the CPE accepted.
    pub justified: bool,
    #[graphql(skip)]
    pub stream: (Reader, String),
}

#[ComplexObject]
impl Absence {
    /// Each change of this entry: the roll call, then its corrections.
    #[graphql(complexity = "HISTORY_COST + child_complexity")]
    async fn history(&self) -> GqlResult<Vec<Change>> {
        let (reader, stream) = &self.stream;
        let lesson = self.lesson.clone();
        let entity = ("absence", vec![lesson.clone()]);
        Ok(
            history::<StudentAttendance, Status, _>(reader, stream, entity, move |a| {
                a.lessons.get(&lesson).map(|e| e.status)
            })
            .await?,
        )
    }
}

pub(crate) fn absence(
    reader: &Reader,
    stream: &str,
    record: &StudentAttendance,
    lesson: &str,
    e: &LessonEntry,
) -> Absence {
    Absence {
        lesson: lesson.to_string(),
        date: e.date.into(),
        start: e.start.into(),
        end: e.end.into(),
        half_day: match e.half_day.part {
            Part::Morning => HalfDayPart::Morning,
            Part::Afternoon => HalfDayPart::Afternoon,
        },
        status: e.status.into(),
        corrected_from: e.previous.iter().map(|s| (*s).into()).collect(),
        justified: record.is_justified(&e.half_day),
        stream: (reader.clone(), stream.to_string()),
    }
}

#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Justification {
    pub id: String,
    pub from: Date,
    pub to: Date,
    /// The reason's code; null once the student's absence data was erased.
    pub reason: Option<String>,
    pub legitimate: bool,
    /// Null once the student's absence data was erased.
    pub comment: Option<String>,
    pub declared_by: String,
    /// The CPE's decision: true accepted, false refused, null not decided yet.
    pub accepted: Option<bool>,
    #[graphql(skip)]
    pub stream: (Reader, String),
}

#[ComplexObject]
impl Justification {
    /// Each change of this justification: declared, then accepted or refused.
    #[graphql(complexity = "HISTORY_COST + child_complexity")]
    async fn history(&self) -> GqlResult<Vec<Change>> {
        let (reader, stream) = &self.stream;
        let id = self.id.clone();
        let entity = ("justification", vec![id.clone()]);
        Ok(
            history::<StudentAttendance, _, _>(reader, stream, entity, move |a| {
                a.justifications.get(&id).cloned()
            })
            .await?,
        )
    }
}

#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Alert")]
pub struct AlertView {
    pub student: String,
    /// "2026-11"
    pub month: String,
    pub unjustified_half_days: usize,
}

#[derive(Debug, Clone, InputObject)]
pub struct AttendanceStatusInput {
    pub kind: AttendanceKind,
    /// Minutes late: required for LATE.
    pub minutes: Option<u32>,
    /// When the student left: required for EARLY_DEPARTURE.
    pub left_at: Option<Time>,
}

impl AttendanceStatusInput {
    fn status(&self) -> ApiResult<Status> {
        Ok(match self.kind {
            AttendanceKind::Present => Status::Present,
            AttendanceKind::Absent => Status::Absent,
            AttendanceKind::Excluded => Status::Excluded,
            AttendanceKind::Late => Status::Late {
                minutes: self.minutes.filter(|m| *m > 0).ok_or_else(|| {
                    ApiError::validation(
                        "status.minutes",
                        Text::new(
                            "un retard doit indiquer son nombre de minutes (plus de 0)",
                            "a late arrival needs its minutes (more than 0)",
                        ),
                    )
                })?,
            },
            AttendanceKind::EarlyDeparture => Status::EarlyDeparture {
                at: self.left_at.map(|t| t.0).ok_or_else(|| {
                    ApiError::validation(
                        "status.leftAt",
                        Text::new(
                            "un départ anticipé doit indiquer l'heure à laquelle l'élève est parti",
                            "an early departure needs the time the student left",
                        ),
                    )
                })?,
            },
        })
    }
}
