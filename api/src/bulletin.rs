//! A student's report card (bulletin) for a period, assembled from what Carnet records:
//! the gradebooks of the student's division and groups (averages, class figures, the
//! competences assessed), the class council's stream (appreciations, positionings the
//! teachers set, decisions, the bilan de fin de cycle), the attendance of the period and
//! the establishment (subjects, teachers, professeurs principaux).
//!
//! One assembly serves the GraphQL `bulletin` field, the PDF and the verification: the
//! streams it read, and the hash of the last event of each, are its [`Basis`], which an
//! issued bulletin records so that anyone can check later that it matches the log.

use std::collections::{BTreeMap, BTreeSet};

use carnet_domain::enrolment::{Establishment, Period, SchoolYear, Student};
use carnet_domain::grades::averages::{self, ClassFigures};
use carnet_domain::grades::competences::{assessments, positioning};
use carnet_domain::grades::{Gradebook, Level};
use carnet_domain::reportcards::{
    CompetenceFramework, Decision, EndOfCycle, Issued, Override, StudentReport, Team,
};
use carnet_domain::Uai;
use carnet_projections::grades::StudentAverages;
use carnet_store::{EventStore, RecordedEvent, StreamRef};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::i18n::Text;
use crate::reader::Reader;

/// How a subject stands on the report card.
#[derive(Debug, Clone)]
pub struct SubjectFacts {
    /// The establishment's code of the subject (`MATHS`), and its name.
    pub code: String,
    pub name: String,
    pub teachers: Vec<String>,
    /// The student's unrounded average out of 20.
    pub average: Option<Decimal>,
    pub class: Option<ClassFigures>,
    /// The positioning the rule gives from the competences assessed.
    pub computed: Option<Level>,
    /// The teacher's positioning over it, if any.
    pub overridden: Option<Override>,
    pub appreciation: Option<String>,
    /// Each competence item assessed: its label and the rule's level for it alone.
    pub competences: Vec<(String, Level)>,
}

impl BulletinFacts {
    /// Whether families see it on `today`: the council published it, from that day.
    pub fn published_by(&self, today: NaiveDate) -> bool {
        self.published_on.is_some_and(|on| on <= today)
    }
}

impl SubjectFacts {
    /// The positioning printed: the teacher's when set, else the rule's.
    pub fn positioning(&self) -> Option<Level> {
        self.overridden.as_ref().map(|o| o.level).or(self.computed)
    }
}

/// The log as a bulletin saw it: the streams it read (`type/id`), the latest position
/// among their events, and the digest of each stream's last hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basis {
    pub sources: Vec<String>,
    pub position: i64,
    pub digest: String,
}

/// Everything a report card shows, and where it stands.
#[derive(Debug, Clone)]
pub struct BulletinFacts {
    pub tenant: Uai,
    pub establishment: String,
    pub year: SchoolYear,
    pub period: Period,
    pub student: String,
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub division: String,
    pub division_name: String,
    pub principal_teachers: Vec<String>,
    pub subjects: Vec<SubjectFacts>,
    /// Rounded to the hundredth, as printed.
    pub overall: Option<Decimal>,
    pub class_overall: Option<Decimal>,
    pub general: Option<String>,
    pub vie_scolaire: Option<String>,
    pub half_days_absent: u32,
    pub half_days_unjustified: u32,
    pub lateness: u32,
    pub decisions: BTreeSet<Decision>,
    pub end_of_cycle: Option<EndOfCycle>,
    pub synthesis: Option<String>,
    pub closed: bool,
    pub published_on: Option<NaiveDate>,
    pub issued: Vec<Issued>,
    /// The streams it was made from (`type/id`): what its [`Basis`] covers.
    pub sources: Vec<String>,
}

fn not_found(fr: String, en: String) -> ApiError {
    ApiError::not_found(Text::new(fr, en))
}

/// The period `id` of `year`, with its dates and name.
pub fn period_of(establishment: &Establishment, year: &SchoolYear, id: &str) -> ApiResult<Period> {
    let y = establishment.year(year).map_err(ApiError::refused)?;
    y.periods
        .iter()
        .find(|p| p.id == id)
        .cloned()
        .ok_or_else(|| {
            not_found(
                format!("pas de période {id} en {year}"),
                format!("no period {id} in {year}"),
            )
        })
}

