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

fn hostile_command(dir: &Path) -> std::process::Command {
    let mut cmd = chatload();
    cmd.current_dir(dir)
        .env("CHATLOAD_APP_ID", "hostile-app")
        .env("CHATLOAD_SECRET", SECRET)
        .env("CHATLOAD_DOMAIN_KEY", DOMAIN_KEY)
        .env("CHATLOAD_LOG", "debug");
    cmd
}

#[test]
fn a_run_against_a_reflecting_server_writes_no_secret_anywhere() {
    let addr = serve_in_thread(axum::Router::new().fallback(reflect));
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let scenario = write_scenario(
        dir.path(),
        "s.yaml",
        "name: hostile\nload: {vus: 1, iterations: 2}\nsteps:\n  - create_user:\n  \
         - create_chat:\n    on_error: continue\n  - get_settings:\n    on_error: continue\n",
    );
    let out = hostile_command(dir.path())
        .args(["run", "--quiet", "--verbose", "--target"])
        .arg(format!("http://{addr}/v1"))
        .arg("--out")
        .arg(out_dir.join("r.json"))
        .arg("--junit")
        .arg(out_dir.join("r.xml"))
        .arg("--html")
        .arg(out_dir.join("r.html"))
        .arg("--csv")
        .arg(out_dir.join("r.csv"))
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_no_secret(&out_dir, &out);
}

#[test]
fn a_webhook_registration_error_echoing_the_secret_is_masked() {
    let addr = serve_in_thread(axum::Router::new().fallback(reflect));
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let scenario = write_scenario(
        dir.path(),
        "s.yaml",
        "name: hostile\nload: {vus: 1, iterations: 1}\nwebhooks:\n  bind: 127.0.0.1:0\n  \
         settle: 0s\nsteps:\n  - get_settings:\n",
    );
    let out = hostile_command(dir.path())
        .args(["run", "--quiet", "--target"])
        .arg(format!("http://{addr}/v1"))
        .arg("--out")
        .arg(out_dir.join("r.json"))
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_no_secret(&out_dir, &out);
}

#[test]
fn conform_against_a_reflecting_server_writes_no_secret_anywhere() {
    let addr = serve_in_thread(axum::Router::new().fallback(reflect));
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = hostile_command(dir.path())
        .args(["conform", "--target"])
        .arg(format!("http://{addr}/v1"))
        .args(["--hook-url", "http://127.0.0.1:9/hook", "--out"])
        .arg(out_dir.join("c.json"))
        .arg("--junit")
        .arg(out_dir.join("c.xml"))
        .output()
        .unwrap();
    assert!(out.status.code().is_some(), "{out:?}");
    assert_no_secret(&out_dir, &out);
}
