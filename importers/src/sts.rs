//! STS-Web exports: `sts_emp_<UAI>_<year>.xml`, the establishment's structures, staff
//! and teaching services as STS-Web (Structures et Services) holds them, the file EDT
//! tools and ENTs import each September.
//!
//! Layout (the "export STS-Web pour les logiciels d'emploi du temps" format, root
//! `STS_EDT`):
//!
//! ```text
//! STS_EDT
//!   PARAMETRES: UAJ @CODE, ANNEE_SCOLAIRE @ANNEE, HORODATAGE (dd/mm/yyyy hh:mm:ss)
//!   NOMENCLATURES
//!     MATIERES/MATIERE @CODE (BCN, 6 digits): CODE_GESTION, LIBELLE_COURT, LIBELLE_LONG,
//!       LIBELLE_EDITION
//!     MEFS/MEF @CODE: FORMATION, LIBELLE_LONG
//!   DONNEES
//!     STRUCTURE
//!       DIVISIONS/DIVISION @CODE: LIBELLE_LONG, MEFS_APPARTENANCE/MEF_APPARTENANCE @CODE,
//!         SERVICES/SERVICE @CODE_MATIERE: ENSEIGNANTS/ENSEIGNANT @ID @TYPE
//!       GROUPES/GROUPE @CODE: LIBELLE_LONG, DIVISIONS_APPARTENANCE/DIVISION_APPARTENANCE
//!         @CODE, SERVICES (as above)
//!     INDIVIDUS/INDIVIDU @ID @TYPE: NOM_USAGE, NOM_PATRONYMIQUE, PRENOM, FONCTION
//! ```
//!
//! FONCTION gives the roles: ENS (and DOC, professeur documentaliste) teacher, EDU the
//! CPE, SUR an assistant d'éducation, DIR the direction, ADF/ADM/SEC the secretariat.
//! Anyone a service names teaches. Other functions (health, technical staff) are left
//! aside, each named in the summary.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use carnet_domain::enrolment::{
    ClassRef, DivisionSpec, GroupSpec, Role, SchoolYear, Service, SubjectCode,
};
use carnet_domain::Uai;
use chrono::NaiveDate;
use roxmltree::Node;

use crate::report::{ImportError, Location};
use crate::roster::{Roster, Row, StaffRow, SubjectRow};
use crate::source::SourceFile;
use crate::xml::{self, at, attribute, children, french_date, text, Document};

pub const FORMAT: &str = "sts";

/// The staff id Carnet gives an STS-Web individual.
pub fn staff_id(sts_id: &str) -> String {
    format!("sts-{sts_id}")
}

type Report<'p> = dyn FnMut(&Location, &str, String) + 'p;

