//! Every started iteration accounted for (issue 10, points 8 and 9): a load
//! cut short, dropped or short of its plan fails the run unless a threshold
//! tolerates it.

use chatload::app::Exit;

use crate::common::{
    chatload, read_json, run_scenario, spawn_run_loaded, step, target_block, write_scenario,
};
#[cfg(unix)]
use crate::common::{interrupted_report, send_signal};
use chatload_mock::testing::{start_mock, start_mock_yaml};

/// A target that answers the first request of each iteration and stalls on
/// the second: every iteration is still running when `graceful_stop` ends.
const STALL_ON_SECOND_STEP: &str =
    "faults:\n  routes:\n    getId:\n      latency: {dist: fixed, ms: 60000}\n";

fn stalled_yaml(mock: &chatload_mock::MockServer, extra: &str) -> String {
    format!(
        "name: stalled\n{}load: {{vus: 2, duration: 500ms, graceful_stop: 300ms}}\nsteps:\n  - get_settings:\n  - request: {{method: GET, path: /id}}\n    name: stalls\n{extra}",
        target_block(mock)
    )
}

// See: issue 10 point 8 — a target that stops answering mid-run passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_stops_answering_fails_the_run_with_cut_off_counts() {
    let mock = start_mock_yaml(STALL_ON_SECOND_STEP).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(dir.path(), "stalled.yaml", &stalled_yaml(&mock, ""));
    let junit = dir.path().join("junit.xml");
    let junit_arg = junit.display().to_string();
    let (exit, report) = run_scenario(dir.path(), &path, &["--junit", &junit_arg]).await;
    let t = &report.totals;
    assert_eq!(exit, Exit::Failed, "{t:?}");
    assert_eq!(t.cut_off_iterations, 2, "{t:?}");
    assert_eq!(t.cut_off_requests, 2, "{t:?}");
    assert_eq!(t.iterations_started, t.iterations + t.cut_off_iterations);
    assert_eq!(step(&report, "get_settings").count, 2);
    let results = serde_json::to_string(&report.verdict).unwrap();
    assert!(results.contains("cut_off_iterations == 0"), "{results}");
    assert!(results.contains("cut_off_requests == 0"), "{results}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    for property in [
        r#"name="iterations_started" value="2""#,
        r#"name="cut_off_iterations" value="2""#,
        r#"name="cut_off_requests" value="2""#,
    ] {
        assert!(xml.contains(property), "{property} in {xml}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_on_cut_off_counts_tolerate_them() {
    let mock = start_mock_yaml(STALL_ON_SECOND_STEP).await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "thresholds:\n  - cut_off_iterations < 5\n  - cut_off_requests < 5\n";
    let path = write_scenario(dir.path(), "tolerant.yaml", &stalled_yaml(&mock, extra));
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(report.totals.cut_off_iterations, 2);
    assert_eq!(exit, Exit::Passed, "{:#?}", report.verdict);
}

// See: issue 10 point 8 — 4,756 of 5,320 planned arrivals dropped and exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_arrivals_fail_the_run_unless_a_threshold_tolerates_them() {
    let mock = start_mock_yaml("faults:\n  stall_ms: 300\n").await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = |thresholds: &str| {
        format!(
            "name: drops\n{}load: {{arrival_rate: 20, duration: 500ms, max_vus: 1, backlog: 0}}\nsteps:\n  - get_settings:\n{thresholds}",
            target_block(&mock)
        )
    };
    // A threshold about something else does not make the drops acceptable.
    let path = write_scenario(
        dir.path(),
        "drops.yaml",
        &yaml("thresholds:\n  - errors.rate < 1%\n"),
    );
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    let t = &report.totals;
    assert!(t.dropped_iterations > 0, "{t:?}");
    assert_eq!(t.planned_iterations, Some(10));
    assert_eq!(t.iterations_started + t.dropped_iterations, 10, "{t:?}");
    assert_eq!(exit, Exit::Failed);
    assert!(
        serde_json::to_string(&report.verdict)
            .unwrap()
            .contains("dropped_iterations == 0")
    );

    let path = write_scenario(
        dir.path(),
        "tolerated.yaml",
        &yaml("thresholds:\n  - dropped_iterations < 10\n"),
    );
    let (exit, _) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Passed);
}

