//! A bookable resource and every booking of it.

use std::collections::BTreeMap;

use chrono::{Days, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::capacity::{self, Hold};
use super::resource::{
    day, names, ActiveOccurrence, Booking, BookingStatus, Conflict, Conflicts, Occurrence,
    ResourceKind, Span,
};
use crate::calendar::{CalendarError, SchoolCalendar};

/// A weekly booking covers at most the length the calendar allows for a school year, so
/// that a mistyped year cannot make it list thousands of dates.
const LONGEST_WEEKLY_DAYS: i64 = 548;

/// One resource and all its bookings: one event stream, so that two bookings of the last
/// tablets made at the same instant are decided by the event store's optimistic
/// concurrency (one append wins, the other is retried on the new state and refused).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub id: String,
    pub name: String,
    /// `None` until the resource is registered.
    pub kind: Option<ResourceKind>,
    pub requires_approval: bool,
    /// Who approves bookings, changes the quantity, retires the resource and may cancel
    /// anybody's booking.
    pub managers: Vec<String>,
    /// From when the resource is no longer in service, if it was retired.
    pub retired_at: Option<NaiveDateTime>,
    pub bookings: BTreeMap<String, Booking>,
}

/// Times are the establishment's local time, as on its timetable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReservationCommand {
    RegisterResource {
        id: String,
        name: String,
        kind: ResourceKind,
        requires_approval: bool,
        managers: Vec<String>,
    },
    /// The number of items of a pool changes (tablets bought, lost or broken).
    ChangeQuantity {
        quantity: u32,
        by: String,
    },
    /// The resource goes out of service at `at`; bookings that run after it must be
    /// cancelled first.
    RetireResource {
        at: NaiveDateTime,
        by: String,
        reason: String,
    },
    Book {
        booking: String,
        by: String,
        start: NaiveDateTime,
        end: NaiveDateTime,
        quantity: u32,
        purpose: String,
    },
    /// Every week on the weekday and at the times of the first occurrence, until `until`
    /// included, except on dates `calendar` closes.
    BookWeekly {
        booking: String,
        by: String,
        first_start: NaiveDateTime,
        first_end: NaiveDateTime,
        until: NaiveDate,
        quantity: u32,
        purpose: String,
        calendar: SchoolCalendar,
    },
    /// Cancels every occurrence.
    CancelBooking {
        booking: String,
        by: String,
        reason: String,
    },
    /// Cancels the occurrence of a weekly booking on `date`.
    CancelOccurrence {
        booking: String,
        date: NaiveDate,
        by: String,
        reason: String,
    },
    ApproveBooking {
        booking: String,
        by: String,
    },
    RefuseBooking {
        booking: String,
        by: String,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum ReservationEvent {
    ResourceRegistered {
        id: String,
        name: String,
        kind: ResourceKind,
        requires_approval: bool,
        managers: Vec<String>,
    },
    QuantityChanged {
        previous: u32,
        quantity: u32,
        by: String,
    },
    ResourceRetired {
        at: NaiveDateTime,
        by: String,
        reason: String,
    },
    Booked {
        booking: String,
        by: String,
        start: NaiveDateTime,
        end: NaiveDateTime,
        quantity: u32,
        purpose: String,
        awaiting_approval: bool,
    },
    /// The dates are those the calendar allowed when the booking was made: a later change
    /// of the calendar does not move them.
    BookedWeekly {
        booking: String,
        by: String,
        start: NaiveTime,
        end: NaiveTime,
        dates: Vec<NaiveDate>,
        skipped: Vec<NaiveDate>,
        quantity: u32,
        purpose: String,
        awaiting_approval: bool,
    },
    BookingApproved {
        booking: String,
        by: String,
    },
    BookingRefused {
        booking: String,
        by: String,
        reason: String,
    },
    BookingCancelled {
        booking: String,
        by: String,
        reason: String,
    },
    OccurrenceCancelled {
        booking: String,
        date: NaiveDate,
        by: String,
        reason: String,
    },
}

impl DomainEvent for ReservationEvent {
    fn event_type(&self) -> String {
        match self {
            ReservationEvent::ResourceRegistered { .. } => "ResourceRegistered",
            ReservationEvent::QuantityChanged { .. } => "QuantityChanged",
            ReservationEvent::ResourceRetired { .. } => "ResourceRetired",
            ReservationEvent::Booked { .. } => "Booked",
            ReservationEvent::BookedWeekly { .. } => "BookedWeekly",
            ReservationEvent::BookingApproved { .. } => "BookingApproved",
            ReservationEvent::BookingRefused { .. } => "BookingRefused",
            ReservationEvent::BookingCancelled { .. } => "BookingCancelled",
            ReservationEvent::OccurrenceCancelled { .. } => "OccurrenceCancelled",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReservationError {
    #[error("this resource is not registered yet")]
    NotRegistered,
    #[error("this resource is already registered as \"{0}\"")]
    AlreadyRegistered(String),
    #[error("{0} must not be empty")]
    Missing(&'static str),
    #[error("a pool holds at least one item")]
    EmptyPool,
    #[error("a room has at least one seat; leave the number of seats out if it is not known")]
    NoSeat,
    #[error("bookings that need approval need at least one manager to approve them")]
    NoManager,
    #[error("\"{0}\" is retired and can no longer be booked")]
    Retired(String),
    #[error("\"{0}\" is already retired")]
    AlreadyRetired(String),
    #[error("there is already a booking {0} of this resource")]
    BookingExists(String),
    #[error("there is no booking {0} of this resource")]
    UnknownBooking(String),
    #[error("a booking must end after it starts ({start} to {end})")]
    Times {
        start: NaiveDateTime,
        end: NaiveDateTime,
    },
    #[error("each week of a weekly booking must end on the day it starts ({start} to {end})")]
    WeeklyOverDays {
        start: NaiveDateTime,
        end: NaiveDateTime,
    },
    #[error("the last week ({}) is before the first one ({})", day(.until), day(.first))]
    UntilBeforeFirst { first: NaiveDate, until: NaiveDate },
    #[error("a weekly booking lasts at most a year and a half; {} to {} is longer", day(.first), day(.until))]
    WeeklyTooLong { first: NaiveDate, until: NaiveDate },
    #[error("the school calendar closes every one of these dates from {} to {}: there is nothing to book", day(.first), day(.until))]
    NothingToBook { first: NaiveDate, until: NaiveDate },
    #[error("the school calendar is not valid: {0}")]
    Calendar(#[from] CalendarError),
    #[error("\"{resource}\" is booked as a whole: the quantity is 1, not {quantity}")]
    WholeOnly { resource: String, quantity: u32 },
    #[error("a booking of \"{resource}\" takes between 1 and {capacity}, not {quantity}")]
    QuantityOutOfPool {
        resource: String,
        quantity: u32,
        capacity: u32,
    },
    #[error("{0}")]
    Unavailable(Conflict),
    #[error("the weekly booking was not made: {0}")]
    WeeklyUnavailable(Conflicts),
    #[error("only a manager of \"{resource}\" ({managers}) may {action}; {by} is not one")]
    NotAManager {
        resource: String,
        managers: String,
        action: &'static str,
        by: String,
    },
    #[error("booking {booking} is not awaiting approval: it is {status}")]
    NotPending {
        booking: String,
        status: BookingStatus,
    },
    #[error("a refusal must say why")]
    RefusalReasonRequired,
    #[error("say why you cancel a booking made by {0}, so that they know")]
    CancelReasonRequired(String),
    #[error("booking {booking} is already {status}")]
    AlreadyEnded {
        booking: String,
        status: BookingStatus,
    },
    #[error(
        "only {owner}, who made booking {booking}, or a manager of \"{resource}\" may cancel it"
    )]
    NotYours {
        booking: String,
        owner: String,
        resource: String,
    },
    #[error("booking {0} is not a weekly booking: cancel the whole booking instead")]
    NotWeekly(String),
    #[error("booking {booking} has no occurrence on {}", day(.date))]
    NoOccurrenceOn { booking: String, date: NaiveDate },
    #[error("the occurrence of {} of booking {booking} is already cancelled", day(.date))]
    OccurrenceAlreadyCancelled { booking: String, date: NaiveDate },
    #[error("\"{0}\" is not a pool of items: it has no quantity to change")]
    NotAPool(String),
    #[error("\"{resource}\" already has {quantity}")]
    QuantityUnchanged { resource: String, quantity: u32 },
    #[error("\"{resource}\" cannot go down to {quantity}: bookings {bookings} hold up to {peak} at once (first on {}); cancel some of them first", .at.format("%a %-d %b %Y %H:%M"))]
    QuantityTooLow {
        resource: String,
        quantity: u32,
        peak: u64,
        at: NaiveDateTime,
        bookings: String,
    },
    #[error("\"{resource}\" cannot be retired on {}: bookings {bookings} still hold it after that; cancel them first", .at.format("%a %-d %b %Y %H:%M"))]
    StillBooked {
        resource: String,
        at: NaiveDateTime,
        bookings: String,
    },
}

type Result<T> = std::result::Result<T, ReservationError>;

fn required(value: &str, what: &'static str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(ReservationError::Missing(what));
    }
    Ok(())
}

impl Resource {
    /// How much can be held at one instant; 0 before registration.
    pub fn capacity(&self) -> u32 {
        self.kind.map_or(0, |k| k.capacity())
    }

    /// Occurrences holding part of the resource, in time order.
    pub fn active_occurrences(&self) -> Vec<ActiveOccurrence> {
        let mut found: Vec<ActiveOccurrence> = self
            .bookings
            .values()
            .filter(|b| b.status.is_active())
            .flat_map(|b| {
                b.occurrences
                    .iter()
                    .filter(|o| !o.cancelled)
                    .map(|o| ActiveOccurrence {
                        booking: b.id.clone(),
                        by: b.by.clone(),
                        start: o.start,
                        end: o.end,
                        quantity: b.quantity,
                        status: b.status,
                    })
            })
            .collect();
        found.sort_by(|a, b| (a.start, &a.booking).cmp(&(b.start, &b.booking)));
        found
    }

    /// The least that is free at one instant from `start` to `end` (excluded): what can
    /// be booked for the whole period. A retired or unregistered resource has nothing free.
    pub fn free_quantity(&self, start: NaiveDateTime, end: NaiveDateTime) -> u32 {
        if self.retired_at.is_some() {
            return 0;
        }
        let (peak, _) = capacity::peak(holds(&self.active_occurrences()), start, end);
        free(self.capacity(), peak)
    }

    /// What is free in each slot of `slot` from `from` to `to` (the last slot may be
    /// shorter). Empty if the slot is not positive.
    pub fn availability(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
        slot: Duration,
    ) -> Vec<(NaiveDateTime, NaiveDateTime, u32)> {
        let mut slots = Vec::new();
        if slot <= Duration::zero() {
            return slots;
        }
        let mut start = from;
        while start < to {
            let end = start.checked_add_signed(slot).map_or(to, |e| e.min(to));
            slots.push((start, end, self.free_quantity(start, end)));
            start = end;
        }
        slots
    }

    /// Bookings made by `person`, whatever became of them, by first occurrence.
    pub fn bookings_of(&self, person: &str) -> Vec<&Booking> {
        let mut found: Vec<&Booking> = self.bookings.values().filter(|b| b.by == person).collect();
        found.sort_by_key(|b| b.occurrences.first().map(|o| o.start));
        found
    }

    /// Bookings waiting for a manager's decision.
    pub fn pending_bookings(&self) -> Vec<&Booking> {
        self.bookings
            .values()
            .filter(|b| b.status == BookingStatus::Pending)
            .collect()
    }

    pub fn is_manager(&self, person: &str) -> bool {
        self.managers.iter().any(|m| m == person)
    }

    fn check_manager(&self, by: &str, action: &'static str) -> Result<()> {
        if self.is_manager(by) {
            return Ok(());
        }
        Err(ReservationError::NotAManager {
            resource: self.name.clone(),
            managers: self.managers.join(", "),
            action,
            by: by.to_string(),
        })
    }

    fn registered(&self) -> Result<ResourceKind> {
        self.kind.ok_or(ReservationError::NotRegistered)
    }

    fn booking(&self, id: &str) -> Result<&Booking> {
        self.bookings
            .get(id)
            .ok_or_else(|| ReservationError::UnknownBooking(id.to_string()))
    }

    /// What every new booking must satisfy, whatever its dates.
    fn check_new_booking(&self, booking: &str, by: &str, quantity: u32) -> Result<()> {
        let kind = self.registered()?;
        if self.retired_at.is_some() {
            return Err(ReservationError::Retired(self.name.clone()));
        }
        required(booking, "the booking id")?;
        required(by, "who books")?;
        if self.bookings.contains_key(booking) {
            return Err(ReservationError::BookingExists(booking.to_string()));
        }
        match kind {
            ResourceKind::Room { .. } | ResourceKind::Item if quantity != 1 => {
                Err(ReservationError::WholeOnly {
                    resource: self.name.clone(),
                    quantity,
                })
            }
            ResourceKind::Pool { quantity: capacity } if quantity == 0 || quantity > capacity => {
                Err(ReservationError::QuantityOutOfPool {
                    resource: self.name.clone(),
                    quantity,
                    capacity,
                })
            }
            _ => Ok(()),
        }
    }

    /// Why `quantity` cannot be held from `start` to `end` on top of `active`, if it
    /// cannot.
    fn conflict(
        &self,
        active: &[ActiveOccurrence],
        start: NaiveDateTime,
        end: NaiveDateTime,
        quantity: u32,
    ) -> Option<Conflict> {
        let capacity = self.capacity();
        let (peak, at) = capacity::peak(holds(active), start, end);
        if peak + u64::from(quantity) <= u64::from(capacity) {
            return None;
        }
        Some(Conflict {
            resource: self.name.clone(),
            when: Span { start, end },
            asked: quantity,
            capacity,
            free: free(capacity, peak),
            holders: active
                .iter()
                .filter(|o| o.start <= at && at < o.end)
                .cloned()
                .collect(),
        })
    }

    /// Who may cancel a booking: the person who made it, or a manager, who must then say
    /// why.
    fn check_cancel(&self, booking: &Booking, by: &str, reason: &str) -> Result<()> {
        if !booking.status.is_active() {
            return Err(ReservationError::AlreadyEnded {
                booking: booking.id.clone(),
                status: booking.status,
            });
        }
        if booking.by == by {
            return Ok(());
        }
        if !self.is_manager(by) {
            return Err(ReservationError::NotYours {
                booking: booking.id.clone(),
                owner: booking.by.clone(),
                resource: self.name.clone(),
            });
        }
        if reason.trim().is_empty() {
            return Err(ReservationError::CancelReasonRequired(booking.by.clone()));
        }
        Ok(())
    }

    fn decide(&self, command: ReservationCommand) -> Result<ReservationEvent> {
        match command {
            ReservationCommand::RegisterResource {
                id,
                name,
                kind,
                requires_approval,
                managers,
            } => {
                if self.kind.is_some() {
                    return Err(ReservationError::AlreadyRegistered(self.name.clone()));
                }
                required(&id, "the resource id")?;
                required(&name, "the resource's name")?;
                match kind {
                    ResourceKind::Pool { quantity: 0 } => return Err(ReservationError::EmptyPool),
                    ResourceKind::Room { seats: Some(0) } => return Err(ReservationError::NoSeat),
                    _ => {}
                }
                for manager in &managers {
                    required(manager, "a manager's name")?;
                }
                if requires_approval && managers.is_empty() {
                    return Err(ReservationError::NoManager);
                }
                Ok(ReservationEvent::ResourceRegistered {
                    id,
                    name,
                    kind,
                    requires_approval,
                    managers,
                })
            }
            ReservationCommand::ChangeQuantity { quantity, by } => {
                let ResourceKind::Pool { quantity: previous } = self.registered()? else {
                    return Err(ReservationError::NotAPool(self.name.clone()));
                };
                if !self.managers.is_empty() {
                    self.check_manager(&by, "change its quantity")?;
                }
                if quantity == 0 {
                    return Err(ReservationError::EmptyPool);
                }
                if quantity == previous {
                    return Err(ReservationError::QuantityUnchanged {
                        resource: self.name.clone(),
                        quantity,
                    });
                }
                let active = self.active_occurrences();
                let overloads = capacity::overloads(holds(&active), quantity);
                if let (Some(&(at, _)), Some(peak)) =
                    (overloads.first(), overloads.iter().map(|o| o.1).max())
                {
                    let over: Vec<ActiveOccurrence> = active
                        .iter()
                        .filter(|o| overloads.iter().any(|(t, _)| o.start <= *t && *t < o.end))
                        .cloned()
                        .collect();
                    return Err(ReservationError::QuantityTooLow {
                        resource: self.name.clone(),
                        quantity,
                        peak,
                        at,
                        bookings: names(&over),
                    });
                }
                Ok(ReservationEvent::QuantityChanged {
                    previous,
                    quantity,
                    by,
                })
            }
            ReservationCommand::RetireResource { at, by, reason } => {
                self.registered()?;
                if self.retired_at.is_some() {
                    return Err(ReservationError::AlreadyRetired(self.name.clone()));
                }
                if !self.managers.is_empty() {
                    self.check_manager(&by, "retire it")?;
                }
                let after: Vec<ActiveOccurrence> = self
                    .active_occurrences()
                    .into_iter()
                    .filter(|o| o.end > at)
                    .collect();
                if !after.is_empty() {
                    return Err(ReservationError::StillBooked {
                        resource: self.name.clone(),
                        at,
                        bookings: names(&after),
                    });
                }
                Ok(ReservationEvent::ResourceRetired { at, by, reason })
            }
            ReservationCommand::Book {
                booking,
                by,
                start,
                end,
                quantity,
                purpose,
            } => {
                self.check_new_booking(&booking, &by, quantity)?;
                if end <= start {
                    return Err(ReservationError::Times { start, end });
                }
                if let Some(conflict) =
                    self.conflict(&self.active_occurrences(), start, end, quantity)
                {
                    return Err(ReservationError::Unavailable(conflict));
                }
                Ok(ReservationEvent::Booked {
                    booking,
                    by,
                    start,
                    end,
                    quantity,
                    purpose,
                    awaiting_approval: self.requires_approval,
                })
            }
            ReservationCommand::BookWeekly {
                booking,
                by,
                first_start,
                first_end,
                until,
                quantity,
                purpose,
                calendar,
            } => {
                self.check_new_booking(&booking, &by, quantity)?;
                let first = first_start.date();
                if first_end <= first_start {
                    return Err(ReservationError::Times {
                        start: first_start,
                        end: first_end,
                    });
                }
                // Weeks are placed by date; an occurrence running past midnight would
                // escape the calendar's closures on its second day.
                if first_end.date() != first {
                    return Err(ReservationError::WeeklyOverDays {
                        start: first_start,
                        end: first_end,
                    });
                }
                if until < first {
                    return Err(ReservationError::UntilBeforeFirst { first, until });
                }
                if (until - first).num_days() > LONGEST_WEEKLY_DAYS {
                    return Err(ReservationError::WeeklyTooLong { first, until });
                }
                calendar.check()?;
                let closed = calendar.closed_days(first, until);
                let (mut dates, mut skipped) = (Vec::new(), Vec::new());
                let mut next = Some(first);
                while let Some(date) = next.filter(|d| *d <= until) {
                    if closed.contains(&date) {
                        skipped.push(date);
                    } else {
                        dates.push(date);
                    }
                    next = date.checked_add_days(Days::new(7));
                }
                if dates.is_empty() {
                    return Err(ReservationError::NothingToBook { first, until });
                }
                let (start, end) = (first_start.time(), first_end.time());
                let active = self.active_occurrences();
                // Every conflicting date at once, so that the teacher can choose other
                // times knowing all of them.
                let conflicts: Vec<Conflict> = dates
                    .iter()
                    .filter_map(|d| {
                        self.conflict(&active, d.and_time(start), d.and_time(end), quantity)
                    })
                    .collect();
                if !conflicts.is_empty() {
                    return Err(ReservationError::WeeklyUnavailable(Conflicts(conflicts)));
                }
                Ok(ReservationEvent::BookedWeekly {
                    booking,
                    by,
                    start,
                    end,
                    dates,
                    skipped,
                    quantity,
                    purpose,
                    awaiting_approval: self.requires_approval,
                })
            }
            ReservationCommand::CancelBooking {
                booking,
                by,
                reason,
            } => {
                self.check_cancel(self.booking(&booking)?, &by, &reason)?;
                Ok(ReservationEvent::BookingCancelled {
                    booking,
                    by,
                    reason,
                })
            }
            ReservationCommand::CancelOccurrence {
                booking,
                date,
                by,
                reason,
            } => {
                let found = self.booking(&booking)?;
                if !found.weekly {
                    return Err(ReservationError::NotWeekly(booking));
                }
                self.check_cancel(found, &by, &reason)?;
                match found.occurrences.iter().find(|o| o.start.date() == date) {
                    None => Err(ReservationError::NoOccurrenceOn { booking, date }),
                    Some(o) if o.cancelled => {
                        Err(ReservationError::OccurrenceAlreadyCancelled { booking, date })
                    }
                    Some(_) => Ok(ReservationEvent::OccurrenceCancelled {
                        booking,
                        date,
                        by,
                        reason,
                    }),
                }
            }
            ReservationCommand::ApproveBooking { booking, by } => {
                self.check_pending(&booking, &by)?;
                Ok(ReservationEvent::BookingApproved { booking, by })
            }
            ReservationCommand::RefuseBooking {
                booking,
                by,
                reason,
            } => {
                self.check_pending(&booking, &by)?;
                if reason.trim().is_empty() {
                    return Err(ReservationError::RefusalReasonRequired);
                }
                Ok(ReservationEvent::BookingRefused {
                    booking,
                    by,
                    reason,
                })
            }
        }
    }

    /// A manager decides on a booking awaiting approval. Only resources that require
    /// approval have such bookings.
    fn check_pending(&self, booking: &str, by: &str) -> Result<()> {
        let found = self.booking(booking)?;
        if found.status != BookingStatus::Pending {
            return Err(ReservationError::NotPending {
                booking: booking.to_string(),
                status: found.status,
            });
        }
        self.check_manager(by, "approve or refuse its bookings")
    }

    fn set_status(&mut self, booking: &str, status: BookingStatus) {
        if let Some(b) = self.bookings.get_mut(booking) {
            b.status = status;
        }
    }
}

fn holds(active: &[ActiveOccurrence]) -> impl Iterator<Item = Hold> + '_ {
    active.iter().map(|o| (o.start, o.end, o.quantity))
}

fn free(capacity: u32, peak: u64) -> u32 {
    u32::try_from(u64::from(capacity).saturating_sub(peak)).unwrap_or(0)
}

fn status(awaiting_approval: bool) -> BookingStatus {
    if awaiting_approval {
        BookingStatus::Pending
    } else {
        BookingStatus::Confirmed
    }
}

impl Aggregate for Resource {
    const TYPE: &'static str = "resource";
    type Command = ReservationCommand;
    type Event = ReservationEvent;
    type Error = ReservationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ReservationCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<()> {
        let event = self.decide(command)?;
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: ReservationEvent) {
        match event {
            ReservationEvent::ResourceRegistered {
                id,
                name,
                kind,
                requires_approval,
                managers,
            } => {
                self.id = id;
                self.name = name;
                self.kind = Some(kind);
                self.requires_approval = requires_approval;
                self.managers = managers;
            }
            ReservationEvent::QuantityChanged { quantity, .. } => {
                if let Some(ResourceKind::Pool { quantity: q }) = &mut self.kind {
                    *q = quantity;
                }
            }
            ReservationEvent::ResourceRetired { at, .. } => self.retired_at = Some(at),
            ReservationEvent::Booked {
                booking,
                by,
                start,
                end,
                quantity,
                purpose,
                awaiting_approval,
            } => {
                let occurrence = Occurrence {
                    start,
                    end,
                    cancelled: false,
                };
                self.bookings.insert(
                    booking.clone(),
                    Booking {
                        id: booking,
                        by,
                        quantity,
                        purpose,
                        status: status(awaiting_approval),
                        weekly: false,
                        skipped: Vec::new(),
                        occurrences: vec![occurrence],
                    },
                );
            }
            ReservationEvent::BookedWeekly {
                booking,
                by,
                start,
                end,
                dates,
                skipped,
                quantity,
                purpose,
                awaiting_approval,
            } => {
                let occurrences = dates
                    .iter()
                    .map(|d| Occurrence {
                        start: d.and_time(start),
                        end: d.and_time(end),
                        cancelled: false,
                    })
                    .collect();
                self.bookings.insert(
                    booking.clone(),
                    Booking {
                        id: booking,
                        by,
                        quantity,
                        purpose,
                        status: status(awaiting_approval),
                        weekly: true,
                        skipped,
                        occurrences,
                    },
                );
            }
            ReservationEvent::BookingApproved { booking, .. } => {
                self.set_status(&booking, BookingStatus::Confirmed);
            }
            ReservationEvent::BookingRefused { booking, .. } => {
                self.set_status(&booking, BookingStatus::Refused);
            }
            ReservationEvent::BookingCancelled { booking, .. } => {
                self.set_status(&booking, BookingStatus::Cancelled);
            }
            ReservationEvent::OccurrenceCancelled { booking, date, .. } => {
                let occurrences = self.bookings.get_mut(&booking).map(|b| &mut b.occurrences);
                for o in occurrences.into_iter().flatten() {
                    if o.start.date() == date {
                        o.cancelled = true;
                    }
                }
            }
        }
    }
}
