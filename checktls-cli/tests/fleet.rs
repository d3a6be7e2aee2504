//! A fleet of `checktls worker` processes sharing one PostgreSQL, each in its own network
//! namespace (three "machines" with their own addresses), against lab receivers in another;
//! and an SQLite history migrated into PostgreSQL with the monitor's answers unchanged.
//! Both need root, iproute2, util-linux and the Debian package postgresql: `#[ignore]`d,
//! run by .ci/run.
//!
//! ```text
//!   unshare -n: the hub namespace (this test)        bridge br18 10.18.0.1/24
//!     PostgreSQL on 10.18.0.1 (initdb/postgres as nobody, killed by pid)
//!     ├── veth ── netns ct18-w1-PID  10.18.0.11   checktls worker --name w1
//!     ├── veth ── netns ct18-w2-PID  10.18.0.12   checktls worker --name w2   (SIGKILLed)
//!     ├── veth ── netns ct18-w3-PID  10.18.0.13   checktls worker --name w3
//!     └── veth ── netns ct18-rx-PID  10.18.0.100-109: 300 lab receivers (10 addresses ×
//!                 30 ports), each counting its dialogs; each address counting the most
//!                 connections open at once
//! ```
//!
//! Who is right when the receivers and the store disagree: the receivers see the traffic, so
//! their counts are the oracle for "tested once" and "never more than the cap" (RFC 5321
//! §4.5.4.1 leaves the number of connections to a client's discretion; our cap is 2 per
//! address). The store is the oracle for "stored once": its results table keys every
//! (run, target, run number) once.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use checktls::batch::fleet::queue_run;
use checktls::batch::history::RunStatus;
use checktls::batch::store::Store;
use checktls_lab::postgres::{Postgres, PostgresConfig};
use time::OffsetDateTime;

const MARK: &str = "CHECKTLS_FLEET_ROLE";
const TEST: &str = "three_workers_in_namespaces_share_one_postgres_and_hold_the_cap";
const ADDRESSES: u8 = 10;
const PORTS: u16 = 30;
const FIRST_PORT: u16 = 2500;
const CAP: usize = 2;

fn rx_ip(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 18, 0, 100 + i)
}

