//! The notification queries (the commands are in `crate::notifications`).

use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct NotificationQuery;

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl NotificationQuery {
    /// How a guardian is reached and what they chose: the guardian themselves, or the
    /// secretariat, the CPE and the head.
    async fn notification_preferences(
        &self,
        ctx: &Context<'_>,
        guardian: String,
    ) -> GqlResult<crate::notifications::NotificationPreferences> {
        Ok(crate::notifications::preferences(ctx, guardian).await?)
    }

    /// The establishment's notifications to guardians, newest first (`status: DEAD`:
    /// the dead letters, each with why): vie scolaire and the administration.
    async fn notification_deliveries(
        &self,
        ctx: &Context<'_>,
        status: Option<crate::notifications::DeliveryStatus>,
        first: Option<i32>,
    ) -> GqlResult<Vec<crate::notifications::NotificationDelivery>> {
        Ok(crate::notifications::deliveries(ctx, status, first).await?)
    }
}
