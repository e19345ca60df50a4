//! OneRoster 1.2 CSV on both backends: a sample bundle (written for these tests from the
//! 1.2 CSV binding: no package registry ships OneRoster 1.2 sample files) builds a
//! school, as a directory, a zip and in Windows-1252; the same bundle again appends
//! nothing; bad bundles list every problem and write nothing; and the round trip: a
//! school built from STS-Web and SIECLE with guardians, exported to OneRoster, imported
//! into an empty store, gives the same roster (and exports to the same bytes).
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use carnet_domain::attendance::AttendancePolicy;
use carnet_domain::enrolment::{
    Establishment, GuardianRights, PersonKind, Role, SchoolYear, Service, Student, StudentCommand,
};
use carnet_domain::Uai;
use carnet_importers::oneroster::Bundle;
use carnet_importers::oneroster_export::{export, ExportOptions};
use carnet_importers::{
    import, import_bundle, plan, Format, ImportError, Options, SourceFile, Summary,
};
use carnet_store::testing::TestStore;
use carnet_store::verify::verify_tenant;
use carnet_store::{BackendKind, CommandContext, EventStore, School, Source, StreamRef};
use chrono::NaiveDate;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn sample_dir() -> PathBuf {
    Path::new(FIXTURES).join("oneroster")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn options() -> Options {
    Options::new("secretariat1", date(2026, 9, 3))
}

fn counts(summary: &Summary, kind: &str) -> (usize, usize, usize) {
    summary
        .changes
        .get(kind)
        .map_or((0, 0, 0), |c| (c.created, c.changed, c.removed))
}

async fn head(store: &EventStore, uai: &Uai) -> i64 {
    store
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.tenant == *uai)
        .map_or(0, |t| t.head)
}

async fn run(store: &EventStore, bundle: &Bundle) -> Summary {
    import_bundle(store, bundle, &options())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", bundle.name))
}

/// The files of the sample bundle, by name.
fn sample_files() -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(sample_dir())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn bundle_of(name: &str, files: &BTreeMap<String, Vec<u8>>) -> Result<Bundle, ImportError> {
    Bundle::from_files(
        name,
        files.iter().map(|(n, b)| (n.clone(), b.clone())).collect(),
    )
}

fn zip_of(files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in files {
            // As many SIS tools do: the CSV files in a folder of the zip.
            zip.start_file(format!("RO_20260903/{name}"), options)
                .unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }
    out.into_inner()
}

fn sample_uai() -> Uai {
    Uai::parse("0691234S").unwrap()
}

