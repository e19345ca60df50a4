//! The socle commun de connaissances, de compétences et de culture: the eight components
//! whose mastery is assessed at the end of each cycle, and the points they give towards
//! the diplôme national du brevet at the end of cycle 4.
//!
//! Source: décret n° 2015-372 (the socle's five domains, domain 1 in four components);
//! arrêté du 31 décembre 2015 modifié (the bilan de fin de cycle); arrêté du 27 novembre
//! 2018 (brevet: 10, 25, 40 or 50 points per component, 400 in all). The codes are those
//! of the Livret scolaire unique.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::grades::Level;

/// A component of the socle commun.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Component {
    /// Domain 1: comprendre, s'exprimer en utilisant la langue française à l'oral et à l'écrit.
    French,
    /// Domain 1: une langue étrangère et, le cas échéant, une langue régionale.
    ForeignLanguages,
    /// Domain 1: les langages mathématiques, scientifiques et informatiques.
    ScientificLanguages,
    /// Domain 1: les langages des arts et du corps.
    ArtsAndBody,
    /// Domain 2: les méthodes et outils pour apprendre.
    MethodsAndTools,
    /// Domain 3: la formation de la personne et du citoyen.
    Citizenship,
    /// Domain 4: les systèmes naturels et les systèmes techniques.
    NaturalAndTechnical,
    /// Domain 5: les représentations du monde et l'activité humaine.
    WorldAndHumanity,
}

impl Component {
    pub const ALL: [Component; 8] = [
        Component::French,
        Component::ForeignLanguages,
        Component::ScientificLanguages,
        Component::ArtsAndBody,
        Component::MethodsAndTools,
        Component::Citizenship,
        Component::NaturalAndTechnical,
        Component::WorldAndHumanity,
    ];

    /// The code the LSU gives the component.
    pub fn lsu_code(self) -> &'static str {
        match self {
            Component::French => "CPD_FRA",
            Component::ForeignLanguages => "CPD_ETR",
            Component::ScientificLanguages => "CPD_SCI",
            Component::ArtsAndBody => "CPD_ART",
            Component::MethodsAndTools => "MET_APP",
            Component::Citizenship => "FRM_CIT",
            Component::NaturalAndTechnical => "SYS_NAT",
            Component::WorldAndHumanity => "REP_MND",
        }
    }

    pub fn from_lsu_code(code: &str) -> Option<Component> {
        Component::ALL.into_iter().find(|c| c.lsu_code() == code)
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            Component::French => {
                "Comprendre, s'exprimer en utilisant la langue française à l'oral et à l'écrit"
            }
            Component::ForeignLanguages => {
                "Comprendre, s'exprimer en utilisant une langue étrangère et, le cas échéant, une langue régionale"
            }
            Component::ScientificLanguages => {
                "Comprendre, s'exprimer en utilisant les langages mathématiques, scientifiques et informatiques"
            }
            Component::ArtsAndBody => {
                "Comprendre, s'exprimer en utilisant les langages des arts et du corps"
            }
            Component::MethodsAndTools => "Les méthodes et outils pour apprendre",
            Component::Citizenship => "La formation de la personne et du citoyen",
            Component::NaturalAndTechnical => "Les systèmes naturels et les systèmes techniques",
            Component::WorldAndHumanity => "Les représentations du monde et l'activité humaine",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Component::French => "Understanding and expressing oneself in French",
            Component::ForeignLanguages => {
                "Understanding and expressing oneself in a foreign or regional language"
            }
            Component::ScientificLanguages => "Mathematical, scientific and computing languages",
            Component::ArtsAndBody => "The languages of the arts and of the body",
            Component::MethodsAndTools => "Methods and tools for learning",
            Component::Citizenship => "The education of the person and the citizen",
            Component::NaturalAndTechnical => "Natural and technical systems",
            Component::WorldAndHumanity => "Representations of the world and human activity",
        }
    }
}

/// The cycle a bilan de fin de cycle closes: cycle 3 ends in 6e, cycle 4 in 3e.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Cycle {
    Three,
    Four,
}

impl Cycle {
    pub fn number(self) -> u8 {
        match self {
            Cycle::Three => 3,
            Cycle::Four => 4,
        }
    }

    /// The cycle a level ends, if it ends one: `6e` ends cycle 3, `3e` ends cycle 4.
    pub fn ended_by(level: &str) -> Option<Cycle> {
        match level.trim().to_lowercase().as_str() {
            "6e" | "6eme" | "6ème" | "sixième" => Some(Cycle::Three),
            "3e" | "3eme" | "3ème" | "troisième" => Some(Cycle::Four),
            _ => None,
        }
    }
}

/// The points a level of mastery gives towards the brevet, for each component.
pub fn brevet_points(level: Level) -> u16 {
    match level {
        Level::Insufficient => 10,
        Level::Fragile => 25,
        Level::Satisfactory => 40,
        Level::VeryGood => 50,
    }
}

/// The brevet points of an end-of-cycle-4 assessment (out of 400), once every one of the
/// eight components has its level; `None` before.
pub fn brevet_total(levels: &BTreeMap<Component, Level>) -> Option<u16> {
    Component::ALL
        .iter()
        .map(|c| levels.get(c).map(|l| brevet_points(*l)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_brevet_counts_four_hundred_points_at_most() {
        let all = |level| Component::ALL.iter().map(|c| (*c, level)).collect();
        assert_eq!(brevet_total(&all(Level::VeryGood)), Some(400));
        assert_eq!(brevet_total(&all(Level::Insufficient)), Some(80));
        let mut some: BTreeMap<_, _> = all(Level::Satisfactory);
        some.remove(&Component::ArtsAndBody);
        assert_eq!(brevet_total(&some), None, "every component counts");
    }

    #[test]
    fn components_have_their_lsu_codes() {
        for c in Component::ALL {
            assert_eq!(Component::from_lsu_code(c.lsu_code()), Some(c));
        }
        assert_eq!(Cycle::ended_by("3e"), Some(Cycle::Four));
        assert_eq!(Cycle::ended_by("6e"), Some(Cycle::Three));
        assert_eq!(Cycle::ended_by("4e"), None);
    }
}
