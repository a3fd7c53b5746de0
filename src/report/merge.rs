//! Exact merging of reports from several machines or shards: histograms are
//! decoded and added, counters summed, and every percentile recomputed from
//! the merged histograms — never an average of percentiles.
//!
//! Shards run side by side, so the merged duration is the longest shard's and
//! rates are recomputed over it.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::build::{per_second, ratio};
use super::{
    FailureSamples, ReportError, RunReport, SCHEMA_VERSION, StatsReport, TimelineReport, Totals,
    decode_histogram, encode_histogram, percentiles,
};
use crate::metrics::{SAMPLES_PER_KIND, merge_histogram, new_latency_histogram};

/// Merges `reports` (named `sources`, for `meta.merged_from`) into one.
///
/// # Errors
/// No report, reports of different scenarios, or a histogram that does not decode.
pub fn merge(reports: &[RunReport], sources: &[String]) -> Result<RunReport, ReportError> {
    let first = reports
        .first()
        .ok_or_else(|| ReportError::Merge("no report to merge".to_owned()))?;
    if let Some(other) = reports
        .iter()
        .find(|r| r.meta.scenario != first.meta.scenario)
    {
        return Err(ReportError::Merge(format!(
            "cannot merge reports of different scenarios (`{}` and `{}`)",
            first.meta.scenario, other.meta.scenario
        )));
    }
    let wall_secs = reports
        .iter()
        .map(|r| r.meta.duration_secs)
        .fold(0.0, f64::max);
    // Rates over the longest load phase (the shards ran side by side).
    let seconds = reports
        .iter()
        .map(|r| {
            if r.meta.load_secs > 0.0 {
                r.meta.load_secs
            } else {
                r.meta.duration_secs
            }
        })
        .fold(0.0, f64::max);
    let mut meta = first.meta.clone();
    meta.duration_secs = wall_secs;
    meta.load_secs = seconds;
    meta.started_at = reports
        .iter()
        .map(|r| r.meta.started_at.clone())
        .min()
        .unwrap_or_default();
    meta.ended_at = reports
        .iter()
        .map(|r| r.meta.ended_at.clone())
        .max()
        .unwrap_or_default();
    meta.interrupted = reports.iter().any(|r| r.meta.interrupted);
    meta.shard = None;
    meta.merged_from = sources.to_vec();

    let steps = merge_lists(reports.iter().map(|r| r.steps.as_slice()), seconds)?;
    let routes = merge_lists(reports.iter().map(|r| r.routes.as_slice()), seconds)?;
    let iteration = merge_stats(
        &reports.iter().map(|r| &r.iteration).collect::<Vec<_>>(),
        seconds,
    )?;

    let sum = |f: fn(&Totals) -> u64| reports.iter().map(|r| f(&r.totals)).sum::<u64>();
    let (requests, errors) = (sum(|t| t.requests), sum(|t| t.errors));
    let totals = Totals {
        requests,
        errors,
        error_rate: ratio(errors, requests),
        requests_per_sec: per_second(requests, seconds),
        iterations: sum(|t| t.iterations),
        iteration_errors: sum(|t| t.iteration_errors),
        dropped_iterations: sum(|t| t.dropped_iterations),
        iterations_started: sum(|t| t.iterations_started),
        cut_off_iterations: sum(|t| t.cut_off_iterations),
        cut_off_requests: sum(|t| t.cut_off_requests),
        planned_iterations: reports
            .iter()
            .map(|r| r.totals.planned_iterations)
            .sum::<Option<u64>>(),
        unstarted_iterations: sum(|t| t.unstarted_iterations),
        // The shards' generators lagged independently: the worst one.
        scheduling_lag: reports
            .iter()
            .filter_map(|r| r.totals.scheduling_lag)
            .max_by_key(|p| p.p99_us),
    };
    Ok(RunReport {
        schema_version: SCHEMA_VERSION,
        meta,
        totals,
        steps,
        routes,
        iteration,
        timeline: merge_timeline(reports)?,
        status_codes: add_maps(reports.iter().map(|r| &r.status_codes)),
        errors_by_kind: add_maps(reports.iter().map(|r| &r.errors_by_kind)),
        request_errors_by_kind: add_maps(reports.iter().map(|r| &r.request_errors_by_kind)),
        failure_samples: merge_failure_samples(reports),
        extra: merge_extra(reports),
        webhooks: super::webhooks::merge(
            &reports
                .iter()
                .filter_map(|r| r.webhooks.as_ref())
                .collect::<Vec<_>>(),
        )?,
    })
}

