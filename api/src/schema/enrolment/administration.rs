//! The administration's commands: what the head and the secretariat set up once a year
//! or a few times a year, through the API as through the CLI and the imports, with the
//! same domain rules: open a school year with its periods and calendar, define subjects,
//! create divisions and groups, hire staff and change their roles, assign and end the
//! teachers' services, and run the year-end rollover (dry run first).
//!
//! A command that touches two aggregates (a year is opened in the establishment and in
//! the timetable; a group is created in the establishment and declared to the year's
//! timetable; the rollover changes the establishment and every student) decides every
//! part on the current states before writing any: a refusal of any part writes nothing.
//! The parts are then written one by one, each with a command id derived from the
//! mutation's, so that a retry with the same `commandId` after an interruption
//! completes what was left and repeats nothing.

use carnet_domain::calendar::{Closure, SchoolCalendar, WeekLabel as DomainWeekLabel};
use carnet_domain::enrolment::{ClassRef, DivisionSpec, GroupSpec, Period, Service, YearSpec};
use carnet_domain::enrolment::{Decision, Rollover};
use carnet_store::CommandError;
use cqrs_es::event_sink::EventSink;

use crate::schema::node::NodeType;
use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct AdministrationMutation;

// ---------------------------------------------------------------- inputs

/// A period (trimestre, semestre) of a school year: the unit of report cards.
#[derive(Debug, Clone, InputObject)]
pub struct PeriodInput {
    /// E.g. `T1`.
    pub id: String,
    /// E.g. `1er trimestre`.
    pub name: String,
    pub from: Date,
    pub to: Date,
}

/// Holidays of the zone or a closed day (pont, exams), first and last day included.
#[derive(Debug, Clone, InputObject)]
pub struct ClosureInput {
    /// E.g. `Vacances de la Toussaint`.
    pub name: String,
    pub from: Date,
    pub to: Date,
}

/// Week A or week B of the alternation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "AlternatingWeek")]
pub enum AlternatingWeek {
    A,
    B,
}

/// A week whose label the administration sets by hand; the weeks after it follow in
/// turn (holiday weeks do not count).
#[derive(Debug, Clone, InputObject)]
pub struct WeekLabelInput {
    /// The Monday of the week.
    pub monday: Date,
    pub label: AlternatingWeek,
}

/// The school calendar of a year: the weekdays with lessons, the holidays of the zone
/// and the closed days, and the A/B weeks.
#[derive(Debug, Clone, Default, InputObject)]
pub struct CalendarInput {
    /// Weekdays with lessons; Monday to Friday by default.
    pub weekdays: Option<Vec<Day>>,
    /// The holidays of the establishment's zone (A, B or C, as the ministry's calendar
    /// gives them) and its closed days.
    #[graphql(default)]
    pub closures: Vec<ClosureInput>,
    /// Weeks set by hand; by default the first week is A and the weeks alternate.
    #[graphql(default)]
    pub week_labels: Vec<WeekLabelInput>,
}

/// Opens a school year: its dates and periods in the establishment, its calendar in the
/// timetable.
#[derive(Debug, Clone, InputObject)]
pub struct OpenSchoolYearInput {
    /// E.g. `2027-2028`.
    pub year: String,
    /// Jour de la rentrée.
    pub first_day: Date,
    /// The last day of lessons.
    pub last_day: Date,
    pub periods: Vec<PeriodInput>,
    #[graphql(default)]
    pub calendar: CalendarInput,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(Debug, Clone, InputObject)]
pub struct DefineSubjectInput {
    /// The establishment's code, e.g. `MATHS`: what courses, evaluations and every
    /// `Subject.code` use.
    pub code: String,
    /// E.g. `Mathématiques`.
    pub label: String,
    /// The national code (BCN, six digits, e.g. `061300`), what STS-Web and the LSU
    /// know the subject by.
    pub national_code: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(Debug, Clone, InputObject)]
