//! Documents that hold an aggregate's state, folded with the aggregate's own `apply`: the
//! read model can then answer with the domain's own functions (occurrences, averages,
//! availability) and never drift from what the domain decides.

use cqrs_es::Aggregate;
use serde::de::DeserializeOwned;

use crate::error::ProjectionError;
use crate::runtime::{decode, Batch};
use carnet_store::RecordedEvent;

/// Applies `event` to the aggregate kept at `key`; returns the state before and after.
pub async fn fold<A>(
    batch: &mut Batch,
    key: &str,
    event: &RecordedEvent,
) -> Result<(A, A), ProjectionError>
where
    A: Aggregate + Clone + DeserializeOwned,
{
    let before: A = batch.get_or_default(key).await?;
    let mut after = before.clone();
    after.apply(decode::<A::Event>(event)?);
    batch.put(key, &after)?;
    Ok((before, after))
}
