//! What the records of an AAF export say of one establishment: its structures, students
//! and their guardians, staff, and the identifiers the ENT knows them by (see the
//! module's documentation for the rules).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use carnet_domain::enrolment::{
    DivisionSpec, ExternalId, GroupSpec, Identity, Ine, Role, SchoolYear,
};
use carnet_domain::Uai;
use chrono::NaiveDate;

use super::records::{Kind, Record};
use super::{Bundle, FORMAT};
use crate::report::{ImportError, Location, Problem};
use crate::roster::{ExternalIdRow, GuardianRow, Holder, Roster, Row, StaffRow, StudentRow};

mod guardians;
mod staff;

/// The scheme of the identifiers the ENT signs people in with.
const JOINTURE: &str = "ENTPersonJointure";
/// The scheme of the AAF's own id of a person (Open ENT NG's `externalId`).
const AAF_ID: &str = "externalId";

/// The records being read, the problems found, and which structures are the
/// establishment's.
struct Reader<'b> {
    bundle: &'b Bundle,
    problems: Vec<Problem>,
    notes: Vec<String>,
    /// The establishment's UAI, as the files write it.
    uai: String,
    /// Structure keys (ENTStructureJointure, record id, UAI) → UAI.
    structures: BTreeMap<String, String>,
    /// Structure keys already found unknown (one problem each).
    unknown: BTreeSet<String>,
    external_ids: Vec<Row<ExternalIdRow>>,
}

impl Reader<'_> {
    /// A problem at attribute `attr` of `record`.
    fn problem(&mut self, record: &Record, attr: &str, rule: impl Display) {
        let file = &self.bundle.files[record.file];
        let rule = format!("{} {}: {rule}", record.kind.name(), record.id);
        self.problems
            .push(file.problem(record.at(attr), attr, rule));
    }

    /// Where `record` stands, for the plan: its file as the element's first name (the
    /// events' provenance names the export, the element the file in it).
    fn row_at(&self, record: &Record) -> Location {
        let file = &self.bundle.files[record.file].name;
        match &record.at {
            Location::Element { path, line } => Location::Element {
                path: format!("{file}: {path}"),
                line: *line,
            },
            other => other.clone(),
        }
    }

    /// Whether the structure `key` (a value's first `$` field) is the establishment.
    /// Without EtabEducNat records, a key must be a UAI: another is a problem, once.
    fn ours(&mut self, record: &Record, attr: &str, key: &str) -> bool {
        let key = key.trim();
        if let Some(uai) = self.structures.get(key) {
            return *uai == self.uai;
        }
        if key.eq_ignore_ascii_case(&self.uai) {
            return true;
        }
        if self.structures.is_empty() && Uai::parse(key).is_err() && self.unknown.insert(key.into())
        {
            self.problem(
                record,
                attr,
                format!(
                    "structure `{key}` is not a UAI: the export names its establishments by \
                     their ENTStructureJointure, which its EtabEducNat file turns into UAIs; \
                     import the export's folder, with its …_EtabEducNat_0000.xml"
                ),
            );
        }
        false
    }

    /// The `$`-separated fields of a value of `attr`, when it has at least `least`.
    fn fields<'v>(
        &mut self,
        record: &Record,
        attr: &str,
        value: &'v str,
        least: usize,
        shape: &str,
    ) -> Option<Vec<&'v str>> {
        let fields: Vec<&str> = value.split('$').map(str::trim).collect();
        if fields.len() < least || fields[..least].iter().any(|f| f.is_empty()) {
            self.problem(record, attr, format!("`{value}` is not {shape}"));
            return None;
        }
        Some(fields)
    }

    /// The codes (second field) of the values of `attr` (`STRUCTURE$CODE...`) in the
    /// establishment, and whether any value is of it.
    fn codes_here(&mut self, record: &Record, attr: &str) -> (Vec<String>, bool) {
        let mut codes = Vec::new();
        let mut here = false;
        for value in record.values(attr) {
            let Some(fields) = self.fields(record, attr, value, 2, "STRUCTURE$CODE") else {
                continue;
            };
            if self.ours(record, attr, fields[0]) {
                here = true;
                if !codes.iter().any(|c| c == fields[1]) {
                    codes.push(fields[1].to_string());
                }
            }
        }
        (codes, here)
    }

    /// Whether a value of ENTPersonStructRattach is the establishment.
    fn attached_here(&mut self, record: &Record) -> bool {
        let mut here = false;
        for key in record.values("ENTPersonStructRattach") {
            here |= self.ours(record, "ENTPersonStructRattach", key);
        }
        here
    }

    /// The person's ENTPersonJointure values and, when it differs, AAF id, as `holder`'s.
    fn link_ids(&mut self, record: &Record, holder: Holder) {
        let mut ids: Vec<(&str, &str)> = record
            .values(JOINTURE)
            .iter()
            .map(|v| (JOINTURE, v.as_str()))
            .collect();
        if !ids.iter().any(|(_, v)| *v == record.id) {
            ids.push((AAF_ID, record.id.as_str()));
        }
        let at = self.row_at(record);
        for (scheme, value) in ids {
            let duplicate = self
                .external_ids
                .iter()
                .any(|row| row.value.identifier.value == value && row.value.holder == holder);
            if !duplicate {
                self.external_ids.push(Row {
                    at: at.clone(),
                    value: ExternalIdRow {
                        holder: holder.clone(),
                        identifier: ExternalId {
                            scheme: scheme.to_string(),
                            value: value.to_string(),
                        },
                    },
                });
            }
        }
    }

    /// `givenName sn` of a person; a problem when `sn` is missing.
    fn name(&mut self, record: &Record) -> Option<String> {
        let Some(last) = record
            .first("sn")
            .or_else(|| record.first("ENTPersonNomPatro"))
        else {
            self.problem(record, "sn", "the person has no last name");
            return None;
        };
        Some(match record.first("givenName") {
            Some(first) => format!("{first} {last}"),
            None => last.to_string(),
        })
    }
}

