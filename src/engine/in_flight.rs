//! Requests in flight, for the progress line and for counting what an abort
//! cuts off: one start stamp per virtual user, read by the ticker once a
//! second.
//!
//! Each virtual user owns one [`Stamp`] (its own cache line) and writes it
//! twice per request, a relaxed store before the send and one after the
//! answer: no lock and no shared counter on the request path. The registry's
//! mutex is taken when a virtual user is created and by the once-a-second
//! [`InFlight::snapshot`], never per request.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// When one virtual user's request in flight was sent, in microseconds
/// since the registry's epoch plus one; 0 when it has none.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct Stamp(AtomicU64);

impl Stamp {
    /// Clears the stamp; true if a request was in flight.
    pub fn take(&self) -> bool {
        self.0.swap(0, Relaxed) != 0
    }

    /// Marks the request as answered (or failed).
    pub fn clear(&self) {
        self.0.store(0, Relaxed);
    }
}

/// Every virtual user's [`Stamp`].
#[derive(Debug)]
pub struct InFlight {
    epoch: Instant,
    stamps: Mutex<Vec<Arc<Stamp>>>,
}

/// Requests in flight at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InFlightSnapshot {
    pub requests: u64,
    /// How long the oldest of them has waited.
    pub oldest: Option<Duration>,
}

impl Default for InFlight {
    fn default() -> Self {
        InFlight {
            epoch: Instant::now(),
            stamps: Mutex::new(Vec::new()),
        }
    }
}

impl InFlight {
    /// A stamp for a new virtual user.
    pub fn register(&self) -> Arc<Stamp> {
        let stamp = Arc::new(Stamp::default());
        self.stamps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(stamp.clone());
        stamp
    }

    /// Marks a request sent at `sent` as in flight on `stamp`.
    ///
    /// In u64 arithmetic (saturating): `Duration::as_micros` works in u128,
    /// which costs several times as many instructions on every request.
    pub fn begin(&self, stamp: &Stamp, sent: Instant) {
        let since = sent.saturating_duration_since(self.epoch);
        let micros = since
            .as_secs()
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(since.subsec_micros()))
            .min(u64::MAX - 1);
        stamp.0.store(micros + 1, Relaxed);
    }

    /// The requests in flight at `now` and the age of the oldest.
    pub fn snapshot(&self, now: Instant) -> InFlightSnapshot {
        let stamps = self.stamps.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = InFlightSnapshot::default();
        let mut oldest = u64::MAX;
        for stamp in stamps.iter() {
            let value = stamp.0.load(Relaxed);
            if value != 0 {
                out.requests += 1;
                oldest = oldest.min(value - 1);
            }
        }
        if out.requests > 0 {
            let sent = self.epoch + Duration::from_micros(oldest);
            out.oldest = Some(now.saturating_duration_since(sent));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_counts_stamped_users_and_ages_the_oldest() {
        let registry = InFlight::default();
        let (a, b, c) = (
            registry.register(),
            registry.register(),
            registry.register(),
        );
        let t0 = registry.epoch + Duration::from_millis(100);
        registry.begin(&a, t0 + Duration::from_millis(300));
        registry.begin(&b, t0);
        let now = t0 + Duration::from_secs(2);
        let snap = registry.snapshot(now);
        assert_eq!(snap.requests, 2);
        assert_eq!(snap.oldest, Some(Duration::from_secs(2)));
        b.clear();
        assert!(!c.take());
        assert!(a.take());
        assert_eq!(registry.snapshot(now), InFlightSnapshot::default());
    }

    #[test]
    fn begin_stamps_whole_microseconds_since_the_epoch() {
        let registry = InFlight::default();
        let stamp = registry.register();
        registry.begin(&stamp, registry.epoch + Duration::new(3, 456_789_999));
        assert_eq!(stamp.0.load(Relaxed), 3_456_789 + 1);
        if let Some(before) = registry.epoch.checked_sub(Duration::from_secs(1)) {
            registry.begin(&stamp, before);
            assert_eq!(stamp.0.load(Relaxed), 1, "a send before the epoch is at 0");
        }
    }
}
