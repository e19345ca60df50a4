//! Why a school rule refuses a command, for whoever reads it: a stable, language-free rule
//! code a client can translate, and the message in French (the default: `Display`) or in
//! English.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Weekday};

/// The language of a message. French by default: Carnet serves French schools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    /// The language's tag, as `Accept-Language` and `Content-Language` write it.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }
}

/// A refusal by a school rule.
pub trait Refusal: std::error::Error {
    /// A stable, language-free code for the rule, in SCREAMING_SNAKE_CASE (e.g.
    /// `PERIOD_CLOSED`): clients translate it, tests and metrics match on it.
    fn rule(&self) -> &'static str;

    /// The refusal in `lang`. `message(Lang::Fr)` is the `Display` text.
    fn message(&self, lang: Lang) -> String;
}

/// A text in both languages, for words that a refusal carries (why a day has no lesson,
/// which lessons clash...) and that are worked out where the rule is checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Words {
    pub fr: String,
    pub en: String,
}

impl Words {
    pub fn new(fr: impl Into<String>, en: impl Into<String>) -> Self {
        Words {
            fr: fr.into(),
            en: en.into(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Fr => &self.fr,
            Lang::En => &self.en,
        }
    }
}

/// French, the default language.
impl std::fmt::Display for Words {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.fr)
    }
}

/// "01/09/2026": a date as French school staff write it.
pub(crate) fn date_fr(date: &NaiveDate) -> String {
    date.format("%d/%m/%Y").to_string()
}

/// "08h30".
pub(crate) fn time_fr(time: &NaiveTime) -> String {
    time.format("%Hh%M").to_string()
}

/// "8:30".
pub(crate) fn time_en(time: &NaiveTime) -> String {
    time.format("%H:%M").to_string()
}

pub(crate) fn weekday_fr(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Mon => "lundi",
        Weekday::Tue => "mardi",
        Weekday::Wed => "mercredi",
        Weekday::Thu => "jeudi",
        Weekday::Fri => "vendredi",
        Weekday::Sat => "samedi",
        Weekday::Sun => "dimanche",
    }
}

const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// "mardi 10 novembre 2026".
pub(crate) fn day_fr(date: &NaiveDate) -> String {
    let first = if date.day() == 1 { "er" } else { "" };
    format!(
        "{} {}{first} {} {}",
        weekday_fr(date.weekday()),
        date.day(),
        MONTHS_FR[date.month0() as usize],
        date.year()
    )
}

/// "mardi 10 novembre 2026 à 10h00".
pub(crate) fn moment_fr(at: &NaiveDateTime) -> String {
    format!("{} à {}", day_fr(&at.date()), time_fr(&at.time()))
}

