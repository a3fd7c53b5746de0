//! What a merged report of runs side by side says of itself: how many whole runs it holds
//! (`meta.load.runs_side_by_side`, so its load line reads "2 runs side by side, each: ...")
//! and each one's seed (`meta.seeds`; `meta.seed` only when they shared one). Without it the
//! load line described one run under a plan line of all of them, and `meta.seed` was the
//! first run's though the others had their own.

use super::{RunMeta, RunReport};

/// Marks `meta` (merged from `reports`, already checked) as runs side by side when they are
/// unsharded and hold two runs or more; a set of shards is one run and stays unmarked.
pub(super) fn mark(meta: &mut RunMeta, reports: &[RunReport]) {
    if reports.iter().any(|r| r.meta.shard.is_some()) {
        return;
    }
    // A report merged before counts as its runs.
    let runs: u32 = reports.iter().map(|r| r.meta.load.runs()).sum();
    if runs < 2 {
        return;
    }
    let seeds: Vec<u64> = reports
        .iter()
        .flat_map(|r| {
            if r.meta.seeds.is_empty() {
                r.meta.seed.into_iter().collect()
            } else {
                r.meta.seeds.clone()
            }
        })
        .collect();
    meta.load.runs_side_by_side = Some(runs);
    meta.seed = seeds
        .first()
        .copied()
        .filter(|first| seeds.len() == runs as usize && seeds.iter().all(|s| s == first));
    meta.seeds = seeds;
}

#[cfg(test)]
mod tests {
    use super::super::merge;
    use super::*;
    use crate::report::build_sample_report;
    use crate::report::connection::ConnectionMeta;
    use crate::report::format::{describe_load, describe_seed};

