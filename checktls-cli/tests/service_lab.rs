//! Stored runs on the lab: a certificate that expires between runs is the only line reported
//! against the baseline, an unchanged rerun sends nothing; and the crash test: the built
//! command killed with SIGKILL in the middle of a run, twenty times, the history intact and
//! each cut-off run marked interrupted at the next start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use checktls::batch::delivery::{DeliveryConfig, Envelope, Mailer};
use checktls::batch::history::{RunStatus, SqliteStore};
use checktls::batch::run::RunOptions;
use checktls::batch::service::run_stored;
use checktls::batch::store::Store;
use checktls::executor::ReceiverExecutor;
use checktls::tls::TrustStore;
use checktls_lab::pki::{LeafSpec, Pki, pem_encode};
use checktls_lab::smtp::{Behaviour, Posture, SmtpReceiver};
use time::OffsetDateTime;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!(
            "checktls-service-lab-{name}-{}",
            std::process::id()
        ));
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

struct NoMail;

impl Mailer for NoMail {
    async fn send(&self, _: &Envelope, _: &[u8]) -> Result<(), checktls::batch::Error> {
        panic!("this batch delivers to files only")
    }
}

async fn receiver(pki: &Pki, days: u64) -> SmtpReceiver {
    let now = SystemTime::now();
    let mut spec = LeafSpec::new(&["mx.lab.test", "127.0.0.1"], now);
    spec.not_after = now + Duration::from_secs(days * 86_400);
    let leaf = pki.leaf(&spec).expect("leaf");
    SmtpReceiver::start(
        "127.0.0.1:0".parse().expect("addr"),
        Posture::tls(&leaf).expect("posture"),
    )
    .await
    .expect("receiver")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_certificate_is_the_only_change_reported_and_no_change_sends_nothing() {
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let long = receiver(&pki, 365).await;
    let short = receiver(&pki, 45).await;
    let dir = Dir::new("baseline");
    let store = SqliteStore::open(&dir.0.join("h.db")).expect("store");
    let xml = format!(
        r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1" ct:Name="lab" ct:Alert="change">
  <Target Port="{}" SNI="mx.lab.test">127.0.0.1</Target>
  <Target Port="{}" SNI="mx.lab.test">[127.0.0.1]</Target>
  <Delivery><To>File</To><Format>text</Format></Delivery>
</BatchTest>"#,
        long.addr().port(),
        short.addr().port()
    );
    let id = store
        .put_batch(None, &xml, OffsetDateTime::now_utc())
        .await
        .expect("add");
    let results = dir.0.join("results");
    let config = DeliveryConfig::new(&results, "checktls@lab.test");
    let mut trust = TrustStore::empty();
    trust.add_der(pki.root().der().clone()).expect("root");
    let run_at = |days: u64| {
        let executor = ReceiverExecutor::new(checktls::ReceiverOptions::default())
            .trust(trust.clone())
            .clock(move || SystemTime::now() + Duration::from_secs(days * 86_400));
        let (store, config) = (&store, &config);
        async move {
            run_stored(
                store,
                id,
                None,
                &executor,
                &NoMail,
                config,
                &RunOptions::default(),
                OffsetDateTime::now_utc,
            )
            .await
            .expect("run")
            .expect("ran")
        }
    };

    let first = run_at(0).await;
    let grades: Vec<_> = first
        .result
        .targets
        .iter()
        .map(|t| t.runs[0].score())
        .collect();
    assert_eq!(
        grades[0], grades[1],
        "both certificates good today: {grades:?}"
    );
    assert_eq!(files_in(&results).len(), 1, "a first run is all news");
    store
        .set_baseline(id, first.run_id, None)
        .await
        .expect("baseline");

    // Fifty days on, the 45-day certificate has expired.
    let later = run_at(50).await;
    assert_eq!(later.changed, ["[127.0.0.1]"]);
    let lines: Vec<String> = later
        .result
        .lines()
        .map(|l| format!("{} {}", l.outcome.score().unwrap_or(0), l.target.target))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].ends_with(" [127.0.0.1]"), "{lines:?}");
    assert!(later.result.targets[1].runs[0].score() < grades[1]);
    let written = files_in(&results);
    assert_eq!(written.len(), 2);
    let newest = written
        .iter()
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .expect("a file");
    let report = std::fs::read_to_string(newest).expect("report");
    assert!(
        report.contains("[127.0.0.1]") && !report.contains("\n127.0.0.1"),
        "{report}"
    );

    // Re-baseline that target; the same state again is no change, and nothing is sent.
    store
        .set_baseline(id, later.run_id, Some("[127.0.0.1]"))
        .await
        .expect("rebaseline");
    let again = run_at(50).await;
    assert!(again.changed.is_empty() && !again.alerted);
    assert_eq!(files_in(&results).len(), 2, "nothing sent");
    drop((long, short));
}

