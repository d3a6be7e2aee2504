//! Entry points for the fuzz targets in `fuzz/` (not part of the public API).

use rustls_pki_types::{CertificateDer, UnixTime};

use crate::cert::{CertPolicy, evaluate};
use crate::trust::TrustStore;

/// Judges arbitrary bytes as a one-certificate chain.
pub fn cert_evaluate(data: &[u8]) {
    let trust = TrustStore::empty();
    let chain = [CertificateDer::from(data)];
    let policy = CertPolicy::new(
        &trust,
        Some("mx.example.com"),
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)),
    );
    let report = evaluate(&chain, &policy);
    assert!(!report.is_acceptable());
}

/// Feeds arbitrary bytes to the server-flight parser (ServerHello and its extensions,
/// HelloRetryRequest, Certificate, ServerKeyExchange, CertificateStatus, alerts, SSLv2), in
/// chunks sized by the first byte; a hello's extensions and key exchange are read too.
pub fn server_hello(data: &[u8]) {
    use crate::probe::parse::{ServerAnswer, server_key_exchange};
    let (split, rest) = data
        .split_first()
        .map_or((1, data), |(b, r)| (usize::from(*b).max(1), r));
    let mut p = crate::probe::parse::FlightParser::new();
    for chunk in rest.chunks(split) {
        if p.feed(chunk).is_err() {
            return;
        }
        match p.answer() {
            Ok(Some(ServerAnswer::Hello(f))) => {
                let _ = f.hello.group();
                let _ = f.hello.renegotiation_info();
                if let (Some(body), Some(suite)) = (
                    f.key_exchange.as_deref(),
                    crate::probe::suites::suite(f.hello.cipher),
                ) && let Some(k) = server_key_exchange(body, suite, f.hello.version)
                {
                    let _ = k.params.dh_bits();
                }
                // Every suite's reading of the same body.
                if let Some(body) = f.key_exchange.as_deref() {
                    for s in crate::probe::suites::all_suites().iter().step_by(7) {
                        let _ = server_key_exchange(body, s, f.hello.version);
                    }
                }
                return;
            }
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => {}
        }
    }
}

/// A TLS 1.2 ServerHello (suite 0xC02F) and ServerHelloDone: the flight the check
/// conversations need before they send their records.
fn flight() -> Vec<u8> {
    let mut sh = vec![3, 3];
    sh.extend_from_slice(&[1; 32]);
    sh.extend_from_slice(&[0, 0xC0, 0x2F, 0]);
    let mut hs = vec![2, 0, 0, u8::try_from(sh.len()).unwrap_or(0)];
    hs.extend_from_slice(&sh);
    hs.extend_from_slice(&[14, 0, 0, 0]);
    let mut rec = vec![22, 3, 3, 0, u8::try_from(hs.len()).unwrap_or(0)];
    rec.extend_from_slice(&hs);
    rec
}

fn checked_replay(c: Box<dyn crate::probe::exchange::Conversation>, data: &[u8]) {
    let (split, rest) = data
        .split_first()
        .map_or((1, data), |(b, r)| (usize::from(*b).max(1), r));
    let mut server = flight();
    server.extend_from_slice(rest);
    let (sent, _) = crate::probe::exchange::replay(c, &server, split);
    // The hello, then at most the check's two short records.
    assert!(sent.len() < 4096);
}

/// The Heartbleed check's reading of arbitrary server records after a valid flight
/// (heartbeat replies of any claimed and actual length, alerts, garbage).
pub fn heartbeat_reply(data: &[u8]) {
    use crate::probe::exchange::{HeartbleedExchange, HeartbleedResult, Outcome, replay};
    use crate::probe::hello::ClientHello;
    let hello = ClientHello::new(crate::TlsVersion::Tls12, vec![0xC02F]);
    checked_replay(Box::new(HeartbleedExchange::new(hello.clone())), data);
    let mut server = flight();
    server.extend_from_slice(data);
    if let (_, Outcome::Heartbleed(HeartbleedResult::Leaked { carried, .. })) =
        replay(Box::new(HeartbleedExchange::new(hello)), &server, 64)
    {
        assert!(carried <= data.len());
    }
}

