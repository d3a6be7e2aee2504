//! The prober's thin tokio driver.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::hello::{LEGACY_SUITES, TLS13_SUITES, client_hello, ssl2_compatible_client_hello};
use super::parse::{FlightParser, ServerAnswer};
use super::{ProbeReport, VersionResult};
use crate::net::BoxStream;
use crate::version::{CipherSuite, TlsVersion};

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

/// What to probe.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProbeOptions {
    /// The versions to try. Default: all six, newest first.
    pub versions: Vec<TlsVersion>,
    /// The SNI name.
    pub sni: Option<String>,
    /// How long one connection may take (open, hello, answer). Default: 10 s.
    pub timeout: Duration,
    /// The most suites listed per accepted version (each costs a connection). Default: 4.
    pub max_suites: usize,
    /// Send SSLv3 to TLS 1.2 ClientHellos in the SSLv2-compatible format (RFC 5246 appendix
    /// E.2, no extensions), as very old clients did. Default: false.
    pub ssl2_compatible: bool,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        let mut versions = TlsVersion::ALL.to_vec();
        versions.reverse();
        Self {
            versions,
            sni: None,
            timeout: Duration::from_secs(10),
            max_suites: 4,
            ssl2_compatible: false,
        }
    }
}

fn random() -> [u8; 32] {
    use ring::rand::SecureRandom;
    let mut r = [0u8; 32];
    let _ = ring::rand::SystemRandom::new().fill(&mut r);
    r
}

fn alert_name(d: u8) -> &'static str {
    match d {
        0 => "close_notify",
        10 => "unexpected_message",
        40 => "handshake_failure",
        47 => "illegal_parameter",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        112 => "unrecognized_name",
        _ => "alert",
    }
}

/// Offers one version with `suites` over a fresh stream and reads the answer.
pub async fn probe_version(
    opener: &dyn StreamOpener,
    version: TlsVersion,
    suites: &[u16],
    options: &ProbeOptions,
) -> Result<ServerAnswer, String> {
    let work = async {
        let mut s = opener.open().await.map_err(|e| format!("connect: {e}"))?;
        let hello = if options.ssl2_compatible
            && (TlsVersion::Ssl3..=TlsVersion::Tls12).contains(&version)
        {
            ssl2_compatible_client_hello(version, suites, random())
        } else {
            client_hello(version, suites, options.sni.as_deref(), random())
        };
        s.write_all(&hello)
            .await
            .map_err(|e| format!("write: {e}"))?;
        s.flush().await.map_err(|e| format!("write: {e}"))?;
        let mut parser = FlightParser::new();
        let mut buf = [0u8; 8192];
        loop {
            if let Some(a) = parser.answer().map_err(|e| e.to_string())? {
                return Ok(a);
            }
            let n = s.read(&mut buf).await.map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection".to_owned());
            }
            parser
                .feed(buf.get(..n).unwrap_or_default())
                .map_err(|e| e.to_string())?;
        }
    };
    match tokio::time::timeout(options.timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no answer within {} ms",
            options.timeout.as_millis()
        )),
    }
}

fn ssl2_error_name(code: u16) -> &'static str {
    match code {
        1 => "no cipher",
        2 => "no certificate",
        4 => "bad certificate",
        6 => "unsupported certificate type",
        _ => "error",
    }
}

/// Probes every version of `options` and lists the suites each accepted version picks: offer
/// the list, note the suite chosen, offer the list again without it, up to
/// `options.max_suites` times (SSLv2 lists its kinds in one answer). At most
/// `versions × max_suites` connections, each bounded by `options.timeout`.
pub async fn probe(opener: &dyn StreamOpener, options: &ProbeOptions) -> ProbeReport {
    let mut report = ProbeReport::default();
    for &version in &options.versions {
        let mut offered: Vec<u16> = match version {
            TlsVersion::Tls13 => TLS13_SUITES.to_vec(),
            TlsVersion::Ssl2 => Vec::new(),
            _ => LEGACY_SUITES.to_vec(),
        };
        let mut result = VersionResult {
            version,
            accepted: false,
            suites: Vec::new(),
            weaknesses: Vec::new(),
            refusal: None,
        };
        for round in 0..options.max_suites.max(1) {
            let refusal = match probe_version(opener, version, &offered, options).await {
                Ok(ServerAnswer::Hello {
                    version: v,
                    cipher,
                    chain,
                }) if v == version && version != TlsVersion::Ssl2 => {
                    result.accepted = true;
                    if report.chain.is_empty() && version <= TlsVersion::Tls12 {
                        report.chain = chain.into_iter().map(CertificateDer::from).collect();
                    }
                    result.suites.push(CipherSuite::from_code(cipher));
                    offered.retain(|c| *c != cipher);
                    if offered.is_empty() {
                        break;
                    }
                    continue;
                }
                Ok(ServerAnswer::Ssl2Hello {
                    ciphers,
                    certificate,
                }) if version == TlsVersion::Ssl2 => {
                    result.accepted = true;
                    result.suites = ciphers
                        .into_iter()
                        .map(CipherSuite::from_ssl2_spec)
                        .collect();
                    if report.chain.is_empty() && !certificate.is_empty() {
                        report.chain = vec![CertificateDer::from(certificate)];
                    }
                    break;
                }
                Ok(ServerAnswer::Hello { version: v, .. }) => {
                    format!("the server answered with {v}")
                }
                Ok(ServerAnswer::Ssl2Hello { .. }) => "the server answered with SSLv2".to_owned(),
                Ok(ServerAnswer::Alert { description, .. }) => {
                    format!("alert {description} ({})", alert_name(description))
                }
                Ok(ServerAnswer::Ssl2Error { code }) => {
                    format!("SSLv2 error {code} ({})", ssl2_error_name(code))
                }
                Err(e) => e,
            };
            if round == 0 {
                result.refusal = Some(refusal);
            }
            break;
        }
        report.push(result);
    }
    report
}
