//! The report's `webhooks` section: what the receiver saw, event latency per
//! event name (arrival − cause), missing / duplicate / late / out-of-order
//! counts, the lifecycle service levels, the queue and the Little's law
//! check. Built once from the tracker's [`EventSummary`]; merged exactly
//! (histograms added, percentiles recomputed) like the rest of the report.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{Percentiles, ReportError, decode_histogram, encode_histogram, percentiles};
use crate::lifecycle::{EventSchemaSummary, EventSummary};

pub mod schema;
use crate::metrics::{merge_histogram, new_latency_histogram};
pub use schema::{EventViolationSample, EventViolations};

/// A disagreement between L and λW larger than this share (of the larger
/// one) is flagged, when the larger one is at least [`LITTLE_MIN_L`].
pub const LITTLE_TOLERANCE: f64 = 0.30;
/// Below this queue length the check is too noisy to flag anything.
pub const LITTLE_MIN_L: f64 = 1.0;

/// Everything the run hands over to build the section.
#[derive(Debug, Clone)]
pub struct WebhookInput {
    pub registered: bool,
    pub events: Vec<String>,
    pub late_after: Duration,
    pub settle: Duration,
    pub verify: bool,
    /// Handshakes and verified events answered, and events that found no
    /// step waiting for their chat (router count).
    pub receiver: ReceiverCounts,
    /// Events whose signature was missing or wrong (not routed).
    pub invalid_signatures: u64,
    /// Signed bodies that were not an event envelope (not routed).
    pub malformed: u64,
    pub summary: EventSummary,
    /// What the event schema checker found.
    pub schemas: EventSchemaSummary,
    pub little: Option<LittleInput>,
}

/// Queue samples for the Little's law check.
#[derive(Debug, Clone, Copy)]
pub struct LittleInput {
    pub samples: u64,
    /// Time-averaged total queue size (sum over rooms).
    pub mean_queue_size: f64,
    pub run_secs: f64,
}

/// The `webhooks` section of a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookReport {
    /// Whether this run registered the webhook (and deleted it afterwards).
    pub registered: bool,
    /// Subscribed event names.
    pub subscribed: Vec<String>,
    pub late_after_ms: u64,
    pub settle_ms: u64,
    pub verify: bool,
    pub receiver: ReceiverCounts,
    pub counts: EventCounts,
    /// Missing events per event name.
    pub missing_by_event: BTreeMap<String, u64>,
    /// `counts.out_of_order` by pair of events, most frequent first.
    #[serde(default)]
    pub out_of_order_pairs: Vec<OutOfOrderPair>,
    /// Per event name: count and arrival − cause.
    pub events: Vec<EventStats>,
    /// Per event name: events whose `data` broke the spec's schema
    /// (names without any are absent; `counts.schema_violations` is the total).
    #[serde(default)]
    pub schema_violations: BTreeMap<String, EventViolations>,
    pub lifecycle: LifecycleReport,
    pub queue: QueueReport,
}

/// What the receiver answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReceiverCounts {
    pub handshakes: u64,
    /// Events with a valid signature (or any, without verification).
    pub events: u64,
    /// Found no step waiting for their chat when they arrived: early ones
    /// (parked, then handed over when the chat's inbox is subscribed) and
    /// late ones (after the chat's iteration was done with it), besides
    /// events about chats the run never created.
    pub parked: u64,
    /// Requests that were no event: another path (404) or another method
    /// than POST on a hook path (405). Not in `events.invalid_signatures`;
    /// 0 in reports written before it was counted.
    #[serde(default)]
    pub stray: u64,
}

/// Event counters (`events.*` thresholds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EventCounts {
    /// First copies of verified events.
    pub received: u64,
    pub missing: u64,
    pub duplicate: u64,
    pub late: u64,
    pub out_of_order: u64,
    pub invalid_signatures: u64,
    pub malformed: u64,
    /// Events about no chat this run created.
    pub unrouted: u64,
    /// Events the run expected (the denominator of `missing`; 0 in reports
    /// written before it was counted).
    #[serde(default)]
    pub expected: u64,
    /// Events a VU's own call caused directly, with a measured delay (the
    /// denominator of `late`; 0 in reports written before it was counted).
    #[serde(default)]
    pub direct: u64,
    /// Events whose `data` was checked against the spec's `webhooks` schemas
    /// (the denominator of `schema_violations`; 0 in reports written before
    /// events were checked, so a threshold on them has no data).
    #[serde(default)]
    pub schema_checked: u64,
    /// Events whose `data` broke the schema of their name, or whose name the
    /// spec does not declare.
    #[serde(default)]
    pub schema_violations: u64,
}

