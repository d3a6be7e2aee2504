//! Stored batches in the browser: list, upload or edit (errors at LINE:COLUMN, as `batch
//! check` prints them), run now, runs as they progress, each run's results in the pager and
//! matrix views, what changed against the previous run and the baseline, the baseline, the
//! history as SVG charts, results links, and the dashboard of monitor verdicts.
//!
//! ```text
//!   /batches                 GET list + upload form    POST (multipart: file or text) ─► put_batch
//!   /batches/{id}            GET the batch, runs, charts, edit form    POST replace
//!   /batches/{id}/run        POST ─► fleet::queue_run (the workers test it) ─► the run's page
//!   /batches/{id}/runs/{run} progress (refreshing) │ pager, matrix, changes, links
//!   /batches/{id}/baseline   POST run=N ─► Store::set_baseline
//!   /batches/{id}/runs/{run}/links  POST format ─► a ResultLink (128 random bits)
//!   /batches/{id}/links/revoke      POST token (the batch's owner)
//!   /r/{token}               no session: the run's results in the link's format, unless revoked
//!   /dashboard               monitor::verdict for every batch, with why
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;

use super::auth::User;
use super::charts::{Series, line_chart};
use super::check::when;
use super::html::{csrf_field, error_page, esc, page};
use super::{App, Page, random_token, store_error};
use checktls::batch::eval::BatchResult;
use checktls::batch::format::render;
use checktls::batch::history::{RunRow, RunStatus, StoredBatch};
use checktls::batch::model::{Format, Selection};
use checktls::batch::monitor::verdict;
use checktls::batch::report::{Outcome, Stage};
use checktls::batch::store::ResultLink;
use checktls::batch::{Batch, Limits};

fn not_found() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such batch or run.",
    )
}

/// What an upload form sent.
#[derive(Default)]
struct Upload {
    csrf: Option<String>,
    xml: String,
    file_name: String,
}

async fn read_upload(mut m: Multipart) -> Result<Upload, Response> {
    let bad = |e: String| error_page(StatusCode::BAD_REQUEST, "Bad upload", &e);
    let mut u = Upload {
        file_name: "batch.xml".into(),
        ..Upload::default()
    };
    let mut file = None;
    while let Some(field) = m.next_field().await.map_err(|e| bad(e.to_string()))? {
        let name = field.name().unwrap_or("").to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let bytes = field.bytes().await.map_err(|e| bad(e.to_string()))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            "csrf" => u.csrf = Some(text),
            "xml" => u.xml = text,
            "file" if !bytes.is_empty() => {
                if let Some(f) = file_name.filter(|f| !f.is_empty()) {
                    u.file_name = f;
                }
                file = Some(text);
            }
            _ => {}
        }
    }
    if let Some(f) = file {
        u.xml = f;
    }
    Ok(u)
}

/// The upload/edit form.
fn upload_form(action: &str, user: &User, xml: &str, button: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\" enctype=\"multipart/form-data\" id=\"upload-form\">{}\
         <label for=\"file\">A Batch file (XML)</label><input type=\"file\" id=\"file\" name=\"file\" accept=\".xml,text/xml,application/xml\">\
         <label for=\"xml\">or the XML itself</label><textarea id=\"xml\" name=\"xml\" rows=\"14\" spellcheck=\"false\">{}</textarea>\
         <p><button type=\"submit\" id=\"upload\">{}</button></p></form>",
        esc(action),
        csrf_field(user.csrf()),
        esc(xml),
        esc(button)
    )
}

/// The XML with its lines numbered and the bad one marked.
fn listing(xml: &str, bad_line: Option<u32>) -> String {
    let mut out = String::from("<ol class=\"listing\">");
    for (i, line) in xml.lines().enumerate() {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if Some(n) == bad_line {
            let _ = write!(
                out,
                "<li id=\"line-{n}\" class=\"bad\"><code>{}</code></li>",
                esc(line)
            );
        } else {
            let _ = write!(out, "<li><code>{}</code></li>", esc(line));
        }
    }
    out.push_str("</ol>");
    out
}

