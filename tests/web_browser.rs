//! The web page in a real headless browser: Debian's chromium, driven through WebDriver
//! (chromedriver, started by the test on loopback; thirtyfour over a small hyper transport).
//! Screenshots of each page go to `<target>/tmp/web-screenshots/` (not committed).
//!
//! ```text
//!   log in ─► test slow.test: the stages show while the test runs (its MAIL FROM waits 3 s),
//!   then the report, whose grade equals `checktls receiver slow.test --format json`'s
//!   ─► a broken batch: its LINE:COLUMN error ─► a good one, run twice: its results, and a
//!   chart with one point per run ─► the dashboard shows the monitor's state
//!   ─► without the session: the login form; with a bad CSRF token: refused
//! ```
//!
//! Needs the Debian packages chromium and chromium-driver: `#[ignore]`d, run by .ci/run.

mod web_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use thirtyfour::prelude::*;
use thirtyfour::session::http::{Body, HttpClient};
use thirtyfour::{ChromiumLikeCapabilities, DesiredCapabilities};
use web_support::{ADMIN_TOKEN, Dir, request, site};

/// WebDriver's HTTP, over hyper (one connection per command; chromedriver is on loopback).
#[derive(Clone)]
struct Hyper;

#[async_trait::async_trait]
impl HttpClient for Hyper {
    async fn send(
        &self,
        request: axum::http::Request<Body<'_>>,
    ) -> WebDriverResult<axum::http::Response<Bytes>> {
        let fail = |e: String| WebDriverError::RequestFailed(e);
        let (parts, body) = request.into_parts();
        let authority = parts
            .uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .ok_or_else(|| fail("no host in the WebDriver URL".into()))?;
        let tcp = tokio::net::TcpStream::connect(authority.as_str())
            .await
            .map_err(|e| fail(e.to_string()))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .map_err(|e| fail(e.to_string()))?;
        tokio::spawn(conn);
        let bytes = match body {
            Body::Empty => Bytes::new(),
            Body::Json(v) => Bytes::from(serde_json::to_vec(v).map_err(|e| fail(e.to_string()))?),
        };
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let mut req = hyper::Request::builder()
            .method(parts.method)
            .uri(path)
            .header("host", authority)
            .header("content-type", "application/json");
        for (k, v) in &parts.headers {
            if k != "host" && k != "content-type" && k != "connection" {
                req = req.header(k, v);
            }
        }
        let req = req
            .body(Full::new(bytes))
            .map_err(|e| fail(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| fail(e.to_string()))?
            .to_bytes();
        Ok(axum::http::Response::from_parts(parts, body))
    }

    async fn new(&self) -> Arc<dyn HttpClient> {
        Arc::new(self.clone())
    }
}

/// chromedriver on a free loopback port; killed (by its pid) when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn chromedriver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian package chromium-driver) starts");
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok()
            && request(addr, "GET", "/status", &[], None, Duration::from_secs(2))
                .await
                .status
                == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "chromedriver did not answer");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Driver { child, port }
}

async fn browser(driver: &Driver, profile: &Path) -> WebDriver {
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary("/usr/bin/chromium").expect("binary");
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1280,1400",
        &format!("--user-data-dir={}", profile.display()),
    ] {
        caps.add_arg(arg).expect("arg");
    }
    WebDriver::builder(format!("http://127.0.0.1:{}", driver.port), caps)
        .client(Hyper)
        .await
        .expect("a browser session")
}

