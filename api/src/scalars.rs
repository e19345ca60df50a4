//! The API's date and time scalars, named as client developers expect them (`Date`,
//! `Time`, `LocalDateTime`; `DateTime` is async-graphql's own, an instant with its
//! offset), each ISO 8601. chrono's types would be named `NaiveDate`, `NaiveTime` and
//! `NaiveDateTime` in the schema, after the Rust crate rather than the format.
//!
//! Each wraps the chrono value it stands for, which the code uses through `.0`, `*` or
//! `From`.

use std::ops::Deref;

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// A calendar date, ISO 8601: `2026-12-07`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub NaiveDate);

/// A time of day in the establishment's time zone, ISO 8601: `08:30:00` (seconds may be
/// left out on input: `08:30`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub NaiveTime);

/// A date and time in the establishment's time zone, without offset, ISO 8601:
/// `2026-12-07T08:30:00` (a lesson's or a booking's times, as the school's clocks say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalDateTime(pub NaiveDateTime);

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    }
}

#[Scalar(
    name = "Date",
    specified_by_url = "https://www.iso.org/iso-8601-date-and-time-format.html"
)]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        let s = text(&value).ok_or_else(|| InputValueError::expected_type(value.clone()))?;
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Date)
            .map_err(|_| InputValueError::custom(format!("`{s}` is not a date like 2026-12-07")))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

#[Scalar(
    name = "Time",
    specified_by_url = "https://www.iso.org/iso-8601-date-and-time-format.html"
)]
impl ScalarType for Time {
    fn parse(value: Value) -> InputValueResult<Self> {
        let s = text(&value).ok_or_else(|| InputValueError::expected_type(value.clone()))?;
        NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
            .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
            .map(Time)
            .map_err(|_| InputValueError::custom(format!("`{s}` is not a time like 08:30:00")))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%H:%M:%S").to_string())
    }
}

#[Scalar(
    name = "LocalDateTime",
    specified_by_url = "https://www.iso.org/iso-8601-date-and-time-format.html"
)]
impl ScalarType for LocalDateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        let s = text(&value).ok_or_else(|| InputValueError::expected_type(value.clone()))?;
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
            .map(LocalDateTime)
            .map_err(|_| {
                InputValueError::custom(format!(
                    "`{s}` is not a local date and time like 2026-12-07T08:30:00"
                ))
            })
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%dT%H:%M:%S").to_string())
    }
}

macro_rules! wraps {
    ($scalar:ident, $chrono:ty) => {
        impl From<$chrono> for $scalar {
            fn from(value: $chrono) -> Self {
                $scalar(value)
            }
        }

        impl From<$scalar> for $chrono {
            fn from(value: $scalar) -> Self {
                value.0
            }
        }

        impl Deref for $scalar {
            type Target = $chrono;

            fn deref(&self) -> &$chrono {
                &self.0
            }
        }

        impl PartialEq<$chrono> for $scalar {
            fn eq(&self, other: &$chrono) -> bool {
                self.0 == *other
            }
        }

        impl PartialOrd<$chrono> for $scalar {
            fn partial_cmp(&self, other: &$chrono) -> Option<std::cmp::Ordering> {
                self.0.partial_cmp(other)
            }
        }

        impl std::fmt::Display for $scalar {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

wraps!(Date, NaiveDate);
wraps!(Time, NaiveTime);
wraps!(LocalDateTime, NaiveDateTime);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reads_what_it_writes() {
        let date = Date::parse(Value::from("2026-12-07")).ok();
        assert_eq!(date.map(|d| d.to_value()), Some(Value::from("2026-12-07")));
        let time = Time::parse(Value::from("08:30")).ok();
        assert_eq!(time.map(|t| t.to_value()), Some(Value::from("08:30:00")));
        let at = LocalDateTime::parse(Value::from("2026-12-07T08:30:00")).ok();
        assert_eq!(
            at.map(|t| t.to_value()),
            Some(Value::from("2026-12-07T08:30:00"))
        );
    }

    #[test]
    fn a_wrong_value_says_what_is_expected() {
        let refused = Date::parse(Value::from("07/12/2026")).err();
        let message = refused.map(|e| e.into_server_error(Default::default()).message);
        assert!(message.is_some_and(|m| m.contains("2026-12-07")));
    }
}
