//! Why the timetable refuses a command, in words the timetable's author understands.

use chrono::{NaiveDate, NaiveTime};

use super::course::day_name;
use crate::calendar::CalendarError;
use crate::refusal::{date_fr, day_fr, time_en, time_fr, what_fr, Lang, Refusal, Words};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimetableError {
    #[error(
        "l'emploi du temps n'est pas encore ouvert : ouvrez-le d'abord pour une année scolaire"
    )]
    NotOpen,
    #[error("l'emploi du temps de {0} est déjà ouvert")]
    AlreadyOpen(String),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error("il manque {}", what_fr(.0))]
    Missing(&'static str),
    #[error("le {} n'est pas un lundi ; une semaine se désigne par son lundi", date_fr(.0))]
    NotAMonday(NaiveDate),
    #[error("la semaine du {} n'a aucun jour de cours", date_fr(.0))]
    WeekWithoutLessons(NaiveDate),
    #[error("la semaine du {} est hors de l'année scolaire (du {} au {})", date_fr(.monday), date_fr(.first), date_fr(.last))]
    WeekOutsideYear {
        monday: NaiveDate,
        first: NaiveDate,
        last: NaiveDate,
    },
    #[error("le groupe {0} est déjà déclaré")]
    GroupExists(String),
    #[error(
        "le groupe {0} n'est pas déclaré ; déclarez-le d'abord avec les divisions dont il est issu"
    )]
    UnknownGroup(String),
    #[error("l'identifiant {0} ne doit pas contenir « @ » : les identifiants de séance s'écrivent cours@date")]
    IdWithAt(String),
    #[error("un cours ou un cours supplémentaire {0} existe déjà")]
    CourseExists(String),
    #[error("il n'y a pas de cours ni de cours supplémentaire {0}")]
    UnknownCourse(String),
    #[error("{0} est un cours supplémentaire : modifiez plutôt sa séance (annuler, déplacer, remplacer l'enseignant, changer de salle)")]
    IsExtraLesson(String),
    #[error("le cours {0} a déjà cette définition")]
    Unchanged(String),
    #[error("un cours doit se terminer après avoir commencé (de {} à {})", time_fr(.start), time_fr(.end))]
    Times { start: NaiveTime, end: NaiveTime },
    #[error("{0} doit concerner au moins une division ou un groupe")]
    NoAudience(String),
    #[error("le cours {id} ne peut pas avoir lieu du {} au {} : son premier jour est après son dernier", date_fr(.from), date_fr(.to))]
    ValidityReversed {
        id: String,
        from: NaiveDate,
        to: NaiveDate,
    },
    #[error("le cours {id} (du {} au {}) doit avoir lieu pendant l'année scolaire (du {} au {})", date_fr(.from), date_fr(.to), date_fr(.first), date_fr(.last))]
    OutsideYear {
        id: String,
        from: NaiveDate,
        to: NaiveDate,
        first: NaiveDate,
        last: NaiveDate,
    },
    #[error("le cours {0} n'indique aucune semaine : choisissez-en au moins une, ou toutes les semaines, la semaine A ou la semaine B")]
    NoWeeks(String),
    #[error("le cours {0} n'aurait jamais lieu : aucun de ses jours n'est un jour de cours dans ses semaines")]
    NeverTakesPlace(String),
    #[error("le cours {id} a lieu du {} au {} : son dernier jour doit être compris entre le {} et le {} (exclu), pas le {}", date_fr(.from), date_fr(.to), date_fr(.from), date_fr(.to), date_fr(.last_day))]
    EndOutsideValidity {
        id: String,
        last_day: NaiveDate,
        from: NaiveDate,
        to: NaiveDate,
    },
    #[error("{course} n'a pas de séance le {} : {why}", day_fr(.day))]
    NoLesson {
        course: Words,
        day: NaiveDate,
        why: Words,
    },
    #[error("la séance {lesson} est annulée ({reason})")]
    Cancelled { lesson: String, reason: String },
    #[error("il n'y a pas cours le {} : {why}", day_fr(.day))]
    NotASchoolDay { day: NaiveDate, why: Words },
    #[error("un remplacement désigne au moins un enseignant ; si personne ne remplace, annulez la séance")]
    NoReplacement,
    #[error("{first} et {second} mobiliseraient tous deux {shared} le {}", day_fr(.day))]
    Conflict {
        first: Words,
        second: Words,
        /// Boxed: the refusal stays small enough to return.
        shared: Box<Words>,
        day: NaiveDate,
    },
    #[error("{change} modifierait l'alternance des semaines A et B, et alors : {conflict}")]
    WeeksShifted {
        change: Words,
        conflict: Box<TimetableError>,
    },
}

