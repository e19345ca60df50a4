//! carnet-importers: external files in (timetables, rosters), open formats out.
//!
//! An import reads a file whole ([`source`]: encoding detected, SHA-256 taken), turns it
//! into a model of what it says ([`siecle`], [`sts`], [`oneroster`] into a
//! [`roster::Roster`]; [`fet`], [`untis`], [`asc`], [`udt`] into a
//! [`timetable::TimetableFile`]),
//! plans the domain commands that bring the establishment to it, decided in memory by
//! the aggregates' own rules ([`plan`]), and appends all their events in one transaction.
//! The exports ([`export`], [`oneroster_export`]) write open formats back out.
//! A file with any problem writes nothing and every problem is listed; `dry_run` stops
//! before writing; importing the same file twice finds nothing to do the second time.
#![forbid(unsafe_code)]

pub mod aaf;
pub mod asc;
/// Exports: timetables as iCalendar, absences and grades as CSV.
pub mod export;
pub mod fet;
pub mod limits;
pub mod mef;
pub mod oneroster;
pub mod oneroster_export;
pub mod plan;
pub mod report;
pub mod roster;
pub mod siecle;
pub mod siecle_responsables;
pub mod source;
pub mod sts;
pub mod timetable;
pub mod udt;
pub mod untis;
pub mod xml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use carnet_domain::enrolment::{EstablishmentEvent, PersonKind, SchoolYear};
use carnet_domain::Uai;
use carnet_store::{EventStore, StoreError};
use chrono::NaiveDate;

pub use plan::{Change, Counts, Provenance};
pub use report::{ImportError, Location, Problem};
pub use source::SourceFile;

/// The file formats `carnet import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// SIECLE BEE `ElevesSansAdresses.xml`: students, divisions, groups.
    Siecle,
    /// SIECLE BEE `ResponsablesAvecAdresses.xml` (with the students' file of the same
    /// export beside it): the students' legal guardians.
    SiecleResponsables,
    /// STS-Web `sts_emp_<UAI>_<year>.xml`: subjects, divisions, groups, staff, services.
    Sts,
    /// FET's CSV export (its folder, or its `_timetable.csv`): the weekly lessons.
    Fet,
    /// Untis `GPU001.TXT`: the weekly lessons by period.
    Untis,
    /// aSc Timetables' XML export: the weekly lessons (cards).
    Asc,
    /// UDT (UnDeuxTEMPS)'s export for the ENT (its zip, or the folder of its
    /// `UDCal_*.xml`): the weekly lessons, weeks A and B.
    Udt,
    /// OneRoster 1.2 CSV bulk bundle (a directory or a zip): the whole roster with
    /// guardians.
    OneRoster,
    /// AAF (annuaire académique fédérateur) export for the ENT: its folder of
    /// `..._Complet_<day>_<Eleve|PersRelEleve|PersEducNat|EtabEducNat>_<nnnn>.xml`, or one
    /// of them: students, legal guardians, staff, their ENT identifiers.
    Aaf,
}

impl Format {
    pub const ALL: [Format; 9] = [
        Format::Siecle,
        Format::SiecleResponsables,
        Format::Sts,
        Format::OneRoster,
        Format::Fet,
        Format::Untis,
        Format::Asc,
        Format::Udt,
        Format::Aaf,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Siecle => siecle::FORMAT,
            Format::SiecleResponsables => siecle_responsables::FORMAT,
            Format::Sts => sts::FORMAT,
            Format::Fet => fet::FORMAT,
            Format::Untis => untis::FORMAT,
            Format::Asc => asc::FORMAT,
            Format::Udt => udt::FORMAT,
            Format::OneRoster => oneroster::FORMAT,
            Format::Aaf => aaf::FORMAT,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == text)
    }
}

