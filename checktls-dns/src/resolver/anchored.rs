//! Our trust anchors as hickory's, for zones anchored below the root.
//!
//! ```text
//!   TrustAnchors (DNSKEY or DS, any zone)
//!     │  root "."       → the anchor keys as given (hickory walks the root itself)
//!     │  any other zone → fetch its DNSKEY set once (unvalidated), keep it only if a
//!     │                   timely RRSIG by an unrevoked anchor key verifies, then trust
//!     │                   every unrevoked zone key of that set until the set's TTL or
//!     │                   the signature's expiry, whichever comes first
//!     ▼
//!   hickory TrustAnchors (public keys by zone) → DnssecDnsHandle
//! ```
//!
//! Why: hickory 0.26's validator treats its anchors as root keys. For the DNSKEY set of any other
//! zone it trusts the anchored keys, and when the set holds a key that is not an anchor (the ZSK
//! of a KSK+ZSK zone, the usual layout) it fetches the zone's DS from the parent and gives up
//! ("bogus") when no secure DS comes back, which is what an island of trust has. A CSK zone
//! has no such extra key, which is why it validated. RFC 4035 §5.2 and RFC 7958 make the anchored
//! key the start of the chain: the keys it signs (the DNSKEY set) are authenticated, the DS
//! above it is not needed. We do that step here and hand hickory the keys it authenticated.

use std::time::Duration;

use hickory_resolver::net::xfer::{DnsHandle, FirstAnswer};
use hickory_resolver::proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_resolver::proto::dnssec::{
    Algorithm, DigestType, PublicKey, PublicKeyBuf, TrustAnchors as HTrustAnchors, Verifier,
};
use hickory_resolver::proto::op::{DnsRequestOptions, Message, Query as HQuery};
use hickory_resolver::proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType as HType};

use super::engine::{Upstream, to_name};
use crate::{TrustAnchor, TrustAnchors};

/// The shortest and longest time an authenticated DNSKEY set of an anchored zone is kept.
const MIN_KEEP: Duration = Duration::from_secs(30);
const MAX_KEEP: Duration = Duration::from_secs(3600);

/// hickory's anchors for ours, and how long they hold (`None`: for ever, nothing was fetched).
pub(crate) struct Anchored {
    pub(crate) keys: HTrustAnchors,
    pub(crate) keep: Option<Duration>,
}

/// Serial-number comparison (RFC 1982) of signature times.
pub(crate) fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// Whether a signature is within its validity period at `now`.
pub(crate) fn timely(sig: &RRSIG, now: u32) -> bool {
    let i = sig.input();
    !before(i.sig_expiration.get(), now) && !before(now, i.sig_inception.get())
}

/// Whether a DNSKEY is the one an anchor names (by key, or by DS digest).
pub(crate) fn anchor_names(anchor: &TrustAnchor, zone: &Name, key: &DNSKEY) -> bool {
    match anchor {
        TrustAnchor::Dnskey {
            algorithm,
            public_key,
            ..
        } => {
            key.public_key().public_bytes() == public_key.as_slice()
                && u8::from(key.algorithm()) == *algorithm
        }
        TrustAnchor::Ds {
            key_tag,
            algorithm,
            digest_type,
            digest,
            ..
        } => {
            let ds = DS::new(
                *key_tag,
                Algorithm::from_u8(*algorithm),
                DigestType::from(*digest_type),
                digest.clone(),
            );
            ds.covers(zone, key).unwrap_or(false)
        }
    }
}

/// The DNSKEY records of `zone` in a message, with their records.
fn zone_keys<'a>(message: &'a Message, zone: &Name) -> Vec<(&'a Record, &'a DNSKEY)> {
    message
        .answers
        .iter()
        .filter(|r| &r.name == zone)
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some((r, k)),
            _ => None,
        })
        .collect()
}

