//! Batch results by email through `SmtpMailer`: against lab receivers (hermetic) and, run by
//! .ci/run, through a real Postfix relay with STARTTLS and SASL AUTH.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use base64ct::{Base64, Encoding};
use checktls::batch::Error;
use checktls::batch::delivery::{DeliveryConfig, Envelope, Mailer, RetryPolicy, deliver};
use checktls::batch::eval::BatchResult;
use checktls::batch::report::{Outcome, TargetReport};
use checktls::mailer::{Relay, SmtpMailer};
use checktls::options::AuthCredentials;
use checktls::tls::TrustStore;
use checktls_lab::pki::Pki;
use checktls_lab::postfix::{Postfix, PostfixConfig};
use checktls_lab::smtp::{Posture, SmtpReceiver};

const MESSAGE: &[u8] = b"Subject: results\r\n\r\n114 tls13.test\r\n";

fn envelope() -> Envelope {
    Envelope {
        from: "checktls@lab.test".into(),
        to: vec!["noc@lab.test".into()],
    }
}

fn relay(name: &str, addr: SocketAddr, pki: &Pki) -> Relay {
    let mut trust = TrustStore::empty();
    trust.add_der(pki.root().der().clone()).expect("root");
    let mut r = Relay::new(name, addr);
    r.trust = trust;
    r.timeout = Duration::from_secs(10);
    r.auth = Some(AuthCredentials {
        user: "batch".into(),
        password: "s3cret-pw".into(),
        login: false,
    });
    r
}

async fn receiver(posture: Posture) -> SmtpReceiver {
    SmtpReceiver::start("127.0.0.1:0".parse().expect("addr"), posture)
        .await
        .expect("receiver")
}

#[tokio::test]
async fn submits_over_starttls_with_auth_to_a_trusted_relay() {
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let leaf = pki.valid("relay.lab.test").expect("leaf");
    let rx = receiver(
        Posture::tls(&leaf)
            .expect("posture")
            .auth("batch", "s3cret-pw"),
    )
    .await;
    let mailer = SmtpMailer::new(relay("relay.lab.test", rx.addr(), &pki));
    mailer.send(&envelope(), MESSAGE).await.expect("sent");
    let seen = rx.seen();
    assert_eq!(seen.messages.len(), 1);
    assert!(
        seen.messages[0].windows(14).any(|w| w == b"114 tls13.test"),
        "{:?}",
        String::from_utf8_lossy(&seen.messages[0])
    );
    let auth_at = seen.commands.iter().position(|c| c.starts_with("AUTH"));
    let tls_at = seen.commands.iter().position(|c| c == "STARTTLS");
    assert!(tls_at < auth_at && tls_at.is_some(), "{:?}", seen.commands);
}

#[tokio::test]
async fn refuses_to_send_in_clear_or_to_an_untrusted_relay() {
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    // No STARTTLS: the dialog ends after EHLO; no AUTH, no MAIL FROM, nothing retried.
    let rx = receiver(Posture::plain().auth("batch", "s3cret-pw")).await;
    let mailer = SmtpMailer::new(relay("relay.lab.test", rx.addr(), &pki));
    let err = mailer
        .send(&envelope(), MESSAGE)
        .await
        .expect_err("refused");
    assert!(
        matches!(
            err,
            Error::Mail {
                temporary: false,
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("s3cret-pw"));
    let seen = rx.seen();
    assert!(seen.messages.is_empty());
    assert!(
        !seen
            .commands
            .iter()
            .any(|c| c.starts_with("AUTH") || c.starts_with("MAIL")),
        "{:?}",
        seen.commands
    );

    // A certificate from another CA, and one for another name: refused before AUTH.
    let other = Pki::generate(SystemTime::now()).expect("pki");
    for leaf in [
        other.valid("relay.lab.test").expect("leaf"),
        pki.valid("elsewhere.lab.test").expect("leaf"),
    ] {
        let rx = receiver(
            Posture::tls(&leaf)
                .expect("posture")
                .auth("batch", "s3cret-pw"),
        )
        .await;
        let mailer = SmtpMailer::new(relay("relay.lab.test", rx.addr(), &pki));
        let err = mailer
            .send(&envelope(), MESSAGE)
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("TLS"), "{err}");
        let seen = rx.seen();
        assert!(seen.messages.is_empty());
        assert!(!seen.commands.iter().any(|c| c.starts_with("AUTH")));
    }

    // allow_plaintext is the explicit way out, for a relay on the same host.
    let rx = receiver(Posture::plain()).await;
    let mut r = relay("relay.lab.test", rx.addr(), &pki);
    r.auth = None;
    r.allow_plaintext = true;
    SmtpMailer::new(r)
        .send(&envelope(), MESSAGE)
        .await
        .expect("sent in clear when allowed");
    assert_eq!(rx.seen().messages.len(), 1);
}

#[tokio::test]
async fn a_relay_that_does_not_answer_is_a_temporary_failure() {
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    // Bind and drop: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let err = SmtpMailer::new(relay("relay.lab.test", addr, &pki))
        .send(&envelope(), MESSAGE)
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(
            err,
            Error::Mail {
                temporary: true,
                ..
            }
        ),
        "{err}"
    );
}

