//! `chatload run` as a pipeline of stages, in the order they happen:
//! config → plan → target → client → outputs → set-up → run → clean-up →
//! report → verdict. Every usage error (a bad flag, target or mock
//! configuration, an unwritable output path) comes before the outputs stage
//! and the outputs stage only checks the paths: files are written at the
//! end, so nothing that was there is emptied by a run that cannot start.
//!
//! [`run_scenario`] calls one function per stage; each stage takes what the
//! earlier ones made. The config layer is [`crate::config`], the target stage
//! `target.rs`, the live side of the run (progress ticks, signals) `live.rs`,
//! the webhook session `webhook.rs` (started in [`start_webhooks`], finished in
//! [`finish_webhooks`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::Signals;
use super::live::{SignalWatch, Ticker};
use super::outputs::{Kind, Outputs, check_outputs};
use super::target::{Target, resolve_target};
use super::webhook::{self, WebhookRun};
use super::{AppError, Exit, run_failed, usage, verdict_exit};
use crate::agents::{self, AgentPool, AgentSummary};
use crate::cli::RunArgs;
use crate::client::{ApiClient, ClientConfig, HttpUsed};
use crate::config::RunConfig;
use crate::engine::{self, CleanupStop, CleanupSummary, FailureLog, RunOutcome, Runner};
use crate::plan::{LoadPlan, Shard};
use crate::progress::{Progress, detect_mode};
use crate::report::connection::ConnectionMeta;
use crate::report::webhook::WebhookInput;
use crate::report::{
    self, CleanupReport, CleanupStopReason, HttpProtocol, LoadModel, LoadProfile, RouteViolations,
    RunMeta, RunReport, SchemaReport, ShardShare, StageReport, ThresholdStop,
};
use crate::scenario::{Scenario, Stage, Workload};
use crate::verdict;

