//! Test a receiver: the form, the per-user limits, the test on a task with its progress kept
//! for the live view (SSE, or a page that refreshes), and the stored report at a permanent
//! address.
//!
//! ```text
//!   POST /checks ─► CSRF ─► options from the form + the chosen profile ─► limits (per minute,
//!     at once) ─► id (128 random bits) ─► Live in memory ─► 303 /checks/{id}
//!   task: Checker::builder(options).build() ─► run().check_with_progress(target, sink)
//!         sink: Progress ─► escaped HTML fragment ─► Live.events ─► every SSE stream
//!         end: StoredCheck { html, text, json, xml } ─► Store::put_check ─► "done" event
//!   GET /checks/{id}        stored ─► the report; live ─► what happened so far
//!   GET /checks/{id}.json   .xml .txt: the stored renderings
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::num::NonZeroU16;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use time::OffsetDateTime;

use super::auth::User;
use super::html::{csrf_field, esc, page};
use super::{App, Page, lock, random_token, store_error};
use checktls::batch::store::StoredCheck;
use checktls::dns::MxLimit;
use checktls::options::{AuthCredentials, CertNames, LegacyProbe, StopAfter, TlsMode};
use checktls::output::{Format, Level, render};
use checktls::progress::{HostKey, LineKind, Progress, ProgressSink};
use checktls::target::{GivenHost, TargetError};
use checktls::{Checker, ReceiverReport, Target};

/// A test in progress, as the live views see it.
pub(crate) struct Live {
    owner: String,
    target: String,
    /// (SSE event name, escaped HTML fragment), in order.
    events: Mutex<Vec<(&'static str, String)>>,
    done: AtomicBool,
    /// Why the report could not be stored, when it could not.
    failed: Mutex<Option<String>>,
    notify: tokio::sync::Notify,
}

impl Live {
    fn push(&self, name: &'static str, html: String) {
        lock(&self.events).push((name, html));
        self.notify.notify_waiters();
    }

    fn finish(&self) {
        self.done.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    fn since(&self, from: usize) -> Vec<(usize, &'static str, String)> {
        lock(&self.events)
            .iter()
            .enumerate()
            .skip(from)
            .map(|(i, (n, h))| (i, *n, h.clone()))
            .collect()
    }
}

/// What each user has started: the times of the last minute's tests, and how many run.
#[derive(Default)]
pub(crate) struct Limits(Mutex<HashMap<String, Use>>);

#[derive(Default)]
struct Use {
    starts: VecDeque<Instant>,
    running: usize,
}

/// A running test's place in its user's concurrency limit; given back when dropped.
pub(crate) struct Slot {
    app: Arc<App>,
    user: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(u) = lock(&self.app.limits.0).get_mut(&self.user) {
            u.running = u.running.saturating_sub(1);
        }
    }
}

impl Limits {
    /// Admits a test of `user` now, or says which limit it would break.
    fn admit(app: &Arc<App>, user: &str) -> Result<Slot, String> {
        let per_minute = app.config.tests_per_minute;
        let at_once = app.config.concurrent_tests;
        let now = Instant::now();
        let mut map = lock(&app.limits.0);
        let u = map.entry(user.to_owned()).or_default();
        while u
            .starts
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            u.starts.pop_front();
        }
        if u.starts.len() >= per_minute {
            return Err(format!(
                "You have started {per_minute} tests in the last minute, the most allowed: wait a little."
            ));
        }
        if u.running >= at_once {
            return Err(format!(
                "You have {at_once} tests running, the most allowed at once: wait for one to end."
            ));
        }
        u.starts.push_back(now);
        u.running += 1;
        Ok(Slot {
            app: app.clone(),
            user: user.to_owned(),
        })
    }
}

