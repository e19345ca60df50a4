//! Drive a real headless Chromium through Carnet's GraphiQL page, the way a
//! person would: type a query, set the headers, press run, read the result.
//!
//! Uses the Debian `chromium` package at [`CHROMIUM`] (never a downloaded
//! browser: `headless_chrome` is built without its `fetch` feature) through
//! the Chrome DevTools Protocol. Blocking: from a `#[tokio::test]` that also
//! runs the server, call it inside `tokio::task::spawn_blocking` (and use the
//! multi-thread runtime), or the server cannot answer while we wait.
//!
//! Besides the result, [`run_in_graphiql`] checks that the page made no
//! request to any host other than `base_url`'s (GraphiQL must be served by
//! Carnet itself, with no CDN).
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use headless_chrome::browser::tab::ModifierKey;
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::{Input, Network, Page};
use headless_chrome::{Browser, LaunchOptions, Tab};

/// Where Debian's `chromium` package puts the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long GraphiQL may take to appear after navigation.
pub const RENDER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the result pane may take to show a response after "run".
pub const RESULT_TIMEOUT: Duration = Duration::from_secs(20);

const QUERY_EDITOR: &str = ".graphiql-query-editor .CodeMirror";
/// The editor-tools section holds the variables editor, then the headers one.
const HEADERS_EDITOR: &str = "section.graphiql-editor-tool > .graphiql-editor:nth-child(2)";
const HEADERS_TAB: &str = "button[data-name=\"headers\"]";
const RESPONSE_EDITOR: &str = ".graphiql-response .CodeMirror";
const EXECUTE_BUTTON: &str = "button.graphiql-execute-button";

/// Open `base_url + "/"` in headless Chromium, type `query` into GraphiQL's
/// query editor and `headers_json` into its headers editor, click the run
/// button, wait (at most [`RESULT_TIMEOUT`]) for a JSON response, optionally
/// save a PNG screenshot of the whole window, and return the result pane's
/// text (for a subscription: once it completed, its last payload).
///
/// Errors say what failed: Chromium missing, GraphiQL not rendered (with the
/// page's JavaScript errors), typed text not matching, no result in time, or
/// a request to another host.
pub fn run_in_graphiql(
    base_url: &str,
    headers_json: &str,
    query: &str,
    screenshot: Option<&Path>,
) -> Result<String> {
    run_in_graphiql_with_docs(base_url, headers_json, query, screenshot).map(|(result, _)| result)
}

