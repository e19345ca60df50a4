//! The XML itself, written once [`super::validate()`] found nothing to refuse: one
//! `lsun-bilans` document holding both the bilans périodiques and the bilans de fin de
//! cycle (the schema puts both under one `donnees`, so one file is imported at once).
//!
//! The ids the file uses for its own references (`ELV_1`, `ENS_1`, `DISC_1`, `EP_1`,
//! `PER_1`, `RESP_1`) are numbered in the order of the model's lists, so the same
//! export always gives the same bytes.

use std::collections::BTreeMap;
use std::io;

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use rust_decimal::{Decimal, RoundingStrategy};

use super::model::{CycleReport, LsuExport, PeriodicReport, SocleComponent, SubjectAssessment};
use super::validate::{clean_line, clean_text};

/// The schema version written in the file, the only one the schema accepts.
pub const SCHEMA_VERSION: &str = "10.0";
/// The schema's namespace.
pub const NAMESPACE: &str = "urn:fr:edu:scolarite:lsun:bilans:import";

const SCHEMA_LOCATION: &str = "urn:fr:edu:scolarite:lsun:bilans:import import-bilan-complet.xsd";
const HEAD_ID: &str = "RESP_1";
const PERIOD_ID: &str = "PER_1";

type Xml = Writer<Vec<u8>>;

/// The file's own ids of the model's Carnet ids, and the éléments de programme, each
/// label once (the schema wants their labels unique).
struct Ids<'a> {
    students: BTreeMap<&'a str, String>,
    teachers: BTreeMap<&'a str, String>,
    subjects: BTreeMap<&'a str, String>,
    elements: Vec<String>,
    element_ids: BTreeMap<String, String>,
}

impl<'a> Ids<'a> {
    fn new(export: &'a LsuExport) -> Ids<'a> {
        let number = |prefix: &str, i: usize| format!("{prefix}_{}", i + 1);
        let students = export.students.iter().enumerate();
        let teachers = export.teachers.iter().enumerate();
        let subjects = export.subjects.iter().enumerate();
        let mut ids = Ids {
            students: students
                .map(|(i, s)| (s.id.as_str(), number("ELV", i)))
                .collect(),
            teachers: teachers
                .map(|(i, t)| (t.id.as_str(), number("ENS", i)))
                .collect(),
            subjects: subjects
                .map(|(i, s)| (s.code.as_str(), number("DISC", i)))
                .collect(),
            elements: Vec::new(),
            element_ids: BTreeMap::new(),
        };
        let all = export.periodic.iter().flat_map(|r| &r.subjects);
        for label in all
            .flat_map(|a| &a.programme_elements)
            .map(|e| clean_line(e))
        {
            if !ids.element_ids.contains_key(&label) {
                let id = number("EP", ids.elements.len());
                ids.element_ids.insert(label.clone(), id);
                ids.elements.push(label);
            }
        }
        ids
    }

    /// The file's ids of Carnet `keys` in `map`, space separated, each once.
    fn refs(map: &BTreeMap<&str, String>, keys: &[String]) -> String {
        let mut refs: Vec<&str> = Vec::new();
        for id in keys.iter().filter_map(|k| map.get(k.as_str())) {
            if !refs.contains(&id.as_str()) {
                refs.push(id);
            }
        }
        refs.join(" ")
    }
}

/// The import file of a validated `export`.
pub(super) fn xml(export: &LsuExport) -> io::Result<Vec<u8>> {
    let ids = Ids::new(export);
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("lsun-bilans")
        .with_attribute(("xmlns", NAMESPACE))
        .with_attribute(("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"))
        .with_attribute(("xsi:schemaLocation", SCHEMA_LOCATION))
        .with_attribute(("schemaVersion", SCHEMA_VERSION))
        .write_inner_content(|w| {
            header(w, export)?;
            w.create_element("donnees")
                .write_inner_content(|w| data(w, export, &ids))?;
            Ok(())
        })?;
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    Ok(bytes)
}

/// `<name>text</name>`, the text escaped.
fn text(w: &mut Xml, name: &str, text: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(text))?;
    Ok(())
}

