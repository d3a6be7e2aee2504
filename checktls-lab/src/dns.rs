//! An authoritative DNS server in-process (hickory-server) on an ephemeral loopback port, UDP
//! and TCP, serving zones a test describes in a few lines of zone-file text, signed with DNSSEC
//! under a lab root whose key is the trust anchor, with broken variants on demand.
//!
//! ```text
//!   "."  (signed; its key is the trust anchor)
//!    ├── example.test      Signing::Signed             DS in "."          → secure
//!    ├── plain.test        Signing::Unsigned           no DS, NSEC proof  → insecure
//!    ├── expired.test      Signing::ExpiredSignatures  DS, RRSIGs expired → bogus
//!    ├── wrongkey.test     Signing::WrongKey           DS names another key → bogus
//!    └── nods.test         Signing::MissingDs          DS withdrawn, parent NSEC still lists it → bogus
//! ```
//!
//! Every signed zone has a KSK (flags 257, named by the parent's DS, signing the DNSKEY set) and
//! a ZSK (flags 256, signing everything else), as the root and most zones of the Internet do;
//! [`KeyLayout::Csk`] gives one combined key instead, and [`Denial::Nsec3`] NSEC3 instead of NSEC.
//! Every zone is delegated from the closest enclosing zone the lab serves (or from the root),
//! with `NS ns.lab.`; DS queries for a zone apex are answered by its parent, as a real parent
//! would. The same signed data can be written out as zone files for a real server
//! ([`LabZones::write_zone_files`]).
//!
//! ```
//! # async fn run() -> Result<(), checktls_lab::Error> {
//! use checktls_lab::dns::{DnsLab, MailDomain, Signing};
//!
//! let lab = DnsLab::builder()
//!     .mail_domain(
//!         MailDomain::new("example.test")
//!             .mx(10, "mx1", ["127.0.0.2".parse().unwrap()])
//!             .tlsa("mx1", 25, "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
//!             .mta_sts("20240101")
//!             .tls_rpt("mailto:tls@example.test")
//!             .spf("v=spf1 mx -all")
//!             .dmarc("v=DMARC1; p=reject"),
//!     )
//!     .zone("plain.test", Signing::Unsigned, "@ MX 10 mx\nmx A 127.0.0.3")
//!     .start()
//!     .await?;
//! let server = lab.addr(); // 127.0.0.1:<port>, UDP and TCP
//! let anchor = lab.trust_anchor(); // ". 3600 IN DNSKEY 257 3 15 …"
//! # let _ = (server, anchor);
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use hickory_proto::dnssec::crypto::Ed25519SigningKey;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_proto::dnssec::{
    DigestType, DnssecSigner, Nsec3HashAlgorithm, PublicKey, PublicKeyBuf, SigningKey,
};
use hickory_proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_proto::rr::rdata::{A, NS, PTR, SOA};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_proto::serialize::txt::Parser;
use hickory_server::Server;
use hickory_server::dnssec::NxProofKind;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{
    AxfrPolicy, Catalog, MessageResponseBuilder, ZoneHandler, ZoneType,
};
use rustls_pki_types::PrivatePkcs8KeyDer;
use time::OffsetDateTime;
use tokio::net::{TcpListener, UdpSocket};

use crate::Error;

/// How a zone is signed, or broken.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signing {
    /// Signed, with its DS in the parent: answers are secure.
    Signed,
    /// Not signed, delegated without a DS (the parent proves there is none): insecure.
    Unsigned,
    /// Signed, DS in the parent, but every signature expired weeks ago: bogus.
    ExpiredSignatures,
    /// Signed, but the parent's DS names a different key: bogus.
    WrongKey,
    /// Signed, but the parent withdrew the DS while its signed NSEC record still says a DS
    /// exists (a botched key rollover): bogus. (A parent that *proves* there is no DS makes the
    /// zone insecure instead: that is [`Signing::Unsigned`]'s delegation.)
    MissingDs,
}

impl Signing {
    fn signed(self) -> bool {
        !matches!(self, Self::Unsigned)
    }
}

/// Which keys sign a zone.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyLayout {
    /// A key-signing key (flags 257, named by the parent's DS) signs the DNSKEY set; a
    /// zone-signing key (flags 256) signs everything else: the layout of the root, most TLDs
    /// and most signed domains. The default.
    #[default]
    KskZsk,
    /// One combined key (flags 257) signs everything.
    Csk,
}

/// How a signed zone proves that names and types do not exist.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Denial {
    /// NSEC (RFC 4034). The default.
    #[default]
    Nsec,
    /// NSEC3 (RFC 5155), SHA-1, empty salt.
    Nsec3 {
        /// Extra hash iterations (RFC 9276 recommends 0).
        iterations: u16,
        /// The opt-out flag.
        opt_out: bool,
    },
}

/// One zone: its origin, how it is signed, and its records in zone-file syntax (names relative
/// to the origin, `@` for the origin; TTL 300 and class IN unless given). SOA and NS records are
/// added when absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    origin: String,
    signing: Signing,
    layout: KeyLayout,
    denial: Denial,
    text: String,
}

impl Zone {
    /// A zone (KSK+ZSK, NSEC when signed).
    pub fn new(origin: &str, signing: Signing, records: &str) -> Self {
        Self {
            origin: origin.trim_end_matches('.').to_ascii_lowercase(),
            signing,
            layout: KeyLayout::default(),
            denial: Denial::default(),
            text: records.to_owned(),
        }
    }

    /// Which keys sign it.
    pub fn key_layout(mut self, layout: KeyLayout) -> Self {
        self.layout = layout;
        self
    }

    /// NSEC or NSEC3.
    pub fn denial(mut self, denial: Denial) -> Self {
        self.denial = denial;
        self
    }
}

/// A mail domain described record by record; becomes a [`Zone`]. Host names without a dot are
/// relative to the domain (`mx1` is `mx1.<domain>`); with a dot they are absolute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailDomain {
    domain: String,
    signing: Signing,
    layout: KeyLayout,
    denial: Denial,
    lines: Vec<String>,
    hosts: HashSet<String>,
}

