//! Think times: a fixed duration or a uniform, normal or lognormal
//! distribution (steps' `think:` and the agents' delays).

use serde_saphyr::Spanned;

use super::Validator;
use crate::scenario::Think;
use crate::scenario::raw::{DurationText, RawThink};

pub(in crate::scenario) fn validate_think(
    v: &mut Validator<'_>,
    raw: &Spanned<RawThink>,
    path: &str,
) -> Option<Think> {
    let at = raw.referenced;
    match &raw.value {
        RawThink::Fixed(d) => v.duration(d, &at, path).map(Think::Fixed),
        RawThink::Distribution(dist) => {
            let need = |v: &mut Validator<'_>, value: &Option<DurationText>, name: &str| match value
            {
                Some(d) => v.duration(d, &at, path),
                None => {
                    v.problem(
                        &at,
                        path,
                        format!("`{}` distribution needs `{name}`", dist.dist),
                    );
                    None
                }
            };
            match dist.dist.as_str() {
                "uniform" => {
                    let min = need(v, &dist.min, "min");
                    let max = need(v, &dist.max, "max");
                    let (min, max) = (min?, max?);
                    if min > max {
                        v.problem(
                            &at,
                            path,
                            format!(
                                "uniform think time has min {} > max {}: min must not exceed max",
                                humantime::format_duration(min),
                                humantime::format_duration(max)
                            ),
                        );
                        return None;
                    }
                    Some(Think::Uniform { min, max })
                }
                "normal" => Some(Think::Normal {
                    mean: need(v, &dist.mean, "mean")?,
                    stddev: need(v, &dist.stddev, "stddev")?,
                }),
                "lognormal" => {
                    let median = need(v, &dist.median, "median")?;
                    let sigma = dist.sigma.unwrap_or(0.5);
                    if !(sigma.is_finite() && (0.0..=10.0).contains(&sigma)) {
                        v.problem(
                            &at,
                            path,
                            format!("lognormal sigma must be from 0 to 10, not {sigma}"),
                        );
                        return None;
                    }
                    Some(Think::LogNormal { median, sigma })
                }
                other => {
                    v.problem(
                        &at,
                        path,
                        format!(
                            "unknown distribution `{other}`: expected uniform, normal or lognormal"
                        ),
                    );
                    None
                }
            }
        }
    }
}
