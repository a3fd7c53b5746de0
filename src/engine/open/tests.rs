//! The open model's backlog: what a waiting arrival costs (its intended
//! start, no task) and that a long backlog is served oldest first from
//! each arrival's intended start. On tokio's paused time, with pause-only
//! scenarios, as in `engine/tests.rs` (whose helpers these use).

use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use super::Backlog;
use crate::engine::tests::{counts, ms, recorded, runner, spawn_open};

/// The audit's F2: each waiting arrival was a spawned task holding its whole
/// iteration future (~2.6 KB; a 1M backlog took 2.65 GB and an allocation
/// failure aborted the run without a report). Now only the running
/// iterations are tasks: 2 VUs busy for 10 s, 1000 arrivals/s, a backlog of
/// 500. At 600.5 ms arrivals 0..=600 are in: 2 run, 500 wait, 99 dropped,
/// and the tracker holds 2 tasks, not 502.
#[tokio::test(start_paused = true)]
async fn a_waiting_arrival_is_no_task_only_the_running_iterations_are() {
    let runner = runner(
        "{arrival_rate: 1000, duration: 1s, max_vus: 2, backlog: 500}",
        "10s",
    );
    let t0 = Instant::now();
    let (task, tracker) = spawn_open(&runner);
    sleep_until(t0 + Duration::from_micros(600_500)).await;
    assert_eq!(counts(&runner), (2, 2, 99, 0, 0));
    assert_eq!(
        tracker.len(),
        2,
        "one task per running iteration, none per waiting arrival"
    );
    assert_eq!(task.await.expect("generator"), Some(1000));
    // At the end of the load phase the 500 waiting are dropped too.
    assert_eq!(counts(&runner), (2, 2, 998, 0, 0));
    tracker.close();
    tracker.wait().await;
    assert_eq!(counts(&runner), (2, 0, 998, 2, 0));
}

/// One VU, 15 ms per iteration, an arrival every 10 ms for 1 s: arrival i
/// waits until 15·i ms, so the backlog grows by one every 30 ms (33 at the
/// end, under its cap of 50). Served oldest first, arrival i's corrected
/// latency is 15·i + 15 − 10·i = 5·i + 15 ms; the 67 that started before
/// 1 s (15·66 = 990 ms) are measured, the 33 still waiting are dropped.
#[tokio::test(start_paused = true)]
async fn a_long_backlog_is_served_oldest_first_from_each_intended_start() {
    let runner = runner(
        "{arrival_rate: 100, duration: 1s, max_vus: 1, backlog: 50}",
        "15ms",
    );
    let (task, tracker) = spawn_open(&runner);
    assert_eq!(task.await.expect("generator"), Some(100));
    tracker.close();
    tracker.wait().await;
    assert_eq!(counts(&runner), (67, 0, 33, 67, 0));
    let metrics = runner.hub.finish(ms(1005));
    let stats = &metrics.iteration;
    let raw = recorded(&stats.latency_us);
    assert_eq!(raw.len(), 67);
    assert!(raw.iter().all(|v| stats.latency_us.equivalent(*v, 15_000)));
    let corrected = recorded(&stats.corrected_us);
    assert_eq!(corrected.len(), 67, "{corrected:?}");
    for (i, got) in (0u64..).zip(&corrected) {
        let want = (5 * i + 15) * 1000;
        assert!(
            stats.corrected_us.equivalent(*got, want),
            "arrival {i}: corrected {got} µs, expected {want} µs"
        );
    }
}

/// What the backlog stores per waiting arrival: 8 bytes, and with the
/// queue's doubling at most 16 bytes of capacity each (1M waiting < 17 MB).
#[test]
fn a_waiting_arrival_takes_8_to_16_bytes() {
    assert_eq!(size_of::<u64>(), 8);
    let mut backlog = Backlog::new(1_000_000);
    for i in 0..1_000_000 {
        assert!(backlog.push(ms(i)));
    }
    assert!(!backlog.push(ms(0)), "the cap is kept");
    let bytes = backlog.waiting.capacity() * size_of_val(&backlog.waiting[0]);
    assert!(bytes <= 16 * 1_000_000, "{bytes} bytes for 1M waiting");
    assert_eq!(backlog.pop(), Some(ms(0)), "oldest first, exact");
    assert_eq!(backlog.pop(), Some(ms(1)));
}
