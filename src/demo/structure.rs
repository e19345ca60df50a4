//! The demo establishment's structure, as data: divisions and groups, subjects with
//! their weekly hours, staff and their services, students and their guardians. Pure and
//! seeded, so the same seed always gives the same school.

use std::collections::BTreeMap;

use carnet_domain::enrolment::{ClassRef, DivisionSpec, GroupSpec, GuardianRights, Role};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::people;

/// Students per division, as in a French collège (the national average is near 25).
pub const CLASS_SIZE: usize = 25;
pub const LEVELS: [&str; 4] = ["6e", "5e", "4e", "3e"];

/// A subject of the demo and its weekly hours: every week, plus hours in week A only
/// and week B only (how half hours are timetabled: 4.5 h = 4 h + 1 h every other week).
pub struct SubjectHours {
    pub code: &'static str,
    pub short: &'static str,
    pub name: &'static str,
    pub every: u32,
    pub week_a: u32,
    pub week_b: u32,
    pub room: RoomKind,
    /// Taught in language groups (LV2), from 5e on.
    pub lv2: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoomKind {
    Classroom,
    Lab,
    Gym,
    Studio,
}

impl RoomKind {
    pub fn label(self) -> &'static str {
        match self {
            RoomKind::Classroom => "Salle",
            RoomKind::Lab => "Labo",
            RoomKind::Gym => "Gymnase",
            RoomKind::Studio => "Atelier",
        }
    }
}

/// The subjects, with codes in the shape of the BCN's N_MATIERE table. The list is the
/// demo's: a real establishment brings its own through the STS-Web import.
pub const SUBJECTS: &[SubjectHours] = &[
    subject("020700", "FRANC", "Français", 4, 1, 0, RoomKind::Classroom),
    subject(
        "061300",
        "MATHS",
        "Mathématiques",
        3,
        0,
        1,
        RoomKind::Classroom,
    ),
    subject(
        "040003",
        "HI-GE",
        "Histoire-géographie",
        3,
        0,
        0,
        RoomKind::Classroom,
    ),
    subject(
        "030201",
        "ANG1",
        "Anglais LV1",
        3,
        0,
        0,
        RoomKind::Classroom,
    ),
    subject(
        "062900",
        "SVT",
        "Sciences de la vie et de la Terre",
        1,
        1,
        0,
        RoomKind::Lab,
    ),
    subject("063800", "PH-CH", "Physique-chimie", 1, 0, 1, RoomKind::Lab),
    subject("070200", "TECHN", "Technologie", 1, 1, 0, RoomKind::Studio),
    subject(
        "100100",
        "EPS",
        "Éducation physique et sportive",
        3,
        0,
        0,
        RoomKind::Gym,
    ),
    subject(
        "080100",
        "A-PLA",
        "Arts plastiques",
        1,
        0,
        0,
        RoomKind::Studio,
    ),
    subject(
        "084400",
        "EDMUS",
        "Éducation musicale",
        1,
        0,
        0,
        RoomKind::Studio,
    ),
    SubjectHours {
        code: "030402",
        short: "ESP2",
        name: "Espagnol LV2",
        every: 2,
        week_a: 1,
        week_b: 0,
        room: RoomKind::Classroom,
        lv2: true,
    },
    SubjectHours {
        code: "030102",
        short: "ALL2",
        name: "Allemand LV2",
        every: 2,
        week_a: 1,
        week_b: 0,
        room: RoomKind::Classroom,
        lv2: true,
    },
];

const fn subject(
    code: &'static str,
    short: &'static str,
    name: &'static str,
    every: u32,
    week_a: u32,
    week_b: u32,
    room: RoomKind,
) -> SubjectHours {
    SubjectHours {
        code,
        short,
        name,
        every,
        week_a,
        week_b,
        room,
        lv2: false,
    }
}

