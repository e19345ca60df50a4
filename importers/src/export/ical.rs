//! Timetables as iCalendar (RFC 5545): a student's, a teacher's, a room's, a division's or
//! a group's lessons of a school year, for any calendar application (a phone, Thunderbird,
//! Outlook, an ENT's agenda).
//!
//! Each course becomes one recurring event:
//!
//! - the weekly rule of its week pattern: `FREQ=WEEKLY` every week, `INTERVAL=2` from
//!   its first lesson in week A (or B); a course of chosen weeks, or one whose lessons
//!   the rule would fit badly, lists its days as `RDATE`s instead;
//! - the days the rule gives and the course does not hold (holidays, closed days,
//!   cancelled lessons, lessons taken over by someone else for a teacher's calendar)
//!   as `EXDATE`s, and the days it holds outside the rule as `RDATE`s, so the set of
//!   lessons is exactly Carnet's whatever the calendar (weeks A and B skip holiday
//!   weeks, which a bare `INTERVAL=2` does not know);
//! - every lesson that differs from its course (moved, in another room, with another
//!   teacher) as an override naming it by `RECURRENCE-ID`, the day and time it was due.
//!
//! A lesson held once (an extra lesson, or the one lesson a substitute teaches) is a
//! single event. Times are local with the establishment's `TZID` and its VTIMEZONE; UIDs
//! are the course's id, school year and establishment, so importing the file again
//! updates the same events instead of doubling them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use carnet_domain::timetable::{CourseSpec, Occurrence, OccurrenceKind, Timetable, WeekPattern};
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc,
};
use chrono_tz::Tz;

use super::school::Scope;
use super::timezone::vtimezone;
use super::ExportError;

/// Whose timetable to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whose {
    /// A student: the lessons of their division and groups, following their placement
    /// day by day (a change of class in the year shows from its date).
    Student(String),
    Teacher(String),
    Room(String),
    /// A division: its whole-class lessons and those of every group drawn from it.
    Division(String),
    Group(String),
}

impl std::fmt::Display for Whose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Whose::Student(id) => write!(f, "student {id}"),
            Whose::Teacher(id) => write!(f, "teacher {id}"),
            Whose::Room(id) => write!(f, "room {id}"),
            Whose::Division(id) => write!(f, "division {id}"),
            Whose::Group(id) => write!(f, "group {id}"),
        }
    }
}

/// Carnet's lessons of `whose` over the whole school year of `scope`, cancelled lessons
/// included (with their reason), sorted by start: what the export encodes, computed by
/// the timetable's own functions. An unknown student, teacher, room, division or group
/// is an error naming it.
pub async fn lessons(
    scope: &Scope<'_>,
    timetable: &Timetable,
    whose: &Whose,
) -> Result<Vec<Occurrence>, ExportError> {
    let Some(calendar) = timetable.calendar() else {
        return Err(ExportError::NoTimetable {
            tenant: scope.tenant().clone(),
            year: scope.year.clone(),
        });
    };
    let (first, last) = (calendar.first_day, calendar.last_day);
    let found = match whose {
        Whose::Student(id) => {
            let student = scope.student(id).await?;
            let mut found = Vec::new();
            // One query per stretch of equal placement, as the API's timetable does.
            let mut day = first;
            while day <= last {
                let placement = student.placement_on(day);
                let mut end = day;
                while end < last && student.placement_on(end + Duration::days(1)) == placement {
                    end += Duration::days(1);
                }
                if let Some(p) = placement.filter(|p| p.year == scope.year) {
                    found.extend(timetable.for_student(day, end, &p.division, &p.groups));
                }
                day = end + Duration::days(1);
            }
            found.sort_by(|a, b| (a.start_utc, &a.id).cmp(&(b.start_utc, &b.id)));
            found
        }
        Whose::Teacher(id) => {
            let found = timetable.for_teacher(first, last, id);
            if found.is_empty() && !scope.establishment.staff.contains_key(id) {
                return Err(ExportError::UnknownTeacher {
                    tenant: scope.tenant().clone(),
                    id: id.clone(),
                });
            }
            found
        }
        Whose::Room(room) => {
            let found = timetable.for_room(first, last, room);
            if found.is_empty() {
                return Err(ExportError::UnknownRoom {
                    tenant: scope.tenant().clone(),
                    year: scope.year.clone(),
                    room: room.clone(),
                });
            }
            found
        }
        Whose::Division(id) => {
            let found = timetable.for_division(first, last, id);
            let known = scope
                .year_spec()
                .is_ok_and(|y| y.divisions.contains_key(id));
            if found.is_empty() && !known {
                return Err(ExportError::UnknownDivision {
                    tenant: scope.tenant().clone(),
                    year: scope.year.clone(),
                    id: id.clone(),
                });
            }
            found
        }
        Whose::Group(id) => {
            let found = timetable.for_group(first, last, id);
            let known = timetable.group(id).is_some()
                || scope.year_spec().is_ok_and(|y| y.groups.contains_key(id));
            if found.is_empty() && !known {
                return Err(ExportError::UnknownGroup {
                    tenant: scope.tenant().clone(),
                    year: scope.year.clone(),
                    id: id.clone(),
                });
            }
            found
        }
    };
    Ok(found)
}