/// The French for the name of a value that must not be empty (the `Missing` refusals of
/// the aggregates name it in English, in code).
pub(crate) fn what_fr(what: &'static str) -> &'static str {
    match what {
        "the course id" => "l'identifiant du cours",
        "the divisions a group is drawn from" => "les divisions dont le groupe est issu",
        "the group's name" | "the group name" => "le nom du groupe",
        "the group's partition" | "the group partition" => "la partition du groupe",
        "the justification id" => "l'identifiant du justificatif",
        "the lesson" => "le cours",
        "the reason for cancelling" => "le motif de l'annulation",
        "the room's name" => "le nom de la salle",
        "the school year" => "l'année scolaire",
        "the student" => "l'élève",
        "the subject" => "la matière",
        "a group id" => "l'identifiant d'un groupe",
        "a manager's name" => "le nom d'un gestionnaire",
        "the booking id" => "l'identifiant de la réservation",
        "the division id" => "l'identifiant de la division",
        "the division level" => "le niveau de la division",
        "the division name" => "le nom de la division",
        "the division" => "la division",
        "the establishment's name" => "le nom de l'établissement",
        "the first name" => "le prénom",
        "the grounds for erasure" => "le motif de l'effacement",
        "the group id" => "l'identifiant du groupe",
        "the group" => "le groupe",
        "the guardian id" => "l'identifiant du responsable légal",
        "the guardian's name" => "le nom du responsable légal",
        "the identifier" => "l'identifiant",
        "the identifier's scheme" => "le type d'identifiant",
        "the last name" => "le nom de famille",
        "the period id" => "l'identifiant de la période",
        "the period name" => "le nom de la période",
        "the person's id" => "l'identifiant de la personne",
        "the person's name" => "le nom de la personne",
        "the reason for leaving" => "le motif du départ",
        "the resource id" => "l'identifiant de la ressource",
        "the resource's name" => "le nom de la ressource",
        "the student id" => "l'identifiant de l'élève",
        "the subject's name" => "le nom de la matière",
        "the subject's short name" => "le nom court de la matière",
        "who books" => "l'auteur de la réservation",
        "who erases" => "l'auteur de l'effacement",
        other => other,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every refusal has a rule code in SCREAMING_SNAKE_CASE and different French and
    /// English messages, none empty.
    pub(crate) fn check_all<E: Refusal>(refusals: &[E]) {
        assert!(!refusals.is_empty());
        for refusal in refusals {
            let rule = refusal.rule();
            assert!(
                !rule.is_empty()
                    && !rule.starts_with('_')
                    && !rule.ends_with('_')
                    && !rule.contains("__")
                    && rule
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "rule code {rule:?} is not SCREAMING_SNAKE_CASE"
            );
            let (fr, en) = (refusal.message(Lang::Fr), refusal.message(Lang::En));
            assert!(!fr.trim().is_empty(), "{rule}: empty French message");
            assert!(!en.trim().is_empty(), "{rule}: empty English message");
            assert_ne!(fr, en, "{rule}: the French message is the English one");
            assert_eq!(fr, refusal.to_string(), "{rule}: Display is not the French");
        }
    }

    #[test]
    fn dates_read_the_french_way() {
        let date = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
        assert_eq!(day_fr(&date), "mardi 1er septembre 2026");
        assert_eq!(date_fr(&date), "01/09/2026");
        assert_eq!(Lang::default(), Lang::Fr);
    }

    #[test]
    fn every_missing_value_has_french_words() {
        for what in [
            "the student",
            "the booking id",
            "who erases",
            "the divisions a group is drawn from",
        ] {
            assert_ne!(what_fr(what), what);
        }
    }

    mod every_variant {
        use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
        use rust_decimal::Decimal;

        use super::check_all;
        use crate::attendance::{AttendanceError as A, Status};
        use crate::calendar::CalendarError as Cal;
        use crate::contact::ContactError as Co;
        use crate::enrolment::ClassRef;
        use crate::enrolment::{
            EstablishmentError as Es, SchoolYear, StudentError as St, SubjectCode,
        };
        use crate::grades::{GradebookError as G, Mark};
        use crate::refusal::{Lang, Refusal, Words};
        use crate::reservations::{
            ActiveOccurrence, BookingStatus, Conflict, Conflicts, ReservationError as R, Span,
        };
        use crate::timetable::TimetableError as T;
        use crate::uai::UaiError as U;
        use crate::Uai;

        fn d(day: u32) -> NaiveDate {
            NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
        }
        fn t(hour: u32) -> NaiveTime {
            NaiveTime::from_hms_opt(hour, 0, 0).unwrap()
        }
        fn at(day: u32, hour: u32) -> NaiveDateTime {
            d(day).and_time(t(hour))
        }
        fn s(text: &str) -> String {
            text.to_string()
        }
        fn w(text: &str) -> Words {
            Words::new(format!("{text} (fr)"), format!("{text} (en)"))
        }
        fn year() -> SchoolYear {
            SchoolYear::starting(2026)
        }
        fn subject() -> SubjectCode {
            SubjectCode::parse("061300").unwrap()
        }
        fn conflict(capacity: u32, free: u32) -> Conflict {
            Conflict {
                resource: s("Salle 101"),
                when: Span {
                    start: at(10, 10),
                    end: at(10, 11),
                },
                asked: 2,
                capacity,
                free,
                holders: vec![ActiveOccurrence {
                    booking: s("b1"),
                    by: s("m.martin"),
                    start: at(10, 9),
                    end: at(10, 12),
                    quantity: 1,
                    status: BookingStatus::Pending,
                }],
            }
        }

        #[test]
        fn calendar() {
            check_all(&[
                Cal::YearReversed {
                    first: d(2),
                    last: d(1),
                },
                Cal::YearTooLong {
                    first: d(1),
                    last: d(2),
                },
                Cal::ClosureReversed {
                    name: s("Toussaint"),
                    from: d(2),
                    to: d(1),
                },
                Cal::ClosureOutsideYear {
                    name: s("Toussaint"),
                    from: d(1),
                    to: d(2),
                    first: d(3),
                    last: d(4),
                },
                Cal::ClosureWithoutName,
                Cal::NoWeekday,
            ]);
        }

        #[test]
        fn uai_and_contact() {
            check_all(&[
                U::Length(s("075"), 3),
                U::NotDigits(s("ABCDEFGH")),
                U::CheckLetter {
                    value: s("0750655A"),
                    expected: 'E',
                },
            ]);
            check_all(&[
                Co::WrongGuardian {
                    expected: s("g1"),
                    given: s("g2"),
                },
                Co::MissingGuardian,
                Co::BadEmail(s("x")),
                Co::BadMobile(s("x")),
                Co::Unchanged,
            ]);
        }

        #[test]
        fn attendance() {
            check_all(&[
                A::WrongStudent {
                    expected: s("lea"),
                    given: s("tom"),
                },
                A::AlreadyRecorded {
                    lesson: s("l1"),
                    status: Status::Absent,
                },
                A::NothingToCorrect(s("l1")),
                A::Unchanged {
                    lesson: s("l1"),
                    status: Status::Late { minutes: 5 },
                },
                A::NothingToRecord,
                A::LessonTimes {
                    start: t(9),
                    end: t(8),
                },
                A::LatenessOutOfLesson(70),
                A::DepartureOutOfLesson {
                    start: t(8),
                    end: t(9),
                },
                A::ReasonRequired,
                A::UnknownReason(s("XYZ")),
                A::DatesReversed {
                    from: d(2),
                    to: d(1),
                },
                A::JustificationExists(s("j1")),
                A::UnknownJustification(s("j1")),
                A::AlreadyDecided(s("j1")),
                A::Missing("the student"),
            ]);
            assert_eq!(
                A::AlreadyRecorded {
                    lesson: s("l1"),
                    status: Status::Absent
                }
                .rule(),
                "ALREADY_RECORDED"
            );
        }

        #[test]
        fn gradebook() {
            let n = Decimal::new(125, 1);
            check_all(&[
                G::PeriodClosed {
                    class: s("4A"),
                    period: s("T1"),
                },
                G::WrongGradebook {
                    expected: s("4A"),
                    given: s("4B"),
                },
                G::EvaluationExists(s("e1")),
                G::UnknownEvaluation(s("e1")),
                G::InvalidScale(Decimal::ZERO),
                G::NegativeCoefficient(-n),
                G::ScoreOutOfScale {
                    score: n,
                    scale: Decimal::TEN,
                },
                G::AlreadyMarked {
                    evaluation: s("e1"),
                    student: s("lea"),
                    mark: Mark::Score(n),
                },
                G::NothingToCorrect {
                    evaluation: s("e1"),
                    student: s("lea"),
                },
                G::NotTheTeacher {
                    evaluation: s("e1"),
                    teacher: s("m.martin"),
                },
                G::ReasonRequired,
                G::SameMark {
                    evaluation: s("e1"),
                    student: s("lea"),
                    mark: Mark::Absent,
                },
                G::StudentTwice {
                    evaluation: s("e1"),
                    student: s("lea"),
                },
                G::EmptyGrid(s("e1")),
                G::AlreadyClosed,
                G::NotClosed,
                G::Missing("the subject"),
            ]);
            let closed = G::PeriodClosed {
                class: s("4A"),
                period: s("T1"),
            };
            assert_eq!(closed.rule(), "PERIOD_CLOSED");
            assert!(closed.to_string().contains("conseil de classe"));
            assert!(closed.message(Lang::En).contains("class council"));
        }

        #[test]
        fn establishment_and_student() {
            let y = year;
            check_all(&[
                Es::AlreadyRegistered(Uai::parse("0750655E").unwrap()),
                Es::NotRegistered,
                Es::Missing("the first name"),
                Es::YearExists(y()),
                Es::UnknownYear(y()),
                Es::YearDates {
                    year: y(),
                    first: d(2),
                    last: d(1),
                },
                Es::YearStartsElsewhere {
                    year: y(),
                    first: d(1),
                    expected: 2026,
                },
                Es::NoPeriod,
                Es::PeriodReversed {
                    id: s("T1"),
                    from: d(2),
                    to: d(1),
                },
                Es::PeriodOutsideYear {
                    id: s("T1"),
                    from: d(1),
                    to: d(2),
                    first: d(3),
                    last: d(4),
                },
                Es::PeriodsOverlap {
                    first: s("T1"),
                    second: s("T2"),
                    starts: d(1),
                    ends: d(2),
                },
                Es::PeriodTwice(s("T1")),
                Es::SubjectExists(subject()),
                Es::UnknownSubject(subject()),
                Es::DivisionExists {
                    year: y(),
                    division: s("4A"),
                },
                Es::UnknownDivision {
                    year: y(),
                    division: s("4A"),
                },
                Es::GroupExists {
                    year: y(),
                    group: s("4A-G1"),
                },
                Es::UnknownGroup {
                    year: y(),
                    group: s("4A-G1"),
                },
                Es::GroupWithoutDivision(s("4A-G1")),
                Es::RolloverMismatch {
                    year: y(),
                    id: s("4A"),
                },
                Es::AlreadyRolledOver {
                    from: y(),
                    to: y().next(),
                },
                Es::RolloverNotNextYear { from: y(), to: y() },
                Es::AlreadyErased(s("g-1")),
                Es::StaffExists(s("p.cpe")),
                Es::UnknownStaff(s("p.cpe")),
                Es::StaffLeft(s("p.cpe")),
                Es::NoRole,
                Es::SameRoles(s("p.cpe")),
                Es::NotATeacher(s("p.cpe")),
                Es::ExternalIdTaken {
                    value: s("ext-1"),
                    kind: crate::enrolment::PersonKind::Guardian,
                    holder: s("g-1"),
                },
                Es::AlreadyLinked {
                    person: s("g-1"),
                    value: s("ext-1"),
                },
                Es::ExternalIdNotLinked {
                    scheme: s("ent"),
                    value: s("ext-1"),
                },
                Es::ServiceExists {
                    teacher: s("m.martin"),
                    subject: subject(),
                    class: ClassRef::Division(s("4A")),
                },
                Es::UnknownService {
                    teacher: s("m.martin"),
                    subject: subject(),
                    class: ClassRef::Group(s("4A-G1")),
                },
            ]);
            check_all(&[
                St::Missing("the student id"),
                St::AlreadyAdmitted,
                St::NotAdmitted,
                St::Departed(d(1)),
                St::BeforeLatestChange {
                    on: d(1),
                    latest: d(2),
                },
                St::SameDivision(s("4A")),
                St::AlreadyInGroup(s("4A-G1")),
                St::NotInGroup(s("4A-G1")),
                St::GroupTwice(s("4A-G1")),
                St::PromotedElsewhere {
                    year: y(),
                    division: s("3A"),
                },
                St::AlreadyLeft { last_day: d(1) },
                St::GuardianExists(s("mother")),
                St::UnknownGuardian(s("mother")),
                St::SameRights(s("mother")),
            ]);
        }

        #[test]
        fn timetable() {
            let conflict = T::Conflict {
                first: w("a"),
                second: w("b"),
                shared: Box::new(w("room B12")),
                day: d(2),
            };
            check_all(&[
                T::NotOpen,
                T::AlreadyOpen(s("2026-2027")),
                T::Calendar(Cal::NoWeekday),
                T::Missing("the course id"),
                T::NotAMonday(d(3)),
                T::WeekWithoutLessons(d(2)),
                T::WeekOutsideYear {
                    monday: d(2),
                    first: d(3),
                    last: d(4),
                },
                T::GroupExists(s("4A-G1")),
                T::UnknownGroup(s("4A-G1")),
                T::IdWithAt(s("c@1")),
                T::CourseExists(s("c1")),
                T::UnknownCourse(s("c1")),
                T::IsExtraLesson(s("x1")),
                T::Unchanged(s("c1")),
                T::Times {
                    start: t(9),
                    end: t(8),
                },
                T::NoAudience(s("c1")),
                T::ValidityReversed {
                    id: s("c1"),
                    from: d(2),
                    to: d(1),
                },
                T::OutsideYear {
                    id: s("c1"),
                    from: d(1),
                    to: d(2),
                    first: d(3),
                    last: d(4),
                },
                T::NoWeeks(s("c1")),
                T::NeverTakesPlace(s("c1")),
                T::EndOutsideValidity {
                    id: s("c1"),
                    last_day: d(9),
                    from: d(1),
                    to: d(5),
                },
                T::NoLesson {
                    course: w("c1"),
                    day: d(2),
                    why: w("closed"),
                },
                T::Cancelled {
                    lesson: s("c1@2026-11-02"),
                    reason: s("grève"),
                },
                T::NotASchoolDay {
                    day: d(1),
                    why: w("sunday"),
                },
                T::NoReplacement,
                conflict.clone(),
                T::WeeksShifted {
                    change: w("closure"),
                    conflict: Box::new(conflict),
                },
            ]);
            assert_eq!(T::Calendar(Cal::NoWeekday).rule(), "NO_WEEKDAY");
        }

        #[test]
        fn reservations() {
            check_all(&[
                R::NotRegistered,
                R::AlreadyRegistered(s("Salle 101")),
                R::Missing("the booking id"),
                R::EmptyPool,
                R::NoSeat,
                R::NoManager,
                R::Retired(s("Salle 101")),
                R::AlreadyRetired(s("Salle 101")),
                R::BookingExists(s("b1")),
                R::UnknownBooking(s("b1")),
                R::Times {
                    start: at(2, 10),
                    end: at(2, 9),
                },
                R::WeeklyOverDays {
                    start: at(2, 10),
                    end: at(3, 9),
                },
                R::UntilBeforeFirst {
                    first: d(9),
                    until: d(2),
                },
                R::WeeklyTooLong {
                    first: d(2),
                    until: d(9),
                },
                R::NothingToBook {
                    first: d(2),
                    until: d(9),
                },
                R::Calendar(Cal::NoWeekday),
                R::WholeOnly {
                    resource: s("Salle 101"),
                    quantity: 2,
                },
                R::QuantityOutOfPool {
                    resource: s("Tablettes"),
                    quantity: 40,
                    capacity: 30,
                },
                R::Unavailable(conflict(1, 0)),
                R::Unavailable(conflict(30, 0)),
                R::Unavailable(conflict(30, 1)),
                R::WeeklyUnavailable(Conflicts(vec![conflict(1, 0), conflict(30, 1)])),
                R::NotAManager {
                    resource: s("Salle 101"),
                    managers: s("m.martin"),
                    action: "retire it",
                    by: s("a.durand"),
                },
                R::NotPending {
                    booking: s("b1"),
                    status: BookingStatus::Confirmed,
                },
                R::RefusalReasonRequired,
                R::CancelReasonRequired(s("m.martin")),
                R::AlreadyEnded {
                    booking: s("b1"),
                    status: BookingStatus::Cancelled,
                },
                R::NotYours {
                    booking: s("b1"),
                    owner: s("m.martin"),
                    resource: s("Salle 101"),
                },
                R::NotWeekly(s("b1")),
                R::NoOccurrenceOn {
                    booking: s("b1"),
                    date: d(2),
                },
                R::OccurrenceAlreadyCancelled {
                    booking: s("b1"),
                    date: d(2),
                },
                R::NotAPool(s("Salle 101")),
                R::QuantityUnchanged {
                    resource: s("Tablettes"),
                    quantity: 30,
                },
                R::QuantityTooLow {
                    resource: s("Tablettes"),
                    quantity: 10,
                    peak: 20,
                    at: at(2, 10),
                    bookings: w("b1"),
                },
                R::StillBooked {
                    resource: s("Salle 101"),
                    at: at(2, 10),
                    bookings: w("b1"),
                },
            ]);
            assert_eq!(R::Unavailable(conflict(1, 0)).rule(), "RESOURCE_FULL");
            assert_eq!(R::Calendar(Cal::NoWeekday).rule(), "NO_WEEKDAY");
        }
    }
}