pub struct CreateDivisionInput {
    /// The school year; the current one by default.
    pub year: Option<String>,
    /// E.g. `4A`.
    pub id: String,
    pub name: String,
    /// The level (niveau), e.g. `4e`, `2nde`: what the rollover moves students up.
    pub level: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(Debug, Clone, InputObject)]
pub struct CreateGroupInput {
    /// The school year; the current one by default.
    pub year: Option<String>,
    /// E.g. `4A-G1`.
    pub id: String,
    pub name: String,
    /// The divisions the group's students come from.
    pub divisions: Vec<String>,
    /// Groups of one partition are disjoint (the two halves of a class); by default the
    /// group is a partition of its own.
    pub partition: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// The roles of the staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum StaffRole {
    Teacher,
    /// Conseiller principal d'éducation.
    Cpe,
    /// Assistant d'éducation.
    Aed,
    Secretariat,
    /// The head and the deputies.
    Principal,
}

impl From<StaffRole> for Role {
    fn from(role: StaffRole) -> Self {
        match role {
            StaffRole::Teacher => Role::Teacher,
            StaffRole::Cpe => Role::Cpe,
            StaffRole::Aed => Role::Aed,
            StaffRole::Secretariat => Role::Secretariat,
            StaffRole::Principal => Role::Principal,
        }
    }
}

impl From<Role> for StaffRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Teacher => StaffRole::Teacher,
            Role::Cpe => StaffRole::Cpe,
            Role::Aed => StaffRole::Aed,
            Role::Secretariat => StaffRole::Secretariat,
            Role::Principal => StaffRole::Principal,
        }
    }
}

#[derive(Debug, Clone, InputObject)]
pub struct HireStaffInput {
    /// The person's id in Carnet (the ENT and STS identifiers are linked to it).
    pub person: String,
    /// Their name as the establishment writes it (personal data).
    pub name: String,
    pub roles: Vec<StaffRole>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(Debug, Clone, InputObject)]
pub struct ChangeStaffRolesInput {
    pub person: String,
    /// Every role they hold from now on.
    pub roles: Vec<StaffRole>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(Debug, Clone, InputObject)]
