//! Load plans as pure arithmetic: how many virtual users at time t (closed
//! model), when the i-th iteration should start (open model), and how a plan
//! is split into shards that together make the whole.
//!
//! No clocks and no tasks here, so the schedule is exact and unit-testable.

use std::time::Duration;

use crate::scenario::{Stage, Workload};

/// Which part of a split run this process executes: `index` of `count`, from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole run.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `K/N` (1-based K, as people count shards) into index K-1 of N.
    ///
    /// # Errors
    /// Anything but `K/N` with 1 <= K <= N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("invalid shard `{text}`: expected K/N with 1 <= K <= N, e.g. 2/4");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard {
            index: k - 1,
            count: n,
        })
    }

    /// This shard's part of `total` units: the remainder goes to the first shards.
    pub fn part_of(&self, total: u64) -> u64 {
        let n = u64::from(self.count);
        total / n + u64::from(u64::from(self.index) < total % n)
    }

    /// How many of `total` units the shards before this one take.
    pub fn offset_of(&self, total: u64) -> u64 {
        (0..self.index)
            .map(|i| {
                Shard {
                    index: i,
                    count: self.count,
                }
                .part_of(total)
            })
            .sum()
    }
}

impl Shard {
    /// Why this shard of a closed `workload` would be left with nothing to run (no virtual
    /// user at any time, or none of a fixed number of iterations), if it would: such a shard
    /// would wait for iterations no VU ever runs, so it is refused before the run.
    pub fn refuses(&self, workload: &Workload) -> Option<String> {
        let Workload::Closed {
            vus,
            iterations,
            stages,
            ..
        } = workload
        else {
            return self.refuses_open(workload);
        };
        let peak = stages
            .iter()
            .map(|s| s.target.round().max(0.0) as u64)
            .fold(u64::from(*vus), u64::max);
        let empty = |total: u64, what: &str| {
            (self.part_of(total) == 0).then(|| {
                format!(
                    "--shard {self}: {total} {what} split over {} shards leave this one none; \
                     use at most {total} shard(s), or raise the load",
                    self.count
                )
            })
        };
        empty(peak, "virtual user(s) at the peak")
            .or_else(|| iterations.and_then(|i| empty(i, "iteration(s)")))
    }
}

