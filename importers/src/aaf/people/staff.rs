//! The establishment's staff among the PersEducNat records, with the roles of their
//! functions there.

use std::collections::BTreeSet;

use carnet_domain::enrolment::Role;

use super::{role_of, Reader, StaffRows};
use crate::aaf::records::{Kind, Record};
use crate::roster::{Holder, Row, StaffRow};

const FONCTIONS: &str = "ENTPersonFonctions";

/// A function of ENTPersonFonctions: its code and label, and whether it is in the
/// establishment.
struct Function {
    here: bool,
    code: String,
    named: String,
}

/// The functions of `record`.
fn functions(r: &mut Reader<'_>, record: &Record) -> Vec<Function> {
    let mut functions = Vec::new();
    for value in record.values(FONCTIONS) {
        let shape = "STRUCTURE$CODE$LABEL$DISCIPLINE$DISCIPLINE_LABEL";
        let Some(fields) = r.fields(record, FONCTIONS, value, 2, shape) else {
            continue;
        };
        let label = fields.get(2).filter(|l| !l.is_empty());
        functions.push(Function {
            here: r.ours(record, FONCTIONS, fields[0]),
            code: fields[1].to_string(),
            named: match label {
                Some(label) => format!("{} ({label})", fields[1]),
                None => fields[1].to_string(),
            },
        });
    }
    functions
}

/// The roles of `record` in the establishment, the functions they come from, and
/// whether the person is of it: the roles of their functions there, or, for someone
/// attached to it (ENTPersonStructRattach) with no function there, of their functions
/// wherever; anyone teaching a class there is a teacher.
fn roles(r: &mut Reader<'_>, record: &Record) -> (BTreeSet<Role>, Vec<String>, bool) {
    let functions = functions(r, record);
    let mut here = functions.iter().any(|f| f.here);
    let attached = r.attached_here(record);
    let counted: Vec<&Function> = functions
        .iter()
        .filter(|f| f.here || (attached && !here))
        .collect();
    let mut roles: BTreeSet<Role> = counted.iter().filter_map(|f| role_of(&f.code)).collect();
    let mut named: Vec<String> = Vec::new();
    for f in &counted {
        if !named.contains(&f.named) {
            named.push(f.named.clone());
        }
    }
    for attr in ["ENTAuxEnsClassesMatieres", "ENTAuxEnsGroupesMatieres"] {
        if r.codes_here(record, attr).1 {
            roles.insert(Role::Teacher);
            here = true;
        }
    }
    (roles, named, here || attached)
}

/// The members of staff of the establishment; those without a role Carnet has are named
/// in the notes.
pub(super) fn read(r: &mut Reader<'_>, records: &[Record]) -> StaffRows {
    let mut rows = Vec::new();
    let mut seen = BTreeSet::new();
    let mut elsewhere = 0;
    for record in records.iter().filter(|r| r.kind == Kind::PersEducNat) {
        let (roles, named, here) = roles(r, record);
        if !here {
            elsewhere += 1;
            continue;
        }
        if !seen.insert(record.id.clone()) {
            r.problem(record, "identifier", "the person is given twice");
            continue;
        }
        let Some(name) = r.name(record) else {
            continue;
        };
        let id = format!("aaf-{}", record.id);
        if roles.is_empty() {
            let functions = if named.is_empty() {
                "no function".to_string()
            } else {
                format!("function {}", named.join(", "))
            };
            let at = r.row_at(record);
            r.notes.push(format!(
                "{at}: {id} ({name}) has {functions}, which Carnet has no role for: not imported"
            ));
            continue;
        }
        r.link_ids(record, Holder::Staff(id.clone()));
        rows.push(Row {
            at: r.row_at(record),
            value: StaffRow { id, name, roles },
        });
    }
    if elsewhere > 0 {
        r.notes.push(format!(
            "{elsewhere} staff of other establishments: left aside"
        ));
    }
    rows
}
