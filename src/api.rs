//! The vocabulary of the Agent Chat API, generated from
//! `spec/agent-chat.openapi.yaml` by the `chatload-api` crate (shared with
//! the mock): every [`Operation`] with its method, path template, parameter
//! names, credential class and success status; webhook [`events`];
//! [`headers`]. A leaf module with no I/O: the scenario layer names
//! operations through it and the client builds requests from it.

pub use chatload_api::{
    AuthClass, BASE_PATH, Method, OPERATION_COUNT, Operation, PathSegment, events, headers,
    region_url,
};

/// `chats:join` and its alias `users:join` (the spec: "delivered alongside
/// it") are one event for waiting and measuring.
pub fn same_event(a: &str, b: &str) -> bool {
    a == b || (is_join(a) && is_join(b))
}

fn is_join(name: &str) -> bool {
    name == events::CHATS_JOIN || name == events::USERS_JOIN
}
