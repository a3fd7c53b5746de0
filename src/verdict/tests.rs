//! The verdict rule on hand-built reports: no data, allow_empty, empty
//! populations, runs that sent nothing and runs where everything failed.

use super::*;
use crate::report::build_sample_report;

/// The sample report without its dropped arrival (an accounting failure of its own).
fn sample() -> RunReport {
    let mut report = build_sample_report();
    report.totals.dropped_iterations = 0;
    report
}

fn parse(expr: &str) -> Threshold {
    let steps = [
        "create_user",
        "create_chat",
        "wait_until_active",
        "close_chat",
        "never",
    ];
    threshold::parse(expr, &steps, false).expect("threshold parses")
}

fn allow_empty(expr: &str) -> Threshold {
    Threshold {
        allow_empty: true,
        ..parse(expr)
    }
}

/// The sample report with a step that never ran.
fn with_idle_step() -> RunReport {
    let mut report = sample();
    let mut idle = report.steps[0].clone();
    idle.name = "never".to_owned();
    idle.count = 0;
    idle.errors = 0;
    idle.error_rate = 0.0;
    idle.latency = Percentiles::default();
    report.steps.push(idle);
    report
}

#[test]
fn a_threshold_on_a_step_that_never_ran_is_no_data_and_fails() {
    let report = with_idle_step();
    for expr in ["never.p99 < 1s", "never.errors == 0", "never.count < 10"] {
        let v = judge(&[parse(expr)], &report);
        assert_eq!(v.thresholds[0].status, ThresholdStatus::NoData, "{expr}");
        assert!(!v.thresholds[0].passed);
        assert_eq!(v.thresholds[0].actual, None);
        assert!(!v.passed, "{expr}: {v:?}");
        assert!(v.reasons[0].contains("never ran"), "{:?}", v.reasons);
    }
}

#[test]
fn allow_empty_lets_no_data_pass_but_still_shows_it() {
    let report = with_idle_step();
    let v = judge(&[allow_empty("never.p99 < 1s")], &report);
    assert_eq!(v.thresholds[0].status, ThresholdStatus::NoData);
    assert!(v.thresholds[0].passed);
    assert!(v.thresholds[0].message.contains("allow_empty"));
    // The sample run has failed iterations, but not all: thresholds decide.
    assert!(v.passed, "{v:?}");
    // allow_empty does not excuse a measured value that misses the limit.
    let v = judge(&[allow_empty("create_user.p99 < 1us")], &report);
    assert_eq!(v.thresholds[0].status, ThresholdStatus::Fail);
    assert!(!v.passed);
}

#[test]
fn ratios_over_an_empty_population_are_no_data_not_zero() {
    let mut report = sample();
    report.totals.requests = 0;
    report.totals.errors = 0;
    report.totals.error_rate = 0.0;
    report.totals.iterations = 0;
    report.totals.iteration_errors = 0;
    for s in &mut report.steps {
        s.count = 0;
        s.errors = 0;
    }
    let thresholds: Vec<Threshold> = [
        "errors.rate < 1%",
        "errors.count == 0",
        "iterations.error_rate < 1%",
        "checks.rate == 1",
        "checks.failed == 0",
    ]
    .into_iter()
    .map(parse)
    .collect();
    let v = judge(&thresholds, &report);
    for r in &v.thresholds {
        assert_eq!(r.status, ThresholdStatus::NoData, "{r:?}");
    }
    assert!(!v.passed);
    assert!(
        v.reasons.iter().any(|r| r == "no request was sent"),
        "{v:?}"
    );
}

#[test]
fn a_run_that_sent_nothing_fails_with_or_without_thresholds() {
    let mut report = sample();
    report.steps.clear();
    report.routes.clear();
    report.totals.requests = 0;
    report.totals.errors = 0;
    report.totals.iterations = 0;
    report.totals.iteration_errors = 0;
    let v = judge(&[], &report);
    assert_eq!(v.decided_by, DecidedBy::Steps);
    assert!(!v.passed);
    assert_eq!(v.reasons, ["no request was sent"]);
    assert!(!v.target_unreachable);
    let v = judge(&[allow_empty("requests.count >= 0")], &report);
    assert!(!v.passed, "no request is never a pass: {v:?}");
}