/// A refused upload: `FILE:LINE:COLUMN: what was expected`, the listing with the line marked.
fn refused(user: &User, action: &str, u: &Upload, e: &checktls::batch::Error) -> Response {
    let mut b = format!(
        "<p class=\"error\" role=\"alert\" id=\"batch-error\">{}:{}</p>",
        esc(&u.file_name),
        esc(&e.to_string())
    );
    b.push_str(&listing(&u.xml, e.position().map(|p| p.line)));
    b.push_str(&upload_form(action, user, &u.xml, "Check and save"));
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        page("The batch was not saved", &user.chrome(), &b),
    )
        .into_response()
}

/// `GET /batches`.
pub(crate) async fn list(State(app): State<Arc<App>>, user: User) -> Page {
    let batches = app.store.batches().await.map_err(store_error)?;
    let mut b = String::new();
    if batches.is_empty() {
        b.push_str("<p>No batch is stored yet.</p>");
    } else {
        b.push_str("<table id=\"batches\"><thead><tr><th>Id</th><th>Name</th><th>Schedule</th><th>Last run</th><th>Total</th></tr></thead><tbody>");
        for s in &batches {
            let last = app
                .store
                .runs(s.id, 1)
                .await
                .map_err(store_error)?
                .into_iter()
                .next();
            let schedule = checktls::batch::parse(&s.xml)
                .ok()
                .and_then(|p| p.schedule)
                .map(|s| format!("{} ({})", s.expression, s.time_zone))
                .unwrap_or_else(|| "-".into());
            let _ = write!(
                b,
                "<tr><td>{0}</td><td><a href=\"/batches/{0}\">{1}</a></td><td>{2}</td><td>{3}</td><td>{4}</td></tr>",
                s.id,
                esc(&s.name),
                esc(&schedule),
                last.as_ref()
                    .map(|r| format!("{} ({})", when(r.started), r.status.name()))
                    .unwrap_or_else(|| "never".into()),
                last.and_then(|r| r.total)
                    .map(|t| format!("{t:.1}"))
                    .unwrap_or_else(|| "-".into())
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("<h2>Add a batch</h2>");
    b.push_str(&upload_form("/batches", &user, "", "Check and save"));
    Ok(page("Batches", &user.chrome(), &b).into_response())
}

/// `POST /batches`: a new batch.
pub(crate) async fn create(State(app): State<Arc<App>>, user: User, m: Multipart) -> Page {
    let u = read_upload(m).await?;
    user.check_csrf(u.csrf.as_deref())?;
    if let Err(e) = checktls::batch::parse_bytes(u.xml.as_bytes(), &Limits::default()) {
        return Err(refused(&user, "/batches", &u, &e));
    }
    let id = match app
        .store
        .put_batch(None, &u.xml, OffsetDateTime::now_utc())
        .await
    {
        Ok(id) => id,
        Err(e) if e.position().is_some() => return Err(refused(&user, "/batches", &u, &e)),
        Err(e) => return Err(store_error(e)),
    };
    app.store
        .set_batch_owner(id, &user.name)
        .await
        .map_err(store_error)?;
    Ok(Redirect::to(&format!("/batches/{id}")).into_response())
}

/// `POST /batches/{id}`: replaces a batch (its owner, or anyone for a batch without one).
pub(crate) async fn update(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<i64>,
    m: Multipart,
) -> Page {
    let u = read_upload(m).await?;
    user.check_csrf(u.csrf.as_deref())?;
    owned(&app, id, &user).await?;
    let action = format!("/batches/{id}");
    if let Err(e) = checktls::batch::parse_bytes(u.xml.as_bytes(), &Limits::default()) {
        return Err(refused(&user, &action, &u, &e));
    }
    match app
        .store
        .put_batch(Some(id), &u.xml, OffsetDateTime::now_utc())
        .await
    {
        Ok(_) => Ok(Redirect::to(&action).into_response()),
        Err(e) if e.position().is_some() => Err(refused(&user, &action, &u, &e)),
        Err(e) => Err(store_error(e)),
    }
}

/// The batch, when it exists and `user` may change it (its owner; anyone for a batch added
/// from the command line).
async fn owned(app: &App, id: i64, user: &User) -> Result<StoredBatch, Response> {
    let batch = app
        .store
        .batch(id)
        .await
        .map_err(store_error)?
        .ok_or_else(not_found)?;
    match app.store.batch_owner(id).await.map_err(store_error)? {
        Some(owner) if owner != user.name => Err(error_page(
            StatusCode::FORBIDDEN,
            "Refused",
            "Only the batch's owner may change it.",
        )),
        _ => Ok(batch),
    }
}

/// Complete runs, oldest first (at most `n`).
fn complete_oldest_first(runs: &[RunRow], n: usize) -> Vec<RunRow> {
    let mut c: Vec<RunRow> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Complete)
        .take(n)
        .cloned()
        .collect();
    c.reverse();
    c
}

/// The charts of a batch's history: grade, days to certificate expiry, stage times.
async fn charts(app: &App, runs: &[RunRow]) -> Result<String, Response> {
    let complete = complete_oldest_first(runs, 30);
    let labels: Vec<String> = complete.iter().map(|r| format!("run {}", r.id)).collect();
    let mut grade: BTreeMap<String, Vec<(usize, f64)>> = BTreeMap::new();
    let mut expiry: BTreeMap<String, Vec<(usize, f64)>> = BTreeMap::new();
    let mut stage_ms: BTreeMap<Stage, Vec<(usize, f64)>> = BTreeMap::new();
    for (i, run) in complete.iter().enumerate() {
        let results = app.store.results(run.id).await.map_err(store_error)?;
        let mut per_stage: BTreeMap<Stage, (u64, u64)> = BTreeMap::new();
        for (_, run_no, target, outcome) in &results {
            if *run_no != 1 {
                continue;
            }
            let Outcome::Tested(r) = outcome else {
                continue;
            };
            grade
                .entry(target.clone())
                .or_default()
                .push((i, f64::from(r.score)));
            if let Some(days) =
                r.mx.iter()
                    .filter_map(|m| m.cert.and_then(|c| c.days_to_expiry))
                    .min()
            {
                #[allow(clippy::cast_precision_loss)]
                expiry
                    .entry(target.clone())
                    .or_default()
                    .push((i, days as f64));
            }
            for m in &r.mx {
                for s in &m.stages {
                    let e = per_stage.entry(s.stage).or_default();
                    e.0 += s.ms;
                    e.1 += 1;
                }
            }
        }
        for (stage, (sum, n)) in per_stage {
            if n > 0 {
                #[allow(clippy::cast_precision_loss)]
                stage_ms
                    .entry(stage)
                    .or_default()
                    .push((i, sum as f64 / n as f64));
            }
        }
    }
    let to_series = |m: BTreeMap<String, Vec<(usize, f64)>>| -> Vec<Series> {
        m.into_iter()
            .map(|(name, points)| Series { name, points })
            .collect()
    };
    let mut out = String::from("<h2>History</h2>");
    out.push_str(&line_chart(
        "chart-grade",
        "Grade of each target, per run",
        &labels,
        &to_series(grade),
        "",
    ));
    out.push_str(&line_chart(
        "chart-expiry",
        "Days to certificate expiry (the soonest MX), per run",
        &labels,
        &to_series(expiry),
        "days",
    ));
    let stages: Vec<Series> = stage_ms
        .into_iter()
        .map(|(s, points)| Series {
            name: s.name().to_owned(),
            points,
        })
        .collect();
    out.push_str(&line_chart(
        "chart-stages",
        "Average time of each stage over the MX hosts, per run (ms)",
        &labels,
        &stages,
        "ms",
    ));
    Ok(out)
}

/// `GET /batches/{id}`.
pub(crate) async fn show(State(app): State<Arc<App>>, user: User, Path(id): Path<i64>) -> Page {
    let batch = app
        .store
        .batch(id)
        .await
        .map_err(store_error)?
        .ok_or_else(not_found)?;
    let owner = app.store.batch_owner(id).await.map_err(store_error)?;
    let runs = app.store.runs(id, 200).await.map_err(store_error)?;
    let parsed = checktls::batch::parse(&batch.xml).ok();
    let mut b = String::new();
    let _ = write!(
        b,
        "<p>Owner: {}. {} target(s), {} test(s) per run. Schedule: {}.</p>",
        esc(owner.as_deref().unwrap_or("(added from the command line)")),
        parsed.as_ref().map_or(0, |p| p.targets.len()),
        parsed.as_ref().map_or(0, Batch::test_count),
        esc(&parsed
            .as_ref()
            .and_then(|p| p.schedule.as_ref())
            .map(|s| format!("{} ({})", s.expression, s.time_zone))
            .unwrap_or_else(|| "none (run on demand)".into()))
    );
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/batches/{id}/run\">{}<button type=\"submit\" id=\"run-now\">Run now</button></form>",
        csrf_field(user.csrf())
    );
    b.push_str("<h2>Runs</h2>");
    if runs.is_empty() {
        b.push_str("<p>It has not run yet.</p>");
    } else {
        b.push_str("<table id=\"runs\"><thead><tr><th>Run</th><th>Started (UTC)</th><th>Status</th><th>Total</th><th>Tested</th></tr></thead><tbody>");
        for r in &runs {
            let _ = write!(
                b,
                "<tr><td><a href=\"/batches/{id}/runs/{0}\">{0}</a></td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td></tr>",
                r.id,
                when(r.started),
                r.status.name(),
                r.total.map_or_else(|| "-".into(), |t| format!("{t:.1}")),
                r.tested.map_or_else(|| "-".into(), |t| t.to_string())
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str(&charts(&app, &runs).await?);
    b.push_str("<h2>Edit</h2>");
    b.push_str(&upload_form(
        &format!("/batches/{id}"),
        &user,
        &batch.xml,
        "Check and save",
    ));
    let title = format!("Batch {id}: {}", batch.name);
    Ok(page(&title, &user.chrome(), &b).into_response())
}

#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    csrf: Option<String>,
}

/// `POST /batches/{id}/run`: queues a run now for the workers.
pub(crate) async fn run_now(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Page {
    user.check_csrf(f.csrf.as_deref())?;
    app.store
        .batch(id)
        .await
        .map_err(store_error)?
        .ok_or_else(not_found)?;
    let run = checktls::batch::fleet::queue_run(&*app.store, id, None, OffsetDateTime::now_utc())
        .await
        .map_err(store_error)?
        .ok_or_else(|| store_error("the run was not queued"))?;
    Ok(Redirect::to(&format!("/batches/{id}/runs/{run}")).into_response())
}

#[derive(Deserialize)]
pub(crate) struct BaselineForm {
    csrf: Option<String>,
    run: i64,
}

/// `POST /batches/{id}/baseline`: a run becomes the batch's reference.
pub(crate) async fn baseline(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<BaselineForm>,
) -> Page {
    user.check_csrf(f.csrf.as_deref())?;
    owned(&app, id, &user).await?;
    app.store
        .set_baseline(id, f.run, None)
        .await
        .map_err(store_error)?;
    Ok(Redirect::to(&format!("/batches/{id}/runs/{}", f.run)).into_response())
}

/// A run's results evaluated again from what the history stored.
async fn evaluated(app: &App, batch: &Batch, run_id: i64) -> Result<BatchResult, Response> {
    let results = app.store.results(run_id).await.map_err(store_error)?;
    let mut outcomes: Vec<Vec<Outcome>> = vec![Vec::new(); batch.targets.len()];
    for (index, _, _, outcome) in results {
        if let Some(slot) = outcomes.get_mut(index) {
            slot.push(outcome);
        }
    }
    Ok(BatchResult::evaluate(batch, outcomes))
}

fn format_named(name: &str) -> Option<Format> {
    Format::ALL
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(f, _)| *f)
}

fn content_type(f: Format) -> &'static str {
    match f {
        Format::Json => "application/json",
        Format::Xml | Format::XmlScore | Format::XmlMatrix => "application/xml",
        Format::Csv | Format::Pager => "text/csv; charset=utf-8",
        Format::PagerHtml => "text/html; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    }
}

/// The matrix view: one row per MX of each target's first run.
fn matrix(result: &BatchResult) -> String {
    let mut b = String::from(
        "<table id=\"run-matrix\"><thead><tr><th>Target</th><th>Grade</th><th>MX</th>",
    );
    for s in Stage::RECEIVER {
        let _ = write!(b, "<th>{}</th>", s.pager_column());
    }
    b.push_str("</tr></thead><tbody>");
    for t in &result.targets {
        for (n, o) in t.runs.iter().enumerate() {
            let label = if t.runs.len() > 1 {
                format!("{} (run {})", t.target, n + 1)
            } else {
                t.target.clone()
            };
            match o {
                Outcome::Tested(r) if !r.mx.is_empty() => {
                    for m in &r.mx {
                        let _ = write!(
                            b,
                            "<tr><td>{}</td><td>{}</td><td>{}</td>",
                            esc(&label),
                            r.score,
                            esc(&m.name)
                        );
                        for s in Stage::RECEIVER {
                            match m.stage(s) {
                                Some(x) if x.ok => {
                                    let _ = write!(b, "<td class=\"ok\">OK ({} ms)</td>", x.ms);
                                }
                                Some(_) => b.push_str("<td class=\"fail\">FAIL</td>"),
                                None => b.push_str("<td>-</td>"),
                            }
                        }
                        b.push_str("</tr>");
                    }
                }
                Outcome::Tested(r) => {
                    let _ = write!(
                        b,
                        "<tr><td>{}</td><td>{}</td><td colspan=\"9\">no MX host</td></tr>",
                        esc(&label),
                        r.score
                    );
                }
                Outcome::NotTested(n) => {
                    let _ = write!(
                        b,
                        "<tr><td>{}</td><td>-</td><td colspan=\"9\">not tested: {}</td></tr>",
                        esc(&label),
                        esc(&n.reason)
                    );
                }
            }
        }
    }
    b.push_str("</tbody></table>");
    b
}

/// `GET /batches/{id}/runs/{run}`.
pub(crate) async fn run_page(
    State(app): State<Arc<App>>,
    user: User,
    Path((id, run_id)): Path<(i64, i64)>,
) -> Page {
    let stored = app
        .store
        .batch(id)
        .await
        .map_err(store_error)?
        .ok_or_else(not_found)?;
    let batch = checktls::batch::parse(&stored.xml).map_err(store_error)?;
    let runs = app.store.runs(id, 500).await.map_err(store_error)?;
    let Some(run) = runs.iter().find(|r| r.id == run_id).cloned() else {
        return Err(not_found());
    };
    let mut chrome = user.chrome();
    let mut b = String::new();
    let _ = write!(
        b,
        "<p><a href=\"/batches/{id}\">Batch {id}: {}</a>. Run {run_id} started {} (UTC): \
         <strong id=\"run-status\">{}</strong>.</p>",
        esc(&stored.name),
        when(run.started),
        run.status.name()
    );
    if run.status == RunStatus::Running {
        let done = app
            .store
            .job_outcomes(run_id)
            .await
            .map_err(store_error)?
            .len();
        let _ = write!(
            b,
            "<p id=\"progress\"><progress max=\"{0}\" value=\"{1}\">{1} of {0}</progress> \
             {1} of {0} tests done. This page refreshes itself.</p>",
            batch.test_count(),
            done
        );
        chrome.refresh = Some(2);
        let title = format!("Run {run_id} of {}", stored.name);
        return Ok(page(&title, &chrome, &b).into_response());
    }
    let result = evaluated(&app, &batch, run_id).await?;
    let _ = write!(
        b,
        "<p>Total: <strong id=\"run-total\">{}</strong> ({}; {} tested, {} not tested).</p>",
        result
            .total
            .value
            .map_or_else(|| "-".into(), |v| format!("{v:.1}")),
        if result.total.passed {
            "passed"
        } else {
            "did not pass"
        },
        result.total.tested,
        result.total.not_tested
    );
    b.push_str("<h2>Matrix</h2>");
    b.push_str(&matrix(&result));
    b.push_str("<h2>Pager</h2><pre id=\"pager\">");
    b.push_str(&esc(&render(&result, Format::Pager, &Selection::default())));
    b.push_str("</pre>");
    // What changed: against the previous complete run and the baseline.
    let now = app.store.summaries(run_id).await.map_err(store_error)?;
    let previous = match runs
        .iter()
        .filter(|r| r.status == RunStatus::Complete && r.id < run_id)
        .max_by_key(|r| r.id)
    {
        Some(p) => app.store.summaries(p.id).await.map_err(store_error)?,
        None => BTreeMap::new(),
    };
    let base = app.store.baseline(id).await.map_err(store_error)?;
    b.push_str("<h2>What changed</h2><table id=\"changes\"><thead><tr><th>Target</th><th>This run</th><th>Previous run</th><th>Baseline</th><th>Changed</th></tr></thead><tbody>");
    for (target, summary) in &now {
        let prev = previous.get(target);
        let against = if base.is_empty() {
            prev
        } else {
            base.get(target)
        };
        let changed = against != Some(summary);
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(target),
            esc(summary),
            esc(prev.map_or("-", String::as_str)),
            esc(base.get(target).map_or("-", String::as_str)),
            if changed { "fail" } else { "ok" },
            if changed { "changed" } else { "same" }
        );
    }
    b.push_str("</tbody></table>");
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/batches/{id}/baseline\">{}\
         <input type=\"hidden\" name=\"run\" value=\"{run_id}\">\
         <button type=\"submit\" id=\"set-baseline\">Make this run the baseline</button></form>",
        csrf_field(user.csrf())
    );
    // Results links.
    b.push_str(
        "<h2>Results links</h2><p>An address that serves this run's results without a \
                 session, for scripts and for mail: it works while it stays unguessable and is \
                 not revoked.</p>",
    );
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/batches/{id}/runs/{run_id}/links\">{}\
         <label for=\"format\">Format</label><select id=\"format\" name=\"format\">",
        csrf_field(user.csrf())
    );
    for (_, name) in Format::ALL {
        let _ = write!(b, "<option value=\"{name}\">{name}</option>");
    }
    b.push_str("</select> <button type=\"submit\" id=\"make-link\">Make a link</button></form>");
    let links: Vec<ResultLink> = app
        .store
        .links(id)
        .await
        .map_err(store_error)?
        .into_iter()
        .filter(|l| l.run_id == run_id)
        .collect();
    if !links.is_empty() {
        b.push_str("<table id=\"links\"><thead><tr><th>Format</th><th>Address</th><th>State</th><th></th></tr></thead><tbody>");
        for l in links {
            let _ = write!(
                b,
                "<tr><td>{}</td><td><a href=\"/r/{1}\">/r/{1}</a></td><td>{2}</td><td>",
                esc(&l.format),
                esc(&l.token),
                if l.revoked { "revoked" } else { "live" }
            );
            if !l.revoked {
                let _ = write!(
                    b,
                    "<form method=\"post\" action=\"/batches/{id}/links/revoke\">{}\
                     <input type=\"hidden\" name=\"token\" value=\"{}\">\
                     <button type=\"submit\">Revoke</button></form>",
                    csrf_field(user.csrf()),
                    esc(&l.token)
                );
            }
            b.push_str("</td></tr>");
        }
        b.push_str("</tbody></table>");
    }
    let title = format!("Run {run_id} of {}", stored.name);
    Ok(page(&title, &chrome, &b).into_response())
}