/// Reads an STS-Web export; every problem of the file is listed.
pub fn read(source: &SourceFile, today: NaiveDate) -> Result<Roster, ImportError> {
    let document = xml::parse(source).map_err(|p| ImportError::Invalid(vec![p]))?;
    let root = document.root_element();
    if root.tag_name().name() != "STS_EDT" {
        return Err(ImportError::Invalid(vec![source.problem(
            Location::File,
            "root element",
            format!(
                "an STS-Web export starts with <STS_EDT>, this file with <{}>",
                root.tag_name().name()
            ),
        )]));
    }
    let mut problems = Vec::new();
    let mut report = |at: &Location, field: &str, rule: String| {
        problems.push(source.problem(at.clone(), field, rule));
    };
    let header = at(root, "PARAMETRES");
    let header_at = header.map_or(Location::File, |h| xml::location(&document, h));
    let uai = header
        .and_then(|h| at(h, "UAJ"))
        .and_then(|n| attribute(n, "CODE").or_else(|| xml::own_text(n)));
    let uai = match uai.map(|u| Uai::parse(&u)) {
        Some(Ok(uai)) => Some(uai),
        Some(Err(e)) => {
            report(&header_at, "UAJ", e.to_string());
            None
        }
        None => {
            report(
                &header_at,
                "UAJ",
                "the establishment's UAI is missing".into(),
            );
            None
        }
    };
    let year_text = header
        .and_then(|h| at(h, "ANNEE_SCOLAIRE"))
        .and_then(|n| attribute(n, "ANNEE").or_else(|| xml::own_text(n)));
    let year = match year_text.as_deref().map(str::parse::<u16>) {
        Some(Ok(first)) if (1900..3000).contains(&first) => Some(SchoolYear::starting(first)),
        _ => {
            report(
                &header_at,
                "ANNEE_SCOLAIRE",
                format!(
                    "`{}` is not a year such as 2026",
                    year_text.unwrap_or_default()
                ),
            );
            None
        }
    };
    let as_of = header
        .and_then(|h| text(h, "DATE_EXPORT").or_else(|| text(h, "HORODATAGE")))
        .and_then(|d| french_date(&d))
        .unwrap_or(today);

    let subjects = read_subjects(root, &document, &mut report);
    let mefs: HashMap<String, Option<String>> = at(root, "NOMENCLATURES/MEFS")
        .into_iter()
        .flat_map(|n| children(n, "MEF"))
        .filter_map(|m| Some((attribute(m, "CODE")?, text(m, "FORMATION"))))
        .collect();
    let individuals = read_individuals(root, &document, &mut report);

    let mut divisions = Vec::new();
    let mut division_codes = BTreeSet::new();
    let mut services: Vec<Row<Service>> = Vec::new();
    let structure = at(root, "DONNEES/STRUCTURE");
    for node in structure
        .and_then(|s| at(s, "DIVISIONS"))
        .into_iter()
        .flat_map(|n| children(n, "DIVISION"))
    {
        let here = xml::location(&document, node);
        let Some(code) = attribute(node, "CODE") else {
            report(&here, "CODE", "the division has no code".into());
            continue;
        };
        if !division_codes.insert(code.clone()) {
            report(&here, "CODE", format!("division {code} is defined twice"));
            continue;
        }
        let mef = at(node, "MEFS_APPARTENANCE/MEF_APPARTENANCE").and_then(|m| attribute(m, "CODE"));
        let formation = mef.as_ref().and_then(|m| mefs.get(m).cloned().flatten());
        divisions.push(Row {
            at: here.clone(),
            value: DivisionSpec {
                name: text(node, "LIBELLE_LONG").unwrap_or_else(|| code.clone()),
                level: crate::mef::level(mef.as_deref(), formation.as_deref(), &code),
                id: code.clone(),
            },
        });
        read_services(
            node,
            ClassRef::Division(code),
            &document,
            &subjects,
            &individuals,
            &mut services,
            &mut report,
        );
    }
    let mut groups = Vec::new();
    let mut group_codes = BTreeSet::new();
    for node in structure
        .and_then(|s| at(s, "GROUPES"))
        .into_iter()
        .flat_map(|n| children(n, "GROUPE"))
    {
        let here = xml::location(&document, node);
        let Some(code) = attribute(node, "CODE") else {
            report(&here, "CODE", "the group has no code".into());
            continue;
        };
        if !group_codes.insert(code.clone()) {
            report(&here, "CODE", format!("group {code} is defined twice"));
            continue;
        }
        let mut member_divisions = Vec::new();
        let mut declared = 0;
        for d in at(node, "DIVISIONS_APPARTENANCE")
            .into_iter()
            .flat_map(|n| children(n, "DIVISION_APPARTENANCE"))
        {
            declared += 1;
            match attribute(d, "CODE") {
                Some(c) if division_codes.contains(&c) => member_divisions.push(c),
                Some(c) => report(
                    &xml::location(&document, d),
                    "DIVISION_APPARTENANCE",
                    format!(
                        "group {code} is drawn from division {c}, which the file does not define"
                    ),
                ),
                None => report(
                    &xml::location(&document, d),
                    "DIVISION_APPARTENANCE",
                    "no CODE".into(),
                ),
            }
        }
        if declared == 0 {
            report(
                &here,
                "DIVISIONS_APPARTENANCE",
                format!("group {code} is drawn from no division"),
            );
        }
        groups.push(Row {
            at: here.clone(),
            value: GroupSpec {
                name: text(node, "LIBELLE_LONG").unwrap_or_else(|| code.clone()),
                divisions: member_divisions,
                partition: code.clone(),
                id: code.clone(),
            },
        });
        read_services(
            node,
            ClassRef::Group(code),
            &document,
            &subjects,
            &individuals,
            &mut services,
            &mut report,
        );
    }

    // Whoever a service names teaches, whatever STS-Web calls their function.
    let teaching: BTreeSet<String> = services.iter().map(|s| s.value.teacher.clone()).collect();
    let mut notes = Vec::new();
    let mut staff = Vec::new();
    for (id, person) in &individuals {
        let mut roles = person.roles.clone();
        if teaching.contains(id) {
            roles.insert(Role::Teacher);
        }
        if roles.is_empty() {
            notes.push(format!(
                "{}: {} ({}) has function {}, which Carnet has no role for: not imported",
                person.at,
                id,
                person.name,
                person.function.as_deref().unwrap_or("(none)")
            ));
            continue;
        }
        staff.push(Row {
            at: person.at.clone(),
            value: StaffRow {
                id: id.clone(),
                name: person.name.clone(),
                roles,
            },
        });
    }
    let rows = subjects.len() + divisions.len() + groups.len() + individuals.len() + services.len();
    if !problems.is_empty() {
        return Err(ImportError::Invalid(problems));
    }
    let (Some(uai), Some(year)) = (uai, year) else {
        return Err(ImportError::Invalid(problems));
    };
    Ok(Roster {
        format: FORMAT,
        uai,
        year,
        as_of,
        header: header_at,
        subjects: subjects.into_values().collect(),
        divisions,
        groups,
        staff: Some(staff),
        services: Some(services),
        students: None,
        guardians: None,
        guardians_of: Vec::new(),
        // STS-Web's individu ID is already the staff member's Carnet id (`sts-{ID}`): the
        // identifier an ENT signs people in with (AAF ENTPersonJointure) is not here.
        external_ids: Vec::new(),
        contacts: None,
        rows,
        notes,
    })
}

