//! The plain input model of a report card.
//!
//! It is deliberately free of any domain type: the server (or a test) fills it from its
//! read models, so the renderer can be exercised without a database and the same data
//! can be stored as JSON alongside the PDF's hash.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One student's report card for one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bulletin {
    pub establishment: Establishment,
    /// The school year, e.g. "2026-2027".
    pub school_year: String,
    pub period: Period,
    pub student: Student,
    /// The professeur principal's display name.
    pub principal_teacher: Option<String>,
    pub subjects: Vec<SubjectLine>,
    /// The student's overall average (moyenne générale), out of 20.
    pub overall: Option<Decimal>,
    /// The class's overall average, out of 20.
    pub class_overall: Option<Decimal>,
    pub general_appreciation: Option<String>,
    pub vie_scolaire: VieScolaire,
    /// E.g. "Félicitations du conseil de classe".
    pub council_decision: Option<String>,
    /// What lets a reader check the printed bulletin against the server.
    pub verification: Option<Verification>,
    /// A bulletin the class council has not published yet (staff print it to prepare
    /// the council): it says so where the verification block would be.
    #[serde(default)]
    pub provisional: bool,
    /// The issue date; also the PDF's creation date, so the output stays deterministic.
    pub issued_on: NaiveDate,
}

/// The establishment issuing the bulletin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Establishment {
    pub name: String,
    /// The UAI (immatriculation) number, e.g. "0750001A".
    pub uai: String,
    pub address: Option<String>,
}

/// The period the bulletin covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Period {
    /// E.g. "1er trimestre".
    pub label: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The student's identity as printed in the header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Student {
    pub last_name: String,
    pub first_name: String,
    pub birth_date: Option<NaiveDate>,
    /// E.g. "3e A".
    pub division: String,
}

/// One discipline's line of the results table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectLine {
    /// E.g. "Mathématiques".
    pub subject: String,
    pub teachers: Vec<String>,
    pub average: Option<Decimal>,
    pub class_average: Option<Decimal>,
    pub class_min: Option<Decimal>,
    pub class_max: Option<Decimal>,
    /// The positioning on the four-step scale, 1..=4 (see [`positioning_label`]).
    ///
    /// [`positioning_label`]: crate::positioning_label
    pub positioning: Option<u8>,
    pub appreciation: Option<String>,
    /// Assessed skills: the item's label and its level, 1..=4.
    pub competences: Vec<(String, u8)>,
}

/// Attendance figures and the CPE's appreciation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VieScolaire {
    pub half_days_absent: u32,
    pub half_days_unjustified: u32,
    pub lateness: u32,
    pub appreciation: Option<String>,
}

/// The code and address printed (and QR-encoded) so a reader can check authenticity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// E.g. "0750001A-K7QM-3XPA".
    pub code: String,
    pub url: String,
}
