//! The report as people and programs read it: CheckTLS's output levels, each as text, JSON or
//! XML with CheckTLS's element names.
//!
//! ```text
//!   Level:  score < matrix < smtp < detail < certdetail < ssldetail      (each adds to the last)
//!           debug    (the raw traffic only, as a hex dump)
//!           sslprobe (protocols and ciphers from the legacy prober)
//!   Format: text | json (the serde form of ReceiverReport) | xml (<CheckTLS> … </CheckTLS>)
//! ```
//!
//! The JSON's schema is `schema/report.schema.json` (`json_schema()`, feature `schema`).
//!
//! ```no_run
//! # async fn run(report: checktls::ReceiverReport) {
//! use checktls::output::{render, Format, Level};
//! print!("{}", render(&report, Level::Matrix, Format::Text));
//! # }
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;
use std::str::FromStr;

use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};

use crate::report::{HostReport, ReceiverReport};
use crate::smtp::Stage;

#[cfg(feature = "schema")]
mod schema;
#[cfg(feature = "schema")]
pub use schema::json_schema;

/// How much to show (CheckTLS's output levels).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Level {
    /// The Confidence Factor only.
    Score,
    /// Plus the MX/steps matrix.
    #[default]
    Matrix,
    /// Plus the SMTP transcript of each host.
    Smtp,
    /// Plus the certificate summary, revocation, DANE, MTA-STS, DNS and the score's reasons.
    Detail,
    /// Plus every certificate decoded, with its PEM.
    CertDetail,
    /// Plus the TLS details (version, cipher, group, handshake time).
    SslDetail,
    /// The raw traffic only, as a hex dump.
    Debug,
    /// The protocols and ciphers found by the legacy prober.
    SslProbe,
}

impl Level {
    /// Every level, in order.
    pub const ALL: [Level; 8] = [
        Level::Score,
        Level::Matrix,
        Level::Smtp,
        Level::Detail,
        Level::CertDetail,
        Level::SslDetail,
        Level::Debug,
        Level::SslProbe,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Level::Score => "score",
            Level::Matrix => "matrix",
            Level::Smtp => "smtp",
            Level::Detail => "detail",
            Level::CertDetail => "certdetail",
            Level::SslDetail => "ssldetail",
            Level::Debug => "debug",
            Level::SslProbe => "sslprobe",
        }
    }

    fn includes(self, other: Level) -> bool {
        self <= Level::SslDetail && other <= self
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Level::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<_> = Level::ALL.iter().map(|l| l.name()).collect();
                format!("unknown level {s:?}: expected one of {}", names.join(", "))
            })
    }
}

/// The output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Text for people.
    #[default]
    Text,
    /// JSON: the serde form of [`ReceiverReport`], trimmed to the level.
    Json,
    /// XML with CheckTLS's element names.
    Xml,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "xml" => Ok(Format::Xml),
            _ => Err(format!("unknown format {s:?}: expected text, json or xml")),
        }
    }
}

/// Renders a report at a level in a format.
pub fn render(report: &ReceiverReport, level: Level, format: Format) -> String {
    match format {
        Format::Text => text(report, level),
        Format::Json => json(report, level),
        Format::Xml => xml(report, level),
    }
}

/// Stage columns of the matrix: (JSON stage name, column heading).
const COLUMNS: [(Stage, &str); 10] = [
    (Stage::Answer, "Answer"),
    (Stage::Connect, "Connect"),
    (Stage::Ehlo, "HELO"),
    (Stage::TlsOffered, "TLS"),
    (Stage::Cert, "Cert"),
    (Stage::Secure, "Secure"),
    (Stage::MailFrom, "From"),
    (Stage::RcptTo, "To"),
    (Stage::Data, "Data"),
    (Stage::Email, "Email"),
];

