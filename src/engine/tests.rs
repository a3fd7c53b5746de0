//! The engine's scheduling and shutdown on tokio's paused time: when the
//! open model starts each arrival, how late it got to them (scheduling
//! lag), its cap on running iterations, backlog and drops; the closed
//! model's ramp and iteration budget; the graceful stop and the cut-off
//! accounting of an abort; an interrupt; coordinated-omission correction;
//! the `respect` policy's sleep on `Retry-After`.
//!
//! No sockets but in the last (whose throttling target runs on the test's
//! own runtime, so the paused clock moves only when both sides wait on a
//! timer): each other scenario is one pause step (`- think: …`), which sends
//! nothing and "takes" exactly its think time on the paused clock, so an
//! iteration lasts a known time. The client points at a port nobody
//! listens on and is never used. Time only moves when every task waits
//! (auto-advance), so each expected count below is exact; samples are
//! taken between two events, never on one.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{RunOutcome, Runner, closed, metrics_layout, open, run};
use crate::client::{ApiClient, ClientConfig, Credentials};
use crate::metrics::MetricsHub;
use crate::plan::{ClosedPlan, LoadPlan, OpenPlan, Shard};
use crate::scenario::load::load_str;

const SEED: u64 = 7;

/// A runner for a scenario with `load:` and one step that thinks `think`.
pub(super) fn runner(load: &str, think: &str) -> Arc<Runner> {
    runner_at(
        "http://127.0.0.1:9/v1",
        &format!("load: {load}\nsteps:\n  - think: {think}\n"),
    )
}

/// A runner for a scenario against `base_url` whose lines after `target:`
/// are `rest`.
fn runner_at(base_url: &str, rest: &str) -> Arc<Runner> {
    let yaml =
        format!("name: engine\ntarget: {{base_url: '{base_url}', app_id: app, secret: s}}\n{rest}");
    let scenario = load_str(&yaml, "engine.yaml", Path::new(".")).expect("a valid scenario");
    let hub = Arc::new(MetricsHub::new(Arc::new(metrics_layout(&scenario)), 1));
    chatload_mock::testing::install_crypto();
    let client = ApiClient::new(&ClientConfig {
        base_url: base_url.to_owned(),
        credentials: Credentials {
            app_id: Some("app".to_owned()),
            secret: Some("s".to_owned()),
            domain_key: None,
        },
        extra_headers: Vec::new(),
        // No request timeout: the client's deadlines are read off the real
        // clock (std `Instant`), which the paused one runs ahead of.
        timeout: Duration::MAX,
        pool_size: 1,
        policy: Default::default(),
        max_body: crate::client::DEFAULT_MAX_BODY,
    })
    .expect("a client");
    let scenario = Arc::new(scenario);
    Arc::new(Runner::new(
        scenario,
        Arc::new(client),
        hub,
        CancellationToken::new(),
    ))
}

fn plan(runner: &Runner) -> LoadPlan {
    LoadPlan::new(&runner.scenario.load, Shard::WHOLE)
}

fn open_plan(runner: &Runner) -> OpenPlan {
    match plan(runner) {
        LoadPlan::Open(p) => p,
        LoadPlan::Closed(_) => panic!("an open plan"),
    }
}

fn closed_plan(runner: &Runner) -> ClosedPlan {
    match plan(runner) {
        LoadPlan::Closed(p) => p,
        LoadPlan::Open(_) => panic!("a closed plan"),
    }
}

/// (started, running, dropped, finished, cut off) iterations so far.
pub(super) fn counts(runner: &Runner) -> (u64, u64, u64, u64, u64) {
    let live = runner.hub.live();
    (
        live.iterations_started.load(Relaxed),
        live.active_vus.load(Relaxed),
        live.dropped.load(Relaxed),
        live.iterations.load(Relaxed),
        live.cut_off_iterations.load(Relaxed),
    )
}

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Starts the open model's generator in its own task; returns the task
/// and the tracker its iterations run on.
pub(super) fn spawn_open(
    runner: &Arc<Runner>,
) -> (tokio::task::JoinHandle<Option<u64>>, TaskTracker) {
    let tracker = TaskTracker::new();
    let task = tokio::spawn(open::run(
        runner.clone(),
        open_plan(runner),
        SEED,
        CancellationToken::new(),
        tracker.clone(),
    ));
    (task, tracker)
}

