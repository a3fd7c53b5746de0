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