/// The iCalendar file of `whose`'s timetable for the school year of `scope`. `stamp` is
/// the DTSTAMP of every event: when the file is made.
pub async fn export(
    scope: &Scope<'_>,
    whose: &Whose,
    stamp: DateTime<Utc>,
) -> Result<String, ExportError> {
    let timetable = scope.timetable().await?;
    let found = lessons(scope, &timetable, whose).await?;
    let mut labels = Labels::default();
    let teachers: BTreeSet<&String> = found
        .iter()
        .flat_map(|o| o.teachers.iter())
        .chain(
            found
                .iter()
                .filter_map(|o| timetable.course(&o.course))
                .flat_map(|spec| spec.teachers.iter()),
        )
        .collect();
    for id in teachers {
        let label = match scope.staff_name(id).await? {
            Some(name) => format!("{name} ({id})"),
            None => id.clone(),
        };
        labels.teachers.insert(id.clone(), label);
    }
    for o in &found {
        labels
            .subjects
            .entry(o.subject.clone())
            .or_insert_with(|| scope.subject_name(&o.subject));
    }
    let header = Header {
        uai: scope.tenant().to_string(),
        year: scope.year.to_string(),
        name: format!(
            "{} – {whose} – {}",
            scope.establishment.name.trim(),
            scope.year
        ),
        stamp,
    };
    tracing::debug!(%whose, lessons = found.len(), "iCalendar export");
    Ok(render(&timetable, &found, &labels, &header))
}

/// How people and subjects are written in events.
#[derive(Debug, Default, Clone)]
pub struct Labels {
    /// Teacher id → "Hélène Martin (maths3)".
    pub teachers: HashMap<String, String>,
    /// Subject as the timetable names it → its name ("Mathématiques").
    pub subjects: HashMap<String, String>,
}

