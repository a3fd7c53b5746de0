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
    /// Why this shard of `workload` would be left with nothing to run, if it would: in a
    /// closed workload no virtual user at any time, or none of a fixed number of iterations
    /// (it would wait for iterations no VU ever runs); in an open one, see
    /// [`Self::refuses_open`]. Such a shard is refused before the run.
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
        if self.part_of(peak) == 0 {
            return Some(self.left_none(peak, "virtual user(s) at the peak", "the load"));
        }
        let total = (*iterations)?;
        let LoadPlan::Closed(plan) = LoadPlan::new(workload, *self) else {
            return None;
        };
        (plan.iterations == Some(0)).then(|| self.left_none(total, "iteration(s)", "the load"))
    }

    /// `--shard K/N: TOTAL WHAT split over N shards leave this one none; ...`.
    fn left_none(&self, total: u64, what: &str, raise: &str) -> String {
        format!(
            "--shard {self}: {total} {what} split over {} shards leave this one none; \
             use at most {total} shard(s), or raise {raise}",
            self.count
        )
    }

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
        let none = |total: u64, what: &str, raise: &str| self.left_none(total, what, raise);
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

/// One virtual user of the whole closed run: its number (from 1, in the order the VUs start),
/// when it starts and, when the ramp takes it down before the plan ends, when it stops.
///
/// The schedule is computed once for the whole run ([`Ramp::vu_schedule`]), so a shard runs
/// some of these exactly, keeping their numbers and times: the shards together are the
/// unsharded run, and no two machines share a VU number (`{{ vu }}`, `unique` feed rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VuSpan {
    pub vu: u64,
    pub start: Duration,
    pub stop: Option<Duration>,
}

impl VuSpan {
    /// Whether the VU runs at `t` (from its start, until its stop).
    pub fn runs_at(&self, t: Duration) -> bool {
        self.start <= t && self.stop.is_none_or(|s| t < s)
    }
}

impl Ramp {
    /// The whole run's VUs for a ramp of VU levels: the level rounded to the nearest whole VU
    /// at every instant (VU slot k is filled while the level is at least k - 0.5). A VU starts
    /// each time the rounded level rises and takes the next number; when it falls, the most
    /// recently started VU stops (as k6's ramping-vus does). A VU started again after a ramp
    /// down is a new VU with a new number.
    pub fn vu_schedule(&self) -> Vec<VuSpan> {
        let whole = |level: f64| level.round().max(0.0) as u64;
        let mut spans: Vec<VuSpan> = Vec::new();
        // Indices into `spans` of the VUs running, oldest first.
        let mut running: Vec<usize> = Vec::new();
        let start = |spans: &mut Vec<VuSpan>, running: &mut Vec<usize>, at: Duration| {
            running.push(spans.len());
            spans.push(VuSpan {
                vu: spans.len() as u64 + 1,
                start: at,
                stop: None,
            });
        };
        for _ in 0..whole(self.start) {
            start(&mut spans, &mut running, Duration::ZERO);
        }
        let (mut from, mut t0) = (self.start, Duration::ZERO);
        for &(len, to) in &self.segments {
            // When the level crosses k - 0.5 within this segment (at its start if it jumps).
            let at = |k: u64| {
                if len.is_zero() || to == from {
                    return t0;
                }
                let x = ((k as f64 - 0.5) - from) / (to - from);
                t0 + len.mul_f64(x.clamp(0.0, 1.0))
            };
            let (a, b) = (whole(from), whole(to));
            for k in a + 1..=b {
                start(&mut spans, &mut running, at(k));
            }
            for k in (b + 1..=a).rev() {
                if let Some(i) = running.pop() {
                    spans[i].stop = Some(at(k));
                }
            }
            t0 += len;
            from = to;
        }
        spans
    }
}

/// Closed model: the VUs this shard runs, taken from the whole run's schedule.
#[derive(Debug, Clone)]
pub struct ClosedPlan {
    pub ramp: Ramp,
    /// Total iterations of this shard (all its VUs together), when bounded.
    pub iterations: Option<u64>,
    /// This shard's VUs of the whole run's schedule, in start order.
    pub vus: Vec<VuSpan>,
}