/// The keys of an anchored zone that its anchors authenticate at `now`: every unrevoked zone key
/// of the DNSKEY set, when a timely RRSIG over the set by an unrevoked anchored key verifies;
/// none otherwise. With how long the set may be kept.
pub(crate) fn authenticated_keys<'a>(
    message: &'a Message,
    zone: &Name,
    anchors: &[&TrustAnchor],
    now: u32,
) -> Option<(Vec<&'a DNSKEY>, Duration)> {
    let keys = zone_keys(message, zone);
    let records: Vec<&Record> = keys.iter().map(|(r, _)| *r).collect();
    let anchored: Vec<&DNSKEY> = keys
        .iter()
        .map(|(_, k)| *k)
        .filter(|k| k.zone_key() && !k.revoke())
        .filter(|k| anchors.iter().any(|a| anchor_names(a, zone, k)))
        .collect();
    let signature = message
        .answers
        .iter()
        .filter(|r| &r.name == zone)
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(s)) if s.input().type_covered == HType::DNSKEY => {
                Some(s)
            }
            _ => None,
        })
        .filter(|s| timely(s, now))
        .find(|s| {
            anchored.iter().any(|k| {
                k.calculate_key_tag().ok() == Some(s.input().key_tag)
                    && k.verify_rrsig(zone, DNSClass::IN, s, records.iter().copied())
                        .is_ok()
            })
        })?;
    let ttl = keys
        .iter()
        .map(|(r, _)| r.ttl)
        .min()
        .unwrap_or(0)
        .min(signature.input().original_ttl);
    let until_expiry = signature.input().sig_expiration.get().wrapping_sub(now);
    let keep = Duration::from_secs(u64::from(ttl.min(until_expiry))).clamp(MIN_KEEP, MAX_KEEP);
    let trusted = keys
        .iter()
        .map(|(_, k)| *k)
        .filter(|k| k.zone_key() && !k.revoke())
        .collect();
    Some((trusted, keep))
}

/// Builds hickory's anchors from ours, fetching the DNSKEY sets of anchored zones below the root
/// (and of the root, for DS anchors) through `upstream` without validation.
pub(crate) async fn anchored(anchors: &TrustAnchors, upstream: &Upstream, now: u32) -> Anchored {
    let mut keys = if anchors.includes_iana_root() {
        HTrustAnchors::default()
    } else {
        HTrustAnchors::empty()
    };
    let mut keep: Option<Duration> = None;
    let mut zones: Vec<&crate::DomainName> = Vec::new();
    for a in anchors.anchors() {
        if !zones.contains(&a.zone()) {
            zones.push(a.zone());
        }
    }
    for zone_ours in zones {
        let Ok(zone) = to_name(zone_ours) else {
            continue;
        };
        let lower = LowerName::from(&zone);
        let of_zone: Vec<&TrustAnchor> = anchors
            .anchors()
            .iter()
            .filter(|a| a.zone() == zone_ours)
            .collect();
        // DNSKEY anchors are trusted as given: a root anchor is all hickory needs, and for any
        // other zone they are what the diagnosis checks the set against if it does not validate.
        for a in &of_zone {
            if let TrustAnchor::Dnskey {
                algorithm,
                public_key,
                ..
            } = a
            {
                let key = PublicKeyBuf::new(public_key.clone(), Algorithm::from_u8(*algorithm));
                keys.insert_with_name(&key, lower.clone());
            }
        }
        let only_dnskeys = of_zone
            .iter()
            .all(|a| matches!(a, TrustAnchor::Dnskey { .. }));
        if zone.is_root() && only_dnskeys {
            continue;
        }
        let mut o = DnsRequestOptions::default();
        o.use_edns = true;
        o.edns_set_dnssec_ok = true;
        o.recursion_desired = true;
        let message = match upstream
            .lookup(HQuery::query(zone.clone(), HType::DNSKEY), o)
            .first_answer()
            .await
        {
            Ok(r) => r.into_message(),
            Err(e) => {
                tracing::debug!(zone = %zone, error = %e, "trust anchor: DNSKEY lookup failed");
                // Try again soon; until then the zone's answers cannot be validated.
                keep = Some(keep.map_or(MIN_KEEP, |k| k.min(MIN_KEEP)));
                continue;
            }
        };
        match authenticated_keys(&message, &zone, &of_zone, now) {
            Some((trusted, hold)) => {
                let trusted: Vec<&DNSKEY> = if zone.is_root() {
                    // hickory authenticates the root's set from its anchored keys itself.
                    trusted
                        .into_iter()
                        .filter(|k| of_zone.iter().any(|a| anchor_names(a, &zone, k)))
                        .collect()
                } else {
                    trusted
                };
                for k in trusted {
                    keys.insert_with_name(k.public_key(), lower.clone());
                }
                keep = Some(keep.map_or(hold, |k| k.min(hold)));
            }
            None => {
                // Not authenticated: trust no fetched key; answers below will be bogus and the
                // diagnosis will say why. Look again soon (a rollover may be under way).
                tracing::debug!(zone = %zone, "trust anchor: the DNSKEY set is not signed by an anchored key");
                keep = Some(keep.map_or(MIN_KEEP, |k| k.min(MIN_KEEP)));
            }
        }
    }
    Anchored { keys, keep }
}

