//! The rules of enrolment, given / when / then.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

#[path = "support/english.rs"]
mod english;
use carnet_domain::refusal::Refusal;
use english::ThenRefused;
use std::collections::BTreeSet;

use carnet_domain::enrolment::{
    ClassRef, Decision, DivisionSpec, Establishment, EstablishmentCommand as EC,
    EstablishmentEvent as EV, ExternalId, GroupSpec, GuardianRights, Identity, IdentityRecord, Ine,
    Period, PersonKind, Placement, Role, Rollover, SchoolYear, Service, Student,
    StudentCommand as SC, StudentEvent as SV, SubjectCode, YearSpec,
};
use carnet_domain::personal::Personal;
use carnet_domain::Uai;
use chrono::{NaiveDate, NaiveTime};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;

#[allow(clippy::unwrap_used)]
fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

#[allow(clippy::unwrap_used)]
fn year(text: &str) -> SchoolYear {
    SchoolYear::parse(text).unwrap()
}

fn period(id: &str, from: NaiveDate, to: NaiveDate) -> Period {
    Period {
        id: id.into(),
        name: format!("Trimestre {id}"),
        from,
        to,
    }
}

fn spec_2026() -> YearSpec {
    YearSpec {
        year: year("2026-2027"),
        first_day: d(2026, 9, 1),
        last_day: d(2027, 7, 3),
        periods: vec![
            period("T1", d(2026, 9, 1), d(2026, 11, 30)),
            period("T2", d(2026, 12, 1), d(2027, 3, 7)),
            period("T3", d(2027, 3, 8), d(2027, 7, 3)),
        ],
    }
}

fn spec_2027() -> YearSpec {
    YearSpec {
        year: year("2027-2028"),
        first_day: d(2027, 9, 1),
        last_day: d(2028, 7, 1),
        periods: vec![
            period("S1", d(2027, 9, 1), d(2028, 1, 31)),
            period("S2", d(2028, 2, 1), d(2028, 7, 1)),
        ],
    }
}

#[allow(clippy::unwrap_used)]
fn registered() -> EV {
    EV::EstablishmentRegistered {
        uai: Uai::parse("0750655E").unwrap(),
        name: "Collège Jean Moulin".into(),
        time_zone: chrono_tz::Europe::Paris,
        morning_ends: NaiveTime::from_hms_opt(12, 30, 0).unwrap(),
    }
}

fn division(id: &str, level: &str) -> DivisionSpec {
    DivisionSpec {
        id: id.into(),
        name: id.into(),
        level: level.into(),
    }
}

fn group(id: &str, divisions: &[&str], partition: &str) -> GroupSpec {
    GroupSpec {
        id: id.into(),
        name: id.into(),
        divisions: divisions.iter().map(|s| s.to_string()).collect(),
        partition: partition.into(),
    }
}

#[allow(clippy::unwrap_used)]
fn maths() -> SubjectCode {
    SubjectCode::parse("061300").unwrap()
}

fn school() -> Vec<EV> {
    vec![
        registered(),
        EV::SchoolYearOpened(spec_2026()),
        EV::SubjectDefined {
            code: maths(),
            short: "MATHS".into(),
            name: "Mathématiques".into(),
        },
        EV::DivisionCreated {
            year: year("2026-2027"),
            division: division("4A", "4e"),
        },
        EV::GroupCreated {
            year: year("2026-2027"),
            group: group("4A-G1", &["4A"], "demi"),
        },
        EV::StaffMemberAdded {
            person: "m.martin".into(),
            name: Personal::known("m.martin", "Marie Martin".to_string()),
            roles: BTreeSet::from([Role::Teacher]),
        },
        EV::StaffMemberAdded {
            person: "p.cpe".into(),
            name: Personal::known("p.cpe", "Paul Durand".to_string()),
            roles: BTreeSet::from([Role::Cpe]),
        },
    ]
}

fn establishment() -> TestFramework<Establishment> {
    TestFramework::with(())
}

#[test]
fn an_establishment_registers_once_and_must_be_registered_first() {
    establishment()
        .given_no_previous_events()
        .when(EC::OpenSchoolYear(spec_2026()))
        .then_expect_english_error("the establishment must be registered first");
    establishment()
        .given(vec![registered()])
        .when(EC::Register {
            uai: Uai::parse("0750655E").unwrap(),
            name: "Other".into(),
            time_zone: chrono_tz::Europe::Paris,
            morning_ends: NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
        })
        .then_expect_english_error("the establishment is already registered as 0750655E");
}

