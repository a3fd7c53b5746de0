//! Tests of the report's `webhooks` section: building, the Little's law
//! verdict, exact merging and the published schema.

use std::sync::Arc;
use std::time::Instant;

use super::*;
use crate::lifecycle::EventTracker;
use crate::webhook::{EventObserver, WebhookEvent};

/// A section from a tracker that saw `chats` chats joined after 300 ms and
/// queued for 200 ms; one duplicate (a second `chats:create`).
pub(crate) fn sample_input(chats: u64) -> WebhookInput {
    let t0 = Instant::now();
    let events: Vec<String> = crate::scenario::webhook::DEFAULT_EVENTS
        .iter()
        .map(|e| (*e).to_owned())
        .collect();
    let tracker = EventTracker::new(&events, Duration::from_secs(2));
    let schemas = crate::lifecycle::EventSchemas::load().expect("compiles");
    let ms = Duration::from_millis(1);
    for i in 0..chats {
        let chat = format!("c-{i}");
        tracker.chat_created(&chat, "u-1", true, t0);
        for (trigger, at, user) in [
            ("chats:create", 2, "u-1"),
            ("invitations:new", 200, "a-1"),
            ("chats:join", 300, "a-1"),
        ] {
            let body = serde_json::json!({"trigger": trigger, "appId": "a",
                "data": {"chatId": chat, "userId": user}, "created_at": 1});
            let event =
                WebhookEvent::parse(body.to_string().as_bytes(), t0 + at * ms).expect("envelope");
            let event = Arc::new(event);
            tracker.on_event(&event);
            schemas.on_event(&event);
            if i == 0 && trigger == "chats:create" {
                tracker.on_event(&event);
            }
        }
    }
    WebhookInput {
        registered: true,
        events,
        late_after: Duration::from_secs(2),
        settle: Duration::from_secs(1),
        verify: true,
        receiver: ReceiverCounts {
            handshakes: 1,
            events: chats * 3 + 1,
            parked: 0,
            stray: 1,
        },
        invalid_signatures: 2,
        malformed: 0,
        summary: tracker.finish(),
        schemas: schemas.summary(),
        little: Some(LittleInput {
            samples: 10,
            mean_queue_size: 1.5,
            run_secs: 10.0,
        }),
    }
}

#[test]
fn build_counts_everything_and_keeps_exact_histograms() {
    let report = build(&sample_input(4));
    assert_eq!(report.counts.received, 12);
    assert_eq!(report.counts.duplicate, 1);
    assert_eq!(report.counts.invalid_signatures, 2);
    assert_eq!(report.counts.missing, 0);
    // The denominators of missing and late: 4 chats each expect their
    // chats:create (subscribed by default), whose delay is caused directly
    // by the VU's POST /chats; invitations and joins wait on an agent, so
    // they can never be late.
    assert_eq!(report.counts.expected, 4);
    assert_eq!(report.counts.direct, 4);
    assert_eq!(report.lifecycle.chats, 4);
    assert_eq!(report.lifecycle.time_to_assign.count, 4);
    assert_eq!(report.lifecycle.time_to_assign.latency.p50_us / 1_000, 300);
    assert_eq!(report.queue.time_in_queue.latency.p50_us / 1_000, 200);
    assert_eq!(report.queue.queued, 4);
    let join = report
        .events
        .iter()
        .find(|e| e.event == "chats:join")
        .expect("join");
    assert_eq!(join.count, 4);
    let decoded = decode_histogram(&join.delay.histogram).expect("decodes");
    assert_eq!(decoded.len(), 4);
    // λ = 4 / 10 s, W = 0.2 s → λW = 0.08 against L = 1.5: flagged.
    let little = report.queue.little.expect("sampled");
    assert!((little.lambda_per_sec - 0.4).abs() < 1e-9);
    assert!((little.w_secs - 0.2).abs() < 0.001, "{}", little.w_secs);
    assert!(little.disagrees);
}

