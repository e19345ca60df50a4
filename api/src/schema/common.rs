//! What every context of the schema shares: the school year and period a request
//! stands in, date ranges, days of the week, checks of plain arguments.

use crate::schema::prelude::*;

/// The longest date range one timetable query may span.
pub(crate) const MAX_RANGE_DAYS: i64 = 62;

/// The school year of `date`, or the latest one begun before it, or the first.
pub fn year_of(establishment: &Establishment, date: NaiveDate) -> Option<SchoolYear> {
    let years = &establishment.years;
    years
        .iter()
        .find(|(_, y)| y.first_day <= date && date <= y.last_day)
        .or_else(|| years.iter().rev().find(|(_, y)| y.first_day <= date))
        .or_else(|| years.iter().next())
        .map(|(id, _)| id.clone())
}

/// The day `reader` stands on: the `asOf` instant's date, or today, in the school's zone.
pub fn today(reader: &Reader, establishment: &Establishment) -> NaiveDate {
    reader
        .as_of
        .unwrap_or_else(Utc::now)
        .with_timezone(&establishment.time_zone)
        .date_naive()
}

/// The school year `text` names, or VALIDATION on `field`.
pub(crate) fn school_year_arg(field: &str, text: &str) -> ApiResult<SchoolYear> {
    SchoolYear::parse(text).map_err(|e| {
        ApiError::validation(
            field,
            Text::new(
                format!(
                    "`{}` n'est pas une année scolaire : écrivez-la comme deux années \
                     consécutives, par ex. 2026-2027",
                    e.0
                ),
                e.to_string(),
            ),
        )
    })
}

/// The year asked for, or the current one.
pub async fn year(reader: &Reader, asked: Option<&str>) -> ApiResult<SchoolYear> {
    if let Some(text) = asked {
        return school_year_arg("year", text);
    }
    let establishment = reader.establishment().await?;
    year_of(&establishment, today(reader, &establishment)).ok_or_else(|| {
        ApiError::not_found(Text::new(
            "aucune année scolaire n'est ouverte dans cet établissement",
            "no school year is open in this establishment",
        ))
    })
}

pub fn check_range(from: NaiveDate, to: NaiveDate) -> ApiResult<()> {
    if to < from {
        return Err(ApiError::validation(
            "to",
            Text::new("est avant `from`", "is before `from`"),
        ));
    }
    if (to - from).num_days() > MAX_RANGE_DAYS {
        return Err(ApiError::validation(
            "to",
            Text::new(
                format!("une plage couvre au plus {MAX_RANGE_DAYS} jours"),
                format!("a range spans at most {MAX_RANGE_DAYS} days"),
            ),
        ));
    }
    Ok(())
}

/// The Monday and Sunday of `date`'s week.
pub fn week_of(date: NaiveDate) -> (NaiveDate, NaiveDate) {
    let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
    (monday, monday + Duration::days(6))
}

pub(crate) async fn year_arg(reader: &Reader, year: Option<String>) -> ApiResult<SchoolYear> {
    self::year(reader, year.as_deref()).await
}

/// The period of `year` that contains today, or the last one begun.
pub async fn current_period(reader: &Reader, year: &SchoolYear) -> ApiResult<String> {
    let establishment = reader.establishment().await?;
    let day = today(reader, &establishment);
    let periods = establishment
        .years
        .get(year)
        .map(|y| y.periods.clone())
        .unwrap_or_default();
    periods
        .iter()
        .find(|p| p.from <= day && day <= p.to)
        .or_else(|| periods.iter().rev().find(|p| p.from <= day))
        .or_else(|| periods.first())
        .map(|p| p.id.clone())
        .ok_or_else(|| {
            ApiError::not_found(Text::new(
                format!("l'année scolaire {year} n'a aucune période"),
                format!("school year {year} has no period"),
            ))
        })
}

/// What a `history` field counts against the request's complexity: it reads and folds a
/// stream of the log, where other fields read a document already parsed.
pub const HISTORY_COST: usize = 25;

/// The school year of `date` in `establishment`, or VALIDATION on `field`.
pub(crate) fn year_containing(
    e: &Establishment,
    date: NaiveDate,
    field: &str,
) -> ApiResult<SchoolYear> {
    e.years
        .iter()
        .find(|(_, y)| y.first_day <= date && date <= y.last_day)
        .map(|(id, _)| id.clone())
        .ok_or_else(|| {
            ApiError::validation(
                field,
                Text::new(
                    format!("le {date} n'est dans aucune année scolaire de {}", e.name),
                    format!("{date} is in no school year of {}", e.name),
                ),
            )
        })
}

pub(crate) fn non_empty(value: &str, field: &str) -> ApiResult<()> {
    if value.trim().is_empty() {
        return Err(ApiError::validation(
            field,
            Text::new("ne doit pas être vide", "must not be empty"),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum Day {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
}

impl From<Day> for Weekday {
    fn from(d: Day) -> Self {
        match d {
            Day::Monday => Weekday::Mon,
            Day::Tuesday => Weekday::Tue,
            Day::Wednesday => Weekday::Wed,
            Day::Thursday => Weekday::Thu,
            Day::Friday => Weekday::Fri,
            Day::Saturday => Weekday::Sat,
        }
    }
}
