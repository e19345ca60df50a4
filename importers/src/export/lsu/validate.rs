//! Everything the national application (or its schema) would refuse, found before a
//! single byte of XML is written, so that the secretary gets the whole list at once, in
//! French, with the name of each student, subject or teacher to fix in Carnet, instead
//! of one cryptic schema error per upload attempt.
//!
//! Texts are judged as they will be written: after [`clean_text`], which drops what
//! XML 1.0 cannot carry, and with lengths counted in characters as the schema's
//! `maxLength` facets count them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;

pub use super::error::LsuError;

use super::model::{
    CycleReport, LsuExport, PeriodicReport, SocleComponent, Student, SubjectAssessment, Teacher,
};

/// The schema's limits (`maxLength` of the types named), in characters.
pub mod limits {
    /// `NomPrenom`: names of students, teachers and the head of the establishment.
    pub const NAME: usize = 100;
    /// `Chaine40`: a discipline's label.
    pub const SUBJECT_LABEL: usize = 40;
    /// `CodeStructure`: a division's code.
    pub const DIVISION_CODE: usize = 20;
    /// `Chaine1000`: the appreciation of an acquis (a subject).
    pub const SUBJECT_APPRECIATION: usize = 1000;
    /// `Chaine1000`: the general appreciation ("acquis-conseils").
    pub const GENERAL_APPRECIATION: usize = 1000;
    /// `Chaine600`: the vie scolaire's comment.
    pub const SCHOOL_LIFE_COMMENT: usize = 600;
    /// `Chaine300`: an élément de programme.
    pub const PROGRAMME_ELEMENT: usize = 300;
    /// `Chaine1500`: the synthesis of a bilan de fin de cycle.
    pub const SYNTHESIS: usize = 1500;
    /// `ValeurVieScolaire`: counts of absences and lateness.
    pub const COUNT: u32 = 999;
}

/// A text as it can be written in XML 1.0: line ends made `\n` (a bare `\r` would not
/// match the schema's `(.|\n)*` patterns), the characters XML 1.0 forbids (control
/// characters, U+FFFE, U+FFFF) dropped, and the ends trimmed.
pub fn clean_text(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let kept: String = text.chars().filter(|&c| allowed_in_xml(c)).collect();
    kept.trim().to_string()
}

