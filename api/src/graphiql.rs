//! GraphiQL, served entirely from the Carnet binary.
//!
//! Carnet runs on school machines that are often offline or behind filters, so
//! the GraphiQL page must not load anything from a CDN: the page
//! (`assets/graphiql/index.html`) and the JavaScript/CSS it needs (React,
//! ReactDOM and GraphiQL's UMD bundle, vendored under `assets/graphiql/` by
//! `assets/graphiql/fetch.sh`, see the README there) are compiled in with
//! `include_str!`/`include_bytes!`. Nothing is read from the filesystem at run
//! time and the page only talks to its own origin: `POST /graphql` for queries
//! and mutations, `/graphql/ws` (graphql-ws protocol) for subscriptions.
//!
//! Routing (axum 0.8 path syntax):
//! `.route("/", get(|| async { graphiql::page(QUERY) }))`
//! `.route("/graphiql/{name}", get(graphiql::asset))`.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// The page; `__DEFAULT_QUERY__` is replaced by [`page`].
const INDEX_HTML: &str = include_str!("../assets/graphiql/index.html");

/// The placeholder in `index.html`, written there as
/// `const defaultQuery = __DEFAULT_QUERY__;`.
const DEFAULT_QUERY_PLACEHOLDER: &str = "__DEFAULT_QUERY__";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The vendored files are versioned by `fetch.sh` and only change with a new
/// binary, so browsers may keep them for good.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The GraphiQL page, with `default_query` as the query editor's initial text
/// (GraphiQL shows it unless the browser saved the user's own tabs).
///
/// The query is inserted as a JSON string literal inside a `<script>`; every
/// `<` in it is written as `\u003c` (which also covers `</` → no `</script>`,
/// and `<!--`), so a query can never end the script element early.
pub fn page(default_query: &str) -> Html<String> {
    Html(INDEX_HTML.replacen(
        DEFAULT_QUERY_PLACEHOLDER,
        &js_string_literal(default_query),
        1,
    ))
}

/// A JSON string literal for `s` that is safe to place inside an HTML
/// `<script>` element.
fn js_string_literal(s: &str) -> String {
    // Serialising a `&str` cannot fail; fall back to an empty query anyway
    // rather than panic.
    serde_json::to_string(s)
        .unwrap_or_else(|_| String::from("\"\""))
        .replace('<', "\\u003c")
}

/// `GET /graphiql/{name}`: one of the vendored GraphiQL files, embedded in the
/// binary, or 404 for any other name.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, content_type): (&'static [u8], &'static str) = match name.as_str() {
        "react.production.min.js" => (
            include_bytes!("../assets/graphiql/react.production.min.js"),
            JS,
        ),
        "react-dom.production.min.js" => (
            include_bytes!("../assets/graphiql/react-dom.production.min.js"),
            JS,
        ),
        "graphiql.min.js" => (include_bytes!("../assets/graphiql/graphiql.min.js"), JS),
        "graphiql.min.css" => (include_bytes!("../assets/graphiql/graphiql.min.css"), CSS),
        _ => return (StatusCode::NOT_FOUND, "no such GraphiQL asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    #[test]
    fn page_embeds_the_query_as_a_js_string() {
        let Html(html) = page("query {\n  me { id }\n}");
        assert!(html.contains(r#"const defaultQuery = "query {\n  me { id }\n}";"#));
        assert!(!html.contains(DEFAULT_QUERY_PLACEHOLDER));
        assert!(html.contains("<title>Carnet — GraphiQL</title>"));
    }

    #[test]
    fn page_query_cannot_close_the_script() {
        let Html(html) = page("</script><script>alert(1)</script><!--");
        assert!(!html.contains("</script><script>alert"));
        assert!(!html.contains("<!--\""));
        assert!(html.contains(r#""\u003c/script>\u003cscript>alert(1)\u003c/script>\u003c!--""#));
        // Exactly the page's own closing tags remain.
        assert_eq!(html.matches("</script>").count(), 4);
    }

    #[test]
    fn page_loads_nothing_from_other_hosts() {
        let Html(html) = page("{ __typename }");
        for needle in ["http://", "https://", "//cdn", "unpkg", "jsdelivr"] {
            assert!(!html.contains(needle), "page mentions {needle}");
        }
    }

    #[tokio::test]
    async fn assets_have_types_and_cache_headers() {
        for (name, ty) in [
            ("react.production.min.js", JS),
            ("react-dom.production.min.js", JS),
            ("graphiql.min.js", JS),
            ("graphiql.min.css", CSS),
        ] {
            let resp = asset(Path(name.to_owned())).await;
            assert_eq!(resp.status(), StatusCode::OK, "{name}");
            assert_eq!(resp.headers()[header::CONTENT_TYPE], ty, "{name}");
            assert_eq!(resp.headers()[header::CACHE_CONTROL], IMMUTABLE, "{name}");
            let body = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
            assert!(body.len() > 1000, "{name} is {} bytes", body.len());
        }
    }

    #[tokio::test]
    async fn unknown_assets_are_404() {
        for name in ["index.html", "../Cargo.toml", "graphiql.min.js.map", ""] {
            let resp = asset(Path(name.to_owned())).await;
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{name}");
        }
    }
}
