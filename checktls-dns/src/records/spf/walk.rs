//! The recursive lookup count (RFC 7208 §4.6.4): a sans-I/O machine that walks `include` and
//! `redirect`, asking one DNS question at a time, and counts the DNS-querying terms (at most
//! [`LOOKUP_LIMIT`]) and the void lookups (at most [`VOID_LIMIT`]).
//!
//! ```text
//!   SpfWalk::new(domain) ─► next_query() ─► SpfQuery ─► (resolver, or a test's closure)
//!          ▲                                                  │
//!          └──────────────── reply(SpfReply) ◄────────────────┘
//!   finish() ─► SpfLookups { lookups, void_lookups, tree of SpfNode, findings }
//! ```
//!
//! The syntax it reads is the parent module's ([`parse`](super::parse)).

use serde::{Deserialize, Serialize};

use super::*;

/// A question the walk needs answered.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "query", content = "name", rename_all = "snake_case")]
pub enum SpfQuery {
    /// The TXT RRset of a domain (the record to follow for `include` or `redirect`).
    Txt(DomainName),
    /// Whether a domain has MX records, and how many (for `mx`).
    Mx(DomainName),
    /// Whether a domain has A or AAAA records (for `a` and `exists`).
    Address(DomainName),
}

/// The answer to an [`SpfQuery`].
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "reply", content = "data", rename_all = "snake_case")]
pub enum SpfReply {
    /// The TXT strings of each record (for [`SpfQuery::Txt`]).
    Txt(Vec<String>),
    /// Records exist: how many (for [`SpfQuery::Mx`] and [`SpfQuery::Address`]).
    Found(usize),
    /// The name exists without records of the type.
    NoData,
    /// The name does not exist.
    NxDomain,
    /// The lookup failed for now (timeout, SERVFAIL).
    TempError,
}

/// How a record was reached.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The domain checked.
    Root,
    /// An `include`.
    Include,
    /// A `redirect`.
    Redirect,
}

/// One record met on the walk.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SpfNode {
    /// Whose record.
    pub domain: DomainName,
    /// How it was reached.
    pub via: Via,
    /// Depth below the checked domain (0 for it).
    pub depth: usize,
    /// The index of the node that included or redirected to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<usize>,
    /// The record text, if one was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// DNS-querying terms counted in this record.
    pub lookups: u32,
}

/// The result of a walk.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SpfLookups {
    /// DNS-querying terms counted, through includes and redirects (limit 10).
    pub lookups: u32,
    /// Lookups that found nothing (limit 2).
    pub void_lookups: u32,
    /// The records met, in evaluation order.
    pub nodes: Vec<SpfNode>,
    /// What was noticed (limits exceeded, missing include targets, loops, temporary errors).
    pub findings: Vec<Finding>,
    /// Whether every record reachable was followed (false if the walk stopped at its bounds or
    /// on temporary errors, so `lookups` is a lower bound).
    pub complete: bool,
}

impl SpfLookups {
    /// Whether a receiver would return permerror because of the limits.
    pub fn exceeds_limits(&self) -> bool {
        self.lookups > LOOKUP_LIMIT || self.void_lookups > VOID_LIMIT
    }
}

/// The most records the walk follows, and the most DNS-querying terms it counts before it stops
/// asking: bounds against hostile or looping record sets.
const MAX_NODES: usize = 64;
pub(super) const MAX_COUNTED: u32 = 50;

#[derive(Debug)]
struct Frame {
    node: usize,
    domain: DomainName,
    terms: Vec<Term>,
    next: usize,
}

#[derive(Debug)]
enum Pending {
    Record {
        domain: DomainName,
        via: Via,
        parent: Option<usize>,
        depth: usize,
    },
    Void {
        query: SpfQuery,
        term: String,
    },
}

/// The recursive lookup count as a state machine: call [`next_query`](Self::next_query), answer
/// with [`reply`](Self::reply), until `next_query` gives `None`; then [`finish`](Self::finish).
/// Terms are visited in evaluation order, so the term that crosses a limit is the one a receiver
/// would stop at.
#[derive(Debug)]
pub struct SpfWalk {
    root: DomainName,
    started: bool,
    stack: Vec<Frame>,
    pending: Option<Pending>,
    out: SpfLookups,
    stopped: bool,
}

impl SpfWalk {
    /// A walk from `domain`'s own record.
    pub fn new(domain: DomainName) -> Self {
        Self {
            root: domain,
            started: false,
            stack: Vec::new(),
            pending: None,
            out: SpfLookups {
                complete: true,
                ..SpfLookups::default()
            },
            stopped: false,
        }
    }