#[test]
fn requests_cut_off_unanswered_are_not_called_unsent_and_the_cut_off_says_why() {
    let mut report = sample();
    report.totals.requests = 0;
    report.totals.cut_off_requests = 2;
    report.totals.cut_off_iterations = 2;
    report.meta.interrupted = true;
    report.meta.stopped_by_signal = true;
    let v = judge(&[parse("errors.rate < 50%")], &report);
    assert!(
        v.reasons.iter().any(|r| r == "no request was answered"),
        "{v:?}"
    );
    assert!(
        v.thresholds[0].message.contains("no request was answered"),
        "{v:?}"
    );
    assert!(
        !v.reasons.iter().any(|r| r.contains("no request was sent")),
        "{v:?}"
    );
    assert!(
        v.reasons
            .iter()
            .any(|r| r.contains("2 requests were sent and never answered when a signal stopped")),
        "{v:?}"
    );
    // Stopped early because nothing connected: the cut-off says so, not graceful_stop.
    report.meta.stopped_by_signal = false;
    report.totals.requests = 8;
    report.errors_by_kind = [("connect".to_owned(), 8)].into();
    let v = judge(&[], &report);
    let cut = v
        .reasons
        .iter()
        .find(|r| r.starts_with("cut_off_iterations"));
    assert!(
        cut.is_some_and(|r| r.contains("because the target was unreachable")),
        "{v:?}"
    );
}

#[test]
fn every_request_failing_to_connect_means_an_unreachable_target() {
    let mut report = sample();
    report
        .request_errors_by_kind
        .insert("connect".to_owned(), report.totals.requests);
    let v = judge(&[], &report);
    assert!(v.target_unreachable);
    assert!(!v.passed);
}

#[test]
fn an_all_failed_run_fails_even_when_thresholds_only_cover_latency() {
    let mut report = sample();
    report.totals.iteration_errors = report.totals.iterations;
    let latency = parse("create_user.p99 < 10s");
    let v = judge(std::slice::from_ref(&latency), &report);
    assert_eq!(v.thresholds[0].status, ThresholdStatus::Pass);
    assert!(!v.passed);
    assert!(v.reasons[0].contains("every iteration failed"), "{v:?}");
    // A threshold on iterations.error_rate says how many may fail.
    let v = judge(&[latency, parse("iterations.error_rate <= 100%")], &report);
    assert!(v.passed, "{v:?}");
}

#[test]
fn without_thresholds_every_step_must_pass_and_failing_ones_are_named() {
    let report = sample();
    let v = judge(&[], &report);
    assert!(!v.passed);
    assert!(
        v.reasons
            .iter()
            .any(|r| r.starts_with("step `create_chat`")),
        "{v:?}"
    );
    assert!(v.reasons.iter().any(|r| r.contains("iteration(s) failed")));
}

#[test]
fn a_stored_threshold_is_judged_like_the_original() {
    let mut report = with_idle_step();
    let original = vec![parse("create_user.p99 < 1s"), allow_empty("never.p99 < 1s")];
    report.thresholds = definitions(&original);
    let again = judge_report(&report).expect("stored thresholds parse");
    assert_eq!(again, judge(&original, &report));
    assert!(again.passed);
}

#[test]
fn undelivered_load_and_a_signal_fail_the_run_with_their_reasons() {
    let mut report = sample();
    report.totals.cut_off_iterations = 2;
    let v = judge(&[parse("create_user.p99 < 10s")], &report);
    assert!(!v.passed);
    assert!(v.reasons[0].starts_with("cut_off_iterations == 0"), "{v:?}");
    let v = judge(&[parse("cut_off_iterations < 5")], &report);
    assert!(v.passed, "{v:?}");
    report.meta.stopped_by_signal = true;
    let v = judge(&[parse("cut_off_iterations < 5")], &report);
    assert!(!v.passed && v.interrupted, "{v:?}");
}

