//! The config layer between the command line and the run (ripgrep's low → high arguments):
//! `chatload run`'s flags applied to the loaded scenario, giving the [`RunConfig`] the pipeline
//! runs.
//!
//! Precedence: the scenario file, then the command line (`--vus`, `--rate`, `--duration`,
//! `--iterations`, `--no-cleanup`, `--threshold`, `--seed`, `--shard`, `--schema`,
//! `--connection`). Every
//! problem here is a usage error: nothing has run yet. Reads the scenario file and the clock
//! (for a seed nobody gave), nothing else; knows nothing of targets, HTTP or reports.

use std::time::SystemTime;

use crate::cli::RunArgs;
use crate::plan::Shard;
use crate::scenario::validate::DEFAULT_MAX_VUS;
use crate::scenario::{self, Scenario, ScenarioError, Stage, Workload};
use crate::schema::SchemaMode;

/// Why the command line and the scenario do not make a run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The scenario file does not load or validate.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The load overrides leave no bounded, valid load.
    #[error("{0}")]
    Load(String),
    /// A `--threshold` does not parse against the scenario.
    #[error("--threshold {0}")]
    Threshold(String),
    /// `--shard` is not `K/N`.
    #[error("{0}")]
    Shard(String),
    /// `--schema` is not `all`, `off` or `sample=RATIO`.
    #[error("{0}")]
    Schema(String),
    /// `--connection` / `--vus-per-connection` do not make a policy.
    #[error("{0}")]
    Connection(String),
}

/// A run's settings: the scenario with the command line applied, and the run-wide choices
/// made from both.
#[derive(Debug)]
pub struct RunConfig {
    /// The scenario with the load overrides, `--no-cleanup` and `--threshold` applied.
    pub scenario: Scenario,
    /// The part of the load this process runs (`--shard`); the whole load by default.
    pub shard: Shard,
    /// `--seed`, else the scenario's `seed`, else one from the clock.
    pub seed: u64,
    /// How many responses to check against the API's schemas (`--schema`).
    pub schema_mode: SchemaMode,
}

impl RunConfig {
    /// Loads `args.scenario` and applies the command line to it.
    ///
    /// # Errors
    /// The scenario does not load, or a flag does not fit it (see [`RunConfig::apply`]).
    pub fn from_args(args: &RunArgs) -> Result<RunConfig, ConfigError> {
        let scenario = scenario::load_file(&args.scenario)?;
        RunConfig::apply(scenario, args)
    }

    /// Applies the command line to a loaded scenario.
    ///
    /// # Errors
    /// Load overrides that leave no bounded plan, a `--threshold` that does not parse against
    /// the scenario, a malformed `--shard` or `--schema`.
    pub fn apply(mut scenario: Scenario, args: &RunArgs) -> Result<RunConfig, ConfigError> {
        scenario.load = apply_overrides(&scenario.load, args).map_err(ConfigError::Load)?;
        if args.no_cleanup {
            scenario.cleanup = false;
        }
        if args.cleanup_timeout.is_some() {
            scenario.cleanup_timeout = args.cleanup_timeout;
        }
        scenario.target.connection = connection_override(scenario.target.connection, args)
            .map_err(ConfigError::Connection)?;
        for expr in &args.thresholds {
            let threshold = scenario
                .parse_threshold(expr, false)
                .map_err(ConfigError::Threshold)?;
            scenario.thresholds.push(threshold);
        }
        let shard = match &args.shard {
            Some(text) => Shard::parse(text).map_err(ConfigError::Shard)?,
            None => Shard::WHOLE,
        };
        if let Some(why) = shard.refuses(&scenario.load) {
            return Err(ConfigError::Shard(why));
        }
        let seed = args.seed.or(scenario.seed).unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(42, |d| d.as_nanos() as u64)
        });
        let schema_mode = SchemaMode::parse(&args.schema).map_err(ConfigError::Schema)?;
        Ok(RunConfig {
            scenario,
            shard,
            seed,
            schema_mode,
        })
    }
}

/// `--connection` and `--vus-per-connection` over the scenario's policy.
///
/// # Errors
/// `--vus-per-connection` without the `http2` policy, or 0.
fn connection_override(
    policy: scenario::ConnPolicy,
    args: &RunArgs,
) -> Result<scenario::ConnPolicy, String> {
    let word = args.connection.as_deref().unwrap_or(policy.name());
    let per = args.vus_per_connection.or(policy.vus_per_connection());
    let chosen = scenario::ConnPolicy::parse(word, per)?;
    match args.vus_per_connection {
        Some(0) => Err("--vus-per-connection: expected at least 1".to_owned()),
        Some(_) if chosen.vus_per_connection().is_none() => {
            Err("--vus-per-connection goes with the http2 connection policy only".to_owned())
        }
        _ => Ok(chosen),
    }
}

