//! [`build`]: turns merged [`RunMetrics`] into the [`RunReport`] wire model.
//!
//! All arithmetic on the measurements (rates, percentiles, totals) happens here once, so every
//! renderer shows the same numbers.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::rates::{per_second, ratio};
use super::{
    FailureSamples, Percentiles, RunMeta, RunReport, SCHEMA_VERSION, StatsReport, TimelineReport,
    Totals, encode_histogram,
};
use crate::metrics::{FailureKind, LatencyStats, MetricsLayout, RunMetrics, TimelinePoint};

/// Builds the report of a run from its merged metrics and metadata.
///
/// Rates are of what started (was sent) during the load phase, per second
/// of it (`meta.load_secs`) when it is known, else over `metrics.elapsed`. `planned_iterations` is what the plan asked for,
/// when it fixes a number.
#[inline(never)] // counted apart by bench/instructions.sh (see `Tick::once`)
pub fn build(metrics: &RunMetrics, meta: RunMeta, planned_iterations: Option<u64>) -> RunReport {
    let seconds = if meta.load_secs > 0.0 {
        meta.load_secs
    } else {
        metrics.elapsed.as_secs_f64()
    };
    let layout = &metrics.layout;

    let totals = totals(metrics, planned_iterations, seconds);
    let throttle = super::throttle::build(metrics, totals.requests);
    let mut iteration = stats_report("iteration".to_owned(), &metrics.iteration, seconds);
    let mut flow_iterations = keyed_reports(
        (&metrics.flows, &layout.flows, "flow"),
        |r| &mut r.flow,
        seconds,
    );
    add_step_bytes(metrics, &mut iteration, &mut flow_iterations);

    RunReport {
        schema_version: SCHEMA_VERSION,
        meta,
        totals,
        steps: step_reports(metrics, seconds),
        routes: keyed_reports(
            (&metrics.routes, &layout.routes, "route"),
            |r| &mut r.route,
            seconds,
        ),
        iteration,
        flow_iterations,
        timeline: metrics.timeline.iter().map(timeline_report).collect(),
        status_codes: statuses_of(&metrics.routes),
        errors_by_kind: failures_of(&metrics.steps),
        request_errors_by_kind: failures_of(&metrics.routes),
        failure_samples: failure_samples(metrics, layout),
        thresholds: Vec::new(),
        verdict: None,
        schema: None,
        cleanup: None,
        agents: None,
        aborted_in_flight: false,
        webhooks: None,
        throttle: Some(throttle),
    }
}

/// An iteration's body bytes are its steps' (a request belongs to the step
/// that sent it; the clean-up's and agent actors' requests belong to none):
/// each flow's row gets its own steps' sums, the iteration row every step's.
fn add_step_bytes(metrics: &RunMetrics, iteration: &mut StatsReport, flows: &mut [StatsReport]) {
    for (index, stats) in metrics.steps.iter().enumerate() {
        iteration.bytes_sent += stats.bytes_sent;
        iteration.bytes_received += stats.bytes_received;
        let flow = metrics.layout.steps.get(index).map(|info| &info.flow);
        if let Some(row) = flows.iter_mut().find(|row| row.flow.as_ref() == flow) {
            row.bytes_sent += stats.bytes_sent;
            row.bytes_received += stats.bytes_received;
        }
    }
}

/// One report per step that sends requests, in plan order, its rate over `seconds`.
/// Pause-only steps record nothing: left out, rather than shown as steps that never ran.
fn step_reports(metrics: &RunMetrics, seconds: f64) -> Vec<StatsReport> {
    let layout = &metrics.layout;
    metrics
        .steps
        .iter()
        .enumerate()
        .filter(|(index, _)| !layout.steps.get(*index).is_some_and(|info| info.pause))
        .map(|(index, stats)| {
            let info = layout.steps.get(index);
            let name = info.map_or_else(|| format!("step {index}"), |info| info.name.clone());
            let mut report = stats_report(name, stats, seconds);
            report.flow = info.map(|info| info.flow.clone());
            report
        })
        .collect()
}