#[test]
fn throttled_thresholds_judge_the_throttle_section_and_lack_of_it_is_no_data() {
    let mut report = sample();
    report.throttle = Some(crate::report::throttle::ThrottleReport {
        policy: "fail".to_owned(),
        throttled: 5,
        rate: 5.0 / report.totals.requests as f64,
        ..Default::default()
    });
    let v = judge(&[parse("throttled.count == 0")], &report);
    assert_eq!(v.thresholds[0].status, ThresholdStatus::Fail);
    assert_eq!(v.thresholds[0].actual, Some(5.0));
    assert!(!v.passed);
    let v = judge(&[parse("throttled.rate < 100%")], &report);
    assert_eq!(v.thresholds[0].status, ThresholdStatus::Pass, "{v:?}");
    // A report without the section (written before it existed) has no data.
    report.throttle = None;
    let v = judge(&[parse("throttled.rate < 1%")], &report);
    assert_eq!(v.thresholds[0].status, ThresholdStatus::NoData);
    assert!(v.thresholds[0].message.contains("throttle"), "{v:?}");
    assert!(!v.passed);
    // No request at all is no data too, section or not.
    report.throttle = Some(Default::default());
    report.totals.requests = 0;
    let v = judge(&[parse("throttled.count == 0")], &report);
    assert_eq!(v.thresholds[0].status, ThresholdStatus::NoData);
    assert!(!v.passed);
}

#[test]
fn abort_on_fail_watches_throttling_while_the_run_goes_on() {
    let watch = |expr: &str| threshold::parse(expr, &[], true).expect("whole-run threshold");
    let thresholds = [watch("throttled.rate < 10%"), watch("throttled.count <= 5")];
    let mut live = LiveFigures::default();
    assert!(
        live_failure(&thresholds, &live).is_none(),
        "no request yet: no data, no abort"
    );
    live.requests = 100;
    live.throttled = 5;
    assert!(live_failure(&thresholds, &live).is_none());
    live.throttled = 6;
    assert_eq!(live_failure(&thresholds, &live), Some((1, 6.0)));
    live.throttled = 10;
    assert_eq!(live_failure(&thresholds, &live), Some((0, 0.1)));
}

#[test]
fn event_schema_violations_without_any_event_checked_is_no_data() {
    use crate::report::webhook::{build, tests::sample_input};
    let mut report = sample();
    let mut hooks = build(&sample_input(4));
    assert!(hooks.counts.received > 0, "the sample received events");
    hooks.counts.schema_checked = 0;
    hooks.counts.schema_violations = 0;
    report.webhooks = Some(hooks);
    // Events arrived, but none was checked (a report from before the
    // check): 0 violations would be a pass the data never earned.
    let v = judge(&[parse("events.schema_violations == 0")], &report);
    assert_eq!(v.thresholds[0].status, ThresholdStatus::NoData, "{v:?}");
    assert!(v.thresholds[0].message.contains("checked"), "{v:?}");
    assert!(!v.passed);
    // Once events were checked, the same threshold is judged on the count.
    let hooks = report.webhooks.as_mut().expect("webhooks");
    hooks.counts.schema_checked = 10;
    hooks.counts.schema_violations = 2;
    let v = judge(&[parse("events.schema_violations == 0")], &report);
    assert_eq!(v.thresholds[0].status, ThresholdStatus::Fail, "{v:?}");
    assert_eq!(v.thresholds[0].actual, Some(2.0));
}