/// The establishments of the EtabEducNat records, by each key they are named by.
fn structures(records: &[Record]) -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    for record in records.iter().filter(|r| r.kind == Kind::EtabEducNat) {
        let Some(uai) = record
            .first("ENTStructureUAI")
            .or_else(|| record.first("ENTEtablissementUAI"))
        else {
            continue;
        };
        let uai = uai.trim().to_ascii_uppercase();
        for key in record.values("ENTStructureJointure") {
            keys.insert(key.trim().to_string(), uai.clone());
        }
        keys.insert(record.id.clone(), uai.clone());
        keys.insert(uai.clone(), uai);
    }
    keys
}

/// The establishment imported: the one given, which the export must have when it lists
/// establishments, or the export's only one.
fn establishment(
    bundle: &Bundle,
    records: &[Record],
    structures: &BTreeMap<String, String>,
    tenant: Option<&Uai>,
) -> Result<(Uai, Location), ImportError> {
    let listed: BTreeSet<&String> = structures.values().collect();
    let refused = |rule: String| {
        ImportError::Invalid(vec![Problem {
            file: bundle.name.clone(),
            at: Location::File,
            field: "establishment".into(),
            rule,
        }])
    };
    let some = |set: &BTreeSet<&String>| {
        let shown: Vec<&str> = set.iter().take(5).map(|s| s.as_str()).collect();
        let more = if set.len() > 5 { ", …" } else { "" };
        format!("{}{more}", shown.join(", "))
    };
    let uai = match tenant {
        Some(uai) if listed.is_empty() || listed.contains(&uai.to_string()) => uai.clone(),
        Some(uai) => {
            return Err(refused(format!(
                "the export has no establishment {uai} (its EtabEducNat records are {})",
                some(&listed)
            )))
        }
        None => match listed.iter().next() {
            Some(only) if listed.len() == 1 => {
                Uai::parse(only).map_err(|e| refused(e.to_string()))?
            }
            _ => {
                return Err(refused(format!(
                    "the export is about {} establishments ({}): give the UAI of the one to \
                     import (--tenant)",
                    listed.len(),
                    some(&listed)
                )))
            }
        },
    };
    let header = records
        .iter()
        .find(|r| r.kind == Kind::EtabEducNat && structures.get(&r.id) == Some(&uai.to_string()))
        .map_or(Location::File, |r| {
            let file = &bundle.files[r.file].name;
            match &r.at {
                Location::Element { path, line } => Location::Element {
                    path: format!("{file}: {path}"),
                    line: *line,
                },
                other => other.clone(),
            }
        });
    Ok((uai, header))
}

