//! Connection policies and connection set-up figures (issue 12, point 2):
//! `https://` requests go over each VU's own rustls connection (the fast
//! path, the only one that measures connection set-up), `keep_alive` reuses
//! it, `new_per_iteration` opens (and over TLS resumes) one per iteration,
//! `http2` shares one HTTP/2 connection among VUs; TCP connect, TLS
//! handshake and time to first byte per route, counted on the mock too.

use std::path::{Path, PathBuf};

use chatload::app::Exit;
use chatload::report::connection::ConnectionReport;
use chatload::report::{HttpProtocol, RunReport};
use chatload_mock::{MockConfig, MockServer, TlsConfig};

use crate::common::{chatload, run_scenario, usage_error, write_scenario};

/// A mock serving HTTPS with a certificate generated for localhost, and
/// its CA written into `dir`.
async fn tls_mock(dir: &Path) -> (MockServer, PathBuf) {
    let config = MockConfig {
        tls: Some(TlsConfig::default()),
        ..MockConfig::default()
    };
    let mock = chatload_mock::spawn(config).await.expect("TLS mock starts");
    let ca = dir.join("mock-ca.pem");
    std::fs::write(&ca, mock.ca_pem().expect("a generated CA")).expect("write CA");
    (mock, ca)
}

/// A scenario of two template-free steps against `url`.
fn two_steps(dir: &Path, url: &str, vus: u32, iterations: u32) -> PathBuf {
    let yaml = format!(
        "name: conns\ntarget:\n  base_url: {url}\n  app_id: demo-app\n  secret: demo-secret\n\
         load: {{vus: {vus}, iterations: {iterations}}}\nsteps:\n  - get_settings:\n  - check_agents:\n"
    );
    write_scenario(dir, "conns.yaml", &yaml)
}

/// The connection figures of every route, summed: (new, reused, resumed).
fn counts(report: &RunReport) -> (u64, u64, u64) {
    routes(report).fold((0, 0, 0), |(n, r, s), c| {
        (n + c.new_connections, r + c.reused, s + c.resumed)
    })
}

fn routes(report: &RunReport) -> impl Iterator<Item = &ConnectionReport> {
    report.routes.iter().map(|r| {
        r.connection
            .as_ref()
            .unwrap_or_else(|| panic!("route {} has no connection figures", r.name))
    })
}

