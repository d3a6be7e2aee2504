//! The organisational domain (RFC 7489 §3.2): the public suffix plus one label, from the public
//! suffix list compiled into the `psl` crate (no network, reproducible).

use crate::DomainName;

/// The organisational domain of `name`, or `None` if `name` is itself a public suffix (or the
/// root). Unknown top-level domains count as public suffixes, as the list's `*` rule says, so
/// `mail.example.test` gives `example.test`.
///
/// ```
/// use checktls_dns::{organizational_domain, DomainName};
///
/// let name: DomainName = "mail.example.co.uk".parse()?;
/// assert_eq!(organizational_domain(&name).unwrap().as_str(), "example.co.uk");
/// assert!(organizational_domain(&"co.uk".parse()?).is_none());
/// # Ok::<(), checktls_dns::Error>(())
/// ```
pub fn organizational_domain(name: &DomainName) -> Option<DomainName> {
    if name.is_root() {
        return None;
    }
    let registrable = psl::domain_str(name.as_str())?;
    DomainName::parse(registrable).ok()
}

/// Whether two names share an organisational domain (relaxed DMARC alignment).
pub fn same_organization(a: &DomainName, b: &DomainName) -> bool {
    match (organizational_domain(a), organizational_domain(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(s: &str) -> Option<String> {
        organizational_domain(&DomainName::parse(s).unwrap()).map(|d| d.as_str().to_owned())
    }

    #[test]
    fn organisational_domains() {
        assert_eq!(org("a.b.example.com").as_deref(), Some("example.com"));
        assert_eq!(org("example.com").as_deref(), Some("example.com"));
        assert_eq!(org("x.example.co.uk").as_deref(), Some("example.co.uk"));
        assert_eq!(org("mx1.example.test").as_deref(), Some("example.test"));
        assert_eq!(org("com"), None);
        assert!(same_organization(
            &DomainName::parse("a.example.com").unwrap(),
            &DomainName::parse("b.example.com").unwrap()
        ));
        assert!(!same_organization(
            &DomainName::parse("example.com").unwrap(),
            &DomainName::parse("example.net").unwrap()
        ));
    }
}
