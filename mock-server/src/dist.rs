//! Delay distributions (fixed, uniform, normal, log-normal) in milliseconds.
//!
//! Used for injected route latency (`fault`) and for simulated agents'
//! accept and think times (`sim`). Sampling takes the caller's RNG, which is
//! always derived from the one configured seed, so runs replay.

use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Upper bound of any delay or duration in the configuration and the admin
/// API (10 minutes): larger values are rejected (400 from the admin API), so
/// a typo or a fuzzer cannot hang every request.
pub const MAX_DELAY_MS: u64 = 600_000;

/// Checks a duration in milliseconds against [`MAX_DELAY_MS`].
///
/// # Errors
/// The message names `key` and the bound.
pub fn check_ms(key: &str, ms: u64) -> Result<(), String> {
    if ms > MAX_DELAY_MS {
        return Err(format!("{key} must be at most {MAX_DELAY_MS} ms"));
    }
    Ok(())
}

/// A delay distribution in milliseconds; YAML/JSON tag `dist`.
///
/// ```yaml
/// {dist: fixed, ms: 50}
/// {dist: uniform, min_ms: 20, max_ms: 80}
/// {dist: normal, mean_ms: 100, std_dev_ms: 20}
/// {dist: lognormal, mean_ms: 100, std_dev_ms: 50}
/// ```
///
/// `lognormal` is given by the mean and standard deviation of the delay
/// itself (not of its logarithm). Parameters above 600 000 ms are invalid;
/// negative samples are clamped to 0, and every sample to at most 600 000 ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum Dist {
    /// Always `ms`.
    Fixed {
        /// The delay.
        ms: f64,
    },
    /// Uniform in `[min_ms, max_ms]`.
    Uniform {
        /// Lower bound.
        min_ms: f64,
        /// Upper bound.
        max_ms: f64,
    },
    /// Normal with this mean and standard deviation.
    Normal {
        /// Mean.
        mean_ms: f64,
        /// Standard deviation.
        std_dev_ms: f64,
    },
    /// Log-normal whose samples have this mean and standard deviation.
    Lognormal {
        /// Mean of the samples.
        mean_ms: f64,
        /// Standard deviation of the samples.
        std_dev_ms: f64,
    },
}

impl Dist {
    /// Checks the parameters; the message names the problem.
    ///
    /// # Errors
    ///
    /// Returns a message when a parameter is negative, not finite, or the
    /// bounds are reversed.
    pub fn validate(&self) -> Result<(), String> {
        let all = match *self {
            Dist::Fixed { ms } => vec![ms],
            Dist::Uniform { min_ms, max_ms } => {
                if min_ms > max_ms {
                    return Err(format!("uniform: min_ms {min_ms} > max_ms {max_ms}"));
                }
                vec![min_ms, max_ms]
            }
            Dist::Normal {
                mean_ms,
                std_dev_ms,
            }
            | Dist::Lognormal {
                mean_ms,
                std_dev_ms,
            } => vec![mean_ms, std_dev_ms],
        };
        if all.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err("delay parameters must be finite and >= 0".to_owned());
        }
        if all.iter().any(|v| *v > MAX_DELAY_MS as f64) {
            return Err(format!(
                "delay parameters must be at most {MAX_DELAY_MS} ms"
            ));
        }
        if let Dist::Lognormal { mean_ms, .. } = *self
            && mean_ms <= 0.0
        {
            return Err("lognormal: mean_ms must be > 0".to_owned());
        }
        Ok(())
    }

    /// Mean of the distribution in milliseconds.
    pub fn mean_ms(&self) -> f64 {
        match *self {
            Dist::Fixed { ms } => ms,
            Dist::Uniform { min_ms, max_ms } => (min_ms + max_ms) / 2.0,
            Dist::Normal { mean_ms, .. } | Dist::Lognormal { mean_ms, .. } => mean_ms,
        }
    }

    /// Draws one delay.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        let ms = match *self {
            Dist::Fixed { ms } => ms,
            Dist::Uniform { min_ms, max_ms } => {
                if max_ms > min_ms {
                    rng.random_range(min_ms..=max_ms)
                } else {
                    min_ms
                }
            }
            Dist::Normal {
                mean_ms,
                std_dev_ms,
            } => Normal::new(mean_ms, std_dev_ms).map_or(mean_ms, |d| d.sample(rng)),
            Dist::Lognormal {
                mean_ms,
                std_dev_ms,
            } => {
                // Convert the samples' mean/sd into the log-space mu/sigma.
                let variance_ratio = 1.0 + (std_dev_ms * std_dev_ms) / (mean_ms * mean_ms);
                let sigma = variance_ratio.ln().sqrt();
                let mu = mean_ms.ln() - sigma * sigma / 2.0;
                LogNormal::new(mu, sigma).map_or(mean_ms, |d| d.sample(rng))
            }
        };
        let ms = if ms.is_finite() {
            ms.clamp(0.0, MAX_DELAY_MS as f64)
        } else {
            0.0
        };
        Duration::from_micros((ms * 1000.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn samples_stay_in_range_and_replay() {
        let dist = Dist::Uniform {
            min_ms: 20.0,
            max_ms: 80.0,
        };
        let mut a = StdRng::seed_from_u64(42);
        let mut b = StdRng::seed_from_u64(42);
        for _ in 0..100 {
            let x = dist.sample(&mut a);
            assert_eq!(x, dist.sample(&mut b));
            assert!(x >= Duration::from_millis(20) && x <= Duration::from_millis(80));
        }
    }

    #[test]
    fn lognormal_mean_is_close() {
        let dist = Dist::Lognormal {
            mean_ms: 100.0,
            std_dev_ms: 50.0,
        };
        let mut rng = StdRng::seed_from_u64(1);
        let total: f64 = (0..20_000)
            .map(|_| dist.sample(&mut rng).as_secs_f64() * 1000.0)
            .sum();
        let mean = total / 20_000.0;
        assert!((mean - 100.0).abs() < 5.0, "mean {mean}");
    }

    #[test]
    fn reversed_uniform_is_invalid() {
        let dist = Dist::Uniform {
            min_ms: 5.0,
            max_ms: 1.0,
        };
        assert!(dist.validate().is_err());
    }
}
