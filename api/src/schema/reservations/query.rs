//! The reservation queries.

use crate::schema::connection::{keyed, KeyedPage};
use crate::schema::node::{local_id, NodeType};
use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct ReservationsQuery;

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl ReservationsQuery {
    /// A resource: bookings and availability. `id` is its id or global id. Null, with
    /// the error, when unknown or not the caller's to see.
    async fn resource(
        &self,
        ctx: &Context<'_>,
        id: String,
        as_of: Option<DateTime<Utc>>,
    ) -> GqlResult<Option<ResourceView>> {
        let (reader, actor) = caller(ctx, as_of).await?;
        let id = local_id(&reader, NodeType::Resource, &id)?;
        Ok(Some(ResourceView::load(&reader, &actor, &id).await?))
    }

    /// Every resource of the establishment, by id (keyed cursors: a page after a
    /// cursor stays right when resources are registered meanwhile).
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn resources(
        &self,
        ctx: &Context<'_>,
        as_of: Option<DateTime<Utc>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<KeyedPage<ResourceView>> {
        let items = all_resources(ctx, as_of, None).await?;
        keyed(items, after, before, first, last).await
    }

    /// The rooms of the establishment (resources of kind room), by id.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn rooms(
        &self,
        ctx: &Context<'_>,
        as_of: Option<DateTime<Utc>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<KeyedPage<ResourceView>> {
        let rooms = |r: &Resource| matches!(r.kind, Some(ResourceKind::Room { .. }));
        let items = all_resources(ctx, as_of, Some(&rooms)).await?;
        keyed(items, after, before, first, last).await
    }
}

/// The establishment's resources (those `keep` keeps), each with its id, for those who
/// may see resources.
async fn all_resources(
    ctx: &Context<'_>,
    as_of: Option<DateTime<Utc>>,
    keep: Option<&(dyn Fn(&Resource) -> bool + Send + Sync)>,
) -> ApiResult<Vec<(String, ResourceView)>> {
    let (reader, actor) = caller(ctx, as_of).await?;
    actor.may_see_resources()?;
    let ids: Vec<String> = docs::docs_with_prefix::<serde_json::Value>(
        &reader.pool,
        &reader.tenant,
        reservations::NAME,
        "resource/",
    )
    .await?
    .into_iter()
    .filter_map(|(k, _)| k.strip_prefix("resource/").map(str::to_string))
    .collect();
    let mut items = Vec::new();
    for id in ids {
        match reader.resource(&id).await {
            Ok(resource) if keep.is_none_or(|keep| keep(&resource)) => items.push((
                id,
                ResourceView {
                    reader: reader.clone(),
                    resource,
                },
            )),
            Ok(_) => {}
            // Registered after `asOf`.
            Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(items)
}
