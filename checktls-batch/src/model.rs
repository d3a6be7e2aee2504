//! The Batch language as data: what [`parse`](crate::parse()) returns.
//!
//! ```text
//!   Batch
//!   ├── test_type         receiver | assuretls                 (TestType)
//!   ├── name, description (ct:Name, ct:Description)
//!   ├── targets[]         TargetSpec { text, target, options, suppress[] }   DEFAULT applied
//!   ├── total             Total { function, test, threshold }          (<Total>)
//!   └── deliveries[]      Delivery { to[], format, suppress[], only_nodes[], only_fields[] }
//! ```
//!
//! Every target carries its *effective* options: the attributes and `Suppress` children of
//! the last `DEFAULT` target before it, overridden by its own.
//!
//! ```
//! let batch = checktls_batch::parse(r#"<BatchTest TestType="receiver">
//!     <Target><Suppress Function="minimum" Test="ge" Value="114"/>DEFAULT</Target>
//!     <Target SNI="mx.example.com" Count="2">192.0.2.1</Target>
//! </BatchTest>"#).unwrap();
//! let t = &batch.targets[0];
//! assert_eq!(t.text, "192.0.2.1");
//! assert!(matches!(t.target, checktls_batch::model::Target::Ip { .. }));
//! assert_eq!(t.options.count(), 2);
//! assert_eq!(t.suppress.len(), 1);
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Position;
use crate::field::{Field, FieldKind};
use crate::report::TlsVersion;

/// The namespace of this project's extensions (written with the `ct:` prefix in the
/// examples; any prefix bound to it works).
pub const EXTENSION_NAMESPACE: &str = "urn:checktls-rs:batch:1";

/// What kind of test every target gets (`TestType`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TestType {
    /// TestReceiver: the Confidence Factor of each target.
    #[default]
    Receiver,
    /// TestReceiverAssureTLS: does each target refuse mail without TLS.
    AssureTls,
}

impl TestType {
    /// The attribute value: `receiver` or `assuretls`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Receiver => "receiver",
            Self::AssureTls => "assuretls",
        }
    }

    /// The `test` attribute of the XML result formats.
    pub fn result_name(self) -> &'static str {
        match self {
            Self::Receiver => "BatchTestReceiver",
            Self::AssureTls => "BatchTestReceiverAssureTLS",
        }
    }
}

/// A parsed batch.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Batch {
    /// The test every target gets.
    pub test_type: TestType,
    /// A short name (`ct:Name`), used to name result files and in mail subjects.
    pub name: Option<String>,
    /// A description (`ct:Description`).
    pub description: Option<String>,
    /// The targets, in file order, DEFAULT applied; DEFAULT targets themselves are not listed.
    pub targets: Vec<TargetSpec>,
    /// The roll-up (`<Total>`), when the batch asks for one.
    pub total: Option<Total>,
    /// Where the results go (`<Delivery>`), in file order.
    pub deliveries: Vec<Delivery>,
    /// When the service runs it (`ct:Schedule`, `ct:TimeZone`); none: only on demand.
    pub schedule: Option<ScheduleSpec>,
    /// When a scheduled or stored run delivers (`ct:Alert`); default: always.
    pub alert: Alert,
    pub(crate) redacted: Arc<str>,
}

/// A schedule as written: the expression (cron, or `daily`, `weekly`, `weekly on monday
/// 06:00`, ...) and the IANA time zone its times are in (UTC when absent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScheduleSpec {
    /// The expression.
    pub expression: String,
    /// The IANA time zone (`Europe/Berlin`).
    pub time_zone: String,
}

impl ScheduleSpec {
    /// A schedule as written: `ScheduleSpec::new("weekly on monday 06:00", "Europe/Berlin")`.
    pub fn new(expression: impl Into<String>, time_zone: impl Into<String>) -> Self {
        Self {
            expression: expression.into(),
            time_zone: time_zone.into(),
        }
    }
}

/// When a stored run delivers its results (`ct:Alert`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Alert {
    /// Every run (CheckTLS's behaviour; each Delivery's own Suppress still applies).
    #[default]
    Always,
    /// Only when a target's grade or findings differ from the last run (or the baseline).
    Change,
    /// Only when the Total does not pass.
    Failure,
    /// When something changed or the Total does not pass.
    ChangeOrFailure,
}

