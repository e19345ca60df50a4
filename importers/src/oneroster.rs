//! OneRoster 1.2 CSV bulk bundles: the international roster standard of 1EdTech (IMS
//! Global), "OneRoster: CSV Binding" version 1.2
//! (<https://www.imsglobal.org/spec/oneroster/v1p2/bind/csv>, section 4 "CSV Files" gives
//! each file's columns, in order; section 3 the manifest, bulk and delta modes).
//!
//! A bundle is a directory, or a zip, of CSV files with a header line. Carnet reads, by
//! column name (a column's place does not matter, unknown columns are left aside):
//!
//! ```text
//! manifest.csv          propertyName,value (manifest.version, oneroster.version = 1.2,
//!                       file.<name> = bulk | delta | absent for each file below)
//! orgs.csv              sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId
//! academicSessions.csv  sourcedId,status,dateLastModified,title,type,startDate,endDate,
//!                       parentSourcedId,schoolYear
//! courses.csv           sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,
//!                       grades,orgSourcedId,subjects,subjectCodes
//! classes.csv           sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,
//!                       classType,location,schoolSourcedId,termSourcedIds,subjects,
//!                       subjectCodes,periods
//! users.csv             sourcedId,status,dateLastModified,enabledUser,username,userIds,
//!                       givenName,familyName,middleName,identifier,email,sms,phone,
//!                       agentSourcedIds,grades,password,userMasterIdentifier,
//!                       resourceSourcedIds,preferredGivenName,preferredMiddleName,
//!                       preferredFamilyName,primaryOrgSourcedId,pronouns
//! roles.csv             sourcedId,status,dateLastModified,userSourcedId,roleType,role,
//!                       beginDate,endDate,orgSourcedId,userProfileSourcedId
//! enrollments.csv       sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,
//!                       userSourcedId,role,primary,beginDate,endDate
//! demographics.csv      sourcedId,status,dateLastModified,birthDate,sex,... (the sourcedId is
//!                       the user's)
//! ```
//!
//! In 1.2 a user's roles are rows of `roles.csv` (1.1 had a `role` column in users.csv).
//! Extension columns (`metadata.<name>`, which the binding allows after the standard ones)
//! carry what OneRoster has no field for, so that Carnet's own export reads back whole:
//! `metadata.carnet.level` (a homeroom's level), `metadata.carnet.divisions` and
//! `metadata.carnet.partition` (a group's), `metadata.carnet.relationship` and
//! `metadata.carnet.rights` (a guardian's), `metadata.carnet.erased` (a person whose
//! personal data was erased: not imported).
//!
//! How it maps onto Carnet:
//! - the one org of type `school` is the establishment, its `identifier` the UAI;
//! - the one academicSession of type `schoolYear` is the school year (by its startDate);
//! - a course with one `subjectCodes` entry is a subject: six-digit BCN codes only;
//! - a `homeroom` class is a division (its id the classCode, else the sourcedId); a
//!   `scheduled` class whose classCode is a homeroom's is the teaching of that division,
//!   any other is a group drawn from its students' divisions;
//! - users with role `student` are students: INE from `identifier` (or a `{INE:...}` of
//!   `userIds`), birth date from demographics.csv, division and groups from their
//!   enrollments; `teacher`, `counselor` (CPE), `aide` (AED), `principal`,
//!   `siteAdministrator`/`administrator` (secretariat) are staff with those roles; a
//!   teacher's enrollment in a class is a service of the class's subject;
//! - `parent`, `guardian` and `relative` users are guardians of the students their
//!   `agentSourcedIds` name (or whose `agentSourcedIds` name them);
//! - a `{ENT:...}`, `{ENTPersonJointure:...}` or `{externalId:...}` entry of a student's,
//!   staff member's or guardian's `userIds` is the identifier the ENT signs them in
//!   with: linked to them (its type recorded as the scheme), so their ENT token finds
//!   them.
//!
//! Carnet reads bulk bundles only: a file the manifest marks `delta` is refused. A
//! problem, and an event's provenance, name the bundle as the file and the CSV file of
//! the bundle as the element of the line (`oneroster.zip: line 12 (users.csv):
//! identifier: ...`; metadata `import.element` = `users.csv`, `import.line` = 12).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use carnet_domain::enrolment::{
    ClassRef, DivisionSpec, ExternalId, GroupSpec, GuardianRights, Identity, Ine, Role, SchoolYear,
    Service, SubjectCode,
};
use carnet_domain::personal::school_year_of;
use carnet_domain::Uai;
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::limits;
use crate::report::{ImportError, Location, Problem};
use crate::roster::{
    ExternalIdRow, GuardianRow, Holder, Roster, Row, StaffRow, StudentRow, SubjectRow,
};
use crate::source::SourceFile;

pub const FORMAT: &str = "oneroster";

/// The files of a bundle Carnet reads, and whether it needs them.
const FILES: [(&str, bool); 9] = [
    ("manifest", true),
    ("orgs", true),
    ("academicSessions", true),
    ("courses", true),
    ("classes", true),
    ("users", true),
    ("roles", true),
    ("enrollments", true),
    ("demographics", false),
];

/// The extension columns of Carnet (see the module's documentation).
pub const LEVEL: &str = "metadata.carnet.level";
pub const DIVISIONS: &str = "metadata.carnet.divisions";
pub const PARTITION: &str = "metadata.carnet.partition";
pub const RELATIONSHIP: &str = "metadata.carnet.relationship";
pub const RIGHTS: &str = "metadata.carnet.rights";
pub const ERASED: &str = "metadata.carnet.erased";

/// The CSV files of a bundle, decoded, with the bundle's name and SHA-256 (the
/// provenance its events carry).
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The directory's or the zip's name.
    pub name: String,
    /// A zip: the SHA-256 of its bytes. A directory: the SHA-256 of its CSV files' names
    /// and SHA-256s, one `name sha256` line each, in name order.
    pub sha256: String,
    /// By file name (`users.csv`).
    pub files: BTreeMap<String, SourceFile>,
}

