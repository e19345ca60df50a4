//! What the roster files (SIECLE, STS-Web, OneRoster) say about an establishment, in one
//! model, and the commands that bring Carnet to it.
//!
//! A file is the authority on what it lists. Things it lists and Carnet lacks are
//! created; things that differ are changed (a student's division or groups, a staff
//! member's roles); things Carnet has that the file no longer lists are removed (a
//! student departs, a staff member leaves, a service ends) but only when an import of
//! the same format made them: a SIECLE file never sends away a student admitted by hand.
//! Importing the same file again finds nothing to do.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use carnet_domain::contact::{ContactCommand, ContactEvent, GuardianContact};
use carnet_domain::enrolment::{
    DivisionSpec, Establishment, EstablishmentCommand, EstablishmentEvent, ExternalId, GroupSpec,
    GuardianRights, Identity, Ine, Period, PersonKind, Role, SchoolYear, Service, Student,
    StudentCommand, StudentEvent, SubjectCode, YearSpec,
};
use carnet_domain::personal::Personal;
use carnet_domain::Uai;
use carnet_store::{EventStore, RecordedEvent, StoreError};
use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use cqrs_es::Aggregate;

use crate::plan::{self, origin_of, Change, Plan, Tracked};
use crate::report::Location;

/// A record of a file and where it stands in it.
#[derive(Debug, Clone)]
pub struct Row<T> {
    pub at: Location,
    pub value: T,
}

#[derive(Debug, Clone)]
pub struct SubjectRow {
    pub code: SubjectCode,
    pub short: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct StaffRow {
    pub id: String,
    pub name: String,
    pub roles: BTreeSet<Role>,
}

#[derive(Debug, Clone)]
pub struct StudentRow {
    pub identity: Identity,
    pub division: String,
    pub groups: Vec<String>,
    /// The day the student entered the establishment, when the file says.
    pub entered: Option<NaiveDate>,
    /// The student's last day, when the file says they left.
    pub left: Option<NaiveDate>,
}

/// A guardian (responsable légal) of a student, as a file links them.
#[derive(Debug, Clone)]
pub struct GuardianRow {
    /// The student, by INE (one of the file's students or one Carnet has).
    pub student: Ine,
    /// The guardian's id (their key for personal data).
    pub guardian: String,
    pub name: String,
    pub relationship: String,
    pub rights: GuardianRights,
}

/// One address of a guardian as a file gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Given {
    /// The file has none.
    Missing,
    /// As Carnet keeps it (normalised by the domain's rules).
    Valid(String),
    /// The file has one the domain refuses (a typo): the import's notes say so, and
    /// what Carnet holds stays as it is.
    Refused,
}

/// How a guardian the file links is reached: e-mail address and mobile number.
#[derive(Debug, Clone)]
pub struct ContactRow {
    /// The guardian's id, as in the file's [`GuardianRow`]s.
    pub guardian: String,
    pub email: Given,
    pub mobile: Given,
}

/// Who an external identifier of a file names: staff and guardians by their id, a
/// student by INE (Carnet's id for them is found or made when they are enrolled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    Staff(String),
    Guardian(String),
    Student(Ine),
}

/// An identifier the ENT knows a person by, as a file carries it (OneRoster `userIds`).
#[derive(Debug, Clone)]
pub struct ExternalIdRow {
    pub holder: Holder,
    pub identifier: ExternalId,
}

