//! `chatload conform` against a broken server: the bundled mock behind a
//! middleware that breaks one rule of each kind of check (it accepts a
//! wrong secret on reads, answers 200 to a method a path does not serve,
//! 500 to a JSON body it rejects, accepts an update without a content
//! type, answers 200 to a message for a closed chat, rejects a
//! boundary-valid message, and labels `GET /id` as text). Every new kind of check must
//! fail, each with its reason; the verdict is the exit code 1.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::common::{DEMO_ENV, conform_remote, read_json, serve_built, serve_in_thread};

async fn corrupt(req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 22)
        .await
        .unwrap_or_default();
    if parts.method == Method::GET && parts.headers.contains_key("x-hyper-secret") {
        parts
            .headers
            .insert("x-hyper-secret", HeaderValue::from_static("demo-secret"));
    }
    let typed = parts.headers.get(header::CONTENT_TYPE).cloned();
    let json_body = !bytes.is_empty() && typed.as_ref().is_some_and(|t| t == "application/json");
    if !bytes.is_empty() && typed.is_none() && parts.method == Method::PUT {
        let json = HeaderValue::from_static("application/json");
        parts.headers.insert(header::CONTENT_TYPE, json);
    }
    let system = bytes.windows(15).any(|w| w == br#""type":"system""#);
    let path = parts.uri.path().to_owned();
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let envelope = |status: StatusCode| {
        let body = json!({"error": {"code": status.as_u16(), "message": "corrupted"}});
        (status, axum::Json(body)).into_response()
    };
    match response.status().as_u16() {
        _ if system && path.ends_with("/messages") => envelope(StatusCode::BAD_REQUEST),
        409 if path.ends_with("/messages") => {
            (StatusCode::OK, axum::Json(json!({}))).into_response()
        }
        405 => (StatusCode::OK, axum::Json(json!({}))).into_response(),
        400 if json_body => envelope(StatusCode::INTERNAL_SERVER_ERROR),
        _ if path.ends_with("/v1/id") => {
            let (mut parts, body) = response.into_parts();
            parts
                .headers
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            Response::from_parts(parts, body)
        }
        _ => response,
    }
}

/// `chatload conform --target BASE_URL ARGS...` started with its stdout going to `stdout`;
/// the process and its stderr, to be read line by line.
fn spawn_conform(
    base_url: &str,
    args: &[&std::ffi::OsStr],
    stdout: std::process::Stdio,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStderr>,
) {
    let mut child = crate::common::chatload()
        .args(["conform", "--target", base_url])
        .args(args)
        .envs(DEMO_ENV)
        .stderr(std::process::Stdio::piped())
        .stdout(stdout)
        .spawn()
        .expect("chatload conform starts");
    let stderr = std::io::BufReader::new(child.stderr.take().expect("piped"));
    (child, stderr)
}

/// `chatload conform` against `base_url`, writing `c.json` and `c.xml` into `dir`: what it
/// printed, and the paths of the two files.
fn conform_with_outputs(
    base_url: &str,
    dir: &std::path::Path,
) -> (std::process::Output, std::path::PathBuf, std::path::PathBuf) {
    let (out, junit) = outputs_in(dir);
    let run = conform_remote(base_url, &output_args(&out, &junit));
    (run, out, junit)
}

/// `c.json` and `c.xml` in `dir`.
fn outputs_in(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    (dir.join("c.json"), dir.join("c.xml"))
}

/// `--out OUT --junit JUNIT`.
fn output_args<'a>(
    out: &'a std::path::Path,
    junit: &'a std::path::Path,
) -> [&'a std::ffi::OsStr; 4] {
    [
        "--out".as_ref(),
        out.as_os_str(),
        "--junit".as_ref(),
        junit.as_os_str(),
    ]
}

