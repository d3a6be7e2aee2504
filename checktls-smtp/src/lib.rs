//! The SMTP client for testing receivers: a sans-I/O session core and one tokio driver.
//!
//! ```text
//!   pure, no I/O, no clock (builds with --no-default-features, fuzzed):
//!     reply::ReplyParser   bytes ─► Reply { code, enhanced, lines }      (bounded)
//!     ehlo::Capabilities   Reply ─► STARTTLS, AUTH, SIZE, ...
//!     session::Session     Action ◄─► events; stages, transcript, findings, outcome
//!
//!   feature "tokio":
//!     probe(addr, &ProbeOptions) ─► SmtpRecord       TCP or SOCKS5, STARTTLS or direct TLS
//!     probe_stream(stream, ...)  ─► SmtpRecord       any async stream
//!     open_for_tls(addr, ...)    ─► raw stream at the ClientHello, for the legacy prober
//! ```
//!
//! Stages follow CheckTLS: Answer (TCP connected), Connect (greeting accepted), EHLO, TLS
//! offered, Cert, Secure (TLS negotiated and the EHLO after it accepted), From, To, and Data and
//! Email only when a message is sent. Every reply is awaited (no pipelining); every wait has its
//! stage's deadline; replies are bounded in line length, lines and bytes, so a hostile server
//! gets a typed [`Outcome`], never a hang or a panic. AUTH secrets never reach
//! the transcript, the raw recording or Debug output.
//!
//! ```
//! use checktls_smtp::reply::{Limits, ReplyParser};
//! use checktls_smtp::ehlo::Capabilities;
//!
//! let mut parser = ReplyParser::new(Limits::default());
//! parser.feed(b"250-mx.example.com\r\n250 STARTTLS\r\n");
//! let caps = Capabilities::from_reply(&parser.next_reply().unwrap().unwrap());
//! assert!(caps.starttls);
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

#[cfg(feature = "tokio")]
mod driver;
pub mod ehlo;
#[doc(hidden)]
pub mod fuzzing;
pub mod record;
pub mod reply;
pub mod session;

#[cfg(feature = "tokio")]
pub use driver::{
    PeerCheck, ProbeObserver, ProbeOptions, SmtpRecord, Socks5, StrictPeerCheck, TlsFailure,
    open_for_tls, probe, probe_stream,
};
pub use record::{
    Argument, Direction, Event, FailReason, Finding, Outcome, Stage, StageResult, Transcript,
    Withheld,
};
pub use session::{
    Auth, AuthMechanism, PeerIdentity, Secret, SessionOptions, StopAfter, Timeouts, TlsMode,
};
