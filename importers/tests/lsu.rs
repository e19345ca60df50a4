//! The LSU export against the ministry's own schema: a realistic 3e class is written and
//! checked by `xmllint --schema` (which must be installed: package libxml2-utils; the
//! tests fail without it, they do not skip), and each refusal rule is shown to catch
//! its case and to name the culprit.

use std::path::PathBuf;
use std::process::Command;

use carnet_importers::export::lsu::{
    self, clean_text, limits, Civility, Complement, ComplementKind, ComplementLevel, Cycle,
    CycleReport, Division, EvaluationStatus, LsuError, LsuExport, Modality, Period, PeriodicReport,
    SchoolLife, SocleComponent, Student, Subject, SubjectAssessment, Teacher,
};
use chrono::NaiveDate;
use rust_decimal::Decimal;

fn xsd() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lsu/import-bilan-complet.xsd")
}

/// What xmllint says of `xml` against the schema: `Err` with its words if it refuses.
fn schema_check(xml: &[u8]) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("lsu.xml");
    std::fs::write(&file, xml).expect("the file written");
    let output = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(xsd())
        .arg(&file)
        .output()
        .expect("xmllint must be installed (Debian package libxml2-utils)");
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Checks `xml` against the schema with xmllint, failing with xmllint's words.
fn assert_schema_valid(xml: &[u8]) {
    if let Err(words) = schema_check(xml) {
        panic!(
            "xmllint refused the file:\n{words}\n{}",
            String::from_utf8_lossy(xml)
        );
    }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a real day")
}

fn teacher(id: &str, sts: &str, civility: Civility, last: &str, first: &str) -> Teacher {
    Teacher {
        id: id.into(),
        sts_id: Some(sts.into()),
        civility: Some(civility),
        last_name: last.into(),
        first_name: first.into(),
    }
}

fn subject(code: &str, national: &str, label: &str) -> Subject {
    Subject {
        code: code.into(),
        national_code: Some(national.into()),
        modality: Modality::Common,
        label: label.into(),
    }
}

fn student(id: &str, id_be: &str, first: &str, last: &str) -> Student {
    Student {
        id: id.into(),
        id_be: Some(id_be.into()),
        last_name: last.into(),
        first_name: first.into(),
        division: "3A".into(),
    }
}

fn graded(subject: &str, teacher: &str, average: Decimal, appreciation: &str) -> SubjectAssessment {
    SubjectAssessment {
        subject: subject.into(),
        teachers: vec![teacher.into()],
        average: Some(average),
        class_average: Some(Decimal::new(1184, 2)),
        positioning: None,
        status: None,
        appreciation: appreciation.into(),
        programme_elements: vec![],
    }
}

const STUDENTS: [(&str, &str, &str, &str); 4] = [
    ("elv-1", "1234567", "Jean", "Dupont"),
    ("elv-2", "1234568", "Léa", "N'Diaye"),
    ("elv-3", "1234569", "Chloé", "Müller-Lefèvre"),
    ("elv-4", "1234570", "Noé", "Gaëtan"),
];

fn report(student: &str, n: i64) -> PeriodicReport {
    let mut maths = graded(
        "MATHS",
        "ens-maths",
        Decimal::new(1200 + n * 137, 2),
        "Bon trimestre : résultats « solides » si x < 3 & y > 2 ; l'élève doit s'appliquer.",
    );
    maths.programme_elements = vec![
        "Résoudre des équations du 1er degré".into(),
        "Utiliser le théorème de Pythagore & sa réciproque".into(),
    ];
    let mut english = graded(
        "ANG",
        "ens-ang",
        Decimal::ZERO,
        "Good work, keep it up!\r\nBravo.",
    );
    english.average = None;
    english.class_average = None;
    english.positioning = Some(3);
    let mut arts = graded(
        "ARP",
        "ens-fr",
        Decimal::ZERO,
        "Dispensé\u{7} ce trimestre.",
    );
    (arts.average, arts.class_average, arts.status) = (None, None, Some(EvaluationStatus::Exempt));
    PeriodicReport {
        student: student.into(),
        council_date: day(2026, 3, 12),
        subjects: vec![
            maths,
            graded(
                "FR",
                "ens-fr",
                Decimal::new(1450, 2),
                "Très bon travail en rédaction ; « l'écrit » progresse.",
            ),
            graded(
                "HG",
                "ens-hg",
                Decimal::new(9, 0),
                "Des efforts à fournir : <br> n'est pas une réponse & il faut relire.",
            ),
            english,
            arts,
        ],
        general_appreciation:
            "Trimestre encourageant. Le conseil de classe félicite l'élève pour ses \"efforts\"."
                .into(),
        school_life: SchoolLife {
            late: 2,
            absent_justified_half_days: 3,
            absent_unjustified_half_days: n as u32,
            missed_hours: Some(4),
            cpe_comment: Some("Attitude correcte ; attention aux retards <du lundi>.".into()),
        },
        principal_teachers: vec!["ens-fr".into()],
    }
}

