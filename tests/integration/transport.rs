//! The HTTP transport against hostile targets, end to end (audit 8): an
//! endless body stops at `target.max_body`, bytes that are not HTTP are
//! named as such in `run` and `conform`, a refused connect says so, and
//! HTTP/2 asked of a TLS server without it fails like a TLS problem.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use chatload::app::Exit;
use chatload::report::RunReport;

use crate::common::{DEMO_ENV, chatload, conform_remote, read_json, run_scenario, write_scenario};

/// A server on port 0 that answers every connection's first request with
/// `head`, then, when `endless`, a chunked body that never ends.
fn serve_raw(head: &'static [u8], endless: bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("test setup").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                if stream.write_all(head).is_err() || !endless {
                    return;
                }
                let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
                while stream.write_all(chunk.as_bytes()).is_ok() {}
            });
        }
    });
    port
}

/// The `actual` of the first failure sample of kind `kind`.
fn first_actual(report: &RunReport, kind: &str) -> String {
    report
        .failure_samples
        .iter()
        .find(|s| s.kind == kind)
        .and_then(|s| s.samples.first())
        .and_then(|s| s.actual.clone())
        .unwrap_or_else(|| panic!("no {kind} sample: {:#?}", report.failure_samples))
}

async fn run_once(port: u16, target: &str) -> (Exit, RunReport) {
    let dir = tempfile::tempdir().expect("test setup");
    let yaml = format!(
        "name: t\ntarget: {{base_url: \"http://127.0.0.1:{port}/v1\", app_id: a, secret: s{target}}}\nload: {{vus: 1, iterations: 1}}\nsteps:\n  - get_settings:\n"
    );
    let scenario = write_scenario(dir.path(), "t.yaml", &yaml);
    run_scenario(dir.path(), &scenario, &[]).await
}

// See: audit 8 finding 2. An endless body took one VU to 2.45 GB in 5 s and
// an allocation failure aborted the run with no report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_body_fails_its_request_at_max_body_and_counts_what_arrived() {
    let head =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    let port = serve_raw(head, true);
    let (exit, report) = run_once(port, ", timeout: 20s, max_body: 64KiB").await;
    assert_eq!(exit, Exit::Failed);
    let actual = first_actual(&report, "other");
    assert!(
        actual.contains("the 200 response's body passed the 64 KiB limit (target.max_body)"),
        "{actual}"
    );
    let received = report.routes[0].bytes_received;
    assert!(received > 64 * 1024 && received < 1024 * 1024, "{received}");
}

#[test]
fn max_body_must_be_a_size() {
    let dir = tempfile::tempdir().expect("test setup");
    for (value, says) in [("lots", "expected a size"), ("0", "more than 0")] {
        let path = write_scenario(
            dir.path(),
            "bad.yaml",
            &format!(
                "name: bad\ntarget:\n  max_body: {value}\nload: {{vus: 1, iterations: 1}}\nsteps:\n  - get_settings:\n"
            ),
        );
        let stderr = crate::common::usage_error(chatload().arg("validate").arg(&path));
        assert!(
            stderr.contains("target.max_body") && stderr.contains(says),
            "{stderr}"
        );
    }
}

const BAD_STATUS: &[u8] = b"HTTP/1.1 abc Whatever\r\ncontent-length: 2\r\n\r\n{}";
const GARBAGE: &[u8] = b"\x00\x01\x02 this is not http at all\r\n\r\n";

// See: audit 8 finding 12. A malformed response read as "the connection
// closed or was reset before the response arrived" (run) and "request
// failed" (conform).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_that_is_not_http_is_named_as_such_in_run() {
    for head in [BAD_STATUS, GARBAGE] {
        let (exit, report) = run_once(serve_raw(head, false), "").await;
        assert_eq!(exit, Exit::Failed);
        let actual = first_actual(&report, "other");
        assert!(
            actual.starts_with("the response was not valid HTTP: "),
            "{actual}"
        );
    }
}

#[test]
fn a_response_that_is_not_http_is_named_as_such_in_conform() {
    let port = serve_raw(GARBAGE, false);
    let dir = tempfile::tempdir().expect("test setup");
    let out_path = dir.path().join("c.json");
    let out = conform_remote(
        &format!("http://127.0.0.1:{port}/v1"),
        &["--out".as_ref(), out_path.as_os_str()],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("the response was not valid HTTP: it does not start with an HTTP version"),
        "{stdout}"
    );
    assert!(
        read_json(&out_path)
            .to_string()
            .contains("the response was not valid HTTP"),
    );
}