#[test]
fn invalid_signatures_without_verification_is_no_data() {
    use crate::report::webhook::{build, tests::sample_input};
    let mut report = sample();
    let mut hooks = build(&sample_input(4));
    hooks.verify = false;
    hooks.counts.invalid_signatures = 0;
    report.webhooks = Some(hooks);
    // `verify: false`: no signature was checked, so "0 invalid" is no pass.
    let v = judge(&[parse("events.invalid_signatures == 0")], &report);
    assert_eq!(v.thresholds[0].status, ThresholdStatus::NoData, "{v:?}");
    assert!(v.thresholds[0].message.contains("not verified"), "{v:?}");
    assert!(!v.passed);
    // Verified, the same threshold is judged on the count.
    report.webhooks.as_mut().expect("webhooks").verify = true;
    let v = judge(&[parse("events.invalid_signatures == 0")], &report);
    assert_eq!(v.thresholds[0].status, ThresholdStatus::Pass, "{v:?}");
}

#[test]
fn schema_violations_without_any_response_checked_is_no_data() {
    let mut report = sample();
    let schema = |mode: &str| crate::report::SchemaReport {
        mode: mode.to_owned(),
        ..crate::report::SchemaReport::default()
    };
    // `--schema off` (or a sample of 0) checked nothing: 0 violations is
    // a pass the data never earned.
    for mode in ["off", "sample=0", "sample=0.0"] {
        report.schema = Some(schema(mode));
        let v = judge(&[parse("schema_violations == 0")], &report);
        assert_eq!(
            v.thresholds[0].status,
            ThresholdStatus::NoData,
            "{mode}: {v:?}"
        );
        assert!(v.thresholds[0].message.contains(mode), "{v:?}");
        assert!(!v.passed, "{mode}");
        // allow_empty says a run without schema checks is acceptable.
        let v = judge(&[allow_empty("schema_violations == 0")], &report);
        assert_eq!(v.thresholds[0].status, ThresholdStatus::NoData, "{v:?}");
        assert!(v.passed, "{mode}: {v:?}");
    }
    // Checking every response or a share of them measures the count (a
    // report from before `checked` was counted is judged by its mode).
    for mode in ["all", "sample=0.5"] {
        for checked in [Some(12), None] {
            report.schema = Some(crate::report::SchemaReport {
                checked,
                ..schema(mode)
            });
            let v = judge(&[parse("schema_violations == 0")], &report);
            assert_eq!(
                v.thresholds[0].status,
                ThresholdStatus::Pass,
                "{mode} {checked:?}: {v:?}"
            );
        }
    }
    // ... unless the sample (or the run) checked no response at all.
    for mode in ["all", "sample=0.001"] {
        report.schema = Some(crate::report::SchemaReport {
            checked: Some(0),
            ..schema(mode)
        });
        let v = judge(&[parse("schema_violations == 0")], &report);
        assert_eq!(
            v.thresholds[0].status,
            ThresholdStatus::NoData,
            "{mode}: {v:?}"
        );
        assert!(
            v.thresholds[0].message.contains("0 responses checked"),
            "{v:?}"
        );
        assert!(!v.passed, "{mode}");
    }
}

// See: audit 2026-12-07 (measure.md #7): "FAIL p99 < 24271us (measured
// 24.3 ms, required < 24.3 ms)" read like a pass.
#[test]
fn a_failing_threshold_never_shows_measured_and_required_as_the_same_text() {
    let mut report = sample();
    report.steps[0].latency.p99_us = 24_287;
    report.steps[0].latency.mean_us = 21_348.497_312;
    let cases = [
        (
            "create_user.p99 < 24271us",
            "measured 24287 µs, required < 24271 µs",
        ),
        (
            "create_user.mean < 21348us",
            "measured 21348.5 µs, required < 21348.0 µs",
        ),
        (
            "create_user.mean == 21348.497us",
            "measured 21348.4973 µs, required == 21348.4970 µs",
        ),
    ];
    for (expr, message) in cases {
        let v = judge(&[parse(expr)], &report);
        assert_eq!(v.thresholds[0].status, ThresholdStatus::Fail, "{expr}");
        assert_eq!(v.thresholds[0].message, message, "{expr}");
    }
    // Values that round apart keep the short form; equal ones stay equal.
    let v = judge(&[parse("create_user.p99 < 20ms")], &report);
    assert_eq!(
        v.thresholds[0].message,
        "measured 24.3 ms, required < 20.0 ms"
    );
    let v = judge(&[parse("create_user.p99 <= 24287us")], &report);
    assert_eq!(v.thresholds[0].status, ThresholdStatus::Pass);
    assert!(!v.thresholds[0].message.contains("24287 µs"), "{v:?}");
}

