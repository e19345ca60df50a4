//! Enrolment: students, their divisions and groups, guardians, staff and their
//! services, the caller.

mod administration;
mod lists;
mod mutation;
mod query;

pub(crate) use administration::AdministrationMutation;
/// Week A or B: what `openSchoolYear` takes, and what lessons and calendars answer.
pub(crate) use administration::AlternatingWeek;
/// The staff's roles: what `hireStaff` takes, and what `staff` lists and filters by.
pub(crate) use administration::StaffRole;
pub(crate) use lists::*;
pub(crate) use mutation::EnrolmentMutation;
pub(crate) use query::EnrolmentQuery;

use crate::schema::prelude::*;

#[derive(Debug, Clone, SimpleObject)]
pub struct Placement {
    pub year: String,
    pub division: String,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Guardian {
    pub id: String,
    /// Null once the guardian's personal data was erased.
    pub name: Option<String>,
    pub relationship: String,
    pub may_see: bool,
    pub may_justify: bool,
    pub notified: bool,
}

/// A student, as the caller may see them.
#[derive(Debug, Clone)]
pub struct StudentView {
    pub reader: Reader,
    pub actor: Arc<Actor>,
    pub id: String,
    pub record: Arc<Student>,
}

impl StudentView {
    /// The student `id`, if the caller may see them.
    pub async fn load(reader: &Reader, actor: &Arc<Actor>, id: &str) -> ApiResult<Self> {
        let record = match reader.student(id).await {
            Ok(record) => record,
            // Whether an id (an INE) exists is itself something to hide from those who
            // may not see the establishment's students: they get the refusal they would
            // get for an existing student who is not theirs.
            Err(ApiError::NotFound(_)) if !actor.sees_establishment() => {
                return Err(Actor::student_refused(id))
            }
            Err(e) => return Err(e),
        };
        actor.may_see_student(&record, id)?;
        Ok(StudentView {
            reader: reader.clone(),
            actor: actor.clone(),
            id: id.to_string(),
            record,
        })
    }

    async fn placement_on(
        &self,
        date: Option<NaiveDate>,
    ) -> ApiResult<Option<carnet_domain::enrolment::Placement>> {
        let date = match date {
            Some(d) => d,
            None => {
                let establishment = self.reader.establishment().await?;
                today(&self.reader, &establishment)
            }
        };
        Ok(self.record.placement_on(date))
    }

    async fn attendance_record(
        &self,
        year: Option<String>,
    ) -> ApiResult<(SchoolYear, Arc<StudentAttendance>)> {
        let year = year_arg(&self.reader, year).await?;
        let record = self.reader.attendance(&year, &self.id).await?;
        Ok((year, record))
    }
}

#[Object(name = "Student")]
impl StudentView {
    /// The global id (see `node`).
    async fn id(&self) -> async_graphql::ID {
        crate::schema::node::global_id(
            crate::schema::node::NodeType::Student,
            &self.reader.tenant,
            &self.id,
        )
    }

    /// The establishment's id of the student, e.g. `eleve00001`: what other fields and
    /// mutations take.
    async fn local_id(&self) -> &str {
        &self.id
    }

    async fn ine(&self) -> Option<String> {
        self.record.identity.as_ref().map(|i| i.ine.to_string())
    }

    /// Null once the student's personal data was erased.
    async fn first_name(&self) -> GqlResult<Option<String>> {
        let Some(identity) = &self.record.identity else {
            return Ok(None);
        };
        Ok(self.reader.open(&identity.first_name).await?)
    }

    /// Null once the student's personal data was erased.
    async fn last_name(&self) -> GqlResult<Option<String>> {
        let Some(identity) = &self.record.identity else {
            return Ok(None);
        };
        Ok(self.reader.open(&identity.last_name).await?)
    }

