//! The recording handshake over any async stream (feature `tokio`).
//!
//! ```text
//!   caller's stream (TCP, SOCKS5, after SMTP STARTTLS, in-memory duplex)
//!        │ handshake(stream, &options)
//!        ▼
//!   rustls client (ring) ── RecordingVerifier: keeps chain + OCSP staple, checks signatures
//!        │
//!        ▼
//!   (TlsStream<S>, TlsFacts)   or   HandshakeFailure { error, partial facts }
//! ```

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rustls::client::Resumption;
use rustls::crypto::ring as ring_provider;
use rustls::{ClientConfig, SupportedProtocolVersion};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::Error;
use crate::danger::RecordingVerifier;
use crate::facts::{FailureKind, PartialFacts, TlsFacts};
use crate::first_flight::FirstFlight;
use crate::version::{CipherSuite, NamedGroup};

/// Which protocol versions the client offers (rustls speaks only TLS 1.2 and 1.3; older
/// versions are found by the raw ClientHello prober).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VersionChoice {
    /// TLS 1.3 and TLS 1.2 (the default).
    #[default]
    Tls13AndTls12,
    /// TLS 1.3 only.
    Tls13Only,
    /// TLS 1.2 only.
    Tls12Only,
}

impl VersionChoice {
    /// `1.3,1.2`, `1.3` or `1.2`: the names [`FromStr`](std::str::FromStr) reads back.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tls13AndTls12 => "1.3,1.2",
            Self::Tls13Only => "1.3",
            Self::Tls12Only => "1.2",
        }
    }
}

impl std::fmt::Display for VersionChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for VersionChoice {
    type Err = Error;
    /// A comma-separated list of `1.2` and `1.3` (`TLSv1.2`, `TLS1.3` too, any case and
    /// order). Any other version is refused: rustls speaks only these two, and older ones are
    /// the prober's.
    fn from_str(s: &str) -> Result<Self, Error> {
        let (mut v12, mut v13) = (false, false);
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let lower = part.to_ascii_lowercase();
            match lower.trim_start_matches("tlsv").trim_start_matches("tls") {
                "1.2" => v12 = true,
                "1.3" => v13 = true,
                _ => {
                    return Err(Error::BadInput {
                        what: "TLS versions",
                        detail: format!("{part:?} is not 1.2 or 1.3"),
                    });
                }
            }
        }
        match (v12, v13) {
            (true, true) => Ok(Self::Tls13AndTls12),
            (false, true) => Ok(Self::Tls13Only),
            (true, false) => Ok(Self::Tls12Only),
            (false, false) => Err(Error::BadInput {
                what: "TLS versions",
                detail: "no version given (1.2, 1.3 or both)".into(),
            }),
        }
    }
}

/// Checks cipher suite names (IANA, `TLS_AES_128_GCM_SHA256`, or rustls's) against the suites
/// the handshake can offer, so a typo is refused when the options are built rather than at the
/// first handshake.
pub fn check_cipher_suites<S: AsRef<str>>(names: &[S]) -> Result<(), Error> {
    let provider = ring_provider::default_provider();
    for name in names {
        find_suite(&provider, name.as_ref())?;
    }
    Ok(())
}

fn find_suite(
    provider: &rustls::crypto::CryptoProvider,
    name: &str,
) -> Result<rustls::SupportedCipherSuite, Error> {
    let wanted = name.trim();
    provider
        .cipher_suites
        .iter()
        .find(|s| {
            let c = CipherSuite::from_code(u16::from(s.suite()));
            c.name.eq_ignore_ascii_case(wanted)
                || format!("{:?}", s.suite()).eq_ignore_ascii_case(wanted)
        })
        .copied()
        .ok_or_else(|| Error::UnknownCipherSuite {
            name: name.to_owned(),
        })
}

