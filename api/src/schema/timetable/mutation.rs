//! The timetable commands: courses, rooms, extra, cancelled and moved lessons,
//! replacements.
//!
//! The timetable's read model is updated after the command, asynchronously: what a
//! mutation answers is read from the write side instead (the year's `Timetable` as the
//! next command would be decided on), so that it shows what the command did.

use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct TimetableMutation;

/// A lesson that does not take place.
#[derive(Debug, Clone, InputObject)]
pub struct CancelLessonInput {
    /// The lesson's course (or extra lesson).
    pub course: String,
    /// The day the lesson is due.
    pub date: Date,
    /// Why, as families read it next to the crossed-out lesson.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A lesson moving to another day, time or room.
#[derive(Debug, Clone, InputObject)]
pub struct MoveLessonInput {
    pub course: String,
    /// The day the lesson is due.
    pub date: Date,
    /// The day it takes place instead.
    pub to_date: Date,
    /// Local times of the establishment.
    pub start: Time,
    pub end: Time,
    /// Another room; by default its own.
    pub room: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// Another teacher for one lesson.
#[derive(Debug, Clone, InputObject)]
pub struct ReplaceTeacherInput {
    pub course: String,
    /// The day the lesson is due.
    pub date: Date,
    /// Who teaches it instead.
    pub teachers: Vec<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A recurring course.
#[derive(Debug, Clone, InputObject)]
pub struct AddCourseInput {
    pub course: CourseInput,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// The end of a course.
#[derive(Debug, Clone, InputObject)]
pub struct EndCourseInput {
    pub course: String,
    /// Its last day: its lessons after it are gone.
    pub last_day: Date,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// Another room for one lesson.
#[derive(Debug, Clone, InputObject)]
pub struct ChangeRoomInput {
    pub course: String,
    /// The day the lesson is due.
    pub date: Date,
    pub room: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A one-off lesson.
#[derive(Debug, Clone, InputObject)]
pub struct AddExtraLessonInput {
    pub lesson: ExtraLessonInput,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    CancelLessonPayload,
    "The lesson, cancelled (its `cancelled` reason set).",
    lesson: Lesson
);
payload!(
    MoveLessonPayload,
    "The lesson where it now takes place (its id stays that of its due day).",
    lesson: Lesson
);
payload!(
    ReplaceTeacherPayload,
    "The lesson, with its teachers for the day.",
    lesson: Lesson
);
payload!(
    AddCoursePayload,
    "The lessons of the course in its school year, first to last.",
    lessons: Vec<Lesson>
);
payload!(
    EndCoursePayload,
    "The lessons the course keeps, those up to its last day.",
    lessons: Vec<Lesson>
);
payload!(
    ChangeRoomPayload,
    "The lesson, in its room for the day.",
    lesson: Lesson
);
payload!(
    AddExtraLessonPayload,
    "The extra lesson (its id is the one roll calls use).",
    lesson: Lesson
);

/// The year's timetable as the command left it: its write side, which the read model
/// follows asynchronously.
async fn written(c: &Command<'_>, year: &SchoolYear) -> ApiResult<Timetable> {
    let (_, timetable) = c
        .school
        .timetable
        .state(year.as_str())
        .await
        .map_err(ApiError::from)?;
    Ok(timetable)
}

/// The lesson as the `lesson` query shows it, `None` when the caller may not see it.
fn visible(c: &Command<'_>, year: &SchoolYear, o: Occurrence) -> Option<Lesson> {
    let lesson = Lesson::new(o, &c.reader.fresh(), &c.actor, year);
    let actor = &c.actor;
    (actor.sees_establishment()
        || lesson.teachers.contains(&actor.person)
        || lesson
            .divisions
            .iter()
            .chain(&lesson.groups)
            .any(|class| actor.teaches(year, class)))
    .then_some(lesson)
}

/// The lesson of `course` due on `date` (an extra lesson's id is its course's), as the
/// command left it.
async fn lesson_after(
    c: &Command<'_>,
    year: &SchoolYear,
    course: &str,
    date: NaiveDate,
) -> ApiResult<Option<Lesson>> {
    let t = written(c, year).await?;
    let found = t
        .occurrence_by_id(&format!("{course}@{date}"))
        .or_else(|| t.occurrence_by_id(course));
    Ok(found.and_then(|o| visible(c, year, o)))
}

/// The lessons of `course` in the year, as the command left them.
async fn course_lessons(
    c: &Command<'_>,
    year: &SchoolYear,
    course: &str,
) -> ApiResult<Option<Vec<Lesson>>> {
    let t = written(c, year).await?;
    let Some(spec) = t.course(course) else {
        return Ok(None);
    };
    let mut lessons = Vec::new();
    let mut day = spec.valid_from;
    while day <= spec.valid_to {
        if day.weekday() == spec.weekday {
            if let Some(o) = t.occurrence_by_id(&format!("{course}@{day}")) {
                match visible(c, year, o) {
                    Some(lesson) => lessons.push(lesson),
                    None => return Ok(None),
                }
            }
        }
        day += Duration::days(1);
    }
    lessons.sort_by(|a, b| (a.start_utc, &a.id).cmp(&(b.start_utc, &b.id)));
    Ok(Some(lessons))
}

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl TimetableMutation {
    /// A lesson does not take place (teacher absent, outing): its course and due date.
    async fn cancel_lesson(
        &self,
        ctx: &Context<'_>,
        input: CancelLessonInput,
    ) -> GqlResult<CancelLessonPayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_administer("changing the timetable")?;
        let year = c.year_of(input.date.0).await?;
        let command = TimetableCommand::CancelOccurrence {
            course: input.course.clone(),
            date: input.date.0,
            reason: input.reason,
        };
        let result = c
            .run(
                "cancel_lesson",
                &c.school.timetable,
                year.as_str(),
                command,
                None,
            )
            .await?;
        let lesson = lesson_after(&c, &year, &input.course, input.date.0).await?;
        Ok(CancelLessonPayload { result, lesson })
    }

