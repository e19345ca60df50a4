//! The demo's school calendar, 2026-2027, académie de Paris (zone C). The holiday dates
//! follow the published pattern (Toussaint, Noël, winter, spring, Ascension bridge, public
//! holidays); they are the demo's, and a real establishment records its own.

use carnet_domain::calendar::{Closure, SchoolCalendar};
use chrono::NaiveDate;

use super::DemoError;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
}

/// The demo year's calendar: its dates from [`super::school_year`], lessons Monday to
/// Friday, and the holidays below.
pub fn calendar() -> Result<SchoolCalendar, DemoError> {
    let year = super::school_year();
    let closure = |name: &str, from, to| Closure {
        name: name.into(),
        from,
        to,
    };
    let refused = |e: carnet_domain::calendar::CalendarError| DemoError::Refused {
        what: "the demo calendar".into(),
        reason: e.to_string(),
    };
    let mut calendar = SchoolCalendar::new(year.first_day, year.last_day).map_err(refused)?;
    calendar.closures = vec![
        closure("Vacances de la Toussaint", d(2026, 10, 17), d(2026, 11, 1)),
        closure("Armistice", d(2026, 11, 11), d(2026, 11, 11)),
        closure("Vacances de Noël", d(2026, 12, 19), d(2027, 1, 3)),
        closure("Vacances d'hiver", d(2027, 2, 20), d(2027, 3, 7)),
        closure("Lundi de Pâques", d(2027, 3, 29), d(2027, 3, 29)),
        closure("Vacances de printemps", d(2027, 4, 17), d(2027, 5, 2)),
        closure("Pont de l'Ascension", d(2027, 5, 6), d(2027, 5, 9)),
        closure("Lundi de Pentecôte", d(2027, 5, 17), d(2027, 5, 17)),
    ];
    calendar.check().map_err(refused)?;
    Ok(calendar)
}