/// The division and groups `student` belonged to during `period`: the last stint of
/// the year that overlaps it.
pub fn classes_in(
    student: &Student,
    year: &SchoolYear,
    period: &Period,
) -> Option<(String, Vec<String>)> {
    let overlaps = |from: NaiveDate, to: Option<NaiveDate>| {
        from <= period.to && to.is_none_or(|to| to >= period.from)
    };
    let stint = student
        .stints
        .iter()
        .rfind(|s| &s.year == year && overlaps(s.from, s.to))?;
    let groups = stint
        .groups
        .iter()
        .filter(|g| overlaps(g.from, g.to))
        .map(|g| g.group.clone())
        .collect();
    Some((stint.division.clone(), groups))
}

/// A staff member's name as printed, or their id once erased.
async fn staff_name(reader: &Reader, establishment: &Establishment, id: &str) -> ApiResult<String> {
    Ok(match establishment.staff.get(id) {
        Some(member) => reader
            .open(&member.name)
            .await?
            .unwrap_or_else(|| id.to_string()),
        None => id.to_string(),
    })
}

async fn names(
    reader: &Reader,
    establishment: &Establishment,
    ids: &BTreeSet<String>,
) -> ApiResult<Vec<String>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(staff_name(reader, establishment, id).await?);
    }
    Ok(out)
}

/// The unrounded averages of `student` over the period's gradebooks.
fn averages_of(books: &[(String, std::sync::Arc<Gradebook>)], student: &str) -> StudentAverages {
    let mut out = StudentAverages::default();
    for (stream, book) in books {
        let subjects: BTreeMap<String, Decimal> = averages::subjects(book)
            .into_iter()
            .filter_map(|s| averages::subject_average(book, student, &s).map(|a| (s, a)))
            .collect();
        if !subjects.is_empty() {
            out.books.insert(stream.clone(), subjects);
        }
        out.coefficients.extend(
            book.subject_coefficients
                .iter()
                .map(|(s, c)| (s.clone(), *c)),
        );
    }
    out
}

/// The class's overall average: the mean of the overall averages of the division's
/// students at the end of the period, each over the same gradebooks.
fn class_overall(
    books: &[(String, std::sync::Arc<Gradebook>)],
    students: &[String],
) -> Option<Decimal> {
    let overalls: Vec<Decimal> = students
        .iter()
        .filter_map(|s| averages_of(books, s).overall())
        .collect();
    (!overalls.is_empty()).then(|| {
        averages::rounded(overalls.iter().sum::<Decimal>() / Decimal::from(overalls.len()))
    })
}

/// Opens a written text, or `None` once erased.
async fn text(
    reader: &Reader,
    written: Option<&carnet_domain::reportcards::Written>,
) -> ApiResult<Option<String>> {
    match written {
        Some(w) => reader.open(&w.text).await,
        None => Ok(None),
    }
}

/// The division's students on the period's last day (or today, during the period).
pub async fn roster_at_end(
    reader: &Reader,
    establishment: &Establishment,
    year: &SchoolYear,
    division: &str,
    period: &Period,
) -> ApiResult<Vec<String>> {
    let day = period
        .to
        .min(crate::schema::common::today(reader, establishment));
    Ok(
        carnet_projections::enrolment::roster_on(&reader.pool, &reader.tenant, year, division, day)
            .await?,
    )
}

/// Half-days absent and unjustified, and lateness, of `student` in `period`, from the
/// attendance read model.
async fn attendance_of(
    reader: &Reader,
    year: &SchoolYear,
    student: &str,
    period: &Period,
) -> ApiResult<(u32, u32, u32)> {
    let attendance = reader.attendance(year, student).await?;
    let (absent, _, unjustified) = attendance.range_counts(period.from, period.to);
    let lateness = attendance
        .lessons
        .values()
        .filter(|l| period.from <= l.date && l.date <= period.to)
        .filter(|l| matches!(l.status, carnet_domain::attendance::Status::Late { .. }))
        .count();
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok((count(absent), count(unjustified), count(lateness)))
}

