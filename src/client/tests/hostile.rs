//! The client against hostile targets (audit 8): an endless or oversized
//! body, bytes that are not HTTP, connects that fail in different ways, and
//! a TLS server that ignores an offer of HTTP/2 alone. Each server here is a
//! few lines of raw TCP (or rustls) on port 0.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::super::failure::NO_HTTP2;
use super::super::{
    ApiClient, ClientConfig, ClientError, ConnPolicy, ConnSlot, ConnectCause, HttpVersion,
    Malformed, TlsOptions,
};
use super::{config, get_settings, rt};

/// A server that answers every connection's first request with `head`,
/// then, when `endless`, a chunked body that never ends. Its sender reports
/// how many body bytes each connection wrote before the client let go.
async fn serve_raw(
    head: &'static [u8],
    endless: bool,
) -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<u64>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                if stream.write_all(head).await.is_err() || !endless {
                    return;
                }
                let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
                let mut written = 0u64;
                while stream.write_all(chunk.as_bytes()).await.is_ok() {
                    written += 0x10000;
                }
                let _ = tx.send(written);
            });
        }
    });
    (addr, rx)
}

fn limited(addr: std::net::SocketAddr, max_body: u64) -> ApiClient {
    ApiClient::new(&ClientConfig {
        max_body,
        ..config(&format!("http://{addr}/v1"))
    })
    .unwrap()
}

const CHUNKED_200: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";

// See: audit 8 finding 2. An endless chunked body was held whole: one VU
// took 2.45 GB in 5 s and an allocation failure aborted the run.
#[test]
fn an_endless_body_stops_at_the_limit_and_its_connection_is_closed() {
    rt().block_on(async {
        let (addr, mut wrote) = serve_raw(CHUNKED_200, true).await;
        let client = limited(addr, 256 * 1024);
        let mut slot = ConnSlot::new(1);
        let out = client
            .send_on(&mut slot, get_settings(), Instant::now())
            .await;
        let Err(ClientError::BodyTooLarge {
            status: 200,
            limit,
            received,
        }) = out
        else {
            panic!("{out:?}");
        };
        assert_eq!(limit, 256 * 1024);
        assert!(
            received > limit && received <= limit + 0x20000,
            "{received}"
        );
        // The server's writes fail: the connection was closed, not drained.
        let written = tokio::time::timeout(Duration::from_secs(20), wrote.recv())
            .await
            .expect("the connection is closed")
            .unwrap();
        assert!(written < 64 * 1024 * 1024, "{written}");
        // The shared pool keeps the same limit.
        let out = client.send(get_settings()).await;
        assert!(
            matches!(out, Err(ClientError::BodyTooLarge { status: 200, .. })),
            "{out:?}"
        );
    });
}

#[test]
fn a_declared_length_over_the_limit_fails_before_the_body_is_read() {
    rt().block_on(async {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 1000000000\r\n\r\n";
        let (addr, _) = serve_raw(head, false).await;
        let client = limited(addr, 1024);
        let out = client
            .send_on(&mut ConnSlot::new(1), get_settings(), Instant::now())
            .await;
        assert_eq!(
            out.unwrap_err(),
            ClientError::BodyTooLarge {
                status: 200,
                limit: 1024,
                received: 0
            }
        );
    });
}

// See: audit 8 finding 12. A bad status line or non-HTTP bytes read as "the
// connection closed or was reset before the response arrived".
#[test]
fn a_response_that_is_not_http_is_named_as_such() {
    rt().block_on(async {
        for (head, why) in [
            (
                &b"HTTP/1.1 abc Whatever\r\ncontent-length: 2\r\n\r\n{}"[..],
                Malformed::Status,
            ),
            (
                &b"\x00\x01\x02 this is not http at all\r\n\r\n"[..],
                Malformed::Version,
            ),
        ] {
            let head: &'static [u8] = head;
            let (addr, _) = serve_raw(head, false).await;
            let client = limited(addr, 1024);
            let out = client
                .send_on(&mut ConnSlot::new(1), get_settings(), Instant::now())
                .await;
            assert_eq!(out.unwrap_err(), ClientError::Malformed(why));
            let out = client.send(get_settings()).await;
            assert_eq!(out.unwrap_err(), ClientError::Malformed(why));
            assert!(
                ClientError::Malformed(why)
                    .to_string()
                    .starts_with("the response was not valid HTTP: ")
            );
        }
    });
}

