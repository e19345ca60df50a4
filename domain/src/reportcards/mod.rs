//! Report cards (bulletins) as French schools make them: the competence framework and
//! the socle commun, the appreciations, the class council's decisions, the end-of-cycle
//! assessment and the bulletins issued with a verification code.
//!
//! Marks, averages and the assessment of competence items live with the evaluations, in
//! [`crate::grades`]; this context holds what the class council adds to them.

mod council;
mod framework;
pub mod socle;
mod team;

pub use council::{
    ClassCouncil, CouncilCommand, CouncilError, CouncilEvent, Decision, EndOfCycle, Issued,
    Override, StudentReport, Team, Topic, Written, GENERAL_APPRECIATION_MAX,
    SUBJECT_APPRECIATION_MAX, SYNTHESIS_MAX, VIE_SCOLAIRE_APPRECIATION_MAX,
};
pub use framework::{CompetenceFramework, FrameworkCommand, FrameworkError, FrameworkEvent, Item};
pub use socle::{brevet_points, brevet_total, Component, Cycle};
