//! The reservation commands.

use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct ReservationsMutation;

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl ReservationsMutation {
    /// Books (part of) a resource; it may wait for a manager's approval.
    async fn book(
        &self,
        ctx: &Context<'_>,
        resource: String,
        start: NaiveDateTime,
        end: NaiveDateTime,
        #[graphql(default = 1)] quantity: u32,
        #[graphql(default)] purpose: String,
        booking: Option<String>,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_book()?;
        c.reader.resource(&resource).await?;
        let id = c.new_id(booking, "book");
        let command = ReservationCommand::Book {
            booking: id.clone(),
            by: c.actor.person.clone(),
            start,
            end,
            quantity,
            purpose,
        };
        c.run("book", &c.school.resources, &resource, command, Some(id))
            .await
    }

    async fn cancel_booking(
        &self,
        ctx: &Context<'_>,
        resource: String,
        booking: String,
        reason: String,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_book()?;
        let command = ReservationCommand::CancelBooking {
            booking,
            by: c.actor.person.clone(),
            reason,
        };
        c.run(
            "cancel_booking",
            &c.school.resources,
            &resource,
            command,
            None,
        )
        .await
    }

    async fn approve_booking(
        &self,
        ctx: &Context<'_>,
        resource: String,
        booking: String,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        let found = c.reader.resource(&resource).await?;
        c.actor.may_manage(&found.managers)?;
        let command = ReservationCommand::ApproveBooking {
            booking,
            by: c.actor.person.clone(),
        };
        c.run(
            "approve_booking",
            &c.school.resources,
            &resource,
            command,
            None,
        )
        .await
    }

    async fn refuse_booking(
        &self,
        ctx: &Context<'_>,
        resource: String,
        booking: String,
        reason: String,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        let found = c.reader.resource(&resource).await?;
        c.actor.may_manage(&found.managers)?;
        let command = ReservationCommand::RefuseBooking {
            booking,
            by: c.actor.person.clone(),
            reason,
        };
        c.run(
            "refuse_booking",
            &c.school.resources,
            &resource,
            command,
            None,
        )
        .await
    }

    /// A room, a piece of equipment or a pool of items that staff can book.
    async fn register_resource(
        &self,
        ctx: &Context<'_>,
        resource: ResourceInput,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        c.actor.may_administer("registering a resource")?;
        non_empty(&resource.name, "resource.name")?;
        let kind = match resource.kind {
            NewResourceKind::Room => ResourceKind::Room {
                seats: resource.seats,
            },
            NewResourceKind::Item => ResourceKind::Item,
            NewResourceKind::Pool => ResourceKind::Pool {
                quantity: resource.quantity.ok_or_else(|| {
                    ApiError::validation("resource.quantity", "a pool needs its number of items")
                })?,
            },
        };
        let managers = if resource.managers.is_empty() {
            vec![c.actor.person.clone()]
        } else {
            let establishment = c.reader.establishment().await?;
            if let Some(m) = resource
                .managers
                .iter()
                .find(|m| !establishment.staff.contains_key(*m))
            {
                return Err(ApiError::validation(
                    "resource.managers",
                    format!("`{m}` is not on the establishment's staff"),
                )
                .into());
            }
            resource.managers
        };
        let id = c.new_id(resource.id, "resource");
        let command = ReservationCommand::RegisterResource {
            id: id.clone(),
            name: resource.name,
            kind,
            requires_approval: resource.requires_approval,
            managers,
        };
        c.run(
            "register_resource",
            &c.school.resources,
            &id,
            command,
            Some(id.clone()),
        )
        .await
    }

    /// The resource is out of service from `at`; bookings after it must be cancelled
    /// first.
    async fn retire_resource(
        &self,
        ctx: &Context<'_>,
        resource: String,
        at: NaiveDateTime,
        reason: String,
        command_id: Option<Uuid>,
        expected_version: Option<i64>,
    ) -> GqlResult<CommandResult> {
        let c = Command::new(ctx, command_id, expected_version).await?;
        let found = c.reader.resource(&resource).await?;
        c.actor.may_manage(&found.managers)?;
        non_empty(&reason, "reason")?;
        let command = ReservationCommand::RetireResource {
            at,
            by: c.actor.person.clone(),
            reason,
        };
        c.run(
            "retire_resource",
            &c.school.resources,
            &resource,
            command,
            None,
        )
        .await
    }
}
