//! The establishment's setup as lists: divisions, groups, subjects, staff, periods.
//! Each list is a keyed connection (`crate::schema::connection`): its cursors are the
//! items' ids, so they stay valid when items are added.

use async_graphql::ID;

use crate::schema::connection::{keyed, KeyedPage};
use crate::schema::node::{global_id, NodeType};
use crate::schema::prelude::*;

/// A subject, named one way everywhere: the establishment's code (what courses,
/// evaluations and gradebooks use, e.g. `MATHS`), its label, and the national code
/// (BCN/STS-Web, e.g. `061300`) when the establishment recorded it.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
#[graphql(name = "Subject")]
pub struct SubjectView {
    /// The establishment's code, e.g. `MATHS`.
    pub code: String,
    /// Its label, e.g. `Mathématiques` (the code when the subject is not recorded).
    pub label: String,
    /// The national code (BCN), e.g. `061300`, when known.
    pub national_code: Option<String>,
}

/// The subject `code` names in `e`, whether `code` is the establishment's short code
/// (`MATHS`) or the national one (`061300`); an unknown code stands for itself.
pub fn subject_of(e: &Establishment, code: &str) -> SubjectView {
    let found = e
        .subjects
        .iter()
        .find(|(national, s)| s.short == code || national.as_str() == code);
    match found {
        Some((national, s)) => SubjectView {
            code: s.short.clone(),
            label: s.name.clone(),
            national_code: Some(national.to_string()),
        },
        None => SubjectView {
            code: code.to_string(),
            label: code.to_string(),
            national_code: None,
        },
    }
}

/// A member of staff, as the establishment's staff see them.
pub struct StaffView {
    pub reader: Reader,
    pub actor: Arc<Actor>,
    pub id: String,
    pub establishment: Arc<Establishment>,
}

impl StaffView {
    /// The member of staff `id`, for the establishment's staff and auditors.
    pub async fn load(reader: &Reader, actor: &Arc<Actor>, id: &str) -> ApiResult<Self> {
        may_list_staff(actor)?;
        let establishment = reader.establishment().await?;
        if !establishment.staff.contains_key(id) {
            return Err(ApiError::not_found(Text::new(
                format!("aucun membre du personnel `{id}` dans cet établissement"),
                format!("no member of staff `{id}` here"),
            )));
        }
        Ok(StaffView {
            reader: reader.clone(),
            actor: actor.clone(),
            id: id.to_string(),
            establishment,
        })
    }
}

/// The staff list (names are personal data): the establishment's staff and auditors.
pub fn may_list_staff(actor: &Actor) -> ApiResult<()> {
    (actor.auditor || !actor.staff.is_empty())
        .then_some(())
        .ok_or_else(|| {
            ApiError::forbidden(Text::new(
                "la liste du personnel est réservée au personnel de l'établissement",
                "the staff list is for the establishment's staff",
            ))
        })
}

/// The services of `teacher` in `e` (every year, or `year`), subjects named in full.
pub fn services_of(
    e: &Establishment,
    teacher: &str,
    year: Option<&SchoolYear>,
) -> Vec<ServiceView> {
    e.years
        .iter()
        .filter(|(y, _)| year.is_none_or(|year| *y == year))
        .flat_map(|(y, spec)| {
            spec.services
                .iter()
                .filter(|s| s.teacher == teacher)
                .map(move |s| (y, s))
        })
        .map(|(y, s)| ServiceView {
            year: y.to_string(),
            subject: subject_of(e, s.subject.as_str()),
            class: crate::access::class_id(&s.class).to_string(),
        })
        .collect()
}

#[Object(name = "Staff")]
impl StaffView {
    /// The global id (see `node`).
    async fn id(&self) -> ID {
        global_id(NodeType::Staff, &self.reader.tenant, &self.id)
    }

    /// The establishment's id of the person, e.g. `prof001`.
    async fn local_id(&self) -> &str {
        &self.id
    }

    /// Null once the person's personal data was erased.
    async fn name(&self) -> GqlResult<Option<String>> {
        let Some(member) = self.establishment.staff.get(&self.id) else {
            return Ok(None);
        };
        Ok(self.reader.open(&member.name).await?)
    }

    async fn roles(&self) -> Vec<StaffRole> {
        self.establishment
            .staff
            .get(&self.id)
            .map(|m| m.roles.iter().map(|r| (*r).into()).collect())
            .unwrap_or_default()
    }

    /// Last day in the establishment, once the person left.
    async fn left_on(&self) -> Option<Date> {
        self.establishment
            .staff
            .get(&self.id)
            .and_then(|m| m.left_on)
            .map(Date)
    }

    /// The teacher's services, of every year or of `year`.
    async fn services(&self, year: Option<String>) -> GqlResult<Vec<ServiceView>> {
        let year = year.map(|y| school_year_arg("year", &y)).transpose()?;
        Ok(services_of(&self.establishment, &self.id, year.as_ref()))
    }