/// The receiver-test form, filled from `CheckForm` when it is shown again after an error
/// (never the password).
fn form(app: &App, user: &User, f: Option<&CheckForm>, error: Option<&str>) -> String {
    let val = |g: fn(&CheckForm) -> &Option<String>| {
        f.and_then(|f| g(f).as_deref()).map(esc).unwrap_or_default()
    };
    let checked = |g: fn(&CheckForm) -> &Option<String>| {
        if f.and_then(|f| g(f).as_deref()).is_some() {
            " checked"
        } else {
            ""
        }
    };
    let mut b = String::new();
    if let Some(e) = error {
        let _ = write!(b, "<p class=\"error\" role=\"alert\">{}</p>", esc(e));
    }
    b.push_str("<form method=\"post\" action=\"/checks\" id=\"check-form\">");
    b.push_str(&csrf_field(user.csrf()));
    let _ = write!(
        b,
        "<label for=\"target\">Address or domain (user@example.com, example.com, \
         user@example.com[host:port])</label>\
         <input type=\"text\" id=\"target\" name=\"target\" required list=\"examples\" value=\"{}\">",
        f.map(|f| esc(&f.target)).unwrap_or_default()
    );
    b.push_str("<datalist id=\"examples\">");
    for e in &app.config.examples {
        let _ = write!(b, "<option value=\"{}\">", esc(e));
    }
    b.push_str("</datalist>");
    let level = f
        .and_then(|f| f.level.clone())
        .unwrap_or_else(|| "detail".into());
    b.push_str("<label for=\"level\">Output level</label><select id=\"level\" name=\"level\">");
    for l in Level::ALL {
        let _ = write!(
            b,
            "<option value=\"{0}\"{1}>{0}</option>",
            l.name(),
            if l.name() == level { " selected" } else { "" }
        );
    }
    b.push_str("</select>");
    let _ = write!(
        b,
        "<label><input type=\"checkbox\" name=\"quick\" value=\"on\"{}> Quick: stop after the \
         second EHLO, one MX host, no revocation check</label>",
        checked(|f| &f.quick)
    );
    b.push_str("<details><summary>More options</summary><fieldset><legend>The dialog</legend>");
    let stop = f.and_then(|f| f.stop_after.clone()).unwrap_or_default();
    b.push_str("<label for=\"stop_after\">Stop after</label><select id=\"stop_after\" name=\"stop_after\"><option value=\"\">(default: rcptto)</option>");
    for n in StopAfter::ALL.map(StopAfter::name) {
        let _ = write!(
            b,
            "<option value=\"{n}\"{}>{n}</option>",
            if n == stop { " selected" } else { "" }
        );
    }
    b.push_str("</select>");
    let _ = write!(
        b,
        "<label for=\"mx_limit\">MX preference levels to test (N or N%)</label>\
         <input type=\"text\" id=\"mx_limit\" name=\"mx_limit\" value=\"{}\">\
         <label for=\"host_limit\">MX hosts to test (N or N%)</label>\
         <input type=\"text\" id=\"host_limit\" name=\"host_limit\" value=\"{}\">\
         <label for=\"host\">Test this host instead of the MX hosts</label>\
         <input type=\"text\" id=\"host\" name=\"host\" value=\"{}\">\
         <label for=\"port\">Port</label>\
         <input type=\"text\" id=\"port\" name=\"port\" inputmode=\"numeric\" value=\"{}\">\
         <label><input type=\"checkbox\" name=\"direct_tls\" value=\"on\"{}> Direct TLS (TLS on \
         connect, port 465 style)</label>\
         <label><input type=\"checkbox\" name=\"compel_tls\" value=\"on\"{}> Compel TLS (STARTTLS \
         even when not offered)</label>\
         <label for=\"sni\">SNI name (default: the MX host name)</label>\
         <input type=\"text\" id=\"sni\" name=\"sni\" value=\"{}\">\
         <label><input type=\"checkbox\" name=\"cert_domain\" value=\"on\"{}> Accept a \
         certificate that names the mail domain instead of the MX host</label>\
         <label><input type=\"checkbox\" name=\"ignore_no_connect\" value=\"on\"{}> Leave hosts \
         that do not answer out of the grade</label>\
         <label><input type=\"checkbox\" name=\"no_revocation\" value=\"on\"{}> Do not check \
         revocation</label></fieldset>",
        val(|f| &f.mx_limit),
        val(|f| &f.host_limit),
        val(|f| &f.host),
        val(|f| &f.port),
        checked(|f| &f.direct_tls),
        checked(|f| &f.compel_tls),
        val(|f| &f.sni),
        checked(|f| &f.cert_domain),
        checked(|f| &f.ignore_no_connect),
        checked(|f| &f.no_revocation),
    );
    let chosen = f.and_then(|f| f.profile.clone()).unwrap_or_default();
    b.push_str(
        "<fieldset><legend>Name servers, DNSSEC anchors and CA files (the server's)</legend>\
         <label for=\"profile\">Environment</label><select id=\"profile\" name=\"profile\">",
    );
    for p in &app.config.profiles {
        let _ = write!(
            b,
            "<option value=\"{0}\"{1}>{0}</option>",
            esc(&p.name),
            if p.name == chosen { " selected" } else { "" }
        );
    }
    let _ = write!(
        b,
        "</select></fieldset><fieldset><legend>AUTH on a private system</legend>\
         <label for=\"auth_user\">User</label>\
         <input type=\"text\" id=\"auth_user\" name=\"auth_user\" autocomplete=\"off\" value=\"{}\">\
         <label for=\"auth_pass\">Password (sent only over verified TLS; never shown again)</label>\
         <input type=\"password\" id=\"auth_pass\" name=\"auth_pass\" autocomplete=\"off\">\
         <label><input type=\"checkbox\" name=\"auth_login\" value=\"on\"{}> AUTH LOGIN instead of \
         PLAIN</label></fieldset></details>",
        val(|f| &f.auth_user),
        checked(|f| &f.auth_login),
    );
    b.push_str("<p><button type=\"submit\" id=\"start\">Test it</button></p></form>");
    b
}

