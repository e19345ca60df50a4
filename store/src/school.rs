//! One establishment's command side: a command bus per aggregate of the domain, over
//! one event store and tenant, with the stream ids every caller must agree on (the API,
//! the importers, the demo).

use carnet_domain::attendance::{AttendancePolicy, StudentAttendance};
use carnet_domain::contact::GuardianContact;
use carnet_domain::enrolment::{
    Establishment, EstablishmentCommand, EstablishmentError, SchoolYear, Student,
};
use carnet_domain::grades::Gradebook;
use carnet_domain::reportcards::{ClassCouncil, CompetenceFramework};
use carnet_domain::reservations::Resource;
use carnet_domain::timetable::Timetable;
use carnet_domain::Uai;

use crate::aggregate::{AggregateCache, AggregateStore};
use crate::commands::{CommandBus, CommandContext, CommandError, CommandOutcome};
use crate::error::StoreError;
use crate::keys::Erase;
use crate::model::now_micros;
use crate::store::EventStore;

/// How many aggregates of each kind stay in memory after a command.
const CACHED: usize = 4096;

#[derive(Debug)]
pub struct School {
    pub tenant: Uai,
    pub store: EventStore,
    pub establishment: CommandBus<Establishment>,
    pub students: CommandBus<Student>,
    pub attendance: CommandBus<StudentAttendance>,
    pub gradebooks: CommandBus<Gradebook>,
    /// One stream per school year (`2026-2027`): clashes depend on every course.
    pub timetable: CommandBus<Timetable>,
    /// One stream per resource (its id): bookings of it are decided one at a time.
    pub resources: CommandBus<Resource>,
    /// One stream per guardian (their id): how they are reached, what they want to hear.
    pub contacts: CommandBus<GuardianContact>,
    /// One stream per division and period: its report cards and class council.
    pub councils: CommandBus<ClassCouncil>,
    /// One stream (the UAI): the competence items the teachers assess.
    pub framework: CommandBus<CompetenceFramework>,
}

impl School {
    pub fn new(store: EventStore, tenant: Uai, policy: AttendancePolicy) -> Self {
        fn bus<A>(store: &EventStore, tenant: &Uai, services: A::Services) -> CommandBus<A>
        where
            A: cqrs_es::Aggregate + std::fmt::Debug + 'static,
            A::Command: serde::Serialize + Clone,
        {
            CommandBus::new(
                AggregateStore::new(store.clone(), tenant.clone(), AggregateCache::new(CACHED)),
                services,
            )
        }
        School {
            establishment: bus(&store, &tenant, ()),
            students: bus(&store, &tenant, ()),
            attendance: bus(&store, &tenant, policy),
            gradebooks: bus(&store, &tenant, ()),
            resources: bus(&store, &tenant, ()),
            timetable: bus(&store, &tenant, ()),
            contacts: bus(&store, &tenant, ()),
            councils: bus(&store, &tenant, ()),
            framework: bus(&store, &tenant, ()),
            tenant,
            store,
        }
    }

    /// The establishment's stream: its UAI.
    pub fn establishment_id(&self) -> String {
        self.tenant.to_string()
    }

    /// A student's attendance over one school year.
    pub fn attendance_id(year: &SchoolYear, student: &str) -> String {
        format!("{year}/{student}")
    }

    /// The gradebook of a division or group for one period of one year.
    pub fn gradebook_id(year: &SchoolYear, class: &str, period: &str) -> String {
        format!("{year}/{class}/{period}")
    }

    /// The report cards of a division for one period of one year.
    pub fn council_id(year: &SchoolYear, division: &str, period: &str) -> String {
        format!("{year}/{division}/{period}")
    }

    /// Erases a person's personal data (RGPD art. 17, or a retention rule): records
    /// `PersonErased` on the establishment's stream, then destroys every key of theirs.
    /// From then on their names, birth date, reasons and comments read as erased
    /// everywhere, and nothing personal is recorded about them again. Running it again
    /// finishes an erasure a crash cut between the two steps. Returns the keys destroyed
    /// now.
    pub async fn erase_person(
        &self,
        person: &str,
        grounds: &str,
        context: &CommandContext,
    ) -> Result<Vec<String>, CommandError<EstablishmentError>> {
        Ok(self
            .erase_person_answered(person, grounds, context)
            .await?
            .1)
    }

    /// As [`School::erase_person`], with the answer of the command that recorded the
    /// erasure (`None` when it had been recorded before, by a run a crash cut short or
    /// an earlier request).
    pub async fn erase_person_answered(
        &self,
        person: &str,
        grounds: &str,
        context: &CommandContext,
    ) -> Result<(Option<CommandOutcome>, Vec<String>), CommandError<EstablishmentError>> {
        if !self
            .store
            .vault()
            .knows_person(&self.tenant, person)
            .await?
        {
            return Err(StoreError::InvalidInput {
                field: "person",
                reason: format!("there is no personal data of `{person}` in {}", self.tenant),
            }
            .into());
        }
        let command = EstablishmentCommand::ErasePerson {
            person: person.to_string(),
            by: context.actor.clone().unwrap_or_default(),
            grounds: grounds.to_string(),
        };
        let outcome = match self
            .establishment
            .execute(&self.establishment_id(), command, context)
            .await
        {
            Ok(outcome) => Some(outcome),
            Err(CommandError::Rejected(EstablishmentError::AlreadyErased(_))) => None,
            Err(e) => return Err(e),
        };
        let keys = self
            .store
            .vault()
            .erase(
                &self.tenant,
                &Erase::Person(person.to_string()),
                grounds,
                now_micros(),
            )
            .await?;
        Ok((outcome, keys))
    }
}
