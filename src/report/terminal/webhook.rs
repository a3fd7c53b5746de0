//! The summary's webhook part: event counts, delay per event, the lifecycle
//! service levels, the queue and the Little's law check.

use std::fmt::Write as _;

use super::Paint;
use crate::report::format::format_us;
use crate::report::webhook::{LatencySummary, LittleOutcome, QueueReport, WebhookReport};

/// One row: `received` is the events that arrived (blank for the lifecycle
/// levels, which are measurements only); `measured` the samples behind the
/// percentiles. They differ for events of chats handed to a clean-up, which
/// are counted but never measured.
fn latency_row(out: &mut String, name: &str, received: Option<u64>, s: &LatencySummary) {
    let p = &s.latency;
    let cell = |us: u64| {
        if s.count == 0 {
            "-".to_owned()
        } else {
            format_us(us)
        }
    };
    let received = received.map_or(String::new(), |n| n.to_string());
    let _ = writeln!(
        out,
        "  {name:<28} {received:>8} {:>8} {:>10} {:>10} {:>10} {:>10}",
        s.count,
        cell(p.p50_us),
        cell(p.p90_us),
        cell(p.p99_us),
        cell(p.max_us),
    );
}

/// Appends the webhook section of the summary.
pub(super) fn render(out: &mut String, w: &WebhookReport, paint: Paint) {
    out.push('\n');
    let _ = writeln!(out, "{}", paint.bold("Webhooks"));
    counts(out, w, paint);
    schema_violations(out, w, paint);
    if !w.out_of_order_pairs.is_empty() {
        let pairs: Vec<String> = w.out_of_order_pairs.iter().map(|p| p.label()).collect();
        let _ = writeln!(out, "  out of order: {}", paint.alert(&pairs.join(", ")));
    }
    delays(out, w, paint);
    queue(out, &w.queue, paint);
}

/// What arrived, and the missing, duplicate, late, out-of-order, badly signed, malformed
/// and unrouted counts (highlighted when not zero).
fn counts(out: &mut String, w: &WebhookReport, paint: Paint) {
    let c = &w.counts;
    let registered = if w.registered {
        "registered by the run"
    } else {
        "registered beforehand"
    };
    let stray = match w.receiver.stray {
        0 => String::new(),
        n => format!(", {n} request(s) that were no event (another path or method)"),
    };
    let _ = writeln!(
        out,
        "  {registered}, {} handshake(s), {} event(s) received, {} found no step waiting for their chat{stray}",
        w.receiver.handshakes, c.received, w.receiver.parked
    );
    let missing: Vec<String> = w
        .missing_by_event
        .iter()
        .map(|(k, v)| format!("{k} × {v}"))
        .collect();
    let missing = if missing.is_empty() {
        String::new()
    } else {
        format!(" ({})", missing.join(", "))
    };
    let flag = |n: u64| paint.alert_if(n > 0, &n.to_string());
    let _ = writeln!(
        out,
        "  missing {}{missing}, duplicate {}, late (> {} ms) {}, out of order {}, invalid signatures {}, malformed {}, unrouted {}",
        flag(c.missing),
        flag(c.duplicate),
        w.late_after_ms,
        flag(c.late),
        flag(c.out_of_order),
        flag(c.invalid_signatures),
        flag(c.malformed),
        c.unrouted,
    );
}

/// How many events broke the spec's schema, and each event's first reason.
fn schema_violations(out: &mut String, w: &WebhookReport, paint: Paint) {
    let c = &w.counts;
    let flag = |n: u64| paint.alert_if(n > 0, &n.to_string());
    let _ = writeln!(
        out,
        "  schema violations {} of {} event(s) checked against the spec",
        flag(c.schema_violations),
        c.schema_checked
    );
    for (name, v) in &w.schema_violations {
        let first = v.samples.first().map_or(String::new(), |s| {
            let path = if s.path.is_empty() { "(data)" } else { &s.path };
            format!(": at {path}: {}", s.reason)
        });
        let _ = writeln!(out, "    {name} × {}{}", v.count, paint.alert(&first));
    }
}

/// The delay table: each event's delay from its cause, then the lifecycle service levels
/// and the time in queue.
fn delays(out: &mut String, w: &WebhookReport, paint: Paint) {
    let _ = writeln!(
        out,
        "  {:<28} {:>8} {:>8} {:>10} {:>10} {:>10} {:>10}",
        "delay from cause", "received", "measured", "p50", "p90", "p99", "max"
    );
    for e in &w.events {
        latency_row(out, &e.event, Some(e.count), &e.delay);
    }
    let _ = writeln!(
        out,
        "  {}",
        paint.bold(&format!("lifecycle ({} chats)", w.lifecycle.chats))
    );
    latency_row(out, "time_to_assign", None, &w.lifecycle.time_to_assign);
    latency_row(
        out,
        "time_to_first_agent_reply",
        None,
        &w.lifecycle.time_to_first_agent_reply,
    );
    latency_row(out, "chat_duration", None, &w.lifecycle.chat_duration);
    latency_row(out, "time_in_queue", None, &w.queue.time_in_queue);
}

/// The queue line and, when measured, the Little's law check.
fn queue(out: &mut String, q: &QueueReport, paint: Paint) {
    let _ = writeln!(
        out,
        "  queue: {} queued, {} abandoned, positions seen {} (max {}, mean {:.1})",
        q.queued,
        paint.alert_if(q.abandoned > 0, &q.abandoned.to_string()),
        q.positions.count,
        q.positions.max,
        q.positions.mean,
    );
    if let Some(l) = &q.little {
        let apart = l.relative_gap * 100.0;
        let verdict = match l.outcome() {
            LittleOutcome::Disagree => paint.alert(&format!("DISAGREE ({apart:.0}% apart)")),
            LittleOutcome::Agree => format!("agree ({apart:.0}% apart)"),
            LittleOutcome::TooFewQueued => {
                "not judged: fewer than one chat queued on average".to_owned()
            }
        };
        let _ = writeln!(
            out,
            "  Little's law: L measured {:.2} ({} samples), λ {:.3}/s × W {:.2} s = {:.2}: {verdict}",
            l.l_measured, l.samples, l.lambda_per_sec, l.w_secs, l.l_predicted
        );
    }
}