/// Applies `--vus`, `--rate`, `--duration`, `--iterations` to the scenario's workload.
///
/// `--rate` turns a closed load into an open one; `--vus`, `--rate` or `--duration` make the
/// load constant (at the stages' peak unless given); `--iterations` alone only sets the closed
/// model's iteration count.
///
/// # Errors
/// A rate that is not a positive number, overrides that leave no bounded plan, `--iterations`
/// with the open model.
pub fn apply_overrides(load: &Workload, args: &RunArgs) -> Result<Workload, String> {
    if let Some(rate) = args.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err("--rate must be a positive number of iterations per second".to_owned());
    }
    let constant = args.vus.is_some() || args.rate.is_some() || args.duration.is_some();
    let out = match (args.rate, load) {
        (
            Some(rate),
            Workload::Closed {
                vus,
                duration,
                stages,
                graceful_stop,
                ..
            },
        ) => Workload::Open {
            rate_per_sec: rate,
            duration: args
                .duration
                .or(*duration)
                .or_else(|| load.planned_duration()),
            stages: Vec::new(),
            max_vus: args
                .vus
                .unwrap_or_else(|| (peak(f64::from(*vus), stages) as u32).max(DEFAULT_MAX_VUS)),
            backlog: args.vus.unwrap_or(DEFAULT_MAX_VUS),
            graceful_stop: *graceful_stop,
        },
        _ if constant => held_constant(load, args),
        _ => {
            let mut out = load.clone();
            if let (Some(n), Workload::Closed { iterations, .. }) = (args.iterations, &mut out) {
                *iterations = Some(n);
            }
            out
        }
    };
    check_bounded(out, args)
}

/// The highest of `level` and every stage's target.
fn peak(level: f64, stages: &[Stage]) -> f64 {
    stages.iter().map(|s| s.target).fold(level, f64::max)
}

/// `--vus`, `--rate` or `--duration` without a model change: the load held constant, at the
/// given level or the stages' peak, for the given time or the planned one.
fn held_constant(load: &Workload, args: &RunArgs) -> Workload {
    let planned = load.planned_duration();
    let mut out = load.clone();
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
            ..
        } => {
            *rate_per_sec = args.rate.unwrap_or_else(|| peak(*rate_per_sec, stages));
            *duration = args.duration.or(*duration).or(planned);
            stages.clear();
        }
    }
    if let (
        Some(v),
        Workload::Open {
            max_vus, backlog, ..
        },
    ) = (args.vus, &mut out)
    {
        // The backlog follows max_vus (its default) unless the scenario set
        // one of its own, which stays.
        if *backlog == *max_vus {
            *backlog = v;
        }
        *max_vus = v;
    }
    out
}

/// `--iterations` given for an open load.
const ITERATIONS_ON_OPEN: &str = "--iterations belongs to the closed model, and this load is open (arrival_rate or --rate): bound it with --duration instead";

