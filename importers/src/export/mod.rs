//! Exports for reversibility and for the tools schools already use: timetables as
//! iCalendar (RFC 5545) for any calendar application, absences and grades as CSV for a
//! spreadsheet.
//! [`lsu`](crate::export::lsu) writes the Livret scolaire unique's import file, checked first.
//!
//! Everything is read from the aggregates themselves (`CommandBus::state`), not from the
//! read models: an export is right as soon as a command is answered, whether or not the
//! projectors have caught up. Personal data (names, absence reasons, comments) is opened
//! through the store's vault; a person whose data was erased reads as [`ERASED`], and the
//! export goes on.

pub mod absences;
pub mod grades;
pub mod ical;
pub mod lsu;
mod school;
mod timezone;

pub use school::{list_streams, Scope, ERASED};

use carnet_domain::enrolment::{SchoolYear, SchoolYearError};
use carnet_domain::Uai;
use carnet_store::StoreError;

/// Why an export could not be made. Each message names what was asked for.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{tenant} has no student `{id}`")]
    UnknownStudent { tenant: Uai, id: String },
    #[error("{tenant} has no teacher `{id}` (no staff member of that id)")]
    UnknownTeacher { tenant: Uai, id: String },
    #[error("no lesson of {year} in {tenant} takes place in room `{room}`")]
    UnknownRoom {
        tenant: Uai,
        year: SchoolYear,
        room: String,
    },
    #[error("{tenant} has no division `{id}` in {year}")]
    UnknownDivision {
        tenant: Uai,
        year: SchoolYear,
        id: String,
    },
    #[error("{tenant} has no group `{id}` in {year}")]
    UnknownGroup {
        tenant: Uai,
        year: SchoolYear,
        id: String,
    },
    #[error("{tenant} has no school year {year}{}", known_years(.known))]
    UnknownYear {
        tenant: Uai,
        year: SchoolYear,
        known: Vec<SchoolYear>,
    },
    #[error("{0} has no school year yet: nothing to export")]
    NoYear(Uai),
    #[error("establishment {0} is not registered in this database")]
    UnknownEstablishment(Uai),
    #[error("the timetable of {year} in {tenant} is not open yet: nothing to export")]
    NoTimetable { tenant: Uai, year: SchoolYear },
    #[error(transparent)]
    Year(#[from] SchoolYearError),
    #[error("the separator must be a single ASCII character other than `\"`, a letter or a digit; `{0}` is not")]
    Separator(String),
    #[error("the language of a CSV export (`lang`) is `fr` (the default) or `en`, not `{0}`")]
    Language(String),
    #[error("the store could not be read: {0}")]
    Store(#[from] StoreError),
    #[error("writing the CSV failed: {0}")]
    Csv(#[from] csv::Error),
    #[error("writing the export failed: {0}")]
    Io(#[from] std::io::Error),
}

fn known_years(known: &[SchoolYear]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = known.iter().map(SchoolYear::as_str).collect();
        format!(" (it has {})", names.join(", "))
    }
}

/// The language of a CSV export's column names and of the words in it meant for people
/// (absent / late, yes / no, the CPE's decision): French for the school's staff by
/// default, English on request. Codes and ids (reason codes, ABS / DISP, students' ids)
/// are the same in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    French,
    English,
}

impl Language {
    /// The language given on a command line or in a query: `fr` or `en`.
    pub fn from_code(text: &str) -> Result<Language, ExportError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "fr" | "french" | "français" => Ok(Language::French),
            "en" | "english" => Ok(Language::English),
            _ => Err(ExportError::Language(text.to_string())),
        }
    }

    /// `fr` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Language::French => "fr",
            Language::English => "en",
        }
    }

    /// `french` in French, else `english`.
    pub(crate) fn pick<T>(self, french: T, english: T) -> T {
        match self {
            Language::French => french,
            Language::English => english,
        }
    }
}

/// How a CSV export is written: what Excel in French expects by default (`;` between
/// fields, a decimal comma, French column names), the separator, decimal mark and
/// English column names of the rest of the world on request, and a UTF-8 byte order mark
/// for the Excel versions that read UTF-8 only with it (without it, "Hélène" shows as
/// "HÃ©lÃ¨ne").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    pub separator: u8,
    pub bom: bool,
    /// Write decimals with a comma (`14,5`), as French spreadsheets read them.
    pub decimal_comma: bool,
    /// The language of the column names and of the words for people (French by default).
    pub language: Language,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            separator: b';',
            bom: false,
            decimal_comma: true,
            language: Language::French,
        }
    }
}

