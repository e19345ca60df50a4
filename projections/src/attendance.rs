//! The attendance read model: each student's year (entries, corrections,
//! justifications and their state, alerts), the register of each lesson, and the
//! threshold alerts.
//!
//! Documents:
//! - `student/{year}/{student}`: the [`StudentAttendance`] as its events build it, from
//!   which the half-day counts of any month or period are computed with the domain's
//!   own functions (so they cannot drift from it);
//! - `register/{lesson}`: [`Register`], what the roll call says of each student;
//! - `alert/{year}/{student}/{month}`: [`Alert`], each L131-8 threshold reached.

use std::collections::BTreeMap;

use async_trait::async_trait;
use carnet_domain::attendance::{AttendanceEvent, Status, StudentAttendance};
use carnet_domain::Uai;
use carnet_store::{Pool, RecordedEvent};
use chrono::NaiveDate;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::error::ProjectionError;
use crate::query;
use crate::runtime::{decode, Batch, Projection};
use crate::state::fold;

pub const NAME: &str = "attendance";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    pub date: Option<NaiveDate>,
    /// By student: the status now, and the earlier values it was corrected from.
    pub entries: BTreeMap<String, (Status, Vec<Status>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub student: String,
    pub month: String,
    pub unjustified_half_days: usize,
}

/// Half-day counts: total, justified, unjustified or not legitimate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HalfDays {
    pub total: usize,
    pub justified: usize,
    pub unjustified: usize,
}

impl From<(usize, usize, usize)> for HalfDays {
    fn from((total, justified, unjustified): (usize, usize, usize)) -> Self {
        HalfDays {
            total,
            justified,
            unjustified,
        }
    }
}

#[derive(Debug)]
pub struct AttendanceProjection;

#[async_trait]
impl Projection for AttendanceProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn wants(&self, stream_type: &str) -> bool {
        stream_type == StudentAttendance::TYPE
    }

    fn reads(&self, event: &RecordedEvent) -> Vec<String> {
        let student = format!("student/{}", event.stream.stream_id);
        match decode::<AttendanceEvent>(event) {
            Ok(
                AttendanceEvent::AttendanceRecorded { lesson, .. }
                | AttendanceEvent::AttendanceCorrected { lesson, .. },
            ) => vec![student, format!("register/{lesson}")],
            _ => vec![student],
        }
    }

    async fn apply(&self, event: &RecordedEvent, batch: &mut Batch) -> Result<(), ProjectionError> {
        let e: AttendanceEvent = decode(event)?;
        // The stream id is `{year}/{student}`.
        let stream = &event.stream.stream_id;
        let (year, student) = stream.split_once('/').unwrap_or(("", stream));
        match &e {
            AttendanceEvent::AttendanceRecorded {
                lesson,
                date,
                status,
                ..
            } => {
                let register: &mut Register =
                    batch.typed_mut(&format!("register/{lesson}")).await?;
                register.date = Some(*date);
                register
                    .entries
                    .insert(student.to_string(), (*status, Vec::new()));
            }
            AttendanceEvent::AttendanceCorrected { lesson, status, .. } => {
                let register: &mut Register =
                    batch.typed_mut(&format!("register/{lesson}")).await?;
                let entry = register
                    .entries
                    .entry(student.to_string())
                    .or_insert((*status, Vec::new()));
                let previous = entry.0;
                entry.1.push(previous);
                entry.0 = *status;
            }
            AttendanceEvent::AlertThresholdReached {
                student,
                month,
                unjustified_half_days,
            } => {
                batch.put(
                    &format!("alert/{year}/{student}/{month}"),
                    &Alert {
                        student: student.clone(),
                        month: month.clone(),
                        unjustified_half_days: *unjustified_half_days,
                    },
                )?;
            }
            _ => {}
        }
        fold::<StudentAttendance>(batch, &format!("student/{stream}"), e)
            .await
            .map(|_| ())
    }
}

pub async fn student_year(
    pool: &Pool,
    tenant: &Uai,
    year: &str,
    student: &str,
) -> Result<StudentAttendance, ProjectionError> {
    Ok(
        query::doc(pool, tenant, NAME, &format!("student/{year}/{student}"))
            .await?
            .unwrap_or_default(),
    )
}

pub async fn register(
    pool: &Pool,
    tenant: &Uai,
    lesson: &str,
) -> Result<Register, ProjectionError> {
    Ok(
        query::doc(pool, tenant, NAME, &format!("register/{lesson}"))
            .await?
            .unwrap_or_default(),
    )
}

pub async fn alerts(pool: &Pool, tenant: &Uai, year: &str) -> Result<Vec<Alert>, ProjectionError> {
    Ok(
        query::docs_with_prefix(pool, tenant, NAME, &format!("alert/{year}/"))
            .await?
            .into_iter()
            .map(|(_, a)| a)
            .collect(),
    )
}

/// Half-days of absence of one month, as the domain counts them.
pub fn month(record: &StudentAttendance, year: i32, month: u32) -> HalfDays {
    record.month_counts(year, month).into()
}

/// Half-days of absence between two dates (a period), as the domain counts them.
pub fn between(record: &StudentAttendance, from: NaiveDate, to: NaiveDate) -> HalfDays {
    record.range_counts(from, to).into()
}
