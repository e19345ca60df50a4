//! Absences as CSV: one row per roll-call entry of the school year that is not
//! "present" (absent, late, early departure, excluded from class), with the student, their
//! division on that day, whether the half-day is justified, and the justification that
//! covers it with its reason and the CPE's decision.

use std::collections::HashMap;
use std::io::Write;

use carnet_domain::attendance::{AttendancePolicy, Justification, Status, StudentAttendance};
use carnet_domain::timetable::Occurrence;

use super::school::{list_streams, Scope, Students, ERASED};
use super::{CsvOptions, ExportError, Language};

/// The columns, in order, in English (`--lang en`); [`HEADER_FR`] is the same in French.
pub const HEADER: [&str; 21] = [
    "date",
    "start",
    "end",
    "half_day",
    "lesson",
    "subject",
    "student",
    "last_name",
    "first_name",
    "division",
    "kind",
    "late_minutes",
    "left_at",
    "corrected_from",
    "justified",
    "justification",
    "reason_code",
    "reason",
    "comment",
    "cpe_decision",
    "declared_by",
];

/// The columns of [`HEADER`] in French, the default: as vie scolaire names them.
pub const HEADER_FR: [&str; 21] = [
    "Date",
    "Début",
    "Fin",
    "Demi-journée",
    "Cours",
    "Matière",
    "Élève",
    "Nom",
    "Prénom",
    "Classe",
    "Type",
    "Minutes de retard",
    "Parti à",
    "Corrigé depuis",
    "Justifiée",
    "Justification",
    "Code motif",
    "Motif",
    "Commentaire",
    "Décision CPE",
    "Déclarée par",
];

/// Writes the absences of the school year of `scope` to `out`; returns the number of
/// rows (the header not counted). Reason codes are named by `policy`.
pub async fn export<W: Write>(
    scope: &Scope<'_>,
    policy: &AttendancePolicy,
    options: &CsvOptions,
    out: W,
) -> Result<usize, ExportError> {
    let year = scope.year.as_str();
    let prefix = format!("{year}/");
    let streams: Vec<String> = list_streams(&scope.school.store, scope.tenant(), "attendance")
        .await?
        .into_iter()
        .filter(|s| s.starts_with(&prefix))
        .collect();

    // Each lesson's subject, from the timetable when it is open.
    let lessons: HashMap<String, Occurrence> = match scope.timetable().await {
        Ok(t) => t
            .calendar()
            .map(|c| t.occurrences(c.first_day, c.last_day))
            .unwrap_or_default()
            .into_iter()
            .map(|o| (o.id.clone(), o))
            .collect(),
        Err(ExportError::NoTimetable { .. }) => HashMap::new(),
        Err(e) => return Err(e),
    };

    let language = options.language;
    let mut students = Students::default();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for stream in &streams {
        let (_, record): (i64, StudentAttendance) = scope.school.attendance.state(stream).await?;
        let student = match &record.student {
            Some(s) => s.clone(),
            None => stream.strip_prefix(&prefix).unwrap_or(stream).to_string(),
        };
        let who = students.get(scope, &student).await?.cloned();
        for (lesson, entry) in &record.lessons {
            let (late, left) = match entry.status {
                Status::Present => continue,
                Status::Late { minutes } => (minutes.to_string(), String::new()),
                Status::EarlyDeparture { at } => (String::new(), at.format("%H:%M").to_string()),
                Status::Absent | Status::Excluded => Default::default(),
            };
            let kind = kind_label(&entry.status, language);
            let corrected_from: Vec<String> = entry
                .previous
                .iter()
                .map(|s| status_label(s, language))
                .collect();
            let justification = covering(&record, entry.date);
            let (id, code, reason, comment, decision, declared_by) = match justification {
                Some((id, j)) => {
                    let code = scope.open_text(&j.reason).await?;
                    let reason = if code == ERASED {
                        ERASED.to_string()
                    } else {
                        policy
                            .reasons
                            .get(&code)
                            .map_or_else(String::new, |r| r.label.clone())
                    };
                    (
                        id.clone(),
                        code,
                        reason,
                        scope.open_text(&j.comment).await?,
                        match j.accepted {
                            Some(true) => language.pick("Acceptée", "accepted"),
                            Some(false) => language.pick("Refusée", "refused"),
                            None => language.pick("En attente", "pending"),
                        }
                        .to_string(),
                        j.declared_by.clone(),
                    )
                }
                None => Default::default(),
            };
            let (last_name, first_name, division) = match &who {
                Some((s, names)) => (
                    names.last.clone(),
                    names.first.clone(),
                    s.placement_on(entry.date)
                        .map(|p| p.division)
                        .unwrap_or_default(),
                ),
                None => Default::default(),
            };
            rows.push(vec![
                entry.date.to_string(),
                entry.start.format("%H:%M").to_string(),
                entry.end.format("%H:%M").to_string(),
                match entry.half_day.part {
                    carnet_domain::attendance::Part::Morning => language.pick("Matin", "morning"),
                    carnet_domain::attendance::Part::Afternoon => {
                        language.pick("Après-midi", "afternoon")
                    }
                }
                .to_string(),
                lesson.clone(),
                lessons
                    .get(lesson)
                    .map(|o| scope.subject_name(&o.subject))
                    .unwrap_or_default(),
                student.clone(),
                last_name,
                first_name,
                division,
                kind.to_string(),
                late,
                left,
                corrected_from.join(" > "),
                options.yes_no(record.is_justified(&entry.half_day)),
                id,
                code,
                reason,
                comment,
                decision,
                declared_by,
            ]);
        }
    }
    // By day and time, then student: how a CPE reads a register of absences.
    rows.sort_by(|a, b| (&a[0], &a[1], &a[6], &a[4]).cmp(&(&b[0], &b[1], &b[6], &b[4])));

    let mut csv = options.writer(out)?;
    csv.write_record(options.header(&HEADER_FR, &HEADER))?;
    for row in &rows {
        options.write_row(&mut csv, row)?;
    }
    csv.flush()?;
    tracing::debug!(
        rows = rows.len(),
        streams = streams.len(),
        "absences export"
    );
    Ok(rows.len())
}

