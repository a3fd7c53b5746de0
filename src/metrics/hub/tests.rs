//! Unit tests of the metrics hub: recording, shards and snapshots.
use super::*;
use crate::metrics::{FailureKind, RouteId, StepId, StepInfo};

fn layout() -> Arc<MetricsLayout> {
    Arc::new(MetricsLayout {
        steps: vec![
            StepInfo {
                name: "create_user".to_owned(),
                flow: "main".to_owned(),
                pause: false,
            },
            StepInfo {
                name: "create_chat".to_owned(),
                flow: "main".to_owned(),
                pause: false,
            },
        ],
        routes: vec!["POST /users".to_owned(), "POST /chats".to_owned()],
        flows: vec!["chat".to_owned(), "browse".to_owned()],
    })
}

fn request(route: u32, status: u16, latency_us: u64) -> RequestSample {
    RequestSample {
        route: RouteId(route),
        step: None,
        status: Some(status),
        failure: (status >= 500).then_some(FailureKind::Status),
        latency_us,
        corrected_us: latency_us * 2,
        bytes_sent: 0,
        bytes_received: 0,
        throttled: false,
        schema_checked: false,
        connection: None,
    }
}

#[test]
fn threads_recording_into_shards_sum_to_what_was_recorded() {
    let hub = MetricsHub::new(layout(), 4);
    let mut expected = LatencyStats::new();
    for thread in 0..6u64 {
        for value in 1..=1_000u64 {
            let status = if value % 100 == 0 { 503 } else { 200 };
            let sample = request((value % 2) as u32, status, value * (thread + 1));
            expected.record(
                sample.status,
                sample.failure,
                false,
                sample.latency_us,
                sample.corrected_us,
            );
        }
    }
    std::thread::scope(|scope| {
        for thread in 0..6u64 {
            let hub = &hub;
            scope.spawn(move || {
                for value in 1..=1_000u64 {
                    let status = if value % 100 == 0 { 503 } else { 200 };
                    hub.record_request(&request((value % 2) as u32, status, value * (thread + 1)));
                    if value % 10 == 0 {
                        hub.record_iteration(value % 20 == 0, value, value);
                    }
                }
            });
        }
    });
    assert_eq!(hub.live().requests.load(Relaxed), 6_000);
    assert_eq!(hub.live().errors.load(Relaxed), 60);
    assert_eq!(hub.live().iterations.load(Relaxed), 600);
    assert_eq!(hub.live().iteration_errors.load(Relaxed), 300);

    let metrics = hub.finish(Duration::from_secs(3));
    let mut merged = LatencyStats::new();
    for route in &metrics.routes {
        assert_eq!(route.count, 3_000);
        merged.merge(route);
    }
    assert_eq!(merged.count, expected.count);
    assert_eq!(merged.errors, expected.errors);
    assert_eq!(merged.status_count(503), 60);
    assert_eq!(merged.status_count(200), 5_940);
    assert_eq!(merged.failure_count(FailureKind::Status), 60);
    assert_eq!(merged.latency_us, expected.latency_us);
    assert_eq!(merged.corrected_us, expected.corrected_us);
    assert_eq!(metrics.iteration.count, 600);
    assert_eq!(metrics.iteration.errors, 300);
    assert_eq!(metrics.total_requests(), 6_000);
    assert_eq!(metrics.total_errors(), 60);
}

#[test]
fn histograms_merged_across_shards_equal_one_histogram_of_all_values() {
    let hub = MetricsHub::new(layout(), 3);
    std::thread::scope(|scope| {
        for thread in 0..3u64 {
            let hub = &hub;
            scope.spawn(move || {
                for value in (thread * 5_000 + 1)..=((thread + 1) * 5_000) {
                    hub.record_request(&request(0, 200, value * 13));
                }
            });
        }
    });
    let single = crate::metrics::histogram_of((1..=15_000u64).map(|value| value * 13));
    let metrics = hub.finish(Duration::from_secs(1));
    let route = &metrics.routes[0];
    assert_eq!(route.latency_us, single);
    for quantile in [0.5, 0.9, 0.99, 0.999, 0.9999] {
        assert_eq!(
            route.latency_us.value_at_quantile(quantile),
            single.value_at_quantile(quantile)
        );
    }
}

