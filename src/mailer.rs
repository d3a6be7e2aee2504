//! Batch results by email: a [`Mailer`] that submits through a relay with checktls-smtp.
//!
//! ```text
//!   deliver() ──► SmtpMailer::send(envelope, message)
//!                   for each recipient: checktls_smtp::probe
//!                     EHLO ─► STARTTLS (required unless allowed off) ─► strict certificate
//!                     check (the relay's name, the given anchors) ─► EHLO ─► AUTH ─► MAIL FROM
//!                     ─► RCPT TO ─► DATA ─► message ─► QUIT
//!                   outcome ─► Ok │ Error::Mail { temporary: 4xx, timeout, lost connection }
//! ```
//!
//! Nothing is sent in clear unless [`Relay::allow_plaintext`] says so: without STARTTLS, or
//! with a certificate that does not lead to the trust anchors or does not name the relay, the
//! dialog ends before AUTH and before the message. The password never appears in a
//! transcript, an error or Debug output.
//!
//! ```no_run
//! # async fn f() -> Result<(), checktls::batch::Error> {
//! use checktls::batch::delivery::{Envelope, Mailer};
//! use checktls::mailer::{Relay, SmtpMailer};
//!
//! let relay = Relay::new("relay.example.net", "192.0.2.25:587".parse().unwrap());
//! let mailer = SmtpMailer::new(relay);
//! let envelope = Envelope { from: "checktls@example.org".into(), to: vec!["noc@example.org".into()] };
//! mailer.send(&envelope, b"Subject: results\r\n\r\n114 example.com\r\n").await?;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use crate::batch::Error;
use crate::batch::delivery::{Envelope, Mailer};
use crate::options::AuthCredentials;
use crate::smtp::{FailReason, Outcome, ProbeOptions, Stage, StopAfter, Timeouts, TlsMode};
use crate::tls::TrustStore;

/// The relay results are submitted to.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Relay {
    /// The relay's host name: sent in SNI and required in its certificate.
    pub name: String,
    /// Where to connect.
    pub address: SocketAddr,
    /// TLS on connect (port 465) instead of STARTTLS.
    pub direct_tls: bool,
    /// Send in clear when the relay offers no STARTTLS, and accept any certificate. Off by
    /// default; for a relay on the same host only.
    pub allow_plaintext: bool,
    /// The anchors the relay's certificate must lead to. Default: Mozilla's roots.
    pub trust: TrustStore,
    /// AUTH PLAIN (or LOGIN) after TLS.
    pub auth: Option<AuthCredentials>,
    /// The EHLO name. Default: `checktls.invalid`.
    pub ehlo_name: String,
    /// The limit of each wait. Default: 30 s.
    pub timeout: Duration,
}