/// `GET /`: the form and the user's recent tests.
pub(crate) async fn home(State(app): State<Arc<App>>, user: User) -> Page {
    let mut b = form(&app, &user, None, None);
    let recent = app
        .store
        .checks(&user.name, 20)
        .await
        .map_err(store_error)?;
    if !recent.is_empty() {
        b.push_str("<h2>Your recent tests</h2><table id=\"recent\"><thead><tr><th>When (UTC)</th><th>Target</th><th>Grade</th></tr></thead><tbody>");
        for c in recent {
            let _ = write!(
                b,
                "<tr><td>{}</td><td><a href=\"/checks/{}\">{}</a></td><td>{}</td></tr>",
                when(c.created),
                esc(&c.id),
                esc(&c.target),
                c.score.map_or_else(|| "-".into(), |s| s.to_string())
            );
        }
        b.push_str("</tbody></table>");
    }
    Ok(page("Test a receiver", &user.chrome(), &b).into_response())
}

pub(crate) fn when(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    t.format(&f).unwrap_or_default()
}

/// The form's fields (all optional but the target; empty means not given).
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct CheckForm {
    csrf: Option<String>,
    target: String,
    level: Option<String>,
    quick: Option<String>,
    stop_after: Option<String>,
    mx_limit: Option<String>,
    host_limit: Option<String>,
    host: Option<String>,
    port: Option<String>,
    direct_tls: Option<String>,
    compel_tls: Option<String>,
    sni: Option<String>,
    cert_domain: Option<String>,
    ignore_no_connect: Option<String>,
    no_revocation: Option<String>,
    profile: Option<String>,
    auth_user: Option<String>,
    auth_pass: Option<String>,
    auth_login: Option<String>,
}

fn given(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn limit(s: &str, hosts: bool) -> Result<MxLimit, String> {
    let (n, pct) = match s.strip_suffix('%') {
        Some(n) => (n, true),
        None => (s, false),
    };
    let v: usize = n
        .trim()
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("{s:?} is not N or N% (at least 1)"))?;
    let p = u8::try_from(v.min(100)).unwrap_or(100);
    Ok(match (hosts, pct) {
        (false, false) => MxLimit::Levels(v),
        (false, true) => MxLimit::LevelsPercent(p),
        (true, false) => MxLimit::Hosts(v),
        (true, true) => MxLimit::HostsPercent(p),
    })
}

/// What a form asks for: the target, the level, the profile's index and the options.
struct Asked {
    target: Target,
    level: Level,
    profile: usize,
    options: checktls::ReceiverOptions,
}