/// Whether the export has records, or a file, of `kind`.
fn has(bundle: &Bundle, records: &[Record], kind: Kind) -> bool {
    records.iter().any(|r| r.kind == kind)
        || bundle
            .files
            .iter()
            .any(|f| Kind::of_file(&f.name) == Some(kind))
}

/// The students of the establishment, its divisions and groups as they name them.
#[derive(Default)]
struct Students {
    rows: Vec<Row<StudentRow>>,
    /// Division → (first student's place, level).
    divisions: BTreeMap<String, (Location, String)>,
    /// Group → (first student's place, divisions drawn from).
    groups: BTreeMap<String, (Location, BTreeSet<String>)>,
    /// The Eleve records admitted, with their INE.
    admitted: Vec<(usize, Ine)>,
    /// The Eleve records of the establishment, admitted or not.
    here: usize,
}

/// A `dd/mm/yyyy` date (or `yyyy-mm-dd`).
fn date(text: &str) -> Option<NaiveDate> {
    crate::xml::french_date(text)
        .or_else(|| NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok())
}

/// The identity of an Eleve record; problems for what is missing.
fn identity(r: &mut Reader<'_>, record: &Record) -> Option<Identity> {
    let ine = match record.first("ENTEleveINE") {
        Some(ine) => Ine::parse(ine)
            .map_err(|e| r.problem(record, "ENTEleveINE", e))
            .ok(),
        None => {
            r.problem(
                record,
                "ENTEleveINE",
                "the student has no INE: Carnet knows students by INE, and this AAF record \
                 carries none (ask the académie for an export with ENTEleveINE, or import \
                 SIECLE's ElevesSansAdresses.xml)",
            );
            None
        }
    };
    let last_name = record.first("sn").map(str::to_string);
    if last_name.is_none() {
        r.problem(record, "sn", "the student has no last name");
    }
    let first_name = record.first("givenName").map(str::to_string);
    if first_name.is_none() {
        r.problem(record, "givenName", "the student has no first name");
    }
    let birth = "ENTPersonDateNaissance";
    let birth_date = match record.first(birth) {
        Some(text) => {
            let day = date(text);
            if day.is_none() {
                r.problem(
                    record,
                    birth,
                    format!("`{text}` is not a date written dd/mm/yyyy"),
                );
            }
            day
        }
        None => {
            r.problem(record, birth, "the birth date is missing");
            None
        }
    };
    Some(Identity {
        ine: ine?,
        last_name: last_name?,
        first_name: first_name?,
        birth_date: birth_date?,
    })
}

/// The students of the establishment among the Eleve records.
fn students(r: &mut Reader<'_>, records: &[Record]) -> Students {
    let mut found = Students::default();
    let mut by_ine: BTreeMap<Ine, String> = BTreeMap::new();
    let (mut elsewhere, mut unplaced) = (0, 0);
    for (index, record) in records.iter().enumerate() {
        if record.kind != Kind::Eleve {
            continue;
        }
        let (divisions, in_class) = r.codes_here(record, "ENTEleveClasses");
        let (groups, _) = r.codes_here(record, "ENTEleveGroupes");
        if !(r.attached_here(record) || in_class) {
            elsewhere += 1;
            continue;
        }
        found.here += 1;
        let Some(identity) = identity(r, record) else {
            continue;
        };
        if let Some(first) = by_ine.get(&identity.ine) {
            let rule = format!(
                "INE {} is given twice (first by Eleve {first})",
                identity.ine
            );
            r.problem(record, "ENTEleveINE", rule);
            continue;
        }
        by_ine.insert(identity.ine.clone(), record.id.clone());
        let division = match divisions.as_slice() {
            [] => {
                unplaced += 1;
                continue;
            }
            [one] => one.clone(),
            [first, second, ..] => {
                let rule = format!("a student is in one division: {first} and {second} are given");
                r.problem(record, "ENTEleveClasses", rule);
                continue;
            }
        };
        let at = r.row_at(record);
        let level = crate::mef::level(
            record.first("ENTEleveMEF"),
            record.first("ENTEleveNivFormation"),
            &division,
        );
        found
            .divisions
            .entry(division.clone())
            .or_insert_with(|| (at.clone(), level));
        for group in &groups {
            let entry = found.groups.entry(group.clone());
            let drawn = &mut entry.or_insert_with(|| (at.clone(), BTreeSet::new())).1;
            drawn.insert(division.clone());
        }
        r.link_ids(record, Holder::Student(identity.ine.clone()));
        found.admitted.push((index, identity.ine.clone()));
        found.rows.push(Row {
            at,
            value: StudentRow {
                identity,
                division,
                groups,
                entered: None,
                left: None,
            },
        });
    }
    if elsewhere > 0 {
        r.notes.push(format!(
            "{elsewhere} students of other establishments: left aside"
        ));
    }
    if unplaced > 0 {
        r.notes.push(format!(
            "{unplaced} students have no class in {} yet: not imported",
            r.uai
        ));
    }
    found
}

