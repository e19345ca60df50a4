//! UDT (UnDeuxTEMPS, Axess Éducation): the export it writes for the ENT, as Open ENT NG's
//! feeder reads it (entcore `feeder/.../timetable/udt/UDTImporter.java`).
//!
//! The export is a zip, `<UAI>_<yyyyMMddHHmmss>_UDT.zip`, of XML files at its root (or
//! the folder they were unzipped into). Each file is a list of records, one element per
//! record, its fields as attributes. Carnet reads (codes are UDT's own):
//!
//! ```text
//! UDCal_00.xml  init      @duree_seq (a sequence's length: half of it when a half-sequence has no end)
//! UDCal_03.xml  salle     @code @nom                                          (rooms)
//! UDCal_04.xml  prof      @code @nom @prenom                                  (teachers)
//! UDCal_05.xml  mat       @code @libelle                                      (subjects)
//! UDCal_07.xml  demi_seq  @code @code_jour @code_site @hre_deb @hre_fin       (half-sequences: 08h00)
//! UDCal_08.xml  div       @code @libelle                                      (divisions)
//! UDCal_11.xml  fiche     @code @jour (1 = Monday) @demi_seq @site            (fiches-T: a day's half-sequence)
//! UDCal_12.xml  ligfiche  @code @fic @div @mat @prof @salle @gpe @rgpmt       (lines of fiches-T: the lessons)
//! UDCal_13.xml  rgpmt     @code @nom @code_div @code_gpe                      (regroupements: one record per division)
//! UDCal_19.xml  gpe       @code @code_div @code_sts                           (groups of a division)
//! UDCal_23.xml  coens     @lignefic @prof                                     (co-teachers of a line)
//! UDCal_24.xml  debut_eleve, fin_eleve (dd/mm/yyyy), fermeture @debut @fin    (calendar)
//! semaines.xml  semaine   @num                                                (published ISO weeks)
//! UDCal_12_NN.xml         the lines held in ISO week NN                       (weeks A and B: see weeks.rs)
//! ```
//!
//! A lesson is a run of lines of one division, subject, teacher, group or regroupement,
//! on one day, in consecutive half-sequences: one course from the first's start to the
//! last's end, in the rooms of its lines. A line's classes are its regroupement (`rgpmt`,
//! `0` for none: a group spanning divisions), else its group of the division (`gpe`:
//! named by its STS-Web code when UDT has it, else `<division>-<group>`), else its
//! division. Lines without a division (UDT's teachers' duties) are left aside, as
//! entcore leaves them.

mod bundle;
mod lessons;
mod places;
mod records;
mod weeks;

use std::collections::{BTreeMap, BTreeSet};

use chrono::Weekday;

pub use bundle::Bundle;
use places::{number, Place, Slots};
use records::Record;

use crate::report::{ImportError, Location, Problem};
use crate::roster::Row;
use crate::timetable::{ClassRow, TimetableFile};

pub const FORMAT: &str = "udt";

const PARAMETERS: &str = "UDCal_00.xml";
const ROOMS: &str = "UDCal_03.xml";
const TEACHERS: &str = "UDCal_04.xml";
const SUBJECTS: &str = "UDCal_05.xml";
const SLOTS: &str = "UDCal_07.xml";
const DIVISIONS: &str = "UDCal_08.xml";
const CARDS: &str = "UDCal_11.xml";
const LINES: &str = "UDCal_12.xml";
const REGROUPINGS: &str = "UDCal_13.xml";
const GROUPS: &str = "UDCal_19.xml";
const COTEACHING: &str = "UDCal_23.xml";
const CALENDAR: &str = "UDCal_24.xml";
const PUBLISHED: &str = "semaines.xml";

/// The files Carnet reads: name, what it holds, its records' elements, whether an
/// export must have it.
const FILES: [(&str, &str, &[&str], bool); 13] = [
    (PARAMETERS, "parameters", &["init"], false),
    (ROOMS, "rooms", &["salle"], false),
    (TEACHERS, "teachers", &["prof"], true),
    (SUBJECTS, "subjects", &["mat"], true),
    (SLOTS, "half-sequences", &["demi_seq"], true),
    (DIVISIONS, "divisions", &["div"], true),
    (CARDS, "fiches-T", &["fiche"], true),
    (LINES, "lines of fiches-T", &["ligfiche"], true),
    (REGROUPINGS, "regroupements", &["rgpmt"], false),
    (GROUPS, "groups", &["gpe"], false),
    (COTEACHING, "co-teachings", &["coens"], false),
    (
        CALENDAR,
        "calendar",
        &["debut_eleve", "fin_eleve", "fermeture"],
        false,
    ),
    (PUBLISHED, "published weeks", &["semaine"], false),
];

const WEEKDAYS: [Weekday; 6] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
];

