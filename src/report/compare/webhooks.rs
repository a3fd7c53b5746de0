//! The webhook rows of a comparison: the lifecycle service levels (time to
//! assign, in queue, to the first agent reply, chat duration) and each
//! event's delay, where both runs measured them.

use super::{RowScope, Rows, Seen};
use crate::report::webhook::{LatencySummary, WebhookReport};

pub(super) fn lifecycle_levels(
    w: &WebhookReport,
) -> impl Iterator<Item = (&'static str, &LatencySummary)> {
    [
        ("time_to_assign", &w.lifecycle.time_to_assign),
        ("time_in_queue", &w.queue.time_in_queue),
        (
            "time_to_first_agent_reply",
            &w.lifecycle.time_to_first_agent_reply,
        ),
        ("chat_duration", &w.lifecycle.chat_duration),
    ]
    .into_iter()
}

/// The lifecycle service levels and each event's delay, where both runs measured them.
pub(super) fn compare_webhooks(base: &WebhookReport, new: &WebhookReport, rows: &mut Rows<'_>) {
    for ((name, b), (_, n)) in lifecycle_levels(base).zip(lifecycle_levels(new)) {
        rows.seen.push(Seen {
            scope: RowScope::Lifecycle,
            name: name.to_owned(),
            timed: [b.count > 0, n.count > 0],
            counted: [b.count > 0, n.count > 0],
        });
        if b.count > 0 && n.count > 0 {
            rows.pair(RowScope::Lifecycle, name, &b.latency, &n.latency);
        } else if b.count > 0 {
            rows.lost.push(format!("lifecycle `{name}`"));
        }
    }
    for n in &new.events {
        let b = base.events.iter().find(|b| b.event == n.event);
        let b_count = b.map_or(0, |b| b.delay.count);
        rows.seen.push(Seen {
            scope: RowScope::Event,
            name: n.event.clone(),
            timed: [b_count > 0, n.delay.count > 0],
            counted: [b_count > 0, n.delay.count > 0],
        });
        match b {
            Some(b) if b.delay.count > 0 && n.delay.count > 0 => {
                rows.pair(
                    RowScope::Event,
                    &n.event,
                    &b.delay.latency,
                    &n.delay.latency,
                );
            }
            Some(b) if b.delay.count > 0 => {
                rows.lost.push(format!("event `{}`", n.event));
            }
            Some(_) => {}
            None => rows
                .unmatched
                .push(format!("event `{}` only in the new run", n.event)),
        }
    }
    for b in (base.events.iter()).filter(|b| !new.events.iter().any(|n| n.event == b.event)) {
        rows.seen.push(Seen {
            scope: RowScope::Event,
            name: b.event.clone(),
            timed: [b.delay.count > 0, false],
            counted: [b.delay.count > 0, false],
        });
    }
}
