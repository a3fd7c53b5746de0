//! The small commands: validate, report, merge, compare and the standalone mock.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};

use super::outputs::{
    Kind, check_renderings, check_writable_paths, file_identity, refuse_same_file, write_file,
};
use super::{
    AppError, Exit, read_report, rejudge, run_failed, shutdown_signal, usage, verdict_exit,
};
use crate::cli::{CompareArgs, MergeArgs, MockArgs, ReportArgs, ValidateArgs};
use crate::{report, scenario};

pub(super) fn validate(args: &ValidateArgs) -> Result<Exit, AppError> {
    let mut failed = Vec::new();
    for path in &args.scenarios {
        match scenario::load_file(path) {
            Ok(s) => {
                for warning in threshold_warnings(&s, path, s.thresholds.len()) {
                    crate::errln!("{warning}");
                }
                let steps: usize = s.flows.iter().map(|f| f.steps.len()).sum();
                crate::outln!(
                    "{}: ok ({} flow(s), {steps} step(s))",
                    path.display(),
                    s.flows.len()
                );
            }
            Err(e) => failed.push(format!("{}: {e}", path.display())),
        }
    }
    if failed.is_empty() {
        Ok(Exit::Passed)
    } else {
        Err(usage(anyhow!(failed.join("\n"))))
    }
}

/// A warning for each threshold that is valid but judges less than it seems,
/// saying where it was written: `path:line:column: thresholds[i]` for the
/// first `from_file`, `--threshold` after them. A `_corrected` threshold of a
/// closed-model scenario (see [`scenario::Scenario::corrected_in_closed_model`])
/// can only restate the raw one; a limit every value meets (or none does,
/// see [`scenario::threshold::Threshold::foregone`]) judges nothing.
pub(super) fn threshold_warnings(
    s: &scenario::Scenario,
    path: &std::path::Path,
    from_file: usize,
) -> Vec<String> {
    let at = |index: usize| match s.threshold_positions.get(index) {
        Some((line, column)) if index < from_file => {
            format!("{}:{line}:{column}: thresholds[{index}]", path.display())
        }
        _ if index < from_file => format!("{}: thresholds[{index}]", path.display()),
        _ => "--threshold".to_owned(),
    };
    let corrected = s.corrected_in_closed_model().into_iter().map(|(index, t)| {
        format!(
            "warning: {}: `{t}` is on the coordinated-omission corrected latency, which in \
             the closed model equals the raw latency (a virtual user sends when it is ready: \
             there is no schedule to be late against; a request in flight while the target \
             stalls shows its long wait in both, but the requests the virtual users would \
             have sent during the stall are never sent, and neither counts them); it can only \
             restate the raw threshold. Run the open model (`arrival_rate`, `--rate`), which \
             measures those from their scheduled start, for a corrected latency, or write \
             the raw metric.",
            at(index)
        )
    });
    let foregone = s.thresholds.iter().enumerate().filter_map(|(index, t)| {
        let outcome = if t.foregone()? {
            "can never fail: every value the metric can take meets it"
        } else {
            "can never pass: no value the metric can take meets it"
        };
        Some(format!(
            "warning: {}: `{t}` {outcome} (every metric is 0 or more, a rate at most 100%), \
             so it judges nothing; write the limit you mean (e.g. `errors.rate < 1%`).",
            at(index)
        ))
    });
    corrected.chain(foregone).collect()
}

/// Re-renders a saved report and judges it again the way the run did (same
/// function, same stored thresholds, same data), exiting with the same code.
pub(super) fn rerender(args: &ReportArgs) -> Result<Exit, AppError> {
    let mut report = read_report(&args.report)?;
    let outputs = check_renderings(
        ("the report to render", &args.report),
        &[
            (Kind::Html, args.html.as_deref()),
            (Kind::Csv, args.csv.as_deref()),
        ],
    )?;
    let verdict = rejudge(&mut report)?;
    let color = std::io::IsTerminal::is_terminal(&std::io::stdout());
    crate::outln!("{}", report::terminal::render(&report, color));
    let delivered = outputs.deliver(|kind| match kind {
        Kind::Csv => Ok(report::csv_export::render(&report)?),
        Kind::Html | Kind::Json | Kind::Junit => Ok(report::html::render(&report)?),
    });
    delivered.print_renderings();
    crate::redact::print(&report::terminal::render_verdict(&verdict, color));
    delivered.exit(verdict_exit(&verdict))
}

