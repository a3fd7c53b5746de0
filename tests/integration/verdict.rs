//! The verdict end to end: no vacuous pass, one verdict for run, report and
//! merge, and JUnit that agrees with the exit code.

use std::path::{Path, PathBuf};

use chatload::app::Exit;
use chatload::report::{RunReport, ThresholdStatus};

use crate::common::{chatload, read_json, run_scenario, succeeds, target_block, write_scenario};
use chatload_mock::testing::{start_mock, start_mock_yaml};

/// Failures counted by a JUnit file (the `<testsuites failures="N">` total).
fn junit_failures(path: &Path) -> u64 {
    let xml = std::fs::read_to_string(path).expect("junit written");
    let at = xml.find("failures=\"").expect("failures attribute") + "failures=\"".len();
    let end = at + xml[at..].find('"').expect("closed");
    xml[at..end].parse().expect("a count")
}

/// Asserts the JUnit file has failures exactly when the run did not pass.
fn assert_junit_agrees(exit: Exit, junit: &Path) {
    let failures = junit_failures(junit);
    assert_eq!(
        failures == 0,
        exit == Exit::Passed,
        "exit {exit:?} but {failures} JUnit failure(s): {}",
        std::fs::read_to_string(junit).expect("junit readable")
    );
}

fn status_of(report: &RunReport, threshold: &str) -> ThresholdStatus {
    let verdict = report.verdict.as_ref().expect("a judged report");
    verdict
        .thresholds
        .iter()
        .find(|t| t.threshold == threshold)
        .unwrap_or_else(|| panic!("{threshold}: {verdict:?}"))
        .status
}

