//! SIECLE student exports: BEE `ElevesSansAdresses.xml`, the file every French
//! secondary school extracts from SIECLE (Base Élèves Établissement).
//!
//! Layout (as the BEE export writes it; documented in the SIECLE "exports
//! personnalisables / XML" notes of the Ministry and read by every ENT and vie scolaire
//! tool):
//!
//! ```text
//! BEE_ELEVES
//!   PARAMETRES: UAJ, ANNEE_SCOLAIRE (2026 for 2026-2027), DATE_EXPORT (dd/mm/yyyy), HORODATAGE
//!   DONNEES
//!     ELEVES/ELEVE @ELEVE_ID @ELENOET: ID_NATIONAL (INE), NOM_DE_FAMILLE, NOM_USAGE,
//!       PRENOM, DATE_NAISS (dd/mm/yyyy), CODE_MEF, DATE_ENTREE, DATE_SORTIE
//!     STRUCTURES/STRUCTURES_ELEVE @ELEVE_ID: STRUCTURE (CODE_STRUCTURE, TYPE_STRUCTURE
//!       D for the division, G for a group)
//! ```
//!
//! Divisions and groups the students name are created when the establishment lacks
//! them (SIECLE gives no labels: the code is the name, the level comes from the MEF).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use carnet_domain::enrolment::{DivisionSpec, GroupSpec, Identity, Ine, SchoolYear};
use carnet_domain::Uai;
use chrono::NaiveDate;
use roxmltree::Node;

use crate::report::{ImportError, Location};
use crate::roster::{Roster, Row, StudentRow};
use crate::source::SourceFile;
use crate::xml::{self, at, attribute, children, french_date, text};

pub const FORMAT: &str = "siecle";

/// One ELEVE as read, before its structures are joined.
struct Eleve {
    at: Location,
    ine: Ine,
    last_name: String,
    first_name: String,
    birth_date: NaiveDate,
    mef: Option<String>,
    entered: Option<NaiveDate>,
    left: Option<NaiveDate>,
}

