//! A student: identity, enrolment history with effective dates, and guardians with their
//! rights on this child.
//!
//! One aggregate per student. Every change of placement carries the date it takes
//! effect, so the student's division and groups on any past date follow from the
//! events ([`Student::placement_on`]), which is what registers, report cards and
//! auditors need.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::ids::{Ine, SchoolYear};
use crate::personal::Personal;
use crate::refusal::{date_fr, what_fr, Lang, Refusal};

/// What a guardian (responsable légal) may do for this child. A parent who lost
/// parental authority keeps no right; a second guardian may be kept informed without
/// justifying (the rights Pronote calls "responsable légal" / "autre responsable").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GuardianRights {
    /// See the child's timetable, absences, grades.
    pub see: bool,
    /// Declare justifications of absences.
    pub justify: bool,
    /// Receive a notification when an absence is recorded.
    pub notified: bool,
}

impl GuardianRights {
    /// A legal guardian with every right.
    pub const FULL: GuardianRights = GuardianRights {
        see: true,
        justify: true,
        notified: true,
    };
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardianLink {
    /// Personal data of the guardian (their key).
    pub name: Personal<String>,
    /// Mère, père, tuteur, ...
    pub relationship: String,
    pub rights: GuardianRights,
}

/// The student's identity as SIECLE gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub ine: Ine,
    pub last_name: String,
    pub first_name: String,
    pub birth_date: NaiveDate,
}

/// The identity as the log keeps it: the INE (the national identifier other records
/// refer to) in clear, names and birth date as the student's personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRecord {
    pub ine: Ine,
    pub last_name: Personal<String>,
    pub first_name: Personal<String>,
    pub birth_date: Personal<NaiveDate>,
}

impl IdentityRecord {
    /// `identity`, marked as `student`'s personal data.
    pub fn of(student: &str, identity: Identity) -> Self {
        IdentityRecord {
            ine: identity.ine,
            last_name: Personal::known(student, identity.last_name),
            first_name: Personal::known(student, identity.first_name),
            birth_date: Personal::known(student, identity.birth_date),
        }
    }
}

