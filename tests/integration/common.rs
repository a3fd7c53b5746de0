//! Helpers of the end-to-end tests beyond the shared
//! `chatload_mock::testing` (start a mock, its clients, credentials,
//! polling): run the CLI, write scenarios, read reports.

use std::path::{Path, PathBuf};

use chatload::app::{self, Exit};
use chatload::cli::Cli;
use chatload::report::RunReport;
use chatload_mock::MockServer;
use chatload_mock::testing::{DEMO_APP, DEMO_SECRET};
use clap::Parser;

/// The `chatload` binary built for these tests.
/// The bundled mock's demo app, as a run is given it through the environment.
pub const DEMO_ENV: [(&str, &str); 2] = [
    ("CHATLOAD_APP_ID", chatload_mock::testing::DEMO_APP),
    ("CHATLOAD_SECRET", chatload_mock::testing::DEMO_SECRET),
];

pub fn chatload() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_chatload"))
}

/// `chatload conform` against `base_url` with the demo app's credentials
/// (the mock's defaults) and `args`; its output once it exits.
pub fn conform_remote(base_url: &str, args: &[&std::ffi::OsStr]) -> std::process::Output {
    chatload()
        .args(["conform", "--target", base_url])
        .args(args)
        .envs(DEMO_ENV)
        .env("CHATLOAD_DOMAIN_KEY", "demo-domain-key")
        .output()
        .expect("chatload conform runs")
}

/// Starts `chatload run` on a scenario written into `dir` and returns the process and the path
/// its report will be written to, once the load is under way: the run's first progress
/// line (`[NAME 1s/...] ... | N requests, ...`, printed about a second into the load) has been
/// written. A signal sent after that meets a running load however slowly the machine started
/// it. The rest of stderr is drained in the background.
pub fn spawn_run_loaded(dir: &Path, name: &str, yaml: &str) -> (std::process::Child, PathBuf) {
    spawn_run_until(dir, name, yaml, &[], |line| {
        line.starts_with('[') && line.contains(" requests, ")
    })
}

/// Starts `chatload run ARGS... --out DIR/r.json` on a scenario written into `dir` and
/// returns the process and its report path once a line of its stderr satisfies `ready`
/// (the rest of stderr is drained in the background).
pub fn spawn_run_until(
    dir: &Path,
    name: &str,
    yaml: &str,
    args: &[&str],
    ready: fn(&str) -> bool,
) -> (std::process::Child, PathBuf) {
    let (child, report, _) = spawn_run_logged(dir, name, yaml, args, ready);
    (child, report)
}

/// [`spawn_run_until`], also returning every stderr line read so far (the
/// lines keep coming in until the process exits).
pub fn spawn_run_logged(
    dir: &Path,
    name: &str,
    yaml: &str,
    args: &[&str],
    ready: fn(&str) -> bool,
) -> (
    std::process::Child,
    PathBuf,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use std::io::BufRead;
    let path = write_scenario(dir, name, yaml);
    let report = dir.join("r.json");
    let mut child = chatload()
        .args(["run", "--out"])
        .arg(&report)
        .args(args)
        .arg(&path)
        .env_remove("TERM")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("chatload starts");
    let stderr = std::io::BufReader::new(child.stderr.take().expect("piped"));
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let kept = lines.clone();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in stderr.lines().map_while(Result::ok) {
            let is_ready = ready(&line);
            kept.lock().expect("lines").push(line);
            if is_ready && let Some(tx) = tx.take() {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(120))
        .expect("the run printed the awaited line");
    (child, report, lines)
}

/// Sends SIGINT to a child process, as Ctrl-C would.
#[cfg(unix)]
pub fn interrupt(child: &std::process::Child) {
    send_signal(child, "INT");
}

/// Sends the signal named `name` (`INT`, `TERM`) to a child process.
#[cfg(unix)]
pub fn send_signal(child: &std::process::Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "SIG{name} delivered");
}

/// Waits for a run stopped by a signal: it must exit 130 and still write
/// its report, marked interrupted; returns that report.
#[cfg(unix)]
pub fn interrupted_report(child: &mut std::process::Child, report: &Path) -> serde_json::Value {
    let status = child.wait().expect("chatload exits");
    assert_eq!(status.code(), Some(130));
    let json = read_json(report);
    assert_eq!(json["meta"]["interrupted"], true, "{}", json["meta"]);
    json
}

/// Runs `command`, which must succeed (exit 0; its stderr shown when it does not).
pub fn succeeds(command: &mut std::process::Command) -> std::process::Output {
    let out = command.output().expect("chatload runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `command`, which must refuse what it was given as a usage error
/// (exit 2); returns what it wrote to stderr.
pub fn usage_error(command: &mut std::process::Command) -> String {
    let out = command.output().expect("chatload runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    stderr
}

/// The JSON file at `path` (a report, `chatload merge`'s or `conform`'s output).
pub fn read_json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).expect("valid JSON")
}

/// Writes a scenario into `dir` and returns its path.
pub fn write_scenario(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, yaml).expect("write scenario");
    path
}

