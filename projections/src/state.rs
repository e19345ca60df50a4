//! Documents that hold an aggregate's state, folded with the aggregate's own `apply`: the
//! read model can then answer with the domain's own functions (occurrences, averages,
//! availability) and never drift from what the domain decides.

use cqrs_es::Aggregate;
use serde::de::DeserializeOwned;

use crate::error::ProjectionError;
use crate::runtime::Batch;

/// Applies `event` (already decoded by the caller, which usually looks at it too) to
/// the aggregate kept at `key` and returns the new state.
pub async fn fold<'b, A>(
    batch: &'b mut Batch,
    key: &str,
    event: A::Event,
) -> Result<&'b mut A, ProjectionError>
where
    A: Aggregate + DeserializeOwned + 'static,
{
    let state: &mut A = batch.typed_mut(key).await?;
    state.apply(event);
    Ok(state)
}
