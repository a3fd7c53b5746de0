//! Connection set-up in the report: the run's connection policy
//! ([`ConnectionMeta`], in `meta.connection`) and per route
//! ([`ConnectionReport`], in `routes[].connection`) new connections against
//! reused ones, TLS sessions resumed, and TCP connect, TLS handshake and
//! time-to-first-byte figures with their exact histograms (merged exactly).
//!
//! Only requests that opened a connection contribute to `connect` and
//! `tls_handshake`; `tls_handshake` is absent over plain HTTP. A request
//! that connected and got no response (timed out, dropped, body cut off)
//! counts as new or reused without a time to first byte; one that never
//! connected counts in neither. The agent actors' requests go over a shared
//! pool whose connections are not tracked: those that connected count as
//! `pooled`, so new + reused + pooled is the route's count less its connect
//! failures.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{Percentiles, ReportError, StatsReport, decode_histogram, encode_histogram};
use crate::metrics::{ConnectionStats, merge_histogram};

/// How virtual users held their connections (`target.connection`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionMeta {
    /// `keep_alive`, `new_per_iteration` or `http2`.
    pub policy: String,
    /// VUs per shared HTTP/2 connection (`http2` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus_per_connection: Option<u32>,
}

/// Connection set-up of one route.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionReport {
    /// Requests that opened a new connection.
    pub new_connections: u64,
    /// Requests that went over a connection already open.
    pub reused: u64,
    /// Requests the agent actors sent over the shared pool (their
    /// connections are not tracked): `new_connections + reused + pooled`
    /// is the route's count less its connect failures. Absent when 0 (and
    /// in reports written before agent requests were counted here).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pooled: u64,
    /// New connections whose TLS session was resumed (abbreviated handshake).
    #[serde(default)]
    pub resumed: u64,
    /// TCP connect time of the requests that opened a connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<Phase>,
    /// TLS handshake time of the requests that opened a connection (https only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_handshake: Option<Phase>,
    /// Time from the send to the response head, every answered request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte: Option<Phase>,
}

/// One timed phase: its percentiles (µs) and exact histogram.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// Samples.
    pub count: u64,
    /// Percentiles, µs.
    pub latency: Percentiles,
    /// HdrHistogram V2, deflate-compressed, base64 (like `StatsReport::histogram`).
    pub histogram: String,
}

impl Phase {
    /// `p50 / p99` in human units; `none` (`-` or `–`) without samples.
    pub fn p50_p99(phase: Option<&Phase>, none: &str) -> String {
        phase.map_or_else(
            || none.to_owned(),
            |p| {
                format!(
                    "{} / {}",
                    super::format::format_us(p.latency.p50_us),
                    super::format::format_us(p.latency.p99_us)
                )
            },
        )
    }

    /// `None` for an empty histogram.
    fn of(histogram: &Histogram<u64>) -> Option<Phase> {
        (!histogram.is_empty()).then(|| Phase {
            count: histogram.len(),
            latency: super::percentiles(histogram),
            histogram: encode_histogram(histogram),
        })
    }
}

impl From<&ConnectionStats> for ConnectionReport {
    fn from(stats: &ConnectionStats) -> ConnectionReport {
        ConnectionReport {
            new_connections: stats.opened,
            reused: stats.reused,
            pooled: stats.pooled,
            resumed: stats.resumed,
            connect: Phase::of(&stats.connect_us),
            tls_handshake: Phase::of(&stats.tls_us),
            first_byte: Phase::of(&stats.first_byte_us),
        }
    }
}

/// The connection figures of `parts` (one route in several reports)
/// merged exactly; `None` when none has any.
///
/// # Errors
/// A histogram that does not decode.
pub fn merge(parts: &[&StatsReport]) -> Result<Option<ConnectionReport>, ReportError> {
    let mut any = false;
    let mut sum = ConnectionStats::default();
    for conn in parts.iter().filter_map(|p| p.connection.as_ref()) {
        any = true;
        sum.opened += conn.new_connections;
        sum.reused += conn.reused;
        sum.pooled += conn.pooled;
        sum.resumed += conn.resumed;
        add(&mut sum.connect_us, conn.connect.as_ref())?;
        add(&mut sum.tls_us, conn.tls_handshake.as_ref())?;
        add(&mut sum.first_byte_us, conn.first_byte.as_ref())?;
    }
    Ok(any.then(|| ConnectionReport::from(&sum)))
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn add(into: &mut Histogram<u64>, phase: Option<&Phase>) -> Result<(), ReportError> {
    if let Some(phase) = phase {
        merge_histogram(into, &decode_histogram(&phase.histogram)?);
    }
    Ok(())
}

/// One route's figures for the renderers' tests: one TLS connection opened
/// (connect 250 µs, handshake 1.5 ms, resumed), first byte after 4 ms.
#[cfg(test)]
pub(crate) fn sample() -> ConnectionReport {
    let mut stats = ConnectionStats::default();
    stats.record(&crate::metrics::ConnSample {
        opened: true,
        connect_us: 250,
        tls_us: Some(1_500),
        resumed: true,
        first_byte_us: Some(4_000),
        pooled: false,
    });
    ConnectionReport::from(&stats)
}
