//! `carnet demo`: builds a realistic collège, only through the domain's commands, so the
//! demo exercises every rule that a real establishment's data goes through.
//!
//! Deterministic: the same seed gives the same events (ids, names, marks, absences), and
//! every command carries an id derived from the seed and what it does, so a demo
//! interrupted half-way completes when run again instead of doubling anything.

mod attendance;
mod bookings;
mod calendar;
mod grades;
mod people;
mod reportcards;
mod structure;
mod timetable;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use carnet_domain::attendance::AttendancePolicy;
use carnet_domain::enrolment::{
    EstablishmentCommand, Identity, Ine, Period, SchoolYear, Service, StudentCommand, SubjectCode,
    YearSpec,
};
use carnet_domain::Uai;
use carnet_store::{
    CommandBus, CommandContext, CommandError, EventStore, School, Source, StoreError,
};
use chrono::{NaiveDate, NaiveTime};
use futures::stream::{self, StreamExt, TryStreamExt};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

pub use structure::Structure;

/// How many streams the demo writes to at once: enough to fill the store's group
/// commits, few enough to keep memory flat.
const CONCURRENCY: usize = 32;

/// Establishments of a district are at most this big; `--students 20000` makes several.
pub const MAX_STUDENTS_PER_ESTABLISHMENT: usize = 1200;

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub students: usize,
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            students: 600,
            seed: 2026,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the demo's command {what} was refused: {reason}")]
    Refused { what: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the demo needs at least {0} students")]
    TooFew(usize),
}

/// What one establishment of the demo holds.
#[derive(Debug, Clone, Default)]
pub struct EstablishmentReport {
    pub uai: String,
    pub name: String,
    pub students: usize,
    pub divisions: usize,
    pub groups: usize,
    pub staff: usize,
    pub teachers: usize,
    pub guardians: usize,
    pub courses: usize,
    pub exceptions: usize,
    pub attendance_entries: usize,
    pub justifications: usize,
    pub evaluations: usize,
    pub marks: usize,
    pub competences_assessed: usize,
    pub appreciations: usize,
    pub council_decisions: usize,
    pub resources: usize,
    pub bookings: usize,
    pub bookings_refused: usize,
    pub commands: u64,
    pub events: i64,
    pub elapsed: Duration,
}

impl std::fmt::Display for EstablishmentReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}  {}", self.uai, self.name)?;
        writeln!(
            f,
            "  {} students in {} divisions and {} groups, {} guardians",
            self.students, self.divisions, self.groups, self.guardians
        )?;
        writeln!(
            f,
            "  {} staff, {} of them teachers",
            self.staff, self.teachers
        )?;
        writeln!(
            f,
            "  {} weekly courses (A/B weeks), {} exceptions this term",
            self.courses, self.exceptions
        )?;
        writeln!(
            f,
            "  {} roll-call entries (absent, late, excluded), {} justifications",
            self.attendance_entries, self.justifications
        )?;
        writeln!(
            f,
            "  {} evaluations, {} marks",
            self.evaluations, self.marks
        )?;
        writeln!(
            f,
            "  {} students' competences assessed, {} appreciations, {} council decisions",
            self.competences_assessed, self.appreciations, self.council_decisions
        )?;
        writeln!(
            f,
            "  {} resources, {} bookings ({} more refused: resource full)",
            self.resources, self.bookings, self.bookings_refused
        )?;
        write!(
            f,
            "  {} commands, {} events in {:.1} s",
            self.commands,
            self.events,
            self.elapsed.as_secs_f64()
        )
    }
}

/// The demo's establishments: one for up to [`MAX_STUDENTS_PER_ESTABLISHMENT`]
/// students, a small district beyond, numbered from the demo's first UAI.
pub fn establishments(options: &DemoOptions) -> Vec<(Uai, String, usize)> {
    let count = options
        .students
        .div_ceil(MAX_STUDENTS_PER_ESTABLISHMENT)
        .max(1);
    (0..count)
        .filter_map(|n| {
            let students = options.students / count + usize::from(n < options.students % count);
            let uai = Uai::from_number(750_655 + n as u32)?;
            let name = if count == 1 {
                "Collège Jean Moulin (démo)".to_string()
            } else {
                format!("Collège {} (démo)", COLLEGE_NAMES[n % COLLEGE_NAMES.len()])
            };
            Some((uai, name, students))
        })
        .collect()
}

const COLLEGE_NAMES: &[&str] = &[
    "Jean Moulin",
    "Marie Curie",
    "Victor Hugo",
    "Louise Michel",
    "Jules Ferry",
    "Simone Veil",
    "Aimé Césaire",
    "Jean Jaurès",
    "George Sand",
    "Olympe de Gouges",
    "Albert Camus",
    "Joséphine Baker",
    "Paul Éluard",
    "Lucie Aubrac",
    "Gustave Eiffel",
    "Colette",
    "Germaine Tillion",
];

