//! The queries. Each takes `asOf`: the answer as Carnet knew it at that instant.

use async_graphql::{Context, Object, SimpleObject};
use carnet_domain::enrolment::Role;
use carnet_projections::{attendance, enrolment, query as docs, reservations};
use chrono::{DateTime, NaiveDate, Utc};

use super::caller;
use super::types::{
    year, year_of, AlertView, ClassView, Lesson, ResourceView, ServiceView, StudentView,
    TeacherView,
};
use crate::error::ApiError;
use crate::pagination::{paginate, Page};
use crate::reader::Reader;
use carnet_domain::enrolment::SchoolYear;
use carnet_domain::timetable::Occurrence;

type GqlResult<T> = async_graphql::Result<T>;

#[derive(Debug, Default)]
pub struct QueryRoot;

/// The caller, as the establishment knows them.
#[derive(Debug, Clone, SimpleObject)]
pub struct Me {
    pub person: String,
    pub establishment: String,
    /// What the caller acts as here: guardian, student, teacher, cpe, aed, secretariat,
    /// principal, auditor.
    pub roles: Vec<String>,
    /// The children the caller is a guardian of (with the right to see them).
    pub children: Vec<String>,
    pub services: Vec<ServiceView>,
}

// Each argument of a field is a parameter of its resolver: Relay's four pagination
// arguments with `asOf` and a filter make more than clippy's seven.
#[allow(clippy::too_many_arguments)]
#[Object(name = "Query")]
impl QueryRoot {
    /// How a guardian is reached and what they chose: the guardian themselves, or the
    /// secretariat, the CPE and the head.
    async fn notification_preferences(
        &self,
        ctx: &Context<'_>,
        guardian: String,
    ) -> GqlResult<crate::notifications::NotificationPreferences> {
        Ok(crate::notifications::preferences(ctx, guardian).await?)
    }

    /// The establishment's notifications to guardians, newest first (`status: DEAD`:
    /// the dead letters, each with why): vie scolaire and the administration.
    async fn notification_deliveries(
        &self,
        ctx: &Context<'_>,
        status: Option<crate::notifications::DeliveryStatus>,
        first: Option<i32>,
    ) -> GqlResult<Vec<crate::notifications::NotificationDelivery>> {
        Ok(crate::notifications::deliveries(ctx, status, first).await?)
    }

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
        let year = super::types::year(&reader, year.as_deref()).await?;
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

    /// One lesson by its id (`course@date`), with its register for those who may see it.
    async fn lesson(
        &self,
        ctx: &Context<'_>,
        id: String,
        as_of: Option<DateTime<Utc>>,
    ) -> GqlResult<Lesson> {
        let (reader, actor) = caller(ctx, as_of).await?;
        let (year, found) = find_lesson(&reader, &id, "id").await?;
        let lesson = Lesson::new(found, &reader, &actor, &year);
        if !(actor.sees_establishment()
            || lesson.teachers.contains(&actor.person)
            || lesson
                .divisions
                .iter()
                .chain(&lesson.groups)
                .any(|c| actor.teaches(&year, c)))
        {
            return Err(ApiError::forbidden("you may not see this lesson").into());
        }
        Ok(lesson)
    }

    /// A resource: bookings and availability.
    async fn resource(
        &self,
        ctx: &Context<'_>,
        id: String,
        as_of: Option<DateTime<Utc>>,
    ) -> GqlResult<ResourceView> {
        let (reader, actor) = caller(ctx, as_of).await?;
        actor.may_see_resources()?;
        let resource = reader.resource(&id).await?;
        Ok(ResourceView { reader, resource })
    }

    /// Every resource of the establishment, by id.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn resources(
        &self,
        ctx: &Context<'_>,
        as_of: Option<DateTime<Utc>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<Page<ResourceView>> {
        let (reader, actor) = caller(ctx, as_of).await?;
        actor.may_see_resources()?;
        let ids: Vec<String> = docs::docs_with_prefix::<serde_json::Value>(
            &reader.pool,
            &reader.tenant,
            reservations::NAME,
            "resource/",
        )
        .await?
        .into_iter()
        .filter_map(|(k, _)| k.strip_prefix("resource/").map(str::to_string))
        .collect();
        let mut items = Vec::new();
        for id in ids {
            match reader.resource(&id).await {
                Ok(resource) => items.push(ResourceView {
                    reader: reader.clone(),
                    resource,
                }),
                // Registered after `asOf`.
                Err(ApiError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        paginate(items, after, before, first, last).await
    }

    /// Open attendance alerts (L131-8: four unjustified half-days in a month), for vie
    /// scolaire and the head.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn attendance_alerts(
        &self,
        ctx: &Context<'_>,
        year: Option<String>,
        as_of: Option<DateTime<Utc>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<Page<AlertView>> {
        let (reader, actor) = caller(ctx, as_of).await?;
        actor.may_see_alerts()?;
        let year = super::types::year(&reader, year.as_deref()).await?;
        let mut items: Vec<AlertView> =
            attendance::alerts(&reader.pool, &reader.tenant, year.as_str())
                .await?
                .into_iter()
                .map(|a| AlertView {
                    student: a.student,
                    month: a.month,
                    unjustified_half_days: a.unjustified_half_days,
                })
                .collect();
        if reader.as_of.is_some() {
            // An alert counts if the student's record had reached it by then.
            let mut kept = Vec::new();
            for alert in items {
                let record = reader.attendance(&year, &alert.student).await?;
                if record.alerted_months.contains(&alert.month) {
                    kept.push(alert);
                }
            }
            items = kept;
        }
        paginate(items, after, before, first, last).await
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

/// The lesson `id` (`course@YYYY-MM-DD`, or an extra lesson's id) and the school year
/// whose timetable holds it: the year of its due date (the current one for an extra
/// lesson). `field` names the argument in errors.
pub async fn find_lesson(
    reader: &Reader,
    id: &str,
    field: &str,
) -> Result<(SchoolYear, Occurrence), ApiError> {
    let due = match id.split_once('@') {
        Some((_, d)) => Some(
            d.parse::<NaiveDate>()
                .map_err(|_| ApiError::validation(field, "a lesson id is `course@YYYY-MM-DD`"))?,
        ),
        None => None,
    };
    let year = match due {
        Some(date) => {
            let establishment = reader.establishment().await?;
            year_of(&establishment, date).ok_or_else(|| {
                ApiError::validation(field, format!("{date} is in no school year"))
            })?
        }
        None => year(reader, None).await?,
    };
    let t = reader
        .timetable(&year)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no timetable for {year}")))?;
    let found = t.occurrence_by_id(id).ok_or_else(|| {
        ApiError::not_found(format!("no lesson `{id}` in the timetable of {year}"))
    })?;
    Ok((year, found))
}