#[test]
fn little_flags_only_real_disagreements() {
    // L = 5, λ = 2/s, W = 2.4 s → λW = 4.8: 4% apart.
    let ok = little(5.0, 200, 2.4, 100.0, 100);
    assert!((ok.l_predicted - 4.8).abs() < 1e-9);
    assert!(!ok.disagrees);
    // L = 5 against λW = 2: 60% apart.
    let bad = little(5.0, 100, 2.0, 100.0, 100);
    assert!(bad.disagrees);
    // Tiny queues are noise: 0.2 against 0.6 is not flagged.
    assert!(!little(0.2, 30, 2.0, 100.0, 100).disagrees);
    assert_eq!(little(0.0, 0, 0.0, 0.0, 0).relative_gap, 0.0);
    assert_eq!(
        (ok.outcome(), bad.outcome()),
        (LittleOutcome::Agree, LittleOutcome::Disagree)
    );
    assert!(ok.judged && bad.judged);
}

/// Below one queued chat the check judges nothing, and said "agree (100%
/// apart)" in the summary and `agree` in the HTML (audit 4, F4).
#[test]
fn a_check_too_coarse_to_judge_says_so_and_never_agree() {
    // L = 0 against λW = 0.06: 100% apart, but under one chat.
    let coarse = little(0.0, 2, 0.55, 20.0, 10);
    assert_eq!(coarse.relative_gap, 1.0);
    assert!(!coarse.judged && !coarse.disagrees);
    assert_eq!(coarse.outcome(), LittleOutcome::TooFewQueued);
    let mut webhooks = build(&sample_input(4));
    webhooks.queue.little = Some(coarse);
    let mut report = crate::report::build_sample_report();
    report.webhooks = Some(webhooks);
    let text = crate::report::terminal::render(&report, false);
    let line = text
        .lines()
        .find(|l| l.contains("Little's law"))
        .expect("line");
    assert!(
        line.ends_with("not judged: fewer than one chat queued on average"),
        "{line}"
    );
    assert!(!line.contains("agree"), "{line}");
    // An older report without the field reads the same way.
    let mut json = serde_json::to_value(coarse).expect("json");
    json.as_object_mut().expect("object").remove("judged");
    let old: LittleReport = serde_json::from_value(json).expect("reads");
    assert_eq!(old.outcome(), LittleOutcome::TooFewQueued);
}

#[test]
fn merging_adds_counts_and_histograms_exactly() {
    let a = build(&sample_input(3));
    let b = build(&sample_input(5));
    let merged = merge(&[&a, &b]).expect("merges").expect("some");
    let single = build(&sample_input(8));
    assert_eq!(
        merged.counts,
        EventCounts {
            duplicate: 2,
            invalid_signatures: 4,
            ..single.counts
        }
    );
    assert_eq!(
        merged.lifecycle.time_to_assign,
        single.lifecycle.time_to_assign
    );
    assert_eq!(merged.queue.time_in_queue, single.queue.time_in_queue);
    assert_eq!(merged.queue.queued, 8);
    assert_eq!(merged.receiver.stray, 2, "stray requests add up");
    let little = merged.queue.little.expect("sampled");
    assert_eq!(little.samples, 20);
    assert!((little.l_measured - 1.5).abs() < 1e-9);
    assert!(merge(&[]).expect("nothing to merge").is_none());
}

#[test]
fn a_report_with_the_section_matches_the_published_schema() {
    let mut report = crate::report::build_sample_report();
    report.webhooks = Some(build(&sample_input(2)));
    let schema: serde_json::Value =
        serde_json::from_str(crate::report::SCHEMA_JSON).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("compiles");
    let instance = serde_json::to_value(&report).expect("serializes");
    if let Some(e) = validator.iter_errors(&instance).next() {
        panic!("{}: {e}", e.instance_path());
    }
    let back = crate::report::RunReport::from_json(
        serde_json::to_string(&report).expect("json").as_bytes(),
    )
    .expect("reads back");
    assert_eq!(back.webhooks, report.webhooks);
}

