//! Bounded shutdown. The end-of-run clean-up against a target that never
//! answers a close: it ends at its time limit, or at a second signal, and the
//! report lists the chats it left open by id. A target that dies mid-run:
//! each virtual user backs off instead of looping on connection errors.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chatload::report::{CleanupReport, CleanupStopReason};

#[cfg(unix)]
use crate::common::interrupt;
use crate::common::{chatload, read_json, run_scenario, serve_in_thread, write_scenario};

/// Close requests the stalled target received.
#[derive(Clone, Default)]
pub(crate) struct Stalled {
    pub(crate) chats: Arc<AtomicU64>,
    pub(crate) closes: Arc<AtomicU64>,
}

/// Signs users up and opens chats at once; never answers a `DELETE`.
async fn stalled(State(s): State<Stalled>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if method == Method::DELETE {
        s.closes.fetch_add(1, Ordering::SeqCst);
        return std::future::pending().await;
    }
    let body = if path.ends_with("/users") {
        serde_json::json!({"user": {"id": "u-1"}, "session": {"token": "t-123456"}})
    } else if path.ends_with("/chats") {
        let n = s.chats.fetch_add(1, Ordering::SeqCst);
        serde_json::json!({"chat": {"id": format!("chat-{n}")}})
    } else {
        serde_json::json!({})
    };
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

pub(crate) fn start_stalled() -> (String, Stalled) {
    let state = Stalled::default();
    let app = axum::Router::new()
        .fallback(stalled)
        .with_state(state.clone());
    (format!("http://{}/v1", serve_in_thread(app)), state)
}

/// Three iterations, each leaving its chat open.
pub(crate) fn scenario(base_url: &str, extra: &str) -> String {
    format!(
        "name: leftovers\ntarget: {{base_url: '{base_url}', app_id: app, secret: s3cret-value}}\n\
         load: {{vus: 1, iterations: 3}}\n{extra}steps:\n  - create_user:\n  - create_chat:\n"
    )
}

const LEFT_OPEN: [&str; 3] = ["chat-0", "chat-1", "chat-2"];

/// Runs the three-iteration scenario with `extra` scenario lines and `args`
/// against a stalled target; returns its clean-up section.
async fn clean_up_section(extra: &str, args: &[&str]) -> CleanupReport {
    let (url, _) = start_stalled();
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = write_scenario(dir.path(), "s.yaml", &scenario(&url, extra));
    let (_, report) = run_scenario(dir.path(), &path, args).await;
    report.cleanup.expect("a clean-up section")
}

#[tokio::test]
async fn the_clean_up_ends_at_its_time_limit_and_lists_what_it_left_open() {
    let cleanup = clean_up_section("cleanup_timeout: 200ms\n", &["--schema", "off"]).await;
    assert_eq!(cleanup.attempted, 3);
    assert_eq!(cleanup.closed, 0);
    assert_eq!(cleanup.left_open, 3);
    assert_eq!(cleanup.left_open_ids, LEFT_OPEN);
    assert_eq!(cleanup.stopped, Some(CleanupStopReason::TimeLimit));
    assert!((cleanup.limit_secs - 0.2).abs() < 1e-9);
}

#[tokio::test]
async fn the_command_line_sets_the_clean_up_limit() {
    let args = ["--schema", "off", "--cleanup-timeout", "100ms"];
    let cleanup = clean_up_section("cleanup_timeout: 1h\n", &args).await;
    assert_eq!(cleanup.stopped, Some(CleanupStopReason::TimeLimit));
    assert!((cleanup.limit_secs - 0.1).abs() < 1e-9);
}

/// `chatload run --quiet --schema off ARGS` on `scenario`, writing its
/// report and JUnit file into `dir`.
fn run_command(dir: &Path, scenario: &Path, args: &[&str]) -> std::process::Command {
    let mut command = chatload();
    command
        .args(["run", "--quiet", "--schema", "off"])
        .args(args)
        .arg("--out")
        .arg(dir.join("r.json"))
        .arg("--junit")
        .arg(dir.join("r.xml"))
        .arg(scenario);
    command
}

/// The report in `dir` stopped its clean-up for `stopped` and lists the
/// three chats left open; its JUnit file and `stdout` say so, `because`.
fn assert_left_open(dir: &Path, stdout: &[u8], stopped: &str, because: &str) {
    let json = read_json(&dir.join("r.json"));
    let cleanup = &json["cleanup"];
    assert_eq!(cleanup["stopped"], stopped, "{cleanup}");
    assert_eq!(cleanup["left_open"], 3, "{cleanup}");
    assert_eq!(cleanup["left_open_ids"], serde_json::json!(LEFT_OPEN));
    let xml = std::fs::read_to_string(dir.join("r.xml")).expect("a JUnit file");
    let stdout = String::from_utf8_lossy(stdout);
    let line = format!("3 still open ({because}): chat-0, chat-1, chat-2");
    for text in [&*xml, &*stdout] {
        assert!(text.contains(&line), "{text}");
    }
}

/// Polls `what` every 50 ms for up to 30 s; true once it holds.
fn eventually(what: impl Fn() -> bool) -> bool {
    (0..600).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        what()
    })
}