#[test]
fn a_school_year_opens_with_periods_that_do_not_overlap() {
    establishment()
        .given(vec![registered()])
        .when(EC::OpenSchoolYear(spec_2026()))
        .then_expect_events(vec![EV::SchoolYearOpened(spec_2026())]);

    let mut overlapping = spec_2026();
    overlapping.periods[1].from = d(2026, 11, 20);
    establishment()
        .given(vec![registered()])
        .when(EC::OpenSchoolYear(overlapping))
        .then_expect_english_error(
            "periods T1 and T2 overlap: T2 starts on 2026-11-20, before T1 ends on 2026-11-30",
        );

    let mut outside = spec_2026();
    outside.periods[2].to = d(2027, 8, 31);
    establishment()
        .given(vec![registered()])
        .when(EC::OpenSchoolYear(outside))
        .then_expect_english_error(
            "period T3 (2027-03-08 to 2027-08-31) is outside the school year (2026-09-01 to 2027-07-03)",
        );

    let mut wrong_start = spec_2026();
    wrong_start.first_day = d(2027, 9, 1);
    wrong_start.last_day = d(2028, 7, 1);
    establishment()
        .given(vec![registered()])
        .when(EC::OpenSchoolYear(wrong_start))
        .then_expect_english_error(
            "school year 2026-2027 cannot start on 2027-09-01: it starts in 2026",
        );

    establishment()
        .given(vec![registered(), EV::SchoolYearOpened(spec_2026())])
        .when(EC::OpenSchoolYear(spec_2026()))
        .then_expect_english_error("school year 2026-2027 is already open");
}

#[test]
fn divisions_and_groups_belong_to_a_year() {
    establishment()
        .given(school())
        .when(EC::CreateDivision {
            year: year("2026-2027"),
            division: division("4A", "4e"),
        })
        .then_expect_english_error("division 4A already exists in 2026-2027");
    establishment()
        .given(school())
        .when(EC::CreateGroup {
            year: year("2026-2027"),
            group: group("LAT", &["4A", "4B"], "latin"),
        })
        .then_expect_english_error("there is no division 4B in 2026-2027");
    establishment()
        .given(school())
        .when(EC::CreateDivision {
            year: year("2027-2028"),
            division: division("3A", "3e"),
        })
        .then_expect_english_error("school year 2027-2028 is not open in this establishment");
}

#[test]
fn a_service_names_a_teacher_a_subject_and_a_class() {
    let service = |teacher: &str, class: ClassRef| Service {
        teacher: teacher.into(),
        subject: maths(),
        class,
    };
    establishment()
        .given(school())
        .when(EC::AssignService {
            year: year("2026-2027"),
            service: service("m.martin", ClassRef::Group("4A-G1".into())),
        })
        .then_expect_events(vec![EV::ServiceAssigned {
            year: year("2026-2027"),
            service: service("m.martin", ClassRef::Group("4A-G1".into())),
        }]);
    establishment()
        .given(school())
        .when(EC::AssignService {
            year: year("2026-2027"),
            service: service("p.cpe", ClassRef::Division("4A".into())),
        })
        .then_expect_english_error("p.cpe is not a teacher");
    establishment()
        .given(school())
        .when(EC::AssignService {
            year: year("2026-2027"),
            service: service("nobody", ClassRef::Division("4A".into())),
        })
        .then_expect_english_error("nobody is not a member of staff");
    let mut left = school();
    left.push(EV::StaffMemberLeft {
        person: "m.martin".into(),
        last_day: d(2026, 10, 16),
    });
    establishment()
        .given(left)
        .when(EC::AssignService {
            year: year("2026-2027"),
            service: service("m.martin", ClassRef::Division("4A".into())),
        })
        .then_expect_english_error("m.martin has left the establishment");
}

#[test]
fn staff_roles_change_with_the_previous_ones_kept_in_the_event() {
    establishment()
        .given(school())
        .when(EC::ChangeStaffRoles {
            person: "m.martin".into(),
            roles: BTreeSet::from([Role::Teacher, Role::Principal]),
        })
        .then_expect_events(vec![EV::StaffRolesChanged {
            person: "m.martin".into(),
            previous: BTreeSet::from([Role::Teacher]),
            roles: BTreeSet::from([Role::Teacher, Role::Principal]),
        }]);
    establishment()
        .given(school())
        .when(EC::AddStaffMember {
            person: "x".into(),
            name: "X".into(),
            roles: BTreeSet::new(),
        })
        .then_expect_english_error("a member of staff needs at least one role");
}

