//! Politeness across a fleet: the per-address connection cap and the 421 back-off held by the
//! history store, so workers on many machines together never open more connections to one
//! destination address than one process would.
//!
//! ```text
//!   Checker::probe (per MX address, inside its own per-process limits)
//!     └─ AddressGate::enter(address, cap) ─► StoreGate: Store::lease_address (slot 0..cap)
//!          none free, or backing off ─► wait (poll) and ask again
//!        probe the host ... drop(GatePass) ─► Store::release_address
//!        421 at the greeting ─► AddressGate::back_off(address, wait) ─► every worker waits
//!   the worker's heartbeat extends its address leases; a worker that dies loses them when
//!   the lease expires
//! ```
//!
//! Leases are rows (`address_leases(address, slot, holder, expires)`), not PostgreSQL advisory
//! locks: a cap of N needs N slots per address with an expiry, the back-off needs a time
//! that outlives any one connection, both must be visible to `/metrics`, and the same code
//! works on the SQLite backend (several processes on one machine). Advisory locks live and
//! die with one database session, so a worker would hold a pooled connection for the length
//! of every SMTP dialog, and a worker whose database connection drops would lose its slots
//! while its SMTP connections are still open.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), checktls::batch::Error> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use checktls::batch::history::SqliteStore;
//! use checktls::fleet::{AddressGate, StoreGate};
//!
//! let store = Arc::new(SqliteStore::open_in_memory()?);
//! let gate = StoreGate::new(store, "worker-1", Duration::from_secs(60));
//! let address = "192.0.2.25".parse().unwrap();
//! let first = gate.enter(address, 1).await;
//! // A second connection waits until the first is done.
//! assert!(tokio::time::timeout(Duration::from_millis(300), gate.enter(address, 1)).await.is_err());
//! drop(first);
//! # Ok(()) }
//! ```

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::batch::store::Store;

/// Admission to a destination address, shared beyond one process.
#[async_trait]
pub trait AddressGate: Send + Sync + std::fmt::Debug {
    /// Waits until one more connection to `address` is allowed (at most `cap` at once), and
    /// returns the pass that holds the place until it is dropped.
    async fn enter(&self, address: IpAddr, cap: usize) -> GatePass;

    /// Nobody connects to `address` for `wait` (it answered 421).
    async fn back_off(&self, address: IpAddr, wait: Duration);
}

/// A place at an address; dropping it gives the place back.
pub struct GatePass {
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl std::fmt::Debug for GatePass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatePass").finish_non_exhaustive()
    }
}

impl GatePass {
    /// A pass that `release` gives back when dropped.
    pub fn new(release: impl FnOnce() + Send + Sync + 'static) -> Self {
        Self {
            release: Some(Box::new(release)),
        }
    }

    /// A pass that holds nothing.
    pub fn free() -> Self {
        Self { release: None }
    }
}

impl Drop for GatePass {
    fn drop(&mut self) {
        if let Some(f) = self.release.take() {
            f();
        }
    }
}

/// The fleet's gate: connection slots and back-offs as leases in the history store.
#[derive(Clone)]
pub struct StoreGate {
    store: Arc<dyn Store>,
    holder: Arc<str>,
    ttl: Duration,
    poll: Duration,
}

impl std::fmt::Debug for StoreGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreGate")
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl StoreGate {
    /// Leases for `holder` (the worker's name: its heartbeat extends them) lasting `ttl`
    /// without a heartbeat. A full address is asked again every 100 ms.
    pub fn new(store: Arc<dyn Store>, holder: &str, ttl: Duration) -> Self {
        Self {
            store,
            holder: Arc::from(holder),
            ttl,
            poll: Duration::from_millis(100),
        }
    }
}

#[async_trait]
impl AddressGate for StoreGate {
    async fn enter(&self, address: IpAddr, cap: usize) -> GatePass {
        let key = address.to_string();
        let mut waits = 0u32;
        loop {
            match self
                .store
                .lease_address(&key, &self.holder, cap, self.ttl, OffsetDateTime::now_utc())
                .await
            {
                Ok(Some(slot)) => {
                    let (store, holder) = (self.store.clone(), self.holder.clone());
                    return GatePass::new(move || {
                        if let Ok(rt) = tokio::runtime::Handle::try_current() {
                            rt.spawn(async move {
                                if let Err(e) = store.release_address(&key, slot, &holder).await {
                                    tracing::warn!(%key, "releasing an address lease: {e}");
                                }
                            });
                        }
                    });
                }
                Ok(None) => {}
                // The store cannot be reached: wait, as for a full address (the cap holds).
                Err(e) => tracing::warn!(%key, "address lease: {e}"),
            }
            waits = waits.saturating_add(1);
            // A little spread, so waiting workers do not ask in lockstep.
            let spread = u64::from(waits.wrapping_mul(37) % 50);
            tokio::time::sleep(self.poll + Duration::from_millis(spread)).await;
        }
    }

    async fn back_off(&self, address: IpAddr, wait: Duration) {
        let until = OffsetDateTime::now_utc() + wait;
        if let Err(e) = self
            .store
            .back_off_address(&address.to_string(), until)
            .await
        {
            tracing::warn!(%address, "address back-off: {e}");
        }
    }
}
