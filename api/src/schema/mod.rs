//! The GraphQL schema: queries over the read models, mutations that are the domain's
//! commands, subscriptions over the live log.
//!
//! One module per bounded context (enrolment, timetable, attendance, grades,
//! reservations, audit), each owning its objects, queries and mutations; the roots
//! below merge them. `context` is the request context of a mutation, `common` what the
//! contexts share, `prelude` the one `use` each context file starts with.

mod attendance;
mod audit;
pub(crate) mod common;
pub(crate) mod connection;
pub(crate) mod context;
mod enrolment;
mod grades;
mod imports;
pub(crate) mod node;
mod notification_query;
mod prelude;
pub(crate) mod reportcards;
mod reservations;
mod subscription;
mod timetable;

use std::sync::Arc;

use async_graphql::{Context, Schema};

use crate::access::Actor;
use crate::error::{ApiError, ApiResult};
use crate::reader::Reader;
use crate::state::{AppState, Caller};

pub use subscription::SubscriptionRoot;

/// Every query, merged from the contexts.
#[derive(Debug, Default, async_graphql::MergedObject)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    enrolment::EnrolmentQuery,
    enrolment::ListsQuery,
    timetable::TimetableQuery,
    timetable::CalendarQuery,
    node::NodeQuery,
    attendance::AttendanceQuery,
    reservations::ReservationsQuery,
    notification_query::NotificationQuery,
    reportcards::ReportCardsQuery,
);

/// Every mutation, merged from the contexts.
#[derive(Debug, Default, async_graphql::MergedObject)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    attendance::AttendanceMutation,
    grades::GradesMutation,
    reportcards::ReportCardsMutation,
    reservations::ReservationsMutation,
    enrolment::EnrolmentMutation,
    enrolment::AdministrationMutation,
    timetable::TimetableMutation,
    audit::AuditMutation,
    imports::ImportMutation,
    crate::feeds::FeedMutation,
    crate::notifications::NotificationMutation,
);

pub type CarnetSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Query depth and complexity limits: a dashboard query is about depth 6 and complexity
/// a few hundred; these leave room for real apps and stop abusive ones.
pub const MAX_DEPTH: usize = 12;
pub const MAX_COMPLEXITY: usize = 5_000;
/// Query texts kept for automatic persisted queries: the apps' few hundred queries
/// with room to spare (each is a parsed document of a few kilobytes).
const PERSISTED_QUERIES: usize = 2_048;

pub fn build(state: Arc<AppState>) -> CarnetSchema {
    let deadline = crate::deadline::Deadline(state.server_limits.operation_deadline);
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    // First, so that it sees every error of the others.
    .extension(crate::codes::ErrorCodes)
    .extension(deadline)
    // Not `limit_depth`: it would refuse the standard introspection query.
    .extension(crate::depth::DepthLimit {
        max: MAX_DEPTH,
        introspection: crate::depth::INTROSPECTION_DEPTH,
    })
    // Automatic persisted queries: an app sends a query's SHA-256 instead of its text
    // once the server has seen it (a phone on a slow network sends kilobytes less per
    // request); the texts are kept per server, the most used first.
    .extension(crate::persisted::PersistedQueries::new(PERSISTED_QUERIES))
    .data(state)
    .limit_complexity(MAX_COMPLEXITY)
    .finish()
}

/// The schema with no state, to check documents against it: a document it refuses
/// answers `GRAPHQL_PARSE_FAILED` or `GRAPHQL_VALIDATION_FAILED` (a valid one fails
/// later, for want of a server).
pub fn unserved() -> CarnetSchema {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .extension(crate::codes::ErrorCodes)
    .finish()
}

/// The schema with no state, to print its SDL.
pub fn sdl() -> String {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .finish()
    .sdl()
}

pub(crate) fn state<'a>(ctx: &Context<'a>) -> ApiResult<&'a Arc<AppState>> {
    ctx.data::<Arc<AppState>>()
        .map_err(|_| ApiError::internal(&"the schema was built without its state"))
}

/// The reader of the request's establishment (as of `as_of`) and the actor, or
/// UNAUTHENTICATED / FORBIDDEN.
pub(crate) async fn caller(
    ctx: &Context<'_>,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> ApiResult<(Reader, Arc<Actor>)> {
    let state = state(ctx)?;
    let caller = ctx
        .data::<Caller>()
        .map_err(|_| ApiError::Unauthenticated("no credentials with this request".into()))?;
    // A query or mutation (over HTTP or the WebSocket) shares its reads, and their
    // budget, between its fields; a subscription's fields each read afresh (it lives
    // for hours: one budget, or one memory of what was read, for all of it would not do).
    let reads = ctx
        .data_opt::<Arc<crate::reader::RequestReads>>()
        .cloned()
        .unwrap_or_default();
    let (reader, actor) = caller.reader_and_actor(state, reads).await?;
    if let Some(at) = as_of {
        if at > chrono::Utc::now() {
            return Err(ApiError::validation("asOf", "is in the future"));
        }
    }
    Ok((reader.at(as_of), actor))
}