// See: audit 8 finding 11. A refused connect read "connection failed".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connect_says_refused() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("test setup");
        l.local_addr().expect("test setup").port()
    };
    let (exit, report) = run_once(port, "").await;
    assert_eq!(exit, Exit::RunFailed);
    assert_eq!(first_actual(&report, "connect"), "connection refused");
}

/// A TLS server for localhost that offers no ALPN protocol, as a server
/// without HTTP/2 may answer an offer of `h2` alone, and speaks HTTP/1.1.
fn http1_only_tls(dir: &std::path::Path) -> (u16, std::path::PathBuf) {
    let cert = chatload_mock::tls::generate_for_localhost().expect("test setup");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &cert.ca_pem).expect("test setup");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("test setup")
        .with_no_client_auth()
        .with_single_cert(cert.chain, cert.key)
        .expect("test setup");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("test setup").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                let Ok(session) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(session, stream);
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf);
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}");
            });
        }
    });
    (port, ca)
}

// See: audit 8 finding 8. `--http 2` and `--connection http2` against a TLS
// server without HTTP/2 ran over HTTP/1.1 and passed.
#[test]
fn http2_asked_of_a_server_without_it_fails_the_handshake() {
    let dir = tempfile::tempdir().expect("test setup");
    let (port, ca) = http1_only_tls(dir.path());
    let scenario = write_scenario(
        dir.path(),
        "s.yaml",
        "name: s\nload: {vus: 2, iterations: 2}\nsteps:\n  - get_settings:\n",
    );
    for asked in [["--http", "2"], ["--connection", "http2"]] {
        let out = chatload()
            .args(["run", "--quiet", "--target"])
            .arg(format!("https://localhost:{port}/v1"))
            .arg("--ca-cert")
            .arg(&ca)
            .args(asked)
            .arg("--out")
            .arg(dir.path().join("r.json"))
            .arg(&scenario)
            .envs(DEMO_ENV)
            .output()
            .expect("chatload runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{asked:?}: {stderr}");
        assert!(
            stderr.contains("error: the server did not agree to HTTP/2 by ALPN"),
            "{asked:?}: {stderr}"
        );
    }
}

// See: audit 8 finding 8, conform's side. `conform --http 2` against a TLS
// server without HTTP/2 failed its checks in reqwest's words; it now says
// what `run` says.
#[test]
fn conform_with_http2_asked_of_a_server_without_it_says_why() {
    let dir = tempfile::tempdir().expect("test setup");
    let (port, ca) = http1_only_tls(dir.path());
    let out_path = dir.path().join("c.json");
    let out = conform_remote(
        &format!("https://localhost:{port}/v1"),
        &[
            "--ca-cert".as_ref(),
            ca.as_os_str(),
            "--http".as_ref(),
            "2".as_ref(),
            "--out".as_ref(),
            out_path.as_os_str(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let said = "cannot connect: the server did not agree to HTTP/2 by ALPN";
    assert!(stdout.contains(said), "{stdout}\n{stderr}");
    assert!(read_json(&out_path).to_string().contains(said));
    // The suite gives up on such a target, saying why.
    assert!(
        stderr.contains("(the last: cannot connect: the server did not agree to HTTP/2 by ALPN"),
        "{stderr}"
    );
}

/// Audit 10, F6: under `ulimit -n 256`, most connects failed with nothing
/// said before the run; a run whose VUs' connections may not fit in the
/// open-files limit is now warned of before its load.
#[test]
fn a_run_whose_connections_may_not_fit_the_files_limit_is_warned_of_first() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = crate::common::write_scenario(
        dir.path(),
        "many.yaml",
        "name: many\nload: {vus: 300, iterations: 300}\nsteps:\n  - get_settings:\n",
    );
    let run = |limit: u32| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n {limit} 2>/dev/null; exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_chatload"))
            .arg("run")
            .arg(&scenario)
            .args(["--quiet", "--out"])
            .arg(dir.path().join(format!("r{limit}.json")))
            .output()
            .unwrap()
    };
    let low = String::from_utf8_lossy(&run(200).stderr).into_owned();
    assert!(
        low.contains("warning: this machine lets chatload open 200 files (ulimit -n)"),
        "{low}"
    );
    assert!(low.contains("300 connections at once"), "{low}");
    let enough = String::from_utf8_lossy(&run(4096).stderr).into_owned();
    assert!(!enough.contains("ulimit -n"), "{enough}");
}
