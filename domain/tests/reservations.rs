//! The rules of reservations, given / when / then.

#[path = "support/english.rs"]
mod english;
use carnet_domain::calendar::{Closure, SchoolCalendar};
use carnet_domain::reservations::{
    BookingStatus, ReservationCommand as C, ReservationError as E, ReservationEvent as V, Resource,
    ResourceKind,
};
use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};
use english::ThenRefused;
use proptest::prelude::*;

fn test() -> TestFramework<Resource> {
    TestFramework::with(())
}

#[allow(clippy::unwrap_used)]
fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A time in November 2026 (Tue 10 Nov 2026 is a Tuesday).
#[allow(clippy::unwrap_used)]
fn nov(d: u32, h: u32, m: u32) -> NaiveDateTime {
    date(2026, 11, d).and_hms_opt(h, m, 0).unwrap()
}

#[allow(clippy::unwrap_used)]
fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

/// 2026-2027, with the Toussaint holidays and the 11 November.
#[allow(clippy::unwrap_used)]
fn calendar() -> SchoolCalendar {
    let mut c = SchoolCalendar::new(date(2026, 9, 1), date(2027, 7, 3)).unwrap();
    c.closures.push(Closure {
        name: "Vacances de la Toussaint".into(),
        from: date(2026, 10, 17),
        to: date(2026, 11, 1),
    });
    c.closures.push(Closure {
        name: "Armistice".into(),
        from: date(2026, 11, 11),
        to: date(2026, 11, 11),
    });
    c
}

fn registered(name: &str, kind: ResourceKind, requires_approval: bool) -> V {
    V::ResourceRegistered {
        id: "r1".into(),
        name: name.into(),
        kind,
        requires_approval,
        managers: vec!["gest".into(), "cpe".into()],
    }
}

fn room() -> V {
    registered("Salle 204", ResourceKind::Room { seats: Some(30) }, false)
}

fn cart(quantity: u32) -> V {
    registered(
        "Chariot de tablettes",
        ResourceKind::Pool { quantity },
        false,
    )
}

fn booked(id: &str, by: &str, start: NaiveDateTime, end: NaiveDateTime, quantity: u32) -> V {
    V::Booked {
        booking: id.into(),
        by: by.into(),
        start,
        end,
        quantity,
        purpose: "".into(),
        awaiting_approval: false,
    }
}

fn book(id: &str, by: &str, start: NaiveDateTime, end: NaiveDateTime, quantity: u32) -> C {
    C::Book {
        booking: id.into(),
        by: by.into(),
        start,
        end,
        quantity,
        purpose: "".into(),
    }
}

fn weekly(id: &str, start: NaiveDateTime, end: NaiveDateTime, until: NaiveDate, q: u32) -> C {
    C::BookWeekly {
        booking: id.into(),
        by: "m.martin".into(),
        first_start: start,
        first_end: end,
        until,
        quantity: q,
        purpose: "".into(),
        calendar: calendar(),
    }
}

fn state(events: &[V]) -> Resource {
    let mut s = Resource::default();
    for e in events {
        s.apply(e.clone());
    }
    s
}

#[test]
fn a_resource_is_registered_once_with_a_sensible_kind() {
    let register = |name: &str, kind, requires_approval, managers: Vec<&str>| C::RegisterResource {
        id: "r1".into(),
        name: name.into(),
        kind,
        requires_approval,
        managers: managers.into_iter().map(String::from).collect(),
    };
    test()
        .given_no_previous_events()
        .when(register(
            "Chariot de tablettes",
            ResourceKind::Pool { quantity: 30 },
            false,
            vec!["gest", "cpe"],
        ))
        .then_expect_events(vec![cart(30)]);
    let refuse = |command, message: &str| {
        test()
            .given_no_previous_events()
            .when(command)
            .then_expect_english_error(message)
    };
    refuse(
        register("Chariot", ResourceKind::Pool { quantity: 0 }, false, vec![]),
        "a pool holds at least one item",
    );
    refuse(
        register(
            "Salle 1",
            ResourceKind::Room { seats: Some(0) },
            false,
            vec![],
        ),
        "a room has at least one seat; leave the number of seats out if it is not known",
    );
    refuse(
        register(" ", ResourceKind::Item, false, vec![]),
        "the resource's name must not be empty",
    );
    refuse(
        register("Salle polyvalente", ResourceKind::Item, true, vec![]),
        "bookings that need approval need at least one manager to approve them",
    );
    test()
        .given(vec![room()])
        .when(register("Salle 204", ResourceKind::Item, false, vec![]))
        .then_expect_english_error("this resource is already registered as \"Salle 204\"");
    test()
        .given_no_previous_events()
        .when(book("b1", "m.martin", nov(10, 10, 0), nov(10, 11, 0), 1))
        .then_expect_error(E::NotRegistered);
}

