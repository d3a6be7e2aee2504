//! Probe one SMTP host and print its stages (OK/FAIL with milliseconds), the TLS session, the
//! findings and the transcript.
//!
//! ```text
//!   HOST:PORT ─► probe() ─► Answer, Connect, EHLO, STARTTLS, Cert, Secure, MAIL FROM, RCPT TO
//!   --lab     ─► an in-process lab receiver on 127.0.0.1 (a generated certificate), probed the same way
//! ```
//!
//! ```sh
//! cargo run --example probe_host -- --lab                       # a lab receiver: no network
//! cargo run --example probe_host -- --lab --direct-tls --raw    # the lab speaking TLS on connect
//! cargo run --example probe_host -- 127.0.0.1:25 --sni mx.example.com --rcpt user@example.com
//! cargo run --example probe_host -- mx.example.com:465 --direct-tls --stop-after ehlo2
//! ```
//!
//! The exit status is 0 when the probe went as far as asked, 1 when a stage failed, 2 for a
//! usage error and 3 when the lab or the name lookup failed.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::SystemTime;

use checktls::smtp::{Outcome, ProbeOptions, StopAfter, TlsMode, probe};
use checktls_lab::pki::Pki;
use checktls_lab::smtp::{Posture, SmtpReceiver};

const USAGE: &str = "usage: probe_host (HOST:PORT | --lab) [--sni NAME] [--rcpt ADDR] [--direct-tls] \
[--stop-after answer|connect|ehlo1|starttls|ehlo2|mailfrom|rcptto|data] [--raw]";

/// The message sent with `--stop-after data`.
const MESSAGE: &[u8] = b"From: <test@checktls.invalid>\r\nSubject: checktls probe\r\n\r\n\
A test message from the checktls probe_host example.\r\n";

fn stop_after(s: &str) -> Option<StopAfter> {
    Some(match s.to_ascii_lowercase().as_str() {
        "answer" => StopAfter::Answer,
        "connect" => StopAfter::Connect,
        "ehlo1" => StopAfter::Ehlo1,
        "starttls" => StopAfter::Starttls,
        "ehlo2" => StopAfter::Ehlo2,
        "mailfrom" => StopAfter::MailFrom,
        "rcptto" => StopAfter::RcptTo,
        "data" => StopAfter::Data,
        _ => return None,
    })
}

/// A lab receiver with a generated certificate for `mx.lab.test`, STARTTLS or TLS on connect.
async fn lab_receiver(direct_tls: bool) -> Result<SmtpReceiver, checktls_lab::Error> {
    let pki = Pki::generate(SystemTime::now())?;
    let mut posture = Posture::tls(&pki.valid("mx.lab.test")?)?;
    if direct_tls {
        posture = posture.direct_tls();
    }
    SmtpReceiver::start(([127, 0, 0, 1], 0).into(), posture).await
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut target: Option<String> = None;
    let mut options = ProbeOptions::default();
    let mut lab = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--lab" => lab = true,
            "--sni" => options.tls.sni = args.next(),
            "--rcpt" => options.session.rcpt_to = args.next(),
            "--direct-tls" => options.session.tls_mode = TlsMode::Direct,
            "--raw" => options.record_raw = true,
            "--stop-after" => match args.next().as_deref().and_then(stop_after) {
                Some(s) => options.session.stop_after = s,
                None => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            },
            other if !other.starts_with('-') && target.is_none() => target = Some(a),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if options.session.stop_after == StopAfter::Data {
        if options.session.rcpt_to.is_none() {
            eprintln!("--stop-after data needs --rcpt");
            return ExitCode::from(2);
        }
        options.session.message = Some(MESSAGE.to_vec());
    }

    // With --lab, a lab receiver stands in for a real server (kept alive until the end).
    let mut _receiver = None;
    let addr: SocketAddr = match (lab, target) {
        (true, _) => match lab_receiver(options.session.tls_mode == TlsMode::Direct).await {
            Ok(r) => {
                options.tls.sni.get_or_insert_with(|| "mx.lab.test".into());
                options
                    .session
                    .rcpt_to
                    .get_or_insert_with(|| "user@lab.test".into());
                let addr = r.addr();
                _receiver = Some(r);
                addr
            }
            Err(e) => {
                eprintln!("the lab receiver did not start: {e}");
                return ExitCode::from(3);
            }
        },
        (false, Some(t)) => match tokio::net::lookup_host(t.as_str()).await {
            Ok(mut addrs) => match addrs.next() {
                Some(a) => a,
                None => {
                    eprintln!("{t}: no address");
                    return ExitCode::from(3);
                }
            },
            Err(e) => {
                eprintln!("{t}: {e}");
                return ExitCode::from(3);
            }
        },
        (false, None) => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };

    let record = probe(addr, &options).await;
    println!("{addr}");
    for s in &record.stages {
        let verdict = if s.ok { "OK" } else { "FAIL" };
        println!("  {:<12} {verdict:<4} {:>6} ms", s.stage.name(), s.ms);
    }
    if let Some(tls) = &record.tls {
        println!(
            "TLS: {} {} ({} certificates)",
            tls.version,
            tls.cipher_suite,
            tls.chain.len()
        );
    }
    if let Some(failure) = &record.tls_failure {
        println!("TLS failed: {}", failure.error);
    }
    for finding in &record.findings {
        println!("finding {}: {finding}", finding.code());
    }
    let failed = matches!(record.outcome, Outcome::Failed { .. });
    match &record.outcome {
        Outcome::Failed { stage, reason } => println!("outcome: {stage} failed: {reason}"),
        Outcome::Stopped { after } => println!("outcome: stopped after {after}"),
        Outcome::Completed => println!("outcome: completed"),
    }
    println!("took {} ms\n", record.elapsed_ms);
    for line in record.transcript.render() {
        println!("{line}");
    }
    if let Some(raw) = &record.raw {
        println!("\n{}", raw.hex_dump());
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
