//! Domain aggregates through the real store, on Postgres and SQLite.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use carnet_domain::grades::{
    EvaluationSpec, Gradebook, GradebookCommand as C, GradebookError, Mark, NotHandedIn,
};
use carnet_domain::Uai;
use carnet_store::testing::TestStore;
use carnet_store::{
    AggregateCache, AggregateStore, BackendKind, CommandBus, CommandContext, CommandError,
    StoreOptions,
};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

fn uai() -> Uai {
    Uai::parse("0750655E").unwrap()
}

fn commands() -> Vec<C> {
    let mut commands = vec![C::CreateEvaluation(EvaluationSpec {
        evaluation: "e1".into(),
        class: "4A".into(),
        period: "T1".into(),
        subject: "MATHS".into(),
        teacher: "m.martin".into(),
        title: "Théorème de Pythagore".into(),
        date: NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
        scale: Decimal::from(20),
        coefficient: Decimal::new(15, 1),
        bonus: false,
        not_handed_in: NotHandedIn::CountsAsZero,
        competences: Vec::new(),
    })];
    for (student, mark) in [
        ("lea", Mark::Score(Decimal::new(145, 1))),
        ("tom", Mark::Absent),
        ("zoé", Mark::NotHandedIn),
    ] {
        commands.push(C::EnterMark {
            evaluation: "e1".into(),
            student: student.into(),
            mark,
            by: "m.martin".into(),
        });
    }
    commands.push(C::CorrectMark {
        evaluation: "e1".into(),
        student: "lea".into(),
        mark: Mark::Score(Decimal::new(155, 1)),
        by: "m.martin".into(),
        reason: "barème mal appliqué".into(),
    });
    commands.push(C::ClosePeriod {
        by: "principal".into(),
    });
    commands
}