/// An establishment as one file describes it. Sections a format does not carry are
/// `None` (or empty, for what is only ever created).
#[derive(Debug, Clone)]
pub struct Roster {
    pub format: &'static str,
    pub uai: Uai,
    pub year: SchoolYear,
    /// The day the file was exported: changes take effect then.
    pub as_of: NaiveDate,
    /// Where the file says which establishment and year it is about.
    pub header: Location,
    pub subjects: Vec<Row<SubjectRow>>,
    pub divisions: Vec<Row<DivisionSpec>>,
    pub groups: Vec<Row<GroupSpec>>,
    pub staff: Option<Vec<Row<StaffRow>>>,
    pub services: Option<Vec<Row<Service>>>,
    pub students: Option<Vec<Row<StudentRow>>>,
    /// Guardian links of the students (the file links and unlinks what it lists).
    pub guardians: Option<Vec<Row<GuardianRow>>>,
    /// Students whose guardians the file lists in full without listing the students
    /// themselves (a guardians-only file, such as SIECLE's responsables): as for the
    /// students of `students`, links an earlier file of this format made to them and
    /// that the file no longer has are unlinked.
    pub guardians_of: Vec<Ine>,
    /// The identifiers the ENT knows the file's people by, linked when not yet (a
    /// link is never removed by a file: a person keeps the ENT identity they sign in
    /// with when another file forgets it).
    pub external_ids: Vec<Row<ExternalIdRow>>,
    /// The addresses of the guardians the file links, once per guardian; `None` for
    /// formats that carry none. Recorded where they differ from Carnet's (`record_contacts`).
    pub contacts: Option<Vec<Row<ContactRow>>>,
    /// Records read from the file.
    pub rows: usize,
    /// What was read but left aside, and why.
    pub notes: Vec<String>,
}

/// The establishment's records an import compares a roster with.
#[derive(Debug)]
pub struct Current {
    pub establishment: Tracked<Establishment>,
    /// The format of the import that added each staff member and service.
    staff_origin: HashMap<String, String>,
    service_origin: BTreeMap<(SchoolYear, Service), String>,
    pub students: BTreeMap<String, Tracked<Student>>,
    by_ine: HashMap<Ine, String>,
    /// The format of the import that made each guardian link (student id, guardian).
    guardian_origin: BTreeMap<(String, String), String>,
    /// The log, to read and open the guardians' addresses when a file carries some.
    store: EventStore,
    tenant: Uai,
}

impl Current {
    pub async fn load(store: &EventStore, tenant: &Uai) -> Result<Self, StoreError> {
        let mut staff_origin = HashMap::new();
        let mut service_origin = BTreeMap::new();
        let establishment =
            plan::load::<Establishment>(store, tenant, tenant.as_str(), |event, record| {
                let Some(format) = origin_of(record) else {
                    return;
                };
                match event {
                    EstablishmentEvent::StaffMemberAdded { person, .. } => {
                        staff_origin.insert(person.clone(), format);
                    }
                    EstablishmentEvent::ServiceAssigned { year, service } => {
                        service_origin.insert((year.clone(), service.clone()), format);
                    }
                    _ => {}
                }
            })
            .await?;
        let mut guardian_origin = BTreeMap::new();
        let mut streams: BTreeMap<String, Vec<RecordedEvent>> = BTreeMap::new();
        for event in store.read_stream_type(tenant, Student::TYPE).await? {
            streams
                .entry(event.stream.stream_id.clone())
                .or_default()
                .push(event);
        }
        let mut students = BTreeMap::new();
        for (id, events) in streams {
            let student = plan::fold::<Student>(&id, events, |event, record| match event {
                StudentEvent::GuardianLinked { guardian, .. } => {
                    let key = (id.clone(), guardian.clone());
                    match origin_of(record) {
                        Some(format) => guardian_origin.insert(key, format),
                        None => guardian_origin.remove(&key),
                    };
                }
                StudentEvent::GuardianUnlinked { guardian } => {
                    guardian_origin.remove(&(id.clone(), guardian.clone()));
                }
                _ => {}
            })?;
            students.insert(id, student);
        }
        let by_ine = students
            .iter()
            .filter_map(|(id, s)| Some((s.state.identity.as_ref()?.ine.clone(), id.clone())))
            .collect();
        Ok(Current {
            establishment,
            staff_origin,
            service_origin,
            students,
            by_ine,
            guardian_origin,
            store: store.clone(),
            tenant: tenant.clone(),
        })
    }
}