impl Alert {
    /// Every value with its name.
    pub const ALL: [(Alert, &'static str); 4] = [
        (Self::Always, "always"),
        (Self::Change, "change"),
        (Self::Failure, "failure"),
        (Self::ChangeOrFailure, "change-or-failure"),
    ];

    /// The name (`change-or-failure`).
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(a, _)| *a == self)
            .map_or("always", |(_, n)| n)
    }
}

impl Batch {
    /// The first target that carries an AUTH password in clear (`AuthPass`), if any: a batch
    /// to be stored must name an environment variable instead (`ct:AuthPassEnv`).
    pub fn clear_secret(&self) -> Option<&TargetSpec> {
        self.targets.iter().find(|t| t.options.auth_pass.is_some())
    }

    /// The input XML with every secret (`AuthPass`) value replaced by `********`: the copy
    /// that may be attached to a delivered message or logged.
    pub fn redacted_source(&self) -> &str {
        &self.redacted
    }

    /// The total number of tests the batch runs (each target times its Count).
    pub fn test_count(&self) -> usize {
        self.targets
            .iter()
            .map(|t| t.options.count() as usize)
            .sum()
    }

    /// The batch's name: `ct:Name`, or `batch` when it has none.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or("batch")
    }
}

/// One target as the batch gives it, with its effective options.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TargetSpec {
    /// Where its `<Target>` starts.
    pub at: Position,
    /// The target's text as written (trimmed): how the results name it.
    pub text: String,
    /// What to test: the text read, with the `Host` attribute as its given host unless the
    /// text gives one (`user@example.com[mx.example.net:2525]`) or is an IP address.
    pub target: Target,
    /// How to test it (DEFAULT applied).
    pub options: TargetOptions,
    /// When to hide its result lines (DEFAULT applied): hidden when every condition holds.
    pub suppress: Vec<Suppress>,
}

/// What a `<Target>` tests: the receiver test's own target grammar (checktls-types), so a
/// target the batch accepts is one the receiver test can run.
pub use checktls_types::target::{GivenHost, HostSpec, Target, TargetError};

pub use checktls_types::Secret;

/// An AUTH mechanism (`AuthType`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum AuthType {
    /// PLAIN (the default).
    #[default]
    Plain,
    /// LOGIN.
    Login,
}

/// AUTH credentials for a private system, from `AuthType`, `AuthUser` and `AuthPass`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct Auth {
    /// The mechanism.
    pub mechanism: AuthType,
    /// The user name.
    pub user: String,
    /// The password.
    pub password: Secret,
}

pub use checktls_types::{CertNames, StopAfter, TlsMode};

/// How many MX preference levels or hosts to test (`ct:MXLimit`, `ct:HostLimit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the crates above; a new variant must be handled there
pub enum Limit {
    /// The first N.
    Count(u32),
    /// The first N percent (rounded up).
    Percent(u8),
}

impl FromStr for Limit {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.strip_suffix('%') {
            Some(p) => match p.trim().parse::<u8>() {
                Ok(p) if p <= 100 => Ok(Self::Percent(p)),
                _ => Err(()),
            },
            None => s.trim().parse().map(Self::Count).map_err(|_| ()),
        }
    }
}