/// Runs a scenario from its command line to its exit code.
pub(super) async fn run_scenario(args: RunArgs) -> Result<Exit, AppError> {
    // First: a Ctrl-C while the run sets up then interrupts it, report and all.
    let signals = Signals::listen();
    let config = RunConfig::from_args(&args).map_err(usage)?;
    let from_file = config.scenario.thresholds.len() - args.thresholds.len();
    for warning in super::commands::threshold_warnings(&config.scenario, &args.scenario, from_file)
    {
        crate::errln!("{warning}");
    }
    let started_at = SystemTime::now();
    let plan = LoadPlan::new(&config.scenario.load, config.shard);
    let target = resolve_target(&args, &config.scenario).await?;
    let client = Arc::new(new_client(&config.scenario, &target, &plan)?);
    warn_of_files_limit(&config.scenario, &plan);
    let outputs = check_run_outputs(&args, &config, started_at)?;
    let mut run = set_up(&args, config, &target, client, &plan).await?;
    let (mut outcome, signals) = run_load(&mut run, &plan, signals).await;
    let after = clean_up(&mut run, &mut outcome, signals).await;
    let report = build_report(&args, &run, &plan, &target, started_at, outcome, after);
    let exit = deliver(report, &run, outputs, &target);
    drop(target);
    exit
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

/// Outputs stage: every file the run writes, checked (not yet created)
/// before any work.
fn check_run_outputs(
    args: &RunArgs,
    config: &RunConfig,
    started_at: SystemTime,
) -> Result<Outputs, AppError> {
    let shard = (config.shard != Shard::WHOLE).then_some(config.shard);
    check_outputs(
        args.out.as_deref(),
        default_report_path(&config.scenario.name, shard, started_at),
        &[
            (Kind::Junit, args.junit.as_deref()),
            (Kind::Html, args.html.as_deref()),
            (Kind::Csv, args.csv.as_deref()),
        ],
    )
}

/// A run set up and ready to start: the engine, and the agent actors and
/// webhook session around it. Lives until the report is written.
struct ReadyRun {
    scenario: Arc<Scenario>,
    shard: Shard,
    seed: u64,
    client: Arc<ApiClient>,
    runner: Arc<Runner>,
    /// Hard stop: ends requests in flight (second signal, grace period over,
    /// target unreachable).
    abort: CancellationToken,
    progress: Arc<Progress>,
    /// The webhook session (`webhooks:`); the clean-up finishes it.
    webhooks: Option<WebhookRun>,
    /// The agent actors (`agents:`); the clean-up stops them.
    agents: Option<AgentPool>,
    /// The mock's simulated agents this run switched off (`mock_agents:
    /// off`): the clean-up switches them back on.
    mock_restore: Option<agents::MockRestore>,
    /// The `abort_on_fail` threshold that stopped the run, if one did (its
    /// index in the scenario's thresholds): the report records it.
    stopped_by: Option<(usize, ThresholdStop)>,
}

/// Set-up stage: the metrics and the engine around `client`, then the agent
/// actors and the webhook session, started as late as possible.
async fn set_up(
    args: &RunArgs,
    config: RunConfig,
    target: &Target,
    client: Arc<ApiClient>,
    plan: &LoadPlan,
) -> Result<ReadyRun, AppError> {
    let shards = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    let hub = engine::metrics_hub(&config.scenario, shards);
    let abort = CancellationToken::new();
    let scenario = Arc::new(config.scenario);
    let progress = Arc::new(Progress::new(
        detect_mode(args.quiet),
        plan.total(),
        &scenario.name,
    ));
    let mut runner = Runner::new(scenario.clone(), client.clone(), hub, abort.clone())
        .with_schema_checks(config.schema_mode)
        .map_err(run_failed)?;
    if args.verbose || tracing::enabled!(tracing::Level::DEBUG) {
        // Through the progress display, so log lines never tear the bar.
        let log = progress.clone();
        runner = runner.with_failure_log(FailureLog::new(move |entry| log.println(entry)));
    }
    // Against the bundled mock, agent actors replace its simulated agents:
    // switched off before the webhook exists, so no simulated agent takes a chat.
    let mut mock_restore = None;
    if let Some(spec) = &scenario.agents {
        let app_id = target.credentials.app_id.as_deref().unwrap_or_default();
        let switch = agents::prepare_target(spec, &target.base_url, app_id, &target.tls)
            .await
            .map_err(run_failed)?;
        mock_restore = (switch == agents::MockSwitch::SwitchedOff).then(|| agents::MockRestore {
            base_url: target.base_url.clone(),
            app_id: app_id.to_owned(),
            tls: target.tls.clone(),
            what: agents::Simulated::Agents,
        });
    }
    let webhooks = match start_webhooks(&scenario, &client).await {
        Ok(webhooks) => webhooks,
        Err(e) => {
            restore_mock_agents(mock_restore.as_ref(), &progress).await;
            return Err(e);
        }
    };
    if let Some(hooks) = &webhooks {
        runner = runner.with_event_hub(webhook::event_hub(hooks, &scenario));
    }
    let mut run = ReadyRun {
        scenario,
        shard: config.shard,
        seed: config.seed,
        client,
        runner: Arc::new(runner),
        abort,
        progress,
        webhooks,
        agents: None,
        mock_restore,
        stopped_by: None,
    };
    if let Err(e) = start_agents(&mut run).await {
        restore_mock_agents(run.mock_restore.as_ref(), &run.progress).await;
        return Err(e);
    }
    Ok(run)
}

/// Switches the mock's simulated agents back on when this run switched them
/// off, so the mock is handed back as found (bounded by
/// [`agents::RESTORE_TIMEOUT`], also after an interrupt); a warning says so
/// when that fails.
async fn restore_mock_agents(restore: Option<&agents::MockRestore>, progress: &Progress) {
    let Some(restore) = restore else {
        return;
    };
    if let Err(why) = restore.restore().await {
        progress.println(&format!("warning: {why}"));
    }
}

/// The one HTTP client of the run, its pool sized for the plan's peak.
fn new_client(
    scenario: &Scenario,
    target: &Target,
    plan: &LoadPlan,
) -> Result<ApiClient, AppError> {
    let pool_size = match plan {
        LoadPlan::Closed(p) => p.peak_vus() as usize,
        LoadPlan::Open(p) => p.max_vus as usize,
    };
    ApiClient::with_tls(
        &ClientConfig {
            base_url: target.base_url.clone(),
            credentials: target.credentials.clone(),
            extra_headers: scenario.target.headers.clone(),
            timeout: scenario.target.timeout,
            pool_size,
            policy: scenario.target.connection,
            max_body: scenario.target.max_body,
        },
        target.tls.clone(),
    )
    .map_err(usage)
}

/// Warns before the load when the virtual users' connections may not fit in
/// this process's limit on open files (audit 10, F6: under `ulimit -n 256`,
/// 62% of the connects failed, which read as the target refusing them).
fn warn_of_files_limit(scenario: &Scenario, plan: &LoadPlan) {
    let vus = match plan {
        LoadPlan::Closed(p) => u64::from(p.peak_vus()),
        LoadPlan::Open(p) => u64::from(p.max_vus),
    };
    let connections = scenario.target.connection.connections_for(vus);
    if let Some(warning) = crate::client::too_few_files(crate::client::files_limit(), connections) {
        crate::errln!("warning: {warning}");
    }
}

/// Starts the webhook session (`webhooks:`): registered as late as possible,
/// since nothing after it can fail but the agents' logins, which finish it
/// again on failure.
async fn start_webhooks(
    scenario: &Scenario,
    client: &ApiClient,
) -> Result<Option<WebhookRun>, AppError> {
    match &scenario.webhooks {
        Some(spec) => Ok(Some(webhook::start(spec, client).await?)),
        None => Ok(None),
    }
}

/// Logs the agent actors in (`agents:`, which needs `webhooks:`); when that
/// fails, the webhook session ends at once and the run with it.
async fn start_agents(run: &mut ReadyRun) -> Result<(), AppError> {
    let (Some(spec), Some(hooks)) = (&run.scenario.agents, &run.webhooks) else {
        return Ok(());
    };
    let started = AgentPool::start(
        spec,
        run.client.clone(),
        Arc::clone(hooks.router()),
        Some(run.runner.hub().clone()),
        run.seed,
        &run.abort,
    )
    .await;
    match started {
        Ok(pool) => {
            hooks
                .receiver()
                .set_assign_responder(pool.assign_responder());
            pool.measure_with(Arc::clone(hooks.tracker()));
            run.agents = Some(pool);
            Ok(())
        }
        Err(e) => {
            if let Some(hooks) = run.webhooks.take() {
                let _ = webhook::finish(hooks, &run.client, 0.0, None).await;
            }
            Err(run_failed(anyhow::Error::new(e)))
        }
    }
}

/// Run stage: the plan driven to its end, with live progress and signals
/// watched (the watch lasts through the clean-up, which a signal after the
/// load, or a second one, cuts short).
async fn run_load(
    run: &mut ReadyRun,
    plan: &LoadPlan,
    signals: Signals,
) -> (RunOutcome, SignalWatch) {
    let interrupt = CancellationToken::new();
    let signals = SignalWatch::start(signals, &interrupt, &run.abort, &run.progress);
    let ticker = Ticker::start(
        run.runner.clone(),
        run.scenario.clone(),
        run.progress.clone(),
        run.abort.clone(),
        &interrupt,
    );
    if let Some(hooks) = &mut run.webhooks {
        hooks.start_sampling(run.client.clone());
    }
    let outcome = engine::run(
        run.runner.clone(),
        plan,
        run.scenario.load.graceful_stop(),
        run.seed,
        interrupt,
    )
    .await;
    // From here a signal ends the clean-up only: the figures are complete.
    signals.load_over();
    run.stopped_by = ticker.stop().await;
    run.progress.finish();
    (outcome, signals)
}

/// What the clean-up stage did.
struct CleanedUp {
    /// Chats iterations left open: closed (`cleanup: true`), or listed as
    /// left (`--no-cleanup`).
    cleanup: Option<CleanupSummary>,
    agents: Option<AgentSummary>,
    webhooks: Option<WebhookInput>,
    /// A Ctrl-C or SIGTERM cut the measurement short: during the load, its
    /// drain or the settle wait (one during the clean-up only ends it).
    stopped_by_signal: bool,
}

/// Clean-up stage: closes the chats iterations left open (unless a second
/// signal during the load asked to stop now; a signal during it ends it),
/// then stops the agents, then finishes the webhook session.
async fn clean_up(run: &mut ReadyRun, outcome: &mut RunOutcome, signals: SignalWatch) -> CleanedUp {
    let leftovers = std::mem::take(&mut outcome.open_chats);
    let cleanup = close_leftovers(run, leftovers, &signals).await;
    // Agents stop after the clean-up (they answer the chats it closes) and
    // before the webhook is deleted (their last events still arrive).
    let agents = match run.agents.take() {
        Some(pool) => {
            run.progress.status("logging the agent actors out...");
            Some(pool.stop_actors().await)
        }
        None => None,
    };
    let webhooks = match run.webhooks.take() {
        Some(hooks) => Some(finish_webhooks(hooks, run, outcome.elapsed, &signals).await),
        None => None,
    };
    // Counted after the settle wait: a chat's last `chats:close` that
    // arrives during it still ends the chat in the pool's books.
    let agents = agents.map(agents::StoppedAgents::summary);
    // Last: the webhook is gone and no chat of the run is open, so the
    // mock's own agents take nothing of this run.
    restore_mock_agents(run.mock_restore.take().as_ref(), &run.progress).await;
    CleanedUp {
        cleanup,
        agents,
        webhooks,
        stopped_by_signal: signals.stop(),
    }
}

/// Closes the chats the load left open, when the clean-up is on. Recorded
/// also when there was none to close ("nothing was left open" is a result);
/// absent only when the clean-up was off and nothing was left open.
async fn close_leftovers(
    run: &ReadyRun,
    leftovers: Vec<String>,
    signals: &SignalWatch,
) -> Option<CleanupSummary> {
    let limit = run.scenario.cleanup_limit();
    if !run.scenario.cleanup {
        return (!leftovers.is_empty()).then(|| CleanupSummary::disabled(leftovers));
    }
    if leftovers.is_empty() {
        return Some(CleanupSummary {
            limit,
            ..CleanupSummary::default()
        });
    }
    if !signals.is_hard_abort() {
        run.progress.status(&format!(
            "closing {} chat(s) left open (at most {} at once, for at most {}; Ctrl-C \
             to stop)...",
            leftovers.len(),
            engine::CLEANUP_CONCURRENCY,
            humantime::format_duration(limit)
        ));
    }
    let stop = signals.cleanup_stop();
    Some(engine::close_chats(run.client.clone(), leftovers, limit, stop).await)
}

/// Ends the webhook session: waits `webhooks.settle` for the last events
/// (until every expected event has arrived, at most `settle`; a signal during
/// the wait ends it at once, and after a second signal there is no wait),
/// deletes the webhook, stops the receiver.
async fn finish_webhooks(
    hooks: WebhookRun,
    run: &ReadyRun,
    elapsed: Duration,
    signals: &SignalWatch,
) -> WebhookInput {
    let stop = signals.settling();
    if stop.is_some() && !hooks.settle().is_zero() {
        run.progress.status(&format!(
            "waiting up to {} (webhooks.settle) for the last webhook events, then deleting the \
             webhook (Ctrl-C to stop waiting)...",
            humantime::format_duration(hooks.settle())
        ));
    }
    let finished = webhook::finish(hooks, &run.client, elapsed.as_secs_f64(), stop.as_ref()).await;
    signals.settled();
    if finished.settle_stopped {
        let missing: u64 = finished.input.summary.missing.values().sum();
        run.progress.println(&format!(
            "interrupted: stopped waiting for webhook events; {missing} expected event(s) that \
             had not arrived count as missing; writing the report"
        ));
    }
    if let Some(w) = finished.warning {
        run.progress.println(&w);
    }
    finished.input
}

/// Report stage: the run record from the metrics and what the other stages
/// measured; the verdict is added by [`deliver`].
fn build_report(
    args: &RunArgs,
    run: &ReadyRun,
    plan: &LoadPlan,
    target: &Target,
    started_at: SystemTime,
    outcome: RunOutcome,
    after: CleanedUp,
) -> RunReport {
    let metrics = run.runner.hub().finish(outcome.elapsed);
    let scenario = &run.scenario;
    let shard = (run.shard != Shard::WHOLE).then(|| run.shard.to_string());
    let meta = RunMeta {
        scenario: scenario.name.clone(),
        scenario_file: Some(args.scenario.display().to_string()),
        target: target.base_url.clone(),
        target_kind: target.kind.to_owned(),
        http_versions: http_versions(run.client.http_used()),
        connection: Some(ConnectionMeta {
            policy: run.client.policy().name().to_owned(),
            vus_per_connection: run.client.policy().vus_per_connection(),
        }),
        chatload_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at: humantime::format_rfc3339_millis(started_at).to_string(),
        ended_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        duration_secs: outcome.elapsed.as_secs_f64(),
        load_secs: outcome.load_elapsed.as_secs_f64(),
        load: load_profile(&scenario.load, run.shard, plan, scenario.target.timeout),
        seed: Some(run.seed),
        seeds: Vec::new(),
        // A signal during the load, its drain or the settle wait cut the
        // figures short; one during the clean-up did not (the clean-up
        // section says it stopped it).
        interrupted: outcome.interrupted || after.stopped_by_signal,
        stopped_by_signal: after.stopped_by_signal,
        shard,
        merged_from: Vec::new(),
        merged_runs: Vec::new(),
        chatload_versions: Vec::new(),
        ran_apart: false,
    };
    let mut report = report::build(&metrics, meta, outcome.planned_iterations);
    report.webhooks = after.webhooks.as_ref().map(report::webhook::build);
    report.agents = after.agents;
    report.cleanup = after.cleanup.map(cleanup_report);
    report.aborted_in_flight = outcome.aborted;
    let checked_by_route = metrics
        .layout
        .routes
        .iter()
        .zip(&metrics.routes)
        .map(|(name, r)| (name.clone(), r.schema_checked))
        .collect();
    report.schema = Some(schema_report(&args.schema, checked_by_route, &outcome));
    report.thresholds = verdict::definitions(&scenario.thresholds);
    if let Some((index, stop)) = run.stopped_by {
        report.thresholds[index].stopped_run = Some(stop);
    }
    if let Some(throttle) = report.throttle.as_mut() {
        scenario
            .rate_limit
            .mode
            .as_str()
            .clone_into(&mut throttle.policy);
    }
    report
}

/// The versions `used` names, for `meta.http_versions`.
fn http_versions(used: HttpUsed) -> Vec<HttpProtocol> {
    [
        (used.http1, HttpProtocol::Http1),
        (used.http2, HttpProtocol::Http2),
    ]
    .into_iter()
    .filter_map(|(seen, version)| seen.then_some(version))
    .collect()
}

/// The clean-up section: counts, why it stopped, the ids still open.
fn cleanup_report(c: CleanupSummary) -> CleanupReport {
    let attempted = c.attempted();
    let left_open = c.left_open.len() as u64;
    let mut ids = c.left_open;
    ids.truncate(report::MAX_LEFT_OPEN_IDS);
    CleanupReport {
        attempted,
        closed: c.closed,
        failed: c.failed,
        left_open,
        left_open_ids: ids,
        stopped: c.stopped.map(|s| match s {
            CleanupStop::TimeLimit => CleanupStopReason::TimeLimit,
            CleanupStop::Signal => CleanupStopReason::Signal,
            CleanupStop::Disabled => CleanupStopReason::Disabled,
        }),
        limit_secs: c.limit.as_secs_f64(),
    }
}

/// The load profile as run, for `meta.load` (no secrets: only the workload): the whole run's
/// plan, and with `--shard` what this shard's `plan` ran of it.
fn load_profile(w: &Workload, shard: Shard, plan: &LoadPlan, timeout: Duration) -> LoadProfile {
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
    if shard != Shard::WHOLE {
        profile.shard = Some(shard.to_string());
        profile.shard_share = Some(match plan {
            LoadPlan::Closed(p) => ShardShare {
                vus: Some(p.vus.len() as u64),
                peak_vus: Some(p.peak_vus()),
                iterations: p.iterations,
                ..ShardShare::default()
            },
            LoadPlan::Open(p) => ShardShare {
                max_vus: Some(p.max_vus),
                backlog: Some(p.backlog),
                ..ShardShare::default()
            },
        });
    }
    profile.request_timeout_secs = Some(timeout.as_secs_f64());
    profile
}

/// The schema section: the mode as given, the responses checked (in all
/// and per route) and every violation recorded.
fn schema_report(
    mode: &str,
    checked_by_route: BTreeMap<String, u64>,
    outcome: &RunOutcome,
) -> SchemaReport {
    let routes = outcome
        .schema_violations
        .iter()
        .map(|(route, v)| (route.clone(), RouteViolations::from(v)))
        .collect();
    SchemaReport {
        mode: mode.to_owned(),
        checked: Some(checked_by_route.values().sum()),
        checked_by_route: Some(checked_by_route),
        violations: outcome.schema_violations.values().map(|v| v.count).sum(),
        routes,
    }
}

/// Verdict stage: judges the report by the scenario's thresholds, prints
/// the summary, writes every output that can be written (naming each that
/// cannot, the JSON report saved elsewhere then), prints the verdict, and
/// picks the exit code: the verdict's, or 3 when an output was not written
/// where asked.
fn deliver(
    mut report: RunReport,
    run: &ReadyRun,
    outputs: Outputs,
    target: &Target,
) -> Result<Exit, AppError> {
    let verdict = verdict::judge(&run.scenario.thresholds, &report);
    report.verdict = Some(verdict.clone());
    let color = std::io::IsTerminal::is_terminal(&std::io::stdout());
    crate::outln!("{}", report::terminal::render(&report, color));
    let delivered = outputs.deliver(|kind| match kind {
        Kind::Json => Ok(report::json::render(&report)?),
        Kind::Junit => Ok(report::junit::render(&report, &verdict)?),
        Kind::Html => Ok(report::html::render(&report)?),
        Kind::Csv => Ok(report::csv_export::render(&report)?),
    });
    delivered.print_renderings();
    crate::redact::print(&report::terminal::render_verdict(&verdict, color));
    delivered.print_report();
    if verdict.target_unreachable {
        crate::errln!(
            "error: the target is unreachable: no request to {} ever connected ({} connection errors); nothing was measured",
            target.base_url,
            report.totals.errors
        );
    }
    if let Some(tls) = run.client.tls_failure() {
        let level = if verdict.target_unreachable {
            "error"
        } else {
            "warning"
        };
        crate::errln!("{level}: {tls}");
    }
    delivered.exit(verdict_exit(&verdict))
}
