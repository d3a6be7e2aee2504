//! ClientHello messages built by hand, for every version from SSLv2 to TLS 1.3.

use crate::version::TlsVersion;

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

/// The signature algorithms offered with TLS 1.2 and 1.3: every scheme a server may sign with,
/// strongest first, SHA-1 and DSA last (so a server that has only those still answers).
pub const SIGNATURE_ALGORITHMS: &[u16] = &[
    0x0403, 0x0804, 0x0809, 0x0401, 0x0503, 0x0805, 0x080A, 0x0501, 0x0603, 0x0806, 0x080B, 0x0601,
    0x0807, 0x0808, 0x081A, 0x081B, 0x081C, 0x0303, 0x0301, 0x0402, 0x0302, 0x0203, 0x0201, 0x0202,
];

/// The SHA-256 of "HelloRetryRequest": the `random` of a TLS 1.3 HelloRetryRequest (RFC 8446
/// §4.1.3).
pub const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// TLS_FALLBACK_SCSV (RFC 7507).
pub const FALLBACK_SCSV: u16 = 0x5600;
/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746).
pub const RENEGOTIATION_SCSV: u16 = 0x00FF;

/// Extension code points the prober sends or reads.
pub mod ext {
    /// server_name (RFC 6066).
    pub const SERVER_NAME: u16 = 0;
    /// status_request: OCSP stapling (RFC 6066).
    pub const STATUS_REQUEST: u16 = 5;
    /// supported_groups (RFC 8422, RFC 7919).
    pub const SUPPORTED_GROUPS: u16 = 10;
    /// ec_point_formats (RFC 8422).
    pub const EC_POINT_FORMATS: u16 = 11;
    /// signature_algorithms (RFC 5246, RFC 8446).
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    /// heartbeat (RFC 6520).
    pub const HEARTBEAT: u16 = 15;
    /// encrypt_then_mac (RFC 7366).
    pub const ENCRYPT_THEN_MAC: u16 = 22;
    /// extended_master_secret (RFC 7627).
    pub const EXTENDED_MASTER_SECRET: u16 = 23;
    /// SessionTicket (RFC 5077).
    pub const SESSION_TICKET: u16 = 35;
    /// supported_versions (RFC 8446).
    pub const SUPPORTED_VERSIONS: u16 = 43;
    /// key_share (RFC 8446).
    pub const KEY_SHARE: u16 = 51;
    /// renegotiation_info (RFC 5746).
    pub const RENEGOTIATION_INFO: u16 = 0xFF01;
}

/// A ClientHello to build: what it offers and which extensions it carries.
///
/// ```
/// use checktls_tls::probe::hello::ClientHello;
/// use checktls_tls::TlsVersion;
/// let mut h = ClientHello::new(TlsVersion::Tls12, vec![0xC02F, 0x009C]);
/// h.sni = Some("mx.example.com".into());
/// h.status_request = true;
/// let record = h.record([7; 32]);
/// assert_eq!(&record[..3], &[0x16, 3, 1]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientHello {
    /// The version offered: client_version up to TLS 1.2; supported_versions for TLS 1.3.
    pub version: TlsVersion,
    /// The cipher suites, in the client's order of preference.
    pub suites: Vec<u16>,
    /// supported_groups (TLS 1.0 and later).
    pub groups: Vec<u16>,
    /// TLS 1.3 key shares (group, public key); empty makes the server name its group in a
    /// HelloRetryRequest. `None`: one X25519 share made of the client random.
    pub key_shares: Option<Vec<(u16, Vec<u8>)>>,
    /// The SNI name (never an address literal).
    pub sni: Option<String>,
    /// The legacy session id (TLS 1.3: a 32-byte id is made from the random when empty).
    pub session_id: Vec<u8>,
    /// Offer DEFLATE compression before null (TLS 1.2 and older).
    pub offer_compression: bool,
    /// Add TLS_FALLBACK_SCSV (RFC 7507).
    pub fallback_scsv: bool,
    /// Add TLS_EMPTY_RENEGOTIATION_INFO_SCSV (TLS 1.0 to 1.2, when `renegotiation_info` is not
    /// sent).
    pub renegotiation_scsv: bool,
    /// A renegotiation_info extension with this client verify_data (RFC 5746 §3.5).
    pub renegotiation_info: Option<Vec<u8>>,
    /// status_request (OCSP).
    pub status_request: bool,
    /// SessionTicket: empty asks for a ticket, otherwise offers it (RFC 5077).
    pub session_ticket: Option<Vec<u8>>,
    /// heartbeat, peer allowed to send (RFC 6520).
    pub heartbeat: bool,
    /// extended_master_secret (RFC 7627).
    pub extended_master_secret: bool,
    /// encrypt_then_mac (RFC 7366).
    pub encrypt_then_mac: bool,
    /// The signature algorithms (TLS 1.2 and 1.3).
    pub signature_algorithms: Vec<u16>,
}