/// As [`run_in_graphiql`], then opens GraphiQL's Docs pane (which needs the schema's
/// introspection to have succeeded), follows its link to the query root type, and
/// returns the pane's text beside the result.
pub fn run_in_graphiql_with_docs(
    base_url: &str,
    headers_json: &str,
    query: &str,
    screenshot: Option<&Path>,
) -> Result<(String, String)> {
    if !Path::new(CHROMIUM).is_file() {
        bail!("chromium missing at {CHROMIUM} (install it: apt-get install -y chromium)");
    }
    let base_url = base_url.trim_end_matches('/');
    let origin = authority(base_url)
        .ok_or_else(|| anyhow!("base_url {base_url:?} is not an http(s) URL"))?
        .to_owned();

    // Chromium's own background services (updates, sign-in, autofill, time)
    // would still look up Google hosts: resolve no name but loopback and the
    // server's own host, so the browser sends nothing off this machine.
    let host = origin.rsplit_once(':').map_or(origin.as_str(), |(h, _)| h);
    let resolver_rules =
        format!("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE {host}");

    let profile = tempfile::Builder::new()
        .prefix("carnet-graphiql-chromium-")
        .tempdir()
        .context("creating a temporary Chromium profile directory")?;
    let options = LaunchOptions::default_builder()
        .path(Some(CHROMIUM.into()))
        .headless(true)
        .sandbox(false) // --no-sandbox: we run as root in the test sandbox
        .enable_gpu(false) // --disable-gpu
        .user_data_dir(Some(profile.path().to_path_buf()))
        .window_size(Some((1280, 800)))
        .idle_browser_timeout(Duration::from_secs(120))
        .args(
            [
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                resolver_rules.as_str(),
            ]
            .into_iter()
            .map(OsStr::new)
            .collect(),
        )
        .build()
        .map_err(|e| anyhow!("bad Chromium launch options: {e}"))?;
    let browser = Browser::new(options).with_context(|| format!("starting {CHROMIUM} headless"))?;
    let tab = browser.new_tab().context("opening a Chromium tab")?;
    tab.set_default_timeout(RENDER_TIMEOUT);

    // Record every request and every uncaught JS exception of the page.
    let log = Arc::new(Mutex::new(PageLog::default()));
    let sink = Arc::clone(&log);
    tab.add_event_listener(Arc::new(move |event: &Event| {
        let Ok(mut log) = sink.lock() else { return };
        match event {
            Event::NetworkRequestWillBeSent(e) => log.urls.push(e.params.request.url.clone()),
            Event::NetworkWebSocketCreated(e) => log.urls.push(e.params.url.clone()),
            Event::RuntimeExceptionThrown(e) => {
                let d = &e.params.exception_details;
                let what = d
                    .exception
                    .as_ref()
                    .and_then(|x| x.description.clone())
                    .unwrap_or_else(|| d.text.clone());
                log.js_errors.push(what);
            }
            _ => {}
        }
    }))
    .context("listening to Chromium events")?;
    tab.call_method(Network::Enable {
        max_total_buffer_size: None,
        max_resource_buffer_size: None,
        max_post_data_size: None,
        report_direct_socket_traffic: None,
        enable_durable_messages: None,
    })
    .context("enabling the Network domain")?;
    tab.enable_runtime()
        .context("enabling the Runtime domain")?;

    let page_url = format!("{base_url}/");
    tab.navigate_to(&page_url)
        .and_then(|t| t.wait_until_navigated())
        .with_context(|| format!("loading {page_url}"))?;

    let result = drive(&tab, headers_json, query).and_then(|result| Ok((result, open_docs(&tab)?)));

    if let Some(path) = screenshot {
        let png = tab
            .capture_screenshot(Page::CaptureScreenshotFormatOption::Png, None, None, true)
            .context("taking a screenshot")?;
        std::fs::write(path, png)
            .with_context(|| format!("writing the screenshot to {}", path.display()))?;
    }

    let log = log
        .lock()
        .map_err(|_| anyhow!("page log lock poisoned"))?
        .clone();
    let result = result.map_err(|e| {
        if log.js_errors.is_empty() {
            e
        } else {
            e.context(format!("page JavaScript errors: {:?}", log.js_errors))
        }
    })?;
    let foreign: Vec<&String> = log
        .urls
        .iter()
        .filter(|u| authority(u).is_some_and(|a| a != origin))
        .collect();
    if !foreign.is_empty() {
        bail!("the GraphiQL page requested other hosts than {origin} (it must be self-contained): {foreign:?}");
    }
    Ok(result)
}

#[derive(Debug, Default, Clone)]
struct PageLog {
    urls: Vec<String>,
    js_errors: Vec<String>,
}

/// The `host:port` of an http(s)/ws(s) URL; `None` for other schemes
/// (`data:`, `blob:`, `about:`…), which never leave the browser.
fn authority(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if !["http", "https", "ws", "wss"].contains(&scheme.to_ascii_lowercase().as_str()) {
        return None;
    }
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

fn drive(tab: &Tab, headers_json: &str, query: &str) -> Result<String> {
    tab.wait_for_element_with_custom_timeout(QUERY_EDITOR, RENDER_TIMEOUT)
        .and_then(|_| tab.wait_for_element_with_custom_timeout(EXECUTE_BUTTON, RENDER_TIMEOUT))
        .map_err(|_| {
            let text = eval_string(
                tab,
                "document.body ? document.body.innerText.slice(0, 300) : ''",
            )
            .unwrap_or_default();
            anyhow!(
                "page did not render GraphiQL within {} s (no {QUERY_EDITOR}); page text: {text:?}",
                RENDER_TIMEOUT.as_secs()
            )
        })?;

    // The query: focus the editor, select all, type.
    type_into_editor(tab, QUERY_EDITOR, query).context("typing the query")?;

    // The headers: show the headers tab if needed, then the same.
    let headers_editor = format!("{HEADERS_EDITOR} .CodeMirror");
    if !is_visible(tab, &headers_editor)? {
        tab.find_element(HEADERS_TAB)
            .and_then(|b| b.click().map(|_| ()))
            .context("opening GraphiQL's headers editor (is isHeadersEditorEnabled set?)")?;
        wait_until(Duration::from_secs(5), || is_visible(tab, &headers_editor))
            .context("GraphiQL's headers editor did not appear")?;
    }
    type_into_editor(tab, &headers_editor, headers_json).context("typing the headers")?;

    // Clear the result pane (it may hold the schema introspection's error) so
    // that any text in it afterwards is the response to our query.
    eval_string(
        tab,
        &format!("(document.querySelector({RESPONSE_EDITOR:?}).CodeMirror.setValue(''), '')"),
    )
    .context("clearing the result pane")?;
    tab.find_element(EXECUTE_BUTTON)
        .and_then(|b| b.click().map(|_| ()))
        .context("clicking GraphiQL's run button")?;

    // Done when the button says "Execute" again (not "Stop", so a subscription
    // has completed) and the result pane holds JSON.
    let read_result = format!(
        "(() => {{
            const b = document.querySelector({EXECUTE_BUTTON:?});
            if (!b || (b.getAttribute('aria-label') || '').startsWith('Stop')) return '';
            const v = document.querySelector({RESPONSE_EDITOR:?}).CodeMirror.getValue();
            try {{ JSON.parse(v); return v; }} catch (_) {{ return ''; }}
        }})()"
    );
    let mut text = String::new();
    wait_until(RESULT_TIMEOUT, || {
        text = eval_string(tab, &read_result)?;
        Ok(!text.is_empty())
    })
    .map_err(|_| {
        let shown = eval_string(
            tab,
            &format!("document.querySelector({RESPONSE_EDITOR:?}).CodeMirror.getValue()"),
        )
        .unwrap_or_default();
        anyhow!(
            "no JSON result in GraphiQL's result pane within {} s (it shows {shown:?})",
            RESULT_TIMEOUT.as_secs()
        )
    })?;
    Ok(text)
}

