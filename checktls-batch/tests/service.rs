//! The history, stored runs, schedules due, baselines, change alerts and the monitor over
//! real HTTP, with a fake clock and a scripted executor.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use checktls_batch::Error;
use checktls_batch::delivery::{DeliveryConfig, Envelope, Mailer};
use checktls_batch::history::{RunStatus, SCHEMA_VERSION, Store};
use checktls_batch::monitor::{MonitorConfig, serve};
use checktls_batch::report::{Outcome, TargetReport};
use checktls_batch::run::RunOptions;
use checktls_batch::scripted::ScriptedExecutor;
use checktls_batch::service::{due_runs, run_stored};
use time::OffsetDateTime;
use time::macros::datetime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Counts the messages it is given.
#[derive(Default)]
struct CountingMailer(AtomicUsize);

impl Mailer for CountingMailer {
    async fn send(&self, _: &Envelope, _: &[u8]) -> Result<(), Error> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let d =
            std::env::temp_dir().join(format!("checktls-service-{name}-{}", std::process::id()));
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

const T0: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

fn config(dir: &Dir) -> DeliveryConfig {
    DeliveryConfig::new(dir.0.join("results"), "checktls@lab.test")
}

fn exec(grades: &[(&str, u16)]) -> ScriptedExecutor {
    grades
        .iter()
        .fold(ScriptedExecutor::new(), |e, (t, g)| e.graded(t, *g))
}

const ALERT_ON_CHANGE: &str = r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1"
    ct:Name="partners" ct:Alert="change">
  <Target>a.example</Target>
  <Target>b.example</Target>
  <Delivery><To>noc@lab.test</To><Format>text</Format></Delivery>
</BatchTest>"#;

#[test]
fn the_store_migrates_replaces_and_removes() {
    let dir = Dir::new("store");
    let path = dir.0.join("h.db");
    let store = Store::open(&path).expect("open");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    let id = store.put_batch(None, ALERT_ON_CHANGE, T0).expect("add");
    let other = store.put_batch(None, ALERT_ON_CHANGE, T0).expect("add");
    assert_ne!(id, other, "\"new\" always creates");
    store
        .put_batch(
            Some(id),
            &ALERT_ON_CHANGE.replace("partners", "renamed"),
            T0,
        )
        .expect("replace");
    assert_eq!(
        store.batch(id).expect("read").expect("there").name,
        "renamed"
    );
    assert!(matches!(
        store.put_batch(Some(999), ALERT_ON_CHANGE, T0),
        Err(Error::NoSuchBatch { id: 999 })
    ));
    assert!(
        store.put_batch(None, "<BatchTest/>", T0).is_err(),
        "a bad file is refused"
    );
    assert!(store.remove_batch(other).expect("remove"));
    assert!(!store.remove_batch(other).expect("remove again"));
    drop(store);
    // Reopening keeps everything and does not migrate twice.
    let store = Store::open(&path).expect("reopen");
    assert_eq!(store.batches().expect("list").len(), 1);
}

#[tokio::test]
async fn a_run_that_dies_is_marked_interrupted_and_nothing_else_is_touched() {
    let dir = Dir::new("recover");
    let store = Store::open(&dir.0.join("h.db")).expect("open");
    let id = store.put_batch(None, ALERT_ON_CHANGE, T0).expect("add");
    let mailer = CountingMailer::default();
    let done = run_stored(
        &store,
        id,
        None,
        &exec(&[("a.example", 114), ("b.example", 112)]),
        &mailer,
        &config(&dir),
        &RunOptions::default(),
        || T0,
    )
    .await
    .expect("run")
    .expect("ran");
    // A run left 'running' by a process that is gone.
    let dead = store.begin_run(id, None, T0).expect("begin").expect("id");
    assert_eq!(
        store.recover(|_| true).expect("recover"),
        0,
        "its owner lives"
    );
    assert_eq!(store.recover(|_| false).expect("recover"), 1);
    let runs = store.runs(id, 10).expect("runs");
    let status = |rid| runs.iter().find(|r| r.id == rid).map(|r| r.status);
    assert_eq!(status(dead), Some(RunStatus::Interrupted));
    assert_eq!(status(done.run_id), Some(RunStatus::Complete));
    assert_eq!(store.results(done.run_id).expect("results").len(), 2);
}

#[tokio::test]
async fn change_alerts_send_only_when_a_grade_or_finding_changes() {
    let dir = Dir::new("change");
    let store = Store::open(&dir.0.join("h.db")).expect("open");
    let id = store.put_batch(None, ALERT_ON_CHANGE, T0).expect("add");
    let mailer = CountingMailer::default();
    let go = |grades: &'static [(&'static str, u16)]| {
        let (store, mailer, config) = (&store, &mailer, config(&dir));
        async move {
            run_stored(
                store,
                id,
                None,
                &exec(grades),
                mailer,
                &config,
                &RunOptions::default(),
                || T0,
            )
            .await
            .expect("run")
            .expect("ran")
        }
    };
    let first = go(&[("a.example", 114), ("b.example", 114)]).await;
    assert_eq!(first.changed.len(), 2, "a first run is all new");
    assert_eq!(mailer.0.load(Ordering::SeqCst), 1);
    let same = go(&[("a.example", 114), ("b.example", 114)]).await;
    assert!(same.changed.is_empty() && !same.alerted);
    assert_eq!(
        mailer.0.load(Ordering::SeqCst),
        1,
        "nothing changed, nothing sent"
    );
    assert!(!store.deliveries(same.run_id).expect("deliveries")[0].sent);
    let changed = go(&[("a.example", 114), ("b.example", 112)]).await;
    assert_eq!(changed.changed, ["b.example"]);
    assert_eq!(mailer.0.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn against_a_baseline_only_the_targets_that_differ_are_reported() {
    let dir = Dir::new("baseline");
    let store = Store::open(&dir.0.join("h.db")).expect("open");
    let xml = ALERT_ON_CHANGE.replace("<To>noc@lab.test</To>", "<To>File</To>");
    let id = store.put_batch(None, &xml, T0).expect("add");
    let mailer = CountingMailer::default();
    let cfg = config(&dir);
    let run = |e: ScriptedExecutor| {
        let (store, mailer, cfg) = (&store, &mailer, &cfg);
        async move {
            run_stored(
                store,
                id,
                None,
                &e,
                mailer,
                cfg,
                &RunOptions::default(),
                || T0,
            )
            .await
            .expect("run")
            .expect("ran")
        }
    };
    let base = run(exec(&[("a.example", 114), ("b.example", 114)])).await;
    assert_eq!(
        store.set_baseline(id, base.run_id, None).expect("baseline"),
        2
    );
    // b's certificate expires: only b is reported.
    let mut expired = TargetReport::graded("b.example", 112);
    expired.findings.push(checktls_batch::report::Finding {
        code: "cert.expired".into(),
        ..Default::default()
    });
    let later =
        run(exec(&[("a.example", 114)]).with("b.example", [Outcome::Tested(expired.clone())]))
            .await;
    assert_eq!(later.changed, ["b.example"]);
    let shown: Vec<_> = later
        .result
        .lines()
        .map(|l| l.target.target.clone())
        .collect();
    assert_eq!(shown, ["b.example"]);
    // Re-baseline b alone: the same results are then nothing new.
    assert_eq!(
        store
            .set_baseline(id, later.run_id, Some("b.example"))
            .expect("rebaseline"),
        1
    );
    let again =
        run(exec(&[("a.example", 114)]).with("b.example", [Outcome::Tested(expired)])).await;
    assert!(again.changed.is_empty() && !again.alerted);
}

#[tokio::test]
async fn missed_slots_run_once_and_two_servers_never_run_one_slot_twice() {
    let dir = Dir::new("race");
    let path = dir.0.join("h.db");
    let xml = r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1"
        ct:Schedule="hourly" ct:TimeZone="Europe/Berlin"><Target>a.example</Target></BatchTest>"#;
    let store = Store::open(&path).expect("open");
    let id = store.put_batch(None, xml, T0).expect("add");
    // Down for five hours: one run, for the latest slot.
    let now = T0 + time::Duration::minutes(5 * 60 + 20);
    let due = due_runs(&store, now).expect("due");
    assert_eq!(due, [(id, T0 + time::Duration::hours(5))]);

    // Two servers, each with its own connection to the file, race for that slot, twenty
    // times over (a new slot each time).
    for round in 0..20 {
        let now = now + time::Duration::hours(round);
        let slot = due_runs(&store, now).expect("due")[0].1;
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let path = path.clone();
            let dir = dir.0.clone();
            tasks.push(tokio::spawn(async move {
                let store = Store::open(&path).expect("open");
                let cfg = DeliveryConfig::new(dir.join("results"), "c@lab.test");
                run_stored(
                    &store,
                    id,
                    Some(slot),
                    &exec(&[("a.example", 114)]).yielding(3),
                    &CountingMailer::default(),
                    &cfg,
                    &RunOptions::default(),
                    move || now,
                )
                .await
                .expect("run")
                .is_some()
            }));
        }
        let mut ran = 0;
        for t in tasks {
            ran += usize::from(t.await.expect("task"));
        }
        assert_eq!(ran, 1, "round {round}: exactly one server runs the slot");
        assert!(due_runs(&store, now).expect("due").is_empty());
    }
    assert_eq!(store.runs(id, 100).expect("runs").len(), 20);
}

