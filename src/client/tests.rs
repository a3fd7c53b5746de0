//! Unit tests of the client: request building, slots, timers, TLS.

mod hostile;

use std::pin::pin;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{ApiClient, ApiRequest, AuthHeaders, ClientConfig, ClientError, ConnSlot, Credentials};
use crate::api::Method;

pub(super) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `GET /settings` with the App ID only: the simplest request there is.
pub(super) fn get_settings() -> ApiRequest<'static> {
    ApiRequest {
        method: Method::Get,
        path: "/settings",
        query: &[],
        headers: &[],
        body: None,
        content_type: None,
        auth: AuthHeaders::AppId,
    }
}

fn client(base_url: &str) -> ApiClient {
    ApiClient::new(&config(base_url)).unwrap()
}

pub(super) fn config(base_url: &str) -> ClientConfig {
    ClientConfig {
        base_url: base_url.to_owned(),
        credentials: Credentials {
            app_id: Some("app".to_owned()),
            secret: Some("s3cret".to_owned()),
            domain_key: None,
        },
        extra_headers: vec![("x-run".to_owned(), "r1".to_owned())],
        timeout: Duration::from_secs(5),
        pool_size: 1,
        policy: Default::default(),
        max_body: crate::client::DEFAULT_MAX_BODY,
    }
}

#[test]
fn a_prepared_request_is_the_request_send_on_builds() {
    let client = client("http://127.0.0.1:9/v1");
    assert!(client.uses_slots());
    let query = [("page".to_owned(), "2 3".to_owned())];
    let headers = [("x-extra".to_owned(), "v".to_owned())];
    let request = || ApiRequest {
        method: Method::Post,
        path: "/chats/c-1/messages",
        query: &query,
        headers: &headers,
        body: Some(bytes::Bytes::from_static(br#"{"a":1}"#)),
        content_type: None,
        auth: AuthHeaders::Secret,
    };
    let host = client.host.clone().unwrap();
    let (built, _) = client.slot_request(&host, request()).unwrap().into_parts();
    let prepared = client.prepare(request()).unwrap();
    assert_eq!(prepared.method, built.method);
    assert_eq!(prepared.uri, built.uri);
    assert_eq!(prepared.uri, "/v1/chats/c-1/messages?page=2+3");
    assert_eq!(prepared.headers, built.headers);
    for (name, value) in &built.headers {
        assert_eq!(
            prepared.headers[name].is_sensitive(),
            value.is_sensitive(),
            "{name}"
        );
    }
    assert!(prepared.headers["x-hyper-secret"].is_sensitive());
    assert_eq!(prepared.body, r#"{"a":1}"#);
    let tls = ApiClient::new(&ClientConfig {
        base_url: "https://example.invalid/v1".to_owned(),
        credentials: Credentials::default(),
        extra_headers: Vec::new(),
        timeout: Duration::from_secs(1),
        pool_size: 1,
        policy: Default::default(),
        max_body: crate::client::DEFAULT_MAX_BODY,
    })
    .unwrap();
    // https:// goes over slots too (the fast TLS path), prepared the same way.
    assert!(tls.uses_slots());
    let over_tls = tls.prepare(request()).unwrap();
    assert_eq!(over_tls.uri, "/v1/chats/c-1/messages?page=2+3");
    assert_eq!(over_tls.headers["host"], "example.invalid");
}

#[test]
fn a_body_in_several_chunks_is_read_whole_and_the_connection_kept() {
    rt().block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            for reply in [
                &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n"[..],
                b"6\r\n world\r\n0\r\n\r\n",
                b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}",
            ] {
                if reply.starts_with(b"HTTP") {
                    let _ = socket.read(&mut buf).await.unwrap();
                }
                socket.write_all(reply).await.unwrap();
                socket.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let client = client(&format!("http://{addr}/v1"));
        let mut slot = ConnSlot::default();
        let request = get_settings;
        let first = client
            .send_on(&mut slot, request(), Instant::now())
            .await
            .unwrap();
        assert_eq!((first.status, &first.body[..]), (200, &b"hello world"[..]));
        // Same connection: the server accepts only one.
        let second = client
            .send_on(&mut slot, request(), Instant::now())
            .await
            .unwrap();
        assert_eq!((second.status, &second.body[..]), (201, &b"{}"[..]));
    });
}

/// A server on 127.0.0.1 that answers the first `answered` requests of
/// each connection (`{}`, kept alive) and never the next one: it keeps
/// the connection open and silent.
async fn answers_then_stalls(answered: usize) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                for _ in 0..answered {
                    let _ = socket.read(&mut buf).await.unwrap();
                    let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
                    socket.write_all(reply).await.unwrap();
                }
                let _ = socket.read(&mut buf).await;
                std::future::pending::<()>().await;
            });
        }
    });
    addr
}

