//! What each fuzz target does with its input: the bytes go through the parser as the
//! importer would meet them (decoded by `SourceFile::from_bytes`, then read). A result,
//! `Ok` or `Err`, is fine; a panic, a hang or an exhausted memory is a bug.
//!
//! The same file is the harness of `importers/tests/fuzz_regressions.rs` (included there
//! by path), so a saved crash replays through exactly the code that found it.
//!
//! Inputs of the targets that read more than one file:
//! - `fet`: the `_timetable.csv`, then, after a NUL byte, the `_students.csv` (no NUL:
//!   no students file);
//! - `oneroster`: the bundle of `importers/tests/fixtures/oneroster/` with one file
//!   changed: the first byte chooses it (its low 7 bits modulo 9, in the order of
//!   [`ONEROSTER`]), the rest is its new content; with the first byte's high bit set the
//!   file is left out instead;
//! - `oneroster_zip`: a zip, as `carnet import --format oneroster bundle.zip` reads it;
//! - `udt`: a zip, as `carnet import udt <UAI>_<stamp>_UDT.zip` reads it;
//! - `aaf`: the export of `importers/tests/fixtures/aaf/` (with one establishment) with
//!   one file changed: the first byte chooses it (its low 2 bits, in the order of
//!   [`AAF`]), the rest is its new content.

use carnet_importers::{aaf, asc, fet, oneroster, siecle, sts, udt, untis, SourceFile};
use chrono::{NaiveDate, NaiveTime};

/// The byte between a FET input's timetable and students files.
pub const FET_SEPARATOR: u8 = 0;

/// The OneRoster bundle the `oneroster` target changes one file of.
pub const ONEROSTER: [(&str, &[u8]); 9] = [
    (
        "manifest.csv",
        include_bytes!("../../tests/fixtures/oneroster/manifest.csv"),
    ),
    (
        "orgs.csv",
        include_bytes!("../../tests/fixtures/oneroster/orgs.csv"),
    ),
    (
        "academicSessions.csv",
        include_bytes!("../../tests/fixtures/oneroster/academicSessions.csv"),
    ),
    (
        "courses.csv",
        include_bytes!("../../tests/fixtures/oneroster/courses.csv"),
    ),
    (
        "classes.csv",
        include_bytes!("../../tests/fixtures/oneroster/classes.csv"),
    ),
    (
        "users.csv",
        include_bytes!("../../tests/fixtures/oneroster/users.csv"),
    ),
    (
        "roles.csv",
        include_bytes!("../../tests/fixtures/oneroster/roles.csv"),
    ),
    (
        "enrollments.csv",
        include_bytes!("../../tests/fixtures/oneroster/enrollments.csv"),
    ),
    (
        "demographics.csv",
        include_bytes!("../../tests/fixtures/oneroster/demographics.csv"),
    ),
];

/// The AAF export the `aaf` target changes one file of (its EtabEducNat with the
/// establishment alone, so that no UAI need be given).
pub const AAF: [(&str, &[u8]); 4] = [
    (
        "ENT2D.AAF_0750655E_Complet_20260915_Eleve_0000.xml",
        include_bytes!(
            "../../tests/fixtures/aaf/ENT2D.AAF_0750655E_Complet_20260915_Eleve_0000.xml"
        ),
    ),
    (
        "ENT2D.AAF_0750655E_Complet_20260915_PersRelEleve_0000.xml",
        include_bytes!(
            "../../tests/fixtures/aaf/ENT2D.AAF_0750655E_Complet_20260915_PersRelEleve_0000.xml"
        ),
    ),
    (
        "ENT2D.AAF_0750655E_Complet_20260915_PersEducNat_0000.xml",
        include_bytes!(
            "../../tests/fixtures/aaf/ENT2D.AAF_0750655E_Complet_20260915_PersEducNat_0000.xml"
        ),
    ),
    (
        "ENT2D.AAF_0750655E_Complet_20260915_EtabEducNat_0000.xml",
        b"<ficAlimMENESR><addRequest><identifier><id>4120</id></identifier><attributes>\
          <attr name=\"ENTStructureJointure\"><value>4120</value></attr>\
          <attr name=\"ENTStructureUAI\"><value>0750655E</value></attr>\
          </attributes></addRequest></ficAlimMENESR>",
    ),
];

