//! `chatload run`: scenario → overrides → target → plan → engine → clean-up
//! → report → verdict, with live progress and signal handling.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, anyhow};
use tokio_util::sync::CancellationToken;

use super::{
    AppError, Exit, MOCK_APP_ID, MOCK_DOMAIN_KEY, MOCK_SECRET, mock_tls_config, open_outputs,
    remote_url, run_failed, shutdown_signal, tls_options, usage, verdict_exit, write_bytes,
    write_renderings, write_report,
};
use crate::agents::{self, AgentPool};
use crate::cli::RunArgs;
use crate::client::{ApiClient, ClientConfig, Credentials, TlsOptions};
use crate::engine::{self, FailureLog, Runner};
use crate::metrics::{MetricsHub, MetricsLayout, StepInfo};
use crate::plan::{LoadPlan, Shard};
use crate::progress::{Progress, detect_mode};
use crate::report::{
    self, CleanupReport, LoadModel, LoadProfile, RouteViolations, RunMeta, SchemaReport,
    StageReport, ViolationSample,
};
use crate::scenario::{self, Scenario, Stage, Workload};
use crate::schema::{SchemaMode, SchemaRegistry};
use crate::verdict::{self, LiveFigures};

/// Applies `--vus`, `--rate`, `--duration`, `--iterations` to the scenario's workload.
///
/// # Errors
/// Overrides that leave no bounded plan.
pub fn apply_overrides(load: &Workload, args: &RunArgs) -> Result<Workload, String> {
    let constant = args.vus.is_some() || args.rate.is_some() || args.duration.is_some();
    let peak = |level: f64, stages: &[Stage]| stages.iter().map(|s| s.target).fold(level, f64::max);
    let mut out = load.clone();
    if let (
        Some(rate),
        Workload::Closed {
            vus,
            duration,
            stages,
            graceful_stop,
            ..
        },
    ) = (args.rate, load)
    {
        out = Workload::Open {
            rate_per_sec: rate,
            duration: args
                .duration
                .or(*duration)
                .or_else(|| load.planned_duration()),
            stages: Vec::new(),
            max_vus: args.vus.unwrap_or_else(|| {
                (peak(f64::from(*vus), stages) as u32).max(scenario::validate::DEFAULT_MAX_VUS)
            }),
            backlog: args.vus.unwrap_or(scenario::validate::DEFAULT_MAX_VUS),
            graceful_stop: *graceful_stop,
        };
        let _ = stages;
    } else if constant {
        let planned = load.planned_duration();
        match &mut out {
            Workload::Closed {
                vus,
                duration,
                stages,
                iterations,
                ..
            } => {
                *vus = args
                    .vus
                    .unwrap_or_else(|| (peak(f64::from(*vus), stages).round() as u32).max(1));
                *duration = args.duration.or(*duration).or(planned);
                stages.clear();
                if args.iterations.is_some() {
                    *iterations = args.iterations;
                } else if args.duration.is_some() {
                    // A constant load for that long: the scenario's
                    // iteration count no longer ends it early.
                    *iterations = None;
                }
            }
            Workload::Open {
                rate_per_sec,
                duration,
                stages,
                max_vus,
                backlog,
                ..
            } => {
                *rate_per_sec = args.rate.unwrap_or_else(|| peak(*rate_per_sec, stages));
                *duration = args.duration.or(*duration).or(planned);
                stages.clear();
                if let Some(v) = args.vus {
                    *max_vus = v;
                    *backlog = v;
                }
            }
        }
    } else if let (Some(n), Workload::Closed { iterations, .. }) = (args.iterations, &mut out) {
        *iterations = Some(n);
    }
    if let Some(rate) = args.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err("--rate must be a positive number of iterations per second".to_owned());
    }
    match &out {
        Workload::Closed {
            duration: None,
            iterations: None,
            stages,
            ..
        } if stages.is_empty() => {
            Err("the load has no end: give --duration or --iterations".to_owned())
        }
        Workload::Open {
            duration: None,
            stages,
            ..
        } if stages.is_empty() => Err("the load has no end: give --duration".to_owned()),
        Workload::Open { .. } if args.iterations.is_some() => {
            Err("--iterations belongs to the closed model".to_owned())
        }
        _ => Ok(out),
    }
}

