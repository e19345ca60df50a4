//! The records of an AAF file: `<ficAlimMENESR>` and its `<addRequest>` elements, each an
//! `<identifier><id>` and `<attributes>` of `<attr name="...">` with `<value>`s, read into
//! [`Record`]s that keep where each attribute stands (file and line) for the problems.

use std::borrow::Cow;
use std::collections::BTreeMap;

use roxmltree::Node;

use crate::report::{Location, Problem};
use crate::source::SourceFile;
use crate::xml::{self, attribute, children, own_text, Document};

/// The AAF files Carnet reads, by the category their name (and records) say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Eleve,
    PersRelEleve,
    PersEducNat,
    EtabEducNat,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Eleve,
        Kind::PersRelEleve,
        Kind::PersEducNat,
        Kind::EtabEducNat,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Eleve => "Eleve",
            Kind::PersRelEleve => "PersRelEleve",
            Kind::PersEducNat => "PersEducNat",
            Kind::EtabEducNat => "EtabEducNat",
        }
    }

    /// The kind a file's name says, as the ENT feeders find them: `..._Eleve_0000.xml`.
    pub fn of_file(name: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| name.contains(&format!("_{}_", k.name())))
    }

    /// The kind of a record's `categoriePersonne` / `categorieStructure`.
    fn of_category(category: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(category.trim()))
    }
}

/// One `<attr>` of a record: where it stands and its non-empty values.
#[derive(Debug, Clone)]
pub struct Attr {
    pub at: Location,
    pub values: Vec<String>,
}

/// One `<addRequest>`.
#[derive(Debug, Clone)]
pub struct Record {
    /// The index of its file in the bundle.
    pub file: usize,
    pub kind: Kind,
    pub at: Location,
    /// `<identifier><id>`: the AAF's id of the person or structure.
    pub id: String,
    pub attrs: BTreeMap<String, Attr>,
}

impl Record {
    /// The non-empty values of attribute `name`.
    pub fn values(&self, name: &str) -> &[String] {
        self.attrs.get(name).map_or(&[], |a| a.values.as_slice())
    }

    /// The first non-empty value of attribute `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name).first().map(String::as_str)
    }

    /// Where attribute `name` stands (the record, when it has none).
    pub fn at(&self, name: &str) -> Location {
        self.attrs
            .get(name)
            .map_or_else(|| self.at.clone(), |a| a.at.clone())
    }
}

/// The records of `source`, the `index`th file of its bundle; what is wrong is added to
/// `problems`.
pub fn read_file(index: usize, source: &SourceFile, problems: &mut Vec<Problem>) -> Vec<Record> {
    let translated;
    let source = match html_entities(&source.text) {
        Cow::Borrowed(_) => source,
        Cow::Owned(text) => {
            translated = SourceFile {
                text,
                ..source.clone()
            };
            &translated
        }
    };
    let document = match xml::parse(source) {
        Ok(document) => document,
        Err(problem) => {
            problems.push(problem);
            return Vec::new();
        }
    };
    let root = document.root_element();
    if root.tag_name().name() != "ficAlimMENESR" {
        problems.push(source.problem(
            Location::File,
            "root element",
            format!(
                "an AAF file starts with <ficAlimMENESR>, this file with <{}>",
                root.tag_name().name()
            ),
        ));
        return Vec::new();
    }
    let by_name = Kind::of_file(&source.name);
    let mut records = Vec::new();
    for node in root.children().filter(Node::is_element) {
        let name = node.tag_name().name();
        match name {
            "addRequest" => {
                let read = record(index, by_name, source, &document, node, problems);
                records.extend(read);
            }
            "modifyRequest" | "deleteRequest" => problems.push(source.problem(
                xml::location(&document, node),
                name,
                "a delta's change: Carnet reads complete AAF exports (…_Complet_…), in which \
                 every person is an <addRequest>",
            )),
            _ => {}
        }
    }
    records
}

fn record(
    index: usize,
    by_name: Option<Kind>,
    source: &SourceFile,
    document: &Document<'_>,
    node: Node<'_, '_>,
    problems: &mut Vec<Problem>,
) -> Option<Record> {
    let here = xml::location(document, node);
    let category = xml::at(node, "operationalAttributes")
        .into_iter()
        .flat_map(|n| children(n, "attr"))
        .filter(|a| attribute(*a, "name").is_some_and(|n| n.starts_with("categorie")))
        .find_map(|a| xml::text(a, "value"));
    let kind = by_name.or_else(|| category.as_deref().and_then(Kind::of_category));
    let id = xml::at(node, "identifier/id").and_then(own_text);
    let Some(id) = id else {
        problems.push(source.problem(here, "identifier", "the record has no <identifier><id>"));
        return None;
    };
    let Some(kind) = kind else {
        problems.push(source.problem(
            here,
            "categoriePersonne",
            format!(
                "record {id}: neither the file's name (…_Eleve_0000.xml) nor the record's \
                 categoriePersonne or categorieStructure says whether it is an Eleve, a \
                 PersRelEleve, a PersEducNat or an EtabEducNat"
            ),
        ));
        return None;
    };
    let mut attrs: BTreeMap<String, Attr> = BTreeMap::new();
    for attr in xml::at(node, "attributes")
        .into_iter()
        .flat_map(|n| children(n, "attr"))
    {
        let at = xml::location(document, attr);
        let Some(name) = attribute(attr, "name") else {
            problems.push(source.problem(
                at,
                "attr",
                format!("record {id}: an <attr> has no name"),
            ));
            continue;
        };
        let values = children(attr, "value").filter_map(own_text);
        attrs
            .entry(name)
            .or_insert_with(|| Attr {
                at,
                values: Vec::new(),
            })
            .values
            .extend(values);
    }
    Some(Record {
        file: index,
        kind,
        at: here,
        id,
        attrs,
    })
}

