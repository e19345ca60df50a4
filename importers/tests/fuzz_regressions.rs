//! Every input a fuzz target (importers/fuzz) crashed on, kept under
//! `tests/fuzz_regressions/<target>/`, and every seed of the fuzz corpus
//! (`fuzz/seeds/<target>/`) goes through its parser the way the target feeds it: each
//! must come back, `Ok` or `Err`, without panicking.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::panic::catch_unwind;
use std::path::{Path, PathBuf};

// The fuzz targets' own bodies: a crash input replays through the code that found it.
#[path = "../fuzz/src/lib.rs"]
mod harness;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 10] = [
    ("source", harness::source),
    ("siecle", harness::siecle),
    ("sts", harness::sts),
    ("fet", harness::fet),
    ("untis", harness::untis),
    ("asc", harness::asc),
    ("oneroster", harness::oneroster),
    ("oneroster_zip", harness::oneroster_zip),
    ("udt", harness::udt),
    ("aaf", harness::aaf),
];

fn dir(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The files directly in `dir` (none when it does not exist), in name order.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Feeds every file of `<root>/<target>/` to its target; returns how many were fed and
/// the ones that panicked.
fn replay(root: &Path) -> (usize, Vec<String>) {
    let mut fed = 0;
    let mut panicked = Vec::new();
    for (name, target) in TARGETS {
        for file in files(&root.join(name)) {
            let bytes = std::fs::read(&file).unwrap();
            fed += 1;
            if catch_unwind(|| target(&bytes)).is_err() {
                panicked.push(format!("{name}: {}", file.display()));
            }
        }
    }
    (fed, panicked)
}

#[test]
fn fuzz_crash_inputs_no_longer_panic() {
    let root = dir("tests/fuzz_regressions");
    // A folder that names no target would be skipped silently: refuse it.
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                TARGETS.iter().any(|(t, _)| *t == name),
                "{} names no fuzz target",
                path.display()
            );
        }
    }
    let (_, panicked) = replay(&root);
    assert!(panicked.is_empty(), "these inputs panic:\n{panicked:#?}");
}

#[test]
fn fuzz_seeds_do_not_panic() {
    let root = dir("fuzz/seeds");
    for (name, _) in TARGETS {
        assert!(
            !files(&root.join(name)).is_empty(),
            "the fuzz target {name} has no seed"
        );
    }
    let (fed, panicked) = replay(&root);
    assert!(fed >= TARGETS.len());
    assert!(panicked.is_empty(), "these seeds panic:\n{panicked:#?}");
}
