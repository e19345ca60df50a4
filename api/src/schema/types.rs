//! The objects the API shows, each built from a read model's document (or, `asOf`, the
//! same aggregate folded to that instant) and the caller, whose rights every nested
//! field checks again where it reaches other people's data.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_graphql::{ComplexObject, Enum, Object, SimpleObject};
use carnet_domain::attendance::{LessonEntry, Part, Status, StudentAttendance};
use carnet_domain::enrolment::{Establishment, SchoolYear, Student};
use carnet_domain::grades::{averages, Gradebook, Mark};
use carnet_domain::reservations::{Booking, BookingStatus, Resource, ResourceKind};
use carnet_domain::timetable::{Occurrence, OccurrenceKind, Timetable};
use carnet_projections::grades::StudentAverages;
use carnet_projections::{attendance, enrolment};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::Decimal;

use crate::access::{student_classes, Actor};
use crate::error::{ApiError, ApiResult};
use crate::history::{history, Change};
use crate::pagination::{paginate, Page};
use crate::reader::Reader;

/// The longest date range one timetable query may span.
const MAX_RANGE_DAYS: i64 = 62;

type GqlResult<T> = async_graphql::Result<T>;

/// The school year of `date`, or the latest one begun before it, or the first.
pub fn year_of(establishment: &Establishment, date: NaiveDate) -> Option<SchoolYear> {
    let years = &establishment.years;
    years
        .iter()
        .find(|(_, y)| y.first_day <= date && date <= y.last_day)
        .or_else(|| years.iter().rev().find(|(_, y)| y.first_day <= date))
        .or_else(|| years.iter().next())
        .map(|(id, _)| id.clone())
}

/// The day `reader` stands on: the `asOf` instant's date, or today, in the school's zone.
pub fn today(reader: &Reader, establishment: &Establishment) -> NaiveDate {
    reader
        .as_of
        .unwrap_or_else(Utc::now)
        .with_timezone(&establishment.time_zone)
        .date_naive()
}

/// The year asked for, or the current one.
pub async fn year(reader: &Reader, asked: Option<&str>) -> ApiResult<SchoolYear> {
    if let Some(text) = asked {
        return SchoolYear::parse(text).map_err(|e| ApiError::validation("year", e.to_string()));
    }
    let establishment = reader.establishment().await?;
    year_of(&establishment, today(reader, &establishment))
        .ok_or_else(|| ApiError::not_found("no school year is open in this establishment"))
}