/// Reads the records of an export for one establishment.
pub(super) fn read(
    bundle: &Bundle,
    records: &[Record],
    tenant: Option<&Uai>,
    as_of: NaiveDate,
    year: SchoolYear,
    notes: &mut Vec<String>,
) -> Result<Roster, ImportError> {
    let structures = structures(records);
    let (uai, header) = establishment(bundle, records, &structures, tenant)?;
    let mut r = Reader {
        bundle,
        problems: Vec::new(),
        notes: std::mem::take(notes),
        uai: uai.to_string(),
        structures,
        unknown: BTreeSet::new(),
        external_ids: Vec::new(),
    };
    let with_students = has(bundle, records, Kind::Eleve);
    let found = students(&mut r, records);
    let guardians = if !with_students {
        None
    } else if has(bundle, records, Kind::PersRelEleve) {
        Some(guardians::read(&mut r, records, &found.admitted))
    } else {
        r.notes.push(
            "the export has no PersRelEleve file: the students' guardians are not read".into(),
        );
        None
    };
    let staff = has(bundle, records, Kind::PersEducNat).then(|| staff::read(&mut r, records));
    let staff_here = staff.as_ref().is_some_and(|s| !s.is_empty());
    if found.here == 0 && !staff_here {
        nobody_here(&mut r, bundle);
    }
    // A file with nobody of the establishment is no authority on it: read as one, it
    // would make everyone an earlier import made leave.
    let (divisions, groups) = (divisions(&found), groups(&found));
    let students = (with_students && !found.rows.is_empty()).then_some(found.rows);
    let guardians = guardians.filter(|_| students.is_some());
    for (file, read) in [("Eleve", with_students), ("PersEducNat", staff.is_some())] {
        let empty = if file == "Eleve" {
            students.is_none()
        } else {
            !staff_here
        };
        if read && empty {
            r.notes.push(format!(
                "the {file} files have nobody of {} to import: left as Carnet has them",
                r.uai
            ));
        }
    }
    let staff = staff.filter(|_| staff_here);
    if !r.problems.is_empty() {
        return Err(ImportError::Invalid(r.problems));
    }
    Ok(Roster {
        format: FORMAT,
        uai,
        year,
        as_of,
        header,
        subjects: Vec::new(),
        divisions,
        groups,
        staff,
        services: None,
        students,
        guardians,
        guardians_of: Vec::new(),
        external_ids: r.external_ids,
        contacts: None,
        rows: records.len(),
        notes: r.notes,
    })
}

/// An export with nobody of the establishment is refused: is it its export?
fn nobody_here(r: &mut Reader<'_>, bundle: &Bundle) {
    r.problems.push(Problem {
        file: bundle.name.clone(),
        at: Location::File,
        field: "establishment".into(),
        rule: format!(
            "the export has no student and no member of staff of {}: is it the \
             establishment's export?",
            r.uai
        ),
    });
}

fn divisions(found: &Students) -> Vec<Row<DivisionSpec>> {
    found
        .divisions
        .iter()
        .map(|(code, (at, level))| Row {
            at: at.clone(),
            value: DivisionSpec {
                id: code.clone(),
                name: code.clone(),
                level: level.clone(),
            },
        })
        .collect()
}

fn groups(found: &Students) -> Vec<Row<GroupSpec>> {
    found
        .groups
        .iter()
        .map(|(code, (at, divisions))| Row {
            at: at.clone(),
            value: GroupSpec {
                id: code.clone(),
                name: code.clone(),
                partition: code.clone(),
                divisions: divisions.iter().cloned().collect(),
            },
        })
        .collect()
}

/// The Carnet role of an AAF function code (STS-Web's codes).
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

/// Guardian and staff rows are built in the submodules; these are their types.
type GuardianRows = Vec<Row<GuardianRow>>;
type StaffRows = Vec<Row<StaffRow>>;
