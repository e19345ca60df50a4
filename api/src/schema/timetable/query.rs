//! The timetable queries.

use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct TimetableQuery;

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl TimetableQuery {
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
}
