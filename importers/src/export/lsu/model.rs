//! What an LSU export is made of, as plain data: the caller (a command reading the
//! aggregates, a test) fills it, [`super::validate()`] says everything the national
//! application would refuse, and [`super::write`] turns it into the import file.
//!
//! The shape follows the ministry's import schema (`import-bilan-complet.xsd`,
//! schemaVersion 10.0) and nothing more: Carnet's own ids are kept so that every refusal
//! can name who it is about, and the national ids the schema needs (the STS id of a
//! teacher, the code matière of a subject, the SIECLE id of a student) are optional
//! because Carnet may not know them yet; a missing one is a refusal, not a panic.
//!
//! Levels are stored as the numbers teachers entered (`u8`), not as enums, so that a
//! level out of range reaches the validation and is reported with the student's name
//! instead of being lost in a conversion; [`MasteryLevel`] is the checked form.

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// One LSU import file: one establishment, one school year, at most one period.
#[derive(Debug, Clone, PartialEq)]
pub struct LsuExport {
    /// The establishment's UAI (7 digits and a letter), as in the file's header.
    pub uai: String,
    /// The year the school year starts in (2025 for 2025-2026): LSU's "millésime".
    pub school_year: i32,
    /// The head of the establishment, who signs the bilans ("responsable-etab").
    pub head: String,
    /// The period of the bilans périodiques; required when there are some.
    pub period: Option<Period>,
    pub teachers: Vec<Teacher>,
    pub subjects: Vec<Subject>,
    pub divisions: Vec<Division>,
    pub students: Vec<Student>,
    pub periodic: Vec<PeriodicReport>,
    pub end_of_cycle: Vec<CycleReport>,
}

/// A trimestre or semestre: its rank and how many the year has (3 or 2, sometimes
/// other), with its first and last day (the last day is the bilan's "date-scolarite").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// 1-based rank of the period in the year.
    pub index: u8,
    /// How many periods the year has.
    pub count: u8,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

/// A teacher, as STS-web knows them: LSU matches teachers on their STS id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Teacher {
    /// Carnet's id, the one reports refer to.
    pub id: String,
    /// The teacher's id in STS-web (a positive integer), written as `id-sts`.
    pub sts_id: Option<String>,
    pub civility: Option<Civility>,
    pub last_name: String,
    pub first_name: String,
}

/// The civilities the schema knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Civility {
    Monsieur,
    Madame,
}

/// A subject ("discipline") as taught in the establishment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Carnet's code, the one reports refer to.
    pub code: String,
    /// The national code matière (6 digits, BCN nomenclature), e.g. `061300` for
    /// mathématiques; LSU refuses a discipline without it.
    pub national_code: Option<String>,
    pub modality: Modality,
    /// The name shown on the livret (at most 40 characters in the schema).
    pub label: String,
}

/// The modalité d'élection of a subject (STS's codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Modality {
    /// S: tronc commun.
    Common,
    /// O: option obligatoire.
    Compulsory,
    /// F: option facultative.
    Optional,
    /// L: ajout académique au programme.
    Academic,
    /// R: enseignement religieux (Alsace-Moselle).
    Religious,
    /// X: mesure spécifique.
    Specific,
    /// D: dispositif propre à l'établissement.
    Local,
}

impl Modality {
    /// The one-letter code the schema uses.
    pub fn code(self) -> &'static str {
        match self {
            Modality::Common => "S",
            Modality::Compulsory => "O",
            Modality::Optional => "F",
            Modality::Academic => "L",
            Modality::Religious => "R",
            Modality::Specific => "X",
            Modality::Local => "D",
        }
    }
}

/// A class (division), by its code as in SIECLE (at most 20 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Division {
    pub code: String,
}

/// A student. LSU knows students only by their SIECLE id ("ELEVE_ID", `id-be`); names
/// are written for the people who read the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Student {
    /// Carnet's id, the one reports refer to.
    pub id: String,
    /// The student's id in SIECLE Base élèves (ELEVE_ID), required by LSU.
    pub id_be: Option<String>,
    pub last_name: String,
    pub first_name: String,
    /// The code of the student's division, one of [`LsuExport::divisions`].
    pub division: String,
}

/// One student's bilan périodique for [`LsuExport::period`].
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodicReport {
    /// Carnet's id of the student.
    pub student: String,
    /// The day of the conseil de classe.
    pub council_date: NaiveDate,
    pub subjects: Vec<SubjectAssessment>,
    /// The general appreciation ("acquis-conseils"), required.
    pub general_appreciation: String,
    pub school_life: SchoolLife,
    /// Carnet's ids of the student's professeurs principaux.
    pub principal_teachers: Vec<String>,
}

