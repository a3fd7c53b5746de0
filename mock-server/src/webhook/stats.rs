//! Webhook counters for `GET /__mock/webhooks`: per webhook (deliveries,
//! failures, retries, queue drops, injected faults, `chats:assign`
//! decisions) and per app (handshakes).
//!
//! Counters are relaxed atomics bumped by the store (enqueue) and the
//! delivery workers; nothing here is on the path of an app without webhooks.

use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

/// One counter kind of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Accepted into the delivery queue.
    Enqueued,
    /// POSTs answered 2xx (a duplicated delivery counts twice).
    Delivered,
    /// POSTs that failed: connect error, timeout or non-2xx.
    FailedAttempts,
    /// Attempts after the first.
    Retried,
    /// Deliveries given up after the last attempt.
    Failed,
    /// Deliveries dropped because the queue was full.
    DroppedQueueFull,
    /// Fault: dropped on purpose.
    FaultDrop,
    /// Fault: sent twice.
    FaultDuplicate,
    /// Fault: sent late.
    FaultDelay,
    /// Fault: held and sent after the next delivery.
    FaultReorder,
    /// Fault: sent with a `data` that breaks the event's schema.
    FaultBreakSchema,
    /// `chats:assign` decisions asked.
    AssignAsked,
    /// Decisions whose answer named an eligible agent.
    AssignHonoured,
    /// Decisions that fell back to the built-in algorithm.
    AssignFallback,
}

const KINDS: usize = 14;

/// Counters of one webhook.
#[derive(Debug, Default)]
pub struct HookCounters {
    values: [AtomicU64; KINDS],
}

impl HookCounters {
    /// Adds one.
    pub fn bump(&self, counter: Counter) {
        self.values[counter as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self, counter: Counter) -> u64 {
        self.values[counter as usize].load(Ordering::Relaxed)
    }

    /// The admin JSON of these counters.
    pub fn to_json(&self) -> Value {
        use Counter::*;
        json!({
            "enqueued": self.get(Enqueued),
            "delivered": self.get(Delivered),
            "failedAttempts": self.get(FailedAttempts),
            "retried": self.get(Retried),
            "failed": self.get(Failed),
            "droppedQueueFull": self.get(DroppedQueueFull),
            "faults": {
                "drop": self.get(FaultDrop),
                "duplicate": self.get(FaultDuplicate),
                "delay": self.get(FaultDelay),
                "reorder": self.get(FaultReorder),
                "breakSchema": self.get(FaultBreakSchema),
            },
            "assign": {
                "asked": self.get(AssignAsked),
                "honoured": self.get(AssignHonoured),
                "fallback": self.get(AssignFallback),
            },
        })
    }

    /// Adds `other` into `self` (for totals).
    pub fn add(&self, other: &HookCounters) {
        for (mine, theirs) in self.values.iter().zip(&other.values) {
            mine.fetch_add(theirs.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

/// Handshake counts of one app.
#[derive(Debug, Default, Clone, Copy)]
pub struct HandshakeCounts {
    /// Targets that echoed the secret.
    pub ok: u64,
    /// Targets that did not (registration answered 400).
    pub failed: u64,
}

impl HandshakeCounts {
    /// `{"ok": n, "failed": n}`.
    pub fn to_json(self) -> Value {
        json!({"ok": self.ok, "failed": self.failed})
    }
}