/// A client certificate to present when the server asks for one.
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct ClientCertificate {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for ClientCertificate {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("ClientCertificate")
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// How to run the handshake.
#[non_exhaustive]
#[derive(Clone, Debug, Default)]
pub struct HandshakeOptions {
    /// The SNI name to send. `None`, or an IP address, sends no SNI. Default: `None`.
    pub sni: Option<String>,
    /// Which protocol versions to offer. Default: TLS 1.3 and 1.2.
    pub versions: VersionChoice,
    /// Cipher suites to offer, by IANA name (`TLS_AES_128_GCM_SHA256`) or rustls name; empty
    /// offers every suite the ring provider has. Default: empty.
    pub cipher_suites: Vec<String>,
    /// ALPN protocols to offer. Default: none.
    pub alpn: Vec<Vec<u8>>,
    /// A client certificate to present when asked. Default: none.
    pub client_certificate: Option<ClientCertificate>,
    /// Refuse the handshake unless the chain leads to one of these anchors, is within its
    /// dates and names the SNI host, as a client that is about to send a password or a
    /// message must. Default: none (record everything, refuse nothing: the receiver test
    /// judges the certificate afterwards).
    pub verify: Option<crate::TrustStore>,
}

/// A handshake that did not complete: why, and what was learnt before it failed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HandshakeFailure {
    /// Why it failed.
    pub error: Error,
    /// The chain and staple, if the server sent them before the failure.
    pub partial: PartialFacts,
}

impl HandshakeFailure {
    /// How it failed: refused before any ServerHello, an older version chosen, or aborted
    /// after the ServerHello.
    pub fn kind(&self) -> FailureKind {
        FailureKind::of(&self.error, &self.partial)
    }

    /// A sentence: the error, and for a handshake the server aborted, which version it had
    /// chosen and the alert it sent.
    pub fn describe(&self) -> String {
        match self.kind() {
            FailureKind::Aborted { version } => {
                let alert = match (&self.error, self.partial.alert) {
                    (Error::AlertReceived { description }, _) => format!("the alert {description}"),
                    (_, Some(d)) => {
                        format!("the alert {d} ({})", crate::probe::parse::alert_name(d))
                    }
                    (e, None) => format!("{e}"),
                };
                format!(
                    "the server aborted the handshake after its ServerHello ({version}): {alert}"
                )
            }
            FailureKind::OlderVersion { version } => {
                format!("the server chose {version}, which this client does not speak")
            }
            _ => self.error.to_string(),
        }
    }
}

impl std::fmt::Display for HandshakeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for HandshakeFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// An established TLS client stream over `S`.
pub struct TlsStream<S> {
    inner: tokio_rustls::client::TlsStream<Sniff<S>>,
}

impl<S> TlsStream<S> {
    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.inner.get_ref().0.inner
    }
}

/// The caller's stream, with the server's bytes of the handshake read beside rustls
/// ([`FirstFlight`]) until the handshake ends.
struct Sniff<S> {
    inner: S,
    flight: Option<FirstFlight>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Sniff<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut me.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(f)) = (&polled, me.flight.as_mut()) {
            f.feed(buf.filled().get(before..).unwrap_or_default());
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Sniff<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<S> std::fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream").finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Runs a TLS client handshake over `stream`, recording what the server presents.
///
/// The certificate is not judged here (see [`crate::cert::evaluate`]); the server's handshake
/// signature is checked. The caller bounds the time (for example with `tokio::time::timeout`).
pub async fn handshake<S>(
    stream: S,
    options: &HandshakeOptions,
) -> Result<(TlsStream<S>, TlsFacts), HandshakeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let start = Instant::now();
    let verifier = match strict_verifier(options) {
        Ok(Some(strict)) => Arc::new(RecordingVerifier::strict(strict)),
        Ok(None) => Arc::new(RecordingVerifier::new()),
        Err(error) => {
            return Err(HandshakeFailure {
                error,
                partial: PartialFacts::default(),
            });
        }
    };
    let config = client_config(options, verifier.clone()).map_err(|error| HandshakeFailure {
        error,
        partial: PartialFacts::default(),
    })?;
    let (server_name, sni) = server_name(options.sni.as_deref());
    let connector = tokio_rustls::TlsConnector::from(config);
    let sniffed = Sniff {
        inner: stream,
        flight: Some(FirstFlight::default()),
    };
    // The server's first flight is read beside rustls only while the handshake runs; a
    // failure keeps what it showed (see FailureKind).
    let (result, flight) = match connector
        .connect(server_name, sniffed)
        .into_fallible()
        .await
    {
        Ok(mut tls) => {
            let flight = tls.get_mut().0.flight.take();
            (Ok(tls), flight)
        }
        Err((e, mut s)) => {
            let flight = s.flight.take();
            (Err(e), flight)
        }
    };
    let flight = flight.unwrap_or_default();
    let elapsed = start.elapsed();
    let recorded = verifier.recorded();
    match result {
        Ok(tls) => {
            let (_, conn) = tls.get_ref();
            let facts = facts_of(conn, recorded, sni, elapsed);
            match facts {
                Some(facts) => Ok((TlsStream { inner: tls }, facts)),
                None => Err(HandshakeFailure {
                    error: Error::Handshake {
                        detail: "the handshake finished without a negotiated version or suite"
                            .to_owned(),
                    },
                    partial: PartialFacts::default(),
                }),
            }
        }
        Err(e) => Err(HandshakeFailure {
            error: Error::from_handshake_io(e),
            partial: PartialFacts {
                chain: recorded.chain,
                stapled_ocsp: recorded.stapled_ocsp,
                elapsed,
                server_hello: flight.server_hello(),
                alert: flight.alert(),
            },
        }),
    }
}

