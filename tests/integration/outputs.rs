//! What chatload writes and reads back: outputs kept intact by usage errors,
//! saved reports refused (with the file and the entry named) when they do
//! not hold up, unwritable paths found before any work, `--quiet`, and the
//! clean-up's result when nothing was left open.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{chatload, read_json, succeeds, usage_error, write_scenario};

const SCENARIO: &str = "name: s\nload: {vus: 1, iterations: 1}\nsteps:\n  - get_settings:\n";

/// A version-1 report of the repository's fixtures.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `report` copied into `dir/name`, changed by `edit` first.
fn edited(
    dir: &Path,
    report: &Path,
    name: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> PathBuf {
    let mut json = read_json(report);
    edit(&mut json);
    let path = dir.join(name);
    let bytes = serde_json::to_vec(&json).expect("serializes");
    std::fs::write(&path, bytes).expect("writes the edited report");
    path
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every output path of `run` (`--out`, `--junit`, the default report
/// name) is as it was after a usage error found once the scenario loaded:
/// an HTTP/2 flag on plain http, an unreadable mock configuration, a base URL
/// that is not one, a remote target without an App ID.
#[test]
fn a_usage_error_after_the_scenario_loads_changes_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.yaml", SCENARIO);
    let out_dir = dir.path().join("r");
    std::fs::create_dir(&out_dir).unwrap();
    let (out, junit) = (out_dir.join("y.json"), out_dir.join("j.xml"));
    std::fs::write(&out, "an earlier report").unwrap();
    std::fs::write(&junit, "an earlier junit").unwrap();
    let missing = dir.path().join("missing.yaml");
    let cases: [(&[&str], bool); 5] = [
        (&["--http", "2"], true),
        (&["--connection", "http2"], true),
        (&["--mock-config", missing.to_str().unwrap()], true),
        (&["--target", "notaurl"], true),
        (&["--target", "http://127.0.0.1:9/v1"], false),
    ];
    for (flags, app_id) in cases {
        for explicit in [true, false] {
            let mut command = chatload();
            command
                .current_dir(dir.path())
                .args(["run", "--quiet", "--junit"])
                .arg(&junit)
                .args(flags)
                .arg(&scenario)
                .env_remove("CHATLOAD_APP_ID");
            if explicit {
                command.arg("--out").arg(&out);
            }
            if app_id {
                command.env("CHATLOAD_APP_ID", "some-app");
            }
            let stderr = usage_error(&mut command);
            let context = format!("{flags:?} (--out: {explicit}): {stderr}");
            assert_eq!(
                std::fs::read_to_string(&out).unwrap(),
                "an earlier report",
                "{context}"
            );
            assert_eq!(
                std::fs::read_to_string(&junit).unwrap(),
                "an earlier junit",
                "{context}"
            );
            let defaults = std::fs::read_dir(dir.path().join("reports"))
                .map(|d| d.count())
                .unwrap_or(0);
            assert_eq!(defaults, 0, "a default report was left behind: {context}");
        }
    }
}

/// A run that fails after its outputs were checked leaves no empty report
/// behind either, and one that runs writes its report as before.
#[test]
fn a_run_writes_its_report_only_when_it_has_one() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.yaml", SCENARIO);
    succeeds(
        chatload()
            .current_dir(dir.path())
            .args(["run", "--quiet"])
            .arg(&scenario),
    );
    let written: Vec<_> = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    assert_eq!(read_json(&written[0])["meta"]["scenario"], "s");
}

/// A report whose histograms do not decode is refused by every command that
/// reads one, with exit 2, the file and the entry named, and nothing printed
/// or written first.
#[test]
fn a_report_with_a_corrupt_histogram_is_refused_naming_file_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let good = fixture("report-v1-shard1of2.json");
    let bad = edited(dir.path(), &good, "bad.json", |json| {
        for step in json["steps"].as_array_mut().unwrap() {
            step["histogram"] = "!!!notbase64".into();
        }
    });
    let named = |stderr: &str| {
        assert!(stderr.contains(&bad.display().to_string()), "{stderr}");
        assert!(
            stderr.contains("steps[0] (check_agents): histogram is not valid base64"),
            "{stderr}"
        );
    };
    named(&usage_error(chatload().arg("report").arg(&bad)));
    let html = dir.path().join("x.html");
    let out = chatload()
        .arg("report")
        .arg(&bad)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!stdout(&out).contains("PASSED"), "{}", stdout(&out));
    assert!(!html.exists());
    named(&usage_error(
        chatload()
            .arg("compare")
            .arg(&good)
            .arg(&bad)
            .args(["--fail-if", "p99 > +10%"]),
    ));
    let merged = dir.path().join("m.json");
    named(&usage_error(
        chatload()
            .arg("merge")
            .arg(&good)
            .arg(&bad)
            .arg("-o")
            .arg(&merged),
    ));
    assert!(!merged.exists());
}

