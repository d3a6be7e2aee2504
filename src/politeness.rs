//! Politeness per address: the MX names that share an address and port are probed one at a
//! time (at most [`shared_address_sessions`](crate::options::ReceiverOptions::shared_address_sessions),
//! default 1), in the order their plans were made (preference order within a target: each
//! takes a [`Ticket`] when its plan is made, before its task first runs), and the TLS facts
//! of one name are reused for the others when the server presents the same thing whatever
//! the SNI; a busy answer backs off with a growing wait.
//!
//! ```text
//!   mx1, mx2, mx3 ─► 192.0.2.25:25 (one AddressGroup per run)
//!     mx1: its turn ─► probe (SNI mx1) ─────────────────────────┐
//!     mx2: its turn ─► probe (SNI mx2) ─► same chain as mx1? ───┤ yes: SNI changes nothing
//!     mx3: its turn ─► reuse mx1's facts (no session) ◄─────────┘ no: every name is probed
//!   421 / 4xx greeting ─► wait 1 s, 2 s, 3 s, 5 s, 8 s, ... (or the seconds the reply
//!                          names), then try again while a try fits before the deadline
//! ```
//!
//! The check of SNI costs one session more than the first (two per address, whatever the
//! number of names); a server whose certificate depends on SNI (Postfix `tls_server_sni_maps`)
//! is probed once per name. An SNI given in the options is the same for every name, so the
//! facts of the first name serve all.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::probe::{HostProbe, ProbeKey};

/// What a probe showed that SNI could change: the chain of a completed handshake, or "no TLS
/// offered" (SNI is never sent).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Presented {
    Chain(Vec<Vec<u8>>),
    NoTls,
}

fn presented(p: &HostProbe) -> Option<Presented> {
    if p.busy {
        return None;
    }
    let r = &p.record;
    if let Some(facts) = &r.tls {
        return Some(Presented::Chain(
            facts.chain.iter().map(|c| c.as_ref().to_vec()).collect(),
        ));
    }
    let offered = r.ehlo.before_tls.as_ref().is_some_and(|c| c.starttls);
    (r.tls_failure.is_none() && !offered && r.passed(crate::smtp::Stage::Ehlo))
        .then_some(Presented::NoTls)
}

/// What is known of SNI at one address, for one recipient.
#[derive(Default)]
enum Sni {
    /// Nothing probed yet (or nothing that tells).
    #[default]
    Unknown,
    /// One name probed.
    One(String, Presented, Arc<HostProbe>),
    /// Two names probed, the same thing presented: SNI changes nothing here.
    Independent(String, Arc<HostProbe>),
    /// Two names probed, different things presented: every name is probed.
    Dependent,
}

/// The names of one run that share an address and port.
pub(crate) struct AddressGroup {
    sessions: usize,
    line: Mutex<Line>,
    changed: Notify,
    sni: Mutex<HashMap<Option<String>, Sni>>,
}

/// Who waits for a session at the address, and how many sessions are open.
#[derive(Default)]
struct Line {
    next: u64,
    waiting: BTreeSet<u64>,
    running: usize,
}

/// A place in an address's line, taken when the plan is made (synchronously, so the order is
/// the plans' order, not the order in which their tasks happen to be polled). Its turn comes
/// when every ticket taken before it has had its turn (or was dropped) and a session is free;
/// dropping it, waiting or running, gives the place up.
pub(crate) struct Ticket {
    group: Arc<AddressGroup>,
    number: u64,
    running: bool,
}

impl AddressGroup {
    pub(crate) fn new(sessions: usize) -> Self {
        Self {
            sessions: sessions.max(1),
            line: Mutex::new(Line::default()),
            changed: Notify::new(),
            sni: Mutex::new(HashMap::new()),
        }
    }

    /// Takes the next place in line.
    pub(crate) fn ticket(self: &Arc<Self>) -> Ticket {
        let mut line = lock(&self.line);
        let number = line.next;
        line.next += 1;
        line.waiting.insert(number);
        Ticket {
            group: Arc::clone(self),
            number,
            running: false,
        }
    }
}

impl Ticket {
    /// The group the ticket is of.
    pub(crate) fn group(&self) -> &AddressGroup {
        &self.group
    }