/// The justification covering `date`, if any: an accepted one first, then one waiting
/// for the CPE, then a refused one.
fn covering(
    record: &StudentAttendance,
    date: chrono::NaiveDate,
) -> Option<(&String, &Justification)> {
    record
        .justifications
        .iter()
        .filter(|(_, j)| j.from <= date && date <= j.to)
        .min_by_key(|(id, j)| {
            let rank = match j.accepted {
                Some(true) => 0,
                None => 1,
                Some(false) => 2,
            };
            (rank, *id)
        })
}

/// What a roll-call entry says, for people: `Absence` / `absent`, `Retard` / `late`, ...
fn kind_label(status: &Status, language: Language) -> &'static str {
    match status {
        Status::Present => language.pick("Présence", "present"),
        Status::Absent => language.pick("Absence", "absent"),
        Status::Late { .. } => language.pick("Retard", "late"),
        Status::EarlyDeparture { .. } => language.pick("Départ anticipé", "early_departure"),
        Status::Excluded => language.pick("Exclusion de cours", "excluded"),
    }
}

/// An earlier value of a corrected entry, with its minutes or time.
fn status_label(status: &Status, language: Language) -> String {
    match (status, language) {
        (Status::Late { minutes }, Language::French) => format!("Retard de {minutes} min"),
        (Status::Late { minutes }, Language::English) => format!("late {minutes} min"),
        (Status::EarlyDeparture { at }, Language::French) => {
            format!("Départ anticipé à {}", at.format("%H:%M"))
        }
        (Status::EarlyDeparture { at }, Language::English) => {
            format!("left at {}", at.format("%H:%M"))
        }
        (other, _) => kind_label(other, language).to_string(),
    }
}
