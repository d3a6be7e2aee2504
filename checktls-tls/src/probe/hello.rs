//! ClientHello messages built by hand, for every version from SSLv2 to TLS 1.3.

use crate::version::TlsVersion;

/// Cipher suites offered by default for SSLv3 to TLS 1.2: modern first, then the legacy ones a
/// weak server may pick (CBC, static RSA and (EC)DH, DSS, 3DES/DES, RC4, IDEA, SEED, Camellia,
/// anonymous, export, NULL). Every one has an IANA name in [`CipherSuite`](crate::CipherSuite).
pub const LEGACY_SUITES: &[u16] = &[
    0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, // ECDHE AEAD
    0x009E, 0x009F, // DHE-RSA GCM
    0xC009, 0xC013, 0xC00A, 0xC014, // ECDHE CBC SHA
    0xC023, 0xC027, 0xC024, 0xC028, // ECDHE CBC SHA256/384
    0x0033, 0x0039, 0x0067, 0x006B, 0x0045, 0x0088, // DHE-RSA CBC
    0x0032, 0x0038, 0x0013, // DHE-DSS
    0x009C, 0x009D, // RSA GCM
    0x002F, 0x0035, 0x003C, 0x003D, 0x0041, 0x0084, 0x0096, 0x0007, // RSA CBC
    0xC004, 0xC00E, // static ECDH
    0x000A, 0xC012, 0xC008, 0x0016, 0x0009, 0x0015, // 3DES, DES
    0x0005, 0x0004, 0xC011, 0xC007, // RC4
    0x0034, 0x003A, 0xC018, 0x001B, 0xC017, 0x0018, 0xC016, // anonymous
    0x0062, 0x0064, 0x0003, 0x0006, 0x0008, 0x0011, 0x0014, 0x0017, 0x0019, // export
    0x0001, 0x0002, 0x003B, 0xC006, 0xC010, // NULL
];

/// TLS 1.3 suites offered.
pub const TLS13_SUITES: &[u16] = &[0x1301, 0x1302, 0x1303];

/// SSLv2 cipher kinds (3 bytes each): RC4-128, RC4-128-EXPORT40, RC2-128, RC2-128-EXPORT40,
/// IDEA-128, DES-64, DES-192-EDE3.
pub const SSL2_SPECS: &[[u8; 3]] = &[
    [0x01, 0x00, 0x80],
    [0x02, 0x00, 0x80],
    [0x03, 0x00, 0x80],
    [0x04, 0x00, 0x80],
    [0x05, 0x00, 0x80],
    [0x06, 0x00, 0x40],
    [0x07, 0x00, 0xC0],
];

fn u16be(v: usize) -> [u8; 2] {
    u16::try_from(v).unwrap_or(u16::MAX).to_be_bytes()
}

fn u24be(v: usize) -> [u8; 3] {
    let v = u32::try_from(v).unwrap_or(0xFF_FFFF);
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

fn ext(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&u16be(body.len()));
    out.extend_from_slice(body);
}

/// An SSLv2-format message: the 2-byte header (high bit set, 15-bit length) and `body`.
fn ssl2_record(body: &[u8]) -> Vec<u8> {
    let len = body.len().min(0x7fff) | 0x8000;
    let mut out = vec![(len >> 8) as u8, len as u8];
    out.extend_from_slice(body.get(..0x7fff).unwrap_or(body));
    out
}

/// An SSLv2 CLIENT-HELLO (version 0x0002) offering every kind of [`SSL2_SPECS`].
pub fn ssl2_client_hello(challenge: [u8; 16]) -> Vec<u8> {
    let mut body = vec![0x01, 0x00, 0x02];
    body.extend_from_slice(&u16be(SSL2_SPECS.len() * 3));
    body.extend_from_slice(&[0, 0]); // session id length
    body.extend_from_slice(&u16be(challenge.len()));
    for s in SSL2_SPECS {
        body.extend_from_slice(s);
    }
    body.extend_from_slice(&challenge);
    ssl2_record(&body)
}

/// An SSLv2-compatible ClientHello (RFC 5246 appendix E.2): the SSLv2 message format offering
/// `version` (SSLv3 to TLS 1.2) and `suites` as 3-byte kinds `00 XX YY`, with a 32-byte
/// challenge. It carries no extensions (no SNI), as the old clients that sent it did.
pub fn ssl2_compatible_client_hello(
    version: TlsVersion,
    suites: &[u16],
    random: [u8; 32],
) -> Vec<u8> {
    let wire = version.wire().clamp(0x0300, 0x0303);
    let mut body = vec![0x01];
    body.extend_from_slice(&wire.to_be_bytes());
    let suites = suites.get(..suites.len().min(1000)).unwrap_or(suites);
    body.extend_from_slice(&u16be(suites.len() * 3));
    body.extend_from_slice(&[0, 0]); // session id length
    body.extend_from_slice(&u16be(random.len()));
    for s in suites {
        body.push(0);
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&random);
    ssl2_record(&body)
}