/// What a student achieved in one subject during the period.
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectAssessment {
    /// Carnet's code of the subject.
    pub subject: String,
    /// Carnet's ids of the teachers (at least one).
    pub teachers: Vec<String>,
    /// The student's average out of 20, if graded.
    pub average: Option<Decimal>,
    /// The class's average out of 20, if known.
    pub class_average: Option<Decimal>,
    /// The positioning on the programme's objectives, 1 (non atteints) to 4 (dépassés).
    pub positioning: Option<u8>,
    /// Why the student has no average nor positioning, when that is expected.
    pub status: Option<EvaluationStatus>,
    /// The teacher's appreciation, required.
    pub appreciation: String,
    /// The éléments de programme worked on (at most 300 characters each).
    pub programme_elements: Vec<String>,
}

/// Why a student has no average: the schema's `statut-evaluation-eleve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvaluationStatus {
    NotGraded,
    Pending,
    Exempt,
}

impl EvaluationStatus {
    /// The number the schema uses.
    pub fn code(self) -> u8 {
        match self {
            EvaluationStatus::NotGraded => 1,
            EvaluationStatus::Pending => 2,
            EvaluationStatus::Exempt => 3,
        }
    }
}

/// The vie scolaire of the period: counts (at most 999 each) and the CPE's comment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchoolLife {
    pub late: u32,
    pub absent_justified_half_days: u32,
    pub absent_unjustified_half_days: u32,
    pub missed_hours: Option<u32>,
    /// The CPE's appreciation (optional, at most 600 characters).
    pub cpe_comment: Option<String>,
}

/// One student's bilan de fin de cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleReport {
    /// Carnet's id of the student.
    pub student: String,
    pub cycle: Cycle,
    /// The day the bilan was made ("date-creation").
    pub created_on: NaiveDate,
    /// The level of each of the eight components of the socle, each exactly once:
    /// 1 (maîtrise insuffisante) to 4 (très bonne maîtrise), or 0 for "dispensé",
    /// which the schema allows.
    pub components: Vec<(SocleComponent, u8)>,
    /// The synthesis appreciation, required (at most 1500 characters).
    pub synthesis: String,
    pub complement: Option<Complement>,
    /// Carnet's ids of the student's professeurs principaux.
    pub principal_teachers: Vec<String>,
}

/// The cycle a bilan de fin de cycle closes, and the socle's components: the domain's
/// own types (`carnet_domain::reportcards`), which carry the LSU's codes.
pub use carnet_domain::reportcards::{Component as SocleComponent, Cycle};

/// A level of mastery of the socle, once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MasteryLevel {
    /// 0: the student is exempt (dispensé).
    Exempt,
    Insufficient,
    Fragile,
    Satisfactory,
    VeryGood,
}

impl MasteryLevel {
    /// The level of a number entered by a teacher (0 to 4), if it is one.
    pub fn from_number(n: u8) -> Option<MasteryLevel> {
        match n {
            0 => Some(MasteryLevel::Exempt),
            1 => Some(MasteryLevel::Insufficient),
            2 => Some(MasteryLevel::Fragile),
            3 => Some(MasteryLevel::Satisfactory),
            4 => Some(MasteryLevel::VeryGood),
            _ => None,
        }
    }

    /// The number the schema uses.
    pub fn number(self) -> u8 {
        match self {
            MasteryLevel::Exempt => 0,
            MasteryLevel::Insufficient => 1,
            MasteryLevel::Fragile => 2,
            MasteryLevel::Satisfactory => 3,
            MasteryLevel::VeryGood => 4,
        }
    }
}

/// The enseignement de complément of a bilan de fin de cycle 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Complement {
    pub kind: ComplementKind,
    /// Whether the objectives were reached or exceeded; `None` if not assessed.
    pub level: Option<ComplementLevel>,
}

/// The enseignements de complément the schema knows (`CodeEnsCompl`, without `AUC`
/// "aucun", which is an absent [`Complement`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplementKind {
    /// LCA: langues et cultures de l'Antiquité.
    Antiquity,
    /// LCE: langue et culture européennes.
    European,
    /// LCR: langue et culture régionales.
    Regional,
    /// CHK: chant choral.
    Choir,
    /// PRO: découverte professionnelle.
    Professional,
    /// LSF: langue des signes française.
    SignLanguage,
    /// LVE: langue vivante étrangère.
    ForeignLanguage,
}

impl ComplementKind {
    pub fn code(self) -> &'static str {
        match self {
            ComplementKind::Antiquity => "LCA",
            ComplementKind::European => "LCE",
            ComplementKind::Regional => "LCR",
            ComplementKind::Choir => "CHK",
            ComplementKind::Professional => "PRO",
            ComplementKind::SignLanguage => "LSF",
            ComplementKind::ForeignLanguage => "LVE",
        }
    }
}

/// Objectives of an enseignement de complément: reached (1) or exceeded (2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplementLevel {
    Reached,
    Exceeded,
}

impl ComplementLevel {
    pub fn number(self) -> u8 {
        match self {
            ComplementLevel::Reached => 1,
            ComplementLevel::Exceeded => 2,
        }
    }
}
