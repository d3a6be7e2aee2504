//! Why an answer is bogus. hickory's validator marks records bogus but keeps the reason to
//! itself, so when it says bogus we look again, without validation, and name the first broken
//! link: no signature, a signature out of its validity period, a key tag the zone does not
//! publish, a signature that does not verify, a DS that matches no key, a parent that claims a
//! DS it does not serve. Bounded: a few extra questions, a few zones up.

use std::fmt::Write as _;

use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::dnssec::Verifier;
use hickory_resolver::proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_resolver::proto::op::Message;
use hickory_resolver::proto::rr::{DNSClass, Name, RData, Record, RecordType as HType};

use super::anchored::{anchor_names, before};
use super::engine::{Engine, dnskeys, from_name};
use crate::{Proof, TrustAnchor};

/// What a second look found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Link {
    /// A broken link: bogus, and why.
    Broken(String),
    /// A record needed to decide could not be fetched: indeterminate (RFC 4035 §4.3).
    Unreachable(String),
}

impl Link {
    pub(super) fn into_proof(self) -> Proof {
        match self {
            Self::Broken(reason) => Proof::bogus(reason),
            Self::Unreachable(why) => {
                tracing::debug!(%why, "DNSSEC: indeterminate");
                Proof::Indeterminate
            }
        }
    }
}

impl From<String> for Link {
    fn from(reason: String) -> Self {
        Self::Broken(reason)
    }
}

/// How many zones up the chain the diagnosis walks.
const MAX_ZONES: usize = 4;

/// Explains a bogus RRset in a response's answer section.
pub(super) async fn rrset(
    engine: &Engine,
    message: &Message,
    owner: &Name,
    rtype: HType,
    now: u32,
) -> Link {
    match check_rrset(engine, &message.answers, owner, rtype, now).await {
        Some(link) => link,
        None => Link::Broken(format!(
            "{} {rtype}: validation failed; no broken link found on a second look",
            show(owner)
        )),
    }
}

/// Explains a bogus negative answer from its authority section.
pub(super) async fn denial(engine: &Engine, message: &Message, now: u32) -> Link {
    let mut owners: Vec<(Name, HType)> = Vec::new();
    for r in &message.authorities {
        let t = r.record_type();
        if matches!(t, HType::NSEC | HType::NSEC3 | HType::SOA)
            && !owners.iter().any(|(n, ty)| n == &r.name && *ty == t)
        {
            owners.push((r.name.clone(), t));
        }
    }
    if !owners
        .iter()
        .any(|(_, t)| matches!(t, HType::NSEC | HType::NSEC3))
    {
        return Link::Broken(
            "the negative answer carries no NSEC or NSEC3 proof, though the zone is signed"
                .to_owned(),
        );
    }
    for (owner, t) in owners.iter().take(4) {
        match check_rrset(engine, &message.authorities, owner, *t, now).await {
            Some(Link::Broken(reason)) => {
                return Link::Broken(format!("denial of existence: {reason}"));
            }
            Some(unreachable) => return unreachable,
            None => {}
        }
    }
    Link::Broken("the NSEC/NSEC3 records do not prove the name or type absent".to_owned())
}

fn rrsigs<'a>(section: &'a [Record], owner: &Name, rtype: HType) -> Vec<&'a RRSIG> {
    section
        .iter()
        .filter(|r| &r.name == owner)
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(sig)) if sig.input().type_covered == rtype => {
                Some(sig)
            }
            _ => None,
        })
        .collect()
}

fn utc(t: u32) -> String {
    time_of(i64::from(t))
}

/// `YYYY-MM-DD HH:MM:SS UTC` from seconds since the epoch, without a date crate.
fn time_of(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// The signatures over an RRset that are within their validity period, or why there are none.
fn timely_signatures<'a>(
    section: &'a [Record],
    owner: &Name,
    rtype: HType,
    now: u32,
) -> Result<Vec<&'a RRSIG>, String> {
    let owner_ = show(owner);
    let sigs = rrsigs(section, owner, rtype);
    if sigs.is_empty() {
        return Err(format!("no signature (RRSIG) covers {owner_} {rtype}"));
    }
    let timely: Vec<&RRSIG> = sigs
        .iter()
        .copied()
        .filter(|s| {
            let i = s.input();
            !before(i.sig_expiration.get(), now) && !before(now, i.sig_inception.get())
        })
        .collect();
    if !timely.is_empty() {
        return Ok(timely);
    }
    let mut out = String::new();
    for s in &sigs {
        let i = s.input();
        if !out.is_empty() {
            out.push_str("; ");
        }
        if before(i.sig_expiration.get(), now) {
            let _ = write!(
                out,
                "the signature on {owner_} {rtype} (key tag {}) expired at {}",
                i.key_tag,
                utc(i.sig_expiration.get())
            );
        } else {
            let _ = write!(
                out,
                "the signature on {owner_} {rtype} (key tag {}) is not valid before {}",
                i.key_tag,
                utc(i.sig_inception.get())
            );
        }
    }
    Err(out)
}

