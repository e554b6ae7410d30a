//! Rate limiting of event-log entries: a token bucket.
//!
//! The I/O manager caps the memory of outstanding error-log entries (about 100 pages) and
//! `IoAllocateErrorLogEntry` returns NULL beyond it; the Event Log service is not built for
//! thousands of entries a second either. So not every write gets a packet: a bucket of `burst`
//! tokens refills at `per_second` tokens a second, and a write gets a packet only if it can take a
//! token. Writes that do not are still in the ring log and still fire WMI events; the device counts
//! them, and the next write that gets a token first logs one Warning summary saying how many entries
//! were not written (see [`crate::device`]).
//!
//! Defaults: a burst of 100 and 20 a second. A burst of 0 turns per-write entries off.
//! Time is the interrupt time in 100 ns units, which never goes backwards; a clock that does is
//! treated as no time passing.

use crate::time::TICKS_PER_SECOND;

/// Default burst.
pub const DEFAULT_BURST: u32 = 100;
/// Default refill rate per second.
pub const DEFAULT_PER_SECOND: u32 = 20;

/// The bucket's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Tokens the bucket holds when full.
    pub burst: u32,
    /// Tokens added per second.
    pub per_second: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit { burst: DEFAULT_BURST, per_second: DEFAULT_PER_SECOND }
    }
}

/// A token bucket. Credit is kept in units of 1/10^7 token so that one 100 ns tick at
/// `per_second` adds exactly `per_second` units: no division, no rounding drift.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    limit: RateLimit,
    credit: u64,
    last: Option<u64>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: RateLimit) -> Self {
        TokenBucket { limit, credit: Self::capacity(limit), last: None }
    }

    /// The settings.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    fn capacity(limit: RateLimit) -> u64 {
        u64::from(limit.burst).saturating_mul(TICKS_PER_SECOND)
    }

    /// Takes a token at time `now` (100 ns ticks) if there is one.
    pub fn try_take(&mut self, now: u64) -> bool {
        let elapsed = match self.last {
            Some(last) => now.saturating_sub(last),
            None => 0,
        };
        if self.last.is_none_or(|last| now >= last) {
            self.last = Some(now);
        }
        let refill = elapsed.saturating_mul(u64::from(self.limit.per_second));
        self.credit = self.credit.saturating_add(refill).min(Self::capacity(self.limit));
        match self.credit.checked_sub(TICKS_PER_SECOND) {
            Some(rest) => {
                self.credit = rest;
                true
            }
            None => false,
        }
    }

    /// Whole tokens available now (without refilling).
    pub fn tokens(&self) -> u64 {
        self.credit / TICKS_PER_SECOND
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECOND: u64 = TICKS_PER_SECOND;

    #[test]
    fn burst_then_rate() {
        let mut bucket = TokenBucket::new(RateLimit { burst: 3, per_second: 2 });
        let t0 = 5 * SECOND;
        assert_eq!((0..5).filter(|_| bucket.try_take(t0)).count(), 3);
        // Half a second later one token has come back.
        assert!(bucket.try_take(t0 + SECOND / 2));
        assert!(!bucket.try_take(t0 + SECOND / 2));
        // Ten seconds later the bucket is full again, not fuller.
        assert_eq!((0..10).filter(|_| bucket.try_take(t0 + 11 * SECOND)).count(), 3);
    }

    #[test]
    fn a_clock_going_backwards_adds_nothing() {
        let mut bucket = TokenBucket::new(RateLimit { burst: 1, per_second: 1000 });
        assert!(bucket.try_take(100 * SECOND));
        assert!(!bucket.try_take(50 * SECOND));
        assert!(!bucket.try_take(100 * SECOND));
        assert!(bucket.try_take(100 * SECOND + SECOND / 1000));
    }

    #[test]
    fn zero_burst_logs_nothing() {
        let mut bucket = TokenBucket::new(RateLimit { burst: 0, per_second: 20 });
        assert!((0..100u64).all(|i| !bucket.try_take(i * SECOND)));
    }

    proptest! {
        /// Over any schedule, granted <= burst + rate * elapsed seconds.
        #[test]
        fn never_grants_more_than_burst_plus_rate(burst in 0u32..200, rate in 0u32..100,
                                                   steps in proptest::collection::vec(0u64..SECOND, 1..400)) {
            let mut bucket = TokenBucket::new(RateLimit { burst, per_second: rate });
            let mut now = 0u64;
            let mut granted = 0u64;
            for step in steps {
                now += step;
                if bucket.try_take(now) { granted += 1; }
            }
            let bound = u64::from(burst) + u64::from(rate) * now / SECOND + 1;
            prop_assert!(granted <= bound, "granted {granted} > {bound}");
        }
    }
}
