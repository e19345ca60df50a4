//! The records of UDT's XML files: UDT writes one element per record (`<prof .../>`,
//! `<ligfiche .../>`), its fields as attributes, a few (the calendar's dates) as text.
//! Records are found by their element's name wherever they stand, as entcore's reader
//! finds them: the files' root and wrapping elements are not relied on.

use std::collections::BTreeMap;

use crate::report::{Location, Problem};
use crate::source::SourceFile;
use crate::xml;

/// One record of a file, its attributes trimmed (empty ones left out).
#[derive(Debug, Clone)]
pub(super) struct Record<'b> {
    /// The file, as the export names it.
    pub file: &'b str,
    /// The element's name.
    pub element: String,
    pub at: Location,
    attributes: BTreeMap<String, String>,
    /// The element's own text, trimmed, when it has one.
    pub text: Option<String>,
}

impl Record<'_> {
    /// The trimmed, non-empty value of the attribute `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    /// The attribute `name`, or an empty text.
    pub fn or_empty(&self, name: &str) -> &str {
        self.get(name).unwrap_or_default()
    }

    /// A problem with this record's field `field`.
    pub fn problem(&self, field: &str, rule: impl Into<String>) -> Problem {
        Problem {
            file: self.file.to_string(),
            at: self.at.clone(),
            field: field.to_string(),
            rule: rule.into(),
        }
    }
}

/// The records of `source` whose element is one of `elements`, in the file's order; a
/// file that is not well-formed XML is one problem and no record.
pub(super) fn read<'b>(
    source: &'b SourceFile,
    elements: &[&str],
    problems: &mut Vec<Problem>,
) -> Vec<Record<'b>> {
    let document = match xml::parse(source) {
        Ok(document) => document,
        Err(problem) => {
            problems.push(problem);
            return Vec::new();
        }
    };
    document
        .descendants()
        .filter(|n| n.is_element() && elements.contains(&n.tag_name().name()))
        .map(|node| Record {
            file: &source.name,
            element: node.tag_name().name().to_string(),
            at: xml::location(&document, node),
            attributes: node
                .attributes()
                .map(|a| (a.name().to_string(), a.value().trim().to_string()))
                .filter(|(_, v)| !v.is_empty())
                .collect(),
            text: xml::own_text(node),
        })
        .collect()
}