/// Whether one of the signatures verifies with a published key, or why not.
fn verify_with(
    keys: &[&DNSKEY],
    signer: &Name,
    section: &[Record],
    owner: &Name,
    rtype: HType,
    timely: &[&RRSIG],
) -> Result<(), String> {
    let (owner_, signer_) = (show(owner), show(signer));
    let records: Vec<&Record> = section
        .iter()
        .filter(|r| &r.name == owner && r.record_type() == rtype)
        .collect();
    let mut tags = Vec::new();
    for s in timely {
        let tag = s.input().key_tag;
        tags.push(tag);
        for k in keys
            .iter()
            .filter(|k| k.calculate_key_tag().ok() == Some(tag))
        {
            if k.verify_rrsig(owner, DNSClass::IN, s, records.iter().copied())
                .is_ok()
            {
                return Ok(());
            }
        }
    }
    let published: Vec<u16> = keys
        .iter()
        .filter_map(|k| k.calculate_key_tag().ok())
        .collect();
    if tags.iter().all(|t| !published.contains(t)) {
        return Err(format!(
            "{owner_} {rtype} is signed by key tag {} of {signer_}, which is not in {signer_}'s DNSKEY set (tags {})",
            join(&tags),
            join(&published)
        ));
    }
    Err(format!(
        "the signature on {owner_} {rtype} by key tag {} of {signer_} does not verify",
        join(&tags)
    ))
}

/// The first broken link for one RRset, following the signer's keys up the chain.
async fn check_rrset(
    engine: &Engine,
    section: &[Record],
    owner: &Name,
    rtype: HType,
    now: u32,
) -> Option<Link> {
    let timely = match timely_signatures(section, owner, rtype, now) {
        Ok(t) => t,
        Err(reason) => return Some(Link::Broken(reason)),
    };
    let signer = timely.first()?.input().signer_name.clone();
    let signer_ = show(&signer);
    let keys_msg = match engine.ask_plain(&signer, HType::DNSKEY).await {
        Ok(r) => r.into_message(),
        Err(e) => {
            return Some(Link::Unreachable(format!(
                "could not fetch the DNSKEY set of {signer_}: {e}"
            )));
        }
    };
    let keys: Vec<&DNSKEY> = dnskeys(&keys_msg)
        .into_iter()
        .filter(|(n, _)| **n == signer)
        .map(|(_, k)| k)
        .collect();
    if let Err(reason) = verify_with(&keys, &signer, section, owner, rtype, &timely) {
        return Some(Link::Broken(reason));
    }
    check_zone(engine, signer, keys_msg, now).await
}

