//! Revocation interoperability with the real `openssl` command (Debian package openssl), both
//! ways, with no daemon of its own on the network:
//!
//! - `openssl ocsp -reqin/-respout` answers *our* requests (nonce included) as a responder with
//!   an index.txt, signing directly, through a delegated responder certificate, or through a
//!   certificate not authorised for OCSP; we judge what it signed;
//! - `openssl ocsp -url` queries the *lab* responder on 127.0.0.1 and verifies its answers
//!   (so the lab's good, revoked, delegated and bad-signature modes are what they claim);
//! - `openssl ca -gencrl` makes a CRL we judge, and `openssl crl -verify` checks the lab's CRLs.
//!
//! The responder that `openssl ocsp -port` runs over HTTP is exercised in `interop.rs`.
//! Run by .ci/run (`cargo test -- --ignored`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use checktls_lab::crl::{CrlMode, RevokedEntry, signed_crl};
use checktls_lab::ocsp::{CertState, OcspMode, RevocationServer};
use checktls_lab::pki::{Leaf, LeafSpec, Pki, pem_encode};
use checktls_tls::revocation::{RevocationStatus, check_crl, check_ocsp_response, ocsp_request};
use rustls_pki_types::UnixTime;

/// A temp dir removed when dropped, also on panic.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("checktls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Self(d)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: impl AsRef<Path>, data: impl AsRef<[u8]>) {
        std::fs::write(self.0.join(name), data).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `openssl args...` in `dir`; its output, whatever the exit status.
fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl (Debian package openssl)")
}

/// Runs `openssl args...` in `dir` and asserts it succeeded.
fn openssl_ok(dir: &Path, args: &[&str]) -> Output {
    let out = openssl(dir, args);
    assert!(
        out.status.success(),
        "openssl {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// openssl's index.txt spelling of a serial: upper-case hex, no leading zero byte.
fn hex(serial: &[u8]) -> String {
    let s = match serial {
        [0, rest @ ..] if !rest.is_empty() => rest,
        s => s,
    };
    s.iter().map(|b| format!("{b:02X}")).collect()
}

/// The lab intermediate's certificate and key, and the root, as PEM files in `dir`.
fn write_ca(dir: &TempDir, pki: &Pki) {
    dir.write("inter.pem", pki.intermediate().pem());
    dir.write(
        "inter.key",
        pem_encode("PRIVATE KEY", pki.intermediate().key_der().secret_der()),
    );
    dir.write("root.pem", pki.root().pem());
}

/// A certificate for an OCSP responder, made by openssl and signed by the lab intermediate, with
/// the given extendedKeyUsage.
fn responder_cert(dir: &TempDir, name: &str, eku: &str) {
    dir.write(
        format!("{name}.ext"),
        format!("extendedKeyUsage={eku}\nkeyUsage=critical,digitalSignature\n"),
    );
    let (key, csr, pem, ext) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("{name}.ext"),
    );
    openssl_ok(
        &dir.0,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-subj",
            "/CN=lab OCSP responder",
            "-out",
            &csr,
        ],
    );
    openssl_ok(
        &dir.0,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "inter.pem",
            "-CAkey",
            "inter.key",
            "-set_serial",
            "0x7e57",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ],
    );
}

fn leaf(pki: &Pki, name: &str) -> Leaf {
    pki.leaf(&LeafSpec::new(&[name], pki.now())).unwrap()
}

