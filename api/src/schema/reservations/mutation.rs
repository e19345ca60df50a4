//! The reservation commands.

use crate::schema::node::NodeType;
use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct ReservationsMutation;

/// A booking of (part of) a resource.
#[derive(Debug, Clone, InputObject)]
pub struct BookInput {
    /// The resource's id (`Resource.id`).
    pub resource: String,
    /// When the booking starts (local time).
    pub start: LocalDateTime,
    /// When it ends (local time).
    pub end: LocalDateTime,
    /// How many of a pool's items (1 for a room or an item).
    #[graphql(default = 1)]
    pub quantity: u32,
    #[graphql(default)]
    pub purpose: String,
    /// The booking's id; by default one is made (the same on a retry with the same
    /// `commandId`).
    pub booking: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    BookPayload,
    "The booking as made (pending while it waits for a manager's approval); null if the caller may not read the resource's bookings.",
    booking: BookingView
);

/// A booking cancelled, saying why.
#[derive(Debug, Clone, InputObject)]
pub struct CancelBookingInput {
    pub resource: String,
    /// The booking's id (`Booking.id`).
    pub booking: String,
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    CancelBookingPayload,
    "The booking, now cancelled; null if the caller may not read the resource's bookings.",
    booking: BookingView
);

/// A pending booking approved by a manager of the resource.
#[derive(Debug, Clone, InputObject)]
pub struct ApproveBookingInput {
    pub resource: String,
    /// The booking's id (`Booking.id`).
    pub booking: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    ApproveBookingPayload,
    "The booking, now confirmed; null if the caller may not read the resource's bookings.",
    booking: BookingView
);

/// A pending booking refused by a manager of the resource, saying why.
#[derive(Debug, Clone, InputObject)]
pub struct RefuseBookingInput {
    pub resource: String,
    /// The booking's id (`Booking.id`).
    pub booking: String,
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    RefuseBookingPayload,
    "The booking, now refused; null if the caller may not read the resource's bookings.",
    booking: BookingView
);

/// A room, a piece of equipment or a pool of items that staff can book.
#[derive(Debug, Clone, InputObject)]
pub struct RegisterResourceInput {
    /// The resource's id; by default one is made.
    pub id: Option<String>,
    pub name: String,
    pub kind: NewResourceKind,
    /// A room's seats (information), a pool's number of items (required).
    pub seats: Option<u32>,
    pub quantity: Option<u32>,
    #[graphql(default)]
    pub requires_approval: bool,
    /// Who approves bookings; by default the person registering it.
    #[graphql(default)]
    pub managers: Vec<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    RegisterResourcePayload,
    "The resource as registered; null if the caller may not read resources.",
    resource: ResourceView
);

/// A resource out of service from `at`.
#[derive(Debug, Clone, InputObject)]
pub struct RetireResourceInput {
    pub resource: String,
    /// From when it is out of service (local time).
    pub at: LocalDateTime,
    /// Why; required.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

payload!(
    RetireResourcePayload,
    "The resource, now retired; null if the caller may not read resources.",
    resource: ResourceView
);

/// The resource read back after a command (its read model is updated in the command's
/// transaction); `None` if the caller may not read resources.
async fn resource_after(c: &Command<'_>, resource: &str) -> ApiResult<Option<ResourceView>> {
    if c.actor.may_see_resources().is_err() {
        return Ok(None);
    }
    let reader = c.reader.fresh();
    let resource = match reader.resource(resource).await {
        Ok(found) => found,
        Err(ApiError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(ResourceView { reader, resource }))
}

/// A booking of the resource read back after a command.
async fn booking_after(
    c: &Command<'_>,
    resource: &str,
    id: &str,
) -> ApiResult<Option<BookingView>> {
    let Some(view) = resource_after(c, resource).await? else {
        return Ok(None);
    };
    Ok(view
        .resource
        .bookings
        .get(id)
        .map(|b| booking(&view.reader, resource, b)))
}

#[Object]
impl ReservationsMutation {
    /// Books (part of) a resource; it may wait for a manager's approval.
    async fn book(&self, ctx: &Context<'_>, input: BookInput) -> GqlResult<BookPayload> {
        let c = Command::sent(ctx, input.options).await?;
        let resource = input.resource;
        c.actor.may_book()?;
        c.reader.resource(&resource).await?;
        let id = c.new_id(input.booking, "book");
        let command = ReservationCommand::Book {
            booking: id.clone(),
            by: c.actor.person.clone(),
            start: input.start.0,
            end: input.end.0,
            quantity: input.quantity,
            purpose: input.purpose,
        };
        let result = c
            .run(
                "book",
                &c.school.resources,
                &resource,
                command,
                Some(id.clone()),
            )
            .await?;
        let booking = booking_after(&c, &resource, &id).await?;
        Ok(BookPayload { result, booking })
    }

    /// Cancels a booking, saying why.
    async fn cancel_booking(
        &self,
        ctx: &Context<'_>,
        input: CancelBookingInput,
    ) -> GqlResult<CancelBookingPayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.resource = c.local(NodeType::Resource, &input.resource)?;
        c.actor.may_book()?;
        let command = ReservationCommand::CancelBooking {
            booking: input.booking.clone(),
            by: c.actor.person.clone(),
            reason: input.reason,
        };
        let result = c
            .run(
                "cancel_booking",
                &c.school.resources,
                &input.resource,
                command,
                None,
            )
            .await?;
        let booking = booking_after(&c, &input.resource, &input.booking).await?;
        Ok(CancelBookingPayload { result, booking })
    }

    /// A manager of the resource approves a pending booking.
    async fn approve_booking(
        &self,
        ctx: &Context<'_>,
        input: ApproveBookingInput,
    ) -> GqlResult<ApproveBookingPayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.resource = c.local(NodeType::Resource, &input.resource)?;
        let found = c.reader.resource(&input.resource).await?;
        c.actor.may_manage(&found.managers)?;
        let command = ReservationCommand::ApproveBooking {
            booking: input.booking.clone(),
            by: c.actor.person.clone(),
        };
        let result = c
            .run(
                "approve_booking",
                &c.school.resources,
                &input.resource,
                command,
                None,
            )
            .await?;
        let booking = booking_after(&c, &input.resource, &input.booking).await?;
        Ok(ApproveBookingPayload { result, booking })
    }

