//! `src/probe/iana.rs` is generated from the IANA registries in `data/`: every cipher suite
//! with the properties read from its IANA name, every supported group with its kind. This test
//! regenerates the table and fails when the committed file differs; with `CHECKTLS_BLESS=1` it
//! writes the file instead.

use std::fmt::Write as _;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The CSV rows (value, description), quoted fields with commas and newlines kept whole.
fn rows(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            '\n' if !quoted => {
                fields.push(std::mem::take(&mut field));
                if fields.len() >= 2 {
                    out.push((fields[0].clone(), fields[1].clone()));
                }
                fields.clear();
            }
            '\r' if !quoted => {}
            c => field.push(c),
        }
    }
    out
}

struct Suite {
    code: u16,
    name: String,
    kx: &'static str,
    auth: &'static str,
    cipher: &'static str,
    mode: &'static str,
    mac: &'static str,
    bits: u16,
    export: bool,
    tls13: bool,
}

/// Reads a suite's properties from its IANA name (RFC 5246 appendix A.5 and the naming the
/// later RFCs follow: `TLS_{key exchange}_{authentication}_WITH_{cipher}_{bits}_{mode}_{mac}`).
fn suite(code: u16, name: &str) -> Suite {
    let body = name.strip_prefix("TLS_").unwrap_or(name);
    let tls13 =
        matches!(code, 0x1301..=0x13FF | 0x00C6 | 0x00C7 | 0xC0B4 | 0xC0B5 | 0xC103..=0xC106);
    let (kxa, rest) = match body.split_once("_WITH_") {
        Some((k, r)) if !tls13 => (k, r),
        Some((_, r)) => ("", r),
        None => ("", body),
    };
    let (kx, auth) = match kxa {
        "" => ("Tls13", "Tls13"),
        "NULL" => ("Null", "Null"),
        "RSA" | "RSA_EXPORT" | "RSA_EXPORT1024" => ("Rsa", "Rsa"),
        "DH_DSS" | "DH_DSS_EXPORT" => ("Dh", "Dss"),
        "DH_RSA" | "DH_RSA_EXPORT" => ("Dh", "Rsa"),
        "DHE_DSS" | "DHE_DSS_EXPORT" | "DHE_DSS_EXPORT1024" => ("Dhe", "Dss"),
        "DHE_RSA" | "DHE_RSA_EXPORT" => ("Dhe", "Rsa"),
        "DH_anon" | "DH_anon_EXPORT" => ("Dh", "Anonymous"),
        "ECDH_ECDSA" => ("Ecdh", "Ecdsa"),
        "ECDH_RSA" => ("Ecdh", "Rsa"),
        "ECDHE_ECDSA" => ("Ecdhe", "Ecdsa"),
        "ECDHE_RSA" => ("Ecdhe", "Rsa"),
        "ECDH_anon" => ("Ecdh", "Anonymous"),
        "KRB5" | "KRB5_EXPORT" => ("Krb5", "Krb5"),
        "PSK" => ("Psk", "Psk"),
        "DHE_PSK" | "PSK_DHE" => ("DhePsk", "Psk"),
        "RSA_PSK" => ("RsaPsk", "Psk"),
        "ECDHE_PSK" => ("EcdhePsk", "Psk"),
        "SRP_SHA" => ("Srp", "Srp"),
        "SRP_SHA_RSA" => ("Srp", "Rsa"),
        "SRP_SHA_DSS" => ("Srp", "Dss"),
        "ECCPWD" => ("Eccpwd", "Password"),
        "GOSTR341112_256" => ("Gost", "Gost"),
        other => panic!("0x{code:04X} {name}: unknown key exchange {other}"),
    };
    let export = kxa.contains("EXPORT") || rest.contains("_40") || rest.contains("40_");
    let t: Vec<&str> = rest.split('_').collect();
    let has = |s: &str| t.contains(&s);
    let null = (has("NULL") && t.first() == Some(&"NULL"))
        || rest.starts_with("SHA256_SHA256")
        || rest.starts_with("SHA384_SHA384");
    let (cipher, mut bits) = if null {
        ("Null", 0)
    } else if has("RC4") {
        ("Rc4", 128)
    } else if has("RC2") {
        ("Rc2", 128)
    } else if has("IDEA") {
        ("Idea", 128)
    } else if has("3DES") {
        ("TripleDes", 168)
    } else if has("DES") || has("DES40") {
        ("Des", 56)
    } else if has("AES") {
        ("Aes", 128)
    } else if has("CAMELLIA") {
        ("Camellia", 128)
    } else if has("SEED") {
        ("Seed", 128)
    } else if has("ARIA") {
        ("Aria", 128)
    } else if has("CHACHA20") {
        ("ChaCha20", 256)
    } else if has("SM4") {
        ("Sm4", 128)
    } else if has("AEGIS") {
        ("Aegis", 128)
    } else if has("KUZNYECHIK") || has("MAGMA") || has("28147") {
        ("Gost", 256)
    } else {
        panic!("0x{code:04X} {name}: unknown cipher")
    };
    for (tok, b) in [
        ("256", 256),
        ("128", 128),
        ("40", 40),
        ("56", 56),
        ("128L", 128),
    ] {
        if t.iter().skip(1).take(1).any(|x| *x == tok) || t.first() == Some(&tok) {
            bits = b;
        }
    }
    if cipher == "Aes" || cipher == "Camellia" || cipher == "Aria" || cipher == "Aegis" {
        bits = if has("256") { 256 } else { 128 };
    }
    if has("DES40")
        || (cipher == "Des" && has("40"))
        || (cipher == "Rc4" && has("40"))
        || (cipher == "Rc2" && has("40"))
    {
        bits = 40;
    }
    if has("56") {
        bits = 56;
    }
    let mode = if has("CBC") {
        "Cbc"
    } else if has("GCM") {
        "Gcm"
    } else if has("CCM") && has("8") {
        "Ccm8"
    } else if has("CCM") {
        "Ccm"
    } else if has("POLY1305") {
        "Poly1305"
    } else if has("MGM") || cipher == "Aegis" {
        "OtherAead"
    } else if has("CTR") || has("CNT") {
        "Ctr"
    } else {
        "Stream"
    };
    let mac = match t.last().copied() {
        _ if cipher == "Gost" => "Gost",
        Some("MD5") => "Md5",
        Some("SHA") => "Sha1",
        Some("SHA384") => "Sha384",
        Some("SHA256") => "Sha256",
        Some("SM3") => "Sm3",
        Some("NULL") => "Null",
        // CCM suites of RFC 6655/7251 and TLS 1.3 without a hash in the name use SHA-256.
        _ => "Sha256",
    };
    Suite {
        code,
        name: name.to_owned(),
        kx,
        auth,
        cipher,
        mode,
        mac,
        bits,
        export,
        tls13,
    }
}