// See: outside audit 4, F6 — a shard failed on `iterations.count >= 60`
// (measured 20) although it ran exactly its share and the merged run passed.
#[test]
fn a_shard_leaves_whole_run_counts_and_rates_to_merge_and_is_judged_by_the_rest() {
    let mut report = sample();
    report.meta.shard = Some("1/3".to_owned());
    let whole = [
        parse("iterations.count >= 100000"),
        parse("requests.rate > 100000"),
        parse("create_chat.count >= 100000"),
    ];
    let v = judge(&whole, &report);
    assert!(v.passed, "{v:?}");
    assert!(v.reasons.is_empty(), "{v:?}");
    for r in &v.thresholds {
        assert_eq!(r.status, ThresholdStatus::Deferred, "{r:?}");
        assert!(!r.passed, "never a pass: {r:?}");
    }
    // Unsharded, the same report fails them all.
    let mut whole_run = report.clone();
    whole_run.meta.shard = None;
    let v = judge(&whole, &whole_run);
    assert!(!v.passed);
    assert_eq!(v.reasons.len(), 3, "{v:?}");
    // The rest still decide a shard: a latency limit, and a count its own part already breaks.
    let t = report.totals.cut_off_iterations;
    report.totals.cut_off_iterations = 5;
    let v = judge(
        &[
            parse("iterations.count >= 100000"),
            parse("cut_off_iterations < 3"),
            parse("create_user.p99 < 1us"),
        ],
        &report,
    );
    assert!(!v.passed);
    assert_eq!(v.reasons.len(), 2, "{v:?}");
    assert!(
        v.reasons[0].contains("measured 5 on this shard alone, required < 3")
            && v.reasons[1].starts_with("threshold `create_user.p99 < 1us`"),
        "{v:?}"
    );
    report.totals.cut_off_iterations = t;
    // A shard whose every iteration failed still fails, deferred thresholds or not.
    report.totals.iteration_errors = report.totals.iterations;
    assert!(!judge(&whole, &report).passed);
}

fn merged_run(file: &str, shard: &str, requests: u64, unreachable: bool) -> MergedRun {
    MergedRun {
        file: file.to_owned(),
        shard: Some(shard.to_owned()),
        target: if unreachable {
            "http://127.0.0.1:1/v1".to_owned()
        } else {
            "http://svc/v1".to_owned()
        },
        target_kind: "remote".to_owned(),
        requests,
        target_unreachable: unreachable,
        interrupted: unreachable,
        cut_off_iterations: u64::from(unreachable) * 2,
        ..MergedRun::default()
    }
}

