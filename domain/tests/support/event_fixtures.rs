//! The event fixtures of `domain/tests/fixtures/events` (see the README there): every
//! event type at each of its versions, as Carnet wrote it. Shared by the domain's tests
//! of old versions and the store's (which includes this file by its path).
// Each test crate uses its part of these helpers.
#![allow(dead_code)]

use std::fmt;
use std::path::{Path, PathBuf};

use carnet_domain::attendance::{AttendanceEvent, StudentAttendance};
use carnet_domain::contact::{ContactEvent, GuardianContact};
use carnet_domain::enrolment::{Establishment, EstablishmentEvent, Student, StudentEvent};
use carnet_domain::grades::{Gradebook, GradebookEvent};
use carnet_domain::reportcards::{ClassCouncil, CompetenceFramework, CouncilEvent, FrameworkEvent};
use carnet_domain::reservations::{ReservationEvent, Resource};
use carnet_domain::timetable::{Timetable, TimetableEvent};
use carnet_domain::upcast::{current_version, upcast, UpcastError};
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::Value;

/// The fixtures' folder. Both the domain and the store crate sit beside `domain/`.
pub fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../domain/tests/fixtures/events")
}

/// One fixture file: an event of `event_type` v`version`, written to `stream_id`.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub stream_type: String,
    pub event_type: String,
    pub version: i32,
    pub stream_id: String,
    pub payload: Value,
}

impl Fixture {
    /// The file's name under the folder, e.g. `student/StudentAdmitted.v1.json`: what
    /// every assertion names.
    pub fn name(&self) -> String {
        file_name(&self.stream_type, &self.event_type, self.version)
    }

    /// The payload in today's shape.
    pub fn upcast(&self) -> Result<Value, UpcastError> {
        upcast(
            &self.stream_type,
            &self.stream_id,
            &self.event_type,
            self.version,
            self.payload.clone(),
        )
    }

    /// The version this event type is written at today.
    pub fn current_version(&self) -> i32 {
        current_version(&self.stream_type, &self.event_type)
    }
}

impl fmt::Display for Fixture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

pub fn file_name(stream_type: &str, event_type: &str, version: i32) -> String {
    format!("{stream_type}/{event_type}.v{version}.json")
}

/// `StudentAdmitted.v2.json` is (`StudentAdmitted`, 2).
fn parse_file_name(name: &str) -> Option<(String, i32)> {
    let stem = name.strip_suffix(".json")?;
    let (event_type, version) = stem.rsplit_once(".v")?;
    let version: i32 = version.parse().ok()?;
    let well_formed = !event_type.is_empty()
        && event_type.chars().all(|c| c.is_ascii_alphanumeric())
        && version.to_string() == stem[event_type.len() + 2..];
    well_formed.then(|| (event_type.to_string(), version))
}

/// Every fixture, in a stable order (stream type, event type, version). A file or folder
/// that is not a fixture makes the test fail, naming it: a fixture misnamed would
/// otherwise be silently left out.
pub fn all() -> Vec<Fixture> {
    let root = folder();
    let mut fixtures = Vec::new();
    for entry in sorted_entries(&root) {
        let name = entry
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if entry.is_file() && name == "README.md" {
            continue;
        }
        assert!(
            entry.is_dir(),
            "{} is neither a stream type's folder nor the README",
            entry.display()
        );
        for file in sorted_entries(&entry) {
            let file_name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let shown = format!("{name}/{file_name}");
            let (event_type, version) = parse_file_name(&file_name)
                .filter(|_| file.is_file())
                .unwrap_or_else(|| panic!("fixture {shown} is not named <EventType>.v<N>.json"));
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("fixture {shown} cannot be read: {e}"));
            let mut document: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("fixture {shown} is not JSON: {e}"));
            let keys: Vec<&String> = document
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            assert!(
                keys.len() == 2 && document["stream_id"].is_string(),
                "fixture {shown} must be {{\"stream_id\": \"...\", \"payload\": {{...}}}}, it has {keys:?}"
            );
            let stream_id = document["stream_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let payload = document["payload"].take();
            assert!(
                payload
                    .as_object()
                    .is_some_and(|o| o.len() == 1 && o.contains_key(&event_type)),
                "the payload of fixture {shown} must be {{\"{event_type}\": {{...}}}}"
            );
            fixtures.push(Fixture {
                stream_type: name.clone(),
                event_type,
                version,
                stream_id,
                payload,
            });
        }
    }
    fixtures.sort_by(|a, b| {
        (&a.stream_type, &a.event_type, a.version).cmp(&(&b.stream_type, &b.event_type, b.version))
    });
    fixtures
}

