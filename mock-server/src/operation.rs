//! The catalogue of the 50 Agent Chat API operations the mock serves.
//!
//! Leaf module, no I/O: every operation's `operationId` (the name shared with
//! `spec/agent-chat.openapi.yaml`), HTTP method and path template. The router
//! (`routes`), the request counters (`stats`) and the fault table (`fault`)
//! all index by [`Operation`], so a route cannot be served without being
//! counted and fault-injectable.

use axum::http::Method;
use std::collections::HashMap;
use std::sync::LazyLock;

/// One API operation, named after its OpenAPI `operationId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `GET /apps/{appId}/validate`
    ValidateApp,
    /// `GET /apps`
    ListApps,
    /// `GET /apps/{appId}`
    GetApp,
    /// `POST /apps`
    CreateApp,
    /// `PUT /apps/{appId}`
    UpdateApp,
    /// `GET /agents/available`
    GetAgentsAvailable,
    /// `GET /agents/online`
    GetAgentsOnline,
    /// `POST /agents/login`
    AgentLogin,
    /// `POST /agents/logout`
    AgentLogout,
    /// `GET /agents`
    ListAgents,
    /// `GET /agents/{agentId}`
    GetAgent,
    /// `POST /agents`
    CreateAgent,
    /// `PUT /agents/{agentId}`
    UpdateAgent,
    /// `GET /settings`
    GetSettings,
    /// `PUT /settings`
    UpdateSettings,
    /// `POST /users`
    CreateUser,
    /// `GET /users`
    ListUsers,
    /// `GET /users/{userId}`
    GetUser,
    /// `PUT /users/{userId}`
    UpdateUser,
    /// `POST /users/{userId}/activity`
    PostUserActivity,
    /// `POST /chats`
    CreateChat,
    /// `GET /chats`
    ListChats,
    /// `GET /chats/{chatId}`
    GetChat,
    /// `PUT /chats/{chatId}`
    UpdateChat,
    /// `DELETE /chats/{chatId}`
    CloseChat,
    /// `GET /chats/{chatId}/assign`
    AssignChat,
    /// `GET /chats/{chatId}/messages`
    ListChatMessages,
    /// `POST /chats/{chatId}/messages`
    SendChatMessage,
    /// `GET /chats/{chatId}/history`
    GetChatHistory,
    /// `POST /chats/{chatId}/history`
    ImportChatHistory,
    /// `POST /chats/{chatId}/toinbox`
    ChatToInbox,
    /// `GET /chats/{chatId}/users`
    ListChatUsers,
    /// `POST /chats/{chatId}/join`
    JoinChat,
    /// `PUT /chats/{chatId}/leave`
    LeaveChat,
    /// `PUT /messages/{messageId}/read`
    MarkMessageRead,
    /// `POST /invitations`
    CreateInvitation,
    /// `POST /invitations/accept`
    AcceptInvitation,
    /// `POST /invitations/reject`
    RejectInvitation,
    /// `POST /media`
    UploadMedia,
    /// `GET /media`
    ListMedia,
    /// `GET /media/{mediaId}`
    GetMedia,
    /// `GET /queues/status`
    GetQueuesStatus,
    /// `GET /queues/update/{chatId}`
    GetQueueUpdate,
    /// `GET /id`
    GetId,
    /// `GET /webhooks`
    ListWebhooks,
    /// `GET /webhooks/{webhookId}`
    GetWebhook,
    /// `POST /webhooks`
    CreateWebhook,
    /// `PUT /webhooks/{webhookId}`
    UpdateWebhook,
    /// `DELETE /webhooks/{webhookId}`
    DeleteWebhook,
    /// `GET /surveys/{surveyId}`
    GetSurvey,
}

/// Number of API operations.
pub const OPERATION_COUNT: usize = 50;

