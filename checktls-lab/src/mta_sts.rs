//! An HTTPS host for MTA-STS policies (RFC 8461 §3.3): `mta-sts.<domain>` serving
//! `/.well-known/mta-sts.txt` with a chosen posture, good or broken, on a loopback port.
//!
//! ```text
//!   PolicyServer::start(pki, "lab.test", posture) ──► https://127.0.0.1:<port>
//!     Valid             200 text/plain, the policy, certificate for mta-sts.lab.test
//!     WrongCertificate  the same, certificate for another name
//!     ExpiredCertificate the same, certificate expired
//!     Redirect          301 Location: <url>
//!     Oversized         200 text/plain, 100 KiB
//!     BadSyntax         200 text/plain, not a policy
//!     WrongContentType  200 text/html, the policy
//!     NotFound          404
//! ```
//!
//! A client maps `mta-sts.<domain>` to [`PolicyServer::addr`] (the tests use a static
//! connector), since nothing resolves the name.
//!
//! ```no_run
//! # async fn run() -> Result<(), checktls_lab::Error> {
//! use checktls_lab::mta_sts::{PolicyPosture, PolicyServer, policy_text};
//! use checktls_lab::pki::Pki;
//!
//! let pki = Pki::generate(std::time::SystemTime::now())?;
//! let text = policy_text("enforce", &["mx.lab.test"], 604_800);
//! let server = PolicyServer::start(&pki, "lab.test", PolicyPosture::Valid(text)).await?;
//! println!("{} on {}", server.host(), server.addr());
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use crate::Error;
use crate::http::{HttpReply, HttpServer};
use crate::pki::Pki;

/// The path of the policy (RFC 8461 §3.2).
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

/// How the policy host behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyPosture {
    /// Serves this policy as `text/plain` with a valid certificate.
    Valid(String),
    /// Serves this policy, but under a certificate for another name.
    WrongCertificate(String),
    /// Serves this policy under an expired certificate.
    ExpiredCertificate(String),
    /// Answers 301 with this Location.
    Redirect(String),
    /// Serves 100 KiB of `text/plain` (over RFC 8461's 64 KiB bound).
    Oversized,
    /// Serves `text/plain` that is not a policy.
    BadSyntax,
    /// Serves this policy as `text/html`.
    WrongContentType(String),
    /// Answers 404.
    NotFound,
}

/// A policy file: `version: STSv1`, the mode, one `mx` line per pattern, `max_age`, CRLF.
pub fn policy_text(mode: &str, mx: &[&str], max_age: u64) -> String {
    let mut s = format!("version: STSv1\r\nmode: {mode}\r\n");
    for m in mx {
        s.push_str("mx: ");
        s.push_str(m);
        s.push_str("\r\n");
    }
    s.push_str(&format!("max_age: {max_age}\r\n"));
    s
}

/// A running policy host; stops when dropped.
pub struct PolicyServer {
    http: HttpServer,
    host: String,
}

impl PolicyServer {
    /// Serves `mta-sts.<domain>` on 127.0.0.1 (an ephemeral port).
    pub async fn start(pki: &Pki, domain: &str, posture: PolicyPosture) -> Result<Self, Error> {
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        Self::start_on(addr, pki, domain, posture).await
    }

    /// Serves `mta-sts.<domain>` on `addr` (port 0 for an ephemeral port).
    pub async fn start_on(
        addr: SocketAddr,
        pki: &Pki,
        domain: &str,
        posture: PolicyPosture,
    ) -> Result<Self, Error> {
        let host = format!("mta-sts.{}", domain.trim_end_matches('.'));
        let leaf = match &posture {
            PolicyPosture::WrongCertificate(_) => pki.valid(&format!("other.{host}"))?,
            PolicyPosture::ExpiredCertificate(_) => pki.expired(&host)?,
            _ => pki.valid(&host)?,
        };
        let tls = leaf.server_config(&[&rustls::version::TLS13, &rustls::version::TLS12], None)?;
        let reply = match posture {
            PolicyPosture::Valid(text)
            | PolicyPosture::WrongCertificate(text)
            | PolicyPosture::ExpiredCertificate(text) => HttpReply::ok("text/plain", text),
            PolicyPosture::Redirect(location) => {
                let mut r = HttpReply::status(301);
                r.headers.push(("location".to_owned(), location));
                r
            }
            PolicyPosture::Oversized => {
                let mut text = policy_text("enforce", &["mx.example.test"], 86_400);
                while text.len() < 100 * 1024 {
                    text.push_str("# padding padding padding padding padding padding\r\n");
                }
                HttpReply::ok("text/plain", text)
            }
            PolicyPosture::BadSyntax => HttpReply::ok(
                "text/plain",
                "<html><body>version STSv1, mode enforce</body></html>\r\n",
            ),
            PolicyPosture::WrongContentType(text) => {
                HttpReply::ok("text/html; charset=utf-8", text)
            }
            PolicyPosture::NotFound => HttpReply::status(404),
        };
        let http = HttpServer::start_on(
            addr,
            Some(tls),
            Arc::new(move |req| {
                if req.method == "GET" && req.path == POLICY_PATH {
                    reply.clone()
                } else {
                    HttpReply::status(404)
                }
            }),
        )
        .await?;
        Ok(Self { http, host })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.http.addr()
    }

    /// The host name it serves: `mta-sts.<domain>`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// How many requests it has answered.
    pub fn requests(&self) -> usize {
        self.http.requests()
    }
}

#[cfg(test)]
mod tests {
    use super::policy_text;

    #[test]
    fn policy_text_lines() {
        assert_eq!(
            policy_text("testing", &["a.example", "*.b.example"], 60),
            "version: STSv1\r\nmode: testing\r\nmx: a.example\r\nmx: *.b.example\r\nmax_age: 60\r\n"
        );
    }
}
