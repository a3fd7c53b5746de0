//! The per-app token-bucket rate limit: 429 with a JSON body and
//! `Retry-After`, one bucket per app, set and lifted through the admin API.

use crate::common::start_mock_with;
use chatload_mock::{MockConfig, RateLimitConfig};
use reqwest::Method;
use serde_json::json;

/// A limit whose bucket refills so slowly (one token per 10 s) that no
/// token comes back while a test runs: what it asserts never depends on timing.
const SLOW: RateLimitConfig = RateLimitConfig { rps: 0.1, burst: 2 };

#[tokio::test]
async fn an_app_past_its_burst_gets_429_with_retry_after_and_json_while_others_do_not() {
    let mock = start_mock_with(MockConfig {
        rate_limit: Some(SLOW),
        ..MockConfig::default()
    })
    .await;
    let demo = mock.demo();
    demo.get("/id").await.expect(200);
    demo.get("/settings").await.expect(200);
    let refused = demo.get("/id").await;
    refused.assert_error(429);
    let retry_after: u64 = refused.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("whole seconds");
    assert!((1..=10).contains(&retry_after), "Retry-After {retry_after}");
    // Another app has its own bucket.
    mock.queue_app().get("/id").await.expect(200);
    let admin = mock.admin_get("/rate-limit").await;
    assert_eq!(admin["refused"], 1);
    assert_eq!(admin["rate_limit"]["burst"], 2);
}

#[tokio::test]
async fn the_admin_api_sets_and_lifts_the_limit_and_refuses_bad_values() {
    let mock = start_mock_with(MockConfig::default()).await;
    let demo = mock.demo();
    for _ in 0..5 {
        demo.get("/id").await.expect(200);
    }
    mock.admin_send(Method::PUT, "/rate-limit", Some(json!({"rps": 0.1})))
        .await
        .expect(200);
    demo.get("/id").await.expect(200);
    demo.get("/id").await.assert_error(429);
    for bad in [
        json!({"rps": 0}),
        json!({"rps": 1, "burst": 0}),
        json!({"rate": 1}),
    ] {
        mock.admin_send(Method::PUT, "/rate-limit", Some(bad))
            .await
            .assert_error(400);
    }
    let lifted = mock
        .admin_send(Method::DELETE, "/rate-limit", None)
        .await
        .expect(200);
    assert!(lifted["rate_limit"].is_null());
    demo.get("/id").await.expect(200);
}

#[test]
fn the_config_section_is_read_and_checked() {
    let config =
        MockConfig::from_yaml_str("rate_limit: {rps: 50, burst: 10}\n", "m.yaml").expect("valid");
    assert_eq!(
        config.rate_limit,
        Some(RateLimitConfig {
            rps: 50.0,
            burst: 10
        })
    );
    let err =
        MockConfig::from_yaml_str("rate_limit: {rps: -1}\n", "m.yaml").expect_err("negative rate");
    assert!(err.to_string().contains("rate_limit.rps"), "{err}");
}
