//! The receiver test as a batch [`Executor`]: what runs each `Target` of a Batch file.
//!
//! ```text
//!   checktls_batch::run ──► Job { text, target (Host applied), options (DEFAULT applied),
//!                                 test type }
//!                              │
//!        ReceiverExecutor ─────┤ options_for(job): the base ReceiverOptions (the command's
//!                              │   --nameserver, --port, --timeout, ...) + the target's
//!                              │   attributes (Port, SNI, Auth*, ct:Quick, ct:StopAfter, ...)
//!                              ▼
//!        one Checker per distinct option set (shared DNS cache, politeness), one Run of it
//!        per batch run (shared probes, verdicts, CRLs, policies)
//!                              │ Run::check
//!                              ▼
//!        ReceiverReport ──► outcome(): Outcome::Tested(TargetReport) │ Outcome::NotTested
//! ```
//!
//! A test that ran is [`Outcome::Tested`], even when no host answered or DNS said nothing
//! useful (`dns_failure`): that is the target's result. [`Outcome::NotTested`] is kept for a
//! test that could not be carried out at all: an option it cannot use (`ct:AuthPassEnv`
//! naming a variable that is not set) or a checker that could not be set up. Every target
//! the Batch accepts is one the receiver test can run: both read it with one grammar
//! ([`target`](crate::target)), and the Batch's `Host` attribute is already the target's
//! given host.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use checktls::ReceiverOptions;
//! use checktls::batch::run::{RunOptions, run};
//! use checktls::executor::ReceiverExecutor;
//!
//! let batch = checktls::batch::parse(
//!     r#"<BatchTest TestType="receiver"><Target>example.com</Target></BatchTest>"#,
//! )?;
//! let executor = ReceiverExecutor::new(ReceiverOptions::default());
//! let result = run(&batch, &executor, &RunOptions::default(), |_| {}).await;
//! println!("Total {:?}", result.total.value);
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::Mutex;

use crate::batch::model::{AuthType, IpFamily, Limit, TargetOptions, TestType};
use crate::batch::report::{CertRow, MxRow, Outcome, StageRow, TargetReport};
use crate::batch::run::{Executor, Job};
use crate::dns::MxLimit;
use crate::dns::discovery::IpChoice;
use crate::options::{AuthCredentials, ReceiverOptions, StopAfter};
use crate::report::{ReceiverReport, Severity};
use crate::tls::TrustStore;
use crate::tls::net::Connector;
use crate::{Checker, Run};

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Runs each batch job as a receiver test. Jobs with the same effective options share one
/// [`Checker`] and one [`Run`], so an address tested for several targets is probed once and
/// the politeness limits (connections per address) hold across the batch.
///
/// One executor is one batch run: what it observed (probes, revocation verdicts, CRLs,
/// MTA-STS policies) is reused by its later jobs. A service that runs batches on a schedule
/// takes [`ReceiverExecutor::fresh`] for each run: the same checkers (resolver, politeness),
/// new observations.
pub struct ReceiverExecutor {
    base: ReceiverOptions,
    trust: Option<TrustStore>,
    https: Option<Arc<dyn Connector>>,
    clock: Option<Clock>,
    gate: Option<Arc<dyn crate::fleet::AddressGate>>,
    checkers: Mutex<Vec<(Profile, Checker, Run)>>,
}

impl std::fmt::Debug for ReceiverExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverExecutor")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// What makes two jobs need different checkers: the target's options (Count aside) and the
/// test type.
#[derive(Clone, PartialEq)]
struct Profile {
    test_type: TestType,
    options: TargetOptions,
}

impl ReceiverExecutor {
    /// An executor whose targets start from `base` (the command's environment options:
    /// name servers, port, timeout, SOCKS5, address family, ...), Mozilla's roots and the
    /// system clock.
    pub fn new(base: ReceiverOptions) -> Self {
        Self {
            base,
            trust: None,
            https: None,
            clock: None,
            gate: None,
            checkers: Mutex::new(Vec::new()),
        }
    }

    /// Trust anchors for certificates instead of Mozilla's roots.
    #[must_use]
    pub fn trust(mut self, trust: TrustStore) -> Self {
        self.trust = Some(trust);
        self
    }

    /// How HTTPS connections (MTA-STS, OCSP, CRL) are opened; see
    /// [`CheckerBuilder::https_connector`](crate::CheckerBuilder::https_connector).
    #[must_use]
    pub fn https_connector(mut self, connector: Arc<dyn Connector>) -> Self {
        self.https = Some(connector);
        self
    }

    /// The clock certificates are judged at.
    #[must_use]
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// An executor for a new batch run: the same options and checkers (resolver, trust,
    /// politeness), and nothing observed yet, so every server is tested afresh.
    pub async fn fresh(&self) -> Self {
        let checkers = self
            .checkers
            .lock()
            .await
            .iter()
            .map(|(p, c, _)| (p.clone(), c.clone(), c.run()))
            .collect();
        Self {
            base: self.base.clone(),
            trust: self.trust.clone(),
            https: self.https.clone(),
            clock: self.clock.clone(),
            gate: self.gate.clone(),
            checkers: Mutex::new(checkers),
        }
    }

