//! Think time between steps: fixed, or drawn from a distribution.

use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal};

/// A pause after a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Think {
    Fixed(Duration),
    Uniform { min: Duration, max: Duration },
    Normal { mean: Duration, stddev: Duration },
    LogNormal { median: Duration, sigma: f64 },
}

impl Think {
    /// Draws one pause; never negative, never above an hour.
    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        let secs = match self {
            Think::Fixed(d) => return *d,
            Think::Uniform { min, max } => {
                if max <= min {
                    return *min;
                }
                rng.random_range(min.as_secs_f64()..max.as_secs_f64())
            }
            Think::Normal { mean, stddev } => Normal::new(mean.as_secs_f64(), stddev.as_secs_f64())
                .map_or(mean.as_secs_f64(), |n| n.sample(rng)),
            Think::LogNormal { median, sigma } => {
                LogNormal::new(median.as_secs_f64().max(1e-9).ln(), *sigma)
                    .map_or(median.as_secs_f64(), |n| n.sample(rng))
            }
        };
        Duration::from_secs_f64(secs.clamp(0.0, 3600.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn samples_stay_in_range_and_centre_where_asked() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        let uniform = Think::Uniform {
            min: Duration::from_millis(100),
            max: Duration::from_millis(200),
        };
        for _ in 0..1000 {
            let d = uniform.sample(&mut rng);
            assert!(d >= Duration::from_millis(100) && d < Duration::from_millis(200));
        }
        let normal = Think::Normal {
            mean: Duration::from_millis(500),
            stddev: Duration::from_millis(50),
        };
        let mean: f64 = (0..4000)
            .map(|_| normal.sample(&mut rng).as_secs_f64())
            .sum::<f64>()
            / 4000.0;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        let lognormal = Think::LogNormal {
            median: Duration::from_millis(300),
            sigma: 0.5,
        };
        let mut xs: Vec<f64> = (0..4001)
            .map(|_| lognormal.sample(&mut rng).as_secs_f64())
            .collect();
        xs.sort_by(f64::total_cmp);
        assert!((xs[2000] - 0.3).abs() < 0.03, "median {}", xs[2000]);
        assert_eq!(
            Think::Fixed(Duration::from_secs(2)).sample(&mut rng),
            Duration::from_secs(2)
        );
    }
}