/// Events of one chat that arrived in the wrong order: `first` arrived
/// before `then` although the chat's lifecycle emits `then` first (e.g.
/// `chats:close` before `chats:join`); `queues:update` before
/// `queues:update` is a queue position larger than one already seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutOfOrderPair {
    /// The event that arrived first (of a later lifecycle stage).
    pub first: String,
    /// The event that arrived after it (of an earlier stage).
    pub then: String,
    /// Times this happened.
    pub count: u64,
}

impl OutOfOrderPair {
    /// `chats:close before chats:join × 3`.
    pub fn label(&self) -> String {
        format!("{} before {} × {}", self.first, self.then, self.count)
    }
}

/// Pairs from `(first, then) → count`, most frequent first (then by name).
fn sorted_pairs<'a>(
    pairs: impl IntoIterator<Item = ((&'a str, &'a str), u64)>,
) -> Vec<OutOfOrderPair> {
    let mut merged: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for (key, count) in pairs {
        *merged.entry(key).or_insert(0) += count;
    }
    let mut out: Vec<OutOfOrderPair> = merged
        .into_iter()
        .map(|((first, then), count)| OutOfOrderPair {
            first: first.to_owned(),
            then: then.to_owned(),
            count,
        })
        .collect();
    // Stable: equal counts keep the name order of the map.
    out.sort_by_key(|p| std::cmp::Reverse(p.count));
    out
}

/// A count and a latency histogram (µs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Samples in the histogram.
    pub count: u64,
    pub latency: Percentiles,
    /// HdrHistogram V2, deflate, base64 (like every report histogram).
    pub histogram: String,
}

/// One event name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventStats {
    pub event: String,
    /// Events received (first copies).
    pub count: u64,
    /// Arrival − cause, for the events whose cause was known.
    pub delay: LatencySummary,
}

/// The chat lifecycle's service levels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LifecycleReport {
    /// Chats the run created.
    pub chats: u64,
    pub time_to_assign: LatencySummary,
    pub time_to_first_agent_reply: LatencySummary,
    pub chat_duration: LatencySummary,
}

/// The queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueReport {
    /// Chats that entered a queue.
    pub queued: u64,
    /// Users who gave up waiting.
    pub abandoned: u64,
    pub time_in_queue: LatencySummary,
    pub positions: PositionSummary,
    /// Little's law self-check, when the queue was sampled.
    pub little: Option<LittleReport>,
}

/// Queue positions seen in `queues:update`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PositionSummary {
    pub count: u64,
    pub max: u64,
    pub mean: f64,
    /// The positions as a histogram (plain numbers), encoded like the others.
    pub histogram: String,
}

/// L (measured) against λ·W (predicted).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LittleReport {
    /// `GET /queues/status` samples taken.
    pub samples: u64,
    /// Time-averaged queue size (sum over rooms).
    pub l_measured: f64,
    /// Chats that entered the queue per second of run.
    pub lambda_per_sec: f64,
    /// Mean time in queue, seconds (abandoned chats included).
    pub w_secs: f64,
    /// λ·W.
    pub l_predicted: f64,
    /// |L − λW| / max(L, λW) (0 when both are 0).
    pub relative_gap: f64,
    /// The gap is above the tolerance while max(L, λW) ≥ 1.
    pub disagrees: bool,
    /// max(L, λW) ≥ 1, so the check could judge: below one queued chat the
    /// samples are too coarse, and neither agreement nor disagreement is
    /// claimed (`false` in reports written before the field existed; read
    /// [`LittleReport::is_judged`], which works for those too).
    #[serde(default)]
    pub judged: bool,
    /// Run duration the rate is over, seconds.
    pub run_secs: f64,
}

fn summary(h: &Histogram<u64>) -> LatencySummary {
    LatencySummary {
        count: h.len(),
        latency: percentiles(h),
        histogram: encode_histogram(h),
    }
}

fn positions(h: &Histogram<u64>) -> PositionSummary {
    PositionSummary {
        count: h.len(),
        max: if h.is_empty() { 0 } else { h.max() },
        mean: if h.is_empty() { 0.0 } else { h.mean() },
        histogram: encode_histogram(h),
    }
}

/// L, λ, W and the verdict of the check.
pub fn little(
    l_measured: f64,
    entered: u64,
    w_secs: f64,
    run_secs: f64,
    samples: u64,
) -> LittleReport {
    let lambda = if run_secs > 0.0 {
        entered as f64 / run_secs
    } else {
        0.0
    };
    let predicted = lambda * w_secs;
    let larger = l_measured.max(predicted);
    let gap = if larger > 0.0 {
        (l_measured - predicted).abs() / larger
    } else {
        0.0
    };
    LittleReport {
        samples,
        l_measured,
        lambda_per_sec: lambda,
        w_secs,
        l_predicted: predicted,
        relative_gap: gap,
        disagrees: larger >= LITTLE_MIN_L && gap > LITTLE_TOLERANCE,
        judged: larger >= LITTLE_MIN_L,
        run_secs,
    }
}

