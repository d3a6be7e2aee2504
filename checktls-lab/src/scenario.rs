//! The demo lab: signed DNS, SMTP receivers of several postures on one port across distinct
//! 127.0.0.x addresses, and an HTTPS server for MTA-STS, all in-process on loopback.
//!
//! ```text
//!   DnsLab (signed zones, trust anchor)        SmtpReceivers on 127.0.0.21-29, one port P
//!   tls13.test      MX mx.tls13.test      ──►  127.0.0.21  TLS 1.3+1.2, valid certificate
//!   tls12.test      MX mx.tls12.test      ──►  127.0.0.22  TLS 1.2 only
//!   expired.test    MX mx.expired.test    ──►  127.0.0.23  expired certificate
//!   wrongname.test  MX mx.wrongname.test  ──►  127.0.0.24  certificate for another name
//!   selfsigned.test MX mx.selfsigned.test ──►  127.0.0.25  self-signed certificate
//!   plain.test      MX mx.plain.test      ──►  127.0.0.26  no STARTTLS
//!   unreachable.test MX mx.unreachable.test ─► 127.0.0.27  nothing listening
//!   twomx.test      MX 10 mx.twomx.test   ──►  127.0.0.28  valid;  MX 20 mx.plain.test
//!   best.test       MX mx.best.test       ──►  127.0.0.29  valid + DANE-EE TLSA + MTA-STS enforce
//!   legacy10.test   MX mx.legacy10.test   ──►  127.0.0.30  STARTTLS to a TLS 1.0-only server
//!   revoked.test    MX mx.revoked.test    ──►  127.0.0.31  certificate revoked (lab OCSP responder)
//!   slow.test       MX mx.slow.test       ──►  127.0.0.32  as tls13.test, MAIL FROM answered after 3 s
//!                                                            (not in domains(): for live views)
//!                   mta-sts.best.test     ──►  HTTPS on 127.0.0.29 (an ephemeral port)
//! ```
//!
//! ```no_run
//! # async fn run() -> Result<(), checktls_lab::Error> {
//! let lab = checktls_lab::scenario::Scenario::start().await?;
//! for d in lab.domains() {
//!     println!("{} ({}): expect {}..={}", d.domain, d.posture, d.expect.0, d.expect.1);
//! }
//! # Ok(()) }
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::net::TcpListener;

use crate::Error;
use crate::dns::{DnsLab, MailDomain};
use crate::legacy::{LegacyPosture, answer};
use crate::mta_sts::{PolicyPosture, PolicyServer, policy_text};
use crate::ocsp::{CertState, OcspMode, RevocationServer};
use crate::pki::{Leaf, LeafSpec, Pki};
use crate::smtp::{Posture, SmtpReceiver};

/// One domain of the scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioDomain {
    /// The mail domain.
    pub domain: &'static str,
    /// What its receivers do.
    pub posture: &'static str,
    /// The Confidence Factor range the receiver test must give it.
    pub expect: (u16, u16),
}

