//! The generated vocabulary against the spec's own text, and the matcher.

use super::*;

#[test]
fn the_table_has_one_row_per_operation_with_unique_ids_and_routes() {
    assert_eq!(Operation::ALL.len(), 50);
    let mut ids: Vec<&str> = Operation::ALL.iter().map(|o| o.id()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 50);
    let mut routes: Vec<&str> = Operation::ALL.iter().map(|o| o.route_key()).collect();
    routes.sort_unstable();
    routes.dedup();
    assert_eq!(routes.len(), 50, "method + path must be unique");
    for (i, op) in Operation::ALL.into_iter().enumerate() {
        assert_eq!(op.index(), i);
        assert_eq!(Operation::from_id(op.id()), Some(op));
        assert_eq!(Operation::from_route(op.method(), op.path()), Some(op));
        assert_eq!(op.full_path(), format!("{BASE_PATH}{}", op.path()));
    }
}

#[test]
fn rows_carry_what_the_spec_says() {
    let op = Operation::CloseChat;
    assert_eq!(
        (op.id(), op.method(), op.path(), op.route_key()),
        (
            "closeChat",
            Method::Delete,
            "/chats/{chatId}",
            "DELETE /chats/{chatId}"
        )
    );
    assert_eq!(op.path_params(), ["chatId"]);
    assert_eq!(op.query_params(), ["userId"]);
    assert_eq!(op.auth(), AuthClass::Secret);
    assert_eq!(op.success_status(), 200);
    assert_eq!(Operation::CreateChat.success_status(), 201);
    assert_eq!(Operation::CreateUser.auth(), AuthClass::Public);
    assert_eq!(Operation::GetUser.auth(), AuthClass::User);
    assert_eq!(BASE_PATH, "/v1");
    // Every row against the spec document itself.
    for op in Operation::ALL {
        let node = spec::operation(op);
        assert_eq!(node["operationId"], op.id());
        assert_eq!(node["x-auth"], op.auth().as_str());
        assert!(
            node["responses"]
                .get(op.success_status().to_string())
                .is_some()
        );
    }
}

#[test]
fn path_with_fills_the_template_in_order() {
    assert_eq!(Operation::GetChat.path_with(&["c-1"]), "/chats/c-1");
    assert_eq!(
        Operation::GetQueueUpdate.path_with(&["c-9"]),
        "/queues/update/c-9"
    );
    assert_eq!(Operation::ListChats.path_with(&[]), "/chats");
    assert_eq!(
        Operation::MarkMessageRead.path_with(&["m-2"]),
        "/messages/m-2/read"
    );
}

#[test]
#[should_panic(expected = "getChat takes")]
fn path_with_refuses_a_missing_parameter() {
    let _ = Operation::GetChat.path_with(&[]);
}