/// Plans the commands that bring `current` to what `roster` says.
pub async fn plan_roster(
    plan: &mut Plan,
    current: &mut Current,
    roster: &Roster,
    establishment_name: &str,
) {
    let (uai, year) = (&roster.uai, &roster.year);
    if !ensure_year(
        plan,
        &mut current.establishment,
        (uai, year),
        establishment_name,
        &roster.header,
    )
    .await
    {
        return;
    }
    let Some(year) = current
        .establishment
        .state
        .years
        .get(&roster.year)
        .map(|y| (y.first_day, y.last_day))
    else {
        return;
    };
    structure(plan, current, roster).await;
    if let Some(staff) = &roster.staff {
        staff_members(plan, current, roster, staff).await;
    }
    if let Some(services) = &roster.services {
        assign_services(plan, current, roster, services).await;
    }
    if let Some(students) = &roster.students {
        enrol_students(plan, current, roster, students, year).await;
    }
    if let Some(guardians) = &roster.guardians {
        link_guardians(plan, current, roster, guardians).await;
    }
    link_external_ids(plan, current, &roster.external_ids).await;
    if let Some(contacts) = &roster.contacts {
        record_contacts(plan, current, roster, contacts).await;
    }
}

/// The file's external identifiers linked to their people; one already linked to the
/// same person is left alone (a re-import records nothing), one held by someone else
/// is a problem naming who holds it (the domain's refusal).
async fn link_external_ids(plan: &mut Plan, current: &mut Current, rows: &[Row<ExternalIdRow>]) {
    for row in rows {
        let (person, kind) = match &row.value.holder {
            Holder::Staff(id) => (id.clone(), PersonKind::Staff),
            Holder::Guardian(id) => (id.clone(), PersonKind::Guardian),
            Holder::Student(ine) => match current.by_ine.get(ine) {
                Some(id) => (id.clone(), PersonKind::Student),
                // Not enrolled: the file's problem about that student says why.
                None => continue,
            },
        };
        let identifier = row.value.identifier.clone();
        let target = &mut current.establishment;
        if target
            .state
            .external_ids
            .get(&identifier.value)
            .is_some_and(|link| link.person == person)
        {
            continue;
        }
        let command = EstablishmentCommand::LinkExternalId {
            person,
            kind,
            identifier,
        };
        let kind = ("identifiers", Change::Created);
        plan.execute(target, command, &(), &row.at, kind, "userIds")
            .await;
    }
}

/// Registers the establishment and opens the year when they are not yet: what a fresh
/// establishment's first import does. Returns whether the year is open.
pub async fn ensure_year(
    plan: &mut Plan,
    target: &mut Tracked<Establishment>,
    (uai, year): (&Uai, &SchoolYear),
    name: &str,
    header: &Location,
) -> bool {
    if target.state.uai.is_none() {
        let register = EstablishmentCommand::Register {
            uai: uai.clone(),
            name: name.to_string(),
            time_zone: chrono_tz::Europe::Paris,
            morning_ends: NaiveTime::from_hms_opt(12, 30, 0).unwrap_or_default(),
        };
        let kind = ("establishment", Change::Created);
        if !plan
            .execute(target, register, &(), header, kind, "establishment")
            .await
        {
            return false;
        }
    }
    if !target.state.years.contains_key(year) {
        let open = EstablishmentCommand::OpenSchoolYear(default_year(year));
        let kind = ("school years", Change::Created);
        if !plan
            .execute(target, open, &(), header, kind, "school year")
            .await
        {
            return false;
        }
    }
    true
}

/// A year the files name but Carnet has not opened: 1 September to the first Saturday of
/// July, in trimestres ending with November and February (the administration adjusts
/// periods before the first class council).
pub fn default_year(year: &SchoolYear) -> YearSpec {
    let start = i32::from(year.first_year());
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
    let mut last_day = d(start + 1, 7, 1);
    while last_day.weekday() != chrono::Weekday::Sat {
        last_day += Duration::days(1);
    }
    let end_of_february = d(start + 1, 3, 1) - Duration::days(1);
    let period = |id: &str, name: &str, from, to| Period {
        id: id.into(),
        name: name.into(),
        from,
        to,
    };
    YearSpec {
        year: year.clone(),
        first_day: d(start, 9, 1),
        last_day,
        periods: vec![
            period("T1", "1er trimestre", d(start, 9, 1), d(start, 11, 30)),
            period("T2", "2e trimestre", d(start, 12, 1), end_of_february),
            period("T3", "3e trimestre", d(start + 1, 3, 1), last_day),
        ],
    }
}

