//! Rooms and equipment: carts of tablets, the computer room, a mobile projector and a
//! robotics kit that the deputy head approves. Teachers book them for their lessons,
//! once or every week; a booking that finds the resource full is refused, as it would be
//! for a real teacher, and counted.

use carnet_domain::reservations::{ReservationCommand as R, ResourceKind};
use chrono::{Duration, NaiveDate, NaiveTime};
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::calendar::calendar;
use super::structure::Structure;
use super::timetable::HOURS;
use super::{DemoError, Runner};

pub struct Bookings {
    pub resources: usize,
    pub made: usize,
    pub refused: usize,
}

struct Kit {
    id: String,
    name: String,
    kind: ResourceKind,
    approval: bool,
}

fn kits(plan: &Structure) -> Vec<Kit> {
    let carts = (plan.divisions.len() / 12).max(1);
    let mut kits: Vec<Kit> = (1..=carts)
        .map(|n| Kit {
            id: format!("tablettes-{n}"),
            name: format!("Chariot de tablettes n°{n}"),
            kind: ResourceKind::Pool { quantity: 30 },
            approval: false,
        })
        .collect();
    kits.push(Kit {
        id: "salle-info".into(),
        name: "Salle informatique".into(),
        kind: ResourceKind::Room { seats: Some(28) },
        approval: false,
    });
    kits.push(Kit {
        id: "projecteur".into(),
        name: "Vidéoprojecteur mobile".into(),
        kind: ResourceKind::Item,
        approval: true,
    });
    kits.push(Kit {
        id: "robots".into(),
        name: "Malle de robots".into(),
        kind: ResourceKind::Pool { quantity: 12 },
        approval: true,
    });
    kits
}

pub async fn make(
    runner: &Runner<'_>,
    plan: &Structure,
    rng: &mut ChaCha8Rng,
) -> Result<Bookings, DemoError> {
    let bus = &runner.school().resources;
    let manager = "adjoint".to_string();
    let teachers: Vec<&str> = plan
        .staff
        .iter()
        .filter(|s| s.subject.is_some())
        .map(|s| s.id.as_str())
        .collect();
    let kits = kits(plan);
    let calendar = calendar()?;
    let term_days = calendar.school_days(
        NaiveDate::from_ymd_opt(2026, 9, 7).unwrap_or_default(),
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap_or_default(),
    );
    let (mut made, mut refused) = (0, 0);
    for kit in &kits {
        runner
            .run(
                bus,
                &kit.id,
                R::RegisterResource {
                    id: kit.id.clone(),
                    name: kit.name.clone(),
                    kind: kit.kind,
                    requires_approval: kit.approval,
                    managers: if kit.approval {
                        vec![manager.clone()]
                    } else {
                        vec![]
                    },
                },
                &format!("resource/{}", kit.id),
            )
            .await?;
        let whole = !matches!(kit.kind, ResourceKind::Pool { .. });
        // One weekly booking per resource: a teacher's regular slot all year.
        let Some(first) = term_days.first().copied() else {
            continue;
        };
        let teacher = teachers.choose(rng).copied().unwrap_or("demo");
        let (h, m) = HOURS[rng.random_range(0..HOURS.len())];
        let start = first.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default());
        let weekly = R::BookWeekly {
            booking: format!("{}-hebdo", kit.id),
            by: teacher.to_string(),
            first_start: start,
            first_end: start + Duration::minutes(55),
            until: calendar.last_day,
            quantity: if whole {
                1
            } else {
                12.min(quantity_of(&kit.kind))
            },
            purpose: "Atelier hebdomadaire".into(),
            calendar: calendar.clone(),
        };
        tally(
            runner
                .try_run(bus, &kit.id, weekly, &format!("weekly/{}", kit.id))
                .await?,
            &mut made,
            &mut refused,
        );
        // Then single bookings over the term, some of which find the resource full.
        for (n, day) in term_days.iter().copied().enumerate() {
            let (h, m) = HOURS[rng.random_range(0..HOURS.len())];
            let start = day.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default());
            let quantity = if whole {
                1
            } else {
                rng.random_range(8..=quantity_of(&kit.kind).max(8))
            };
            let id = format!("{}-{n}", kit.id);
            let by = teachers.choose(rng).copied().unwrap_or("demo").to_string();
            let book = R::Book {
                booking: id.clone(),
                by,
                start,
                end: start + Duration::minutes(55 * rng.random_range(1..=2)),
                quantity,
                purpose: "Séance en classe".into(),
            };
            let accepted = runner
                .try_run(bus, &kit.id, book, &format!("book/{id}"))
                .await?;
            tally(accepted, &mut made, &mut refused);
            if accepted && kit.approval {
                let decision = if rng.random_bool(0.85) {
                    R::ApproveBooking {
                        booking: id.clone(),
                        by: manager.clone(),
                    }
                } else {
                    R::RefuseBooking {
                        booking: id.clone(),
                        by: manager.clone(),
                        reason: "Matériel réservé pour les épreuves du brevet blanc".into(),
                    }
                };
                runner
                    .run(bus, &kit.id, decision, &format!("decide/{id}"))
                    .await?;
            }
        }
    }
    Ok(Bookings {
        resources: kits.len(),
        made,
        refused,
    })
}

fn quantity_of(kind: &ResourceKind) -> u32 {
    match kind {
        ResourceKind::Pool { quantity } => *quantity,
        _ => 1,
    }
}

fn tally(accepted: bool, made: &mut usize, refused: &mut usize) {
    if accepted {
        *made += 1;
    } else {
        *refused += 1;
    }
}