/// Which address families to test (`ct:IP`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the crates above; a new variant must be handled there
pub enum IpFamily {
    /// IPv4 and IPv6 (the default).
    #[default]
    Both,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

/// A target's options, each `None` when the batch leaves it to the tester's default.
///
/// CheckTLS's own attributes are unprefixed; this project's are in the
/// [`EXTENSION_NAMESPACE`] (written `ct:` below).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct TargetOptions {
    /// `SNI`: the name sent in the TLS SNI and checked against the certificate.
    pub sni: Option<String>,
    /// `Host`: the server to test instead of the MX hosts (`host`, `host:port`, an address),
    /// already applied to [`TargetSpec::target`].
    pub host: Option<GivenHost>,
    /// `Port`: the SMTP port.
    pub port: Option<u16>,
    /// `AuthType`: the AUTH mechanism.
    pub auth_type: Option<AuthType>,
    /// `AuthUser`: the AUTH user.
    pub auth_user: Option<String>,
    /// `AuthPass`: the AUTH password.
    pub auth_pass: Option<Secret>,
    /// `ct:AuthPassEnv`: the environment variable holding the AUTH password, read when the
    /// test runs: the form a stored batch uses, so that no password is kept in the history.
    pub auth_pass_env: Option<String>,
    /// `ct:DangerAuthOverUnverifiedTLS`: send AUTH credentials over TLS whose certificate was
    /// not verified (a lab). Off unless set; the report says when it was used.
    pub danger_auth_over_unverified_tls: Option<bool>,
    /// `SMTPTimeOut`: the timeout of each SMTP step.
    pub smtp_timeout: Option<Duration>,
    /// `ReplyTimeOut`: how long a Thru test waits for the reply (kept; receiver tests do not
    /// use it).
    pub reply_timeout: Option<Duration>,
    /// `Count`: how many times the target is tested.
    pub count: Option<u32>,
    /// `ct:DirectTLS` and `ct:CompelTLS`, one choice: TLS on connect (SMTPS), STARTTLS even
    /// when it is not offered, or STARTTLS when offered (either given as no). Both yes on
    /// one target is refused when the file is read; a target that gives either replaces the
    /// DEFAULT's choice.
    pub tls_mode: Option<TlsMode>,
    /// `ct:Quick`: CheckTLS's Quick test (the QFactor).
    pub quick: Option<bool>,
    /// `ct:StopAfter`: where the SMTP dialog stops.
    pub stop_after: Option<StopAfter>,
    /// `ct:MXLimit`: how many MX preference levels to test.
    pub mx_limit: Option<Limit>,
    /// `ct:HostLimit`: how many MX hosts to test.
    pub host_limit: Option<Limit>,
    /// `ct:IgnoreNoConnect`: leave hosts that do not answer out of the grade.
    pub ignore_no_connect: Option<bool>,
    /// `ct:CheckOCSP`: check revocation (OCSP and CRL).
    pub check_ocsp: Option<bool>,
    /// `ct:IP`: address families.
    pub ip: Option<IpFamily>,
    /// `ct:EhloName`: the EHLO name.
    pub ehlo_name: Option<String>,
    /// `ct:MailFrom`: the MAIL FROM address.
    pub mail_from: Option<String>,
    /// `ct:SendEmail`: send a test message (DATA).
    pub send_email: Option<bool>,
    /// `ct:ExpiryWarningDays`: warn when a certificate expires within this many days.
    pub expiry_warning_days: Option<u32>,
    /// `ct:CertNames`: which names a certificate may carry to pass the Cert stage.
    pub cert_names: Option<CertNames>,
}

impl TargetOptions {
    /// How many times the target is tested (`Count`, 1 when absent).
    pub fn count(&self) -> u32 {
        self.count.unwrap_or(1)
    }

    /// The AUTH credentials, when `AuthUser` and `AuthPass` are both given.
    pub fn auth(&self) -> Option<Auth> {
        Some(Auth {
            mechanism: self.auth_type.unwrap_or_default(),
            user: self.auth_user.clone()?,
            password: self.auth_pass.clone()?,
        })
    }

    /// These options with every absent one taken from `defaults`.
    pub fn or(self, defaults: &TargetOptions) -> TargetOptions {
        let d = defaults.clone();
        TargetOptions {
            sni: self.sni.or(d.sni),
            host: self.host.or(d.host),
            port: self.port.or(d.port),
            auth_type: self.auth_type.or(d.auth_type),
            auth_user: self.auth_user.or(d.auth_user),
            auth_pass: self.auth_pass.or(d.auth_pass),
            auth_pass_env: self.auth_pass_env.or(d.auth_pass_env),
            danger_auth_over_unverified_tls: self
                .danger_auth_over_unverified_tls
                .or(d.danger_auth_over_unverified_tls),
            smtp_timeout: self.smtp_timeout.or(d.smtp_timeout),
            reply_timeout: self.reply_timeout.or(d.reply_timeout),
            count: self.count.or(d.count),
            tls_mode: self.tls_mode.or(d.tls_mode),
            quick: self.quick.or(d.quick),
            stop_after: self.stop_after.or(d.stop_after),
            mx_limit: self.mx_limit.or(d.mx_limit),
            host_limit: self.host_limit.or(d.host_limit),
            ignore_no_connect: self.ignore_no_connect.or(d.ignore_no_connect),
            check_ocsp: self.check_ocsp.or(d.check_ocsp),
            ip: self.ip.or(d.ip),
            ehlo_name: self.ehlo_name.or(d.ehlo_name),
            mail_from: self.mail_from.or(d.mail_from),
            send_email: self.send_email.or(d.send_email),
            expiry_warning_days: self.expiry_warning_days.or(d.expiry_warning_days),
            cert_names: self.cert_names.or(d.cert_names),
        }
    }
}