fn cycle_report(student: &str, n: u8) -> CycleReport {
    CycleReport {
        student: student.into(),
        cycle: Cycle::Four,
        created_on: day(2026, 6, 20),
        components: SocleComponent::ALL
            .iter()
            .enumerate()
            .map(|(i, c)| (*c, 1 + (i as u8 + n) % 4))
            .collect(),
        synthesis: "Élève sérieux & motivé ; maîtrise « satisfaisante » du socle (> attendus)."
            .into(),
        complement: n.is_multiple_of(2).then_some(Complement {
            kind: ComplementKind::Antiquity,
            level: Some(ComplementLevel::Exceeded),
        }),
        principal_teachers: vec!["ens-fr".into()],
    }
}

/// A 3e class at the end of the second trimestre, with its bilans de fin de cycle 4.
fn class_3e() -> LsuExport {
    LsuExport {
        uai: "0750655E".into(),
        school_year: 2025,
        head: "Mme Claire Lefèvre".into(),
        period: Some(Period {
            index: 2,
            count: 3,
            first_day: day(2025, 12, 1),
            last_day: day(2026, 3, 6),
        }),
        teachers: vec![
            teacher("ens-maths", "41253", Civility::Monsieur, "Pascal", "Blaise"),
            teacher("ens-fr", "41254", Civility::Madame, "Ernaux", "Annie"),
            teacher("ens-hg", "41255", Civility::Monsieur, "Braudel", "Fernand"),
            teacher("ens-ang", "41256", Civility::Madame, "O'Brien", "Siobhán"),
        ],
        subjects: vec![
            subject("FR", "020700", "Français"),
            subject("MATHS", "061300", "Mathématiques"),
            subject("HG", "043000", "Histoire-géographie EMC"),
            subject("ANG", "030201", "Anglais LV1"),
            subject("ARP", "080100", "Arts plastiques"),
        ],
        divisions: vec![Division { code: "3A".into() }],
        students: STUDENTS
            .iter()
            .map(|(id, be, f, l)| student(id, be, f, l))
            .collect(),
        periodic: STUDENTS
            .iter()
            .zip(0..)
            .map(|((id, ..), n)| report(id, n))
            .collect(),
        end_of_cycle: STUDENTS
            .iter()
            .zip(0..)
            .map(|((id, ..), n)| cycle_report(id, n))
            .collect(),
    }
}

fn written(export: &LsuExport) -> Vec<u8> {
    match lsu::write(export) {
        Ok(bytes) => bytes,
        Err(refused) => panic!("{refused}"),
    }
}

#[test]
fn a_3e_class_validates_against_the_ministry_schema() {
    let xml = written(&class_3e());
    assert_schema_valid(&xml);
    let text = String::from_utf8(xml).expect("UTF-8");
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(text.contains("schemaVersion=\"10.0\""));
    assert!(text.contains("x &lt; 3 &amp; y &gt; 2"), "{text}");
    assert!(text.contains("Müller-Lefèvre") && text.contains("Siobhán"));
    assert!(!text.contains('\u{7}') && !text.contains('\r'));
    assert!(text.contains("<domaine code=\"CPD_FRA\""));
    assert!(text.contains("<enseignement-complement code=\"AUC\"/>"));
    assert!(text.contains("moyenne-eleve=\"12\"") && text.contains("moyenne-eleve=\"13.37\""));
    // Each élément de programme is listed once, whoever worked on it.
    assert_eq!(text.matches("<element-programme ").count(), 2);
}

