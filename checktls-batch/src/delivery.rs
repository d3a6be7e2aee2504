//! Delivery: where a batch's results go once it has run.
//!
//! ```text
//!   pure:
//!     compose(&MailParts) ─► RFC 5322 / MIME message (CRLF, by mail-builder): results
//!                            inline in the chosen format, the input XML (secrets redacted)
//!                            attached
//!     RetryPolicy::delay_before(attempt)   when to try a temporary failure again
//!     result_file_name(batch, time, format)    "<batch>-20261122T120000Z.txt"
//!
//!   feature "runtime":
//!     deliver(&batch, &result, &DeliveryConfig, &impl Mailer, now) ─► [DeliveryReport]
//!       <To>File</To>     write_result_file: atomic (temp file, fsync, link), never overwrites
//!       <To>addr</To>     one message per Delivery through a Mailer, retried on temporary failure
//! ```
//!
//! A Delivery whose Suppress conditions all hold sends nothing (see
//! [`BatchResult::delivers`](crate::eval::BatchResult::delivers)). The [`Mailer`] is a trait:
//! the SMTP relay mailer lives with the command; tests use a fake.
//!
//! ```
//! use checktls_batch::delivery::{MailParts, compose};
//! let message = compose(&MailParts {
//!     from: "batch@example.com".into(),
//!     to: vec!["noc@example.com".into()],
//!     subject: "BatchTest results".into(),
//!     date: time::macros::datetime!(2026-11-22 12:00 UTC),
//!     results: "114 205.139.110.177\n".into(),
//!     results_type: "text/plain",
//!     results_name: "results.txt".into(),
//!     batch_xml: "<BatchTest TestType=\"receiver\"/>".into(),
//!     batch_name: "batch.xml".into(),
//! });
//! let text = String::from_utf8(message).unwrap();
//! assert!(text.contains("\r\n114 205.139.110.177\r\n"));
//! assert!(text.contains("Content-Disposition: attachment; filename=\"batch.xml\""));
//! assert!(text.lines().all(|l| l.len() <= 78));
//! ```

use std::time::Duration;

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::mime::MimePart;
use time::OffsetDateTime;

use crate::model::Format;

#[cfg(feature = "runtime")]
pub use runtime::{
    DeliveryConfig, DeliveryReport, Envelope, Mailer, deliver, send_with_retry, write_result_file,
};

/// When to try again after a temporary failure (4xx, a lost connection).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The most attempts in all, the first included. Default: 4.
    pub attempts: u32,
    /// The wait before the second attempt. Default: 30 s.
    pub first_delay: Duration,
    /// Each later wait is this many times the one before. Default: 2.
    pub factor: u32,
    /// The longest wait. Default: 10 minutes.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            first_delay: Duration::from_secs(30),
            factor: 2,
            max_delay: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// A policy of `attempts` attempts with a fixed wait between them.
    pub fn fixed(attempts: u32, delay: Duration) -> Self {
        Self {
            attempts,
            first_delay: delay,
            factor: 1,
            max_delay: delay,
        }
    }

    /// The wait before attempt `attempt` (counted from 1), or `None` when it may not be made.
    /// The first attempt waits nothing.
    pub fn delay_before(&self, attempt: u32) -> Option<Duration> {
        if attempt == 0 || attempt > self.attempts.max(1) {
            return None;
        }
        if attempt == 1 {
            return Some(Duration::ZERO);
        }
        let mut delay = self.first_delay;
        for _ in 2..attempt {
            delay = delay.saturating_mul(self.factor).min(self.max_delay);
        }
        Some(delay.min(self.max_delay))
    }
}

/// What a results message is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct MailParts {
    /// The From address.
    pub from: String,
    /// The recipients (the To header).
    pub to: Vec<String>,
    /// The subject.
    pub subject: String,
    /// The Date header.
    pub date: OffsetDateTime,
    /// The results, rendered.
    pub results: String,
    /// Their media type (`text/plain`, `text/csv`, `text/html`, `application/xml`, ...).
    pub results_type: &'static str,
    /// Their file name (`results.txt`).
    pub results_name: String,
    /// The input XML, secrets redacted.
    pub batch_xml: String,
    /// Its file name.
    pub batch_name: String,
}

