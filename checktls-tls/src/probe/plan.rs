//! The enumeration planner: which hello to send next, given what was learnt. Pure: no I/O,
//! no clock; the driver asks for steps, runs them on connections and reports outcomes.
//!
//! ```text
//!   Planner::new(options)
//!   loop { next_step() ─► Some(Step { id, probe }) ─► driver runs it ─► learn(id, Outcome) }
//!   finish() ─► ProbeReport
//!
//!   per version V (TLS 1.2 first: its chain is the longest)
//!     offer S (all suites) ─► chosen c ─► offer S − {c} ─► … ─► refused     N+1 hellos
//!     from the third hello on, two found ride at the end, the later found first:
//!       S' + [f2, f1] ─► a candidate: client order │ f2: client order, none left │ f1: server
//!       order (once told, no more pairs)
//!     (a server whose picks leave the offered order shows its own at once: no pair)
//!     a TLS 1.2 chain in the client's order, 8 found: the candidates left split in two
//!     halves enumerated side by side (one more refusal, half the chain's length)
//!   TLS 1.3: the chain's second hello offers the groups reversed ─► the same group: server
//!     order (or one group); another: client order, and a second group found
//!   TLS 1.3 groups: supported_groups G, no key share ─► HelloRetryRequest(g) ─► G − {g} ─► …
//!   TLS 1.2 groups: ECDHE suites only (the anonymous ones if accepted: no signature),
//!     supported_groups G ─► ServerKeyExchange(g) ─► … ; each first group is the chain's
//!   once every version's first answer is in: TLS_FALLBACK_SCSV (unless every TLS 1.2
//!     ServerHello of a TLS 1.3 server carried RFC 8446's downgrade sentinel), Heartbleed
//!     (only if a ServerHello echoed the heartbeat extension of each version's first hello),
//!     ROBOT
//!   CCS injection rides on a TLS 1.2 chain hello; the handshakes and resumptions start once
//!     the TLS 1.2 chain found a suite they can complete
//! ```
//!
//! The riding tests spare 10 connections for Postfix's defaults (117 with the split, instead
//! of 126), and the handshakes are asked first so their sequence makes no tail.

use std::collections::HashMap;

use rustls_pki_types::CertificateDer;

use super::exchange::{
    CcsExchange, CcsResult, Conversation, HeartbleedExchange, HeartbleedResult, HelloExchange,
    HelloForm, Outcome,
};
use super::hello::{ClientHello, ext};
use super::parse::{
    KeyExchangeParams, ServerAnswer, ServerFlight, alert_name, server_key_exchange,
};
use super::suites::{self, Authentication, GroupKind, KeyExchange, Mode};
use super::{
    Check, Checks, Completion, GroupsResult, Preference, ProbeReport, ServedChain,
    SuiteKeyExchange, Verdict, VersionResult,
};
use crate::version::{CipherSuite, NamedGroup, TlsVersion};

/// What to probe.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PlanOptions {
    /// The versions to enumerate, in the order reported.
    pub versions: Vec<TlsVersion>,
    /// The SNI name.
    pub sni: Option<String>,
    /// The most suites listed per version (each costs a connection). Default: all.
    pub max_suites: usize,
    /// The most connections in all. Default: 1000.
    pub max_connections: usize,
    /// Enumerate key-exchange groups. Default: true.
    pub groups: bool,
    /// Test whose order chooses the suite and the group (one hello each). Default: true.
    pub preference: bool,
    /// Run the checks (fallback, Heartbleed, CCS injection). Default: true.
    pub checks: bool,
    /// Send SSLv3 to TLS 1.2 hellos in the SSLv2-compatible format (no extensions).
    pub ssl2_compatible: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        let mut versions = TlsVersion::ALL.to_vec();
        versions.reverse();
        Self {
            versions,
            sni: None,
            max_suites: usize::MAX,
            max_connections: 1000,
            groups: true,
            preference: true,
            checks: true,
            ssl2_compatible: false,
        }
    }
}

/// What one connection does.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Probe {
    /// Send a hello, read the first flight.
    Hello(HelloForm),
    /// The Heartbleed check with this hello.
    Heartbleed(ClientHello),
    /// The CCS injection check with this hello.
    Ccs(ClientHello),
    /// An enumeration hello that the CCS injection check rides on: the answer serves the
    /// enumeration, the rest of the connection the check.
    CcsRiding(ClientHello),
    /// A full TLS 1.2 handshake offering these suites (SNI; asking for a ticket when true),
    /// then a renegotiation attempt.
    Handshake(Vec<u16>, Option<String>, bool),
    /// One ROBOT variant with this hello (RSA key-exchange suites only).
    Robot(ClientHello, super::robot::Variant),
}

impl Probe {
    /// The conversation that carries it out.
    pub fn conversation(&self) -> Box<dyn Conversation> {
        match self {
            Self::Hello(form) => Box::new(HelloExchange::new(form.clone())),
            Self::Heartbleed(h) => Box::new(HeartbleedExchange::new(h.clone())),
            Self::Ccs(h) => Box::new(CcsExchange::new(h.clone())),
            Self::CcsRiding(h) => Box::new(CcsExchange::riding(h.clone())),
            Self::Robot(h, v) => Box::new(super::robot::RobotExchange::new(h.clone(), *v)),
            Self::Handshake(suites, sni, ticket) => Box::new(super::tls12::HandshakeExchange::new(
                suites,
                sni.clone(),
                *ticket,
            )),
        }
    }
}

/// One connection to make.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Step {
    /// Its id, for [`Planner::learn`].
    pub id: usize,
    /// What it does.
    pub probe: Probe,
    /// What it is for, for progress displays (`TLSv1.2 suites`, `heartbleed`, ...).
    pub label: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Chain(usize),
    ChainCcs(usize),
    ChainSecond(usize),
    Reorder(usize),
    Groups13,
    Groups13Order,
    Groups12,
    Fallback,
    Heartbleed,
    Ccs,
    Handshake,
    TicketHandshake,
    ResumeId,
    ResumeTicket,
    Robot(usize),
}

#[derive(Debug, Default)]
struct Chain {
    version: Option<TlsVersion>,
    offered: Vec<u16>,
    found: Vec<u16>,
    ssl2: Vec<[u8; 3]>,
    kx: Vec<SuiteKeyExchange>,
    busy: bool,
    done: bool,
    answered: bool,
    refusal: Option<String>,
    truncated: bool,
    preference: Preference,
    reorder: Task,
    chain: Vec<Vec<u8>>,
    /// A flight at this version came whole (ServerHelloDone, a resumption's CCS, SSLv2).
    complete: bool,
    /// A flight at this version was cut short after the ServerHello: why.
    cut: Option<String>,
    /// The first two suites found, appended (second, first) after the candidates of the hello
    /// in flight: the preference test riding on the chain.
    pair: Option<(u16, u16)>,
    /// The group of the first flight with one (TLS 1.3: the HelloRetryRequest's; older: an
    /// ECDHE ServerKeyExchange's), every group offered: the group enumeration's first answer.
    first_group: Option<u16>,
    /// Hellos answered (with anything).
    answers: usize,
    /// The hello in flight offers every group in reverse order (TLS 1.3's second hello).
    reversing: bool,
    /// The group its HelloRetryRequest named: the first group again if the server follows its
    /// own order (or has one group), another if it follows the client's.
    reversed_group: Option<u16>,
    /// The later half of the candidates, enumerated beside the first on the other connection
    /// once the server is known to follow the client's order (so each half's picks come in
    /// the order offered, and the halves in turn).
    second: Option<Half>,
    /// The first half is done (`done` is the whole chain's, once split).
    first_done: bool,
}

/// The second half of a split chain.
#[derive(Debug, Default)]
struct Half {
    offered: Vec<u16>,
    busy: bool,
    done: bool,
}

/// A chain is split in two once it has found this many suites in the client's order: it is a
/// long one, and the connection beside it would otherwise wait at its end.
const SPLIT_AFTER: usize = 8;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Task {
    #[default]
    Waiting,
    Running,
    Done,
}

#[derive(Debug, Default)]
struct GroupChain {
    remaining: Vec<u16>,
    found: Vec<u16>,
    state: Task,
    busy: bool,
    order: Task,
    preference: Preference,
    version: Option<TlsVersion>,
    /// As [`Chain::pair`], for the groups.
    pair: Option<(u16, u16)>,
}

/// What the ServerHellos said, across the enumeration.
#[derive(Debug, Default)]
struct Flags {
    tls_hellos: usize,
    renegotiation_info: usize,
    compression: usize,
    ems: usize,
    cbc: usize,
    etm: usize,
    tickets: usize,
    staples: usize,
    staple: Option<Vec<u8>>,
    /// ServerHellos that echoed the heartbeat extension (offered in each version's first hello).
    heartbeats: usize,
    /// TLS 1.2 ServerHellos, and those whose random ends with RFC 8446's downgrade sentinel.
    tls12_hellos: usize,
    tls12_sentinels: usize,
}

/// The enumeration planner.
#[derive(Debug)]
pub struct Planner {
    options: PlanOptions,
    chains: Vec<Chain>,
    groups13: GroupChain,
    groups12: GroupChain,
    fallback: Task,
    heartbleed: Task,
    ccs: Task,
    handshake: Task,
    completed: Option<super::tls12::Completed>,
    ticket_handshake: Task,
    ticket: Option<(u16, Vec<u8>)>,
    resumed_ticket: Option<Check>,
    /// ROBOT: per connection (two rounds of the five variants at most), the answer.
    robot: Vec<Option<String>>,
    robot_issued: usize,
    /// The version and suites every ROBOT variant offers, fixed when the first is sent.
    robot_hello: Option<(TlsVersion, Vec<u16>)>,
    resume_id: Task,
    resume_ticket: Task,
    checks: Checks,
    flags: Flags,
    served: Vec<ServedChain>,
    running: HashMap<usize, Purpose>,
    next_id: usize,
    issued: usize,
    smallest_dh: Option<u16>,
}

fn label(v: TlsVersion) -> &'static str {
    v.name()
}