    /// Admission to MX addresses shared with other workers (the fleet's leases), for every
    /// checker this executor makes; see [`fleet`](crate::fleet).
    #[must_use]
    pub fn address_gate(mut self, gate: Arc<dyn crate::fleet::AddressGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// The receiver options a job runs with: the base options with the target's attributes
    /// applied. `Err` names an option the receiver test cannot use.
    pub fn options_for(&self, job: &Job) -> Result<ReceiverOptions, String> {
        options_for(&self.base, job.test_type, &job.options)
    }

    async fn run_for(&self, job: &Job) -> Result<Run, String> {
        let mut options = job.options.clone();
        options.count = None;
        let profile = Profile {
            test_type: job.test_type,
            options,
        };
        let mut checkers = self.checkers.lock().await;
        if let Some((_, _, r)) = checkers.iter().find(|(p, _, _)| *p == profile) {
            return Ok(r.clone());
        }
        let opts = self.options_for(job)?;
        let mut builder = Checker::builder(opts);
        if let Some(t) = &self.trust {
            builder = builder.trust(t.clone());
        }
        if let Some(h) = &self.https {
            builder = builder.https_connector(Arc::clone(h));
        }
        if let Some(c) = &self.clock {
            let c = Arc::clone(c);
            builder = builder.clock(move || c());
        }
        if let Some(g) = &self.gate {
            builder = builder.address_gate(Arc::clone(g));
        }
        let checker = builder
            .build()
            .await
            .map_err(|e| format!("the checker could not be set up: {e}"))?;
        let run = checker.run();
        checkers.push((profile, checker, run.clone()));
        Ok(run)
    }
}

impl Executor for ReceiverExecutor {
    async fn execute(&self, job: &Job) -> Outcome {
        // The Batch read the target with the receiver test's grammar and applied its Host
        // attribute: it is the receiver test's target as it is.
        let run = match self.run_for(job).await {
            Ok(r) => r,
            Err(e) => return Outcome::not_tested(e),
        };
        match run.check(&job.target).await {
            Ok(report) => Outcome::Tested(target_report(&job.text, &report)),
            Err(e) => Outcome::not_tested(format!("the test could not be carried out: {e}")),
        }
    }
}

/// The base options with a target's attributes applied.
pub fn options_for(
    base: &ReceiverOptions,
    test_type: TestType,
    t: &TargetOptions,
) -> Result<ReceiverOptions, String> {
    let mut o = base.clone();
    if t.quick == Some(true) {
        let q = ReceiverOptions::quick();
        o.stop_after = q.stop_after;
        o.revocation = q.revocation;
        o.timeout = o.timeout.min(q.timeout);
        o.ignore_no_connect = q.ignore_no_connect;
        o.first_answering_host_only = q.first_answering_host_only;
    }
    if test_type == TestType::AssureTls {
        o.assure_tls = true;
    }
    if let Some(sni) = &t.sni {
        o.sni = Some(sni.clone());
    }
    if let Some(port) = t.port {
        o.port = Some(port);
    }
    if let Some(auth) = t.auth() {
        o.auth = Some(AuthCredentials {
            user: auth.user,
            password: auth.password.expose().to_owned(),
            login: auth.mechanism == AuthType::Login,
        });
    } else if let (Some(user), Some(var)) = (&t.auth_user, &t.auth_pass_env) {
        let password = std::env::var(var)
            .map_err(|_| format!("ct:AuthPassEnv: the environment variable {var} is not set"))?;
        o.auth = Some(AuthCredentials {
            user: user.clone(),
            password,
            login: t.auth_type == Some(AuthType::Login),
        });
    }
    if let Some(v) = t.danger_auth_over_unverified_tls {
        o.danger_auth_over_unverified_tls = v;
    }
    if let Some(d) = t.smtp_timeout {
        o.timeout = d;
    }
    if let Some(mode) = t.tls_mode {
        o.tls_mode = mode;
    }
    if let Some(s) = t.stop_after {
        o.stop_after = s;
    }
    if let Some(l) = t.mx_limit {
        o.mx_limit = match l {
            Limit::Count(n) => MxLimit::Levels(usize::try_from(n).unwrap_or(usize::MAX)),
            Limit::Percent(p) => MxLimit::LevelsPercent(p),
        };
    }
    if let Some(l) = t.host_limit {
        o.host_limit = match l {
            Limit::Count(n) => MxLimit::Hosts(usize::try_from(n).unwrap_or(usize::MAX)),
            Limit::Percent(p) => MxLimit::HostsPercent(p),
        };
    }
    if let Some(v) = t.ignore_no_connect {
        o.ignore_no_connect = v;
    }
    if let Some(v) = t.check_ocsp {
        o.revocation = v;
    }
    if let Some(ip) = t.ip {
        o.ip = match ip {
            IpFamily::Both => IpChoice::Both,
            IpFamily::V4 => IpChoice::V4,
            IpFamily::V6 => IpChoice::V6,
        };
    }
    if let Some(name) = &t.ehlo_name {
        o.ehlo_name = name.clone();
    }
    if let Some(from) = &t.mail_from {
        o.mail_from = from.clone();
    }
    if let Some(v) = t.send_email {
        o.send_email = v;
        if v && o.stop_after < StopAfter::Data {
            o.stop_after = StopAfter::Data;
        }
    }
    if let Some(days) = t.expiry_warning_days {
        o.expiry_warning_days = days;
    }
    if let Some(names) = t.cert_names {
        o.cert_names = names;
    }
    Ok(o)
}

/// The batch-side summary of a receiver report. `text` is the target as the batch wrote it.
pub fn target_report(text: &str, report: &ReceiverReport) -> TargetReport {
    let cf = &report.confidence_factor;
    let mut out = TargetReport::graded(text, report.score());
    out.max = cf.max;
    out.percent = cf.percent;
    out.best_in_class = cf.best_in_class;
    out.duration_ms = report.duration_ms;
    out.findings = report.findings.clone();
    out.dns_failure = report.findings.iter().any(|f| {
        f.severity == Severity::Error && f.code.starts_with("dns.") && f.code != "dns.null_mx"
    });
    out.mx = report
        .mx
        .iter()
        .map(|h| {
            let mut row = MxRow::default();
            row.name = h.name.clone();
            row.preference = h.preference;
            row.address = h.address;
            row.port = h.port;
            row.score = h.score;
            row.stages = h
                .stages
                .iter()
                .map(|s| StageRow {
                    stage: s.stage,
                    ok: s.ok,
                    ms: s.ms,
                })
                .collect();
            row.tls_version = h.tls.as_ref().map(|t| t.version);
            row.cipher = h.tls.as_ref().map(|t| t.cipher.clone());
            row.cert = h.certificate.as_ref().map(|c| CertRow {
                days_to_expiry: c.days_to_expiry,
                expired: c.expired,
                chain_valid: c.chain_valid,
                name_match: c.name_match,
            });
            row.dane = Some(h.dane.status.name().to_owned());
            row.mta_sts = Some(h.mta_sts.verdict.name().to_owned());
            row
        })
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::model::Secret;
    use crate::options::{CertNames, TlsMode};
    use std::time::Duration;

    fn opts(f: impl FnOnce(&mut TargetOptions)) -> TargetOptions {
        let mut t = TargetOptions::default();
        f(&mut t);
        t
    }

    #[test]
    fn attributes_override_the_base() {
        let base = ReceiverOptions {
            port: Some(2525),
            timeout: Duration::from_secs(20),
            ..ReceiverOptions::default()
        };
        let t = opts(|t| {
            t.sni = Some("mx.example".into());
            t.smtp_timeout = Some(Duration::from_secs(5));
            t.stop_after = Some(crate::batch::model::StopAfter::Ehlo2);
            t.mx_limit = Some(Limit::Count(1));
            t.host_limit = Some(Limit::Percent(50));
            t.ip = Some(IpFamily::V6);
            t.check_ocsp = Some(false);
            t.auth_type = Some(AuthType::Login);
            t.auth_user = Some("u".into());
            t.auth_pass = Some(Secret::new("s3cret"));
            t.tls_mode = Some(TlsMode::Compel);
            t.cert_names = Some(CertNames::MxHostOrDomain);
        });
        let o = options_for(&base, TestType::Receiver, &t).expect("options");
        assert_eq!(o.port, Some(2525), "a base option the target leaves alone");
        assert_eq!(o.sni.as_deref(), Some("mx.example"));
        assert_eq!(o.timeout, Duration::from_secs(5));
        assert_eq!(o.stop_after, StopAfter::Ehlo2);
        assert_eq!(o.mx_limit, MxLimit::Levels(1));
        assert_eq!(o.host_limit, MxLimit::HostsPercent(50));
        assert_eq!(o.ip, IpChoice::V6);
        assert!(!o.revocation && !o.assure_tls);
        assert_eq!(o.tls_mode, TlsMode::Compel);
        assert_eq!(o.cert_names, CertNames::MxHostOrDomain);
        let auth = o.auth.expect("auth");
        assert!(auth.login && auth.user == "u" && auth.password == "s3cret");
        assert!(!format!("{auth:?}").contains("s3cret"));
    }

    #[test]
    fn quick_and_assure_tls() {
        let base = ReceiverOptions::default();
        let o = options_for(&base, TestType::AssureTls, &opts(|t| t.quick = Some(true)))
            .expect("options");
        assert!(o.assure_tls && o.first_answering_host_only && o.ignore_no_connect);
        assert_eq!(o.stop_after, StopAfter::Ehlo2);
        assert_eq!(o.timeout, Duration::from_secs(11));
        let o = options_for(
            &base,
            TestType::Receiver,
            &opts(|t| t.send_email = Some(true)),
        )
        .expect("options");
        assert_eq!(o.stop_after, StopAfter::Data);
    }
}