fn quote(text: &str) -> String {
    // Character-strings of at most 255 bytes, quoted and escaped.
    let mut out = String::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() || start == 0 {
        let mut end = (start + 255).min(bytes.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let chunk = &text[start..end];
        if !out.is_empty() {
            out.push(' ');
        }
        out.push('"');
        for c in chunk.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        if end == start {
            break;
        }
        start = end;
    }
    out
}

impl MailDomain {
    /// A signed mail domain with no records yet.
    pub fn new(domain: &str) -> Self {
        Self {
            domain: domain.trim_end_matches('.').to_ascii_lowercase(),
            signing: Signing::Signed,
            layout: KeyLayout::default(),
            denial: Denial::default(),
            lines: Vec::new(),
            hosts: HashSet::new(),
        }
    }

    /// A host name: `@`, a single label (relative), or dotted (absolute).
    fn host(&self, host: &str) -> String {
        if host == "@" {
            return "@".to_owned();
        }
        if host.contains('.') {
            format!("{}.", host.trim_end_matches('.'))
        } else {
            host.to_owned()
        }
    }

    /// An owner name in zone-file convention: relative unless it ends with a dot.
    fn owner(name: &str) -> String {
        name.to_owned()
    }

    /// How the domain is signed.
    pub fn signing(mut self, signing: Signing) -> Self {
        self.signing = signing;
        self
    }

    /// Which keys sign it (default: KSK+ZSK).
    pub fn key_layout(mut self, layout: KeyLayout) -> Self {
        self.layout = layout;
        self
    }

    /// NSEC or NSEC3 (default: NSEC).
    pub fn denial(mut self, denial: Denial) -> Self {
        self.denial = denial;
        self
    }

    /// An MX record, and the host's A/AAAA records (if the host is in this domain and has not
    /// been given addresses yet). An empty address list makes an MX host without addresses.
    pub fn mx(
        mut self,
        preference: u16,
        host: &str,
        addresses: impl IntoIterator<Item = IpAddr>,
    ) -> Self {
        let h = self.host(host);
        self.lines.push(format!("@ MX {preference} {h}"));
        let local = !host.contains('.')
            || host
                .trim_end_matches('.')
                .ends_with(&format!(".{}", self.domain));
        if local && self.hosts.insert(h.clone()) {
            for a in addresses {
                self.lines.push(address_line(&h, a));
            }
        }
        self
    }

    /// A null MX (RFC 7505).
    pub fn null_mx(mut self) -> Self {
        self.lines.push("@ MX 0 .".to_owned());
        self
    }

    /// A/AAAA records for a host (single label: relative; dotted: absolute).
    pub fn address(mut self, host: &str, addresses: impl IntoIterator<Item = IpAddr>) -> Self {
        let h = self.host(host);
        for a in addresses {
            self.lines.push(address_line(&h, a));
        }
        self
    }

    /// A TLSA record at `_<port>._tcp.<host>` (host as for [`mx`](Self::mx)), rdata as
    /// `usage selector matching hex`.
    pub fn tlsa(mut self, host: &str, port: u16, rdata: &str) -> Self {
        let h = self.host(host);
        let owner = if h == "@" {
            format!("_{port}._tcp")
        } else {
            format!("_{port}._tcp.{h}")
        };
        self.lines.push(format!("{owner} TLSA {rdata}"));
        self
    }

    /// A DANE-EE TLSA record (`3 1 1`: SHA-256 of the certificate's public key) for a lab
    /// certificate (DER), at `_<port>._tcp.<host>`.
    pub fn tlsa_for_certificate(
        self,
        host: &str,
        port: u16,
        certificate_der: &[u8],
    ) -> Result<Self, Error> {
        let (_, cert) = x509_parser::parse_x509_certificate(certificate_der)
            .map_err(|e| dns_err(format!("TLSA for {host}: certificate does not parse: {e}")))?;
        let digest =
            ring::digest::digest(&ring::digest::SHA256, cert.tbs_certificate.subject_pki.raw);
        let hex = data_encoding::HEXLOWER.encode(digest.as_ref());
        Ok(self.tlsa(host, port, &format!("3 1 1 {hex}")))
    }

    /// The MTA-STS TXT record `v=STSv1; id=<id>` at `_mta-sts`.
    pub fn mta_sts(self, id: &str) -> Self {
        self.txt("_mta-sts", &format!("v=STSv1; id={id}"))
    }

    /// The TLS-RPT record `v=TLSRPTv1; rua=<rua>` at `_smtp._tls`.
    pub fn tls_rpt(self, rua: &str) -> Self {
        self.txt("_smtp._tls", &format!("v=TLSRPTv1; rua={rua}"))
    }

    /// An SPF record (the whole text, `v=spf1 …`) at the domain.
    pub fn spf(self, text: &str) -> Self {
        self.txt("@", text)
    }

    /// A DMARC record (the whole text, `v=DMARC1; …`) at `_dmarc`.
    pub fn dmarc(self, text: &str) -> Self {
        self.txt("_dmarc", text)
    }

    /// A BIMI record (the whole text, `v=BIMI1; …`) at `default._bimi`.
    pub fn bimi(self, text: &str) -> Self {
        self.txt("default._bimi", text)
    }

    /// A DKIM key record (the whole text, `v=DKIM1; …`) at `<selector>._domainkey`.
    pub fn dkim(self, selector: &str, text: &str) -> Self {
        self.txt(&format!("{selector}._domainkey"), text)
    }

    /// A TXT record (split into 255-byte strings as needed); `name` in zone-file convention
    /// (relative unless it ends with a dot, `@` for the domain).
    pub fn txt(mut self, name: &str, text: &str) -> Self {
        let owner = Self::owner(name);
        self.lines.push(format!("{owner} TXT {}", quote(text)));
        self
    }

    /// A CNAME record: `name` in zone-file convention, `target` as a host (single label:
    /// relative; dotted: absolute).
    pub fn cname(mut self, name: &str, target: &str) -> Self {
        let owner = Self::owner(name);
        let t = self.host(target);
        self.lines.push(format!("{owner} CNAME {t}"));
        self
    }

    /// Any record, as a zone-file line.
    pub fn record(mut self, line: &str) -> Self {
        self.lines.push(line.to_owned());
        self
    }

    /// The zone this describes.
    pub fn to_zone(&self) -> Zone {
        Zone::new(&self.domain, self.signing, &self.lines.join("\n"))
            .key_layout(self.layout)
            .denial(self.denial)
    }
}

fn address_line(owner: &str, a: IpAddr) -> String {
    match a {
        IpAddr::V4(v4) => format!("{owner} A {v4}"),
        IpAddr::V6(v6) => format!("{owner} AAAA {v6}"),
    }
}

/// Describes the lab's zones; [`start`](Self::start) serves them, [`build`](Self::build) only
/// signs them (for a real server).
#[derive(Clone, Debug)]
pub struct DnsLabBuilder {
    zones: Vec<Zone>,
    now: Option<SystemTime>,
    reverse: bool,
    servfail: Vec<(String, RecordType)>,
    delays: Vec<(String, RecordType, Duration)>,
}

/// The running lab DNS server; it stops when dropped.
pub struct DnsLab {
    addr: SocketAddr,
    zones: LabZones,
    queries: Arc<AtomicUsize>,
    delayed: Arc<Delayed>,
    _server: Server<LabHandler>,
}

impl std::fmt::Debug for DnsLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsLab").field("addr", &self.addr).finish()
    }
}

