//! Connection set-up per route: new connections against reused ones, TLS
//! sessions resumed, and HDR histograms of TCP connect, TLS handshake and
//! time to first byte (µs), mergeable like the latency ones.
//!
//! Only requests that opened a connection contribute to the connect and TLS
//! figures; every answered request sent over a VU's connection contributes
//! its time to first byte. A request that connected and got no response
//! (timed out, dropped, body cut off) counts as opened or reused all the same.

use hdrhistogram::Histogram;

use super::{LATENCY_MAX_US, merge_histogram, new_latency_histogram};

/// How one request's connection was set up (from the client's timing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnSample {
    /// The request opened a new connection; `false`: it reused one.
    pub opened: bool,
    /// TCP connect, µs (requests that opened a connection).
    pub connect_us: u64,
    /// TLS handshake, µs (`https://` requests that opened a connection).
    pub tls_us: Option<u64>,
    /// The TLS session was resumed.
    pub resumed: bool,
    /// From the send to the response head, µs.
    pub first_byte_us: Option<u64>,
    /// Sent over the shared pool (an agent actor's request): counted in
    /// [`ConnectionStats::pooled`], its connection not tracked.
    pub pooled: bool,
}

impl ConnSample {
    /// A request that connected over the shared pool.
    pub const POOLED: ConnSample = ConnSample {
        opened: false,
        connect_us: 0,
        tls_us: None,
        resumed: false,
        first_byte_us: None,
        pooled: true,
    };
}

/// Connection figures of one route (or several merged).
#[derive(Clone, Debug)]
pub struct ConnectionStats {
    /// Requests that opened a new connection.
    pub opened: u64,
    /// Requests that went over a connection already open.
    pub reused: u64,
    /// Requests that connected over the shared pool (the agent actors'),
    /// whose connections are not tracked: with `opened` and `reused`, every
    /// request of the route but its connect failures.
    pub pooled: u64,
    /// New connections whose TLS session was resumed.
    pub resumed: u64,
    /// TCP connect times, µs.
    pub connect_us: Histogram<u64>,
    /// TLS handshake times, µs.
    pub tls_us: Histogram<u64>,
    /// Times to first byte, µs.
    pub first_byte_us: Histogram<u64>,
}

impl Default for ConnectionStats {
    fn default() -> Self {
        Self {
            opened: 0,
            reused: 0,
            pooled: 0,
            resumed: 0,
            connect_us: new_latency_histogram(),
            tls_us: new_latency_histogram(),
            first_byte_us: new_latency_histogram(),
        }
    }
}

impl ConnectionStats {
    /// Records one request's connection: counts and clamped values, so no
    /// histogram resizes (nothing allocated).
    pub fn record(&mut self, sample: &ConnSample) {
        if sample.pooled {
            self.pooled += 1;
        } else if sample.opened {
            self.opened += 1;
            self.resumed += u64::from(sample.resumed);
            self.connect_us
                .saturating_record(sample.connect_us.clamp(1, LATENCY_MAX_US));
            if let Some(tls) = sample.tls_us {
                self.tls_us.saturating_record(tls.clamp(1, LATENCY_MAX_US));
            }
        } else {
            self.reused += 1;
        }
        if let Some(ttfb) = sample.first_byte_us {
            self.first_byte_us
                .saturating_record(ttfb.clamp(1, LATENCY_MAX_US));
        }
    }

    /// Adds `other` (exact: counts summed, histograms merged).
    pub fn merge(&mut self, other: &ConnectionStats) {
        self.opened += other.opened;
        self.reused += other.reused;
        self.pooled += other.pooled;
        self.resumed += other.resumed;
        merge_histogram(&mut self.connect_us, &other.connect_us);
        merge_histogram(&mut self.tls_us, &other.tls_us);
        merge_histogram(&mut self.first_byte_us, &other.first_byte_us);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_new_connections_count_towards_connect_and_tls_times() {
        let mut stats = ConnectionStats::default();
        stats.record(&ConnSample {
            opened: true,
            connect_us: 300,
            tls_us: Some(2_000),
            resumed: false,
            first_byte_us: Some(5_000),
            pooled: false,
        });
        stats.record(&ConnSample {
            opened: true,
            connect_us: 200,
            tls_us: Some(700),
            resumed: true,
            first_byte_us: Some(4_000),
            pooled: false,
        });
        stats.record(&ConnSample {
            first_byte_us: Some(900),
            ..ConnSample::default()
        });
        assert_eq!((stats.opened, stats.reused, stats.resumed), (2, 1, 1));
        assert_eq!(stats.connect_us.len(), 2);
        assert_eq!(stats.tls_us.len(), 2);
        assert_eq!(stats.first_byte_us.len(), 3);
        let mut merged = ConnectionStats::default();
        merged.merge(&stats);
        merged.merge(&stats);
        assert_eq!((merged.opened, merged.reused, merged.resumed), (4, 2, 2));
        assert_eq!(merged.tls_us.len(), 4);
    }
}