/// Two flows, one iteration: exactly one flow's step never runs.
fn two_flows(target: &str, allow_empty: bool) -> String {
    let t = |expr: &str| {
        if allow_empty {
            format!("  - {{threshold: \"{expr}\", allow_empty: true}}\n")
        } else {
            format!("  - {expr}\n")
        }
    };
    format!(
        "name: two-flows\n{target}load: {{vus: 1, iterations: 1}}\nthresholds:\n{}{}flows:\n  \
         - name: a\n    steps:\n      - get_settings:\n        name: a_settings\n  \
         - name: b\n    steps:\n      - request: {{method: GET, path: /agents}}\n        name: b_agents\n",
        t("a_settings.p99 < 10s"),
        t("b_agents.p99 < 10s"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threshold_on_a_step_that_never_runs_fails_with_no_data_unless_allowed() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let args = ["--junit", junit.to_str().unwrap()];
    let path = write_scenario(
        dir.path(),
        "flows.yaml",
        &two_flows(&target_block(&mock), false),
    );
    let (exit, report) = run_scenario(dir.path(), &path, &args).await;
    assert_eq!(exit, Exit::Failed, "{:#?}", report.verdict);
    let statuses = [
        status_of(&report, "a_settings.p99 < 10s"),
        status_of(&report, "b_agents.p99 < 10s"),
    ];
    assert!(statuses.contains(&ThresholdStatus::Pass), "{statuses:?}");
    assert!(statuses.contains(&ThresholdStatus::NoData), "{statuses:?}");
    let reasons = &report.verdict.as_ref().unwrap().reasons;
    assert!(
        reasons.iter().any(|r| r.contains("never ran")),
        "{reasons:?}"
    );
    assert_junit_agrees(exit, &junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("no data: step"), "{xml}");

    let path = write_scenario(
        dir.path(),
        "flows.yaml",
        &two_flows(&target_block(&mock), true),
    );
    let (exit, report) = run_scenario(dir.path(), &path, &args).await;
    assert_eq!(exit, Exit::Passed, "{:#?}", report.verdict);
    assert!(report.thresholds.iter().all(|t| t.allow_empty));
    assert_junit_agrees(exit, &junit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_sends_no_request_exits_non_zero() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    // `--duration 0s` is now a usage error; a flow of pauses sends nothing either.
    let yaml = format!(
        "name: nothing\n{}load: {{vus: 1, iterations: 2}}\nsteps:\n  - think: 1ms\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "nothing.yaml", &yaml);
    let junit = dir.path().join("junit.xml");
    let (exit, report) =
        run_scenario(dir.path(), &path, &["--junit", junit.to_str().unwrap()]).await;
    assert_eq!(report.totals.requests, 0);
    assert_eq!(exit, Exit::Failed);
    let verdict = report.verdict.as_ref().unwrap();
    assert!(!verdict.passed);
    assert!(
        verdict.reasons.iter().any(|r| r == "no request was sent"),
        "{verdict:?}"
    );
    assert_junit_agrees(exit, &junit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_all_failed_run_fails_although_its_thresholds_only_cover_latency() {
    let mock = start_mock_yaml(
        "faults:\n  routes:\n    getSettings:\n      error_rate: 1.0\n      status: 503\n",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let args = ["--junit", junit.to_str().unwrap()];
    let scenario = |extra: &str| {
        format!(
            "name: all-failed\n{}load: {{vus: 1, iterations: 3}}\nthresholds:\n  \
             - create_user.p99 < 10s\n{extra}steps:\n  - create_user:\n  - get_settings:\n",
            target_block(&mock)
        )
    };
    let path = write_scenario(dir.path(), "failed.yaml", &scenario(""));
    let (exit, report) = run_scenario(dir.path(), &path, &args).await;
    assert_eq!(report.totals.iteration_errors, 3);
    assert_eq!(
        status_of(&report, "create_user.p99 < 10s"),
        ThresholdStatus::Pass
    );
    assert_eq!(exit, Exit::Failed);
    let reasons = &report.verdict.as_ref().unwrap().reasons;
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("every iteration failed (3 of 3)")),
        "{reasons:?}"
    );
    assert_junit_agrees(exit, &junit);

    // A threshold on iterations.error_rate says how many may fail: then
    // thresholds decide alone and the failing step is informational.
    let path = write_scenario(
        dir.path(),
        "failed.yaml",
        &scenario("  - iterations.error_rate <= 100%\n"),
    );
    let (exit, _) = run_scenario(dir.path(), &path, &args).await;
    assert_eq!(exit, Exit::Passed);
    assert_junit_agrees(exit, &junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("informational (thresholds decide): 3 of 3 failed"),
        "{xml}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_thresholds_a_failing_step_fails_the_run_and_junit() {
    let mock = start_mock_yaml(
        "faults:\n  routes:\n    getSettings:\n      error_rate: 1.0\n      status: 503\n",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let yaml = format!(
        "name: steps\n{}load: {{vus: 1, iterations: 2}}\nsteps:\n  - create_user:\n  - get_settings:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "steps.yaml", &yaml);
    let (exit, _) = run_scenario(dir.path(), &path, &["--junit", junit.to_str().unwrap()]).await;
    assert_eq!(exit, Exit::Failed);
    assert_junit_agrees(exit, &junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("step: get_settings"), "{xml}");
}

/// Runs shard `k` of a scenario and keeps its report as `shardKofN.json`.
async fn run_shard(dir: &Path, scenario: &Path, shard: &str) -> (Exit, PathBuf) {
    run_shard_with(dir, scenario, shard, &[]).await
}

fn merge(files: &[&Path], out: &Path) -> std::process::Output {
    chatload()
        .arg("merge")
        .args(files)
        .arg("-o")
        .arg(out)
        .output()
        .expect("chatload merge runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_judges_the_thresholds_on_the_merged_run_and_rejects_a_duplicate_shard() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: sharded\n{}load: {{vus: 2, iterations: 4}}\nthresholds:\n  - iterations.count >= 4\nsteps:\n  - get_settings:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "sharded.yaml", &yaml);
    let (exit1, one) = run_shard(dir.path(), &path, "1/2").await;
    let (exit2, two) = run_shard(dir.path(), &path, "2/2").await;
    // Each shard ran 2 of the 4: `iterations.count >= 4` is the merged run's to judge.
    assert_eq!((exit1, exit2), (Exit::Passed, Exit::Passed));

    let merged = dir.path().join("merged.json");
    let out = merge(&[&one, &two], &merged);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("verdict    PASSED"), "{stdout}");
    let report = RunReport::from_json(&std::fs::read(&merged).unwrap()).unwrap();
    assert_eq!(report.totals.iterations, 4);
    assert!(report.verdict.as_ref().unwrap().passed);
    // `report` on the merged file gives the same verdict and exit code.
    let again = chatload().arg("report").arg(&merged).output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    // And on a shard, the same as that shard's run.
    let again = chatload().arg("report").arg(&one).output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stdout).contains("verdict    PASSED"));

    let out = merge(&[&one, &one], &dir.path().join("dup.json"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("duplicate shard 1/2"), "{stderr}");
}

#[test]
fn version_1_reports_are_read_by_report_merge_and_compare() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let agents = fixtures.join("report-v1-agents.json");
    let out = chatload().arg("report").arg(&agents).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("threshold ok      events.missing == 0"),
        "{stdout}"
    );
    assert!(stdout.contains("agent actors    4:"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let merged = dir.path().join("merged.json");
    let shards = [
        fixtures.join("report-v1-shard1of2.json"),
        fixtures.join("report-v1-shard2of2.json"),
    ];
    let out = merge(&[&shards[0], &shards[1]], &merged);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = RunReport::from_json(&std::fs::read(&merged).unwrap()).unwrap();
    assert_eq!(report.schema_version, chatload::report::SCHEMA_VERSION);
    assert_eq!(report.thresholds.len(), 6);
    assert_eq!(report.meta.merged_from.len(), 2);

    succeeds(chatload().arg("compare").arg(&shards[0]).arg(&merged));
}

/// `--schema off` checks no response, so `schema_violations == 0` has no
/// data (a failure) even against a mock that breaks every chat's schema;
/// with `all` the same run fails on the violations it finds; a sample that
/// happened to check nothing is no data as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_violations_without_schema_checks_is_no_data_not_a_pass() {
    let mock =
        start_mock_yaml("faults:\n  routes:\n    createChat:\n      break_schema: true\n").await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: unchecked\n{}load: {{vus: 1, iterations: 2}}\nsteps:\n  - create_user:\n  \
         - create_chat:\n    on_error: continue\nthresholds:\n  - schema_violations == 0\n  \
         - iterations.error_rate <= 100%\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "unchecked.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &["--schema", "off"]).await;
    assert_eq!(
        status_of(&report, "schema_violations == 0"),
        ThresholdStatus::NoData
    );
    assert_eq!(exit, Exit::Failed);
    let (exit, report) = run_scenario(dir.path(), &path, &["--schema", "all"]).await;
    assert_eq!(
        status_of(&report, "schema_violations == 0"),
        ThresholdStatus::Fail
    );
    assert_eq!(exit, Exit::Failed);
    // Every response was checked, and the report says how many.
    let schema = report.schema.as_ref().expect("schema section");
    assert_eq!(schema.checked, Some(report.totals.requests), "{schema:?}");
    // A sample so thin that it checked none of the 4 responses is no data
    // too, not "0 violations" (the seed makes the draw the same each run).
    let thin = ["--schema", "sample=0.0001", "--seed", "7"];
    let (exit, report) = run_scenario(dir.path(), &path, &thin).await;
    assert_eq!(report.schema.as_ref().and_then(|s| s.checked), Some(0));
    assert_eq!(
        status_of(&report, "schema_violations == 0"),
        ThresholdStatus::NoData
    );
    assert_eq!(exit, Exit::Failed);
}

/// A step whose request was never sent (its template read a variable a failed capture left
/// unset) counts and fails, but has no latency: a latency threshold on it is no data, not a
/// pass on the microseconds spent failing to render it. A `wait_until` in the same state gives
/// up at once instead of polling a request it can never send until its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_never_sent_its_request_has_no_latency_to_pass_a_threshold() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: unsent\n{}load: {{vus: 1, iterations: 1}}\nthresholds:\n  \
         - \"get_user.p99 < 1s\"\n  - \"wait_user.max < 1s\"\n  - \"get_user.count == 1\"\n  \
         - \"get_user.rps < 1000\"\n\
         steps:\n  - get_settings:\n    capture: {{x: nothere}}\n    on_error: continue\n  \
         - get_user: {{user: \"{{{{ x }}}}\"}}\n    on_error: continue\n  \
         - wait_until:\n      step: {{get_user: {{user: \"{{{{ x }}}}\"}}}}\n      \
         until: {{status: 200}}\n      timeout: 60s\n    name: wait_user\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "unsent.yaml", &yaml);
    let began = std::time::Instant::now();
    let csv = dir.path().join("unsent.csv");
    let (exit, report) = run_scenario(dir.path(), &path, &["--csv", csv.to_str().unwrap()]).await;
    assert!(
        began.elapsed() < std::time::Duration::from_secs(30),
        "the wait_until polled an unsendable request until its timeout"
    );
    // See: audit 2026-12-07 (measure.md #4): it sent nothing, so no rate to
    // pass a threshold, 0 in the report, and no 0 ms latency in JSON or CSV.
    assert_eq!(
        status_of(&report, "get_user.rps < 1000"),
        ThresholdStatus::NoData
    );
    let json = read_json(&dir.path().join("report-unsent.json"));
    let get_user = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "get_user")
        .unwrap();
    assert!(get_user["latency"].is_null(), "{get_user}");
    assert!(get_user["corrected"].is_null(), "{get_user}");
    assert_eq!(get_user["rps"], 0.0);
    let csv = std::fs::read_to_string(&csv).unwrap();
    let row = csv
        .lines()
        .find(|l| l.starts_with("step,get_user,"))
        .unwrap();
    let cells: Vec<&str> = row.split(',').collect();
    // rps, then min_ms .. p99_corrected_ms
    assert_eq!(cells[6], "0.000", "{row}");
    assert!(cells[7..17].iter().all(|c| c.is_empty()), "{row}");
    assert_eq!(exit, Exit::Failed, "{:#?}", report.verdict);
    assert_eq!(
        status_of(&report, "get_user.p99 < 1s"),
        ThresholdStatus::NoData
    );
    assert_eq!(
        status_of(&report, "wait_user.max < 1s"),
        ThresholdStatus::NoData
    );
    assert_eq!(
        status_of(&report, "get_user.count == 1"),
        ThresholdStatus::Pass
    );
    for name in ["get_user", "wait_user"] {
        let step = report.steps.iter().find(|s| s.name == name).unwrap();
        assert_eq!(
            (step.count, step.errors, step.untimed),
            (1, 1, 1),
            "{step:#?}"
        );
        assert_eq!(step.timed(), 0);
    }
    // No request went out for them: the route was never requested.
    let route = report.routes.iter().find(|r| r.name.contains("/users/"));
    assert_eq!(route.map_or(0, |r| r.count), 0, "{route:#?}");
}

/// The status of `threshold` in a report's JSON verdict.
fn json_status(json: &serde_json::Value, threshold: &str) -> String {
    json["verdict"]["thresholds"]
        .as_array()
        .expect("thresholds")
        .iter()
        .find(|t| t["threshold"] == threshold)
        .unwrap_or_else(|| panic!("{threshold}: {}", json["verdict"]))["status"]
        .as_str()
        .expect("a status")
        .to_owned()
}

// See: outside audit 4, F6 — every `run --shard K/N` failed (exit 1) on
// `iterations.count >= 60` (measured 20) although it ran exactly its share and
// the merged run passed; N CI jobs went red and published identical suites.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_leaves_whole_run_counts_and_rates_to_merge_and_its_junit_names_the_shard() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: whole\n{}load: {{vus: 2, iterations: 4}}\nthresholds:\n  - iterations.count >= 4\n  \
         - requests.rate > 0.5\n  - get_settings.count >= 4\n  - iterations.count >= 2\n  \
         - dropped_iterations == 0\n  - errors.rate < 50%\nsteps:\n  - get_settings:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "whole.yaml", &yaml);
    let mut files = Vec::new();
    for shard in ["1/2", "2/2"] {
        let junit = dir
            .path()
            .join(format!("junit{}.xml", shard.replace('/', "of")));
        let args = ["--junit", junit.to_str().unwrap()];
        let (exit, file) = run_shard_with(dir.path(), &path, shard, &args).await;
        let json = read_json(&file);
        assert_eq!(exit, Exit::Passed, "shard {shard}: {}", json["verdict"]);
        for whole in [
            "iterations.count >= 4",
            "requests.rate > 0.5",
            "get_settings.count >= 4",
        ] {
            assert_eq!(json_status(&json, whole), "deferred", "{whole}");
            let t = &json["verdict"]["thresholds"].as_array().unwrap();
            let t = t.iter().find(|t| t["threshold"] == whole).unwrap();
            assert_eq!(t["passed"], false, "never a pass: {t}");
            assert!(
                t["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("judged on the merged run (chatload merge)"),
                "{t}"
            );
        }
        // 2 of the whole run's 4 iterations already meet `>= 2` for it.
        assert_eq!(json_status(&json, "iterations.count >= 2"), "pass");
        // None dropped here: this shard adds none to the merged run.
        assert_eq!(json_status(&json, "dropped_iterations == 0"), "pass");
        assert_eq!(json_status(&json, "errors.rate < 50%"), "pass");
        assert_junit_agrees(exit, &junit);
        let xml = std::fs::read_to_string(&junit).unwrap();
        assert!(
            xml.contains(&format!("name=\"chatload: whole (shard {shard})\"")),
            "{xml}"
        );
        assert!(
            xml.contains(&format!("<property name=\"shard\" value=\"{shard}\"/>")),
            "{xml}"
        );
        assert_eq!(
            xml.matches("<skipped message=\"judged on the merged run")
                .count(),
            3,
            "{xml}"
        );
        // `report` on the shard's file: the same verdict and the same words.
        let again = chatload().arg("report").arg(&file).output().unwrap();
        let stdout = String::from_utf8_lossy(&again.stdout);
        assert_eq!(again.status.code(), Some(0), "{stdout}");
        assert!(
            stdout.contains("threshold merge   iterations.count >= 4  (judged on the merged run"),
            "{stdout}"
        );
        assert!(
            stdout.contains("3 threshold(s) of the whole run are judged on the merged run"),
            "{stdout}"
        );
        files.push(file);
    }
    let merged = dir.path().join("merged.json");
    let out = merge(&[&files[0], &files[1]], &merged);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let json = read_json(&merged);
    for t in json["verdict"]["thresholds"].as_array().unwrap() {
        assert_eq!(t["status"], "pass", "merged: {t}");
    }
}

/// Runs shard `k` with `args` added and keeps its report as `shardKofN.json`.
async fn run_shard_with(
    dir: &Path,
    scenario: &Path,
    shard: &str,
    args: &[&str],
) -> (Exit, PathBuf) {
    let mut all = vec!["--shard", shard, "--seed", "7"];
    all.extend_from_slice(args);
    let (exit, _) = run_scenario(dir, scenario, &all).await;
    let stem = scenario
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("a file name");
    let file = dir.join(format!("shard{}.json", shard.replace('/', "of")));
    std::fs::copy(dir.join(format!("report-{stem}.json")), &file).expect("report copied");
    (exit, file)
}

// See: outside audit 4, F11 — a shard that never reached its target merged
// with a healthy one: the merged verdict blamed "an abort_on_fail threshold"
// (there was none), and with `cut_off_iterations < 3` the merged run PASSED
// (exit 0) although half the load never reached anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_with_a_shard_that_never_reached_its_target_fails_naming_it() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: half\n{}load: {{vus: 2, duration: 2s}}\nthresholds:\n  - errors.rate < 60%\n  \
         - cut_off_iterations < 3\nsteps:\n  - get_settings:\n    think: 20ms\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "half.yaml", &yaml);
    let (exit1, one) = run_shard_with(dir.path(), &path, "1/2", &[]).await;
    assert_eq!(exit1, Exit::Passed, "{}", read_json(&one)["verdict"]);
    let dead = "http://127.0.0.1:1/v1";
    let (exit2, two) = run_shard_with(dir.path(), &path, "2/2", &["--target", dead]).await;
    assert_eq!(exit2, Exit::RunFailed, "{}", read_json(&two)["verdict"]);

    let merged = dir.path().join("merged.json");
    let out = merge(&[&one, &two], &merged);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    let json = read_json(&merged);
    let verdict = &json["verdict"];
    assert_eq!(verdict["passed"], false, "{verdict}");
    assert_eq!(verdict["target_unreachable"], true, "{verdict}");
    let reasons = verdict["reasons"].to_string();
    assert!(
        reasons.contains(&format!(
            "shard 2/2 ({}) could not reach its target {dead}",
            two.display()
        )),
        "{reasons}"
    );
    assert!(!reasons.contains("abort_on_fail"), "{reasons}");
    assert!(!stdout.contains("abort_on_fail"), "{stdout}");
    // The summary lists both targets, since they differ.
    assert!(
        stdout.contains(dead) && stdout.contains(&mock.base_url()),
        "{stdout}"
    );
    let runs = json["meta"]["merged_runs"].as_array().expect("merged_runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["target_unreachable"], true, "{}", runs[1]);
    assert_eq!(runs[1]["target"], dead);

    // A shard run against the bundled mock and one against a remote target
    // measured two different systems: refused, naming both.
    let mut local = read_json(&one);
    local["meta"]["target_kind"] = "bundled-mock".into();
    let local_file = dir.path().join("local.json");
    std::fs::write(&local_file, local.to_string()).unwrap();
    let out = merge(&[&local_file, &two], &dir.path().join("mixed.json"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} ran against the bundled mock",
            local_file.display()
        )) && stderr.contains(&format!("{} against {dead}", two.display())),
        "{stderr}"
    );
}
