//! What every export reads first: the establishment, the school year asked for, and
//! personal values opened through the vault.

use std::collections::{BTreeSet, HashMap};

use carnet_domain::enrolment::{Establishment, SchoolYear, Student, Year};
use carnet_domain::personal::Personal;
use carnet_domain::timetable::Timetable;
use carnet_domain::Uai;
use carnet_store::{EventStore, School};
use chrono::NaiveDate;

use super::ExportError;

/// What a personal value reads as once its owner's data was erased (crypto-shredding):
/// the export shows the erasure instead of failing or leaving a blank that could be
/// taken for missing data.
pub const ERASED: &str = "[erased]";

/// One establishment and one of its school years, as an export reads them.
#[derive(Debug)]
pub struct Scope<'a> {
    pub school: &'a School,
    pub establishment: Establishment,
    pub year: SchoolYear,
}

impl<'a> Scope<'a> {
    /// The establishment of `school` and the school year `year` (`2026-2027`); without
    /// one, the year holding `today`, or else the latest year.
    pub async fn open(
        school: &'a School,
        year: Option<&str>,
        today: NaiveDate,
    ) -> Result<Scope<'a>, ExportError> {
        let (_, establishment) = school
            .establishment
            .state(&school.establishment_id())
            .await?;
        if establishment.uai.is_none() {
            return Err(ExportError::UnknownEstablishment(school.tenant.clone()));
        }
        let year = match year {
            Some(text) => {
                let year = SchoolYear::parse(text)?;
                if !establishment.years.contains_key(&year) {
                    return Err(ExportError::UnknownYear {
                        tenant: school.tenant.clone(),
                        year,
                        known: establishment.years.keys().cloned().collect(),
                    });
                }
                year
            }
            None => establishment
                .year_on(today)
                .map(|(y, _)| y.clone())
                .or_else(|| establishment.years.keys().next_back().cloned())
                .ok_or_else(|| ExportError::NoYear(school.tenant.clone()))?,
        };
        Ok(Scope {
            school,
            establishment,
            year,
        })
    }

    pub fn tenant(&self) -> &Uai {
        &self.school.tenant
    }

    /// The school year's dates, periods, divisions and groups.
    pub fn year_spec(&self) -> Result<&Year, ExportError> {
        self.establishment
            .years
            .get(&self.year)
            .ok_or_else(|| ExportError::UnknownYear {
                tenant: self.tenant().clone(),
                year: self.year.clone(),
                known: self.establishment.years.keys().cloned().collect(),
            })
    }

    /// The year's timetable; an error when it was never opened.
    pub async fn timetable(&self) -> Result<Timetable, ExportError> {
        let (_, timetable) = self.school.timetable.state(self.year.as_str()).await?;
        if timetable.calendar().is_none() {
            return Err(ExportError::NoTimetable {
                tenant: self.tenant().clone(),
                year: self.year.clone(),
            });
        }
        Ok(timetable)
    }

    /// The student `id`; an error naming them when the establishment never admitted them.
    pub async fn student(&self, id: &str) -> Result<Student, ExportError> {
        let (_, student) = self.school.students.state(id).await?;
        if student.id.is_none() {
            return Err(ExportError::UnknownStudent {
                tenant: self.tenant().clone(),
                id: id.to_string(),
            });
        }
        Ok(student)
    }

    /// A personal value in clear, or [`ERASED`].
    pub async fn open_text(&self, value: &Personal<String>) -> Result<String, ExportError> {
        Ok(self
            .school
            .store
            .vault()
            .open(self.tenant(), value)
            .await?
            .unwrap_or_else(|| ERASED.to_string()))
    }

    /// A staff member's name in clear, [`ERASED`], or `None` for an id the establishment
    /// does not know.
    pub async fn staff_name(&self, id: &str) -> Result<Option<String>, ExportError> {
        match self.establishment.staff.get(id) {
            Some(member) => Ok(Some(self.open_text(&member.name).await?)),
            None => Ok(None),
        }
    }

    /// The name of a subject as the timetable or gradebook names it (by its short name
    /// or its BCN code): "Mathématiques" for `MATHS`; the name as given when unknown.
    pub fn subject_name(&self, subject: &str) -> String {
        self.establishment
            .subjects
            .iter()
            .find(|(code, s)| s.short == subject || code.as_str() == subject)
            .map_or_else(|| subject.to_string(), |(_, s)| s.name.clone())
    }
}

/// A student's names, opened once.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub last: String,
    pub first: String,
}

/// Students read once each, with their names opened.
#[derive(Debug, Default)]
pub(crate) struct Students {
    known: HashMap<String, Option<(Student, Names)>>,
}

impl Students {
    /// The student `id` and their names; `None` for an id never admitted (an entry of
    /// a log imported without its enrolment).
    pub async fn get(
        &mut self,
        scope: &Scope<'_>,
        id: &str,
    ) -> Result<Option<&(Student, Names)>, ExportError> {
        if !self.known.contains_key(id) {
            let found = match scope.student(id).await {
                Ok(student) => {
                    let names = match &student.identity {
                        Some(identity) => Names {
                            last: scope.open_text(&identity.last_name).await?,
                            first: scope.open_text(&identity.first_name).await?,
                        },
                        None => Names {
                            last: String::new(),
                            first: String::new(),
                        },
                    };
                    Some((student, names))
                }
                Err(ExportError::UnknownStudent { .. }) => None,
                Err(e) => return Err(e),
            };
            self.known.insert(id.to_string(), found);
        }
        Ok(self.known.get(id).and_then(Option::as_ref))
    }
}

/// The ids of the streams of type `stream_type` in the establishment's log (students,
/// attendance records, gradebooks), read in pages.
pub async fn list_streams(
    store: &EventStore,
    tenant: &Uai,
    stream_type: &str,
) -> Result<BTreeSet<String>, ExportError> {
    const PAGE: i64 = 10_000;
    let mut ids = BTreeSet::new();
    let mut after = 0;
    loop {
        let page = store.read_log(tenant, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        ids.extend(
            page.into_iter()
                .filter(|e| e.stream.stream_type == stream_type)
                .map(|e| e.stream.stream_id),
        );
    }
    Ok(ids)
}
