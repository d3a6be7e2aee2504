//! The history store's test suite, one suite run on both backends: SQLite (a file in a temp
//! dir) and a real PostgreSQL from Debian, started by the test in a temp dir (`initdb` and
//! `postgres` as `nobody`; root needed, so `#[ignore]`d and run by .ci/run). Stored runs,
//! schedules due, baselines, change alerts, the work queue (claims, leases, heartbeats, the
//! last finisher, orphaned finishes), address leases and back-offs, export and import, and
//! the monitor over real HTTP; a fake clock and a scripted executor throughout.
//!
//! ```text
//!   sqlite_backend_passes_the_store_suite      every case, each on a new SQLite file
//!   postgres_backend_passes_the_store_suite    every case, each in a new database of one
//!                                              PostgreSQL server (started once, killed by pid)
//! ```

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checktls_batch::Error;
use checktls_batch::delivery::{DeliveryConfig, Envelope, Mailer};
use checktls_batch::fleet::{Worker, WorkerOptions, queue_run};
use checktls_batch::history::{RunStatus, SCHEMA_VERSION};
use checktls_batch::monitor::{MonitorConfig, serve};
use checktls_batch::report::{Outcome, TargetReport};
use checktls_batch::run::{Executor, Job, RunOptions};
use checktls_batch::scripted::ScriptedExecutor;
use checktls_batch::service::{due_runs, run_stored};
use checktls_batch::store::{Backend, Completion, JobKey, Store, WorkerInfo};
use checktls_lab::postgres::{Postgres, PostgresConfig};
use time::OffsetDateTime;
use time::macros::datetime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Counts the messages it is given.
#[derive(Clone, Default)]
struct CountingMailer(Arc<AtomicUsize>);

impl CountingMailer {
    fn sent(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

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

/// Where a case's history lives; `open` gives a new handle (its own connections) each time,
/// as a second server or worker would have.
#[derive(Clone)]
struct Db {
    spec: String,
    backend: Backend,
    dir: PathBuf,
}

impl Db {
    async fn open(&self) -> Arc<dyn Store> {
        checktls_batch::store::open(&self.spec)
            .await
            .unwrap_or_else(|e| panic!("open {}: {e}", self.spec))
    }

    fn config(&self) -> DeliveryConfig {
        DeliveryConfig::new(self.dir.join("results"), "checktls@lab.test")
    }
}

const T0: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);
const LEASE: Duration = Duration::from_secs(30);

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

fn targets(n: usize) -> String {
    let mut xml = String::from(
        r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1" ct:Name="many">"#,
    );
    for i in 0..n {
        xml.push_str(&format!("<Target>t{i}.example</Target>"));
    }
    xml.push_str("<Total Function=\"average\" ct:Test=\"ge\" ct:Value=\"100\"/></BatchTest>");
    xml
}

type Case = fn(Db) -> Pin<Box<dyn Future<Output = ()> + Send>>;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), (|db| Box::pin($name(db))) as Case)),*]
    };
}

const CASES: &[(&str, Case)] = cases![
    the_store_migrates_replaces_and_removes,
    a_run_that_dies_is_marked_interrupted_and_nothing_else_is_touched,
    change_alerts_send_only_when_a_grade_or_finding_changes,
    against_a_baseline_only_the_targets_that_differ_are_reported,
    missed_slots_run_once_and_two_servers_never_run_one_slot_twice,
    queued_jobs_go_to_one_worker_each_and_the_run_finishes_once,
    a_dead_workers_jobs_are_claimed_again_and_its_late_results_refused,
    heartbeats_keep_leases_and_release_gives_them_back,
    a_finish_left_by_a_dead_finisher_is_taken_over_once,
    racing_completions_elect_exactly_one_finisher,
    workers_share_a_queued_run_and_compare_it_like_a_local_one,
    a_replaced_batch_is_not_run_under_an_old_runs_jobs,
    address_leases_cap_connections_and_back_off_after_421,
    an_exported_history_imports_whole,
    the_monitor_over_http_tells_each_state_apart_and_wants_its_token,
    a_stored_batch_keeps_no_password_in_clear,
];

