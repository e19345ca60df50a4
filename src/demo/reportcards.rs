//! The first term's report cards, as a collège prepares them: a competence framework,
//! one assessment of competences per class and subject, a professeur principal per
//! division, every teacher's appreciation, the general and vie scolaire ones, the class
//! council's decisions, then the council closed and the bulletins published.
//!
//! Appreciations and decisions follow the marks the demo entered (a student with 16 of
//! average gets praise, one with 7 a warning), from a bank of varied French texts.

use std::collections::{BTreeMap, BTreeSet};

use carnet_domain::enrolment::{ClassRef, EstablishmentCommand, YearSpec};
use carnet_domain::grades::averages;
use carnet_domain::grades::{EvaluationSpec, Gradebook, GradebookCommand, Level, NotHandedIn};
use carnet_domain::reportcards::{
    Component, CouncilCommand, Decision, FrameworkCommand, Team, Topic,
};
use carnet_store::School;
use chrono::Duration;
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::structure::{Structure, SUBJECTS};
use super::{DemoError, Runner};

/// What the report cards of the term hold.
#[derive(Debug, Clone, Copy, Default)]
pub struct Written {
    pub competences: usize,
    pub appreciations: usize,
    pub decisions: usize,
}

/// The competence items of a subject: id suffix, label, socle component.
fn items_of(short: &str) -> Vec<(&'static str, &'static str, Component)> {
    let main = match short {
        "FRANC" => Component::French,
        "ANG1" | "ESP2" | "ALL2" => Component::ForeignLanguages,
        "MATHS" | "SVT" | "PH-CH" | "TECHN" => Component::ScientificLanguages,
        "EPS" | "A-PLA" | "MUSIQ" | "EDMUS" => Component::ArtsAndBody,
        _ => Component::WorldAndHumanity,
    };
    vec![
        (
            "C1",
            "Connaître et comprendre les notions du programme",
            main,
        ),
        ("C2", "S'exprimer et communiquer avec précision", main),
        (
            "C3",
            "Organiser son travail personnel",
            Component::MethodsAndTools,
        ),
    ]
}

fn class_id(class: &ClassRef) -> &str {
    match class {
        ClassRef::Division(id) | ClassRef::Group(id) => id,
    }
}

fn item_id(short: &str, suffix: &str) -> String {
    format!("{short}-{suffix}")
}

const VERY_GOOD: &[&str] = &[
    "Excellent trimestre : un travail sérieux et régulier, une participation active. Continuez ainsi !",
    "Très bons résultats, fruit d'un travail approfondi et d'une réelle curiosité. Bravo.",
    "Élève moteur en classe, aux acquis solides. Félicitations pour ce trimestre.",
];
const GOOD: &[&str] = &[
    "Bon trimestre. Les bases sont solides ; il faut maintenant gagner en rigueur dans la rédaction.",
    "Travail sérieux et résultats satisfaisants. Une participation orale plus fréquente serait bienvenue.",
    "Bons résultats d'ensemble : poursuivez vos efforts pour viser l'excellence.",
];
const FAIR: &[&str] = &[
    "Trimestre correct, mais des résultats irréguliers : les leçons doivent être apprises plus régulièrement.",
    "Des efforts visibles ; les méthodes de travail doivent encore être consolidées.",
    "Résultats moyens. Un investissement plus soutenu à la maison permettrait de progresser.",
];
const WEAK: &[&str] = &[
    "Trimestre difficile : les lacunes doivent être comblées par un travail régulier. N'hésitez pas à demander de l'aide.",
    "Résultats insuffisants. Le travail personnel doit être nettement renforcé.",
    "Des difficultés persistantes : il faut reprendre les bases avec méthode et assiduité.",
];
const GENERAL_GOOD: &[&str] = &[
    "Un excellent premier trimestre, dans toutes les disciplines. Le conseil de classe vous félicite.",
    "Très bon trimestre : sérieux, investissement et curiosité. Continuez ainsi.",
];
const GENERAL_FAIR: &[&str] = &[
    "Un trimestre encourageant. Il faut maintenant travailler plus régulièrement pour consolider les acquis.",
    "Des résultats satisfaisants dans l'ensemble, mais inégaux selon les disciplines : attention à la régularité.",
];
const GENERAL_WEAK: &[&str] = &[
    "Un trimestre décevant. Un sursaut est indispensable : le travail personnel doit devenir quotidien.",
    "Les résultats sont fragiles. Un suivi régulier avec le professeur principal est proposé à la famille.",
];