/// Base32hex without padding, lower case (RFC 4648 §7): how NSEC3 owner labels spell hashes. The
/// encoding keeps the order of the bytes, so encoded hashes compare as the hashes do.
fn base32hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u64 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let index = usize::try_from((buffer >> bits) & 31).unwrap_or(0);
            out.push(char::from(DIGITS.get(index).copied().unwrap_or(b'0')));
        }
    }
    if bits > 0 {
        let index = usize::try_from((buffer << (5 - bits)) & 31).unwrap_or(0);
        out.push(char::from(DIGITS.get(index).copied().unwrap_or(b'0')));
    }
    out
}

/// Whether a denial rests on an opt-out NSEC3 covering the "next closer" name of `qname`: then
/// it proves only that no signed name is there, and the answer is not secure (RFC 5155 §9.2:
/// the AD bit MUST NOT be set). `authorities` is the response's authority section.
pub(crate) fn opt_out_denial(authorities: &[Record], qname: &Name) -> bool {
    let nsec3: Vec<(String, &hickory_resolver::proto::dnssec::rdata::NSEC3)> = authorities
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::NSEC3(n)) => {
                let label = r.name.iter().next()?;
                Some((String::from_utf8_lossy(label).to_ascii_lowercase(), n))
            }
            _ => None,
        })
        .collect();
    let Some((_, first)) = nsec3.first() else {
        return false;
    };
    let (algorithm, salt, iterations) = (first.hash_algorithm(), first.salt(), first.iterations());
    let hash = |name: &Name| -> Option<String> {
        algorithm
            .hash(salt, name, iterations)
            .ok()
            .map(|d| base32hex(d.as_ref()))
    };
    // The closest encloser: the longest ancestor of qname whose hash an NSEC3 owner matches.
    let labels = usize::from(qname.num_labels());
    let mut next_closer: Option<Name> = None;
    let mut candidate = qname.clone();
    for _ in 0..labels {
        let parent = candidate.base_name();
        if let Some(h) = hash(&parent)
            && nsec3.iter().any(|(owner, _)| *owner == h)
        {
            next_closer = Some(candidate);
            break;
        }
        candidate = parent;
    }
    let Some(next_closer) = next_closer else {
        return false;
    };
    let Some(h) = hash(&next_closer) else {
        return false;
    };
    nsec3.iter().any(|(owner, n)| {
        let next = base32hex(n.next_hashed_owner_name());
        let covers = if owner < &next {
            owner.as_str() < h.as_str() && h < next
        } else {
            // The last NSEC3 of the chain wraps around to the first.
            owner.as_str() < h.as_str() || h < next
        };
        covers && n.opt_out()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32hex_matches_rfc_4648_vectors() {
        // RFC 4648 §10, BASE32-HEX, lower case and without padding.
        for (input, want) in [
            ("", ""),
            ("f", "co"),
            ("fo", "cpng"),
            ("foo", "cpnmu"),
            ("foob", "cpnmuog"),
            ("fooba", "cpnmuoj1"),
            ("foobar", "cpnmuoj1e8"),
        ] {
            assert_eq!(base32hex(input.as_bytes()), want, "{input}");
        }
    }
}