async fn suite(make: impl Fn(usize, &str) -> Db) {
    for (i, (name, case)) in CASES.iter().enumerate() {
        eprintln!("case {name}");
        case(make(i, name)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend_passes_the_store_suite() {
    let dir = Dir::new("suite");
    suite(|i, name| {
        let d = dir.0.join(format!("{i}-{name}"));
        std::fs::create_dir_all(&d).expect("dir");
        Db {
            spec: d.join("h.db").to_str().expect("path").to_owned(),
            backend: Backend::Sqlite,
            dir: d,
        }
    })
    .await;
}

/// Needs root (initdb runs as `nobody`) and the Debian package postgresql: run by .ci/run.
#[test]
#[ignore = "needs root and PostgreSQL from Debian; run by .ci/run"]
fn postgres_backend_passes_the_store_suite() {
    let pg = Postgres::start(PostgresConfig::new("127.0.0.1".parse().expect("ip")))
        .expect("PostgreSQL starts (Debian package postgresql)");
    let dir = Dir::new("pgsuite");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(suite(|i, name| {
        let db = format!("case{i}");
        pg.create_database(&db).expect("database");
        let d = dir.0.join(format!("{i}-{name}"));
        std::fs::create_dir_all(&d).expect("dir");
        Db {
            spec: pg.url(&db),
            backend: Backend::Postgres,
            dir: d,
        }
    }));
    drop(runtime);
    drop(pg);
}

async fn the_store_migrates_replaces_and_removes(db: Db) {
    let store = db.open().await;
    assert_eq!(store.backend(), db.backend);
    assert_eq!(
        store.schema_version().await.expect("version"),
        SCHEMA_VERSION
    );
    let id = store
        .put_batch(None, ALERT_ON_CHANGE, T0)
        .await
        .expect("add");
    let other = store
        .put_batch(None, ALERT_ON_CHANGE, T0)
        .await
        .expect("add");
    assert_ne!(id, other, "\"new\" always creates");
    assert_eq!(store.revision(id).await.expect("rev"), Some(0));
    store
        .put_batch(
            Some(id),
            &ALERT_ON_CHANGE.replace("partners", "renamed"),
            T0,
        )
        .await
        .expect("replace");
    assert_eq!(
        store.batch(id).await.expect("read").expect("there").name,
        "renamed"
    );
    assert_eq!(store.revision(id).await.expect("rev"), Some(1));
    assert!(matches!(
        store.put_batch(Some(999), ALERT_ON_CHANGE, T0).await,
        Err(Error::NoSuchBatch { id: 999 })
    ));
    assert!(
        store.put_batch(None, "<BatchTest/>", T0).await.is_err(),
        "a bad file is refused"
    );
    assert!(store.remove_batch(other).await.expect("remove"));
    assert!(!store.remove_batch(other).await.expect("remove again"));
    drop(store);
    // Reopening keeps everything and does not migrate twice.
    let store = db.open().await;
    assert_eq!(
        store.schema_version().await.expect("version"),
        SCHEMA_VERSION
    );
    assert_eq!(store.batches().await.expect("list").len(), 1);
}

async fn a_run_that_dies_is_marked_interrupted_and_nothing_else_is_touched(db: Db) {
    let store = db.open().await;
    let id = store
        .put_batch(None, ALERT_ON_CHANGE, T0)
        .await
        .expect("add");
    let mailer = CountingMailer::default();
    let done = run_stored(
        &*store,
        id,
        None,
        &exec(&[("a.example", 114), ("b.example", 112)]),
        &mailer,
        &db.config(),
        &RunOptions::default(),
        || T0,
    )
    .await
    .expect("run")
    .expect("ran");
    // A run left 'running' by a process that is gone, and a queued run (workers finish
    // those, whatever happened to the process that queued it).
    let dead = store
        .begin_run(id, None, T0)
        .await
        .expect("begin")
        .expect("id");
    let queued = store
        .enqueue_run(id, Some(T0), &[JobKey { index: 0, run: 1 }], T0)
        .await
        .expect("queue")
        .expect("id");
    assert_eq!(
        store.recover(|_| true).await.expect("recover"),
        0,
        "its owner lives"
    );
    assert_eq!(store.recover(|_| false).await.expect("recover"), 1);
    let runs = store.runs(id, 10).await.expect("runs");
    let status = |rid| runs.iter().find(|r| r.id == rid).map(|r| r.status);
    assert_eq!(status(dead), Some(RunStatus::Interrupted));
    assert_eq!(status(queued), Some(RunStatus::Running));
    assert_eq!(status(done.run_id), Some(RunStatus::Complete));
    assert_eq!(store.results(done.run_id).await.expect("results").len(), 2);
}

async fn change_alerts_send_only_when_a_grade_or_finding_changes(db: Db) {
    let store = db.open().await;
    let id = store
        .put_batch(None, ALERT_ON_CHANGE, T0)
        .await
        .expect("add");
    let mailer = CountingMailer::default();
    let config = db.config();
    let go = |grades: &'static [(&'static str, u16)]| {
        let (store, mailer, config) = (&store, &mailer, &config);
        async move {
            run_stored(
                &**store,
                id,
                None,
                &exec(grades),
                mailer,
                config,
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
    assert_eq!(mailer.sent(), 1);
    let same = go(&[("a.example", 114), ("b.example", 114)]).await;
    assert!(same.changed.is_empty() && !same.alerted);
    assert_eq!(mailer.sent(), 1, "nothing changed, nothing sent");
    assert!(!store.deliveries(same.run_id).await.expect("deliveries")[0].sent);
    let changed = go(&[("a.example", 114), ("b.example", 112)]).await;
    assert_eq!(changed.changed, ["b.example"]);
    assert_eq!(mailer.sent(), 2);
}

async fn against_a_baseline_only_the_targets_that_differ_are_reported(db: Db) {
    let store = db.open().await;
    let xml = ALERT_ON_CHANGE.replace("<To>noc@lab.test</To>", "<To>File</To>");
    let id = store.put_batch(None, &xml, T0).await.expect("add");
    let mailer = CountingMailer::default();
    let cfg = db.config();
    let run = |e: ScriptedExecutor| {
        let (store, mailer, cfg) = (&store, &mailer, &cfg);
        async move {
            run_stored(
                &**store,
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
        store
            .set_baseline(id, base.run_id, None)
            .await
            .expect("baseline"),
        2
    );
    // b's certificate expires: only b is reported.
    let mut expired = TargetReport::graded("b.example", 112);
    expired.findings.push(checktls_batch::report::Finding::new(
        "cert.expired",
        checktls_batch::report::Severity::Info,
        "",
    ));
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
            .await
            .expect("rebaseline"),
        1
    );
    let again =
        run(exec(&[("a.example", 114)]).with("b.example", [Outcome::Tested(expired)])).await;
    assert!(again.changed.is_empty() && !again.alerted);
}

async fn missed_slots_run_once_and_two_servers_never_run_one_slot_twice(db: Db) {
    let xml = r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1"
        ct:Schedule="hourly" ct:TimeZone="Europe/Berlin"><Target>a.example</Target></BatchTest>"#;
    let store = db.open().await;
    let id = store.put_batch(None, xml, T0).await.expect("add");
    // Down for five hours: one run, for the latest slot.
    let now = T0 + time::Duration::minutes(5 * 60 + 20);
    let due = due_runs(&*store, now).await.expect("due");
    assert_eq!(due, [(id, T0 + time::Duration::hours(5))]);

    // Two servers, each with its own connection, race for that slot, twenty times over (a
    // new slot each time): half the rounds running it here, half queueing it for workers.
    for round in 0..20 {
        let now = now + time::Duration::hours(round);
        let slot = due_runs(&*store, now).await.expect("due")[0].1;
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let store = db.open().await;
                if round % 2 == 0 {
                    run_stored(
                        &*store,
                        id,
                        Some(slot),
                        &exec(&[("a.example", 114)]).yielding(3),
                        &CountingMailer::default(),
                        &db.config(),
                        &RunOptions::default(),
                        move || now,
                    )
                    .await
                    .expect("run")
                    .is_some()
                } else {
                    queue_run(&*store, id, Some(slot), now)
                        .await
                        .expect("queue")
                        .is_some()
                }
            }));
        }
        let mut ran = 0;
        for t in tasks {
            ran += usize::from(t.await.expect("task"));
        }
        assert_eq!(ran, 1, "round {round}: exactly one server takes the slot");
        assert!(due_runs(&*store, now).await.expect("due").is_empty());
    }
    assert_eq!(store.runs(id, 100).await.expect("runs").len(), 20);
    assert_eq!(
        store.queue().await.expect("queue").queued,
        10,
        "one job per queued slot"
    );
}

async fn queued_jobs_go_to_one_worker_each_and_the_run_finishes_once(db: Db) {
    let store = db.open().await;
    let other = db.open().await;
    let id = store.put_batch(None, &targets(10), T0).await.expect("add");
    let run = queue_run(&*store, id, Some(T0), T0)
        .await
        .expect("queue")
        .expect("queued");
    assert!(
        queue_run(&*other, id, Some(T0), T0)
            .await
            .expect("queue")
            .is_none(),
        "a slot is queued once"
    );
    for (name, s) in [("w1", &store), ("w2", &other)] {
        s.register_worker(
            &WorkerInfo {
                id: name.into(),
                host: "h".into(),
                pid: 1,
            },
            T0,
        )
        .await
        .expect("register");
    }
    let (a, b) = tokio::join!(
        store.claim("w1", 6, LEASE, T0),
        other.claim("w2", 6, LEASE, T0)
    );
    let (a, b) = (a.expect("claim"), b.expect("claim"));
    assert_eq!(a.len() + b.len(), 10, "{a:?} {b:?}");
    let mut keys: Vec<_> = a.iter().chain(&b).map(|c| c.job).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 10, "no job claimed twice");
    assert!(
        store
            .claim("w3", 10, LEASE, T0)
            .await
            .expect("claim")
            .is_empty()
    );
    let q = store.queue().await.expect("queue");
    assert_eq!((q.queued, q.claimed, q.done), (0, 10, 0));

    let mut lasts = 0;
    for (worker, claims, s) in [("w1", &a, &store), ("w2", &b, &other)] {
        for c in claims {
            let o = Outcome::Tested(TargetReport::graded(
                format!("t{}.example", c.job.index),
                110,
            ));
            match s
                .complete(worker, c, &o, LEASE, T0)
                .await
                .expect("complete")
            {
                Completion::Last => lasts += 1,
                Completion::Stored { .. } => {}
                other => panic!("{other:?}"),
            }
            // Completing twice is refused: the job is no longer held.
            assert_eq!(
                s.complete(worker, c, &o, LEASE, T0).await.expect("again"),
                Completion::Stale
            );
        }
    }
    assert_eq!(lasts, 1, "exactly one completion is the last");
    let outcomes = store.job_outcomes(run).await.expect("outcomes");
    assert_eq!(outcomes.len(), 10);
    let workers = store.workers().await.expect("workers");
    let done: u64 = workers.iter().map(|w| w.jobs_done).sum();
    assert_eq!(done, 10, "{workers:?}");
}

