//! The timetable: weekly courses, their lessons, and one-off changes.

mod calendar;
mod mutation;
mod query;

pub(crate) use calendar::*;
pub(crate) use mutation::TimetableMutation;
pub(crate) use query::TimetableQuery;

use crate::schema::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum LessonKind {
    Regular,
    Moved,
    Extra,
}

/// One lesson on one day, exceptions applied.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Lesson {
    /// The establishment's id of the lesson, what roll calls use: `course@due-date`.
    #[graphql(name = "localId")]
    pub id: String,
    pub course: String,
    pub date: Date,
    /// Local times of the establishment.
    pub start: LocalDateTime,
    pub end: LocalDateTime,
    pub start_utc: DateTime<Utc>,
    /// The subject's code in the establishment (`MATHS`), as `Subject.code` and
    /// evaluations say it; `subjectInfo` gives its label and national code.
    pub subject: String,
    pub teachers: Vec<String>,
    pub divisions: Vec<String>,
    pub groups: Vec<String>,
    pub room: Option<String>,
    /// Week A or B of the alternation; null for a course of every week.
    pub week: Option<AlternatingWeek>,
    pub kind: LessonKind,
    /// The day it was due, when moved.
    pub moved_from: Option<Date>,
    /// Why it does not take place, when cancelled.
    pub cancelled: Option<String>,
    #[graphql(skip)]
    pub context: (Reader, Arc<Actor>, SchoolYear),
}

impl Lesson {
    pub fn new(o: Occurrence, reader: &Reader, actor: &Arc<Actor>, year: &SchoolYear) -> Self {
        let (kind, moved_from) = match o.kind {
            OccurrenceKind::Regular => (LessonKind::Regular, None),
            OccurrenceKind::Moved { from_date } => (LessonKind::Moved, Some(from_date.into())),
            OccurrenceKind::Extra => (LessonKind::Extra, None),
        };
        Lesson {
            id: o.id,
            course: o.course,
            date: o.date.into(),
            start: o.start.into(),
            end: o.end.into(),
            start_utc: o.start_utc,
            subject: o.subject,
            teachers: o.teachers,
            divisions: o.divisions,
            groups: o.groups,
            room: o.room,
            week: o.week.map(Into::into),
            kind,
            moved_from,
            cancelled: o.cancelled,
            context: (reader.clone(), actor.clone(), year.clone()),
        }
    }
}

/// One line of a lesson's register.
#[derive(Debug, Clone, SimpleObject)]
pub struct RegisterLine {
    pub student: String,
    pub status: AttendanceStatus,
    pub corrected_from: Vec<AttendanceStatus>,
}

#[ComplexObject]
impl Lesson {
    /// The global id (see `node`).
    #[graphql(name = "id")]
    async fn global_id(&self) -> async_graphql::ID {
        crate::schema::node::global_id(
            crate::schema::node::NodeType::Lesson,
            &self.context.0.tenant,
            &self.id,
        )
    }

    /// The subject: its code, label and national code.
    async fn subject_info(&self) -> GqlResult<SubjectView> {
        let establishment = self.context.0.establishment().await?;
        Ok(subject_of(&establishment, &self.subject))
    }
    /// Each change of this lesson: its course added or changed, then its exceptions
    /// (cancelled, moved, another teacher or room), as the timetable's events made them.
    #[graphql(complexity = "HISTORY_COST + child_complexity")]
    async fn history(&self) -> GqlResult<Vec<Change>> {
        let (reader, _, year) = &self.context;
        let id = self.id.clone();
        let entity = ("lesson", vec![id.clone()]);
        Ok(
            history::<Timetable, _, _>(reader, year.as_str(), entity, move |t| {
                t.occurrence_by_id(&id)
            })
            .await?,
        )
    }

