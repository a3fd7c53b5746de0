//! Webhooks end to end: the run's receiver, `wait_event`, the event tracker
//! and the report's `webhooks` section.
//!
//! Most tests put a relay in the test instead of the mock's own delivery:
//! the mock's events (`testing::start_mock_relayed`), posted signed like the
//! API to the run's receiver, with faults the mock cannot make (duplicates,
//! forged signatures).

use std::net::TcpListener;

use chatload::app::Exit;
use chatload::webhook::signature::sign;
use chatload_mock::testing::{
    DEMO_SECRET, Mock, envelope, start_mock, start_mock_relayed, start_mock_yaml,
};
use chatload_mock::{MockConfig, MockEvent, MockServer};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::common::{run_scenario, step, target_block, write_scenario};

/// What the relay does besides delivering each event once, signed.
#[derive(Debug, Clone, Copy, Default)]
struct Faults {
    /// Deliver every event twice.
    duplicate: bool,
    /// Deliver this event with a forged signature instead of the real one.
    forge: Option<&'static str>,
}

const SECRET: &str = "relay-secret";

/// A free loopback port for the receiver (the relay must know it up front).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A mock whose events are posted to `http://127.0.0.1:{port}/hooks`.
async fn relayed_mock(config_yaml: &str, port: u16, faults: Faults) -> Mock {
    let config = MockConfig::from_yaml_str(config_yaml, "relay.yaml").expect("mock config");
    let (mock, rx) = start_mock_relayed(config).await;
    tokio::spawn(deliver(
        rx,
        format!("http://127.0.0.1:{port}/hooks"),
        faults,
    ));
    mock
}

async fn deliver(mut rx: UnboundedReceiver<MockEvent>, url: String, faults: Faults) {
    let client = reqwest::Client::new();
    while let Some(e) = rx.recv().await {
        let body = envelope(&e);
        let key: &[u8] = if faults.forge == Some(e.trigger) {
            b"not-the-secret"
        } else {
            SECRET.as_bytes()
        };
        let copies = if faults.duplicate { 2 } else { 1 };
        for _ in 0..copies {
            let _ = client
                .post(&url)
                .header("content-type", "application/json")
                .header("x-hook-signature", sign(key, &body))
                .body(body.clone())
                .send()
                .await;
        }
    }
}

/// `target:` plus a `webhooks:` section for the relay on `port`.
fn header(mock: &MockServer, port: u16, extra: &str) -> String {
    format!(
        "{}webhooks:\n  bind: 127.0.0.1:{port}\n  register: false\n  secret: {SECRET}\n  settle: 300ms\n{extra}",
        target_block(mock)
    )
}

const FIXED_ACCEPT: &str = "simulation:\n  accept_delay: {dist: fixed, ms: 300}\n  reply_delay: {dist: fixed, ms: 50}\n  replies: true\n";

