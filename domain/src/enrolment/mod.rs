//! Enrolment (scolarité): the establishment and its school years, periods, divisions,
//! groups, subjects and staff; students with their enrolment history and guardians; the
//! year-end rollover.
//!
//! Two aggregates: [`Establishment`] (one per UAI: structures that change a few times a
//! year and whose rules span each other) and [`Student`] (one per student: placements
//! with effective dates, guardians and their rights). A student's commands name
//! divisions and groups by id; [`Establishment::check_placement`] is what the caller
//! checks them against before sending.

mod establishment;
mod ids;
mod rollover;
mod student;

pub use establishment::{
    check_year, ClassRef, DivisionSpec, Establishment, EstablishmentCommand, EstablishmentError,
    EstablishmentEvent, ExternalId, ExternalLink, GroupSpec, Period, PersonKind, Role, Service,
    StaffMember, Subject, Year, YearSpec,
};
pub use ids::{Ine, IneError, SchoolYear, SchoolYearError, SubjectCode, SubjectCodeError};
pub use rollover::{Decision, Rollover};
pub use student::{
    GroupStint, GuardianLink, GuardianRights, Identity, IdentityRecord, Placement, Stint, Student,
    StudentCommand, StudentError, StudentEvent,
};
