//! The enrolment read model: the establishment (years, divisions, groups, staff,
//! services), each student's record, the roster of every division and group with dates,
//! each guardian's children and rights, each teacher's services. The relationships here
//! are what the API's authorization reads.
//!
//! Documents:
//! - `establishment`: the [`Establishment`] as its events build it;
//! - `student/{id}`: the [`Student`] as its events build it;
//! - `roster/{year}/{class}`: [`Roster`], members of a division or group with the dates
//!   they were in it;
//! - `guardian/{id}`: [`GuardianChildren`];
//! - `teacher/{id}`: [`TeacherServices`].

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use carnet_domain::enrolment::{
    ClassRef, Establishment, EstablishmentEvent, GuardianLink, SchoolYear, Service, Student,
    SubjectCode,
};
use carnet_domain::Uai;
use carnet_store::{Pool, RecordedEvent};
use chrono::NaiveDate;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::error::ProjectionError;
use crate::query;
use crate::runtime::{decode, Batch, Projection};
use crate::state::fold;

pub const NAME: &str = "enrolment";

/// A stretch of time in a class: first and last day (open while it lasts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

impl Membership {
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.from <= date && self.to.is_none_or(|to| date <= to)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    pub members: BTreeMap<String, Vec<Membership>>,
}

impl Roster {
    /// The students in the class on `date`.
    pub fn on(&self, date: NaiveDate) -> Vec<String> {
        self.members
            .iter()
            .filter(|(_, spans)| spans.iter().any(|m| m.covers(date)))
            .map(|(s, _)| s.clone())
            .collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardianChildren {
    pub children: BTreeMap<String, GuardianLink>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeacherServices {
    pub services: BTreeSet<(SchoolYear, SubjectCode, ClassRef)>,
}

#[derive(Debug)]
pub struct EnrolmentProjection;

/// Each (year, class id) the student was in, with the dates.
fn memberships(student: &Student) -> BTreeMap<(String, String), Vec<Membership>> {
    let mut out: BTreeMap<(String, String), Vec<Membership>> = BTreeMap::new();
    for stint in &student.stints {
        out.entry((stint.year.to_string(), stint.division.clone()))
            .or_default()
            .push(Membership {
                from: stint.from,
                to: stint.to,
            });
        for g in &stint.groups {
            out.entry((stint.year.to_string(), g.group.clone()))
                .or_default()
                .push(Membership {
                    from: g.from,
                    to: g.to,
                });
        }
    }
    out
}

#[async_trait]
impl Projection for EnrolmentProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn wants(&self, stream_type: &str) -> bool {
        stream_type == Establishment::TYPE || stream_type == Student::TYPE
    }

    async fn apply(&self, event: &RecordedEvent, batch: &mut Batch) -> Result<(), ProjectionError> {
        if event.stream.stream_type == Establishment::TYPE {
            let e: EstablishmentEvent = decode(event)?;
            match &e {
                EstablishmentEvent::ServiceAssigned { year, service } => {
                    teacher(batch, year, service, true).await?
                }
                EstablishmentEvent::ServiceRemoved { year, service } => {
                    teacher(batch, year, service, false).await?
                }
                _ => {}
            }
            return fold::<Establishment>(batch, "establishment", e)
                .await
                .map(|_| ());
        }
        let key = format!("student/{}", event.stream.stream_id);
        let old: &mut Student = batch.typed_mut(&key).await?;
        let before = memberships(old);
        let guardians_before = old.guardians.clone();
        let student = fold::<Student>(batch, &key, decode(event)?).await?.clone();
        let after = memberships(&student);
        let id = event.stream.stream_id.clone();
        let classes: BTreeSet<&(String, String)> = before.keys().chain(after.keys()).collect();
        for class in classes {
            if before.get(class) == after.get(class) {
                continue;
            }
            let roster: &mut Roster = batch
                .typed_mut(&format!("roster/{}/{}", class.0, class.1))
                .await?;
            match after.get(class) {
                Some(spans) => roster.members.insert(id.clone(), spans.clone()),
                None => roster.members.remove(&id),
            };
        }
        let guardians: BTreeSet<&String> = guardians_before
            .keys()
            .chain(student.guardians.keys())
            .collect();
        for guardian in guardians {
            if guardians_before.get(guardian) == student.guardians.get(guardian) {
                continue;
            }
            let doc: &mut GuardianChildren =
                batch.typed_mut(&format!("guardian/{guardian}")).await?;
            match student.guardians.get(guardian) {
                Some(link) => doc.children.insert(id.clone(), link.clone()),
                None => doc.children.remove(&id),
            };
        }
        Ok(())
    }
}

async fn teacher(
    batch: &mut Batch,
    year: &SchoolYear,
    service: &Service,
    assigned: bool,
) -> Result<(), ProjectionError> {
    let doc: &mut TeacherServices = batch
        .typed_mut(&format!("teacher/{}", service.teacher))
        .await?;
    let entry = (year.clone(), service.subject.clone(), service.class.clone());
    if assigned {
        doc.services.insert(entry);
    } else {
        doc.services.remove(&entry);
    }
    Ok(())
}

/// The students of a division or group on `date`.
pub async fn roster_on(
    pool: &Pool,
    tenant: &Uai,
    year: &SchoolYear,
    class: &str,
    date: NaiveDate,
) -> Result<Vec<String>, ProjectionError> {
    let roster: Option<Roster> =
        query::doc(pool, tenant, NAME, &format!("roster/{year}/{class}")).await?;
    Ok(roster.map(|r| r.on(date)).unwrap_or_default())
}

pub async fn student(
    pool: &Pool,
    tenant: &Uai,
    id: &str,
) -> Result<Option<Student>, ProjectionError> {
    query::doc(pool, tenant, NAME, &format!("student/{id}")).await
}

pub async fn guardian_children(
    pool: &Pool,
    tenant: &Uai,
    guardian: &str,
) -> Result<GuardianChildren, ProjectionError> {
    Ok(
        query::doc(pool, tenant, NAME, &format!("guardian/{guardian}"))
            .await?
            .unwrap_or_default(),
    )
}

pub async fn teacher_services(
    pool: &Pool,
    tenant: &Uai,
    teacher: &str,
) -> Result<TeacherServices, ProjectionError> {
    Ok(
        query::doc(pool, tenant, NAME, &format!("teacher/{teacher}"))
            .await?
            .unwrap_or_default(),
    )
}

pub async fn establishment(
    pool: &Pool,
    tenant: &Uai,
) -> Result<Option<Establishment>, ProjectionError> {
    query::doc(pool, tenant, NAME, "establishment").await
}
