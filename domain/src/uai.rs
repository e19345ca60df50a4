//! The UAI (Unité Administrative Immatriculée, formerly RNE): the national identifier of
//! a French school. It is the tenant key of the whole system: one event log per UAI.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::refusal::{Lang, Refusal};

/// The 23 check letters of the UAI: the alphabet without I, O and Q, which would be
/// mistaken for digits.
const CHECK_LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPRSTUVWXYZ";

/// A valid UAI: seven digits and the check letter that matches them, e.g. `0750655E`.
///
/// The check letter is the remainder of the seven-digit number divided by 23, read in
/// [`CHECK_LETTERS`] (the rule of the Répertoire National des Établissements).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uai(String);

/// Why a text is not a UAI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UaiError {
    #[error("un UAI compte 8 caractères (7 chiffres et une lettre clé) ; `{0}` en compte {1}")]
    Length(String, usize),
    #[error("un UAI commence par 7 chiffres, ce n'est pas le cas de `{0}`")]
    NotDigits(String),
    #[error("la lettre clé de l'UAI `{value}` devrait être `{expected}`")]
    CheckLetter { value: String, expected: char },
}

impl Refusal for UaiError {
    fn rule(&self) -> &'static str {
        match self {
            UaiError::Length(..) => "UAI_LENGTH",
            UaiError::NotDigits(_) => "UAI_NOT_DIGITS",
            UaiError::CheckLetter { .. } => "UAI_CHECK_LETTER",
        }
    }

    fn message(&self, lang: Lang) -> String {
        match (lang, self) {
            (Lang::Fr, _) => self.to_string(),
            (Lang::En, UaiError::Length(value, chars)) => format!(
                "a UAI has 8 characters (7 digits and a check letter), `{value}` has {chars}"
            ),
            (Lang::En, UaiError::NotDigits(value)) => {
                format!("a UAI starts with 7 digits, `{value}` does not")
            }
            (Lang::En, UaiError::CheckLetter { value, expected }) => {
                format!("the check letter of UAI `{value}` should be `{expected}`")
            }
        }
    }
}

impl Uai {
    /// Parses a UAI, accepting a lower-case check letter and surrounding spaces (as they
    /// come in spreadsheets), and rejecting any other deviation.
    pub fn parse(text: &str) -> Result<Self, UaiError> {
        let value = text.trim().to_ascii_uppercase();
        let chars = value.chars().count();
        if chars != 8 {
            return Err(UaiError::Length(value, chars));
        }
        // Eight characters, not eight bytes: the seventh byte may fall inside a letter
        // like `Ï`, and then the first seven are not digits either.
        let Some((digits, letter)) = value.split_at_checked(7) else {
            return Err(UaiError::NotDigits(value));
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UaiError::NotDigits(value));
        }
        let number: u32 = digits
            .parse()
            .map_err(|_| UaiError::NotDigits(value.clone()))?;
        let expected = char::from(CHECK_LETTERS[(number % 23) as usize]);
        if letter != expected.to_string() {
            return Err(UaiError::CheckLetter { value, expected });
        }
        Ok(Uai(value))
    }

    /// Builds the UAI of a seven-digit number, computing its check letter. Used by the
    /// demo and the benchmarks to make many valid establishments.
    pub fn from_number(number: u32) -> Option<Self> {
        if number > 9_999_999 {
            return None;
        }
        let letter = char::from(CHECK_LETTERS[(number % 23) as usize]);
        Some(Uai(format!("{number:07}{letter}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Uai {
    type Err = UaiError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uai::parse(s)
    }
}

impl TryFrom<String> for Uai {
    type Error = UaiError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Uai::parse(&value)
    }
}

impl From<Uai> for String {
    fn from(value: Uai) -> Self {
        value.0
    }
}

impl fmt::Display for Uai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Uai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uai({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_real_uais() {
        // Lycée Henri-IV (Paris) and Lycée du Parc (Lyon), from the national directory.
        for text in ["0750654D", "0690026D", "0750655E", " 0750655e "] {
            assert!(Uai::parse(text).is_ok(), "{text} should be valid");
        }
        assert_eq!(Uai::parse("0750655e").unwrap().as_str(), "0750655E");
    }

    #[test]
    fn refuses_a_wrong_check_letter_and_names_the_right_one() {
        assert_eq!(
            Uai::parse("0750655F"),
            Err(UaiError::CheckLetter {
                value: "0750655F".into(),
                expected: 'E'
            })
        );
    }

    #[test]
    fn refuses_bad_shapes() {
        assert!(matches!(Uai::parse("075065E"), Err(UaiError::Length(_, 7))));
        assert!(matches!(
            Uai::parse("07506X5E"),
            Err(UaiError::NotDigits(_))
        ));
        assert!(matches!(
            Uai::parse("0750655É"),
            Err(UaiError::Length(..)) | Err(UaiError::CheckLetter { .. })
        ));
        assert!(matches!(Uai::parse(""), Err(UaiError::Length(_, 0))));
        // Eight characters, the seventh byte inside one (found by the importers' fuzzing).
        assert!(matches!(
            Uai::parse("ÑÈÊÏÉÊÊº"),
            Err(UaiError::NotDigits(_))
        ));
    }

    #[test]
    fn serde_goes_through_validation() {
        let ok: Uai = serde_json::from_str("\"0750655E\"").unwrap();
        assert_eq!(ok.as_str(), "0750655E");
        assert!(serde_json::from_str::<Uai>("\"0750655A\"").is_err());
    }

    proptest! {
        #[test]
        fn every_number_has_exactly_one_check_letter(n in 0u32..10_000_000) {
            let uai = Uai::from_number(n).unwrap();
            prop_assert_eq!(Uai::parse(uai.as_str()), Ok(uai.clone()));
            let digits = &uai.as_str()[..7];
            let valid = CHECK_LETTERS.iter().filter(|l| Uai::parse(&format!("{digits}{}", char::from(**l))).is_ok()).count();
            prop_assert_eq!(valid, 1);
        }
    }
}
