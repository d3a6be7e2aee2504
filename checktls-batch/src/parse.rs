//! The Batch parser: XML in, a [`Batch`] or an [`Error`] naming line, column and what was
//! expected.
//!
//! ```text
//!   &str ──► size bound ──► quick-xml (namespaces, no DOCTYPE, no entities but the five
//!            predefined and character references) ──► elements by local name:
//!
//!   BatchTest  TestType, ct:Name, ct:Description, xsi:*
//!   ├── Target*    SNI Host Port AuthType AuthUser AuthPass SMTPTimeOut ReplyTimeOut Count
//!   │              ct:DirectTLS ct:CompelTLS ct:Quick ct:StopAfter ct:MXLimit ct:HostLimit
//!   │              ct:IgnoreNoConnect ct:CheckOCSP ct:IP ct:EhloName ct:MailFrom
//!   │              ct:SendEmail ct:ExpiryWarningDays ct:CertNames
//!   │   ├── Suppress*  Function Test Value ct:Field
//!   │   └── text       address | domain | IP address (checktls-types' target grammar) | DEFAULT
//!   ├── Total?     Function ct:Test ct:Value
//!   └── Delivery*  ct:Subject
//!       ├── To+ (address | File)   ├── Format?   ├── Suppress*
//!       └── OnlyNode*              └── OnlyField*
//! ```
//!
//! Unprefixed elements and attributes are CheckTLS's (whatever default namespace the file
//! declares); `ct:` ones are this project's, in [`EXTENSION_NAMESPACE`]. Enumerated values
//! (`receiver`, `minimum`, `ge`, `csv`, ...) are read without regard to case.
//!
//! ```
//! let err = checktls_batch::parse("<BatchTest TestType=\"receiver\">\n  <Target Prot=\"25\">example.com</Target>\n</BatchTest>").unwrap_err();
//! assert_eq!(err.to_string().split(':').take(2).collect::<Vec<_>>(), ["2", "11"]);
//! ```

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use quick_xml::XmlVersion;
use quick_xml::escape::{EscapeError, resolve_predefined_entity};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{QName, ResolveResult};
use quick_xml::reader::NsReader;

use crate::error::{Error, Position};
use crate::field::{Field, FieldKind};
use crate::model::{Alert, ScheduleSpec};
use crate::model::{
    AuthType, Batch, CertNames, Delivery, EXTENSION_NAMESPACE, Function, GivenHost, IpFamily,
    Limit, Recipient, Secret, StopAfter, Suppress, Target, TargetOptions, TargetSpec, Test,
    TestType, TlsMode, Total, TotalFunction, Value, parse_bool,
};

const XSI_NAMESPACE: &str = "http://www.w3.org/2001/XMLSchema-instance";

const ROOT_ATTRS: &str = "TestType, ct:Name, ct:Description, ct:Schedule, ct:TimeZone, \
    ct:Alert, xsi:schemaLocation or xsi:noNamespaceSchemaLocation";
const TARGET_ATTRS: &str = "one of SNI, Host, Port, AuthType, AuthUser, AuthPass, SMTPTimeOut, \
    ReplyTimeOut, Count, ct:DirectTLS, ct:CompelTLS, ct:Quick, ct:StopAfter, ct:MXLimit, \
    ct:HostLimit, ct:IgnoreNoConnect, ct:CheckOCSP, ct:IP, ct:EhloName, ct:MailFrom, \
    ct:SendEmail, ct:ExpiryWarningDays, ct:CertNames, ct:AuthPassEnv, \
    ct:DangerAuthOverUnverifiedTLS";
const TLS_MODE_CONFLICT: &str = "not both ct:DirectTLS and ct:CompelTLS: TLS on connect has \
    no STARTTLS to compel";
const SUPPRESS_ATTRS: &str = "Function, Test, Value or ct:Field";
const TOTAL_ATTRS: &str = "Function, ct:Test or ct:Value";
const DELIVERY_ATTRS: &str = "ct:Subject";
const ROOT_CHILDREN: &str = "<Target>, <Total> or <Delivery>";
const TARGET_CHILDREN: &str = "<Suppress> and the target's text";
const DELIVERY_CHILDREN: &str = "<To>, <Format>, <Suppress>, <OnlyNode> or <OnlyField>";
const FORMATS: &str = "one of text, csv, pager, pager-html, xml, xml-score, xml-matrix, json";
const FUNCTIONS: &str = "one of minimum, maximum, average, count";
const TESTS: &str = "one of eq, ne, lt, le, gt, ge";
const BOOLS: &str = "true or false (also 1/0, yes/no, on/off)";
const REDACTED: &str = "********";

/// Size bounds of the parser. Every bound is checked before the work it protects.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest input, in bytes. Default: 16 MiB.
    pub max_bytes: usize,
    /// The most targets (DEFAULT not counted). Default: 100,000.
    pub max_targets: usize,
    /// The longest text or attribute value, in bytes. Default: 2,048.
    pub max_text: usize,
    /// The largest `Count`. Default: 100.
    pub max_count: u32,
    /// The most `Suppress` conditions in one element. Default: 32.
    pub max_conditions: usize,
    /// The most `To` in one Delivery. Default: 100.
    pub max_recipients: usize,
    /// The most `Delivery` elements. Default: 16.
    pub max_deliveries: usize,
    /// The most attributes on one element. Default: 64.
    pub max_attributes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 16 << 20,
            max_targets: 100_000,
            max_text: 2048,
            max_count: 100,
            max_conditions: 32,
            max_recipients: 100,
            max_deliveries: 16,
            max_attributes: 64,
        }
    }
}

/// Parses a batch with the default [`Limits`].
pub fn parse(xml: &str) -> Result<Batch, Error> {
    parse_with(xml, &Limits::default())
}