/// Composes a results message with `mail-builder`: `multipart/mixed` with the results inline
/// and the batch XML attached, each in the transfer encoding that fits it (7bit, quoted-printable
/// or base64); headers folded, a non-ASCII subject in RFC 2047 encoded words of at most 75
/// characters. Lines end in CRLF. Header values lose any control character (no header
/// injection through a subject or an address), and the Message-ID is derived from the content
/// and the date, so the same parts give the same message.
pub fn compose(parts: &MailParts) -> Vec<u8> {
    let from = header_value(&parts.from);
    let domain = from.rsplit_once('@').map_or("checktls.invalid", |(_, d)| d);
    let message_id = format!(
        "{}.{:016x}@{}",
        parts.date.unix_timestamp(),
        fnv(&[
            parts.results.as_bytes(),
            parts.batch_xml.as_bytes(),
            parts.subject.as_bytes()
        ]),
        domain_value(domain)
    );
    let to: Vec<Address<'_>> = parts
        .to
        .iter()
        .map(|a| Address::from(header_value(a)))
        .collect();
    let results = MimePart::new(
        ContentType::new(parts.results_type).attribute("charset", "utf-8"),
        parts.results.as_str(),
    )
    .header(
        "Content-Disposition",
        ContentType::new("inline").attribute("filename", file_name_value(&parts.results_name)),
    );
    let batch = MimePart::new(
        ContentType::new("application/xml").attribute("charset", "utf-8"),
        parts.batch_xml.as_str(),
    )
    .attachment(file_name_value(&parts.batch_name));
    MessageBuilder::new()
        .from(Address::from(from.clone()))
        .to(Address::new_list(to))
        .subject(header_value(&parts.subject))
        .date(Date::new(parts.date.unix_timestamp()))
        .message_id(message_id)
        .body(MimePart::new("multipart/mixed", vec![results, batch]))
        .write_to_vec()
        .unwrap_or_default()
}

fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
    }
    h
}

