//! The monitor service: may an outside monitor say all is well with a stored batch?
//!
//! ```text
//!   GET /monitor/{batch_id}?check_age=MIN&min_total=N&format=ok|xml|json
//!   Authorization: Bearer TOKEN            (401 without it; 400 bad parameters; 404 no batch)
//!        │
//!        ▼ verdict(batch, runs, now, check_age, min_total)          pure, time as a parameter
//!   Passed        ran within check_age and the Total reached min_total        OK
//!   FellShort     ran, and the Total is under min_total                       NOK
//!   DidNotRun     no complete run within check_age                            NOK
//!   CouldNotTest  ran, but nothing could be tested, or the run was cut off    NOK
//!
//!   GET /metrics   Prometheus text: runs by status, last duration and Total per batch;
//!                  the queue by state; per worker: jobs done, jobs held, last heartbeat
//! ```
//!
//! Everything is read through the [`Store`] trait: with PostgreSQL, any server of the fleet
//! answers for the whole fleet.
//!
//! The plain answer is "active positive": `OK` only when all is well, `NOK` otherwise, so a
//! monitor that gets no answer, or any other answer, alerts.
//!
//! ```
//! use checktls_batch::monitor::{State, verdict};
//! use time::macros::datetime;
//! let now = datetime!(2026-11-22 12:00 UTC);
//! let answer = verdict(None, &[], now, 60, 90.0);
//! assert_eq!(answer.state, State::DidNotRun);
//! assert_eq!(answer.plain(), "NOK");
//! ```

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::net::TcpListener;

use crate::history::{RunRow, RunStatus, StoredBatch};
use crate::store::Store;

/// What the monitor says of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum State {
    /// Ran within the check age and the Total reached the minimum.
    Passed,
    /// Ran within the check age and the Total fell short.
    FellShort,
    /// No complete run within the check age (the service is down, or the batch unscheduled).
    DidNotRun,
    /// It ran, but nothing could be tested (the checker's own failure), or the run was cut off.
    CouldNotTest,
}

impl State {
    fn detail(self) -> &'static str {
        match self {
            Self::Passed => "ran and passed",
            Self::FellShort => "ran and fell short",
            Self::DidNotRun => "did not run within the check age",
            Self::CouldNotTest => "could not test",
        }
    }
}

/// The monitor's answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Answer {
    /// The verdict.
    pub state: State,
    /// `OK` or `NOK`.
    pub status: &'static str,
    /// A sentence on the state.
    pub detail: &'static str,
    /// The batch's name.
    pub description: String,
    /// When the run judged finished (RFC 3339), if any.
    pub last_run: Option<String>,
    /// Its Total.
    pub last_total: Option<f64>,
}