fn asked(app: &App, f: &CheckForm) -> Result<Asked, String> {
    let profile = match given(&f.profile) {
        None => 0,
        Some(name) => app
            .config
            .profiles
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| format!("there is no environment {name:?}"))?,
    };
    let base = &app
        .config
        .profiles
        .get(profile)
        .ok_or("the server has no test environment")?
        .base;
    let mut o = base.clone();
    if given(&f.quick).is_some() {
        let q = checktls::ReceiverOptions::quick();
        o.stop_after = q.stop_after;
        o.revocation = q.revocation;
        o.timeout = q.timeout.min(o.timeout);
        o.ignore_no_connect = q.ignore_no_connect;
        o.first_answering_host_only = q.first_answering_host_only;
        o.deadline = q.deadline.min(o.deadline);
    }
    let level: Level = match given(&f.level) {
        Some(l) => l.parse()?,
        None => Level::Detail,
    };
    if let Some(s) = given(&f.stop_after) {
        o.stop_after = s.parse::<StopAfter>().map_err(|e| e.to_string())?;
    }
    if let Some(l) = given(&f.mx_limit) {
        o.mx_limit = limit(l, false)?;
    }
    if let Some(l) = given(&f.host_limit) {
        o.host_limit = limit(l, true)?;
    }
    let port = match given(&f.port) {
        Some(p) => Some(
            p.parse::<NonZeroU16>()
                .map_err(|_| format!("port {p:?}: expected 1 to 65535"))?,
        ),
        None => None,
    };
    o.tls_mode = TlsMode::from_flags(
        given(&f.direct_tls).is_some(),
        given(&f.compel_tls).is_some(),
    )
    .ok_or("Direct TLS and Compel TLS: choose one (TLS on connect has no STARTTLS to compel)")?;
    o.ignore_no_connect |= given(&f.ignore_no_connect).is_some();
    if given(&f.no_revocation).is_some() {
        o.revocation = false;
    }
    o.sni = given(&f.sni).map(str::to_owned);
    if given(&f.cert_domain).is_some() {
        o.cert_names = CertNames::MxHostOrDomain;
    }
    if let Some(user) = given(&f.auth_user) {
        let password = given(&f.auth_pass)
            .ok_or("AUTH needs a password")?
            .to_owned();
        o.auth = Some(AuthCredentials {
            user: user.to_owned(),
            password,
            login: given(&f.auth_login).is_some(),
        });
    }
    o.record_raw = level == Level::Debug;
    if level == Level::SslProbe {
        o.legacy_probe = LegacyProbe::Full;
    }
    let target: Target = f.target.parse().map_err(|e: TargetError| e.to_string())?;
    let target = match given(&f.host) {
        Some(h) => {
            let mut host = GivenHost::parse(h).map_err(|e| format!("host: {e}"))?;
            host.port = port.or(host.port);
            target.with_host(host).map_err(|t| {
                format!("{t} is an IP address: it is the host tested (leave the host empty)")
            })?
        }
        None => {
            o.port = port.map(NonZeroU16::get).or(o.port);
            target
        }
    };
    o.validate().map_err(|e| e.to_string())?;
    Ok(Asked {
        target,
        level,
        profile,
        options: o,
    })
}

/// `POST /checks`: starts a test and sends the browser to its live page.
pub(crate) async fn start(
    State(app): State<Arc<App>>,
    user: User,
    Form(f): Form<CheckForm>,
) -> Page {
    user.check_csrf(f.csrf.as_deref())?;
    let asked = match asked(&app, &f) {
        Ok(a) => a,
        Err(e) => {
            let b = form(&app, &user, Some(&f), Some(&e));
            return Err((
                StatusCode::BAD_REQUEST,
                page("Test a receiver", &user.chrome(), &b),
            )
                .into_response());
        }
    };
    let slot = match Limits::admit(&app, &user.name) {
        Ok(s) => s,
        Err(e) => {
            let b = form(&app, &user, Some(&f), Some(&e));
            return Err((
                StatusCode::TOO_MANY_REQUESTS,
                page("Test a receiver", &user.chrome(), &b),
            )
                .into_response());
        }
    };
    let id = random_token();
    let live = Arc::new(Live {
        owner: user.name.clone(),
        target: asked.target.to_string(),
        events: Mutex::new(Vec::new()),
        done: AtomicBool::new(false),
        failed: Mutex::new(None),
        notify: tokio::sync::Notify::new(),
    });
    lock(&app.live).insert(id.clone(), live.clone());
    let created = OffsetDateTime::now_utc();
    tokio::spawn(run(app.clone(), id.clone(), live, asked, slot, created));
    Ok(Redirect::to(&format!("/checks/{id}")).into_response())
}

/// The test itself, on its own task.
async fn run(
    app: Arc<App>,
    id: String,
    live: Arc<Live>,
    asked: Asked,
    slot: Slot,
    created: OffsetDateTime,
) {
    let sink = {
        let live = live.clone();
        ProgressSink::new(move |p| {
            let (name, html) = fragment(&p);
            live.push(name, html);
        })
    };
    let report = match app.config.profiles.get(asked.profile) {
        Some(profile) => {
            let mut b = Checker::builder(asked.options).trust(profile.trust.clone());
            if let Some(h) = &profile.https {
                b = b.https_connector(h.clone());
            }
            match b.build().await {
                Ok(checker) => checker
                    .run()
                    .check_with_progress(&asked.target, &sink)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
        None => Err("the environment is gone".to_owned()),
    };
    drop(slot);
    let mut stored = StoredCheck::new(&id, &live.owner, &live.target, created);
    stored.level = asked.level.name().to_owned();
    match &report {
        Ok(r) => {
            stored.score = Some(r.score());
            stored.html = report_html(r, asked.level);
            stored.text = render(r, asked.level, Format::Text);
            stored.json = render(r, asked.level, Format::Json);
            stored.xml = render(r, asked.level, Format::Xml);
        }
        Err(e) => {
            stored.html = format!(
                "<p class=\"error\" role=\"alert\">The test could not be carried out: {}</p>",
                esc(e)
            );
            stored.text = format!("The test could not be carried out: {e}\n");
            stored.json = serde_json::json!({ "error": e }).to_string();
            stored.xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CheckTLS><Error>{}</Error></CheckTLS>\n",
                esc(e)
            );
        }
    }
    if let Err(e) = app.store.put_check(&stored).await {
        *lock(&live.failed) = Some(format!("the report could not be stored: {e}"));
        live.finish();
        return;
    }
    live.finish();
    // The stored report answers from now on; keep the live entry a little for streams that
    // are still reading.
    tokio::time::sleep(Duration::from_secs(30)).await;
    lock(&app.live).remove(&id);
}

fn host_label(h: &HostKey) -> String {
    esc(&h.to_string())
}

fn kind_class(k: LineKind) -> &'static str {
    match k {
        LineKind::Sent => "sent",
        LineKind::Received => "received",
        LineKind::SentEncrypted => "sent_encrypted",
        LineKind::ReceivedEncrypted => "received_encrypted",
        LineKind::Note => "note",
        _ => "note",
    }
}

