//! What the merged verdict and summary need of each merged report on its own: its target and
//! how its run ended ([`MergedRun`]), the `abort_on_fail` threshold that stopped one of them,
//! and the refusal of reports that measured a bundled mock and a remote target together.

use crate::report::{MergedRun, RunReport, ThresholdDef};

/// The merged reports' thresholds (one set: `check_set`), each recording that it stopped a
/// run when it stopped any of them (the first one's record): a shard stopped by its
/// `abort_on_fail` threshold did not deliver its part, so the merged run fails on it too.
pub(super) fn merge_thresholds(reports: &[RunReport]) -> Vec<ThresholdDef> {
    let Some(first) = reports.first() else {
        return Vec::new();
    };
    let mut merged = first.thresholds.clone();
    for (i, def) in merged.iter_mut().enumerate() {
        def.stopped_run = reports
            .iter()
            .find_map(|r| r.thresholds.get(i).and_then(|d| d.stopped_run));
    }
    merged
}

/// Each report as a [`MergedRun`], named by `sources` (else `report N`).
pub(super) fn merged_runs(reports: &[RunReport], sources: &[String]) -> Vec<MergedRun> {
    reports
        .iter()
        .enumerate()
        .map(|(i, r)| MergedRun {
            file: source(sources, i),
            shard: r.meta.shard.clone(),
            target: r.meta.target.clone(),
            target_kind: r.meta.target_kind.clone(),
            chatload_version: r.meta.chatload_version.clone(),
            requests: r.totals.requests,
            target_unreachable: r.target_unreachable(),
            interrupted: r.meta.interrupted,
            stopped_by_signal: r.meta.stopped_by_signal,
            cut_off_iterations: r.totals.cut_off_iterations,
            cut_off_requests: r.totals.cut_off_requests,
        })
        .collect()
}

/// Each version of chatload that wrote a part of `reports` (a part merged before counts as
/// its own parts' versions), in order of first appearance, when there are two or more;
/// empty when one wrote them all.
pub(super) fn versions(reports: &[RunReport]) -> Vec<String> {
    let mut versions: Vec<String> = Vec::new();
    for r in reports {
        let own = std::slice::from_ref(&r.meta.chatload_version);
        let each = if r.meta.chatload_versions.is_empty() {
            own
        } else {
            r.meta.chatload_versions.as_slice()
        };
        for v in each {
            if !versions.contains(v) {
                versions.push(v.clone());
            }
        }
    }
    if versions.len() < 2 {
        versions.clear();
    }
    versions
}

fn source(sources: &[String], i: usize) -> String {
    sources
        .get(i)
        .cloned()
        .unwrap_or_else(|| format!("report {}", i + 1))
}

/// Refuses a set in which one report ran against the bundled mock and another against a
/// remote target: the merged figures would mix two systems (each bundled mock is also its
/// own machine's, but a set of those is a test of chatload itself, and merges). Remote
/// targets with different URLs merge (one service, a URL per machine); the summary lists them.
///
/// # Errors
/// The first pair of reports of different kinds, naming both files and targets.
pub(super) fn check_target_kinds(reports: &[RunReport], sources: &[String]) -> Result<(), String> {
    let Some(first) = reports.first() else {
        return Ok(());
    };
    let Some(i) = reports
        .iter()
        .position(|r| r.meta.target_kind != first.meta.target_kind)
    else {
        return Ok(());
    };
    let against = |r: &RunReport| match r.meta.target_kind.as_str() {
        "bundled-mock" => "the bundled mock".to_owned(),
        _ => r.meta.target.clone(),
    };
    let (mock, remote) = if first.meta.target_kind == "bundled-mock" {
        (0, i)
    } else {
        (i, 0)
    };
    Err(format!(
        "{} ran against {} and {} against {} ({}): the merged figures would mix two systems; \
         merge runs of one target",
        source(sources, mock),
        against(&reports[mock]),
        source(sources, remote),
        against(&reports[remote]),
        reports[remote].meta.target_kind
    ))
}

#[cfg(test)]
mod tests {
    use crate::report::build_sample_report;
    use crate::report::merge::merge;

    fn shard(k: u32, target: &str, kind: &str) -> crate::report::RunReport {
        let mut r = build_sample_report();
        r.meta.shard = Some(format!("{k}/2"));
        r.meta.target = target.to_owned();
        r.meta.target_kind = kind.to_owned();
        r
    }