/// The CCS injection check's reading of arbitrary server records (alerts of any shape).
pub fn ccs_reply(data: &[u8]) {
    use crate::probe::exchange::CcsExchange;
    use crate::probe::exchange::{Outcome, replay};
    use crate::probe::hello::ClientHello;
    let hello = ClientHello::new(crate::TlsVersion::Tls12, vec![0xC02F]);
    checked_replay(Box::new(CcsExchange::new(hello.clone())), data);
    // Riding on an enumeration hello: the same check, and the hello's answer is the valid
    // flight whatever follows it.
    let mut server = flight();
    server.extend_from_slice(data);
    match replay(Box::new(CcsExchange::riding(hello)), &server, 64) {
        (_, Outcome::Rider { hello, check }) => {
            assert!(matches!(*hello, Outcome::Answer(_)), "{hello:?}");
            assert!(matches!(*check, Outcome::Ccs(_)), "{check:?}");
        }
        (_, other) => panic!("a riding check ended in {other:?}"),
    }
}

/// The enumeration planner driven by arbitrary server answers: each step's answer is the
/// next length-prefixed slice of the input, parsed as a first flight. The plan ends within
/// its connection bound and its report serializes.
pub fn probe_plan(data: &[u8]) {
    use crate::probe::exchange::{CcsResult, Outcome};
    use crate::probe::parse::FlightParser;
    use crate::probe::plan::{PlanOptions, Planner, Probe};
    let mut planner = Planner::new(PlanOptions {
        max_connections: 64,
        ..PlanOptions::default()
    });
    let mut rest = data;
    let mut steps = 0;
    while let Some(step) = planner.next_step() {
        steps += 1;
        let n = rest.first().map_or(0, |b| usize::from(*b) * 4);
        let (answer, tail) = rest
            .get(1..)
            .unwrap_or_default()
            .split_at(n.min(rest.len().saturating_sub(1)));
        rest = tail;
        let mut p = FlightParser::new();
        let outcome = match p.feed(answer).and_then(|()| p.answer()) {
            Ok(Some(a)) => Outcome::Answer(a),
            Ok(None) => Outcome::Failed("closed".into()),
            Err(e) => Outcome::Failed(e.to_string()),
        };
        // A check riding on a hello: its verdict from the same length byte.
        let outcome = match step.probe {
            Probe::CcsRiding(_) => Outcome::Rider {
                hello: Box::new(outcome),
                check: Box::new(Outcome::Ccs(match n % 3 {
                    0 => CcsResult::Refused("refused".into()),
                    1 => CcsResult::Rejected {
                        how: "alert".into(),
                    },
                    _ => CcsResult::Accepted {
                        how: "silence".into(),
                    },
                })),
            },
            _ => outcome,
        };
        planner.learn(step.id, outcome);
    }
    assert!(steps <= 64);
    let report = planner.finish();
    assert!(report.best.is_none() || report.versions.iter().any(|v| v.accepted));
}

/// Parses arbitrary text as an MTA-STS policy and judges fixed hosts under it; the policy's
/// last line (when short) is also used as an MX host name.
pub fn mta_sts_policy(data: &[u8]) {
    use crate::mta_sts::{HostEffect, MxTls, evaluate, parse_policy};
    let text = String::from_utf8_lossy(data);
    let parsed = parse_policy(&text);
    let last = text.lines().last().filter(|l| l.len() <= 64).unwrap_or("");
    let hosts = [
        MxTls {
            host: "mx.example.com",
            tls_validated: true,
        },
        MxTls {
            host: last,
            tls_validated: false,
        },
    ];
    let e = evaluate(Some("id"), parsed.policy.as_ref(), &hosts);
    assert_eq!(e.in_force, parsed.policy.is_some());
    assert_eq!(e.hosts.len(), 2);
    // A host whose TLS failed never passes.
    assert_ne!(e.hosts.get(1).map(|h| h.effect), Some(HostEffect::Pass));
}

