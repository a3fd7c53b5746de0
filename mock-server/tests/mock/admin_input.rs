//! Bad input that was accepted or answered with a misleading reason (audit
//! item 5): an array as an admin body, a rate too large, a multipart
//! upload without its boundary.

use crate::common::start_mock;
use chatload_mock::MockConfig;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn an_array_as_an_admin_body_is_refused() {
    let mock = start_mock().await;
    let array = json!([100, {"createChat": {"error_rate": 1.0}}]);
    for path in ["/faults", "/rate-limit", "/webhooks/faults"] {
        let refused = mock
            .admin_send(Method::PUT, path, Some(array.clone()))
            .await;
        refused.assert_error(400);
        let message = refused.body["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains("JSON object"), "{path}: {message}");
    }
    assert_eq!(mock.admin_get("/faults").await["stall_ms"], 0);
}

#[tokio::test]
async fn a_rate_too_large_is_refused_as_too_large_with_the_range() {
    let mock = start_mock().await;
    let refused = mock
        .admin_send(Method::PUT, "/rate-limit", Some(json!({"rps": 1e300})))
        .await;
    refused.assert_error(400);
    let message = refused.body["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("rps 1e300 is too large") && message.contains("at most 1e9"),
        "{message}"
    );
    assert!(message.len() < 120, "the rate is written short: {message}");
    let err =
        MockConfig::from_yaml_str("rate_limit: {rps: 1e300}\n", "m.yaml").expect_err("too large");
    assert!(err.to_string().contains("too large"), "{err}");
}

#[tokio::test]
async fn a_multipart_upload_without_a_boundary_says_the_boundary_is_missing() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let reply = demo
        .exec(
            demo.request(Method::POST, "/media")
                .header("content-type", "multipart/form-data")
                .body(
                    "--x\r\nContent-Disposition: form-data; name=\"chatId\"\r\n\r\nc\r\n--x--\r\n",
                ),
        )
        .await;
    reply.assert_error(400);
    let message = reply.body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("no boundary"), "{message}");
    let plain = demo
        .exec(
            demo.request(Method::POST, "/media")
                .header("content-type", "text/plain")
                .body("x"),
        )
        .await;
    plain.assert_error(400);
    let message = plain.body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("must be multipart/form-data"), "{message}");
}

/// A rate so slow that `Retry-After` would pass the one-day cap of injected
/// faults is refused, naming the minimum, on every path that sets it (the
/// admin API, the config file; `--rate-limit` in `limit.rs`'s unit tests),
/// and nothing changes. See: audit 2 of the mock, finding 9.
#[tokio::test]
async fn a_rate_too_small_for_the_retry_after_cap_is_refused_with_the_minimum() {
    let mock = start_mock().await;
    let refused = mock
        .admin_send(
            Method::PUT,
            "/rate-limit",
            Some(json!({"rps": 1e-9, "burst": 1})),
        )
        .await;
    refused.assert_error(400);
    let message = refused.body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("at least 1/86400"), "{message}");
    assert_eq!(
        mock.admin_get("/rate-limit").await["rate_limit"],
        json!(null)
    );
    let err =
        MockConfig::from_yaml_str("rate_limit: {rps: 1e-9}\n", "m.yaml").expect_err("too small");
    assert!(err.to_string().contains("at least 1/86400"), "{err}");
    // The minimum itself is accepted, and its 429 waits at most a day.
    let slowest = json!({"rps": 1.0 / 86_400.0, "burst": 1});
    mock.admin_send(Method::PUT, "/rate-limit", Some(slowest))
        .await
        .expect(200);
    let demo = mock.demo();
    demo.get("/id").await.expect(200);
    let limited = demo.get("/id").await;
    limited.assert_error(429);
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("whole seconds");
    assert!((1..=86_400).contains(&retry_after), "{retry_after}");
}

/// `chatload mock` prints its admin URL, `/__mock`, which answered 404
/// (audit 5, F12): it lists the admin routes, each of which is served
/// (none answers 404 or 405), and the README's admin table lists the same.
#[tokio::test]
async fn the_admin_url_lists_every_admin_route_and_each_is_served() {
    let mock = start_mock().await;
    let index = mock.admin_get("").await;
    let listed: Vec<String> = index["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| r.as_str().expect("a route").to_owned())
        .collect();
    assert_eq!(mock.admin_get("/").await, index);
    for route in &listed {
        let (method, path) = route.split_once(' ').expect("METHOD PATH");
        let method = Method::from_bytes(method.as_bytes()).expect("a method");
        let body = (method == Method::PUT).then(|| json!({}));
        let path = path.strip_prefix("/__mock").expect("under /__mock");
        let status = mock.admin_send(method, path, body).await.status;
        assert!(![404, 405].contains(&status.as_u16()), "{route}: {status}");
    }
    let readme = include_str!("../../README.md");
    let mut documented: Vec<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|r| r.contains(" /__mock"))
        .map(|r| r.split('?').next().unwrap_or(r).to_owned())
        .collect();
    documented.sort();
    let mut served = listed.clone();
    served.sort();
    assert_eq!(documented, served);
}
