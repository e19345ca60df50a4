//! The administration's upload: a national or standard file imported through the API, as
//! `carnet import` does it (all or nothing, every problem listed, a dry run to preview).

use async_graphql::{Context, InputObject, Object, SimpleObject, Upload};
use base64::Engine as _;
use carnet_domain::enrolment::SchoolYear;
use carnet_importers::{Format, ImportError, Options};
use chrono::NaiveTime;

use super::context::Command;
use crate::error::{ApiError, ApiResult};
use crate::i18n::Text;
use crate::scalars::Date;

#[derive(Debug, Default)]
pub struct ImportMutation;

/// A file to import.
#[derive(Debug, InputObject)]
pub struct ImportInput {
    /// siecle, sts, oneroster (a zip), fet (its `_timetable.csv`), untis (GPU001.TXT) or
    /// asc (its XML export).
    /// Also udt (UnDeuxTEMPS's export for the ENT: its `<UAI>_<stamp>_UDT.zip`).
    pub format: String,
    /// The file's name, kept in every event's provenance; by default the uploaded
    /// file's own.
    pub file_name: Option<String>,
    /// The file, uploaded by the GraphQL multipart request convention (up to 64 MiB),
    /// or else:
    pub file: Option<Upload>,
    /// The file's bytes, base64-encoded, in a JSON request (up to 1 MiB in all). Files
    /// come in UTF-8, UTF-8 with BOM or Windows-1252/ISO-8859-1/15: the encoding is
    /// detected on the bytes.
    pub content_base64: Option<String>,
    /// Report what would change, write nothing.
    #[graphql(default)]
    pub dry_run: bool,
    /// Timetables: the day the timetable takes effect (default: today).
    pub from: Option<Date>,
    /// Timetables: the school year, e.g. 2026-2027 (default: the one `from` falls in).
    pub year: Option<String>,
    /// Timetables: the times of periods whose names hold none, e.g. `1=08:00-08:55`.
    #[graphql(default)]
    pub hours: Vec<String>,
}

/// How many records of one kind an import created, changed and removed.
#[derive(Debug, SimpleObject)]
pub struct ImportChange {
    pub kind: String,
    pub created: i32,
    pub changed: i32,
    pub removed: i32,
}

/// What an import did (or, dry, would do).
#[derive(Debug, SimpleObject)]
pub struct ImportSummary {
    pub format: String,
    pub file_name: String,
    pub sha256: String,
    pub encoding: String,
    pub dry_run: bool,
    pub rows: i32,
    pub events: i32,
    pub changes: Vec<ImportChange>,
    /// What was read but left aside, and why.
    pub notes: Vec<String>,
}

/// Longest an import through the API may take, under the request's own timeout.
const IMPORT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

#[Object]
impl ImportMutation {
    /// Imports a file (SIECLE, STS-Web, OneRoster, FET, Untis, aSc) into the
    /// establishment: all of it or nothing. A file with problems writes nothing and
    /// answers VALIDATION with every problem in `extensions.problems` (file, line,
    /// element, field, rule). The same file again changes nothing.
    async fn import_file(&self, ctx: &Context<'_>, input: ImportInput) -> ApiResult<ImportSummary> {
        let c = Command::new(ctx, None, None).await?;
        c.actor.may_enrol()?;
        let format = Format::parse(&input.format).ok_or_else(|| {
            let known: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
            ApiError::validation(
                "input.format",
                Text::new(
                    format!("Carnet importe les formats {}", known.join(", ")),
                    format!("Carnet imports {}", known.join(", ")),
                ),
            )
        })?;
        let (bytes, uploaded_name) = content(ctx, &input)?;
        let given_name = input
            .file_name
            .clone()
            .or(uploaded_name)
            .unwrap_or_default();
        let name = std::path::Path::new(&given_name)
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                ApiError::validation(
                    "input.fileName",
                    Text::new("un nom de fichier est nécessaire", "a file name is needed"),
                )
            })?
            .to_string();
        let mut options = Options::new(&c.actor.person, chrono::Local::now().date_naive());
        options.role = c.actor.role_label().to_string();
        options.tenant = Some(c.reader.tenant.clone());
        options.dry_run = input.dry_run;
        options.from = input.from.map(|d| d.0);
        options.year = input
            .year
            .as_deref()
            .map(SchoolYear::parse)
            .transpose()
            .map_err(|e| ApiError::validation("input.year", e.to_string()))?;
        options.hours = bell_schedule(&input.hours)?;
        // What the API lets this person record, and no more.
        options.staff_and_timetables = c
            .actor
            .may_administer("importing staff or timetables")
            .is_ok();
        // The readers take paths (a zip, a FET export folder): the bytes go to a folder of
        // the request's own, removed when it ends.
        let folder = tempfile::tempdir().map_err(|e| ApiError::internal(&e))?;
        let path = folder.path().join(&name);
        std::fs::write(&path, &bytes).map_err(|e| ApiError::internal(&e))?;
        let store = &c.school.store;
        // Reading runs on a thread of its own (see the importers): past the deadline the
        // request is answered, and the import, all or nothing, has written nothing.
        let import = carnet_importers::import_path(store, format, &path, &options);
        let summary = tokio::time::timeout(IMPORT_DEADLINE, import)
            .await
            .map_err(|_| {
                ApiError::validation(
                    "input.contentBase64",
                    Text::new(
                        format!(
                            "la lecture et la vérification du fichier ont pris plus de {} s ; \
                             rien n'a été importé (un fichier de cette taille s'importe avec \
                             `carnet import`)",
                            IMPORT_DEADLINE.as_secs()
                        ),
                        format!(
                            "the file took more than {} s to read and check; nothing was \
                             imported (a file this large is imported with `carnet import`)",
                            IMPORT_DEADLINE.as_secs()
                        ),
                    ),
                )
            })?
            .map_err(|e| match e {
                ImportError::Invalid(problems) => ApiError::InvalidFile(problems),
                ImportError::OtherEstablishment { file, expected } => ApiError::validation(
                    "input.contentBase64",
                    Text::new(
                        format!("le fichier concerne l'établissement {file}, et non {expected}"),
                        format!("the file is for establishment {file}, not {expected}"),
                    ),
                ),
                ImportError::Io { reason, .. } => {
                    ApiError::validation("input.contentBase64", reason)
                }
                ImportError::NotAllowed(ref reserved) => {
                    ApiError::forbidden(not_allowed(reserved, e.to_string()))
                }
                ImportError::Store(store) => store.into(),
            })?;
        Ok(ImportSummary {
            format: summary.format.name().to_string(),
            file_name: summary.file,
            sha256: summary.sha256,
            encoding: summary.encoding.to_string(),
            dry_run: summary.dry_run,
            rows: count(summary.rows),
            events: count(summary.events),
            changes: summary
                .changes
                .iter()
                .map(|(kind, c)| ImportChange {
                    kind: kind.to_string(),
                    created: count(c.created),
                    changed: count(c.changed),
                    removed: count(c.removed),
                })
                .collect(),
            notes: summary.notes,
        })
    }
}

