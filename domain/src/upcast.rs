//! Upcasters: an event recorded in an older shape, brought to the shape the code reads
//! today. The log is never rewritten (its hashes are the proof); every reader of an event
//! passes its payload through [`upcast`] first, so a log written years ago still loads.
//!
//! Versions so far:
//! - v2 of `StudentAdmitted`, `GuardianLinked`, `StaffMemberAdded`,
//!   `AttendanceCorrected`, `JustificationDeclared`, `JustificationAccepted` and
//!   `JustificationRefused`: names, birth dates, reasons, comments and notes became
//!   [`Personal`](crate::personal::Personal) values, and a declared justification names
//!   its student. A v1 value was written in clear; it reads as a value in clear of the
//!   owner it would have today.
//! - v2 of `StudentDeparted` and `MarkCorrected`: the reason for leaving and the reason
//!   of a mark's correction became the student's personal data, in the same way.
//!
//! Every event type has a fixture at each of its versions in
//! `domain/tests/fixtures/events` (frozen: they are what Carnet wrote then; its README
//! says how to add one), replayed through these upcasters by the tests.

use cqrs_es::Aggregate;
use serde_json::{json, Map, Value};
use strum::VariantNames;

use crate::attendance::{AttendanceEvent, StudentAttendance};
use crate::contact::{ContactEvent, GuardianContact};
use crate::enrolment::{Establishment, EstablishmentEvent, SchoolYear, Student, StudentEvent};
use crate::grades::{Gradebook, GradebookEvent};
use crate::personal::{absences_owner, KNOWN_TAG};
use crate::reportcards::{ClassCouncil, CompetenceFramework, CouncilEvent, FrameworkEvent};
use crate::reservations::{ReservationEvent, Resource};
use crate::timetable::{Timetable, TimetableEvent};

/// Every stream type with the types of the events it holds, read from the event enums
/// themselves (a variant's name is its serde tag and its `event_type`): an event added
/// to an enum is in this list without anyone remembering to add it, and the tests of
/// old versions (`domain/tests/event_versions.rs`) then ask for its fixtures.
pub const EVENT_TYPES: [(&str, &[&str]); 9] = [
    (Establishment::TYPE, EstablishmentEvent::VARIANTS),
    (Student::TYPE, StudentEvent::VARIANTS),
    (Timetable::TYPE, TimetableEvent::VARIANTS),
    (StudentAttendance::TYPE, AttendanceEvent::VARIANTS),
    (Gradebook::TYPE, GradebookEvent::VARIANTS),
    (Resource::TYPE, ReservationEvent::VARIANTS),
    (GuardianContact::TYPE, ContactEvent::VARIANTS),
    (ClassCouncil::TYPE, CouncilEvent::VARIANTS),
    (CompetenceFramework::TYPE, FrameworkEvent::VARIANTS),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpcastError {
    #[error("{event_type} v{version} is newer than this Carnet knows (v{known}): upgrade Carnet to read this log")]
    Newer {
        event_type: String,
        version: i32,
        known: i32,
    },
    #[error("{event_type} v{version} cannot be brought to v{next}: {reason}")]
    Shape {
        event_type: String,
        version: i32,
        next: i32,
        reason: String,
    },
}

/// The version an event type is written at today (1 for types that never changed).
pub fn current_version(stream_type: &str, event_type: &str) -> i32 {
    match (stream_type, event_type) {
        ("student", "StudentAdmitted" | "GuardianLinked" | "StudentDeparted")
        | ("gradebook", "MarkCorrected")
        | ("establishment", "StaffMemberAdded")
        | (
            "attendance",
            "AttendanceCorrected"
            | "JustificationDeclared"
            | "JustificationAccepted"
            | "JustificationRefused",
        ) => 2,
        _ => 1,
    }
}

/// `payload`, recorded as `event_type` v`version` in the stream `stream_type`/`stream_id`,
/// in today's shape.
pub fn upcast(
    stream_type: &str,
    stream_id: &str,
    event_type: &str,
    version: i32,
    mut payload: Value,
) -> Result<Value, UpcastError> {
    let known = current_version(stream_type, event_type);
    if version > known {
        return Err(UpcastError::Newer {
            event_type: event_type.to_string(),
            version,
            known,
        });
    }
    for from in version.max(1)..known {
        let step = Step {
            stream_type,
            stream_id,
            event_type,
            from,
        };
        payload = step.apply(payload)?;
    }
    Ok(payload)
}

/// One version step of one event.
struct Step<'a> {
    stream_type: &'a str,
    stream_id: &'a str,
    event_type: &'a str,
    from: i32,
}