fn sh(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs root, iproute2, util-linux and PostgreSQL from Debian; run by .ci/run"]
fn three_workers_in_namespaces_share_one_postgres_and_hold_the_cap() {
    match std::env::var(MARK).as_deref() {
        Ok("hub") => return hub(),
        Ok("receivers") => return receivers(),
        _ => {}
    }
    let status = Command::new("unshare")
        .args(["--net", "--"])
        .arg(std::env::current_exe().expect("exe"))
        .args([
            "--exact",
            TEST,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MARK, "hub")
        .status()
        .expect("unshare (util-linux)");
    assert!(
        status.success(),
        "the test failed inside the namespace (output above)"
    );
}

/// A temp dir removed when dropped (also when a test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("checktls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("dir");
        Self(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The named namespaces and processes of the test, removed and ended (by pid) on drop.
struct Topology {
    namespaces: Vec<String>,
    children: Vec<(String, Child)>,
}

impl Topology {
    fn namespace(&mut self, name: &str, last: u8, veth: &str) -> String {
        let ns = format!("ct18-{name}-{}", std::process::id());
        sh("ip", &["netns", "add", &ns]);
        self.namespaces.push(ns.clone());
        sh(
            "ip",
            &[
                "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ],
        );
        sh("ip", &["link", "set", veth, "master", "br18", "up"]);
        sh("ip", &["-n", &ns, "link", "set", "lo", "up"]);
        sh(
            "ip",
            &[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("10.18.0.{last}/24"),
                "dev",
                "eth0",
            ],
        );
        sh("ip", &["-n", &ns, "link", "set", "eth0", "up"]);
        ns
    }

    fn pid(&self, name: &str) -> u32 {
        self.children
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.id())
            .expect("a child of that name")
    }

    fn wait(&mut self, name: &str, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        let (_, child) = self.children.iter_mut().find(|(n, _)| n == name)?;
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// What the receivers counted: dialogs ended by QUIT per (address, port), the most
/// connections open at once per address.
#[derive(Debug, Default)]
struct Counts {
    quits: BTreeMap<(Ipv4Addr, u16), usize>,
    most_open: BTreeMap<Ipv4Addr, usize>,
}

impl Counts {
    fn read(path: &Path) -> Self {
        let mut c = Self::default();
        for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                ["q", ip, port, n] => {
                    c.quits.insert(
                        (ip.parse().expect("ip"), port.parse().expect("port")),
                        n.parse().expect("n"),
                    );
                }
                ["m", ip, n] => {
                    c.most_open
                        .insert(ip.parse().expect("ip"), n.parse().expect("n"));
                }
                _ => {}
            }
        }
        c
    }

    fn total(&self) -> usize {
        self.quits.values().sum()
    }
}

/// The receivers' role, inside their namespace: 300 plain receivers that hold each greeting
/// 150 ms (so connections overlap), writing their counts to a file every 100 ms until killed.
fn receivers() {
    use checktls_lab::smtp::{Gauge, Posture, SmtpReceiver};
    let out = PathBuf::from(std::env::var("CHECKTLS_FLEET_OUT").expect("out"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut keep = Vec::new();
        let mut per_ip = Vec::new();
        let mut per_target = Vec::new();
        for i in 0..ADDRESSES {
            let ip = rx_ip(i);
            let ip_gauge = Gauge::new();
            per_ip.push((ip, ip_gauge.clone()));
            for p in 0..PORTS {
                let port = FIRST_PORT + p;
                let g = Gauge::new();
                let posture = Posture::plain()
                    .hold(Duration::from_millis(150))
                    .count_into(ip_gauge.clone())
                    .count_into(g.clone());
                let rx = SmtpReceiver::start((IpAddr::V4(ip), port).into(), posture)
                    .await
                    .expect("receiver");
                keep.push(rx);
                per_target.push((ip, port, g));
            }
        }
        let tmp = out.with_extension("tmp");
        loop {
            let mut text = String::new();
            for (ip, port, g) in &per_target {
                text.push_str(&format!("q {ip} {port} {}\n", g.quits()));
            }
            for (ip, g) in &per_ip {
                text.push_str(&format!("m {ip} {}\n", g.most_open()));
            }
            if std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, &out);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

fn until<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn batch_xml() -> String {
    let mut xml = String::from(
        r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1" ct:Name="fleet">"#,
    );
    for i in 0..ADDRESSES {
        for p in 0..PORTS {
            xml.push_str(&format!(
                "<Target Port=\"{}\">{}</Target>",
                FIRST_PORT + p,
                rx_ip(i)
            ));
        }
    }
    xml.push_str("</BatchTest>");
    xml
}

/// The run's state in the store: status and how many results it stored.
fn run_state(
    rt: &tokio::runtime::Runtime,
    store: &Arc<dyn Store>,
    batch: i64,
    run: i64,
) -> (RunStatus, usize, Option<u32>) {
    rt.block_on(async {
        let row = store
            .runs(batch, 10)
            .await
            .expect("runs")
            .into_iter()
            .find(|r| r.id == run)
            .expect("the run");
        let results = store.results(run).await.expect("results").len();
        (row.status, results, row.tested)
    })
}

fn hub() {
    sh("ip", &["link", "set", "lo", "up"]);
    sh("ip", &["link", "add", "br18", "type", "bridge"]);
    sh("ip", &["addr", "add", "10.18.0.1/24", "dev", "br18"]);
    sh("ip", &["link", "set", "br18", "up"]);
    let tmp = TempDir::new("fleet");
    let dir = tmp.0.clone();
    let mut topo = Topology {
        namespaces: Vec::new(),
        children: Vec::new(),
    };

    // The receivers' machine.
    let rx = topo.namespace("rx", 100, "v-rx");
    for i in 1..ADDRESSES {
        sh(
            "ip",
            &[
                "-n",
                &rx,
                "addr",
                "add",
                &format!("{}/24", rx_ip(i)),
                "dev",
                "eth0",
            ],
        );
    }
    let counts = dir.join("counts.txt");
    let child = Command::new("ip")
        .args(["netns", "exec", &rx])
        .arg(std::env::current_exe().expect("exe"))
        .args([
            "--exact",
            TEST,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MARK, "receivers")
        .env("CHECKTLS_FLEET_OUT", &counts)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("receivers");
    topo.children.push(("receivers".into(), child));
    until("the receivers", Duration::from_secs(120), || {
        (Counts::read(&counts).quits.len() == usize::from(ADDRESSES) * usize::from(PORTS))
            .then_some(())
    });

    // The database, on the hub's bridge address.
    let pg = Postgres::start(PostgresConfig::new("10.18.0.1".parse().expect("ip")))
        .expect("PostgreSQL starts (Debian package postgresql)");
    pg.create_database("fleet").expect("database");
    let url = pg.url("fleet");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let store = rt
        .block_on(checktls::batch::store::open(&url))
        .expect("store");
    let batch = rt
        .block_on(store.put_batch(None, &batch_xml(), OffsetDateTime::now_utc()))
        .expect("add");

    // Three workers, each on its own machine.
    for (k, last) in [("w1", 11), ("w2", 12), ("w3", 13)] {
        let ns = topo.namespace(k, last, &format!("v-{k}"));
        let log = std::fs::File::create(dir.join(format!("{k}.log"))).expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", &ns])
            .arg(env!("CARGO_BIN_EXE_checktls"))
            .args(["worker", "--db", &url, "--name", k, "--concurrency", "8"])
            .args([
                "--lease",
                "3",
                "--poll-ms",
                "100",
                "--grace",
                "5",
                "--timeout",
                "5",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("worker");
        topo.children.push((k.into(), child));
    }
    until("three workers registered", Duration::from_secs(120), || {
        (rt.block_on(store.workers()).expect("workers").len() == 3).then_some(())
    });

    // Slot 1: killed mid-run.
    let slot1 = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("slot");
    let run1 = rt
        .block_on(queue_run(
            &*store,
            batch,
            Some(slot1),
            OffsetDateTime::now_utc(),
        ))
        .expect("queue")
        .expect("queued");
    until("a third of the dialogs", Duration::from_secs(60), || {
        (Counts::read(&counts).total() >= 100).then_some(())
    });
    let w2 = topo.pid("w2");
    sh("kill", &["-KILL", &w2.to_string()]);
    let status = topo.wait("w2", Duration::from_secs(10)).expect("w2 died");
    assert!(!status.success());
    // Let the database finish (or roll back) whatever the dead worker had sent; its leases
    // hold for 3 s more, so what it held is still marked as its.
    std::thread::sleep(Duration::from_millis(500));
    let held: BTreeSet<usize> = pg
        .psql(
            "fleet",
            &format!("SELECT target_index FROM jobs WHERE run_id = {run1} AND worker = 'w2' AND state = 'claimed'"),
        )
        .expect("psql")
        .lines()
        .map(|l| l.trim().parse().expect("index"))
        .collect();
    let done_before = Counts::read(&counts).total();
    assert!(
        done_before < 300,
        "the kill came mid-run ({done_before} dialogs done)"
    );
    let (status, stored, tested) = until("run 1 complete", Duration::from_secs(120), || {
        let s = run_state(&rt, &store, batch, run1);
        (s.0 == RunStatus::Complete).then_some(s)
    });
    assert_eq!(
        (status, stored, tested),
        (RunStatus::Complete, 300, Some(300))
    );
    std::thread::sleep(Duration::from_millis(300));
    let after1 = Counts::read(&counts);
    let targets: Vec<(Ipv4Addr, u16)> = (0..ADDRESSES)
        .flat_map(|i| (0..PORTS).map(move |p| (rx_ip(i), FIRST_PORT + p)))
        .collect();
    let mut redone = 0;
    for (index, t) in targets.iter().enumerate() {
        let n = after1.quits.get(t).copied().unwrap_or(0);
        if held.contains(&index) {
            // Held by the killed worker: tested again by another; its own dialog may have
            // ended before it died (its result was never stored).
            assert!((1..=2).contains(&n), "{t:?}: {n} dialogs");
            redone += usize::from(n == 2);
        } else {
            assert_eq!(n, 1, "{t:?}: every target exactly once in slot 1");
        }
    }
    assert!(
        held.len() <= 8,
        "at most the killed worker's concurrency: {held:?}"
    );
    let most = after1.most_open.values().copied().max().unwrap_or(0);
    assert!(
        after1.most_open.values().all(|&m| m <= CAP),
        "the cap held across the fleet: {:?}",
        after1.most_open
    );
    assert_eq!(most, CAP, "the load reached the cap (so the test tests it)");
    eprintln!(
        "slot 1: 300 stored, w2 killed after {done_before} dialogs holding {} job(s), {redone} of them had finished their dialog; most open per address {:?}",
        held.len(),
        after1.most_open
    );

    // Slot 2, on the two workers left.
    let slot2 = slot1 + time::Duration::hours(1);
    let run2 = rt
        .block_on(queue_run(
            &*store,
            batch,
            Some(slot2),
            OffsetDateTime::now_utc(),
        ))
        .expect("queue")
        .expect("queued");
    let (status, stored, tested) = until("run 2 complete", Duration::from_secs(120), || {
        let s = run_state(&rt, &store, batch, run2);
        (s.0 == RunStatus::Complete).then_some(s)
    });
    assert_eq!(
        (status, stored, tested),
        (RunStatus::Complete, 300, Some(300))
    );
    std::thread::sleep(Duration::from_millis(300));
    let after2 = Counts::read(&counts);
    for t in &targets {
        let (a, b) = (
            after1.quits.get(t).copied().unwrap_or(0),
            after2.quits.get(t).copied().unwrap_or(0),
        );
        assert_eq!(b - a, 1, "{t:?}: exactly once in slot 2");
    }
    assert!(
        after2.most_open.values().all(|&m| m <= CAP),
        "{:?}",
        after2.most_open
    );

    // Per-worker figures, from the store, as /metrics shows them.
    let metrics = rt
        .block_on(checktls::batch::monitor::metrics(
            &*store,
            OffsetDateTime::now_utc(),
        ))
        .expect("metrics");
    let workers = rt.block_on(store.workers()).expect("workers");
    let done: BTreeMap<&str, u64> = workers
        .iter()
        .map(|w| (w.id.as_str(), w.jobs_done))
        .collect();
    assert_eq!(
        done.values().sum::<u64>(),
        600,
        "600 jobs stored across the fleet: {done:?}"
    );
    for w in ["w1", "w2", "w3"] {
        assert!(
            metrics.contains(&format!("checktls_worker_jobs_done_total{{worker=\"{w}\"")),
            "{metrics}"
        );
    }
    assert!(done["w1"] > 0 && done["w3"] > 0, "{done:?}");

    // A clean stop: SIGTERM, leases given back, marked stopped; the killed one is not.
    for w in ["w1", "w3"] {
        sh("kill", &["-TERM", &topo.pid(w).to_string()]);
    }
    for w in ["w1", "w3"] {
        let s = topo.wait(w, Duration::from_secs(20)).expect("stopped");
        assert!(s.success(), "{w}: {s:?}");
    }
    let workers = rt.block_on(store.workers()).expect("workers");
    let stopped: BTreeMap<&str, bool> =
        workers.iter().map(|w| (w.id.as_str(), w.stopped)).collect();
    assert_eq!(
        stopped,
        BTreeMap::from([("w1", true), ("w2", false), ("w3", true)])
    );
    assert!(
        rt.block_on(store.address_leases(OffsetDateTime::now_utc()))
            .expect("leases")
            .is_empty()
    );
    drop(store);
    drop(rt);
    drop(topo);
    drop(pg);
    drop(tmp);
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: m\r\nAuthorization: Bearer migrate-token\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut buf))
        .await
        .expect("in time")
        .expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Every monitor answer for these batches (each format, several ages and minimums) and
/// /metrics, from the monitor served over `store` with a fixed clock.
async fn answers(
    store: Arc<dyn Store>,
    ids: &[i64],
    now: OffsetDateTime,
) -> Vec<(String, u16, String)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut config = checktls::batch::monitor::MonitorConfig::new("migrate-token").expect("token");
    config.clock = Arc::new(move || now);
    let server = tokio::spawn(checktls::batch::monitor::serve(listener, store, config));
    let mut out = Vec::new();
    let mut paths = vec!["/metrics".to_owned(), "/monitor/999".to_owned()];
    for id in ids {
        for q in [
            "check_age=60&min_total=90",
            "check_age=60&min_total=113",
            "check_age=1440&min_total=50",
            "check_age=5",
        ] {
            for f in ["ok", "xml", "json"] {
                paths.push(format!("/monitor/{id}?{q}&format={f}"));
            }
        }
    }
    for p in paths {
        let (s, b) = http_get(addr, &p).await;
        out.push((p, s, b));
    }
    server.abort();
    out
}

#[test]
#[ignore = "needs root and PostgreSQL from Debian; run by .ci/run"]
fn a_migrated_history_answers_the_monitor_alike() {
    use checktls::batch::delivery::DeliveryConfig;
    use checktls::batch::history::SqliteStore;
    use checktls::batch::run::RunOptions;
    use checktls::batch::scripted::{NoMailer, ScriptedExecutor};
    use checktls::batch::service::run_stored;

    let tmp = TempDir::new("migrate");
    let dir = tmp.0.clone();
    let file = dir.join("history.db");
    let t0 = time::macros::datetime!(2026-11-22 12:00 UTC);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::open(&file).expect("sqlite"));
    let config = DeliveryConfig::new(dir.join("results"), "checktls@lab.test");
    let xml = |name: &str, alert: &str| {
        format!(
            r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1" ct:Name="{name}" ct:Alert="{alert}">
  <Target>a.example</Target><Target Count="2">b.example</Target>
  <Delivery><To>File</To><Format>xml</Format></Delivery></BatchTest>"#
        )
    };
    let ids: Vec<i64> = rt.block_on(async {
        let mut ids = Vec::new();
        // Passing, with a baseline and a change after it; falling short; nothing tested; a
        // run cut off; never run.
        type Plan<'a> = (&'a str, &'a str, &'a [(&'a str, u16)]);
        let plan: [Plan<'_>; 4] = [
            (
                "passes",
                "change",
                &[("a.example", 114), ("b.example", 114)],
            ),
            ("short", "always", &[("a.example", 60), ("b.example", 100)]),
            ("untested", "failure", &[]),
            (
                "cut-off",
                "always",
                &[("a.example", 114), ("b.example", 114)],
            ),
        ];
        for (i, (name, alert, grades)) in plan.iter().enumerate() {
            let id = sqlite
                .put_batch(None, &xml(name, alert), t0)
                .await
                .expect("add");
            let exec = grades
                .iter()
                .fold(ScriptedExecutor::new(), |e, (t, g)| e.graded(t, *g));
            let at = t0 + time::Duration::minutes(i64::try_from(i).expect("i"));
            run_stored(
                &*sqlite,
                id,
                Some(at),
                &exec,
                &NoMailer,
                &config,
                &RunOptions::default(),
                move || at,
            )
            .await
            .expect("run")
            .expect("ran");
            ids.push(id);
        }
        let first = sqlite.runs(ids[0], 1).await.expect("runs")[0].id;
        sqlite
            .set_baseline(ids[0], first, None)
            .await
            .expect("baseline");
        let later = t0 + time::Duration::minutes(10);
        let changed = ScriptedExecutor::new()
            .graded("a.example", 114)
            .graded("b.example", 112);
        run_stored(
            &*sqlite,
            ids[0],
            Some(later),
            &changed,
            &NoMailer,
            &config,
            &RunOptions::default(),
            move || later,
        )
        .await
        .expect("run")
        .expect("ran");
        // A run whose process died: marked interrupted.
        sqlite
            .begin_run(ids[3], None, t0 + time::Duration::minutes(20))
            .await
            .expect("begin");
        sqlite.recover(|_| false).await.expect("recover");
        ids.push(
            sqlite
                .put_batch(None, &xml("never", "always"), t0)
                .await
                .expect("add"),
        );
        ids
    });
    let now = t0 + time::Duration::minutes(45);
    let before = rt.block_on(answers(sqlite.clone(), &ids, now));
    assert!(
        before.iter().any(|(_, _, b)| b == "OK\n")
            && before
                .iter()
                .any(|(_, _, b)| b.contains("interrupted") || b.contains("could_not_test")),
        "the history exercises several answers: {before:?}"
    );
    drop(sqlite);

    let pg = Postgres::start(PostgresConfig::new("127.0.0.1".parse().expect("ip")))
        .expect("PostgreSQL starts (Debian package postgresql)");
    pg.create_database("migrated").expect("database");
    let url = pg.url("migrated");
    let out = Command::new(env!("CARGO_BIN_EXE_checktls"))
        .args(["batch", "migrate", "--from"])
        .arg(&file)
        .args(["--to", &url])
        .output()
        .expect("checktls");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("copied 5 batch(es), 6 run(s), 15 result(s)"),
        "{said}"
    );
    let postgres = rt.block_on(checktls::batch::store::open(&url)).expect("pg");
    let after = rt.block_on(answers(postgres.clone(), &ids, now));
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a, "the same answer after the migration");
    }
    // The command's own listing reads the same from both.
    let list = |db: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_checktls"))
            .args(["batch", "list", "--db", db])
            .output()
            .expect("checktls");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(list(file.to_str().expect("path")), list(&url));
    // Migrating again into the same database is refused: nothing is doubled.
    let again = Command::new(env!("CARGO_BIN_EXE_checktls"))
        .args(["batch", "migrate", "--from"])
        .arg(&file)
        .args(["--to", &url])
        .output()
        .expect("checktls");
    assert_eq!(again.status.code(), Some(2));
    drop(postgres);
    drop(rt);
    drop(pg);
    drop(tmp);
}
