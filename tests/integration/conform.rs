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

use crate::common::{conform_remote, read_json, serve_in_thread};

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

#[test]
fn every_new_kind_of_check_fails_with_its_reason_against_a_broken_server() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(async {
        let state = chatload_mock::AppState::new(chatload_mock::MockConfig::default());
        chatload_mock::router(state).layer(axum::middleware::from_fn(corrupt))
    });
    let addr = serve_in_thread(app);
    let dir = tempfile::tempdir().unwrap();
    let (out, junit) = (dir.path().join("c.json"), dir.path().join("c.xml"));
    let args = [
        "--out".as_ref(),
        out.as_os_str(),
        "--junit".as_ref(),
        junit.as_os_str(),
    ];
    let run = conform_remote(&format!("http://{addr}/v1"), &args);
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
    }
    drop(mock);
}