impl Labels {
    fn teacher(&self, id: &str) -> String {
        self.teachers
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    fn subject(&self, subject: &str) -> String {
        self.subjects
            .get(subject)
            .cloned()
            .unwrap_or_else(|| subject.to_string())
    }
}

/// What the calendar says of itself.
#[derive(Debug, Clone)]
pub struct Header {
    pub uai: String,
    pub year: String,
    /// X-WR-CALNAME: the name calendar applications show.
    pub name: String,
    pub stamp: DateTime<Utc>,
}

/// The day a lesson was due: its identity among its course's lessons.
fn due(o: &Occurrence) -> NaiveDate {
    match o.kind {
        OccurrenceKind::Moved { from_date } => from_date,
        OccurrenceKind::Regular | OccurrenceKind::Extra => o.date,
    }
}

/// The iCalendar text of `lessons` (cancelled ones are left out: they are exceptions of
/// their course's rule). Pure: the same lessons give the same file.
pub fn render(
    timetable: &Timetable,
    lessons: &[Occurrence],
    labels: &Labels,
    header: &Header,
) -> String {
    let tz = timetable.time_zone();
    let mut cal = Writer::default();
    cal.line("BEGIN", "VCALENDAR");
    cal.line("VERSION", "2.0");
    cal.line(
        "PRODID",
        &format!("-//Carnet//Carnet {}//FR", env!("CARGO_PKG_VERSION")),
    );
    cal.line("CALSCALE", "GREGORIAN");
    cal.line("METHOD", "PUBLISH");
    cal.line("X-WR-CALNAME", &escape(&header.name));
    if let Some(calendar) = timetable.calendar() {
        for (name, value) in vtimezone(tz, calendar.first_day, calendar.last_day) {
            cal.line(&name, &value);
        }
    }

    // The lessons that take place, by course and by the day each was due.
    let mut courses: BTreeMap<&str, BTreeMap<NaiveDate, &Occurrence>> = BTreeMap::new();
    for o in lessons.iter().filter(|o| o.cancelled.is_none()) {
        courses.entry(&o.course).or_default().insert(due(o), o);
    }
    let events = Events {
        tz,
        tzid: tz.name(),
        labels,
        header,
    };
    for (course, held) in &courses {
        match timetable.course(course) {
            Some(spec) => events.course(&mut cal, spec, held),
            None => {
                for o in held.values() {
                    let notes = vec!["Extra lesson".to_string()];
                    events.single(&mut cal, &uid(course, header), o, notes);
                }
            }
        }
    }
    cal.line("END", "VCALENDAR");
    cal.out
}

fn uid(course: &str, header: &Header) -> String {
    format!("{course}/{}@{}", header.year, header.uai)
}

/// How a course's lessons are written.
#[derive(Debug)]
struct Rule {
    /// 7 or 14 days.
    step: i64,
    /// The last day the rule gives.
    until: NaiveDate,
    /// Days the rule gives that the course does not hold.
    excluded: Vec<NaiveDate>,
    /// Days the course holds that the rule does not give.
    added: Vec<NaiveDate>,
}

/// The weekly rule for `held` (the days a course's lessons were due), when its pattern
/// has one and it fits: at most half as many exceptions as lessons.
fn rule(weeks: &WeekPattern, held: &[NaiveDate]) -> Option<Rule> {
    let step = match weeks {
        WeekPattern::Every => 7,
        WeekPattern::A | WeekPattern::B => 14,
        WeekPattern::Weeks(_) => return None,
    };
    let (first, last) = (*held.first()?, *held.last()?);
    if held.len() < 2 {
        return None;
    }
    let given: BTreeSet<NaiveDate> = std::iter::successors(Some(first), |d| {
        Some(*d + Duration::days(step)).filter(|n| *n <= last)
    })
    .collect();
    let held_set: BTreeSet<NaiveDate> = held.iter().copied().collect();
    let excluded: Vec<NaiveDate> = given.difference(&held_set).copied().collect();
    let added: Vec<NaiveDate> = held_set.difference(&given).copied().collect();
    if (excluded.len() + added.len()) * 2 > held.len() {
        return None;
    }
    Some(Rule {
        step,
        until: given.last().copied().unwrap_or(first),
        excluded,
        added,
    })
}

struct Events<'a> {
    tz: Tz,
    tzid: &'a str,
    labels: &'a Labels,
    header: &'a Header,
}