impl LittleReport {
    /// Whether the check could judge (see `judged`), from the figures
    /// themselves, so older reports read right too.
    pub fn is_judged(&self) -> bool {
        self.l_measured.max(self.l_predicted) >= LITTLE_MIN_L
    }

    /// The check's outcome in words: `agree`, `DISAGREE`, or why it could
    /// not judge.
    pub fn outcome(&self) -> LittleOutcome {
        if !self.is_judged() {
            LittleOutcome::TooFewQueued
        } else if self.disagrees {
            LittleOutcome::Disagree
        } else {
            LittleOutcome::Agree
        }
    }
}

/// What the Little's law check concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LittleOutcome {
    /// L and λW are within the tolerance.
    Agree,
    /// They are further apart than the tolerance.
    Disagree,
    /// Below one queued chat on both sides: not judged.
    TooFewQueued,
}

/// Builds the section.
pub fn build(input: &WebhookInput) -> WebhookReport {
    let s = &input.summary;
    let missing: u64 = s.missing.values().sum();
    let received = s.events.iter().map(|(_, e)| e.count).sum();
    let time_in_queue = summary(&s.time_in_queue.histogram);
    let little = input.little.map(|l| {
        little(
            l.mean_queue_size,
            s.queued,
            time_in_queue.latency.mean_us / 1e6,
            l.run_secs,
            l.samples,
        )
    });
    WebhookReport {
        registered: input.registered,
        subscribed: input.events.clone(),
        late_after_ms: input.late_after.as_millis() as u64,
        settle_ms: input.settle.as_millis() as u64,
        verify: input.verify,
        receiver: input.receiver,
        counts: EventCounts {
            received,
            missing,
            duplicate: s.duplicate,
            late: s.late,
            out_of_order: s.out_of_order,
            invalid_signatures: input.invalid_signatures,
            malformed: input.malformed,
            unrouted: s.unrouted,
            expected: s.expected,
            direct: s.direct,
            schema_checked: input.schemas.checked,
            schema_violations: input.schemas.violations.values().map(|v| v.count).sum(),
        },
        missing_by_event: s.missing.clone(),
        out_of_order_pairs: sorted_pairs(s.out_of_order_pairs.iter().map(|(k, v)| (*k, *v))),
        events: s
            .events
            .iter()
            .map(|(name, e)| EventStats {
                event: name.clone(),
                count: e.count,
                delay: summary(&e.histogram),
            })
            .collect(),
        schema_violations: schema::build(&input.schemas),
        lifecycle: LifecycleReport {
            chats: s.chats,
            time_to_assign: summary(&s.time_to_assign.histogram),
            time_to_first_agent_reply: summary(&s.time_to_first_agent_reply.histogram),
            chat_duration: summary(&s.chat_duration.histogram),
        },
        queue: QueueReport {
            queued: s.queued,
            abandoned: s.abandoned,
            time_in_queue,
            positions: positions(&s.positions),
            little,
        },
    }
}

fn merge_summaries<'a>(
    parts: impl Iterator<Item = &'a LatencySummary>,
) -> Result<LatencySummary, ReportError> {
    let mut h = new_latency_histogram();
    for p in parts {
        merge_histogram(&mut h, &decode_histogram(&p.histogram)?);
    }
    Ok(summary(&h))
}

/// Merges the sections of shard reports: counters summed, histograms added.
/// Every shard samples the same queue, so L is the sample-weighted mean of
/// the shards' L; λ counts every shard's entries over the longest run.
///
/// # Errors
/// A histogram that does not decode.
pub fn merge(parts: &[&WebhookReport]) -> Result<Option<WebhookReport>, ReportError> {
    let Some(first) = parts.first() else {
        return Ok(None);
    };
    let mut receiver = ReceiverCounts::default();
    let mut counts = EventCounts::default();
    let mut missing_by_event = BTreeMap::new();
    for p in parts {
        receiver.add(&p.receiver);
        counts.add(&p.counts);
        for (k, v) in &p.missing_by_event {
            *missing_by_event.entry(k.clone()).or_insert(0) += v;
        }
    }
    Ok(Some(WebhookReport {
        registered: parts.iter().any(|p| p.registered),
        subscribed: first.subscribed.clone(),
        late_after_ms: first.late_after_ms,
        settle_ms: first.settle_ms,
        // A shard that verified nothing makes the merged count unverified.
        verify: parts.iter().all(|p| p.verify),
        receiver,
        counts,
        missing_by_event,
        out_of_order_pairs: sorted_pairs(parts.iter().flat_map(|p| {
            p.out_of_order_pairs
                .iter()
                .map(|pair| ((pair.first.as_str(), pair.then.as_str()), pair.count))
        })),
        events: merge_events(parts)?,
        schema_violations: schema::merge(parts.iter().map(|p| &p.schema_violations)),
        // The queue before the lifecycle: a histogram that does not decode is reported in
        // the order the sections were always merged.
        queue: QueueReport::merged(parts)?,
        lifecycle: LifecycleReport::merged(parts)?,
    }))
}