/// A zone file of the lab, signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneFile {
    /// The origin, with its trailing dot (`.` for the root).
    pub origin: String,
    /// The records, one per line, in zone-file syntax.
    pub text: String,
}

/// The lab's zones, signed: the data a server serves and the trust anchor to validate it.
pub struct LabZones {
    handlers: Vec<(LowerName, Arc<InMemoryZoneHandler>)>,
    files: Vec<ZoneFile>,
    anchor: String,
    anchor_ds: String,
    servfail: HashSet<(LowerName, RecordType)>,
    delays: HashMap<(LowerName, RecordType), Duration>,
}

/// Questions for delayed names: how many came in, how many were answered.
#[derive(Debug, Default)]
struct Delayed {
    asked: AtomicUsize,
    answered: AtomicUsize,
}

impl std::fmt::Debug for LabZones {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabZones")
            .field(
                "zones",
                &self.files.iter().map(|z| &z.origin).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl LabZones {
    /// The root's key-signing key as a DNSKEY record in zone-file syntax: the trust anchor.
    pub fn trust_anchor(&self) -> &str {
        &self.anchor
    }

    /// The same anchor as a DS record (SHA-256).
    pub fn trust_anchor_ds(&self) -> &str {
        &self.anchor_ds
    }

    /// Every zone, signed, in zone-file syntax (root first).
    pub fn zone_files(&self) -> &[ZoneFile] {
        &self.files
    }

    /// Writes each zone to `<dir>/<origin>zone` (`root.zone` for the root) and returns the
    /// origins with their paths.
    pub fn write_zone_files(&self, dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
        let mut out = Vec::new();
        for z in &self.files {
            let file = if z.origin == "." {
                "root.zone".to_owned()
            } else {
                format!("{}zone", z.origin)
            };
            let path = dir.join(file);
            std::fs::write(&path, &z.text)?;
            out.push((z.origin.clone(), path));
        }
        Ok(out)
    }
}

impl DnsLab {
    /// A builder with no zones.
    pub fn builder() -> DnsLabBuilder {
        DnsLabBuilder {
            zones: Vec::new(),
            now: None,
            reverse: true,
            servfail: Vec::new(),
            delays: Vec::new(),
        }
    }

    /// A sample set of mail domains, for examples and the demo:
    ///
    /// - `example.test` (signed): MX 10 `mx1` (127.0.0.2), MX 20 `mx2` (127.0.0.3 and ::1),
    ///   TLSA on `mx1`, MTA-STS, TLS-RPT, SPF, DMARC, BIMI and a DKIM key (`mail`);
    /// - `insecure.test` (unsigned): MX 10 `mx` (127.0.0.4), SPF, DMARC `p=none`;
    /// - `bogus.test` (expired signatures): MX 10 `mx` (127.0.0.5);
    /// - `nullmx.test` (signed): a null MX.
    pub fn sample() -> DnsLabBuilder {
        Self::builder()
            .mail_domain(
                MailDomain::new("example.test")
                    .mx(10, "mx1", [IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))])
                    .mx(
                        20,
                        "mx2",
                        [
                            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)),
                            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
                        ],
                    )
                    .tlsa(
                        "mx1",
                        25,
                        "3 1 1 8bd1da95272f7fa4ffb24137fc0ed03aae67e5c4d8b3c50734e1050a7920b922",
                    )
                    .mta_sts("20240101T000000")
                    .tls_rpt("mailto:tls-reports@example.test")
                    .spf("v=spf1 mx -all")
                    .dmarc("v=DMARC1; p=reject; rua=mailto:dmarc@example.test")
                    .bimi(
                        "v=BIMI1; l=https://example.test/logo.svg; a=https://example.test/vmc.pem",
                    )
                    .dkim(
                        "mail",
                        "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
                    ),
            )
            .mail_domain(
                MailDomain::new("insecure.test")
                    .signing(Signing::Unsigned)
                    .mx(10, "mx", [IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4))])
                    .spf("v=spf1 mx ~all")
                    .dmarc("v=DMARC1; p=none"),
            )
            .mail_domain(
                MailDomain::new("bogus.test")
                    .signing(Signing::ExpiredSignatures)
                    .mx(10, "mx", [IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5))]),
            )
            .mail_domain(MailDomain::new("nullmx.test").null_mx())
    }

    /// The server's address (UDP and TCP on the same port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The trust anchor (root DNSKEY, zone-file syntax).
    pub fn trust_anchor(&self) -> &str {
        self.zones.trust_anchor()
    }

    /// The signed zones.
    pub fn zones(&self) -> &LabZones {
        &self.zones
    }

    /// How many requests the server has received.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::Relaxed)
    }

    /// How many questions for delayed names ([`DnsLabBuilder::delay`]) came in, and how many of
    /// them have been answered.
    pub fn delayed(&self) -> (usize, usize) {
        (
            self.delayed.asked.load(Ordering::Relaxed),
            self.delayed.answered.load(Ordering::Relaxed),
        )
    }
}

