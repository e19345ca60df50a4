//! The report cards' commands: the competence framework, competences assessed,
//! appreciations, positionings, the council's decisions, the bilan de fin de cycle,
//! closing, reopening and publishing a class council, professeurs principaux.
//!
//! Who may write what on a division's report cards is decided by the class council's
//! aggregate from a [`Team`] read from the establishment's aggregate (the write side),
//! never from a read model that could lag.

use carnet_domain::grades::competences::{assessments, positioning};
use carnet_domain::grades::Level;
use carnet_domain::reportcards::{CouncilCommand, Cycle, FrameworkCommand, Team, Topic};

use super::query::{items, ClassCouncilView, CompetenceItem};
use super::{BulletinView, CouncilDecision, MasteryLevel, SocleComponent};
use crate::bulletin;
use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct ReportCardsMutation;

/// An item of the competence framework.
#[derive(Debug, Clone, InputObject)]
pub struct DefineCompetenceInput {
    /// Its id, e.g. `MATHS-RESOUDRE`.
    pub id: String,
    /// The subject's code in the establishment (`MATHS`).
    pub subject: String,
    pub label: String,
    /// The socle component it feeds.
    pub component: Option<SocleComponent>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    DefineCompetencePayload,
    "The framework as it now stands.",
    framework: Vec<CompetenceItem>
);

/// A competence item no longer offered to new evaluations.
#[derive(Debug, Clone, InputObject)]
pub struct RetireCompetenceInput {
    pub id: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A teacher made (or no longer) a professeur principal of a division.
#[derive(Debug, Clone, InputObject)]
pub struct PrincipalTeacherInput {
    pub division: String,
    pub teacher: String,
    /// The school year; by default the current one.
    pub year: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    PrincipalTeacherPayload,
    "The division's professeurs principaux.",
    principal_teachers: Vec<String>
);

/// A level given to one competence item.
#[derive(Debug, Clone, InputObject)]
pub struct CompetenceLevelInput {
    /// The item's id in the framework.
    pub competence: String,
    pub level: MasteryLevel,
}

/// A student's levels on an evaluation's competence items.
#[derive(Debug, Clone, InputObject)]
pub struct AssessCompetencesInput {
    /// The division or group whose gradebook holds the evaluation.
    pub class: String,
    /// The period; by default the current one.
    pub period: Option<String>,
    pub evaluation: String,
    pub student: String,
    pub levels: Vec<CompetenceLevelInput>,
    /// The school year; by default the current one.
    pub year: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    AssessCompetencesPayload,
    "The student's mark and levels on the evaluation, as they now stand.",
    mark: StudentMark
);

/// Which report card, for the commands on one student's.
#[derive(Debug, Clone, InputObject)]
pub struct ReportRef {
    pub division: String,
    pub period: String,
    pub student: String,
    /// The school year; by default the current one.
    pub year: Option<String>,
}

/// What an appreciation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum AppreciationTopic {
    /// A subject's, by one of its teachers (`subject` says which).
    Subject,
    /// The general appreciation, by a professeur principal.
    General,
    /// The vie scolaire appreciation, by a CPE.
    VieScolaire,
    /// The synthesis of the bilan de fin de cycle, by a professeur principal.
    CycleSynthesis,
}

/// An appreciation written or corrected (the earlier text stays in the history).
#[derive(Debug, Clone, InputObject)]
pub struct WriteAppreciationInput {
    pub report: ReportRef,
    pub topic: AppreciationTopic,
    /// The subject's code, for a subject's appreciation.
    pub subject: Option<String>,
    pub text: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    BulletinPayload,
    "The student's bulletin as it now stands.",
    bulletin: BulletinView
);

