//! Renders realistic bulletins and checks the PDFs with poppler's tools, which must be
//! installed (poppler-utils): a missing tool fails the test instead of skipping it.

use std::path::{Path, PathBuf};
use std::process::Command;

use carnet_bulletins::{render, render_class, Bulletin, SubjectLine};

fn sample() -> Bulletin {
    serde_json::from_str(include_str!("data/dupont.json")).expect("the fixture parses")
}

/// Runs a poppler tool and returns its standard output; panics if it is missing or fails.
fn tool(name: &str, args: &[&str]) -> String {
    let output = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("`{name}` could not run ({e}): install poppler-utils"));
    assert!(
        output.status.success(),
        "{name} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

fn write_pdf(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write the PDF");
    path
}

fn text_of(pdf: &Path) -> String {
    tool("pdftotext", &["-layout", path_str(pdf), "-"])
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

fn page_count(pdf: &Path) -> usize {
    let info = tool("pdfinfo", &[path_str(pdf)]);
    let line = info
        .lines()
        .find(|l| l.starts_with("Pages:"))
        .expect("pdfinfo gives the page count");
    line["Pages:".len()..]
        .trim()
        .parse()
        .expect("a number of pages")
}

/// Renders pages to PNG at 50 dpi; returns the PNG files' sizes.
fn png_sizes(pdf: &Path, dir: &Path) -> Vec<u64> {
    let prefix = dir.join("page");
    tool(
        "pdftoppm",
        &["-png", "-r", "50", path_str(pdf), path_str(&prefix)],
    );
    let mut sizes: Vec<(String, u64)> = std::fs::read_dir(dir)
        .expect("read the temporary directory")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".png"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().map(|m| m.len()).unwrap_or(0),
            )
        })
        .collect();
    sizes.sort();
    sizes.into_iter().map(|(_, size)| size).collect()
}

#[test]
fn a_bulletin_shows_its_contents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pdf = write_pdf(
        dir.path(),
        "dupont.pdf",
        &render(&sample()).expect("renders"),
    );
    let text = text_of(&pdf);
    for expected in [
        "Collège Jean Moulin",
        "UAI : 0750001A",
        "Bulletin scolaire",
        "Année scolaire 2026-2027",
        "1er trimestre — du 01/09/2026 au 30/11/2026",
        "DUPONT-MOREAU Léa",
        "Classe : 3e A",
        "Professeur principal : Mme Lefèvre",
        "Date de naissance : 14/03/2012",
        "12,50",
        "15,25",
        "Moyenne générale",
        "13,60",
        "Moy. 12,05",
        "Français",
        "Mathématiques",
        "Histoire-géographie,",
        "Arts plastiques",
        "Éducation musicale",
        "Latin",
        "Maîtrise fragile",
        "Très bonne",
        "Excellent trimestre, raisonnements rigoureux",
        "« relire ses copies »",
        "Non noté ce trimestre",
        "Moyennes de l'élève et de la classe",
        "Demi-journées d'absence : 3 dont 1 non justifiée",
        "Retards : 2",
        "ponctualité le lundi matin",
        "Un trimestre globalement satisfaisant",
        "Décision du conseil de classe : Félicitations du conseil de classe",
        "Code de vérification : 0750001A-K7QM-3XPA",
        "Vérifiez l'authenticité de ce bulletin sur",
        "https://carnet.example.fr/verifier/0750001A-K7QM-3XPA",
        "Bulletin édité le 05/12/2026.",
        "Page 1/2",
        "Page 2/2",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn pages_render_to_images_and_fonts_are_embedded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pdf = write_pdf(
        dir.path(),
        "dupont.pdf",
        &render(&sample()).expect("renders"),
    );
    let sizes = png_sizes(&pdf, dir.path());
    assert_eq!(
        sizes.len(),
        2,
        "twelve subjects and the chart take two pages"
    );
    for size in sizes {
        assert!(
            size > 8_000,
            "a page of a bulletin is not blank: {size} bytes"
        );
    }
    let fonts = tool("pdffonts", &[path_str(&pdf)]);
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert_eq!(rows.len(), 2, "{fonts}");
    for row in rows {
        let columns: Vec<&str> = row.split_whitespace().collect();
        // name, type (2 words), encoding, emb, sub, uni, object, generation
        assert_eq!(columns.get(4), Some(&"yes"), "font not embedded: {row}");
        assert!(row.contains("DejaVuSans"), "{row}");
    }
}

/// Every word poppler finds lies inside the page's right margin: nothing overflows.
#[test]
fn no_text_runs_past_the_right_margin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bulletin = sample();
    bulletin.subjects[0].appreciation = Some("Anticonstitutionnellement ".repeat(40));
    // One word wider than any cell: it must be cut between characters.
    bulletin.subjects[2].subject = "Interdisciplinaire".repeat(12);
    bulletin.establishment.name = "Lycée polyvalent régional ".repeat(8);
    let pdf = write_pdf(dir.path(), "wide.pdf", &render(&bulletin).expect("renders"));
    let html = tool("pdftotext", &["-bbox", path_str(&pdf), "-"]);
    let mut words = 0;
    for line in html.lines().filter(|l| l.trim_start().starts_with("<word")) {
        let x_max = attribute(line, "xMax");
        assert!(x_max <= 595.28 - 36.0 + 0.5, "word past the margin: {line}");
        assert!(attribute(line, "xMin") >= 0.0, "{line}");
        words += 1;
    }
    assert!(words > 300, "only {words} words found");
}