#[test]
fn a_room_is_booked_by_one_person_at_a_time() {
    test()
        .given(vec![room()])
        .when(book("b1", "m.martin", nov(10, 10, 0), nov(10, 11, 0), 1))
        .then_expect_events(vec![booked(
            "b1",
            "m.martin",
            nov(10, 10, 0),
            nov(10, 11, 0),
            1,
        )]);
    let given = || {
        test().given(vec![
            room(),
            booked("b1", "m.martin", nov(10, 10, 0), nov(10, 11, 0), 1),
        ])
    };
    // The next lesson may take the room at the very minute the previous one frees it.
    given()
        .when(book("b2", "a.durand", nov(10, 11, 0), nov(10, 12, 0), 1))
        .then_expect_events(vec![booked(
            "b2",
            "a.durand",
            nov(10, 11, 0),
            nov(10, 12, 0),
            1,
        )]);
    given()
        .when(book("b2", "a.durand", nov(10, 10, 30), nov(10, 12, 0), 1))
        .then_expect_english_error(
            "\"Salle 204\" is already booked on Tue 10 Nov 2026 10:30–12:00: \
             booking b1 by m.martin (Tue 10 Nov 2026 10:00–11:00)",
        );
    given()
        .when(book("b2", "a.durand", nov(12, 8, 0), nov(12, 9, 0), 2))
        .then_expect_english_error("\"Salle 204\" is booked as a whole: the quantity is 1, not 2");
    given()
        .when(book("b2", "a.durand", nov(12, 9, 0), nov(12, 9, 0), 1))
        .then_expect_english_error(
            "a booking must end after it starts (2026-11-12 09:00:00 to 2026-11-12 09:00:00)",
        );
    given()
        .when(book("b1", "a.durand", nov(12, 8, 0), nov(12, 9, 0), 1))
        .then_expect_english_error("there is already a booking b1 of this resource");
    given()
        .when(book("b2", "", nov(12, 8, 0), nov(12, 9, 0), 1))
        .then_expect_english_error("who books must not be empty");
    // A booking over several days (a trip with the camera) is checked as a whole.
    test()
        .given(vec![
            registered("Caméra", ResourceKind::Item, false),
            booked("b1", "m.martin", nov(12, 14, 0), nov(12, 15, 0), 1),
        ])
        .when(book("b2", "a.durand", nov(10, 8, 0), nov(13, 18, 0), 1))
        .then_expect_english_error(
            "\"Caméra\" is already booked on Tue 10 Nov 2026 08:00 – Fri 13 Nov 2026 18:00: \
             booking b1 by m.martin (Thu 12 Nov 2026 14:00–15:00)",
        );
}

#[test]
fn a_pool_is_shared_until_its_last_item_and_the_refusal_names_who_holds_it() {
    let given = || {
        test().given(vec![
            cart(30),
            booked("b17", "m.martin", nov(10, 9, 0), nov(10, 12, 0), 26),
        ])
    };
    given()
        .when(book("b18", "a.durand", nov(10, 10, 0), nov(10, 11, 0), 4))
        .then_expect_events(vec![booked(
            "b18",
            "a.durand",
            nov(10, 10, 0),
            nov(10, 11, 0),
            4,
        )]);
    given()
        .when(book("b18", "a.durand", nov(10, 10, 0), nov(10, 11, 0), 5))
        .then_expect_english_error(
            "only 4 of the 30 in \"Chariot de tablettes\" are free on Tue 10 Nov 2026 \
             10:00–11:00, 5 asked: booking b17 by m.martin (Tue 10 Nov 2026 09:00–12:00) holds 26",
        );
    test()
        .given(vec![
            cart(30),
            booked("b17", "m.martin", nov(10, 9, 0), nov(10, 12, 0), 26),
            booked("b18", "a.durand", nov(10, 11, 0), nov(10, 13, 0), 4),
        ])
        .when(book("b19", "s.leroy", nov(10, 8, 0), nov(10, 14, 0), 1))
        .then_expect_english_error(
            "none of the 30 in \"Chariot de tablettes\" is free on Tue 10 Nov 2026 08:00–14:00: \
             booking b17 by m.martin (Tue 10 Nov 2026 09:00–12:00) holds 26, \
             booking b18 by a.durand (Tue 10 Nov 2026 11:00–13:00) holds 4",
        );
    given()
        .when(book("b18", "a.durand", nov(10, 10, 0), nov(10, 11, 0), 31))
        .then_expect_english_error(
            "a booking of \"Chariot de tablettes\" takes between 1 and 30, not 31",
        );
    given()
        .when(book("b18", "a.durand", nov(10, 10, 0), nov(10, 11, 0), 0))
        .then_expect_english_error(
            "a booking of \"Chariot de tablettes\" takes between 1 and 30, not 0",
        );
}

