//! Agent actors: a scenario's `agents:` population, logged in through the
//! API, answering invitations and user messages the way people at an agent
//! desk do, so a load test against a real test instance has agents on the
//! other side (and, against the bundled mock, the mock's own simulated agents
//! can be switched off: see [`prepare_target`]).
//!
//! - [`AgentPool`]: starts the actors (register if needed, log in, subscribe
//!   each agent id in the [`EventRouter`]), answers `chats:assign` through
//!   [`AgentPool::assign_responder`], and stops them ([`AgentPool::stop`]
//!   logs every agent out and returns an [`AgentSummary`]).
//! - `actor`: one task per agent: invitations → accept (after the accept
//!   delay) or reject, user messages → a reply after the think time,
//!   `chats:close` → the slot is free, optional leave and breaks.
//! - `state`: who holds which chat, per-agent load, and the two hooks the
//!   webhook side calls (an event observer, the assign responder).
//! - `calls`: each API call, recorded in the run's metrics under a step
//!   `agent:<action>` and its route.
//! - `target`: [`prepare_target`], the mock's `PUT /__mock/simulation` switch.
//!
//! Events reach an actor two ways: the router's user subscription (events
//! that name the agent: `invitations:new`) and an observer for the chats the
//! pool holds (`messages:new`, whose `userId` is the sender, and
//! `chats:close`). Chat subscriptions are left to the virtual users: the
//! router keeps one inbox per chat.

mod actor;
mod calls;
mod state;
mod target;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

pub use actor::STOP_GRACE;
pub use calls::CallError;
pub use state::PROMISE_TTL;
pub use target::{
    MockRestore, MockSwitch, RESTORE_TIMEOUT, Simulated, prepare_target, switch_mock_off,
};

use crate::client::ApiClient;
use crate::lifecycle::EventTracker;
use crate::metrics::MetricsHub;
use crate::scenario::AgentsSpec;
use crate::webhook::receiver::AssignResponder;
use crate::webhook::{EventRouter, Inbox};
use actor::ActorCx;
use calls::AgentApi;
use state::{Assigner, ChatEvents, Counters, Member, Shared};

/// Logins run at most this many at a time (a large pool must not open
/// hundreds of connections at once before the run even starts).
const LOGIN_CONCURRENCY: usize = 16;

/// Why the agents could not be started or the target prepared.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Registration or login of one actor failed; the others were logged out.
    #[error("agent actor {number} could not start: {source}", number = .index + 1)]
    Start {
        index: usize,
        #[source]
        source: CallError,
    },
    /// `PUT /__mock/simulation` answered something other than success or 404.
    #[error("cannot switch the mock's simulated agents off: {0}")]
    MockSwitch(String),
}

pub use crate::report::{ActorSummary, AgentCounts, AgentSummary};

impl AgentCounts {
    fn read(c: &Counters) -> AgentCounts {
        let mut counts = AgentCounts::default();
        counts.zip_each(c, |n, a| *n = a.load(Ordering::Relaxed));
        counts
    }
}

/// The running actors.
#[derive(Debug)]
pub struct AgentPool {
    shared: Arc<Shared>,
    router: Arc<EventRouter>,
    cancel: CancellationToken,
    actors: Vec<JoinHandle<bool>>,
}

impl AgentPool {
    /// Registers (without `spec.ids`) and logs in every actor, subscribes
    /// their agent ids in `router`, and starts them. Returns once all are
    /// logged in, so the load can start with agents ready. API calls are
    /// recorded in `hub` when the spec's metrics were registered in its
    /// layout (`AgentsSpec::register_metrics`). `cancel` (the run's hard
    /// stop) also stops the actors; `seed` makes their choices replay.
    ///
    /// # Errors
    /// An actor that could not register or log in; those already logged in
    /// are logged out again.
    pub async fn start(
        spec: &AgentsSpec,
        client: Arc<ApiClient>,
        router: Arc<EventRouter>,
        hub: Option<Arc<MetricsHub>>,
        seed: u64,
        cancel: &CancellationToken,
    ) -> Result<AgentPool, AgentError> {
        let api = AgentApi::new(client, hub, spec.metrics);
        let spec = Arc::new(spec.clone());
        let mut rng = SmallRng::seed_from_u64(seed ^ 0xA6E7_5EED);
        let tag = format!("{:08x}", rng.next_u32());
        let ids = log_in_all(&api, &spec, &tag).await?;
        let members: Vec<Member> = ids
            .into_iter()
            .map(|agent_id| Member {
                agent_id,
                inbox: Inbox::new(),
                counters: Counters::default(),
            })
            .collect();
        let shared = Arc::new(Shared::new(members, spec.capacity));
        router.add_observer(Arc::new(ChatEvents(Arc::clone(&shared))));
        for m in &shared.members {
            router.subscribe_user(&m.agent_id, &m.inbox);
        }
        let cancel = cancel.child_token();
        let actors = (0..shared.members.len())
            .map(|index| {
                let cx = Arc::new(ActorCx {
                    index,
                    shared: Arc::clone(&shared),
                    api: api.clone(),
                    spec: Arc::clone(&spec),
                    cancel: cancel.clone(),
                });
                tokio::spawn(actor::run(cx, rng.next_u64()))
            })
            .collect();
        Ok(AgentPool {
            shared,
            router,
            cancel,
            actors,
        })
    }