    /// The sample report as an unsharded run started at second `n` with `seed`.
    fn run(n: u32, seed: u64) -> RunReport {
        let mut r = build_sample_report();
        r.meta.started_at = format!("2026-01-01T00:00:{n:02}Z");
        r.meta.seed = Some(seed);
        r
    }

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("r{i}.json")).collect()
    }

    // See: audit 4 F8 — two runs of `vus: 4, iterations: 40` merged into a report whose load
    // line said 40 iterations under a plan line of 80, and whose seed was the first run's.
    #[test]
    fn runs_side_by_side_say_how_many_and_each_seed() {
        let merged = merge(&[run(1, 1), run(2, 9)], &names(2)).expect("merges");
        assert_eq!(merged.meta.load.runs_side_by_side, Some(2));
        assert_eq!(
            (merged.meta.seed, merged.meta.seeds.as_slice()),
            (None, &[1, 9][..])
        );
        assert_eq!(
            describe_seed(merged.meta.seed, &merged.meta.seeds),
            "1, 9 (one per run)"
        );
        let line = describe_load(&merged.meta.load);
        assert!(
            line.starts_with("2 runs side by side, each: open model · "),
            "{line}"
        );
        // A shared seed stays `seed`; a merged report counts as its runs when merged again.
        let same = merge(&[run(1, 7), run(2, 7)], &names(2)).expect("merges");
        assert_eq!(
            (same.meta.seed, same.meta.seeds.as_slice()),
            (Some(7), &[7, 7][..])
        );
        let three = merge(&[same, run(3, 8)], &names(2)).expect("merges");
        assert_eq!(three.meta.load.runs_side_by_side, Some(3));
        assert_eq!(
            (three.meta.seed, three.meta.seeds.as_slice()),
            (None, &[7, 7, 8][..])
        );
        // Shards of one run are one run: no count, their one seed.
        let shard = |k: u32| {
            let mut r = run(k, 5);
            r.meta.shard = Some(format!("{k}/2"));
            r
        };
        let whole = merge(&[shard(1), shard(2)], &names(2)).expect("merges");
        assert_eq!(whole.meta.load.runs_side_by_side, None);
        assert_eq!((whole.meta.seed, whole.meta.seeds.len()), (Some(5), 0));
        assert!(describe_load(&whole.meta.load).starts_with("open model"));
        // Each run's plan is the line's: runs of another plan are refused by name.
        let mut other = run(2, 9);
        other.meta.load.max_vus = Some(7);
        let e = merge(&[run(1, 1), other], &names(2))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "runs side by side share a load plan, but r1.json and r2.json differ in \
                 meta.load: max_vus 50 vs 7"
            ),
            "{e}"
        );
        // And the merged report is still a valid one.
        let schema: serde_json::Value = serde_json::from_str(crate::report::SCHEMA_JSON).unwrap();
        let v = jsonschema::validator_for(&schema).unwrap();
        let json = serde_json::to_value(&three).unwrap();
        assert!(v.is_valid(&json), "{:?}", v.iter_errors(&json).next());
    }

    // See: audit 4 F7 — a `new_per_iteration` shard and a `keep_alive` one merged with exit 0
    // into a report labelled with the first file's policy.
    #[test]
    fn parts_run_with_different_connection_policies_are_refused_by_name() {
        let with = |k: u32, policy: &str, per: Option<u32>| {
            let mut r = run(k, 1);
            r.meta.shard = Some(format!("{k}/2"));
            r.meta.connection = Some(ConnectionMeta {
                policy: policy.to_owned(),
                vus_per_connection: per,
            });
            r
        };
        let e = merge(
            &[
                with(1, "new_per_iteration", None),
                with(2, "keep_alive", None),
            ],
            &names(2),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(
                "r1.json was run with --connection new_per_iteration and r2.json with \
                 --connection keep_alive"
            ),
            "{e}"
        );
        let e = merge(
            &[with(1, "http2", Some(4)), with(2, "http2", Some(100))],
            &names(2),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--connection http2 --vus-per-connection 4 and r2.json with --connection http2 --vus-per-connection 100"),
            "{e}"
        );
        // Runs side by side too.
        let (a, mut b) = (run(1, 1), run(2, 2));
        b.meta.connection = Some(ConnectionMeta {
            policy: "keep_alive".to_owned(),
            vus_per_connection: None,
        });
        let e = merge(&[a, b], &names(2)).unwrap_err().to_string();
        assert!(
            e.contains("r1.json was run with no recorded connection policy"),
            "{e}"
        );
        assert!(
            merge(
                &[with(1, "http2", Some(4)), with(2, "http2", Some(4))],
                &names(2)
            )
            .is_ok()
        );
    }

    // See: outside audit 10, F3 — runs 11 minutes apart merged into "180 req/s" (each part's
    // rate added over the longest part's duration) that passed `requests.rate > 100`.
    #[test]
    fn runs_apart_are_rated_over_their_whole_span_and_judged_on_it() {
        let at = |start: &str, end: &str, seed: u64| {
            let mut r = run(0, seed);
            (r.meta.started_at, r.meta.ended_at) = (start.to_owned(), end.to_owned());
            r.thresholds = vec![crate::report::ThresholdDef {
                threshold: "requests.rate > 500".to_owned(),
                ..crate::report::ThresholdDef::default()
            }];
            r
        };
        let first = at("2026-01-01T10:00:00Z", "2026-01-01T10:00:02Z", 1);
        let side = at("2026-01-01T10:00:01Z", "2026-01-01T10:00:03Z", 2);
        let late = at("2026-01-01T10:11:00Z", "2026-01-01T10:11:02Z", 2);
        let each = first.totals.requests_per_sec;
        assert!(each > 250.0, "{each}");
        // Side by side: rates add over the longest part.
        let together = merge(&[first.clone(), side], &names(2)).expect("merges");
        assert!(!together.meta.ran_apart);
        assert!((together.totals.requests_per_sec - 2.0 * each).abs() < 1e-6);
        // Apart: duration and rates over the 662 s from the first start to the last end.
        let merged = merge(&[first, late], &names(2)).expect("merges");
        assert!(merged.meta.ran_apart);
        assert_eq!(
            (merged.meta.duration_secs, merged.meta.load_secs),
            (662.0, 662.0)
        );
        let rate = merged.totals.requests_per_sec;
        assert!((rate - 2.0 * each * 2.0 / 662.0).abs() < 1e-6, "{rate}");
        assert!((merged.steps[0].rps - merged.steps[0].count as f64 / 662.0).abs() < 1.0);
        // Each part's timeline where it ran: the late one 660 s in.
        let last = together.timeline.last().map(|t| t.second + 660);
        assert_eq!(merged.timeline.last().map(|t| t.second), last);
        let verdict = crate::verdict::judge_report(&merged).expect("judged");
        assert!(!verdict.passed, "{verdict:?}");
        let said = crate::report::terminal::render(&merged, false);
        assert!(
            said.contains("NOT SIDE BY SIDE: the merged parts did not run at the same time"),
            "{said}"
        );
        let schema: serde_json::Value = serde_json::from_str(crate::report::SCHEMA_JSON).unwrap();
        let v = jsonschema::validator_for(&schema).unwrap();
        assert!(v.is_valid(&serde_json::to_value(&merged).unwrap()));
    }
}
