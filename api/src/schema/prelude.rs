//! What the context modules of the schema share: the crates' types they all use and
//! each other's objects (a student shows their attendance, grades and timetable), so
//! that a context file starts with one `use` and holds only its own code.

pub(crate) use std::collections::{BTreeMap, BTreeSet};
pub(crate) use std::sync::Arc;

pub(crate) use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject};
pub(crate) use carnet_domain::attendance::{
    AttendanceCommand, LessonEntry, Part, Status, StudentAttendance,
};
pub(crate) use carnet_domain::enrolment::{
    Establishment, EstablishmentCommand, ExternalId, GuardianRights, Identity, Ine, PersonKind,
    Role, SchoolYear, Student, StudentCommand,
};
pub(crate) use carnet_domain::grades::{
    averages, EvaluationSpec, Gradebook, GradebookCommand, Mark, NotHandedIn,
};
pub(crate) use carnet_domain::reservations::{
    Booking, BookingStatus, ReservationCommand, Resource, ResourceKind,
};
pub(crate) use carnet_domain::timetable::{
    CourseSpec, ExtraLesson, Occurrence, OccurrenceKind, Timetable, TimetableCommand, WeekPattern,
};
pub(crate) use carnet_projections::grades::StudentAverages;
pub(crate) use carnet_projections::{attendance, enrolment, query as docs, reservations};
pub(crate) use carnet_store::{CommandBus, CommandContext, CommandOutcome, School, Source};
pub(crate) use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc, Weekday};
pub(crate) use cqrs_es::Aggregate;
pub(crate) use rust_decimal::Decimal;
pub(crate) use serde::Serialize;
pub(crate) use uuid::Uuid;

pub(crate) use crate::access::{student_classes, Actor};
pub(crate) use crate::error::{ApiError, ApiResult};
pub(crate) use crate::history::{history, Change};
pub(crate) use crate::i18n::Text;
pub(crate) use crate::reader::Reader;
pub(crate) use crate::scalars::{Date, LocalDateTime, Time};
pub(crate) use crate::schema::connection::{keyed, keyed_in, KeyedPage, Order};
pub(crate) use crate::state::Caller;

pub(crate) use super::attendance::*;
pub(crate) use super::common::*;
pub(crate) use super::context::*;
pub(crate) use super::enrolment::*;
pub(crate) use super::grades::*;
pub(crate) use super::reservations::*;
pub(crate) use super::timetable::*;
pub(crate) use super::{caller, state};

pub(crate) type GqlResult<T> = async_graphql::Result<T>;