impl Bundle {
    /// Reads a directory of CSV files, or a zip of them.
    pub fn read(path: &Path) -> Result<Self, ImportError> {
        let io = |e: std::io::Error| ImportError::Io {
            file: path.display().to_string(),
            reason: e.to_string(),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        if path.is_dir() {
            let mut files = Vec::new();
            for entry in std::fs::read_dir(path).map_err(io)? {
                let entry = entry.map_err(io)?;
                let file_name = entry.file_name().to_string_lossy().into_owned();
                if entry.path().is_file() && file_name.to_ascii_lowercase().ends_with(".csv") {
                    files.push((file_name, crate::source::read_bounded(&entry.path())?));
                }
            }
            Self::from_files(&name, files)
        } else {
            let bytes = crate::source::read_bounded(path)?;
            Self::from_zip(&name, &bytes)
        }
    }

    /// The CSV files of a zip (at its root or in one folder).
    pub fn from_zip(name: &str, bytes: &[u8]) -> Result<Self, ImportError> {
        let files = limits::unzip(name, bytes, |base| {
            base.to_ascii_lowercase().ends_with(".csv") && !base.starts_with('.')
        })?;
        let mut bundle = Self::from_files(name, files)?;
        bundle.sha256 = hex::encode(Sha256::digest(bytes));
        Ok(bundle)
    }

    /// A bundle of the files given (name, bytes).
    pub fn from_files(name: &str, files: Vec<(String, Vec<u8>)>) -> Result<Self, ImportError> {
        let mut decoded = BTreeMap::new();
        let mut problems = Vec::new();
        for (file, bytes) in files {
            match SourceFile::from_bytes(&file, &bytes) {
                Ok(source) => {
                    if decoded.insert(file.clone(), source).is_some() {
                        problems.push(Problem {
                            file: name.to_string(),
                            at: Location::File,
                            field: file,
                            rule: "the bundle holds two files of this name".into(),
                        });
                    }
                }
                Err(ImportError::Invalid(p)) => problems.extend(p.into_iter().map(|p| Problem {
                    file: name.to_string(),
                    field: format!("{} {}", p.file, p.field),
                    ..p
                })),
                Err(other) => return Err(other),
            }
        }
        if !problems.is_empty() {
            return Err(ImportError::Invalid(problems));
        }
        let mut digest = Sha256::new();
        for (file, source) in &decoded {
            digest.update(format!("{file} {}\n", source.sha256));
        }
        Ok(Bundle {
            name: name.to_string(),
            sha256: hex::encode(digest.finalize()),
            files: decoded,
        })
    }

    /// The encoding of the files: theirs if they share one, else `mixed`.
    pub fn encoding(&self) -> &'static str {
        let encodings: BTreeSet<&'static str> = self.files.values().map(|f| f.encoding).collect();
        match encodings.into_iter().collect::<Vec<_>>().as_slice() {
            [one] => one,
            [] => "UTF-8",
            _ => "mixed",
        }
    }

    fn file(&self, stem: &str) -> Option<&SourceFile> {
        let wanted = format!("{stem}.csv");
        self.files.get(&wanted).or_else(|| {
            // Windows tools are not always careful about case.
            self.files
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&wanted))
                .map(|(_, f)| f)
        })
    }
}

/// One data line of a CSV file.
struct Record {
    line: u32,
    fields: csv::StringRecord,
}

/// A CSV file of the bundle, its columns by name.
struct Table {
    file: String,
    columns: HashMap<String, usize>,
    /// Required columns the header lacks (already reported: their values read as blank).
    missing: BTreeSet<String>,
    records: Vec<Record>,
}

impl Table {
    /// The trimmed value of `column` on `record`, if not blank.
    fn get<'r>(&self, record: &'r Record, column: &str) -> Option<&'r str> {
        let index = *self.columns.get(column)?;
        record
            .fields
            .get(index)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    fn at(&self, record: &Record) -> Location {
        Location::Element {
            path: self.file.clone(),
            line: record.line,
        }
    }
}

/// What the reader has found wrong, and left aside.
struct Reader<'a> {
    bundle: &'a Bundle,
    problems: Vec<Problem>,
    notes: Vec<String>,
    rows: usize,
}

