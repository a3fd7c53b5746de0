//! HTML renderer: one self-contained page a person reads offline before a launch.
//!
//! Everything is inline: CSS in a `<style>` element, charts as SVG generated here, no script
//! that runs (tooltips are SVG `<title>` elements, which browsers show on hover without JS), no
//! font, image or stylesheet fetched from anywhere. The page reads fully with JS disabled.
//!
//! Contents, top to bottom: header (scenario, target, times, load profile, badges), summary
//! cards, thresholds, the latency percentile distribution per step on HdrHistogram's log "nines"
//! axis (computed from the decoded histograms, not from the rounded percentile fields), p50/p99
//! latency over time, requests and errors per second, status codes and failed steps by kind,
//! "Why it failed" (the first failures of each step and kind, explained), the
//! webhook events and the chat lifecycle's service levels (runs with `webhooks:`), the per-step
//! and per-route tables, schema violations, clean-up and the run metadata.
//!
//! The plotted numbers are embedded as JSON in `<script type="application/json"
//! id="chatload-data">` (per-series percentile points, the timeline, status codes), so tests and
//! tools can check what the charts show without parsing SVG.
//!
//! Every string that comes from the report is HTML-escaped. Returns bytes; does no I/O.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::format::{describe_load, escape_html};
use super::{
    Percentiles, ReportError, RunReport, StatsReport, ThresholdResult, ThresholdStatus, Verdict,
    decode_histogram,
};

/// `let _ = write!(...)`: writing into a `String` cannot fail.
macro_rules! w {
    ($($arg:tt)*) => {{
        let _ = write!($($arg)*);
    }};
}

mod cards;
mod charts;
mod connection;
mod failures;
mod sections;
mod stats_table;
#[cfg(test)]
mod tests;
mod webhook;

use cards::cards;
use charts::{
    Bar, bar_chart, latency_timeline_chart, percentile_chart, ratio_bar_chart, status_color,
    status_text_color, throughput_chart,
};
use sections::{cleanup_section, header, metadata_section, schema_section, thresholds_table};
use stats_table::{flow_iteration_rows, routes_table, steps_table};

/// Series colours (Tableau 10): distinguishable, colour-blind friendlier than primaries.
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7",
    "#e15759", "#bab0ac",
];
/// The whole-iteration line: dark and dashed, so it stands apart from the steps.
const ITERATION_COLOR: &str = "#333333";
const BLUE: &str = "#4e79a7";
const ORANGE: &str = "#f28e2b";
const RED: &str = "#e15759";
const GREEN: &str = "#59a14f";
const TEAL: &str = "#76b7b2";
const GREY: &str = "#9d9d9d";

/// Points per decade of the nines axis.
const POINTS_PER_DECADE: u32 = 20;
/// The nines axis never goes beyond 99.999% (1 in 100 000).
const MAX_DECADES: u32 = 5;
/// ... and never stops before 99%.
const MIN_DECADES: u32 = 2;
/// Labelled levels of the nines axis: (log10 of 1/(1-q), label).
const NINES: [(f64, &str); 7] = [
    (0.0, "0%"),
    (std::f64::consts::LOG10_2, "50%"),
    (1.0, "90%"),
    (2.0, "99%"),
    (3.0, "99.9%"),
    (4.0, "99.99%"),
    (5.0, "99.999%"),
];
/// Marked points on each percentile line: (quantile, label).
const MARKED: [(f64, &str); 6] = [
    (0.5, "p50"),
    (0.9, "p90"),
    (0.99, "p99"),
    (0.999, "p99.9"),
    (0.9999, "p99.99"),
    (0.99999, "p99.999"),
];

/// Timelines longer than this get no per-second hover areas (they would only bloat the file).
const MAX_HOVER_SECONDS: usize = 900;