async fn the_sample_bundle_builds_a_school(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let store = &ts.store;
    let uai = sample_uai();
    let bundle = Bundle::read(&sample_dir()).unwrap();
    assert_eq!(bundle.files.len(), 9);

    // A dry run first: the plan, nothing written.
    let dry = import_bundle(
        store,
        &bundle,
        &Options {
            dry_run: true,
            ..options()
        },
    )
    .await
    .unwrap();
    assert!(dry.events > 0);
    assert!(store.tenants().await.unwrap().is_empty());

    let summary = run(store, &bundle).await;
    assert_eq!(summary.format, Format::OneRoster);
    assert_eq!(summary.establishment, uai);
    assert_eq!(counts(&summary, "subjects"), (3, 0, 0), "{summary}");
    assert_eq!(counts(&summary, "divisions"), (2, 0, 0), "{summary}");
    assert_eq!(counts(&summary, "groups"), (1, 0, 0), "{summary}");
    assert_eq!(counts(&summary, "staff"), (5, 0, 0), "{summary}");
    assert_eq!(counts(&summary, "services"), (3, 0, 0), "{summary}");
    assert_eq!(counts(&summary, "students"), (4, 0, 0), "{summary}");
    assert_eq!(counts(&summary, "guardians"), (3, 0, 0), "{summary}");
    assert!(
        summary
            .notes
            .iter()
            .any(|n| n.contains("usr-proctor has role proctor")),
        "{:?}",
        summary.notes
    );

    let school = School::new(store.clone(), uai.clone(), AttendancePolicy::default());
    let (_, establishment) = school.establishment.state(uai.as_str()).await.unwrap();
    let year = &establishment.years[&SchoolYear::starting(2026)];
    assert_eq!(
        (
            year.divisions["5A"].name.as_str(),
            year.divisions["5A"].level.as_str()
        ),
        ("5e A", "5e")
    );
    assert_eq!(year.groups["5ANG1"].divisions, ["5A", "5B"]);
    let subject = |code: &str| carnet_domain::enrolment::SubjectCode::parse(code).unwrap();
    assert!(year.services.contains(&Service {
        teacher: "usr-t1".into(),
        subject: subject("061300"),
        class: carnet_domain::enrolment::ClassRef::Division("5A".into()),
    }));
    assert!(year.services.contains(&Service {
        teacher: "usr-t2".into(),
        subject: subject("030201"),
        class: carnet_domain::enrolment::ClassRef::Group("5ANG1".into()),
    }));
    assert_eq!(
        establishment.staff["usr-dir"].roles,
        [Role::Principal, Role::Secretariat].into()
    );
    assert_eq!(establishment.staff["usr-cpe"].roles, [Role::Cpe].into());
    assert_eq!(establishment.staff["usr-aed"].roles, [Role::Aed].into());
    assert_eq!(
        store
            .vault()
            .open(&uai, &establishment.staff["usr-t2"].name)
            .await
            .unwrap()
            .as_deref(),
        Some("Noël Lefèvre")
    );

    // Hugo's INE is only in userIds; Louis has an apprentice's INE and came on 14/09.
    let (_, hugo) = school.students.state("072345678FG").await.unwrap();
    let identity = hugo.identity.clone().unwrap();
    assert_eq!(
        store
            .vault()
            .open(&uai, &identity.birth_date)
            .await
            .unwrap(),
        Some(date(2014, 3, 21))
    );
    assert_eq!(hugo.placement_on(date(2026, 9, 3)).unwrap().division, "5A");
    assert_eq!(
        store
            .vault()
            .open(&uai, &hugo.guardians["usr-p1"].name)
            .await
            .unwrap()
            .as_deref(),
        Some("Sofia Garcia")
    );
    assert_eq!(hugo.guardians["usr-p1"].relationship, "parent");
    assert_eq!(hugo.guardians["usr-p1"].rights, GuardianRights::FULL);
    let (_, eloise) = school.students.state("071234567EF").await.unwrap();
    assert_eq!(
        store
            .vault()
            .open(&uai, &eloise.identity.clone().unwrap().first_name)
            .await
            .unwrap()
            .as_deref(),
        Some("Éloïse")
    );
    assert_eq!(
        eloise.placement_on(date(2026, 9, 3)).unwrap().groups,
        ["5ANG1"]
    );
    let (_, gaelle) = school.students.state("1234567890K").await.unwrap();
    assert_eq!(gaelle.guardians["usr-p2"].relationship, "guardian");
    let (_, louis) = school.students.state("1234A12345L").await.unwrap();
    assert!(louis.placement_on(date(2026, 9, 3)).is_none());
    assert_eq!(
        louis.placement_on(date(2026, 9, 14)).unwrap().division,
        "5B"
    );

    // Provenance: the bundle, its hash, the CSV file and line of each event.
    let events = store
        .read_stream(&uai, &StreamRef::new("student", "072345678FG"), 0)
        .await
        .unwrap();
    let extra = &events[0].metadata.extra;
    assert_eq!(events[0].metadata.source, Source::Import);
    assert_eq!(extra["import.format"], "oneroster");
    assert_eq!(extra["import.file"], "oneroster");
    assert_eq!(extra["import.sha256"], bundle.sha256);
    assert_eq!(extra["import.element"], "users.csv");
    assert_eq!(extra["import.line"], "8");
    let linked = events
        .iter()
        .find(|e| e.event_type == "GuardianLinked")
        .unwrap();
    assert_eq!(linked.metadata.extra["import.line"], "11");

    // The same bundle again, as a zip, or re-encoded by Excel in Windows-1252: nothing.
    let before = head(store, &uai).await;
    let files = sample_files();
    let again = run(store, &bundle).await;
    assert_eq!((again.events, again.changes.len()), (0, 0), "{again}");
    let zipped = zip_of(&files);
    let from_zip = Bundle::from_zip("RO_20260903.zip", &zipped).unwrap();
    assert_eq!(from_zip.files.len(), 9);
    let again = run(store, &from_zip).await;
    assert_eq!((again.events, again.changes.len()), (0, 0), "{again}");
    let mut windows = files.clone();
    let users = String::from_utf8(files["users.csv"][3..].to_vec()).unwrap();
    let (cp1252, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&users);
    assert!(!unmappable);
    windows.insert("users.csv".into(), cp1252.into_owned());
    let latin = bundle_of("export-excel", &windows).unwrap();
    assert_eq!(latin.encoding(), "mixed");
    let again = run(store, &latin).await;
    assert_eq!((again.events, again.changes.len()), (0, 0), "{again}");
    assert_eq!(head(store, &uai).await, before);

    // A month later the SIS drops Gaëlle's guardian and moves Hugo to 5B.
    let mut changed = files.clone();
    let users = users.replace(
        "usr-p2,,,true,,,Ibrahim,N'Goma,,,,,,usr-s3,",
        "usr-p2,,,true,,,Ibrahim,N'Goma,,,,,,,",
    );
    changed.insert("users.csv".into(), users.into_bytes());
    let enrollments = String::from_utf8(files["enrollments.csv"].clone())
        .unwrap()
        .replace(
            "en-02,,,cls-5a,9b1c6c1e-0d1f-4a8e-9d59-2a1f00000002,usr-s2,student,false,2026-09-01,",
            "en-02,,,cls-5b,9b1c6c1e-0d1f-4a8e-9d59-2a1f00000002,usr-s2,student,false,2026-10-01,",
        )
        .replace(
            "en-07,,,cls-maths-5a,9b1c6c1e-0d1f-4a8e-9d59-2a1f00000002,usr-s2,student,false,2026-09-01,\n",
            "",
        );
    changed.insert("enrollments.csv".into(), enrollments.into_bytes());
    let october = Options {
        today: date(2026, 10, 1),
        ..options()
    };
    let diff = import_bundle(store, &bundle_of("octobre", &changed).unwrap(), &october)
        .await
        .unwrap();
    assert_eq!(counts(&diff, "guardians"), (0, 0, 1), "{diff}");
    assert_eq!(counts(&diff, "students"), (0, 1, 0), "{diff}");
    let school = School::new(store.clone(), uai.clone(), AttendancePolicy::default());
    let (_, gaelle) = school.students.state("1234567890K").await.unwrap();
    assert!(gaelle.guardians.is_empty());
    let (_, hugo) = school.students.state("072345678FG").await.unwrap();
    assert_eq!(hugo.placement_on(date(2026, 10, 1)).unwrap().division, "5B");
    assert_eq!(hugo.placement_on(date(2026, 9, 30)).unwrap().division, "5A");

    // The other entry points refuse a bundle's format for a lone file.
    let lone = SourceFile::from_bytes("users.csv", &files["users.csv"]).unwrap();
    assert!(matches!(
        import(store, Format::OneRoster, &lone, &options()).await,
        Err(ImportError::Invalid(_))
    ));
    assert!(verify_tenant(store, &uai).await.unwrap().is_intact());
}