#[test]
fn every_new_kind_of_check_fails_with_its_reason_against_a_broken_server() {
    let (rt, addr) = serve_built(|| {
        let state = chatload_mock::AppState::new(chatload_mock::MockConfig::default());
        chatload_mock::router(state).layer(axum::middleware::from_fn(corrupt))
    });
    let dir = tempfile::tempdir().unwrap();
    let (run, out, junit) = conform_with_outputs(&format!("http://{addr}/v1"), dir.path());
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    let report = read_json(&out);
    let checks = report["checks"].as_array().unwrap();
    let failed = |kind: &str, needle: &str| {
        checks.iter().any(|c| {
            c["kind"] == kind
                && c["passed"] == false
                && c["message"].as_str().is_some_and(|m| m.contains(needle))
        })
    };
    let expectations = [
        ("auth", "expected status [401, 403], got 200"),
        ("method", "expected status [405], got 200"),
        ("content_type", "expected status [400], got 2"),
        ("invalid_body", "got 500"),
        ("invalid_body", "minimal failing body: {"),
        ("boundary_body", "expected status [201], got 400"),
        ("boundary_body", "minimal failing body: {"),
        ("after_close", "expected status [409], got 200"),
        (
            "happy",
            "content type text/plain is not declared for status 200",
        ),
    ];
    for (kind, needle) in expectations {
        assert!(
            failed(kind, needle),
            "no failed {kind} check saying {needle:?}:\n{stdout}"
        );
    }
    assert!(stdout.contains("status coverage"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("minimal failing body"), "{xml}");
    drop(rt);
}

/// `conform` twice against one long-lived mock (a nightly job's rerun):
/// both pass. Unique fields (`x-unique`: a user's `externalId`) get the
/// run's own value at a boundary, and the 1-char `minLength` boundary of
/// `externalId`, which no run can make unique, is skipped with its reason
/// instead of colliding with the value an earlier run left.
#[test]
fn conform_passes_twice_against_one_mock() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mock = rt
        .block_on(chatload_mock::spawn(chatload_mock::MockConfig::default()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for run in 1..=2 {
        let out = dir.path().join(format!("c{run}.json"));
        let args = ["--out".as_ref(), out.as_os_str()];
        let done = conform_remote(&mock.base_url(), &args);
        let stdout = String::from_utf8_lossy(&done.stdout);
        assert_eq!(done.status.code(), Some(0), "run {run}: {stdout}");
        let report = read_json(&out);
        let skipped = report["skipped"].as_array().cloned().unwrap_or_default();
        assert!(
            skipped.iter().any(|s| s["operation"] == "updateUser"
                && s["name"]
                    .as_str()
                    .is_some_and(|n| n.contains("`externalId` is 1 chars"))
                && s["reason"].as_str().is_some_and(|r| r.contains("unique"))),
            "run {run}: {skipped:?}"
        );
        assert!(stdout.contains("skip --- updateUser"), "{stdout}");
        // See: audit 5, F3. The mock's simulated agents took the chat
        // first and "accept invitation" passed on 409: they are switched
        // off for the suite, so it sees the success itself.
        let checks = report["checks"].as_array().expect("checks");
        let accept = checks
            .iter()
            .find(|c| c["name"] == "accept invitation")
            .expect("an accept invitation check");
        assert_eq!(
            (&accept["status"], &accept["passed"], &accept["expected"]),
            (
                &serde_json::json!(200),
                &serde_json::json!(true),
                &serde_json::json!([200])
            ),
            "run {run}: {accept}"
        );
    }
    // ... their answers (not the agents: they stay online) were switched
    // off for the suite and handed back on.
    let simulation = rt.block_on(async {
        let url = format!(
            "{}/__mock/simulation",
            mock.base_url().trim_end_matches("/v1")
        );
        reqwest::get(url)
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    });
    assert_eq!(
        simulation["apps"]["demo-app"]["agents"], true,
        "{simulation}"
    );
    drop(mock);
}

/// A server that accepts connections and reads requests but never answers
/// (held streams on a std listener): `conform` gives up after
/// `GIVE_UP_SILENT` requests in a row time out, exits 3 saying so, and
/// still writes the checks it made, with progress lines on stderr meanwhile;
/// it created nothing, so its clean-up sends nothing and leaves nothing.
#[test]
fn conform_gives_up_on_a_target_that_never_answers() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = stream.try_clone().unwrap();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut reader, &mut std::io::sink());
            });
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let (run, out, junit) = conform_with_outputs(&format!("http://{addr}/v1"), dir.path());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    let silent = chatload::conform::GIVE_UP_SILENT;
    let why = format!(
        "the target does not answer: {silent} requests in a row got no HTTP response \
         (the last: timed out after 15 s waiting for the response head) and none ever did"
    );
    assert!(stderr.contains(&format!("error: {why}")), "{stderr}");
    assert!(
        stderr.contains("conform 1s: 0 checks, 0 failed; waiting for the first answer"),
        "{stderr}"
    );
    let report = read_json(&out);
    assert_eq!(report["checks"].as_array().unwrap().len(), silent);
    assert_eq!(report["stopped"], why.as_str());
    assert_eq!(report["interrupted"], false);
    assert_eq!(report["cleanup"]["chats_left"], 0, "nothing was created");
    assert_eq!(report["left_behind"], json!([]));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("the suite ran to its end"), "{xml}");
}