/// The load as overridden, if it still ends and fits its model.
fn check_bounded(out: Workload, args: &RunArgs) -> Result<Workload, String> {
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
        Workload::Open { .. } if args.iterations.is_some() => Err(ITERATIONS_ON_OPEN.to_owned()),
        _ => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    /// `chatload run scenario.yaml FLAGS...` as parsed by the real command line.
    fn run_args(flags: &[&str]) -> RunArgs {
        let argv = ["chatload", "run", "scenario.yaml"].iter().chain(flags);
        match Cli::try_parse_from(argv).expect("flags parse").command {
            Command::Run(args) => *args,
            _ => unreachable!("a run command line"),
        }
    }

    fn scenario(load: &str) -> Scenario {
        let yaml = format!(
            "name: config test\nload:\n{load}\nsteps:\n  - name: list\n    \
             request: {{method: GET, path: /apps}}\n"
        );
        scenario::load_str(&yaml, "test.yaml", Path::new(".")).expect("scenario loads")
    }

    fn closed_ramp() -> Workload {
        Workload::Closed {
            vus: 2,
            duration: None,
            iterations: Some(10),
            stages: vec![
                Stage {
                    duration: Duration::from_secs(10),
                    target: 8.0,
                },
                Stage {
                    duration: Duration::from_secs(5),
                    target: 0.0,
                },
            ],
            graceful_stop: Duration::from_secs(3),
        }
    }

    /// [`closed_ramp`] with the command line's `flags` applied.
    fn ramp_with(flags: &[&str]) -> Result<Workload, String> {
        apply_overrides(&closed_ramp(), &run_args(flags))
    }

    #[test]
    fn rate_turns_a_closed_load_into_an_open_one_as_long_as_planned() {
        let out = ramp_with(&["--rate", "20"]).unwrap();
        assert_eq!(
            out,
            Workload::Open {
                rate_per_sec: 20.0,
                duration: Some(Duration::from_secs(15)),
                stages: Vec::new(),
                max_vus: DEFAULT_MAX_VUS,
                backlog: DEFAULT_MAX_VUS,
                graceful_stop: Duration::from_secs(3),
            }
        );
        let capped = ramp_with(&["--rate", "20", "--vus", "7"]);
        assert!(matches!(
            capped,
            Ok(Workload::Open {
                max_vus: 7,
                backlog: 7,
                ..
            })
        ));
    }

    #[test]
    fn vus_on_an_open_load_sets_max_vus_and_keeps_a_backlog_the_scenario_set() {
        let open = |backlog: u32| Workload::Open {
            rate_per_sec: 20.0,
            duration: Some(Duration::from_secs(2)),
            stages: Vec::new(),
            max_vus: 10,
            backlog,
            graceful_stop: Duration::from_secs(1),
        };
        let args = run_args(&["--vus", "3"]);
        // `backlog: 5` written in the scenario stays 5.
        let out = apply_overrides(&open(5), &args).unwrap();
        assert!(
            matches!(
                out,
                Workload::Open {
                    max_vus: 3,
                    backlog: 5,
                    ..
                }
            ),
            "{out:?}"
        );
        // A backlog that followed max_vus (the default) follows it to 3.
        let out = apply_overrides(&open(10), &args).unwrap();
        assert!(
            matches!(
                out,
                Workload::Open {
                    max_vus: 3,
                    backlog: 3,
                    ..
                }
            ),
            "{out:?}"
        );
    }

    #[test]
    fn duration_holds_the_stages_peak_and_lifts_the_iteration_count() {
        let out = ramp_with(&["--duration", "30s"]).unwrap();
        assert_eq!(
            out,
            Workload::Closed {
                vus: 8,
                duration: Some(Duration::from_secs(30)),
                iterations: None,
                stages: Vec::new(),
                graceful_stop: Duration::from_secs(3),
            }
        );
    }

    #[test]
    fn iterations_alone_only_set_the_count() {
        let out = ramp_with(&["--iterations", "4"]).unwrap();
        let Workload::Closed {
            iterations, stages, ..
        } = out
        else {
            panic!("still closed: {out:?}");
        };
        assert_eq!((iterations, stages.len()), (Some(4), 2));
    }

    #[test]
    fn overrides_that_leave_no_bounded_load_are_refused() {
        let open = ramp_with(&["--rate", "5"]).unwrap();
        assert_eq!(
            apply_overrides(&open, &run_args(&["--iterations", "3"])),
            Err("--iterations belongs to the closed model, and this load is open (arrival_rate or --rate): bound it with --duration instead".to_owned())
        );
        let endless = Workload::Closed {
            vus: 1,
            duration: None,
            iterations: None,
            stages: Vec::new(),
            graceful_stop: Duration::ZERO,
        };
        assert_eq!(
            apply_overrides(&endless, &run_args(&["--vus", "3"])),
            Err("the load has no end: give --duration or --iterations".to_owned())
        );
        // The command line already refuses it; a config built in code must too.
        let mut zero_rate = run_args(&[]);
        zero_rate.rate = Some(0.0);
        assert_eq!(
            apply_overrides(&closed_ramp(), &zero_rate),
            Err("--rate must be a positive number of iterations per second".to_owned())
        );
    }

    #[test]
    fn the_command_line_wins_over_the_scenario() {
        let loaded = scenario("  vus: 2\n  iterations: 3\nseed: 9\ncleanup: true");
        let args = run_args(&[
            "--vus",
            "4",
            "--seed",
            "7",
            "--no-cleanup",
            "--threshold",
            "schema_violations == 0",
            "--shard",
            "2/3",
            "--schema",
            "off",
        ]);
        let config = RunConfig::apply(loaded, &args).unwrap();
        assert!(matches!(
            config.scenario.load,
            Workload::Closed {
                vus: 4,
                iterations: Some(3),
                ..
            }
        ));
        assert_eq!(config.seed, 7);
        assert!(!config.scenario.cleanup);
        assert_eq!(config.scenario.thresholds.len(), 1);
        assert_eq!(config.shard, Shard { index: 1, count: 3 });
        assert_eq!(config.schema_mode, SchemaMode::Off);
    }

    #[test]
    fn a_flag_that_does_not_fit_is_a_config_error_saying_which() {
        let loaded = || scenario("  vus: 1\n  iterations: 1");
        let bad_threshold = RunConfig::apply(loaded(), &run_args(&["--threshold", "nope < 1"]));
        let message = bad_threshold.unwrap_err().to_string();
        assert!(message.starts_with("--threshold "), "{message}");
        let bad_shard = RunConfig::apply(loaded(), &run_args(&["--shard", "4/3"]));
        assert!(matches!(bad_shard, Err(ConfigError::Shard(_))));
        let bad_schema = RunConfig::apply(loaded(), &run_args(&["--schema", "some"]));
        assert!(matches!(bad_schema, Err(ConfigError::Schema(_))));
    }
}
