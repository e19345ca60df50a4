//! The notifications projection: what guardians are to be told, turned into deliveries.
//!
//! The log is the outbox. The events that call for a notification are written with the
//! fact itself, in its append: `GuardiansNotified` with the absence (naming the
//! guardians whose right it was then), `AlertThresholdReached` with the absence that
//! reached it, `JustificationAccepted`/`Refused` with the decision. This projection
//! follows the log like any other and, in the transaction that moves its checkpoint over
//! such an event, writes one row of `notification_deliveries` per guardian and channel
//! (see [`outbox`]); the notifier sends them. A crash anywhere loses nothing: either the
//! checkpoint moved with the rows, or neither did and the projection does it again.
//!
//! Documents (all personal values sealed, as in the log):
//! - `establishment`: its name, to sign the messages, and whether families are told of
//!   marks;
//! - `student/{id}`: the student's names and their guardians with the right to be told;
//! - `contact/{guardian}`: the guardian's addresses and preferences ([`Reach`]);
//! - `ent/{person}`: the ENT identifiers linked to a person;
//! - `justification/{year}/{student}/{id}`: the days a justification covers;
//! - `evaluation/{gradebook}/{id}`: an evaluation's subject, title, date and scale.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use carnet_domain::attendance::{AttendanceEvent, StudentAttendance};
use carnet_domain::contact::{Channel, ContactEvent, GuardianContact, Notice, Preferences};
use carnet_domain::enrolment::{
    Establishment, EstablishmentEvent, ExternalId, Student, StudentEvent,
};
use carnet_domain::grades::{Gradebook, GradebookEvent};
use carnet_domain::personal::Personal;
use carnet_store::RecordedEvent;
use chrono::{Duration, NaiveDate, Utc};
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ProjectionError;
use crate::runtime::{decode, Batch, Projection};

pub mod outbox;

pub const NAME: &str = "notifications";

/// Events older than this when the projection reaches them call for no notification: a
/// rebuild, or a projection switched on late, must not tell families of last month.
pub const MAX_AGE: Duration = Duration::days(2);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EstablishmentName {
    pub name: String,
    /// Whether families are told of each mark entered.
    #[serde(default)]
    pub marks: bool,
}

/// What a mark's notification says of its evaluation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvaluationNote {
    pub subject: String,
    pub title: String,
    pub date: Option<NaiveDate>,
    pub scale: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pupil {
    pub first_name: Option<Personal<String>>,
    pub last_name: Option<Personal<String>>,
    /// Each guardian, and whether they have the right to be told.
    pub guardians: BTreeMap<String, bool>,
}