/// How an import runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The establishment the file must be about (by default, the one it names, or for
    /// files that name none, the database's only establishment).
    pub tenant: Option<Uai>,
    /// Plan and report, write nothing.
    pub dry_run: bool,
    /// Who imports, recorded as the events' actor, and in what role.
    pub actor: String,
    pub role: String,
    /// The day changes take effect when the file does not say when it was exported.
    pub today: NaiveDate,
    /// Timetables: the day the imported timetable takes effect (default `today`).
    pub from: Option<NaiveDate>,
    /// Timetables: the school year (default: the one `from` falls in).
    pub year: Option<SchoolYear>,
    /// Timetables: times of hours whose names hold none (`1` → 08:00-08:55).
    pub hours: fet::Hours,
    /// FET: the weekday of day names that are none (`A` → Monday).
    pub days: fet::Days,
    /// The importer may record staff and their roles, services and timetables (the
    /// head of the establishment, or an operator at the command line). Without it, a
    /// file that would change any of them is refused whole: an import records only what
    /// its importer may do through the API.
    pub staff_and_timetables: bool,
}

impl Options {
    /// Options with the defaults, for `actor` importing on `today`.
    pub fn new(actor: &str, today: NaiveDate) -> Self {
        Options {
            tenant: None,
            dry_run: false,
            actor: actor.to_string(),
            role: "secretariat".into(),
            today,
            from: None,
            year: None,
            hours: fet::Hours::new(),
            days: fet::Days::new(),
            staff_and_timetables: true,
        }
    }
}

/// What an import reads: one file, or the files of one export.
#[derive(Debug, Clone)]
pub enum Input {
    File(SourceFile),
    Fet(fet::Bundle),
    OneRoster(oneroster::Bundle),
    /// SIECLE's responsables with the students' file of the same export.
    SiecleResponsables(siecle_responsables::Bundle),
    /// A UDT export's files.
    Udt(udt::Bundle),
    /// An AAF export: its files of the categories Carnet reads.
    Aaf(aaf::Bundle),
}

/// What the events' provenance names: the file (or bundle), its SHA-256, its encoding.
#[derive(Debug, Clone)]
pub struct Origin {
    pub name: String,
    pub sha256: String,
    pub encoding: &'static str,
}

impl Origin {
    fn problem(&self, field: &str, rule: &str) -> Problem {
        Problem {
            file: self.name.clone(),
            at: Location::File,
            field: field.to_string(),
            rule: rule.to_string(),
        }
    }
}

impl Input {
    /// Reads what `format` needs at `path`.
    pub fn read(format: Format, path: &Path) -> Result<Self, ImportError> {
        Ok(match format {
            Format::Fet => Input::Fet(fet::Bundle::read(path)?),
            Format::OneRoster => Input::OneRoster(oneroster::Bundle::read(path)?),
            Format::Udt => Input::Udt(udt::Bundle::read(path)?),
            Format::Aaf => Input::Aaf(aaf::Bundle::read(path)?),
            Format::SiecleResponsables => {
                Input::SiecleResponsables(siecle_responsables::Bundle::read(path)?)
            }
            _ => Input::File(SourceFile::read(path)?),
        })
    }

    /// The file (or bundle) whose name and hash the events carry.
    pub fn origin(&self) -> Origin {
        let file = |source: &SourceFile| Origin {
            name: source.name.clone(),
            sha256: source.sha256.clone(),
            encoding: source.encoding,
        };
        match self {
            Input::File(source) => file(source),
            Input::Fet(bundle) => file(&bundle.timetable),
            Input::SiecleResponsables(bundle) => file(&bundle.responsables),
            Input::OneRoster(bundle) => Origin {
                name: bundle.name.clone(),
                sha256: bundle.sha256.clone(),
                encoding: bundle.encoding(),
            },
            Input::Udt(bundle) => Origin {
                name: bundle.name.clone(),
                sha256: bundle.sha256.clone(),
                encoding: bundle.encoding(),
            },
            Input::Aaf(bundle) => Origin {
                name: bundle.name.clone(),
                sha256: bundle.sha256.clone(),
                encoding: bundle.encoding(),
            },
        }
    }
}

