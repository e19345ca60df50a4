//! A first look at a query's size, before async-graphql validates it. Validation
//! compares the fields that answer under one name pairwise ("fields can merge"), so a
//! thousand aliases of one field cost it a million comparisons: a single request of
//! 90 KB kept a core busy past the request timeout. Counting the fields a query asks
//! for (fragments expanded, by arithmetic, not by copying) is linear, and refuses such a
//! query at once.

use std::collections::HashMap;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};

/// Most fields one query may ask for, fragments expanded: a parent's dashboard asks for
/// about 50, a class's report cards a few hundred.
pub const MAX_FIELDS: usize = 2_000;

/// The fields `query` asks for, fragments expanded; `None` when it does not parse (the
/// schema then answers the syntax error itself).
pub fn fields_asked(query: &str) -> Option<usize> {
    let document = async_graphql::parser::parse_query(query).ok()?;
    Some(fields_in(&document))
}

/// The fields a parsed query asks for, fragments expanded.
pub fn fields_in(document: &ExecutableDocument) -> usize {
    let mut fragments = HashMap::new();
    document
        .operations
        .iter()
        .map(|(_, op)| count(document, &op.node.selection_set.node, &mut fragments, 0))
        .fold(0usize, usize::saturating_add)
}

/// Why a query is refused for its size, the same words over both transports.
pub fn too_many_fields(fields: usize) -> crate::i18n::Text {
    crate::i18n::Text::new(
        format!(
            "la requête demande {fields} champs (fragments compris) ; au plus {MAX_FIELDS} par \
             requête"
        ),
        format!(
            "the query asks for {fields} fields (fragments expanded); at most {MAX_FIELDS} in \
             one request"
        ),
    )
}

/// The kind of the operation a request runs: the one named, or the only one; `None`
/// when there is no such operation (the schema then answers why).
pub fn operation_type(document: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    match (&document.operations, name) {
        (DocumentOperations::Single(op), None) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, op)| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        _ => None,
    }
}

/// Fields of `set`; `fragments` remembers each fragment's expanded count.
fn count(
    document: &ExecutableDocument,
    set: &SelectionSet,
    fragments: &mut HashMap<String, usize>,
    depth: usize,
) -> usize {
    // Deeper than any query the depth limit lets through, or a cycle of fragments
    // (refused by validation anyway): count it as too large.
    if depth > 64 {
        return usize::MAX;
    }
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => 1usize.saturating_add(count(
                document,
                &field.node.selection_set.node,
                fragments,
                depth + 1,
            )),
            Selection::InlineFragment(inline) => count(
                document,
                &inline.node.selection_set.node,
                fragments,
                depth + 1,
            ),
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.to_string();
                if let Some(known) = fragments.get(&name) {
                    return *known;
                }
                let size = match document
                    .fragments
                    .get(spread.node.fragment_name.node.as_str())
                {
                    Some(fragment) => count(
                        document,
                        &fragment.node.selection_set.node,
                        fragments,
                        depth + 1,
                    ),
                    None => 0,
                };
                fragments.insert(name, size);
                size
            }
        })
        .fold(0usize, usize::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_counted_with_fragments_expanded() {
        assert_eq!(fields_asked("{ me { person roles } }"), Some(3));
        let aliases: String = (0..999)
            .map(|i| format!("a{i}: me {{ person }} "))
            .collect();
        assert_eq!(fields_asked(&format!("{{ {aliases} }}")), Some(1998));
        // Each fragment doubles the one below: 2^20 fields in a few lines.
        let mut doubling = String::from("query { ...f0 }\nfragment f20 on Me { person }\n");
        for i in 0..20 {
            doubling.push_str(&format!(
                "fragment f{i} on Me {{ a: me {{ ...f{n} }} b: me {{ ...f{n} }} }}\n",
                n = i + 1
            ));
        }
        assert!(fields_asked(&doubling).is_some_and(|n| n > 1_000_000));
        assert_eq!(fields_asked("{ not closed"), None);
    }

    #[test]
    fn the_operation_run_is_the_one_named_or_the_only_one() {
        let parse = |q: &str| async_graphql::parser::parse_query(q).ok();
        let one = parse("subscription { absences { lesson } }");
        let two = parse("query A { me { person } } subscription B { absences { lesson } }");
        let (Some(one), Some(two)) = (one, two) else {
            panic!("the queries parse");
        };
        assert_eq!(
            operation_type(&one, None),
            Some(OperationType::Subscription)
        );
        assert_eq!(operation_type(&two, Some("A")), Some(OperationType::Query));
        assert_eq!(
            operation_type(&two, Some("B")),
            Some(OperationType::Subscription)
        );
        assert_eq!(operation_type(&two, None), None);
        assert_eq!(operation_type(&two, Some("C")), None);
    }
}