impl Step<'_> {
    fn apply(&self, mut payload: Value) -> Result<Value, UpcastError> {
        let body = payload
            .get_mut(self.event_type)
            .and_then(Value::as_object_mut)
            .ok_or_else(|| self.error(format!("the payload is not a `{}`", self.event_type)))?;
        match (self.stream_type, self.event_type, self.from) {
            ("student", "StudentAdmitted", 1) => {
                let owner = self.text(body, "student")?;
                let identity = body
                    .get_mut("identity")
                    .and_then(Value::as_object_mut)
                    .ok_or_else(|| self.error("no identity".to_string()))?;
                for field in ["last_name", "first_name", "birth_date"] {
                    self.mark(identity, field, &owner)?;
                }
            }
            ("student", "GuardianLinked", 1) => {
                let owner = self.text(body, "guardian")?;
                self.mark(body, "name", &owner)?;
            }
            ("student", "StudentDeparted", 1) => {
                // A student stream's id is the student's.
                let owner = self.stream_id.to_string();
                self.mark(body, "reason", &owner)?;
            }
            ("gradebook", "MarkCorrected", 1) => {
                let owner = self.text(body, "student")?;
                self.mark(body, "reason", &owner)?;
            }
            ("establishment", "StaffMemberAdded", 1) => {
                let owner = self.text(body, "person")?;
                self.mark(body, "name", &owner)?;
            }
            ("attendance", "AttendanceCorrected", 1) => {
                let (_, owner) = self.attendance_owner()?;
                self.mark(body, "reason", &owner)?;
            }
            ("attendance", "JustificationDeclared", 1) => {
                let (student, owner) = self.attendance_owner()?;
                body.insert("student".to_string(), Value::String(student));
                self.mark(body, "reason", &owner)?;
                self.mark(body, "comment", &owner)?;
            }
            ("attendance", "JustificationAccepted" | "JustificationRefused", 1) => {
                let (_, owner) = self.attendance_owner()?;
                self.mark(body, "note", &owner)?;
            }
            _ => return Err(self.error("no upcaster for this version".to_string())),
        }
        Ok(payload)
    }

    /// An attendance stream is `{year}/{student}`: the student and the key id of the
    /// year's absence data.
    fn attendance_owner(&self) -> Result<(String, String), UpcastError> {
        let (year, student) = self.stream_id.split_once('/').ok_or_else(|| {
            self.error(format!("stream `{}` is not year/student", self.stream_id))
        })?;
        let year = SchoolYear::parse(year).map_err(|e| self.error(e.to_string()))?;
        Ok((student.to_string(), absences_owner(student, &year)))
    }

    fn text(&self, body: &Map<String, Value>, field: &str) -> Result<String, UpcastError> {
        body.get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| self.error(format!("`{field}` is missing or not text")))
    }

    /// Wraps `body[field]` as a personal value of `owner`, in clear.
    fn mark(
        &self,
        body: &mut Map<String, Value>,
        field: &str,
        owner: &str,
    ) -> Result<(), UpcastError> {
        let value = body
            .remove(field)
            .ok_or_else(|| self.error(format!("`{field}` is missing")))?;
        body.insert(
            field.to_string(),
            json!({ KNOWN_TAG: { "owner": owner, "value": value } }),
        );
        Ok(())
    }

    fn error(&self, reason: String) -> UpcastError {
        UpcastError::Shape {
            event_type: self.event_type.to_string(),
            version: self.from,
            next: self.from + 1,
            reason,
        }
    }
}