/// The running scenario; everything stops when it is dropped.
pub struct Scenario {
    pki: Pki,
    dns: DnsLab,
    port: u16,
    domains: Vec<ScenarioDomain>,
    https_routes: Vec<(String, SocketAddr)>,
    _receivers: Vec<SmtpReceiver>,
    _https: Vec<PolicyServer>,
    _ocsp: RevocationServer,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("dns", &self.dns.addr())
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

const DOMAINS: &[ScenarioDomain] = &[
    ScenarioDomain {
        domain: "tls13.test",
        posture: "TLS 1.3, valid certificate",
        expect: (114, 114),
    },
    ScenarioDomain {
        domain: "tls12.test",
        posture: "TLS 1.2 only",
        expect: (88, 103),
    },
    ScenarioDomain {
        domain: "expired.test",
        posture: "expired certificate",
        expect: (112, 112),
    },
    ScenarioDomain {
        domain: "wrongname.test",
        posture: "certificate for another name",
        expect: (104, 113),
    },
    ScenarioDomain {
        domain: "selfsigned.test",
        posture: "self-signed certificate",
        expect: (104, 113),
    },
    ScenarioDomain {
        domain: "plain.test",
        posture: "no STARTTLS",
        expect: (0, 49),
    },
    ScenarioDomain {
        domain: "unreachable.test",
        posture: "MX not answering",
        expect: (50, 50),
    },
    ScenarioDomain {
        domain: "twomx.test",
        posture: "MX 10 TLS 1.3, MX 20 no STARTTLS",
        expect: (50, 113),
    },
    ScenarioDomain {
        domain: "legacy10.test",
        posture: "TLS 1.0 only (found by the prober)",
        expect: (64, 74),
    },
    ScenarioDomain {
        domain: "revoked.test",
        posture: "certificate revoked (OCSP)",
        expect: (104, 113),
    },
    ScenarioDomain {
        domain: "best.test",
        posture: "TLS 1.3 + DANE + MTA-STS enforce",
        expect: (121, 121),
    },
];

/// How long slow.test's receiver waits before it answers MAIL FROM.
pub const SLOW_STAGE: std::time::Duration = std::time::Duration::from_secs(3);

/// STARTTLS offered, then the raw stream answered by the legacy responder for one version.
pub fn legacy_posture(leaf: Leaf, version: u16) -> Posture {
    let posture = Arc::new(LegacyPosture::only(version, leaf.chain));
    Posture::plain().custom_tls(Arc::new(move |stream| {
        let p = posture.clone();
        Box::pin(async move {
            let _ = answer(stream, &p).await;
        })
    }))
}

async fn bind_all(lasts: &[u8]) -> Result<(u16, Vec<TcpListener>), Error> {
    let mut last_err = None;
    for _ in 0..8 {
        let first = TcpListener::bind(SocketAddr::new(IpAddr::V4(ip(lasts[0])), 0)).await?;
        let port = first.local_addr()?.port();
        let mut all = vec![first];
        let mut ok = true;
        for l in &lasts[1..] {
            match TcpListener::bind(SocketAddr::new(IpAddr::V4(ip(*l)), port)).await {
                Ok(x) => all.push(x),
                Err(e) => {
                    last_err = Some(e);
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            return Ok((port, all));
        }
    }
    Err(Error::Io(
        last_err.unwrap_or_else(|| std::io::Error::other("no common port")),
    ))
}

impl Scenario {
    /// Starts everything, with certificates valid at the system clock.
    pub async fn start() -> Result<Self, Error> {
        Self::start_at(SystemTime::now()).await
    }

    /// Starts everything, with certificates and signatures made around `now`.
    pub async fn start_at(now: SystemTime) -> Result<Self, Error> {
        let pki = Pki::generate(now)?;
        let ocsp = RevocationServer::start(&pki, OcspMode::Normal).await?;
        let with_ocsp = |n: &str| {
            let mut spec = LeafSpec::new(&[n], now);
            spec.ocsp_url = Some(ocsp.ocsp_url());
            pki.leaf(&spec)
        };
        let revoked_leaf = with_ocsp("mx.revoked.test")?;
        ocsp.set(&revoked_leaf.serial, CertState::Revoked { reason: 1 });
        let valid = |n: &str| pki.valid(n);
        let leaf_best: Leaf = with_ocsp("mx.best.test")?;
        ocsp.set(&leaf_best.serial, CertState::Good);
        let postures: Vec<(u8, Posture)> = vec![
            (
                21,
                Posture::tls(&valid("mx.tls13.test")?)?.banner("mx.tls13.test"),
            ),
            (
                22,
                Posture::tls(&valid("mx.tls12.test")?)?
                    .tls12_only()?
                    .banner("mx.tls12.test"),
            ),
            (
                23,
                Posture::tls(&pki.expired("mx.expired.test")?)?.banner("mx.expired.test"),
            ),
            (
                24,
                Posture::tls(&pki.wrong_name()?)?.banner("mx.wrongname.test"),
            ),
            (
                25,
                Posture::tls(&pki.self_signed("mx.selfsigned.test")?)?.banner("mx.selfsigned.test"),
            ),
            (26, Posture::plain().banner("mx.plain.test")),
            (
                28,
                Posture::tls(&valid("mx.twomx.test")?)?.banner("mx.twomx.test"),
            ),
            (29, Posture::tls(&leaf_best)?.banner("mx.best.test")),
            (
                30,
                legacy_posture(valid("mx.legacy10.test")?, 0x0301).banner("mx.legacy10.test"),
            ),
            (31, Posture::tls(&revoked_leaf)?.banner("mx.revoked.test")),
            (
                32,
                Posture::tls(&valid("mx.slow.test")?)?
                    .banner("mx.slow.test")
                    .slow_reply("MAIL", SLOW_STAGE),
            ),
        ];
        let lasts: Vec<u8> = postures.iter().map(|(l, _)| *l).collect();
        let (port, listeners) = bind_all(&lasts).await?;
        let receivers: Vec<SmtpReceiver> = postures
            .into_iter()
            .zip(listeners)
            .map(|((_, p), l)| SmtpReceiver::serve(l, p))
            .collect();

        // MTA-STS for best.test.
        let https = PolicyServer::start_on(
            SocketAddr::new(IpAddr::V4(ip(29)), 0),
            &pki,
            "best.test",
            PolicyPosture::Valid(policy_text("enforce", &["mx.best.test"], 604_800)),
        )
        .await?;
        let https_routes = vec![("mta-sts.best.test".to_owned(), https.addr())];

        let a = |l: u8| [IpAddr::V4(ip(l))];
        let dns = DnsLab::builder()
            .now(now)
            .mail_domain(
                MailDomain::new("tls13.test")
                    .mx(10, "mx", a(21))
                    .spf("v=spf1 mx -all"),
            )
            .mail_domain(MailDomain::new("tls12.test").mx(10, "mx", a(22)))
            .mail_domain(MailDomain::new("legacy10.test").mx(10, "mx", a(30)))
            .mail_domain(MailDomain::new("revoked.test").mx(10, "mx", a(31)))
            .mail_domain(MailDomain::new("slow.test").mx(10, "mx", a(32)))
            .mail_domain(MailDomain::new("expired.test").mx(10, "mx", a(23)))
            .mail_domain(MailDomain::new("wrongname.test").mx(10, "mx", a(24)))
            .mail_domain(MailDomain::new("selfsigned.test").mx(10, "mx", a(25)))
            .mail_domain(MailDomain::new("plain.test").mx(10, "mx", a(26)))
            .mail_domain(MailDomain::new("unreachable.test").mx(10, "mx", a(27)))
            .mail_domain(MailDomain::new("twomx.test").mx(10, "mx", a(28)).mx(
                20,
                "mx.plain.test",
                [],
            ))
            .mail_domain(
                MailDomain::new("best.test")
                    .mx(10, "mx", a(29))
                    .tlsa_for_certificate("mx", 25, leaf_best.cert().as_ref())?
                    .tlsa_for_certificate("mx", port, leaf_best.cert().as_ref())?
                    .mta_sts("20261122T000000")
                    .address("mta-sts", a(29))
                    .tls_rpt("mailto:tls-reports@best.test")
                    .spf("v=spf1 mx -all")
                    .dmarc("v=DMARC1; p=reject; rua=mailto:dmarc@best.test"),
            )
            .start()
            .await?;
        Ok(Self {
            pki,
            dns,
            port,
            domains: DOMAINS.to_vec(),
            https_routes,
            _receivers: receivers,
            _https: vec![https],
            _ocsp: ocsp,
        })
    }

    /// A domain whose receiver is as tls13.test's but answers MAIL FROM only after
    /// [`SLOW_STAGE`]: a live view sees the first stages arrive before the test ends. Not in
    /// [`Scenario::domains`].
    pub fn slow_domain(&self) -> ScenarioDomain {
        ScenarioDomain {
            domain: "slow.test",
            posture: "TLS 1.3, MAIL FROM answered after 3 s",
            expect: (114, 114),
        }
    }

    /// The domains and what to expect of each.
    pub fn domains(&self) -> &[ScenarioDomain] {
        &self.domains
    }

    /// The SMTP port every receiver listens on.
    pub fn smtp_port(&self) -> u16 {
        self.port
    }

    /// The DNS server's address.
    pub fn dns_addr(&self) -> SocketAddr {
        self.dns.addr()
    }

    /// The DNSSEC trust anchor (a DNSKEY record in zone-file syntax).
    pub fn trust_anchor(&self) -> &str {
        self.dns.trust_anchor()
    }

    /// The lab root CA (DER), to trust.
    pub fn root_ca(&self) -> &rustls_pki_types::CertificateDer<'static> {
        self.pki.root().der()
    }

    /// Host names served over HTTPS and where (for a static connector).
    pub fn https_routes(&self) -> &[(String, SocketAddr)] {
        &self.https_routes
    }
}
