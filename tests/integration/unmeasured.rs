//! What was not measured is shown as such, never as a good value (outside
//! audit 5): a route none of whose responses was schema-checked is a
//! skipped JUnit case, a step that never ran is neither "clean" nor at a 0
//! error rate, a run stopped early says why, and the connection figures
//! account for every request of a route, the agent actors' too.

use chatload::app::Exit;
use serde_json::Value;

use crate::common::{read_json, run_scenario, target_block, write_scenario};
use chatload_mock::testing::start_mock;

/// The JSON report `run_scenario` wrote for `name.yaml` in `dir`.
fn json_of(dir: &std::path::Path, name: &str) -> Value {
    read_json(&dir.join(format!("report-{name}.json")))
}

// F2 and F11: `get_user` fails every time and ends the iteration, so the
// last step (the only one calling GET /settings) never runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_never_called_route_and_a_never_run_step_are_not_reported_as_clean() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: never\n{}load: {{vus: 1, iterations: 2}}\nsteps:\n  - create_user:\n  \
         - get_user: {{user: \"nonexistent-{{{{ uuid }}}}\"}}\n    expect: {{status: 200}}\n  \
         - get_settings:\n    name: never_step\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "never.yaml", &yaml);
    let (junit, csv, html) = (
        dir.path().join("never.xml"),
        dir.path().join("never.csv"),
        dir.path().join("never.html"),
    );
    let args = [
        "--junit",
        junit.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ];
    let (exit, _) = run_scenario(dir.path(), &path, &args).await;
    assert_eq!(exit, Exit::Failed);

    // JUnit: no passing schema case for a route no response of was checked.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let settings = (xml.split("name=\"schema: GET /settings\"").nth(1))
        .and_then(|case| case.split("</testcase>").next())
        .unwrap_or_else(|| panic!("no schema case for GET /settings: {xml}"));
    assert!(settings.contains("<skipped"), "{settings}");
    assert!(settings.contains("never called"), "{settings}");
    let passing = "name=\"schema: POST /users\" classname=\"schema\"/>";
    assert!(xml.contains(passing), "{xml}");

    // JSON: every route's checked count, 0 where none was checked.
    let report = json_of(dir.path(), "never");
    let by_route = &report["schema"]["checked_by_route"];
    assert_eq!(by_route["GET /settings"], 0, "{by_route}");
    assert_eq!(by_route["POST /users"], 2, "{by_route}");

    // CSV: a step that never ran has no error rate, as it has no latency.
    let csv = std::fs::read_to_string(&csv).unwrap();
    let row = csv
        .lines()
        .find(|l| l.starts_with("step,never_step,"))
        .unwrap_or_else(|| panic!("no never_step row: {csv}"));
    let cells: Vec<&str> = row.split(',').collect();
    assert_eq!((cells[3], cells[5]), ("0", ""), "{row}");

    // HTML: of three steps one is clean, one failed and one never ran.
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("1/3 steps clean"), "checks card");
    assert!(html.contains("1 never ran"), "checks card");
}

// F10: a run stopped because nothing ever connected says so, not "Ctrl-C".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_stop_is_not_reported_as_a_signal() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: unreachable\ntarget: {{base_url: 'http://127.0.0.1:{port}/v1', app_id: a, secret: s}}\n\
         load: {{vus: 1, duration: 10s}}\nsteps:\n  - get_settings:\n"
    );
    let path = write_scenario(dir.path(), "unreachable.yaml", &yaml);
    let html = dir.path().join("unreachable.html");
    let (exit, report) = run_scenario(dir.path(), &path, &["--html", html.to_str().unwrap()]).await;
    assert_eq!(exit, Exit::RunFailed);
    let verdict = report.verdict.as_ref().expect("verdict");
    // Stopped early (meta.interrupted), by no signal (the other two agree).
    assert!(report.meta.interrupted);
    assert!(!report.meta.stopped_by_signal);
    assert!(!verdict.interrupted);
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(
        !html.contains("Ctrl-C or SIGTERM"),
        "the banner blames a signal"
    );
    assert!(
        html.contains("stopped early because the target was unreachable"),
        "the banner names the cause"
    );
}

// F7: on a route users and agent actors share, new + reused + pooled is the
// route's count less its connect failures; an agent-only route is counted too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_figures_account_for_the_agent_actors_requests() {
    let dir = tempfile::tempdir().unwrap();
    let scenario =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/agent-actors.yaml");
    let (_, report) = run_scenario(
        dir.path(),
        &scenario,
        &["--duration", "2s", "--vus", "2", "--seed", "2"],
    )
    .await;
    let json = json_of(dir.path(), "agent-actors");
    let mut shared = false;
    for (route, stats) in json["routes"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&report.routes)
    {
        let connect = stats.failures.get("connect").copied().unwrap_or(0);
        let conn = &route["connection"];
        let n = |k: &str| conn[k].as_u64().unwrap_or(0);
        assert_eq!(
            n("new_connections") + n("reused") + n("pooled"),
            stats.count - connect,
            "{}: {conn}",
            stats.name
        );
        shared |= n("pooled") > 0 && n("new_connections") + n("reused") > 0;
    }
    assert!(shared, "a route both users and agents called");
}
