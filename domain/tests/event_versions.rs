//! Old event versions: a fixture of every event type at each version it was ever written
//! at (`tests/fixtures/events`, frozen), replayed through the upcasters, so that a log
//! written today still loads in five years.

mod support {
    pub mod event_fixtures;
}

use carnet_domain::upcast::{current_version, upcast, UpcastError, EVENT_TYPES};
use serde_json::Value;
use support::event_fixtures::{self as fixtures, AnyEvent, Fixture};

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

fn fail_with(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} problem(s) with the event fixtures (see tests/fixtures/events/README.md):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_event_types_are_those_of_the_event_enums() {
    let mut stream_types: Vec<&str> = EVENT_TYPES.iter().map(|(s, _)| *s).collect();
    stream_types.sort_unstable();
    assert_eq!(
        stream_types,
        [
            "attendance",
            "class_council",
            "competence_framework",
            "establishment",
            "gradebook",
            "guardian_contact",
            "resource",
            "student",
            "timetable"
        ]
    );
    for (stream_type, event_types) in EVENT_TYPES {
        assert!(!event_types.is_empty(), "{stream_type} has no event type");
        let mut distinct = event_types.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), event_types.len(), "{stream_type}");
    }
}

/// (a) Every event type, at every version from 1 to today's, has its fixture.
#[test]
fn every_event_type_has_a_fixture_at_every_version() {
    let all = fixtures::all();
    let mut missing = Vec::new();
    for (stream_type, event_types) in EVENT_TYPES {
        for event_type in event_types.iter() {
            for version in 1..=current_version(stream_type, event_type) {
                if fixtures::find(&all, stream_type, event_type, version).is_none() {
                    missing.push(format!(
                        "{} is missing",
                        fixtures::file_name(stream_type, event_type, version)
                    ));
                }
            }
        }
    }
    fail_with(&missing);
}

/// (a) No fixture of a stream type, event type or version the code does not know: it
/// would be a misnamed file, or an event removed from the code while logs still hold it.
#[test]
fn no_fixture_of_an_unknown_stream_event_or_version() {
    let mut unknown = Vec::new();
    for fixture in fixtures::all() {
        let Some((_, event_types)) = EVENT_TYPES
            .iter()
            .find(|(stream_type, _)| *stream_type == fixture.stream_type)
        else {
            unknown.push(format!(
                "{fixture}: no aggregate has the stream type `{}`",
                fixture.stream_type
            ));
            continue;
        };
        if !event_types.contains(&fixture.event_type.as_str()) {
            unknown.push(format!(
                "{fixture}: `{}` is not an event of {} (its events: {})",
                fixture.event_type,
                fixture.stream_type,
                event_types.join(", ")
            ));
            continue;
        }
        let current = fixture.current_version();
        if !(1..=current).contains(&fixture.version) {
            unknown.push(format!(
                "{fixture}: {} is written at versions 1 to {current}, not {}",
                fixture.event_type, fixture.version
            ));
        }
    }
    fail_with(&unknown);
}

/// (b) Every fixture, upcast to today's version, reads as its aggregate's event, of its
/// file's event type, at the version the upcasters call today's: the two version tables
/// (`event_version()` and `current_version`) cannot drift apart.
#[test]
fn every_fixture_reads_as_todays_event() {
    let all = fixtures::all();
    assert!(
        !all.is_empty(),
        "no fixture in {}",
        fixtures::folder().display()
    );
    let mut problems = Vec::new();
    for fixture in &all {
        let payload = match fixture.upcast() {
            Ok(payload) => payload,
            Err(e) => {
                problems.push(format!("{fixture}: the upcasters refuse it: {e}"));
                continue;
            }
        };
        let event = match AnyEvent::decode(&fixture.stream_type, payload.clone()) {
            Ok(event) => event,
            Err(e) => {
                problems.push(format!(
                    "{fixture}: upcast to v{}, it does not read as today's {} event: {e}\n{}",
                    fixture.current_version(),
                    fixture.stream_type,
                    pretty(&payload)
                ));
                continue;
            }
        };
        if event.event_type() != fixture.event_type {
            problems.push(format!(
                "{fixture}: reads as a `{}` event",
                event.event_type()
            ));
        }
        if event.event_version() != fixture.current_version().to_string() {
            problems.push(format!(
                "{fixture}: the event says it is written at v{}, the upcasters say v{} \
                 (`event_version()` and `upcast::current_version` disagree)",
                event.event_version(),
                fixture.current_version()
            ));
        }
    }
    fail_with(&problems);
}