fn attribute(line: &str, name: &str) -> f64 {
    let start = line.find(&format!("{name}=\"")).expect("attribute present") + name.len() + 2;
    let rest = &line[start..];
    rest[..rest.find('"').expect("closing quote")]
        .parse()
        .expect("a number")
}

#[test]
fn many_subjects_flow_over_pages_with_the_heads_repeated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bulletin = sample();
    let extra: Vec<SubjectLine> = bulletin.subjects.clone();
    for (i, mut line) in extra.into_iter().cycle().take(36).enumerate() {
        line.subject = format!("Option {i}");
        bulletin.subjects.push(line);
    }
    let pdf = write_pdf(dir.path(), "long.pdf", &render(&bulletin).expect("renders"));
    let pages = page_count(&pdf);
    assert!(pages >= 4, "{pages} pages");
    let text = text_of(&pdf);
    assert!(
        text.matches("Positionnement").count() >= 3,
        "the column heads repeat"
    );
    assert_eq!(
        text.matches("DUPONT-MOREAU Léa").count(),
        pages * 2,
        "header and footer on every page"
    );
    assert!(text.contains("Option 35"));
    assert!(text.contains(&format!("Page {pages}/{pages}")));
}

#[test]
fn an_endless_appreciation_is_cut_inside_its_cell() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bulletin = sample();
    bulletin.subjects[1].appreciation = Some("Un travail remarquable et constant. ".repeat(400));
    bulletin.general_appreciation = Some("Très bon trimestre. ".repeat(800));
    let pdf = write_pdf(
        dir.path(),
        "endless.pdf",
        &render(&bulletin).expect("renders"),
    );
    let text = text_of(&pdf);
    assert!(text.contains('…'), "the cut is marked");
    assert!(text.contains("Code de vérification : 0750001A-K7QM-3XPA"));
}

#[test]
fn a_class_file_starts_each_student_on_a_new_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let names = [("Martin", "Zoé"), ("Benali", "Yanis"), ("Lê", "Thảo")];
    let class: Vec<Bulletin> = names
        .iter()
        .enumerate()
        .map(|(i, (last, first))| {
            let mut b = sample();
            b.student.last_name = (*last).to_owned();
            b.student.first_name = (*first).to_owned();
            b.subjects.truncate(4 + i * 4);
            b
        })
        .collect();
    let pdf = write_pdf(
        dir.path(),
        "class.pdf",
        &render_class(&class).expect("renders"),
    );
    let pages = page_count(&pdf);
    assert!(pages >= 3, "{pages} pages");
    let mut firsts = Vec::new();
    for page in 1..=pages {
        let number = page.to_string();
        let text = tool(
            "pdftotext",
            &["-layout", "-f", &number, "-l", &number, path_str(&pdf), "-"],
        );
        let present: Vec<&(&str, &str)> = names
            .iter()
            .filter(|(last, first)| text.contains(&format!("{} {first}", last.to_uppercase())))
            .collect();
        assert_eq!(
            present.len(),
            1,
            "page {page} belongs to exactly one student:\n{text}"
        );
        if text.contains("Page 1/") {
            firsts.push(present[0].0);
        }
    }
    assert_eq!(
        firsts,
        vec!["Martin", "Benali", "Lê"],
        "each student starts a page, in order"
    );
    assert!(matches!(
        render_class(&[]),
        Err(carnet_bulletins::RenderError::Empty)
    ));
}

#[test]
fn rendering_is_deterministic() {
    let bulletin = sample();
    let first = render(&bulletin).expect("renders");
    // Something else rendered in between must not change the next output either.
    let mut other = sample();
    other.student.first_name = "Jules".to_owned();
    let different = render(&other).expect("renders");
    let second = render(&bulletin).expect("renders");
    assert_eq!(first, second, "same input, same bytes");
    assert_ne!(first, different, "another student, other bytes");
    let class = [bulletin.clone(), other.clone()];
    assert_eq!(
        render_class(&class).expect("renders"),
        render_class(&class).expect("renders")
    );
    // The verification hash must not depend on the day the file is produced.
    let text = String::from_utf8_lossy(&first);
    assert!(
        text.contains("/CreationDate (D:20261205"),
        "the creation date is the issue date"
    );
    assert!(
        first.len() < 120_000,
        "subset fonts keep a bulletin small: {} bytes",
        first.len()
    );
}

#[test]
fn the_model_round_trips_through_json() {
    let bulletin = sample();
    let json = serde_json::to_string(&bulletin).expect("serialises");
    let back: Bulletin = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(back, bulletin);
}