impl Shard {
    /// Why this shard of an open `workload` would be refused, if it would: left with no VU
    /// (its share of `max_vus` is 0; giving it one anyway would run more than `max_vus` at
    /// once over the shards) or no arrival (the schedule is fixed, so it would run nothing
    /// and fail for want of a request).
    fn refuses_open(&self, workload: &Workload) -> Option<String> {
        let Workload::Open {
            rate_per_sec,
            duration,
            stages,
            max_vus,
            ..
        } = workload
        else {
            return None;
        };
        let none = |total: u64, what: &str, raise: &str| {
            format!(
                "--shard {self}: {total} {what} split over {} shards leave this one none; \
                 use at most {total} shard(s), or raise {raise}",
                self.count
            )
        };
        if self.part_of(u64::from(*max_vus)) == 0 {
            return Some(none(u64::from(*max_vus), "VU(s) of max_vus", "max_vus"));
        }
        // Shard k takes arrivals k, k + N, ...: none when the plan has at most k.
        let ramp = Ramp::new(*rate_per_sec, stages, *duration);
        let index = u64::from(self.index);
        let exists = |i: u64| ramp.time_of(i as f64).is_some();
        if exists(index) {
            return None;
        }
        let arrivals = (0..index).take_while(|i| exists(*i)).count() as u64;
        Some(none(arrivals, "arrival(s)", "the rate or the duration"))
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

/// A piecewise-linear level over time (VUs, or arrivals per second).
#[derive(Debug, Clone, PartialEq)]
pub struct Ramp {
    start: f64,
    /// (length, level reached at its end)
    segments: Vec<(Duration, f64)>,
}

impl Ramp {
    /// A constant level for `duration` when there are no stages, else the stages from `start`.
    pub fn new(start: f64, stages: &[Stage], duration: Option<Duration>) -> Ramp {
        let segments = if stages.is_empty() {
            duration.map(|d| vec![(d, start)]).unwrap_or_default()
        } else {
            stages.iter().map(|s| (s.duration, s.target)).collect()
        };
        Ramp { start, segments }
    }

    /// Total length; `None` when unbounded (closed model run by iterations only).
    pub fn total(&self) -> Option<Duration> {
        (!self.segments.is_empty()).then(|| self.segments.iter().map(|(d, _)| *d).sum())
    }

    /// The level at `t` (the last level after the end).
    pub fn level_at(&self, t: Duration) -> f64 {
        let mut from = self.start;
        let mut elapsed = Duration::ZERO;
        for &(len, to) in &self.segments {
            if t < elapsed + len {
                let x = (t - elapsed).as_secs_f64() / len.as_secs_f64().max(f64::MIN_POSITIVE);
                return from + (to - from) * x;
            }
            elapsed += len;
            from = to;
        }
        from
    }

    /// When the cumulative integral of the level reaches `count`, or `None`
    /// if it never does within the plan. For a rate, arrival i starts at
    /// `time_of(i)`: exact for constant and linearly ramping rates.
    pub fn time_of(&self, count: f64) -> Option<Duration> {
        let mut from = self.start;
        let mut elapsed = 0.0;
        let mut done = 0.0;
        for &(len, to) in &self.segments {
            let d = len.as_secs_f64();
            let area = (from + to) / 2.0 * d;
            if count < done + area || (count == done && area > 0.0) {
                let need = count - done;
                let a = (to - from) / (2.0 * d);
                let x = if a.abs() < 1e-12 {
                    need / from
                } else {
                    (-from + (from * from + 4.0 * a * need).max(0.0).sqrt()) / (2.0 * a)
                };
                return Some(Duration::from_secs_f64(elapsed + x.clamp(0.0, d)));
            }
            elapsed += d;
            done += area;
            from = to;
        }
        None
    }
}

/// Closed model: the VU count over time.
#[derive(Debug, Clone)]
pub struct ClosedPlan {
    pub ramp: Ramp,
    /// Total iterations (all VUs together), when bounded.
    pub iterations: Option<u64>,
    /// VU numbers of this shard start after this one, so shards never share a number.
    pub vu_offset: u64,
}

impl ClosedPlan {
    /// VUs wanted at `t`, rounded to the nearest whole VU.
    pub fn vus_at(&self, t: Duration) -> u32 {
        self.ramp.level_at(t).round().max(0.0) as u32
    }

    /// The most VUs the plan ever asks for.
    pub fn peak_vus(&self) -> u32 {
        self.ramp
            .segments
            .iter()
            .map(|(_, l)| *l)
            .fold(self.ramp.start, f64::max)
            .round() as u32
    }
}

/// Open model: arrivals from a rate ramp; shard k takes every count-th arrival.
#[derive(Debug, Clone)]
pub struct OpenPlan {
    pub ramp: Ramp,
    pub max_vus: u32,
    pub backlog: u32,
    pub shard: Shard,
    /// VU numbers of this shard start after this one, so shards never share a number.
    pub vu_offset: u64,
}

impl OpenPlan {
    /// Start offset of this shard's n-th arrival (from 0), or `None` past the end.
    pub fn arrival(&self, n: u64) -> Option<Duration> {
        let global = n * u64::from(self.shard.count) + u64::from(self.shard.index);
        self.ramp.time_of(global as f64)
    }
}

/// A workload turned into a plan for one shard.
#[derive(Debug, Clone)]
pub enum LoadPlan {
    Closed(ClosedPlan),
    Open(OpenPlan),
}

impl LoadPlan {
    /// Builds the plan for `shard` of `workload`.
    pub fn new(workload: &Workload, shard: Shard) -> LoadPlan {
        match workload {
            Workload::Closed {
                vus,
                duration,
                iterations,
                stages,
                ..
            } => {
                let share = |level: f64| shard.part_of(level.round().max(0.0) as u64) as f64;
                let stages: Vec<Stage> = stages
                    .iter()
                    .map(|s| Stage {
                        duration: s.duration,
                        target: share(s.target),
                    })
                    .collect();
                let peak = stages
                    .iter()
                    .map(|s| s.target.round() as u64)
                    .fold(u64::from(*vus), u64::max);
                LoadPlan::Closed(ClosedPlan {
                    ramp: Ramp::new(share(f64::from(*vus)), &stages, *duration),
                    iterations: iterations.map(|i| shard.part_of(i)),
                    vu_offset: shard.offset_of(peak),
                })
            }
            Workload::Open {
                rate_per_sec,
                duration,
                stages,
                max_vus,
                backlog,
                ..
            } => LoadPlan::Open(OpenPlan {
                ramp: Ramp::new(*rate_per_sec, stages, *duration),
                // Exactly the shard's share, adding up to `max_vus`: a shard whose share
                // is 0 is refused (`Shard::refuses`).
                max_vus: shard.part_of(u64::from(*max_vus)) as u32,
                backlog: shard.part_of(u64::from(*backlog)) as u32,
                shard,
                vu_offset: shard.offset_of(u64::from(*max_vus)),
            }),
        }
    }

    /// Planned length, if bounded.
    pub fn total(&self) -> Option<Duration> {
        match self {
            LoadPlan::Closed(p) => p.ramp.total(),
            LoadPlan::Open(p) => p.ramp.total(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_shard_left_without_a_vu_or_an_iteration_is_refused() {
        let closed = |vus: u32, iterations: Option<u64>| Workload::Closed {
            vus,
            duration: None,
            iterations,
            stages: Vec::new(),
            graceful_stop: secs(1.0),
        };
        let shard = |k: u32, n: u32| Shard {
            index: k - 1,
            count: n,
        };
        let why = shard(2, 2).refuses(&closed(1, Some(5))).expect("no VU");
        assert!(why.contains("--shard 2/2: 1 virtual user"), "{why}");
        let why = shard(3, 3)
            .refuses(&closed(3, Some(2)))
            .expect("no iteration");
        assert!(why.contains("2 iteration(s)"), "{why}");
        assert_eq!(shard(2, 2).refuses(&closed(2, Some(2))), None);
        assert_eq!(shard(1, 2).refuses(&closed(1, Some(5))), None);
        assert_eq!(Shard::WHOLE.refuses(&closed(1, Some(1))), None);
    }

    fn open(rate: f64, secs_: f64, max_vus: u32) -> Workload {
        Workload::Open {
            rate_per_sec: rate,
            duration: Some(secs(secs_)),
            stages: Vec::new(),
            max_vus,
            backlog: max_vus,
            graceful_stop: secs(1.0),
        }
    }

    #[test]
    fn an_open_shard_left_without_a_vu_or_an_arrival_is_refused() {
        let shard = |k: u32, n: u32| Shard {
            index: k - 1,
            count: n,
        };
        // max_vus 2 over 3 shards: 1, 1, 0; giving the third one VU anyway ran 3 at once.
        let why = shard(3, 3).refuses(&open(10.0, 1.0, 2)).expect("no VU");
        assert!(
            why.contains("--shard 3/3: 2 VU(s) of max_vus split over 3 shards")
                && why.contains("use at most 2 shard(s)"),
            "{why}"
        );
        assert_eq!(shard(2, 3).refuses(&open(10.0, 1.0, 2)), None);
        // 1/s for 1 s is one arrival: shards 2/3 and 3/3 would get none.
        let why = shard(3, 3)
            .refuses(&open(1.0, 1.0, 10))
            .expect("no arrival");
        assert!(
            why.contains("--shard 3/3: 1 arrival(s) split over 3 shards")
                && why.contains("use at most 1 shard(s)"),
            "{why}"
        );
        assert!(shard(2, 3).refuses(&open(1.0, 1.0, 10)).is_some());
        assert_eq!(shard(1, 3).refuses(&open(1.0, 1.0, 10)), None);
        // 3 arrivals (0, 1, 2 s): the third shard gets the last one.
        assert_eq!(shard(3, 3).refuses(&open(1.0, 3.0, 10)), None);
        assert!(shard(4, 4).refuses(&open(1.0, 3.0, 10)).is_some());
        assert_eq!(Shard::WHOLE.refuses(&open(1.0, 1.0, 1)), None);
    }

    #[test]
    fn open_shards_split_max_vus_exactly() {
        for (max_vus, count) in [(2, 3), (7, 3), (3, 3), (10, 4)] {
            let vus: Vec<u32> = (0..count)
                .map(|index| {
                    match LoadPlan::new(&open(100.0, 1.0, max_vus), Shard { index, count }) {
                        LoadPlan::Open(p) => p.max_vus,
                        LoadPlan::Closed(_) => unreachable!(),
                    }
                })
                .collect();
            assert_eq!(
                vus.iter().sum::<u32>(),
                max_vus,
                "{max_vus} over {count}: {vus:?}"
            );
        }
    }

    #[test]
    fn constant_rate_arrivals_are_evenly_spaced() {
        let plan = OpenPlan {
            ramp: Ramp::new(10.0, &[], Some(secs(2.0))),
            max_vus: 5,
            backlog: 5,
            shard: Shard::WHOLE,
            vu_offset: 0,
        };
        assert_eq!(plan.arrival(0), Some(Duration::ZERO));
        assert_eq!(plan.arrival(1), Some(secs(0.1)));
        assert_eq!(plan.arrival(19), Some(secs(1.9)));
        assert_eq!(plan.arrival(20), None, "20 arrivals fit in 2 s at 10/s");
    }

    #[test]
    fn ramping_rate_integrates_exactly() {
        // 0 → 10/s over 2 s = 10 arrivals, then 10/s for 1 s = 10 more.
        let stages = [
            Stage {
                duration: secs(2.0),
                target: 10.0,
            },
            Stage {
                duration: secs(1.0),
                target: 10.0,
            },
        ];
        let ramp = Ramp::new(0.0, &stages, None);
        let n = (0..)
            .take_while(|i| ramp.time_of(f64::from(*i)).is_some())
            .count();
        assert_eq!(n, 20);
        // A(t) = 2.5 t² on the ramp, so arrival 10 is at t = 2 s, arrival 2.5 at 1 s.
        assert!((ramp.time_of(2.5).unwrap().as_secs_f64() - 1.0).abs() < 1e-9);
        assert!((ramp.time_of(15.0).unwrap().as_secs_f64() - 2.5).abs() < 1e-9);
        assert_eq!(ramp.level_at(secs(1.0)), 5.0);
        assert_eq!(ramp.level_at(secs(9.0)), 10.0);
    }

    #[test]
    fn shards_partition_the_arrivals_and_the_vus() {
        let workload = Workload::Open {
            rate_per_sec: 30.0,
            duration: Some(secs(1.0)),
            stages: vec![],
            max_vus: 10,
            backlog: 10,
            graceful_stop: secs(1.0),
        };
        let mut all: Vec<Duration> = Vec::new();
        for k in 0..3 {
            let LoadPlan::Open(plan) = LoadPlan::new(&workload, Shard { index: k, count: 3 })
            else {
                unreachable!()
            };
            all.extend((0..).map_while(|i| plan.arrival(i)));
        }
        all.sort();
        let LoadPlan::Open(whole) = LoadPlan::new(&workload, Shard::WHOLE) else {
            unreachable!()
        };
        let expected: Vec<Duration> = (0..).map_while(|i| whole.arrival(i)).collect();
        assert_eq!(all, expected);
        assert_eq!(expected.len(), 30);

        let shard = Shard::parse("3/4").unwrap();
        assert_eq!(shard, Shard { index: 2, count: 4 });
        let parts: u64 = (0..4)
            .map(|i| Shard { index: i, count: 4 }.part_of(10))
            .sum();
        assert_eq!(parts, 10);
        assert_eq!(
            Shard { index: 2, count: 4 }.offset_of(10),
            6,
            "3 + 3 before the third shard"
        );
        assert!(
            Shard::parse("5/4").is_err()
                && Shard::parse("0/1").is_err()
                && Shard::parse("x").is_err()
        );
    }

    #[test]
    fn closed_ramps_interpolate_vus() {
        let w = Workload::Closed {
            vus: 0,
            duration: None,
            iterations: None,
            stages: vec![
                Stage {
                    duration: secs(10.0),
                    target: 20.0,
                },
                Stage {
                    duration: secs(5.0),
                    target: 0.0,
                },
            ],
            graceful_stop: secs(1.0),
        };
        let LoadPlan::Closed(p) = LoadPlan::new(&w, Shard::WHOLE) else {
            unreachable!()
        };
        assert_eq!(p.vus_at(secs(0.0)), 0);
        assert_eq!(p.vus_at(secs(5.0)), 10);
        assert_eq!(p.vus_at(secs(12.5)), 10);
        assert_eq!(p.peak_vus(), 20);
        assert_eq!(p.ramp.total(), Some(secs(15.0)));
    }
}
