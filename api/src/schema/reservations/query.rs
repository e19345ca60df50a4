//! The reservation queries.

use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct ReservationsQuery;

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl ReservationsQuery {
    /// A resource: bookings and availability.
    async fn resource(
        &self,
        ctx: &Context<'_>,
        id: String,
        as_of: Option<DateTime<Utc>>,
    ) -> GqlResult<ResourceView> {
        let (reader, actor) = caller(ctx, as_of).await?;
        actor.may_see_resources()?;
        let resource = reader.resource(&id).await?;
        Ok(ResourceView { reader, resource })
    }

    /// Every resource of the establishment, by id.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn resources(
        &self,
        ctx: &Context<'_>,
        as_of: Option<DateTime<Utc>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<Page<ResourceView>> {
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
                Ok(resource) => items.push(ResourceView {
                    reader: reader.clone(),
                    resource,
                }),
                // Registered after `asOf`.
                Err(ApiError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        paginate(items, after, before, first, last).await
    }
}