fn read_subjects(
    root: Node<'_, '_>,
    document: &Document<'_>,
    report: &mut Report<'_>,
) -> BTreeMap<String, Row<SubjectRow>> {
    let mut subjects = BTreeMap::new();
    for node in at(root, "NOMENCLATURES/MATIERES")
        .into_iter()
        .flat_map(|n| children(n, "MATIERE"))
    {
        let here = xml::location(document, node);
        let Some(code_text) = attribute(node, "CODE") else {
            report(&here, "CODE", "the subject has no code".into());
            continue;
        };
        let code = match SubjectCode::parse(&code_text) {
            Ok(code) => code,
            Err(e) => {
                report(&here, "CODE", e.to_string());
                continue;
            }
        };
        if subjects.contains_key(&code_text) {
            report(
                &here,
                "CODE",
                format!("subject {code_text} is defined twice"),
            );
            continue;
        }
        let short = text(node, "CODE_GESTION").or_else(|| text(node, "LIBELLE_COURT"));
        let name = text(node, "LIBELLE_EDITION").or_else(|| text(node, "LIBELLE_LONG"));
        let (Some(short), Some(name)) = (short, name) else {
            report(
                &here,
                "LIBELLE_LONG",
                format!("subject {code_text} has no name"),
            );
            continue;
        };
        subjects.insert(
            code_text,
            Row {
                at: here,
                value: SubjectRow { code, short, name },
            },
        );
    }
    subjects
}

struct Individual {
    at: Location,
    name: String,
    function: Option<String>,
    roles: BTreeSet<Role>,
}

fn read_individuals(
    root: Node<'_, '_>,
    document: &Document<'_>,
    report: &mut Report<'_>,
) -> BTreeMap<String, Individual> {
    let mut individuals = BTreeMap::new();
    for node in at(root, "DONNEES/INDIVIDUS")
        .into_iter()
        .flat_map(|n| children(n, "INDIVIDU"))
    {
        let here = xml::location(document, node);
        let Some(sts_id) = attribute(node, "ID") else {
            report(&here, "ID", "the individual has no ID".into());
            continue;
        };
        let id = staff_id(&sts_id);
        if individuals.contains_key(&id) {
            report(&here, "ID", format!("individual {sts_id} is defined twice"));
            continue;
        }
        let last = text(node, "NOM_USAGE").or_else(|| text(node, "NOM_PATRONYMIQUE"));
        let Some(last) = last else {
            report(
                &here,
                "NOM_USAGE",
                format!("individual {sts_id} has no name"),
            );
            continue;
        };
        let name = match text(node, "PRENOM") {
            Some(first) => format!("{first} {last}"),
            None => last,
        };
        let function = text(node, "FONCTION");
        let roles = function.as_deref().and_then(role_of).into_iter().collect();
        individuals.insert(
            id,
            Individual {
                at: here,
                name,
                function,
                roles,
            },
        );
    }
    individuals
}

/// The Carnet role of an STS-Web function code.
fn role_of(function: &str) -> Option<Role> {
    Some(match function.trim().to_uppercase().as_str() {
        "ENS" | "DOC" => Role::Teacher,
        "EDU" => Role::Cpe,
        "SUR" | "AED" => Role::Aed,
        "DIR" => Role::Principal,
        "ADF" | "ADM" | "SEC" => Role::Secretariat,
        _ => return None,
    })
}

fn read_services(
    node: Node<'_, '_>,
    class: ClassRef,
    document: &Document<'_>,
    subjects: &BTreeMap<String, Row<SubjectRow>>,
    individuals: &BTreeMap<String, Individual>,
    services: &mut Vec<Row<Service>>,
    report: &mut Report<'_>,
) {
    for service in at(node, "SERVICES")
        .into_iter()
        .flat_map(|n| children(n, "SERVICE"))
    {
        let here = xml::location(document, service);
        let subject = match attribute(service, "CODE_MATIERE") {
            Some(code) => match subjects.get(&code) {
                Some(row) => Some(row.value.code.clone()),
                None => {
                    report(
                        &here,
                        "CODE_MATIERE",
                        format!("subject {code} is not among the file's MATIERES"),
                    );
                    None
                }
            },
            None => {
                report(&here, "CODE_MATIERE", "the service names no subject".into());
                None
            }
        };
        for teacher in at(service, "ENSEIGNANTS")
            .into_iter()
            .flat_map(|n| children(n, "ENSEIGNANT"))
        {
            let at_teacher = xml::location(document, teacher);
            let Some(sts_id) = attribute(teacher, "ID") else {
                report(&at_teacher, "ENSEIGNANT", "the teacher has no ID".into());
                continue;
            };
            let id = staff_id(&sts_id);
            if !individuals.contains_key(&id) {
                report(
                    &at_teacher,
                    "ENSEIGNANT",
                    format!("teacher {sts_id} is not among the file's INDIVIDUS"),
                );
                continue;
            }
            let Some(subject) = subject.clone() else {
                continue;
            };
            let value = Service {
                teacher: id,
                subject,
                class: class.clone(),
            };
            if !services.iter().any(|s| s.value == value) {
                services.push(Row {
                    at: at_teacher,
                    value,
                });
            }
        }
    }
}
