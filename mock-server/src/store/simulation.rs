//! The run-time switch of simulated agents (`PUT /__mock/simulation`), so
//! that agents driven through the API (the harness's agent actors) can take
//! every chat while the mock's own agents stand aside.
//!
//! Switching off stops the simulation (no automatic accept, reject or
//! reply), sets the configured agents offline and withdraws the invitations
//! they hold, which move on to other agents. Switching on undoes exactly
//! that. Agents created through `POST /agents` are never touched.

use super::{AppStore, Timer, TimerAction};
use crate::config::AgentStatus;
use std::time::Duration;

impl AppStore {
    /// Whether the configured (simulated) agents are switched on.
    pub fn simulated_agents_on(&self) -> bool {
        !self.agents_switched_off
    }

    /// Switches the simulated agents off or back on (idempotent).
    pub fn set_simulated_agents(&mut self, on: bool) {
        if on == self.simulated_agents_on() {
            return;
        }
        self.agents_switched_off = !on;
        if on {
            self.sim.simulate = self.configured_simulate;
            for user in self.users.values_mut() {
                if let Some(agent) = user.agent.as_deref_mut()
                    && let Some(status) = agent.paused_status.take()
                {
                    agent.status = status;
                }
            }
            let rooms: Vec<u32> = self.rooms.keys().copied().collect();
            self.dispatch_rooms(&rooms);
            return;
        }
        self.sim.simulate = false;
        for user in self.users.values_mut() {
            if let Some(agent) = user.agent.as_deref_mut()
                && agent.simulated
            {
                agent.paused_status = Some(agent.status);
                agent.status = AgentStatus::Offline;
            }
        }
        let held_by_simulated: Vec<String> = self
            .invitations
            .values()
            .filter(|i| self.is_simulated_agent(&i.user_id))
            .map(|i| i.id.clone())
            .collect();
        for id in held_by_simulated {
            self.withdraw_invitation(&id);
        }
        // The others were answered by simulated timers, which now do
        // nothing: let them expire like any unanswered invitation.
        if self.sim.invitation_timeout_ms > 0 {
            let delay = Duration::from_millis(self.sim.invitation_timeout_ms);
            let mut ids: Vec<String> = self.invitations.keys().cloned().collect();
            ids.sort_unstable();
            for id in ids {
                self.timers.push(Timer {
                    delay,
                    action: TimerAction::Expire(id),
                });
            }
        }
    }

    /// Switches only the simulated agents' answers (`simulate`): off, the
    /// agents stay online and their invitations wait for an answer through
    /// the API (`POST /invitations/accept`, as `chatload conform` gives
    /// it); on, they answer again. While the agents are switched off there
    /// is nothing to answer, and this changes nothing.
    pub fn set_simulated_answers(&mut self, on: bool) {
        if !self.agents_switched_off {
            self.sim.simulate = on;
        }
    }

    fn is_simulated_agent(&self, user_id: &str) -> bool {
        self.users
            .get(user_id)
            .and_then(|u| u.agent.as_deref())
            .is_some_and(|a| a.simulated)
    }

    /// Takes back an invitation without counting it as declined (the agent
    /// may be offered the chat again later); a waiting chat moves on.
    fn withdraw_invitation(&mut self, id: &str) {
        self.end_invitation(id, false);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{store, user_chat};
    use super::*;

    #[test]
    fn switching_off_hands_waiting_chats_to_api_agents() {
        let mut s = store(false);
        let chat = user_chat(&mut s, "u", 1);
        assert_eq!(s.assign(&chat, None).expect("ok").as_deref(), Some("a-1"));
        let api_agent = s
            .create_agent(crate::store::AgentUpdate {
                name: Some("Human".to_owned()),
                rooms: Some(vec![1]),
                ..Default::default()
            })
            .expect("agent");
        s.set_simulated_agents(false);
        assert_eq!(s.assigned_agent(&chat), Some(api_agent.clone()));
        assert_eq!(s.list_agents(Some(AgentStatus::Online), None).len(), 1);
        s.accept_invitation(&chat, &api_agent).expect("accept");
        s.set_simulated_agents(true);
        assert_eq!(s.list_agents(Some(AgentStatus::Online), None).len(), 9);
        assert!(s.simulation().simulate);
    }
}