/// Reads a UDT export; every problem is listed.
pub fn read(bundle: &Bundle) -> Result<TimetableFile, ImportError> {
    let mut problems = Vec::new();
    let export = Export::load(bundle, &mut problems);
    if !problems.is_empty() {
        return Err(ImportError::Invalid(problems));
    }
    let tables = Tables::read(&export, &mut problems);
    let mut notes = Vec::new();
    let sample = sample(&export, &tables, &mut problems, &mut notes);
    let mut classes: BTreeMap<String, Row<ClassRow>> = tables
        .divisions
        .iter()
        .map(|(code, at)| {
            let level = crate::mef::level(None, None, code);
            (
                code.clone(),
                Row {
                    at: at.clone(),
                    value: ClassRow::Division { level },
                },
            )
        })
        .collect();
    let (lessons, skipped) = lessons::read(&export, &tables, &sample, &mut classes, &mut problems);
    if !problems.is_empty() {
        return Err(ImportError::Invalid(problems));
    }
    if skipped > 0 {
        notes.push(format!(
            "{skipped} line(s) of {LINES} name no division or no subject (UDT's duties \
             outside classes): left aside"
        ));
    }
    notes.push(
        "UDT's students (UDCal_10) and their groups (UDCal_21) are not read: Carnet's \
         students come from SIECLE"
            .into(),
    );
    Ok(TimetableFile {
        format: FORMAT,
        classes,
        lessons,
        rows: export.records(LINES).len(),
        notes,
    })
}

/// The published weeks of the weekly timetables, for weeks A and B (see weeks.rs).
fn sample(
    export: &Export<'_>,
    tables: &Tables,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<String>,
) -> weeks::Sample {
    let mut sample = weeks::Sample::default();
    if export.weekly.is_empty() {
        notes.push(format!(
            "the export has no weekly timetable (UDCal_12_NN.xml): every lesson of {LINES} \
             is held every week"
        ));
        return sample;
    }
    let Some(calendar) = weeks::Calendar::read(export.records(CALENDAR), problems) else {
        notes.push(format!(
            "without UDT's calendar ({CALENDAR}), weeks A and B are not told apart: every \
             lesson is held every week"
        ));
        return sample;
    };
    let published: BTreeSet<u32> = export
        .records(PUBLISHED)
        .iter()
        .filter_map(|r| r.get("num").and_then(number))
        .collect();
    let mut ignored = Vec::new();
    for (week, lines) in &export.weekly {
        let monday = calendar.monday(*week);
        match monday {
            Some(monday) if published.is_empty() || published.contains(week) => {
                let held = lines
                    .iter()
                    .filter_map(|r| lessons::key_of(r, tables))
                    .collect();
                sample.add(&calendar, monday, held);
            }
            _ => ignored.push(week.to_string()),
        }
    }
    notes.push(format!(
        "weeks A and B told apart by {} published week(s) of the weekly timetables",
        sample.len()
    ));
    if !ignored.is_empty() {
        notes.push(format!(
            "weekly timetables of weeks {} are not in {PUBLISHED}: left aside",
            ignored.join(", ")
        ));
    }
    sample
}

/// The records of the export's files, by file.
struct Export<'b> {
    files: BTreeMap<&'static str, Vec<Record<'b>>>,
    /// The weekly timetables: ISO week, its lines.
    weekly: Vec<(u32, Vec<Record<'b>>)>,
}

impl<'b> Export<'b> {
    fn load(bundle: &'b Bundle, problems: &mut Vec<Problem>) -> Self {
        let mut files = BTreeMap::new();
        for (name, what, elements, required) in FILES {
            match bundle.file(name) {
                Some(source) => {
                    files.insert(name, records::read(source, elements, problems));
                }
                None if required => problems.push(Problem {
                    file: bundle.name.clone(),
                    at: Location::File,
                    field: name.to_string(),
                    rule: format!("a UDT export holds {name} ({what}); this one has none"),
                }),
                None => {}
            }
        }
        let mut weekly = Vec::new();
        for (name, source) in &bundle.files {
            let week = name
                .strip_prefix("udcal_12_")
                .and_then(|w| w.strip_suffix(".xml"))
                .filter(|w| w.len() == 2)
                .and_then(|w| w.parse::<u32>().ok());
            if let Some(week) = week.filter(|w| (1..=53).contains(w)) {
                weekly.push((week, records::read(source, &["ligfiche"], problems)));
            }
        }
        Export { files, weekly }
    }

    fn records(&self, file: &str) -> &[Record<'b>] {
        self.files.get(file).map(Vec::as_slice).unwrap_or_default()
    }
}

