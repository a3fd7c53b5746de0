//! [`check_set`]: whether a set of reports may be merged into one run. One scenario, one set
//! of thresholds, and either every shard of one run exactly once (same seed, same shard
//! count, no duplicate, no gap) or only unsharded runs, none of them twice.

use std::collections::BTreeMap;

use super::RunReport;
use crate::report::ThresholdDef;

/// The name of report `i` in messages.
fn name(sources: &[String], i: usize) -> String {
    sources
        .get(i)
        .cloned()
        .unwrap_or_else(|| format!("report {}", i + 1))
}

/// `"2/3"` as (2, 3).
fn shard_of(r: &RunReport) -> Option<Result<(u32, u32), String>> {
    let text = r.meta.shard.as_deref()?;
    let parsed = text
        .split_once('/')
        .and_then(|(k, n)| Some((k.trim().parse().ok()?, n.trim().parse().ok()?)))
        .filter(|&(k, n)| k >= 1 && k <= n);
    Some(parsed.ok_or_else(|| format!("shard `{text}` is not K/N")))
}

/// Whether `reports` may be merged into one run, naming the problem if not.
///
/// # Errors
/// Different scenarios, thresholds, `--schema` modes or connection policies; sharded and
/// unsharded reports mixed;
/// shards with different seeds, shard counts or load plans, a shard twice, or a shard
/// missing; unsharded runs of different load plans, or the same one twice.
pub fn check_set(reports: &[RunReport], sources: &[String]) -> Result<(), String> {
    let Some(first) = reports.first() else {
        return Err("no report to merge".to_owned());
    };
    for (i, r) in reports.iter().enumerate().skip(1) {
        if r.meta.scenario != first.meta.scenario {
            return Err(format!(
                "cannot merge reports of different scenarios (`{}` in {}, `{}` in {})",
                first.meta.scenario,
                name(sources, 0),
                r.meta.scenario,
                name(sources, i)
            ));
        }
        // Which threshold stopped a part is its own business, not a different definition.
        let same = |a: &[ThresholdDef], b: &[ThresholdDef]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_definition(y))
        };
        if !same(&r.thresholds, &first.thresholds) {
            return Err(format!(
                "{} and {} were run with different thresholds; the merged run could not be judged",
                name(sources, 0),
                name(sources, i)
            ));
        }
        let mode = |r: &RunReport| {
            r.schema
                .as_ref()
                .map_or("all", |s| s.mode.as_str())
                .to_owned()
        };
        if mode(r) != mode(first) {
            return Err(format!(
                "{} was run with --schema {} and {} with --schema {}; the merged schema \
                 violations would mix checked and unchecked responses: run every part with \
                 the same --schema",
                name(sources, 0),
                mode(first),
                name(sources, i),
                mode(r)
            ));
        }
        check_connection(first, r, sources, i)?;
    }
    let shards: Vec<Option<(u32, u32)>> = reports
        .iter()
        .map(|r| shard_of(r).transpose())
        .collect::<Result<_, _>>()?;
    match (shards.iter().flatten().count(), reports.len()) {
        (0, _) => {
            check_load_plans(reports, sources, "runs side by side")?;
            check_repeats(reports, sources)
        }
        (n, total) if n == total => check_shards(reports, sources, &shards),
        _ => Err(format!(
            "cannot merge shard reports with unsharded ones ({}): merge the shards of one run, \
             or whole runs side by side",
            which_shards(sources, &shards)
        )),
    }
}

/// Report `i` was run with the connection policy of the first one (`--connection`,
/// `--vus-per-connection`): the merged report has one `meta.connection`, and new and reused
/// connections of different policies added up are not one run's figures.
fn check_connection(
    first: &RunReport,
    r: &RunReport,
    sources: &[String],
    i: usize,
) -> Result<(), String> {
    if r.meta.connection == first.meta.connection {
        return Ok(());
    }
    let policy = |r: &RunReport| match &r.meta.connection {
        Some(c) => {
            let per = c
                .vus_per_connection
                .map(|n| format!(" --vus-per-connection {n}"))
                .unwrap_or_default();
            format!("--connection {}{per}", c.policy)
        }
        None => "no recorded connection policy".to_owned(),
    };
    Err(format!(
        "{} was run with {} and {} with {}; the merged connection figures would mix \
         policies under one label: run every part with the same --connection",
        name(sources, 0),
        policy(first),
        name(sources, i),
        policy(r)
    ))
}