/// A teacher's positioning of a student in a subject, over the rule's; null goes back
/// to the rule's.
#[derive(Debug, Clone, InputObject)]
pub struct SetPositioningInput {
    pub report: ReportRef,
    pub subject: String,
    pub level: Option<MasteryLevel>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// The class council's decisions about a student; an empty list takes them back.
#[derive(Debug, Clone, InputObject)]
pub struct RecordDecisionsInput {
    pub report: ReportRef,
    pub decisions: Vec<CouncilDecision>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A component's level in the bilan de fin de cycle.
#[derive(Debug, Clone, InputObject)]
pub struct ComponentLevelInput {
    pub component: SocleComponent,
    pub level: MasteryLevel,
}

/// The bilan de fin de cycle of a student of a division that ends a cycle (6e, 3e).
#[derive(Debug, Clone, InputObject)]
pub struct AssessSocleInput {
    pub report: ReportRef,
    pub levels: Vec<ComponentLevelInput>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A division's class council of a period.
#[derive(Debug, Clone, InputObject)]
pub struct CouncilInput {
    pub division: String,
    pub period: String,
    /// The school year; by default the current one.
    pub year: Option<String>,
    /// Why, to reopen a closed council.
    pub reason: Option<String>,
    /// The day families see the bulletins from, to publish (today by default).
    pub on: Option<Date>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    ClassCouncilPayload,
    "The class council as it now stands.",
    council: ClassCouncilView
);

/// The team of a division read from the establishment's aggregate itself.
/// The establishment as its own aggregate has it (the write side): what commands
/// decide from, never a read model that could lag.
async fn establishment(c: &Command<'_>) -> ApiResult<Establishment> {
    let (_, establishment) = c
        .school
        .establishment
        .state(&c.school.establishment_id())
        .await?;
    Ok(establishment)
}

async fn team(c: &Command<'_>, year: &SchoolYear, division: &str, period: &str) -> ApiResult<Team> {
    let establishment = establishment(c).await?;
    crate::bulletin::period_of(&establishment, year, period)?;
    Team::of(&establishment, year, division, period).map_err(ApiError::refused)
}

async fn year_arg(c: &Command<'_>, year: Option<String>) -> ApiResult<SchoolYear> {
    crate::schema::common::year(&c.reader, year.as_deref()).await
}

/// Sends a command on the competence framework (the head's) and reads it back.
async fn on_framework(
    c: &Command<'_>,
    name: &str,
    command: FrameworkCommand,
    created: Option<String>,
) -> GqlResult<DefineCompetencePayload> {
    c.actor.may_administer("defining competences")?;
    let stream = c.school.establishment_id();
    let result = c
        .run(name, &c.school.framework, &stream, command, created)
        .await?;
    let framework = c.reader.fresh().framework().await?;
    Ok(DefineCompetencePayload {
        result,
        framework: Some(items(&framework)),
    })
}

/// Sends a command on a student's report and reads the bulletin back.
async fn on_report(
    c: &Command<'_>,
    name: &str,
    report: &ReportRef,
    command: impl FnOnce(Team, String) -> CouncilCommand,
) -> GqlResult<BulletinPayload> {
    let year = year_arg(c, report.year.clone()).await?;
    let student = c.local(crate::schema::node::NodeType::Student, &report.student)?;
    let team = team(c, &year, &report.division, &report.period).await?;
    let stream = School::council_id(&year, &report.division, &report.period);
    let result = c
        .run(
            name,
            &c.school.councils,
            &stream,
            command(team, student.clone()),
            None,
        )
        .await?;
    let facts = bulletin::assemble(&c.reader.fresh(), &year, &report.period, &student).await?;
    Ok(BulletinPayload {
        result,
        bulletin: Some(BulletinView::from_facts(&facts)),
    })
}

/// Sends a command on a whole class council and reads it back.
async fn on_council(
    c: &Command<'_>,
    name: &str,
    input: &CouncilInput,
    command: impl FnOnce(Team) -> CouncilCommand,
) -> GqlResult<ClassCouncilPayload> {
    let year = year_arg(c, input.year.clone()).await?;
    let team = team(c, &year, &input.division, &input.period).await?;
    let stream = School::council_id(&year, &input.division, &input.period);
    let result = c
        .run(name, &c.school.councils, &stream, command(team), None)
        .await?;
    Ok(ClassCouncilPayload {
        result,
        council: Some(ClassCouncilView {
            reader: c.reader.fresh(),
            year,
            division: input.division.clone(),
            period: input.period.clone(),
        }),
    })
}

/// The positioning the rule gives a student in a subject now, from the write side's
/// gradebooks of the division and the student's groups.
async fn computed_positioning(
    c: &Command<'_>,
    year: &SchoolYear,
    report: &ReportRef,
    student: &str,
    subject: &str,
) -> ApiResult<Option<Level>> {
    let (_, record) = c.school.students.state(student).await?;
    let establishment = establishment(c).await?;
    let period = bulletin::period_of(&establishment, year, &report.period)?;
    let (division, groups) = bulletin::classes_in(&record, year, &period)
        .unwrap_or_else(|| (report.division.clone(), Vec::new()));
    let mut assessed = Vec::new();
    for class in std::iter::once(&division).chain(&groups) {
        let stream = School::gradebook_id(year, class, &report.period);
        let (_, book) = c.school.gradebooks.state(&stream).await?;
        assessed.extend(assessments(&book, student, subject));
    }
    Ok(positioning(&assessed))
}

#[Object]
impl ReportCardsMutation {
    /// A new item of the competence framework. The head only.
    async fn define_competence(
        &self,
        ctx: &Context<'_>,
        input: DefineCompetenceInput,
    ) -> GqlResult<DefineCompetencePayload> {
        let c = Command::sent(ctx, input.options).await?;
        let command = FrameworkCommand::DefineItem {
            id: input.id.clone(),
            subject: input.subject,
            label: input.label,
            component: input.component.map(Into::into),
        };
        on_framework(&c, "define_competence", command, Some(input.id)).await
    }

