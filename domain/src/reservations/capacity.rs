//! The exact count of what is held at each instant.
//!
//! Checking bookings two by two is not enough: three bookings of 10 tablets out of 25 may
//! overlap pairwise without ever being held all at once (9–10, 9:30–11, 10–11:30), or be
//! held all at once although no two of them alone exceed the pool. So every check sweeps
//! the start and end points of the holds in time order and keeps a running total.

use chrono::NaiveDateTime;

/// A quantity held from `start` (included) to `end` (excluded): a booking ending at 10:00
/// and one starting at 10:00 never hold at the same instant.
pub(crate) type Hold = (NaiveDateTime, NaiveDateTime, u32);

/// Start and end points of `holds` clipped to `[from, to)`, in the order the sweep reads
/// them: by time, and at one instant releases before takes, so that an end at 10:00 frees
/// its quantity for a start at 10:00.
fn points(
    holds: impl IntoIterator<Item = Hold>,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Vec<(NaiveDateTime, i64)> {
    let mut points = Vec::new();
    for (start, end, quantity) in holds {
        let (start, end) = (start.max(from), end.min(to));
        if start < end {
            points.push((start, i64::from(quantity)));
            points.push((end, -i64::from(quantity)));
        }
    }
    points.sort_unstable();
    points
}

/// The highest total held at one instant of `[from, to)` and the first instant it is
/// reached (`from` when nothing is held).
pub(crate) fn peak(
    holds: impl IntoIterator<Item = Hold>,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> (u64, NaiveDateTime) {
    let (mut load, mut best, mut at) = (0_i64, 0_i64, from);
    for (instant, delta) in points(holds, from, to) {
        load += delta;
        if load > best {
            best = load;
            at = instant;
        }
    }
    (u64::try_from(best).unwrap_or(0), at)
}

/// Every instant at which a hold starts while the total exceeds `capacity`: the holds
/// covering these instants are the ones that do not fit.
pub(crate) fn overloads(
    holds: impl IntoIterator<Item = Hold>,
    capacity: u32,
) -> Vec<(NaiveDateTime, u64)> {
    let (mut load, mut found) = (0_i64, Vec::new());
    for (instant, delta) in points(holds, NaiveDateTime::MIN, NaiveDateTime::MAX) {
        load += delta;
        if delta > 0 && load > i64::from(capacity) {
            found.push((instant, u64::try_from(load).unwrap_or(0)));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 10)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .unwrap()
    }

    #[test]
    fn pairwise_overlaps_are_not_simultaneous() {
        let holds = [
            (at(9, 0), at(10, 0), 10),
            (at(9, 30), at(11, 0), 10),
            (at(10, 0), at(11, 30), 10),
        ];
        assert_eq!(peak(holds, at(8, 0), at(12, 0)), (20, at(9, 30)));
        assert!(overloads(holds, 20).is_empty());
        assert_eq!(overloads(holds, 19), [(at(9, 30), 20), (at(10, 0), 20)]);
    }

    #[test]
    fn an_end_frees_its_quantity_for_a_start_at_the_same_instant() {
        let holds = [(at(9, 0), at(10, 0), 3), (at(10, 0), at(11, 0), 3)];
        assert_eq!(peak(holds, at(8, 0), at(12, 0)).0, 3);
        assert_eq!(peak(holds, at(10, 0), at(10, 30)), (3, at(10, 0)));
        assert_eq!(peak(holds, at(11, 0), at(12, 0)), (0, at(11, 0)));
    }
}