    /// The next question, or `None` when the walk is over. Until it is answered the same
    /// question is returned again.
    pub fn next_query(&mut self) -> Option<SpfQuery> {
        if let Some(p) = &self.pending {
            return Some(match p {
                Pending::Record { domain, .. } => SpfQuery::Txt(domain.clone()),
                Pending::Void { query, .. } => query.clone(),
            });
        }
        if !self.started {
            self.started = true;
            self.pending = Some(Pending::Record {
                domain: self.root.clone(),
                via: Via::Root,
                parent: None,
                depth: 0,
            });
            return Some(SpfQuery::Txt(self.root.clone()));
        }
        loop {
            let frame = self.stack.last_mut()?;
            let Some(t) = frame.terms.get(frame.next).cloned() else {
                let frame = self.stack.pop()?;
                let redirect = frame.terms.iter().find_map(|t| match t {
                    Term::Redirect { domain } => Some(domain.clone()),
                    _ => None,
                });
                let has_all = frame.terms.iter().any(|t| {
                    matches!(
                        t,
                        Term::Directive {
                            mechanism: Mechanism::All,
                            ..
                        }
                    )
                });
                if let (Some(spec), false) = (redirect, has_all) {
                    let term = format!("redirect={spec}");
                    if let Some(q) = self.follow(&frame, &spec, Via::Redirect, &term) {
                        return Some(q);
                    }
                }
                continue;
            };
            frame.next += 1;
            let (node, domain) = (frame.node, frame.domain.clone());
            let Term::Directive { mechanism, .. } = &t else {
                continue;
            };
            if !mechanism.queries_dns() {
                continue;
            }
            let term = t.to_string();
            self.count(node, &term, &domain);
            let (spec, query): (Option<&str>, fn(DomainName) -> SpfQuery) = match mechanism {
                Mechanism::Include { domain: spec } => {
                    let frame = Frame {
                        node,
                        domain: domain.clone(),
                        terms: Vec::new(),
                        next: 0,
                    };
                    if let Some(q) = self.follow_uncounted(&frame, spec, Via::Include, &term) {
                        return Some(q);
                    }
                    continue;
                }
                Mechanism::A { domain: spec, .. } => (spec.as_deref(), SpfQuery::Address),
                Mechanism::Mx { domain: spec, .. } => (spec.as_deref(), SpfQuery::Mx),
                Mechanism::Exists { domain: spec } => (Some(spec.as_str()), SpfQuery::Address),
                _ => continue, // ptr needs the client's address
            };
            if self.stopped {
                continue;
            }
            let target = match spec {
                None => domain,
                Some(s) if s.contains('%') => continue,
                Some(s) => match DomainName::parse(s) {
                    Ok(d) => d,
                    Err(_) => continue,
                },
            };
            let q = query(target);
            self.pending = Some(Pending::Void {
                query: q.clone(),
                term,
            });
            return Some(q);
        }
    }

    /// Counts a term and, for `redirect`, sets up the record lookup.
    fn follow(&mut self, frame: &Frame, spec: &str, via: Via, term: &str) -> Option<SpfQuery> {
        self.count(frame.node, term, &frame.domain);
        self.follow_uncounted(frame, spec, via, term)
    }

    fn follow_uncounted(
        &mut self,
        frame: &Frame,
        spec: &str,
        via: Via,
        term: &str,
    ) -> Option<SpfQuery> {
        if spec.contains('%') || self.stopped {
            return None;
        }
        let Ok(target) = DomainName::parse(spec) else {
            return None;
        };
        if self.stack.iter().any(|f| f.domain == target) || frame.domain == target {
            self.out.findings.push(Finding::error(
                "spf.loop",
                format!(
                    "{term} in {} leads back to a record already being evaluated",
                    frame.domain
                ),
            ));
            return None;
        }
        if self.out.nodes.len() >= MAX_NODES {
            self.stop(format!("the walk stopped after {MAX_NODES} records"));
            return None;
        }
        let depth = self.out.nodes.get(frame.node).map_or(0, |n| n.depth + 1);
        self.pending = Some(Pending::Record {
            domain: target.clone(),
            via,
            parent: Some(frame.node),
            depth,
        });
        Some(SpfQuery::Txt(target))
    }

