//! Subscriptions (graphql-ws): absences as roll calls record them, and new attendance
//! alerts, within the second of their commit (the store's notification wakes the feed).
//!
//! A subscription lives for hours, and the rights it was opened with may end while it
//! is open (a guardian's link to a child, a staff member's post): each event is
//! checked against the rights as the establishment's records stand when it arrives,
//! not as they stood at the start (see [`LiveRights`]).
//!
//! A client that lost its connection subscribes again with `after:` the `position` of
//! the last item it received: the log from there to the present is read first (in
//! pages, through the same rights), then the live feed takes over, without a gap or a
//! duplicate.

use std::sync::Arc;

use async_graphql::{Context, SimpleObject, Subscription};
use carnet_domain::attendance::{AttendanceEvent, Status, StudentAttendance};
use carnet_domain::Uai;
use carnet_projections::{enrolment, Projection};
use carnet_store::RecordedEvent;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use cqrs_es::Aggregate;
use futures::{Stream, StreamExt, TryStreamExt};
use tokio::sync::broadcast;

use super::attendance::AlertView;
use super::state;
use crate::access::Actor;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::i18n::Text;
use crate::reader::Reader;
use crate::scalars::{Date, Time};
use crate::state::{AppState, Caller};

#[derive(Debug, Default)]
pub struct SubscriptionRoot;

/// An absence just recorded.
#[derive(Debug, Clone, SimpleObject)]
pub struct AbsenceNotice {
    pub student: String,
    pub lesson: String,
    pub date: Date,
    pub start: Time,
    pub recorded_at: DateTime<Utc>,
    pub position: i64,
}

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Absences as they are recorded: a guardian receives those of the children they
    /// are to be told of; vie scolaire and the head receive every one.
    ///
    /// `after`: the position of the last absence received before a disconnection; the
    /// absences recorded since are delivered first.
    async fn absences(
        &self,
        ctx: &Context<'_>,
        after: Option<i64>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AbsenceNotice>>> {
        let (rights, events) = LiveRights::start(ctx, after).await?;
        Ok(watched(events, rights, |_| Ok(()), absence_for))
    }

    /// Attendance alerts (L131-8) as they are reached: for vie scolaire and the head.
    ///
    /// `after`: as for `absences`.
    async fn attendance_alerts(
        &self,
        ctx: &Context<'_>,
        after: Option<i64>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AlertView>>> {
        let (rights, events) = LiveRights::start(ctx, after).await?;
        rights.actor.may_see_alerts()?;
        Ok(watched(
            events,
            rights,
            Actor::may_see_alerts,
            |_, event| match attendance_event(event) {
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
            },
        ))
    }
}

/// The rights of one subscription, kept as current as the establishment's records.
///
/// Resolving the actor costs a few reads, too many to repeat for every event of a
/// morning's roll calls; and rights only change when the enrolment records do (a
/// guardian's link, a staff member's roles or departure, a teacher's services). The feed
/// carries every event of the establishment, those included: one of them marks the
/// actor as possibly out of date, and the next event that could be delivered resolves
/// it again first, from the read model once it holds that change.
struct LiveRights {
    state: Arc<AppState>,
    principal: Principal,
    tenant: Uai,
    actor: Arc<Actor>,
    /// The position of the latest change to the enrolment records (or of an event the
    /// feed skipped, which may have been one) that `actor` may not reflect yet.
    unseen: Option<i64>,
}

impl LiveRights {
    /// The feed of the caller's establishment from now on (from `after`, when resuming),
    /// and the rights as they stand.
    async fn start(ctx: &Context<'_>, after: Option<i64>) -> ApiResult<(Self, Events)> {
        let state = state(ctx)?.clone();
        let caller = ctx.data::<Caller>().map_err(|_| {
            ApiError::unauthenticated(Text::new(
                "cette requête ne porte aucune authentification",
                "no credentials with this request",
            ))
        })?;
        let principal = caller.principal()?.clone();
        let tenant = caller.tenant()?;
        // The feed first, then the rights: a change recorded in between is either in the
        // records read below or on the feed, never lost between the two.
        let events = state.feed.subscribe(&tenant).await?;
        let head = carnet_projections::checkpoint::head(&state.pool, tenant.as_str()).await?;
        let events = match after {
            None => live(events),
            Some(after) => {
                if after < 0 || after > head {
                    return Err(ApiError::validation(
                        "after",
                        Text::new(
                            format!(
                                "n'est pas une position du journal de cet établissement (de 0 \
                                 à {head})"
                            ),
                            format!("is no position of this establishment's log (0 to {head})"),
                        ),
                    ));
                }
                resumed(state.store.clone(), tenant.clone(), after, head, events)
            }
        };
        let mut rights = LiveRights {
            state,
            principal,
            tenant,
            actor: Arc::default(),
            unseen: Some(head),
        };
        rights.refresh().await?;
        Ok((rights, events))
    }

    /// Notes an event of the feed: a change of the enrolment records may change rights.
    fn saw(&mut self, event: &RecordedEvent, skipped_before: bool) {
        if skipped_before || enrolment::EnrolmentProjection.wants(&event.stream.stream_type) {
            self.unseen = Some(
                self.unseen
                    .map_or(event.position, |p| p.max(event.position)),
            );
        }
    }

    /// Resolves the actor again if the records may have changed since. A refusal (no
    /// role left in the establishment) ends the subscription with it.
    async fn refresh(&mut self) -> ApiResult<()> {
        let Some(unseen) = self.unseen else {
            return Ok(());
        };
        // Where the read model stands, read before the rights: what is resolved below
        // holds at least every change up to there.
        let projected = carnet_projections::checkpoint::read_active(
            &self.state.pool,
            self.tenant.as_str(),
            enrolment::NAME,
        )
        .await?
        .map_or(0, |c| c.position);
        let reader = Reader::new(
            self.state.store.clone(),
            self.state.pool.clone(),
            self.tenant.clone(),
            self.state.docs.clone(),
        );
        self.actor = Arc::new(Actor::resolve(&self.principal, &reader).await?);
        // An enrolment projection run asynchronously may not hold the change yet: the
        // rights are resolved again at each event until it does.
        if projected >= unseen {
            self.unseen = None;
        }
        Ok(())
    }
}

/// The items `pick` makes of the feed's events for the actor as the records stand when
/// each event arrives; `allowed` is checked again whenever the rights were resolved
/// anew. A refusal, or records that cannot be read, ends the subscription with that
/// error (the client subscribes again when it can).
fn watched<T: Send + 'static>(
    events: Events,
    rights: LiveRights,
    allowed: fn(&Actor) -> ApiResult<()>,
    pick: fn(&Actor, &RecordedEvent) -> Option<T>,
) -> impl Stream<Item = async_graphql::Result<T>> {
    futures::stream::unfold(Some((events, rights)), move |running| async move {
        let (mut events, mut rights) = running?;
        while let Some(next) = events.next().await {
            let (event, skipped) = match next {
                Ok(next) => next,
                Err(e) => return Some((Err(e.into()), None)),
            };
            rights.saw(&event, skipped);
            // Only attendance events are ever delivered: the rights are resolved
            // again for those only.
            if event.stream.stream_type != StudentAttendance::TYPE {
                continue;
            }
            if rights.unseen.is_some() {
                let checked = match rights.refresh().await {
                    Ok(()) => allowed(&rights.actor),
                    Err(e) => Err(e),
                };
                if let Err(refused) = checked {
                    tracing::debug!(
                        code = refused.code(),
                        "a subscription's rights changed: it ends"
                    );
                    return Some((Err(refused.into()), None));
                }
            }
            if let Some(item) = pick(&rights.actor, &event) {
                return Some((Ok(item), Some((events, rights))));
            }
        }
        None
    })
}

