//! Tests of the HTML report: well-formed, self-contained, escaped, carrying the plotted data.

use super::charts::{ValueAxis, tick_label, time_ticks};
use super::*;
use crate::metrics::new_latency_histogram;
use crate::report::build::sample_report;
use crate::report::{LoadModel, LoadProfile, encode_histogram};

const NASTY: &str = "<img src=x onerror=\"alert(1)\">&'step'</script>";

fn html_of(report: &RunReport) -> String {
    String::from_utf8(render(report).expect("renders")).expect("UTF-8")
}

/// The sample report with the sections later features add, and a step name full of HTML.
fn full_report() -> RunReport {
    let mut report = sample_report();
    report.steps[2].name = NASTY.to_owned();
    report.verdict = Some(Verdict {
        passed: false,
        decided_by: crate::report::DecidedBy::Thresholds,
        thresholds: vec![
            ThresholdResult {
                threshold: "step:create_user p99 < 5s".to_owned(),
                status: ThresholdStatus::Pass,
                passed: true,
                actual: Some(2800.0),
                message: "measured 2.80 ms, required < 5.00 s".to_owned(),
            },
            ThresholdResult {
                threshold: "run:error_rate < 0.1%".to_owned(),
                status: ThresholdStatus::Fail,
                passed: false,
                actual: Some(0.0062),
                message: "measured 0.620%, required < 0.100%".to_owned(),
            },
            ThresholdResult {
                threshold: "never.p99 < 1s".to_owned(),
                status: ThresholdStatus::NoData,
                passed: true,
                actual: None,
                message: "no data: step `never` never ran (allowed by allow_empty)".to_owned(),
            },
        ],
        reasons: vec!["threshold `run:error_rate < 0.1%`: measured 0.620%".to_owned()],
        target_unreachable: false,
        interrupted: false,
    });
    let mut routes = std::collections::BTreeMap::new();
    routes.insert(
        "POST /chats".to_owned(),
        crate::report::RouteViolations {
            count: 3,
            samples: vec![crate::report::ViolationSample {
                status: 201,
                path: "/chatId".to_owned(),
                reason: "\"chatId\" is a required property".to_owned(),
            }],
        },
    );
    report.schema = Some(crate::report::SchemaReport {
        mode: "all".to_owned(),
        checked: Some(40),
        checked_by_route: None,
        violations: 3,
        routes,
    });
    report.cleanup = Some(crate::report::CleanupReport {
        attempted: 4,
        closed: 3,
        failed: 1,
        left_open: 1,
        left_open_ids: vec!["chat-9".to_owned()],
        stopped: Some(crate::report::CleanupStopReason::TimeLimit),
        limit_secs: 3.0,
    });
    report
}

/// Content of the `<script type="application/json" id="chatload-data">` element.
fn data_of(html: &str) -> Value {
    let open = "<script type=\"application/json\" id=\"chatload-data\">";
    let start = html.find(open).expect("data script") + open.len();
    let end = start + html[start..].find("</script>").expect("closed");
    serde_json::from_str(&html[start..end]).expect("data is JSON")
}

/// The table row of `html` that holds `text`, from just after its `<tr`.
fn row_with<'a>(html: &'a str, text: &str) -> &'a str {
    html.split("<tr")
        .skip(1)
        .find(|row| row.contains(text))
        .unwrap_or_else(|| panic!("no table row holds `{text}`"))
}

/// A strict-enough HTML check for what this renderer writes: every non-void element is
/// closed in order, `<script>` and `<style>` contents are skipped.
fn assert_balanced(html: &str) {
    const VOID: [&str; 6] = ["meta", "br", "hr", "img", "input", "link"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at..];
        let end = rest.find('>').expect("tag closed by >");
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .unwrap_or_else(|| panic!("</{name}> closes nothing"));
            assert_eq!(open, name.trim(), "</{name}> closes <{open}>");
            continue;
        }
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .expect("name")
            .to_ascii_lowercase();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric()) && !name.is_empty(),
            "bad tag <{tag}>"
        );
        if name == "script" || name == "style" {
            let close = format!("</{name}>");
            let skip = rest.find(&close).expect("raw text element closed");
            rest = &rest[skip + close.len()..];
            continue;
        }
        if tag.ends_with('/') || VOID.contains(&name.as_str()) {
            continue;
        }
        stack.push(name);
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