    /// A competence item retired: evaluations that assessed it keep it. The head only.
    async fn retire_competence(
        &self,
        ctx: &Context<'_>,
        input: RetireCompetenceInput,
    ) -> GqlResult<DefineCompetencePayload> {
        let c = Command::sent(ctx, input.options).await?;
        let command = FrameworkCommand::RetireItem { id: input.id };
        on_framework(&c, "retire_competence", command, None).await
    }

    /// Makes a teacher a professeur principal of a division. The head only.
    async fn appoint_principal_teacher(
        &self,
        ctx: &Context<'_>,
        input: PrincipalTeacherInput,
    ) -> GqlResult<PrincipalTeacherPayload> {
        principal_teacher(ctx, input, true).await
    }

    /// A professeur principal no longer one. The head only.
    async fn dismiss_principal_teacher(
        &self,
        ctx: &Context<'_>,
        input: PrincipalTeacherInput,
    ) -> GqlResult<PrincipalTeacherPayload> {
        principal_teacher(ctx, input, false).await
    }

    /// A student's levels on an evaluation's competence items, by the evaluation's
    /// teacher; assessing again replaces them (the earlier ones stay in the history).
    async fn assess_competences(
        &self,
        ctx: &Context<'_>,
        input: AssessCompetencesInput,
    ) -> GqlResult<AssessCompetencesPayload> {
        let c = Command::sent(ctx, input.options).await?;
        let student = c.local(crate::schema::node::NodeType::Student, &input.student)?;
        let year = year_arg(&c, input.year.clone()).await?;
        let period = c.period(&year, input.period.clone()).await?;
        let stream = School::gradebook_id(&year, &input.class, &period);
        let mut levels = BTreeMap::new();
        for line in &input.levels {
            if levels
                .insert(line.competence.clone(), Level::from(line.level))
                .is_some()
            {
                return Err(ApiError::validation(
                    "input.levels",
                    Text::new(
                        format!("la compétence {} figure deux fois", line.competence),
                        format!("competence {} appears twice", line.competence),
                    ),
                )
                .into());
            }
        }
        let command = GradebookCommand::AssessCompetences {
            evaluation: input.evaluation.clone(),
            student: student.clone(),
            levels,
            by: c.actor.person.clone(),
        };
        let result = c
            .run(
                "assess_competences",
                &c.school.gradebooks,
                &stream,
                command,
                None,
            )
            .await?;
        let reader = c.reader.fresh();
        let mark = match reader.gradebook(&year, &input.class, &period).await? {
            Some(book) => crate::schema::grades::student_mark(
                &reader,
                &year,
                &book,
                &input.evaluation,
                &student,
            ),
            None => None,
        };
        Ok(AssessCompetencesPayload { result, mark })
    }