/// A text for an attribute (a name, a label): as [`clean_text`], on one line, since an
/// XML parser turns line ends and tabs in attributes into spaces anyway.
pub fn clean_line(text: &str) -> String {
    let text = clean_text(text);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn allowed_in_xml(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Every problem in `export`, in the order of the file; empty when LSU would take it.
pub fn validate(export: &LsuExport) -> Vec<LsuError> {
    let mut out = Vec::new();
    check_header(export, &mut out);
    check_period(export, &mut out);
    let index = Index::build(export, &mut out);
    for report in &export.periodic {
        check_periodic(report, &index, &mut out);
    }
    let mut seen = BTreeSet::new();
    for report in &export.end_of_cycle {
        if !seen.insert((report.student.as_str(), report.cycle)) {
            out.push(duplicate(
                "le bilan de fin de cycle de l'élève",
                &report.student,
            ));
        }
        check_cycle(report, &index, &mut out);
    }
    out
}

fn duplicate(what: &str, id: &str) -> LsuError {
    LsuError::Duplicate {
        what: what.to_string(),
        id: id.to_string(),
    }
}

fn check_header(export: &LsuExport, out: &mut Vec<LsuError>) {
    let uai = export.uai.trim();
    let valid = uai.len() == 8
        && uai[..7].bytes().all(|b| b.is_ascii_digit())
        && uai[7..].bytes().all(|b| b.is_ascii_uppercase());
    if !valid {
        out.push(LsuError::InvalidUai(export.uai.clone()));
    }
    let head = clean_line(&export.head);
    if head.is_empty() {
        out.push(LsuError::MissingHead);
    }
    too_long(out, "le nom", "chef d'établissement", &head, limits::NAME);
    if !(1000..=9999).contains(&export.school_year) {
        out.push(LsuError::InvalidYear(export.school_year));
    }
    if export.students.is_empty() {
        out.push(LsuError::NothingToExport);
    }
    if !export.periodic.is_empty() && export.period.is_none() {
        out.push(LsuError::MissingPeriod);
    }
}

fn check_period(export: &LsuExport, out: &mut Vec<LsuError>) {
    let Some(period) = &export.period else { return };
    let (first, last) = (period.first_day, period.last_day);
    if first > last {
        out.push(LsuError::PeriodReversed { first, last });
    }
    let year = export.school_year;
    let start = NaiveDate::from_ymd_opt(year, 9, 1);
    let end = NaiveDate::from_ymd_opt(year + 1, 8, 31);
    let inside = match (start, end) {
        (Some(start), Some(end)) => start <= first.min(last) && first.max(last) <= end,
        _ => false,
    };
    if !inside {
        out.push(LsuError::PeriodOutsideYear { first, last, year });
    }
    if period.index == 0 || period.index > period.count {
        out.push(LsuError::PeriodIndex {
            index: period.index,
            count: period.count,
        });
    }
}

/// Pushes [`LsuError::TextTooLong`] when `text` (already cleaned) exceeds `max`.
fn too_long(out: &mut Vec<LsuError>, what: &str, culprit: &str, text: &str, max: usize) {
    let length = text.chars().count();
    if length > max {
        out.push(LsuError::TextTooLong {
            what: what.to_string(),
            culprit: culprit.to_string(),
            length,
            max,
        });
    }
}

/// A student's name for people: "Jean Dupont".
pub(crate) fn student_name(student: &Student) -> String {
    clean_line(&format!("{} {}", student.first_name, student.last_name))
}

/// A teacher's name for people: "Marie Curie (ENS-7)".
fn teacher_name(teacher: &Teacher) -> String {
    clean_line(&format!(
        "{} {} ({})",
        teacher.first_name, teacher.last_name, teacher.id
    ))
}

/// The model's lists by Carnet id, checked for duplicates and national ids on the way.
struct Index<'a> {
    teachers: BTreeSet<&'a str>,
    subjects: BTreeMap<&'a str, String>,
    students: BTreeMap<&'a str, String>,
}

impl<'a> Index<'a> {
    fn build(export: &'a LsuExport, out: &mut Vec<LsuError>) -> Index<'a> {
        let teachers = index_teachers(export, out);
        let subjects = index_subjects(export, out);
        let students = index_students(export, out);
        Index {
            teachers,
            subjects,
            students,
        }
    }

    /// The name of the student `id` for messages, or the id itself.
    fn student(&self, id: &str) -> String {
        self.students
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    /// The label of the subject `code` for messages, or the code itself.
    fn subject(&self, code: &str) -> String {
        self.subjects
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.to_string())
    }
}

fn index_teachers<'a>(export: &'a LsuExport, out: &mut Vec<LsuError>) -> BTreeSet<&'a str> {
    let mut ids = BTreeSet::new();
    let mut sts_ids = BTreeSet::new();
    for teacher in &export.teachers {
        let name = teacher_name(teacher);
        if !ids.insert(teacher.id.as_str()) {
            out.push(duplicate("l'enseignant", &teacher.id));
        }
        let sts = teacher.sts_id.as_deref().map(str::trim).unwrap_or("");
        let positive = !sts.is_empty()
            && sts.bytes().all(|b| b.is_ascii_digit())
            && sts.bytes().any(|b| b != b'0');
        if !positive {
            out.push(LsuError::TeacherWithoutStsId {
                teacher: name.clone(),
                value: sts.to_string(),
            });
        } else if !sts_ids.insert(sts.trim_start_matches('0')) {
            out.push(duplicate("l'identifiant STS d'enseignant", sts));
        }
        too_long(
            out,
            "le nom",
            &name,
            &clean_line(&teacher.last_name),
            limits::NAME,
        );
        too_long(
            out,
            "le prénom",
            &name,
            &clean_line(&teacher.first_name),
            limits::NAME,
        );
    }
    ids
}

fn index_subjects<'a>(export: &'a LsuExport, out: &mut Vec<LsuError>) -> BTreeMap<&'a str, String> {
    let mut subjects = BTreeMap::new();
    let mut keys = BTreeSet::new();
    for subject in &export.subjects {
        let label = clean_line(&subject.label);
        let name = if label.is_empty() {
            subject.code.clone()
        } else {
            label.clone()
        };
        if subjects
            .insert(subject.code.as_str(), name.clone())
            .is_some()
        {
            out.push(duplicate("la matière", &subject.code));
        }
        if label.is_empty() {
            out.push(LsuError::MissingSubjectLabel {
                subject: subject.code.clone(),
            });
        }
        too_long(out, "le libellé", &name, &label, limits::SUBJECT_LABEL);
        let code = subject
            .national_code
            .as_deref()
            .map(str::trim)
            .unwrap_or("");
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            let value = code.to_string();
            out.push(LsuError::SubjectWithoutNationalCode {
                subject: name,
                value,
            });
        } else if !keys.insert((code, subject.modality)) {
            let key = format!("{code} {}", subject.modality.code());
            out.push(duplicate("le code matière et la modalité", &key));
        }
    }
    subjects
}

