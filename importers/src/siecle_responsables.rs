//! SIECLE guardians exports: BEE `ResponsablesAvecAdresses.xml`, the file French
//! secondary schools extract from SIECLE next to `ElevesSansAdresses.xml`.
//!
//! Layout, as the BEE export writes it. Read from the public programs that import it:
//! Gepi (`tbelliard/gepi`, `init_xml2/responsables.php`: root `BEE_RESPONSABLES`, the
//! PARAMETRES header, `DONNEES/PERSONNES/PERSONNE` with the `PERSONNE_ID` attribute and
//! the fields NOM (NOM_DE_FAMILLE and NOM_USAGE since SIECLE's change of summer 2016),
//! PRENOM, LC_CIVILITE, TEL_*, MEL, ADRESSE_ID; `DONNEES/RESPONSABLES/RESPONSABLE_ELEVE`
//! with ELEVE_ID, PERSONNE_ID, RESP_LEGAL, CODE_PARENTE, RESP_FINANCIER, PERS_PAIMENT,
//! PERS_CONTACT), and the CODE_PARENTE nomenclature as betagouv/dossiersco writes it
//! back to SIECLE (its `RespLegal::CODE_PARENTE` table) and the AAF mapping of ENT
//! tools (BCN table N_LIEN_ELEVE_RESPONSABLE):
//!
//! ```text
//! BEE_RESPONSABLES
//!   PARAMETRES: UAJ, ANNEE_SCOLAIRE (2026 for 2026-2027), DATE_EXPORT (dd/mm/yyyy), HORODATAGE
//!   DONNEES
//!     PERSONNES/PERSONNE @PERSONNE_ID: NOM_DE_FAMILLE, NOM_USAGE (or NOM, before 2016),
//!       PRENOM, LC_CIVILITE (M. / MME), TEL_PERSONNEL, TEL_PORTABLE, MEL, ADRESSE_ID, ...
//!     RESPONSABLES/RESPONSABLE_ELEVE: ELEVE_ID, PERSONNE_ID, RESP_LEGAL (1 and 2: the
//!       legal guardians; 0: another person), CODE_PARENTE, RESP_FINANCIER, PERS_PAIMENT,
//!       PERS_CONTACT (1: a person to contact)
//!     ADRESSES/ADRESSE @ADRESSE_ID: LIGNE1_ADRESSE..., CODE_POSTAL, LIBELLE_POSTAL, ...
//! CODE_PARENTE: 10 mère, 20 père, 37 fratrie, 38 ascendant, 39 autre membre de la famille,
//!   41 éducateur, 42 assistant familial, 43 garde d'enfant, 50 tuteur,
//!   51 aide sociale à l'enfance, 70 élève lui-même, 90 autre lien
//! ```
//!
//! The rules Carnet applies:
//! - RESPONSABLE_ELEVE names students by ELEVE_ID, SIECLE's internal key, not by INE:
//!   the ELEVE_ID → INE map comes from the `ElevesSansAdresses.xml` (or
//!   `ElevesAvecAdresses.xml`) of the same export, found next to the responsables file
//!   (`carnet import siecle-responsables <folder or ResponsablesAvecAdresses.xml>`).
//!   Without it the import is refused; it must be about the same establishment and year.
//! - A legal guardian (RESP_LEGAL 1 or 2) is linked with every right: they see the child's
//!   record, justify absences, are notified of them.
//! - Any other person (RESP_LEGAL 0: a contact, a payer) is not linked. A link, even with
//!   no right, makes its holder a guardian of the child to the access rules (they may
//!   sign in as a guardian, and appear among the child's guardians); a contact person has
//!   no such standing, and what Carnet would keep of them (a phone number) is not its
//!   business. They are counted in the import's notes. A legal guardian who becomes a
//!   mere contact is therefore unlinked.
//! - The guardian's id is `siecle-resp-<PERSONNE_ID>`: stable across exports, so that
//!   importing again changes only what changed. The name (first name then the usage
//!   name, or the family name) is personal data, sealed by the student's aggregate.
//! - Students who left before the school year (DATE_SORTIE of the students' file) are
//!   left aside, as the students' import leaves them.
//! - The file is the authority on the guardians of every student of the students' file:
//!   links this format made that the file no longer has are removed.
//! - How a legal guardian is reached comes from their MEL (e-mail) and TEL_PORTABLE
//!   (mobile; TEL_PERSONNEL and TEL_PROFESSIONNEL, often landlines, are not read), kept
//!   as the notifications domain normalises them (`06 12 34 56 78` as `+33612345678`)
//!   and recorded on the guardian's `guardian_contact` stream, sealed as their personal
//!   data. Only what differs from what Carnet holds is recorded: importing again
//!   records nothing. The file is the authority on these addresses too: its value
//!   replaces Carnet's, even one given by hand; an address the file does not have is
//!   removed when an import of this format gave it, and kept when it was given by hand
//!   (the guardian or the secretariat, through the API). A value the domain refuses (a
//!   typo: `martin.fr`, a landline in TEL_PORTABLE) does not refuse the file: the
//!   guardian is linked without it, Carnet keeps what it held for that field, and the
//!   import's notes name the file, the line, the person and the field, for the school
//!   to correct in SIECLE. Nothing of a contact person (RESP_LEGAL 0) is kept.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use carnet_domain::contact::{normalise_email, normalise_mobile, ContactError};
use carnet_domain::enrolment::{GuardianRights, Ine, SchoolYear};
use carnet_domain::Uai;
use chrono::NaiveDate;
use roxmltree::Node;

