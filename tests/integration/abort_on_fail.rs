//! A run stopped by an `abort_on_fail` threshold: it fails, and every output
//! (JSON, JUnit, `chatload report` of the JSON) says that threshold stopped it.

use chatload::app::Exit;

use crate::common::{chatload, read_json, run_scenario, target_block, write_scenario};
use chatload_mock::testing::start_mock_yaml;

// See: outside audit 10, F1 and F4. Every iteration's first request fails,
// the rest succeed: `errors.rate < 5%` fails within the first tenth of a
// second and stops the run, then the drain's successful requests bring the
// rate back under 5% (1 error in 22 requests per iteration). The run was
// judged PASSED (exit 0, JUnit clean, `report` exit 0), and no reason said
// the threshold had stopped the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_by_abort_on_fail_fails_though_the_drain_dilutes_its_metric() {
    let mock = start_mock_yaml(
        "faults:\n  routes:\n    getSettings:\n      error_rate: 1.0\n      status: 503\n",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: abort-recover\n{}load: {{vus: 4, duration: 30s, graceful_stop: 20s}}\n\
         thresholds:\n  - {{threshold: errors.rate < 5%, abort_on_fail: true}}\n  \
         - iterations.error_rate <= 100%\n\
         steps:\n  - get_settings:\n    on_error: continue\n  - create_user:\n  \
         - get_user:\n    repeat: 20\n    think: 20ms\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "abort-recover.yaml", &yaml);
    let junit = dir.path().join("junit.xml");
    let junit_arg = junit.display().to_string();
    let (exit, report) = run_scenario(dir.path(), &path, &["--junit", &junit_arg]).await;
    assert!(report.meta.interrupted, "the threshold stopped the run");
    assert!(
        report.meta.load_secs < 15.0,
        "stopped early: {} s",
        report.meta.load_secs
    );
    // The drain diluted the figure back under the limit...
    assert!(
        report.totals.error_rate < 0.05,
        "{}",
        report.totals.error_rate
    );
    // ...and the run fails all the same, saying why.
    assert_eq!(exit, Exit::Failed, "{:#?}", report.verdict);
    let verdict = report.verdict.as_ref().expect("verdict");
    assert!(!verdict.passed);
    let reasons = verdict.reasons.join("\n");
    assert!(
        reasons.contains("threshold `errors.rate < 5%`")
            && reasons.contains("stopped the run (abort_on_fail)"),
        "{reasons}"
    );
    assert!(!verdict.thresholds[0].passed, "{:?}", verdict.thresholds[0]);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        !xml.contains("failures=\"0\"") && xml.contains("stopped the run (abort_on_fail)"),
        "{xml}"
    );
    // `chatload report` judges the saved JSON the same.
    let saved = dir.path().join("report-abort-recover.json");
    let out = chatload().arg("report").arg(&saved).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("stopped the run (abort_on_fail)"),
        "{stdout}"
    );
    // From the record of when and on what value it stopped the run.
    let stop = &read_json(&saved)["thresholds"][0]["stopped_run"];
    assert!(
        stop["measured"].as_f64().expect("measured") >= 0.05,
        "{stop}"
    );
    assert!(stop["at_secs"].as_f64().expect("at_secs") >= 0.0, "{stop}");
}
