//! The projector runtime and the enrolment and attendance read models, on Postgres and
//! SQLite.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use carnet_domain::attendance::{
    AttendanceCommand as A, AttendancePolicy, Status, StudentAttendance,
};
use carnet_domain::enrolment::{
    DivisionSpec, EstablishmentCommand as E, GroupSpec, GuardianRights, Identity, Ine, Period,
    SchoolYear, Student, StudentCommand as S, YearSpec,
};
use carnet_domain::Uai;
use carnet_projections::attendance::{self, AttendanceProjection};
use carnet_projections::enrolment::{self, EnrolmentProjection};
use carnet_projections::{
    query, rebuild, status, Batch, Inline, Projection, ProjectionError, Projector, Step,
};
use carnet_store::testing::TestStore;
use carnet_store::{BackendKind, CommandContext, EventStore, RecordedEvent, School, StoreOptions};
use chrono::{NaiveDate, NaiveTime};
use serde_json::Value;

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(carnet_store::BackendKind::Postgres).await
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(carnet_store::BackendKind::Sqlite).await
                }
            )*
        }
    };
}

both!(
    incremental_projection_equals_a_rebuild_and_the_aggregates,
    two_projectors_never_apply_the_same_event,
    an_event_that_cannot_be_applied_stops_the_projection_and_names_it,
    the_runner_follows_the_log_when_woken_and_reports_its_lag,
    inline_projections_hold_a_command_when_it_is_answered,
    inline_and_asynchronous_projectors_share_the_checkpoint,
);

fn uai() -> Uai {
    Uai::parse("0750655E").unwrap()
}