impl Answer {
    /// `OK` or `NOK`.
    pub fn plain(&self) -> &'static str {
        self.status
    }

    /// CheckTLS's XML names.
    pub fn xml(&self) -> String {
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Monitor>");
        let _ = write!(x, "<Status>{}</Status>", self.status);
        let _ = write!(
            x,
            "<Description>{}</Description>",
            escape(&self.description)
        );
        let _ = write!(
            x,
            "<LastRun>{}</LastRun>",
            self.last_run.as_deref().unwrap_or("")
        );
        let _ = write!(
            x,
            "<LastTotal>{}</LastTotal>",
            self.last_total
                .map(|t| format!("{t:.1}"))
                .unwrap_or_default()
        );
        let _ = writeln!(x, "<Detail>{}</Detail></Monitor>", self.detail);
        x
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Judges a batch from its runs (newest first) at `now`.
pub fn verdict(
    batch: Option<&StoredBatch>,
    runs: &[RunRow],
    now: OffsetDateTime,
    check_age_minutes: u32,
    min_total: f64,
) -> Answer {
    let since = now - time::Duration::minutes(i64::from(check_age_minutes));
    // The newest run that ended (complete or cut off) within the check age.
    let judged = runs.iter().find(|r| match r.status {
        RunStatus::Complete => r.finished.is_some_and(|f| f >= since),
        RunStatus::Interrupted => r.started >= since,
        RunStatus::Running => false,
    });
    let state = match judged {
        None => State::DidNotRun,
        Some(r) if r.status == RunStatus::Interrupted => State::CouldNotTest,
        Some(r) if r.tested.unwrap_or(0) == 0 || r.total.is_none() => State::CouldNotTest,
        Some(r) if r.total.unwrap_or(0.0) >= min_total => State::Passed,
        Some(_) => State::FellShort,
    };
    let rfc3339 = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    Answer {
        state,
        status: if state == State::Passed { "OK" } else { "NOK" },
        detail: state.detail(),
        description: batch.map(|b| b.name.clone()).unwrap_or_default(),
        last_run: judged
            .and_then(|r| r.finished.or(Some(r.started)))
            .map(rfc3339),
        last_total: judged.and_then(|r| r.total),
    }
}

/// The monitor's configuration.
#[derive(Clone)]
pub struct MonitorConfig {
    /// The bearer token every request must carry.
    token: Arc<str>,
    /// The clock (the service passes the system's; tests their own).
    pub clock: Arc<dyn Fn() -> OffsetDateTime + Send + Sync>,
}

impl std::fmt::Debug for MonitorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorConfig")
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl MonitorConfig {
    /// A configuration with this token and the system clock. An empty token is refused.
    pub fn new(token: &str) -> Option<Self> {
        (!token.trim().is_empty()).then(|| Self {
            token: Arc::from(token.trim()),
            clock: Arc::new(OffsetDateTime::now_utc),
        })
    }
}

/// Equal, in a time that depends neither on where they differ nor on their lengths: the
/// SHA-256 digests are compared in constant time (`subtle`).
fn same(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let digest = |x: &[u8]| ring::digest::digest(&ring::digest::SHA256, x);
    digest(a).as_ref().ct_eq(digest(b).as_ref()).into()
}

/// At most this many connections are served at once; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 64;

fn text(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// The query parameters of `/monitor/{id}`.
#[derive(Debug, PartialEq)]
struct Query {
    check_age: u32,
    min_total: f64,
    format: String,
}

fn query(q: Option<&str>) -> Result<Query, String> {
    let mut out = Query {
        check_age: 1440,
        min_total: 90.0,
        format: "ok".into(),
    };
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "check_age" => {
                out.check_age = v.parse().ok().filter(|m| *m > 0).ok_or_else(|| {
                    format!("check_age {v:?}: expected whole minutes, at least 1")
                })?;
            }
            "min_total" => {
                out.min_total = v
                    .parse()
                    .ok()
                    .filter(|t: &f64| t.is_finite() && (0.0..=1000.0).contains(t))
                    .ok_or_else(|| format!("min_total {v:?}: expected a number from 0 to 1000"))?;
            }
            "format" => {
                if !matches!(v, "ok" | "xml" | "json") {
                    return Err(format!("format {v:?}: expected ok, xml or json"));
                }
                v.clone_into(&mut out.format);
            }
            other => return Err(format!("unknown parameter {other:?}")),
        }
    }
    Ok(out)
}