pub struct StaffMemberLeavesInput {
    pub person: String,
    pub last_day: Date,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A teacher's service: a subject taught to a division or a group in a school year.
#[derive(Debug, Clone, InputObject)]
pub struct ServiceInput {
    /// The school year; the current one by default.
    pub year: Option<String>,
    pub teacher: String,
    /// The subject, by its short name (`MATHS`) or its national code (`061300`).
    pub subject: String,
    /// A division or a group of the year.
    pub class: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// What becomes of one student at the end of the year.
#[derive(Debug, Clone, InputObject)]
pub struct RolloverDecisionInput {
    pub student: String,
    /// The division of the next year the student goes on to (or repeats in); absent
    /// when the student leaves.
    pub division: Option<String>,
    #[graphql(default)]
    pub groups: Vec<String>,
    /// Why the student leaves (lycée, move...): given instead of `division`.
    pub leaves: Option<String>,
}

#[derive(Debug, Clone, InputObject)]
pub struct DivisionInput {
    pub id: String,
    pub name: String,
    pub level: String,
}

#[derive(Debug, Clone, InputObject)]
pub struct GroupInput {
    pub id: String,
    pub name: String,
    pub divisions: Vec<String>,
    pub partition: Option<String>,
}

/// The year-end rollover (passage à l'année suivante): the next year with its
/// divisions and groups, and a decision for every student of the year that ends.
#[derive(Debug, Clone, InputObject)]
pub struct RollOverYearInput {
    /// The year that ends, e.g. `2026-2027`.
    pub from: String,
    /// The next year, e.g. `2027-2028`, its dates and periods.
    pub year: String,
    pub first_day: Date,
    pub last_day: Date,
    pub periods: Vec<PeriodInput>,
    /// The next year's calendar; when given, the timetable of the next year is opened
    /// with it.
    pub calendar: Option<CalendarInput>,
    pub divisions: Vec<DivisionInput>,
    #[graphql(default)]
    pub groups: Vec<GroupInput>,
    /// One for every student of the year that ends: none may be forgotten.
    pub decisions: Vec<RolloverDecisionInput>,
    /// Checks everything and writes nothing (the default): the answer lists every
    /// problem. Run again with `dryRun: false` to carry it out.
    #[graphql(default = true)]
    pub dry_run: bool,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

// ---------------------------------------------------------------- outputs

/// A period of a school year.
#[derive(Debug, Clone, SimpleObject)]
pub struct YearPeriod {
    pub id: String,
    pub name: String,
    pub from: Date,
    pub to: Date,
}

/// A school year as the establishment knows it.
#[derive(Debug, Clone, SimpleObject)]
pub struct SchoolYearView {
    pub id: String,
    pub first_day: Date,
    pub last_day: Date,
    pub periods: Vec<YearPeriod>,
}

/// A member of staff.
#[derive(Debug, Clone, SimpleObject)]
pub struct StaffMemberView {
    pub id: String,
    /// Null once their personal data was erased.
    pub name: Option<String>,
    pub roles: Vec<StaffRole>,
    /// Their last day, once they left.
    pub left_on: Option<Date>,
}

payload!(OpenSchoolYearPayload, "The school year as now opened.", school_year: SchoolYearView);
payload!(
    DefineSubjectPayload,
    "The subject as now defined.",
    subject: super::lists::SubjectView
);
payload!(CreateDivisionPayload, "The division, as a class of the year.", class: ClassView);
payload!(CreateGroupPayload, "The group, as a class of the year.", class: ClassView);
payload!(StaffMemberPayload, "The member of staff as they now are.", staff_member: StaffMemberView);
payload!(ServicePayload, "The teacher, with their services.", teacher: TeacherView);

/// What the rollover found or did.
#[derive(SimpleObject)]
pub struct RollOverYearPayload {
    /// True when nothing was written (a dry run, or problems were found).
    pub dry_run: bool,
    /// Every problem found; nothing is written while there is one.
    pub problems: Vec<String>,
    /// Students going on to a division of the next year (repeating included).
    pub continuing: i32,
    pub leaving: i32,
    /// Commands carried out (0 on a dry run); a run again records nothing more.
    pub commands_applied: i32,
    /// Of them, retries of commands already carried out.
    pub commands_replayed: i32,
    /// The next year as the establishment knows it, once carried out.
    pub school_year: Option<SchoolYearView>,
}

// ---------------------------------------------------------------- helpers

fn year_spec(
    year: &str,
    first_day: NaiveDate,
    last_day: NaiveDate,
    periods: Vec<PeriodInput>,
) -> ApiResult<YearSpec> {
    let year = school_year_arg("year", year)?;
    Ok(YearSpec {
        year,
        first_day,
        last_day,
        periods: periods
            .into_iter()
            .map(|p| Period {
                id: p.id,
                name: p.name,
                from: p.from.0,
                to: p.to.0,
            })
            .collect(),
    })
}

fn calendar(first_day: NaiveDate, last_day: NaiveDate, input: CalendarInput) -> SchoolCalendar {
    let mut calendar = SchoolCalendar {
        first_day,
        last_day,
        weekdays: Vec::new(),
        closures: Vec::new(),
        week_overrides: BTreeMap::new(),
    };
    calendar.weekdays = match input.weekdays {
        Some(days) => days.into_iter().map(Weekday::from).collect(),
        None => vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ],
    };
    calendar.closures = input
        .closures
        .into_iter()
        .map(|c| Closure {
            name: c.name,
            from: c.from.0,
            to: c.to.0,
        })
        .collect();
    calendar.week_overrides = input
        .week_labels
        .into_iter()
        .map(|w| {
            let label = match w.label {
                AlternatingWeek::A => DomainWeekLabel::A,
                AlternatingWeek::B => DomainWeekLabel::B,
            };
            (w.monday.0, label)
        })
        .collect();
    calendar
}

/// Decides `command` on the current state of `stream` without writing anything: the
/// domain's refusal, if any.
async fn decide<A>(bus: &CommandBus<A>, stream: &str, command: A::Command) -> ApiResult<bool>
where
    A: Aggregate<Services = ()> + Clone + std::fmt::Debug + 'static,
    A::Error: carnet_domain::refusal::Refusal,
    A::Command: Serialize + Clone,
{
    let (_, mut state) = bus.state(stream).await?;
    let sink = EventSink::<A>::default();
    state
        .handle(command, &(), &sink)
        .await
        .map_err(|refusal| ApiError::from(CommandError::Rejected(refusal)))?;
    Ok(!sink.collect().await.is_empty())
}

fn school_year_view(establishment: &Establishment, year: &SchoolYear) -> Option<SchoolYearView> {
    establishment.years.get(year).map(|y| SchoolYearView {
        id: year.to_string(),
        first_day: y.first_day.into(),
        last_day: y.last_day.into(),
        periods: y
            .periods
            .iter()
            .map(|p| YearPeriod {
                id: p.id.clone(),
                name: p.name.clone(),
                from: p.from.into(),
                to: p.to.into(),
            })
            .collect(),
    })
}

/// Whether the timetable of `year` was opened (with its calendar).
async fn timetable_open(c: &Command<'_>, year: &SchoolYear) -> ApiResult<bool> {
    let (_, timetable) = c.school.timetable.state(year.as_str()).await?;
    Ok(timetable.calendar().is_some())
}

fn roles(roles: Vec<StaffRole>) -> BTreeSet<Role> {
    roles.into_iter().map(Role::from).collect()
}

impl Command<'_> {
    /// The establishment's stream, after the command, read back.
    async fn establishment_now(&self) -> ApiResult<Arc<Establishment>> {
        self.reader.fresh().establishment().await
    }

