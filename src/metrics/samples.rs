//! Why steps failed: the first [`SAMPLES_PER_KIND`] explained failures per step and failure kind,
//! with a count of all of them.
//!
//! The store is touched only when a step fails; a success never reaches it. A failure first bumps
//! the slot's atomic count and only while the slot is not full builds its sample (the closure the
//! engine passes) and takes the slot's lock to keep it, so a storm of failures costs one atomic
//! add each and never queues on a lock. Samples arrive already masked: the engine masks secrets
//! before a value leaves the virtual user (see `engine::explain`).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::{FailureKind, StepId};

/// Samples kept per step and failure kind; the rest are only counted.
pub const SAMPLES_PER_KIND: usize = 5;

/// One explained failure of a step. Every text is masked and truncated by the engine.
///
/// Recorded here and written as is into the report (`failure_samples[].samples[]`); an absent
/// `Option` reads as `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureSample {
    /// The check that did not hold, as the scenario states it (`status in [200]`,
    /// `body /user/id ne "u-1"`, `capture user_id`, `schema`, `timeout after 30s`,
    /// `wait_event chats:join not received in 10s`).
    pub check: String,
    /// JSON pointer into the response body, if the check looked at one.
    pub path: Option<String>,
    /// What the check wanted.
    pub expected: Option<String>,
    /// What came back, cut to 200 characters; `MASKED` where it could be a secret.
    pub actual: Option<String>,
    /// HTTP status of the response, if one arrived.
    pub status: Option<u16>,
    /// The API's own error message (`error.message` of its error body), if any.
    pub api_message: Option<String>,
    /// Method and route template of the request (`POST /chats/{chatId}/close`); absent for a
    /// step that sends no request (`wait_event`).
    pub route: Option<String>,
    /// The virtual user's iteration, from 0.
    pub iteration: u64,
    /// The virtual user, from 1.
    pub vu: u64,
}

/// The samples of one step and failure kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindSamples {
    /// The step.
    pub step: StepId,
    /// The failure kind.
    pub kind: FailureKind,
    /// Failures of this kind on this step, sampled or not.
    pub count: u64,
    /// The first failures (at most [`SAMPLES_PER_KIND`]), in arrival order.
    pub samples: Vec<FailureSample>,
}

#[derive(Debug, Default)]
struct Slot {
    /// Failures seen; checked before the lock is taken.
    seen: AtomicU64,
    samples: Mutex<Vec<FailureSample>>,
}

/// Bounded failure samples for every step × failure kind, allocated up front.
#[derive(Debug)]
pub struct SampleStore {
    slots: Box<[Slot]>,
}

impl SampleStore {
    /// A store for `steps` steps.
    pub fn new(steps: usize) -> Self {
        Self {
            slots: (0..steps * FailureKind::COUNT)
                .map(|_| Slot::default())
                .collect(),
        }
    }

    /// Counts one failure of `step` of `kind`; calls `explain` and keeps its sample only while
    /// fewer than [`SAMPLES_PER_KIND`] were seen.
    pub fn record(&self, step: StepId, kind: FailureKind, explain: impl FnOnce() -> FailureSample) {
        let index = step.0 as usize * FailureKind::COUNT + kind.index();
        let Some(slot) = self.slots.get(index) else {
            debug_assert!(false, "StepId {} not in layout", step.0);
            return;
        };
        if slot.seen.fetch_add(1, Relaxed) >= SAMPLES_PER_KIND as u64 {
            return;
        }
        let sample = explain();
        let mut samples = slot.samples.lock().unwrap_or_else(PoisonError::into_inner);
        // Another failure may have got its ordinal first and pushed later; the bound still holds.
        if samples.len() < SAMPLES_PER_KIND {
            samples.push(sample);
        }
    }

    /// Every (step, kind) that failed, in step order then kind order.
    pub fn snapshot(&self) -> Vec<KindSamples> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| {
                let count = slot.seen.load(Relaxed);
                (count > 0).then(|| KindSamples {
                    step: StepId((index / FailureKind::COUNT) as u32),
                    kind: FailureKind::ALL[index % FailureKind::COUNT],
                    count,
                    samples: slot
                        .samples
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone(),
                })
            })
            .collect()
    }
}

/// Test data shared by the modules that show samples.
#[cfg(test)]
impl FailureSample {
    /// A status check of `POST /chats` that expected `expected` and got `actual`
    /// with the API's error message `api_message`.
    pub(crate) fn create_chat_status(expected: u16, actual: u16, api_message: &str) -> Self {
        FailureSample {
            check: format!("status in [{expected}]"),
            expected: Some(expected.to_string()),
            actual: Some(actual.to_string()),
            status: Some(actual),
            api_message: Some(api_message.to_owned()),
            route: Some("POST /chats".to_owned()),
            ..FailureSample::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(vu: u64) -> FailureSample {
        FailureSample {
            check: "status in [200]".to_owned(),
            status: Some(503),
            vu,
            ..FailureSample::default()
        }
    }

    #[test]
    fn keeps_the_first_five_and_counts_the_rest_without_explaining_them() {
        let store = SampleStore::new(2);
        let mut explained = 0;
        for vu in 0..100 {
            store.record(StepId(1), FailureKind::Status, || {
                explained += 1;
                sample(vu)
            });
        }
        store.record(StepId(0), FailureKind::Capture, || sample(7));
        assert_eq!(explained, SAMPLES_PER_KIND, "only kept samples are built");
        let snapshot = store.snapshot();
        assert_eq!(snapshot.len(), 2);
        assert_eq!(
            (snapshot[0].step, snapshot[0].kind, snapshot[0].count),
            (StepId(0), FailureKind::Capture, 1)
        );
        let status = &snapshot[1];
        assert_eq!((status.step, status.kind), (StepId(1), FailureKind::Status));
        assert_eq!(status.count, 100);
        let vus: Vec<u64> = status.samples.iter().map(|s| s.vu).collect();
        assert_eq!(vus, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn concurrent_failures_stay_bounded_and_all_counted() {
        let store = SampleStore::new(1);
        std::thread::scope(|scope| {
            for thread in 0..8u64 {
                let store = &store;
                scope.spawn(move || {
                    for _ in 0..1_000 {
                        store.record(StepId(0), FailureKind::Timeout, || sample(thread));
                    }
                });
            }
        });
        let snapshot = store.snapshot();
        assert_eq!(snapshot[0].count, 8_000);
        assert_eq!(snapshot[0].samples.len(), SAMPLES_PER_KIND);
    }
}
