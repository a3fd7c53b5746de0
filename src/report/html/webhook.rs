//! The HTML report's webhook section: event counters as bars, the lifecycle
//! service levels and the delay of each event on HdrHistogram's nines axis
//! (the same chart as the steps), a table of both, the queue and the
//! Little's law check. Plotted numbers also go into the embedded JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{
    BLUE, Bar, GREEN, GREY, ORANGE, PALETTE, RED, ReportError, Series, StatsReport, TEAL,
    axis_decades, one_series, percentile_chart, ratio_bar_chart,
};
use crate::report::decode_histogram;
use crate::report::format::{escape_html, format_us};
use crate::report::webhook::{LatencySummary, LittleOutcome, QueueReport, WebhookReport};

macro_rules! w {
    ($($arg:tt)*) => {{
        let _ = write!($($arg)*);
    }};
}

/// A stats row carrying only what the percentile chart reads.
fn chart_stats(name: &str, s: &LatencySummary) -> StatsReport {
    StatsReport {
        name: name.to_owned(),
        flow: None,
        route: None,
        count: s.count,
        errors: 0,
        error_rate: 0.0,
        rps: 0.0,
        statuses: BTreeMap::new(),
        failures: BTreeMap::new(),
        saturated: 0,
        untimed: 0,
        bytes_sent: 0,
        bytes_received: 0,
        throttle: Default::default(),
        connection: None,
        latency: s.latency,
        corrected: s.latency,
        histogram: s.histogram.clone(),
        corrected_histogram: s.histogram.clone(),
    }
}

