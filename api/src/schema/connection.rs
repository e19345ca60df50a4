//! Keyed Relay pagination (`first`/`after`, `last`/`before`) over a list sorted by a
//! stable key.
//!
//! A cursor is the item's key (its id or sort key), opaque (base64url): `after: X`
//! answers the items whose key comes after X's key, whatever was inserted or removed
//! meanwhile, so that a client paging through a list that grows sees no item twice and
//! misses none that was there when it started (`crate::pagination`'s cursors are
//! offsets, which shift when an item is inserted before them).

use async_graphql::connection::{query, Connection, CursorType, Edge};
use async_graphql::OutputType;
use base64::Engine;

use crate::error::ApiError;
use crate::i18n::Text;
use crate::pagination::{Total, DEFAULT_PAGE, MAX_PAGE};

/// The key of an item in a keyed list: its cursor, base64url-encoded.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key(pub String);

/// A cursor that is not one of a keyed list.
#[derive(Debug, thiserror::Error)]
#[error("not a cursor of this list")]
pub struct BadCursor;

impl CursorType for Key {
    type Error = BadCursor;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| BadCursor)?;
        String::from_utf8(bytes).map(Key).map_err(|_| BadCursor)
    }

    fn encode_cursor(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }
}

/// A page of a keyed list.
pub type KeyedPage<T> = Connection<Key, T, Total>;

/// The order of a keyed list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Ascending,
    /// Latest first, for lists whose keys are times (absences).
    Descending,
}

/// One page of `items`, each with its key: sorted by key (keys are unique; the first of
/// equal keys is kept), then cut after `after`'s key and before `before`'s key, then to
/// the `first` or `last` of what is left (50 by default, at most 500).
pub async fn keyed<T: OutputType>(
    items: Vec<(String, T)>,
    after: Option<String>,
    before: Option<String>,
    first: Option<i32>,
    last: Option<i32>,
) -> async_graphql::Result<KeyedPage<T>> {
    keyed_in(Order::Ascending, items, after, before, first, last).await
}

/// As [`keyed`], in `order`: in a descending list, "after X" is what comes later in the
/// list, so keys below X's.
pub async fn keyed_in<T: OutputType>(
    order: Order,
    mut items: Vec<(String, T)>,
    after: Option<String>,
    before: Option<String>,
    first: Option<i32>,
    last: Option<i32>,
) -> async_graphql::Result<KeyedPage<T>> {
    for (field, n) in [("first", first), ("last", last)] {
        if n.is_some_and(|n| n as usize > MAX_PAGE) {
            return Err(ApiError::validation(
                field,
                Text::new(
                    format!("au plus {MAX_PAGE} éléments par page"),
                    format!("at most {MAX_PAGE} items a page"),
                ),
            )
            .into());
        }
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items.dedup_by(|a, b| a.0 == b.0);
    if order == Order::Descending {
        items.reverse();
    }
    // Whether `key` comes before `cursor` in the list's order.
    let earlier = move |key: &str, cursor: &str| match order {
        Order::Ascending => key < cursor,
        Order::Descending => key > cursor,
    };
    query(
        after,
        before,
        first,
        last,
        |after: Option<Key>, before: Option<Key>, first, last| async move {
            let total = items.len();
            let mut start = after.map_or(0, |a| {
                items.partition_point(|(k, _)| earlier(k, &a.0) || *k == a.0)
            });
            let mut end = before
                .map_or(total, |b| items.partition_point(|(k, _)| earlier(k, &b.0)))
                .max(start);
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
                    .skip(start)
                    .take(end - start)
                    .map(|(k, item)| Edge::new(Key(k), item)),
            );
            Ok::<_, async_graphql::Error>(page)
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn page(
        order: Order,
        keys: &[&str],
        after: Option<String>,
        first: i32,
    ) -> (Vec<String>, Option<String>) {
        let items = keys
            .iter()
            .map(|k| (k.to_string(), k.to_string()))
            .collect();
        let page = keyed_in(order, items, after, None, Some(first), None)
            .await
            .ok();
        let nodes: Vec<String> = page
            .iter()
            .flat_map(|p| p.edges.iter().map(|e| e.node.clone()))
            .collect();
        let last = page.and_then(|p| p.edges.last().map(|e| e.cursor.encode_cursor()));
        (nodes, last)
    }

    #[tokio::test]
    async fn a_latest_first_list_keeps_its_cursors_when_later_items_arrive() {
        let keys = ["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"];
        let (first, cursor) = page(Order::Descending, &keys, None, 2).await;
        assert_eq!(first, ["2026-12-04", "2026-12-03"]);
        // A newer item arrives before the client asks for the next page.
        let grown = [
            "2026-12-01",
            "2026-12-02",
            "2026-12-03",
            "2026-12-04",
            "2026-12-05",
        ];
        let (next, _) = page(Order::Descending, &grown, cursor, 2).await;
        assert_eq!(next, ["2026-12-02", "2026-12-01"]);
    }

    #[tokio::test]
    async fn an_ascending_list_pages_after_its_cursor() {
        let (first, cursor) = page(Order::Ascending, &["a", "b", "c"], None, 1).await;
        assert_eq!(first, ["a"]);
        let (next, _) = page(Order::Ascending, &["0", "a", "b", "c"], cursor, 5).await;
        assert_eq!(next, ["b", "c"]);
    }
}
