//! The language of the answers: French by default (Carnet serves French schools),
//! English when the request asks for it with `Accept-Language`.
//!
//! The transports (the HTTP handler, the WebSocket) read the language of each request
//! and run the schema inside [`scope`] (or [`scope_stream`] for a subscription), so that
//! an error turned into GraphQL anywhere below ([`crate::error::ApiError::to_graphql`])
//! speaks it without every resolver passing it along. Outside any scope it is French.
//! The language is also in the request's data, for resolvers that word something
//! themselves (`ctx.data_opt::<Lang>()`).

use std::future::Future;

use axum::http::HeaderMap;
use futures::Stream;

pub use carnet_domain::refusal::Lang;
use carnet_domain::refusal::Words;

tokio::task_local! {
    static LANG: Lang;
}

/// The language of the request being answered; French outside any [`scope`].
pub fn current() -> Lang {
    LANG.try_with(|lang| *lang).unwrap_or_default()
}

/// Runs `future` answering in `lang`.
pub async fn scope<F: Future>(lang: Lang, future: F) -> F::Output {
    LANG.scope(lang, future).await
}

/// Runs `f` answering in `lang`.
pub fn sync_scope<R>(lang: Lang, f: impl FnOnce() -> R) -> R {
    LANG.sync_scope(lang, f)
}

/// `stream`, each item of which is worked out answering in `lang` (a subscription's
/// errors are made while its stream is polled, long after the request that opened it).
pub fn scope_stream<S>(lang: Lang, stream: S) -> impl Stream<Item = S::Item> + Send
where
    S: Stream + Send + 'static,
{
    let mut stream = Box::pin(stream);
    futures::stream::poll_fn(move |cx| LANG.sync_scope(lang, || stream.as_mut().poll_next(cx)))
}

/// The language an `Accept-Language` value prefers among those Carnet speaks: the
/// supported one with the highest weight (`q`), the first listed among equals; French
/// when it names none (or is absent, or cannot be read).
pub fn from_accept_language(value: Option<&str>) -> Lang {
    let Some(value) = value else {
        return Lang::default();
    };
    let mut ranges: Vec<(f32, usize, Lang)> = value
        .split(',')
        .enumerate()
        .filter_map(|(index, range)| {
            let mut parts = range.split(';');
            let tag = parts.next()?.trim().to_ascii_lowercase();
            let mut weight = 1.0_f32;
            for parameter in parts {
                if let Some((name, q)) = parameter.split_once('=') {
                    if name.trim().eq_ignore_ascii_case("q") {
                        weight = q.trim().parse().ok()?;
                    }
                }
            }
            let primary = tag.split(['-', '_']).next().unwrap_or_default();
            let lang = match primary {
                "fr" => Lang::Fr,
                "en" => Lang::En,
                _ => return None,
            };
            (weight > 0.0 && weight.is_finite()).then_some((weight, index, lang))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranges
        .first()
        .map_or_else(Lang::default, |(_, _, lang)| *lang)
}

/// The language a request's headers ask for.
pub fn from_headers(headers: &HeaderMap) -> Lang {
    from_accept_language(
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// A message in both languages. Made from one `String` or `&str`, it is the same text
/// in both (for messages not translated yet, or that are only names and numbers).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text {
    pub fr: String,
    pub en: String,
}

impl Text {
    pub fn new(fr: impl Into<String>, en: impl Into<String>) -> Self {
        Text {
            fr: fr.into(),
            en: en.into(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Fr => &self.fr,
            Lang::En => &self.en,
        }
    }

    /// The text in the language of the request being answered.
    pub fn current(&self) -> &str {
        self.get(current())
    }

    /// Both texts changed by `f`: `Text::new(..).map(|t| format!("{field}: {t}"))`.
    pub fn map(&self, f: impl Fn(&str) -> String) -> Text {
        Text::new(f(&self.fr), f(&self.en))
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Text {
            fr: text.clone(),
            en: text,
        }
    }
}

impl From<&String> for Text {
    fn from(text: &String) -> Self {
        Text::from(text.clone())
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Text::from(text.to_string())
    }
}

impl From<Words> for Text {
    fn from(words: Words) -> Self {
        Text::new(words.fr, words.en)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_first_supported_by_weight() {
        let pick = |v: &str| from_accept_language(Some(v));
        assert_eq!(from_accept_language(None), Lang::Fr);
        assert_eq!(pick(""), Lang::Fr);
        assert_eq!(pick("en"), Lang::En);
        assert_eq!(pick("en-GB,en;q=0.9"), Lang::En);
        assert_eq!(pick("fr-FR,fr;q=0.9,en;q=0.8"), Lang::Fr);
        assert_eq!(pick("de-DE,en;q=0.5,fr;q=0.4"), Lang::En);
        assert_eq!(pick("fr;q=0.3,en;q=0.7"), Lang::En);
        assert_eq!(pick("en;q=0,fr;q=0.1"), Lang::Fr);
        assert_eq!(pick("en;q=0"), Lang::Fr);
        assert_eq!(pick("de, es"), Lang::Fr);
        assert_eq!(pick("EN-us"), Lang::En);
        assert_eq!(pick("*"), Lang::Fr);
        assert_eq!(pick("en;q=abc, fr"), Lang::Fr);
    }

    #[tokio::test]
    async fn the_language_is_the_scope_s_and_french_outside() {
        assert_eq!(current(), Lang::Fr);
        assert_eq!(scope(Lang::En, async { current() }).await, Lang::En);
        let text = Text::new("bonjour", "hello");
        assert_eq!(
            scope(Lang::En, async { text.current().to_string() }).await,
            "hello"
        );
        assert_eq!(text.current(), "bonjour");
        use futures::StreamExt;
        let langs: Vec<Lang> =
            scope_stream(Lang::En, futures::stream::iter(0..2).map(|_| current()))
                .collect()
                .await;
        assert_eq!(langs, vec![Lang::En, Lang::En]);
    }
}