impl DnsLabBuilder {
    /// Adds a zone.
    pub fn zone(mut self, origin: &str, signing: Signing, records: &str) -> Self {
        self.zones.push(Zone::new(origin, signing, records));
        self
    }

    /// Adds a described zone.
    pub fn add_zone(mut self, zone: Zone) -> Self {
        self.zones.push(zone);
        self
    }

    /// Adds a mail domain.
    pub fn mail_domain(self, domain: MailDomain) -> Self {
        self.add_zone(domain.to_zone())
    }

    /// Signs as of this time (default: the time `build`/`start` is called).
    pub fn now(mut self, now: SystemTime) -> Self {
        self.now = Some(now);
        self
    }

    /// Whether to add PTR records for every A/AAAA record (default: yes), in signed zones
    /// `in-addr.arpa` and `ip6.arpa`, pointing at the first name with that address.
    pub fn reverse_dns(mut self, on: bool) -> Self {
        self.reverse = on;
        self
    }

    /// Answers SERVFAIL to this question (name absolute, with or without the trailing dot).
    pub fn servfail(mut self, name: &str, record_type: &str) -> Self {
        let rtype = record_type.parse::<RecordType>().unwrap_or(RecordType::ANY);
        self.servfail.push((name.to_owned(), rtype));
        self
    }

    /// Answers the question (name absolute, with or without the trailing dot; type `ANY`
    /// for every type) only after `wait`: a slow server, or a slow zone behind a resolver.
    /// Other questions are answered at once meanwhile.
    pub fn delay(mut self, name: &str, record_type: &str, wait: Duration) -> Self {
        let rtype = record_type.parse::<RecordType>().unwrap_or(RecordType::ANY);
        self.delays.push((name.to_owned(), rtype, wait));
        self
    }

    /// Signs the zones without serving them.
    pub fn build(self) -> Result<LabZones, Error> {
        build(self)
    }

    /// Signs the zones and serves them on 127.0.0.1, an ephemeral port, UDP and TCP.
    pub async fn start(self) -> Result<DnsLab, Error> {
        let zones = build(self)?;
        let (udp, tcp, addr) = bind_pair().await?;
        let queries = Arc::new(AtomicUsize::new(0));
        let delayed = Arc::new(Delayed::default());
        let mut handler = LabHandler::new(&zones, Arc::clone(&queries));
        handler.delayed = Arc::clone(&delayed);
        let mut server = Server::new(handler);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(10), 64 * 1024);
        Ok(DnsLab {
            addr,
            zones,
            queries,
            delayed,
            _server: server,
        })
    }
}

fn dns_err(what: impl std::fmt::Display) -> Error {
    Error::DnsLab {
        reason: what.to_string(),
    }
}

fn name(s: &str) -> Result<Name, Error> {
    let fqdn = if s == "." || s.ends_with('.') {
        s.to_owned()
    } else {
        format!("{s}.")
    };
    Name::from_ascii(&fqdn).map_err(|e| dns_err(format!("{s}: {e}")))
}

struct Key {
    pkcs8: Vec<u8>,
}

impl Key {
    fn generate() -> Result<Self, Error> {
        let der = Ed25519SigningKey::generate_pkcs8().map_err(dns_err)?;
        Ok(Self {
            pkcs8: der.secret_pkcs8_der().to_vec(),
        })
    }

    fn signing_key(&self) -> Result<Ed25519SigningKey, Error> {
        Ed25519SigningKey::from_pkcs8(&PrivatePkcs8KeyDer::from(self.pkcs8.clone()))
            .map_err(dns_err)
    }

    fn dnskey(&self) -> Result<DNSKEY, Error> {
        let public = self.signing_key()?.to_public_key().map_err(dns_err)?;
        Ok(DNSKEY::from_key(&public))
    }

    /// The key as a zone-signing key (flags 256).
    fn zsk_dnskey(&self) -> Result<DNSKEY, Error> {
        let public = self.signing_key()?.to_public_key().map_err(dns_err)?;
        Ok(DNSKEY::new(
            true,
            false,
            false,
            PublicKeyBuf::new(public.public_bytes().to_vec(), public.algorithm()),
        ))
    }

    fn signer(&self, zone: &Name, duration: Duration) -> Result<DnssecSigner, Error> {
        Ok(DnssecSigner::new(
            self.dnskey()?,
            Box::new(self.signing_key()?),
            zone.clone(),
            duration,
        ))
    }

    fn zsk_signer(&self, zone: &Name, duration: Duration) -> Result<DnssecSigner, Error> {
        Ok(DnssecSigner::new(
            self.zsk_dnskey()?,
            Box::new(self.signing_key()?),
            zone.clone(),
            duration,
        ))
    }

    fn ds(&self, zone: &Name) -> Result<DS, Error> {
        let public = self.signing_key()?.to_public_key().map_err(dns_err)?;
        DS::from_key(&public, zone, DigestType::SHA256).map_err(dns_err)
    }
}

/// How long lab signatures last, and how far back they start (clock skew).
const SIG_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);
const SIG_SKEW: Duration = Duration::from_secs(3600);
/// The broken variant: signed 30 days ago for 7 days.
const EXPIRED_AGO: Duration = Duration::from_secs(30 * 24 * 3600);
const EXPIRED_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

