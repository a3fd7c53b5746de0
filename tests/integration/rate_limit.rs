//! Rate limits as a load fact: the mock's per-app token bucket on, and the
//! scenario's `rate_limit` policy deciding what a virtual user does about
//! its 429s. Throttled responses are counted apart from errors whatever the
//! policy; the waits are reported.
//!
//! Each test's bucket holds 10 tokens and refills 10 per second, so after
//! the mock's `Retry-After: 1` a `respect`ing user finds it full again:
//! the bounds below follow from that arithmetic, not from how fast the
//! machine is.

use chatload::app::Exit;
use chatload::report::RunReport;
use chatload::report::throttle::ThrottleReport;
use chatload_mock::testing::start_mock_yaml;

use crate::common::{run_scenario, step, target_block, write_scenario};

const ITERATIONS: u64 = 30;
const BURST: u64 = 10;

/// Runs `ITERATIONS` GET /settings on one VU against a limited mock.
async fn run_limited(name: &str, extra: &str) -> (Exit, RunReport) {
    let mock = start_mock_yaml(&format!("rate_limit: {{rps: 10, burst: {BURST}}}\n")).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "name: {name}\n{}load: {{vus: 1, iterations: {ITERATIONS}}}\n{extra}steps:\n  - get_settings:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), &format!("{name}.yaml"), &yaml);
    run_scenario(dir.path(), &path, &[]).await
}

fn throttle(report: &RunReport) -> &ThrottleReport {
    report.throttle.as_ref().expect("a throttle section")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn respect_keeps_throttling_near_zero_while_fail_counts_every_429_and_a_threshold_fails_the_run()
 {
    let (exit, failed) = run_limited(
        "fail",
        "rate_limit: {policy: fail}\nthresholds:\n  - throttled.rate < 1%\n",
    )
    .await;
    let (respect_exit, respected) = run_limited("respect", "rate_limit: {policy: respect}\n").await;

    // fail: each throttled response is a failure of kind `throttled`, counted
    // apart, never re-sent.
    let f = throttle(&failed);
    assert_eq!(f.policy, "fail");
    assert!(f.throttled > 0, "{f:?}");
    assert_eq!((f.gave_up, f.retries, f.wait_us), (f.throttled, 0, 0));
    assert_eq!(
        failed.request_errors_by_kind.get("throttled"),
        Some(&f.throttled)
    );
    assert_eq!(failed.routes[0].throttle.throttled, f.throttled);
    assert_eq!(step(&failed, "get_settings").errors, f.throttled);
    // ... and the threshold on it fails the run, saying why.
    assert_eq!(exit, Exit::Failed);
    let verdict = failed.verdict.as_ref().expect("judged");
    assert!(!verdict.passed);
    assert!(
        verdict.reasons.iter().any(|r| r.contains("throttled.rate")),
        "{verdict:?}"
    );

    // respect: every throttled request waited its Retry-After (1 s) and went
    // through; each wait refills the whole burst, so at most one 429 per
    // burst of requests.
    let r = throttle(&respected);
    assert_eq!(r.policy, "respect");
    assert_eq!(respect_exit, Exit::Passed, "{:?}", respected.verdict);
    assert_eq!(r.gave_up, 0);
    assert_eq!(step(&respected, "get_settings").errors, 0);
    assert!(r.throttled <= ITERATIONS.div_ceil(BURST), "{r:?}");
    assert!(r.throttled < f.throttled, "respect {r:?} vs fail {f:?}");
    assert!(r.rate < f.rate);
    assert_eq!(r.retries, r.throttled);
    assert!(r.wait_us >= r.throttled * 1_000_000, "waited {r:?}");
    assert!(r.max_wait_us >= 1_000_000 || r.throttled == 0);
    assert_eq!(
        r.iterations, r.throttled,
        "one throttled request per affected iteration"
    );
    assert_eq!(
        respected.totals.requests,
        ITERATIONS + r.retries,
        "each re-send is a request of its own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_resends_within_its_budget_and_gives_up_after_it() {
    let (_, report) = run_limited(
        "retry",
        "rate_limit: {policy: retry, max_retries: 2, backoff: 10ms, max_backoff: 40ms}\n",
    )
    .await;
    let t = throttle(&report);
    assert_eq!(t.policy, "retry");
    assert!(t.throttled > 0 && t.retries > 0, "{t:?}");
    // Every throttled response was either sent again or given up on.
    assert_eq!(t.throttled, t.retries + t.gave_up, "{t:?}");
    // At most 2 re-sends per request the scenario asked for.
    let asked = step(&report, "get_settings").count;
    assert_eq!(asked, ITERATIONS);
    assert!(t.retries <= 2 * asked, "{t:?}");
    assert_eq!(report.totals.requests, asked + t.retries);
    assert_eq!(
        report
            .request_errors_by_kind
            .get("throttled")
            .copied()
            .unwrap_or(0),
        t.gave_up
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_throttling_is_reported_against_the_planned_arrivals() {
    // Burst 2 at 10/s: the 4th arrival (150 ms in) is throttled with
    // Retry-After 1 s, which the only VU respects while arrivals keep coming.
    let mock = start_mock_yaml("rate_limit: {rps: 10, burst: 2}\n").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "name: open\n{}load: {{arrival_rate: 20, duration: 1s, max_vus: 1, backlog: 0}}\n\
         rate_limit: {{policy: respect}}\nsteps:\n  - get_settings:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "open.yaml", &yaml);
    let (_, report) = run_scenario(dir.path(), &path, &[]).await;
    let t = throttle(&report);
    assert!(t.iterations >= 1 && t.retries >= 1, "{t:?}");
    let planned = report
        .totals
        .planned_iterations
        .expect("open model plans arrivals");
    assert!(
        report.totals.dropped_iterations > 0,
        "a respecting VU is not free: {:?}",
        report.totals
    );
    let line = chatload::report::throttle::summary(&report).expect("throttled");
    assert!(
        line.contains(&format!(
            "{} of {planned} planned iterations affected ({} dropped)",
            t.iterations, report.totals.dropped_iterations
        )),
        "{line}"
    );
}