impl Refusal for TimetableError {
    fn rule(&self) -> &'static str {
        use TimetableError as E;
        match self {
            E::NotOpen => "TIMETABLE_NOT_OPEN",
            E::AlreadyOpen(_) => "TIMETABLE_ALREADY_OPEN",
            E::Calendar(calendar) => calendar.rule(),
            E::Missing(_) => "MISSING_VALUE",
            E::NotAMonday(_) => "NOT_A_MONDAY",
            E::WeekWithoutLessons(_) => "WEEK_WITHOUT_LESSONS",
            E::WeekOutsideYear { .. } => "WEEK_OUTSIDE_YEAR",
            E::GroupExists(_) => "GROUP_EXISTS",
            E::UnknownGroup(_) => "UNKNOWN_GROUP",
            E::IdWithAt(_) => "ID_WITH_AT",
            E::CourseExists(_) => "COURSE_EXISTS",
            E::UnknownCourse(_) => "UNKNOWN_COURSE",
            E::IsExtraLesson(_) => "IS_EXTRA_LESSON",
            E::Unchanged(_) => "COURSE_UNCHANGED",
            E::Times { .. } => "LESSON_TIMES_REVERSED",
            E::NoAudience(_) => "NO_AUDIENCE",
            E::ValidityReversed { .. } => "COURSE_DATES_REVERSED",
            E::OutsideYear { .. } => "COURSE_OUTSIDE_YEAR",
            E::NoWeeks(_) => "NO_WEEKS",
            E::NeverTakesPlace(_) => "NEVER_TAKES_PLACE",
            E::EndOutsideValidity { .. } => "END_OUTSIDE_VALIDITY",
            E::NoLesson { .. } => "NO_LESSON",
            E::Cancelled { .. } => "LESSON_CANCELLED",
            E::NotASchoolDay { .. } => "NOT_A_SCHOOL_DAY",
            E::NoReplacement => "NO_REPLACEMENT",
            E::Conflict { .. } => "TIMETABLE_CONFLICT",
            E::WeeksShifted { .. } => "WEEKS_SHIFTED",
        }
    }

    fn message(&self, lang: Lang) -> String {
        use TimetableError as E;
        if lang == Lang::Fr {
            return self.to_string();
        }
        match self {
            E::NotOpen => {
                "the timetable is not open yet: open it for a school year first".to_string()
            }
            E::AlreadyOpen(year) => format!("the timetable of {year} is already open"),
            E::Calendar(calendar) => calendar.message(lang),
            E::Missing(what) => format!("{what} must not be empty"),
            E::NotAMonday(date) => format!("{date} is not a Monday; a week is named by its Monday"),
            E::WeekWithoutLessons(monday) => format!("the week of {monday} has no school day"),
            E::WeekOutsideYear {
                monday,
                first,
                last,
            } => format!("the week of {monday} is outside the school year ({first} to {last})"),
            E::GroupExists(group) => format!("group {group} is already declared"),
            E::UnknownGroup(group) => format!(
                "group {group} is not declared; declare it with the divisions it is drawn from first"
            ),
            E::IdWithAt(id) => format!(
                "the id {id} must not contain \"@\": lesson ids are written course@date"
            ),
            E::CourseExists(id) => format!("a course or extra lesson {id} already exists"),
            E::UnknownCourse(id) => format!("there is no course or extra lesson {id}"),
            E::IsExtraLesson(id) => format!(
                "{id} is an extra lesson: change its occurrence instead (cancel, move, replace the teacher, change the room)"
            ),
            E::Unchanged(id) => format!("course {id} already has this definition"),
            E::Times { start, end } => format!(
                "a lesson must end after it starts ({} to {})",
                time_en(start),
                time_en(end)
            ),
            E::NoAudience(id) => format!("{id} needs at least one division or group"),
            E::ValidityReversed { id, from, to } => format!(
                "course {id} cannot run from {from} to {to}: its first day is after its last"
            ),
            E::OutsideYear {
                id,
                from,
                to,
                first,
                last,
            } => format!(
                "course {id} ({from} to {to}) must run within the school year ({first} to {last})"
            ),
            E::NoWeeks(id) => format!(
                "course {id} lists no week: list at least one, or choose every week, week A or week B"
            ),
            E::NeverTakesPlace(id) => format!(
                "course {id} would never take place: none of its days is a school day in its weeks"
            ),
            E::EndOutsideValidity {
                id,
                last_day,
                from,
                to,
            } => format!(
                "course {id} runs from {from} to {to}: its last day must be on or after {from} and before {to}, not {last_day}"
            ),
            E::NoLesson { course, day, why } => format!(
                "{} has no lesson on {}: {}",
                course.en,
                day_name(*day),
                why.en
            ),
            E::Cancelled { lesson, reason } => {
                format!("the lesson {lesson} is cancelled ({reason})")
            }
            E::NotASchoolDay { day, why } => {
                format!("there are no lessons on {}: {}", day_name(*day), why.en)
            }
            E::NoReplacement => {
                "a replacement needs at least one teacher; if nobody replaces, cancel the lesson"
                    .to_string()
            }
            E::Conflict {
                first,
                second,
                shared,
                day,
            } => format!(
                "{} and {} would both have {} on {}",
                first.en,
                second.en,
                shared.en,
                day_name(*day)
            ),
            E::WeeksShifted { change, conflict } => format!(
                "{} would change which weeks are A and B, and then {}",
                change.en,
                conflict.message(lang)
            ),
        }
    }
}
