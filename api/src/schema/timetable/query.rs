//! The timetable queries.

use crate::schema::node::{local_id, NodeType};
use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct TimetableQuery;

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl TimetableQuery {
    /// One lesson by its id (`course@date`) or global id, with its register for those
    /// who may see it. Null, with the error, when unknown or not the caller's to see.
    /// A lesson is in the timetable of the school year of its date; an extra lesson
    /// (whose id has no date) in that of `year`, by default the current school year
    /// (that of today, or of `asOf`, in the establishment's time zone).
    async fn lesson(
        &self,
        ctx: &Context<'_>,
        id: String,
        year: Option<String>,
        as_of: Option<DateTime<Utc>>,
    ) -> GqlResult<Option<Lesson>> {
        let (reader, actor) = caller(ctx, as_of).await?;
        let id = local_id(&reader, NodeType::Lesson, &id)?;
        let year = year.map(|y| school_year_arg("year", &y)).transpose()?;
        Ok(Some(Lesson::load(&reader, &actor, &id, year).await?))
    }
}