    /// Null once the student's personal data was erased.
    async fn birth_date(&self) -> GqlResult<Option<Date>> {
        let Some(identity) = &self.record.identity else {
            return Ok(None);
        };
        Ok(self.reader.open(&identity.birth_date).await?.map(Date))
    }

    /// Whether the student's personal data was erased (names and birth date read null).
    async fn erased(&self) -> GqlResult<bool> {
        Ok(self.reader.establishment().await?.erased.contains(&self.id))
    }

    /// Last day in the establishment, once the student left.
    async fn left_on(&self) -> Option<Date> {
        self.record.departure.as_ref().map(|(d, _)| Date(*d))
    }

    /// Division and groups on `date` (today by default).
    async fn placement(&self, date: Option<Date>) -> GqlResult<Option<Placement>> {
        Ok(self
            .placement_on(date.map(|d| d.0))
            .await?
            .map(|p| Placement {
                year: p.year.to_string(),
                division: p.division,
                groups: p.groups,
            }))
    }

    async fn guardians(&self) -> GqlResult<Vec<Guardian>> {
        let mut guardians = Vec::with_capacity(self.record.guardians.len());
        for (id, link) in &self.record.guardians {
            guardians.push(Guardian {
                id: id.clone(),
                name: self.reader.open(&link.name).await?,
                relationship: link.relationship.clone(),
                may_see: link.rights.see,
                may_justify: link.rights.justify,
                notified: link.rights.notified,
            });
        }
        Ok(guardians)
    }

    /// The student's lessons from `from` to `to` (at most 62 days), with the division and
    /// groups they are in on each day.
    async fn timetable(&self, from: Date, to: Date) -> GqlResult<Vec<Lesson>> {
        let (from, to) = (from.0, to.0);
        check_range(from, to)?;
        let mut out: Vec<Lesson> = Vec::new();
        // Placements change on known dates: one query per stretch of equal placement.
        let mut day = from;
        while day <= to {
            let placement = self.record.placement_on(day);
            let mut last = day;
            while last < to && self.record.placement_on(last + Duration::days(1)) == placement {
                last += Duration::days(1);
            }
            if let Some(p) = placement {
                use carnet_projections::timetable::Whose;
                let whose = Whose::Student {
                    division: &p.division,
                    groups: &p.groups,
                };
                out.extend(lessons(&self.reader, &self.actor, &p.year, whose, day, last).await?);
            }
            day = last + Duration::days(1);
        }
        Ok(out)
    }

    /// Absences, late arrivals, early departures and exclusions of a school year (the
    /// current one by default), latest first.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn absences(
        &self,
        year: Option<String>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<KeyedPage<Absence>> {
        let (year, record) = self.attendance_record(year).await?;
        let stream = format!("{year}/{}", self.id);
        // Keyed on when and which lesson: an absence recorded while a client pages
        // through the list does not shift its cursors.
        let items: Vec<(String, Absence)> = record
            .lessons
            .iter()
            .filter(|(_, e)| e.status != Status::Present)
            .map(|(lesson, e)| absence(&self.reader, &stream, &record, lesson, e))
            .map(|a| (format!("{}T{}|{}", a.date, a.start, a.lesson), a))
            .collect();
        keyed_in(Order::Descending, items, after, before, first, last).await
    }

    /// Half-days of absence from `from` to `to` (a month, a period, the year).
    async fn half_days(&self, from: Date, to: Date, year: Option<String>) -> GqlResult<HalfDays> {
        let (from, to) = (from.0, to.0);
        if to < from {
            return Err(ApiError::validation(
                "to",
                Text::new("est avant `from`", "is before `from`"),
            )
            .into());
        }
        let (_, record) = self.attendance_record(year).await?;
        Ok(attendance::between(&record, from, to).into())
    }