/// With an hour-long limit, a signal during the load and a second one
/// during the clean-up: the clean-up ends at the second, the run is
/// interrupted (exit 130), and its report and summary name the chats left
/// open.
#[cfg(unix)]
#[test]
fn a_second_signal_stops_the_clean_up_and_the_report_lists_the_chats_left_open() {
    let (url, target) = start_stalled();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: leftovers\ntarget: {{base_url: '{url}', app_id: app, secret: s3cret-value}}\n\
         load: {{vus: 1, duration: 1h}}\ncleanup_timeout: 1h\nsteps:\n  - create_user:\n  \
         - create_chat:\n    think: 20ms\n"
    );
    let path = write_scenario(dir.path(), "s.yaml", &yaml);
    let child = run_command(dir.path(), &path, &[])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The load is under way once a chat is open; the clean-up once the
    // target sees a close request.
    assert!(eventually(|| target.chats.load(Ordering::SeqCst) > 0));
    interrupt(&child);
    assert!(
        eventually(|| target.closes.load(Ordering::SeqCst) > 0),
        "no clean-up started"
    );
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let json = read_json(&dir.path().join("r.json"));
    assert_eq!(json["meta"]["interrupted"], true, "{}", json["meta"]);
    let cleanup = &json["cleanup"];
    assert_eq!(cleanup["stopped"], "signal", "{cleanup}");
    let opened = target.chats.load(Ordering::SeqCst);
    assert_eq!(cleanup["left_open"], opened, "{cleanup}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = format!("{opened} still open (stopped by a signal): chat-0");
    assert!(stdout.contains(&line), "{stdout}");
}

/// Audit 8, finding 10: a signal during the end-of-run clean-up (the load
/// over, every iteration completed) made the passing run "FAILED ... results
/// are partial", exit 130, and did not even shorten the clean-up. Now the
/// first such signal (SIGINT or SIGTERM) ends the clean-up at once, its
/// section says a signal stopped it and lists the chats left open, the run
/// is not interrupted and exits with its verdict's code (passed: 0).
#[cfg(unix)]
#[test]
fn a_signal_after_the_load_ends_the_clean_up_and_keeps_the_verdict() {
    for signal in ["INT", "TERM"] {
        let (url, target) = start_stalled();
        let dir = tempfile::tempdir().unwrap();
        let path = write_scenario(
            dir.path(),
            "s.yaml",
            &scenario(&url, "cleanup_timeout: 1h\n"),
        );
        let mut child = run_command(dir.path(), &path, &[])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The clean-up has started once the target sees a close request.
        for _ in 0..600 {
            if target.closes.load(Ordering::SeqCst) > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            target.closes.load(Ordering::SeqCst) > 0,
            "no clean-up started"
        );
        crate::common::send_signal(&child, signal);
        // Generous: the clean-up's own limit is an hour.
        let ended = (0..1200).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            child.try_wait().unwrap().is_some()
        });
        if !ended {
            child.kill().unwrap();
            panic!("SIG{signal} did not end the clean-up");
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "SIG{signal}");
        assert_left_open(dir.path(), &out.stdout, "signal", "stopped by a signal");
        let json = read_json(&dir.path().join("r.json"));
        assert_eq!(json["meta"]["interrupted"], false, "{}", json["meta"]);
        assert_eq!(json["meta"]["stopped_by_signal"], false);
        assert_eq!(json["verdict"]["interrupted"], false);
        assert_eq!(json["verdict"]["passed"], true, "{}", json["verdict"]);
        assert_eq!(json["totals"]["iterations"], 3, "{}", json["totals"]);
        assert_eq!(json["totals"]["cut_off_iterations"], 0);
    }
}

