//! A hostile target: a small axum server that reflects every credential it
//! is sent (in bodies, headers and error messages), and chatload's outputs
//! walked for the secrets: 0 occurrences in the terminal, the logs and every
//! file `run` and `conform` write.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::common::{EnvCredentials, chatload, run_against_with, usage_error, write_scenario};

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
    assert_none_of(dir, out, &[SECRET, DOMAIN_KEY, TOKEN]);
}

/// Every file under `dir`, and the process's stdout and stderr, must hold
/// none of `needles`; some output must show `MASKED` (the echo was seen).
fn assert_none_of(dir: &Path, out: &std::process::Output, needles: &[&str]) {
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
        for secret in needles {
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
    let app = axum::Router::new().fallback(reflect);
    let (out, out_dir, _dir) = run_against(app, args, outputs, scenario);
    assert_no_secret(&out_dir, &out);
    out.status.code()
}

/// Runs chatload as [`run_against_reflector`] does, against `app`; returns
/// its output, the output directory and the temp dir that holds it.
fn run_against(
    app: axum::Router,
    args: &[&str],
    outputs: &[(&str, &str)],
    scenario: Option<&str>,
) -> (std::process::Output, std::path::PathBuf, tempfile::TempDir) {
    let credentials = EnvCredentials {
        app_id: "hostile-app",
        secret: SECRET,
        domain_key: DOMAIN_KEY,
    };
    run_against_with(app, &credentials, args, outputs, scenario)
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

/// Every output file a run writes.
const ALL_OUTPUTS: [(&str, &str); 4] = [
    ("--out", "r.json"),
    ("--junit", "r.xml"),
    ("--html", "r.html"),
    ("--csv", "r.csv"),
];

/// The credential of the scenario's `Authorization: Bearer …` header.
const BEARER: &str = "Zq8-hostile-bearer-3e9a";

/// A `target.headers` bearer token, echoed without its `Bearer ` prefix
/// (`invalid bearer token <credential>`), was printed in full: the
/// redactor knew only the whole header value.
#[test]
fn a_bearer_credential_echoed_without_its_scheme_is_masked() {
    let app = axum::Router::new().fallback(|headers: HeaderMap| async move {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
        let credential = auth
            .unwrap_or_default()
            .rsplit(' ')
            .next()
            .unwrap_or_default();
        let body = serde_json::json!({"error": {"code": 401,
            "message": format!("invalid bearer token {credential}")}});
        (StatusCode::UNAUTHORIZED, axum::Json(body))
    });
    let scenario = format!(
        "name: bearer\ntarget:\n  headers: {{Authorization: \"Bearer {BEARER}\"}}\n\
         load: {{vus: 1, iterations: 2}}\nsteps:\n  - get_settings:\n"
    );
    let args = ["run", "--quiet", "--verbose"];
    let (out, dir, _tmp) = run_against(app, &args, &ALL_OUTPUTS, Some(&scenario));
    assert_none_of(&dir, &out, &[BEARER]);
    assert_eq!(out.status.code(), Some(1));
}

/// Messages and bodies were cut at 200 characters before masking: a cut
/// inside an echoed `Authorization` value printed its first characters, and
/// with `--verbose` the varying cuts gave all of it but its last character.
#[test]
fn a_cut_never_shows_part_of_an_echoed_credential() {
    let count = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let n = count.fetch_add(1, Ordering::Relaxed);
        async move {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
            // Cuts at 200 characters fall before, inside and after the value.
            let message = format!("{}{} end", "x".repeat(170 + n % 40), auth.unwrap_or("-"));
            let body = serde_json::json!({"error": {"code": 500, "message": message}});
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body))
        }
    });
    let scenario = format!(
        "name: cut\ntarget:\n  headers: {{Authorization: \"Bearer {BEARER}\"}}\n\
         load: {{vus: 1, iterations: 40}}\nsteps:\n  - get_settings:\n"
    );
    let args = ["run", "--quiet", "--verbose"];
    let (out, dir, _tmp) = run_against(app, &args, &ALL_OUTPUTS, Some(&scenario));
    // Not even the credential's first four characters.
    assert_none_of(&dir, &out, &[&BEARER[..4], "Bearer Z"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for half in 1..6 {
        let cut = format!("{}…", &"MASKED"[..half]);
        assert!(!stderr.contains(&cut), "a cut marker {cut}:\n{stderr}");
    }
}

/// A session token was known to the redactor only after a failure in its
/// own session, so a server naming an earlier user's token in another
/// session's error printed it raw. Here iteration 1's user never fails; the
/// later iterations' errors name the token handed out before theirs.
#[test]
fn a_token_another_session_captured_is_masked() {
    let users = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri| {
        let users = Arc::clone(&users);
        async move {
            if method == Method::POST && uri.path().ends_with("/users") {
                let n = users.fetch_add(1, Ordering::Relaxed) + 1;
                let body = serde_json::json!({"user": {"id": format!("u-{n}"), "name": "n"},
                    "session": {"token": format!("xs-token-{n:04}-zz"), "expiration": 3600}});
                return (StatusCode::CREATED, axum::Json(body));
            }
            let n = users.load(Ordering::Relaxed);
            if n < 2 {
                let body = serde_json::json!({"user": {"id": "u-1", "name": "n"}});
                return (StatusCode::OK, axum::Json(body));
            }
            let message = format!("session conflict with xs-token-{:04}-zz", n - 1);
            let body = serde_json::json!({"error": {"code": 500, "message": message}});
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body))
        }
    });
    let scenario = "name: xs\nload: {vus: 1, iterations: 3}\nsteps:\n  - create_user:\n  \
         - get_user:\n";
    // Schemas off: the server's minimal answers are not what is tested.
    let args = ["run", "--quiet", "--verbose", "--schema", "off"];
    let (out, dir, _tmp) = run_against(app, &args, &ALL_OUTPUTS, Some(scenario));
    assert_none_of(&dir, &out, &["xs-token-"]);
    assert_eq!(out.status.code(), Some(1));
}

/// `http://user:password@host/v1` was accepted, its credentials silently
/// not sent, and the URL printed as it was (terminal `target`, JSON
/// `meta.target`). Refused as a usage error that does not quote it, from
/// `--target` (`run`, `conform`) and the scenario's `target.base_url`.
#[test]
fn a_target_url_with_a_password_is_refused_unquoted() {
    let url = "http://admin:PWSECRET-91@127.0.0.1:9/v1";
    let dir = tempfile::tempdir().expect("a temp dir");
    let plain = "name: u\nload: {vus: 1, iterations: 1}\nsteps:\n  - get_settings:\n";
    let with_url = format!(
        "name: u\ntarget: {{base_url: \"{url}\"}}\n\
        load: {{vus: 1, iterations: 1}}\nsteps:\n  - get_settings:\n"
    );
    let plain = write_scenario(dir.path(), "plain.yaml", plain);
    let with_url = write_scenario(dir.path(), "url.yaml", &with_url);
    let mut commands = [chatload(), chatload(), chatload()];
    commands[0].arg("run").arg(&plain).args(["--target", url]);
    commands[1].args(["conform", "--target", url]);
    commands[2].arg("run").arg(&with_url);
    for command in &mut commands {
        command
            .current_dir(dir.path())
            .env("CHATLOAD_APP_ID", "app")
            .env("CHATLOAD_SECRET", "secret-of-the-app");
        let stderr = usage_error(command);
        assert!(!stderr.contains("PWSECRET"), "{stderr}");
        assert!(stderr.contains("x-hyper-appId"), "{stderr}");
    }
}