#[tokio::test(start_paused = true)]
async fn open_model_starts_arrival_i_at_t0_plus_i_over_rate() {
    let runner = runner("{arrival_rate: 10, duration: 1s, max_vus: 50}", "20ms");
    let t0 = Instant::now();
    let (task, tracker) = spawn_open(&runner);
    for i in 0..10 {
        // Arrival i is due at i × 100 ms: not started 1 ms before, started 1 ms after.
        if i > 0 {
            sleep_until(t0 + ms(i * 100 - 1)).await;
            assert_eq!(counts(&runner).0, i, "started before {} ms", i * 100);
        }
        sleep_until(t0 + ms(i * 100 + 1)).await;
        assert_eq!(counts(&runner).0, i + 1, "started by {} ms", i * 100 + 1);
    }
    assert_eq!(task.await.expect("generator"), Some(10));
    tracker.close();
    tracker.wait().await;
    assert_eq!(counts(&runner), (10, 0, 0, 10, 0));
}

#[tokio::test(start_paused = true)]
async fn open_model_measures_scheduling_lag_from_each_arrivals_intended_start() {
    let runner = runner("{arrival_rate: 10, duration: 1s, max_vus: 50}", "1ms");
    let (task, tracker) = spawn_open(&runner);
    // Arrival 0 is on time; then the clock jumps from 50 ms to 350 ms in
    // one step, as a stalled generator would see it: arrivals 1, 2 and 3
    // (due at 100, 200, 300 ms) start 250, 150 and 50 ms late.
    tokio::time::sleep(ms(50)).await;
    tokio::time::advance(ms(300)).await;
    assert_eq!(task.await.expect("generator"), Some(10));
    tracker.close();
    tracker.wait().await;
    assert_eq!(counts(&runner).0, 10, "no arrival skipped to catch up");
    let lag = runner
        .hub
        .finish(ms(1000))
        .scheduling_lag_us
        .expect("the open model records its lag");
    let mut lags: Vec<u64> = Vec::new();
    for v in lag.iter_recorded() {
        for _ in 0..v.count_at_value() {
            lags.push(v.value_iterated_to());
        }
    }
    // On time is recorded as 1 µs (the histogram's floor).
    let expected = [1, 1, 1, 1, 1, 1, 1, 50_000, 150_000, 250_000];
    assert_eq!(lags.len(), expected.len(), "{lags:?}");
    for (got, want) in lags.iter().zip(expected) {
        assert!(
            lag.equivalent(*got, want),
            "lags {lags:?}, expected {expected:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn open_model_runs_at_most_max_vus_queues_the_backlog_and_drops_the_rest() {
    // 10 arrivals 100 ms apart, each iteration 320 ms, 2 VUs, 3 may wait.
    let runner = runner(
        "{arrival_rate: 10, duration: 1s, max_vus: 2, backlog: 3}",
        "320ms",
    );
    // (started, running, dropped, finished, cut off) at some moments:
    // arrivals 0 and 1 run; from 200 ms on each arrival waits for the VU
    // that frees next (320, 420, 640, 740, 960 ms take 2 to 6); 9 (900 ms)
    // finds 2 running and 3 waiting and is dropped. At the end of the load
    // phase (1000 ms) 7 and 8 are still waiting: dropped, and the VUs that
    // free at 1060 and 1280 ms start nothing.
    let checkpoints = [
        (305, (2, 2, 0, 0, 0)),
        (330, (3, 2, 0, 1, 0)),
        (905, (6, 2, 1, 4, 0)),
        (980, (7, 2, 1, 5, 0)),
        (1005, (7, 2, 3, 5, 0)),
        (1105, (7, 1, 3, 6, 0)),
    ];
    let t0 = Instant::now();
    let (task, tracker) = spawn_open(&runner);
    let mut peak = 0;
    for at in (5..1500).step_by(25) {
        sleep_until(t0 + ms(at)).await;
        let now = counts(&runner);
        peak = peak.max(now.1);
        if at > 1000 {
            assert_eq!(now.0, 7, "started after the load phase, at {at} ms");
        }
        if let Some((_, expected)) = checkpoints.iter().find(|(t, _)| *t == at) {
            assert_eq!(now, *expected, "at {at} ms");
        }
    }
    assert_eq!(peak, 2, "never more than max_vus iterations at once");
    assert_eq!(task.await.expect("generator"), Some(10));
    tracker.close();
    tracker.wait().await;
    assert_eq!(counts(&runner), (7, 0, 3, 7, 0));
}

/// The audit's o4: 20 arrivals/s for 3 s, 5 VUs, a backlog of 10, each
/// iteration 1010 ms (off the 50 ms grid of arrivals, so no event ties).
/// Three waves of 5 start (0-200, 1010-1210, 2020-2220 ms); every other
/// arrival finds the backlog full or is still in it at 3 s. The drain lets
/// the third wave finish and starts nothing: before, the VUs it freed took
/// two more waves from the backlog (25 started, 35 dropped, the target
/// loaded until 5.2 s of a 3 s plan).
#[tokio::test(start_paused = true)]
async fn arrivals_still_in_the_backlog_when_the_load_phase_ends_are_dropped_not_run() {
    let runner = runner(
        "{arrival_rate: 20, duration: 3s, max_vus: 5, backlog: 10, graceful_stop: 5s}",
        "1010ms",
    );
    let t0 = Instant::now();
    let whole = tokio::spawn({
        let runner = runner.clone();
        async move { run_whole(&runner, CancellationToken::new()).await }
    });
    sleep_until(t0 + ms(2995)).await;
    let before_end = counts(&runner);
    assert_eq!((before_end.0, before_end.1), (15, 5), "{before_end:?}");
    sleep_until(t0 + ms(3005)).await;
    assert_eq!(
        counts(&runner),
        (15, 5, 45, 10, 0),
        "the backlog dropped at 3 s"
    );
    let outcome = whole.await.expect("the run");
    assert_eq!(outcome.load_elapsed, ms(3000));
    assert_eq!(
        outcome.elapsed,
        ms(3230),
        "the third wave ends at 2220 + 1010 ms"
    );
    assert_eq!(outcome.planned_iterations, Some(60));
    assert!(!outcome.aborted, "{outcome:?}");
    assert_eq!(counts(&runner), (15, 0, 45, 15, 0));
}

/// The load phase is the plan's length, not the time of its last arrival:
/// 1/s for 4 s has arrivals at 0..3 s and a 4 s load phase; shard 1/3 of
/// 1/s for 1 s gets the one arrival (at 0 s) and still lasts 1 s, so its
/// rates are not one request over a few milliseconds.
#[tokio::test(start_paused = true)]
async fn the_open_load_phase_lasts_the_planned_duration_whatever_its_last_arrival() {
    for (load, shard, arrivals, length) in [
        ("{arrival_rate: 1, duration: 4s}", Shard::WHOLE, 4, 4000),
        (
            "{arrival_rate: 1, duration: 1s}",
            Shard { index: 0, count: 3 },
            1,
            1000,
        ),
    ] {
        let runner = runner(load, "10ms");
        let plan = LoadPlan::new(&runner.scenario.load, shard);
        let outcome = run(
            runner.clone(),
            &plan,
            ms(1000),
            SEED,
            CancellationToken::new(),
        )
        .await;
        assert_eq!(outcome.load_elapsed, ms(length), "{load} shard {shard}");
        assert_eq!(
            outcome.elapsed,
            ms(length),
            "{load} shard {shard}: nothing left to drain"
        );
        assert_eq!(outcome.planned_iterations, Some(arrivals));
        assert_eq!(counts(&runner), (arrivals, 0, 0, arrivals, 0));
    }
}

/// Every value a histogram recorded, once per count, in order.
pub(super) fn recorded(h: &hdrhistogram::Histogram<u64>) -> Vec<u64> {
    let mut out = Vec::new();
    for v in h.iter_recorded() {
        out.extend(std::iter::repeat_n(
            v.value_iterated_to(),
            v.count_at_value() as usize,
        ));
    }
    out
}

/// Coordinated omission: one VU stalled 240 ms per iteration while the plan
/// wants one every 200 ms, so arrival i waits 40·i ms in the backlog (the
/// last starts at 960 ms, inside the 1 s load phase). The raw figures only
/// see 240 ms iterations; the corrected ones count from each arrival's
/// intended start and record the missed intervals.
#[tokio::test(start_paused = true)]
async fn corrected_latency_counts_from_the_intended_start_of_a_stalled_backlog() {
    let runner = runner(
        "{arrival_rate: 5, duration: 1s, max_vus: 1, backlog: 10}",
        "240ms",
    );
    let (task, tracker) = spawn_open(&runner);
    assert_eq!(task.await.expect("generator"), Some(5));
    tracker.close();
    tracker.wait().await;
    let metrics = runner.hub.finish(ms(1250));
    let stats = &metrics.iteration;
    let raw = recorded(&stats.latency_us);
    assert_eq!(raw.len(), 5, "{raw:?}");
    for got in &raw {
        assert!(stats.latency_us.equivalent(*got, 240_000), "raw {raw:?}");
    }
    let expected = [240_000, 280_000, 320_000, 360_000, 400_000];
    let corrected = recorded(&stats.corrected_us);
    assert_eq!(corrected.len(), expected.len(), "{corrected:?}");
    for (got, want) in corrected.iter().zip(expected) {
        assert!(
            stats.corrected_us.equivalent(*got, want),
            "corrected {corrected:?}, expected {expected:?}"
        );
    }
}

/// The whole run, as the app drives it: load, then the graceful stop.
async fn run_whole(runner: &Arc<Runner>, interrupt: CancellationToken) -> RunOutcome {
    let graceful_stop = runner.scenario.load.graceful_stop();
    run(
        runner.clone(),
        &plan(runner),
        graceful_stop,
        SEED,
        interrupt,
    )
    .await
}

/// Three arrivals (0, 100, 200 ms) with a graceful stop of 1 s, each iteration
/// a pause of `think`, run to the end.
async fn three_arrivals_pausing(think: &str) -> (Arc<Runner>, RunOutcome) {
    let runner = runner(
        "{arrival_rate: 10, duration: 300ms, max_vus: 10, graceful_stop: 1s}",
        think,
    );
    let outcome = run_whole(&runner, CancellationToken::new()).await;
    (runner, outcome)
}

#[tokio::test(start_paused = true)]
async fn the_graceful_stop_lets_short_iterations_finish() {
    let (runner, outcome) = three_arrivals_pausing("500ms").await;
    // Arrivals at 0, 100, 200 ms; the load phase ends at 300 ms, the last
    // iteration at 700 ms.
    assert!(!outcome.aborted && !outcome.interrupted, "{outcome:?}");
    assert_eq!(outcome.load_elapsed, ms(300));
    assert_eq!(outcome.elapsed, ms(700));
    assert_eq!(outcome.planned_iterations, Some(3));
    assert_eq!(counts(&runner), (3, 0, 0, 3, 0));
}

#[tokio::test(start_paused = true)]
async fn past_the_graceful_stop_running_iterations_are_cut_off_and_counted() {
    let (runner, outcome) = three_arrivals_pausing("10s").await;
    // The load phase ends at 300 ms; 1 s later the three iterations, 10 s
    // long, are still running: aborted, each cut off.
    assert!(outcome.aborted && !outcome.interrupted, "{outcome:?}");
    assert_eq!(outcome.load_elapsed, ms(300));
    assert_eq!(outcome.elapsed, ms(1300));
    assert_eq!(counts(&runner), (3, 0, 0, 0, 3));
    let metrics = runner.hub.finish(outcome.elapsed);
    assert_eq!(metrics.cut_off_iterations, 3);
    assert_eq!(
        metrics.cut_off_requests, 0,
        "a pause has no request in flight"
    );
    assert_eq!(
        metrics.iteration.count, 0,
        "a cut-off iteration is not finished"
    );
}

#[tokio::test(start_paused = true)]
async fn an_interrupt_stops_new_arrivals_and_the_unscheduled_still_count_as_planned() {
    let runner = runner(
        "{arrival_rate: 10, duration: 1s, max_vus: 10, graceful_stop: 1s}",
        "50ms",
    );
    let interrupt = CancellationToken::new();
    let stop = interrupt.clone();
    tokio::spawn(async move {
        tokio::time::sleep(ms(350)).await;
        stop.cancel();
    });
    let outcome = run_whole(&runner, interrupt).await;
    assert!(outcome.interrupted && !outcome.aborted, "{outcome:?}");
    assert_eq!(outcome.load_elapsed, ms(350));
    assert_eq!(
        outcome.elapsed,
        ms(350),
        "the last iteration ended at 350 ms"
    );
    assert_eq!(outcome.planned_iterations, Some(10));
    assert_eq!(counts(&runner), (4, 0, 0, 4, 0), "arrivals 0 to 300 ms ran");
}

/// Starts the closed model's controller in its own task, its VUs on this
/// (paused) runtime.
fn spawn_closed(runner: &Arc<Runner>) -> (tokio::task::JoinHandle<Option<u64>>, TaskTracker) {
    let tracker = TaskTracker::new();
    let (runner, vus) = (runner.clone(), tracker.clone());
    let task = tokio::spawn(async move {
        let plan = closed_plan(&runner);
        closed::run(runner, plan, SEED, CancellationToken::new(), vus, &[]).await
    });
    (task, tracker)
}

#[tokio::test(start_paused = true)]
async fn closed_model_follows_its_ramp_up_and_down() {
    // 0 → 4 VUs over 1 s, 4 for 1 s, 4 → 0 over 1 s; iterations of 100 ms.
    let runner = runner(
        "{vus: 0, stages: [{duration: 1s, target: 4}, {duration: 1s, target: 4}, {duration: 1s, target: 0}]}",
        "100ms",
    );
    let t0 = Instant::now();
    let (task, tracker) = spawn_closed(&runner);
    // The controller looks every 50 ms and starts round(level) VUs; a VU
    // told to stop ends its iteration first (at most 100 ms).
    for (at, vus) in [
        (20, 0),
        (170, 1),
        (520, 2),
        (770, 3),
        (1520, 4),
        (2590, 2),
        (3500, 0),
    ] {
        sleep_until(t0 + ms(at)).await;
        assert_eq!(counts(&runner).1, vus, "VUs at {at} ms");
    }
    assert_eq!(task.await.expect("controller"), None);
    tracker.close();
    tracker.wait().await;
    let (started, running, _, finished, cut_off) = counts(&runner);
    assert_eq!((running, cut_off), (0, 0));
    assert_eq!(started, finished);
}

#[tokio::test(start_paused = true)]
async fn closed_model_spends_exactly_its_iteration_budget() {
    let runner = runner("{vus: 3, iterations: 7}", "100ms");
    let t0 = Instant::now();
    let (task, tracker) = spawn_closed(&runner);
    // 3 VUs, 7 iterations of 100 ms: two full rounds, then one VU alone.
    sleep_until(t0 + ms(250)).await;
    assert_eq!(counts(&runner), (7, 1, 0, 6, 0));
    assert_eq!(task.await.expect("controller"), Some(7));
    tracker.close();
    tracker.wait().await;
    assert_eq!(counts(&runner), (7, 0, 0, 7, 0));
}

/// When the paused clock read each request, as a target on this runtime
/// saw it; answers 429 with `Retry-After: RETRY_AFTER[n]` to request n where
/// one is given, 200 otherwise.
#[derive(Clone, Default)]
struct Throttling(Arc<std::sync::Mutex<Vec<Instant>>>);

const RETRY_AFTER: [Option<&str>; 4] = [Some("60"), None, Some("2"), None];

impl Throttling {
    /// Serves on 127.0.0.1:0 in this runtime (so its I/O never leaves the
    /// paused clock waiting); returns the base URL.
    async fn serve(&self) -> String {
        use axum::http::{StatusCode, header};
        use axum::response::IntoResponse;
        const JSON: (header::HeaderName, &str) = (header::CONTENT_TYPE, "application/json");
        let seen = self.0.clone();
        let app = axum::Router::new().fallback(move || {
            let seen = seen.clone();
            async move {
                let mut seen = seen.lock().expect("times");
                seen.push(Instant::now());
                match RETRY_AFTER.get(seen.len() - 1).copied().flatten() {
                    Some(after) => (
                        StatusCode::TOO_MANY_REQUESTS,
                        [(header::RETRY_AFTER, after), JSON],
                        "{}",
                    )
                        .into_response(),
                    None => (StatusCode::OK, [JSON], "{}").into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(axum::serve(listener, app).into_future());
        format!("http://{addr}/v1")
    }

    /// The time between request `n` and the next one.
    fn gap(&self, n: usize) -> Duration {
        let seen = self.0.lock().expect("times");
        seen[n + 1] - seen[n]
    }
}

/// `rate_limit: respect`: a throttled VU sleeps the server's `Retry-After`,
/// capped at `max_wait`, before it sends its next request, and the report
/// counts that wait. Iteration 1 is told 60 s (capped to 5 s), iteration 2
/// is told 2 s (under the cap). One VU's iterations are run directly: the
/// closed model's control tick would let the paused clock race ahead
/// while a request is on the wire (auto-advance moves it whenever the
/// runtime waits on a socket with a timer pending).
#[tokio::test(start_paused = true)]
async fn respect_sleeps_the_capped_retry_after_before_the_next_request_and_reports_the_wait() {
    let target = Throttling::default();
    let base_url = target.serve().await;
    let runner = runner_at(
        &base_url,
        "load: {vus: 1, iterations: 2}\nrate_limit: {policy: respect, max_wait: 5s}\n\
         steps:\n  - get_settings:\n",
    );
    let mut session = runner.session(1, SEED);
    runner.run_iteration(&mut session, None).await;
    runner.run_iteration(&mut session, None).await;
    assert_eq!(target.0.lock().expect("times").len(), 4);
    let metrics = runner.hub.finish(ms(0));
    let throttle = metrics.routes[0].throttle;
    assert_eq!((throttle.throttled, throttle.retries), (2, 2));
    let s = Duration::from_secs;
    // Each wait came before the request after it.
    let (capped, told) = (target.gap(0), target.gap(2));
    assert!(
        capped >= s(5),
        "told 60 s, capped at 5 s: sent after {capped:?}"
    );
    assert!(told >= s(2), "told 2 s: sent after {told:?}");
    // The reported waits are the sleeps: 5 s (not the 60 s told), then 2 s.
    let us = |d: Duration| u64::try_from(d.as_micros()).expect("small");
    let first = throttle.max_wait_us;
    let second = throttle.wait_us - first;
    assert!(
        (us(s(5))..us(s(60))).contains(&first) && first <= us(capped),
        "first wait {first} µs, sent after {capped:?}"
    );
    assert!(
        (us(s(2))..us(s(5))).contains(&second) && second <= us(told),
        "second wait {second} µs, sent after {told:?}"
    );
}

// A virtual user's task holds its iteration's future for the whole run, a
// thinking VU's too, so that future's size is memory per VU (10,000 VUs ×
// 1 KB = 10 MB). In release builds the VU task grew from 2,944 to 4,736
// bytes as the request path was split into more `async fn`s; lending the
// request to the slot's exchange instead of moving it through each one, and
// boxing the rare `wait_event` and `wait_until` steps, took it to 4,096
// (`run_iteration`'s future: 3,960 -> 3,360 bytes, the same in this test
// build). Then `run_iteration`'s future went 3,360 -> 1,840 bytes: no
// exchange held across the throttle's sleep (-312), the request built
// before `send_on`'s future (-176), the response's head read before its
// body's (-120), hyper's send future not wrapped in an `async fn` with its
// own copy of the request, the request to send moved, never borrowed, and
// the rendered request not borrowed across the send (-912). The bounds
// catch the next such growth: the shared pool's ALPN question (`--http 2`)
// took it to 2,000 through a failed iteration's inline close, which is
// boxed since (1,864).
#[test]
fn a_virtual_users_iteration_future_stays_small() {
    let runner = runner_at(
        "http://127.0.0.1:9/v1",
        "load: {vus: 1, iterations: 1}\nsteps:\n  - get_settings:\n",
    );
    let mut session = runner.session(1, SEED);
    let iteration = runner.run_iteration(&mut session, None);
    let size = std::mem::size_of_val(&iteration);
    assert!(
        size <= ITERATION_FUTURE_MAX,
        "run_iteration future: {size} bytes"
    );
}

/// See `a_virtual_users_iteration_future_stays_small`.
const ITERATION_FUTURE_MAX: usize = 1_900;

// The VU task is its iteration's future plus the session, once: as an
// `async fn`, `vu_loop` held the session (264 bytes) twice, as its argument
// and as the body's binding.
#[test]
fn a_virtual_users_task_holds_its_session_once() {
    let runner = runner_at(
        "http://127.0.0.1:9/v1",
        "load: {vus: 1, iterations: 1}\nsteps:\n  - get_settings:\n",
    );
    let session = runner.session(1, SEED);
    let session_size = std::mem::size_of_val(&session);
    let task = closed::vu_loop(runner, session, CancellationToken::new(), None);
    let size = std::mem::size_of_val(&task);
    assert!(
        size <= ITERATION_FUTURE_MAX + session_size + 64,
        "VU task: {size} bytes, session {session_size}"
    );
}

/// Outside audit 5, F1: after a connection error a VU waits (10 ms, doubling)
/// before its next request. That wait is chatload's, not the target's: it is
/// in no step's or iteration's latency, raw or corrected (an arrival's
/// intended start stays fixed, and the wait is no part of what a user
/// arriving then would see). Four iterations of one refused request back off
/// 0, 10, 20 and 40 ms; every step and iteration still takes no time on the
/// paused clock, like its request.
#[tokio::test(start_paused = true)]
async fn the_back_off_after_a_connection_error_is_in_no_step_or_iteration_latency() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let runner = runner_at(
        &format!("http://127.0.0.1:{port}/v1"),
        "load: {vus: 1, iterations: 4}\nsteps:\n  - get_settings:\n",
    );
    let mut session = runner.session(1, SEED);
    let begun = Instant::now();
    for _ in 0..4 {
        // Scheduled now: the open model's correction adds nothing either.
        runner
            .run_iteration(&mut session, Some(Instant::now()))
            .await;
    }
    assert!(
        begun.elapsed() >= ms(70),
        "backed off 10 + 20 + 40 ms: {:?}",
        begun.elapsed()
    );
    let metrics = runner.hub.finish(ms(0));
    assert_eq!(metrics.routes[0].count, 4);
    for (what, stats) in [
        ("step", &metrics.steps[0]),
        ("iteration", &metrics.iteration),
    ] {
        assert_eq!(stats.count, 4, "{what}");
        for (kind, h) in [
            ("raw", &stats.latency_us),
            ("corrected", &stats.corrected_us),
        ] {
            assert!(
                h.max() < 5_000,
                "{what} {kind} latency includes the back-off: {:?}",
                recorded(h)
            );
        }
    }
}
