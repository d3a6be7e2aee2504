//! Certificate judgements on chains generated at test time by the lab PKI.

use std::time::{Duration, SystemTime};

use checktls_lab::pki::Pki;
use checktls_tls::TrustStore;
use checktls_tls::cert::{CertPolicy, CertProblem, evaluate};
use rustls_pki_types::UnixTime;

fn setup() -> (Pki, TrustStore, UnixTime) {
    let now = SystemTime::now();
    let pki = Pki::generate(now).unwrap();
    let mut trust = TrustStore::empty();
    trust.add_der(pki.root().der().clone()).unwrap();
    let t = UnixTime::since_unix_epoch(now.duration_since(SystemTime::UNIX_EPOCH).unwrap());
    (pki, trust, t)
}

#[test]
fn valid_chain() {
    let (pki, trust, now) = setup();
    let leaf = pki.valid("mx.lab.test").unwrap();
    let r = evaluate(
        &leaf.chain,
        &CertPolicy::new(&trust, Some("mx.lab.test"), now),
    );
    assert!(r.is_acceptable(), "{r:?}");
    assert!(r.chain_valid && r.name_match == Some(true) && !r.expired);
    assert!(r.days_to_expiry.unwrap() > 30);
    assert!(r.problems.is_empty());
}

#[test]
fn expired_leaf_on_a_good_chain_is_chain_valid_and_expired() {
    let (pki, trust, now) = setup();
    let leaf = pki.expired("mx.lab.test").unwrap();
    let r = evaluate(
        &leaf.chain,
        &CertPolicy::new(&trust, Some("mx.lab.test"), now),
    );
    assert!(r.chain_valid, "{r:?}");
    assert!(r.expired && !r.is_acceptable());
    assert!(r.days_to_expiry.unwrap() < 0);
    assert!(matches!(
        r.most_specific(),
        Some(CertProblem::Expired { .. })
    ));
}

#[test]
fn not_yet_valid_leaf() {
    let (pki, trust, now) = setup();
    let leaf = pki.not_yet_valid("mx.lab.test").unwrap();
    let r = evaluate(
        &leaf.chain,
        &CertPolicy::new(&trust, Some("mx.lab.test"), now),
    );
    assert!(r.not_yet_valid && r.chain_valid, "{r:?}");
}

#[test]
fn an_alternative_name_is_accepted_only_beside_the_name() {
    let (pki, trust, now) = setup();
    let domain_only = pki.valid("lab.test").unwrap();
    let strict = CertPolicy::new(&trust, Some("mx.lab.test"), now);
    let r = evaluate(&domain_only.chain, &strict);
    assert_eq!(r.name_match, Some(false));
    let mut either = strict.clone();
    either.alternative_name = Some("lab.test");
    let r = evaluate(&domain_only.chain, &either);
    assert_eq!(r.name_match, Some(true), "{r:?}");
    assert_eq!(r.matched_name.as_deref(), Some("lab.test"));
    assert!(r.matched_alternative && r.is_acceptable(), "{r:?}");
    // The host name still comes first.
    let r = evaluate(&pki.valid("mx.lab.test").unwrap().chain, &either);
    assert_eq!(r.matched_name.as_deref(), Some("mx.lab.test"));
    assert!(!r.matched_alternative);
    // Neither: the problem names both.
    let r = evaluate(&pki.wrong_name().unwrap().chain, &either);
    let problem = r.most_specific().expect("a problem");
    assert!(
        problem
            .to_string()
            .starts_with("the certificate does not name mx.lab.test nor lab.test"),
        "{problem}"
    );
    // Without a name there is no name check, whatever the alternative.
    let mut no_name = CertPolicy::new(&trust, None, now);
    no_name.alternative_name = Some("mx.lab.test");
    assert_eq!(evaluate(&domain_only.chain, &no_name).name_match, None);
}

