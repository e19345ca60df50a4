//! The timetable commands: courses, rooms, extra, cancelled and moved lessons,
//! replacements.

use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct TimetableMutation;

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl TimetableMutation {
    /// A lesson does not take place (teacher absent, outing): its course and due date.
    async fn cancel_lesson(
        &self,
        ctx: &Context<'_>,
        course: String,
        date: NaiveDate,
        reason: String,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_administer("changing the timetable")?;
        let year = c.year_of(date).await?;
        let command = TimetableCommand::CancelOccurrence {
            course,
            date,
            reason,
        };
        c.run(
            "cancel_lesson",
            &c.school.timetable,
            year.as_str(),
            command,
            None,
        )
        .await
    }

    /// A lesson moves to another day, time or room.
    async fn move_lesson(
        &self,
        ctx: &Context<'_>,
        course: String,
        date: NaiveDate,
        to_date: NaiveDate,
        start: NaiveTime,
        end: NaiveTime,
        room: Option<String>,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_administer("changing the timetable")?;
        let year = c.year_of(date).await?;
        let command = TimetableCommand::MoveOccurrence {
            course,
            date,
            to_date,
            start,
            end,
            room,
        };
        c.run(
            "move_lesson",
            &c.school.timetable,
            year.as_str(),
            command,
            None,
        )
        .await
    }

    /// Another teacher takes one lesson (remplacement).
    async fn replace_teacher(
        &self,
        ctx: &Context<'_>,
        course: String,
        date: NaiveDate,
        teachers: Vec<String>,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_administer("changing the timetable")?;
        let year = c.year_of(date).await?;
        let command = TimetableCommand::ReplaceTeacher {
            course,
            date,
            teachers,
        };
        c.run(
            "replace_teacher",
            &c.school.timetable,
            year.as_str(),
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
            .unwrap_or_else(|| crate::schema::common::today(&c.reader, &establishment));
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
}