/// What an import did (or, dry, would do).
#[derive(Debug, Clone)]
pub struct Summary {
    pub format: Format,
    pub file: String,
    pub sha256: String,
    pub encoding: &'static str,
    pub establishment: Uai,
    pub dry_run: bool,
    /// Records read from the file.
    pub rows: usize,
    /// Events appended (or that would be).
    pub events: usize,
    pub changes: BTreeMap<&'static str, Counts>,
    /// What was read but left aside, and why.
    pub notes: Vec<String>,
    pub elapsed: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run {
            "would append"
        } else {
            "appended"
        };
        writeln!(
            f,
            "{} ({}, {}, sha256 {}) for {}",
            self.file,
            self.format.name(),
            self.encoding,
            &self.sha256[..12.min(self.sha256.len())],
            self.establishment
        )?;
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        if self.changes.is_empty() {
            writeln!(
                f,
                "  nothing to change: Carnet already holds what the file says"
            )?;
        } else {
            writeln!(
                f,
                "  {:<16} {:>8} {:>8} {:>8}",
                "", "created", "changed", "removed"
            )?;
            for (kind, c) in &self.changes {
                writeln!(
                    f,
                    "  {kind:<16} {:>8} {:>8} {:>8}",
                    c.created, c.changed, c.removed
                )?;
            }
        }
        let seconds = self.elapsed.as_secs_f64();
        write!(
            f,
            "  {} rows read, {} {} events in {seconds:.2} s",
            self.rows, verb, self.events
        )?;
        if self.dry_run {
            write!(f, " (dry run: nothing was written)")?;
        }
        Ok(())
    }
}

/// Imports the file(s) at `path` as `format` into `store`: all of it, or nothing.
pub async fn import_path(
    store: &EventStore,
    format: Format,
    path: &Path,
    options: &Options,
) -> Result<Summary, ImportError> {
    let path = path.to_path_buf();
    let input = blocking(move || Input::read(format, &path)).await?;
    import_input(store, format, &input, options).await
}

/// Runs the reading of a file (decoding, parsing: work for the processor, with no
/// awaiting) on a thread of its own, so that a slow file never stalls the tasks of the
/// server, and a caller's deadline can give up on it.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ImportError> + Send + 'static,
) -> Result<T, ImportError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(ImportError::Io {
            file: String::new(),
            reason: format!("reading the file failed: {e}"),
        })
    })
}

/// What a file says, read.
enum Model {
    Roster(Box<roster::Roster>),
    Timetable(timetable::TimetableFile),
}

/// Reads `input` as `format` into its model.
fn read_model(
    format: Format,
    input: &Input,
    hours: &fet::Hours,
    days: &fet::Days,
    today: chrono::NaiveDate,
    tenant: Option<&Uai>,
) -> Result<Model, ImportError> {
    let origin = input.origin();
    Ok(match (format, input) {
        (Format::Siecle, Input::File(source)) => {
            Model::Roster(Box::new(siecle::read(source, today)?))
        }
        (Format::SiecleResponsables, Input::SiecleResponsables(bundle)) => {
            Model::Roster(Box::new(siecle_responsables::read(bundle, today)?))
        }
        (Format::Sts, Input::File(source)) => Model::Roster(Box::new(sts::read(source, today)?)),
        (Format::OneRoster, Input::OneRoster(bundle)) => {
            Model::Roster(Box::new(oneroster::read(bundle, today)?))
        }
        (Format::Fet, Input::Fet(bundle)) => Model::Timetable(fet::read(bundle, hours, days)?),
        (Format::Untis, Input::File(source)) => Model::Timetable(untis::read(source, hours)?),
        (Format::Asc, Input::File(source)) => Model::Timetable(asc::read(source)?),
        (Format::Udt, Input::Udt(bundle)) => Model::Timetable(udt::read(bundle)?),
        (Format::Aaf, Input::Aaf(bundle)) => {
            Model::Roster(Box::new(aaf::read(bundle, tenant, today)?))
        }
        _ => return Err(wrong_input(format, &origin)),
    })
}

