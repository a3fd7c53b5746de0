//! `chatload conform`: picks the target (the bundled mock with simulated agents
//! off, or a real instance with credentials from the environment) and the
//! webhook target (`--hook-url`, or a local receiver), runs the suite with a
//! progress line on stderr once a second, prints and writes the results. A
//! signal, or the suite giving up on a target that does not answer, stops it
//! early; what it created is then cleaned up within a time limit, and the
//! checks made until then are still printed and written.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, anyhow};

use super::outputs::{Delivered, Kind, Outputs, check_outputs};
use super::{
    AppError, Exit, MOCK_APP_ID, MOCK_DOMAIN_KEY, MOCK_SECRET, Signals, default_report_path,
    mock_tls_config, remote_url, run_failed, tls_options, usage,
};
use crate::cli::ConformArgs;
use crate::conform::{
    CLEANUP_LIMIT, Checker, Cleaned, ConformOptions, ConformReport, ConformTarget, Watch,
};
use crate::webhook::RunningReceiver;

pub(super) async fn conform(args: ConformArgs) -> Result<Exit, AppError> {
    let signals = Signals::listen();
    let remote = remote_url(&args.target)?;
    let outputs = check_outputs(
        args.out.as_deref(),
        default_report_path("conform", None, SystemTime::now()),
        &[(Kind::Junit, args.junit.as_deref())],
    )?;
    // The receiver is kept alive until the suite is done: the registered
    // webhook points at it.
    let (receiver, hook_url) = webhook_target(&args).await?;
    let (target, mock) = match remote {
        Some(base_url) => (remote_target(base_url, &args, hook_url)?, None),
        None => {
            let (target, server) = mock_target(&args, hook_url).await?;
            (target, Some(server))
        }
    };
    let mut target = target;
    let (restore, quiet) = quiet_mock_agents(&target).await;
    target.quiet_agents = quiet;
    let defaults = ConformOptions::default();
    let options = ConformOptions {
        seed: args.seed.unwrap_or(defaults.seed),
        cases: args.cases.unwrap_or(defaults.cases),
    };
    let checker = Checker::new(target, options).map_err(run_failed)?;
    let report = drive(checker, signals).await;
    if let Some(restore) = restore
        && let Err(why) = restore.restore().await
    {
        crate::errln!("warning: {why}");
    }
    drop(mock);
    if let Some(receiver) = receiver {
        receiver.stop().await;
    }
    // An output not written where asked (each named here) outranks the
    // suite's own exit code: 3, as a suite that gave up.
    let written = write_results(&report, &outputs).exit(Exit::Passed);
    match (verdict(&report), written) {
        (Ok(_), Err(e)) | (Err(e), _) => Err(e),
        (Ok(exit), Ok(_)) => Ok(exit),
    }
}

/// A remote target that is a chatload mock (`chatload mock`) has its
/// simulated agents' answers switched off for the suite's app (the agents
/// stay online), as the bundled mock runs, so the suite accepts its
/// invitation itself, deterministically; returns what switches them back
/// on afterwards, and whether they are off now (then a 409 to the suite's
/// "accept invitation" is a failure). A real instance (no
/// `/__mock/simulation`) is left as it is, and so is a mock whose switch
/// fails [`SWITCH_ATTEMPTS`] times (with a warning): an invitation its
/// agents take first is then a skipped check, not a pass.
async fn quiet_mock_agents(target: &ConformTarget) -> (Option<crate::agents::MockRestore>, bool) {
    use crate::agents::{MockRestore, MockSwitch, Simulated, switch_mock_off};
    let (base_url, app_id) = (&target.base_url, &target.app_id);
    let mut attempt = 1;
    let switched = loop {
        let started = Instant::now();
        match switch_mock_off(base_url, app_id, &target.tls, Simulated::Answers).await {
            Err(_) if attempt < SWITCH_ATTEMPTS && started.elapsed() < SWITCH_RETRY_WITHIN => {
                attempt += 1;
                tokio::time::sleep(SWITCH_RETRY_AFTER).await;
            }
            switched => break switched,
        }
    };
    match switched {
        Ok(MockSwitch::SwitchedOff) => {
            let restore = MockRestore {
                base_url: base_url.clone(),
                app_id: app_id.clone(),
                tls: target.tls.clone(),
                what: Simulated::Answers,
            };
            (Some(restore), true)
        }
        Ok(MockSwitch::AlreadyOff) => (None, true),
        Ok(_) => (None, false),
        Err(e) => {
            crate::errln!(
                "warning: {e} (after {attempt} attempt(s)): the target's own agents may take \
                 the suite's invitation"
            );
            (None, false)
        }
    }
}

/// How often the switch of a mock's simulated answers is tried: a
/// transient failure (a proxy in front of the mock dropping the first
/// connection) must not leave them on, which makes the run nondeterministic.
/// Only a failure within [`SWITCH_RETRY_WITHIN`] is tried again: one that
/// took its whole timeout (a target that does not answer) is not.
const SWITCH_ATTEMPTS: u32 = 3;
/// A failed switch this fast is tried again.
const SWITCH_RETRY_WITHIN: Duration = Duration::from_secs(2);
/// The pause between two attempts.
const SWITCH_RETRY_AFTER: Duration = Duration::from_millis(250);