/// Where the report goes when `--out` is not given:
/// `reports/<scenario>[-shard-K-of-N]-<UTC time>-<process id>.json`, so
/// shards and runs started in the same second on one machine never share a
/// name (and the file is created with `create_new`, never overwritten).
pub fn default_report_path(scenario: &str, shard: Option<Shard>, at: SystemTime) -> PathBuf {
    let stamp: String = humantime::format_rfc3339_seconds(at)
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let slug: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let shard = shard.map_or_else(String::new, |s| {
        format!("-shard-{}-of-{}", s.index + 1, s.count)
    });
    let pid = std::process::id();
    PathBuf::from("reports").join(format!("{slug}{shard}-{stamp}-{pid}.json"))
}

/// The resolved target: where to send requests and with what.
pub(super) struct Target {
    base_url: String,
    kind: &'static str,
    credentials: Credentials,
    /// Trust and HTTP version for an https:// target (or the mock's TLS).
    tls: TlsOptions,
    _mock: Option<chatload_mock::MockServer>,
}

pub(super) async fn resolve_target(
    args: &RunArgs,
    scenario: &Scenario,
) -> Result<Target, AppError> {
    let cli_url = remote_url(&args.target)?;
    let spec = &scenario.target;
    let expose = |s: &Option<scenario::Secret>| s.as_ref().map(|v| v.expose().to_owned());
    match cli_url.or_else(|| spec.base_url.clone()) {
        Some(base_url) => {
            let credentials = Credentials {
                app_id: expose(&spec.app_id),
                secret: expose(&spec.secret),
                domain_key: expose(&spec.domain_key),
            };
            if credentials.app_id.is_none() {
                return Err(usage(anyhow!(
                    "no App ID for {base_url}: set CHATLOAD_APP_ID (and CHATLOAD_SECRET) or target.app_id in the scenario"
                )));
            }
            if args.tls.mock_tls {
                return Err(usage(anyhow!(
                    "--mock-tls is for the bundled mock, but the scenario targets {base_url}"
                )));
            }
            Ok(Target {
                base_url,
                kind: "remote",
                credentials,
                tls: tls_options(&args.tls, Some(spec), None)?,
                _mock: None,
            })
        }
        None => {
            let mut config = match &args.mock_config {
                Some(path) => chatload_mock::MockConfig::from_yaml_file(path)
                    .map_err(|e| usage(anyhow!("{e}")))?,
                None => chatload_mock::MockConfig::default(),
            };
            if let Some(seed) = args.seed {
                config.seed = seed;
            }
            mock_tls_config(&mut config, &args.tls);
            let server = chatload_mock::spawn(config)
                .await
                .context("cannot start the bundled mock")
                .map_err(run_failed)?;
            let credentials = Credentials {
                app_id: expose(&spec.app_id).or_else(|| Some(MOCK_APP_ID.to_owned())),
                secret: expose(&spec.secret).or_else(|| Some(MOCK_SECRET.to_owned())),
                domain_key: expose(&spec.domain_key).or_else(|| Some(MOCK_DOMAIN_KEY.to_owned())),
            };
            Ok(Target {
                base_url: server.base_url(),
                kind: "bundled-mock",
                credentials,
                tls: tls_options(&args.tls, Some(spec), server.ca_pem())?,
                _mock: Some(server),
            })
        }
    }
}

pub(super) fn layout_of(scenario: &Scenario) -> MetricsLayout {
    MetricsLayout {
        steps: scenario
            .step_names
            .iter()
            .enumerate()
            .map(|(id, (name, flow))| StepInfo {
                name: name.clone(),
                flow: flow.clone(),
                pause: scenario.is_pause(id),
            })
            .collect(),
        routes: scenario.routes.iter().map(|r| r.key.clone()).collect(),
        flows: scenario.flows.iter().map(|f| f.name.clone()).collect(),
    }
}

