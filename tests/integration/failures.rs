//! Failures that explain themselves (issue 10, point 4): samples of why steps failed in the
//! terminal summary, JSON, HTML and JUnit, bounded, with secrets masked; `errors_by_kind` counts
//! every failed step.

use std::path::Path;

use chatload::report::{FailureSamples, RunReport};

use crate::common::{chatload, run_scenario, target_block, write_scenario};
use chatload_mock::testing::{DEMO_SECRET, start_mock, start_mock_yaml};

/// What `chatload run --verbose` wrote: stdout, stderr, the JSON report, HTML and JUnit.
struct Outputs {
    exit: Option<i32>,
    stdout: String,
    stderr: String,
    json: String,
    html: String,
    junit: String,
}

impl Outputs {
    fn all(&self) -> [(&'static str, &str); 5] {
        [
            ("terminal", &self.stdout),
            ("stderr", &self.stderr),
            ("json", &self.json),
            ("html", &self.html),
            ("junit", &self.junit),
        ]
    }

    fn report(&self) -> RunReport {
        RunReport::from_json(self.json.as_bytes()).expect("report parses")
    }
}

/// Runs the binary on `yaml` with every report format and `logging`: `--verbose`, or
/// `CHATLOAD_LOG=debug` in its place.
async fn run_binary(dir: &Path, yaml: &str, logging: Logging) -> Outputs {
    let scenario = write_scenario(dir, "s.yaml", yaml);
    let (json, html, junit) = (dir.join("r.json"), dir.join("r.html"), dir.join("r.xml"));
    let mut command = chatload();
    command
        .args(["run", "--quiet", "--out"])
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .arg("--junit")
        .arg(&junit)
        .arg(&scenario);
    match logging {
        Logging::Verbose => command.arg("--verbose").env_remove("CHATLOAD_LOG"),
        Logging::DebugEnv => command.env("CHATLOAD_LOG", "debug"),
    };
    // The mock runs on this runtime: wait for the child off its worker threads.
    let out = tokio::task::spawn_blocking(move || command.output().expect("chatload runs"))
        .await
        .expect("joined");
    let read = |p: &Path| std::fs::read_to_string(p).expect("output written");
    Outputs {
        exit: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        json: read(&json),
        html: read(&html),
        junit: read(&junit),
    }
}

#[derive(Clone, Copy)]
enum Logging {
    Verbose,
    DebugEnv,
}

fn samples<'a>(report: &'a RunReport, step: &str, kind: &str) -> &'a FailureSamples {
    report
        .failure_samples
        .iter()
        .find(|e| e.step == step && e.kind == kind)
        .unwrap_or_else(|| {
            panic!(
                "no {kind} samples for {step}: {:#?}",
                report.failure_samples
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_names_path_expected_actual_and_api_message_everywhere() {
    let mock = start_mock_yaml(
        "faults:\n  routes:\n    getSettings:\n      error_rate: 1.0\n      status: 503\n",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: explained\n{}load: {{vus: 1, iterations: 2}}\nsteps:\n  \
         - create_user: {{name: Ada Lovelace}}\n    on_error: continue\n    \
         expect: {{body: {{user.name: Grace Hopper}}}}\n  \
         - get_settings:\n    expect: {{status: 200}}\n    on_error: continue\n  \
         - create_user: {{}}\n    name: grab\n    capture: {{nothing: user.nothing}}\n",
        target_block(&mock)
    );
    let out = run_binary(dir.path(), &yaml, Logging::Verbose).await;
    assert_eq!(out.exit, Some(1), "{}", out.stderr);

    let report = out.report();
    let body = samples(&report, "create_user", "expectation");
    assert_eq!((body.count, body.more, body.samples.len()), (2, 0, 2));
    let sample = &body.samples[0];
    assert_eq!(sample.check, "body /user/name eq \"Grace Hopper\"");
    assert_eq!(sample.path.as_deref(), Some("/user/name"));
    assert_eq!(sample.expected.as_deref(), Some("eq \"Grace Hopper\""));
    assert_eq!(sample.actual.as_deref(), Some("\"Ada Lovelace\""));
    assert_eq!(sample.status, Some(201));
    assert_eq!(sample.route.as_deref(), Some("POST /users"));
    assert_eq!((sample.vu, sample.iteration), (1, 0));
    assert_eq!(body.samples[1].iteration, 1);

    let status = samples(&report, "get_settings", "status");
    let sample = &status.samples[0];
    assert_eq!(sample.check, "status in [200]");
    assert_eq!(sample.actual.as_deref(), Some("503"));
    assert_eq!(sample.api_message.as_deref(), Some("Injected fault"));
    assert_eq!(sample.route.as_deref(), Some("GET /settings"));

    let capture = &samples(&report, "grab", "capture").samples[0];
    assert_eq!(capture.check, "capture nothing");
    assert_eq!(capture.path.as_deref(), Some("/user/nothing"));
    assert_eq!(capture.actual.as_deref(), Some("(absent)"));

    for (name, text) in [
        ("terminal", &out.stdout),
        ("html", &out.html),
        ("junit", &out.junit),
        ("verbose log", &out.stderr),
    ] {
        for needle in [
            "/user/name",
            "Grace Hopper",
            "Ada Lovelace",
            "503",
            "Injected fault",
        ] {
            assert!(text.contains(needle), "{name} lacks {needle}:\n{text}");
        }
    }
    assert!(out.stdout.contains("Why it failed"), "{}", out.stdout);
    assert!(out.html.contains("Why it failed"), "{}", out.html);
    assert!(
        out.stdout.contains(
            "POST /users → 201: body /user/name eq \"Grace Hopper\"; at /user/name expected \
             eq \"Grace Hopper\", actual \"Ada Lovelace\" (vu 1, iteration 0)"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("GET /settings -> 503"),
        "the verbose log shows the exchange: {}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_tokens_never_appear_in_any_output() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    // demo-secret is the target's secret: the first step makes the API echo it in a failing
    // value. `api_token` is named like a credential: its value is masked wherever it appears.
    // The third step fails a check on the session token itself; the fifth sends the captured
    // user token where the API echoes it under a harmless name; the sixth compares a name with
    // the captured token (the expected value is the token).
    let yaml = format!(
        "name: leaky\n{}variables: {{api_token: tok-1234567890}}\n\
         load: {{vus: 1, iterations: 1}}\nsteps:\n  \
         - create_user: {{name: 'echo demo-secret here'}}\n    on_error: continue\n    \
         expect: {{body: {{user.name: someone else}}}}\n  \
         - create_user:\n      name: '{{{{ api_token }}}}'\n    name: second\n    \
         on_error: continue\n    expect: {{body: {{user.name: someone else}}}}\n  \
         - create_user: {{}}\n    name: third\n    on_error: continue\n    \
         expect: {{body: {{session.token: {{exists: false}}}}}}\n  \
         - create_user: {{}}\n    name: fourth\n  \
         - create_user:\n      external_id: '{{{{ user_token }}}}'\n    name: fifth\n    \
         on_error: continue\n    expect: {{body: {{user.externalId: not the token}}}}\n  \
         - get_user: {{}}\n    name: sixth\n    \
         expect: {{body: {{user.name: '{{{{ user_token }}}}'}}}}\n",
        target_block(&mock)
    );
    let out = run_binary(dir.path(), &yaml, Logging::Verbose).await;
    assert_eq!(out.exit, Some(1), "{}", out.stderr);
    let report = out.report();

    for (step, path) in [
        ("create_user", "/user/name"),
        ("second", "/user/name"),
        ("third", "/session/token"),
        ("fifth", "/user/externalId"),
    ] {
        let sample = &samples(&report, step, "expectation").samples[0];
        assert_eq!(sample.path.as_deref(), Some(path), "{sample:?}");
        assert_eq!(
            sample.actual.as_deref(),
            Some("MASKED"),
            "{step}: {sample:?}"
        );
    }
    let against_token = &samples(&report, "sixth", "expectation").samples[0];
    assert_eq!(against_token.check, "body /user/name eq MASKED");
    assert_eq!(against_token.expected.as_deref(), Some("eq MASKED"));
    assert_ne!(
        against_token.actual.as_deref(),
        Some("MASKED"),
        "a name is no secret"
    );
    let samples_json = serde_json::to_string(&report.failure_samples).unwrap();
    for (name, text) in out.all() {
        assert!(
            !text.contains(DEMO_SECRET),
            "{name} leaks the secret:\n{text}"
        );
        assert!(
            !text.contains("tok-1234567890"),
            "{name} leaks a token:\n{text}"
        );
        // The mock's session tokens are 32 hex digits; the JSON report's histograms are base64,
        // so there only the failure samples are searched.
        let text = if name == "json" {
            samples_json.as_str()
        } else {
            text
        };
        assert!(
            !has_hex_run(text, 32),
            "{name} leaks a session token:\n{text}"
        );
    }
    assert!(
        out.stderr.contains("x-hyper-appid: MASKED"),
        "credential headers are listed, masked: {}",
        out.stderr
    );
}

/// True when `text` has `len` hex digits in a row.
fn has_hex_run(text: &str, len: usize) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        if run >= len {
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_failures_keep_five_samples_and_count_ninety_five_more() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: storm\n{}load: {{vus: 2, iterations: 100}}\nsteps:\n  \
         - get_settings:\n    expect: {{status: 418}}\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "storm.yaml", &yaml);
    let (_, report) = run_scenario(dir.path(), &path, &[]).await;
    let entry = samples(&report, "get_settings", "status");
    assert_eq!(entry.count, 100);
    assert_eq!(entry.samples.len(), 5);
    assert_eq!(entry.more, 95);
    let text = chatload::report::terminal::render(&report, false);
    assert!(text.contains("get_settings · status × 100"), "{text}");
    assert!(text.contains("… and 95 more"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_until_timeout_counts_in_errors_by_kind_and_says_what_it_saw() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: never\n{}load: {{vus: 1, iterations: 1}}\nsteps:\n  - create_user:\n  \
         - create_chat:\n  - wait_until:\n      step: {{get_chat: {{}}}}\n      \
         until: {{body: {{chat.status: nonexistent}}}}\n      timeout: 300ms\n      \
         interval: 100ms\n    name: wait_never\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "never.yaml", &yaml);
    let (_, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(
        report.errors_by_kind.get("expectation"),
        Some(&1),
        "{:?}",
        report.errors_by_kind
    );
    assert_eq!(report.request_errors_by_kind.get("expectation"), None);
    let sample = &samples(&report, "wait_never", "expectation").samples[0];
    assert_eq!(
        sample.check,
        "wait_until body /chat/status eq \"nonexistent\" not met by deadline (300ms)"
    );
    assert_eq!(sample.path.as_deref(), Some("/chat/status"));
    assert_eq!(sample.expected.as_deref(), Some("eq \"nonexistent\""));
    assert!(
        sample.actual.as_deref().is_some_and(|a| a.starts_with('"')),
        "{sample:?}"
    );
    assert_eq!(sample.route.as_deref(), Some("GET /chats/{chatId}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatload_log_debug_logs_failing_exchanges_with_credentials_masked() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: debug\n{}load: {{vus: 1, iterations: 1}}\nsteps:\n  - create_user:\n  \
         - create_chat:\n    expect: {{status: 418}}\n",
        target_block(&mock)
    );
    let out = run_binary(dir.path(), &yaml, Logging::DebugEnv).await;
    assert_eq!(out.exit, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("failed: step create_chat (status)")
            && out.stderr.contains("POST /chats -> 201")
            && out.stderr.contains("x-hyper-secret: MASKED"),
        "{}",
        out.stderr
    );
    for (name, text) in out.all() {
        assert!(
            !text.contains(DEMO_SECRET),
            "{name} leaks the secret:\n{text}"
        );
    }
}

/// A target that answers `200` with `Content-Length: 10000`, sends 20 bytes and closes, or
/// resets the connection without a response: each failure says what the transport saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_body_and_a_dropped_connection_say_what_happened() {
    use std::io::{Read, Write};
    for (mode, says) in [
        ("cut", "the 200 response was cut off"),
        (
            "drop",
            "the connection closed or was reset before the response arrived",
        ),
    ] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                if mode == "cut" {
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                          content-length: 10000\r\n\r\n{\"settings\": {\"a\": 1",
                    );
                }
                // Dropped: the response (if any) ends here.
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let yaml = format!(
            "name: cut\ntarget:\n  base_url: http://127.0.0.1:{port}/v1\n  app_id: a\n  \
             secret: s\nload: {{vus: 1, iterations: 1}}\nsteps:\n  - get_settings:\n"
        );
        let path = write_scenario(dir.path(), "cut.yaml", &yaml);
        let (_, report) = run_scenario(dir.path(), &path, &[]).await;
        let entry = samples(&report, "get_settings", "other");
        let actual = entry.samples[0].actual.clone().unwrap_or_default();
        assert!(actual.contains(says), "{mode}: {actual}");
    }
}

/// Audit 8 finding 7: a web server that answers every call with an HTML page
/// (a misrouted load balancer) fails the run with kind `decode` even with the
/// schema check off or sampled: the response's `Content-Type` is checked on
/// every response against the types the spec declares, and the sample names
/// the route, the status, the declared and the received type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_page_fails_the_run_whatever_schema_sampling_says() {
    use axum::http::header;
    const PAGE: &str = "<html><body><center><h1>Welcome to nginx!</h1></center></body></html>";
    let app = axum::Router::new()
        .fallback(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) });
    let addr = crate::common::serve_in_thread(app);
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: html\ntarget:\n  base_url: http://{addr}/v1\n  app_id: a\n  secret: s\n\
         load: {{vus: 1, iterations: 3}}\nsteps:\n  - get_settings:\n    on_error: continue\n  \
         - queue_status:\n"
    );
    let path = write_scenario(dir.path(), "html.yaml", &yaml);
    for schema in ["off", "sample=0.01"] {
        let (exit, report) = run_scenario(dir.path(), &path, &["--schema", schema]).await;
        assert_eq!(exit as i32, 1, "--schema {schema}: HTML answers must fail");
        assert_eq!(
            report.errors_by_kind.get("decode"),
            Some(&6),
            "--schema {schema}: {:?}",
            report.errors_by_kind
        );
        let sample = &samples(&report, "get_settings", "decode").samples[0];
        assert_eq!(
            sample.check, "Content-Type the spec declares for GET /settings 200",
            "{sample:?}"
        );
        assert_eq!(sample.expected.as_deref(), Some("application/json"));
        assert_eq!(sample.actual.as_deref(), Some("text/html; charset=utf-8"));
    }
}

/// See: re-verification of audit 7, finding 4 (a response whose body
/// matched its schema but whose `Content-Type` the spec does not declare
/// failed its step as `decode`, yet `schema_violations == 0` measured 0 and
/// a run gated on it alone passed). A checked response of an undeclared
/// type is a schema violation too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_of_an_undeclared_type_is_a_schema_violation() {
    use axum::http::header;
    let app = axum::Router::new()
        .fallback(|| async { ([(header::CONTENT_TYPE, "text/plain")], "{\"id\": \"x-1\"}") });
    let addr = crate::common::serve_in_thread(app);
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: plain\ntarget:\n  base_url: http://{addr}/v1\n  app_id: a\n  secret: s\n\
         load: {{vus: 1, iterations: 3}}\nthresholds:\n  - schema_violations == 0\n\
         steps:\n  - request: {{method: GET, path: /id}}\n"
    );
    let path = write_scenario(dir.path(), "plain.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &["--schema", "all"]).await;
    assert_eq!(exit as i32, 1, "a schema_violations gate must fail");
    let schema = report.schema.as_ref().expect("schema section");
    assert_eq!(schema.violations, 3, "{schema:?}");
    let sample = &schema.routes["GET /id"].samples[0];
    assert!(
        sample
            .reason
            .contains("Content-Type text/plain is not declared for status 200"),
        "{sample:?}"
    );
}
