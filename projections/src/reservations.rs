//! The reservations read model: each resource with its bookings (availability per slot
//! is computed by the domain's own capacity sweep), and each person's bookings.
//!
//! Documents:
//! - `resource/{id}`: the [`Resource`] as its events build it;
//! - `person/{id}`: [`PersonBookings`], the bookings a person made, by resource.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use carnet_domain::reservations::{ReservationEvent, Resource};
use carnet_domain::Uai;
use carnet_store::{Pool, RecordedEvent};
use chrono::{Duration, NaiveDateTime};
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::error::ProjectionError;
use crate::query;
use crate::runtime::{decode, Batch, Projection};
use crate::state::fold;

pub const NAME: &str = "reservations";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonBookings {
    /// Resource id → booking ids.
    pub bookings: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Debug)]
pub struct ReservationsProjection;

#[async_trait]
impl Projection for ReservationsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn wants(&self, stream_type: &str) -> bool {
        stream_type == Resource::TYPE
    }

    async fn apply(&self, event: &RecordedEvent, batch: &mut Batch) -> Result<(), ProjectionError> {
        let id = event.stream.stream_id.clone();
        let e: ReservationEvent = decode(event)?;
        let made = match &e {
            ReservationEvent::Booked { booking, by, .. }
            | ReservationEvent::BookedWeekly { booking, by, .. } => {
                Some((booking.clone(), by.clone()))
            }
            _ => None,
        };
        fold::<Resource>(batch, &format!("resource/{id}"), e).await?;
        if let Some((booking, by)) = made {
            let doc: &mut PersonBookings = batch.typed_mut(&format!("person/{by}")).await?;
            doc.bookings.entry(id).or_default().insert(booking);
        }
        Ok(())
    }
}

pub async fn resource(
    pool: &Pool,
    tenant: &Uai,
    id: &str,
) -> Result<Option<Resource>, ProjectionError> {
    query::doc(pool, tenant, NAME, &format!("resource/{id}")).await
}

pub async fn person(
    pool: &Pool,
    tenant: &Uai,
    person: &str,
) -> Result<PersonBookings, ProjectionError> {
    Ok(query::doc(pool, tenant, NAME, &format!("person/{person}"))
        .await?
        .unwrap_or_default())
}

/// Free quantity of a resource per slot of `slot` from `from` to `to`.
pub async fn availability(
    pool: &Pool,
    tenant: &Uai,
    id: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
    slot: Duration,
) -> Result<Vec<(NaiveDateTime, NaiveDateTime, u32)>, ProjectionError> {
    Ok(resource(pool, tenant, id)
        .await?
        .map(|r| r.availability(from, to, slot))
        .unwrap_or_default())
}
