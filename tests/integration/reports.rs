//! Shards, merging, comparison and CSV as a user chains them.

use chatload::app::Exit;

use crate::common::{
    chatload, read_json, run_scenario, succeeds, target_block, usage_error, write_scenario,
};
use chatload_mock::testing::{start_mock, start_mock_yaml};

/// Open-model shards: a shard whose share of `max_vus` or of the arrivals
/// is none is refused before the run (exit 2), as the closed model refuses
/// one with no VU; and a shard with few arrivals still runs the planned
/// duration, so its rates and the merged ones are the planned rate (they
/// were 1 request over the few ms to the shard's last arrival: "115 req/s"
/// for a plan of 1/s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_shards_refuse_an_empty_share_and_merge_at_the_planned_rate() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let scenario = |name: &str, load: &str| {
        let yaml = format!(
            "name: {name}\n{}load: {load}\nsteps:\n  - get_settings:\n",
            target_block(&mock)
        );
        write_scenario(dir.path(), &format!("{name}.yaml"), &yaml)
    };
    // max_vus 2 over 3 shards is 1, 1, 0: a third shard with a VU anyway
    // ran 3 at once.
    let few_vus = scenario("few_vus", "{arrival_rate: 10, duration: 1s, max_vus: 2}");
    let stderr = usage_error(chatload().arg("run").arg(&few_vus).args(["--shard", "3/3"]));
    assert!(
        stderr.contains("--shard 3/3: 2 VU(s) of max_vus split over 3 shards leave this one none")
            && stderr.contains("use at most 2 shard(s)"),
        "{stderr}"
    );
    // 1/s for 1 s is one arrival: the second and third shards get none
    // (they ran, sent nothing and failed, while the merge passed).
    let one = scenario("one", "{arrival_rate: 1, duration: 1s, max_vus: 3}");
    for shard in ["2/3", "3/3"] {
        let stderr = usage_error(chatload().arg("run").arg(&one).args(["--shard", shard]));
        assert!(
            stderr.contains(&format!(
                "--shard {shard}: 1 arrival(s) split over 3 shards"
            )) && stderr.contains("use at most 1 shard(s)"),
            "{stderr}"
        );
    }

    // 3/s for 1 s over 3 shards: one arrival (and one VU) each.
    let path = scenario("thirds", "{arrival_rate: 3, duration: 1s, max_vus: 3}");
    // The shards run side by side, as on three machines (merged one after another they
    // would be rated over the whole span).
    let shards = ["1/3", "2/3", "3/3"].map(|shard| (shard, vec!["--shard", shard, "--seed", "7"]));
    let files = run_together(dir.path(), &path, "thirds", &shards);
    for (file, (shard, _)) in files.iter().zip(&shards) {
        let report = read_json(file);
        assert_eq!(report["totals"]["requests"], 1, "shard {shard}");
        let load = report["meta"]["load_secs"].as_f64().unwrap();
        assert!(
            (1.0..2.0).contains(&load),
            "shard {shard}: load phase {load} s"
        );
        let rate = report["totals"]["requests_per_sec"].as_f64().unwrap();
        assert!(rate <= 1.0, "shard {shard}: {rate} req/s");
    }
    let merged = dir.path().join("thirds-merged.json");
    succeeds(chatload().arg("merge").args(&files).arg("-o").arg(&merged));
    let m = read_json(&merged);
    assert_eq!(m["totals"]["requests"], 3);
    let rate = m["totals"]["requests_per_sec"].as_f64().unwrap();
    assert!(
        (1.5..=3.0).contains(&rate),
        "merged {rate} req/s for a plan of 3/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_merge_into_the_whole_run_and_compare_flags_a_slower_one() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: sharded\n{}load: {{vus: 2, iterations: 20}}\nsteps:\n  - get_settings:\n  - create_user:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "sharded.yaml", &yaml);
    let mut files = Vec::new();
    for shard in ["1/2", "2/2"] {
        let (exit, report) =
            run_scenario(dir.path(), &path, &["--shard", shard, "--seed", "7"]).await;
        assert_eq!(exit, Exit::Passed);
        assert_eq!(
            report.totals.iterations, 10,
            "each shard runs half the iterations"
        );
        assert_eq!(report.meta.shard.as_deref(), Some(shard));
        let file = dir.path().join(format!("shard{}.json", files.len() + 1));
        std::fs::copy(dir.path().join("report-sharded.json"), &file).unwrap();
        files.push(file);
    }
    let merged = dir.path().join("merged.json");
    succeeds(chatload().arg("merge").args(&files).arg("-o").arg(&merged));
    let m = read_json(&merged);
    assert_eq!(m["totals"]["iterations"], 20);
    assert_eq!(m["steps"][0]["count"], 20);
    assert_eq!(m["meta"]["merged_from"].as_array().unwrap().len(), 2);
    // The merged run starts with its earliest shard and ends with its latest,
    // whatever order they are given in (shard 1 ran first).
    let (first, second) = (read_json(&files[0]), read_json(&files[1]));
    let reversed = dir.path().join("reversed.json");
    succeeds(
        chatload()
            .arg("merge")
            .arg(&files[1])
            .arg(&files[0])
            .arg("-o")
            .arg(&reversed),
    );
    let r = read_json(&reversed);
    for merged in [&m, &r] {
        assert_eq!(merged["meta"]["started_at"], first["meta"]["started_at"]);
        assert_eq!(merged["meta"]["ended_at"], second["meta"]["ended_at"]);
    }

    let same = chatload()
        .arg("compare")
        .arg(&files[0])
        .arg(&files[0])
        .args(["--fail-if", "p50 > +10%"])
        .output()
        .unwrap();
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stdout)
    );

    let slow = start_mock_yaml(
        "faults:\n  routes:\n    getSettings:\n      latency: {dist: fixed, ms: 30}\n",
    )
    .await;
    let yaml = format!(
        "name: sharded\n{}load: {{vus: 2, iterations: 10}}\nsteps:\n  - get_settings:\n  - create_user:\n",
        target_block(&slow)
    );
    let slow_path = write_scenario(dir.path(), "slow.yaml", &yaml);
    let (_, _) = run_scenario(
        dir.path(),
        &slow_path,
        &["--csv", dir.path().join("slow.csv").to_str().unwrap()],
    )
    .await;
    let html = dir.path().join("cmp.html");
    let cmp = chatload()
        .arg("compare")
        .arg(&files[0])
        .arg(dir.path().join("report-slow.json"))
        // Scoped to the slowed route's step: an unscoped rule would also judge
        // create_user, whose latency on a loaded CI machine is noise.
        .args(["--fail-if", "get_settings.p50 > +10%", "--html"])
        .arg(&html)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&cmp.stdout);
    assert_eq!(cmp.status.code(), Some(1), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("get_settings") && l.contains("p50") && l.contains("REGRESSION")),
        "{stdout}"
    );
    assert!(
        !stdout
            .lines()
            .any(|l| l.contains("create_user") && l.contains("REGRESSION")),
        "{stdout}"
    );
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .contains("REGRESSION")
            || std::fs::read_to_string(&html)
                .unwrap()
                .contains("class=\"bad\"")
    );
    let csv = std::fs::read_to_string(dir.path().join("slow.csv")).unwrap();
    assert!(
        csv.starts_with("kind,name,flow,count") && csv.contains("step,get_settings"),
        "{csv}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_and_report_write_a_self_contained_html_report() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: html\n{}load: {{vus: 2, iterations: 6}}\nsteps:\n  - create_user:\n  - create_chat:\n  - close_chat:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "html.yaml", &yaml);
    let html = dir.path().join("run.html");
    let (exit, _) = run_scenario(dir.path(), &path, &["--html", html.to_str().unwrap()]).await;
    assert_eq!(exit, Exit::Passed);
    let page = std::fs::read_to_string(&html).unwrap();
    for step in ["create_user", "create_chat", "close_chat"] {
        assert!(page.contains(step), "{step} missing");
    }
    for external in ["src=\"http", "href=\"http", "url(http", "@import", "<link"] {
        assert!(
            !page.contains(external),
            "{external} loads something from outside"
        );
    }
    let again = dir.path().join("again.html");
    succeeds(
        chatload()
            .arg("report")
            .arg(dir.path().join("report-html.json"))
            .arg("--html")
            .arg(&again),
    );
    assert!(
        std::fs::read_to_string(&again)
            .unwrap()
            .contains("chatload-data")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_steps_are_not_reported_as_steps_that_never_ran() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: pauses\n{}load: {{vus: 1, iterations: 2}}\nsteps:\n  - get_settings:\n  - think: 5ms\n    name: breather\n  - create_user:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "pauses.yaml", &yaml);
    let (csv, html) = (dir.path().join("p.csv"), dir.path().join("p.html"));
    let (exit, report) = run_scenario(
        dir.path(),
        &path,
        &[
            "--csv",
            csv.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(exit, Exit::Passed);
    let names: Vec<&str> = report.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["get_settings", "create_user"]);
    assert!(report.steps.iter().all(|s| s.count == 2));
    let summary = chatload()
        .arg("report")
        .arg(dir.path().join("report-pauses.json"))
        .output()
        .unwrap();
    for (what, text) in [
        (
            "summary",
            String::from_utf8_lossy(&summary.stdout).into_owned(),
        ),
        ("csv", std::fs::read_to_string(&csv).unwrap()),
        ("html", std::fs::read_to_string(&html).unwrap()),
    ] {
        assert!(text.contains("create_user"), "{what}: {text}");
        assert!(!text.contains("breather"), "{what} shows the pause: {text}");
    }
    let bad = write_scenario(
        dir.path(),
        "bad.yaml",
        &format!("{yaml}thresholds:\n  - breather.p99 < 1s\n"),
    );
    let stderr = usage_error(chatload().arg("validate").arg(&bad));
    assert!(
        stderr.contains("`breather` in `breather.p99 < 1s` is a pause"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_warns_about_different_scenarios_and_judges_scoped_rules() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    for (name, vus) in [("alpha", 1), ("beta", 2)] {
        let yaml = format!(
            "name: {name}\n{}load: {{vus: {vus}, iterations: 2}}\nsteps:\n  - get_settings:\n",
            target_block(&mock)
        );
        let path = write_scenario(dir.path(), &format!("{name}.yaml"), &yaml);
        let (exit, _) = run_scenario(dir.path(), &path, &[]).await;
        assert_eq!(exit, Exit::Passed);
        reports.push(dir.path().join(format!("report-{name}.json")));
    }
    let compare = |rule: &str| {
        let mut command = chatload();
        command
            .arg("compare")
            .args(&reports)
            .args(["--fail-if", rule, "--noise-floor", "1h"]);
        command
    };
    let out = compare("get_settings.p99 > +10%").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout
            .contains("warning: the reports are of different scenarios (base `alpha`, new `beta`)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("warning: the reports ran different load profiles"),
        "{stdout}"
    );
    assert!(
        stdout
            .trim_end()
            .ends_with("PASSED: 0 regression(s) against 1 rule(s)"),
        "{stdout}"
    );
    let stderr = usage_error(&mut compare("create_chat.p99 > +10%"));
    assert!(
        stderr.contains("neither report has `create_chat`"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_flow_is_judged_on_its_own_iterations() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    // `browse` is one quick request; `chat` holds every iteration for at least
    // 400 ms (a pause, not a latency the machine's load could change).
    let yaml = format!(
        "name: two-flows\nseed: 7\n{}load: {{vus: 2, iterations: 8}}\nthresholds:\n  - iteration[browse].p95 < 300ms\n  - iteration[chat].p95 < 300ms\nflows:\n  - name: browse\n    steps:\n      - get_settings:\n  - name: chat\n    steps:\n      - create_user:\n      - think: 400ms\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "two-flows.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Failed, "the chat flow's threshold fails");
    let flows: Vec<(&str, u64)> = report
        .flow_iterations
        .iter()
        .map(|f| (f.name.as_str(), f.count))
        .collect();
    assert_eq!(flows.len(), 2, "{flows:?}");
    assert_eq!(flows[0].0, "browse");
    assert_eq!(flows[1].0, "chat");
    assert!(
        flows.iter().all(|(_, n)| *n > 0),
        "both flows ran: {flows:?}"
    );
    assert_eq!(flows[0].1 + flows[1].1, report.totals.iterations);
    let chat = &report.flow_iterations[1];
    assert!(chat.latency.min_us >= 400_000, "{:?}", chat.latency);
    let results = crate::common::threshold_results(&report);
    assert_eq!(
        results,
        [
            ("iteration[browse].p95 < 300ms".to_owned(), true),
            ("iteration[chat].p95 < 300ms".to_owned(), false),
        ]
    );

    // An unknown flow is a located validation error.
    let bad = write_scenario(
        dir.path(),
        "bad.yaml",
        &yaml.replace("iteration[chat].p95", "iteration[chta].p95"),
    );
    let stderr = usage_error(chatload().arg("validate").arg(&bad));
    assert!(
        stderr.contains("bad.yaml:")
            && stderr.contains("thresholds[1]")
            && stderr.contains("unknown flow `chta`")
            && stderr.contains("browse, chat"),
        "{stderr}"
    );
}

/// A file that is not a report is refused (exit 2) with one plain line
/// that names the file and says once what is missing, and where.
#[test]
fn report_of_a_file_that_is_not_a_report_says_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(dir.path(), "not-a-report.json", "{}");
    let stderr = usage_error(chatload().arg("report").arg(&path));
    let wanted = format!(
        "error: cannot read report {}: not a chatload JSON report: missing field `schema_version` at line 1 column 2\n",
        path.display()
    );
    assert_eq!(stderr, wanted);
}

// See: audit 2 findings 3, 5 and 8 — shards of a ramp ran their own rounded ramps, a shard
// report did not say what the shard ran, and merge took shards run with other overrides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_ramp_states_each_shards_share_and_merge_refuses_a_shard_of_another_plan() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: ramped\n{}load:\n  stages:\n    - {{duration: 600ms, target: 4}}\n    - {{duration: 400ms, target: 4}}\n  graceful_stop: 2s\nsteps:\n  - get_settings:\n    think: 50ms\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "ramped.yaml", &yaml);
    let mut files = Vec::new();
    for (shard, extra) in [("1/2", None), ("2/2", None), ("2/2", Some("3"))] {
        let mut args = vec!["--shard", shard, "--seed", "7"];
        args.extend(extra.iter().flat_map(|v| ["--vus", v]));
        let (exit, report) = run_scenario(dir.path(), &path, &args).await;
        assert_eq!(exit, Exit::Passed);
        let share = report
            .meta
            .load
            .shard_share
            .clone()
            .expect("a shard's share");
        assert_eq!(report.meta.load.shard.as_deref(), Some(shard));
        if extra.is_none() {
            // VUs 1 and 3, or 2 and 4, of the whole ramp.
            assert_eq!((share.vus, share.peak_vus), (Some(2), Some(2)), "{share:?}");
        }
        let file = dir.path().join(format!("ramp{}.json", files.len() + 1));
        std::fs::copy(dir.path().join("report-ramped.json"), &file).unwrap();
        files.push(file);
    }
    let merged = dir.path().join("merged.json");
    succeeds(
        chatload()
            .arg("merge")
            .args(&files[..2])
            .arg("-o")
            .arg(&merged),
    );
    let m = read_json(&merged);
    assert!(
        m["meta"]["load"].get("shard_share").is_none(),
        "{}",
        m["meta"]["load"]
    );
    let out = chatload()
        .arg("merge")
        .arg(&files[0])
        .arg(&files[2])
        .arg("-o")
        .arg(dir.path().join("mixed.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("ramp1.json and ")
            && stderr.contains("ramp3.json differ in meta.load:")
            && stderr.contains("vus 0 vs 3"),
        "{stderr}"
    );
}

/// `chatload run SCENARIO --quiet ARGS... --out DIR/NAME` as a process; the report's path.
fn run_to(
    dir: &std::path::Path,
    scenario: &std::path::Path,
    name: &str,
    args: &[&str],
) -> std::path::PathBuf {
    let out = dir.join(name);
    succeeds(
        chatload()
            .arg("run")
            .arg(scenario)
            .arg("--quiet")
            .args(args)
            .arg("--out")
            .arg(&out),
    );
    out
}

/// `chatload run SCENARIO --quiet ARGS... --out DIR/NAMEk.json` for each `(label, ARGS)` of
/// `runs`, as processes running at the same time (shards on several machines); their reports'
/// paths, in order.
fn run_together(
    dir: &std::path::Path,
    scenario: &std::path::Path,
    name: &str,
    runs: &[(&str, Vec<&str>)],
) -> Vec<std::path::PathBuf> {
    let started: Vec<_> = runs
        .iter()
        .enumerate()
        .map(|(k, (_, args))| {
            let out = dir.join(format!("{name}{}.json", k + 1));
            let child = chatload()
                .arg("run")
                .arg(scenario)
                .arg("--quiet")
                .args(args)
                .arg("--out")
                .arg(&out)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("chatload runs");
            (out, child)
        })
        .collect();
    started
        .into_iter()
        .zip(runs)
        .map(|((out, child), (label, _))| {
            let done = child.wait_with_output().expect("chatload ends");
            assert_eq!(
                done.status.code(),
                Some(0),
                "{label}: {}",
                String::from_utf8_lossy(&done.stderr)
            );
            out
        })
        .collect()
}

// See: audit 4 F9 and F7 — `vus: 4, iterations: 40` over 3 shards gave the shards of 2, 1 and
// 1 VUs 14, 13 and 13 iterations (the lone VUs ran 13 back to back: the sharded run 27 %
// longer, merged rates 22 % low); and shards run with different `--connection` policies
// merged under the first file's label.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_shards_run_their_vus_iterations_and_merge_refuses_mixed_connection_policies() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: byvu\n{}load: {{vus: 4, iterations: 40}}\nsteps:\n  - get_settings:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "byvu.yaml", &yaml);
    let shards = ["1/3", "2/3", "3/3"].map(|shard| (shard, vec!["--shard", shard, "--seed", "7"]));
    let files = run_together(dir.path(), &path, "byvu", &shards);
    for ((k, want), file) in [(1, 20), (2, 10), (3, 10)].into_iter().zip(&files) {
        let shard = format!("{k}/3");
        let r = read_json(file);
        assert_eq!(
            (
                &r["meta"]["load"]["shard_share"]["vus"],
                &r["meta"]["load"]["shard_share"]["iterations"],
                &r["totals"]["iterations"],
                &r["totals"]["planned_iterations"],
            ),
            (
                &serde_json::json!(if k == 1 { 2 } else { 1 }),
                &serde_json::json!(want),
                &serde_json::json!(want),
                &serde_json::json!(want),
            ),
            "shard {shard}: 10 iterations per VU, as in the unsharded run"
        );
    }
    let merged = dir.path().join("byvu-merged.json");
    succeeds(chatload().arg("merge").args(&files).arg("-o").arg(&merged));
    let m = read_json(&merged);
    assert_eq!(
        (
            &m["totals"]["iterations"],
            &m["totals"]["planned_iterations"]
        ),
        (&40.into(), &40.into())
    );

    let fresh = run_to(
        dir.path(),
        &path,
        "fresh.json",
        &[
            "--shard",
            "2/3",
            "--seed",
            "7",
            "--connection",
            "new_per_iteration",
        ],
    );
    let stderr = usage_error(
        chatload()
            .arg("merge")
            .arg(&files[0])
            .arg(&fresh)
            .arg(&files[2])
            .arg("-o")
            .arg(dir.path().join("mixed.json")),
    );
    assert!(
        stderr.contains(&format!(
            "{} was run with --connection keep_alive and {} with --connection new_per_iteration",
            files[0].display(),
            fresh.display()
        )),
        "{stderr}"
    );
    assert!(!dir.path().join("mixed.json").exists());
}

// See: audit 4 F8 — two runs of `vus: 4, iterations: 40` merged side by side gave a load line
// of 40 iterations over a plan line of 80, and the first run's seed for both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_merged_side_by_side_say_so_with_each_seed() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: sides\n{}load: {{vus: 4, iterations: 40}}\nsteps:\n  - get_settings:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "sides.yaml", &yaml);
    let a = run_to(dir.path(), &path, "a.json", &["--seed", "1"]);
    let b = run_to(dir.path(), &path, "b.json", &["--seed", "9"]);
    let side = dir.path().join("side.json");
    let out = succeeds(chatload().arg("merge").arg(&a).arg(&b).arg("-o").arg(&side));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with(
            "load       2 runs side by side, each: closed model · 4 VUs · 40 iterations ·"
        )),
        "{stdout}"
    );
    let m = read_json(&side);
    assert_eq!(m["meta"]["load"]["runs_side_by_side"], 2);
    assert_eq!(m["meta"]["seed"], serde_json::Value::Null);
    assert_eq!(m["meta"]["seeds"], serde_json::json!([1, 9]));
    assert_eq!(m["totals"]["planned_iterations"], 80);
    // Compared with one of its runs, the merged run's load is not like for like.
    let cmp = chatload()
        .arg("compare")
        .arg(&a)
        .arg(&side)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&cmp.stdout);
    assert!(text.contains("different load profiles"), "{text}");
    // Runs side by side each ran the plan their merged line states.
    let more = run_to(dir.path(), &path, "c.json", &["--seed", "3", "--vus", "2"]);
    let stderr = usage_error(
        chatload()
            .arg("merge")
            .arg(&a)
            .arg(&more)
            .arg("-o")
            .arg(dir.path().join("uneven.json")),
    );
    assert!(
        stderr.contains("runs side by side share a load plan") && stderr.contains("vus 4 vs 2"),
        "{stderr}"
    );
}

