//! What an import says when a file is wrong: every problem, each with the file, where in
//! it (line, or XML element and line), the field and the rule it breaks. An import with
//! any problem writes nothing.

use std::fmt;

use carnet_store::StoreError;

/// Where in a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    /// The file as a whole (its encoding, its root element).
    File,
    /// A line of a text file (1-based).
    Line(u32),
    /// An XML element, by its path, and the line it starts on.
    Element { path: String, line: u32 },
}

impl Location {
    /// The line, when there is one.
    pub fn line(&self) -> Option<u32> {
        match self {
            Location::File => None,
            Location::Line(line) | Location::Element { line, .. } => Some(*line),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File => f.write_str("the file"),
            Location::Line(line) => write!(f, "line {line}"),
            Location::Element { path, line } => write!(f, "line {line} ({path})"),
        }
    }
}

/// One thing wrong in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub at: Location,
    pub field: String,
    pub rule: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}: {}",
            self.file, self.at, self.field, self.rule
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {file}: {reason}")]
    Io { file: String, reason: String },
    /// The file breaks rules: nothing was written.
    #[error("{} problem(s), nothing was imported:\n{}", .0.len(), list(.0))]
    Invalid(Vec<Problem>),
    #[error("the file is for establishment {file}, not {expected}")]
    OtherEstablishment { file: String, expected: String },
    /// The file would record what the importer may not record through the API (staff
    /// and their roles, teachers' services, the timetable: the head of the
    /// establishment's business). Nothing was written.
    #[error("this file changes {}: only the head of the establishment may import that; nothing was imported", .0.join(", "))]
    NotAllowed(Vec<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
