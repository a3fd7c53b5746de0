//! Command-line interface: clap derive types only, no logic.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Exit codes, shown in `--help` and the README.
pub const EXIT_CODES: &str = "\
Exit codes:
  0    the run finished and every check and threshold passed
  1    the run finished but a threshold, check or conformance case failed, or
       the load was not delivered (iterations or requests cut off, arrivals
       dropped, planned iterations never started) and no threshold tolerates it
  2    usage error, invalid scenario, unreadable or invalid report, or an
       output path that cannot be written: found before any work (nothing
       was run, no file was changed)
  3    the run itself failed (target unreachable: nothing ever connected, ...;
       for merge, any merged shard whose target was unreachable), or an
       output checked writable could not be written once the work was done
       (disk full, ...)
  130  interrupted by SIGINT or SIGTERM, first or second (the report is still
       written, marked interrupted)";

/// Load testing and conformance checking for the Inbenta Agent Chat API.
#[derive(Debug, Parser)]
#[command(name = "chatload", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario (against the bundled mock unless a target is given).
    Run(Box<RunArgs>),
    /// Call every operation of the API once, with negative cases, and check each answer's status and schema.
    Conform(ConformArgs),
    /// Check scenario files without running them.
    Validate(ValidateArgs),
    /// Re-render a saved JSON report (terminal summary, HTML, CSV).
    Report(ReportArgs),
    /// Merge reports of several shards or machines into one, with exact percentiles.
    Merge(MergeArgs),
    /// Compare two runs per step and percentile; exit 1 on a regression beyond the rules (or a
    /// rule that could not be judged), 2 on a malformed rule or one naming nothing in the reports.
    Compare(CompareArgs),
    /// Start the bundled mock of the Agent Chat API.
    Mock(MockArgs),
}

/// Where requests go when not to the bundled mock.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Base URL of a real instance, e.g. https://agentchat-eu.inbenta.chat:8000/v1 (default: the bundled mock).
    #[arg(long, env = "CHATLOAD_TARGET", conflicts_with = "region")]
    pub target: Option<String>,

    /// Region of a real instance: builds https://agentchat-{region}.inbenta.chat:8000/{version}.
    #[arg(long, value_parser = ["eu", "us"])]
    pub region: Option<String>,

    /// API version used with --region.
    #[arg(long, default_value = "v1", requires = "region")]
    pub api_version: String,
}

/// How chatload talks TLS to an https:// target, and whether the bundled mock serves HTTPS.
#[derive(Debug, Args)]
pub struct TlsClientArgs {
    /// Trust this CA certificate (PEM) for an https:// target, besides the built-in web roots (overrides target.ca_cert).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Do not verify the target's certificate at all (a warning says so; for test setups only).
    #[arg(long)]
    pub insecure: bool,

    /// HTTP version over TLS: 1.1, 2, or auto (ALPN: the server picks) [default: target.http, else auto].
    #[arg(long, value_name = "VERSION", value_parser = crate::client::HttpVersion::parse)]
    pub http: Option<crate::client::HttpVersion>,

    /// The bundled mock serves HTTPS with a certificate generated for the run, which chatload trusts.
    #[arg(long, conflicts_with_all = ["target", "region"])]
    pub mock_tls: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file (YAML).
    pub scenario: PathBuf,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub tls: TlsClientArgs,

    /// Virtual users, 1 to 100,000 (closed model; with the open model: max_vus). Makes the load constant.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_vus)]
    pub vus: Option<u32>,

    /// Iterations per second, more than 0 and at most 1,000,000 (switches to the open model). Makes the load constant.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Run length, e.g. 30s or 5m (more than 0, at most 7 days). Makes the load constant.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_run_duration)]
    pub duration: Option<Duration>,

    /// Total iterations, 1 to 1,000,000,000 (closed model).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_iterations)]
    pub iterations: Option<u64>,

    /// How virtual users hold connections: keep_alive (each its own, kept open), new_per_iteration (a new one each iteration), or http2 (shared HTTP/2 connections, https only) [default: target.connection, else keep_alive].
    #[arg(long, value_name = "POLICY", value_parser = parse_connection)]
    pub connection: Option<String>,