// See: audit 8 finding 11. Connects were cut at an undocumented 10 s while
// the request timeout was 30 s, and every failure read "connection failed".
#[test]
fn a_connect_is_bounded_by_the_request_timeout_and_says_it_timed_out() {
    let client = ApiClient::new(&ClientConfig {
        timeout: Duration::from_secs(30),
        ..config("http://127.0.0.1:9/v1")
    })
    .unwrap();
    assert_eq!(client.connector.connect_timeout, Duration::from_secs(30));
    rt().block_on(async {
        // Accepts TCP, never answers the TLS handshake.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let timeout = Duration::from_millis(300);
        let client = ApiClient::with_tls(
            &ClientConfig {
                timeout,
                ..config(&format!("https://127.0.0.1:{}/v1", addr.port()))
            },
            TlsOptions {
                insecure: true,
                ..TlsOptions::default()
            },
        )
        .unwrap();
        let out = client
            .send_on(&mut ConnSlot::new(1), get_settings(), Instant::now())
            .await;
        let e = out.unwrap_err();
        assert_eq!(e, ClientError::Connect(ConnectCause::TimedOut(timeout)));
        assert!(
            e.to_string().contains("connect timed out after 300ms"),
            "{e}"
        );
    });
}

/// A TLS server for localhost that offers no ALPN protocol (as a server
/// without HTTP/2 may answer an offer of `h2` alone) and answers HTTP/1.1.
async fn http1_only_tls() -> (std::net::SocketAddr, String) {
    let cert = chatload_mock::tls::generate_for_localhost().unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(cert.chain, cert.key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                    .await;
            });
        }
    });
    (addr, cert.ca_pem)
}

// See: audit 8 finding 8. `--http 2` and `--connection http2` against a
// server without HTTP/2 ran over HTTP/1.1 and passed.
#[test]
fn http2_alone_against_a_server_without_it_fails_the_connection() {
    rt().block_on(async {
        let (addr, ca) = http1_only_tls().await;
        let url = format!("https://localhost:{}/v1", addr.port());
        let tls = |http| TlsOptions {
            extra_ca: Some(super::super::CaCert::from_pem("test CA", ca.as_bytes()).unwrap()),
            insecure: false,
            http,
        };
        let http2_policy = ConnPolicy::Http2 {
            vus_per_connection: 2,
        };
        for (http, policy) in [
            (HttpVersion::Http2, ConnPolicy::KeepAlive),
            (HttpVersion::Auto, http2_policy),
        ] {
            let client = ApiClient::with_tls(
                &ClientConfig {
                    policy,
                    ..config(&url)
                },
                tls(http),
            )
            .unwrap();
            let out = client
                .send_on(&mut ConnSlot::new(1), get_settings(), Instant::now())
                .await;
            assert_eq!(
                out.unwrap_err(),
                ClientError::Connect(ConnectCause::NoHttp2),
                "{http:?} {policy:?}"
            );
            let said = client.tls_failure().expect("described like a TLS failure");
            assert!(said.contains("did not agree to HTTP/2 by ALPN"), "{said}");
        }
        // `auto` lets the server choose HTTP/1.1, as before.
        let client = ApiClient::with_tls(&config(&url), tls(HttpVersion::Auto)).unwrap();
        let out = client
            .send_on(&mut ConnSlot::new(1), get_settings(), Instant::now())
            .await;
        assert_eq!(out.unwrap().status, 200);
    });
}

// See: audit 8 finding 8, the shared pool's side. `--http 2` against a
// server without HTTP/2: the requests outside the VUs (conform's, the
// clean-up's, the agent actors') said reqwest's own words, not why.
#[test]
fn http2_alone_in_the_shared_pool_says_the_server_did_not_agree_to_it() {
    rt().block_on(async {
        let (addr, ca) = http1_only_tls().await;
        let url = format!("https://localhost:{}/v1", addr.port());
        let tls = TlsOptions {
            extra_ca: Some(super::super::CaCert::from_pem("test CA", ca.as_bytes()).unwrap()),
            insecure: false,
            http: HttpVersion::Http2,
        };
        let client = ApiClient::with_tls(&config(&url), tls).unwrap();
        let out = client.send(get_settings()).await;
        let err = out.unwrap_err();
        assert_eq!(err, ClientError::Connect(ConnectCause::NoHttp2), "{err}");
        assert!(err.to_string().contains(NO_HTTP2), "{err}");
        let said = client.tls_failure().expect("described like a TLS failure");
        assert_eq!(said, NO_HTTP2);
    });
}