/// The load profile for the report (no secrets: only the workload).
/// The load profile as run, for `meta.load`.
pub(super) fn load_profile(w: &Workload, shard: Shard, timeout: Duration) -> LoadProfile {
    let stages = |s: &[Stage]| {
        s.iter()
            .map(|s| StageReport {
                duration_secs: s.duration.as_secs_f64(),
                target: s.target,
            })
            .collect::<Vec<_>>()
    };
    let mut profile = match w {
        Workload::Closed {
            vus,
            duration,
            iterations,
            stages: st,
            graceful_stop,
        } => LoadProfile {
            model: LoadModel::Closed,
            vus: Some(*vus),
            duration_secs: duration.map(|d| d.as_secs_f64()),
            iterations: iterations.map(u64::from),
            stages: stages(st),
            graceful_stop_secs: graceful_stop.as_secs_f64(),
            ..LoadProfile::default()
        },
        Workload::Open {
            rate_per_sec,
            duration,
            stages: st,
            max_vus,
            backlog,
            graceful_stop,
        } => LoadProfile {
            model: LoadModel::Open,
            arrival_rate: Some(*rate_per_sec),
            duration_secs: duration.map(|d| d.as_secs_f64()),
            stages: stages(st),
            max_vus: Some(*max_vus),
            backlog: Some(*backlog),
            graceful_stop_secs: graceful_stop.as_secs_f64(),
            ..LoadProfile::default()
        },
    };
    profile.shard = (shard != Shard::WHOLE).then(|| shard.to_string());
    profile.request_timeout_secs = Some(timeout.as_secs_f64());
    profile
}

