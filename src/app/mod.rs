//! The pipeline behind each command, readable top to bottom: load and
//! validate the scenario, pick the target (the bundled mock by default), run
//! the plan with live progress, clean up, write the report, choose the exit
//! code.
//!
//! Only this module and `main.rs` touch the terminal, the environment,
//! signals and exit codes. `run.rs` is the load run as stages (with
//! `target.rs`, the target stage, and `live.rs`, progress ticks and signals,
//! beside it), `conform_cmd.rs` the conformance suite, `commands.rs` the small
//! commands (validate, report, merge, compare, mock); this file holds what
//! they share.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};

use crate::cli::{Cli, Command};
use crate::client::{CaCert, TlsOptions};
use crate::report::{self, RunReport, Verdict};
use crate::scenario;
use crate::verdict;

mod commands;
mod conform_cmd;
mod live;
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
        (Some(url), _) => Ok(Some(url.clone())),
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

/// The files a run writes, created before any work.
struct Outputs {
    /// Where the JSON report goes (`--out`, or a fresh default name).
    path: PathBuf,
    report: std::fs::File,
    junit: Option<std::fs::File>,
}

/// Creates the report file and the optional JUnit file, and checks that the
/// HTML and CSV files in `later` can be created, before any work: an
/// unwritable path is a usage error (exit 2) and loses nothing. Without
/// `explicit` (`--out`), the report goes to `default`, a name that is never
/// an existing file (see [`create_new_report_file`]).
fn open_outputs(
    explicit: Option<&Path>,
    default: PathBuf,
    junit: Option<&Path>,
    later: &[Option<&Path>],
) -> Result<Outputs, AppError> {
    // Every path is checked before any file is truncated, so a bad `--html`
    // does not leave the `--out` of an earlier run empty.
    let every = explicit
        .into_iter()
        .chain(junit)
        .chain(later.iter().flatten().copied());
    for path in every {
        check_writable(path).map_err(usage)?;
    }
    let (path, report) = match explicit {
        Some(path) => (path.to_owned(), create_report_file(path).map_err(usage)?),
        None => create_new_report_file(default).map_err(usage)?,
    };
    let junit = junit.map(create_report_file).transpose().map_err(usage)?;
    Ok(Outputs {
        path,
        report,
        junit,
    })
}

/// Creates `path`, or `<stem>-2.json`, `<stem>-3.json`, ... when it exists:
/// a default report name never overwrites a file.
fn create_new_report_file(path: PathBuf) -> anyhow::Result<(PathBuf, std::fs::File)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create report directory {}", dir.display()))?;
    }
    let stem = path.with_extension("");
    for n in 1..1000 {
        let candidate = if n == 1 {
            path.clone()
        } else {
            PathBuf::from(format!("{}-{n}.json", stem.display()))
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(file) => return Ok((candidate, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(anyhow::Error::new(e))
                    .with_context(|| format!("cannot create report file {}", candidate.display()));
            }
        }
    }
    Err(anyhow!(
        "cannot create report file {}: too many files of that name",
        path.display()
    ))
}

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

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    let file = create_report_file(path).map_err(run_failed)?;
    write_bytes(file, path, bytes).map_err(run_failed)
}

/// Extra renderings of a report, shared by `run` and `report`.
fn write_renderings(
    report: &RunReport,
    csv: Option<&Path>,
    html: Option<&Path>,
) -> Result<(), AppError> {
    if let Some(path) = html {
        write_file(path, &report::html::render(report).map_err(run_failed)?)?;
        crate::outln!("html: {}", path.display());
    }
    if let Some(path) = csv {
        write_file(
            path,
            &report::csv_export::render(report).map_err(run_failed)?,
        )?;
        crate::outln!("csv: {}", path.display());
    }
    Ok(())
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

/// Checks that `path` can be written without changing what is there: an
/// existing file is opened for writing but not truncated, a new one is
/// created and removed again.
fn check_writable(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create report directory {}", dir.display()))?;
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot create report file {}", path.display()))?;
    if !existed {
        // Best effort: an empty file left behind would lose nothing either.
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Creates the report file before the run, so an unwritable path fails fast.
fn create_report_file(path: &Path) -> anyhow::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create report directory {}", dir.display()))?;
    }
    std::fs::File::create(path)
        .with_context(|| format!("cannot create report file {}", path.display()))
}

fn write_report(file: std::fs::File, path: &Path, report: &RunReport) -> anyhow::Result<()> {
    let bytes = report::json::render(report).context("cannot serialize the report")?;
    write_bytes(file, path, &bytes)
}

/// Writes a report file through the one redaction step ([`crate::redact`]).
fn write_bytes(file: std::fs::File, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    crate::redact::write_file(file, bytes)
        .with_context(|| format!("cannot write report {}", path.display()))
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
    fn a_default_report_name_never_overwrites_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        std::fs::write(&path, "keep me").unwrap();
        let (first, _) = create_new_report_file(path.clone()).unwrap();
        let (second, _) = create_new_report_file(path.clone()).unwrap();
        assert_eq!(first, dir.path().join("run-2.json"));
        assert_eq!(second, dir.path().join("run-3.json"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    }
}