/// `report --html`, `compare --html` and `merge -o` into a path that cannot
/// be written: exit 2 before any work, nothing printed on stdout.
#[test]
fn unwritable_output_paths_are_usage_errors_found_before_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_scenario(dir.path(), "file.txt", "a file, not a directory");
    let (one, two) = (
        fixture("report-v1-shard1of2.json"),
        fixture("report-v1-shard2of2.json"),
    );
    let inside = |name: &str| file.join(name);
    let commands = [
        chatload()
            .arg("report")
            .arg(&one)
            .arg("--html")
            .arg(inside("x.html"))
            .output(),
        chatload()
            .arg("report")
            .arg(&one)
            .arg("--csv")
            .arg(inside("x.csv"))
            .output(),
        chatload()
            .arg("compare")
            .arg(&one)
            .arg(&two)
            .arg("--html")
            .arg(inside("x.html"))
            .output(),
        chatload()
            .arg("merge")
            .arg(&one)
            .arg(&two)
            .arg("-o")
            .arg(inside("m.json"))
            .output(),
    ];
    for out in commands {
        let out = out.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&file.display().to_string()), "{stderr}");
        assert_eq!(stdout(&out), "", "{stderr}");
    }
}

// See: audit 4 F12 item 9 — `merge z1.json z2.json z3.json -o z1.json` replaced the shard
// report z1.json with the merged one.
#[test]
fn merge_refuses_to_write_over_one_of_its_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (
        edited(
            dir.path(),
            &fixture("report-v1-shard1of2.json"),
            "z1.json",
            |_| {},
        ),
        edited(
            dir.path(),
            &fixture("report-v1-shard2of2.json"),
            "z2.json",
            |_| {},
        ),
    );
    let before = std::fs::read(&one).unwrap();
    // The same file however spelled.
    let spelled = dir.path().join(".").join("z1.json");
    let stderr = usage_error(
        chatload()
            .arg("merge")
            .arg(&one)
            .arg(&two)
            .arg("-o")
            .arg(&spelled),
    );
    assert!(
        stderr.contains(&format!(
            "-o {} is {}, one of the reports to merge",
            spelled.display(),
            one.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&one).unwrap(), before, "z1.json untouched");
    succeeds(
        chatload()
            .arg("merge")
            .arg(&one)
            .arg(&two)
            .arg("-o")
            .arg(dir.path().join("z.json")),
    );
}