/// Each report named with its shard: `a.json is shard 1/2, b.json is unsharded`.
fn which_shards(sources: &[String], shards: &[Option<(u32, u32)>]) -> String {
    shards
        .iter()
        .enumerate()
        .map(|(i, shard)| match shard {
            Some((k, n)) => format!("{} is shard {k}/{n}", name(sources, i)),
            None => format!("{} is unsharded", name(sources, i)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_shards(
    reports: &[RunReport],
    sources: &[String],
    shards: &[Option<(u32, u32)>],
) -> Result<(), String> {
    let seed = reports[0].meta.seed;
    if let Some(i) = reports.iter().position(|r| r.meta.seed != seed) {
        let shown = |seed: Option<u64>| seed.map_or_else(|| "none".to_owned(), |s| s.to_string());
        return Err(format!(
            "shards of one run share a seed, but {} has seed {} and {} has seed {}: \
             run every shard with the same --seed",
            name(sources, 0),
            shown(seed),
            name(sources, i),
            shown(reports[i].meta.seed)
        ));
    }
    check_load_plans(reports, sources, "shards of one run")?;
    let count = shards[0].map_or(0, |s| s.1);
    let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
    for (i, (k, n)) in shards.iter().flatten().enumerate() {
        if *n != count {
            return Err(format!(
                "mismatched shard counts: {} is shard {}/{count}, {} is shard {k}/{n}",
                name(sources, 0),
                shards[0].map_or(0, |s| s.0),
                name(sources, i)
            ));
        }
        if let Some(j) = seen.insert(*k, i) {
            return Err(format!(
                "duplicate shard {k}/{n}: {} and {}",
                name(sources, j),
                name(sources, i)
            ));
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|k| !seen.contains_key(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "incomplete shard set: shard {} missing ({}; merge every shard of the run)",
            missing.join(", "),
            which_shards(sources, shards)
        ))
    }
}

/// Shards of one run ran one load plan (`meta.load` without the shard's own name and share),
/// and so did runs side by side (whose merged `meta.load` is each one's plan): a part run
/// with other overrides (`--vus`, `--iterations`, `--rate`, ...) would make the merged
/// totals contradict the merged plan. `parts` names them in the message.
fn check_load_plans(reports: &[RunReport], sources: &[String], parts: &str) -> Result<(), String> {
    let plan = |r: &RunReport| serde_json::to_value(r.meta.load.plan()).unwrap_or_default();
    let first = plan(&reports[0]);
    for (i, r) in reports.iter().enumerate().skip(1) {
        let other = plan(r);
        if other == first {
            continue;
        }
        let (a, b) = (first.as_object(), other.as_object());
        let mut fields: Vec<&String> = a.into_iter().chain(b).flat_map(|o| o.keys()).collect();
        fields.sort_unstable();
        fields.dedup();
        let shown = |v: Option<&serde_json::Value>| {
            v.map_or_else(|| "none".to_owned(), ToString::to_string)
        };
        let differ: Vec<String> = fields
            .into_iter()
            .filter_map(|f| {
                let (x, y) = (a.and_then(|o| o.get(f)), b.and_then(|o| o.get(f)));
                (x != y).then(|| format!("{f} {} vs {}", shown(x), shown(y)))
            })
            .collect();
        return Err(format!(
            "{parts} share a load plan, but {} and {} differ in meta.load: {}; run \
             every part with the same scenario and the same --vus, --rate, --duration and \
             --iterations",
            name(sources, 0),
            name(sources, i),
            differ.join(", ")
        ));
    }
    Ok(())
}

/// Unsharded runs merge as runs side by side; the same run twice does not.
fn check_repeats(reports: &[RunReport], sources: &[String]) -> Result<(), String> {
    for (i, r) in reports.iter().enumerate() {
        if let Some(j) = reports[..i].iter().position(|o| {
            o.meta.seed == r.meta.seed
                && super::span::same_instant(&o.meta.started_at, &r.meta.started_at)
        }) {
            return Err(format!(
                "{} and {} are the same run (same seed and start time)",
                name(sources, j),
                name(sources, i)
            ));
        }
    }
    Ok(())
}
