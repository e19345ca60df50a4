//! The mutations that set the school up rather than run its days: admissions and
//! departures, guardians, the timetable's courses and one-off lessons, the resources
//! that can be booked. Same rules as the daily ones (`mutation.rs`): one domain command
//! each, `commandId`/`Idempotency-Key`, `expectedVersion`.
//!
//! The aggregates check their own rules; what they cannot see (another aggregate's
//! divisions, groups and staff) is checked here against the establishment, so a typo
//! in a division or a teacher's id is a VALIDATION error naming the field, not a course
//! nobody attends.

use std::collections::BTreeSet;

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use carnet_domain::enrolment::{
    Establishment, EstablishmentCommand, ExternalId, Identity, Ine, PersonKind, Role, SchoolYear,
    StudentCommand,
};
use carnet_domain::reservations::{ReservationCommand, ResourceKind};
use carnet_domain::timetable::{CourseSpec, ExtraLesson, TimetableCommand, WeekPattern};
use carnet_projections::enrolment;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use uuid::Uuid;

use super::mutation::{Command, CommandResult, RightsInput};
use crate::error::{ApiError, ApiResult};

type GqlResult<T> = async_graphql::Result<T>;

#[derive(Debug, Default)]
pub struct SetupMutation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum Day {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
}

impl From<Day> for Weekday {
    fn from(d: Day) -> Self {
        match d {
            Day::Monday => Weekday::Mon,
            Day::Tuesday => Weekday::Tue,
            Day::Wednesday => Weekday::Wed,
            Day::Thursday => Weekday::Thu,
            Day::Friday => Weekday::Fri,
            Day::Saturday => Weekday::Sat,
        }
    }
}

/// Whose identifier `linkExternalId` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "PersonKind")]
pub enum PersonKindInput {
    Staff,
    Student,
    Guardian,
}