fn bank(average: f64) -> &'static [&'static str] {
    match average {
        a if a >= 16.0 => VERY_GOOD,
        a if a >= 12.5 => GOOD,
        a if a >= 9.5 => FAIR,
        _ => WEAK,
    }
}

fn level_of(average: f64, rng: &mut ChaCha8Rng) -> Level {
    let base: i32 = match average {
        a if a >= 15.0 => 4,
        a if a >= 11.5 => 3,
        a if a >= 8.0 => 2,
        _ => 1,
    };
    let jitter: i32 = if rng.random_bool(0.25) {
        if rng.random_bool(0.5) {
            1
        } else {
            -1
        }
    } else {
        0
    };
    let value = u8::try_from((base + jitter).clamp(1, 4)).unwrap_or(2);
    Level::from_value(value).unwrap_or(Level::Fragile)
}

fn to_f64(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(10.0)
}

/// Records the term's report cards; returns what was written.
pub async fn record(
    runner: &Runner<'_>,
    plan: &Structure,
    year: &YearSpec,
    rng: &mut ChaCha8Rng,
) -> Result<Written, DemoError> {
    let school = runner.school();
    let framework: Vec<(String, FrameworkCommand)> = SUBJECTS
        .iter()
        .flat_map(|s| {
            items_of(s.short)
                .into_iter()
                .map(|(suffix, label, component)| {
                    let id = item_id(s.short, suffix);
                    (
                        format!("competence/{id}"),
                        FrameworkCommand::DefineItem {
                            id,
                            subject: s.short.to_string(),
                            label: label.to_string(),
                            component: Some(component),
                        },
                    )
                })
        })
        .collect();
    runner
        .run_streams(&school.framework, [(school.establishment_id(), framework)])
        .await?;
    let competences = assess(runner, plan, year, rng).await?;
    appoint_principal_teachers(runner, plan, year).await?;
    let (appreciations, decisions) = councils(runner, plan, year, rng).await?;
    Ok(Written {
        competences,
        appreciations,
        decisions,
    })
}

/// One assessment of competences per class and subject, at the end of the term, with
/// levels that follow each student's average in the subject.
async fn assess(
    runner: &Runner<'_>,
    plan: &Structure,
    year: &YearSpec,
    rng: &mut ChaCha8Rng,
) -> Result<usize, DemoError> {
    let Some(term) = year.periods.first() else {
        return Ok(0);
    };
    let school = runner.school();
    let mut streams: BTreeMap<String, Vec<(String, GradebookCommand)>> = BTreeMap::new();
    let mut assessed = 0;
    for (teacher, subject_index, class) in &plan.services {
        let subject = &SUBJECTS[*subject_index];
        let class_id = class_id(class);
        let stream = School::gradebook_id(&year.year, class_id, &term.id);
        let (_, book): (i64, Gradebook) = school.gradebooks.state(&stream).await?;
        let members: BTreeSet<&String> = book
            .evaluations
            .values()
            .filter(|e| e.subject == subject.short)
            .flat_map(|e| e.marks.keys())
            .collect();
        if members.is_empty() {
            continue;
        }
        let id = format!("{class_id}-{}-{}-COMP", term.id, subject.short);
        let items: Vec<String> = items_of(subject.short)
            .iter()
            .map(|(suffix, _, _)| item_id(subject.short, suffix))
            .collect();
        let commands = streams.entry(stream).or_default();
        commands.push((
            format!("evaluation/{id}"),
            GradebookCommand::CreateEvaluation(EvaluationSpec {
                evaluation: id.clone(),
                class: class_id.to_string(),
                period: term.id.clone(),
                subject: subject.short.to_string(),
                teacher: teacher.clone(),
                title: format!("{} : bilan de compétences", subject.short),
                date: term.to - Duration::days(10),
                scale: Decimal::from(20),
                coefficient: Decimal::ZERO,
                bonus: false,
                not_handed_in: NotHandedIn::CountsAsZero,
                competences: items.clone(),
            }),
        ));
        for student in members {
            let average =
                averages::subject_average(&book, student, subject.short).map_or(10.0, to_f64);
            let levels = items
                .iter()
                .map(|item| (item.clone(), level_of(average, rng)))
                .collect();
            commands.push((
                format!("competences/{id}/{student}"),
                GradebookCommand::AssessCompetences {
                    evaluation: id.clone(),
                    student: student.clone(),
                    levels,
                    by: teacher.clone(),
                },
            ));
            assessed += 1;
        }
    }
    runner.run_streams(&school.gradebooks, streams).await?;
    Ok(assessed)
}

