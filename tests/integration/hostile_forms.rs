//! A hostile target that echoes every credential it is sent in every form
//! a server might: raw, inside a JSON dump of the request's headers,
//! URL-encoded (as Python's `quote` and as an HTML form) and in base64
//! (standard and URL-safe), and raw in a header. The credentials hold the characters escapers
//! change (`+ / = & " < > % \` and a space); `conform`'s and `run`'s
//! terminal output, logs and files must hold none of them in any form
//! (audit 8, finding 1).

use std::path::Path;

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::common::{EnvCredentials, run_against_with};

/// Each credential carries a fragment (`LeakS`, `LeakK`, `LeakT`) that its
/// raw, escaped and URL-encoded forms all keep, so one grep finds them.
const SECRET: &str = "Zq9+Sec/ret=LeakS&Can \"ary\"<77>";
const DOMAIN_KEY: &str = "Dk%LeakK\\Canary88 x";
/// The session token the server hands out, then echoes back.
const TOKEN: &str = "tok+LeakT/\"5b2d\"<&>=x";

/// What must not appear: each credential's fragment and its base64 forms.
fn needles() -> Vec<String> {
    let mut out = vec!["LeakS".to_owned(), "LeakK".to_owned(), "LeakT".to_owned()];
    for c in [SECRET, DOMAIN_KEY, TOKEN] {
        out.push(STANDARD.encode(c));
        out.push(URL_SAFE_NO_PAD.encode(c));
    }
    out
}

/// Python's `urllib.parse.quote`: RFC 3986's unreserved characters and `/`
/// kept, everything else `%XX`.
fn python_quote(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `value` in every echoed form but raw (`run` masks a whole message that
/// holds a credential raw, so the raw form would hide the others).
fn echoed(value: &str, dump: &str) -> String {
    let form: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
    format!(
        "rejected: all={dump}; url {} form {form} b64 {} b64url {}",
        python_quote(value),
        STANDARD.encode(value),
        URL_SAFE_NO_PAD.encode(value),
    )
}

/// A sign-up gets a user and [`TOKEN`]; everything else a 401 whose
/// message echoes every credential in every form.
async fn echo_everywhere(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if method == Method::POST && uri.path().ends_with("/users") {
        let body = serde_json::json!({
            "user": {"id": "u-1", "name": "n", "chats": [], "createdAt": 1},
            "session": {"token": TOKEN},
        });
        return (StatusCode::CREATED, axum::Json(body)).into_response();
    }
    let all: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.into())))
        .collect();
    let dump = serde_json::Value::Object(all).to_string();
    let message: Vec<String> = ["x-hyper-secret", "x-hyper-key", "x-hyper-token"]
        .iter()
        .filter_map(|name| header(name))
        .map(|v| echoed(v, &dump))
        .collect();
    let body = serde_json::json!({
        "error": {"code": 401, "message": message.join(" | ")},
    });
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    let raw: Vec<&str> = ["x-hyper-secret", "x-hyper-key", "x-hyper-token"]
        .iter()
        .filter_map(|name| header(name))
        .collect();
    let raw = raw.join(" ");
    if let Ok(v) = raw.parse() {
        response.headers_mut().insert("x-echo", v);
    }
    response
}

/// Runs chatload with `args` and `outputs` (flag, file name in a fresh
/// directory) against the echoing server; asserts no credential in any
/// form in stdout, stderr or any file, and that the echo was seen.
/// `must_show`: the outputs (`stdout`, file names) that must show `MASKED`.
fn assert_nothing_leaks(
    args: &[&str],
    outputs: &[(&str, &str)],
    scenario: Option<&str>,
    must_show: &[&str],
) {
    let credentials = EnvCredentials {
        app_id: "forms-app",
        secret: SECRET,
        domain_key: DOMAIN_KEY,
    };
    let app = axum::Router::new().fallback(echo_everywhere);
    let (out, out_dir, _dir) = run_against_with(app, &credentials, args, outputs, scenario);
    let texts = texts(&out_dir, &out);
    for (name, text) in &texts {
        for needle in needles() {
            assert_eq!(
                text.matches(&needle).count(),
                0,
                "{needle} in {name}:\n{text}"
            );
        }
    }
    let seen = |name: &str| {
        texts
            .iter()
            .any(|(n, t)| n.ends_with(name) && t.contains("MASKED"))
    };
    for name in must_show {
        assert!(seen(name), "the echo reached no {name}:\n{texts:?}");
    }
}

/// stdout, stderr and every file under `dir`, as text.
fn texts(dir: &Path, out: &std::process::Output) -> Vec<(String, String)> {
    let mut texts = vec![
        (
            "stdout".to_owned(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ),
        (
            "stderr".to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
    ];
    for entry in std::fs::read_dir(dir).expect("output dir") {
        let path = entry.expect("dir entry").path();
        let bytes = std::fs::read(&path).expect("output file");
        texts.push((
            path.display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    texts
}

#[test]
fn conform_masks_credentials_echoed_escaped_encoded_and_in_base64() {
    let args = ["conform", "--hook-url", "http://127.0.0.1:9/hook"];
    let outputs = [("--out", "c.json"), ("--junit", "c.xml")];
    let shown = ["stdout", "c.json", "c.xml"];
    assert_nothing_leaks(&args, &outputs, None, &shown);
}

#[test]
fn run_masks_credentials_echoed_escaped_encoded_and_in_base64() {
    let request = |auth: &str| {
        format!(
            "  - request: {{method: GET, path: \"/users/{{{{ user_id }}}}\", auth: {auth}}}\n    \
             name: as_{auth}\n    on_error: continue\n"
        )
    };
    let scenario = format!(
        "name: forms\nload: {{vus: 1, iterations: 2}}\nsteps:\n  - create_user:\n{}{}{}",
        request("secret"),
        request("token"),
        request("domain_key"),
    );
    let outputs = [
        ("--out", "r.json"),
        ("--junit", "r.xml"),
        ("--html", "r.html"),
        ("--csv", "r.csv"),
    ];
    let args = ["run", "--quiet", "--verbose"];
    assert_nothing_leaks(&args, &outputs, Some(&scenario), &["r.json"]);
}