    /// Tells `tracker` of the actors' accept, reply and leave calls, so the
    /// events they cause (the agent's join, reply, leave) are timed from
    /// them. Call before the load starts; a second call is ignored.
    pub fn measure_with(&self, tracker: Arc<EventTracker>) {
        let _ = self.shared.tracker.set(tracker);
    }

    /// The agent ids of the actors, in actor order.
    pub fn agent_ids(&self) -> Vec<String> {
        self.shared
            .members
            .iter()
            .map(|m| m.agent_id.clone())
            .collect()
    }

    /// Chats each actor holds (or was promised by `chats:assign`), in actor order.
    pub fn loads(&self) -> Vec<u32> {
        self.shared.loads()
    }

    /// Answers `chats:assign` with the least loaded actor that has a free
    /// slot (`None` when all are full): give it to
    /// `WebhookReceiver::set_assign_responder`.
    pub fn assign_responder(&self) -> Arc<dyn AssignResponder> {
        Arc::new(Assigner(Arc::clone(&self.shared)))
    }

    /// Stops every actor: no new answers, in-flight ones get
    /// [`STOP_GRACE`], then each agent logs out. Returns the counts at once
    /// (see [`AgentPool::stop_actors`] to count chats that end later).
    pub async fn stop(self) -> AgentSummary {
        self.stop_actors().await.summary()
    }

    /// Stops every actor as [`AgentPool::stop`] does; the counts are taken
    /// later by [`StoppedAgents::summary`], so the end of a chat that
    /// arrives meanwhile (a last `chats:close` during the settle wait) is
    /// still counted: `chats_handled + active_at_stop == accepted` per actor.
    pub async fn stop_actors(self) -> StoppedAgents {
        self.cancel.cancel();
        let mut logged_out = Vec::with_capacity(self.actors.len());
        for handle in self.actors {
            logged_out.push(handle.await.unwrap_or(false));
        }
        for m in &self.shared.members {
            self.router.unsubscribe_user(&m.agent_id);
        }
        StoppedAgents {
            shared: self.shared,
            logged_out,
        }
    }
}

/// Actors stopped and logged out; their chats' ends still counted until
/// [`StoppedAgents::summary`].
#[derive(Debug)]
pub struct StoppedAgents {
    shared: Arc<Shared>,
    logged_out: Vec<bool>,
}

impl StoppedAgents {
    /// The pool's counts now; `active_at_stop` is the chats still held
    /// active (accepted, not ended).
    pub fn summary(self) -> AgentSummary {
        let active = self.shared.active();
        let mut summary = AgentSummary::default();
        for (i, m) in self.shared.members.iter().enumerate() {
            let counts = AgentCounts::read(&m.counters);
            summary.totals.add(&counts);
            summary.actors.push(ActorSummary {
                agent_id: m.agent_id.clone(),
                counts,
                active_at_stop: active.get(i).copied().unwrap_or(0),
                logged_out: self.logged_out.get(i).copied().unwrap_or(false),
            });
        }
        summary
    }
}

/// Logs every actor in, [`LOGIN_CONCURRENCY`] at a time; ids in actor order.
async fn log_in_all(
    api: &AgentApi,
    spec: &Arc<AgentsSpec>,
    tag: &str,
) -> Result<Vec<String>, AgentError> {
    let gate = Arc::new(Semaphore::new(LOGIN_CONCURRENCY));
    let mut set = JoinSet::new();
    for index in 0..spec.count as usize {
        let (api, spec, gate, tag) = (
            api.clone(),
            Arc::clone(spec),
            Arc::clone(&gate),
            tag.to_owned(),
        );
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let id = spec.ids.get(index).map(String::as_str);
            (index, actor::log_in(&api, &spec, index, id, &tag).await)
        });
    }
    let mut ids = vec![String::new(); spec.count as usize];
    let mut failure = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((index, Ok(id))) => ids[index] = id,
            Ok((index, Err(source))) => {
                failure.get_or_insert(AgentError::Start { index, source });
            }
            Err(_) => {}
        }
    }
    if failure.is_none()
        && let Some(index) = ids.iter().position(String::is_empty)
    {
        failure = Some(AgentError::Start {
            index,
            source: CallError {
                action: crate::scenario::AgentAction::Login,
                status: None,
                detail: "the login task panicked".to_owned(),
            },
        });
    }
    if let Some(error) = failure {
        for id in ids.iter().filter(|id| !id.is_empty()) {
            actor::log_out(api, id).await;
        }
        return Err(error);
    }
    Ok(ids)
}