/// A stretch of time in one division, with the groups joined and left during it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stint {
    pub year: SchoolYear,
    pub division: String,
    pub from: NaiveDate,
    /// Last day in this division, once known.
    pub to: Option<NaiveDate>,
    pub groups: Vec<GroupStint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupStint {
    pub group: String,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

/// Where a student is on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub year: SchoolYear,
    pub division: String,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Student {
    pub id: Option<String>,
    pub identity: Option<IdentityRecord>,
    pub stints: Vec<Stint>,
    pub guardians: BTreeMap<String, GuardianLink>,
    /// Last day in the establishment and why, once the student left.
    /// The reason is the student's personal data (it often says why a family moved).
    pub departure: Option<(NaiveDate, Personal<String>)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StudentCommand {
    Admit {
        student: String,
        identity: Identity,
        year: SchoolYear,
        division: String,
        groups: Vec<String>,
        on: NaiveDate,
    },
    ChangeDivision {
        division: String,
        /// The groups the student is in from that day (a new class usually means new
        /// half-class and language groups).
        groups: Vec<String>,
        on: NaiveDate,
    },
    JoinGroup {
        group: String,
        on: NaiveDate,
    },
    /// `last_day` is the last day the student is in the group.
    LeaveGroup {
        group: String,
        last_day: NaiveDate,
    },
    Depart {
        last_day: NaiveDate,
        reason: String,
    },
    /// Rollover: the student goes on to `year` in `division`. Sending it again with the
    /// same placement records nothing.
    Promote {
        year: SchoolYear,
        division: String,
        groups: Vec<String>,
        on: NaiveDate,
    },
    /// Rollover: the student does not come back after `last_day`. Sending it again
    /// records nothing.
    LeaveAtYearEnd {
        last_day: NaiveDate,
        reason: String,
    },
    LinkGuardian {
        guardian: String,
        name: String,
        relationship: String,
        rights: GuardianRights,
    },
    ChangeGuardianRights {
        guardian: String,
        rights: GuardianRights,
    },
    UnlinkGuardian {
        guardian: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
// An admission carries the sealed identity; events are made once and written, so their
// size in memory does not matter.
#[allow(clippy::large_enum_variant)]
pub enum StudentEvent {
    StudentAdmitted {
        student: String,
        identity: IdentityRecord,
        year: SchoolYear,
        division: String,
        groups: Vec<String>,
        on: NaiveDate,
    },
    DivisionChanged {
        from_division: String,
        division: String,
        groups: Vec<String>,
        on: NaiveDate,
    },
    GroupJoined {
        group: String,
        on: NaiveDate,
    },
    GroupLeft {
        group: String,
        last_day: NaiveDate,
    },
    StudentDeparted {
        last_day: NaiveDate,
        reason: Personal<String>,
    },
    StudentPromoted {
        year: SchoolYear,
        division: String,
        groups: Vec<String>,
        on: NaiveDate,
    },
    GuardianLinked {
        guardian: String,
        name: Personal<String>,
        relationship: String,
        rights: GuardianRights,
    },
    GuardianRightsChanged {
        guardian: String,
        previous: GuardianRights,
        rights: GuardianRights,
    },
    GuardianUnlinked {
        guardian: String,
    },
}

impl DomainEvent for StudentEvent {
    fn event_type(&self) -> String {
        match self {
            Self::StudentAdmitted { .. } => "StudentAdmitted",
            Self::DivisionChanged { .. } => "DivisionChanged",
            Self::GroupJoined { .. } => "GroupJoined",
            Self::GroupLeft { .. } => "GroupLeft",
            Self::StudentDeparted { .. } => "StudentDeparted",
            Self::StudentPromoted { .. } => "StudentPromoted",
            Self::GuardianLinked { .. } => "GuardianLinked",
            Self::GuardianRightsChanged { .. } => "GuardianRightsChanged",
            Self::GuardianUnlinked { .. } => "GuardianUnlinked",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        // Version 2: names, birth dates and the reason for leaving became personal data
        // (see `crate::upcast`).
        match self {
            Self::StudentAdmitted { .. }
            | Self::GuardianLinked { .. }
            | Self::StudentDeparted { .. } => "2",
            _ => "1",
        }
        .to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StudentError {
    #[error("il manque {}", what_fr(.0))]
    Missing(&'static str),
    #[error("cet élève est déjà inscrit")]
    AlreadyAdmitted,
    #[error("l'élève doit d'abord être inscrit")]
    NotAdmitted,
    #[error("l'élève a quitté l'établissement le {}", date_fr(.0))]
    Departed(NaiveDate),
    #[error("un changement daté du {} précède le dernier changement enregistré (le {}) ; les changements s'enregistrent dans l'ordre des dates", date_fr(.on), date_fr(.latest))]
    BeforeLatestChange { on: NaiveDate, latest: NaiveDate },
    #[error("l'élève est déjà dans la division {0}")]
    SameDivision(String),
    #[error("l'élève est déjà dans le groupe {0}")]
    AlreadyInGroup(String),
    #[error("l'élève n'est pas dans le groupe {0}")]
    NotInGroup(String),
    #[error("un groupe est cité deux fois : {0}")]
    GroupTwice(String),
    #[error("l'élève est déjà inscrit pour {year} en {division} ; changez plutôt sa division")]
    PromotedElsewhere { year: SchoolYear, division: String },
    #[error("l'élève est déjà parti le {}", date_fr(.last_day))]
    AlreadyLeft { last_day: NaiveDate },
    #[error("{0} est déjà responsable légal de cet élève")]
    GuardianExists(String),
    #[error("{0} n'est pas responsable légal de cet élève")]
    UnknownGuardian(String),
    #[error("le responsable légal {0} a déjà exactement ces droits")]
    SameRights(String),
}

impl Refusal for StudentError {
    fn rule(&self) -> &'static str {
        match self {
            StudentError::Missing(_) => "MISSING_VALUE",
            StudentError::AlreadyAdmitted => "STUDENT_ALREADY_ADMITTED",
            StudentError::NotAdmitted => "STUDENT_NOT_ADMITTED",
            StudentError::Departed(_) => "STUDENT_DEPARTED",
            StudentError::BeforeLatestChange { .. } => "BEFORE_LATEST_CHANGE",
            StudentError::SameDivision(_) => "SAME_DIVISION",
            StudentError::AlreadyInGroup(_) => "ALREADY_IN_GROUP",
            StudentError::NotInGroup(_) => "NOT_IN_GROUP",
            StudentError::GroupTwice(_) => "GROUP_TWICE",
            StudentError::PromotedElsewhere { .. } => "ALREADY_ENROLLED_FOR_YEAR",
            StudentError::AlreadyLeft { .. } => "STUDENT_ALREADY_LEFT",
            StudentError::GuardianExists(_) => "GUARDIAN_EXISTS",
            StudentError::UnknownGuardian(_) => "UNKNOWN_GUARDIAN",
            StudentError::SameRights(_) => "SAME_RIGHTS",
        }
    }

    fn message(&self, lang: Lang) -> String {
        if lang == Lang::Fr {
            return self.to_string();
        }
        match self {
            StudentError::Missing(what) => format!("{what} must not be empty"),
            StudentError::AlreadyAdmitted => "this student is already admitted".to_string(),
            StudentError::NotAdmitted => "the student must be admitted first".to_string(),
            StudentError::Departed(on) => format!("the student left the establishment on {on}"),
            StudentError::BeforeLatestChange { on, latest } => format!(
                "a change dated {on} comes before the last recorded change ({latest}); changes are recorded in date order"
            ),
            StudentError::SameDivision(division) => {
                format!("the student is already in division {division}")
            }
            StudentError::AlreadyInGroup(group) => {
                format!("the student is already in group {group}")
            }
            StudentError::NotInGroup(group) => format!("the student is not in group {group}"),
            StudentError::GroupTwice(group) => format!("a group is named twice: {group}"),
            StudentError::PromotedElsewhere { year, division } => format!(
                "the student is already enrolled for {year} in {division}; change the division instead"
            ),
            StudentError::AlreadyLeft { last_day } => {
                format!("the student already left on {last_day}")
            }
            StudentError::GuardianExists(guardian) => {
                format!("{guardian} is already a guardian of this student")
            }
            StudentError::UnknownGuardian(guardian) => {
                format!("{guardian} is not a guardian of this student")
            }
            StudentError::SameRights(guardian) => {
                format!("guardian {guardian} already has exactly these rights")
            }
        }
    }
}

use StudentError as E;

fn required(value: &str, what: &'static str) -> Result<(), E> {
    if value.trim().is_empty() {
        Err(E::Missing(what))
    } else {
        Ok(())
    }
}

fn distinct(groups: &[String]) -> Result<(), E> {
    let mut seen = std::collections::BTreeSet::new();
    for g in groups {
        required(g, "a group id")?;
        if !seen.insert(g) {
            return Err(E::GroupTwice(g.clone()));
        }
    }
    Ok(())
}

impl Student {
    /// The student's division and groups on `date`, as the events say.
    pub fn placement_on(&self, date: NaiveDate) -> Option<Placement> {
        let stint = self
            .stints
            .iter()
            .find(|s| s.from <= date && s.to.is_none_or(|to| date <= to))?;
        Some(Placement {
            year: stint.year.clone(),
            division: stint.division.clone(),
            groups: stint
                .groups
                .iter()
                .filter(|g| g.from <= date && g.to.is_none_or(|to| date <= to))
                .map(|g| g.group.clone())
                .collect(),
        })
    }

    /// Guardians who have `right` on this child.
    pub fn guardians_with(&self, right: impl Fn(&GuardianRights) -> bool) -> Vec<String> {
        self.guardians
            .iter()
            .filter(|(_, link)| right(&link.rights))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Guardians to notify when an absence is recorded.
    pub fn guardians_to_notify(&self) -> Vec<String> {
        self.guardians_with(|r| r.notified)
    }

    fn current(&self) -> Result<&Stint, E> {
        if let Some((day, _)) = &self.departure {
            return Err(E::Departed(*day));
        }
        self.stints.last().ok_or(E::NotAdmitted)
    }

    /// The date of the latest change recorded; a new change may not come before it.
    fn latest_change(&self) -> Option<NaiveDate> {
        self.stints
            .iter()
            .flat_map(|s| {
                std::iter::once(s.from).chain(s.to).chain(
                    s.groups
                        .iter()
                        .flat_map(|g| std::iter::once(g.from).chain(g.to)),
                )
            })
            .max()
    }

    fn not_before_latest(&self, on: NaiveDate) -> Result<(), E> {
        match self.latest_change() {
            Some(latest) if on < latest => Err(E::BeforeLatestChange { on, latest }),
            _ => Ok(()),
        }
    }

    fn decide(&self, command: StudentCommand) -> Result<Vec<StudentEvent>, E> {
        use StudentCommand as C;
        use StudentEvent as V;
        Ok(match command {
            C::Admit {
                student,
                identity,
                year,
                division,
                groups,
                on,
            } => {
                if self.id.is_some() {
                    return Err(E::AlreadyAdmitted);
                }
                required(&student, "the student id")?;
                required(&identity.last_name, "the last name")?;
                required(&identity.first_name, "the first name")?;
                required(&division, "the division")?;
                distinct(&groups)?;
                vec![V::StudentAdmitted {
                    identity: IdentityRecord::of(&student, identity),
                    student,
                    year,
                    division,
                    groups,
                    on,
                }]
            }
            C::ChangeDivision {
                division,
                groups,
                on,
            } => {
                let stint = self.current()?;
                required(&division, "the division")?;
                distinct(&groups)?;
                if stint.division == division {
                    return Err(E::SameDivision(division));
                }
                // A change on the stint's first day would leave an empty stint.
                self.not_before_latest(on)?;
                if on <= stint.from {
                    return Err(E::BeforeLatestChange {
                        on,
                        latest: stint.from,
                    });
                }
                vec![V::DivisionChanged {
                    from_division: stint.division.clone(),
                    division,
                    groups,
                    on,
                }]
            }
            C::JoinGroup { group, on } => {
                let stint = self.current()?;
                required(&group, "the group")?;
                self.not_before_latest(on)?;
                if stint
                    .groups
                    .iter()
                    .any(|g| g.group == group && g.to.is_none())
                {
                    return Err(E::AlreadyInGroup(group));
                }
                vec![V::GroupJoined { group, on }]
            }
            C::LeaveGroup { group, last_day } => {
                let stint = self.current()?;
                let open = stint
                    .groups
                    .iter()
                    .find(|g| g.group == group && g.to.is_none())
                    .ok_or_else(|| E::NotInGroup(group.clone()))?;
                if last_day < open.from {
                    return Err(E::BeforeLatestChange {
                        on: last_day,
                        latest: open.from,
                    });
                }
                self.not_before_latest(last_day)?;
                vec![V::GroupLeft { group, last_day }]
            }
            C::Depart { last_day, reason } => {
                let stint = self.current()?;
                required(&reason, "the reason for leaving")?;
                if last_day < stint.from {
                    return Err(E::BeforeLatestChange {
                        on: last_day,
                        latest: stint.from,
                    });
                }
                self.not_before_latest(last_day)?;
                let student = self.id.clone().ok_or(E::NotAdmitted)?;
                vec![V::StudentDeparted {
                    last_day,
                    reason: Personal::known(student, reason),
                }]
            }
            C::Promote {
                year,
                division,
                groups,
                on,
            } => {
                if self.id.is_none() {
                    return Err(E::NotAdmitted);
                }
                if let Some(s) = self.stints.iter().find(|s| s.year == year) {
                    let same = s.division == division
                        && s.from == on
                        && s.groups.iter().map(|g| &g.group).eq(groups.iter());
                    return if same {
                        Ok(Vec::new())
                    } else {
                        Err(E::PromotedElsewhere {
                            year,
                            division: s.division.clone(),
                        })
                    };
                }
                self.current()?;
                required(&division, "the division")?;
                distinct(&groups)?;
                self.not_before_latest(on)?;
                vec![V::StudentPromoted {
                    year,
                    division,
                    groups,
                    on,
                }]
            }
            C::LeaveAtYearEnd { last_day, reason } => {
                if let Some((day, why)) = &self.departure {
                    // A reason read back from the log is sealed: the day decides then.
                    let same_reason = why.in_clear().is_none_or(|why| *why == reason);
                    return if *day == last_day && same_reason {
                        Ok(Vec::new())
                    } else {
                        Err(E::AlreadyLeft { last_day: *day })
                    };
                }
                self.decide(C::Depart { last_day, reason })?
            }
            C::LinkGuardian {
                guardian,
                name,
                relationship,
                rights,
            } => {
                if self.id.is_none() {
                    return Err(E::NotAdmitted);
                }
                required(&guardian, "the guardian id")?;
                required(&name, "the guardian's name")?;
                if self.guardians.contains_key(&guardian) {
                    return Err(E::GuardianExists(guardian));
                }
                vec![V::GuardianLinked {
                    name: Personal::known(&guardian, name),
                    guardian,
                    relationship,
                    rights,
                }]
            }
            C::ChangeGuardianRights { guardian, rights } => {
                let link = self
                    .guardians
                    .get(&guardian)
                    .ok_or_else(|| E::UnknownGuardian(guardian.clone()))?;
                if link.rights == rights {
                    return Err(E::SameRights(guardian));
                }
                vec![V::GuardianRightsChanged {
                    guardian,
                    previous: link.rights,
                    rights,
                }]
            }
            C::UnlinkGuardian { guardian } => {
                if !self.guardians.contains_key(&guardian) {
                    return Err(E::UnknownGuardian(guardian));
                }
                vec![V::GuardianUnlinked { guardian }]
            }
        })
    }

    fn close_current(&mut self, last_day: NaiveDate) {
        if let Some(stint) = self.stints.last_mut() {
            if stint.to.is_none() {
                stint.to = Some(last_day);
            }
            for g in stint.groups.iter_mut().filter(|g| g.to.is_none()) {
                g.to = Some(last_day);
            }
        }
    }

    fn open_stint(
        &mut self,
        year: SchoolYear,
        division: String,
        groups: Vec<String>,
        on: NaiveDate,
    ) {
        self.stints.push(Stint {
            year,
            division,
            from: on,
            to: None,
            groups: groups
                .into_iter()
                .map(|group| GroupStint {
                    group,
                    from: on,
                    to: None,
                })
                .collect(),
        });
    }
}

impl Aggregate for Student {
    const TYPE: &'static str = "student";
    type Command = StudentCommand;
    type Event = StudentEvent;
    type Error = StudentError;
    type Services = ();

    async fn handle(
        &mut self,
        command: StudentCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), StudentError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: StudentEvent) {
        use StudentEvent as V;
        match event {
            V::StudentAdmitted {
                student,
                identity,
                year,
                division,
                groups,
                on,
            } => {
                self.id = Some(student);
                self.identity = Some(identity);
                self.open_stint(year, division, groups, on);
            }
            V::DivisionChanged {
                division,
                groups,
                on,
                ..
            } => {
                let year = self.stints.last().map(|s| s.year.clone());
                self.close_current(on - Duration::days(1));
                if let Some(year) = year {
                    self.open_stint(year, division, groups, on);
                }
            }
            V::GroupJoined { group, on } => {
                if let Some(stint) = self.stints.last_mut() {
                    stint.groups.push(GroupStint {
                        group,
                        from: on,
                        to: None,
                    });
                }
            }
            V::GroupLeft { group, last_day } => {
                if let Some(g) = self.stints.last_mut().and_then(|s| {
                    s.groups
                        .iter_mut()
                        .find(|g| g.group == group && g.to.is_none())
                }) {
                    g.to = Some(last_day);
                }
            }
            V::StudentDeparted { last_day, reason } => {
                self.close_current(last_day);
                self.departure = Some((last_day, reason));
            }
            V::StudentPromoted {
                year,
                division,
                groups,
                on,
            } => {
                // The previous year's stint ends the day before, unless a date was
                // already recorded for it.
                self.close_current(on - Duration::days(1));
                self.open_stint(year, division, groups, on);
            }
            V::GuardianLinked {
                guardian,
                name,
                relationship,
                rights,
            } => {
                self.guardians.insert(
                    guardian,
                    GuardianLink {
                        name,
                        relationship,
                        rights,
                    },
                );
            }
            V::GuardianRightsChanged {
                guardian, rights, ..
            } => {
                if let Some(link) = self.guardians.get_mut(&guardian) {
                    link.rights = rights;
                }
            }
            V::GuardianUnlinked { guardian } => {
                self.guardians.remove(&guardian);
            }
        }
    }
}
