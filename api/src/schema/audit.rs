//! The audit context: erasure of a person's data (their history is read through
//! each object's `history` field).

use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct AuditMutation;

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
        person: String,
        grounds: String,
        command_id: Option<Uuid>,
    ) -> GqlResult<Erasure> {
        let c = Command::new(ctx, command_id, None).await?;
        c.actor.may_administer("erasing personal data")?;
        non_empty(&person, "person")?;
        non_empty(&grounds, "grounds")?;
        let destroyed = c
            .school
            .erase_person(&person, &grounds, &c.context())
            .await
            .map_err(ApiError::from)?;
        Ok(Erasure {
            person,
            keys_destroyed: destroyed.len(),
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
