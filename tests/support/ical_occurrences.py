#!/usr/bin/env python3
"""Expands an iCalendar file with independent parsers, for tests/export.rs.

Usage: ical_occurrences.py FILE.ics FIRST_DAY LAST_DAY

Parses FILE with the `icalendar` package, checks what RFC 5545 asks of the text itself
(CRLF line ends, lines folded at 75 octets, a VTIMEZONE for every TZID used, the
properties every VEVENT must have), then expands every event's RRULE, RDATE, EXDATE and
RECURRENCE-ID overrides with `recurring_ical_events` from FIRST_DAY to LAST_DAY (both
included), and prints one JSON object per occurrence, sorted:
{"start": UTC RFC 3339, "end": ..., "summary": ..., "location": ... or null}.
Any problem is printed on standard error with exit status 1.
"""

import datetime
import json
import sys

import icalendar
import recurring_ical_events


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def check_text(raw):
    if not raw.endswith(b"\r\n"):
        fail("the file does not end with CRLF")
    lines = raw[:-2].split(b"\r\n")
    for n, line in enumerate(lines, 1):
        if b"\n" in line or b"\r" in line:
            fail(f"line {n}: a bare LF or CR (lines must end with CRLF)")
        if len(line) > 75:
            fail(f"line {n}: {len(line)} octets, more than 75 (not folded)")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            fail(f"line {n}: folding cut a UTF-8 character")


def utc(value):
    if not isinstance(value, datetime.datetime) or value.tzinfo is None:
        fail(f"{value!r} is not a date-time with a time zone")
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    if len(sys.argv) != 4:
        fail(__doc__)
    path, first, last = sys.argv[1:]
    with open(path, "rb") as f:
        raw = f.read()
    check_text(raw)
    calendar = icalendar.Calendar.from_ical(raw)
    if calendar.get("VERSION") != "2.0" or not calendar.get("PRODID"):
        fail("VERSION:2.0 and PRODID are required")
    zones = {str(tz.get("TZID")) for tz in calendar.walk("VTIMEZONE")}
    for event in calendar.walk("VEVENT"):
        for prop in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"):
            if event.get(prop) is None:
                fail(f"an event lacks {prop}: {event.to_ical()!r}")
        for prop in ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE"):
            values = event.get(prop)
            if values is None:
                continue
            for value in values if isinstance(values, list) else [values]:
                tzid = value.params.get("TZID")
                if tzid is not None and tzid not in zones:
                    fail(f"{prop} names TZID {tzid}, which has no VTIMEZONE")
    first_day = datetime.date.fromisoformat(first)
    last_day = datetime.date.fromisoformat(last) + datetime.timedelta(days=1)
    out = []
    for event in recurring_ical_events.of(calendar).between(first_day, last_day):
        location = event.get("LOCATION")
        out.append(
            {
                "start": utc(event["DTSTART"].dt),
                "end": utc(event["DTEND"].dt),
                "summary": str(event["SUMMARY"]),
                "location": None if location is None else str(location),
            }
        )
    out.sort(key=lambda o: (o["start"], o["summary"], o["location"] or ""))
    for o in out:
        print(json.dumps(o, ensure_ascii=False))


if __name__ == "__main__":
    main()
