//! OneRoster 1.2 CSV out of Carnet: one establishment's school year as a bulk bundle
//! (a directory of CSV files and their manifest.csv), the files and columns of the
//! "OneRoster: CSV Binding" 1.2 (<https://www.imsglobal.org/spec/oneroster/v1p2/bind/csv>,
//! section 4; see [`crate::oneroster`] for the layout), read back whole by Carnet's own
//! OneRoster import.
//!
//! What goes where:
//! - the establishment is the org of type `school`, its UAI the `identifier`;
//! - the year is an academicSession of type `schoolYear` (its `schoolYear` the year it
//!   ends, as OneRoster writes it), its periods sessions of type `term`;
//! - each subject is a course (`subjectCodes` its BCN code, `courseCode` its short name);
//!   each level a course of its homerooms;
//! - a division is a `homeroom` class; what a division is taught, a `scheduled` class per
//!   subject with the division's code as `classCode`; a group, a `scheduled` class per
//!   subject taught to it (or one, if none is);
//! - students, staff still in the establishment and guardians are users, with their
//!   roles (roles.csv), birth dates (demographics.csv) and enrollments (a student's
//!   division and groups on the export day, a teacher's services);
//! - names and birth dates are opened with the store's vault: a person whose data was
//!   erased is exported with blank names, no birth date and `metadata.carnet.erased`.
//!
//! The output is sorted and carries no time stamp: the same roster exports to the same
//! bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use carnet_domain::enrolment::{
    ClassRef, Establishment, GuardianLink, SchoolYear, Service, Student, SubjectCode,
};
use carnet_domain::personal::Personal;
use carnet_domain::Uai;
use carnet_store::{EventStore, StoreError};
use chrono::NaiveDate;

use crate::oneroster::{
    grade_of, oneroster_role, rights_text, DIVISIONS, ERASED, LEVEL, PARTITION, RELATIONSHIP,
    RIGHTS,
};
use crate::plan;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("establishment {0} has no record in this database")]
    NoEstablishment(Uai),
    #[error("school year {year} is not open in {uai}")]
    UnknownYear { uai: Uai, year: SchoolYear },
    #[error("establishment {0} has no school year open")]
    NoYear(Uai),
    #[error("cannot write {file}: {reason}")]
    Io { file: String, reason: String },
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The school year; by default the one `as_of` falls in, else the latest open.
    pub year: Option<SchoolYear>,
    /// The day whose divisions and groups the students' enrollments give.
    pub as_of: NaiveDate,
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub dir: PathBuf,
    pub establishment: Uai,
    pub year: SchoolYear,
    /// Each file and its number of records.
    pub files: Vec<(String, usize)>,
    /// People exported as erased.
    pub erased: usize,
}

impl fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "OneRoster 1.2 bundle of {} for {} in {}",
            self.establishment,
            self.year,
            self.dir.display()
        )?;
        for (file, records) in &self.files {
            writeln!(f, "  {file:<22} {records:>8}")?;
        }
        write!(f, "  {} person(s) exported as erased", self.erased)
    }
}

