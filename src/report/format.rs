//! What every renderer (terminal, HTML, compare) decides the same way: the rule for when a
//! corrected latency is worth showing and when the tables need a flow column, plus the
//! formatters of [`crate::text`] (re-exported here, so a renderer imports one module). Two
//! renderers cannot disagree on what they show. Pure functions, no I/O.

use super::{HttpProtocol, LoadModel, LoadProfile, Percentiles, RunReport, ShardShare};

pub use crate::text::{
    escape_html, format_bytes, format_percent, format_percent_adaptive, format_rate,
    format_rate_grouped, format_secs, format_secs_rounded, format_signed_percent, format_signed_us,
    format_us, group_thousands,
};

/// The HTTP versions of `meta.http_versions` as one line (`HTTP/1.1, HTTP/2`);
/// `None` when empty (no response arrived, or an older report).
pub fn format_http_versions(versions: &[HttpProtocol]) -> Option<String> {
    let names: Vec<&str> = versions.iter().map(|v| v.as_str()).collect();
    (!names.is_empty()).then(|| names.join(", "))
}

/// Corrected p99 must exceed raw p99 by more than this factor (and by more than
/// [`CORRECTED_MIN_GAP_US`]) before a renderer shows it beside the raw one.
pub const CORRECTED_MIN_RATIO_PERCENT: u64 = 110;
/// Absolute gap, in µs, up to which a corrected/raw difference is noise.
pub const CORRECTED_MIN_GAP_US: u64 = 100;

/// True when the corrected p99 exceeds the raw p99 by more than 10% and by more than 100 µs:
/// then the backlog (open model) changed what users saw, and renderers show the corrected
/// figure. One rule for the terminal and the HTML page, so they never disagree.
pub fn corrected_differs(raw: &Percentiles, corrected: &Percentiles) -> bool {
    // Integer arithmetic: `raw * 1.10` in floating point lands on either side of the boundary.
    let (raw, corrected) = (u128::from(raw.p99_us), u128::from(corrected.p99_us));
    corrected * 100 > raw * u128::from(CORRECTED_MIN_RATIO_PERCENT)
        && corrected > raw + u128::from(CORRECTED_MIN_GAP_US)
}

/// True when the step and iteration tables need a flow column: the steps belong to two flows or
/// more, or the report has per-flow iteration rows (only with two flows or more).
pub fn shows_flow_column(report: &RunReport) -> bool {
    let mut flows = report.steps.iter().filter_map(|s| s.flow.as_deref());
    let first = flows.next();
    report.flow_iterations.len() > 1 || flows.any(|f| Some(f) != first)
}

/// One line describing `meta.load` ("closed model · 10 VUs · for 8 s · graceful stop 5 s"), the
/// same in the terminal summary and the HTML report; a shard's line ends with its own share,
/// and runs merged side by side start with how many ("2 runs side by side, each: closed
/// model · ...").
pub fn describe_load(load: &LoadProfile) -> String {
    let open = load.model == LoadModel::Open;
    let model = if open { "open model" } else { "closed model" };
    let mut parts = vec![match load.runs_side_by_side {
        Some(n) if n > 1 => format!("{n} runs side by side, each: {model}"),
        _ => model.to_owned(),
    }];
    // With stages, `vus` and `arrival_rate` are where the ramp starts.
    let from = if load.stages.is_empty() { "" } else { "from " };
    if let Some(v) = load.vus {
        parts.push(format!("{from}{}", vus(u64::from(v))));
    }
    if let Some(v) = load.arrival_rate {
        parts.push(format!("{from}{} arrivals/s", trim_number(v)));
    }
    if let Some(v) = load.max_vus {
        parts.push(format!("max {}", vus(u64::from(v))));
    }
    if let Some(v) = load.iterations {
        parts.push(iterations(v));
    }
    if let Some(v) = load.duration_secs {
        parts.push(format!("for {}", format_secs_rounded(v)));
    }
    if !load.stages.is_empty() {
        let target_unit = if open { "/s" } else { " VUs" };
        let list: Vec<String> = load
            .stages
            .iter()
            .map(|s| {
                format!(
                    "{} → {}{target_unit}",
                    format_secs_rounded(s.duration_secs),
                    trim_number(s.target)
                )
            })
            .collect();
        parts.push(format!("stages: {}", list.join(", ")));
    }
    if let Some(v) = load.backlog {
        parts.push(format!("backlog {v}"));
    }
    parts.push(format!(
        "graceful stop {}",
        format_secs_rounded(load.graceful_stop_secs)
    ));
    if let Some(v) = load.request_timeout_secs {
        parts.push(format!("request timeout {}", format_secs_rounded(v)));
    }
    if let Some(shard) = &load.shard {
        parts.push(match &load.shard_share {
            Some(share) => format!("shard {shard}: {}", describe_share(share)),
            None => format!("shard {shard}"),
        });
    }
    parts.join(" · ")
}