/// Reads a SIECLE export; every problem of the file is listed.
pub fn read(source: &SourceFile, today: NaiveDate) -> Result<Roster, ImportError> {
    let document = xml::parse(source).map_err(|p| ImportError::Invalid(vec![p]))?;
    let root = document.root_element();
    let mut problems = Vec::new();
    if root.tag_name().name() != "BEE_ELEVES" {
        return Err(ImportError::Invalid(vec![source.problem(
            Location::File,
            "root element",
            format!(
                "a SIECLE export starts with <BEE_ELEVES>, this file with <{}>",
                root.tag_name().name()
            ),
        )]));
    }
    let header = at(root, "PARAMETRES");
    let header_at = header.map_or(Location::File, |h| xml::location(&document, h));
    let mut problem = |at: &Location, field: &str, rule: String| {
        problems.push(source.problem(at.clone(), field, rule));
    };
    let uai = match header.and_then(|h| text(h, "UAJ")) {
        Some(code) => match Uai::parse(&code) {
            Ok(uai) => Some(uai),
            Err(e) => {
                problem(&header_at, "UAJ", e.to_string());
                None
            }
        },
        None => {
            problem(
                &header_at,
                "UAJ",
                "the establishment's UAI is missing".into(),
            );
            None
        }
    };
    let year = match header.and_then(|h| text(h, "ANNEE_SCOLAIRE")) {
        Some(y) => match y.parse::<u16>() {
            Ok(first) if (1900..3000).contains(&first) => Some(SchoolYear::starting(first)),
            _ => {
                problem(
                    &header_at,
                    "ANNEE_SCOLAIRE",
                    format!("`{y}` is not a year such as 2026"),
                );
                None
            }
        },
        None => {
            problem(
                &header_at,
                "ANNEE_SCOLAIRE",
                "the school year is missing".into(),
            );
            None
        }
    };
    let as_of = header
        .and_then(|h| text(h, "DATE_EXPORT").or_else(|| text(h, "HORODATAGE")))
        .and_then(|d| french_date(&d))
        .unwrap_or(today);

    let mut eleves: BTreeMap<String, Eleve> = BTreeMap::new();
    let mut order = Vec::new();
    let mut by_ine: HashMap<Ine, Location> = HashMap::new();
    // Every ELEVE_ID of the file, valid student or not, for the structures' references.
    let mut seen: BTreeMap<String, Location> = BTreeMap::new();
    let mut rows = 0;
    for node in at(root, "DONNEES/ELEVES")
        .into_iter()
        .flat_map(|n| children(n, "ELEVE"))
    {
        rows += 1;
        let here = xml::location(&document, node);
        let Some(id) = attribute(node, "ELEVE_ID") else {
            problem(&here, "ELEVE_ID", "the student has no ELEVE_ID".into());
            continue;
        };
        if let Some(first) = seen.get(&id) {
            problem(
                &here,
                "ELEVE_ID",
                format!("ELEVE_ID {id} is used twice (first at {first})"),
            );
            continue;
        }
        seen.insert(id.clone(), here.clone());
        let Some(eleve) = read_eleve(node, &here, &mut problem) else {
            continue;
        };
        if let Some(first) = by_ine.get(&eleve.ine) {
            problem(
                &here,
                "ID_NATIONAL",
                format!("INE {} is given twice (first at {first})", eleve.ine),
            );
            continue;
        }
        by_ine.insert(eleve.ine.clone(), here.clone());
        order.push(id.clone());
        eleves.insert(id, eleve);
    }

    // The structures of each student: one division, any number of groups.
    let mut placed: BTreeMap<String, (Location, Option<String>, Vec<String>)> = BTreeMap::new();
    for node in at(root, "DONNEES/STRUCTURES")
        .into_iter()
        .flat_map(|n| children(n, "STRUCTURES_ELEVE"))
    {
        let here = xml::location(&document, node);
        let Some(id) = attribute(node, "ELEVE_ID") else {
            problem(&here, "ELEVE_ID", "the structures name no student".into());
            continue;
        };
        if !seen.contains_key(&id) {
            problem(
                &here,
                "ELEVE_ID",
                format!("no ELEVE of the file has ELEVE_ID {id}"),
            );
            continue;
        }
        if placed.contains_key(&id) {
            problem(
                &here,
                "ELEVE_ID",
                format!("the structures of ELEVE_ID {id} are given twice"),
            );
            continue;
        }
        let (division, groups) = read_structures(node, &document, &mut problem);
        placed.insert(id, (here, division, groups));
    }
    if !problems.is_empty() {
        return Err(ImportError::Invalid(problems));
    }
    let (Some(uai), Some(year)) = (uai, year) else {
        return Err(ImportError::Invalid(problems));
    };

    let year_starts = NaiveDate::from_ymd_opt(i32::from(year.first_year()), 9, 1).unwrap_or(as_of);
    let mut notes = Vec::new();
    let mut students = Vec::new();
    let mut divisions: BTreeMap<String, (Location, Option<String>)> = BTreeMap::new();
    let mut groups: BTreeMap<String, (Location, BTreeSet<String>)> = BTreeMap::new();
    for id in order {
        let Some(eleve) = eleves.remove(&id) else {
            continue;
        };
        if eleve.left.is_some_and(|left| left < year_starts) {
            notes.push(format!(
                "{}: {} left before {year}: not imported",
                eleve.at, eleve.ine
            ));
            continue;
        }
        let Some((_, Some(division), student_groups)) = placed.remove(&id) else {
            notes.push(format!(
                "{}: {} has no division yet: not imported",
                eleve.at, eleve.ine
            ));
            continue;
        };
        divisions
            .entry(division.clone())
            .or_insert_with(|| (eleve.at.clone(), eleve.mef.clone()));
        for g in &student_groups {
            groups
                .entry(g.clone())
                .or_insert_with(|| (eleve.at.clone(), BTreeSet::new()))
                .1
                .insert(division.clone());
        }
        students.push(Row {
            at: eleve.at,
            value: StudentRow {
                identity: Identity {
                    ine: eleve.ine,
                    last_name: eleve.last_name,
                    first_name: eleve.first_name,
                    birth_date: eleve.birth_date,
                },
                division,
                groups: student_groups,
                entered: eleve.entered,
                left: eleve.left,
            },
        });
    }
    Ok(Roster {
        format: FORMAT,
        uai,
        year,
        as_of,
        header: header_at,
        subjects: Vec::new(),
        divisions: divisions
            .into_iter()
            .map(|(code, (at, mef))| Row {
                at,
                value: DivisionSpec {
                    level: crate::mef::level(mef.as_deref(), None, &code),
                    name: code.clone(),
                    id: code,
                },
            })
            .collect(),
        groups: groups
            .into_iter()
            .map(|(code, (at, divisions))| Row {
                at,
                value: GroupSpec {
                    name: code.clone(),
                    partition: code.clone(),
                    divisions: divisions.into_iter().collect(),
                    id: code,
                },
            })
            .collect(),
        staff: None,
        services: None,
        students: Some(students),
        guardians: None,
        guardians_of: Vec::new(),
        // SIECLE's ids (ELEVE_ID, ELENOET) are the file's own and the INE is already the
        // student's Carnet id: the identifier an ENT signs people in with is not here.
        external_ids: Vec::new(),
        contacts: None,
        rows,
        notes,
    })
}