/// A target that refuses connections: `conform` stops after
/// `GIVE_UP_SILENT` refused requests instead of trying all of its checks.
#[test]
fn conform_gives_up_at_once_on_a_refused_connection() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.json");
    let run = conform_remote(
        &format!("http://{addr}/v1"),
        &["--out".as_ref(), out.as_os_str()],
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("(the last: cannot connect: connection refused) and none ever did"),
        "{stderr}"
    );
    let report = read_json(&out);
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), chatload::conform::GIVE_UP_SILENT);
}

/// Ctrl-C while the suite runs (against the mock slowed to 50 ms a request,
/// so it is still running): exit 130, and the JSON and the JUnit file hold
/// the checks made so far, marked interrupted.
#[cfg(unix)]
#[test]
fn ctrl_c_during_conform_writes_the_checks_made_so_far() {
    use std::io::BufRead;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(async {
        let state = chatload_mock::AppState::new(chatload_mock::MockConfig::default());
        chatload_mock::router(state).layer(axum::middleware::from_fn(
            |req: Request, next: Next| async move {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                next.run(req).await
            },
        ))
    });
    let addr = serve_in_thread(app);
    let dir = tempfile::tempdir().unwrap();
    let (out, junit) = outputs_in(dir.path());
    let args = output_args(&out, &junit);
    let (mut child, mut stderr) = spawn_conform(
        &format!("http://{addr}/v1"),
        &args,
        std::process::Stdio::null(),
    );
    let mut line = String::new();
    while !line.contains(" checks, ") {
        line.clear();
        assert_ne!(stderr.read_line(&mut line).unwrap(), 0, "stderr ended");
    }
    crate::common::interrupt(&child);
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let report = read_json(&out);
    assert_eq!(report["interrupted"], true);
    assert!(!report["checks"].as_array().unwrap().is_empty());
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"name="interrupted" value="true""#), "{xml}");
    drop(rt);
}

/// Flags a test server raises as the suite goes: a webhook was registered
/// (`POST /webhooks` answered 201), and, while `hold` is set, every
/// successful `DELETE /webhooks/{id}` with the real secret is held until it
/// is cleared (so the tour cannot delete its webhook before the test stops it).
#[derive(Default)]
struct Registered {
    hook: std::sync::atomic::AtomicBool,
    released: std::sync::atomic::AtomicBool,
}

/// The mock behind a middleware that raises [`Registered`]'s flags, holds the
/// tour's deletion of its webhook until released, and once the webhook is
/// registered slows every request by 50 ms.
fn mock_noting_the_webhook(flags: std::sync::Arc<Registered>) -> axum::Router {
    use std::sync::atomic::Ordering::SeqCst;
    let state = chatload_mock::AppState::new(chatload_mock::MockConfig::default());
    chatload_mock::router(state).layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let flags = flags.clone();
            async move {
                let (method, path) = (req.method().clone(), req.uri().path().to_owned());
                let secret = req.headers().get("x-hyper-secret").cloned();
                let real = secret.is_some_and(|s| s == "demo-secret");
                if flags.hook.load(SeqCst) {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                if method == Method::DELETE && path.contains("/webhooks/") && real {
                    while !flags.released.load(SeqCst) {
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                }
                let response = next.run(req).await;
                if method == Method::POST && path.ends_with("/webhooks") && response.status() == 201
                {
                    flags.hook.store(true, SeqCst);
                }
                response
            }
        },
    ))
}

