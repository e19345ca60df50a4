//! The year-end rollover (passage à l'année suivante) as one plan: the next year with its
//! divisions and groups, and a decision for every student (goes on to a division, or
//! leaves). The plan turns into commands: one for the establishment, one per student.
//! Every one of them records nothing when it was already carried out, so the whole
//! rollover can be run again after an interruption, or twice by mistake, safely.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::establishment::{
    DivisionSpec, EstablishmentCommand, EstablishmentError, GroupSpec, YearSpec,
};
use super::ids::SchoolYear;
use super::student::StudentCommand;

/// What becomes of one student.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Goes on (or repeats the year: redoublement) in a division of the next year.
    Continue {
        division: String,
        groups: Vec<String>,
    },
    /// Leaves the establishment at the end of the year (lycée, move, ...).
    Leave { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollover {
    pub from: SchoolYear,
    /// The last day of the year being closed: leavers' last day.
    pub from_last_day: NaiveDate,
    pub next: YearSpec,
    pub divisions: Vec<DivisionSpec>,
    pub groups: Vec<GroupSpec>,
    /// By student id.
    pub decisions: BTreeMap<String, Decision>,
}

impl Rollover {
    /// Checks that every student goes on to a division of the plan and to groups drawn
    /// from it; returns every problem, not only the first.
    pub fn check(&self) -> Vec<EstablishmentError> {
        let mut problems = Vec::new();
        for decision in self.decisions.values() {
            let Decision::Continue { division, groups } = decision else {
                continue;
            };
            if !self.divisions.iter().any(|d| &d.id == division) {
                problems.push(EstablishmentError::UnknownDivision {
                    year: self.next.year.clone(),
                    division: division.clone(),
                });
            }
            for group in groups {
                let drawn = self
                    .groups
                    .iter()
                    .any(|g| &g.id == group && g.divisions.contains(division));
                if !drawn {
                    problems.push(EstablishmentError::UnknownGroup {
                        year: self.next.year.clone(),
                        group: format!("{group} (division {division})"),
                    });
                }
            }
        }
        problems
    }

    pub fn establishment_command(&self) -> EstablishmentCommand {
        EstablishmentCommand::RollOverYear {
            from: self.from.clone(),
            next: self.next.clone(),
            divisions: self.divisions.clone(),
            groups: self.groups.clone(),
        }
    }

    /// One command per student, in student order.
    pub fn student_commands(&self) -> Vec<(String, StudentCommand)> {
        self.decisions
            .iter()
            .map(|(student, decision)| {
                let command = match decision {
                    Decision::Continue { division, groups } => StudentCommand::Promote {
                        year: self.next.year.clone(),
                        division: division.clone(),
                        groups: groups.clone(),
                        on: self.next.first_day,
                    },
                    Decision::Leave { reason } => StudentCommand::LeaveAtYearEnd {
                        last_day: self.from_last_day,
                        reason: reason.clone(),
                    },
                };
                (student.clone(), command)
            })
            .collect()
    }
}
