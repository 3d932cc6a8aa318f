//! Refused sign-ins, refused API tokens and cross-origin refusals are
//! audited, and an audit row is a write: an anonymous client repeating them
//! could flood the audit trail and the single SQLite writer. Each client IP
//! has a budget of such failures (governor's keyed GCRA limiter, the
//! maintained crate behind tower_governor); past it, a request that would
//! fail is answered 429 at once and nothing is written. Successes never
//! count.

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::LazyLock;

/// Failures an IP may cause per minute (and at once).
pub const FAILURES_PER_MINUTE: u32 = 30;

pub struct Throttle {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl Throttle {
    pub fn new(per_minute: u32) -> Throttle {
        let n = NonZeroU32::new(per_minute.max(1)).expect("non-zero");
        Throttle { limiter: RateLimiter::keyed(Quota::per_minute(n)) }
    }

    /// Counts one failure from `ip`: false once it is over its budget (then
    /// answer 429 and write nothing). Without an address (in-process
    /// tests) nothing is counted.
    pub fn allow_failure(&self, ip: Option<IpAddr>) -> bool {
        let Some(ip) = ip else { return true };
        let allowed = self.limiter.check_key(&ip).is_ok();
        if self.limiter.len() > 100_000 {
            // Keys of IPs whose budget is full again are dropped.
            self.limiter.retain_recent();
        }
        allowed
    }

    /// `allow_failure` for a `RequestMeta`'s textual IP.
    pub fn allow_failure_from(&self, ip: Option<&str>) -> bool {
        self.allow_failure(ip.and_then(|s| s.parse().ok()))
    }
}

/// The portal's one budget (per process: a replica counts its own clients).
pub static FAILURES: LazyLock<Throttle> = LazyLock::new(|| Throttle::new(FAILURES_PER_MINUTE));

/// The answer past the budget.
pub fn too_many() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        [(axum::http::header::RETRY_AFTER, "60")],
        "Too many failed attempts from your address; try again in a minute.",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_budget_of_failures() {
        let t = Throttle::new(3);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!((0..3).all(|_| t.allow_failure(Some(a))));
        assert!(!t.allow_failure(Some(a)), "a fourth failure within the minute is refused");
        assert!(t.allow_failure(Some(b)), "another address is not affected");
        assert!(t.allow_failure(None));
        assert!(t.allow_failure_from(Some("10.0.0.3")));
    }
}