#[derive(Debug, Clone)]
pub struct StaffPlan {
    pub id: String,
    pub name: String,
    pub roles: Vec<Role>,
    /// The subject a teacher teaches (its index in [`SUBJECTS`]).
    pub subject: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct GuardianPlan {
    pub id: String,
    pub name: String,
    pub relationship: &'static str,
    pub rights: GuardianRights,
}

#[derive(Debug, Clone)]
pub struct StudentPlan {
    pub id: String,
    pub ine: String,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: chrono::NaiveDate,
    pub division: String,
    pub groups: Vec<String>,
    pub guardians: Vec<GuardianPlan>,
    /// How often this student misses school: most rarely, a few often (the students the
    /// L131-8 alert exists for).
    pub absence_rate: f64,
}

#[derive(Debug)]
pub struct Structure {
    pub divisions: Vec<DivisionSpec>,
    pub groups: Vec<GroupSpec>,
    pub staff: Vec<StaffPlan>,
    /// (teacher, subject index, class) for every division or LV2 group.
    pub services: Vec<(String, usize, ClassRef)>,
    pub students: Vec<StudentPlan>,
}

impl Structure {
    pub fn division_level(&self, division: &str) -> Option<&str> {
        self.divisions
            .iter()
            .find(|d| d.id == division)
            .map(|d| d.level.as_str())
    }
}

/// Teachers' weekly service in the demo (a certifié owes 18 h; a little less keeps the
/// greedy timetable builder from running out of slots).
const TEACHER_HOURS: f64 = 16.0;

pub fn build(students: usize, rng: &mut ChaCha8Rng) -> Structure {
    let division_count = students.div_ceil(CLASS_SIZE).max(LEVELS.len());
    let per_level = division_count.div_ceil(LEVELS.len());
    let mut divisions = Vec::new();
    let mut groups = Vec::new();
    for level in LEVELS {
        for n in 1..=per_level {
            let id = format!("{level}{n}");
            divisions.push(DivisionSpec {
                id: id.clone(),
                name: format!("{level} {n}"),
                level: level.to_string(),
            });
            for half in ["G1", "G2"] {
                groups.push(GroupSpec {
                    id: format!("{id}-{half}"),
                    name: format!("{level} {n} groupe {half}"),
                    divisions: vec![id.clone()],
                    partition: "demi-classe".into(),
                });
            }
            if level != "6e" {
                for lv2 in SUBJECTS.iter().filter(|s| s.lv2) {
                    groups.push(GroupSpec {
                        id: format!("{id}-{}", lv2.short),
                        name: format!("{level} {n} {}", lv2.name),
                        divisions: vec![id.clone()],
                        partition: "LV2".into(),
                    });
                }
            }
        }
    }

    let (staff, services) = staff_and_services(&divisions, rng);
    let students = students_of(students, &divisions, rng);
    Structure {
        divisions,
        groups,
        staff,
        services,
        students,
    }
}

fn staff_and_services(
    divisions: &[DivisionSpec],
    rng: &mut ChaCha8Rng,
) -> (Vec<StaffPlan>, Vec<(String, usize, ClassRef)>) {
    let mut staff = vec![
        staff_member("principal", &[Role::Principal], None, rng),
        staff_member("adjoint", &[Role::Principal], None, rng),
        staff_member("secretariat", &[Role::Secretariat], None, rng),
    ];
    let per_cpe = 600;
    for n in 1..=divisions.len().div_ceil(per_cpe / CLASS_SIZE) {
        staff.push(staff_member(&format!("cpe{n}"), &[Role::Cpe], None, rng));
    }
    for n in 1..=(divisions.len() / 6).max(2) {
        staff.push(staff_member(&format!("aed{n}"), &[Role::Aed], None, rng));
    }
    let mut services = Vec::new();
    for (index, subject) in SUBJECTS.iter().enumerate() {
        // Each class of this subject: a division, or a division's LV2 group.
        let classes: Vec<ClassRef> = divisions
            .iter()
            .filter(|d| !subject.lv2 || d.level != "6e")
            .map(|d| {
                if subject.lv2 {
                    ClassRef::Group(format!("{}-{}", d.id, subject.short))
                } else {
                    ClassRef::Division(d.id.clone())
                }
            })
            .collect();
        let hours = f64::from(subject.every) + f64::from(subject.week_a + subject.week_b) / 2.0;
        let per_teacher = ((TEACHER_HOURS / hours).floor() as usize).max(1);
        let teachers = classes.len().div_ceil(per_teacher).max(1);
        let ids: Vec<String> = (1..=teachers)
            .map(|n| format!("{}{n}", subject.short.to_lowercase()))
            .collect();
        for id in &ids {
            staff.push(staff_member(id, &[Role::Teacher], Some(index), rng));
        }
        for (n, class) in classes.into_iter().enumerate() {
            services.push((ids[n / per_teacher].clone(), index, class));
        }
    }
    (staff, services)
}

fn staff_member(
    id: &str,
    roles: &[Role],
    subject: Option<usize>,
    rng: &mut ChaCha8Rng,
) -> StaffPlan {
    let title = if rng.random_bool(0.5) { "Mme" } else { "M." };
    StaffPlan {
        id: id.to_string(),
        name: format!("{title} {}", people::last_name(rng)),
        roles: roles.to_vec(),
        subject,
    }
}

fn students_of(count: usize, divisions: &[DivisionSpec], rng: &mut ChaCha8Rng) -> Vec<StudentPlan> {
    let birth_year = |level: &str| match level {
        "6e" => 2015,
        "5e" => 2014,
        "4e" => 2013,
        _ => 2012,
    };
    let mut per_division: BTreeMap<&str, usize> = BTreeMap::new();
    (0..count)
        .map(|n| {
            let division = &divisions[n % divisions.len()];
            let seat = per_division.entry(&division.id).or_default();
            *seat += 1;
            let half = if seat.is_multiple_of(2) { "G2" } else { "G1" };
            let mut groups = vec![format!("{}-{half}", division.id)];
            if division.level != "6e" {
                let lv2 = if rng.random_bool(0.6) { "ESP2" } else { "ALL2" };
                groups.push(format!("{}-{lv2}", division.id));
            }
            let last_name = people::last_name(rng).to_string();
            let first_name = people::first_name(rng).to_string();
            let birth_date = chrono::NaiveDate::from_yo_opt(
                birth_year(&division.level),
                rng.random_range(1..=365),
            )
            .unwrap_or_default();
            let guardians = guardians_of(n, &last_name, rng);
            let absence_rate = match rng.random_range(0..100) {
                0..=2 => 0.25,
                3..=19 => 0.06,
                _ => 0.015,
            };
            StudentPlan {
                id: format!("eleve{:05}", n + 1),
                ine: people::ine(n),
                first_name,
                last_name,
                birth_date,
                division: division.id.clone(),
                groups,
                guardians,
                absence_rate,
            }
        })
        .collect()
}

fn guardians_of(n: usize, last_name: &str, rng: &mut ChaCha8Rng) -> Vec<GuardianPlan> {
    let mut guardians = vec![GuardianPlan {
        id: format!("resp{:05}a", n + 1),
        name: format!("{} {last_name}", people::first_name(rng)),
        relationship: "mère",
        rights: GuardianRights::FULL,
    }];
    // Most children have two legal guardians; some second guardians only follow
    // (no justification, no notification), as after a separation.
    if rng.random_bool(0.8) {
        let rights = if rng.random_bool(0.85) {
            GuardianRights::FULL
        } else {
            GuardianRights {
                see: true,
                justify: false,
                notified: false,
            }
        };
        guardians.push(GuardianPlan {
            id: format!("resp{:05}b", n + 1),
            name: format!("{} {last_name}", people::first_name(rng)),
            relationship: "père",
            rights,
        });
    }
    guardians
}