async fn a_dead_workers_jobs_are_claimed_again_and_its_late_results_refused(db: Db) {
    let store = db.open().await;
    let id = store.put_batch(None, &targets(3), T0).await.expect("add");
    queue_run(&*store, id, None, T0).await.expect("queue");
    let first = store.claim("dies", 10, LEASE, T0).await.expect("claim");
    assert_eq!(first.len(), 3);
    // Before the lease ends nobody else gets them; after, another worker does.
    let almost = T0 + time::Duration::seconds(29);
    assert!(
        store
            .claim("w2", 10, LEASE, almost)
            .await
            .expect("claim")
            .is_empty()
    );
    let later = T0 + time::Duration::seconds(31);
    let again = store.claim("w2", 10, LEASE, later).await.expect("claim");
    assert_eq!(again.len(), 3);
    assert!(again.iter().all(|c| c.attempts == 2), "{again:?}");
    // The dead worker comes back with a result: refused, the job is w2's.
    let o = Outcome::not_tested("late");
    assert_eq!(
        store
            .complete("dies", &first[0], &o, LEASE, later)
            .await
            .expect("complete"),
        Completion::Stale
    );
    let o = Outcome::Tested(TargetReport::graded("t0.example", 100));
    assert!(matches!(
        store
            .complete("w2", &again[0], &o, LEASE, later)
            .await
            .expect("complete"),
        Completion::Stored { remaining: 2 }
    ));
}