/// `--no-cleanup` closes nothing, and the summary, JSON and JUnit name
/// every chat it left open.
#[test]
fn no_cleanup_names_the_chats_it_left_open_in_the_summary_and_every_report() {
    let (url, target) = start_stalled();
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(dir.path(), "s.yaml", &scenario(&url, ""));
    let out = run_command(dir.path(), &path, &["--no-cleanup"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(target.closes.load(Ordering::SeqCst), 0, "nothing closed");
    assert_left_open(
        dir.path(),
        &out.stdout,
        "disabled",
        "clean-up off: --no-cleanup or cleanup: false",
    );
}

/// Answers `answers` requests, then shuts down: later connections are refused.
fn dying_target(answers: u64) -> String {
    let count = Arc::new(AtomicU64::new(0));
    let done = Arc::new(tokio::sync::Notify::new());
    let stop = done.clone();
    let app = axum::Router::new().fallback(move || {
        let (count, done) = (count.clone(), done.clone());
        async move {
            if count.fetch_add(1, Ordering::SeqCst) + 1 >= answers {
                done.notify_one();
            }
            axum::Json(serde_json::json!({}))
        }
    });
    let addr = crate::common::serve_in_thread_until(app, async move { stop.notified().await });
    format!("http://{addr}/v1")
}

/// Connection errors one virtual user can make in `secs` while backing off:
/// the attempts whose waits (`connect_backoff(1..)`) add up to at most `secs`.
fn attempts_within(secs: f64) -> u64 {
    let (mut waited, mut attempts) = (Duration::ZERO, 1);
    loop {
        waited += chatload::engine::connect_backoff(attempts as u32);
        if waited.as_secs_f64() > secs {
            return attempts;
        }
        attempts += 1;
    }
}

/// Runs 2 users for 2 s against `url` with `get_settings` (errors
/// continue); returns the errors and the run's whole duration.
async fn errors_against(url: &str) -> (u64, f64) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let yaml = format!(
        "name: dies\ntarget: {{base_url: '{url}', app_id: app, secret: s3cret-value}}\n\
         load: {{vus: 2, duration: 2s, graceful_stop: 1s}}\n\
         steps:\n  - get_settings:\n    on_error: continue\n"
    );
    let path = write_scenario(dir.path(), "s.yaml", &yaml);
    let (_, report) = run_scenario(dir.path(), &path, &["--schema", "off"]).await;
    (report.totals.errors, report.meta.duration_secs)
}

#[tokio::test]
async fn a_target_that_dies_mid_run_gets_a_bounded_number_of_attempts_per_user() {
    let (errors, secs) = errors_against(&dying_target(4)).await;
    // Per user: the attempts its back-off allows over the whole run.
    let bound = 2 * attempts_within(secs);
    assert!(errors >= 2, "the target died, so requests failed: {errors}");
    assert!(
        errors <= bound,
        "{errors} errors in {secs} s; back-off allows {bound}"
    );
}

/// Accepts every connection and closes it at once, answering nothing.
fn hanging_up_target() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("bound address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    format!("http://{addr}/v1")
}

#[tokio::test]
async fn a_target_that_hangs_up_on_every_request_is_backed_off_too() {
    let (errors, secs) = errors_against(&hanging_up_target()).await;
    let bound = 2 * attempts_within(secs);
    assert!(errors >= 2, "every request failed: {errors}");
    assert!(
        errors <= bound,
        "{errors} errors in {secs} s; back-off allows {bound}"
    );
}
