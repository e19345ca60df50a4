//! The log read as of an instant, and between two instants: `carnet replay as-of` (the
//! state of an aggregate, a student's whole record or a division, as it stood) and
//! `carnet replay diff` (what changed, stream by stream, with who changed it). Both fold
//! the events themselves, not the read models, so they answer for any moment the log
//! covers; personal values are opened with their keys, or shown as erased.

use std::collections::BTreeMap;

use carnet_domain::attendance::StudentAttendance;
use carnet_domain::contact::GuardianContact;
use carnet_domain::enrolment::{Establishment, Student};
use carnet_domain::grades::Gradebook;
use carnet_domain::reportcards::{ClassCouncil, CompetenceFramework};
use carnet_domain::reservations::Resource;
use carnet_domain::timetable::Timetable;
use carnet_domain::Uai;
use carnet_store::{EventStore, RecordedEvent, StoreError};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use cqrs_es::Aggregate;
use serde::Serialize;
use serde_json::{json, Map, Value};

const PAGE: i64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("`{0}` is not an instant: give an RFC 3339 time (2026-11-27T10:00:00+01:00) or a date (2026-11-27, meaning its end in the establishment's time zone)")]
    Instant(String),
    #[error("`{0}` is not a stream: give type/id, e.g. student/eleve00042 or attendance/2026-2027/eleve00042")]
    Stream(String),
    #[error("stream type `{0}` is not one of establishment, student, attendance, gradebook, timetable, resource")]
    StreamType(String),
    #[error("no student `{0}` (by id or INE) in {1} at that instant")]
    NoStudent(String, Uai),
    #[error("position {position}: {event_type} cannot be read: {reason}")]
    Event {
        position: i64,
        event_type: String,
        reason: String,
    },
}

/// What `as-of` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Every aggregate of the establishment.
    All,
    /// One stream, `type/id`.
    Stream(String),
    /// A student's whole record, by id or INE.
    Student(String),
    /// The students of a division on the instant's date.
    Division(String),
}

/// `text` as an instant: RFC 3339, or a date meaning its last microsecond in `zone`.
pub fn parse_instant(text: &str, zone: Tz) -> Result<DateTime<Utc>, TimelineError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(at.with_timezone(&Utc));
    }
    let bad = || TimelineError::Instant(text.to_string());
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| bad())?;
    let end = NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).ok_or_else(bad)?;
    zone.from_local_datetime(&date.and_time(end))
        .latest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(bad)
}

/// The state `selector` names as it stood at `at`, personal values opened.
pub async fn as_of(
    store: &EventStore,
    tenant: &Uai,
    at: DateTime<Utc>,
    zone: Tz,
    selector: &Selector,
) -> Result<Value, TimelineError> {
    let streams = streams_until(store, tenant, at).await?;
    let mut out = match selector {
        Selector::All => {
            let mut all = Map::new();
            for (key, events) in &streams {
                all.insert(key.clone(), fold(events)?);
            }
            Value::Object(all)
        }
        Selector::Stream(key) => {
            let (kind, _) = key
                .split_once('/')
                .ok_or_else(|| TimelineError::Stream(key.clone()))?;
            check_type(kind)?;
            match streams.get(key) {
                Some(events) => fold(events)?,
                None => Value::Null,
            }
        }
        Selector::Student(who) => student_record(&streams, who, tenant)?,
        Selector::Division(division) => {
            let date = at.with_timezone(&zone).date_naive();
            let mut students = Vec::new();
            for (key, events) in &streams {
                if !key.starts_with("student/") {
                    continue;
                }
                let student: Student = fold_as(events)?;
                if student
                    .placement_on(date)
                    .is_some_and(|p| &p.division == division)
                {
                    students.push(to_json(&student)?);
                }
            }
            json!({ "division": division, "on": date, "students": students })
        }
    };
    store.vault().reveal(tenant, &mut out).await?;
    Ok(json!({ "establishment": tenant.as_str(), "as_of": at, "state": out }))
}