impl Events<'_> {
    fn local(&self, name: &str, at: NaiveDateTime) -> (String, String) {
        (
            format!("{name};TZID={}", self.tzid),
            at.format("%Y%m%dT%H%M%S").to_string(),
        )
    }

    fn local_list(&self, name: &str, days: &[NaiveDate], time: NaiveTime) -> (String, String) {
        let list: Vec<String> = days
            .iter()
            .map(|d| d.and_time(time).format("%Y%m%dT%H%M%S").to_string())
            .collect();
        (format!("{name};TZID={}", self.tzid), list.join(","))
    }

    fn stamp(&self, cal: &mut Writer) {
        cal.line(
            "DTSTAMP",
            &self.header.stamp.format("%Y%m%dT%H%M%SZ").to_string(),
        );
    }

    /// A recurring course: its rule (or list of days), then its changed lessons.
    fn course(&self, cal: &mut Writer, spec: &CourseSpec, held: &BTreeMap<NaiveDate, &Occurrence>) {
        let uid = uid(&spec.id, self.header);
        let days: Vec<NaiveDate> = held.keys().copied().collect();
        let [first, ..] = days.as_slice() else {
            return;
        };
        if days.len() == 1 {
            if let Some(o) = held.values().next() {
                let notes = self.changes(spec, days[0], o).unwrap_or_default();
                self.single(cal, &uid, o, notes);
            }
            return;
        }
        cal.line("BEGIN", "VEVENT");
        cal.line("UID", &escape(&uid));
        self.stamp(cal);
        let (k, v) = self.local("DTSTART", first.and_time(spec.start));
        cal.line(&k, &v);
        let (k, v) = self.local("DTEND", first.and_time(spec.end));
        cal.line(&k, &v);
        match rule(&spec.weeks, &days) {
            Some(rule) => {
                let interval = if rule.step == 14 { ";INTERVAL=2" } else { "" };
                let until = to_utc(self.tz, rule.until.and_time(spec.start));
                cal.line(
                    "RRULE",
                    &format!(
                        "FREQ=WEEKLY{interval};UNTIL={}",
                        until.format("%Y%m%dT%H%M%SZ")
                    ),
                );
                if !rule.excluded.is_empty() {
                    let (k, v) = self.local_list("EXDATE", &rule.excluded, spec.start);
                    cal.line(&k, &v);
                }
                if !rule.added.is_empty() {
                    let (k, v) = self.local_list("RDATE", &rule.added, spec.start);
                    cal.line(&k, &v);
                }
            }
            None => {
                let (k, v) = self.local_list("RDATE", &days[1..], spec.start);
                cal.line(&k, &v);
            }
        }
        let week = match spec.weeks {
            WeekPattern::A => Some("Week A only".to_string()),
            WeekPattern::B => Some("Week B only".to_string()),
            WeekPattern::Every => None,
            WeekPattern::Weeks(ref w) => Some(format!("{} chosen weeks", w.len())),
        };
        self.what(
            cal,
            &spec.subject,
            spec.room.as_deref(),
            &spec.teachers,
            &spec.divisions,
            &spec.groups,
            week.into_iter().collect(),
        );
        cal.line("END", "VEVENT");

        for (due, o) in held {
            let Some(notes) = self.changes(spec, *due, o) else {
                continue;
            };
            self.event(cal, &uid, Some(due.and_time(spec.start)), o, notes);
        }
    }

    /// What changed in the lesson `o` of `spec` due on `due` (moved, another teacher,
    /// another room), in words; `None` when it is as its course says.
    fn changes(&self, spec: &CourseSpec, due: NaiveDate, o: &Occurrence) -> Option<Vec<String>> {
        let moved = o.date != due || o.start.time() != spec.start || o.end.time() != spec.end;
        let teachers = o.teachers != spec.teachers;
        let room = o.room != spec.room;
        if !(moved || teachers || room) {
            return None;
        }
        let mut notes = Vec::new();
        if moved {
            notes.push(format!(
                "Moved from {} {}",
                weekday(due),
                due.and_time(spec.start).format("%Y-%m-%d %H:%M")
            ));
        }
        if teachers {
            let usual: Vec<String> = spec
                .teachers
                .iter()
                .map(|t| self.labels.teacher(t))
                .collect();
            notes.push(format!("Replacing {}", usual.join(", ")));
        }
        if room {
            notes.push(format!(
                "Room changed (usually {})",
                spec.room.as_deref().unwrap_or("none")
            ));
        }
        Some(notes)
    }

    /// A lesson held once.
    fn single(&self, cal: &mut Writer, uid: &str, o: &Occurrence, notes: Vec<String>) {
        self.event(cal, uid, None, o, notes);
    }

    /// One lesson as a VEVENT: held once, or (with `recurrence`, the local start it was
    /// due at) the override of one lesson of a recurring course.
    fn event(
        &self,
        cal: &mut Writer,
        uid: &str,
        recurrence: Option<NaiveDateTime>,
        o: &Occurrence,
        notes: Vec<String>,
    ) {
        cal.line("BEGIN", "VEVENT");
        cal.line("UID", &escape(uid));
        self.stamp(cal);
        if let Some(due) = recurrence {
            let (k, v) = self.local("RECURRENCE-ID", due);
            cal.line(&k, &v);
        }
        let (k, v) = self.local("DTSTART", o.start);
        cal.line(&k, &v);
        let (k, v) = self.local("DTEND", o.end);
        cal.line(&k, &v);
        self.what(
            cal,
            &o.subject,
            o.room.as_deref(),
            &o.teachers,
            &o.divisions,
            &o.groups,
            notes,
        );
        cal.line("END", "VEVENT");
    }

    /// SUMMARY, LOCATION and DESCRIPTION.
    #[allow(clippy::too_many_arguments)]
    fn what(
        &self,
        cal: &mut Writer,
        subject: &str,
        room: Option<&str>,
        teachers: &[String],
        divisions: &[String],
        groups: &[String],
        notes: Vec<String>,
    ) {
        cal.line("SUMMARY", &escape(&self.labels.subject(subject)));
        if let Some(room) = room {
            cal.line("LOCATION", &escape(room));
        }
        let mut lines = Vec::new();
        if !teachers.is_empty() {
            let names: Vec<String> = teachers.iter().map(|t| self.labels.teacher(t)).collect();
            let label = if teachers.len() > 1 {
                "Teachers"
            } else {
                "Teacher"
            };
            lines.push(format!("{label}: {}", names.join(", ")));
        }
        if !divisions.is_empty() {
            let label = if divisions.len() > 1 {
                "Divisions"
            } else {
                "Division"
            };
            lines.push(format!("{label}: {}", divisions.join(", ")));
        }
        if !groups.is_empty() {
            let label = if groups.len() > 1 { "Groups" } else { "Group" };
            lines.push(format!("{label}: {}", groups.join(", ")));
        }
        lines.extend(notes);
        if !lines.is_empty() {
            cal.line("DESCRIPTION", &escape(&lines.join("\n")));
        }
    }
}

