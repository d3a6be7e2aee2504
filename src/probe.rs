//! One MX address probed: the SMTP dialog over TLS (checktls-smtp), with the options of the
//! receiver test.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use crate::clock::unix;
use crate::options::{AuthCredentials, LegacyProbe, ReceiverOptions, StopAfter};
use crate::plan::HostPlan;
use crate::smtp::{self, PeerCheck, PeerIdentity, ProbeOptions, SmtpRecord, Stage, Timeouts};
use crate::tls::TlsFacts;
use crate::tls::TrustStore;
use crate::tls::cert::{CertPolicy, evaluate};
use crate::tls::dane::{self, DaneStatus};

/// The check that decides whether AUTH credentials may go to a host: a DANE match on
/// DNSSEC-secure TLSA records (RFC 7672), or a chain to a trusted anchor that names the host
/// and is current (the strict check, as a mail client submitting a message makes).
#[derive(Debug)]
pub(crate) struct AuthGate {
    pub(crate) trust: Arc<TrustStore>,
    pub(crate) plan: HostPlan,
    /// The name the certificate must carry (the SNI option, else the host's name).
    pub(crate) name: Option<String>,
    pub(crate) now: SystemTime,
}

impl PeerCheck for AuthGate {
    fn check(&self, facts: &TlsFacts) -> PeerIdentity {
        let now = unix(self.now);
        if let Some(t) = &self.plan.tlsa
            && t.answer.proof.is_secure()
        {
            let base = t.base.to_string();
            let names = [base.as_str(), self.plan.name.as_str()];
            let report = dane::evaluate(
                t.answer.records(),
                &t.answer.proof,
                &facts.chain,
                &names,
                now,
            );
            if report.status == DaneStatus::Matched {
                return PeerIdentity::Verified;
            }
        }
        let Some(name) = self.name.as_deref() else {
            return PeerIdentity::Unverified {
                detail: "there is no host name to check the certificate against (test the host \
                         by name, or give SNI)"
                    .into(),
            };
        };
        let report = evaluate(&facts.chain, &CertPolicy::new(&self.trust, Some(name), now));
        if report.is_acceptable() {
            PeerIdentity::Verified
        } else {
            PeerIdentity::Unverified {
                detail: report.most_specific().map_or_else(
                    || "the certificate was not acceptable".to_owned(),
                    ToString::to_string,
                ),
            }
        }
    }
}

/// What identifies a probe within a run: the same address, port, name and recipient are probed
/// once however many targets share them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ProbeKey {
    pub(crate) address: SocketAddr,
    pub(crate) name: String,
    pub(crate) rcpt: Option<String>,
}

/// A probe's record.
#[derive(Debug)]
pub(crate) struct HostProbe {
    pub(crate) record: SmtpRecord,
    /// What the legacy ClientHello prober found, when it ran (rustls could not negotiate, or
    /// the sslprobe level asked for it).
    pub(crate) legacy: Option<crate::tls::probe::ProbeReport>,
    /// The server said "come back later" (a 4xx greeting, a 421 anywhere) on every try.
    pub(crate) busy: bool,
    /// Tries made (1 when the first was not refused as busy) and the time spent waiting
    /// between them.
    pub(crate) tries: u32,
    pub(crate) waited: std::time::Duration,
    /// The facts are another name's at the same address and port, reused because the server
    /// presents the same certificate whatever the SNI: that name.
    pub(crate) reused_from: Option<String>,
}

impl HostProbe {
    pub(crate) fn answered(&self) -> bool {
        self.record.passed(Stage::Answer)
    }
}

/// The message sent with `send_email`.
fn test_message(opts: &ReceiverOptions, rcpt: Option<&str>) -> Vec<u8> {
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: checktls test message\r\n\
         Message-ID: <checktls-{pid}@checktls.invalid>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         This message was sent by checktls to test that mail to this address travels \
         encrypted.\r\n",
        from = opts.mail_from,
        to = rcpt.unwrap_or("postmaster"),
        pid = std::process::id(),
    )
    .into_bytes()
}

