//! The legal guardians of the establishment's students, from the students'
//! ENTElevePersRelEleve (or, in older files, ENTEleveAutoriteParentale) and the
//! PersRelEleve records that name them.

use std::collections::{BTreeMap, BTreeSet};

use carnet_domain::enrolment::{GuardianRights, Ine};

use super::{GuardianRows, Reader};
use crate::aaf::records::{Kind, Record};
use crate::roster::{GuardianRow, Holder, Row};

/// A person a student's record names, and how.
struct Link {
    person: String,
    legal: bool,
    relationship: &'static str,
    attr: &'static str,
}

const PERS_REL_ELEVE: &str = "ENTElevePersRelEleve";
const AUTORITE: &str = "ENTEleveAutoriteParentale";

/// The relationship a lien code names: the AAF's own (1 to 7) or SIECLE's BCN codes.
fn relationship(code: &str) -> &'static str {
    match code.trim() {
        "1" | "20" => "père",
        "2" | "10" => "mère",
        "3" | "50" => "tuteur",
        "4" | "39" => "autre membre de la famille",
        "5" | "51" => "aide sociale à l'enfance",
        "6" | "90" => "autre lien",
        "7" | "70" => "élève lui-même",
        "37" => "fratrie",
        "38" => "ascendant",
        "41" => "éducateur",
        "42" => "assistant familial",
        "43" => "garde d'enfant",
        _ => "responsable légal",
    }
}

/// The persons `student` names, each once (legal when any of its mentions is).
fn links(r: &mut Reader<'_>, student: &Record) -> Vec<Link> {
    let mut links: BTreeMap<String, Link> = BTreeMap::new();
    for value in student.values(PERS_REL_ELEVE) {
        let fields: Vec<&str> = value.split('$').map(str::trim).collect();
        if fields.len() < 4 || fields[0].is_empty() {
            let rule =
                format!("`{value}` is not PERSON$LIEN$RESP_FINANCIER$RESP_LEGAL$CONTACT$PAIEMENT");
            r.problem(student, PERS_REL_ELEVE, rule);
            continue;
        }
        let legal = match fields[3] {
            "1" | "2" => true,
            "0" | "" => false,
            other => {
                let rule = format!(
                    "RESP_LEGAL `{other}` of `{value}` is not 1 or 2 (a legal guardian) or 0 \
                     (another person)"
                );
                r.problem(student, PERS_REL_ELEVE, rule);
                continue;
            }
        };
        let link = Link {
            person: fields[0].to_string(),
            legal,
            relationship: relationship(fields[1]),
            attr: PERS_REL_ELEVE,
        };
        match links.get(&link.person) {
            Some(known) if known.legal || !legal => {}
            _ => {
                links.insert(link.person.clone(), link);
            }
        }
    }
    if student.values(PERS_REL_ELEVE).is_empty() {
        for person in student.values(AUTORITE) {
            let of = |attr: &str| student.values(attr).iter().any(|p| p == person);
            let relationship = if of("ENTElevePere") {
                "père"
            } else if of("ENTEleveMere") {
                "mère"
            } else {
                "responsable légal"
            };
            let link = Link {
                person: person.clone(),
                legal: true,
                relationship,
                attr: AUTORITE,
            };
            links.insert(person.clone(), link);
        }
    }
    links.into_values().collect()
}

/// The legal guardians of the `admitted` students (Eleve record index, INE), linked with
/// every right; other persons are counted in the notes.
pub(super) fn read(
    r: &mut Reader<'_>,
    records: &[Record],
    admitted: &[(usize, Ine)],
) -> GuardianRows {
    let mut persons: BTreeMap<&str, &Record> = BTreeMap::new();
    for record in records.iter().filter(|r| r.kind == Kind::PersRelEleve) {
        if persons.insert(&record.id, record).is_some() {
            r.problem(record, "identifier", "the person is given twice");
        }
    }
    let mut rows = Vec::new();
    let mut names: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut others = 0;
    for (index, ine) in admitted {
        let student = &records[*index];
        for link in links(r, student) {
            if !link.legal {
                others += 1;
                continue;
            }
            let Some(person) = persons.get(link.person.as_str()).copied() else {
                let rule = format!(
                    "guardian {} is not among the export's PersRelEleve records",
                    link.person
                );
                r.problem(student, link.attr, rule);
                continue;
            };
            let guardian = format!("aaf-resp-{}", person.id);
            let name = match names.get(&person.id) {
                Some(name) => name.clone(),
                None => {
                    let name = r.name(person);
                    if name.is_some() {
                        r.link_ids(person, Holder::Guardian(guardian.clone()));
                    }
                    names.insert(person.id.clone(), name.clone());
                    name
                }
            };
            let Some(name) = name else {
                continue;
            };
            rows.push(Row {
                at: r.row_at(student),
                value: GuardianRow {
                    student: ine.clone(),
                    guardian,
                    name,
                    relationship: link.relationship.to_string(),
                    rights: GuardianRights::FULL,
                },
            });
        }
    }
    if others > 0 {
        r.notes.push(format!(
            "{others} contact or other persons (RESP_LEGAL 0) have no rights on the students: \
             not linked"
        ));
    }
    let linked: BTreeSet<&String> = names.keys().collect();
    let unlinked = persons
        .keys()
        .filter(|id| !linked.contains(&id.to_string()))
        .count();
    if unlinked > 0 {
        r.notes.push(format!(
            "{unlinked} PersRelEleve records are no legal guardian of the establishment's \
             students (other establishments, contacts): left aside"
        ));
    }
    rows
}