#[test]
fn tick_moves_interval_data_into_the_timeline_and_totals_match_after_finish() {
    let hub = MetricsHub::new(layout(), 2);
    for value in 1..=100 {
        hub.record_request(&request(0, 200, value * 10));
    }
    hub.record_request(&request(1, 500, 50_000));
    let first = hub.tick(Duration::from_millis(1_000));
    assert_eq!(first.interval_requests, 101);
    assert_eq!(first.requests_total, 101);
    assert_eq!(first.errors_total, 1);
    assert!((first.interval_rps - 101.0).abs() < 1e-9);
    let p99 = first.interval_p99_us.expect("requests were recorded");
    assert!((990..=1_001).contains(&p99), "p99 {p99}");

    let empty = hub.tick(Duration::from_millis(2_000));
    assert_eq!(empty.interval_requests, 0);
    assert_eq!(empty.interval_p99_us, None);
    assert_eq!(empty.requests_total, 101);

    for _ in 0..7 {
        hub.record_request(&request(1, 201, 300));
    }
    hub.record_dropped();
    hub.record_step(&StepSample {
        step: StepId(1),
        ok: false,
        failure: Some(FailureKind::Capture),
        duration_us: 800,
        corrected_us: 900,
    });
    let metrics = hub.finish(Duration::from_millis(2_400));

    let seconds: Vec<u64> = metrics.timeline.iter().map(|point| point.second).collect();
    assert_eq!(seconds, vec![1, 2, 3]);
    let timeline_requests: u64 = metrics.timeline.iter().map(|point| point.requests).sum();
    let timeline_errors: u64 = metrics.timeline.iter().map(|point| point.errors).sum();
    assert_eq!(timeline_requests, metrics.total_requests());
    assert_eq!(timeline_requests, 108);
    assert_eq!(timeline_errors, 1);
    assert_eq!(metrics.timeline[0].latency_us.len(), 101);
    assert!(metrics.timeline[1].latency_us.is_empty());
    assert_eq!(metrics.timeline[2].latency_us.len(), 7);
    assert_eq!(metrics.routes[1].status_count(201), 7);
    assert_eq!(metrics.routes[1].status_count(500), 1);
    assert_eq!(metrics.steps[1].count, 1);
    assert_eq!(metrics.steps[1].errors, 1);
    assert_eq!(metrics.steps[1].failure_count(FailureKind::Capture), 1);
    assert_eq!(metrics.steps[0].count, 0);
    assert_eq!(metrics.dropped, 1);
    assert_eq!(metrics.elapsed, Duration::from_millis(2_400));
}

#[test]
fn iterations_are_recorded_per_flow_and_as_a_whole() {
    let hub = MetricsHub::new(layout(), 2);
    for v in [400_000, 410_000, 420_000] {
        hub.record_flow_iteration(Some(FlowId(0)), true, v, v);
    }
    hub.record_flow_iteration(Some(FlowId(1)), false, 1_000, 1_000);
    hub.record_flow_iteration(None, false, 5, 5);
    let metrics = hub.finish(Duration::from_secs(1));
    assert_eq!(metrics.iteration.count, 5);
    assert_eq!(metrics.iteration.errors, 2);
    let (chat, browse) = (&metrics.flows[0], &metrics.flows[1]);
    assert_eq!((chat.count, chat.errors), (3, 0));
    assert_eq!((browse.count, browse.errors), (1, 1));
    assert!(chat.latency_us.min() >= 399_000);
    assert!(browse.latency_us.max() <= 1_001);
}

#[test]
fn finish_without_a_partial_interval_adds_no_empty_point() {
    let hub = MetricsHub::new(layout(), 1);
    hub.record_request(&request(0, 200, 10));
    hub.tick(Duration::from_secs(1));
    let metrics = hub.finish(Duration::from_millis(1_100));
    assert_eq!(metrics.timeline.len(), 1);
}