/// `s` with every control character (C0, DEL, C1) and the non-characters U+FFFE and U+FFFF
/// written as a visible escape (`\x1b`, `\u{85}`), those in `keep` excepted. Peers choose
/// banners, certificate fields, TXT records and OCSP texts: in text output none of it may move
/// the cursor, clear the screen or forge a line; in XML none of it may make the document
/// ill-formed (XML 1.0 allows no other control character, not even as a reference).
pub fn visible<'a>(s: &'a str, keep: &[char]) -> Cow<'a, str> {
    let bad =
        |c: char| (c.is_control() || c == '\u{fffe}' || c == '\u{ffff}') && !keep.contains(&c);
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !bad(c) {
            out.push(c);
        } else if u32::from(c) < 0x80 {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

/// A value from a peer, for one line of text.
fn v(s: &str) -> Cow<'_, str> {
    visible(s, &[])
}

fn host_label(h: &HostReport) -> String {
    match h.address {
        Some(std::net::IpAddr::V6(a)) => format!("{}[{a}]:{}", v(&h.name), h.port),
        Some(a) => format!("{}[{a}]:{}", v(&h.name), h.port),
        None => format!("{}[unresolvable]:{}", v(&h.name), h.port),
    }
}

/// The text form.
pub fn text(report: &ReceiverReport, level: Level) -> String {
    let mut out = String::new();
    if level == Level::Debug {
        for h in &report.mx {
            let _ = writeln!(out, "{} ({}):", host_label(h), h.preference);
            match &h.raw {
                Some(raw) => out.push_str(raw),
                None => out.push_str("(no raw traffic recorded)\n"),
            }
        }
        return out;
    }
    if level == Level::SslProbe {
        for h in &report.mx {
            let _ = writeln!(out, "{} ({}):", host_label(h), h.preference);
            match &h.sslprobe {
                Some(p) => sslprobe_text(p, &mut out),
                None => out.push_str("(the prober did not run on this host)\n"),
            }
        }
        return out;
    }
    let _ = writeln!(out, "Checking {}", v(&report.target.to_string()));
    let cf = &report.confidence_factor;
    let _ = writeln!(
        out,
        "Confidence Factor: {} (of {} possible, {}%; best in class {})",
        cf.score, cf.max, cf.percent, cf.best_in_class
    );
    if let Some(a) = &report.assuredness {
        let _ = writeln!(out, "Assuredness Factor: {} ({})", a.factor, a.text);
    }
    if !report.tested {
        out.push_str("Nothing could be tested: no MX host was reached.\n");
    }
    if level.includes(Level::Matrix) {
        out.push('\n');
        out.push_str(&matrix(report));
    }
    if level.includes(Level::Smtp) {
        for h in &report.mx {
            let _ = writeln!(out, "\nTrying TLS on {} ({}):", host_label(h), h.preference);
            for line in &h.transcript {
                let _ = writeln!(out, "{}", v(line));
            }
            if let Some(e) = &h.error {
                let _ = writeln!(out, "Stopped: {}", v(e));
            }
        }
    }
    if level.includes(Level::Detail) {
        detail(&mut out, report, level);
    }
    if !report.findings.is_empty() && level.includes(Level::Matrix) {
        out.push_str("\nFindings:\n");
        for f in &report.findings {
            let _ = writeln!(out, "  {:?} {}: {}", f.severity, f.code, v(&f.message));
        }
    }
    out
}

