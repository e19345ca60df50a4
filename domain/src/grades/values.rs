//! The marks a teacher can give.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What a student got on an evaluation: a score, or one of the special marks of French
/// gradebooks (the codes are those of Pronote and the ENTs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mark {
    /// A score on the evaluation's scale, e.g. 14.5 on /20.
    Score(Decimal),
    /// ABS: absent. Excluded from averages.
    Absent,
    /// DISP: exempted (dispensé). Excluded from averages.
    Exempted,
    /// NN: not graded (non noté). Excluded from averages.
    NotGraded,
    /// NR: not handed in (non rendu). Counts as 0 or is excluded, as the evaluation says.
    NotHandedIn,
}

impl std::fmt::Display for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mark::Score(score) => write!(f, "{}", score.normalize()),
            Mark::Absent => f.write_str("ABS"),
            Mark::Exempted => f.write_str("DISP"),
            Mark::NotGraded => f.write_str("NN"),
            Mark::NotHandedIn => f.write_str("NR"),
        }
    }
}

/// How an evaluation counts the work a student did not hand in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotHandedIn {
    /// NR counts as 0 in the averages (the usual rule for homework).
    #[default]
    CountsAsZero,
    /// NR is left out of the averages, like ABS.
    Excluded,
}