/// The run's totals: requests and errors, iterations by how they ended, what the plan
/// asked for and never started, and the generator's scheduling lag.
fn totals(metrics: &RunMetrics, planned_iterations: Option<u64>, seconds: f64) -> Totals {
    let lag = metrics.scheduling_lag_us.as_ref().filter(|h| !h.is_empty());
    let requests = metrics.total_requests();
    let errors = metrics.total_errors();
    Totals {
        requests,
        errors,
        error_rate: ratio(errors, requests),
        requests_per_sec: per_second(
            metrics.routes.iter().map(|stats| stats.in_load).sum(),
            seconds,
        ),
        iterations: metrics.iteration.count,
        iteration_errors: metrics.iteration.errors,
        dropped_iterations: metrics.dropped,
        iterations_started: metrics.iterations_started,
        cut_off_iterations: metrics.cut_off_iterations,
        cut_off_requests: metrics.cut_off_requests,
        planned_iterations,
        unstarted_iterations: planned_iterations.map_or(0, |planned| {
            planned.saturating_sub(metrics.iterations_started + metrics.dropped)
        }),
        scheduling_lag: lag.map(percentiles),
        scheduling_lag_histogram: lag.map(encode_histogram),
    }
}

/// One second of the timeline: its counts, percentiles and encoded histogram.
fn timeline_report(point: &TimelinePoint) -> TimelineReport {
    let latency = percentiles(&point.latency_us);
    TimelineReport {
        second: point.second,
        requests: point.requests,
        errors: point.errors,
        p50_us: latency.p50_us,
        p90_us: latency.p90_us,
        p99_us: latency.p99_us,
        max_us: latency.max_us,
        histogram: encode_histogram(&point.latency_us),
    }
}

/// One report per route or per flow: `(stats, names, kind)` gives each its name (`{kind}
/// {index}` past the end of `names`), and `key` the field that keeps the name in the wire
/// model (`route`, `flow`).
fn keyed_reports(
    (all, names, kind): (&[LatencyStats], &[String], &str),
    key: fn(&mut StatsReport) -> &mut Option<String>,
    seconds: f64,
) -> Vec<StatsReport> {
    all.iter()
        .enumerate()
        .map(|(index, stats)| {
            let name = names
                .get(index)
                .cloned()
                .unwrap_or_else(|| format!("{kind} {index}"));
            let mut report = stats_report(name.clone(), stats, seconds);
            *key(&mut report) = Some(name);
            report
        })
        .collect()
}

fn failure_samples(metrics: &RunMetrics, layout: &MetricsLayout) -> Vec<FailureSamples> {
    metrics
        .failure_samples
        .iter()
        .map(|slot| {
            let info = layout.steps.get(slot.step.0 as usize);
            FailureSamples {
                step: info.map_or_else(|| format!("step {}", slot.step.0), |i| i.name.clone()),
                flow: info.map(|i| i.flow.clone()),
                kind: slot.kind.as_str().to_owned(),
                count: slot.count,
                more: slot.count.saturating_sub(slot.samples.len() as u64),
                samples: slot.samples.clone(),
            }
        })
        .collect()
}

/// Percentiles of `histogram` in its own unit (µs for every chatload histogram); all zero when
/// it is empty.
pub fn percentiles(histogram: &Histogram<u64>) -> Percentiles {
    if histogram.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        min_us: histogram.min(),
        mean_us: histogram.mean(),
        p50_us: histogram.value_at_quantile(0.5),
        p90_us: histogram.value_at_quantile(0.9),
        p95_us: histogram.value_at_quantile(0.95),
        p99_us: histogram.value_at_quantile(0.99),
        p99_9_us: histogram.value_at_quantile(0.999),
        p99_99_us: histogram.value_at_quantile(0.9999),
        max_us: histogram.max(),
    }
}

fn stats_report(name: String, stats: &LatencyStats, seconds: f64) -> StatsReport {
    let mut statuses = BTreeMap::new();
    add_statuses(&mut statuses, stats);
    let mut failures = BTreeMap::new();
    add_failures(&mut failures, stats);
    StatsReport {
        name,
        flow: None,
        route: None,
        count: stats.count,
        errors: stats.errors,
        error_rate: stats.error_rate(),
        // Started during the load phase: a never-sent (untimed) sample sent nothing, so a step
        // whose requests were never sent has a rate of 0.
        rps: per_second(stats.in_load, seconds),
        statuses,
        failures,
        saturated: stats.saturated,
        untimed: stats.count.saturating_sub(stats.latency_us.len()),
        bytes_sent: stats.bytes_sent,
        bytes_received: stats.bytes_received,
        throttle: (&stats.throttle).into(),
        connection: stats.connection.as_deref().map(Into::into),
        latency: percentiles(&stats.latency_us),
        corrected: percentiles(&stats.corrected_us),
        histogram: encode_histogram(&stats.latency_us),
        corrected_histogram: encode_histogram(&stats.corrected_us),
    }
}