/// Subjects, divisions and groups the establishment does not have yet.
async fn structure(plan: &mut Plan, current: &mut Current, roster: &Roster) {
    let target = &mut current.establishment;
    for row in &roster.subjects {
        let s = &row.value;
        if target.state.subjects.contains_key(&s.code) {
            continue;
        }
        let command = EstablishmentCommand::DefineSubject {
            code: s.code.clone(),
            short: s.short.clone(),
            name: s.name.clone(),
        };
        let kind = ("subjects", Change::Created);
        plan.execute(target, command, &(), &row.at, kind, "subject")
            .await;
    }
    for row in &roster.divisions {
        if has_year(target, &roster.year, |y| {
            y.divisions.contains_key(&row.value.id)
        }) {
            continue;
        }
        let command = EstablishmentCommand::CreateDivision {
            year: roster.year.clone(),
            division: row.value.clone(),
        };
        let kind = ("divisions", Change::Created);
        plan.execute(target, command, &(), &row.at, kind, "division")
            .await;
    }
    for row in &roster.groups {
        if has_year(target, &roster.year, |y| {
            y.groups.contains_key(&row.value.id)
        }) {
            continue;
        }
        let command = EstablishmentCommand::CreateGroup {
            year: roster.year.clone(),
            group: row.value.clone(),
        };
        let kind = ("groups", Change::Created);
        plan.execute(target, command, &(), &row.at, kind, "group")
            .await;
    }
}

fn has_year(
    target: &Tracked<Establishment>,
    year: &SchoolYear,
    test: impl Fn(&carnet_domain::enrolment::Year) -> bool,
) -> bool {
    target.state.years.get(year).is_some_and(test)
}

/// Staff of the file added or given their roles; staff an earlier file of this format
/// added and this one no longer lists leave on the export day.
async fn staff_members(
    plan: &mut Plan,
    current: &mut Current,
    roster: &Roster,
    rows: &[Row<StaffRow>],
) {
    let target = &mut current.establishment;
    let mut listed = BTreeSet::new();
    for row in rows {
        let s = &row.value;
        listed.insert(s.id.clone());
        let command = match target.state.staff.get(&s.id) {
            None => (
                EstablishmentCommand::AddStaffMember {
                    person: s.id.clone(),
                    name: s.name.clone(),
                    roles: s.roles.clone(),
                },
                Change::Created,
            ),
            Some(member) if member.left_on.is_none() && member.roles != s.roles => (
                EstablishmentCommand::ChangeStaffRoles {
                    person: s.id.clone(),
                    roles: s.roles.clone(),
                },
                Change::Changed,
            ),
            Some(_) => continue,
        };
        plan.execute(
            target,
            command.0,
            &(),
            &row.at,
            ("staff", command.1),
            "staff",
        )
        .await;
    }
    let gone: Vec<String> = target
        .state
        .staff
        .iter()
        .filter(|(id, member)| {
            member.left_on.is_none()
                && !listed.contains(*id)
                && current.staff_origin.get(*id).map(String::as_str) == Some(roster.format)
        })
        .map(|(id, _)| id.clone())
        .collect();
    for person in gone {
        let command = EstablishmentCommand::StaffMemberLeaves {
            person,
            last_day: roster.as_of,
        };
        let kind = ("staff", Change::Removed);
        plan.execute(target, command, &(), &roster.header, kind, "staff")
            .await;
    }
}

