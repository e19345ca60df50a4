//! A student's attendance over a school year.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, NaiveTime};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::policy::{AttendancePolicy, HalfDay};
use crate::personal::{absences_owner, school_year_of, Personal};
use crate::refusal::{date_fr, time_en, time_fr, what_fr, Lang, Refusal};

/// Code de l'éducation L131-8: from four half-days of absence in a month without a
/// legitimate reason or valid excuse, the chef d'établissement must act (and report to
/// the DASEN). Reaching it is recorded once per student and month.
pub const ALERT_THRESHOLD: usize = 4;

/// What the roll call says of a student in one lesson.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Present,
    Absent,
    Late {
        minutes: u32,
    },
    EarlyDeparture {
        at: NaiveTime,
    },
    /// Excluded from class (exclusion de cours): present in school, not absent.
    Excluded,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Present => f.write_str("present"),
            Status::Absent => f.write_str("absent"),
            Status::Late { minutes } => write!(f, "late by {minutes} min"),
            Status::EarlyDeparture { at } => write!(f, "left at {}", at.format("%H:%M")),
            Status::Excluded => f.write_str("excluded from class"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LessonEntry {
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub half_day: HalfDay,
    pub status: Status,
    /// Every value the entry had before its corrections.
    pub previous: Vec<Status>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Justification {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The reason's code (personal data: a reason can say "illness").
    pub reason: Personal<String>,
    /// Whether the reason was legitimate when declared (the establishment's list then).
    pub legitimate: bool,
    pub comment: Personal<String>,
    pub declared_by: String,
    /// The CPE's decision: `Some(true)` accepted, `Some(false)` refused.
    pub accepted: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StudentAttendance {
    pub student: Option<String>,
    /// By lesson occurrence id.
    pub lessons: BTreeMap<String, LessonEntry>,
    pub justifications: BTreeMap<String, Justification>,
    /// Months ("2026-11") whose alert threshold was reached.
    pub alerted_months: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AttendanceCommand {
    /// One student's line of a lesson's roll call.
    RecordAttendance {
        student: String,
        lesson: String,
        date: NaiveDate,
        start: NaiveTime,
        end: NaiveTime,
        status: Status,
        by: String,
        /// The guardians who have the right to be told of an absence, as the student's
        /// record says when the roll call is taken (`Student::guardians_to_notify`).
        #[serde(default)]
        notify: Vec<String>,
    },
    CorrectAttendance {
        lesson: String,
        status: Status,
        by: String,
        reason: String,
        /// As for a roll call: told when the correction makes the entry an absence.
        #[serde(default)]
        notify: Vec<String>,
    },
    /// A guardian (or the student, if of age) explains an absence.
    DeclareJustification {
        student: String,
        justification: String,
        from: NaiveDate,
        to: NaiveDate,
        reason: String,
        comment: String,
        by: String,
    },
    /// The CPE accepts or refuses a justification.
    DecideJustification {
        justification: String,
        accept: bool,
        by: String,
        note: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum AttendanceEvent {
    AttendanceRecorded {
        student: String,
        lesson: String,
        date: NaiveDate,
        start: NaiveTime,
        end: NaiveTime,
        half_day: HalfDay,
        status: Status,
        by: String,
    },
    AttendanceCorrected {
        lesson: String,
        previous: Status,
        status: Status,
        by: String,
        reason: Personal<String>,
    },
    JustificationDeclared {
        student: String,
        justification: String,
        from: NaiveDate,
        to: NaiveDate,
        reason: Personal<String>,
        legitimate: bool,
        comment: Personal<String>,
        by: String,
    },
    JustificationAccepted {
        justification: String,
        by: String,
        note: Personal<String>,
    },
    JustificationRefused {
        justification: String,
        by: String,
        note: Personal<String>,
    },
    /// An absence was recorded and these guardians are to be told (the notifier sends
    /// it by the channels each guardian chose; the event is the proof it was due).
    GuardiansNotified {
        student: String,
        lesson: String,
        date: NaiveDate,
        start: NaiveTime,
        guardians: Vec<String>,
    },
    /// L131-8: the month's unjustified half-days reached [`ALERT_THRESHOLD`].
    AlertThresholdReached {
        student: String,
        month: String,
        unjustified_half_days: usize,
    },
}

impl DomainEvent for AttendanceEvent {
    fn event_type(&self) -> String {
        match self {
            AttendanceEvent::AttendanceRecorded { .. } => "AttendanceRecorded",
            AttendanceEvent::AttendanceCorrected { .. } => "AttendanceCorrected",
            AttendanceEvent::JustificationDeclared { .. } => "JustificationDeclared",
            AttendanceEvent::JustificationAccepted { .. } => "JustificationAccepted",
            AttendanceEvent::JustificationRefused { .. } => "JustificationRefused",
            AttendanceEvent::GuardiansNotified { .. } => "GuardiansNotified",
            AttendanceEvent::AlertThresholdReached { .. } => "AlertThresholdReached",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        // Version 2: reasons, comments and notes became personal data, and a declared
        // justification names its student (see `crate::upcast`).
        match self {
            Self::AttendanceCorrected { .. }
            | Self::JustificationDeclared { .. }
            | Self::JustificationAccepted { .. }
            | Self::JustificationRefused { .. } => "2",
            _ => "1",
        }
        .to_string()
    }
}

/// A status as the roll call says it in French.
fn status_fr(status: &Status) -> String {
    match status {
        Status::Present => "présent".to_string(),
        Status::Absent => "absent".to_string(),
        Status::Late { minutes } => format!("en retard de {minutes} min"),
        Status::EarlyDeparture { at } => format!("parti à {}", time_fr(at)),
        Status::Excluded => "exclu de cours".to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttendanceError {
    #[error("ce dossier est celui de {expected}, pas de {given}")]
    WrongStudent { expected: String, given: String },
    #[error("l'appel du cours {lesson} indique déjà « {} » ; pour le modifier, faites une correction", status_fr(.status))]
    AlreadyRecorded { lesson: String, status: Status },
    #[error("rien n'a été relevé pour le cours {0} : il n'y a rien à corriger")]
    NothingToCorrect(String),
    #[error("le cours {lesson} indique déjà « {} »", status_fr(.status))]
    Unchanged { lesson: String, status: Status },
    #[error("l'appel relève les élèves qui ne sont pas simplement présents : il n'y a rien à enregistrer")]
    NothingToRecord,
    #[error("un cours doit se terminer après avoir commencé (de {} à {})", time_fr(.start), time_fr(.end))]
    LessonTimes { start: NaiveTime, end: NaiveTime },
    #[error("un retard se compte en minutes, de 1 à la durée du cours ({0} min ne convient pas)")]
    LatenessOutOfLesson(i64),
    #[error("un départ anticipé a lieu pendant le cours (de {} à {})", time_fr(.start), time_fr(.end))]
    DepartureOutOfLesson { start: NaiveTime, end: NaiveTime },
    #[error("une correction doit être motivée")]
    ReasonRequired,
    #[error("« {0} » ne fait pas partie des motifs de l'établissement")]
    UnknownReason(String),
    #[error("un justificatif couvre les dates de la première à la dernière : le {} est après le {}", date_fr(.from), date_fr(.to))]
    DatesReversed { from: NaiveDate, to: NaiveDate },
    #[error("le justificatif {0} existe déjà")]
    JustificationExists(String),
    #[error("il n'y a pas de justificatif {0}")]
    UnknownJustification(String),
    #[error("le justificatif {0} a déjà été traité")]
    AlreadyDecided(String),
    #[error("il manque {}", what_fr(.0))]
    Missing(&'static str),
}

impl Refusal for AttendanceError {
    fn rule(&self) -> &'static str {
        match self {
            AttendanceError::WrongStudent { .. } => "WRONG_STUDENT",
            AttendanceError::AlreadyRecorded { .. } => "ALREADY_RECORDED",
            AttendanceError::NothingToCorrect(_) => "NOTHING_RECORDED_TO_CORRECT",
            AttendanceError::Unchanged { .. } => "ATTENDANCE_UNCHANGED",
            AttendanceError::NothingToRecord => "NOTHING_TO_RECORD",
            AttendanceError::LessonTimes { .. } => "LESSON_TIMES_REVERSED",
            AttendanceError::LatenessOutOfLesson(_) => "LATENESS_OUT_OF_LESSON",
            AttendanceError::DepartureOutOfLesson { .. } => "DEPARTURE_OUT_OF_LESSON",
            AttendanceError::ReasonRequired => "CORRECTION_REASON_REQUIRED",
            AttendanceError::UnknownReason(_) => "UNKNOWN_REASON",
            AttendanceError::DatesReversed { .. } => "JUSTIFICATION_DATES_REVERSED",
            AttendanceError::JustificationExists(_) => "JUSTIFICATION_EXISTS",
            AttendanceError::UnknownJustification(_) => "UNKNOWN_JUSTIFICATION",
            AttendanceError::AlreadyDecided(_) => "JUSTIFICATION_ALREADY_DECIDED",
            AttendanceError::Missing(_) => "MISSING_VALUE",
        }
    }

    fn message(&self, lang: Lang) -> String {
        if lang == Lang::Fr {
            return self.to_string();
        }
        match self {
            AttendanceError::WrongStudent { expected, given } => {
                format!("this record is for {expected}, not {given}")
            }
            AttendanceError::AlreadyRecorded { lesson, status } => format!(
                "the roll call of lesson {lesson} already says {status}; change it with a correction"
            ),
            AttendanceError::NothingToCorrect(lesson) => {
                format!("there is nothing recorded for lesson {lesson} to correct")
            }
            AttendanceError::Unchanged { lesson, status } => {
                format!("lesson {lesson} already says {status}")
            }
            AttendanceError::NothingToRecord => {
                "a roll call records who is not simply present; there is nothing to record"
                    .to_string()
            }
            AttendanceError::LessonTimes { start, end } => format!(
                "a lesson must end after it starts ({} to {})",
                time_en(start),
                time_en(end)
            ),
            AttendanceError::LatenessOutOfLesson(minutes) => format!(
                "lateness is a number of minutes between 1 and the length of the lesson ({minutes} min)"
            ),
            AttendanceError::DepartureOutOfLesson { start, end } => format!(
                "an early departure happens during the lesson ({} to {})",
                time_en(start),
                time_en(end)
            ),
            AttendanceError::ReasonRequired => "a correction must say why".to_string(),
            AttendanceError::UnknownReason(reason) => {
                format!("`{reason}` is not a reason of this establishment's list")
            }
            AttendanceError::DatesReversed { from, to } => format!(
                "a justification covers dates from the first to the last: {from} is after {to}"
            ),
            AttendanceError::JustificationExists(id) => {
                format!("a justification {id} already exists")
            }
            AttendanceError::UnknownJustification(id) => {
                format!("there is no justification {id}")
            }
            AttendanceError::AlreadyDecided(id) => {
                format!("justification {id} was already decided")
            }
            AttendanceError::Missing(what) => format!("{what} must not be empty"),
        }
    }
}

impl StudentAttendance {
    /// Half-days with at least one lesson the student missed. Lateness, early departure
    /// and exclusion from class are not absences.
    pub fn absence_half_days(&self) -> BTreeSet<HalfDay> {
        self.lessons
            .values()
            .filter(|l| l.status == Status::Absent)
            .map(|l| l.half_day)
            .collect()
    }

    /// Whether an accepted justification with a legitimate reason covers `half_day`.
    pub fn is_justified(&self, half_day: &HalfDay) -> bool {
        self.justifications.values().any(|j| {
            j.accepted == Some(true)
                && j.legitimate
                && j.from <= half_day.date
                && half_day.date <= j.to
        })
    }

    /// Absence half-days of a month: (total, justified, unjustified or not legitimate).
    pub fn month_counts(&self, year: i32, month: u32) -> (usize, usize, usize) {
        self.counts(|date| date.year() == year && date.month() == month)
    }

    /// Absence half-days between two dates, inclusive (a period, a term).
    pub fn range_counts(&self, from: NaiveDate, to: NaiveDate) -> (usize, usize, usize) {
        self.counts(|date| from <= date && date <= to)
    }

    fn counts(&self, on: impl Fn(NaiveDate) -> bool) -> (usize, usize, usize) {
        let days: Vec<HalfDay> = self
            .absence_half_days()
            .into_iter()
            .filter(|h| on(h.date))
            .collect();
        let justified = days.iter().filter(|h| self.is_justified(h)).count();
        (days.len(), justified, days.len() - justified)
    }

    /// The notification an event calls for: an entry that becomes an absence, when
    /// some guardian has the right to be told.
    fn notice(&self, event: &AttendanceEvent, guardians: Vec<String>) -> Option<AttendanceEvent> {
        let (lesson, date, start) = match event {
            AttendanceEvent::AttendanceRecorded {
                lesson,
                date,
                start,
                status: Status::Absent,
                ..
            } => (lesson, *date, *start),
            AttendanceEvent::AttendanceCorrected {
                lesson,
                status: Status::Absent,
                ..
            } => {
                let entry = self.lessons.get(lesson)?;
                (lesson, entry.date, entry.start)
            }
            _ => return None,
        };
        let student = match event {
            AttendanceEvent::AttendanceRecorded { student, .. } => student.clone(),
            _ => self.student.clone()?,
        };
        let mut guardians = guardians;
        guardians.sort();
        guardians.dedup();
        (!guardians.is_empty()).then(|| AttendanceEvent::GuardiansNotified {
            student,
            lesson: lesson.clone(),
            date,
            start,
            guardians,
        })
    }

    /// The key id of this student's absence reasons and comments of the school year of
    /// `date`.
    fn absences_owner(&self, date: NaiveDate) -> Result<String, AttendanceError> {
        let student = self
            .student
            .as_ref()
            .ok_or(AttendanceError::Missing("the student"))?;
        Ok(absences_owner(student, &school_year_of(date)))
    }

    fn check_student(&self, student: &str) -> Result<(), AttendanceError> {
        if student.trim().is_empty() {
            return Err(AttendanceError::Missing("the student"));
        }
        match &self.student {
            Some(expected) if expected != student => Err(AttendanceError::WrongStudent {
                expected: expected.clone(),
                given: student.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// The alert events the current state calls for, for the months of `dates`.
    fn alerts_for(&self, dates: impl IntoIterator<Item = NaiveDate>) -> Vec<AttendanceEvent> {
        let months: BTreeSet<(i32, u32)> =
            dates.into_iter().map(|d| (d.year(), d.month())).collect();
        let Some(student) = &self.student else {
            return Vec::new();
        };
        months
            .into_iter()
            .filter_map(|(year, month)| {
                let key = format!("{year}-{month:02}");
                let (_, _, unjustified) = self.month_counts(year, month);
                (unjustified >= ALERT_THRESHOLD && !self.alerted_months.contains(&key)).then(|| {
                    AttendanceEvent::AlertThresholdReached {
                        student: student.clone(),
                        month: key,
                        unjustified_half_days: unjustified,
                    }
                })
            })
            .collect()
    }

    fn decide(
        &self,
        command: AttendanceCommand,
        policy: &AttendancePolicy,
    ) -> Result<AttendanceEvent, AttendanceError> {
        match command {
            AttendanceCommand::RecordAttendance {
                student,
                lesson,
                date,
                start,
                end,
                status,
                by,
                notify: _,
            } => {
                self.check_student(&student)?;
                if lesson.trim().is_empty() {
                    return Err(AttendanceError::Missing("the lesson"));
                }
                check_lesson(start, end, status)?;
                if status == Status::Present {
                    return Err(AttendanceError::NothingToRecord);
                }
                if let Some(entry) = self.lessons.get(&lesson) {
                    return Err(AttendanceError::AlreadyRecorded {
                        lesson,
                        status: entry.status,
                    });
                }
                let half_day = policy.half_day(date, start);
                Ok(AttendanceEvent::AttendanceRecorded {
                    student,
                    lesson,
                    date,
                    start,
                    end,
                    half_day,
                    status,
                    by,
                })
            }
            AttendanceCommand::CorrectAttendance {
                lesson,
                status,
                by,
                reason,
                notify: _,
            } => {
                let entry = self
                    .lessons
                    .get(&lesson)
                    .ok_or_else(|| AttendanceError::NothingToCorrect(lesson.clone()))?;
                if reason.trim().is_empty() {
                    return Err(AttendanceError::ReasonRequired);
                }
                check_lesson(entry.start, entry.end, status)?;
                if entry.status == status {
                    return Err(AttendanceError::Unchanged { lesson, status });
                }
                let owner = self.absences_owner(entry.date)?;
                Ok(AttendanceEvent::AttendanceCorrected {
                    lesson,
                    previous: entry.status,
                    status,
                    by,
                    reason: Personal::known(owner, reason),
                })
            }
            AttendanceCommand::DeclareJustification {
                student,
                justification,
                from,
                to,
                reason,
                comment,
                by,
            } => {
                self.check_student(&student)?;
                if justification.trim().is_empty() {
                    return Err(AttendanceError::Missing("the justification id"));
                }
                if self.justifications.contains_key(&justification) {
                    return Err(AttendanceError::JustificationExists(justification));
                }
                if from > to {
                    return Err(AttendanceError::DatesReversed { from, to });
                }
                let legitimate = policy
                    .reasons
                    .get(&reason)
                    .map(|r| r.legitimate)
                    .ok_or_else(|| AttendanceError::UnknownReason(reason.clone()))?;
                let owner = absences_owner(&student, &school_year_of(from));
                Ok(AttendanceEvent::JustificationDeclared {
                    student,
                    justification,
                    from,
                    to,
                    reason: Personal::known(&owner, reason),
                    legitimate,
                    comment: Personal::known(owner, comment),
                    by,
                })
            }
            AttendanceCommand::DecideJustification {
                justification,
                accept,
                by,
                note,
            } => {
                let found = self
                    .justifications
                    .get(&justification)
                    .ok_or_else(|| AttendanceError::UnknownJustification(justification.clone()))?;
                if found.accepted.is_some() {
                    return Err(AttendanceError::AlreadyDecided(justification));
                }
                let note = Personal::known(self.absences_owner(found.from)?, note);
                Ok(if accept {
                    AttendanceEvent::JustificationAccepted {
                        justification,
                        by,
                        note,
                    }
                } else {
                    AttendanceEvent::JustificationRefused {
                        justification,
                        by,
                        note,
                    }
                })
            }
        }
    }
}

fn check_lesson(start: NaiveTime, end: NaiveTime, status: Status) -> Result<(), AttendanceError> {
    if end <= start {
        return Err(AttendanceError::LessonTimes { start, end });
    }
    let length = (end - start).num_minutes();
    match status {
        Status::Late { minutes } if minutes == 0 || i64::from(minutes) >= length => {
            Err(AttendanceError::LatenessOutOfLesson(length))
        }
        Status::EarlyDeparture { at } if at <= start || at >= end => {
            Err(AttendanceError::DepartureOutOfLesson { start, end })
        }
        _ => Ok(()),
    }
}

impl Aggregate for StudentAttendance {
    const TYPE: &'static str = "attendance";
    type Command = AttendanceCommand;
    type Event = AttendanceEvent;
    type Error = AttendanceError;
    type Services = AttendancePolicy;

    async fn handle(
        &mut self,
        command: AttendanceCommand,
        policy: &AttendancePolicy,
        sink: &EventSink<Self>,
    ) -> Result<(), AttendanceError> {
        let notify = match &command {
            AttendanceCommand::RecordAttendance { notify, .. }
            | AttendanceCommand::CorrectAttendance { notify, .. } => notify.clone(),
            _ => Vec::new(),
        };
        let event = self.decide(command, policy)?;
        let notice = self.notice(&event, notify);
        let dates: Vec<NaiveDate> = match &event {
            AttendanceEvent::AttendanceRecorded { date, .. } => vec![*date],
            AttendanceEvent::AttendanceCorrected { lesson, .. } => self
                .lessons
                .get(lesson)
                .map(|l| l.date)
                .into_iter()
                .collect(),
            _ => Vec::new(),
        };
        sink.write(event, self).await;
        if let Some(notice) = notice {
            sink.write(notice, self).await;
        }
        // Only a new absence can make a month reach the threshold: a justification
        // accepted or refused later does not retract an alert already given.
        for alert in self.alerts_for(dates) {
            sink.write(alert, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: AttendanceEvent) {
        match event {
            AttendanceEvent::AttendanceRecorded {
                student,
                lesson,
                date,
                start,
                end,
                half_day,
                status,
                ..
            } => {
                self.student.get_or_insert(student);
                self.lessons.insert(
                    lesson,
                    LessonEntry {
                        date,
                        start,
                        end,
                        half_day,
                        status,
                        previous: Vec::new(),
                    },
                );
            }
            AttendanceEvent::AttendanceCorrected { lesson, status, .. } => {
                if let Some(entry) = self.lessons.get_mut(&lesson) {
                    entry.previous.push(entry.status);
                    entry.status = status;
                }
            }
            AttendanceEvent::JustificationDeclared {
                student,
                justification,
                from,
                to,
                reason,
                legitimate,
                comment,
                by,
            } => {
                self.student.get_or_insert(student);
                self.justifications.insert(
                    justification,
                    Justification {
                        from,
                        to,
                        reason,
                        legitimate,
                        comment,
                        declared_by: by,
                        accepted: None,
                    },
                );
            }
            AttendanceEvent::JustificationAccepted { justification, .. } => {
                if let Some(j) = self.justifications.get_mut(&justification) {
                    j.accepted = Some(true);
                }
            }
            AttendanceEvent::JustificationRefused { justification, .. } => {
                if let Some(j) = self.justifications.get_mut(&justification) {
                    j.accepted = Some(false);
                }
            }
            AttendanceEvent::GuardiansNotified { .. } => {}
            AttendanceEvent::AlertThresholdReached { month, .. } => {
                self.alerted_months.insert(month);
            }
        }
    }
}