#[test]
fn wrong_name_self_signed_and_unknown_issuer() {
    let (pki, trust, now) = setup();
    let wrong = pki.wrong_name().unwrap();
    let r = evaluate(
        &wrong.chain,
        &CertPolicy::new(&trust, Some("mx.lab.test"), now),
    );
    assert_eq!(r.name_match, Some(false));
    assert!(r.chain_valid);
    assert!(matches!(
        r.most_specific(),
        Some(CertProblem::NameMismatch { .. })
    ));

    let own = pki.self_signed("mx.lab.test").unwrap();
    let r = evaluate(
        &own.chain,
        &CertPolicy::new(&trust, Some("mx.lab.test"), now),
    );
    assert!(r.self_signed && !r.chain_valid);
    assert_eq!(r.most_specific(), Some(&CertProblem::SelfSigned));

    // Another lab PKI: same CA names, other keys: the signature does not verify.
    let other = Pki::generate(SystemTime::now())
        .unwrap()
        .valid("mx.lab.test")
        .unwrap();
    let r = evaluate(
        &other.chain,
        &CertPolicy::new(&trust, Some("mx.lab.test"), now),
    );
    assert!(!r.chain_valid);
    assert!(
        matches!(r.most_specific(), Some(CertProblem::Invalid { detail }) if detail.contains("Signature")),
        "{r:?}"
    );
    // No anchors at all: the issuer is unknown.
    let r = evaluate(
        &other.chain,
        &CertPolicy::new(&TrustStore::empty(), Some("mx.lab.test"), now),
    );
    assert_eq!(r.most_specific(), Some(&CertProblem::UnknownIssuer));
}

#[test]
fn expiry_warning_threshold() {
    let (pki, trust, now) = setup();
    let leaf = pki.valid("mx.lab.test").unwrap();
    let mut policy = CertPolicy::new(&trust, Some("mx.lab.test"), now);
    policy.expiry_warning_days = 100_000;
    assert!(evaluate(&leaf.chain, &policy).expiry_warning);
    let later = UnixTime::since_unix_epoch(Duration::from_secs(now.as_secs() + 10 * 365 * 86_400));
    let r = evaluate(
        &leaf.chain,
        &CertPolicy::new(&trust, Some("mx.lab.test"), later),
    );
    assert!(r.expired);
}

#[test]
fn no_certificate_and_garbage() {
    let (_, trust, now) = setup();
    let r = evaluate(&[], &CertPolicy::new(&trust, None, now));
    assert_eq!(r.most_specific(), Some(&CertProblem::NoCertificate));
    let junk = rustls_pki_types::CertificateDer::from(vec![0x30, 0x03, 0x01, 0x02]);
    let r = evaluate(&[junk], &CertPolicy::new(&trust, None, now));
    assert!(matches!(
        r.most_specific(),
        Some(CertProblem::Unparseable { .. })
    ));
}

/// Certificates rcgen cannot make (RSA-1024 keys, SHA-1 signatures, a client-only EKU), made
/// by the `openssl` command (Debian package openssl) in a temp dir at test time.
struct OpensslChain {
    ca: rustls_pki_types::CertificateDer<'static>,
    leaf: rustls_pki_types::CertificateDer<'static>,
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn openssl_chain(tag: &str, leaf_bits: &str, digest: &str, eku: &str) -> OpensslChain {
    use rustls_pki_types::pem::PemObject;
    let dir = std::env::temp_dir().join(format!("checktls-openssl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=openssl test CA",
            "-days",
            "30",
            "-sha256",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            &format!("rsa:{leaf_bits}"),
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=mx.lab.test",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        format!(
            "subjectAltName=DNS:mx.lab.test\nextendedKeyUsage={eku}\nbasicConstraints=CA:FALSE\n"
        ),
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "20",
            &format!("-{digest}"),
            "-extfile",
            "ext.cnf",
        ],
    );
    let read = |f: &str| rustls_pki_types::CertificateDer::from_pem_file(dir.join(f)).unwrap();
    let chain = OpensslChain {
        ca: read("ca.pem"),
        leaf: read("leaf.pem"),
    };
    let _ = std::fs::remove_dir_all(&dir);
    chain
}