#[test]
fn the_count_is_exact_not_pairwise() {
    // Three bookings of 10 overlap two by two but are never held all at once: at most
    // 20 of 25 are out, so 5 more fit over the whole morning. Adding up every booking
    // that overlaps the morning would wrongly count 30.
    let three = vec![
        cart(25),
        booked("b1", "p1", nov(10, 9, 0), nov(10, 10, 0), 10),
        booked("b2", "p2", nov(10, 9, 30), nov(10, 11, 0), 10),
        booked("b3", "p3", nov(10, 10, 0), nov(10, 11, 30), 10),
    ];
    test()
        .given(three.clone())
        .when(book("b4", "p4", nov(10, 8, 30), nov(10, 11, 30), 5))
        .then_expect_events(vec![booked("b4", "p4", nov(10, 8, 30), nov(10, 11, 30), 5)]);
    // Six do not fit, and the refusal names the two bookings held at that instant only.
    test()
        .given(three.clone())
        .when(book("b4", "p4", nov(10, 8, 30), nov(10, 11, 30), 6))
        .then_expect_english_error(
            "only 5 of the 25 in \"Chariot de tablettes\" are free on Tue 10 Nov 2026 \
             08:30–11:30, 6 asked: booking b1 by p1 (Tue 10 Nov 2026 09:00–10:00) holds 10, \
             booking b2 by p2 (Tue 10 Nov 2026 09:30–11:00) holds 10",
        );
    let s = state(&three);
    assert_eq!(s.free_quantity(nov(10, 8, 30), nov(10, 11, 30)), 5);
    assert_eq!(s.free_quantity(nov(10, 11, 0), nov(10, 12, 0)), 15);
    assert_eq!(s.free_quantity(nov(10, 11, 30), nov(10, 12, 0)), 25);
}

fn approval_room() -> V {
    registered(
        "Salle polyvalente",
        ResourceKind::Room { seats: None },
        true,
    )
}

fn pending(id: &str, by: &str, start: NaiveDateTime, end: NaiveDateTime) -> V {
    V::Booked {
        booking: id.into(),
        by: by.into(),
        start,
        end,
        quantity: 1,
        purpose: "conseil de classe".into(),
        awaiting_approval: true,
    }
}

#[test]
fn bookings_of_a_resource_needing_approval_wait_for_a_manager() {
    test()
        .given(vec![approval_room()])
        .when(C::Book {
            booking: "b1".into(),
            by: "m.martin".into(),
            start: nov(10, 17, 0),
            end: nov(10, 19, 0),
            quantity: 1,
            purpose: "conseil de classe".into(),
        })
        .then_expect_events(vec![pending(
            "b1",
            "m.martin",
            nov(10, 17, 0),
            nov(10, 19, 0),
        )]);
    let given = || {
        test().given(vec![
            approval_room(),
            pending("b1", "m.martin", nov(10, 17, 0), nov(10, 19, 0)),
        ])
    };
    // While it waits, the room is held: nobody else can take it from under the manager.
    given()
        .when(book("b2", "a.durand", nov(10, 18, 0), nov(10, 20, 0), 1))
        .then_expect_english_error(
            "\"Salle polyvalente\" is already booked on Tue 10 Nov 2026 18:00–20:00: \
             booking b1 by m.martin (Tue 10 Nov 2026 17:00–19:00, awaiting approval)",
        );
    given()
        .when(C::ApproveBooking {
            booking: "b1".into(),
            by: "gest".into(),
        })
        .then_expect_events(vec![V::BookingApproved {
            booking: "b1".into(),
            by: "gest".into(),
        }]);
    given()
        .when(C::ApproveBooking {
            booking: "b1".into(),
            by: "m.martin".into(),
        })
        .then_expect_english_error(
            "only a manager of \"Salle polyvalente\" (gest, cpe) may approve or refuse its \
             bookings; m.martin is not one",
        );
    given()
        .when(C::RefuseBooking {
            booking: "b1".into(),
            by: "cpe".into(),
            reason: "".into(),
        })
        .then_expect_error(E::RefusalReasonRequired);
    given()
        .when(C::RefuseBooking {
            booking: "b1".into(),
            by: "cpe".into(),
            reason: "salle réservée pour les épreuves du brevet blanc".into(),
        })
        .then_expect_events(vec![V::BookingRefused {
            booking: "b1".into(),
            by: "cpe".into(),
            reason: "salle réservée pour les épreuves du brevet blanc".into(),
        }]);
    given()
        .when(C::ApproveBooking {
            booking: "b9".into(),
            by: "gest".into(),
        })
        .then_expect_english_error("there is no booking b9 of this resource");
    let approved = V::BookingApproved {
        booking: "b1".into(),
        by: "gest".into(),
    };
    given()
        .and(vec![approved])
        .when(C::RefuseBooking {
            booking: "b1".into(),
            by: "gest".into(),
            reason: "x".into(),
        })
        .then_expect_english_error("booking b1 is not awaiting approval: it is confirmed");
    // Without approval, bookings are confirmed at once and there is nothing to approve.
    test()
        .given(vec![
            room(),
            booked("b1", "m.martin", nov(10, 10, 0), nov(10, 11, 0), 1),
        ])
        .when(C::ApproveBooking {
            booking: "b1".into(),
            by: "gest".into(),
        })
        .then_expect_english_error("booking b1 is not awaiting approval: it is confirmed");

    let refused = state(&[
        approval_room(),
        pending("b1", "m.martin", nov(10, 17, 0), nov(10, 19, 0)),
        V::BookingRefused {
            booking: "b1".into(),
            by: "cpe".into(),
            reason: "brevet blanc".into(),
        },
    ]);
    assert_eq!(refused.bookings["b1"].status, BookingStatus::Refused);
    assert_eq!(refused.free_quantity(nov(10, 17, 0), nov(10, 19, 0)), 1);
    assert!(refused.pending_bookings().is_empty());
}

