//! The timetable of an establishment for one school year.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::course::{weekdays_between, CourseSpec, ExtraLesson, Group, WeekPattern};
use super::error::TimetableError;
use super::occurrences::{label_fr, lesson_id, Change, Course, Days, Moved};
use crate::calendar::{monday_of, Closure, SchoolCalendar, WeekLabel};
use crate::refusal::{date_fr, Words};

/// One stream per establishment and school year: whether two lessons clash depends on
/// every course, group and day of the year, so it is decided in one place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timetable {
    year: Option<String>,
    time_zone: Tz,
    calendar: Option<SchoolCalendar>,
    pub(crate) groups: BTreeMap<String, Group>,
    /// Courses and extra lessons, by id.
    pub(crate) courses: BTreeMap<String, Course>,
}

impl Default for Timetable {
    fn default() -> Self {
        Timetable {
            year: None,
            time_zone: chrono_tz::Europe::Paris,
            calendar: None,
            groups: BTreeMap::new(),
            courses: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TimetableCommand {
    OpenTimetable {
        /// The school year, e.g. "2026-2027".
        year: String,
        time_zone: Tz,
        calendar: SchoolCalendar,
    },
    /// Holidays or a closed day: their lessons do not take place.
    AddClosure(Closure),
    /// Set by hand whether a week is week A or B (the weeks after it follow in turn).
    SetWeekLabel {
        monday: NaiveDate,
        label: WeekLabel,
    },
    DeclareGroup {
        group: String,
        divisions: Vec<String>,
        partition: String,
    },
    AddCourse(CourseSpec),
    /// Replace a course's definition. It applies to all of the course's lessons, and
    /// exceptions of days it no longer holds stop showing; to change a course in the
    /// middle of the year and keep its past lessons as they were, end it and add a new
    /// one.
    ChangeCourse(CourseSpec),
    /// The course stops after `last_day` (a teacher leaves, a group is reorganised).
    EndCourse {
        id: String,
        last_day: NaiveDate,
    },
    /// Exceptions name a lesson by its course (or extra lesson) and the day it was due,
    /// even once moved: that is its identity, and its roll-call id.
    CancelOccurrence {
        course: String,
        date: NaiveDate,
        reason: String,
    },
    MoveOccurrence {
        course: String,
        date: NaiveDate,
        to_date: NaiveDate,
        start: NaiveTime,
        end: NaiveTime,
        /// The room it moves to; `None` keeps its room.
        room: Option<String>,
    },
    ReplaceTeacher {
        course: String,
        date: NaiveDate,
        teachers: Vec<String>,
    },
    ChangeRoom {
        course: String,
        date: NaiveDate,
        room: String,
    },
    AddExtraLesson(ExtraLesson),
}

// Events are handled one at a time: the size of the largest variant costs nothing that
// boxing `CourseChanged` would save, and boxing would make the events harder to write.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum TimetableEvent {
    TimetableOpened {
        year: String,
        time_zone: Tz,
        calendar: SchoolCalendar,
    },
    ClosureAdded(Closure),
    WeekLabelSet {
        monday: NaiveDate,
        label: WeekLabel,
        /// What the week was before (by the alternation or an earlier setting).
        previous: WeekLabel,
    },
    GroupDeclared {
        group: String,
        divisions: Vec<String>,
        partition: String,
    },
    CourseAdded(CourseSpec),
    CourseChanged {
        previous: CourseSpec,
        spec: CourseSpec,
    },
    CourseEnded {
        id: String,
        last_day: NaiveDate,
        /// The last day it had before.
        previous_last_day: NaiveDate,
    },
    /// `lesson` is the occurrence's id, the one its roll call uses.
    OccurrenceCancelled {
        lesson: String,
        course: String,
        date: NaiveDate,
        reason: String,
    },
    OccurrenceMoved {
        lesson: String,
        course: String,
        date: NaiveDate,
        to_date: NaiveDate,
        start: NaiveTime,
        end: NaiveTime,
        room: Option<String>,
    },
    TeacherReplaced {
        lesson: String,
        course: String,
        date: NaiveDate,
        teachers: Vec<String>,
        previous: Vec<String>,
    },
    RoomChanged {
        lesson: String,
        course: String,
        date: NaiveDate,
        room: String,
        previous: Option<String>,
    },
    ExtraLessonAdded(ExtraLesson),
}

impl DomainEvent for TimetableEvent {
    fn event_type(&self) -> String {
        match self {
            TimetableEvent::TimetableOpened { .. } => "TimetableOpened",
            TimetableEvent::ClosureAdded(_) => "ClosureAdded",
            TimetableEvent::WeekLabelSet { .. } => "WeekLabelSet",
            TimetableEvent::GroupDeclared { .. } => "GroupDeclared",
            TimetableEvent::CourseAdded(_) => "CourseAdded",
            TimetableEvent::CourseChanged { .. } => "CourseChanged",
            TimetableEvent::CourseEnded { .. } => "CourseEnded",
            TimetableEvent::OccurrenceCancelled { .. } => "OccurrenceCancelled",
            TimetableEvent::OccurrenceMoved { .. } => "OccurrenceMoved",
            TimetableEvent::TeacherReplaced { .. } => "TeacherReplaced",
            TimetableEvent::RoomChanged { .. } => "RoomChanged",
            TimetableEvent::ExtraLessonAdded(_) => "ExtraLessonAdded",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

type E = TimetableError;

impl Timetable {
    /// The school year, once open.
    pub fn year(&self) -> Option<&str> {
        self.year.as_deref()
    }

    /// The establishment's time zone: lesson times are local to it.
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    pub fn calendar(&self) -> Option<&SchoolCalendar> {
        self.calendar.as_ref()
    }

    pub fn group(&self, group: &str) -> Option<&Group> {
        self.groups.get(group)
    }

    /// A recurring course's definition (extra lessons are seen through occurrences).
    pub fn course(&self, id: &str) -> Option<&CourseSpec> {
        self.courses.get(id).filter(|c| !c.extra).map(|c| &c.spec)
    }

    /// Every recurring course's definition, by id.
    pub fn courses(&self) -> impl Iterator<Item = &CourseSpec> {
        self.courses.values().filter(|c| !c.extra).map(|c| &c.spec)
    }

    fn open_calendar(&self) -> Result<&SchoolCalendar, E> {
        self.calendar.as_ref().ok_or(E::NotOpen)
    }

    fn decide(&self, command: TimetableCommand) -> Result<TimetableEvent, E> {
        use TimetableCommand as C;
        use TimetableEvent as V;
        if let C::OpenTimetable {
            year,
            time_zone,
            calendar,
        } = command
        {
            if let Some(open) = &self.year {
                return Err(E::AlreadyOpen(open.clone()));
            }
            // The year's name is not parsed: New Caledonia's school year runs from
            // February to December and is named by one year.
            if year.trim().is_empty() {
                return Err(E::Missing("the school year"));
            }
            calendar.check()?;
            if let Some(monday) = calendar
                .week_overrides
                .keys()
                .find(|m| m.weekday() != Weekday::Mon)
            {
                return Err(E::NotAMonday(*monday));
            }
            return Ok(V::TimetableOpened {
                year,
                time_zone,
                calendar,
            });
        }
        let calendar = self.open_calendar()?;
        let days = Days::new(calendar);
        match command {
            C::OpenTimetable { .. } => Err(E::NotOpen),
            C::AddClosure(closure) => {
                calendar.check_closure(&closure)?;
                let change = Words::new(
                    format!("la fermeture « {} »", closure.name),
                    format!("closure \"{}\"", closure.name),
                );
                let from = monday_of(closure.from);
                self.check_calendar_change(V::ClosureAdded(closure), change, from)
            }
            C::SetWeekLabel { monday, label } => {
                if monday.weekday() != Weekday::Mon {
                    return Err(E::NotAMonday(monday));
                }
                let previous = days.label(monday).ok_or(E::WeekWithoutLessons(monday))?;
                let change = Words::new(
                    format!(
                        "mettre la semaine du {} en {}",
                        date_fr(&monday),
                        label_fr(label)
                    ),
                    format!("setting the week of {monday} as {label}"),
                );
                let event = V::WeekLabelSet {
                    monday,
                    label,
                    previous,
                };
                self.check_calendar_change(event, change, monday)
            }
            C::DeclareGroup {
                group,
                divisions,
                partition,
            } => {
                if group.trim().is_empty() {
                    return Err(E::Missing("the group's name"));
                }
                if self.groups.contains_key(&group) {
                    return Err(E::GroupExists(group));
                }
                if divisions.is_empty() || divisions.iter().any(|d| d.trim().is_empty()) {
                    return Err(E::Missing("the divisions a group is drawn from"));
                }
                if partition.trim().is_empty() {
                    return Err(E::Missing("the group's partition"));
                }
                Ok(V::GroupDeclared {
                    group,
                    divisions,
                    partition,
                })
            }
            C::AddCourse(spec) => {
                if self.courses.contains_key(&spec.id) {
                    return Err(E::CourseExists(spec.id));
                }
                self.check_spec(&spec, &days)?;
                let candidate = Course {
                    spec,
                    extra: false,
                    changes: BTreeMap::new(),
                };
                self.check_course(&days, &candidate, None)?;
                Ok(V::CourseAdded(candidate.spec))
            }
            C::ChangeCourse(spec) => {
                let existing = self.recurring(&spec.id)?;
                if existing.spec == spec {
                    return Err(E::Unchanged(spec.id));
                }
                self.check_spec(&spec, &days)?;
                let candidate = Course {
                    spec,
                    ..existing.clone()
                };
                self.check_course(&days, &candidate, None)?;
                Ok(V::CourseChanged {
                    previous: existing.spec.clone(),
                    spec: candidate.spec,
                })
            }
            C::EndCourse { id, last_day } => {
                let spec = &self.recurring(&id)?.spec;
                if last_day < spec.valid_from || last_day >= spec.valid_to {
                    return Err(E::EndOutsideValidity {
                        id,
                        last_day,
                        from: spec.valid_from,
                        to: spec.valid_to,
                    });
                }
                Ok(V::CourseEnded {
                    id,
                    last_day,
                    previous_last_day: spec.valid_to,
                })
            }
            C::CancelOccurrence {
                course,
                date,
                reason,
            } => {
                let found = self.lesson(&days, &course, date)?;
                // Families read the reason on the ENT next to the crossed-out lesson
                // (Pronote shows "Prof. absent", "Cours annulé", ...): it may not be blank.
                if reason.trim().is_empty() {
                    return Err(E::Missing("the reason for cancelling"));
                }
                Ok(V::OccurrenceCancelled {
                    lesson: lesson_id(found, date),
                    course,
                    date,
                    reason,
                })
            }
            C::MoveOccurrence {
                course,
                date,
                to_date,
                start,
                end,
                room,
            } => {
                let found = self.lesson(&days, &course, date)?;
                check_times(start, end)?;
                if let Some(why) = days.closed_because(to_date) {
                    return Err(E::NotASchoolDay { day: to_date, why });
                }
                check_room(room.as_deref())?;
                let mut candidate = found.clone();
                let change = candidate.changes.entry(date).or_default();
                change.moved = Some(Moved {
                    date: to_date,
                    start,
                    end,
                });
                if room.is_some() {
                    change.room.clone_from(&room);
                }
                self.check_course(&days, &candidate, Some(date))?;
                Ok(V::OccurrenceMoved {
                    lesson: lesson_id(found, date),
                    course,
                    date,
                    to_date,
                    start,
                    end,
                    room,
                })
            }
            C::ReplaceTeacher {
                course,
                date,
                teachers,
            } => {
                let found = self.lesson(&days, &course, date)?;
                if teachers.is_empty() {
                    return Err(E::NoReplacement);
                }
                check_names(&teachers, "a teacher's name")?;
                let previous = found.slot(date).teachers.to_vec();
                let mut candidate = found.clone();
                candidate.changes.entry(date).or_default().teachers = Some(teachers.clone());
                self.check_course(&days, &candidate, Some(date))?;
                Ok(V::TeacherReplaced {
                    lesson: lesson_id(found, date),
                    course,
                    date,
                    teachers,
                    previous,
                })
            }
            C::ChangeRoom { course, date, room } => {
                let found = self.lesson(&days, &course, date)?;
                check_room(Some(&room))?;
                let previous = found.slot(date).room.map(str::to_string);
                let mut candidate = found.clone();
                candidate.changes.entry(date).or_default().room = Some(room.clone());
                self.check_course(&days, &candidate, Some(date))?;
                Ok(V::RoomChanged {
                    lesson: lesson_id(found, date),
                    course,
                    date,
                    room,
                    previous,
                })
            }
            C::AddExtraLesson(extra) => {
                if self.courses.contains_key(&extra.id) {
                    return Err(E::CourseExists(extra.id));
                }
                if let Some(why) = days.closed_because(extra.date) {
                    return Err(E::NotASchoolDay {
                        day: extra.date,
                        why,
                    });
                }
                let candidate = Course {
                    spec: extra.as_course(),
                    extra: true,
                    changes: BTreeMap::new(),
                };
                self.check_spec(&candidate.spec, &days)?;
                self.check_course(&days, &candidate, None)?;
                Ok(V::ExtraLessonAdded(extra))
            }
        }
    }

    /// A calendar change may shift weeks A and B (holiday weeks do not count), so
    /// courses of explicit weeks can come to meet courses of week A or B: check the
    /// timetable it would give, from the first week it changes.
    fn check_calendar_change(
        &self,
        event: TimetableEvent,
        change: Words,
        from: NaiveDate,
    ) -> Result<TimetableEvent, E> {
        let mut next = self.clone();
        next.apply(event.clone());
        if let Some(calendar) = next.calendar.as_ref() {
            next.check_all(&Days::new(calendar), from)
                .map_err(|conflict| E::WeeksShifted {
                    change,
                    conflict: Box::new(conflict),
                })?;
        }
        Ok(event)
    }

    fn recurring(&self, id: &str) -> Result<&Course, E> {
        match self.courses.get(id) {
            None => Err(E::UnknownCourse(id.to_string())),
            Some(c) if c.extra => Err(E::IsExtraLesson(id.to_string())),
            Some(c) => Ok(c),
        }
    }

    /// The course whose lesson due on `date` an exception changes; the lesson must
    /// exist and not be cancelled.
    fn lesson(&self, days: &Days<'_>, course: &str, date: NaiveDate) -> Result<&Course, E> {
        let found = self
            .courses
            .get(course)
            .ok_or_else(|| E::UnknownCourse(course.to_string()))?;
        if let Some(why) = found.absent_on(date, days) {
            let course = if found.extra {
                Words::new(
                    format!("le cours supplémentaire {course}"),
                    format!("extra lesson {course}"),
                )
            } else {
                Words::new(format!("le cours {course}"), format!("course {course}"))
            };
            return Err(E::NoLesson {
                course,
                day: date,
                why,
            });
        }
        if let Some(reason) = found.changes.get(&date).and_then(|c| c.cancelled.clone()) {
            return Err(E::Cancelled {
                lesson: lesson_id(found, date),
                reason,
            });
        }
        Ok(found)
    }

    /// Everything a course's definition must satisfy, apart from conflicts.
    fn check_spec(&self, spec: &CourseSpec, days: &Days<'_>) -> Result<(), E> {
        let calendar = days.calendar;
        if spec.id.trim().is_empty() {
            return Err(E::Missing("the course id"));
        }
        // "c1@2026-09-07" must name one lesson only, whatever extra lessons are called.
        if spec.id.contains('@') {
            return Err(E::IdWithAt(spec.id.clone()));
        }
        if spec.subject.trim().is_empty() {
            return Err(E::Missing("the subject"));
        }
        check_times(spec.start, spec.end)?;
        check_names(&spec.teachers, "a teacher's name")?;
        check_names(&spec.divisions, "a division's name")?;
        check_names(&spec.groups, "a group's name")?;
        check_room(spec.room.as_deref())?;
        if spec.divisions.is_empty() && spec.groups.is_empty() {
            return Err(E::NoAudience(spec.id.clone()));
        }
        if let Some(group) = spec.groups.iter().find(|g| !self.groups.contains_key(*g)) {
            return Err(E::UnknownGroup(group.clone()));
        }
        if spec.valid_to < spec.valid_from {
            return Err(E::ValidityReversed {
                id: spec.id.clone(),
                from: spec.valid_from,
                to: spec.valid_to,
            });
        }
        if spec.valid_from < calendar.first_day || spec.valid_to > calendar.last_day {
            return Err(E::OutsideYear {
                id: spec.id.clone(),
                from: spec.valid_from,
                to: spec.valid_to,
                first: calendar.first_day,
                last: calendar.last_day,
            });
        }
        if let WeekPattern::Weeks(mondays) = &spec.weeks {
            if mondays.is_empty() {
                return Err(E::NoWeeks(spec.id.clone()));
            }
            for monday in mondays {
                if monday.weekday() != Weekday::Mon {
                    return Err(E::NotAMonday(*monday));
                }
                if *monday > calendar.last_day || *monday < monday_of(calendar.first_day) {
                    return Err(E::WeekOutsideYear {
                        monday: *monday,
                        first: calendar.first_day,
                        last: calendar.last_day,
                    });
                }
            }
        }
        let course = Course {
            spec: spec.clone(),
            extra: false,
            changes: BTreeMap::new(),
        };
        if !weekdays_between(spec.weekday, spec.valid_from, spec.valid_to)
            .any(|date| course.holds(date, days))
        {
            return Err(E::NeverTakesPlace(spec.id.clone()));
        }
        Ok(())
    }
}

fn check_times(start: NaiveTime, end: NaiveTime) -> Result<(), E> {
    if end <= start {
        return Err(E::Times { start, end });
    }
    Ok(())
}

fn check_names(names: &[String], what: &'static str) -> Result<(), E> {
    if names.iter().any(|n| n.trim().is_empty()) {
        return Err(E::Missing(what));
    }
    Ok(())
}

fn check_room(room: Option<&str>) -> Result<(), E> {
    if room.is_some_and(|r| r.trim().is_empty()) {
        return Err(E::Missing("the room's name"));
    }
    Ok(())
}

impl Aggregate for Timetable {
    const TYPE: &'static str = "timetable";
    type Command = TimetableCommand;
    type Event = TimetableEvent;
    type Error = TimetableError;
    type Services = ();

    async fn handle(
        &mut self,
        command: TimetableCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), TimetableError> {
        let event = self.decide(command)?;
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: TimetableEvent) {
        use TimetableEvent as V;
        match event {
            V::TimetableOpened {
                year,
                time_zone,
                calendar,
            } => {
                self.year = Some(year);
                self.time_zone = time_zone;
                self.calendar = Some(calendar);
            }
            V::ClosureAdded(closure) => {
                if let Some(calendar) = self.calendar.as_mut() {
                    calendar.closures.push(closure);
                }
            }
            V::WeekLabelSet { monday, label, .. } => {
                if let Some(calendar) = self.calendar.as_mut() {
                    calendar.week_overrides.insert(monday, label);
                }
            }
            V::GroupDeclared {
                group,
                divisions,
                partition,
            } => {
                self.groups.insert(
                    group,
                    Group {
                        divisions,
                        partition,
                    },
                );
            }
            V::CourseAdded(spec) => {
                self.courses.insert(
                    spec.id.clone(),
                    Course {
                        spec,
                        extra: false,
                        changes: BTreeMap::new(),
                    },
                );
            }
            V::CourseChanged { spec, .. } => {
                if let Some(course) = self.courses.get_mut(&spec.id) {
                    course.spec = spec;
                }
            }
            V::CourseEnded { id, last_day, .. } => {
                if let Some(course) = self.courses.get_mut(&id) {
                    course.spec.valid_to = last_day;
                }
            }
            V::OccurrenceCancelled {
                course,
                date,
                reason,
                ..
            } => {
                if let Some(change) = self.change(&course, date) {
                    change.cancelled = Some(reason);
                }
            }
            V::OccurrenceMoved {
                course,
                date,
                to_date,
                start,
                end,
                room,
                ..
            } => {
                if let Some(change) = self.change(&course, date) {
                    change.moved = Some(Moved {
                        date: to_date,
                        start,
                        end,
                    });
                    if room.is_some() {
                        change.room = room;
                    }
                }
            }
            V::TeacherReplaced {
                course,
                date,
                teachers,
                ..
            } => {
                if let Some(change) = self.change(&course, date) {
                    change.teachers = Some(teachers);
                }
            }
            V::RoomChanged {
                course, date, room, ..
            } => {
                if let Some(change) = self.change(&course, date) {
                    change.room = Some(room);
                }
            }
            V::ExtraLessonAdded(extra) => {
                self.courses.insert(
                    extra.id.clone(),
                    Course {
                        spec: extra.as_course(),
                        extra: true,
                        changes: BTreeMap::new(),
                    },
                );
            }
        }
    }
}

impl Timetable {
    /// The exceptions of a lesson, to fold an event into; `None` for an event naming an
    /// unknown course, which `apply` skips since it must not fail.
    fn change(&mut self, course: &str, date: NaiveDate) -> Option<&mut Change> {
        self.courses
            .get_mut(course)
            .map(|c| c.changes.entry(date).or_default())
    }
}
