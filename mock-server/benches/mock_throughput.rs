//! Throughput and CPU cost per request of the stateful mock, compared with a
//! stateless axum route measured in the same run (issue 2, point 5).
//!
//! ```sh
//! cargo bench -p chatload-mock --bench mock_throughput
//! MOCK_BENCH_SECS=10 MOCK_BENCH_CONNS=64 MOCK_BENCH_ROUNDS=5 cargo bench -p chatload-mock --bench mock_throughput
//! ```
//!
//! One process, one tokio runtime: both servers listen on 127.0.0.1:0 and
//! the load comes from `MOCK_BENCH_CONNS` (default 32) tasks sharing one
//! keep-alive HTTP/1.1 client, for `MOCK_BENCH_SECS` (default 5) per phase
//! after a 1 s warm-up, in `MOCK_BENCH_ROUNDS` (default 3) interleaved
//! rounds (stateless, lifecycle, stateless, lifecycle, ...):
//!
//! * `stateless`: `GET /v1/ping` on a plain axum server returning `{"ok":true}`;
//! * `lifecycle`: the mock's lifecycle routes with the demo-app secret and
//!   simulated agents on: create user → create chat → assign → send message
//!   → get chat → close (6 requests per lifecycle).
//!
//! CPU is the whole process's user + system time (`/proc/self/stat`), read
//! before and after each phase. The client runs in the process in both
//! phases, so the ratio compares like with like; it includes the client's
//! own cost, which makes the stateless side relatively more expensive than
//! the server alone would be. The verdict uses the median of the rounds'
//! ratios, so a burst of background load in one phase does not decide it.
//! Target: ratio ≤ 1.5.

#![allow(clippy::unwrap_used)]

use axum::Json;
use axum::routing::get;
use chatload_mock::{MockConfig, spawn};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Linux reports utime/stime in clock ticks; USER_HZ is 100 on every
/// mainstream kernel config (x86_64, aarch64).
const CLOCK_TICKS_PER_SEC: f64 = 100.0;
const TARGET_RATIO: f64 = 1.5;

/// Process CPU time (user + system) in seconds.
fn process_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // The command name (field 2) may contain spaces; fields after ')' are
    // numbered from 3, so utime (14) and stime (15) are at 11 and 12.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields[11].parse().expect("utime");
    let stime: f64 = fields[12].parse().expect("stime");
    (utime + stime) / CLOCK_TICKS_PER_SEC
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Phase {
    name: &'static str,
    requests: u64,
    errors: u64,
    wall: Duration,
    cpu_secs: f64,
}

impl Phase {
    fn empty(name: &'static str) -> Phase {
        Phase {
            name,
            requests: 0,
            errors: 0,
            wall: Duration::ZERO,
            cpu_secs: 0.0,
        }
    }
    fn add(&mut self, other: &Phase) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.wall += other.wall;
        self.cpu_secs += other.cpu_secs;
    }
    fn rps(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64()
    }
    fn cpu_us_per_request(&self) -> f64 {
        self.cpu_secs * 1e6 / self.requests.max(1) as f64
    }
}

/// One lifecycle of the mock's routes; returns (requests, errors).
async fn lifecycle(http: &reqwest::Client, base: &str, room: u32) -> (u64, u64) {
    let mut errors = 0;
    let send = |req: reqwest::RequestBuilder| async move {
        let resp = req
            .header("x-hyper-appId", "demo-app")
            .header("x-hyper-secret", "demo-secret")
            .send()
            .await
            .ok()?;
        let ok = resp.status().is_success();
        let body: Value = resp.json().await.ok()?;
        ok.then_some(body)
    };
    let Some(user) = send(
        http.post(format!("{base}/users"))
            .json(&json!({"name": "bench"})),
    )
    .await
    else {
        return (1, 1);
    };
    let user_id = user["user"]["id"].as_str().unwrap_or_default().to_owned();
    let Some(chat) = send(
        http.post(format!("{base}/chats"))
            .json(&json!({"creator": user_id, "room": room})),
    )
    .await
    else {
        return (2, 1);
    };
    let chat_id = chat["chat"]["id"].as_str().unwrap_or_default().to_owned();
    let chat_url = format!("{base}/chats/{chat_id}");
    if send(http.get(format!("{chat_url}/assign"))).await.is_none() {
        errors += 1;
    }
    if send(
        http.post(format!("{chat_url}/messages"))
            .json(&json!({"sender": user_id, "message": "hello"})),
    )
    .await
    .is_none()
    {
        errors += 1;
    }
    if send(http.get(&chat_url)).await.is_none() {
        errors += 1;
    }
    if send(http.delete(&chat_url).json(&json!({"userId": user_id})))
        .await
        .is_none()
    {
        errors += 1;
    }
    (6, errors)
}