fn booked_weekly(id: &str, dates: Vec<NaiveDate>, skipped: Vec<NaiveDate>, q: u32) -> V {
    V::BookedWeekly {
        booking: id.into(),
        by: "m.martin".into(),
        start: time(10, 0),
        end: time(11, 0),
        dates,
        skipped,
        quantity: q,
        purpose: "".into(),
        awaiting_approval: false,
    }
}

#[test]
fn a_weekly_booking_skips_the_days_the_calendar_closes() {
    // Wednesdays from 14 Oct to 18 Nov: two weeks of Toussaint and the 11 November.
    test()
        .given(vec![cart(30)])
        .when(weekly(
            "w1",
            date(2026, 10, 14).and_time(time(10, 0)),
            date(2026, 10, 14).and_time(time(11, 0)),
            date(2026, 11, 18),
            12,
        ))
        .then_expect_events(vec![booked_weekly(
            "w1",
            vec![date(2026, 10, 14), date(2026, 11, 4), date(2026, 11, 18)],
            vec![date(2026, 10, 21), date(2026, 10, 28), date(2026, 11, 11)],
            12,
        )]);
    // Weeks after the last day of the school year are skipped too.
    test()
        .given(vec![cart(30)])
        .when(weekly(
            "w1",
            date(2027, 6, 29).and_time(time(10, 0)),
            date(2027, 6, 29).and_time(time(11, 0)),
            date(2027, 7, 13),
            1,
        ))
        .then_expect_events(vec![booked_weekly(
            "w1",
            vec![date(2027, 6, 29)],
            vec![date(2027, 7, 6), date(2027, 7, 13)],
            1,
        )]);
    // The dates are those of the event: a later change of the calendar moves nothing.
    let s = state(&[
        cart(30),
        booked_weekly(
            "w1",
            vec![date(2026, 11, 4), date(2026, 11, 18)],
            vec![date(2026, 11, 11)],
            12,
        ),
    ]);
    assert_eq!(s.free_quantity(nov(4, 10, 0), nov(4, 11, 0)), 18);
    assert_eq!(s.free_quantity(nov(11, 10, 0), nov(11, 11, 0)), 30);
    assert_eq!(s.bookings["w1"].skipped, [date(2026, 11, 11)]);
}

#[test]
fn a_weekly_booking_is_refused_as_a_whole_naming_every_date_in_conflict() {
    let given = || {
        test().given(vec![
            cart(30),
            booked("b17", "a.durand", nov(4, 9, 0), nov(4, 12, 0), 20),
            booked("b18", "s.leroy", nov(18, 10, 30), nov(18, 11, 30), 25),
        ])
    };
    given()
        .when(weekly(
            "w1",
            nov(4, 10, 0),
            nov(4, 11, 0),
            date(2026, 11, 25),
            12,
        ))
        .then_expect_english_error(
            "the weekly booking was not made: \
             only 10 of the 30 in \"Chariot de tablettes\" are free on Wed 4 Nov 2026 \
             10:00–11:00, 12 asked: booking b17 by a.durand (Wed 4 Nov 2026 09:00–12:00) holds 20; \
             only 5 of the 30 in \"Chariot de tablettes\" are free on Wed 18 Nov 2026 \
             10:00–11:00, 12 asked: booking b18 by s.leroy (Wed 18 Nov 2026 10:30–11:30) holds 25",
        );
    // 5 fit on every date (11 November is skipped).
    given()
        .when(weekly(
            "w1",
            nov(4, 10, 0),
            nov(4, 11, 0),
            date(2026, 11, 25),
            5,
        ))
        .then_expect_events(vec![booked_weekly(
            "w1",
            vec![date(2026, 11, 4), date(2026, 11, 18), date(2026, 11, 25)],
            vec![date(2026, 11, 11)],
            5,
        )]);
}

#[test]
fn a_weekly_booking_needs_sensible_dates() {
    let refuse = |command, message: &str| {
        test()
            .given(vec![cart(30)])
            .when(command)
            .then_expect_english_error(message)
    };
    refuse(
        weekly("w1", nov(4, 23, 0), nov(5, 1, 0), date(2026, 12, 2), 1),
        "each week of a weekly booking must end on the day it starts \
         (2026-11-04 23:00:00 to 2026-11-05 01:00:00)",
    );
    refuse(
        weekly("w1", nov(4, 11, 0), nov(4, 10, 0), date(2026, 12, 2), 1),
        "a booking must end after it starts (2026-11-04 11:00:00 to 2026-11-04 10:00:00)",
    );
    refuse(
        weekly("w1", nov(4, 10, 0), nov(4, 11, 0), date(2026, 11, 3), 1),
        "the last week (Tue 3 Nov 2026) is before the first one (Wed 4 Nov 2026)",
    );
    refuse(
        weekly("w1", nov(4, 10, 0), nov(4, 11, 0), date(2028, 11, 3), 1),
        "a weekly booking lasts at most a year and a half; Wed 4 Nov 2026 to Fri 3 Nov 2028 \
         is longer",
    );
    refuse(
        weekly(
            "w1",
            date(2026, 10, 20).and_time(time(10, 0)),
            date(2026, 10, 20).and_time(time(11, 0)),
            date(2026, 10, 27),
            1,
        ),
        "the school calendar closes every one of these dates from Tue 20 Oct 2026 to \
         Tue 27 Oct 2026: there is nothing to book",
    );
    let mut broken = calendar();
    broken.weekdays.clear();
    let command = C::BookWeekly {
        booking: "w1".into(),
        by: "m.martin".into(),
        first_start: nov(4, 10, 0),
        first_end: nov(4, 11, 0),
        until: date(2026, 11, 25),
        quantity: 1,
        purpose: "".into(),
        calendar: broken,
    };
    refuse(
        command,
        "the school calendar is not valid: lessons need at least one weekday",
    );
}