/// The events recorded after `from` and up to `to`, grouped by stream, each with who
/// recorded it, how and when, its payload opened.
pub async fn diff(
    store: &EventStore,
    tenant: &Uai,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Value, TimelineError> {
    let mut streams: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut count = 0;
    let mut after = 0;
    loop {
        let page = store.read_log(tenant, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for e in page
            .into_iter()
            .filter(|e| from < e.recorded_at && e.recorded_at <= to)
        {
            let mut payload = current(&e)?;
            store.vault().reveal(tenant, &mut payload).await?;
            count += 1;
            streams.entry(stream_key(&e)).or_default().push(json!({
                "position": e.position,
                "version": e.stream_version,
                "at": e.recorded_at,
                "event": e.event_type,
                "by": e.metadata.actor,
                "role": e.metadata.role,
                "via": e.metadata.source.as_str(),
                "command_id": e.metadata.command_id,
                "payload": payload,
            }));
        }
    }
    Ok(json!({
        "establishment": tenant.as_str(),
        "from": from,
        "to": to,
        "events": count,
        "streams": streams,
    }))
}

/// Every stream's events recorded up to `at`, by `type/id`.
async fn streams_until(
    store: &EventStore,
    tenant: &Uai,
    at: DateTime<Utc>,
) -> Result<BTreeMap<String, Vec<RecordedEvent>>, TimelineError> {
    let mut streams: BTreeMap<String, Vec<RecordedEvent>> = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = store.read_log(tenant, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for e in page.into_iter().filter(|e| e.recorded_at <= at) {
            streams.entry(stream_key(&e)).or_default().push(e);
        }
    }
    Ok(streams)
}

/// A student's record (by id or INE), their attendance of every year and their marks.
fn student_record(
    streams: &BTreeMap<String, Vec<RecordedEvent>>,
    who: &str,
    tenant: &Uai,
) -> Result<Value, TimelineError> {
    let mut found = None;
    for (key, events) in streams.range("student/".to_string()..) {
        let Some(id) = key.strip_prefix("student/") else {
            break;
        };
        let student: Student = fold_as(events)?;
        let ine = student.identity.as_ref().map(|i| i.ine.to_string());
        if id == who || ine.as_deref() == Some(who) {
            found = Some((id.to_string(), student));
            break;
        }
    }
    let (id, student) =
        found.ok_or_else(|| TimelineError::NoStudent(who.into(), tenant.clone()))?;
    let mut attendance = Map::new();
    let mut marks = Vec::new();
    for (key, events) in streams {
        if let Some(year) = key
            .strip_prefix("attendance/")
            .and_then(|rest| rest.strip_suffix(&format!("/{id}")))
        {
            let record: StudentAttendance = fold_as(events)?;
            attendance.insert(year.to_string(), to_json(&record)?);
        } else if let Some(book) = key.strip_prefix("gradebook/") {
            let gradebook: Gradebook = fold_as(events)?;
            for evaluation in gradebook.evaluations.values() {
                if let Some(mark) = evaluation.marks.get(&id) {
                    marks.push(json!({
                        "gradebook": book,
                        "evaluation": evaluation.id,
                        "subject": evaluation.subject,
                        "title": evaluation.title,
                        "date": evaluation.date,
                        "scale": evaluation.scale,
                        "mark": mark,
                    }));
                }
            }
        }
    }
    Ok(json!({
        "id": id,
        "student": to_json(&student)?,
        "attendance": attendance,
        "marks": marks,
    }))
}

/// The state of a stream's aggregate after `events` (all of one stream).
fn fold(events: &[RecordedEvent]) -> Result<Value, TimelineError> {
    let Some(first) = events.first() else {
        return Ok(Value::Null);
    };
    match first.stream.stream_type.as_str() {
        "establishment" => to_json(&fold_as::<Establishment>(events)?),
        "student" => to_json(&fold_as::<Student>(events)?),
        "attendance" => to_json(&fold_as::<StudentAttendance>(events)?),
        "gradebook" => to_json(&fold_as::<Gradebook>(events)?),
        "timetable" => to_json(&fold_as::<Timetable>(events)?),
        "resource" => to_json(&fold_as::<Resource>(events)?),
        "guardian_contact" => to_json(&fold_as::<GuardianContact>(events)?),
        "class_council" => to_json(&fold_as::<ClassCouncil>(events)?),
        "competence_framework" => to_json(&fold_as::<CompetenceFramework>(events)?),
        other => Err(TimelineError::StreamType(other.to_string())),
    }
}

fn check_type(kind: &str) -> Result<(), TimelineError> {
    match kind {
        "establishment"
        | "student"
        | "attendance"
        | "gradebook"
        | "timetable"
        | "resource"
        | "guardian_contact"
        | "class_council"
        | "competence_framework" => Ok(()),
        other => Err(TimelineError::StreamType(other.to_string())),
    }
}

fn fold_as<A: Aggregate + Default>(events: &[RecordedEvent]) -> Result<A, TimelineError> {
    let mut state = A::default();
    for e in events {
        let event = serde_json::from_value(current(e)?).map_err(|err| unreadable(e, err))?;
        state.apply(event);
    }
    Ok(state)
}

fn current(e: &RecordedEvent) -> Result<Value, TimelineError> {
    e.current_payload().map_err(|err| unreadable(e, err))
}

fn unreadable(e: &RecordedEvent, reason: impl std::fmt::Display) -> TimelineError {
    TimelineError::Event {
        position: e.position,
        event_type: e.event_type.clone(),
        reason: reason.to_string(),
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, TimelineError> {
    serde_json::to_value(value).map_err(|e| TimelineError::Event {
        position: 0,
        event_type: String::new(),
        reason: e.to_string(),
    })
}

fn stream_key(e: &RecordedEvent) -> String {
    format!("{}/{}", e.stream.stream_type, e.stream.stream_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_times_or_whole_days() {
        let paris = chrono_tz::Europe::Paris;
        assert_eq!(
            parse_instant("2026-11-27T10:00:00+01:00", paris).expect("rfc 3339"),
            Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0)
                .single()
                .expect("utc")
        );
        let end_of_day = parse_instant("2026-11-27", paris).expect("date");
        assert_eq!(end_of_day.to_rfc3339(), "2026-11-27T22:59:59.999999+00:00");
        let refused = parse_instant("yesterday", paris).expect_err("not an instant");
        assert!(refused
            .to_string()
            .contains("`yesterday` is not an instant"));
    }
}