    /// A lesson moves to another day, time or room.
    async fn move_lesson(
        &self,
        ctx: &Context<'_>,
        input: MoveLessonInput,
    ) -> GqlResult<MoveLessonPayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_administer("changing the timetable")?;
        let year = c.year_of(input.date.0).await?;
        let command = TimetableCommand::MoveOccurrence {
            course: input.course.clone(),
            date: input.date.0,
            to_date: input.to_date.0,
            start: input.start.0,
            end: input.end.0,
            room: input.room,
        };
        let result = c
            .run(
                "move_lesson",
                &c.school.timetable,
                year.as_str(),
                command,
                None,
            )
            .await?;
        let lesson = lesson_after(&c, &year, &input.course, input.date.0).await?;
        Ok(MoveLessonPayload { result, lesson })
    }

    /// Another teacher takes one lesson (remplacement).
    async fn replace_teacher(
        &self,
        ctx: &Context<'_>,
        input: ReplaceTeacherInput,
    ) -> GqlResult<ReplaceTeacherPayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_administer("changing the timetable")?;
        let year = c.year_of(input.date.0).await?;
        let command = TimetableCommand::ReplaceTeacher {
            course: input.course.clone(),
            date: input.date.0,
            teachers: input.teachers,
        };
        let result = c
            .run(
                "replace_teacher",
                &c.school.timetable,
                year.as_str(),
                command,
                None,
            )
            .await?;
        let lesson = lesson_after(&c, &year, &input.course, input.date.0).await?;
        Ok(ReplaceTeacherPayload { result, lesson })
    }