#[test]
fn from_route_picks_the_route_first_then_the_method() {
    use Method::{Delete, Get, Post, Put};
    let route = |m, p| Operation::from_route(m, p);
    assert_eq!(
        route(Get, "/agents/available"),
        Some(Operation::GetAgentsAvailable)
    );
    assert_eq!(route(Get, "/agents/a-7"), Some(Operation::GetAgent));
    assert_eq!(route(Get, "/agents/login"), None, "a 405, not getAgent");
    assert_eq!(route(Get, "/chats/c-1/assign"), Some(Operation::AssignChat));
    assert_eq!(route(Get, "/chats/{x}/assign"), Some(Operation::AssignChat));
    assert_eq!(route(Delete, "/chats/c-1/"), Some(Operation::CloseChat));
    assert_eq!(route(Put, "/chats/c-1?x=1"), Some(Operation::UpdateChat));
    assert_eq!(
        route(Get, "/queues/update/c-1"),
        Some(Operation::GetQueueUpdate)
    );
    assert_eq!(route(Post, "/chats/c-1"), None);
    assert_eq!(route(Get, "/nowhere"), None);
    assert_eq!(
        route(Get, "/chats//assign"),
        None,
        "a parameter is never empty"
    );
    use PathSegment::{Dynamic, Literal};
    let segs = |s: &[PathSegment<'_>]| Operation::from_segments(Get, s);
    assert_eq!(
        segs(&[Literal("chats"), Dynamic, Literal("assign")]),
        Some(Operation::AssignChat)
    );
    assert_eq!(segs(&[Dynamic, Literal("assign")]), None);
    assert_eq!(
        segs(&[Literal("agents"), Dynamic]),
        Some(Operation::GetAgent)
    );
}

#[test]
fn closest_names_the_nearest_operation() {
    use PathSegment::Literal;
    let near = Operation::closest(Method::Get, &[Literal("chat"), PathSegment::Dynamic]);
    assert_eq!(near, Operation::GetChat);
}

#[test]
fn events_headers_and_servers_come_from_the_spec() {
    let hooks = spec::document()["webhooks"].as_object().unwrap();
    assert_eq!(events::ALL.len(), hooks.len());
    assert!(events::ALL.iter().all(|e| hooks.contains_key(*e)));
    assert_eq!(events::CHATS_CLOSE, "chats:close");
    assert!(!events::DEFAULT_SUBSCRIPTION.contains(&events::CHATS_ASSIGN));
    assert!(!events::DEFAULT_SUBSCRIPTION.contains(&events::USERS_JOIN));
    assert_eq!(events::DEFAULT_SUBSCRIPTION.len(), events::ALL.len() - 2);
    assert_eq!(headers::APP_ID, "x-hyper-appId");
    assert_eq!(headers::SECRET, "x-hyper-secret");
    assert_eq!(headers::DOMAIN_KEY, "x-hyper-key");
    assert_eq!(headers::USER_TOKEN, "x-hyper-token");
    assert_eq!(headers::HOOK_SIGNATURE, "X-Hook-Signature");
    assert_eq!(headers::HOOK_SECRET, "X-Hook-Secret");
    assert_eq!(
        region_url("us", "v1").as_deref(),
        Ok("https://agentchat-us.inbenta.chat:8000/v1")
    );
    assert!(region_url("mars", "v1").unwrap_err().contains("eu or us"));
}

#[test]
fn method_names_parse_without_case() {
    assert_eq!(Method::parse("delete"), Some(Method::Delete));
    assert_eq!(Method::parse("PoSt"), Some(Method::Post));
    assert_eq!(Method::parse("PATCH"), None);
}

#[test]
fn every_operation_declares_its_success_and_a_401() {
    for op in Operation::ALL {
        let statuses: Vec<u16> = spec::responses(op).iter().map(|r| r.status).collect();
        assert!(statuses.contains(&op.success_status()), "{op}");
        assert!(statuses.contains(&401), "{op} declares no 401");
    }
}

#[cfg(feature = "schema")]
#[test]
fn the_compiler_resolves_component_references() {
    let create = spec::responses(Operation::CreateChat)
        .into_iter()
        .find(|r| r.status == 201)
        .and_then(|r| r.json_schema)
        .unwrap();
    let validator = schema::compile(&create).unwrap();
    assert!(!validator.is_valid(&serde_json::json!({"chat": {"id": 0}})));
    let event = spec::webhook_body_schema(events::CHATS_CLOSE).unwrap();
    assert!(schema::compile(&event).is_ok());
    assert!(schema::compile("/nothing/here").is_err());
}

#[test]
fn query_parameters_follow_refs_and_agree_with_the_table() {
    for op in Operation::ALL {
        let names: Vec<&str> = spec::query_parameters(op).iter().map(|p| p.name).collect();
        assert_eq!(names, op.query_params(), "{}", op.id());
    }
    let listed = spec::query_parameters(Operation::ListChats);
    let limit = listed.iter().find(|p| p.name == "limit").expect("limit");
    assert_eq!(limit.schema, "/components/parameters/limit/schema");
    assert_eq!(
        spec::document().pointer(&limit.schema).unwrap()["maximum"],
        500
    );
    let rooms = &spec::query_parameters(Operation::GetAgentsAvailable)[0];
    assert!(rooms.required);
    assert!(spec::document().pointer(&rooms.schema).unwrap()["pattern"].is_string());
}