    /// A manager of the resource refuses a pending booking, saying why.
    async fn refuse_booking(
        &self,
        ctx: &Context<'_>,
        input: RefuseBookingInput,
    ) -> GqlResult<RefuseBookingPayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.resource = c.local(NodeType::Resource, &input.resource)?;
        let found = c.reader.resource(&input.resource).await?;
        c.actor.may_manage(&found.managers)?;
        let command = ReservationCommand::RefuseBooking {
            booking: input.booking.clone(),
            by: c.actor.person.clone(),
            reason: input.reason,
        };
        let result = c
            .run(
                "refuse_booking",
                &c.school.resources,
                &input.resource,
                command,
                None,
            )
            .await?;
        let booking = booking_after(&c, &input.resource, &input.booking).await?;
        Ok(RefuseBookingPayload { result, booking })
    }

    /// A room, a piece of equipment or a pool of items that staff can book.
    async fn register_resource(
        &self,
        ctx: &Context<'_>,
        input: RegisterResourceInput,
    ) -> GqlResult<RegisterResourcePayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_administer("registering a resource")?;
        non_empty(&input.name, "name")?;
        let kind = match input.kind {
            NewResourceKind::Room => ResourceKind::Room { seats: input.seats },
            NewResourceKind::Item => ResourceKind::Item,
            NewResourceKind::Pool => ResourceKind::Pool {
                quantity: input.quantity.ok_or_else(|| {
                    ApiError::validation(
                        "quantity",
                        Text::new(
                            "un lot de matériel doit indiquer son nombre d'exemplaires",
                            "a pool needs its number of items",
                        ),
                    )
                })?,
            },
        };
        let managers = if input.managers.is_empty() {
            vec![c.actor.person.clone()]
        } else {
            let establishment = c.reader.establishment().await?;
            if let Some(m) = input
                .managers
                .iter()
                .find(|m| !establishment.staff.contains_key(*m))
            {
                return Err(ApiError::validation(
                    "managers",
                    Text::new(
                        format!("`{m}` ne fait pas partie du personnel de l'établissement"),
                        format!("`{m}` is not on the establishment's staff"),
                    ),
                )
                .into());
            }
            input.managers
        };
        let id = c.new_id(input.id, "resource");
        let command = ReservationCommand::RegisterResource {
            id: id.clone(),
            name: input.name,
            kind,
            requires_approval: input.requires_approval,
            managers,
        };
        let result = c
            .run(
                "register_resource",
                &c.school.resources,
                &id,
                command,
                Some(id.clone()),
            )
            .await?;
        let resource = resource_after(&c, &id).await?;
        Ok(RegisterResourcePayload { result, resource })
    }

    /// The resource is out of service from `at`; bookings after it must be cancelled
    /// first.
    async fn retire_resource(
        &self,
        ctx: &Context<'_>,
        input: RetireResourceInput,
    ) -> GqlResult<RetireResourcePayload> {
        let c = Command::sent(ctx, input.options).await?;
        // A global id (`Node.id`) or the school's own.
        let mut input = input;
        input.resource = c.local(NodeType::Resource, &input.resource)?;
        let found = c.reader.resource(&input.resource).await?;
        c.actor.may_manage(&found.managers)?;
        non_empty(&input.reason, "reason")?;
        let command = ReservationCommand::RetireResource {
            at: input.at.0,
            by: c.actor.person.clone(),
            reason: input.reason,
        };
        let result = c
            .run(
                "retire_resource",
                &c.school.resources,
                &input.resource,
                command,
                None,
            )
            .await?;
        let resource = resource_after(&c, &input.resource).await?;
        Ok(RetireResourcePayload { result, resource })
    }
}