impl Reader<'_> {
    fn problem(&mut self, at: Location, field: &str, rule: impl Into<String>) {
        self.problems.push(Problem {
            file: self.bundle.name.clone(),
            at,
            field: field.to_string(),
            rule: rule.into(),
        });
    }

    /// The file `stem`.csv, with the columns Carnet requires of it (each one missing is a
    /// problem, and reads as blank). `None` (with the problem) when the file is missing,
    /// empty or its header unreadable.
    fn table(&mut self, stem: &str, required: &[&str], needed: bool) -> Option<Table> {
        let file = format!("{stem}.csv");
        let Some(source) = self.bundle.file(stem) else {
            if needed {
                self.problem(
                    Location::File,
                    &file,
                    "the bundle has no such file, which Carnet needs",
                );
            }
            return None;
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(source.text.as_bytes());
        let header_at = Location::Element {
            path: file.clone(),
            line: 1,
        };
        let headers = match reader.headers() {
            Ok(h) if !h.is_empty() && h.iter().any(|c| !c.trim().is_empty()) => h.clone(),
            Ok(_) => {
                self.problem(
                    header_at,
                    "header",
                    "the file is empty: it has no header line",
                );
                return None;
            }
            Err(e) => {
                self.problem(header_at, "header", format!("unreadable CSV: {e}"));
                return None;
            }
        };
        let columns: HashMap<String, usize> = headers
            .iter()
            .enumerate()
            .map(|(i, c)| (c.trim().to_string(), i))
            .collect();
        let mut missing = BTreeSet::new();
        for column in required {
            if !columns.contains_key(*column) {
                self.problem(
                    header_at.clone(),
                    column,
                    format!("the column is missing from the header of {file}"),
                );
                missing.insert(column.to_string());
            }
        }
        let mut records = Vec::new();
        let mut dropped = 0;
        for result in reader.records() {
            match result {
                Ok(fields) => {
                    let line = fields
                        .position()
                        .map_or(0, |p| u32::try_from(p.line()).unwrap_or(u32::MAX));
                    let at = Location::Element {
                        path: file.clone(),
                        line,
                    };
                    if fields.len() != headers.len() {
                        self.problem(
                            at,
                            "line",
                            format!(
                                "the line has {} field(s) where the header has {}: is the file cut short?",
                                fields.len(),
                                headers.len()
                            ),
                        );
                        continue;
                    }
                    let record = Record { line, fields };
                    let status = columns
                        .get("status")
                        .and_then(|i| record.fields.get(*i))
                        .map(str::trim)
                        .unwrap_or("");
                    if status.eq_ignore_ascii_case("tobedeleted") {
                        dropped += 1;
                        continue;
                    }
                    self.rows += 1;
                    records.push(record);
                }
                Err(e) => {
                    let line = e
                        .position()
                        .map_or(0, |p| u32::try_from(p.line()).unwrap_or(u32::MAX));
                    self.problem(
                        Location::Element {
                            path: file.clone(),
                            line,
                        },
                        "line",
                        format!("unreadable CSV: {e}"),
                    );
                }
            }
        }
        if dropped > 0 {
            self.notes.push(format!(
                "{file}: {dropped} record(s) of status tobedeleted left aside"
            ));
        }
        Some(Table {
            file,
            columns,
            missing,
            records,
        })
    }

    /// The value of `column`, a problem when it is blank.
    fn required<'r>(&mut self, t: &Table, r: &'r Record, column: &str) -> Option<&'r str> {
        let value = t.get(r, column);
        if value.is_none() && !t.missing.contains(column) {
            self.problem(t.at(r), column, "the value is missing");
        }
        value
    }

    /// The records of `t` by sourcedId; a problem for each id used twice or missing.
    fn by_id<'t>(&mut self, t: &'t Table) -> BTreeMap<String, &'t Record> {
        let mut ids: BTreeMap<String, &Record> = BTreeMap::new();
        for r in &t.records {
            let Some(id) = self.required(t, r, "sourcedId") else {
                continue;
            };
            if let Some(first) = ids.get(id) {
                let rule = format!(
                    "sourcedId {id} is used twice in {} (first at line {})",
                    t.file, first.line
                );
                self.problem(t.at(r), "sourcedId", rule);
                continue;
            }
            ids.insert(id.to_string(), r);
        }
        ids
    }

    /// A date written as ISO 8601 (`2026-09-01`, or the date part of a date-time).
    fn date(&mut self, t: &Table, r: &Record, column: &str) -> Result<Option<NaiveDate>, ()> {
        let Some(value) = t.get(r, column) else {
            return Ok(None);
        };
        let day = value.get(..10).unwrap_or(value);
        match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
            Ok(date) => Ok(Some(date)),
            Err(_) => {
                self.problem(
                    t.at(r),
                    column,
                    format!("`{value}` is not a date written YYYY-MM-DD"),
                );
                Err(())
            }
        }
    }

    /// Checks that `reference` of `column` names a record of `targets` (in `file`).
    fn known<T>(
        &mut self,
        t: &Table,
        r: &Record,
        column: &str,
        reference: &str,
        targets: &BTreeMap<String, T>,
        file: &str,
    ) -> bool {
        if targets.contains_key(reference) {
            return true;
        }
        self.problem(
            t.at(r),
            column,
            format!("{reference} is not a sourcedId of {file}"),
        );
        false
    }
}

/// A list field: values separated by commas (the binding's lists), blanks left out.
fn list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(|v| v.trim().trim_matches(['"', '[', ']']).trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The `{type:identifier}` entries of `userIds`.
fn user_ids(value: Option<&str>) -> Vec<(String, String)> {
    list(value)
        .into_iter()
        .filter_map(|entry| {
            let inner = entry.trim_matches(['{', '}']);
            let (kind, id) = inner.split_once(':')?;
            Some((kind.trim().to_string(), id.trim().to_string()))
        })
        .collect()
}

/// The `userIds` types that carry the identifier an ENT signs a person in with: Open ENT
/// NG's `externalId`, the AAF's `ENTPersonJointure`, or plainly `ENT`.
const ENT_ID_TYPES: [&str; 3] = ["ENT", "ENTPersonJointure", "externalId"];

/// The ENT identifiers among a user's `userIds`, as `holder`'s.
fn ent_ids(user: &User, holder: &Holder) -> Vec<Row<ExternalIdRow>> {
    user.ids
        .iter()
        .filter(|(kind, value)| {
            !value.is_empty() && ENT_ID_TYPES.iter().any(|t| t.eq_ignore_ascii_case(kind))
        })
        .map(|(kind, value)| Row {
            at: user.at.clone(),
            value: ExternalIdRow {
                holder: holder.clone(),
                identifier: ExternalId {
                    scheme: kind.clone(),
                    value: value.clone(),
                },
            },
        })
        .collect()
}

/// The OneRoster grade (CEDS "Entry Grade Level") of a French level, and back.
pub const GRADES: [(&str, &str); 7] = [
    ("6e", "06"),
    ("5e", "07"),
    ("4e", "08"),
    ("3e", "09"),
    ("2nde", "10"),
    ("1re", "11"),
    ("Tle", "12"),
];

pub fn grade_of(level: &str) -> Option<&'static str> {
    GRADES.iter().find(|(l, _)| *l == level).map(|(_, g)| *g)
}

fn level_of_grade(grade: &str) -> Option<&'static str> {
    GRADES.iter().find(|(_, g)| *g == grade).map(|(l, _)| *l)
}

/// Carnet's role for a OneRoster staff role (1.2's vocabulary, and 1.1's
/// `administrator`), and back.
pub fn role_of(role: &str) -> Option<Role> {
    Some(match role {
        "teacher" => Role::Teacher,
        "counselor" => Role::Cpe,
        "aide" => Role::Aed,
        "principal" => Role::Principal,
        "siteAdministrator" | "administrator" => Role::Secretariat,
        _ => return None,
    })
}