use crate::report::{ImportError, Location, Problem};
use crate::roster::{ContactRow, Given, GuardianRow, Roster, Row};
use crate::source::SourceFile;
use crate::xml::{self, at, attribute, children, french_date, text};

pub const FORMAT: &str = "siecle-responsables";

/// The names the students' file of the same export has, in the order they are looked for.
pub const ELEVES_FILES: [&str; 2] = ["ElevesSansAdresses.xml", "ElevesAvecAdresses.xml"];

/// The responsables file and the students' file of the same SIECLE export.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub responsables: SourceFile,
    pub eleves: SourceFile,
}

impl Bundle {
    /// Reads `path`: the responsables file (the students' file is looked for next to
    /// it), or a folder holding `ResponsablesAvecAdresses.xml` and the students' file.
    pub fn read(path: &Path) -> Result<Self, ImportError> {
        let (folder, responsables) = if path.is_dir() {
            (
                path.to_path_buf(),
                path.join("ResponsablesAvecAdresses.xml"),
            )
        } else {
            let folder = path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            (folder, path.to_path_buf())
        };
        let responsables = SourceFile::read(&responsables)?;
        let Some(eleves) = ELEVES_FILES
            .iter()
            .map(|name| folder.join(name))
            .find(|p| p.is_file())
        else {
            return Err(ImportError::Invalid(vec![responsables.problem(
                Location::File,
                "ELEVE_ID",
                format!(
                    "the responsables name students by their SIECLE ELEVE_ID: Carnet reads \
                     which student that is from the students' file of the same export, \
                     {} or {}, which is not in {}",
                    ELEVES_FILES[0],
                    ELEVES_FILES[1],
                    folder.display()
                ),
            )]));
        };
        Ok(Bundle {
            responsables,
            eleves: SourceFile::read(&eleves)?,
        })
    }
}

/// What the students' file says of a student: INE, and whether they left before the year.
struct Eleve {
    ine: Ine,
    left: Option<NaiveDate>,
}

/// The domain's check of an address: its normalised form, or why it is refused.
type Check = fn(&str) -> Result<String, ContactError>;

/// What the file says of a person: where, their name, their MEL and TEL_PORTABLE.
struct Personne {
    at: Location,
    name: Option<String>,
    mel: Option<String>,
    portable: Option<String>,
}

/// The header of a BEE file: UAJ, school year, export day.
struct Header {
    at: Location,
    uai: Option<Uai>,
    year: Option<SchoolYear>,
    as_of: Option<NaiveDate>,
}