/// Runs the suite until its end, a signal (the report is marked
/// interrupted) or the checker giving up on the target, whichever comes
/// first, with a progress line on stderr once a second. A suite stopped
/// early is cleaned up here ([`clean_up`]).
async fn drive(mut checker: Checker, mut signals: Signals) -> ConformReport {
    let watch = checker.watch();
    let ticker = tokio::spawn(tick(watch.clone()));
    let mut interrupted = false;
    let finished = tokio::select! {
        biased;
        () = signals.recv() => {
            interrupted = true;
            None
        }
        () = watch.gave_up() => None,
        cleaned = crate::conform::run_suite(&mut checker) => Some(cleaned),
    };
    ticker.abort();
    if interrupted {
        crate::errln!("interrupted: writing the checks made so far");
    }
    let cleaned = match finished {
        Some(cleaned) => cleaned,
        None => clean_up(&checker, &mut signals).await,
    };
    let mut report = checker.into_report(cleaned);
    if interrupted {
        report.interrupted = true;
        report.stopped = Some("interrupted by a signal (Ctrl-C or SIGTERM)".to_owned());
    }
    report
}

/// After an early stop: closes the chats the suite opened and deletes the
/// webhook it registered, within [`CLEANUP_LIMIT`] (the target may have
/// stopped answering); a signal skips it. What is not removed then is left
/// behind, with the reason.
async fn clean_up(checker: &Checker, signals: &mut Signals) -> Cleaned {
    let mut work = checker.leftovers();
    if work.is_empty() {
        return work.finish("");
    }
    let secs = CLEANUP_LIMIT.as_secs();
    crate::errln!("cleaning up what the suite created (at most {secs}s; Ctrl-C again to skip)");
    let why = tokio::select! {
        biased;
        () = signals.recv() => "a second signal skipped the clean-up".to_owned(),
        _ = tokio::time::timeout(CLEANUP_LIMIT, checker.clean_up(&mut work)) => {
            format!("the clean-up's time limit ({secs}s) ran out")
        }
    };
    work.finish(&why)
}

/// Once a second: `conform Ns: C checks, F failed; last: OPERATION NAME`.
async fn tick(watch: Arc<Watch>) {
    let start = Instant::now();
    let period = Duration::from_secs(1);
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        interval.tick().await;
        let secs = start.elapsed().as_secs();
        crate::errln!("conform {secs}s: {}", watch.line());
    }
}

/// The exit code: 130 when a signal stopped the suite, 3 when it gave up
/// on the target or nothing answered at all, else 0 when every check passed
/// and every operation was exercised, 1 otherwise.
fn verdict(report: &ConformReport) -> Result<Exit, AppError> {
    if report.interrupted {
        return Ok(Exit::Interrupted);
    }
    if let Some(why) = &report.stopped {
        return Err(run_failed(anyhow!(why.clone())));
    }
    if report.checks.iter().all(|c| c.status.is_none()) {
        return Err(run_failed(anyhow!("the target did not answer any request")));
    }
    Ok(if report.passed() && report.not_exercised.is_empty() {
        Exit::Passed
    } else {
        Exit::Failed
    })
}

/// Where the suite's webhook goes: `--hook-url`, or a local receiver started here (returned
/// too, to be kept alive until the suite is done).
async fn webhook_target(args: &ConformArgs) -> Result<(Option<RunningReceiver>, String), AppError> {
    Ok(match args.hook_url.clone() {
        Some(url) => (None, url),
        None => {
            let receiver = crate::conform::start_receiver()
                .await
                .context("cannot start the local webhook receiver")
                .map_err(run_failed)?;
            let url = receiver.local_url();
            (Some(receiver), url)
        }
    })
}

/// A real instance at `base_url`, with its credentials from the environment.
fn remote_target(
    base_url: String,
    args: &ConformArgs,
    hook_url: String,
) -> Result<ConformTarget, AppError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(app_id), Some(secret)) = (env("CHATLOAD_APP_ID"), env("CHATLOAD_SECRET")) else {
        return Err(usage(anyhow!(
            "conform against {base_url} needs CHATLOAD_APP_ID and CHATLOAD_SECRET"
        )));
    };
    Ok(ConformTarget {
        base_url,
        app_id,
        secret,
        domain_key: env("CHATLOAD_DOMAIN_KEY"),
        room: args.room,
        hook_url,
        tls: tls_options(&args.tls, None, None)?,
        quiet_agents: false,
    })
}

/// The bundled mock, started here with simulated agents off: the suite accepts the
/// invitation itself, deterministically. The server is returned to be kept running.
async fn mock_target(
    args: &ConformArgs,
    hook_url: String,
) -> Result<(ConformTarget, chatload_mock::MockServer), AppError> {
    let mut config = chatload_mock::MockConfig::default();
    config.simulation.simulate = false;
    mock_tls_config(&mut config, &args.tls);
    let server = chatload_mock::spawn(config)
        .await
        .context("cannot start the bundled mock")
        .map_err(run_failed)?;
    let base_url = server.base_url();
    let tls = tls_options(&args.tls, None, server.ca_pem())?;
    let target = ConformTarget {
        base_url,
        app_id: MOCK_APP_ID.to_owned(),
        secret: MOCK_SECRET.to_owned(),
        domain_key: Some(MOCK_DOMAIN_KEY.to_owned()),
        room: args.room,
        hook_url,
        tls,
        quiet_agents: false,
    };
    Ok((target, server))
}

/// Prints the results, then writes the JSON report and the JUnit file (when
/// asked for): each that cannot be written is named, the JSON report saved
/// elsewhere then.
fn write_results(report: &ConformReport, outputs: &Outputs) -> Delivered {
    crate::outln!("{}", crate::conform::terminal(report).trim_end());
    let delivered = outputs.deliver(|kind| match kind {
        Kind::Junit => crate::conform::junit(report),
        _ => Ok(serde_json::to_vec_pretty(report)?),
    });
    delivered.print_report();
    delivered
}