fn weekday(date: NaiveDate) -> &'static str {
    match date.weekday() {
        chrono::Weekday::Mon => "Monday",
        chrono::Weekday::Tue => "Tuesday",
        chrono::Weekday::Wed => "Wednesday",
        chrono::Weekday::Thu => "Thursday",
        chrono::Weekday::Fri => "Friday",
        chrono::Weekday::Sat => "Saturday",
        chrono::Weekday::Sun => "Sunday",
    }
}

/// The instant of a local time, as the timetable reads it: the first of a repeated
/// hour, and a time in the spring gap moved forward by the gap.
fn to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            let before = tz
                .offset_from_utc_datetime(&(local - Duration::days(1)))
                .fix();
            (local - before).and_utc()
        }
    }
}

/// TEXT escaping (RFC 5545 §3.3.11): backslash, semicolon, comma and newlines.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            // Other control characters are not allowed in TEXT.
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Content lines ending in CRLF, folded at 75 octets (RFC 5545 §3.1) without cutting a
/// UTF-8 character.
#[derive(Debug, Default)]
struct Writer {
    out: String,
}

/// The longest a line may be, in octets, CRLF not counted.
const FOLD_AT: usize = 75;

impl Writer {
    fn line(&mut self, name: &str, value: &str) {
        let mut used = 0;
        for c in name
            .chars()
            .chain(std::iter::once(':'))
            .chain(value.chars())
        {
            let len = c.len_utf8();
            if used + len > FOLD_AT {
                self.out.push_str("\r\n ");
                used = 1;
            }
            self.out.push(c);
            used += len;
        }
        self.out.push_str("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("Maths; groupe 1, salle B\\2\nTP"),
            "Maths\\; groupe 1\\, salle B\\\\2\\nTP"
        );
        assert_eq!(escape("a\r\nb"), "a\\nb");
    }