async fn stateless_request(http: &reqwest::Client, url: &str) -> (u64, u64) {
    let ok = match http
        .get(url)
        .header("x-hyper-appId", "demo-app")
        .header("x-hyper-secret", "demo-secret")
        .send()
        .await
    {
        Ok(resp) => resp.status().is_success() && resp.json::<Value>().await.is_ok(),
        Err(_) => false,
    };
    (1, u64::from(!ok))
}

/// Runs `conns` loops of `work` for `warmup` then `secs`, measuring only
/// the second part.
async fn run_phase<F, Fut>(
    name: &'static str,
    conns: u64,
    warmup: Duration,
    secs: Duration,
    work: F,
) -> Phase
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (u64, u64)> + Send,
{
    let work = Arc::new(work);
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..conns {
        let (work, measuring, stop) = (work.clone(), measuring.clone(), stop.clone());
        let (requests, errors) = (requests.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (n, e) = work(i).await;
                if measuring.load(Ordering::Relaxed) {
                    requests.fetch_add(n, Ordering::Relaxed);
                    errors.fetch_add(e, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(warmup).await;
    let cpu0 = process_cpu_secs();
    let t0 = Instant::now();
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(secs).await;
    measuring.store(false, Ordering::Relaxed);
    let wall = t0.elapsed();
    let cpu_secs = process_cpu_secs() - cpu0;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    Phase {
        name,
        requests: requests.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        wall,
        cpu_secs,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; no other arguments are used.
    let secs = Duration::from_secs(env_u64("MOCK_BENCH_SECS", 5));
    let conns = env_u64("MOCK_BENCH_CONNS", 32);
    let rounds = env_u64("MOCK_BENCH_ROUNDS", 3).max(1);
    let warmup = Duration::from_secs(1);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let http = reqwest::Client::builder()
            .http1_only()
            .pool_max_idle_per_host(conns as usize * 2)
            .build()
            .expect("client");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/v1/ping", get(|| async { Json(json!({"ok": true})) }));
        let stateless = tokio::spawn(async move { axum::serve(listener, app).await });
        let ping = format!("http://{addr}/v1/ping");

        let mock = spawn(MockConfig::default()).await.expect("mock starts");
        let base = mock.base_url();

        let cpus = std::thread::available_parallelism().map_or(0, usize::from);
        println!(
            "mock_throughput: {conns} keep-alive connections, {rounds} rounds of 2 phases x {} s (1 s warm-up each), {cpus} CPUs, client in-process",
            secs.as_secs()
        );
        println!(
            "{:<6} {:<28} {:>10} {:>8} {:>12} {:>10} {:>16}",
            "round", "phase", "requests", "errors", "req/s", "CPU s", "CPU µs/request"
        );
        let row = |round: &str, p: &Phase| {
            println!(
                "{:<6} {:<28} {:>10} {:>8} {:>12.0} {:>10.2} {:>16.1}",
                round,
                p.name,
                p.requests,
                p.errors,
                p.rps(),
                p.cpu_secs,
                p.cpu_us_per_request()
            );
        };
        // Interleaved rounds: a change in background load hits both phases
        // of a round alike, and the median round ratio ignores one outlier.
        let mut ratios = Vec::new();
        let (mut total_a, mut total_b) = (Phase::empty("stateless GET /v1/ping"), Phase::empty("mock lifecycle (6 routes)"));
        for round in 1..=rounds {
            let (client, ping) = (http.clone(), ping.clone());
            let a = run_phase("stateless GET /v1/ping", conns, warmup, secs, move |_| {
                let (client, ping) = (client.clone(), ping.clone());
                async move { stateless_request(&client, &ping).await }
            })
            .await;
            let (client, base) = (http.clone(), base.clone());
            let b = run_phase("mock lifecycle (6 routes)", conns, warmup, secs, move |i| {
                let (client, base) = (client.clone(), base.clone());
                async move { lifecycle(&client, &base, 1 + (i % 2) as u32).await }
            })
            .await;
            row(&round.to_string(), &a);
            row(&round.to_string(), &b);
            ratios.push(b.cpu_us_per_request() / a.cpu_us_per_request());
            total_a.add(&a);
            total_b.add(&b);
        }
        row("all", &total_a);
        row("all", &total_b);
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        let overall = total_b.cpu_us_per_request() / total_a.cpu_us_per_request();
        let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!("round ratios (sorted): {}", shown.join(", "));
        println!(
            "ratio stateful CPU/request ÷ stateless CPU/request = {median:.2} (median of rounds; all rounds pooled: {overall:.2}; target ≤ {TARGET_RATIO}): {}",
            if median <= TARGET_RATIO { "PASS" } else { "ABOVE TARGET" }
        );
        mock.shutdown().await;
        stateless.abort();
    });
}