#[test]
fn bookings_are_cancelled_by_who_made_them_or_by_a_manager_who_says_why() {
    let given = || {
        test().given(vec![
            room(),
            booked("b1", "m.martin", nov(10, 10, 0), nov(10, 11, 0), 1),
        ])
    };
    let cancel = |by: &str, reason: &str| C::CancelBooking {
        booking: "b1".into(),
        by: by.into(),
        reason: reason.into(),
    };
    given()
        .when(cancel("m.martin", ""))
        .then_expect_events(vec![V::BookingCancelled {
            booking: "b1".into(),
            by: "m.martin".into(),
            reason: "".into(),
        }]);
    given().when(cancel("gest", "")).then_expect_english_error(
        "say why you cancel a booking made by m.martin, so that they know",
    );
    given()
        .when(cancel("gest", "fuite d'eau dans la salle"))
        .then_expect_events(vec![V::BookingCancelled {
            booking: "b1".into(),
            by: "gest".into(),
            reason: "fuite d'eau dans la salle".into(),
        }]);
    given()
        .when(cancel("a.durand", "j'en ai besoin"))
        .then_expect_english_error(
            "only m.martin, who made booking b1, or a manager of \"Salle 204\" may cancel it",
        );
    let cancelled = V::BookingCancelled {
        booking: "b1".into(),
        by: "m.martin".into(),
        reason: "".into(),
    };
    given()
        .and(vec![cancelled.clone()])
        .when(cancel("m.martin", ""))
        .then_expect_english_error("booking b1 is already cancelled");
    // Once cancelled, the room is free again.
    given()
        .and(vec![cancelled])
        .when(book("b2", "a.durand", nov(10, 10, 0), nov(10, 11, 0), 1))
        .then_expect_events(vec![booked(
            "b2",
            "a.durand",
            nov(10, 10, 0),
            nov(10, 11, 0),
            1,
        )]);
}

#[test]
fn one_occurrence_of_a_weekly_booking_can_be_cancelled() {
    let w1 = booked_weekly(
        "w1",
        vec![date(2026, 11, 4), date(2026, 11, 18)],
        vec![date(2026, 11, 11)],
        1,
    );
    let given = || test().given(vec![room(), w1.clone()]);
    let cancel = |date| C::CancelOccurrence {
        booking: "w1".into(),
        date,
        by: "m.martin".into(),
        reason: "sortie scolaire".into(),
    };
    let cancelled = V::OccurrenceCancelled {
        booking: "w1".into(),
        date: date(2026, 11, 18),
        by: "m.martin".into(),
        reason: "sortie scolaire".into(),
    };
    given()
        .when(cancel(date(2026, 11, 18)))
        .then_expect_events(vec![cancelled.clone()]);
    given()
        .when(cancel(date(2026, 11, 11)))
        .then_expect_english_error("booking w1 has no occurrence on Wed 11 Nov 2026");
    given()
        .and(vec![cancelled.clone()])
        .when(cancel(date(2026, 11, 18)))
        .then_expect_english_error(
            "the occurrence of Wed 18 Nov 2026 of booking w1 is already cancelled",
        );
    given()
        .when(C::CancelOccurrence {
            booking: "w1".into(),
            date: date(2026, 11, 18),
            by: "a.durand".into(),
            reason: "".into(),
        })
        .then_expect_english_error(
            "only m.martin, who made booking w1, or a manager of \"Salle 204\" may cancel it",
        );
    test()
        .given(vec![
            room(),
            booked("b1", "m.martin", nov(10, 10, 0), nov(10, 11, 0), 1),
        ])
        .when(C::CancelOccurrence {
            booking: "b1".into(),
            date: date(2026, 11, 10),
            by: "m.martin".into(),
            reason: "".into(),
        })
        .then_expect_english_error(
            "booking b1 is not a weekly booking: cancel the whole booking instead",
        );
    // The cancelled date is free again, the others are still held.
    given()
        .and(vec![cancelled])
        .when(book("b2", "a.durand", nov(18, 10, 0), nov(18, 11, 0), 1))
        .then_expect_events(vec![booked(
            "b2",
            "a.durand",
            nov(18, 10, 0),
            nov(18, 11, 0),
            1,
        )]);
    given()
        .when(book("b2", "a.durand", nov(4, 10, 0), nov(4, 11, 0), 1))
        .then_expect_english_error(
            "\"Salle 204\" is already booked on Wed 4 Nov 2026 10:00–11:00: \
             booking w1 by m.martin (Wed 4 Nov 2026 10:00–11:00)",
        );
}