/// DANE evaluation of arbitrary TLSA data against an arbitrary one-certificate chain.
pub fn dane(data: &[u8]) {
    use checktls_dns::{Proof, TlsaRecord};
    let (head, rest) = data.split_at(data.len().min(3));
    let get = |i: usize| head.get(i).copied().unwrap_or(3);
    let (tlsa, cert) = rest.split_at(rest.len() / 2);
    let record = TlsaRecord {
        usage: get(0).into(),
        selector: get(1).into(),
        matching: get(2).into(),
        data: tlsa.to_vec(),
    };
    let chain = [CertificateDer::from(cert), CertificateDer::from(tlsa)];
    let _ = crate::dane::evaluate(
        &[record],
        &Proof::Secure,
        &chain,
        &["mx.example.com"],
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)),
    );
}

/// Splits fuzz input laid out as `[u16 leaf length][leaf][u16 issuer length][issuer][rest]`
/// (big-endian lengths), so seeds carry a real leaf and issuer and mutations reach past the
/// parsers into the signature, CertID, nonce and freshness checks. Inputs too short for the
/// layout are split in thirds instead.
fn leaf_issuer_rest(data: &[u8]) -> (&[u8], &[u8], &[u8]) {
    fn take(data: &[u8]) -> Option<(&[u8], &[u8])> {
        let (len, rest) = data.split_at_checked(2)?;
        let n = usize::from(u16::from_be_bytes([*len.first()?, *len.get(1)?]));
        rest.split_at_checked(n)
    }
    if let Some((leaf, rest)) = take(data)
        && let Some((issuer, rest)) = take(rest)
    {
        return (leaf, issuer, rest);
    }
    let (a, rest) = data.split_at(data.len() / 3);
    let (b, c) = rest.split_at(rest.len() / 2);
    (a, b, c)
}

/// The time the fuzz judgements run at (the seeds were made for it): 2023-11-14T22:13:20Z.
pub const FUZZ_NOW: u64 = 1_700_000_000;

/// The nonce the OCSP target says it sent (the seeds' requests carried it).
pub const FUZZ_NONCE: [u8; 3] = [1, 2, 3];

/// Judges the rest of the input as an OCSP response for the leaf and issuer it carries, with
/// and without the nonce, and the whole input as a response, as the stapled path would.
pub fn ocsp_response(data: &[u8]) {
    let (leaf, issuer, resp) = leaf_issuer_rest(data);
    let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(FUZZ_NOW));
    let _ = crate::revocation::check_ocsp_response(resp, leaf, issuer, Some(&FUZZ_NONCE), now);
    let _ = crate::revocation::check_ocsp_response(resp, leaf, issuer, None, now);
    let _ = crate::revocation::check_ocsp_response(data, leaf, issuer, None, now);
    let _ = crate::revocation::ocsp_request(leaf, issuer, Some(&FUZZ_NONCE));
}

/// Judges the rest of the input as a CRL for the leaf and issuer it carries, and reads the
/// leaf's revocation URLs.
pub fn crl(data: &[u8]) {
    let (leaf, issuer, crl) = leaf_issuer_rest(data);
    let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(FUZZ_NOW));
    let _ = crate::revocation::check_crl(crl, leaf, issuer, now);
    let _ = crate::revocation::check_crl(data, leaf, issuer, now);
    let _ = crate::revocation::revocation_urls(leaf);
}

/// Feeds arbitrary bytes, in chunks sized by the first byte, to the reader of a handshake's
/// first flight beside rustls ([`crate::first_flight::FirstFlight`]) and classifies a failure
/// with what it read.
pub fn first_flight(data: &[u8]) {
    let (split, rest) = data
        .split_first()
        .map_or((1, data), |(b, r)| (usize::from(*b).max(1), r));
    let mut f = crate::first_flight::FirstFlight::default();
    for chunk in rest.chunks(split) {
        f.feed(chunk);
    }
    let partial = crate::facts::PartialFacts {
        server_hello: f.server_hello(),
        alert: f.alert(),
        ..crate::facts::PartialFacts::default()
    };
    let error = crate::Error::AlertReceived {
        description: "HandshakeFailure".into(),
    };
    let kind = crate::facts::FailureKind::of(&error, &partial);
    // A ServerHello read means the server chose: never a plain refusal.
    if f.server_hello()
        .is_some_and(|v| v >= crate::TlsVersion::Tls12)
    {
        assert!(!kind.is_refusal());
    }
}