    fn count(&mut self, node: usize, term: &str, domain: &DomainName) {
        self.out.lookups += 1;
        if let Some(n) = self.out.nodes.get_mut(node) {
            n.lookups += 1;
        }
        if self.out.lookups == LOOKUP_LIMIT + 1 {
            self.out.findings.push(Finding::error(
                "spf.too_many_lookups",
                format!(
                    "{term} in {domain} is DNS-querying term number {}: receivers return permerror after {LOOKUP_LIMIT} (RFC 7208 §4.6.4)",
                    LOOKUP_LIMIT + 1
                ),
            ));
        }
        if self.out.lookups >= MAX_COUNTED && !self.stopped {
            self.stop(format!(
                "the walk stopped asking after {MAX_COUNTED} DNS-querying terms"
            ));
        }
    }

    fn stop(&mut self, why: String) {
        if !self.stopped {
            self.stopped = true;
            self.out.complete = false;
            self.out
                .findings
                .push(Finding::warning("spf.walk_stopped", why));
        }
    }

    fn void(&mut self, what: String) {
        self.out.void_lookups += 1;
        if self.out.void_lookups == VOID_LIMIT + 1 {
            self.out.findings.push(Finding::error(
                "spf.too_many_void_lookups",
                format!(
                    "{what} is void lookup number {}: receivers may return permerror after {VOID_LIMIT} (RFC 7208 §4.6.4)",
                    VOID_LIMIT + 1
                ),
            ));
        }
    }

    /// Answers the question last returned by [`next_query`](Self::next_query). A reply with no
    /// question outstanding is ignored.
    pub fn reply(&mut self, reply: SpfReply) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        match pending {
            Pending::Void { query, term } => match reply {
                SpfReply::NoData | SpfReply::NxDomain => {
                    self.void(format!("{term} (nothing at the name)"));
                }
                SpfReply::Found(n) => {
                    if matches!(query, SpfQuery::Mx(_)) && n > 10 {
                        self.out.findings.push(Finding::error(
                            "spf.mx_too_many",
                            format!("{term}: {n} MX records; receivers return permerror over 10 (RFC 7208 §4.6.4)"),
                        ));
                    }
                }
                SpfReply::TempError => {
                    self.out.complete = false;
                    self.out.findings.push(Finding::warning(
                        "spf.temperror",
                        format!("{term}: the lookup failed for now"),
                    ));
                }
                SpfReply::Txt(_) => {}
            },
            Pending::Record {
                domain,
                via,
                parent,
                depth,
            } => {
                let index = self.out.nodes.len();
                let mut node = SpfNode {
                    domain: domain.clone(),
                    via,
                    depth,
                    parent,
                    record: None,
                    lookups: 0,
                };
                let what = match via {
                    Via::Root => "the domain".to_owned(),
                    Via::Include => format!("include:{domain}"),
                    Via::Redirect => format!("redirect={domain}"),
                };
                let missing = |why: &str| {
                    Finding::error(
                        "spf.target_without_record",
                        format!(
                            "{what} has {why}: receivers return permerror (RFC 7208 §5.2, §6.1)"
                        ),
                    )
                };
                match reply {
                    SpfReply::Txt(texts) => {
                        let parsed = check(&texts);
                        match parsed.value {
                            Some(record) => {
                                node.record = Some(record.to_string());
                                self.out.nodes.push(node);
                                self.stack.push(Frame {
                                    node: index,
                                    domain,
                                    terms: record.terms,
                                    next: 0,
                                });
                            }
                            None => {
                                self.out.nodes.push(node);
                                if via == Via::Root {
                                    self.out.findings.extend(parsed.findings);
                                } else {
                                    self.out.findings.push(missing("no valid SPF record"));
                                }
                            }
                        }
                    }
                    SpfReply::NoData | SpfReply::NxDomain | SpfReply::Found(_) => {
                        self.out.nodes.push(node);
                        if via == Via::Root {
                            self.out
                                .findings
                                .push(Finding::error("spf.missing", "no SPF record"));
                        } else {
                            self.void(what.clone());
                            self.out.findings.push(missing("no SPF record"));
                        }
                    }
                    SpfReply::TempError => {
                        self.out.nodes.push(node);
                        self.out.complete = false;
                        self.out.findings.push(Finding::warning(
                            "spf.temperror",
                            format!("{what}: the lookup failed for now"),
                        ));
                    }
                }
            }
        }
    }

    /// The result.
    pub fn finish(self) -> SpfLookups {
        let mut out = self.out;
        if self.pending.is_some() || !self.stack.is_empty() {
            out.complete = false;
        }
        out
    }
}

/// Runs a whole walk over a synchronous lookup function.
pub fn walk(domain: &DomainName, mut lookup: impl FnMut(&SpfQuery) -> SpfReply) -> SpfLookups {
    let mut w = SpfWalk::new(domain.clone());
    while let Some(q) = w.next_query() {
        let r = lookup(&q);
        w.reply(r);
    }
    w.finish()
}