fn read_eleve(
    node: Node<'_, '_>,
    here: &Location,
    problem: &mut impl FnMut(&Location, &str, String),
) -> Option<Eleve> {
    let ine = match text(node, "ID_NATIONAL") {
        Some(ine) => Ine::parse(&ine).map_err(|e| problem(here, "ID_NATIONAL", e.to_string())),
        None => {
            problem(here, "ID_NATIONAL", "the student has no INE".into());
            Err(())
        }
    };
    let last_name = text(node, "NOM_USAGE")
        .or_else(|| text(node, "NOM_DE_FAMILLE"))
        .or_else(|| text(node, "NOM"));
    if last_name.is_none() {
        problem(
            here,
            "NOM_DE_FAMILLE",
            "the student has no last name".into(),
        );
    }
    let first_name = text(node, "PRENOM");
    if first_name.is_none() {
        problem(here, "PRENOM", "the student has no first name".into());
    }
    let birth_date = date(node, "DATE_NAISS", here, problem, true);
    let entered = date(node, "DATE_ENTREE", here, problem, false);
    let left = date(node, "DATE_SORTIE", here, problem, false);
    Some(Eleve {
        at: here.clone(),
        ine: ine.ok()?,
        last_name: last_name?,
        first_name: first_name?,
        birth_date: birth_date.ok()??,
        mef: text(node, "CODE_MEF"),
        entered: entered.ok()?,
        left: left.ok()?,
    })
}

/// A `dd/mm/yyyy` date of `node`: `Err` when malformed (a problem is recorded), `Ok(None)`
/// when absent (a problem too if `required`).
#[allow(clippy::result_unit_err)]
fn date(
    node: Node<'_, '_>,
    field: &'static str,
    here: &Location,
    problem: &mut impl FnMut(&Location, &str, String),
    required: bool,
) -> Result<Option<NaiveDate>, ()> {
    match text(node, field) {
        Some(value) => match french_date(&value) {
            Some(date) => Ok(Some(date)),
            None => {
                problem(
                    here,
                    field,
                    format!("`{value}` is not a date written dd/mm/yyyy"),
                );
                Err(())
            }
        },
        None if required => {
            problem(here, field, "the date is missing".into());
            Err(())
        }
        None => Ok(None),
    }
}

fn read_structures(
    node: Node<'_, '_>,
    document: &xml::Document<'_>,
    problem: &mut impl FnMut(&Location, &str, String),
) -> (Option<String>, Vec<String>) {
    let mut division: Option<String> = None;
    let mut groups = Vec::new();
    for structure in children(node, "STRUCTURE") {
        let here = xml::location(document, structure);
        let Some(code) = text(structure, "CODE_STRUCTURE") else {
            problem(&here, "CODE_STRUCTURE", "the structure has no code".into());
            continue;
        };
        match text(structure, "TYPE_STRUCTURE").as_deref() {
            // SIECLE parks students who have left in a pseudo-division.
            Some("D") if code.eq_ignore_ascii_case("Inactifs") => {}
            Some("D") => match &division {
                Some(first) if *first != code => problem(
                    &here,
                    "TYPE_STRUCTURE",
                    format!("a student is in one division: {first} and {code} are given"),
                ),
                _ => division = Some(code),
            },
            Some("G") => {
                if !groups.contains(&code) {
                    groups.push(code);
                }
            }
            other => problem(
                &here,
                "TYPE_STRUCTURE",
                format!(
                    "`{}` is neither D (division) nor G (group)",
                    other.unwrap_or("")
                ),
            ),
        }
    }
    (division, groups)
}