    /// The same person as a teacher (timetable, week), when they are one and the caller
    /// may see their timetable (vie scolaire, the head, the teacher themselves).
    async fn teacher(&self) -> GqlResult<Option<TeacherView>> {
        let Some(member) = self.establishment.staff.get(&self.id) else {
            return Ok(None);
        };
        if !member.roles.contains(&Role::Teacher) {
            return Ok(None);
        }
        self.actor.may_see_teacher(&self.id)?;
        Ok(Some(TeacherView {
            name: self.reader.open(&member.name).await?,
            reader: self.reader.clone(),
            actor: self.actor.clone(),
            id: self.id.clone(),
        }))
    }
}

/// A period (trimestre, semestre) of a school year.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex, name = "Period")]
pub struct PeriodView {
    /// The period's id, e.g. `T1`: what `reportCard(period:)` and `gradebook(period:)` take.
    pub id: String,
    pub label: String,
    pub year: String,
    pub from: Date,
    pub to: Date,
    #[graphql(skip)]
    pub context: (Reader, Arc<Actor>, SchoolYear),
}

#[ComplexObject]
impl PeriodView {
    /// Whether the class council closed the period for `class` (its gradebook); null
    /// when the class has no gradebook for it. For those who may see the class.
    async fn closed(&self, class: String) -> GqlResult<Option<bool>> {
        let (reader, actor, year) = &self.context;
        actor.may_see_class(year, &class)?;
        Ok(reader
            .gradebook(year, &class, &self.id)
            .await?
            .map(|book| book.closed))
    }
}