/// Runs the two steps with `vus` VUs and `iterations` iterations against
/// a fresh TLS mock, trusting its CA, with `args`; the run must pass.
async fn run_over_tls(vus: u32, iterations: u32, args: &[&str]) -> (MockServer, RunReport) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (mock, ca) = tls_mock(dir.path()).await;
    let url = format!("https://localhost:{}/v1", mock.addr().port());
    let scenario = two_steps(dir.path(), &url, vus, iterations);
    let ca = ca.display().to_string();
    let mut all = vec!["--ca-cert", ca.as_str()];
    all.extend_from_slice(args);
    let (exit, report) = run_scenario(dir.path(), &scenario, &all).await;
    assert_eq!(exit, Exit::Passed, "{args:?}: {:?}", report.errors_by_kind);
    (mock, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_goes_over_each_vus_own_connection_with_http1_and_http2_and_reports_its_set_up() {
    for (version, spoken) in [("1.1", HttpProtocol::Http1), ("2", HttpProtocol::Http2)] {
        let (mock, report) = run_over_tls(2, 6, &["--http", version]).await;
        assert_eq!(report.meta.http_versions, [spoken], "HTTP/{version}");
        let meta = report.meta.connection.as_ref().expect("policy recorded");
        assert_eq!(meta.policy, "keep_alive");
        // keep_alive: at most one connection per VU (a VU the other left no
        // iteration to never connects), every other request reuses one, and
        // the mock saw exactly the connections reported.
        let (new, reused, resumed) = counts(&report);
        assert!((1..=2).contains(&new), "HTTP/{version}: {new} new");
        assert_eq!((new + reused, resumed), (12, 0), "HTTP/{version}");
        assert_eq!(mock.connections(), new, "HTTP/{version}");
        for route in routes(&report) {
            // Connect and TLS figures come only from requests that opened a
            // connection; only the per-VU rustls path measures them.
            let opened = route.new_connections;
            assert_eq!(route.connect.as_ref().map_or(0, |p| p.count), opened);
            assert_eq!(route.tls_handshake.as_ref().map_or(0, |p| p.count), opened);
            let first_byte = route.first_byte.as_ref().expect("first byte timed");
            assert_eq!(first_byte.count, opened + route.reused);
            assert!(first_byte.latency.max_us > 0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_has_connect_and_first_byte_figures_but_no_tls_ones() {
    let mock = chatload_mock::spawn(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = two_steps(dir.path(), &mock.base_url(), 1, 3);
    let (exit, report) = run_scenario(dir.path(), &scenario, &[]).await;
    assert_eq!(exit, Exit::Passed, "{:?}", report.errors_by_kind);
    assert_eq!(counts(&report), (1, 5, 0));
    let opened: Vec<_> = routes(&report).filter(|c| c.new_connections > 0).collect();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].connect.as_ref().map(|p| p.count), Some(1));
    assert!(routes(&report).all(|c| c.tls_handshake.is_none()));
    assert!(routes(&report).all(|c| c.first_byte.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_per_iteration_opens_one_connection_per_iteration_and_resumes_the_tls_session() {
    let args = ["--http", "1.1", "--connection", "new_per_iteration"];
    let (mock, report) = run_over_tls(1, 4, &args).await;
    assert_eq!(
        report.meta.connection.as_ref().map(|c| c.policy.as_str()),
        Some("new_per_iteration")
    );
    // Four iterations of two requests: a new connection for the first
    // request of each, the second reuses it; the mock saw four connections.
    assert_eq!(mock.connections(), 4);
    let (new, reused, resumed) = counts(&report);
    assert_eq!((new, reused), (4, 4));
    // The first handshake is a full one; the client's one session cache
    // lets every later reconnect resume.
    assert_eq!(resumed, 3, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http2_policy_multiplexes_the_vus_over_one_shared_connection() {
    let args = ["--connection", "http2", "--vus-per-connection", "4"];
    let (mock, report) = run_over_tls(4, 8, &args).await;
    assert_eq!(report.meta.http_versions, [HttpProtocol::Http2]);
    let meta = report.meta.connection.as_ref().expect("policy recorded");
    assert_eq!(
        (meta.policy.as_str(), meta.vus_per_connection),
        ("http2", Some(4))
    );
    assert_eq!(mock.connections(), 1, "four VUs, one HTTP/2 connection");
    let tls = mock.tls_counts().expect("serving TLS");
    assert_eq!((tls.h2, tls.http1), (1, 0));
    assert_eq!(counts(&report), (1, 15, 0));
}

// See: audit measure.md #6. Requests that timed out on a kept-alive
// connection were in neither column of the connection table (new 6 +
// reused 48 of 60 requests); each was sent, so it opened or reused one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_time_out_count_in_the_connection_table() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let seen = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new().fallback({
        let seen = seen.clone();
        // Every third request is answered long after the timeout.
        move || async move {
            if seen.fetch_add(1, Ordering::SeqCst) % 3 == 2 {
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            }
            axum::Json(serde_json::json!({}))
        }
    });
    let addr = crate::common::serve_in_thread(app);
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: slow\ntarget:\n  base_url: http://{addr}/v1\n  app_id: a\n  secret: s\n  timeout: 300ms\n\
         load: {{vus: 1, iterations: 6}}\nsteps:\n  - get_settings:\n"
    );
    let scenario = write_scenario(dir.path(), "slow.yaml", &yaml);
    let (_, report) = run_scenario(dir.path(), &scenario, &["--schema", "off"]).await;
    let route = &report.routes[0];
    assert_eq!(route.count, 6);
    assert_eq!(route.failures.get("timeout"), Some(&2), "{route:?}");
    let (new, reused, _) = counts(&report);
    assert_eq!(new + reused, 6, "{new} new + {reused} reused");
    // The two timed out on a connection the request before had used.
    assert!(reused >= 2, "{reused} reused");
    let conn = routes(&report).next().expect("the route's connections");
    assert_eq!(conn.connect.as_ref().map(|p| p.count), Some(new));
    // Only answered requests have a time to first byte.
    assert_eq!(conn.first_byte.as_ref().map(|p| p.count), Some(4));
}

#[test]
fn validate_checks_the_connection_policy_in_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(
        dir.path(),
        "bad.yaml",
        "name: bad\ntarget:\n  connection: sometimes\n  vus_per_connection: 5\nload: {vus: 1, iterations: 1}\nsteps:\n  - get_settings:\n",
    );
    let stderr = usage_error(chatload().arg("validate").arg(&path));
    assert!(
        stderr.contains("target.connection")
            && stderr.contains("keep_alive, new_per_iteration or http2"),
        "{stderr}"
    );
    assert!(
        stderr.contains("target.vus_per_connection")
            && stderr.contains("only with `connection: http2`"),
        "{stderr}"
    );
    assert!(stderr.contains("bad.yaml:3:"), "file:line:column: {stderr}");
}

/// Each virtual user keeps its own TLS sessions: a VU's first connection is
/// a full handshake even after another VU connected (a new user's browser
/// has no ticket), and its reconnect resumes its own session. Before, one
/// cache per client let a VU that connected second resume the first one's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_vu_resumes_only_its_own_tls_session() {
    use chatload::api::Operation;
    use chatload::client::{
        ApiClient, ApiRequest, CaCert, ClientConfig, ConnSlot, Credentials, HttpVersion, TlsOptions,
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (mock, ca) = tls_mock(dir.path()).await;
    let pem = std::fs::read(&ca).expect("read CA");
    let tls = TlsOptions {
        extra_ca: Some(CaCert::from_pem("mock CA", &pem).expect("CA parses")),
        insecure: false,
        http: HttpVersion::Http1,
    };
    let config = ClientConfig {
        base_url: format!("https://localhost:{}/v1", mock.addr().port()),
        credentials: Credentials {
            app_id: Some("demo-app".to_owned()),
            secret: Some("demo-secret".to_owned()),
            domain_key: None,
        },
        extra_headers: Vec::new(),
        timeout: std::time::Duration::from_secs(10),
        pool_size: 1,
        policy: Default::default(),
        max_body: chatload::client::DEFAULT_MAX_BODY,
    };
    let client = ApiClient::with_tls(&config, tls).expect("client builds");
    let path = Operation::GetSettings.path_with(&[]);
    let mut resumed = Vec::new();
    let mut slots = [ConnSlot::new(1), ConnSlot::new(2)];
    for vu in [0, 1, 0] {
        let slot = &mut slots[vu];
        let request = ApiRequest::secret(Operation::GetSettings, &path, None);
        let response = client
            .send_on(slot, request, std::time::Instant::now())
            .await
            .expect("a response");
        assert_eq!(response.status, 200);
        let opened = response.conn.opened.expect("a new connection");
        resumed.push(opened.resumed);
        slot.drop_connection();
    }
    // VU 1 full, VU 2 full (it has no session of its own), VU 1 resumed.
    assert_eq!(resumed, [false, false, true]);
    assert_eq!(mock.connections(), 3);
}