fn facts_of(
    conn: &rustls::ClientConnection,
    recorded: crate::danger::Recorded,
    sni: Option<String>,
    elapsed: Duration,
) -> Option<TlsFacts> {
    let version = crate::version::from_rustls(conn.protocol_version()?)?;
    let suite = conn.negotiated_cipher_suite()?;
    let cipher_suite = CipherSuite::from_code(u16::from(suite.suite()));
    let key_exchange_group = conn
        .negotiated_key_exchange_group()
        .map(|g| NamedGroup::from_code(u16::from(g.name())));
    let chain = match conn.peer_certificates() {
        Some(certs) if !certs.is_empty() => certs.iter().map(|c| c.clone().into_owned()).collect(),
        _ => recorded.chain,
    };
    Some(TlsFacts {
        version,
        cipher_suite,
        key_exchange_group,
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        sni,
        chain,
        stapled_ocsp: recorded.stapled_ocsp,
        handshake_time: elapsed,
        resumed: matches!(conn.handshake_kind(), Some(rustls::HandshakeKind::Resumed)),
    })
}

/// The name rustls is given, and the SNI actually sent (none for IP addresses or no name).
fn server_name(sni: Option<&str>) -> (ServerName<'static>, Option<String>) {
    match sni {
        Some(name) => match ServerName::try_from(name.trim_end_matches('.').to_owned()) {
            Ok(sn @ ServerName::DnsName(_)) => (sn, Some(name.to_owned())),
            Ok(other) => (other, None),
            Err(_) => (placeholder_name(), None),
        },
        None => (placeholder_name(), None),
    }
}

/// An IP-address server name: rustls sends no SNI for it, and the recording verifier ignores it.
fn placeholder_name() -> ServerName<'static> {
    ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into())
}

/// The standard WebPKI verifier over the anchors of `options.verify`, when set.
fn strict_verifier(
    options: &HandshakeOptions,
) -> Result<Option<Arc<dyn rustls::client::danger::ServerCertVerifier>>, Error> {
    let Some(trust) = &options.verify else {
        return Ok(None);
    };
    let roots = rustls::RootCertStore {
        roots: trust.anchors().to_vec(),
    };
    let provider = Arc::new(ring_provider::default_provider());
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| Error::Config {
                detail: format!("the trust anchors cannot verify: {e}"),
            })?;
    Ok(Some(verifier))
}

fn client_config(
    options: &HandshakeOptions,
    verifier: Arc<RecordingVerifier>,
) -> Result<Arc<ClientConfig>, Error> {
    let mut provider = ring_provider::default_provider();
    if !options.cipher_suites.is_empty() {
        let chosen = options
            .cipher_suites
            .iter()
            .map(|name| find_suite(&provider, name))
            .collect::<Result<Vec<_>, _>>()?;
        provider.cipher_suites = chosen;
    }
    let versions: &[&'static SupportedProtocolVersion] = match options.versions {
        VersionChoice::Tls13AndTls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        VersionChoice::Tls13Only => &[&rustls::version::TLS13],
        VersionChoice::Tls12Only => &[&rustls::version::TLS12],
    };
    let builder = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .map_err(|e| Error::Config {
            detail: e.to_string(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &options.client_certificate {
        Some(cc) => builder
            .with_client_auth_cert(cc.chain.clone(), cc.key.clone_key())
            .map_err(|e| Error::Config {
                detail: e.to_string(),
            })?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = options.alpn.clone();
    // Each probe stands alone: a resumed session would hide the certificate.
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_choices_read_back_and_refuse_the_unknown() {
        for v in [
            VersionChoice::Tls13AndTls12,
            VersionChoice::Tls13Only,
            VersionChoice::Tls12Only,
        ] {
            assert_eq!(v.name().parse::<VersionChoice>().ok(), Some(v));
        }
        assert_eq!(
            "TLSv1.2, tls1.3".parse::<VersionChoice>().ok(),
            Some(VersionChoice::Tls13AndTls12)
        );
        for bad in ["", "1.1", "1.3,ssl3", "13"] {
            assert!(bad.parse::<VersionChoice>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cipher_suites_are_checked_by_name() {
        assert!(
            check_cipher_suites(&["TLS_AES_128_GCM_SHA256", "tls13_aes_256_gcm_sha384"]).is_ok()
        );
        assert!(matches!(
            check_cipher_suites(&["TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA265"]),
            Err(Error::UnknownCipherSuite { name }) if name == "TLS_AES_128_GCM_SHA265"
        ));
    }
}