fn parse_code(value: &str) -> Option<u16> {
    let (a, b) = value.split_once(',')?;
    let a = u8::from_str_radix(a.trim().strip_prefix("0x")?, 16).ok()?;
    let b = u8::from_str_radix(b.trim().strip_prefix("0x")?, 16).ok()?;
    Some(u16::from_be_bytes([a, b]))
}

fn generate() -> String {
    let suites_csv = std::fs::read_to_string(dir().join("data/tls-parameters-4.csv")).unwrap();
    let groups_csv = std::fs::read_to_string(dir().join("data/tls-parameters-8.csv")).unwrap();
    let mut suites: Vec<Suite> = rows(&suites_csv)
        .into_iter()
        .filter_map(|(v, d)| {
            let code = parse_code(&v)?;
            (d.starts_with("TLS_") && !d.ends_with("_SCSV")).then(|| suite(code, d.trim()))
        })
        .collect();
    suites.sort_by_key(|s| s.code);
    let mut out = String::from(
        "// @generated by tests/iana_tables.rs from data/tls-parameters-4.csv and\n\
         // data/tls-parameters-8.csv: do not edit. Regenerate with\n\
         // `CHECKTLS_BLESS=1 cargo test -p checktls-tls --test iana_tables`.\n\n\
         /// Every IANA cipher suite, by code point.\n\
         const SUITES: &[SuiteInfo] = &[\n",
    );
    for s in &suites {
        let _ = writeln!(
            out,
            "    SuiteInfo {{ code: 0x{:04X}, name: {:?}, kx: KeyExchange::{}, auth: Authentication::{}, cipher: Cipher::{}, mode: Mode::{}, mac: Mac::{}, bits: {}, export: {}, tls13: {} }},",
            s.code, s.name, s.kx, s.auth, s.cipher, s.mode, s.mac, s.bits, s.export, s.tls13
        );
    }
    out.push_str("];\n\n/// Every IANA supported group usable for key exchange, by code point.\nconst GROUPS: &[GroupInfo] = &[\n");
    for (v, d) in rows(&groups_csv) {
        let Ok(code) = v.trim().parse::<u16>() else {
            continue;
        };
        let d = d.trim();
        if d.is_empty()
            || d.starts_with("Reserved")
            || d.starts_with("Unassigned")
            || d.starts_with("arbitrary_")
            || d.contains("OBSOLETE")
        {
            continue;
        }
        let name = match d {
            "x25519" => "X25519",
            "x448" => "X448",
            other => other,
        };
        let kind = if d.starts_with("ffdhe") {
            "Ffdhe"
        } else if d.starts_with("MLKEM") {
            "Kem"
        } else if d.contains("MLKEM") {
            "Hybrid"
        } else {
            "Ec"
        };
        // RFC 8446 §4.2.7: TLS 1.3 keeps secp256r1/384r1/521r1, x25519, x448 and ffdhe; later
        // registrations (brainpool tls13, GOST, SM2, ML-KEM and hybrids) are TLS 1.3 groups.
        let tls13 = matches!(code, 23..=25 | 29..=41 | 256..=260) || code > 260;
        let _ = writeln!(
            out,
            "    GroupInfo {{ code: {code}, name: {name:?}, kind: GroupKind::{kind}, tls13: {tls13} }},"
        );
    }
    out.push_str("];\n");
    out
}

