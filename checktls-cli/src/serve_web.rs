//! The web application's setup for `checktls serve`: users and tokens, limits, the test
//! environments (the receiver options of the command line; with `--demo` the embedded lab),
//! and the demo's first batch.
//!
//! ```text
//!   serve --listen ADDR | PORT (a bare port is 127.0.0.1:PORT)
//!     users: "admin" = CHECKTLS_MONITOR_TOKEN (also the monitor's bearer), + --users FILE
//!     profiles: "default" (the environment options) │ --demo: "lab" (first) + "default"
//!   serve --demo: the lab of `checktls demo` in this process, a token made up when none is
//!     given, a history in the temp dir unless --db, and a "demo lab" batch queued at once
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use checktls::ReceiverOptions;
use checktls::batch::store::Store;
use checktls::tls::TrustStore;
use checktls::tls::net::{Connector, StaticConnector};
use checktls_cli::web::{Profile, WebConfig};

/// What the lab gives the tests: base options, trust and HTTPS routes.
pub(crate) struct LabEnvironment {
    pub(crate) base: ReceiverOptions,
    pub(crate) trust: TrustStore,
    pub(crate) https: Arc<dyn Connector>,
    /// Keeps the lab's servers running.
    pub(crate) _lab: checktls_lab::scenario::Scenario,
    pub(crate) domains: Vec<String>,
}

/// Starts the embedded lab and the options that test it.
pub(crate) async fn lab() -> Result<LabEnvironment, String> {
    let lab = checktls_lab::scenario::Scenario::start()
        .await
        .map_err(|e| format!("the lab did not start: {e}"))?;
    let mut base = ReceiverOptions::default();
    base.port = Some(lab.smtp_port());
    base.timeout = Duration::from_secs(5);
    base.resolver.nameservers = vec![lab.dns_addr()];
    base.resolver.dnssec_anchors = Some(lab.trust_anchor().to_owned());
    // The lab lives on loopback: allowed explicitly.
    base.allow_non_global = true;
    let mut trust = TrustStore::empty();
    trust
        .add_der(lab.root_ca().clone())
        .map_err(|e| e.to_string())?;
    let mut routes = StaticConnector::new().allowing_non_global();
    for (host, addr) in lab.https_routes() {
        routes.insert(host, *addr);
    }
    let mut domains: Vec<String> = lab.domains().iter().map(|d| d.domain.to_owned()).collect();
    domains.insert(0, lab.slow_domain().domain.to_owned());
    Ok(LabEnvironment {
        base,
        trust,
        https: Arc::new(routes),
        _lab: lab,
        domains,
    })
}

/// `--listen`: IP:PORT, or a bare port on loopback.
pub(crate) fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>()
        .or_else(|_| {
            s.parse::<u16>()
                .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
        })
        .map_err(|_| format!("{s:?} is not IP:PORT or PORT"))
}

/// Reads `--users FILE`: one `NAME TOKEN` per line; `#` starts a comment.
pub(crate) fn read_users(path: &std::path::Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut users = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            [name, token] if token.len() >= 16 => {
                users.push(((*name).to_owned(), (*token).to_owned()));
            }
            _ => {
                return Err(format!(
                    "{}:{}: expected NAME TOKEN (a token of at least 16 characters)",
                    path.display(),
                    i + 1
                ));
            }
        }
    }
    Ok(users)
}

/// The configuration of the web application.
pub(crate) fn config(
    users: Vec<(String, String)>,
    base: &ReceiverOptions,
    trust: &TrustStore,
    lab: Option<&LabEnvironment>,
    per_minute: usize,
    at_once: usize,
    secure_cookie: bool,
) -> Result<WebConfig, String> {
    let mut c = WebConfig::new(users).ok_or("a user needs a name and a token")?;
    let mut default = Profile::new("default", base.clone());
    default.trust = trust.clone();
    c.profiles = vec![default];
    if let Some(l) = lab {
        let mut p = Profile::new("lab", l.base.clone());
        p.trust = l.trust.clone();
        p.https = Some(l.https.clone());
        c.profiles.insert(0, p);
        c.examples = l.domains.clone();
    }
    c.tests_per_minute = per_minute.max(1);
    c.concurrent_tests = at_once.max(1);
    c.secure_cookie = secure_cookie;
    Ok(c)
}

/// The demo's batch: the lab's domains, a Total, run once at start (when the history has no
/// batch yet).
pub(crate) async fn seed(store: &dyn Store, domains: &[String]) -> Result<Option<i64>, String> {
    if !store.batches().await.map_err(|e| e.to_string())?.is_empty() {
        return Ok(None);
    }
    let mut xml = String::from(
        "<BatchTest TestType=\"receiver\" xmlns:ct=\"urn:checktls-rs:batch:1\" ct:Name=\"demo lab\">\n",
    );
    for d in domains.iter().filter(|d| d.as_str() != "slow.test") {
        xml.push_str(&format!("  <Target>{d}</Target>\n"));
    }
    xml.push_str("  <Total Function=\"average\" ct:Test=\"ge\" ct:Value=\"90\"/>\n</BatchTest>\n");
    let now = time::OffsetDateTime::now_utc();
    let id = store
        .put_batch(None, &xml, now)
        .await
        .map_err(|e| e.to_string())?;
    store
        .set_batch_owner(id, "admin")
        .await
        .map_err(|e| e.to_string())?;
    checktls::batch::fleet::queue_run(store, id, None, now)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_defaults_to_loopback() {
        assert_eq!(
            parse_listen("8025"),
            Ok("127.0.0.1:8025".parse().expect("addr"))
        );
        assert_eq!(
            parse_listen("0.0.0.0:80"),
            Ok("0.0.0.0:80".parse().expect("addr"))
        );
        assert!(parse_listen("localhost").is_err());
    }
}
