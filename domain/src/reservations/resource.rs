//! What can be booked, the bookings, and how they read in messages.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::refusal::{day_fr, moment_fr, time_fr, Words};

/// What kind of thing a resource is, which decides how much of it one booking takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResourceKind {
    /// A room (salle, CDI, gymnase), booked as a whole. The seats are information for
    /// whoever books, not a limit the booking checks.
    Room { seats: Option<u32> },
    /// One piece of equipment (a video projector, a camera), booked as a whole.
    Item,
    /// Interchangeable items booked by number, e.g. a cart of 30 tablets.
    Pool { quantity: u32 },
}

impl ResourceKind {
    /// How much of the resource can be held at one instant.
    pub fn capacity(&self) -> u32 {
        match self {
            ResourceKind::Room { .. } | ResourceKind::Item => 1,
            ResourceKind::Pool { quantity } => *quantity,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BookingStatus {
    /// Waiting for a manager's approval. It already holds its quantity, so that nobody
    /// else takes what the manager is about to approve.
    Pending,
    Confirmed,
    Refused,
    Cancelled,
}

impl BookingStatus {
    /// Whether the booking holds its quantity.
    pub fn is_active(self) -> bool {
        matches!(self, BookingStatus::Pending | BookingStatus::Confirmed)
    }
}

impl fmt::Display for BookingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BookingStatus::Pending => "awaiting approval",
            BookingStatus::Confirmed => "confirmed",
            BookingStatus::Refused => "refused",
            BookingStatus::Cancelled => "cancelled",
        })
    }
}

/// One period a booking holds the resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub cancelled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    pub id: String,
    pub by: String,
    pub quantity: u32,
    pub purpose: String,
    pub status: BookingStatus,
    /// Made every week (its occurrences can then be cancelled one by one).
    pub weekly: bool,
    /// Weekly dates the school calendar closed when the booking was made.
    pub skipped: Vec<NaiveDate>,
    /// In time order; one for a single booking.
    pub occurrences: Vec<Occurrence>,
}

/// An occurrence that holds part of the resource: its booking is pending or confirmed and
/// the occurrence itself was not cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveOccurrence {
    pub booking: String,
    pub by: String,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub quantity: u32,
    pub status: BookingStatus,
}

/// A period as a school user reads it: "Tue 10 Nov 2026 10:00–11:00".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let start = self.start.format("%a %-d %b %Y %H:%M");
        if self.start.date() == self.end.date() {
            write!(f, "{start}–{}", self.end.format("%H:%M"))
        } else {
            write!(f, "{start} – {}", self.end.format("%a %-d %b %Y %H:%M"))
        }
    }
}

impl Span {
    /// "mardi 10 novembre 2026 de 10h00 à 11h00".
    pub fn fr(&self) -> String {
        if self.start.date() == self.end.date() {
            format!(
                "{} de {} à {}",
                day_fr(&self.start.date()),
                time_fr(&self.start.time()),
                time_fr(&self.end.time())
            )
        } else {
            format!("du {} au {}", moment_fr(&self.start), moment_fr(&self.end))
        }
    }
}

impl BookingStatus {
    /// The status in French: "en attente de validation", "confirmée"...
    pub fn fr(self) -> &'static str {
        match self {
            BookingStatus::Pending => "en attente de validation",
            BookingStatus::Confirmed => "confirmée",
            BookingStatus::Refused => "refusée",
            BookingStatus::Cancelled => "annulée",
        }
    }
}

/// A date as a school user reads it: "Tue 10 Nov 2026".
pub(crate) fn day(date: &NaiveDate) -> String {
    date.format("%a %-d %b %Y").to_string()
}

/// Why a period cannot be booked: what is free then and which bookings hold the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub resource: String,
    pub when: Span,
    pub asked: u32,
    pub capacity: u32,
    /// The least that is free at one instant of the period.
    pub free: u32,
    /// The occurrences holding the resource at that instant.
    pub holders: Vec<ActiveOccurrence>,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (resource, when) = (&self.resource, self.when);
        if self.capacity == 1 {
            write!(f, "\"{resource}\" is already booked on {when}: ")?;
        } else if self.free == 0 {
            write!(
                f,
                "none of the {} in \"{resource}\" is free on {when}: ",
                self.capacity
            )?;
        } else {
            write!(
                f,
                "only {} of the {} in \"{resource}\" are free on {when}, {} asked: ",
                self.free, self.capacity, self.asked
            )?;
        }
        for (i, holder) in self.holders.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            let span = Span {
                start: holder.start,
                end: holder.end,
            };
            write!(f, "booking {} by {} ({span}", holder.booking, holder.by)?;
            if holder.status == BookingStatus::Pending {
                f.write_str(", awaiting approval")?;
            }
            f.write_str(")")?;
            if self.capacity > 1 {
                write!(f, " holds {}", holder.quantity)?;
            }
        }
        Ok(())
    }
}

impl Conflict {
    /// Why the period cannot be booked, in French.
    pub fn fr(&self) -> String {
        let (resource, when) = (&self.resource, self.when.fr());
        let mut text = if self.capacity == 1 {
            format!("la ressource « {resource} » est déjà réservée le {when} : ")
        } else if self.free == 0 {
            format!(
                "aucun des {} exemplaires de la ressource « {resource} » n'est libre le {when} : ",
                self.capacity
            )
        } else {
            format!(
                "seulement {} des {} exemplaires de la ressource « {resource} » sont libres le {when}, pour {} demandés : ",
                self.free, self.capacity, self.asked
            )
        };
        for (i, holder) in self.holders.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            let span = Span {
                start: holder.start,
                end: holder.end,
            };
            text.push_str(&format!(
                "réservation {} de {} ({}",
                holder.booking,
                holder.by,
                span.fr()
            ));
            if holder.status == BookingStatus::Pending {
                text.push_str(", en attente de validation");
            }
            text.push(')');
            if self.capacity > 1 {
                text.push_str(&format!(" qui en occupe {}", holder.quantity));
            }
        }
        text
    }
}

/// The dates of a weekly booking that cannot be booked, each with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflicts(pub Vec<Conflict>);

impl fmt::Display for Conflicts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, conflict) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{conflict}")?;
        }
        Ok(())
    }
}

impl Conflicts {
    /// Why the dates cannot be booked, in French.
    pub fn fr(&self) -> String {
        self.0
            .iter()
            .map(Conflict::fr)
            .collect::<Vec<_>>()
            .join(" ; ")
    }
}

/// "b1 by m.martin, b2 by a.durand": bookings named in a message.
pub(crate) fn names(occurrences: &[ActiveOccurrence]) -> Words {
    let mut seen: Vec<&ActiveOccurrence> = Vec::new();
    for o in occurrences {
        if !seen.iter().any(|s| s.booking == o.booking) {
            seen.push(o);
        }
    }
    let list = |word: &str| {
        seen.iter()
            .map(|o| format!("{} {word} {}", o.booking, o.by))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Words::new(list("de"), list("by"))
}
