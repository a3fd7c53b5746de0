//! A hostile target: a small axum server that reflects every credential it
//! is sent (in bodies, headers and error messages), and chatload's outputs
//! walked for the secrets: 0 occurrences in the terminal, the logs and every
//! file `run` and `conform` write.

use std::path::Path;

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::common::{chatload, serve_in_thread, write_scenario};

const SECRET: &str = "hostile-secret-4f8a9c";
const DOMAIN_KEY: &str = "hostile-domain-key-77e1";
/// The session token the server hands out, then echoes back.
const TOKEN: &str = "hostile-token-5b2d0e";

/// Answers a sign-up with a session token; everything else with a 400 (or
/// 401) that echoes every header it got, in its body and its headers.
async fn reflect(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let values: Vec<String> = headers
        .values()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    let echo = values.join(" ");
    if method == Method::POST && uri.path().ends_with("/users") {
        let body = serde_json::json!({
            "user": {"id": "u-1", "name": echo},
            "session": {"token": TOKEN, "expiration": 3600},
        });
        return (StatusCode::OK, axum::Json(body)).into_response();
    }
    let status = if values.iter().any(|v| v == TOKEN) {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    let body = serde_json::json!({
        "error": {"code": status.as_u16(), "message": format!("rejected credentials: {echo}")},
        "headers": values,
    });
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(v) = echo.parse() {
        response.headers_mut().insert("x-echo", v);
    }
    response
}

/// Every file under `dir`, and the process's stdout and stderr, must hold
/// none of the credentials.
fn assert_no_secret(dir: &Path, out: &std::process::Output) {
    let mut texts = vec![
        ("stdout".to_owned(), out.stdout.clone()),
        ("stderr".to_owned(), out.stderr.clone()),
    ];
    for entry in std::fs::read_dir(dir).expect("output dir") {
        let path = entry.expect("dir entry").path();
        let bytes = std::fs::read(&path).expect("output file");
        texts.push((path.display().to_string(), bytes));
    }
    for (name, bytes) in &texts {
        let text = String::from_utf8_lossy(bytes);
        for secret in [SECRET, DOMAIN_KEY, TOKEN] {
            assert_eq!(
                text.matches(secret).count(),
                0,
                "{secret} in {name}:\n{text}"
            );
        }
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        texts
            .iter()
            .any(|(_, b)| String::from_utf8_lossy(b).contains("MASKED")),
        "the server's echo reached no output, so nothing was tested:\n{stderr}"
    );
}

/// Runs chatload (`args`, then each `(flag, file)` of `outputs` with the
/// file in a fresh output directory) against a fresh reflecting server at
/// `{url}`, with the hostile credentials; asserts no secret in any output
/// and returns the exit code.
fn run_against_reflector(
    args: &[&str],
    outputs: &[(&str, &str)],
    scenario: Option<&str>,
) -> Option<i32> {
    let addr = serve_in_thread(axum::Router::new().fallback(reflect));
    let dir = tempfile::tempdir().expect("a temp dir");
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).expect("output dir");
    let mut cmd = chatload();
    cmd.current_dir(dir.path())
        .env("CHATLOAD_APP_ID", "hostile-app")
        .env("CHATLOAD_SECRET", SECRET)
        .env("CHATLOAD_DOMAIN_KEY", DOMAIN_KEY)
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
    assert_no_secret(&out_dir, &out);
    out.status.code()
}

#[test]
fn a_run_against_a_reflecting_server_writes_no_secret_anywhere() {
    let scenario = "name: hostile\nload: {vus: 1, iterations: 2}\nsteps:\n  - create_user:\n  \
         - create_chat:\n    on_error: continue\n  - get_settings:\n    on_error: continue\n";
    let outputs = [
        ("--out", "r.json"),
        ("--junit", "r.xml"),
        ("--html", "r.html"),
        ("--csv", "r.csv"),
    ];
    let exit = run_against_reflector(&["run", "--quiet", "--verbose"], &outputs, Some(scenario));
    assert_eq!(exit, Some(1));
}

#[test]
fn a_webhook_registration_error_echoing_the_secret_is_masked() {
    let scenario = "name: hostile\nload: {vus: 1, iterations: 1}\nwebhooks:\n  bind: 127.0.0.1:0\n  \
         settle: 0s\nsteps:\n  - get_settings:\n";
    let exit = run_against_reflector(&["run", "--quiet"], &[("--out", "r.json")], Some(scenario));
    assert_eq!(exit, Some(3));
}

#[test]
fn conform_against_a_reflecting_server_writes_no_secret_anywhere() {
    let args = ["conform", "--hook-url", "http://127.0.0.1:9/hook"];
    let exit = run_against_reflector(&args, &[("--out", "c.json"), ("--junit", "c.xml")], None);
    assert!(exit.is_some());
}