    /// VUs per shared HTTP/2 connection with --connection http2 [default: target.vus_per_connection, else 100].
    #[arg(long, value_name = "N")]
    pub vus_per_connection: Option<u32>,

    /// Where to write the JSON report [default: reports/<scenario>-<timestamp>.json].
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Seed for every random choice (think times, flows, fake data, mock faults).
    #[arg(long, env = "CHATLOAD_SEED")]
    pub seed: Option<u64>,

    /// Run only part K of N of the load (e.g. 2/4); merge the reports afterwards.
    #[arg(long)]
    pub shard: Option<String>,

    /// Configuration of the bundled mock (when no target is given).
    #[arg(long)]
    pub mock_config: Option<PathBuf>,

    /// Leave chats that iterations left open instead of closing them at the end.
    #[arg(long)]
    pub no_cleanup: bool,

    /// Time limit of the end-of-run clean-up, e.g. 30s (default: the scenario's
    /// `cleanup_timeout`, else `load.graceful_stop`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub cleanup_timeout: Option<Duration>,

    /// A threshold the run must meet, e.g. "create_chat.p99 < 300ms" (repeatable; adds to the scenario's).
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,

    /// Also write a JUnit XML report (one test case per threshold, step and route schema check).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Also write per-step statistics as CSV.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,

    /// Also write a self-contained HTML report with charts.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Check responses against the OpenAPI schemas: all, off, or sample=RATIO (e.g. sample=0.1).
    #[arg(long, default_value = "all")]
    pub schema: String,

    /// No progress display, nor its status lines after the load (closing chats,
    /// logging agents out, webhooks.settle); warnings and errors still print.
    #[arg(long, short)]
    pub quiet: bool,

    /// Log each failing exchange as it happens (step, check, method, path, status, request
    /// headers with credentials masked, response body excerpt) on stderr; also on with
    /// CHATLOAD_LOG=debug.
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct ConformArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub tls: TlsClientArgs,

    /// The room chats are opened in.
    #[arg(long, default_value_t = 1)]
    pub room: u64,

    /// Webhook target to register [default: a receiver chatload starts on 127.0.0.1]. It must answer the X-Hook-Secret handshake; set it when the instance cannot reach this machine.
    #[arg(long, value_name = "URL")]
    pub hook_url: Option<String>,

    /// Where to write the JSON result [default: reports/conform-<timestamp>.json].
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Also write JUnit XML: one test case per check, plus route and status coverage.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Seed of the generated request bodies [default: 42] (printed in the report; the same seed sends the same bodies).
    #[arg(long)]
    pub seed: Option<u64>,

    /// Generated bodies per operation and class (invalid, boundary-valid) [default: 5]; raise it for a deeper run.
    #[arg(long)]
    pub cases: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A JSON report written by `chatload run` or `chatload merge`.
    pub report: PathBuf,

    /// Write a self-contained HTML report.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Write per-step statistics as CSV.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Reports to merge (same scenario).
    #[arg(required = true, num_args = 2..)]
    pub reports: Vec<PathBuf>,

    /// The merged report.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline report.
    pub base: PathBuf,

    /// The report to judge.
    pub new: PathBuf,

    /// A regression rule, e.g. "p99 > +10%", "p50 > +5ms", "create_chat.p99 > +20%",
    /// "route(POST /chats).p95 > +10%", "iteration[chat].p99 > +20%", "p99_corrected > +10%"
    /// (the corrected latency of open-model runs), or "errors > +1%" (an
    /// error rate grew by more than 1 percentage point) (repeatable). With a rule given, a new
    /// run that failed its own verdict, or a run that measured nothing, fails the comparison.
    #[arg(long = "fail-if", value_name = "RULE")]
    pub fail_if: Vec<String>,

    /// Changes smaller than this never count as regressions.
    #[arg(long, default_value = "1ms", value_parser = humantime::parse_duration)]
    pub noise_floor: Duration,