impl Operation {
    /// Every operation, in catalogue order (`ALL[op.index()] == op`).
    pub const ALL: [Operation; OPERATION_COUNT] = [
        Operation::ValidateApp,
        Operation::ListApps,
        Operation::GetApp,
        Operation::CreateApp,
        Operation::UpdateApp,
        Operation::GetAgentsAvailable,
        Operation::GetAgentsOnline,
        Operation::AgentLogin,
        Operation::AgentLogout,
        Operation::ListAgents,
        Operation::GetAgent,
        Operation::CreateAgent,
        Operation::UpdateAgent,
        Operation::GetSettings,
        Operation::UpdateSettings,
        Operation::CreateUser,
        Operation::ListUsers,
        Operation::GetUser,
        Operation::UpdateUser,
        Operation::PostUserActivity,
        Operation::CreateChat,
        Operation::ListChats,
        Operation::GetChat,
        Operation::UpdateChat,
        Operation::CloseChat,
        Operation::AssignChat,
        Operation::ListChatMessages,
        Operation::SendChatMessage,
        Operation::GetChatHistory,
        Operation::ImportChatHistory,
        Operation::ChatToInbox,
        Operation::ListChatUsers,
        Operation::JoinChat,
        Operation::LeaveChat,
        Operation::MarkMessageRead,
        Operation::CreateInvitation,
        Operation::AcceptInvitation,
        Operation::RejectInvitation,
        Operation::UploadMedia,
        Operation::ListMedia,
        Operation::GetMedia,
        Operation::GetQueuesStatus,
        Operation::GetQueueUpdate,
        Operation::GetId,
        Operation::ListWebhooks,
        Operation::GetWebhook,
        Operation::CreateWebhook,
        Operation::UpdateWebhook,
        Operation::DeleteWebhook,
        Operation::GetSurvey,
    ];

