//! The VTIMEZONE component of an establishment's time zone (RFC 5545 §3.6.5), worked
//! out from the tz database chrono-tz carries: every change of offset over the dates
//! exported, each as an observance of its own. No rule is guessed, so it is right for
//! Europe/Paris as for Pacific/Noumea (no summer time) or America/Santiago.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

/// One observance: from `start` (local time in the offset before), `to` applies.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Observance {
    start: NaiveDateTime,
    from: i32,
    to: i32,
    name: Option<String>,
    daylight: bool,
}

/// The lines (name, value) of the VTIMEZONE of `tz` covering `from` to `to`, with a
/// year of margin on both sides.
pub(crate) fn vtimezone(tz: Tz, from: NaiveDate, to: NaiveDate) -> Vec<(String, String)> {
    let begin = (from - Duration::days(366)).and_time(chrono::NaiveTime::MIN);
    let end = (to + Duration::days(366)).and_time(chrono::NaiveTime::MIN);
    let begin = begin.and_utc();
    let end = end.and_utc();

    let first = tz.offset_from_utc_datetime(&begin.naive_utc());
    let mut observances = vec![Observance {
        start: begin.naive_utc() + Duration::seconds(i64::from(first.fix().local_minus_utc())),
        from: first.fix().local_minus_utc(),
        to: first.fix().local_minus_utc(),
        name: first.abbreviation().map(str::to_string),
        daylight: !first.dst_offset().is_zero(),
    }];
    let mut at = begin;
    let mut offset = first.fix().local_minus_utc();
    while at < end {
        let next = at + Duration::hours(1);
        let next_offset = tz.offset_from_utc_datetime(&next.naive_utc()).fix();
        if next_offset.local_minus_utc() != offset {
            let change = first_instant_with(tz, at, next, next_offset.local_minus_utc());
            let info = tz.offset_from_utc_datetime(&change.naive_utc());
            observances.push(Observance {
                start: change.naive_utc() + Duration::seconds(i64::from(offset)),
                from: offset,
                to: next_offset.local_minus_utc(),
                name: info.abbreviation().map(str::to_string),
                daylight: !info.dst_offset().is_zero(),
            });
            offset = next_offset.local_minus_utc();
        }
        at = next;
    }

    // The offset before the first change is that change's TZOFFSETFROM: the first
    // observance, there only to cover the start, is needed only when nothing changes.
    if observances.len() > 1 {
        observances.remove(0);
    }

    let mut lines = vec![
        ("BEGIN".to_string(), "VTIMEZONE".to_string()),
        ("TZID".to_string(), tz.name().to_string()),
    ];
    for o in observances {
        let kind = if o.daylight { "DAYLIGHT" } else { "STANDARD" };
        lines.push(("BEGIN".into(), kind.into()));
        lines.push((
            "DTSTART".into(),
            o.start.format("%Y%m%dT%H%M%S").to_string(),
        ));
        lines.push(("TZOFFSETFROM".into(), utc_offset(o.from)));
        lines.push(("TZOFFSETTO".into(), utc_offset(o.to)));
        // Abbreviations such as "+11" are numbers, not names: left out.
        if let Some(name) = o
            .name
            .filter(|n| n.chars().any(|c| c.is_ascii_alphabetic()))
        {
            lines.push(("TZNAME".into(), name));
        }
        lines.push(("END".into(), kind.into()));
    }
    lines.push(("END".into(), "VTIMEZONE".into()));
    lines
}

/// The first second after `before` (and at most `after`) whose offset is `offset`.
fn first_instant_with(
    tz: Tz,
    before: DateTime<Utc>,
    after: DateTime<Utc>,
    offset: i32,
) -> DateTime<Utc> {
    let (mut lo, mut hi) = (before, after);
    while hi - lo > Duration::seconds(1) {
        let mid = lo + (hi - lo) / 2;
        if tz
            .offset_from_utc_datetime(&mid.naive_utc())
            .fix()
            .local_minus_utc()
            == offset
        {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// `+0100`, `-0300`, `+0530` (seconds only when there are any, as RFC 5545 allows).
fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if sec == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{sec:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn paris_changes_on_the_last_sundays_of_march_and_october() {
        let lines = vtimezone(chrono_tz::Europe::Paris, d(2026, 9, 1), d(2027, 7, 3));
        let text: Vec<String> = lines.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        let text = text.join("\n");
        assert!(text.contains("TZID:Europe/Paris"), "{text}");
        // Summer time ends on 25 October 2026 at 03:00 (summer time), starts on 28
        // March 2027 at 02:00 (winter time).
        assert!(
            text.contains(
                "BEGIN:STANDARD\nDTSTART:20261025T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nTZNAME:CET"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "BEGIN:DAYLIGHT\nDTSTART:20270328T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\nTZNAME:CEST"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_zone_without_summer_time_has_one_observance() {
        let lines = vtimezone(chrono_tz::Indian::Reunion, d(2026, 8, 20), d(2027, 7, 3));
        let begins = lines
            .iter()
            .filter(|(k, v)| k == "BEGIN" && v == "STANDARD")
            .count();
        assert_eq!(begins, 1, "{lines:?}");
        assert!(lines.contains(&("TZOFFSETTO".to_string(), "+0400".to_string())));
    }
}