/// A ClientHello record offering exactly `version` and `suites`, with SNI when given.
/// `random` is the client random (and, for TLS 1.3, also serves as the X25519 key share; the
/// handshake is never completed, only the server's first flight is read).
pub fn client_hello(
    version: TlsVersion,
    suites: &[u16],
    sni: Option<&str>,
    random: [u8; 32],
) -> Vec<u8> {
    if version == TlsVersion::Ssl2 {
        let mut challenge = [0u8; 16];
        challenge.copy_from_slice(&random[..16]);
        return ssl2_client_hello(challenge);
    }
    let tls13 = version == TlsVersion::Tls13;
    let legacy_version = if tls13 { 0x0303 } else { version.wire() };
    let mut hello = Vec::with_capacity(512);
    hello.extend_from_slice(&legacy_version.to_be_bytes());
    hello.extend_from_slice(&random);
    if tls13 {
        // A 32-byte legacy session id: middlebox compatibility mode (RFC 8446 §D.4).
        hello.push(32);
        hello.extend_from_slice(&random);
    } else {
        hello.push(0);
    }
    let mut list: Vec<u16> = suites.to_vec();
    if version != TlsVersion::Ssl3 && !tls13 {
        list.push(0x00FF); // TLS_EMPTY_RENEGOTIATION_INFO_SCSV
    }
    hello.extend_from_slice(&u16be(list.len() * 2));
    for s in &list {
        hello.extend_from_slice(&s.to_be_bytes());
    }
    hello.extend_from_slice(&[1, 0]); // compression: null
    if version != TlsVersion::Ssl3 {
        let mut exts = Vec::new();
        if let Some(name) = sni.filter(|n| n.parse::<std::net::IpAddr>().is_err() && n.len() < 254)
        {
            let name = name.trim_end_matches('.').as_bytes();
            let mut entry = vec![0u8];
            entry.extend_from_slice(&u16be(name.len()));
            entry.extend_from_slice(name);
            let mut body = u16be(entry.len()).to_vec();
            body.extend_from_slice(&entry);
            ext(&mut exts, 0x0000, &body);
        }
        // supported_groups: x25519, secp256r1, secp384r1, secp521r1, ffdhe2048
        ext(
            &mut exts,
            0x000A,
            &[0, 10, 0, 0x1D, 0, 0x17, 0, 0x18, 0, 0x19, 0x01, 0x00],
        );
        // ec_point_formats: uncompressed
        ext(&mut exts, 0x000B, &[1, 0]);
        if version >= TlsVersion::Tls12 {
            // signature_algorithms: ecdsa/rsa-pss/rsa with SHA-256/384/512, ed25519, then SHA-1.
            let algs: [u16; 11] = [
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0807, 0x0203,
                0x0201,
            ];
            let mut body = u16be(algs.len() * 2).to_vec();
            for a in algs {
                body.extend_from_slice(&a.to_be_bytes());
            }
            ext(&mut exts, 0x000D, &body);
        }
        if tls13 {
            ext(&mut exts, 0x002B, &[2, 0x03, 0x04]); // supported_versions: TLS 1.3
            let mut share = vec![0u8; 0];
            let mut entry = vec![0x00, 0x1D, 0x00, 0x20];
            entry.extend_from_slice(&random);
            share.extend_from_slice(&u16be(entry.len()));
            share.extend_from_slice(&entry);
            ext(&mut exts, 0x0033, &share); // key_share: x25519
        } else {
            ext(&mut exts, 0xFF01, &[0]); // renegotiation_info (empty)
        }
        hello.extend_from_slice(&u16be(exts.len()));
        hello.extend_from_slice(&exts);
    }
    let mut handshake = vec![1u8];
    handshake.extend_from_slice(&u24be(hello.len()));
    handshake.extend_from_slice(&hello);
    let record_version: u16 = if version == TlsVersion::Ssl3 {
        0x0300
    } else {
        0x0301
    };
    let mut record = vec![0x16];
    record.extend_from_slice(&record_version.to_be_bytes());
    record.extend_from_slice(&u16be(handshake.len()));
    record.extend_from_slice(&handshake);
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CipherSuite;

    /// (record version, handshake type, client_version, suites, extension types) of a record.
    fn read(rec: &[u8]) -> (u16, u8, u16, Vec<u16>, Vec<u16>) {
        let be = |i: usize| u16::from_be_bytes([rec[i], rec[i + 1]]);
        assert_eq!(rec[0], 0x16);
        assert_eq!(usize::from(be(3)), rec.len() - 5);
        let hs_len = (usize::from(rec[6]) << 16) | usize::from(be(7));
        assert_eq!(hs_len, rec.len() - 9);
        let sid = usize::from(rec[9 + 34]);
        let at = 9 + 35 + sid;
        let n = usize::from(be(at));
        let suites = (0..n / 2).map(|i| be(at + 2 + 2 * i)).collect();
        let mut i = at + 2 + n;
        assert_eq!(&rec[i..i + 2], &[1, 0]);
        i += 2;
        let mut exts = Vec::new();
        if i < rec.len() {
            let end = i + 2 + usize::from(be(i));
            assert_eq!(end, rec.len());
            i += 2;
            while i < end {
                exts.push(be(i));
                i += 4 + usize::from(be(i + 2));
            }
            assert_eq!(i, end);
        }
        (be(1), rec[5], be(9), suites, exts)
    }

    #[test]
    fn tls_hellos_are_well_formed() {
        let (rv, ty, v, suites, exts) = read(&client_hello(
            TlsVersion::Tls12,
            &[0xC02F, 0x002F],
            Some("mx.example.com"),
            [1; 32],
        ));
        assert_eq!((rv, ty, v), (0x0301, 1, 0x0303));
        assert_eq!(suites, [0xC02F, 0x002F, 0x00FF]);
        assert_eq!(exts, [0x0000, 0x000A, 0x000B, 0x000D, 0xFF01]);
        let (_, _, v, suites, exts) = read(&client_hello(
            TlsVersion::Tls13,
            TLS13_SUITES,
            None,
            [2; 32],
        ));
        assert_eq!(v, 0x0303);
        assert_eq!(suites, TLS13_SUITES);
        assert_eq!(exts, [0x000A, 0x000B, 0x000D, 0x002B, 0x0033]);
        let (rv, _, v, suites, exts) = read(&client_hello(
            TlsVersion::Ssl3,
            &[0x000A],
            Some("a.b"),
            [3; 32],
        ));
        assert_eq!((rv, v), (0x0300, 0x0300));
        assert_eq!(suites, [0x000A]);
        assert!(exts.is_empty(), "SSLv3 hellos carry no extensions");
        // An IP address is no SNI.
        let (_, _, _, _, exts) = read(&client_hello(
            TlsVersion::Tls10,
            &[0x002F],
            Some("127.0.0.1"),
            [4; 32],
        ));
        assert_eq!(exts, [0x000A, 0x000B, 0xFF01]);
    }

    #[test]
    fn sslv2_formats() {
        let h = ssl2_client_hello([7; 16]);
        assert_eq!(
            usize::from(u16::from_be_bytes([h[0] & 0x7f, h[1]])),
            h.len() - 2
        );
        assert_eq!(&h[2..5], &[1, 0, 2]);
        assert_eq!(
            usize::from(u16::from_be_bytes([h[5], h[6]])),
            SSL2_SPECS.len() * 3
        );
        let h = ssl2_compatible_client_hello(TlsVersion::Tls11, &[0x002F, 0xC013], [8; 32]);
        assert_eq!(h[0] & 0x80, 0x80);
        assert_eq!(&h[2..5], &[1, 3, 2]);
        assert_eq!(&h[5..11], &[0, 6, 0, 0, 0, 32]);
        assert_eq!(&h[11..17], &[0, 0x00, 0x2F, 0, 0xC0, 0x13]);
        assert_eq!(h.len(), 2 + 9 + 6 + 32);
    }

    #[test]
    fn every_offered_suite_is_named_once() {
        let mut seen = std::collections::HashSet::new();
        for &code in LEGACY_SUITES.iter().chain(TLS13_SUITES) {
            assert!(seen.insert(code), "0x{code:04X} offered twice");
            let name = CipherSuite::from_code(code).name;
            assert!(name.starts_with("TLS_"), "0x{code:04X} is {name}");
        }
        for spec in SSL2_SPECS {
            assert!(
                CipherSuite::from_ssl2_spec(*spec)
                    .name
                    .starts_with("SSL_CK_")
            );
        }
    }
}