/// Failure samples by (step, flow, kind), in order of first appearance: counts summed, the first
/// [`SAMPLES_PER_KIND`] samples kept in shard order, `more` recomputed from both.
fn merge_failure_samples(reports: &[RunReport]) -> Vec<FailureSamples> {
    let mut merged: Vec<FailureSamples> = Vec::new();
    for entry in reports.iter().flat_map(|r| &r.failure_samples) {
        let found = merged
            .iter_mut()
            .find(|m| m.step == entry.step && m.flow == entry.flow && m.kind == entry.kind);
        let target = match found {
            Some(target) => {
                target.count += entry.count;
                target
            }
            None => {
                merged.push(FailureSamples {
                    samples: Vec::new(),
                    ..entry.clone()
                });
                merged.last_mut().expect("pushed just above")
            }
        };
        let room = SAMPLES_PER_KIND.saturating_sub(target.samples.len());
        target
            .samples
            .extend(entry.samples.iter().take(room).cloned());
        target.more = target.count.saturating_sub(target.samples.len() as u64);
    }
    merged
}

fn add_maps<'a>(maps: impl Iterator<Item = &'a BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for map in maps {
        for (k, v) in map {
            *out.entry(k.clone()).or_insert(0) += v;
        }
    }
    out
}

/// Merges lists of stats by name, in order of first appearance.
fn merge_lists<'a>(
    lists: impl Iterator<Item = &'a [StatsReport]>,
    seconds: f64,
) -> Result<Vec<StatsReport>, ReportError> {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: BTreeMap<&str, Vec<&StatsReport>> = BTreeMap::new();
    for list in lists {
        for s in list {
            if !groups.contains_key(s.name.as_str()) {
                order.push(&s.name);
            }
            groups.entry(&s.name).or_default().push(s);
        }
    }
    order
        .iter()
        .map(|name| merge_stats(&groups[name], seconds))
        .collect()
}

fn add_encoded(into: &mut Histogram<u64>, encoded: &str) -> Result<(), ReportError> {
    merge_histogram(into, &decode_histogram(encoded)?);
    Ok(())
}

fn merge_stats(parts: &[&StatsReport], seconds: f64) -> Result<StatsReport, ReportError> {
    let mut latency = new_latency_histogram();
    let mut corrected = new_latency_histogram();
    for p in parts {
        add_encoded(&mut latency, &p.histogram)?;
        add_encoded(&mut corrected, &p.corrected_histogram)?;
    }
    let first = parts[0];
    let count = parts.iter().map(|p| p.count).sum();
    let errors = parts.iter().map(|p| p.errors).sum();
    Ok(StatsReport {
        name: first.name.clone(),
        flow: first.flow.clone(),
        route: first.route.clone(),
        count,
        errors,
        error_rate: ratio(errors, count),
        rps: per_second(count, seconds),
        statuses: add_maps(parts.iter().map(|p| &p.statuses)),
        failures: add_maps(parts.iter().map(|p| &p.failures)),
        saturated: parts.iter().map(|p| p.saturated).sum(),
        latency: percentiles(&latency),
        corrected: percentiles(&corrected),
        histogram: encode_histogram(&latency),
        corrected_histogram: encode_histogram(&corrected),
    })
}