/// How a condition rolls values up (`Function`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Function {
    /// The smallest value.
    Minimum,
    /// The largest value.
    Maximum,
    /// The mean (numbers and yes/no fields only).
    Average,
    /// The number of result lines in scope (the field is not used).
    Count,
}

impl Function {
    /// Every function with its name.
    pub const ALL: [(Function, &'static str); 4] = [
        (Self::Minimum, "minimum"),
        (Self::Maximum, "maximum"),
        (Self::Average, "average"),
        (Self::Count, "count"),
    ];

    /// The name (`minimum`).
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("", |(_, n)| n)
    }
}

/// A comparison (`Test`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Test {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
}

impl Test {
    /// Every test with its name.
    pub const ALL: [(Test, &'static str); 6] = [
        (Self::Eq, "eq"),
        (Self::Ne, "ne"),
        (Self::Lt, "lt"),
        (Self::Le, "le"),
        (Self::Gt, "gt"),
        (Self::Ge, "ge"),
    ];

    /// The name (`ge`).
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(t, _)| *t == self)
            .map_or("", |(_, n)| n)
    }

    /// Whether `left <op> right` holds for an ordering of the two.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Self::Eq => ordering == Equal,
            Self::Ne => ordering != Equal,
            Self::Lt => ordering == Less,
            Self::Le => ordering != Greater,
            Self::Gt => ordering == Greater,
            Self::Ge => ordering != Less,
        }
    }
}

/// The value a condition compares with (`Value`), typed by its field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Value {
    /// A number (numeric and yes/no fields; `true`/`false` read as 1/0).
    Number(f64),
    /// A TLS version (`TLSv1.2`).
    Version(TlsVersion),
    /// Text (names, ciphers, statuses).
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Version(v) => f.write_str(v.name()),
            Self::Text(t) => f.write_str(t),
        }
    }
}

impl Value {
    /// Reads `text` as a value for a field of `kind`.
    pub fn parse(kind: FieldKind, text: &str) -> Option<Self> {
        let t = text.trim();
        match kind {
            FieldKind::Number => t
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(Self::Number),
            FieldKind::Bool => parse_bool(t)
                .map(|b| Self::Number(f64::from(u8::from(b))))
                .or_else(|| {
                    t.parse::<f64>()
                        .ok()
                        .filter(|n| n.is_finite())
                        .map(Self::Number)
                }),
            FieldKind::Version => t.parse().ok().map(Self::Version),
            FieldKind::Text => Some(Self::Text(t.to_owned())),
        }
    }
}

/// Reads a yes/no value: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, `y`/`n` (any case).
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "n" => Some(false),
        _ => None,
    }
}

/// A condition (`<Suppress Function="minimum" Test="ge" Value="114"/>`): inside a Target it
/// hides that target's lines, inside a Delivery it stops the delivery, when it holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Suppress {
    /// Where the element starts.
    pub at: Position,
    /// How the field's values are rolled up.
    pub function: Function,
    /// Which result field (`ct:Field`; the grade when absent).
    pub field: Field,
    /// The comparison.
    pub test: Test,
    /// The value compared with.
    pub value: Value,
}

impl Suppress {
    /// A condition on the grade, CheckTLS's form: `Function`, `Test`, `Value` on the score.
    pub fn on_score(function: Function, test: Test, value: f64) -> Self {
        Self {
            at: Position { line: 0, column: 0 },
            function,
            field: Field::Score,
            test,
            value: Value::Number(value),
        }
    }
}

/// How `<Total>` rolls the grades up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TotalFunction {
    /// The mean grade (the default).
    #[default]
    Average,
    /// The lowest grade.
    Minimum,
    /// The highest grade.
    Maximum,
}

impl TotalFunction {
    /// The name (`average`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Average => "average",
            Self::Minimum => "minimum",
            Self::Maximum => "maximum",
        }
    }
}

/// The roll-up of the whole batch into one number, and when it passes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Total {
    /// Where the element starts (line 0 for the implicit total).
    pub at: Position,
    /// `Function`.
    pub function: TotalFunction,
    /// `ct:Test`: how the total is compared with the threshold (default `ge`).
    pub test: Test,
    /// `ct:Value`: the threshold (default 90, CheckTLS's "secure" line).
    pub threshold: f64,
}