/// The professeur principal of each division: its French teacher, else its first.
async fn appoint_principal_teachers(
    runner: &Runner<'_>,
    plan: &Structure,
    year: &YearSpec,
) -> Result<(), DemoError> {
    let school = runner.school();
    let mut commands = Vec::new();
    for division in &plan.divisions {
        let serving: Vec<(&String, &str)> = plan
            .services
            .iter()
            .filter(|(_, _, c)| class_id(c) == division.id)
            .map(|(t, s, _)| (t, SUBJECTS[*s].short))
            .collect();
        let chosen = serving
            .iter()
            .find(|(_, s)| *s == "FRANC")
            .or(serving.first())
            .map(|(t, _)| (*t).clone());
        if let Some(teacher) = chosen {
            commands.push((
                format!("principal-teacher/{}", division.id),
                EstablishmentCommand::AppointPrincipalTeacher {
                    year: year.year.clone(),
                    division: division.id.clone(),
                    teacher,
                },
            ));
        }
    }
    runner
        .run_streams(
            &school.establishment,
            [(school.establishment_id(), commands)],
        )
        .await
}

/// Every division's class council of the term: appreciations, decisions, closing and
/// publication. Returns the appreciations and decisions written.
async fn councils(
    runner: &Runner<'_>,
    plan: &Structure,
    year: &YearSpec,
    rng: &mut ChaCha8Rng,
) -> Result<(usize, usize), DemoError> {
    let Some(term) = year.periods.first() else {
        return Ok((0, 0));
    };
    let school = runner.school();
    let (_, establishment) = school
        .establishment
        .state(&school.establishment_id())
        .await?;
    let mut streams = Vec::new();
    let (mut appreciations, mut decisions) = (0, 0);
    for division in &plan.divisions {
        let team = Team::of(&establishment, &year.year, &division.id, &term.id).map_err(|e| {
            DemoError::Refused {
                what: format!("team/{}", division.id),
                reason: e.to_string(),
            }
        })?;
        let books = books_of(school, plan, year, &division.id, &term.id).await?;
        let mut commands = Vec::new();
        for student in plan.students.iter().filter(|s| s.division == division.id) {
            let stream = School::attendance_id(&year.year, &student.id);
            let (_, attendance) = school.attendance.state(&stream).await?;
            let (absent, _, _) = attendance.range_counts(term.from, term.to);
            let written = student_report(&team, &books, &student.id, absent, rng);
            appreciations += written
                .iter()
                .filter(|(_, c)| matches!(c, CouncilCommand::Appreciate { .. }))
                .count();
            decisions += written
                .iter()
                .filter(|(_, c)| matches!(c, CouncilCommand::Decide { .. }))
                .count();
            commands.extend(written);
        }
        let head = team
            .heads
            .iter()
            .next()
            .cloned()
            .unwrap_or_else(|| "principal".into());
        commands.push((
            format!("council/{}/close", division.id),
            CouncilCommand::Close {
                by: head.clone(),
                team: team.clone(),
            },
        ));
        commands.push((
            format!("council/{}/publish", division.id),
            CouncilCommand::Publish {
                // The councils meet in the first days of December.
                on: term.to + Duration::days(4),
                by: head,
                team,
            },
        ));
        streams.push((
            School::council_id(&year.year, &division.id, &term.id),
            commands,
        ));
    }
    runner.run_streams(&school.councils, streams).await?;
    Ok((appreciations, decisions))
}