/// Checks a zone's DNSKEY set against its trust anchor or its parent's DS, then the parent.
async fn check_zone(
    engine: &Engine,
    mut zone: Name,
    mut keys_msg: Message,
    now: u32,
) -> Option<Link> {
    for _ in 0..MAX_ZONES {
        let zone_ = show(&zone);
        let keys: Vec<&DNSKEY> = dnskeys(&keys_msg)
            .into_iter()
            .filter(|(n, _)| **n == zone)
            .map(|(_, k)| k)
            .collect();
        if keys.is_empty() {
            return Some(Link::Broken(format!("{zone_} publishes no DNSKEY records")));
        }
        if let Some(verdict) = check_anchor(engine, &zone, &keys, &keys_msg, now) {
            return verdict;
        }
        let ds_msg = match engine.ask_plain(&zone, HType::DS).await {
            Ok(r) => r.into_message(),
            Err(NetError::Dns(DnsError::NoRecordsFound(nr))) => {
                let claims_ds = nr.authorities.iter().flat_map(|a| a.iter()).any(|r| {
                    r.name == zone
                        && matches!(&r.data, RData::DNSSEC(DNSSECRData::NSEC(n)) if n.type_set().contains(HType::DS))
                });
                let has_proof = nr.authorities.iter().flat_map(|a| a.iter()).any(|r| {
                    matches!(
                        r.data,
                        RData::DNSSEC(DNSSECRData::NSEC(_)) | RData::DNSSEC(DNSSECRData::NSEC3(_))
                    )
                });
                if zone.is_root() {
                    return None;
                }
                return Some(Link::Broken(if claims_ds {
                    format!(
                        "the parent of {zone_} serves no DS record, yet its NSEC record says one exists"
                    )
                } else if !has_proof {
                    format!(
                        "the parent of {zone_} serves no DS record and no signed proof that none exists"
                    )
                } else {
                    format!(
                        "the parent of {zone_} serves no DS record for it (no chain of trust to its keys)"
                    )
                }));
            }
            Err(e) => {
                if zone.is_root() {
                    return None;
                }
                return Some(Link::Unreachable(format!(
                    "could not fetch the DS records of {zone_}: {e}"
                )));
            }
        };
        let ds: Vec<&DS> = ds_msg
            .answers
            .iter()
            .filter(|r| r.name == zone)
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DS(d)) => Some(d),
                _ => None,
            })
            .collect();
        if ds.is_empty() {
            if zone.is_root() {
                return None;
            }
            return Some(Link::Broken(format!(
                "the parent of {zone_} serves no DS record for it"
            )));
        }
        let matching: Vec<&DNSKEY> = keys
            .iter()
            .copied()
            .filter(|k| !k.revoke() && ds.iter().any(|d| d.covers(&zone, k).unwrap_or(false)))
            .collect();
        let revoked_match = keys
            .iter()
            .any(|k| k.revoke() && ds.iter().any(|d| d.covers(&zone, k).unwrap_or(false)));
        if matching.is_empty() && revoked_match {
            return Some(Link::Broken(format!(
                "the DS records for {zone_} name only revoked keys (RFC 5011): no key may sign its DNSKEY set"
            )));
        }
        if matching.is_empty() {
            let ds_tags: Vec<u16> = ds.iter().map(|d| d.key_tag()).collect();
            let key_tags: Vec<u16> = keys
                .iter()
                .filter_map(|k| k.calculate_key_tag().ok())
                .collect();
            return Some(Link::Broken(format!(
                "the DS records for {zone_} (key tags {}) match no key in its DNSKEY set (tags {})",
                join(&ds_tags),
                join(&key_tags)
            )));
        }
        // The DNSKEY set must be signed by a key its DS names.
        let key_records: Vec<&Record> = keys_msg
            .answers
            .iter()
            .filter(|r| r.name == zone && r.record_type() == HType::DNSKEY)
            .collect();
        let sigs = rrsigs(&keys_msg.answers, &zone, HType::DNSKEY);
        let signed = sigs.iter().any(|s| {
            let i = s.input();
            !before(i.sig_expiration.get(), now)
                && !before(now, i.sig_inception.get())
                && matching.iter().any(|k| {
                    k.calculate_key_tag().ok() == Some(i.key_tag)
                        && k.verify_rrsig(&zone, DNSClass::IN, s, key_records.iter().copied())
                            .is_ok()
                })
        });
        if !signed {
            if let Err(reason) = timely_signatures(&keys_msg.answers, &zone, HType::DNSKEY, now) {
                return Some(Link::Broken(reason));
            }
            return Some(Link::Broken(format!(
                "the DNSKEY set of {zone_} is not signed by a key its DS names"
            )));
        }
        // Up one zone: the DS set is signed by the parent.
        let Some(parent) = rrsigs(&ds_msg.answers, &zone, HType::DS)
            .first()
            .map(|s| s.input().signer_name.clone())
        else {
            return Some(Link::Broken(format!(
                "the DS records of {zone_} are not signed"
            )));
        };
        let parent_ = show(&parent);
        keys_msg = match engine.ask_plain(&parent, HType::DNSKEY).await {
            Ok(r) => r.into_message(),
            Err(e) => {
                return Some(Link::Unreachable(format!(
                    "could not fetch the DNSKEY set of {parent_}: {e}"
                )));
            }
        };
        zone = parent;
    }
    None
}

/// If `zone` has a trust anchor: `Some(None)` when its DNSKEY set is signed in time by an
/// unrevoked anchored key, `Some(Some(why))` when not; `None` when the zone has no anchor.
fn check_anchor(
    engine: &Engine,
    zone: &Name,
    keys: &[&DNSKEY],
    keys_msg: &Message,
    now: u32,
) -> Option<Option<Link>> {
    let zone_ = show(zone);
    if zone.is_root() && engine.anchors().includes_iana_root() {
        return Some(None);
    }
    let ours = from_name(zone).ok()?;
    let anchored: Vec<&TrustAnchor> = engine
        .anchors()
        .anchors()
        .iter()
        .filter(|a| a.zone() == &ours)
        .collect();
    if anchored.is_empty() {
        return None;
    }
    let present: Vec<&&DNSKEY> = keys
        .iter()
        .filter(|k| anchored.iter().any(|a| anchor_names(a, zone, k)))
        .collect();
    if present.is_empty() {
        let tags: Vec<u16> = anchored.iter().map(|a| a.key_tag()).collect();
        return Some(Some(Link::Broken(format!(
            "the DNSKEY set of {zone_} holds none of its trust anchor keys (anchor key tags {})",
            join(&tags)
        ))));
    }
    if present.iter().all(|k| k.revoke()) {
        return Some(Some(Link::Broken(format!(
            "every trust anchor key of {zone_} is revoked (RFC 5011)"
        ))));
    }
    if super::anchored::authenticated_keys(keys_msg, zone, &anchored, now).is_some() {
        return Some(None);
    }
    if let Err(reason) = timely_signatures(&keys_msg.answers, zone, HType::DNSKEY, now) {
        return Some(Some(Link::Broken(reason)));
    }
    Some(Some(Link::Broken(format!(
        "the DNSKEY set of {zone_} is not signed by its trust anchor key"
    ))))
}

/// A name as the rest of the crate writes it: no trailing dot (`.` for the root).
fn show(name: &Name) -> String {
    let s = name.to_ascii();
    if s == "." {
        s
    } else {
        s.trim_end_matches('.').to_owned()
    }
}

fn join(tags: &[u16]) -> String {
    if tags.is_empty() {
        return "none".to_owned();
    }
    tags.iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