fn header(w: &mut Xml, export: &LsuExport) -> io::Result<()> {
    w.create_element("entete").write_inner_content(|w| {
        text(w, "editeur", "Carnet")?;
        text(w, "application", "Carnet")?;
        text(w, "appliVersion", env!("CARGO_PKG_VERSION"))?;
        text(w, "etablissement", export.uai.trim())
    })?;
    Ok(())
}

fn data(w: &mut Xml, export: &LsuExport, ids: &Ids<'_>) -> io::Result<()> {
    w.create_element("responsables-etab")
        .write_inner_content(|w| {
            w.create_element("responsable-etab")
                .with_attribute(("id", HEAD_ID))
                .with_attribute(("libelle", clean_line(&export.head).as_str()))
                .write_empty()?;
            Ok(())
        })?;
    students(w, export, ids)?;
    if let (Some(period), false) = (&export.period, export.periodic.is_empty()) {
        w.create_element("periodes").write_inner_content(|w| {
            w.create_element("periode")
                .with_attribute(("id", PERIOD_ID))
                .with_attribute(("millesime", format!("{:04}", export.school_year).as_str()))
                .with_attribute(("indice", period.index.to_string().as_str()))
                .with_attribute(("nb-periodes", period.count.to_string().as_str()))
                .write_empty()?;
            Ok(())
        })?;
    }
    subjects(w, export, ids)?;
    teachers(w, export, ids)?;
    if !ids.elements.is_empty() {
        w.create_element("elements-programme")
            .write_inner_content(|w| {
                for label in &ids.elements {
                    let id = ids.element_ids.get(label).map_or("", String::as_str);
                    w.create_element("element-programme")
                        .with_attribute(("id", id))
                        .with_attribute(("libelle", label.as_str()))
                        .write_empty()?;
                }
                Ok(())
            })?;
    }
    if !export.periodic.is_empty() {
        w.create_element("bilans-periodiques")
            .write_inner_content(|w| {
                export
                    .periodic
                    .iter()
                    .try_for_each(|r| periodic(w, export, r, ids))
            })?;
    }
    if !export.end_of_cycle.is_empty() {
        w.create_element("bilans-cycle").write_inner_content(|w| {
            export
                .end_of_cycle
                .iter()
                .try_for_each(|r| cycle(w, export, r, ids))
        })?;
    }
    Ok(())
}

/// Pushes the attribute `name` when `value` is not empty (the schema's names have a
/// minimum length of 1, so an unknown one is left out rather than written empty).
fn optional<'b>(attributes: &mut Vec<(&'b str, String)>, name: &'b str, value: String) {
    if !value.is_empty() {
        attributes.push((name, value));
    }
}

fn students(w: &mut Xml, export: &LsuExport, ids: &Ids<'_>) -> io::Result<()> {
    w.create_element("eleves").write_inner_content(|w| {
        for student in &export.students {
            let mut attributes = vec![
                (
                    "id",
                    ids.students
                        .get(student.id.as_str())
                        .cloned()
                        .unwrap_or_default(),
                ),
                (
                    "id-be",
                    student.id_be.as_deref().map(clean_line).unwrap_or_default(),
                ),
            ];
            optional(&mut attributes, "nom", clean_line(&student.last_name));
            optional(&mut attributes, "prenom", clean_line(&student.first_name));
            attributes.push(("code-division", clean_line(&student.division)));
            w.create_element("eleve")
                .with_attributes(attributes.iter().map(|(k, v)| (*k, v.as_str())))
                .write_empty()?;
        }
        Ok(())
    })?;
    Ok(())
}

fn subjects(w: &mut Xml, export: &LsuExport, ids: &Ids<'_>) -> io::Result<()> {
    if export.subjects.is_empty() {
        return Ok(());
    }
    w.create_element("disciplines").write_inner_content(|w| {
        for subject in &export.subjects {
            let id = ids
                .subjects
                .get(subject.code.as_str())
                .map_or("", String::as_str);
            let code = subject.national_code.as_deref().map_or("", str::trim);
            w.create_element("discipline")
                .with_attribute(("id", id))
                .with_attribute(("code", code))
                .with_attribute(("modalite-election", subject.modality.code()))
                .with_attribute(("libelle", clean_line(&subject.label).as_str()))
                .write_empty()?;
        }
        Ok(())
    })?;
    Ok(())
}

