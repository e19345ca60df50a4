//! Report cards: the competence framework, a student's bulletin of a period (averages,
//! positionings, appreciations, vie scolaire, the council's decisions, the bilan de fin
//! de cycle) and a division's class council.

mod mutation;
mod query;

pub(crate) use mutation::ReportCardsMutation;
pub(crate) use query::ReportCardsQuery;

use carnet_domain::reportcards::{brevet_total, ClassCouncil, StudentReport};

use crate::bulletin::{self, BulletinFacts, SubjectFacts};
use crate::schema::prelude::*;

/// A level of mastery of the socle and of competence items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "carnet_domain::grades::Level")]
pub enum MasteryLevel {
    /// 1: maîtrise insuffisante.
    Insufficient,
    /// 2: maîtrise fragile.
    Fragile,
    /// 3: maîtrise satisfaisante.
    Satisfactory,
    /// 4: très bonne maîtrise.
    VeryGood,
}

/// A component of the socle commun (the LSU's code in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "carnet_domain::reportcards::Component")]
pub enum SocleComponent {
    /// CPD_FRA: la langue française.
    French,
    /// CPD_ETR: une langue étrangère et, le cas échéant, régionale.
    ForeignLanguages,
    /// CPD_SCI: les langages mathématiques, scientifiques et informatiques.
    ScientificLanguages,
    /// CPD_ART: les langages des arts et du corps.
    ArtsAndBody,
    /// MET_APP: les méthodes et outils pour apprendre.
    MethodsAndTools,
    /// FRM_CIT: la formation de la personne et du citoyen.
    Citizenship,
    /// SYS_NAT: les systèmes naturels et les systèmes techniques.
    NaturalAndTechnical,
    /// REP_MND: les représentations du monde et l'activité humaine.
    WorldAndHumanity,
}

/// A decision of the class council about a student.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "carnet_domain::reportcards::Decision")]
pub enum CouncilDecision {
    Felicitations,
    Compliments,
    Encouragements,
    /// Mise en garde pour le travail.
    WarningWork,
    /// Mise en garde pour le comportement.
    WarningConduct,
}

/// A decision as the bulletin prints it.
#[derive(Debug, Clone, SimpleObject)]
pub struct DecisionView {
    pub decision: CouncilDecision,
    /// In the request's language: « Félicitations du conseil de classe ».
    pub label: String,
}

/// A competence item assessed in the period, at the rule's level for it alone.
#[derive(Debug, Clone, SimpleObject)]
pub struct AssessedCompetence {
    pub label: String,
    pub level: MasteryLevel,
}

/// A subject's line of the bulletin.
#[derive(Debug, Clone, SimpleObject)]
pub struct BulletinSubject {
    /// The subject's code in the establishment (`MATHS`) and its name.
    pub code: String,
    pub name: String,
    pub teachers: Vec<String>,
    /// Rounded to the hundredth.
    pub average: Option<Decimal>,
    pub class_figures: Option<Figures>,
    /// The positioning printed: the teacher's when set, else the rule's.
    pub positioning: Option<MasteryLevel>,
    /// What the rule gives from the competences assessed (an item counts once, at the
    /// mean of its levels; the mean of the items, rounded half up).
    pub computed_positioning: Option<MasteryLevel>,
    /// Who set the positioning over the rule's, if anyone.
    pub positioned_by: Option<String>,
    pub appreciation: Option<String>,
    pub competences: Vec<AssessedCompetence>,
}

impl From<&SubjectFacts> for BulletinSubject {
    fn from(s: &SubjectFacts) -> Self {
        BulletinSubject {
            code: s.code.clone(),
            name: s.name.clone(),
            teachers: s.teachers.clone(),
            average: s.average.map(averages::rounded),
            class_figures: s.class.map(Into::into),
            positioning: s.positioning().map(Into::into),
            computed_positioning: s.computed.map(Into::into),
            positioned_by: s.overridden.as_ref().map(|o| o.by.clone()),
            appreciation: s.appreciation.clone(),
            competences: s
                .competences
                .iter()
                .map(|(label, level)| AssessedCompetence {
                    label: label.clone(),
                    level: (*level).into(),
                })
                .collect(),
        }
    }
}

/// A component's level in the bilan de fin de cycle.
#[derive(Debug, Clone, SimpleObject)]
pub struct ComponentLevel {
    pub component: SocleComponent,
    /// The LSU's code, e.g. `CPD_FRA`.
    pub code: String,
    pub label: String,
    pub level: MasteryLevel,
}

/// The bilan de fin de cycle: the eight components and their brevet points.
#[derive(Debug, Clone, SimpleObject)]
pub struct EndOfCycleView {
    /// 3 or 4.
    pub cycle: i32,
    pub components: Vec<ComponentLevel>,
    /// Out of 400 (10, 25, 40 or 50 per component), for the brevet at the end of cycle 4.
    pub brevet_points: Option<i32>,
    pub synthesis: Option<String>,
}

