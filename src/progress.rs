//! What a receiver test reports while it runs: the hosts it will probe, then each stage and
//! each transcript line of each host as it happens. For live views (the web page streams
//! these); the report at the end holds everything again.
//!
//! ```text
//!   Run::check_with_progress(target, progress)
//!     plan  ─► Progress::Planned { hosts }                        once, after DNS
//!     probe ─► Progress::Line  { host, line }                     each transcript line, [SSS.mmm]
//!           ─► Progress::Stage { host, stage, ok, ms }            each stage as it ends
//!           ─► Progress::HostDone { host }                        the host's dialog is over
//!     (judge, fetch, score) ─► the ReceiverReport returned
//! ```
//!
//! The sink is called on the probes' tasks: keep it quick (send into a channel).
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use checktls::progress::{Progress, ProgressSink};
//!
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let sink = {
//!     let seen = seen.clone();
//!     ProgressSink::new(move |p: Progress| seen.lock().unwrap().push(p))
//! };
//! sink.send(Progress::Planned { hosts: Vec::new() });
//! assert_eq!(seen.lock().unwrap().len(), 1);
//! ```

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::smtp::{Direction, Event, ProbeObserver, StageResult};

/// Which host a progress event is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct HostKey {
    /// The MX host name (or the address, for an address target).
    pub name: String,
    /// The MX preference.
    pub preference: u16,
    /// The address probed.
    pub address: Option<IpAddr>,
    /// The port.
    pub port: u16,
}

impl HostKey {
    /// A host key, for views and tests that make their own events.
    pub fn new(
        name: impl Into<String>,
        preference: u16,
        address: Option<IpAddr>,
        port: u16,
    ) -> Self {
        Self {
            name: name.into(),
            preference,
            address,
            port,
        }
    }
}

impl std::fmt::Display for HostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.address {
            Some(a) => write!(f, "{}[{a}]:{}", self.name, self.port),
            None => write!(f, "{}[unresolvable]:{}", self.name, self.port),
        }
    }
}

/// How a transcript line travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LineKind {
    /// We sent it in plaintext (`-->`).
    Sent,
    /// We received it in plaintext (`<--`).
    Received,
    /// We sent it over TLS (`~~>`).
    SentEncrypted,
    /// We received it over TLS (`<~~`).
    ReceivedEncrypted,
    /// A note of the tester's.
    Note,
}

impl From<Direction> for LineKind {
    fn from(d: Direction) -> Self {
        match d {
            Direction::Sent => Self::Sent,
            Direction::Received => Self::Received,
            Direction::SentEncrypted => Self::SentEncrypted,
            Direction::ReceivedEncrypted => Self::ReceivedEncrypted,
            Direction::Note => Self::Note,
        }
    }
}

/// One thing that happened during a receiver test.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// DNS said where mail goes: the hosts that will be probed (and those reported only).
    Planned {
        /// Every host of the plan, in preference order; `probed` false when it is reported
        /// but not probed (no address, not global, over a cap).
        hosts: Vec<(HostKey, bool)>,
    },
    /// A transcript line of a host, as CheckTLS prints it (`[SSS.mmm] --> EHLO ...`). The
    /// text is the peer's or ours unescaped: escape it for the medium it is shown in.
    Line {
        /// The host.
        host: HostKey,
        /// How it travelled.
        kind: LineKind,
        /// The rendered line.
        line: String,
    },
    /// A stage of a host ended. The `cert` stage here says a certificate was presented; the
    /// report's says whether it was acceptable.
    Stage {
        /// The host.
        host: HostKey,
        /// `answer`, `connect`, `ehlo`, `tls_offered`, `cert`, `secure`, `mail_from`, ...
        stage: &'static str,
        /// Whether it passed.
        ok: bool,
        /// How long it took.
        ms: u64,
    },
    /// The host's dialog is over (judging and scoring follow).
    HostDone {
        /// The host.
        host: HostKey,
    },
}

/// Where progress goes: a function called with each event. Cheap to clone.
#[derive(Clone)]
pub struct ProgressSink(Arc<dyn Fn(Progress) + Send + Sync>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

impl ProgressSink {
    /// A sink calling `f` with each event.
    pub fn new(f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Reports one event.
    pub fn send(&self, p: Progress) {
        (self.0)(p);
    }
}

/// The SMTP driver's observer for one host, turning its lines and stages into [`Progress`].
#[derive(Debug)]
pub(crate) struct HostObserver {
    pub(crate) host: HostKey,
    pub(crate) sink: ProgressSink,
}

impl ProbeObserver for HostObserver {
    fn line(&self, _address: SocketAddr, event: &Event) {
        self.sink.send(Progress::Line {
            host: self.host.clone(),
            kind: event.direction.into(),
            line: event.render(),
        });
    }

    fn stage(&self, _address: SocketAddr, stage: StageResult) {
        self.sink.send(Progress::Stage {
            host: self.host.clone(),
            stage: stage.stage.name(),
            ok: stage.ok,
            ms: stage.ms,
        });
    }
}
