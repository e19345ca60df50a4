//! Relay's global object identification: the `Node` interface, global ids, and the
//! `node`/`nodes` queries.
//!
//! A global id is opaque to clients: base64url (no padding) of `Type:UAI:localId`, e.g.
//! `Student:0750655E:eleve00001`, `Class:0750655E:2026-2027/4A`,
//! `Booking:0750655E:salle-101/resa-1`. It names the establishment, so an id of
//! another establishment is refused (NOT_FOUND) rather than read in the caller's one,
//! and each type's lookup checks the caller's rights exactly as its own query does.

use async_graphql::ID;
use base64::Engine;

use crate::schema::prelude::*;

/// The types that have a global id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    Student,
    Class,
    Teacher,
    Staff,
    Lesson,
    Resource,
    Booking,
}

impl NodeType {
    const ALL: [NodeType; 7] = [
        NodeType::Student,
        NodeType::Class,
        NodeType::Teacher,
        NodeType::Staff,
        NodeType::Lesson,
        NodeType::Resource,
        NodeType::Booking,
    ];

    pub fn name(self) -> &'static str {
        match self {
            NodeType::Student => "Student",
            NodeType::Class => "Class",
            NodeType::Teacher => "Teacher",
            NodeType::Staff => "Staff",
            NodeType::Lesson => "Lesson",
            NodeType::Resource => "Resource",
            NodeType::Booking => "Booking",
        }
    }
}

/// The global id of `local` of type `t` in the establishment `uai`.
pub fn global_id(t: NodeType, uai: &impl std::fmt::Display, local: &str) -> ID {
    ID(base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}:{uai}:{local}", t.name()).as_bytes()))
}

/// The type, establishment and local id a global id names, if it is one.
pub fn parse_global(id: &str) -> Option<(NodeType, String, String)> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (name, rest) = text.split_once(':')?;
    let (uai, local) = rest.split_once(':')?;
    let t = NodeType::ALL.into_iter().find(|t| t.name() == name)?;
    if uai.is_empty() || local.is_empty() {
        return None;
    }
    Some((t, uai.to_string(), local.to_string()))
}

/// The local id a lookup argument names: a global id of type `t` of the caller's
/// establishment gives its local id; a global id of another type or establishment is
/// NOT_FOUND; anything else is taken as a local id.
pub fn local_id(reader: &Reader, t: NodeType, arg: &str) -> ApiResult<String> {
    match parse_global(arg) {
        None => Ok(arg.to_string()),
        Some((found, uai, local)) if found == t && uai == reader.tenant.to_string() => Ok(local),
        Some(_) => Err(ApiError::not_found(Text::new(
            format!(
                "`{arg}` n'est pas l'identifiant d'un objet {} de cet établissement",
                t.name()
            ),
            format!(
                "`{arg}` is not the id of a {} of this establishment",
                t.name()
            ),
        ))),
    }
}

/// An object with a global id: `node(id:)` finds it again.
#[derive(async_graphql::Interface)]
#[graphql(field(
    name = "id",
    method = "node_id",
    ty = "ID",
    desc = "The global id: opaque, unique across types and establishments."
))]
pub enum Node {
    Student(StudentView),
    Class(ClassView),
    Teacher(TeacherView),
    Staff(StaffView),
    Lesson(Lesson),
    Resource(ResourceView),
    Booking(BookingView),
}

// The `id` of each node type, for the interface (the objects' own `id` fields say the
// same).
impl StudentView {
    pub async fn node_id(&self, _: &Context<'_>) -> GqlResult<ID> {
        Ok(global_id(NodeType::Student, &self.reader.tenant, &self.id))
    }
}

impl ClassView {
    pub fn local_key(&self) -> String {
        format!("{}/{}", self.year, self.id)
    }

    pub async fn node_id(&self, _: &Context<'_>) -> GqlResult<ID> {
        Ok(global_id(
            NodeType::Class,
            &self.reader.tenant,
            &self.local_key(),
        ))
    }
}

impl TeacherView {
    pub async fn node_id(&self, _: &Context<'_>) -> GqlResult<ID> {
        Ok(global_id(NodeType::Teacher, &self.reader.tenant, &self.id))
    }

    /// The teacher `id`, for those who may see their timetable.
    pub async fn load(reader: &Reader, actor: &Arc<Actor>, id: &str) -> ApiResult<Self> {
        actor.may_see_teacher(id)?;
        let establishment = reader.establishment().await?;
        let member = establishment
            .staff
            .get(id)
            .filter(|m| m.roles.contains(&Role::Teacher))
            .ok_or_else(|| {
                ApiError::not_found(Text::new(
                    format!("aucun enseignant `{id}` dans cet établissement"),
                    format!("no teacher `{id}` here"),
                ))
            })?;
        Ok(TeacherView {
            name: reader.open(&member.name).await?,
            reader: reader.clone(),
            actor: actor.clone(),
            id: id.to_string(),
        })
    }
}

impl StaffView {
    pub async fn node_id(&self, _: &Context<'_>) -> GqlResult<ID> {
        Ok(global_id(NodeType::Staff, &self.reader.tenant, &self.id))
    }
}

impl Lesson {
    pub async fn node_id(&self, _: &Context<'_>) -> GqlResult<ID> {
        Ok(global_id(
            NodeType::Lesson,
            &self.context.0.tenant,
            &self.id,
        ))
    }