    /// Also write the comparison as HTML.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files to check.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MockArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,

    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,

    /// Mock configuration file (YAML); without it, the documented default world.
    #[arg(long)]
    pub config: Option<PathBuf>,

    /// Seed for the mock's randomness.
    #[arg(long)]
    pub seed: Option<u64>,

    /// Per-app rate limit, RPS[:BURST] (e.g. 50:10): requests beyond it get
    /// 429 with `Retry-After` (overrides the config's `rate_limit`).
    #[arg(long, value_name = "RPS[:BURST]", value_parser = chatload_mock::RateLimitConfig::parse)]
    pub rate_limit: Option<chatload_mock::RateLimitConfig>,

    #[command(flatten)]
    pub tls: chatload_mock::tls::TlsArgs,

    #[command(flatten)]
    pub caps: chatload_mock::caps::CapArgs,
}

/// `--duration`: a positive duration within the scenario limits.
fn parse_run_duration(text: &str) -> Result<Duration, String> {
    match crate::scenario::limits::parse_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(format!(
            "the run length must be a positive duration like 30s, not `{text}`"
        )),
        Err(_) if text.trim().starts_with('-') => Err(format!(
            "the run length must be a positive duration like 30s, not `{text}`"
        )),
        Err(e) => Err(e),
    }
}

/// A whole number typed on the command line, in the scenario limits.
fn parse_whole(text: &str, what: &str, max: u64) -> Result<u64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number: {what} is a whole number like 10"))?;
    crate::scenario::limits::whole(value, what, 1, max)
}

fn parse_vus(text: &str) -> Result<u32, String> {
    parse_whole(text, "--vus", crate::scenario::limits::MAX_VUS).map(|n| n as u32)
}

fn parse_iterations(text: &str) -> Result<u64, String> {
    parse_whole(
        text,
        "--iterations",
        crate::scenario::limits::MAX_ITERATIONS,
    )
}

fn parse_connection(text: &str) -> Result<String, String> {
    crate::client::ConnPolicy::parse(text, None).map(|p| p.name().to_owned())
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let value: f64 = text.trim().parse().map_err(|_| {
        format!("`{text}` is not a number: --rate is iterations per second, like 50")
    })?;
    // 0 is refused here although a stage's target may be 0, so the message
    // says the range `--rate` really takes.
    if crate::scenario::limits::rate(value, "--rate").is_err() || value == 0.0 {
        return Err(format!(
            "--rate must be more than 0 and at most 1,000,000 iterations per second, not {text}"
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent_and_documents_exit_codes() {
        Cli::command().debug_assert();
        let help = Cli::command().render_long_help().to_string();
        assert!(
            help.contains("Exit codes:") && help.contains("130"),
            "{help}"
        );
    }

    #[test]
    fn target_and_region_conflict() {
        let r = Cli::try_parse_from([
            "chatload",
            "run",
            "s.yaml",
            "--target",
            "http://x/v1",
            "--region",
            "eu",
        ]);
        assert!(r.is_err());
        let ok = Cli::try_parse_from([
            "chatload",
            "run",
            "s.yaml",
            "--region",
            "us",
            "--vus",
            "5",
            "--duration",
            "10s",
        ])
        .unwrap();
        let Command::Run(args) = ok.command else {
            panic!("run")
        };
        assert_eq!(args.vus, Some(5));
        assert_eq!(args.target.region.as_deref(), Some("us"));
        assert_eq!(args.duration, Some(Duration::from_secs(10)));
    }

    #[test]
    fn a_rate_out_of_range_says_the_range_rate_takes() {
        for text in ["0", "1000001", "-5"] {
            let err = parse_rate(text).unwrap_err();
            assert_eq!(
                err,
                format!(
                    "--rate must be more than 0 and at most 1,000,000 iterations per second, not {text}"
                )
            );
        }
        assert_eq!(parse_rate("1000000"), Ok(1_000_000.0));
        assert_eq!(parse_rate("0.5"), Ok(0.5));
    }
}