async fn bad_bundles_list_every_problem(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let store = &ts.store;
    let files = sample_files();
    let text = |name: &str| {
        let bytes = &files[name];
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    let mut bad = files.clone();
    // A missing column: courses.csv without subjectCodes.
    let courses = text("courses.csv")
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect::<String>();
    bad.insert("courses.csv".into(), courses.into_bytes());
    // Unknown references: an enrollment of a class and one of a user nobody defines.
    let enrollments = text("enrollments.csv")
        .replace(
            ",cls-5b,9b1c6c1e-0d1f-4a8e-9d59-2a1f00000002,usr-s3,",
            ",cls-5z,9b1c6c1e-0d1f-4a8e-9d59-2a1f00000002,usr-s3,",
        )
        .replace(",usr-t1,teacher,", ",usr-t9,teacher,");
    bad.insert("enrollments.csv".into(), enrollments.into_bytes());
    // A sourcedId used twice, a student without INE, a birth date in French.
    let users = text("users.csv")
        .replace("usr-s4,,,true,louis.moreau", "usr-s3,,,true,louis.moreau")
        .replace("{INE:072345678FG}", "{ENT:hg42}");
    bad.insert("users.csv".into(), users.into_bytes());
    let demographics = text("demographics.csv").replace("2014-11-02", "02/11/2014");
    bad.insert("demographics.csv".into(), demographics.into_bytes());
    // A truncated file: roles.csv cut in the middle of a line.
    let roles = text("roles.csv");
    let cut = roles.find("rl-proctor,,,usr-proctor").unwrap() + 20;
    bad.insert("roles.csv".into(), roles.as_bytes()[..cut].to_vec());

    let bundle = bundle_of("mauvais", &bad).unwrap();
    let Err(ImportError::Invalid(problems)) = import_bundle(store, &bundle, &options()).await
    else {
        panic!("a bad bundle is refused");
    };
    let found: BTreeSet<(String, Option<u32>, String)> = problems
        .iter()
        .map(|p| {
            let csv = match &p.at {
                carnet_importers::Location::Element { path, .. } => path.clone(),
                _ => String::new(),
            };
            (csv, p.at.line(), p.field.clone())
        })
        .collect();
    let expected: BTreeSet<(String, Option<u32>, String)> = [
        ("courses.csv", Some(1), "subjectCodes"),
        ("enrollments.csv", Some(4), "classSourcedId"),
        ("enrollments.csv", Some(6), "userSourcedId"),
        ("users.csv", Some(10), "sourcedId"),
        ("users.csv", Some(8), "identifier"),
        ("demographics.csv", Some(4), "birthDate"),
        ("roles.csv", Some(14), "line"),
    ]
    .into_iter()
    .map(|(f, l, c)| (f.to_string(), l, c.to_string()))
    .collect();
    assert!(
        expected.is_subset(&found),
        "missing: {:#?}\nall: {problems:#?}",
        expected.difference(&found).collect::<Vec<_>>()
    );
    assert!(problems.iter().all(|p| p.file == "mauvais"));
    let rule = |field: &str| {
        problems
            .iter()
            .find(|p| p.field == field)
            .map(|p| p.to_string())
            .unwrap()
    };
    assert!(rule("classSourcedId").contains("cls-5z is not a sourcedId of classes.csv"));
    assert!(rule("sourcedId").contains("usr-s3 is used twice in users.csv (first at line 9)"));
    assert!(rule("line").contains("cut short"), "{}", rule("line"));
    assert!(rule("birthDate").contains("`02/11/2014` is not a date"));
    assert!(
        rule("subjectCodes")
            .contains("mauvais: line 1 (courses.csv): subjectCodes: the column is missing"),
        "{}",
        rule("subjectCodes")
    );
    assert!(store.tenants().await.unwrap().is_empty(), "nothing written");

    // A course without a BCN code whose classes have teachers; a delta manifest; a file
    // missing from the bundle.
    let mut bad = files.clone();
    bad.insert(
        "courses.csv".into(),
        text("courses.csv")
            .replace("Anglais,030201", "Anglais,ENG-01")
            .replace("Français,020700", "Français,")
            .into_bytes(),
    );
    bad.insert(
        "manifest.csv".into(),
        text("manifest.csv")
            .replace("file.demographics,bulk", "file.demographics,delta")
            .into_bytes(),
    );
    bad.remove("roles.csv");
    let Err(ImportError::Invalid(problems)) =
        import_bundle(store, &bundle_of("mauvais", &bad).unwrap(), &options()).await
    else {
        panic!("a bad bundle is refused");
    };
    let all = problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all.contains("file.demographics: a delta file"), "{all}");
    assert!(
        all.contains("roles.csv: the bundle has no such file"),
        "{all}"
    );
    // roles.csv missing stops before the rows are read: fix it to see the rows' problems.
    bad.insert("roles.csv".into(), files["roles.csv"].clone());
    let Err(ImportError::Invalid(problems)) =
        import_bundle(store, &bundle_of("mauvais", &bad).unwrap(), &options()).await
    else {
        panic!("a bad bundle is refused");
    };
    let all = problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        all.contains(
            "line 4 (courses.csv): subjectCodes: `ENG-01` is not a subject code of the BCN"
        ),
        "{all}"
    );
    assert!(
        all.contains("line 3 (courses.csv): subjectCodes: course crs-francais (Français) has no BCN subject code"),
        "{all}"
    );
    assert!(store.tenants().await.unwrap().is_empty(), "nothing written");

    // Not a zip at all.
    assert!(matches!(
        Bundle::from_zip("x.zip", b"PK\x03\x04 nope"),
        Err(ImportError::Invalid(_))
    ));
}