    /// The OpenAPI `operationId`, used as the key in stats and fault tables.
    pub fn name(self) -> &'static str {
        match self {
            Operation::ValidateApp => "validateApp",
            Operation::ListApps => "listApps",
            Operation::GetApp => "getApp",
            Operation::CreateApp => "createApp",
            Operation::UpdateApp => "updateApp",
            Operation::GetAgentsAvailable => "getAgentsAvailable",
            Operation::GetAgentsOnline => "getAgentsOnline",
            Operation::AgentLogin => "agentLogin",
            Operation::AgentLogout => "agentLogout",
            Operation::ListAgents => "listAgents",
            Operation::GetAgent => "getAgent",
            Operation::CreateAgent => "createAgent",
            Operation::UpdateAgent => "updateAgent",
            Operation::GetSettings => "getSettings",
            Operation::UpdateSettings => "updateSettings",
            Operation::CreateUser => "createUser",
            Operation::ListUsers => "listUsers",
            Operation::GetUser => "getUser",
            Operation::UpdateUser => "updateUser",
            Operation::PostUserActivity => "postUserActivity",
            Operation::CreateChat => "createChat",
            Operation::ListChats => "listChats",
            Operation::GetChat => "getChat",
            Operation::UpdateChat => "updateChat",
            Operation::CloseChat => "closeChat",
            Operation::AssignChat => "assignChat",
            Operation::ListChatMessages => "listChatMessages",
            Operation::SendChatMessage => "sendChatMessage",
            Operation::GetChatHistory => "getChatHistory",
            Operation::ImportChatHistory => "importChatHistory",
            Operation::ChatToInbox => "chatToInbox",
            Operation::ListChatUsers => "listChatUsers",
            Operation::JoinChat => "joinChat",
            Operation::LeaveChat => "leaveChat",
            Operation::MarkMessageRead => "markMessageRead",
            Operation::CreateInvitation => "createInvitation",
            Operation::AcceptInvitation => "acceptInvitation",
            Operation::RejectInvitation => "rejectInvitation",
            Operation::UploadMedia => "uploadMedia",
            Operation::ListMedia => "listMedia",
            Operation::GetMedia => "getMedia",
            Operation::GetQueuesStatus => "getQueuesStatus",
            Operation::GetQueueUpdate => "getQueueUpdate",
            Operation::GetId => "getId",
            Operation::ListWebhooks => "listWebhooks",
            Operation::GetWebhook => "getWebhook",
            Operation::CreateWebhook => "createWebhook",
            Operation::UpdateWebhook => "updateWebhook",
            Operation::DeleteWebhook => "deleteWebhook",
            Operation::GetSurvey => "getSurvey",
        }
    }

    /// The HTTP method.
    pub fn method(self) -> Method {
        match self {
            Operation::ValidateApp => Method::GET,
            Operation::ListApps => Method::GET,
            Operation::GetApp => Method::GET,
            Operation::CreateApp => Method::POST,
            Operation::UpdateApp => Method::PUT,
            Operation::GetAgentsAvailable => Method::GET,
            Operation::GetAgentsOnline => Method::GET,
            Operation::AgentLogin => Method::POST,
            Operation::AgentLogout => Method::POST,
            Operation::ListAgents => Method::GET,
            Operation::GetAgent => Method::GET,
            Operation::CreateAgent => Method::POST,
            Operation::UpdateAgent => Method::PUT,
            Operation::GetSettings => Method::GET,
            Operation::UpdateSettings => Method::PUT,
            Operation::CreateUser => Method::POST,
            Operation::ListUsers => Method::GET,
            Operation::GetUser => Method::GET,
            Operation::UpdateUser => Method::PUT,
            Operation::PostUserActivity => Method::POST,
            Operation::CreateChat => Method::POST,
            Operation::ListChats => Method::GET,
            Operation::GetChat => Method::GET,
            Operation::UpdateChat => Method::PUT,
            Operation::CloseChat => Method::DELETE,
            Operation::AssignChat => Method::GET,
            Operation::ListChatMessages => Method::GET,
            Operation::SendChatMessage => Method::POST,
            Operation::GetChatHistory => Method::GET,
            Operation::ImportChatHistory => Method::POST,
            Operation::ChatToInbox => Method::POST,
            Operation::ListChatUsers => Method::GET,
            Operation::JoinChat => Method::POST,
            Operation::LeaveChat => Method::PUT,
            Operation::MarkMessageRead => Method::PUT,
            Operation::CreateInvitation => Method::POST,
            Operation::AcceptInvitation => Method::POST,
            Operation::RejectInvitation => Method::POST,
            Operation::UploadMedia => Method::POST,
            Operation::ListMedia => Method::GET,
            Operation::GetMedia => Method::GET,
            Operation::GetQueuesStatus => Method::GET,
            Operation::GetQueueUpdate => Method::GET,
            Operation::GetId => Method::GET,
            Operation::ListWebhooks => Method::GET,
            Operation::GetWebhook => Method::GET,
            Operation::CreateWebhook => Method::POST,
            Operation::UpdateWebhook => Method::PUT,
            Operation::DeleteWebhook => Method::DELETE,
            Operation::GetSurvey => Method::GET,
        }
    }

    /// The axum path template, including the `/v1` base path.
    pub fn path(self) -> &'static str {
        match self {
            Operation::ValidateApp => "/v1/apps/{appId}/validate",
            Operation::ListApps => "/v1/apps",
            Operation::GetApp => "/v1/apps/{appId}",
            Operation::CreateApp => "/v1/apps",
            Operation::UpdateApp => "/v1/apps/{appId}",
            Operation::GetAgentsAvailable => "/v1/agents/available",
            Operation::GetAgentsOnline => "/v1/agents/online",
            Operation::AgentLogin => "/v1/agents/login",
            Operation::AgentLogout => "/v1/agents/logout",
            Operation::ListAgents => "/v1/agents",
            Operation::GetAgent => "/v1/agents/{agentId}",
            Operation::CreateAgent => "/v1/agents",
            Operation::UpdateAgent => "/v1/agents/{agentId}",
            Operation::GetSettings => "/v1/settings",
            Operation::UpdateSettings => "/v1/settings",
            Operation::CreateUser => "/v1/users",
            Operation::ListUsers => "/v1/users",
            Operation::GetUser => "/v1/users/{userId}",
            Operation::UpdateUser => "/v1/users/{userId}",
            Operation::PostUserActivity => "/v1/users/{userId}/activity",
            Operation::CreateChat => "/v1/chats",
            Operation::ListChats => "/v1/chats",
            Operation::GetChat => "/v1/chats/{chatId}",
            Operation::UpdateChat => "/v1/chats/{chatId}",
            Operation::CloseChat => "/v1/chats/{chatId}",
            Operation::AssignChat => "/v1/chats/{chatId}/assign",
            Operation::ListChatMessages => "/v1/chats/{chatId}/messages",
            Operation::SendChatMessage => "/v1/chats/{chatId}/messages",
            Operation::GetChatHistory => "/v1/chats/{chatId}/history",
            Operation::ImportChatHistory => "/v1/chats/{chatId}/history",
            Operation::ChatToInbox => "/v1/chats/{chatId}/toinbox",
            Operation::ListChatUsers => "/v1/chats/{chatId}/users",
            Operation::JoinChat => "/v1/chats/{chatId}/join",
            Operation::LeaveChat => "/v1/chats/{chatId}/leave",
            Operation::MarkMessageRead => "/v1/messages/{messageId}/read",
            Operation::CreateInvitation => "/v1/invitations",
            Operation::AcceptInvitation => "/v1/invitations/accept",
            Operation::RejectInvitation => "/v1/invitations/reject",
            Operation::UploadMedia => "/v1/media",
            Operation::ListMedia => "/v1/media",
            Operation::GetMedia => "/v1/media/{mediaId}",
            Operation::GetQueuesStatus => "/v1/queues/status",
            Operation::GetQueueUpdate => "/v1/queues/update/{chatId}",
            Operation::GetId => "/v1/id",
            Operation::ListWebhooks => "/v1/webhooks",
            Operation::GetWebhook => "/v1/webhooks/{webhookId}",
            Operation::CreateWebhook => "/v1/webhooks",
            Operation::UpdateWebhook => "/v1/webhooks/{webhookId}",
            Operation::DeleteWebhook => "/v1/webhooks/{webhookId}",
            Operation::GetSurvey => "/v1/surveys/{surveyId}",
        }
    }

    /// Position in [`Operation::ALL`]; used to index atomic counters.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Looks an operation up by its `operationId`.
    pub fn from_name(name: &str) -> Option<Operation> {
        Self::ALL.iter().copied().find(|op| op.name() == name)
    }

    /// The operation served at a matched path template with this method.
    /// Called for every request: one hash lookup, not a scan of the
    /// catalogue.
    pub fn from_route(method: &Method, matched_path: &str) -> Option<Operation> {
        let slot = method_slot(method)?;
        ROUTES.get(matched_path)?[slot]
    }

    /// Whether a success answers `201 Created` (otherwise `200 OK`).
    pub fn is_created(self) -> bool {
        matches!(
            self,
            Operation::CreateUser
                | Operation::CreateChat
                | Operation::SendChatMessage
                | Operation::UploadMedia
                | Operation::CreateWebhook
        )
    }
}