/// Each event's count and delay over every part, in order of first appearance.
fn merge_events(parts: &[&WebhookReport]) -> Result<Vec<EventStats>, ReportError> {
    let mut names: Vec<&str> = Vec::new();
    for e in parts.iter().flat_map(|p| &p.events) {
        if !names.contains(&e.event.as_str()) {
            names.push(&e.event);
        }
    }
    let mut events = Vec::new();
    for name in names {
        let same = || {
            parts
                .iter()
                .flat_map(|p| &p.events)
                .filter(|e| e.event == name)
        };
        events.push(EventStats {
            event: name.to_owned(),
            count: same().map(|e| e.count).sum(),
            delay: merge_summaries(same().map(|e| &e.delay))?,
        });
    }
    Ok(events)
}

impl ReceiverCounts {
    /// Adds `other`'s counts to these.
    fn add(&mut self, other: &ReceiverCounts) {
        self.handshakes += other.handshakes;
        self.events += other.events;
        self.parked += other.parked;
        self.stray += other.stray;
    }
}

impl EventCounts {
    /// Adds `other`'s counts to these.
    fn add(&mut self, other: &EventCounts) {
        self.received += other.received;
        self.missing += other.missing;
        self.duplicate += other.duplicate;
        self.late += other.late;
        self.out_of_order += other.out_of_order;
        self.invalid_signatures += other.invalid_signatures;
        self.malformed += other.malformed;
        self.unrouted += other.unrouted;
        self.expected += other.expected;
        self.direct += other.direct;
        self.schema_checked += other.schema_checked;
        self.schema_violations += other.schema_violations;
    }
}

impl LifecycleReport {
    /// The chats summed and each service level's histograms added.
    fn merged(parts: &[&WebhookReport]) -> Result<Self, ReportError> {
        let level = |f: fn(&LifecycleReport) -> &LatencySummary| {
            merge_summaries(parts.iter().map(|p| f(&p.lifecycle)))
        };
        Ok(LifecycleReport {
            chats: parts.iter().map(|p| p.lifecycle.chats).sum(),
            time_to_assign: level(|l| &l.time_to_assign)?,
            time_to_first_agent_reply: level(|l| &l.time_to_first_agent_reply)?,
            chat_duration: level(|l| &l.chat_duration)?,
        })
    }
}

impl QueueReport {
    /// Counts summed, the time in queue and position histograms added, and Little's law
    /// checked again over the whole: L weighted by each shard's samples, the longest run.
    fn merged(parts: &[&WebhookReport]) -> Result<Self, ReportError> {
        let mut pos = new_latency_histogram();
        for p in parts {
            merge_histogram(&mut pos, &decode_histogram(&p.queue.positions.histogram)?);
        }
        let time_in_queue = merge_summaries(parts.iter().map(|p| &p.queue.time_in_queue))?;
        let queued = parts.iter().map(|p| p.queue.queued).sum();
        let littles: Vec<&LittleReport> = parts
            .iter()
            .filter_map(|p| p.queue.little.as_ref())
            .collect();
        let little = (!littles.is_empty()).then(|| {
            let samples: u64 = littles.iter().map(|l| l.samples).sum();
            let l = if samples == 0 {
                0.0
            } else {
                littles
                    .iter()
                    .map(|l| l.l_measured * l.samples as f64)
                    .sum::<f64>()
                    / samples as f64
            };
            let run_secs = littles.iter().map(|l| l.run_secs).fold(0.0, f64::max);
            little(
                l,
                queued,
                time_in_queue.latency.mean_us / 1e6,
                run_secs,
                samples,
            )
        });
        Ok(QueueReport {
            queued,
            abandoned: parts.iter().map(|p| p.queue.abandoned).sum(),
            time_in_queue,
            positions: positions(&pos),
            little,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