/// Records by their `code`, each code once.
fn by_code<'r, 'b>(
    records: &'r [Record<'b>],
    what: &str,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, &'r Record<'b>> {
    let mut found = BTreeMap::new();
    for record in records {
        match record.get("code") {
            Some(code) if found.contains_key(code) => {
                problems.push(record.problem("code", format!("{what} {code} is given twice")))
            }
            Some(code) => {
                found.insert(code.to_string(), record);
            }
            None => problems.push(record.problem("code", format!("the {what} has no code"))),
        }
    }
    found
}

/// What the lines refer to, read.
struct Tables {
    /// Half-sequences' times by place.
    slots: Slots,
    cards: BTreeMap<String, Place>,
    /// Fiches-T with a problem of their own: lines on them are not reported again.
    broken_cards: BTreeSet<String>,
    teachers: BTreeMap<String, String>,
    subjects: BTreeMap<String, String>,
    /// `None` when the export has no rooms' file: lines name rooms by code.
    rooms: Option<BTreeMap<String, String>>,
    divisions: BTreeMap<String, Location>,
    /// Groups' codes by (division, UDT's group code).
    groups: BTreeMap<(String, String), String>,
    /// Regroupements by code: name, divisions, where first defined.
    regroupings: BTreeMap<String, (String, Vec<String>, Location)>,
    /// Co-teachers' codes by line code.
    coteachers: BTreeMap<String, Vec<String>>,
}

impl Tables {
    fn read(export: &Export<'_>, problems: &mut Vec<Problem>) -> Self {
        let divisions = by_code(export.records(DIVISIONS), "division", problems)
            .into_iter()
            .map(|(code, r)| (code, r.at.clone()))
            .collect();
        let teachers = by_code(export.records(TEACHERS), "teacher", problems)
            .into_iter()
            .map(|(code, r)| (code.clone(), teacher_name(r, &code)))
            .collect();
        let subjects = by_code(export.records(SUBJECTS), "subject", problems)
            .into_iter()
            .map(|(code, r)| (code.clone(), r.get("libelle").unwrap_or(&code).to_string()))
            .collect();
        let rooms = export.files.contains_key(ROOMS).then(|| {
            by_code(export.records(ROOMS), "room", problems)
                .into_iter()
                .map(|(code, r)| (code.clone(), r.get("nom").unwrap_or(&code).to_string()))
                .collect()
        });
        let slots = places::slots(export, problems);
        let (cards, broken_cards) = places::cards(export, &slots, problems);
        let mut tables = Tables {
            slots,
            cards,
            broken_cards,
            teachers,
            subjects,
            rooms,
            divisions,
            groups: BTreeMap::new(),
            regroupings: BTreeMap::new(),
            coteachers: BTreeMap::new(),
        };
        tables.read_groups(export, problems);
        for record in export.records(COTEACHING) {
            match (record.get("lignefic"), record.get("prof")) {
                (Some(line), Some(prof)) if tables.teachers.contains_key(prof) => tables
                    .coteachers
                    .entry(line.to_string())
                    .or_default()
                    .push(prof.to_string()),
                (Some(_), Some(prof)) => problems.push(record.problem(
                    "prof",
                    format!("teacher {prof} is not among {TEACHERS}'s teachers"),
                )),
                _ => problems
                    .push(record.problem("lignefic", "a co-teaching names a line and a teacher")),
            }
        }
        tables
    }

    fn read_groups(&mut self, export: &Export<'_>, problems: &mut Vec<Problem>) {
        for record in export.records(GROUPS) {
            let (Some(division), Some(code)) = (record.get("code_div"), record.get("code")) else {
                problems.push(record.problem("code", "a group names its division and its code"));
                continue;
            };
            let name = record
                .get("code_sts")
                .map_or_else(|| format!("{division}-{code}"), str::to_string);
            self.groups
                .insert((division.to_string(), code.to_string()), name);
        }
        for record in export.records(REGROUPINGS) {
            let Some(code) = record.get("code") else {
                problems.push(record.problem("code", "the regroupement has no code"));
                continue;
            };
            let division = record.or_empty("code_div");
            if !self.divisions.contains_key(division) {
                problems.push(record.problem(
                    "code_div",
                    format!("division `{division}` is not among {DIVISIONS}'s divisions"),
                ));
                continue;
            }
            let name = record.get("nom").unwrap_or(code).to_string();
            let entry = self
                .regroupings
                .entry(code.to_string())
                .or_insert_with(|| (name, Vec::new(), record.at.clone()));
            if !entry.1.iter().any(|d| d == division) {
                entry.1.push(division.to_string());
            }
        }
    }
}

/// A teacher's name as UDT holds it: first name and name, or name, or code.
fn teacher_name(record: &Record<'_>, code: &str) -> String {
    match (record.get("prenom"), record.get("nom")) {
        (Some(first), Some(last)) => format!("{first} {last}"),
        (None, Some(last)) => last.to_string(),
        _ => code.to_string(),
    }
}
