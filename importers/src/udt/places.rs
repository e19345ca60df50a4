//! Where UDT's lessons stand: half-sequences (`UDCal_07`) and fiches-T (`UDCal_11`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveTime};

use super::records::Record;
use super::{by_code, Export, CARDS, PARAMETERS, SLOTS, WEEKDAYS};
use crate::report::Problem;

/// A time as UDT writes it: `08h00`, `08:00` or `08:00:00`.
pub(super) fn time(text: &str) -> Option<NaiveTime> {
    let mut parts = text.split(['h', 'H', ':']);
    let hours = parts.next()?.trim().parse().ok()?;
    let minutes = match parts.next().map(str::trim) {
        None | Some("") => 0,
        Some(m) => m.parse().ok()?,
    };
    NaiveTime::from_hms_opt(hours, minutes, 0)
}

/// A number UDT writes (`03` or `3`).
pub(super) fn number(text: &str) -> Option<u32> {
    text.trim().parse().ok()
}

/// Where a fiche-T stands: its day (0 = Monday), half-sequence and site.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Place {
    pub day: usize,
    pub sequence: u32,
    pub site: String,
}

/// A day as UDT numbers it (1 = Monday), as an index of [`WEEKDAYS`].
fn day(text: &str) -> Option<usize> {
    number(text)
        .and_then(|d| usize::try_from(d).ok())
        .filter(|d| (1..=WEEKDAYS.len()).contains(d))
        .map(|d| d - 1)
}

/// The half-sequences' times, and the half-sequences with a problem.
#[derive(Debug, Default)]
pub(super) struct Slots {
    pub times: BTreeMap<Place, (NaiveTime, NaiveTime)>,
    pub broken: BTreeSet<Place>,
}

/// Reads the half-sequences, by day, half-sequence and site.
pub(super) fn slots(export: &Export<'_>, problems: &mut Vec<Problem>) -> Slots {
    // Half a sequence, when a half-sequence gives no end: UDT's `duree_seq`, in minutes
    // (or seconds, past four hours' worth of minutes).
    let half = export
        .records(PARAMETERS)
        .iter()
        .find_map(|r| r.get("duree_seq").and_then(number))
        .map(|d| i64::from(if d > 240 { d / 60 } else { d }) * 30);
    let mut slots = Slots::default();
    for record in export.records(SLOTS) {
        let place = match slot_place(record) {
            Ok(place) => place,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let start = record.get("hre_deb").and_then(time);
        let end = match record.get("hre_fin") {
            Some(end) => time(end),
            None => start.zip(half).map(|(s, h)| s + Duration::seconds(h)),
        };
        let (day, sequence) = (place.day + 1, place.sequence);
        let (Some(start), Some(end)) = (start, end.filter(|e| Some(*e) > start)) else {
            let rule = format!(
                "half-sequence {sequence} of day {day} has no valid start and end times (08h00)"
            );
            problems.push(record.problem("hre_deb", rule));
            slots.broken.insert(place);
            continue;
        };
        if slots.times.insert(place, (start, end)).is_some() {
            let rule = format!("half-sequence {sequence} of day {day} is given twice");
            problems.push(record.problem("code", rule));
        }
    }
    slots
}

/// Where a half-sequence stands.
fn slot_place(record: &Record<'_>) -> Result<Place, Problem> {
    let Some(d) = record.get("code_jour").and_then(day) else {
        let rule = format!(
            "`{}` is no day from 1 (Monday) to 6 (Saturday)",
            record.or_empty("code_jour")
        );
        return Err(record.problem("code_jour", rule));
    };
    let Some(sequence) = record.get("code").and_then(number) else {
        let rule = format!("`{}` is no half-sequence number", record.or_empty("code"));
        return Err(record.problem("code", rule));
    };
    Ok(Place {
        day: d,
        sequence,
        site: record.or_empty("code_site").to_string(),
    })
}

/// The fiches-T's places, by code, and the fiches-T with a problem.
pub(super) fn cards(
    export: &Export<'_>,
    slots: &Slots,
    problems: &mut Vec<Problem>,
) -> (BTreeMap<String, Place>, BTreeSet<String>) {
    let mut cards = BTreeMap::new();
    let mut broken = BTreeSet::new();
    for (code, record) in by_code(export.records(CARDS), "fiche-T", problems) {
        let place = card_place(record);
        match place {
            Ok(place) if slots.times.contains_key(&place) => {
                cards.insert(code, place);
            }
            // A half-sequence with a problem of its own: not reported again.
            Ok(place) if slots.broken.contains(&place) => {
                broken.insert(code);
            }
            Ok(place) => {
                let (day, sequence, site) = (place.day + 1, place.sequence, place.site);
                problems.push(record.problem(
                    "demi_seq",
                    format!(
                        "half-sequence {sequence} of day {day} (site `{site}`) is not among \
                         {SLOTS}'s half-sequences"
                    ),
                ));
                broken.insert(code);
            }
            Err(problem) => {
                problems.push(problem);
                broken.insert(code);
            }
        }
    }
    (cards, broken)
}

/// Where a fiche-T stands.
fn card_place(record: &Record<'_>) -> Result<Place, Problem> {
    let Some(d) = record.get("jour").and_then(day) else {
        let rule = format!(
            "`{}` is no day from 1 (Monday) to 6 (Saturday)",
            record.or_empty("jour")
        );
        return Err(record.problem("jour", rule));
    };
    let Some(sequence) = record.get("demi_seq").and_then(number) else {
        let rule = format!(
            "`{}` is no half-sequence number",
            record.or_empty("demi_seq")
        );
        return Err(record.problem("demi_seq", rule));
    };
    Ok(Place {
        day: d,
        sequence,
        site: record.or_empty("site").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_udt_writes_them() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0);
        assert_eq!(time("08h00"), t(8, 0));
        assert_eq!(time("8h"), t(8, 0));
        assert_eq!(time("13:35"), t(13, 35));
        assert_eq!(time("13:35:00"), t(13, 35));
        assert_eq!(time("25h00"), None);
        assert_eq!(time("neuf"), None);
        assert_eq!(day("1"), Some(0));
        assert_eq!(day("06"), Some(5));
        assert_eq!(day("7"), None);
    }
}