impl ClientHello {
    /// A hello for `version` offering `suites`, every registered group, every signature
    /// algorithm, the renegotiation SCSV, and nothing else.
    pub fn new(version: TlsVersion, suites: Vec<u16>) -> Self {
        Self {
            version,
            suites,
            groups: crate::probe::suites::offered_groups(),
            key_shares: None,
            sni: None,
            session_id: Vec::new(),
            offer_compression: false,
            fallback_scsv: false,
            renegotiation_scsv: true,
            renegotiation_info: None,
            status_request: false,
            session_ticket: None,
            heartbeat: false,
            extended_master_secret: false,
            encrypt_then_mac: false,
            signature_algorithms: SIGNATURE_ALGORITHMS.to_vec(),
        }
    }

    /// The handshake message (type 1, with its 4-byte header), with `random` as the client
    /// random.
    pub fn message(&self, random: [u8; 32]) -> Vec<u8> {
        let version = self.version;
        let tls13 = version == TlsVersion::Tls13;
        let legacy_version = if tls13 { 0x0303 } else { version.wire() };
        let mut hello = Vec::with_capacity(1024);
        hello.extend_from_slice(&legacy_version.to_be_bytes());
        hello.extend_from_slice(&random);
        let sid: &[u8] = if tls13 && self.session_id.is_empty() {
            // Middlebox compatibility mode (RFC 8446 §D.4).
            &random
        } else {
            self.session_id
                .get(..self.session_id.len().min(32))
                .unwrap_or_default()
        };
        hello.push(sid.len() as u8);
        hello.extend_from_slice(sid);
        let mut list: Vec<u16> = self
            .suites
            .get(..self.suites.len().min(30000))
            .unwrap_or_default()
            .to_vec();
        if self.renegotiation_scsv
            && self.renegotiation_info.is_none()
            && version != TlsVersion::Ssl3
            && !tls13
        {
            list.push(RENEGOTIATION_SCSV);
        }
        if self.fallback_scsv {
            list.push(FALLBACK_SCSV);
        }
        hello.extend_from_slice(&u16be(list.len() * 2));
        for s in &list {
            hello.extend_from_slice(&s.to_be_bytes());
        }
        if self.offer_compression && !tls13 {
            hello.extend_from_slice(&[2, 1, 0]); // DEFLATE, null
        } else {
            hello.extend_from_slice(&[1, 0]);
        }
        if version != TlsVersion::Ssl3 {
            let exts = self.extensions(random);
            hello.extend_from_slice(&u16be(exts.len()));
            hello.extend_from_slice(&exts);
        }
        let mut handshake = vec![1u8];
        handshake.extend_from_slice(&u24be(hello.len()));
        handshake.extend_from_slice(&hello);
        handshake
    }