/// The mock's open chats (waiting and active) and webhooks of `demo-app`.
fn open_chats_and_webhooks(rt: &tokio::runtime::Runtime, addr: std::net::SocketAddr) -> (u64, u64) {
    let state: serde_json::Value = rt.block_on(async {
        chatload_mock::testing::install_crypto();
        let url = format!("http://{addr}/__mock/state");
        let resp = reqwest::get(url).await.expect("the mock's state");
        resp.json().await.expect("the mock's state is JSON")
    });
    let app = &state["apps"]["demo-app"];
    let chats = &app["chats"];
    let count = |v: &serde_json::Value| v.as_u64().expect("a count");
    let open = count(&chats["waiting"]) + count(&chats["active"]);
    (open, count(&app["webhooks"]))
}

/// `chatload conform --out c.json --junit c.xml` against [`mock_noting_the_webhook`],
/// read on stderr until the suite has made checks and registered its webhook.
#[cfg(unix)]
struct HeldConform {
    rt: tokio::runtime::Runtime,
    flags: std::sync::Arc<Registered>,
    addr: std::net::SocketAddr,
    /// The mock's open chats and webhooks before the suite ran.
    before: (u64, u64),
    child: std::process::Child,
    stderr: std::io::BufReader<std::process::ChildStderr>,
    out: std::path::PathBuf,
    junit: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

#[cfg(unix)]
impl HeldConform {
    fn start() -> HeldConform {
        use std::sync::atomic::Ordering::SeqCst;
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        let flags = std::sync::Arc::new(Registered::default());
        let app = rt.block_on(async { mock_noting_the_webhook(flags.clone()) });
        let addr = serve_in_thread(app);
        let before = open_chats_and_webhooks(&rt, addr);
        let dir = tempfile::tempdir().expect("a temp dir");
        let (out, junit) = outputs_in(dir.path());
        let args = output_args(&out, &junit);
        let (child, stderr) = spawn_conform(
            &format!("http://{addr}/v1"),
            &args,
            std::process::Stdio::piped(),
        );
        let mut held = HeldConform {
            rt,
            flags,
            addr,
            before,
            child,
            stderr,
            out,
            junit,
            _dir: dir,
        };
        let flags = held.flags.clone();
        held.read_until(|line| line.contains(" checks, ") && flags.hook.load(SeqCst));
        held
    }

    /// Reads stderr line by line until `done` holds for a line.
    fn read_until(&mut self, done: impl Fn(&str) -> bool) {
        use std::io::BufRead;
        let mut line = String::new();
        while !done(&line) {
            line.clear();
            let read = self.stderr.read_line(&mut line).expect("stderr reads");
            assert_ne!(read, 0, "stderr ended");
        }
    }

    fn open_chats_and_webhooks(&self) -> (u64, u64) {
        open_chats_and_webhooks(&self.rt, self.addr)
    }