// See: issue 10 point 8 — a delivered load short of plan passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iterations_short_of_plan_fail_the_run() {
    let mock = start_mock_yaml(
        "faults:\n  routes:\n    getSettings:\n      latency: {dist: fixed, ms: 100}\n",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    // 1 VU, 100 ms an iteration, 400 ms of load: 1000 iterations cannot happen.
    let yaml = format!(
        "name: short\n{}load: {{vus: 1, iterations: 1000, duration: 400ms}}\nsteps:\n  - get_settings:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "short.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    let t = &report.totals;
    assert_eq!(t.planned_iterations, Some(1000));
    assert_eq!(t.unstarted_iterations, 1000 - t.iterations_started, "{t:?}");
    assert!(t.unstarted_iterations > 900, "{t:?}");
    assert_eq!(t.cut_off_iterations, 0, "{t:?}");
    assert_eq!(exit, Exit::Failed);
    assert!(
        serde_json::to_string(&report.verdict)
            .unwrap()
            .contains("unstarted_iterations == 0")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_run_accounts_for_every_iteration_and_passes() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: healthy\n{}load: {{vus: 3, iterations: 30}}\nsteps:\n  - create_user:\n  - create_chat:\n  - close_chat:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "healthy.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    let t = &report.totals;
    assert_eq!(exit, Exit::Passed, "{:#?}", report.verdict);
    assert_eq!(
        (t.iterations_started, t.iterations, t.cut_off_iterations),
        (30, 30, 0)
    );
    assert_eq!(t.unstarted_iterations, 0);
    assert_eq!(step(&report, "create_chat").count, 30);
}

// See: issue 10 point 9 — SIGTERM (as a CI runner or `timeout` sends) is an interrupt too.
#[cfg(unix)]
#[test]
fn sigterm_exits_130_and_writes_the_report_marked_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: long\nload: {vus: 2, duration: 60s, graceful_stop: 2s}\nsteps:\n  - get_settings:\n    think: 50ms\n";
    let (mut child, report) = spawn_run_loaded(dir.path(), "long.yaml", yaml);
    send_signal(&child, "TERM");
    interrupted_report(&mut child, &report);
}

// See: issue 10 point 9 — a dead target gave exit 1 after a tight loop of
// connection errors (66,000 a second).
#[test]
fn a_dead_target_exits_three_early_without_hammering_it() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on the port of a listener that was just dropped.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = write_scenario(
        dir.path(),
        "dead.yaml",
        "name: dead\nload: {vus: 2, duration: 60s}\nsteps:\n  - get_settings:\n    on_error: continue\n",
    );
    let report = dir.path().join("r.json");
    let out = chatload()
        .args(["run", "--quiet", "--target"])
        .arg(format!("http://127.0.0.1:{port}/v1"))
        .arg("--out")
        .arg(&report)
        .arg(&path)
        .env("CHATLOAD_APP_ID", "some-app")
        .env("CHATLOAD_SECRET", "some-secret")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
    let json = read_json(&report);
    // It stopped on its own, long before the planned minute.
    let total = json["meta"]["duration_secs"].as_f64().unwrap();
    assert!(total < 60.0 / 2.0, "the run lasted {total} s of its 60 s");
    let attempts = json["totals"]["requests"].as_u64().unwrap();
    // Two VUs backing off from 10 ms to 1 s: a few dozen attempts at most.
    assert!((2..=60).contains(&attempts), "{attempts} attempts");
}

// See: issue 10 point 9 — an unwritable --out was exit 3, --html found after the run.
#[test]
fn unwritable_outputs_are_usage_errors_found_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(
        dir.path(),
        "s.yaml",
        "name: s\nload: {vus: 1, iterations: 1}\nsteps:\n  - get_settings:\n",
    );
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let good = dir.path().join("r.json");
    for flag in ["--out", "--junit", "--html", "--csv"] {
        let mut cmd = chatload();
        // A dead target: had the run started, it would exit 3, not 2.
        cmd.args(["run", "--quiet", "--target", "http://127.0.0.1:9/v1"])
            .env("CHATLOAD_APP_ID", "some-app")
            .env("CHATLOAD_SECRET", "some-secret");
        if flag != "--out" {
            cmd.arg("--out").arg(&good);
        }
        let out = cmd
            .arg(flag)
            .arg(blocker.join("x.out"))
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {stderr}");
        assert!(
            stderr.contains("is a file, not a directory"),
            "{flag}: {stderr}"
        );
    }
}