    #[test]
    fn lines_are_folded_at_75_octets_between_characters() {
        let value = "é".repeat(100);
        let mut w = Writer::default();
        w.line("DESCRIPTION", &value);
        assert!(w.out.ends_with("\r\n"));
        let lines: Vec<&str> = w.out.trim_end_matches("\r\n").split("\r\n").collect();
        assert!(lines.len() > 2);
        for (n, line) in lines.iter().enumerate() {
            assert!(line.len() <= 75, "line {n} has {} octets", line.len());
            if n > 0 {
                assert!(line.starts_with(' '));
            }
        }
        let unfolded: String = lines
            .iter()
            .enumerate()
            .map(|(n, l)| if n == 0 { *l } else { &l[1..] })
            .collect();
        assert_eq!(unfolded, format!("DESCRIPTION:{value}"));
        // A short line is left alone.
        let mut w = Writer::default();
        w.line("VERSION", "2.0");
        assert_eq!(w.out, "VERSION:2.0\r\n");
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn a_weekly_rule_with_holidays_as_exceptions() {
        // Mondays of September and October, without the 21st (a closed day).
        let held: Vec<NaiveDate> = [7, 14, 28]
            .iter()
            .map(|day| d(2026, 9, *day))
            .chain([d(2026, 10, 5), d(2026, 10, 12)])
            .collect();
        let r = rule(&WeekPattern::Every, &held).expect("a rule");
        assert_eq!(r.step, 7);
        assert_eq!(r.excluded, vec![d(2026, 9, 21)]);
        assert!(r.added.is_empty());
        assert_eq!(r.until, d(2026, 10, 12));
        // Weeks A every other Monday, the alternation shifted by a one-week closure: the
        // shifted days are added, those the rule would give excluded.
        let held = vec![
            d(2026, 9, 7),
            d(2026, 9, 21),
            d(2026, 10, 5),
            d(2026, 10, 26),
        ];
        let r = rule(&WeekPattern::A, &held).expect("a rule");
        assert_eq!(
            (r.excluded, r.added),
            (vec![d(2026, 10, 19)], vec![d(2026, 10, 26)])
        );
        // A rule that would need more exceptions than half the lessons: a list instead.
        let held = vec![d(2026, 9, 7), d(2026, 9, 28), d(2026, 10, 19)];
        let r = rule(&WeekPattern::A, &held);
        assert!(r.is_none(), "too many exceptions: {r:?}");
        let held = vec![
            d(2026, 9, 7),
            d(2026, 9, 21),
            d(2026, 10, 5),
            d(2026, 10, 19),
            d(2026, 11, 2),
        ];
        let r = rule(&WeekPattern::A, &held).expect("a rule");
        assert_eq!((r.step, r.excluded.len(), r.added.len()), (14, 0, 0));
        assert!(rule(&WeekPattern::Weeks(BTreeSet::new()), &held).is_none());
    }
}