/// Imports `source` as `format` into `store`: all of it, or nothing.
pub async fn import(
    store: &EventStore,
    format: Format,
    source: &SourceFile,
    options: &Options,
) -> Result<Summary, ImportError> {
    import_input(store, format, &Input::File(source.clone()), options).await
}

/// Imports a OneRoster bundle into `store`: all of it, or nothing.
pub async fn import_bundle(
    store: &EventStore,
    bundle: &oneroster::Bundle,
    options: &Options,
) -> Result<Summary, ImportError> {
    import_input(
        store,
        Format::OneRoster,
        &Input::OneRoster(bundle.clone()),
        options,
    )
    .await
}

/// Imports `input` as `format` into `store`: all of it, or nothing.
#[tracing::instrument(skip_all, fields(format = format.name()))]
pub async fn import_input(
    store: &EventStore,
    format: Format,
    input: &Input,
    options: &Options,
) -> Result<Summary, ImportError> {
    let started = Instant::now();
    let origin = input.origin();
    let mut plan = plan::Plan::new(Provenance {
        format: format.name(),
        file: origin.name.clone(),
        sha256: origin.sha256.clone(),
        actor: options.actor.clone(),
        role: options.role.clone(),
    });
    let model = {
        let (input, hours, days, today) = (
            input.clone(),
            options.hours.clone(),
            options.days.clone(),
            options.today,
        );
        let tenant = options.tenant.clone();
        blocking(move || read_model(format, &input, &hours, &days, today, tenant.as_ref())).await?
    };
    let (uai, rows, notes) = match model {
        Model::Roster(roster) => {
            let uai = roster.uai.clone();
            if let Some(expected) = options.tenant.as_ref().filter(|t| **t != uai) {
                return Err(ImportError::OtherEstablishment {
                    file: uai.to_string(),
                    expected: expected.to_string(),
                });
            }
            let name = establishment_name(store, &uai).await?;
            let mut current = roster::Current::load(store, &uai).await?;
            roster::plan_roster(&mut plan, &mut current, &roster, &name).await;
            (uai, roster.rows, roster.notes)
        }
        Model::Timetable(file) => {
            let uai = match &options.tenant {
                Some(uai) => uai.clone(),
                None => only_tenant(store, &origin).await?,
            };
            let from = options.from.unwrap_or(options.today);
            let year = options
                .year
                .clone()
                .unwrap_or_else(|| timetable::year_of(from));
            let name = establishment_name(store, &uai).await?;
            let mut current = timetable::Current::load(store, &uai, &year).await?;
            let header = Location::File;
            if roster::ensure_year(
                &mut plan,
                &mut current.establishment,
                (&uai, &year),
                &name,
                &header,
            )
            .await
            {
                timetable::plan_timetable(&mut plan, &mut current, &file, &year, from, &header)
                    .await;
            }
            (uai, file.rows, file.notes)
        }
    };
    if !plan.problems.is_empty() {
        return Err(ImportError::Invalid(plan.problems));
    }
    if !options.staff_and_timetables {
        let reserved = reserved_changes(&plan.requests);
        if !reserved.is_empty() {
            return Err(ImportError::NotAllowed(reserved));
        }
    }
    let events = plan.events;
    if !options.dry_run && !plan.requests.is_empty() {
        write(store, &uai, &origin, plan.requests).await?;
    }
    tracing::info!(events, dry_run = options.dry_run, "import planned");
    Ok(Summary {
        format,
        file: origin.name,
        sha256: origin.sha256,
        encoding: origin.encoding,
        establishment: uai,
        dry_run: options.dry_run,
        rows,
        events,
        changes: plan.changes,
        notes,
        elapsed: started.elapsed(),
    })
}