pub(super) async fn run_scenario(args: RunArgs) -> Result<Exit, AppError> {
    let mut scenario = scenario::load_file(&args.scenario).map_err(usage)?;
    scenario.load = apply_overrides(&scenario.load, &args).map_err(|e| usage(anyhow!(e)))?;
    if args.no_cleanup {
        scenario.cleanup = false;
    }
    for expr in &args.thresholds {
        let t = scenario
            .parse_threshold(expr, false)
            .map_err(|e| usage(anyhow!("--threshold {e}")))?;
        scenario.thresholds.push(t);
    }
    let shard = match &args.shard {
        Some(text) => Shard::parse(text).map_err(|e| usage(anyhow!(e)))?,
        None => Shard::WHOLE,
    };
    let seed = args.seed.or(scenario.seed).unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(42, |d| d.as_nanos() as u64)
    });
    let started_at = SystemTime::now();
    let outputs = open_outputs(
        args.out.as_deref(),
        default_report_path(
            &scenario.name,
            (shard != Shard::WHOLE).then_some(shard),
            started_at,
        ),
        args.junit.as_deref(),
        &[args.html.as_deref(), args.csv.as_deref()],
    )?;
    let (out, report_file, junit_file) = (outputs.path, outputs.report, outputs.junit);

    let target = resolve_target(&args, &scenario).await?;
    let plan = LoadPlan::new(&scenario.load, shard);
    let pool_size = match &plan {
        LoadPlan::Closed(p) => p.peak_vus() as usize,
        LoadPlan::Open(p) => p.max_vus as usize,
    };
    let client = ApiClient::with_tls(
        &ClientConfig {
            base_url: target.base_url.clone(),
            credentials: target.credentials.clone(),
            extra_headers: scenario.target.headers.clone(),
            timeout: scenario.target.timeout,
            pool_size,
        },
        target.tls.clone(),
    )
    .map_err(usage)?;
    let client = Arc::new(client);
    let shards = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    let hub = Arc::new(MetricsHub::new(Arc::new(layout_of(&scenario)), shards));
    let abort = CancellationToken::new();
    let scenario = Arc::new(scenario);
    let schema_mode = SchemaMode::parse(&args.schema).map_err(|e| usage(anyhow!(e)))?;
    let progress = Arc::new(Progress::new(
        detect_mode(args.quiet),
        plan.total(),
        &scenario.name,
    ));
    let mut runner = Runner::new(scenario.clone(), client.clone(), hub.clone(), abort.clone());
    if args.verbose || tracing::enabled!(tracing::Level::DEBUG) {
        // Through the progress display, so log lines never tear the bar.
        let log = progress.clone();
        runner = runner.with_failure_log(FailureLog::new(move |entry| log.println(entry)));
    }
    let ratio = match schema_mode {
        SchemaMode::All => 1.0,
        SchemaMode::Sample(r) => r,
        SchemaMode::Off => 0.0,
    };
    if ratio > 0.0 {
        let route_ops: Vec<Option<&str>> = scenario
            .routes
            .iter()
            .map(|r| r.operation.map(|o| o.id()))
            .collect();
        let ids: Vec<&str> = route_ops.iter().flatten().copied().collect();
        let registry = SchemaRegistry::load(Some(&ids)).map_err(run_failed)?;
        runner = runner.with_schemas(registry.into_routes(&route_ops), ratio);
    }
    // Against the bundled mock, agent actors replace its simulated agents:
    // switched off before the webhook exists, so no simulated agent takes a chat.
    if let Some(spec) = &scenario.agents {
        let app_id = target.credentials.app_id.as_deref().unwrap_or_default();
        agents::prepare_target(spec, &target.base_url, app_id, &target.tls)
            .await
            .map_err(run_failed)?;
    }
    // Registered as late as possible: nothing between here and the run can
    // fail but the agents' logins, which delete the webhook again on failure.
    let mut run_hooks = None;
    if let Some(spec) = &scenario.webhooks {
        let started = super::webhook::RunHooks::start(spec, &client).await?;
        runner = runner.with_hooks(started.engine_hooks(&scenario));
        run_hooks = Some(started);
    }
    let mut agent_pool = None;
    if let (Some(spec), Some(hooks)) = (&scenario.agents, &run_hooks) {
        match AgentPool::start(
            spec,
            client.clone(),
            Arc::clone(hooks.router()),
            Some(hub.clone()),
            seed,
            &abort,
        )
        .await
        {
            Ok(pool) => {
                hooks
                    .receiver()
                    .set_assign_responder(pool.assign_responder());
                agent_pool = Some(pool);
            }
            Err(e) => {
                if let Some(h) = run_hooks.take() {
                    let _ = h.finish(&client, 0.0, true).await;
                }
                return Err(run_failed(anyhow::Error::new(e)));
            }
        }
    }
    let runner = Arc::new(runner);

    let interrupt = CancellationToken::new();
    let hard_abort = Arc::new(AtomicBool::new(false));
    let signalled = Arc::new(AtomicBool::new(false));
    let signals = tokio::spawn(watch_signals(
        interrupt.clone(),
        abort.clone(),
        [signalled.clone(), hard_abort.clone()],
        progress.clone(),
    ));
    let run_start = Instant::now();
    let ticking = CancellationToken::new();
    let ticker = tokio::spawn(tick_progress(
        runner.clone(),
        progress.clone(),
        run_start,
        ticking.clone(),
        interrupt.clone(),
    ));

    if let Some(h) = &mut run_hooks {
        h.start_sampling(client.clone());
    }
    let outcome = engine::run(
        runner.clone(),
        &plan,
        scenario.load.graceful_stop(),
        seed,
        interrupt.clone(),
    )
    .await;
    ticking.cancel();
    let _ = ticker.await;
    progress.finish();

    let leftovers = std::mem::take(
        &mut *runner
            .leftovers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let cleanup =
        if scenario.cleanup && !leftovers.is_empty() && !hard_abort.load(Ordering::Relaxed) {
            progress.println(&format!("closing {} chat(s) left open...", leftovers.len()));
            Some(engine::close_chats(client.clone(), leftovers, Duration::from_secs(5)).await)
        } else {
            None
        };
    // Agents stop after the clean-up (they answer the chats it closes) and
    // before the webhook is deleted (their last events still arrive).
    let agent_summary = match agent_pool {
        Some(pool) => {
            progress.println("logging the agent actors out...");
            Some(pool.stop().await)
        }
        None => None,
    };
    let webhook_input = match run_hooks {
        Some(h) => {
            let hard = hard_abort.load(Ordering::Relaxed);
            if !hard && !h.settle().is_zero() {
                progress.println(&format!(
                    "waiting {} (webhooks.settle) for the last webhook events, then deleting the webhook...",
                    humantime::format_duration(h.settle())
                ));
            }
            let (input, warning) = h.finish(&client, outcome.elapsed.as_secs_f64(), hard).await;
            if let Some(w) = warning {
                progress.println(&w);
            }
            Some(input)
        }
        None => None,
    };
    signals.abort();

    let metrics = hub.finish(outcome.elapsed);
    let meta = RunMeta {
        scenario: scenario.name.clone(),
        scenario_file: Some(args.scenario.display().to_string()),
        target: target.base_url.clone(),
        target_kind: target.kind.to_owned(),
        chatload_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at: humantime::format_rfc3339_millis(started_at).to_string(),
        ended_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        duration_secs: outcome.elapsed.as_secs_f64(),
        load_secs: outcome.load_elapsed.as_secs_f64(),
        load: load_profile(&scenario.load, shard, scenario.target.timeout),
        seed,
        interrupted: outcome.interrupted,
        stopped_by_signal: signalled.load(Ordering::Relaxed),
        shard: (shard != Shard::WHOLE).then(|| shard.to_string()),
        merged_from: Vec::new(),
    };
    let mut report = report::build(&metrics, meta, outcome.planned_iterations);
    report.webhooks = webhook_input.as_ref().map(report::webhook::build);
    report.agents = agent_summary;
    report.cleanup = cleanup.map(|c| CleanupReport {
        attempted: c.attempted,
        closed: c.closed,
        failed: c.failed,
    });
    report.aborted_in_flight = outcome.aborted;
    report.schema = Some(schema_report(&args.schema, &runner.violations));
    report.thresholds = verdict::definitions(&scenario.thresholds);
    let verdict = verdict::judge(&scenario.thresholds, &report);
    report.verdict = Some(verdict.clone());
    write_report(report_file, &out, &report).map_err(run_failed)?;
    if let (Some(file), Some(path)) = (junit_file, &args.junit) {
        let xml = report::junit::render(&report, &verdict).map_err(run_failed)?;
        write_bytes(file, path, &xml).map_err(run_failed)?;
    }
    let color = std::io::IsTerminal::is_terminal(&std::io::stdout());
    println!("{}", report::terminal::render(&report, color));
    write_renderings(&report, args.csv.as_deref(), args.html.as_deref())?;
    print!("{}", report::terminal::render_verdict(&verdict, color));
    println!("report: {}", out.display());
    let exit = verdict_exit(&verdict);
    if verdict.target_unreachable {
        eprintln!(
            "error: the target is unreachable: no request to {} ever connected ({} connection errors); nothing was measured",
            target.base_url, report.totals.errors
        );
    }
    if let Some(tls) = client.tls_failure() {
        let level = if verdict.target_unreachable {
            "error"
        } else {
            "warning"
        };
        eprintln!("{level}: {tls}");
    }
    drop(target);
    Ok(exit)
}