/// Runs `chatload run SCENARIO ARGS... --out DIR/report.json` in process and
/// returns the exit code and the parsed report.
pub async fn run_scenario(dir: &Path, scenario: &Path, args: &[&str]) -> (Exit, RunReport) {
    let out = dir.join(format!(
        "report-{}.json",
        scenario.file_stem().and_then(|s| s.to_str()).unwrap_or("x")
    ));
    let mut argv: Vec<String> = vec![
        "chatload".into(),
        "run".into(),
        scenario.display().to_string(),
        "--quiet".into(),
    ];
    argv.extend(args.iter().map(|s| (*s).to_owned()));
    argv.extend(["--out".to_owned(), out.display().to_string()]);
    let cli = Cli::try_parse_from(&argv).expect("valid command line");
    let exit = match app::run(cli).await {
        Ok(exit) => exit,
        Err(e) => panic!("run failed ({:?}): {:#}", e.exit, e.error),
    };
    let bytes = std::fs::read(&out).expect("report written");
    // Every report a test sees must match the published report schema.
    let schema: serde_json::Value =
        serde_json::from_str(chatload::report::SCHEMA_JSON).expect("schema is JSON");
    let instance: serde_json::Value = serde_json::from_slice(&bytes).expect("report is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    if let Some(e) = validator.iter_errors(&instance).next() {
        panic!(
            "report does not match report.schema.json at {}: {e}",
            e.instance_path()
        );
    }
    (exit, RunReport::from_json(&bytes).expect("report parses"))
}

/// The step named `name` in a report.
pub fn step<'a>(report: &'a RunReport, name: &str) -> &'a chatload::report::StatsReport {
    report
        .steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name}"))
}

/// A scenario `target:` block pointing at a mock's demo app.
pub fn target_block(mock: &MockServer) -> String {
    format!(
        "target:\n  base_url: {}\n  app_id: {DEMO_APP}\n  secret: {DEMO_SECRET}\n",
        mock.base_url()
    )
}

/// Runs `body` (a scenario without `name:` and `target:`) as scenario
/// `name` against `mock`'s demo app in room 1, written into `dir`.
pub async fn run_in_room_1(
    mock: &MockServer,
    dir: &Path,
    name: &str,
    body: &str,
) -> (Exit, RunReport) {
    let yaml = format!("name: {name}\n{}  room: 1\n{body}", target_block(mock));
    let path = write_scenario(dir, &format!("{name}.yaml"), &yaml);
    run_scenario(dir, &path, &[]).await
}

/// Each threshold's text and whether it passed, in the report's order.
pub fn threshold_results(report: &RunReport) -> Vec<(String, bool)> {
    report
        .verdict
        .as_ref()
        .map(|v| {
            v.thresholds
                .iter()
                .map(|r| (r.threshold.clone(), r.passed))
                .collect()
        })
        .unwrap_or_default()
}

/// Serves `app` on 127.0.0.1:0 from its own thread and runtime (for a
/// hand-made target: a hostile or stalled server); lives until the test
/// process ends.
pub fn serve_in_thread(app: axum::Router) -> std::net::SocketAddr {
    serve_in_thread_until(app, std::future::pending())
}

/// [`serve_in_thread`] until `shutdown` resolves; the listener then closes.
pub fn serve_in_thread_until(
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the test server");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            let addr = listener.local_addr().expect("bound address");
            tx.send(addr).expect("the test waits for the address");
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
                .expect("serve");
        });
    });
    rx.recv().expect("the test server starts")
}

/// Credentials a run is given through the environment: App ID, secret,
/// domain key.
pub struct EnvCredentials<'a> {
    pub app_id: &'a str,
    pub secret: &'a str,
    pub domain_key: &'a str,
}

/// Runs chatload against `app` (served on port 0) with `credentials`,
/// `args`, each `(flag, file)` output in a fresh `out/` directory and, when
/// given, `scenario` written to a file; debug logging on, so the logs are
/// outputs too. Returns its output, the output directory and the temp dir
/// that holds it.
pub fn run_against_with(
    app: axum::Router,
    credentials: &EnvCredentials<'_>,
    args: &[&str],
    outputs: &[(&str, &str)],
    scenario: Option<&str>,
) -> (std::process::Output, PathBuf, tempfile::TempDir) {
    let addr = serve_in_thread(app);
    let dir = tempfile::tempdir().expect("a temp dir");
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).expect("output dir");
    let mut cmd = chatload();
    cmd.current_dir(dir.path())
        .env("CHATLOAD_APP_ID", credentials.app_id)
        .env("CHATLOAD_SECRET", credentials.secret)
        .env("CHATLOAD_DOMAIN_KEY", credentials.domain_key)
        .env("CHATLOAD_LOG", "debug")
        .args(args)
        .args(["--target", &format!("http://{addr}/v1")]);
    for (flag, file) in outputs {
        cmd.arg(flag).arg(out_dir.join(file));
    }
    if let Some(yaml) = scenario {
        cmd.arg(write_scenario(dir.path(), "s.yaml", yaml));
    }
    let out = cmd.output().expect("chatload runs");
    (out, out_dir, dir)
}

/// Serves the app `build` makes (a mock router with a layer, say) on port
/// 0; the runtime it was built on is returned so its tasks live as long as
/// the caller keeps it.
pub fn serve_built(
    build: impl FnOnce() -> axum::Router,
) -> (tokio::runtime::Runtime, std::net::SocketAddr) {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let app = rt.block_on(async { build() });
    (rt, serve_in_thread(app))
}