/// The methods the catalogue uses, as indexes into [`ROUTES`]' entries.
fn method_slot(method: &Method) -> Option<usize> {
    match *method {
        Method::GET => Some(0),
        Method::POST => Some(1),
        Method::PUT => Some(2),
        Method::DELETE => Some(3),
        _ => None,
    }
}

/// Path template → operation per method slot, built from the catalogue.
static ROUTES: LazyLock<HashMap<&'static str, [Option<Operation>; 4]>> = LazyLock::new(|| {
    let mut routes: HashMap<&'static str, [Option<Operation>; 4]> = HashMap::new();
    for op in Operation::ALL {
        if let Some(slot) = method_slot(&op.method()) {
            routes.entry(op.path()).or_default()[slot] = Some(op);
        }
    }
    routes
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_consistent() {
        for (i, op) in Operation::ALL.iter().enumerate() {
            assert_eq!(op.index(), i);
            assert_eq!(Operation::from_name(op.name()), Some(*op));
            assert_eq!(Operation::from_route(&op.method(), op.path()), Some(*op));
        }
    }

    #[test]
    fn from_route_agrees_with_a_scan_of_the_catalogue() {
        let methods = [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::HEAD,
        ];
        let paths =
            Operation::ALL
                .iter()
                .map(|op| op.path())
                .chain(["/v1/nope", "/__mock/stats", ""]);
        for path in paths {
            for method in &methods {
                let scan = Operation::ALL
                    .iter()
                    .copied()
                    .find(|op| op.path() == path && op.method() == *method);
                assert_eq!(Operation::from_route(method, path), scan, "{method} {path}");
            }
        }
    }
}
