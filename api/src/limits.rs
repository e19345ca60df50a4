//! The pace one person may ask at: a parent's app refreshing in a loop, or a script with
//! a stolen token, cannot take the server's time from the rest of the région. Keyed by
//! identity (issuer, person and the establishments the token covers, since a person id
//! is an establishment's own), not by address: a whole school behind one NAT shares an
//! address, never an identity.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::auth::Principal;

/// Requests per second one identity may sustain, and the burst it may send at once.
pub const PER_SECOND: u32 = 20;
pub const BURST: u32 = 60;

/// WebSocket connections one identity may hold open at once: a parent's phone and
/// tablet, a CPE's few tabs; not a script's thousand sockets, each holding a reader task
/// and its buffer.
pub const CONNECTIONS_PER_IDENTITY: usize = 8;
/// Subscriptions one connection may hold open at once (an app needs two or three).
pub const SUBSCRIPTIONS_PER_CONNECTION: usize = 16;
/// How long a new WebSocket may stay silent before its `connection_init`: an
/// unauthenticated socket must not hold a connection slot of the server for long.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks between two sweeps of the identities not seen lately (bounding memory).
const SWEEP_EVERY: u64 = 10_000;

#[derive(Debug)]
pub struct RateLimits {
    limiter: DefaultKeyedRateLimiter<Identity>,
    checks: AtomicU64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(PER_SECOND, BURST)
    }
}

impl RateLimits {
    pub fn new(per_second: u32, burst: u32) -> Self {
        let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(per_second);
        RateLimits {
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            checks: AtomicU64::new(0),
        }
    }

    /// `Ok` when `who` may send this request now, else how long to wait.
    pub fn check(&self, who: &Principal) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&identity(who)).map_err(|not_until| {
            not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ))
        })
    }
}

/// Who a limit counts against: issuer, person and the establishments the token covers.
type Identity = (String, String, String);

fn identity(who: &Principal) -> Identity {
    let establishments = who
        .establishments
        .iter()
        .map(|u| u.as_str())
        .collect::<Vec<_>>()
        .join(",");
    (who.issuer.clone(), who.person.clone(), establishments)
}

/// The bounds of one operation, whichever transport brings it, and of the WebSocket
/// transport. Over HTTP the body limit and the request timeout of the router bound a
/// request; a WebSocket lives for hours and carries any number of operations, so each
/// one is bounded here instead. `Default` is what production runs; tests shorten them.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Longest a query or mutation may run once validated (either transport); past it
    /// the operation is stopped and answered TIMEOUT.
    pub operation_deadline: Duration,
    /// Distinct streams of the log one query or mutation may read.
    pub stream_reads: usize,
    /// Largest WebSocket message, and frame, accepted: the HTTP body limit.
    pub max_message_bytes: usize,
    /// How long a WebSocket may wait before its `connection_init`.
    pub init_timeout: Duration,
    /// WebSocket connections one identity may hold open at once.
    pub connections_per_identity: usize,
    /// Subscriptions one WebSocket connection may hold open at once.
    pub subscriptions_per_connection: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            operation_deadline: crate::server::REQUEST_TIMEOUT,
            stream_reads: crate::reader::MAX_STREAMS_PER_REQUEST,
            max_message_bytes: crate::server::MAX_BODY_BYTES,
            init_timeout: INIT_TIMEOUT,
            connections_per_identity: CONNECTIONS_PER_IDENTITY,
            subscriptions_per_connection: SUBSCRIPTIONS_PER_CONNECTION,
        }
    }
}

/// The WebSocket connections open now, by identity.
#[derive(Debug, Default)]
pub struct OpenSockets {
    open: Arc<Mutex<HashMap<Identity, usize>>>,
}

impl OpenSockets {
    /// A place for one more connection of `who`, held until the [`SocketSlot`] is
    /// dropped; `None` when `who` holds `max` already.
    pub fn open(&self, who: &Principal, max: usize) -> Option<SocketSlot> {
        let key = identity(who);
        let mut open = lock(&self.open);
        let count = open.entry(key.clone()).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(SocketSlot {
            open: self.open.clone(),
            key,
        })
    }
}

/// One open connection of an identity; its place is given back when dropped.
#[derive(Debug)]
pub struct SocketSlot {
    open: Arc<Mutex<HashMap<Identity, usize>>>,
    key: Identity,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            // Forgotten at zero: the map holds the identities connected now, no more.
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str) -> Principal {
        Principal {
            person: id.into(),
            establishments: Vec::new(),
            roles: Vec::new(),
            issuer: "test".into(),
            expires_at: 0,
        }
    }

    #[test]
    fn an_identity_holds_at_most_its_sockets_and_gets_them_back() {
        let sockets = OpenSockets::default();
        let held: Vec<_> = (0..3)
            .filter_map(|_| sockets.open(&person("a"), 3))
            .collect();
        assert_eq!(held.len(), 3);
        assert!(sockets.open(&person("a"), 3).is_none());
        // Another identity is not concerned.
        assert!(sockets.open(&person("b"), 3).is_some());
        drop(held);
        assert!(sockets.open(&person("a"), 3).is_some());
        assert!(
            lock(&sockets.open).is_empty(),
            "no identity is kept at zero"
        );
    }
}