async fn heartbeats_keep_leases_and_release_gives_them_back(db: Db) {
    let store = db.open().await;
    let id = store.put_batch(None, &targets(4), T0).await.expect("add");
    queue_run(&*store, id, None, T0).await.expect("queue");
    let me = WorkerInfo {
        id: "beats".into(),
        host: "h".into(),
        pid: 7,
    };
    store.register_worker(&me, T0).await.expect("register");
    let mine = store.claim("beats", 3, LEASE, T0).await.expect("claim");
    assert_eq!(mine.len(), 3);
    assert!(
        store
            .lease_address("192.0.2.1", "beats", 2, LEASE, T0)
            .await
            .expect("lease")
            .is_some()
    );
    // Heartbeats every 20 s for two minutes: nothing expires.
    for k in 1..=6 {
        store
            .heartbeat("beats", LEASE, T0 + time::Duration::seconds(20 * k))
            .await
            .expect("heartbeat");
    }
    let now = T0 + time::Duration::seconds(125);
    let other = store.claim("other", 10, LEASE, now).await.expect("claim");
    assert_eq!(other.len(), 1, "only the job never claimed");
    assert_eq!(
        store
            .address_leases(now)
            .await
            .expect("leases")
            .get("192.0.2.1"),
        Some(&1)
    );
    let seen = store.workers().await.expect("workers");
    let w = seen.iter().find(|w| w.id == "beats").expect("registered");
    assert_eq!(w.claimed, 3);
    assert_eq!(w.last_seen, T0 + time::Duration::seconds(120));
    // A clean stop gives everything back at once.
    assert_eq!(store.release("beats").await.expect("release"), 3);
    let back = store.claim("other", 10, LEASE, now).await.expect("claim");
    assert_eq!(back.len(), 3);
    assert!(store.address_leases(now).await.expect("leases").is_empty());
    let seen = store.workers().await.expect("workers");
    assert!(seen.iter().find(|w| w.id == "beats").expect("row").stopped);
}