fn d(m: u32, day: u32) -> NaiveDate {
    let y = if m >= 9 { 2026 } else { 2027 };
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn year() -> SchoolYear {
    SchoolYear::parse("2026-2027").unwrap()
}

async fn school(kind: BackendKind) -> (TestStore, School) {
    let ts = TestStore::new(kind).await;
    ts.store
        .create_tenant(&uai(), "Collège", "Europe/Paris")
        .await
        .unwrap();
    let school = School::new(ts.store.clone(), uai(), AttendancePolicy::default());
    (ts, school)
}

async fn establishment(school: &School) {
    let ctx = CommandContext::default();
    let id = school.establishment_id();
    let commands = vec![
        E::Register {
            uai: uai(),
            name: "Collège".into(),
            time_zone: chrono_tz::Europe::Paris,
            morning_ends: NaiveTime::from_hms_opt(12, 30, 0).unwrap(),
        },
        E::OpenSchoolYear(YearSpec {
            year: year(),
            first_day: d(9, 1),
            last_day: d(7, 3),
            periods: vec![Period {
                id: "T1".into(),
                name: "T1".into(),
                from: d(9, 1),
                to: d(11, 30),
            }],
        }),
        E::CreateDivision {
            year: year(),
            division: DivisionSpec {
                id: "4A".into(),
                name: "4e A".into(),
                level: "4e".into(),
            },
        },
        E::CreateDivision {
            year: year(),
            division: DivisionSpec {
                id: "4B".into(),
                name: "4e B".into(),
                level: "4e".into(),
            },
        },
        E::CreateGroup {
            year: year(),
            group: GroupSpec {
                id: "LAT".into(),
                name: "Latin".into(),
                divisions: vec!["4A".into(), "4B".into()],
                partition: "options".into(),
            },
        },
    ];
    for c in commands {
        school.establishment.execute(&id, c, &ctx).await.unwrap();
    }
}

/// Students, with a division change, group changes, guardians, absences, corrections,
/// justifications and an alert: every kind of event the two read models fold.
async fn life(school: &School, students: std::ops::Range<usize>, projector: Option<&Projector>) {
    let ctx = CommandContext::default();
    for n in students {
        let id = format!("s{n}");
        let mut commands = vec![
            S::Admit {
                student: id.clone(),
                identity: Identity {
                    ine: Ine::parse(&format!("{:09}AB", 100_000_000 + n)).unwrap(),
                    last_name: "Œuvray".into(),
                    first_name: "Zoë".into(),
                    birth_date: NaiveDate::from_ymd_opt(2013, 1, 1).unwrap(),
                },
                year: year(),
                division: "4A".into(),
                groups: vec![],
                on: d(9, 1),
            },
            S::LinkGuardian {
                guardian: format!("g{}", n / 2),
                name: "Parent".into(),
                relationship: "mère".into(),
                rights: GuardianRights::FULL,
            },
        ];
        if n % 3 == 0 {
            commands.push(S::JoinGroup {
                group: "LAT".into(),
                on: d(9, 14),
            });
        }
        if n % 4 == 1 {
            commands.push(S::ChangeDivision {
                division: "4B".into(),
                groups: vec!["LAT".into()],
                on: d(10, 5),
            });
        }
        for c in commands {
            school.students.execute(&id, c, &ctx).await.unwrap();
        }
        let stream = School::attendance_id(&year(), &id);
        for (k, day) in [2u32, 3, 4, 5, 6].into_iter().enumerate() {
            let status = if n % 2 == 0 {
                Status::Absent
            } else {
                Status::Late { minutes: 5 }
            };
            school
                .attendance
                .execute(
                    &stream,
                    A::RecordAttendance {
                        student: id.clone(),
                        lesson: format!("maths@2026-11-0{day}-{k}"),
                        date: d(11, day),
                        start: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
                        end: NaiveTime::from_hms_opt(8, 55, 0).unwrap(),
                        status,
                        by: "prof".into(),
                        notify: vec![format!("g{}", n / 2)],
                    },
                    &ctx,
                )
                .await
                .unwrap();
        }
        if n % 5 == 0 {
            school
                .attendance
                .execute(
                    &stream,
                    A::CorrectAttendance {
                        lesson: "maths@2026-11-02-0".into(),
                        status: Status::Late { minutes: 10 },
                        by: "cpe".into(),
                        reason: "mot du bus".into(),
                        notify: vec![],
                    },
                    &ctx,
                )
                .await
                .unwrap();
        }
        if n % 2 == 0 {
            for c in [
                A::DeclareJustification {
                    student: id.clone(),
                    justification: "j1".into(),
                    from: d(11, 5),
                    to: d(11, 6),
                    reason: "MAL".into(),
                    comment: "grippe".into(),
                    by: format!("g{}", n / 2),
                },
                A::DecideJustification {
                    justification: "j1".into(),
                    accept: n % 4 == 0,
                    by: "cpe".into(),
                    note: String::new(),
                },
            ] {
                school.attendance.execute(&stream, c, &ctx).await.unwrap();
            }
        }
        if let Some(p) = projector {
            p.step().await.unwrap();
        }
    }
}

async fn all_docs(ts: &TestStore, projection: &str) -> Vec<(String, Value)> {
    query::docs_with_prefix(&ts.store.backend().pool(), &uai(), projection, "")
        .await
        .unwrap()
}

async fn incremental_projection_equals_a_rebuild_and_the_aggregates(kind: BackendKind) {
    let (ts, school) = school(kind).await;
    establishment(&school).await;
    let enrolment_p =
        Projector::new(ts.store.clone(), uai(), Arc::new(EnrolmentProjection)).with_batch_size(7);
    let attendance_p =
        Projector::new(ts.store.clone(), uai(), Arc::new(AttendanceProjection)).with_batch_size(3);
    // Project in small batches while the log grows.
    life(&school, 0..12, Some(&enrolment_p)).await;
    enrolment_p.catch_up().await.unwrap();
    attendance_p.catch_up().await.unwrap();
    let incremental = (
        all_docs(&ts, enrolment::NAME).await,
        all_docs(&ts, attendance::NAME).await,
    );
    assert!(incremental.0.len() > 12 && incremental.1.len() > 12);

    let mut seen = Vec::new();
    let report = rebuild(&ts.store, &uai(), Arc::new(EnrolmentProjection), |p, h| {
        seen.push((p, h))
    })
    .await
    .unwrap();
    assert_eq!(report.generation, 2);
    assert!(!seen.is_empty());
    rebuild(&ts.store, &uai(), Arc::new(AttendanceProjection), |_, _| {})
        .await
        .unwrap();
    let rebuilt = (
        all_docs(&ts, enrolment::NAME).await,
        all_docs(&ts, attendance::NAME).await,
    );
    assert!(
        incremental == rebuilt,
        "incremental and rebuilt read models differ"
    );

    // Every document equals the aggregate the domain folds from the same stream.
    let pool = ts.store.backend().pool();
    for n in 0..12 {
        let id = format!("s{n}");
        let (_, aggregate): (i64, Student) = school.students.state(&id).await.unwrap();
        let projected = enrolment::student(&pool, &uai(), &id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(projected, aggregate);
        let (_, record): (i64, StudentAttendance) = school
            .attendance
            .state(&School::attendance_id(&year(), &id))
            .await
            .unwrap();
        let projected = attendance::student_year(&pool, &uai(), "2026-2027", &id)
            .await
            .unwrap();
        assert_eq!(projected, record);
        assert_eq!(
            attendance::month(&projected, 2026, 11),
            record.month_counts(2026, 11).into()
        );
    }
    // Rosters on dates: s1 moved to 4B on 5 October.
    let on = |class: &'static str, date| {
        let pool = pool.clone();
        async move {
            enrolment::roster_on(&pool, &uai(), &year(), class, date)
                .await
                .unwrap()
        }
    };
    assert!(on("4A", d(10, 2)).await.contains(&"s1".to_string()));
    assert!(!on("4A", d(10, 5)).await.contains(&"s1".to_string()));
    assert!(on("4B", d(10, 5)).await.contains(&"s1".to_string()));
    assert!(on("LAT", d(9, 20)).await.contains(&"s0".to_string()));
    assert!(!on("LAT", d(9, 10)).await.contains(&"s0".to_string()));
    let g0 = enrolment::guardian_children(&pool, &uai(), "g0")
        .await
        .unwrap();
    assert_eq!(
        g0.children.keys().cloned().collect::<Vec<_>>(),
        vec!["s0", "s1"]
    );
    let register = attendance::register(&pool, &uai(), "maths@2026-11-02-0")
        .await
        .unwrap();
    assert_eq!(
        register.entries.get("s0"),
        Some(&(Status::Late { minutes: 10 }, vec![Status::Absent]))
    );
    // Students absent five half-days with at most two justified reach the alert.
    let alerts = attendance::alerts(&pool, &uai(), "2026-2027")
        .await
        .unwrap();
    assert!(alerts
        .iter()
        .any(|a| a.student == "s2" && a.month == "2026-11"));
    assert!(
        !alerts.iter().any(|a| a.student == "s1"),
        "lateness is not absence"
    );
}

/// Counts the events it applies in one document: applying one twice shows.
#[derive(Debug)]
struct Counter;

#[async_trait]
impl Projection for Counter {
    fn name(&self) -> &'static str {
        "counter"
    }
    fn wants(&self, _: &str) -> bool {
        true
    }
    async fn apply(&self, event: &RecordedEvent, batch: &mut Batch) -> Result<(), ProjectionError> {
        let mut seen: BTreeSet<i64> = batch.get_or_default("seen").await?;
        if !seen.insert(event.position) {
            return Err(ProjectionError::Apply {
                projection: "counter".into(),
                position: event.position,
                event_type: event.event_type.clone(),
                reason: "applied twice".into(),
            });
        }
        batch.put("seen", &seen)
    }
}