impl Default for Total {
    /// The total used when the batch has no `<Total>`: the average, passing at 90 or more.
    fn default() -> Self {
        Self {
            at: Position { line: 0, column: 0 },
            function: TotalFunction::Average,
            test: Test::Ge,
            threshold: 90.0,
        }
    }
}

/// Where a delivery goes (`<To>`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[allow(clippy::exhaustive_enums)] // matched exhaustively by the crates above; a new variant must be handled there
pub enum Recipient {
    /// The literal `File`: kept in the results directory.
    File,
    /// An email address.
    Email(String),
}

/// The output formats (`<Format>`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Format {
    /// `114 205.139.110.177`, one line per result.
    #[default]
    #[serde(rename = "text")]
    Text,
    /// `114,"205.139.110.177"`.
    #[serde(rename = "csv")]
    Csv,
    /// The matrix as CSV: `Addr,CF,Ans,Con,HELO,TLS,Cert,Sec,From,To`.
    #[serde(rename = "pager")]
    Pager,
    /// The matrix as an HTML table.
    #[serde(rename = "pager-html")]
    PagerHtml,
    /// `<CheckTLS><Results><Result><Score/><Target/></Result>…`.
    #[serde(rename = "xml")]
    Xml,
    /// `eMailAddress`, `ConfidenceFactor`, `MXConfidenceFactor`, `MXCount` per result.
    #[serde(rename = "xml-score")]
    XmlScore,
    /// The matrix level as XML: every MX host with its stages.
    #[serde(rename = "xml-matrix")]
    XmlMatrix,
    /// Every result as JSON (this project's addition).
    #[serde(rename = "json")]
    Json,
}

impl Format {
    /// Every format with its name.
    pub const ALL: [(Format, &'static str); 8] = [
        (Self::Text, "text"),
        (Self::Csv, "csv"),
        (Self::Pager, "pager"),
        (Self::PagerHtml, "pager-html"),
        (Self::Xml, "xml"),
        (Self::XmlScore, "xml-score"),
        (Self::XmlMatrix, "xml-matrix"),
        (Self::Json, "json"),
    ];

    /// The name (`xml-score`).
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("", |(_, n)| n)
    }

    /// The MIME type of the rendered results.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Text => "text/plain",
            Self::Csv | Self::Pager => "text/csv",
            Self::PagerHtml => "text/html",
            Self::Xml | Self::XmlScore | Self::XmlMatrix => "application/xml",
            Self::Json => "application/json",
        }
    }

    /// The file extension of the rendered results.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Text => "txt",
            Self::Csv | Self::Pager => "csv",
            Self::PagerHtml => "html",
            Self::Xml | Self::XmlScore | Self::XmlMatrix => "xml",
            Self::Json => "json",
        }
    }

    /// Whether OnlyNode/OnlyField apply (the XML formats and JSON).
    pub fn selectable(self) -> bool {
        matches!(
            self,
            Self::Xml | Self::XmlScore | Self::XmlMatrix | Self::Json
        )
    }
}

impl FromStr for Format {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let s = s.trim();
        Self::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s))
            .map(|(f, _)| *f)
            .ok_or(())
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One `<Delivery>`: who gets the results, in which format, and when not.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Delivery {
    /// Where the element starts.
    pub at: Position,
    /// The recipients (`<To>`, repeatable).
    pub to: Vec<Recipient>,
    /// The format (`<Format>`; text when absent).
    pub format: Format,
    /// Send nothing when every condition holds.
    pub suppress: Vec<Suppress>,
    /// Keep only these elements (with everything inside them) of each result.
    pub only_nodes: Vec<String>,
    /// Keep only these fields of each result.
    pub only_fields: Vec<String>,
    /// The mail subject (`ct:Subject`).
    pub subject: Option<String>,
}

impl Delivery {
    /// The field selection of this delivery.
    pub fn selection(&self) -> Selection {
        Selection {
            nodes: self.only_nodes.clone(),
            fields: self.only_fields.clone(),
        }
    }
}

/// OnlyNode/OnlyField: which parts of each result an XML or JSON output keeps. Empty keeps
/// everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Selection {
    /// Element (or JSON key) names kept with everything inside them.
    pub nodes: Vec<String>,
    /// Leaf element (or JSON key) names kept.
    pub fields: Vec<String>,
}

impl Selection {
    /// Keeps everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// Whether the selection keeps everything.
    pub fn is_all(&self) -> bool {
        self.nodes.is_empty() && self.fields.is_empty()
    }
}
