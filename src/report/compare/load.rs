//! How the two runs' loads differ, in words: "vus 4 vs 8", "new is shard
//! 1/3 of the run: 2 of 4 VUs, 14 of 40 iterations", "new is merged from 2
//! reports (...)": latencies under different loads are not like for like.

use crate::report::{LoadModel, LoadProfile, RunMeta, ShardShare};
use crate::text::format_secs_rounded;

/// A plan setting as read: a number, "none" when unset.
fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "none".to_owned(), format_secs_rounded)
}

/// One plan setting: its name and how to read it.
type Setting = (&'static str, fn(&LoadProfile) -> String);

/// The settings of the two plans that differ, each "name base vs new".
fn plan_differences(base: &LoadProfile, new: &LoadProfile) -> Vec<String> {
    fn model(l: &LoadProfile) -> String {
        match l.model {
            LoadModel::Closed => "closed",
            LoadModel::Open => "open",
        }
        .to_owned()
    }
    fn stages(l: &LoadProfile) -> String {
        if l.stages.is_empty() {
            return "none".to_owned();
        }
        let list: Vec<String> = (l.stages.iter())
            .map(|s| format!("{} → {}", format_secs_rounded(s.duration_secs), s.target))
            .collect();
        list.join(", ")
    }
    let settings: [Setting; 10] = [
        ("model", model),
        ("vus", |l| opt(l.vus)),
        ("arrival_rate", |l| {
            l.arrival_rate
                .map_or_else(|| "none".to_owned(), |r| format!("{r}/s"))
        }),
        ("max_vus", |l| opt(l.max_vus)),
        ("backlog", |l| opt(l.backlog)),
        ("iterations", |l| opt(l.iterations)),
        ("duration", |l| secs(l.duration_secs)),
        ("stages", stages),
        ("graceful_stop", |l| secs(Some(l.graceful_stop_secs))),
        ("request_timeout", |l| secs(l.request_timeout_secs)),
    ];
    settings
        .iter()
        .filter_map(|(name, read)| {
            let (b, n) = (read(base), read(new));
            (b != n).then(|| format!("{name} {b} vs {n}"))
        })
        .collect()
}

/// "new is shard 1/3 of the run: 2 of 4 VUs, 14 of 40 iterations".
fn shard_words(which: &str, load: &LoadProfile) -> Option<String> {
    let shard = load.shard.as_deref()?;
    let Some(share) = &load.shard_share else {
        return Some(format!(
            "{which} is shard {shard} of the run (its share is not recorded)"
        ));
    };
    let ShardShare {
        vus,
        iterations,
        max_vus,
        backlog,
        ..
    } = share;
    let part = |mine: Option<u64>, whole: Option<u64>, what: &str| {
        mine.map(|m| format!("{m} of {} {what}", opt(whole)))
    };
    let parts: Vec<String> = [
        part(*vus, load.vus.map(u64::from), "VUs"),
        part(*iterations, load.iterations, "iterations"),
        part(
            max_vus.map(u64::from),
            load.max_vus.map(u64::from),
            "max_vus",
        ),
        part(
            backlog.map(u64::from),
            load.backlog.map(u64::from),
            "backlog",
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    Some(if parts.is_empty() {
        format!("{which} is shard {shard} of the run")
    } else {
        format!("{which} is shard {shard} of the run: {}", parts.join(", "))
    })
}

/// "new is 2 runs side by side (a.json, b.json) ...": a merge of whole runs
/// carried that many times its profile's load (a merge of one run's shards
/// carried the profile's load itself, and says nothing here).
fn side_by_side_words(which: &str, meta: &RunMeta) -> Option<String> {
    let runs = meta.load.runs();
    (runs > 1).then(|| {
        format!(
            "{which} is {runs} runs side by side ({}), which together carried {runs} times \
             the load of its profile",
            meta.merged_from.join(", ")
        )
    })
}

/// The warning when the runs' loads differ, in words; `None` when they are alike.
pub(super) fn load_warning(base: &RunMeta, new: &RunMeta) -> Option<String> {
    let mut diffs = plan_differences(&base.load.plan(), &new.load.plan());
    if base.load.shard != new.load.shard || base.load.shard_share != new.load.shard_share {
        diffs.extend(shard_words("base", &base.load));
        diffs.extend(shard_words("new", &new.load));
    }
    if base.load.runs() != new.load.runs() {
        diffs.extend(side_by_side_words("base", base));
        diffs.extend(side_by_side_words("new", new));
    }
    (!diffs.is_empty()).then(|| {
        format!(
            "the reports ran different load profiles ({}): latencies under different loads are \
             not like for like",
            diffs.join("; ")
        )
    })
}