/// Outside audit 4, F2: a new run that failed every `create_chat` (its own
/// verdict FAILED) passed `compare`, whose rules saw only the (shorter)
/// latencies of failed requests; two runs that never connected passed as
/// well. The comparison now shows each entry's error rate, fails on the new
/// run's own failed verdict and on a run that measured nothing, and does not
/// judge a latency of which every sample failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_fails_a_new_run_that_failed_its_own_verdict_or_measured_nothing() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let steps = "steps:\n  - check_agents:\n  - create_user:\n  - create_chat:\n";
    let base = write_scenario(
        dir.path(),
        "base.yaml",
        &format!(
            "name: c1\n{}load: {{vus: 2, iterations: 10}}\n{steps}",
            target_block(&mock)
        ),
    );
    let new = write_scenario(
        dir.path(),
        "new.yaml",
        &format!(
            "name: c1\n{}load: {{vus: 2, iterations: 10}}\n{steps}    expect: {{body: {{chat.room: 7}}}}\n",
            target_block(&mock)
        ),
    );
    assert_eq!(run_scenario(dir.path(), &base, &[]).await.0, Exit::Passed);
    assert_eq!(run_scenario(dir.path(), &new, &[]).await.0, Exit::Failed);
    let reports = [
        dir.path().join("report-base.json"),
        dir.path().join("report-new.json"),
    ];
    let compare = |files: &[std::path::PathBuf], rules: &[&str]| {
        let mut command = chatload();
        command
            .arg("compare")
            .args(files)
            .args(["--noise-floor", "1h"]);
        for rule in rules {
            command.args(["--fail-if", rule]);
        }
        command.output().unwrap()
    };
    let out = compare(
        &reports,
        &["iteration.p99 > +1000%", "create_chat.p99 > +1000%"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "the new run FAILED its own verdict: step `create_chat`: 10 of 10 failed; \
             10 of 10 iteration(s) failed"
        ),
        "{stdout}"
    );
    // The error rates are in the table, and the latency of failures is judged by no rule.
    assert!(
        stdout.lines().any(|l| l.contains("create_chat")
            && l.contains("0% (0/10)")
            && l.contains("100.0% (10/10)")),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "`create_chat.p99 > +1000%`: step `create_chat` (every sample failed in the new run): \
             the latencies of failures cannot be judged"
        ),
        "{stdout}"
    );
    // An `errors` rule judges the error rate itself.
    let out = compare(&reports, &["create_chat.errors > +1%"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("step create_chat errors: 0% (0/10) → 100.0% (10/10) (+100.0 pp), breaks `create_chat.errors > +1%`"),
        "{stdout}"
    );

    // Neither run ever connected: `report` exits 3 on them, and compare has nothing to judge.
    let dead = write_scenario(
        dir.path(),
        "dead.yaml",
        &format!(
            "name: dead\ntarget:\n  base_url: http://127.0.0.1:9/v1\n  app_id: a\n  secret: s\n\
             load: {{vus: 2, iterations: 4}}\n{steps}"
        ),
    );
    assert_eq!(
        run_scenario(dir.path(), &dead, &[]).await.0,
        Exit::RunFailed
    );
    let dead = dir.path().join("report-dead.json");
    let out = compare(&[dead.clone(), dead], &["p99 > +10%"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("the new run measured nothing (the target was unreachable")
            && stdout.contains("the base run measured nothing"),
        "{stdout}"
    );
}

/// Outside audit 4, F12: `>=` was "not a number" (the operator is what is
/// wrong), and the load-profile warning printed two raw JSON objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_names_a_wrong_operator_and_says_how_the_loads_differ() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: sharded\n{}load: {{vus: 4, iterations: 40}}\nsteps:\n  - get_settings:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "sharded.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &["--shard", "1/3"]).await;
    assert_eq!(exit, Exit::Passed);
    // The share as this build splits the plan: "2 of 4 VUs, 14 of 40 iterations" today.
    let share = report.meta.load.shard_share.unwrap();
    let expected = format!(
        "new is shard 1/3 of the run: {} of 4 VUs, {} of 40 iterations",
        share.vus.unwrap(),
        share.iterations.unwrap()
    );
    let shard = dir.path().join("shard.json");
    std::fs::copy(dir.path().join("report-sharded.json"), &shard).unwrap();
    let (exit, _) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Passed);
    let whole = dir.path().join("report-sharded.json");

    let stderr = usage_error(
        chatload()
            .arg("compare")
            .arg(&whole)
            .arg(&shard)
            .args(["--fail-if", "p99 >= +10%"]),
    );
    assert!(
        stderr.contains("the operator `>=` is not accepted") && !stderr.contains("not a number"),
        "{stderr}"
    );
    let out = succeeds(chatload().arg("compare").arg(&whole).arg(&shard));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let warning = stdout
        .lines()
        .find(|l| l.contains("different load profiles"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        warning.contains(&expected) && !warning.contains('{'),
        "{warning}"
    );
}