    /// A recurring course of the timetable; refused when it clashes with another
    /// lesson (teacher, room, division or group) on any day.
    async fn add_course(
        &self,
        ctx: &Context<'_>,
        input: AddCourseInput,
    ) -> GqlResult<AddCoursePayload> {
        let c = Command::sent(ctx, input.options).await?;
        let course = input.course;
        c.actor.may_administer("changing the timetable")?;
        non_empty(&course.subject, "course.subject")?;
        let establishment = c.reader.establishment().await?;
        let anchor = course
            .valid_from
            .map(|d| d.0)
            .unwrap_or_else(|| crate::schema::common::today(&c.reader, &establishment));
        let year = year_containing(&establishment, anchor, "course.validFrom")?;
        let bounds = &establishment.years[&year];
        let valid_from = course.valid_from.map_or(bounds.first_day, |d| d.0);
        let valid_to = course.valid_to.map_or(bounds.last_day, |d| d.0);
        if valid_to > bounds.last_day {
            return Err(ApiError::validation(
                "course.validTo",
                Text::new(
                    format!(
                        "est après la fin de l'année scolaire {year} ({})",
                        bounds.last_day
                    ),
                    format!("is after the end of {year} ({})", bounds.last_day),
                ),
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
                        Text::new(
                            "avec LISTED, il faut au moins un lundi",
                            "LISTED weeks need at least one Monday",
                        ),
                    )
                    .into());
                }
                WeekPattern::Weeks(
                    course
                        .listed_weeks
                        .iter()
                        .map(|d| d.0)
                        .collect::<BTreeSet<_>>(),
                )
            }
        };
        let id = c.new_id(course.id, "course");
        let a = course.attendees;
        let command = TimetableCommand::AddCourse(CourseSpec {
            id: id.clone(),
            weekday: course.day.into(),
            start: course.start.0,
            end: course.end.0,
            subject: course.subject,
            teachers: a.teachers,
            divisions: a.divisions,
            groups: a.groups,
            room: a.room,
            weeks,
            valid_from,
            valid_to,
        });
        let result = c
            .run(
                "add_course",
                &c.school.timetable,
                year.as_str(),
                command,
                Some(id.clone()),
            )
            .await?;
        let lessons = course_lessons(&c, &year, &id).await?;
        Ok(AddCoursePayload { result, lessons })
    }

    /// The course stops after `lastDay`: its later lessons are gone, the earlier ones
    /// (and their roll calls) stay.
    async fn end_course(
        &self,
        ctx: &Context<'_>,
        input: EndCourseInput,
    ) -> GqlResult<EndCoursePayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_administer("changing the timetable")?;
        let year = c.year_of(input.last_day.0).await?;
        let command = TimetableCommand::EndCourse {
            id: input.course.clone(),
            last_day: input.last_day.0,
        };
        let result = c
            .run(
                "end_course",
                &c.school.timetable,
                year.as_str(),
                command,
                None,
            )
            .await?;
        let lessons = course_lessons(&c, &year, &input.course).await?;
        Ok(EndCoursePayload { result, lessons })
    }

    /// One lesson takes place in another room.
    async fn change_room(
        &self,
        ctx: &Context<'_>,
        input: ChangeRoomInput,
    ) -> GqlResult<ChangeRoomPayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_administer("changing the timetable")?;
        non_empty(&input.room, "room")?;
        let year = c.year_of(input.date.0).await?;
        let command = TimetableCommand::ChangeRoom {
            course: input.course.clone(),
            date: input.date.0,
            room: input.room,
        };
        let result = c
            .run(
                "change_room",
                &c.school.timetable,
                year.as_str(),
                command,
                None,
            )
            .await?;
        let lesson = lesson_after(&c, &year, &input.course, input.date.0).await?;
        Ok(ChangeRoomPayload { result, lesson })
    }

    /// A one-off lesson (cours exceptionnel): a catch-up lesson, a test in a double
    /// period. Its roll call is taken like any other's, under the id it answers.
    async fn add_extra_lesson(
        &self,
        ctx: &Context<'_>,
        input: AddExtraLessonInput,
    ) -> GqlResult<AddExtraLessonPayload> {
        let c = Command::sent(ctx, input.options).await?;
        let lesson = input.lesson;
        c.actor.may_administer("changing the timetable")?;
        non_empty(&lesson.subject, "lesson.subject")?;
        let establishment = c.reader.establishment().await?;
        let year = year_containing(&establishment, lesson.date.0, "lesson.date")?;
        check_attendees(&establishment, &year, &lesson.attendees, lesson.date.0)?;
        let id = c.new_id(lesson.id, "extra");
        let a = lesson.attendees;
        let command = TimetableCommand::AddExtraLesson(ExtraLesson {
            id: id.clone(),
            date: lesson.date.0,
            start: lesson.start.0,
            end: lesson.end.0,
            subject: lesson.subject,
            teachers: a.teachers,
            divisions: a.divisions,
            groups: a.groups,
            room: a.room,
        });
        // An extra lesson's id is its lesson id too (it has one day only).
        let result = c
            .run(
                "add_extra_lesson",
                &c.school.timetable,
                year.as_str(),
                command,
                Some(id.clone()),
            )
            .await?;
        let t = written(&c, &year).await?;
        let lesson = t.occurrence_by_id(&id).and_then(|o| visible(&c, &year, o));
        Ok(AddExtraLessonPayload { result, lesson })
    }
}
