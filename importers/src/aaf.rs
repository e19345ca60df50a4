//! AAF exports: the XML files each académie's annuaire académique fédérateur sends the
//! ENTs (Open ENT NG, its `feeder` module, reads them: the layout and attribute names
//! here are those of its `dictionary/mapping/aaf/*.json` and of the sample export of its
//! tests, `feeder/src/test/resources/aaf-test/`).
//!
//! An export is a folder of files named `<prefix>_Complet_<yyyymmdd>_<Category>_<nnnn>.xml`
//! (`ENT2D.AAF_..._Complet_20260915_Eleve_0000.xml`, `..._Eleve_0001.xml` when it is
//! split), one or more per category. Carnet reads the categories `Eleve`, `PersRelEleve`,
//! `PersEducNat` and `EtabEducNat`; the others (`MatiereEducNat`, `MefEducNat`) are left
//! aside. Every file has the same shape:
//!
//! ```text
//! <!DOCTYPE ficAlimMENESR SYSTEM "ficAlimMENESR.dtd">
//! ficAlimMENESR
//!   addRequest
//!     operationalAttributes/attr @name=categoriePersonne (or categorieStructure)/value
//!     identifier/id                        the AAF's id of the person or structure
//!     attributes/attr @name/value*         one <value> per value, <value/> when empty
//! EtabEducNat: ENTStructureJointure, ENTStructureUAI (ENTEtablissementUAI), ENTStructureNomCourant
//! Eleve: ENTPersonJointure, ENTEleveINE, sn, givenName, ENTPersonDateNaissance (dd/mm/yyyy),
//!   ENTPersonStructRattach (a structure), ENTEleveClasses and ENTEleveGroupes
//!   (STRUCTURE$CODE), ENTEleveMEF, ENTEleveNivFormation,
//!   ENTElevePersRelEleve (PERSON$LIEN$RESP_FINANCIER$RESP_LEGAL$CONTACT$PAIEMENT),
//!   ENTEleveAutoriteParentale, ENTElevePere, ENTEleveMere (older files)
//! PersRelEleve: ENTPersonJointure, sn, givenName, ...
//! PersEducNat: ENTPersonJointure, sn, givenName, ENTPersonStructRattach,
//!   ENTPersonFonctions (STRUCTURE$CODE$LABEL$DISCIPLINE$DISCIPLINE_LABEL),
//!   ENTAuxEnsClassesMatieres, ENTAuxEnsGroupesMatieres (STRUCTURE$CLASS$SUBJECT)
//! ```
//!
//! A structure is named by its ENTStructureJointure (or its record's id), which the
//! `EtabEducNat` records turn into a UAI; a structure named by its UAI itself is read too.
//!
//! The rules Carnet applies:
//! - One establishment is imported: the UAI given (`--tenant`, the API's establishment),
//!   or the only establishment of the `EtabEducNat` records. An académie's export holds
//!   many: the people attached to none of the establishment's structures are left
//!   aside, and counted in the notes. An export with nobody of the establishment is
//!   refused (it would make everyone leave).
//! - Students: a record of the establishment (ENTPersonStructRattach, or a class there)
//!   is admitted with its INE (ENTEleveINE), names (sn, givenName), birth date, its
//!   division (ENTEleveClasses) and groups (ENTEleveGroupes) there; the division's level
//!   comes from ENTEleveNivFormation or ENTEleveMEF. Carnet knows a student by INE,
//!   as SIECLE does: a student record without one (older AAF files lack ENTEleveINE) is
//!   a problem naming the file, line, record and attribute, not a guess by name. A
//!   student with no class of the establishment yet is left aside (a note), as SIECLE's.
//! - Guardians: ENTElevePersRelEleve's fourth field is SIECLE's RESP_LEGAL: 1 and 2 are
//!   the legal guardians, linked with every right as the SIECLE responsables import
//!   links them; 0 (a contact, a payer) is not linked, counted in the notes. The
//!   relationship is the second field (the AAF's 1 père, 2 mère, 3 tuteur, 4 autre
//!   membre de la famille, 5 aide sociale à l'enfance, 6 autre lien, 7 élève lui-même,
//!   or the BCN codes 10 to 90 of SIECLE; another code reads as "responsable légal").
//!   Older files without ENTElevePersRelEleve name the legal guardians in
//!   ENTEleveAutoriteParentale. The guardian's name comes from their PersRelEleve
//!   record, which must be in the export; their id is `aaf-resp-<id>`. Without any
//!   PersRelEleve file, guardians are not read (a note).
//! - Staff: a PersEducNat record with a function (ENTPersonFonctions) or a teaching
//!   (ENTAuxEnsClassesMatieres, ENTAuxEnsGroupesMatieres) in the establishment, or
//!   attached to it, is a member of staff `aaf-<id>`, with the roles STS-Web's function
//!   codes give (ENS and DOC teacher, EDU CPE, AED and SUR assistant d'éducation, DIR
//!   direction, ADF, ADM and SEC secretariat; whoever teaches a class is a teacher).
//!   Someone with no such role (ORI, CFC, technical staff) is left aside, named in the
//!   notes. Services are not read: they need subjects, which STS-Web gives.
//! - Each person's ENTPersonJointure values (the identifier the ENT signs them in with)
//!   are linked to them as external identifiers of scheme `ENTPersonJointure`, and their
//!   AAF id, when it differs, of scheme `externalId` (Open ENT NG's name for it).
//! - A file's sections are the authority only when the export has that file: without
//!   PersEducNat, staff are left as they are; without Eleve, students.
//! - Carnet reads complete exports: a delta (`_Delta_` file, modifyRequest or
//!   deleteRequest) lists only what changed and is refused.
//! - Problems name the file of the export and the line of the record's attribute;
//!   events' provenance names the export (the folder, or the file) and, as the element,
//!   the file of the record.