    /// Lets the suite's held webhook deletion through.
    fn release(&self) {
        self.flags
            .released
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Waits for the suite to exit, draining stderr: its output, its JSON
    /// report and its JUnit file.
    fn wait(self) -> (std::process::Output, serde_json::Value, String) {
        let mut stderr = self.stderr;
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        let done = self.child.wait_with_output().expect("conform exits");
        let junit = std::fs::read_to_string(&self.junit).unwrap_or_default();
        (done, read_json(&self.out), junit)
    }
}

/// Ctrl-C once the suite has opened its chat and registered its webhook
/// (the mock slowed from then on, the tour's own deletion of the webhook
/// held): the suite still closes the chat and deletes the webhook before it
/// exits 130, counts both in the JSON `cleanup`, leaves nothing behind, and
/// the mock holds no more open chats or webhooks than before the run.
#[cfg(unix)]
#[test]
fn ctrl_c_during_conform_closes_its_chats_and_deletes_its_webhook() {
    let held = HeldConform::start();
    let before = held.before;
    assert_eq!(
        held.open_chats_and_webhooks(),
        (before.0 + 1, before.1 + 1),
        "the chat and the webhook exist"
    );
    crate::common::interrupt(&held.child);
    held.release();
    let (rt, addr) = (tokio::runtime::Runtime::new().unwrap(), held.addr);
    let (done, report, _) = held.wait();
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert_eq!(done.status.code(), Some(130), "{stdout}");
    assert_eq!(report["interrupted"], true);
    let cleanup = &report["cleanup"];
    assert_eq!(cleanup["chats_closed"], 1, "{cleanup}");
    assert_eq!(cleanup["webhooks_deleted"], 1, "{cleanup}");
    assert_eq!(cleanup["chats_left"], 0, "{cleanup}");
    assert_eq!(cleanup["webhooks_left"], 0, "{cleanup}");
    assert_eq!(report["left_behind"], json!([]));
    assert!(
        stdout.contains("clean-up: 1 chats closed, 1 webhooks deleted; left behind: nothing"),
        "{stdout}"
    );
    assert_eq!(open_chats_and_webhooks(&rt, addr), before);
}

/// A second Ctrl-C while the clean-up waits on the target (its deletion of
/// the webhook held by the server) skips the rest of the clean-up at once:
/// the chat closed before it is counted, the webhook is left behind saying
/// the signal skipped it, in the JSON and as the failing JUnit case of the
/// clean-up, and the suite exits 130 without waiting out the 10 s limit.
#[cfg(unix)]
#[test]
fn a_second_ctrl_c_skips_the_rest_of_conforms_clean_up() {
    let mut held = HeldConform::start();
    crate::common::interrupt(&held.child);
    held.read_until(|line| line.contains("cleaning up what the suite created"));
    while held.open_chats_and_webhooks().0 != held.before.0 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let second = std::time::Instant::now();
    crate::common::interrupt(&held.child);
    let flags = held.flags.clone();
    let (done, report, xml) = held.wait();
    let waited = second.elapsed();
    flags
        .released
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(done.status.code(), Some(130));
    assert!(
        waited < std::time::Duration::from_secs(8),
        "the clean-up took {waited:?} after the second signal: it waited for its 10 s limit"
    );
    let cleanup = &report["cleanup"];
    assert_eq!(cleanup["chats_closed"], 1, "{cleanup}");
    assert_eq!(cleanup["webhooks_left"], 1, "{cleanup}");
    let left = report["left_behind"].as_array().unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    let left = left[0].as_str().unwrap();
    assert!(
        left.starts_with("webhook ") && left.ends_with(": a second signal skipped the clean-up"),
        "{left}"
    );
    let case = xml
        .split("<testcase ")
        .find(|c| c.contains("clean-up: nothing left on the target"))
        .expect("a clean-up case");
    assert!(case.contains("<failure") && case.contains(left), "{case}");
}

/// A target that stops answering once the suite registered its webhook
/// (the server shuts down, so every later connection is refused): the
/// suite gives up (exit 3), its clean-up cannot reach the target either
/// and ends, and the chat and the webhook are counted and listed as left
/// behind, with why, in the JSON and the summary.
#[test]
fn conform_that_gives_up_says_what_it_left_behind() {
    use std::sync::atomic::Ordering::SeqCst;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let flags = std::sync::Arc::new(Registered::default());
    flags.released.store(true, SeqCst);
    let app = rt.block_on(async { mock_noting_the_webhook(flags.clone()) });
    let watched = flags.clone();
    let shutdown = async move {
        while !watched.hook.load(SeqCst) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    let addr = crate::common::serve_in_thread_until(app, shutdown);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.json");
    let run = conform_remote(
        &format!("http://{addr}/v1"),
        &["--out".as_ref(), out.as_os_str()],
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(3), "{stdout}");
    let report = read_json(&out);
    assert!(
        report["stopped"]
            .as_str()
            .is_some_and(|s| s.starts_with("the target stopped answering")),
        "{}",
        report["stopped"]
    );
    let cleanup = &report["cleanup"];
    assert_eq!(cleanup["chats_left"], 1, "{cleanup}");
    assert_eq!(cleanup["webhooks_left"], 1, "{cleanup}");
    assert_eq!(cleanup["chats_closed"], 0, "{cleanup}");
    let left = report["left_behind"].as_array().unwrap();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left[0].as_str().unwrap().starts_with("chat ")
            && left[0]
                .as_str()
                .unwrap()
                .contains("closeChat got no response"),
        "{left:?}"
    );
    assert!(
        left[1].as_str().unwrap().starts_with("webhook "),
        "{left:?}"
    );
    assert!(stdout.contains("left behind: chat "), "{stdout}");
    drop(rt);
}
