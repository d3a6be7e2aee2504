//! What a receiver test is asked to test: an address, a domain, either with a given MX host,
//! or an IP address alone. The grammar is checktls-types' (the Batch reads its targets with
//! it too), re-exported here.
//!
//! ```text
//!   "user@example.com"                       → Target::Address, MX from DNS
//!   "example.com"                            → Target::Domain (no RCPT TO is sent)
//!   "user@example.com[mx.example.net:2525]"  → skip MX discovery: test that host and port
//!   "example.com[192.0.2.7]"                 → skip MX discovery: that address, the test's port
//!   "192.0.2.7" / "[2001:db8::7]:587"        → Target::Ip: an address alone
//! ```
//!
//! ```
//! use checktls::target::{HostSpec, Target};
//!
//! let t: Target = "Alice@Example.COM[mx1.example.net:2525]".parse().unwrap();
//! assert_eq!(t.address().as_deref(), Some("Alice@example.com"));
//! let host = t.given_host().unwrap();
//! assert_eq!(host.port(), Some(2525));
//! assert!(matches!(host.host, HostSpec::Name(_)));
//!
//! let err = "user@@example.com".parse::<Target>().unwrap_err();
//! assert_eq!(err.position, 5);
//! ```

pub use checktls_types::target::{
    GivenHost, HostSpec, LocalPart, MAX_TARGET_LEN, Target, TargetError,
};