fn header(
    source: &SourceFile,
    document: &xml::Document<'_>,
    root: Node<'_, '_>,
    problems: &mut Vec<Problem>,
) -> Header {
    let node = at(root, "PARAMETRES");
    let here = node.map_or(Location::File, |h| xml::location(document, h));
    let mut problem = |field: &str, rule: String| {
        problems.push(source.problem(here.clone(), field, rule));
    };
    let uai = match node.and_then(|h| text(h, "UAJ")) {
        Some(code) => Uai::parse(&code)
            .map_err(|e| problem("UAJ", e.to_string()))
            .ok(),
        None => {
            problem("UAJ", "the establishment's UAI is missing".into());
            None
        }
    };
    let year = match node.and_then(|h| text(h, "ANNEE_SCOLAIRE")) {
        Some(y) => match y.parse::<u16>() {
            Ok(first) if (1900..3000).contains(&first) => Some(SchoolYear::starting(first)),
            _ => {
                problem(
                    "ANNEE_SCOLAIRE",
                    format!("`{y}` is not a year such as 2026"),
                );
                None
            }
        },
        None => {
            problem("ANNEE_SCOLAIRE", "the school year is missing".into());
            None
        }
    };
    let as_of = node
        .and_then(|h| text(h, "DATE_EXPORT").or_else(|| text(h, "HORODATAGE")))
        .and_then(|d| french_date(&d));
    Header {
        at: here,
        uai,
        year,
        as_of,
    }
}

fn root_named<'a, 'input>(
    source: &SourceFile,
    document: &'a xml::Document<'input>,
    name: &str,
) -> Result<Node<'a, 'input>, ImportError> {
    let root = document.root_element();
    if root.tag_name().name() != name {
        return Err(ImportError::Invalid(vec![source.problem(
            Location::File,
            "root element",
            format!(
                "a SIECLE {} export starts with <{name}>, this file with <{}>",
                if name == "BEE_ELEVES" {
                    "students"
                } else {
                    "responsables"
                },
                root.tag_name().name()
            ),
        )]));
    }
    Ok(root)
}

/// The relationship CODE_PARENTE names, in French words.
fn relationship(code: &str) -> Option<&'static str> {
    Some(match code {
        "10" => "mère",
        "20" => "père",
        "37" => "fratrie",
        "38" => "ascendant",
        "39" => "autre membre de la famille",
        "41" => "éducateur",
        "42" => "assistant familial",
        "43" => "garde d'enfant",
        "50" => "tuteur",
        "51" => "aide sociale à l'enfance",
        "70" => "élève lui-même",
        "90" => "autre lien",
        _ => return None,
    })
}