fn merge_timeline(reports: &[RunReport]) -> Result<Vec<TimelineReport>, ReportError> {
    let mut seconds: BTreeMap<u64, (u64, u64, Option<Histogram<u64>>)> = BTreeMap::new();
    for point in reports.iter().flat_map(|r| &r.timeline) {
        let entry = seconds.entry(point.second).or_insert((0, 0, None));
        entry.0 += point.requests;
        entry.1 += point.errors;
        let h = decode_histogram(&point.histogram)?;
        match &mut entry.2 {
            Some(acc) => merge_histogram(acc, &h),
            None => entry.2 = Some(h),
        }
    }
    Ok(seconds
        .into_iter()
        .map(|(second, (requests, errors, h))| {
            let h = h.unwrap_or_else(new_latency_histogram);
            let p = percentiles(&h);
            TimelineReport {
                second,
                requests,
                errors,
                p50_us: p.p50_us,
                p90_us: p.p90_us,
                p99_us: p.p99_us,
                max_us: p.max_us,
                histogram: encode_histogram(&h),
            }
        })
        .collect())
}

/// Sums the sections later features add: schema violations, clean-up and
/// agent actors (totals added, each shard's actors listed).
/// Threshold results are not merged: they are re-evaluated on the merged report.
fn merge_extra(reports: &[RunReport]) -> serde_json::Map<String, Value> {
    let mut extra = serde_json::Map::new();
    let mut violations = 0;
    let mut routes: BTreeMap<String, (u64, Vec<Value>)> = BTreeMap::new();
    let mut cleanup: BTreeMap<String, u64> = BTreeMap::new();
    let mut agent_totals: BTreeMap<String, u64> = BTreeMap::new();
    let mut actors: Vec<Value> = Vec::new();
    for r in reports {
        if let Some(agents) = r.extra.get("agents") {
            for (k, v) in agents
                .get("totals")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                *agent_totals.entry(k.clone()).or_insert(0) += v.as_u64().unwrap_or(0);
            }
            actors.extend(
                agents
                    .get("actors")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
        if let Some(schema) = r.extra.get("schema") {
            violations += schema
                .get("violations")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            for (route, v) in schema
                .get("routes")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let entry = routes.entry(route.clone()).or_default();
                entry.0 += v.get("count").and_then(Value::as_u64).unwrap_or(0);
                for sample in v
                    .get("samples")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if entry.1.len() < 5 && !entry.1.contains(sample) {
                        entry.1.push(sample.clone());
                    }
                }
            }
        }
        for (k, v) in r
            .extra
            .get("cleanup")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            *cleanup.entry(k.clone()).or_insert(0) += v.as_u64().unwrap_or(0);
        }
    }
    let mode = reports
        .iter()
        .find_map(|r| r.extra.get("schema").and_then(|s| s.get("mode")).cloned());
    if mode.is_some() || violations > 0 {
        let routes: serde_json::Map<String, Value> = routes
            .into_iter()
            .map(|(k, (count, samples))| (k, json!({"count": count, "samples": samples})))
            .collect();
        extra.insert(
            "schema".to_owned(),
            json!({"mode": mode, "violations": violations, "routes": routes}),
        );
    }
    if !cleanup.is_empty() {
        extra.insert("cleanup".to_owned(), json!(cleanup));
    }
    if !agent_totals.is_empty() || !actors.is_empty() {
        extra.insert(
            "agents".to_owned(),
            json!({"totals": agent_totals, "actors": actors}),
        );
    }
    extra
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::metrics::{
        MetricsHub, MetricsLayout, RequestSample, RouteId, StepId, StepInfo, StepSample,
    };
    use crate::report::build;

    fn run(values: &[u64]) -> RunReport {
        let layout = Arc::new(MetricsLayout {
            steps: vec![StepInfo {
                name: "create_chat".into(),
                flow: "f".into(),
                pause: false,
            }],
            routes: vec!["POST /chats".into()],
        });
        let hub = MetricsHub::new(layout, 2);
        for &v in values {
            hub.record_request(&RequestSample {
                route: RouteId(0),
                status: Some(201),
                failure: None,
                latency_us: v,
                corrected_us: v,
            });
            hub.record_step(&StepSample {
                step: StepId(0),
                ok: true,
                failure: None,
                duration_us: v,
                corrected_us: v,
            });
            hub.record_iteration(true, v, v);
        }
        hub.tick(Duration::from_secs(1));
        build(
            &hub.finish(Duration::from_secs(2)),
            crate::report::build_sample_meta(),
            None,
        )
    }

    #[test]
    fn merging_gives_the_percentiles_of_one_run_recording_everything() {
        let a: Vec<u64> = (1..=5000).map(|i| i * 3).collect();
        let b: Vec<u64> = (1..=3000).map(|i| 20_000 + i * 11).collect();
        let all: Vec<u64> = a.iter().chain(&b).copied().collect();
        let merged = merge(&[run(&a), run(&b)], &["a.json".into(), "b.json".into()]).unwrap();
        let single = run(&all);
        assert_eq!(merged.steps[0].latency, single.steps[0].latency);
        assert_eq!(merged.routes[0].latency, single.routes[0].latency);
        assert_eq!(merged.iteration.latency, single.iteration.latency);
        assert_eq!(merged.totals.requests, 8000);
        assert_eq!(merged.steps[0].count, 8000);
        assert_eq!(merged.status_codes["201"], 8000);
        assert_eq!(merged.meta.merged_from, ["a.json", "b.json"]);
        let t: u64 = merged.timeline.iter().map(|p| p.requests).sum();
        assert_eq!(t, 8000);
        // And the merged report is still a valid report.
        let schema: Value = serde_json::from_str(crate::report::SCHEMA_JSON).unwrap();
        let v = jsonschema::validator_for(&schema).unwrap();
        assert!(v.is_valid(&serde_json::to_value(&merged).unwrap()));
    }

    #[test]
    fn failure_samples_keep_the_first_five_across_shards_and_add_up_the_counts() {
        use crate::report::{FailureSampleReport, FailureSamples};
        let entry = |vu: u64, count: u64, kept: u64| FailureSamples {
            step: "create_chat".into(),
            flow: Some("f".into()),
            kind: "status".into(),
            count,
            more: count - kept,
            samples: (0..kept)
                .map(|iteration| FailureSampleReport {
                    check: "status in [201]".into(),
                    vu,
                    iteration,
                    ..FailureSampleReport::default()
                })
                .collect(),
        };
        let (mut a, mut b, mut c) = (run(&[1]), run(&[2]), run(&[3]));
        a.failure_samples = vec![entry(1, 3, 3)];
        b.failure_samples = vec![entry(2, 40, 5)];
        c.failure_samples = vec![FailureSamples {
            kind: "timeout".into(),
            ..entry(3, 1, 1)
        }];
        let merged = merge(&[a, b, c], &[]).unwrap();
        assert_eq!(merged.failure_samples.len(), 2);
        let status = &merged.failure_samples[0];
        assert_eq!((status.count, status.more), (43, 38));
        let vus: Vec<u64> = status.samples.iter().map(|s| s.vu).collect();
        assert_eq!(vus, [1, 1, 1, 2, 2], "shard order, first five");
        let timeout = &merged.failure_samples[1];
        assert_eq!(
            (timeout.kind.as_str(), timeout.count, timeout.more),
            ("timeout", 1, 0)
        );
    }

    #[test]
    fn different_scenarios_do_not_merge() {
        let a = run(&[1, 2, 3]);
        let mut b = run(&[4]);
        b.meta.scenario = "other".into();
        assert!(
            merge(&[a, b], &[])
                .unwrap_err()
                .to_string()
                .contains("different scenarios")
        );
    }
}