/// A progress event as the live page shows it: (SSE event name, escaped HTML fragment).
pub(crate) fn fragment(p: &Progress) -> (&'static str, String) {
    match p {
        Progress::Planned { hosts } => {
            let mut out = String::new();
            for (h, probed) in hosts {
                let _ = write!(
                    out,
                    "<li>{} (preference {}){}</li>",
                    host_label(h),
                    h.preference,
                    if *probed {
                        ""
                    } else {
                        ": reported, not probed"
                    }
                );
            }
            if hosts.is_empty() {
                out.push_str("<li>No host to probe.</li>");
            }
            ("planned", out)
        }
        Progress::Stage {
            host,
            stage,
            ok,
            ms,
        } => (
            "stage",
            format!(
                "<tr class=\"stage\" data-stage=\"{stage}\"><td>{}</td><td>{stage}</td><td class=\"{}\">{}</td><td>{ms} ms</td></tr>",
                host_label(host),
                if *ok { "ok" } else { "fail" },
                if *ok { "OK" } else { "FAIL" },
            ),
        ),
        Progress::Line { host, kind, line } => (
            "line",
            format!(
                "<span class=\"{}\">{} {}</span>",
                kind_class(*kind),
                host_label(host),
                esc(line)
            ),
        ),
        Progress::HostDone { host } => (
            "host_done",
            format!("<li>{}: the dialog is over</li>", host_label(host)),
        ),
        // A kind of progress this page does not know yet: nothing to show.
        _ => ("note", String::new()),
    }
}

/// The id of `/checks/{id}` and the format its extension asks for.
fn id_and_format(raw: &str) -> (&str, Option<&'static str>) {
    for (ext, f) in [(".json", "json"), (".xml", "xml"), (".txt", "text")] {
        if let Some(id) = raw.strip_suffix(ext) {
            return (id, Some(f));
        }
    }
    (raw, None)
}

/// `GET /checks/{id}` (and `.json`, `.xml`, `.txt`).
pub(crate) async fn page_of(app: &Arc<App>, user: &User, raw: &str) -> Page {
    let (id, format) = id_and_format(raw);
    let not_found =
        || super::html::error_page(StatusCode::NOT_FOUND, "Not found", "There is no such test.");
    if let Some(stored) = app.store.stored_check(id).await.map_err(store_error)? {
        if stored.owner != user.name {
            return Err(not_found());
        }
        let (body, kind) = match format {
            Some("json") => (stored.json, "application/json"),
            Some("xml") => (stored.xml, "application/xml"),
            Some(_) => (stored.text, "text/plain; charset=utf-8"),
            None => {
                let mut b = format!(
                    "<p>Tested {} (UTC) at level {}. This page's address is permanent. \
                     The same report as <a href=\"/checks/{id}.json\">JSON</a>, \
                     <a href=\"/checks/{id}.xml\">XML</a>, <a href=\"/checks/{id}.txt\">text</a>.</p>",
                    when(stored.created),
                    esc(&stored.level),
                    id = esc(id)
                );
                b.push_str(&stored.html);
                let title = format!("Receiver test of {}", stored.target);
                return Ok(page(&title, &user.chrome(), &b).into_response());
            }
        };
        return Ok(([(header::CONTENT_TYPE, kind)], body).into_response());
    }
    let live = lock(&app.live).get(id).cloned();
    let Some(live) = live.filter(|l| l.owner == user.name) else {
        return Err(not_found());
    };
    if format.is_some() {
        return Ok((
            StatusCode::ACCEPTED,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"status\":\"running\"}\n",
        )
            .into_response());
    }
    let mut hosts = String::new();
    let mut stages = String::new();
    let mut lines = String::new();
    let mut done_hosts = String::new();
    for (_, name, html) in live.since(0) {
        match name {
            "planned" => hosts.push_str(&html),
            "stage" => stages.push_str(&html),
            "line" => lines.push_str(&html),
            "host_done" => done_hosts.push_str(&html),
            _ => {}
        }
    }
    let failed = lock(&live.failed).clone();
    let status = match (&failed, live.done.load(Ordering::SeqCst)) {
        (Some(e), _) => format!("<p id=\"status\" class=\"error\">{}</p>", esc(e)),
        (None, true) => "<p id=\"status\">Finished: the report follows.</p>".to_owned(),
        (None, false) => {
            "<p id=\"status\">Running: this page refreshes itself until the test ends.</p>"
                .to_owned()
        }
    };
    let b = format!(
        "<section id=\"live\" data-events=\"/checks/{id}/events\" aria-live=\"polite\">{status}\
         <h2>Hosts</h2><ul id=\"hosts\">{hosts}</ul><ul id=\"hosts-done\">{done_hosts}</ul>\
         <h2>Stages</h2><table><thead><tr><th>Host</th><th>Stage</th><th>Result</th><th>Time</th></tr></thead>\
         <tbody id=\"stage-rows\">{stages}</tbody></table>\
         <h2>SMTP dialog</h2><pre id=\"transcript\">{lines}</pre></section>",
        id = esc(id)
    );
    let mut chrome = user.chrome();
    if failed.is_none() {
        chrome.refresh_noscript = Some(2);
    }
    let title = format!("Testing {}", live.target);
    Ok(page(&title, &chrome, &b).into_response())
}