/// What of `requests` is the head's to record: staff and roles, their ENT identifiers,
/// services, timetables.
fn reserved_changes(requests: &[carnet_store::AppendRequest]) -> Vec<String> {
    const STAFF: [(&str, &str); 5] = [
        ("StaffMemberAdded", "staff members"),
        ("StaffRolesChanged", "staff roles"),
        ("StaffMemberLeft", "staff departures"),
        ("ServiceAssigned", "teachers' services"),
        ("ServiceRemoved", "teachers' services"),
    ];
    let mut found = std::collections::BTreeSet::new();
    for request in requests {
        if request.stream.stream_type == "timetable" {
            found.insert("the timetable");
        }
        if request.stream.stream_type == "establishment" {
            for event in &request.events {
                if let Some((_, what)) = STAFF.iter().find(|(t, _)| *t == event.event_type) {
                    found.insert(what);
                }
                // A member of staff's ENT identifier signs someone in with staff rights:
                // the head's to link, as through the API (`linkExternalId`).
                if matches!(
                    serde_json::from_value(event.payload.clone()),
                    Ok(EstablishmentEvent::ExternalIdLinked {
                        kind: PersonKind::Staff,
                        ..
                    })
                ) {
                    found.insert("staff members' ENT identifiers");
                }
            }
        }
    }
    found.into_iter().map(str::to_string).collect()
}

fn wrong_input(format: Format, origin: &Origin) -> ImportError {
    let what = match format {
        Format::OneRoster => "a directory or a zip of OneRoster CSV files",
        Format::Fet => "FET's CSV export folder or its _timetable.csv",
        Format::Udt => "UDT's export: its zip, or the folder of its UDCal_*.xml files",
        Format::Aaf => "an AAF export's folder, or one of its files",
        Format::SiecleResponsables => {
            "ResponsablesAvecAdresses.xml with the ElevesSansAdresses.xml of the same export"
        }
        _ => "one file",
    };
    ImportError::Invalid(vec![origin.problem(
        "format",
        &format!("a {} import reads {what}", format.name()),
    )])
}

/// The establishment's name, or a placeholder for one the store does not have yet.
async fn establishment_name(store: &EventStore, uai: &Uai) -> Result<String, ImportError> {
    Ok(store
        .tenants()
        .await?
        .into_iter()
        .find(|t| t.tenant == *uai)
        .map(|t| t.name)
        .unwrap_or_else(|| format!("Établissement {uai}")))
}

/// The database's only establishment, for files that name none.
async fn only_tenant(store: &EventStore, origin: &Origin) -> Result<Uai, ImportError> {
    match store.tenants().await?.as_slice() {
        [one] => Ok(one.tenant.clone()),
        _ => Err(ImportError::Invalid(vec![origin.problem(
            "establishment",
            "the file does not name its establishment: give its UAI (--tenant)",
        )])),
    }
}

/// Appends the plan's requests in one transaction, creating the tenant first if needed.
async fn write(
    store: &EventStore,
    uai: &Uai,
    origin: &Origin,
    requests: Vec<carnet_store::AppendRequest>,
) -> Result<(), ImportError> {
    if !store.tenants().await?.iter().any(|t| t.tenant == *uai) {
        let name = format!("Établissement {uai}");
        store.create_tenant(uai, &name, "Europe/Paris").await?;
    }
    store
        .append_bulk(uai, requests)
        .await
        .map_err(|e| match e {
            StoreError::BulkRejected { errors } => ImportError::Invalid(
                errors
                    .into_iter()
                    .map(|(_, e)| Problem {
                        file: origin.name.clone(),
                        at: Location::File,
                        field: "establishment".into(),
                        rule: format!(
                            "{e} (the establishment changed during the import: run it again)"
                        ),
                    })
                    .collect(),
            ),
            other => ImportError::Store(other),
        })?;
    Ok(())
}