/// The responses of `all` by status code.
fn statuses_of(all: &[LatencyStats]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for stats in all {
        add_statuses(&mut counts, stats);
    }
    counts
}

/// The failures of `all` by kind.
fn failures_of(all: &[LatencyStats]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for stats in all {
        add_failures(&mut counts, stats);
    }
    counts
}

fn add_statuses(into: &mut BTreeMap<String, u64>, stats: &LatencyStats) {
    for &(code, count) in &stats.statuses {
        *into.entry(code.to_string()).or_insert(0) += count;
    }
}

fn add_failures(into: &mut BTreeMap<String, u64>, stats: &LatencyStats) {
    for kind in FailureKind::ALL {
        let count = stats.failure_count(kind);
        if count > 0 {
            *into.entry(kind.as_str().to_owned()).or_insert(0) += count;
        }
    }
}

/// A small but complete report (two flows, failures, an open-model stall) for renderer tests.
#[cfg(test)]
pub(crate) fn sample_report() -> RunReport {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::metrics::{
        FailureSample, FlowId, MetricsHub, MetricsLayout, RequestSample, RouteId, StepId, StepInfo,
        StepSample,
    };

    let layout = Arc::new(MetricsLayout {
        steps: [
            "create_user",
            "create_chat",
            "wait_until_active",
            "close_chat",
        ]
        .into_iter()
        .enumerate()
        .map(|(index, name)| StepInfo {
            name: name.to_owned(),
            flow: if index < 3 { "lifecycle" } else { "cleanup" }.to_owned(),
            pause: false,
        })
        .collect(),
        routes: vec![
            "POST /users".to_owned(),
            "POST /chats".to_owned(),
            "GET /chats/{chatId}".to_owned(),
        ],
        flows: vec!["lifecycle".to_owned(), "cleanup".to_owned()],
    });
    let hub = MetricsHub::new(layout, 2);
    for iteration in 0..200u64 {
        for step in 0..4u32 {
            let latency_us = 800 + iteration * 10 + u64::from(step) * 1_000;
            // A stall every 50 iterations: the open model's corrected latency grows far beyond raw.
            let corrected_us = if iteration % 50 == 49 {
                latency_us + 2_000_000
            } else {
                latency_us
            };
            let failure = (step == 1 && iteration % 40 == 0).then_some(FailureKind::Status);
            let route = step.min(2);
            hub.record_request(&RequestSample {
                route: RouteId(route),
                step: Some(StepId(step)),
                status: Some(if failure.is_some() { 503 } else { 200 }),
                failure,
                latency_us,
                corrected_us,
                bytes_sent: u64::from(step) * 10,
                bytes_received: 100,
                throttled: false,
                schema_checked: true,
                connection: None,
            });
            hub.record_step(&StepSample {
                step: StepId(step),
                ok: failure.is_none(),
                failure,
                duration_us: latency_us,
                corrected_us,
            });
            if let Some(kind) = failure {
                hub.record_step_failure(StepId(step), kind, || FailureSample {
                    iteration,
                    vu: 1,
                    ..FailureSample::create_chat_status(201, 503, "Service <unavailable>")
                });
            }
        }
        let flow = FlowId(u32::from(iteration % 4 == 3));
        hub.record_flow_iteration(
            Some(flow),
            iteration % 40 != 0,
            9_000 + iteration,
            9_000 + iteration,
        );
        if iteration % 100 == 99 {
            hub.tick(Duration::from_secs((iteration + 1) / 100));
        }
    }
    hub.record_dropped();
    let metrics = hub.finish(Duration::from_secs(2));
    build(&metrics, sample_meta(), None)
}