/// Parses a batch from bytes, which must be UTF-8 (a byte-order mark is allowed).
pub fn parse_bytes(bytes: &[u8], limits: &Limits) -> Result<Batch, Error> {
    if bytes.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => parse_with(s, limits),
        Err(e) => {
            let good = bytes.get(..e.valid_up_to()).unwrap_or_default();
            let prefix = std::str::from_utf8(good).unwrap_or_default();
            Err(Error::Malformed {
                at: Position::of(prefix, prefix.len()),
                detail: "the file is not UTF-8".to_owned(),
            })
        }
    }
}

/// Parses a batch with the given bounds.
pub fn parse_with(xml: &str, limits: &Limits) -> Result<Batch, Error> {
    if xml.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            size: xml.len(),
            limit: limits.max_bytes,
        });
    }
    let base = if xml.starts_with('\u{feff}') { 3 } else { 0 };
    let body = xml.get(base..).unwrap_or_default();
    let mut parser = Parser {
        src: xml,
        base,
        reader: NsReader::from_str(body),
        limits,
        secrets: Vec::new(),
        line_starts: std::cell::OnceCell::new(),
    };
    let mut batch = parser.document()?;
    batch.redacted = parser.redacted();
    Ok(batch)
}

/// An element or attribute name, sorted by namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Name<'a> {
    /// No prefix: CheckTLS's vocabulary.
    Plain(&'a str),
    /// In this project's namespace.
    Ext(&'a str),
    /// In the XML Schema instance namespace.
    Xsi(&'a str),
    /// Anything else, as written.
    Foreign(&'a str),
}

struct Attr<'i> {
    name: Name<'i>,
    raw: &'i str,
    key_at: usize,
    value: String,
    value_at: usize,
}

enum Ev<'i> {
    Start {
        e: BytesStart<'i>,
        at: usize,
        empty: bool,
    },
    End,
    Text {
        text: Cow<'i, str>,
        at: usize,
    },
    Eof {
        at: usize,
    },
}

/// Text gathered between two elements (pieces split by references are joined).
#[derive(Default)]
struct Chunk {
    text: String,
    at: usize,
}

struct Parser<'i, 'l> {
    src: &'i str,
    base: usize,
    reader: NsReader<&'i [u8]>,
    limits: &'l Limits,
    secrets: Vec<Range<usize>>,
    /// The byte offset where each line starts, built on first use: a position is then a
    /// binary search, so positions for a whole file cost one pass over it, not one each.
    line_starts: std::cell::OnceCell<Vec<usize>>,
}

impl<'i> Parser<'i, '_> {
    fn pos(&self, offset: usize) -> Position {
        let mut end = offset.min(self.src.len());
        while !self.src.is_char_boundary(end) {
            end -= 1;
        }
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.src.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        // The number of lines starting at or before `end`; the first always does.
        let line = starts.partition_point(|&s| s <= end).max(1);
        let line_start = starts.get(line - 1).copied().unwrap_or(0);
        let text = self.src.get(line_start..end).unwrap_or("");
        // A byte-order mark is not a column.
        let column = text.trim_start_matches('\u{feff}').chars().count() + 1;
        Position {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }

    fn offset_of(&self, s: &str) -> Option<usize> {
        let start = self.src.as_ptr() as usize;
        let p = s.as_ptr() as usize;
        (p >= start && p + s.len() <= start + self.src.len()).then(|| p - start)
    }

    fn next(&mut self) -> Result<Ev<'i>, Error> {
        loop {
            let at = self.base + usize::try_from(self.reader.buffer_position()).unwrap_or(0);
            let event = match self.reader.read_event() {
                Ok(e) => e,
                Err(e) => {
                    let at = self.base + usize::try_from(self.reader.error_position()).unwrap_or(0);
                    return Err(Error::Malformed {
                        at: self.pos(at),
                        detail: e.to_string(),
                    });
                }
            };
            return Ok(match event {
                Event::Start(e) => Ev::Start {
                    e,
                    at,
                    empty: false,
                },
                Event::Empty(e) => Ev::Start { e, at, empty: true },
                Event::End(_) => Ev::End,
                Event::Text(t) => Ev::Text {
                    text: t.xml10_content(),
                    at,
                },
                Event::CData(c) => Ev::Text {
                    text: c.xml10_content(),
                    at,
                },
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(c.to_string()),
                        Ok(None) => resolve_predefined_entity(&r).map(str::to_owned),
                        Err(_) => None,
                    };
                    match resolved {
                        Some(text) => Ev::Text {
                            text: Cow::Owned(text),
                            at,
                        },
                        None => {
                            return Err(Error::Entity {
                                at: self.pos(at),
                                name: r.chars().take(64).collect(),
                            });
                        }
                    }
                }
                Event::DocType(_) => return Err(Error::Doctype { at: self.pos(at) }),
                Event::Comment(_) | Event::PI(_) | Event::Decl(_) => continue,
                Event::Eof => Ev::Eof { at },
            });
        }
    }

    fn element_name(&self, e: &BytesStart<'i>) -> Name<'i> {
        let qname: QName<'i> = QName(self.raw_name(e));
        let (ns, local) = self.reader.resolver().resolve_element(qname);
        let local = local.into_inner();
        if qname.prefix().is_none() {
            return Name::Plain(local);
        }
        match ns {
            ResolveResult::Bound(ns) if ns.0 == EXTENSION_NAMESPACE => Name::Ext(local),
            _ => Name::Foreign(qname.0),
        }
    }

    /// The element's qualified name, borrowed from the input.
    fn raw_name(&self, e: &BytesStart<'i>) -> &'i str {
        let name = e.name().0;
        // Events of a string reader borrow from the input: find the same bytes there so the
        // name outlives the event.
        match self.offset_of(name) {
            Some(o) => self.src.get(o..o + name.len()).unwrap_or_default(),
            None => "",
        }
    }

    fn attrs(
        &mut self,
        e: &BytesStart<'i>,
        at: usize,
        element: &'static str,
    ) -> Result<Vec<Attr<'i>>, Error> {
        let mut out: Vec<Attr<'i>> = Vec::new();
        for attr in e.attributes().with_checks(false) {
            let attr = attr.map_err(|err| Error::Malformed {
                at: self.pos(at),
                detail: err.to_string(),
            })?;
            let key_str = attr.key.0;
            let key_at = self.offset_of(key_str).unwrap_or(at);
            let raw: &'i str = self
                .src
                .get(key_at..key_at + key_str.len())
                .filter(|s| *s == key_str)
                .unwrap_or_default();
            if raw == "xmlns" || raw.starts_with("xmlns:") {
                continue;
            }
            if out.len() >= self.limits.max_attributes {
                return Err(Error::Limit {
                    at: self.pos(key_at),
                    what: "attributes on one element",
                    limit: self.limits.max_attributes,
                });
            }
            let qname = QName(raw);
            let (ns, local) = self.reader.resolver().resolve_attribute(qname);
            let local = local.into_inner();
            let name = if qname.prefix().is_none() {
                Name::Plain(local)
            } else {
                match ns {
                    ResolveResult::Bound(ns) if ns.0 == EXTENSION_NAMESPACE => Name::Ext(local),
                    ResolveResult::Bound(ns) if ns.0 == XSI_NAMESPACE => Name::Xsi(local),
                    _ => Name::Foreign(raw),
                }
            };
            if out.iter().any(|a| a.name == name) {
                return Err(Error::DuplicateAttribute {
                    at: self.pos(key_at),
                    element,
                    attribute: raw.to_owned(),
                });
            }
            let value_raw: &str = &attr.value;
            let value_at = self.offset_of(value_raw).unwrap_or(key_at);
            let secret = element == "Target" && name == Name::Plain("AuthPass");
            if value_raw.len() > self.limits.max_text {
                return Err(Error::Limit {
                    at: self.pos(value_at),
                    what: "bytes in one attribute value",
                    limit: self.limits.max_text,
                });
            }
            if secret && self.offset_of(value_raw).is_some() {
                self.secrets.push(value_at..value_at + value_raw.len());
            }
            let value = match attr.normalized_value_with(
                XmlVersion::Implicit1_0,
                1,
                resolve_predefined_entity,
            ) {
                Ok(v) => v.into_owned(),
                Err(_) if secret => {
                    return Err(Error::BadSecret {
                        at: self.pos(value_at),
                        element,
                        name: "AuthPass",
                        reason: "it holds a reference that is not allowed",
                    });
                }
                Err(err) => {
                    return Err(match err {
                        quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(range, name)) => {
                            Error::Entity {
                                at: self.pos(value_at + range.start.saturating_sub(1)),
                                name: name.chars().take(64).collect(),
                            }
                        }
                        other => Error::Malformed {
                            at: self.pos(value_at),
                            detail: other.to_string(),
                        },
                    });
                }
            };
            out.push(Attr {
                name,
                raw,
                key_at,
                value,
                value_at,
            });
        }
        Ok(out)
    }

    fn bad(
        &self,
        attr: &Attr<'_>,
        element: &'static str,
        name: &'static str,
        expected: impl Into<String>,
    ) -> Error {
        Error::BadValue {
            at: self.pos(attr.value_at),
            element,
            name,
            value: attr.value.chars().take(100).collect(),
            expected: expected.into(),
        }
    }

    fn unknown_attr(
        &self,
        attr: &Attr<'_>,
        element: &'static str,
        expected: &'static str,
    ) -> Error {
        Error::UnknownAttribute {
            at: self.pos(attr.key_at),
            element,
            attribute: attr.raw.to_owned(),
            expected,
        }
    }

    fn unexpected(
        &self,
        e: &BytesStart<'i>,
        at: usize,
        parent: &'static str,
        expected: &'static str,
    ) -> Error {
        let found = self.raw_name(e);
        Error::UnexpectedElement {
            at: self.pos(at),
            found: if found.is_empty() {
                String::from_utf8_lossy(e.name().0.as_bytes()).into_owned()
            } else {
                found.to_owned()
            },
            parent,
            expected,
        }
    }

    fn push_text(&self, chunk: &mut Option<Chunk>, text: &str, at: usize) -> Result<(), Error> {
        let c = chunk.get_or_insert_with(|| Chunk {
            text: String::new(),
            at,
        });
        if c.text.len() + text.len() > self.limits.max_text {
            return Err(Error::Limit {
                at: self.pos(c.at),
                what: "bytes of text in one element",
                limit: self.limits.max_text,
            });
        }
        c.text.push_str(text);
        Ok(())
    }

    /// Skips the end of an element that takes no content, allowing only whitespace.
    fn empty_content(&mut self, element: &'static str, empty: bool) -> Result<(), Error> {
        if empty {
            return Ok(());
        }
        loop {
            match self.next()? {
                Ev::End => return Ok(()),
                Ev::Text { text, at } => {
                    if !text.trim().is_empty() {
                        return Err(Error::UnexpectedText {
                            at: self.pos(at + leading_ws(&text)),
                            element,
                            expected: "no content",
                        });
                    }
                }
                Ev::Start { e, at, .. } => {
                    return Err(self.unexpected(&e, at, element, "no content"));
                }
                Ev::Eof { at } => return Err(eof(self.pos(at), element)),
            }
        }
    }

    fn document(&mut self) -> Result<Batch, Error> {
        let (e, at, empty) = loop {
            match self.next()? {
                Ev::Text { text, at } => {
                    if !text.trim().is_empty() {
                        return Err(Error::UnexpectedText {
                            at: self.pos(at + leading_ws(&text)),
                            element: "document",
                            expected: "<BatchTest>",
                        });
                    }
                }
                Ev::Start { e, at, empty } => break (e, at, empty),
                Ev::End => {
                    return Err(Error::Malformed {
                        at: self.pos(self.src.len()),
                        detail: "an end tag before any element".to_owned(),
                    });
                }
                Ev::Eof { at } => {
                    return Err(Error::Missing {
                        at: self.pos(at),
                        element: "document",
                        what: "a <BatchTest> root element",
                    });
                }
            }
        };
        if self.element_name(&e) != Name::Plain("BatchTest") {
            return Err(Error::Root {
                at: self.pos(at),
                found: self.raw_name(&e).to_owned(),
            });
        }
        let mut batch = Batch {
            test_type: TestType::Receiver,
            name: None,
            description: None,
            targets: Vec::new(),
            total: None,
            deliveries: Vec::new(),
            schedule: None,
            alert: Alert::default(),
            redacted: Arc::from(""),
        };
        let mut test_type = None;
        let mut schedule: Option<(String, usize)> = None;
        let mut time_zone: Option<(String, usize)> = None;
        for a in self.attrs(&e, at, "BatchTest")? {
            match a.name {
                Name::Plain("TestType") => {
                    test_type = Some(match a.value.trim().to_ascii_lowercase().as_str() {
                        "receiver" => TestType::Receiver,
                        "assuretls" => TestType::AssureTls,
                        _ => {
                            return Err(self.bad(
                                &a,
                                "BatchTest",
                                "TestType",
                                "receiver or assuretls (thru and sender batches are not supported)",
                            ));
                        }
                    });
                }
                Name::Ext("Name") => {
                    batch.name = Some(self.line_text(&a, "BatchTest", "ct:Name")?)
                }
                Name::Ext("Description") => batch.description = Some(a.value.trim().to_owned()),
                Name::Ext("Schedule") => {
                    schedule = Some((self.line_text(&a, "BatchTest", "ct:Schedule")?, a.value_at));
                }
                Name::Ext("TimeZone") => {
                    time_zone = Some((self.line_text(&a, "BatchTest", "ct:TimeZone")?, a.value_at));
                }
                Name::Ext("Alert") => {
                    let v = a.value.trim();
                    batch.alert = Alert::ALL
                        .iter()
                        .find(|(_, n)| n.eq_ignore_ascii_case(v))
                        .map(|(x, _)| *x)
                        .ok_or_else(|| {
                            self.bad(
                                &a,
                                "BatchTest",
                                "ct:Alert",
                                "always, change, failure or change-or-failure",
                            )
                        })?;
                }
                Name::Xsi("schemaLocation" | "noNamespaceSchemaLocation") => {}
                _ => return Err(self.unknown_attr(&a, "BatchTest", ROOT_ATTRS)),
            }
        }
        batch.test_type = test_type.ok_or(Error::Missing {
            at: self.pos(at),
            element: "BatchTest",
            what: "a TestType attribute (receiver or assuretls)",
        })?;
        match (schedule, time_zone) {
            (Some((expression, expr_at)), tz) => {
                let (time_zone, tz_at) = tz.unwrap_or_else(|| ("UTC".to_owned(), expr_at));
                let spec = ScheduleSpec {
                    expression,
                    time_zone,
                };
                self.check_schedule(&spec, expr_at, tz_at)?;
                batch.schedule = Some(spec);
            }
            (None, Some((_, tz_at))) => {
                return Err(Error::Missing {
                    at: self.pos(tz_at),
                    element: "BatchTest",
                    what: "a ct:Schedule for the ct:TimeZone",
                });
            }
            (None, None) => {}
        }

        let mut defaults = (TargetOptions::default(), Vec::new());
        if !empty {
            loop {
                match self.next()? {
                    Ev::End => break,
                    Ev::Text { text, at } => {
                        if !text.trim().is_empty() {
                            return Err(Error::UnexpectedText {
                                at: self.pos(at + leading_ws(&text)),
                                element: "BatchTest",
                                expected: ROOT_CHILDREN,
                            });
                        }
                    }
                    Ev::Start { e, at, empty } => match self.element_name(&e) {
                        Name::Plain("Target") => {
                            if let Some(t) = self.target(&e, at, empty, &mut defaults)? {
                                if batch.targets.len() >= self.limits.max_targets {
                                    return Err(Error::Limit {
                                        at: self.pos(at),
                                        what: "targets",
                                        limit: self.limits.max_targets,
                                    });
                                }
                                batch.targets.push(t);
                            }
                        }
                        Name::Plain("Total") => {
                            if batch.total.is_some() {
                                return Err(Error::Repeated {
                                    at: self.pos(at),
                                    element: "Total",
                                    parent: "BatchTest",
                                });
                            }
                            batch.total = Some(self.total(&e, at, empty)?);
                        }
                        Name::Plain("Delivery") => {
                            if batch.deliveries.len() >= self.limits.max_deliveries {
                                return Err(Error::Limit {
                                    at: self.pos(at),
                                    what: "Delivery elements",
                                    limit: self.limits.max_deliveries,
                                });
                            }
                            let d = self.delivery(&e, at, empty)?;
                            batch.deliveries.push(d);
                        }
                        _ => return Err(self.unexpected(&e, at, "BatchTest", ROOT_CHILDREN)),
                    },
                    Ev::Eof { at } => return Err(eof(self.pos(at), "BatchTest")),
                }
            }
        }
        // Nothing but comments and whitespace after the root.
        loop {
            match self.next()? {
                Ev::Eof { .. } => break,
                Ev::Text { text, at } => {
                    if !text.trim().is_empty() {
                        return Err(Error::UnexpectedText {
                            at: self.pos(at + leading_ws(&text)),
                            element: "document",
                            expected: "nothing after </BatchTest>",
                        });
                    }
                }
                Ev::Start { e, at, .. } => {
                    return Err(self.unexpected(&e, at, "document", "nothing after </BatchTest>"));
                }
                Ev::End => {}
            }
        }
        if batch.targets.is_empty() {
            return Err(Error::Missing {
                at: self.pos(at),
                element: "BatchTest",
                what: "at least one <Target> that is not DEFAULT",
            });
        }
        Ok(batch)
    }

    /// A value that must be one line of printable text.
    /// A schedule the service can use (checked where the schedule engine is built in).
    #[cfg(feature = "runtime")]
    fn check_schedule(
        &self,
        spec: &ScheduleSpec,
        expr_at: usize,
        tz_at: usize,
    ) -> Result<(), Error> {
        let Err(e) = crate::schedule::Schedule::new(spec) else {
            return Ok(());
        };
        let (at, name, value, expected) = match e {
            crate::schedule::ScheduleError::TimeZone => (
                tz_at,
                "ct:TimeZone",
                spec.time_zone.clone(),
                "an IANA time zone such as Europe/Berlin or UTC",
            ),
            crate::schedule::ScheduleError::Expression(_) => (
                expr_at,
                "ct:Schedule",
                spec.expression.clone(),
                "a cron expression (5 or 6 fields), hourly, daily [HH:MM], or weekly [on DAY] [HH:MM]",
            ),
        };
        Err(Error::BadValue {
            at: self.pos(at),
            element: "BatchTest",
            name,
            value,
            expected: expected.into(),
        })
    }

    /// Without the schedule engine (the `runtime` feature) a schedule is kept as written.
    #[cfg(not(feature = "runtime"))]
    fn check_schedule(&self, _: &ScheduleSpec, _: usize, _: usize) -> Result<(), Error> {
        Ok(())
    }

    fn line_text(
        &self,
        a: &Attr<'_>,
        element: &'static str,
        name: &'static str,
    ) -> Result<String, Error> {
        let v = a.value.trim();
        if v.is_empty() || v.chars().any(char::is_control) {
            return Err(self.bad(a, element, name, "non-empty text on one line"));
        }
        Ok(v.to_owned())
    }

    /// A host name or address: no spaces, at most 253 bytes.
    fn host_text(&self, a: &Attr<'_>, name: &'static str) -> Result<String, Error> {
        let v = a.value.trim();
        if v.is_empty() || v.len() > 253 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.bad(
                a,
                "Target",
                name,
                "a host name without spaces (at most 253 bytes)",
            ));
        }
        Ok(v.to_owned())
    }

    fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
        &self,
        a: &Attr<'_>,
        element: &'static str,
        name: &'static str,
        min: T,
        max: T,
    ) -> Result<T, Error> {
        match a.value.trim().parse::<T>() {
            Ok(n) if n >= min && n <= max => Ok(n),
            _ => Err(self.bad(
                a,
                element,
                name,
                format!("a whole number from {min} to {max}"),
            )),
        }
    }

    fn boolean(&self, a: &Attr<'_>, name: &'static str) -> Result<bool, Error> {
        parse_bool(&a.value).ok_or_else(|| self.bad(a, "Target", name, BOOLS))
    }

    fn target(
        &mut self,
        e: &BytesStart<'i>,
        at: usize,
        empty: bool,
        defaults: &mut (TargetOptions, Vec<Suppress>),
    ) -> Result<Option<TargetSpec>, Error> {
        let mut o = TargetOptions::default();
        let (mut direct, mut compel) = (None, None);
        for a in self.attrs(e, at, "Target")? {
            match a.name {
                Name::Plain("SNI") => o.sni = Some(self.host_text(&a, "SNI")?),
                Name::Plain("Host") => {
                    o.host = Some(GivenHost::parse(&a.value).map_err(|e| {
                        self.bad(
                            &a,
                            "Target",
                            "Host",
                            format!(
                                "a host name or an IP address, with an optional :port (at \
                                 character {}: {})",
                                e.position, e.expected
                            ),
                        )
                    })?);
                }
                Name::Plain("Port") => {
                    o.port = Some(self.number(&a, "Target", "Port", 1u16, 65535)?)
                }
                Name::Plain("AuthType") => {
                    o.auth_type = Some(match a.value.trim().to_ascii_uppercase().as_str() {
                        "PLAIN" => AuthType::Plain,
                        "LOGIN" => AuthType::Login,
                        _ => return Err(self.bad(&a, "Target", "AuthType", "PLAIN or LOGIN")),
                    });
                }
                Name::Plain("AuthUser") => {
                    o.auth_user = Some(self.line_text(&a, "Target", "AuthUser")?)
                }
                Name::Plain("AuthPass") => {
                    if a.value.is_empty() || a.value.chars().any(char::is_control) {
                        return Err(Error::BadSecret {
                            at: self.pos(a.value_at),
                            element: "Target",
                            name: "AuthPass",
                            reason: "it must be non-empty text on one line",
                        });
                    }
                    o.auth_pass = Some(Secret::new(a.value.clone()));
                }
                Name::Plain("SMTPTimeOut") => {
                    o.smtp_timeout = Some(Duration::from_secs(self.number(
                        &a,
                        "Target",
                        "SMTPTimeOut",
                        1u64,
                        3600,
                    )?));
                }
                Name::Plain("ReplyTimeOut") => {
                    o.reply_timeout = Some(Duration::from_secs(self.number(
                        &a,
                        "Target",
                        "ReplyTimeOut",
                        1u64,
                        86_400,
                    )?));
                }
                Name::Plain("Count") => {
                    o.count =
                        Some(self.number(&a, "Target", "Count", 1u32, self.limits.max_count)?)
                }
                Name::Ext("AuthPassEnv") => {
                    let ok = a
                        .value
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                        && a.value
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_')
                        && a.value.len() <= 128;
                    if !ok {
                        return Err(self.bad(
                            &a,
                            "Target",
                            "ct:AuthPassEnv",
                            "an environment variable name (letters, digits and _)",
                        ));
                    }
                    o.auth_pass_env = Some(a.value.clone());
                }
                Name::Ext("DangerAuthOverUnverifiedTLS") => {
                    o.danger_auth_over_unverified_tls =
                        Some(self.boolean(&a, "ct:DangerAuthOverUnverifiedTLS")?)
                }
                Name::Ext("DirectTLS") => {
                    direct = Some(self.boolean(&a, "ct:DirectTLS")?);
                    if direct == Some(true) && compel == Some(true) {
                        return Err(self.bad(&a, "Target", "ct:DirectTLS", TLS_MODE_CONFLICT));
                    }
                }
                Name::Ext("CompelTLS") => {
                    compel = Some(self.boolean(&a, "ct:CompelTLS")?);
                    if direct == Some(true) && compel == Some(true) {
                        return Err(self.bad(&a, "Target", "ct:CompelTLS", TLS_MODE_CONFLICT));
                    }
                }
                Name::Ext("CertNames") => {
                    o.cert_names = Some(
                        a.value
                            .parse::<CertNames>()
                            .map_err(|e| self.bad(&a, "Target", "ct:CertNames", e.expected))?,
                    );
                }
                Name::Ext("Quick") => o.quick = Some(self.boolean(&a, "ct:Quick")?),
                Name::Ext("IgnoreNoConnect") => {
                    o.ignore_no_connect = Some(self.boolean(&a, "ct:IgnoreNoConnect")?)
                }
                Name::Ext("CheckOCSP") => o.check_ocsp = Some(self.boolean(&a, "ct:CheckOCSP")?),
                Name::Ext("SendEmail") => o.send_email = Some(self.boolean(&a, "ct:SendEmail")?),
                Name::Ext("StopAfter") => {
                    o.stop_after = Some(a.value.parse::<StopAfter>().map_err(|_| {
                        self.bad(&a, "Target", "ct:StopAfter", "one of answer, connect, ehlo1, starttls, ehlo2, mailfrom, rcptto, data")
                    })?);
                }
                Name::Ext(n @ ("MXLimit" | "HostLimit")) => {
                    let name = if n == "MXLimit" {
                        "ct:MXLimit"
                    } else {
                        "ct:HostLimit"
                    };
                    let limit = match a.value.parse::<Limit>() {
                        Ok(Limit::Count(c)) if (1..=1000).contains(&c) => Limit::Count(c),
                        Ok(Limit::Percent(p)) if p >= 1 => Limit::Percent(p),
                        _ => {
                            return Err(self.bad(
                                &a,
                                "Target",
                                name,
                                "a count from 1 to 1000, or a percentage such as 50%",
                            ));
                        }
                    };
                    if n == "MXLimit" {
                        o.mx_limit = Some(limit);
                    } else {
                        o.host_limit = Some(limit);
                    }
                }
                Name::Ext("IP") => {
                    o.ip = Some(match a.value.trim().to_ascii_lowercase().as_str() {
                        "4" | "ipv4" => IpFamily::V4,
                        "6" | "ipv6" => IpFamily::V6,
                        "both" | "any" => IpFamily::Both,
                        _ => return Err(self.bad(&a, "Target", "ct:IP", "4, 6 or both")),
                    });
                }
                Name::Ext("EhloName") => o.ehlo_name = Some(self.host_text(&a, "ct:EhloName")?),
                Name::Ext("MailFrom") => o.mail_from = Some(self.host_text(&a, "ct:MailFrom")?),
                Name::Ext("ExpiryWarningDays") => {
                    o.expiry_warning_days =
                        Some(self.number(&a, "Target", "ct:ExpiryWarningDays", 0u32, 3650)?);
                }
                _ => return Err(self.unknown_attr(&a, "Target", TARGET_ATTRS)),
            }
        }
        if direct.is_some() || compel.is_some() {
            o.tls_mode = TlsMode::from_flags(direct == Some(true), compel == Some(true));
        }

        let mut suppress = Vec::new();
        let mut chunk: Option<Chunk> = None;
        let mut pieces: Vec<Chunk> = Vec::new();
        if !empty {
            loop {
                match self.next()? {
                    Ev::End => break,
                    Ev::Text { text, at } => self.push_text(&mut chunk, &text, at)?,
                    Ev::Start { e, at, empty } => {
                        pieces.extend(chunk.take());
                        if self.element_name(&e) != Name::Plain("Suppress") {
                            return Err(self.unexpected(&e, at, "Target", TARGET_CHILDREN));
                        }
                        if suppress.len() >= self.limits.max_conditions {
                            return Err(Error::Limit {
                                at: self.pos(at),
                                what: "Suppress conditions in one element",
                                limit: self.limits.max_conditions,
                            });
                        }
                        suppress.push(self.suppress(&e, at, empty, "Target")?);
                    }
                    Ev::Eof { at } => return Err(eof(self.pos(at), "Target")),
                }
            }
        }
        pieces.extend(chunk.take());
        let mut texts = pieces.into_iter().filter(|c| !c.text.trim().is_empty());
        let text = texts.next();
        if let Some(extra) = texts.next() {
            return Err(Error::UnexpectedText {
                at: self.pos(extra.at + leading_ws(&extra.text)),
                element: "Target",
                expected: "the target's text in one piece",
            });
        }
        let Some(text) = text else {
            return Err(Error::Missing {
                at: self.pos(at),
                element: "Target",
                what: "text: an email address, a domain, an IP address or DEFAULT",
            });
        };
        let trimmed = text.text.trim();
        if trimmed.eq_ignore_ascii_case("DEFAULT") {
            *defaults = (o, suppress);
            return Ok(None);
        }
        let text_at = text.at + leading_ws(&text.text);
        let target = Target::parse(trimmed).map_err(|e| Error::BadTarget {
            at: self.pos(text_at),
            text: trimmed.chars().take(100).collect(),
            position: e.position,
            expected: e.expected,
        })?;
        let options = o.or(&defaults.0);
        // The text's own "[host:port]" wins over a Host attribute; an IP target is its own host.
        let target = match (&options.host, target) {
            (
                Some(host),
                t @ (Target::Domain { host: None, .. } | Target::Address { host: None, .. }),
            ) => t.with_host(host.clone()).unwrap_or_else(|t| t),
            (_, t) => t,
        };
        let has_pass = options.auth_pass.is_some() || options.auth_pass_env.is_some();
        if has_pass && options.auth_user.is_none() {
            return Err(Error::Missing {
                at: self.pos(at),
                element: "Target",
                what: "AuthUser when AuthPass or ct:AuthPassEnv is given",
            });
        }
        if options.auth_user.is_some() && !has_pass {
            return Err(Error::Missing {
                at: self.pos(at),
                element: "Target",
                what: "AuthPass or ct:AuthPassEnv when AuthUser is given",
            });
        }
        if suppress.is_empty() {
            suppress = defaults.1.clone();
        }
        Ok(Some(TargetSpec {
            at: self.pos(at),
            text: trimmed.to_owned(),
            target,
            options,
            suppress,
        }))
    }

    fn suppress(
        &mut self,
        e: &BytesStart<'i>,
        at: usize,
        empty: bool,
        _parent: &'static str,
    ) -> Result<Suppress, Error> {
        let (mut function, mut test, mut value, mut field) = (None, None, None, None);
        for a in self.attrs(e, at, "Suppress")? {
            match a.name {
                Name::Plain("Function") => function = Some(a),
                Name::Plain("Test") => test = Some(a),
                Name::Plain("Value") => value = Some(a),
                Name::Ext("Field") => field = Some(a),
                _ => return Err(self.unknown_attr(&a, "Suppress", SUPPRESS_ATTRS)),
            }
        }
        let missing = |what| Error::Missing {
            at: self.pos(at),
            element: "Suppress",
            what,
        };
        let function_a = function
            .ok_or_else(|| missing("a Function attribute (minimum, maximum, average or count)"))?;
        let test_a = test.ok_or_else(|| missing("a Test attribute (eq, ne, lt, le, gt or ge)"))?;
        let value_a = value.ok_or_else(|| missing("a Value attribute"))?;
        let function = Function::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(function_a.value.trim()))
            .map(|(f, _)| *f)
            .ok_or_else(|| self.bad(&function_a, "Suppress", "Function", FUNCTIONS))?;
        let test = Test::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(test_a.value.trim()))
            .map(|(t, _)| *t)
            .ok_or_else(|| self.bad(&test_a, "Suppress", "Test", TESTS))?;
        let field = match &field {
            None => Field::Score,
            Some(_) if function == Function::Count => {
                return Err(self.bad(
                    field.as_ref().unwrap_or(&function_a),
                    "Suppress",
                    "ct:Field",
                    "no ct:Field with Function=\"count\" (count counts result lines)",
                ));
            }
            Some(f) => f
                .value
                .parse::<Field>()
                .map_err(|()| self.bad(f, "Suppress", "ct:Field", Field::EXPECTED))?,
        };
        let kind = if function == Function::Count {
            FieldKind::Number
        } else {
            field.kind()
        };
        if function == Function::Average && matches!(kind, FieldKind::Version | FieldKind::Text) {
            return Err(self.bad(
                &function_a,
                "Suppress",
                "Function",
                format!("minimum, maximum or count for the field {field} (it has no average)"),
            ));
        }
        let value = Value::parse(kind, &value_a.value).ok_or_else(|| {
            let expected = match kind {
                FieldKind::Number => "a number".to_owned(),
                FieldKind::Bool => "true or false, or a number".to_owned(),
                FieldKind::Version => {
                    "a TLS version: SSLv2, SSLv3, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3".to_owned()
                }
                FieldKind::Text => "text".to_owned(),
            };
            self.bad(&value_a, "Suppress", "Value", expected)
        })?;
        self.empty_content("Suppress", empty)?;
        Ok(Suppress {
            at: self.pos(at),
            function,
            field,
            test,
            value,
        })
    }

    fn total(&mut self, e: &BytesStart<'i>, at: usize, empty: bool) -> Result<Total, Error> {
        let mut total = Total {
            at: self.pos(at),
            ..Total::default()
        };
        let mut function = None;
        for a in self.attrs(e, at, "Total")? {
            match a.name {
                Name::Plain("Function") => {
                    function = Some(match a.value.trim().to_ascii_lowercase().as_str() {
                        "average" => TotalFunction::Average,
                        "minimum" => TotalFunction::Minimum,
                        "maximum" => TotalFunction::Maximum,
                        _ => {
                            return Err(self.bad(
                                &a,
                                "Total",
                                "Function",
                                "one of average, minimum, maximum",
                            ));
                        }
                    });
                }
                Name::Ext("Test") => {
                    total.test = Test::ALL
                        .iter()
                        .find(|(_, n)| n.eq_ignore_ascii_case(a.value.trim()))
                        .map(|(t, _)| *t)
                        .ok_or_else(|| self.bad(&a, "Total", "ct:Test", TESTS))?;
                }
                Name::Ext("Value") => {
                    total.threshold = a
                        .value
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| self.bad(&a, "Total", "ct:Value", "a number"))?;
                }
                _ => return Err(self.unknown_attr(&a, "Total", TOTAL_ATTRS)),
            }
        }
        total.function = function.ok_or(Error::Missing {
            at: self.pos(at),
            element: "Total",
            what: "a Function attribute (average, minimum or maximum)",
        })?;
        self.empty_content("Total", empty)?;
        Ok(total)
    }

    fn delivery(&mut self, e: &BytesStart<'i>, at: usize, empty: bool) -> Result<Delivery, Error> {
        let mut d = Delivery {
            at: self.pos(at),
            ..Delivery::default()
        };
        for a in self.attrs(e, at, "Delivery")? {
            match a.name {
                Name::Ext("Subject") => {
                    d.subject = Some(self.line_text(&a, "Delivery", "ct:Subject")?)
                }
                _ => return Err(self.unknown_attr(&a, "Delivery", DELIVERY_ATTRS)),
            }
        }
        let mut format_seen = false;
        let mut only_at = None;
        if !empty {
            loop {
                match self.next()? {
                    Ev::End => break,
                    Ev::Text { text, at } => {
                        if !text.trim().is_empty() {
                            return Err(Error::UnexpectedText {
                                at: self.pos(at + leading_ws(&text)),
                                element: "Delivery",
                                expected: DELIVERY_CHILDREN,
                            });
                        }
                    }
                    Ev::Start { e, at, empty } => match self.element_name(&e) {
                        Name::Plain("To") => {
                            let (text, text_at) = self.text_element(&e, at, empty, "To")?;
                            if d.to.len() >= self.limits.max_recipients {
                                return Err(Error::Limit {
                                    at: self.pos(at),
                                    what: "recipients in one Delivery",
                                    limit: self.limits.max_recipients,
                                });
                            }
                            let to = if text.eq_ignore_ascii_case("File") {
                                Recipient::File
                            } else {
                                match Target::parse(&text) {
                                    Ok(Target::Address { host: None, .. }) => {
                                        Recipient::Email(text)
                                    }
                                    _ => {
                                        return Err(Error::BadValue {
                                            at: self.pos(text_at),
                                            element: "To",
                                            name: "text",
                                            value: text.chars().take(100).collect(),
                                            expected: "an email address or File".to_owned(),
                                        });
                                    }
                                }
                            };
                            d.to.push(to);
                        }
                        Name::Plain("Format") => {
                            if format_seen {
                                return Err(Error::Repeated {
                                    at: self.pos(at),
                                    element: "Format",
                                    parent: "Delivery",
                                });
                            }
                            format_seen = true;
                            let (text, text_at) = self.text_element(&e, at, empty, "Format")?;
                            d.format = text.parse().map_err(|()| Error::BadValue {
                                at: self.pos(text_at),
                                element: "Format",
                                name: "text",
                                value: text.chars().take(100).collect(),
                                expected: FORMATS.to_owned(),
                            })?;
                        }
                        Name::Plain("Suppress") => {
                            if d.suppress.len() >= self.limits.max_conditions {
                                return Err(Error::Limit {
                                    at: self.pos(at),
                                    what: "Suppress conditions in one element",
                                    limit: self.limits.max_conditions,
                                });
                            }
                            let s = self.suppress(&e, at, empty, "Delivery")?;
                            d.suppress.push(s);
                        }
                        Name::Plain(which @ ("OnlyNode" | "OnlyField")) => {
                            let element = if which == "OnlyNode" {
                                "OnlyNode"
                            } else {
                                "OnlyField"
                            };
                            let (text, text_at) = self.text_element(&e, at, empty, element)?;
                            if text.is_empty()
                                || text.len() > 64
                                || !text
                                    .chars()
                                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
                            {
                                return Err(Error::BadValue {
                                    at: self.pos(text_at),
                                    element,
                                    name: "text",
                                    value: text.chars().take(100).collect(),
                                    expected: "an element or field name (letters, digits, _ - .)"
                                        .to_owned(),
                                });
                            }
                            if d.only_nodes.len() + d.only_fields.len()
                                >= self.limits.max_conditions
                            {
                                return Err(Error::Limit {
                                    at: self.pos(at),
                                    what: "OnlyNode and OnlyField elements in one Delivery",
                                    limit: self.limits.max_conditions,
                                });
                            }
                            only_at.get_or_insert((at, element));
                            if element == "OnlyNode" {
                                d.only_nodes.push(text);
                            } else {
                                d.only_fields.push(text);
                            }
                        }
                        _ => return Err(self.unexpected(&e, at, "Delivery", DELIVERY_CHILDREN)),
                    },
                    Ev::Eof { at } => return Err(eof(self.pos(at), "Delivery")),
                }
            }
        }
        if d.to.is_empty() {
            return Err(Error::Missing {
                at: self.pos(at),
                element: "Delivery",
                what: "at least one <To> (an email address or File)",
            });
        }
        if let Some((only, element)) = only_at
            && !d.format.selectable()
        {
            return Err(Error::UnexpectedElement {
                at: self.pos(only),
                found: element.to_owned(),
                parent: "Delivery",
                expected: "OnlyNode and OnlyField only with the xml, xml-score, xml-matrix or json format",
            });
        }
        Ok(d)
    }

    /// An element holding text only; returns the trimmed text and where it starts.
    fn text_element(
        &mut self,
        e: &BytesStart<'i>,
        at: usize,
        empty: bool,
        element: &'static str,
    ) -> Result<(String, usize), Error> {
        if let Some(a) = self.attrs(e, at, element)?.first() {
            return Err(self.unknown_attr(a, element, "no attributes"));
        }
        let mut chunk: Option<Chunk> = None;
        if !empty {
            loop {
                match self.next()? {
                    Ev::End => break,
                    Ev::Text { text, at } => self.push_text(&mut chunk, &text, at)?,
                    Ev::Start { e, at, .. } => {
                        return Err(self.unexpected(&e, at, element, "text only"));
                    }
                    Ev::Eof { at } => return Err(eof(self.pos(at), element)),
                }
            }
        }
        match chunk {
            Some(c) if !c.text.trim().is_empty() => {
                Ok((c.text.trim().to_owned(), c.at + leading_ws(&c.text)))
            }
            _ => Err(Error::Missing {
                at: self.pos(at),
                element,
                what: "text",
            }),
        }
    }

    fn redacted(&self) -> Arc<str> {
        if self.secrets.is_empty() {
            return Arc::from(self.src);
        }
        let mut out = String::with_capacity(self.src.len());
        let mut last = 0;
        for span in &self.secrets {
            if span.start < last {
                continue;
            }
            out.push_str(self.src.get(last..span.start).unwrap_or_default());
            out.push_str(REDACTED);
            last = span.end;
        }
        out.push_str(self.src.get(last..).unwrap_or_default());
        Arc::from(out)
    }
}

fn leading_ws(s: &str) -> usize {
    s.len() - s.trim_start().len()
}

fn eof(at: Position, element: &'static str) -> Error {
    Error::Malformed {
        at,
        detail: format!("the file ends inside <{element}>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The parser's indexed positions agree with the plain scan of `Position::of`, for
        /// offsets in any order (BOM, multi-byte characters and CRLF included).
        #[test]
        fn indexed_positions_match_the_plain_scan(
            src in "\u{feff}?([a-z<>\"=é€\r\n ]{0,40}\n){0,20}",
            offsets in proptest::collection::vec(0usize..1200, 1..30),
        ) {
            let limits = Limits::default();
            let parser = Parser {
                src: &src,
                base: 0,
                reader: NsReader::from_str(&src),
                limits: &limits,
                secrets: Vec::new(),
                line_starts: std::cell::OnceCell::new(),
            };
            for offset in offsets {
                prop_assert_eq!(parser.pos(offset), Position::of(&src, offset));
            }
        }
    }
}