/// A roster as a reader sees it, names and birth dates opened.
#[derive(Debug, PartialEq)]
struct Snapshot {
    name_of_year: SchoolYear,
    subjects: BTreeMap<String, (String, String)>,
    divisions: BTreeMap<String, (String, String)>,
    groups: BTreeMap<String, (String, Vec<String>, String)>,
    services: BTreeSet<Service>,
    staff: BTreeMap<String, (Option<String>, BTreeSet<Role>)>,
    students: BTreeMap<String, StudentSnapshot>,
}

#[derive(Debug, PartialEq)]
struct StudentSnapshot {
    first_name: Option<String>,
    last_name: Option<String>,
    birth_date: Option<NaiveDate>,
    division: String,
    groups: Vec<String>,
    guardians: BTreeMap<String, (Option<String>, String, GuardianRights)>,
}

async fn snapshot(store: &EventStore, uai: &Uai, on: NaiveDate) -> Snapshot {
    let vault = store.vault();
    let establishment = plan::load::<Establishment>(store, uai, uai.as_str(), |_, _| {})
        .await
        .unwrap()
        .state;
    let year = SchoolYear::starting(2026);
    let y = &establishment.years[&year];
    let mut staff = BTreeMap::new();
    for (id, member) in &establishment.staff {
        if member.left_on.is_none() {
            let name = vault.open(uai, &member.name).await.unwrap();
            staff.insert(id.clone(), (name, member.roles.clone()));
        }
    }
    let mut students = BTreeMap::new();
    for (_, s) in plan::load_all::<Student>(store, uai).await.unwrap() {
        let s = s.state;
        let identity = s.identity.clone().unwrap();
        let placement = s.placement_on(on).unwrap();
        let mut guardians = BTreeMap::new();
        for (id, link) in &s.guardians {
            let name = vault.open(uai, &link.name).await.unwrap();
            guardians.insert(id.clone(), (name, link.relationship.clone(), link.rights));
        }
        students.insert(
            identity.ine.to_string(),
            StudentSnapshot {
                first_name: vault.open(uai, &identity.first_name).await.unwrap(),
                last_name: vault.open(uai, &identity.last_name).await.unwrap(),
                birth_date: vault.open(uai, &identity.birth_date).await.unwrap(),
                division: placement.division,
                groups: placement.groups,
                guardians,
            },
        );
    }
    Snapshot {
        name_of_year: year,
        subjects: establishment
            .subjects
            .iter()
            .map(|(c, s)| (c.to_string(), (s.short.clone(), s.name.clone())))
            .collect(),
        divisions: y
            .divisions
            .values()
            .map(|d| (d.id.clone(), (d.name.clone(), d.level.clone())))
            .collect(),
        groups: y
            .groups
            .values()
            .map(|g| {
                (
                    g.id.clone(),
                    (g.name.clone(), g.divisions.clone(), g.partition.clone()),
                )
            })
            .collect(),
        services: y.services.clone(),
        staff,
        students,
    }
}

fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect()
}

async fn a_school_round_trips_through_oneroster(kind: BackendKind) {
    let original = TestStore::new(kind).await;
    let a = &original.store;
    let uai = Uai::parse("0750655E").unwrap();
    for (format, file) in [
        (Format::Sts, "sts_emp_0750655E_2026.xml"),
        (Format::Siecle, "ElevesSansAdresses.xml"),
    ] {
        let source = SourceFile::read(&Path::new(FIXTURES).join(file)).unwrap();
        import(a, format, &source, &options()).await.unwrap();
    }
    let school = School::new(a.clone(), uai.clone(), AttendancePolicy::default());
    let context = CommandContext {
        actor: Some("secretariat1".into()),
        source: Source::Api,
        ..Default::default()
    };
    let link = |guardian: &str, name: &str, relationship: &str, rights: GuardianRights| {
        StudentCommand::LinkGuardian {
            guardian: guardian.into(),
            name: name.into(),
            relationship: relationship.into(),
            rights,
        }
    };
    let informed = GuardianRights {
        see: true,
        justify: false,
        notified: true,
    };
    for (student, command) in [
        (
            "070123456AB",
            link("resp-claire", "Claire Martin", "mère", GuardianRights::FULL),
        ),
        (
            "070123456AB",
            link("resp-paul", "Paul Martin", "père", informed),
        ),
        (
            "080234567BC",
            link("resp-awa", "Awa N'Guessan", "tutrice", GuardianRights::FULL),
        ),
        (
            "090345678CD",
            link("resp-awa", "Awa N'Guessan", "tutrice", GuardianRights::FULL),
        ),
    ] {
        school
            .students
            .execute(student, command, &context)
            .await
            .unwrap();
    }
    let on = date(2026, 9, 3);
    let exported = tempfile::tempdir().unwrap();
    let options_out = ExportOptions {
        year: None,
        as_of: on,
    };
    let summary = export(a, &uai, &options_out, exported.path())
        .await
        .unwrap();
    assert_eq!(summary.year, SchoolYear::starting(2026));
    assert_eq!(summary.erased, 0);
    let files = read_dir(exported.path());
    assert_eq!(files.len(), 9, "{:?}", files.keys());
    assert!(files["manifest.csv"].contains("oneroster.version,1.2"));
    assert!(files["users.csv"].starts_with(
        "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,resourceSourcedIds,preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns,"
    ));
    assert!(files["demographics.csv"].contains("070123456AB,,,2013-02-14,"));

    // Into an empty store.
    let copy = TestStore::new(kind).await;
    let b = &copy.store;
    let bundle = Bundle::read(exported.path()).unwrap();
    let imported = run(b, &bundle).await;
    assert_eq!(counts(&imported, "students"), (4, 0, 0), "{imported}");
    assert_eq!(counts(&imported, "guardians"), (4, 0, 0), "{imported}");
    assert_eq!(counts(&imported, "staff"), (5, 0, 0), "{imported}");
    assert_eq!(counts(&imported, "services"), (4, 0, 0), "{imported}");
    let from_a = snapshot(a, &uai, on).await;
    let from_b = snapshot(b, &uai, on).await;
    assert_eq!(from_a, from_b);
    assert_eq!(from_b.students.len(), 4);
    assert_eq!(
        from_b.students["070123456AB"].guardians["resp-paul"],
        (
            Some("Paul Martin".to_string()),
            "père".to_string(),
            informed
        )
    );
    assert_eq!(
        from_b.students["090345678CD"].last_name.as_deref(),
        Some("ŒDIPE")
    );

    // The same export again: nothing appended; and B exports the very same bytes.
    let before = head(b, &uai).await;
    let again = run(b, &bundle).await;
    assert_eq!((again.events, again.changes.len()), (0, 0), "{again}");
    assert_eq!(head(b, &uai).await, before);
    let reexported = tempfile::tempdir().unwrap();
    export(b, &uai, &options_out, reexported.path())
        .await
        .unwrap();
    assert_eq!(read_dir(reexported.path()), files);

    // An erased guardian and an erased student are exported as erased (no name, no
    // birth date); the copy unlinks the one and sees the other leave.
    let principal = CommandContext {
        actor: Some("principal".into()),
        role: Some("principal".into()),
        source: Source::System,
        ..CommandContext::default()
    };
    for person in ["resp-paul", "1234567890F"] {
        school
            .erase_person(person, "demande RGPD", &principal)
            .await
            .unwrap();
    }
    let after_erasure = tempfile::tempdir().unwrap();
    let summary = export(a, &uai, &options_out, after_erasure.path())
        .await
        .unwrap();
    assert_eq!(summary.erased, 2);
    let mut erased_files = read_dir(after_erasure.path());
    let users = erased_files.remove("users.csv").unwrap();
    let paul = users.lines().find(|l| l.starts_with("resp-paul,")).unwrap();
    assert!(!paul.contains("Paul") && paul.ends_with(",true"), "{paul}");
    let mael = users
        .lines()
        .find(|l| l.starts_with("1234567890F,"))
        .unwrap();
    assert!(
        mael.contains(",,,,1234567890F,") && mael.ends_with(",true"),
        "{mael}"
    );
    assert!(!erased_files["demographics.csv"].contains("1234567890F"));
    let diff = run(b, &Bundle::read(after_erasure.path()).unwrap()).await;
    assert!(diff
        .notes
        .iter()
        .any(|n| n.contains("resp-paul was erased")));
    assert!(diff
        .notes
        .iter()
        .any(|n| n.contains("1234567890F was erased")));
    assert_eq!(counts(&diff, "guardians"), (0, 0, 1), "{diff}");
    assert_eq!(counts(&diff, "students"), (0, 0, 1), "{diff}");
    assert!(verify_tenant(b, &uai).await.unwrap().is_intact());
}