#[cfg(test)]
pub(crate) fn sample_meta() -> RunMeta {
    RunMeta {
        scenario: "chat-lifecycle".to_owned(),
        scenario_file: Some("scenarios/chat-lifecycle.yaml".to_owned()),
        target: "http://127.0.0.1:40123".to_owned(),
        target_kind: "bundled-mock".to_owned(),
        http_versions: Vec::new(),
        connection: None,
        chatload_version: "0.1.0".to_owned(),
        started_at: "2026-11-24T17:00:00Z".to_owned(),
        ended_at: "2026-11-24T17:00:02Z".to_owned(),
        duration_secs: 2.0,
        load_secs: 0.0,
        load: crate::report::LoadProfile {
            model: crate::report::LoadModel::Open,
            arrival_rate: Some(100.0),
            duration_secs: Some(2.0),
            max_vus: Some(50),
            backlog: Some(50),
            graceful_stop_secs: 5.0,
            request_timeout_secs: Some(30.0),
            ..crate::report::LoadProfile::default()
        },
        seed: Some(42),
        seeds: Vec::new(),
        interrupted: false,
        stopped_by_signal: false,
        shard: None,
        merged_from: Vec::new(),
        merged_runs: Vec::new(),
        chatload_versions: Vec::new(),
        ran_apart: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::decode_histogram;

    #[test]
    fn build_carries_counts_names_and_exact_histograms() {
        let report = sample_report();
        assert_eq!(report.schema_version, SCHEMA_VERSION);
        assert_eq!(report.totals.requests, 800);
        assert_eq!(report.totals.errors, 5);
        assert!((report.totals.requests_per_sec - 400.0).abs() < 1e-9);
        assert!((report.totals.error_rate - 5.0 / 800.0).abs() < 1e-12);
        assert_eq!(report.totals.iterations, 200);
        assert_eq!(report.totals.iteration_errors, 5);
        assert_eq!(report.totals.dropped_iterations, 1);

        let names: Vec<&str> = report.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "create_user",
                "create_chat",
                "wait_until_active",
                "close_chat"
            ]
        );
        assert_eq!(report.steps[3].flow.as_deref(), Some("cleanup"));
        assert_eq!(report.steps[1].failures.get("status"), Some(&5));
        assert_eq!(
            report.routes[2].route.as_deref(),
            Some("GET /chats/{chatId}")
        );
        assert_eq!(report.routes[2].count, 400);
        assert_eq!(report.routes[1].statuses.get("503"), Some(&5));
        assert_eq!(report.status_codes.get("200"), Some(&795));
        assert_eq!(report.status_codes.get("503"), Some(&5));
        assert_eq!(report.errors_by_kind.get("status"), Some(&5));
        assert_eq!(report.errors_by_kind.len(), 1);
        assert_eq!(report.iteration.name, "iteration");

        let step = &report.steps[0];
        let decoded = decode_histogram(&step.histogram).expect("decodes");
        assert_eq!(decoded.len(), step.count);
        assert_eq!(decoded.value_at_quantile(0.99), step.latency.p99_us);
        assert!(step.corrected.p99_us > 2_000_000);
        assert!(step.latency.p99_us < 10_000);

        let timeline_requests: u64 = report.timeline.iter().map(|t| t.requests).sum();
        assert_eq!(timeline_requests, report.totals.requests);
        assert!(report.timeline.iter().all(|t| t.p50_us <= t.p99_us));
    }

    /// An iteration's and a flow's body bytes are their steps' sums (they
    /// were always 0): step k sends 10·k bytes and receives 100, 200 times.
    #[test]
    fn iterations_and_flows_carry_the_sum_of_their_steps_bytes() {
        let report = sample_report();
        let bytes = |r: &StatsReport| (r.bytes_sent, r.bytes_received);
        assert_eq!(bytes(&report.steps[2]), (200 * 20, 200 * 100));
        assert_eq!(bytes(&report.iteration), (200 * 60, 200 * 400));
        let flow = |name: &str| {
            let row = report.flow_iterations.iter().find(|r| r.name == name);
            bytes(row.expect(name))
        };
        assert_eq!(flow("lifecycle"), (200 * 30, 200 * 300));
        assert_eq!(flow("cleanup"), (200 * 30, 200 * 100));
    }

    #[test]
    fn empty_run_has_zero_rates_and_no_nan() {
        let metrics = RunMetrics {
            layout: std::sync::Arc::default(),
            steps: Vec::new(),
            routes: Vec::new(),
            iteration: LatencyStats::new(),
            flows: Vec::new(),
            timeline: Vec::new(),
            dropped: 0,
            iterations_started: 0,
            cut_off_iterations: 0,
            cut_off_requests: 0,
            throttled_iterations: 0,
            failure_samples: Vec::new(),
            scheduling_lag_us: None,
            elapsed: std::time::Duration::ZERO,
        };
        let report = build(&metrics, sample_meta(), None);
        assert_eq!(report.totals.requests_per_sec, 0.0);
        assert_eq!(report.totals.error_rate, 0.0);
        assert_eq!(report.iteration.latency, Percentiles::default());
        assert!(report.iteration.error_rate.is_finite());
    }
}