/// The seed of a run, as the HTML report shows it: `7`; for runs merged side by side each
/// run's (`1, 9 (one per run)`), or the one they shared (`7 (every run)`).
pub fn describe_seed(seed: Option<u64>, seeds: &[u64]) -> String {
    match (seed, seeds) {
        (Some(seed), []) => seed.to_string(),
        (Some(seed), _) => format!("{seed} (every run)"),
        (None, []) => "–".to_owned(),
        (None, seeds) => {
            let each: Vec<String> = seeds.iter().map(u64::to_string).collect();
            format!("{} (one per run)", each.join(", "))
        }
    }
}

/// What a merged report whose parts did not run at the same time (`meta.ran_apart`) says of
/// its rates, in the terminal, the HTML report and on `merge`'s stderr; `None` otherwise.
pub fn describe_apart(meta: &super::RunMeta) -> Option<String> {
    meta.ran_apart.then(|| {
        format!(
            "the merged parts did not run at the same time: the duration is the whole span \
             from the earliest start to the latest end ({}), and every rate is averaged over \
             it, not a load the target saw at once",
            crate::text::format_secs_rounded(meta.duration_secs)
        )
    })
}

/// What a merged report whose parts were written by different chatload versions
/// (`meta.chatload_versions`) says of them, each version with the files it wrote where
/// `merged_runs` records them: `0.0.9 (a.json), 0.3.0 (b.json, c.json)`; `None` otherwise.
pub fn describe_versions(meta: &super::RunMeta) -> Option<String> {
    if meta.chatload_versions.is_empty() {
        return None;
    }
    let each: Vec<String> = meta
        .chatload_versions
        .iter()
        .map(|v| {
            let files: Vec<&str> = meta
                .merged_runs
                .iter()
                .filter(|r| &r.chatload_version == v)
                .map(|r| r.file.as_str())
                .collect();
            if files.is_empty() {
                v.clone()
            } else {
                format!("{v} ({})", files.join(", "))
            }
        })
        .collect();
    Some(format!(
        "the merged parts were written by different chatload versions: {}; their figures \
         may not be like for like",
        each.join(", ")
    ))
}

/// What one shard ran of the plan: "2 VUs (at most 2 at once), 3 iterations".
fn describe_share(share: &ShardShare) -> String {
    let mut parts = Vec::new();
    if let Some(v) = share.vus {
        let peak = share
            .peak_vus
            .filter(|p| u64::from(*p) != v)
            .map(|p| format!(" (at most {p} at once)"))
            .unwrap_or_default();
        parts.push(format!("{}{peak}", vus(v)));
    }
    if let Some(v) = share.iterations {
        parts.push(iterations(v));
    }
    if let Some(v) = share.max_vus {
        parts.push(format!("max {}", vus(u64::from(v))));
    }
    if let Some(v) = share.backlog {
        parts.push(format!("backlog {v}"));
    }
    if parts.is_empty() {
        "its share".to_owned()
    } else {
        parts.join(", ")
    }
}

/// "1 VU", "5 VUs".
fn vus(n: u64) -> String {
    if n == 1 {
        "1 VU".to_owned()
    } else {
        format!("{n} VUs")
    }
}

/// "1 iteration", "7 iterations".
fn iterations(n: u64) -> String {
    if n == 1 {
        "1 iteration".to_owned()
    } else {
        format!("{n} iterations")
    }
}

/// A plan number without trailing zeros: "50", "0.5", "33.333".
fn trim_number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p99(us: u64) -> Percentiles {
        Percentiles {
            p99_us: us,
            ..Percentiles::default()
        }
    }

    /// The terminal showed a corrected p99 exactly 100 µs above the raw one, the HTML page did
    /// not: both now follow the documented rule, "more than 10% and more than 100 µs".
    #[test]
    fn corrected_differs_needs_more_than_ten_percent_and_more_than_100_us() {
        // 100 µs and 20% above: the gap is not more than 100 µs.
        assert!(!corrected_differs(&p99(500), &p99(600)));
        assert!(corrected_differs(&p99(500), &p99(601)));
        // 200 µs and exactly 10% above: the ratio is not more than 10%.
        assert!(!corrected_differs(&p99(2_000), &p99(2_200)));
        assert!(corrected_differs(&p99(2_000), &p99(2_201)));
        // Equal, lower, or empty: nothing to show.
        assert!(!corrected_differs(&p99(2_000), &p99(2_000)));
        assert!(!corrected_differs(&p99(2_000), &p99(1_000)));
        assert!(!corrected_differs(&p99(0), &p99(100)));
        assert!(corrected_differs(&p99(0), &p99(101)));
        assert!(corrected_differs(&p99(u64::MAX / 2), &p99(u64::MAX)));
    }
}