#[test]
fn page_is_one_well_formed_html_document() {
    let html = html_of(&full_report());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<html").count(), 1);
    assert_eq!(html.matches("</html>").count(), 1);
    assert_eq!(html.matches("<body").count(), 1);
    let svgs = html.matches("<svg").count();
    assert_eq!(svgs, html.matches("</svg>").count());
    assert!(
        svgs >= 5,
        "percentile, 2 timelines, status codes, errors: {svgs}"
    );
    assert_balanced(&html);
}

#[test]
fn page_loads_nothing_from_anywhere() {
    let report = full_report();
    let html = html_of(&report);
    for needle in [
        "src=\"",
        "src='",
        "href=\"",
        "href='",
        "url(",
        "@import",
        "<link",
        "<img",
        "<iframe",
        "<object",
        "<embed",
        "<base",
        "@font-face",
    ] {
        assert!(!html.contains(needle), "found {needle:?}");
    }
    // The only script is inert data.
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains("<script type=\"application/json\""));
    // The only URL on the page is the target, shown as text.
    let without_target = html.replace(&escape_html(&report.meta.target), "");
    assert!(!without_target.contains("http://"));
    assert!(!without_target.contains("https://"));
}

#[test]
fn every_step_is_plotted_in_the_embedded_data_and_listed_in_the_tables() {
    let report = full_report();
    let html = html_of(&report);
    let data = data_of(&html);
    let series = data["percentile_distribution"]["series"]
        .as_array()
        .expect("series");
    let names: Vec<&str> = series.iter().filter_map(|s| s["name"].as_str()).collect();
    let mut expected: Vec<&str> = report.steps.iter().map(|s| s.name.as_str()).collect();
    expected.extend([
        "whole iteration",
        "iteration[lifecycle]",
        "iteration[cleanup]",
    ]);
    assert_eq!(names, expected);
    for (step, plotted) in report.steps.iter().zip(series) {
        let histogram = decode_histogram(&step.histogram).expect("decodes");
        let points = plotted["points"].as_array().expect("points");
        assert!(points.len() > 20, "{}: {} points", step.name, points.len());
        assert_eq!(points[0]["percentile"], 0.0);
        assert_eq!(points[0]["latency_us"], histogram.value_at_quantile(0.0));
        let last = points.last().expect("a point");
        assert_eq!(last["latency_us"], histogram.max());
        assert_eq!(last["x"].as_f64(), Some(step.count as f64));
        let values: Vec<u64> = points
            .iter()
            .filter_map(|p| p["latency_us"].as_u64())
            .collect();
        assert!(values.windows(2).all(|w| w[0] <= w[1]), "{}", step.name);
        let p90 = points
            .iter()
            .find(|p| p["percentile"] == 90.0)
            .expect("a 90% point");
        assert_eq!(p90["latency_us"], histogram.value_at_quantile(0.9));
        assert_eq!(p90["x"], 10.0);
        // Listed in the steps table, escaped.
        assert!(html.contains(&format!("</span>{}</td>", escape_html(&step.name))));
    }
    for route in &report.routes {
        assert!(html.contains(&format!("<td>{}</td>", escape_html(&route.name))));
    }
    assert_eq!(
        data["timeline"].as_array().map(Vec::len),
        Some(report.timeline.len())
    );
    assert_eq!(data["percentile_distribution"]["x_max_percentile"], 99.9);
    assert_eq!(data["status_codes"]["503"], 5);
}

#[test]
fn iterations_are_plotted_and_listed_per_flow_only_with_two_flows_or_more() {
    let mut report = sample_report();
    let html = html_of(&report);
    for flow in &report.flow_iterations {
        let row = format!("</span>iteration[{}]</td><td>{}</td>", flow.name, flow.name);
        assert!(html.contains(&row), "missing {row}");
    }
    report.flow_iterations.truncate(1);
    let html = html_of(&report);
    assert!(!html.contains("iteration["));
}

#[test]
fn failing_threshold_is_shown_failed() {
    let html = html_of(&full_report());
    assert!(html.contains(">FAILED</span>"), "the verdict badge");
    assert!(html.contains("The run failed:"));
    let row = row_with(&html, "run:error_rate &lt; 0.1%");
    assert!(row.starts_with(" class=\"failed\""), "{row}");
    assert!(row.contains("FAILED"), "{row}");
    assert!(
        row.contains("0.620%") && row.contains("&lt; 0.100%"),
        "{row}"
    );
    let passed = row_with(&html, "step:create_user p99");
    assert!(passed.contains(">passed<"), "{passed}");
    assert!(html.contains("1 THRESHOLD FAILED"));
    assert!(html.contains("<div class=\"value\">1 / 3</div>"));
}

