//! Grades as CSV: one row per mark of the school year, in every gradebook (each division
//! or group and period), with the evaluation's subject, date, coefficient and scale, the
//! score or special mark (ABS, DISP, NN, NR), and whether it was corrected.

use std::io::Write;

use carnet_domain::grades::{Gradebook, Mark};

use super::school::{list_streams, Scope, Students};
use super::{CsvOptions, ExportError};

/// The columns, in order, in English (`--lang en`); [`HEADER_FR`] is the same in French.
pub const HEADER: [&str; 20] = [
    "period",
    "period_name",
    "class",
    "student",
    "last_name",
    "first_name",
    "division",
    "subject",
    "subject_name",
    "evaluation",
    "title",
    "date",
    "teacher",
    "coefficient",
    "scale",
    "bonus",
    "score",
    "special_mark",
    "corrected",
    "previous_marks",
];

/// The columns of [`HEADER`] in French, the default: as a school's staff names them.
pub const HEADER_FR: [&str; 20] = [
    "Code période",
    "Période",
    "Classe ou groupe",
    "Élève",
    "Nom",
    "Prénom",
    "Classe",
    "Code matière",
    "Matière",
    "Évaluation",
    "Intitulé",
    "Date",
    "Professeur",
    "Coefficient",
    "Barème",
    "Bonus",
    "Note",
    "Annotation",
    "Note modifiée",
    "Notes précédentes",
];

/// Writes the marks of the school year of `scope` to `out`; returns the number of rows
/// (the header not counted).
pub async fn export<W: Write>(
    scope: &Scope<'_>,
    options: &CsvOptions,
    out: W,
) -> Result<usize, ExportError> {
    let prefix = format!("{}/", scope.year);
    let streams: Vec<String> = list_streams(&scope.school.store, scope.tenant(), "gradebook")
        .await?
        .into_iter()
        .filter(|s| s.starts_with(&prefix))
        .collect();
    let periods = scope
        .year_spec()
        .map(|y| y.periods.clone())
        .unwrap_or_default();

    let mut books: Vec<Gradebook> = Vec::new();
    for stream in &streams {
        let (_, book): (i64, Gradebook) = scope.school.gradebooks.state(stream).await?;
        if book.class.is_some() {
            books.push(book);
        }
    }
    // Periods in the order of the year, then classes.
    let order = |book: &Gradebook| {
        let period = book.period.as_deref().unwrap_or_default();
        (
            periods
                .iter()
                .position(|p| p.id == period)
                .unwrap_or(usize::MAX),
            period.to_string(),
            book.class.clone().unwrap_or_default(),
        )
    };
    books.sort_by_key(order);

    let mut csv = options.writer(out)?;
    csv.write_record(options.header(&HEADER_FR, &HEADER))?;
    let mut students = Students::default();
    let mut rows = 0;
    for book in &books {
        let class = book.class.clone().unwrap_or_default();
        let period = book.period.clone().unwrap_or_default();
        let period_name = periods
            .iter()
            .find(|p| p.id == period)
            .map(|p| p.name.clone())
            .unwrap_or_default();
        let mut evaluations: Vec<_> = book.evaluations.values().collect();
        evaluations.sort_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
        for e in evaluations {
            let subject_name = scope.subject_name(&e.subject);
            for (student, entry) in &e.marks {
                let (last_name, first_name, division) = match students.get(scope, student).await? {
                    Some((s, names)) => (
                        names.last.clone(),
                        names.first.clone(),
                        s.placement_on(e.date)
                            .map(|p| p.division)
                            .unwrap_or_default(),
                    ),
                    None => Default::default(),
                };
                let (score, special) = match entry.mark {
                    Mark::Score(score) => (options.decimal(score), String::new()),
                    other => (String::new(), other.to_string()),
                };
                let previous: Vec<String> = entry
                    .previous
                    .iter()
                    .map(|m| match m {
                        Mark::Score(s) => options.decimal(*s),
                        other => other.to_string(),
                    })
                    .collect();
                options.write_row(
                    &mut csv,
                    [
                        period.clone(),
                        period_name.clone(),
                        class.clone(),
                        student.clone(),
                        last_name,
                        first_name,
                        division,
                        e.subject.clone(),
                        subject_name.clone(),
                        e.id.clone(),
                        e.title.clone(),
                        e.date.to_string(),
                        e.teacher.clone(),
                        options.decimal(e.coefficient),
                        options.decimal(e.scale),
                        options.yes_no(e.bonus),
                        score,
                        special,
                        options.yes_no(!entry.previous.is_empty()),
                        previous.join(" > "),
                    ],
                )?;
                rows += 1;
            }
        }
    }
    csv.flush()?;
    tracing::debug!(rows, gradebooks = books.len(), "grades export");
    Ok(rows)
}
