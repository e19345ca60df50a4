//! The subcommands of `carnet`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use carnet::demo::DemoOptions;
use carnet_domain::attendance::AttendancePolicy;
use carnet_domain::Uai;
use carnet_projections::{Inline, Scheduler, SchedulerOptions, Shard};
use carnet_store::{
    BeforeCommit, CommandContext, EventStore, Location, School, Source, StoreOptions,
};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "carnet",
    version,
    about = "Carnet: the event-sourced vie scolaire backend"
)]
pub struct Args {
    /// PostgreSQL (`postgres://...`) or SQLite (`sqlite:...`) database; when absent, the
    /// embedded SQLite database of the data directory.
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,

    /// Where the embedded database lives.
    #[arg(
        long,
        env = "CARNET_DATA_DIR",
        default_value = "carnet-data",
        global = true
    )]
    data_dir: PathBuf,

    /// Read models updated in the append transaction itself, so that a command's effect
    /// is readable when it is answered (comma-separated names, `all` or `none`); the
    /// others follow the log asynchronously.
    #[arg(
        long,
        env = "CARNET_INLINE",
        global = true,
        value_delimiter = ',',
        default_value = carnet_projections::INLINE_BY_DEFAULT
    )]
    inline: Vec<String>,

    /// The keyring file: the keys that wrap the keys of personal data, and the key of
    /// request fingerprints (made the first time, readable by its owner only). Default:
    /// `carnet.keys` in the data directory. `CARNET_KEYS`, when set, gives the keyring's
    /// text itself instead (a secret of the deployment).
    #[arg(long, env = "CARNET_KEYS_FILE", global = true)]
    keys_file: Option<PathBuf>,

    #[command(flatten)]
    scale: Scale,

    #[command(subcommand)]
    command: Option<Command>,
}

/// How one process shares the database and its work. The defaults hold a thousand
/// establishments on a 2-core machine (see the README's "How many establishments").
#[derive(Debug, clap::Args)]
struct Scale {
    /// Postgres connections of this process at most. Every task holds one at a time, so
    /// a small pool queues work, never deadlocks it.
    #[arg(
        long,
        env = "CARNET_DB_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    db_max_connections: u32,
    /// Seconds a request waits for a connection before it fails.
    #[arg(
        long,
        env = "CARNET_DB_ACQUIRE_TIMEOUT",
        default_value_t = 10.0,
        global = true
    )]
    db_acquire_timeout: f64,
    /// Establishments whose projections are worked at the same time.
    #[arg(
        long,
        env = "CARNET_PROJECTOR_WORKERS",
        default_value_t = 4,
        global = true
    )]
    projector_workers: usize,
    /// Shortest time in milliseconds between two turns of the projectors on one
    /// establishment: under load, the commits of the window share one batch.
    #[arg(
        long,
        env = "CARNET_PROJECTOR_COALESCE_MS",
        default_value_t = 100,
        global = true
    )]
    projector_coalesce_ms: u64,
    /// Seconds a projector's lease lasts unrenewed before another instance takes over
    /// (stamped by the database's clock).
    #[arg(
        long,
        env = "CARNET_LEASE_SECONDS",
        default_value_t = 15.0,
        global = true
    )]
    lease_seconds: f64,
    /// Seconds between two polls of the establishments' heads, which catch commits of
    /// other processes whose wake-up was lost (and, on SQLite, every one of them).
    #[arg(
        long,
        env = "CARNET_POLL_SECONDS",
        default_value_t = 2.0,
        global = true
    )]
    poll_seconds: f64,
    /// This instance's name on the leases: a restarted instance of the same name takes
    /// its projections back at once; by default a new name per run (another instance
    /// then waits for the leases to run out).
    #[arg(long, env = "CARNET_INSTANCE", global = true)]
    instance: Option<String>,
}

impl Scale {
    fn pool(&self) -> anyhow::Result<carnet_store::PoolSettings> {
        Ok(carnet_store::PoolSettings {
            max_connections: self.db_max_connections.max(1),
            acquire_timeout: seconds("--db-acquire-timeout", self.db_acquire_timeout)?,
        })
    }

    fn wakeups(&self) -> anyhow::Result<carnet_store::WakeupOptions> {
        Ok(carnet_store::WakeupOptions {
            poll: seconds("--poll-seconds", self.poll_seconds)?,
            ..Default::default()
        })
    }

    fn scheduler(&self, batch: i64, shard: Shard) -> anyhow::Result<SchedulerOptions> {
        Ok(SchedulerOptions {
            workers: self.projector_workers.max(1),
            owner: self
                .instance
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            lease: seconds("--lease-seconds", self.lease_seconds)?,
            batch_size: batch,
            shard,
            coalesce: std::time::Duration::from_millis(self.projector_coalesce_ms),
            ..Default::default()
        })
    }
}