fn ent_id(value: &str) -> ExternalId {
    ExternalId {
        scheme: "https://ent.example.fr".into(),
        value: value.into(),
    }
}

fn link(person: &str, kind: PersonKind, value: &str) -> EC {
    EC::LinkExternalId {
        person: person.into(),
        kind,
        identifier: ent_id(value),
    }
}

fn linked(person: &str, kind: PersonKind, value: &str) -> EV {
    EV::ExternalIdLinked {
        person: person.into(),
        kind,
        identifier: ent_id(value),
    }
}

#[test]
fn a_staff_member_student_or_guardian_is_linked_to_an_external_identifier() {
    for kind in [PersonKind::Staff, PersonKind::Student, PersonKind::Guardian] {
        let person = if kind == PersonKind::Staff {
            "m.martin"
        } else {
            "g-1"
        };
        establishment()
            .given(school())
            .when(link(person, kind, "ext-42"))
            .then_expect_events(vec![linked(person, kind, "ext-42")]);
    }
    // Staff are in this aggregate, so an unknown one is refused here.
    establishment()
        .given(school())
        .when(link("nobody", PersonKind::Staff, "ext-42"))
        .then_expect_english_error("nobody is not a member of staff");
    establishment()
        .given(school())
        .when(link("m.martin", PersonKind::Staff, " "))
        .then_expect_english_error("the identifier must not be empty");
}

#[test]
fn an_external_identifier_names_one_person_and_the_refusal_names_who_holds_it() {
    establishment()
        .given(
            [
                school(),
                vec![linked("g-1", PersonKind::Guardian, "ext-42")],
            ]
            .concat(),
        )
        .when(link("m.martin", PersonKind::Staff, "ext-42"))
        .then_expect_english_error(
            "identifier ext-42 is already linked to guardian g-1; one identifier names one person",
        );
    establishment()
        .given(
            [
                school(),
                vec![linked("m.martin", PersonKind::Staff, "ext-42")],
            ]
            .concat(),
        )
        .when(link("m.martin", PersonKind::Staff, "ext-42"))
        .then_expect_english_error("m.martin is already linked to identifier ext-42");
    // A person may hold several identifiers (one per ENT or directory).
    establishment()
        .given(
            [
                school(),
                vec![linked("m.martin", PersonKind::Staff, "ext-42")],
            ]
            .concat(),
        )
        .when(link("m.martin", PersonKind::Staff, "aaf-7"))
        .then_expect_events(vec![linked("m.martin", PersonKind::Staff, "aaf-7")]);
}

#[test]
fn an_identifier_unlinked_names_no_one_and_may_be_linked_again() {
    let unlink = |value: &str| EC::UnlinkExternalId {
        identifier: ent_id(value),
    };
    let given = [
        school(),
        vec![linked("g-1", PersonKind::Guardian, "ext-42")],
    ]
    .concat();
    establishment()
        .given(given.clone())
        .when(unlink("ext-42"))
        .then_expect_events(vec![EV::ExternalIdUnlinked {
            person: "g-1".into(),
            kind: PersonKind::Guardian,
            identifier: ent_id("ext-42"),
        }]);
    establishment()
        .given(given.clone())
        .when(unlink("ext-43"))
        .then_expect_english_error(
            "identifier ext-43 (https://ent.example.fr) is linked to no one here",
        );
    // Of another scheme: not this link.
    establishment()
        .given(given.clone())
        .when(EC::UnlinkExternalId {
            identifier: ExternalId {
                scheme: "ENTPersonJointure".into(),
                value: "ext-42".into(),
            },
        })
        .then_expect_english_error(
            "identifier ext-42 (ENTPersonJointure) is linked to no one here",
        );
    let unlinked = EV::ExternalIdUnlinked {
        person: "g-1".into(),
        kind: PersonKind::Guardian,
        identifier: ent_id("ext-42"),
    };
    establishment()
        .given([given, vec![unlinked]].concat())
        .when(link("g-2", PersonKind::Guardian, "ext-42"))
        .then_expect_events(vec![linked("g-2", PersonKind::Guardian, "ext-42")]);
}

