//! Identifiers of the enrolment context, validated once at the edge so that the rest of
//! the code can trust them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The INE (Identifiant National Élève): 11 characters, in one of the shapes the
/// ministry issues (the same three that the ministry's public services accept):
/// - INE-RNIE, since 2018: 9 digits and 2 letters (`123456789AB`);
/// - INE-BEA (base élèves académique): 10 digits and 1 letter (`1234567890A`);
/// - INE of apprentices: 4 digits, `A`, 5 digits and 1 letter (`1234A12345B`).
///
/// The key letters are checked by the national registry that issues them; their
/// algorithm is not published, so Carnet checks the shape only.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ine(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an INE: an INE has 11 characters, 9 digits and 2 letters, \
     10 digits and 1 letter, or 4 digits, A, 5 digits and 1 letter"
)]
pub struct IneError(pub String);

impl Ine {
    /// Parses an INE, accepting lower case and surrounding spaces as spreadsheets have.
    pub fn parse(text: &str) -> Result<Self, IneError> {
        let value = text.trim().to_ascii_uppercase();
        let b = value.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        let letters = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_uppercase);
        let ok = b.len() == 11
            && ((digits(0..9) && letters(9..11))
                || (digits(0..10) && letters(10..11))
                || (digits(0..4) && b[4] == b'A' && digits(5..10) && letters(10..11)));
        if ok {
            Ok(Ine(value))
        } else {
            Err(IneError(text.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Ine {
    type Error = IneError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Ine::parse(&value)
    }
}

impl From<Ine> for String {
    fn from(ine: Ine) -> String {
        ine.0
    }
}

impl fmt::Display for Ine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Ine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ine({})", self.0)
    }
}

/// A school year, written as French schools write it: `2026-2027`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SchoolYear(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a school year: write it as two consecutive years, e.g. 2026-2027")]
pub struct SchoolYearError(pub String);

impl SchoolYear {
    pub fn parse(text: &str) -> Result<Self, SchoolYearError> {
        let value = text.trim();
        let bad = || SchoolYearError(text.to_string());
        let (a, b) = value.split_once('-').ok_or_else(bad)?;
        let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
        if a.checked_add(1) != Some(b) || !(1900..=2999).contains(&a) {
            return Err(bad());
        }
        Ok(SchoolYear(format!("{a}-{b}")))
    }

    /// The school year that starts in September of `year`.
    pub fn starting(year: u16) -> Self {
        SchoolYear(format!("{year}-{}", year.saturating_add(1)))
    }

    /// The first calendar year (2026 for 2026-2027).
    pub fn first_year(&self) -> u16 {
        self.0
            .split_once('-')
            .and_then(|(a, _)| a.parse().ok())
            .unwrap_or_default()
    }

    pub fn next(&self) -> Self {
        SchoolYear::starting(self.first_year().saturating_add(1))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SchoolYear {
    type Error = SchoolYearError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        SchoolYear::parse(&value)
    }
}

impl From<SchoolYear> for String {
    fn from(year: SchoolYear) -> String {
        year.0
    }
}

impl fmt::Display for SchoolYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SchoolYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SchoolYear({})", self.0)
    }
}

/// A subject's code in the BCN (Base Centrale des Nomenclatures, table N_MATIERE), six
/// digits, e.g. `061300` for mathématiques. STS-Web and SIECLE use these codes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SubjectCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a subject code of the BCN: it has six digits, e.g. 061300")]
pub struct SubjectCodeError(pub String);

impl SubjectCode {
    pub fn parse(text: &str) -> Result<Self, SubjectCodeError> {
        let value = text.trim();
        if value.len() == 6 && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(SubjectCode(value.to_string()))
        } else {
            Err(SubjectCodeError(text.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SubjectCode {
    type Error = SubjectCodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        SubjectCode::parse(&value)
    }
}

impl From<SubjectCode> for String {
    fn from(code: SubjectCode) -> String {
        code.0
    }
}

impl fmt::Display for SubjectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SubjectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectCode({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_shapes_of_ine() {
        for ok in ["123456789AB", "1234567890a", " 1234A12345B "] {
            assert!(Ine::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "12345678901",
            "123456789A",
            "ABCDEFGHIJK",
            "1234B12345B",
            "123456789ABC",
        ] {
            let err = Ine::parse(bad).unwrap_err();
            assert!(err.to_string().contains("11 characters"), "{err}");
        }
        let json = serde_json::to_string(&Ine::parse("123456789ab").unwrap()).unwrap();
        assert_eq!(json, "\"123456789AB\"");
        assert!(serde_json::from_str::<Ine>("\"nope\"").is_err());
    }

    #[test]
    fn school_years_are_two_consecutive_years() {
        assert_eq!(
            SchoolYear::parse("2026-2027").unwrap().next().as_str(),
            "2027-2028"
        );
        for bad in ["2026-2028", "2026", "x-y", "2027-2026"] {
            assert!(SchoolYear::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subject_codes_have_six_digits() {
        assert!(SubjectCode::parse("061300").is_ok());
        assert!(SubjectCode::parse("MATHS").is_err());
    }
}