/// The day the rosters are read on (inside the fixtures' school year).
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 9, 1).unwrap_or_default()
}

/// A bell schedule for numbered hours and periods `0` to `9`: hour `n` from `8+n`:00 to
/// `8+n`:55.
fn hours() -> fet::Hours {
    (0..10u32)
        .filter_map(|n| {
            let start = NaiveTime::from_hms_opt(8 + n, 0, 0)?;
            let end = NaiveTime::from_hms_opt(8 + n, 55, 0)?;
            Some((n.to_string(), (start, end)))
        })
        .collect()
}

fn decode(name: &str, data: &[u8]) -> Option<SourceFile> {
    SourceFile::from_bytes(name, data).ok()
}

/// Encoding detection and decoding.
pub fn source(data: &[u8]) {
    let _ = SourceFile::from_bytes("fuzz.xml", data);
}

/// SIECLE's `ElevesSansAdresses.xml`.
pub fn siecle(data: &[u8]) {
    if let Some(file) = decode("ElevesSansAdresses.xml", data) {
        let _ = siecle::read(&file, today());
    }
}

/// STS-Web's `sts_emp_<UAI>_<year>.xml`.
pub fn sts(data: &[u8]) {
    if let Some(file) = decode("sts_emp_0750655E_2026.xml", data) {
        let _ = sts::read(&file, today());
    }
}

/// FET's `_timetable.csv` and, after a NUL, its `_students.csv`.
pub fn fet(data: &[u8]) {
    let (timetable, students) = match data.iter().position(|b| *b == FET_SEPARATOR) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let Some(timetable) = decode("fuzz_timetable.csv", timetable) else {
        return;
    };
    let students = match students {
        Some(bytes) => match decode("fuzz_students.csv", bytes) {
            Some(file) => Some(file),
            None => return,
        },
        None => None,
    };
    let _ = fet::read(
        &fet::Bundle {
            timetable,
            students,
            fet: None,
        },
        &hours(),
        &fet::Days::new(),
    );
}

/// Untis's `GPU001.TXT`.
pub fn untis(data: &[u8]) {
    if let Some(file) = decode("GPU001.TXT", data) {
        let _ = untis::read(&file, &hours());
    }
}

/// aSc Timetables' XML export.
pub fn asc(data: &[u8]) {
    if let Some(file) = decode("asctt.xml", data) {
        let _ = asc::read(&file);
    }
}

/// A OneRoster bundle with one file changed or left out (see the module's documentation).
pub fn oneroster(data: &[u8]) {
    let Some((&selector, content)) = data.split_first() else {
        return;
    };
    let chosen = usize::from(selector & 0x7F) % ONEROSTER.len();
    let left_out = selector & 0x80 != 0;
    let files = ONEROSTER
        .iter()
        .enumerate()
        .filter_map(|(i, (name, bytes))| {
            if i != chosen {
                Some((name.to_string(), bytes.to_vec()))
            } else if left_out {
                None
            } else {
                Some((name.to_string(), content.to_vec()))
            }
        })
        .collect();
    if let Ok(bundle) = oneroster::Bundle::from_files("fuzz", files) {
        let _ = oneroster::read(&bundle, today());
    }
}

/// A OneRoster bundle as a zip.
pub fn oneroster_zip(data: &[u8]) {
    if let Ok(bundle) = oneroster::Bundle::from_zip("fuzz.zip", data) {
        let _ = oneroster::read(&bundle, today());
    }
}

/// A UDT export as a zip.
pub fn udt(data: &[u8]) {
    if let Ok(bundle) = udt::Bundle::from_zip("0750655E_20260828120000_UDT.zip", data) {
        let _ = udt::read(&bundle);
    }
}

/// An AAF export with one file changed (see the module's documentation).
pub fn aaf(data: &[u8]) {
    let Some((&selector, content)) = data.split_first() else {
        return;
    };
    let chosen = usize::from(selector & 0x03);
    let files = AAF
        .iter()
        .enumerate()
        .map(|(i, (name, bytes))| {
            let bytes = if i == chosen { content } else { bytes };
            (name.to_string(), bytes.to_vec())
        })
        .collect();
    if let Ok(bundle) = aaf::Bundle::from_files("fuzz", files) {
        let _ = aaf::read(&bundle, None, today());
    }
}
