//! The enrolment commands: admissions, departures, divisions and groups,
//! guardians and their rights, external identifiers.

use crate::schema::node::NodeType;
use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct EnrolmentMutation;

/// The student moves to another division from `on`, with the groups they are in from
/// that day.
#[derive(Debug, Clone, InputObject)]
pub struct ChangeDivisionInput {
    pub student: String,
    /// The division from `on`.
    pub division: String,
    /// Every group the student is in from `on` (those not listed are left).
    pub groups: Vec<String>,
    /// The first day in the new division.
    pub on: Date,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// The student joins a group from `on`.
#[derive(Debug, Clone, InputObject)]
pub struct JoinGroupInput {
    pub student: String,
    pub group: String,
    /// The first day in the group.
    pub on: Date,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// The student leaves a group after `lastDay`.
#[derive(Debug, Clone, InputObject)]
pub struct LeaveGroupInput {
    pub student: String,
    pub group: String,
    /// The last day in the group.
    pub last_day: Date,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// What a guardian may do for this child.
#[derive(Debug, Clone, InputObject)]
pub struct ChangeGuardianRightsInput {
    pub student: String,
    /// A guardian already linked to the student.
    pub guardian: String,
    pub rights: RightsInput,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A student joining the establishment.
#[derive(Debug, Clone, InputObject)]
pub struct AdmitStudentInput {
    /// The student's id in Carnet.
    pub student: String,
    /// The national student identifier (INE).
    pub ine: String,
    pub last_name: String,
    pub first_name: String,
    /// Before `on`.
    pub birth_date: Date,
    /// A division of the school year of `on`.
    pub division: String,
    /// Groups of that year, from `on`.
    #[graphql(default)]
    pub groups: Vec<String>,
    /// The first day in the establishment.
    pub on: Date,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// The student leaving the establishment.
#[derive(Debug, Clone, InputObject)]
pub struct StudentLeavesInput {
    pub student: String,
    /// The last day in the establishment.
    pub last_day: Date,
    /// Why (a move, a change of school...); not empty.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A guardian of the student, with their rights.
#[derive(Debug, Clone, InputObject)]
pub struct LinkGuardianInput {
    pub student: String,
    /// The guardian's id in Carnet (the same for each of their children).
    pub guardian: String,
    /// Their name, as families read it; personal data, erased with them.
    pub name: String,
    /// "mère", "père", "tuteur"...
    pub relationship: String,
    pub rights: RightsInput,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// An identifier the ENT (or a directory such as the AAF) knows a person by.
#[derive(Debug, Clone, InputObject)]
pub struct LinkExternalIdInput {
    /// The person's id in Carnet.
    pub person: String,
    pub kind: PersonKindInput,
    /// Where the identifier comes from: the ENT's issuer URL, `ENTPersonJointure`.
    pub scheme: String,
    /// The identifier, as the ENT's tokens carry it.
    pub identifier: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// The identifier whose link ends.
#[derive(Debug, Clone, InputObject)]
pub struct UnlinkExternalIdInput {
    pub scheme: String,
    pub identifier: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// The guardian who is no longer the student's.
#[derive(Debug, Clone, InputObject)]
pub struct UnlinkGuardianInput {
    pub student: String,
    pub guardian: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    ChangeDivisionPayload,
    "The student, in their new division.",
    student: StudentView
);
payload!(
    JoinGroupPayload,
    "The student, with the group joined.",
    student: StudentView
);
payload!(
    LeaveGroupPayload,
    "The student, with the group left.",
    student: StudentView
);
payload!(
    ChangeGuardianRightsPayload,
    "The student, with their guardians' rights as they now stand.",
    student: StudentView
);
payload!(
    AdmitStudentPayload,
    "The student admitted.",
    student: StudentView
);
payload!(
    StudentLeavesPayload,
    "The student, with their last day (`leftOn`).",
    student: StudentView
);
payload!(
    LinkGuardianPayload,
    "The student, with their guardians.",
    student: StudentView
);
payload!(
    UnlinkGuardianPayload,
    "The student, with the guardians who remain.",
    student: StudentView
);
payload!(
    LinkExternalIdPayload,
    "The link recorded.",
    link: ExternalIdLink
);
payload!(
    UnlinkExternalIdPayload,
    "The link ended, as it was (null when a retry finds it already ended).",
    link: ExternalIdLink
);

/// An identifier the ENT (or a directory) knows a person of the establishment by.
#[derive(Debug, Clone, SimpleObject)]
pub struct ExternalIdLink {
    /// The person's id in Carnet.
    pub person: String,
    pub kind: PersonKindInput,
    pub scheme: String,
    pub identifier: String,
}

impl ExternalIdLink {
    fn new(identifier: &str, link: &carnet_domain::enrolment::ExternalLink) -> Self {
        ExternalIdLink {
            person: link.person.clone(),
            kind: match link.kind {
                PersonKind::Staff => PersonKindInput::Staff,
                PersonKind::Student => PersonKindInput::Student,
                PersonKind::Guardian => PersonKindInput::Guardian,
            },
            scheme: link.scheme.clone(),
            identifier: identifier.to_string(),
        }
    }
}

/// The student as they now stand, read back after a command (the enrolment's read
/// model is written in the command's transaction); `None` when the caller may not see
/// them.
async fn student_after(c: &Command<'_>, student: &str) -> ApiResult<Option<StudentView>> {
    match StudentView::load(&c.reader.fresh(), &c.actor, student).await {
        Ok(view) => Ok(Some(view)),
        Err(ApiError::Forbidden(_) | ApiError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl EnrolmentMutation {
    /// The student moves to another division from `on`, with the groups they are in
    /// from that day.
    async fn change_division(
        &self,
        ctx: &Context<'_>,
        input: ChangeDivisionInput,
    ) -> GqlResult<ChangeDivisionPayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.student = c.local(NodeType::Student, &input.student)?;
        c.actor.may_enrol()?;
        let command = StudentCommand::ChangeDivision {
            division: input.division,
            groups: input.groups,
            on: input.on.0,
        };
        let result = c
            .on_student("change_division", &input.student, command)
            .await?;
        let student = student_after(&c, &input.student).await?;
        Ok(ChangeDivisionPayload { result, student })
    }

    /// The student joins a group from `on`.
    async fn join_group(
        &self,
        ctx: &Context<'_>,
        input: JoinGroupInput,
    ) -> GqlResult<JoinGroupPayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.student = c.local(NodeType::Student, &input.student)?;
        c.actor.may_enrol()?;
        let command = StudentCommand::JoinGroup {
            group: input.group,
            on: input.on.0,
        };
        let result = c.on_student("join_group", &input.student, command).await?;
        let student = student_after(&c, &input.student).await?;
        Ok(JoinGroupPayload { result, student })
    }

    /// The student leaves a group after `lastDay`.
    async fn leave_group(
        &self,
        ctx: &Context<'_>,
        input: LeaveGroupInput,
    ) -> GqlResult<LeaveGroupPayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.student = c.local(NodeType::Student, &input.student)?;
        c.actor.may_enrol()?;
        let command = StudentCommand::LeaveGroup {
            group: input.group,
            last_day: input.last_day.0,
        };
        let result = c.on_student("leave_group", &input.student, command).await?;
        let student = student_after(&c, &input.student).await?;
        Ok(LeaveGroupPayload { result, student })
    }

    /// What a guardian may do for this child (see, justify, be notified).
    async fn change_guardian_rights(
        &self,
        ctx: &Context<'_>,
        input: ChangeGuardianRightsInput,
    ) -> GqlResult<ChangeGuardianRightsPayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.student = c.local(NodeType::Student, &input.student)?;
        c.actor.may_enrol()?;
        let command = StudentCommand::ChangeGuardianRights {
            guardian: input.guardian,
            rights: input.rights.into(),
        };
        let result = c
            .on_student("change_guardian_rights", &input.student, command)
            .await?;
        let student = student_after(&c, &input.student).await?;
        Ok(ChangeGuardianRightsPayload { result, student })
    }