    /// The ClientHello in one handshake record (record version 3.0 for SSLv3, 3.1 otherwise).
    pub fn record(&self, random: [u8; 32]) -> Vec<u8> {
        let handshake = self.message(random);
        let record_version: u16 = if self.version == TlsVersion::Ssl3 {
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

    fn extensions(&self, random: [u8; 32]) -> Vec<u8> {
        let version = self.version;
        let tls13 = version == TlsVersion::Tls13;
        let mut exts = Vec::new();
        if let Some(name) = self
            .sni
            .as_deref()
            .filter(|n| n.parse::<std::net::IpAddr>().is_err() && n.len() < 254 && !n.is_empty())
        {
            let name = name.trim_end_matches('.').as_bytes();
            let mut entry = vec![0u8];
            entry.extend_from_slice(&u16be(name.len()));
            entry.extend_from_slice(name);
            let mut body = u16be(entry.len()).to_vec();
            body.extend_from_slice(&entry);
            ext(&mut exts, ext::SERVER_NAME, &body);
        }
        if self.status_request {
            // OCSP, no responder ids, no request extensions.
            ext(&mut exts, ext::STATUS_REQUEST, &[1, 0, 0, 0, 0]);
        }
        if !self.groups.is_empty() {
            let mut body = u16be(self.groups.len() * 2).to_vec();
            for g in &self.groups {
                body.extend_from_slice(&g.to_be_bytes());
            }
            ext(&mut exts, ext::SUPPORTED_GROUPS, &body);
        }
        ext(&mut exts, ext::EC_POINT_FORMATS, &[1, 0]);
        if version >= TlsVersion::Tls12 && !self.signature_algorithms.is_empty() {
            let mut body = u16be(self.signature_algorithms.len() * 2).to_vec();
            for a in &self.signature_algorithms {
                body.extend_from_slice(&a.to_be_bytes());
            }
            ext(&mut exts, ext::SIGNATURE_ALGORITHMS, &body);
        }
        if self.heartbeat {
            ext(&mut exts, ext::HEARTBEAT, &[1]); // peer_allowed_to_send
        }
        if self.encrypt_then_mac && !tls13 {
            ext(&mut exts, ext::ENCRYPT_THEN_MAC, &[]);
        }
        if self.extended_master_secret && !tls13 {
            ext(&mut exts, ext::EXTENDED_MASTER_SECRET, &[]);
        }
        if let Some(ticket) = &self.session_ticket {
            ext(&mut exts, ext::SESSION_TICKET, ticket);
        }
        if tls13 {
            ext(&mut exts, ext::SUPPORTED_VERSIONS, &[2, 0x03, 0x04]);
            let shares = match &self.key_shares {
                Some(s) => s.clone(),
                None => vec![(0x001D, random.to_vec())],
            };
            let mut list = Vec::new();
            for (group, key) in &shares {
                list.extend_from_slice(&group.to_be_bytes());
                list.extend_from_slice(&u16be(key.len()));
                list.extend_from_slice(key);
            }
            let mut body = u16be(list.len()).to_vec();
            body.extend_from_slice(&list);
            ext(&mut exts, ext::KEY_SHARE, &body);
        } else if let Some(verify) = &self.renegotiation_info {
            let mut body = vec![verify.len().min(255) as u8];
            body.extend_from_slice(verify.get(..verify.len().min(255)).unwrap_or_default());
            ext(&mut exts, ext::RENEGOTIATION_INFO, &body);
        }
        exts
    }
}

/// A ClientHello record offering exactly `version` and `suites`, with SNI when given, every
/// group and the renegotiation SCSV. `random` is the client random (and, for TLS 1.3, also
/// serves as the X25519 key share: a first flight is all that is read).
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
    let mut h = ClientHello::new(version, suites.to_vec());
    h.sni = sni.map(str::to_owned);
    h.record(random)
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
        assert_eq!(exts, [0x0000, 0x000A, 0x000B, 0x000D]);
        let tls13 = crate::probe::suites::tls13_suites();
        let (_, _, v, suites, exts) = read(&client_hello(TlsVersion::Tls13, &tls13, None, [2; 32]));
        assert_eq!(v, 0x0303);
        assert_eq!(suites, tls13);
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
        assert_eq!(exts, [0x000A, 0x000B]);
        // Every extension, a fallback, a renegotiation with verify_data.
        let mut h = ClientHello::new(TlsVersion::Tls12, vec![0x002F]);
        h.fallback_scsv = true;
        h.status_request = true;
        h.heartbeat = true;
        h.encrypt_then_mac = true;
        h.extended_master_secret = true;
        h.session_ticket = Some(vec![]);
        h.renegotiation_info = Some(vec![9; 12]);
        h.offer_compression = true;
        let rec = h.record([5; 32]);
        let (_, _, _, suites, exts) = read_with_compression(&rec);
        assert_eq!(suites, [0x002F, FALLBACK_SCSV]);
        assert_eq!(exts, [5, 10, 11, 13, 15, 22, 23, 35, 0xFF01]);
        // TLS 1.3 with no key share (the server must ask for one).
        let mut h = ClientHello::new(TlsVersion::Tls13, vec![0x1301]);
        h.key_shares = Some(vec![]);
        let rec = h.record([6; 32]);
        assert!(
            rec.ends_with(&[0, 51, 0, 2, 0, 0]),
            "an empty key_share last"
        );
    }

    /// Like `read`, for a hello that offers DEFLATE before null.
    fn read_with_compression(rec: &[u8]) -> (u16, u8, u16, Vec<u16>, Vec<u16>) {
        let sid = usize::from(rec[9 + 34]);
        let at = 9 + 35 + sid;
        let n = usize::from(u16::from_be_bytes([rec[at], rec[at + 1]]));
        assert_eq!(&rec[at + 2 + n..at + 2 + n + 3], &[2, 1, 0]);
        let mut fixed = rec[..at + 2 + n].to_vec();
        fixed.extend_from_slice(&[1, 0]);
        fixed.extend_from_slice(&rec[at + 2 + n + 3..]);
        let len = u16::try_from(fixed.len() - 5).unwrap().to_be_bytes();
        fixed[3..5].copy_from_slice(&len);
        let hs = (fixed.len() - 9).to_be_bytes();
        fixed[6..9].copy_from_slice(&hs[hs.len() - 3..]);
        read(&fixed)
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
        let all = crate::probe::suites::legacy_suites();
        assert!(all.len() > 300, "every registered suite: {}", all.len());
        for &code in all.iter().chain(&crate::probe::suites::tls13_suites()) {
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