/// Services of the file assigned; services of the year an earlier file of this format
/// assigned and this one no longer lists removed.
async fn assign_services(
    plan: &mut Plan,
    current: &mut Current,
    roster: &Roster,
    rows: &[Row<Service>],
) {
    let target = &mut current.establishment;
    let listed: BTreeSet<&Service> = rows.iter().map(|r| &r.value).collect();
    for row in rows {
        if has_year(target, &roster.year, |y| y.services.contains(&row.value)) {
            continue;
        }
        let command = EstablishmentCommand::AssignService {
            year: roster.year.clone(),
            service: row.value.clone(),
        };
        let kind = ("services", Change::Created);
        plan.execute(target, command, &(), &row.at, kind, "service")
            .await;
    }
    let gone: Vec<Service> = target
        .state
        .years
        .get(&roster.year)
        .map(|y| {
            y.services
                .iter()
                .filter(|s| {
                    !listed.contains(s)
                        && current
                            .service_origin
                            .get(&(roster.year.clone(), (*s).clone()))
                            .map(String::as_str)
                            == Some(roster.format)
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    for service in gone {
        let command = EstablishmentCommand::RemoveService {
            year: roster.year.clone(),
            service,
        };
        let kind = ("services", Change::Removed);
        plan.execute(target, command, &(), &roster.header, kind, "service")
            .await;
    }
}

/// Students admitted, moved, promoted or departed as the file says.
async fn enrol_students(
    plan: &mut Plan,
    current: &mut Current,
    roster: &Roster,
    rows: &[Row<StudentRow>],
    (first_day, last_day): (NaiveDate, NaiveDate),
) {
    let as_of = roster.as_of.clamp(first_day, last_day);
    let mut listed = BTreeSet::new();
    for row in rows {
        let s = &row.value;
        if !known_classes(plan, current, roster, row) {
            continue;
        }
        let id = match current.by_ine.get(&s.identity.ine) {
            Some(id) => id.clone(),
            None => {
                let id = s.identity.ine.to_string();
                current.by_ine.insert(s.identity.ine.clone(), id.clone());
                id
            }
        };
        listed.insert(id.clone());
        let target = current
            .students
            .entry(id.clone())
            .or_insert_with(|| Tracked::new(id.clone()));
        for (command, change) in student_commands(target, roster, s, as_of, first_day) {
            let kind = ("students", change);
            if !plan
                .execute(target, command, &(), &row.at, kind, "student")
                .await
            {
                break;
            }
        }
    }
    let gone: Vec<String> = current
        .students
        .iter()
        .filter(|(id, s)| {
            !listed.contains(*id)
                && s.origin.as_deref() == Some(roster.format)
                && s.state.departure.is_none()
                && s.state
                    .stints
                    .last()
                    .is_some_and(|stint| stint.year == roster.year)
        })
        .map(|(id, _)| id.clone())
        .collect();
    for id in gone {
        let Some(target) = current.students.get_mut(&id) else {
            continue;
        };
        let command = StudentCommand::Depart {
            last_day: as_of,
            reason: format!(
                "no longer in the {} export of {}",
                roster.format, roster.as_of
            ),
        };
        let kind = ("students", Change::Removed);
        plan.execute(target, command, &(), &roster.header, kind, "student")
            .await;
    }
}

/// Whether the student's division and groups exist in the year; a problem otherwise.
fn known_classes(
    plan: &mut Plan,
    current: &Current,
    roster: &Roster,
    row: &Row<StudentRow>,
) -> bool {
    let Some(year) = current.establishment.state.years.get(&roster.year) else {
        return false;
    };
    let mut known = true;
    if !year.divisions.contains_key(&row.value.division) {
        plan.problem(
            &row.at,
            "division",
            format!(
                "there is no division {} in {}",
                row.value.division, roster.year
            ),
        );
        known = false;
    }
    for group in &row.value.groups {
        if !year.groups.contains_key(group) {
            plan.problem(
                &row.at,
                "groups",
                format!("there is no group {group} in {}", roster.year),
            );
            known = false;
        }
    }
    known
}

/// What one student of the file needs: admission, promotion from an earlier year, a
/// change of division or groups, departure.
fn student_commands(
    target: &Tracked<Student>,
    roster: &Roster,
    s: &StudentRow,
    as_of: NaiveDate,
    first_day: NaiveDate,
) -> Vec<(StudentCommand, Change)> {
    let student = &target.state;
    let mut commands = Vec::new();
    if student.departure.is_some() {
        // A student who left stays left; coming back is a new admission by hand.
        return commands;
    }
    let Some(stint) = student.stints.last() else {
        let on = s.entered.unwrap_or(first_day).max(first_day);
        commands.push((
            StudentCommand::Admit {
                student: target.id.clone(),
                identity: s.identity.clone(),
                year: roster.year.clone(),
                division: s.division.clone(),
                groups: s.groups.clone(),
                on,
            },
            Change::Created,
        ));
        if let Some(left) = s.left {
            commands.push((depart(roster, left.max(on)), Change::Removed));
        }
        return commands;
    };
    if stint.year < roster.year {
        commands.push((
            StudentCommand::Promote {
                year: roster.year.clone(),
                division: s.division.clone(),
                groups: s.groups.clone(),
                on: first_day,
            },
            Change::Changed,
        ));
    } else if stint.year == roster.year {
        let open_groups: BTreeSet<&String> = stint
            .groups
            .iter()
            .filter(|g| g.to.is_none())
            .map(|g| &g.group)
            .collect();
        let wanted: BTreeSet<&String> = s.groups.iter().collect();
        if stint.division != s.division {
            commands.push((
                StudentCommand::ChangeDivision {
                    division: s.division.clone(),
                    groups: s.groups.clone(),
                    on: as_of,
                },
                Change::Changed,
            ));
        } else if open_groups != wanted {
            for group in open_groups.difference(&wanted) {
                commands.push((
                    StudentCommand::LeaveGroup {
                        group: (*group).clone(),
                        last_day: as_of - Duration::days(1),
                    },
                    Change::Changed,
                ));
            }
            for group in wanted.difference(&open_groups) {
                commands.push((
                    StudentCommand::JoinGroup {
                        group: (*group).clone(),
                        on: as_of,
                    },
                    Change::Changed,
                ));
            }
        }
    }
    if let Some(left) = s.left {
        commands.push((depart(roster, left), Change::Removed));
    }
    commands
}

fn depart(roster: &Roster, last_day: NaiveDate) -> StudentCommand {
    StudentCommand::Depart {
        last_day,
        reason: format!(
            "left the establishment ({} export of {})",
            roster.format, roster.as_of
        ),
    }
}

/// Guardians of the file linked (or given the rights the file says); links an earlier
/// file of this format made, to students this file lists, and that it no longer has,
/// unlinked.
async fn link_guardians(
    plan: &mut Plan,
    current: &mut Current,
    roster: &Roster,
    rows: &[Row<GuardianRow>],
) {
    let mut listed: BTreeSet<(String, String)> = BTreeSet::new();
    for row in rows {
        let g = &row.value;
        let Some(id) = current.by_ine.get(&g.student).cloned() else {
            plan.problem(
                &row.at,
                "guardian",
                format!("student {} is neither in the file nor in Carnet", g.student),
            );
            continue;
        };
        listed.insert((id.clone(), g.guardian.clone()));
        let Some(target) = current.students.get_mut(&id) else {
            continue;
        };
        let command = match target.state.guardians.get(&g.guardian) {
            None => (
                StudentCommand::LinkGuardian {
                    guardian: g.guardian.clone(),
                    name: g.name.clone(),
                    relationship: g.relationship.clone(),
                    rights: g.rights,
                },
                Change::Created,
            ),
            Some(link) if link.rights != g.rights => (
                StudentCommand::ChangeGuardianRights {
                    guardian: g.guardian.clone(),
                    rights: g.rights,
                },
                Change::Changed,
            ),
            Some(_) => continue,
        };
        let kind = ("guardians", command.1);
        plan.execute(target, command.0, &(), &row.at, kind, "guardian")
            .await;
    }
    let students: BTreeSet<String> = roster
        .students
        .iter()
        .flatten()
        .map(|row| &row.value.identity.ine)
        .chain(&roster.guardians_of)
        .filter_map(|ine| current.by_ine.get(ine).cloned())
        .collect();
    let gone: Vec<(String, String)> = current
        .guardian_origin
        .iter()
        .filter(|(key, format)| {
            format.as_str() == roster.format && students.contains(&key.0) && !listed.contains(*key)
        })
        .map(|(key, _)| key.clone())
        .collect();
    for (id, guardian) in gone {
        let Some(target) = current.students.get_mut(&id) else {
            continue;
        };
        if !target.state.guardians.contains_key(&guardian) {
            continue;
        }
        let command = StudentCommand::UnlinkGuardian { guardian };
        let kind = ("guardians", Change::Removed);
        plan.execute(target, command, &(), &roster.header, kind, "guardian")
            .await;
    }
}

/// One address of a guardian as Carnet holds it, opened, with the import format that
/// gave it its value (`None`: by hand, through the API).
#[derive(Debug, Default)]
struct Held {
    value: Option<String>,
    origin: Option<String>,
}

impl Held {
    /// The address after a `ContactRecorded` giving `value`: its origin changes only
    /// when its value does (an import that keeps an address by hand keeps it by hand).
    fn record(&mut self, value: Option<String>, origin: &Option<String>) {
        if value != self.value {
            self.value = value;
            self.origin = origin.clone();
        }
    }

    /// What the guardian's address becomes after a file giving `given`.
    fn wanted(&self, given: &Given, format: &str) -> Option<String> {
        match given {
            Given::Valid(value) => Some(value.clone()),
            // A typo in the file says nothing of the address Carnet holds.
            Given::Refused => self.value.clone(),
            // Removed only when a file of this format gave it.
            Given::Missing if self.origin.as_deref() == Some(format) => None,
            Given::Missing => self.value.clone(),
        }
    }
}

/// Records the addresses of the file's guardians when they differ from what Carnet
/// holds (read from each guardian's `guardian_contact` stream and opened with the
/// vault): the file's address replaces Carnet's; an address the file lacks is removed
/// when a file of this format gave it, kept when it was given by hand; a value the
/// domain refuses (in the notes) leaves Carnet's as it is. Nothing differs, nothing is
/// recorded.
async fn record_contacts(
    plan: &mut Plan,
    current: &mut Current,
    roster: &Roster,
    rows: &[Row<ContactRow>],
) {
    let (store, tenant) = (&current.store, &current.tenant);
    let mut streams: BTreeMap<String, Vec<RecordedEvent>> = BTreeMap::new();
    match store.read_stream_type(tenant, GuardianContact::TYPE).await {
        Ok(events) => {
            for event in events {
                streams
                    .entry(event.stream.stream_id.clone())
                    .or_default()
                    .push(event);
            }
        }
        Err(e) => {
            let rule = format!("the guardians' addresses cannot be read: {e}");
            plan.problem(&roster.header, "guardian_contact", rule);
            return;
        }
    }
    for row in rows {
        let c = &row.value;
        let events = streams.remove(&c.guardian).unwrap_or_default();
        let mut recorded = Vec::new();
        let folded = plan::fold::<GuardianContact>(&c.guardian, events, |event, record| {
            if let ContactEvent::ContactRecorded { email, mobile, .. } = event {
                recorded.push((email.clone(), mobile.clone(), origin_of(record)));
            }
        });
        let mut target = match folded {
            Ok(target) => target,
            Err(e) => {
                plan.problem(&row.at, "guardian_contact", e.to_string());
                continue;
            }
        };
        let (mut email, mut mobile) = (Held::default(), Held::default());
        let mut erased = false;
        for (e, m, origin) in recorded {
            match (
                open(store, tenant, e.as_ref()).await,
                open(store, tenant, m.as_ref()).await,
            ) {
                (Ok(e), Ok(m)) => {
                    erased |= e.is_none() || m.is_none();
                    email.record(e.flatten(), &origin);
                    mobile.record(m.flatten(), &origin);
                }
                (Err(e), _) | (_, Err(e)) => {
                    plan.problem(&row.at, "guardian_contact", e.to_string());
                    erased = true;
                }
            }
        }
        if erased {
            // The guardian's personal data was erased: nothing is recorded of them again.
            continue;
        }
        let wanted = (
            email.wanted(&c.email, roster.format),
            mobile.wanted(&c.mobile, roster.format),
        );
        if wanted == (email.value.clone(), mobile.value.clone()) {
            continue;
        }
        let change = if email.value.is_none() && mobile.value.is_none() {
            Change::Created
        } else if wanted == (None, None) {
            Change::Removed
        } else {
            Change::Changed
        };
        let command = ContactCommand::RecordContact {
            guardian: c.guardian.clone(),
            email: wanted.0,
            mobile: wanted.1,
            by: plan.provenance().actor.clone(),
        };
        plan.execute(
            &mut target,
            command,
            &(),
            &row.at,
            ("contacts", change),
            "MEL, TEL_PORTABLE",
        )
        .await;
    }
}

/// A sealed address in clear: `Some(None)` when there is no address, `None` once its
/// owner was erased.
async fn open(
    store: &EventStore,
    tenant: &Uai,
    value: Option<&Personal<String>>,
) -> Result<Option<Option<String>>, StoreError> {
    match value {
        None => Ok(Some(None)),
        Some(value) => Ok(store.vault().open(tenant, value).await?.map(Some)),
    }
}