#[test]
fn an_erased_person_is_named_by_no_identifier_and_is_linked_no_more() {
    let mut state = Establishment::default();
    for e in [
        school(),
        vec![
            linked("g-1", PersonKind::Guardian, "ext-42"),
            EV::PersonErased {
                person: "g-1".into(),
                by: "p.cpe".into(),
                grounds: "RGPD art. 17".into(),
            },
        ],
    ]
    .concat()
    {
        state.apply(e);
    }
    assert!(state.external_ids.is_empty());
    let erased = [
        school(),
        vec![EV::PersonErased {
            person: "g-1".into(),
            by: "p.cpe".into(),
            grounds: "RGPD art. 17".into(),
        }],
    ]
    .concat();
    establishment()
        .given(erased)
        .when(link("g-1", PersonKind::Guardian, "ext-42"))
        .then_expect_english_error("the personal data of g-1 is already erased");
}

fn rollover_command() -> EC {
    EC::RollOverYear {
        from: year("2026-2027"),
        next: spec_2027(),
        divisions: vec![division("3A", "3e")],
        groups: vec![group("3A-G1", &["3A"], "demi")],
    }
}

fn rolled_over() -> Vec<EV> {
    vec![
        EV::SchoolYearOpened(spec_2027()),
        EV::DivisionCreated {
            year: year("2027-2028"),
            division: division("3A", "3e"),
        },
        EV::GroupCreated {
            year: year("2027-2028"),
            group: group("3A-G1", &["3A"], "demi"),
        },
        EV::YearRolledOver {
            from: year("2026-2027"),
            to: year("2027-2028"),
        },
    ]
}

#[test]
fn the_rollover_opens_the_next_year_and_running_it_again_records_nothing() {
    establishment()
        .given(school())
        .when(rollover_command())
        .then_expect_events(rolled_over());
    let mut after = school();
    after.extend(rolled_over());
    establishment()
        .given(after.clone())
        .when(rollover_command())
        .then_expect_events(vec![]);
    // A rollover interrupted after the year was opened completes what is missing.
    let mut half = school();
    half.push(EV::SchoolYearOpened(spec_2027()));
    establishment()
        .given(half)
        .when(rollover_command())
        .then_expect_events(rolled_over()[1..].to_vec());
    // A second rollover that would redefine a division is refused, not applied.
    establishment()
        .given(after)
        .when(EC::RollOverYear {
            from: year("2026-2027"),
            next: spec_2027(),
            divisions: vec![division("3A", "4e")],
            groups: vec![],
        })
        .then_expect_english_error(
            "division 3A of 2027-2028 already exists with another definition; the rollover cannot change it",
        );
    establishment()
        .given(school())
        .when(EC::RollOverYear {
            from: year("2026-2027"),
            next: YearSpec {
                year: year("2028-2029"),
                ..spec_2027()
            },
            divisions: vec![],
            groups: vec![],
        })
        .then_expect_english_error(
            "the rollover goes from 2026-2027 to the year after it, not to 2028-2029",
        );
}

fn identity() -> Identity {
    Identity {
        ine: Ine::parse("123456789AB").unwrap(),
        last_name: "N'Guessan".into(),
        first_name: "Zoë".into(),
        birth_date: d(2013, 4, 2),
    }
}

fn admitted() -> SV {
    SV::StudentAdmitted {
        student: "zoe".into(),
        identity: IdentityRecord::of("zoe", identity()),
        year: year("2026-2027"),
        division: "4A".into(),
        groups: vec!["4A-G1".into()],
        on: d(2026, 9, 1),
    }
}

fn student() -> TestFramework<Student> {
    TestFramework::with(())
}

fn fold(events: &[SV]) -> Student {
    let mut s = Student::default();
    for e in events {
        s.apply(e.clone());
    }
    s
}

#[test]
fn the_placement_on_any_past_date_follows_from_the_events() {
    let events = vec![
        admitted(),
        SV::GroupJoined {
            group: "LAT".into(),
            on: d(2026, 10, 5),
        },
        SV::DivisionChanged {
            from_division: "4A".into(),
            division: "4B".into(),
            groups: vec!["4B-G2".into()],
            on: d(2026, 11, 2),
        },
        SV::StudentDeparted {
            last_day: d(2027, 2, 12),
            reason: Personal::known("zoe", "déménagement".to_string()),
        },
    ];
    let s = fold(&events);
    let at = |date| s.placement_on(date);
    assert_eq!(at(d(2026, 8, 31)), None, "before admission");
    assert_eq!(
        at(d(2026, 9, 15)),
        Some(Placement {
            year: year("2026-2027"),
            division: "4A".into(),
            groups: vec!["4A-G1".into()],
        })
    );
    assert_eq!(at(d(2026, 10, 30)).unwrap().groups, vec!["4A-G1", "LAT"]);
    assert_eq!(
        at(d(2026, 11, 2)),
        Some(Placement {
            year: year("2026-2027"),
            division: "4B".into(),
            groups: vec!["4B-G2".into()],
        })
    );
    assert_eq!(at(d(2027, 2, 12)).unwrap().division, "4B");
    assert_eq!(at(d(2027, 2, 15)), None, "after departure");
}

