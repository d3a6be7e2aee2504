//! What the web tests share: the lab, the web application served in-process on loopback
//! with an SQLite history and a worker of its own, and a small HTTP client that keeps the
//! cookies it is given.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use checktls::ReceiverOptions;
use checktls::batch::delivery::{DeliveryConfig, Envelope, Mailer};
use checktls::batch::fleet::{Worker, WorkerOptions};
use checktls::batch::store::{Store, WorkerInfo};
use checktls::executor::ReceiverExecutor;
use checktls::tls::TrustStore;
use checktls::tls::net::StaticConnector;
use checktls_cli::web::{Profile, WebConfig};
use checktls_lab::scenario::Scenario;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("checktls-web-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("dir");
        Self(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Batches here deliver nothing.
pub struct NoMail;

impl Mailer for NoMail {
    async fn send(&self, _: &Envelope, _: &[u8]) -> Result<(), checktls::batch::Error> {
        Err(checktls::batch::Error::Store {
            detail: "no mail in the web tests".into(),
        })
    }
}

/// The lab's test environment: options, trust, HTTPS routes.
pub fn lab_profile(lab: &Scenario) -> (ReceiverOptions, TrustStore, Arc<StaticConnector>) {
    let mut base = ReceiverOptions::default();
    base.port = Some(lab.smtp_port());
    base.timeout = Duration::from_secs(5);
    base.resolver.nameservers = vec![lab.dns_addr()];
    base.resolver.dnssec_anchors = Some(lab.trust_anchor().to_owned());
    base.allow_non_global = true;
    let mut trust = TrustStore::empty();
    trust.add_der(lab.root_ca().clone()).expect("lab root");
    let mut routes = StaticConnector::new().allowing_non_global();
    for (host, addr) in lab.https_routes() {
        routes.insert(host, *addr);
    }
    (base, trust, Arc::new(routes))
}

/// The web application on loopback, its history, a worker, the lab.
pub struct Site {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub lab: Scenario,
    pub dir: Dir,
    stop: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    worker: tokio::task::JoinHandle<()>,
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.server.abort();
        self.worker.abort();
    }
}

pub const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";
pub const BOB_TOKEN: &str = "bob-token-0123456789abcdef";

/// Starts the lab, the history (SQLite in a temp dir), the web application and a worker.
pub async fn site(name: &str, per_minute: usize, at_once: usize) -> Site {
    let dir = Dir::new(name);
    let lab = Scenario::start().await.expect("lab");
    let db = dir.0.join("history.db");
    let store = checktls::batch::store::open(db.to_str().expect("path"))
        .await
        .expect("history");
    let (base, trust, routes) = lab_profile(&lab);
    let mut config = WebConfig::new(vec![
        ("admin".into(), ADMIN_TOKEN.into()),
        ("bob".into(), BOB_TOKEN.into()),
    ])
    .expect("config");
    let mut p = Profile::new("lab", base.clone());
    p.trust = trust.clone();
    p.https = Some(routes.clone());
    config.profiles = vec![p];
    config.tests_per_minute = per_minute;
    config.concurrent_tests = at_once;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(checktls_cli::web::serve(listener, store.clone(), config));
    let mut options = WorkerOptions::default();
    options.poll = Duration::from_millis(100);
    let worker = Worker::new(
        store.clone(),
        WorkerInfo::this_process(),
        move |_| {
            ReceiverExecutor::new(base.clone())
                .trust(trust.clone())
                .https_connector(routes.clone())
        },
        NoMail,
        DeliveryConfig::new(dir.0.join("results"), "checktls@lab.test"),
        options,
    );
    let (stop, rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(async move {
        let _ = worker.run(rx).await;
    });
    Site {
        addr,
        store,
        lab,
        dir,
        stop,
        server,
        worker,
    }
}

/// An answer: status, header lines (lower-case names), body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of the first `name="csrf" value="…"` field.
    pub fn csrf(&self) -> Option<String> {
        let i = self.body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
        Some(self.body[i..].split('"').next()?.to_owned())
    }
}

/// One request over HTTP/1.1 (Connection: close), reading at most `wait`.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
    wait: Duration,
) -> Answer {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some((kind, b)) = body {
        req.push_str(&format!(
            "Content-Type: {kind}\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some((_, b)) = body {
        bytes.extend_from_slice(b);
    }
    tcp.write_all(&bytes).await.expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(wait, tcp.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Form-encodes pairs.
pub fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let enc = |s: &str| {
        let mut o = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                o.push(char::from(b));
            } else {
                o.push_str(&format!("%{b:02X}"));
            }
        }
        o
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// A browser-like client: logs in with the form and keeps the session cookie.
pub struct Client {
    pub addr: SocketAddr,
    pub cookie: String,
}

const SHORT: Duration = Duration::from_secs(20);

impl Client {
    /// Logs in through the form (the login nonce cookie and field, then the token).
    pub async fn login(addr: SocketAddr, token: &str) -> Self {
        let page = request(addr, "GET", "/login", &[], None, SHORT).await;
        assert_eq!(page.status, 200);
        let nonce = page.csrf().expect("login nonce");
        let nonce_cookie = page
            .headers_named("set-cookie")
            .into_iter()
            .find(|c| c.starts_with("checktls_login="))
            .and_then(|c| c.split(';').next())
            .expect("login cookie")
            .to_owned();
        let r = request(
            addr,
            "POST",
            "/login",
            &[("Cookie", &nonce_cookie)],
            Some((
                "application/x-www-form-urlencoded",
                &form(&[("token", token), ("csrf", &nonce), ("next", "/")]),
            )),
            SHORT,
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let set = r
            .headers_named("set-cookie")
            .into_iter()
            .find(|c| c.starts_with("checktls_session="))
            .expect("session cookie")
            .to_owned();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        Self {
            addr,
            cookie: set.split(';').next().expect("cookie").to_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        request(
            self.addr,
            "GET",
            path,
            &[("Cookie", &self.cookie)],
            None,
            SHORT,
        )
        .await
    }

    /// The CSRF token of the session (read from the home page's form).
    pub async fn csrf(&self) -> String {
        self.get("/").await.csrf().expect("csrf field")
    }

    pub async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Answer {
        request(
            self.addr,
            "POST",
            path,
            &[("Cookie", &self.cookie)],
            Some(("application/x-www-form-urlencoded", &form(pairs))),
            SHORT,
        )
        .await
    }

    /// Reads the live events of a test until `done` (or `wait`).
    pub async fn events(&self, id: &str, wait: Duration) -> String {
        request(
            self.addr,
            "GET",
            &format!("/checks/{id}/events"),
            &[("Cookie", &self.cookie)],
            None,
            wait,
        )
        .await
        .body
    }

    /// Starts a receiver test; the test's id.
    pub async fn start(&self, csrf: &str, target: &str) -> Result<String, Answer> {
        let r = self
            .post(
                "/checks",
                &[("csrf", csrf), ("target", target), ("level", "detail")],
            )
            .await;
        match r.header("location") {
            Some(l) if r.status == 303 => Ok(l.trim_start_matches("/checks/").to_owned()),
            _ => Err(r),
        }
    }

    /// Waits for a test's stored JSON.
    pub async fn finished_json(&self, id: &str) -> serde_json::Value {
        for _ in 0..300 {
            let r = self.get(&format!("/checks/{id}.json")).await;
            if r.status == 200 {
                return serde_json::from_str(&r.body).expect("json");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("test {id} never finished");
    }
}
