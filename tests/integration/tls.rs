//! HTTPS end to end (issue 12, point 1): the mock serving TLS with a
//! generated certificate, chatload trusting its CA (`--ca-cert`,
//! `target.ca_cert`), HTTP/1.1 and HTTP/2 by ALPN, a wrong or missing CA
//! failing with the certificate problem named, `--insecure` with its
//! warning, and the bundled mock over TLS (`--mock-tls`).

use std::path::{Path, PathBuf};

use chatload::app::{self, Exit};
use chatload::cli::Cli;
use chatload::report::HttpProtocol;
use chatload_mock::{MockConfig, MockServer, TlsConfig};
use clap::Parser;

use crate::common::{DEMO_ENV, chatload, read_json, run_scenario, usage_error, write_scenario};

/// A mock serving HTTPS with a certificate generated for localhost.
async fn start_tls_mock() -> MockServer {
    let config = MockConfig {
        tls: Some(TlsConfig::default()),
        ..MockConfig::default()
    };
    chatload_mock::spawn(config).await.expect("TLS mock starts")
}

/// `https://localhost:PORT/v1`: the certificate's DNS name, not the IP.
fn localhost_url(mock: &MockServer) -> String {
    format!("https://localhost:{}/v1", mock.addr().port())
}

/// Writes the mock's generated CA into `dir`.
fn write_ca(dir: &Path, mock: &MockServer) -> PathBuf {
    let path = dir.join("mock-ca.pem");
    std::fs::write(&path, mock.ca_pem().expect("a generated CA")).expect("write CA");
    path
}

/// The shipped lifecycle scenario with the mock's demo credentials added to
/// its `target:` (a remote target takes no default credentials).
fn lifecycle_with_credentials(dir: &Path) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/chat-lifecycle.yaml");
    let yaml = std::fs::read_to_string(shipped).expect("shipped scenario");
    let with_credentials = yaml.replacen(
        "target:\n",
        "target:\n  app_id: demo-app\n  secret: demo-secret\n  domain_key: demo-domain-key\n",
        1,
    );
    assert_ne!(with_credentials, yaml, "the scenario has a target: block");
    write_scenario(dir, "lifecycle.yaml", &with_credentials)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_runs_over_https_with_http1_and_with_http2() {
    let mock = start_tls_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = write_ca(dir.path(), &mock);
    let scenario = lifecycle_with_credentials(dir.path());
    let url = localhost_url(&mock);
    for version in ["1.1", "2"] {
        let before = mock.tls_counts().expect("serving TLS");
        let (exit, report) = run_scenario(
            dir.path(),
            &scenario,
            &[
                "--target",
                &url,
                "--ca-cert",
                &ca.display().to_string(),
                "--http",
                version,
                "--vus",
                "2",
                "--iterations",
                "2",
            ],
        )
        .await;
        assert_eq!(
            exit,
            Exit::Passed,
            "HTTP/{version}: {:?}",
            report.errors_by_kind
        );
        assert_eq!(report.totals.errors, 0, "HTTP/{version}");
        assert_eq!(report.totals.iterations, 2, "HTTP/{version}");
        assert!(report.meta.target.starts_with("https://localhost:"));
        // The report names the protocol the responses came over.
        let spoken = match version {
            "1.1" => HttpProtocol::Http1,
            _ => HttpProtocol::Http2,
        };
        assert_eq!(report.meta.http_versions, [spoken], "HTTP/{version}");
        // The protocol actually spoken: the mock counts handshakes by ALPN.
        let after = mock.tls_counts().expect("serving TLS");
        let (h2, http1) = (after.h2 - before.h2, after.http1 - before.http1);
        match version {
            "1.1" => assert!(
                http1 > 0 && h2 == 0,
                "HTTP/1.1 run: {after:?} after {before:?}"
            ),
            _ => assert!(
                h2 > 0 && http1 == 0,
                "HTTP/2 run: {after:?} after {before:?}"
            ),
        }
        assert_eq!(after.failed, before.failed, "no handshake failed");
    }
}

/// A user's own CA and a certificate for `names` (DNS names or IP
/// addresses) signed by it, written as PEM into `dir`: `(cert chain, key, CA)`.
pub fn own_certificate(
    dir: &Path,
    names: &[&str],
) -> Result<(PathBuf, PathBuf, PathBuf), Box<dyn std::error::Error>> {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "a user's own CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate()?)?;
    let key = rcgen::KeyPair::generate()?;
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let cert = rcgen::CertificateParams::new(names)?.signed_by(&key, &ca)?;
    let paths = (
        dir.join("server.pem"),
        dir.join("server.key"),
        dir.join("ca.pem"),
    );
    std::fs::write(&paths.0, format!("{}{}", cert.pem(), ca.pem()))?;
    std::fs::write(&paths.1, key.serialize_pem())?;
    std::fs::write(&paths.2, ca.pem())?;
    Ok(paths)
}

