//! The establishment: its identity and settings, its school years with their periods,
//! divisions and groups, its subjects, its staff and the teachers' services.
//!
//! One aggregate per establishment (its stream id is the UAI): these facts change a few
//! times a year and their rules (periods that do not overlap, a division created once a
//! year, a service naming a known teacher, subject and class) span all of them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::ids::{SchoolYear, SubjectCode};
use crate::personal::Personal;
use crate::refusal::{date_fr, what_fr, Lang, Refusal};
use crate::Uai;

/// A trimestre or semestre: the unit of report cards (bulletins) and class councils.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub id: String,
    pub name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// A school year's dates and periods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearSpec {
    pub year: SchoolYear,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub periods: Vec<Period>,
}

/// A division (classe), e.g. `4A`, of one school year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DivisionSpec {
    pub id: String,
    pub name: String,
    /// The level (niveau), e.g. `6e`, `4e`, `2nde`: what the rollover moves students up.
    pub level: String,
}

/// A group (groupe): half-class, language group, option, drawn from divisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSpec {
    pub id: String,
    pub name: String,
    pub divisions: Vec<String>,
    /// Groups of the same partition are disjoint (the two halves of a class), as in
    /// Pronote's "partitions"; groups of different partitions may share students.
    pub partition: String,
}

/// Where a lesson or a service takes place: a whole division or a group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ClassRef {
    Division(String),
    Group(String),
}

impl std::fmt::Display for ClassRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClassRef::Division(id) => write!(f, "division {id}"),
            ClassRef::Group(id) => write!(f, "group {id}"),
        }
    }
}

/// The roles of the staff, as the ENT and STS-Web name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    Teacher,
    /// Conseiller principal d'éducation: heads vie scolaire, decides justifications.
    Cpe,
    /// Assistant d'éducation (surveillant): takes roll calls for vie scolaire.
    Aed,
    Secretariat,
    /// Chef d'établissement (principal, proviseur) and deputies.
    Principal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    /// Personal data of the staff member (their key).
    pub name: Personal<String>,
    pub roles: BTreeSet<Role>,
    pub left_on: Option<NaiveDate>,
}

/// Which of the establishment's people an external identifier names: staff are in this
/// aggregate; students and guardians are in their students' streams, so the caller
/// checks that they exist before sending (as it checks a student's placement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PersonKind {
    Staff,
    Student,
    Guardian,
}

impl std::fmt::Display for PersonKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PersonKind::Staff => "member of staff",
            PersonKind::Student => "student",
            PersonKind::Guardian => "guardian",
        })
    }
}

/// An identifier another system gives a person: the ENT's `sub` or `externalId`, the
/// AAF's `ENTPersonJointure`, a OneRoster `userIds` entry. `scheme` says where it comes
/// from (the ENT issuer's URL, `ENTPersonJointure`, the `userIds` type); the value alone
/// names the person in this establishment, so a token of any trusted issuer carrying it
/// resolves to them (an issuer is trusted for the people it vouches for, as it is today
/// for Carnet's own ids).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExternalId {
    pub scheme: String,
    pub value: String,
}

/// The person an external identifier is linked to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalLink {
    pub person: String,
    pub kind: PersonKind,
    pub scheme: String,
}

/// A teacher's service: a subject taught to a division or group in a school year.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Service {
    pub teacher: String,
    pub subject: SubjectCode,
    pub class: ClassRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub short: String,
    pub name: String,
}

/// One school year as the establishment knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Year {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub periods: Vec<Period>,
    pub divisions: BTreeMap<String, DivisionSpec>,
    pub groups: BTreeMap<String, GroupSpec>,
    pub services: BTreeSet<Service>,
    /// The year the rollover moved this one's students to.
    pub rolled_over_to: Option<SchoolYear>,
    /// Per division, its professeurs principaux (who write the general appreciation).
    #[serde(default)]
    pub principal_teachers: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Establishment {
    pub uai: Option<Uai>,
    pub name: String,
    pub time_zone: Tz,
    pub morning_ends: NaiveTime,
    pub years: BTreeMap<SchoolYear, Year>,
    pub subjects: BTreeMap<SubjectCode, Subject>,
    pub staff: BTreeMap<String, StaffMember>,
    /// People whose personal data was erased (their keys destroyed), by id.
    #[serde(default)]
    pub erased: BTreeSet<String>,
    /// External identifiers (by value) and who they name: kept here, one aggregate per
    /// establishment, so that a value is given to one person only, whatever their kind.
    #[serde(default)]
    pub external_ids: BTreeMap<String, ExternalLink>,
    /// Whether families are told of each mark as it is entered (a choice French
    /// establishments make; off until the head turns it on).
    #[serde(default)]
    pub notify_marks: bool,
}