#[test]
fn report_text_is_escaped_everywhere() {
    let html = html_of(&full_report());
    assert!(!html.contains(NASTY));
    assert!(!html.contains("<img"));
    assert!(html.contains("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;step&#39;"));
    // In the data block the name is JSON-escaped but round-trips exactly.
    let data = data_of(&html);
    assert_eq!(data["percentile_distribution"]["series"][2]["name"], NASTY);
    assert_eq!(html.matches("</script>").count(), 1);
    assert_balanced(&html);
}

#[test]
fn why_it_failed_lists_the_samples_escaped() {
    let html = html_of(&sample_report());
    let section = html
        .split("id=\"why-it-failed\"")
        .nth(1)
        .expect("a why-it-failed section");
    assert!(
        section.contains("<code>status in [201]</code>"),
        "{section}"
    );
    assert!(section.contains("Service &lt;unavailable&gt;"), "{section}");
    assert!(!html.contains("Service <unavailable>"));
    assert_balanced(&html);
    let mut clean = sample_report();
    clean.failure_samples.clear();
    assert!(!html_of(&clean).contains("why-it-failed"));
}

#[test]
fn no_data_is_shown_distinctly_from_a_failure() {
    let html = html_of(&full_report());
    let row = row_with(&html, "never.p99");
    assert!(row.contains("no data (allowed)"), "{row}");
    assert!(!row.contains("FAILED"), "{row}");
    assert!(html.contains("passed; 1 failed; 1 no data"));
}

#[test]
fn schema_violations_cleanup_and_corrected_latency_are_shown() {
    let html = html_of(&full_report());
    assert!(html.contains("<code>POST /chats</code>"));
    assert!(html.contains("<code>/chatId</code>"));
    assert!(html.contains("&quot;chatId&quot; is a required property"));
    assert!(html.contains("<dt>closed</dt><dd>3</dd>"));
    // The sample report's open-model stalls make corrected p99 differ.
    assert!(html.contains("p99 corrected"));
    assert!(html.contains("class=\"num warntext\""));
}

#[test]
fn interrupted_shard_and_merged_runs_are_flagged() {
    let mut report = sample_report();
    report.meta.interrupted = true;
    report.meta.shard = Some("2/3".to_owned());
    report.meta.merged_from = vec!["a.json".to_owned(), "b.json".to_owned()];
    report.meta.target = "https://user:secret@api.example.com/v1?key=abc".to_owned();
    let html = html_of(&report);
    assert!(html.contains(">STOPPED EARLY</span>"), "not by a signal");
    report.meta.stopped_by_signal = true;
    let html = html_of(&report);
    assert!(html.contains(">INTERRUPTED</span>"));
    assert!(html.contains("shard 2/3"));
    assert!(html.contains("merged from 2 reports"));
    assert!(html.contains("https://api.example.com/v1"));
    assert!(!html.contains("secret") && !html.contains("key=abc"));
    assert!(!sample_report().meta.interrupted);
    assert!(!html_of(&sample_report()).contains(">INTERRUPTED<"));
}

#[test]
fn a_run_without_samples_still_renders() {
    let mut report = sample_report();
    let empty = encode_histogram(&new_latency_histogram());
    for stats in report
        .steps
        .iter_mut()
        .chain(report.routes.iter_mut())
        .chain(std::iter::once(&mut report.iteration))
        .chain(report.flow_iterations.iter_mut())
    {
        stats.count = 0;
        stats.errors = 0;
        stats.histogram = empty.clone();
        stats.corrected_histogram = empty.clone();
        stats.latency = Percentiles::default();
        stats.corrected = Percentiles::default();
    }
    report.timeline.clear();
    report.status_codes.clear();
    report.errors_by_kind.clear();
    let html = html_of(&report);
    assert_balanced(&html);
    assert!(html.contains("No latency was recorded."));
    let data = data_of(&html);
    assert_eq!(
        data["percentile_distribution"]["series"][0]["points"],
        json!([])
    );
}

#[test]
fn a_corrupt_histogram_is_an_error() {
    let mut report = sample_report();
    report.steps[0].histogram = "***".to_owned();
    assert!(matches!(
        render(&report),
        Err(ReportError::HistogramBase64 { .. })
    ));
}