/// A user's chat with an agent: it waits for the agent to join (capturing
/// its id) and for that agent's reply, then closes the chat.
const CONVERSATION_STEPS: &str = r#"steps:
  - create_user:
  - create_chat:
  - assign:
  - wait_event:
      event: chats:join
      timeout: 5s
      capture: {agent: data.userId}
    name: wait_join
  - send_message:
  - wait_event:
      event: messages:new
      timeout: 5s
      where: {data.message.sender: "{{ agent }}"}
    name: wait_reply
  - close_chat:"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_event_consumes_early_events_and_time_to_assign_matches_the_accept_delay() {
    let port = free_port();
    let mock = relayed_mock(FIXED_ACCEPT, port, Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"name: hooks
{}load: {{vus: 2, iterations: 6}}
thresholds:
  - time_to_assign.p95 < 5s
  - time_to_first_agent_reply.count == 6
  - event(chats:join).p99 < 2s
  - events.missing == 0
  - events.duplicate == 0
  - events.invalid_signatures == 0
  - events.schema_violations == 0
{CONVERSATION_STEPS}
  - wait_event: {{event: chats:close, timeout: 2s}}
    name: wait_close
  - wait_event: {{event: chats:create, timeout: 2s}}
    name: wait_create
"#,
        header(&mock, port, "")
    );
    let path = write_scenario(dir.path(), "hooks.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Passed, "{:#?}", report.verdict);
    let json = serde_json::to_value(&report).unwrap();
    let results = json["verdict"]["thresholds"].as_array().expect("results");
    assert_eq!(results.len(), 7);
    assert!(results.iter().all(|r| r["passed"] == true), "{results:#?}");
    for name in ["wait_create", "wait_join", "wait_reply", "wait_close"] {
        assert_eq!(step(&report, name).count, 6, "{name}");
        assert_eq!(step(&report, name).errors, 0, "{name}");
    }
    // chats:create came long before its wait, which found it in the inbox
    // (a missed one would have timed out: errors above). Not a wall-clock
    // bound a loaded CI could break: 10x the ~50 ms such a lookup may take,
    // still far below the 2 s timeout a waiting step would run into.
    assert!(
        step(&report, "wait_create").latency.max_us < 500_000,
        "{:?}",
        step(&report, "wait_create").latency
    );
    let hooks = report.webhooks.as_ref().expect("webhooks section");
    assert_eq!(hooks.counts.missing, 0, "{:?}", hooks.missing_by_event);
    assert_eq!(hooks.counts.duplicate, 0);
    assert_eq!(hooks.counts.invalid_signatures, 0);
    // Every event the mock sent matches the spec's webhooks schemas.
    assert_eq!(
        hooks.counts.schema_violations, 0,
        "{:?}",
        hooks.schema_violations
    );
    assert!(hooks.counts.schema_checked >= hooks.counts.received);
    assert_eq!(hooks.lifecycle.chats, 6);
    let assign = &hooks.lifecycle.time_to_assign;
    assert_eq!(assign.count, 6);
    let p50_ms = assign.latency.p50_us / 1_000;
    // The accept delay is the floor; the ceiling is 10x it, not a wall-clock
    // bound a loaded CI could break (it still catches a lost or unit-confused delay).
    assert!(
        (200..=3_000).contains(&p50_ms),
        "time_to_assign p50 {p50_ms} ms, configured accept delay 300 ms"
    );
    assert_eq!(hooks.lifecycle.time_to_first_agent_reply.count, 6);
    assert_eq!(hooks.lifecycle.chat_duration.count, 6);
    let join = hooks
        .events
        .iter()
        .find(|e| e.event == "chats:join")
        .expect("chats:join measured");
    assert_eq!(join.count, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_fails_the_step_and_abandon_closes_the_chat_and_counts_it() {
    let port = free_port();
    // Nobody accepts: the join never comes.
    let mock = relayed_mock("simulation: {simulate: false}\n", port, Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let steps = |on_timeout: &str| {
        format!(
            "steps:\n  - create_user:\n  - create_chat:\n  - assign:\n  - wait_event: {{event: chats:join, timeout: 300ms, on_timeout: {on_timeout}}}\n    name: wait_join\n  - send_message:\n"
        )
    };
    let abandon = format!(
        "name: abandon\n{}load: {{vus: 2, iterations: 4}}\n{}",
        header(&mock, port, ""),
        steps("abandon")
    );
    let path = write_scenario(dir.path(), "abandon.yaml", &abandon);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Passed, "giving up is not an error");
    assert_eq!(step(&report, "wait_join").count, 4);
    assert_eq!(step(&report, "wait_join").errors, 0);
    assert_eq!(
        step(&report, "send_message").count,
        0,
        "the iteration ended"
    );
    let hooks = report.webhooks.as_ref().expect("section");
    assert_eq!(hooks.queue.abandoned, 4);
    assert_eq!(
        report.cleanup.as_ref().map(|c| c.attempted),
        Some(0),
        "abandoned chats were closed by the user, not left to the clean-up"
    );
    let closes = mock
        .admin_get("/events?trigger=chats:close&limit=100")
        .await;
    let closes = closes["events"].as_array().expect("events").len();
    assert_eq!(closes, 4, "one close per abandoned chat");
    assert_eq!(hooks.counts.missing, 0, "{:?}", hooks.missing_by_event);

    let fail = format!(
        "name: fail\n{}load: {{vus: 1, iterations: 2}}\n{}",
        header(&mock, port, ""),
        steps("fail")
    );
    let path = write_scenario(dir.path(), "fail.yaml", &fail);
    let (exit, report) = run_scenario(dir.path(), &path, &["--no-cleanup"]).await;
    assert_eq!(exit, Exit::Failed);
    let wait = step(&report, "wait_join");
    assert_eq!(
        wait.failures.get("timeout"),
        Some(&2),
        "{:?}",
        wait.failures
    );
    assert!(
        wait.latency.min_us >= 300_000,
        "the step's latency is the wait"
    );
    // A wait_event timeout is a failed step in `errors by kind`, and says why.
    assert_eq!(report.errors_by_kind.get("timeout"), Some(&2));
    assert_eq!(report.request_errors_by_kind.get("timeout"), None);
    let why = report
        .failure_samples
        .iter()
        .find(|e| e.step == "wait_join" && e.kind == "timeout")
        .expect("samples of the timeout");
    assert_eq!(why.samples.len(), 2);
    assert_eq!(
        why.samples[0].check,
        "wait_event chats:join not received in 300ms"
    );
    assert_eq!(why.samples[0].route, None);
    assert_eq!(
        report.webhooks.as_ref().expect("section").queue.abandoned,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_signatures_are_counted_and_never_routed_and_duplicates_are_counted() {
    let port = free_port();
    let faults = Faults {
        duplicate: true,
        forge: Some("chats:join"),
    };
    let mock = relayed_mock(FIXED_ACCEPT, port, faults).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: forged\n{}load: {{vus: 1, iterations: 2}}\nsteps:\n  - create_user:\n  - create_chat:\n  - assign:\n  - wait_event: {{event: chats:join, timeout: 1s}}\n    name: wait_join\n    on_error: continue\n  - close_chat:\n",
        header(&mock, port, "")
    );
    let path = write_scenario(dir.path(), "forged.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(
        exit,
        Exit::Failed,
        "the forged joins must not satisfy the wait"
    );
    assert_eq!(step(&report, "wait_join").failures.get("timeout"), Some(&2));
    let hooks = report.webhooks.as_ref().expect("section");
    // Two chats, each join delivered twice with a forged signature.
    assert_eq!(hooks.counts.invalid_signatures, 4);
    assert!(
        !hooks.events.iter().any(|e| e.event == "chats:join"),
        "a forged event is never measured"
    );
    // Every genuine event came twice; only the copies of events that cannot
    // repeat (chats:create and chats:close once per chat, messages:new by id)
    // are duplicates: the others may legitimately come again.
    let once: u64 = hooks
        .events
        .iter()
        .filter(|e| ["chats:create", "chats:close", "messages:new"].contains(&e.event.as_str()))
        .map(|e| e.count)
        .sum();
    assert_eq!(hooks.counts.duplicate, once, "{:?}", hooks.events);
    assert!(
        once >= 4,
        "two chats created and closed: {:?}",
        hooks.counts
    );
    assert!(hooks.counts.received >= 6, "{:?}", hooks.counts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_whose_data_breaks_the_spec_are_counted_and_fail_a_threshold() {
    let config = "webhooks:\n  faults: {break_schema: [chats:create]}\n";
    let mock = start_mock_yaml(config).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: broken\n{}webhooks: {{settle: 500ms}}\nload: {{vus: 1, iterations: 3}}\nthresholds:\n  - events.schema_violations == 0\nsteps:\n  - create_user:\n  - create_chat:\n  - close_chat:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "broken.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Failed, "{:#?}", report.verdict);
    let hooks = report.webhooks.as_ref().expect("section");
    let created = hooks
        .events
        .iter()
        .find(|e| e.event == "chats:create")
        .map_or(0, |e| e.count);
    assert!(created > 0, "{:?}", hooks.events);
    // Every chats:create broke its schema, and nothing else did.
    assert_eq!(
        hooks.counts.schema_violations, created,
        "{:?}",
        hooks.schema_violations
    );
    let broken = &hooks.schema_violations["chats:create"];
    assert_eq!(broken.count, created);
    assert_eq!(
        hooks.schema_violations.len(),
        1,
        "{:?}",
        hooks.schema_violations
    );
    assert!(!broken.samples[0].reason.is_empty());
    let reasons = &report.verdict.as_ref().expect("verdict").reasons;
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("events.schema_violations == 0")
                && r.contains(&format!("measured {created}"))),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_registers_its_webhook_and_deletes_it_afterwards() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: register\n{}webhooks:\n  events: [chats:create, chats:close]\n  settle: 100ms\nload: {{vus: 1, iterations: 2}}\nsteps:\n  - create_user:\n  - create_chat:\n  - close_chat:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "register.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Passed);
    let hooks = report.webhooks.as_ref().expect("section");
    assert!(hooks.registered);
    assert_eq!(
        hooks.receiver.handshakes, 1,
        "the mock's X-Hook-Secret handshake"
    );
    assert_eq!(hooks.subscribed, ["chats:create", "chats:close"]);
    // The mock delivered both subscribed events of both chats, signed with
    // the secret the registration returned.
    assert_eq!(hooks.counts.received, 4, "{:?}", hooks.counts);
    assert_eq!(hooks.counts.invalid_signatures, 0);
    assert_eq!(hooks.counts.missing, 0, "{:?}", hooks.missing_by_event);
    let stats = mock.admin_get("/stats").await;
    assert_eq!(stats["routes"]["createWebhook"], 1);
    assert_eq!(stats["routes"]["deleteWebhook"], 1);
    let left = mock.demo().get("/webhooks").await.expect(200);
    assert_eq!(left["webhooks"], serde_json::json!([]), "{left}");
    // The report never carries the webhook's or the app's secret.
    let text = serde_json::to_string(&report).expect("json");
    assert!(!text.contains(DEMO_SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_the_delivering_mock_time_to_assign_matches_its_accept_delay() {
    let mock = start_mock_yaml(FIXED_ACCEPT).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"name: mock-delivery
{}webhooks:
  settle: 500ms
load: {{vus: 3, iterations: 9}}
thresholds:
  - time_to_assign.p95 < 2s
  - events.missing == 0
  - events.invalid_signatures == 0
{CONVERSATION_STEPS}
"#,
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "delivery.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Passed, "{:#?}", report.verdict);
    let hooks = report.webhooks.as_ref().expect("section");
    assert!(hooks.registered);
    assert_eq!(hooks.receiver.handshakes, 1);
    let assign = &hooks.lifecycle.time_to_assign;
    assert_eq!(assign.count, 9);
    let p50_ms = assign.latency.p50_us / 1_000;
    // The accept delay is the floor; the ceiling is 10x it, not a wall-clock
    // bound a loaded CI could break (it still catches a lost or unit-confused delay).
    assert!(
        (200..=3_000).contains(&p50_ms),
        "time_to_assign p50 {p50_ms} ms, the mock's accept delay is 300 ms"
    );
    assert_eq!(step(&report, "wait_reply").errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mocks_seeded_drops_and_duplicates_are_counted() {
    let config =
        format!("seed: 11\n{FIXED_ACCEPT}webhooks:\n  faults: {{drop: 0.3, duplicate: 0.3}}\n");
    let mock = start_mock_yaml(&config).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: faults\n{}webhooks: {{settle: 500ms}}\nload: {{vus: 2, iterations: 10}}\nsteps:\n  - create_user:\n  - create_chat:\n  - send_message:\n  - close_chat:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "faults.yaml", &yaml);
    let (_, report) = run_scenario(dir.path(), &path, &[]).await;
    let hooks = report.webhooks.as_ref().expect("section");
    // 10 chats × (create, message, close) expected: about 30% of them dropped.
    assert!(hooks.counts.missing > 0, "{:?}", hooks.counts);
    assert!(hooks.counts.duplicate > 0, "{:?}", hooks.counts);
    let expected = 30;
    assert!(hooks.counts.missing < expected, "{:?}", hooks.counts);
    let by_event: u64 = hooks.missing_by_event.values().sum();
    assert_eq!(by_event, hooks.counts.missing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn littles_law_holds_for_a_closed_queue_with_one_agent_slot() {
    // One agent with one slot and three users: one chat served, about two
    // waiting at any time, so L ≈ 2 and λW must say the same.
    let config = "simulation:\n  accept_delay: {dist: fixed, ms: 50}\n  replies: false\napps:\n  - id: q-app\n    secret: q-secret\n    queue_mode: true\n    rooms: [1]\n    agents_per_room: 1\n    capacity: 1\n";
    let mock = start_mock_yaml(config).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: little\ntarget:\n  base_url: {}\n  app_id: q-app\n  secret: q-secret\nwebhooks: {{settle: 300ms}}\nload: {{vus: 3, duration: 6s}}\nsteps:\n  - create_user:\n  - create_chat:\n  - wait_event: {{event: chats:join, timeout: 20s}}\n    name: wait_join\n    think: 300ms\n  - close_chat:\n",
        mock.base_url()
    );
    let path = write_scenario(dir.path(), "little.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Passed);
    let queue = &report.webhooks.as_ref().expect("section").queue;
    let little = queue
        .little
        .expect("queues:update subscribed: the queue was sampled");
    assert!(little.samples >= 4, "{little:?}");
    assert!(queue.queued >= 8, "{queue:?}");
    assert!((little.lambda_per_sec - queue.queued as f64 / little.run_secs).abs() < 1e-9);
    assert!((little.l_predicted - little.lambda_per_sec * little.w_secs).abs() < 1e-9);
    assert!(little.l_measured > 1.0, "{little:?}");
    assert!(!little.disagrees, "{little:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_created_by_a_generic_request_is_subscribed_too() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: generic\n{}webhooks: {{events: [chats:create, chats:close], settle: 200ms}}\nload: {{vus: 1, iterations: 2}}\nsteps:\n  - create_user:\n  - request:\n      method: POST\n      path: /chats\n      body: {{room: 1, creator: \"{{{{ user_id }}}}\"}}\n    capture: {{chat: chat.id}}\n    name: open_chat\n  - wait_event: {{event: chats:create, timeout: 2s, capture: {{created: data.chatId}}}}\n    name: wait_create\n  - request: {{method: DELETE, path: \"/chats/{{{{ created }}}}\"}}\n    name: close\n  - wait_event: {{event: chats:close, timeout: 2s, chat: \"{{{{ chat }}}}\"}}\n    name: wait_close\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "generic.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Passed, "{:#?}", report.steps);
    assert_eq!(step(&report, "wait_create").errors, 0);
    assert_eq!(step(&report, "wait_close").errors, 0);
    let hooks = report.webhooks.as_ref().expect("section");
    assert_eq!(hooks.lifecycle.chats, 2);
    assert_eq!(hooks.counts.missing, 0, "{:?}", hooks.missing_by_event);
    assert_eq!(hooks.lifecycle.chat_duration.count, 2);
}

/// A chat the flow never closed is closed by a clean-up: its `chats:close`
/// arrives and is counted, but measured in no delay. The summary must not
/// show that event with a count of 0, which reads as "never arrived".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_shows_events_received_apart_from_events_measured() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: cleanup-close\n{}webhooks: {{events: [chats:create, chats:close], settle: 500ms}}\nload: {{vus: 1, iterations: 1}}\nthresholds:\n  - iterations.error_rate <= 100%\nsteps:\n  - create_user:\n  - create_chat:\n  - get_chat:\n    expect: {{status: 500}}\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "cleanup-close.yaml", &yaml);
    let (_, report) = run_scenario(dir.path(), &path, &[]).await;
    let hooks = report.webhooks.as_ref().expect("section");
    let close = hooks
        .events
        .iter()
        .find(|e| e.event == "chats:close")
        .expect("chats:close in the report");
    assert_eq!((close.count, close.delay.count), (1, 0), "{close:?}");
    let text = chatload::report::terminal::render(&report, false);
    let header = text
        .lines()
        .find(|l| l.trim_start().starts_with("delay from cause"))
        .expect("event table header");
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(&columns[3..5], ["received", "measured"], "{header}");
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with("chats:close "))
        .expect("chats:close row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[1..3], ["1", "0"], "{row}");
}

/// A signal during the `webhooks.settle` wait ends it at once (it used to
/// wait the whole settle, even after a second Ctrl-C): the run exits 130 with
/// its report marked interrupted in `meta` as in the verdict, and the event
/// that never came is counted missing, and judged so: `events.missing == 0`
/// fails on the measured count (it said "no data" when no event had arrived).
/// The line the signal prints says what it did: nothing was in flight to
/// finish or abort, the wait stopped and the events not in count as missing.
#[cfg(unix)]
#[test]
fn a_signal_during_the_settle_wait_ends_it_and_marks_the_report_interrupted() {
    use crate::common::{interrupt, interrupted_report, spawn_run_logged};
    let dir = tempfile::tempdir().unwrap();
    // Every event dropped: the settle wait would last its whole minute.
    let config = write_scenario(
        dir.path(),
        "mock.yaml",
        "webhooks:\n  faults: {drop: 1.0}\n",
    );
    let yaml = "name: settle\nwebhooks: {events: [chats:create, chats:close], settle: 60s}\nload: {vus: 1, iterations: 1}\nthresholds:\n  - {threshold: \"events.missing == 0\", allow_empty: true}\nsteps:\n  - create_user:\n  - create_chat:\n  - close_chat:\n";
    let started = std::time::Instant::now();
    let (mut child, report, stderr) = spawn_run_logged(
        dir.path(),
        "settle.yaml",
        yaml,
        &["--mock-config", config.to_str().unwrap()],
        |line| line.contains("(webhooks.settle)"),
    );
    interrupt(&child);
    let json = interrupted_report(&mut child, &report);
    let elapsed = started.elapsed();
    assert!(elapsed < std::time::Duration::from_secs(30), "{elapsed:?}");
    assert_eq!(json["meta"]["stopped_by_signal"], true);
    assert_eq!(json["verdict"]["interrupted"], true);
    assert_eq!(
        json["webhooks"]["counts"]["missing"], 2,
        "{}",
        json["webhooks"]["counts"]
    );
    let missing = &json["verdict"]["thresholds"][0];
    assert_eq!(missing["status"], "fail", "{missing}");
    assert_eq!(missing["passed"], false, "{missing}");
    assert_eq!(missing["message"], "measured 2, required == 0", "{missing}");
    let stderr = stderr.lock().expect("lines").join("\n");
    assert!(
        stderr.contains(
            "interrupted: stopped waiting for webhook events; 2 expected event(s) that had not \
             arrived count as missing"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("in-flight"), "{stderr}");
}

/// The settle wait ends as soon as every expected event has arrived: a
/// minute's `settle` does not hold a run whose events are all in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settle_wait_ends_once_every_expected_event_arrived() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: settled\n{}webhooks: {{events: [chats:create, chats:close, messages:new], settle: 60s}}\nload: {{vus: 1, iterations: 2}}\nsteps:\n  - create_user:\n  - create_chat:\n  - send_message:\n  - close_chat:\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "settled.yaml", &yaml);
    let started = std::time::Instant::now();
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    let elapsed = started.elapsed();
    assert_eq!(exit, Exit::Passed, "{:#?}", report.webhooks);
    assert!(elapsed < std::time::Duration::from_secs(30), "{elapsed:?}");
    let hooks = report.webhooks.as_ref().expect("section");
    assert_eq!(hooks.counts.missing, 0, "{:?}", hooks.counts);
    assert_eq!(hooks.counts.expected, 6, "{:?}", hooks.counts);
}
