//! Probes any `HOST:PORT` (direct TLS, or SMTP STARTTLS with `--starttls`) and prints the
//! report as JSON, with a progress line on standard error.
//!
//! `cargo run -p checktls-tls --example sslprobe -- 127.0.0.1:25 --starttls --sni mx.example.com`

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use checktls_tls::net::BoxStream;
use checktls_tls::probe::{ProbeOptions, ProgressFn, probe};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The SMTP dialog up to the 220 that answers STARTTLS.
async fn starttls(addr: SocketAddr) -> std::io::Result<BoxStream> {
    let mut s = BufReader::new(TcpStream::connect(addr).await?);
    async fn reply(s: &mut BufReader<TcpStream>) -> std::io::Result<String> {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if s.read_line(&mut line).await? == 0 || all.len() > 65536 {
                return Err(std::io::Error::other("closed during the SMTP dialog"));
            }
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(all);
            }
        }
    }
    reply(&mut s).await?;
    s.get_mut().write_all(b"EHLO probe.invalid\r\n").await?;
    reply(&mut s).await?;
    s.get_mut().write_all(b"STARTTLS\r\n").await?;
    if !reply(&mut s).await?.starts_with("220") {
        return Err(std::io::Error::other("STARTTLS refused"));
    }
    Ok(Box::new(s.into_inner()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(addr) = args.first().and_then(|a| a.parse::<SocketAddr>().ok()) else {
        eprintln!("usage: sslprobe IP:PORT [--starttls] [--sni NAME]");
        std::process::exit(2);
    };
    let smtp = args.iter().any(|a| a == "--starttls");
    let mut o = ProbeOptions::default();
    o.sni = args
        .iter()
        .position(|a| a == "--sni")
        .and_then(|i| args.get(i + 1).cloned());
    o.progress = Some(ProgressFn(Arc::new(|p| {
        eprint!("\r{:4} connections  {:<28}", p.done, p.label);
        let _ = std::io::stderr().flush();
    })));
    let opener = move || async move {
        if smtp {
            starttls(addr).await
        } else {
            TcpStream::connect(addr)
                .await
                .map(|s| Box::new(s) as BoxStream)
        }
    };
    let report = probe(&opener, &o).await;
    eprintln!();
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
}