pub fn oneroster_role(role: Role) -> &'static str {
    match role {
        Role::Teacher => "teacher",
        Role::Cpe => "counselor",
        Role::Aed => "aide",
        Role::Principal => "principal",
        Role::Secretariat => "siteAdministrator",
    }
}

const GUARDIAN_ROLES: [&str; 3] = ["parent", "guardian", "relative"];

/// Guardian rights written as the words of those granted: `see justify notified`.
pub fn rights_text(rights: GuardianRights) -> String {
    let words = [
        (rights.see, "see"),
        (rights.justify, "justify"),
        (rights.notified, "notified"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, word)| word)
    .collect::<Vec<_>>()
    .join(" ");
    if words.is_empty() {
        "none".into()
    } else {
        words
    }
}

fn parse_rights(text: &str) -> Option<GuardianRights> {
    let mut rights = GuardianRights::default();
    for word in text.split_whitespace() {
        match word {
            "see" => rights.see = true,
            "justify" => rights.justify = true,
            "notified" => rights.notified = true,
            "none" => {}
            _ => return None,
        }
    }
    Some(rights)
}

struct Class {
    id: String,
    title: String,
    homeroom: bool,
    course: String,
    subject: Option<SubjectCode>,
    grades: Vec<String>,
    at: Location,
    level: Option<String>,
    divisions: Option<Vec<String>>,
    partition: Option<String>,
}

struct Course {
    title: String,
    code: Option<String>,
    subject: Option<SubjectCode>,
    at: Location,
}

struct User {
    at: Location,
    given: Option<String>,
    family: Option<String>,
    identifier: Option<String>,
    ids: Vec<(String, String)>,
    agents: Vec<String>,
    relationship: Option<String>,
    rights: Option<String>,
    erased: bool,
}