/// Builds the demo in `store`: every establishment, one after the other.
pub async fn load(
    store: &EventStore,
    options: &DemoOptions,
) -> Result<Vec<EstablishmentReport>, DemoError> {
    if options.students < structure::LEVELS.len() {
        return Err(DemoError::TooFew(structure::LEVELS.len()));
    }
    let mut reports = Vec::new();
    for (n, (uai, name, students)) in establishments(options).into_iter().enumerate() {
        let seed = options.seed.wrapping_add(n as u64);
        reports.push(load_establishment(store, uai, name, students, seed).await?);
    }
    Ok(reports)
}

#[tracing::instrument(skip(store, name), fields(%uai))]
pub async fn load_establishment(
    store: &EventStore,
    uai: Uai,
    name: String,
    students: usize,
    seed: u64,
) -> Result<EstablishmentReport, DemoError> {
    let started = Instant::now();
    if !store.tenants().await?.iter().any(|t| t.tenant == uai) {
        store.create_tenant(&uai, &name, "Europe/Paris").await?;
    }
    let school = School::new(store.clone(), uai.clone(), AttendancePolicy::default());
    let runner = Runner {
        school: &school,
        seed,
        commands: AtomicU64::new(0),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let plan = structure::build(students, &mut rng);
    let year = school_year();
    runner.establishment(&name, &plan).await?;
    runner.students(&plan, &year.year).await?;
    let (courses, exceptions) = timetable::record(&runner, &plan, &year, &mut rng).await?;
    let roll_calls =
        attendance::record(&runner, &plan, &year, &timetable::stream(&year), &mut rng).await?;
    let (evaluations, marks) = grades::enter(&runner, &plan, &year, &mut rng).await?;
    let bookings = bookings::make(&runner, &plan, &mut rng).await?;
    let reports = reportcards::record(&runner, &plan, &year, &mut rng).await?;

    let head = store
        .tenants()
        .await?
        .into_iter()
        .find(|t| t.tenant == uai)
        .map(|t| t.head)
        .unwrap_or_default();
    Ok(EstablishmentReport {
        uai: uai.to_string(),
        name,
        students: plan.students.len(),
        divisions: plan.divisions.len(),
        groups: plan.groups.len(),
        staff: plan.staff.len(),
        teachers: plan.staff.iter().filter(|s| s.subject.is_some()).count(),
        guardians: plan.students.iter().map(|s| s.guardians.len()).sum(),
        courses,
        exceptions,
        attendance_entries: roll_calls.entries,
        justifications: roll_calls.justifications,
        evaluations,
        marks,
        competences_assessed: reports.competences,
        appreciations: reports.appreciations,
        council_decisions: reports.decisions,
        resources: bookings.resources,
        bookings: bookings.made,
        bookings_refused: bookings.refused,
        commands: runner.commands.load(Ordering::Relaxed),
        events: head,
        elapsed: started.elapsed(),
    })
}

/// The demo's school year, 2026-2027, in trimestres.
pub fn school_year() -> YearSpec {
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
    let period = |id: &str, name: &str, from, to| Period {
        id: id.into(),
        name: name.into(),
        from,
        to,
    };
    YearSpec {
        year: SchoolYear::starting(2026),
        first_day: d(2026, 9, 1),
        last_day: d(2027, 7, 3),
        periods: vec![
            period("T1", "1er trimestre", d(2026, 9, 1), d(2026, 11, 30)),
            period("T2", "2e trimestre", d(2026, 12, 1), d(2027, 3, 6)),
            period("T3", "3e trimestre", d(2027, 3, 7), d(2027, 7, 3)),
        ],
    }
}

/// Sends the demo's commands with ids derived from the seed and what they do.
#[derive(Debug)]
pub struct Runner<'a> {
    school: &'a School,
    seed: u64,
    commands: AtomicU64,
}

