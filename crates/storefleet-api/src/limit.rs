//! Creation rate limits: a token bucket per key (per token and per client IP), refilled
//! continuously; a refusal says how long to wait.
//!
//! Why not `governor`: a creation is charged to several keys at once, all or none (a request
//! the IP's bucket refuses must take nothing from the token's), and only once the apiserver
//! accepted the Store (a peek first, the charge after), so that refused or failed work costs
//! nothing. governor's keyed limiter takes a cell per key as it checks, with no peek and no
//! refund.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A keyed token-bucket limiter: `per_minute` requests per key per minute, bursting to that.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// A limiter allowing `per_minute` requests per key per minute.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            buckets: Mutex::default(),
        }
    }

    /// Whether every key has room for one request, taking nothing. On refusal returns how long
    /// until the fullest-blocked key has room again. Pair with [`RateLimiter::check`] once the
    /// work was accepted, under the same lock, so that refused or failed work costs nothing.
    pub fn has_room(&self, keys: &[String], now: Instant) -> Result<(), Duration> {
        self.take_if(keys, now, false)
    }

    /// Takes one request for every key, or none: all keys must have room. On refusal returns
    /// how long until the fullest-blocked key has room again.
    pub fn check(&self, keys: &[String], now: Instant) -> Result<(), Duration> {
        self.take_if(keys, now, true)
    }

    fn take_if(&self, keys: &[String], now: Instant, take: bool) -> Result<(), Duration> {
        let capacity = f64::from(self.per_minute);
        let rate = capacity / 60.0; // per second
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > 100_000 {
            // Bound memory: forget full buckets.
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < capacity
            });
        }
        let mut wait = Duration::ZERO;
        let mut refreshed = Vec::with_capacity(keys.len());
        for key in keys {
            let b = buckets.get(key).copied().unwrap_or(Bucket {
                tokens: capacity,
                at: now,
            });
            let tokens =
                (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate).min(capacity);
            if tokens < 1.0 {
                wait = wait.max(Duration::from_secs_f64((1.0 - tokens) / rate));
            }
            refreshed.push((key.clone(), tokens));
        }
        if wait > Duration::ZERO {
            return Err(wait);
        }
        if !take {
            return Ok(());
        }
        for (key, tokens) in refreshed {
            buckets.insert(
                key,
                Bucket {
                    tokens: tokens - 1.0,
                    at: now,
                },
            );
        }
        Ok(())
    }
}

/// `Retry-After` in whole seconds, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn allows_the_burst_then_refuses_with_the_wait() {
        let l = RateLimiter::new(5);
        let t0 = Instant::now();
        for _ in 0..5 {
            assert_eq!(l.check(&keys(&["token:1", "ip:a"]), t0), Ok(()));
        }
        let wait = l
            .check(&keys(&["token:1", "ip:a"]), t0)
            .expect_err("6th refused");
        assert_eq!(
            retry_after_secs(wait),
            12,
            "one request every 12 s at 5/min"
        );
        // 12 s later one more fits.
        assert_eq!(
            l.check(&keys(&["token:1", "ip:a"]), t0 + Duration::from_secs(12)),
            Ok(())
        );
    }

    #[test]
    fn has_room_takes_nothing() {
        let l = RateLimiter::new(1);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.has_room(&keys(&["user:a"]), t0), Ok(()));
        }
        assert_eq!(l.check(&keys(&["user:a"]), t0), Ok(()));
        assert!(l.has_room(&keys(&["user:a"]), t0).is_err());
    }

    #[test]
    fn every_key_must_have_room_and_refusals_take_nothing() {
        let l = RateLimiter::new(2);
        let t0 = Instant::now();
        assert!(l.check(&keys(&["token:1", "ip:a"]), t0).is_ok());
        assert!(l.check(&keys(&["token:1", "ip:a"]), t0).is_ok());
        // Same IP, another token: the IP is exhausted.
        assert!(l.check(&keys(&["token:2", "ip:a"]), t0).is_err());
        // The refused request took nothing from token:2.
        assert!(l.check(&keys(&["token:2", "ip:b"]), t0).is_ok());
        assert!(l.check(&keys(&["token:2", "ip:c"]), t0).is_ok());
        assert!(l.check(&keys(&["token:2", "ip:d"]), t0).is_err());
    }
}