    /// The lesson `id`, for those who may see it: vie scolaire and administration, its
    /// teachers, the teachers of its classes.
    /// An extra lesson (its id has no date) is looked for in the timetable of `year`,
    /// by default the current school year.
    pub async fn load(
        reader: &Reader,
        actor: &Arc<Actor>,
        id: &str,
        year: Option<SchoolYear>,
    ) -> ApiResult<Self> {
        let (year, found) = find_lesson_in(reader, id, "id", year).await?;
        let lesson = Lesson::new(found, reader, actor, &year);
        if !(actor.sees_establishment()
            || lesson.teachers.contains(&actor.person)
            || lesson
                .divisions
                .iter()
                .chain(&lesson.groups)
                .any(|c| actor.teaches(&year, c)))
        {
            return Err(ApiError::forbidden(Text::new(
                "vous ne pouvez pas voir ce cours",
                "you may not see this lesson",
            )));
        }
        Ok(lesson)
    }
}

impl ResourceView {
    pub async fn node_id(&self, _: &Context<'_>) -> GqlResult<ID> {
        Ok(global_id(
            NodeType::Resource,
            &self.reader.tenant,
            &self.resource.id,
        ))
    }

    /// The resource `id`, for the establishment's staff.
    pub async fn load(reader: &Reader, actor: &Arc<Actor>, id: &str) -> ApiResult<Self> {
        actor.may_see_resources()?;
        let resource = reader.resource(id).await?;
        Ok(ResourceView {
            reader: reader.clone(),
            resource,
        })
    }
}

impl BookingView {
    pub async fn node_id(&self, _: &Context<'_>) -> GqlResult<ID> {
        Ok(global_id(
            NodeType::Booking,
            &self.reader.tenant,
            &format!("{}/{}", self.resource, self.id),
        ))
    }
}

/// The object a global id names, if the caller may see it, or NOT_FOUND / FORBIDDEN as
/// the type's own lookup answers.
pub async fn load_node(reader: &Reader, actor: &Arc<Actor>, id: &str) -> ApiResult<Node> {
    let not_found = || {
        ApiError::not_found(Text::new(
            format!("`{id}` n'est pas un identifiant de cet établissement"),
            format!("`{id}` is not an id of this establishment"),
        ))
    };
    let (t, uai, local) = parse_global(id).ok_or_else(not_found)?;
    if uai != reader.tenant.to_string() {
        return Err(not_found());
    }
    Ok(match t {
        NodeType::Student => Node::Student(StudentView::load(reader, actor, &local).await?),
        NodeType::Class => {
            let (year, class) = local.split_once('/').ok_or_else(not_found)?;
            let year = SchoolYear::parse(year).map_err(|_| not_found())?;
            Node::Class(ClassView::load(reader, actor, year, class).await?)
        }
        NodeType::Teacher => Node::Teacher(TeacherView::load(reader, actor, &local).await?),
        NodeType::Staff => Node::Staff(StaffView::load(reader, actor, &local).await?),
        NodeType::Lesson => Node::Lesson(Lesson::load(reader, actor, &local, None).await?),
        NodeType::Resource => Node::Resource(ResourceView::load(reader, actor, &local).await?),
        NodeType::Booking => {
            let (resource, booking) = local.rsplit_once('/').ok_or_else(not_found)?;
            let view = ResourceView::load(reader, actor, resource).await?;
            let b = view.resource.bookings.get(booking).ok_or_else(not_found)?;
            Node::Booking(self::booking(reader, resource, b))
        }
    })
}

/// The class a lookup argument names: a global id (which carries its year), or a local
/// id in `year`.
pub fn class_arg(reader: &Reader, arg: &str) -> ApiResult<(Option<SchoolYear>, String)> {
    let local = local_id(reader, NodeType::Class, arg)?;
    if local == arg {
        return Ok((None, local));
    }
    let not_a_class = || {
        ApiError::not_found(Text::new(
            format!("`{arg}` n'est pas un identifiant de division ou de groupe"),
            format!("`{arg}` is not a class id"),
        ))
    };
    let (year, class) = local.split_once('/').ok_or_else(not_a_class)?;
    let year = SchoolYear::parse(year).map_err(|_| not_a_class())?;
    Ok((Some(year), class.to_string()))
}

#[derive(Debug, Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// The object a global id names (Relay), checked as the type's own query checks it:
    /// null, with NOT_FOUND or FORBIDDEN, for an id that is forged, of another
    /// establishment, or not the caller's to see.
    async fn node(
        &self,
        ctx: &Context<'_>,
        id: ID,
        as_of: Option<DateTime<Utc>>,
    ) -> GqlResult<Option<Node>> {
        let (reader, actor) = caller(ctx, as_of).await?;
        Ok(Some(load_node(&reader, &actor, &id).await?))
    }

    /// The objects global ids name, in the order asked: each null, with its error, when
    /// `node` would answer null. At most 100 ids.
    #[graphql(complexity = "ids.len().max(1) * child_complexity + 1")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
        as_of: Option<DateTime<Utc>>,
    ) -> GqlResult<Vec<Option<GqlResult<Node>>>> {
        if ids.len() > 100 {
            return Err(ApiError::validation(
                "ids",
                Text::new("au plus 100 identifiants", "at most 100 ids"),
            )
            .into());
        }
        let (reader, actor) = caller(ctx, as_of).await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(Some(
                load_node(&reader, &actor, &id).await.map_err(Into::into),
            ));
        }
        Ok(out)
    }
}
