//! Print what DNS says about a mail domain: the MX set, addresses, TLSA, MTA-STS, TLS-RPT, SPF,
//! DMARC and BIMI, each with its DNSSEC proof.
//!
//! ```sh
//! cargo run --example discover -- --lab                     # the embedded lab: no network
//! cargo run --example discover -- --lab bogus.test
//! cargo run --example discover -- example.com --nameserver 127.0.0.1:53 --dnssec-anchor root.key
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use checktls::dns::discovery::{Discovery, TxtCheck};
use checktls::dns::records::Parsed;
use checktls::dns::resolver::{DiscoveryOptions, Dnssec, Nameservers, Resolver, ResolverOptions};
use checktls::dns::{Answer, DomainName, Error, Finding, TrustAnchors};

struct Args {
    domain: Option<String>,
    nameservers: Vec<SocketAddr>,
    anchor: Option<PathBuf>,
    lab: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        domain: None,
        nameservers: Vec::new(),
        anchor: None,
        lab: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--nameserver" => {
                let v = it.next().ok_or("--nameserver needs IP:PORT")?;
                args.nameservers
                    .push(v.parse().map_err(|_| format!("{v} is not IP:PORT"))?);
            }
            "--dnssec-anchor" => {
                args.anchor = Some(it.next().ok_or("--dnssec-anchor needs a file")?.into());
            }
            "--lab" => args.lab = true,
            "-h" | "--help" => {
                return Err("usage: discover [DOMAIN] [--nameserver IP:PORT]... [--dnssec-anchor FILE] [--lab]".into());
            }
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other => args.domain = Some(other.to_owned()),
        }
    }
    Ok(args)
}

fn answer_line<T: std::fmt::Display>(label: &str, answer: &Answer<T>) {
    let what = match &answer.outcome {
        checktls::dns::Outcome::NoData => "no records (NODATA)".to_owned(),
        checktls::dns::Outcome::NxDomain => "no such name (NXDOMAIN)".to_owned(),
        _ => answer
            .records()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    };
    let via: Vec<String> = answer
        .cnames
        .iter()
        .map(|h| format!("→ {}", h.to))
        .collect();
    println!("  {label:<9} {what}  [{}] {}", answer.proof, via.join(" "));
}

fn findings(list: &[Finding]) {
    for f in list {
        println!("            {} {}: {}", f.severity, f.code, f.message);
    }
}

fn txt<T: std::fmt::Display>(label: &str, part: &Option<Result<TxtCheck<T>, Error>>) {
    match part {
        None => {}
        Some(Err(e)) => println!("  {label:<9} error: {e}"),
        Some(Ok(check)) => {
            answer_line(label, &check.answer);
            parsed(&check.parsed);
        }
    }
}

fn parsed<T: std::fmt::Display>(p: &Parsed<T>) {
    if let Some(v) = &p.value {
        println!("            parsed: {v}");
    }
    findings(&p.findings);
}

fn print(found: &Discovery) {
    println!("{}", found.domain);
    match &found.mx {
        Err(e) => println!("  MX        error: {e}"),
        Ok(set) => {
            answer_line("MX", &set.answer);
            println!("            kind: {:?}", set.kind);
            findings(&set.findings);
            for (host, extra) in set.hosts.iter().zip(&found.hosts) {
                let addrs: Vec<String> = host
                    .addresses
                    .addresses()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                println!(
                    "  host      {} (preference {}): {}  [{}]",
                    host.record.exchange,
                    host.record.preference,
                    if addrs.is_empty() {
                        "no addresses".to_owned()
                    } else {
                        addrs.join(", ")
                    },
                    host.addresses.proof()
                );
                findings(&host.findings);
                for t in &extra.tlsa {
                    match t {
                        Ok(t) => {
                            answer_line("TLSA", &t.answer);
                            findings(&t.findings);
                        }
                        Err(e) => println!("  TLSA      error: {e}"),
                    }
                }
                for r in &extra.reverse {
                    match r {
                        Ok(r) => println!(
                            "  PTR       {} → {}  [{}] forward-confirmed: {}",
                            r.address,
                            r.ptr
                                .records()
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", "),
                            r.ptr.proof,
                            r.confirmed
                        ),
                        Err(e) => println!("  PTR       error: {e}"),
                    }
                }
            }
        }
    }
    txt("MTA-STS", &found.mta_sts);
    txt("TLS-RPT", &found.tls_rpt);
    match &found.spf {
        Some(Ok(spf)) => {
            answer_line("SPF", &spf.answer);
            parsed(&spf.parsed);
            println!(
                "            DNS lookups {} (limit 10), void lookups {} (limit 2)",
                spf.lookups.lookups, spf.lookups.void_lookups
            );
            findings(&spf.lookups.findings);
        }
        Some(Err(e)) => println!("  SPF       error: {e}"),
        None => {}
    }
    match &found.dmarc {
        Some(Ok(dmarc)) => {
            for a in &dmarc.answers {
                answer_line("DMARC", a);
            }
            parsed(&dmarc.parsed);
            findings(&dmarc.findings);
        }
        Some(Err(e)) => println!("  DMARC     error: {e}"),
        None => {}
    }
    match &found.bimi {
        Some(Ok(bimi)) => {
            for a in &bimi.answers {
                answer_line("BIMI", a);
            }
            parsed(&bimi.parsed);
        }
        Some(Err(e)) => println!("  BIMI      error: {e}"),
        None => {}
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut options = ResolverOptions::default();
    // Kept alive until the end: the lab server stops when dropped.
    let mut _lab = None;
    if args.lab {
        let lab = match checktls_lab::dns::DnsLab::sample().start().await {
            Ok(lab) => lab,
            Err(e) => {
                eprintln!("lab: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "lab DNS server on {} (trust anchor: {})\n",
            lab.addr(),
            lab.trust_anchor()
        );
        options.nameservers = Nameservers::Given(vec![lab.addr()]);
        options.dnssec = match TrustAnchors::parse(lab.trust_anchor()) {
            Ok(a) => Dnssec::Validate(a),
            Err(e) => {
                eprintln!("lab anchor: {e}");
                return ExitCode::FAILURE;
            }
        };
        _lab = Some(lab);
    }
    if !args.nameservers.is_empty() {
        options.nameservers = Nameservers::Given(args.nameservers);
    }
    if let Some(path) = &args.anchor {
        match TrustAnchors::from_file(path) {
            Ok(a) => options.dnssec = Dnssec::Validate(a),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(domain) = args.domain.or(args.lab.then(|| "example.test".to_owned())) else {
        eprintln!("give a domain, or --lab");
        return ExitCode::from(2);
    };
    let domain: DomainName = match domain.parse() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let resolver = match Resolver::new(options).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let found = resolver
        .discover(&domain, &DiscoveryOptions::default())
        .await;
    print(&found);
    ExitCode::SUCCESS
}