/// The schema section: the mode as given and every violation recorded.
fn schema_report(mode: &str, log: &crate::schema::ViolationLog) -> SchemaReport {
    let routes = log
        .snapshot()
        .into_iter()
        .map(|(route, v)| {
            let samples = v
                .samples
                .into_iter()
                .map(|s| ViolationSample {
                    status: s.status,
                    path: s.path,
                    reason: s.reason,
                })
                .collect();
            (
                route,
                RouteViolations {
                    count: v.count,
                    samples,
                },
            )
        })
        .collect();
    SchemaReport {
        mode: mode.to_owned(),
        violations: log.total(),
        routes,
    }
}

pub(super) async fn tick_progress(
    runner: Arc<Runner>,
    progress: Arc<Progress>,
    start: Instant,
    done: CancellationToken,
    interrupt: CancellationToken,
) {
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = done.cancelled() => return,
        }
        let mut snap = runner.hub.tick(start.elapsed());
        let in_flight = runner.in_flight.snapshot(Instant::now());
        snap.in_flight = in_flight.requests;
        snap.oldest_in_flight = in_flight.oldest;
        progress.update(&snap);
        if runner.is_unreachable() && !runner.abort.is_cancelled() {
            progress.println(&format!(
                "no connection to the target after {} attempts in a row: stopping the run",
                engine::GIVE_UP_AFTER
            ));
            interrupt.cancel();
            runner.abort.cancel();
        }
        let live = LiveFigures {
            requests: snap.requests_total,
            errors: snap.errors_total,
            dropped: snap.dropped_total,
            schema_violations: runner.violations.total(),
        };
        if let Some(t) = verdict::live_failure(&runner.scenario.thresholds, &live)
            && !interrupt.is_cancelled()
        {
            progress.println(&format!(
                "threshold `{t}` failed: stopping the run (abort_on_fail)"
            ));
            interrupt.cancel();
        }
    }
}

/// First Ctrl-C/SIGTERM: stop starting iterations. Second: abort in-flight
/// ones. `[signalled, hard]` are set at the first and the second signal.
pub(super) async fn watch_signals(
    interrupt: CancellationToken,
    abort: CancellationToken,
    [signalled, hard]: [Arc<AtomicBool>; 2],
    progress: Arc<Progress>,
) {
    shutdown_signal().await;
    signalled.store(true, Ordering::Relaxed);
    interrupt.cancel();
    progress
        .println("interrupted: finishing in-flight iterations (press Ctrl-C again to abort them)");
    shutdown_signal().await;
    hard.store(true, Ordering::Relaxed);
    abort.cancel();
    progress.println("aborting in-flight iterations; writing the report");
}
