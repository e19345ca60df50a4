//! Small helpers over `roxmltree` for the national XML exports (SIECLE, STS-Web, aSc):
//! elements by name, trimmed texts, and where an element stands (its path and line), so
//! that every problem names the element it was found in.

use roxmltree::Node;

use crate::report::{Location, Problem};
use crate::source::SourceFile;

/// A parsed XML file, with where its lines start: roxmltree finds a position's line by
/// reading the text from its start, which made naming 20 000 students' lines quadratic.
#[derive(Debug)]
pub struct Document<'input> {
    inner: roxmltree::Document<'input>,
    /// The byte offset of each line's start.
    lines: Vec<usize>,
}

impl<'input> std::ops::Deref for Document<'input> {
    type Target = roxmltree::Document<'input>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl Document<'_> {
    /// The 1-based line of a byte offset of the text.
    fn line_of(&self, offset: usize) -> u32 {
        let line = self.lines.partition_point(|start| *start <= offset);
        u32::try_from(line).unwrap_or(u32::MAX)
    }
}

/// Parses `source` as XML; a malformed file is one problem at the line the parser stopped.
pub fn parse(source: &SourceFile) -> Result<Document<'_>, Problem> {
    if let Some(line) = crate::limits::entity_declaration(&source.text) {
        return Err(source.problem(
            Location::Line(line),
            "XML",
            "the file declares XML entities (<!ENTITY): national exports have none, and an \
             entity can make a small file expand without bound; refused",
        ));
    }
    // A document type without entities (some tools write one) is harmless.
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let inner = roxmltree::Document::parse_with_options(&source.text, options).map_err(|e| {
        let pos = e.pos();
        source.problem(
            Location::Line(pos.row),
            "XML",
            format!("the file is not well-formed XML: {e}"),
        )
    })?;
    let lines = std::iter::once(0)
        .chain(source.text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    Ok(Document { inner, lines })
}

/// Where `node` stands: the names of its elements from the root, and its line.
pub fn location(document: &Document<'_>, node: Node<'_, '_>) -> Location {
    let mut names: Vec<String> = node
        .ancestors()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name().to_string())
        .collect();
    names.reverse();
    Location::Element {
        path: names.join("/"),
        line: document.line_of(node.range().start),
    }
}

/// The element children of `node` named `name`.
pub fn children<'a, 'input>(
    node: Node<'a, 'input>,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The first element child of `node` named `name`.
pub fn child<'a, 'input>(node: Node<'a, 'input>, name: &'static str) -> Option<Node<'a, 'input>> {
    children(node, name).next()
}

/// The element at `path` under `node` (names separated by `/`).
pub fn at<'a, 'input>(node: Node<'a, 'input>, path: &'static str) -> Option<Node<'a, 'input>> {
    path.split('/').try_fold(node, |n, name| {
        n.children()
            .find(|c| c.is_element() && c.tag_name().name() == name)
    })
}

/// The trimmed text of the child `name` of `node`, when it has a non-empty one.
pub fn text(node: Node<'_, '_>, name: &'static str) -> Option<String> {
    child(node, name).and_then(own_text)
}

/// The trimmed text of `node` itself, when non-empty.
pub fn own_text(node: Node<'_, '_>) -> Option<String> {
    let text: String = node
        .children()
        .filter(|c| c.is_text())
        .filter_map(|c| c.text())
        .collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// The trimmed, non-empty value of the attribute `name` of `node`.
pub fn attribute(node: Node<'_, '_>, name: &'static str) -> Option<String> {
    node.attribute(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// A French date as the national exports write it: `dd/mm/yyyy` (time ignored).
pub fn french_date(text: &str) -> Option<chrono::NaiveDate> {
    let date = text.split_whitespace().next()?;
    chrono::NaiveDate::parse_from_str(date, "%d/%m/%Y").ok()
}
