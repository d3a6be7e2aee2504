//! Evidence builders shared by the integration tests.
#![allow(dead_code)] // each test file uses a different subset

use checktls_score::{
    CertEvidence, CipherEvidence, DaneEvidence, HostEvidence, KeyAlgorithm, KeyEvidence,
    MtaStsEvidence, SignatureHash, Stage, Stages, StsMode, TlsEvidence, TlsVersion,
};

/// A certificate with nothing wrong: trusted, matching, 300 days left, RSA 2048, SHA-256.
pub(crate) fn good_cert() -> CertEvidence {
    CertEvidence {
        days_to_expiry: Some(300),
        key: Some(KeyEvidence {
            algorithm: KeyAlgorithm::Rsa,
            bits: 2048,
        }),
        weakest_signature: Some(SignatureHash::Sha256),
        ..CertEvidence::verified()
    }
}

/// A certificate with everything wrong at its worst.
pub(crate) fn worst_cert() -> CertEvidence {
    CertEvidence {
        chain_valid: false,
        name_match: Some(false),
        expired: true,
        not_yet_valid: false,
        days_to_expiry: Some(-10),
        self_signed: true,
        key: Some(KeyEvidence {
            algorithm: KeyAlgorithm::Rsa,
            bits: 512,
        }),
        weakest_signature: Some(SignatureHash::Md5),
    }
}

/// The worst cipher: broken, short, CBC, static key exchange.
pub(crate) fn worst_cipher() -> CipherEvidence {
    CipherEvidence {
        bits: 40,
        aead: false,
        forward_secrecy: false,
        broken: true,
    }
}

/// A reached host that got through RCPT TO over `version` with a strong cipher and a good
/// certificate, MTA-STS and DANE not tested.
pub(crate) fn flawless(version: TlsVersion) -> HostEvidence {
    HostEvidence {
        name: "mx1.example.com".into(),
        address: Some("192.0.2.1".parse().unwrap()),
        preference: 10,
        stages: Stages::through(Stage::RcptTo),
        tls: Some(TlsEvidence {
            version,
            cipher: CipherEvidence::strong(256),
            certificate: Some(good_cert()),
        }),
        ..HostEvidence::default()
    }
}

/// A host over `version` with every flaw and no policy.
pub(crate) fn dreadful(version: TlsVersion) -> HostEvidence {
    let mut host = flawless(version);
    host.tls = Some(TlsEvidence {
        version,
        cipher: worst_cipher(),
        certificate: Some(worst_cert()),
    });
    host
}

/// A valid enforced MTA-STS policy covering the host.
pub(crate) fn sts_enforced() -> MtaStsEvidence {
    MtaStsEvidence {
        tested: true,
        policy_valid: true,
        mode: StsMode::Enforce,
        host_covered: true,
    }
}

/// A DNSSEC-secure, usable, matching TLSA record.
pub(crate) fn dane_matched() -> DaneEvidence {
    DaneEvidence {
        tested: true,
        secure: true,
        usable: true,
        matched: true,
    }
}

/// A reached host without TLS that passed `stages`.
pub(crate) fn plaintext(stages: &[Stage]) -> HostEvidence {
    let mut s = Stages::default();
    s.set(Stage::Answer, true);
    for stage in stages {
        s.set(*stage, true);
    }
    HostEvidence {
        name: "mx.plain.example".into(),
        preference: 10,
        stages: s,
        ..HostEvidence::default()
    }
}

/// A host that did not answer.
pub(crate) fn unreachable(preference: u16) -> HostEvidence {
    let mut stages = Stages::default();
    stages.set(Stage::Answer, false);
    HostEvidence {
        name: "mx.down.example".into(),
        preference,
        stages,
        ..HostEvidence::default()
    }
}

/// `host` with another preference and name.
pub(crate) fn at(mut host: HostEvidence, name: &str, preference: u16) -> HostEvidence {
    host.name = name.into();
    host.preference = preference;
    host
}

/// The sum of a host score's adjustments.
pub(crate) fn sum(score: &checktls_score::HostScore) -> i32 {
    score.reasons.iter().map(|a| a.points).sum()
}
