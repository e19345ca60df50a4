//! The bounds of Relay pages (`first`/`last`) and what a page costs; the pages
//! themselves are keyed (`crate::schema::connection`).

use async_graphql::SimpleObject;

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
