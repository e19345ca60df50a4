//! The reasons the national application would refuse an export, each with a stable
//! code for programs and a French message for the people who fix the data in Carnet.

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// One reason the national application would refuse the file. Each message, in French,
/// names the student, subject or teacher to fix; [`LsuError::code`] is stable, for
/// programs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LsuError {
    #[error("l'UAI « {0} » n'est pas un code d'établissement (7 chiffres et une lettre)")]
    InvalidUai(String),
    #[error("le nom du chef d'établissement (signataire des bilans) est vide")]
    MissingHead,
    #[error("il n'y a aucun élève à exporter")]
    NothingToExport,
    #[error("l'année scolaire {0} n'est pas un millésime à 4 chiffres")]
    InvalidYear(i32),
    #[error("le bilan périodique de {student} n'a aucune matière")]
    EmptyReport { student: String },
    #[error("{what} « {id} » apparaît plusieurs fois")]
    Duplicate { what: String, id: String },
    #[error("l'enseignant {teacher} n'a pas d'identifiant STS valide (un entier positif), il a « {value} »")]
    TeacherWithoutStsId { teacher: String, value: String },
    #[error(
        "la matière {subject} n'a pas de code matière national à 6 chiffres, elle a « {value} »"
    )]
    SubjectWithoutNationalCode { subject: String, value: String },
    #[error("la matière de code « {subject} » n'a pas de libellé")]
    MissingSubjectLabel { subject: String },
    #[error("l'élève {student} n'a pas d'identifiant national (ELEVE_ID de SIECLE)")]
    StudentWithoutNationalId { student: String },
    #[error("la classe « {division} » de {student} n'est pas dans la liste des classes")]
    UnknownDivision { division: String, student: String },
    #[error("un {what} concerne l'élève « {student} », qui n'est pas dans la liste des élèves")]
    UnknownStudent { what: &'static str, student: String },
    #[error("la matière « {subject} » du bilan de {student} n'est pas dans la liste des matières")]
    UnknownSubject { subject: String, student: String },
    #[error("l'enseignant {teacher} de {subject} pour {student} n'est pas dans la liste des enseignants")]
    UnknownTeacher {
        teacher: String,
        subject: String,
        student: String,
    },
    #[error(
        "le professeur principal {teacher} de {student} n'est pas dans la liste des enseignants"
    )]
    UnknownPrincipalTeacher { teacher: String, student: String },
    #[error("{subject} pour {student} n'a aucun enseignant")]
    NoTeacher { subject: String, student: String },
    #[error("il y a des bilans périodiques mais aucune période")]
    MissingPeriod,
    #[error("la période commence le {first} et finit le {last}, avant d'avoir commencé")]
    PeriodReversed { first: NaiveDate, last: NaiveDate },
    #[error("la période du {first} au {last} sort de l'année scolaire {year}-{} (du 1er septembre au 31 août)", year + 1)]
    PeriodOutsideYear {
        first: NaiveDate,
        last: NaiveDate,
        year: i32,
    },
    #[error(
        "la période {index} sur {count} n'existe pas (son rang va de 1 au nombre de périodes)"
    )]
    PeriodIndex { index: u8, count: u8 },
    #[error("{what} de {student} manque")]
    MissingAppreciation { what: String, student: String },
    #[error("{what} de {culprit} fait {length} caractères, plus que les {max} permis par LSU")]
    TextTooLong {
        what: String,
        culprit: String,
        length: usize,
        max: usize,
    },
    #[error("le niveau {level} en « {component} » pour {student} n'est pas un niveau de maîtrise (1 à 4, ou 0 pour dispensé)")]
    MasteryOutOfRange {
        level: u8,
        component: &'static str,
        student: String,
    },
    #[error("le bilan de fin de cycle {cycle} de {student} n'a pas de niveau en « {component} »")]
    MissingComponent {
        cycle: u8,
        component: &'static str,
        student: String,
    },
    #[error("le positionnement {value} en {subject} pour {student} n'est pas entre 1 et 4")]
    PositioningOutOfRange {
        value: u8,
        subject: String,
        student: String,
    },
    #[error("{what} {value} en {subject} pour {student} n'est pas entre 0 et 20")]
    AverageOutOfRange {
        what: &'static str,
        value: Decimal,
        subject: String,
        student: String,
    },
    #[error("{student} n'a ni moyenne ni positionnement en {subject} (ni la raison : non noté, en attente, dispensé)")]
    NoAssessment { subject: String, student: String },
    #[error("{what} de {student} vaut {value}, plus que les 999 permis par LSU")]
    CountTooHigh {
        what: &'static str,
        student: String,
        value: u32,
    },
    #[error("l'écriture du fichier a échoué : {0}")]
    Write(String),
}

impl LsuError {
    /// The rule's stable code.
    pub fn code(&self) -> &'static str {
        match self {
            LsuError::InvalidUai(_) => "LSU_INVALID_UAI",
            LsuError::MissingHead => "LSU_MISSING_HEAD",
            LsuError::NothingToExport => "LSU_NOTHING_TO_EXPORT",
            LsuError::InvalidYear(_) => "LSU_INVALID_YEAR",
            LsuError::EmptyReport { .. } => "LSU_EMPTY_REPORT",
            LsuError::Duplicate { .. } => "LSU_DUPLICATE_ID",
            LsuError::TeacherWithoutStsId { .. } => "LSU_TEACHER_WITHOUT_NATIONAL_ID",
            LsuError::SubjectWithoutNationalCode { .. } => "LSU_SUBJECT_WITHOUT_NATIONAL_CODE",
            LsuError::MissingSubjectLabel { .. } => "LSU_MISSING_SUBJECT_LABEL",
            LsuError::StudentWithoutNationalId { .. } => "LSU_STUDENT_WITHOUT_NATIONAL_ID",
            LsuError::UnknownDivision { .. } => "LSU_UNKNOWN_DIVISION",
            LsuError::UnknownStudent { .. } => "LSU_UNKNOWN_STUDENT",
            LsuError::UnknownSubject { .. } => "LSU_UNKNOWN_SUBJECT",
            LsuError::UnknownTeacher { .. } | LsuError::UnknownPrincipalTeacher { .. } => {
                "LSU_UNKNOWN_TEACHER"
            }
            LsuError::NoTeacher { .. } => "LSU_NO_TEACHER",
            LsuError::MissingPeriod => "LSU_MISSING_PERIOD",
            LsuError::PeriodReversed { .. } => "LSU_PERIOD_REVERSED",
            LsuError::PeriodOutsideYear { .. } => "LSU_PERIOD_OUTSIDE_YEAR",
            LsuError::PeriodIndex { .. } => "LSU_PERIOD_INDEX",
            LsuError::MissingAppreciation { .. } => "LSU_MISSING_APPRECIATION",
            LsuError::TextTooLong { .. } => "LSU_TEXT_TOO_LONG",
            LsuError::MasteryOutOfRange { .. } => "LSU_MASTERY_OUT_OF_RANGE",
            LsuError::MissingComponent { .. } => "LSU_MISSING_COMPONENT",
            LsuError::PositioningOutOfRange { .. } => "LSU_POSITIONING_OUT_OF_RANGE",
            LsuError::AverageOutOfRange { .. } => "LSU_AVERAGE_OUT_OF_RANGE",
            LsuError::NoAssessment { .. } => "LSU_NO_ASSESSMENT",
            LsuError::CountTooHigh { .. } => "LSU_COUNT_TOO_HIGH",
            LsuError::Write(_) => "LSU_WRITE",
        }
    }
}