    /// Waits for this ticket's turn: first in line, and a session free.
    pub(crate) async fn turn(&mut self) {
        if self.running {
            return;
        }
        loop {
            let changed = self.group.changed.notified();
            tokio::pin!(changed);
            // Registered before the line is read, so a change in between is not missed.
            changed.as_mut().enable();
            {
                let mut line = lock(&self.group.line);
                if line.running < self.group.sessions && line.waiting.first() == Some(&self.number)
                {
                    line.waiting.remove(&self.number);
                    line.running += 1;
                    self.running = true;
                    return;
                }
            }
            changed.await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        {
            let mut line = lock(&self.group.line);
            if self.running {
                line.running -= 1;
            } else {
                line.waiting.remove(&self.number);
            }
        }
        self.group.changed.notify_waiters();
    }
}

impl AddressGroup {
    /// Another name's probe to reuse for `key`, when SNI was shown to change nothing here
    /// (or is fixed by the options).
    pub(crate) fn reusable(&self, key: &ProbeKey, sni_fixed: bool) -> Option<HostProbe> {
        let map = lock(&self.sni);
        match map.get(&key.rcpt)? {
            Sni::Independent(from, p) => Some(reuse(p, from)),
            Sni::One(from, _, p) if sni_fixed => Some(reuse(p, from)),
            _ => None,
        }
    }

    /// What the probe of `key` showed.
    pub(crate) fn learn(&self, key: &ProbeKey, probe: &Arc<HostProbe>) {
        let Some(now) = presented(probe) else {
            return;
        };
        let mut map = lock(&self.sni);
        let state = map.entry(key.rcpt.clone()).or_default();
        *state = match std::mem::take(state) {
            Sni::Unknown => Sni::One(key.name.clone(), now, Arc::clone(probe)),
            Sni::One(name, before, first) if name == key.name => Sni::One(name, before, first),
            Sni::One(name, before, first) => {
                if before == now {
                    Sni::Independent(name, first)
                } else {
                    Sni::Dependent
                }
            }
            other => other,
        };
    }
}

fn reuse(p: &HostProbe, from: &str) -> HostProbe {
    HostProbe {
        record: p.record.clone(),
        legacy: p.legacy.clone(),
        busy: p.busy,
        tries: 0,
        waited: Duration::ZERO,
        reused_from: Some(from.to_owned()),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The wait before try `attempt + 1` after a busy answer: what the reply named, else a window
/// that grows as the Fibonacci numbers do (1, 2, 3, 5, 8, 13, ... s, at most 60 s). It grows
/// more slowly than doubling, so the try that succeeds lands soon after the server's limit
/// lifts (a 10 s rate window: tries at 1, 3, 6 and 11 s, not 1, 3, 7 and 15 s), and every
/// try is still further apart than the one before.
pub(crate) fn back_off(attempt: u32, named: Option<Duration>) -> Duration {
    let (mut a, mut b) = (1u64, 2u64);
    for _ in 1..attempt.min(12) {
        (a, b) = (b, a + b);
    }
    named
        .unwrap_or(Duration::from_secs(a))
        .min(Duration::from_secs(60))
        .max(Duration::from_millis(500))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tickets taken 0, 2, 3 whose tasks first run 3, 2, 0 still get their turns 0, 2, 3,
    /// one at a time; ticket 1, dropped while waiting, lets the next go.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn turns_follow_the_tickets_not_the_polls() {
        let group = Arc::new(AddressGroup::new(1));
        let tickets: Vec<Ticket> = (0..4).map(|_| group.ticket()).collect();
        let order = Arc::new(Mutex::new(Vec::new()));
        let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        let mut tickets = tickets.into_iter().enumerate().collect::<Vec<_>>();
        // Ticket 1 is given up before its turn (as when another target's probe of the same
        // name is already under way): until then, 2 and 3 wait behind it.
        let (_, gone) = tickets.remove(1);
        for (i, mut ticket) in tickets.into_iter().rev() {
            let (order, open) = (Arc::clone(&order), Arc::clone(&open));
            tasks.push(tokio::spawn(async move {
                ticket.turn().await;
                let now = open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                assert_eq!(now, 0, "two sessions at once");
                lock(&order).push(i);
                tokio::time::sleep(Duration::from_millis(20)).await;
                open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }));
            // Let the later ticket's task run (and wait) before the earlier one starts.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(gone);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*lock(&order), [0, 2, 3]);
        let line = lock(&group.line);
        assert!(line.waiting.is_empty() && line.running == 0);
    }

    #[test]
    fn the_wait_grows_and_honours_the_reply() {
        let secs: Vec<u64> = (1..=11).map(|a| back_off(a, None).as_secs()).collect();
        assert_eq!(secs, [1, 2, 3, 5, 8, 13, 21, 34, 55, 60, 60]);
        assert_eq!(back_off(1, Some(Duration::from_secs(30))).as_secs(), 30);
        assert_eq!(back_off(1, Some(Duration::from_secs(3600))).as_secs(), 60);
    }
}
