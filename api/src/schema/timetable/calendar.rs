//! The school calendar of a year: first and last days, holidays and closed days, and
//! which week is week A or week B.

use carnet_domain::calendar::{monday_of, SchoolCalendar, WeekLabel};

use crate::schema::prelude::*;

impl From<WeekLabel> for AlternatingWeek {
    fn from(w: WeekLabel) -> Self {
        match w {
            WeekLabel::A => AlternatingWeek::A,
            WeekLabel::B => AlternatingWeek::B,
        }
    }
}

/// Holidays (vacances scolaires of the establishment's zone) or closed days (a pont,
/// an exam day), first and last day included.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Closure")]
pub struct CalendarClosure {
    pub name: String,
    pub from: Date,
    pub to: Date,
    /// Whether it covers every school day of at least one week (holidays, rather than
    /// a day or two off).
    pub holidays: bool,
}

/// A week with lessons and its label in the A/B alternation.
#[derive(Debug, Clone, SimpleObject)]
pub struct SchoolWeek {
    pub monday: Date,
    pub week: AlternatingWeek,
}

/// A school year's calendar.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Calendar")]
pub struct CalendarView {
    pub year: String,
    /// The day of the rentrée.
    pub first_day: Date,
    /// The last day of lessons.
    pub last_day: Date,
    /// The weekdays with lessons.
    pub weekdays: Vec<Day>,
    /// Holidays only (closures that cover a whole week).
    pub holidays: Vec<CalendarClosure>,
    /// Every closure, holidays and closed days, in order.
    pub closures: Vec<CalendarClosure>,
    /// The weeks with at least one school day, each with its label (holiday weeks do
    /// not count in the alternation).
    pub weeks: Vec<SchoolWeek>,
}

fn day(w: Weekday) -> Option<Day> {
    Some(match w {
        Weekday::Mon => Day::Monday,
        Weekday::Tue => Day::Tuesday,
        Weekday::Wed => Day::Wednesday,
        Weekday::Thu => Day::Thursday,
        Weekday::Fri => Day::Friday,
        Weekday::Sat => Day::Saturday,
        Weekday::Sun => return None,
    })
}

pub(crate) fn calendar_view(year: &SchoolYear, c: &SchoolCalendar) -> CalendarView {
    let mut closures: Vec<CalendarClosure> = c
        .closures
        .iter()
        .map(|k| {
            // Holidays: some week has all its weekdays with lessons inside the closure.
            let holidays = k.from.iter_days().take_while(|d| *d <= k.to).any(|d| {
                let monday = monday_of(d);
                c.weekdays.iter().all(|w| {
                    let day = monday + Duration::days(i64::from(w.num_days_from_monday()));
                    k.from <= day && day <= k.to
                })
            });
            CalendarClosure {
                name: k.name.clone(),
                from: k.from.into(),
                to: k.to.into(),
                holidays,
            }
        })
        .collect();
    closures.sort_by_key(|k| (k.from, k.to));
    let mut weeks = Vec::new();
    let mut monday = monday_of(c.first_day);
    while monday <= c.last_day {
        if let Some(label) = c.week_label(monday) {
            weeks.push(SchoolWeek {
                monday: monday.into(),
                week: label.into(),
            });
        }
        monday += Duration::days(7);
    }
    CalendarView {
        year: year.to_string(),
        first_day: c.first_day.into(),
        last_day: c.last_day.into(),
        weekdays: c.weekdays.iter().filter_map(|w| day(*w)).collect(),
        holidays: closures.iter().filter(|k| k.holidays).cloned().collect(),
        closures,
        weeks,
    }
}

#[derive(Debug, Default)]
pub struct CalendarQuery;

#[Object]
impl CalendarQuery {
    /// The calendar of a school year (the current one by default: the year of today, or
    /// of the `asOf` instant, in the establishment's time zone). Null when the year is
    /// not open in this establishment.
    async fn calendar(
        &self,
        ctx: &Context<'_>,
        year: Option<String>,
        as_of: Option<DateTime<Utc>>,
    ) -> GqlResult<Option<CalendarView>> {
        let (reader, _) = caller(ctx, as_of).await?;
        let year = year_arg(&reader, year).await?;
        if let Some(c) = reader
            .timetable(&year)
            .await?
            .and_then(|t| t.calendar().cloned())
        {
            return Ok(Some(calendar_view(&year, &c)));
        }
        // A year opened before calendars were recorded: its dates, Monday to Friday.
        let establishment = reader.establishment().await?;
        let Some(y) = establishment.years.get(&year) else {
            return Ok(None);
        };
        Ok(SchoolCalendar::new(y.first_day, y.last_day)
            .ok()
            .map(|c| calendar_view(&year, &c)))
    }
}
