//! Cipher-suite and signature names to the properties scoring weighs.

use checktls_score::{CipherEvidence, SignatureHash};

/// (name, bits, aead, forward secrecy, broken)
const SUITES: &[(&str, u16, bool, bool, bool)] = &[
    // TLS 1.3 (IANA and OpenSSL spell them alike).
    ("TLS_AES_128_GCM_SHA256", 128, true, true, false),
    ("TLS_AES_256_GCM_SHA384", 256, true, true, false),
    ("TLS_CHACHA20_POLY1305_SHA256", 256, true, true, false),
    ("TLS_AES_128_CCM_8_SHA256", 128, true, true, false),
    ("tls_aes_256_gcm_sha384", 256, true, true, false),
    // TLS 1.2 and older, IANA names.
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        128,
        true,
        true,
        false,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        256,
        true,
        true,
        false,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        256,
        true,
        true,
        false,
    ),
    (
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
        256,
        false,
        true,
        false,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        128,
        false,
        true,
        false,
    ),
    ("TLS_RSA_WITH_AES_128_CBC_SHA", 128, false, false, false),
    ("TLS_RSA_WITH_AES_256_GCM_SHA384", 256, true, false, false),
    (
        "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA",
        128,
        false,
        false,
        false,
    ),
    (
        "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
        256,
        false,
        false,
        false,
    ),
    (
        "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256",
        128,
        true,
        true,
        false,
    ),
    ("TLS_RSA_WITH_SEED_CBC_SHA", 128, false, false, false),
    ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", 112, false, false, true),
    ("TLS_RSA_WITH_RC4_128_SHA", 128, false, false, true),
    ("SSL_RSA_WITH_RC4_128_MD5", 128, false, false, true),
    ("TLS_RSA_WITH_DES_CBC_SHA", 56, false, false, true),
    ("TLS_RSA_WITH_IDEA_CBC_SHA", 128, false, false, true),
    ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", 40, false, false, true),
    ("TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", 40, false, false, true),
    ("TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", 40, false, false, true),
    ("TLS_RSA_EXPORT1024_WITH_RC4_56_SHA", 56, false, false, true),
    ("TLS_DH_anon_WITH_AES_128_CBC_SHA", 128, false, false, true),
    ("TLS_RSA_WITH_NULL_SHA256", 0, false, false, true),
    ("TLS_NULL_WITH_NULL_NULL", 0, false, false, true),
    // OpenSSL names.
    ("ECDHE-RSA-AES128-GCM-SHA256", 128, true, true, false),
    ("ECDHE-ECDSA-CHACHA20-POLY1305", 256, true, true, false),
    ("DHE-RSA-AES256-SHA", 256, false, true, false),
    ("ECDHE-RSA-AES128-SHA", 128, false, true, false),
    ("AES128-SHA", 128, false, false, false),
    ("AES256-SHA256", 256, false, false, false),
    ("AES256-GCM-SHA384", 256, true, false, false),
    ("CAMELLIA128-SHA", 128, false, false, false),
    ("DES-CBC3-SHA", 112, false, false, true),
    ("EDH-RSA-DES-CBC3-SHA", 112, false, true, true),
    ("DES-CBC-SHA", 56, false, false, true),
    ("RC4-SHA", 128, false, false, true),
    ("RC4-MD5", 128, false, false, true),
    ("EXP-RC4-MD5", 40, false, false, true),
    ("ADH-AES128-SHA", 128, false, false, true),
    ("AECDH-AES256-SHA", 256, false, false, true),
    ("NULL-SHA", 0, false, false, true),
    ("IDEA-CBC-SHA", 128, false, false, true),
];

#[test]
fn known_suites_are_classified() {
    for (name, bits, aead, forward_secrecy, broken) in SUITES {
        let expected = CipherEvidence {
            bits: *bits,
            aead: *aead,
            forward_secrecy: *forward_secrecy,
            broken: *broken,
        };
        assert_eq!(CipherEvidence::from_name(name), Some(expected), "{name}");
    }
}

#[test]
fn unknown_names_are_not_guessed() {
    for name in [
        "",
        "0x1301",
        "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        "TLS_FALLBACK_SCSV",
        "TLS_SM4_GCM_SM3",
        "GOST2012-KUZNYECHIK-KUZNYECHIKOMAC",
        "-",
        "___",
        "WITH",
        "TLS_WITH",
    ] {
        assert_eq!(CipherEvidence::from_name(name), None, "{name:?}");
    }
    let long = "AES128-".repeat(100);
    assert_eq!(CipherEvidence::from_name(&long), None);
}

#[test]
fn signature_names_give_their_hash() {
    let cases = [
        ("sha256WithRSAEncryption", Some(SignatureHash::Sha256)),
        ("sha384WithRSAEncryption", Some(SignatureHash::Sha384)),
        ("sha512WithRSAEncryption", Some(SignatureHash::Sha512)),
        ("sha224WithRSAEncryption", Some(SignatureHash::Sha224)),
        ("sha1WithRSAEncryption", Some(SignatureHash::Sha1)),
        ("md5WithRSAEncryption", Some(SignatureHash::Md5)),
        ("md2WithRSAEncryption", Some(SignatureHash::Md5)),
        ("ecdsa-with-SHA256", Some(SignatureHash::Sha256)),
        ("ecdsa-with-SHA1", Some(SignatureHash::Sha1)),
        ("RSA_PKCS1_SHA1", Some(SignatureHash::Sha1)),
        ("RSA_PSS_SHA384", Some(SignatureHash::Sha384)),
        ("ECDSA_NISTP256_SHA256", Some(SignatureHash::Sha256)),
        ("SHA-256", Some(SignatureHash::Sha256)),
        ("ED25519", Some(SignatureHash::Intrinsic)),
        ("Ed448", Some(SignatureHash::Intrinsic)),
        ("rsassa-pss", None),
        ("", None),
    ];
    for (name, expected) in cases {
        assert_eq!(SignatureHash::from_name(name), expected, "{name}");
    }
}

#[test]
fn signature_hashes_are_ordered_weakest_first() {
    assert!(SignatureHash::Md5 < SignatureHash::Sha1);
    assert!(SignatureHash::Sha1 < SignatureHash::Sha256);
    assert!(SignatureHash::Sha256 < SignatureHash::Intrinsic);
}
