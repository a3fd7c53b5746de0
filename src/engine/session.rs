//! A virtual user's own state: its variables, its random numbers, the chats
//! it has open. Never shared, so reading and writing it takes no lock.

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::in_flight::Stamp;
use crate::client::{ConnSlot, PreparedRequest};
use crate::scenario::Scenario;
use crate::scenario::template::{RenderContext, VarId};
use crate::schema::ValidBodyMemo;

/// One virtual user.
#[derive(Debug)]
pub struct Session {
    /// From 1.
    pub vu: u64,
    /// Iterations this VU has started, from 0.
    pub iteration: u64,
    pub vars: Vec<Option<Value>>,
    pub rng: SmallRng,
    /// Chats created and not yet closed in the current iteration.
    pub open_chats: Vec<String>,
    /// This VU's own connection to the target (see `client::ConnPolicy`).
    pub conn: ConnSlot,
    /// The last body that passed its schema check, not checked again.
    pub valid_body: ValidBodyMemo,
    /// This VU's view of the run's abort (a child token, so watching it
    /// touches no state shared with other VUs). Taken while an iteration runs.
    pub abort: Option<CancellationToken>,
    /// Requests of template-free steps, built on first use, by step id.
    pub prepared: Vec<Option<PreparedRequest>>,
    /// Webhook inbox and subscribed chats (runs with `webhooks:` only).
    pub events: Option<super::EventSession>,
    /// When this VU's request in flight was sent (see `InFlight`).
    pub in_flight: Arc<Stamp>,
    /// Connection errors in a row on this VU, for its back-off.
    pub connect_errors: u32,
    /// chatload's own time in the current iteration, taken out of every
    /// step's and the iteration's latency: the back-off after connection
    /// errors, building each request before it is sent, and handling each
    /// answer (parsing, checks, the schema check, captures, failure samples
    /// and records) until the VU sends again, sleeps or ends the step.
    pub own_time: Duration,
    /// The current iteration met a throttled response (counted once per
    /// iteration when it ends).
    pub throttled: bool,
}

impl Session {
    /// A fresh VU; its random numbers derive from the run seed and its number,
    /// so a run with the same seed makes the same choices.
    pub fn new(
        scenario: &Scenario,
        vu: u64,
        seed: u64,
        abort: CancellationToken,
        in_flight: Arc<Stamp>,
    ) -> Session {
        Session {
            vu,
            iteration: 0,
            vars: scenario.vars.initial.clone(),
            rng: SmallRng::seed_from_u64(seed ^ vu.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            open_chats: Vec::new(),
            conn: ConnSlot::new(vu),
            valid_body: ValidBodyMemo::default(),
            abort: Some(abort),
            prepared: Vec::new(),
            events: None,
            in_flight,
            connect_errors: 0,
            own_time: Duration::ZERO,
            throttled: false,
        }
    }

    /// Resets captured variables and fills feed columns for a new iteration.
    /// Returns false when a feed has no row for this VU.
    pub fn begin_iteration(&mut self, scenario: &Scenario) -> bool {
        for (slot, initial) in self.vars.iter_mut().zip(&scenario.vars.initial) {
            if slot.as_ref() != initial.as_ref() {
                slot.clone_from(initial);
            }
        }
        for (index, feed) in scenario.feeds.iter().enumerate() {
            let Some(row) = feed.pick(self.vu, &mut self.rng) else {
                return false;
            };
            for &(slot, _, column) in scenario
                .vars
                .feed_slots
                .iter()
                .filter(|(_, f, _)| *f == index)
            {
                self.vars[slot.0 as usize] = row.get(column).cloned();
            }
        }
        true
    }

    /// Stores a captured value.
    pub fn set(&mut self, id: VarId, value: Value) {
        self.vars[id.0 as usize] = Some(value);
    }
}

impl RenderContext for Session {
    fn var(&self, id: VarId) -> Option<&Value> {
        self.vars.get(id.0 as usize).and_then(Option::as_ref)
    }
    fn vu(&self) -> u64 {
        self.vu
    }
    fn iteration(&self) -> u64 {
        self.iteration
    }
    fn rng(&mut self) -> &mut SmallRng {
        &mut self.rng
    }
}
