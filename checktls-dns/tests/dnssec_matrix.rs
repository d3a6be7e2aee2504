//! The DNSSEC matrix of `DNSSEC.md`, against Unbound and `delv`: every zone built with real
//! signers into a temporary directory (Knot's automatic signing with `keymgr` keys; BIND's
//! `dnssec-keygen`/`dnssec-signzone` where Knot cannot make the scenario), served by ONE Knot,
//! validated by ONE Unbound (forwarding to Knot) and by `delv`, and by our resolver; the three
//! verdicts must equal the table's. A small UDP relay in front of Knot drops the DNSKEY questions
//! of `down.test` (a server that stops answering).
//!
//! Run as root (CI does): `cargo test -p checktls-dns --test dnssec_matrix -- --ignored`.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use checktls_dns::discovery::{DaneVerdict, IpChoice};
use checktls_dns::resolver::{Dnssec, Nameservers, Resolver, ResolverOptions};
use checktls_dns::{Answer, DomainName, Proof, TrustAnchors};
use hickory_proto::dnssec::rdata::DS;
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKeyBuf};
use hickory_proto::rr::Name;

/// Removes the directory when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("checktls-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("CHECKTLS_KEEP_MATRIX").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A daemon we started; killed by PID when dropped.
struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(name: &'static str, binary: &Path, args: &[&str], log: PathBuf) -> Self {
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        Self { name, child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status}):\n{}", self.name, self.log());
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A binary at its Debian location or on PATH; a missing one fails the test.
fn binary(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!(
        "{name} not found: install the Debian packages knot, knot-dnsutils, unbound, bind9-utils and bind9-dnsutils (.ci/run does)"
    );
}

/// Runs a tool in `dir`; its standard output, or the test fails with its error output.
fn run(dir: &Path, tool: &str, args: &[&str]) -> String {
    let out = Command::new(binary(tool))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An ephemeral loopback port free for both UDP and TCP at the time of asking.
fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
        let port = udp.local_addr().expect("local addr").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port for UDP and TCP");
}

/// A query in wire form (DO bit, RD bit).
fn query_bytes(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1]);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        q.push(u8::try_from(label.len()).expect("label"));
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1, 0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
    q
}

/// The answer count of a UDP query, if the server answered.
fn answer_count(server: SocketAddr, name: &str, qtype: u16) -> Option<u16> {
    let socket = UdpSocket::bind("127.0.0.1:0").ok()?;
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    socket
        .send_to(&query_bytes(0x4a5b, name, qtype), server)
        .ok()?;
    let mut buf = [0u8; 4096];
    let (n, _) = socket.recv_from(&mut buf).ok()?;
    let b = buf.get(..n)?;
    Some(u16::from_be_bytes([*b.get(6)?, *b.get(7)?]))
}

/// The question of a query: lower-case name (no trailing dot) and type.
fn question(packet: &[u8]) -> Option<(String, u16)> {
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*packet.get(i)?);
        i += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(packet.get(i..i + len)?).to_ascii_lowercase());
        i += len;
    }
    let t = u16::from_be_bytes([*packet.get(i)?, *packet.get(i + 1)?]);
    Some((labels.join("."), t))
}

/// A UDP relay to `upstream` that drops DNSKEY questions for names at or under `silent`.
struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Relay {
    fn start(upstream: SocketAddr, silent: &'static str) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind relay");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let addr = socket.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let packet = buf[..n].to_vec();
                if let Some((name, 48)) = question(&packet)
                    && (name == silent || name.ends_with(&format!(".{silent}")))
                {
                    continue;
                }
                let Ok(reply_to) = socket.try_clone() else {
                    continue;
                };
                std::thread::spawn(move || {
                    let Ok(up) = UdpSocket::bind("127.0.0.1:0") else {
                        return;
                    };
                    let _ = up.set_read_timeout(Some(Duration::from_secs(3)));
                    if up.send_to(&packet, upstream).is_err() {
                        return;
                    }
                    let mut answer = [0u8; 4096];
                    if let Ok((m, _)) = up.recv_from(&mut answer) {
                        let _ = reply_to.send_to(&answer[..m], from);
                    }
                });
            }
        });
        Self { addr, stop }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Secure,
    Insecure,
    Bogus,
    Indeterminate,
}

impl Verdict {
    fn parse(s: &str) -> Self {
        match s {
            "secure" => Self::Secure,
            "insecure" => Self::Insecure,
            "bogus" => Self::Bogus,
            "indeterminate" => Self::Indeterminate,
            other => panic!("DNSSEC.md: unknown verdict {other:?}"),
        }
    }
}

/// One row of the table in DNSSEC.md.
#[derive(Debug)]
struct Row {
    number: usize,
    scenario: String,
    name: String,
    qtype: String,
    expected: Verdict,
    reason: Option<String>,
}