async fn two_projectors_never_apply_the_same_event(kind: BackendKind) {
    let (ts, school) = school(kind).await;
    establishment(&school).await;
    life(&school, 0..6, None).await;
    let other = ts.open_another(Default::default()).await;
    let a = Projector::new(ts.store.clone(), uai(), Arc::new(Counter)).with_batch_size(2);
    let b = Projector::new(other, uai(), Arc::new(Counter)).with_batch_size(2);
    let work = |p: Projector| async move {
        let mut leased = 0;
        loop {
            match p.step().await.unwrap() {
                Step::Applied { .. } => {}
                Step::Leased => {
                    leased += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    if leased > 2000 {
                        return leased;
                    }
                }
                Step::CaughtUp { .. } => return leased,
            }
        }
    };
    let (la, lb) = tokio::join!(work(a), work(b));
    // One of them held the lease throughout; the other was told so.
    assert!(la > 0 || lb > 0);
    let seen: BTreeSet<i64> = query::doc(&ts.store.backend().pool(), &uai(), "counter", "seen")
        .await
        .unwrap()
        .unwrap_or_default();
    let head = ts.store.tenants().await.unwrap()[0].head;
    let status = status(&ts.store, &uai(), "counter").await.unwrap().unwrap();
    // The lease-holder caught up; every event was applied exactly once.
    if status.position == head {
        assert_eq!(seen, (1..=head).collect());
    }
    assert_eq!(seen.len() as i64, status.position);
}

