//! `GET /lsu/{year}/{period}/{division}.xml`: a division's bilans périodiques (and the
//! bilans de fin de cycle recorded in that period) as the Livret scolaire unique's
//! import file, for the head, with the bearer token.
//!
//! The file is made from the same bulletins as the PDF ([`crate::bulletin`]) and
//! written by `carnet_importers::export::lsu`, which first refuses everything the
//! national application would: the answer is then 422 with every problem (its stable
//! code and a French message naming the student, subject or teacher), and no file.
//!
//! The national ids the LSU needs are Carnet's own ids when the establishment was fed
//! by the national files (STS-Web's numeric teacher ids, SIECLE's `ELEVE_ID`), or an
//! external id of the person whose scheme names STS; a person without one is a refusal.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use carnet_domain::enrolment::{Establishment, Role, SchoolYear};
use carnet_importers::export::lsu;

use crate::bulletin::{self, BulletinFacts};
use crate::downloads::{parse_year, serve_file, FileRequest};
use crate::error::{ApiError, ApiResult};
use crate::reader::Reader;
use crate::state::AppState;

/// `GET /lsu/{year}/{period}/{division}.xml`.
pub async fn division_xml(
    State(state): State<Arc<AppState>>,
    Path(path): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    serve_file(state, path, headers, ".xml", |r| async move {
        r.actor.may_administer("exporting to the LSU")?;
        let export = export_of(&r.reader, &r.year, &r.period, &r.name).await?;
        Ok(match lsu::write(&export) {
            Ok(xml) => file_response(xml, &r),
            Err(refused) => refusal_response(&refused),
        })
    })
    .await
}

