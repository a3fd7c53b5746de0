//! Exact merging of reports from several machines or shards: histograms are
//! decoded and added, counters summed, and every percentile recomputed from
//! the merged histograms — never an average of percentiles.
//!
//! Shards run side by side, so the merged duration is the longest shard's and
//! rates are recomputed over it; parts that did not run at the same time (their
//! spans miss each other by more than 2 s of clock skew, [`span::apart`]) get
//! the whole span, earliest start to latest end, as duration, rates averaged
//! over it, each part's timeline placed where it ran, and `meta.ran_apart`. A set of reports is checked first
//! ([`check_set`]): one scenario, one set of thresholds, and either every
//! shard of one run exactly once (same seed, same shard count, no duplicate,
//! no gap) or only unsharded runs, merged as runs side by side.
//!
//! The merged report carries the thresholds but no verdict: the caller
//! judges it again on the merged data (`verdict::judge_report`).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::rates::{per_second, ratio};
use super::throttle::ThrottleStats;
use super::{
    AgentSummary, CleanupReport, FailureSamples, Percentiles, ReportError, RunMeta, RunReport,
    SCHEMA_VERSION, SchemaReport, StatsReport, TimelineReport, Totals, decode_histogram,
    encode_histogram, percentiles,
};
use crate::metrics::{SAMPLES_PER_KIND, merge_histogram, new_latency_histogram};

mod check;
mod runs;
mod side_by_side;
mod span;

pub use check::check_set;

/// Merges `reports` (named `sources`, for `meta.merged_from`) into one.
///
/// # Errors
/// No report, a set [`check_set`] rejects, or a histogram that does not decode.
pub fn merge(reports: &[RunReport], sources: &[String]) -> Result<RunReport, ReportError> {
    if reports.is_empty() {
        return Err(ReportError::Merge("no report to merge".to_owned()));
    }
    check_set(reports, sources).map_err(ReportError::Merge)?;
    runs::check_target_kinds(reports, sources).map_err(ReportError::Merge)?;
    let spans: Vec<(&str, &str)> = reports
        .iter()
        .map(|r| (r.meta.started_at.as_str(), r.meta.ended_at.as_str()))
        .collect();
    let apart = span::apart(&spans);
    let mut meta = RunMeta::merged(reports, sources);
    if let Some((span_secs, _)) = &apart {
        meta.duration_secs = *span_secs;
        meta.load_secs = *span_secs;
        meta.ran_apart = true;
    }
    // Rates over the longest load phase (the shards ran side by side), or the whole span.
    let seconds = meta.load_secs;
    let totals = Totals::merged(reports, seconds)?;
    let throttle = super::throttle::merge(reports, totals.requests);
    let lists = |list: fn(&RunReport) -> &[StatsReport]| {
        reports.iter().map(move |r| (list(r), rate_secs(&r.meta)))
    };
    Ok(RunReport {
        schema_version: SCHEMA_VERSION,
        meta,
        totals,
        steps: merge_lists(lists(|r| &r.steps), seconds)?,
        routes: merge_lists(lists(|r| &r.routes), seconds)?,
        iteration: merge_stats(
            &reports
                .iter()
                .map(|r| (&r.iteration, rate_secs(&r.meta)))
                .collect::<Vec<_>>(),
            seconds,
        )?,
        flow_iterations: merge_lists(lists(|r| &r.flow_iterations), seconds)?,
        timeline: merge_timeline(reports, apart.map(|(_, offsets)| offsets))?,
        status_codes: add_maps(reports.iter().map(|r| &r.status_codes)),
        errors_by_kind: add_maps(reports.iter().map(|r| &r.errors_by_kind)),
        request_errors_by_kind: add_maps(reports.iter().map(|r| &r.request_errors_by_kind)),
        failure_samples: merge_failure_samples(reports),
        thresholds: runs::merge_thresholds(reports),
        verdict: None,
        schema: merge_schema(reports),
        cleanup: merge_sections(reports, |r| r.cleanup.as_ref(), CleanupReport::add),
        agents: merge_sections(reports, |r| r.agents.as_ref(), AgentSummary::add),
        aborted_in_flight: reports.iter().any(|r| r.aborted_in_flight),
        webhooks: super::webhook::merge(
            &reports
                .iter()
                .filter_map(|r| r.webhooks.as_ref())
                .collect::<Vec<_>>(),
        )?,
        throttle,
    })
}

