//! What an uploaded file may cost before it is refused: a hostile file (an XML entity
//! bomb, a zip bomb, a file of gigabytes) gets a clear problem at once, never a server
//! busy for minutes. The figures leave room for the largest real files: a SIECLE export
//! of a 20 000-student district is about 40 MB, a lycée's OneRoster bundle a few MB.

/// Largest file read (a national export, a zip of CSV files).
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Most entries a zip may hold (a OneRoster bundle has about ten files).
pub const MAX_ZIP_ENTRIES: usize = 1_000;
/// Largest file once unzipped, and all of them together.
pub const MAX_UNZIPPED_BYTES: u64 = 256 * 1024 * 1024;
/// Largest unzipped/zipped ratio of an entry: text compresses 5 to 20 times; a zip
/// bomb, thousands of times.
pub const MAX_ZIP_RATIO: u64 = 100;
/// Entries below this size are not held to the ratio (a tiny file of repeated bytes).
pub const RATIO_FLOOR_BYTES: u64 = 1024 * 1024;

/// The files of the zip `bytes` (named `name` in problems) whose base name `wanted`
/// accepts, as (base name, bytes), read within the limits above: too many entries, an
/// entry whose declared sizes say "bomb", or more than [`MAX_UNZIPPED_BYTES`] in all is
/// refused with a problem naming the zip. Folders and macOS's `__MACOSX` shadows are
/// passed over. The sizes a zip declares may lie: they refuse a bomb at once, and the
/// reading stops at the limit whatever they say.
pub fn unzip(
    name: &str,
    bytes: &[u8],
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<(String, Vec<u8>)>, crate::report::ImportError> {
    use crate::report::{ImportError, Location, Problem};
    use std::io::Read;
    let refused = |rule: String| {
        ImportError::Invalid(vec![Problem {
            file: name.to_string(),
            at: Location::File,
            field: "zip".into(),
            rule,
        }])
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| refused(format!("not a readable zip: {e}")))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(refused(format!(
            "the zip holds {} entries; Carnet reads zips of at most {MAX_ZIP_ENTRIES}",
            archive.len()
        )));
    }
    let mut files = Vec::new();
    let mut unzipped: u64 = 0;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| refused(format!("entry {i} of the zip cannot be read: {e}")))?;
        if !entry.is_file() {
            continue;
        }
        let (declared, packed) = (entry.size(), entry.compressed_size().max(1));
        if declared > RATIO_FLOOR_BYTES && declared / packed > MAX_ZIP_RATIO {
            return Err(refused(format!(
                "entry {i} would unzip {declared} bytes from {packed} (more than \
                 {MAX_ZIP_RATIO} times): a zip bomb, not an export"
            )));
        }
        let entry_name = entry
            .name()
            .map_err(|e| refused(format!("entry {i} of the zip has no readable name: {e}")))?
            .to_string();
        if entry_name.split('/').any(|part| part == "__MACOSX") {
            continue;
        }
        let base = entry_name
            .rsplit('/')
            .next()
            .unwrap_or(&entry_name)
            .to_string();
        if !wanted(&base) {
            continue;
        }
        let room = MAX_UNZIPPED_BYTES.saturating_sub(unzipped);
        let mut content = Vec::new();
        (&mut entry)
            .take(room + 1)
            .read_to_end(&mut content)
            .map_err(|e| refused(format!("{entry_name} cannot be read from the zip: {e}")))?;
        unzipped += content.len() as u64;
        if unzipped > MAX_UNZIPPED_BYTES {
            return Err(refused(format!(
                "the zip unzips to more than {MAX_UNZIPPED_BYTES} bytes"
            )));
        }
        files.push((base, content));
    }
    Ok(files)
}

/// Where the text declares an XML entity, if it does: national exports declare none,
/// and an entity referenced many times expands a small file without bound (the
/// "billion laughs"). The line is 1-based.
pub fn entity_declaration(text: &str) -> Option<u32> {
    let at = text.find("<!ENTITY")?;
    let line = text[..at].matches('\n').count() + 1;
    Some(u32::try_from(line).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_declarations_are_found_with_their_line() {
        let bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE x [\n <!ENTITY a \"aaaa\">\n]>\n<x>&a;</x>";
        assert_eq!(entity_declaration(bomb), Some(3));
        assert_eq!(entity_declaration("<!DOCTYPE x>\n<x/>"), None);
    }
}