    /// A student joins the establishment on `on`, in a division and its groups.
    async fn admit_student(
        &self,
        ctx: &Context<'_>,
        input: AdmitStudentInput,
    ) -> GqlResult<AdmitStudentPayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.student = c.local(NodeType::Student, &input.student)?;
        c.actor.may_enrol()?;
        let AdmitStudentInput {
            student,
            ine,
            last_name,
            first_name,
            birth_date,
            division,
            groups,
            on,
            options: _,
        } = input;
        let (birth_date, on) = (birth_date.0, on.0);
        non_empty(&student, "student")?;
        let ine = Ine::parse(&ine).map_err(|e| {
            ApiError::validation(
                "ine",
                Text::new(
                    format!(
                        "`{}` n'est pas un INE : un INE a 11 caractères, 9 chiffres et 2 \
                         lettres, 10 chiffres et 1 lettre, ou 4 chiffres, A, 5 chiffres et 1 \
                         lettre",
                        e.0
                    ),
                    e.to_string(),
                ),
            )
        })?;
        non_empty(&last_name, "lastName")?;
        non_empty(&first_name, "firstName")?;
        if birth_date >= on {
            return Err(ApiError::validation(
                "birthDate",
                Text::new(
                    "n'est pas avant la date d'admission",
                    "is not before the admission",
                ),
            )
            .into());
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
            ApiError::validation(
                "division",
                Text::new(
                    format!("aucune division `{division}` en {year}"),
                    format!("no division `{division}` in {year}"),
                ),
            )
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
        let result = c
            .run("admit_student", &c.school.students, &student, command, None)
            .await?;
        let student = student_after(&c, &student).await?;
        Ok(AdmitStudentPayload { result, student })
    }