impl Runner<'_> {
    fn context(&self, key: &str) -> CommandContext {
        CommandContext {
            command_id: Some(Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!("carnet-demo/{}/{}/{key}", self.seed, self.school.tenant).as_bytes(),
            )),
            actor: Some("demo".into()),
            role: Some("system".into()),
            source: Source::System,
            ..Default::default()
        }
    }

    /// Runs one command; a refusal is an error of the demo itself, named by `key`.
    pub async fn run<A>(
        &self,
        bus: &CommandBus<A>,
        stream: &str,
        command: A::Command,
        key: &str,
    ) -> Result<(), DemoError>
    where
        A: cqrs_es::Aggregate + std::fmt::Debug + 'static,
        A::Command: serde::Serialize + Clone,
    {
        self.commands.fetch_add(1, Ordering::Relaxed);
        match bus.execute(stream, command, &self.context(key)).await {
            Ok(_) => Ok(()),
            Err(CommandError::Store(e)) => Err(DemoError::Store(e)),
            Err(CommandError::Rejected(e)) => Err(DemoError::Refused {
                what: key.to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// Runs one command that the school's rules may refuse as part of the story (a
    /// teacher finding the tablets taken): `Ok(false)` when refused.
    pub async fn try_run<A>(
        &self,
        bus: &CommandBus<A>,
        stream: &str,
        command: A::Command,
        key: &str,
    ) -> Result<bool, DemoError>
    where
        A: cqrs_es::Aggregate + std::fmt::Debug + 'static,
        A::Command: serde::Serialize + Clone,
    {
        match self.run(bus, stream, command, key).await {
            Ok(()) => Ok(true),
            Err(DemoError::Refused { .. }) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Runs each stream's commands in order, streams concurrently.
    pub async fn run_streams<A, I>(&self, bus: &CommandBus<A>, streams: I) -> Result<(), DemoError>
    where
        A: cqrs_es::Aggregate + std::fmt::Debug + 'static,
        A::Command: serde::Serialize + Clone,
        I: IntoIterator<Item = (String, Vec<(String, A::Command)>)>,
    {
        stream::iter(streams)
            .map(|(stream, commands)| async move {
                for (key, command) in commands {
                    self.run(bus, &stream, command, &key).await?;
                }
                Ok::<(), DemoError>(())
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }

    pub fn school(&self) -> &School {
        self.school
    }

    async fn establishment(&self, name: &str, plan: &Structure) -> Result<(), DemoError> {
        use EstablishmentCommand as C;
        let school = self.school;
        let stream = school.establishment_id();
        let year = school_year();
        let mut commands = vec![
            (
                "register".to_string(),
                C::Register {
                    uai: school.tenant.clone(),
                    name: name.to_string(),
                    time_zone: chrono_tz::Europe::Paris,
                    morning_ends: NaiveTime::from_hms_opt(12, 30, 0).unwrap_or_default(),
                },
            ),
            ("open-year".to_string(), C::OpenSchoolYear(year.clone())),
        ];
        for s in structure::SUBJECTS {
            commands.push((
                format!("subject/{}", s.code),
                C::DefineSubject {
                    code: code(s.code)?,
                    short: s.short.into(),
                    name: s.name.into(),
                },
            ));
        }
        for division in &plan.divisions {
            commands.push((
                format!("division/{}", division.id),
                C::CreateDivision {
                    year: year.year.clone(),
                    division: division.clone(),
                },
            ));
        }
        for group in &plan.groups {
            commands.push((
                format!("group/{}", group.id),
                C::CreateGroup {
                    year: year.year.clone(),
                    group: group.clone(),
                },
            ));
        }
        for member in &plan.staff {
            commands.push((
                format!("staff/{}", member.id),
                C::AddStaffMember {
                    person: member.id.clone(),
                    name: member.name.clone(),
                    roles: member.roles.iter().copied().collect::<BTreeSet<_>>(),
                },
            ));
        }
        for (teacher, subject, class) in &plan.services {
            commands.push((
                format!("service/{teacher}/{subject}/{class}"),
                C::AssignService {
                    year: year.year.clone(),
                    service: Service {
                        teacher: teacher.clone(),
                        subject: code(structure::SUBJECTS[*subject].code)?,
                        class: class.clone(),
                    },
                },
            ));
        }
        self.run_streams(&school.establishment, [(stream, commands)])
            .await
    }

    async fn students(&self, plan: &Structure, year: &SchoolYear) -> Result<(), DemoError> {
        let first_day = school_year().first_day;
        let mut streams = Vec::with_capacity(plan.students.len());
        for s in &plan.students {
            let ine = Ine::parse(&s.ine).map_err(|e| DemoError::Refused {
                what: format!("admit/{}", s.id),
                reason: e.to_string(),
            })?;
            let mut commands = vec![(
                format!("admit/{}", s.id),
                StudentCommand::Admit {
                    student: s.id.clone(),
                    identity: Identity {
                        ine,
                        last_name: s.last_name.clone(),
                        first_name: s.first_name.clone(),
                        birth_date: s.birth_date,
                    },
                    year: year.clone(),
                    division: s.division.clone(),
                    groups: s.groups.clone(),
                    on: first_day,
                },
            )];
            for g in &s.guardians {
                commands.push((
                    format!("guardian/{}/{}", s.id, g.id),
                    StudentCommand::LinkGuardian {
                        guardian: g.id.clone(),
                        name: g.name.clone(),
                        relationship: g.relationship.into(),
                        rights: g.rights,
                    },
                ));
            }
            streams.push((s.id.clone(), commands));
        }
        self.run_streams(&self.school.students, streams).await
    }
}

fn code(text: &str) -> Result<SubjectCode, DemoError> {
    SubjectCode::parse(text).map_err(|e| DemoError::Refused {
        what: format!("subject/{text}"),
        reason: e.to_string(),
    })
}