impl Planner {
    /// A plan for `options`.
    pub fn new(options: PlanOptions) -> Self {
        let chains = options
            .versions
            .iter()
            .map(|&v| Chain {
                version: Some(v),
                offered: match v {
                    TlsVersion::Tls13 => suites::tls13_suites(),
                    TlsVersion::Ssl2 => Vec::new(),
                    _ => suites::legacy_suites(),
                },
                ..Chain::default()
            })
            .collect();
        let groups13 = GroupChain {
            remaining: suites::all_groups()
                .iter()
                .filter(|g| g.tls13)
                .map(|g| g.code)
                .collect(),
            ..GroupChain::default()
        };
        let groups12 = GroupChain {
            remaining: suites::all_groups()
                .iter()
                .filter(|g| g.kind == GroupKind::Ec)
                .map(|g| g.code)
                .collect(),
            ..GroupChain::default()
        };
        Self {
            options,
            chains,
            groups13,
            groups12,
            fallback: Task::Waiting,
            heartbleed: Task::Waiting,
            ccs: Task::Waiting,
            handshake: Task::Waiting,
            completed: None,
            ticket_handshake: Task::Waiting,
            ticket: None,
            resumed_ticket: None,
            robot: Vec::new(),
            robot_issued: 0,
            robot_hello: None,
            resume_id: Task::Waiting,
            resume_ticket: Task::Waiting,
            checks: Checks::default(),
            flags: Flags::default(),
            served: Vec::new(),
            running: HashMap::new(),
            next_id: 0,
            issued: 0,
            smallest_dh: None,
        }
    }

    /// Connections asked for so far.
    pub fn issued(&self) -> usize {
        self.issued
    }

    /// Whether every task is done and nothing runs.
    pub fn is_done(&self) -> bool {
        self.running.is_empty() && self.peek().is_none()
    }

    fn hello(&self, version: TlsVersion, suites: Vec<u16>) -> ClientHello {
        let mut h = ClientHello::new(version, suites);
        h.sni = self.options.sni.clone();
        if version <= TlsVersion::Tls12 {
            h.offer_compression = true;
            h.status_request = true;
            h.session_ticket = Some(Vec::new());
            h.extended_master_secret = true;
            h.encrypt_then_mac = true;
        } else {
            // No key share: the server answers with a HelloRetryRequest naming its suite and
            // group, and spends no signature or key exchange on a hello that goes no further.
            h.key_shares = Some(Vec::new());
        }
        h
    }

    fn form(&self, h: ClientHello) -> HelloForm {
        if self.options.ssl2_compatible
            && (TlsVersion::Ssl3..=TlsVersion::Tls12).contains(&h.version)
        {
            HelloForm::Ssl2Compatible(h)
        } else {
            HelloForm::Tls(h)
        }
    }

    fn chain_index(&self, v: TlsVersion) -> Option<usize> {
        self.chains.iter().position(|c| c.version == Some(v))
    }

    fn accepted(&self, v: TlsVersion) -> bool {
        self.chain_index(v)
            .and_then(|i| self.chains.get(i))
            .is_some_and(|c| !c.found.is_empty() || !c.ssl2.is_empty())
    }

    /// The newest of TLS 1.0 to 1.2 accepted, once each has answered: where ECDHE groups are
    /// enumerated (as sslyze does, at the newest version below TLS 1.3).
    fn ecdhe_version(&self) -> Option<TlsVersion> {
        for v in [TlsVersion::Tls12, TlsVersion::Tls11, TlsVersion::Tls10] {
            let c = self.chain_index(v).and_then(|i| self.chains.get(i))?;
            if !c.answered && !c.done {
                return None;
            }
            if !c.found.is_empty() {
                return Some(v);
            }
        }
        None
    }

    /// The newest version of SSLv3 to TLS 1.2 with RSA key-exchange suites, and those found so
    /// far; `None` while a newer version's chain may still find some.
    fn robot_target(&self) -> Option<(TlsVersion, Vec<u16>)> {
        if let Some(fixed) = &self.robot_hello {
            return Some(fixed.clone());
        }
        for v in [
            TlsVersion::Tls12,
            TlsVersion::Tls11,
            TlsVersion::Tls10,
            TlsVersion::Ssl3,
        ] {
            let Some(c) = self.chain_index(v).and_then(|i| self.chains.get(i)) else {
                continue;
            };
            let rsa: Vec<u16> = c
                .found
                .iter()
                .copied()
                .filter(|s| suites::suite(*s).is_some_and(|i| i.kx == KeyExchange::Rsa))
                .collect();
            if !rsa.is_empty() {
                return Some((v, rsa));
            }
            if !c.done {
                return None;
            }
        }
        None
    }

    /// Whether chain `c`'s next hello offers the groups in reverse: TLS 1.3's second, once the
    /// first named a group. It tests whose order chooses the group, and finds a second group
    /// when the client's does, on a connection the suite enumeration makes anyway.
    fn reverses(&self, c: &Chain) -> bool {
        self.options.groups
            && c.version == Some(TlsVersion::Tls13)
            && c.answers == 1
            && c.found.len() == 1
            && c.first_group.is_some()
            && c.reversed_group.is_none()
    }

    /// The TLS 1.3 chain, if TLS 1.3 is probed.
    fn chain13(&self) -> Option<&Chain> {
        self.chain_index(TlsVersion::Tls13)
            .and_then(|i| self.chains.get(i))
    }

    /// The pair appended to chain `c`'s next hello: two suites found, the later found first.
    /// A server following the client's order picks the later once no candidate is left; one
    /// following its own picks the earlier at once (it preferred it to the later, and to every
    /// candidate, when it chose it). Any two found will do, so the two cheapest for the
    /// server to answer are taken: the last hello of a client-order chain is answered with
    /// the later one's whole flight.
    fn pair_for(&self, c: &Chain) -> Option<(u16, u16)> {
        if !self.options.preference || c.reorder != Task::Waiting || c.found.len() < 2 {
            return None;
        }
        let mut by_cost: Vec<(u8, usize)> = c
            .found
            .iter()
            .enumerate()
            .map(|(i, s)| (answer_cost(*s), i))
            .collect();
        by_cost.sort_unstable();
        let (mut i, mut j) = match by_cost.as_slice() {
            [(_, i), (_, j), ..] => (*i, *j),
            _ => return None,
        };
        if j < i {
            std::mem::swap(&mut i, &mut j);
        }
        Some((*c.found.get(i)?, *c.found.get(j)?))
    }

    /// Whether the CCS injection check rides on chain `c`'s next hello: TLS 1.2, once it is
    /// known to be accepted (so the check runs at the newest version below TLS 1.3, as the
    /// check on its own connection does).
    fn ccs_rides(&self, c: &Chain) -> bool {
        self.options.checks
            && self.ccs == Task::Waiting
            && !self.options.ssl2_compatible
            && c.version == Some(TlsVersion::Tls12)
            && !c.found.is_empty()
    }

    /// As [`Planner::pair_for`], for the TLS 1.3 groups (unless the reversed hello told).
    fn group_pair(&self) -> Option<(u16, u16)> {
        if !self.options.preference
            || self.groups13.order != Task::Waiting
            || self.chain13().is_some_and(|c| c.reversed_group.is_some())
        {
            return None;
        }
        match self.groups13.found.as_slice() {
            [a, b, ..] => Some((*a, *b)),
            _ => None,
        }
    }

    fn first_answers_in(&self) -> bool {
        self.chains.iter().all(|c| c.answered || c.done)
    }

    /// The next step that can run now (`None`: wait for outcomes, or everything is done).
    pub fn next_step(&mut self) -> Option<Step> {
        if self.issued >= self.options.max_connections {
            return None;
        }
        let (purpose, probe, label) = self.peek()?;
        match purpose {
            Purpose::Chain(i) | Purpose::ChainCcs(i) => {
                let pair = self.chains.get(i).and_then(|c| self.pair_for(c));
                let reversing = self.chains.get(i).is_some_and(|c| self.reverses(c));
                if let Some(c) = self.chains.get_mut(i) {
                    c.busy = true;
                    c.pair = pair;
                    c.reversing = reversing;
                }
                if matches!(purpose, Purpose::ChainCcs(_)) {
                    self.ccs = Task::Running;
                }
            }
            Purpose::Reorder(i) => {
                if let Some(c) = self.chains.get_mut(i) {
                    c.reorder = Task::Running;
                }
            }
            Purpose::ChainSecond(i) => {
                if let Some(h) = self.chains.get_mut(i).and_then(|c| c.second.as_mut()) {
                    h.busy = true;
                }
            }
            Purpose::Groups13 => {
                self.groups13.busy = true;
                self.groups13.pair = self.group_pair();
            }
            Purpose::Groups13Order => self.groups13.order = Task::Running,
            Purpose::Groups12 => self.groups12.busy = true,
            Purpose::Fallback => self.fallback = Task::Running,
            Purpose::Heartbleed => self.heartbleed = Task::Running,
            Purpose::Ccs => self.ccs = Task::Running,
            Purpose::Handshake => self.handshake = Task::Running,
            Purpose::TicketHandshake => self.ticket_handshake = Task::Running,
            Purpose::Robot(_) => {
                if self.robot_hello.is_none() {
                    self.robot_hello = self.robot_target();
                }
                self.robot_issued += 1;
                if self.robot.len() < self.robot_issued {
                    self.robot.resize(self.robot_issued, None);
                }
            }
            Purpose::ResumeId => self.resume_id = Task::Running,
            Purpose::ResumeTicket => self.resume_ticket = Task::Running,
        }
        let id = self.next_id;
        self.next_id += 1;
        self.issued += 1;
        self.running.insert(id, purpose);
        Some(Step { id, probe, label })
    }