async fn a_finish_left_by_a_dead_finisher_is_taken_over_once(db: Db) {
    let store = db.open().await;
    let id = store.put_batch(None, &targets(2), T0).await.expect("add");
    let run = queue_run(&*store, id, None, T0)
        .await
        .expect("queue")
        .expect("run");
    let claims = store.claim("f1", 10, LEASE, T0).await.expect("claim");
    let mut last = None;
    for c in &claims {
        let o = Outcome::Tested(TargetReport::graded(
            format!("t{}.example", c.job.index),
            120,
        ));
        last = Some(
            store
                .complete("f1", c, &o, LEASE, T0)
                .await
                .expect("complete"),
        );
    }
    assert_eq!(last, Some(Completion::Last));
    // f1 holds the finish: nobody else may take it, and it is no orphan.
    assert!(store.orphaned_runs(T0).await.expect("orphans").is_empty());
    assert!(!store.take_finish(run, "f2", LEASE, T0).await.expect("take"));
    // f1 dies; after its lease the finish is an orphan, and f2 takes it.
    let later = T0 + time::Duration::seconds(40);
    assert_eq!(store.orphaned_runs(later).await.expect("orphans"), [run]);
    assert!(
        store
            .take_finish(run, "f2", LEASE, later)
            .await
            .expect("take")
    );
    assert!(
        !store
            .take_finish(run, "f3", LEASE, later)
            .await
            .expect("take")
    );
    let batch = checktls_batch::parse(&targets(2)).expect("parse");
    let outcomes: Vec<Vec<Outcome>> = {
        let mut v = vec![Vec::new(); 2];
        for (k, o) in store.job_outcomes(run).await.expect("outcomes") {
            v[k.index].push(o);
        }
        v
    };
    let result = checktls_batch::eval::BatchResult::evaluate(&batch, outcomes);
    // The old finisher wakes up: refused; the new one finishes; then nobody again.
    assert!(
        !store
            .finish_queued(run, "f1", &result, &[], later)
            .await
            .expect("f1")
    );
    assert!(
        store
            .finish_queued(run, "f2", &result, &[], later)
            .await
            .expect("f2")
    );
    assert!(
        !store
            .finish_queued(run, "f2", &result, &[], later)
            .await
            .expect("twice")
    );
    let row = &store.runs(id, 1).await.expect("runs")[0];
    assert_eq!(row.status, RunStatus::Complete);
    assert_eq!(row.total, Some(120.0));
    assert_eq!(store.results(run).await.expect("results").len(), 2);
    assert_eq!(
        store.queue().await.expect("queue"),
        Default::default(),
        "a finished run's jobs are gone"
    );
}

async fn racing_completions_elect_exactly_one_finisher(db: Db) {
    let store = db.open().await;
    let n = 24;
    let id = store.put_batch(None, &targets(n), T0).await.expect("add");
    for round in 0..3 {
        let run = queue_run(&*store, id, None, T0)
            .await
            .expect("queue")
            .expect("run");
        let claims = store.claim("r", n, LEASE, T0).await.expect("claim");
        assert_eq!(claims.len(), n);
        // Every completion on its own handle, all at once.
        let mut tasks = Vec::new();
        for c in claims {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let s = db.open().await;
                let o = Outcome::Tested(TargetReport::graded("x", 100));
                s.complete("r", &c, &o, LEASE, T0).await.expect("complete")
            }));
        }
        let mut lasts = 0;
        for t in tasks {
            lasts += usize::from(t.await.expect("task") == Completion::Last);
        }
        assert_eq!(lasts, 1, "round {round}: one finisher");
        assert!(store.orphaned_runs(T0).await.expect("orphans").is_empty());
        let _ = run;
    }
}