/// The attachment named `file` of the first message in an mbox, as Python's `email` package
/// (an independent MIME parser) decodes it, whatever transfer encoding was chosen; text line
/// ends as LF.
fn attachment(mbox: &str, file: &str) -> Option<Vec<u8>> {
    use std::io::Write as _;
    const PY: &str = r#"
import sys, base64, email, email.policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
for part in m.walk():
    if part.get_filename() == sys.argv[1]:
        print(base64.b64encode(part.get_payload(decode=True)).decode())
        break
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", PY, file])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(mbox.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    let b64 = String::from_utf8(out.stdout).ok()?;
    let bytes = Base64::decode_vec(b64.trim()).ok()?;
    Some(
        String::from_utf8(bytes)
            .ok()?
            .replace("\r\n", "\n")
            .into_bytes(),
    )
}

#[tokio::test]
#[ignore = "interop: needs root and the Debian packages postfix, sasl2-bin, libsasl2-modules; run by .ci/run"]
async fn batch_results_through_a_real_postfix_relay_with_starttls_and_auth() {
    assert!(
        Postfix::available(),
        "postfix is not installed or we are not root"
    );
    assert!(
        std::path::Path::new("/usr/sbin/saslpasswd2").exists(),
        "saslpasswd2 is missing: install sasl2-bin and libsasl2-modules"
    );
    let pki = Pki::generate(SystemTime::now()).expect("pki");
    let leaf = pki.valid("relay.lab.test").expect("leaf");
    let ip: IpAddr = [127, 0, 0, 71].into();
    let pf = Postfix::start(
        PostfixConfig::new(ip)
            .hostname("relay.lab.test")
            .local_domain("results.test")
            .tls(&leaf)
            .sasl_user("batch", "s3cret-pw"),
    )
    .expect("postfix");

    let xml = r#"<BatchTest TestType="receiver">
  <Target>tls13.test</Target>
  <Target>expired.test</Target>
  <Delivery><To>nobody@results.test</To><Format>csv</Format></Delivery>
</BatchTest>
"#;
    let batch = checktls::batch::parse(xml).expect("batch");
    let result = BatchResult::evaluate(
        &batch,
        vec![
            vec![Outcome::Tested(TargetReport::graded("tls13.test", 114))],
            vec![Outcome::Tested(TargetReport::graded("expired.test", 112))],
        ],
    );
    let dir = std::env::temp_dir().join(format!("checktls-mailer-{}", std::process::id()));
    let mut config = DeliveryConfig::new(&dir, "checktls@lab.test");
    config.retry = RetryPolicy::fixed(2, Duration::from_millis(200));
    let now = time::OffsetDateTime::now_utc();

    let mailer = SmtpMailer::new(relay("relay.lab.test", pf.addr(), &pki));
    let reports = deliver(&batch, &result, &config, &mailer, now).await;
    assert_eq!(reports.len(), 1);
    let attempts = reports[0].mail.as_ref().expect("mailed");
    assert!(attempts.is_ok(), "{attempts:?}\n{}", pf.log());

    let mbox = pf
        .wait_for_mail("nobody", "expired.test", Duration::from_secs(20))
        .unwrap_or_else(|| panic!("no mail in the mailbox\n{}", pf.log()));
    let attached = attachment(&mbox, &format!("{}.xml", batch.display_name()))
        .unwrap_or_else(|| panic!("no attachment in\n{mbox}"));
    assert_eq!(attached, xml.as_bytes(), "the attachment is the input XML");
    assert!(mbox.contains("114,"), "the csv results inline:\n{mbox}");
    let log = pf.log();
    assert!(
        log.contains("sasl_username=batch"),
        "Postfix saw AUTH:\n{log}"
    );
    assert!(!log.contains("s3cret-pw"));

    // A wrong password: refused (535), not retried.
    let mut r = relay("relay.lab.test", pf.addr(), &pki);
    r.auth = Some(AuthCredentials {
        user: "batch".into(),
        password: "wrong".into(),
        login: true,
    });
    let reports = deliver(&batch, &result, &config, &SmtpMailer::new(r), now).await;
    match reports[0].mail.as_ref().expect("attempted") {
        Err(Error::Delivery { attempts, last, .. }) => {
            assert_eq!(*attempts, 1, "a permanent refusal is not retried");
            assert!(last.to_string().contains("535"), "{last}");
        }
        other => panic!("a wrong password was accepted: {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