const MANIFEST: [&str; 2] = ["propertyName", "value"];
const ORGS: [&str; 7] = [
    "sourcedId",
    "status",
    "dateLastModified",
    "name",
    "type",
    "identifier",
    "parentSourcedId",
];
const SESSIONS: [&str; 9] = [
    "sourcedId",
    "status",
    "dateLastModified",
    "title",
    "type",
    "startDate",
    "endDate",
    "parentSourcedId",
    "schoolYear",
];
const COURSES: [&str; 10] = [
    "sourcedId",
    "status",
    "dateLastModified",
    "schoolYearSourcedId",
    "title",
    "courseCode",
    "grades",
    "orgSourcedId",
    "subjects",
    "subjectCodes",
];
const CLASSES: [&str; 17] = [
    "sourcedId",
    "status",
    "dateLastModified",
    "title",
    "grades",
    "courseSourcedId",
    "classCode",
    "classType",
    "location",
    "schoolSourcedId",
    "termSourcedIds",
    "subjects",
    "subjectCodes",
    "periods",
    LEVEL,
    DIVISIONS,
    PARTITION,
];
const USERS: [&str; 26] = [
    "sourcedId",
    "status",
    "dateLastModified",
    "enabledUser",
    "username",
    "userIds",
    "givenName",
    "familyName",
    "middleName",
    "identifier",
    "email",
    "sms",
    "phone",
    "agentSourcedIds",
    "grades",
    "password",
    "userMasterIdentifier",
    "resourceSourcedIds",
    "preferredGivenName",
    "preferredMiddleName",
    "preferredFamilyName",
    "primaryOrgSourcedId",
    "pronouns",
    RELATIONSHIP,
    RIGHTS,
    ERASED,
];
const ROLES: [&str; 10] = [
    "sourcedId",
    "status",
    "dateLastModified",
    "userSourcedId",
    "roleType",
    "role",
    "beginDate",
    "endDate",
    "orgSourcedId",
    "userProfileSourcedId",
];
const ENROLLMENTS: [&str; 10] = [
    "sourcedId",
    "status",
    "dateLastModified",
    "classSourcedId",
    "schoolSourcedId",
    "userSourcedId",
    "role",
    "primary",
    "beginDate",
    "endDate",
];
const DEMOGRAPHICS: [&str; 16] = [
    "sourcedId",
    "status",
    "dateLastModified",
    "birthDate",
    "sex",
    "americanIndianOrAlaskaNative",
    "asian",
    "blackOrAfricanAmerican",
    "nativeHawaiianOrOtherPacificIslander",
    "white",
    "demographicRaceTwoOrMoreRaces",
    "hispanicOrLatinoEthnicity",
    "countryOfBirthCode",
    "stateOfBirthAbbreviation",
    "cityOfBirth",
    "publicSchoolResidenceStatus",
];

/// The files of the 1.2 manifest, and whether Carnet writes them.
const MANIFEST_FILES: [(&str, bool); 21] = [
    ("academicSessions", true),
    ("categories", false),
    ("classes", true),
    ("classResources", false),
    ("courses", true),
    ("courseResources", false),
    ("demographics", true),
    ("enrollments", true),
    ("lineItemLearningObjectiveIds", false),
    ("lineItems", false),
    ("lineItemScoreScales", false),
    ("orgs", true),
    ("resources", false),
    ("resultLearningObjectiveIds", false),
    ("results", false),
    ("resultScoreScales", false),
    ("roles", true),
    ("scoreScales", false),
    ("userProfiles", false),
    ("userResources", false),
    ("users", true),
];

/// One CSV file being built: rows of named values, blanks elsewhere.
struct Sheet {
    columns: &'static [&'static str],
    rows: Vec<Vec<String>>,
}

impl Sheet {
    fn new(columns: &'static [&'static str]) -> Self {
        Sheet {
            columns,
            rows: Vec::new(),
        }
    }

    fn push(&mut self, values: &[(&str, String)]) {
        let row = self
            .columns
            .iter()
            .map(|c| {
                values
                    .iter()
                    .find(|(name, _)| name == c)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            })
            .collect();
        self.rows.push(row);
    }

    fn write(&self, path: &Path) -> Result<(), ExportError> {
        let io = |reason: String| ExportError::Io {
            file: path.display().to_string(),
            reason,
        };
        // Names and birth dates: the owner's only.
        let file = carnet_store::files::create_private(path).map_err(|e| io(e.to_string()))?;
        let mut writer = csv::Writer::from_writer(file);
        writer
            .write_record(self.columns)
            .map_err(|e| io(e.to_string()))?;
        for row in &self.rows {
            writer.write_record(row).map_err(|e| io(e.to_string()))?;
        }
        writer.flush().map_err(|e| io(e.to_string()))
    }
}

/// A name split into OneRoster's given and family names at its first space.
/// A person's name in clear, or `None` when it was erased (counted in `erased`).
async fn open_name(
    vault: &carnet_store::Vault,
    uai: &Uai,
    erased_people: &std::collections::BTreeSet<String>,
    person: &str,
    name: &carnet_domain::personal::Personal<String>,
    erased: &mut usize,
) -> Result<Option<String>, carnet_store::StoreError> {
    let opened = if erased_people.contains(person) {
        None
    } else {
        vault.open(uai, name).await?
    };
    if opened.is_none() {
        *erased += 1;
    }
    Ok(opened)
}

fn split_name(name: &str) -> (String, String) {
    match name.trim().split_once(' ') {
        Some((given, family)) => (given.to_string(), family.trim().to_string()),
        None => (String::new(), name.trim().to_string()),
    }
}

