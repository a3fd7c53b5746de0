//! The operations the mock serves: `chatload-api`'s vocabulary, generated
//! from `spec/agent-chat.openapi.yaml` (no list of operations is written
//! here). The router (`routes`) serves exactly these, and the request
//! counters (`stats`) and the fault table (`fault`) index by [`Operation`],
//! so a route cannot be served without being counted and fault-injectable.

use axum::http::Method;
use chatload_api::{BASE_PATH, Method as ApiMethod};

pub use chatload_api::{OPERATION_COUNT, Operation};

/// The operation served at a matched path template (`/v1/chats/{chatId}`)
/// with this method. Called for every request: one hash lookup, no
/// allocation.
pub fn served(method: &Method, matched_path: &str) -> Option<Operation> {
    let method = match *method {
        Method::GET => ApiMethod::Get,
        Method::POST => ApiMethod::Post,
        Method::PUT => ApiMethod::Put,
        Method::DELETE => ApiMethod::Delete,
        _ => return None,
    };
    Operation::from_route(method, matched_path.strip_prefix(BASE_PATH)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_found_at_its_full_path_and_nothing_else() {
        for op in Operation::ALL {
            let method = Method::from_bytes(op.method().as_str().as_bytes()).unwrap();
            assert_eq!(served(&method, op.full_path()), Some(op));
        }
        assert_eq!(served(&Method::PATCH, "/v1/chats/{chatId}"), None);
        assert_eq!(served(&Method::GET, "/__mock/stats"), None);
        assert_eq!(served(&Method::GET, ""), None);
    }
}