/// `GET /checks/{id}`.
pub(crate) async fn page_handler(
    State(app): State<Arc<App>>,
    user: User,
    Path(raw): Path<String>,
) -> Page {
    page_of(&app, &user, &raw).await
}

/// `GET /checks/{id}/events`: the live test as server-sent events, from the start (or after
/// `Last-Event-ID`), then `done`.
pub(crate) async fn events(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Page {
    let live = lock(&app.live).get(&id).cloned();
    let from = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(0, |n| n + 1);
    let Some(live) = live.filter(|l| l.owner == user.name) else {
        // Finished long ago (or never ours): tell the page to load the stored report.
        let stored = app.store.stored_check(&id).await.map_err(store_error)?;
        if stored.is_some_and(|s| s.owner == user.name) {
            let done = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
                Event::default().event("done").data("stored"),
            )]);
            return Ok(Sse::new(done).into_response());
        }
        return Err(StatusCode::NOT_FOUND.into_response());
    };
    let stream =
        futures_util::stream::unfold((live, from, false), |(live, next, ended)| async move {
            if ended {
                return None;
            }
            loop {
                let waker = live.clone();
                let notified = waker.notify.notified();
                let fresh = live.since(next);
                if !fresh.is_empty() {
                    let batch: Vec<_> = fresh
                        .into_iter()
                        .map(|(i, name, html)| {
                            Ok::<_, std::convert::Infallible>(
                                Event::default().id(i.to_string()).event(name).data(html),
                            )
                        })
                        .collect();
                    let n = next + batch.len();
                    return Some((futures_util::stream::iter(batch), (live, n, false)));
                }
                if live.done.load(Ordering::SeqCst) {
                    let done = vec![Ok(Event::default().event("done").data("done"))];
                    return Some((futures_util::stream::iter(done), (live, next, true)));
                }
                let _ = tokio::time::timeout(Duration::from_secs(15), notified).await;
            }
        });
    use futures_util::StreamExt as _;
    Ok(Sse::new(stream.flatten())
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The classes of a transcript line, from its arrow.
fn line_class(line: &str) -> &'static str {
    let arrow = line.split_once("] ").map_or("", |(_, rest)| rest);
    if arrow.starts_with(" ~~>") {
        "sent_encrypted"
    } else if arrow.starts_with("<~~") {
        "received_encrypted"
    } else if arrow.starts_with(" -->") {
        "sent"
    } else if arrow.starts_with("<--") {
        "received"
    } else {
        "note"
    }
}