    async fn staff_member(&self, person: &str) -> ApiResult<Option<StaffMemberView>> {
        let establishment = self.establishment_now().await?;
        let Some(member) = establishment.staff.get(person) else {
            return Ok(None);
        };
        Ok(Some(StaffMemberView {
            id: person.to_string(),
            name: self.reader.open(&member.name).await?,
            roles: member.roles.iter().copied().map(StaffRole::from).collect(),
            left_on: member.left_on.map(Date),
        }))
    }

    async fn class_view(&self, year: SchoolYear, id: &str) -> ApiResult<Option<ClassView>> {
        let establishment = self.establishment_now().await?;
        let Some(y) = establishment.years.get(&year) else {
            return Ok(None);
        };
        let (name, is_group) = match (y.divisions.get(id), y.groups.get(id)) {
            (Some(d), _) => (d.name.clone(), false),
            (None, Some(g)) => (g.name.clone(), true),
            (None, None) => return Ok(None),
        };
        Ok(Some(ClassView {
            reader: self.reader.fresh(),
            actor: self.actor.clone(),
            year,
            id: id.to_string(),
            name,
            is_group,
        }))
    }

    /// The service the input names, its subject and class resolved in the year.
    async fn service(&self, input: &ServiceInput) -> ApiResult<(SchoolYear, Service)> {
        let year = crate::schema::common::year(&self.reader, input.year.as_deref()).await?;
        let establishment = self.reader.establishment().await?;
        let subject = establishment
            .subjects
            .iter()
            .find(|(code, s)| code.as_str() == input.subject.trim() || s.short == input.subject)
            .map(|(code, _)| code.clone())
            .ok_or_else(|| {
                ApiError::validation(
                    "input.subject",
                    Text::new(
                        format!(
                            "`{}` n'est pas une matière de cet établissement",
                            input.subject
                        ),
                        format!("`{}` is no subject of this establishment", input.subject),
                    ),
                )
            })?;
        let y = establishment.years.get(&year).ok_or_else(|| {
            ApiError::validation(
                "input.year",
                Text::new(
                    format!("l'année scolaire {year} n'est pas ouverte dans cet établissement"),
                    format!("{year} is not open here"),
                ),
            )
        })?;
        let class = if y.divisions.contains_key(&input.class) {
            ClassRef::Division(input.class.clone())
        } else if y.groups.contains_key(&input.class) {
            ClassRef::Group(input.class.clone())
        } else {
            return Err(ApiError::validation(
                "input.class",
                Text::new(
                    format!(
                        "`{}` n'est ni une division ni un groupe de {year}",
                        input.class
                    ),
                    format!("`{}` is no division or group of {year}", input.class),
                ),
            ));
        };
        Ok((
            year,
            Service {
                teacher: input.teacher.clone(),
                subject,
                class,
            },
        ))
    }

