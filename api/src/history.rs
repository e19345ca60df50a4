//! The history of an entity: each change with who made it, when, through what, the value
//! before and after, and the command id.
//!
//! The stream of the entity's aggregate is folded event by event, and the entity's value
//! (a mark, a roll-call entry, a booking, a placement) is read before and after each
//! event: an event that leaves it as it was is not one of its changes. So the values
//! are exactly what the API showed at each moment, by the same types.
//!
//! A request folds each stream (as of each instant) once for all the histories asked of
//! it: a report card's marks, a list's items and any number of aliases share one pass
//! over the stream, where each used to fold it again. The pass must know every entity
//! it follows before it starts (keeping every state of a long stream for entities asked
//! later would cost more memory than the folds it saves), so each history registers its
//! entity before it waits for anything, and the pass starts once the fields polled with
//! it have registered theirs. An entity asked after its stream's pass began (from a
//! field resolved later) joins the next pass; an entity already followed is never
//! followed again, whoever asks.
//!
//! The memo lives in the request's `RequestReads`, next to the reads it folds and with
//! their lifetime, rather than in an async-graphql `DataLoader`: a loader batches by a
//! time window on a task of its own and returns one value type per key, where here the
//! histories read eight different values of five aggregate types.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::{Json, SimpleObject};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use carnet_store::RecordedEvent;

use crate::error::{ApiError, ApiResult};
use crate::reader::{decode, Reader};

#[derive(Debug, Clone, SimpleObject)]
pub struct Change {
    /// When Carnet recorded it.
    pub at: DateTime<Utc>,
    /// Who: the person, and the role they acted in.
    pub person: Option<String>,
    pub role: Option<String>,
    /// Through what: api, import, replay, demo, ...
    pub via: String,
    /// The command that made it (the one a client retried, if it did).
    pub command_id: Option<Uuid>,
    /// The event recorded.
    pub event: String,
    /// Where it is in the establishment's log, and in its stream.
    pub position: i64,
    pub version: i64,
    pub before: Option<Json<Value>>,
    pub after: Option<Json<Value>>,
    /// Why, as the person gave it: a correction's reason, the CPE's note on a
    /// justification, the grounds of an erasure, a reopened period's reason; null when
    /// the change has none, or once it was erased with its owner's data.
    pub why: Option<String>,
    /// The justification the change is about (declared, accepted, refused).
    pub justification: Option<String>,
    /// `why` as the log holds it (sealed), opened with the changes' values.
    #[graphql(skip)]
    pub why_recorded: Option<Value>,
}

/// The reason a change gives, as recorded: its payload's `reason`, `note`, `grounds` or
/// `comment` (the first there is), and the justification it names.
fn why_of(event: &RecordedEvent) -> (Option<Value>, Option<String>) {
    let fields = event
        .payload
        .as_object()
        .and_then(|variant| variant.values().next())
        .and_then(Value::as_object);
    let Some(fields) = fields else {
        return (None, None);
    };
    let why = ["reason", "note", "grounds", "comment"]
        .iter()
        .find_map(|k| fields.get(*k))
        .filter(|v| !v.is_null() && v.as_str() != Some(""))
        .cloned();
    let justification = fields
        .get("justification")
        .and_then(Value::as_str)
        .map(str::to_string);
    (why, justification)
}