impl Default for Establishment {
    fn default() -> Self {
        Establishment {
            uai: None,
            name: String::new(),
            time_zone: chrono_tz::Europe::Paris,
            morning_ends: NaiveTime::from_hms_opt(12, 30, 0).unwrap_or_default(),
            years: BTreeMap::new(),
            subjects: BTreeMap::new(),
            staff: BTreeMap::new(),
            erased: BTreeSet::new(),
            external_ids: BTreeMap::new(),
            notify_marks: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EstablishmentCommand {
    Register {
        uai: Uai,
        name: String,
        time_zone: Tz,
        /// Lessons starting before this time belong to the morning half-day.
        morning_ends: NaiveTime,
    },
    OpenSchoolYear(YearSpec),
    DefineSubject {
        code: SubjectCode,
        short: String,
        name: String,
    },
    CreateDivision {
        year: SchoolYear,
        division: DivisionSpec,
    },
    CreateGroup {
        year: SchoolYear,
        group: GroupSpec,
    },
    AddStaffMember {
        person: String,
        name: String,
        roles: BTreeSet<Role>,
    },
    /// The right to erasure (RGPD art. 17) or a retention rule: the person's personal
    /// data becomes unreadable everywhere. The store destroys the keys once this is
    /// recorded.
    ErasePerson {
        person: String,
        by: String,
        grounds: String,
    },
    ChangeStaffRoles {
        person: String,
        roles: BTreeSet<Role>,
    },
    /// The staff member's last day in the establishment.
    StaffMemberLeaves {
        person: String,
        last_day: NaiveDate,
    },
    /// Records that another system (the ENT, the AAF) knows `person` by `identifier`,
    /// so that its tokens find them.
    LinkExternalId {
        person: String,
        kind: PersonKind,
        identifier: ExternalId,
    },
    /// Ends a link: the other system's tokens for `identifier` find nobody from then on
    /// (an identifier given to the wrong person, an ENT account closed or replaced). The
    /// identifier may then be linked again, to anyone.
    UnlinkExternalId {
        identifier: ExternalId,
    },
    /// Whether the guardians who are told of absences are also told of each mark as it
    /// is entered.
    SetMarkNotifications {
        enabled: bool,
    },
    AssignService {
        year: SchoolYear,
        service: Service,
    },
    RemoveService {
        year: SchoolYear,
        service: Service,
    },
    /// Makes a teacher a professeur principal of a division (a division may have two).
    /// Already so: nothing is recorded.
    AppointPrincipalTeacher {
        year: SchoolYear,
        division: String,
        teacher: String,
    },
    /// Ends it; not one: nothing is recorded.
    DismissPrincipalTeacher {
        year: SchoolYear,
        division: String,
        teacher: String,
    },
    /// Passage to the next school year: opens it with its divisions and groups. Safe to
    /// run twice: what already exists as asked is left alone, and a second run records
    /// nothing. The students' side is one command per student (see `rollover`).
    RollOverYear {
        from: SchoolYear,
        next: YearSpec,
        divisions: Vec<DivisionSpec>,
        groups: Vec<GroupSpec>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum EstablishmentEvent {
    EstablishmentRegistered {
        uai: Uai,
        name: String,
        time_zone: Tz,
        morning_ends: NaiveTime,
    },
    SchoolYearOpened(YearSpec),
    SubjectDefined {
        code: SubjectCode,
        short: String,
        name: String,
    },
    DivisionCreated {
        year: SchoolYear,
        division: DivisionSpec,
    },
    GroupCreated {
        year: SchoolYear,
        group: GroupSpec,
    },
    StaffMemberAdded {
        person: String,
        name: Personal<String>,
        roles: BTreeSet<Role>,
    },
    PersonErased {
        person: String,
        by: String,
        grounds: String,
    },
    StaffRolesChanged {
        person: String,
        previous: BTreeSet<Role>,
        roles: BTreeSet<Role>,
    },
    StaffMemberLeft {
        person: String,
        last_day: NaiveDate,
    },
    ServiceAssigned {
        year: SchoolYear,
        service: Service,
    },
    ServiceRemoved {
        year: SchoolYear,
        service: Service,
    },
    YearRolledOver {
        from: SchoolYear,
        to: SchoolYear,
    },
    PrincipalTeacherAppointed {
        year: SchoolYear,
        division: String,
        teacher: String,
    },
    PrincipalTeacherDismissed {
        year: SchoolYear,
        division: String,
        teacher: String,
    },
    ExternalIdLinked {
        person: String,
        kind: PersonKind,
        identifier: ExternalId,
    },
    ExternalIdUnlinked {
        person: String,
        kind: PersonKind,
        identifier: ExternalId,
    },
    MarkNotificationsSet {
        enabled: bool,
    },
}

impl DomainEvent for EstablishmentEvent {
    fn event_type(&self) -> String {
        match self {
            Self::EstablishmentRegistered { .. } => "EstablishmentRegistered",
            Self::SchoolYearOpened(_) => "SchoolYearOpened",
            Self::SubjectDefined { .. } => "SubjectDefined",
            Self::DivisionCreated { .. } => "DivisionCreated",
            Self::GroupCreated { .. } => "GroupCreated",
            Self::StaffMemberAdded { .. } => "StaffMemberAdded",
            Self::PersonErased { .. } => "PersonErased",
            Self::StaffRolesChanged { .. } => "StaffRolesChanged",
            Self::StaffMemberLeft { .. } => "StaffMemberLeft",
            Self::ServiceAssigned { .. } => "ServiceAssigned",
            Self::ServiceRemoved { .. } => "ServiceRemoved",
            Self::YearRolledOver { .. } => "YearRolledOver",
            Self::PrincipalTeacherAppointed { .. } => "PrincipalTeacherAppointed",
            Self::PrincipalTeacherDismissed { .. } => "PrincipalTeacherDismissed",
            Self::ExternalIdLinked { .. } => "ExternalIdLinked",
            Self::ExternalIdUnlinked { .. } => "ExternalIdUnlinked",
            Self::MarkNotificationsSet { .. } => "MarkNotificationsSet",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        // Version 2: the name became personal data (see `crate::upcast`).
        match self {
            Self::StaffMemberAdded { .. } => "2",
            _ => "1",
        }
        .to_string()
    }
}

/// "la division 3A", "le groupe 3A-LV2".
fn class_fr(class: &ClassRef) -> String {
    match class {
        ClassRef::Division(id) => format!("la division {id}"),
        ClassRef::Group(id) => format!("le groupe {id}"),
    }
}

/// "au membre du personnel", "à l'élève", "au responsable légal".
fn to_kind_fr(kind: PersonKind) -> &'static str {
    match kind {
        PersonKind::Staff => "au membre du personnel",
        PersonKind::Student => "à l'élève",
        PersonKind::Guardian => "au responsable légal",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EstablishmentError {
    #[error("l'établissement est déjà enregistré sous l'UAI {0}")]
    AlreadyRegistered(Uai),
    #[error("l'établissement doit d'abord être enregistré")]
    NotRegistered,
    #[error("il manque {}", what_fr(.0))]
    Missing(&'static str),
    #[error("l'année scolaire {0} est déjà ouverte")]
    YearExists(SchoolYear),
    #[error("l'année scolaire {0} n'est pas ouverte dans cet établissement")]
    UnknownYear(SchoolYear),
    #[error("l'année scolaire {year} doit se terminer après avoir commencé (du {} au {})", date_fr(.first), date_fr(.last))]
    YearDates {
        year: SchoolYear,
        first: NaiveDate,
        last: NaiveDate,
    },
    #[error("l'année scolaire {year} ne peut pas commencer le {} : elle commence en {expected}", date_fr(.first))]
    YearStartsElsewhere {
        year: SchoolYear,
        first: NaiveDate,
        expected: u16,
    },
    #[error("une année scolaire compte au moins une période (trimestre ou semestre)")]
    NoPeriod,
    #[error("la période {id} (du {} au {}) se termine avant de commencer", date_fr(.from), date_fr(.to))]
    PeriodReversed {
        id: String,
        from: NaiveDate,
        to: NaiveDate,
    },
    #[error("la période {id} (du {} au {}) sort de l'année scolaire (du {} au {})", date_fr(.from), date_fr(.to), date_fr(.first), date_fr(.last))]
    PeriodOutsideYear {
        id: String,
        from: NaiveDate,
        to: NaiveDate,
        first: NaiveDate,
        last: NaiveDate,
    },
    #[error("les périodes {first} et {second} se chevauchent : {second} commence le {}, avant la fin de {first} le {}", date_fr(.starts), date_fr(.ends))]
    PeriodsOverlap {
        first: String,
        second: String,
        starts: NaiveDate,
        ends: NaiveDate,
    },
    #[error("l'identifiant de période {0} est utilisé deux fois")]
    PeriodTwice(String),
    #[error("la matière {0} est déjà définie")]
    SubjectExists(SubjectCode),
    #[error("la matière {0} n'est pas définie dans cet établissement")]
    UnknownSubject(SubjectCode),
    #[error("la division {division} existe déjà en {year}")]
    DivisionExists { year: SchoolYear, division: String },
    #[error("il n'y a pas de division {division} en {year}")]
    UnknownDivision { year: SchoolYear, division: String },
    #[error("le groupe {group} existe déjà en {year}")]
    GroupExists { year: SchoolYear, group: String },
    #[error("il n'y a pas de groupe {group} en {year}")]
    UnknownGroup { year: SchoolYear, group: String },
    #[error("le groupe {0} doit être issu d'au moins une division")]
    GroupWithoutDivision(String),
    #[error("{id} existe déjà en {year} avec une autre définition ; le passage à l'année suivante ne peut pas la modifier")]
    RolloverMismatch { year: SchoolYear, id: String },
    #[error("l'année scolaire {from} a déjà été reconduite en {to}")]
    AlreadyRolledOver { from: SchoolYear, to: SchoolYear },
    #[error("le passage se fait de {from} à l'année suivante, pas à {to}")]
    RolloverNotNextYear { from: SchoolYear, to: SchoolYear },
    #[error("les données personnelles de {0} sont déjà effacées")]
    AlreadyErased(String),
    #[error("{0} fait déjà partie du personnel")]
    StaffExists(String),
    #[error("{0} ne fait pas partie du personnel")]
    UnknownStaff(String),
    #[error("{0} a quitté l'établissement")]
    StaffLeft(String),
    #[error("un membre du personnel a au moins une fonction")]
    NoRole,
    #[error("{0} a déjà exactement ces fonctions")]
    SameRoles(String),
    #[error("{0} n'est pas enseignant")]
    NotATeacher(String),
    #[error("l'identifiant {value} est déjà attribué {} {holder} ; un identifiant désigne une seule personne", to_kind_fr(*.kind))]
    ExternalIdTaken {
        value: String,
        kind: PersonKind,
        holder: String,
    },
    #[error("{person} est déjà associé à l'identifiant {value}")]
    AlreadyLinked { person: String, value: String },
    #[error("l'identifiant {value} ({scheme}) n'est attribué à personne ici")]
    ExternalIdNotLinked { scheme: String, value: String },
    #[error("{teacher} enseigne déjà {subject} à {}", class_fr(.class))]
    ServiceExists {
        teacher: String,
        subject: SubjectCode,
        class: ClassRef,
    },
    #[error("{teacher} n'enseigne pas {subject} à {}", class_fr(.class))]
    UnknownService {
        teacher: String,
        subject: SubjectCode,
        class: ClassRef,
    },
}

impl Refusal for EstablishmentError {
    fn rule(&self) -> &'static str {
        match self {
            E::AlreadyRegistered(_) => "ESTABLISHMENT_ALREADY_REGISTERED",
            E::NotRegistered => "ESTABLISHMENT_NOT_REGISTERED",
            E::Missing(_) => "MISSING_VALUE",
            E::YearExists(_) => "YEAR_ALREADY_OPEN",
            E::UnknownYear(_) => "YEAR_NOT_OPEN",
            E::YearDates { .. } => "YEAR_DATES_REVERSED",
            E::YearStartsElsewhere { .. } => "YEAR_STARTS_ELSEWHERE",
            E::NoPeriod => "NO_PERIOD",
            E::PeriodReversed { .. } => "PERIOD_DATES_REVERSED",
            E::PeriodOutsideYear { .. } => "PERIOD_OUTSIDE_YEAR",
            E::PeriodsOverlap { .. } => "PERIODS_OVERLAP",
            E::PeriodTwice(_) => "PERIOD_TWICE",
            E::SubjectExists(_) => "SUBJECT_EXISTS",
            E::UnknownSubject(_) => "UNKNOWN_SUBJECT",
            E::DivisionExists { .. } => "DIVISION_EXISTS",
            E::UnknownDivision { .. } => "UNKNOWN_DIVISION",
            E::GroupExists { .. } => "GROUP_EXISTS",
            E::UnknownGroup { .. } => "UNKNOWN_GROUP",
            E::GroupWithoutDivision(_) => "GROUP_WITHOUT_DIVISION",
            E::RolloverMismatch { .. } => "ROLLOVER_MISMATCH",
            E::AlreadyRolledOver { .. } => "ALREADY_ROLLED_OVER",
            E::RolloverNotNextYear { .. } => "ROLLOVER_NOT_NEXT_YEAR",
            E::AlreadyErased(_) => "ALREADY_ERASED",
            E::StaffExists(_) => "STAFF_EXISTS",
            E::UnknownStaff(_) => "UNKNOWN_STAFF",
            E::StaffLeft(_) => "STAFF_LEFT",
            E::NoRole => "NO_ROLE",
            E::SameRoles(_) => "SAME_ROLES",
            E::NotATeacher(_) => "NOT_A_TEACHER",
            E::ExternalIdTaken { .. } => "EXTERNAL_ID_TAKEN",
            E::AlreadyLinked { .. } => "ALREADY_LINKED",
            E::ExternalIdNotLinked { .. } => "EXTERNAL_ID_NOT_LINKED",
            E::ServiceExists { .. } => "SERVICE_EXISTS",
            E::UnknownService { .. } => "UNKNOWN_SERVICE",
        }
    }

    fn message(&self, lang: Lang) -> String {
        if lang == Lang::Fr {
            return self.to_string();
        }
        match self {
            E::AlreadyRegistered(uai) => {
                format!("the establishment is already registered as {uai}")
            }
            E::NotRegistered => "the establishment must be registered first".to_string(),
            E::Missing(what) => format!("{what} must not be empty"),
            E::YearExists(year) => format!("school year {year} is already open"),
            E::UnknownYear(year) => {
                format!("school year {year} is not open in this establishment")
            }
            E::YearDates { year, first, last } => {
                format!("school year {year} must end after it starts ({first} to {last})")
            }
            E::YearStartsElsewhere {
                year,
                first,
                expected,
            } => format!("school year {year} cannot start on {first}: it starts in {expected}"),
            E::NoPeriod => {
                "a school year needs at least one period (trimestre or semestre)".to_string()
            }
            E::PeriodReversed { id, from, to } => {
                format!("period {id} ({from} to {to}) ends before it starts")
            }
            E::PeriodOutsideYear {
                id,
                from,
                to,
                first,
                last,
            } => format!(
                "period {id} ({from} to {to}) is outside the school year ({first} to {last})"
            ),
            E::PeriodsOverlap {
                first,
                second,
                starts,
                ends,
            } => format!(
                "periods {first} and {second} overlap: {second} starts on {starts}, before {first} ends on {ends}"
            ),
            E::PeriodTwice(id) => format!("period id {id} is used twice"),
            E::SubjectExists(subject) => format!("subject {subject} is already defined"),
            E::UnknownSubject(subject) => {
                format!("subject {subject} is not defined in this establishment")
            }
            E::DivisionExists { year, division } => {
                format!("division {division} already exists in {year}")
            }
            E::UnknownDivision { year, division } => {
                format!("there is no division {division} in {year}")
            }
            E::GroupExists { year, group } => format!("group {group} already exists in {year}"),
            E::UnknownGroup { year, group } => format!("there is no group {group} in {year}"),
            E::GroupWithoutDivision(group) => {
                format!("group {group} must be drawn from at least one division")
            }
            E::RolloverMismatch { year, id } => format!(
                "{id} of {year} already exists with another definition; the rollover cannot change it"
            ),
            E::AlreadyRolledOver { from, to } => {
                format!("school year {from} was already rolled over to {to}")
            }
            E::RolloverNotNextYear { from, to } => {
                format!("the rollover goes from {from} to the year after it, not to {to}")
            }
            E::AlreadyErased(person) => {
                format!("the personal data of {person} is already erased")
            }
            E::StaffExists(person) => format!("{person} is already a member of staff"),
            E::UnknownStaff(person) => format!("{person} is not a member of staff"),
            E::StaffLeft(person) => format!("{person} has left the establishment"),
            E::NoRole => "a member of staff needs at least one role".to_string(),
            E::SameRoles(person) => format!("{person} already has exactly these roles"),
            E::NotATeacher(person) => format!("{person} is not a teacher"),
            E::ExternalIdTaken {
                value,
                kind,
                holder,
            } => format!(
                "identifier {value} is already linked to {kind} {holder}; one identifier names one person"
            ),
            E::AlreadyLinked { person, value } => {
                format!("{person} is already linked to identifier {value}")
            }
            E::ExternalIdNotLinked { scheme, value } => {
                format!("identifier {value} ({scheme}) is linked to no one here")
            }
            E::ServiceExists {
                teacher,
                subject,
                class,
            } => format!("{teacher} already teaches {subject} to {class}"),
            E::UnknownService {
                teacher,
                subject,
                class,
            } => format!("{teacher} does not teach {subject} to {class}"),
        }
    }
}

use EstablishmentError as E;

fn required(value: &str, what: &'static str) -> Result<(), E> {
    if value.trim().is_empty() {
        Err(E::Missing(what))
    } else {
        Ok(())
    }
}

/// The rules of a school year's dates and periods.
pub fn check_year(spec: &YearSpec) -> Result<(), E> {
    let (first, last) = (spec.first_day, spec.last_day);
    if last <= first {
        return Err(E::YearDates {
            year: spec.year.clone(),
            first,
            last,
        });
    }
    let expected = spec.year.first_year();
    if u16::try_from(chrono::Datelike::year(&first)).ok() != Some(expected) {
        return Err(E::YearStartsElsewhere {
            year: spec.year.clone(),
            first,
            expected,
        });
    }
    if spec.periods.is_empty() {
        return Err(E::NoPeriod);
    }
    let mut ids = BTreeSet::new();
    for p in &spec.periods {
        required(&p.id, "the period id")?;
        required(&p.name, "the period name")?;
        if !ids.insert(p.id.as_str()) {
            return Err(E::PeriodTwice(p.id.clone()));
        }
        if p.to < p.from {
            return Err(E::PeriodReversed {
                id: p.id.clone(),
                from: p.from,
                to: p.to,
            });
        }
        if p.from < first || p.to > last {
            return Err(E::PeriodOutsideYear {
                id: p.id.clone(),
                from: p.from,
                to: p.to,
                first,
                last,
            });
        }
    }
    let mut sorted: Vec<&Period> = spec.periods.iter().collect();
    sorted.sort_by_key(|p| p.from);
    for pair in sorted.windows(2) {
        if pair[1].from <= pair[0].to {
            return Err(E::PeriodsOverlap {
                first: pair[0].id.clone(),
                second: pair[1].id.clone(),
                starts: pair[1].from,
                ends: pair[0].to,
            });
        }
    }
    Ok(())
}

impl Establishment {
    pub fn year(&self, year: &SchoolYear) -> Result<&Year, E> {
        self.years
            .get(year)
            .ok_or_else(|| E::UnknownYear(year.clone()))
    }

    /// The school year holding `date`, if any.
    pub fn year_on(&self, date: NaiveDate) -> Option<(&SchoolYear, &Year)> {
        self.years
            .iter()
            .find(|(_, y)| y.first_day <= date && date <= y.last_day)
    }

    /// The period holding `date`, if any.
    pub fn period_on(&self, date: NaiveDate) -> Option<&Period> {
        self.year_on(date)
            .and_then(|(_, y)| y.periods.iter().find(|p| p.from <= date && date <= p.to))
    }

    /// Checks that a student may be placed in `division` with `groups` in `year`: every
    /// group exists and is drawn from that division. Used before sending a student's
    /// enrolment commands, which cannot see the establishment themselves.
    pub fn check_placement(
        &self,
        year: &SchoolYear,
        division: &str,
        groups: &[String],
    ) -> Result<(), E> {
        let y = self.year(year)?;
        if !y.divisions.contains_key(division) {
            return Err(E::UnknownDivision {
                year: year.clone(),
                division: division.to_string(),
            });
        }
        for group in groups {
            let g = y.groups.get(group).ok_or_else(|| E::UnknownGroup {
                year: year.clone(),
                group: group.clone(),
            })?;
            if !g.divisions.iter().any(|d| d == division) {
                return Err(E::UnknownGroup {
                    year: year.clone(),
                    group: format!("{group} for division {division}"),
                });
            }
        }
        Ok(())
    }

    fn registered(&self) -> Result<(), E> {
        self.uai.as_ref().map(|_| ()).ok_or(E::NotRegistered)
    }

    fn active_staff(&self, person: &str) -> Result<&StaffMember, E> {
        let member = self
            .staff
            .get(person)
            .ok_or_else(|| E::UnknownStaff(person.to_string()))?;
        if member.left_on.is_some() {
            return Err(E::StaffLeft(person.to_string()));
        }
        Ok(member)
    }

    fn check_division(&self, year: &SchoolYear, division: &DivisionSpec) -> Result<(), E> {
        required(&division.id, "the division id")?;
        required(&division.name, "the division name")?;
        required(&division.level, "the division level")?;
        if self.year(year)?.divisions.contains_key(&division.id) {
            return Err(E::DivisionExists {
                year: year.clone(),
                division: division.id.clone(),
            });
        }
        Ok(())
    }

    fn check_group(
        &self,
        year: &SchoolYear,
        group: &GroupSpec,
        pending: &[DivisionSpec],
    ) -> Result<(), E> {
        required(&group.id, "the group id")?;
        required(&group.name, "the group name")?;
        required(&group.partition, "the group partition")?;
        let y = self.years.get(year);
        if y.is_some_and(|y| y.groups.contains_key(&group.id)) {
            return Err(E::GroupExists {
                year: year.clone(),
                group: group.id.clone(),
            });
        }
        if group.divisions.is_empty() {
            return Err(E::GroupWithoutDivision(group.id.clone()));
        }
        for d in &group.divisions {
            let known = y.is_some_and(|y| y.divisions.contains_key(d))
                || pending.iter().any(|p| &p.id == d);
            if !known {
                return Err(E::UnknownDivision {
                    year: year.clone(),
                    division: d.clone(),
                });
            }
        }
        Ok(())
    }

    fn check_service(&self, year: &SchoolYear, service: &Service) -> Result<(), E> {
        let member = self.active_staff(&service.teacher)?;
        if !member.roles.contains(&Role::Teacher) {
            return Err(E::NotATeacher(service.teacher.clone()));
        }
        if !self.subjects.contains_key(&service.subject) {
            return Err(E::UnknownSubject(service.subject.clone()));
        }
        let y = self.year(year)?;
        match &service.class {
            ClassRef::Division(d) if !y.divisions.contains_key(d) => Err(E::UnknownDivision {
                year: year.clone(),
                division: d.clone(),
            }),
            ClassRef::Group(g) if !y.groups.contains_key(g) => Err(E::UnknownGroup {
                year: year.clone(),
                group: g.clone(),
            }),
            _ => Ok(()),
        }
    }

    fn decide(&self, command: EstablishmentCommand) -> Result<Vec<EstablishmentEvent>, E> {
        use EstablishmentCommand as C;
        use EstablishmentEvent as V;
        if !matches!(command, C::Register { .. }) {
            self.registered()?;
        }
        Ok(match command {
            C::Register {
                uai,
                name,
                time_zone,
                morning_ends,
            } => {
                if let Some(existing) = &self.uai {
                    return Err(E::AlreadyRegistered(existing.clone()));
                }
                required(&name, "the establishment's name")?;
                vec![V::EstablishmentRegistered {
                    uai,
                    name,
                    time_zone,
                    morning_ends,
                }]
            }
            C::OpenSchoolYear(spec) => {
                if self.years.contains_key(&spec.year) {
                    return Err(E::YearExists(spec.year));
                }
                check_year(&spec)?;
                vec![V::SchoolYearOpened(spec)]
            }
            C::DefineSubject { code, short, name } => {
                if self.subjects.contains_key(&code) {
                    return Err(E::SubjectExists(code));
                }
                required(&short, "the subject's short name")?;
                required(&name, "the subject's name")?;
                vec![V::SubjectDefined { code, short, name }]
            }
            C::CreateDivision { year, division } => {
                self.check_division(&year, &division)?;
                vec![V::DivisionCreated { year, division }]
            }
            C::CreateGroup { year, group } => {
                self.year(&year)?;
                self.check_group(&year, &group, &[])?;
                vec![V::GroupCreated { year, group }]
            }
            C::AddStaffMember {
                person,
                name,
                roles,
            } => {
                required(&person, "the person's id")?;
                required(&name, "the person's name")?;
                if self.staff.contains_key(&person) {
                    return Err(E::StaffExists(person));
                }
                if roles.is_empty() {
                    return Err(E::NoRole);
                }
                vec![V::StaffMemberAdded {
                    name: Personal::known(&person, name),
                    person,
                    roles,
                }]
            }
            C::ErasePerson {
                person,
                by,
                grounds,
            } => {
                required(&person, "the person's id")?;
                required(&by, "who erases")?;
                required(&grounds, "the grounds for erasure")?;
                if self.erased.contains(&person) {
                    return Err(E::AlreadyErased(person));
                }
                vec![V::PersonErased {
                    person,
                    by,
                    grounds,
                }]
            }
            C::ChangeStaffRoles { person, roles } => {
                let member = self.active_staff(&person)?;
                if roles.is_empty() {
                    return Err(E::NoRole);
                }
                if member.roles == roles {
                    return Err(E::SameRoles(person));
                }
                vec![V::StaffRolesChanged {
                    person,
                    previous: member.roles.clone(),
                    roles,
                }]
            }
            C::LinkExternalId {
                person,
                kind,
                identifier,
            } => {
                required(&person, "the person's id")?;
                required(&identifier.scheme, "the identifier's scheme")?;
                required(&identifier.value, "the identifier")?;
                if self.erased.contains(&person) {
                    return Err(E::AlreadyErased(person));
                }
                if kind == PersonKind::Staff && !self.staff.contains_key(&person) {
                    return Err(E::UnknownStaff(person));
                }
                if let Some(link) = self.external_ids.get(&identifier.value) {
                    return Err(if link.person == person {
                        E::AlreadyLinked {
                            person,
                            value: identifier.value,
                        }
                    } else {
                        E::ExternalIdTaken {
                            value: identifier.value,
                            kind: link.kind,
                            holder: link.person.clone(),
                        }
                    });
                }
                vec![V::ExternalIdLinked {
                    person,
                    kind,
                    identifier,
                }]
            }
            C::UnlinkExternalId { identifier } => {
                let link = self
                    .external_ids
                    .get(&identifier.value)
                    .filter(|link| link.scheme == identifier.scheme)
                    .ok_or_else(|| E::ExternalIdNotLinked {
                        scheme: identifier.scheme.clone(),
                        value: identifier.value.clone(),
                    })?;
                vec![V::ExternalIdUnlinked {
                    person: link.person.clone(),
                    kind: link.kind,
                    identifier,
                }]
            }
            // Already so: recorded once, not again.
            C::SetMarkNotifications { enabled } if enabled == self.notify_marks => Vec::new(),
            C::SetMarkNotifications { enabled } => vec![V::MarkNotificationsSet { enabled }],
            C::StaffMemberLeaves { person, last_day } => {
                self.active_staff(&person)?;
                vec![V::StaffMemberLeft { person, last_day }]
            }
            C::AssignService { year, service } => {
                self.check_service(&year, &service)?;
                if self.year(&year)?.services.contains(&service) {
                    return Err(E::ServiceExists {
                        teacher: service.teacher,
                        subject: service.subject,
                        class: service.class,
                    });
                }
                vec![V::ServiceAssigned { year, service }]
            }
            C::RemoveService { year, service } => {
                if !self.year(&year)?.services.contains(&service) {
                    return Err(E::UnknownService {
                        teacher: service.teacher,
                        subject: service.subject,
                        class: service.class,
                    });
                }
                vec![V::ServiceRemoved { year, service }]
            }
            C::AppointPrincipalTeacher {
                year,
                division,
                teacher,
            } => {
                let member = self.active_staff(&teacher)?;
                if !member.roles.contains(&Role::Teacher) {
                    return Err(E::NotATeacher(teacher));
                }
                let y = self.year(&year)?;
                if !y.divisions.contains_key(&division) {
                    return Err(E::UnknownDivision { year, division });
                }
                if y.principal_teachers
                    .get(&division)
                    .is_some_and(|t| t.contains(&teacher))
                {
                    return Ok(Vec::new());
                }
                vec![V::PrincipalTeacherAppointed {
                    year,
                    division,
                    teacher,
                }]
            }
            C::DismissPrincipalTeacher {
                year,
                division,
                teacher,
            } => {
                let appointed = self
                    .year(&year)?
                    .principal_teachers
                    .get(&division)
                    .is_some_and(|t| t.contains(&teacher));
                if !appointed {
                    return Ok(Vec::new());
                }
                vec![V::PrincipalTeacherDismissed {
                    year,
                    division,
                    teacher,
                }]
            }
            C::RollOverYear {
                from,
                next,
                divisions,
                groups,
            } => self.roll_over(from, next, divisions, groups)?,
        })
    }

    /// Opens the next year, creating only what does not exist yet: running the same
    /// rollover again records nothing, and a rollover that would redefine something
    /// already there is refused rather than silently changing it.
    fn roll_over(
        &self,
        from: SchoolYear,
        next: YearSpec,
        divisions: Vec<DivisionSpec>,
        groups: Vec<GroupSpec>,
    ) -> Result<Vec<EstablishmentEvent>, E> {
        use EstablishmentEvent as V;
        let source = self.year(&from)?;
        if next.year != from.next() {
            return Err(E::RolloverNotNextYear {
                from,
                to: next.year,
            });
        }
        if let Some(to) = &source.rolled_over_to {
            if *to != next.year {
                return Err(E::AlreadyRolledOver {
                    from,
                    to: to.clone(),
                });
            }
        }
        let mut events = Vec::new();
        let existing = self.years.get(&next.year);
        match existing {
            Some(y)
                if y.first_day != next.first_day
                    || y.last_day != next.last_day
                    || y.periods != next.periods =>
            {
                return Err(E::RolloverMismatch {
                    year: next.year.clone(),
                    id: "the calendar".into(),
                });
            }
            Some(_) => {}
            None => {
                check_year(&next)?;
                events.push(V::SchoolYearOpened(next.clone()));
            }
        }
        let mut new_divisions = Vec::new();
        for division in divisions {
            match existing.and_then(|y| y.divisions.get(&division.id)) {
                Some(d) if *d == division => {}
                Some(_) => {
                    return Err(E::RolloverMismatch {
                        year: next.year.clone(),
                        id: format!("division {}", division.id),
                    })
                }
                None => {
                    required(&division.id, "the division id")?;
                    required(&division.name, "the division name")?;
                    required(&division.level, "the division level")?;
                    if new_divisions
                        .iter()
                        .any(|d: &DivisionSpec| d.id == division.id)
                    {
                        return Err(E::DivisionExists {
                            year: next.year.clone(),
                            division: division.id,
                        });
                    }
                    new_divisions.push(division);
                }
            }
        }
        let mut new_groups = Vec::new();
        for group in groups {
            match existing.and_then(|y| y.groups.get(&group.id)) {
                Some(g) if *g == group => {}
                Some(_) => {
                    return Err(E::RolloverMismatch {
                        year: next.year.clone(),
                        id: format!("group {}", group.id),
                    })
                }
                None => {
                    self.check_group(&next.year, &group, &new_divisions)?;
                    new_groups.push(group);
                }
            }
        }
        events.extend(
            new_divisions
                .into_iter()
                .map(|division| V::DivisionCreated {
                    year: next.year.clone(),
                    division,
                }),
        );
        events.extend(new_groups.into_iter().map(|group| V::GroupCreated {
            year: next.year.clone(),
            group,
        }));
        if source.rolled_over_to.is_none() {
            events.push(V::YearRolledOver {
                from,
                to: next.year,
            });
        }
        Ok(events)
    }
}

impl Aggregate for Establishment {
    const TYPE: &'static str = "establishment";
    type Command = EstablishmentCommand;
    type Event = EstablishmentEvent;
    type Error = EstablishmentError;
    type Services = ();

    async fn handle(
        &mut self,
        command: EstablishmentCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), EstablishmentError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: EstablishmentEvent) {
        use EstablishmentEvent as V;
        match event {
            V::EstablishmentRegistered {
                uai,
                name,
                time_zone,
                morning_ends,
            } => {
                self.uai = Some(uai);
                self.name = name;
                self.time_zone = time_zone;
                self.morning_ends = morning_ends;
            }
            V::SchoolYearOpened(spec) => {
                self.years.insert(
                    spec.year,
                    Year {
                        first_day: spec.first_day,
                        last_day: spec.last_day,
                        periods: spec.periods,
                        divisions: BTreeMap::new(),
                        groups: BTreeMap::new(),
                        services: BTreeSet::new(),
                        rolled_over_to: None,
                        principal_teachers: BTreeMap::new(),
                    },
                );
            }
            V::SubjectDefined { code, short, name } => {
                self.subjects.insert(code, Subject { short, name });
            }
            V::DivisionCreated { year, division } => {
                if let Some(y) = self.years.get_mut(&year) {
                    y.divisions.insert(division.id.clone(), division);
                }
            }
            V::GroupCreated { year, group } => {
                if let Some(y) = self.years.get_mut(&year) {
                    y.groups.insert(group.id.clone(), group);
                }
            }
            V::StaffMemberAdded {
                person,
                name,
                roles,
            } => {
                self.staff.insert(
                    person,
                    StaffMember {
                        name,
                        roles,
                        left_on: None,
                    },
                );
            }
            V::PersonErased { person, .. } => {
                // An erased person signs in no more: their identifiers stop naming them.
                self.external_ids.retain(|_, link| link.person != person);
                self.erased.insert(person);
            }
            V::StaffRolesChanged { person, roles, .. } => {
                if let Some(m) = self.staff.get_mut(&person) {
                    m.roles = roles;
                }
            }
            V::StaffMemberLeft { person, last_day } => {
                if let Some(m) = self.staff.get_mut(&person) {
                    m.left_on = Some(last_day);
                }
            }
            V::ServiceAssigned { year, service } => {
                if let Some(y) = self.years.get_mut(&year) {
                    y.services.insert(service);
                }
            }
            V::ServiceRemoved { year, service } => {
                if let Some(y) = self.years.get_mut(&year) {
                    y.services.remove(&service);
                }
            }
            V::PrincipalTeacherAppointed {
                year,
                division,
                teacher,
            } => {
                if let Some(y) = self.years.get_mut(&year) {
                    y.principal_teachers
                        .entry(division)
                        .or_default()
                        .insert(teacher);
                }
            }
            V::PrincipalTeacherDismissed {
                year,
                division,
                teacher,
            } => {
                if let Some(y) = self.years.get_mut(&year) {
                    if let Some(t) = y.principal_teachers.get_mut(&division) {
                        t.remove(&teacher);
                    }
                }
            }
            V::YearRolledOver { from, to } => {
                if let Some(y) = self.years.get_mut(&from) {
                    y.rolled_over_to = Some(to);
                }
            }
            V::ExternalIdLinked {
                person,
                kind,
                identifier,
            } => {
                self.external_ids.insert(
                    identifier.value,
                    ExternalLink {
                        person,
                        kind,
                        scheme: identifier.scheme,
                    },
                );
            }
            V::ExternalIdUnlinked { identifier, .. } => {
                self.external_ids.remove(&identifier.value);
            }
            V::MarkNotificationsSet { enabled } => self.notify_marks = enabled,
        }
    }
}