#[test]
fn a_pool_shrinks_only_if_every_booking_still_fits() {
    let given = || {
        test().given(vec![
            cart(30),
            booked("b1", "m.martin", nov(10, 9, 0), nov(10, 11, 0), 15),
            booked("b2", "a.durand", nov(10, 10, 0), nov(10, 12, 0), 11),
            booked("b3", "s.leroy", nov(12, 10, 0), nov(12, 12, 0), 22),
        ])
    };
    let change = |quantity, by: &str| C::ChangeQuantity {
        quantity,
        by: by.into(),
    };
    given()
        .when(change(26, "gest"))
        .then_expect_events(vec![V::QuantityChanged {
            previous: 30,
            quantity: 26,
            by: "gest".into(),
        }]);
    given().when(change(20, "gest")).then_expect_english_error(
        "\"Chariot de tablettes\" cannot go down to 20: bookings b1 by m.martin, \
             b2 by a.durand, b3 by s.leroy hold up to 26 at once (first on Tue 10 Nov 2026 \
             10:00); cancel some of them first",
    );
    given().when(change(25, "gest")).then_expect_english_error(
        "\"Chariot de tablettes\" cannot go down to 25: bookings b1 by m.martin, \
             b2 by a.durand hold up to 26 at once (first on Tue 10 Nov 2026 10:00); \
             cancel some of them first",
    );
    given()
        .when(change(30, "gest"))
        .then_expect_english_error("\"Chariot de tablettes\" already has 30");
    given()
        .when(change(0, "gest"))
        .then_expect_english_error("a pool holds at least one item");
    given()
        .when(change(40, "m.martin"))
        .then_expect_english_error(
            "only a manager of \"Chariot de tablettes\" (gest, cpe) may change its quantity; \
             m.martin is not one",
        );
    test()
        .given(vec![room()])
        .when(change(2, "gest"))
        .then_expect_english_error(
            "\"Salle 204\" is not a pool of items: it has no quantity to change",
        );
    let s = state(&[
        cart(30),
        V::QuantityChanged {
            previous: 30,
            quantity: 26,
            by: "gest".into(),
        },
    ]);
    assert_eq!(s.capacity(), 26);
}

#[test]
fn a_retired_resource_cannot_be_booked() {
    let retire = |at| C::RetireResource {
        at,
        by: "gest".into(),
        reason: "vidéoprojecteur hors service".into(),
    };
    let given = || {
        test().given(vec![
            registered("Vidéoprojecteur 3", ResourceKind::Item, false),
            booked("b1", "m.martin", nov(10, 10, 0), nov(10, 11, 0), 1),
        ])
    };
    given()
        .when(retire(nov(10, 10, 30)))
        .then_expect_english_error(
            "\"Vidéoprojecteur 3\" cannot be retired on Tue 10 Nov 2026 10:30: bookings \
             b1 by m.martin still hold it after that; cancel them first",
        );
    let retired = V::ResourceRetired {
        at: nov(10, 11, 0),
        by: "gest".into(),
        reason: "vidéoprojecteur hors service".into(),
    };
    given()
        .when(retire(nov(10, 11, 0)))
        .then_expect_events(vec![retired.clone()]);
    given()
        .and(vec![retired.clone()])
        .when(retire(nov(20, 0, 0)))
        .then_expect_english_error("\"Vidéoprojecteur 3\" is already retired");
    given()
        .and(vec![retired.clone()])
        .when(book("b2", "a.durand", nov(20, 10, 0), nov(20, 11, 0), 1))
        .then_expect_english_error("\"Vidéoprojecteur 3\" is retired and can no longer be booked");
    given()
        .when(C::RetireResource {
            at: nov(12, 0, 0),
            by: "m.martin".into(),
            reason: "".into(),
        })
        .then_expect_english_error(
            "only a manager of \"Vidéoprojecteur 3\" (gest, cpe) may retire it; m.martin is \
             not one",
        );
    let s = state(&[
        registered("Vidéoprojecteur 3", ResourceKind::Item, false),
        retired,
    ]);
    assert_eq!(s.free_quantity(nov(20, 10, 0), nov(20, 11, 0)), 0);
}

#[test]
fn the_state_answers_what_is_free_and_who_booked_what() {
    let s = state(&[
        cart(30),
        booked("b1", "m.martin", nov(10, 9, 0), nov(10, 10, 30), 10),
        booked("b2", "a.durand", nov(10, 10, 0), nov(10, 11, 0), 15),
        booked_weekly(
            "w1",
            vec![date(2026, 11, 4), date(2026, 11, 18)],
            vec![],
            12,
        ),
        V::BookingCancelled {
            booking: "b2".into(),
            by: "a.durand".into(),
            reason: "".into(),
        },
        booked("b3", "a.durand", nov(10, 10, 0), nov(10, 11, 0), 5),
    ]);
    assert_eq!(
        s.availability(nov(10, 8, 0), nov(10, 11, 30), Duration::hours(1)),
        [
            (nov(10, 8, 0), nov(10, 9, 0), 30),
            (nov(10, 9, 0), nov(10, 10, 0), 20),
            (nov(10, 10, 0), nov(10, 11, 0), 15),
            (nov(10, 11, 0), nov(10, 11, 30), 30),
        ]
    );
    assert!(s
        .availability(nov(10, 8, 0), nov(10, 9, 0), Duration::zero())
        .is_empty());
    let ids = |bookings: Vec<&carnet_domain::reservations::Booking>| -> Vec<String> {
        bookings.into_iter().map(|b| b.id.clone()).collect()
    };
    assert_eq!(ids(s.bookings_of("a.durand")), ["b2", "b3"]);
    assert_eq!(ids(s.bookings_of("m.martin")), ["w1", "b1"]);
    let active: Vec<(String, NaiveDateTime)> = s
        .active_occurrences()
        .into_iter()
        .map(|o| (o.booking, o.start))
        .collect();
    assert_eq!(
        active,
        [
            ("w1".to_string(), nov(4, 10, 0)),
            ("b1".to_string(), nov(10, 9, 0)),
            ("b3".to_string(), nov(10, 10, 0)),
            ("w1".to_string(), nov(18, 10, 0)),
        ]
    );
}