/// Answers one request.
pub async fn respond(
    store: &dyn Store,
    config: &MonitorConfig,
    method: &hyper::Method,
    path: &str,
    query_text: Option<&str>,
    authorization: Option<&[u8]>,
) -> Response<Full<Bytes>> {
    let expected = format!("Bearer {}", config.token);
    if !authorization.is_some_and(|a| same(a, expected.as_bytes())) {
        let mut r = text(StatusCode::UNAUTHORIZED, "text/plain", "NOK\n".into());
        r.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Bearer"),
        );
        return r;
    }
    if method != hyper::Method::GET {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
    }
    let now = (config.clock)();
    if path == "/metrics" {
        return match metrics(store, now).await {
            Ok(m) => text(StatusCode::OK, "text/plain; version=0.0.4", m),
            Err(e) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                format!("{e}\n"),
            ),
        };
    }
    let Some(id) = path.strip_prefix("/monitor/") else {
        return text(StatusCode::NOT_FOUND, "text/plain", "not found\n".into());
    };
    let Ok(id) = id.parse::<i64>() else {
        return text(
            StatusCode::BAD_REQUEST,
            "text/plain",
            format!("batch id {id:?}: expected a number\n"),
        );
    };
    let q = match query(query_text) {
        Ok(q) => q,
        Err(e) => return text(StatusCode::BAD_REQUEST, "text/plain", format!("{e}\n")),
    };
    let batch = match store.batch(id).await {
        Ok(Some(b)) => b,
        Ok(None) => return text(StatusCode::NOT_FOUND, "text/plain", "NOK\n".into()),
        Err(e) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                format!("NOK\n{e}\n"),
            );
        }
    };
    let runs = match store.runs(id, 20).await {
        Ok(r) => r,
        Err(e) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                format!("NOK\n{e}\n"),
            );
        }
    };
    let answer = verdict(Some(&batch), &runs, now, q.check_age, q.min_total);
    match q.format.as_str() {
        "xml" => text(StatusCode::OK, "application/xml", answer.xml()),
        "json" => text(
            StatusCode::OK,
            "application/json",
            serde_json::to_string(&answer).unwrap_or_default() + "\n",
        ),
        _ => text(
            StatusCode::OK,
            "text/plain",
            format!("{}\n", answer.plain()),
        ),
    }
}

/// Prometheus text for every stored batch, the queue and every worker.
pub async fn metrics(store: &dyn Store, now: OffsetDateTime) -> Result<String, crate::Error> {
    let mut m = String::new();
    m.push_str("# HELP checktls_batch_runs Runs in the history, by status.\n# TYPE checktls_batch_runs gauge\n");
    let batches = store.batches().await?;
    let mut lasts = Vec::new();
    for b in &batches {
        let runs = store.runs(b.id, 10_000).await?;
        for status in [
            RunStatus::Complete,
            RunStatus::Interrupted,
            RunStatus::Running,
        ] {
            let n = runs.iter().filter(|r| r.status == status).count();
            let _ = writeln!(
                m,
                "checktls_batch_runs{{batch=\"{}\",status=\"{}\"}} {n}",
                b.id,
                format!("{status:?}").to_ascii_lowercase()
            );
        }
        if let Some(r) = runs.iter().find(|r| r.status == RunStatus::Complete) {
            lasts.push((b.id, r.clone()));
        }
    }
    m.push_str("# HELP checktls_batch_last_total The Total of the last complete run.\n# TYPE checktls_batch_last_total gauge\n");
    for (id, r) in &lasts {
        if let Some(t) = r.total {
            let _ = writeln!(m, "checktls_batch_last_total{{batch=\"{id}\"}} {t}");
        }
    }
    m.push_str("# HELP checktls_batch_target_grade Each target's grade in the last complete run (its last test).\n# TYPE checktls_batch_target_grade gauge\n");
    for (id, r) in &lasts {
        let mut last: std::collections::BTreeMap<String, u16> = std::collections::BTreeMap::new();
        for (_, _, target, outcome) in store.results(r.id).await? {
            if let Some(score) = outcome.score() {
                last.insert(target, score);
            }
        }
        for (target, score) in last {
            let target = target.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(
                m,
                "checktls_batch_target_grade{{batch=\"{id}\",target=\"{target}\"}} {score}"
            );
        }
    }
    m.push_str("# HELP checktls_batch_last_duration_seconds How long the last complete run took.\n# TYPE checktls_batch_last_duration_seconds gauge\n");
    for (id, r) in &lasts {
        if let Some(f) = r.finished {
            let _ = writeln!(
                m,
                "checktls_batch_last_duration_seconds{{batch=\"{id}\"}} {}",
                (f - r.started).whole_seconds()
            );
        }
    }
    m.push_str("# HELP checktls_batch_last_run_age_seconds Seconds since the last complete run finished.\n# TYPE checktls_batch_last_run_age_seconds gauge\n");
    for (id, r) in &lasts {
        if let Some(f) = r.finished {
            let _ = writeln!(
                m,
                "checktls_batch_last_run_age_seconds{{batch=\"{id}\"}} {}",
                (now - f).whole_seconds()
            );
        }
    }
    let queue = store.queue().await?;
    m.push_str("# HELP checktls_queue_jobs Jobs in the work queue, by state.\n# TYPE checktls_queue_jobs gauge\n");
    for (state, n) in [
        ("queued", queue.queued),
        ("claimed", queue.claimed),
        ("done", queue.done),
    ] {
        let _ = writeln!(m, "checktls_queue_jobs{{state=\"{state}\"}} {n}");
    }
    let workers = store.workers().await?;
    let label = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    m.push_str("# HELP checktls_worker_jobs_done_total Jobs each worker completed.\n# TYPE checktls_worker_jobs_done_total counter\n");
    for w in &workers {
        let _ = writeln!(
            m,
            "checktls_worker_jobs_done_total{{worker=\"{}\",host=\"{}\"}} {}",
            label(&w.id),
            label(&w.host),
            w.jobs_done
        );
    }
    m.push_str("# HELP checktls_worker_jobs_claimed Jobs each worker holds now.\n# TYPE checktls_worker_jobs_claimed gauge\n");
    for w in &workers {
        let _ = writeln!(
            m,
            "checktls_worker_jobs_claimed{{worker=\"{}\"}} {}",
            label(&w.id),
            w.claimed
        );
    }
    m.push_str("# HELP checktls_worker_last_seen_seconds Seconds since each worker's last heartbeat.\n# TYPE checktls_worker_last_seen_seconds gauge\n");
    for w in &workers {
        let _ = writeln!(
            m,
            "checktls_worker_last_seen_seconds{{worker=\"{}\"}} {}",
            label(&w.id),
            (now - w.last_seen).whole_seconds().max(0)
        );
    }
    m.push_str("# HELP checktls_worker_up Whether a worker is running (1) or stopped cleanly (0).\n# TYPE checktls_worker_up gauge\n");
    for w in &workers {
        let _ = writeln!(
            m,
            "checktls_worker_up{{worker=\"{}\"}} {}",
            label(&w.id),
            u8::from(!w.stopped)
        );
    }
    Ok(m)
}

