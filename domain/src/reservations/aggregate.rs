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
use crate::refusal::{day_fr, moment_fr, what_fr, Lang, Refusal, Words};

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

/// What only a manager may do to a resource, in French.
fn action_fr(action: &'static str) -> &'static str {
    match action {
        "change its quantity" => "modifier sa quantité",
        "retire it" => "retirer cette ressource",
        "approve or refuse its bookings" => "valider ou refuser ses réservations",
        other => other,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReservationError {
    #[error("cette ressource n'est pas encore enregistrée")]
    NotRegistered,
    #[error("cette ressource est déjà enregistrée sous le nom « {0} »")]
    AlreadyRegistered(String),
    #[error("il manque {}", what_fr(.0))]
    Missing(&'static str),
    #[error("un lot compte au moins un exemplaire")]
    EmptyPool,
    #[error("une salle a au moins une place ; ne renseignez pas le nombre de places s'il n'est pas connu")]
    NoSeat,
    #[error("les réservations soumises à validation demandent au moins un gestionnaire pour les valider")]
    NoManager,
    #[error("la ressource « {0} » est retirée et ne peut plus être réservée")]
    Retired(String),
    #[error("la ressource « {0} » est déjà retirée")]
    AlreadyRetired(String),
    #[error("il existe déjà une réservation {0} de cette ressource")]
    BookingExists(String),
    #[error("il n'y a pas de réservation {0} de cette ressource")]
    UnknownBooking(String),
    #[error("une réservation doit se terminer après avoir commencé (du {} au {})", moment_fr(.start), moment_fr(.end))]
    Times {
        start: NaiveDateTime,
        end: NaiveDateTime,
    },
    #[error("chaque semaine d'une réservation hebdomadaire doit se terminer le jour où elle commence (du {} au {})", moment_fr(.start), moment_fr(.end))]
    WeeklyOverDays {
        start: NaiveDateTime,
        end: NaiveDateTime,
    },
    #[error("la dernière semaine ({}) est avant la première ({})", day_fr(.until), day_fr(.first))]
    UntilBeforeFirst { first: NaiveDate, until: NaiveDate },
    #[error("une réservation hebdomadaire dure au plus un an et demi ; du {} au {}, c'est plus long", day_fr(.first), day_fr(.until))]
    WeeklyTooLong { first: NaiveDate, until: NaiveDate },
    #[error("le calendrier scolaire ferme toutes ces dates du {} au {} : il n'y a rien à réserver", day_fr(.first), day_fr(.until))]
    NothingToBook { first: NaiveDate, until: NaiveDate },
    #[error("le calendrier scolaire n'est pas valide : {0}")]
    Calendar(#[from] CalendarError),
    #[error(
        "la ressource « {resource} » se réserve en entier : la quantité est 1, pas {quantity}"
    )]
    WholeOnly { resource: String, quantity: u32 },
    #[error("une réservation de la ressource « {resource} » porte sur 1 à {capacity} exemplaires, pas {quantity}")]
    QuantityOutOfPool {
        resource: String,
        quantity: u32,
        capacity: u32,
    },
    #[error("{}", .0.fr())]
    Unavailable(Conflict),
    #[error("la réservation hebdomadaire n'a pas été faite : {}", .0.fr())]
    WeeklyUnavailable(Conflicts),
    #[error("seul un gestionnaire de « {resource} » ({managers}) peut {} ; {by} n'en est pas un", action_fr(.action))]
    NotAManager {
        resource: String,
        managers: String,
        action: &'static str,
        by: String,
    },
    #[error("la réservation {booking} n'est pas en attente de validation : elle est {}", .status.fr())]
    NotPending {
        booking: String,
        status: BookingStatus,
    },
    #[error("un refus doit être motivé")]
    RefusalReasonRequired,
    #[error("indiquez pourquoi vous annulez une réservation faite par {0}, pour l'en informer")]
    CancelReasonRequired(String),
    #[error("la réservation {booking} est déjà {}", .status.fr())]
    AlreadyEnded {
        booking: String,
        status: BookingStatus,
    },
    #[error("seul {owner}, qui a fait la réservation {booking}, ou un gestionnaire de « {resource} » peut l'annuler")]
    NotYours {
        booking: String,
        owner: String,
        resource: String,
    },
    #[error("la réservation {0} n'est pas hebdomadaire : annulez plutôt toute la réservation")]
    NotWeekly(String),
    #[error("la réservation {booking} n'a pas d'occurrence le {}", day_fr(.date))]
    NoOccurrenceOn { booking: String, date: NaiveDate },
    #[error("l'occurrence du {} de la réservation {booking} est déjà annulée", day_fr(.date))]
    OccurrenceAlreadyCancelled { booking: String, date: NaiveDate },
    #[error("la ressource « {0} » n'est pas un lot : elle n'a pas de quantité à modifier")]
    NotAPool(String),
    #[error("la ressource « {resource} » compte déjà {quantity} exemplaires")]
    QuantityUnchanged { resource: String, quantity: u32 },
    #[error("la ressource « {resource} » ne peut pas descendre à {quantity} exemplaires : les réservations {bookings} en occupent jusqu'à {peak} en même temps (la première fois le {}) ; annulez-en d'abord certaines", moment_fr(.at))]
    QuantityTooLow {
        resource: String,
        quantity: u32,
        peak: u64,
        at: NaiveDateTime,
        bookings: Words,
    },
    #[error("la ressource « {resource} » ne peut pas être retirée le {} : les réservations {bookings} l'occupent encore après ; annulez-les d'abord", moment_fr(.at))]
    StillBooked {
        resource: String,
        at: NaiveDateTime,
        bookings: Words,
    },
}

impl Refusal for ReservationError {
    fn rule(&self) -> &'static str {
        use ReservationError as E;
        match self {
            E::NotRegistered => "RESOURCE_NOT_REGISTERED",
            E::AlreadyRegistered(_) => "RESOURCE_ALREADY_REGISTERED",
            E::Missing(_) => "MISSING_VALUE",
            E::EmptyPool => "EMPTY_POOL",
            E::NoSeat => "NO_SEAT",
            E::NoManager => "NO_MANAGER",
            E::Retired(_) => "RESOURCE_RETIRED",
            E::AlreadyRetired(_) => "RESOURCE_ALREADY_RETIRED",
            E::BookingExists(_) => "BOOKING_EXISTS",
            E::UnknownBooking(_) => "UNKNOWN_BOOKING",
            E::Times { .. } => "BOOKING_TIMES_REVERSED",
            E::WeeklyOverDays { .. } => "WEEKLY_OVER_DAYS",
            E::UntilBeforeFirst { .. } => "UNTIL_BEFORE_FIRST",
            E::WeeklyTooLong { .. } => "WEEKLY_TOO_LONG",
            E::NothingToBook { .. } => "NOTHING_TO_BOOK",
            E::Calendar(calendar) => calendar.rule(),
            E::WholeOnly { .. } => "WHOLE_ONLY",
            E::QuantityOutOfPool { .. } => "QUANTITY_OUT_OF_POOL",
            E::Unavailable(_) => "RESOURCE_FULL",
            E::WeeklyUnavailable(_) => "RESOURCE_FULL_WEEKLY",
            E::NotAManager { .. } => "NOT_A_MANAGER",
            E::NotPending { .. } => "BOOKING_NOT_PENDING",
            E::RefusalReasonRequired => "REFUSAL_REASON_REQUIRED",
            E::CancelReasonRequired(_) => "CANCEL_REASON_REQUIRED",
            E::AlreadyEnded { .. } => "BOOKING_ALREADY_ENDED",
            E::NotYours { .. } => "NOT_YOUR_BOOKING",
            E::NotWeekly(_) => "NOT_WEEKLY",
            E::NoOccurrenceOn { .. } => "NO_OCCURRENCE_ON_DATE",
            E::OccurrenceAlreadyCancelled { .. } => "OCCURRENCE_ALREADY_CANCELLED",
            E::NotAPool(_) => "NOT_A_POOL",
            E::QuantityUnchanged { .. } => "QUANTITY_UNCHANGED",
            E::QuantityTooLow { .. } => "QUANTITY_TOO_LOW",
            E::StillBooked { .. } => "STILL_BOOKED",
        }
    }

    fn message(&self, lang: Lang) -> String {
        use ReservationError as E;
        if lang == Lang::Fr {
            return self.to_string();
        }
        match self {
            E::NotRegistered => "this resource is not registered yet".to_string(),
            E::AlreadyRegistered(name) => {
                format!("this resource is already registered as \"{name}\"")
            }
            E::Missing(what) => format!("{what} must not be empty"),
            E::EmptyPool => "a pool holds at least one item".to_string(),
            E::NoSeat => {
                "a room has at least one seat; leave the number of seats out if it is not known"
                    .to_string()
            }
            E::NoManager => {
                "bookings that need approval need at least one manager to approve them"
                    .to_string()
            }
            E::Retired(name) => format!("\"{name}\" is retired and can no longer be booked"),
            E::AlreadyRetired(name) => format!("\"{name}\" is already retired"),
            E::BookingExists(id) => format!("there is already a booking {id} of this resource"),
            E::UnknownBooking(id) => format!("there is no booking {id} of this resource"),
            E::Times { start, end } => {
                format!("a booking must end after it starts ({start} to {end})")
            }
            E::WeeklyOverDays { start, end } => format!(
                "each week of a weekly booking must end on the day it starts ({start} to {end})"
            ),
            E::UntilBeforeFirst { first, until } => format!(
                "the last week ({}) is before the first one ({})",
                day(until),
                day(first)
            ),
            E::WeeklyTooLong { first, until } => format!(
                "a weekly booking lasts at most a year and a half; {} to {} is longer",
                day(first),
                day(until)
            ),
            E::NothingToBook { first, until } => format!(
                "the school calendar closes every one of these dates from {} to {}: there is nothing to book",
                day(first),
                day(until)
            ),
            E::Calendar(calendar) => {
                format!("the school calendar is not valid: {}", calendar.message(lang))
            }
            E::WholeOnly { resource, quantity } => format!(
                "\"{resource}\" is booked as a whole: the quantity is 1, not {quantity}"
            ),
            E::QuantityOutOfPool {
                resource,
                quantity,
                capacity,
            } => format!(
                "a booking of \"{resource}\" takes between 1 and {capacity}, not {quantity}"
            ),
            E::Unavailable(conflict) => conflict.to_string(),
            E::WeeklyUnavailable(conflicts) => {
                format!("the weekly booking was not made: {conflicts}")
            }
            E::NotAManager {
                resource,
                managers,
                action,
                by,
            } => format!(
                "only a manager of \"{resource}\" ({managers}) may {action}; {by} is not one"
            ),
            E::NotPending { booking, status } => {
                format!("booking {booking} is not awaiting approval: it is {status}")
            }
            E::RefusalReasonRequired => "a refusal must say why".to_string(),
            E::CancelReasonRequired(by) => {
                format!("say why you cancel a booking made by {by}, so that they know")
            }
            E::AlreadyEnded { booking, status } => {
                format!("booking {booking} is already {status}")
            }
            E::NotYours {
                booking,
                owner,
                resource,
            } => format!(
                "only {owner}, who made booking {booking}, or a manager of \"{resource}\" may cancel it"
            ),
            E::NotWeekly(booking) => format!(
                "booking {booking} is not a weekly booking: cancel the whole booking instead"
            ),
            E::NoOccurrenceOn { booking, date } => {
                format!("booking {booking} has no occurrence on {}", day(date))
            }
            E::OccurrenceAlreadyCancelled { booking, date } => format!(
                "the occurrence of {} of booking {booking} is already cancelled",
                day(date)
            ),
            E::NotAPool(name) => {
                format!("\"{name}\" is not a pool of items: it has no quantity to change")
            }
            E::QuantityUnchanged { resource, quantity } => {
                format!("\"{resource}\" already has {quantity}")
            }
            E::QuantityTooLow {
                resource,
                quantity,
                peak,
                at,
                bookings,
            } => format!(
                "\"{resource}\" cannot go down to {quantity}: bookings {} hold up to {peak} at once (first on {}); cancel some of them first",
                bookings.en,
                at.format("%a %-d %b %Y %H:%M")
            ),
            E::StillBooked {
                resource,
                at,
                bookings,
            } => format!(
                "\"{resource}\" cannot be retired on {}: bookings {} still hold it after that; cancel them first",
                at.format("%a %-d %b %Y %H:%M"),
                bookings.en
            ),
        }
    }
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
