//! The fleet's cost: the work queue's own overhead per job (a run of 500 instant tests through
//! the queue, on SQLite and on PostgreSQL, against the same run in-process), and targets per
//! second with 1, 2 and 3 `checktls worker` processes sharing one PostgreSQL, against 300
//! lab receivers on loopback that answer each greeting after 50 ms (a remote MX's round
//! trips). Needs PostgreSQL from Debian; run as root it starts it as `nobody`.
//!
//! `cargo bench --bench fleet`
//!
//! ```text
//!   queue/in-process 500      run::run, a scripted executor: no store at all
//!   queue/sqlite 500          queue_run + one Worker (concurrency 8) draining an SQLite file
//!   queue/postgres 500        the same on PostgreSQL (fsync off: the queue's work, not the disk's)
//!   workers/N 300 targets     N worker processes, concurrency 4 each, one run of 300 targets
//! ```
//!
//! On the project's 2-core machine the workers, PostgreSQL and the receivers share the two
//! cores, so more workers help only while the tests wait on the network (the 50 ms hold),
//! not once the cores are busy.

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use checktls::batch::delivery::DeliveryConfig;
use checktls::batch::fleet::{Worker, WorkerOptions, queue_run};
use checktls::batch::history::{RunStatus, SqliteStore};
use checktls::batch::run::{RunOptions, run};
use checktls::batch::scripted::{NoMailer, ScriptedExecutor};
use checktls::batch::store::{Store, WorkerInfo};
use checktls_lab::postgres::{Postgres, PostgresConfig};
use checktls_lab::smtp::{Posture, SmtpReceiver};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use time::OffsetDateTime;

const JOBS: usize = 500;

fn instant_batch(n: usize) -> (String, ScriptedExecutor) {
    let mut xml = String::from(r#"<BatchTest TestType="receiver">"#);
    let mut exec = ScriptedExecutor::new();
    for i in 0..n {
        xml.push_str(&format!("<Target>t{i}.example</Target>"));
        exec = exec.graded(&format!("t{i}.example"), 114);
    }
    xml.push_str("</BatchTest>");
    (xml, exec)
}

/// One queued run of the instant batch, drained by one worker; returns the time it took.
async fn drain(store: Arc<dyn Store>, batch: i64) -> Duration {
    let mut options = WorkerOptions::default();
    options.poll = Duration::from_millis(1);
    let worker = Worker::new(
        store.clone(),
        WorkerInfo::this_process(),
        |_| instant_batch(JOBS).1,
        NoMailer,
        DeliveryConfig::new(std::env::temp_dir(), "bench@example.invalid"),
        options,
    );
    let start = Instant::now();
    queue_run(&*store, batch, None, OffsetDateTime::now_utc())
        .await
        .expect("queue");
    worker.drain().await.expect("drain");
    start.elapsed()
}

fn queue(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (xml, exec) = instant_batch(JOBS);
    let batch = checktls::batch::parse(&xml).expect("parse");
    let mut group = c.benchmark_group("queue");
    group.sample_size(10);
    group.throughput(Throughput::Elements(JOBS as u64));
    group.bench_function("in-process 500", |b| {
        b.iter(|| rt.block_on(run(&batch, &exec, &RunOptions::default(), |_| {})))
    });

    let dir = std::env::temp_dir().join(format!("checktls-bench-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let sqlite: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.join("queue.db")).expect("sqlite"));
    let pg = Postgres::start(PostgresConfig::new("127.0.0.1".parse().expect("ip")))
        .expect("PostgreSQL (Debian package postgresql)");
    pg.create_database("bench").expect("database");
    let postgres = rt
        .block_on(checktls::batch::store::open(&pg.url("bench")))
        .expect("postgres");
    for (name, store) in [("sqlite 500", sqlite), ("postgres 500", postgres)] {
        let id = rt
            .block_on(store.put_batch(None, &xml, OffsetDateTime::now_utc()))
            .expect("add");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += rt.block_on(drain(store.clone(), id));
                }
                total
            })
        });
    }
    group.finish();
    drop(pg);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Ends the worker processes (by pid) when dropped.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
        }
        for c in &mut self.0 {
            let _ = c.wait();
        }
    }
}

fn workers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // 300 targets: 30 loopback addresses × 10 ports, each greeting after 50 ms.
    let mut receivers = Vec::new();
    let mut xml = String::from(r#"<BatchTest TestType="receiver">"#);
    for a in 0..30u8 {
        let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 18, 10 + a));
        for _ in 0..10 {
            let rx = rt
                .block_on(SmtpReceiver::start(
                    (ip, 0).into(),
                    Posture::plain().hold(Duration::from_millis(50)),
                ))
                .expect("receiver");
            xml.push_str(&format!(
                "<Target Port=\"{}\">{ip}</Target>",
                rx.addr().port()
            ));
            receivers.push(rx);
        }
    }
    xml.push_str("</BatchTest>");
    let pg = Postgres::start(PostgresConfig::new("127.0.0.1".parse().expect("ip")))
        .expect("PostgreSQL (Debian package postgresql)");
    let mut group = c.benchmark_group("workers");
    group.sample_size(10);
    group.throughput(Throughput::Elements(300));
    for n in 1..=3 {
        let db = format!("workers{n}");
        pg.create_database(&db).expect("database");
        let url = pg.url(&db);
        let store = rt
            .block_on(checktls::batch::store::open(&url))
            .expect("store");
        let id = rt
            .block_on(store.put_batch(None, &xml, OffsetDateTime::now_utc()))
            .expect("add");
        let fleet = Workers(
            (0..n)
                .map(|k| {
                    Command::new(env!("CARGO_BIN_EXE_checktls"))
                        .args(["worker", "--db", &url, "--name", &format!("bench{k}")])
                        .args(["--concurrency", "4", "--poll-ms", "20", "--timeout", "5"])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .expect("worker")
                })
                .collect(),
        );
        group.bench_function(format!("{n} worker(s), 300 targets"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let run = rt
                        .block_on(queue_run(&*store, id, None, OffsetDateTime::now_utc()))
                        .expect("queue")
                        .expect("queued");
                    loop {
                        let done = rt
                            .block_on(store.runs(id, 1))
                            .expect("runs")
                            .first()
                            .is_some_and(|r| r.id == run && r.status == RunStatus::Complete);
                        if done {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    total += start.elapsed();
                }
                total
            })
        });
        drop(fleet);
    }
    group.finish();
    drop(pg);
    drop(receivers);
}

criterion_group!(benches, queue, workers);
criterion_main!(benches);