    async fn justifications(&self, year: Option<String>) -> GqlResult<Vec<Justification>> {
        let (year, record) = self.attendance_record(year).await?;
        let stream = format!("{year}/{}", self.id);
        let mut justifications = Vec::with_capacity(record.justifications.len());
        for (id, j) in &record.justifications {
            justifications.push(Justification {
                stream: (self.reader.clone(), stream.clone()),
                id: id.clone(),
                from: j.from.into(),
                to: j.to.into(),
                reason: self.reader.open(&j.reason).await?,
                legitimate: j.legitimate,
                comment: self.reader.open(&j.comment).await?,
                declared_by: j.declared_by.clone(),
                accepted: j.accepted,
            });
        }
        Ok(justifications)
    }

    /// Averages and marks of a period (the current one by default).
    async fn report_card(
        &self,
        period: Option<String>,
        year: Option<String>,
    ) -> GqlResult<ReportCard> {
        let year = year_arg(&self.reader, year).await?;
        let period = match period {
            Some(p) => p,
            None => current_period(&self.reader, &year).await?,
        };
        Ok(report_card(
            &self.reader,
            &self.actor,
            &self.record,
            &self.id,
            &year,
            &period,
        )
        .await?)
    }

    /// The bulletin of a period (the current one by default): averages, positionings,
    /// appreciations, vie scolaire, the council's decisions. Families and the student
    /// see it once the class council published it (null before).
    async fn bulletin(
        &self,
        period: Option<String>,
        year: Option<String>,
    ) -> GqlResult<Option<crate::schema::reportcards::BulletinView>> {
        let year = year_arg(&self.reader, year).await?;
        let period = match period {
            Some(p) => p,
            None => current_period(&self.reader, &year).await?,
        };
        Ok(crate::schema::reportcards::bulletin_for(
            &self.reader,
            &self.actor,
            &year,
            &period,
            &self.id,
        )
        .await?)
    }

    /// The latest bulletin published this school year (or `year`): what the parents'
    /// dashboard shows.
    async fn latest_bulletin(
        &self,
        year: Option<String>,
    ) -> GqlResult<Option<crate::schema::reportcards::BulletinView>> {
        let year = year_arg(&self.reader, year).await?;
        Ok(crate::schema::reportcards::latest_published(&self.reader, &year, &self.id).await?)
    }

    /// Each change of the student's enrolment: admission, divisions, groups,
    /// guardians, departure.
    #[graphql(complexity = "HISTORY_COST + child_complexity")]
    async fn history(&self) -> GqlResult<Vec<Change>> {
        let entity = ("student", Vec::new());
        Ok(
            history::<Student, Student, _>(&self.reader, &self.id, entity, |s| {
                (s.id.is_some()).then(|| Student {
                    identity: None,
                    ..s.clone()
                })
            })
            .await?,
        )
    }
}

/// A division or a group of one school year.
#[derive(Debug, Clone)]
pub struct ClassView {
    pub reader: Reader,
    pub actor: Arc<Actor>,
    pub year: SchoolYear,
    pub id: String,
    pub name: String,
    pub is_group: bool,
}

#[Object(name = "Class")]
impl ClassView {
    /// The global id (see `node`); it carries the school year.
    async fn id(&self) -> async_graphql::ID {
        crate::schema::node::global_id(
            crate::schema::node::NodeType::Class,
            &self.reader.tenant,
            &self.local_key(),
        )
    }

    /// The establishment's id of the division or group, e.g. `4A`.
    async fn local_id(&self) -> &str {
        &self.id
    }

    async fn year(&self) -> String {
        self.year.to_string()
    }

    async fn name(&self) -> &str {
        &self.name
    }

    /// A group (half-class, language, option) rather than a division.
    async fn is_group(&self) -> bool {
        self.is_group
    }

    /// A division's level (niveau), e.g. `4e`; null for a group.
    async fn level(&self) -> GqlResult<Option<String>> {
        let establishment = self.reader.establishment().await?;
        Ok(establishment
            .years
            .get(&self.year)
            .and_then(|y| y.divisions.get(&self.id))
            .map(|d| d.level.clone()))
    }

