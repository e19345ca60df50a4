//! Every read model over the demo, on both backends: each answers what the domain
//! aggregates answer from the same log.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

use carnet::demo::{self, DemoOptions};
use carnet_domain::attendance::AttendancePolicy;
use carnet_domain::enrolment::{SchoolYear, Student};
use carnet_domain::grades::averages;
use carnet_domain::grades::Gradebook;
use carnet_domain::reservations::Resource;
use carnet_domain::timetable::Timetable;
use carnet_domain::Uai;
use carnet_projections::timetable::Whose;
use carnet_projections::{attendance, enrolment, grades, reservations, timetable, Projector};
use carnet_store::testing::TestStore;
use carnet_store::{BackendKind, School};
use chrono::{Duration, NaiveDate};

async fn read_models(kind: BackendKind) {
    let ts = TestStore::new(kind).await;
    let reports = demo::load(
        &ts.store,
        &DemoOptions {
            students: 100,
            seed: 5,
        },
    )
    .await
    .unwrap();
    let uai = Uai::parse(&reports[0].uai).unwrap();
    for p in carnet_projections::all() {
        Projector::new(ts.store.clone(), uai.clone(), p)
            .catch_up()
            .await
            .unwrap();
    }
    let pool = ts.store.backend().pool();
    let school = School::new(ts.store.clone(), uai.clone(), AttendancePolicy::default());
    let year = SchoolYear::parse("2026-2027").unwrap();
    let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();

    // A student's placement, lessons of a week, and averages of the first term.
    let (_, student): (i64, Student) = school.students.state("eleve00001").await.unwrap();
    let placement = student.placement_on(day(11, 16)).unwrap();
    assert!(
        enrolment::roster_on(&pool, &uai, &year, &placement.division, day(11, 16))
            .await
            .unwrap()
            .contains(&"eleve00001".to_string())
    );
    let (_, tt): (i64, Timetable) = school.timetable.state("2026-2027").await.unwrap();
    let week = timetable::lessons(
        &pool,
        &uai,
        "2026-2027",
        Whose::Student {
            division: &placement.division,
            groups: &placement.groups,
        },
        day(11, 16),
        day(11, 20),
    )
    .await
    .unwrap();
    assert!(
        week.len() >= 20,
        "a collège week has 25 lessons or so: {}",
        week.len()
    );
    assert_eq!(
        week,
        tt.for_student(
            day(11, 16),
            day(11, 20),
            &placement.division,
            &placement.groups
        )
    );
    let teacher = week[0].teachers[0].clone();
    let theirs = timetable::lessons(
        &pool,
        &uai,
        "2026-2027",
        Whose::Teacher(&teacher),
        day(11, 16),
        day(11, 20),
    )
    .await
    .unwrap();
    assert_eq!(theirs, tt.for_teacher(day(11, 16), day(11, 20), &teacher));

    let book_id = School::gradebook_id(&year, &placement.division, "T1");
    let (_, book): (i64, Gradebook) = school.gradebooks.state(&book_id).await.unwrap();
    let mine = grades::student_averages(&pool, &uai, "2026-2027", "T1", "eleve00001")
        .await
        .unwrap();
    for subject in averages::subjects(&book) {
        assert_eq!(
            mine.books[&book_id].get(&subject).copied(),
            averages::subject_average(&book, "eleve00001", &subject),
            "{subject}"
        );
    }
    assert!(mine.overall().is_some());
    let projected = grades::gradebook(&pool, &uai, "2026-2027", &placement.division, "T1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(projected, book);
    let (evaluations, subjects) = grades::class_figures(&projected);
    // Every evaluation with marks has its figures (an assessment of competences only,
    // without marks, has none).
    let marked = book.evaluations.values().filter(|e| !e.marks.is_empty());
    assert_eq!(evaluations.len(), marked.count());
    assert!(subjects
        .values()
        .all(|f| f.min <= f.average && f.average <= f.max));

    // Attendance: the alerts are the ones in the log.
    let alerts = attendance::alerts(&pool, &uai, "2026-2027").await.unwrap();
    let logged = ts
        .store
        .read_log(&uai, 0, 1_000_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event_type == "AlertThresholdReached")
        .count();
    assert_eq!(alerts.len(), logged);

    // Reservations: availability and each person's bookings.
    let (_, cart): (i64, Resource) = school.resources.state("tablettes-1").await.unwrap();
    let from = day(11, 16).and_hms_opt(8, 0, 0).unwrap();
    let to = from + Duration::days(5);
    assert_eq!(
        reservations::availability(&pool, &uai, "tablettes-1", from, to, Duration::hours(1))
            .await
            .unwrap(),
        cart.availability(from, to, Duration::hours(1))
    );
    let booking = cart.bookings.values().next().unwrap();
    let person = reservations::person(&pool, &uai, &booking.by)
        .await
        .unwrap();
    assert!(person.bookings["tablettes-1"].contains(&booking.id));
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_read_models_answer_as_the_domain() {
    read_models(BackendKind::Postgres).await
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_read_models_answer_as_the_domain() {
    read_models(BackendKind::Sqlite).await
}