mod people;
mod records;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use carnet_domain::enrolment::SchoolYear;
use carnet_domain::Uai;
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::report::{ImportError, Location, Problem};
use crate::roster::Roster;
use crate::source::SourceFile;

pub use records::Kind;
use records::Record;

pub const FORMAT: &str = "aaf";

/// The files of one AAF export, decoded, with the export's name and SHA-256 (the
/// provenance its events carry).
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The folder's or the file's name.
    pub name: String,
    /// One file: its SHA-256. A folder: the SHA-256 of its AAF files' names and SHA-256s,
    /// one `name sha256` line each, in name order.
    pub sha256: String,
    /// In name order.
    pub files: Vec<SourceFile>,
    /// Files of the folder Carnet does not read (other categories).
    pub ignored: Vec<String>,
}

impl Bundle {
    /// Reads a folder of AAF files (those of the categories Carnet reads), or one file.
    pub fn read(path: &Path) -> Result<Self, ImportError> {
        let io = |e: std::io::Error| ImportError::Io {
            file: path.display().to_string(),
            reason: e.to_string(),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        if !path.is_dir() {
            let bytes = crate::source::read_bounded(path)?;
            return Self::from_files(&name, vec![(name.clone(), bytes)]);
        }
        let mut files = Vec::new();
        let mut ignored = Vec::new();
        for entry in std::fs::read_dir(path).map_err(io)? {
            let entry = entry.map_err(io)?;
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if !entry.path().is_file() || !file_name.to_ascii_lowercase().ends_with(".xml") {
                continue;
            }
            if Kind::of_file(&file_name).is_some() {
                files.push((file_name, crate::source::read_bounded(&entry.path())?));
            } else {
                ignored.push(file_name);
            }
        }
        if files.is_empty() {
            return Err(ImportError::Invalid(vec![Problem {
                file: name,
                at: Location::File,
                field: "files".into(),
                rule: "the folder holds no AAF file (…_Eleve_0000.xml, …_PersRelEleve_0000.xml, \
                       …_PersEducNat_0000.xml, …_EtabEducNat_0000.xml)"
                    .into(),
            }]));
        }
        let mut bundle = Self::from_files(&name, files)?;
        ignored.sort();
        bundle.ignored = ignored;
        Ok(bundle)
    }

    /// An export of the files given (name, bytes).
    pub fn from_files(name: &str, files: Vec<(String, Vec<u8>)>) -> Result<Self, ImportError> {
        let mut decoded = BTreeMap::new();
        let mut problems = Vec::new();
        for (file, bytes) in files {
            match SourceFile::from_bytes(&file, &bytes) {
                Ok(source) => {
                    decoded.insert(file, source);
                }
                Err(ImportError::Invalid(p)) => problems.extend(p),
                Err(other) => return Err(other),
            }
        }
        if !problems.is_empty() {
            return Err(ImportError::Invalid(problems));
        }
        let files: Vec<SourceFile> = decoded.into_values().collect();
        let sha256 = match files.as_slice() {
            [one] if one.name == name => one.sha256.clone(),
            _ => {
                let mut digest = Sha256::new();
                for file in &files {
                    digest.update(format!("{} {}\n", file.name, file.sha256));
                }
                hex::encode(digest.finalize())
            }
        };
        Ok(Bundle {
            name: name.to_string(),
            sha256,
            files,
            ignored: Vec::new(),
        })
    }

    /// The encoding of the files: theirs if they share one, else `mixed`.
    pub fn encoding(&self) -> &'static str {
        let encodings: BTreeSet<&'static str> = self.files.iter().map(|f| f.encoding).collect();
        match encodings.into_iter().collect::<Vec<_>>().as_slice() {
            [one] => one,
            [] => "UTF-8",
            _ => "mixed",
        }
    }
}

