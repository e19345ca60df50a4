//! The timetable read model: each school year's timetable, from which the lessons of a
//! student, teacher, room or division over any date range are computed, exceptions
//! applied, by the domain's own occurrence rules.
//!
//! Documents: `timetable/{year}`: the [`Timetable`] as its events build it.

use async_trait::async_trait;
use carnet_domain::timetable::{Occurrence, Timetable};
use carnet_domain::Uai;
use carnet_store::{Pool, RecordedEvent};
use chrono::NaiveDate;
use cqrs_es::Aggregate;

use crate::error::ProjectionError;
use crate::query;
use crate::runtime::{decode, Batch, Projection};
use crate::state::fold;

pub const NAME: &str = "timetable";

#[derive(Debug)]
pub struct TimetableProjection;

#[async_trait]
impl Projection for TimetableProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn wants(&self, stream_type: &str) -> bool {
        stream_type == Timetable::TYPE
    }

    async fn apply(&self, event: &RecordedEvent, batch: &mut Batch) -> Result<(), ProjectionError> {
        let key = format!("timetable/{}", event.stream.stream_id);
        fold::<Timetable>(batch, &key, decode(event)?)
            .await
            .map(|_| ())
    }
}

pub async fn timetable(
    pool: &Pool,
    tenant: &Uai,
    year: &str,
) -> Result<Option<Timetable>, ProjectionError> {
    query::doc(pool, tenant, NAME, &format!("timetable/{year}")).await
}

/// Whose lessons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whose<'a> {
    Teacher(&'a str),
    Room(&'a str),
    Division(&'a str),
    Group(&'a str),
    /// A student, by their division and groups on those dates.
    Student {
        division: &'a str,
        groups: &'a [String],
    },
}

/// The lessons of `whose` from `from` to `to`, exceptions applied, cancelled ones
/// included with their reason.
pub async fn lessons(
    pool: &Pool,
    tenant: &Uai,
    year: &str,
    whose: Whose<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Occurrence>, ProjectionError> {
    let Some(t) = timetable(pool, tenant, year).await? else {
        return Ok(Vec::new());
    };
    Ok(match whose {
        Whose::Teacher(x) => t.for_teacher(from, to, x),
        Whose::Room(x) => t.for_room(from, to, x),
        Whose::Division(x) => t.for_division(from, to, x),
        Whose::Group(x) => t.for_group(from, to, x),
        Whose::Student { division, groups } => t.for_student(from, to, division, groups),
    })
}