/// The text with the HTML named entities of Latin-1 (`&eacute;`), which some AAF files
/// hold and XML does not define, written as their characters (as the ENT's own feeder
/// does before parsing); XML's five and numeric references are left to the parser.
fn html_entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let name_len = after
            .bytes()
            .take(9)
            .take_while(u8::is_ascii_alphanumeric)
            .count();
        let found = (after.as_bytes().get(name_len) == Some(&b';'))
            .then(|| entity(&after[..name_len]))
            .flatten();
        match found {
            Some(c) => {
                out.push(c);
                rest = &after[name_len + 1..];
                changed = true;
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// The character an HTML entity name stands for (Latin-1 and a few of typography).
fn entity(name: &str) -> Option<char> {
    ENTITIES.split(' ').find_map(|pair| {
        let (n, c) = pair.split_once('=')?;
        (n == name).then(|| c.chars().next()).flatten()
    })
}

const ENTITIES: &str = "\
    nbsp=\u{a0} iexcl=\u{a1} cent=\u{a2} pound=\u{a3} curren=\u{a4} yen=\u{a5} \
    brvbar=\u{a6} sect=\u{a7} uml=\u{a8} copy=\u{a9} ordf=\u{aa} laquo=\u{ab} \
    not=\u{ac} shy=\u{ad} reg=\u{ae} macr=\u{af} deg=\u{b0} plusmn=\u{b1} \
    sup2=\u{b2} sup3=\u{b3} acute=\u{b4} micro=\u{b5} para=\u{b6} middot=\u{b7} \
    cedil=\u{b8} sup1=\u{b9} ordm=\u{ba} raquo=\u{bb} frac14=\u{bc} frac12=\u{bd} \
    frac34=\u{be} iquest=\u{bf} Agrave=\u{c0} Aacute=\u{c1} Acirc=\u{c2} \
    Atilde=\u{c3} Auml=\u{c4} Aring=\u{c5} AElig=\u{c6} Ccedil=\u{c7} Egrave=\u{c8} \
    Eacute=\u{c9} Ecirc=\u{ca} Euml=\u{cb} Igrave=\u{cc} Iacute=\u{cd} Icirc=\u{ce} \
    Iuml=\u{cf} ETH=\u{d0} Ntilde=\u{d1} Ograve=\u{d2} Oacute=\u{d3} Ocirc=\u{d4} \
    Otilde=\u{d5} Ouml=\u{d6} times=\u{d7} Oslash=\u{d8} Ugrave=\u{d9} \
    Uacute=\u{da} Ucirc=\u{db} Uuml=\u{dc} Yacute=\u{dd} THORN=\u{de} szlig=\u{df} \
    agrave=\u{e0} aacute=\u{e1} acirc=\u{e2} atilde=\u{e3} auml=\u{e4} aring=\u{e5} \
    aelig=\u{e6} ccedil=\u{e7} egrave=\u{e8} eacute=\u{e9} ecirc=\u{ea} euml=\u{eb} \
    igrave=\u{ec} iacute=\u{ed} icirc=\u{ee} iuml=\u{ef} eth=\u{f0} ntilde=\u{f1} \
    ograve=\u{f2} oacute=\u{f3} ocirc=\u{f4} otilde=\u{f5} ouml=\u{f6} \
    divide=\u{f7} oslash=\u{f8} ugrave=\u{f9} uacute=\u{fa} ucirc=\u{fb} \
    uuml=\u{fc} yacute=\u{fd} thorn=\u{fe} yuml=\u{ff} OElig=\u{152} oelig=\u{153} \
    Scaron=\u{160} scaron=\u{161} Yuml=\u{178} ndash=\u{2013} mdash=\u{2014} \
    lsquo=\u{2018} rsquo=\u{2019} ldquo=\u{201c} rdquo=\u{201d} bull=\u{2022} \
    hellip=\u{2026} euro=\u{20ac} trade=\u{2122}
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_entities_become_characters() {
        assert_eq!(
            html_entities("D&apos;ETABLISSEMENT &eacute;l&egrave;ve &amp; &#233; &bogus;"),
            "D&apos;ETABLISSEMENT élève &amp; &#233; &bogus;"
        );
        assert!(matches!(html_entities("a &amp; b"), Cow::Borrowed(_)));
        assert_eq!(html_entities("&eacute"), "&eacute");
        assert_eq!(entity("nbsp"), Some('\u{a0}'));
        assert_eq!(entity("oelig"), Some('œ'));
    }

    #[test]
    fn kinds_from_file_names() {
        let kind = |n| Kind::of_file(n);
        assert_eq!(
            kind("ENT2D.AAF_0750655E_Complet_20260915_Eleve_0000.xml"),
            Some(Kind::Eleve)
        );
        assert_eq!(
            kind("X_Complet_20260915_PersRelEleve_0001.xml"),
            Some(Kind::PersRelEleve)
        );
        assert_eq!(kind("X_Complet_20260915_MefEducNat_0000.xml"), None);
    }
}