impl ClosedPlan {
    /// The closed plan of `shard`: global VU n goes to the shard with index (n - 1) mod N
    /// (round-robin), so every ramp is spread over the machines as it rises, each shard's
    /// VUs keep their whole-run numbers and times, and of a constant `vus` the first shards
    /// take the remainder.
    ///
    /// A fixed number of iterations is divided by VU, not by shard ([`vu_iterations`]): a
    /// shard's part is its VUs' parts together, so a shard with more VUs has more iterations
    /// and every VU of the sharded run has as many as in the unsharded one (`vus: 4,
    /// iterations: 40` over 3 shards is 20, 10, 10, not 14, 13, 13, which kept the lone VU
    /// of the last shards busy 27 % longer). With `stages`, every VU the ramp ever starts
    /// counts (a VU started again after a ramp down is a new one).
    pub fn new(ramp: Ramp, iterations: Option<u64>, shard: Shard) -> ClosedPlan {
        let n = u64::from(shard.count);
        let schedule = ramp.vu_schedule();
        let all = schedule.len() as u64;
        let vus: Vec<VuSpan> = schedule
            .into_iter()
            .filter(|s| (s.vu - 1) % n == u64::from(shard.index))
            .collect();
        let iterations = iterations.map(|total| {
            if shard == Shard::WHOLE {
                total
            } else {
                vus.iter().map(|s| vu_iterations(total, all, s.vu)).sum()
            }
        });
        ClosedPlan {
            ramp,
            iterations,
            vus,
        }
    }

    /// This shard's VUs running at `t`.
    pub fn vus_at(&self, t: Duration) -> u32 {
        self.vus.iter().filter(|s| s.runs_at(t)).count() as u32
    }

    /// The most VUs this shard ever runs at once.
    pub fn peak_vus(&self) -> u32 {
        let mut edges: Vec<(Duration, i64)> = self
            .vus
            .iter()
            .flat_map(|s| std::iter::once((s.start, 1)).chain(s.stop.map(|stop| (stop, -1))))
            .collect();
        // A stop and a start at one instant: the stop first (the VU never overlaps).
        edges.sort_unstable();
        let (mut now, mut peak) = (0i64, 0i64);
        for (_, d) in edges {
            now += d;
            peak = peak.max(now);
        }
        peak as u32
    }
}