/// A positive number of seconds, as a duration.
fn seconds(flag: &str, value: f64) -> anyhow::Result<std::time::Duration> {
    if !(value.is_finite() && value > 0.0 && value < 1e9) {
        anyhow::bail!("{flag} must be a positive number of seconds, not {value}");
    }
    Ok(std::time::Duration::from_secs_f64(value))
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Applies the database migrations (also done by every other command at start).
    Migrate,
    /// Shows the database, its establishments and their logs.
    Status,
    /// Manages the establishments (tenants) of this database.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// The keyring of personal data: its state, rotation, retiring an old key.
    #[command(subcommand)]
    Keys(crate::keys::KeysCommand),
    /// Builds a demo collège through the domain's commands (seeded: the same seed gives
    /// the same school). Beyond 1200 students, a small district of several collèges.
    Demo {
        #[arg(long, default_value_t = 600)]
        students: usize,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Imports a national or standard file: `siecle` (BEE ElevesSansAdresses.xml),
    /// `siecle-responsables` (BEE ResponsablesAvecAdresses.xml, with the students' file
    /// of the same export beside it: the legal guardians, linked with their rights),
    /// `sts` (STS-Web sts_emp_<UAI>_<year>.xml), `oneroster` (a OneRoster 1.2 CSV bulk
    /// bundle: a directory or a zip), `fet` (FET's CSV export folder), `untis` (GPU001.TXT)
    /// or `asc` (aSc Timetables' XML export). All of it or nothing: a file with problems
    /// writes nothing and every problem is listed with its line. Importing the same file
    /// again changes nothing; a changed file appends only the differences.
    /// `aaf` reads the ENT's AAF export (its folder of ..._Complet_..._Eleve_0000.xml,
    /// PersRelEleve, PersEducNat, EtabEducNat files, with --tenant when it covers several
    /// establishments): students, legal guardians, staff, their ENT identifiers.
    /// `udt` reads UnDeuxTEMPS's export for the ENT (its <UAI>_<stamp>_UDT.zip, or the
    /// folder of its UDCal_*.xml files): weekly courses, weeks A and B (docs/ent.md).
    Import {
        /// The file's format: siecle, siecle-responsables, sts, oneroster, fet, untis or
        /// asc.
        /// Also aaf (an AAF export's folder).
        /// Also udt (UDT's zip or folder).
        format: String,
        file: PathBuf,
        /// Print what would change, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// The establishment the file must be about (by default, the one it names).
        #[arg(long)]
        tenant: Option<String>,
        /// Who imports, recorded with every event.
        #[arg(long = "as", default_value = "administrator")]
        by: String,
        #[arg(long, default_value = "secretariat")]
        role: String,
        /// Timetables: the day the imported timetable takes effect (default: today).
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Timetables: the school year, e.g. 2026-2027 (default: the one --from is in).
        #[arg(long)]
        year: Option<String>,
        /// Timetables: the times of hours whose names hold none, e.g.
        /// "1=08:00-08:55,2=09:00-09:55".
        #[arg(long, value_delimiter = ',')]
        hours: Vec<String>,
        /// FET: the weekday of day names that are none, e.g. "A=Mon,B=Tue" (by default a
        /// day's name, else its place in the .fet file's days list, the first Monday).
        #[arg(long, value_delimiter = ',')]
        days: Vec<String>,
    },
    /// Writes an establishment's school year as a OneRoster 1.2 CSV bulk bundle (a
    /// directory of CSV files and manifest.csv): structures, staff, services, students
    /// with their division and groups, guardians. Names and birth dates are opened with
    /// the database's keys (an erased person is exported as erased): handle the bundle as
    /// personal data.
    ExportOneroster {
        /// The directory to write (created if need be).
        #[arg(long)]
        out: PathBuf,
        /// The establishment; by default the database's only one.
        #[arg(long)]
        tenant: Option<String>,
        /// The school year, e.g. 2026-2027 (default: the year of `--as-of`).
        #[arg(long)]
        year: Option<String>,
        /// The day whose divisions and groups are exported (default: today).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
    },
    /// Runs the projectors: follows every establishment's log and keeps the read models
    /// up to date, until interrupted (or, with `--until-caught-up`, once to the end).
    /// Several may run at once, on other hosts too: `--shard K/N` splits the
    /// establishments between N of them, and leases keep any two from overlapping.
    Project {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        until_caught_up: bool,
        /// The establishments whose UAI hashes to K among N (e.g. 2/4).
        #[arg(long, env = "CARNET_SHARD", default_value = "1/1")]
        shard: Shard,
        /// Events per transaction.
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
    /// Sends the notifications the log calls for (absences, alerts, decisions on
    /// justifications) to the guardians, by e-mail and signed webhooks, until
    /// interrupted. Several may run at once. See docs/notifications.md.
    Notify {
        /// The notifier's TOML file: SMTP relay, webhooks, retries.
        #[arg(long, env = "CARNET_NOTIFY_CONFIG")]
        config: std::path::PathBuf,
    },
    /// Tools over the whole log.
    #[command(subcommand)]
    Replay(ReplayCommand),
    /// Serves the GraphQL API (and GraphiQL at `/`) with the projectors running: the
    /// default command. On an empty embedded database, loads the demo first.
    Serve {
        #[arg(long, env = "CARNET_BIND", default_value = "127.0.0.1:8080")]
        bind: std::net::SocketAddr,
        /// Trust development tokens minted by `carnet token` (default: only on the
        /// embedded database).
        #[arg(long, env = "CARNET_DEV_TOKENS")]
        dev_tokens: Option<bool>,
        /// The OpenID Connect issuer (the ENT) whose tokens are accepted.
        #[arg(long, env = "CARNET_OIDC_ISSUER")]
        oidc_issuer: Option<String>,
        #[arg(long, env = "CARNET_OIDC_AUDIENCE", default_value = carnet_api::auth::DEFAULT_AUDIENCE)]
        oidc_audience: String,
        /// The issuer's JWKS; by default from its discovery document.
        #[arg(long, env = "CARNET_OIDC_JWKS_URL")]
        oidc_jwks_url: Option<String>,
        /// A TOML file of trusted issuers (one per académie or ENT), each with its claim
        /// mapping (see docs/ent.md); `--oidc-issuer` adds one more with Carnet's claims.
        #[arg(long, env = "CARNET_OIDC_CONFIG")]
        oidc_config: Option<std::path::PathBuf>,
        /// Requests per second one identity (issuer, person, establishments) may
        /// sustain; past it and its burst, 429 with Retry-After.
        #[arg(long, env = "CARNET_RATE_PER_SECOND", default_value_t = carnet_api::limits::PER_SECOND)]
        rate_per_second: u32,
        #[arg(long, env = "CARNET_RATE_BURST", default_value_t = carnet_api::limits::BURST)]
        rate_burst: u32,
        /// Web origins whose pages may call the API from a browser (an ENT's web app on
        /// its own domain), comma-separated, e.g. `https://ent.monlycee.net`.
        #[arg(
            long = "cors-origin",
            env = "CARNET_CORS_ORIGINS",
            value_delimiter = ','
        )]
        cors_origins: Vec<String>,
        /// The address people reach this server at, e.g. `https://carnet.region.fr`:
        /// printed (and QR-encoded) on bulletins for their verification. By default, the
        /// host each request names.
        #[arg(long, env = "CARNET_PUBLIC_URL")]
        public_url: Option<String>,
        /// Who may act as an auditor: `person` or `person@UAI+UAI`, comma-separated. A
        /// token's `auditor` role counts for them only (with development tokens, the
        /// demo's `auditeur` too).
        #[arg(long, env = "CARNET_AUDITORS", default_value = "")]
        auditors: String,
        /// `all`: this process also keeps the read models up to date; `none`: they are
        /// kept by `carnet project` processes of their own.
        #[arg(long, env = "CARNET_PROJECTORS", default_value = "all", value_parser = ["all", "none"])]
        projectors: String,
        /// Also send the notifications, with this notifier's file (see `carnet notify`).
        #[arg(long, env = "CARNET_SERVE_NOTIFY_CONFIG")]
        notify_config: Option<std::path::PathBuf>,
    },
    /// Erases a person's personal data (RGPD art. 17): records the erasure in the log,
    /// then destroys their keys. Their names, birth date, absence reasons and comments
    /// read as erased everywhere; the rest of the history stays and `replay verify`
    /// still passes. Running it again finishes an interrupted erasure.
    ErasePerson {
        /// The student, guardian or staff id.
        person: String,
        /// Why (the request, the rule): kept with the erasure.
        #[arg(long)]
        grounds: String,
        /// Who erases, recorded as the actor.
        #[arg(long = "as", default_value = "administrator")]
        by: String,
        /// The establishment; by default the database's only one.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Lists the personal data the retention rule no longer keeps (absence reasons,
    /// comments and notes: the end of their school year plus `--absence-years`), and
    /// erases it with `--apply` (see replay-tools/src/retention.rs for the rule and its
    /// source).
    Retention {
        #[arg(long)]
        tenant: Option<String>,
        /// Years absence data is kept after the end of its school year.
        #[arg(long, env = "CARNET_RETENTION_ABSENCE_YEARS", default_value_t = 0)]
        absence_years: u32,
        /// The day the rule is applied on (default: today).
        #[arg(long)]
        today: Option<chrono::NaiveDate>,
        /// Erase what is listed (otherwise only list it).
        #[arg(long)]
        apply: bool,
    },
    /// Exports for other tools: a timetable as iCalendar, absences or grades as CSV.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Mints a development token (trusted by `carnet serve --dev-tokens`).
    Token {
        /// The person: a student, guardian or staff id of the establishment.
        #[arg(long = "as")]
        person: String,
        /// What they act as: guardian, student, teacher, cpe, aed, secretariat,
        /// principal, auditor (repeatable, at least one: a token claims its roles).
        #[arg(long, required = true)]
        role: Vec<String>,
        /// The establishment(s); by default the database's only one.
        #[arg(long)]
        establishment: Vec<String>,
        /// Lifetime in hours, at most 12 (a development token is a bearer secret).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..=12))]
        hours: i64,
    },
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Registers an establishment by its UAI.
    Add {
        uai: String,
        name: String,
        #[arg(long, default_value = "Europe/Paris")]
        time_zone: String,
    },
    /// Lists the establishments.
    List,
}

#[derive(Debug, Subcommand)]
enum ReplayCommand {
    /// Rebuilds read models from the whole log into new tables, then switches to them,
    /// while the server keeps serving the old ones.
    Rebuild {
        /// A projection's name, or `all`.
        projection: String,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Checks that positions are gap-free, versions contiguous and every hash links.
    Verify {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Writes the whole log (every establishment, or one) as JSON Lines, the format of
    /// replay-tools/log.schema.json, to standard output or a file.
    Export {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Add the keys of personal data, wrapped by the keyring's current KEK: names,
        /// reasons and comments then open where that keyring is (a move between two
        /// databases of one deployment). Without them, the log still verifies and its
        /// personal values do not open (for an auditor of the chain alone).
        #[arg(long)]
        with_keys: bool,
    },
    /// The state as it stood at an instant, as JSON, folded from the log: one stream
    /// (`--stream student/eleve00042`), a student's whole record (`--student` id or
    /// INE: enrolment, attendance of every year, marks), a division's students, or
    /// every aggregate. The instant is RFC 3339, or a date (its end, local time).
    AsOf {
        instant: String,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, conflicts_with_all = ["student", "division"])]
        stream: Option<String>,
        #[arg(long, conflicts_with = "division")]
        student: Option<String>,
        #[arg(long)]
        division: Option<String>,
    },
    /// What changed after one instant and up to another, as JSON: the events grouped by
    /// stream, each with who recorded it, in what role, how and when.
    Diff {
        from: String,
        to: String,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Reads an export into this store, which must not have its establishments yet:
    /// the file is checked whole (every hash) before anything is written.
    Import { file: PathBuf },
}

/// `carnet import`: the summary on standard output, the file's problems on standard
/// error (exit status 1, nothing written).
async fn import(
    store: &EventStore,
    format: &str,
    file: &std::path::Path,
    options: &carnet_importers::Options,
) -> anyhow::Result<ExitCode> {
    use carnet_importers::{Format, ImportError};
    let Some(format) = Format::parse(format) else {
        let known: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
        anyhow::bail!(
            "unknown format `{format}`: Carnet imports {}",
            known.join(", ")
        );
    };
    // A spinner on standard error while a long file is read and planned (hidden when
    // standard error is not a terminal).
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message(format!("importing {}", file.display()));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let outcome = carnet_importers::import_path(store, format, file, options).await;
    spinner.finish_and_clear();
    match outcome {
        Ok(summary) => {
            println!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Err(ImportError::Invalid(problems)) => {
            eprintln!(
                "{}: {} problem(s), nothing was imported",
                file.display(),
                problems.len()
            );
            for p in problems {
                eprintln!("  {p}");
            }
            Ok(ExitCode::FAILURE)
        }
        Err(other) => Err(other.into()),
    }
}

/// The issuers whose tokens `carnet serve` accepts: those of the `--oidc-config` file,
/// and the `--oidc-issuer` shorthand (one issuer with Carnet's own claims). A file Carnet
/// cannot use stops it here, naming the file, the issuer and the field.
fn trusted_issuers(
    file: Option<&std::path::Path>,
    issuer: Option<&str>,
    audience: &str,
    jwks_url: Option<&str>,
) -> anyhow::Result<Vec<carnet_api::auth::OidcConfig>> {
    let mut issuers = match file {
        Some(path) => carnet_api::issuers::load(path)?,
        None => Vec::new(),
    };
    if let Some(issuer) = issuer {
        if issuers.iter().any(|i| i.issuer == issuer) {
            anyhow::bail!("--oidc-issuer {issuer} is also in the --oidc-config file: keep one");
        }
        issuers.push(carnet_api::auth::OidcConfig {
            jwks_url: jwks_url.map(str::to_string),
            ..carnet_api::auth::OidcConfig::new(issuer, audience)
        });
    }
    Ok(issuers)
}

/// `--days A=Mon,B=Tue`: the weekdays of a FET export's day names.
fn day_names(entries: &[String]) -> anyhow::Result<carnet_importers::fet::Days> {
    entries
        .iter()
        .map(|entry| {
            let parsed = entry.split_once('=').and_then(|(name, day)| {
                let day = carnet_importers::timetable::weekday(day)?;
                Some((name.trim().to_string(), day))
            });
            parsed
                .ok_or_else(|| anyhow::anyhow!("--days: `{entry}` is not NAME=WEEKDAY, e.g. A=Mon"))
        })
        .collect()
}

/// `--hours 1=08:00-08:55,2=09:00-09:55`: the times of numbered hours.
fn bell_schedule(entries: &[String]) -> anyhow::Result<carnet_importers::fet::Hours> {
    let time = |t: &str| chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M");
    entries
        .iter()
        .map(|entry| {
            let parsed = entry.split_once('=').and_then(|(name, span)| {
                let (start, end) = span.split_once('-')?;
                Some((
                    name.trim().to_string(),
                    (time(start).ok()?, time(end).ok()?),
                ))
            });
            parsed.ok_or_else(|| {
                anyhow::anyhow!("--hours: `{entry}` is not NAME=HH:MM-HH:MM, e.g. 1=08:00-08:55")
            })
        })
        .collect()
}

/// The notifier of `file`, over `store`.
fn notifier(
    store: &EventStore,
    file: &std::path::Path,
) -> anyhow::Result<carnet::notify::Notifier> {
    let config = carnet::notify::NotifyConfig::load(file)?;
    carnet::notify::Notifier::new(store, config)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let data_dir = args.data_dir.clone();
    let keyring_source = crate::keys::KeyringSource::choose(args.keys_file, &data_dir);
    let location = Location::from_env(args.database_url, args.data_dir);
    let keyring = Arc::new(
        keyring_source
            .load()
            .context("reading the keyring of personal data")?,
    );
    let inline = carnet_projections::named(&args.inline)?;
    // Bulk loads leave the read models to the projectors, which fold thousands of events
    // per transaction instead of a few dozen.
    // The main job, with no subcommand: the server, with its defaults and environment.
    let command = match args.command {
        Some(command) => command,
        None => Args::parse_from(["carnet", "serve"])
            .command
            .unwrap_or(Command::Status),
    };
    // Checked before the database is opened or the demo loaded: a bad file stops the
    // server at once.
    let issuers = match &command {
        Command::Serve {
            oidc_config,
            oidc_issuer,
            oidc_audience,
            oidc_jwks_url,
            ..
        } => trusted_issuers(
            oidc_config.as_deref(),
            oidc_issuer.as_deref(),
            oidc_audience,
            oidc_jwks_url.as_deref(),
        )?,
        _ => Vec::new(),
    };
    let bulk = matches!(command, Command::Demo { .. } | Command::Import { .. });
    let inline = if bulk { Vec::new() } else { inline };
    let options = StoreOptions {
        before_commit: (!inline.is_empty())
            .then(|| Arc::new(Inline::new(inline)) as Arc<dyn BeforeCommit>),
        pool: args.scale.pool()?,
        wakeups: args.scale.wakeups()?,
        keyring: Some(keyring.clone()),
        ..Default::default()
    };
    let store = EventStore::open(&location, options)
        .await
        .with_context(|| format!("opening the database ({})", describe(&location)))?;
    let embedded = matches!(location, Location::DataDir(_));
    // The server on an empty embedded database loads the demo establishment first, so
    // that a fresh clone has something to look at.
    if embedded && matches!(command, Command::Serve { .. }) && store.tenants().await?.is_empty() {
        println!("the embedded database is empty: loading the demo establishment");
        // A bulk load: the projectors fold it afterwards, faster than inline.
        let plain = EventStore::open(
            &location,
            StoreOptions {
                keyring: Some(keyring.clone()),
                ..Default::default()
            },
        )
        .await?;
        demo(&plain, &DemoOptions::default()).await?;
    }
    match command {
        Command::Demo { students, seed } => {
            demo(&store, &DemoOptions { students, seed }).await?;
        }
        Command::Import {
            format,
            file,
            dry_run,
            tenant,
            by,
            role,
            from,
            year,
            hours,
            days,
        } => {
            let mut options =
                carnet_importers::Options::new(&by, chrono::Local::now().date_naive());
            options.role = role;
            options.dry_run = dry_run;
            options.tenant = tenant.as_deref().map(Uai::parse).transpose()?;
            options.from = from;
            options.year = year
                .as_deref()
                .map(carnet_domain::enrolment::SchoolYear::parse)
                .transpose()?;
            options.hours = bell_schedule(&hours)?;
            options.days = day_names(&days)?;
            return import(&store, &format, &file, &options).await;
        }
        Command::Project {
            tenant,
            until_caught_up,
            shard,
            batch,
        } => {
            let mut options = args.scale.scheduler(batch, shard)?;
            options.only = tenant
                .map(|t| Uai::parse(&t).map(|uai| [uai].into_iter().collect()))
                .transpose()?;
            project(&store, options, until_caught_up).await?;
        }
        Command::Serve {
            bind,
            dev_tokens,
            projectors,
            rate_per_second,
            rate_burst,
            cors_origins,
            public_url,
            auditors,
            notify_config,
            ..
        } => {
            let auditors = carnet_api::auth::Auditors::parse(&auditors)
                .map_err(|e| anyhow::anyhow!("--auditors: {e}"))?;
            let notifier = notify_config
                .map(|file| notifier(&store, &file))
                .transpose()?;
            let options = crate::serve::ServeOptions {
                bind,
                // Development tokens are minted by whoever reads the key file: trusted by
                // default only by an embedded server that listens on this machine alone.
                dev_tokens: dev_tokens.unwrap_or(embedded && bind.ip().is_loopback()),
                oidc: issuers,
                projectors: (projectors == "all")
                    .then(|| args.scale.scheduler(500, Shard::ALL))
                    .transpose()?,
                catch_up_first: embedded,
                rate: (rate_per_second, rate_burst),
                cors_origins,
                public_url,
                auditors,
                notifier,
            };
            crate::serve::serve(store, &data_dir, options).await?;
        }
        Command::Notify { config } => {
            let notifier = notifier(&store, &config)?;
            println!("the notifier is running (stop it with Ctrl-C)");
            notifier.run(crate::serve::shutdown_signal()).await;
        }
        Command::Token {
            person,
            role,
            establishment,
            hours,
        } => {
            let establishments = if establishment.is_empty() {
                match store.tenants().await?.as_slice() {
                    [one] => vec![one.tenant.clone()],
                    _ => anyhow::bail!("name the establishment with --establishment UAI"),
                }
            } else {
                establishment
                    .iter()
                    .map(|u| Uai::parse(u))
                    .collect::<Result<_, _>>()?
            };
            println!(
                "{}",
                crate::serve::mint(&data_dir, &person, &establishments, &role, hours)?
            );
        }
        Command::ExportOneroster {
            out,
            tenant,
            year,
            as_of,
        } => {
            use carnet_importers::oneroster_export::{export, ExportOptions};
            let uai = one_tenant(&store, tenant).await?;
            let options = ExportOptions {
                year: year
                    .as_deref()
                    .map(carnet_domain::enrolment::SchoolYear::parse)
                    .transpose()?,
                as_of: as_of.unwrap_or_else(|| chrono::Local::now().date_naive()),
            };
            println!("{}", export(&store, &uai, &options, &out).await?);
        }
        Command::ErasePerson {
            person,
            grounds,
            by,
            tenant,
        } => {
            let uai = one_tenant(&store, tenant).await?;
            let school = School::new(store.clone(), uai.clone(), AttendancePolicy::default());
            let context = CommandContext {
                actor: Some(by),
                role: Some("principal".into()),
                source: Source::System,
                ..CommandContext::default()
            };
            let destroyed = school.erase_person(&person, &grounds, &context).await?;
            println!(
                "{uai}: personal data of {person} erased ({} key(s) destroyed now)",
                destroyed.len()
            );
        }
        Command::Retention {
            tenant,
            absence_years,
            today,
            apply,
        } => {
            use carnet_replay_tools::retention;
            let rule = retention::Rule { absence_years };
            let today = today.unwrap_or_else(|| chrono::Local::now().date_naive());
            for uai in selected_tenants(&store, tenant).await? {
                let expired = retention::past_rule(&store, &uai, rule, today).await?;
                for e in &expired {
                    println!(
                        "{uai}\t{}\tabsences {}\tyear ended {}\tkept until {}",
                        e.person, e.year, e.year_ended, e.kept_until
                    );
                }
                if apply {
                    let erased = retention::erase(&store, &uai, rule, &expired).await?;
                    println!("{uai}: {erased} key(s) erased by the retention rule");
                } else {
                    println!(
                        "{uai}: {} key(s) past the retention rule on {today} (erase them with --apply)",
                        expired.len()
                    );
                }
            }
        }
        Command::Export(command) => export(&store, command).await?,
        Command::Migrate => {
            println!("migrations applied to {}", describe(&location));
        }
        Command::Status => {
            println!("database: {} ({})", describe(&location), store.kind());
            let tenants = store.tenants().await?;
            if tenants.is_empty() {
                println!("no establishment yet: add one with `carnet tenant add <UAI> <name>`");
            }
            for t in tenants {
                println!(
                    "{}  {}  ({}), {} events",
                    t.tenant, t.name, t.time_zone, t.head
                );
            }
        }
        Command::Tenant(TenantCommand::Add {
            uai,
            name,
            time_zone,
        }) => {
            let uai = Uai::parse(&uai)?;
            store.create_tenant(&uai, &name, &time_zone).await?;
            println!("establishment {uai} ({name}) added");
        }
        Command::Keys(command) => {
            crate::keys::run(command, &store, &location, &keyring_source).await?;
        }
        Command::Tenant(TenantCommand::List) => {
            for t in store.tenants().await? {
                println!("{}\t{}\t{}\t{}", t.tenant, t.name, t.time_zone, t.head);
            }
        }
        Command::Replay(ReplayCommand::Rebuild { projection, tenant }) => {
            let tenants = selected_tenants(&store, tenant).await?;
            let projections = carnet_projections::named(&[projection])?;
            for uai in &tenants {
                for p in &projections {
                    let name = p.name();
                    // Drawn on standard error when it is a terminal, hidden otherwise.
                    let bar = indicatif::ProgressBar::new(0).with_style(
                        indicatif::ProgressStyle::with_template(
                            "{prefix} [{bar:40}] {pos}/{len} events, {per_sec}, {eta} left",
                        )?
                        .progress_chars("=> "),
                    );
                    bar.set_prefix(format!("{uai} {name}"));
                    let done = carnet_projections::rebuild(&store, uai, p.clone(), |at, head| {
                        bar.set_length(head.max(0) as u64);
                        bar.set_position(at.max(0) as u64);
                    })
                    .await?;
                    bar.finish_and_clear();
                    println!(
                        "{uai} {name}: {} events in {:.2} s ({:.0} events/s), generation {}",
                        done.events,
                        done.seconds,
                        done.events as f64 / done.seconds.max(1e-9),
                        done.generation
                    );
                }
            }
        }
        Command::Replay(ReplayCommand::Export {
            tenant,
            output,
            with_keys,
        }) => {
            let wanted = selected_tenants(&store, tenant).await?;
            let tenants: Vec<_> = store
                .tenants()
                .await?
                .into_iter()
                .filter(|t| wanted.contains(&t.tenant))
                .collect();
            let started = std::time::Instant::now();
            let sections = match &output {
                Some(path) => {
                    // Personal data, sealed (and, with --with-keys, their wrapped keys).
                    let file = carnet_store::files::create_private(path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    let mut out = std::io::BufWriter::new(file);
                    carnet_replay_tools::log::export(&store, &tenants, with_keys, &mut out).await?
                }
                None => {
                    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                    carnet_replay_tools::log::export(&store, &tenants, with_keys, &mut out).await?
                }
            };
            report_sections("exported", &sections, started.elapsed().as_secs_f64());
        }
        Command::Replay(ReplayCommand::Import { file }) => {
            let started = std::time::Instant::now();
            let sections = carnet_replay_tools::log::import(&store, &file).await?;
            report_sections("imported", &sections, started.elapsed().as_secs_f64());
        }
        Command::Replay(ReplayCommand::AsOf {
            instant,
            tenant,
            stream,
            student,
            division,
        }) => {
            use carnet_replay_tools::timeline::{self, Selector};
            let (uai, zone) = tenant_and_zone(&store, tenant).await?;
            let at = timeline::parse_instant(&instant, zone)?;
            let selector = match (stream, student, division) {
                (Some(s), _, _) => Selector::Stream(s),
                (_, Some(s), _) => Selector::Student(s),
                (_, _, Some(d)) => Selector::Division(d),
                _ => Selector::All,
            };
            let state = timeline::as_of(&store, &uai, at, zone, &selector).await?;
            println!("{}", serde_json::to_string_pretty(&state)?);
        }
        Command::Replay(ReplayCommand::Diff { from, to, tenant }) => {
            use carnet_replay_tools::timeline;
            let (uai, zone) = tenant_and_zone(&store, tenant).await?;
            let (from, to) = (
                timeline::parse_instant(&from, zone)?,
                timeline::parse_instant(&to, zone)?,
            );
            if to < from {
                anyhow::bail!("`to` ({to}) is before `from` ({from})");
            }
            let changes = timeline::diff(&store, &uai, from, to).await?;
            println!("{}", serde_json::to_string_pretty(&changes)?);
        }
        Command::Replay(ReplayCommand::Verify { tenant }) => {
            let tenant = tenant.map(|t| Uai::parse(&t)).transpose()?;
            let started = std::time::Instant::now();
            let reports = carnet_replay_tools::verify(&store, tenant.as_ref()).await?;
            let events: u64 = reports.iter().map(|r| r.events).sum();
            for report in &reports {
                println!("{}", carnet_replay_tools::describe(report));
            }
            let seconds = started.elapsed().as_secs_f64();
            println!("{events} events checked in {seconds:.2} s");
            if reports.iter().any(|r| !r.is_intact()) {
                return Ok(ExitCode::from(2));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A summary on standard error (standard output may be the export itself).
fn report_sections(done: &str, sections: &[carnet_replay_tools::log::Section], seconds: f64) {
    let events: u64 = sections.iter().map(|s| s.events).sum();
    for s in sections {
        eprintln!("{}: {} events, {} keys {done}", s.tenant, s.events, s.keys);
    }
    eprintln!(
        "{events} events {done} in {seconds:.2} s ({:.0} events/s)",
        events as f64 / seconds.max(1e-9)
    );
}

/// The establishment named, or the database's only one.
async fn one_tenant(store: &EventStore, tenant: Option<String>) -> anyhow::Result<Uai> {
    match tenant {
        Some(t) => Ok(Uai::parse(&t)?),
        None => match store.tenants().await?.as_slice() {
            [one] => Ok(one.tenant.clone()),
            _ => anyhow::bail!("name the establishment with --tenant UAI"),
        },
    }
}

/// The establishment named (or the only one) and its time zone.
async fn tenant_and_zone(
    store: &EventStore,
    tenant: Option<String>,
) -> anyhow::Result<(Uai, chrono_tz::Tz)> {
    let uai = one_tenant(store, tenant).await?;
    let info = store
        .tenants()
        .await?
        .into_iter()
        .find(|t| t.tenant == uai)
        .with_context(|| format!("establishment {uai} is not in this database"))?;
    let zone = info
        .time_zone
        .parse()
        .map_err(|e| anyhow::anyhow!("{uai} has time zone `{}`: {e}", info.time_zone))?;
    Ok((uai, zone))
}

async fn selected_tenants(store: &EventStore, tenant: Option<String>) -> anyhow::Result<Vec<Uai>> {
    Ok(match tenant {
        Some(t) => vec![Uai::parse(&t)?],
        None => store
            .tenants()
            .await?
            .into_iter()
            .map(|t| t.tenant)
            .collect(),
    })
}

/// Works the projections of the selected establishments: once to the end of the logs,
/// or until Ctrl-C or SIGTERM.
async fn project(
    store: &EventStore,
    options: SchedulerOptions,
    until_caught_up: bool,
) -> anyhow::Result<()> {
    let shard = options.shard;
    let scheduler = Scheduler::new(store.clone(), options);
    if until_caught_up {
        scheduler.catch_up().await?;
    } else {
        println!("projecting the establishments of shard {shard} (Ctrl-C to stop)");
        scheduler.run(crate::serve::shutdown_signal()).await?;
    }
    let pool = store.backend().pool();
    let health =
        carnet_projections::checkpoint::health(&pool, carnet_projections::all().len() as i64)
            .await?;
    for p in &health.projections {
        println!(
            "{}: {} establishment(s), {} behind (at most {} events), {} stopped",
            p.projection, p.units, p.behind, p.max_lag_events, p.stopped
        );
    }
    Ok(())
}

async fn demo(store: &EventStore, options: &DemoOptions) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let reports = carnet::demo::load(store, options).await?;
    for report in &reports {
        println!("{report}");
    }
    let events: i64 = reports.iter().map(|r| r.events).sum();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "demo: {} establishment(s), {events} events in {seconds:.1} s ({:.0} events/s)",
        reports.len(),
        events as f64 / seconds.max(1e-9)
    );
    Ok(())
}

fn describe(location: &Location) -> String {
    match location {
        Location::Url(url) => redact(url),
        Location::DataDir(dir) => EventStore::sqlite_file(dir).display().to_string(),
    }
}

/// The URL without its password, for printing.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

// ---------------------------------------------------------------- carnet export

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// A timetable of the school year as iCalendar (RFC 5545): one recurring event per
    /// course, holidays and cancelled lessons excluded, moved lessons and changes of
    /// room or teacher as overrides, extra lessons as single events.
    Ical {
        #[command(flatten)]
        whose: WhoseArgs,
        #[command(flatten)]
        scope: ExportScope,
    },
    /// Absences, late arrivals, early departures and exclusions of the school year as
    /// CSV: one row per roll-call entry, with its justification and the CPE's decision.
    AbsencesCsv {
        #[command(flatten)]
        csv: CsvArgs,
        #[command(flatten)]
        scope: ExportScope,
    },
    /// Marks of the school year as CSV: one row per mark, with its evaluation.
    GradesCsv {
        #[command(flatten)]
        csv: CsvArgs,
        #[command(flatten)]
        scope: ExportScope,
    },
}

/// Whose timetable: exactly one of these.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct WhoseArgs {
    /// A student's id.
    #[arg(long)]
    student: Option<String>,
    /// A teacher's id.
    #[arg(long)]
    teacher: Option<String>,
    /// A room, as the timetable names it.
    #[arg(long)]
    room: Option<String>,
    /// A division (class) id: its lessons and those of its groups.
    #[arg(long)]
    division: Option<String>,
    /// A group id.
    #[arg(long)]
    group: Option<String>,
}

#[derive(Debug, clap::Args)]
struct ExportScope {
    /// The establishment; by default the database's only one.
    #[arg(long)]
    tenant: Option<String>,
    /// The school year (`2026-2027`); by default the current one, or the latest.
    #[arg(long)]
    year: Option<String>,
    /// The file to write; standard output by default.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct CsvArgs {
    /// The field separator: `;` (what Excel expects in French), `,`, `tab`, ...
    #[arg(long, default_value = ";")]
    separator: String,
    /// Start with a UTF-8 byte order mark, for Excel to read accents right (the default;
    /// `--bom false` for tools that show it as a character).
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    bom: bool,
    /// The decimal mark: `,` or `.`; by default `,` with the `;` separator, else `.`.
    #[arg(long)]
    decimal: Option<char>,
    /// The language of the column names and of words such as absent / late, yes / no:
    /// `fr` (the default, for the school's staff) or `en`.
    #[arg(long, visible_alias = "headers", default_value = "fr")]
    lang: String,
}

impl CsvArgs {
    fn options(&self) -> anyhow::Result<carnet_importers::export::CsvOptions> {
        use carnet_importers::export::CsvOptions;
        let separator = CsvOptions::separator_from(&self.separator)?;
        let decimal_comma = match self.decimal {
            None => separator == b';',
            Some(',') => true,
            Some('.') => false,
            Some(other) => anyhow::bail!("the decimal mark is `,` or `.`, not `{other}`"),
        };
        if decimal_comma && separator == b',' {
            anyhow::bail!("a decimal comma needs another separator than `,` (try `;`)");
        }
        Ok(CsvOptions {
            separator,
            bom: self.bom,
            decimal_comma,
            language: carnet_importers::export::Language::from_code(&self.lang)?,
        })
    }
}

async fn export(store: &EventStore, command: ExportCommand) -> anyhow::Result<()> {
    use carnet_importers::export::{absences, grades, ical, Scope};
    let scope_args = match &command {
        ExportCommand::Ical { scope, .. }
        | ExportCommand::AbsencesCsv { scope, .. }
        | ExportCommand::GradesCsv { scope, .. } => scope,
    };
    let (uai, zone) = tenant_and_zone(store, scope_args.tenant.clone()).await?;
    let school = School::new(store.clone(), uai.clone(), AttendancePolicy::default());
    let now = chrono::Utc::now();
    let today = now.with_timezone(&zone).date_naive();
    let scope = Scope::open(&school, scope_args.year.as_deref(), today).await?;
    let mut out = Vec::new();
    let what = match &command {
        ExportCommand::Ical { whose, .. } => {
            let whose = match whose {
                WhoseArgs {
                    student: Some(id), ..
                } => ical::Whose::Student(id.clone()),
                WhoseArgs {
                    teacher: Some(id), ..
                } => ical::Whose::Teacher(id.clone()),
                WhoseArgs { room: Some(id), .. } => ical::Whose::Room(id.clone()),
                WhoseArgs {
                    division: Some(id), ..
                } => ical::Whose::Division(id.clone()),
                WhoseArgs {
                    group: Some(id), ..
                } => ical::Whose::Group(id.clone()),
                _ => anyhow::bail!(
                    "name whose timetable: --student, --teacher, --room, --division or --group"
                ),
            };
            out = ical::export(&scope, &whose, now).await?.into_bytes();
            format!("the timetable of {whose}")
        }
        ExportCommand::AbsencesCsv { csv, .. } => {
            let policy = AttendancePolicy::default();
            let rows = absences::export(&scope, &policy, &csv.options()?, &mut out).await?;
            format!("{rows} roll-call entries")
        }
        ExportCommand::GradesCsv { csv, .. } => {
            let rows = grades::export(&scope, &csv.options()?, &mut out).await?;
            format!("{rows} marks")
        }
    };
    match &scope_args.output {
        Some(path) => carnet_store::files::write_private(path, &out)
            .with_context(|| format!("writing {}", path.display()))?,
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&out)
                .context("writing to standard output")?;
            stdout.flush().context("writing to standard output")?;
        }
    }
    // On standard error: standard output may be the export itself.
    eprintln!("{uai} {}: {what} exported", scope.year);
    Ok(())
}
