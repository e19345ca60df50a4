//! Reading what the API shows, now or as Carnet knew it at a past instant.
//!
//! The read models' documents are the aggregates' states as their events build them, so
//! an `asOf` answer folds the same events, those recorded up to that instant, into the
//! same types: one code path shapes both answers, and they cannot disagree.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use carnet_domain::attendance::StudentAttendance;
use carnet_domain::enrolment::{Establishment, SchoolYear, Student};
use carnet_domain::grades::Gradebook;
use carnet_domain::personal::Personal;
use carnet_domain::reportcards::{ClassCouncil, CompetenceFramework};
use carnet_domain::reservations::Resource;
use carnet_domain::timetable::Timetable;
use carnet_domain::Uai;
use carnet_projections::{attendance, enrolment, grades, reservations, timetable};
use carnet_store::{EventStore, Pool, RecordedEvent, StreamRef};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

type Shared = Arc<dyn Any + Send + Sync>;
/// A document: its establishment, projection and key.
type DocKey = (Uai, &'static str, String);
/// A projection's active generation and the position of its last change of documents.
type At = (i32, i64);

/// Parsed documents shared between requests. The large documents every request reads
/// (the establishment, the year's timetable, gradebooks) cost more to parse than to
/// serve; one is reused while its projection has not changed any document since (its
/// checkpoint's `docs_position`, moved in the transaction that writes documents).
#[derive(Default)]
pub struct DocCache {
    entries: Mutex<HashMap<DocKey, (At, Shared)>>,
}

/// Documents kept at most; past it the cache starts again empty.
const MAX_CACHED_DOCS: usize = 4_000;

impl std::fmt::Debug for DocCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocCache").finish_non_exhaustive()
    }
}