fn index_students<'a>(export: &'a LsuExport, out: &mut Vec<LsuError>) -> BTreeMap<&'a str, String> {
    let mut divisions = BTreeSet::new();
    for division in &export.divisions {
        let code = clean_line(&division.code);
        if !divisions.insert(code.clone()) {
            out.push(duplicate("la classe", &code));
        }
        too_long(out, "le code", "la classe", &code, limits::DIVISION_CODE);
    }
    let mut students = BTreeMap::new();
    let mut national = BTreeSet::new();
    for student in &export.students {
        let name = student_name(student);
        if students.insert(student.id.as_str(), name.clone()).is_some() {
            out.push(duplicate("l'élève", &student.id));
        }
        match student
            .id_be
            .as_deref()
            .map(clean_line)
            .filter(|id| !id.is_empty())
        {
            None => out.push(LsuError::StudentWithoutNationalId {
                student: name.clone(),
            }),
            Some(id) if !national.insert(id.clone()) => {
                out.push(duplicate("l'identifiant national d'élève", &id));
            }
            Some(_) => {}
        }
        let division = clean_line(&student.division);
        if division.is_empty() || !divisions.contains(&division) {
            out.push(LsuError::UnknownDivision {
                division,
                student: name.clone(),
            });
        }
        too_long(
            out,
            "le nom",
            &name,
            &clean_line(&student.last_name),
            limits::NAME,
        );
        too_long(
            out,
            "le prénom",
            &name,
            &clean_line(&student.first_name),
            limits::NAME,
        );
    }
    students
}

fn check_periodic(report: &PeriodicReport, index: &Index<'_>, out: &mut Vec<LsuError>) {
    if !index.students.contains_key(report.student.as_str()) {
        out.push(LsuError::UnknownStudent {
            what: "bilan périodique",
            student: report.student.clone(),
        });
    }
    let student = index.student(&report.student);
    if report.subjects.is_empty() {
        out.push(LsuError::EmptyReport {
            student: student.clone(),
        });
    }
    let mut subjects = BTreeSet::new();
    for assessment in &report.subjects {
        if !subjects.insert(assessment.subject.as_str()) {
            let what = format!("dans le bilan de {student}, la matière");
            out.push(duplicate(&what, &assessment.subject));
        }
        check_assessment(assessment, &student, index, out);
    }
    let general = clean_text(&report.general_appreciation);
    required_text(
        out,
        "l'appréciation générale",
        &student,
        &general,
        limits::GENERAL_APPRECIATION,
    );
    check_school_life(report, &student, out);
    check_principals(&report.principal_teachers, &student, index, out);
}

/// Pushes a missing or too long appreciation of `student`.
fn required_text(out: &mut Vec<LsuError>, what: &str, student: &str, text: &str, max: usize) {
    if text.is_empty() {
        out.push(LsuError::MissingAppreciation {
            what: what.to_string(),
            student: student.to_string(),
        });
    }
    too_long(out, what, student, text, max);
}

fn check_principals(ids: &[String], student: &str, index: &Index<'_>, out: &mut Vec<LsuError>) {
    for id in ids {
        if !index.teachers.contains(id.as_str()) {
            out.push(LsuError::UnknownPrincipalTeacher {
                teacher: id.clone(),
                student: student.to_string(),
            });
        }
    }
}