// See: outside audit 4, F11 — merging a shard that never reached its target
// blamed "an abort_on_fail threshold", and `cut_off_iterations < 3` made it pass.
#[test]
fn a_merged_run_with_a_shard_that_never_reached_its_target_fails_naming_it() {
    let mut report = sample();
    report.meta.merged_from = vec!["a.json".to_owned(), "b.json".to_owned()];
    report.meta.merged_runs = vec![
        merged_run("a.json", "1/2", report.totals.requests - 16, false),
        merged_run("b.json", "2/2", 16, true),
    ];
    report.meta.interrupted = true;
    report.totals.cut_off_iterations = 2;
    let v = judge(&[parse("cut_off_iterations < 3")], &report);
    assert!(!v.passed, "{v:?}");
    assert!(v.target_unreachable, "exits 3 as the shard did");
    assert_eq!(
        v.reasons,
        [
            "shard 2/2 (b.json) could not reach its target http://127.0.0.1:1/v1 (remote): all 16 \
          request(s) it sent failed to connect, so its part of the load was never delivered"
        ]
    );
    // Without the tolerance, the cut-off names the shard and its real cause.
    let v = judge(&[], &report);
    let cut = v
        .reasons
        .iter()
        .find(|r| r.starts_with("cut_off_iterations"))
        .expect("a cut-off reason");
    assert!(
        cut.contains(
            "2 iterations were still running when the merged runs stopped: 2 in shard 2/2 \
             (b.json), which stopped early because its target was unreachable"
        ) && !cut.contains("abort_on_fail"),
        "{cut}"
    );
    // Every merged shard reached its target: no such reason.
    report.meta.merged_runs[1] = merged_run("b.json", "2/2", 16, false);
    report.totals.cut_off_iterations = 0;
    let v = judge(&[parse("cut_off_iterations < 3")], &report);
    assert!(v.passed && !v.target_unreachable, "{v:?}");
}

/// A webhook section in which no event arrived at all, though the run
/// expected `expected` events (every one of them went missing).
fn nothing_arrived(expected: u64) -> RunReport {
    use crate::report::webhook::{build, tests::sample_input};
    let mut report = sample();
    let mut hooks = build(&sample_input(0));
    hooks.counts = crate::report::webhook::EventCounts {
        expected,
        missing: expected,
        ..Default::default()
    };
    hooks.lifecycle.chats = expected / 3;
    hooks.queue.abandoned = 2;
    hooks.receiver.events = 0;
    report.webhooks = Some(hooks);
    report
}

#[test]
fn every_expected_event_missing_is_measured_not_no_data_even_with_allow_empty() {
    let report = nothing_arrived(639);
    // `missing` is counted among the events the run's own calls expect: it
    // needs no arrival, so "all 639 missing" fails as a measured value, and
    // `allow_empty` cannot excuse it.
    for t in [
        parse("events.missing == 0"),
        allow_empty("events.missing == 0"),
    ] {
        let v = judge(std::slice::from_ref(&t), &report);
        let r = &v.thresholds[0];
        assert_eq!(r.status, ThresholdStatus::Fail, "{r:?}");
        assert_eq!(r.actual, Some(639.0), "{r:?}");
        assert!(r.message.contains("measured 639, required == 0"), "{r:?}");
        assert!(!v.passed, "{v:?}");
    }
    // What the run did itself is measured too: its abandonments, the chats
    // it queued (the create response says `inQueue`), what the receiver heard.
    for (expr, value) in [
        ("queue.abandoned < 1", 2.0),
        ("queue.queued == 0", 0.0),
        ("events.received > 0", 0.0),
    ] {
        let v = judge(&[allow_empty(expr)], &report);
        assert_eq!(v.thresholds[0].actual, Some(value), "{expr}: {v:?}");
    }
    // Counters among arrivals stay no data: none arrived.
    for expr in [
        "events.late == 0",
        "events.duplicate == 0",
        "events.out_of_order == 0",
        "events.unrouted == 0",
        "events.malformed == 0",
    ] {
        let v = judge(&[parse(expr)], &report);
        let r = &v.thresholds[0];
        assert_eq!(r.status, ThresholdStatus::NoData, "{expr}: {r:?}");
        assert!(
            r.message.contains("no webhook event was received"),
            "{expr}: {r:?}"
        );
    }
}

