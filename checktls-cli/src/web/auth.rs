//! Who is asking: a session cookie set by the login form (HttpOnly, SameSite=Strict), or a
//! bearer token (scripts). Sessions carry a CSRF token that every POST from a browser must
//! send back; bearer requests carry no ambient credential, so they need none.
//!
//! ```text
//!   GET /login ─► form + a login nonce (cookie checktls_login, and the same in the form)
//!   POST /login token=… csrf=nonce ─► the user whose token it is (constant-time compare)
//!     ─► Set-Cookie: checktls_session=<128 random bits>; HttpOnly; SameSite=Strict; Path=/
//!   any private route ─► Authorization: Bearer TOKEN  ─► User { via: Bearer }
//!                     ─► checktls_session cookie    ─► User { via: Session { csrf } }
//!                     ─► neither: GET ─► 303 to /login; other methods ─► 401
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Form;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::html::{Chrome, esc, page};
use super::{App, lock, random_token};

const SESSION_COOKIE: &str = "checktls_session";
const LOGIN_COOKIE: &str = "checktls_login";

/// At most this many sessions are kept; the oldest go first.
const MAX_SESSIONS: usize = 10_000;

/// Equal, in a time that depends neither on where they differ nor on their lengths (SHA-256
/// digests compared in constant time).
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let digest = |x: &[u8]| ring::digest::digest(&ring::digest::SHA256, x);
    digest(a).as_ref().ct_eq(digest(b).as_ref()).into()
}

struct Session {
    user: String,
    csrf: String,
    expires: Instant,
}

/// The logged-in sessions (in memory: a restart logs everyone out).
#[derive(Default)]
pub(crate) struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    fn create(&self, user: &str, lifetime: std::time::Duration) -> String {
        let id = random_token();
        let mut map = lock(&self.0);
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(
            id.clone(),
            Session {
                user: user.to_owned(),
                csrf: random_token(),
                expires: now + lifetime,
            },
        );
        id
    }

    fn find(&self, id: &str) -> Option<(String, String)> {
        let map = lock(&self.0);
        let s = map.get(id)?;
        (s.expires > Instant::now()).then(|| (s.user.clone(), s.csrf.clone()))
    }

    fn remove(&self, id: &str) {
        lock(&self.0).remove(id);
    }
}

/// How the user proved who they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    /// A session cookie, with the session's CSRF token.
    Session { id: String, csrf: String },
    /// A bearer token.
    Bearer,
}

/// The user of a request: who the session cookie or the bearer token belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The user's name.
    pub name: String,
    pub(crate) via: Via,
}

