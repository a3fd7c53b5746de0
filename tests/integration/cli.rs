//! The `chatload` binary as a user runs it.

use std::time::Duration;

use crate::common::{chatload, read_json, usage_error, write_scenario};
#[cfg(unix)]
use crate::common::{interrupt, interrupted_report, spawn_run_loaded};

/// `chatload run` against a port nothing listens on, up to `--out`'s value.
const RUN_AGAINST_NOTHING: [&str; 5] = [
    "run",
    "--quiet",
    "--target",
    "http://127.0.0.1:9/v1",
    "--out",
];

#[test]
fn validate_reports_file_line_column_and_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(
        dir.path(),
        "bad.yaml",
        "name: bad\nload:\n  vus: 2\n  duration: 5 parsecs\nsteps:\n  - create_user:\n  - send_message:\n",
    );
    let stderr = usage_error(chatload().arg("validate").arg(&path));
    let file = path.display().to_string();
    assert!(stderr.contains(&format!("{file}:4:")), "{stderr}");
    assert!(stderr.contains("`5 parsecs` is not a duration"), "{stderr}");
    assert!(
        stderr.contains(&format!("{file}:7:5: steps[1]")) && stderr.contains("`chat_id`"),
        "{stderr}"
    );

    let good =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/chat-lifecycle.yaml");
    let out = chatload().arg("validate").arg(&good).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_remote_target_without_credentials_is_a_usage_error_that_leaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(
        dir.path(),
        "s.yaml",
        "name: s\nload: {vus: 1, duration: 1s}\nsteps:\n  - get_settings:\n",
    );
    let stderr = usage_error(
        chatload()
            .args(RUN_AGAINST_NOTHING)
            .arg(dir.path().join("r.json"))
            .arg(&path)
            .env_remove("CHATLOAD_APP_ID")
            .env("CHATLOAD_SECRET", "very-secret-value"),
    );
    assert!(stderr.contains("CHATLOAD_APP_ID"), "{stderr}");
    assert!(!stderr.contains("very-secret-value"));
}

#[test]
fn an_unreachable_target_exits_three_and_keeps_secrets_out_of_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(
        dir.path(),
        "s.yaml",
        "name: s\nload: {vus: 1, iterations: 3}\nsteps:\n  - get_settings:\n    on_error: continue\n",
    );
    let report = dir.path().join("r.json");
    let out = chatload()
        .args(RUN_AGAINST_NOTHING)
        .arg(&report)
        .arg(&path)
        .env("CHATLOAD_APP_ID", "some-app")
        .env("CHATLOAD_SECRET", "very-secret-value")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("\"connect\""), "{text}");
    assert!(!text.contains("very-secret-value") && !text.contains("some-app"));
}

#[cfg(unix)]
#[test]
fn sigint_stops_the_run_and_still_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: long\nload: {vus: 2, duration: 60s, graceful_stop: 2s}\nsteps:\n  - get_settings:\n    think: 50ms\n";
    let (mut child, report) = spawn_run_loaded(dir.path(), "long.yaml", yaml);
    interrupt(&child);
    // See: issue 10 point 9 — an interrupted run exited 0.
    let json = interrupted_report(&mut child, &report);
    // Stopped promptly: the load ended long before its planned 60 s, and the
    // drain took at most the 2 s graceful stop (a relation to the plan, not a
    // wall-clock ceiling).
    let (load, total) = (
        json["meta"]["load_secs"].as_f64().unwrap(),
        json["meta"]["duration_secs"].as_f64().unwrap(),
    );
    assert!(load < 60.0 / 2.0, "the load ran {load} s of its 60 s");
    assert!(
        total <= load + 2.0 + 0.5,
        "drain {total} s after {load} s of load"
    );
    assert!(
        json["totals"]["requests"].as_u64().unwrap() > 5,
        "{}",
        json["totals"]
    );
}

#[test]
fn every_shipped_scenario_validates() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 3, "{files:?}");
    let out = chatload().arg("validate").args(&files).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).matches(": ok").count(),
        files.len()
    );
}