// See: issue 10 point 6 — rates were over the wall time, drain included.
// See: audit 2026-12-07 (measure.md #1) — and a request sent during the load
// phase but answered in the drain was left out of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_are_over_the_load_phase_not_the_drain() {
    let mock =
        start_mock_yaml("faults:\n  routes:\n    getId:\n      latency: {dist: fixed, ms: 900}\n")
            .await;
    let dir = tempfile::tempdir().unwrap();
    // One iteration: a fast request inside the 400 ms load, a slow one sent
    // inside it that ends in the drain (graceful_stop) about 500 ms later,
    // and a last one the drain sends.
    let yaml = format!(
        "name: drain\n{}load: {{vus: 1, duration: 400ms, graceful_stop: 5s}}\nsteps:\n  - get_settings:\n  - request: {{method: GET, path: /id}}\n    name: slow\n  - get_settings:\n    name: after\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "drain.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Passed);
    let (meta, t) = (&report.meta, &report.totals);
    assert_eq!((t.requests, t.iterations), (3, 1));
    assert!(meta.load_secs < meta.duration_secs, "{meta:?}");
    // Two requests were sent during the load phase: the rate is 2 / load,
    // the drain neither in the denominator nor (what it sent) in the numerator.
    let expected = 2.0 / meta.load_secs;
    assert!(
        (t.requests_per_sec - expected).abs() < 1e-9,
        "{} req/s, expected {expected}",
        t.requests_per_sec
    );
    assert!((step(&report, "slow").rps - 1.0 / meta.load_secs).abs() < 1e-9);
    assert!((step(&report, "after").rps).abs() < 1e-9);
    // The iteration started during the load phase.
    assert!((report.iteration.rps - 1.0 / meta.load_secs).abs() < 1e-9);
}

// See: issue 10 point 6 — an aborted iteration held its agent slot until the
// end of the run, so the next iterations timed out waiting for an agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_iteration_closes_its_chat_at_once_and_frees_the_agent() {
    // One agent with one slot: a chat left open blocks every later one.
    let mock = start_mock_yaml(
        "apps:\n  - id: one-app\n    secret: one-secret\n    rooms: [1]\n    agents_per_room: 1\n    capacity: 1\n",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"name: one-slot
target:
  base_url: {}
  app_id: one-app
  secret: one-secret
  room: 1
load: {{vus: 1, iterations: 3}}
steps:
  - create_user:
  - create_chat:
  - assign:
  - wait_until:
      step: {{get_chat: {{}}}}
      until: {{body: {{chat.status: active}}}}
      timeout: 3s
      interval: 20ms
    name: wait_active
  - get_settings:
    expect: {{status: 418}}
  - close_chat:
"#,
        mock.base_url()
    );
    let path = write_scenario(dir.path(), "one-slot.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Failed);
    let wait = step(&report, "wait_active");
    assert_eq!((wait.count, wait.errors), (3, 0), "{:?}", wait.failures);
    assert_eq!(step(&report, "get_settings").errors, 3);
    assert_eq!(report.totals.iteration_errors, 3);
}

// See: issue 10 point 6 — a corrected p99 above the raw one did not say
// whether the backlog or the generator caused it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_model_reports_its_generators_own_lag() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: lag\n{}load: {{arrival_rate: 40, duration: 500ms}}\nsteps:\n  - get_settings:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "lag.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Passed);
    let lag = report.totals.scheduling_lag.expect("open model lag");
    assert!(lag.min_us >= 1 && lag.max_us >= lag.p50_us, "{lag:?}");

    let yaml = format!(
        "name: closed\n{}load: {{vus: 1, iterations: 2}}\nsteps:\n  - get_settings:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "closed.yaml", &yaml);
    let (_, report) = run_scenario(dir.path(), &path, &[]).await;
    assert!(report.totals.scheduling_lag.is_none());
}

// See: issue 10 point 10 — `--duration` kept the scenario's `iterations`, so
// "makes the load constant" ended after 3 iterations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_on_the_command_line_replaces_the_scenarios_iterations() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: constant\n{}load: {{vus: 2, iterations: 3}}\nsteps:\n  - get_settings:\n    think: 50ms\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "constant.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &["--duration", "600ms"]).await;
    assert_eq!(exit, Exit::Passed);
    assert_eq!(report.totals.planned_iterations, None);
    // 2 VUs × 600 ms / about 50 ms an iteration: far more than 3.
    assert!(report.totals.iterations > 6, "{:?}", report.totals);
    assert_eq!(report.meta.load.iterations, None);
}