/// Merge's refusals name the files; a report that is not an object or of
/// an unknown version says so in plain words; an unreadable scenario's OS
/// error is said once.
#[test]
fn messages_name_the_files_and_say_what_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let one = fixture("report-v1-shard1of2.json");
    let merged = dir.path().join("m.json");
    let third = edited(dir.path(), &one, "third.json", |json| {
        json["meta"]["shard"] = "3/3".into();
    });
    let first = edited(dir.path(), &one, "first.json", |json| {
        json["meta"]["shard"] = "1/3".into();
    });
    let stderr = usage_error(
        chatload()
            .arg("merge")
            .arg(&first)
            .arg(&third)
            .arg("-o")
            .arg(&merged),
    );
    assert!(stderr.contains("shard 2/3 missing"), "{stderr}");
    let named = format!(
        "{} is shard 1/3, {} is shard 3/3",
        first.display(),
        third.display()
    );
    assert!(stderr.contains(&named), "{stderr}");
    let whole = edited(
        dir.path(),
        &fixture("report-v1-shard2of2.json"),
        "whole.json",
        |json| {
            json["meta"]["shard"] = serde_json::Value::Null;
        },
    );
    let stderr = usage_error(
        chatload()
            .arg("merge")
            .arg(&one)
            .arg(&whole)
            .arg("-o")
            .arg(&merged),
    );
    assert!(
        stderr.contains(&format!("{} is unsharded", whole.display())),
        "{stderr}"
    );

    let array = write_scenario(dir.path(), "array.json", "[]");
    let stderr = usage_error(chatload().arg("report").arg(&array));
    assert!(
        stderr.contains("not a chatload report: expected a JSON object"),
        "{stderr}"
    );
    assert!(!stderr.contains("VersionProbe"), "{stderr}");
    for version in [0, 99] {
        let other = write_scenario(
            dir.path(),
            "v.json",
            &format!("{{\"schema_version\": {version}}}"),
        );
        let stderr = usage_error(chatload().arg("report").arg(&other));
        assert!(stderr.contains("reads versions 1 and 2"), "{stderr}");
    }

    let stderr = usage_error(chatload().args(["run", "/nonexistent.yaml"]));
    assert!(stderr.contains("/nonexistent.yaml"), "{stderr}");
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
}

/// `--quiet` prints no status line after the load (`closing N chat(s) left
/// open...`); the report still counts the chat the clean-up closed.
#[test]
fn quiet_runs_print_no_clean_up_status_line() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(
        dir.path(),
        "open.yaml",
        "name: open\nload: {vus: 1, iterations: 1}\nsteps:\n  - create_user:\n  - create_chat:\n",
    );
    let report = dir.path().join("r.json");
    let out = chatload()
        .args(["run", "--quiet", "--out"])
        .arg(&report)
        .arg(&scenario)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("closing"), "{stderr}");
    assert_eq!(read_json(&report)["cleanup"]["closed"], 1);
}

/// With nothing left open, a clean-up that was on is still reported (zero
/// counts) in the JSON, the summary and JUnit; one that was off is absent.
#[test]
fn a_clean_up_with_nothing_to_close_is_reported_and_an_off_one_is_absent() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.yaml", SCENARIO);
    let (report, junit) = (dir.path().join("r.json"), dir.path().join("j.xml"));
    let run = |extra: &[&str]| {
        let out = succeeds(
            chatload()
                .args(["run", "--quiet", "--out"])
                .arg(&report)
                .arg("--junit")
                .arg(&junit)
                .args(extra)
                .arg(&scenario),
        );
        (
            stdout(&out),
            read_json(&report),
            std::fs::read_to_string(&junit).unwrap(),
        )
    };
    let (summary, json, xml) = run(&[]);
    assert_eq!(json["cleanup"]["attempted"], 0, "{}", json["cleanup"]);
    assert_eq!(json["cleanup"]["left_open"], 0, "{}", json["cleanup"]);
    assert!(
        summary.contains("clean-up        no chat was left open by the load: nothing to close"),
        "{summary}"
    );
    assert!(
        xml.contains("name=\"clean-up\"") && xml.contains("cleanup_attempted"),
        "{xml}"
    );

    let (summary, json, xml) = run(&["--no-cleanup"]);
    assert!(json.get("cleanup").is_none(), "{}", json["cleanup"]);
    assert!(!summary.contains("clean-up        "), "{summary}");
    assert!(!xml.contains("name=\"clean-up\""), "{xml}");
}