/// The file's bytes, from the upload or the base64 text (exactly one of them), and the
/// uploaded file's name.
fn content(ctx: &Context<'_>, input: &ImportInput) -> ApiResult<(Vec<u8>, Option<String>)> {
    match (&input.file, &input.content_base64) {
        (Some(upload), None) => {
            let value = upload.value(ctx).map_err(|e| {
                ApiError::validation(
                    "input.file",
                    Text::new(
                        format!("le fichier envoyé n'a pas pu être lu : {e}"),
                        format!("the uploaded file could not be read: {e}"),
                    ),
                )
            })?;
            Ok((value.content.to_vec(), Some(value.filename)))
        }
        (None, Some(text)) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| {
                    ApiError::validation(
                        "input.contentBase64",
                        Text::new(
                            format!("n'est pas du base64 : {e}"),
                            format!("not base64: {e}"),
                        ),
                    )
                })?;
            Ok((bytes, None))
        }
        _ => Err(ApiError::validation(
            "input.file",
            Text::new(
                "donnez le fichier, envoyé en multipart (`file`) ou en base64 \
                 (`contentBase64`), l'un des deux",
                "give the file, uploaded as multipart (`file`) or in base64 \
                 (`contentBase64`), one of the two",
            ),
        )),
    }
}

/// The refusal of an import that changes what only the head may change: `english` as
/// the importer words it, and in French.
fn not_allowed(reserved: &[String], english: String) -> Text {
    let changes: Vec<&str> = reserved
        .iter()
        .map(|what| match what.as_str() {
            "the timetable" => "l'emploi du temps",
            "staff members" => "les membres du personnel",
            "staff roles" => "les fonctions du personnel",
            "staff departures" => "les départs du personnel",
            "teachers' services" => "les services des enseignants",
            "staff members' ENT identifiers" => "les identifiants ENT du personnel",
            other => other,
        })
        .collect();
    Text::new(
        format!(
            "ce fichier modifie {} : seul le chef d'établissement peut importer cela ; rien \
             n'a été importé",
            changes.join(", ")
        ),
        english,
    )
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// `1=08:00-08:55`: the times of numbered periods.
fn bell_schedule(entries: &[String]) -> ApiResult<carnet_importers::fet::Hours> {
    let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").ok();
    entries
        .iter()
        .map(|entry| {
            entry
                .split_once('=')
                .and_then(|(name, span)| {
                    let (start, end) = span.split_once('-')?;
                    Some((name.trim().to_string(), (time(start)?, time(end)?)))
                })
                .ok_or_else(|| {
                    ApiError::validation(
                        "input.hours",
                        Text::new(
                            format!("`{entry}` n'est pas de la forme NOM=HH:MM-HH:MM"),
                            format!("`{entry}` is not NAME=HH:MM-HH:MM"),
                        ),
                    )
                })
        })
        .collect()
}
