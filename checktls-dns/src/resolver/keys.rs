//! The validator's own questions (DNSKEY, DS, and the NS questions that find zone cuts) asked
//! once: one answer per question is kept for its TTL (at most an hour), and askers of a question
//! already in flight wait for that answer instead of asking again.
//!
//! ```text
//!   DnssecDnsHandle ── DNSKEY/DS/NS ──► KeyCache ── hit (within TTL) ──► the kept answer
//!        │                                  │   └─ in flight ─────────────► wait for it
//!        │                                  └── miss ─► Upstream ─► servers (one question)
//!        └── every other question ──────────────────► Upstream
//! ```
//!
//! Why: hickory's validator caches its *proofs*, not the answers it fetched to reach them, so
//! every RRset it validates asks for the signer's DNSKEY set again (and the DS above it when the
//! proof is not cached yet, and concurrent validations all ask at once): a receiver test asked
//! about a hundred questions where a dozen carry the information. A zone's keys do not change
//! within their TTL, which is how long any validating resolver keeps them (RFC 4035 §4.5).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::net::NetError;
use hickory_resolver::proto::op::{DnsRequest, DnsResponse};
use hickory_resolver::proto::rr::{LowerName, RData, RecordType as HType};
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// The most questions kept; when full the cache is emptied (simple, bounded).
const LIMIT: usize = 1024;
/// The longest an answer is kept.
const MAX_KEEP: Duration = Duration::from_secs(3600);

/// Which questions are the validator's own.
pub(crate) fn is_key_question(rtype: HType) -> bool {
    matches!(rtype, HType::DNSKEY | HType::DS | HType::NS)
}

/// A question as the cache knows it: name, type, the DO bit and recursion (a question sent
/// to a zone's own servers without recursion is another question).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    name: LowerName,
    rtype: HType,
    dnssec_ok: bool,
    recursion: bool,
}

impl Key {
    /// The key of a request, when it is one the cache keeps.
    pub(crate) fn of(request: &DnsRequest) -> Option<Self> {
        if request.queries.len() != 1 {
            return None;
        }
        let q = request.queries.first()?;
        if !is_key_question(q.query_type()) {
            return None;
        }
        let options = request.options();
        Some(Self {
            name: LowerName::from(q.name()),
            rtype: q.query_type(),
            dnssec_ok: options.edns_set_dnssec_ok,
            recursion: options.recursion_desired,
        })
    }
}

type Answer = (Instant, Result<DnsResponse, NetError>);

/// The kept answers. Cheap to share (`Arc`); see the module docs.
#[derive(Default)]
pub(crate) struct KeyCache {
    entries: Mutex<HashMap<Key, Arc<OnceCell<Answer>>>>,
    asked: std::sync::atomic::AtomicUsize,
}

impl KeyCache {
    /// The answer to `key`: kept, in flight, or fetched now with `fetch`.
    pub(crate) async fn get<F>(&self, key: Key, fetch: F) -> Result<DnsResponse, NetError>
    where
        F: Future<Output = Result<DnsResponse, NetError>>,
    {
        let now = Instant::now();
        let cell = {
            let mut map = match self.entries.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let fresh = map
                .get(&key)
                .is_some_and(|c| c.get().is_none_or(|(until, _)| *until > now));
            if !fresh {
                if map.len() >= LIMIT {
                    map.clear();
                }
                map.insert(key.clone(), Arc::new(OnceCell::new()));
            }
            map.get(&key).cloned().unwrap_or_default()
        };
        let (_, answer) = cell
            .get_or_init(|| async {
                self.asked
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let answer = fetch.await;
                (Instant::now() + keep(&answer), answer)
            })
            .await;
        answer.clone()
    }

    /// How many questions went to the servers through this cache.
    #[cfg(test)]
    pub(crate) fn asked(&self) -> usize {
        self.asked.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// How long an answer is kept: the smallest TTL of its records (a negative answer's SOA
/// minimum), at most an hour; a failure is not kept (only shared while in flight).
fn keep(answer: &Result<DnsResponse, NetError>) -> Duration {
    let Ok(response) = answer else {
        return Duration::ZERO;
    };
    let ttl = if response.answers.is_empty() {
        response
            .authorities
            .iter()
            .find_map(|r| match &r.data {
                RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
                _ => None,
            })
            .unwrap_or(0)
    } else {
        response.answers.iter().map(|r| r.ttl).min().unwrap_or(0)
    };
    Duration::from_secs(u64::from(ttl)).min(MAX_KEEP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::{DnsRequestOptions, Message, Query};
    use hickory_resolver::proto::rr::Name;

    fn request(name: &str, rtype: HType) -> DnsRequest {
        let mut o = DnsRequestOptions::default();
        o.edns_set_dnssec_ok = true;
        DnsRequest::from_query(Query::query(Name::from_ascii(name).unwrap(), rtype), o)
    }

    fn response(ttl: u32) -> Result<DnsResponse, NetError> {
        use hickory_resolver::proto::rr::Record;
        use hickory_resolver::proto::rr::rdata::A;
        let mut m = Message::query();
        m.add_answer(Record::from_rdata(
            Name::from_ascii("x.test.").unwrap(),
            ttl,
            RData::A(A::new(192, 0, 2, 1)),
        ));
        Ok(DnsResponse::from_message(m.into_response()).unwrap())
    }

    #[test]
    fn only_the_validators_questions_are_kept() {
        assert!(Key::of(&request("test.", HType::DNSKEY)).is_some());
        assert!(Key::of(&request("test.", HType::DS)).is_some());
        assert!(Key::of(&request("test.", HType::NS)).is_some());
        assert!(Key::of(&request("test.", HType::A)).is_none());
        assert!(Key::of(&request("test.", HType::TXT)).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_askers_share_one_question_and_the_answer_lives_for_its_ttl() {
        let cache = KeyCache::default();
        let key = Key::of(&request("test.", HType::DNSKEY)).unwrap();
        let slow = || async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            response(300)
        };
        let (a, b, c) = tokio::join!(
            cache.get(key.clone(), slow()),
            cache.get(key.clone(), slow()),
            cache.get(key.clone(), slow()),
        );
        assert!(a.is_ok() && b.is_ok() && c.is_ok());
        assert_eq!(cache.asked(), 1, "three askers, one question");
        tokio::time::advance(Duration::from_secs(299)).await;
        cache.get(key.clone(), slow()).await.unwrap();
        assert_eq!(cache.asked(), 1, "within the TTL: kept");
        tokio::time::advance(Duration::from_secs(2)).await;
        cache.get(key.clone(), slow()).await.unwrap();
        assert_eq!(cache.asked(), 2, "past the TTL: asked again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_is_not_kept() {
        let cache = KeyCache::default();
        let key = Key::of(&request("test.", HType::DS)).unwrap();
        let failed = || async { Err::<DnsResponse, _>(NetError::Timeout) };
        assert!(cache.get(key.clone(), failed()).await.is_err());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(cache.get(key.clone(), async { response(60) }).await.is_ok());
        assert_eq!(cache.asked(), 2);
    }
}
