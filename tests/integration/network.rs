//! A real network between chatload and the mock (issue 12, point 4): the
//! mock serves inside its own network namespace behind a veth pair, and
//! every packet pays a delay: `tc netem` (25 ms ± 5 ms each way, 0.1 %
//! loss) when the kernel has it, else the userspace [`relay::Relay`] on the
//! namespace boundary (25 ms + up to 5 ms each way, and a handshake's round
//! trip per new connection). Each test prints which one it used.
//!
//! Root only: as another user each test prints why it skipped and passes;
//! with `CHATLOAD_REQUIRE_NETNS=1` set, a skip fails instead (for machines
//! that must run them). The namespace is deleted on drop, panics included.
//!
//! The delay and keep-alive test also runs over TLS: the mock serves HTTPS
//! in the namespace with a certificate from a CA of the test's own, which
//! the harness trusts (`target.ca_cert`); a new connection then pays the TLS
//! handshake's round trip too.
//!
//! One test runs anywhere: keep-alive reuse on loopback, counted by the
//! mock as the namespace tests count it.
//!
//! Assertions relate the run's numbers to the configured delay (the
//! network can only add time), never to a wall-clock ceiling.

mod netns;
mod relay;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chatload::app::Exit;
use chatload::report::{HttpProtocol, RunReport};
use chatload_mock::testing::{DEMO_APP, DEMO_SECRET};
use chatload_mock::{MockConfig, MockServer, TlsConfig};

use self::netns::{NetNs, Unavailable};
use self::relay::{Relay, RelayConfig};
use crate::common::{run_scenario, step, write_scenario};
use crate::tls::own_certificate;

/// Delay each way.
const ONE_WAY: Duration = Duration::from_millis(25);
/// netem: ± this; the relay: + up to this.
const JITTER: Duration = Duration::from_millis(5);
/// netem's loss, in percent.
const LOSS_PERCENT: f64 = 0.1;

/// The mock in a namespace, and what delays the way to it.
struct Network {
    mock: MockServer,
    /// `Some` when the kernel has no netem.
    relay: Option<Relay>,
    /// The CA the harness trusts when the mock serves TLS.
    ca_cert: Option<PathBuf>,
    /// Declared after the mock and relay: they stop before it is deleted.
    _ns: NetNs,
}

impl Network {
    /// Sets up the namespace and the delay and starts a mock with `config`
    /// in it; `None` (after saying why) when this machine cannot.
    async fn start(config: MockConfig) -> Option<Network> {
        Self::start_serving(config, None).await
    }

    /// [`Network::start`] with the mock serving HTTPS: a certificate for
    /// every address the harness may dial, signed by a CA written to `dir`.
    async fn start_tls(config: MockConfig, dir: &Path) -> Option<Network> {
        Self::start_serving(config, Some(dir)).await
    }

    async fn start_serving(mut config: MockConfig, tls_dir: Option<&Path>) -> Option<Network> {
        let ns = match NetNs::create() {
            Ok(ns) => ns,
            Err(Unavailable::Skip(why)) => return skip(&why),
            Err(Unavailable::Failed(why)) => panic!("network namespace set-up failed: {why}"),
        };
        let ca_cert = tls_dir.map(|dir| {
            let ns_ip = ns.ns_ip.to_string();
            let (cert, key, ca) = own_certificate(dir, &["localhost", "127.0.0.1", &ns_ip])
                .expect("a certificate for the mock");
            config.tls = Some(TlsConfig {
                cert: Some(cert),
                key: Some(key),
                ..TlsConfig::default()
            });
            ca
        });
        let relay = match ns.add_netem(ONE_WAY, JITTER, LOSS_PERCENT) {
            Ok(()) => {
                eprintln!(
                    "network test: delay by tc netem ({ONE_WAY:?} ± {JITTER:?} each way, {LOSS_PERCENT}% loss)"
                );
                None
            }
            Err(why) => {
                eprintln!(
                    "network test: delay by the userspace relay ({ONE_WAY:?} + up to {JITTER:?} each way): no tc netem here ({why})"
                );
                Some(RelayConfig {
                    one_way: ONE_WAY,
                    jitter: JITTER,
                    reset_after: None,
                })
            }
        };
        let listener = ns.bind().expect("bind inside the namespace");
        listener.set_nonblocking(true).expect("non-blocking");
        let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
        let mock = chatload_mock::spawn_on(listener, config)
            .await
            .expect("mock starts");
        let relay = match relay {
            Some(config) => Some(
                Relay::start(mock.addr(), config)
                    .await
                    .expect("relay starts"),
            ),
            None => None,
        };
        Some(Network {
            mock,
            relay,
            ca_cert,
            _ns: ns,
        })
    }