#[test]
fn missing_and_late_among_no_event_of_their_kind_are_no_data() {
    use crate::report::webhook::{build, tests::sample_input};
    let mut report = sample();
    let mut hooks = build(&sample_input(4));
    // Events arrived, but the run expected none (no chats:create, chats:close
    // or messages:new subscribed) and none was caused by a call of its own.
    hooks.counts.expected = 0;
    hooks.counts.missing = 0;
    hooks.counts.direct = 0;
    hooks.counts.late = 0;
    report.webhooks = Some(hooks.clone());
    // A report written before `expected` and `direct` were counted (0 in
    // both, though it created chats with `chats:create` subscribed) is
    // judged as it was: measured once an event arrived.
    for expr in ["events.missing == 0", "events.late == 0"] {
        let v = judge(&[parse(expr)], &report);
        assert_eq!(v.thresholds[0].status, ThresholdStatus::Pass, "{v:?}");
    }
    hooks.subscribed = vec!["chats:join".to_owned(), "queues:update".to_owned()];
    report.webhooks = Some(hooks);
    let v = judge(&[parse("events.missing == 0")], &report);
    assert_eq!(v.thresholds[0].status, ThresholdStatus::NoData, "{v:?}");
    assert!(v.thresholds[0].message.contains("expected no"), "{v:?}");
    let v = judge(&[parse("events.late == 0")], &report);
    assert_eq!(v.thresholds[0].status, ThresholdStatus::NoData, "{v:?}");
    assert!(v.thresholds[0].message.contains("directly"), "{v:?}");
}

#[test]
fn a_service_level_without_its_events_subscribed_says_which_it_needs() {
    use crate::report::webhook::{build, tests::sample_input};
    let mut report = sample();
    let mut hooks = build(&sample_input(0));
    hooks.subscribed = vec!["chats:create".to_owned(), "chats:close".to_owned()];
    hooks.lifecycle.chats = 5;
    report.webhooks = Some(hooks);
    for (expr, needs) in [
        ("time_to_assign.p99 < 1s", "`chats:join` (or `users:join`)"),
        ("time_to_first_agent_reply.p99 < 1s", "`messages:new`"),
        ("time_in_queue.p99 < 1s", "`invitations:new`"),
    ] {
        let v = judge(&[parse(expr)], &report);
        let m = &v.thresholds[0].message;
        assert_eq!(v.thresholds[0].status, ThresholdStatus::NoData, "{m}");
        assert!(m.contains(needs), "{expr}: {m}");
        assert!(
            m.contains("not in webhooks.events (chats:create, chats:close)"),
            "{expr}: {m}"
        );
    }
}

/// See: audit 7, finding 1 (12 events broke their schema; the verdict said
/// PASSED, exit 0, while the JUnit file of the same run had a failure).
#[test]
fn without_thresholds_events_that_break_their_schema_fail_the_run_and_the_junit_agrees() {
    use crate::report::webhook::{EventViolations, build, tests::sample_input};
    let mut report = sample();
    // The sample's own failing step and iterations out of the way.
    for step in &mut report.steps {
        step.errors = 0;
    }
    report.totals.iteration_errors = 0;
    let mut hooks = build(&sample_input(4));
    hooks.counts.schema_checked = 30;
    hooks.counts.schema_violations = 12;
    hooks.schema_violations.clear();
    hooks.schema_violations.insert(
        "messages:new".to_owned(),
        EventViolations {
            count: 12,
            samples: Vec::new(),
        },
    );
    report.webhooks = Some(hooks);
    let v = judge(&[], &report);
    assert!(!v.passed, "{v:?}");
    assert!(
        v.reasons
            .iter()
            .any(|r| r == "12 of 30 webhook event(s) broke the spec's schema (messages:new × 12)"),
        "{:?}",
        v.reasons
    );
    let xml = String::from_utf8(crate::report::junit::render(&report, &v).unwrap()).unwrap();
    assert!(!xml.contains("failures=\"0\""), "{xml}");
    // With no violation the same run passes, and its JUnit file has no failure.
    let hooks = report.webhooks.as_mut().expect("webhooks");
    hooks.counts.schema_violations = 0;
    hooks.schema_violations.clear();
    let v = judge(&[], &report);
    assert!(v.passed, "{v:?}");
    let xml = String::from_utf8(crate::report::junit::render(&report, &v).unwrap()).unwrap();
    assert!(xml.contains("failures=\"0\""), "{xml}");
}