async fn get(addr: std::net::SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: monitor\r\n{auth}Connection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut buf))
        .await
        .expect("answered in time")
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

#[tokio::test]
async fn the_monitor_over_http_tells_each_state_apart_and_wants_its_token() {
    let dir = Dir::new("monitor");
    let store = Arc::new(Store::open(&dir.0.join("h.db")).expect("open"));
    let xml = |name: &str| {
        format!(
            r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1" ct:Name="{name}"><Target>a.example</Target></BatchTest>"#
        )
    };
    let cfg = config(&dir);
    let mailer = CountingMailer::default();
    let mut ids = Vec::new();
    for (name, e) in [
        ("passes", exec(&[("a.example", 114)])),
        ("short", exec(&[("a.example", 60)])),
        ("untested", ScriptedExecutor::new()),
    ] {
        let id = store.put_batch(None, &xml(name), T0).expect("add");
        run_stored(
            &store,
            id,
            None,
            &e,
            &mailer,
            &cfg,
            &RunOptions::default(),
            || T0,
        )
        .await
        .expect("run");
        ids.push(id);
    }
    let never = store.put_batch(None, &xml("never"), T0).expect("add");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut mc = MonitorConfig::new("tok-123").expect("token");
    mc.clock = Arc::new(|| T0 + time::Duration::minutes(30));
    let server = tokio::spawn(serve(listener, store.clone(), mc));

    let q = "?check_age=60&min_total=90";
    let (s, b) = get(addr, &format!("/monitor/{}{q}", ids[0]), Some("tok-123")).await;
    assert_eq!((s, b.as_str()), (200, "OK\n"));
    let (_, b) = get(
        addr,
        &format!("/monitor/{}{q}&format=json", ids[1]),
        Some("tok-123"),
    )
    .await;
    assert!(
        b.contains("\"state\":\"fell_short\"") && b.contains("\"status\":\"NOK\""),
        "{b}"
    );
    let (_, b) = get(
        addr,
        &format!("/monitor/{}{q}&format=json", ids[2]),
        Some("tok-123"),
    )
    .await;
    assert!(b.contains("could_not_test"), "{b}");
    let (_, b) = get(
        addr,
        &format!("/monitor/{never}{q}&format=json"),
        Some("tok-123"),
    )
    .await;
    assert!(b.contains("did_not_run"), "{b}");
    // A run older than the check age did not run "within" it.
    let (_, b) = get(
        addr,
        &format!("/monitor/{}?check_age=10", ids[0]),
        Some("tok-123"),
    )
    .await;
    assert_eq!(b, "NOK\n");
    let (_, b) = get(
        addr,
        &format!("/monitor/{}{q}&format=xml", ids[0]),
        Some("tok-123"),
    )
    .await;
    assert!(
        b.contains("<Description>passes</Description>")
            && b.contains("<LastRun>2026-11-22T12:00:00Z</LastRun>")
            && b.contains("<LastTotal>114.0</LastTotal>"),
        "{b}"
    );

    // Tokens and parameters.
    assert_eq!(
        get(addr, &format!("/monitor/{}", ids[0]), None).await.0,
        401
    );
    assert_eq!(
        get(addr, &format!("/monitor/{}", ids[0]), Some("tok-12"))
            .await
            .0,
        401
    );
    for bad in [
        "?check_age=x",
        "?min_total=lots",
        "?format=html",
        "?nonsense=1",
    ] {
        let (s, _) = get(addr, &format!("/monitor/{}{bad}", ids[0]), Some("tok-123")).await;
        assert_eq!(s, 400, "{bad}");
    }
    assert_eq!(get(addr, "/monitor/abc", Some("tok-123")).await.0, 400);
    assert_eq!(get(addr, "/monitor/9999", Some("tok-123")).await.0, 404);
    let (s, m) = get(addr, "/metrics", Some("tok-123")).await;
    assert_eq!(s, 200);
    assert!(
        m.contains(&format!(
            "checktls_batch_last_total{{batch=\"{}\"}} 114",
            ids[0]
        )),
        "{m}"
    );
    server.abort();
}