#[test]
fn the_schema_check_is_not_a_formality() {
    let text = String::from_utf8(written(&class_3e())).expect("UTF-8");
    for (valid, broken) in [
        ("schemaVersion=\"10.0\"", "schemaVersion=\"9.0\""),
        ("positionnement=\"3\"", "positionnement=\"7\""),
        ("<synthese>", "<synthese> </synthese><synthese>"),
    ] {
        let words = schema_check(text.replacen(valid, broken, 1).as_bytes());
        assert!(words.is_err(), "xmllint took {broken}");
    }
}

/// xmllint checks neither xs:ID uniqueness across types nor xs:IDREF targets against an
/// XSD, so the references are checked here: every `*-ref` and `*-refs` names an `id`.
#[test]
fn every_reference_names_an_id() {
    let text = String::from_utf8(written(&class_3e())).expect("UTF-8");
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let mut ids = std::collections::BTreeSet::new();
    for id in doc.descendants().filter_map(|n| n.attribute("id")) {
        assert!(ids.insert(id), "the id {id} is used twice");
    }
    let mut references = 0;
    for node in doc.descendants().filter(|n| n.is_element()) {
        for attribute in node.attributes() {
            if attribute.name().ends_with("-ref") || attribute.name().ends_with("-refs") {
                for reference in attribute.value().split_whitespace() {
                    assert!(ids.contains(reference), "{reference} names no id");
                    references += 1;
                }
            }
        }
    }
    assert!(references > 50, "{references}");
}

#[test]
fn bilans_de_fin_de_cycle_alone_validate() {
    let mut export = class_3e();
    export.period = None;
    export.periodic.clear();
    export.subjects.clear();
    let xml = written(&export);
    assert_schema_valid(&xml);
    let text = String::from_utf8(xml).expect("UTF-8");
    assert!(!text.contains("bilans-periodiques") && !text.contains("<periodes>"));
    assert_eq!(text.matches("<bilan-cycle ").count(), 4);
    assert_eq!(text.matches("<domaine ").count(), 32);
}

#[test]
fn bilans_periodiques_alone_validate_and_cycle_3_has_no_complement() {
    let mut export = class_3e();
    export.end_of_cycle.clear();
    assert_schema_valid(&written(&export));
    let mut export = class_3e();
    export
        .end_of_cycle
        .iter_mut()
        .for_each(|r| (r.cycle, r.complement) = (Cycle::Three, None));
    let text = String::from_utf8(written(&export)).expect("UTF-8");
    assert!(!text.contains("enseignement-complement"));
}

#[test]
fn texts_at_the_schema_limits_validate() {
    let mut export = class_3e();
    let report = &mut export.periodic[0];
    report.subjects[0].appreciation = "é".repeat(limits::SUBJECT_APPRECIATION);
    report.general_appreciation = "&".repeat(limits::GENERAL_APPRECIATION);
    report.school_life.cpe_comment = Some("<".repeat(limits::SCHOOL_LIFE_COMMENT));
    export.end_of_cycle[0].synthesis = "ç\n".repeat(limits::SYNTHESIS / 2);
    assert_schema_valid(&written(&export));
}

#[test]
fn same_export_same_bytes() {
    let first = written(&class_3e());
    let second = written(&class_3e().clone());
    assert_eq!(first, second);
    let mut other = class_3e();
    other.students.swap(0, 1);
    assert_ne!(
        written(&other),
        first,
        "the order of the lists is the order of the file"
    );
}

#[test]
fn text_is_cleaned_of_what_xml_forbids() {
    assert_eq!(
        clean_text("  a\u{0}b\u{1b}c\r\nd\re\u{fffe}\u{ffff}\tf  "),
        "abc\nd\ne\tf"
    );
    assert_eq!(clean_text("\u{b}\u{c}"), "");
}

/// The problems of `export`, which must be refused.
fn problems(export: &LsuExport) -> Vec<LsuError> {
    match lsu::write(export) {
        Ok(_) => panic!("the export should have been refused"),
        Err(refused) => {
            assert_eq!(refused.problems, lsu::validate(export));
            refused.problems
        }
    }
}

