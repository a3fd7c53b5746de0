//! Webhook order on the bundled mock: with no fault injected, the events of
//! one chat arrive in the order the API emitted them, so the documented
//! `events.out_of_order == 0` holds, and agent actors never turn a chat
//! away as "full" while their pool has a free slot.

use crate::common::run_in_room_1;
use chatload_mock::testing::{start_mock, start_mock_yaml};

/// 8 VUs, each holding at most one chat at a time, on 4 agent actors with
/// 2 slots each: exactly as many slots as chats, so any "full" rejection is
/// a slot the pool failed to free.
const AGENTS_ON_EVERY_SLOT: &str = r#"webhooks:
  settle: 1s
agents:
  count: 4
  ids: [a-1, a-2, a-3, a-4]
  capacity: 2
  accept_delay: 1ms
  reply_think: 1ms
load: {vus: 8, duration: 3s, graceful_stop: 5s}
thresholds:
  - events.out_of_order == 0
  - events.missing == 0
steps:
  - create_user:
  - create_chat:
  - assign:
  - wait_event: {event: chats:join, timeout: 5s}
  - send_message: {message: hi}
  - wait_event: {event: messages:new, timeout: 5s}
  - close_chat:
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_fault_run_with_actors_on_every_slot_is_in_order_and_never_full() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (exit, report) = run_in_room_1(&mock, dir.path(), "order", AGENTS_ON_EVERY_SLOT).await;
    let hooks = report.webhooks.as_ref().expect("a webhooks section");
    let totals = &report.agents.as_ref().expect("an agents section").totals;
    assert!(hooks.counts.received > 50, "{:?}", hooks.counts);
    assert_eq!(hooks.counts.out_of_order, 0, "{:?}", hooks.counts);
    assert_eq!(totals.rejected_full, 0, "{totals:?}");
    assert_eq!(exit, chatload::app::Exit::Passed, "{:?}", report.verdict);
}

/// The mock swaps half of the deliveries with the next one of their chat.
const REORDERING_MOCK: &str = "webhooks:\n  faults: {reorder: 0.5, reorder_max_hold_ms: 200}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reorder_fault_reorders_and_the_report_names_the_pairs() {
    let mock = start_mock_yaml(REORDERING_MOCK).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let body = r#"webhooks:
  settle: 1s
load: {vus: 1, iterations: 6}
thresholds:
  - events.out_of_order == 0
steps:
  - create_user:
  - create_chat:
  - assign:
  - wait_event: {event: chats:join, timeout: 5s}
  - send_message: {message: hi}
  - close_chat:
"#;
    let (exit, report) = run_in_room_1(&mock, dir.path(), "reordered", body).await;
    let hooks = report.webhooks.as_ref().expect("a webhooks section");
    assert!(hooks.counts.out_of_order > 0, "{:?}", hooks.counts);
    let named: u64 = hooks.out_of_order_pairs.iter().map(|p| p.count).sum();
    assert_eq!(named, hooks.counts.out_of_order, "every one is named");
    assert_eq!(exit, chatload::app::Exit::Failed);
    // Shown as `first before then × n` in the summary and in the HTML.
    let first = &hooks.out_of_order_pairs[0];
    let label = format!("{} before {} × {}", first.first, first.then, first.count);
    let summary = chatload::report::terminal::render(&report, false);
    assert!(
        summary.contains(&format!("out of order: {label}")),
        "{summary}"
    );
    let html =
        String::from_utf8(chatload::report::html::render(&report).expect("html")).expect("utf-8");
    assert!(
        html.contains(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            first.first, first.then, first.count
        )),
        "the HTML lists the pair"
    );
}