// See: audit measure.md #6. A request sent and then timed out still opened
// or reused a connection; the connection table left it out (new 6 + reused
// 48 of 60 requests, the 6 timeouts on kept-alive connections).
#[test]
fn a_request_that_times_out_after_connecting_leaves_its_connection_use() {
    rt().block_on(async {
        let timeout = Duration::from_millis(200);
        let client = |addr| {
            ApiClient::new(&ClientConfig {
                timeout,
                ..config(&format!("http://{addr}/v1"))
            })
            .unwrap()
        };
        // On a reused connection: answered once, then silent.
        let reused = client(answers_then_stalls(1).await);
        let mut slot = ConnSlot::new(1);
        let first = reused
            .send_on(&mut slot, get_settings(), Instant::now())
            .await
            .unwrap();
        assert!(first.conn.opened.is_some());
        assert_eq!(slot.take_unanswered(), None, "its response carries it");
        let second = reused
            .send_on(&mut slot, get_settings(), Instant::now())
            .await;
        assert_eq!(second.unwrap_err(), ClientError::Timeout);
        let used = slot
            .take_unanswered()
            .expect("the timed-out request's connection");
        assert_eq!(
            (used.opened, used.first_byte, used.slot),
            (None, None, true)
        );
        assert_eq!(slot.take_unanswered(), None, "taken once");
        // On a connection opened for it: its connect time comes along.
        let opened = client(answers_then_stalls(0).await);
        let mut slot = ConnSlot::new(2);
        let out = opened
            .send_on(&mut slot, get_settings(), Instant::now())
            .await;
        assert_eq!(out.unwrap_err(), ClientError::Timeout);
        let used = slot.take_unanswered().expect("the connection it opened");
        assert!(used.opened.is_some_and(|o| o.connect > Duration::ZERO));
        // Never connected (nothing listens): no connection use.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let refused = client(closed.local_addr().unwrap());
        drop(closed);
        let mut slot = ConnSlot::new(3);
        let out = refused
            .send_on(&mut slot, get_settings(), Instant::now())
            .await;
        assert_eq!(
            out.unwrap_err(),
            ClientError::Connect(super::ConnectCause::Refused)
        );
        assert_eq!(slot.take_unanswered(), None);
    });
}

#[test]
fn the_kept_timer_times_out_at_each_requests_own_deadline() {
    rt().block_on(async {
        let mut timer = None;
        let ms = Duration::from_millis;
        // Done in time: the value comes back; the timer stays armed.
        let start = Instant::now();
        let out = ConnSlot::within(&mut timer, start + ms(40), pin!(async { Ok(1) })).await;
        assert_eq!(out, Ok(1));
        // Let that first deadline pass: the armed timer fires early for the
        // next request, which must still get its whole time.
        tokio::time::sleep(ms(60)).await;
        let start = Instant::now();
        let out = ConnSlot::within(
            &mut timer,
            start + ms(80),
            pin!(async {
                tokio::time::sleep(ms(30)).await;
                Ok(2)
            }),
        )
        .await;
        assert_eq!(out, Ok(2));
        // Too slow: a timeout, not before the deadline.
        let start = Instant::now();
        let out: Result<(), ClientError> =
            ConnSlot::within(&mut timer, start + ms(50), pin!(std::future::pending())).await;
        assert_eq!(out, Err(ClientError::Timeout));
        let waited = start.elapsed();
        assert!(waited >= ms(50), "timed out after {waited:?}");
        assert!(waited < ms(1000), "timed out after {waited:?}");
    });
}

