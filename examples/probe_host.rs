//! Probe one SMTP host and print its stages and transcript.
//!
//! ```sh
//! cargo run --example probe_host -- --lab                       # a lab receiver: no network
//! cargo run --example probe_host -- 127.0.0.1:25 --sni mx.example.com --rcpt user@example.com
//! cargo run --example probe_host -- 127.0.0.1:465 --direct-tls --stop-after ehlo2 --raw
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;

use checktls::smtp::{ProbeOptions, StopAfter, probe};

fn stop_after(s: &str) -> Option<StopAfter> {
    Some(match s {
        "answer" => StopAfter::Answer,
        "connect" => StopAfter::Connect,
        "ehlo1" => StopAfter::Ehlo1,
        "starttls" => StopAfter::Starttls,
        "ehlo2" => StopAfter::Ehlo2,
        "mailfrom" => StopAfter::MailFrom,
        "rcptto" => StopAfter::RcptTo,
        _ => return None,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut addr: Option<SocketAddr> = None;
    let mut options = ProbeOptions::default();
    let mut lab = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--lab" => lab = true,
            "--sni" => options.tls.sni = args.next(),
            "--rcpt" => options.session.rcpt_to = args.next(),
            "--direct-tls" => options.session.direct_tls = true,
            "--raw" => options.record_raw = true,
            "--stop-after" => match args.next().as_deref().and_then(stop_after) {
                Some(s) => options.session.stop_after = s,
                None => {
                    eprintln!("--stop-after: answer|connect|ehlo1|starttls|ehlo2|mailfrom|rcptto");
                    return ExitCode::from(2);
                }
            },
            other => match other.parse() {
                Ok(a) => addr = Some(a),
                Err(_) => {
                    eprintln!(
                        "usage: probe_host HOST:PORT [--sni NAME] [--rcpt ADDR] [--direct-tls] [--stop-after STAGE] [--raw] | --lab"
                    );
                    return ExitCode::from(2);
                }
            },
        }
    }
    // With --lab, a lab receiver with a generated certificate stands in for a real server.
    let _receiver;
    if lab {
        let Ok(pki) = checktls_lab::pki::Pki::generate(std::time::SystemTime::now()) else {
            return ExitCode::from(3);
        };
        let posture = pki
            .valid("mx.lab.test")
            .and_then(|leaf| checktls_lab::smtp::Posture::tls(&leaf));
        let started = match posture {
            Ok(p) => checktls_lab::smtp::SmtpReceiver::start(([127, 0, 0, 1], 0).into(), p).await,
            Err(e) => Err(e),
        };
        match started {
            Ok(r) => {
                addr = Some(r.addr());
                options.tls.sni = Some("mx.lab.test".into());
                _receiver = r;
            }
            Err(e) => {
                eprintln!("the lab receiver did not start: {e}");
                return ExitCode::from(3);
            }
        }
    }
    let Some(addr) = addr else {
        eprintln!("give HOST:PORT or --lab");
        return ExitCode::from(2);
    };
    let record = probe(addr, &options).await;
    for s in &record.stages {
        let cell = if s.ok {
            format!("OK ({} ms)", s.ms)
        } else {
            "FAIL".into()
        };
        println!("{:<12} {cell}", s.stage.as_str());
    }
    if let Some(tls) = &record.tls {
        println!(
            "TLS: {} {} ({} certificates)",
            tls.version,
            tls.cipher_suite,
            tls.chain.len()
        );
    }
    println!("outcome: {:?}\n", record.outcome);
    for line in record.transcript.render() {
        println!("{line}");
    }
    if let Some(raw) = &record.raw {
        println!("\n{}", raw.hex_dump());
    }
    ExitCode::SUCCESS
}