pub(super) fn merge_reports(args: &MergeArgs) -> Result<Exit, AppError> {
    check_out_is_no_input(&args.out, &args.reports)?;
    let reports = args
        .reports
        .iter()
        .map(|p| read_report(p))
        .collect::<Result<Vec<_>, _>>()?;
    check_writable_paths([args.out.as_path()])?;
    let names: Vec<String> = args
        .reports
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut merged = report::merge::merge(&reports, &names).map_err(usage)?;
    if let Some(apart) = report::format::describe_apart(&merged.meta) {
        crate::errln!("warning: {apart}");
    }
    if let Some(versions) = report::format::describe_versions(&merged.meta) {
        crate::errln!("warning: {versions}");
    }
    let verdict = rejudge(&mut merged)?;
    // Printed first: an -o that cannot be written now loses no figure.
    let color = std::io::IsTerminal::is_terminal(&std::io::stdout());
    crate::outln!("{}", report::terminal::render(&merged, color));
    crate::redact::print(&report::terminal::render_verdict(&verdict, color));
    write_file(
        "the merged report",
        &args.out,
        &report::json::render(&merged).map_err(run_failed)?,
    )?;
    crate::outln!(
        "merged {} reports into {}",
        reports.len(),
        args.out.display()
    );
    Ok(verdict_exit(&verdict))
}

/// `-o` naming one of the reports to merge (the same file however spelled,
/// [`file_identity`]) would replace that report, a shard's own data, with the
/// merged one: a usage error before any work.
fn check_out_is_no_input(out: &Path, inputs: &[PathBuf]) -> Result<(), AppError> {
    let target = file_identity(out);
    match inputs.iter().find(|input| file_identity(input) == target) {
        Some(input) => Err(usage(anyhow!(
            "-o {} is {}, one of the reports to merge: writing the merged report there \
             would replace it; write it to another file",
            out.display(),
            input.display()
        ))),
        None => Ok(()),
    }
}

pub(super) fn compare_reports(args: &CompareArgs) -> Result<Exit, AppError> {
    let rules = args
        .fail_if
        .iter()
        .map(|r| report::compare::Rule::parse(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| usage(anyhow!(e)))?;
    let (base, new) = (read_report(&args.base)?, read_report(&args.new)?);
    if let Some(html) = &args.html {
        let inputs = [
            ("the base report", args.base.as_path()),
            ("the new report", args.new.as_path()),
        ];
        refuse_same_file(&[("--html", html)], &inputs)?;
    }
    check_writable_paths(args.html.as_deref())?;
    report::compare::check_rules(&rules, &base, &new).map_err(|e| usage(anyhow!(e)))?;
    let noise = u64::try_from(args.noise_floor.as_micros()).unwrap_or(u64::MAX);
    let runs = (
        crate::verdict::run_outcome(&base),
        crate::verdict::run_outcome(&new),
    );
    let comparison = report::compare::compare(&base, &new, runs, &rules, noise);
    crate::redact::print(&report::compare::render_terminal(&comparison));
    if let Some(path) = &args.html {
        let html = report::compare::render_html(&comparison);
        write_file("the HTML comparison", path, html.as_bytes())?;
        crate::outln!("html: {}", path.display());
    }
    Ok(if comparison.failed() {
        Exit::Failed
    } else {
        Exit::Passed
    })
}

pub(super) async fn serve_mock(args: MockArgs) -> Result<Exit, AppError> {
    let mut config = match &args.config {
        Some(path) => chatload_mock::MockConfig::from_yaml_file(path).map_err(usage)?,
        None => chatload_mock::MockConfig::default(),
    };
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if let Some(limit) = args.rate_limit {
        config.rate_limit = Some(limit);
    }
    args.tls.apply(&mut config.tls);
    args.caps.apply(&mut config);
    config.validate_caps().map_err(|e| usage(anyhow!("{e}")))?;
    // Before binding and announcing: bad TLS material is a usage error.
    let tls = chatload_mock::load_tls(&config).map_err(usage)?;
    let addr = std::net::SocketAddr::new(args.bind, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
        .map_err(run_failed)?;
    let local = listener.local_addr().map_err(run_failed)?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    crate::errln!(
        "chatload mock listening on {scheme}://{local}/v1 (admin: {scheme}://{local}/__mock); Ctrl-C stops it"
    );
    if let Some(path) = config.tls.as_ref().and_then(|t| t.ca_out.as_ref()) {
        crate::errln!(
            "its CA certificate goes to {}: chatload run --ca-cert {} --target {scheme}://localhost:{}/v1 ...",
            path.display(),
            path.display(),
            local.port()
        );
    }
    chatload_mock::serve_with_tls(listener, config, tls, shutdown_signal())
        .await
        .map_err(run_failed)?;
    Ok(Exit::Passed)
}