/// Asserts that `export` is refused with `code`, in a message naming every `culprit`.
fn assert_refused(export: &LsuExport, code: &str, culprits: &[&str]) {
    let problems = problems(export);
    let found = problems.iter().any(|p| {
        let message = p.to_string();
        p.code() == code && culprits.iter().all(|c| message.contains(c))
    });
    let listed: Vec<String> = problems
        .iter()
        .map(|p| format!("[{}] {p}", p.code()))
        .collect();
    assert!(
        found,
        "no {code} naming {culprits:?} in:\n{}",
        listed.join("\n")
    );
}

#[test]
fn unknown_teacher() {
    let mut export = class_3e();
    export.periodic[1].subjects[0]
        .teachers
        .push("ens-fantome".into());
    assert_refused(
        &export,
        "LSU_UNKNOWN_TEACHER",
        &["ens-fantome", "Mathématiques", "Léa N'Diaye"],
    );
    let mut export = class_3e();
    export.end_of_cycle[2].principal_teachers = vec!["ens-parti".into()];
    assert_refused(
        &export,
        "LSU_UNKNOWN_TEACHER",
        &["ens-parti", "Chloé Müller-Lefèvre"],
    );
}

#[test]
fn teacher_without_sts_id() {
    let mut export = class_3e();
    export.teachers[2].sts_id = None;
    assert_refused(
        &export,
        "LSU_TEACHER_WITHOUT_NATIONAL_ID",
        &["Fernand Braudel"],
    );
    export.teachers[2].sts_id = Some("0".into());
    assert_refused(
        &export,
        "LSU_TEACHER_WITHOUT_NATIONAL_ID",
        &["Fernand Braudel", "« 0 »"],
    );
}

#[test]
fn subject_without_national_code() {
    let mut export = class_3e();
    export.subjects[1].national_code = None;
    assert_refused(
        &export,
        "LSU_SUBJECT_WITHOUT_NATIONAL_CODE",
        &["Mathématiques"],
    );
    export.subjects[1].national_code = Some("6130".into());
    assert_refused(
        &export,
        "LSU_SUBJECT_WITHOUT_NATIONAL_CODE",
        &["Mathématiques", "6130"],
    );
}

#[test]
fn student_without_national_id() {
    let mut export = class_3e();
    export.students[3].id_be = Some("  ".into());
    assert_refused(&export, "LSU_STUDENT_WITHOUT_NATIONAL_ID", &["Noé Gaëtan"]);
}

#[test]
fn period_dates_and_rank() {
    let mut export = class_3e();
    let period = export.period.as_mut().expect("a period");
    (period.first_day, period.last_day) = (day(2026, 3, 6), day(2025, 12, 1));
    assert_refused(
        &export,
        "LSU_PERIOD_REVERSED",
        &["2026-03-06", "2025-12-01"],
    );
    let mut export = class_3e();
    export.period.as_mut().expect("a period").last_day = day(2026, 9, 4);
    assert_refused(
        &export,
        "LSU_PERIOD_OUTSIDE_YEAR",
        &["2026-09-04", "2025-2026"],
    );
    let mut export = class_3e();
    export.period.as_mut().expect("a period").first_day = day(2025, 8, 31);
    assert_refused(&export, "LSU_PERIOD_OUTSIDE_YEAR", &["2025-08-31"]);
    let mut export = class_3e();
    export.period.as_mut().expect("a period").index = 4;
    assert_refused(&export, "LSU_PERIOD_INDEX", &["4 sur 3"]);
    export.period = None;
    assert_refused(&export, "LSU_MISSING_PERIOD", &["période"]);
}

#[test]
fn missing_appreciations() {
    let mut export = class_3e();
    export.periodic[0].subjects[2].appreciation = " \u{1}\r\n ".into();
    assert_refused(
        &export,
        "LSU_MISSING_APPRECIATION",
        &["Histoire-géographie EMC", "Jean Dupont"],
    );
    let mut export = class_3e();
    export.periodic[1].general_appreciation.clear();
    assert_refused(
        &export,
        "LSU_MISSING_APPRECIATION",
        &["appréciation générale", "Léa N'Diaye"],
    );
    let mut export = class_3e();
    export.end_of_cycle[3].synthesis = "\t".into();
    assert_refused(
        &export,
        "LSU_MISSING_APPRECIATION",
        &["synthèse", "cycle 4", "Noé Gaëtan"],
    );
}