/// OneRoster's role for a guardian's relationship.
fn guardian_role(relationship: &str) -> &'static str {
    match relationship.trim().to_lowercase().as_str() {
        "mère" | "mere" | "père" | "pere" | "parent" | "mother" | "father" => "parent",
        "tuteur" | "tutrice" | "guardian" | "responsable légal" => "guardian",
        _ => "relative",
    }
}

fn day(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// A guardian as the export gathers them from their children's records.
struct GuardianOut {
    name: Personal<String>,
    relationship: String,
    rights: carnet_domain::enrolment::GuardianRights,
    children: BTreeSet<String>,
}

/// Writes the OneRoster bundle of `uai`'s school year into `dir` (created if need be).
pub async fn export(
    store: &EventStore,
    uai: &Uai,
    options: &ExportOptions,
    dir: &Path,
) -> Result<ExportSummary, ExportError> {
    let establishment = plan::load::<Establishment>(store, uai, uai.as_str(), |_, _| {})
        .await?
        .state;
    if establishment.uai.is_none() {
        return Err(ExportError::NoEstablishment(uai.clone()));
    }
    let (year, y) = match &options.year {
        Some(year) => match establishment.years.get(year) {
            Some(y) => (year.clone(), y),
            None => {
                return Err(ExportError::UnknownYear {
                    uai: uai.clone(),
                    year: year.clone(),
                })
            }
        },
        None => establishment
            .years
            .iter()
            .find(|(_, y)| y.first_day <= options.as_of && options.as_of <= y.last_day)
            .or_else(|| establishment.years.iter().next_back())
            .map(|(year, y)| (year.clone(), y))
            .ok_or_else(|| ExportError::NoYear(uai.clone()))?,
    };
    let as_of = options.as_of.clamp(y.first_day, y.last_day);
    let students: BTreeMap<String, Student> = plan::load_all::<Student>(store, uai)
        .await?
        .into_iter()
        .filter(|(_, s)| s.state.stints.iter().any(|stint| stint.year == year))
        .map(|(id, s)| (id, s.state))
        .collect();
    let vault = store.vault();
    let org = uai.to_string();
    let year_id = format!("year-{year}");
    let mut erased = 0;

    let mut manifest = Sheet::new(&MANIFEST);
    manifest.push(&[
        ("propertyName", "manifest.version".into()),
        ("value", "1.0".into()),
    ]);
    manifest.push(&[
        ("propertyName", "oneroster.version".into()),
        ("value", "1.2".into()),
    ]);
    for (file, written) in MANIFEST_FILES {
        manifest.push(&[
            ("propertyName", format!("file.{file}")),
            ("value", if written { "bulk" } else { "absent" }.into()),
        ]);
    }
    manifest.push(&[
        ("propertyName", "source.systemName".into()),
        ("value", "Carnet".into()),
    ]);
    manifest.push(&[
        ("propertyName", "source.systemCode".into()),
        ("value", "carnet".into()),
    ]);

    let mut orgs = Sheet::new(&ORGS);
    orgs.push(&[
        ("sourcedId", org.clone()),
        ("name", establishment.name.clone()),
        ("type", "school".into()),
        ("identifier", org.clone()),
    ]);

    let ends = (year.first_year() + 1).to_string();
    let mut sessions = Sheet::new(&SESSIONS);
    sessions.push(&[
        ("sourcedId", year_id.clone()),
        ("title", year.to_string()),
        ("type", "schoolYear".into()),
        ("startDate", day(y.first_day)),
        ("endDate", day(y.last_day)),
        ("schoolYear", ends.clone()),
    ]);
    for period in &y.periods {
        sessions.push(&[
            ("sourcedId", format!("term-{year}-{}", period.id)),
            ("title", period.name.clone()),
            ("type", "term".into()),
            ("startDate", day(period.from)),
            ("endDate", day(period.to)),
            ("parentSourcedId", year_id.clone()),
            ("schoolYear", ends.clone()),
        ]);
    }

    // Courses: every subject, and the levels of the year's divisions.
    let subject_name = |code: &SubjectCode| {
        establishment
            .subjects
            .get(code)
            .map_or_else(|| code.to_string(), |s| s.name.clone())
    };
    let mut subject_codes: BTreeSet<SubjectCode> = establishment.subjects.keys().cloned().collect();
    subject_codes.extend(y.services.iter().map(|s| s.subject.clone()));
    let mut courses = Sheet::new(&COURSES);
    for code in &subject_codes {
        let short = establishment
            .subjects
            .get(code)
            .map_or_else(|| code.to_string(), |s| s.short.clone());
        courses.push(&[
            ("sourcedId", format!("course-{code}")),
            ("schoolYearSourcedId", year_id.clone()),
            ("title", subject_name(code)),
            ("courseCode", short),
            ("orgSourcedId", org.clone()),
            ("subjects", subject_name(code)),
            ("subjectCodes", code.to_string()),
        ]);
    }
    let levels: BTreeSet<&str> = y.divisions.values().map(|d| d.level.as_str()).collect();
    for level in &levels {
        courses.push(&[
            ("sourcedId", format!("course-level-{level}")),
            ("schoolYearSourcedId", year_id.clone()),
            ("title", format!("Classe de {level}")),
            ("courseCode", level.to_string()),
            ("grades", grade_of(level).unwrap_or_default().to_string()),
            ("orgSourcedId", org.clone()),
        ]);
    }
    let bare_groups = y.groups.keys().any(|g| {
        !y.services
            .iter()
            .any(|s| s.class == ClassRef::Group(g.clone()))
    });
    if bare_groups {
        courses.push(&[
            ("sourcedId", "course-groups".into()),
            ("schoolYearSourcedId", year_id.clone()),
            ("title", "Groupes".into()),
            ("courseCode", "groupes".into()),
            ("orgSourcedId", org.clone()),
        ]);
    }

    // Classes: homerooms, what divisions and groups are taught.
    let subjects_of = |class: &ClassRef| -> BTreeSet<SubjectCode> {
        y.services
            .iter()
            .filter(|s| s.class == *class)
            .map(|s| s.subject.clone())
            .collect()
    };
    let class_id = |class: &ClassRef, subject: Option<&SubjectCode>| match (class, subject) {
        (ClassRef::Division(d), None) => format!("division-{d}"),
        (ClassRef::Division(d), Some(s)) => format!("division-{d}-{s}"),
        (ClassRef::Group(g), None) => format!("group-{g}"),
        (ClassRef::Group(g), Some(s)) => format!("group-{g}-{s}"),
    };
    let mut classes = Sheet::new(&CLASSES);
    // The OneRoster classes each division and group is, by Carnet class.
    let mut taught_in: BTreeMap<ClassRef, Vec<String>> = BTreeMap::new();
    for d in y.divisions.values() {
        let grade = grade_of(&d.level).unwrap_or_default().to_string();
        let home = ClassRef::Division(d.id.clone());
        classes.push(&[
            ("sourcedId", class_id(&home, None)),
            ("title", d.name.clone()),
            ("grades", grade.clone()),
            ("courseSourcedId", format!("course-level-{}", d.level)),
            ("classCode", d.id.clone()),
            ("classType", "homeroom".into()),
            ("schoolSourcedId", org.clone()),
            ("termSourcedIds", year_id.clone()),
            (LEVEL, d.level.clone()),
        ]);
        let mut ids = vec![class_id(&home, None)];
        for subject in subjects_of(&home) {
            let id = class_id(&home, Some(&subject));
            classes.push(&[
                ("sourcedId", id.clone()),
                ("title", format!("{} {}", subject_name(&subject), d.name)),
                ("grades", grade.clone()),
                ("courseSourcedId", format!("course-{subject}")),
                ("classCode", d.id.clone()),
                ("classType", "scheduled".into()),
                ("schoolSourcedId", org.clone()),
                ("termSourcedIds", year_id.clone()),
                ("subjects", subject_name(&subject)),
                ("subjectCodes", subject.to_string()),
            ]);
            ids.push(id);
        }
        taught_in.insert(home, ids);
    }
    for g in y.groups.values() {
        let group = ClassRef::Group(g.id.clone());
        let subjects = subjects_of(&group);
        let mut ids = Vec::new();
        let shared = |id: String| {
            vec![
                ("sourcedId", id),
                ("title", g.name.clone()),
                ("classCode", g.id.clone()),
                ("classType", "scheduled".into()),
                ("schoolSourcedId", org.clone()),
                ("termSourcedIds", year_id.clone()),
                (DIVISIONS, g.divisions.join(",")),
                (PARTITION, g.partition.clone()),
            ]
        };
        if subjects.is_empty() {
            let id = class_id(&group, None);
            let mut values = shared(id.clone());
            values.push(("courseSourcedId", "course-groups".into()));
            classes.push(&values);
            ids.push(id);
        }
        for subject in subjects {
            let id = class_id(&group, Some(&subject));
            let mut values = shared(id.clone());
            values.push(("courseSourcedId", format!("course-{subject}")));
            values.push(("subjects", subject_name(&subject)));
            values.push(("subjectCodes", subject.to_string()));
            classes.push(&values);
            ids.push(id);
        }
        taught_in.insert(group, ids);
    }

    let mut users = Sheet::new(&USERS);
    let mut roles = Sheet::new(&ROLES);
    let mut enrollments = Sheet::new(&ENROLLMENTS);
    let mut demographics = Sheet::new(&DEMOGRAPHICS);
    let mut role = |user: &str, n: usize, role: &str| {
        roles.push(&[
            ("sourcedId", format!("role-{user}-{n}")),
            ("userSourcedId", user.to_string()),
            (
                "roleType",
                if n == 0 { "primary" } else { "secondary" }.into(),
            ),
            ("role", role.to_string()),
            ("orgSourcedId", org.clone()),
        ]);
    };

    // Staff still in the establishment, and their services.
    let mut exported_staff = BTreeSet::new();
    for (id, member) in &establishment.staff {
        if member.left_on.is_some_and(|last| last < as_of) {
            continue;
        }
        let name = open_name(
            vault,
            uai,
            &establishment.erased,
            id,
            &member.name,
            &mut erased,
        )
        .await?;
        let (given, family) = name.as_deref().map(split_name).unwrap_or_default();
        users.push(&[
            ("sourcedId", id.clone()),
            ("enabledUser", "true".into()),
            ("givenName", given),
            ("familyName", family),
            ("primaryOrgSourcedId", org.clone()),
            (ERASED, if name.is_none() { "true" } else { "" }.into()),
        ]);
        for (n, r) in member.roles.iter().enumerate() {
            role(id, n, oneroster_role(*r));
        }
        exported_staff.insert(id.clone());
    }
    let services: Vec<&Service> = y
        .services
        .iter()
        .filter(|s| exported_staff.contains(&s.teacher))
        .collect();
    for service in services {
        let class = class_id(&service.class, Some(&service.subject));
        enrollments.push(&[
            (
                "sourcedId",
                format!("enrollment-{class}-{}", service.teacher),
            ),
            ("classSourcedId", class),
            ("schoolSourcedId", org.clone()),
            ("userSourcedId", service.teacher.clone()),
            ("role", "teacher".into()),
            ("primary", "true".into()),
        ]);
    }

    // Students, their placement on the export day (or their last day), their guardians.
    let mut guardians: BTreeMap<String, GuardianOut> = BTreeMap::new();
    for (id, student) in &students {
        let stints: Vec<_> = student.stints.iter().filter(|s| s.year == year).collect();
        let departed = student.departure.as_ref().map(|(d, _)| *d);
        let on = departed.map_or(as_of, |d| d.min(as_of));
        let Some(stint) = stints
            .iter()
            .rev()
            .find(|s| s.from <= on)
            .or_else(|| stints.first())
        else {
            continue;
        };
        let on = on.clamp(stint.from, stint.to.unwrap_or(on.max(stint.from)));
        let Some(record) = &student.identity else {
            continue;
        };
        let gone = establishment.erased.contains(id);
        let first = if gone {
            None
        } else {
            vault.open(uai, &record.first_name).await?
        };
        let last = if gone {
            None
        } else {
            vault.open(uai, &record.last_name).await?
        };
        let birth = if gone {
            None
        } else {
            vault.open(uai, &record.birth_date).await?
        };
        let is_erased = first.is_none() || last.is_none();
        if is_erased {
            erased += 1;
        }
        let level = y
            .divisions
            .get(&stint.division)
            .map(|d| d.level.as_str())
            .unwrap_or_default();
        users.push(&[
            ("sourcedId", id.clone()),
            (
                "enabledUser",
                if departed.is_some() { "false" } else { "true" }.into(),
            ),
            ("userIds", format!("{{INE:{}}}", record.ine)),
            ("givenName", first.unwrap_or_default()),
            ("familyName", last.unwrap_or_default()),
            ("identifier", record.ine.to_string()),
            (
                "agentSourcedIds",
                student
                    .guardians
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("grades", grade_of(level).unwrap_or_default().to_string()),
            ("primaryOrgSourcedId", org.clone()),
            (ERASED, if is_erased { "true" } else { "" }.into()),
        ]);
        role(id, 0, "student");
        if let Some(birth) = birth.filter(|_| !is_erased) {
            demographics.push(&[("sourcedId", id.clone()), ("birthDate", day(birth))]);
        }
        let entered = stints.first().map_or(stint.from, |s| s.from);
        let end = departed.map(day).unwrap_or_default();
        let division = ClassRef::Division(stint.division.clone());
        for class in taught_in.get(&division).into_iter().flatten() {
            enrollments.push(&[
                ("sourcedId", format!("enrollment-{class}-{id}")),
                ("classSourcedId", class.clone()),
                ("schoolSourcedId", org.clone()),
                ("userSourcedId", id.clone()),
                ("role", "student".into()),
                ("primary", "false".into()),
                ("beginDate", day(entered)),
                ("endDate", end.clone()),
            ]);
        }
        for g in stint
            .groups
            .iter()
            .filter(|g| g.from <= on && g.to.is_none_or(|to| on <= to))
        {
            for class in taught_in
                .get(&ClassRef::Group(g.group.clone()))
                .into_iter()
                .flatten()
            {
                enrollments.push(&[
                    ("sourcedId", format!("enrollment-{class}-{id}")),
                    ("classSourcedId", class.clone()),
                    ("schoolSourcedId", org.clone()),
                    ("userSourcedId", id.clone()),
                    ("role", "student".into()),
                    ("primary", "false".into()),
                    ("beginDate", day(g.from)),
                    ("endDate", g.to.map(day).unwrap_or_default()),
                ]);
            }
        }
        for (
            guardian,
            GuardianLink {
                name,
                relationship,
                rights,
            },
        ) in &student.guardians
        {
            guardians
                .entry(guardian.clone())
                .or_insert_with(|| GuardianOut {
                    name: name.clone(),
                    relationship: relationship.clone(),
                    rights: *rights,
                    children: BTreeSet::new(),
                })
                .children
                .insert(id.clone());
        }
    }
    for (id, g) in &guardians {
        let name = open_name(vault, uai, &establishment.erased, id, &g.name, &mut erased).await?;
        let (given, family) = name.as_deref().map(split_name).unwrap_or_default();
        users.push(&[
            ("sourcedId", id.clone()),
            ("enabledUser", "true".into()),
            ("givenName", given),
            ("familyName", family),
            (
                "agentSourcedIds",
                g.children.iter().cloned().collect::<Vec<_>>().join(","),
            ),
            ("primaryOrgSourcedId", org.clone()),
            (RELATIONSHIP, g.relationship.clone()),
            (RIGHTS, rights_text(g.rights)),
            (ERASED, if name.is_none() { "true" } else { "" }.into()),
        ]);
        role(id, 0, guardian_role(&g.relationship));
    }

    carnet_store::files::private_dir(dir).map_err(|e| ExportError::Io {
        file: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let sheets = [
        ("manifest.csv", &manifest),
        ("orgs.csv", &orgs),
        ("academicSessions.csv", &sessions),
        ("courses.csv", &courses),
        ("classes.csv", &classes),
        ("users.csv", &users),
        ("roles.csv", &roles),
        ("enrollments.csv", &enrollments),
        ("demographics.csv", &demographics),
    ];
    let mut files = Vec::new();
    for (file, sheet) in sheets {
        sheet.write(&dir.join(file))?;
        files.push((file.to_string(), sheet.rows.len()));
    }
    Ok(ExportSummary {
        dir: dir.to_path_buf(),
        establishment: uai.clone(),
        year,
        files,
        erased,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_the_first_space() {
        assert_eq!(
            split_name("Hélène Müller"),
            ("Hélène".to_string(), "Müller".to_string())
        );
        assert_eq!(
            split_name("Jean-Pierre De La Tour"),
            ("Jean-Pierre".to_string(), "De La Tour".to_string())
        );
        assert_eq!(
            split_name("Madonna"),
            (String::new(), "Madonna".to_string())
        );
        assert_eq!(guardian_role("Mère"), "parent");
        assert_eq!(guardian_role("tuteur"), "guardian");
        assert_eq!(guardian_role("grand-mère"), "relative");
    }
}