impl CsvOptions {
    /// The separator given on a command line: one ASCII character (`;`, `,`, a tab
    /// written `\t` or `tab`) that cannot be mistaken for data or quoting.
    pub fn separator_from(text: &str) -> Result<u8, ExportError> {
        let bad = || ExportError::Separator(text.to_string());
        let c = match text {
            "\\t" | "tab" | "TAB" => '\t',
            _ => {
                let mut chars = text.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => c,
                    _ => return Err(bad()),
                }
            }
        };
        if !c.is_ascii() || c.is_ascii_alphanumeric() || c == '"' || c == '\n' || c == '\r' {
            return Err(bad());
        }
        u8::try_from(c).map_err(|_| bad())
    }

    /// A writer of CSV with these options over `out`, the byte order mark written first
    /// when asked for.
    pub(crate) fn writer<W: std::io::Write>(
        &self,
        mut out: W,
    ) -> Result<csv::Writer<W>, ExportError> {
        if self.bom {
            out.write_all("\u{feff}".as_bytes())?;
        }
        Ok(csv::WriterBuilder::new()
            .delimiter(self.separator)
            .terminator(csv::Terminator::CRLF)
            .from_writer(out))
    }

    /// Writes one row, every field made safe for spreadsheets (see [`neutralise`]).
    pub(crate) fn write_row<W: std::io::Write, I, F>(
        &self,
        csv: &mut csv::Writer<W>,
        row: I,
    ) -> Result<(), ExportError>
    where
        I: IntoIterator<Item = F>,
        F: AsRef<str>,
    {
        csv.write_record(row.into_iter().map(|f| neutralise(f.as_ref()).into_owned()))?;
        Ok(())
    }

    /// The column names in this export's language.
    pub(crate) fn header<'a>(
        &self,
        french: &'a [&'a str],
        english: &'a [&'a str],
    ) -> &'a [&'a str] {
        self.language.pick(french, english)
    }

    /// A yes or no for people to read, in this export's language.
    pub(crate) fn yes_no(&self, value: bool) -> String {
        match (self.language, value) {
            (Language::French, true) => "oui",
            (Language::French, false) => "non",
            (Language::English, true) => "yes",
            (Language::English, false) => "no",
        }
        .to_string()
    }

    /// A decimal as this export writes it.
    pub(crate) fn decimal(&self, value: rust_decimal::Decimal) -> String {
        let text = value.normalize().to_string();
        if self.decimal_comma {
            text.replace('.', ",")
        } else {
            text
        }
    }
}

/// A field as a spreadsheet must read it: text, never a formula. Excel, LibreOffice and
/// Google Sheets run a cell that starts with `=`, `+`, `-` or `@` (and, after a tab or a
/// carriage return, the same) as a formula, so a guardian's justification comment
/// `=HYPERLINK(...)` would run on the CPE's machine. As OWASP's "CSV Injection" advice
/// says, such a field is prefixed with a single quote, which spreadsheets show as text.
pub fn neutralise(field: &str) -> std::borrow::Cow<'_, str> {
    match field.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{field}").into(),
        _ => field.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_written_as_text() {
        for formula in ["=1+1", "+33 6", "-2", "@SUM(A1)", "\t=1", "\r=1"] {
            assert_eq!(neutralise(formula), format!("'{formula}"));
        }
        for plain in ["Hélène", "14,5", "2026-12-07", "", "a=b", "'déjà"] {
            assert_eq!(neutralise(plain), plain);
        }
    }

    #[test]
    fn separators() {
        assert_eq!(CsvOptions::separator_from(";").ok(), Some(b';'));
        assert_eq!(CsvOptions::separator_from(",").ok(), Some(b','));
        assert_eq!(CsvOptions::separator_from("\\t").ok(), Some(b'\t'));
        assert_eq!(CsvOptions::separator_from("|").ok(), Some(b'|'));
        for bad in ["", ";;", "a", "7", "\"", "é"] {
            let err = CsvOptions::separator_from(bad).err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains("separator")),
                "{bad:?}: {err:?}"
            );
        }
    }

    #[test]
    fn french_and_english_headers_side_by_side() {
        for (french, english) in [
            (&absences::HEADER_FR[..], &absences::HEADER[..]),
            (&grades::HEADER_FR[..], &grades::HEADER[..]),
        ] {
            assert_eq!(french.len(), english.len(), "{french:?} / {english:?}");
            let distinct: std::collections::BTreeSet<&str> = french.iter().copied().collect();
            assert_eq!(distinct.len(), french.len(), "{french:?}");
            assert!(french.iter().all(|c| !c.is_empty() && c.trim() == *c));
        }
        assert_eq!(absences::HEADER_FR[0], "Date");
        assert_eq!(absences::HEADER[0], "date");
        let o = CsvOptions::default();
        assert_eq!(o.language, Language::French);
        assert_eq!(
            o.header(&grades::HEADER_FR, &grades::HEADER),
            grades::HEADER_FR
        );
        assert_eq!(o.yes_no(true), "oui");
        let o = CsvOptions {
            language: Language::English,
            ..o
        };
        assert_eq!(
            o.header(&grades::HEADER_FR, &grades::HEADER),
            grades::HEADER
        );
        assert_eq!(o.yes_no(false), "no");
    }

    #[test]
    fn languages() {
        assert_eq!(Language::from_code("fr").ok(), Some(Language::French));
        assert_eq!(Language::from_code("EN").ok(), Some(Language::English));
        assert_eq!(Language::default().code(), "fr");
        let err = Language::from_code("de").err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("lang") && e.contains("`de`")),
            "{err:?}"
        );
    }

    #[test]
    fn decimals() {
        let o = CsvOptions::default();
        assert_eq!(o.decimal(rust_decimal::Decimal::new(1450, 2)), "14,5");
        let o = CsvOptions {
            decimal_comma: false,
            ..o
        };
        assert_eq!(o.decimal(rust_decimal::Decimal::new(20, 0)), "20");
        assert_eq!(o.decimal(rust_decimal::Decimal::new(75, 2)), "0.75");
    }
}
