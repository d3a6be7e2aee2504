//! From what was recorded to judgements (checktls-tls, pure) and score evidence. Nothing here
//! does I/O or reads a clock: the facts, the options, the trust anchors and the time come in;
//! the host's report and its score evidence go out.
//!
//! ```text
//!   probe facts ─► assess(): certificate (chain, name: the MX host's, or also the mail
//!                  domain's under CertNames::MxHostOrDomain, dates), DANE, the revocation issuer
//!               ─► (fetch.rs: revocation with that issuer)
//!               ─► host_report(): stages, TLS, certificate, DANE, MTA-STS, revocation, evidence
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use rustls_pki_types::CertificateDer;

use crate::clock::unix;
use crate::dns::DomainName;
use crate::options::{CertNames, LegacyProbe, ReceiverOptions};
use crate::plan::{HostPlan, Skip};
use crate::probe::HostProbe;
use crate::report::{
    CertificateView, DaneState, DaneView, Finding, HostMtaSts, HostReport, MtaStsReport,
    MtaStsVerdict, RevocationState, RevocationView, Severity, StageView, TlsSource, TlsView,
};
use crate::score::{
    CertEvidence, CipherEvidence, DaneEvidence, HostEvidence, HostScore, MtaStsEvidence,
    SignatureHash, StsMode, TlsEvidence,
};
use crate::smtp::{Finding as SmtpFinding, Outcome, Stage};
use crate::tls::TrustStore;
use crate::tls::cert::{CertPolicy, CertReport, CertSummary, evaluate, summarize};
use crate::tls::dane::{self, DaneReport, DaneStatus};
use crate::tls::mta_sts::{Mode, Policy};
use crate::tls::revocation::Revocation;

/// What the judgements need besides the facts.
pub(crate) struct JudgeContext<'a> {
    pub(crate) options: &'a ReceiverOptions,
    pub(crate) trust: &'a TrustStore,
    pub(crate) now: SystemTime,
    pub(crate) certs: &'a CertMemo,
    /// The target's mail domain (none for an IP target): a certificate may name it when the
    /// options accept that ([`CertNames::MxHostOrDomain`]).
    pub(crate) domain: Option<&'a DomainName>,
}

/// Certificate judgements already made with this checker's trust anchors, by their inputs: the
/// chain (its SHA-256), the expected name and the alternative one, the time in whole seconds (the granularity of the
/// judgement's clock) and the expiry warning. [`evaluate`] is a pure function of these, so
/// a hit is the judgement itself, not an observation carried over; a batch of addresses at a
/// few MX hosts verifies each chain's signatures once per second instead of once per
/// address. Bounded: emptied when full.
#[derive(Default)]
pub(crate) struct CertMemo {
    made: Mutex<HashMap<CertKey, CertReport>>,
    /// The summaries of a chain's certificates, by the chain's SHA-256.
    summaries: Mutex<HashMap<[u8; 32], Vec<CertSummary>>>,
}