/// What one request already read: each document and checkpoint once per request.
#[derive(Default)]
struct Memo {
    /// Each projection's generation and `docs_position`, read once per request.
    positions: tokio::sync::OnceCell<HashMap<String, At>>,
    docs: Mutex<HashMap<(&'static str, String), Shared>>,
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Distinct streams of the log one request may read (the histories and `asOf` folds of
/// a whole class's report cards fit many times). Each stream is read once per request
/// however many fields and aliases ask for it.
pub const MAX_STREAMS_PER_REQUEST: usize = 2_000;

/// The streams one request has read and folded, shared by every reader of the request
/// (whatever its `asOf`), so that a thousand aliases of one history read its stream
/// once and fold it once.
pub struct RequestReads {
    /// Each stream's place, taken (and counted) before it is read: the fields of a
    /// query resolve concurrently, and a count of the streams already read would let
    /// a thousand aliases all pass it before the first read ended.
    streams: Mutex<HashMap<StreamKey, Arc<StreamRead>>>,
    /// Distinct streams this request may read.
    budget: usize,
    /// What the request folded of each stream, as of each instant it asked for. Reading
    /// a stream once was not enough: folding it is what costs, and twenty aliases of a
    /// report card's histories folded each gradebook once per mark and per alias.
    folds: Mutex<HashMap<FoldKey, FoldEntry>>,
}

/// A stream folded as of an instant (`None`: all of it).
type FoldKey = (&'static str, String, Option<DateTime<Utc>>);

/// One stream's folds: its `StreamFolds<A>` (kept as `Any`: the map holds every
/// aggregate type) and their count, readable without knowing `A`.
struct FoldEntry {
    counts: Arc<FoldCounts>,
    folds: Shared,
}

/// How often a request folded one stream as of one instant.
#[derive(Debug, Default)]
pub(crate) struct FoldCounts {
    states: AtomicUsize,
    histories: AtomicUsize,
}

impl FoldCounts {
    pub(crate) fn history_pass(&self) {
        self.histories.fetch_add(1, Ordering::Relaxed);
    }
}

/// How often a request folded one stream as of one instant: for its value (`asOf`
/// answers) and for the histories asked of it (one pass serves all those asked
/// together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Folds {
    pub states: usize,
    pub histories: usize,
}

/// What one request folded of one stream as of one instant, shared by every field
/// and alias of the request that asks for it.
pub(crate) struct StreamFolds<A> {
    /// The aggregate as of the instant (an `asOf` value); `None` without any event.
    state: tokio::sync::OnceCell<Option<Arc<A>>>,
    /// The histories asked of the stream.
    pub(crate) histories: crate::history::Histories<A>,
    pub(crate) counts: Arc<FoldCounts>,
}

impl Default for RequestReads {
    fn default() -> Self {
        Self::with_budget(MAX_STREAMS_PER_REQUEST)
    }
}

impl RequestReads {
    /// A request that may read `budget` distinct streams.
    pub fn with_budget(budget: usize) -> Self {
        RequestReads {
            streams: Mutex::default(),
            budget,
            folds: Mutex::default(),
        }
    }

    /// How often this request folded each stream, named `type/id` (and `@instant` as
    /// of one): what the tests check (each history pass is also logged, at debug).
    pub fn folds(&self) -> BTreeMap<String, Folds> {
        lock(&self.folds)
            .iter()
            .map(|((kind, id, at), entry)| {
                let name = match at {
                    Some(at) => format!("{kind}/{id}@{}", at.to_rfc3339()),
                    None => format!("{kind}/{id}"),
                };
                let folds = Folds {
                    states: entry.counts.states.load(Ordering::Relaxed),
                    histories: entry.counts.histories.load(Ordering::Relaxed),
                };
                (name, folds)
            })
            .collect()
    }
}

/// A stream of the log: its aggregate's type and id.
type StreamKey = (&'static str, String);
/// A stream's events, once read.
type StreamRead = tokio::sync::OnceCell<Arc<Vec<RecordedEvent>>>;

impl std::fmt::Debug for RequestReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestReads").finish_non_exhaustive()
    }
}

/// One establishment's data, now (`as_of: None`, from the read models) or at an instant.
#[derive(Clone, Debug)]
pub struct Reader {
    pub store: EventStore,
    pub pool: Pool,
    pub tenant: Uai,
    pub as_of: Option<DateTime<Utc>>,
    cache: Arc<DocCache>,
    memo: Arc<Memo>,
    reads: Arc<RequestReads>,
}

impl Reader {
    /// A personal value in clear, or `None` once its owner's data was erased.
    pub async fn open<T: DeserializeOwned + Clone>(
        &self,
        value: &Personal<T>,
    ) -> ApiResult<Option<T>> {
        Ok(self.store.vault().open(&self.tenant, value).await?)
    }

    pub fn new(store: EventStore, pool: Pool, tenant: Uai, cache: Arc<DocCache>) -> Self {
        Reader {
            store,
            pool,
            tenant,
            as_of: None,
            cache,
            memo: Arc::default(),
            reads: Arc::default(),
        }
    }

    /// The same establishment as of `as_of` (if given; `None` keeps this reader's).
    /// Shares the stream reads of the rest of the request.
    pub fn with_reads(mut self, reads: Arc<RequestReads>) -> Reader {
        self.reads = reads;
        self
    }

    /// The same establishment now, with nothing remembered of what this request read:
    /// what a mutation reads back after its command.
    pub fn fresh(&self) -> Reader {
        Reader {
            as_of: None,
            memo: Arc::default(),
            ..self.clone()
        }
    }

    pub fn at(&self, as_of: Option<DateTime<Utc>>) -> Reader {
        match as_of {
            Some(at) if Some(at) != self.as_of => Reader {
                as_of: Some(at),
                memo: Arc::default(),
                ..self.clone()
            },
            _ => self.clone(),
        }
    }

    /// The document `key` of `projection`, parsed once per request, and shared between
    /// requests while the projection has not moved when `shared`.
    async fn doc<T>(
        &self,
        projection: &'static str,
        key: String,
        shared: bool,
    ) -> ApiResult<Option<Arc<T>>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        if let Some(found) = lock(&self.memo.docs).get(&(projection, key.clone())) {
            return Ok(found.clone().downcast::<T>().ok());
        }
        let mut at = None;
        if shared {
            let positions = self
                .memo
                .positions
                .get_or_try_init(|| async {
                    let rows = carnet_projections::checkpoint::docs_positions(
                        &self.pool,
                        self.tenant.as_str(),
                    )
                    .await?;
                    Ok::<_, ApiError>(
                        rows.into_iter()
                            .map(|(projection, generation, position)| {
                                (projection, (generation, position))
                            })
                            .collect(),
                    )
                })
                .await?;
            if let Some(p) = positions.get(projection).copied() {
                let entry = (self.tenant.clone(), projection, key.clone());
                let cached = lock(&self.cache.entries)
                    .get(&entry)
                    .filter(|(at, _)| *at == p)
                    .map(|(_, d)| d.clone());
                if let Some(found) = cached {
                    lock(&self.memo.docs).insert((projection, key), found.clone());
                    return Ok(found.downcast::<T>().ok());
                }
                at = Some((entry, p));
            }
        }
        let Some(parsed) =
            carnet_projections::query::doc::<T>(&self.pool, &self.tenant, projection, &key).await?
        else {
            return Ok(None);
        };
        let parsed = Arc::new(parsed);
        let any: Shared = parsed.clone();
        if let Some((entry, p)) = at {
            let mut entries = lock(&self.cache.entries);
            if entries.len() >= MAX_CACHED_DOCS {
                entries.clear();
            }
            entries.insert(entry, (p, any.clone()));
        }
        lock(&self.memo.docs).insert((projection, key), any);
        Ok(Some(parsed))
    }

    /// What this request folds of the stream `id` of `A` as of this reader's instant:
    /// the same for every reader of the request (each alias has its own, made by `at`).
    pub(crate) fn stream_folds<A>(&self, id: &str) -> ApiResult<Arc<StreamFolds<A>>>
    where
        A: Aggregate + Send + Sync + 'static,
    {
        let key = (A::TYPE, id.to_string(), self.as_of);
        let any = lock(&self.reads.folds)
            .entry(key)
            .or_insert_with(|| {
                let counts = Arc::new(FoldCounts::default());
                let folds: Shared = Arc::new(StreamFolds::<A> {
                    state: tokio::sync::OnceCell::new(),
                    histories: crate::history::Histories::default(),
                    counts: counts.clone(),
                });
                FoldEntry { counts, folds }
            })
            .folds
            .clone();
        // One aggregate type per stream type: another type here is a bug, not input.
        any.downcast::<StreamFolds<A>>().map_err(|_| {
            ApiError::internal(&format!("stream type {} folded as two types", A::TYPE))
        })
    }

    /// The aggregate as of this reader's instant, folded once per request: every alias
    /// asking for it as of the same instant waits for that one fold.
    async fn folded<A>(&self, id: &str) -> ApiResult<Option<Arc<A>>>
    where
        A: Aggregate + Default + Send + Sync + 'static,
        A::Event: DeserializeOwned,
    {
        let folds = self.stream_folds::<A>(id)?;
        let state = folds
            .state
            .get_or_try_init(|| async {
                let state = self.fold::<A>(id).await?;
                folds.counts.states.fetch_add(1, Ordering::Relaxed);
                Ok::<_, ApiError>(state.map(Arc::new))
            })
            .await?;
        Ok(state.clone())
    }

    pub async fn establishment(&self) -> ApiResult<Arc<Establishment>> {
        let found = match self.as_of {
            None => {
                self.doc(enrolment::NAME, "establishment".into(), true)
                    .await?
            }
            Some(_) => self.folded::<Establishment>(self.tenant.as_str()).await?,
        };
        found.ok_or_else(|| {
            let tenant = &self.tenant;
            ApiError::not_found(crate::i18n::Text::new(
                format!("établissement {tenant}"),
                format!("establishment {tenant}"),
            ))
        })
    }

    pub async fn student(&self, id: &str) -> ApiResult<Arc<Student>> {
        let found = match self.as_of {
            None => {
                self.doc(enrolment::NAME, format!("student/{id}"), false)
                    .await?
            }
            Some(_) => self.folded::<Student>(id).await?,
        };
        found.ok_or_else(|| {
            ApiError::not_found(crate::i18n::Text::new(
                format!("pas d'élève `{id}` ici"),
                format!("no student `{id}` here"),
            ))
        })
    }

    pub async fn attendance(
        &self,
        year: &SchoolYear,
        student: &str,
    ) -> ApiResult<Arc<StudentAttendance>> {
        Ok(match self.as_of {
            None => Arc::new(
                attendance::student_year(&self.pool, &self.tenant, year.as_str(), student).await?,
            ),
            Some(_) => self
                .folded::<StudentAttendance>(&format!("{year}/{student}"))
                .await?
                .unwrap_or_default(),
        })
    }

    pub async fn gradebook(
        &self,
        year: &SchoolYear,
        class: &str,
        period: &str,
    ) -> ApiResult<Option<Arc<Gradebook>>> {
        match self.as_of {
            None => {
                let key = format!("gradebook/{year}/{class}/{period}");
                self.doc(grades::NAME, key, true).await
            }
            Some(_) => {
                self.folded::<Gradebook>(&format!("{year}/{class}/{period}"))
                    .await
            }
        }
    }

    /// The report cards of a division for a period, folded from its stream (a small
    /// one: a few events per student and period), as of this reader's instant.
    pub async fn council(
        &self,
        year: &SchoolYear,
        division: &str,
        period: &str,
    ) -> ApiResult<Option<Arc<ClassCouncil>>> {
        self.folded::<ClassCouncil>(&format!("{year}/{division}/{period}"))
            .await
    }

    /// The establishment's competence framework, folded from its stream.
    pub async fn framework(&self) -> ApiResult<Arc<CompetenceFramework>> {
        Ok(self
            .folded::<CompetenceFramework>(self.tenant.as_str())
            .await?
            .unwrap_or_default())
    }

    pub async fn timetable(&self, year: &SchoolYear) -> ApiResult<Option<Arc<Timetable>>> {
        match self.as_of {
            None => {
                self.doc(timetable::NAME, format!("timetable/{year}"), true)
                    .await
            }
            Some(_) => self.folded::<Timetable>(year.as_str()).await,
        }
    }

    pub async fn resource(&self, id: &str) -> ApiResult<Arc<Resource>> {
        let found = match self.as_of {
            None => {
                self.doc(reservations::NAME, format!("resource/{id}"), false)
                    .await?
            }
            Some(_) => self.folded::<Resource>(id).await?,
        };
        found.ok_or_else(|| {
            ApiError::not_found(crate::i18n::Text::new(
                format!("pas de ressource `{id}` ici"),
                format!("no resource `{id}` here"),
            ))
        })
    }

    /// The events of a stream, those recorded by `as_of` when set.
    pub async fn events<A: Aggregate>(&self, id: &str) -> ApiResult<Vec<RecordedEvent>> {
        let all = self.stream::<A>(id).await?;
        Ok(self.recorded(&all).cloned().collect())
    }

    /// Those of `events` recorded by `as_of` when set.
    pub(crate) fn recorded<'a>(
        &self,
        events: &'a [RecordedEvent],
    ) -> impl Iterator<Item = &'a RecordedEvent> {
        let as_of = self.as_of;
        events
            .iter()
            .filter(move |e| as_of.is_none_or(|at| e.recorded_at <= at))
    }

    /// The whole stream, read once per request (whatever the instant), not copied.
    pub(crate) async fn stream<A: Aggregate>(
        &self,
        id: &str,
    ) -> ApiResult<Arc<Vec<RecordedEvent>>> {
        let key = (A::TYPE, id.to_string());
        let place = {
            let mut streams = lock(&self.reads.streams);
            match streams.get(&key) {
                Some(place) => place.clone(),
                None => {
                    let budget = self.reads.budget;
                    if streams.len() >= budget {
                        return Err(ApiError::TooCostly(crate::i18n::Text::new(
                            format!(
                                "cette requête lit l'historique de plus de {budget} \
                                 enregistrements ; demandez-en moins à la fois"
                            ),
                            format!(
                                "this request reads the history of more than {budget} records; \
                                 ask for fewer at a time"
                            ),
                        )));
                    }
                    let place = Arc::new(StreamRead::new());
                    streams.insert(key, place.clone());
                    place
                }
            }
        };
        // The fields asking for one stream at once wait for a single read of it.
        let all = place
            .get_or_try_init(|| async {
                Ok::<_, ApiError>(Arc::new(
                    self.store
                        .read_stream(&self.tenant, &StreamRef::new(A::TYPE, id), 0)
                        .await?,
                ))
            })
            .await?;
        Ok(all.clone())
    }

    /// The aggregate as its events recorded by `as_of` build it; `None` without any.
    async fn fold<A>(&self, id: &str) -> ApiResult<Option<A>>
    where
        A: Aggregate + Default,
        A::Event: DeserializeOwned,
    {
        let all = self.stream::<A>(id).await?;
        let mut state = None;
        for event in self.recorded(&all) {
            state.get_or_insert_with(A::default).apply(decode(event)?);
        }
        Ok(state)
    }
}

pub fn decode<T: DeserializeOwned>(event: &RecordedEvent) -> ApiResult<T> {
    carnet_projections::decode(event).map_err(ApiError::from)
}