/// The student's last and first names and birth date, `None` once erased.
async fn identity_of(
    reader: &Reader,
    record: &Student,
) -> ApiResult<(Option<String>, Option<String>, Option<NaiveDate>)> {
    let Some(identity) = &record.identity else {
        return Ok((None, None, None));
    };
    Ok((
        reader.open(&identity.last_name).await?,
        reader.open(&identity.first_name).await?,
        reader.open(&identity.birth_date).await?,
    ))
}

/// The report card of `student` for `period` of `year`, as of the reader's instant.
pub async fn assemble(
    reader: &Reader,
    year: &SchoolYear,
    period: &str,
    student: &str,
) -> ApiResult<BulletinFacts> {
    let establishment = reader.establishment().await?;
    let period = period_of(&establishment, year, period)?;
    let record = reader.student(student).await?;
    let (division, groups) = classes_in(&record, year, &period).ok_or_else(|| {
        not_found(
            format!(
                "{student} n'était dans aucune classe pendant la période {}",
                period.id
            ),
            format!("{student} was in no class during period {}", period.id),
        )
    })?;
    let mut books = Vec::new();
    for class in std::iter::once(&division).chain(&groups) {
        if let Some(book) = reader.gradebook(year, class, &period.id).await? {
            books.push((format!("{year}/{class}/{}", period.id), book));
        }
    }
    let council = reader
        .council(year, &division, &period.id)
        .await?
        .unwrap_or_default();
    let report = council.report(student).cloned().unwrap_or_default();
    let framework = reader.framework().await?;
    let team = Team::of(&establishment, year, &division, &period.id).map_err(ApiError::refused)?;
    let subjects = subject_lines(
        reader,
        &establishment,
        &framework,
        &team,
        &books,
        &report,
        student,
    )
    .await?;
    let mine = averages_of(&books, student);
    let roster = roster_at_end(reader, &establishment, year, &division, &period).await?;
    let (absent, unjustified, lateness) = attendance_of(reader, year, student, &period).await?;
    let (last_name, first_name, birth_date) = identity_of(reader, &record).await?;
    let division_name = establishment
        .year(year)
        .ok()
        .and_then(|y| y.divisions.get(&division))
        .map_or_else(|| division.clone(), |d| d.name.clone());
    let sources = sources_of(year, student, &division, &period, &books);
    Ok(BulletinFacts {
        tenant: reader.tenant.clone(),
        establishment: establishment.name.clone(),
        year: year.clone(),
        principal_teachers: names(reader, &establishment, &team.principal_teachers).await?,
        subjects,
        overall: mine.overall(),
        class_overall: class_overall(&books, &roster),
        general: text(reader, report.general.as_ref()).await?,
        vie_scolaire: text(reader, report.vie_scolaire.as_ref()).await?,
        synthesis: text(reader, report.synthesis.as_ref()).await?,
        half_days_absent: absent,
        half_days_unjustified: unjustified,
        lateness,
        decisions: report.decisions.clone(),
        end_of_cycle: report.end_of_cycle.clone(),
        closed: council.closed,
        published_on: council.published_on,
        issued: report.issued.clone(),
        student: student.to_string(),
        last_name,
        first_name,
        birth_date,
        division,
        division_name,
        sources,
        period,
    })
}

/// The streams a bulletin is made from (`type/id`): the student's record and
/// attendance, the class council and the gradebooks read.
fn sources_of(
    year: &SchoolYear,
    student: &str,
    division: &str,
    period: &Period,
    books: &[(String, std::sync::Arc<Gradebook>)],
) -> Vec<String> {
    let mut sources = vec![
        format!("student/{student}"),
        format!("attendance/{year}/{student}"),
        format!("class_council/{year}/{division}/{}", period.id),
    ];
    sources.extend(
        books
            .iter()
            .map(|(stream, _)| format!("gradebook/{stream}")),
    );
    sources
}