#[test]
fn rsa_1024_sha1_and_client_only_eku_from_openssl() {
    let weak = openssl_chain("weak", "1024", "sha1", "serverAuth");
    let mut trust = TrustStore::empty();
    trust.add_der(weak.ca.clone()).unwrap();
    let r = evaluate(
        std::slice::from_ref(&weak.leaf),
        &CertPolicy::new(&trust, Some("mx.lab.test"), UnixTime::now()),
    );
    assert!(
        r.problems.contains(&CertProblem::WeakKey {
            depth: 0,
            algorithm: "RSA".into(),
            bits: 1024
        }),
        "{r:?}"
    );
    assert!(
        r.problems.contains(&CertProblem::WeakSignature {
            depth: 0,
            algorithm: "sha1WithRSAEncryption".into()
        }),
        "{r:?}"
    );
    let client = openssl_chain("client", "2048", "sha256", "clientAuth");
    let mut trust = TrustStore::empty();
    trust.add_der(client.ca.clone()).unwrap();
    let r = evaluate(
        std::slice::from_ref(&client.leaf),
        &CertPolicy::new(&trust, Some("mx.lab.test"), UnixTime::now()),
    );
    assert!(
        r.problems.iter().any(
            |p| matches!(p, CertProblem::WrongKeyUsage { allowed } if allowed == &["clientAuth"])
        ),
        "{r:?}"
    );
    assert!(!r.problems.iter().any(|p| matches!(
        p,
        CertProblem::WeakKey { .. } | CertProblem::WeakSignature { .. }
    )));
}

#[test]
fn path_matched_name_order_and_missing_intermediate() {
    let (pki, trust, now) = setup();
    let leaf = pki.valid("mx.lab.test").unwrap();
    let r = evaluate(
        &leaf.chain,
        &CertPolicy::new(&trust, Some("mx.lab.test"), now),
    );
    assert_eq!(r.matched_name.as_deref(), Some("mx.lab.test"));
    assert_eq!(r.path.len(), 3, "{:?}", r.path);
    assert!(
        r.path[2].starts_with("anchor:") && r.path[2].contains("root"),
        "{:?}",
        r.path
    );
    // Only the leaf: the intermediate is missing.
    let r = evaluate(
        &leaf.chain[..1],
        &CertPolicy::new(&trust, Some("mx.lab.test"), now),
    );
    assert!(!r.chain_valid);
    assert!(
        matches!(
            r.most_specific(),
            Some(CertProblem::MissingIntermediate { .. })
        ),
        "{r:?}"
    );
    // Another leaf where the intermediate belongs: out of order, and not a CA.
    let other = pki.valid("other.lab.test").unwrap();
    let r = evaluate(
        &[leaf.chain[0].clone(), other.chain[0].clone()],
        &CertPolicy::new(&trust, Some("mx.lab.test"), now),
    );
    assert!(
        r.problems.contains(&CertProblem::ChainOrder { depth: 0 }),
        "{r:?}"
    );
    assert!(
        r.problems.contains(&CertProblem::NotCa { depth: 1 }),
        "{r:?}"
    );
}

/// The system's store is read: every certificate of Debian's bundle
/// (/etc/ssl/certs/ca-certificates.crt, from the ca-certificates package that .ci/run
/// installs, read here as plain PEM) is an anchor of `TrustStore::system()`, and none of
/// Mozilla's compiled-in set is counted in (`includes_mozilla` is false).
#[test]
fn the_system_store_holds_debians_bundle() {
    let system = checktls_tls::TrustStore::system().expect("the system's trust store");
    assert!(!system.includes_mozilla());
    let mut bundle = TrustStore::empty();
    let n = bundle
        .add_pem_file(std::path::Path::new("/etc/ssl/certs/ca-certificates.crt"))
        .expect("Debian's ca-certificates bundle");
    assert!(n >= 50, "{n}");
    let subjects: std::collections::HashSet<&[u8]> = system
        .anchors()
        .iter()
        .map(|a| a.subject.as_ref())
        .collect();
    let missing: Vec<_> = bundle
        .anchors()
        .iter()
        .filter(|a| !subjects.contains(a.subject.as_ref()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {n} not in the system store",
        missing.len()
    );
    assert!(system.anchors().len() >= n);
}
