//! Personal data in events: names, birth dates, free-text comments, absence reasons.
//!
//! Such a value is written to the log encrypted with a key of its owner, kept outside
//! the log (crypto-shredding): destroying the key erases the person everywhere while
//! the log, and its hash chain, stay as they were. The domain never encrypts; it marks
//! the value with its owner ([`Personal::known`]) and the event store seals it on the
//! way in. What comes back from the log is [`Personal::Sealed`], opened only where a
//! person reads it (the API, an auditor's export), with the key if it still exists.
//!
//! An owner is a key id: a person's id (`eleve00042`) for what lives as long as the
//! person's record, or the person's id with a purpose and a school year
//! (`eleve00042/absences/2026-2027`) for what a retention rule erases earlier.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::enrolment::SchoolYear;

/// A piece of personal data, with the key id it is (or is to be) encrypted with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Personal<T> {
    /// In clear, as a command gave it; the store seals it before writing.
    #[serde(rename = "$personal")]
    Known { owner: String, value: T },
    /// As the log holds it.
    #[serde(rename = "$sealed")]
    Sealed(Sealed),
}

/// An encrypted value: XChaCha20-Poly1305 with the owner's key, the tenant and owner as
/// associated data (a sealed value moved to another person or establishment does not
/// open).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub owner: String,
    /// Base64 of the 24-byte nonce.
    pub nonce: String,
    /// Base64 of the ciphertext and its tag.
    pub data: String,
}

/// The JSON keys that mark personal values, for code that walks payloads.
pub const KNOWN_TAG: &str = "$personal";
pub const SEALED_TAG: &str = "$sealed";

impl<T> Personal<T> {
    pub fn known(owner: impl Into<String>, value: T) -> Self {
        Personal::Known {
            owner: owner.into(),
            value,
        }
    }

    /// The key id this value belongs to.
    pub fn owner(&self) -> &str {
        match self {
            Personal::Known { owner, .. } => owner,
            Personal::Sealed(sealed) => &sealed.owner,
        }
    }

    /// The value, when it is still in clear (in memory, before the store sealed it).
    pub fn in_clear(&self) -> Option<&T> {
        match self {
            Personal::Known { value, .. } => Some(value),
            Personal::Sealed(_) => None,
        }
    }
}

/// The person a key id belongs to: the part before the first `/`.
pub fn person_of(owner: &str) -> &str {
    owner.split_once('/').map_or(owner, |(person, _)| person)
}

/// The key id of a student's absence reasons and comments of one school year: erased
/// by the retention rule on absences, before the rest of the student's record.
pub fn absences_owner(student: &str, year: &SchoolYear) -> String {
    format!("{student}/absences/{year}")
}

/// The school year a date falls in: September to August.
pub fn school_year_of(date: NaiveDate) -> SchoolYear {
    let year = u16::try_from(date.year()).unwrap_or(0);
    if date.month() >= 9 {
        SchoolYear::starting(year)
    } else {
        SchoolYear::starting(year.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_personal_values_in_json() {
        let name = Personal::known("eleve00001", "Hélène".to_string());
        let json = serde_json::to_value(&name).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"$personal": {"owner": "eleve00001", "value": "Hélène"}})
        );
        let sealed: Personal<String> = serde_json::from_value(serde_json::json!(
            {"$sealed": {"owner": "eleve00001", "nonce": "bm9uY2U=", "data": "ZGF0YQ=="}}
        ))
        .expect("sealed");
        assert_eq!(sealed.owner(), "eleve00001");
        assert_eq!(sealed.in_clear(), None);
        assert_eq!(name.in_clear().map(String::as_str), Some("Hélène"));
    }

    #[test]
    fn owners_and_years() {
        let year = SchoolYear::starting(2026);
        assert_eq!(absences_owner("e1", &year), "e1/absences/2026-2027");
        assert_eq!(person_of("e1/absences/2026-2027"), "e1");
        assert_eq!(person_of("e1"), "e1");
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        assert_eq!(school_year_of(date(2026, 9, 1)), year);
        assert_eq!(school_year_of(date(2027, 7, 4)), year);
        assert_eq!(
            school_year_of(date(2026, 8, 31)),
            SchoolYear::starting(2025)
        );
    }
}
