//! Property-based test: arbitrary bodies, headers, query strings and path
//! ids thrown at every route of the spec (its path templates with random
//! segment values) against one mock. No request may produce a 5xx; every
//! non-2xx answer is the `{"error":{"code":N,"message":..}}` envelope with
//! `code` = status; and every answer of a spec operation is one the spec
//! declares, with a valid body.

use crate::common::spec::SpecValidator;
use crate::common::start_mock;
use chatload_mock::testing::{DEMO_APP, DEMO_KEY, DEMO_SECRET, QUEUE_APP, QUEUE_SECRET, reply};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value};
use std::time::Duration;

/// Ids that exist in the world the test sets up, mixed with random ones so
/// that requests reach the handlers' deeper checks.
const KNOWN_IDS: &[&str] = &[
    "demo-app", "a-1", "a-5", "u-1", "u-2", "c-1", "c-2", "m-1", "md-1", "w-1", "1", "5", "0",
];
/// Field and query names the routes read.
const FIELDS: &[&str] = &[
    "name",
    "creator",
    "room",
    "roomId",
    "roomIds",
    "source",
    "lang",
    "history",
    "userId",
    "chatId",
    "sender",
    "message",
    "type",
    "status",
    "capacity",
    "rooms",
    "langs",
    "events",
    "target",
    "externalId",
    "agentId",
    "email",
    "password",
    "queue",
    "assignAlgorithm",
    "algorithm",
    "limit",
    "offset",
    "format",
    "sourceType",
    "sourceId",
    "id",
    "region",
];
const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
];
const CASES: u32 = 512;
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH"];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<u64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        proptest::sample::select(KNOWN_IDS).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        proptest::sample::select(FIELDS).prop_map(str::to_owned),
                        "\\PC{0,8}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A request body: none, arbitrary JSON, an object of known fields with
/// values of any type, or random bytes.
#[derive(Debug, Clone)]
enum Body {
    None,
    Json(Value),
    Bytes(Vec<u8>),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        1 => Just(Body::None),
        3 => json_value().prop_map(Body::Json),
        3 => prop::collection::vec((proptest::sample::select(FIELDS), json_value()), 0..8)
            .prop_map(|kv| Body::Json(Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            ))),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Body::Bytes),
    ]
}

/// A path segment: a known id, a random URL-safe token, an empty segment
/// or percent-encoded random bytes.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(KNOWN_IDS).prop_map(str::to_owned),
        3 => "[A-Za-z0-9._~-]{1,16}",
        1 => Just(String::new()),
        1 => prop::collection::vec(any::<u8>(), 1..8)
            .prop_map(|b| b.iter().map(|x| format!("%{x:02X}")).collect()),
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => proptest::sample::select(&[
            DEMO_APP, DEMO_SECRET, DEMO_KEY, QUEUE_APP, QUEUE_SECRET, "", "null"
        ][..]).prop_map(str::to_owned),
        2 => "[ -~]{0,24}",
    ]
}

/// Credential headers, each present or not, names in random letter case.
fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    const NAMES: &[&str] = &[
        "x-hyper-appId",
        "x-hyper-secret",
        "x-hyper-key",
        "x-hyper-token",
        "x-hyper-signature",
    ];
    prop::collection::vec(
        (
            proptest::sample::select(NAMES),
            any::<bool>(),
            header_value(),
        ),
        0..5,
    )
    .prop_map(|hs| {
        hs.into_iter()
            .map(|(n, upper, v)| {
                let name = if upper {
                    n.to_ascii_uppercase()
                } else {
                    n.to_owned()
                };
                (name, v)
            })
            .collect()
    })
}

/// The credentials a case starts from, before its random headers.
#[derive(Debug, Clone, Copy)]
enum BaseCred {
    None,
    Secret,
    UserToken,
    DomainKey,
}