/// An executor that records every test it is given, across the executors of a fleet.
#[derive(Clone)]
struct Recording {
    script: Arc<ScriptedExecutor>,
    seen: Arc<Mutex<Vec<(String, u32)>>>,
}

impl Executor for Recording {
    async fn execute(&self, job: &Job) -> Outcome {
        if let Ok(mut s) = self.seen.lock() {
            s.push((job.text.clone(), job.run));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        self.script.execute(job).await
    }
}

async fn workers_share_a_queued_run_and_compare_it_like_a_local_one(db: Db) {
    let store = db.open().await;
    let xml = ALERT_ON_CHANGE.replace("<Target>b.example</Target>", "<Target Count=\"3\">b.example</Target><Target>c.example</Target><Target>d.example</Target>");
    let id = store.put_batch(None, &xml, T0).await.expect("add");
    let mailer = CountingMailer::default();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(exec(&[
        ("a.example", 114),
        ("b.example", 110),
        ("c.example", 100),
        ("d.example", 90),
    ]));
    let made = Arc::new(AtomicUsize::new(0));
    let mut options = WorkerOptions::default();
    options.concurrency = 2;
    options.poll = Duration::from_millis(10);
    let worker = |name: &str, store: Arc<dyn Store>| {
        let (script, seen, made) = (script.clone(), seen.clone(), made.clone());
        Worker::new(
            store,
            WorkerInfo {
                id: name.into(),
                host: "h".into(),
                pid: 1,
            },
            move |_run| {
                made.fetch_add(1, Ordering::SeqCst);
                Recording {
                    script: script.clone(),
                    seen: seen.clone(),
                }
            },
            mailer.clone(),
            db.config(),
            options.clone(),
        )
        .clock(|| T0)
    };
    for round in 0..2 {
        let run = queue_run(&*store, id, None, T0)
            .await
            .expect("queue")
            .expect("run");
        let (w1, w2) = (worker("w1", db.open().await), worker("w2", db.open().await));
        let (r1, r2) = tokio::join!(w1.drain(), w2.drain());
        let (r1, r2) = (r1.expect("w1"), r2.expect("w2"));
        assert_eq!(r1.completed + r2.completed, 6, "{r1:?} {r2:?}");
        assert_eq!(r1.finished + r2.finished, 1, "one finisher");
        let row = store
            .runs(id, 10)
            .await
            .expect("runs")
            .into_iter()
            .find(|r| r.id == run)
            .expect("row");
        assert_eq!(row.status, RunStatus::Complete);
        assert_eq!(row.tested, Some(6));
        assert_eq!(row.total, Some((114.0 + 3.0 * 110.0 + 100.0 + 90.0) / 6.0));
        let results = store.results(run).await.expect("results");
        assert_eq!(results.len(), 6);
        assert_eq!(
            mailer.sent(),
            1,
            "round {round}: a first run alerts, an unchanged second does not"
        );
    }
    let mut seen = seen.lock().expect("seen").clone();
    assert_eq!(seen.len(), 12, "every test once per run");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 6);
    assert!(
        made.load(Ordering::SeqCst) >= 2,
        "executors are made per run, never shared across runs"
    );
}

async fn a_replaced_batch_is_not_run_under_an_old_runs_jobs(db: Db) {
    let store = db.open().await;
    let id = store.put_batch(None, &targets(2), T0).await.expect("add");
    let run = queue_run(&*store, id, None, T0)
        .await
        .expect("queue")
        .expect("run");
    store
        .put_batch(Some(id), &targets(5), T0)
        .await
        .expect("replace");
    let mut options = WorkerOptions::default();
    options.poll = Duration::from_millis(10);
    let w = Worker::new(
        store.clone(),
        WorkerInfo::this_process(),
        |_| exec(&[("t0.example", 100), ("t1.example", 100)]),
        CountingMailer::default(),
        db.config(),
        options,
    );
    w.drain().await.expect("drain");
    let results = store.results(run).await.expect("results");
    assert!(
        results
            .iter()
            .all(|(_, _, _, o)| matches!(o, Outcome::NotTested(_))),
        "{results:?}"
    );
}

