//! Delivery: the message (MIME, CRLF, the XML attached with secrets redacted), the retry
//! policy, atomic result files, and suppressed deliveries that send nothing.
#![cfg(feature = "runtime")]

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use base64ct::{Base64, Encoding};
use checktls_batch::delivery::{
    DeliveryConfig, Envelope, MailParts, Mailer, RetryPolicy, compose, deliver, result_file_name,
    send_with_retry, write_result_file,
};
use checktls_batch::run::{RunOptions, run};
use checktls_batch::scripted::ScriptedExecutor;
use checktls_batch::{Error, Format, parse};
use time::macros::datetime;

fn golden(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/golden/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("checktls-batch-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// A MIME part as Python's `email` package (an independent parser, policy `default`) read it:
/// its headers (lower-case names, encoded words decoded) and its decoded body.
struct Part {
    headers: Vec<(String, String)>,
    /// Media type, charset, disposition and file name as Python parsed them.
    content_type: String,
    charset: Option<String>,
    disposition: Option<String>,
    filename: Option<String>,
    body: Vec<u8>,
}

impl Part {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a message as Python's `email` parser does; panics on any defect it reports, on a bare
/// CR or LF, and on a line longer than RFC 5322's 78 characters.
const PY_PARSE: &str = r#"
import sys, json, base64, email, email.policy
raw = sys.stdin.buffer.read()
m = email.message_from_bytes(raw, policy=email.policy.default)
def hs(p):
    return [[k.lower(), str(v)] for k, v in p.items()]
def defects(p):
    return [type(d).__name__ for d in p.defects] + [type(d).__name__ for h in p.values() for d in getattr(h, 'defects', ())]
out = {"headers": hs(m), "defects": defects(m), "type": m.get_content_type(), "parts": []}
for part in m.iter_parts():
    out["parts"].append({
        "headers": hs(part),
        "defects": defects(part),
        "type": part.get_content_type(),
        "charset": part.get_param("charset"),
        "disposition": part.get_content_disposition(),
        "filename": part.get_filename(),
        "body": base64.b64encode(part.get_payload(decode=True)).decode(),
    })
print(json.dumps(out))
"#;

fn parse_message(message: &[u8]) -> (Vec<(String, String)>, Vec<Part>) {
    use std::io::Write as _;
    let text = std::str::from_utf8(message).unwrap();
    assert!(!text.replace("\r\n", "").contains('\n'), "bare LF");
    assert!(!text.replace("\r\n", "").contains('\r'), "bare CR");
    for line in text.split("\r\n") {
        assert!(line.len() <= 78, "a line over 78 characters: {line}");
    }
    let mut child = std::process::Command::new("python3")
        .args(["-c", PY_PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (the independent MIME parser) runs");
    child.stdin.take().unwrap().write_all(message).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 could not parse:\n{text}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let headers = |v: &serde_json::Value| -> Vec<(String, String)> {
        v["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h[0].as_str().unwrap().to_owned(),
                    h[1].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let no_defects = |v: &serde_json::Value| {
        assert_eq!(
            v["defects"],
            serde_json::json!([]),
            "Python saw defects in:\n{text}"
        );
    };
    no_defects(&v);
    assert_eq!(v["type"], "multipart/mixed");
    let opt = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let parts = v["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            no_defects(p);
            Part {
                headers: headers(p),
                content_type: p["type"].as_str().unwrap().to_owned(),
                charset: opt(&p["charset"]),
                disposition: opt(&p["disposition"]),
                filename: opt(&p["filename"]),
                // Text: lines as lines, whatever the transfer encoding made of their ends.
                body: String::from_utf8(Base64::decode_vec(p["body"].as_str().unwrap()).unwrap())
                    .unwrap()
                    .replace("\r\n", "\n")
                    .into_bytes(),
            }
        })
        .collect();
    (headers(&v), parts)
}

fn parts(results: &str, subject: &str) -> MailParts {
    MailParts {
        from: "batch@example.com".into(),
        to: vec!["a@example.com".into(), "b@example.org".into()],
        subject: subject.into(),
        date: datetime!(2026-11-22 12:00:05 UTC),
        results: results.into(),
        results_type: "text/plain",
        results_name: "results.txt".into(),
        batch_xml: "<BatchTest TestType=\"receiver\">\n<Target>a.example</Target>\n</BatchTest>\n"
            .into(),
        batch_name: "weekly.xml".into(),
    }
}

#[test]
fn the_message_has_the_results_inline_and_the_batch_attached() {
    let message = compose(&parts(
        "114 205.139.110.177\n114 207.211.30.221\n",
        "Weekly results",
    ));
    let (headers, parts) = parse_message(&message);
    let h = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(h("from"), Some("batch@example.com"));
    assert_eq!(h("to"), Some("a@example.com, b@example.org"));
    assert_eq!(h("subject"), Some("Weekly results"));
    assert_eq!(h("date"), Some("Sun, 22 Nov 2026 12:00:05 +0000"));
    assert_eq!(h("mime-version"), Some("1.0"));
    assert!(h("message-id").unwrap().ends_with("@example.com>"));
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].content_type, "text/plain");
    assert_eq!(parts[0].charset.as_deref(), Some("utf-8"));
    assert_eq!(parts[0].disposition.as_deref(), Some("inline"));
    assert_eq!(parts[0].filename.as_deref(), Some("results.txt"));
    assert_eq!(parts[0].header("content-transfer-encoding"), Some("7bit"));
    assert_eq!(parts[0].body, b"114 205.139.110.177\n114 207.211.30.221\n");
    assert_eq!(parts[1].content_type, "application/xml");
    assert_eq!(parts[1].disposition.as_deref(), Some("attachment"));
    assert_eq!(parts[1].filename.as_deref(), Some("weekly.xml"));
    assert_eq!(
        parts[1].body,
        b"<BatchTest TestType=\"receiver\">\n<Target>a.example</Target>\n</BatchTest>\n"
    );
    // The same parts, the same message (the Message-ID comes from the content and date).
    let again = compose(&self::parts(
        "114 205.139.110.177\n114 207.211.30.221\n",
        "Weekly results",
    ));
    assert_eq!(
        String::from_utf8_lossy(&message)
            .lines()
            .find(|l| l.starts_with("Message-ID")),
        String::from_utf8_lossy(&again)
            .lines()
            .find(|l| l.starts_with("Message-ID"))
    );
}

#[test]
fn non_ascii_results_are_encoded_and_the_subject_cannot_inject_a_header() {
    let results = "114 bücher.example\n";
    let message = compose(&parts(results, "Résultats\r\nBcc: evil@example.com"));
    let (headers, parts) = parse_message(&message);
    let subject = &headers.iter().find(|(k, _)| k == "subject").unwrap().1;
    assert_eq!(subject, "Résultats  Bcc: evil@example.com");
    assert!(!headers.iter().any(|(k, _)| k == "bcc"), "header injection");
    let raw = String::from_utf8(message.clone()).unwrap();
    assert!(raw.contains("Subject: =?utf-8?"), "{raw}");
    assert_ne!(parts[0].header("content-transfer-encoding"), Some("7bit"));
    assert_eq!(parts[0].body, results.as_bytes());
}

/// A long non-ASCII subject (the old hand-written encoder made one encoded word of any
/// length): every encoded word is at most 75 characters (RFC 2047 section 2), the header is
/// folded, and Python reads back the subject as given.
#[test]
fn a_long_subject_is_folded_into_short_encoded_words() {
    let subject = "Résultats du lot hebdomadaire: ".repeat(8);
    let message = compose(&parts("114 a.example\n", &subject));
    let (headers, _) = parse_message(&message);
    let got = &headers.iter().find(|(k, _)| k == "subject").unwrap().1;
    assert_eq!(got.trim_end(), subject.trim_end());
    let raw = String::from_utf8(message).unwrap();
    let head = raw.split("\r\n\r\n").next().unwrap();
    let words: Vec<&str> = head
        .split(|c: char| c.is_whitespace())
        .filter(|w| w.starts_with("=?"))
        .collect();
    assert!(words.len() > 1, "{head}");
    for w in &words {
        assert!(
            w.len() <= 75,
            "an encoded word of {} characters: {w}",
            w.len()
        );
    }
}

#[test]
fn retry_delays_grow_and_stop() {
    let p = RetryPolicy::default();
    let got: Vec<Option<Duration>> = (0..=5).map(|a| p.delay_before(a)).collect();
    let s = Duration::from_secs;
    assert_eq!(
        got,
        [
            None,
            Some(s(0)),
            Some(s(30)),
            Some(s(60)),
            Some(s(120)),
            None
        ]
    );
    let mut capped = RetryPolicy::default();
    capped.attempts = 10;
    assert_eq!(capped.delay_before(10), Some(s(600)));
    assert_eq!(RetryPolicy::fixed(1, s(5)).delay_before(2), None);
}

#[test]
fn result_files_are_named_by_batch_and_time() {
    let t = datetime!(2026-11-22 12:00:05 +02:00);
    assert_eq!(
        result_file_name("weekly partners", t, Format::Csv),
        "weekly_partners-20261122T100005Z.csv"
    );
    assert_eq!(
        result_file_name("../../etc/passwd", t, Format::Text),
        "batch.._.._etc_passwd-20261122T100005Z.txt"
    );
    assert_eq!(
        result_file_name("", t, Format::Json),
        "batch-20261122T100005Z.json"
    );
}

#[test]
fn result_files_are_written_atomically_and_never_overwritten() {
    let dir = TempDir::new("files");
    let where_ = dir.0.join("results");
    let t = datetime!(2026-11-22 12:00:05 UTC);
    let a = write_result_file(&where_, "weekly", t, Format::Text, "first\n").unwrap();
    let b = write_result_file(&where_, "weekly", t, Format::Text, "second\n").unwrap();
    assert_eq!(a.file_name().unwrap(), "weekly-20261122T120005Z.txt");
    assert_eq!(b.file_name().unwrap(), "weekly-20261122T120005Z-2.txt");
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "first\n");
    assert_eq!(std::fs::read_to_string(&b).unwrap(), "second\n");
    assert_eq!(
        files(&where_),
        [
            "weekly-20261122T120005Z-2.txt",
            "weekly-20261122T120005Z.txt"
        ],
        "no temporary file left"
    );
    // A directory that cannot be made is an error naming the path.
    let blocked = dir.0.join("plain-file");
    std::fs::write(&blocked, "x").unwrap();
    let e = write_result_file(&blocked.join("sub"), "weekly", t, Format::Text, "x").unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
}

/// A mailer that fails as scripted, then accepts; it keeps what it accepted.
struct FakeMailer {
    failures: Mutex<Vec<Error>>,
    sent: Mutex<Vec<(Envelope, Vec<u8>)>>,
    attempts: Mutex<u32>,
}

impl FakeMailer {
    fn new(failures: Vec<Error>) -> Self {
        Self {
            failures: Mutex::new(failures),
            sent: Mutex::new(Vec::new()),
            attempts: Mutex::new(0),
        }
    }
}

impl Mailer for FakeMailer {
    async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), Error> {
        *self.attempts.lock().unwrap() += 1;
        let next = {
            let mut f = self.failures.lock().unwrap();
            if f.is_empty() {
                None
            } else {
                Some(f.remove(0))
            }
        };
        match next {
            Some(e) => Err(e),
            None => {
                self.sent
                    .lock()
                    .unwrap()
                    .push((envelope.clone(), message.to_vec()));
                Ok(())
            }
        }
    }
}

fn temporary() -> Error {
    Error::Mail {
        temporary: true,
        code: Some(451),
        reason: "try again later".into(),
    }
}

#[tokio::test]
async fn temporary_failures_are_retried_permanent_ones_are_not() {
    let env = Envelope {
        from: "a@example.com".into(),
        to: vec!["b@example.com".into()],
    };
    let policy = RetryPolicy::fixed(4, Duration::from_millis(1));
    let m = FakeMailer::new(vec![temporary(), temporary()]);
    assert_eq!(send_with_retry(&m, &env, b"x", &policy).await.unwrap(), 3);
    assert_eq!(m.sent.lock().unwrap().len(), 1);

    let m = FakeMailer::new((0..10).map(|_| temporary()).collect());
    let e = send_with_retry(&m, &env, b"x", &policy).await.unwrap_err();
    assert!(matches!(e, Error::Delivery { attempts: 4, .. }), "{e}");
    assert_eq!(*m.attempts.lock().unwrap(), 4);

    let m = FakeMailer::new(vec![Error::Mail {
        temporary: false,
        code: Some(550),
        reason: "no relay".into(),
    }]);
    let e = send_with_retry(&m, &env, b"x", &policy).await.unwrap_err();
    assert!(matches!(e, Error::Delivery { attempts: 1, .. }), "{e}");
    assert!(
        e.to_string()
            .contains("refused the message (550): no relay"),
        "{e}"
    );
    assert_eq!(*m.attempts.lock().unwrap(), 1);
}

async fn run_golden(name: &str) -> (checktls_batch::Batch, checktls_batch::eval::BatchResult) {
    let batch = parse(&golden(&format!("{name}.xml"))).unwrap();
    let ex = ScriptedExecutor::from_json(&golden(&format!("{name}.outcomes.json"))).unwrap();
    let result = run(&batch, &ex, &RunOptions::default(), |_| {}).await;
    (batch, result)
}

fn config(dir: &Path) -> DeliveryConfig {
    let mut c = DeliveryConfig::new(dir.join("results"), "checktls-batch@example.com");
    c.retry = RetryPolicy::fixed(3, Duration::from_millis(1));
    c
}

#[tokio::test]
async fn a_suppressed_delivery_sends_nothing() {
    let dir = TempDir::new("suppressed");
    let (batch, result) = run_golden("02-mimecast-delivery-suppress").await;
    let mailer = FakeMailer::new(vec![]);
    let reports = deliver(
        &batch,
        &result,
        &config(&dir.0),
        &mailer,
        datetime!(2026-11-22 12:00 UTC),
    )
    .await;
    assert_eq!(reports.len(), 1);
    assert!(!reports[0].sent && reports[0].ok());
    assert!(mailer.sent.lock().unwrap().is_empty());
    assert_eq!(*mailer.attempts.lock().unwrap(), 0);
    assert!(!dir.0.join("results").exists());
}

#[tokio::test]
async fn the_seed_batch_is_mailed_with_its_results_and_xml() {
    let dir = TempDir::new("mailed");
    let (batch, result) = run_golden("01-mimecast-check-each-host").await;
    let mailer = FakeMailer::new(vec![temporary()]);
    let reports = deliver(
        &batch,
        &result,
        &config(&dir.0),
        &mailer,
        datetime!(2026-11-22 12:00 UTC),
    )
    .await;
    assert!(reports[0].sent && reports[0].ok(), "{reports:?}");
    assert_eq!(reports[0].mail.as_ref().unwrap().as_ref().unwrap(), &2);
    let sent = mailer.sent.lock().unwrap();
    let (envelope, message) = &sent[0];
    assert_eq!(envelope.to, ["checktls@mimecast.com"]);
    let (headers, parts) = parse_message(message);
    assert!(headers.contains(&("subject".into(), "BatchTest batch: 22 results".into())));
    let body = String::from_utf8(parts[0].body.clone()).unwrap();
    assert_eq!(body.lines().count(), 22);
    assert_eq!(body.lines().next(), Some("114 205.139.110.177"));
    assert_eq!(
        parts[1].body,
        golden("01-mimecast-check-each-host.xml").as_bytes()
    );
}

#[tokio::test]
async fn file_deliveries_and_the_password_never_leaves() {
    let dir = TempDir::new("file");
    let (batch, result) = run_golden("06-private-system").await;
    let mailer = FakeMailer::new(vec![]);
    let reports = deliver(
        &batch,
        &result,
        &config(&dir.0),
        &mailer,
        datetime!(2026-11-22 12:00 UTC),
    )
    .await;
    let path = reports[0].file.as_ref().unwrap().as_ref().unwrap();
    assert_eq!(path.file_name().unwrap(), "batch-20261122T120000Z.csv");
    assert_eq!(
        std::fs::read_to_string(path).unwrap(),
        golden("06-private-system.expected.pager")
    );
    assert!(reports[0].mail.is_none());

    // The same batch mailed: the attachment has the password redacted.
    let xml = golden("06-private-system.xml").replace("<To>File</To>", "<To>ops@example.com</To>");
    let batch = parse(&xml).unwrap();
    let reports = deliver(
        &batch,
        &result,
        &config(&dir.0),
        &mailer,
        datetime!(2026-11-22 12:00 UTC),
    )
    .await;
    assert!(reports[0].ok());
    let sent = mailer.sent.lock().unwrap();
    let message = &sent[0].1;
    let (_, parts) = parse_message(message);
    let attached = String::from_utf8(parts[1].body.clone()).unwrap();
    assert!(attached.contains("AuthPass=\"********\""), "{attached}");
    assert!(!String::from_utf8_lossy(message).contains("not-a-real-password"));
    assert!(!attached.contains("not-a-real-password"));
}