impl RunMeta {
    /// The first report's metadata over the whole set: the longest duration and load phase
    /// (the shards ran side by side), the earliest start and latest end (as instants, whatever
    /// the order of the reports), interrupted when any
    /// was, every HTTP version spoken, no shard, and `sources` as `merged_from`.
    fn merged(reports: &[RunReport], sources: &[String]) -> Self {
        let wall_secs = reports
            .iter()
            .map(|r| r.meta.duration_secs)
            .fold(0.0, f64::max);
        let load_secs = reports
            .iter()
            .map(|r| rate_secs(&r.meta))
            .fold(0.0, f64::max);
        let mut meta = reports[0].meta.clone();
        meta.duration_secs = wall_secs;
        meta.load_secs = load_secs;
        // As instants: RFC 3339 spells one many ways, whose text sorts wrong.
        meta.started_at = span::earliest(reports.iter().map(|r| r.meta.started_at.as_str()));
        meta.ended_at = span::latest(reports.iter().map(|r| r.meta.ended_at.as_str()));
        meta.interrupted = reports.iter().any(|r| r.meta.interrupted);
        meta.stopped_by_signal = reports.iter().any(|r| r.meta.stopped_by_signal);
        // A part merged apart before keeps the whole set apart.
        meta.ran_apart = reports.iter().any(|r| r.meta.ran_apart);
        meta.shard = None;
        meta.load.shard = None;
        meta.load.shard_share = None;
        meta.merged_from = sources.to_vec();
        meta.merged_runs = runs::merged_runs(reports, sources);
        meta.chatload_versions = runs::versions(reports);
        let mut versions: Vec<_> = reports
            .iter()
            .flat_map(|r| r.meta.http_versions.iter().copied())
            .collect();
        versions.sort_unstable();
        versions.dedup();
        meta.http_versions = versions;
        side_by_side::mark(&mut meta, reports);
        meta
    }
}

/// The seconds a report's rates are over: its load phase, or its whole run
/// when the load phase was not recorded.
fn rate_secs(meta: &RunMeta) -> f64 {
    if meta.load_secs > 0.0 {
        meta.load_secs
    } else {
        meta.duration_secs
    }
}

/// How many samples a rate of `rate` per second over `seconds` counted: the
/// numerator a report stores as its rate, recovered (exact after rounding)
/// so that shards' rates add up as counts, not as averages.
fn rated_count(rate: f64, seconds: f64) -> u64 {
    (rate * seconds).round() as u64
}

impl Totals {
    /// The reports' totals summed, rates recomputed over `seconds` from each report's samples
    /// started during its load phase; the scheduling lags merged (see [`merged_lag`]).
    fn merged(reports: &[RunReport], seconds: f64) -> Result<Self, ReportError> {
        let lag = merged_lag(reports)?;
        let sum = |f: fn(&Totals) -> u64| reports.iter().map(|r| f(&r.totals)).sum::<u64>();
        let (requests, errors) = (sum(|t| t.requests), sum(|t| t.errors));
        let in_load = reports
            .iter()
            .map(|r| rated_count(r.totals.requests_per_sec, rate_secs(&r.meta)))
            .sum();
        Ok(Totals {
            requests,
            errors,
            error_rate: ratio(errors, requests),
            requests_per_sec: per_second(in_load, seconds),
            iterations: sum(|t| t.iterations),
            iteration_errors: sum(|t| t.iteration_errors),
            dropped_iterations: sum(|t| t.dropped_iterations),
            // `started()`, not the field: a report without the count (written
            // before it existed) must not add a false 0.
            iterations_started: sum(Totals::started),
            cut_off_iterations: sum(|t| t.cut_off_iterations),
            cut_off_requests: sum(|t| t.cut_off_requests),
            planned_iterations: reports
                .iter()
                .map(|r| r.totals.planned_iterations)
                .sum::<Option<u64>>(),
            unstarted_iterations: sum(|t| t.unstarted_iterations),
            scheduling_lag: lag.as_ref().map(|(p, _)| *p),
            scheduling_lag_histogram: lag.and_then(|(_, h)| h),
        })
    }
}