/// How a guardian is reached and what they want.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reach {
    pub email: Option<Personal<String>>,
    pub mobile: Option<Personal<String>>,
    pub preferences: Preferences,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntIds {
    pub ids: Vec<ExternalId>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Declared {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

#[derive(Debug)]
pub struct NotificationsProjection;

#[async_trait]
impl Projection for NotificationsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn wants(&self, stream_type: &str) -> bool {
        [
            Establishment::TYPE,
            Student::TYPE,
            StudentAttendance::TYPE,
            GuardianContact::TYPE,
            Gradebook::TYPE,
        ]
        .contains(&stream_type)
    }

    async fn apply(&self, event: &RecordedEvent, batch: &mut Batch) -> Result<(), ProjectionError> {
        match event.stream.stream_type.as_str() {
            t if t == Establishment::TYPE => establishment(batch, decode(event)?).await,
            t if t == Student::TYPE => {
                student(batch, &event.stream.stream_id, decode(event)?).await
            }
            t if t == GuardianContact::TYPE => contact(batch, decode(event)?).await,
            t if t == Gradebook::TYPE => gradebook(batch, event, decode(event)?).await,
            _ => attendance(batch, event, decode(event)?).await,
        }
    }
}

async fn establishment(batch: &mut Batch, e: EstablishmentEvent) -> Result<(), ProjectionError> {
    match e {
        EstablishmentEvent::EstablishmentRegistered { name, .. } => {
            let doc: &mut EstablishmentName = batch.typed_mut("establishment").await?;
            doc.name = name;
        }
        EstablishmentEvent::MarkNotificationsSet { enabled } => {
            let doc: &mut EstablishmentName = batch.typed_mut("establishment").await?;
            doc.marks = enabled;
        }
        EstablishmentEvent::ExternalIdLinked {
            person, identifier, ..
        } => {
            let ent: &mut EntIds = batch.typed_mut(&format!("ent/{person}")).await?;
            if !ent.ids.contains(&identifier) {
                ent.ids.push(identifier);
            }
        }
        EstablishmentEvent::ExternalIdUnlinked {
            person, identifier, ..
        } => {
            let ent: &mut EntIds = batch.typed_mut(&format!("ent/{person}")).await?;
            ent.ids.retain(|id| *id != identifier);
        }
        // Nothing more is sent to an erased person: without addresses, no channel.
        EstablishmentEvent::PersonErased { person, .. } => {
            batch.delete(&format!("ent/{person}"));
            batch.delete(&format!("contact/{person}"));
        }
        _ => {}
    }
    Ok(())
}

async fn student(batch: &mut Batch, id: &str, e: StudentEvent) -> Result<(), ProjectionError> {
    let pupil: &mut Pupil = batch.typed_mut(&format!("student/{id}")).await?;
    match e {
        StudentEvent::StudentAdmitted { identity, .. } => {
            pupil.first_name = Some(identity.first_name);
            pupil.last_name = Some(identity.last_name);
        }
        StudentEvent::GuardianLinked {
            guardian, rights, ..
        }
        | StudentEvent::GuardianRightsChanged {
            guardian, rights, ..
        } => {
            pupil.guardians.insert(guardian, rights.notified);
        }
        StudentEvent::GuardianUnlinked { guardian } => {
            pupil.guardians.remove(&guardian);
        }
        _ => {}
    }
    Ok(())
}

async fn contact(batch: &mut Batch, e: ContactEvent) -> Result<(), ProjectionError> {
    match e {
        ContactEvent::ContactRecorded {
            guardian,
            email,
            mobile,
            ..
        } => {
            let reach: &mut Reach = batch.typed_mut(&format!("contact/{guardian}")).await?;
            reach.email = email;
            reach.mobile = mobile;
        }
        ContactEvent::PreferencesSet {
            guardian,
            channels,
            muted,
            language,
            ..
        } => {
            let reach: &mut Reach = batch.typed_mut(&format!("contact/{guardian}")).await?;
            reach.preferences = Preferences {
                channels,
                muted,
                language,
            };
        }
    }
    Ok(())
}

async fn attendance(
    batch: &mut Batch,
    event: &RecordedEvent,
    e: AttendanceEvent,
) -> Result<(), ProjectionError> {
    // The stream id is `{year}/{student}`.
    let stream = &event.stream.stream_id;
    let student = stream.split_once('/').map_or(stream.as_str(), |(_, s)| s);
    let (notice, guardians, details) = match e {
        AttendanceEvent::JustificationDeclared {
            justification,
            from,
            to,
            ..
        } => {
            let declared = Declared {
                from: Some(from),
                to: Some(to),
            };
            return batch.put(
                &format!("justification/{stream}/{justification}"),
                &declared,
            );
        }
        AttendanceEvent::GuardiansNotified {
            lesson,
            date,
            start,
            guardians,
            ..
        } => (
            Notice::Absence,
            guardians,
            json!({ "lesson": lesson, "date": date, "start": start.format("%H:%M").to_string() }),
        ),
        AttendanceEvent::AlertThresholdReached {
            month,
            unjustified_half_days,
            ..
        } => (
            Notice::Alert,
            told(batch, student).await?,
            json!({ "month": month, "half_days": unjustified_half_days }),
        ),
        AttendanceEvent::JustificationAccepted { justification, .. }
        | AttendanceEvent::JustificationRefused { justification, .. } => {
            let accepted = event.event_type == "JustificationAccepted";
            let declared: Declared = batch
                .get(&format!("justification/{stream}/{justification}"))
                .await?
                .unwrap_or_default();
            (
                Notice::Justification,
                told(batch, student).await?,
                json!({ "accepted": accepted, "from": declared.from, "to": declared.to }),
            )
        }
        _ => return Ok(()),
    };
    enqueue(batch, event, notice, student, guardians, details).await
}

async fn gradebook(
    batch: &mut Batch,
    event: &RecordedEvent,
    e: GradebookEvent,
) -> Result<(), ProjectionError> {
    let stream = &event.stream.stream_id;
    match e {
        GradebookEvent::EvaluationCreated(spec) => {
            let note = EvaluationNote {
                subject: spec.subject,
                title: spec.title,
                date: Some(spec.date),
                scale: spec.scale.normalize().to_string(),
            };
            batch.put(&format!("evaluation/{stream}/{}", spec.evaluation), &note)
        }
        GradebookEvent::MarkEntered {
            evaluation,
            student,
            mark,
            ..
        } => {
            let school: EstablishmentName = batch.get("establishment").await?.unwrap_or_default();
            if !school.marks {
                return Ok(());
            }
            let note: EvaluationNote = batch
                .get(&format!("evaluation/{stream}/{evaluation}"))
                .await?
                .unwrap_or_default();
            let details = json!({
                "subject": note.subject,
                "title": note.title,
                "date": note.date,
                "scale": note.scale,
                "mark": mark,
            });
            let guardians = told(batch, &student).await?;
            enqueue(batch, event, Notice::Mark, &student, guardians, details).await
        }
        _ => Ok(()),
    }
}

/// Writes the deliveries of `notice` to `guardians` by their channels, unless the event
/// is too old to tell of.
async fn enqueue(
    batch: &mut Batch,
    event: &RecordedEvent,
    notice: Notice,
    student: &str,
    guardians: Vec<String>,
    details: serde_json::Value,
) -> Result<(), ProjectionError> {
    if Utc::now() - event.recorded_at > MAX_AGE {
        tracing::debug!(position = event.position, "too old to notify");
        return Ok(());
    }
    let notice = outbox::NewNotice {
        position: event.position,
        notice,
        student: student.to_string(),
        details,
    };
    for guardian in guardians {
        for channel in channels_of(batch, &guardian, notice.notice).await? {
            outbox::enqueue(
                &mut batch.tx,
                event.tenant.as_str(),
                &notice,
                &guardian,
                channel,
            )
            .await?;
        }
    }
    Ok(())
}

/// The student's guardians with the right to be told, as the log says at this point.
async fn told(batch: &mut Batch, student: &str) -> Result<Vec<String>, ProjectionError> {
    let pupil: Pupil = batch
        .get(&format!("student/{student}"))
        .await?
        .unwrap_or_default();
    Ok(pupil
        .guardians
        .into_iter()
        .filter(|(_, notified)| *notified)
        .map(|(g, _)| g)
        .collect())
}

/// The channels by which `guardian` is to get `notice`: those they can be reached by
/// (an address, a linked ENT identity), narrowed by their preferences.
async fn channels_of(
    batch: &mut Batch,
    guardian: &str,
    notice: Notice,
) -> Result<BTreeSet<Channel>, ProjectionError> {
    let reach: Reach = batch
        .get(&format!("contact/{guardian}"))
        .await?
        .unwrap_or_default();
    let ent: EntIds = batch
        .get(&format!("ent/{guardian}"))
        .await?
        .unwrap_or_default();
    let mut reachable = BTreeSet::new();
    if reach.email.is_some() {
        reachable.insert(Channel::Email);
    }
    if reach.mobile.is_some() {
        reachable.insert(Channel::Sms);
    }
    if !ent.ids.is_empty() {
        reachable.insert(Channel::Ent);
    }
    Ok(reachable
        .into_iter()
        .filter(|c| reach.preferences.wants(*c, notice))
        .collect())
}