/// Audit 8, finding 4: the same path for two outputs (however spelled)
/// silently replaced the JSON report with the HTML or JUnit one, exit 0.
/// Now `run`, `conform` and `report` refuse it before any work (exit 2),
/// naming both flags and paths, and the file keeps its bytes.
#[test]
fn two_outputs_naming_one_file_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.yaml", SCENARIO);
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let out = dir.path().join("out/s3.json");
    std::fs::write(&out, "an earlier report").unwrap();
    let same = dir.path().join("out/../out/./s3.json");
    let said = |first: &str, second: &str| {
        format!(
            "{first} {} and {second} {} are the same file",
            out.display(),
            same.display()
        )
    };
    for flag in ["--html", "--junit", "--csv"] {
        let stderr = usage_error(
            chatload()
                .args(["run", "--quiet", "--out"])
                .arg(&out)
                .arg(flag)
                .arg(&same)
                .arg(&scenario),
        );
        assert!(stderr.contains(&said("--out", flag)), "{stderr}");
    }
    let stderr = usage_error(
        chatload()
            .args(["conform", "--out"])
            .arg(&out)
            .arg("--junit")
            .arg(&same),
    );
    assert!(stderr.contains(&said("--out", "--junit")), "{stderr}");
    let stderr = usage_error(
        chatload()
            .arg("report")
            .arg(fixture("report-v1-shard1of2.json"))
            .arg("--html")
            .arg(&out)
            .arg("--csv")
            .arg(&same),
    );
    assert!(stderr.contains(&said("--html", "--csv")), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "an earlier report");
}

/// Audit 8, finding 3: the outputs' directory replaced by a file during the
/// run (here during its clean-up, against a target that never answers a
/// close) made `run` exit 3 with nothing on stdout and an error naming no
/// output. Now the summary and the verdict are printed, each output that
/// cannot be written is named with its path and why, the JSON report is
/// saved to the default report path instead (said where), the outputs that
/// can be written are, and the exit code is 3.
#[test]
fn outputs_that_cannot_be_written_at_the_end_lose_no_result() {
    use std::sync::atomic::Ordering;
    let (url, target) = crate::cleanup::start_stalled();
    let dir = tempfile::tempdir().unwrap();
    let yaml = crate::cleanup::scenario(&url, "cleanup_timeout: 3s\n");
    let scenario = write_scenario(dir.path(), "s.yaml", &yaml);
    let gone = dir.path().join("vanish");
    let child = chatload()
        .current_dir(dir.path())
        .args(["run", "--quiet", "--schema", "off"])
        .args(["--out", "vanish/r.json", "--junit", "vanish/r.xml"])
        .args(["--html", "vanish/r.html", "--csv", "kept/r.csv"])
        .arg(&scenario)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The load is over once the target sees a close: the outputs' paths
    // were checked long before.
    for _ in 0..600 {
        if target.closes.load(Ordering::SeqCst) > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(target.closes.load(Ordering::SeqCst) > 0, "no clean-up");
    if gone.exists() {
        std::fs::remove_dir_all(&gone).unwrap();
    }
    std::fs::write(&gone, "now a file").unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(stdout.contains("verdict    PASSED"), "{stdout}");
    assert!(stdout.contains("csv: kept/r.csv"), "{stdout}");
    assert!(dir.path().join("kept/r.csv").exists());
    let reports: Vec<_> = std::fs::read_dir(dir.path().join("reports"))
        .expect("the fallback directory")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let saved = Path::new("reports").join(reports[0].file_name().unwrap());
    assert_eq!(read_json(&reports[0])["verdict"]["passed"], true);
    assert!(
        stdout.contains(&format!("report: {}", saved.display())),
        "{stdout}"
    );
    let not_a_dir = "vanish is a file, not a directory";
    for line in [
        format!(
            "error: cannot write the JSON report to vanish/r.json: {not_a_dir}; it was saved \
             to {} instead",
            saved.display()
        ),
        format!("error: cannot write the JUnit report to vanish/r.xml: {not_a_dir}"),
        format!("error: cannot write the HTML report to vanish/r.html: {not_a_dir}"),
    ] {
        assert!(stderr.contains(&line), "{line}\n{stderr}");
    }
}
