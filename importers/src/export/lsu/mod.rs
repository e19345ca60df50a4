//! The LSU export: the file a collège uploads to the Livret scolaire unique, the
//! ministry's national application for report cards, with the term's bilans
//! périodiques and the bilans de fin de cycle (the socle's eight components).
//!
//! The format is the ministry's import schema, `import-bilan-complet.xsd`,
//! schemaVersion 10.0 (a copy, with where it came from, is in
//! `importers/tests/fixtures/lsu/`, and the tests check every file against it). The
//! export is pure: the caller fills an [`LsuExport`] (from the aggregates, or by hand)
//! and [`write()`] gives the bytes. It checks first everything the national application
//! would refuse ([`validate()`]) and gives every problem at once, each naming the student,
//! subject or teacher to fix, so that nobody learns of them one upload at a time.
//!
//! One file holds both kinds of bilan: the schema puts the bilans périodiques and the
//! bilans de fin de cycle side by side under one `donnees`, and either list may be
//! empty.

mod error;
pub mod model;
pub mod validate;
mod write;

pub use model::{
    Civility, Complement, ComplementKind, ComplementLevel, Cycle, CycleReport, Division,
    EvaluationStatus, LsuExport, MasteryLevel, Modality, Period, PeriodicReport, SchoolLife,
    SocleComponent, Student, Subject, SubjectAssessment, Teacher,
};
pub use validate::{clean_line, clean_text, limits, validate, LsuError};
pub use write::{NAMESPACE, SCHEMA_VERSION};

/// Why an export was not written: every problem found, in the order of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("LSU refuserait ce fichier ({} problème(s)) :\n{}", .problems.len(), list(.problems))]
pub struct LsuRefused {
    pub problems: Vec<LsuError>,
}

fn list(problems: &[LsuError]) -> String {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| format!("- [{}] {p}", p.code()))
        .collect();
    lines.join("\n")
}

/// The LSU import file of `export`, in UTF-8, or every reason LSU would refuse it. The
/// same export always gives the same bytes.
pub fn write(export: &LsuExport) -> Result<Vec<u8>, LsuRefused> {
    let problems = validate(export);
    if !problems.is_empty() {
        return Err(LsuRefused { problems });
    }
    write::xml(export).map_err(|e| LsuRefused {
        problems: vec![LsuError::Write(e.to_string())],
    })
}
