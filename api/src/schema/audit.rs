//! The audit context: erasure of a person's data (their history is read through
//! each object's `history` field).

use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct AuditMutation;

/// The person whose personal data is erased, and why.
#[derive(Debug, Clone, InputObject)]
pub struct ErasePersonInput {
    /// The person's id in Carnet (a student, a guardian, a member of staff).
    pub person: String,
    /// The grounds of the erasure (the request it answers), kept in the log.
    pub grounds: String,
    /// A retry with the same id records nothing more (the `Idempotency-Key` header
    /// does the same). No `expectedVersion`: an erasure is not decided on what the
    /// client read.
    pub command_id: Option<Uuid>,
}

payload!(
    ErasePersonPayload,
    "What the erasure did: the command that recorded it (its position, `replayed` on a \
     retry with the same `commandId`); when the erasure had been recorded before, \
     `changed` says whether this call destroyed keys left by an interrupted run.",
    erasure: Erasure
);

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl AuditMutation {
    /// Erases a person's personal data (RGPD art. 17, the right to erasure): the
    /// erasure is recorded in the log, then every key of theirs is destroyed. Their
    /// names, birth date, absence reasons and comments then read as null everywhere
    /// (and as erased in exports); the rest of the school's history stays, and the log
    /// still verifies. Nothing personal is recorded about them again. For the head of
    /// the establishment; running it again finishes an interrupted erasure.
    async fn erase_person(
        &self,
        ctx: &Context<'_>,
        input: ErasePersonInput,
    ) -> GqlResult<ErasePersonPayload> {
        let ErasePersonInput {
            person,
            grounds,
            command_id,
        } = input;
        let c = Command::new(ctx, command_id, None).await?;
        c.actor.may_administer("erasing personal data")?;
        non_empty(&person, "person")?;
        non_empty(&grounds, "grounds")?;
        let context = c.context();
        let (outcome, destroyed) = c
            .school
            .erase_person_answered(&person, &grounds, &context)
            .await
            .map_err(ApiError::from)?;
        let stream_id = c.school.establishment_id();
        let stream = format!("{}/{stream_id}", Establishment::TYPE);
        let result = match outcome {
            Some(CommandOutcome::Appended(o)) => CommandResult {
                stream,
                version: o.stream_version,
                changed: true,
                replayed: o.replayed,
                position: Some(o.last_position),
                recorded_at: Some(o.recorded_at),
                command_id: context.command_id,
                created: None,
            },
            // Recorded before (an earlier request, or a run a crash cut short): this
            // call destroyed what keys were left.
            other => {
                let version = match other {
                    Some(CommandOutcome::Unchanged { stream_version }) => stream_version,
                    _ => {
                        c.school
                            .establishment
                            .state(&stream_id)
                            .await
                            .map_err(ApiError::from)?
                            .0
                    }
                };
                CommandResult {
                    stream,
                    version,
                    changed: !destroyed.is_empty(),
                    replayed: false,
                    position: None,
                    recorded_at: None,
                    command_id: context.command_id,
                    created: None,
                }
            }
        };
        Ok(ErasePersonPayload {
            result,
            erasure: Some(Erasure {
                person,
                keys_destroyed: destroyed.len(),
            }),
        })
    }
}

/// What `erasePerson` did.
#[derive(Debug, Clone, SimpleObject)]
pub struct Erasure {
    pub person: String,
    /// Keys destroyed by this call (0 when the person was already erased).
    pub keys_destroyed: usize,
}