impl User {
    fn name(&self) -> String {
        [self.given.as_deref(), self.family.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

struct Enrollment {
    at: Location,
    class: String,
    user: String,
    role: String,
    begin: Option<NaiveDate>,
    end: Option<NaiveDate>,
}

/// Reads a OneRoster 1.2 bulk bundle; every problem of every file is listed.
pub fn read(bundle: &Bundle, today: NaiveDate) -> Result<Roster, ImportError> {
    let mut reader = Reader {
        bundle,
        problems: Vec::new(),
        notes: Vec::new(),
        rows: 0,
    };
    let r = &mut reader;
    manifest(r);
    let tables: BTreeMap<&str, Option<Table>> = FILES
        .iter()
        .filter(|(stem, _)| *stem != "manifest")
        .map(|(stem, needed)| {
            let required: &[&str] = match *stem {
                "orgs" => &["sourcedId", "name", "type", "identifier"],
                "academicSessions" => &["sourcedId", "title", "type", "startDate", "endDate"],
                "courses" => &["sourcedId", "title", "orgSourcedId", "subjectCodes"],
                "classes" => &[
                    "sourcedId",
                    "title",
                    "courseSourcedId",
                    "classType",
                    "schoolSourcedId",
                    "termSourcedIds",
                ],
                "users" => &[
                    "sourcedId",
                    "enabledUser",
                    "givenName",
                    "familyName",
                    "identifier",
                ],
                "roles" => &[
                    "sourcedId",
                    "userSourcedId",
                    "roleType",
                    "role",
                    "orgSourcedId",
                ],
                "enrollments" => &[
                    "sourcedId",
                    "classSourcedId",
                    "schoolSourcedId",
                    "userSourcedId",
                    "role",
                ],
                _ => &["sourcedId", "birthDate"],
            };
            (*stem, r.table(stem, required, *needed))
        })
        .collect();
    let (
        Some(Some(orgs)),
        Some(Some(sessions)),
        Some(Some(courses)),
        Some(Some(classes)),
        Some(Some(users)),
        Some(Some(roles)),
        Some(Some(enrollments)),
    ) = (
        tables.get("orgs"),
        tables.get("academicSessions"),
        tables.get("courses"),
        tables.get("classes"),
        tables.get("users"),
        tables.get("roles"),
        tables.get("enrollments"),
    )
    else {
        return Err(ImportError::Invalid(reader.problems));
    };
    let demographics = tables.get("demographics").and_then(Option::as_ref);

    // orgs: the school.
    let org_ids = r.by_id(orgs);
    let mut school: Option<(String, Location, Option<Uai>)> = None;
    for (id, rec) in &org_ids {
        if orgs.get(rec, "type") != Some("school") {
            continue;
        }
        let at = orgs.at(rec);
        if let Some((first, ..)) = &school {
            let rule = format!(
                "Carnet imports one establishment per bundle: orgs {first} and {id} are both schools"
            );
            r.problem(at, "type", rule);
            continue;
        }
        let uai = match r.required(orgs, rec, "identifier") {
            Some(code) => match Uai::parse(code) {
                Ok(uai) => Some(uai),
                Err(e) => {
                    r.problem(at.clone(), "identifier", format!("{e} (the school's UAI)"));
                    None
                }
            },
            None => None,
        };
        school = Some((id.clone(), at, uai));
    }
    if school.is_none() && !org_ids.is_empty() {
        r.problem(
            Location::File,
            "orgs.csv",
            "no org is of type school: Carnet imports one school",
        );
    }

    // academicSessions: the school year.
    let session_ids = r.by_id(sessions);
    let mut year: Option<(String, SchoolYear, NaiveDate)> = None;
    for (id, rec) in &session_ids {
        let begins = r.date(sessions, rec, "startDate");
        let ends = r.date(sessions, rec, "endDate");
        if sessions.get(rec, "type") != Some("schoolYear") {
            continue;
        }
        let (Ok(Some(begins)), Ok(Some(ends))) = (begins, ends) else {
            if sessions.get(rec, "startDate").is_none() || sessions.get(rec, "endDate").is_none() {
                r.problem(
                    sessions.at(rec),
                    "startDate",
                    "the school year needs its start and end dates",
                );
            }
            continue;
        };
        let school_year = school_year_of(begins);
        if let Some(named) = sessions.get(rec, "schoolYear") {
            let first = school_year.first_year();
            if named != first.to_string() && named != (first + 1).to_string() {
                r.problem(
                    sessions.at(rec),
                    "schoolYear",
                    format!("`{named}` is not the year of a session starting on {begins}"),
                );
            }
        }
        if let Some((first, ..)) = &year {
            let rule = format!(
                "Carnet imports one school year per bundle: sessions {first} and {id} are both school years"
            );
            r.problem(sessions.at(rec), "type", rule);
            continue;
        }
        year = Some((id.clone(), school_year, ends));
    }
    if year.is_none() && !session_ids.is_empty() {
        r.problem(
            Location::File,
            "academicSessions.csv",
            "no academicSession is of type schoolYear",
        );
    }

    // courses: the subjects.
    let mut course_map: BTreeMap<String, Course> = BTreeMap::new();
    for (id, rec) in r.by_id(courses) {
        let title = r.required(courses, rec, "title").unwrap_or_default();
        if let Some(org) = courses.get(rec, "orgSourcedId") {
            r.known(courses, rec, "orgSourcedId", org, &org_ids, "orgs.csv");
        }
        let codes = list(courses.get(rec, "subjectCodes"));
        let subject = subject_of(r, courses, rec, &codes);
        course_map.insert(
            id,
            Course {
                title: title.to_string(),
                code: courses.get(rec, "courseCode").map(str::to_string),
                subject,
                at: courses.at(rec),
            },
        );
    }

    // classes: divisions and groups.
    let mut class_map: BTreeMap<String, Class> = BTreeMap::new();
    for (id, rec) in r.by_id(classes) {
        let title = r.required(classes, rec, "title").unwrap_or_default();
        if let Some(course) = r.required(classes, rec, "courseSourcedId") {
            r.known(
                classes,
                rec,
                "courseSourcedId",
                course,
                &course_map,
                "courses.csv",
            );
        }
        if let Some(org) = r.required(classes, rec, "schoolSourcedId") {
            r.known(classes, rec, "schoolSourcedId", org, &org_ids, "orgs.csv");
        }
        for term in list(classes.get(rec, "termSourcedIds")) {
            r.known(
                classes,
                rec,
                "termSourcedIds",
                &term,
                &session_ids,
                "academicSessions.csv",
            );
        }
        let homeroom = match classes.get(rec, "classType") {
            Some("homeroom") => true,
            Some("scheduled") => false,
            other => {
                r.problem(
                    classes.at(rec),
                    "classType",
                    format!(
                        "`{}` is neither homeroom nor scheduled",
                        other.unwrap_or_default()
                    ),
                );
                continue;
            }
        };
        let codes = list(classes.get(rec, "subjectCodes"));
        let subject = subject_of(r, classes, rec, &codes);
        class_map.insert(
            id.clone(),
            Class {
                id: classes.get(rec, "classCode").unwrap_or(&id).to_string(),
                title: title.to_string(),
                homeroom,
                course: classes
                    .get(rec, "courseSourcedId")
                    .unwrap_or_default()
                    .to_string(),
                subject,
                grades: list(classes.get(rec, "grades")),
                at: classes.at(rec),
                level: classes.get(rec, LEVEL).map(str::to_string),
                divisions: classes.get(rec, DIVISIONS).map(|d| list(Some(d))),
                partition: classes.get(rec, PARTITION).map(str::to_string),
            },
        );
    }
    let mut homerooms: BTreeMap<String, Location> = BTreeMap::new();
    for class in class_map.values().filter(|c| c.homeroom) {
        if let Some(first) = homerooms.get(&class.id) {
            let rule = format!(
                "two homeroom classes have classCode {} (first at {first})",
                class.id
            );
            r.problem(class.at.clone(), "classCode", rule);
            continue;
        }
        homerooms.insert(class.id.clone(), class.at.clone());
    }

    // users and their roles.
    let mut user_map: BTreeMap<String, User> = BTreeMap::new();
    for (id, rec) in r.by_id(users) {
        let given = users.get(rec, "givenName").map(str::to_string);
        let family = users.get(rec, "familyName").map(str::to_string);
        let erased = users
            .get(rec, ERASED)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if family.is_none() && !erased {
            r.problem(users.at(rec), "familyName", "the value is missing");
        }
        user_map.insert(
            id,
            User {
                at: users.at(rec),
                given,
                family,
                identifier: users.get(rec, "identifier").map(str::to_string),
                ids: user_ids(users.get(rec, "userIds")),
                agents: list(users.get(rec, "agentSourcedIds")),
                relationship: users.get(rec, RELATIONSHIP).map(str::to_string),
                rights: users.get(rec, RIGHTS).map(str::to_string),
                erased,
            },
        );
    }
    for user in user_map.values() {
        for agent in &user.agents {
            if !user_map.contains_key(agent) {
                r.problem(
                    user.at.clone(),
                    "agentSourcedIds",
                    format!("{agent} is not a sourcedId of users.csv"),
                );
            }
        }
    }
    let mut user_roles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, rec) in r.by_id(roles) {
        let (Some(user), Some(role)) = (
            r.required(roles, rec, "userSourcedId"),
            r.required(roles, rec, "role"),
        ) else {
            continue;
        };
        let known_user = r.known(roles, rec, "userSourcedId", user, &user_map, "users.csv");
        if let Some(org) = r.required(roles, rec, "orgSourcedId") {
            r.known(roles, rec, "orgSourcedId", org, &org_ids, "orgs.csv");
        }
        if known_user {
            user_roles
                .entry(user.to_string())
                .or_default()
                .push(role.to_string());
        }
    }

    for (id, user) in &user_map {
        if !user_roles.contains_key(id) {
            r.problem(
                user.at.clone(),
                "sourcedId",
                format!("user {id} has no role in roles.csv"),
            );
        }
    }

    // demographics: birth dates.
    let mut births: BTreeMap<String, NaiveDate> = BTreeMap::new();
    // Students whose birth date is wrong in demographics.csv (reported there already).
    let mut bad_births: BTreeSet<String> = BTreeSet::new();
    if let Some(demographics) = demographics {
        for (id, rec) in r.by_id(demographics) {
            if !r.known(demographics, rec, "sourcedId", &id, &user_map, "users.csv") {
                continue;
            }
            match r.date(demographics, rec, "birthDate") {
                Ok(Some(birth)) => {
                    births.insert(id, birth);
                }
                Ok(None) => {}
                Err(()) => {
                    bad_births.insert(id);
                }
            }
        }
    }

    // enrollments.
    let mut enrolled: Vec<Enrollment> = Vec::new();
    for (_, rec) in r.by_id(enrollments) {
        let class = r.required(enrollments, rec, "classSourcedId");
        let user = r.required(enrollments, rec, "userSourcedId");
        let role = r.required(enrollments, rec, "role");
        let known_class = class.is_some_and(|c| {
            r.known(
                enrollments,
                rec,
                "classSourcedId",
                c,
                &class_map,
                "classes.csv",
            )
        });
        let known_user = user
            .is_some_and(|u| r.known(enrollments, rec, "userSourcedId", u, &user_map, "users.csv"));
        if let Some(org) = r.required(enrollments, rec, "schoolSourcedId") {
            r.known(
                enrollments,
                rec,
                "schoolSourcedId",
                org,
                &org_ids,
                "orgs.csv",
            );
        }
        let begin = r.date(enrollments, rec, "beginDate");
        let end = r.date(enrollments, rec, "endDate");
        let (Some(class), Some(user), Some(role), true, true, Ok(begin), Ok(end)) =
            (class, user, role, known_class, known_user, begin, end)
        else {
            continue;
        };
        enrolled.push(Enrollment {
            at: enrollments.at(rec),
            class: class.to_string(),
            user: user.to_string(),
            role: role.to_string(),
            begin,
            end,
        });
    }

    // Who is who.
    let is = |user: &str, roles: &[&str]| {
        user_roles
            .get(user)
            .is_some_and(|rs| rs.iter().any(|role| roles.contains(&role.as_str())))
    };
    let year_ends = year.as_ref().map(|(_, _, ends)| *ends);

    // Students: identity, division, groups.
    let mut students = Vec::new();
    let mut external_ids = Vec::new();
    let mut student_ine: BTreeMap<String, Ine> = BTreeMap::new();
    let mut group_members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (id, user) in &user_map {
        if !is(id, &["student"]) {
            continue;
        }
        if user.erased {
            reader.notes.push(format!(
                "{}: student {id} was erased in the source: not imported",
                user.at
            ));
            continue;
        }
        let r = &mut reader;
        let ine = user
            .identifier
            .as_deref()
            .and_then(|i| Ine::parse(i).ok())
            .or_else(|| {
                user.ids
                    .iter()
                    .find(|(kind, _)| kind.eq_ignore_ascii_case("INE"))
                    .and_then(|(_, i)| Ine::parse(i).ok())
            });
        let Some(ine) = ine else {
            let rule = match &user.identifier {
                Some(i) => format!(
                    "`{i}` is not an INE, and userIds gives none: Carnet knows a student by INE"
                ),
                None => "the student has no INE (identifier, or {INE:...} in userIds)".into(),
            };
            r.problem(user.at.clone(), "identifier", rule);
            continue;
        };
        if user.given.is_none() {
            r.problem(user.at.clone(), "givenName", "the value is missing");
        }
        let Some(birth) = births.get(id).copied() else {
            if bad_births.contains(id) {
                continue;
            }
            r.problem(
                user.at.clone(),
                "birthDate",
                format!("demographics.csv gives no birth date for student {id}"),
            );
            continue;
        };
        let mut homeroom: Option<&Enrollment> = None;
        let mut groups = Vec::new();
        for e in enrolled.iter().filter(|e| e.user == *id) {
            let Some(class) = class_map.get(&e.class) else {
                continue;
            };
            if e.role != "student" {
                r.problem(
                    e.at.clone(),
                    "role",
                    format!("student {id} is enrolled as {} in {}", e.role, class.id),
                );
                continue;
            }
            if class.homeroom {
                if homeroom.is_none_or(|h| h.begin < e.begin) {
                    homeroom = Some(e);
                }
            } else if !homerooms.contains_key(&class.id) && !groups.contains(&class.id) {
                groups.push(class.id.clone());
            }
        }
        let Some(home) = homeroom else {
            r.notes.push(format!(
                "{}: student {ine} is in no homeroom class (no division): not imported",
                user.at
            ));
            continue;
        };
        let Some(division) = class_map.get(&home.class).map(|c| c.id.clone()) else {
            continue;
        };
        let entered = enrolled
            .iter()
            .filter(|e| e.user == *id && class_map.get(&e.class).is_some_and(|c| c.homeroom))
            .filter_map(|e| e.begin)
            .min();
        // An enrollment that ends with the school year is not a departure.
        let left = home.end.filter(|end| year_ends.is_none_or(|y| *end < y));
        for g in &groups {
            group_members
                .entry(g.clone())
                .or_default()
                .insert(division.clone());
        }
        student_ine.insert(id.clone(), ine.clone());
        external_ids.extend(ent_ids(user, &Holder::Student(ine.clone())));
        students.push(Row {
            at: user.at.clone(),
            value: StudentRow {
                identity: Identity {
                    ine,
                    last_name: user.family.clone().unwrap_or_default(),
                    first_name: user.given.clone().unwrap_or_default(),
                    birth_date: birth,
                },
                division,
                groups,
                entered,
                left,
            },
        });
    }
    let mut seen_ine: BTreeMap<Ine, Location> = BTreeMap::new();
    for row in &students {
        if let Some(first) = seen_ine.get(&row.value.identity.ine) {
            let rule = format!(
                "INE {} is given twice (first at {first})",
                row.value.identity.ine
            );
            reader.problem(row.at.clone(), "identifier", rule);
            continue;
        }
        seen_ine.insert(row.value.identity.ine.clone(), row.at.clone());
    }

    // Divisions and groups.
    let r = &mut reader;
    let mut divisions = Vec::new();
    let mut groups: BTreeMap<String, Row<GroupSpec>> = BTreeMap::new();
    for class in class_map.values() {
        if class.homeroom {
            if homerooms.get(&class.id) != Some(&class.at) {
                continue;
            }
            let level = class
                .level
                .clone()
                .or_else(|| {
                    class
                        .grades
                        .iter()
                        .find_map(|g| level_of_grade(g))
                        .map(str::to_string)
                })
                .unwrap_or_else(|| crate::mef::level(None, None, &class.id));
            divisions.push(Row {
                at: class.at.clone(),
                value: DivisionSpec {
                    id: class.id.clone(),
                    name: class.title.clone(),
                    level,
                },
            });
        } else if !homerooms.contains_key(&class.id) && !groups.contains_key(&class.id) {
            let drawn_from = class.divisions.clone().unwrap_or_else(|| {
                group_members
                    .get(&class.id)
                    .map(|d| d.iter().cloned().collect())
                    .unwrap_or_default()
            });
            if drawn_from.is_empty() {
                r.problem(
                    class.at.clone(),
                    DIVISIONS,
                    format!(
                        "group {} has no student in a homeroom class: Carnet draws a group from divisions",
                        class.id
                    ),
                );
                continue;
            }
            groups.insert(
                class.id.clone(),
                Row {
                    at: class.at.clone(),
                    value: GroupSpec {
                        id: class.id.clone(),
                        name: class.title.clone(),
                        divisions: drawn_from,
                        partition: class.partition.clone().unwrap_or_else(|| class.id.clone()),
                    },
                },
            );
        }
    }

    // Services: a teacher's enrollment in a class, of the class's (or its course's) subject.
    let mut services: Vec<Row<Service>> = Vec::new();
    let mut teaching: BTreeSet<String> = BTreeSet::new();
    let mut subjectless: BTreeSet<String> = BTreeSet::new();
    for e in &enrolled {
        if e.role != "teacher" {
            if !["student", "teacher"].contains(&e.role.as_str()) {
                r.notes.push(format!(
                    "{}: {} is enrolled as {}, which Carnet keeps no record of: left aside",
                    e.at, e.user, e.role
                ));
            }
            continue;
        }
        let Some(class) = class_map.get(&e.class) else {
            continue;
        };
        if is(&e.user, &["student"]) || is(&e.user, &GUARDIAN_ROLES) {
            r.problem(
                e.at.clone(),
                "userSourcedId",
                format!("{} teaches {} but is not staff", e.user, class.id),
            );
            continue;
        }
        let course = course_map.get(&class.course);
        let Some(subject) = class
            .subject
            .clone()
            .or_else(|| course.and_then(|c| c.subject.clone()))
        else {
            if class.homeroom {
                r.notes.push(format!(
                    "{}: {} is the homeroom teacher of {}: Carnet records services by subject, left aside",
                    e.at, e.user, class.id
                ));
            } else if let Some(course) =
                course.filter(|_| !courses.missing.contains("subjectCodes"))
            {
                if subjectless.insert(class.course.clone()) {
                    r.problem(
                        course.at.clone(),
                        "subjectCodes",
                        format!(
                            "course {} ({}) has no BCN subject code, and teachers are enrolled in its classes: Carnet needs the subject a teacher teaches",
                            class.course, course.title
                        ),
                    );
                }
            }
            continue;
        };
        let class_ref = if homerooms.contains_key(&class.id) {
            ClassRef::Division(class.id.clone())
        } else {
            ClassRef::Group(class.id.clone())
        };
        teaching.insert(e.user.clone());
        let value = Service {
            teacher: e.user.clone(),
            subject,
            class: class_ref,
        };
        if !services.iter().any(|s| s.value == value) {
            services.push(Row {
                at: e.at.clone(),
                value,
            });
        }
    }

    // Subjects: the courses with one subject code.
    let mut subjects: BTreeMap<SubjectCode, Row<SubjectRow>> = BTreeMap::new();
    for course in course_map.values() {
        let Some(code) = &course.subject else {
            continue;
        };
        subjects.entry(code.clone()).or_insert_with(|| Row {
            at: course.at.clone(),
            value: SubjectRow {
                code: code.clone(),
                short: course.code.clone().unwrap_or_else(|| code.to_string()),
                name: course.title.clone(),
            },
        });
    }

    // Staff.
    let mut staff = Vec::new();
    for (id, user) in &user_map {
        let mut roles: BTreeSet<Role> = user_roles
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|role| role_of(role))
            .collect();
        if teaching.contains(id) {
            roles.insert(Role::Teacher);
        }
        let other: Vec<&String> = user_roles
            .get(id)
            .into_iter()
            .flatten()
            .filter(|role| {
                role_of(role).is_none()
                    && role.as_str() != "student"
                    && !GUARDIAN_ROLES.contains(&role.as_str())
            })
            .collect();
        if roles.is_empty() {
            if !other.is_empty() {
                r.notes.push(format!(
                    "{}: {id} has role {}, which Carnet has no role for: not imported",
                    user.at,
                    other
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            continue;
        }
        if user.erased {
            r.notes.push(format!(
                "{}: staff member {id} was erased in the source: not imported",
                user.at
            ));
            continue;
        }
        external_ids.extend(ent_ids(user, &Holder::Staff(id.clone())));
        staff.push(Row {
            at: user.at.clone(),
            value: StaffRow {
                id: id.clone(),
                name: user.name(),
                roles,
            },
        });
    }
    for service in &services {
        if user_map
            .get(&service.value.teacher)
            .is_some_and(|u| u.erased)
        {
            r.problem(
                service.at.clone(),
                "userSourcedId",
                format!(
                    "{} teaches but was erased in the source",
                    service.value.teacher
                ),
            );
        }
    }

    // Guardians: their agentSourcedIds, and the students' naming them.
    let mut links: BTreeMap<(String, String), Location> = BTreeMap::new();
    for (id, user) in &user_map {
        let guardian = is(id, &GUARDIAN_ROLES);
        for agent in &user.agents {
            if guardian && is(agent, &["student"]) {
                links
                    .entry((agent.clone(), id.clone()))
                    .or_insert(user.at.clone());
            } else if is(id, &["student"]) && is(agent, &GUARDIAN_ROLES) {
                links
                    .entry((id.clone(), agent.clone()))
                    .or_insert(user.at.clone());
            }
        }
    }
    let mut guardians = Vec::new();
    let mut linked_guardians = BTreeSet::new();
    for ((student, guardian), at) in links {
        let (Some(ine), Some(user)) = (student_ine.get(&student), user_map.get(&guardian)) else {
            continue;
        };
        if user.erased {
            r.notes.push(format!(
                "{at}: guardian {guardian} was erased in the source: not linked"
            ));
            continue;
        }
        let role = user_roles
            .get(&guardian)
            .and_then(|rs| rs.iter().find(|r| GUARDIAN_ROLES.contains(&r.as_str())))
            .cloned()
            .unwrap_or_else(|| "guardian".into());
        let rights = match user.rights.as_deref() {
            Some(text) => match parse_rights(text) {
                Some(rights) => rights,
                None => {
                    r.problem(
                        user.at.clone(),
                        RIGHTS,
                        format!("`{text}` is not a list of see, justify, notified"),
                    );
                    continue;
                }
            },
            None if role == "relative" => GuardianRights {
                see: true,
                justify: false,
                notified: true,
            },
            None => GuardianRights::FULL,
        };
        // A guardian of several children is linked to their identifier once.
        if linked_guardians.insert(guardian.clone()) {
            external_ids.extend(ent_ids(user, &Holder::Guardian(guardian.clone())));
        }
        guardians.push(Row {
            at: user.at.clone(),
            value: GuardianRow {
                student: ine.clone(),
                guardian: guardian.clone(),
                name: user.name(),
                relationship: user.relationship.clone().unwrap_or(role),
                rights,
            },
        });
    }

    if !reader.problems.is_empty() {
        return Err(ImportError::Invalid(reader.problems));
    }
    let (Some((_, header, Some(uai))), Some((_, school_year, _))) = (school, year) else {
        return Err(ImportError::Invalid(reader.problems));
    };
    Ok(Roster {
        format: FORMAT,
        uai,
        year: school_year,
        as_of: today,
        header,
        subjects: subjects.into_values().collect(),
        divisions,
        groups: groups.into_values().collect(),
        staff: Some(staff),
        services: Some(services),
        students: Some(students),
        guardians: Some(guardians),
        guardians_of: Vec::new(),
        external_ids,
        contacts: None,
        rows: reader.rows,
        notes: reader.notes,
    })
}

/// The manifest: OneRoster 1.2, bulk files.
fn manifest(r: &mut Reader<'_>) {
    let Some(table) = r.table("manifest", &["propertyName", "value"], true) else {
        return;
    };
    let mut properties: BTreeMap<String, (String, Location)> = BTreeMap::new();
    for rec in &table.records {
        if let (Some(name), Some(value)) = (table.get(rec, "propertyName"), table.get(rec, "value"))
        {
            properties.insert(name.to_string(), (value.to_string(), table.at(rec)));
        }
    }
    match properties.get("oneroster.version") {
        Some((version, _)) if version == "1.2" || version.starts_with("1.2.") => {}
        Some((version, at)) => r.problem(
            at.clone(),
            "oneroster.version",
            format!("Carnet reads OneRoster 1.2 bundles; this one is {version}"),
        ),
        None => r.problem(
            Location::File,
            "manifest.csv",
            "the manifest does not give oneroster.version",
        ),
    }
    for (stem, needed) in FILES.iter().filter(|(stem, _)| *stem != "manifest") {
        let key = format!("file.{stem}");
        match properties.get(&key).map(|(v, at)| (v.as_str(), at.clone())) {
            Some(("bulk", _)) | None => {}
            Some(("absent", at)) if *needed => {
                r.problem(
                    at,
                    &key,
                    format!("{stem}.csv is absent, and Carnet needs it"),
                );
            }
            Some(("absent", _)) => {}
            Some(("delta", at)) => r.problem(
                at,
                &key,
                "a delta file: Carnet imports bulk bundles (the whole roster each time)",
            ),
            Some((other, at)) => {
                r.problem(at, &key, format!("`{other}` is not bulk, delta or absent"))
            }
        }
    }
}

/// The subject of a course or class: its one BCN code, if it gives one.
fn subject_of(
    r: &mut Reader<'_>,
    t: &Table,
    rec: &Record,
    codes: &[String],
) -> Option<SubjectCode> {
    let mut parsed = Vec::new();
    for code in codes {
        match SubjectCode::parse(code) {
            Ok(code) => parsed.push(code),
            Err(e) => r.problem(t.at(rec), "subjectCodes", e.to_string()),
        }
    }
    if parsed.len() > 1 {
        r.problem(
            t.at(rec),
            "subjectCodes",
            "several subject codes: Carnet gives a course one subject",
        );
        return None;
    }
    parsed.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_user_ids() {
        assert_eq!(list(Some("a, b,,c")), ["a", "b", "c"]);
        assert_eq!(
            user_ids(Some("{INE:070123456AB},{LDAP:hmuller}")),
            [
                ("INE".to_string(), "070123456AB".to_string()),
                ("LDAP".to_string(), "hmuller".to_string())
            ]
        );
        assert_eq!(grade_of("4e"), Some("08"));
        assert_eq!(level_of_grade("12"), Some("Tle"));
        let rights = GuardianRights {
            see: true,
            justify: false,
            notified: true,
        };
        assert_eq!(parse_rights(&rights_text(rights)), Some(rights));
        assert_eq!(parse_rights(""), Some(GuardianRights::default()));
        for role in [
            Role::Teacher,
            Role::Cpe,
            Role::Aed,
            Role::Principal,
            Role::Secretariat,
        ] {
            assert_eq!(role_of(oneroster_role(role)), Some(role));
        }
    }
}
