//! Schemathesis against the mock (issue 13, point 5): every phase
//! (examples, coverage, fuzzing, stateful) and every check, a fixed number
//! of deterministic cases per operation,
//! must find 0 failures (settings: `schemathesis.toml` next to this file,
//! which says why 400 is expected from webhook registration). The pinned
//! version is installed by `.ci/run`
//! (`pip install schemathesis==4.32.5`). Without the `schemathesis` binary
//! the test is skipped with a message, unless `CI` is set: in CI its
//! absence is a failure. A run that only crashed inside Schemathesis's own
//! Python (CPython 3.11's `ast` race between its two workers) runs once more;
//! a failed check is never rerun.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use chatload_api::headers;
use chatload_mock::testing::{DEMO_APP, DEMO_SECRET};

/// The pinned version (also in `.ci/run`).
const VERSION: &str = "4.32.5";

/// Test cases per operation. A count, not a time budget: with a fixed seed
/// and deterministic generation every run sends the same cases, so the
/// verdict does not depend on the machine's speed (a `--max-time` budget
/// made the cases, and so the result, vary from run to run).
const MAX_EXAMPLES: u32 = 100;
/// The hard limit after which the child is killed: a guard against a hang,
/// not a speed target (the cases are fixed, so the verdict never depends on
/// speed). The run takes about 100-130 s on 2 cores next to the other mock
/// tests; 150 s failed once on this box while a release build ran beside it,
/// so the guard leaves room for a busy machine.
const HARD_LIMIT: Duration = Duration::from_secs(300);

/// `$SCHEMATHESIS`, or `schemathesis` on `PATH`.
fn binary() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("SCHEMATHESIS") {
        return Some(path.into());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("schemathesis"))
        .find(|candidate| candidate.is_file())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_in_any_phase() {
    let Some(binary) = binary() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no `schemathesis` binary is on PATH: .ci/run installs schemathesis=={VERSION}"
        );
        eprintln!(
            "SKIPPED schemathesis_finds_no_failure_in_any_phase: no `schemathesis` on PATH \
             (pip install schemathesis=={VERSION}; CI fails instead of skipping)"
        );
        return;
    };
    let mock = chatload_mock::testing::start_mock().await;
    let mut output = run(&binary, &mock.server.base_url()).await;
    // A crash inside Schemathesis's own Python is no verdict on the mock
    // either way: run it again once (a failed check never is rerun).
    if !output.status.success() && String::from_utf8_lossy(&output.stdout).contains(PYTHON_AST_RACE)
    {
        eprintln!("schemathesis hit CPython's ast race ({PYTHON_AST_RACE}); running it again once");
        output = run(&binary, &mock.server.base_url()).await;
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis {VERSION} found failures ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What CPython 3.11's `ast.parse` raises when two threads parse at once;
/// Hypothesis parses lambda sources to describe strategies, so with
/// `--workers 2` Schemathesis can report it as a "Runtime Error" of its own
/// (seen once in CI's first run of 2026-12-07, on `GET /agents/online`).
const PYTHON_AST_RACE: &str = "AST constructor recursion depth mismatch";

/// One Schemathesis run, every phase and check, against `base_url`.
async fn run(binary: &Path, base_url: &str) -> std::process::Output {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/agent-chat.openapi.yaml");
    // Its working directory too: Schemathesis keeps a crash cache
    // (`.schemathesis/`) there, which must not land in the source tree.
    let report = std::env::temp_dir().join(format!("chatload-st-{}", std::process::id()));
    std::fs::create_dir_all(&report).expect("report dir");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mock/schemathesis.toml");
    let child = tokio::process::Command::new(binary)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(&spec)
        .args(["--url", base_url])
        .args(["-H", &format!("{}: {DEMO_APP}", headers::APP_ID)])
        .args(["-H", &format!("{}: {DEMO_SECRET}", headers::SECRET)])
        .args(["--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", &MAX_EXAMPLES.to_string()])
        .arg("--generation-deterministic")
        .args(["--workers", "2", "--seed", "42", "--no-color"])
        .args(["--request-timeout", "10"])
        .arg("--report-dir")
        .arg(&report)
        .current_dir(&report)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("schemathesis starts");
    let output = tokio::time::timeout(HARD_LIMIT, child.wait_with_output())
        .await
        .expect("schemathesis ran past its hard limit")
        .expect("schemathesis output");
    let _ = std::fs::remove_dir_all(&report);
    output
}
