//! An import's plan: the aggregates a file touches, loaded from the log; the commands
//! that bring them to what the file says, decided in memory by the domain's own rules
//! (the same `handle` the API runs); and the events they give, each request carrying the
//! file's name, SHA-256 and line, to be appended in one transaction or not at all.

use std::collections::BTreeMap;

use carnet_domain::Uai;
use carnet_store::aggregate::{decode, encode};
use carnet_store::{
    AppendRequest, EventMetadata, EventStore, ExpectedVersion, RecordedEvent, Source, StoreError,
    StreamRef,
};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;

use crate::report::{Location, Problem};

/// The metadata keys of an imported event's provenance.
pub const FORMAT_KEY: &str = "import.format";
pub const FILE_KEY: &str = "import.file";
pub const SHA256_KEY: &str = "import.sha256";
pub const LINE_KEY: &str = "import.line";
/// The XML element's path, or the CSV file of a bundle (OneRoster), the line is in.
pub const ELEMENT_KEY: &str = "import.element";

/// Where the events of an import come from, and who imports.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// `siecle`, `sts`, `oneroster`, `fet`, ...
    pub format: &'static str,
    pub file: String,
    pub sha256: String,
    pub actor: String,
    pub role: String,
}

/// One aggregate as the plan sees it: its state after the commands planned so far and
/// the version its next request expects.
#[derive(Debug, Clone)]
pub struct Tracked<A> {
    pub id: String,
    pub version: i64,
    pub state: A,
    /// The import format that created the stream, if an import did: a file removes only
    /// what a file of its own kind made.
    pub origin: Option<String>,
}

impl<A: Aggregate> Tracked<A> {
    pub fn new(id: impl Into<String>) -> Self {
        Tracked {
            id: id.into(),
            version: 0,
            state: A::default(),
            origin: None,
        }
    }
}

/// The import format recorded in an event's metadata.
pub fn origin_of(event: &RecordedEvent) -> Option<String> {
    event.metadata.extra.get(FORMAT_KEY).cloned()
}

/// Folds recorded events of one stream; `each` sees every event with its record.
pub fn fold<A: Aggregate>(
    id: &str,
    events: Vec<RecordedEvent>,
    mut each: impl FnMut(&A::Event, &RecordedEvent),
) -> Result<Tracked<A>, StoreError> {
    let mut tracked = Tracked::<A>::new(id);
    for record in events {
        if tracked.version == 0 {
            tracked.origin = origin_of(&record);
        }
        tracked.version = record.stream_version;
        let event = decode::<A>(record.clone())?;
        each(&event, &record);
        tracked.state.apply(event);
    }
    Ok(tracked)
}

/// One stream of `A`, as the log has it now.
pub async fn load<A: Aggregate>(
    store: &EventStore,
    tenant: &Uai,
    id: &str,
    each: impl FnMut(&A::Event, &RecordedEvent),
) -> Result<Tracked<A>, StoreError> {
    let events = store
        .read_stream(tenant, &StreamRef::new(A::TYPE, id), 0)
        .await?;
    fold(id, events, each)
}

/// Every stream of `A` in the establishment, by id.
pub async fn load_all<A: Aggregate>(
    store: &EventStore,
    tenant: &Uai,
) -> Result<BTreeMap<String, Tracked<A>>, StoreError> {
    let mut streams: BTreeMap<String, Vec<RecordedEvent>> = BTreeMap::new();
    for event in store.read_stream_type(tenant, A::TYPE).await? {
        streams
            .entry(event.stream.stream_id.clone())
            .or_default()
            .push(event);
    }
    streams
        .into_iter()
        .map(|(id, events)| Ok((id.clone(), fold(&id, events, |_, _| {})?)))
        .collect()
}

/// What a change does to its kind of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Changed,
    Removed,
    /// A further command of a change already counted (the new course that replaces an
    /// ended one): not counted again.
    Continued,
}

/// How many records of one kind a plan creates, changes and removes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: usize,
    pub changed: usize,
    pub removed: usize,
}

/// The commands decided so far, their events and the file's problems.
#[derive(Debug)]
pub struct Plan {
    provenance: Provenance,
    pub requests: Vec<AppendRequest>,
    pub problems: Vec<Problem>,
    /// Per kind of record (`students`, `divisions`, ...).
    pub changes: BTreeMap<&'static str, Counts>,
    pub events: usize,
    file: String,
}

impl Plan {
    pub fn new(provenance: Provenance) -> Self {
        Plan {
            file: provenance.file.clone(),
            provenance,
            requests: Vec::new(),
            problems: Vec::new(),
            changes: BTreeMap::new(),
            events: 0,
        }
    }

    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    /// Records a problem of the file.
    pub fn problem(&mut self, at: &Location, field: impl Into<String>, rule: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.clone(),
            at: at.clone(),
            field: field.into(),
            rule: rule.into(),
        });
    }

    /// Decides `command` on `target` as the domain would, from the line at `at`. A
    /// refusal becomes a problem naming `field` and the domain's reason, and leaves
    /// `target` as it was. Returns whether the command was accepted.
    pub async fn execute<A>(
        &mut self,
        target: &mut Tracked<A>,
        command: A::Command,
        services: &A::Services,
        at: &Location,
        (kind, change): (&'static str, Change),
        field: &str,
    ) -> bool
    where
        A: Aggregate,
    {
        // Every aggregate of the domain decides before it applies anything: a refused
        // command leaves the state as it was, with no copy to restore.
        let sink = EventSink::<A>::default();
        if let Err(refusal) = target.state.handle(command, services, &sink).await {
            self.problem(at, field, refusal.to_string());
            return false;
        }
        let events = sink.collect().await;
        if events.is_empty() {
            return true;
        }
        let encoded = match events.iter().map(encode).collect::<Result<Vec<_>, _>>() {
            Ok(encoded) => encoded,
            Err(e) => {
                // The import fails with this problem: the state, applied already, is
                // never written.
                self.problem(at, field, e.to_string());
                return false;
            }
        };
        let request = AppendRequest::new(
            StreamRef::new(A::TYPE, target.id.clone()),
            ExpectedVersion::Exactly(target.version),
            encoded,
        )
        .with_metadata(self.metadata(at));
        target.version += events.len() as i64;
        if target.origin.is_none() && target.version == events.len() as i64 {
            target.origin = Some(self.provenance.format.to_string());
        }
        self.events += events.len();
        self.requests.push(request);
        let counts = self.changes.entry(kind).or_default();
        match change {
            Change::Created => counts.created += 1,
            Change::Changed => counts.changed += 1,
            Change::Removed => counts.removed += 1,
            Change::Continued => {}
        }
        true
    }

    fn metadata(&self, at: &Location) -> EventMetadata {
        let p = &self.provenance;
        let mut extra = BTreeMap::from([
            (FORMAT_KEY.to_string(), p.format.to_string()),
            (FILE_KEY.to_string(), p.file.clone()),
            (SHA256_KEY.to_string(), p.sha256.clone()),
        ]);
        if let Some(line) = at.line() {
            extra.insert(LINE_KEY.to_string(), line.to_string());
        }
        if let Location::Element { path, .. } = at {
            extra.insert(ELEMENT_KEY.to_string(), path.clone());
        }
        EventMetadata {
            actor: Some(p.actor.clone()),
            role: Some(p.role.clone()),
            source: Source::Import,
            extra,
            ..EventMetadata::default()
        }
    }
}