/// The "Known divergences" of DNSSEC.md: (row, oracle, the oracle's verdict).
fn divergences() -> Vec<(usize, String, Verdict)> {
    let text = include_str!("../DNSSEC.md");
    let Some((_, section)) = text.split_once("## Known divergences") else {
        return Vec::new();
    };
    section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let number = cells.get(1)?.parse::<usize>().ok()?;
            Some((
                number,
                cells.get(2)?.to_string(),
                Verdict::parse(cells.get(3)?),
            ))
        })
        .collect()
}

fn table() -> Vec<Row> {
    let text = include_str!("../DNSSEC.md");
    let text = text.split("## Known divergences").next().unwrap_or(text);
    let mut rows = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "", number, scenario, question, signer, expected, reason, rfc, ""
        if cells.len() != 9 {
            continue;
        }
        let Ok(number) = cells[1].parse::<usize>() else {
            continue;
        };
        let q = cells[3].trim_matches('`');
        let (name, qtype) = q.split_once(' ').expect("question NAME TYPE");
        let reason = cells[6].trim_matches('`');
        rows.push(Row {
            number,
            scenario: cells[2].to_owned(),
            name: name.to_owned(),
            qtype: qtype.to_owned(),
            expected: Verdict::parse(cells[5]),
            reason: (!reason.is_empty()).then(|| reason.to_owned()),
        });
    }
    rows
}

const MAIL: &str = "@ MX 10 mx\nmx A 127.0.0.25\n\
    _25._tcp.mx TLSA 3 1 1 8bd1da95272f7fa4ffb24137fc0ed03aae67e5c4d8b3c50734e1050a7920b922\n\
    @ TXT \"v=spf1 mx -all\"\n*.wild TXT \"wildcard\"\n";

fn zone_text(origin: &str, body: &str) -> String {
    let o = if origin == "." {
        ".".to_owned()
    } else {
        format!("{origin}.")
    };
    format!(
        "$ORIGIN {o}\n$TTL 300\n@ SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n@ NS ns.test.\n{body}"
    )
}

/// A zone Knot signs itself, with keys `keymgr` makes beforehand (so the parent's DS is known).
struct KnotZone {
    origin: &'static str,
    policy: &'static str,
    /// keymgr generate arguments, one key each.
    keys: &'static [&'static str],
    body: String,
}

/// A zone signed beforehand (dnssec-signzone or by hand) or unsigned: Knot serves the file.
struct FileZone {
    origin: &'static str,
    text: String,
}

struct Build {
    dir: PathBuf,
    knot: Vec<KnotZone>,
    files: Vec<FileZone>,
    /// DS lines per child zone, for its parent.
    ds: Vec<(String, String)>,
}

impl Build {
    fn keygen(&self, zone: &str, args: &[&str]) -> String {
        let mut a = vec!["-q", "-K", "keys", "-n", "ZONE"];
        a.extend_from_slice(args);
        a.push(zone);
        run(&self.dir, "dnssec-keygen", &a).trim().to_owned()
    }