struct Plan {
    origin: Name,
    signing: Signing,
    records: BTreeMap<RrKey, RecordSet>,
    /// The KSK (or the CSK).
    key: Option<Key>,
    /// The ZSK, in the KSK+ZSK layout.
    zsk: Option<Key>,
    denial: Denial,
    parent: Option<usize>,
}

fn parse_zone(origin: &Name, text: &str) -> Result<BTreeMap<RrKey, RecordSet>, Error> {
    let full = format!("$TTL 300\n{text}\n");
    let (_, records) = Parser::new(full, None, Some(origin.clone()))
        .parse()
        .map_err(|e| dns_err(format!("zone {origin}: {e}")))?;
    Ok(records)
}

fn add(records: &mut BTreeMap<RrKey, RecordSet>, record: Record) {
    let key = RrKey::new(LowerName::from(&record.name), record.record_type());
    records
        .entry(key)
        .or_insert_with(|| RecordSet::new(record.name.clone(), record.record_type(), 0))
        .insert(record, 0);
}

fn build(spec: DnsLabBuilder) -> Result<LabZones, Error> {
    let now = spec.now.unwrap_or_else(SystemTime::now);
    let ns_name = name("ns.lab")?;
    let mut plans: Vec<Plan> = Vec::new();
    plans.push(Plan {
        origin: Name::root(),
        signing: Signing::Signed,
        records: BTreeMap::new(),
        key: Some(Key::generate()?),
        zsk: Some(Key::generate()?),
        denial: Denial::Nsec,
        parent: None,
    });
    let mut seen = HashSet::new();
    for z in &spec.zones {
        if z.origin.is_empty() || z.origin == "." {
            return Err(dns_err("the lab serves the root zone itself"));
        }
        if !seen.insert(z.origin.clone()) {
            return Err(dns_err(format!("zone {} given twice", z.origin)));
        }
        let origin = name(&z.origin)?;
        let records = parse_zone(&origin, &z.text)?;
        let signed = z.signing.signed();
        plans.push(Plan {
            key: if signed { Some(Key::generate()?) } else { None },
            zsk: if signed && z.layout == KeyLayout::KskZsk {
                Some(Key::generate()?)
            } else {
                None
            },
            denial: z.denial,
            origin,
            signing: z.signing,
            records,
            parent: None,
        });
    }
    if spec.reverse {
        add_reverse_zones(&mut plans)?;
    }
    // Parents: the closest enclosing zone served.
    for i in 1..plans.len() {
        let origin = plans[i].origin.clone();
        let parent = (0..plans.len())
            .filter(|&j| j != i && plans[j].origin.zone_of(&origin) && plans[j].origin != origin)
            .max_by_key(|&j| plans[j].origin.num_labels());
        plans[i].parent = parent;
    }
    // SOA and NS everywhere; ns.lab. in the root.
    for p in &mut plans {
        let apex_soa = RrKey::new(LowerName::from(&p.origin), RecordType::SOA);
        if !p.records.contains_key(&apex_soa) {
            let soa = SOA::new(
                ns_name.clone(),
                name("hostmaster.lab")?,
                1,
                3600,
                600,
                86400,
                300,
            );
            add(
                &mut p.records,
                Record::from_rdata(p.origin.clone(), 300, RData::SOA(soa)),
            );
        }
        let apex_ns = RrKey::new(LowerName::from(&p.origin), RecordType::NS);
        if !p.records.contains_key(&apex_ns) {
            add(
                &mut p.records,
                Record::from_rdata(p.origin.clone(), 300, RData::NS(NS(ns_name.clone()))),
            );
        }
    }
    add(
        &mut plans[0].records,
        Record::from_rdata(ns_name.clone(), 300, RData::A(A(Ipv4Addr::LOCALHOST))),
    );
    // Delegations: NS (and DS) in the parent.
    let mut withdrawn: Vec<(usize, Name)> = Vec::new();
    for i in 1..plans.len() {
        let parent = plans[i].parent.unwrap_or(0);
        let origin = plans[i].origin.clone();
        let ds = match (plans[i].signing, &plans[i].key) {
            (Signing::Unsigned, _) | (_, None) => None,
            (Signing::WrongKey, Some(_)) => Some(Key::generate()?.ds(&origin)?),
            (Signing::MissingDs, Some(k)) => {
                withdrawn.push((parent, origin.clone()));
                Some(k.ds(&origin)?)
            }
            (_, Some(k)) => Some(k.ds(&origin)?),
        };
        let p = &mut plans[parent].records;
        add(
            p,
            Record::from_rdata(origin.clone(), 300, RData::NS(NS(ns_name.clone()))),
        );
        if let Some(ds) = ds {
            add(
                p,
                Record::from_rdata(origin.clone(), 300, RData::DNSSEC(DNSSECRData::DS(ds))),
            );
        }
    }
    // Sign, re-sign with the lab's times, export.
    let mut built: Vec<(LowerName, InMemoryZoneHandler)> = Vec::new();
    for p in plans.iter_mut() {
        let records = std::mem::take(&mut p.records);
        let signed = p.signing.signed() && p.key.is_some();
        let proof_kind = match p.denial {
            Denial::Nsec => NxProofKind::Nsec,
            Denial::Nsec3 {
                iterations,
                opt_out,
            } => NxProofKind::Nsec3 {
                algorithm: Nsec3HashAlgorithm::SHA1,
                salt: Arc::from(Vec::new()),
                iterations,
                opt_out,
            },
        };
        let mut handler = InMemoryZoneHandler::new(
            p.origin.clone(),
            records,
            ZoneType::Primary,
            AxfrPolicy::Deny,
            signed.then_some(proof_kind),
        )
        .map_err(dns_err)?;
        if let (true, Some(key)) = (signed, &p.key) {
            handler
                .add_zone_signing_key_mut(key.signer(&p.origin, SIG_DURATION)?)
                .map_err(dns_err)?;
            handler.secure_zone_mut().map_err(dns_err)?;
            let (inception, duration) = match p.signing {
                Signing::ExpiredSignatures => (now - EXPIRED_AGO, EXPIRED_DURATION),
                _ => (now - SIG_SKEW, SIG_DURATION),
            };
            let ksk = key.signer(&p.origin, duration)?;
            let zsk = match &p.zsk {
                Some(z) => {
                    add_zsk(handler.records_get_mut(), &p.origin, z.zsk_dnskey()?);
                    Some(z.zsk_signer(&p.origin, duration)?)
                }
                None => None,
            };
            resign(
                handler.records_get_mut(),
                &p.origin,
                &ksk,
                zsk.as_ref(),
                inception,
            )?;
        }
        built.push((LowerName::from(&p.origin), handler));
    }
    for (parent, child) in withdrawn {
        if let Some((_, h)) = built.get_mut(parent) {
            h.records_get_mut()
                .remove(&RrKey::new(LowerName::from(&child), RecordType::DS));
        }
    }
    let mut files = Vec::new();
    for (origin, h) in &mut built {
        files.push(ZoneFile {
            origin: origin.to_string(),
            text: zone_text(h.records_get_mut()),
        });
    }
    let root_key = plans[0]
        .key
        .as_ref()
        .ok_or_else(|| dns_err("root key missing"))?;
    let dnskey = root_key.dnskey()?;
    let anchor = format!(
        ". 3600 IN DNSKEY {} 3 {} {}",
        dnskey.flags(),
        u8::from(dnskey.public_key().algorithm()),
        <base64ct::Base64 as base64ct::Encoding>::encode_string(dnskey.public_key().public_bytes()),
    );
    let ds = root_key.ds(&Name::root())?;
    let digest = data_encoding::HEXUPPER.encode(ds.digest());
    let anchor_ds = format!(
        ". 3600 IN DS {} {} {} {digest}",
        ds.key_tag(),
        u8::from(ds.algorithm()),
        u8::from(ds.digest_type())
    );
    let mut servfail = HashSet::new();
    for (n, t) in &spec.servfail {
        servfail.insert((LowerName::from(&name(n)?), *t));
    }
    let mut delays = HashMap::new();
    for (n, t, wait) in &spec.delays {
        delays.insert((LowerName::from(&name(n)?), *t), *wait);
    }
    Ok(LabZones {
        handlers: built.into_iter().map(|(n, h)| (n, Arc::new(h))).collect(),
        files,
        anchor,
        anchor_ds,
        servfail,
        delays,
    })
}