/// Renders `report` as one self-contained HTML page (UTF-8).
///
/// # Errors
///
/// [`ReportError::HistogramBase64`] or [`ReportError::HistogramDecode`] if a step's or the
/// iteration's histogram cannot be decoded, and [`ReportError::Serialize`] if the embedded chart
/// data cannot be serialized.
pub fn render(report: &RunReport) -> Result<Vec<u8>, ReportError> {
    let series = percentile_series(report)?;
    let decades = axis_decades(&series);
    let verdict = report.verdict.as_ref();

    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    w!(
        out,
        "<title>chatload report: {}</title>\n",
        escape_html(&report.meta.scenario)
    );
    out.push_str("<style>");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n<main>\n");

    header(&mut out, report, verdict);
    cards(&mut out, report, verdict);
    if let Some(v) = verdict.filter(|v| !v.thresholds.is_empty()) {
        thresholds_table(&mut out, &v.thresholds);
    }

    out.push_str("<section class=\"card\">\n<h2>Latency percentile distribution</h2>\n");
    out.push_str(
        "<p class=\"hint\">Latency at each percentile, per step and for the whole iteration, \
         as HdrHistogram plots it: the x axis is 1/(1&minus;percentile) on a log scale, so every \
         extra nine gets the same width. A line ends where its samples run out \
         (1&nbsp;in&nbsp;count).</p>\n",
    );
    percentile_chart(&mut out, &series, decades);
    out.push_str("</section>\n");

    out.push_str("<div class=\"grid2\">\n");
    out.push_str("<section class=\"card\">\n<h2>Latency over time</h2>\n");
    latency_timeline_chart(&mut out, report);
    out.push_str("</section>\n<section class=\"card\">\n<h2>Throughput and errors</h2>\n");
    throughput_chart(&mut out, report);
    out.push_str("</section>\n</div>\n");

    out.push_str("<div class=\"grid2\">\n");
    out.push_str("<section class=\"card\">\n<h2>HTTP status codes</h2>\n");
    let statuses: Vec<(String, u64, &str)> = report
        .status_codes
        .iter()
        .map(|(code, n)| (code.clone(), *n, status_color(code)))
        .collect();
    bar_chart(
        &mut out,
        &statuses,
        "responses",
        "No responses were received.",
    );
    out.push_str("</section>\n<section class=\"card\">\n<h2>Errors by kind</h2>\n");
    let kinds: Vec<(String, u64, &str)> = report
        .errors_by_kind
        .iter()
        .map(|(kind, n)| (kind.clone(), *n, RED))
        .collect();
    bar_chart(&mut out, &kinds, "failed steps", "No step failed.");
    out.push_str("</section>\n</div>\n");
    failures::section(&mut out, report);

    let webhook_data = webhook::section(&mut out, report.webhooks.as_ref())?;
    steps_table(&mut out, report);
    routes_table(&mut out, report);
    connection::connection_section(&mut out, report);
    schema_section(&mut out, report);
    cleanup_section(&mut out, report);
    metadata_section(&mut out, report);

    w!(
        out,
        "<footer>Written by chatload {} from the JSON report. This page loads nothing from the \
         network; hover a chart for exact values. Plotted data: \
         <code>#chatload-data</code>.</footer>\n</main>\n",
        // The chatload writing this page, not the one that measured the run (the
        // `chatload` item says that, each version when merged parts differ).
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("<script type=\"application/json\" id=\"chatload-data\">");
    let mut data = chart_data(report, &series, decades);
    if let Some(hooks) = webhook_data {
        data["webhooks"] = hooks;
    }
    out.push_str(&script_json(&data)?);
    out.push_str("</script>\n</body>\n</html>\n");
    Ok(out.into_bytes())
}

// ---------------------------------------------------------------------------------------------
// Data

/// One line of the percentile chart.
struct Series {
    name: String,
    kind: &'static str,
    flow: Option<String>,
    count: u64,
    color: &'static str,
    dashed: bool,
    /// (quantile, log10(1/(1-quantile)), latency µs), in increasing quantile order.
    points: Vec<(f64, f64, u64)>,
    /// (label, log10 x, µs) at the marked percentiles the samples reach, then the max.
    marks: Vec<(String, f64, u64)>,
    latency: Percentiles,
}

fn percentile_series(report: &RunReport) -> Result<Vec<Series>, ReportError> {
    let mut series = Vec::with_capacity(report.steps.len() + 1);
    for (index, step) in report.steps.iter().enumerate() {
        let histogram = decode_histogram(&step.histogram)?;
        series.push(one_series(
            step,
            "step",
            PALETTE[index % PALETTE.len()],
            index >= PALETTE.len(),
            &histogram,
        ));
    }
    let histogram = decode_histogram(&report.iteration.histogram)?;
    let mut whole = one_series(
        &report.iteration,
        "iteration",
        ITERATION_COLOR,
        true,
        &histogram,
    );
    whole.name = "whole iteration".to_owned();
    series.push(whole);
    for (i, flow) in flow_iteration_rows(report).iter().enumerate() {
        let histogram = decode_histogram(&flow.histogram)?;
        series.push(one_series(
            flow,
            "flow",
            PALETTE[(report.steps.len() + i) % PALETTE.len()],
            true,
            &histogram,
        ));
    }
    Ok(series)
}

fn one_series(
    stats: &StatsReport,
    kind: &'static str,
    color: &'static str,
    dashed: bool,
    histogram: &Histogram<u64>,
) -> Series {
    let count = histogram.len();
    let mut points = Vec::new();
    let mut marks = Vec::new();
    if count > 0 {
        let limit = (count as f64).min(10f64.powi(MAX_DECADES as i32));
        for k in 0..=POINTS_PER_DECADE * MAX_DECADES {
            let x_log = f64::from(k) / f64::from(POINTS_PER_DECADE);
            let x = 10f64.powf(x_log);
            if x > limit * (1.0 + 1e-9) {
                break;
            }
            let q = 1.0 - 1.0 / x;
            points.push((q, x_log, histogram.value_at_quantile(q)));
        }
        for (q, label) in MARKED {
            let x = 1.0 / (1.0 - q);
            if x <= count as f64 * (1.0 + 1e-9) {
                marks.push((label.to_owned(), x.log10(), histogram.value_at_quantile(q)));
            }
        }
        // The largest sample is the "1 in count" point, where HdrHistogram's plot ends.
        let end = (count as f64).log10();
        if count as f64 <= 10f64.powi(MAX_DECADES as i32) {
            if points.last().is_none_or(|p| p.1 < end - 1e-9) {
                points.push((1.0 - 1.0 / count as f64, end, histogram.max()));
            } else if let Some(last) = points.last_mut() {
                last.2 = histogram.max();
            }
            marks.push(("max".to_owned(), end, histogram.max()));
        }
    }
    Series {
        name: stats.name.clone(),
        kind,
        flow: stats.flow.clone(),
        count,
        color,
        dashed,
        points,
        marks,
        latency: stats.latency,
    }
}

/// Decades shown on the nines axis: enough for the largest sample count, 2 to 5.
fn axis_decades(series: &[Series]) -> u32 {
    let most = series.iter().map(|s| s.count).max().unwrap_or(0).max(1) as f64;
    (most.log10().ceil() as u32).clamp(MIN_DECADES, MAX_DECADES)
}

fn chart_data(report: &RunReport, series: &[Series], decades: u32) -> Value {
    let round = |v: f64| (v * 1e6).round() / 1e6;
    let series: Vec<Value> = series
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "kind": s.kind,
                "flow": s.flow,
                "count": s.count,
                "color": s.color,
                "points": s.points.iter().map(|(q, x_log, us)| json!({
                    "percentile": round(q * 100.0),
                    "x": round(10f64.powf(*x_log)),
                    "latency_us": us,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "schema_version": report.schema_version,
        "scenario": report.meta.scenario,
        "percentile_distribution": {
            "x_axis": "1/(1-percentile/100), log10",
            "x_max_percentile": round(100.0 - 100.0 / 10f64.powi(decades as i32)),
            "series": series,
        },
        "timeline": report.timeline.iter().map(|t| json!({
            "second": t.second,
            "requests": t.requests,
            "errors": t.errors,
            "p50_us": t.p50_us,
            "p90_us": t.p90_us,
            "p99_us": t.p99_us,
            "max_us": t.max_us,
        })).collect::<Vec<_>>(),
        "status_codes": report.status_codes,
        "errors_by_kind": report.errors_by_kind,
    })
}

/// JSON safe inside `<script>`: `<`, `>` and `&` only occur inside JSON strings, where their
/// `\u` escapes mean the same, so `</script>` in a step name cannot end the element.
fn script_json(value: &Value) -> Result<String, ReportError> {
    let text = serde_json::to_string(value).map_err(|cause| ReportError::Serialize { cause })?;
    Ok(text
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026"))
}

// ---------------------------------------------------------------------------------------------
// Header, cards, tables

/// The target without credentials, query or fragment (`https://host:port/path`).
fn base_url(target: &str) -> String {
    let (scheme, rest) = match target.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), target),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority.rsplit('@').next().unwrap_or(authority);
    format!("{scheme}{host}{path}")
}

/// `2026-11-24T18:40:07.412Z` as `2026-11-24 18:40:07.412 UTC`; other text unchanged.
fn pretty_time(rfc3339: &str) -> String {
    match rfc3339.strip_suffix('Z') {
        Some(t) if t.contains('T') => format!("{} UTC", t.replacen('T', " ", 1)),
        _ => rfc3339.to_owned(),
    }
}

const CSS: &str = r#"
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--card:#fff;--good:#1a7f37;--bad:#c0392b;--warn:#9a6700}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","Noto Sans","Liberation Sans",Arial,sans-serif}
main{max-width:1320px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:24px;margin:0}
h2{font-size:16px;margin:0 0 10px}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace;font-size:12.5px}
pre{margin:4px 0 0;white-space:pre-wrap;word-break:break-word;background:var(--bg);padding:6px 8px;border-radius:4px}
header .title{display:flex;flex-wrap:wrap;align-items:center;gap:10px}
.muted{color:var(--muted);font-weight:normal}
.badge{display:inline-block;padding:3px 9px;border-radius:12px;font-size:12px;font-weight:700;letter-spacing:.03em;background:#ddf4ff;color:#0969da}
.badge.bad{background:#ffebe9;color:var(--bad);border:1px solid var(--bad)}
.badge.good{background:#dafbe1;color:var(--good)}
dl.meta{display:flex;flex-wrap:wrap;gap:4px 22px;margin:10px 0 0}
dl.meta div{display:flex;gap:6px}
dl.meta dt{color:var(--muted)}
dl.meta dd{margin:0;font-weight:600}
.warn{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px 12px;margin:12px 0 0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(138px,1fr));gap:12px;margin:18px 0}
.stat{background:var(--card);border:1px solid var(--line);border-top:4px solid var(--line);border-radius:6px;padding:10px 12px}
.stat.good{border-top-color:var(--good)}
.stat.bad{border-top-color:var(--bad)}
.stat.bad .value{color:var(--bad)}
.stat.warn-card{border-top-color:#d4a72c}
.stat .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.05em}
.stat .value{font-size:24px;font-weight:700;font-variant-numeric:tabular-nums;white-space:nowrap}
.stat .sub{color:var(--muted);font-size:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:14px 16px;margin:0 0 16px;min-width:0}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(460px,100%),1fr));gap:16px}
.hint{color:var(--muted);font-size:12.5px;margin:0 0 8px}
.card .hint:last-child{margin:8px 0 0}
.chartbox{overflow-x:auto}
svg.chart{display:block;width:100%;min-width:540px;height:auto}
svg.chart text{font-family:inherit;fill:#444}
svg.chart .tick{font-size:12px}
svg.chart .cat{font-size:13px;font-weight:600;fill:#1f2328}
svg.chart .title{font-size:13px;fill:#1f2328}
svg.chart .grid{stroke:#e5e8eb;stroke-width:1}
svg.chart .axis{stroke:#8c959f;stroke-width:1}
svg.chart .hit{fill:none;stroke:transparent;stroke-width:10}
svg.chart .hover{fill:transparent}
svg.chart .hover:hover{fill:rgba(0,0,0,.06)}
svg.chart .series:hover path:first-child{stroke-width:3.5}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:6px 18px;padding:0;margin:10px 0 0;font-size:13px}
.legend li{display:flex;align-items:center;gap:6px}
.swatch{display:inline-block;width:14px;height:10px;border-radius:2px;margin-right:6px;vertical-align:middle;flex:none}
.legend .swatch{margin-right:0}
.swatch.dashed{height:0;border-top:3px dashed;border-radius:0}
.nodata{color:var(--muted);padding:30px 0;text-align:center}
.goodtext{color:var(--good)}
.badtext{color:var(--bad);font-weight:600}
.warntext{color:var(--warn);font-weight:600}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em;white-space:nowrap}
td.num,th.num{text-align:right;white-space:nowrap}
tr.total td{font-weight:700;border-top:2px solid var(--line)}
tr.failed td{background:#fff5f4}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:700}
.pill.good{background:#dafbe1;color:var(--good)}
.pill.bad{background:var(--bad);color:#fff}
.pill.nodata{background:#fff8c5;color:var(--warn);border:1px dashed var(--warn)}
.pill.bad.nodata{background:var(--bad);color:#fff;border:1px dashed #fff}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0}
dl.kv dt{color:var(--muted)}
dl.kv dd{margin:0}
dl.kv ul{margin:0;padding-left:18px}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:24px}
@media print{body{background:#fff}.card,.stat{break-inside:avoid}}
"#;