fn file_response(xml: Vec<u8>, r: &FileRequest) -> Response {
    let name = format!("lsu-{}-{}-{}.xml", r.year, r.period, r.name);
    (
        [
            (
                header::CONTENT_TYPE,
                "application/xml; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        xml,
    )
        .into_response()
}

/// 422 with every problem: its stable code and what it says.
fn refusal_response(refused: &lsu::LsuRefused) -> Response {
    let problems: Vec<serde_json::Value> = refused
        .problems
        .iter()
        .map(|p| serde_json::json!({ "code": p.code(), "message": p.to_string() }))
        .collect();
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(serde_json::json!({ "problems": problems })),
    )
        .into_response()
}

/// A staff member's name as LSU wants it: civility, last and first name, from the one
/// name Carnet keeps (« Mme Martin », « M. Jean Dupont »).
fn teacher_names(name: &str) -> (Option<lsu::model::Civility>, String, String) {
    let (civility, rest) = if let Some(rest) = name.strip_prefix("Mme ") {
        (Some(lsu::model::Civility::Madame), rest)
    } else if let Some(rest) = name.strip_prefix("M. ") {
        (Some(lsu::model::Civility::Monsieur), rest)
    } else {
        (None, name)
    };
    match rest.rsplit_once(' ') {
        Some((first, last)) => (civility, last.to_string(), first.to_string()),
        None => (civility, rest.to_string(), String::new()),
    }
}

/// A national id: Carnet's own id when it is one (numeric, as the national files give
/// it), else an external id whose scheme names `scheme`.
fn national_id(establishment: &Establishment, person: &str, scheme: &str) -> Option<String> {
    if !person.is_empty() && person.bytes().all(|b| b.is_ascii_digit()) {
        return Some(person.to_string());
    }
    establishment
        .external_ids
        .iter()
        .find(|(_, link)| link.person == person && link.scheme.to_uppercase().contains(scheme))
        .map(|(value, _)| value.clone())
}

async fn export_of(
    reader: &Reader,
    year: &str,
    period: &str,
    division: &str,
) -> ApiResult<lsu::LsuExport> {
    let year: SchoolYear = parse_year(year)?;
    let establishment = reader.establishment().await?;
    let found = bulletin::period_of(&establishment, &year, period)?;
    let periods = &establishment
        .year(&year)
        .map_err(ApiError::refused)?
        .periods;
    let index = periods.iter().position(|p| p.id == found.id).unwrap_or(0);
    let students = bulletin::roster_at_end(reader, &establishment, &year, division, &found).await?;
    let mut all = Vec::new();
    for student in &students {
        all.push(bulletin::assemble(reader, &year, period, student).await?);
    }
    let mut export = lsu::LsuExport {
        uai: reader.tenant.to_string(),
        school_year: i32::from(year.first_year()),
        head: head_name(reader, &establishment).await?,
        period: Some(lsu::model::Period {
            index: u8::try_from(index + 1).unwrap_or(u8::MAX),
            count: u8::try_from(periods.len()).unwrap_or(u8::MAX),
            first_day: found.from,
            last_day: found.to,
        }),
        teachers: Vec::new(),
        subjects: Vec::new(),
        divisions: vec![lsu::model::Division {
            code: division.to_string(),
        }],
        students: Vec::new(),
        periodic: Vec::new(),
        end_of_cycle: Vec::new(),
    };
    let team = carnet_domain::reportcards::Team::of(&establishment, &year, division, period)
        .map_err(ApiError::refused)?;
    let mut teachers: BTreeSet<String> = team.principal_teachers.clone();
    teachers.extend(team.teachers.values().flatten().cloned());
    for id in &teachers {
        let name = match establishment.staff.get(id) {
            Some(m) => reader.open(&m.name).await?.unwrap_or_default(),
            None => String::new(),
        };
        let (civility, last_name, first_name) = teacher_names(&name);
        export.teachers.push(lsu::model::Teacher {
            id: id.clone(),
            sts_id: national_id(&establishment, id, "STS"),
            civility,
            last_name,
            first_name,
        });
    }
    let mut subjects: BTreeMap<String, lsu::model::Subject> = BTreeMap::new();
    for (code, subject) in &establishment.subjects {
        subjects.insert(
            subject.short.clone(),
            lsu::model::Subject {
                code: subject.short.clone(),
                national_code: Some(code.to_string()),
                modality: lsu::model::Modality::Common,
                label: subject.name.clone(),
            },
        );
    }
    let used: BTreeSet<&str> = all
        .iter()
        .flat_map(|f| f.subjects.iter().map(|s| s.code.as_str()))
        .collect();
    export.subjects = subjects
        .into_values()
        .filter(|s| used.contains(s.code.as_str()))
        .collect();
    for facts in &all {
        add_student(&mut export, &establishment, &team, facts);
    }
    Ok(export)
}

async fn head_name(reader: &Reader, establishment: &Establishment) -> ApiResult<String> {
    let head = establishment
        .staff
        .iter()
        .find(|(_, m)| m.left_on.is_none() && m.roles.contains(&Role::Principal));
    Ok(match head {
        Some((id, m)) => reader.open(&m.name).await?.unwrap_or_else(|| id.clone()),
        None => String::new(),
    })
}

fn add_student(
    export: &mut lsu::LsuExport,
    establishment: &Establishment,
    team: &carnet_domain::reportcards::Team,
    facts: &BulletinFacts,
) {
    export.students.push(lsu::model::Student {
        id: facts.student.clone(),
        id_be: national_id(establishment, &facts.student, "SIECLE"),
        last_name: facts.last_name.clone().unwrap_or_default(),
        first_name: facts.first_name.clone().unwrap_or_default(),
        division: facts.division.clone(),
    });
    let principal_teachers: Vec<String> = team.principal_teachers.iter().cloned().collect();
    export.periodic.push(lsu::model::PeriodicReport {
        student: facts.student.clone(),
        council_date: facts.published_on.unwrap_or(facts.period.to),
        subjects: facts
            .subjects
            .iter()
            .map(|s| lsu::model::SubjectAssessment {
                subject: s.code.clone(),
                teachers: team
                    .teachers
                    .get(&s.code)
                    .map(|t| t.iter().cloned().collect())
                    .unwrap_or_default(),
                average: s.average.map(carnet_domain::grades::averages::rounded),
                class_average: s
                    .class
                    .map(|c| carnet_domain::grades::averages::rounded(c.average)),
                positioning: s.positioning().map(|l| l.value()),
                status: (s.average.is_none() && s.positioning().is_none())
                    .then_some(lsu::model::EvaluationStatus::NotGraded),
                appreciation: s.appreciation.clone().unwrap_or_default(),
                programme_elements: s
                    .competences
                    .iter()
                    .map(|(label, _)| label.clone())
                    .collect(),
            })
            .collect(),
        general_appreciation: facts.general.clone().unwrap_or_default(),
        school_life: lsu::model::SchoolLife {
            late: facts.lateness,
            absent_justified_half_days: facts
                .half_days_absent
                .saturating_sub(facts.half_days_unjustified),
            absent_unjustified_half_days: facts.half_days_unjustified,
            missed_hours: None,
            cpe_comment: facts.vie_scolaire.clone(),
        },
        principal_teachers: principal_teachers.clone(),
    });
    if let Some(end) = &facts.end_of_cycle {
        export.end_of_cycle.push(lsu::model::CycleReport {
            student: facts.student.clone(),
            cycle: end.cycle,
            created_on: facts.period.to,
            components: end.levels.iter().map(|(c, l)| (*c, l.value())).collect(),
            synthesis: facts.synthesis.clone().unwrap_or_default(),
            complement: None,
            principal_teachers,
        });
    }
}