    fn dnskey(&self, key: &str) -> String {
        std::fs::read_to_string(self.dir.join("keys").join(format!("{key}.key")))
            .expect("key file")
            .lines()
            .filter(|l| !l.starts_with(';'))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn ds_of(&self, key: &str) -> String {
        run(
            &self.dir,
            "dnssec-dsfromkey",
            &["-2", &format!("keys/{key}.key")],
        )
        .trim()
        .to_owned()
    }

    /// Signs with dnssec-signzone (no verification after signing: some zones are broken on
    /// purpose); the signed text.
    fn sign(&self, zone: &str, text: &str, keys: &[&str], extra: &[&str]) -> String {
        let input = self.dir.join(format!("{zone}.unsigned"));
        let output = self.dir.join(format!("{zone}.signed"));
        std::fs::write(&input, text).expect("write zone");
        let mut a = vec!["-q", "-P", "-O", "full", "-K", "keys", "-o", zone, "-f"];
        let out = output.to_string_lossy().into_owned();
        let inp = input.to_string_lossy().into_owned();
        a.push(&out);
        a.extend_from_slice(extra);
        a.push(&inp);
        a.extend_from_slice(keys);
        run(&self.dir, "dnssec-signzone", &a);
        std::fs::read_to_string(&output).expect("signed zone")
    }

    fn add_ds(&mut self, zone: &str, ds: String) {
        self.ds.push((zone.to_owned(), ds));
    }
}

fn build_zones(dir: &Path) -> Build {
    std::fs::create_dir_all(dir.join("keys")).expect("keys dir");
    let mut b = Build {
        dir: dir.to_owned(),
        knot: Vec::new(),
        files: Vec::new(),
        ds: Vec::new(),
    };
    const KZ13: &[&str] = &["algorithm=13 ksk=yes", "algorithm=13 zsk=yes"];
    let kz = |origin: &'static str,
              policy: &'static str,
              keys: &'static [&'static str],
              body: String| {
        KnotZone {
            origin,
            policy,
            keys,
            body,
        }
    };
    // Knot's automatic signing.
    b.knot.push(kz(
        "kz13.test",
        "nsec",
        KZ13,
        format!("{MAIL}alias CNAME mx.unsigned.test.\n"),
    ));
    b.knot.push(kz(
        "csk13.test",
        "nsec",
        &["algorithm=13 ksk=yes zsk=yes"],
        MAIL.into(),
    ));
    b.knot.push(kz(
        "rollzsk.test",
        "nsec",
        &[
            "algorithm=13 ksk=yes",
            "algorithm=13 zsk=yes",
            "algorithm=13 zsk=yes",
        ],
        MAIL.into(),
    ));
    b.knot.push(kz(
        "twoalg.test",
        "nsec",
        &[
            "algorithm=13 ksk=yes",
            "algorithm=13 zsk=yes",
            "algorithm=8 size=2048 ksk=yes",
            "algorithm=8 size=2048 zsk=yes",
        ],
        MAIL.into(),
    ));
    b.knot.push(kz(
        "rsa8n3.test",
        "nsec3",
        &[
            "algorithm=8 size=2048 ksk=yes",
            "algorithm=8 size=1024 zsk=yes",
        ],
        MAIL.into(),
    ));
    b.knot.push(kz(
        "p384.test",
        "nsec",
        &["algorithm=14 ksk=yes", "algorithm=14 zsk=yes"],
        MAIL.into(),
    ));
    b.knot.push(kz(
        "ed25519.test",
        "nsec",
        &["algorithm=15 ksk=yes", "algorithm=15 zsk=yes"],
        MAIL.into(),
    ));
    b.knot.push(kz(
        "optout.test",
        "optout",
        KZ13,
        format!("{MAIL}child NS ns.test.\n"),
    ));
    b.knot.push(kz("n3high.test", "n3high", KZ13, MAIL.into()));
    b.knot.push(kz(
        "big.test",
        "nsec",
        &[
            // Three 4096-bit KSKs sign the DNSKEY set: about 3 KB, over the 1232-byte UDP
            // limit; the ZSK's answers fit.
            "algorithm=8 size=4096 ksk=yes",
            "algorithm=8 size=4096 ksk=yes",
            "algorithm=8 size=4096 ksk=yes",
            "algorithm=8 size=2048 zsk=yes",
        ],
        MAIL.into(),
    ));
    b.knot.push(kz("down.test", "nsec", KZ13, MAIL.into()));
    b.knot.push(kz("island", "nsec", KZ13, MAIL.into()));

    // Unsigned zones.
    b.files.push(FileZone {
        origin: "unsigned.test",
        text: zone_text(
            "unsigned.test",
            &format!("{MAIL}alias CNAME mx.kz13.test.\n"),
        ),
    });
    b.files.push(FileZone {
        origin: "child.optout.test",
        text: zone_text("child.optout.test", MAIL),
    });