#[derive(Debug)]
struct RefusesCorrections;

#[async_trait]
impl Projection for RefusesCorrections {
    fn name(&self) -> &'static str {
        "picky"
    }
    fn wants(&self, stream_type: &str) -> bool {
        stream_type == "attendance"
    }
    async fn apply(&self, event: &RecordedEvent, batch: &mut Batch) -> Result<(), ProjectionError> {
        if event.event_type == "AttendanceCorrected" {
            return Err(ProjectionError::Apply {
                projection: "picky".into(),
                position: event.position,
                event_type: event.event_type.clone(),
                reason: "corrections are not understood".into(),
            });
        }
        batch.put(&format!("p/{}", event.position), &event.position)
    }
}

async fn an_event_that_cannot_be_applied_stops_the_projection_and_names_it(kind: BackendKind) {
    let (ts, school) = school(kind).await;
    establishment(&school).await;
    life(&school, 0..1, None).await;
    let p =
        Projector::new(ts.store.clone(), uai(), Arc::new(RefusesCorrections)).with_batch_size(100);
    let err = p.catch_up().await.unwrap_err();
    let ProjectionError::Apply {
        position,
        event_type,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(event_type, "AttendanceCorrected");
    assert!(
        err.to_string()
            .contains(&format!("position {position} (AttendanceCorrected)")),
        "{err}"
    );
    // Nothing of the failed batch was written, and it stays stopped.
    let st = status(&ts.store, &uai(), "picky").await.unwrap().unwrap();
    assert_eq!(st.position, 0);
    assert!(st
        .failure
        .as_deref()
        .unwrap()
        .contains("corrections are not understood"));
    let again = p.step().await.unwrap_err();
    assert!(
        matches!(again, ProjectionError::Stopped { .. }),
        "{again:?}"
    );
}

async fn the_runner_follows_the_log_when_woken_and_reports_its_lag(kind: BackendKind) {
    let (ts, school) = school(kind).await;
    establishment(&school).await;
    let before = status(&ts.store, &uai(), enrolment::NAME).await.unwrap();
    assert!(before.is_none(), "no checkpoint before the first run");
    let p = Projector::new(ts.store.clone(), uai(), Arc::new(EnrolmentProjection));
    p.catch_up().await.unwrap();
    life(&school, 0..2, None).await;
    let lagging = status(&ts.store, &uai(), enrolment::NAME)
        .await
        .unwrap()
        .unwrap();
    assert!(
        lagging.lag_events > 0 && lagging.lag_seconds >= 0.0,
        "{lagging:?}"
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(async move {
        p.run(async {
            let _ = stopped.await;
        })
        .await
    });
    life(&school, 2..5, None).await;
    let head = ts.store.tenants().await.unwrap()[0].head;
    let mut caught_up = false;
    for _ in 0..200 {
        let st = status(&ts.store, &uai(), enrolment::NAME)
            .await
            .unwrap()
            .unwrap();
        if st.position == head {
            assert_eq!((st.lag_events, st.lag_seconds), (0, 0.0));
            caught_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(caught_up, "the runner did not follow the log");
    stop.send(()).unwrap();
    runner.await.unwrap().unwrap();
}

/// A second instance on the same database whose appends apply `projections` inline.
async fn inline_instance(ts: &TestStore, projections: Vec<Arc<dyn Projection>>) -> EventStore {
    ts.open_another(StoreOptions {
        before_commit: Some(Arc::new(Inline::new(projections))),
        ..Default::default()
    })
    .await
}

async fn inline_projections_hold_a_command_when_it_is_answered(kind: BackendKind) {
    let (ts, plain) = school(kind).await;
    // Written without inline projections: they start behind and catch up in the first
    // append transaction that runs them.
    establishment(&plain).await;
    let store = inline_instance(
        &ts,
        vec![
            Arc::new(EnrolmentProjection),
            Arc::new(AttendanceProjection),
        ],
    )
    .await;
    let school = School::new(store, uai(), AttendancePolicy::default());
    life(&school, 0..4, None).await;
    let head = ts.store.tenants().await.unwrap()[0].head;
    for name in [enrolment::NAME, attendance::NAME] {
        let st = status(&ts.store, &uai(), name).await.unwrap().unwrap();
        assert_eq!((st.position, st.lag_events), (head, 0), "{name}");
    }
    // The roll call is in the register as soon as the command is answered, with no
    // projector running anywhere.
    let pool = ts.store.backend().pool();
    let docs_positions = || async {
        carnet_projections::checkpoint::docs_positions(&pool, uai().as_str())
            .await
            .unwrap()
            .into_iter()
            .map(|(name, _, position)| (name, position))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let before = docs_positions().await;
    school
        .attendance
        .execute(
            &School::attendance_id(&year(), "s3"),
            A::RecordAttendance {
                student: "s3".into(),
                lesson: "histoire@2026-11-09".into(),
                date: d(11, 9),
                start: NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(10, 55, 0).unwrap(),
                status: Status::Absent,
                by: "prof".into(),
                notify: vec![],
            },
            &CommandContext::default(),
        )
        .await
        .unwrap();
    let register = attendance::register(&pool, &uai(), "histoire@2026-11-09")
        .await
        .unwrap();
    assert_eq!(
        register.entries.get("s3").map(|(status, _)| status),
        Some(&Status::Absent)
    );
    // Only the projection whose documents the roll call changed says so: the API keeps
    // its parsed enrolment documents, and reads the attendance ones again.
    let after = docs_positions().await;
    let head = ts.store.tenants().await.unwrap()[0].head;
    assert_eq!(after[attendance::NAME], head);
    assert!(before[attendance::NAME] < head);
    assert_eq!(after[enrolment::NAME], before[enrolment::NAME]);
    let enrolment_at = status(&ts.store, &uai(), enrolment::NAME)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        enrolment_at.position, head,
        "the checkpoint itself moved on"
    );
    // And what was kept inline is exactly the fold a rebuild makes.
    let inline = (
        all_docs(&ts, enrolment::NAME).await,
        all_docs(&ts, attendance::NAME).await,
    );
    rebuild(&ts.store, &uai(), Arc::new(EnrolmentProjection), |_, _| {})
        .await
        .unwrap();
    rebuild(&ts.store, &uai(), Arc::new(AttendanceProjection), |_, _| {})
        .await
        .unwrap();
    let rebuilt = (
        all_docs(&ts, enrolment::NAME).await,
        all_docs(&ts, attendance::NAME).await,
    );
    assert!(inline == rebuilt, "inline and rebuilt read models differ");
}

async fn inline_and_asynchronous_projectors_share_the_checkpoint(kind: BackendKind) {
    let (ts, plain) = school(kind).await;
    establishment(&plain).await;
    // The counter refuses an event applied twice: the inline hook and a projector
    // following the same projection from another instance must take turns.
    let store = inline_instance(&ts, vec![Arc::new(Counter)]).await;
    let school = School::new(store, uai(), AttendancePolicy::default());
    let projector = Projector::new(ts.store.clone(), uai(), Arc::new(Counter)).with_batch_size(3);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(async move {
        projector
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    // Both write concurrently: plain appends only the projector applies, inline ones.
    tokio::join!(life(&school, 0..6, None), life(&plain, 6..10, None));
    life(&school, 10..11, None).await;
    stop.send(()).unwrap();
    runner.await.unwrap().unwrap();
    let head = ts.store.tenants().await.unwrap()[0].head;
    let st = status(&ts.store, &uai(), "counter").await.unwrap().unwrap();
    assert_eq!(st.failure, None);
    assert_eq!(st.position, head);
    let seen: BTreeSet<i64> = query::doc(&ts.store.backend().pool(), &uai(), "counter", "seen")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, (1..=head).collect());
}