    /// The student leaves the establishment after `lastDay`.
    async fn student_leaves(
        &self,
        ctx: &Context<'_>,
        input: StudentLeavesInput,
    ) -> GqlResult<StudentLeavesPayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.student = c.local(NodeType::Student, &input.student)?;
        c.actor.may_enrol()?;
        non_empty(&input.reason, "reason")?;
        let command = StudentCommand::Depart {
            last_day: input.last_day.0,
            reason: input.reason,
        };
        let result = c
            .on_student("student_leaves", &input.student, command)
            .await?;
        let student = student_after(&c, &input.student).await?;
        Ok(StudentLeavesPayload { result, student })
    }

    /// A guardian (responsable légal or other) of the student, with their rights.
    async fn link_guardian(
        &self,
        ctx: &Context<'_>,
        input: LinkGuardianInput,
    ) -> GqlResult<LinkGuardianPayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.student = c.local(NodeType::Student, &input.student)?;
        c.actor.may_enrol()?;
        non_empty(&input.guardian, "guardian")?;
        non_empty(&input.name, "name")?;
        let command = StudentCommand::LinkGuardian {
            guardian: input.guardian,
            name: input.name,
            relationship: input.relationship,
            rights: input.rights.into(),
        };
        let result = c
            .on_student("link_guardian", &input.student, command)
            .await?;
        let student = student_after(&c, &input.student).await?;
        Ok(LinkGuardianPayload { result, student })
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
        input: LinkExternalIdInput,
    ) -> GqlResult<LinkExternalIdPayload> {
        let c = Command::sent(ctx, input.options).await?;
        let LinkExternalIdInput {
            person,
            kind,
            scheme,
            identifier,
            options: _,
        } = input;
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
                        Text::new(
                            format!("aucun élève `{person}` dans cet établissement"),
                            format!("no student `{person}` here"),
                        ),
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
                        Text::new(
                            format!(
                                "`{person}` n'est responsable légal d'aucun élève de cet \
                                 établissement"
                            ),
                            format!("`{person}` is the guardian of no student here"),
                        ),
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
                value: identifier.clone(),
            },
        };
        let establishment = c.school.establishment_id();
        let result = c
            .run(
                "link_external_id",
                &c.school.establishment,
                &establishment,
                command,
                None,
            )
            .await?;
        // The establishment's read model is written in the command's transaction.
        let link = c
            .reader
            .fresh()
            .establishment()
            .await?
            .external_ids
            .get(&identifier)
            .map(|link| ExternalIdLink::new(&identifier, link));
        Ok(LinkExternalIdPayload { result, link })
    }

    /// Ends the link of an ENT (or other) identifier: its tokens find nobody from then
    /// on, and the identifier may be linked again, to the right person. A member of
    /// staff's link is ended by the head; a student's or guardian's by the secretariat or
    /// the head, as they are made.
    async fn unlink_external_id(
        &self,
        ctx: &Context<'_>,
        input: UnlinkExternalIdInput,
    ) -> GqlResult<UnlinkExternalIdPayload> {
        let c = Command::sent(ctx, input.options).await?;
        let UnlinkExternalIdInput {
            scheme,
            identifier,
            options: _,
        } = input;
        non_empty(&scheme, "scheme")?;
        non_empty(&identifier, "identifier")?;
        let establishment = c.reader.establishment().await?;
        let before = establishment.external_ids.get(&identifier);
        match before.map(|link| link.kind) {
            Some(PersonKind::Staff) => c
                .actor
                .may_administer("unlinking a member of staff's ENT identifier")?,
            // A link the aggregate does not know is refused by it, naming the identifier.
            _ => c.actor.may_enrol()?,
        }
        let link = before
            .filter(|link| link.scheme == scheme)
            .map(|link| ExternalIdLink::new(&identifier, link));
        let command = EstablishmentCommand::UnlinkExternalId {
            identifier: ExternalId {
                scheme,
                value: identifier,
            },
        };
        let stream = c.school.establishment_id();
        let result = c
            .run(
                "unlink_external_id",
                &c.school.establishment,
                &stream,
                command,
                None,
            )
            .await?;
        Ok(UnlinkExternalIdPayload { result, link })
    }

    /// The guardian is no longer linked to the student.
    async fn unlink_guardian(
        &self,
        ctx: &Context<'_>,
        input: UnlinkGuardianInput,
    ) -> GqlResult<UnlinkGuardianPayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.student = c.local(NodeType::Student, &input.student)?;
        c.actor.may_enrol()?;
        let command = StudentCommand::UnlinkGuardian {
            guardian: input.guardian,
        };
        let result = c
            .on_student("unlink_guardian", &input.student, command)
            .await?;
        let student = student_after(&c, &input.student).await?;
        Ok(UnlinkGuardianPayload { result, student })
    }
}