/// Opens the Docs pane, clicks the query root type, and returns the pane's text once it
/// lists the type's fields.
fn open_docs(tab: &Tab) -> Result<String> {
    const DOCS_BUTTON: &str = "button[aria-label='Show Documentation Explorer']";
    const PANE: &str = ".graphiql-doc-explorer";
    tab.find_element(DOCS_BUTTON)
        .and_then(|b| b.click().map(|_| ()))
        .context("clicking GraphiQL's Docs button")?;
    let pane_text = format!(
        "(() => {{ const p = document.querySelector({PANE:?}); return p ? p.innerText : ''; }})()"
    );
    let mut text = String::new();
    // The first page names the root types once the schema is known.
    wait_until(RESULT_TIMEOUT, || {
        text = eval_string(tab, &pane_text)?;
        Ok(text.contains("Query"))
    })
    .map_err(|_| anyhow!("the Docs pane shows no schema (it shows {text:?})"))?;
    eval_string(
        tab,
        &format!(
            "(() => {{ const a = [...document.querySelectorAll({:?})].find(e => e.innerText.trim() === 'Query'); if (a) a.click(); return a ? 'clicked' : ''; }})()",
            format!("{PANE} a")
        ),
    )?;
    wait_until(RESULT_TIMEOUT, || {
        text = eval_string(tab, &pane_text)?;
        Ok(text.contains("student"))
    })
    .map_err(|_| anyhow!("the Docs pane did not show Query's fields (it shows {text:?})"))?;
    Ok(text)
}

/// Click into the CodeMirror editor at `selector`, select all (Ctrl+A) and
/// type `text` with `Input.insertText` (what an IME or a paste produces, so
/// GraphiQL's bracket auto-closing does not add characters), then check the
/// editor holds exactly `text`.
fn type_into_editor(tab: &Tab, selector: &str, text: &str) -> Result<()> {
    tab.find_element(selector)
        .and_then(|e| e.click().map(|_| ()))
        .with_context(|| format!("clicking into {selector}"))?;
    tab.press_key_with_modifiers("a", Some(&[ModifierKey::Ctrl]))
        .context("pressing Ctrl+A")?;
    if text.is_empty() {
        tab.press_key("Backspace").context("pressing Backspace")?;
    } else {
        tab.call_method(Input::InsertText {
            text: text.to_owned(),
        })
        .context("typing (Input.insertText)")?;
    }
    let got = eval_string(
        tab,
        &format!("document.querySelector({selector:?}).CodeMirror.getValue()"),
    )?;
    if got != text {
        bail!("the editor {selector} holds {got:?} after typing {text:?}");
    }
    Ok(())
}

fn is_visible(tab: &Tab, selector: &str) -> Result<bool> {
    let js = format!(
        "(() => {{ const e = document.querySelector({selector:?});
            return String(!!e && e.getClientRects().length > 0 && e.offsetHeight > 0); }})()"
    );
    Ok(eval_string(tab, &js)? == "true")
}

/// Evaluate `js` in the page; its value as a string (non-strings are
/// JSON-encoded).
fn eval_string(tab: &Tab, js: &str) -> Result<String> {
    let remote = tab
        .evaluate(js, false)
        .with_context(|| format!("evaluating {js:?}"))?;
    Ok(match remote.value {
        Some(serde_json::Value::String(s)) => s,
        Some(v) => v.to_string(),
        None => String::new(),
    })
}

/// Poll `done` every 100 ms until it returns true, or fail after `timeout`.
fn wait_until(timeout: Duration, mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let start = Instant::now();
    loop {
        if done()? {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!("timed out after {} s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