#[test]
fn texts_longer_than_the_schema_allows() {
    let mut export = class_3e();
    export.periodic[2].subjects[1].appreciation = "é".repeat(limits::SUBJECT_APPRECIATION + 1);
    assert_refused(
        &export,
        "LSU_TEXT_TOO_LONG",
        &["Français", "Chloé Müller-Lefèvre", "1001", "1000"],
    );
    let mut export = class_3e();
    export.periodic[0].general_appreciation = "a".repeat(1001);
    assert_refused(
        &export,
        "LSU_TEXT_TOO_LONG",
        &["appréciation générale", "Jean Dupont"],
    );
    let mut export = class_3e();
    export.periodic[0].school_life.cpe_comment = Some("a".repeat(601));
    assert_refused(&export, "LSU_TEXT_TOO_LONG", &["CPE", "Jean Dupont", "600"]);
    let mut export = class_3e();
    export.end_of_cycle[1].synthesis = "a".repeat(1501);
    assert_refused(
        &export,
        "LSU_TEXT_TOO_LONG",
        &["synthèse", "Léa N'Diaye", "1500"],
    );
    let mut export = class_3e();
    export.subjects[0].label = "Français langue de scolarisation et de culture".into();
    assert_refused(&export, "LSU_TEXT_TOO_LONG", &["libellé", "40"]);
    let mut export = class_3e();
    export.periodic[0].subjects[0]
        .programme_elements
        .push("x".repeat(301));
    assert_refused(
        &export,
        "LSU_TEXT_TOO_LONG",
        &["élément de programme", "Mathématiques"],
    );
}

#[test]
fn mastery_levels_of_the_socle() {
    let mut export = class_3e();
    export.end_of_cycle[0].components[2].1 = 5;
    assert_refused(
        &export,
        "LSU_MASTERY_OUT_OF_RANGE",
        &["5", "langages mathématiques", "Jean Dupont"],
    );
    let mut export = class_3e();
    export.end_of_cycle[1]
        .components
        .retain(|(c, _)| *c != SocleComponent::WorldAndHumanity);
    assert_refused(
        &export,
        "LSU_MISSING_COMPONENT",
        &["représentations du monde", "Léa N'Diaye"],
    );
    let mut export = class_3e();
    export.end_of_cycle[1]
        .components
        .push((SocleComponent::ArtsAndBody, 2));
    assert_refused(&export, "LSU_DUPLICATE_ID", &["CPD_ART", "Léa N'Diaye"]);
    // 0 is "dispensé", which the schema allows.
    let mut export = class_3e();
    export.end_of_cycle[1].components[1].1 = 0;
    assert_schema_valid(&written(&export));
}

#[test]
fn averages_and_positionings() {
    let mut export = class_3e();
    export.periodic[3].subjects[3].positioning = Some(0);
    assert_refused(
        &export,
        "LSU_POSITIONING_OUT_OF_RANGE",
        &["Anglais LV1", "Noé Gaëtan"],
    );
    let mut export = class_3e();
    export.periodic[3].subjects[1].average = Some(Decimal::new(2050, 2));
    assert_refused(
        &export,
        "LSU_AVERAGE_OUT_OF_RANGE",
        &["20.50", "Français", "Noé Gaëtan"],
    );
    let mut export = class_3e();
    export.periodic[3].subjects[1].average = None;
    assert_refused(&export, "LSU_NO_ASSESSMENT", &["Français", "Noé Gaëtan"]);
}