    async fn teacher_view(&self, teacher: &str) -> ApiResult<Option<TeacherView>> {
        let establishment = self.establishment_now().await?;
        let Some(member) = establishment.staff.get(teacher) else {
            return Ok(None);
        };
        Ok(Some(TeacherView {
            reader: self.reader.fresh(),
            actor: self.actor.clone(),
            id: teacher.to_string(),
            name: self.reader.open(&member.name).await?,
        }))
    }
}

// ---------------------------------------------------------------- mutations

#[Object]
impl AdministrationMutation {
    /// Opens a school year: its dates and periods, and its calendar (holidays of the
    /// zone, closed days, A/B weeks) in the year's timetable. The head only.
    async fn open_school_year(
        &self,
        ctx: &Context<'_>,
        input: OpenSchoolYearInput,
    ) -> GqlResult<OpenSchoolYearPayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_administer("opening a school year")?;
        let spec = year_spec(
            &input.year,
            input.first_day.0,
            input.last_day.0,
            input.periods,
        )?;
        let establishment = c.reader.establishment().await?;
        let open_year = EstablishmentCommand::OpenSchoolYear(spec.clone());
        let open_timetable = TimetableCommand::OpenTimetable {
            year: spec.year.to_string(),
            time_zone: establishment.time_zone,
            calendar: calendar(spec.first_day, spec.last_day, input.calendar),
        };
        // Both parts are decided before either is written (a retry finds the timetable
        // opened by its first run: that part then answers as it did).
        if !timetable_open(&c, &spec.year).await? {
            decide(
                &c.school.timetable,
                spec.year.as_str(),
                open_timetable.clone(),
            )
            .await?;
        }
        let result = c
            .on_establishment("open_school_year", open_year, Some(spec.year.to_string()))
            .await?;
        c.part("timetable")
            .run(
                "open_school_year",
                &c.school.timetable,
                spec.year.as_str(),
                open_timetable,
                None,
            )
            .await?;
        let school_year = school_year_view(&*c.establishment_now().await?, &spec.year);
        Ok(OpenSchoolYearPayload {
            result,
            school_year,
        })
    }