#[test]
fn active_vu_gauge_goes_up_and_down_but_not_below_zero() {
    let hub = MetricsHub::new(layout(), 0);
    assert_eq!(hub.shard_count(), 1);
    hub.live().vu_started();
    hub.live().vu_started();
    hub.live().vu_stopped();
    assert_eq!(hub.tick(Duration::from_secs(1)).active_vus, 1);
    hub.live().vu_stopped();
    hub.live().vu_stopped();
    assert_eq!(hub.live().active_vus.load(Relaxed), 0);
}

#[test]
fn each_thread_sticks_to_one_shard_round_robin() {
    let hub = MetricsHub::new(layout(), 2);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let hub = &hub;
            scope.spawn(move || {
                for _ in 0..10 {
                    hub.record_request(&request(0, 200, 5));
                }
            });
        }
    });
    let counts: Vec<u64> = hub
        .shards
        .iter()
        .map(|shard| lock(&shard.0).routes[0].count)
        .collect();
    assert_eq!(counts, vec![10, 10]);
}

// See: audit 2026-12-07 (measure.md #1): requests sent during the load phase
// and answered in the drain after it were left out of every rate.
#[test]
fn samples_started_before_the_load_end_count_towards_the_rate_even_when_they_finish_after_it() {
    let hub = MetricsHub::new(layout(), 1);
    // Finished during the load phase.
    hub.record_request(&request(0, 200, 1_000));
    hub.mark_load_end();
    std::thread::sleep(Duration::from_millis(5));
    // Recorded in the drain: sent 10 s ago, before the end (it was in flight) ...
    hub.record_request(&request(0, 200, 10_000_000));
    hub.record_step(&StepSample {
        step: StepId(0),
        ok: true,
        failure: None,
        duration_us: 10_000_000,
        corrected_us: 10_000_000,
    });
    hub.record_flow_iteration(Some(FlowId(0)), true, 10_000_000, 10_000_000);
    // ... and sent a microsecond ago, in the drain: not load.
    hub.record_request(&request(1, 200, 1));
    hub.record_step(&StepSample {
        step: StepId(1),
        ok: true,
        failure: None,
        duration_us: 1,
        corrected_us: 1,
    });
    hub.record_flow_iteration(Some(FlowId(1)), true, 1, 1);
    // Never sent: nothing started.
    hub.record_untimed_step(StepId(0), FailureKind::Capture);
    let metrics = hub.finish(Duration::from_secs(1));
    assert_eq!((metrics.routes[0].count, metrics.routes[0].in_load), (2, 2));
    assert_eq!((metrics.routes[1].count, metrics.routes[1].in_load), (1, 0));
    assert_eq!((metrics.steps[0].count, metrics.steps[0].in_load), (2, 1));
    assert_eq!(metrics.steps[1].in_load, 0);
    assert_eq!((metrics.iteration.count, metrics.iteration.in_load), (2, 1));
    assert_eq!((metrics.flows[0].in_load, metrics.flows[1].in_load), (1, 0));
}

#[test]
fn before_the_load_end_is_marked_every_sample_is_load() {
    let hub = MetricsHub::new(layout(), 1);
    hub.record_request(&request(0, 200, 1));
    assert_eq!(hub.finish(Duration::from_secs(1)).routes[0].in_load, 1);
}

// See: audit measure.md #5: step rows said 0 bytes even for an upload step
// that sent 211,380; the route rows were right.
#[test]
fn a_requests_body_bytes_count_for_its_step_as_for_its_route() {
    let hub = MetricsHub::new(layout(), 2);
    for _ in 0..2 {
        hub.record_request(&RequestSample {
            step: Some(StepId(1)),
            bytes_sent: 300,
            bytes_received: 40,
            ..request(1, 201, 10)
        });
    }
    // A request of no step (a clean-up) counts for its route only.
    hub.record_request(&RequestSample {
        bytes_sent: 5,
        ..request(1, 201, 10)
    });
    let metrics = hub.finish(Duration::from_secs(1));
    let bytes = |s: &LatencyStats| (s.bytes_sent, s.bytes_received);
    assert_eq!(bytes(&metrics.steps[1]), (600, 80));
    assert_eq!(bytes(&metrics.steps[0]), (0, 0));
    assert_eq!(bytes(&metrics.routes[1]), (605, 80));
}
