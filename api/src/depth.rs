//! How deep a query may nest, with introspection measured on its own scale.
//!
//! async-graphql's `limit_depth` counts the schema's introspection like any other field,
//! and the introspection query every GraphQL tool sends (GraphiQL's Docs pane, codegen)
//! nests `ofType` eight or nine times: about 15 levels, past the 12 a real query of
//! Carnet needs (its issue #1696). This extension checks the parsed document instead:
//! data fields at most [`MAX_DEPTH`](crate::schema::MAX_DEPTH) deep, and the subtrees
//! under `__schema` and `__type` at most [`INTROSPECTION_DEPTH`]. Introspection reads the
//! schema in memory; its size is bounded by the field count checked before this
//! (`crate::cost`) and by the complexity limit.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerResult, Variables};

use crate::error::ApiError;

/// How deep an introspection subtree may nest: the standard query needs about 15.
pub const INTROSPECTION_DEPTH: usize = 32;

#[derive(Debug, Clone, Copy)]
pub struct DepthLimit {
    pub max: usize,
    pub introspection: usize,
}

impl ExtensionFactory for DepthLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for DepthLimit {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Some(depth) = self.too_deep(&document) {
            let (max, introspection) = (self.max, self.introspection);
            let error = ApiError::TooCostly(crate::i18n::Text::new(
                format!(
                    "la requête est trop imbriquée : {depth} niveaux, au plus {max} \
                     (introspection : {introspection})"
                ),
                format!(
                    "the query is nested too deep: {depth} levels, at most {max} \
                     (introspection: {introspection})"
                ),
            ));
            return Err(error.to_server_error());
        }
        Ok(document)
    }
}

impl DepthLimit {
    /// The depth reached past its limit, if the document goes past one anywhere.
    pub fn too_deep(&self, document: &ExecutableDocument) -> Option<usize> {
        document.operations.iter().find_map(|(_, op)| {
            let mut stack = Vec::new();
            self.walk(
                document,
                &op.node.selection_set.node,
                0,
                self.max,
                &mut stack,
            )
        })
    }

    fn walk<'a>(
        &self,
        document: &'a ExecutableDocument,
        set: &'a SelectionSet,
        depth: usize,
        limit: usize,
        fragments: &mut Vec<&'a str>,
    ) -> Option<usize> {
        set.items.iter().find_map(|item| match &item.node {
            Selection::Field(field) => {
                let field = &field.node;
                let limit = match field.name.node.as_str() {
                    "__schema" | "__type" => self.introspection,
                    _ => limit,
                };
                let depth = depth + 1;
                if depth > limit {
                    return Some(depth);
                }
                self.walk(document, &field.selection_set.node, depth, limit, fragments)
            }
            Selection::InlineFragment(inline) => self.walk(
                document,
                &inline.node.selection_set.node,
                depth,
                limit,
                fragments,
            ),
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                // A fragment spread inside itself is invalid: validation says so.
                if fragments.contains(&name) {
                    return None;
                }
                let fragment = document.fragments.get(&spread.node.fragment_name.node)?;
                fragments.push(name);
                let found = self.walk(
                    document,
                    &fragment.node.selection_set.node,
                    depth,
                    limit,
                    fragments,
                );
                fragments.pop();
                found
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const LIMIT: DepthLimit = DepthLimit {
        max: 3,
        introspection: 32,
    };

    fn depth_of(query: &str) -> Option<usize> {
        LIMIT.too_deep(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn data_fields_are_limited_and_fragments_count_where_they_are_spread() {
        assert_eq!(depth_of("{ a { b { c } } }"), None);
        assert_eq!(depth_of("{ a { b { c { d } } } }"), Some(4));
        assert_eq!(
            depth_of("{ a { ...F } } fragment F on T { b { ... on U { c { d } } } }"),
            Some(4)
        );
        // A cycle is left to validation, not followed forever.
        assert_eq!(
            depth_of("{ a { ...F } } fragment F on T { b { ...F } }"),
            None
        );
    }

    #[test]
    fn introspection_has_its_own_scale() {
        let of_type = "ofType { ".repeat(10) + "name" + &" }".repeat(10);
        let query = format!("{{ __schema {{ types {{ fields {{ type {{ {of_type} }} }} }} }} }}");
        assert_eq!(depth_of(&query), None);
        let query = format!("{{ a {{ b {{ {of_type} }} }} }}");
        assert!(
            depth_of(&query).is_some(),
            "not under __schema: the data limit"
        );
        let endless = "ofType { ".repeat(40) + "name" + &" }".repeat(40);
        assert!(depth_of(&format!("{{ __type(name: \"X\") {{ {endless} }} }}")).is_some());
    }
}