/// The ENT identifiers of `userIds` are linked to their people (a student, a teacher, a
/// guardian of two children once); the same bundle again links nothing; an identifier
/// given to two people refuses the whole bundle, naming who holds it.
async fn ent_identifiers_of_user_ids_are_linked(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let store = &ts.store;
    let uai = sample_uai();
    let files = sample_files();
    let users = {
        let bytes = &files["users.csv"];
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    let with_ids = users
        .replace(
            "{LDAP:cbernard}",
            "\"{LDAP:cbernard},{ENTPersonJointure:AC-LYON$cb1}\"",
        )
        .replace("usr-p1,,,true,,,", "usr-p1,,,true,,{externalId:f3a9-sg},");
    let mut linked = files.clone();
    linked.insert("users.csv".into(), with_ids.clone().into_bytes());
    let bundle = bundle_of("ent", &linked).unwrap();
    let summary = run(store, &bundle).await;
    assert_eq!(counts(&summary, "identifiers"), (3, 0, 0), "{summary}");
    let school = School::new(store.clone(), uai.clone(), AttendancePolicy::default());
    let (_, establishment) = school.establishment.state(uai.as_str()).await.unwrap();
    let holders: BTreeMap<&str, (&str, PersonKind, &str)> = establishment
        .external_ids
        .iter()
        .map(|(value, link)| {
            (
                value.as_str(),
                (link.person.as_str(), link.kind, link.scheme.as_str()),
            )
        })
        .collect();
    assert_eq!(
        holders,
        BTreeMap::from([
            (
                "AC-LYON$cb1",
                ("usr-t1", PersonKind::Staff, "ENTPersonJointure")
            ),
            ("f3a9-sg", ("usr-p1", PersonKind::Guardian, "externalId")),
            ("eg123", ("071234567EF", PersonKind::Student, "ENT")),
        ])
    );

    // Idempotent: nothing to link the second time.
    let before = head(store, &uai).await;
    let again = run(store, &bundle).await;
    assert_eq!(counts(&again, "identifiers"), (0, 0, 0), "{again}");
    assert_eq!(head(store, &uai).await, before);

    // The secretariat links students' and guardians' identifiers; a member of staff's
    // is the head's, as through the API.
    let secretariat = Options {
        staff_and_timetables: false,
        ..options()
    };
    let mut staff_id = files.clone();
    staff_id.insert(
        "users.csv".into(),
        with_ids
            .replace("{LDAP:nlefevre}", "\"{LDAP:nlefevre},{ENT:nl-2}\"")
            .into_bytes(),
    );
    let bundle = bundle_of("ent-personnel", &staff_id).unwrap();
    let Err(ImportError::NotAllowed(reserved)) = import_bundle(store, &bundle, &secretariat).await
    else {
        panic!("the secretariat links no staff identifier");
    };
    assert_eq!(reserved, ["staff members' ENT identifiers"]);
    assert_eq!(head(store, &uai).await, before);
    let mut student_id = files.clone();
    student_id.insert(
        "users.csv".into(),
        with_ids
            .replace("{INE:072345678FG}", "\"{INE:072345678FG},{ENT:hg-7}\"")
            .into_bytes(),
    );
    let bundle = bundle_of("ent-eleve", &student_id).unwrap();
    let summary = import_bundle(store, &bundle, &secretariat).await.unwrap();
    assert_eq!(counts(&summary, "identifiers"), (1, 0, 0), "{summary}");
    let before = head(store, &uai).await;

    // Noël Lefèvre given Céline Bernard's identifier: refused whole, naming her.
    let mut taken = files.clone();
    taken.insert(
        "users.csv".into(),
        with_ids
            .replace("{LDAP:nlefevre}", "\"{LDAP:nlefevre},{ENT:AC-LYON$cb1}\"")
            .into_bytes(),
    );
    let bundle = bundle_of("ent-doublon", &taken).unwrap();
    let Err(ImportError::Invalid(problems)) = import_bundle(store, &bundle, &options()).await
    else {
        panic!("an identifier given to two people is refused");
    };
    assert!(
        problems.iter().any(|p| p
            .to_string()
            .contains("l'identifiant AC-LYON$cb1 est déjà attribué au membre du personnel usr-t1")),
        "{problems:#?}"
    );
    assert_eq!(head(store, &uai).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_links_ent_identifiers_of_user_ids() {
    ent_identifiers_of_user_ids_are_linked(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_links_ent_identifiers_of_user_ids() {
    ent_identifiers_of_user_ids_are_linked(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_builds_a_school_from_a_oneroster_bundle() {
    the_sample_bundle_builds_a_school(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_builds_a_school_from_a_oneroster_bundle() {
    the_sample_bundle_builds_a_school(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_refuses_bad_oneroster_bundles_whole() {
    bad_bundles_list_every_problem(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_refuses_bad_oneroster_bundles_whole() {
    bad_bundles_list_every_problem(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_round_trips_a_school_through_oneroster() {
    a_school_round_trips_through_oneroster(BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_round_trips_a_school_through_oneroster() {
    a_school_round_trips_through_oneroster(BackendKind::Sqlite).await;
}
