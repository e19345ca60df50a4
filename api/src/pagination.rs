//! Relay-style pagination (`first`/`after`, `last`/`before`) over an ordered list.

use async_graphql::connection::{query, Connection, Edge};
use async_graphql::{OutputType, SimpleObject};

use crate::error::ApiError;

/// Items per page when the client does not say.
pub const DEFAULT_PAGE: usize = 50;
/// The most items a page may ask for.
pub const MAX_PAGE: usize = 500;

/// What a page counts against the request's complexity: its items, each as much as what
/// is asked of it (a page of 500 absences with their histories costs 500 histories).
pub fn page_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let asked = first
        .or(last)
        .map_or(DEFAULT_PAGE, |n| usize::try_from(n).unwrap_or(0))
        .clamp(1, MAX_PAGE);
    asked.saturating_mul(child_complexity).saturating_add(1)
}

#[derive(Debug, SimpleObject)]
pub struct Total {
    /// How many items there are in all pages.
    pub total_count: usize,
}

pub type Page<T> = Connection<usize, T, Total>;

/// One page of `items`; the cursor of an item is its index in the list.
pub async fn paginate<T: OutputType>(
    items: Vec<T>,
    after: Option<String>,
    before: Option<String>,
    first: Option<i32>,
    last: Option<i32>,
) -> async_graphql::Result<Page<T>> {
    for (field, n) in [("first", first), ("last", last)] {
        if n.is_some_and(|n| n as usize > MAX_PAGE) {
            return Err(ApiError::validation(
                field,
                crate::i18n::Text::new(
                    format!("au plus {MAX_PAGE} éléments par page"),
                    format!("at most {MAX_PAGE} items a page"),
                ),
            )
            .into());
        }
    }
    query(
        after,
        before,
        first,
        last,
        |after, before, first, last| async move {
            let total = items.len();
            let start = after.map_or(0, |a: usize| a.saturating_add(1)).min(total);
            let mut end = before.unwrap_or(total).clamp(start, total);
            let mut start = start;
            match (first, last) {
                (Some(first), _) => end = end.min(start + first),
                (None, Some(last)) => start = end.saturating_sub(last).max(start),
                (None, None) => end = end.min(start + DEFAULT_PAGE),
            }
            if let (Some(_), Some(last)) = (first, last) {
                start = end.saturating_sub(last).max(start);
            }
            let mut page = Connection::with_additional_fields(
                start > 0,
                end < total,
                Total { total_count: total },
            );
            page.edges.extend(
                items
                    .into_iter()
                    .enumerate()
                    .skip(start)
                    .take(end - start)
                    .map(|(i, item)| Edge::new(i, item)),
            );
            Ok::<_, async_graphql::Error>(page)
        },
    )
    .await
}