/// The events a subscription is fed, each with whether events were skipped just
/// before it; a log that cannot be read ends it.
type Events = futures::stream::BoxStream<'static, ApiResult<(Arc<RecordedEvent>, bool)>>;

/// Events of the log read per page when a subscription resumes.
const RESUME_PAGE: i64 = 500;

/// The feed as a stream: a subscriber too slow for the buffer skips what it missed.
fn live(receiver: broadcast::Receiver<Arc<RecordedEvent>>) -> Events {
    futures::stream::unfold(receiver, |mut receiver| async move {
        let mut skipped = false;
        loop {
            match receiver.recv().await {
                Ok(event) => return Some((Ok((event, skipped)), receiver)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a subscription fell behind the live feed");
                    skipped = true;
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .boxed()
}

/// The log after `after` up to `head`, read page by page, then the live feed (opened
/// before `head` was read) from after `head`: each event once, in order.
fn resumed(
    store: carnet_store::EventStore,
    tenant: Uai,
    after: i64,
    head: i64,
    receiver: broadcast::Receiver<Arc<RecordedEvent>>,
) -> Events {
    let backlog = futures::stream::try_unfold(after, move |from| {
        let (store, tenant) = (store.clone(), tenant.clone());
        async move {
            if from >= head {
                return Ok(None);
            }
            let page = store.read_log(&tenant, from, RESUME_PAGE).await?;
            let Some(last) = page.last().map(|e| e.position) else {
                return Ok(None);
            };
            let events: Vec<ApiResult<(Arc<RecordedEvent>, bool)>> = page
                .into_iter()
                .filter(|e| e.position <= head)
                .map(|e| Ok((Arc::new(e), false)))
                .collect();
            Ok::<_, ApiError>(Some((futures::stream::iter(events), last)))
        }
    })
    .try_flatten();
    let live =
        live(receiver).try_filter(move |(event, _)| futures::future::ready(event.position > head));
    backlog.chain(live).boxed()
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
    let notice =
        |student: String, lesson: String, date: NaiveDate, start: NaiveTime| AbsenceNotice {
            student,
            lesson,
            date: date.into(),
            start: start.into(),
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
        } if !actor.sees_establishment()
            && guardians.contains(&actor.person)
            // The event names the guardians as the records stood at the roll call; one
            // whose link has ended since is told nothing more of the child.
            && actor.children.contains_key(&student) =>
        {
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