#[test]
fn an_unknown_threshold_metric_exits_two_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(
        dir.path(),
        "t.yaml",
        "name: t\nload: {vus: 1, iterations: 1}\nthresholds:\n  - create_chat.p98 < 1s\nsteps:\n  - get_settings:\n",
    );
    let stderr = usage_error(chatload().args(["run", "--quiet"]).arg(&path));
    assert!(
        stderr.contains(&format!("{}:4:", path.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("unknown metric `create_chat.p98`"),
        "{stderr}"
    );
    let good = write_scenario(
        dir.path(),
        "g.yaml",
        "name: g\nload: {vus: 1, iterations: 1}\nsteps:\n  - get_settings:\n",
    );
    let stderr = usage_error(
        chatload()
            .args(["run", "--quiet", "--out"])
            .arg(dir.path().join("r.json"))
            .args(["--threshold", "requests.latency < 1s"])
            .arg(&good),
    );
    assert!(
        stderr.contains("--threshold") && stderr.contains("unknown"),
        "{stderr}"
    );
    assert!(!dir.path().join("r.json").exists(), "nothing ran");
}

/// `--schema` was parsed after the report file was created and the bundled mock started, so a
/// typo left an empty report behind; the config layer now refuses it with the other flags.
#[test]
fn a_malformed_schema_mode_is_a_usage_error_before_any_file_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(
        dir.path(),
        "g.yaml",
        "name: g\nload: {vus: 1, iterations: 1}\nsteps:\n  - get_settings:\n",
    );
    let stderr = usage_error(
        chatload()
            .args(["run", "--quiet", "--schema", "sometimes", "--out"])
            .arg(dir.path().join("r.json"))
            .arg(&path),
    );
    assert!(stderr.contains("sometimes"), "{stderr}");
    assert!(
        !dir.path().join("r.json").exists(),
        "nothing ran, nothing written"
    );
}

#[test]
fn conform_covers_every_operation_of_the_spec_against_the_bundled_mock() {
    let dir = tempfile::tempdir().unwrap();
    let (out, junit) = (dir.path().join("c.json"), dir.path().join("c.xml"));
    let run = chatload()
        .arg("conform")
        .arg("--out")
        .arg(&out)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("coverage 50/50 operations (100%)"),
        "{stdout}"
    );
    let report = read_json(&out);
    assert_eq!(report["operations_exercised"], 50);
    let checks = report["checks"].as_array().unwrap();
    assert!(
        checks.len() > 60,
        "negative cases included: {}",
        checks.len()
    );
    for (operation, negative) in [
        ("createChat", "second open chat for one user → 409"),
        ("sendChatMessage", "message to a closed chat → 409"),
        ("getChat", "no credentials → 401"),
        ("listChats", "domain key on a secret-only route → 403"),
        ("getWebhook", "get a deleted webhook → 404"),
        ("createUser", "JSON body without Content-Type → 400"),
        ("POST /chats/{chatId}", "POST not served → 405"),
    ] {
        assert!(
            checks.iter().any(|c| c["operation"] == operation
                && c["name"] == negative
                && c["passed"] == true),
            "{operation}: {negative}"
        );
    }
    // Every kind of check ran, and passed against the mock.
    for kind in [
        "happy",
        "negative",
        "auth",
        "after_close",
        "invalid_body",
        "invalid_query",
        "boundary_body",
        "method",
        "content_type",
    ] {
        assert!(checks.iter().any(|c| c["kind"] == kind), "no {kind} check");
    }
    assert_eq!(report["seed"], 42);
    assert_eq!(report["cases"], 5);
    let declared = report["statuses_declared"].as_u64().unwrap();
    let observed = report["statuses_observed"].as_u64().unwrap();
    assert!(observed > 0 && observed < declared, "{observed}/{declared}");
    assert!(
        stdout.contains(&format!(
            "status coverage {observed}/{declared} declared responses observed"
        )),
        "{stdout}"
    );
    // The README quotes the line; it had drifted (184/344).
    let readme = include_str!("../../README.md");
    let quoted = format!("`status coverage {observed}/{declared} declared responses observed`");
    assert!(readme.contains(&quoted), "README should quote {quoted}");
    assert_eq!(report["cleanup"]["webhooks_deleted"], 1);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("coverage: every operation of the spec")
            && xml.contains("status coverage: getChat")
            && xml.contains("failures=\"0\""),
        "{xml}"
    );
}

