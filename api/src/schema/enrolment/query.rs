//! The enrolment queries: the caller, a student, a class, a teacher.

use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct EnrolmentQuery;

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl EnrolmentQuery {
    async fn me(&self, ctx: &Context<'_>) -> GqlResult<Me> {
        let (reader, actor) = caller(ctx, None).await?;
        let mut roles: Vec<String> = Vec::new();
        if !actor.children.is_empty() {
            roles.push("guardian".into());
        }
        if actor.student {
            roles.push("student".into());
        }
        roles.extend(actor.staff.iter().map(|r| format!("{r:?}").to_lowercase()));
        if actor.auditor {
            roles.push("auditor".into());
        }
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
            services: actor
                .services
                .iter()
                .map(|(y, class, subject)| ServiceView {
                    year: y.to_string(),
                    subject: subject.clone(),
                    class: class.clone(),
                })
                .collect(),
        })
    }

    /// A student: record, timetable, absences, half-day counts, report cards, history.
    async fn student(
        &self,
        ctx: &Context<'_>,
        id: String,
        as_of: Option<DateTime<Utc>>,
    ) -> GqlResult<StudentView> {
        let (reader, actor) = caller(ctx, as_of).await?;
        Ok(StudentView::load(&reader, &actor, &id).await?)
    }

    /// A division or group of a school year (the current one by default).
    async fn class(
        &self,
        ctx: &Context<'_>,
        id: String,
        year: Option<String>,
        as_of: Option<DateTime<Utc>>,
    ) -> GqlResult<ClassView> {
        let (reader, actor) = caller(ctx, as_of).await?;
        let year = crate::schema::common::year(&reader, year.as_deref()).await?;
        actor.may_see_class(&year, &id)?;
        let establishment = reader.establishment().await?;
        let y = establishment
            .years
            .get(&year)
            .ok_or_else(|| ApiError::not_found(format!("school year {year} is not open here")))?;
        let (name, is_group) = match (y.divisions.get(&id), y.groups.get(&id)) {
            (Some(d), _) => (d.name.clone(), false),
            (None, Some(g)) => (g.name.clone(), true),
            (None, None) => {
                return Err(
                    ApiError::not_found(format!("no division or group `{id}` in {year}")).into(),
                )
            }
        };
        Ok(ClassView {
            reader,
            actor,
            year,
            id,
            name,
            is_group,
        })
    }

    /// A teacher: services, week, timetable.
    async fn teacher(
        &self,
        ctx: &Context<'_>,
        id: String,
        as_of: Option<DateTime<Utc>>,
    ) -> GqlResult<TeacherView> {
        let (reader, actor) = caller(ctx, as_of).await?;
        actor.may_see_teacher(&id)?;
        let establishment = reader.establishment().await?;
        let member = establishment
            .staff
            .get(&id)
            .filter(|m| m.roles.contains(&Role::Teacher))
            .ok_or_else(|| ApiError::not_found(format!("no teacher `{id}` here")))?;
        Ok(TeacherView {
            name: reader.open(&member.name).await?,
            reader,
            actor,
            id,
        })
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