#[test]
fn changes_are_recorded_in_date_order() {
    student()
        .given(vec![
            admitted(),
            SV::GroupJoined {
                group: "LAT".into(),
                on: d(2026, 10, 5),
            },
        ])
        .when(SC::ChangeDivision {
            division: "4B".into(),
            groups: vec![],
            on: d(2026, 9, 20),
        })
        .then_expect_english_error(
            "a change dated 2026-09-20 comes before the last recorded change (2026-10-05); changes are recorded in date order",
        );
    student()
        .given(vec![admitted()])
        .when(SC::ChangeDivision {
            division: "4A".into(),
            groups: vec![],
            on: d(2026, 10, 1),
        })
        .then_expect_english_error("the student is already in division 4A");
    student()
        .given(vec![admitted()])
        .when(SC::LeaveGroup {
            group: "LAT".into(),
            last_day: d(2026, 10, 1),
        })
        .then_expect_english_error("the student is not in group LAT");
    student()
        .given(vec![
            admitted(),
            SV::StudentDeparted {
                last_day: d(2026, 12, 18),
                reason: Personal::known("zoe", "déménagement".to_string()),
            },
        ])
        .when(SC::JoinGroup {
            group: "LAT".into(),
            on: d(2027, 1, 4),
        })
        .then_expect_english_error("the student left the establishment on 2026-12-18");
    student()
        .given_no_previous_events()
        .when(SC::JoinGroup {
            group: "LAT".into(),
            on: d(2027, 1, 4),
        })
        .then_expect_english_error("the student must be admitted first");
}

#[test]
fn promotion_and_leaving_are_safe_to_send_twice() {
    let promote = SC::Promote {
        year: year("2027-2028"),
        division: "3A".into(),
        groups: vec!["3A-G1".into()],
        on: d(2027, 9, 1),
    };
    let promoted = SV::StudentPromoted {
        year: year("2027-2028"),
        division: "3A".into(),
        groups: vec!["3A-G1".into()],
        on: d(2027, 9, 1),
    };
    student()
        .given(vec![admitted()])
        .when(promote.clone())
        .then_expect_events(vec![promoted.clone()]);
    student()
        .given(vec![admitted(), promoted.clone()])
        .when(promote)
        .then_expect_events(vec![]);
    student()
        .given(vec![admitted(), promoted.clone()])
        .when(SC::Promote {
            year: year("2027-2028"),
            division: "3B".into(),
            groups: vec![],
            on: d(2027, 9, 1),
        })
        .then_expect_english_error(
            "the student is already enrolled for 2027-2028 in 3A; change the division instead",
        );
    let s = fold(&[admitted(), promoted]);
    assert_eq!(s.placement_on(d(2027, 7, 3)).unwrap().division, "4A");
    assert_eq!(s.placement_on(d(2027, 9, 1)).unwrap().division, "3A");

    let leave = SC::LeaveAtYearEnd {
        last_day: d(2027, 7, 3),
        reason: "orientation en lycée".into(),
    };
    let left = SV::StudentDeparted {
        last_day: d(2027, 7, 3),
        reason: Personal::known("zoe", "orientation en lycée".to_string()),
    };
    student()
        .given(vec![admitted()])
        .when(leave.clone())
        .then_expect_events(vec![left.clone()]);
    student()
        .given(vec![admitted(), left])
        .when(leave.clone())
        .then_expect_events(vec![]);
    // Read back from the log, the reason is sealed: the day decides whether the
    // rollover already recorded this departure.
    let sealed = SV::StudentDeparted {
        last_day: d(2027, 7, 3),
        reason: Personal::Sealed(carnet_domain::personal::Sealed {
            owner: "zoe".into(),
            nonce: "bm9uY2U=".into(),
            data: "ZGF0YQ==".into(),
        }),
    };
    student()
        .given(vec![admitted(), sealed.clone()])
        .when(leave)
        .then_expect_events(vec![]);
    student()
        .given(vec![admitted(), sealed])
        .when(SC::LeaveAtYearEnd {
            last_day: d(2027, 7, 4),
            reason: "orientation en lycée".into(),
        })
        .then_expect_english_error("the student already left on 2027-07-03");
}