#[test]
fn conform_registers_the_hook_url_it_is_given() {
    // Nothing answers the handshake on port 9: the mock refuses the webhook.
    let dir = tempfile::tempdir().unwrap();
    let run = chatload()
        .args(["conform", "--hook-url", "http://127.0.0.1:9/hook", "--out"])
        .arg(dir.path().join("c.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("FAIL")
            && l.contains("register webhook")
            && l.contains("handshake failed")),
        "{stdout}"
    );
}

#[test]
fn conform_fails_and_names_the_check_when_the_target_breaks_its_schema() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = chatload_mock::MockConfig::from_yaml_str(
        "faults:\n  routes:\n    getChat:\n      break_schema: true\n",
        "m.yaml",
    )
    .unwrap();
    let mock = rt.block_on(chatload_mock::spawn(config)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.json");
    let run = crate::common::conform_remote(&mock.base_url(), &["--out".as_ref(), out.as_ref()]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("FAIL") && l.contains("getChat") && l.contains("/chat/id")),
        "{stdout}"
    );
    assert!(!stdout.contains("demo-secret"));
    drop(mock);
}

#[test]
fn the_ci_scenarios_pass_against_the_bundled_mock_and_write_junit() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ci");
    let dir = tempfile::tempdir().unwrap();
    for name in ["lifecycle-slo", "queue-slo"] {
        let junit = dir.path().join(format!("{name}.xml"));
        let run = chatload()
            .args(["run", "--quiet", "--seed", "42", "--out"])
            .arg(dir.path().join(format!("{name}.json")))
            .arg("--junit")
            .arg(&junit)
            .arg(root.join(format!("{name}.yaml")))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert_eq!(run.status.code(), Some(0), "{name}: {stdout}");
        assert!(
            stdout.contains("threshold ok") && !stdout.contains("threshold FAIL"),
            "{stdout}"
        );
        assert!(
            std::fs::read_to_string(&junit)
                .unwrap()
                .contains("failures=\"0\"")
        );
    }
}

#[cfg(unix)]
#[test]
fn a_second_sigint_aborts_in_flight_iterations_exits_130_and_still_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    // Long think times: after the first SIGINT the iterations would keep going for a minute.
    let yaml = "name: slow\nload: {vus: 3, duration: 60s, graceful_stop: 60s}\nsteps:\n  - get_settings:\n    think: 30s\n";
    let (mut child, report) = spawn_run_loaded(dir.path(), "slow.yaml", yaml);
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(500));
    interrupt(&child);
    let json = interrupted_report(&mut child, &report);
    // Aborted, not drained: the run ended before the 30 s think of the
    // iterations in flight could pass (waiting would take at least that).
    let total = json["meta"]["duration_secs"].as_f64().unwrap();
    assert!(total < 30.0, "the run lasted {total} s");
    assert_eq!(json["aborted_in_flight"], true);
    assert_eq!(json["totals"]["requests"], 3);
    // The three iterations were in their think time: cut off, no request in flight.
    assert_eq!(json["totals"]["cut_off_iterations"], 3);
    assert_eq!(json["totals"]["cut_off_requests"], 0);
    assert_eq!(json["totals"]["iterations_started"], 3);
}