async fn address_leases_cap_connections_and_back_off_after_421(db: Db) {
    let store = db.open().await;
    let other = db.open().await;
    let a = "192.0.2.25";
    // Cap 2: two holders on two handles get a slot each, the third none.
    let (x, y) = tokio::join!(
        store.lease_address(a, "w1", 2, LEASE, T0),
        other.lease_address(a, "w2", 2, LEASE, T0)
    );
    let (x, y) = (x.expect("x"), y.expect("y"));
    assert!(x.is_some() && y.is_some() && x != y, "{x:?} {y:?}");
    assert_eq!(
        store.lease_address(a, "w3", 2, LEASE, T0).await.expect("z"),
        None
    );
    // Another address is not affected.
    assert!(
        store
            .lease_address("192.0.2.26", "w3", 2, LEASE, T0)
            .await
            .expect("other")
            .is_some()
    );
    // A slot given back is free again; an expired one too.
    store
        .release_address(a, x.expect("slot"), "w1")
        .await
        .expect("release");
    assert!(
        store
            .lease_address(a, "w3", 2, LEASE, T0)
            .await
            .expect("freed")
            .is_some()
    );
    let later = T0 + time::Duration::seconds(31);
    assert_eq!(store.address_leases(later).await.expect("held").len(), 0);
    assert!(
        store
            .lease_address(a, "w4", 2, LEASE, later)
            .await
            .expect("expired")
            .is_some()
    );
    // A 421: nobody gets a new slot until the back-off ends.
    let b = "192.0.2.27";
    store
        .back_off_address(b, T0 + time::Duration::seconds(10))
        .await
        .expect("back off");
    assert_eq!(
        other.lease_address(b, "w1", 2, LEASE, T0).await.expect("b"),
        None
    );
    assert!(
        other
            .lease_address(b, "w1", 2, LEASE, T0 + time::Duration::seconds(11))
            .await
            .expect("b later")
            .is_some()
    );
}