/// The fixture of `event_type` v`version`, if there is one.
pub fn find<'a>(
    fixtures: &'a [Fixture],
    stream_type: &str,
    event_type: &str,
    version: i32,
) -> Option<&'a Fixture> {
    fixtures.iter().find(|f| {
        f.stream_type == stream_type && f.event_type == event_type && f.version == version
    })
}

/// The fixture of the same fact at today's version.
pub fn current_of<'a>(fixtures: &'a [Fixture], fixture: &Fixture) -> &'a Fixture {
    let version = fixture.current_version();
    find(fixtures, &fixture.stream_type, &fixture.event_type, version).unwrap_or_else(|| {
        panic!(
            "{fixture} has no fixture at today's version: {} is missing",
            file_name(&fixture.stream_type, &fixture.event_type, version)
        )
    })
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .path()
        })
        .collect();
    entries.sort();
    entries
}

/// An event of any aggregate, decoded by its stream type.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyEvent {
    Establishment(EstablishmentEvent),
    Student(StudentEvent),
    Timetable(TimetableEvent),
    Attendance(AttendanceEvent),
    Gradebook(GradebookEvent),
    Resource(ReservationEvent),
    Contact(ContactEvent),
    Council(CouncilEvent),
    Framework(FrameworkEvent),
}

impl AnyEvent {
    /// `payload` (in today's shape) as the event type of the aggregate of `stream_type`.
    pub fn decode(stream_type: &str, payload: Value) -> Result<Self, String> {
        fn as_event<E: serde::de::DeserializeOwned>(payload: Value) -> Result<E, String> {
            serde_json::from_value(payload).map_err(|e| e.to_string())
        }
        match stream_type {
            t if t == Establishment::TYPE => as_event(payload).map(Self::Establishment),
            t if t == Student::TYPE => as_event(payload).map(Self::Student),
            t if t == Timetable::TYPE => as_event(payload).map(Self::Timetable),
            t if t == StudentAttendance::TYPE => as_event(payload).map(Self::Attendance),
            t if t == Gradebook::TYPE => as_event(payload).map(Self::Gradebook),
            t if t == Resource::TYPE => as_event(payload).map(Self::Resource),
            t if t == GuardianContact::TYPE => as_event(payload).map(Self::Contact),
            t if t == ClassCouncil::TYPE => as_event(payload).map(Self::Council),
            t if t == CompetenceFramework::TYPE => as_event(payload).map(Self::Framework),
            other => Err(format!("no aggregate has the stream type `{other}`")),
        }
    }

    pub fn event_type(&self) -> String {
        match self {
            Self::Establishment(e) => e.event_type(),
            Self::Student(e) => e.event_type(),
            Self::Timetable(e) => e.event_type(),
            Self::Attendance(e) => e.event_type(),
            Self::Gradebook(e) => e.event_type(),
            Self::Resource(e) => e.event_type(),
            Self::Contact(e) => e.event_type(),
            Self::Council(e) => e.event_type(),
            Self::Framework(e) => e.event_type(),
        }
    }

    pub fn event_version(&self) -> String {
        match self {
            Self::Establishment(e) => e.event_version(),
            Self::Student(e) => e.event_version(),
            Self::Timetable(e) => e.event_version(),
            Self::Attendance(e) => e.event_version(),
            Self::Gradebook(e) => e.event_version(),
            Self::Resource(e) => e.event_version(),
            Self::Contact(e) => e.event_version(),
            Self::Council(e) => e.event_version(),
            Self::Framework(e) => e.event_version(),
        }
    }

    /// The event as today's code writes it.
    pub fn to_json(&self) -> Value {
        let written = match self {
            Self::Establishment(e) => serde_json::to_value(e),
            Self::Student(e) => serde_json::to_value(e),
            Self::Timetable(e) => serde_json::to_value(e),
            Self::Attendance(e) => serde_json::to_value(e),
            Self::Gradebook(e) => serde_json::to_value(e),
            Self::Resource(e) => serde_json::to_value(e),
            Self::Contact(e) => serde_json::to_value(e),
            Self::Council(e) => serde_json::to_value(e),
            Self::Framework(e) => serde_json::to_value(e),
        };
        written.unwrap_or_else(|e| panic!("{} does not serialize: {e}", self.event_type()))
    }
}
