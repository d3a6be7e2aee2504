//! The web application of `checktls serve`: test a receiver and watch it happen, keep batches
//! and see their history, next to the monitor and the metrics, on one listener (axum).
//!
//! ```text
//!   TcpListener ─► serve(): hyper HTTP/1.1, ≤ 256 connections, 10 s to read a request head
//!     router (axum) ─┬─ /monitor/{id}, /metrics      checktls_batch::monitor::respond (bearer)
//!                    ├─ /login, /logout              token ─► HttpOnly SameSite=Strict session
//!                    ├─ /r/{token}                   a run's results in one Batch format,
//!                    │                               no session: unguessable, revocable
//!                    └─ everything else needs a user: the session cookie (browsers) or
//!                       `Authorization: Bearer TOKEN` (scripts); every POST from a session
//!                       carries its CSRF token
//!       /                     the receiver-test form and the user's recent tests
//!       POST /checks          per-user limits ─► a task: Checker (one Run) ─► progress ─► live
//!       /checks/{id}          live (SSE from /checks/{id}/events, or a refreshing page), then
//!                             the stored report; /checks/{id}.json | .xml | .txt
//!       /batches…             list, upload/edit (errors at LINE:COLUMN), run now (queued for
//!                             the workers), runs, pager and matrix views, changes, baseline,
//!                             results links; SVG charts of the history
//!       /dashboard            every batch with the monitor's verdict and why
//!   every answer: a strict Content-Security-Policy (scripts and styles from this origin only),
//!   nosniff, no framing, no referrer to other sites; peer text HTML-escaped and control characters made
//!   visible (output::visible)
//! ```
//!
//! The page reads and writes through the [`Store`] trait (SQLite or PostgreSQL), runs
//! receiver tests through [`Checker`](checktls::Checker) (one [`Run`](checktls::Run) per test),
//! and renders reports with [`output`](checktls::output).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use checktls_cli::web::{Profile, WebConfig, serve};
//! use checktls::ReceiverOptions;
//!
//! let store = checktls::batch::store::open("history.db").await?;
//! let mut config = WebConfig::new(vec![("admin".into(), "a long random token".into())])
//!     .ok_or("no user")?;
//! config.profiles = vec![Profile::new("default", ReceiverOptions::default())];
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8025").await?;
//! serve(listener, store, config).await;
//! # Ok(()) }
//! ```

// Handlers answer `Result<Response, Response>` (axum's idiom for early refusals); a
// Response is 128 bytes, returned once per request.
#![allow(clippy::result_large_err)]

mod auth;
mod batches;
mod charts;
mod check;
mod html;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use tokio::net::TcpListener;

use checktls::ReceiverOptions;
use checktls::batch::monitor::MonitorConfig;
use checktls::batch::store::Store;
use checktls::tls::TrustStore;
use checktls::tls::net::Connector;

pub use auth::User;

/// The Content-Security-Policy of every answer: nothing but this origin's own script and
/// style, no inline script or style, no framing, forms post here only.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                       base-uri 'none'";

/// At most this many connections are served at once; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 256;

/// A test environment the page offers: the name servers, DNSSEC anchors, trust anchors
/// (CA files) and HTTPS routing configured on the server. Users pick one by name; they never
/// give paths or addresses of the server's.
#[derive(Clone)]
#[non_exhaustive]
pub struct Profile {
    /// Its name in the form.
    pub name: String,
    /// The options every test starts from (name servers, DNSSEC anchors, port, timeouts, ...).
    pub base: ReceiverOptions,
    /// The trust anchors.
    pub trust: TrustStore,
    /// How HTTPS fetches (MTA-STS, OCSP, CRL) are opened; none: plain TCP.
    pub https: Option<Arc<dyn Connector>>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Profile {
    /// A profile with these base options, Mozilla's roots and plain HTTPS.
    pub fn new(name: &str, base: ReceiverOptions) -> Self {
        Self {
            name: name.to_owned(),
            base,
            trust: TrustStore::mozilla(),
            https: None,
        }
    }
}

/// How the web application behaves.
#[derive(Clone)]
#[non_exhaustive]
pub struct WebConfig {
    /// The users: (name, token). A token logs in on the form and is the bearer for scripts.
    users: Vec<(String, String)>,
    /// Receiver tests a user may start per minute.
    pub tests_per_minute: usize,
    /// Receiver tests a user may have running at once.
    pub concurrent_tests: usize,
    /// The test environments offered (the first is the default). At least one.
    pub profiles: Vec<Profile>,
    /// Targets offered as examples on the form (the demo lab's domains).
    pub examples: Vec<String>,
    /// How long a login lasts.
    pub session_lifetime: Duration,
    /// Mark the session cookie `Secure` (when a TLS proxy is in front).
    pub secure_cookie: bool,
    /// The monitor's settings (its clock, and the token it wants: the first user's).
    pub monitor: MonitorConfig,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field(
                "users",
                &self.users.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("tests_per_minute", &self.tests_per_minute)
            .field("concurrent_tests", &self.concurrent_tests)
            .field("profiles", &self.profiles)
            .finish_non_exhaustive()
    }
}

impl WebConfig {
    /// A configuration for these users (name, token); `None` when there is none, or a token
    /// is empty. The first user's token is also the monitor's bearer token. Defaults: 10
    /// tests a minute and 2 at once per user, sessions of 12 hours, one profile (the default
    /// options).
    pub fn new(users: Vec<(String, String)>) -> Option<Self> {
        let users: Vec<(String, String)> = users
            .into_iter()
            .map(|(n, t)| (n.trim().to_owned(), t.trim().to_owned()))
            .collect();
        if users.is_empty() || users.iter().any(|(n, t)| n.is_empty() || t.is_empty()) {
            return None;
        }
        let monitor = MonitorConfig::new(&users.first()?.1)?;
        Some(Self {
            users,
            tests_per_minute: 10,
            concurrent_tests: 2,
            profiles: vec![Profile::new("default", ReceiverOptions::default())],
            examples: Vec::new(),
            session_lifetime: Duration::from_secs(12 * 3600),
            secure_cookie: false,
            monitor,
        })
    }