#[test]
fn events_are_named_and_stored_as_json() {
    let event = booked_weekly("w1", vec![date(2026, 11, 4)], vec![date(2026, 11, 11)], 3);
    assert_eq!(
        (event.event_type(), event.event_version()),
        ("BookedWeekly".to_string(), "1".to_string())
    );
    let json = serde_json::to_string(&event).expect("serialises");
    let back: V = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(back, event);
    let s = state(&[cart(30), event]);
    let json = serde_json::to_string(&s).expect("serialises");
    assert_eq!(serde_json::from_str::<Resource>(&json).expect("reads"), s);
}

// ---------------------------------------------------------------------------------------
// Properties: a pool of 6 over four weeks of November 2026 mornings, under random
// bookings, weekly bookings, cancellations and decisions.

const POOL: u32 = 6;

#[derive(Debug, Clone)]
enum Op {
    Book {
        day: u32,
        slot: u32,
        len: u32,
        quantity: u32,
    },
    Weekly {
        day: u32,
        slot: u32,
        len: u32,
        weeks: u32,
        quantity: u32,
    },
    Cancel(usize),
    CancelOccurrence(usize, u32),
    Approve(usize),
    Refuse(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..8_u32, 0..12_u32, 1..=6_u32, 1..=POOL)
            .prop_map(|(day, slot, len, quantity)| Op::Book { day, slot, len, quantity }),
        2 => (0..7_u32, 0..12_u32, 1..=6_u32, 0..4_u32, 1..=POOL).prop_map(
            |(day, slot, len, weeks, quantity)| Op::Weekly { day, slot, len, weeks, quantity }
        ),
        1 => any::<usize>().prop_map(Op::Cancel),
        1 => (any::<usize>(), 0..4_u32).prop_map(|(b, w)| Op::CancelOccurrence(b, w)),
        1 => any::<usize>().prop_map(Op::Approve),
        1 => any::<usize>().prop_map(Op::Refuse),
    ]
}

/// From Mon 2 Nov 2026, times in quarters of an hour from 8:00.
fn quarter(day: u32, slot: u32) -> NaiveDateTime {
    nov(2, 8, 0) + Duration::days(i64::from(day)) + Duration::minutes(15 * i64::from(slot))
}

/// Who holds what according to the events alone, independently of the aggregate's state:
/// (start, end, quantity) of every occurrence still held.
fn holds(events: &[V]) -> Vec<(NaiveDateTime, NaiveDateTime, u32)> {
    struct Held {
        quantity: u32,
        active: bool,
        occurrences: Vec<(NaiveDateTime, NaiveDateTime, bool)>,
    }
    let mut held: Vec<(String, Held)> = Vec::new();
    for event in events {
        match event {
            V::Booked {
                booking,
                start,
                end,
                quantity,
                ..
            } => held.push((
                booking.clone(),
                Held {
                    quantity: *quantity,
                    active: true,
                    occurrences: vec![(*start, *end, true)],
                },
            )),
            V::BookedWeekly {
                booking,
                start,
                end,
                dates,
                quantity,
                ..
            } => held.push((
                booking.clone(),
                Held {
                    quantity: *quantity,
                    active: true,
                    occurrences: dates
                        .iter()
                        .map(|d| (d.and_time(*start), d.and_time(*end), true))
                        .collect(),
                },
            )),
            V::BookingCancelled { booking, .. } | V::BookingRefused { booking, .. } => {
                for (_, h) in held.iter_mut().filter(|(id, _)| id == booking) {
                    h.active = false;
                }
            }
            V::OccurrenceCancelled { booking, date, .. } => {
                for (_, h) in held.iter_mut().filter(|(id, _)| id == booking) {
                    for o in h.occurrences.iter_mut().filter(|o| o.0.date() == *date) {
                        o.2 = false;
                    }
                }
            }
            _ => {}
        }
    }
    held.into_iter()
        .filter(|(_, h)| h.active)
        .flat_map(|(_, h)| {
            let q = h.quantity;
            h.occurrences
                .into_iter()
                .filter(|o| o.2)
                .map(move |o| (o.0, o.1, q))
        })
        .collect()
}