/// The shards' scheduling lags, as percentiles and encoded histogram: every arrival's lag
/// from the merged histograms when each shard that measured one stored its histogram; else
/// (a report written before they were stored) the worst shard's percentiles, with no
/// histogram, since percentiles cannot be added.
fn merged_lag(reports: &[RunReport]) -> Result<Option<(Percentiles, Option<String>)>, ReportError> {
    let lags: Vec<&Totals> = reports
        .iter()
        .map(|r| &r.totals)
        .filter(|t| t.scheduling_lag.is_some())
        .collect();
    if lags.iter().any(|t| t.scheduling_lag_histogram.is_none()) {
        let worst = lags
            .iter()
            .filter_map(|t| t.scheduling_lag)
            .max_by_key(|p| p.p99_us);
        return Ok(worst.map(|p| (p, None)));
    }
    let mut merged = new_latency_histogram();
    for encoded in lags
        .iter()
        .filter_map(|t| t.scheduling_lag_histogram.as_deref())
    {
        merge_histogram(&mut merged, &decode_histogram(encoded)?);
    }
    Ok((!merged.is_empty()).then(|| (percentiles(&merged), Some(encode_histogram(&merged)))))
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

/// Merges lists of stats by name, in order of first appearance; each list comes with the
/// seconds its rates are over.
fn merge_lists<'a>(
    lists: impl Iterator<Item = (&'a [StatsReport], f64)>,
    seconds: f64,
) -> Result<Vec<StatsReport>, ReportError> {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: BTreeMap<&str, Vec<(&StatsReport, f64)>> = BTreeMap::new();
    for (list, secs) in lists {
        for s in list {
            if !groups.contains_key(s.name.as_str()) {
                order.push(&s.name);
            }
            groups.entry(&s.name).or_default().push((s, secs));
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

/// Merges one entry's parts, each with the seconds its rate is over.
fn merge_stats(parts: &[(&StatsReport, f64)], seconds: f64) -> Result<StatsReport, ReportError> {
    let mut latency = new_latency_histogram();
    let mut corrected = new_latency_histogram();
    for (p, _) in parts {
        add_encoded(&mut latency, &p.histogram)?;
        add_encoded(&mut corrected, &p.corrected_histogram)?;
    }
    let in_load = parts
        .iter()
        .map(|(p, secs)| rated_count(p.rps, *secs))
        .sum();
    let parts: Vec<&StatsReport> = parts.iter().map(|(p, _)| *p).collect();
    let parts = parts.as_slice();
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
        rps: per_second(in_load, seconds),
        statuses: add_maps(parts.iter().map(|p| &p.statuses)),
        failures: add_maps(parts.iter().map(|p| &p.failures)),
        saturated: parts.iter().map(|p| p.saturated).sum(),
        untimed: parts.iter().map(|p| p.untimed).sum(),
        bytes_sent: parts.iter().map(|p| p.bytes_sent).sum(),
        bytes_received: parts.iter().map(|p| p.bytes_received).sum(),
        throttle: parts
            .iter()
            .fold(Default::default(), |mut sum: ThrottleStats, p| {
                sum.add(&p.throttle);
                sum
            }),
        connection: super::connection::merge(parts)?,
        latency: percentiles(&latency),
        corrected: percentiles(&corrected),
        histogram: encode_histogram(&latency),
        corrected_histogram: encode_histogram(&corrected),
    })
}

/// The parts' timelines added second by second; with `offsets` (parts that ran apart), each
/// part's seconds moved to where it ran after the earliest start.
fn merge_timeline(
    reports: &[RunReport],
    offsets: Option<Vec<u64>>,
) -> Result<Vec<TimelineReport>, ReportError> {
    let mut seconds: BTreeMap<u64, (u64, u64, Option<Histogram<u64>>)> = BTreeMap::new();
    let offset = |i: usize| offsets.as_ref().and_then(|o| o.get(i)).copied();
    let points = reports
        .iter()
        .enumerate()
        .flat_map(|(i, r)| r.timeline.iter().map(move |p| (offset(i).unwrap_or(0), p)));
    for (offset, point) in points {
        let entry = seconds.entry(point.second + offset).or_insert((0, 0, None));
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

/// Schema violations added per route, the first five samples kept.
fn merge_schema(reports: &[RunReport]) -> Option<SchemaReport> {
    let mut merged: Option<SchemaReport> = None;
    for s in reports.iter().filter_map(|r| r.schema.as_ref()) {
        let m = merged.get_or_insert_with(|| SchemaReport {
            mode: s.mode.clone(),
            checked: Some(0),
            checked_by_route: Some(BTreeMap::new()),
            ..SchemaReport::default()
        });
        m.violations += s.violations;
        // Known only when every shard counted its checks.
        m.checked = m.checked.zip(s.checked).map(|(a, b)| a + b);
        m.checked_by_route = m
            .checked_by_route
            .take()
            .zip(s.checked_by_route.as_ref())
            .map(|(mut sum, part)| {
                for (route, n) in part {
                    *sum.entry(route.clone()).or_default() += n;
                }
                sum
            });
        for (route, v) in &s.routes {
            let entry = m.routes.entry(route.clone()).or_default();
            entry.count += v.count;
            for sample in &v.samples {
                if entry.samples.len() < 5 && !entry.samples.contains(sample) {
                    entry.samples.push(sample.clone());
                }
            }
        }
    }
    merged
}

/// The sections `section` picks out of the reports, added up with `add`; `None` when no report
/// has one.
fn merge_sections<'a, T: Default + 'a>(
    reports: &'a [RunReport],
    section: impl Fn(&'a RunReport) -> Option<&'a T>,
    add: impl Fn(&mut T, &T),
) -> Option<T> {
    let mut parts = reports.iter().filter_map(section).peekable();
    parts.peek()?;
    let mut sum = T::default();
    parts.for_each(|part| add(&mut sum, part));
    Some(sum)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::metrics::{
        ConnSample, MetricsHub, MetricsLayout, RequestSample, RouteId, StepId, StepInfo, StepSample,
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
            flows: Vec::new(),
        });
        let hub = MetricsHub::new(layout, 2);
        for &v in values {
            hub.record_request(&RequestSample {
                route: RouteId(0),
                step: None,
                status: Some(201),
                failure: None,
                latency_us: v,
                corrected_us: v,
                bytes_sent: v,
                bytes_received: 2 * v,
                throttled: false,
                schema_checked: false,
                // Every tenth request opened a connection.
                connection: Some(ConnSample {
                    opened: v % 10 == 0,
                    connect_us: v / 4,
                    tls_us: Some(v / 2),
                    resumed: v % 20 == 0,
                    first_byte_us: Some(v - 1),
                    pooled: false,
                }),
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
        // Each report its own run: a distinct start time (the same run twice does not merge).
        static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut meta = crate::report::build_sample_meta();
        meta.started_at = format!("2026-01-01T00:{:02}:{:02}Z", n / 60 % 60, n % 60);
        build(&hub.finish(Duration::from_secs(2)), meta, None)
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
        // Body bytes add up like counts.
        let sent: u64 = all.iter().sum();
        assert_eq!(single.routes[0].bytes_sent, sent);
        assert_eq!(
            (merged.routes[0].bytes_sent, merged.routes[0].bytes_received),
            (sent, 2 * sent)
        );
        assert_eq!(merged.iteration.latency, single.iteration.latency);
        // Connection figures merge exactly too.
        assert!(single.routes[0].connection.is_some());
        assert_eq!(merged.routes[0].connection, single.routes[0].connection);
        assert_eq!(merged.totals.requests, 8000);
        assert_eq!(merged.steps[0].count, 8000);
        assert_eq!(merged.status_codes["201"], 8000);
        assert_eq!(merged.meta.merged_from, ["a.json", "b.json"]);
        // The versions any shard spoke, once each, in order.
        use crate::report::HttpProtocol::{Http1, Http2};
        let (mut a2, mut b1) = (run(&a), run(&b));
        a2.meta.http_versions = vec![Http2];
        b1.meta.http_versions = vec![Http1, Http2];
        let both = merge(&[a2, b1], &[]).unwrap();
        assert_eq!(both.meta.http_versions, [Http1, Http2]);
        let t: u64 = merged.timeline.iter().map(|p| p.requests).sum();
        assert_eq!(t, 8000);
        // And the merged report is still a valid report.
        let schema: serde_json::Value = serde_json::from_str(crate::report::SCHEMA_JSON).unwrap();
        let v = jsonschema::validator_for(&schema).unwrap();
        assert!(v.is_valid(&serde_json::to_value(&merged).unwrap()));
    }

    fn shard(k: u32, n: u32, seed: u64) -> RunReport {
        let mut r = run(&[1, 2, 3]);
        r.meta.shard = Some(format!("{k}/{n}"));
        r.meta.seed = Some(seed);
        r
    }

    fn rejected(reports: &[RunReport]) -> String {
        let names: Vec<String> = (1..=reports.len()).map(|i| format!("s{i}.json")).collect();
        merge(reports, &names).unwrap_err().to_string()
    }

    #[test]
    fn merged_reports_without_a_started_count_do_not_add_a_false_zero() {
        let read = |text: &str| RunReport::from_json(text.as_bytes()).expect("v1 reads");
        let one = read(include_str!(
            "../../tests/fixtures/report-v1-shard1of2.json"
        ));
        let two = read(include_str!(
            "../../tests/fixtures/report-v1-shard2of2.json"
        ));
        let merged = merge(&[one, two], &[]).expect("merges");
        assert_eq!(merged.totals.iterations, 12);
        assert_eq!(merged.totals.iterations_started, 12);
        // A version-2 report written before the count existed reads it as 0.
        let mut old = shard(1, 2, 7);
        old.totals.iterations = 5;
        old.totals.iterations_started = 0;
        let whole = merge(&[old, shard(2, 2, 7)], &[]).expect("merges");
        assert_eq!(
            whole.totals.iterations_started,
            5 + shard(2, 2, 7).totals.started()
        );
    }

    #[test]
    fn a_shard_set_with_a_duplicate_a_gap_or_a_mismatch_is_rejected_by_name() {
        let e = rejected(&[shard(1, 2, 7), shard(1, 2, 7)]);
        assert!(
            e.contains("duplicate shard 1/2: s1.json and s2.json"),
            "{e}"
        );
        let e = rejected(&[shard(1, 3, 7), shard(3, 3, 7)]);
        assert!(
            e.contains("shard 2/3 missing (s1.json is shard 1/3, s2.json is shard 3/3;"),
            "{e}"
        );
        let e = rejected(&[shard(1, 2, 7), shard(2, 3, 7)]);
        assert!(e.contains("mismatched shard counts"), "{e}");
        let e = rejected(&[shard(1, 2, 7), shard(2, 2, 8)]);
        assert!(e.contains("seed 7") && e.contains("seed 8"), "{e}");
        let e = rejected(&[shard(1, 2, 7), run(&[4])]);
        assert!(
            e.contains("unsharded ones (s1.json is shard 1/2, s2.json is unsharded)"),
            "{e}"
        );
        let once = run(&[4]);
        let e = rejected(&[once.clone(), once]);
        assert!(e.contains("same run"), "{e}");
        let mut other = shard(2, 2, 7);
        other.thresholds = vec![crate::report::ThresholdDef {
            threshold: "errors.rate < 1%".to_owned(),
            ..Default::default()
        }];
        let e = rejected(&[shard(1, 2, 7), other]);
        assert!(e.contains("different thresholds"), "{e}");
        assert!(merge(&[shard(2, 2, 7), shard(1, 2, 7)], &[]).is_ok());
    }

    // See: audit 2 finding 5 — shards run with `--iterations 30` / `--vus 9` merged with
    // exit 0 into a report whose `meta.load` contradicted its totals.
    #[test]
    fn shards_that_ran_different_load_plans_are_rejected_naming_the_fields() {
        let planned = |k: u32, vus: u32, iterations: u64| {
            let mut r = shard(k, 3, 7);
            r.meta.load = crate::report::LoadProfile {
                vus: Some(vus),
                iterations: Some(iterations),
                shard: Some(format!("{k}/3")),
                shard_share: Some(crate::report::ShardShare {
                    vus: Some(u64::from(vus / 3 + u32::from(k == 1))),
                    ..crate::report::ShardShare::default()
                }),
                request_timeout_secs: Some(30.0),
                ..crate::report::LoadProfile::default()
            };
            r
        };
        let e = rejected(&[planned(1, 5, 7), planned(2, 5, 30), planned(3, 9, 7)]);
        assert!(
            e.contains("s1.json and s2.json differ in meta.load: iterations 7 vs 30;"),
            "{e}"
        );
        let e = rejected(&[planned(1, 5, 7), planned(2, 5, 7), planned(3, 9, 7)]);
        assert!(
            e.contains("s1.json and s3.json differ in meta.load: vus 5 vs 9;"),
            "{e}"
        );
        // Each shard's own name and share differ by design: they merge, into no share.
        let merged =
            merge(&[planned(1, 5, 7), planned(2, 5, 7), planned(3, 5, 7)], &[]).expect("one plan");
        assert_eq!(merged.meta.load.shard, None);
        assert_eq!(merged.meta.load.shard_share, None);
        assert_eq!(merged.meta.load.iterations, Some(7));
    }

    #[test]
    fn failure_samples_keep_the_first_five_across_shards_and_add_up_the_counts() {
        use crate::report::{FailureSample, FailureSamples};
        let entry = |vu: u64, count: u64, kept: u64| FailureSamples {
            step: "create_chat".into(),
            flow: Some("f".into()),
            kind: "status".into(),
            count,
            more: count - kept,
            samples: (0..kept)
                .map(|iteration| FailureSample {
                    check: "status in [201]".into(),
                    vu,
                    iteration,
                    ..FailureSample::default()
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

    /// A shard whose generator lagged `lags` µs, its histogram stored or not.
    fn lagged(k: u32, lags: &[u64], stored: bool) -> RunReport {
        let mut r = shard(k, 2, 7);
        let mut h = new_latency_histogram();
        lags.iter().for_each(|&v| h.record(v).expect("in range"));
        r.totals.scheduling_lag = Some(percentiles(&h));
        r.totals.scheduling_lag_histogram = stored.then(|| encode_histogram(&h));
        r
    }

    /// The merged lag was the worst shard's, whole (min 1000 µs where shard
    /// 1 lagged 100 µs): now every arrival's, from the shards' histograms.
    #[test]
    fn scheduling_lags_merge_exactly_and_older_shards_give_the_worst() {
        let names = ["s1.json".to_owned(), "s2.json".to_owned()];
        let fast: Vec<u64> = (1..=30).map(|i| i * 100).collect();
        let slow: Vec<u64> = (1..=10).map(|i| 1_000 + i * 1_000).collect();
        let merged =
            merge(&[lagged(1, &fast, true), lagged(2, &slow, true)], &names).expect("merges");
        let lag = merged.totals.scheduling_lag.expect("lag");
        let mut all = new_latency_histogram();
        fast.iter()
            .chain(&slow)
            .for_each(|&v| all.record(v).expect("in range"));
        assert_eq!(lag, percentiles(&all));
        assert_eq!((lag.min_us, lag.p50_us), (100, all.value_at_quantile(0.5)));
        let stored = merged.totals.scheduling_lag_histogram.expect("stored");
        assert_eq!(decode_histogram(&stored).expect("decodes").len(), 40);
        // A shard written before the histogram was stored: the worst shard's
        // percentiles, and no histogram that would claim to be every arrival's.
        let old =
            merge(&[lagged(1, &fast, false), lagged(2, &slow, true)], &names).expect("merges");
        assert_eq!(old.totals.scheduling_lag.expect("lag").min_us, 2_000);
        assert_eq!(old.totals.scheduling_lag_histogram, None);
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

    #[test]
    fn reports_run_with_different_schema_modes_are_rejected_by_name() {
        let mut off = shard(2, 2, 7);
        off.schema = Some(SchemaReport {
            mode: "off".into(),
            ..SchemaReport::default()
        });
        let mut all = shard(1, 2, 7);
        all.schema = Some(SchemaReport {
            mode: "all".into(),
            ..SchemaReport::default()
        });
        let e = rejected(&[all.clone(), off]);
        assert!(
            e.contains("s1.json was run with --schema all and s2.json with --schema off"),
            "{e}"
        );
        assert!(
            merge(&[all, shard(2, 2, 7)], &[]).is_ok(),
            "the same mode merges"
        );
    }

    #[test]
    fn checked_responses_add_up_and_stay_unknown_if_a_shard_did_not_count_them() {
        let with = |checked| {
            let mut r = run(&[1, 2, 3]);
            r.schema = Some(SchemaReport {
                mode: "all".into(),
                checked,
                ..SchemaReport::default()
            });
            r
        };
        let schema = |reports: &[RunReport]| merge_schema(reports).expect("a section");
        assert_eq!(schema(&[with(Some(3)), with(Some(4))]).checked, Some(7));
        assert_eq!(schema(&[with(Some(3)), with(None)]).checked, None);
        assert_eq!(schema(&[with(Some(0)), with(Some(0))]).checked, Some(0));
    }

    // See: audit 2026-12-07 (measure.md #1). A shard's rate counts what it
    // sent during its load phase, which can be fewer than its `count` (what
    // the drain sent): the merged rate adds those, not the counts.
    #[test]
    fn merged_rates_add_what_each_shard_sent_during_its_load_phase() {
        let shard = |load_secs: f64, in_load: f64| {
            let mut r = run(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
            r.meta.load_secs = load_secs;
            for s in r.steps.iter_mut().chain(&mut r.routes) {
                s.rps = in_load / load_secs;
            }
            r.iteration.rps = in_load / load_secs;
            r.totals.requests_per_sec = in_load / load_secs;
            r
        };
        // 6 of 10 sent in 2 s, 8 of 10 sent in 4 s: 14 over the longest load phase.
        let merged = merge(&[shard(2.0, 6.0), shard(4.0, 8.0)], &[]).unwrap();
        assert_eq!(merged.meta.load_secs, 4.0);
        assert_eq!(merged.totals.requests, 20);
        for rate in [
            merged.totals.requests_per_sec,
            merged.steps[0].rps,
            merged.routes[0].rps,
            merged.iteration.rps,
        ] {
            assert!((rate - 14.0 / 4.0).abs() < 1e-9, "{rate}");
        }
    }

    /// A run of two flows: `chat` iterations take `values`, `browse` ones 1 ms.
    fn two_flow_run(values: &[u64]) -> RunReport {
        let layout = Arc::new(MetricsLayout {
            flows: vec!["chat".into(), "browse".into()],
            ..MetricsLayout::default()
        });
        let hub = MetricsHub::new(layout, 2);
        for &v in values {
            hub.record_flow_iteration(Some(crate::metrics::FlowId(0)), true, v, v);
            hub.record_flow_iteration(Some(crate::metrics::FlowId(1)), v % 7 != 0, 1_000, 1_000);
        }
        // Each report its own run (the same run twice does not merge).
        let mut meta = crate::report::build_sample_meta();
        meta.started_at = format!("2026-02-01T00:00:{:02}Z", values.len() % 60);
        build(&hub.finish(Duration::from_secs(2)), meta, None)
    }

    #[test]
    fn flow_iterations_merge_exactly() {
        let a: Vec<u64> = (1..=2000).map(|i| 300_000 + i * 37).collect();
        let b: Vec<u64> = (1..=1500).map(|i| 350_000 + i * 91).collect();
        let all: Vec<u64> = a.iter().chain(&b).copied().collect();
        let merged = merge(
            &[two_flow_run(&a), two_flow_run(&b)],
            &["a.json".into(), "b.json".into()],
        )
        .unwrap();
        let single = two_flow_run(&all);
        assert_eq!(merged.flow_iterations.len(), 2);
        for (m, s) in merged.flow_iterations.iter().zip(&single.flow_iterations) {
            assert_eq!(
                (&m.name, m.count, m.errors, m.latency),
                (&s.name, s.count, s.errors, s.latency)
            );
        }
        assert_eq!(merged.iteration.latency, single.iteration.latency);
    }

    /// The merged run starts when its earliest part did and ends when its
    /// latest did, whatever order the parts are given in and however each
    /// spells its time (with or without milliseconds, another UTC offset).
    #[test]
    fn the_merged_run_spans_its_parts_whatever_their_order_and_spelling() {
        let at = |started: &str, ended: &str| {
            let mut r = run(&[1, 2, 3]);
            r.meta.started_at = started.to_owned();
            r.meta.ended_at = ended.to_owned();
            r
        };
        let span = |parts: Vec<RunReport>| {
            let m = merge(&parts, &[]).unwrap().meta;
            (m.started_at, m.ended_at)
        };
        let early = || at("2026-01-01T10:00:00.000Z", "2026-01-01T10:05:00.000Z");
        let late = || at("2026-01-01T10:00:30.000Z", "2026-01-01T10:05:30.000Z");
        let want = (
            "2026-01-01T10:00:00.000Z".to_owned(),
            "2026-01-01T10:05:30.000Z".to_owned(),
        );
        assert_eq!(span(vec![late(), early()]), want);
        assert_eq!(span(vec![early(), late()]), want);
        // 10:00:00 is before 10:00:00.5, and 11:00:30+01:00 is 10:00:30Z.
        let plain = at("2026-01-01T10:00:00Z", "2026-01-01T10:04:00Z");
        let half = at("2026-01-01T10:00:00.500Z", "2026-01-01T10:04:00.500Z");
        assert_eq!(
            span(vec![half, plain]),
            (
                "2026-01-01T10:00:00Z".to_owned(),
                "2026-01-01T10:04:00.500Z".to_owned()
            )
        );
        let offset = at("2026-01-01T11:00:30+01:00", "2026-01-01T11:06:00+01:00");
        assert_eq!(
            span(vec![offset, early()]),
            (
                "2026-01-01T10:00:00.000Z".to_owned(),
                "2026-01-01T11:06:00+01:00".to_owned()
            )
        );
    }
}