#[derive(Deserialize)]
pub(crate) struct LinkForm {
    csrf: Option<String>,
    format: String,
}

/// `POST /batches/{id}/runs/{run}/links`.
pub(crate) async fn make_link(
    State(app): State<Arc<App>>,
    user: User,
    Path((id, run_id)): Path<(i64, i64)>,
    Form(f): Form<LinkForm>,
) -> Page {
    user.check_csrf(f.csrf.as_deref())?;
    owned(&app, id, &user).await?;
    let Some(format) = format_named(&f.format) else {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "Unknown format",
            &format!("There is no format {:?}.", f.format),
        ));
    };
    let runs = app.store.runs(id, 500).await.map_err(store_error)?;
    if !runs.iter().any(|r| r.id == run_id) {
        return Err(not_found());
    }
    let name = Format::ALL
        .iter()
        .find(|(x, _)| *x == format)
        .map_or("text", |(_, n)| *n);
    let link = ResultLink::new(
        &random_token(),
        id,
        run_id,
        name,
        &user.name,
        OffsetDateTime::now_utc(),
    );
    app.store.put_link(&link).await.map_err(store_error)?;
    Ok(Redirect::to(&format!("/batches/{id}/runs/{run_id}")).into_response())
}

#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    csrf: Option<String>,
    token: String,
}

