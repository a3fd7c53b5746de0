//! Per-operation request counters for `GET /__mock/stats`.
//!
//! One `AtomicU64` per operation plus one for unmatched requests, indexed by
//! [`Operation::index`]: counting never takes a lock, so it cannot become a
//! point of contention under load.

use crate::operation::{OPERATION_COUNT, Operation};
use std::sync::atomic::{AtomicU64, Ordering};

/// Request counters.
#[derive(Debug)]
pub struct RouteStats {
    counts: Vec<AtomicU64>,
}

impl Default for RouteStats {
    fn default() -> Self {
        RouteStats {
            counts: (0..=OPERATION_COUNT).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl RouteStats {
    /// Counts one request; `None` = matched no operation (404/405).
    pub fn record(&self, op: Option<Operation>) {
        let index = op.map_or(OPERATION_COUNT, Operation::index);
        self.counts[index].fetch_add(1, Ordering::Relaxed);
    }

    /// Sets every counter to 0.
    pub fn reset(&self) {
        for count in &self.counts {
            count.store(0, Ordering::Relaxed);
        }
    }

    /// `{"total": n, "routes": {"<operationId>": n, ..., "unmatched": n}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut routes = serde_json::Map::new();
        let mut total = 0;
        for op in Operation::ALL {
            let n = self.counts[op.index()].load(Ordering::Relaxed);
            total += n;
            routes.insert(op.id().to_owned(), n.into());
        }
        let unmatched = self.counts[OPERATION_COUNT].load(Ordering::Relaxed);
        routes.insert("unmatched".to_owned(), unmatched.into());
        serde_json::json!({ "total": total + unmatched, "routes": routes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_resets() {
        let stats = RouteStats::default();
        stats.record(Some(Operation::CreateChat));
        stats.record(None);
        let json = stats.to_json();
        assert_eq!(json["total"], 2);
        assert_eq!(json["routes"]["createChat"], 1);
        assert_eq!(json["routes"]["unmatched"], 1);
        stats.reset();
        assert_eq!(stats.to_json()["total"], 0);
    }
}