impl User {
    /// The CSRF token forms must carry ("" for bearer requests, which need none).
    pub(crate) fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { csrf, .. } => csrf,
            Via::Bearer => "",
        }
    }

    /// Refuses a state-changing request from a browser session whose form did not carry the
    /// session's CSRF token.
    pub(crate) fn check_csrf(&self, given: Option<&str>) -> Result<(), Response> {
        match &self.via {
            Via::Bearer => Ok(()),
            Via::Session { csrf, .. } => {
                if given.is_some_and(|g| same(g.as_bytes(), csrf.as_bytes())) {
                    Ok(())
                } else {
                    Err(super::html::error_page(
                        StatusCode::FORBIDDEN,
                        "Refused",
                        "The form's CSRF token is missing or wrong: reload the page and try again.",
                    ))
                }
            }
        }
    }

    /// The navigation's view of the user.
    pub(crate) fn chrome(&self) -> Chrome<'_> {
        Chrome {
            user: Some(&self.name),
            csrf: Some(self.csrf()),
            refresh: None,
            refresh_noscript: None,
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for User {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<User>()
            .cloned()
            .ok_or_else(|| StatusCode::UNAUTHORIZED.into_response())
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether a request comes from this origin, when the browser says where it comes from:
/// a POST from another site is refused whatever it carries.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| o == host)
}

/// The middleware of the private routes: finds the user or refuses.
pub(crate) async fn require(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let user = if let Some(token) = bearer {
        app.config.user_of(token.trim()).map(|name| User {
            name: name.to_owned(),
            via: Via::Bearer,
        })
    } else {
        cookie(headers, SESSION_COOKIE).and_then(|id| {
            app.sessions.find(id).map(|(name, csrf)| User {
                name,
                via: Via::Session {
                    id: id.to_owned(),
                    csrf,
                },
            })
        })
    };
    let Some(user) = user else {
        if req.method() == Method::GET && bearer.is_none() {
            let next_path = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/".into());
            let to = format!("/login?next={}", percent(&next_path));
            return Redirect::to(&to).into_response();
        }
        let mut r = super::html::error_page(
            StatusCode::UNAUTHORIZED,
            "Log in first",
            "This needs a session (log in) or a bearer token.",
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    };
    if req.method() != Method::GET
        && matches!(user.via, Via::Session { .. })
        && !same_origin(req.headers())
    {
        return super::html::error_page(
            StatusCode::FORBIDDEN,
            "Refused",
            "The request came from another site.",
        );
    }
    req.extensions_mut().insert(user);
    next.run(req).await
}

/// Percent-encodes everything but unreserved characters and `/`.
fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Only a path of this site is a place to go back to after logging in.
fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

fn login_form(next: &str, nonce: &str, error: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(e) = error {
        body.push_str(&format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)));
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\
         <label for=\"token\">Token</label>\
         <input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"current-password\" required>\
         <p><button type=\"submit\">Log in</button></p></form>\
         <p>The token is the one the server was started with (<code>CHECKTLS_MONITOR_TOKEN</code>, \
         or a user's line in <code>--users</code>). Scripts send it as \
         <code>Authorization: Bearer TOKEN</code> instead.</p>",
        esc(nonce),
        esc(next)
    ));
    body
}

fn login_response(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let nonce = random_token();
    let body = login_form(next, &nonce, error);
    let mut r = (status, page("Log in", &Chrome::anonymous(), &body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LOGIN_COOKIE}={nonce}; HttpOnly; SameSite=Strict; Path=/login; Max-Age=3600"
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// `GET /login`.
pub(crate) async fn login_page(Query(q): Query<NextQuery>) -> Response {
    login_response(StatusCode::OK, local_path(q.next.as_deref()), None)
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    token: String,
    csrf: Option<String>,
    next: Option<String>,
}

/// `POST /login`: the token for a session.
pub(crate) async fn login(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = local_path(f.next.as_deref()).to_owned();
    // The login form's nonce: the cookie set with the form and the form's field must agree,
    // so another site cannot log a browser in to an account of its choosing.
    let nonce_ok = match (cookie(&headers, LOGIN_COOKIE), f.csrf.as_deref()) {
        (Some(c), Some(g)) => same(c.as_bytes(), g.as_bytes()),
        _ => false,
    };
    if !nonce_ok || !same_origin(&headers) {
        return login_response(
            StatusCode::FORBIDDEN,
            &next,
            Some("The login form expired or came from another site: try again."),
        );
    }
    let Some(user) = app.config.user_of(f.token.trim()) else {
        return login_response(
            StatusCode::UNAUTHORIZED,
            &next,
            Some("That token is not known."),
        );
    };
    let id = app.sessions.create(user, app.config.session_lifetime);
    let mut r = Redirect::to(&next).into_response();
    let secure = if app.config.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    let max_age = app.config.session_lifetime.as_secs();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /logout`.
pub(crate) async fn logout(
    State(app): State<Arc<App>>,
    user: User,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = user.check_csrf(f.csrf.as_deref()) {
        return r;
    }
    if let Via::Session { id, .. } = &user.via {
        app.sessions.remove(id);
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("checktls_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(local_path(Some("/batches/1")), "/batches/1");
        for bad in ["//evil.example/", "https://evil.example/", "/\\evil", "x"] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; checktls_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, "checktls_session"), Some("abc"));
        assert_eq!(cookie(&h, "checktls"), None);
    }

    #[test]
    fn origins_must_be_this_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8025"));
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8025"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }
}