#[test]
#[ignore = "interop: needs the Debian package openssl; run by .ci/run"]
fn openssl_answers_our_requests_and_we_judge_its_responses() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let dir = TempDir::new("openssl-ocsp-reqin");
    write_ca(&dir, &pki);
    responder_cert(&dir, "delegated", "OCSPSigning");
    responder_cert(&dir, "tls-only", "serverAuth");
    let good = leaf(&pki, "good.lab.test");
    let revoked = leaf(&pki, "revoked.lab.test");
    let unknown = leaf(&pki, "unknown.lab.test");
    dir.write(
        "index.txt",
        format!(
            "V\t301231000000Z\t\t{}\tunknown\t/CN=good.lab.test\n\
             R\t301231000000Z\t250101000000Z,superseded\t{}\tunknown\t/CN=revoked.lab.test\n",
            hex(&good.serial),
            hex(&revoked.serial)
        ),
    );
    let nonce = [0x42u8; 16];
    // Asks openssl, as responder signing with `signer`, about `l`; its DER response.
    let ask = |l: &Leaf, signer: &str, extra: &[&str]| -> Vec<u8> {
        let req = ocsp_request(&l.chain[0], &l.chain[1], Some(&nonce)).unwrap();
        dir.write("req.der", req);
        let (cert, key) = (format!("{signer}.pem"), format!("{signer}.key"));
        let mut args = vec![
            "ocsp",
            "-index",
            "index.txt",
            "-CA",
            "inter.pem",
            "-rsigner",
            &cert,
            "-rkey",
            &key,
            "-reqin",
            "req.der",
            "-respout",
            "resp.der",
            "-ndays",
            "1",
        ];
        args.extend_from_slice(extra);
        openssl_ok(&dir.0, &args);
        std::fs::read(dir.path("resp.der")).unwrap()
    };
    let judge = |l: &Leaf, resp: &[u8], nonce: &[u8]| {
        check_ocsp_response(resp, &l.chain[0], &l.chain[1], Some(nonce), UnixTime::now())
    };
    for signer in ["inter", "delegated"] {
        let resp = ask(&good, signer, &[]);
        assert_eq!(
            judge(&good, &resp, &nonce),
            RevocationStatus::Good,
            "{signer}"
        );
        // openssl echoed our nonce: another one is refused.
        assert!(
            matches!(judge(&good, &resp, &[1; 16]), RevocationStatus::CouldNotCheck { ref cause } if cause.contains("nonce")),
            "{signer}"
        );
        let resp = ask(&revoked, signer, &[]);
        match judge(&revoked, &resp, &nonce) {
            RevocationStatus::Revoked { time, reason } => {
                assert_eq!(time, 1_735_689_600, "2025-01-01T00:00:00Z");
                assert_eq!(reason.as_deref(), Some("superseded"));
            }
            other => panic!("{signer}: {other:?}"),
        }
        let resp = ask(&unknown, signer, &[]);
        assert_eq!(
            judge(&unknown, &resp, &nonce),
            RevocationStatus::Unknown,
            "{signer}"
        );
    }
    // A responder certificate without id-kp-OCSPSigning has no authority.
    let resp = ask(&good, "tls-only", &[]);
    match judge(&good, &resp, &nonce) {
        RevocationStatus::CouldNotCheck { cause } => {
            assert!(cause.contains("not authorised for OCSP signing"), "{cause}")
        }
        other => panic!("{other:?}"),
    }
    // A delegated response that leaves its certificate out cannot be verified.
    let resp = ask(&good, "delegated", &["-resp_no_certs"]);
    assert!(matches!(
        judge(&good, &resp, &nonce),
        RevocationStatus::CouldNotCheck { .. }
    ));
    // Long after openssl's nextUpdate (one day): stale.
    let resp = ask(&good, "inter", &[]);
    let later = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        UnixTime::now().as_secs() + 3 * 86_400,
    ));
    match check_ocsp_response(&resp, &good.chain[0], &good.chain[1], None, later) {
        RevocationStatus::CouldNotCheck { cause } => assert!(cause.contains("stale"), "{cause}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
#[ignore = "interop: needs the Debian package openssl; run by .ci/run"]
async fn openssl_verifies_the_lab_responder() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let dir = TempDir::new("openssl-ocsp-client");
    write_ca(&dir, &pki);
    let path = dir.0.clone();
    for (mode, verified) in [
        (OcspMode::Normal, true),
        (OcspMode::Delegated, true),
        (OcspMode::BadSignature, false),
    ] {
        let server = RevocationServer::start(&pki, mode).await.unwrap();
        for (name, state, said) in [
            ("good", CertState::Good, "good"),
            ("revoked", CertState::Revoked { reason: 1 }, "revoked"),
            ("unknown", CertState::Unknown, "unknown"),
        ] {
            let l = leaf(&pki, &format!("{name}.lab.test"));
            server.set(&l.serial, state);
            dir.write("leaf.pem", pem_encode("CERTIFICATE", &l.chain[0]));
            let url = server.ocsp_url();
            let p = path.clone();
            let out = tokio::task::spawn_blocking(move || {
                openssl(
                    &p,
                    &[
                        "ocsp",
                        "-issuer",
                        "inter.pem",
                        "-cert",
                        "leaf.pem",
                        "-url",
                        &url,
                        "-CAfile",
                        "root.pem",
                        "-verify_other",
                        "inter.pem",
                    ],
                )
            })
            .await
            .unwrap();
            let (stdout, stderr) = (
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            );
            if verified {
                assert!(stderr.contains("Response verify OK"), "{mode:?}: {stderr}");
                assert!(
                    stdout.contains(&format!("leaf.pem: {said}")),
                    "{mode:?} {name}: {stdout}"
                );
            } else {
                assert!(
                    stderr.contains("Response Verify Failure"),
                    "{mode:?}: {stdout} {stderr}"
                );
            }
        }
    }
}

#[test]
#[ignore = "interop: needs the Debian package openssl; run by .ci/run"]
fn openssl_crls_judged_and_lab_crls_verified_by_openssl() {
    let pki = Pki::generate(SystemTime::now()).unwrap();
    let dir = TempDir::new("openssl-crl");
    write_ca(&dir, &pki);
    let good = leaf(&pki, "good.lab.test");
    let revoked = leaf(&pki, "revoked.lab.test");
    // openssl ca -gencrl from an index.txt.
    dir.write(
        "index.txt",
        format!(
            "V\t301231000000Z\t\t{}\tunknown\t/CN=good.lab.test\n\
             R\t301231000000Z\t250101000000Z,keyCompromise\t{}\tunknown\t/CN=revoked.lab.test\n",
            hex(&good.serial),
            hex(&revoked.serial)
        ),
    );
    dir.write("crlnumber", "01\n");
    dir.write(
        "ca.cnf",
        "[ca]\ndefault_ca = lab\n[lab]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
         default_md = sha256\ndefault_crl_days = 1\n",
    );
    openssl_ok(
        &dir.0,
        &[
            "ca",
            "-config",
            "ca.cnf",
            "-gencrl",
            "-keyfile",
            "inter.key",
            "-cert",
            "inter.pem",
            "-out",
            "crl.pem",
        ],
    );
    openssl_ok(
        &dir.0,
        &[
            "crl", "-in", "crl.pem", "-outform", "DER", "-out", "crl.der",
        ],
    );
    let crl = std::fs::read(dir.path("crl.der")).unwrap();
    let now = UnixTime::now();
    assert_eq!(
        check_crl(&crl, &good.chain[0], &good.chain[1], now),
        RevocationStatus::Good
    );
    assert_eq!(
        check_crl(&crl, &revoked.chain[0], &revoked.chain[1], now),
        RevocationStatus::Revoked {
            time: 1_735_689_600,
            reason: Some("keyCompromise".into())
        }
    );
    // The lab's CRLs, as openssl sees them.
    let entry = RevokedEntry {
        serial: revoked.serial.clone(),
        reason: Some(1),
    };
    for (mode, ok) in [(CrlMode::Normal, true), (CrlMode::BadSignature, false)] {
        let der = signed_crl(&pki, std::slice::from_ref(&entry), mode, pki.now()).unwrap();
        dir.write("lab.crl", der);
        let out = openssl(
            &dir.0,
            &[
                "crl",
                "-inform",
                "DER",
                "-in",
                "lab.crl",
                "-CAfile",
                "inter.pem",
                "-noout",
                "-text",
            ],
        );
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        if ok {
            assert!(stderr.contains("verify OK"), "{stderr}");
            assert!(stdout.contains(&hex(&revoked.serial)), "{stdout}");
            assert!(stdout.contains("Key Compromise"), "{stdout}");
        } else {
            assert!(stderr.contains("verify failure"), "{stdout} {stderr}");
        }
    }
}
