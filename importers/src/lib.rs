//! carnet-importers: external files in (timetables, rosters), open formats out.
//!
//! An import reads a file whole ([`source`]: encoding detected, SHA-256 taken), turns it
//! into a model of what it says ([`siecle`], [`sts`], [`oneroster`] into a
//! [`roster::Roster`]), plans
//! the domain commands that bring the establishment to it, decided in memory by the
//! aggregates' own rules ([`plan`]), and appends all their events in one transaction.
//! A file with any problem writes nothing and every problem is listed; `dry_run` stops
//! before writing; importing the same file twice finds nothing to do the second time.
#![forbid(unsafe_code)]

pub mod mef;
pub mod oneroster;
pub mod oneroster_export;
pub mod plan;
pub mod report;
pub mod roster;
pub mod siecle;
pub mod source;
pub mod sts;
pub mod xml;

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

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
    /// STS-Web `sts_emp_<UAI>_<year>.xml`: subjects, divisions, groups, staff, services.
    Sts,
    /// OneRoster 1.2 CSV bulk bundle (a directory or a zip, read with
    /// [`oneroster::Bundle::read`] and imported with [`import_bundle`]): the whole roster
    /// with guardians.
    OneRoster,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Siecle, Format::Sts, Format::OneRoster];

    pub fn name(self) -> &'static str {
        match self {
            Format::Siecle => siecle::FORMAT,
            Format::Sts => sts::FORMAT,
            Format::OneRoster => oneroster::FORMAT,
        }
    }

    /// Whether the format is a bundle of files (a directory or a zip) rather than one file.
    pub fn is_bundle(self) -> bool {
        matches!(self, Format::OneRoster)
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == text)
    }
}

/// How an import runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The establishment the file must be about (by default, the one it names).
    pub tenant: Option<Uai>,
    /// Plan and report, write nothing.
    pub dry_run: bool,
    /// Who imports, recorded as the events' actor, and in what role.
    pub actor: String,
    pub role: String,
    /// The day changes take effect when the file does not say when it was exported.
    pub today: NaiveDate,
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

/// Imports `source` as `format` into `store`: all of it, or nothing.
#[tracing::instrument(skip_all, fields(format = format.name(), file = %source.name))]
pub async fn import(
    store: &EventStore,
    format: Format,
    source: &SourceFile,
    options: &Options,
) -> Result<Summary, ImportError> {
    let started = Instant::now();
    let roster = match format {
        Format::Siecle => siecle::read(source, options.today)?,
        Format::Sts => sts::read(source, options.today)?,
        // A bundle's files come through `import_bundle`; a lone zip's text is not a bundle.
        Format::OneRoster => {
            return Err(ImportError::Invalid(vec![source.problem(
                Location::File,
                "format",
                "a OneRoster bundle is a directory or a zip of CSV files: read it with oneroster::Bundle::read",
            )]))
        }
    };
    let input = Input {
        format,
        name: &source.name,
        sha256: &source.sha256,
        encoding: source.encoding,
    };
    apply(store, input, roster, options, started).await
}

/// Imports a OneRoster bundle into `store`: all of it, or nothing.
#[tracing::instrument(skip_all, fields(format = oneroster::FORMAT, file = %bundle.name))]
pub async fn import_bundle(
    store: &EventStore,
    bundle: &oneroster::Bundle,
    options: &Options,
) -> Result<Summary, ImportError> {
    let started = Instant::now();
    let roster = oneroster::read(bundle, options.today)?;
    let input = Input {
        format: Format::OneRoster,
        name: &bundle.name,
        sha256: &bundle.sha256,
        encoding: bundle.encoding(),
    };
    apply(store, input, roster, options, started).await
}

/// What was read, for the provenance and the summary.
struct Input<'a> {
    format: Format,
    name: &'a str,
    sha256: &'a str,
    encoding: &'static str,
}

/// Plans the commands that bring the establishment to `roster` and appends them.
async fn apply(
    store: &EventStore,
    input: Input<'_>,
    roster: roster::Roster,
    options: &Options,
    started: Instant,
) -> Result<Summary, ImportError> {
    let Input {
        format,
        name: file,
        sha256,
        encoding,
    } = input;
    let uai = roster.uai.clone();
    if let Some(expected) = options.tenant.as_ref().filter(|t| **t != uai) {
        return Err(ImportError::OtherEstablishment {
            file: uai.to_string(),
            expected: expected.to_string(),
        });
    }
    let tenant = store.tenants().await?.into_iter().find(|t| t.tenant == uai);
    let name = tenant
        .as_ref()
        .map(|t| t.name.clone())
        .unwrap_or_else(|| format!("Établissement {uai}"));
    let mut current = roster::Current::load(store, &uai).await?;
    let mut plan = plan::Plan::new(Provenance {
        format: format.name(),
        file: file.to_string(),
        sha256: sha256.to_string(),
        actor: options.actor.clone(),
        role: options.role.clone(),
    });
    roster::plan_roster(&mut plan, &mut current, &roster, &name).await;
    if !plan.problems.is_empty() {
        return Err(ImportError::Invalid(plan.problems));
    }
    let events = plan.events;
    if !options.dry_run && !plan.requests.is_empty() {
        if tenant.is_none() {
            store.create_tenant(&uai, &name, "Europe/Paris").await?;
        }
        store
            .append_bulk(&uai, plan.requests)
            .await
            .map_err(|e| match e {
                StoreError::BulkRejected { errors } => ImportError::Invalid(
                    errors
                        .into_iter()
                        .map(|(_, e)| Problem {
                            file: file.to_string(),
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
    }
    tracing::info!(events, dry_run = options.dry_run, "import planned");
    Ok(Summary {
        format,
        file: file.to_string(),
        sha256: sha256.to_string(),
        encoding,
        establishment: uai,
        dry_run: options.dry_run,
        rows: roster.rows,
        events,
        changes: plan.changes,
        notes: roster.notes,
        elapsed: started.elapsed(),
    })
}
