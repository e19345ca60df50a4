//! The pace one person may ask at: a parent's app refreshing in a loop, or a script with
//! a stolen token, cannot take the server's time from the rest of the région. Keyed by
//! identity (issuer, person and the establishments the token covers, since a person id
//! is an establishment's own), not by address: a whole school behind one NAT shares an
//! address, never an identity.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::auth::Principal;

/// Requests per second one identity may sustain, and the burst it may send at once.
pub const PER_SECOND: u32 = 20;
pub const BURST: u32 = 60;

/// Checks between two sweeps of the identities not seen lately (bounding memory).
const SWEEP_EVERY: u64 = 10_000;

#[derive(Debug)]
pub struct RateLimits {
    limiter: DefaultKeyedRateLimiter<(String, String, String)>,
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
        let establishments = who
            .establishments
            .iter()
            .map(|u| u.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let key = (who.issuer.clone(), who.person.clone(), establishments);
        self.limiter.check_key(&key).map_err(|not_until| {
            not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ))
        })
    }
}