/// Serves the monitor on `listener` until the task is dropped: HTTP/1.1, one task per
/// connection, at most [`MAX_CONNECTIONS`] at once, a 10 s limit to read a request's head, 60
/// s per connection, requests with a body refused.
///
/// It speaks plain HTTP: bind it to loopback, or put a TLS proxy in front, so the bearer
/// token never crosses a network in clear.
pub async fn serve(listener: TcpListener, store: Arc<dyn Store>, config: MonitorConfig) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let Ok((tcp, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (store, config) = (store.clone(), config.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (store, config) = (store.clone(), config.clone());
                async move { Ok::<_, Infallible>(handle(&*store, &config, &req, peer).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .max_buf_size(16 * 1024)
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
            let _ = tokio::time::timeout(Duration::from_secs(60), conn).await;
        });
    }
}

async fn handle(
    store: &dyn Store,
    config: &MonitorConfig,
    req: &Request<Incoming>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let auth = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .map(hyper::header::HeaderValue::as_bytes);
    let r = respond(
        store,
        config,
        req.method(),
        req.uri().path(),
        req.uri().query(),
        auth,
    )
    .await;
    tracing::info!(%peer, path = req.uri().path(), status = r.status().as_u16(), "monitor");
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_checked() {
        assert_eq!(
            query(Some("check_age=60&min_total=100&format=xml")),
            Ok(Query {
                check_age: 60,
                min_total: 100.0,
                format: "xml".into()
            })
        );
        for bad in [
            "check_age=abc",
            "check_age=0",
            "min_total=-1",
            "min_total=NaN",
            "format=html",
            "extra=1",
        ] {
            assert!(query(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"Bearer abc", b"Bearer abc"));
        assert!(!same(b"Bearer abd", b"Bearer abc"));
        assert!(!same(b"Bearer ab", b"Bearer abc"));
        let c = MonitorConfig::new("s3cret").unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(MonitorConfig::new("  ").is_none());
    }
}