/// The MX/steps matrix: a row per MX address, each stage OK/FAIL with its milliseconds, and an
/// average row with the percentage of hosts that passed each stage.
pub fn matrix(report: &ReceiverReport) -> String {
    let used: Vec<(Stage, &str)> = COLUMNS
        .iter()
        .copied()
        .filter(|(key, _)| {
            report
                .mx
                .iter()
                .any(|h| h.stages.iter().any(|s| s.stage == *key))
                || *key <= Stage::Secure
        })
        .collect();
    let name_w = report
        .mx
        .iter()
        .map(|h| host_label(h).len())
        .max()
        .unwrap_or(0)
        .max("MX Server".len());
    let mut out = String::new();
    let _ = write!(
        out,
        "{:<name_w$}  {:>5}  {:>5}",
        "MX Server", "Pref", "Score"
    );
    for (_, head) in &used {
        let _ = write!(out, "  {head:<12}");
    }
    out.push('\n');
    for h in &report.mx {
        let _ = write!(
            out,
            "{:<name_w$}  {:>5}  {:>5}",
            host_label(h),
            h.preference,
            h.score
        );
        for (key, _) in &used {
            let cell = match h.stages.iter().find(|s| s.stage == *key) {
                Some(s) if s.ok => format!("OK ({}ms)", s.ms),
                Some(_) => "FAIL".to_owned(),
                None => "-".to_owned(),
            };
            let _ = write!(out, "  {cell:<12}");
        }
        out.push('\n');
    }
    if !report.mx.is_empty() {
        let _ = write!(out, "{:<name_w$}  {:>5}  {:>5}", "Average", "", "");
        for (key, _) in &used {
            let passed = report
                .mx
                .iter()
                .filter(|h| h.stages.iter().any(|s| s.stage == *key && s.ok))
                .count();
            let pct = (passed * 100 + report.mx.len() / 2) / report.mx.len();
            let _ = write!(out, "  {:<12}", format!("{pct}%"));
        }
        out.push('\n');
    }
    out
}

fn detail(out: &mut String, report: &ReceiverReport, level: Level) {
    if let Some(sts) = &report.mta_sts {
        let _ = writeln!(
            out,
            "\nMTA-STS: {} (mode {}, id {}, mx {})",
            if sts.valid {
                "valid policy"
            } else {
                "no valid policy"
            },
            sts.mode.map_or("-", |m| m.name()),
            v(sts.id.as_deref().unwrap_or("-")),
            v(&sts.mx.join(" "))
        );
        for f in &sts.findings {
            let _ = writeln!(out, "  {:?} {}: {}", f.severity, f.code, v(&f.message));
        }
    }
    for h in &report.mx {
        let _ = writeln!(
            out,
            "\n{} ({}): score {}",
            host_label(h),
            h.preference,
            h.score
        );
        if let Some(tls) = &h.tls {
            let _ = writeln!(out, "  SSLVersion in use: {}", tls.version);
            let _ = writeln!(out, "  Cipher in use: {}", tls.cipher);
            if level.includes(Level::SslDetail) {
                let _ = writeln!(
                    out,
                    "  Key exchange: {}; handshake {} ms; learnt by {}{}",
                    tls.group.as_deref().unwrap_or("-"),
                    tls.handshake_ms,
                    tls.source,
                    if tls.deprecated {
                        "; DEPRECATED version"
                    } else {
                        ""
                    }
                );
            }
        }
        if let Some(c) = &h.certificate {
            let n = c.chain.len();
            for s in &c.chain {
                let _ = writeln!(out, "  Certificate {} of {n} in chain:", s.depth + 1);
                let _ = writeln!(out, "    subject= {}", v(&s.subject));
                let _ = writeln!(out, "    issuer= {}", v(&s.issuer));
                if level.includes(Level::CertDetail) {
                    let _ = writeln!(out, "    SAN: {}", v(&s.san.join(", ")));
                    let _ = writeln!(out, "    valid: {} to {}", s.not_before, s.not_after);
                    let key = s
                        .key
                        .map_or_else(|| "unknown".to_owned(), |k| k.to_string());
                    let _ = writeln!(out, "    key: {key}; signature: {}", s.signature);
                    let _ = writeln!(out, "    sha256: {}", s.sha256);
                    for line in s.pem.lines() {
                        let _ = writeln!(out, "    {line}");
                    }
                }
            }
            let _ = writeln!(
                out,
                "  Cert {}",
                if c.chain_valid {
                    "VALIDATED: ok".to_owned()
                } else {
                    format!("NOT VALIDATED: {}", c.problems.join(", "))
                }
            );
            match c.name_match {
                Some(true) => {
                    let _ = writeln!(
                        out,
                        "  Cert Hostname VERIFIED ({} = {})",
                        v(&h.name),
                        v(c.matched_name.as_deref().unwrap_or("?"))
                    );
                }
                Some(false) => {
                    let _ = writeln!(out, "  Cert Hostname DOES NOT VERIFY ({})", v(&h.name));
                }
                None => {}
            }
            if let Some(d) = c.days_to_expiry {
                let _ = writeln!(
                    out,
                    "  Expires in {d} days{}",
                    if c.expired {
                        " (EXPIRED)"
                    } else if c.expiry_warning {
                        " (soon)"
                    } else {
                        ""
                    }
                );
            }
        }
        let _ = writeln!(
            out,
            "  Revocation: {} {}",
            h.revocation.status,
            v(&h.revocation.detail)
        );
        let _ = writeln!(
            out,
            "  DANE: {}{}",
            h.dane.status,
            h.dane
                .matched
                .as_ref()
                .map(|m| format!(" ({})", v(m)))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "  MTA-STS: {}{}",
            h.mta_sts.verdict,
            if h.mta_sts.covered { " (covered)" } else { "" }
        );
        for f in &h.findings {
            let _ = writeln!(out, "  {:?} {}: {}", f.severity, f.code, v(&f.message));
        }
        if let Some(s) = &h.score_detail {
            for r in &s.reasons {
                let _ = writeln!(out, "  {}", v(&r.to_string()));
            }
        }
    }
    let cf = &report.confidence_factor;
    if !cf.reasons.is_empty() {
        out.push_str("\nConfidence Factor:\n");
        for r in &cf.reasons {
            let _ = writeln!(out, "  {}", v(&r.to_string()));
        }
    }
}