#[cfg(unix)]
#[test]
fn the_history_and_results_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new("modes");
    let path = dir.0.join("h.db");
    // A file left readable by others from before is made owner-only too.
    std::fs::write(&path, b"").expect("create");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let store = Store::open(&path).expect("open");
    store.put_batch(None, ALERT_ON_CHANGE, T0).expect("add");
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&path), 0o600, "the database");
    for side in ["h.db-wal", "h.db-shm"] {
        let p = dir.0.join(side);
        if p.exists() {
            assert_eq!(mode(&p) & 0o077, 0, "{side} is not readable by others");
        }
    }
    drop(store);
    let results = dir.0.join("results").join("deep");
    let file = checktls_batch::delivery::write_result_file(
        &results,
        "partners",
        T0,
        checktls_batch::Format::Csv,
        "114,\"a.example\"\n",
    )
    .expect("write");
    assert_eq!(mode(&results), 0o700, "the results directory");
    assert_eq!(mode(&file), 0o600, "the results file");
}

#[test]
fn a_stored_batch_keeps_no_password_in_clear() {
    let store = Store::open_in_memory().expect("store");
    let clear = r#"<BatchTest TestType="receiver">
  <Target AuthUser="bob" AuthPass="hunter2">a.example</Target>
</BatchTest>"#;
    let e = store.put_batch(None, clear, T0).expect_err("refused");
    let text = e.to_string();
    assert!(
        text.starts_with("2:3:") && text.contains("ct:AuthPassEnv"),
        "{text}"
    );
    assert!(!text.contains("hunter2"));
    let by_env = r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1">
  <Target AuthUser="bob" ct:AuthPassEnv="PARTNER_PW">a.example</Target>
</BatchTest>"#;
    let id = store.put_batch(None, by_env, T0).expect("stored");
    let stored = store.batches().expect("batches");
    let b = stored.iter().find(|b| b.id == id).expect("the batch");
    let debug = format!("{b:?}");
    assert!(
        !debug.contains("AuthUser") && debug.contains("bytes"),
        "{debug}"
    );
}

#[tokio::test]
async fn csv_cells_carry_no_control_characters() {
    let batch = checktls_batch::parse(
        r#"<BatchTest TestType="receiver"><Target>a.example</Target><Target>b.example</Target></BatchTest>"#,
    )
    .expect("batch");
    let exec = ScriptedExecutor::new().graded("a.example", 114).with(
        "b.example",
        [Outcome::not_tested(
            "=HYPERLINK(\"http://evil\";\"x\")\u{7}\r\n-2+3",
        )],
    );
    let result = checktls_batch::run::run(&batch, &exec, &RunOptions::default(), |_| {}).await;
    let csv = checktls_batch::format::render(
        &result,
        checktls_batch::Format::Csv,
        &checktls_batch::model::Selection::default(),
    );
    assert!(csv.contains("114,\"a.example\""), "{csv}");
    assert!(!csv.contains(['\u{7}', '\r']), "{csv:?}");
    assert_eq!(csv.lines().count(), 2, "one line per target: {csv:?}");
}