fn check_assessment(
    assessment: &SubjectAssessment,
    student: &str,
    index: &Index<'_>,
    out: &mut Vec<LsuError>,
) {
    let subject = index.subject(&assessment.subject);
    let (s, who) = (subject.clone(), student.to_string());
    if !index.subjects.contains_key(assessment.subject.as_str()) {
        out.push(LsuError::UnknownSubject {
            subject: s.clone(),
            student: who.clone(),
        });
    }
    if assessment.teachers.is_empty() {
        out.push(LsuError::NoTeacher {
            subject: s.clone(),
            student: who.clone(),
        });
    }
    for teacher in &assessment.teachers {
        if !index.teachers.contains(teacher.as_str()) {
            let (teacher, subject, student) = (teacher.clone(), s.clone(), who.clone());
            out.push(LsuError::UnknownTeacher {
                teacher,
                subject,
                student,
            });
        }
    }
    check_marks(assessment, &subject, student, out);
    let appreciation = clean_text(&assessment.appreciation);
    let what = format!("l'appréciation en {subject}");
    required_text(
        out,
        &what,
        student,
        &appreciation,
        limits::SUBJECT_APPRECIATION,
    );
    for element in &assessment.programme_elements {
        let what = format!("un élément de programme en {subject}");
        too_long(
            out,
            &what,
            student,
            &clean_line(element),
            limits::PROGRAMME_ELEMENT,
        );
    }
}

/// The average, the class's average and the positioning of `assessment`: in range, and
/// at least one of them (or the reason there is none).
fn check_marks(
    assessment: &SubjectAssessment,
    subject: &str,
    student: &str,
    out: &mut Vec<LsuError>,
) {
    let (s, who) = (subject.to_string(), student.to_string());
    for (what, value) in [
        ("la moyenne", assessment.average),
        ("la moyenne de classe", assessment.class_average),
    ] {
        if let Some(value) = value.filter(|v| *v < Decimal::ZERO || *v > Decimal::from(20)) {
            out.push(LsuError::AverageOutOfRange {
                what,
                value,
                subject: s.clone(),
                student: who.clone(),
            });
        }
    }
    match assessment.positioning {
        Some(value) if !(1..=4).contains(&value) => {
            out.push(LsuError::PositioningOutOfRange {
                value,
                subject: s.clone(),
                student: who.clone(),
            });
        }
        None if assessment.average.is_none() && assessment.status.is_none() => {
            out.push(LsuError::NoAssessment {
                subject: s.clone(),
                student: who.clone(),
            });
        }
        _ => {}
    }
}

fn check_school_life(report: &PeriodicReport, student: &str, out: &mut Vec<LsuError>) {
    let life = &report.school_life;
    let counts = [
        ("le nombre de retards", Some(life.late)),
        (
            "le nombre de demi-journées d'absence justifiées",
            Some(life.absent_justified_half_days),
        ),
        (
            "le nombre de demi-journées d'absence injustifiées",
            Some(life.absent_unjustified_half_days),
        ),
        ("le nombre d'heures de cours manquées", life.missed_hours),
    ];
    for (what, value) in counts {
        if let Some(value) = value.filter(|v| *v > limits::COUNT) {
            out.push(LsuError::CountTooHigh {
                what,
                student: student.to_string(),
                value,
            });
        }
    }
    if let Some(comment) = &life.cpe_comment {
        let what = "l'appréciation du CPE";
        too_long(
            out,
            what,
            student,
            &clean_text(comment),
            limits::SCHOOL_LIFE_COMMENT,
        );
    }
}

fn check_cycle(report: &CycleReport, index: &Index<'_>, out: &mut Vec<LsuError>) {
    if !index.students.contains_key(report.student.as_str()) {
        out.push(LsuError::UnknownStudent {
            what: "bilan de fin de cycle",
            student: report.student.clone(),
        });
    }
    let student = index.student(&report.student);
    let cycle = report.cycle.number();
    let mut seen = BTreeSet::new();
    for &(component, level) in &report.components {
        if !seen.insert(component) {
            let what = format!("dans le bilan de fin de cycle de {student}, la composante");
            out.push(duplicate(&what, component.lsu_code()));
        }
        if level > 4 {
            let component = component.label_fr();
            out.push(LsuError::MasteryOutOfRange {
                level,
                component,
                student: student.clone(),
            });
        }
    }
    for component in SocleComponent::ALL.iter().filter(|c| !seen.contains(*c)) {
        let component = component.label_fr();
        out.push(LsuError::MissingComponent {
            cycle,
            component,
            student: student.clone(),
        });
    }
    let what = format!("la synthèse du bilan de fin de cycle {cycle}");
    required_text(
        out,
        &what,
        &student,
        &clean_text(&report.synthesis),
        limits::SYNTHESIS,
    );
    check_principals(&report.principal_teachers, &student, index, out);
}