/// A header value with every control character (CR and LF above all) made a space.
fn header_value(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The domain part of the Message-ID: letters, digits, dots and hyphens only.
fn domain_value(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .collect()
}

fn file_name_value(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The file name of a results file: the batch name (letters, digits, `.`, `-`, `_`; at most
/// 64), the UTC time, the format's extension: `weekly-20261122T120000Z.csv`.
pub fn result_file_name(batch: &str, time: OffsetDateTime, format: Format) -> String {
    let mut name: String = file_name_value(batch).chars().take(64).collect();
    if name.is_empty() || name.starts_with('.') {
        name.insert_str(0, "batch");
    }
    let t = time.to_offset(time::UtcOffset::UTC);
    format!(
        "{name}-{:04}{:02}{:02}T{:02}{:02}{:02}Z.{}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        format.extension()
    )
}

#[cfg(feature = "runtime")]
mod runtime {
    use std::future::Future;
    use std::io::Write as _;
    use std::path::{Path, PathBuf};

    use time::OffsetDateTime;

    use super::{MailParts, RetryPolicy, compose, result_file_name};
    use crate::error::Error;
    use crate::eval::BatchResult;
    use crate::format::render;
    use crate::model::{Batch, Format, Recipient};

    /// The envelope of a message: MAIL FROM and RCPT TO.
    #[derive(Clone, Debug, PartialEq, Eq)]
    #[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
    pub struct Envelope {
        /// The envelope sender.
        pub from: String,
        /// The envelope recipients.
        pub to: Vec<String>,
    }

    /// Submits one message. The SMTP relay mailer (checktls-smtp, port 587 or 25, STARTTLS,
    /// AUTH) implements this in the command; tests use a fake.
    ///
    /// Return [`Error::Mail`] with `temporary: true` for what may succeed later (a 4xx reply,
    /// a lost connection): it is retried by [`RetryPolicy`].
    pub trait Mailer: Send + Sync {
        /// Submits `message` (CRLF lines) to the envelope's recipients.
        fn send(
            &self,
            envelope: &Envelope,
            message: &[u8],
        ) -> impl Future<Output = Result<(), Error>> + Send;
    }

    /// Sends a message, retrying temporary failures as the policy says; returns the number of
    /// attempts made.
    pub async fn send_with_retry<M: Mailer>(
        mailer: &M,
        envelope: &Envelope,
        message: &[u8],
        policy: &RetryPolicy,
    ) -> Result<u32, Error> {
        let mut attempt = 1;
        loop {
            match mailer.send(envelope, message).await {
                Ok(()) => return Ok(attempt),
                Err(e) => {
                    let temporary = matches!(
                        e,
                        Error::Mail {
                            temporary: true,
                            ..
                        }
                    );
                    match policy.delay_before(attempt + 1) {
                        Some(delay) if temporary => {
                            tracing::info!(attempt, ?delay, "temporary delivery failure: {e}");
                            tokio::time::sleep(delay).await;
                            attempt += 1;
                        }
                        _ => {
                            return Err(Error::Delivery {
                                to: envelope.to.join(", "),
                                attempts: attempt,
                                last: Box::new(e),
                            });
                        }
                    }
                }
            }
        }
    }

    /// Writes a results file into `dir` (created if missing, owner-only: 0700), atomically: the
    /// content goes to a temporary file in the same directory (owner-only: 0600), is synced,
    /// then linked under its final name, which is never overwritten (`-2`, `-3`, ... are added
    /// when the name is taken).
    pub fn write_result_file(
        dir: &Path,
        batch: &str,
        time: OffsetDateTime,
        format: Format,
        content: &str,
    ) -> Result<PathBuf, Error> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        if !dir.exists() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(io(dir))?;
        }
        let name = result_file_name(batch, time, format);
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = (|| {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options.open(&tmp)?;
            f.write_all(content.as_bytes())?;
            f.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(&tmp)(e));
        }
        let (stem, ext) = name.rsplit_once('.').unwrap_or((&name, ""));
        let mut result = Err(Error::Io {
            path: dir.join(&name),
            source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        });
        for n in 1..=1000u32 {
            let candidate = if n == 1 {
                dir.join(&name)
            } else {
                dir.join(format!("{stem}-{n}.{ext}"))
            };
            match std::fs::hard_link(&tmp, &candidate) {
                Ok(()) => {
                    result = Ok(candidate);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    result = Err(io(&candidate)(e));
                    break;
                }
            }
        }
        let _ = std::fs::remove_file(&tmp);
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        result
    }

    /// Where and how results are delivered.
    #[derive(Clone, Debug)]
    #[non_exhaustive]
    pub struct DeliveryConfig {
        /// The directory of `<To>File</To>` results.
        pub results_dir: PathBuf,
        /// The sender of results messages.
        pub from: String,
        /// Retries of temporary mail failures.
        pub retry: RetryPolicy,
    }

    impl DeliveryConfig {
        /// A configuration with the default retry policy.
        pub fn new(results_dir: impl Into<PathBuf>, from: impl Into<String>) -> Self {
            Self {
                results_dir: results_dir.into(),
                from: from.into(),
                retry: RetryPolicy::default(),
            }
        }
    }

    /// What happened to one `<Delivery>`.
    #[derive(Debug)]
    #[non_exhaustive]
    pub struct DeliveryReport {
        /// Its position among the batch's deliveries.
        pub index: usize,
        /// False when its Suppress conditions held and nothing was sent.
        pub sent: bool,
        /// The results file, when it has `<To>File</To>`.
        pub file: Option<Result<PathBuf, Error>>,
        /// The message (attempts made), when it has email recipients.
        pub mail: Option<Result<u32, Error>>,
    }

    impl DeliveryReport {
        /// Whether every part of the delivery that was due succeeded.
        pub fn ok(&self) -> bool {
            self.file.as_ref().is_none_or(Result::is_ok)
                && self.mail.as_ref().is_none_or(Result::is_ok)
        }
    }

    /// Carries out every `<Delivery>` of a batch: suppressed ones send nothing; File
    /// recipients get a results file; email recipients one message, retried on temporary
    /// failure. `now` names files and dates messages.
    pub async fn deliver<M: Mailer>(
        batch: &Batch,
        result: &BatchResult,
        config: &DeliveryConfig,
        mailer: &M,
        now: OffsetDateTime,
    ) -> Vec<DeliveryReport> {
        let mut reports = Vec::with_capacity(batch.deliveries.len());
        for (index, delivery) in batch.deliveries.iter().enumerate() {
            if !result.delivers(delivery) {
                tracing::info!(index, "delivery suppressed");
                reports.push(DeliveryReport {
                    index,
                    sent: false,
                    file: None,
                    mail: None,
                });
                continue;
            }
            let body = render(result, delivery.format, &delivery.selection());
            let file = delivery.to.contains(&Recipient::File).then(|| {
                write_result_file(
                    &config.results_dir,
                    batch.display_name(),
                    now,
                    delivery.format,
                    &body,
                )
            });
            let to: Vec<String> = delivery
                .to
                .iter()
                .filter_map(|r| match r {
                    Recipient::Email(a) => Some(a.clone()),
                    Recipient::File => None,
                })
                .collect();
            let mail = if to.is_empty() {
                None
            } else {
                let shown = result.lines().count();
                let subject = delivery.subject.clone().unwrap_or_else(|| {
                    format!(
                        "BatchTest {}: {shown} result{}",
                        batch.display_name(),
                        if shown == 1 { "" } else { "s" }
                    )
                });
                let message = compose(&MailParts {
                    from: config.from.clone(),
                    to: to.clone(),
                    subject,
                    date: now,
                    results: body,
                    results_type: delivery.format.media_type(),
                    results_name: format!("results.{}", delivery.format.extension()),
                    batch_xml: batch.redacted_source().to_owned(),
                    batch_name: format!("{}.xml", batch.display_name()),
                });
                let envelope = Envelope {
                    from: config.from.clone(),
                    to,
                };
                Some(send_with_retry(mailer, &envelope, &message, &config.retry).await)
            };
            reports.push(DeliveryReport {
                index,
                sent: true,
                file,
                mail,
            });
        }
        reports
    }
}
