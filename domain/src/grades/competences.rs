//! Competences (compétences): the four levels of mastery French schools assess items at,
//! and the rule that turns a period's assessments into a subject's positioning.
//!
//! The rule, stated once and used everywhere (report cards, the LSU export): an item
//! assessed several times in the period counts once, at the mean of its levels (1 to 4);
//! the positioning is the mean of the items' means, rounded half up to a whole level
//! (2.5 gives 3). Computed in exact decimals, like averages. A teacher may override it
//! on the report card; the override is kept beside the computed value (see
//! `reportcards`).

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::aggregate::Gradebook;

/// A level of mastery (niveau de maîtrise), as the socle commun and the LSU number them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    /// 1: maîtrise insuffisante.
    Insufficient,
    /// 2: maîtrise fragile.
    Fragile,
    /// 3: maîtrise satisfaisante.
    Satisfactory,
    /// 4: très bonne maîtrise.
    VeryGood,
}

impl Level {
    pub const ALL: [Level; 4] = [
        Level::Insufficient,
        Level::Fragile,
        Level::Satisfactory,
        Level::VeryGood,
    ];

    /// 1 to 4, as the LSU writes it.
    pub fn value(self) -> u8 {
        match self {
            Level::Insufficient => 1,
            Level::Fragile => 2,
            Level::Satisfactory => 3,
            Level::VeryGood => 4,
        }
    }

    pub fn from_value(value: u8) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.value() == value)
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            Level::Insufficient => "Maîtrise insuffisante",
            Level::Fragile => "Maîtrise fragile",
            Level::Satisfactory => "Maîtrise satisfaisante",
            Level::VeryGood => "Très bonne maîtrise",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Level::Insufficient => "Insufficient mastery",
            Level::Fragile => "Fragile mastery",
            Level::Satisfactory => "Satisfactory mastery",
            Level::VeryGood => "Very good mastery",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label_fr())
    }
}

/// The levels a student was given on a subject's items in one gradebook, by item, in
/// the order of the evaluations (by date, then id).
pub fn assessments(book: &Gradebook, student: &str, subject: &str) -> Vec<(String, Level)> {
    let mut evaluations: Vec<_> = book
        .evaluations
        .values()
        .filter(|e| e.subject == subject)
        .collect();
    evaluations.sort_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
    evaluations
        .into_iter()
        .filter_map(|e| e.assessments.get(student))
        .flat_map(|entry| entry.levels.iter().map(|(i, l)| (i.clone(), *l)))
        .collect()
}

/// The positioning the rule gives for these assessments (item, level); `None` when
/// there are none.
pub fn positioning<'a>(assessed: impl IntoIterator<Item = &'a (String, Level)>) -> Option<Level> {
    let mut by_item: BTreeMap<&str, (Decimal, Decimal)> = BTreeMap::new();
    for (item, level) in assessed {
        let (sum, count) = by_item.entry(item).or_default();
        *sum += Decimal::from(level.value());
        *count += Decimal::ONE;
    }
    if by_item.is_empty() {
        return None;
    }
    let items = Decimal::from(by_item.len());
    let mean: Decimal = by_item.values().map(|(s, c)| s / c).sum::<Decimal>() / items;
    let whole = mean.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    u8::try_from(whole.mantissa())
        .ok()
        .and_then(Level::from_value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(item: &str, level: Level) -> (String, Level) {
        (item.to_string(), level)
    }

    #[test]
    fn an_item_assessed_twice_counts_once_at_its_mean() {
        // C1: 1 and 4 → 2.5; C2: 4 → 4; mean 3.25 → 3.
        let assessed = [
            a("C1", Level::Insufficient),
            a("C1", Level::VeryGood),
            a("C2", Level::VeryGood),
        ];
        assert_eq!(positioning(&assessed), Some(Level::Satisfactory));
    }

    #[test]
    fn halves_round_up() {
        let assessed = [a("C1", Level::Fragile), a("C2", Level::Satisfactory)];
        assert_eq!(positioning(&assessed), Some(Level::Satisfactory));
        let assessed = [a("C1", Level::Insufficient), a("C2", Level::Fragile)];
        assert_eq!(positioning(&assessed), Some(Level::Fragile));
    }

    #[test]
    fn nothing_assessed_gives_no_positioning() {
        assert_eq!(positioning(&[]), None);
    }

    #[test]
    fn levels_number_one_to_four() {
        for level in Level::ALL {
            assert_eq!(Level::from_value(level.value()), Some(level));
        }
        assert_eq!(Level::from_value(0), None);
        assert_eq!(Level::from_value(5), None);
    }
}
