//! The files of one UDT export: the zip UnDeuxTEMPS writes for the ENT
//! (`<UAI>_<yyyyMMddHHmmss>_UDT.zip`, its `UDCal_*.xml` and `semaines.xml` at its root),
//! or the folder it was unzipped into.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::limits;
use crate::report::{ImportError, Location, Problem};
use crate::source::SourceFile;

/// A UDT export, read whole.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The zip's or the folder's name.
    pub name: String,
    /// A zip: the SHA-256 of its bytes. A folder: the SHA-256 of its XML files' names
    /// and SHA-256s, one `name sha256` line each, in name order.
    pub sha256: String,
    /// The XML files, by their name in lower case (`udcal_12.xml`): UDT writes
    /// `UDCal_12.xml`, tools that copy it sometimes `udcal_12.xml`.
    pub files: BTreeMap<String, SourceFile>,
}

impl Bundle {
    /// Reads a UDT zip, the folder of its files, or (given one of its files) the folder
    /// that file is in.
    pub fn read(path: &Path) -> Result<Self, ImportError> {
        let io = |e: std::io::Error| ImportError::Io {
            file: path.display().to_string(),
            reason: e.to_string(),
        };
        let is_xml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xml"));
        let folder = if path.is_dir() {
            Some(path.to_path_buf())
        } else if is_xml {
            path.parent().map(Path::to_path_buf)
        } else {
            None
        };
        let Some(folder) = folder else {
            let bytes = crate::source::read_bounded(path)?;
            return Self::from_zip(&file_name(path), &bytes);
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&folder).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_file() && wanted(&name) {
                files.push((name, crate::source::read_bounded(&entry.path())?));
            }
        }
        Self::from_files(&file_name(&folder), files)
    }

    /// The XML files of a zip (at its root or in one folder).
    pub fn from_zip(name: &str, bytes: &[u8]) -> Result<Self, ImportError> {
        let files = limits::unzip(name, bytes, wanted)?;
        let mut bundle = Self::from_files(name, files)?;
        bundle.sha256 = hex::encode(Sha256::digest(bytes));
        Ok(bundle)
    }

    /// A bundle of the files given (name, bytes).
    pub fn from_files(name: &str, files: Vec<(String, Vec<u8>)>) -> Result<Self, ImportError> {
        let mut decoded = BTreeMap::new();
        let mut problems = Vec::new();
        for (file, bytes) in files {
            match SourceFile::from_bytes(&file, &bytes) {
                Ok(source) => {
                    if decoded.insert(file.to_lowercase(), source).is_some() {
                        problems.push(Problem {
                            file: name.to_string(),
                            at: Location::File,
                            field: file,
                            rule: "the export holds two files of this name".into(),
                        });
                    }
                }
                Err(ImportError::Invalid(p)) => problems.extend(p),
                Err(other) => return Err(other),
            }
        }
        if !problems.is_empty() {
            return Err(ImportError::Invalid(problems));
        }
        let mut digest = Sha256::new();
        for source in decoded.values() {
            digest.update(format!("{} {}\n", source.name, source.sha256));
        }
        Ok(Bundle {
            name: name.to_string(),
            sha256: hex::encode(digest.finalize()),
            files: decoded,
        })
    }

    /// The encoding of the files: theirs if they share one, else `mixed`. Files of
    /// ASCII only read the same in any: they do not count.
    pub fn encoding(&self) -> &'static str {
        let encodings: BTreeSet<&'static str> = self
            .files
            .values()
            .filter(|f| !f.text.is_ascii())
            .map(|f| f.encoding)
            .collect();
        match encodings.into_iter().collect::<Vec<_>>().as_slice() {
            [one] => one,
            [] => "UTF-8",
            _ => "mixed",
        }
    }

    /// The file named `name` (any case).
    pub fn file(&self, name: &str) -> Option<&SourceFile> {
        self.files.get(&name.to_lowercase())
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The files of an export Carnet reads: its XML files (not hidden ones).
fn wanted(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".xml") && !name.starts_with('.')
}