    // BIND's signer.
    let mail = |zone: &str| zone_text(zone, MAIL);
    let with_keys = |b: &Build, zone: &str, keys: &[&str]| {
        let mut t = mail(zone);
        for k in keys {
            t.push_str(&b.dnskey(k));
            t.push('\n');
        }
        t
    };
    // KSK + ZSK helper: (ksk, zsk).
    let pair = |b: &Build, zone: &str, alg: &str, bits: Option<&str>| {
        let mut ksk = vec!["-a", alg, "-f", "KSK"];
        let mut zsk = vec!["-a", alg];
        if let Some(bits) = bits {
            ksk.extend_from_slice(&["-b", bits]);
            zsk.extend_from_slice(&["-b", bits]);
        }
        (b.keygen(zone, &ksk), b.keygen(zone, &zsk))
    };
    for (zone, alg, nsec3) in [
        ("rsasha1.test", "RSASHA1", false),
        ("nsec3sha1.test", "NSEC3RSASHA1", true),
    ] {
        let (k, z) = pair(&b, zone, alg, Some("2048"));
        let extra: &[&str] = if nsec3 { &["-3", "-"] } else { &[] };
        let text = b.sign(zone, &with_keys(&b, zone, &[&k, &z]), &[&k, &z], extra);
        b.files.push(FileZone { origin: zone, text });
        let ds = b.ds_of(&k);
        b.add_ds(zone, ds);
    }
    let stamp = |offset: i64| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let t = now.saturating_add_signed(offset);
        run(
            Path::new("/"),
            "date",
            &["-u", "-d", &format!("@{t}"), "+%Y%m%d%H%M%S"],
        )
        .trim()
        .to_owned()
    };
    const WEEK: i64 = 7 * 24 * 3600;
    for (zone, from, to) in [
        ("expired.test", -5 * WEEK, -3 * WEEK),
        ("notyet.test", 3 * WEEK, 5 * WEEK),
    ] {
        let (k, z) = pair(&b, zone, "ECDSAP256SHA256", None);
        let times = ["-s".to_owned(), stamp(from), "-e".to_owned(), stamp(to)];
        let times: Vec<&str> = times.iter().map(String::as_str).collect();
        let text = b.sign(zone, &with_keys(&b, zone, &[&k, &z]), &[&k, &z], &times);
        b.files.push(FileZone { origin: zone, text });
        let ds = b.ds_of(&k);
        b.add_ds(zone, ds);
    }
    {
        // The ZSK signs everything, the DNSKEY set too; the KSK (in the set, named by the DS)
        // signs nothing.
        let zone = "zskonly.test";
        let (k, z) = pair(&b, zone, "ECDSAP256SHA256", None);
        let text = b.sign(zone, &with_keys(&b, zone, &[&k, &z]), &[&z], &[]);
        b.files.push(FileZone { origin: zone, text });
        let ds = b.ds_of(&k);
        b.add_ds(zone, ds);
    }
    {
        let zone = "wrongds.test";
        let (k, z) = pair(&b, zone, "ECDSAP256SHA256", None);
        let text = b.sign(zone, &with_keys(&b, zone, &[&k, &z]), &[&k, &z], &[]);
        b.files.push(FileZone { origin: zone, text });
        let other = b.keygen(zone, &["-a", "ECDSAP256SHA256", "-f", "KSK"]);
        let ds = b.ds_of(&other);
        b.add_ds(zone, ds);
    }
    {
        let zone = "dsother.test";
        let (k, z) = pair(&b, zone, "ECDSAP256SHA256", None);
        let text = b.sign(zone, &with_keys(&b, zone, &[&k, &z]), &[&k, &z], &[]);
        b.files.push(FileZone { origin: zone, text });
        let rsa = b.keygen(zone, &["-a", "RSASHA256", "-b", "2048", "-f", "KSK"]);
        let ds = b.ds_of(&rsa);
        b.add_ds(zone, ds);
    }
    {
        // A current KSK, a revoked one (signing the DNSKEY set, as RFC 5011 asks), a ZSK; the
        // DS names the current KSK.
        let zone = "revoked.test";
        let (k, z) = pair(&b, zone, "ECDSAP256SHA256", None);
        let old = b.keygen(zone, &["-a", "ECDSAP256SHA256", "-f", "KSK"]);
        let revoked = run(&b.dir, "dnssec-revoke", &["-K", "keys", &old])
            .trim()
            .trim_start_matches("keys/")
            .to_owned();
        let keys = [k.as_str(), z.as_str(), revoked.as_str()];
        let text = b.sign(zone, &with_keys(&b, zone, &keys), &keys, &[]);
        b.files.push(FileZone { origin: zone, text });
        let ds = b.ds_of(&k);
        b.add_ds(zone, ds);
    }
    {
        // Only a revoked KSK and a ZSK; the DS names the revoked key.
        let zone = "revokedonly.test";
        let (k, z) = pair(&b, zone, "ECDSAP256SHA256", None);
        let revoked = run(&b.dir, "dnssec-revoke", &["-K", "keys", &k])
            .trim()
            .trim_start_matches("keys/")
            .to_owned();
        let keys = [revoked.as_str(), z.as_str()];
        let text = b.sign(zone, &with_keys(&b, zone, &keys), &keys, &[]);
        b.files.push(FileZone { origin: zone, text });
        // dnssec-dsfromkey refuses revoked keys; ldns-key2ds digests the key as published.
        let ds = run(
            &b.dir,
            "ldns-key2ds",
            &["-n", "-2", &format!("keys/{revoked}.key")],
        )
        .trim()
        .to_owned();
        assert!(ds.contains("\tDS\t"), "ldns-key2ds gave no DS: {ds:?}");
        b.add_ds(zone, ds);
    }
    {
        // Signed with NSEC3 while it held www; then www's records are taken out and the
        // chain kept: the NSEC3 record that matches www's hash is what denies www.
        let zone = "badnsec3.test";
        let (k, z) = pair(&b, zone, "ECDSAP256SHA256", None);
        let mut unsigned = with_keys(&b, zone, &[&k, &z]);
        unsigned.push_str("www A 127.0.0.26\n");
        let signed = b.sign(zone, &unsigned, &[&k, &z], &["-3", "AAAA"]);
        let text: String = signed
            .lines()
            .filter(|l| !l.starts_with("www."))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(text.contains("NSEC3"), "{text}");
        b.files.push(FileZone { origin: zone, text });
        let ds = b.ds_of(&k);
        b.add_ds(zone, ds);
    }
    {
        let zone = "notlsasig.test";
        let (k, z) = pair(&b, zone, "ECDSAP256SHA256", None);
        let signed = b.sign(zone, &with_keys(&b, zone, &[&k, &z]), &[&k, &z], &[]);
        let text: String = signed
            .lines()
            .filter(|l| !l.contains("RRSIG\tTLSA") && !l.contains("RRSIG TLSA"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(text.contains("TLSA"), "{text}");
        b.files.push(FileZone { origin: zone, text });
        let ds = b.ds_of(&k);
        b.add_ds(zone, ds);
    }
    {
        // Algorithm 100 (unassigned): a key and signatures no validator can check. The DS (of
        // the same algorithm) is computed here; the zone is served as it stands.
        let zone = "unsupported.test";
        let public: Vec<u8> = (0u8..64)
            .map(|i| i.wrapping_mul(37).wrapping_add(11))
            .collect();
        let key = PublicKeyBuf::new(public.clone(), Algorithm::Unknown(100));
        let ds = DS::from_key(
            &key,
            &Name::from_ascii("unsupported.test.").expect("name"),
            DigestType::SHA256,
        )
        .expect("DS of the unsupported key");
        let mut hexdigest = String::new();
        for byte in ds.digest() {
            let _ = write!(hexdigest, "{byte:02x}");
        }
        let b64 = |bytes: &[u8]| {
            use base64ct::Encoding;
            base64ct::Base64::encode_string(bytes)
        };
        let sig = b64(&[7u8; 64]);
        let (inception, expiration) = ("20200101000000", "20991231000000");
        let mut body = MAIL.to_owned();
        let _ = writeln!(body, "@ DNSKEY 257 3 100 {}", b64(&public));
        for (owner, t, labels) in [
            ("@", "SOA", 2),
            ("@", "NS", 2),
            ("@", "MX", 2),
            ("@", "TXT", 2),
            ("@", "DNSKEY", 2),
            ("mx", "A", 3),
            ("_25._tcp.mx", "TLSA", 5),
            ("*.wild", "TXT", 3),
        ] {
            let _ = writeln!(
                body,
                "{owner} RRSIG {t} 100 {labels} 300 {expiration} {inception} {} unsupported.test. {sig}",
                ds.key_tag()
            );
        }
        b.files.push(FileZone {
            origin: zone,
            text: zone_text(zone, &body),
        });
        b.add_ds(
            zone,
            format!("unsupported.test. IN DS {} 100 2 {hexdigest}", ds.key_tag()),
        );
    }

    b
}

/// Knot's configuration: one policy per NSEC/NSEC3 variant (keys made by keymgr: `manual`), every
/// zone of the build, the root and `test.` signed by Knot too.
fn knot_conf(b: &Build, port: u16) -> String {
    let d = b.dir.display();
    let mut c = format!(
        "server:\n  rundir: \"{d}\"\n  listen: 127.0.0.1@{port}\n\
         database:\n  storage: \"{d}\"\n\
         log:\n  - target: stderr\n    any: notice\n\
         policy:\n\
         \x20 - id: nsec\n    manual: on\n\
         \x20 - id: nsec3\n    manual: on\n    nsec3: on\n    nsec3-iterations: 0\n\
         \x20 - id: optout\n    manual: on\n    nsec3: on\n    nsec3-iterations: 0\n    nsec3-opt-out: on\n\
         \x20 - id: n3high\n    manual: on\n    nsec3: on\n    nsec3-iterations: 200\n\
         template:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n\
         zone:\n"
    );
    for z in ROOTS.iter().chain(b.knot.iter().map(|z| &z.origin)) {
        let policy = b
            .knot
            .iter()
            .find(|k| &k.origin == z)
            .map_or("nsec", |k| k.policy);
        let _ = write!(
            c,
            "  - domain: \"{}\"\n    file: \"{}\"\n    dnssec-signing: on\n    dnssec-policy: {policy}\n",
            fqdn(z),
            file_of(&b.dir, z).display()
        );
    }
    for z in &b.files {
        let _ = write!(
            c,
            "  - domain: \"{}\"\n    file: \"{}\"\n",
            fqdn(z.origin),
            file_of(&b.dir, z.origin).display()
        );
    }
    c
}

/// The zones Knot signs above the scenarios.
const ROOTS: [&str; 2] = [".", "test"];

fn fqdn(z: &str) -> String {
    if z == "." {
        ".".to_owned()
    } else {
        format!("{z}.")
    }
}

fn file_of(dir: &Path, z: &str) -> PathBuf {
    if z == "." {
        dir.join("root.zone")
    } else {
        dir.join(format!("{z}.zone"))
    }
}

/// The SHA-256 DS of a Knot zone's KSKs, from keymgr.
fn knot_ds(dir: &Path, conf: &str, zone: &str) -> String {
    run(dir, "keymgr", &["-c", conf, &fqdn(zone), "ds"])
        .lines()
        .filter(|l| l.split_whitespace().nth(4) == Some("2"))
        .map(|l| l.replacen(" DS ", " IN DS ", 1) + "\n")
        .collect()
}

/// Writes every zone file and Knot's configuration; the anchors (root and island DS) in
/// zone-file syntax.
fn write_all(b: &mut Build, port: u16) -> String {
    let conf = knot_conf(b, port);
    let conf_path = b.dir.join("knot.conf");
    std::fs::write(&conf_path, &conf).expect("knot.conf");
    let conf_arg = conf_path.to_string_lossy().into_owned();
    let mut knot_ds_lines: Vec<(String, String)> = Vec::new();
    for z in &b.knot {
        for args in z.keys {
            let mut a = vec!["-c", conf_arg.as_str()];
            let zone = fqdn(z.origin);
            a.push(&zone);
            a.push("generate");
            a.extend(args.split_whitespace());
            run(&b.dir, "keymgr", &a);
        }
        knot_ds_lines.push((z.origin.to_owned(), knot_ds(&b.dir, &conf_arg, z.origin)));
    }
    for root in ROOTS {
        for args in ["algorithm=13 ksk=yes", "algorithm=13 zsk=yes"] {
            let zone = fqdn(root);
            let mut a = vec!["-c", conf_arg.as_str(), zone.as_str(), "generate"];
            a.extend(args.split_whitespace());
            run(&b.dir, "keymgr", &a);
        }
    }
    for (z, ds) in knot_ds_lines {
        b.add_ds(&z, ds);
    }
    for z in &b.knot {
        std::fs::write(file_of(&b.dir, z.origin), zone_text(z.origin, &z.body)).expect("zone");
    }
    for z in &b.files {
        std::fs::write(file_of(&b.dir, z.origin), &z.text).expect("zone");
    }
    // test.: a delegation (and DS, where signed) for every scenario zone under it.
    let mut test = String::from("ns A 127.0.0.1\n");
    let children: Vec<&str> = b
        .knot
        .iter()
        .map(|z| z.origin)
        .chain(b.files.iter().map(|z| z.origin))
        .filter(|z| z.ends_with(".test") && z.matches('.').count() == 1)
        .collect();
    for child in children {
        let _ = writeln!(test, "{child}. NS ns.test.");
        for (z, ds) in &b.ds {
            if z == child {
                test.push_str(ds);
                test.push('\n');
            }
        }
    }
    std::fs::write(file_of(&b.dir, "test"), zone_text("test", &test)).expect("test zone");
    let test_ds = knot_ds(&b.dir, &conf_arg, "test");
    let root = format!("test. NS ns.test.\nns.test. A 127.0.0.1\n{test_ds}");
    std::fs::write(file_of(&b.dir, "."), zone_text(".", &root)).expect("root zone");
    format!(
        "{}{}",
        knot_ds(&b.dir, &conf_arg, "."),
        knot_ds(&b.dir, &conf_arg, "island")
    )
}

/// Our verdict: the answer's proof; a lookup error is reported as such (never a verdict).
async fn ours(resolver: &Resolver, row: &Row) -> Result<(Verdict, Proof), String> {
    fn proof<T>(a: Result<Answer<T>, checktls_dns::Error>) -> Result<Proof, String> {
        a.map(|a| a.proof).map_err(|e| e.to_string())
    }
    let name: DomainName = row.name.parse().map_err(|e| format!("{e}"))?;
    let p = match row.qtype.as_str() {
        "MX" => proof(resolver.lookup_mx(&name).await),
        "A" => proof(resolver.lookup_a(&name).await),
        "AAAA" => proof(resolver.lookup_aaaa(&name).await),
        "TXT" => proof(resolver.lookup_txt(&name).await),
        "TLSA" => proof(resolver.lookup_tlsa(&name).await),
        other => panic!("DNSSEC.md: no lookup for type {other}"),
    }?;
    let v = match &p {
        Proof::Secure => Verdict::Secure,
        Proof::Insecure => Verdict::Insecure,
        Proof::Bogus { .. } => Verdict::Bogus,
        _ => Verdict::Indeterminate,
    };
    Ok((v, p))
}

/// Unbound's verdict, read from `dig`: AD bit, status, extended DNS error (RFC 8914).
fn unbound(server: SocketAddr, row: &Row) -> (Verdict, String) {
    let out = Command::new(binary("dig"))
        .args([
            &format!("@{}", server.ip()),
            "-p",
            &server.port().to_string(),
            "+dnssec",
            "+time=30",
            "+tries=1",
            &row.name,
            &row.qtype,
        ])
        .output()
        .expect("dig");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let flags = text
        .lines()
        .find(|l| l.starts_with(";; flags:"))
        .unwrap_or("")
        .to_owned();
    let ad = flags
        .trim_start_matches(";; flags:")
        .split(';')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .any(|f| f == "ad");
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("none")
        .to_owned();
    let ede: Option<u16> = text
        .split("EDE: ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok());
    let v = match status.as_str() {
        "SERVFAIL" => match ede {
            // No Reachable Authority, Network Error (RFC 8914 §4.23, §4.24).
            Some(22 | 23) => Verdict::Indeterminate,
            _ => Verdict::Bogus,
        },
        "NOERROR" | "NXDOMAIN" if ad => Verdict::Secure,
        "NOERROR" | "NXDOMAIN" => Verdict::Insecure,
        _ => Verdict::Indeterminate,
    };
    (v, format!("{status} ad={ad} ede={ede:?}"))
}

/// delv's verdict, with the same anchors, asking `server`.
fn delv(server: SocketAddr, anchors: &Path, row: &Row) -> (Verdict, String) {
    // delv validates from the one anchor its "root" names: the island's own anchor for names
    // in it, the private root's for the rest.
    let root = if row.name == "island" || row.name.ends_with(".island") {
        "+root=island"
    } else {
        "+root=."
    };
    let out = Command::new(binary("delv"))
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string(), "-a"])
        .arg(anchors)
        .args([root, &row.name, &row.qtype])
        .output()
        .expect("delv");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A chain (CNAME) is as strong as its weakest link: "unsigned answer" anywhere wins.
    let v = if text.contains("unsigned answer") {
        Verdict::Insecure
    } else if text.contains("fully validated") {
        Verdict::Secure
    } else if text.contains("timed out") || text.contains("failure to connect") {
        Verdict::Indeterminate
    } else {
        Verdict::Bogus
    };
    let summary = text
        .lines()
        .filter(|l| l.starts_with(';'))
        .collect::<Vec<_>>()
        .join(" / ");
    (v, summary)
}