/// A mock configuration that cannot be read is refused (exit 2) with the
/// reason, by `run --mock-config` and by `mock --config` alike.
#[test]
fn an_unreadable_mock_configuration_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.yaml");
    let scenario = write_scenario(
        dir.path(),
        "s.yaml",
        "name: s\nload: {vus: 1, iterations: 1}\nsteps:\n  - get_settings:\n",
    );
    let wanted = format!(
        "error: cannot read {}: No such file or directory",
        missing.display()
    );
    let run = usage_error(
        chatload()
            .args(["run", "--quiet", "--mock-config"])
            .arg(&missing)
            .arg(&scenario),
    );
    assert!(run.starts_with(&wanted), "{run}");
    let mock = usage_error(
        chatload()
            .args(["mock", "--port", "0", "--config"])
            .arg(&missing),
    );
    assert!(mock.starts_with(&wanted), "{mock}");
}

/// An output path that cannot be written is refused before the run (exit 2)
/// and loses nothing: the report of an earlier run at `--out` keeps its bytes.
#[test]
fn an_unwritable_html_path_leaves_the_earlier_report_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(
        dir.path(),
        "s.yaml",
        "name: s\nload: {vus: 1, iterations: 1}\nsteps:\n  - get_settings:\n",
    );
    let earlier = write_scenario(dir.path(), "earlier.json", "{\"an\": \"earlier report\"}");
    let not_a_dir = write_scenario(dir.path(), "file.txt", "a file, not a directory");
    let stderr = usage_error(
        chatload()
            .args(["run", "--quiet", "--out"])
            .arg(&earlier)
            .arg("--html")
            .arg(not_a_dir.join("report.html"))
            .arg(&scenario),
    );
    assert!(
        stderr.contains(&format!(
            "{} is a file, not a directory",
            not_a_dir.display()
        )) && !stderr.contains("os error"),
        "{stderr}"
    );
    let kept = std::fs::read_to_string(&earlier).expect("earlier report readable");
    assert_eq!(kept, "{\"an\": \"earlier report\"}");
}

/// HTTP/2 against the bundled mock needs `--mock-tls`: the message says so
/// instead of naming the mock's local `http://127.0.0.1:PORT` URL, which
/// the user never typed. With `--mock-tls` the same run goes over HTTP/2.
#[test]
fn http2_on_the_bundled_mock_without_mock_tls_says_to_add_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(
        dir.path(),
        "h2.yaml",
        "name: h2\nload: {vus: 1, iterations: 1}\nsteps:\n  - get_settings:\n",
    );
    for flags in [["--http", "2"], ["--connection", "http2"]] {
        let stderr = usage_error(chatload().args(["run", "--quiet"]).args(flags).arg(&path));
        assert!(stderr.contains("add --mock-tls"), "{flags:?}: {stderr}");
        assert!(!stderr.contains("127.0.0.1"), "{flags:?}: {stderr}");
    }
    let out = dir.path().join("h2.json");
    let status = chatload()
        .args(["run", "--quiet", "--http", "2", "--mock-tls", "--out"])
        .arg(&out)
        .arg(&path)
        .status()
        .expect("chatload runs");
    assert!(status.success(), "{status}");
    let report = read_json(&out);
    assert_eq!(
        report["meta"]["http_versions"],
        serde_json::json!(["HTTP/2"])
    );
}

// See: audit item 4 — bad TLS material was reported after "listening on
// https://…", with the OS error twice, exit 3 and no location.
#[test]
fn bad_tls_material_for_the_mock_is_a_usage_error_before_it_listens() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_scenario(
        dir.path(),
        "m.yaml",
        "seed: 1\ntls: {cert: nope.pem, key: nope.pem}\n",
    );
    let os_error = "No such file or directory";
    let from_file = usage_error(
        chatload()
            .args(["mock", "--port", "0", "--config"])
            .arg(&config),
    );
    let at = format!("{}:2:13: tls: cannot read", config.display());
    assert!(from_file.contains(&at), "{from_file}");
    let flags = usage_error(chatload().args([
        "mock",
        "--port",
        "0",
        "--tls-cert",
        "nope.pem",
        "--tls-key",
        "nope.pem",
    ]));
    assert!(
        flags.contains("--tls-cert: tls: cannot read nope.pem"),
        "{flags}"
    );
    let ca_out = dir.path().join("no-such-dir").join("ca.pem");
    let unwritable = usage_error(
        chatload()
            .args(["mock", "--port", "0", "--tls-ca-out"])
            .arg(&ca_out),
    );
    assert!(
        unwritable.contains("--tls-ca-out: tls: cannot write"),
        "{unwritable}"
    );
    for stderr in [&from_file, &flags, &unwritable] {
        assert!(!stderr.contains("listening"), "{stderr}");
        assert_eq!(stderr.matches(os_error).count(), 1, "{stderr}");
    }
}

