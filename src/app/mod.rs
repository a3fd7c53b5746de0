//! The pipeline behind each command, readable top to bottom: load and
//! validate the scenario, pick the target (the bundled mock by default), run
//! the plan with live progress, clean up, write the report, choose the exit
//! code.
//!
//! Only this module and `main.rs` touch the terminal, the environment,
//! signals and exit codes. `run.rs` is the load run as stages (with
//! `target.rs`, the target stage, and `live.rs`, progress ticks and signals,
//! beside it), `conform_cmd.rs` the conformance suite, `commands.rs` the small
//! commands (validate, report, merge, compare, mock), `outputs.rs` the files
//! they write (checked before the work, written at its end, nothing lost when
//! one cannot be); this file holds what else they share.

use std::path::Path;

use anyhow::{Context, anyhow};

use crate::cli::{Cli, Command};
use crate::client::{CaCert, TlsOptions};
use crate::report::{RunReport, Verdict};
use crate::scenario;
use crate::verdict;

mod commands;
mod conform_cmd;
mod live;
mod outputs;
mod run;
mod target;
mod webhook;

pub use run::default_report_path;

/// Credentials of the bundled mock's default world (local use only).
pub const MOCK_APP_ID: &str = "demo-app";
pub const MOCK_SECRET: &str = "demo-secret";
pub const MOCK_DOMAIN_KEY: &str = "demo-domain-key";

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Passed = 0,
    Failed = 1,
    Usage = 2,
    RunFailed = 3,
    Interrupted = 130,
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct AppError {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl AppError {
    /// The error and its causes in one line, `a: b: c`, each said once: a
    /// cause whose text its parent already ends with (`cannot read scenario
    /// file x: No such file or directory (os error 2)` over the same I/O
    /// error as its source) is not repeated.
    pub fn message(&self) -> String {
        let mut out = String::new();
        for cause in self.error.chain() {
            let text = cause.to_string();
            if out.ends_with(&text) {
                continue;
            }
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        out
    }
}

fn usage(error: impl Into<anyhow::Error>) -> AppError {
    AppError {
        exit: Exit::Usage,
        error: error.into(),
    }
}

fn run_failed(error: impl Into<anyhow::Error>) -> AppError {
    AppError {
        exit: Exit::RunFailed,
        error: error.into(),
    }
}

/// Runs a parsed command line.
///
/// # Errors
/// Usage problems (exit 2) and run failures (exit 3).
pub async fn run(cli: Cli) -> Result<Exit, AppError> {
    match cli.command {
        Command::Run(args) => run::run_scenario(*args).await,
        Command::Validate(args) => commands::validate(&args),
        Command::Conform(args) => conform_cmd::conform(args).await,
        Command::Report(args) => commands::rerender(&args),
        Command::Merge(args) => commands::merge_reports(&args),
        Command::Compare(args) => commands::compare_reports(&args),
        Command::Mock(args) => commands::serve_mock(args).await,
    }
}

/// The base URL given by `--target` or `--region`, if any.
fn remote_url(t: &crate::cli::TargetArgs) -> Result<Option<String>, AppError> {
    match (&t.target, &t.region) {
        (Some(url), _) => {
            crate::client::refuse_userinfo(url).map_err(|e| usage(anyhow!(e)))?;
            Ok(Some(url.clone()))
        }
        (None, Some(region)) => scenario::validate::region_url(region, &t.api_version)
            .map(Some)
            .map_err(|e| usage(anyhow!(e))),
        (None, None) => Ok(None),
    }
}

/// The TLS settings for the target: the command line over the scenario's
/// `target:` (`spec`); with the bundled mock serving HTTPS, its generated CA
/// (`mock_ca`). Warns here, once per command, when certificate verification
/// is off.
///
/// # Errors
/// An unreadable CA file or one without a certificate (usage, exit 2).
fn tls_options(
    args: &crate::cli::TlsClientArgs,
    spec: Option<&scenario::TargetSpec>,
    mock_ca: Option<&str>,
) -> Result<TlsOptions, AppError> {
    let ca_path = args
        .ca_cert
        .as_deref()
        .or_else(|| spec.and_then(|s| s.ca_cert.as_deref()));
    // A CA file given is read even when the bundled mock's CA is used, so a
    // missing or broken one is a usage error, never silently ignored.
    let given = ca_path
        .map(CaCert::read)
        .transpose()
        .map_err(|e| usage(anyhow!(e)))?;
    let extra_ca = match mock_ca {
        Some(pem) => Some(
            CaCert::from_pem("the bundled mock's generated CA", pem.as_bytes())
                .map_err(|e| run_failed(anyhow!(e)))?,
        ),
        None => given,
    };
    let insecure = args.insecure || spec.is_some_and(|s| s.insecure);
    if insecure {
        crate::errln!(
            "warning: TLS certificate verification is off (--insecure / target.insecure): any \
             certificate is accepted, so nothing proves the answers come from the target; \
             trust a private CA with --ca-cert FILE instead"
        );
    }
    Ok(TlsOptions {
        extra_ca,
        insecure,
        http: args.http.or(spec.map(|s| s.http)).unwrap_or_default(),
    })
}

/// The bundled mock's configuration with `--mock-tls`: HTTPS with a
/// certificate generated for this run (its CA is kept in memory).
fn mock_tls_config(config: &mut chatload_mock::MockConfig, args: &crate::cli::TlsClientArgs) {
    if args.mock_tls {
        config.tls = Some(chatload_mock::TlsConfig::default());
    }
}

/// Reads a saved report for `report`, `merge` and `compare`: a file that is
/// not a report, or one with a histogram that does not decode, is refused
/// (exit 2) with the file named ([`RunReport::from_json`] names the entry).
fn read_report(path: &Path) -> Result<RunReport, AppError> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read report {}", path.display()))
        .map_err(usage)?;
    RunReport::from_json(&bytes)
        .with_context(|| format!("cannot read report {}", path.display()))
        .map_err(usage)
}

/// The exit code of a verdict, the same for `run`, `report` and `merge`: 130
/// when a signal stopped the run, 3 when the target was unreachable, else 0
/// or 1.
pub fn verdict_exit(verdict: &Verdict) -> Exit {
    if verdict.interrupted {
        Exit::Interrupted
    } else if verdict.target_unreachable {
        Exit::RunFailed
    } else if verdict.passed {
        Exit::Passed
    } else {
        Exit::Failed
    }
}

/// Judges a saved or merged report again by its stored thresholds and
/// stores the verdict in it.
fn rejudge(report: &mut RunReport) -> Result<Verdict, AppError> {
    let verdict = verdict::judge_report(report).map_err(|e| {
        usage(anyhow!(
            "a threshold stored in the report does not parse: {e}"
        ))
    })?;
    report.verdict = Some(verdict.clone());
    Ok(verdict)
}

/// Ctrl-C and SIGTERM, listened to from [`Signals::listen`] on: a signal
/// that comes before anything waits for it is kept, not lost, and does not
/// kill the process (a run interrupted while it starts still ends as an
/// interrupted run, with its report).
pub(super) struct Signals {
    #[cfg(unix)]
    streams: Option<[tokio::signal::unix::Signal; 2]>,
}

impl Signals {
    /// Installs the handlers now (where the platform allows; else at the first wait).
    pub(super) fn listen() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let streams = signal(SignalKind::interrupt())
                .and_then(|int| Ok([int, signal(SignalKind::terminate())?]))
                .ok();
            Signals { streams }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The next Ctrl-C or SIGTERM (one that came already counts).
    pub(super) async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some([int, term]) = &mut self.streams {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        shutdown_signal().await;
    }
}

/// Resolves when Ctrl-C or SIGTERM arrives.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Shard;
    use std::time::{Duration, SystemTime};

    #[test]
    fn default_report_names_carry_the_shard_and_a_unique_part() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let whole = default_report_path("My Run", None, at);
        let shard = default_report_path("My Run", Some(Shard { index: 1, count: 3 }), at);
        assert_ne!(whole, shard);
        let name = shard.display().to_string();
        assert!(name.contains("my-run-shard-2-of-3-"), "{name}");
        assert!(
            name.ends_with(&format!("-{}.json", std::process::id())),
            "{name}"
        );
    }

    #[test]
    fn an_unreadable_file_is_named_with_its_os_error_said_once() {
        let missing = Path::new("/nonexistent/s.yaml");
        let error = crate::scenario::load_file(missing).expect_err("no such file");
        let message = usage(crate::config::ConfigError::from(error)).message();
        assert!(message.starts_with("cannot read scenario file /nonexistent/s.yaml: "));
        assert_eq!(message.matches("(os error 2)").count(), 1, "{message}");
    }

    /// A limit every value meets, or none does, is valid but warned of,
    /// where it was written.
    #[test]
    fn a_threshold_that_judges_nothing_is_warned_of_where_it_is_written() {
        let yaml = "name: s\nload: {vus: 1, iterations: 1}\nthresholds:\n  - errors.rate < 1%\n  - iterations.error_rate <= 100%\n  - errors.count < 0\nsteps:\n  - get_settings:\n";
        let s = crate::scenario::load_str(yaml, "s.yaml", Path::new(".")).unwrap();
        let warnings = commands::threshold_warnings(&s, Path::new("s.yaml"), 2);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].starts_with(
                "warning: s.yaml:5:5: thresholds[1]: `iterations.error_rate <= 100%` can never fail"
            ),
            "{warnings:?}"
        );
        assert!(
            warnings[1].starts_with("warning: --threshold: `errors.count < 0` can never pass"),
            "{warnings:?}"
        );
    }
}
