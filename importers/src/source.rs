//! An external file as the importers read it: its name, its SHA-256 (the provenance the
//! events carry) and its text, decoded from whatever encoding the exporting tool used.
//!
//! French school software writes UTF-8 (with or without a byte-order mark), Windows-1252
//! or ISO-8859-1/15 (SIECLE's XML declares ISO-8859-15). The rule, in order:
//! 1. a byte-order mark decides (UTF-8, UTF-16 LE/BE);
//! 2. bytes that are valid UTF-8 are UTF-8: a Latin-1 text with accents is almost never
//!    valid UTF-8, and a UTF-8 file re-saved with an old `encoding="ISO-8859-1"`
//!    declaration still reads right;
//! 3. otherwise the encoding an XML declaration names, when it names one;
//! 4. otherwise Windows-1252, the superset of ISO-8859-1 that Excel and Windows tools write.

use std::path::Path;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use sha2::{Digest, Sha256};

use crate::report::{ImportError, Location, Problem};

/// The bytes of `path`, refused past [`crate::limits::MAX_FILE_BYTES`] before any is read.
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, ImportError> {
    let io = |e: std::io::Error| ImportError::Io {
        file: path.display().to_string(),
        reason: e.to_string(),
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > crate::limits::MAX_FILE_BYTES {
        return Err(ImportError::Io {
            file: path.display().to_string(),
            reason: format!(
                "the file has {size} bytes; Carnet reads files of at most {} bytes",
                crate::limits::MAX_FILE_BYTES
            ),
        });
    }
    std::fs::read(path).map_err(io)
}

#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The file's name as the user gave it (kept in the events' provenance).
    pub name: String,
    /// SHA-256 of the bytes, in hex.
    pub sha256: String,
    /// The encoding the bytes were decoded from.
    pub encoding: &'static str,
    pub text: String,
}

impl SourceFile {
    /// Reads and decodes `path`.
    pub fn read(path: &Path) -> Result<Self, ImportError> {
        let bytes = read_bounded(path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Self::from_bytes(&name, &bytes)
    }

    /// Decodes `bytes` received as `name`.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Self, ImportError> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        let encoding = detect(bytes);
        let (text, _, malformed) = encoding.decode(bytes);
        if malformed {
            // Only UTF-16 and declared multi-byte encodings can be malformed here:
            // single-byte encodings decode every byte.
            return Err(ImportError::Invalid(vec![Problem {
                file: name.to_string(),
                at: Location::File,
                field: "encoding".into(),
                rule: format!("the file is not valid {}", encoding.name()),
            }]));
        }
        Ok(SourceFile {
            name: name.to_string(),
            sha256,
            encoding: encoding.name(),
            text: text.into_owned(),
        })
    }

    /// A problem at `at` of this file.
    pub fn problem(
        &self,
        at: Location,
        field: impl Into<String>,
        rule: impl Into<String>,
    ) -> Problem {
        Problem {
            file: self.name.clone(),
            at,
            field: field.into(),
            rule: rule.into(),
        }
    }
}

/// A record of a CSV file with the line it starts on; a record the reader cannot read
/// (a quote not closed, bytes that are not text) becomes a problem naming its line.
pub(crate) fn csv_record(
    source: &SourceFile,
    record: csv::Result<csv::StringRecord>,
    problems: &mut Vec<Problem>,
) -> Option<(u32, csv::StringRecord)> {
    let line =
        |p: Option<&csv::Position>| p.map_or(0, |p| u32::try_from(p.line()).unwrap_or(u32::MAX));
    match record {
        Ok(record) => Some((line(record.position()), record)),
        Err(e) => {
            problems.push(source.problem(Location::Line(line(e.position())), "CSV", e.to_string()));
            None
        }
    }
}

fn detect(bytes: &[u8]) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(bytes) {
        return encoding;
    }
    if std::str::from_utf8(bytes).is_ok() {
        return UTF_8;
    }
    declared_xml_encoding(bytes).unwrap_or(WINDOWS_1252)
}

/// The encoding named by `<?xml ... encoding="..."?>` at the start of `bytes`.
fn declared_xml_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(200)];
    let head = String::from_utf8_lossy(head);
    let declaration = head.strip_prefix("<?xml")?;
    let declaration = &declaration[..declaration.find("?>")?];
    let after = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    // The value is quoted, `"` or `'`: anything else declares nothing (and `after[1..]`
    // would cut a multi-byte character, as a replaced invalid byte is).
    let quote = after.chars().next().filter(|q| matches!(q, '"' | '\''))?;
    let label = after[1..].split(quote).next()?;
    Encoding::for_label(label.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_encoding_schools_use() {
        let text = "Hélène;Zoë;Œdipe;N'Guessan";
        let utf8 = SourceFile::from_bytes("a.csv", text.as_bytes()).unwrap();
        assert_eq!((utf8.text.as_str(), utf8.encoding), (text, "UTF-8"));

        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(text.as_bytes());
        let with_bom = SourceFile::from_bytes("a.csv", &bom).unwrap();
        assert_eq!(with_bom.text, text, "the BOM is not part of the text");

        let (cp1252, _, _) = WINDOWS_1252.encode(text);
        let windows = SourceFile::from_bytes("a.csv", &cp1252).unwrap();
        assert_eq!(
            (windows.text.as_str(), windows.encoding),
            (text, "windows-1252")
        );

        // ISO-8859-15 has Œ at 0xBC, where Windows-1252 has ¼: the declaration decides.
        let xml = "<?xml version=\"1.0\" encoding=\"ISO-8859-15\"?><N>Œdipe Zoë</N>";
        let (latin9, _, _) = encoding_rs::ISO_8859_15.encode(xml);
        let declared = SourceFile::from_bytes("a.xml", &latin9).unwrap();
        assert_eq!(declared.text, xml);
        assert_eq!(declared.encoding, "ISO-8859-15");

        // A UTF-8 file that kept an old Latin-1 declaration still reads as UTF-8.
        let resaved = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><N>Hélène</N>";
        assert_eq!(
            SourceFile::from_bytes("a.xml", resaved.as_bytes())
                .unwrap()
                .text,
            resaved
        );
    }

    #[test]
    fn the_hash_is_of_the_bytes() {
        let file = SourceFile::from_bytes("a.csv", b"abc").unwrap();
        assert_eq!(
            file.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn an_unquoted_declared_encoding_is_no_declaration() {
        // Found by the `source` fuzz target: it panicked cutting the replaced byte.
        let file = SourceFile::from_bytes("a.xml", b"<?xmlencoding=\xac?>").unwrap();
        assert_eq!(file.encoding, "windows-1252");
        assert_eq!(file.text, "<?xmlencoding=\u{ac}?>");
    }

    #[test]
    fn broken_utf16_is_refused() {
        let err = SourceFile::from_bytes("a.csv", &[0xFF, 0xFE, 0x41]).unwrap_err();
        assert!(err.to_string().contains("not valid UTF-16LE"), "{err}");
    }
}
