//! The enrolment commands: admissions, departures, divisions and groups,
//! guardians and their rights, external identifiers.

use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct EnrolmentMutation;

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl EnrolmentMutation {
    /// The student moves to another division from `on`, with the groups they are in
    /// from that day.
    async fn change_division(
        &self,
        ctx: &Context<'_>,
        student: String,
        division: String,
        groups: Vec<String>,
        on: NaiveDate,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_enrol()?;
        let command = StudentCommand::ChangeDivision {
            division,
            groups,
            on,
        };
        c.run(
            "change_division",
            &c.school.students,
            &student,
            command,
            None,
        )
        .await
    }

    async fn join_group(
        &self,
        ctx: &Context<'_>,
        student: String,
        group: String,
        on: NaiveDate,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_enrol()?;
        let command = StudentCommand::JoinGroup { group, on };
        c.run("join_group", &c.school.students, &student, command, None)
            .await
    }

    async fn leave_group(
        &self,
        ctx: &Context<'_>,
        student: String,
        group: String,
        last_day: NaiveDate,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_enrol()?;
        let command = StudentCommand::LeaveGroup { group, last_day };
        c.run("leave_group", &c.school.students, &student, command, None)
            .await
    }

    /// What a guardian may do for this child (see, justify, be notified).
    async fn change_guardian_rights(
        &self,
        ctx: &Context<'_>,
        student: String,
        guardian: String,
        rights: RightsInput,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_enrol()?;
        let command = StudentCommand::ChangeGuardianRights {
            guardian,
            rights: rights.into(),
        };
        c.run(
            "change_guardian_rights",
            &c.school.students,
            &student,
            command,
            None,
        )
        .await
    }

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
}
