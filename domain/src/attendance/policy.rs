//! The establishment's attendance settings, and half-days.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

/// Morning or afternoon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Part {
    Morning,
    Afternoon,
}

/// A demi-journée: the unit in which absences are counted (Code de l'éducation R131-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HalfDay {
    pub date: NaiveDate,
    pub part: Part,
}

/// A reason an absence can be justified with, from the establishment's list; whether it is
/// legitimate ("motif légitime", L131-8: illness, family event, transport failure...)
/// decides whether the justified absence still counts toward the alert threshold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub label: String,
    pub legitimate: bool,
}

/// What the attendance aggregate needs to know of its establishment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttendancePolicy {
    /// Lessons starting before this time are in the morning.
    pub morning_ends: NaiveTime,
    /// Reasons by code.
    pub reasons: BTreeMap<String, Reason>,
}

impl AttendancePolicy {
    pub fn half_day(&self, date: NaiveDate, start: NaiveTime) -> HalfDay {
        let part = if start < self.morning_ends {
            Part::Morning
        } else {
            Part::Afternoon
        };
        HalfDay { date, part }
    }
}

impl Default for AttendancePolicy {
    /// Morning ends at 12:30; the reasons of the national list most schools start from.
    fn default() -> Self {
        let reason = |label: &str, legitimate| Reason {
            label: label.to_string(),
            legitimate,
        };
        AttendancePolicy {
            morning_ends: NaiveTime::from_hms_opt(12, 30, 0).unwrap_or(NaiveTime::MIN),
            reasons: BTreeMap::from([
                ("MAL".to_string(), reason("Maladie", true)),
                (
                    "FAM".to_string(),
                    reason("Réunion solennelle de famille", true),
                ),
                (
                    "TRA".to_string(),
                    reason("Difficulté accidentelle des transports", true),
                ),
                ("RDV".to_string(), reason("Rendez-vous médical", true)),
                ("CON".to_string(), reason("Convenance personnelle", false)),
                ("OUB".to_string(), reason("Oubli / réveil", false)),
            ]),
        }
    }
}