/// A student's bulletin of one period.
#[derive(Debug, Clone, SimpleObject)]
pub struct BulletinView {
    pub year: String,
    pub period: String,
    pub period_name: String,
    pub from: Date,
    pub to: Date,
    pub student: String,
    pub division: String,
    pub division_name: String,
    pub principal_teachers: Vec<String>,
    pub subjects: Vec<BulletinSubject>,
    pub overall: Option<Decimal>,
    pub class_overall: Option<Decimal>,
    pub general_appreciation: Option<String>,
    pub vie_scolaire_appreciation: Option<String>,
    pub half_days_absent: i32,
    pub half_days_unjustified: i32,
    pub lateness: i32,
    pub decisions: Vec<DecisionView>,
    pub end_of_cycle: Option<EndOfCycleView>,
    /// The class council has met: nothing changes until the head reopens it.
    pub council_closed: bool,
    /// Families see the bulletin from this day.
    pub published_on: Option<Date>,
    /// Where to download the PDF (with the bearer token): provisional before
    /// publication, for staff only; then the issued bulletin with its verification code.
    pub pdf_url: String,
}

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl BulletinView {
    pub(crate) fn from_facts(f: &BulletinFacts) -> Self {
        let lang = crate::i18n::current();
        BulletinView {
            year: f.year.to_string(),
            period: f.period.id.clone(),
            period_name: f.period.name.clone(),
            from: f.period.from.into(),
            to: f.period.to.into(),
            student: f.student.clone(),
            division: f.division.clone(),
            division_name: f.division_name.clone(),
            principal_teachers: f.principal_teachers.clone(),
            subjects: f.subjects.iter().map(Into::into).collect(),
            overall: f.overall,
            class_overall: f.class_overall,
            general_appreciation: f.general.clone(),
            vie_scolaire_appreciation: f.vie_scolaire.clone(),
            half_days_absent: count(f.half_days_absent),
            half_days_unjustified: count(f.half_days_unjustified),
            lateness: count(f.lateness),
            decisions: f
                .decisions
                .iter()
                .map(|d| DecisionView {
                    decision: (*d).into(),
                    label: match lang {
                        carnet_domain::refusal::Lang::Fr => d.label_fr(),
                        carnet_domain::refusal::Lang::En => d.label_en(),
                    }
                    .to_string(),
                })
                .collect(),
            end_of_cycle: f.end_of_cycle.as_ref().map(|e| EndOfCycleView {
                cycle: i32::from(e.cycle.number()),
                components: e
                    .levels
                    .iter()
                    .map(|(c, l)| ComponentLevel {
                        component: (*c).into(),
                        code: c.lsu_code().to_string(),
                        label: match lang {
                            carnet_domain::refusal::Lang::Fr => c.label_fr(),
                            carnet_domain::refusal::Lang::En => c.label_en(),
                        }
                        .to_string(),
                        level: (*l).into(),
                    })
                    .collect(),
                brevet_points: brevet_total(&e.levels).map(i32::from),
                synthesis: f.synthesis.clone(),
            }),
            council_closed: f.closed,
            published_on: f.published_on.map(Into::into),
            pdf_url: format!("/bulletins/{}/{}/{}.pdf", f.year, f.period.id, f.student),
        }
    }
}

/// Whether `actor` sees bulletins before they are published (staff and teachers do;
/// families and students wait for publication).
pub(crate) fn sees_unpublished(actor: &Actor) -> bool {
    actor.sees_establishment() || !actor.services.is_empty()
}

/// The bulletin of `student` for `period`, if the actor may see it: families see it
/// once published.
pub(crate) async fn bulletin_for(
    reader: &Reader,
    actor: &Actor,
    year: &SchoolYear,
    period: &str,
    student: &str,
) -> ApiResult<Option<BulletinView>> {
    let facts = bulletin::assemble(reader, year, period, student).await?;
    let establishment = reader.establishment().await?;
    if !facts.published_by(today(reader, &establishment)) && !sees_unpublished(actor) {
        return Ok(None);
    }
    Ok(Some(BulletinView::from_facts(&facts)))
}

/// The latest published bulletin of `student` in `year`: the last period whose class
/// council published it.
pub(crate) async fn latest_published(
    reader: &Reader,
    year: &SchoolYear,
    student: &str,
) -> ApiResult<Option<BulletinView>> {
    let establishment = reader.establishment().await?;
    let Ok(y) = establishment.year(year) else {
        return Ok(None);
    };
    let record = reader.student(student).await?;
    let day = today(reader, &establishment);
    for period in y.periods.iter().rev() {
        let Some((division, _)) = bulletin::classes_in(&record, year, period) else {
            continue;
        };
        let council = reader.council(year, &division, &period.id).await?;
        if council.is_some_and(|c| c.published_on.is_some_and(|on| on <= day)) {
            let facts = bulletin::assemble(reader, year, &period.id, student).await?;
            return Ok(Some(BulletinView::from_facts(&facts)));
        }
    }
    Ok(None)
}

/// A student's report without what the council did with the files (issued bulletins):
/// what the history of a report shows.
#[derive(Debug, PartialEq, Serialize)]
struct ReportFacts {
    report: StudentReport,
}

/// Each change of a student's report in a class council: appreciations written and
/// corrected, positionings, decisions, the bilan de fin de cycle.
pub(crate) async fn report_history(
    reader: &Reader,
    stream: &str,
    student: &str,
) -> ApiResult<Vec<Change>> {
    let id = student.to_string();
    let entity = ("report", vec![id.clone()]);
    history::<ClassCouncil, ReportFacts, _>(reader, stream, entity, move |c| {
        c.report(&id).map(|r| ReportFacts {
            report: StudentReport {
                issued: Vec::new(),
                ..r.clone()
            },
        })
    })
    .await
}