    /// Writes or corrects an appreciation: a subject's by its teachers, the general one
    /// by a professeur principal, vie scolaire by a CPE; within the LSU's lengths, until
    /// the council closes.
    async fn write_appreciation(
        &self,
        ctx: &Context<'_>,
        input: WriteAppreciationInput,
    ) -> GqlResult<BulletinPayload> {
        let c = Command::sent(ctx, input.options).await?;
        let topic = match (input.topic, input.subject) {
            (AppreciationTopic::Subject, Some(subject)) => Topic::Subject(subject),
            (AppreciationTopic::Subject, None) => {
                return Err(ApiError::validation(
                    "input.subject",
                    Text::new(
                        "indiquez la matière de l'appréciation",
                        "say which subject the appreciation is for",
                    ),
                )
                .into())
            }
            (AppreciationTopic::General, _) => Topic::General,
            (AppreciationTopic::VieScolaire, _) => Topic::VieScolaire,
            (AppreciationTopic::CycleSynthesis, _) => Topic::CycleSynthesis,
        };
        let by = c.actor.person.clone();
        on_report(&c, "write_appreciation", &input.report, |team, student| {
            CouncilCommand::Appreciate {
                student,
                topic,
                text: input.text,
                by,
                team,
            }
        })
        .await
    }

    /// A teacher's positioning of a student in their subject, over the rule's (kept
    /// beside it); null goes back to the rule's.
    async fn set_positioning(
        &self,
        ctx: &Context<'_>,
        input: SetPositioningInput,
    ) -> GqlResult<BulletinPayload> {
        let c = Command::sent(ctx, input.options).await?;
        let year = year_arg(&c, input.report.year.clone()).await?;
        let student = c.local(
            crate::schema::node::NodeType::Student,
            &input.report.student,
        )?;
        let computed =
            computed_positioning(&c, &year, &input.report, &student, &input.subject).await?;
        let by = c.actor.person.clone();
        let (subject, level) = (input.subject, input.level.map(Level::from));
        on_report(&c, "set_positioning", &input.report, |team, student| {
            CouncilCommand::Position {
                student,
                subject,
                level,
                computed,
                by,
                team,
            }
        })
        .await
    }

    /// The class council's decisions about a student, by the head or a deputy.
    async fn record_council_decisions(
        &self,
        ctx: &Context<'_>,
        input: RecordDecisionsInput,
    ) -> GqlResult<BulletinPayload> {
        let c = Command::sent(ctx, input.options).await?;
        let by = c.actor.person.clone();
        let decisions = input.decisions.iter().map(|d| (*d).into()).collect();
        on_report(
            &c,
            "record_council_decisions",
            &input.report,
            |team, student| CouncilCommand::Decide {
                student,
                decisions,
                by,
                team,
            },
        )
        .await
    }