/// The subjects of the report card: every subject with marks, competences or an
/// appreciation for the student, in the order of their names.
async fn subject_lines(
    reader: &Reader,
    establishment: &Establishment,
    framework: &CompetenceFramework,
    team: &Team,
    books: &[(String, std::sync::Arc<Gradebook>)],
    report: &StudentReport,
    student: &str,
) -> ApiResult<Vec<SubjectFacts>> {
    let mut codes: BTreeSet<String> = report.appreciations.keys().cloned().collect();
    codes.extend(report.positionings.keys().cloned());
    for (_, book) in books {
        codes.extend(
            book.evaluations
                .values()
                .filter(|e| e.marks.contains_key(student) || e.assessments.contains_key(student))
                .map(|e| e.subject.clone()),
        );
    }
    let mut lines = Vec::new();
    for code in codes {
        let assessed: Vec<(String, Level)> = books
            .iter()
            .flat_map(|(_, b)| assessments(b, student, &code))
            .collect();
        let mut by_item: BTreeMap<&str, Vec<(String, Level)>> = BTreeMap::new();
        for (item, level) in &assessed {
            by_item
                .entry(item)
                .or_default()
                .push((item.clone(), *level));
        }
        let competences = by_item
            .iter()
            .filter_map(|(item, levels)| {
                let label = framework
                    .items
                    .get(*item)
                    .map_or(*item, |i| i.label.as_str());
                positioning(levels).map(|l| (label.to_string(), l))
            })
            .collect();
        let teacher_ids = team.teachers.get(&code).cloned().unwrap_or_default();
        lines.push(SubjectFacts {
            name: establishment
                .subjects
                .values()
                .find(|s| s.short == code)
                .map_or_else(|| code.clone(), |s| s.name.clone()),
            teachers: names(reader, establishment, &teacher_ids).await?,
            average: books
                .iter()
                .find_map(|(_, b)| averages::subject_average(b, student, &code)),
            class: books
                .iter()
                .find_map(|(_, b)| averages::subject_figures(b, &code)),
            computed: positioning(&assessed),
            overridden: report.positionings.get(&code).cloned(),
            appreciation: text(reader, report.appreciations.get(&code)).await?,
            competences,
            code,
        });
    }
    lines.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(lines)
}

/// The last counted event of each stream already read for this request: a class's
/// bulletins share their council and gradebooks, read once.
#[derive(Debug, Default)]
pub struct BasisCache {
    lasts: std::sync::Mutex<BTreeMap<String, Option<(i64, String)>>>,
}

/// The basis of the bulletin `facts` now: each stream's last event, its position and
/// hash. Verification recomputes it.
pub async fn basis(
    store: &EventStore,
    tenant: &Uai,
    facts: &BulletinFacts,
    cache: &BasisCache,
) -> ApiResult<Basis> {
    let mut lines = Vec::new();
    let mut position = 0;
    for source in &facts.sources {
        let known = cache
            .lasts
            .lock()
            .map_err(|_| ApiError::internal(&"the basis cache was poisoned"))?
            .get(source)
            .cloned();
        let last = match known {
            Some(last) => last,
            None => {
                let events = read_source(store, tenant, source, |_| true).await?;
                let last = last_counted(&events).map(|e| (e.position, basis_line(source, Some(e))));
                cache
                    .lasts
                    .lock()
                    .map_err(|_| ApiError::internal(&"the basis cache was poisoned"))?
                    .insert(source.clone(), last.clone());
                last
            }
        };
        match last {
            Some((at, line)) => {
                position = position.max(at);
                lines.push(line);
            }
            None => lines.push(basis_line(source, None)),
        }
    }
    Ok(Basis {
        sources: facts.sources.clone(),
        position,
        digest: digest_lines(&lines),
    })
}

/// The last event of a stream that a bulletin's content depends on: handing out a
/// bulletin (`BulletinIssued`) changes nothing it shows, so the same bulletin given
/// again keeps its basis, and its code.
fn last_counted(events: &[RecordedEvent]) -> Option<&RecordedEvent> {
    events
        .iter()
        .rev()
        .find(|e| e.event_type != "BulletinIssued")
}

