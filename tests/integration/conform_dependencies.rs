//! `chatload conform`'s checks that depend on an earlier one (audit 8,
//! finding 6): against a web server answering an HTML page to everything,
//! the upload failed and "download media" passed on a made-up id with the
//! page as the media. A check needing an id the tour never got is now a
//! skipped check naming that id, and a download passes only as the bytes
//! and type uploaded.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::common::{conform_remote, read_json, serve_in_thread};

const NGINX: &str = "<html><head><title>Welcome to nginx!</title></head>\
                     <body><h1>Welcome to nginx!</h1></body></html>";

/// The suite's JSON report after a run against `base_url`.
fn conform_report(base_url: &str) -> (std::process::Output, serde_json::Value) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let out = dir.path().join("c.json");
    let run = conform_remote(base_url, &["--out".as_ref(), out.as_os_str()]);
    (run, read_json(&out))
}

fn by_name<'r>(list: &'r serde_json::Value, name: &str) -> Option<&'r serde_json::Value> {
    list.as_array()?.iter().find(|c| c["name"] == name)
}

#[test]
fn against_an_html_page_for_everything_no_check_passes_on_a_made_up_id() {
    let app = axum::Router::new().fallback(|| async { Html(NGINX) });
    let (run, report) = conform_report(&format!("http://{}/v1", serve_in_thread(app)));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    let passed: Vec<&serde_json::Value> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == true)
        .collect();
    assert!(passed.is_empty(), "passed against an HTML page: {passed:?}");
    let skipped = &report["skipped"];
    let download = by_name(skipped, "download media").expect("download media skipped");
    assert_eq!(
        download["reason"],
        "not sent: it needs the media's id, which upload media did not return"
    );
    assert!(by_name(&report["checks"], "download media").is_none());
    // Every other check on an id the tour never got is skipped the same way.
    for (name, id) in [
        ("get chat", "the chat's id"),
        ("get user", "the user's id"),
        ("mark message read", "the message's id"),
        ("get webhook", "the webhook's id"),
        ("get a deleted webhook → 404", "the webhook's id"),
        ("get agent", "an agent id (#1)"),
    ] {
        let skip = by_name(skipped, name).unwrap_or_else(|| panic!("{name} not skipped"));
        let reason = skip["reason"].as_str().unwrap_or_default();
        assert!(
            reason.starts_with(&format!("not sent: it needs {id}")),
            "{name}: {reason}"
        );
    }
    assert!(stdout.contains("skip --- getMedia"), "{stdout}");
}

/// Replaces the body of a media download (not of the unknown-id probe) by
/// other bytes of the same type.
async fn swap_media(req: Request, next: Next) -> Response {
    let download = req.method() == Method::GET
        && req.uri().path().contains("/media/")
        && !req.uri().path().contains("no-such-media");
    let response = next.run(req).await;
    if !download || !response.status().is_success() {
        return response;
    }
    let mut swapped = vec![0x89, b'P', b'N', b'G', 0, 0, 0, 0].into_response();
    let png = HeaderValue::from_static("image/png");
    swapped.headers_mut().insert(header::CONTENT_TYPE, png);
    swapped
}

#[test]
fn a_download_that_is_not_the_uploaded_media_fails_saying_what_differed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(async {
        let state = chatload_mock::AppState::new(chatload_mock::MockConfig::default());
        chatload_mock::router(state).layer(axum::middleware::from_fn(swap_media))
    });
    let (run, report) = conform_report(&format!("http://{}/v1", serve_in_thread(app)));
    assert_eq!(run.status.code(), Some(1));
    let check = by_name(&report["checks"], "download media").expect("a download check");
    assert_eq!(check["passed"], false, "{check}");
    assert_eq!(
        check["message"],
        "the download is not the uploaded media: 8 bytes starting 89 50 4e 47 00 00 00 00 \
         where the upload sent 12 bytes starting 89 50 4e 47 0d 0a 1a 0a"
    );
}