    /// The bilan de fin de cycle (eight components) of a student of a 6e or a 3e, by a
    /// professeur principal or the head.
    async fn assess_socle(
        &self,
        ctx: &Context<'_>,
        input: AssessSocleInput,
    ) -> GqlResult<BulletinPayload> {
        let c = Command::sent(ctx, input.options).await?;
        let year = year_arg(&c, input.report.year.clone()).await?;
        let establishment = establishment(&c).await?;
        let level = establishment
            .year(&year)
            .ok()
            .and_then(|y| y.divisions.get(&input.report.division))
            .map(|d| d.level.clone())
            .unwrap_or_default();
        let Some(cycle) = Cycle::ended_by(&level) else {
            return Err(ApiError::validation(
                "input.report.division",
                Text::new(
                    format!(
                        "la division {} ne termine pas un cycle (6e ou 3e)",
                        input.report.division
                    ),
                    format!(
                        "division {} does not end a cycle (6e or 3e)",
                        input.report.division
                    ),
                ),
            )
            .into());
        };
        let levels = input
            .levels
            .iter()
            .map(|l| (l.component.into(), l.level.into()))
            .collect();
        let by = c.actor.person.clone();
        on_report(&c, "assess_socle", &input.report, |team, student| {
            CouncilCommand::AssessSocle {
                student,
                cycle,
                levels,
                by,
                team,
            }
        })
        .await
    }

    /// The class council has met: appreciations, positionings and decisions are locked.
    /// The head only.
    async fn close_class_council(
        &self,
        ctx: &Context<'_>,
        input: CouncilInput,
    ) -> GqlResult<ClassCouncilPayload> {
        let c = Command::sent(ctx, input.options).await?;
        let by = c.actor.person.clone();
        on_council(&c, "close_class_council", &input, |team| {
            CouncilCommand::Close { by, team }
        })
        .await
    }

    /// Reopens a closed class council, saying why (its bulletins are unpublished until
    /// published again). The head only.
    async fn reopen_class_council(
        &self,
        ctx: &Context<'_>,
        input: CouncilInput,
    ) -> GqlResult<ClassCouncilPayload> {
        let c = Command::sent(ctx, input.options).await?;
        let by = c.actor.person.clone();
        let reason = input.reason.clone().unwrap_or_default();
        on_council(&c, "reopen_class_council", &input, |team| {
            CouncilCommand::Reopen { by, reason, team }
        })
        .await
    }

    /// Publishes a closed council's bulletins to the students and their families. The
    /// head only.
    async fn publish_bulletins(
        &self,
        ctx: &Context<'_>,
        input: CouncilInput,
    ) -> GqlResult<ClassCouncilPayload> {
        let c = Command::sent(ctx, input.options).await?;
        let by = c.actor.person.clone();
        let on = match input.on {
            Some(d) => d.0,
            None => today(&c.reader, &establishment(&c).await?),
        };
        on_council(&c, "publish_bulletins", &input, |team| {
            CouncilCommand::Publish { on, by, team }
        })
        .await
    }
}

async fn principal_teacher(
    ctx: &Context<'_>,
    input: PrincipalTeacherInput,
    appoint: bool,
) -> GqlResult<PrincipalTeacherPayload> {
    let c = Command::sent(ctx, input.options).await?;
    c.actor.may_administer("appointing principal teachers")?;
    let year = year_arg(&c, input.year).await?;
    let (division, teacher) = (input.division, input.teacher);
    let command = if appoint {
        EstablishmentCommand::AppointPrincipalTeacher {
            year: year.clone(),
            division: division.clone(),
            teacher,
        }
    } else {
        EstablishmentCommand::DismissPrincipalTeacher {
            year: year.clone(),
            division: division.clone(),
            teacher,
        }
    };
    let name = if appoint {
        "appoint_principal_teacher"
    } else {
        "dismiss_principal_teacher"
    };
    let result = c.on_establishment(name, command, None).await?;
    let establishment = establishment(&c).await?;
    let teachers = establishment
        .year(&year)
        .ok()
        .and_then(|y| y.principal_teachers.get(&division))
        .map(|t| t.iter().cloned().collect())
        .unwrap_or_default();
    Ok(PrincipalTeacherPayload {
        result,
        principal_teachers: Some(teachers),
    })
}