pub fn check_range(from: NaiveDate, to: NaiveDate) -> ApiResult<()> {
    if to < from {
        return Err(ApiError::validation("to", "is before `from`"));
    }
    if (to - from).num_days() > MAX_RANGE_DAYS {
        return Err(ApiError::validation(
            "to",
            format!("a range spans at most {MAX_RANGE_DAYS} days"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- attendance values

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum AttendanceKind {
    Present,
    Absent,
    Late,
    EarlyDeparture,
    Excluded,
}

/// What the roll call says of a student in a lesson.
#[derive(Debug, Clone, SimpleObject)]
pub struct AttendanceStatus {
    pub kind: AttendanceKind,
    /// Minutes late, for LATE.
    pub minutes: Option<u32>,
    /// When the student left, for EARLY_DEPARTURE.
    pub left_at: Option<NaiveTime>,
    /// In words: "absent", "late by 10 min".
    pub label: String,
}

impl From<Status> for AttendanceStatus {
    fn from(status: Status) -> Self {
        let (kind, minutes, left_at) = match status {
            Status::Present => (AttendanceKind::Present, None, None),
            Status::Absent => (AttendanceKind::Absent, None, None),
            Status::Late { minutes } => (AttendanceKind::Late, Some(minutes), None),
            Status::EarlyDeparture { at } => (AttendanceKind::EarlyDeparture, None, Some(at)),
            Status::Excluded => (AttendanceKind::Excluded, None, None),
        };
        AttendanceStatus {
            kind,
            minutes,
            left_at,
            label: status.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum HalfDayPart {
    Morning,
    Afternoon,
}

/// Half-days of absence, counted as the law counts them (R131-5, L131-8).
#[derive(Debug, Clone, SimpleObject)]
pub struct HalfDays {
    pub total: usize,
    pub justified: usize,
    /// Unjustified, or justified without a legitimate reason: what the alert counts.
    pub unjustified: usize,
}

impl From<attendance::HalfDays> for HalfDays {
    fn from(h: attendance::HalfDays) -> Self {
        HalfDays {
            total: h.total,
            justified: h.justified,
            unjustified: h.unjustified,
        }
    }
}

/// One roll-call entry of a student that is not "present": an absence, a late arrival,
/// an early departure or an exclusion from class.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Absence {
    pub lesson: String,
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub half_day: HalfDayPart,
    pub status: AttendanceStatus,
    /// The statuses this entry had before its corrections, oldest first.
    pub corrected_from: Vec<AttendanceStatus>,
    /// Covered by a justification the CPE accepted.
    pub justified: bool,
    #[graphql(skip)]
    pub stream: (Reader, String),
}

#[ComplexObject]
impl Absence {
    /// Each change of this entry: the roll call, then its corrections.
    #[graphql(complexity = "HISTORY_COST + child_complexity")]
    async fn history(&self) -> GqlResult<Vec<Change>> {
        let (reader, stream) = &self.stream;
        let lesson = self.lesson.clone();
        let entity = ("absence", vec![lesson.clone()]);
        Ok(
            history::<StudentAttendance, Status, _>(reader, stream, entity, move |a| {
                a.lessons.get(&lesson).map(|e| e.status)
            })
            .await?,
        )
    }
}

fn absence(
    reader: &Reader,
    stream: &str,
    record: &StudentAttendance,
    lesson: &str,
    e: &LessonEntry,
) -> Absence {
    Absence {
        lesson: lesson.to_string(),
        date: e.date,
        start: e.start,
        end: e.end,
        half_day: match e.half_day.part {
            Part::Morning => HalfDayPart::Morning,
            Part::Afternoon => HalfDayPart::Afternoon,
        },
        status: e.status.into(),
        corrected_from: e.previous.iter().map(|s| (*s).into()).collect(),
        justified: record.is_justified(&e.half_day),
        stream: (reader.clone(), stream.to_string()),
    }
}

#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Justification {
    pub id: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The reason's code; null once the student's absence data was erased.
    pub reason: Option<String>,
    pub legitimate: bool,
    /// Null once the student's absence data was erased.
    pub comment: Option<String>,
    pub declared_by: String,
    /// The CPE's decision: true accepted, false refused, null not decided yet.
    pub accepted: Option<bool>,
    #[graphql(skip)]
    pub stream: (Reader, String),
}

#[ComplexObject]
impl Justification {
    /// Each change of this justification: declared, then accepted or refused.
    #[graphql(complexity = "HISTORY_COST + child_complexity")]
    async fn history(&self) -> GqlResult<Vec<Change>> {
        let (reader, stream) = &self.stream;
        let id = self.id.clone();
        let entity = ("justification", vec![id.clone()]);
        Ok(
            history::<StudentAttendance, _, _>(reader, stream, entity, move |a| {
                a.justifications.get(&id).cloned()
            })
            .await?,
        )
    }
}

// ---------------------------------------------------------------- grades values

/// A mark as the gradebook writes it: a score, or ABS, DISP, NN, NR.
#[derive(Debug, Clone, SimpleObject)]
pub struct MarkValue {
    /// "14.5", "ABS", "DISP", "NN", "NR".
    pub label: String,
    pub score: Option<Decimal>,
}

impl From<&Mark> for MarkValue {
    fn from(mark: &Mark) -> Self {
        MarkValue {
            label: mark.to_string(),
            score: match mark {
                Mark::Score(s) => Some(*s),
                _ => None,
            },
        }
    }
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Figures {
    pub average: Decimal,
    pub min: Decimal,
    pub max: Decimal,
    pub count: usize,
}

impl From<averages::ClassFigures> for Figures {
    fn from(f: averages::ClassFigures) -> Self {
        Figures {
            average: averages::rounded(f.average),
            min: f.min,
            max: f.max,
            count: f.count,
        }
    }
}

/// A student's mark on one evaluation.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct StudentMark {
    pub evaluation: String,
    pub class: String,
    pub subject: String,
    pub title: String,
    pub date: NaiveDate,
    pub scale: Decimal,
    pub coefficient: Decimal,
    pub bonus: bool,
    pub student: String,
    pub mark: Option<MarkValue>,
    /// Marks this one replaced, oldest first.
    pub corrected_from: Vec<MarkValue>,
    pub class_figures: Option<Figures>,
    #[graphql(skip)]
    pub stream: (Reader, String),
}

#[ComplexObject]
impl StudentMark {
    /// Each change of this mark: who entered it, each correction and why.
    #[graphql(complexity = "HISTORY_COST + child_complexity")]
    async fn history(&self) -> GqlResult<Vec<Change>> {
        let (reader, stream) = &self.stream;
        let (evaluation, student) = (self.evaluation.clone(), self.student.clone());
        let entity = ("mark", vec![evaluation.clone(), student.clone()]);
        Ok(
            history::<Gradebook, Mark, _>(reader, stream, entity, move |b| {
                b.evaluations
                    .get(&evaluation)
                    .and_then(|e| e.marks.get(&student))
                    .map(|m| m.mark)
            })
            .await?,
        )
    }
}

#[derive(Debug, Clone, SimpleObject)]
pub struct SubjectAverage {
    pub subject: String,
    /// Rounded to the hundredth, as report cards print it.
    pub average: Decimal,
    pub coefficient: Decimal,
}

/// A student's period: subject averages, the overall average and every mark.
#[derive(Debug, Clone, SimpleObject)]
pub struct ReportCard {
    pub year: String,
    pub period: String,
    pub subjects: Vec<SubjectAverage>,
    pub overall: Option<Decimal>,
    /// Latest first.
    pub marks: Vec<StudentMark>,
}

fn student_mark(
    reader: &Reader,
    year: &SchoolYear,
    book: &Gradebook,
    evaluation: &str,
    student: &str,
) -> Option<StudentMark> {
    let e = book.evaluations.get(evaluation)?;
    let class = book.class.clone().unwrap_or_default();
    let period = book.period.clone().unwrap_or_default();
    let entry = e.marks.get(student);
    Some(StudentMark {
        evaluation: e.id.clone(),
        class: class.clone(),
        subject: e.subject.clone(),
        title: e.title.clone(),
        date: e.date,
        scale: e.scale,
        coefficient: e.coefficient,
        bonus: e.bonus,
        student: student.to_string(),
        mark: entry.map(|m| (&m.mark).into()),
        corrected_from: entry
            .map(|m| m.previous.iter().map(Into::into).collect())
            .unwrap_or_default(),
        class_figures: averages::evaluation_figures(book, evaluation).map(Into::into),
        stream: (reader.clone(), format!("{year}/{class}/{period}")),
    })
}

pub async fn report_card(
    reader: &Reader,
    actor: &Actor,
    student: &Student,
    id: &str,
    year: &SchoolYear,
    period: &str,
) -> ApiResult<ReportCard> {
    let mut averages_doc = StudentAverages::default();
    let mut marks = Vec::new();
    let mut restricted = false;
    for (y, class) in student_classes(student) {
        if &y != year {
            continue;
        }
        let Some(book) = reader.gradebook(year, &class, period).await? else {
            continue;
        };
        let readable = actor.readable_subjects(id, year, &class);
        restricted |= readable.is_some();
        let reads = |subject: &str| readable.as_ref().is_none_or(|r| r.contains(subject));
        let subjects: BTreeMap<String, Decimal> = averages::subjects(&book)
            .into_iter()
            .filter(|s| reads(s))
            .filter_map(|s| averages::subject_average(&book, id, &s).map(|a| (s, a)))
            .collect();
        if !subjects.is_empty() {
            averages_doc
                .books
                .insert(format!("{year}/{class}/{period}"), subjects);
        }
        for (subject, c) in &book.subject_coefficients {
            averages_doc.coefficients.insert(subject.clone(), *c);
        }
        marks.extend(
            book.evaluations
                .values()
                .filter(|e| e.marks.contains_key(id) && reads(&e.subject))
                .filter_map(|e| student_mark(reader, year, &book, &e.id, id)),
        );
    }
    marks.sort_by(|a, b| (b.date, &b.evaluation).cmp(&(a.date, &a.evaluation)));
    // An overall average over a teacher's own subjects would read as the student's.
    let overall = if restricted {
        None
    } else {
        averages_doc.overall()
    };
    let subjects = averages_doc
        .subjects()
        .into_iter()
        .map(|(subject, average)| SubjectAverage {
            coefficient: averages_doc
                .coefficients
                .get(&subject)
                .copied()
                .unwrap_or(Decimal::ONE),
            subject,
            average: averages::rounded(average),
        })
        .collect();
    Ok(ReportCard {
        year: year.to_string(),
        period: period.to_string(),
        subjects,
        overall,
        marks,
    })
}

/// What a `history` field counts against the request's complexity: it reads and folds a
/// stream of the log, where other fields read a document already parsed.
pub const HISTORY_COST: usize = 25;

// ---------------------------------------------------------------- timetable

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
    /// The id roll calls use: `course@due-date`.
    pub id: String,
    pub course: String,
    pub date: NaiveDate,
    /// Local times of the establishment.
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub start_utc: DateTime<Utc>,
    pub subject: String,
    pub teachers: Vec<String>,
    pub divisions: Vec<String>,
    pub groups: Vec<String>,
    pub room: Option<String>,
    /// "A" or "B" in alternating weeks.
    pub week: Option<String>,
    pub kind: LessonKind,
    /// The day it was due, when moved.
    pub moved_from: Option<NaiveDate>,
    /// Why it does not take place, when cancelled.
    pub cancelled: Option<String>,
    #[graphql(skip)]
    pub context: (Reader, Arc<Actor>, SchoolYear),
}

impl Lesson {
    pub fn new(o: Occurrence, reader: &Reader, actor: &Arc<Actor>, year: &SchoolYear) -> Self {
        let (kind, moved_from) = match o.kind {
            OccurrenceKind::Regular => (LessonKind::Regular, None),
            OccurrenceKind::Moved { from_date } => (LessonKind::Moved, Some(from_date)),
            OccurrenceKind::Extra => (LessonKind::Extra, None),
        };
        Lesson {
            id: o.id,
            course: o.course,
            date: o.date,
            start: o.start,
            end: o.end,
            start_utc: o.start_utc,
            subject: o.subject,
            teachers: o.teachers,
            divisions: o.divisions,
            groups: o.groups,
            room: o.room,
            week: o.week.map(|w| w.to_string()),
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
            return Err(ApiError::forbidden(
                "the register is for the lesson's teachers and vie scolaire",
            )
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

/// The Monday and Sunday of `date`'s week.
pub fn week_of(date: NaiveDate) -> (NaiveDate, NaiveDate) {
    let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
    (monday, monday + Duration::days(6))
}

// ---------------------------------------------------------------- students

#[derive(Debug, Clone, SimpleObject)]
pub struct Placement {
    pub year: String,
    pub division: String,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Guardian {
    pub id: String,
    /// Null once the guardian's personal data was erased.
    pub name: Option<String>,
    pub relationship: String,
    pub may_see: bool,
    pub may_justify: bool,
    pub notified: bool,
}

/// A student, as the caller may see them.
#[derive(Debug, Clone)]
pub struct StudentView {
    pub reader: Reader,
    pub actor: Arc<Actor>,
    pub id: String,
    pub record: Arc<Student>,
}

impl StudentView {
    /// The student `id`, if the caller may see them.
    pub async fn load(reader: &Reader, actor: &Arc<Actor>, id: &str) -> ApiResult<Self> {
        let record = match reader.student(id).await {
            Ok(record) => record,
            // Whether an id (an INE) exists is itself something to hide from those who
            // may not see the establishment's students: they get the refusal they would
            // get for an existing student who is not theirs.
            Err(ApiError::NotFound(_)) if !actor.sees_establishment() => {
                return Err(Actor::student_refused(id))
            }
            Err(e) => return Err(e),
        };
        actor.may_see_student(&record, id)?;
        Ok(StudentView {
            reader: reader.clone(),
            actor: actor.clone(),
            id: id.to_string(),
            record,
        })
    }

    async fn placement_on(
        &self,
        date: Option<NaiveDate>,
    ) -> ApiResult<Option<carnet_domain::enrolment::Placement>> {
        let date = match date {
            Some(d) => d,
            None => {
                let establishment = self.reader.establishment().await?;
                today(&self.reader, &establishment)
            }
        };
        Ok(self.record.placement_on(date))
    }

    async fn attendance_record(
        &self,
        year: Option<String>,
    ) -> ApiResult<(SchoolYear, Arc<StudentAttendance>)> {
        let year = year_arg(&self.reader, year).await?;
        let record = self.reader.attendance(&year, &self.id).await?;
        Ok((year, record))
    }
}

async fn year_arg(reader: &Reader, year: Option<String>) -> ApiResult<SchoolYear> {
    crate::schema::types::year(reader, year.as_deref()).await
}

#[Object(name = "Student")]
impl StudentView {
    async fn id(&self) -> &str {
        &self.id
    }

    async fn ine(&self) -> Option<String> {
        self.record.identity.as_ref().map(|i| i.ine.to_string())
    }

    /// Null once the student's personal data was erased.
    async fn first_name(&self) -> GqlResult<Option<String>> {
        let Some(identity) = &self.record.identity else {
            return Ok(None);
        };
        Ok(self.reader.open(&identity.first_name).await?)
    }

    /// Null once the student's personal data was erased.
    async fn last_name(&self) -> GqlResult<Option<String>> {
        let Some(identity) = &self.record.identity else {
            return Ok(None);
        };
        Ok(self.reader.open(&identity.last_name).await?)
    }

    /// Null once the student's personal data was erased.
    async fn birth_date(&self) -> GqlResult<Option<NaiveDate>> {
        let Some(identity) = &self.record.identity else {
            return Ok(None);
        };
        Ok(self.reader.open(&identity.birth_date).await?)
    }

    /// Whether the student's personal data was erased (names and birth date read null).
    async fn erased(&self) -> GqlResult<bool> {
        Ok(self.reader.establishment().await?.erased.contains(&self.id))
    }

    /// Last day in the establishment, once the student left.
    async fn left_on(&self) -> Option<NaiveDate> {
        self.record.departure.as_ref().map(|(d, _)| *d)
    }

    /// Division and groups on `date` (today by default).
    async fn placement(&self, date: Option<NaiveDate>) -> GqlResult<Option<Placement>> {
        Ok(self.placement_on(date).await?.map(|p| Placement {
            year: p.year.to_string(),
            division: p.division,
            groups: p.groups,
        }))
    }

    async fn guardians(&self) -> GqlResult<Vec<Guardian>> {
        let mut guardians = Vec::with_capacity(self.record.guardians.len());
        for (id, link) in &self.record.guardians {
            guardians.push(Guardian {
                id: id.clone(),
                name: self.reader.open(&link.name).await?,
                relationship: link.relationship.clone(),
                may_see: link.rights.see,
                may_justify: link.rights.justify,
                notified: link.rights.notified,
            });
        }
        Ok(guardians)
    }

    /// The student's lessons from `from` to `to` (at most 62 days), with the division and
    /// groups they are in on each day.
    async fn timetable(&self, from: NaiveDate, to: NaiveDate) -> GqlResult<Vec<Lesson>> {
        check_range(from, to)?;
        let mut out: Vec<Lesson> = Vec::new();
        // Placements change on known dates: one query per stretch of equal placement.
        let mut day = from;
        while day <= to {
            let placement = self.record.placement_on(day);
            let mut last = day;
            while last < to && self.record.placement_on(last + Duration::days(1)) == placement {
                last += Duration::days(1);
            }
            if let Some(p) = placement {
                use carnet_projections::timetable::Whose;
                let whose = Whose::Student {
                    division: &p.division,
                    groups: &p.groups,
                };
                out.extend(lessons(&self.reader, &self.actor, &p.year, whose, day, last).await?);
            }
            day = last + Duration::days(1);
        }
        Ok(out)
    }

    /// Absences, late arrivals, early departures and exclusions of a school year (the
    /// current one by default), latest first.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn absences(
        &self,
        year: Option<String>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<Page<Absence>> {
        let (year, record) = self.attendance_record(year).await?;
        let stream = format!("{year}/{}", self.id);
        let mut items: Vec<Absence> = record
            .lessons
            .iter()
            .filter(|(_, e)| e.status != Status::Present)
            .map(|(lesson, e)| absence(&self.reader, &stream, &record, lesson, e))
            .collect();
        items.sort_by(|a, b| (b.date, b.start, &b.lesson).cmp(&(a.date, a.start, &a.lesson)));
        paginate(items, after, before, first, last).await
    }

    /// Half-days of absence from `from` to `to` (a month, a period, the year).
    async fn half_days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        year: Option<String>,
    ) -> GqlResult<HalfDays> {
        if to < from {
            return Err(ApiError::validation("to", "is before `from`").into());
        }
        let (_, record) = self.attendance_record(year).await?;
        Ok(attendance::between(&record, from, to).into())
    }

    async fn justifications(&self, year: Option<String>) -> GqlResult<Vec<Justification>> {
        let (year, record) = self.attendance_record(year).await?;
        let stream = format!("{year}/{}", self.id);
        let mut justifications = Vec::with_capacity(record.justifications.len());
        for (id, j) in &record.justifications {
            justifications.push(Justification {
                stream: (self.reader.clone(), stream.clone()),
                id: id.clone(),
                from: j.from,
                to: j.to,
                reason: self.reader.open(&j.reason).await?,
                legitimate: j.legitimate,
                comment: self.reader.open(&j.comment).await?,
                declared_by: j.declared_by.clone(),
                accepted: j.accepted,
            });
        }
        Ok(justifications)
    }

    /// Averages and marks of a period (the current one by default).
    async fn report_card(
        &self,
        period: Option<String>,
        year: Option<String>,
    ) -> GqlResult<ReportCard> {
        let year = year_arg(&self.reader, year).await?;
        let period = match period {
            Some(p) => p,
            None => current_period(&self.reader, &year).await?,
        };
        Ok(report_card(
            &self.reader,
            &self.actor,
            &self.record,
            &self.id,
            &year,
            &period,
        )
        .await?)
    }

    /// Each change of the student's enrolment: admission, divisions, groups,
    /// guardians, departure.
    #[graphql(complexity = "HISTORY_COST + child_complexity")]
    async fn history(&self) -> GqlResult<Vec<Change>> {
        let entity = ("student", Vec::new());
        Ok(
            history::<Student, Student, _>(&self.reader, &self.id, entity, |s| {
                (s.id.is_some()).then(|| Student {
                    identity: None,
                    ..s.clone()
                })
            })
            .await?,
        )
    }
}

/// The period of `year` that contains today, or the last one begun.
pub async fn current_period(reader: &Reader, year: &SchoolYear) -> ApiResult<String> {
    let establishment = reader.establishment().await?;
    let day = today(reader, &establishment);
    let periods = establishment
        .years
        .get(year)
        .map(|y| y.periods.clone())
        .unwrap_or_default();
    periods
        .iter()
        .find(|p| p.from <= day && day <= p.to)
        .or_else(|| periods.iter().rev().find(|p| p.from <= day))
        .or_else(|| periods.first())
        .map(|p| p.id.clone())
        .ok_or_else(|| ApiError::not_found(format!("school year {year} has no period")))
}

// ---------------------------------------------------------------- classes

/// A division or a group of one school year.
#[derive(Debug, Clone)]
pub struct ClassView {
    pub reader: Reader,
    pub actor: Arc<Actor>,
    pub year: SchoolYear,
    pub id: String,
    pub name: String,
    pub is_group: bool,
}

#[Object(name = "Class")]
impl ClassView {
    async fn id(&self) -> &str {
        &self.id
    }

    async fn year(&self) -> String {
        self.year.to_string()
    }

    async fn name(&self) -> &str {
        &self.name
    }

    /// A group (half-class, language, option) rather than a division.
    async fn is_group(&self) -> bool {
        self.is_group
    }

    /// The students in the class on `date` (today by default), by id.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn roster(
        &self,
        date: Option<NaiveDate>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<Page<StudentView>> {
        let date = match date {
            Some(d) => d,
            None => {
                let establishment = self.reader.establishment().await?;
                today(&self.reader, &establishment)
            }
        };
        // Everyone the class ever had, then each record as the reader sees it.
        let roster: enrolment::Roster = carnet_projections::query::doc(
            &self.reader.pool,
            &self.reader.tenant,
            enrolment::NAME,
            &format!("roster/{}/{}", self.year, self.id),
        )
        .await?
        .unwrap_or_default();
        let mut students = Vec::new();
        for id in roster.members.keys() {
            let record = match self.reader.student(id).await {
                Ok(r) => r,
                Err(ApiError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            let here = record.placement_on(date).is_some_and(|p| {
                p.year == self.year && (p.division == self.id || p.groups.contains(&self.id))
            });
            if here {
                students.push(StudentView {
                    reader: self.reader.clone(),
                    actor: self.actor.clone(),
                    id: id.clone(),
                    record,
                });
            }
        }
        paginate(students, after, before, first, last).await
    }

    async fn timetable(&self, from: NaiveDate, to: NaiveDate) -> GqlResult<Vec<Lesson>> {
        use carnet_projections::timetable::Whose;
        let whose = if self.is_group {
            Whose::Group(&self.id)
        } else {
            Whose::Division(&self.id)
        };
        Ok(lessons(&self.reader, &self.actor, &self.year, whose, from, to).await?)
    }

    /// The gradebook of a period (the current one by default).
    async fn gradebook(&self, period: Option<String>) -> GqlResult<Option<GradebookView>> {
        let period = match period {
            Some(p) => p,
            None => current_period(&self.reader, &self.year).await?,
        };
        let book = self.reader.gradebook(&self.year, &self.id, &period).await?;
        let stream = format!("{}/{}/{period}", self.year, self.id);
        let version = match book {
            Some(_) => self.reader.events::<Gradebook>(&stream).await?.len() as i64,
            None => 0,
        };
        Ok(book.map(|book| GradebookView {
            reader: self.reader.clone(),
            actor: self.actor.clone(),
            year: self.year.clone(),
            class: self.id.clone(),
            period,
            version,
            book,
        }))
    }
}

pub struct GradebookView {
    reader: Reader,
    actor: Arc<Actor>,
    year: SchoolYear,
    class: String,
    period: String,
    version: i64,
    book: Arc<Gradebook>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct SubjectFigures {
    pub subject: String,
    pub coefficient: Decimal,
    pub figures: Figures,
}

#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex, name = "Evaluation")]
pub struct EvaluationView {
    pub id: String,
    pub subject: String,
    pub teacher: String,
    pub title: String,
    pub date: NaiveDate,
    pub scale: Decimal,
    pub coefficient: Decimal,
    pub bonus: bool,
    pub figures: Option<Figures>,
    pub marks: Vec<StudentMark>,
    #[graphql(skip)]
    pub stream: (Reader, String),
}

/// What an evaluation is, apart from its marks (which have their own history).
#[derive(Debug, PartialEq, serde::Serialize)]
struct EvaluationFacts {
    subject: String,
    teacher: String,
    title: String,
    date: NaiveDate,
    scale: Decimal,
    coefficient: Decimal,
    bonus: bool,
    not_handed_in: carnet_domain::grades::NotHandedIn,
}

#[ComplexObject]
impl EvaluationView {
    /// Each change of the evaluation itself: created, then changed (title, date,
    /// scale, coefficient...).
    #[graphql(complexity = "HISTORY_COST + child_complexity")]
    async fn history(&self) -> GqlResult<Vec<Change>> {
        let (reader, stream) = &self.stream;
        let id = self.id.clone();
        let entity = ("evaluation", vec![id.clone()]);
        Ok(
            history::<Gradebook, _, _>(reader, stream, entity, move |b| {
                b.evaluations.get(&id).map(|e| EvaluationFacts {
                    subject: e.subject.clone(),
                    teacher: e.teacher.clone(),
                    title: e.title.clone(),
                    date: e.date,
                    scale: e.scale,
                    coefficient: e.coefficient,
                    bonus: e.bonus,
                    not_handed_in: e.not_handed_in,
                })
            })
            .await?,
        )
    }
}

#[Object(name = "Gradebook")]
impl GradebookView {
    async fn class(&self) -> &str {
        &self.class
    }

    async fn period(&self) -> &str {
        &self.period
    }

    /// Closed by the class council: no mark may change until it is reopened.
    async fn closed(&self) -> bool {
        self.book.closed
    }

    /// The gradebook's version, for `expectedVersion` in mutations.
    async fn version(&self) -> i64 {
        self.version
    }

    async fn subjects(&self) -> Vec<SubjectFigures> {
        let (_, subjects) = carnet_projections::grades::class_figures(&self.book);
        subjects
            .into_iter()
            .map(|(subject, f)| SubjectFigures {
                coefficient: self
                    .book
                    .subject_coefficients
                    .get(&subject)
                    .copied()
                    .unwrap_or(Decimal::ONE),
                subject,
                figures: f.into(),
            })
            .collect()
    }

    /// Evaluations (for a teacher: those of the subjects they teach the class).
    async fn evaluations(&self) -> Vec<EvaluationView> {
        let teacher_only = !self.actor.sees_establishment();
        self.book
            .evaluations
            .values()
            .filter(|e| {
                !teacher_only
                    || self
                        .actor
                        .teaches_subject(&self.year, &self.class, &e.subject)
            })
            .map(|e| EvaluationView {
                id: e.id.clone(),
                subject: e.subject.clone(),
                teacher: e.teacher.clone(),
                title: e.title.clone(),
                date: e.date,
                scale: e.scale,
                coefficient: e.coefficient,
                bonus: e.bonus,
                figures: averages::evaluation_figures(&self.book, &e.id).map(Into::into),
                marks: e
                    .marks
                    .keys()
                    .filter_map(|s| student_mark(&self.reader, &self.year, &self.book, &e.id, s))
                    .collect(),
                stream: (
                    self.reader.clone(),
                    format!("{}/{}/{}", self.year, self.class, self.period),
                ),
            })
            .collect()
    }
}

// ---------------------------------------------------------------- reservations

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ResourceType {
    Room,
    Item,
    Pool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum BookingState {
    Pending,
    Confirmed,
    Refused,
    Cancelled,
}

impl From<BookingStatus> for BookingState {
    fn from(s: BookingStatus) -> Self {
        match s {
            BookingStatus::Pending => BookingState::Pending,
            BookingStatus::Confirmed => BookingState::Confirmed,
            BookingStatus::Refused => BookingState::Refused,
            BookingStatus::Cancelled => BookingState::Cancelled,
        }
    }
}

#[derive(Debug, Clone, SimpleObject)]
pub struct BookedTime {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub cancelled: bool,
}

#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex, name = "Booking")]
pub struct BookingView {
    pub id: String,
    pub resource: String,
    pub by: String,
    pub quantity: u32,
    pub purpose: String,
    pub status: BookingState,
    pub weekly: bool,
    pub times: Vec<BookedTime>,
    #[graphql(skip)]
    pub reader: Reader,
}

#[ComplexObject]
impl BookingView {
    /// Each change of the booking: made, approved or refused, cancelled.
    #[graphql(complexity = "HISTORY_COST + child_complexity")]
    async fn history(&self) -> GqlResult<Vec<Change>> {
        let id = self.id.clone();
        let entity = ("booking", vec![id.clone()]);
        Ok(
            history::<Resource, Booking, _>(&self.reader, &self.resource, entity, move |r| {
                r.bookings.get(&id).cloned()
            })
            .await?,
        )
    }
}

pub fn booking(reader: &Reader, resource: &str, b: &Booking) -> BookingView {
    BookingView {
        id: b.id.clone(),
        resource: resource.to_string(),
        by: b.by.clone(),
        quantity: b.quantity,
        purpose: b.purpose.clone(),
        status: b.status.into(),
        weekly: b.weekly,
        times: b
            .occurrences
            .iter()
            .map(|o| BookedTime {
                start: o.start,
                end: o.end,
                cancelled: o.cancelled,
            })
            .collect(),
        reader: reader.clone(),
    }
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Slot {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub free: u32,
}

/// What a resource is, apart from its bookings.
#[derive(Debug, PartialEq, serde::Serialize)]
struct ResourceFacts {
    name: String,
    kind: ResourceKind,
    requires_approval: bool,
    managers: Vec<String>,
    retired_at: Option<NaiveDateTime>,
}

pub struct ResourceView {
    pub reader: Reader,
    pub resource: Arc<Resource>,
}

#[Object(name = "Resource")]
impl ResourceView {
    async fn id(&self) -> &str {
        &self.resource.id
    }

    async fn name(&self) -> &str {
        &self.resource.name
    }

    async fn kind(&self) -> Option<ResourceType> {
        self.resource.kind.map(|k| match k {
            ResourceKind::Room { .. } => ResourceType::Room,
            ResourceKind::Item => ResourceType::Item,
            ResourceKind::Pool { .. } => ResourceType::Pool,
        })
    }

    /// How much can be held at one instant.
    async fn capacity(&self) -> u32 {
        self.resource.capacity()
    }

    async fn requires_approval(&self) -> bool {
        self.resource.requires_approval
    }

    async fn managers(&self) -> &[String] {
        &self.resource.managers
    }

    async fn retired_at(&self) -> Option<NaiveDateTime> {
        self.resource.retired_at
    }

    /// Each change of the resource itself: registered, its quantity, retired (each
    /// booking has its own history).
    #[graphql(complexity = "HISTORY_COST + child_complexity")]
    async fn history(&self) -> GqlResult<Vec<Change>> {
        let entity = ("resource", Vec::new());
        Ok(
            history::<Resource, _, _>(&self.reader, &self.resource.id, entity, |r| {
                r.kind.map(|kind| ResourceFacts {
                    name: r.name.clone(),
                    kind,
                    requires_approval: r.requires_approval,
                    managers: r.managers.clone(),
                    retired_at: r.retired_at,
                })
            })
            .await?,
        )
    }

    /// Bookings, by id.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn bookings(
        &self,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<Page<BookingView>> {
        let items = self
            .resource
            .bookings
            .values()
            .map(|b| booking(&self.reader, &self.resource.id, b))
            .collect();
        paginate(items, after, before, first, last).await
    }

    /// What is free in each slot of `slotMinutes` from `from` to `to` (local times).
    async fn availability(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
        slot_minutes: Option<u32>,
    ) -> GqlResult<Vec<Slot>> {
        let minutes = slot_minutes.unwrap_or(60);
        if !(5..=1440).contains(&minutes) {
            return Err(ApiError::validation("slotMinutes", "between 5 and 1440").into());
        }
        if to <= from || (to - from).num_days() > MAX_RANGE_DAYS {
            return Err(ApiError::validation(
                "to",
                format!("after `from`, at most {MAX_RANGE_DAYS} days later"),
            )
            .into());
        }
        Ok(self
            .resource
            .availability(from, to, Duration::minutes(i64::from(minutes)))
            .into_iter()
            .map(|(start, end, free)| Slot { start, end, free })
            .collect())
    }
}

// ---------------------------------------------------------------- people

#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Service")]
pub struct ServiceView {
    pub year: String,
    pub subject: String,
    pub class: String,
}

/// A teacher: their services, timetable and registers.
pub struct TeacherView {
    pub reader: Reader,
    pub actor: Arc<Actor>,
    pub id: String,
    /// Null once the teacher's personal data was erased.
    pub name: Option<String>,
}

impl TeacherView {
    async fn lessons(&self, from: NaiveDate, to: NaiveDate) -> ApiResult<Vec<Lesson>> {
        use carnet_projections::timetable::Whose;
        let year = year(&self.reader, None).await?;
        lessons(
            &self.reader,
            &self.actor,
            &year,
            Whose::Teacher(&self.id),
            from,
            to,
        )
        .await
    }
}

#[Object(name = "Teacher")]
impl TeacherView {
    async fn id(&self) -> &str {
        &self.id
    }

    /// Null once the teacher's personal data was erased.
    async fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    async fn services(&self) -> GqlResult<Vec<ServiceView>> {
        let services =
            enrolment::teacher_services(&self.reader.pool, &self.reader.tenant, &self.id).await?;
        Ok(services
            .services
            .into_iter()
            .map(|(year, subject, class)| ServiceView {
                year: year.to_string(),
                subject: subject.to_string(),
                class: crate::access::class_id(&class).to_string(),
            })
            .collect())
    }

    /// The lessons of the week of `date` (this week by default), Monday to Sunday.
    async fn week(&self, date: Option<NaiveDate>) -> GqlResult<Vec<Lesson>> {
        let establishment = self.reader.establishment().await?;
        let day = date.unwrap_or_else(|| today(&self.reader, &establishment));
        let (monday, sunday) = week_of(day);
        Ok(self.lessons(monday, sunday).await?)
    }

    async fn timetable(&self, from: NaiveDate, to: NaiveDate) -> GqlResult<Vec<Lesson>> {
        Ok(self.lessons(from, to).await?)
    }
}

#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Alert")]
pub struct AlertView {
    pub student: String,
    /// "2026-11"
    pub month: String,
    pub unjustified_half_days: usize,
}
