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