/// The export day a file's name says: `..._Complet_20260915_Eleve_0000.xml`.
fn export_day(name: &str) -> Option<NaiveDate> {
    name.split(['_', '.'])
        .filter(|part| part.len() == 8 && part.bytes().all(|b| b.is_ascii_digit()))
        .find_map(|part| NaiveDate::parse_from_str(part, "%Y%m%d").ok())
}

/// The school year a day falls in (a year starts in August, with the exports for it).
fn year_of(day: NaiveDate) -> SchoolYear {
    crate::timetable::year_of(day)
}

/// Reads an AAF export for the establishment `tenant` (or the export's only one); every
/// problem of every file is listed.
pub fn read(
    bundle: &Bundle,
    tenant: Option<&Uai>,
    today: NaiveDate,
) -> Result<Roster, ImportError> {
    let mut problems = Vec::new();
    let mut records: Vec<Record> = Vec::new();
    for (index, file) in bundle.files.iter().enumerate() {
        if file.name.contains("_Delta_") {
            problems.push(file.problem(
                Location::File,
                "file",
                "a delta export lists only what changed: Carnet reads complete AAF exports \
                 (…_Complet_…), and would take the people a delta leaves out as gone",
            ));
            continue;
        }
        records.extend(records::read_file(index, file, &mut problems));
    }
    if !problems.is_empty() {
        return Err(ImportError::Invalid(problems));
    }
    let as_of = bundle
        .files
        .iter()
        .filter_map(|f| export_day(&f.name))
        .max()
        .unwrap_or(today);
    let mut notes: Vec<String> = bundle
        .ignored
        .iter()
        .map(|name| format!("{name}: not an AAF category Carnet reads (left aside)"))
        .collect();
    let roster = people::read(bundle, &records, tenant, as_of, year_of(as_of), &mut notes)?;
    Ok(roster)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_days_from_file_names() {
        assert_eq!(
            export_day("ENT2D.AAF_0750655E_Complet_20260915_Eleve_0000.xml"),
            NaiveDate::from_ymd_opt(2026, 9, 15)
        );
        assert_eq!(export_day("upload.xml"), None);
    }
}