fn chain_digest(chain: &[CertificateDer<'_>]) -> [u8; 32] {
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    for c in chain {
        h.update(&(c.len() as u64).to_be_bytes());
        h.update(c.as_ref());
    }
    let mut digest = [0u8; 32];
    digest.copy_from_slice(h.finish().as_ref());
    digest
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct CertKey {
    chain: [u8; 32],
    name: Option<String>,
    alternative_name: Option<String>,
    now: u64,
    expiry_warning_days: u32,
}

/// The most judgements a [`CertMemo`] holds.
const CERT_MEMO_LIMIT: usize = 1024;

impl CertMemo {
    /// [`evaluate`], or the judgement it made before on the same inputs. The key holds every
    /// field of the policy: one added to `CertPolicy` must be added here.
    fn evaluate(&self, chain: &[CertificateDer<'_>], policy: &CertPolicy<'_>) -> CertReport {
        let key = CertKey {
            chain: chain_digest(chain),
            name: policy.name.map(str::to_owned),
            alternative_name: policy.alternative_name.map(str::to_owned),
            now: policy.now.as_secs(),
            expiry_warning_days: policy.expiry_warning_days,
        };
        if let Some(made) = lock(&self.made).get(&key) {
            return made.clone();
        }
        let report = evaluate(chain, policy);
        let mut made = lock(&self.made);
        if made.len() >= CERT_MEMO_LIMIT {
            made.clear();
        }
        made.insert(key, report.clone());
        report
    }

    /// [`summarize`] of each certificate of the chain (those that parse), made once per chain.
    fn summaries(&self, chain: &[CertificateDer<'_>]) -> Vec<CertSummary> {
        let key = chain_digest(chain);
        if let Some(made) = lock(&self.summaries).get(&key) {
            return made.clone();
        }
        let made: Vec<CertSummary> = chain
            .iter()
            .enumerate()
            .filter_map(|(depth, der)| summarize(depth, der))
            .collect();
        let mut all = lock(&self.summaries);
        if all.len() >= CERT_MEMO_LIMIT {
            all.clear();
        }
        all.insert(key, made.clone());
        made
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// What the pure judgements of a host's chain say, before any fetch.
pub(crate) struct Assessment {
    /// The chain seen (by rustls, or before a failure, or by the legacy prober).
    pub(crate) chain: Vec<CertificateDer<'static>>,
    /// The stapled OCSP response.
    pub(crate) stapled: Option<Vec<u8>>,
    /// The certificate judgement, when a chain was seen.
    pub(crate) cert: Option<CertReport>,
    /// DANE, when TLSA was looked up.
    pub(crate) dane: Option<DaneReport>,
}

impl Assessment {
    /// The certificate that issued the leaf in a path that validated: to a trust anchor, or
    /// from a DANE-TA match (RFC 7672 §3.1.1). `Err` says why revocation cannot be checked.
    pub(crate) fn revocation_issuer(&self) -> Result<&CertificateDer<'static>, &'static str> {
        if let Some(issuer) = self.cert.as_ref().and_then(|c| c.issuer.as_ref()) {
            return Ok(issuer);
        }
        let dane_ta = self.dane.as_ref().and_then(|d| {
            d.matched
                .as_ref()
                .filter(|m| d.status == DaneStatus::Matched && m.depth >= 1)
                .filter(|m| m.record.starts_with("2 "))
        });
        if dane_ta.is_some() {
            return self
                .chain
                .get(1)
                .ok_or("the DANE trust anchor's certificate is missing");
        }
        if self.cert.as_ref().is_some_and(|c| c.chain_valid) {
            Err("the issuer is a trust anchor known only by name and key")
        } else {
            Err(
                "the chain does not validate to a trusted anchor, so its revocation URLs are not followed",
            )
        }
    }
}

/// The chain a probe saw and the stapled response.
fn chain_of(probe: &HostProbe) -> (Vec<CertificateDer<'static>>, Option<Vec<u8>>) {
    let r = &probe.record;
    match (&r.tls, &r.tls_failure) {
        (Some(f), _) => (f.chain.clone(), f.stapled_ocsp.clone()),
        (None, Some(f)) if !f.partial.chain.is_empty() => {
            (f.partial.chain.clone(), f.partial.stapled_ocsp.clone())
        }
        _ => (
            probe
                .legacy
                .as_ref()
                .map(|l| l.chain.clone())
                .unwrap_or_default(),
            None,
        ),
    }
}

/// The certificate and DANE judgements of a host (pure).
pub(crate) fn assess(
    cx: &JudgeContext<'_>,
    plan: &HostPlan,
    probe: Option<&HostProbe>,
) -> Assessment {
    let (chain, stapled) = probe.map(chain_of).unwrap_or_default();
    let cert = (!chain.is_empty()).then(|| {
        let expected = plan.expected_name(cx.options);
        let mut policy = CertPolicy::new(cx.trust, expected, unix(cx.now));
        policy.expiry_warning_days = cx.options.expiry_warning_days;
        policy.alternative_name = match cx.options.cert_names {
            CertNames::MxHost => None,
            CertNames::MxHostOrDomain => cx.domain.map(DomainName::as_str),
        };
        cx.certs.evaluate(&chain, &policy)
    });
    let dane = plan.tlsa.as_ref().map(|t| {
        let base = t.base.to_string();
        let names = [base.as_str(), plan.name.as_str()];
        dane::evaluate(
            t.answer.records(),
            &t.answer.proof,
            &chain,
            &names,
            unix(cx.now),
        )
    });
    Assessment {
        chain,
        stapled,
        cert,
        dane,
    }
}

/// The certificate view and its score evidence, from the judgement made in [`assess`].
fn judge_certificate(
    report: &CertReport,
    chain: &[CertificateDer<'static>],
    certs: &CertMemo,
) -> (CertificateView, CertEvidence) {
    let mut summaries = Vec::new();
    let mut leaf_key = None;
    let mut weakest: Option<SignatureHash> = None;
    for s in certs.summaries(chain) {
        if s.depth == 0 {
            leaf_key = s.key;
        }
        // The root's self-signature does not matter; every other signature does.
        let is_root = s.subject == s.issuer && s.depth > 0;
        if !is_root && let Some(h) = SignatureHash::from_name(&s.signature) {
            weakest = Some(weakest.map_or(h, |w| w.min(h)));
        }
        summaries.push(s);
    }
    let matched_name = report.matched_name.clone();
    let problems = report
        .problems
        .iter()
        .map(|p| {
            serde_json::to_value(p)
                .ok()
                .and_then(|v| v.get("problem").and_then(|x| x.as_str()).map(str::to_owned))
                .unwrap_or_else(|| format!("{p:?}"))
        })
        .collect();
    let evidence = CertEvidence {
        chain_valid: report.chain_valid,
        name_match: report.name_match,
        expired: report.expired,
        not_yet_valid: report.not_yet_valid,
        days_to_expiry: report.days_to_expiry,
        self_signed: report.self_signed,
        key: leaf_key,
        weakest_signature: weakest,
    };
    (
        CertificateView {
            chain_valid: report.chain_valid,
            name_match: report.name_match,
            matched_name,
            expired: report.expired,
            not_yet_valid: report.not_yet_valid,
            days_to_expiry: report.days_to_expiry,
            expiry_warning: report.expiry_warning,
            self_signed: report.self_signed,
            problems,
            chain: summaries,
        },
        evidence,
    )
}

fn smtp_finding(f: &SmtpFinding) -> Finding {
    let severity = match f {
        SmtpFinding::NoStartTls | SmtpFinding::PlaintextInjection { .. } => Severity::Error,
        SmtpFinding::AuthWithheld { .. } => Severity::Error,
        SmtpFinding::PlaintextAccepted
        | SmtpFinding::StartTlsRefused { .. }
        | SmtpFinding::AuthFailed { .. }
        | SmtpFinding::AuthOverUnverifiedTls { .. } => Severity::Warning,
        _ => Severity::Info,
    };
    Finding::new(f.code(), severity, f.to_string())
}

/// The evidence the score needs of one host, and what makes the host's report once its score
/// is known (the score comes first, then the report: nothing is patched afterwards).
///
/// `probe` is `None` when the plan was not probed: it has no address, it is skipped, quick
/// mode stopped before it, or `cut_off` (the test's deadline passed first).
#[allow(clippy::too_many_arguments)]
pub(crate) fn host_report(
    cx: &JudgeContext<'_>,
    plan: &HostPlan,
    probe: Option<&HostProbe>,
    assessment: &Assessment,
    revocation: Option<Revocation>,
    mta_sts: Option<&(MtaStsReport, Option<Policy>)>,
    dns_mta_sts_tested: bool,
    cut_off: bool,
) -> (HostEvidence, impl FnOnce(&HostScore) -> HostReport + use<>) {
    let opts: &ReceiverOptions = cx.options;
    let mut findings = plan.findings.clone();
    let mut stages: Vec<StageView> = Vec::new();
    let mut evidence = HostEvidence {
        name: plan.name.clone(),
        address: plan.address,
        preference: plan.preference,
        ..HostEvidence::default()
    };
    let mut tls_view = None;
    let mut cert_view = None;
    let mut error = None;
    let mut transcript = Vec::new();
    let mut raw = None;
    let mut sslprobe = None;
    let mut validated_tls = false;
    let unanswered = |stages: &mut Vec<StageView>, evidence: &mut HostEvidence| {
        stages.push(StageView {
            stage: Stage::Answer,
            ok: false,
            ms: 0,
        });
        evidence.stages.set(crate::score::Stage::Answer, false);
    };
    match probe {
        None if plan.address.is_none() => {
            unanswered(&mut stages, &mut evidence);
            error = Some("the host has no address".to_owned());
        }
        None if plan.skip == Some(Skip::NonGlobal) => {
            // Senders on the Internet cannot reach it either.
            unanswered(&mut stages, &mut evidence);
            error = Some("not probed: the address is not globally routable".to_owned());
        }
        None if cut_off => {
            unanswered(&mut stages, &mut evidence);
            findings.push(Finding::new(
                "check.deadline",
                Severity::Error,
                format!(
                    "the test of this address did not finish within the test's deadline ({} s)",
                    opts.deadline.as_secs()
                ),
            ));
            error = Some("not finished within the test's deadline".to_owned());
        }
        None => {
            error = Some("not tested: another MX host answered first (quick mode)".to_owned());
        }
        Some(p) => {
            let r = &p.record;
            findings.extend(r.findings.iter().map(smtp_finding));
            // When rustls could not negotiate because the server refused its versions or
            // suites, the legacy prober tells the version, the suite and (TLS 1.2 and older)
            // the chain, for a version whose handshake the server carried through its part.
            // A handshake the server aborted after its ServerHello is no session at all.
            let refused = r.tls_failure.as_ref().is_some_and(|f| f.kind.is_refusal());
            let legacy = p
                .legacy
                .as_ref()
                .filter(|_| r.tls.is_none() && refused)
                .and_then(|l| {
                    let (v, suite) = l.best_negotiated()?;
                    Some((v, suite.clone(), l))
                });
            if let Some(f) = &r.tls_failure
                && let crate::tls::FailureKind::Aborted { version } = f.kind
            {
                findings.push(Finding::new(
                    "tls.handshake_aborted",
                    Severity::Error,
                    format!(
                        "{}: the server chose {version} and a suite, then did not complete the \
                         handshake, so no sender gets an encrypted session",
                        f.error
                    ),
                ));
            }
            if p.busy {
                evidence.busy = true;
                let reply = match &r.outcome {
                    Outcome::Failed { reason, .. } => reason.to_string(),
                    other => format!("{other:?}"),
                };
                findings.push(Finding::new(
                    "smtp.busy",
                    Severity::Warning,
                    format!(
                        "the server refused the session for now on every try ({} tries, {} s \
                         waited within the test's deadline): {reply}; not tested, and left \
                         out of the grade",
                        p.tries,
                        p.waited.as_secs()
                    ),
                ));
            } else if p.tries > 1 {
                findings.push(Finding::new(
                    "smtp.busy_then_tested",
                    Severity::Info,
                    format!(
                        "the server was busy (421) at first and was tested on try {} after \
                         {} s of back-off",
                        p.tries,
                        p.waited.as_secs()
                    ),
                ));
            }
            if let Some(from) = &p.reused_from {
                findings.push(Finding::new(
                    "smtp.facts_reused",
                    Severity::Info,
                    format!(
                        "not probed again: {from} shares this address and port, and the server \
                         presents the same certificate whatever the SNI (two names showed it), \
                         so its SMTP and TLS facts are this host's too"
                    ),
                ));
            }
            let deferred = r.outcome.rcpt_deferred();
            if let Some((code, text)) = deferred {
                findings.push(Finding::new(
                    "smtp.rcpt_deferred",
                    Severity::Info,
                    format!(
                        "RCPT TO got a temporary {code} ({text}): greylisting or a \
                         \"come back later\"; a temporary result that does not bear on TLS"
                    ),
                ));
            }
            let mut cert_ok = None;
            if let Some(report) = &assessment.cert {
                if report.matched_alternative {
                    findings.push(Finding::new(
                        "cert.names_the_domain",
                        Severity::Warning,
                        format!(
                            "the certificate names the mail domain ({}), not the MX host {}: \
                             accepted, as the options ask (cert names: mx-host-or-domain), but \
                             CheckTLS and MTA-STS senders check the MX host name",
                            report.matched_name.as_deref().unwrap_or_default(),
                            plan.expected_name(opts).unwrap_or_default(),
                        ),
                    ));
                }
                let (view, mut ev) = judge_certificate(report, &assessment.chain, cx.certs);
                let revoked = matches!(
                    revocation.as_ref().map(|r| &r.status),
                    Some(crate::tls::revocation::RevocationStatus::Revoked { .. })
                );
                // A revoked certificate does not validate.
                ev.chain_valid &= !revoked;
                // The certificate passes only where a session was negotiated with it.
                let negotiated = r.tls.is_some() || legacy.is_some();
                cert_ok = Some(
                    negotiated
                        && !revoked
                        && view.chain_valid
                        && view.name_match != Some(false)
                        && !view.expired
                        && !view.not_yet_valid
                        && !view.self_signed,
                );
                if let Some(facts) = &r.tls {
                    let version = crate::score::TlsVersion::ALL
                        .into_iter()
                        .find(|v| v.name() == facts.version.name());
                    let cipher = CipherEvidence::from_name(&facts.cipher_suite.to_string())
                        .unwrap_or_else(|| CipherEvidence::strong(128));
                    if let Some(version) = version {
                        evidence.tls = Some(TlsEvidence {
                            version,
                            cipher,
                            certificate: Some(ev.clone()),
                        });
                    }
                    tls_view = Some(TlsView {
                        version: facts.version,
                        cipher: facts.cipher_suite.to_string(),
                        group: facts.key_exchange_group.as_ref().map(|g| g.name.clone()),
                        deprecated: facts.version.is_deprecated(),
                        source: TlsSource::Rustls,
                        handshake_ms: u64::try_from(facts.handshake_time.as_millis())
                            .unwrap_or(u64::MAX),
                    });
                }
                if let Some((version, suite, l)) = &legacy {
                    let score_version = crate::score::TlsVersion::ALL
                        .into_iter()
                        .find(|v| v.name() == version.name());
                    let weak = |w| l.weaknesses.contains(&w);
                    let cipher = CipherEvidence::from_name(&suite.name).unwrap_or(CipherEvidence {
                        bits: if weak(crate::tls::probe::Weakness::Export) {
                            40
                        } else {
                            128
                        },
                        aead: !weak(crate::tls::probe::Weakness::CbcOnly),
                        forward_secrecy: suite.name.contains("DHE"),
                        broken: [
                            crate::tls::probe::Weakness::Null,
                            crate::tls::probe::Weakness::Rc4,
                            crate::tls::probe::Weakness::Export,
                            crate::tls::probe::Weakness::Des,
                        ]
                        .into_iter()
                        .any(weak),
                    });
                    if let Some(v) = score_version {
                        evidence.tls = Some(TlsEvidence {
                            version: v,
                            cipher,
                            certificate: Some(ev),
                        });
                    }
                    tls_view = Some(TlsView {
                        version: *version,
                        cipher: suite.name.clone(),
                        group: None,
                        deprecated: version.is_deprecated(),
                        source: TlsSource::Prober,
                        handshake_ms: 0,
                    });
                    findings.push(Finding::new(
                        "tls.legacy_only",
                        Severity::Error,
                        format!(
                            "the server negotiates only {version} ({}), which this client refuses; learnt by the legacy prober",
                            suite.name
                        ),
                    ));
                }
                cert_view = Some(view);
            }
            for s in &r.stages {
                // CheckTLS's Cert stage is the stringent judgement, not "a certificate came".
                let ok = if s.stage == Stage::Cert {
                    cert_ok.unwrap_or(false)
                } else if s.stage == Stage::Secure && legacy.is_some() {
                    // The server does negotiate TLS (an old version): a sender with an old
                    // TLS library would encrypt.
                    true
                } else {
                    s.ok
                };
                stages.push(StageView {
                    stage: s.stage,
                    ok,
                    ms: s.ms,
                });
                // A temporary refusal of the recipient is no judgement of the host.
                if s.stage == Stage::RcptTo && deferred.is_some() {
                    continue;
                }
                evidence.stages.set(s.stage, ok);
            }
            // A handshake that completed and a session that broke before the EHLO over TLS
            // was answered (an alert, a close, silence): no sender can deliver over it.
            if r.tls.is_some()
                && let Outcome::Failed {
                    stage: Stage::Secure,
                    reason:
                        reason @ (crate::smtp::FailReason::Closed
                        | crate::smtp::FailReason::Io { .. }
                        | crate::smtp::FailReason::Timeout { .. }
                        | crate::smtp::FailReason::Protocol(_)),
                } = &r.outcome
            {
                evidence.tls = None;
                findings.push(Finding::new(
                    "tls.session_broken",
                    Severity::Error,
                    format!(
                        "the TLS handshake completed, then the session broke before the EHLO \
                         over TLS was answered ({reason}): no sender can deliver over it"
                    ),
                ));
            }
            validated_tls = r.passed(Stage::Secure) && cert_ok == Some(true);
            if let Outcome::Failed { stage, reason } = &r.outcome {
                error = Some(format!("{stage}: {reason}"));
            }
            if opts.assure_tls {
                evidence.plaintext_refused = Some(
                    r.findings
                        .iter()
                        .any(|f| matches!(f, SmtpFinding::PlaintextRefused { .. })),
                );
            }
            transcript = r.transcript.render();
            sslprobe = p.legacy.clone();
            if opts.legacy_probe == LegacyProbe::Full
                && let Some(l) = &p.legacy
            {
                sslprobe_findings(l, &mut findings, &mut evidence);
            }
            raw = r
                .raw
                .as_ref()
                .map(crate::smtp::record::RawTraffic::hex_dump);
        }
    }

    // DANE.
    let dane = match (&plan.tlsa, &assessment.dane) {
        (None, _) | (_, None) => DaneView {
            status: DaneState::NotChecked,
            records: Vec::new(),
            matched: None,
            notes: vec!["no TLSA lookup for this host".into()],
            applicability: None,
        },
        (Some(t), Some(report)) => {
            let report = report.clone();
            evidence.dane = DaneEvidence {
                tested: true,
                // RFC 7672 §2.2: the addresses must be secure too.
                secure: t.answer.proof.is_secure() && t.applicability.addresses.is_secure(),
                usable: !matches!(
                    report.status,
                    DaneStatus::NoRecords | DaneStatus::Insecure | DaneStatus::Unusable
                ) && !matches!(report.status, DaneStatus::Bogus { .. }),
                matched: report.status == DaneStatus::Matched,
            };
            if let DaneStatus::Bogus { reason } = &report.status {
                findings.push(Finding::new(
                    "dane.bogus",
                    Severity::Error,
                    format!("the TLSA records are DNSSEC-bogus: {reason}"),
                ));
            }
            if report.status == DaneStatus::Failed {
                findings.push(Finding::new(
                    "dane.failed",
                    Severity::Error,
                    "no usable TLSA record matches the certificate chain: DANE senders will not deliver",
                ));
            }
            DaneView {
                status: DaneState::from(&report.status),
                records: t.answer.records().iter().map(ToString::to_string).collect(),
                matched: report
                    .matched
                    .map(|m| format!("{} at depth {}", m.record, m.depth)),
                notes: report.notes,
                applicability: Some(t.applicability.clone()),
            }
        }
    };

    // MTA-STS for this host.
    let host_sts = match mta_sts {
        Some((_, Some(policy))) => {
            evidence.mta_sts = MtaStsEvidence {
                tested: true,
                policy_valid: true,
                mode: match policy.mode {
                    Mode::Enforce => StsMode::Enforce,
                    Mode::Testing => StsMode::Testing,
                    Mode::None => StsMode::None,
                },
                host_covered: policy.covers(&plan.name),
            };
            let verdict = MtaStsVerdict::from(policy.effect(&plan.name, validated_tls));
            if verdict == MtaStsVerdict::Fail {
                findings.push(Finding::new(
                    "mta_sts.host_fails",
                    Severity::Error,
                    format!(
                        "under the enforced MTA-STS policy senders would not deliver to {}",
                        plan.name
                    ),
                ));
            }
            HostMtaSts {
                policy: true,
                mode: Some(policy.mode),
                covered: policy.covers(&plan.name),
                verdict,
            }
        }
        other => {
            evidence.mta_sts = MtaStsEvidence {
                tested: dns_mta_sts_tested,
                ..MtaStsEvidence::default()
            };
            HostMtaSts {
                policy: false,
                mode: None,
                covered: false,
                verdict: if other.is_some() {
                    MtaStsVerdict::Invalid
                } else {
                    MtaStsVerdict::None
                },
            }
        }
    };

    let revocation = match revocation {
        Some(r) => {
            if let crate::tls::revocation::RevocationStatus::Revoked { time, reason } = &r.status {
                findings.push(Finding::new(
                    "cert.revoked",
                    Severity::Error,
                    format!(
                        "the certificate was revoked (at {time}, reason {})",
                        reason.as_deref().unwrap_or("unspecified")
                    ),
                ));
            }
            if r.must_staple_unmet {
                findings.push(Finding::new(
                    "cert.must_staple_unmet",
                    Severity::Warning,
                    "the certificate is must-staple (RFC 7633) but no OCSP response was stapled",
                ));
            }
            RevocationView {
                status: RevocationState::from(&r.status),
                source: r.source,
                detail: match &r.status {
                    crate::tls::revocation::RevocationStatus::CouldNotCheck { cause } => {
                        cause.clone()
                    }
                    _ => r.attempts.join("; "),
                },
            }
        }
        None => RevocationView {
            status: RevocationState::NotChecked,
            source: None,
            detail: if opts.revocation {
                "no certificate was seen".into()
            } else {
                "revocation checking is turned off".into()
            },
        },
    };

    let (name, preference, address, port) =
        (plan.name.clone(), plan.preference, plan.address, plan.port);
    let report = move |score: &HostScore| HostReport {
        name,
        preference,
        address,
        port,
        score: score.score,
        stages,
        tls: tls_view,
        certificate: cert_view,
        dane,
        mta_sts: host_sts,
        revocation,
        score_detail: Some(score.clone()),
        findings,
        error,
        transcript,
        raw,
        sslprobe,
    };
    (evidence, report)
}

/// The full probe's weaknesses as findings (`sslprobe.<weakness>`), and into the score: a
/// weakness of severity error (an accepted anonymous, export, NULL or RC4 suite, Heartbleed,
/// CCS injection, compression, insecure renegotiation, ROBOT) means some sender can be made to
/// use a broken session with this host, so it counts as the calibrated broken-cipher deduction,
/// as if the suite had been negotiated; warnings are findings only.
fn sslprobe_findings(
    l: &crate::tls::probe::ProbeReport,
    findings: &mut Vec<Finding>,
    evidence: &mut HostEvidence,
) {
    for f in &l.findings {
        let severity = match f.severity {
            crate::dns::Severity::Error => Severity::Error,
            crate::dns::Severity::Warning => Severity::Warning,
            crate::dns::Severity::Info => Severity::Info,
        };
        let code = serde_json::to_value(f.weakness)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        findings.push(Finding::new(
            format!("sslprobe.{code}"),
            severity,
            format!("{}: {}", f.weakness.describe(), f.detail),
        ));
    }
    if l.findings
        .iter()
        .any(|f| f.severity == crate::dns::Severity::Error)
        && let Some(t) = &mut evidence.tls
    {
        t.cipher.broken = true;
    }
}