fn series_of(
    rows: &[(&str, &LatencySummary)],
    colors: &[&'static str],
) -> Result<Vec<Series>, ReportError> {
    rows.iter()
        .enumerate()
        .map(|(i, (name, s))| {
            let histogram = decode_histogram(&s.histogram)?;
            Ok(one_series(
                &chart_stats(name, s),
                "webhook",
                colors[i % colors.len()],
                false,
                &histogram,
            ))
        })
        .collect()
}

fn lifecycle_rows(w: &WebhookReport) -> Vec<(&'static str, &LatencySummary)> {
    vec![
        ("time_to_assign", &w.lifecycle.time_to_assign),
        ("time_in_queue", &w.queue.time_in_queue),
        (
            "time_to_first_agent_reply",
            &w.lifecycle.time_to_first_agent_reply,
        ),
        ("chat_duration", &w.lifecycle.chat_duration),
    ]
}

fn latency_table(out: &mut String, first: &str, rows: &[(&str, &LatencySummary)]) {
    w!(
        out,
        "<table>\n<thead><tr><th>{first}</th><th class=\"num\">count</th><th class=\"num\">p50</th>\
         <th class=\"num\">p90</th><th class=\"num\">p99</th><th class=\"num\">max</th></tr></thead>\n<tbody>\n"
    );
    for (name, s) in rows {
        let cell = |us: u64| {
            if s.count == 0 {
                "–".to_owned()
            } else {
                format_us(us)
            }
        };
        let p = &s.latency;
        w!(
            out,
            "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            escape_html(name),
            s.count,
            cell(p.p50_us),
            cell(p.p90_us),
            cell(p.p99_us),
            cell(p.max_us)
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// The anomaly counters as bars, each a share of what it is counted among (docs/webhooks.md):
/// missing of the expected events, late of the events a VU's call caused directly, out of order
/// of the events received, duplicate and unrouted of the verified deliveries, invalid signatures
/// and malformed of every delivery. The counters overlap, so no shared total would be honest.
fn anomaly_bars(w: &WebhookReport) -> Vec<Bar> {
    let c = &w.counts;
    let verified = w.receiver.events;
    let deliveries = verified + c.invalid_signatures + c.malformed;
    [
        ("missing", c.missing, c.expected, "expected events"),
        ("duplicate", c.duplicate, verified, "verified deliveries"),
        (
            "late",
            c.late,
            c.direct,
            "events a VU's call caused directly",
        ),
        (
            "out of order",
            c.out_of_order,
            c.received,
            "events received",
        ),
        (
            "invalid signatures",
            c.invalid_signatures,
            deliveries,
            "deliveries",
        ),
        ("malformed", c.malformed, deliveries, "deliveries"),
        ("unrouted", c.unrouted, verified, "verified deliveries"),
        (
            "schema violations",
            c.schema_violations,
            c.schema_checked,
            "events checked against the spec",
        ),
    ]
    .into_iter()
    .map(|(label, n, of, noun)| Bar {
        label: label.to_owned(),
        n,
        color: if n > 0 { RED } else { GREY },
        of: Some((of, noun)),
    })
    .collect()
}

/// Which events of a chat arrived before one the API emits earlier.
fn out_of_order_pairs(out: &mut String, w: &WebhookReport) {
    if w.out_of_order_pairs.is_empty() {
        return;
    }
    out.push_str(
        "<h3>Out of order</h3>\n<table class=\"out-of-order\">\n<thead><tr><th>arrived first</th>\
         <th>before</th><th>times</th></tr></thead>\n<tbody>\n",
    );
    for p in &w.out_of_order_pairs {
        w!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape_html(&p.first),
            escape_html(&p.then),
            p.count
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Which events' `data` broke the spec's schema, with the first samples.
fn schema_violations(out: &mut String, w: &WebhookReport) {
    if w.schema_violations.is_empty() {
        return;
    }
    out.push_str(
        "<h3>Event schema violations</h3>\n<table class=\"event-schema\">\n<thead><tr><th>event</th>\
         <th>violations</th><th>first samples</th></tr></thead>\n<tbody>\n",
    );
    for (event, v) in &w.schema_violations {
        let samples: Vec<String> = v
            .samples
            .iter()
            .map(|s| {
                format!(
                    "<code>{}</code> {}",
                    escape_html(&s.path),
                    escape_html(&s.reason)
                )
            })
            .collect();
        w!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
            escape_html(event),
            v.count,
            samples.join("<br>")
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Renders the section (nothing without webhooks) and returns its chart data.
pub(super) fn section(
    out: &mut String,
    w: Option<&WebhookReport>,
) -> Result<Option<Value>, ReportError> {
    let Some(w) = w else { return Ok(None) };
    events_card(out, w);
    let lifecycle_series = lifecycle_card(out, w)?;
    let event_series = delay_card(out, w)?;
    queue_card(out, &w.queue);
    let q = &w.queue;
    Ok(Some(json!({
        "counts": &w.counts,
        "lifecycle": chart_points(&lifecycle_series),
        "events": chart_points(&event_series),
        "queue": {"queued": q.queued, "abandoned": q.abandoned, "little": q.little},
    })))
}

/// What arrived, the anomalies as ratio bars, the out-of-order pairs and schema violations.
fn events_card(out: &mut String, w: &WebhookReport) {
    let c = &w.counts;
    out.push_str("<section class=\"card\" id=\"webhooks\">\n<h2>Webhook events</h2>\n");
    w!(
        out,
        "<p class=\"hint\">{} events received ({}), {} handshake(s). Missing: expected but not \
         arrived {} ms after the run; late: more than {} ms after their cause \
         (definitions in docs/webhooks.md).</p>\n",
        c.received,
        if w.registered {
            "webhook registered by the run"
        } else {
            "webhook registered beforehand"
        },
        w.receiver.handshakes,
        w.settle_ms,
        w.late_after_ms
    );
    ratio_bar_chart(
        out,
        &anomaly_bars(w),
        "events",
        "No event was missing, duplicated, late, out of order, forged, unrouted or off its schema.",
    );
    out_of_order_pairs(out, w);
    schema_violations(out, w);
    out.push_str("</section>\n");
}

/// The lifecycle service levels' percentile chart and table; returns the chart's series.
fn lifecycle_card(out: &mut String, w: &WebhookReport) -> Result<Vec<Series>, ReportError> {
    let lifecycle = lifecycle_rows(w);
    let lifecycle_series = series_of(&lifecycle, &[BLUE, ORANGE, GREEN, TEAL])?;
    out.push_str("<section class=\"card\">\n<h2>Chat lifecycle service levels</h2>\n");
    w!(
        out,
        "<p class=\"hint\">From POST /chats (or entering the queue) to the agent's join, the first \
         agent message, the close; {} chats.</p>\n",
        w.lifecycle.chats
    );
    percentile_chart(out, &lifecycle_series, axis_decades(&lifecycle_series));
    latency_table(out, "service level", &lifecycle);
    out.push_str("</section>\n");
    Ok(lifecycle_series)
}

/// Each event's delay from its cause as a percentile chart and table; returns the series.
fn delay_card(out: &mut String, w: &WebhookReport) -> Result<Vec<Series>, ReportError> {
    let events: Vec<(&str, &LatencySummary)> = w
        .events
        .iter()
        .map(|e| (e.event.as_str(), &e.delay))
        .collect();
    let event_series = series_of(&events, &PALETTE)?;
    out.push_str("<section class=\"card\">\n<h2>Event delay from its cause</h2>\n");
    percentile_chart(out, &event_series, axis_decades(&event_series));
    latency_table(out, "event", &events);
    out.push_str("</section>\n");
    Ok(event_series)
}

/// The queue counts and, when measured, the Little's law check.
fn queue_card(out: &mut String, q: &QueueReport) {
    out.push_str("<section class=\"card\">\n<h2>Queue</h2>\n<dl class=\"kv\">\n");
    w!(
        out,
        "<dt>queued</dt><dd>{}</dd><dt>abandoned</dt><dd>{}</dd>\
         <dt>positions seen</dt><dd>{} (max {}, mean {:.1})</dd>\n",
        q.queued,
        q.abandoned,
        q.positions.count,
        q.positions.max,
        q.positions.mean
    );
    if let Some(l) = &q.little {
        let verdict = match l.outcome() {
            LittleOutcome::Disagree => "<span class=\"pill bad\">disagree</span>",
            LittleOutcome::Agree => "<span class=\"pill good\">agree</span>",
            LittleOutcome::TooFewQueued => {
                "<span class=\"pill\">not judged: fewer than one chat queued on average</span>"
            }
        };
        w!(
            out,
            "<dt>Little's law</dt><dd>{verdict} L measured {:.2} ({} samples of GET /queues/status) \
             against &lambda;W = {:.3}/s &times; {:.2} s = {:.2} ({:.0}% apart)</dd>\n",
            l.l_measured,
            l.samples,
            l.lambda_per_sec,
            l.w_secs,
            l.l_predicted,
            l.relative_gap * 100.0
        );
    }
    out.push_str("</dl>\n</section>\n");
}

/// A chart's series as JSON: name, count, and each point's percentile and latency.
fn chart_points(s: &[Series]) -> Vec<Value> {
    s.iter()
        .map(|s| {
            json!({
                "name": s.name,
                "count": s.count,
                "points": s.points.iter().map(|(q, _, us)| json!({
                    "percentile": (q * 100.0 * 1e6).round() / 1e6,
                    "latency_us": us,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::anomaly_bars;
    use crate::report::RunReport;
    use crate::report::webhook::{build, tests::sample_input};

    /// The page for `report`, asserting it shows each of `needles`.
    fn page_showing(report: &RunReport, needles: &[&str]) -> String {
        let html = String::from_utf8(crate::report::html::render(report).expect("renders"))
            .expect("utf-8");
        for needle in needles {
            assert!(html.contains(needle), "missing {needle}");
        }
        html
    }

    #[test]
    fn each_anomaly_is_a_share_of_what_it_is_counted_among() {
        let mut report = crate::report::build_sample_report();
        let mut w = build(&sample_input(4));
        w.receiver.events = 200;
        w.counts = crate::report::webhook::EventCounts {
            received: 190,
            expected: 150,
            direct: 40,
            missing: 3,
            duplicate: 10,
            late: 4,
            out_of_order: 19,
            invalid_signatures: 50,
            malformed: 0,
            unrouted: 0,
            schema_checked: 190,
            schema_violations: 2,
        };
        w.schema_violations.insert(
            "chats:join".to_owned(),
            crate::report::webhook::EventViolations {
                count: 2,
                samples: vec![crate::report::webhook::EventViolationSample {
                    path: "/agent/id".to_owned(),
                    reason: "0 is not of type \"string\" <b>".to_owned(),
                }],
            },
        );
        let of: Vec<(String, u64, u64)> = anomaly_bars(&w)
            .into_iter()
            .map(|b| (b.label, b.n, b.of.expect("a denominator").0))
            .collect();
        let expect = |label: &str, n: u64, of: u64| (label.to_owned(), n, of);
        assert_eq!(
            of,
            vec![
                expect("missing", 3, 150),
                expect("duplicate", 10, 200),
                expect("late", 4, 40),
                expect("out of order", 19, 190),
                expect("invalid signatures", 50, 250),
                expect("malformed", 0, 250),
                expect("unrouted", 0, 200),
                expect("schema violations", 2, 190),
            ]
        );
        report.webhooks = Some(w);
        // 3 missing of 150 expected is 2%, not 3 of the 86 anomalies (3.49%).
        page_showing(
            &report,
            &[
                "3 (2.00% of 150)",
                "10 (5.00% of 200)",
                "4 (10.0% of 40)",
                "19 (10.0% of 190)",
                "50 (20.0% of 250)",
                "2 (1.05% of 190)",
                "<h3>Event schema violations</h3>",
                "<code>/agent/id</code> 0 is not of type &quot;string&quot; &lt;b&gt;",
            ],
        );
    }

    #[test]
    fn the_section_charts_lifecycle_and_events_and_embeds_their_data() {
        let mut report = crate::report::build_sample_report();
        let plain = page_showing(&report, &[]);
        assert!(
            !plain.contains("Webhook events"),
            "no section without webhooks"
        );

        report.webhooks = Some(build(&sample_input(4)));
        let html = page_showing(
            &report,
            &[
                "<h2>Webhook events</h2>",
                "<h2>Chat lifecycle service levels</h2>",
                "<h2>Event delay from its cause</h2>",
                "<code>time_to_assign</code>",
                "<code>chats:join</code>",
                "Little's law",
                "pill bad\">disagree",
            ],
        );
        let start =
            html.find("id=\"chatload-data\">").expect("data") + "id=\"chatload-data\">".len();
        let end = start + html[start..].find("</script>").expect("end");
        let data: serde_json::Value = serde_json::from_str(&html[start..end]).expect("json");
        let hooks = &data["webhooks"];
        assert_eq!(hooks["counts"]["duplicate"], 1);
        assert_eq!(hooks["lifecycle"][0]["name"], "time_to_assign");
        assert_eq!(hooks["lifecycle"][0]["count"], 4);
        let points = hooks["lifecycle"][0]["points"].as_array().expect("points");
        assert!(!points.is_empty());
        let last = points.last().expect("a point");
        let us = last["latency_us"].as_u64().expect("µs");
        assert!((299_000..=301_000).contains(&us), "{us}");
        assert!(hooks["events"].as_array().expect("events").len() >= 3);
    }
}
