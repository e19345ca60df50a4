//! Carnet's GraphQL API: `carnet serve`. One endpoint (axum + async-graphql) for the
//! queries over the read models, the mutations that are the domain's commands and the
//! subscriptions over the live log; GraphiQL served from the binary; health, readiness
//! and Prometheus metrics.
#![forbid(unsafe_code)]

pub mod access;
pub mod auth;
pub mod bulletin;
pub mod codes;
pub mod cost;
pub mod deadline;
pub mod depth;
pub mod downloads;
pub mod error;
pub mod feed;
pub mod feeds;
pub mod graphiql;
pub mod history;
pub mod i18n;
pub mod issuers;
pub mod limits;
pub mod lsu;
pub mod metrics;
pub mod notifications;
pub mod pagination;
pub mod persisted;
pub mod reader;
pub mod scalars;
pub mod schema;
pub mod server;
pub mod socket;
pub mod state;
pub mod verification;