#[test]
fn thresholds_on_webhook_metrics_evaluate_against_the_section() {
    use crate::scenario::threshold::parse;
    let mut report = crate::report::build_sample_report();
    let check = |report: &crate::report::RunReport, expr: &str| {
        let t = parse(expr, &[], false).expect("parses");
        crate::verdict::evaluate(&[t], report).remove(0)
    };
    // Without the section there is no data: a failure, never a silent pass.
    let none = check(&report, "events.missing == 0");
    assert!(!none.passed);
    assert!(none.message.contains("no data"), "{}", none.message);

    report.webhooks = Some(build(&sample_input(4)));
    for (expr, passes) in [
        ("time_to_assign.p95 < 500ms", true),
        ("time_to_assign.p50 < 250ms", false),
        ("time_in_queue.max <= 201ms", true),
        ("event(chats:join).p99 < 500ms", true),
        ("event(users:join).count == 4", true),
        ("event(chats:join).p99 < 100ms", false),
        ("events.duplicate == 0", false),
        ("events.duplicate == 1", true),
        ("events.invalid_signatures == 0", false),
        ("events.missing == 0", true),
        ("events.out_of_order == 0", true),
        ("queue.abandoned == 0", true),
        ("queue.queued == 4", true),
        // Each `chats:create` of the sample lacks `creator` and `room`.
        ("events.schema_violations == 0", false),
        ("events.schema_violations == 4", true),
    ] {
        let result = check(&report, expr);
        assert_eq!(result.passed, passes, "{expr}: {}", result.message);
    }
    let failed = check(&report, "events.schema_violations == 0");
    assert!(failed.message.contains("measured 4"), "{}", failed.message);
    // A report written before events were checked: no data, never a pass.
    if let Some(w) = report.webhooks.as_mut() {
        w.counts.schema_checked = 0;
        w.counts.schema_violations = 0;
    }
    let old = check(&report, "events.schema_violations == 0");
    assert!(!old.passed, "{}", old.message);
    assert!(
        old.message
            .contains("no data: no webhook event was checked"),
        "{}",
        old.message
    );
    // Nothing measured for chat_duration: no data, so it fails.
    let empty = check(&report, "chat_duration.p99 < 60m");
    assert!(!empty.passed && empty.actual.is_none(), "{}", empty.message);
}

#[test]
fn the_summary_shows_counts_service_levels_and_the_little_check() {
    let mut report = crate::report::build_sample_report();
    report.webhooks = Some(build(&sample_input(4)));
    let text = crate::report::terminal::render(&report, false);
    for needle in [
        "Webhooks",
        "duplicate 1",
        "invalid signatures 2",
        "1 request(s) that were no event",
        "found no step waiting for their chat",
        "schema violations 4 of 12 event(s) checked",
        "chats:create × 4: at (data): ",
        "chats:join",
        "time_to_assign",
        "300 ms",
        "queue: 4 queued, 0 abandoned",
        "Little's law: L measured 1.50",
        "DISAGREE",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in\n{text}");
    }
    assert!(
        !crate::report::terminal::render(&crate::report::build_sample_report(), false)
            .contains("Webhooks")
    );
}

#[test]
fn compare_flags_a_lifecycle_regression_and_shows_event_delays() {
    use crate::report::compare::Rule;
    use crate::report::compare::tests::compare;
    let mut base = crate::report::build_sample_report();
    base.webhooks = Some(build(&sample_input(4)));
    let mut new = base.clone();
    let hooks = new.webhooks.as_mut().expect("section");
    hooks.lifecycle.time_to_assign.latency.p99_us *= 2;
    let rule = Rule::parse("p99 > +10%").expect("rule");
    let c = compare(&base, &new, &[rule], 1_000);
    let broken: Vec<(&str, &str)> = c
        .regressions()
        .map(|r| (r.scope.as_str(), r.name.as_str()))
        .collect();
    assert_eq!(broken, [("lifecycle", "time_to_assign")]);
    assert!(
        c.rows
            .iter()
            .any(|r| r.scope.as_str() == "event" && r.name == "chats:join")
    );
    // Nothing measured in either run: no row rather than a 0 → 0 comparison.
    assert!(!c.rows.iter().any(|r| r.name == "chat_duration"));
    let same = compare(
        &base,
        &base,
        &[Rule::parse("p99 > +10%").expect("rule")],
        1_000,
    );
    assert_eq!(same.regressions().count(), 0);
}