/// PTR records for every address, in `in-addr.arpa` and `ip6.arpa`.
fn add_reverse_zones(plans: &mut Vec<Plan>) -> Result<(), Error> {
    let v4_zone = name("in-addr.arpa")?;
    let v6_zone = name("ip6.arpa")?;
    let user_reverse = |zone: &Name| {
        plans
            .iter()
            .any(|p| !p.origin.is_root() && (p.origin.zone_of(zone) || zone.zone_of(&p.origin)))
    };
    let (skip_v4, skip_v6) = (user_reverse(&v4_zone), user_reverse(&v6_zone));
    let mut ptrs: BTreeMap<IpAddr, Name> = BTreeMap::new();
    for p in plans.iter() {
        for (key, rrset) in &p.records {
            if !matches!(key.record_type, RecordType::A | RecordType::AAAA) {
                continue;
            }
            for r in rrset.records_without_rrsigs() {
                let ip = match &r.data {
                    RData::A(a) => IpAddr::V4(a.0),
                    RData::AAAA(a) => IpAddr::V6(a.0),
                    _ => continue,
                };
                ptrs.entry(ip).or_insert_with(|| r.name.clone());
            }
        }
    }
    let mut v4 = BTreeMap::new();
    let mut v6 = BTreeMap::new();
    for (ip, host) in ptrs {
        let owner = name(&reverse_name(ip))?;
        let rec = Record::from_rdata(owner, 300, RData::PTR(PTR(host)));
        match ip {
            IpAddr::V4(_) => add(&mut v4, rec),
            IpAddr::V6(_) => add(&mut v6, rec),
        }
    }
    for (origin, records, skip) in [(v4_zone, v4, skip_v4), (v6_zone, v6, skip_v6)] {
        if records.is_empty() || skip {
            continue;
        }
        plans.push(Plan {
            origin,
            signing: Signing::Signed,
            records,
            key: Some(Key::generate()?),
            zsk: Some(Key::generate()?),
            denial: Denial::Nsec,
            parent: None,
        });
    }
    Ok(())
}

fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::new();
            for b in v6.octets().iter().rev() {
                let _ = write!(s, "{:x}.{:x}.", b & 0x0f, b >> 4);
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

/// Adds a zone-signing key (flags 256) to the apex DNSKEY set.
fn add_zsk(records: &mut BTreeMap<RrKey, Arc<RecordSet>>, origin: &Name, zsk: DNSKEY) {
    let key = RrKey::new(LowerName::from(origin), RecordType::DNSKEY);
    if let Some(set) = records.get_mut(&key) {
        let ttl = set.ttl();
        Arc::make_mut(set).insert(
            Record::from_rdata(origin.clone(), ttl, RData::DNSSEC(DNSSECRData::DNSKEY(zsk))),
            0,
        );
    }
}

/// Re-signs every authoritative RRset of a zone with the lab's inception time (hickory signs at
/// the moment it is asked): the DNSKEY set with the KSK, everything else with the ZSK when there
/// is one (with the KSK otherwise); delegation NS and names below a zone cut stay unsigned.
fn resign(
    records: &mut BTreeMap<RrKey, Arc<RecordSet>>,
    origin: &Name,
    ksk: &DnssecSigner,
    zsk: Option<&DnssecSigner>,
    inception: SystemTime,
) -> Result<(), Error> {
    let since = inception
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| dns_err("signing time before 1970"))?;
    let inception = OffsetDateTime::from_unix_timestamp(
        i64::try_from(since.as_secs()).map_err(|_| dns_err("signing time out of range"))?,
    )
    .map_err(dns_err)?;
    let cuts: Vec<Name> = records
        .keys()
        .filter(|k| k.record_type == RecordType::NS && Name::from(k.name.clone()) != *origin)
        .map(|k| Name::from(k.name.clone()))
        .collect();
    for (key, rrset) in records.iter_mut() {
        let owner = Name::from(key.name.clone());
        let rrset = Arc::make_mut(rrset);
        rrset.clear_rrsigs();
        let delegation_ns = key.record_type == RecordType::NS && cuts.contains(&owner);
        let below_cut = cuts.iter().any(|c| c.zone_of(&owner) && *c != owner);
        if delegation_ns || below_cut || key.record_type == RecordType::RRSIG {
            continue;
        }
        let signer = match (key.record_type, zsk) {
            (RecordType::DNSKEY, _) | (_, None) => ksk,
            (_, Some(z)) => z,
        };
        let rrsig = RRSIG::from_rrset(rrset, DNSClass::IN, inception, signer).map_err(dns_err)?;
        let ttl = rrset.ttl();
        rrset.insert_rrsig(Record::from_rdata(
            owner,
            ttl,
            RData::DNSSEC(DNSSECRData::RRSIG(rrsig)),
        ));
    }
    Ok(())
}

fn zone_text(records: &BTreeMap<RrKey, Arc<RecordSet>>) -> String {
    let mut out = String::new();
    // SOA first, as zone files expect.
    let mut sets: Vec<&Arc<RecordSet>> = records.values().collect();
    sets.sort_by_key(|s| s.record_type() != RecordType::SOA);
    for set in sets {
        for r in set.records_without_rrsigs().chain(set.rrsigs()) {
            match &r.data {
                RData::TXT(txt) => {
                    let _ = write!(out, "{} {} IN TXT", r.name, r.ttl);
                    for s in txt.txt_data.iter() {
                        out.push_str(" \"");
                        for &b in s.iter() {
                            match b {
                                b'"' | b'\\' => {
                                    out.push('\\');
                                    out.push(char::from(b));
                                }
                                0x20..=0x7e => out.push(char::from(b)),
                                _ => {
                                    let _ = write!(out, "\\{b:03}");
                                }
                            }
                        }
                        out.push('"');
                    }
                    out.push('\n');
                }
                _ => {
                    let _ = writeln!(out, "{r}");
                }
            }
        }
    }
    out
}

/// Routes DS questions for a zone apex to its parent, answers SERVFAIL where asked, counts
/// requests, and hands everything else to the catalog of all zones.
struct LabHandler {
    main: Catalog,
    parents: HashMap<LowerName, Catalog>,
    servfail: HashSet<(LowerName, RecordType)>,
    delays: HashMap<(LowerName, RecordType), Duration>,
    delayed: Arc<Delayed>,
    queries: Arc<AtomicUsize>,
}

impl LabHandler {
    fn new(zones: &LabZones, queries: Arc<AtomicUsize>) -> Self {
        let catalog = |skip: Option<&LowerName>| {
            let mut c = Catalog::new();
            for (n, h) in &zones.handlers {
                if Some(n) != skip {
                    c.upsert(n.clone(), vec![Arc::clone(h) as Arc<dyn ZoneHandler>]);
                }
            }
            c
        };
        let parents = zones
            .handlers
            .iter()
            .filter(|(n, _)| !n.is_root())
            .map(|(n, _)| (n.clone(), catalog(Some(n))))
            .collect();
        Self {
            main: catalog(None),
            parents,
            servfail: zones.servfail.clone(),
            delays: zones.delays.clone(),
            delayed: Arc::default(),
            queries,
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for LabHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        self.queries.fetch_add(1, Ordering::Relaxed);
        if let Ok(info) = request.request_info() {
            let qname = info.query.name().clone();
            let qtype = info.query.query_type();
            if let Some(wait) = self
                .delays
                .get(&(qname.clone(), qtype))
                .or_else(|| self.delays.get(&(qname.clone(), RecordType::ANY)))
            {
                self.delayed.asked.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(*wait).await;
                self.delayed.answered.fetch_add(1, Ordering::Relaxed);
            }
            if self.servfail.contains(&(qname.clone(), qtype))
                || self.servfail.contains(&(qname.clone(), RecordType::ANY))
            {
                let response = MessageResponseBuilder::new(&request.queries, None)
                    .error_msg(&request.metadata, ResponseCode::ServFail);
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                return match response_handle.send_response(response).await {
                    Ok(info) => info,
                    Err(_) => ResponseInfo::from(Header {
                        metadata,
                        counts: HeaderCounts::default(),
                    }),
                };
            }
            if qtype == RecordType::DS
                && let Some(parent) = self.parents.get(&qname)
            {
                return parent
                    .handle_request::<R, T>(request, response_handle)
                    .await;
            }
        }
        self.main
            .handle_request::<R, T>(request, response_handle)
            .await
    }
}

/// A DNS server that never answers: a bound UDP socket nobody reads and a TCP listener that
/// accepts and stays silent. For timeout tests. Stops when dropped.
pub struct SilentDns {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    _udp: UdpSocket,
}

/// A UDP socket and a TCP listener on the same ephemeral port of 127.0.0.1. The port is the
/// UDP one, free for TCP only most of the time (another test's listener may hold it): a few
/// tries with fresh ports.
async fn bind_pair() -> std::io::Result<(UdpSocket, TcpListener, std::net::SocketAddr)> {
    let mut last = None;
    for _ in 0..16 {
        let udp = UdpSocket::bind("127.0.0.1:0").await?;
        let addr = udp.local_addr()?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp, addr)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no port free for both UDP and TCP")))
}

impl SilentDns {
    /// Binds 127.0.0.1 on an ephemeral port.
    pub async fn start() -> Result<Self, Error> {
        let (udp, tcp, addr) = bind_pair().await?;
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            // Accept and hold connections (bounded) without ever answering.
            while let Ok((stream, _)) = tcp.accept().await {
                if held.len() < 64 {
                    held.push(stream);
                }
            }
        });
        Ok(Self {
            addr,
            task,
            _udp: udp,
        })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for SilentDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for SilentDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SilentDns")
            .field("addr", &self.addr)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlsa_from_a_lab_certificate() {
        let pki = crate::pki::Pki::generate(SystemTime::now()).expect("pki");
        let leaf = pki.valid("mx.example.test").expect("leaf");
        let cert = leaf.chain.first().expect("leaf certificate");
        let d = MailDomain::new("example.test")
            .tlsa_for_certificate("mx", 25, cert.as_ref())
            .expect("parses");
        let line = d.to_zone().text;
        assert!(line.starts_with("_25._tcp.mx TLSA 3 1 1 "), "{line}");
        assert_eq!(line.len(), "_25._tcp.mx TLSA 3 1 1 ".len() + 64);
        assert!(
            MailDomain::new("x.test")
                .tlsa_for_certificate("mx", 25, b"junk")
                .is_err()
        );
    }

