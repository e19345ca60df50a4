//! Retention: personal data kept no longer than its purpose needs (RGPD art. 5-1-e).
//!
//! The rule applied here is on absences: a student's absence reasons, justification
//! comments and notes of a school year are kept until the end of that school year,
//! plus a configurable number of years, then erased by destroying the key they are
//! sealed with (`<student>/absences/<year>`). The counts of half-days, the dates and
//! the decisions stay: only what was personal in them goes.
//!
//! Source of the default (0 extra years): CNIL, délibération n° 2012-199 du 7 juin 2012
//! (dispense de déclaration n° 17, gestion de la scolarité dans le second degré), whose
//! condition is that such data is not kept beyond the school year it was recorded for.
//! An establishment whose DPO sets a longer duration (a procedure under way, an
//! archive obligation) passes it as `--absence-years`.

use carnet_domain::attendance::AttendancePolicy;
use carnet_domain::enrolment::{Establishment, SchoolYear};
use carnet_domain::Uai;
use carnet_store::keys::Erase;
use carnet_store::{EventStore, School, StoreError};
use chrono::{Months, NaiveDate, Utc};

/// The rule: absence data kept this many years after the end of its school year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub absence_years: u32,
}

/// A key past the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    pub owner: String,
    pub person: String,
    pub year: SchoolYear,
    /// The last day of the school year.
    pub year_ended: NaiveDate,
    /// The last day the rule keeps it.
    pub kept_until: NaiveDate,
}

/// The absence keys of `tenant` (not yet erased) that the rule no longer keeps on `today`.
pub async fn past_rule(
    store: &EventStore,
    tenant: &Uai,
    rule: Rule,
    today: NaiveDate,
) -> Result<Vec<Expired>, StoreError> {
    let school = School::new(store.clone(), tenant.clone(), AttendancePolicy::default());
    let (_, establishment): (i64, Establishment) = school
        .establishment
        .state(&school.establishment_id())
        .await?;
    let mut expired = Vec::new();
    for key in store.vault().keys(tenant).await? {
        if key.key.is_none() {
            continue;
        }
        let Some(year) = absence_year(&key.owner) else {
            continue;
        };
        let year_ended = establishment
            .years
            .get(&year)
            .map(|y| y.last_day)
            .unwrap_or_else(|| default_last_day(&year));
        let kept_until = year_ended
            .checked_add_months(Months::new(12 * rule.absence_years))
            .unwrap_or(NaiveDate::MAX);
        if today > kept_until {
            expired.push(Expired {
                owner: key.owner,
                person: key.person,
                year,
                year_ended,
                kept_until,
            });
        }
    }
    Ok(expired)
}

/// Erases `expired`, each with the rule as its grounds; returns how many keys went.
pub async fn erase(
    store: &EventStore,
    tenant: &Uai,
    rule: Rule,
    expired: &[Expired],
) -> Result<usize, StoreError> {
    let mut erased = 0;
    for e in expired {
        let grounds = format!(
            "retention: absences of {} kept until {} (end of the school year + {} year(s))",
            e.year, e.kept_until, rule.absence_years
        );
        erased += store
            .vault()
            .erase(tenant, &Erase::Owner(e.owner.clone()), &grounds, Utc::now())
            .await?
            .len();
    }
    Ok(erased)
}

/// The school year of an absences key id (`student/absences/2026-2027`).
fn absence_year(owner: &str) -> Option<SchoolYear> {
    let (_, rest) = owner.split_once('/')?;
    let year = rest.strip_prefix("absences/")?;
    SchoolYear::parse(year).ok()
}

/// August 31 of the year's second calendar year, for a year the establishment never
/// opened.
fn default_last_day(year: &SchoolYear) -> NaiveDate {
    NaiveDate::from_ymd_opt(i32::from(year.first_year()) + 1, 8, 31).unwrap_or(NaiveDate::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absence_keys_name_their_year() {
        assert_eq!(
            absence_year("e1/absences/2025-2026"),
            Some(SchoolYear::starting(2025))
        );
        assert_eq!(absence_year("e1"), None);
        assert_eq!(absence_year("e1/grades/2025-2026"), None);
        assert_eq!(
            default_last_day(&SchoolYear::starting(2025)),
            NaiveDate::from_ymd_opt(2026, 8, 31).expect("date")
        );
    }
}