/// The checktls-smtp options for one address.
pub(crate) fn probe_options(
    opts: &ReceiverOptions,
    plan: &HostPlan,
    rcpt: Option<&str>,
) -> ProbeOptions {
    let mut p = ProbeOptions::default();
    let s = &mut p.session;
    s.ehlo_name = opts.ehlo_name.clone();
    s.mail_from = opts.mail_from.clone();
    s.rcpt_to = rcpt.map(str::to_owned);
    s.stop_after = opts.stop_after;
    if opts.send_email && rcpt.is_some() {
        s.stop_after = StopAfter::Data;
        s.message = Some(test_message(opts, rcpt));
    }
    s.timeouts = Timeouts::uniform(opts.timeout);
    s.tls_mode = opts.tls_mode;
    s.plaintext_mail_from = opts.assure_tls;
    s.auth = opts.auth.as_ref().map(AuthCredentials::to_smtp);
    s.danger_auth_over_unverified_tls = opts.danger_auth_over_unverified_tls;
    // SNI: the option, else the MX name (never an address literal).
    p.tls.sni = opts.sni.clone().or_else(|| {
        plan.name
            .parse::<std::net::IpAddr>()
            .is_err()
            .then(|| plan.name.trim_end_matches('.').to_owned())
    });
    p.tls.versions = opts.tls_versions;
    p.tls.cipher_suites = opts.cipher_suites.clone();
    p.tls.client_certificate = opts.client_certificate.clone();
    p.socks5 = opts.socks5.map(|proxy| smtp::Socks5 {
        proxy,
        credentials: None,
    });
    p.record_raw = opts.record_raw;
    p
}

/// Probes one address. `gate` decides whether AUTH credentials may be sent (needed only when
/// the options carry credentials); `observer` is told of each line and stage as they come.
pub(crate) async fn probe_host(
    opts: &ReceiverOptions,
    plan: &HostPlan,
    key: &ProbeKey,
    gate: Option<Arc<dyn PeerCheck>>,
    observer: Option<Arc<dyn crate::smtp::ProbeObserver>>,
) -> HostProbe {
    let mut options = probe_options(opts, plan, key.rcpt.as_deref());
    options.peer_check = gate;
    options.observer = observer;
    let record = smtp::probe(key.address, &options).await;
    let busy = record.outcome.is_busy();
    // The legacy prober is for a version or suite refusal alone: a server that chose a
    // version and then aborted the handshake would only show the prober its first flight.
    let refused = record
        .tls_failure
        .as_ref()
        .is_some_and(|f| f.kind.is_refusal());
    let legacy = match opts.legacy_probe {
        LegacyProbe::Full => Some(legacy_probe(key.address, &options, opts).await),
        LegacyProbe::WhenRefused if refused => {
            Some(legacy_probe(key.address, &options, opts).await)
        }
        LegacyProbe::WhenRefused | LegacyProbe::Never => None,
    };
    HostProbe {
        record,
        legacy,
        busy,
        tries: 1,
        waited: std::time::Duration::ZERO,
        reused_from: None,
    }
}

/// Runs the raw ClientHello prober over fresh connections positioned by the SMTP dialog (after
/// the 220 to STARTTLS, or at connect with direct TLS).
async fn legacy_probe(
    address: SocketAddr,
    options: &ProbeOptions,
    opts: &ReceiverOptions,
) -> crate::tls::probe::ProbeReport {
    let mut smtp_options = options.clone();
    smtp_options.record_raw = false;
    smtp_options.observer = None;
    smtp_options.session.auth = None;
    let opener = move || {
        let o = smtp_options.clone();
        async move {
            smtp::open_for_tls(address, &o)
                .await
                .map(|(stream, _)| stream)
                .map_err(|r| {
                    std::io::Error::other(format!("the SMTP dialog stopped: {:?}", r.outcome))
                })
        }
    };
    // The sslprobe level: every suite, group and check; otherwise (rustls could not
    // negotiate) the versions and their preferred suites alone. One connection at a time: the
    // probe runs under one of the address's politeness permits.
    let mut p = if opts.legacy_probe == LegacyProbe::Full {
        crate::tls::probe::ProbeOptions::default()
    } else {
        crate::tls::probe::ProbeOptions::versions_only()
    };
    p.sni = options.tls.sni.clone();
    p.timeout = opts.timeout;
    p.parallel = 1;
    crate::tls::probe::probe(&opener, &p).await
}