#[test]
fn guardians_have_rights_on_each_child() {
    let link = |guardian: &str, rights| SV::GuardianLinked {
        guardian: guardian.into(),
        name: Personal::known(guardian, guardian.to_uppercase()),
        relationship: "mère".into(),
        rights,
    };
    let s = fold(&[
        admitted(),
        link("mother", GuardianRights::FULL),
        link(
            "father",
            GuardianRights {
                see: true,
                justify: false,
                notified: false,
            },
        ),
    ]);
    assert_eq!(s.guardians_to_notify(), vec!["mother"]);
    assert_eq!(s.guardians_with(|r| r.see), vec!["father", "mother"]);
    assert_eq!(s.guardians_with(|r| r.justify), vec!["mother"]);

    student()
        .given(vec![admitted(), link("mother", GuardianRights::FULL)])
        .when(SC::LinkGuardian {
            guardian: "mother".into(),
            name: "M".into(),
            relationship: "mère".into(),
            rights: GuardianRights::FULL,
        })
        .then_expect_english_error("mother is already a guardian of this student");
    student()
        .given(vec![admitted(), link("mother", GuardianRights::FULL)])
        .when(SC::ChangeGuardianRights {
            guardian: "mother".into(),
            rights: GuardianRights::default(),
        })
        .then_expect_events(vec![SV::GuardianRightsChanged {
            guardian: "mother".into(),
            previous: GuardianRights::FULL,
            rights: GuardianRights::default(),
        }]);
}

#[test]
fn a_bad_ine_in_a_stored_event_is_refused_on_reading() {
    let json = serde_json::to_value(admitted()).unwrap();
    let text = json.to_string().replace("123456789AB", "12345");
    let err = serde_json::from_str::<SV>(&text).unwrap_err();
    assert!(err.to_string().contains("is not an INE"), "{err}");
}

#[test]
fn a_rollover_plan_checks_every_decision_and_gives_one_command_per_student() {
    let plan = Rollover {
        from: year("2026-2027"),
        from_last_day: d(2027, 7, 3),
        next: spec_2027(),
        divisions: vec![division("3A", "3e")],
        groups: vec![group("3A-G1", &["3A"], "demi")],
        decisions: [
            (
                "zoe".to_string(),
                Decision::Continue {
                    division: "3A".into(),
                    groups: vec!["3A-G1".into()],
                },
            ),
            (
                "helene".to_string(),
                Decision::Continue {
                    division: "3Z".into(),
                    groups: vec!["3A-G1".into()],
                },
            ),
            (
                "oedipe".to_string(),
                Decision::Leave {
                    reason: "déménagement".into(),
                },
            ),
        ]
        .into_iter()
        .collect(),
    };
    let problems: Vec<String> = plan
        .check()
        .iter()
        .map(|e| e.message(carnet_domain::refusal::Lang::En))
        .collect();
    assert_eq!(
        problems,
        vec![
            "there is no division 3Z in 2027-2028",
            "there is no group 3A-G1 (division 3Z) in 2027-2028",
        ]
    );
    let commands = plan.student_commands();
    assert_eq!(commands.len(), 3);
    assert!(matches!(&commands[1], (id, SC::LeaveAtYearEnd { .. }) if id == "oedipe"));
    assert!(matches!(
        plan.establishment_command(),
        EC::RollOverYear { .. }
    ));
}

#[test]
fn telling_families_of_marks_is_switched_on_once() {
    let on = EC::SetMarkNotifications { enabled: true };
    establishment()
        .given(school())
        .when(on.clone())
        .then_expect_events(vec![EV::MarkNotificationsSet { enabled: true }]);
    // Already on: nothing recorded. Off by default: turning it off records nothing.
    establishment()
        .given([school(), vec![EV::MarkNotificationsSet { enabled: true }]].concat())
        .when(on)
        .then_expect_events(vec![]);
    establishment()
        .given(school())
        .when(EC::SetMarkNotifications { enabled: false })
        .then_expect_events(vec![]);
}