fn teachers(w: &mut Xml, export: &LsuExport, ids: &Ids<'_>) -> io::Result<()> {
    if export.teachers.is_empty() {
        return Ok(());
    }
    w.create_element("enseignants").write_inner_content(|w| {
        for teacher in &export.teachers {
            let sts = teacher.sts_id.as_deref().map_or("", str::trim);
            let mut attributes = vec![
                (
                    "id",
                    ids.teachers
                        .get(teacher.id.as_str())
                        .cloned()
                        .unwrap_or_default(),
                ),
                // "epp": the teacher comes from STS-web (EPP), as the id-sts says.
                ("type", "epp".to_string()),
                ("id-sts", sts.trim_start_matches('0').to_string()),
            ];
            if let Some(civility) = teacher.civility {
                attributes.push(("civilite", civility_code(civility).to_string()));
            }
            optional(&mut attributes, "nom", clean_line(&teacher.last_name));
            optional(&mut attributes, "prenom", clean_line(&teacher.first_name));
            w.create_element("enseignant")
                .with_attributes(attributes.iter().map(|(k, v)| (*k, v.as_str())))
                .write_empty()?;
        }
        Ok(())
    })?;
    Ok(())
}

fn civility_code(civility: super::model::Civility) -> &'static str {
    match civility {
        super::model::Civility::Monsieur => "M",
        super::model::Civility::Madame => "MME",
    }
}

/// An average as the schema's `MoyenneNumerique`: at most two decimals, no exponent.
fn average(value: Decimal) -> String {
    value
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
        .to_string()
}

fn periodic(
    w: &mut Xml,
    export: &LsuExport,
    report: &PeriodicReport,
    ids: &Ids<'_>,
) -> io::Result<()> {
    let Some(period) = &export.period else {
        return Ok(());
    };
    let mut attributes = vec![
        (
            "eleve-ref",
            ids.students
                .get(report.student.as_str())
                .cloned()
                .unwrap_or_default(),
        ),
        ("periode-ref", PERIOD_ID.to_string()),
        ("date-conseil-classe", report.council_date.to_string()),
        ("date-scolarite", period.last_day.to_string()),
        ("responsable-etab-ref", HEAD_ID.to_string()),
    ];
    optional(
        &mut attributes,
        "prof-princ-refs",
        Ids::refs(&ids.teachers, &report.principal_teachers),
    );
    w.create_element("bilan-periodique")
        .with_attributes(attributes.iter().map(|(k, v)| (*k, v.as_str())))
        .write_inner_content(|w| {
            w.create_element("liste-acquis").write_inner_content(|w| {
                report.subjects.iter().try_for_each(|a| acquis(w, a, ids))
            })?;
            text(
                w,
                "acquis-conseils",
                &clean_text(&report.general_appreciation),
            )?;
            school_life(w, report)
        })?;
    Ok(())
}

fn acquis(w: &mut Xml, assessment: &SubjectAssessment, ids: &Ids<'_>) -> io::Result<()> {
    let subject = ids
        .subjects
        .get(assessment.subject.as_str())
        .cloned()
        .unwrap_or_default();
    let mut attributes = vec![
        ("discipline-ref", subject),
        (
            "enseignant-refs",
            Ids::refs(&ids.teachers, &assessment.teachers),
        ),
    ];
    let elements: Vec<&str> = {
        let mut refs = Vec::new();
        for label in assessment.programme_elements.iter().map(|e| clean_line(e)) {
            if let Some(id) = ids.element_ids.get(&label).map(String::as_str) {
                if !refs.contains(&id) {
                    refs.push(id);
                }
            }
        }
        refs
    };
    optional(
        &mut attributes,
        "element-programme-refs",
        elements.join(" "),
    );
    optional(
        &mut attributes,
        "moyenne-eleve",
        assessment.average.map(average).unwrap_or_default(),
    );
    optional(
        &mut attributes,
        "moyenne-structure",
        assessment.class_average.map(average).unwrap_or_default(),
    );
    if let Some(status) = assessment.status {
        attributes.push(("statut-evaluation-eleve", status.code().to_string()));
    }
    if let Some(positioning) = assessment.positioning {
        attributes.push(("positionnement", positioning.to_string()));
    }
    w.create_element("acquis")
        .with_attributes(attributes.iter().map(|(k, v)| (*k, v.as_str())))
        .write_inner_content(|w| text(w, "appreciation", &clean_text(&assessment.appreciation)))?;
    Ok(())
}