    /// The user a token belongs to (compared in constant time).
    fn user_of(&self, token: &str) -> Option<&str> {
        // Every token is compared, so the time does not tell which matched.
        let mut found = None;
        for (name, t) in &self.users {
            if auth::same(token.as_bytes(), t.as_bytes()) {
                found = Some(name.as_str());
            }
        }
        found
    }
}

/// The application's state, shared by every request.
pub(crate) struct App {
    store: Arc<dyn Store>,
    config: WebConfig,
    sessions: auth::Sessions,
    live: Mutex<HashMap<String, Arc<check::Live>>>,
    limits: check::Limits,
}

impl App {
    fn new(store: Arc<dyn Store>, config: WebConfig) -> Self {
        Self {
            store,
            config,
            sessions: auth::Sessions::default(),
            live: Mutex::new(HashMap::new()),
            limits: check::Limits::default(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// An unguessable token: 128 random bits from the system's generator, as 32 hex digits
/// (session ids, CSRF tokens, test ids, results links).
pub fn random_token() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        // The system's generator failed: refuse to make a guessable token.
        std::process::abort();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The application's routes, for a server of the caller's (or [`serve`]).
pub fn router(store: Arc<dyn Store>, config: WebConfig) -> Router {
    let app = Arc::new(App::new(store, config));
    let public = Router::new()
        .route("/monitor/{id}", any(monitor))
        .route("/metrics", any(monitor))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/r/{token}", get(batches::link))
        .route("/static/{file}", get(html::asset));
    let private = Router::new()
        .route("/", get(check::home))
        .route("/logout", post(auth::logout))
        .route("/checks", post(check::start))
        .route("/checks/{id}", get(check::page_handler))
        .route("/checks/{id}/events", get(check::events))
        .route("/dashboard", get(batches::dashboard))
        .route("/batches", get(batches::list).post(batches::create))
        .route("/batches/{id}", get(batches::show).post(batches::update))
        .route("/batches/{id}/run", post(batches::run_now))
        .route("/batches/{id}/baseline", post(batches::baseline))
        .route("/batches/{id}/runs/{run}", get(batches::run_page))
        .route("/batches/{id}/runs/{run}/links", post(batches::make_link))
        .route("/batches/{id}/links/revoke", post(batches::revoke))
        .route_layer(middleware::from_fn_with_state(app.clone(), auth::require));
    public
        .merge(private)
        .fallback(not_found)
        .layer(middleware::from_fn(headers))
        .with_state(app)
}

async fn not_found() -> Response {
    html::error_page(StatusCode::NOT_FOUND, "Not found", "There is nothing here.")
}

/// The monitor's answers, unchanged: its own bearer check, statuses and bodies.
async fn monitor(State(app): State<Arc<App>>, req: Request) -> Response {
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    let r = checktls::batch::monitor::respond(
        &*app.store,
        &app.config.monitor,
        req.method(),
        req.uri().path(),
        req.uri().query(),
        auth,
    )
    .await;
    let (parts, body) = r.into_parts();
    Response::from_parts(parts, Body::new(body))
}

/// The security headers of every answer.
async fn headers(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        // Not "no-referrer": with it, browsers send `Origin: null` on this site's own form
        // posts, and the origin check could not tell them from another site's.
        HeaderValue::from_static("same-origin"),
    );
    if method != Method::GET || !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// Serves the application on `listener` until the task is dropped: HTTP/1.1, one task per
/// connection, at most [`MAX_CONNECTIONS`] at once, 10 s to read a request's head.
///
/// It speaks plain HTTP: bind it to loopback (the default of `checktls serve`), or put a TLS
/// proxy in front (and set [`WebConfig::secure_cookie`]), so tokens and cookies never cross a
/// network in clear.
pub async fn serve(listener: TcpListener, store: Arc<dyn Store>, config: WebConfig) {
    let app = router(store, config);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let Ok((tcp, _peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req: hyper::Request<_>| {
                let app = app.clone();
                async move {
                    let req = req.map(Body::new);
                    let r = tower_call(app, req).await;
                    Ok::<_, Infallible>(r)
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .max_buf_size(64 * 1024)
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
            let _ = conn.await;
        });
    }
}

async fn tower_call(app: Router, req: Request) -> Response {
    use tower_service::Service;
    let mut app = app;
    match app.call(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// A page answer (helper for the handlers).
pub(crate) type Page = Result<Response, Response>;

/// An error from the store as a page.
pub(crate) fn store_error(e: impl std::fmt::Display) -> Response {
    html::error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The history could not be read",
        &e.to_string(),
    )
}

impl IntoResponse for html::Html {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], self.0).into_response()
    }
}
