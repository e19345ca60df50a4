//! Reservations: rooms and equipment, their bookings and approvals.

mod mutation;
mod query;

pub(crate) use mutation::ReservationsMutation;
pub(crate) use query::ReservationsQuery;

use crate::schema::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ResourceType {
    Room,
    Item,
    Pool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum BookingState {
    Pending,
    Confirmed,
    Refused,
    Cancelled,
}

impl From<BookingStatus> for BookingState {
    fn from(s: BookingStatus) -> Self {
        match s {
            BookingStatus::Pending => BookingState::Pending,
            BookingStatus::Confirmed => BookingState::Confirmed,
            BookingStatus::Refused => BookingState::Refused,
            BookingStatus::Cancelled => BookingState::Cancelled,
        }
    }
}

#[derive(Debug, Clone, SimpleObject)]
pub struct BookedTime {
    pub start: LocalDateTime,
    pub end: LocalDateTime,
    pub cancelled: bool,
}

#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex, name = "Booking")]
pub struct BookingView {
    /// The establishment's id of the booking (what booking mutations take).
    #[graphql(name = "localId")]
    pub id: String,
    pub resource: String,
    pub by: String,
    pub quantity: u32,
    pub purpose: String,
    pub status: BookingState,
    pub weekly: bool,
    pub times: Vec<BookedTime>,
    #[graphql(skip)]
    pub reader: Reader,
}

#[ComplexObject]
impl BookingView {
    /// The global id (see `node`).
    #[graphql(name = "id")]
    async fn global_id(&self) -> async_graphql::ID {
        crate::schema::node::global_id(
            crate::schema::node::NodeType::Booking,
            &self.reader.tenant,
            &format!("{}/{}", self.resource, self.id),
        )
    }
    /// Each change of the booking: made, approved or refused, cancelled.
    #[graphql(complexity = "HISTORY_COST + child_complexity")]
    async fn history(&self) -> GqlResult<Vec<Change>> {
        let id = self.id.clone();
        let entity = ("booking", vec![id.clone()]);
        Ok(
            history::<Resource, Booking, _>(&self.reader, &self.resource, entity, move |r| {
                r.bookings.get(&id).cloned()
            })
            .await?,
        )
    }
}

pub fn booking(reader: &Reader, resource: &str, b: &Booking) -> BookingView {
    BookingView {
        id: b.id.clone(),
        resource: resource.to_string(),
        by: b.by.clone(),
        quantity: b.quantity,
        purpose: b.purpose.clone(),
        status: b.status.into(),
        weekly: b.weekly,
        times: b
            .occurrences
            .iter()
            .map(|o| BookedTime {
                start: o.start.into(),
                end: o.end.into(),
                cancelled: o.cancelled,
            })
            .collect(),
        reader: reader.clone(),
    }
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Slot {
    pub start: LocalDateTime,
    pub end: LocalDateTime,
    pub free: u32,
}

/// What a resource is, apart from its bookings.
#[derive(Debug, PartialEq, serde::Serialize)]
struct ResourceFacts {
    name: String,
    kind: ResourceKind,
    requires_approval: bool,
    managers: Vec<String>,
    retired_at: Option<NaiveDateTime>,
}

pub struct ResourceView {
    pub reader: Reader,
    pub resource: Arc<Resource>,
}

#[Object(name = "Resource")]
impl ResourceView {
    /// The global id (see `node`).
    async fn id(&self) -> async_graphql::ID {
        crate::schema::node::global_id(
            crate::schema::node::NodeType::Resource,
            &self.reader.tenant,
            &self.resource.id,
        )
    }

    /// The establishment's id of the resource, e.g. `salle-101`.
    async fn local_id(&self) -> &str {
        &self.resource.id
    }

    async fn name(&self) -> &str {
        &self.resource.name
    }

    async fn kind(&self) -> Option<ResourceType> {
        self.resource.kind.map(|k| match k {
            ResourceKind::Room { .. } => ResourceType::Room,
            ResourceKind::Item => ResourceType::Item,
            ResourceKind::Pool { .. } => ResourceType::Pool,
        })
    }

    /// How much can be held at one instant.
    async fn capacity(&self) -> u32 {
        self.resource.capacity()
    }

    async fn requires_approval(&self) -> bool {
        self.resource.requires_approval
    }

    async fn managers(&self) -> &[String] {
        &self.resource.managers
    }

    async fn retired_at(&self) -> Option<LocalDateTime> {
        self.resource.retired_at.map(LocalDateTime)
    }

    /// Each change of the resource itself: registered, its quantity, retired (each
    /// booking has its own history).
    #[graphql(complexity = "HISTORY_COST + child_complexity")]
    async fn history(&self) -> GqlResult<Vec<Change>> {
        let entity = ("resource", Vec::new());
        Ok(
            history::<Resource, _, _>(&self.reader, &self.resource.id, entity, |r| {
                r.kind.map(|kind| ResourceFacts {
                    name: r.name.clone(),
                    kind,
                    requires_approval: r.requires_approval,
                    managers: r.managers.clone(),
                    retired_at: r.retired_at,
                })
            })
            .await?,
        )
    }

    /// Bookings, by id.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn bookings(
        &self,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<KeyedPage<BookingView>> {
        let items = self
            .resource
            .bookings
            .iter()
            .map(|(id, b)| (id.clone(), booking(&self.reader, &self.resource.id, b)))
            .collect();
        keyed(items, after, before, first, last).await
    }

    /// What is free in each slot of `slotMinutes` from `from` to `to` (local times).
    async fn availability(
        &self,
        from: LocalDateTime,
        to: LocalDateTime,
        slot_minutes: Option<u32>,
    ) -> GqlResult<Vec<Slot>> {
        let (from, to) = (from.0, to.0);
        let minutes = slot_minutes.unwrap_or(60);
        if !(5..=1440).contains(&minutes) {
            return Err(ApiError::validation(
                "slotMinutes",
                Text::new("entre 5 et 1440", "between 5 and 1440"),
            )
            .into());
        }
        if to <= from || (to - from).num_days() > MAX_RANGE_DAYS {
            return Err(ApiError::validation(
                "to",
                Text::new(
                    format!("après `from`, au plus {MAX_RANGE_DAYS} jours plus tard"),
                    format!("after `from`, at most {MAX_RANGE_DAYS} days later"),
                ),
            )
            .into());
        }
        Ok(self
            .resource
            .availability(from, to, Duration::minutes(i64::from(minutes)))
            .into_iter()
            .map(|(start, end, free)| Slot {
                start: start.into(),
                end: end.into(),
                free,
            })
            .collect())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum NewResourceKind {
    Room,
    Item,
    Pool,
}