#[test]
fn axes_use_round_numbers() {
    let log = ValueAxis::auto(0.41, 950.0);
    assert!(log.log);
    assert_eq!((log.lo, log.hi), (0.2, 1000.0));
    assert_eq!(log.ticks.first(), Some(&0.2));
    assert_eq!(log.ticks.last(), Some(&1000.0));
    let linear = ValueAxis::auto(1.0, 11.3);
    assert!(!linear.log);
    assert_eq!(linear.hi, 15.0);
    assert_eq!(linear.ticks, vec![0.0, 5.0, 10.0, 15.0]);
    assert_eq!(tick_label(0.2), "0.2");
    assert_eq!(tick_label(1000.0), "1000");
    assert_eq!(tick_label(0.0), "0");
}

#[test]
fn a_log_axis_has_no_zero_tick() {
    // 1 µs to 30 s on a seconds axis: six decades below 0.001 s.
    let axis = ValueAxis::auto(0.000_001, 30.0);
    assert!(axis.log);
    let labels: Vec<String> = axis.ticks.iter().map(|v| tick_label(*v)).collect();
    assert!(!labels.iter().any(|l| l == "0"), "{labels:?}");
    assert_eq!(labels.first().map(String::as_str), Some("0.000001"));
    assert_eq!(tick_label(0.000_2), "0.0002");
    assert_eq!(tick_label(0.005), "0.005");
    assert_eq!(tick_label(0.25), "0.25");
}

#[test]
fn time_axis_in_minutes() {
    let (ticks, title) = time_ticks(600.0);
    assert_eq!(title, "time since start (min:s)");
    assert_eq!(ticks[1].1, "2:00");
}

#[test]
fn text_helpers() {
    assert_eq!(
        pretty_time("2026-11-24T18:40:07.412Z"),
        "2026-11-24 18:40:07.412 UTC"
    );
    assert_eq!(
        base_url("http://127.0.0.1:45461/v1"),
        "http://127.0.0.1:45461/v1"
    );
    assert_eq!(
        describe_load(&LoadProfile {
            vus: Some(10),
            duration_secs: Some(8.0),
            graceful_stop_secs: 5.0,
            ..LoadProfile::default()
        }),
        "closed model · 10 VUs · for 8 s · graceful stop 5 s"
    );
    assert_eq!(
        describe_load(&LoadProfile {
            model: LoadModel::Open,
            arrival_rate: Some(50.0),
            max_vus: Some(100),
            stages: vec![crate::report::StageReport {
                duration_secs: 30.0,
                target: 100.0
            }],
            graceful_stop_secs: 30.0,
            request_timeout_secs: Some(10.0),
            ..LoadProfile::default()
        }),
        "open model · from 50 arrivals/s · max 100 VUs · stages: 30 s → 100/s · graceful stop 30 s · request timeout 10 s"
    );
}

#[test]
fn throttling_has_its_own_card_with_policy_waits_and_routes() {
    let mut report = sample_report();
    crate::report::throttle::throttle_sample(&mut report, "respect", 7);
    let html = html_of(&report);
    assert!(
        html.contains("<div class=\"label\">throttled</div>"),
        "{html}"
    );
    assert!(html.contains("policy respect · 6 re-sent after 6.00 s waiting"));
    assert!(html.contains(&format!("{} × 7", escape_html(&report.routes[0].name))));
    report.throttle = None;
    assert!(!html_of(&report).contains("<div class=\"label\">throttled</div>"));
}

#[test]
fn connections_have_their_own_card_with_the_policy_and_each_routes_set_up() {
    let mut report = sample_report();
    assert!(!html_of(&report).contains("<h2>Connections</h2>"));
    report.routes[0].connection = Some(crate::report::connection::sample());
    report.meta.connection = Some(crate::report::connection::ConnectionMeta {
        policy: "new_per_iteration".to_owned(),
        vus_per_connection: None,
    });
    let html = html_of(&report);
    assert!(html.contains("<h2>Connections</h2>"), "{html}");
    assert!(html.contains("Policy <code>new_per_iteration</code>"));
    let name = format!("<code>{}</code>", escape_html(&report.routes[0].name));
    let row = row_with(&html, &name);
    assert!(
        row.contains("250 µs / 250 µs") && row.contains("1.50 ms / 1.50 ms"),
        "{row}"
    );
    assert_balanced(&html);
}

/// Outside audit 11, N2: the footer named the first merged part's chatload
/// as the page's writer.
#[test]
fn the_footer_names_the_chatload_that_wrote_the_page() {
    let mut report = full_report();
    report.meta.chatload_version = "0.0.9".to_owned();
    let html = html_of(&report);
    let footer = &html[html.find("<footer>").expect("a footer")..];
    let writer = format!("Written by chatload {} from", env!("CARGO_PKG_VERSION"));
    assert!(footer.starts_with(&format!("<footer>{writer}")), "{footer}");
}