/// `POST /batches/{id}/links/revoke`.
pub(crate) async fn revoke(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<RevokeForm>,
) -> Page {
    user.check_csrf(f.csrf.as_deref())?;
    owned(&app, id, &user).await?;
    let link = app
        .store
        .link(&f.token)
        .await
        .map_err(store_error)?
        .filter(|l| l.batch_id == id)
        .ok_or_else(not_found)?;
    app.store
        .revoke_link(&link.token)
        .await
        .map_err(store_error)?;
    Ok(Redirect::to(&format!("/batches/{id}/runs/{}", link.run_id)).into_response())
}

/// `GET /r/{token}`: a run's results in the link's format, without a session. Unknown and
/// revoked tokens get the same 404.
pub(crate) async fn link(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    let gone = || (StatusCode::NOT_FOUND, "no such results link\n").into_response();
    // Tokens are 32 hex digits: anything else is not looked up.
    if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return gone();
    }
    let link = match app.store.link(&token).await {
        Ok(Some(l)) if !l.revoked => l,
        Ok(_) => return gone(),
        Err(e) => return store_error(e),
    };
    let Some(format) = format_named(&link.format) else {
        return gone();
    };
    let stored = match app.store.batch(link.batch_id).await {
        Ok(Some(b)) => b,
        Ok(None) => return gone(),
        Err(e) => return store_error(e),
    };
    let Ok(batch) = checktls::batch::parse(&stored.xml) else {
        return gone();
    };
    match app.store.runs(link.batch_id, 500).await {
        Ok(runs)
            if runs
                .iter()
                .any(|r| r.id == link.run_id && r.status == RunStatus::Complete) => {}
        Ok(_) => return (StatusCode::CONFLICT, "the run has not finished\n").into_response(),
        Err(e) => return store_error(e),
    }
    let result = match evaluated(&app, &batch, link.run_id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    (
        [
            (header::CONTENT_TYPE, content_type(format)),
            (header::CACHE_CONTROL, "no-store"),
        ],
        render(&result, format, &Selection::default()),
    )
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct DashboardQuery {
    check_age: Option<u32>,
    min_total: Option<f64>,
}

/// `GET /dashboard`: every batch with the monitor's verdict (the same defaults as
/// `/monitor/{id}`: a day, 90) and why.
pub(crate) async fn dashboard(
    State(app): State<Arc<App>>,
    user: User,
    Query(q): Query<DashboardQuery>,
) -> Page {
    let check_age = q.check_age.filter(|m| *m > 0).unwrap_or(1440);
    let min_total = q
        .min_total
        .filter(|t| t.is_finite() && (0.0..=1000.0).contains(t))
        .unwrap_or(90.0);
    let now = (app.config.monitor.clock)();
    let batches = app.store.batches().await.map_err(store_error)?;
    let mut b = format!(
        "<p>The monitor's verdict on each batch: a run within the last {check_age} minutes whose \
         Total reached {min_total}. The same answers as <code>/monitor/ID?check_age={check_age}&amp;min_total={min_total}</code>.</p>"
    );
    b.push_str("<table id=\"dashboard\"><thead><tr><th>Batch</th><th>State</th><th>Monitor</th><th>Why</th><th>Last run</th><th>Last Total</th></tr></thead><tbody>");
    for s in &batches {
        let runs = app.store.runs(s.id, 20).await.map_err(store_error)?;
        let a = verdict(Some(s), &runs, now, check_age, min_total);
        let state = serde_json::to_value(a.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = write!(
            b,
            "<tr data-batch=\"{0}\" data-state=\"{1}\"><td><a href=\"/batches/{0}\">{2}</a></td>\
             <td class=\"state-{1}\">{3}</td><td>{4}</td><td>{5}</td><td>{6}</td><td>{7}</td></tr>",
            s.id,
            esc(&state),
            esc(&s.name),
            esc(&state.replace('_', " ")),
            a.status,
            esc(a.detail),
            esc(a.last_run.as_deref().unwrap_or("-")),
            a.last_total
                .map_or_else(|| "-".into(), |t| format!("{t:.1}"))
        );
    }
    b.push_str("</tbody></table>");
    Ok(page("Dashboard", &user.chrome(), &b).into_response())
}