#[test]
fn the_table_is_generated_from_the_registries() {
    let want = generate();
    let path = dir().join("src/probe/iana.rs");
    if std::env::var_os("CHECKTLS_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "src/probe/iana.rs is stale: CHECKTLS_BLESS=1 cargo test -p checktls-tls --test iana_tables"
    );
}

#[test]
fn names_are_read_as_the_rfcs_define_them() {
    let s = suite(0xC0A3, "TLS_DHE_RSA_WITH_AES_256_CCM_8");
    assert_eq!(
        (s.kx, s.auth, s.cipher, s.mode, s.bits),
        ("Dhe", "Rsa", "Aes", "Ccm8", 256)
    );
    let s = suite(0x0019, "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA");
    assert_eq!(
        (s.kx, s.auth, s.cipher, s.bits, s.export, s.mac),
        ("Dh", "Anonymous", "Des", 40, true, "Sha1")
    );
    let s = suite(0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA");
    assert_eq!((s.cipher, s.bits, s.export), ("TripleDes", 168, false));
    let s = suite(0x1305, "TLS_AES_128_CCM_8_SHA256");
    assert_eq!((s.kx, s.mode, s.tls13), ("Tls13", "Ccm8", true));
    let s = suite(0x0064, "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA");
    assert_eq!((s.cipher, s.bits, s.export), ("Rc4", 56, true));
    let s = suite(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");
    assert_eq!((s.kx, s.mode, s.bits), ("Ecdhe", "Poly1305", 256));
    let s = suite(0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5");
    assert_eq!((s.bits, s.export, s.mac), (40, true, "Md5"));
    let s = suite(0xC0B4, "TLS_SHA256_SHA256");
    assert_eq!((s.cipher, s.tls13), ("Null", true));
}