impl Relay {
    /// A relay reached at `address` whose certificate names `name`, with STARTTLS required,
    /// Mozilla's roots and no AUTH.
    pub fn new(name: impl Into<String>, address: SocketAddr) -> Self {
        Self {
            name: name.into(),
            address,
            direct_tls: false,
            allow_plaintext: false,
            trust: TrustStore::mozilla(),
            auth: None,
            ehlo_name: "checktls.invalid".to_owned(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// Submits messages through a [`Relay`]; one SMTP transaction per recipient.
#[derive(Clone, Debug)]
pub struct SmtpMailer {
    relay: Relay,
}

impl SmtpMailer {
    /// A mailer for this relay.
    pub fn new(relay: Relay) -> Self {
        Self { relay }
    }

    fn options(&self, from: &str, to: &str, message: &[u8]) -> ProbeOptions {
        let r = &self.relay;
        let mut o = ProbeOptions::default();
        o.session.ehlo_name = r.ehlo_name.clone();
        o.session.mail_from = from.to_owned();
        o.session.rcpt_to = Some(to.to_owned());
        o.session.stop_after = StopAfter::Data;
        o.session.message = Some(message.to_vec());
        o.session.tls_mode = if r.direct_tls {
            TlsMode::Direct
        } else {
            TlsMode::StartTls
        };
        o.session.require_tls = !r.allow_plaintext;
        o.session.timeouts = Timeouts::uniform(r.timeout);
        o.session.auth = r.auth.as_ref().map(AuthCredentials::to_smtp);
        o.tls.sni = Some(r.name.clone());
        if !r.allow_plaintext {
            o.tls.verify = Some(r.trust.clone());
        }
        o
    }
}

impl Mailer for SmtpMailer {
    async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), Error> {
        let mut first_error = None;
        for to in &envelope.to {
            let options = self.options(&envelope.from, to, message);
            let record = crate::smtp::probe(self.relay.address, &options).await;
            let result = match &record.session.outcome {
                Outcome::Completed | Outcome::Stopped { .. }
                    if record.session.passed(Stage::Email) =>
                {
                    Ok(())
                }
                Outcome::Failed { stage, reason } => Err(mail_error(*stage, reason)),
                other => Err(Error::Mail {
                    temporary: true,
                    code: None,
                    reason: format!("the message was not acknowledged ({other:?})"),
                }),
            };
            if let Err(e) = result {
                tracing::warn!(to = %to, relay = %self.relay.address, "submission failed: {e}");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// What a failed stage means for a submission: 4xx and broken connections are temporary;
/// 5xx, a refused certificate and a relay without STARTTLS are not.
fn mail_error(stage: Stage, reason: &FailReason) -> Error {
    let (temporary, code) = match reason {
        FailReason::Temporary { code, .. } => (true, Some(*code)),
        FailReason::Permanent { code, .. } => (false, Some(*code)),
        FailReason::Unexpected { code, .. } => (false, Some(*code)),
        FailReason::Refused
        | FailReason::Unreachable { .. }
        | FailReason::Timeout { .. }
        | FailReason::Closed
        | FailReason::Io { .. } => (true, None),
        FailReason::Tls { .. }
        | FailReason::NoStartTls
        | FailReason::Protocol(_)
        | FailReason::AuthWithheld { .. }
        | FailReason::InvalidArgument { .. } => (false, None),
    };
    Error::Mail {
        temporary,
        code,
        reason: format!("at {}: {reason}", stage.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_require_tls_verify_the_name_and_hide_the_password() {
        let mut relay = Relay::new("relay.example.test", "127.0.0.1:587".parse().unwrap());
        relay.auth = Some(AuthCredentials {
            user: "batch".into(),
            password: "hunter2".into(),
            login: true,
        });
        let mailer = SmtpMailer::new(relay.clone());
        let o = mailer.options("a@example.test", "b@example.test", b"x\r\n");
        assert!(o.session.require_tls && o.tls.verify.is_some());
        assert_eq!(o.tls.sni.as_deref(), Some("relay.example.test"));
        assert_eq!(o.session.stop_after, StopAfter::Data);
        assert!(!format!("{mailer:?}{o:?}").contains("hunter2"));
        relay.allow_plaintext = true;
        let o = SmtpMailer::new(relay).options("a@x.test", "b@x.test", b"x\r\n");
        assert!(!o.session.require_tls && o.tls.verify.is_none());
    }

    #[test]
    fn temporary_and_permanent_failures() {
        let temp = mail_error(
            Stage::MailFrom,
            &FailReason::Temporary {
                code: 451,
                text: "later".into(),
            },
        );
        assert!(matches!(
            temp,
            Error::Mail {
                temporary: true,
                code: Some(451),
                ..
            }
        ));
        let perm = mail_error(Stage::TlsOffered, &FailReason::NoStartTls);
        assert!(matches!(
            perm,
            Error::Mail {
                temporary: false,
                ..
            }
        ));
        assert!(matches!(
            mail_error(Stage::Answer, &FailReason::Refused),
            Error::Mail {
                temporary: true,
                ..
            }
        ));
    }
}