    /// The roll call of this lesson: for its teachers and vie scolaire.
    async fn register(&self) -> GqlResult<Vec<RegisterLine>> {
        let (reader, actor, year) = &self.context;
        if !(actor.sees_establishment() || self.teachers.contains(&actor.person)) {
            return Err(ApiError::forbidden(Text::new(
                "l'appel de ce cours est réservé à ses enseignants et à la vie scolaire",
                "the register is for the lesson's teachers and vie scolaire",
            ))
            .into());
        }
        let current = attendance::register(&reader.pool, &reader.tenant, &self.id).await?;
        let mut lines = Vec::new();
        for (student, (status, previous)) in current.entries {
            if reader.as_of.is_none() {
                lines.push(RegisterLine {
                    student,
                    status: status.into(),
                    corrected_from: previous.into_iter().map(Into::into).collect(),
                });
                continue;
            }
            // As of a past instant: each student's record as it stood then.
            let record = reader.attendance(year, &student).await?;
            if let Some(entry) = record.lessons.get(&self.id) {
                lines.push(RegisterLine {
                    student,
                    status: entry.status.into(),
                    corrected_from: entry.previous.iter().map(|s| (*s).into()).collect(),
                });
            }
        }
        Ok(lines)
    }
}

pub async fn lessons(
    reader: &Reader,
    actor: &Arc<Actor>,
    year: &SchoolYear,
    whose: carnet_projections::timetable::Whose<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<Vec<Lesson>> {
    use carnet_projections::timetable::Whose;
    check_range(from, to)?;
    let Some(t) = reader.timetable(year).await? else {
        return Ok(Vec::new());
    };
    let found = match whose {
        Whose::Teacher(x) => t.for_teacher(from, to, x),
        Whose::Room(x) => t.for_room(from, to, x),
        Whose::Division(x) => t.for_division(from, to, x),
        Whose::Group(x) => t.for_group(from, to, x),
        Whose::Student { division, groups } => t.for_student(from, to, division, groups),
    };
    Ok(found
        .into_iter()
        .map(|o| Lesson::new(o, reader, actor, year))
        .collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum Weeks {
    Every,
    /// Week A of the alternation.
    A,
    B,
    /// Only the weeks listed in `listedWeeks`.
    Listed,
}

/// Who attends and teaches a lesson, and where.
#[derive(Debug, Clone, InputObject)]
pub struct Attendees {
    /// May be empty (a study period watched by vie scolaire, a teacher not appointed).
    #[graphql(default)]
    pub teachers: Vec<String>,
    /// Whole divisions.
    #[graphql(default)]
    pub divisions: Vec<String>,
    /// Groups (half-classes, language groups, options).
    #[graphql(default)]
    pub groups: Vec<String>,
    pub room: Option<String>,
}

#[derive(Debug, Clone, InputObject)]
pub struct CourseInput {
    /// The course's id; by default one is made.
    pub id: Option<String>,
    pub day: Day,
    pub start: Time,
    pub end: Time,
    pub subject: String,
    pub attendees: Attendees,
    #[graphql(default_with = "Weeks::Every")]
    pub weeks: Weeks,
    /// Mondays of the weeks, with `weeks: LISTED`.
    #[graphql(default)]
    pub listed_weeks: Vec<Date>,
    /// First and last day of the course; by default those of the school year of
    /// `validFrom` (or today's).
    pub valid_from: Option<Date>,
    pub valid_to: Option<Date>,
}

#[derive(Debug, Clone, InputObject)]
pub struct ExtraLessonInput {
    pub id: Option<String>,
    pub date: Date,
    pub start: Time,
    pub end: Time,
    pub subject: String,
    pub attendees: Attendees,
}

/// The divisions and groups exist in `year`: VALIDATION naming the first unknown one.
pub(crate) fn check_classes(
    e: &Establishment,
    year: &SchoolYear,
    divisions: &[String],
    groups: &[String],
    field: &str,
) -> ApiResult<()> {
    let Some(y) = e.years.get(year) else {
        return Err(ApiError::validation(
            field,
            Text::new(
                format!("aucune année scolaire {year}"),
                format!("no school year {year}"),
            ),
        ));
    };
    if let Some(d) = divisions.iter().find(|d| !y.divisions.contains_key(*d)) {
        return Err(ApiError::validation(
            &format!("{field}divisions"),
            Text::new(
                format!("aucune division `{d}` en {year}"),
                format!("no division `{d}` in {year}"),
            ),
        ));
    }
    if let Some(g) = groups.iter().find(|g| !y.groups.contains_key(*g)) {
        return Err(ApiError::validation(
            &format!("{field}groups"),
            Text::new(
                format!("aucun groupe `{g}` en {year}"),
                format!("no group `{g}` in {year}"),
            ),
        ));
    }
    Ok(())
}

/// Each teacher is a teacher of the establishment who has not left by `on`.
pub(crate) fn check_teachers(
    e: &Establishment,
    teachers: &[String],
    on: NaiveDate,
) -> ApiResult<()> {
    for t in teachers {
        let ok = e
            .staff
            .get(t)
            .is_some_and(|m| m.roles.contains(&Role::Teacher) && m.left_on.is_none_or(|d| d >= on));
        if !ok {
            return Err(ApiError::validation(
                "attendees.teachers",
                Text::new(
                    format!("`{t}` n'est pas enseignant de cet établissement le {on}"),
                    format!("`{t}` is not a teacher of this establishment on {on}"),
                ),
            ));
        }
    }
    Ok(())
}

pub(crate) fn check_attendees(
    e: &Establishment,
    year: &SchoolYear,
    a: &Attendees,
    on: NaiveDate,
) -> ApiResult<()> {
    if a.divisions.is_empty() && a.groups.is_empty() {
        return Err(ApiError::validation(
            "attendees",
            Text::new(
                "un cours doit avoir au moins une division ou un groupe",
                "a lesson needs at least one division or group",
            ),
        ));
    }
    check_classes(e, year, &a.divisions, &a.groups, "attendees.")?;
    check_teachers(e, &a.teachers, on)
}

/// The lesson `id` (`course@YYYY-MM-DD`, or an extra lesson's id) and the school year
/// whose timetable holds it: the year of its due date (the current one for an extra
/// lesson). `field` names the argument in errors.
pub async fn find_lesson(
    reader: &Reader,
    id: &str,
    field: &str,
) -> Result<(SchoolYear, Occurrence), ApiError> {
    find_lesson_in(reader, id, field, None).await
}

/// `find_lesson`, an extra lesson looked for in the timetable of `year` (by default the
/// current school year).
pub async fn find_lesson_in(
    reader: &Reader,
    id: &str,
    field: &str,
    extra_year: Option<SchoolYear>,
) -> Result<(SchoolYear, Occurrence), ApiError> {
    let due = match id.split_once('@') {
        Some((_, d)) => Some(d.parse::<NaiveDate>().map_err(|_| {
            ApiError::validation(
                field,
                Text::new(
                    "un identifiant de cours s'écrit `cours@AAAA-MM-JJ`",
                    "a lesson id is `course@YYYY-MM-DD`",
                ),
            )
        })?),
        None => None,
    };
    let year = match due {
        Some(date) => {
            let establishment = reader.establishment().await?;
            year_of(&establishment, date).ok_or_else(|| {
                ApiError::validation(
                    field,
                    Text::new(
                        format!("le {date} n'est dans aucune année scolaire"),
                        format!("{date} is in no school year"),
                    ),
                )
            })?
        }
        None => match extra_year {
            Some(y) => y,
            None => year(reader, None).await?,
        },
    };
    let t = reader.timetable(&year).await?.ok_or_else(|| {
        ApiError::not_found(Text::new(
            format!("aucun emploi du temps pour {year}"),
            format!("no timetable for {year}"),
        ))
    })?;
    let found = t.occurrence_by_id(id).ok_or_else(|| {
        ApiError::not_found(Text::new(
            format!("aucun cours `{id}` dans l'emploi du temps de {year}"),
            format!("no lesson `{id}` in the timetable of {year}"),
        ))
    })?;
    Ok((year, found))
}