/// The JSON form, trimmed to the level: below `smtp` no transcripts, below `debug` no raw
/// traffic, below `certdetail` no PEM.
pub fn json(report: &ReceiverReport, level: Level) -> String {
    let mut value = match serde_json::to_value(report) {
        Ok(v) => v,
        Err(e) => return format!("{{\"error\":{:?}}}", e.to_string()),
    };
    if let Some(hosts) = value.get_mut("mx").and_then(|m| m.as_array_mut()) {
        for h in hosts {
            let Some(obj) = h.as_object_mut() else {
                continue;
            };
            if !level.includes(Level::Smtp) && level != Level::Debug {
                obj.remove("transcript");
            }
            if level != Level::Debug {
                obj.remove("raw");
            }
            if !level.includes(Level::CertDetail)
                && let Some(chain) = obj
                    .get_mut("certificate")
                    .and_then(|c| c.get_mut("chain"))
                    .and_then(|c| c.as_array_mut())
            {
                for c in chain {
                    if let Some(c) = c.as_object_mut() {
                        c.remove("pem");
                    }
                }
            }
        }
    }
    let s = serde_json::to_string_pretty(&value).unwrap_or_default();
    // serde_json escapes C0 controls; C1 controls and non-characters from peers it writes as
    // they are. They can only stand inside strings, where `\uXXXX` means the same.
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        if (c.is_control() && c != '\n') || c == '\u{fffe}' || c == '\u{ffff}' {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out.push('\n');
    out
}

/// The full probe as text: versions and their suites (in the server's order when it has
/// one), groups, certificates, checks, and the weaknesses with their severity.
fn sslprobe_text(p: &crate::tls::probe::ProbeReport, out: &mut String) {
    use crate::tls::probe::Preference;
    for v in &p.versions {
        if !v.accepted {
            let _ = writeln!(
                out,
                "  {:<8} refused ({})",
                v.version.name(),
                v.refusal.as_deref().unwrap_or("-")
            );
            continue;
        }
        let order = match v.preference {
            Preference::Server => "server's order",
            Preference::Client => "client's order",
            _ => "order unknown",
        };
        let _ = writeln!(
            out,
            "  {:<8} {} suites ({order}){}",
            v.version.name(),
            v.suites.len(),
            if v.truncated { ", list cut short" } else { "" }
        );
        for s in &v.suites {
            let kx = v.key_exchange.iter().find(|k| k.suite == s.code);
            let extra = match kx {
                Some(k) if k.dh_bits.is_some() => format!("  DH {}", k.dh_bits.unwrap_or(0)),
                Some(k) => k
                    .group
                    .as_ref()
                    .map(|g| format!("  {}", g.name))
                    .unwrap_or_default(),
                None => String::new(),
            };
            let _ = writeln!(out, "           {}{extra}", s.name);
        }
    }
    let names = |g: &[crate::tls::NamedGroup]| {
        g.iter()
            .map(|x| x.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    if !p.groups.tls13.is_empty() {
        let _ = writeln!(out, "  groups (TLSv1.3): {}", names(&p.groups.tls13));
    }
    if let Some(v) = p.groups.ecdhe_version {
        let _ = writeln!(out, "  groups ({v}): {}", names(&p.groups.ecdhe));
    }
    for c in &p.certificates {
        let _ = writeln!(
            out,
            "  certificate for {:?} suites: {}, {}",
            c.auth, c.key, c.signature
        );
    }
    let c = &p.checks;
    for (name, check) in [
        ("fallback SCSV", &c.fallback_scsv),
        ("secure renegotiation", &c.secure_renegotiation),
        ("client renegotiation", &c.client_renegotiation),
        ("compression", &c.compression),
        ("heartbleed", &c.heartbleed),
        ("CCS injection", &c.ccs_injection),
        ("ROBOT", &c.robot),
        ("session id resumption", &c.session_id_resumption),
        ("session tickets", &c.session_tickets),
        ("OCSP stapling", &c.ocsp_stapling),
        ("encrypt-then-MAC", &c.encrypt_then_mac),
        ("extended master secret", &c.extended_master_secret),
    ] {
        let verdict = serde_json::to_value(check.verdict)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(out, "  {name:<23} {verdict:<14} {}", v(&check.detail));
    }
    for f in &p.findings {
        let _ = writeln!(
            out,
            "  {}: {} ({})",
            f.severity,
            f.weakness.describe(),
            v(&f.detail)
        );
    }
    let _ = writeln!(out, "  {} connections, {} ms", p.connections, p.elapsed_ms);
}

/// The full probe in the XML: `SSLProbe` with `Protocol` (name, accepted, preference) and its
/// `Cipher`s, `Group`s, `Check`s (name, verdict) and `Weakness`es (code, severity).
fn sslprobe_xml(w: &mut Writer<Vec<u8>>, p: &crate::tls::probe::ProbeReport) {
    let word = |v: serde_json::Result<serde_json::Value>| {
        v.ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let _ = w.write_event(Event::Start(BytesStart::new("SSLProbe")));
    for v in &p.versions {
        let mut e = BytesStart::new("Protocol");
        e.push_attribute(("name", v.version.checktls_name()));
        e.push_attribute(("accepted", if v.accepted { "1" } else { "0" }));
        e.push_attribute((
            "preference",
            word(serde_json::to_value(v.preference)).as_str(),
        ));
        let _ = w.write_event(Event::Start(e));
        for s in &v.suites {
            elem(w, "Cipher", &s.name);
        }
        let _ = w.write_event(Event::End(BytesEnd::new("Protocol")));
    }
    for g in p.groups.tls13.iter().chain(&p.groups.ecdhe) {
        elem(w, "Group", &g.name);
    }
    let c = &p.checks;
    for (name, check) in [
        ("fallback_scsv", &c.fallback_scsv),
        ("secure_renegotiation", &c.secure_renegotiation),
        ("client_renegotiation", &c.client_renegotiation),
        ("compression", &c.compression),
        ("heartbleed", &c.heartbleed),
        ("ccs_injection", &c.ccs_injection),
        ("robot", &c.robot),
        ("session_id_resumption", &c.session_id_resumption),
        ("session_tickets", &c.session_tickets),
        ("ocsp_stapling", &c.ocsp_stapling),
        ("encrypt_then_mac", &c.encrypt_then_mac),
        ("extended_master_secret", &c.extended_master_secret),
    ] {
        let mut e = BytesStart::new("Check");
        e.push_attribute(("name", name));
        e.push_attribute((
            "verdict",
            word(serde_json::to_value(check.verdict)).as_str(),
        ));
        let _ = w.write_event(Event::Start(e));
        let _ = w.write_event(Event::Text(BytesText::new(&visible(&check.detail, &[]))));
        let _ = w.write_event(Event::End(BytesEnd::new("Check")));
    }
    for f in &p.findings {
        let mut e = BytesStart::new("Weakness");
        e.push_attribute(("code", word(serde_json::to_value(f.weakness)).as_str()));
        e.push_attribute(("severity", f.severity.to_string().as_str()));
        let _ = w.write_event(Event::Start(e));
        let _ = w.write_event(Event::Text(BytesText::new(&visible(&f.detail, &[]))));
        let _ = w.write_event(Event::End(BytesEnd::new("Weakness")));
    }
    let _ = w.write_event(Event::End(BytesEnd::new("SSLProbe")));
}

/// An element with text; control characters other than tab and line feed are written as
/// visible escapes, so the document stays well-formed whatever a peer sent.
fn elem(w: &mut Writer<Vec<u8>>, name: &str, text: &str) {
    let _ = w.write_event(Event::Start(BytesStart::new(name)));
    let _ = w.write_event(Event::Text(BytesText::new(&visible(text, &['\t', '\n']))));
    let _ = w.write_event(Event::End(BytesEnd::new(name)));
}

/// The XML form with CheckTLS's element names: `CheckTLS`, `eMailAddress`, `ConfidenceFactor`,
/// `MX` (attributes `name`, `exchange`, `address`, `preference`, `port`), `MX/SSL/SSLVersion`
/// (`TLSv1_3`), `MX/SSL/Cipher`, `MX/SSL/SSLDeprecated`, `MX/SSL/Certs/Cert` with `Subject`,
/// `Issuer`, `ValidateError`, `Expired`, `RevokedByCRL`; our additions (`MaxConfidenceFactor`,
/// `Percent`, `BestInClass`, `Steps`) use names CheckTLS does not.
pub fn xml(report: &ReceiverReport, level: Level) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let _ = w.write_event(Event::Decl(quick_xml::events::BytesDecl::new(
        "1.0",
        Some("UTF-8"),
        None,
    )));
    let mut root = BytesStart::new("CheckTLS");
    root.push_attribute(("test", "TestReceiver"));
    let _ = w.write_event(Event::Start(root));
    elem(&mut w, "eMailAddress", &report.target.to_string());
    let cf = &report.confidence_factor;
    elem(&mut w, "ConfidenceFactor", &cf.score.to_string());
    elem(&mut w, "MaxConfidenceFactor", &cf.max.to_string());
    elem(&mut w, "Percent", &cf.percent.to_string());
    elem(&mut w, "BestInClass", &cf.best_in_class.to_string());
    let n = report.mx.len().max(1) as f64;
    let share = |key: Stage| {
        let passed = report
            .mx
            .iter()
            .filter(|h| h.stages.iter().any(|s| s.stage == key && s.ok))
            .count() as f64;
        format!("{:.2}", 100.0 * passed / n)
    };
    elem(&mut w, "TLS", &share(Stage::TlsOffered));
    elem(&mut w, "Cert", &share(Stage::Cert));
    elem(&mut w, "Secure", &share(Stage::Secure));
    for h in &report.mx {
        let mut mx = BytesStart::new("MX");
        let address = h
            .address
            .map_or_else(|| "unresolvable".to_owned(), |a| a.to_string());
        let name = visible(&h.name, &[]);
        mx.push_attribute(("name", name.as_ref()));
        mx.push_attribute(("exchange", name.as_ref()));
        mx.push_attribute(("address", address.as_str()));
        mx.push_attribute(("preference", h.preference.to_string().as_str()));
        mx.push_attribute(("port", h.port.to_string().as_str()));
        let _ = w.write_event(Event::Start(mx));
        elem(&mut w, "Score", &h.score.to_string());
        let stage_pct = |key: Stage| {
            if h.stages.iter().any(|s| s.stage == key && s.ok) {
                "100.00"
            } else {
                "0.00"
            }
        };
        elem(&mut w, "TLS", stage_pct(Stage::TlsOffered));
        elem(&mut w, "Cert", stage_pct(Stage::Cert));
        elem(&mut w, "Secure", stage_pct(Stage::Secure));
        if level.includes(Level::Matrix) {
            let _ = w.write_event(Event::Start(BytesStart::new("Steps")));
            for s in &h.stages {
                let mut step = BytesStart::new("Step");
                step.push_attribute(("name", s.stage.name()));
                step.push_attribute(("ok", if s.ok { "1" } else { "0" }));
                step.push_attribute(("ms", s.ms.to_string().as_str()));
                let _ = w.write_event(Event::Empty(step));
            }
            let _ = w.write_event(Event::End(BytesEnd::new("Steps")));
        }
        if let Some(tls) = &h.tls {
            let _ = w.write_event(Event::Start(BytesStart::new("SSL")));
            elem(&mut w, "SSLVersion", tls.version.checktls_name());
            elem(&mut w, "Cipher", &tls.cipher);
            elem(
                &mut w,
                "SSLDeprecated",
                if tls.deprecated { "1" } else { "0" },
            );
            if let Some(c) = &h.certificate
                && level.includes(Level::Detail)
            {
                let mut certs = BytesStart::new("Certs");
                certs.push_attribute(("count", c.chain.len().to_string().as_str()));
                let _ = w.write_event(Event::Start(certs));
                for s in &c.chain {
                    let _ = w.write_event(Event::Start(BytesStart::new("Cert")));
                    let _ = w.write_event(Event::Start(BytesStart::new("Subject")));
                    elem(&mut w, "commonName", &common_name(&s.subject));
                    let _ = w.write_event(Event::End(BytesEnd::new("Subject")));
                    let _ = w.write_event(Event::Start(BytesStart::new("Issuer")));
                    elem(&mut w, "commonName", &common_name(&s.issuer));
                    let _ = w.write_event(Event::End(BytesEnd::new("Issuer")));
                    let leaf = s.depth == 0;
                    elem(
                        &mut w,
                        "ValidateError",
                        if leaf && !c.chain_valid {
                            c.problems.first().map_or("invalid", String::as_str)
                        } else {
                            ""
                        },
                    );
                    elem(&mut w, "Expired", if leaf && c.expired { "1" } else { "0" });
                    elem(
                        &mut w,
                        "RevokedByCRL",
                        if leaf && h.revocation.status == crate::report::RevocationState::Revoked {
                            "1"
                        } else {
                            "0"
                        },
                    );
                    if level.includes(Level::CertDetail) {
                        elem(&mut w, "PEM", &s.pem);
                    }
                    let _ = w.write_event(Event::End(BytesEnd::new("Cert")));
                }
                let _ = w.write_event(Event::End(BytesEnd::new("Certs")));
            }
            let _ = w.write_event(Event::End(BytesEnd::new("SSL")));
        }
        if level.includes(Level::Smtp) {
            elem(&mut w, "Transcript", &h.transcript.join("\n"));
        }
        if let Some(p) = &h.sslprobe
            && level == Level::SslProbe
        {
            sslprobe_xml(&mut w, p);
        }
        let _ = w.write_event(Event::End(BytesEnd::new("MX")));
    }
    let _ = w.write_event(Event::End(BytesEnd::new("CheckTLS")));
    let mut s = String::from_utf8(w.into_inner()).unwrap_or_default();
    s.push('\n');
    s
}

fn common_name(dn: &str) -> String {
    dn.split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("CN="))
        .unwrap_or(dn)
        .to_owned()
}
