//! The prober's thin tokio driver: runs the planner's steps over fresh connections, at most
//! `parallel` at once, each bounded in time.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::ProbeReport;
use super::exchange::{Conversation, Ending, Next, Outcome};
use super::plan::{PlanOptions, Planner, Step};
use crate::net::BoxStream;
use crate::version::TlsVersion;

/// Opens a fresh connection positioned for a ClientHello.
pub trait StreamOpener: Send + Sync {
    /// Opens it.
    fn open(&self) -> Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + '_>>;
}

impl<F, Fut> StreamOpener for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = io::Result<BoxStream>> + Send + 'static,
{
    fn open(&self) -> Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + '_>> {
        Box::pin(self())
    }
}

/// How far a probe has got, for a progress display.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Connections finished.
    pub done: usize,
    /// Connections started.
    pub started: usize,
    /// What the last finished connection was for.
    pub label: String,
}

/// A progress callback.
#[derive(Clone)]
#[allow(clippy::exhaustive_structs)] // a newtype over the callback, built by callers
pub struct ProgressFn(pub Arc<dyn Fn(&Progress) + Send + Sync>);

impl fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressFn")
    }
}

/// What to probe, and the bounds.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProbeOptions {
    /// The versions to try. Default: all six, newest first.
    pub versions: Vec<TlsVersion>,
    /// The SNI name.
    pub sni: Option<String>,
    /// How long one connection may take (open, hello, answer). Default: 10 s.
    pub timeout: Duration,
    /// How long the whole probe may take; steps not started by then are not run and the
    /// report says what is missing. Default: 120 s.
    pub deadline: Duration,
    /// The most suites listed per accepted version (each costs a connection). Default: all.
    pub max_suites: usize,
    /// The most connections in all. Default: 1000.
    pub max_connections: usize,
    /// Connections at once (politeness: at most this many to the one address). Default: 2.
    pub parallel: usize,
    /// Enumerate groups. Default: true.
    pub groups: bool,
    /// Test the server's preference. Default: true.
    pub preference: bool,
    /// Run the vulnerability checks. Default: true.
    pub checks: bool,
    /// Send SSLv3 to TLS 1.2 ClientHellos in the SSLv2-compatible format (RFC 5246 appendix
    /// E.2, no extensions), as very old clients did. Default: false.
    pub ssl2_compatible: bool,
    /// Called after each connection (e.g. to draw a progress line on a terminal).
    pub progress: Option<ProgressFn>,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        let plan = PlanOptions::default();
        Self {
            versions: plan.versions,
            sni: None,
            timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(120),
            max_suites: usize::MAX,
            max_connections: plan.max_connections,
            parallel: 2,
            groups: true,
            preference: true,
            checks: true,
            ssl2_compatible: false,
            progress: None,
        }
    }
}

impl ProbeOptions {
    /// Only the versions and each version's preferred suite: what a receiver test needs when
    /// rustls could not negotiate (one connection per version).
    pub fn versions_only() -> Self {
        Self {
            max_suites: 1,
            groups: false,
            preference: false,
            checks: false,
            ..Self::default()
        }
    }

    fn plan(&self) -> PlanOptions {
        PlanOptions {
            versions: self.versions.clone(),
            sni: self.sni.clone(),
            max_suites: self.max_suites.max(1),
            max_connections: self.max_connections,
            groups: self.groups,
            preference: self.preference,
            checks: self.checks,
            ssl2_compatible: self.ssl2_compatible,
        }
    }
}

fn random() -> [u8; 32] {
    use ring::rand::SecureRandom;
    let mut r = [0u8; 32];
    let _ = ring::rand::SystemRandom::new().fill(&mut r);
    r
}

/// Runs one conversation over a fresh stream, within `timeout`.
pub(crate) async fn converse(
    opener: &dyn StreamOpener,
    mut conversation: Box<dyn Conversation>,
    timeout: Duration,
) -> Outcome {
    let work = async {
        let mut s = match opener.open().await {
            Ok(s) => s,
            Err(e) => return Ending::Failed(format!("connect: {e}")),
        };
        let first = conversation.start(random());
        if let Err(e) = s.write_all(&first).await {
            return Ending::Failed(format!("write: {e}"));
        }
        let _ = s.flush().await;
        let mut buf = vec![0u8; 16384];
        loop {
            let n = match s.read(&mut buf).await {
                Ok(0) => return Ending::Closed,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ending::Closed,
                Err(e) => return Ending::Failed(format!("read: {e}")),
            };
            match conversation.input(buf.get(..n).unwrap_or_default()) {
                Next::Wait => {}
                Next::Done => return Ending::Done,
                Next::Send(bytes) => {
                    if s.write_all(&bytes).await.is_err() {
                        return Ending::Closed;
                    }
                    let _ = s.flush().await;
                }
            }
        }
    };
    let ending = match tokio::time::timeout(timeout, work).await {
        Ok(e) => e,
        Err(_) => Ending::TimedOut {
            ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        },
    };
    conversation.finish(ending)
}

type Running<'a> = Pin<Box<dyn Future<Output = (Step, Outcome)> + Send + 'a>>;

/// Probes every version of `options`: every suite each accepts (offer all, remove the one
/// chosen, repeat), whose preference, the groups, the certificates and the checks. At most
/// `options.parallel` connections at once and `options.max_connections` in all, each bounded
/// by `options.timeout`, the whole by `options.deadline`.
pub async fn probe(opener: &dyn StreamOpener, options: &ProbeOptions) -> ProbeReport {
    let started = Instant::now();
    let mut planner = Planner::new(options.plan());
    let parallel = options.parallel.max(1);
    let mut running: Vec<Running<'_>> = Vec::new();
    let mut done = 0usize;
    loop {
        while running.len() < parallel && started.elapsed() < options.deadline {
            let Some(step) = planner.next_step() else {
                break;
            };
            let conversation = step.probe.conversation();
            let timeout = options.timeout;
            running.push(Box::pin(async move {
                let outcome = converse(opener, conversation, timeout).await;
                (step, outcome)
            }));
        }
        if running.is_empty() {
            break;
        }
        let (step, outcome) = std::future::poll_fn(|cx| {
            for i in 0..running.len() {
                if let Some(f) = running.get_mut(i)
                    && let Poll::Ready(v) = f.as_mut().poll(cx)
                {
                    drop(running.swap_remove(i));
                    return Poll::Ready(v);
                }
            }
            Poll::Pending
        })
        .await;
        done += 1;
        if let Some(p) = &options.progress {
            (p.0)(&super::driver::Progress {
                done,
                started: planner.issued(),
                label: step.label.clone(),
            });
        }
        planner.learn(step.id, outcome);
    }
    let mut report = planner.finish();
    report.connections = done;
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report
}