/// (c) For every event type above v1, each older fixture upcast is exactly the current
/// fixture (the same fact, written today).
#[test]
fn older_versions_upcast_to_the_current_fixture() {
    let all = fixtures::all();
    let mut problems = Vec::new();
    let mut compared = 0;
    for fixture in all.iter().filter(|f| f.version < f.current_version()) {
        let current: &Fixture = fixtures::current_of(&all, fixture);
        compared += 1;
        if fixture.stream_id != current.stream_id {
            problems.push(format!(
                "{fixture} and {current} are not the same fact: written to `{}` and `{}`",
                fixture.stream_id, current.stream_id
            ));
            continue;
        }
        match fixture.upcast() {
            Ok(upcast) if upcast == current.payload => {}
            Ok(upcast) => problems.push(format!(
                "{fixture} upcast to v{} is not {current}:\n{}\nexpected:\n{}",
                current.version,
                pretty(&upcast),
                pretty(&current.payload)
            )),
            Err(e) => problems.push(format!("{fixture}: the upcasters refuse it: {e}")),
        }
    }
    assert!(
        compared >= 7,
        "only {compared} older fixtures: the seven v2 events each have a v1"
    );
    fail_with(&problems);
}

/// The fixture of today's version is exactly what today's code writes: decoded and
/// written again, it gives its payload back, and the upcasters leave it alone. A shape
/// changed without a new version (a field added with a default, a value written
/// differently) fails here.
#[test]
fn current_fixtures_are_what_todays_code_writes() {
    let mut problems = Vec::new();
    for fixture in fixtures::all()
        .iter()
        .filter(|f| f.version == f.current_version())
    {
        match fixture.upcast() {
            Ok(same) if same == fixture.payload => {}
            Ok(other) => problems.push(format!(
                "{fixture}: the upcasters change today's version:\n{}",
                pretty(&other)
            )),
            Err(e) => problems.push(format!("{fixture}: the upcasters refuse it: {e}")),
        }
        let event = match AnyEvent::decode(&fixture.stream_type, fixture.payload.clone()) {
            Ok(event) => event,
            Err(e) => {
                problems.push(format!("{fixture}: does not read as today's event: {e}"));
                continue;
            }
        };
        let written = event.to_json();
        if written != fixture.payload {
            problems.push(format!(
                "{fixture}: today's code writes this event as\n{}\nnot as the fixture does:\n{}\n\
                 A changed shape is a new version: see the README",
                pretty(&written),
                pretty(&fixture.payload)
            ));
        }
    }
    fail_with(&problems);
}

/// (d) A payload of a version newer than this code knows is refused, not misread.
#[test]
fn a_newer_version_than_known_is_refused() {
    let all = fixtures::all();
    let mut problems = Vec::new();
    for (stream_type, event_types) in EVENT_TYPES {
        for event_type in event_types.iter() {
            let known = current_version(stream_type, event_type);
            let Some(fixture) = fixtures::find(&all, stream_type, event_type, known) else {
                problems.push(format!(
                    "{} is missing",
                    fixtures::file_name(stream_type, event_type, known)
                ));
                continue;
            };
            for version in [known + 1, known + 7] {
                let answer = upcast(
                    stream_type,
                    &fixture.stream_id,
                    event_type,
                    version,
                    fixture.payload.clone(),
                );
                let expected = UpcastError::Newer {
                    event_type: event_type.to_string(),
                    version,
                    known,
                };
                if answer.as_ref() != Err(&expected) {
                    problems.push(format!(
                        "{fixture} given as v{version}: expected the refusal `{expected}`, got {answer:?}"
                    ));
                }
            }
        }
    }
    fail_with(&problems);
}