    #[test]
    fn ksk_zsk_layout_and_nsec3() {
        let zones = DnsLab::builder()
            .mail_domain(MailDomain::new("kz.test").mx(
                10,
                "mx",
                ["127.0.0.2".parse().expect("ip")],
            ))
            .mail_domain(
                MailDomain::new("n3.test")
                    .key_layout(KeyLayout::Csk)
                    .denial(Denial::Nsec3 {
                        iterations: 0,
                        opt_out: false,
                    })
                    .mx(10, "mx", ["127.0.0.3".parse().expect("ip")]),
            )
            .reverse_dns(false)
            .build()
            .expect("builds");
        let file = |origin: &str| {
            zones
                .zone_files()
                .iter()
                .find(|z| z.origin == origin)
                .map(|z| z.text.clone())
                .expect("zone")
        };
        // Key tags by flags, and which key signs what.
        let tags = |text: &str, flags: &str| -> Vec<u16> {
            text.lines()
                .filter(|l| l.contains(&format!(" DNSKEY {flags} 3 ")))
                .map(|l| {
                    let rdata = l.split(" DNSKEY ").nth(1).expect("rdata");
                    let f: Vec<&str> = rdata.split_whitespace().collect();
                    let key = PublicKeyBuf::new(
                        <base64ct::Base64 as base64ct::Encoding>::decode_vec(f[3]).expect("b64"),
                        hickory_proto::dnssec::Algorithm::ED25519,
                    );
                    DNSKEY::new(true, flags == "257", false, key)
                        .calculate_key_tag()
                        .expect("tag")
                })
                .collect()
        };
        let signer_of = |text: &str, covered: &str| -> Vec<u16> {
            text.lines()
                .filter(|l| l.contains(&format!(" RRSIG {covered} ")))
                .filter_map(|l| l.split_whitespace().nth(10).and_then(|t| t.parse().ok()))
                .collect()
        };
        for origin in [".", "kz.test."] {
            let text = file(origin);
            let (ksk, zsk) = (tags(&text, "257"), tags(&text, "256"));
            assert_eq!((ksk.len(), zsk.len()), (1, 1), "{origin}: {text}");
            assert_eq!(
                signer_of(&text, "DNSKEY"),
                ksk,
                "{origin}: the KSK signs the keys"
            );
            assert_eq!(
                signer_of(&text, "SOA"),
                zsk,
                "{origin}: the ZSK signs the data"
            );
        }
        let n3 = file("n3.test.");
        assert!(n3.contains(" NSEC3 1 0 0 - "), "{n3}");
        assert!(!n3.contains(" IN NSEC "), "{n3}");
        assert_eq!(tags(&n3, "256").len(), 0, "a CSK only");
        assert_eq!(signer_of(&n3, "MX"), tags(&n3, "257"));
    }

    #[test]
    fn zone_files_quote_txt_and_sign_authoritative_data_only() {
        let zones = DnsLab::builder()
            .mail_domain(
                MailDomain::new("a.test")
                    .mx(10, "mx", ["127.0.0.2".parse().expect("ip")])
                    .txt("q", "say \"hi\"; back\\slash")
                    .txt("long", &"x".repeat(300)),
            )
            .mail_domain(MailDomain::new("b.a.test").signing(Signing::Unsigned))
            .build()
            .expect("builds");
        let a = zones
            .zone_files()
            .iter()
            .find(|z| z.origin == "a.test.")
            .expect("zone a.test");
        assert!(
            a.text
                .contains(r#"q.a.test. 300 IN TXT "say \"hi\"; back\\slash""#),
            "{}",
            a.text
        );
        // 300 bytes are split into two character-strings.
        assert!(
            a.text
                .contains(&format!("\"{}\" \"{}\"", "x".repeat(255), "x".repeat(45)))
        );
        // The delegation to b.a.test: NS unsigned, no DS (b is unsigned), NSEC signed.
        assert!(a.text.contains("b.a.test. 300 IN NS ns.lab."));
        assert!(!a.text.contains("RRSIG NS ED25519 3"), "{}", a.text);
        assert!(!a.text.contains("b.a.test. 300 IN DS"));
        let root = &zones.zone_files()[0];
        assert_eq!(root.origin, ".");
        assert!(root.text.contains("a.test. 300 IN DS "));
        assert!(
            !root.text.contains("b.a.test."),
            "b.a.test is delegated from a.test, not the root"
        );
        assert!(
            zones
                .trust_anchor()
                .starts_with(". 3600 IN DNSKEY 257 3 15 ")
        );
        assert!(zones.trust_anchor_ds().starts_with(". 3600 IN DS "));
    }
}
