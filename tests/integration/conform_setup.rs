//! `chatload conform` must judge every answer it gets, set-up requests
//! included, and count only what it observed (audit 7, findings 2, 3, 5, 6,
//! 8, 9 and 10): the bundled mock behind a middleware that breaks one
//! answer per operation in a way the suite used to let pass.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;

use crate::common::{conform_remote, read_json, serve_built};

/// The mock's answer to `req`, broken where the suite used to be blind:
/// an active chat polled answers 500 (undeclared), accepting an invitation
/// answers 409 with the success body, `updateAgent` answers an array, a
/// 405 on `/id` allows POST and DELETE, `getSettings` has two content
/// types, `getApp` claims gzip, and a survey gets its connection closed
/// without any answer.
async fn break_answers(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    if path.starts_with("/v1/surveys/") {
        // Drops the connection: no response head at all.
        std::panic::resume_unwind(Box::new("closing the connection"));
    }
    let response = next.run(req).await;
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 22)
        .await
        .unwrap_or_default();
    let ok = parts.status == StatusCode::OK;
    let headers = &mut parts.headers;
    let mut bytes = bytes.to_vec();
    if method == Method::GET && path.starts_with("/v1/chats/") && path.matches('/').count() == 3 {
        if bytes.windows(17).any(|w| w == br#""status":"active""#) {
            parts.status = StatusCode::INTERNAL_SERVER_ERROR;
        }
    } else if path == "/v1/invitations/accept" && ok {
        parts.status = StatusCode::CONFLICT;
    } else if method == Method::PUT && path.starts_with("/v1/agents/a-") && ok {
        bytes = [b"[".as_slice(), &bytes, b"]"].concat();
    } else if path == "/v1/id" && parts.status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"));
    } else if path == "/v1/settings" && method == Method::GET && ok {
        headers.append(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    } else if method == Method::GET
        && path.starts_with("/v1/apps/")
        && ok
        && !path.ends_with("/validate")
    {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

fn check<'a>(report: &'a Value, operation: &str, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["operation"] == operation && c["name"] == name)
        .unwrap_or_else(|| panic!("no check {operation} {name}"))
}

/// Runs `conform` against `addr`, which must fail it (exit 1); its output
/// and JSON report.
fn failing_conform(addr: std::net::SocketAddr) -> (std::process::Output, Value) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let out = dir.path().join("c.json");
    let run = conform_remote(
        &format!("http://{addr}/v1"),
        &["--out".as_ref(), out.as_os_str()],
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    let report = read_json(&out);
    (run, report)
}

/// The failure of check `operation name` (it must have failed).
fn failure<'a>(report: &'a Value, operation: &str, name: &str) -> &'a str {
    let c = check(report, operation, name);
    assert_eq!(c["passed"], false, "{c}");
    c["message"].as_str().expect("a message")
}

#[test]
fn conform_judges_set_up_answers_and_counts_only_what_it_observed() {
    let (rt, addr) = serve_built(|| {
        let state = chatload_mock::AppState::new(chatload_mock::MockConfig::default());
        chatload_mock::router(state).layer(axum::middleware::from_fn(break_answers))
    });
    let (run, report) = failing_conform(addr);
    let stdout = String::from_utf8_lossy(&run.stdout);
    // Finding 2: the polls waiting for the accepted chat are judged.
    let active = failure(&report, "getChat", "the accepted chat becomes active");
    assert!(
        active.starts_with("poll 1 waiting for the chat to become active (GET /chats/")
            && active.contains("expected status [200], got 500"),
        "{active}"
    );
    // Finding 3: conform switched the mock's answers off; a 409 is a failure.
    let accept = failure(&report, "acceptInvitation", "accept invitation");
    assert!(
        accept.contains("got 409") && accept.contains("no other agent could accept"),
        "{accept}"
    );
    // Finding 9: the happy update failed, its boundary bodies are listed as skipped.
    let skipped = report["skipped"].as_array().unwrap();
    let not_sent = skipped
        .iter()
        .filter(|s| {
            s["operation"] == "updateAgent"
                && s["reason"] == "the happy call failed, so the boundary bodies were not sent"
        })
        .count();
    assert!(not_sent > 0, "{skipped:?}");
    // Finding 5: Allow names exactly the served methods.
    let allow = failure(&report, "POST /id", "POST not served → 405");
    assert!(
        allow.contains("names POST, the method just refused"),
        "{allow}"
    );
    // Finding 6: two content types, an encoding not asked for.
    let types = failure(&report, "getSettings", "settings, public view");
    assert!(types.contains("2 Content-Type headers"), "{types}");
    let gzip = failure(&report, "getApp", "get app");
    assert!(gzip.contains("Content-Encoding gzip"), "{gzip}");
    // Findings 8 and 10: no response at all is no coverage, and says what happened.
    let survey = failure(&report, "getSurvey", "survey");
    assert_eq!(
        survey, "the connection closed before any response head arrived",
        "{stdout}"
    );
    let not_exercised = report["not_exercised"].as_array().unwrap();
    assert!(
        not_exercised.contains(&"getSurvey".into()),
        "{not_exercised:?}"
    );
    drop(rt);
}

/// A target that is no chatload mock (no `/__mock/simulation`, and its
/// agents quiet) whose "accept invitation" answers 409 with the success
/// body: another agent may have accepted first, but the 409 must still be
/// the spec's 409, so the check fails instead of being skipped.
async fn conflict_without_envelope(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with("/__mock/") {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::empty())
            .expect("a 404");
    }
    let mut response = next.run(req).await;
    if path == "/v1/invitations/accept" && response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::CONFLICT;
    }
    response
}

#[test]
fn a_409_to_accept_invitation_that_breaks_the_spec_is_no_skip() {
    let (rt, addr) = serve_built(|| {
        let mut config = chatload_mock::MockConfig::default();
        config.simulation.simulate = false;
        let state = chatload_mock::AppState::new(config);
        chatload_mock::router(state).layer(axum::middleware::from_fn(conflict_without_envelope))
    });
    let (_, report) = failing_conform(addr);
    let accept = failure(&report, "acceptInvitation", "accept invitation");
    assert!(
        accept.starts_with("the 409 answer breaks the spec: schema violation"),
        "{accept}"
    );
    let skipped = report["skipped"].as_array().unwrap();
    assert!(
        skipped.iter().all(|s| s["operation"] != "acceptInvitation"),
        "{skipped:?}"
    );
    drop(rt);
}
