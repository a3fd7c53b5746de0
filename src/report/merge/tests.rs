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
        "../../../tests/fixtures/report-v1-shard1of2.json"
    ));
    let two = read(include_str!(
        "../../../tests/fixtures/report-v1-shard2of2.json"
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
    let merged = merge(&[lagged(1, &fast, true), lagged(2, &slow, true)], &names).expect("merges");
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
    let old = merge(&[lagged(1, &fast, false), lagged(2, &slow, true)], &names).expect("merges");
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