fn basis_line(source: &str, last: Option<&RecordedEvent>) -> String {
    match last {
        Some(e) => format!("{source} v{} {}", e.stream_version, hex::encode(e.hash)),
        None => format!("{source} v0"),
    }
}

fn digest_lines(lines: &[String]) -> String {
    let mut h = Sha256::new();
    for line in lines {
        h.update(line.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// The events of the stream `type/id` that `keep` keeps, in order.
pub async fn read_source(
    store: &EventStore,
    tenant: &Uai,
    source: &str,
    keep: impl Fn(&RecordedEvent) -> bool,
) -> ApiResult<Vec<RecordedEvent>> {
    let (stream_type, id) = source.split_once('/').ok_or_else(|| {
        ApiError::internal(&format!("a bulletin's source `{source}` is not type/id"))
    })?;
    let events = store
        .read_stream(tenant, &StreamRef::new(stream_type, id), 0)
        .await?;
    Ok(events.into_iter().filter(|e| keep(e)).collect())
}

/// The basis again, from the log as it is now, of the streams an issued bulletin was
/// made from, up to its position; `None` when a stream's hash chain is broken there.
pub async fn recompute(
    store: &EventStore,
    tenant: &Uai,
    issued: &Issued,
) -> ApiResult<Option<String>> {
    let mut lines = Vec::new();
    for source in &issued.sources {
        let events = read_source(store, tenant, source, |e| e.position <= issued.position).await?;
        if carnet_store::verify::check_stream(tenant, &events).is_err() {
            return Ok(None);
        }
        lines.push(basis_line(source, last_counted(&events)));
    }
    Ok(Some(digest_lines(&lines)))
}

/// The bulletin as the PDF prints it.
pub fn printable(
    facts: &BulletinFacts,
    issued_on: NaiveDate,
    verification: Option<carnet_bulletins::Verification>,
) -> carnet_bulletins::Bulletin {
    let council_decision = (!facts.decisions.is_empty()).then(|| {
        facts
            .decisions
            .iter()
            .map(|d| d.label_fr())
            .collect::<Vec<_>>()
            .join(" ; ")
    });
    carnet_bulletins::Bulletin {
        establishment: carnet_bulletins::Establishment {
            name: facts.establishment.clone(),
            uai: facts.tenant.to_string(),
            address: None,
        },
        school_year: facts.year.to_string(),
        period: carnet_bulletins::Period {
            label: facts.period.name.clone(),
            from: facts.period.from,
            to: facts.period.to,
        },
        student: carnet_bulletins::Student {
            last_name: facts.last_name.clone().unwrap_or_else(|| "—".to_string()),
            first_name: facts.first_name.clone().unwrap_or_default(),
            birth_date: facts.birth_date,
            division: facts.division_name.clone(),
        },
        principal_teacher: (!facts.principal_teachers.is_empty())
            .then(|| facts.principal_teachers.join(", ")),
        subjects: facts
            .subjects
            .iter()
            .map(|s| carnet_bulletins::SubjectLine {
                subject: s.name.clone(),
                teachers: s.teachers.clone(),
                average: s.average.map(averages::rounded),
                class_average: s.class.map(|c| averages::rounded(c.average)),
                class_min: s.class.map(|c| averages::rounded(c.min)),
                class_max: s.class.map(|c| averages::rounded(c.max)),
                positioning: s.positioning().map(Level::value),
                appreciation: s.appreciation.clone(),
                competences: s
                    .competences
                    .iter()
                    .map(|(label, level)| (label.clone(), level.value()))
                    .collect(),
            })
            .collect(),
        overall: facts.overall,
        class_overall: facts.class_overall,
        general_appreciation: facts.general.clone(),
        vie_scolaire: carnet_bulletins::VieScolaire {
            half_days_absent: facts.half_days_absent,
            half_days_unjustified: facts.half_days_unjustified,
            lateness: facts.lateness,
            appreciation: facts.vie_scolaire.clone(),
        },
        council_decision,
        provisional: verification.is_none(),
        verification,
        issued_on,
    }
}