/// A `chatload mock` process, killed on drop.
struct MockProcess(std::process::Child);

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `chatload mock --port 0 ARGS` and returns it with the port it
/// announced on stderr.
fn spawn_mock_process(args: &[&std::ffi::OsStr]) -> (MockProcess, u16) {
    use std::io::BufRead as _;
    let mut child = chatload()
        .args(["mock", "--port", "0"])
        .args(args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("chatload mock starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let process = MockProcess(child);
    let mut stderr = std::io::BufReader::new(stderr);
    let mut line = String::new();
    stderr.read_line(&mut line).expect("reads stderr");
    // Keep draining: a closed pipe would fail the mock's later log lines.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let port = line
        .split("://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no address announced: {line}"));
    (process, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatload_mock_serves_a_users_own_certificate_with_http1_and_http2() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, ca) =
        own_certificate(dir.path(), &["localhost"]).expect("a certificate of our own");
    let (_mock, port) = spawn_mock_process(&[
        "--tls-cert".as_ref(),
        cert.as_os_str(),
        "--tls-key".as_ref(),
        key.as_os_str(),
    ]);
    let scenario = write_scenario(
        dir.path(),
        "own.yaml",
        "name: own\ntarget:\n  app_id: demo-app\n  secret: demo-secret\nload: {vus: 1, iterations: 2}\nsteps:\n  - get_settings:\n",
    );
    let url = format!("https://localhost:{port}/v1");
    let ca = ca.display().to_string();
    for (version, spoken) in [("1.1", HttpProtocol::Http1), ("2", HttpProtocol::Http2)] {
        let args = ["--target", &url, "--ca-cert", &ca, "--http", version];
        let (exit, report) = run_scenario(dir.path(), &scenario, &args).await;
        assert_eq!(
            exit,
            Exit::Passed,
            "HTTP/{version}: {:?}",
            report.errors_by_kind
        );
        assert_eq!(report.totals.requests, 2, "HTTP/{version}");
        assert_eq!(report.meta.http_versions, [spoken], "HTTP/{version}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_cert_in_the_scenario_is_read_relative_to_the_scenario_file() {
    let mock = start_tls_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("scenarios");
    std::fs::create_dir(&sub).unwrap();
    write_ca(&sub, &mock);
    let yaml = format!(
        "name: tls-scenario\ntarget:\n  base_url: {}\n  app_id: demo-app\n  secret: demo-secret\n  \
         ca_cert: mock-ca.pem\n  http: 2\nload: {{vus: 1, iterations: 2}}\nsteps:\n  - get_settings:\n",
        localhost_url(&mock)
    );
    let scenario = write_scenario(&sub, "s.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &scenario, &[]).await;
    assert_eq!(exit, Exit::Passed, "{:?}", report.errors_by_kind);
    assert_eq!(report.totals.requests, 2);
    let counts = mock.tls_counts().unwrap();
    assert!(counts.h2 > 0 && counts.http1 == 0, "{counts:?}");
}

/// `chatload run` as a user runs it, against a mock in this process.
fn run_binary(dir: &Path, url: &str, extra: &[&str]) -> std::process::Output {
    let scenario = write_scenario(
        dir,
        "one.yaml",
        "name: one\nload: {vus: 1, iterations: 1}\nsteps:\n  - get_settings:\n",
    );
    chatload()
        .args(["run", "--quiet", "--target", url, "--out"])
        .arg(dir.join("r.json"))
        .args(extra)
        .arg(&scenario)
        .envs(DEMO_ENV)
        .output()
        .expect("chatload runs")
}

#[test]
fn a_missing_or_wrong_ca_fails_as_unreachable_and_names_the_certificate_problem() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mock = rt.block_on(start_tls_mock());
    let dir = tempfile::tempdir().unwrap();
    let other_ca = dir.path().join("other-ca.pem");
    let other = chatload_mock::tls::generate_for_localhost().unwrap();
    std::fs::write(&other_ca, other.ca_pem).unwrap();
    let url = localhost_url(&mock);
    let other_ca = other_ca.display().to_string();
    for (case, extra) in [
        ("no CA", &[][..]),
        ("another CA", &["--ca-cert", &other_ca][..]),
    ] {
        let out = run_binary(dir.path(), &url, extra);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{case}: {stderr}");
        assert!(
            stderr.contains("the target is unreachable"),
            "{case}: {stderr}"
        );
        assert!(
            stderr.contains("TLS handshake failed: invalid peer certificate"),
            "{case}: {stderr}"
        );
        assert!(stderr.contains("--ca-cert"), "{case}: {stderr}");
    }
    assert!(
        mock.tls_counts().unwrap().failed >= 2,
        "the mock saw the refusals"
    );
    drop(mock);
}

#[test]
fn insecure_accepts_the_unknown_certificate_and_warns_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mock = rt.block_on(start_tls_mock());
    let dir = tempfile::tempdir().unwrap();
    let out = run_binary(dir.path(), &localhost_url(&mock), &["--insecure"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr
            .matches("TLS certificate verification is off")
            .count(),
        1,
        "{stderr}"
    );
    drop(mock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundled_mock_serves_https_with_mock_tls() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(
        dir.path(),
        "s.yaml",
        "name: s\nload: {vus: 2, iterations: 4}\nsteps:\n  - get_settings:\n  - create_user:\n      name: Ann\n",
    );
    let (exit, report) = run_scenario(dir.path(), &scenario, &["--mock-tls", "--http", "2"]).await;
    assert_eq!(exit, Exit::Passed, "{:?}", report.errors_by_kind);
    assert!(report.meta.target.starts_with("https://127.0.0.1:"));
    assert_eq!(report.meta.target_kind, "bundled-mock");
    assert_eq!(report.meta.http_versions, [HttpProtocol::Http2]);
    assert_eq!(report.totals.requests, 8);
}

#[tokio::test]
async fn http2_or_the_http2_policy_without_tls_and_an_unreadable_ca_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(
        dir.path(),
        "s.yaml",
        "name: s\nload: {vus: 1, iterations: 1}\nsteps:\n  - get_settings:\n",
    );
    let missing = dir.path().join("missing.pem").display().to_string();
    for (args, expected) in [
        (&["--http", "2"][..], "add --mock-tls"),
        (
            &["--ca-cert", &missing][..],
            "cannot read the CA certificate",
        ),
        // See: audit item 9 — with --mock-tls the file was silently ignored.
        (&["--mock-tls", "--ca-cert", &missing][..], &missing[..]),
        (&["--connection", "http2"][..], "add --mock-tls"),
        (
            &["--vus-per-connection", "3"][..],
            "http2 connection policy only",
        ),
    ] {
        let mut argv = vec!["chatload", "run", "--quiet"];
        argv.extend_from_slice(args);
        let path = scenario.display().to_string();
        argv.push(&path);
        let cli = Cli::try_parse_from(&argv).expect("parses");
        let err = app::run(cli).await.expect_err("refused");
        assert_eq!(err.exit, Exit::Usage, "{args:?}");
        assert!(
            format!("{:#}", err.error).contains(expected),
            "{args:?}: {:#}",
            err.error
        );
    }
}

#[test]
fn validate_checks_ca_cert_and_http_in_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(
        dir.path(),
        "bad.yaml",
        "name: bad\ntarget:\n  ca_cert: nowhere.pem\n  http: 3\nload: {vus: 1, iterations: 1}\nsteps:\n  - get_settings:\n",
    );
    let stderr = usage_error(chatload().arg("validate").arg(&path));
    assert!(
        stderr.contains("target.ca_cert") && stderr.contains("nowhere.pem"),
        "{stderr}"
    );
    assert!(
        stderr.contains("target.http") && stderr.contains("1.1, 2 or auto"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conform_passes_over_https_against_the_bundled_mock_with_mock_tls() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("conform.json");
    let argv = [
        "chatload",
        "conform",
        "--mock-tls",
        "--http",
        "1.1",
        "--out",
    ];
    let mut argv: Vec<String> = argv.iter().map(|s| (*s).to_owned()).collect();
    argv.push(out.display().to_string());
    let cli = Cli::try_parse_from(&argv).expect("parses");
    let exit = app::run(cli).await.expect("conform runs");
    let report = read_json(&out);
    assert_eq!(exit, Exit::Passed, "{report}");
    assert_eq!(report["operations_exercised"], 50);
    assert!(
        report["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("https://")),
        "{}",
        report["target"]
    );
}

/// A TLS target that accepts TCP connections and never answers the handshake was never
/// reached: every request is a connect failure, and the run stops as unreachable (exit 3),
/// not as a run of timeouts against a target that answered (exit 1).
#[test]
fn a_tls_handshake_that_never_completes_is_an_unreachable_target() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    // Accepts and holds every connection, reading and writing nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(
        dir.path(),
        "silent.yaml",
        "name: silent\ntarget: {timeout: 200ms}\nload: {vus: 1, duration: 20s}\nsteps:\n  - get_settings:\n",
    );
    let out = chatload()
        .args(["run", "--quiet", "--insecure", "--out"])
        .arg(dir.path().join("r.json"))
        .args(["--target", &format!("https://127.0.0.1:{port}/v1")])
        .arg(&scenario)
        .envs(DEMO_ENV)
        .output()
        .expect("chatload runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("the target is unreachable"), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    let kinds = &report["errors_by_kind"];
    assert!(kinds.get("timeout").is_none(), "{kinds}");
    assert!(
        report["meta"]["load_secs"].as_f64().unwrap() < 10.0,
        "stopped early as unreachable: {}",
        report["meta"]
    );
}