fn checktls(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_checktls"))
        .args(args)
        .output()
        .expect("the command runs")
}

async fn count(store: &SqliteStore, id: i64, status: RunStatus) -> usize {
    store
        .runs(id, 1000)
        .await
        .expect("runs")
        .iter()
        .filter(|r| r.status == status)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_way_twenty_times_loses_nothing_and_is_marked_interrupted() {
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let good = receiver(&pki, 365).await;
    // Accepts and never answers: a run that stays in the middle until it is killed.
    let silent = SmtpReceiver::start(
        "127.0.0.1:0".parse().expect("addr"),
        Posture::plain().behaviour(Behaviour::Silent),
    )
    .await
    .expect("receiver");
    let dir = Dir::new("crash");
    let db = dir.0.join("h.db");
    let db_s = db.to_str().expect("path").to_owned();
    let ca = dir.0.join("ca.pem");
    std::fs::write(&ca, pem_encode("CERTIFICATE", pki.root().der())).expect("ca");
    let batch = |name: &str, addr: SocketAddr, timeout: u32| {
        let p = dir.0.join(format!("{name}.xml"));
        std::fs::write(
            &p,
            format!(
                r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1" ct:Name="{name}">
  <Target Port="{}" SMTPTimeOut="{timeout}">127.0.0.1</Target></BatchTest>"#,
                addr.port()
            ),
        )
        .expect("write");
        p
    };
    let fast = batch("fast", good.addr(), 10);
    let slow = batch("slow", silent.addr(), 120);
    let add = |p: &Path| {
        let out = tokio::task::block_in_place(|| {
            checktls(&["batch", "add", p.to_str().expect("path"), "--db", &db_s])
        });
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let fast_id = add(&fast);
    let slow_id = add(&slow);
    let ca_s = ca.to_str().expect("path").to_owned();
    let out = tokio::task::block_in_place(|| {
        checktls(&["batch", "run", &fast_id, "--db", &db_s, "--ca-file", &ca_s])
    });
    assert!(
        out.status.code().is_some(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let store = SqliteStore::open(&db).expect("store");
    let fast_id: i64 = fast_id.parse().expect("id");
    let slow_id: i64 = slow_id.parse().expect("id");
    let before = store.runs(fast_id, 10).await.expect("runs");
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].status, RunStatus::Complete);
    let kept = store.results(before[0].id).await.expect("results");
    assert_eq!(kept.len(), 1);

    for round in 1..=20 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_checktls"))
            .args([
                "batch",
                "run",
                &slow_id.to_string(),
                "--db",
                &db_s,
                "--ca-file",
                &ca_s,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        // Wait until this run is under way (its row is there and the receiver holds its
        // connection), then kill it.
        let deadline = Instant::now() + Duration::from_secs(20);
        while count(&store, slow_id, RunStatus::Running).await < 1 || silent.connections() < round {
            assert!(
                Instant::now() < deadline,
                "round {round}: the run never started"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        assert!(!status.success());
        // The next start of the command marks it interrupted.
        let out = tokio::task::block_in_place(|| checktls(&["batch", "list", "--db", &db_s]));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            count(&store, slow_id, RunStatus::Running).await,
            0,
            "round {round}"
        );
        assert_eq!(count(&store, slow_id, RunStatus::Interrupted).await, round);
    }
    // Nothing stored before was lost or changed.
    assert_eq!(store.runs(fast_id, 10).await.expect("runs"), before);
    assert_eq!(store.results(before[0].id).await.expect("results"), kept);
    assert_eq!(store.batches().await.expect("batches").len(), 2);
}

async fn http_get(addr: SocketAddr, path: &str, token: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: m\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text.split_once("\r\n\r\n")?.1.to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_the_monitor_for_stored_runs_and_refuses_a_wrong_token() {
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let good = receiver(&pki, 365).await;
    let dir = Dir::new("serve");
    let db = dir.0.join("h.db");
    let db_s = db.to_str().expect("path").to_owned();
    let ca = dir.0.join("ca.pem");
    std::fs::write(&ca, pem_encode("CERTIFICATE", pki.root().der())).expect("ca");
    let file = dir.0.join("b.xml");
    std::fs::write(
        &file,
        format!(
            r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1" ct:Name="served">
  <Target Port="{}" SNI="mx.lab.test">127.0.0.1</Target></BatchTest>"#,
            good.addr().port()
        ),
    )
    .expect("write");
    let out = tokio::task::block_in_place(|| {
        checktls(&["batch", "add", file.to_str().expect("path"), "--db", &db_s])
    });
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let ca_s = ca.to_str().expect("path").to_owned();
    let out = tokio::task::block_in_place(|| {
        checktls(&["batch", "run", &id, "--db", &db_s, "--ca-file", &ca_s])
    });
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let listen = SocketAddr::from(([127, 0, 0, 1], port));
    let mut server = Command::new(env!("CARGO_BIN_EXE_checktls"))
        .args([
            "batch",
            "serve",
            "--db",
            &db_s,
            "--listen",
            &listen.to_string(),
        ])
        .env("CHECKTLS_MONITOR_TOKEN", "monitor-token-1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let deadline = Instant::now() + Duration::from_secs(20);
    let answer = loop {
        if let Some(a) = http_get(
            listen,
            &format!("/monitor/{id}?check_age=60"),
            "monitor-token-1",
        )
        .await
        {
            break a;
        }
        assert!(Instant::now() < deadline, "the monitor never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let wrong = http_get(listen, &format!("/monitor/{id}"), "monitor-token-2").await;
    let metrics = http_get(listen, "/metrics", "monitor-token-1").await;
    server.kill().expect("kill");
    let _ = server.wait();
    assert_eq!(answer, (200, "OK\n".to_owned()));
    assert_eq!(wrong.map(|w| w.0), Some(401));
    let metrics = metrics.expect("metrics").1;
    assert!(
        metrics.contains("checktls_batch_runs{batch=\""),
        "{metrics}"
    );
}

/// Waits for a complete run of `id` whose row was written after `after` (a run id), and
/// returns it.
async fn next_complete_run(
    store: &SqliteStore,
    id: i64,
    after: i64,
) -> checktls::batch::history::RunRow {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runs = store.runs(id, 100).await.expect("runs");
        if let Some(r) = runs
            .iter()
            .filter(|r| r.id > after && r.status == RunStatus::Complete)
            .min_by_key(|r| r.id)
        {
            return r.clone();
        }
        assert!(Instant::now() < deadline, "no run after {after}: {runs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn last_run_id(store: &SqliteStore, id: i64) -> i64 {
    store
        .runs(id, 1)
        .await
        .expect("runs")
        .first()
        .map_or(0, |r| r.id)
}

fn start_serve(db: &str, listen: SocketAddr, ca: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_checktls"))
        .args([
            "batch",
            "serve",
            "--db",
            db,
            "--listen",
            &listen.to_string(),
            "--ca-file",
            ca,
            "--results-dir",
        ])
        .arg(Path::new(db).with_file_name("results"))
        .env("CHECKTLS_MONITOR_TOKEN", "over-time")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_tests_every_scheduled_run_afresh_as_the_receiver_changes() {
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let leaf = pki.valid("mx.lab.test").expect("leaf");
    let rx = SmtpReceiver::start(
        "127.0.0.1:0".parse().expect("addr"),
        Posture::tls(&leaf).expect("posture"),
    )
    .await
    .expect("receiver");
    let dir = Dir::new("over-time");
    let db = dir.0.join("h.db");
    let db_s = db.to_str().expect("path").to_owned();
    let ca = dir.0.join("ca.pem");
    std::fs::write(&ca, pem_encode("CERTIFICATE", pki.root().der())).expect("ca");
    let ca_s = ca.to_str().expect("path").to_owned();
    let results = dir.0.join("results");
    // Every second second (six-field cron); alert only on change, into files.
    let file = dir.0.join("b.xml");
    std::fs::write(
        &file,
        format!(
            r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1" ct:Name="watched"
    ct:Schedule="*/2 * * * * *" ct:Alert="change">
  <Target Port="{}" SNI="mx.lab.test" ct:CheckOCSP="no">127.0.0.1</Target>
  <Delivery><To>File</To><Format>csv</Format></Delivery>
</BatchTest>"#,
            rx.addr().port()
        ),
    )
    .expect("write");
    let out = tokio::task::block_in_place(|| {
        checktls(&["batch", "add", file.to_str().expect("path"), "--db", &db_s])
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id: i64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("id");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let listen = SocketAddr::from(([127, 0, 0, 1], port));
    let store = SqliteStore::open(&db).expect("store");
    let mut server = start_serve(&db_s, listen, &ca_s);
    let monitor = |listen| async move {
        let (status, body) = http_get(
            listen,
            &format!("/monitor/{id}?check_age=60&min_total=113&format=json"),
            "over-time",
        )
        .await
        .expect("the monitor answers");
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        (
            v["status"].as_str().unwrap_or_default().to_owned(),
            v["last_total"].as_f64(),
        )
    };

    // The receiver's postures, one after the other; each is seen by the first run after it,
    // that run alerts (a results file), and the monitor follows.
    let expired = pki.expired("mx.lab.test").expect("leaf");
    let postures: Vec<(&str, Posture, u16, &str)> = vec![
        (
            "TLS 1.3, valid",
            Posture::tls(&leaf).expect("posture"),
            114,
            "OK",
        ),
        (
            "STARTTLS withdrawn",
            Posture::tls(&leaf).expect("posture").no_starttls(),
            26,
            "NOK",
        ),
        (
            "expired certificate",
            Posture::tls(&expired).expect("posture"),
            112,
            "NOK",
        ),
        ("restored", Posture::tls(&leaf).expect("posture"), 114, "OK"),
    ];
    let mut files = 0;
    for (i, (what, posture, grade, monitor_says)) in postures.into_iter().enumerate() {
        rx.set_posture(posture);
        let boundary = last_run_id(&store, id).await;
        let run = next_complete_run(&store, id, boundary).await;
        assert_eq!(run.total, Some(f64::from(grade)), "{what}: {run:?}");
        // The next scheduled run sees the same server: no change, no alert.
        let again = next_complete_run(&store, id, run.id).await;
        assert_eq!(again.total, run.total, "{what}: the same server twice");
        files += 1;
        assert_eq!(
            files_in(&results).len(),
            files,
            "{what}: exactly one alert for the change"
        );
        assert_eq!(
            monitor(listen).await,
            (monitor_says.to_owned(), Some(f64::from(grade))),
            "{what}"
        );
        if i == 1 {
            // Killed and restarted between two runs: it goes on from the history.
            server.kill().expect("kill");
            let _ = server.wait();
            server = start_serve(&db_s, listen, &ca_s);
        }
    }
    server.kill().expect("kill");
    let _ = server.wait();
    let interrupted = store
        .runs(id, 1000)
        .await
        .expect("runs")
        .iter()
        .filter(|r| r.status == RunStatus::Interrupted)
        .count();
    assert!(interrupted <= 1, "at most the run cut off by the kill");
}