#[test]
fn duplicate_ids() {
    let mut export = class_3e();
    export.students[1].id = "elv-1".into();
    assert_refused(&export, "LSU_DUPLICATE_ID", &["élève", "elv-1"]);
    let mut export = class_3e();
    export.students[1].id_be = Some("1234567".into());
    assert_refused(
        &export,
        "LSU_DUPLICATE_ID",
        &["identifiant national", "1234567"],
    );
    let mut export = class_3e();
    export.teachers[1].id = "ens-maths".into();
    assert_refused(&export, "LSU_DUPLICATE_ID", &["enseignant", "ens-maths"]);
    let mut export = class_3e();
    export.teachers[1].sts_id = Some("041253".into());
    assert_refused(&export, "LSU_DUPLICATE_ID", &["STS", "41253"]);
    let mut export = class_3e();
    export
        .subjects
        .push(subject("MATHS", "061301", "Maths bis"));
    assert_refused(&export, "LSU_DUPLICATE_ID", &["matière", "MATHS"]);
    let mut export = class_3e();
    export
        .subjects
        .push(subject("MATHS2", "061300", "Maths bis"));
    assert_refused(&export, "LSU_DUPLICATE_ID", &["061300 S"]);
    let mut export = class_3e();
    let again = export.periodic[0].subjects[0].clone();
    export.periodic[0].subjects.push(again);
    assert_refused(&export, "LSU_DUPLICATE_ID", &["Jean Dupont", "MATHS"]);
    let mut export = class_3e();
    export.end_of_cycle.push(cycle_report("elv-2", 0));
    assert_refused(&export, "LSU_DUPLICATE_ID", &["fin de cycle", "elv-2"]);
}

#[test]
fn school_life_counts() {
    let mut export = class_3e();
    export.periodic[2].school_life.absent_unjustified_half_days = 1000;
    assert_refused(
        &export,
        "LSU_COUNT_TOO_HIGH",
        &["injustifiées", "Chloé Müller-Lefèvre", "1000"],
    );
}

#[test]
fn references_to_what_the_export_does_not_list() {
    let mut export = class_3e();
    export.students[0].division = "3Z".into();
    assert_refused(&export, "LSU_UNKNOWN_DIVISION", &["3Z", "Jean Dupont"]);
    let mut export = class_3e();
    export.periodic[0].student = "elv-9".into();
    assert_refused(
        &export,
        "LSU_UNKNOWN_STUDENT",
        &["bilan périodique", "elv-9"],
    );
    let mut export = class_3e();
    export.end_of_cycle[0].student = "elv-9".into();
    assert_refused(&export, "LSU_UNKNOWN_STUDENT", &["fin de cycle", "elv-9"]);
    let mut export = class_3e();
    export.periodic[1].subjects[0].subject = "LATIN".into();
    assert_refused(&export, "LSU_UNKNOWN_SUBJECT", &["LATIN", "Léa N'Diaye"]);
    let mut export = class_3e();
    export.periodic[1].subjects[2].teachers.clear();
    assert_refused(
        &export,
        "LSU_NO_TEACHER",
        &["Histoire-géographie EMC", "Léa N'Diaye"],
    );
    let mut export = class_3e();
    export.periodic[1].subjects.clear();
    assert_refused(&export, "LSU_EMPTY_REPORT", &["Léa N'Diaye"]);
}

#[test]
fn establishment_and_year() {
    let mut export = class_3e();
    export.uai = "075065E".into();
    assert_refused(&export, "LSU_INVALID_UAI", &["075065E"]);
    let mut export = class_3e();
    export.head = " ".into();
    assert_refused(&export, "LSU_MISSING_HEAD", &["chef d'établissement"]);
    let mut export = class_3e();
    export.school_year = 25;
    assert_refused(&export, "LSU_INVALID_YEAR", &["25"]);
    let mut export = class_3e();
    export.subjects[4].label = "\u{7}".into();
    assert_refused(&export, "LSU_MISSING_SUBJECT_LABEL", &["ARP"]);
    let mut export = class_3e();
    export.students.clear();
    export.periodic.clear();
    export.end_of_cycle.clear();
    assert_refused(&export, "LSU_NOTHING_TO_EXPORT", &["aucun élève"]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut export = class_3e();
    export.teachers[0].sts_id = None;
    export.students[1].id_be = None;
    export.periodic[2].general_appreciation.clear();
    export.end_of_cycle[3].components[0].1 = 9;
    let codes: Vec<&str> = problems(&export).iter().map(LsuError::code).collect();
    assert_eq!(
        codes,
        [
            "LSU_TEACHER_WITHOUT_NATIONAL_ID",
            "LSU_STUDENT_WITHOUT_NATIONAL_ID",
            "LSU_MISSING_APPRECIATION",
            "LSU_MASTERY_OUT_OF_RANGE",
        ]
    );
    let refused = lsu::write(&export).expect_err("refused");
    assert!(refused.to_string().contains("4 problème(s)"), "{refused}");
}
