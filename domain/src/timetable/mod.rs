//! Timetable (emploi du temps): filled in by the timetable work.
