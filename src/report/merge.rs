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
mod tests;