    /// The base URL that goes through the delay.
    fn base_url(&self) -> String {
        let scheme = if self.ca_cert.is_some() {
            "https"
        } else {
            "http"
        };
        match &self.relay {
            Some(relay) => format!("{scheme}://{}/v1", relay.addr()),
            None => self.mock.base_url(),
        }
    }

    /// The least delay one way: netem's jitter can also subtract.
    fn one_way_floor(&self) -> Duration {
        match self.relay {
            Some(_) => ONE_WAY,
            None => ONE_WAY - JITTER,
        }
    }
}

/// Says why the test did not run; fails when `CHATLOAD_REQUIRE_NETNS` is set.
fn skip(why: &str) -> Option<Network> {
    assert!(
        std::env::var_os("CHATLOAD_REQUIRE_NETNS").is_none(),
        "CHATLOAD_REQUIRE_NETNS is set but the network test cannot run: {why}"
    );
    eprintln!("network test SKIPPED: {why}");
    None
}

/// Runs `get_settings` under `load` (a YAML flow mapping) against
/// `base_url` as the demo app, with `target_extra` added to `target:`.
async fn run_settings(base_url: &str, target_extra: &str, load: &str) -> (Exit, RunReport) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let yaml = format!(
        "name: network\ntarget:\n  base_url: {base_url}\n  app_id: {DEMO_APP}\n  secret: {DEMO_SECRET}\n\
         {target_extra}load: {load}\nsteps:\n  - get_settings:\n"
    );
    let path = write_scenario(dir.path(), "network.yaml", &yaml);
    run_scenario(dir.path(), &path, &[]).await
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).expect("a test-sized duration")
}