async fn events_of(kind: BackendKind) -> Vec<(String, i32, serde_json::Value)> {
    let ts = TestStore::new(kind).await;
    ts.store
        .create_tenant(&uai(), "Collège", "Europe/Paris")
        .await
        .unwrap();
    let bus = CommandBus::new(
        AggregateStore::<Gradebook>::new(ts.store.clone(), uai(), AggregateCache::new(10)),
        (),
    );
    for command in commands() {
        let context = CommandContext {
            command_id: Some(Uuid::new_v4()),
            ..Default::default()
        };
        bus.execute("4A-T1", command, &context).await.unwrap();
    }
    let mut events = Vec::new();
    for e in ts.store.read_log(&uai(), 0, 100).await.unwrap() {
        // Personal values are sealed with random nonces: compared opened.
        let mut payload = e.payload;
        ts.store.vault().reveal(&uai(), &mut payload).await.unwrap();
        events.push((e.event_type, e.event_version, payload));
    }
    events
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_commands_give_the_same_events_on_postgres_and_sqlite() {
    let (pg, lite) = tokio::join!(
        events_of(BackendKind::Postgres),
        events_of(BackendKind::Sqlite)
    );
    assert_eq!(pg.len(), 6);
    assert_eq!(pg, lite);
    assert_eq!(pg[4].0, "MarkCorrected");
    assert_eq!(pg[4].2["MarkCorrected"]["mark"]["Score"], "15.5");
}

/// A teacher's late mark racing the class council's close on another server instance:
/// the store's optimistic concurrency decides, and the mark never lands after the close.
async fn closing_races_a_late_mark(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    ts.store
        .create_tenant(&uai(), "Collège", "Europe/Paris")
        .await
        .unwrap();
    let teacher = CommandBus::new(
        AggregateStore::<Gradebook>::new(ts.store.clone(), uai(), AggregateCache::new(10)),
        (),
    );
    let other = ts.open_another(StoreOptions::default()).await;
    let council = CommandBus::new(
        AggregateStore::<Gradebook>::new(other, uai(), AggregateCache::new(10)),
        (),
    );
    let ctx = CommandContext::default();
    teacher
        .execute("4A-T1", commands().remove(0), &ctx)
        .await
        .unwrap();
    // The teacher's instance holds the gradebook in its cache; the council closes elsewhere.
    council
        .execute(
            "4A-T1",
            C::ClosePeriod {
                by: "principal".into(),
            },
            &ctx,
        )
        .await
        .unwrap();
    let late = || C::EnterMark {
        evaluation: "e1".into(),
        student: "lea".into(),
        mark: Mark::Score(Decimal::from(12)),
        by: "m.martin".into(),
    };
    // The teacher's append conflicts (its cached state is stale); the bus decides the
    // command again on the current state, and the rule refuses it in words the teacher
    // understands.
    match teacher.execute("4A-T1", late(), &ctx).await.unwrap_err() {
        CommandError::Rejected(GradebookError::PeriodClosed { class, period }) => {
            assert_eq!((class.as_str(), period.as_str()), ("4A", "T1"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ts.store.read_log(&uai(), 0, 100).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_closing_races_a_late_mark() {
    closing_races_a_late_mark(BackendKind::Postgres).await
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_closing_races_a_late_mark() {
    closing_races_a_late_mark(BackendKind::Sqlite).await
}

/// Two teachers book the last tablets of a cart at the same instant, each through its own
/// server instance: the store's optimistic concurrency lets one append win, the other
/// command is decided again on the new state and refused, naming the booking that won.
async fn last_tablets_race(kind: BackendKind) {
    use carnet_domain::reservations::{
        ReservationCommand as R, ReservationError, Resource, ResourceKind,
    };
    let ts = TestStore::new(kind).await;
    ts.store
        .create_tenant(&uai(), "Collège", "Europe/Paris")
        .await
        .unwrap();
    let bus = |store| {
        CommandBus::new(
            AggregateStore::<Resource>::new(store, uai(), AggregateCache::new(10)),
            (),
        )
    };
    let here = bus(ts.store.clone());
    let there = bus(ts.open_another(StoreOptions::default()).await);
    let ctx = CommandContext::default();
    here.execute(
        "tablettes",
        R::RegisterResource {
            id: "tablettes".into(),
            name: "Chariot de tablettes".into(),
            kind: ResourceKind::Pool { quantity: 30 },
            requires_approval: false,
            managers: vec![],
        },
        &ctx,
    )
    .await
    .unwrap();
    let at = |h| {
        NaiveDate::from_ymd_opt(2026, 11, 10)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    };
    here.execute(
        "tablettes",
        R::Book {
            booking: "b1".into(),
            by: "m.martin".into(),
            start: at(8),
            end: at(12),
            quantity: 20,
            purpose: "Évaluation en ligne".into(),
        },
        &ctx,
    )
    .await
    .unwrap();
    let book = |id: &str, by: &str| R::Book {
        booking: id.into(),
        by: by.into(),
        start: at(10),
        end: at(11),
        quantity: 10,
        purpose: "Recherche documentaire".into(),
    };
    let (a, b) = tokio::join!(
        here.execute("tablettes", book("b2", "p.durand"), &ctx),
        there.execute("tablettes", book("b3", "l.petit"), &ctx),
    );
    let (won, lost) = match (a, b) {
        (Ok(_), Err(e)) => ("b2", e),
        (Err(e), Ok(_)) => ("b3", e),
        other => panic!("exactly one booking must win: {other:?}"),
    };
    match lost {
        CommandError::Rejected(e @ ReservationError::Unavailable(_)) => {
            let message = e.to_string();
            assert!(message.contains(&format!("réservation {won}")), "{message}");
            assert_eq!(carnet_domain::refusal::Refusal::rule(&e), "RESOURCE_FULL");
        }
        other => panic!("{other:?}"),
    }
    let bookings = ts
        .store
        .read_log(&uai(), 0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "Booked")
        .count();
    assert_eq!(bookings, 2, "the first booking and the winner only");
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_last_tablets_race() {
    last_tablets_race(BackendKind::Postgres).await
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_last_tablets_race() {
    last_tablets_race(BackendKind::Sqlite).await
}
