//! The enrolment queries: the caller, a student, a class, a teacher.

use crate::schema::node::{class_arg, local_id, NodeType};
use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct EnrolmentQuery;

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl EnrolmentQuery {
    async fn me(&self, ctx: &Context<'_>) -> GqlResult<Me> {
        let (reader, actor) = caller(ctx, None).await?;
        let mut roles: Vec<ActingRole> = Vec::new();
        if !actor.children.is_empty() {
            roles.push(ActingRole::Guardian);
        }
        if actor.student {
            roles.push(ActingRole::Student);
        }
        roles.extend(actor.staff.iter().map(|r| ActingRole::from(*r)));
        if actor.auditor {
            roles.push(ActingRole::Auditor);
        }
        let establishment = if actor.services.is_empty() {
            None
        } else {
            Some(reader.establishment().await?)
        };
        let services = actor
            .services
            .iter()
            .map(|(y, class, subject)| ServiceView {
                year: y.to_string(),
                subject: match &establishment {
                    Some(e) => subject_of(e, subject),
                    None => SubjectView {
                        code: subject.clone(),
                        label: subject.clone(),
                        national_code: None,
                    },
                },
                class: class.clone(),
            })
            .collect();
        Ok(Me {
            person: actor.person.clone(),
            establishment: reader.tenant.to_string(),
            roles,
            children: actor
                .children
                .iter()
                .filter(|(_, r)| r.see)
                .map(|(c, _)| c.clone())
                .collect(),
            services,
        })
    }

    /// A student: record, timetable, absences, half-day counts, report cards, history.
    /// `id` is the student's id (`eleve00001`) or global id. Null, with the error, when
    /// the student is unknown or not the caller's to see.
    async fn student(
        &self,
        ctx: &Context<'_>,
        id: String,
        as_of: Option<DateTime<Utc>>,
    ) -> GqlResult<Option<StudentView>> {
        let (reader, actor) = caller(ctx, as_of).await?;
        let id = local_id(&reader, NodeType::Student, &id)?;
        Ok(Some(StudentView::load(&reader, &actor, &id).await?))
    }

    /// A division or group: `id` is its id (`4A`) in `year` (by default the current
    /// school year: that of today, or of `asOf`, in the establishment's time zone), or
    /// its global id (which names its year). Null, with the error, when it is unknown
    /// or not the caller's to see.
    async fn class(
        &self,
        ctx: &Context<'_>,
        id: String,
        year: Option<String>,
        as_of: Option<DateTime<Utc>>,
    ) -> GqlResult<Option<ClassView>> {
        let (reader, actor) = caller(ctx, as_of).await?;
        let (named, id) = class_arg(&reader, &id)?;
        let year = match named {
            Some(y) => y,
            None => crate::schema::common::year(&reader, year.as_deref()).await?,
        };
        Ok(Some(ClassView::load(&reader, &actor, year, &id).await?))
    }

    /// A teacher: services, week, timetable. `id` is the teacher's id or global id.
    /// Null, with the error, when unknown or not the caller's to see.
    async fn teacher(
        &self,
        ctx: &Context<'_>,
        id: String,
        as_of: Option<DateTime<Utc>>,
    ) -> GqlResult<Option<TeacherView>> {
        let (reader, actor) = caller(ctx, as_of).await?;
        let id = local_id(&reader, NodeType::Teacher, &id)?;
        Ok(Some(TeacherView::load(&reader, &actor, &id).await?))
    }

    /// The students of a guardian (the caller), with what they may see of each.
    async fn my_children(&self, ctx: &Context<'_>) -> GqlResult<Vec<StudentView>> {
        let (reader, actor) = caller(ctx, None).await?;
        let links =
            enrolment::guardian_children(&reader.pool, &reader.tenant, &actor.person).await?;
        let mut out = Vec::new();
        for (child, link) in links.children {
            if link.rights.see {
                out.push(StudentView::load(&reader, &actor, &child).await?);
            }
        }
        Ok(out)
    }
}