/// Collects (path, proof) for every DNS answer in the report's DNS section.
fn proofs(v: &serde_json::Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(p) = m.get("proof") {
                let proof = match p {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Object(o) => o.keys().cloned().collect::<Vec<_>>().join(","),
                    other => other.to_string(),
                };
                out.push((path.to_owned(), proof));
            }
            for (k, v) in m {
                if k != "proof" {
                    proofs(v, &format!("{path}.{k}"), out);
                }
            }
        }
        serde_json::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                proofs(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The report as an HTML fragment: the grade, the matrix, why, each host's TLS, certificate,
/// DANE, MTA-STS, revocation and transcript, the DNS proofs, the findings, and the text
/// rendering at the level.
pub(crate) fn report_html(r: &ReceiverReport, level: Level) -> String {
    let cf = &r.confidence_factor;
    let mut b = String::new();
    let _ = write!(
        b,
        "<section id=\"report\"><p class=\"grade\">Confidence Factor \
         <data id=\"grade\" value=\"{0}\">{0}</data></p>\
         <p id=\"grade-detail\">of {1} possible ({2}%); a best-in-class system gets {3}.</p>",
        cf.score, cf.max, cf.percent, cf.best_in_class
    );
    if let Some(a) = &r.assuredness {
        let _ = write!(
            b,
            "<p>Assuredness Factor: {} ({})</p>",
            a.factor,
            esc(&a.text)
        );
    }
    if !r.tested {
        b.push_str("<p class=\"error\">Nothing could be tested: no MX host was reached.</p>");
    }
    b.push_str("<h2>MX matrix</h2><table id=\"matrix\"><thead><tr><th>MX server</th><th>Pref</th><th>Score</th>");
    let stages = [
        ("answer", "Answer"),
        ("connect", "Connect"),
        ("ehlo", "HELO"),
        ("tls_offered", "TLS"),
        ("cert", "Cert"),
        ("secure", "Secure"),
        ("mail_from", "From"),
        ("rcpt_to", "To"),
        ("data", "Data"),
        ("email", "Email"),
    ];
    let used: Vec<_> = stages
        .iter()
        .filter(|(k, _)| {
            r.mx.iter()
                .any(|h| h.stages.iter().any(|s| s.stage.name() == *k))
                || matches!(
                    *k,
                    "answer" | "connect" | "ehlo" | "tls_offered" | "cert" | "secure"
                )
        })
        .collect();
    for (_, head) in &used {
        let _ = write!(b, "<th>{head}</th>");
    }
    b.push_str("</tr></thead><tbody>");
    for h in &r.mx {
        let addr = h
            .address
            .map_or_else(|| "unresolvable".to_owned(), |a| a.to_string());
        let _ = write!(
            b,
            "<tr><td>{}[{}]:{}</td><td>{}</td><td>{}</td>",
            esc(&h.name),
            esc(&addr),
            h.port,
            h.preference,
            h.score
        );
        for (k, _) in &used {
            match h.stages.iter().find(|s| s.stage.name() == *k) {
                Some(s) if s.ok => {
                    let _ = write!(b, "<td class=\"ok\">OK ({} ms)</td>", s.ms);
                }
                Some(_) => b.push_str("<td class=\"fail\">FAIL</td>"),
                None => b.push_str("<td>-</td>"),
            }
        }
        b.push_str("</tr>");
    }
    b.push_str("</tbody></table>");
    b.push_str("<h2>Why this grade</h2><ul id=\"reasons\">");
    for reason in &cf.reasons {
        let _ = write!(b, "<li>{}</li>", esc(&reason.to_string()));
    }
    for h in &r.mx {
        if let Some(s) = &h.score_detail {
            for reason in &s.reasons {
                let _ = write!(b, "<li>{}: {}</li>", esc(&h.name), esc(&reason.to_string()));
            }
        }
    }
    b.push_str("</ul>");
    for h in &r.mx {
        let addr = h
            .address
            .map_or_else(|| "unresolvable".to_owned(), |a| a.to_string());
        let _ = write!(
            b,
            "<h2>{}[{}]:{} (preference {}): score {}</h2>",
            esc(&h.name),
            esc(&addr),
            h.port,
            h.preference,
            h.score
        );
        b.push_str("<dl>");
        if let Some(t) = &h.tls {
            let _ = write!(
                b,
                "<dt>TLS</dt><dd>{} with {}{}; handshake {} ms</dd>",
                esc(&t.version.to_string()),
                esc(&t.cipher),
                t.group
                    .as_deref()
                    .map(|g| format!(", key exchange {}", esc(g)))
                    .unwrap_or_default(),
                t.handshake_ms
            );
        } else {
            b.push_str("<dt>TLS</dt><dd class=\"fail\">none negotiated</dd>");
        }
        if let Some(c) = &h.certificate {
            let _ = write!(
                b,
                "<dt>Certificate</dt><dd>{}; name {}; {}</dd>",
                if c.chain_valid {
                    "chain validated".to_owned()
                } else {
                    format!("NOT validated ({})", esc(&c.problems.join(", ")))
                },
                match c.name_match {
                    Some(true) => format!(
                        "verified ({})",
                        esc(c.matched_name.as_deref().unwrap_or("?"))
                    ),
                    Some(false) => "DOES NOT VERIFY".to_owned(),
                    None => "not checked".to_owned(),
                },
                match c.days_to_expiry {
                    Some(d) if c.expired => format!("EXPIRED ({d} days)"),
                    Some(d) => format!("expires in {d} days"),
                    None => "expiry unknown".to_owned(),
                }
            );
        }
        let _ = write!(
            b,
            "<dt>Revocation</dt><dd>{} {}</dd><dt>DANE</dt><dd>{}{}</dd><dt>MTA-STS</dt><dd>{}{}</dd></dl>",
            esc(&h.revocation.status.to_string()),
            esc(&h.revocation.detail),
            esc(&h.dane.status.to_string()),
            h.dane
                .matched
                .as_deref()
                .map(|m| format!(" ({})", esc(m)))
                .unwrap_or_default(),
            esc(&h.mta_sts.verdict.to_string()),
            if h.mta_sts.covered { " (covered)" } else { "" }
        );
        if let Some(c) = &h.certificate
            && !c.chain.is_empty()
        {
            b.push_str("<table class=\"chain\"><thead><tr><th>#</th><th>Subject</th><th>Issuer</th><th>Valid</th><th>Key</th><th>SHA-256</th></tr></thead><tbody>");
            for s in &c.chain {
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} to {}</td><td>{}; {}</td><td><code>{}</code></td></tr>",
                    s.depth + 1,
                    esc(&s.subject),
                    esc(&s.issuer),
                    esc(&s.not_before),
                    esc(&s.not_after),
                    esc(&s
                        .key
                        .map_or_else(|| "unknown".to_owned(), |k| k.to_string())),
                    esc(&s.signature),
                    esc(&s.sha256)
                );
            }
            b.push_str("</tbody></table>");
        }
        if !h.findings.is_empty() {
            b.push_str("<ul>");
            for f in &h.findings {
                let _ = write!(
                    b,
                    "<li>{:?} <code>{}</code>: {}</li>",
                    f.severity,
                    esc(&f.code),
                    esc(&f.message)
                );
            }
            b.push_str("</ul>");
        }
        if level >= Level::Smtp && level <= Level::SslDetail && !h.transcript.is_empty() {
            b.push_str("<pre class=\"transcript\">");
            for line in &h.transcript {
                let _ = writeln!(
                    b,
                    "<span class=\"{}\">{}</span>",
                    line_class(line),
                    esc(line)
                );
            }
            b.push_str("</pre>");
        }
    }
    if let Ok(dns) = serde_json::to_value(&r.dns) {
        let mut rows = Vec::new();
        proofs(&dns, "dns", &mut rows);
        if !rows.is_empty() {
            b.push_str("<h2>DNS and its proofs</h2><table id=\"dns-proofs\"><thead><tr><th>Answer</th><th>DNSSEC proof</th></tr></thead><tbody>");
            for (path, proof) in rows {
                let _ = write!(
                    b,
                    "<tr><td><code>{}</code></td><td>{}</td></tr>",
                    esc(&path),
                    esc(&proof)
                );
            }
            b.push_str("</tbody></table>");
        }
    }
    if !r.findings.is_empty() {
        b.push_str("<h2>Findings</h2><ul id=\"findings\">");
        for f in &r.findings {
            let _ = write!(
                b,
                "<li>{:?} <code>{}</code>: {}</li>",
                f.severity,
                esc(&f.code),
                esc(&f.message)
            );
        }
        b.push_str("</ul>");
    }
    let _ = write!(
        b,
        "<h2>The report at level {}</h2><pre id=\"text-report\">{}</pre></section>",
        level.name(),
        esc(&render(r, level, Format::Text))
    );
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_line_becomes_text() {
        let host = HostKey::new("mx.evil.test", 10, Some("127.0.0.1".parse().unwrap()), 25);
        let (name, html) = fragment(&Progress::Line {
            host,
            kind: LineKind::Received,
            line: "[000.001] <--  220 <script>alert(1)</script>\u{1b}[2J".into(),
        });
        assert_eq!(name, "line");
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[2J"),
            "{html}"
        );
    }

    #[test]
    fn the_extension_picks_the_format() {
        assert_eq!(id_and_format("ab12.json"), ("ab12", Some("json")));
        assert_eq!(id_and_format("ab12.txt"), ("ab12", Some("text")));
        assert_eq!(id_and_format("ab12"), ("ab12", None));
    }

    #[test]
    fn limits_read_n_and_percent() {
        assert_eq!(limit("2", false), Ok(MxLimit::Levels(2)));
        assert_eq!(limit("50%", true), Ok(MxLimit::HostsPercent(50)));
        assert!(limit("0", true).is_err());
        assert!(limit("x", true).is_err());
    }
}
