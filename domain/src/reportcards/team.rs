//! Who may write on a division's report cards, read from the establishment.

use std::collections::{BTreeMap, BTreeSet};

use crate::enrolment::{ClassRef, Establishment, EstablishmentError, Role, SchoolYear};

use super::council::Team;

impl Team {
    /// The team of `division` in `year` for `period`: the teachers of each subject (by
    /// its short name, as gradebooks name it) who serve the division or one of its
    /// groups, its professeurs principaux, and the establishment's CPEs and heads who
    /// have not left.
    pub fn of(
        establishment: &Establishment,
        year: &SchoolYear,
        division: &str,
        period: &str,
    ) -> Result<Team, EstablishmentError> {
        let y = establishment.year(year)?;
        if !y.divisions.contains_key(division) {
            return Err(EstablishmentError::UnknownDivision {
                year: year.clone(),
                division: division.to_string(),
            });
        }
        let serves = |class: &ClassRef| match class {
            ClassRef::Division(d) => d == division,
            ClassRef::Group(g) => y
                .groups
                .get(g)
                .is_some_and(|g| g.divisions.iter().any(|d| d == division)),
        };
        let mut teachers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for service in y.services.iter().filter(|s| serves(&s.class)) {
            if let Some(subject) = establishment.subjects.get(&service.subject) {
                teachers
                    .entry(subject.short.clone())
                    .or_default()
                    .insert(service.teacher.clone());
            }
        }
        let with_role = |role: Role| -> BTreeSet<String> {
            establishment
                .staff
                .iter()
                .filter(|(_, m)| m.left_on.is_none() && m.roles.contains(&role))
                .map(|(id, _)| id.clone())
                .collect()
        };
        Ok(Team {
            division: division.to_string(),
            period: period.to_string(),
            teachers,
            principal_teachers: y
                .principal_teachers
                .get(division)
                .cloned()
                .unwrap_or_default(),
            cpes: with_role(Role::Cpe),
            heads: with_role(Role::Principal),
        })
    }
}