// See: audit item 7 — the shutdown counts were logged only with
// CHATLOAD_LOG=info, and then with ANSI colours into a file.
#[cfg(unix)]
#[test]
fn chatload_mock_logs_its_shutdown_counts_by_default_without_colours_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mock.log");
    let mut child = chatload()
        .args(["mock", "--port", "0"])
        .env_remove("CHATLOAD_LOG")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("chatload mock starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("listening")
    {
        assert!(std::time::Instant::now() < deadline, "never listened");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    crate::common::send_signal(&child, "TERM");
    assert!(child.wait().expect("exits").success());
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(
        stderr.contains("connections") && stderr.contains("accepted="),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no ANSI escapes in a file: {stderr:?}"
    );
}

// See: audit item 8 — `chatload mock --help` named a --max-media-bytes flag
// that does not exist.
#[test]
fn every_flag_the_mock_help_names_exists() {
    let help = chatload().args(["mock", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    // Flags after `chatload run` on a line are that command's.
    let own = help
        .lines()
        .map(|l| l.split("chatload run").next().unwrap_or(l));
    for flag in own
        .flat_map(|l| l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')))
        .filter(|w| w.starts_with("--") && w.len() > 2)
    {
        let probe = chatload().args(["mock", flag, "--help"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&probe.stderr);
        assert!(
            !stderr.contains("unexpected argument"),
            "{flag} is named by the help but unknown: {stderr}"
        );
    }
}

// See: audit 2026-12-07 (measure.md #3): in the closed model `_corrected`
// equals the raw latency, and a threshold on it passed a 2 s stall with no
// word said. `validate` and `run` warn where it was written; the open model
// (where the correction is real) does not.
#[test]
fn a_corrected_threshold_in_the_closed_model_is_warned_about_where_it_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let closed = write_scenario(
        dir.path(),
        "closed.yaml",
        "name: closed\nload: {vus: 1, iterations: 2}\nthresholds:\n  - \"get_settings.p99 < 10s\"\n  - \"get_settings.p99_corrected < 10s\"\nsteps:\n  - get_settings:\n",
    );
    let out = chatload().arg("validate").arg(&closed).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let at = format!(
        "warning: {}:5:5: thresholds[1]: `get_settings.p99_corrected < 10s`",
        closed.display()
    );
    assert!(stderr.contains(&at), "{stderr}");
    assert!(stderr.contains("equals the raw latency"), "{stderr}");
    // Audit 10, F7: a stall does show in the raw latency (the requests in flight during
    // it); what neither counts is the requests never sent.
    assert!(
        !stderr.contains("shows in neither")
            && stderr.contains(
                "a request in flight while the target stalls shows its long wait in both"
            )
            && stderr.contains("are never sent, and neither counts them"),
        "{stderr}"
    );
    assert!(!stderr.contains("thresholds[0]"), "{stderr}");

    let open = write_scenario(
        dir.path(),
        "open.yaml",
        "name: open\nload: {arrival_rate: 5, duration: 1s}\nthresholds:\n  - \"get_settings.p99_corrected < 10s\"\nsteps:\n  - get_settings:\n",
    );
    let out = chatload().arg("validate").arg(&open).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));

    let report = dir.path().join("r.json");
    let out = chatload()
        .args(["run", "--quiet", "--out"])
        .arg(&report)
        .arg(&closed)
        .args(["--threshold", "iteration.p50_corrected < 10s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&at), "{stderr}");
    assert!(
        stderr.contains("warning: --threshold: `iteration.p50_corrected < 10s`"),
        "{stderr}"
    );
}
