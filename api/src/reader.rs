//! Reading what the API shows, now or as Carnet knew it at a past instant.
//!
//! The read models' documents are the aggregates' states as their events build them, so
//! an `asOf` answer folds the same events, those recorded up to that instant, into the
//! same types: one code path shapes both answers, and they cannot disagree.

use carnet_domain::attendance::StudentAttendance;
use carnet_domain::enrolment::{Establishment, SchoolYear, Student};
use carnet_domain::grades::Gradebook;
use carnet_domain::reservations::Resource;
use carnet_domain::timetable::Timetable;
use carnet_domain::Uai;
use carnet_projections::{attendance, enrolment, grades, reservations, timetable};
use carnet_store::{EventStore, Pool, RecordedEvent, StreamRef};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// One establishment's data, now (`as_of: None`, from the read models) or at an instant.
#[derive(Clone, Debug)]
pub struct Reader {
    pub store: EventStore,
    pub pool: Pool,
    pub tenant: Uai,
    pub as_of: Option<DateTime<Utc>>,
}

impl Reader {
    pub fn at(&self, as_of: Option<DateTime<Utc>>) -> Reader {
        Reader {
            as_of: as_of.or(self.as_of),
            ..self.clone()
        }
    }

    pub async fn establishment(&self) -> ApiResult<Establishment> {
        let found = match self.as_of {
            None => enrolment::establishment(&self.pool, &self.tenant).await?,
            Some(_) => self.fold::<Establishment>(self.tenant.as_str()).await?,
        };
        found.ok_or_else(|| ApiError::not_found(format!("establishment {}", self.tenant)))
    }

    pub async fn student(&self, id: &str) -> ApiResult<Student> {
        let found = match self.as_of {
            None => enrolment::student(&self.pool, &self.tenant, id).await?,
            Some(_) => self.fold::<Student>(id).await?,
        };
        found.ok_or_else(|| ApiError::not_found(format!("no student `{id}` here")))
    }

    pub async fn attendance(
        &self,
        year: &SchoolYear,
        student: &str,
    ) -> ApiResult<StudentAttendance> {
        Ok(match self.as_of {
            None => {
                attendance::student_year(&self.pool, &self.tenant, year.as_str(), student).await?
            }
            Some(_) => self
                .fold::<StudentAttendance>(&format!("{year}/{student}"))
                .await?
                .unwrap_or_default(),
        })
    }

    pub async fn gradebook(
        &self,
        year: &SchoolYear,
        class: &str,
        period: &str,
    ) -> ApiResult<Option<Gradebook>> {
        Ok(match self.as_of {
            None => {
                grades::gradebook(&self.pool, &self.tenant, year.as_str(), class, period).await?
            }
            Some(_) => {
                self.fold::<Gradebook>(&format!("{year}/{class}/{period}"))
                    .await?
            }
        })
    }

    pub async fn timetable(&self, year: &SchoolYear) -> ApiResult<Option<Timetable>> {
        Ok(match self.as_of {
            None => timetable::timetable(&self.pool, &self.tenant, year.as_str()).await?,
            Some(_) => self.fold::<Timetable>(year.as_str()).await?,
        })
    }

    pub async fn resource(&self, id: &str) -> ApiResult<Resource> {
        let found = match self.as_of {
            None => reservations::resource(&self.pool, &self.tenant, id).await?,
            Some(_) => self.fold::<Resource>(id).await?,
        };
        found.ok_or_else(|| ApiError::not_found(format!("no resource `{id}` here")))
    }

    /// The events of a stream, those recorded by `as_of` when set.
    pub async fn events<A: Aggregate>(&self, id: &str) -> ApiResult<Vec<RecordedEvent>> {
        let mut events = self
            .store
            .read_stream(&self.tenant, &StreamRef::new(A::TYPE, id), 0)
            .await?;
        if let Some(at) = self.as_of {
            events.retain(|e| e.recorded_at <= at);
        }
        Ok(events)
    }

    /// The aggregate as its events recorded by `as_of` build it; `None` without any.
    async fn fold<A>(&self, id: &str) -> ApiResult<Option<A>>
    where
        A: Aggregate + Default,
        A::Event: DeserializeOwned,
    {
        let events = self.events::<A>(id).await?;
        if events.is_empty() {
            return Ok(None);
        }
        let mut state = A::default();
        for event in &events {
            state.apply(decode(event)?);
        }
        Ok(Some(state))
    }
}

pub fn decode<T: DeserializeOwned>(event: &RecordedEvent) -> ApiResult<T> {
    carnet_projections::decode(event).map_err(ApiError::from)
}
