//! The web page in a real headless browser: Debian's chromium, driven through WebDriver
//! (chromedriver, started by the test on loopback; the W3C commands over hyper).
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
use std::time::{Duration, Instant};

use base64ct::Encoding as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use web_support::{ADMIN_TOKEN, Dir, request, site};

/// The W3C WebDriver commands this test needs, over hyper (one connection per command;
/// chromedriver is on loopback). A crate was tried first: thirtyfour turns on serde_json's
/// `preserve_order` for the whole workspace's test build, which reorders the Batch JSON
/// golden files' keys; fantoccini depends on Mozilla's MPL-2.0 `webdriver` crate.
struct WebDriver {
    port: u16,
    session: String,
}

/// An element reference: the one value of the object WebDriver answers with.
fn element(v: &Value) -> Option<String> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.starts_with("element-"))
        .and_then(|(_, id)| id.as_str().map(str::to_owned))
}

impl WebDriver {
    async fn call(
        port: u16,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let bytes = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("127.0.0.1:{port}"))
            .header("content-type", "application/json")
            .body(Full::new(bytes))
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let v: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        if status == 200 {
            Ok(v["value"].clone())
        } else {
            Err(format!("{status}: {}", v["value"]))
        }
    }

    async fn new(port: u16, args: &[String]) -> Self {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}
        }}});
        let v = Self::call(port, "POST", "/session", Some(caps))
            .await
            .expect("a browser session");
        let session = v["sessionId"].as_str().expect("session id").to_owned();
        Self { port, session }
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let path = format!("/session/{}{path}", self.session);
        Self::call(self.port, method, &path, body).await
    }

    async fn goto(&self, url: String) {
        self.cmd("POST", "/url", Some(json!({"url": url})))
            .await
            .expect("navigate");
    }

    async fn path(&self) -> String {
        let url = self.cmd("GET", "/url", None).await.expect("url");
        let url = url.as_str().unwrap_or_default();
        let rest = url.split_once("//").map_or(url, |(_, r)| r);
        let path = rest.find('/').map_or("/", |i| &rest[i..]);
        path.split('?').next().unwrap_or("/").to_owned()
    }

    async fn source(&self) -> String {
        self.cmd("GET", "/source", None)
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    async fn find(&self, css: &str) -> Option<String> {
        let v = self
            .cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await
            .ok()?;
        element(&v)
    }

    async fn find_all(&self, css: &str) -> Vec<String> {
        let v = self
            .cmd(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await
            .unwrap_or_default();
        v.as_array()
            .map(|a| a.iter().filter_map(element).collect())
            .unwrap_or_default()
    }

    async fn click(&self, el: &str) {
        self.cmd("POST", &format!("/element/{el}/click"), Some(json!({})))
            .await
            .expect("click");
    }

    async fn clear(&self, el: &str) {
        self.cmd("POST", &format!("/element/{el}/clear"), Some(json!({})))
            .await
            .expect("clear");
    }

    async fn send_keys(&self, el: &str, text: &str) {
        self.cmd(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .await
        .expect("type");
    }

    async fn text(&self, el: &str) -> String {
        self.cmd("GET", &format!("/element/{el}/text"), None)
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    async fn attr(&self, el: &str, name: &str) -> Option<String> {
        self.cmd("GET", &format!("/element/{el}/attribute/{name}"), None)
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
    }

    async fn execute(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
        .expect("script")
    }

    async fn screenshot(&self, path: &Path) {
        let v = self
            .cmd("GET", "/screenshot", None)
            .await
            .expect("screenshot");
        let png = base64ct::Base64::decode_vec(v.as_str().unwrap_or_default()).expect("base64");
        std::fs::write(path, png).expect("write png");
    }

    async fn delete_all_cookies(&self) {
        self.cmd("DELETE", "/cookie", None).await.expect("cookies");
    }

    async fn set_window_size(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await
        .expect("resize");
    }

    async fn quit(self) {
        let _ = self.cmd("DELETE", "", None).await;
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
    let args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1280,1400",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect();
    WebDriver::new(driver.port, &args).await
}

/// Waits for an element, or fails with what the page showed.
async fn wait_for(b: &WebDriver, css: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        if let Some(e) = b.find(css).await {
            return e;
        }
        if Instant::now() > deadline {
            panic!(
                "no {css:?} within {within:?}; the page:\n{}",
                b.source().await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the browser is at `path`.
async fn wait_path(b: &WebDriver, path: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while b.path().await != path {
        if Instant::now() > deadline {
            panic!("not at {path}; the page:\n{}", b.source().await);
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
    b.screenshot(&path).await;
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
        if let Some(e) = b.find("#run-status").await
            && b.text(&e).await == "complete"
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
    b.goto(format!("{base}/batches")).await;
    let token = wait_for(&b, "input#token", long).await;
    assert_eq!(b.path().await, "/login");
    shot(&b, "01-login").await;
    b.send_keys(&token, ADMIN_TOKEN).await;
    let button = wait_for(&b, "form button[type=submit]", long).await;
    b.click(&button).await;
    wait_path(&b, "/batches", long).await;

    // Test slow.test and watch it happen.
    b.goto(format!("{base}/")).await;
    let target = wait_for(&b, "input#target", long).await;
    shot(&b, "02-form").await;
    b.send_keys(&target, "slow.test").await;
    let start = wait_for(&b, "#start", long).await;
    b.click(&start).await;
    let started = Instant::now();
    wait_for(&b, "#stage-rows tr[data-stage=secure]", long).await;
    let seen_after = started.elapsed();
    // The stages are on the page and the test has not ended: no grade yet.
    assert!(
        b.find("#grade").await.is_none(),
        "the grade came with the first stages"
    );
    let rows = b.find_all("#stage-rows tr").await.len();
    assert!(rows >= 5, "{rows} stage rows before MAIL FROM");
    let transcript = b.text(&wait_for(&b, "#transcript", long).await).await;
    assert!(transcript.contains("~~> EHLO"), "{transcript}");
    shot(&b, "03-live").await;
    let grade = wait_for(&b, "data#grade", long).await;
    let ended = started.elapsed();
    assert!(
        ended >= seen_after + Duration::from_secs(1),
        "stages at {seen_after:?}, report at {ended:?}"
    );
    let page_grade: u64 = b.text(&grade).await.trim().parse().expect("a number");
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
    let json: Value = serde_json::from_slice(&out.stdout).expect("the command's JSON");
    assert_eq!(
        json["confidence_factor"]["score"].as_u64(),
        Some(page_grade),
        "the page's grade and the command's"
    );
    assert_eq!(page_grade, 114);

    // A broken batch: its error at LINE:COLUMN.
    b.goto(format!("{base}/batches")).await;
    let area = wait_for(&b, "textarea#xml", long).await;
    b.send_keys(&area, BROKEN).await;
    b.click(&wait_for(&b, "#upload", long).await).await;
    let error = b.text(&wait_for(&b, "#batch-error", long).await).await;
    assert!(
        error.starts_with("batch.xml:2:") && error.contains("Prot"),
        "{error}"
    );
    wait_for(&b, "li#line-2.bad", long).await;
    shot(&b, "05-batch-error").await;

    // A good batch, run twice.
    let area = wait_for(&b, "textarea#xml", long).await;
    b.clear(&area).await;
    b.send_keys(&area, GOOD).await;
    b.click(&wait_for(&b, "#upload", long).await).await;
    wait_for(&b, "button#run-now", long).await;
    let batch_path = b.path().await;
    let id: i64 = batch_path
        .trim_start_matches("/batches/")
        .parse()
        .expect("batch id");
    for n in 1..=2 {
        b.goto(format!("{base}{batch_path}")).await;
        b.click(&wait_for(&b, "button#run-now", long).await).await;
        if n == 1 {
            wait_for(&b, "#progress, #run-total", long).await;
            shot(&b, "06-run-progress").await;
        }
        run_completes(&b).await;
    }
    wait_for(&b, "table#run-matrix", long).await;
    let pager = b.text(&wait_for(&b, "#pager", long).await).await;
    assert!(
        pager.contains("tls13.test") && pager.contains("expired.test"),
        "{pager}"
    );
    shot(&b, "07-run-results").await;
    b.goto(format!("{base}{batch_path}")).await;
    wait_for(&b, "figure#chart-grade svg", long).await;
    for target in ["tls13.test", "expired.test"] {
        let points = b
            .find_all(&format!(
                "figure#chart-grade circle.point[data-series='{target}']"
            ))
            .await
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
    let state = serde_json::from_str::<Value>(&m.body).expect("json")["state"]
        .as_str()
        .expect("state")
        .to_owned();
    b.goto(format!("{base}/dashboard")).await;
    let row = wait_for(&b, &format!("tr[data-batch='{id}']"), long).await;
    assert_eq!(b.attr(&row, "data-state").await, Some(state.clone()));
    let cell = wait_for(&b, &format!("tr[data-batch='{id}'] td:nth-child(2)"), long).await;
    assert_eq!(b.text(&cell).await, state.replace('_', " "));
    shot(&b, "09-dashboard").await;

    // A form whose CSRF token was tampered with is refused.
    b.goto(format!("{base}{batch_path}")).await;
    let run_now = wait_for(&b, "button#run-now", long).await;
    b.execute(
        "for (const i of document.querySelectorAll('input[name=csrf]')) { i.value = 'tampered'; }",
    )
    .await;
    b.click(&run_now).await;
    let refused = b.text(&wait_for(&b, "p.error", long).await).await;
    assert!(refused.contains("CSRF"), "{refused}");
    shot(&b, "10-csrf-refused").await;
    let runs = s.store.runs(id, 10).await.expect("runs").len();
    assert_eq!(runs, 2, "the refused form started no run");

    // On a phone-sized window the dashboard still reads (the page does not overflow).
    b.set_window_size(390, 844).await;
    b.goto(format!("{base}/dashboard")).await;
    wait_for(&b, "table#dashboard", long).await;
    let fits = b
        .execute("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
        .await;
    assert_eq!(fits, Value::Bool(true));
    shot(&b, "11-dashboard-phone").await;

    // Without the session cookie: back to the login form.
    b.delete_all_cookies().await;
    b.goto(format!("{base}/batches/{id}")).await;
    wait_for(&b, "input#token", long).await;
    assert_eq!(b.path().await, "/login");
    b.quit().await;
    drop(driver);
}