fn school_life(w: &mut Xml, report: &PeriodicReport) -> io::Result<()> {
    let life = &report.school_life;
    let mut attributes = vec![
        ("nb-retards", life.late.to_string()),
        (
            "nb-abs-justifiees",
            life.absent_justified_half_days.to_string(),
        ),
        (
            "nb-abs-injustifiees",
            life.absent_unjustified_half_days.to_string(),
        ),
    ];
    if let Some(hours) = life.missed_hours {
        attributes.push(("nb-heures-manquees", hours.to_string()));
    }
    let comment = life
        .cpe_comment
        .as_deref()
        .map(clean_text)
        .unwrap_or_default();
    let element = w
        .create_element("vie-scolaire")
        .with_attributes(attributes.iter().map(|(k, v)| (*k, v.as_str())));
    if comment.is_empty() {
        element.write_empty()?;
    } else {
        element.write_inner_content(|w| text(w, "commentaire", &comment))?;
    }
    Ok(())
}

fn cycle(w: &mut Xml, export: &LsuExport, report: &CycleReport, ids: &Ids<'_>) -> io::Result<()> {
    let mut attributes = vec![
        (
            "eleve-ref",
            ids.students
                .get(report.student.as_str())
                .cloned()
                .unwrap_or_default(),
        ),
        ("cycle", report.cycle.number().to_string()),
        ("millesime", format!("{:04}", export.school_year)),
        ("date-creation", report.created_on.to_string()),
        ("responsable-etab-ref", HEAD_ID.to_string()),
    ];
    optional(
        &mut attributes,
        "prof-princ-refs",
        Ids::refs(&ids.teachers, &report.principal_teachers),
    );
    w.create_element("bilan-cycle")
        .with_attributes(attributes.iter().map(|(k, v)| (*k, v.as_str())))
        .write_inner_content(|w| {
            w.create_element("socle")
                .write_inner_content(|w| socle(w, report))?;
            text(w, "synthese", &clean_text(&report.synthesis))?;
            complement(w, report)
        })?;
    Ok(())
}

/// The eight components in the livret's order, whatever the model's order.
fn socle(w: &mut Xml, report: &CycleReport) -> io::Result<()> {
    for component in SocleComponent::ALL {
        let level = report.components.iter().find(|(c, _)| *c == component);
        if let Some((_, level)) = level {
            w.create_element("domaine")
                .with_attribute(("code", component.lsu_code()))
                .with_attribute(("positionnement", level.to_string().as_str()))
                .write_empty()?;
        }
    }
    Ok(())
}

/// The enseignement de complément; a cycle 4 bilan without one says "AUC" (aucun), as
/// LSU expects one on every bilan de fin de cycle 4.
fn complement(w: &mut Xml, report: &CycleReport) -> io::Result<()> {
    let element = match (report.complement, report.cycle) {
        (Some(complement), _) => {
            let element = w
                .create_element("enseignement-complement")
                .with_attribute(("code", complement.kind.code()));
            match complement.level {
                Some(level) => {
                    element.with_attribute(("positionnement", level.number().to_string().as_str()))
                }
                None => element,
            }
        }
        (None, super::model::Cycle::Four) => w
            .create_element("enseignement-complement")
            .with_attribute(("code", "AUC")),
        (None, super::model::Cycle::Three) => return Ok(()),
    };
    element.write_empty()?;
    Ok(())
}