async fn resolver(server: SocketAddr, anchors: &str, timeout: Duration) -> Resolver {
    let mut o = ResolverOptions::default();
    o.nameservers = Nameservers::Given(vec![server]);
    o.dnssec = Dnssec::Validate(TrustAnchors::parse(anchors).expect("anchors parse"));
    o.cache = false;
    o.timeout = timeout;
    o.attempts = 1;
    Resolver::new(o).await.expect("resolver builds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "interop: needs knotd, keymgr, unbound, dig, delv, dnssec-keygen and dnssec-signzone from Debian; run by .ci/run"]
async fn the_matrix_agrees_with_unbound_and_delv() {
    let rows = table();
    assert!(rows.len() >= 30, "DNSSEC.md lists {} scenarios", rows.len());
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.number, i + 1, "DNSSEC.md rows are numbered in order");
    }
    let started = Instant::now();
    let dir = TempDir::new("dnssec-matrix");
    let mut build = build_zones(&dir.0);
    let knot_port = free_port();
    let knot_addr = SocketAddr::from(([127, 0, 0, 1], knot_port));
    let anchors = write_all(&mut build, knot_port);
    let built = started.elapsed();
    let conf = dir.0.join("knot.conf").to_string_lossy().into_owned();
    let mut knot = Daemon::start(
        "knotd",
        &binary("knotd"),
        &["-c", &conf],
        dir.0.join("knot.log"),
    );
    // Ready when every zone Knot signs answers its SOA with a signature.
    let deadline = Instant::now() + Duration::from_secs(120);
    let signed: Vec<&str> = ROOTS
        .iter()
        .copied()
        .chain(build.knot.iter().map(|z| z.origin))
        .collect();
    for z in &signed {
        while answer_count(knot_addr, z, 6).unwrap_or(0) < 2 {
            knot.assert_running();
            assert!(
                Instant::now() < deadline,
                "Knot did not sign {z}:\n{}",
                knot.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let relay = Relay::start(knot_addr, "down.test");

    let anchor_file = dir.0.join("anchors");
    std::fs::write(&anchor_file, &anchors).expect("anchors");
    let mut delv_anchors = String::from("trust-anchors {\n");
    for l in anchors.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if let [owner, "IN", "DS", tag, alg, dt, digest] = f.as_slice() {
            let _ = writeln!(
                delv_anchors,
                "  \"{owner}\" static-ds {tag} {alg} {dt} \"{digest}\";"
            );
        }
    }
    delv_anchors.push_str("};\n");
    let delv_file = dir.0.join("delv.anchors");
    std::fs::write(&delv_file, &delv_anchors).expect("delv anchors");

    let unbound_port = free_port();
    let unbound_addr = SocketAddr::from(([127, 0, 0, 1], unbound_port));
    let unbound_conf = dir.0.join("unbound.conf");
    std::fs::write(
        &unbound_conf,
        format!(
            "server:\n  interface: 127.0.0.1@{unbound_port}\n  port: {unbound_port}\n  do-ip6: no\n\
             \x20 do-daemonize: no\n  use-syslog: no\n  logfile: \"\"\n  username: \"\"\n  chroot: \"\"\n\
             \x20 directory: \"{d}\"\n  pidfile: \"\"\n  do-not-query-localhost: no\n\
             \x20 trust-anchor-file: \"{a}\"\n  module-config: \"validator iterator\"\n\
             \x20 access-control: 127.0.0.0/8 allow\n  verbosity: 1\n  val-log-level: 2\n  ede: yes\n\
             \x20 local-zone: \"test.\" nodefault\n  qname-minimisation: no\n  aggressive-nsec: no\n\
             \x20 cache-max-ttl: 0\n  cache-max-negative-ttl: 0\n  infra-cache-max-rtt: 2000\n\
             remote-control:\n  control-enable: no\n\
             forward-zone:\n  name: \".\"\n  forward-addr: 127.0.0.1@{knot_port}\n\
             forward-zone:\n  name: \"down.test.\"\n  forward-addr: 127.0.0.1@{relay}\n",
            d = dir.0.display(),
            a = anchor_file.display(),
            relay = relay.addr.port(),
        ),
    )
    .expect("unbound.conf");
    let uc = unbound_conf.to_string_lossy().into_owned();
    let mut validator = Daemon::start(
        "unbound",
        &binary("unbound"),
        &["-d", "-c", &uc],
        dir.0.join("unbound.log"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while answer_count(unbound_addr, "test", 6).is_none() {
        validator.assert_running();
        assert!(
            Instant::now() < deadline,
            "unbound did not answer:\n{}",
            validator.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let direct = resolver(knot_addr, &anchors, Duration::from_secs(3)).await;
    let relayed = resolver(relay.addr, &anchors, Duration::from_secs(1)).await;
    let known = divergences();
    let mut report = String::new();
    let mut failures = Vec::new();
    let (mut with_unbound, mut with_delv) = (0, 0);
    for row in &rows {
        let through_relay = row.name.ends_with("down.test");
        let ask = if through_relay { &relayed } else { &direct };
        let t0 = Instant::now();
        let our = ours(ask, row).await;
        let (u, u_detail) = unbound(unbound_addr, row);
        let server = if through_relay { relay.addr } else { knot_addr };
        let (dv, d_detail) = delv(server, &delv_file, row);
        let our_v = our.as_ref().map(|(v, _)| *v).ok();
        if our_v == Some(u) {
            with_unbound += 1;
        }
        if our_v == Some(dv) {
            with_delv += 1;
        }
        let _ = writeln!(
            report,
            "{:>2} {:<34} expected {:?}: ours {:?}, unbound {u:?} ({u_detail}), delv {dv:?} [{d_detail}] ({} ms)",
            row.number,
            format!("{} {}", row.name, row.qtype),
            row.expected,
            our.as_ref().map(|(_, p)| p.to_string()),
            t0.elapsed().as_millis()
        );
        // An oracle agrees with the table, or differs exactly as the divergences list says.
        let oracle_ok = |oracle: &str, got: Verdict| {
            let listed = known
                .iter()
                .find(|(n, o, _)| *n == row.number && o == oracle)
                .map(|(_, _, v)| *v);
            match listed {
                Some(v) => got == v && v != row.expected,
                None => got == row.expected,
            }
        };
        if our_v != Some(row.expected) || !oracle_ok("Unbound", u) || !oracle_ok("delv", dv) {
            failures.push(format!("{} ({})", row.number, row.scenario));
        }
        if let (Some(want), Ok((_, Proof::Bogus { reason }))) = (&row.reason, &our) {
            let r = reason.clone().unwrap_or_default();
            if !r.contains(want.as_str()) {
                failures.push(format!(
                    "{}: reason {r:?} does not name {want:?}",
                    row.number
                ));
            }
        }
    }
    println!("{report}");
    println!(
        "DNSSEC matrix: {} scenarios, agreements with Unbound {with_unbound}, agreements with delv {with_delv}, known divergences {} (zones built in {} ms, all in {} s)",
        rows.len(),
        known.len(),
        built.as_millis(),
        started.elapsed().as_secs()
    );
    // DANE applicability (RFC 7672 §2.2) on the same zones: both proofs, and the verdict.
    for (host, want) in [
        ("mx.kz13.test", DaneVerdict::Applies),
        ("mx.unsigned.test", DaneVerdict::AddressesNotSecure),
        ("mx.notlsasig.test", DaneVerdict::TlsaNotSecure),
        ("ns.test", DaneVerdict::NoTlsaRecords),
    ] {
        let name: DomainName = host.parse().expect("name");
        let addresses = direct.host_addresses(&name, IpChoice::V4).await;
        let lookup = direct.tlsa(&addresses, 25).await.expect("TLSA lookup");
        let a = &lookup.applicability;
        assert_eq!(a.verdict, want, "{host}: {a:?}");
        assert_eq!(a.addresses, addresses.proof(), "{host}");
        assert_eq!(a.tlsa, lookup.answer.proof, "{host}");
        let _ = writeln!(report, "DANE {host}: {}", a.verdict.name());
    }
    knot.assert_running();
    validator.assert_running();
    assert!(
        failures.is_empty(),
        "scenarios that disagree: {failures:?}\n{report}\nunbound log tail:\n{}",
        validator
            .log()
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