fn load_at(holds: &[(NaiveDateTime, NaiveDateTime, u32)], t: NaiveDateTime) -> u32 {
    holds
        .iter()
        .filter(|(s, e, _)| *s <= t && t < *e)
        .map(|h| h.2)
        .sum()
}

/// Every minute from `start` to `end` (excluded).
fn minutes(start: NaiveDateTime, end: NaiveDateTime) -> impl Iterator<Item = NaiveDateTime> {
    let count = (end - start).num_minutes().max(0);
    (0..count).map(move |m| start + Duration::minutes(m))
}

/// The most held at one minute of `[start, end)`, counted minute by minute.
fn brute_peak(
    holds: &[(NaiveDateTime, NaiveDateTime, u32)],
    s: NaiveDateTime,
    e: NaiveDateTime,
) -> u32 {
    minutes(s, e).map(|t| load_at(holds, t)).max().unwrap_or(0)
}

/// Runs the operations; returns the accepted events. Checks along the way that every
/// refusal for lack of room is real: some minute of the period would be over-booked.
fn run(requires_approval: bool, ops: &[Op]) -> Vec<V> {
    let mut events = vec![registered(
        "Chariot",
        ResourceKind::Pool { quantity: POOL },
        requires_approval,
    )];
    let mut made: Vec<(String, NaiveDate)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let id = format!("b{i}");
        let pick = |n: usize| made.get(n % made.len().max(1)).cloned();
        let command = match op.clone() {
            Op::Book {
                day,
                slot,
                len,
                quantity,
            } => book(
                &id,
                &format!("p{}", i % 3),
                quarter(day, slot),
                quarter(day, slot + len),
                quantity,
            ),
            Op::Weekly {
                day,
                slot,
                len,
                weeks,
                quantity,
            } => weekly(
                &id,
                quarter(day, slot),
                quarter(day, slot + len),
                quarter(day + 7 * weeks, 0).date(),
                quantity,
            ),
            Op::Cancel(n) => match pick(n) {
                Some((b, _)) => C::CancelBooking {
                    booking: b,
                    by: "gest".into(),
                    reason: "test".into(),
                },
                None => continue,
            },
            Op::CancelOccurrence(n, w) => match pick(n) {
                Some((b, first)) => C::CancelOccurrence {
                    booking: b,
                    date: first + Duration::days(7 * i64::from(w)),
                    by: "gest".into(),
                    reason: "test".into(),
                },
                None => continue,
            },
            Op::Approve(n) => match pick(n) {
                Some((b, _)) => C::ApproveBooking {
                    booking: b,
                    by: "gest".into(),
                },
                None => continue,
            },
            Op::Refuse(n) => match pick(n) {
                Some((b, _)) => C::RefuseBooking {
                    booking: b,
                    by: "cpe".into(),
                    reason: "test".into(),
                },
                None => continue,
            },
        };
        let result = test()
            .given(events.clone())
            .when(command.clone())
            .inspect_result();
        let held = holds(&events);
        match result {
            Ok(new) => {
                if let C::Book { start, .. }
                | C::BookWeekly {
                    first_start: start, ..
                } = command
                {
                    made.push((id, start.date()));
                }
                events.extend(new);
            }
            Err(E::Unavailable(c)) => {
                assert!(brute_peak(&held, c.when.start, c.when.end) + c.asked > POOL);
            }
            Err(E::WeeklyUnavailable(conflicts)) => {
                assert!(!conflicts.0.is_empty());
                for c in conflicts.0 {
                    assert!(brute_peak(&held, c.when.start, c.when.end) + c.asked > POOL);
                }
            }
            Err(_) => {}
        }
    }
    events
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn accepted_bookings_never_over_book_an_instant(
        requires_approval in any::<bool>(),
        ops in prop::collection::vec(op(), 1..24),
    ) {
        let events = run(requires_approval, &ops);
        let held = holds(&events);
        for day in 0..30 {
            let morning = quarter(day, 0);
            for t in minutes(morning, morning + Duration::hours(6)) {
                let load = load_at(&held, t);
                prop_assert!(load <= POOL, "{load} of {POOL} held at {t}");
            }
        }
        // The aggregate's own view of what is held agrees with the events.
        let mut from_state: Vec<_> = state(&events)
            .active_occurrences()
            .into_iter()
            .map(|o| (o.start, o.end, o.quantity))
            .collect();
        let mut expected = held;
        from_state.sort();
        expected.sort();
        prop_assert_eq!(from_state, expected);
    }

    #[test]
    fn free_quantity_is_the_least_free_minute(
        requires_approval in any::<bool>(),
        ops in prop::collection::vec(op(), 1..24),
        day in 0..8_u32,
        offset in 0..300_i64,
        length in 1..1500_i64,
    ) {
        let events = run(requires_approval, &ops);
        let held = holds(&events);
        let start = quarter(day, 0) + Duration::minutes(offset);
        let end = start + Duration::minutes(length);
        let s = state(&events);
        prop_assert_eq!(s.free_quantity(start, end), POOL - brute_peak(&held, start, end));
        for (from, to, free) in s.availability(start, end, Duration::minutes(37)) {
            prop_assert_eq!(free, POOL - brute_peak(&held, from, to));
        }
    }
}
