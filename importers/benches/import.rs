//! The import benchmark: prints rows/s and events/s of
//!   - a SIECLE export of 20 000 students (made here, seeded: the same file every run), and
//!   - FET's export of a large secondary and vocational school (the SPAIN_20-21-locked
//!     fixture: 1 467 rows, 976 lessons, 84 divisions, 250 groups, 88 teachers),
//!
//! each imported into an empty establishment, then the same file again (nothing to do),
//! on Postgres (and SQLite with `-- sqlite`).
//!
//!   cargo bench -p carnet-importers --bench import                 # Postgres, 20 000 students
//!   cargo bench -p carnet-importers --bench import -- 5000 sqlite  # fewer, on SQLite
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark that fails says so and stops

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use carnet_domain::enrolment::SchoolYear;
use carnet_domain::Uai;
use carnet_importers::{import_input, Format, Input, Options, SourceFile, Summary};
use carnet_store::testing::TestStore;
use carnet_store::{BackendKind, EventStore};
use chrono::NaiveDate;

const LAST_NAMES: &[&str] = &[
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "N'Guessan",
    "Müller",
    "Côté",
];
const FIRST_NAMES: &[&str] = &[
    "Hélène",
    "Zoë",
    "Noé",
    "Léa",
    "Maël",
    "Inès",
    "Chloé",
    "Jules",
    "Anaïs",
    "Théo",
    "Œdipe",
    "Aïcha",
    "François",
    "Björn",
    "Eléonore",
    "Loïc",
];

/// A SIECLE export of `students` students in divisions of 28, levels 6e to 3e, half of
/// them in a language group, as SIECLE writes it (ISO-8859-15).
fn siecle_file(students: usize) -> SourceFile {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-15\"?>\n<BEE_ELEVES VERSION=\"3.4\">\n  <PARAMETRES>\n    <UAJ>0750655E</UAJ>\n    <ANNEE_SCOLAIRE>2026</ANNEE_SCOLAIRE>\n    <DATE_EXPORT>03/09/2026</DATE_EXPORT>\n  </PARAMETRES>\n  <DONNEES>\n    <ELEVES>\n",
    );
    let levels = [
        ("6", "10010012110"),
        ("5", "10110001110"),
        ("4", "10210001110"),
        ("3", "10310019110"),
    ];
    let division = |i: usize| {
        let d = i / 28;
        let (level, _) = levels[d % 4];
        format!("{level}{}", d / 4 + 1)
    };
    for i in 0..students {
        let (_, mef) = levels[(i / 28) % 4];
        let _ = writeln!(
            xml,
            "      <ELEVE ELEVE_ID=\"{id}\" ELENOET=\"{id}\">\n        <ID_NATIONAL>{ine:09}AB</ID_NATIONAL>\n        <NOM_DE_FAMILLE>{last}</NOM_DE_FAMILLE>\n        <PRENOM>{first}</PRENOM>\n        <DATE_NAISS>{day:02}/{month:02}/2013</DATE_NAISS>\n        <CODE_MEF>{mef}</CODE_MEF>\n        <DATE_ENTREE>01/09/2026</DATE_ENTREE>\n      </ELEVE>",
            id = 100_000 + i,
            ine = 700_000_000 + i,
            last = LAST_NAMES[i % LAST_NAMES.len()].to_uppercase(),
            first = FIRST_NAMES[(i * 7) % FIRST_NAMES.len()],
            day = i % 28 + 1,
            month = i % 12 + 1,
        );
    }
    xml.push_str("    </ELEVES>\n    <STRUCTURES>\n");
    for i in 0..students {
        let d = division(i);
        let group = if i % 2 == 0 {
            format!("<STRUCTURE><CODE_STRUCTURE>{d}-ESP</CODE_STRUCTURE><TYPE_STRUCTURE>G</TYPE_STRUCTURE></STRUCTURE>")
        } else {
            String::new()
        };
        let _ = writeln!(
            xml,
            "      <STRUCTURES_ELEVE ELEVE_ID=\"{}\"><STRUCTURE><CODE_STRUCTURE>{d}</CODE_STRUCTURE><TYPE_STRUCTURE>D</TYPE_STRUCTURE></STRUCTURE>{group}</STRUCTURES_ELEVE>",
            100_000 + i
        );
    }
    xml.push_str("    </STRUCTURES>\n  </DONNEES>\n</BEE_ELEVES>\n");
    let (bytes, _, _) = encoding_rs::ISO_8859_15.encode(&xml);
    SourceFile::from_bytes("ElevesSansAdresses.xml", &bytes).unwrap()
}

fn options() -> Options {
    let mut options = Options::new("bench", NaiveDate::from_ymd_opt(2026, 9, 1).unwrap());
    options.tenant = Some(Uai::parse("0750655E").unwrap());
    options.year = Some(SchoolYear::starting(2026));
    options.from = NaiveDate::from_ymd_opt(2026, 9, 1);
    options
}

async fn timed(store: &EventStore, format: Format, input: &Input) -> (Summary, f64) {
    let started = Instant::now();
    let summary = import_input(store, format, input, &options())
        .await
        .unwrap();
    (summary, started.elapsed().as_secs_f64())
}

fn report(what: &str, summary: &Summary, seconds: f64) {
    println!(
        "{what:<34} {:>7} rows {:>7} events {:>8.2} s {:>9.0} rows/s {:>9.0} events/s",
        summary.rows,
        summary.events,
        seconds,
        summary.rows as f64 / seconds,
        summary.events as f64 / seconds
    );
}

async fn run(kind: BackendKind, students: usize) {
    println!("== {kind:?}");
    let ts = TestStore::new(kind).await;
    let siecle = Input::File(siecle_file(students));
    let (first, seconds) = timed(&ts.store, Format::Siecle, &siecle).await;
    report(&format!("SIECLE, {students} students"), &first, seconds);
    let (again, seconds) = timed(&ts.store, Format::Siecle, &siecle).await;
    report("SIECLE, the same file again", &again, seconds);

    let ts = TestStore::new(kind).await;
    ts.store
        .create_tenant(&Uai::parse("0750655E").unwrap(), "Lycée", "Europe/Paris")
        .await
        .unwrap();
    let fet_dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fet/SPAIN_20-21-locked");
    let fet = Input::read(Format::Fet, &fet_dir).unwrap();
    let (first, seconds) = timed(&ts.store, Format::Fet, &fet).await;
    report("FET, SPAIN_20-21-locked (976 lessons)", &first, seconds);
    let (again, seconds) = timed(&ts.store, Format::Fet, &fet).await;
    report("FET, the same export again", &again, seconds);
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let students = args.iter().find_map(|a| a.parse().ok()).unwrap_or(20_000);
    let kinds = if args.iter().any(|a| a == "sqlite") {
        vec![BackendKind::Sqlite]
    } else if args.iter().any(|a| a == "both") {
        vec![BackendKind::Postgres, BackendKind::Sqlite]
    } else {
        vec![BackendKind::Postgres]
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for kind in kinds {
        runtime.block_on(run(kind, students));
    }
}