    /// The divisions a group is drawn from (empty for a division).
    async fn divisions(&self) -> GqlResult<Vec<String>> {
        let establishment = self.reader.establishment().await?;
        Ok(establishment
            .years
            .get(&self.year)
            .and_then(|y| y.groups.get(&self.id))
            .map(|g| g.divisions.clone())
            .unwrap_or_default())
    }

    /// A group's partition (groups of one partition are disjoint); null for a division.
    async fn partition(&self) -> GqlResult<Option<String>> {
        let establishment = self.reader.establishment().await?;
        Ok(establishment
            .years
            .get(&self.year)
            .and_then(|y| y.groups.get(&self.id))
            .map(|g| g.partition.clone()))
    }

    /// The students in the class on `date` (today by default), by id.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn roster(
        &self,
        date: Option<Date>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<KeyedPage<StudentView>> {
        self.actor.may_see_class(&self.year, &self.id)?;
        let date = match date {
            Some(d) => d.0,
            None => {
                let establishment = self.reader.establishment().await?;
                today(&self.reader, &establishment)
            }
        };
        // Everyone the class ever had, then each record as the reader sees it.
        let roster: enrolment::Roster = carnet_projections::query::doc(
            &self.reader.pool,
            &self.reader.tenant,
            enrolment::NAME,
            &format!("roster/{}/{}", self.year, self.id),
        )
        .await?
        .unwrap_or_default();
        let mut students = Vec::new();
        for id in roster.members.keys() {
            let record = match self.reader.student(id).await {
                Ok(r) => r,
                Err(ApiError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            let here = record.placement_on(date).is_some_and(|p| {
                p.year == self.year && (p.division == self.id || p.groups.contains(&self.id))
            });
            if here {
                students.push(StudentView {
                    reader: self.reader.clone(),
                    actor: self.actor.clone(),
                    id: id.clone(),
                    record,
                });
            }
        }
        let students = students.into_iter().map(|s| (s.id.clone(), s)).collect();
        keyed(students, after, before, first, last).await
    }

    async fn timetable(&self, from: Date, to: Date) -> GqlResult<Vec<Lesson>> {
        use carnet_projections::timetable::Whose;
        self.actor.may_see_class(&self.year, &self.id)?;
        let whose = if self.is_group {
            Whose::Group(&self.id)
        } else {
            Whose::Division(&self.id)
        };
        Ok(lessons(&self.reader, &self.actor, &self.year, whose, from.0, to.0).await?)
    }

    /// The gradebook of a period (the current one by default).
    async fn gradebook(&self, period: Option<String>) -> GqlResult<Option<GradebookView>> {
        self.actor.may_see_class(&self.year, &self.id)?;
        let period = match period {
            Some(p) => p,
            None => current_period(&self.reader, &self.year).await?,
        };
        let book = self.reader.gradebook(&self.year, &self.id, &period).await?;
        let stream = format!("{}/{}/{period}", self.year, self.id);
        let version = match book {
            Some(_) => self.reader.events::<Gradebook>(&stream).await?.len() as i64,
            None => 0,
        };
        Ok(book.map(|book| GradebookView {
            reader: self.reader.clone(),
            actor: self.actor.clone(),
            year: self.year.clone(),
            class: self.id.clone(),
            period,
            version,
            book,
        }))
    }
}

#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Service")]
pub struct ServiceView {
    pub year: String,
    pub subject: SubjectView,
    pub class: String,
}

/// A teacher: their services, timetable and registers.
pub struct TeacherView {
    pub reader: Reader,
    pub actor: Arc<Actor>,
    pub id: String,
    /// Null once the teacher's personal data was erased.
    pub name: Option<String>,
}

impl TeacherView {
    /// The teacher's lessons from `from` to `to` in the timetable of `year`: by default
    /// the school year `from` is in (else the current one).
    async fn lessons(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        year: Option<String>,
    ) -> ApiResult<Vec<Lesson>> {
        use carnet_projections::timetable::Whose;
        self.actor.may_see_teacher(&self.id)?;
        let year = match year {
            Some(y) => self::year(&self.reader, Some(&y)).await?,
            None => {
                let establishment = self.reader.establishment().await?;
                match establishment
                    .years
                    .iter()
                    .find(|(_, y)| y.first_day <= from && from <= y.last_day)
                {
                    Some((id, _)) => id.clone(),
                    None => self::year(&self.reader, None).await?,
                }
            }
        };
        lessons(
            &self.reader,
            &self.actor,
            &year,
            Whose::Teacher(&self.id),
            from,
            to,
        )
        .await
    }
}

#[Object(name = "Teacher")]
impl TeacherView {
    /// The global id (see `node`).
    async fn id(&self) -> async_graphql::ID {
        crate::schema::node::global_id(
            crate::schema::node::NodeType::Teacher,
            &self.reader.tenant,
            &self.id,
        )
    }

    /// The establishment's id of the teacher, e.g. `prof001`.
    async fn local_id(&self) -> &str {
        &self.id
    }

    /// Null once the teacher's personal data was erased.
    async fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    async fn services(&self) -> GqlResult<Vec<ServiceView>> {
        let services =
            enrolment::teacher_services(&self.reader.pool, &self.reader.tenant, &self.id).await?;
        let establishment = self.reader.establishment().await?;
        Ok(services
            .services
            .into_iter()
            .map(|(year, subject, class)| ServiceView {
                year: year.to_string(),
                subject: subject_of(&establishment, subject.as_str()),
                class: crate::access::class_id(&class).to_string(),
            })
            .collect())
    }

    /// The lessons of the week of `date`, Monday to Sunday. `date` defaults to today
    /// (the day of `asOf`, if given) in the establishment's time zone; `year` to the
    /// school year of the week's Monday.
    async fn week(&self, date: Option<Date>, year: Option<String>) -> GqlResult<Vec<Lesson>> {
        let establishment = self.reader.establishment().await?;
        let day = date
            .map(|d| d.0)
            .unwrap_or_else(|| today(&self.reader, &establishment));
        let (monday, sunday) = week_of(day);
        Ok(self.lessons(monday, sunday, year).await?)
    }

    /// The lessons from `from` to `to` (at most 62 days) in the timetable of `year`,
    /// by default the school year `from` is in.
    async fn timetable(
        &self,
        from: Date,
        to: Date,
        year: Option<String>,
    ) -> GqlResult<Vec<Lesson>> {
        Ok(self.lessons(from.0, to.0, year).await?)
    }
}

#[derive(Debug, Clone, InputObject)]
pub struct RightsInput {
    pub see: bool,
    pub justify: bool,
    pub notified: bool,
}

impl From<RightsInput> for GuardianRights {
    fn from(r: RightsInput) -> Self {
        GuardianRights {
            see: r.see,
            justify: r.justify,
            notified: r.notified,
        }
    }
}

/// Whose identifier `linkExternalId` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "PersonKind")]
pub enum PersonKindInput {
    Staff,
    Student,
    Guardian,
}

impl From<PersonKindInput> for PersonKind {
    fn from(k: PersonKindInput) -> Self {
        match k {
            PersonKindInput::Staff => PersonKind::Staff,
            PersonKindInput::Student => PersonKind::Student,
            PersonKindInput::Guardian => PersonKind::Guardian,
        }
    }
}

/// The caller, as the establishment knows them.
#[derive(Debug, Clone, SimpleObject)]
pub struct Me {
    pub person: String,
    pub establishment: String,
    /// What the caller acts as here.
    pub roles: Vec<ActingRole>,
    /// The children the caller is a guardian of (with the right to see them).
    pub children: Vec<String>,
    pub services: Vec<ServiceView>,
}