impl From<PersonKindInput> for PersonKind {
    fn from(k: PersonKindInput) -> Self {
        match k {
            PersonKindInput::Staff => PersonKind::Staff,
            PersonKindInput::Student => PersonKind::Student,
            PersonKindInput::Guardian => PersonKind::Guardian,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum Weeks {
    Every,
    /// Week A of the alternation.
    A,
    B,
    /// Only the weeks listed in `listedWeeks`.
    Listed,
}

/// Who attends and teaches a lesson, and where.
#[derive(Debug, Clone, InputObject)]
pub struct Attendees {
    /// May be empty (a study period watched by vie scolaire, a teacher not appointed).
    #[graphql(default)]
    pub teachers: Vec<String>,
    /// Whole divisions.
    #[graphql(default)]
    pub divisions: Vec<String>,
    /// Groups (half-classes, language groups, options).
    #[graphql(default)]
    pub groups: Vec<String>,
    pub room: Option<String>,
}

#[derive(Debug, Clone, InputObject)]
pub struct CourseInput {
    /// The course's id; by default one is made.
    pub id: Option<String>,
    pub day: Day,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub subject: String,
    pub attendees: Attendees,
    #[graphql(default_with = "Weeks::Every")]
    pub weeks: Weeks,
    /// Mondays of the weeks, with `weeks: LISTED`.
    #[graphql(default)]
    pub listed_weeks: Vec<NaiveDate>,
    /// First and last day of the course; by default those of the school year of
    /// `validFrom` (or today's).
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

#[derive(Debug, Clone, InputObject)]
pub struct ExtraLessonInput {
    pub id: Option<String>,
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub subject: String,
    pub attendees: Attendees,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum NewResourceKind {
    Room,
    Item,
    Pool,
}

#[derive(Debug, Clone, InputObject)]
pub struct ResourceInput {
    pub id: Option<String>,
    pub name: String,
    pub kind: NewResourceKind,
    /// A room's seats (information), a pool's number of items (required).
    pub seats: Option<u32>,
    pub quantity: Option<u32>,
    #[graphql(default)]
    pub requires_approval: bool,
    /// Who approves bookings; by default the person registering it.
    #[graphql(default)]
    pub managers: Vec<String>,
}

/// The school year of `date` in `establishment`, or VALIDATION on `field`.
fn year_containing(e: &Establishment, date: NaiveDate, field: &str) -> ApiResult<SchoolYear> {
    e.years
        .iter()
        .find(|(_, y)| y.first_day <= date && date <= y.last_day)
        .map(|(id, _)| id.clone())
        .ok_or_else(|| {
            ApiError::validation(field, format!("{date} is in no school year of {}", e.name))
        })
}

/// The divisions and groups exist in `year`: VALIDATION naming the first unknown one.
fn check_classes(
    e: &Establishment,
    year: &SchoolYear,
    divisions: &[String],
    groups: &[String],
    field: &str,
) -> ApiResult<()> {
    let Some(y) = e.years.get(year) else {
        return Err(ApiError::validation(
            field,
            format!("no school year {year}"),
        ));
    };
    if let Some(d) = divisions.iter().find(|d| !y.divisions.contains_key(*d)) {
        return Err(ApiError::validation(
            &format!("{field}divisions"),
            format!("no division `{d}` in {year}"),
        ));
    }
    if let Some(g) = groups.iter().find(|g| !y.groups.contains_key(*g)) {
        return Err(ApiError::validation(
            &format!("{field}groups"),
            format!("no group `{g}` in {year}"),
        ));
    }
    Ok(())
}

/// Each teacher is a teacher of the establishment who has not left by `on`.
fn check_teachers(e: &Establishment, teachers: &[String], on: NaiveDate) -> ApiResult<()> {
    for t in teachers {
        let ok = e
            .staff
            .get(t)
            .is_some_and(|m| m.roles.contains(&Role::Teacher) && m.left_on.is_none_or(|d| d >= on));
        if !ok {
            return Err(ApiError::validation(
                "attendees.teachers",
                format!("`{t}` is not a teacher of this establishment on {on}"),
            ));
        }
    }
    Ok(())
}

fn check_attendees(
    e: &Establishment,
    year: &SchoolYear,
    a: &Attendees,
    on: NaiveDate,
) -> ApiResult<()> {
    if a.divisions.is_empty() && a.groups.is_empty() {
        return Err(ApiError::validation(
            "attendees",
            "a lesson needs at least one division or group",
        ));
    }
    check_classes(e, year, &a.divisions, &a.groups, "attendees.")?;
    check_teachers(e, &a.teachers, on)
}

fn non_empty(value: &str, field: &str) -> ApiResult<()> {
    if value.trim().is_empty() {
        return Err(ApiError::validation(field, "must not be empty"));
    }
    Ok(())
}

// Each argument of a mutation is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl SetupMutation {
    /// A student joins the establishment on `on`, in a division and its groups.
    async fn admit_student(
        &self,
        ctx: &Context<'_>,
        student: String,
        ine: String,
        last_name: String,
        first_name: String,
        birth_date: NaiveDate,
        division: String,
        #[graphql(default)] groups: Vec<String>,
        on: NaiveDate,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_enrol()?;
        non_empty(&student, "student")?;
        let ine = Ine::parse(&ine).map_err(|e| ApiError::validation("ine", e.to_string()))?;
        non_empty(&last_name, "lastName")?;
        non_empty(&first_name, "firstName")?;
        if birth_date >= on {
            return Err(ApiError::validation("birthDate", "is not before the admission").into());
        }
        let establishment = c.reader.establishment().await?;
        let year = year_containing(&establishment, on, "on")?;
        check_classes(
            &establishment,
            &year,
            std::slice::from_ref(&division),
            &[],
            "",
        )
        .map_err(|_| {
            ApiError::validation("division", format!("no division `{division}` in {year}"))
        })?;
        check_classes(&establishment, &year, &[], &groups, "")?;
        let command = StudentCommand::Admit {
            student: student.clone(),
            identity: Identity {
                ine,
                last_name,
                first_name,
                birth_date,
            },
            year,
            division,
            groups,
            on,
        };
        c.run("admit_student", &c.school.students, &student, command, None)
            .await
    }

    /// The student leaves the establishment after `lastDay`.
    async fn student_leaves(
        &self,
        ctx: &Context<'_>,
        student: String,
        last_day: NaiveDate,
        reason: String,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_enrol()?;
        non_empty(&reason, "reason")?;
        let command = StudentCommand::Depart { last_day, reason };
        c.run(
            "student_leaves",
            &c.school.students,
            &student,
            command,
            None,
        )
        .await
    }

    /// A guardian (responsable légal or other) of the student, with their rights.
    async fn link_guardian(
        &self,
        ctx: &Context<'_>,
        student: String,
        guardian: String,
        name: String,
        relationship: String,
        rights: RightsInput,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_enrol()?;
        non_empty(&guardian, "guardian")?;
        non_empty(&name, "name")?;
        let command = StudentCommand::LinkGuardian {
            guardian,
            name,
            relationship,
            rights: rights.into(),
        };
        c.run("link_guardian", &c.school.students, &student, command, None)
            .await
    }

    /// Records that the ENT (or a directory such as the AAF) knows `person` by
    /// `identifier`: a token whose identity is that identifier then acts as the person.
    /// `scheme` says where it comes from (the ENT's issuer URL, `ENTPersonJointure`).
    /// One identifier names one person of the establishment. A member of staff's is
    /// linked by the head (it opens staff rights); a student's or guardian's by the
    /// secretariat or the head, who enrol them.
    async fn link_external_id(
        &self,
        ctx: &Context<'_>,
        person: String,
        kind: PersonKindInput,
        scheme: String,
        identifier: String,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        match kind {
            PersonKindInput::Staff => c
                .actor
                .may_administer("linking a member of staff to an ENT identifier")?,
            PersonKindInput::Student | PersonKindInput::Guardian => c.actor.may_enrol()?,
        }
        non_empty(&person, "person")?;
        non_empty(&scheme, "scheme")?;
        non_empty(&identifier, "identifier")?;
        // Students and guardians live in their students' streams, which the
        // establishment does not see: checked here, as placements are.
        match kind {
            PersonKindInput::Staff => {}
            PersonKindInput::Student => {
                if enrolment::student(&c.reader.pool, &c.reader.tenant, &person)
                    .await
                    .map_err(ApiError::from)?
                    .is_none()
                {
                    return Err(ApiError::validation(
                        "person",
                        format!("no student `{person}` here"),
                    )
                    .into());
                }
            }
            PersonKindInput::Guardian => {
                let children =
                    enrolment::guardian_children(&c.reader.pool, &c.reader.tenant, &person)
                        .await
                        .map_err(ApiError::from)?;
                if children.children.is_empty() {
                    return Err(ApiError::validation(
                        "person",
                        format!("`{person}` is the guardian of no student here"),
                    )
                    .into());
                }
            }
        }
        let command = EstablishmentCommand::LinkExternalId {
            person,
            kind: kind.into(),
            identifier: ExternalId {
                scheme,
                value: identifier,
            },
        };
        let establishment = c.school.establishment_id();
        c.run(
            "link_external_id",
            &c.school.establishment,
            &establishment,
            command,
            None,
        )
        .await
    }

    /// Ends the link of an ENT (or other) identifier: its tokens find nobody from then
    /// on, and the identifier may be linked again, to the right person. A member of
    /// staff's link is ended by the head; a student's or guardian's by the secretariat or
    /// the head, as they are made.
    async fn unlink_external_id(
        &self,
        ctx: &Context<'_>,
        scheme: String,
        identifier: String,
        command_id: Option<Uuid>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, None).await?;
        non_empty(&scheme, "scheme")?;
        non_empty(&identifier, "identifier")?;
        let establishment = c.reader.establishment().await?;
        match establishment
            .external_ids
            .get(&identifier)
            .map(|link| link.kind)
        {
            Some(PersonKind::Staff) => c
                .actor
                .may_administer("unlinking a member of staff's ENT identifier")?,
            // A link the aggregate does not know is refused by it, naming the identifier.
            _ => c.actor.may_enrol()?,
        }
        let command = EstablishmentCommand::UnlinkExternalId {
            identifier: ExternalId {
                scheme,
                value: identifier,
            },
        };
        let stream = c.school.establishment_id();
        c.run(
            "unlink_external_id",
            &c.school.establishment,
            &stream,
            command,
            None,
        )
        .await
    }

    async fn unlink_guardian(
        &self,
        ctx: &Context<'_>,
        student: String,
        guardian: String,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_enrol()?;
        let command = StudentCommand::UnlinkGuardian { guardian };
        c.run(
            "unlink_guardian",
            &c.school.students,
            &student,
            command,
            None,
        )
        .await
    }

    /// A recurring course of the timetable; refused when it clashes with another
    /// lesson (teacher, room, division or group) on any day.
    async fn add_course(
        &self,
        ctx: &Context<'_>,
        course: CourseInput,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_administer("changing the timetable")?;
        non_empty(&course.subject, "course.subject")?;
        let establishment = c.reader.establishment().await?;
        let anchor = course
            .valid_from
            .unwrap_or_else(|| super::types::today(&c.reader, &establishment));
        let year = year_containing(&establishment, anchor, "course.validFrom")?;
        let bounds = &establishment.years[&year];
        let valid_from = course.valid_from.unwrap_or(bounds.first_day);
        let valid_to = course.valid_to.unwrap_or(bounds.last_day);
        if valid_to > bounds.last_day {
            return Err(ApiError::validation(
                "course.validTo",
                format!("is after the end of {year} ({})", bounds.last_day),
            )
            .into());
        }
        check_attendees(&establishment, &year, &course.attendees, valid_from)?;
        let weeks = match course.weeks {
            Weeks::Every => WeekPattern::Every,
            Weeks::A => WeekPattern::A,
            Weeks::B => WeekPattern::B,
            Weeks::Listed => {
                if course.listed_weeks.is_empty() {
                    return Err(ApiError::validation(
                        "course.listedWeeks",
                        "LISTED weeks need at least one Monday",
                    )
                    .into());
                }
                WeekPattern::Weeks(course.listed_weeks.iter().copied().collect::<BTreeSet<_>>())
            }
        };
        let id = c.new_id(course.id, "course");
        let a = course.attendees;
        let command = TimetableCommand::AddCourse(CourseSpec {
            id: id.clone(),
            weekday: course.day.into(),
            start: course.start,
            end: course.end,
            subject: course.subject,
            teachers: a.teachers,
            divisions: a.divisions,
            groups: a.groups,
            room: a.room,
            weeks,
            valid_from,
            valid_to,
        });
        c.run(
            "add_course",
            &c.school.timetable,
            year.as_str(),
            command,
            Some(id),
        )
        .await
    }

    /// The course stops after `lastDay`: its later lessons are gone, the earlier ones
    /// (and their roll calls) stay.
    async fn end_course(
        &self,
        ctx: &Context<'_>,
        course: String,
        last_day: NaiveDate,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_administer("changing the timetable")?;
        let year = c.year_of(last_day).await?;
        let command = TimetableCommand::EndCourse {
            id: course,
            last_day,
        };
        c.run(
            "end_course",
            &c.school.timetable,
            year.as_str(),
            command,
            None,
        )
        .await
    }

    /// One lesson takes place in another room.
    async fn change_room(
        &self,
        ctx: &Context<'_>,
        course: String,
        date: NaiveDate,
        room: String,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_administer("changing the timetable")?;
        non_empty(&room, "room")?;
        let year = c.year_of(date).await?;
        let command = TimetableCommand::ChangeRoom { course, date, room };
        c.run(
            "change_room",
            &c.school.timetable,
            year.as_str(),
            command,
            None,
        )
        .await
    }

    /// A one-off lesson (cours exceptionnel): a catch-up lesson, a test in a double
    /// period. Its roll call is taken like any other's, under the id it answers.
    async fn add_extra_lesson(
        &self,
        ctx: &Context<'_>,
        lesson: ExtraLessonInput,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_administer("changing the timetable")?;
        non_empty(&lesson.subject, "lesson.subject")?;
        let establishment = c.reader.establishment().await?;
        let year = year_containing(&establishment, lesson.date, "lesson.date")?;
        check_attendees(&establishment, &year, &lesson.attendees, lesson.date)?;
        let id = c.new_id(lesson.id, "extra");
        let a = lesson.attendees;
        let command = TimetableCommand::AddExtraLesson(ExtraLesson {
            id: id.clone(),
            date: lesson.date,
            start: lesson.start,
            end: lesson.end,
            subject: lesson.subject,
            teachers: a.teachers,
            divisions: a.divisions,
            groups: a.groups,
            room: a.room,
        });
        // An extra lesson's id is its lesson id too (it has one day only).
        c.run(
            "add_extra_lesson",
            &c.school.timetable,
            year.as_str(),
            command,
            Some(id),
        )
        .await
    }

    /// A room, a piece of equipment or a pool of items that staff can book.
    async fn register_resource(
        &self,
        ctx: &Context<'_>,
        resource: ResourceInput,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_administer("registering a resource")?;
        non_empty(&resource.name, "resource.name")?;
        let kind = match resource.kind {
            NewResourceKind::Room => ResourceKind::Room {
                seats: resource.seats,
            },
            NewResourceKind::Item => ResourceKind::Item,
            NewResourceKind::Pool => ResourceKind::Pool {
                quantity: resource.quantity.ok_or_else(|| {
                    ApiError::validation("resource.quantity", "a pool needs its number of items")
                })?,
            },
        };
        let managers = if resource.managers.is_empty() {
            vec![c.actor.person.clone()]
        } else {
            let establishment = c.reader.establishment().await?;
            if let Some(m) = resource
                .managers
                .iter()
                .find(|m| !establishment.staff.contains_key(*m))
            {
                return Err(ApiError::validation(
                    "resource.managers",
                    format!("`{m}` is not on the establishment's staff"),
                )
                .into());
            }
            resource.managers
        };
        let id = c.new_id(resource.id, "resource");
        let command = ReservationCommand::RegisterResource {
            id: id.clone(),
            name: resource.name,
            kind,
            requires_approval: resource.requires_approval,
            managers,
        };
        c.run(
            "register_resource",
            &c.school.resources,
            &id,
            command,
            Some(id.clone()),
        )
        .await
    }

    /// The resource is out of service from `at`; bookings after it must be cancelled
    /// first.
    async fn retire_resource(
        &self,
        ctx: &Context<'_>,
        resource: String,
        at: NaiveDateTime,
        reason: String,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        let found = c.reader.resource(&resource).await?;
        c.actor.may_manage(&found.managers)?;
        non_empty(&reason, "reason")?;
        let command = ReservationCommand::RetireResource {
            at,
            by: c.actor.person.clone(),
            reason,
        };
        c.run(
            "retire_resource",
            &c.school.resources,
            &resource,
            command,
            None,
        )
        .await
    }

    /// Erases a person's personal data (RGPD art. 17, the right to erasure): the
    /// erasure is recorded in the log, then every key of theirs is destroyed. Their
    /// names, birth date, absence reasons and comments then read as null everywhere
    /// (and as erased in exports); the rest of the school's history stays, and the log
    /// still verifies. Nothing personal is recorded about them again. For the head of
    /// the establishment; running it again finishes an interrupted erasure.
    async fn erase_person(
        &self,
        ctx: &Context<'_>,
        person: String,
        grounds: String,
        command_id: Option<Uuid>,
    ) -> GqlResult<Erasure> {
        let c = Command::new(ctx, command_id, None).await?;
        c.actor.may_administer("erasing personal data")?;
        non_empty(&person, "person")?;
        non_empty(&grounds, "grounds")?;
        let destroyed = c
            .school
            .erase_person(&person, &grounds, &c.context())
            .await
            .map_err(ApiError::from)?;
        Ok(Erasure {
            person,
            keys_destroyed: destroyed.len(),
        })
    }
}

/// What `erasePerson` did.
#[derive(Debug, Clone, SimpleObject)]
pub struct Erasure {
    pub person: String,
    /// Keys destroyed by this call (0 when the person was already erased).
    pub keys_destroyed: usize,
}
