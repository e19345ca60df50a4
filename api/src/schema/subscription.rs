//! Subscriptions (graphql-ws): absences as roll calls record them, and new attendance
//! alerts, within the second of their commit (the store's notification wakes the feed).

use std::sync::Arc;

use async_graphql::{Context, SimpleObject, Subscription};
use carnet_domain::attendance::{AttendanceEvent, Status, StudentAttendance};
use carnet_store::RecordedEvent;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use cqrs_es::Aggregate;
use futures::{Stream, StreamExt};
use tokio::sync::broadcast;

use super::types::AlertView;
use super::{caller, state};
use crate::access::Actor;

#[derive(Debug, Default)]
pub struct SubscriptionRoot;

/// An absence just recorded.
#[derive(Debug, Clone, SimpleObject)]
pub struct AbsenceNotice {
    pub student: String,
    pub lesson: String,
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub recorded_at: DateTime<Utc>,
    pub position: i64,
}

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Absences as they are recorded: a guardian receives those of the children they
    /// are to be told of; vie scolaire and the head receive every one.
    async fn absences(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = AbsenceNotice>> {
        let (reader, actor) = caller(ctx, None).await?;
        let events = state(ctx)?
            .feed
            .subscribe(&reader.tenant)
            .await
            .map_err(crate::error::ApiError::from)?;
        Ok(live(events).filter_map(move |event| {
            let notice = absence_for(&actor, &event);
            async move { notice }
        }))
    }

    /// Attendance alerts (L131-8) as they are reached: for vie scolaire and the head.
    async fn attendance_alerts(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = AlertView>> {
        let (reader, actor) = caller(ctx, None).await?;
        actor.may_see_alerts()?;
        let events = state(ctx)?
            .feed
            .subscribe(&reader.tenant)
            .await
            .map_err(crate::error::ApiError::from)?;
        Ok(live(events).filter_map(|event| {
            let alert = match attendance_event(&event) {
                Some(AttendanceEvent::AlertThresholdReached {
                    student,
                    month,
                    unjustified_half_days,
                }) => Some(AlertView {
                    student,
                    month,
                    unjustified_half_days,
                }),
                _ => None,
            };
            async move { alert }
        }))
    }
}

/// The feed as a stream; a subscriber too slow for the buffer skips what it missed.
fn live(
    receiver: broadcast::Receiver<Arc<RecordedEvent>>,
) -> impl Stream<Item = Arc<RecordedEvent>> {
    futures::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(event) => return Some((event, receiver)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a subscription fell behind the live feed");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

fn attendance_event(event: &RecordedEvent) -> Option<AttendanceEvent> {
    (event.stream.stream_type == StudentAttendance::TYPE)
        .then(|| carnet_projections::decode(event).ok())
        .flatten()
}

fn absence_for(actor: &Actor, event: &RecordedEvent) -> Option<AbsenceNotice> {
    let student_of_stream = || {
        let id = &event.stream.stream_id;
        id.split_once('/')
            .map_or(id.as_str(), |(_, s)| s)
            .to_string()
    };
    let notice = |student: String, lesson: String, date, start| AbsenceNotice {
        student,
        lesson,
        date,
        start,
        recorded_at: event.recorded_at,
        position: event.position,
    };
    match attendance_event(event)? {
        AttendanceEvent::GuardiansNotified {
            student,
            lesson,
            date,
            start,
            guardians,
        } if !actor.sees_establishment() && guardians.contains(&actor.person) => {
            Some(notice(student, lesson, date, start))
        }
        AttendanceEvent::AttendanceRecorded {
            student,
            lesson,
            date,
            start,
            status: Status::Absent,
            ..
        } if actor.sees_establishment() => Some(notice(student, lesson, date, start)),
        AttendanceEvent::AttendanceCorrected {
            lesson,
            status: Status::Absent,
            ..
        } if actor.sees_establishment() => {
            let date = lesson
                .split_once('@')
                .and_then(|(_, d)| d.parse().ok())
                .unwrap_or_default();
            Some(notice(student_of_stream(), lesson, date, NaiveTime::MIN))
        }
        _ => None,
    }
}