/// What a history follows: its kind (`mark`, `absence`...) and the entity's ids. One
/// kind reads one value of its aggregate, the same way wherever it is asked.
pub type Entity = (&'static str, Vec<String>);

/// The changes of `entity` in the stream `stream` of `A`, as `value` reads it, as of the
/// reader's instant, personal values in clear (or marked erased). Folded with the other
/// histories of the stream the request asks for at the same time, once.
pub async fn history<A, V, F>(
    reader: &Reader,
    stream: &str,
    entity: Entity,
    value: F,
) -> ApiResult<Vec<Change>>
where
    A: Aggregate + Default + Send + Sync + 'static,
    A::Event: DeserializeOwned,
    V: Serialize + PartialEq + Send + 'static,
    F: Fn(&A) -> Option<V> + Send + 'static,
{
    let folds = reader.stream_folds::<A>(stream)?;
    // Registered before any wait, so that the fields polled with this one are in the
    // same pass.
    let cell = folds.histories.ask(entity, move || {
        Box::new(Watch {
            value,
            last: None,
            changes: Vec::new(),
            aggregate: PhantomData,
        }) as Box<dyn Probe<A>>
    });
    if cell.raw.get().is_none() {
        let events = reader.stream::<A>(stream).await?;
        // The other items of a list (and aliases) are polled after this one: let them
        // register their entities before the pass starts. A long list is polled in
        // rounds (futures' `join_all` beyond 30 items stops a round when its futures
        // yield, as these do), so wait until a few rounds in a row register nothing new.
        let mut registered = folds.histories.pending();
        let mut quiet = 0;
        for _ in 0..REGISTRATION_ROUNDS {
            tokio::task::yield_now().await;
            let now = folds.histories.pending();
            quiet = if now == registered { quiet + 1 } else { 0 };
            if quiet == QUIET_ROUNDS {
                break;
            }
            registered = now;
        }
        let _pass = folds.histories.pass.lock().await;
        if cell.raw.get().is_none() {
            let probes = std::mem::take(&mut lock(&folds.histories.waiting).pending);
            let entities = probes.len();
            let events: Vec<&RecordedEvent> = reader.recorded(&events).collect();
            // From here to the cells being set nothing waits: a request stopped
            // midway cannot leave a cell unset with its probe gone.
            let results = pass::<A>(&events, probes);
            folds.counts.history_pass();
            tracing::debug!(
                stream = A::TYPE,
                id = stream,
                as_of = ?reader.as_of,
                entities,
                events = events.len(),
                "folded a stream once for the histories asked of it"
            );
            for (cell, result) in results {
                let _ = cell.raw.set(result);
            }
        }
    }
    let raw = match cell.raw.get() {
        Some(Ok(raw)) => raw.clone(),
        Some(Err(e)) => return Err(e.clone()),
        None => {
            return Err(ApiError::internal(&format!(
                "a history of {} {stream} was left without its pass",
                A::TYPE
            )))
        }
    };
    // Revealed once per entity too (an alias waits for the first to finish; one stopped
    // midway leaves it to the next).
    let revealed = cell
        .revealed
        .get_or_try_init(|| async {
            let mut changes = (*raw).clone();
            let vault = reader.store.vault();
            for change in &mut changes {
                for value in [&mut change.before, &mut change.after]
                    .into_iter()
                    .flatten()
                {
                    vault.reveal(&reader.tenant, &mut value.0).await?;
                }
                if let Some(mut why) = change.why_recorded.take() {
                    vault.reveal(&reader.tenant, &mut why).await?;
                    change.why = why.as_str().map(str::to_string);
                }
            }
            Ok::<_, ApiError>(Arc::new(changes))
        })
        .await?;
    Ok((**revealed).clone())
}

/// The histories asked of one stream as of one instant, in one request.
pub(crate) struct Histories<A> {
    waiting: Mutex<Waiting<A>>,
    /// One pass at a time; a field whose entity a running pass follows waits for it.
    pass: tokio::sync::Mutex<()>,
}

impl<A> Default for Histories<A> {
    fn default() -> Self {
        Histories {
            waiting: Mutex::new(Waiting {
                cells: HashMap::new(),
                pending: Vec::new(),
            }),
            pass: tokio::sync::Mutex::new(()),
        }
    }
}

/// How many times at most a history waits for more fields of its request to register
/// theirs, and how many rounds without any new one end the wait.
const REGISTRATION_ROUNDS: usize = 64;
const QUIET_ROUNDS: usize = 3;

impl<A> Histories<A> {
    /// How many entities wait for the next pass.
    fn pending(&self) -> usize {
        lock(&self.waiting).pending.len()
    }

    /// The cell of `entity`'s history; its probe (made by `probe`) waits for the next
    /// pass if no field asked for it before.
    fn ask(&self, entity: Entity, probe: impl FnOnce() -> Box<dyn Probe<A>>) -> Arc<Cell> {
        let mut waiting = lock(&self.waiting);
        if let Some(cell) = waiting.cells.get(&entity) {
            return cell.clone();
        }
        let cell = Arc::new(Cell::default());
        waiting.cells.insert(entity, cell.clone());
        waiting.pending.push((cell.clone(), probe()));
        cell
    }
}

struct Waiting<A> {
    cells: HashMap<Entity, Arc<Cell>>,
    /// The entities the next pass follows.
    pending: Vec<Followed<A>>,
}

/// An entity a pass follows: where its history goes, and what reads it.
type Followed<A> = (Arc<Cell>, Box<dyn Probe<A>>);

/// What a pass makes of one entity: its changes, or why there are none.
type Outcome = ApiResult<Arc<Vec<Change>>>;

/// One entity's history in one request: its changes once its pass has run, then the
/// same with personal values revealed.
#[derive(Default)]
struct Cell {
    raw: OnceLock<Outcome>,
    revealed: tokio::sync::OnceCell<Arc<Vec<Change>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One entity followed through a pass.
trait Probe<A>: Send {
    /// The value in the state before the first event.
    fn start(&mut self, state: &A);
    /// The state after `event`: a change if the value moved.
    fn observe(&mut self, state: &A, event: &RecordedEvent);
    fn finish(self: Box<Self>) -> Vec<Change>;
}

struct Watch<A, V, F> {
    value: F,
    last: Option<V>,
    changes: Vec<Change>,
    aggregate: PhantomData<fn(&A)>,
}

impl<A, V, F> Probe<A> for Watch<A, V, F>
where
    V: Serialize + PartialEq + Send,
    F: Fn(&A) -> Option<V> + Send,
{
    fn start(&mut self, state: &A) {
        self.last = (self.value)(state);
    }

    fn observe(&mut self, state: &A, event: &RecordedEvent) {
        // The value before this event is the one after the last: `value` reads the
        // state only, which no one else changes between two events.
        let after = (self.value)(state);
        if after != self.last {
            let (why_recorded, justification) = why_of(event);
            self.changes.push(Change {
                at: event.recorded_at,
                person: event.metadata.actor.clone(),
                role: event.metadata.role.clone(),
                via: event.metadata.source.as_str().to_string(),
                command_id: event.metadata.command_id,
                event: event.event_type.clone(),
                position: event.position,
                version: event.stream_version,
                before: self.last.as_ref().map(json),
                after: after.as_ref().map(json),
                why: None,
                justification,
                why_recorded,
            });
        }
        self.last = after;
    }

    fn finish(self: Box<Self>) -> Vec<Change> {
        self.changes
    }
}

/// One fold of `events` following every probe; an event that does not decode fails
/// them all, as it failed each of their folds before.
fn pass<A>(events: &[&RecordedEvent], mut probes: Vec<Followed<A>>) -> Vec<(Arc<Cell>, Outcome)>
where
    A: Aggregate + Default,
    A::Event: DeserializeOwned,
{
    let mut state = A::default();
    for (_, probe) in &mut probes {
        probe.start(&state);
    }
    for event in events {
        match decode::<A::Event>(event) {
            Ok(decoded) => state.apply(decoded),
            Err(e) => {
                return probes
                    .into_iter()
                    .map(|(cell, _)| (cell, Err(e.clone())))
                    .collect()
            }
        }
        for (_, probe) in &mut probes {
            probe.observe(&state, event);
        }
    }
    probes
        .into_iter()
        .map(|(cell, probe)| (cell, Ok(Arc::new(probe.finish()))))
        .collect()
}

fn json<V: Serialize>(v: V) -> Json<Value> {
    Json(serde_json::to_value(v).unwrap_or(Value::Null))
}
