//! The vocabulary of the Agent Chat API: every operation with its method, path
//! template and the credential class it needs.
//!
//! A leaf module with no I/O. The scenario layer names operations through it and
//! the client builds requests from it; neither shares Rust types with the mock.
//! The table mirrors `spec/agent-chat.openapi.yaml` (the single source of truth);
//! a test keeps the two in step.

use std::fmt;

/// Which credentials an operation accepts (reference §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthClass {
    /// App ID alone, App ID + domain key, user token or secret.
    Public,
    /// Secret, or the acting user's own session token.
    User,
    /// App ID + secret only.
    Secret,
}

/// HTTP methods the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    /// Upper-case name as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    /// Parses an HTTP method name, case-insensitively.
    pub fn parse(name: &str) -> Option<Method> {
        match name.to_ascii_uppercase().as_str() {
            "GET" => Some(Method::Get),
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            "DELETE" => Some(Method::Delete),
            _ => None,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One API operation: `operationId`, method, path template relative to `/v1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    pub id: &'static str,
    pub method: Method,
    pub path: &'static str,
    pub auth: AuthClass,
}

impl Operation {
    /// `"GET /chats/{chatId}"`, the key used for per-route metrics.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

const fn op(id: &'static str, method: Method, path: &'static str, auth: AuthClass) -> Operation {
    Operation {
        id,
        method,
        path,
        auth,
    }
}

use AuthClass::{Public, Secret, User};
use Method::{Delete, Get, Post, Put};

/// Every operation of the API, in the reference's order (§4).
pub const OPERATIONS: &[Operation] = &[
    op("validateApp", Get, "/apps/{appId}/validate", Public),
    op("listApps", Get, "/apps", Secret),
    op("getApp", Get, "/apps/{appId}", Secret),
    op("createApp", Post, "/apps", Secret),
    op("updateApp", Put, "/apps/{appId}", Secret),
    op("getAgentsAvailable", Get, "/agents/available", Public),
    op("getAgentsOnline", Get, "/agents/online", Public),
    op("agentLogin", Post, "/agents/login", Public),
    op("agentLogout", Post, "/agents/logout", Secret),
    op("listAgents", Get, "/agents", Secret),
    op("getAgent", Get, "/agents/{agentId}", Secret),
    op("createAgent", Post, "/agents", Secret),
    op("updateAgent", Put, "/agents/{agentId}", Secret),
    op("getSettings", Get, "/settings", Public),
    op("updateSettings", Put, "/settings", Secret),
    op("createUser", Post, "/users", Public),
    op("listUsers", Get, "/users", Secret),
    op("getUser", Get, "/users/{userId}", User),
    op("updateUser", Put, "/users/{userId}", Secret),
    op("postUserActivity", Post, "/users/{userId}/activity", Secret),
    op("createChat", Post, "/chats", Secret),
    op("listChats", Get, "/chats", Secret),
    op("getChat", Get, "/chats/{chatId}", Secret),
    op("updateChat", Put, "/chats/{chatId}", Secret),
    op("closeChat", Delete, "/chats/{chatId}", Secret),
    op("assignChat", Get, "/chats/{chatId}/assign", Secret),
    op("listChatMessages", Get, "/chats/{chatId}/messages", User),
    op("sendChatMessage", Post, "/chats/{chatId}/messages", Secret),
    op("getChatHistory", Get, "/chats/{chatId}/history", User),
    op("importChatHistory", Post, "/chats/{chatId}/history", Secret),
    op("chatToInbox", Post, "/chats/{chatId}/toinbox", Secret),
    op("listChatUsers", Get, "/chats/{chatId}/users", Secret),
    op("joinChat", Post, "/chats/{chatId}/join", Secret),
    op("leaveChat", Put, "/chats/{chatId}/leave", Secret),
    op("markMessageRead", Put, "/messages/{messageId}/read", Secret),
    op("createInvitation", Post, "/invitations", Secret),
    op("acceptInvitation", Post, "/invitations/accept", Secret),
    op("rejectInvitation", Post, "/invitations/reject", Secret),
    op("uploadMedia", Post, "/media", User),
    op("listMedia", Get, "/media", Secret),
    op("getMedia", Get, "/media/{mediaId}", User),
    op("getQueuesStatus", Get, "/queues/status", Secret),
    op("getQueueUpdate", Get, "/queues/update/{chatId}", Secret),
    op("getId", Get, "/id", Secret),
    op("listWebhooks", Get, "/webhooks", Secret),
    op("getWebhook", Get, "/webhooks/{webhookId}", Secret),
    op("createWebhook", Post, "/webhooks", Secret),
    op("updateWebhook", Put, "/webhooks/{webhookId}", Secret),
    op("deleteWebhook", Delete, "/webhooks/{webhookId}", Secret),
    op("getSurvey", Get, "/surveys/{surveyId}", Secret),
];

/// Looks an operation up by its `operationId`.
pub fn operation(id: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.id == id)
}

/// A path segment of a request written in a scenario: a literal, or a part
/// that is only known at run time (a `{{ variable }}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathSegment<'a> {
    Literal(&'a str),
    Dynamic,
}

/// Finds the operation a request goes to, from its method and its path split
/// into segments. A dynamic segment matches only a `{param}` of the template; a
/// literal segment matches the same literal, or a `{param}` when no operation
/// has that literal there (so `/chats/c-1` is `getChat`, `/chats/assign` is not
/// mistaken for anything but a chat id).
pub fn match_route(method: Method, segments: &[PathSegment<'_>]) -> Option<&'static Operation> {
    let mut best: Option<(&'static Operation, usize)> = None;
    for op in OPERATIONS.iter().filter(|op| op.method == method) {
        let template: Vec<&str> = op.path.trim_matches('/').split('/').collect();
        if template.len() != segments.len() {
            continue;
        }
        let mut literal_hits = 0;
        let fits = template.iter().zip(segments).all(|(t, s)| {
            let is_param = t.starts_with('{');
            match s {
                PathSegment::Dynamic => is_param,
                PathSegment::Literal(lit) if *t == *lit => {
                    literal_hits += 1;
                    true
                }
                PathSegment::Literal(_) => is_param,
            }
        });
        if fits && best.is_none_or(|(_, hits)| literal_hits > hits) {
            best = Some((op, literal_hits));
        }
    }
    best.map(|(op, _)| op)
}

/// The operation whose method and path look most like a request that
/// matches none (for "did you mean" messages): smallest edit distance between
/// `METHOD /path` texts, with every parameter written `{}`.
pub fn closest(method: Method, segments: &[PathSegment<'_>]) -> &'static Operation {
    let mut wanted = format!("{method} ");
    for s in segments {
        wanted.push('/');
        wanted.push_str(match s {
            PathSegment::Literal(lit) => lit,
            PathSegment::Dynamic => "{}",
        });
    }
    let shape = |op: &Operation| {
        let mut out = format!("{} ", op.method);
        for t in op.path.trim_matches('/').split('/') {
            out.push('/');
            out.push_str(if t.starts_with('{') { "{}" } else { t });
        }
        out
    };
    OPERATIONS
        .iter()
        .min_by_key(|op| edit_distance(&wanted, &shape(op)))
        .expect("the catalogue is not empty")
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_fifty_unique_operations() {
        assert_eq!(OPERATIONS.len(), 50);
        let mut ids: Vec<&str> = OPERATIONS.iter().map(|o| o.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 50);
        let mut routes: Vec<String> = OPERATIONS.iter().map(Operation::route_key).collect();
        routes.sort();
        routes.dedup();
        assert_eq!(routes.len(), 50, "method + path must be unique");
    }

    #[test]
    fn literal_segments_prefer_the_most_specific_route() {
        use PathSegment::{Dynamic, Literal};
        let get = |segs: &[PathSegment<'_>]| match_route(Method::Get, segs).map(|o| o.id);
        assert_eq!(
            get(&[Literal("agents"), Literal("available")]),
            Some("getAgentsAvailable")
        );
        assert_eq!(get(&[Literal("agents"), Literal("a-7")]), Some("getAgent"));
        assert_eq!(
            get(&[Literal("chats"), Dynamic, Literal("assign")]),
            Some("assignChat")
        );
        assert_eq!(
            get(&[Literal("queues"), Literal("update"), Dynamic]),
            Some("getQueueUpdate")
        );
        assert_eq!(get(&[Literal("nowhere")]), None);
        assert_eq!(get(&[Dynamic, Literal("assign")]), None);
    }
}