/// Waits for an element, or fails with what the page showed.
async fn wait_for(b: &WebDriver, css: &str, within: Duration) -> WebElement {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(e) = b.find(By::Css(css)).await {
            return e;
        }
        if Instant::now() > deadline {
            let src = b.source().await.unwrap_or_default();
            panic!("no {css:?} within {within:?}; the page:\n{src}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the browser is at `path`.
async fn wait_path(b: &WebDriver, path: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let now = b.current_url().await.expect("url");
        if now.path() == path {
            return;
        }
        if Instant::now() > deadline {
            let src = b.source().await.unwrap_or_default();
            panic!("at {now} instead of {path}; the page:\n{src}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn shots() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(&d).expect("screenshot dir");
    d
}

async fn shot(b: &WebDriver, name: &str) {
    let path = shots().join(format!("{name}.png"));
    b.screenshot(&path).await.expect("screenshot");
    let bytes = std::fs::read(&path).expect("png");
    assert!(bytes.starts_with(b"\x89PNG"), "{name} is a PNG");
}

/// The lab's root as PEM and its DNSSEC anchor, for the command.
fn command_files(s: &web_support::Site) -> (PathBuf, PathBuf) {
    let ca = s.dir.0.join("lab-ca.pem");
    std::fs::write(
        &ca,
        checktls_lab::pki::pem_encode("CERTIFICATE", s.lab.root_ca()),
    )
    .expect("ca");
    let anchor = s.dir.0.join("anchor.txt");
    std::fs::write(&anchor, s.lab.trust_anchor()).expect("anchor");
    (ca, anchor)
}

const BROKEN: &str =
    "<BatchTest TestType=\"receiver\">\n  <Target Prot=\"1\">a.example</Target>\n</BatchTest>\n";
const GOOD: &str = "<BatchTest TestType=\"receiver\" xmlns:ct=\"urn:checktls-rs:batch:1\" ct:Name=\"browser lab\">\n  <Target>tls13.test</Target>\n  <Target>expired.test</Target>\n</BatchTest>\n";

/// Waits (the page refreshes itself) until the run is complete.
async fn run_completes(b: &WebDriver) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(e) = b.find(By::Id("run-status")).await
            && e.text().await.unwrap_or_default() == "complete"
        {
            return;
        }
        assert!(Instant::now() < deadline, "the run never completed");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[test]
#[ignore = "needs the Debian packages chromium and chromium-driver; run by .ci/run"]
fn the_page_in_a_real_browser() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(walk());
}

async fn walk() {
    let s = site("browser", 20, 2).await;
    let base = format!("http://{}", s.addr);
    let driver = chromedriver().await;
    let profile = Dir::new("chromium-profile");
    let b = browser(&driver, &profile.0).await;
    let long = Duration::from_secs(30);

    // Without a session: the login form.
    b.goto(format!("{base}/batches")).await.expect("goto");
    wait_for(&b, "input#token", long).await;
    assert!(
        b.current_url()
            .await
            .expect("url")
            .path()
            .starts_with("/login")
    );
    shot(&b, "01-login").await;
    b.find(By::Id("token"))
        .await
        .expect("token")
        .send_keys(ADMIN_TOKEN)
        .await
        .expect("type");
    b.find(By::Css("form button[type=submit]"))
        .await
        .expect("button")
        .click()
        .await
        .expect("log in");
    wait_path(&b, "/batches", long).await;

    // Test slow.test and watch it happen.
    b.goto(format!("{base}/")).await.expect("goto");
    let target = wait_for(&b, "input#target", long).await;
    shot(&b, "02-form").await;
    target.send_keys("slow.test").await.expect("type");
    b.find(By::Id("start"))
        .await
        .expect("start")
        .click()
        .await
        .expect("submit");
    let started = Instant::now();
    wait_for(&b, "#stage-rows tr[data-stage=secure]", long).await;
    let seen_after = started.elapsed();
    // The stages are on the page and the test has not ended: no grade yet.
    assert!(
        b.find(By::Id("grade")).await.is_err(),
        "the grade was there with the first stages"
    );
    let rows = b
        .find_all(By::Css("#stage-rows tr"))
        .await
        .expect("rows")
        .len();
    assert!(rows >= 5, "{rows} stage rows before MAIL FROM");
    let transcript = b
        .find(By::Id("transcript"))
        .await
        .expect("transcript")
        .text()
        .await
        .expect("text");
    assert!(transcript.contains("~~> EHLO"), "{transcript}");
    shot(&b, "03-live").await;
    let grade = wait_for(&b, "data#grade", long).await;
    let ended = started.elapsed();
    assert!(
        ended >= seen_after + Duration::from_secs(1),
        "stages at {seen_after:?}, report at {ended:?}"
    );
    let page_grade: u64 = grade
        .text()
        .await
        .expect("grade")
        .trim()
        .parse()
        .expect("a number");
    shot(&b, "04-report").await;
    // The command on the same target, the same lab.
    let (ca, anchor) = command_files(&s);
    let out = Command::new(env!("CARGO_BIN_EXE_checktls"))
        .args([
            "receiver",
            "slow.test",
            "--format",
            "json",
            "--level",
            "detail",
        ])
        .args(["--nameserver", &s.lab.dns_addr().to_string()])
        .args(["--port", &s.lab.smtp_port().to_string()])
        .arg("--dnssec-anchor")
        .arg(&anchor)
        .arg("--ca-file")
        .arg(&ca)
        .args(["--timeout", "5", "--allow-private-addresses"])
        .output()
        .expect("checktls receiver");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the command's JSON");
    assert_eq!(
        json["confidence_factor"]["score"].as_u64(),
        Some(page_grade),
        "the page's grade and the command's"
    );
    assert_eq!(page_grade, 114);

    // A broken batch: its error at LINE:COLUMN.
    b.goto(format!("{base}/batches")).await.expect("goto");
    wait_for(&b, "textarea#xml", long)
        .await
        .send_keys(BROKEN)
        .await
        .expect("type");
    b.find(By::Id("upload"))
        .await
        .expect("upload")
        .click()
        .await
        .expect("submit");
    let error = wait_for(&b, "#batch-error", long)
        .await
        .text()
        .await
        .expect("error");
    assert!(
        error.starts_with("batch.xml:2:") && error.contains("Prot"),
        "{error}"
    );
    wait_for(&b, "li#line-2.bad", long).await;
    shot(&b, "05-batch-error").await;

    // A good batch, run twice.
    let area = wait_for(&b, "textarea#xml", long).await;
    area.clear().await.expect("clear");
    area.send_keys(GOOD).await.expect("type");
    b.find(By::Id("upload"))
        .await
        .expect("upload")
        .click()
        .await
        .expect("submit");
    wait_for(&b, "button#run-now", long).await;
    let batch_url = b.current_url().await.expect("url");
    let id: i64 = batch_url
        .path()
        .trim_start_matches("/batches/")
        .parse()
        .expect("batch id");
    for n in 1..=2 {
        b.goto(batch_url.as_str()).await.expect("goto");
        wait_for(&b, "button#run-now", long)
            .await
            .click()
            .await
            .expect("run now");
        if n == 1 {
            wait_for(&b, "#progress, #run-total", long).await;
            shot(&b, "06-run-progress").await;
        }
        run_completes(&b).await;
    }
    wait_for(&b, "table#run-matrix", long).await;
    let pager = b
        .find(By::Id("pager"))
        .await
        .expect("pager")
        .text()
        .await
        .expect("text");
    assert!(
        pager.contains("tls13.test") && pager.contains("expired.test"),
        "{pager}"
    );
    shot(&b, "07-run-results").await;
    b.goto(batch_url.as_str()).await.expect("goto");
    wait_for(&b, "figure#chart-grade svg", long).await;
    for target in ["tls13.test", "expired.test"] {
        let points = b
            .find_all(By::Css(format!(
                "figure#chart-grade circle.point[data-series='{target}']"
            )))
            .await
            .expect("points")
            .len();
        assert_eq!(points, 2, "{target}: one point per run");
    }
    shot(&b, "08-batch-history").await;

    // The dashboard shows the monitor's state.
    let m = request(
        s.addr,
        "GET",
        &format!("/monitor/{id}?format=json"),
        &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        None,
        long,
    )
    .await;
    let state = serde_json::from_str::<serde_json::Value>(&m.body).expect("json")["state"]
        .as_str()
        .expect("state")
        .to_owned();
    b.goto(format!("{base}/dashboard")).await.expect("goto");
    let row = wait_for(&b, &format!("tr[data-batch='{id}']"), long).await;
    assert_eq!(
        row.attr("data-state").await.expect("attr"),
        Some(state.clone())
    );
    let shown = row
        .find(By::Css("td:nth-child(2)"))
        .await
        .expect("cell")
        .text()
        .await
        .expect("text");
    assert_eq!(shown, state.replace('_', " "));
    shot(&b, "09-dashboard").await;

    // A form whose CSRF token was tampered with is refused.
    b.goto(batch_url.as_str()).await.expect("goto");
    wait_for(&b, "button#run-now", long).await;
    b.execute(
        "for (const i of document.querySelectorAll('input[name=csrf]')) { i.value = 'tampered'; }",
        Vec::new(),
    )
    .await
    .expect("script");
    b.find(By::Id("run-now"))
        .await
        .expect("run now")
        .click()
        .await
        .expect("click");
    let refused = wait_for(&b, "p.error", long)
        .await
        .text()
        .await
        .expect("text");
    assert!(refused.contains("CSRF"), "{refused}");
    shot(&b, "10-csrf-refused").await;
    let runs = s.store.runs(id, 10).await.expect("runs").len();
    assert_eq!(runs, 2, "the refused form started no run");

    // On a phone-sized window the report still reads (no horizontal overflow of the page).
    b.set_window_rect(0, 0, 390, 844).await.expect("resize");
    b.goto(format!("{base}/dashboard")).await.expect("goto");
    wait_for(&b, "table#dashboard", long).await;
    let overflow = b
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
            Vec::new(),
        )
        .await
        .expect("script");
    assert_eq!(overflow.json(), &serde_json::Value::Bool(true));
    shot(&b, "11-dashboard-phone").await;

    // Without the session cookie: back to the login form.
    b.delete_all_cookies().await.expect("cookies");
    b.goto(format!("{base}/batches/{id}")).await.expect("goto");
    wait_for(&b, "input#token", long).await;
    assert!(
        b.current_url()
            .await
            .expect("url")
            .path()
            .starts_with("/login")
    );
    let _ = b.quit().await;
    drop(driver);
}