/// Checks a 2-VU run of `get_settings` over `net`: every request pays a
/// round trip, a new connection also `setup_round_trips` more (TCP, TLS),
/// and each VU kept one connection for all its requests.
fn assert_delayed_and_reused(net: &Network, report: &RunReport, setup_round_trips: u64) {
    let latency = &step(report, "get_settings").latency;
    let round_trip = us(net.one_way_floor() * 2);
    // A request on a reused connection pays one round trip at least.
    assert!(
        latency.p50_us >= round_trip,
        "p50 {} µs below the round trip {round_trip} µs",
        latency.p50_us
    );
    // A new connection's first request also pays its set-up's round trips.
    assert!(
        latency.max_us >= (1 + setup_round_trips) * round_trip,
        "max {} µs: no connection set-up cost ({setup_round_trips} round trips of {round_trip} µs)",
        latency.max_us
    );
    // Keep-alive: each virtual user's one connection carried all its requests.
    let connections = net.mock.connections();
    assert!(
        (1..=2).contains(&connections),
        "{connections} connections for 2 VUs and {} requests",
        report.totals.requests
    );
    if let Some(relay) = &net.relay {
        assert_eq!(
            relay.accepted(),
            connections,
            "one upstream connection per client connection"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latencies_include_the_delay_and_keep_alive_connections_are_reused() {
    let Some(net) = Network::start(MockConfig::default()).await else {
        return;
    };
    let (exit, report) = run_settings(&net.base_url(), "", "{vus: 2, iterations: 10}").await;
    assert_eq!(exit, Exit::Passed, "{:?}", report.errors_by_kind);
    assert_eq!(report.meta.http_versions, [HttpProtocol::Http1]);
    assert_delayed_and_reused(&net, &report, 1);
}

/// The same over HTTPS: the handshake crosses the delay too, once per
/// connection, and the mock counts one handshake per connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_latencies_include_the_delay_and_the_handshake_and_connections_are_reused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let Some(net) = Network::start_tls(MockConfig::default(), dir.path()).await else {
        return;
    };
    let ca = net.ca_cert.as_ref().expect("serving TLS").display();
    let (exit, report) = run_settings(
        &net.base_url(),
        &format!("  ca_cert: {ca}\n"),
        "{vus: 2, iterations: 10}",
    )
    .await;
    assert_eq!(exit, Exit::Passed, "{:?}", report.errors_by_kind);
    assert!(report.meta.target.starts_with("https://"));
    assert_eq!(report.totals.requests, 10);
    // TCP's handshake and TLS's (one round trip in TLS 1.3).
    assert_delayed_and_reused(&net, &report, 2);
    let tls = net.mock.tls_counts().expect("serving TLS");
    assert_eq!(tls.failed, 0, "{tls:?}");
    assert_eq!(
        tls.h2 + tls.http1,
        net.mock.connections(),
        "one handshake per connection: {tls:?}"
    );
    eprintln!(
        "network test over TLS: {:?}, {tls:?}, p50 {} µs, max {} µs",
        report.meta.http_versions,
        step(&report, "get_settings").latency.p50_us,
        step(&report, "get_settings").latency.max_us
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinated_omission_correction_shows_a_stall_behind_the_delay() {
    let config = MockConfig::from_yaml_str("faults:\n  stall_ms: 60\n", "stall.yaml").unwrap();
    let Some(net) = Network::start(config).await else {
        return;
    };
    // One VU finishes an iteration per stall + round trip (> 100 ms); 20
    // arrive each second and wait in the backlog.
    // (1 s: arrivals still waiting when the load phase ends are dropped, so
    // the waits that pile up are those within it.)
    let load = "{arrival_rate: 20, duration: 1s, max_vus: 1, backlog: 100, graceful_stop: 20s}";
    let (_, report) = run_settings(&net.base_url(), "", load).await;
    let s = step(&report, "get_settings");
    assert_eq!(s.errors, 0, "{:?}", report.errors_by_kind);
    let floor = 60_000 + us(net.one_way_floor() * 2);
    assert!(
        s.latency.p50_us >= floor,
        "raw p50 {} µs below stall + round trip {floor} µs",
        s.latency.p50_us
    );
    // The raw histogram is each request's own time; the corrected one adds
    // the wait since its planned start, which the stall piles up.
    assert_ne!(s.histogram, s.corrected_histogram);
    assert!(
        s.corrected.p99_us > 2 * s.latency.p99_us,
        "corrected p99 {} µs vs raw p99 {} µs",
        s.corrected.p99_us,
        s.latency.p99_us
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_fire_at_their_configured_value_before_the_delayed_response() {
    let Some(net) = Network::start(MockConfig::default()).await else {
        return;
    };
    let (exit, report) = run_settings(
        &net.base_url(),
        "  timeout: 10ms\n",
        "{vus: 1, iterations: 3}",
    )
    .await;
    assert_eq!(exit, Exit::Failed);
    assert_eq!(
        report.errors_by_kind.get("timeout"),
        Some(&3),
        "{:?}",
        report.errors_by_kind
    );
    let latency = &step(&report, "get_settings").latency;
    // Not before the timeout, and before any response could have come back.
    assert!(
        latency.min_us >= 10_000,
        "min {} µs: fired early",
        latency.min_us
    );
    let round_trip = us(net.one_way_floor() * 2);
    assert!(
        latency.max_us < round_trip,
        "max {} µs: waited for the response ({round_trip} µs away) instead of timing out",
        latency.max_us
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_reset_by_the_network_are_replaced_and_every_request_accounted() {
    let Some(net) = Network::start(MockConfig::default()).await else {
        return;
    };
    // A relay that resets each connection after its first response, in
    // front of whatever delays the way to the mock.
    let resets = RelayConfig {
        one_way: Duration::ZERO,
        jitter: Duration::ZERO,
        reset_after: Some(1),
    };
    let upstream = net.relay.as_ref().map_or(net.mock.addr(), Relay::addr);
    let resetting = Relay::start(upstream, resets).await.expect("relay starts");
    let url = format!("http://{}/v1", resetting.addr());
    let (_, report) = run_settings(&url, "", "{vus: 2, iterations: 8}").await;
    assert_eq!(report.totals.requests, 8, "every request counted");
    let answered = report.totals.requests - report.totals.errors;
    assert!(answered > 0, "{:?}", report.errors_by_kind);
    // Each connection carries at most one response: the harness reconnected.
    assert!(
        resetting.accepted() >= answered,
        "{} connections for {answered} answered requests",
        resetting.accepted()
    );
    // A reset is a transport failure, never a timeout or a status.
    for kind in report.errors_by_kind.keys() {
        assert!(
            ["other", "connect"].contains(&kind.as_str()),
            "{:?}",
            report.errors_by_kind
        );
    }
}

/// Keep-alive reuse on loopback, where every machine can check it: the
/// mock's connection count is what the namespace tests rely on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_virtual_user_keeps_one_connection_on_loopback_too() {
    let mock = chatload_mock::spawn(MockConfig::default())
        .await
        .expect("mock starts");
    let (exit, report) = run_settings(&mock.base_url(), "", "{vus: 3, iterations: 30}").await;
    assert_eq!(exit, Exit::Passed, "{:?}", report.errors_by_kind);
    assert_eq!(report.totals.requests, 30);
    let connections = mock.connections();
    assert!(
        (1..=3).contains(&connections),
        "{connections} connections for 3 VUs"
    );
}