    /// A subject of the establishment: its code, label and national code. The head only.
    async fn define_subject(
        &self,
        ctx: &Context<'_>,
        input: DefineSubjectInput,
    ) -> GqlResult<DefineSubjectPayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_administer("defining a subject")?;
        let code =
            carnet_domain::enrolment::SubjectCode::parse(&input.national_code).map_err(|e| {
                ApiError::validation(
                    "input.nationalCode",
                    Text::new(
                        format!(
                            "`{}` n'est pas un code matière de la BCN : il a six chiffres, par \
                             ex. 061300",
                            e.0
                        ),
                        e.to_string(),
                    ),
                )
            })?;
        let command = EstablishmentCommand::DefineSubject {
            code: code.clone(),
            short: input.code,
            name: input.label,
        };
        let result = c
            .on_establishment("define_subject", command, Some(code.to_string()))
            .await?;
        let subject =
            c.establishment_now()
                .await?
                .subjects
                .get(&code)
                .map(|s| super::lists::SubjectView {
                    code: s.short.clone(),
                    label: s.name.clone(),
                    national_code: Some(code.to_string()),
                });
        Ok(DefineSubjectPayload { result, subject })
    }

    /// A division (classe) of a school year. The secretariat or the head.
    async fn create_division(
        &self,
        ctx: &Context<'_>,
        input: CreateDivisionInput,
    ) -> GqlResult<CreateDivisionPayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_enrol()?;
        let year = crate::schema::common::year(&c.reader, input.year.as_deref()).await?;
        let command = EstablishmentCommand::CreateDivision {
            year: year.clone(),
            division: DivisionSpec {
                id: input.id.clone(),
                name: input.name,
                level: input.level,
            },
        };
        let result = c
            .on_establishment("create_division", command, Some(input.id.clone()))
            .await?;
        let class = c.class_view(year, &input.id).await?;
        Ok(CreateDivisionPayload { result, class })
    }

    /// A group (half-class, language group, option) drawn from divisions; it is also
    /// declared to the year's timetable when that is open. The secretariat or the head.
    async fn create_group(
        &self,
        ctx: &Context<'_>,
        input: CreateGroupInput,
    ) -> GqlResult<CreateGroupPayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_enrol()?;
        let year = crate::schema::common::year(&c.reader, input.year.as_deref()).await?;
        let partition = input.partition.unwrap_or_else(|| input.id.clone());
        let create = EstablishmentCommand::CreateGroup {
            year: year.clone(),
            group: GroupSpec {
                id: input.id.clone(),
                name: input.name,
                divisions: input.divisions.clone(),
                partition: partition.clone(),
            },
        };
        let declare = TimetableCommand::DeclareGroup {
            group: input.id.clone(),
            divisions: input.divisions,
            partition,
        };
        let timetable_open = timetable_open(&c, &year).await?;
        if timetable_open {
            decide(&c.school.timetable, year.as_str(), declare.clone()).await?;
        }
        let result = c
            .on_establishment("create_group", create, Some(input.id.clone()))
            .await?;
        if timetable_open {
            c.part("timetable")
                .run(
                    "create_group",
                    &c.school.timetable,
                    year.as_str(),
                    declare,
                    None,
                )
                .await?;
        }
        let class = c.class_view(year, &input.id).await?;
        Ok(CreateGroupPayload { result, class })
    }

    /// A new member of staff with their roles. The head only.
    async fn hire_staff(
        &self,
        ctx: &Context<'_>,
        input: HireStaffInput,
    ) -> GqlResult<StaffMemberPayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_administer("hiring staff")?;
        let command = EstablishmentCommand::AddStaffMember {
            person: input.person.clone(),
            name: input.name,
            roles: roles(input.roles),
        };
        let result = c
            .on_establishment("hire_staff", command, Some(input.person.clone()))
            .await?;
        let staff_member = c.staff_member(&input.person).await?;
        Ok(StaffMemberPayload {
            result,
            staff_member,
        })
    }

    /// Every role a member of staff holds from now on. The head only.
    async fn change_staff_roles(
        &self,
        ctx: &Context<'_>,
        input: ChangeStaffRolesInput,
    ) -> GqlResult<StaffMemberPayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_administer("changing staff roles")?;
        let command = EstablishmentCommand::ChangeStaffRoles {
            person: input.person.clone(),
            roles: roles(input.roles),
        };
        let result = c
            .on_establishment("change_staff_roles", command, None)
            .await?;
        let staff_member = c.staff_member(&input.person).await?;
        Ok(StaffMemberPayload {
            result,
            staff_member,
        })
    }

    /// A member of staff's last day in the establishment. The head only.
    async fn staff_member_leaves(
        &self,
        ctx: &Context<'_>,
        input: StaffMemberLeavesInput,
    ) -> GqlResult<StaffMemberPayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_administer("recording a departure of staff")?;
        let command = EstablishmentCommand::StaffMemberLeaves {
            person: input.person.clone(),
            last_day: input.last_day.0,
        };
        let result = c
            .on_establishment("staff_member_leaves", command, None)
            .await?;
        let staff_member = c.staff_member(&input.person).await?;
        Ok(StaffMemberPayload {
            result,
            staff_member,
        })
    }

    /// A teacher takes a subject in a division or group for the year. The head only.
    async fn assign_service(
        &self,
        ctx: &Context<'_>,
        input: ServiceInput,
    ) -> GqlResult<ServicePayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.teacher = c.local(NodeType::Teacher, &input.teacher)?;
        c.actor.may_administer("assigning services")?;
        let (year, service) = c.service(&input).await?;
        let result = c
            .on_establishment(
                "assign_service",
                EstablishmentCommand::AssignService { year, service },
                None,
            )
            .await?;
        let teacher = c.teacher_view(&input.teacher).await?;
        Ok(ServicePayload { result, teacher })
    }

    /// A teacher's service ends (the subject or class goes to someone else). The head
    /// only.
    async fn end_service(
        &self,
        ctx: &Context<'_>,
        input: ServiceInput,
    ) -> GqlResult<ServicePayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.teacher = c.local(NodeType::Teacher, &input.teacher)?;
        c.actor.may_administer("ending services")?;
        let (year, service) = c.service(&input).await?;
        let result = c
            .on_establishment(
                "end_service",
                EstablishmentCommand::RemoveService { year, service },
                None,
            )
            .await?;
        let teacher = c.teacher_view(&input.teacher).await?;
        Ok(ServicePayload { result, teacher })
    }

    /// The year-end rollover: checks the plan (dry run, the default) or carries it
    /// out: the next year with its divisions and groups, every student on to a division
    /// or leaving. Safe to run again: what was done is not done twice. The head only.
    async fn roll_over_year(
        &self,
        ctx: &Context<'_>,
        input: RollOverYearInput,
    ) -> GqlResult<RollOverYearPayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_administer("the year-end rollover")?;
        let from = school_year_arg("input.from", &input.from)?;
        let next = year_spec(
            &input.year,
            input.first_day.0,
            input.last_day.0,
            input.periods,
        )?;
        let establishment = c.reader.establishment().await?;
        let ending = establishment.years.get(&from).ok_or_else(|| {
            ApiError::validation(
                "input.from",
                Text::new(
                    format!("l'année scolaire {from} n'est pas ouverte dans cet établissement"),
                    format!("{from} is not open here"),
                ),
            )
        })?;
        let mut problems = Vec::new();
        let mut decisions = BTreeMap::new();
        for (i, d) in input.decisions.into_iter().enumerate() {
            let decision = match (d.division, d.leaves) {
                (Some(division), None) => Decision::Continue {
                    division,
                    groups: d.groups,
                },
                (None, Some(reason)) => Decision::Leave { reason },
                _ => {
                    problems.push(
                        Text::new(
                            format!(
                                "input.decisions[{i}] ({}) : indiquez soit `division`, soit \
                                 `leaves`",
                                d.student
                            ),
                            format!(
                                "input.decisions[{i}] ({}): give either `division` or `leaves`",
                                d.student
                            ),
                        )
                        .current()
                        .to_string(),
                    );
                    continue;
                }
            };
            if decisions.insert(d.student.clone(), decision).is_some() {
                problems.push(
                    Text::new(
                        format!("{} : deux décisions", d.student),
                        format!("{}: two decisions", d.student),
                    )
                    .current()
                    .to_string(),
                );
            }
        }
        // Every student of the year that ends must have a decision.
        for division in ending.divisions.keys() {
            let students = enrolment::roster_on(
                &c.reader.pool,
                &c.reader.tenant,
                &from,
                division,
                ending.last_day,
            )
            .await?;
            for student in students {
                if !decisions.contains_key(&student) {
                    problems.push(
                        Text::new(
                            format!("{student} ({division}) : aucune décision"),
                            format!("{student} ({division}): no decision"),
                        )
                        .current()
                        .to_string(),
                    );
                }
            }
        }
        let plan = Rollover {
            from: from.clone(),
            from_last_day: ending.last_day,
            next: next.clone(),
            divisions: input
                .divisions
                .into_iter()
                .map(|d| DivisionSpec {
                    id: d.id,
                    name: d.name,
                    level: d.level,
                })
                .collect(),
            groups: input
                .groups
                .into_iter()
                .map(|g| GroupSpec {
                    partition: g.partition.unwrap_or_else(|| g.id.clone()),
                    id: g.id,
                    name: g.name,
                    divisions: g.divisions,
                })
                .collect(),
            decisions,
        };
        problems.extend(
            plan.check()
                .iter()
                .map(|e| ApiError::from(CommandError::Rejected(e.clone())).message()),
        );
        // Each part decided on the current states, nothing written yet.
        let refused = |e: ApiError| e.message();
        match decide(
            &c.school.establishment,
            &c.school.establishment_id(),
            plan.establishment_command(),
        )
        .await
        {
            Ok(_) => {}
            Err(e) => problems.push(refused(e)),
        }
        // A timetable already opened (by an earlier run) is left as it is.
        let already_open = timetable_open(&c, &next.year).await?;
        let open_timetable =
            input
                .calendar
                .filter(|_| !already_open)
                .map(|cal| TimetableCommand::OpenTimetable {
                    year: next.year.to_string(),
                    time_zone: establishment.time_zone,
                    calendar: calendar(next.first_day, next.last_day, cal),
                });
        if let Some(command) = &open_timetable {
            if let Err(e) = decide(&c.school.timetable, next.year.as_str(), command.clone()).await {
                problems.push(refused(e));
            }
        }
        let student_commands = plan.student_commands();
        for (student, command) in &student_commands {
            if let Err(e) = decide(&c.school.students, student, command.clone()).await {
                let refusal = refused(e);
                problems.push(
                    Text::new(
                        format!("{student} : {refusal}"),
                        format!("{student}: {refusal}"),
                    )
                    .current()
                    .to_string(),
                );
            }
        }
        let continuing = plan
            .decisions
            .values()
            .filter(|d| matches!(d, Decision::Continue { .. }))
            .count();
        let mut payload = RollOverYearPayload {
            dry_run: true,
            problems,
            continuing: i32::try_from(continuing).unwrap_or(i32::MAX),
            leaving: i32::try_from(plan.decisions.len() - continuing).unwrap_or(i32::MAX),
            commands_applied: 0,
            commands_replayed: 0,
            school_year: None,
        };
        if input.dry_run || !payload.problems.is_empty() {
            return Ok(payload);
        }
        let mut outcomes = vec![
            c.on_establishment("roll_over_year", plan.establishment_command(), None)
                .await?,
        ];
        if let Some(command) = open_timetable {
            outcomes.push(
                c.part("timetable")
                    .run(
                        "roll_over_year",
                        &c.school.timetable,
                        next.year.as_str(),
                        command,
                        None,
                    )
                    .await?,
            );
        }
        for (student, command) in student_commands {
            outcomes.push(
                c.part(&format!("student/{student}"))
                    .on_student("roll_over_year", &student, command)
                    .await?,
            );
        }
        payload.dry_run = false;
        payload.commands_applied =
            i32::try_from(outcomes.iter().filter(|o| o.changed).count()).unwrap_or(i32::MAX);
        payload.commands_replayed =
            i32::try_from(outcomes.iter().filter(|o| o.replayed).count()).unwrap_or(i32::MAX);
        payload.school_year = school_year_view(&*c.establishment_now().await?, &next.year);
        Ok(payload)
    }
}