    // See: outside audit 4, F11 — a `remote` shard and a `bundled-mock` one merged without a word.
    #[test]
    fn a_bundled_mock_and_a_remote_target_do_not_merge_and_remote_urls_are_kept_per_shard() {
        let names = ["a.json".to_owned(), "b.json".to_owned()];
        let mock = shard(1, "http://127.0.0.1:4000/v1", "bundled-mock");
        let remote = shard(2, "https://svc/v1", "remote");
        let e = merge(&[mock, remote.clone()], &names)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a.json ran against the bundled mock and b.json against https://svc/v1"),
            "{e}"
        );
        // One service behind a URL per machine merges, each shard's target kept.
        let other = shard(1, "https://svc-eu/v1", "remote");
        let merged = merge(&[other, remote], &names).expect("merges");
        let targets: Vec<(&str, &str)> = merged
            .meta
            .merged_runs
            .iter()
            .map(|r| (r.file.as_str(), r.target.as_str()))
            .collect();
        assert_eq!(
            targets,
            [
                ("a.json", "https://svc-eu/v1"),
                ("b.json", "https://svc/v1")
            ]
        );
        assert!(merged.meta.targets_differ());
        assert!(!merged.meta.merged_runs[1].target_unreachable);
    }

    // See: outside audit 10, F8 — a part of another chatload version merged without a word,
    // the merged report labelled with the first file's version.
    #[test]
    fn parts_of_different_chatload_versions_are_recorded_and_said() {
        let names = [
            "a.json".to_owned(),
            "b.json".to_owned(),
            "c.json".to_owned(),
        ];
        let part = |k: u32, version: &str| {
            let mut r = shard(k, "https://svc/v1", "remote");
            r.meta.shard = Some(format!("{k}/3"));
            r.meta.chatload_version = version.to_owned();
            r
        };
        let merged = merge(
            &[part(1, "0.0.9"), part(2, "0.3.0"), part(3, "0.3.0")],
            &names,
        )
        .expect("merges, with a warning");
        assert_eq!(merged.meta.chatload_versions, ["0.0.9", "0.3.0"]);
        let each: Vec<&str> = merged
            .meta
            .merged_runs
            .iter()
            .map(|r| r.chatload_version.as_str())
            .collect();
        assert_eq!(each, ["0.0.9", "0.3.0", "0.3.0"]);
        let said = crate::report::terminal::render(&merged, false);
        assert!(
            said.contains(
                "versions   the merged parts were written by different chatload versions: \
                 0.0.9 (a.json), 0.3.0 (b.json, c.json)"
            ),
            "{said}"
        );
        // Merged again, a part's versions count; one version is no list.
        let again = merge(&[merged.clone(), merged], &names[..2]);
        assert!(again.is_err(), "the same run twice is refused");
        let same = merge(
            &[part(1, "0.3.0"), part(2, "0.3.0"), part(3, "0.3.0")],
            &names,
        )
        .expect("merges");
        assert!(same.meta.chatload_versions.is_empty());
        assert!(!crate::report::terminal::render(&same, false).contains("versions   "));
        let schema: serde_json::Value = serde_json::from_str(crate::report::SCHEMA_JSON).unwrap();
        let v = jsonschema::validator_for(&schema).unwrap();
        let json = serde_json::to_value(&same).unwrap();
        assert!(v.is_valid(&json), "{:?}", v.iter_errors(&json).next());
    }
}

#[cfg(test)]
mod stopped_tests {
    use crate::report::{ThresholdDef, ThresholdStop, build_sample_report};

    // See: outside audit 10, F1 — a shard its `abort_on_fail` threshold stopped
    // merges with one that ran to its end (same thresholds as written), and
    // the merged report keeps the record, so the merged verdict fails on it.
    #[test]
    fn a_shard_stopped_by_its_threshold_keeps_the_record_in_the_merged_thresholds() {
        let def = ThresholdDef {
            threshold: "errors.rate < 5%".to_owned(),
            abort_on_fail: true,
            ..ThresholdDef::default()
        };
        let mut whole = build_sample_report();
        whole.thresholds = vec![def.clone()];
        let mut stopped = whole.clone();
        let stop = ThresholdStop {
            at_secs: 0.3,
            measured: 0.4,
        };
        stopped.thresholds[0].stopped_run = Some(stop);
        assert!(stopped.thresholds[0].same_definition(&whole.thresholds[0]));
        let merged = super::merge_thresholds(&[whole, stopped]);
        assert_eq!(merged[0].stopped_run, Some(stop));
        assert!(merged[0].same_definition(&def));
    }
}