async fn an_exported_history_imports_whole(db: Db) {
    // A history made on SQLite, imported into this backend.
    let source_dir = db.dir.join("source");
    std::fs::create_dir_all(&source_dir).expect("dir");
    let source = checktls_batch::store::open(source_dir.join("s.db").to_str().expect("path"))
        .await
        .expect("source");
    let id = source
        .put_batch(None, ALERT_ON_CHANGE, T0)
        .await
        .expect("add");
    let mailer = CountingMailer::default();
    for grade in [114, 100] {
        run_stored(
            &*source,
            id,
            Some(T0 + time::Duration::hours(i64::from(grade))),
            &exec(&[("a.example", grade), ("b.example", 114)]),
            &mailer,
            &db.config(),
            &RunOptions::default(),
            || T0,
        )
        .await
        .expect("run");
    }
    let first = source.runs(id, 10).await.expect("runs")[1].id;
    source
        .set_baseline(id, first, None)
        .await
        .expect("baseline");
    let dump = source.export().await.expect("export");
    let target = db.open().await;
    target.import(&dump).await.expect("import");
    assert_eq!(target.export().await.expect("export"), dump);
    assert!(
        target.import(&dump).await.is_err(),
        "a history is imported into an empty store only"
    );
    // New rows continue after the copied ids.
    let next = target
        .put_batch(None, ALERT_ON_CHANGE, T0)
        .await
        .expect("add");
    assert!(next > id);
    let run = target
        .begin_run(next, None, T0)
        .await
        .expect("run")
        .expect("id");
    assert!(dump.runs.iter().all(|r| r.row.id < run));
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

async fn the_monitor_over_http_tells_each_state_apart_and_wants_its_token(db: Db) {
    let store = db.open().await;
    let xml = |name: &str| {
        format!(
            r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1" ct:Name="{name}"><Target>a.example</Target></BatchTest>"#
        )
    };
    let cfg = db.config();
    let mailer = CountingMailer::default();
    let mut ids = Vec::new();
    for (name, e) in [
        ("passes", exec(&[("a.example", 114)])),
        ("short", exec(&[("a.example", 60)])),
        ("untested", ScriptedExecutor::new()),
    ] {
        let id = store.put_batch(None, &xml(name), T0).await.expect("add");
        run_stored(
            &*store,
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
    let never = store.put_batch(None, &xml("never"), T0).await.expect("add");
    store
        .register_worker(
            &WorkerInfo {
                id: "w-metrics".into(),
                host: "m1".into(),
                pid: 9,
            },
            T0,
        )
        .await
        .expect("worker");

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
    assert!(
        m.contains("checktls_worker_jobs_done_total{worker=\"w-metrics\",host=\"m1\"} 0")
            && m.contains("checktls_worker_last_seen_seconds{worker=\"w-metrics\"} 1800")
            && m.contains("checktls_queue_jobs{state=\"queued\"} 0"),
        "{m}"
    );
    server.abort();
}

/// TLS to PostgreSQL: the server accepts TCP clients over TLS only (`hostssl`), so a store
/// that opens and works proves the connection was TLS by the server's own rule; the lab CA
/// given with `sslrootcert` is needed, and a plain connection or another CA is refused.
#[test]
#[ignore = "needs root and PostgreSQL from Debian; run by .ci/run"]
fn postgres_over_tls_verifies_the_server_with_the_given_ca() {
    use checktls_lab::pki::{LeafSpec, Pki, pem_encode};
    let now = std::time::SystemTime::now();
    let pki = Pki::generate(now).expect("pki");
    let leaf = pki
        .leaf(&LeafSpec::new(&["db.lab.test", "127.0.0.1"], now))
        .expect("leaf");
    let pg = Postgres::start(PostgresConfig::new("127.0.0.1".parse().expect("ip")).tls(&leaf))
        .expect("PostgreSQL starts (Debian package postgresql)");
    pg.create_database("tls").expect("database");
    let dir = Dir::new("pgtls");
    let ca = dir.0.join("ca.pem");
    std::fs::write(&ca, pem_encode("CERTIFICATE", pki.root().der())).expect("ca");
    let other = Pki::generate(now).expect("other pki");
    let wrong = dir.0.join("wrong.pem");
    std::fs::write(&wrong, pem_encode("CERTIFICATE", other.root().der())).expect("ca");
    let url = pg.url("tls");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let good = format!("{url}?sslmode=require&sslrootcert={}", ca.display());
        let store = checktls_batch::store::open(&good)
            .await
            .expect("TLS with the lab CA");
        let id = store
            .put_batch(None, ALERT_ON_CHANGE, T0)
            .await
            .expect("add");
        assert_eq!(
            store.batch(id).await.expect("read").expect("there").name,
            "partners"
        );
        let plain = checktls_batch::store::open(&url).await;
        assert!(
            plain.is_err(),
            "the server refuses a connection without TLS"
        );
        let unverified = checktls_batch::store::open(&format!("{url}?sslmode=require")).await;
        let e = unverified.expect_err("a certificate from an unknown CA is refused");
        assert!(e.to_string().contains("TLS handshake"), "{e}");
        let wrong = format!("{url}?sslmode=require&sslrootcert={}", wrong.display());
        assert!(checktls_batch::store::open(&wrong).await.is_err());
    });
    drop(rt);
    drop(pg);
}

async fn a_stored_batch_keeps_no_password_in_clear(db: Db) {
    let store = db.open().await;
    let clear = r#"<BatchTest TestType="receiver">
  <Target AuthUser="bob" AuthPass="hunter2">a.example</Target>
</BatchTest>"#;
    let e = store.put_batch(None, clear, T0).await.expect_err("refused");
    let text = e.to_string();
    assert!(
        text.starts_with("2:3:") && text.contains("ct:AuthPassEnv"),
        "{text}"
    );
    assert!(!text.contains("hunter2"));
    let by_env = r#"<BatchTest TestType="receiver" xmlns:ct="urn:checktls-rs:batch:1">
  <Target AuthUser="bob" ct:AuthPassEnv="PARTNER_PW">a.example</Target>
</BatchTest>"#;
    let id = store.put_batch(None, by_env, T0).await.expect("stored");
    let stored = store.batches().await.expect("batches");
    let b = stored.iter().find(|b| b.id == id).expect("the batch");
    let debug = format!("{b:?}");
    assert!(
        !debug.contains("AuthUser") && debug.contains("bytes"),
        "{debug}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_history_and_results_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new("modes");
    let path = dir.0.join("h.db");
    // A file left readable by others from before is made owner-only too.
    std::fs::write(&path, b"").expect("create");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let store = checktls_batch::store::open(path.to_str().expect("path"))
        .await
        .expect("open");
    store
        .put_batch(None, ALERT_ON_CHANGE, T0)
        .await
        .expect("add");
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