// Each VU's first request over plain HTTP opens its connection through this
// future (boxed, so every VU allocates it once, all at about the same time
// when a run starts many VUs). With the TLS handshake inline it was 7,784
// bytes in this test build (7,832 boxed in release); with the TLS path boxed
// apart, for https only, it is 408. The bound catches the TLS path coming
// back inline.
#[test]
fn a_plain_http_connect_future_stays_small() {
    let client = client("http://127.0.0.1:9/v1");
    let size = std::mem::size_of_val(&client.connector.open(None));
    assert!(
        size <= PLAIN_CONNECT_FUTURE_MAX,
        "Connector::open future: {size} bytes"
    );
}

/// See `a_plain_http_connect_future_stays_small`.
const PLAIN_CONNECT_FUTURE_MAX: usize = 1_024;

// Every VU request's future holds this one (the exchange on its slot). It
// was 1,904 bytes in this test build: `send_on` an `async fn` keeping the
// `ApiRequest`, the whole hyper response held beside its body's read,
// `Sender::send` an `async fn` keeping a second copy of the request (256
// bytes), and the request to send borrowed (so kept across later awaits),
// like the result of the send. Now 824; the bound catches any of these
// coming back.
#[test]
fn a_slot_requests_future_stays_small() {
    let client = client("http://127.0.0.1:9/v1");
    let mut slot = ConnSlot::new(1);
    let req = get_settings();
    let size = std::mem::size_of_val(&client.send_on(&mut slot, req, Instant::now()));
    assert!(
        size <= SLOT_REQUEST_FUTURE_MAX,
        "send_on future: {size} bytes"
    );
}

/// See `a_slot_requests_future_stays_small`.
const SLOT_REQUEST_FUTURE_MAX: usize = 900;

#[test]
fn content_type_is_the_first_value_as_a_header_look_up_gives_it() {
    use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, DATE, HeaderMap, HeaderValue};
    let mut headers = HeaderMap::new();
    assert_eq!(super::content_type(&headers), None);
    headers.insert(
        DATE,
        HeaderValue::from_static("Mon, 07 Dec 2026 13:51:02 GMT"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from_static("15"));
    assert_eq!(super::content_type(&headers), None);
    headers.append(CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    headers.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    assert_eq!(
        super::content_type(&headers),
        Some(HeaderValue::from_static("text/csv"))
    );
    assert_eq!(
        super::content_type(&headers).as_ref(),
        headers.get(CONTENT_TYPE)
    );
}

#[test]
fn a_base_url_with_userinfo_is_refused_without_quoting_it() {
    for url in [
        "http://admin:PWSECRET-u1@127.0.0.1:8000/v1",
        "https://admin@api.example.com/v1",
        "http://:PWSECRET-u1@127.0.0.1/v1",
        // Does not even parse as a URL: refused before an error could quote it.
        "http://admin:PWSECRET-u1@/v1",
    ] {
        assert!(super::refuse_userinfo(url).is_err(), "{url}");
        let config = ClientConfig {
            base_url: url.to_owned(),
            ..config("http://127.0.0.1:1/v1")
        };
        let error = ApiClient::new(&config).expect_err(url).to_string();
        assert!(!error.contains("PWSECRET"), "{error}");
        assert!(error.contains("x-hyper-appId"), "{error}");
    }
    for url in [
        "http://127.0.0.1:8000/v1",
        "https://api.example.com/v1?who=a@b",
        "http://127.0.0.1:8000/v1/users/a@b",
    ] {
        assert!(super::refuse_userinfo(url).is_ok(), "{url}");
    }
}

#[test]
fn a_secret_like_header_registers_its_bare_credential() {
    let mut config = config("http://127.0.0.1:1/v1");
    config.extra_headers = vec![
        (
            "Authorization".to_owned(),
            "Bearer client-unit-bearer-2b9e".to_owned(),
        ),
        // Not named like a credential, but its value has an auth scheme.
        (
            "X-Upstream".to_owned(),
            "Token client-unit-tok-8c4a".to_owned(),
        ),
    ];
    let _client = ApiClient::new(&config).expect("a client");
    let out = crate::redact::redact_str(
        "invalid bearer token client-unit-bearer-2b9e, token client-unit-tok-8c4a",
    );
    assert_eq!(out, "invalid bearer token MASKED, token MASKED");
}