#[derive(Debug, Clone)]
struct Case {
    base: BaseCred,
    op: usize,
    other_method: Option<&'static str>,
    segments: Vec<String>,
    query: Vec<(&'static str, String)>,
    headers: Vec<(String, String)>,
    content_type: Option<&'static str>,
    body: Body,
    trailing_slash: bool,
}

fn case(ops: usize) -> impl Strategy<Value = Case> {
    let base = prop_oneof![
        1 => Just(BaseCred::None),
        4 => Just(BaseCred::Secret),
        1 => Just(BaseCred::UserToken),
        1 => Just(BaseCred::DomainKey),
    ];
    (
        base,
        0..ops,
        prop::option::weighted(0.1, proptest::sample::select(METHODS)),
        prop::collection::vec(segment(), 3),
        prop::collection::vec((proptest::sample::select(FIELDS), "[ -~]{0,12}"), 0..4),
        headers(),
        prop::option::of(proptest::sample::select(CONTENT_TYPES)),
        body(),
        any::<bool>(),
    )
        .prop_map(
            |(
                base,
                op,
                other_method,
                segments,
                query,
                headers,
                content_type,
                body,
                trailing_slash,
            )| Case {
                base,
                op,
                other_method,
                segments,
                query,
                headers,
                content_type,
                body,
                trailing_slash,
            },
        )
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn arbitrary_requests_to_every_route_never_yield_a_5xx_or_a_bad_envelope() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let spec = SpecValidator::get();
    let templates = spec.templates();
    assert_eq!(templates.len(), 50);
    let (mock, token) = rt.block_on(async {
        let mock = start_mock().await;
        let demo = mock.demo();
        // Something for the known ids to point at: users, a chat, a message.
        let (user, token) = demo.create_user("fuzz").await;
        demo.create_user("fuzz 2").await;
        let chat = demo.create_chat(&user, 1).await;
        let chat_id = chat["id"].as_str().expect("id").to_owned();
        demo.post(
            &format!("/chats/{chat_id}/messages"),
            serde_json::json!({"sender": user, "message": "hi"}),
        )
        .await
        .expect(201);
        (mock, token)
    });
    let base = mock.server.base_url();
    let http = mock.http.clone();

    let mut runner = TestRunner::new(Config {
        cases: CASES,
        max_shrink_iters: 200,
        failure_persistence: None,
        ..Config::default()
    });
    let started = std::time::Instant::now();
    let statuses = std::cell::RefCell::new(std::collections::BTreeMap::<u16, usize>::new());
    let result = runner.run(&case(templates.len()), |case| {
        let (op_id, method, template) = &templates[case.op];
        let method = case.other_method.unwrap_or(method.as_str());
        let mut segments = case.segments.iter();
        let mut path: String = template
            .split('/')
            .map(|s| {
                if s == "{}" {
                    segments.next().cloned().unwrap_or_default()
                } else {
                    s.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        if case.trailing_slash {
            path.push('/');
        }
        if !case.query.is_empty() {
            let query: Vec<String> = case
                .query
                .iter()
                .map(|(k, v)| format!("{k}={}", url_encode(v)))
                .collect();
            path = format!("{path}?{}", query.join("&"));
        }
        let mut req = http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                format!("{base}{path}"),
            )
            .timeout(Duration::from_secs(10));
        req = match case.base {
            BaseCred::None => req,
            BaseCred::Secret => req
                .header("x-hyper-appId", DEMO_APP)
                .header("x-hyper-secret", DEMO_SECRET),
            BaseCred::UserToken => req
                .header("x-hyper-appId", DEMO_APP)
                .header("x-hyper-token", &token),
            BaseCred::DomainKey => req
                .header("x-hyper-appId", DEMO_APP)
                .header("x-hyper-key", DEMO_KEY),
        };
        for (name, value) in &case.headers {
            let value = if name.eq_ignore_ascii_case("x-hyper-token") && value == "null" {
                token.clone()
            } else {
                value.clone()
            };
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                req = req.header(n, v);
            }
        }
        if let Some(ct) = case.content_type {
            req = req.header("content-type", ct);
        }
        req = match &case.body {
            Body::None => req,
            Body::Json(v) => req.body(v.to_string()),
            Body::Bytes(b) => req.body(b.clone()),
        };
        let req = req.build().expect("request builds");
        // The URL parser resolves `.` and `..` segments: map what is sent.
        let path = req
            .url()
            .path()
            .strip_prefix("/v1")
            .unwrap_or("")
            .to_owned();
        let shown_url = req.url().to_string();
        let rel_path = path;
        let reply = rt.block_on(async { reply(http.execute(req).await.expect("request")).await });
        let status = reply.status.as_u16();
        *statuses.borrow_mut().entry(status).or_insert(0) += 1;
        let path = &shown_url;
        let shown = String::from_utf8_lossy(&reply.raw[..reply.raw.len().min(500)]).into_owned();
        prop_assert!(
            status < 500,
            "{method} {path} ({op_id}) → {status}: {shown}"
        );
        if !reply.status.is_success() {
            prop_assert_eq!(
                &reply.body["error"]["code"],
                &Value::from(status),
                "{} {} → {}: {}",
                method,
                path,
                status,
                shown
            );
            prop_assert!(
                reply.body["error"]["message"].is_string(),
                "{method} {path} → {status}: {shown}"
            );
        }
        if let Some(op) = spec.operation_for(method, &rel_path) {
            let ct = reply
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok());
            spec.validate_response(op, status, ct, &reply.raw)
                .map_err(|e| TestCaseError::fail(format!("{method} {path}: {}", e.join("; "))))?;
        }
        Ok(())
    });
    let statuses = statuses.into_inner();
    eprintln!(
        "{CASES} cases in {:?}, statuses: {statuses:?}",
        started.elapsed()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    // The generator must get past auth often enough to reach the handlers.
    let reached: usize = statuses
        .iter()
        .filter(|(s, _)| !matches!(**s, 401 | 403))
        .map(|(_, n)| n)
        .sum();
    let ok: usize = statuses
        .iter()
        .filter(|(s, _)| **s < 300)
        .map(|(_, n)| n)
        .sum();
    assert!(
        reached * 4 >= CASES as usize,
        "only {reached} requests got past auth: {statuses:?}"
    );
    assert!(ok > 0, "no request succeeded: {statuses:?}");
    drop(mock);
}