/// The classes of `year` the caller may list: all of them (`None`) for the
/// establishment's staff and auditors; for a student or a guardian, those of the
/// student or the children.
async fn listed_classes(
    reader: &Reader,
    actor: &Actor,
    year: &SchoolYear,
) -> ApiResult<Option<BTreeSet<String>>> {
    if actor.sees_establishment() || !actor.staff.is_empty() {
        return Ok(None);
    }
    let mut students: Vec<&str> = actor
        .children
        .iter()
        .filter(|(_, r)| r.see)
        .map(|(c, _)| c.as_str())
        .collect();
    if actor.student {
        students.push(actor.person.as_str());
    }
    let mut classes = BTreeSet::new();
    for id in students {
        let record = match reader.student(id).await {
            Ok(r) => r,
            Err(ApiError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        classes.extend(
            student_classes(&record)
                .into_iter()
                .filter(|(y, _)| y == year)
                .map(|(_, c)| c),
        );
    }
    Ok(Some(classes))
}

impl ClassView {
    /// The division or group `id` of `year`, for those who may see it.
    pub async fn load(
        reader: &Reader,
        actor: &Arc<Actor>,
        year: SchoolYear,
        id: &str,
    ) -> ApiResult<Self> {
        actor.may_see_class(&year, id)?;
        let establishment = reader.establishment().await?;
        let y = establishment.years.get(&year).ok_or_else(|| {
            ApiError::not_found(Text::new(
                format!("l'année scolaire {year} n'est pas ouverte dans cet établissement"),
                format!("school year {year} is not open here"),
            ))
        })?;
        let (name, is_group) = match (y.divisions.get(id), y.groups.get(id)) {
            (Some(d), _) => (d.name.clone(), false),
            (None, Some(g)) => (g.name.clone(), true),
            (None, None) => {
                return Err(ApiError::not_found(Text::new(
                    format!("aucune division ni aucun groupe `{id}` en {year}"),
                    format!("no division or group `{id}` in {year}"),
                )))
            }
        };
        Ok(ClassView {
            reader: reader.clone(),
            actor: actor.clone(),
            year,
            id: id.to_string(),
            name,
            is_group,
        })
    }
}

/// Which classes `classes` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ClassKind {
    Division,
    Group,
}

#[derive(Debug, Default)]
pub struct ListsQuery;

impl ListsQuery {
    async fn class_list(
        ctx: &Context<'_>,
        year: Option<String>,
        kind: Option<ClassKind>,
        as_of: Option<DateTime<Utc>>,
    ) -> ApiResult<Vec<(String, ClassView)>> {
        let (reader, actor) = caller(ctx, as_of).await?;
        let year = year_arg(&reader, year).await?;
        let establishment = reader.establishment().await?;
        let Some(y) = establishment.years.get(&year) else {
            return Ok(Vec::new());
        };
        let shown = listed_classes(&reader, &actor, &year).await?;
        let divisions = y
            .divisions
            .values()
            .filter(|_| kind != Some(ClassKind::Group))
            .map(|d| (d.id.clone(), d.name.clone(), false));
        let groups = y
            .groups
            .values()
            .filter(|_| kind != Some(ClassKind::Division))
            .map(|g| (g.id.clone(), g.name.clone(), true));
        Ok(divisions
            .chain(groups)
            .filter(|(id, _, _)| shown.as_ref().is_none_or(|s| s.contains(id)))
            .map(|(id, name, is_group)| {
                (
                    id.clone(),
                    ClassView {
                        reader: reader.clone(),
                        actor: actor.clone(),
                        year: year.clone(),
                        id,
                        name,
                        is_group,
                    },
                )
            })
            .collect())
    }
}

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl ListsQuery {
    /// The divisions of a school year (the current one by default), by id: all of them
    /// for the establishment's staff, those of their children for a guardian, their own
    /// for a student. Roster, timetable and gradebooks stay for those who may see the
    /// class.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn divisions(
        &self,
        ctx: &Context<'_>,
        year: Option<String>,
        as_of: Option<DateTime<Utc>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<KeyedPage<ClassView>> {
        let items = Self::class_list(ctx, year, Some(ClassKind::Division), as_of).await?;
        keyed(items, after, before, first, last).await
    }

    /// The groups of a school year (the current one by default), by id, seen as
    /// `divisions` are.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn groups(
        &self,
        ctx: &Context<'_>,
        year: Option<String>,
        as_of: Option<DateTime<Utc>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<KeyedPage<ClassView>> {
        let items = Self::class_list(ctx, year, Some(ClassKind::Group), as_of).await?;
        keyed(items, after, before, first, last).await
    }

    /// Divisions and groups of a school year (the current one by default), or those of
    /// one `kind`, by id, seen as `divisions` are.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn classes(
        &self,
        ctx: &Context<'_>,
        year: Option<String>,
        kind: Option<ClassKind>,
        as_of: Option<DateTime<Utc>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<KeyedPage<ClassView>> {
        let items = Self::class_list(ctx, year, kind, as_of).await?;
        keyed(items, after, before, first, last).await
    }

    /// The establishment's subjects, by code.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn subjects(
        &self,
        ctx: &Context<'_>,
        as_of: Option<DateTime<Utc>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<KeyedPage<SubjectView>> {
        let (reader, _) = caller(ctx, as_of).await?;
        let establishment = reader.establishment().await?;
        let items = establishment
            .subjects
            .iter()
            .map(|(national, s)| {
                (
                    s.short.clone(),
                    SubjectView {
                        code: s.short.clone(),
                        label: s.name.clone(),
                        national_code: Some(national.to_string()),
                    },
                )
            })
            .collect();
        keyed(items, after, before, first, last).await
    }

    /// The establishment's staff (of one `role`, e.g. `TEACHER`), by id, with those who
    /// left: for the establishment's staff and auditors.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn staff(
        &self,
        ctx: &Context<'_>,
        role: Option<StaffRole>,
        as_of: Option<DateTime<Utc>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<KeyedPage<StaffView>> {
        let (reader, actor) = caller(ctx, as_of).await?;
        may_list_staff(&actor)?;
        let establishment = reader.establishment().await?;
        let items = establishment
            .staff
            .iter()
            .filter(|(_, m)| role.is_none_or(|r| m.roles.contains(&r.into())))
            .map(|(id, _)| {
                (
                    id.clone(),
                    StaffView {
                        reader: reader.clone(),
                        actor: actor.clone(),
                        id: id.clone(),
                        establishment: establishment.clone(),
                    },
                )
            })
            .collect();
        keyed(items, after, before, first, last).await
    }

    /// The periods of a school year (the current one by default), in order.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn periods(
        &self,
        ctx: &Context<'_>,
        year: Option<String>,
        as_of: Option<DateTime<Utc>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<KeyedPage<PeriodView>> {
        let (reader, actor) = caller(ctx, as_of).await?;
        let year = year_arg(&reader, year).await?;
        let establishment = reader.establishment().await?;
        let periods = establishment
            .years
            .get(&year)
            .map(|y| y.periods.clone())
            .unwrap_or_default();
        // Keyed by first day (then id): periods do not overlap, so this is their order.
        let items = periods
            .into_iter()
            .map(|p| {
                (
                    format!("{}/{}", p.from, p.id),
                    PeriodView {
                        id: p.id,
                        label: p.name,
                        year: year.to_string(),
                        from: p.from.into(),
                        to: p.to.into(),
                        context: (reader.clone(), actor.clone(), year.clone()),
                    },
                )
            })
            .collect();
        keyed(items, after, before, first, last).await
    }
}

/// What a caller acts as in the establishment (`me.roles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ActingRole {
    Guardian,
    Student,
    Teacher,
    Cpe,
    Aed,
    Secretariat,
    Principal,
    /// An inspector or auditor: reads everything of their scope, writes nothing.
    Auditor,
}

impl From<Role> for ActingRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Teacher => ActingRole::Teacher,
            Role::Cpe => ActingRole::Cpe,
            Role::Aed => ActingRole::Aed,
            Role::Secretariat => ActingRole::Secretariat,
            Role::Principal => ActingRole::Principal,
        }
    }
}