/// Reads a SIECLE responsables export with the students' file of the same export; every
/// problem of either file is listed.
pub fn read(bundle: &Bundle, today: NaiveDate) -> Result<Roster, ImportError> {
    let (source, eleves_source) = (&bundle.responsables, &bundle.eleves);
    let document = xml::parse(source).map_err(|p| ImportError::Invalid(vec![p]))?;
    let eleves_document = xml::parse(eleves_source).map_err(|p| ImportError::Invalid(vec![p]))?;
    let root = root_named(source, &document, "BEE_RESPONSABLES")?;
    let eleves_root = root_named(eleves_source, &eleves_document, "BEE_ELEVES")?;
    let mut problems = Vec::new();
    let head = header(source, &document, root, &mut problems);
    let eleves_head = header(eleves_source, &eleves_document, eleves_root, &mut problems);
    if head.uai.is_some() && eleves_head.uai.is_some() && head.uai != eleves_head.uai {
        problems.push(eleves_source.problem(
            eleves_head.at.clone(),
            "UAJ",
            format!(
                "the students' file is about {}, the responsables' file about {}",
                eleves_head.uai.as_ref().map_or("", |u| u.as_str()),
                head.uai.as_ref().map_or("", |u| u.as_str())
            ),
        ));
    }
    if head.year.is_some() && eleves_head.year.is_some() && head.year != eleves_head.year {
        problems.push(eleves_source.problem(
            eleves_head.at.clone(),
            "ANNEE_SCOLAIRE",
            "the students' file is of another school year than the responsables' file",
        ));
    }

    // ELEVE_ID → INE, from the students' file.
    let mut eleves: BTreeMap<String, Eleve> = BTreeMap::new();
    for node in at(eleves_root, "DONNEES/ELEVES")
        .into_iter()
        .flat_map(|n| children(n, "ELEVE"))
    {
        let here = xml::location(&eleves_document, node);
        let mut problem = |field: &str, rule: String| {
            problems.push(eleves_source.problem(here.clone(), field, rule));
        };
        let Some(id) = attribute(node, "ELEVE_ID") else {
            problem("ELEVE_ID", "the student has no ELEVE_ID".into());
            continue;
        };
        let ine = match text(node, "ID_NATIONAL") {
            Some(ine) => match Ine::parse(&ine) {
                Ok(ine) => ine,
                Err(e) => {
                    problem("ID_NATIONAL", e.to_string());
                    continue;
                }
            },
            None => {
                problem("ID_NATIONAL", "the student has no INE".into());
                continue;
            }
        };
        if eleves.contains_key(&id) {
            problem("ELEVE_ID", format!("ELEVE_ID {id} is used twice"));
            continue;
        }
        let left = text(node, "DATE_SORTIE").and_then(|d| french_date(&d));
        eleves.insert(id, Eleve { ine, left });
    }

    // The persons, by PERSONNE_ID.
    let mut personnes: BTreeMap<String, Personne> = BTreeMap::new();
    for node in at(root, "DONNEES/PERSONNES")
        .into_iter()
        .flat_map(|n| children(n, "PERSONNE"))
    {
        let here = xml::location(&document, node);
        let mut problem = |field: &str, rule: String| {
            problems.push(source.problem(here.clone(), field, rule));
        };
        let Some(id) = attribute(node, "PERSONNE_ID").or_else(|| text(node, "PERSONNE_ID")) else {
            problem("PERSONNE_ID", "the person has no PERSONNE_ID".into());
            continue;
        };
        if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            problem(
                "PERSONNE_ID",
                format!("`{id}` is not a SIECLE identifier (letters and digits)"),
            );
            continue;
        }
        if let Some(first) = personnes.get(&id) {
            problem(
                "PERSONNE_ID",
                format!("PERSONNE_ID {id} is used twice (first at {})", first.at),
            );
            continue;
        }
        let last = text(node, "NOM_USAGE")
            .or_else(|| text(node, "NOM_DE_FAMILLE"))
            .or_else(|| text(node, "NOM"));
        let name = match (text(node, "PRENOM"), last) {
            (Some(first), Some(last)) => Some(format!("{first} {last}")),
            (None, Some(last)) => Some(last),
            (_, None) => None,
        };
        personnes.insert(
            id,
            Personne {
                at: here,
                name,
                mel: text(node, "MEL"),
                portable: text(node, "TEL_PORTABLE"),
            },
        );
    }

    let year_starts = head
        .year
        .as_ref()
        .and_then(|y| NaiveDate::from_ymd_opt(i32::from(y.first_year()), 9, 1));
    let mut rows = 0;
    let mut guardians = Vec::new();
    let mut linked: BTreeSet<(String, String)> = BTreeSet::new();
    let mut others = 0;
    let mut left_aside = BTreeSet::new();
    let mut contacts: BTreeMap<String, Row<ContactRow>> = BTreeMap::new();
    let mut refused = Vec::new();
    for node in at(root, "DONNEES/RESPONSABLES")
        .into_iter()
        .flat_map(|n| children(n, "RESPONSABLE_ELEVE"))
    {
        rows += 1;
        let here = xml::location(&document, node);
        let mut problem = |field: &str, rule: String| {
            problems.push(source.problem(here.clone(), field, rule));
        };
        let eleve_id = text(node, "ELEVE_ID");
        let personne_id = text(node, "PERSONNE_ID");
        let (Some(eleve_id), Some(personne_id)) = (eleve_id, personne_id) else {
            problem(
                "ELEVE_ID",
                "a RESPONSABLE_ELEVE names a student (ELEVE_ID) and a person (PERSONNE_ID)".into(),
            );
            continue;
        };
        let eleve = eleves.get(&eleve_id);
        if eleve.is_none() {
            problem(
                "ELEVE_ID",
                format!(
                    "no ELEVE of the students' file ({}) has ELEVE_ID {eleve_id}",
                    eleves_source.name
                ),
            );
        }
        let personne = personnes.get(&personne_id);
        if personne.is_none() {
            problem(
                "PERSONNE_ID",
                format!("no PERSONNE of the file has PERSONNE_ID {personne_id}"),
            );
        }
        if !linked.insert((eleve_id.clone(), personne_id.clone())) {
            problem(
                "PERSONNE_ID",
                format!("person {personne_id} is given twice for student {eleve_id}"),
            );
            continue;
        }
        let legal = match text(node, "RESP_LEGAL").as_deref() {
            Some("1" | "2") => true,
            Some("0") => false,
            other => {
                problem(
                    "RESP_LEGAL",
                    format!(
                        "`{}` is not 1 or 2 (a legal guardian) or 0 (another person)",
                        other.unwrap_or("")
                    ),
                );
                continue;
            }
        };
        if !legal {
            others += 1;
            continue;
        }
        let relationship = match text(node, "CODE_PARENTE") {
            Some(code) => match relationship(&code) {
                Some(words) => Some(words),
                None => {
                    problem(
                        "CODE_PARENTE",
                        format!("`{code}` is not a code of SIECLE's LIEN_PARENTE nomenclature"),
                    );
                    None
                }
            },
            None => {
                problem(
                    "CODE_PARENTE",
                    "a legal guardian's relationship is missing".into(),
                );
                None
            }
        };
        let (Some(eleve), Some(personne), Some(relationship)) = (eleve, personne, relationship)
        else {
            continue;
        };
        let Some(name) = &personne.name else {
            problems.push(source.problem(
                personne.at.clone(),
                "NOM_DE_FAMILLE",
                format!("person {personne_id}, a legal guardian, has no name"),
            ));
            continue;
        };
        if let (Some(left), Some(starts)) = (eleve.left, year_starts) {
            if left < starts {
                left_aside.insert(eleve.ine.clone());
                continue;
            }
        }
        let guardian = format!("siecle-resp-{personne_id}");
        if !contacts.contains_key(&guardian) {
            let mut address = |field: &str, raw: &Option<String>, check: Check| {
                let Some(raw) = raw else {
                    return Given::Missing;
                };
                check(raw).map_or_else(
                    |e| {
                        refused.push(format!(
                            "{}: {}: {field}: {e}: person {personne_id} ({name}) is \
                             imported without it (correct it in SIECLE)",
                            source.name, personne.at
                        ));
                        Given::Refused
                    },
                    Given::Valid,
                )
            };
            let value = ContactRow {
                guardian: guardian.clone(),
                email: address("MEL", &personne.mel, normalise_email),
                mobile: address("TEL_PORTABLE", &personne.portable, normalise_mobile),
            };
            let at = personne.at.clone();
            contacts.insert(guardian.clone(), Row { at, value });
        }
        guardians.push(Row {
            at: here.clone(),
            value: GuardianRow {
                student: eleve.ine.clone(),
                guardian,
                name: name.clone(),
                relationship: relationship.to_string(),
                rights: GuardianRights::FULL,
            },
        });
    }
    if !problems.is_empty() {
        return Err(ImportError::Invalid(problems));
    }
    let (Some(uai), Some(year)) = (head.uai, head.year) else {
        return Err(ImportError::Invalid(problems));
    };
    let mut notes = Vec::new();
    if others > 0 {
        notes.push(format!(
            "{others} contact or other persons (RESP_LEGAL 0) have no rights on the \
             students: not linked"
        ));
    }
    for ine in &left_aside {
        notes.push(format!(
            "{ine} left before {year}: their responsables are not imported"
        ));
    }
    notes.extend(refused);
    let guardians_of = eleves
        .into_values()
        .filter(|e| !matches!((e.left, year_starts), (Some(l), Some(s)) if l < s))
        .map(|e| e.ine)
        .collect();
    Ok(Roster {
        format: FORMAT,
        uai,
        year,
        as_of: head.as_of.unwrap_or(today),
        header: head.at,
        subjects: Vec::new(),
        divisions: Vec::new(),
        groups: Vec::new(),
        staff: None,
        services: None,
        students: None,
        guardians: Some(guardians),
        guardians_of,
        // The responsables' PERSONNE_ID is SIECLE's own: the identifier an ENT signs
        // guardians in with (AAF ENTPersonJointure) is not in this file.
        external_ids: Vec::new(),
        contacts: Some(contacts.into_values().collect()),
        rows,
        notes,
    })
}