    /// The next step, without taking it.
    fn peek(&self) -> Option<(Purpose, Probe, String)> {
        if let Some(step) = self.peek_handshakes() {
            return Some(step);
        }
        // Version chains, TLS 1.2 first (the longest), then the others in order.
        let mut order: Vec<usize> = (0..self.chains.len()).collect();
        order.sort_by_key(|&i| {
            self.chains.get(i).and_then(|c| c.version) != Some(TlsVersion::Tls12)
        });
        for i in order {
            let Some(c) = self.chains.get(i) else {
                continue;
            };
            let Some(v) = c.version else { continue };
            if !c.busy && !c.done && !c.first_done {
                if v == TlsVersion::Ssl2 {
                    return Some((
                        Purpose::Chain(i),
                        Probe::Hello(HelloForm::Ssl2),
                        "SSLv2".into(),
                    ));
                }
                let mut offer = c.offered.clone();
                if let Some((a, b)) = self.pair_for(c) {
                    offer.extend([b, a]);
                }
                let mut h = self.hello(v, offer);
                if self.reverses(c) {
                    h.groups.reverse();
                }
                // Heartbleed needs a connection only if a server speaks heartbeat: each
                // version's first hello asks (RFC 6520 §2).
                h.heartbeat = self.options.checks
                    && !c.answered
                    && (TlsVersion::Tls10..=TlsVersion::Tls12).contains(&v);
                if self.ccs_rides(c) {
                    return Some((
                        Purpose::ChainCcs(i),
                        Probe::CcsRiding(h),
                        format!("{} suites, CCS injection", label(v)),
                    ));
                }
                return Some((
                    Purpose::Chain(i),
                    Probe::Hello(self.form(h)),
                    format!("{} suites", label(v)),
                ));
            }
            if let Some(half) = &c.second
                && !half.busy
                && !half.done
            {
                let h = self.hello(v, half.offered.clone());
                return Some((
                    Purpose::ChainSecond(i),
                    Probe::Hello(self.form(h)),
                    format!("{} suites", label(v)),
                ));
            }
            if c.done
                && self.options.preference
                && c.reorder == Task::Waiting
                && let [a, b, ..] = c.found.as_slice()
            {
                let h = self.hello(v, vec![*b, *a]);
                return Some((
                    Purpose::Reorder(i),
                    Probe::Hello(self.form(h)),
                    format!("{} preference", label(v)),
                ));
            }
        }
        if self.options.groups {
            if self.groups13.state != Task::Done
                && !self.groups13.busy
                && self.accepted(TlsVersion::Tls13)
                // After the chain's reversed hello, which may find a group.
                && self
                    .chain13()
                    .is_some_and(|c| c.done || c.answers >= 2)
                && !self.groups13.remaining.is_empty()
            {
                let mut h = self.hello(TlsVersion::Tls13, suites::tls13_suites());
                h.groups = self.groups13.remaining.clone();
                if let Some((a, b)) = self.group_pair() {
                    h.groups.extend([b, a]);
                }
                h.key_shares = Some(Vec::new());
                return Some((
                    Purpose::Groups13,
                    Probe::Hello(HelloForm::Tls(h)),
                    "TLSv1.3 groups".into(),
                ));
            }
            if self.groups13.state == Task::Done
                && self.options.preference
                && self.groups13.order == Task::Waiting
                && let [a, b, ..] = self.groups13.found.as_slice()
            {
                let mut h = self.hello(TlsVersion::Tls13, suites::tls13_suites());
                h.groups = vec![*b, *a];
                h.key_shares = Some(Vec::new());
                return Some((
                    Purpose::Groups13Order,
                    Probe::Hello(HelloForm::Tls(h)),
                    "TLSv1.3 group preference".into(),
                ));
            }
            if self.groups12.state != Task::Done
                && !self.groups12.busy
                && !self.groups12.remaining.is_empty()
                && !self.options.ssl2_compatible
                && let Some(v) = self.ecdhe_version()
            {
                // Anonymous ECDH suites the server accepted at this version, if any: their
                // ServerKeyExchange carries the same curve choice without a signature, which
                // spares the server a private-key operation per hello.
                let anonymous: Vec<u16> = self
                    .chain_index(v)
                    .and_then(|i| self.chains.get(i))
                    .map(|c| {
                        c.found
                            .iter()
                            .copied()
                            .filter(|&x| {
                                suites::suite(x).is_some_and(|s| {
                                    s.kx == KeyExchange::Ecdh && s.auth == Authentication::Anonymous
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let ecdhe: Vec<u16> = if anonymous.is_empty() {
                    suites::legacy_suites()
                        .into_iter()
                        .filter(|&c| {
                            suites::suite(c).is_some_and(|s| {
                                (s.kx == KeyExchange::Ecdhe && s.auth != Authentication::Psk)
                                    || (s.kx == KeyExchange::Ecdh
                                        && s.auth == Authentication::Anonymous)
                            })
                        })
                        .collect()
                } else {
                    anonymous
                };
                let mut h = self.hello(v, ecdhe);
                h.groups = self.groups12.remaining.clone();
                return Some((
                    Purpose::Groups12,
                    Probe::Hello(HelloForm::Tls(h)),
                    format!("{} groups", label(v)),
                ));
            }
        }
        if self.options.checks && self.first_answers_in() {
            if self.fallback == Task::Waiting {
                let mut accepted: Vec<TlsVersion> = self
                    .chains
                    .iter()
                    .filter(|c| !c.found.is_empty())
                    .filter_map(|c| c.version)
                    .filter(|v| *v >= TlsVersion::Ssl3)
                    .collect();
                accepted.sort();
                if let [.., lower, _] = accepted.as_slice() {
                    let suites = self
                        .chain_index(*lower)
                        .and_then(|i| self.chains.get(i))
                        .map(|c| c.found.clone())
                        .unwrap_or_default();
                    let mut h = self.hello(*lower, suites);
                    h.fallback_scsv = true;
                    return Some((
                        Purpose::Fallback,
                        Probe::Hello(HelloForm::Tls(h)),
                        "fallback SCSV".into(),
                    ));
                }
            }
            let legacy = [
                TlsVersion::Tls12,
                TlsVersion::Tls11,
                TlsVersion::Tls10,
                TlsVersion::Ssl3,
            ]
            .into_iter()
            .find(|v| self.accepted(*v));
            if let Some(v) = legacy {
                let suites = self
                    .chain_index(v)
                    .and_then(|i| self.chains.get(i))
                    .map(|c| c.found.clone())
                    .unwrap_or_default();
                // Only a server that echoed the heartbeat extension gets the check's
                // connection; the others are judged by `settle`.
                if self.heartbleed == Task::Waiting
                    && v >= TlsVersion::Tls10
                    && (self.flags.heartbeats > 0 || self.options.ssl2_compatible)
                {
                    let h = self.hello(v, suites.clone());
                    return Some((
                        Purpose::Heartbleed,
                        Probe::Heartbleed(h),
                        "heartbleed".into(),
                    ));
                }
                if self.ccs == Task::Waiting {
                    let h = self.hello(v, suites);
                    return Some((Purpose::Ccs, Probe::Ccs(h), "CCS injection".into()));
                }
            }
        }
        if self.options.checks
            && self.first_answers_in()
            && let Some((v, rsa)) = self.robot_target()
        {
            let n = super::robot::Variant::ALL.len();
            let round_done =
                self.robot.len() == self.robot_issued && self.robot.iter().all(Option::is_some);
            let differ = {
                let first: Vec<&Option<String>> = self.robot.iter().take(n).collect();
                first.windows(2).any(|w| w[0] != w[1])
            };
            let want = if self.robot_issued < n {
                true
            } else {
                self.robot_issued < 2 * n && round_done && differ
            };
            if want && let Some(&variant) = super::robot::Variant::ALL.get(self.robot_issued % n) {
                let h = self.hello(v, rsa);
                return Some((
                    Purpose::Robot(self.robot_issued),
                    Probe::Robot(h, variant),
                    "ROBOT".into(),
                ));
            }
        }
        None
    }

    /// The handshakes and resumptions: asked first, as soon as the TLS 1.2 chain found a suite
    /// they can complete, because each waits for the one before it (handshake, then the
    /// resumption by id; the handshake for a ticket, then the resumption by it) and would
    /// otherwise make a tail of their own after the chains.
    fn peek_handshakes(&self) -> Option<(Purpose, Probe, String)> {
        if self.options.checks {
            // As soon as the TLS 1.2 chain found a suite this prober can complete, so the
            // handshakes and resumptions run beside the chain rather than after it.
            if let Some(c) = self
                .chain_index(TlsVersion::Tls12)
                .and_then(|i| self.chains.get(i))
                .filter(|c| {
                    c.done
                        || c.found
                            .iter()
                            .any(|s| super::tls12::COMPLETABLE.contains(s))
                })
            {
                let completable: Vec<u16> = c
                    .found
                    .iter()
                    .copied()
                    .filter(|s| super::tls12::COMPLETABLE.contains(s))
                    .collect();
                if self.handshake == Task::Waiting && !completable.is_empty() {
                    return Some((
                        Purpose::Handshake,
                        Probe::Handshake(completable, self.options.sni.clone(), false),
                        "handshake and renegotiation".into(),
                    ));
                }
                if self.ticket_handshake == Task::Waiting
                    && self.handshake == Task::Done
                    && self.flags.tickets > 0
                    && !completable.is_empty()
                {
                    return Some((
                        Purpose::TicketHandshake,
                        Probe::Handshake(completable, self.options.sni.clone(), true),
                        "handshake for a ticket".into(),
                    ));
                }
            }
            if let Some(done) = &self.completed {
                let suites = vec![done.suite];
                if self.resume_id == Task::Waiting && !done.session_id.is_empty() {
                    let mut h = self.hello(TlsVersion::Tls12, suites.clone());
                    // As the full handshake was: without EMS (RFC 7627 §5.3 forbids resuming
                    // across a change).
                    h.extended_master_secret = false;
                    h.session_id = done.session_id.clone();
                    h.session_ticket = None;
                    return Some((
                        Purpose::ResumeId,
                        Probe::Hello(HelloForm::Tls(h)),
                        "resumption by session id".into(),
                    ));
                }
            }
            if let Some((suite, t)) = &self.ticket
                && self.resume_ticket == Task::Waiting
            {
                let mut h = self.hello(TlsVersion::Tls12, vec![*suite]);
                h.extended_master_secret = false;
                h.session_id = vec![0x7C; 32];
                h.session_ticket = Some(t.clone());
                return Some((
                    Purpose::ResumeTicket,
                    Probe::Hello(HelloForm::Tls(h)),
                    "resumption by ticket".into(),
                ));
            }
        }
        None
    }

    /// Takes the outcome of step `id`.
    pub fn learn(&mut self, id: usize, outcome: Outcome) {
        let Some(purpose) = self.running.remove(&id) else {
            return;
        };
        match purpose {
            Purpose::Chain(i) => self.learn_chain(i, outcome),
            Purpose::ChainSecond(i) => self.learn_half(i, outcome),
            Purpose::ChainCcs(i) => match outcome {
                Outcome::Rider { hello, check } => {
                    self.learn_chain(i, *hello);
                    match *check {
                        // The hello got no whole flight (the chain's last, refused hello):
                        // the check waits for another connection.
                        Outcome::Ccs(CcsResult::Refused(_)) => self.ccs = Task::Waiting,
                        other => self.learn_ccs(other),
                    }
                }
                other => {
                    self.learn_chain(i, other);
                    self.ccs = Task::Waiting;
                }
            },
            Purpose::Reorder(i) => {
                let pick = hello_of(&outcome).map(|f| f.hello.cipher);
                if let Some(c) = self.chains.get_mut(i) {
                    c.reorder = Task::Done;
                    c.preference = match (pick, c.found.as_slice()) {
                        (Some(p), [a, ..]) if p == *a => Preference::Server,
                        (Some(p), [_, b, ..]) if p == *b => Preference::Client,
                        _ => Preference::Unknown,
                    };
                }
            }
            Purpose::Groups13 => {
                self.groups13.busy = false;
                let pair = self.groups13.pair.take();
                let g = hello_of(&outcome)
                    .filter(|f| f.hello.version == TlsVersion::Tls13)
                    .and_then(|f| f.hello.group());
                match (g, pair) {
                    (Some(g), pair) if self.groups13.remaining.contains(&g) => {
                        if pair.is_some() && self.options.preference {
                            // As for suites: a candidate over the pair's first is the
                            // client's order.
                            self.groups13.preference = Preference::Client;
                            self.groups13.order = Task::Done;
                        }
                        self.groups13.found.push(g);
                        self.groups13.remaining.retain(|x| *x != g);
                        if self.groups13.remaining.is_empty() {
                            self.groups13.state = Task::Done;
                        }
                    }
                    // The appended pair: the second chosen, the client's order, and no
                    // candidate left; the first chosen, the server's order, and the
                    // candidates are asked again without the pair.
                    (Some(g), Some((_, b))) if g == b => {
                        self.groups13.preference = Preference::Client;
                        self.groups13.order = Task::Done;
                        self.groups13.state = Task::Done;
                    }
                    (Some(g), Some((a, _))) if g == a => {
                        self.groups13.preference = Preference::Server;
                        self.groups13.order = Task::Done;
                    }
                    _ => self.groups13.state = Task::Done,
                }
            }
            Purpose::Groups13Order => {
                self.groups13.order = Task::Done;
                let g = hello_of(&outcome).and_then(|f| f.hello.group());
                self.groups13.preference = match (g, self.groups13.found.as_slice()) {
                    (Some(p), [a, ..]) if p == *a => Preference::Server,
                    (Some(p), [_, b, ..]) if p == *b => Preference::Client,
                    _ => Preference::Unknown,
                };
            }
            Purpose::Groups12 => {
                self.groups12.busy = false;
                let want = self.ecdhe_version();
                self.groups12.version = want;
                let g = hello_of(&outcome)
                    .filter(|f| Some(f.hello.version) == want)
                    .and_then(|f| {
                        let s = suites::suite(f.hello.cipher)?;
                        let ske =
                            server_key_exchange(f.key_exchange.as_deref()?, s, f.hello.version)?;
                        match ske.params {
                            KeyExchangeParams::Ec { group, .. } => Some(group),
                            KeyExchangeParams::Dh { .. } => None,
                        }
                    });
                match g {
                    Some(g) if self.groups12.remaining.contains(&g) => {
                        self.groups12.found.push(g);
                        self.groups12.remaining.retain(|x| *x != g);
                        if self.groups12.remaining.is_empty() {
                            self.groups12.state = Task::Done;
                        }
                    }
                    _ => self.groups12.state = Task::Done,
                }
            }
            Purpose::Fallback => {
                self.fallback = Task::Done;
                self.checks.fallback_scsv = match &outcome {
                    Outcome::Answer(ServerAnswer::Alert {
                        description: 86, ..
                    }) => Check::new(
                        Verdict::Protected,
                        "a fallback hello at a lower version was refused with inappropriate_fallback",
                    ),
                    // RFC 8446 §4.1.3: a TLS 1.3 server answering an older hello ends its
                    // random with "DOWNGRD" and 01 (TLS 1.2) or 00 (older); a TLS 1.3 client
                    // refuses such a ServerHello, which protects it as RFC 7507 would.
                    Outcome::Answer(ServerAnswer::Hello(f))
                        if f.hello.random.ends_with(b"DOWNGRD\x01")
                            || f.hello.random.ends_with(b"DOWNGRD\x00") =>
                    {
                        Check::new(
                            Verdict::Protected,
                            format!(
                                "the {} fallback hello was answered with the RFC 8446 downgrade sentinel in the server random",
                                f.hello.version
                            ),
                        )
                    }
                    Outcome::Answer(ServerAnswer::Hello(f)) => Check::new(
                        Verdict::Vulnerable,
                        format!(
                            "a {} hello with TLS_FALLBACK_SCSV was accepted though the server supports a newer version",
                            f.hello.version
                        ),
                    ),
                    Outcome::Answer(ServerAnswer::Alert { description, .. }) => Check::new(
                        Verdict::Inconclusive,
                        format!(
                            "the fallback hello got alert {description} ({})",
                            alert_name(*description)
                        ),
                    ),
                    other => Check::new(Verdict::Inconclusive, format!("{other:?}")),
                };
            }
            Purpose::Heartbleed => {
                self.heartbleed = Task::Done;
                self.checks.heartbleed = match outcome {
                    Outcome::Heartbleed(HeartbleedResult::Leaked {
                        payload_length,
                        carried,
                    }) => Check::new(
                        Verdict::Vulnerable,
                        format!(
                            "a heartbeat claiming {} bytes and carrying none was answered with {carried} bytes (payload_length {payload_length})",
                            super::exchange::HEARTBEAT_CLAIM
                        ),
                    ),
                    Outcome::Heartbleed(HeartbleedResult::Discarded { how }) => Check::new(
                        Verdict::Protected,
                        format!("an over-long heartbeat request was not answered ({how})"),
                    ),
                    Outcome::Heartbleed(HeartbleedResult::Refused(e)) => {
                        Check::new(Verdict::Inconclusive, format!("the hello was refused: {e}"))
                    }
                    Outcome::Heartbleed(r) => Check::new(Verdict::Inconclusive, format!("{r:?}")),
                    other => Check::new(Verdict::Inconclusive, format!("{other:?}")),
                };
            }
            Purpose::Handshake => {
                use super::tls12::{HandshakeResult, Renegotiation};
                self.handshake = Task::Done;
                match outcome {
                    Outcome::Handshake(HandshakeResult::Completed(c)) => {
                        self.checks.client_renegotiation = match &c.renegotiation {
                            Renegotiation::Accepted => Check::new(
                                Verdict::Vulnerable,
                                "a ClientHello sent inside a completed TLS 1.2 session was answered with a ServerHello",
                            ),
                            Renegotiation::Refused { how } => Check::new(
                                Verdict::Protected,
                                format!("a ClientHello inside the session was refused: {how}"),
                            ),
                            Renegotiation::NoAnswer(e) => Check::new(
                                Verdict::Inconclusive,
                                format!("a ClientHello inside the session got no answer: {e}"),
                            ),
                        };
                        self.completed = Some(c);
                    }
                    Outcome::Handshake(HandshakeResult::Failed(e)) => {
                        self.checks.client_renegotiation = Check::new(
                            Verdict::Inconclusive,
                            format!("the TLS 1.2 handshake did not complete: {e}"),
                        );
                    }
                    other => {
                        self.checks.client_renegotiation =
                            Check::new(Verdict::Inconclusive, format!("{other:?}"));
                    }
                }
            }
            Purpose::Robot(i) => {
                let answer = match outcome {
                    Outcome::Robot { answer, .. } => answer,
                    other => format!("{other:?}"),
                };
                if let Some(slot) = self.robot.get_mut(i) {
                    *slot = Some(answer);
                }
            }
            Purpose::TicketHandshake => {
                self.ticket_handshake = Task::Done;
                if let Outcome::Handshake(super::tls12::HandshakeResult::Completed(c)) = outcome {
                    match c.ticket {
                        Some(t) => self.ticket = Some((c.suite, t)),
                        None => {
                            self.resumed_ticket = Some(Check::new(
                                Verdict::NotSupported,
                                "the extension was acknowledged but no NewSessionTicket came",
                            ))
                        }
                    }
                }
            }
            Purpose::ResumeId | Purpose::ResumeTicket => {
                let offered = match purpose {
                    Purpose::ResumeId => {
                        self.resume_id = Task::Done;
                        self.completed.as_ref().map(|c| c.session_id.clone())
                    }
                    _ => {
                        self.resume_ticket = Task::Done;
                        Some(vec![0x7C; 32])
                    }
                };
                let resumed = hello_of(&outcome)
                    .is_some_and(|f| f.resumed && Some(&f.hello.session_id) == offered.as_ref());
                let check = if resumed {
                    Check::new(
                        Verdict::Supported,
                        "the server resumed the session (ServerHello echoing the offered id, then ChangeCipherSpec)",
                    )
                } else {
                    Check::new(
                        Verdict::NotSupported,
                        "the server started a full handshake instead",
                    )
                };
                match purpose {
                    Purpose::ResumeId => self.checks.session_id_resumption = check,
                    _ => self.resumed_ticket = Some(check),
                }
            }
            Purpose::Ccs => self.learn_ccs(outcome),
        }
        self.settle();
    }

    fn learn_ccs(&mut self, outcome: Outcome) {
        self.ccs = Task::Done;
        self.checks.ccs_injection = match outcome {
            Outcome::Ccs(CcsResult::Accepted { how }) => Check::new(
                Verdict::Vulnerable,
                format!("a ChangeCipherSpec before the key exchange was accepted: {how}"),
            ),
            Outcome::Ccs(CcsResult::Rejected { how }) => Check::new(
                Verdict::Protected,
                format!("an early ChangeCipherSpec was refused: {how}"),
            ),
            Outcome::Ccs(CcsResult::Refused(e)) => {
                Check::new(Verdict::Inconclusive, format!("the hello was refused: {e}"))
            }
            other => Check::new(Verdict::Inconclusive, format!("{other:?}")),
        };
    }

    /// What the answers so far settle without a connection of its own: the first group of
    /// each group enumeration (the chains' flights offered every group), and Heartbleed on a
    /// server that echoed no heartbeat extension.
    fn settle(&mut self) {
        if self.options.groups
            && self.groups13.found.is_empty()
            && self.groups13.state == Task::Waiting
            && !self.groups13.busy
            && let Some(g) = self
                .chain_index(TlsVersion::Tls13)
                .and_then(|i| self.chains.get(i))
                .and_then(|c| c.first_group)
            && self.groups13.remaining.contains(&g)
        {
            // The chain's hello offered every group in the same order as the group
            // enumeration's first hello, less the groups TLS 1.3 does not define: a server
            // choosing among TLS 1.3 groups by either side's order chooses the same.
            self.groups13.found.push(g);
            self.groups13.remaining.retain(|x| *x != g);
            if self.groups13.remaining.is_empty() {
                self.groups13.state = Task::Done;
            }
        }
        let reversed = self
            .chain13()
            .and_then(|c| c.first_group.zip(c.reversed_group));
        if self.options.groups
            && let Some((first, again)) = reversed
            && self.groups13.order == Task::Waiting
        {
            if first != again {
                // Another group when the order was reversed: the client's order chooses.
                if self.groups13.remaining.contains(&again) && !self.groups13.busy {
                    self.groups13.found.push(again);
                    self.groups13.remaining.retain(|x| *x != again);
                    if self.groups13.remaining.is_empty() {
                        self.groups13.state = Task::Done;
                    }
                }
                if self.options.preference {
                    self.groups13.preference = Preference::Client;
                    self.groups13.order = Task::Done;
                }
            } else if self.options.preference && self.groups13.found.len() >= 2 {
                // The same group whichever order, and the server has others: its own order.
                self.groups13.preference = Preference::Server;
                self.groups13.order = Task::Done;
            }
        }
        if self.options.groups
            && !self.options.ssl2_compatible
            && self.groups12.found.is_empty()
            && self.groups12.state == Task::Waiting
            && !self.groups12.busy
            && let Some(v) = self.ecdhe_version()
            && let Some(g) = self
                .chain_index(v)
                .and_then(|i| self.chains.get(i))
                .and_then(|c| c.first_group)
            && self.groups12.remaining.contains(&g)
        {
            // Likewise: the ServerKeyExchange's curve, chosen from every group offered.
            self.groups12.version = Some(v);
            self.groups12.found.push(g);
            self.groups12.remaining.retain(|x| *x != g);
            if self.groups12.remaining.is_empty() {
                self.groups12.state = Task::Done;
            }
        }
        if self.options.checks
            && self.fallback == Task::Waiting
            && self.first_answers_in()
            && self.accepted(TlsVersion::Tls13)
            && self.accepted(TlsVersion::Tls12)
            && self.flags.tls12_hellos > 0
            && self.flags.tls12_sentinels == self.flags.tls12_hellos
        {
            // The fallback hello would go to TLS 1.2, the newest version below TLS 1.3. Every
            // TLS 1.2 ServerHello carried the downgrade sentinel (RFC 8446 §4.1.3), which a
            // TLS 1.3 server sets whenever it answers below its best: that hello would be
            // refused or answered with the sentinel, Protected either way.
            self.fallback = Task::Done;
            self.checks.fallback_scsv = Check::new(
                Verdict::Protected,
                format!(
                    "each of the {} TLS 1.2 ServerHellos carried the RFC 8446 downgrade sentinel in the server random: a fallback to TLS 1.2 is refused or detected",
                    self.flags.tls12_hellos
                ),
            );
        }
        if self.options.checks
            && !self.options.ssl2_compatible
            && self.heartbleed == Task::Waiting
            && self.flags.heartbeats == 0
            && self.first_answers_in()
            && [TlsVersion::Tls12, TlsVersion::Tls11, TlsVersion::Tls10]
                .iter()
                .any(|v| self.accepted(*v))
        {
            // A server with heartbeat support echoes the extension when the client offers it
            // (RFC 6520 §2; OpenSSL's vulnerable releases always did); one that never
            // echoed it does not process heartbeat messages, and sending one would be a
            // protocol violation (§3) that proves nothing more.
            self.heartbleed = Task::Done;
            self.checks.heartbleed = Check::new(
                Verdict::Protected,
                "no ServerHello echoed the heartbeat extension offered in each version's first hello: the server does not speak heartbeat (RFC 6520)",
            );
        }
    }

    /// A step of a split chain's second half: learnt as a chain step with the half's
    /// candidates in the chain's place.
    fn learn_half(&mut self, i: usize, outcome: Outcome) {
        let Some(c) = self.chains.get_mut(i) else {
            return;
        };
        let Some(mut half) = c.second.take() else {
            return;
        };
        std::mem::swap(&mut c.offered, &mut half.offered);
        std::mem::swap(&mut c.busy, &mut half.busy);
        c.done = false;
        self.learn_chain_step(i, outcome);
        let Some(c) = self.chains.get_mut(i) else {
            return;
        };
        std::mem::swap(&mut c.offered, &mut half.offered);
        std::mem::swap(&mut c.busy, &mut half.busy);
        half.done = c.done;
        c.done = (c.first_done && half.done) || c.truncated;
        c.second = Some(half);
    }

    fn learn_chain(&mut self, i: usize, outcome: Outcome) {
        let split = self.chains.get(i).is_some_and(|c| c.second.is_some());
        if split && let Some(c) = self.chains.get_mut(i) {
            c.done = false;
        }
        self.learn_chain_step(i, outcome);
        if split && let Some(c) = self.chains.get_mut(i) {
            c.first_done = c.done;
            c.done = (c.first_done && c.second.as_ref().is_some_and(|h| h.done)) || c.truncated;
        }
        // A long TLS 1.2 chain in the client's order goes on in two halves.
        if let Some(c) = self.chains.get_mut(i)
            && c.version == Some(TlsVersion::Tls12)
            && c.second.is_none()
            && !c.done
            && c.preference == Preference::Client
            && c.found.len() >= SPLIT_AFTER
            && c.offered.len() >= 2
        {
            let later = c.offered.split_off(c.offered.len() / 2);
            c.second = Some(Half {
                offered: later,
                ..Half::default()
            });
        }
        // A server that did not pick suites in the order offered follows its own: no reorder
        // hello (nor appended pair) is needed to tell.
        if let Some(c) = self.chains.get_mut(i)
            && c.reorder == Task::Waiting
            && let Some(v) = c.version
        {
            let offered = match v {
                TlsVersion::Tls13 => suites::tls13_suites(),
                _ => suites::legacy_suites(),
            };
            // Checked after every step, so the newest two suffice.
            let at = |f: &u16| offered.iter().position(|o| o == f);
            if let [.., a, b] = c.found.as_slice()
                && at(a) > at(b)
            {
                c.preference = Preference::Server;
                c.reorder = Task::Done;
            }
        }
    }

    fn learn_chain_step(&mut self, i: usize, outcome: Outcome) {
        let Some(c) = self.chains.get_mut(i) else {
            return;
        };
        let Some(version) = c.version else {
            return;
        };
        c.busy = false;
        c.answered = true;
        c.answers += 1;
        let pair = c.pair.take();
        let reversing = std::mem::take(&mut c.reversing);
        let refusal = match outcome {
            Outcome::Answer(ServerAnswer::Hello(f))
                if f.hello.version == version && version != TlsVersion::Ssl2 =>
            {
                let cipher = f.hello.cipher;
                if reversing {
                    c.reversed_group = f.hello.group();
                }
                match pair {
                    // The appended pair's second, ahead of its first: the client's order,
                    // and no candidate left (one would have come before the pair).
                    Some((_, b)) if cipher == b => {
                        c.preference = Preference::Client;
                        c.reorder = Task::Done;
                        c.done = true;
                        return;
                    }
                    // The pair's first, though offered last: the server's order. Whether a
                    // candidate is left is asked again, without the pair.
                    Some((a, _)) if cipher == a => {
                        c.preference = Preference::Server;
                        c.reorder = Task::Done;
                        return;
                    }
                    // A candidate, though the pair's first was offered too: a server
                    // following its own order would have taken that one (it preferred it to
                    // every candidate when it chose it), so the client's order chooses. No
                    // more pairs: the chain ends on a plain refusal.
                    Some(_) if c.offered.contains(&cipher) => {
                        c.preference = Preference::Client;
                        c.reorder = Task::Done;
                    }
                    _ => {}
                }
                if !c.offered.contains(&cipher) {
                    c.done = true;
                    if c.found.is_empty() {
                        c.refusal = Some(format!(
                            "the server chose 0x{cipher:04X}, which was not offered"
                        ));
                    }
                    return;
                }
                c.found.push(cipher);
                c.offered.retain(|x| *x != cipher);
                if version != TlsVersion::Tls13 {
                    if f.done || f.resumed {
                        c.complete = true;
                    } else if c.cut.is_none() {
                        c.cut = Some(match f.alert {
                            Some(d) => format!(
                                "the server sent the alert {d} ({}) after its ServerHello",
                                alert_name(d)
                            ),
                            None => "the server stopped after its ServerHello".to_owned(),
                        });
                    }
                }
                if c.found.len() >= self.options.max_suites {
                    c.done = true;
                    c.truncated = !c.offered.is_empty();
                } else if c.offered.is_empty() {
                    c.done = true;
                }
                self.note_flight(i, &f);
                return;
            }
            Outcome::Answer(ServerAnswer::Ssl2Hello {
                ciphers,
                certificate,
            }) if version == TlsVersion::Ssl2 => {
                c.ssl2 = ciphers;
                c.complete = true;
                c.chain = if certificate.is_empty() {
                    Vec::new()
                } else {
                    vec![certificate]
                };
                c.done = true;
                return;
            }
            Outcome::Answer(ServerAnswer::Hello(f)) => {
                format!("the server answered with {}", f.hello.version)
            }
            Outcome::Answer(ServerAnswer::Ssl2Hello { .. }) => {
                "the server answered with SSLv2".to_owned()
            }
            Outcome::Answer(ServerAnswer::Alert { description, .. }) => {
                format!("alert {description} ({})", alert_name(description))
            }
            Outcome::Answer(ServerAnswer::Ssl2Error { code }) => {
                format!("SSLv2 error {code} ({})", ssl2_error_name(code))
            }
            Outcome::Failed(e) => e,
            other => format!("{other:?}"),
        };
        c.done = true;
        if c.found.is_empty() {
            c.refusal = Some(refusal);
        }
    }

    /// Takes what an accepted flight says: key exchange, certificates, extensions.
    fn note_flight(&mut self, i: usize, f: &ServerFlight) {
        let Some(c) = self.chains.get_mut(i) else {
            return;
        };
        let Some(version) = c.version else { return };
        let suite = suites::suite(f.hello.cipher);
        let mut kx = SuiteKeyExchange {
            suite: f.hello.cipher,
            group: None,
            dh_bits: None,
            signature_scheme: None,
        };
        if version == TlsVersion::Tls13 {
            let g = f.hello.group();
            c.first_group = c.first_group.or(g);
            kx.group = g.map(NamedGroup::from_code);
        } else if let (Some(s), Some(body)) = (suite, f.key_exchange.as_deref())
            && let Some(ske) = server_key_exchange(body, s, version)
        {
            kx.signature_scheme = ske.signature_scheme;
            match &ske.params {
                KeyExchangeParams::Ec { group, .. } => {
                    c.first_group = c.first_group.or(Some(*group));
                    kx.group = Some(NamedGroup::from_code(*group))
                }
                p @ KeyExchangeParams::Dh { .. } => {
                    kx.dh_bits = p.dh_bits();
                    if let Some(b) = kx.dh_bits {
                        self.smallest_dh = Some(self.smallest_dh.map_or(b, |m| m.min(b)));
                    }
                }
            }
        }
        c.kx.push(kx);
        if c.chain.is_empty() && !f.chain.is_empty() {
            c.chain = f.chain.clone();
        }
        if let (Some(s), Some(leaf)) = (suite, f.chain.first())
            && !self
                .served
                .iter()
                .any(|x| x.chain.first().map(|l| l.as_ref()) == Some(leaf.as_slice()))
            && self.served.len() < 8
        {
            let (key, signature) = describe_leaf(leaf);
            self.served.push(ServedChain {
                auth: s.auth,
                key,
                signature,
                chain: f
                    .chain
                    .iter()
                    .map(|d| CertificateDer::from(d.clone()))
                    .collect(),
            });
        }
        if (TlsVersion::Tls10..=TlsVersion::Tls12).contains(&version) {
            let fl = &mut self.flags;
            fl.tls_hellos += 1;
            fl.renegotiation_info += usize::from(f.hello.has(ext::RENEGOTIATION_INFO));
            fl.compression += usize::from(f.hello.compression != 0);
            fl.ems += usize::from(f.hello.has(ext::EXTENDED_MASTER_SECRET));
            fl.tickets += usize::from(f.hello.has(ext::SESSION_TICKET));
            fl.heartbeats += usize::from(f.hello.has(ext::HEARTBEAT));
            if version == TlsVersion::Tls12 {
                fl.tls12_hellos += 1;
                fl.tls12_sentinels += usize::from(f.hello.random.ends_with(b"DOWNGRD\x01"));
            }
            if suite.is_some_and(|s| s.mode == Mode::Cbc) {
                fl.cbc += 1;
                fl.etm += usize::from(f.hello.has(ext::ENCRYPT_THEN_MAC));
            }
            if let Some(st) = &f.ocsp_staple {
                fl.staples += 1;
                fl.staple.get_or_insert_with(|| st.clone());
            }
        } else if version == TlsVersion::Ssl3 {
            self.flags.compression += usize::from(f.hello.compression != 0);
        }
    }

    /// The report: versions in the order asked, groups, certificates, checks, findings.
    pub fn finish(mut self) -> ProbeReport {
        // A split chain's halves found their suites side by side: in the client's order, the
        // order offered is the order of preference.
        let order = suites::legacy_suites();
        let rank = |s: &u16| order.iter().position(|o| o == s);
        for c in self.chains.iter_mut().filter(|c| c.second.is_some()) {
            c.found.sort_by_key(|s| rank(s));
            c.kx.sort_by_key(|k| rank(&k.suite));
        }
        let mut report = ProbeReport::default();
        let budget_left = self.issued < self.options.max_connections;
        let mut chain_for_report: Option<(TlsVersion, Vec<Vec<u8>>)> = None;
        for c in &self.chains {
            let Some(version) = c.version else { continue };
            let accepted = !c.found.is_empty() || !c.ssl2.is_empty();
            let suites: Vec<CipherSuite> = if version == TlsVersion::Ssl2 {
                c.ssl2
                    .iter()
                    .map(|s| CipherSuite::from_ssl2_spec(*s))
                    .collect()
            } else {
                c.found.iter().map(|&s| CipherSuite::from_code(s)).collect()
            };
            let not_run = !c.done && !budget_left;
            let mut r = VersionResult::new(version);
            r.accepted = accepted;
            r.suites = suites;
            r.preference = c.preference;
            r.key_exchange = c.kx.clone();
            r.refusal = c.refusal.clone().or_else(|| {
                (!accepted && not_run)
                    .then(|| "not probed: the connection bound was reached".to_owned())
            });
            r.truncated = c.truncated || (accepted && !c.done);
            if accepted {
                r.completion = if version != TlsVersion::Tls13 && c.complete {
                    Completion::FlightComplete
                } else {
                    Completion::OfferedNotCompleted
                };
                r.not_completed = match (r.completion, &c.cut) {
                    (Completion::FlightComplete, _) => None,
                    (_, Some(why)) => Some(why.clone()),
                    _ => Some(
                        "TLS 1.3 is probed without a key share: the server's HelloRetryRequest \
                         shows the version and suite, not a completed handshake"
                            .to_owned(),
                    ),
                };
            }
            if accepted
                && version <= TlsVersion::Tls12
                && !c.chain.is_empty()
                && chain_for_report.as_ref().is_none_or(|(v, _)| version > *v)
            {
                chain_for_report = Some((version, c.chain.clone()));
            }
            report.push(r);
        }
        report.chain = chain_for_report
            .map(|(_, ch)| ch.into_iter().map(CertificateDer::from).collect())
            .unwrap_or_default();
        report.certificates = std::mem::take(&mut self.served);
        if self.groups13.preference == Preference::Client {
            // The reversed hello may have found the client's last group second: list them in
            // the order offered, as a client-order server's picks come.
            let order = suites::offered_groups();
            self.groups13
                .found
                .sort_by_key(|g| order.iter().position(|o| o == g));
        }
        report.groups = GroupsResult {
            tls13: self
                .groups13
                .found
                .iter()
                .map(|&g| NamedGroup::from_code(g))
                .collect(),
            tls13_preference: self.groups13.preference,
            ecdhe: self
                .groups12
                .found
                .iter()
                .map(|&g| NamedGroup::from_code(g))
                .collect(),
            ecdhe_version: self.groups12.version,
            smallest_dh_bits: self.smallest_dh,
        };
        self.judge_flags(&report);
        report.checks = self.checks;
        report.rejudge();
        report
    }

    fn judge_flags(&mut self, report: &ProbeReport) {
        let robot = self.judge_robot();
        let fl = &self.flags;
        let legacy = report
            .versions
            .iter()
            .any(|v| v.accepted && (TlsVersion::Tls10..=TlsVersion::Tls12).contains(&v.version));
        let any = report.best.is_some();
        let none = |what: &str| {
            if any {
                Check::new(
                    Verdict::NotApplicable,
                    format!("{what}: no TLS 1.0 to 1.2 accepted"),
                )
            } else {
                Check::new(Verdict::NotTested, "no version accepted")
            }
        };
        let ch = &mut self.checks;
        if !self.options.checks {
            let off = Check::new(Verdict::NotTested, "checks turned off");
            ch.fallback_scsv = off.clone();
            ch.heartbleed = off.clone();
            ch.ccs_injection = off;
        }
        if ch.fallback_scsv.verdict == Verdict::NotTested && self.options.checks {
            let n = report
                .versions
                .iter()
                .filter(|v| v.accepted && v.version >= TlsVersion::Ssl3)
                .count();
            ch.fallback_scsv = if n < 2 {
                Check::new(
                    Verdict::NotApplicable,
                    "fewer than two versions accepted: nothing to fall back to",
                )
            } else {
                Check::new(Verdict::NotTested, "the connection bound was reached")
            };
        }
        for c in [&mut ch.heartbleed, &mut ch.ccs_injection] {
            if c.verdict == Verdict::NotTested && self.options.checks {
                *c = none("TLS 1.2 and older only");
            }
        }
        ch.secure_renegotiation = if !legacy {
            none("TLS 1.3 has no renegotiation")
        } else if fl.renegotiation_info == fl.tls_hellos {
            Check::new(
                Verdict::Protected,
                "renegotiation_info in every ServerHello (RFC 5746)",
            )
        } else if fl.renegotiation_info == 0 {
            Check::new(
                Verdict::Vulnerable,
                "no renegotiation_info in any ServerHello, though the client sent the SCSV (RFC 5746)",
            )
        } else {
            Check::new(
                Verdict::Inconclusive,
                format!(
                    "renegotiation_info in {} of {} ServerHellos",
                    fl.renegotiation_info, fl.tls_hellos
                ),
            )
        };
        ch.compression = if !any {
            none("compression")
        } else if fl.compression > 0 {
            Check::new(
                Verdict::Vulnerable,
                format!("DEFLATE chosen in {} ServerHellos", fl.compression),
            )
        } else if legacy || report.accepts(TlsVersion::Ssl3) {
            Check::new(
                Verdict::Protected,
                "DEFLATE offered, null chosen every time",
            )
        } else {
            Check::new(Verdict::Protected, "TLS 1.3 has no compression")
        };
        ch.extended_master_secret = if !legacy {
            none("TLS 1.3 always binds the handshake")
        } else if fl.ems > 0 {
            Check::new(
                Verdict::Supported,
                "extended_master_secret acknowledged (RFC 7627)",
            )
        } else {
            Check::new(
                Verdict::NotSupported,
                "extended_master_secret offered, never acknowledged",
            )
        };
        ch.encrypt_then_mac = if fl.cbc == 0 {
            Check::new(Verdict::NotApplicable, "no CBC suite accepted")
        } else if fl.etm > 0 {
            Check::new(
                Verdict::Supported,
                format!(
                    "encrypt_then_mac acknowledged with {} of {} CBC suites",
                    fl.etm, fl.cbc
                ),
            )
        } else {
            Check::new(
                Verdict::NotSupported,
                "encrypt_then_mac offered with CBC suites, never acknowledged",
            )
        };
        ch.session_tickets = if !legacy {
            Check::new(
                Verdict::NotTested,
                "TLS 1.3 tickets are sent encrypted, after the handshake",
            )
        } else if fl.tickets > 0 {
            Check::new(
                Verdict::Supported,
                "the SessionTicket extension acknowledged (RFC 5077)",
            )
        } else {
            Check::new(
                Verdict::NotSupported,
                "the SessionTicket extension never acknowledged",
            )
        };
        ch.ocsp_stapling = if !legacy {
            Check::new(Verdict::NotTested, "TLS 1.3 sends the staple encrypted")
        } else if let Some(st) = &fl.staple {
            Check::new(
                Verdict::Supported,
                format!(
                    "a CertificateStatus with an OCSP response of {} bytes",
                    st.len()
                ),
            )
        } else {
            Check::new(
                Verdict::NotSupported,
                "status_request offered, no CertificateStatus sent",
            )
        };
        let needs = "needs a completed handshake, which this prober does not make";
        let no_handshake = "needs a completed TLS 1.2 handshake: no ECDHE or RSA suite with AES-GCM or ChaCha20 accepted";
        if self.handshake == Task::Waiting {
            ch.client_renegotiation = Check::new(
                if legacy {
                    Verdict::NotTested
                } else {
                    Verdict::NotApplicable
                },
                if legacy {
                    no_handshake
                } else {
                    "TLS 1.3 has no renegotiation"
                },
            );
        }
        if self
            .completed
            .as_ref()
            .is_some_and(|c| c.session_id.is_empty())
        {
            ch.session_id_resumption = Check::new(
                Verdict::NotSupported,
                "the full handshake gave no session id",
            );
        } else if self.resume_id == Task::Waiting {
            ch.session_id_resumption = Check::new(Verdict::NotTested, no_handshake);
        }
        if let Some(t) = self.resumed_ticket.take() {
            ch.session_tickets = t;
        }
        let rsa = report.versions.iter().any(|v| {
            v.accepted
                && v.suites
                    .iter()
                    .any(|s| suites::suite(s.code).is_some_and(|i| i.kx == KeyExchange::Rsa))
        });
        if !self.robot.is_empty() {
            ch.robot = robot;
        } else if rsa {
            ch.robot = Check::new(
                Verdict::NotTested,
                format!("RSA key exchange accepted; the oracle test {needs}"),
            );
        } else {
            ch.robot = Check::new(Verdict::NotApplicable, "no RSA key exchange accepted");
        }
    }
}

impl Planner {
    /// ROBOT: identical answers to the five variants, no oracle; the same differences in two
    /// rounds, an oracle ("strong" when the wrong first bytes are told apart, as the paper
    /// grades it); differences that do not repeat, inconclusive.
    fn judge_robot(&self) -> Check {
        use super::robot::Variant;
        let n = Variant::ALL.len();
        let answers: Vec<String> = self
            .robot
            .iter()
            .map(|a| a.clone().unwrap_or_default())
            .collect();
        let (first, second) = answers.split_at(n.min(answers.len()));
        if first.len() < n {
            return Check::new(Verdict::NotTested, "the connection bound was reached");
        }
        if first
            .iter()
            .any(|a| a.starts_with("before the key exchange"))
        {
            return Check::new(
                Verdict::Inconclusive,
                format!("the hellos did not all get a flight: {first:?}"),
            );
        }
        let same = first.windows(2).all(|w| w[0] == w[1]);
        if same {
            return Check::new(
                Verdict::Protected,
                format!(
                    "five ClientKeyExchange paddings answered alike: {}",
                    first[0]
                ),
            );
        }
        let describe = |a: &[String]| {
            Variant::ALL
                .iter()
                .zip(a)
                .map(|(v, x)| format!("{v:?}: {x}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        if second == first {
            let strong = first.get(1) != first.first();
            Check::new(
                Verdict::Vulnerable,
                format!(
                    "a {} padding oracle, the same twice: {}",
                    if strong { "strong" } else { "weak" },
                    describe(first)
                ),
            )
        } else {
            Check::new(
                Verdict::Inconclusive,
                format!(
                    "answers differed but did not repeat: {} / {}",
                    describe(first),
                    describe(second)
                ),
            )
        }
    }
}

/// How much a server spends answering a hello with this suite, in rank: RSA key exchange
/// sends no ServerKeyExchange; anonymous ones generate a key and sign nothing; ECDSA signs
/// cheaply; RSA signatures cost most, with a DH key on top for DHE. TLS 1.3 suites (answered
/// by a HelloRetryRequest here) cost alike.
fn answer_cost(code: u16) -> u8 {
    let Some(s) = suites::suite(code) else {
        return 9;
    };
    match (s.kx, s.auth) {
        (KeyExchange::Rsa, _) => 0,
        (KeyExchange::Ecdh, Authentication::Anonymous) => 1,
        (KeyExchange::Dh, Authentication::Anonymous) => 2,
        (KeyExchange::Ecdhe, Authentication::Ecdsa) => 3,
        (KeyExchange::Ecdhe, _) => 4,
        (KeyExchange::Dhe, _) => 5,
        _ => 6,
    }
}

fn hello_of(o: &Outcome) -> Option<&ServerFlight> {
    match o {
        Outcome::Answer(ServerAnswer::Hello(f)) => Some(f),
        _ => None,
    }
}

fn ssl2_error_name(code: u16) -> &'static str {
    match code {
        1 => "no cipher",
        2 => "no certificate",
        4 => "bad certificate",
        6 => "unsupported certificate type",
        _ => "error",
    }
}

/// The leaf's key (`RSA 2048`, `EC secp256r1`) and signature algorithm.
fn describe_leaf(der: &[u8]) -> (String, String) {
    use x509_parser::prelude::{FromDer, X509Certificate};
    use x509_parser::public_key::PublicKey;
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return ("unreadable".into(), "unreadable".into());
    };
    let key = match cert.public_key().parsed() {
        Ok(PublicKey::RSA(k)) => format!("RSA {}", k.key_size()),
        Ok(PublicKey::EC(p)) => {
            let curve = cert
                .public_key()
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| match o.to_id_string().as_str() {
                    "1.2.840.10045.3.1.7" => "secp256r1".to_owned(),
                    "1.3.132.0.34" => "secp384r1".to_owned(),
                    "1.3.132.0.35" => "secp521r1".to_owned(),
                    other => other.to_owned(),
                })
                .unwrap_or_default();
            format!("EC {curve} ({} bits)", p.key_size())
        }
        Ok(PublicKey::DSA(_)) => "DSA".into(),
        Ok(_) => "other".into(),
        Err(_) => "unreadable".into(),
    };
    let oid = cert.signature_algorithm.algorithm.to_id_string();
    let signature = match oid.as_str() {
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ed25519",
        "1.2.840.10040.4.3" => "dsa-with-sha1",
        other => other,
    }
    .to_owned();
    (key, signature)
}

#[cfg(test)]
mod tests {
    use super::super::parse::{Extension, ServerHello};
    use super::*;

    /// A TLS 1.3-only server in memory: its suites and groups, listed in its own order, which
    /// it follows when `own_order` and otherwise takes the client's. It answers a hello
    /// without a key share with a HelloRetryRequest naming suite and group.
    struct Tls13Server {
        suites: Vec<u16>,
        groups: Vec<u16>,
        own_order: bool,
    }

    impl Tls13Server {
        fn pick(&self, offered: &[u16], supported: &[u16]) -> Option<u16> {
            if self.own_order {
                supported.iter().copied().find(|s| offered.contains(s))
            } else {
                offered.iter().copied().find(|s| supported.contains(s))
            }
        }

        fn answer(&self, probe: &Probe) -> Outcome {
            let refused = Outcome::Answer(ServerAnswer::Alert {
                level: 2,
                description: 70,
            });
            let Probe::Hello(HelloForm::Tls(h)) = probe else {
                return Outcome::Failed("the server closed the connection".into());
            };
            if h.version != TlsVersion::Tls13 {
                return refused;
            }
            let (Some(suite), Some(group)) = (
                self.pick(&h.suites, &self.suites),
                self.pick(&h.groups, &self.groups),
            ) else {
                return Outcome::Answer(ServerAnswer::Alert {
                    level: 2,
                    description: 40,
                });
            };
            flight(
                ServerHello {
                    version: TlsVersion::Tls13,
                    random: HELLO_RETRY_RANDOM,
                    session_id: Vec::new(),
                    cipher: suite,
                    compression: 0,
                    extensions: vec![Extension {
                        kind: ext::KEY_SHARE,
                        data: group.to_be_bytes().to_vec(),
                    }],
                    retry: true,
                },
                false,
            )
        }
    }

    fn run(server: &Tls13Server) -> (ProbeReport, usize) {
        let mut planner = Planner::new(PlanOptions::default());
        while let Some(step) = planner.next_step() {
            let outcome = server.answer(&step.probe);
            planner.learn(step.id, outcome);
        }
        assert!(planner.is_done());
        let issued = planner.issued();
        (planner.finish(), issued)
    }

    /// A first flight around `hello`: a TLS 1.3 HelloRetryRequest, or a whole TLS 1.2 flight
    /// when `done`.
    fn flight(hello: ServerHello, done: bool) -> Outcome {
        Outcome::Answer(ServerAnswer::Hello(Box::new(ServerFlight {
            hello,
            chain: Vec::new(),
            key_exchange: None,
            ocsp_staple: None,
            certificate_request: false,
            done,
            resumed: false,
            transcript: Vec::new(),
            alert: None,
        })))
    }

    fn suite_codes(v: &VersionResult) -> Vec<u16> {
        v.suites.iter().map(|s| s.code).collect()
    }

    fn codes(groups: &[NamedGroup]) -> Vec<u16> {
        groups.iter().map(|g| g.code).collect()
    }

    use super::super::hello::HELLO_RETRY_RANDOM;

    /// A TLS 1.2-only server in memory taking the client's order; a hello the enumeration's
    /// CCS check rides on gets a whole flight, then refuses the early ChangeCipherSpec.
    fn tls12_answer(suites: &[u16], probe: &Probe) -> Outcome {
        tls12_answer_with(suites, probe, [1; 32])
    }

    fn tls12_answer_with(suites: &[u16], probe: &Probe, random: [u8; 32]) -> Outcome {
        let h = match probe {
            Probe::Hello(HelloForm::Tls(h)) | Probe::CcsRiding(h) => h,
            _ => return Outcome::Failed("the server closed the connection".into()),
        };
        let answer = if h.version != TlsVersion::Tls12 {
            Outcome::Answer(ServerAnswer::Alert {
                level: 2,
                description: 70,
            })
        } else if let Some(&cipher) = h.suites.iter().find(|s| suites.contains(s)) {
            flight(
                ServerHello {
                    version: TlsVersion::Tls12,
                    random,
                    session_id: Vec::new(),
                    cipher,
                    compression: 0,
                    extensions: Vec::new(),
                    retry: false,
                },
                true,
            )
        } else {
            Outcome::Answer(ServerAnswer::Alert {
                level: 2,
                description: 40,
            })
        };
        match probe {
            Probe::CcsRiding(_) => Outcome::Rider {
                hello: Box::new(answer),
                check: Box::new(Outcome::Ccs(CcsResult::Rejected {
                    how: "alert 10 (unexpected_message)".into(),
                })),
            },
            _ => answer,
        }
    }

    /// A TLS 1.3 server also answering TLS 1.2: with RFC 8446's downgrade sentinel in every
    /// TLS 1.2 ServerHello the fallback check needs no connection (its hello would be refused
    /// or carry the sentinel too: Protected by the check's own rule); without it, the fallback
    /// hello is sent.
    #[test]
    fn the_downgrade_sentinel_answers_the_fallback_check() {
        let tls13 = Tls13Server {
            suites: vec![0x1301],
            groups: vec![29],
            own_order: false,
        };
        let tls12 = [0xC02F, 0xC030];
        for sentinel in [true, false] {
            let mut random = [7u8; 32];
            if sentinel {
                random[24..].copy_from_slice(b"DOWNGRD\x01");
            }
            let mut planner = Planner::new(PlanOptions::default());
            let mut labels = Vec::new();
            while let Some(step) = planner.next_step() {
                labels.push(step.label.clone());
                let outcome = match &step.probe {
                    Probe::Hello(HelloForm::Tls(h)) if h.version == TlsVersion::Tls13 => {
                        tls13.answer(&step.probe)
                    }
                    // The fallback hello, refused as RFC 7507 says.
                    Probe::Hello(HelloForm::Tls(h)) if h.fallback_scsv => {
                        Outcome::Answer(ServerAnswer::Alert {
                            level: 2,
                            description: 86,
                        })
                    }
                    other => tls12_answer_with(&tls12, other, random),
                };
                planner.learn(step.id, outcome);
            }
            let r = planner.finish();
            assert_eq!(r.checks.fallback_scsv.verdict, Verdict::Protected);
            let asked = labels.iter().any(|l| l == "fallback SCSV");
            assert_eq!(asked, !sentinel, "{labels:?}");
            assert_eq!(
                r.checks.fallback_scsv.detail.contains("downgrade sentinel"),
                sentinel,
                "{:?}",
                r.checks.fallback_scsv
            );
        }
    }

    /// A long TLS 1.2 chain in the client's order goes on in two halves side by side, each
    /// ending on its own refusal; the suites are reported in the order offered, as one
    /// chain would have found them, and the CCS check rode on one of its hellos.
    #[test]
    fn a_long_client_order_chain_is_split_in_two() {
        let offered = suites::legacy_suites();
        // Twenty DHE and ECDHE suites with CBC (none this prober completes, no RSA key
        // exchange: no handshake or ROBOT steps), listed in an order unlike the client's.
        let mut server: Vec<u16> = offered
            .iter()
            .copied()
            .filter(|&c| {
                suites::suite(c).is_some_and(|s| {
                    matches!(s.kx, KeyExchange::Dhe | KeyExchange::Ecdhe)
                        && s.auth == Authentication::Rsa
                        && s.mode == Mode::Cbc
                })
            })
            .take(20)
            .collect();
        assert_eq!(server.len(), 20);
        server.reverse();
        let mut planner = Planner::new(PlanOptions::default());
        let mut tls12_hellos = 0;
        let mut at_once = 0;
        let mut running: Vec<Step> = Vec::new();
        // Two at a time, as the driver runs them, answered oldest first.
        loop {
            while running.len() < 2 {
                let Some(step) = planner.next_step() else {
                    break;
                };
                running.push(step);
            }
            let both = running
                .iter()
                .filter(|s| s.label.starts_with("TLSv1.2 suites"))
                .count();
            at_once = at_once.max(both);
            if running.is_empty() {
                break;
            }
            let step = running.remove(0);
            if step.label.starts_with("TLSv1.2 suites") {
                tls12_hellos += 1;
            }
            let outcome = tls12_answer(&server, &step.probe);
            planner.learn(step.id, outcome);
        }
        let r = planner.finish();
        let v = r.version(TlsVersion::Tls12).expect("TLS 1.2");
        let mut want = server.clone();
        want.sort_by_key(|s| offered.iter().position(|o| o == s));
        assert_eq!(suite_codes(v), want);
        assert_eq!(v.preference, Preference::Client);
        assert_eq!(at_once, 2, "the halves never ran side by side");
        // Twenty found, and each half's refusal.
        assert_eq!(tls12_hellos, 20 + 2);
        assert_eq!(r.checks.ccs_injection.verdict, Verdict::Protected);
    }

    /// The client's order: the chain's second hello, its groups reversed, finds the client's
    /// last group; the pair appended to the chain's fourth hello is the preference test and
    /// the chain's end at once. 4 suite hellos, 5 refusals at the other versions, 2 group
    /// hellos (the one group left, then none).
    #[test]
    fn a_client_order_server_is_enumerated_with_the_tests_riding_on_the_chain() {
        let server = Tls13Server {
            suites: vec![0x1301, 0x1302, 0x1303],
            groups: vec![23, 24, 29],
            own_order: false,
        };
        let (r, issued) = run(&server);
        let v = r.version(TlsVersion::Tls13).expect("TLS 1.3");
        let offered13 = suites::tls13_suites();
        let mut want: Vec<u16> = server.suites.clone();
        want.sort_by_key(|s| offered13.iter().position(|o| o == s));
        assert_eq!(suite_codes(v), want);
        assert_eq!(v.preference, Preference::Client);
        let order = suites::offered_groups();
        let mut groups = server.groups.clone();
        groups.sort_by_key(|g| order.iter().position(|o| o == g));
        assert_eq!(codes(&r.groups.tls13), groups);
        assert_eq!(r.groups.tls13_preference, Preference::Client);
        assert_eq!(issued, 4 + 5 + 2);
    }

    /// The server's order: the reversed hello names the same group, so with the other groups
    /// found the order is the server's, without a hello of its own; the suites' pair is
    /// answered with the server's first choice, and the chain asks once more without it.
    #[test]
    fn a_server_order_server_is_enumerated_in_its_order() {
        // Its first two choices come in the order offered: only the pair tells, and costs a
        // hello (as the reorder hello did).
        let server = Tls13Server {
            suites: vec![0x1302, 0x1303, 0x1301],
            groups: vec![29, 24, 23],
            own_order: true,
        };
        let (r, issued) = run(&server);
        let v = r.version(TlsVersion::Tls13).expect("TLS 1.3");
        assert_eq!(suite_codes(v), server.suites);
        assert_eq!(v.preference, Preference::Server);
        assert_eq!(codes(&r.groups.tls13), server.groups);
        assert_eq!(r.groups.tls13_preference, Preference::Server);
        // Suites: 3 found, the pair, the end; groups: the first came with the chain, 2 more
        // and the end.
        assert_eq!(issued, 5 + 5 + 3);

        // Its second choice comes before its first in the order offered: that tells at once,
        // and no pair is appended.
        let server = Tls13Server {
            suites: vec![0x1303, 0x1302, 0x1301],
            ..server
        };
        let (r, issued) = run(&server);
        let v = r.version(TlsVersion::Tls13).expect("TLS 1.3");
        assert_eq!(suite_codes(v), server.suites);
        assert_eq!(v.preference, Preference::Server);
        assert_eq!(issued, 4 + 5 + 3);
    }

    /// One group only: the reversed hello names it again, which proves no order; nothing is
    /// claimed.
    #[test]
    fn one_group_claims_no_order() {
        let server = Tls13Server {
            suites: vec![0x1301, 0x1302],
            groups: vec![29],
            own_order: false,
        };
        let (r, _) = run(&server);
        assert_eq!(codes(&r.groups.tls13), vec![29]);
        assert_eq!(r.groups.tls13_preference, Preference::Unknown);
        assert_eq!(
            r.version(TlsVersion::Tls13).expect("TLS 1.3").preference,
            Preference::Client
        );
    }
}
