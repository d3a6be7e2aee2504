//! HTML: escaping, the page layout, the static style and script.
//!
//! Everything shown that did not come from this program is passed through [`esc`]: HTML's
//! five special characters become references and control characters become visible escapes
//! (`\x1b`), so neither a peer's banner nor a stored batch can add markup or forge a line.

use std::fmt::Write as _;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use checktls::output::visible;

/// A rendered HTML document.
pub(crate) struct Html(pub(crate) String);

/// `s` safe inside HTML text and attribute values (quoted): `& < > " '` as references,
/// control characters as visible escapes (tab and newline kept).
pub(crate) fn esc(s: &str) -> String {
    let s = visible(s, &['\n', '\t']);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What the navigation needs to know of the request.
pub(crate) struct Chrome<'a> {
    /// The user's name, when logged in.
    pub(crate) user: Option<&'a str>,
    /// The session's CSRF token (for the logout form).
    pub(crate) csrf: Option<&'a str>,
    /// Reload the page every N seconds (a run in progress), for everyone.
    pub(crate) refresh: Option<u32>,
    /// Reload every N seconds only without JavaScript (a live test's fallback).
    pub(crate) refresh_noscript: Option<u32>,
}

impl Chrome<'_> {
    pub(crate) fn anonymous() -> Self {
        Chrome {
            user: None,
            csrf: None,
            refresh: None,
            refresh_noscript: None,
        }
    }
}

/// A whole page: semantic HTML, the style sheet and the live script from this origin.
pub(crate) fn page(title: &str, chrome: &Chrome<'_>, body: &str) -> Html {
    let mut out = String::with_capacity(body.len() + 2048);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    if let Some(n) = chrome.refresh {
        let _ = writeln!(out, "<meta http-equiv=\"refresh\" content=\"{n}\">");
    }
    if let Some(n) = chrome.refresh_noscript {
        let _ = writeln!(
            out,
            "<noscript><meta http-equiv=\"refresh\" content=\"{n}\"></noscript>"
        );
    }
    let _ = writeln!(out, "<title>{} · checktls</title>", esc(title));
    out.push_str("<link rel=\"stylesheet\" href=\"/static/style.css\">\n");
    out.push_str("<script src=\"/static/live.js\" defer></script>\n</head>\n<body>\n");
    out.push_str("<header><nav aria-label=\"main\"><a class=\"brand\" href=\"/\">checktls</a>");
    if let Some(user) = chrome.user {
        out.push_str(
            " <a href=\"/\">Test a receiver</a> <a href=\"/batches\">Batches</a> \
             <a href=\"/dashboard\">Dashboard</a>",
        );
        let _ = write!(
            out,
            " <form class=\"inline\" method=\"post\" action=\"/logout\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\">Log out {}</button></form>",
            esc(chrome.csrf.unwrap_or("")),
            esc(user)
        );
    }
    out.push_str("</nav></header>\n<main>\n");
    let _ = writeln!(out, "<h1>{}</h1>", esc(title));
    out.push_str(body);
    out.push_str("\n</main>\n<footer><p>checktls: will this address receive mail securely?</p></footer>\n</body>\n</html>\n");
    Html(out)
}

/// An error page with a status.
pub(crate) fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = format!("<p class=\"error\" role=\"alert\">{}</p>", esc(detail));
    (status, page(title, &Chrome::anonymous(), &body)).into_response()
}

const STYLE: &str = include_str!("static/style.css");
const SCRIPT: &str = include_str!("static/live.js");

/// `/static/{file}`: the style sheet and the script, nothing else.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        "live.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "not found\n").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// A hidden CSRF field.
pub(crate) fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("a\x1b[2Jb\nc"), "a\\x1b[2Jb\nc");
        assert_eq!(esc("\u{85}"), "\\u{85}");
    }
}