/// The gradebooks a division's students are marked in: the division's and its groups'.
async fn books_of(
    school: &School,
    plan: &Structure,
    year: &YearSpec,
    division: &str,
    term: &str,
) -> Result<Vec<Gradebook>, DemoError> {
    let mut classes = vec![division.to_string()];
    classes.extend(
        plan.groups
            .iter()
            .filter(|g| g.divisions.iter().any(|d| d == division))
            .map(|g| g.id.clone()),
    );
    let mut books = Vec::new();
    for class in classes {
        let (_, book) = school
            .gradebooks
            .state(&School::gradebook_id(&year.year, &class, term))
            .await?;
        books.push(book);
    }
    Ok(books)
}

/// A student's appreciations (each subject's by its teacher, the general one by the
/// professeur principal, vie scolaire by the CPE, after the half-days the student
/// missed) and the council's decision.
fn student_report(
    team: &Team,
    books: &[Gradebook],
    student: &str,
    half_days_absent: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<(String, CouncilCommand)> {
    let mut out = Vec::new();
    let mut averages_of = Vec::new();
    for (subject, teachers) in &team.teachers {
        let Some(average) = books
            .iter()
            .find_map(|b| averages::subject_average(b, student, subject))
        else {
            continue;
        };
        let Some(teacher) = teachers.iter().next() else {
            continue;
        };
        let average = to_f64(average);
        averages_of.push(average);
        let text = bank(average)
            .choose(rng)
            .copied()
            .unwrap_or("Trimestre correct.");
        out.push((
            format!("appreciation/{}/{student}/{subject}", team.division),
            CouncilCommand::Appreciate {
                student: student.to_string(),
                topic: Topic::Subject(subject.clone()),
                text: text.to_string(),
                by: teacher.clone(),
                team: team.clone(),
            },
        ));
    }
    let overall = averages_of.iter().sum::<f64>() / (averages_of.len().max(1) as f64);
    if let Some(pp) = team.principal_teachers.iter().next() {
        let bank = match overall {
            o if o >= 14.0 => GENERAL_GOOD,
            o if o >= 10.0 => GENERAL_FAIR,
            _ => GENERAL_WEAK,
        };
        let text = bank.choose(rng).copied().unwrap_or("Trimestre correct.");
        out.push((
            format!("appreciation/{}/{student}/general", team.division),
            CouncilCommand::Appreciate {
                student: student.to_string(),
                topic: Topic::General,
                text: text.to_string(),
                by: pp.clone(),
                team: team.clone(),
            },
        ));
    }
    if let Some(cpe) = team.cpes.iter().next() {
        let text = match half_days_absent {
            0..=1 => "Assiduité et ponctualité irréprochables. Attitude respectueuse envers tous.",
            2..=7 => "Quelques absences : veillez à la régularité de votre présence.",
            _ => "Des absences trop nombreuses, qui pénalisent le travail : l'assiduité doit s'améliorer sans délai.",
        };
        out.push((
            format!("appreciation/{}/{student}/vie-scolaire", team.division),
            CouncilCommand::Appreciate {
                student: student.to_string(),
                topic: Topic::VieScolaire,
                text: text.to_string(),
                by: cpe.clone(),
                team: team.clone(),
            },
        ));
    }
    let decision = match overall {
        o if o >= 16.0 => Some(Decision::Felicitations),
        o if o >= 14.0 => Some(Decision::Compliments),
        o if o >= 12.0 && rng.random_bool(0.4) => Some(Decision::Encouragements),
        o if o < 8.0 => Some(Decision::WarningWork),
        _ => None,
    };
    if let (Some(decision), Some(head)) = (decision, team.heads.iter().next()) {
        out.push((
            format!("decision/{}/{student}", team.division),
            CouncilCommand::Decide {
                student: student.to_string(),
                decisions: BTreeSet::from([decision]),
                by: head.clone(),
                team: team.clone(),
            },
        ));
    }
    out
}