/// VU `vu`'s part (numbered from 1) of `total` iterations over `vus` VUs: each gets
/// `total / vus`, and the first `total % vus` VUs one more, so the parts add up to `total`.
pub fn vu_iterations(total: u64, vus: u64, vu: u64) -> u64 {
    if vus == 0 {
        return 0;
    }
    total / vus + u64::from(vu <= total % vus)
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
            } => LoadPlan::Closed(ClosedPlan::new(
                Ramp::new(f64::from(*vus), stages, *duration),
                *iterations,
                shard,
            )),
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

    fn stage(secs_: f64, target: f64) -> Stage {
        Stage {
            duration: secs(secs_),
            target,
        }
    }

    fn closed_plan(
        vus: u32,
        stages: Vec<Stage>,
        iterations: Option<u64>,
        shard: Shard,
    ) -> ClosedPlan {
        let workload = Workload::Closed {
            vus,
            duration: stages.is_empty().then(|| secs(5.0)),
            iterations,
            stages,
            graceful_stop: secs(1.0),
        };
        match LoadPlan::new(&workload, shard) {
            LoadPlan::Closed(p) => p,
            LoadPlan::Open(_) => unreachable!(),
        }
    }

    // See: audit 2 findings 3 and 4 — each shard scaled and rounded its own ramp (a step
    // instead of the ramp) and numbered its VUs from its own offset (numbers shared by shards).
    #[test]
    fn shards_of_a_closed_plan_are_exactly_the_whole_schedule_with_disjoint_vu_numbers() {
        let shapes: Vec<(u32, Vec<Stage>)> = vec![
            (0, vec![stage(4.0, 3.0), stage(1.0, 3.0)]),
            (1, vec![stage(2.0, 5.0), stage(1.0, 5.0), stage(2.0, 0.0)]),
            (0, vec![stage(1.0, 8.0), stage(1.0, 8.0)]),
            (
                2,
                vec![
                    stage(3.0, 7.0),
                    stage(1.0, 1.0),
                    stage(0.0, 6.0),
                    stage(2.0, 6.0),
                ],
            ),
            (0, vec![stage(10.0, 23.0), stage(5.0, 0.0)]),
            (9, vec![]),
            (5, vec![stage(2.0, 5.0)]),
        ];
        for (vus, stages) in shapes {
            let whole = closed_plan(vus, stages.clone(), None, Shard::WHOLE);
            assert!(!whole.vus.is_empty());
            for count in 2..=5u32 {
                let mut union: Vec<VuSpan> = (0..count)
                    .flat_map(|index| {
                        closed_plan(vus, stages.clone(), None, Shard { index, count }).vus
                    })
                    .collect();
                union.sort_by_key(|s| s.vu);
                assert_eq!(union, whole.vus, "{vus} {stages:?} over {count} shards");
                // Disjoint numbers: the sorted union holds each number once.
                assert!(union.windows(2).all(|w| w[0].vu < w[1].vu));
                for tenth in 0..=160 {
                    let t = secs(f64::from(tenth) / 10.0);
                    let sum: u32 = (0..count)
                        .map(|index| {
                            closed_plan(vus, stages.clone(), None, Shard { index, count }).vus_at(t)
                        })
                        .sum();
                    assert_eq!(
                        sum,
                        whole.vus_at(t),
                        "at {t:?}: {stages:?} over {count} shards"
                    );
                }
            }
        }
    }

    // See: audit 4 F9 — `vus: 4, iterations: 40` over 3 shards gave 14, 13, 13 iterations
    // to shards of 2, 1 and 1 VUs: the lone VUs ran 13 back to back (the sharded run 27 %
    // longer than the unsharded one, merged rates 22 % low).
    #[test]
    fn closed_shards_take_their_vus_iterations_and_add_up_to_the_whole() {
        let shares = |vus: u32, stages: &[Stage], iterations: u64, count: u32| -> Vec<u64> {
            (0..count)
                .map(|index| {
                    closed_plan(
                        vus,
                        stages.to_vec(),
                        Some(iterations),
                        Shard { index, count },
                    )
                    .iterations
                    .expect("bounded")
                })
                .collect()
        };
        assert_eq!(shares(4, &[], 40, 3), [20, 10, 10]);
        assert_eq!(
            shares(4, &[], 41, 3),
            [21, 10, 10],
            "VU 1 takes the remainder"
        );
        assert_eq!(
            shares(5, &[], 7, 2),
            [4, 3],
            "VUs 1, 3, 5 (2 + 1 + 1) and 2, 4 (2 + 1)"
        );
        assert_eq!(shares(10, &[], 100, 4), [30, 30, 20, 20]);
        // The shards' iterations are their VUs' parts of the whole run, every VU counted once.
        let ramps: Vec<(u32, Vec<Stage>)> = vec![
            (4, vec![]),
            (9, vec![]),
            (0, vec![stage(2.0, 5.0), stage(1.0, 5.0), stage(2.0, 0.0)]),
            (1, vec![stage(1.0, 4.0), stage(1.0, 1.0), stage(1.0, 6.0)]),
        ];
        for (vus, stages) in ramps {
            let whole = closed_plan(vus, stages.clone(), Some(1), Shard::WHOLE).vus;
            let all = whole.len() as u64;
            for iterations in [1, 3, 7, 40, 41, 1000] {
                assert_eq!(
                    closed_plan(vus, stages.clone(), Some(iterations), Shard::WHOLE).iterations,
                    Some(iterations)
                );
                for count in 2..=5u32 {
                    let parts = shares(vus, &stages, iterations, count);
                    assert_eq!(parts.iter().sum::<u64>(), iterations, "{stages:?} {count}");
                    for (index, part) in (0..count).zip(&parts) {
                        let of_its_vus: u64 = whole
                            .iter()
                            .filter(|s| (s.vu - 1) % u64::from(count) == u64::from(index))
                            .map(|s| vu_iterations(iterations, all, s.vu))
                            .sum();
                        assert_eq!(*part, of_its_vus, "{stages:?} shard {index} of {count}");
                    }
                }
            }
        }
        // A shard none of whose VUs gets an iteration is refused, as before.
        let closed = Workload::Closed {
            vus: 4,
            duration: None,
            iterations: Some(2),
            stages: Vec::new(),
            graceful_stop: secs(1.0),
        };
        let why = Shard { index: 2, count: 3 }
            .refuses(&closed)
            .expect("VU 3 of 4 gets none of 2");
        assert!(
            why.contains("--shard 3/3: 2 iteration(s) split over 3 shards"),
            "{why}"
        );
        assert_eq!(Shard { index: 1, count: 3 }.refuses(&closed), None);
    }

    #[test]
    fn the_whole_schedule_follows_the_rounded_ramp_and_shards_take_every_nth_vu() {
        // 0 → 3 over 4 s: VU k starts when the level reaches k - 0.5.
        let whole = closed_plan(
            0,
            vec![stage(4.0, 3.0), stage(1.0, 3.0)],
            None,
            Shard::WHOLE,
        );
        let starts: Vec<f64> = whole.vus.iter().map(|s| s.start.as_secs_f64()).collect();
        assert_eq!(starts.len(), 3);
        for (got, want) in starts.iter().zip([2.0 / 3.0, 2.0, 10.0 / 3.0]) {
            assert!((got - want).abs() < 1e-6, "{starts:?}");
        }
        for t in 0..=50 {
            let t = secs(f64::from(t) / 10.0);
            assert_eq!(
                whole.vus_at(t),
                whole.ramp.level_at(t).round() as u32,
                "{t:?}"
            );
        }
        // Up to 5, down to 0: the most recently started stops first.
        let down = closed_plan(
            1,
            vec![stage(2.0, 5.0), stage(2.0, 0.0)],
            None,
            Shard::WHOLE,
        );
        let stops: Vec<u64> = {
            let mut v: Vec<&VuSpan> = down.vus.iter().collect();
            v.sort_by_key(|s| s.stop);
            v.iter().map(|s| s.vu).collect()
        };
        assert_eq!(stops, vec![5, 4, 3, 2, 1]);
        // Ramp to 8 over 4 shards: numbers {1,5}, {2,6}, {3,7}, {4,8}.
        let numbers = |stages: Vec<Stage>, vus: u32, index: u32| -> Vec<u64> {
            closed_plan(vus, stages, None, Shard { index, count: 4 })
                .vus
                .iter()
                .map(|s| s.vu)
                .collect()
        };
        let ramp = || vec![stage(1.0, 8.0), stage(1.0, 8.0)];
        assert_eq!(numbers(ramp(), 0, 0), vec![1, 5]);
        assert_eq!(numbers(ramp(), 0, 3), vec![4, 8]);
        // Constant VUs follow the same rule; the remainder goes to the first shards.
        let sizes: Vec<u32> = (0..4)
            .map(|index| closed_plan(10, vec![], None, Shard { index, count: 4 }).peak_vus())
            .collect();
        assert_eq!(sizes, vec![3, 3, 2, 2]);
        assert_eq!(numbers(vec![], 10, 1), vec![2, 6, 10]);
        // A fixed number of iterations still adds up exactly.
        let parts: u64 = (0..3)
            .map(|index| {
                closed_plan(5, vec![], Some(7), Shard { index, count: 3 })
                    .iterations
                    .unwrap()
            })
            .sum();
        assert_eq!(parts, 7);
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
