//! Agent actors against the real mock (port 0, simulated agents off).
//!
//! Each test takes the mock's events in process
//! (`testing::start_mock_relayed`) and does what the webhook receiver does:
//! wrap each in the `{trigger, appId, data, created_at}` envelope, parse it
//! as the receiver would and dispatch it into the `EventRouter` (or withhold
//! it, as a lost webhook). The
//! actors make their real API calls to the mock; the test plays the end
//! user over HTTP and checks the outcome through the API.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chatload::agents::{AgentPool, MockSwitch, prepare_target};
use chatload::client::{ApiClient, ClientConfig, Credentials};
use chatload::metrics::{MetricsHub, MetricsLayout, StepInfo};
use chatload::scenario::{AgentsSpec, Think};
use chatload::webhook::{EventRouter, WebhookEvent};
use chatload_mock::MockConfig;
use chatload_mock::testing::{
    AppClient, Cred, Mock, envelope, envelope_of, poll, start_mock_relayed,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const APP: &str = "agent-app";
const SECRET: &str = "agent-secret";

/// No generated agents: only those the actors register, plus `big`
/// (5 slots, offline until an actor logs in as it). Invitations never
/// expire on their own.
const MOCK: &str = r#"
seed: 7
simulation: {simulate: false, invitation_timeout_ms: 0}
apps:
  - id: agent-app
    secret: agent-secret
    rooms: [1]
    agents_per_room: 0
    agents:
      - {id: big, rooms: [1], capacity: 5, status: offline}
"#;

fn parse(body: &[u8]) -> WebhookEvent {
    WebhookEvent::parse(body, Instant::now()).expect("an envelope")
}

struct World {
    mock: Mock,
    router: Arc<EventRouter>,
    /// Event names the relay stops forwarding (a lost or late webhook).
    withheld: Arc<std::sync::Mutex<Vec<&'static str>>>,
    client: Arc<ApiClient>,
    /// The test's own client, playing the end user.
    app: AppClient,
}

async fn world() -> World {
    let config = MockConfig::from_yaml_str(MOCK, "agents-mock.yaml").expect("mock config");
    let (mock, mut rx) = start_mock_relayed(config).await;
    let router = EventRouter::new();
    let r = Arc::clone(&router);
    let withheld = Arc::new(std::sync::Mutex::new(Vec::new()));
    let skip = Arc::clone(&withheld);
    tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if !skip.lock().expect("withheld").contains(&e.trigger) {
                r.dispatch(parse(&envelope(&e)));
            }
        }
    });
    let client = ApiClient::new(&ClientConfig {
        base_url: mock.base_url(),
        credentials: Credentials {
            app_id: Some(APP.to_owned()),
            secret: Some(SECRET.to_owned()),
            domain_key: None,
        },
        extra_headers: Vec::new(),
        timeout: Duration::from_secs(10),
        pool_size: 8,
        policy: Default::default(),
        max_body: chatload::client::DEFAULT_MAX_BODY,
    })
    .expect("client");
    let app = mock.client(APP, Cred::Secret(SECRET.to_owned()));
    World {
        mock,
        router,
        withheld,
        client: Arc::new(client),
        app,
    }
}

impl World {
    async fn get(&self, path: &str) -> Value {
        self.app.get(path).await.expect(200)
    }

    /// A user with a waiting chat in room 1, then `assign`: returns
    /// (user, chat, agent the mock invited).
    async fn user_chat_assigned(&self, name: &str) -> (String, String, Value) {
        let (user, _) = self.app.create_user(name).await;
        let chat = self.app.create_chat(&user, 1).await;
        let chat = chat["id"].as_str().expect("chat id").to_owned();
        let assigned = self.get(&format!("/chats/{chat}/assign")).await;
        (user, chat, assigned["agent"]["id"].clone())
    }

    async fn chat_status(&self, chat: &str) -> String {
        self.get(&format!("/chats/{chat}")).await["chat"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Polls until the chat has `status`; the time it took.
    async fn wait_status(&self, chat: &str, status: &str) -> Duration {
        let start = Instant::now();
        self.app.wait_chat_status(chat, status).await;
        start.elapsed()
    }

    async fn messages_from(&self, chat: &str, sender: &str) -> Vec<String> {
        self.get(&format!("/chats/{chat}/messages")).await["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter(|m| m["sender"] == sender)
            .map(|m| m["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// A hub whose layout holds the spec's agent steps and routes.
fn hub_for(spec: &mut AgentsSpec) -> Arc<MetricsHub> {
    let (mut steps, mut routes) = (Vec::new(), Vec::new());
    spec.register_metrics(&mut steps, &mut routes);
    let layout = MetricsLayout {
        steps: steps
            .into_iter()
            .map(|(name, flow)| StepInfo {
                name,
                flow,
                pause: false,
            })
            .collect(),
        routes: routes.into_iter().map(|r| r.key).collect(),
        flows: Vec::new(),
    };
    Arc::new(MetricsHub::new(Arc::new(layout), 1))
}

/// (count, errors) of a step in the hub.
fn step_counts(hub: &MetricsHub, name: &str) -> (u64, u64) {
    let m = hub.finish(Duration::from_secs(1));
    let i = m
        .layout
        .steps
        .iter()
        .position(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name}"));
    (m.steps[i].count, m.steps[i].errors)
}

fn ms(n: u64) -> Think {
    Think::Fixed(Duration::from_millis(n))
}

async fn start(w: &World, spec: &AgentsSpec, hub: Option<Arc<MetricsHub>>) -> AgentPool {
    AgentPool::start(
        spec,
        Arc::clone(&w.client),
        Arc::clone(&w.router),
        hub,
        7,
        &CancellationToken::new(),
    )
    .await
    .expect("agents log in")
}

#[tokio::test]
async fn actor_accepts_an_invitation_through_the_api_after_its_delay() {
    let w = world().await;
    let mut spec = AgentsSpec {
        accept_delay: ms(300),
        ..AgentsSpec::default()
    };
    let hub = hub_for(&mut spec);
    let pool = start(&w, &spec, Some(Arc::clone(&hub))).await;
    let agent = pool.agent_ids()[0].clone();
    let registered = w.get(&format!("/agents/{agent}")).await;
    assert_eq!(registered["agent"]["status"], "online", "{registered}");

    let (_, chat, invited) = w.user_chat_assigned("Ann").await;
    assert_eq!(
        invited,
        agent.as_str(),
        "the only agent in room 1 is the actor"
    );
    let waited = w.wait_status(&chat, "active").await;
    assert!(
        waited >= Duration::from_millis(250),
        "accepted after {waited:?}, before the 300ms accept delay"
    );
    let active = w.get(&format!("/chats/{chat}")).await;
    assert_eq!(active["chat"]["agent"], agent.as_str());

    let summary = pool.stop().await;
    assert_eq!(summary.totals.invitations, 1);
    assert_eq!(summary.totals.accepted, 1);
    assert_eq!(summary.totals.errors, 0);
    assert_eq!(summary.actors[0].active_at_stop, 1);
    assert_eq!(step_counts(&hub, "agent:register"), (1, 0));
    assert_eq!(step_counts(&hub, "agent:accept"), (1, 0));
}

#[tokio::test]
async fn a_user_message_gets_one_reply_after_the_think_time_then_the_agent_leaves() {
    let w = world().await;
    let spec = AgentsSpec {
        reply_think: ms(300),
        reply: "re #{{reply_number}} from {{agent_id}} in {{chat_id}}".to_owned(),
        leave_after: Some(1),
        ..AgentsSpec::default()
    };
    let pool = start(&w, &spec, None).await;
    let agent = pool.agent_ids()[0].clone();
    let (user, chat, _) = w.user_chat_assigned("Bob").await;
    w.wait_status(&chat, "active").await;

    let sent = Instant::now();
    w.app
        .post(
            &format!("/chats/{chat}/messages"),
            json!({"sender": user, "message": "hello?"}),
        )
        .await
        .expect(201);
    let replies = poll("a reply", || async {
        let replies = w.messages_from(&chat, &agent).await;
        (!replies.is_empty()).then_some(replies)
    })
    .await;
    let took = sent.elapsed();
    assert!(took >= Duration::from_millis(250), "replied after {took:?}");
    assert_eq!(replies, [format!("re #1 from {agent} in {chat}")]);
    // leave_after: 1 → the agent leaves, the chat waits for another agent.
    w.wait_status(&chat, "waiting").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        w.messages_from(&chat, &agent).await.len(),
        1,
        "one reply only"
    );

    let summary = pool.stop().await;
    assert_eq!(summary.totals.replies, 1);
    assert_eq!(summary.totals.left, 1);
    assert_eq!(summary.totals.chats_handled, 1);
    assert_eq!(summary.actors[0].active_at_stop, 0);
    assert_eq!(summary.totals.errors, 0);
}

#[tokio::test]
async fn capacity_three_rejects_a_fourth_invitation_and_a_close_frees_a_slot() {
    let w = world().await;
    // `big` has 5 slots on the mock, so the mock does offer a 4th chat;
    // the actor's own capacity of 3 must turn it down.
    let spec = AgentsSpec {
        ids: vec!["big".to_owned()],
        capacity: 3,
        ..AgentsSpec::default()
    };
    let pool = start(&w, &spec, None).await;
    let mut chats = Vec::new();
    for name in ["u1", "u2", "u3", "u4"] {
        let (user, chat, invited) = w.user_chat_assigned(name).await;
        assert_eq!(invited, "big");
        chats.push((user, chat));
    }
    for (_, chat) in &chats[..3] {
        w.wait_status(chat, "active").await;
    }
    // Rejected: nobody else can take it, so the mock records forever:alone.
    let fourth = chats[3].1.clone();
    poll("the 4th rejected", || async {
        let events = w.mock.events("forever:alone").await;
        let rejected = events
            .iter()
            .any(|e| e["data"]["chatId"] == fourth.as_str());
        rejected.then_some(())
    })
    .await;
    assert_eq!(w.chat_status(&fourth).await, "waiting");
    assert_eq!(pool.loads(), [3]);

    // The user closes chat 1: chats:close frees the slot, a 5th is accepted.
    let (user, chat) = &chats[0];
    w.app
        .delete(&format!("/chats/{chat}"), Some(json!({"userId": user})))
        .await
        .expect(200);
    poll("a slot freed", || async {
        (pool.loads() == [2]).then_some(())
    })
    .await;
    let (_, fifth, _) = w.user_chat_assigned("u5").await;
    w.wait_status(&fifth, "active").await;

    let summary = pool.stop().await;
    assert_eq!(summary.totals.invitations, 5);
    assert_eq!(summary.totals.accepted, 4);
    assert_eq!(summary.totals.rejected, 1);
    assert_eq!(summary.totals.rejected_full, 1);
    assert_eq!(summary.totals.chats_handled, 1);
    assert_eq!(summary.totals.errors, 0);
}

/// The API, not the order events arrive in, frees a slot: the close of
/// the first chat never reaches the actor (as when the next chat's
/// invitation overtakes it), yet the invitation to a second chat finds the
/// slot free once `GET /chats/{chatId}` says the first one is closed.
#[tokio::test]
async fn a_full_actor_asks_the_api_and_takes_a_chat_whose_close_it_never_heard_of() {
    let w = world().await;
    let mut spec = AgentsSpec {
        ids: vec!["big".to_owned()],
        capacity: 1,
        ..AgentsSpec::default()
    };
    let hub = hub_for(&mut spec);
    let pool = start(&w, &spec, Some(Arc::clone(&hub))).await;
    let (user, first, _) = w.user_chat_assigned("Di").await;
    w.wait_status(&first, "active").await;
    w.withheld.lock().expect("withheld").push("chats:close");
    w.app
        .delete(&format!("/chats/{first}"), Some(json!({"userId": user})))
        .await
        .expect(200);
    assert_eq!(pool.loads(), [1], "the actor has not heard of the close");

    let (_, second, invited) = w.user_chat_assigned("Ed").await;
    assert_eq!(invited, "big", "the mock sees big's free slots");
    w.wait_status(&second, "active").await;

    let summary = pool.stop().await;
    assert_eq!(summary.totals.rejected_full, 0, "{summary:?}");
    assert_eq!(summary.totals.reclaimed, 1);
    assert_eq!(summary.totals.accepted, 2);
    assert_eq!(summary.totals.chats_handled, 1);
    assert_eq!(summary.totals.errors, 0);
    assert_eq!(step_counts(&hub, "agent:check"), (1, 0));
}

#[tokio::test]
async fn reject_probability_one_rejects_through_the_api() {
    let w = world().await;
    let mut spec = AgentsSpec {
        reject_probability: 1.0,
        ..AgentsSpec::default()
    };
    let hub = hub_for(&mut spec);
    let pool = start(&w, &spec, Some(Arc::clone(&hub))).await;
    let (_, chat, _) = w.user_chat_assigned("Cy").await;
    poll("a rejection", || async {
        let events = w.mock.events("forever:alone").await;
        (!events.is_empty()).then_some(())
    })
    .await;
    assert_eq!(w.chat_status(&chat).await, "waiting");
    let summary = pool.stop().await;
    assert_eq!((summary.totals.rejected, summary.totals.accepted), (1, 0));
    assert_eq!(summary.totals.rejected_full, 0);
    assert_eq!(step_counts(&hub, "agent:reject"), (1, 0));
}

#[tokio::test]
async fn breaks_set_the_agent_away_then_online_through_the_api() {
    let w = world().await;
    let mut spec = AgentsSpec {
        breaks: Some(chatload::scenario::AgentBreaks {
            every: Duration::from_millis(400),
            duration: Duration::from_millis(400),
        }),
        ..AgentsSpec::default()
    };
    let hub = hub_for(&mut spec);
    let pool = start(&w, &spec, Some(Arc::clone(&hub))).await;
    let path = format!("/agents/{}", pool.agent_ids()[0]);
    let t = Instant::now();
    let mut seen = Vec::new();
    // online until 400ms, away until 800ms, online until the next break at 1200ms.
    while t.elapsed() < Duration::from_millis(1000) {
        let status = w.get(&path).await["agent"]["status"].clone();
        if seen.last() != Some(&status) {
            seen.push(status);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, [json!("online"), json!("away"), json!("online")]);
    let summary = pool.stop().await;
    assert_eq!(summary.totals.breaks, 1);
    assert_eq!(step_counts(&hub, "agent:status"), (2, 0));
}

#[tokio::test]
async fn a_redelivered_invitation_is_answered_once() {
    let w = world().await;
    let pool = start(&w, &AgentsSpec::default(), None).await;
    let agent = pool.agent_ids()[0].clone();
    let (_, chat, _) = w.user_chat_assigned("Di").await;
    w.wait_status(&chat, "active").await;
    // What a duplicated delivery looks like to the receiver.
    let again = json!({"chatId": chat, "userId": agent});
    w.router
        .dispatch(parse(&envelope_of("invitations:new", APP, &again, 1)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let summary = pool.stop().await;
    assert_eq!(summary.totals.invitations, 1);
    assert_eq!(summary.totals.errors, 0, "no second accept (a 409)");
}

#[tokio::test]
async fn stop_logs_every_agent_out_and_the_assign_responder_uses_the_pool() {
    let w = world().await;
    let mut spec = AgentsSpec {
        count: 2,
        ..AgentsSpec::default()
    };
    let hub = hub_for(&mut spec);
    let pool = start(&w, &spec, Some(Arc::clone(&hub))).await;
    let ids = pool.agent_ids();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    let (_, chat, invited) = w.user_chat_assigned("Eve").await;
    w.wait_status(&chat, "active").await;
    // `chats:assign` as the API would send it: the pool names the actor
    // that holds no chat.
    let question = json!({"agents": [], "chat": {"id": "c-99"}});
    let event = parse(&envelope_of("chats:assign", APP, &question, 1));
    let other = ids
        .iter()
        .find(|id| **id != invited)
        .expect("the free actor");
    assert_eq!(pool.assign_responder().choose(&event).as_ref(), Some(other));

    let summary = pool.stop().await;
    assert!(summary.actors.iter().all(|a| a.logged_out), "{summary:?}");
    for id in &ids {
        let agent = w.get(&format!("/agents/{id}")).await;
        assert_eq!(agent["agent"]["status"], "offline", "{agent}");
    }
    assert_eq!(step_counts(&hub, "agent:logout"), (2, 0));
    assert_eq!(step_counts(&hub, "agent:login"), (2, 0));
}

#[tokio::test]
async fn a_failed_login_is_an_error_naming_the_actor() {
    let w = world().await;
    let spec = AgentsSpec {
        count: 2,
        ids: vec!["big".to_owned(), "nobody".to_owned()],
        ..AgentsSpec::default()
    };
    let err = AgentPool::start(
        &spec,
        Arc::clone(&w.client),
        Arc::clone(&w.router),
        None,
        7,
        &CancellationToken::new(),
    )
    .await
    .expect_err("`nobody` cannot log in");
    let text = err.to_string();
    assert!(
        text.starts_with("agent actor 2 could not start: agent:login failed: HTTP 401"),
        "{text}"
    );
    assert!(!text.contains(SECRET));
    // `big` was logged in, then out again.
    let stats = w.mock.admin_get("/stats").await;
    assert_eq!(stats["routes"]["agentLogin"], 2, "{stats}");
    assert_eq!(stats["routes"]["agentLogout"], 1, "{stats}");
    let big = w.get("/agents/big").await;
    assert_eq!(big["agent"]["status"], "offline");
}

/// A stand-in target: `GET /__mock/simulation` answers `status` with
/// `apps` listed, `PUT` records its body and answers 200.
async fn switch_stub(status: u16) -> (String, Arc<std::sync::Mutex<Vec<Value>>>) {
    use axum::http::StatusCode;
    use axum::routing::get;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let listed = json!({"apps": {APP: {"agents": true, "simulate": true}}});
    let app = axum::Router::new().route(
        "/__mock/simulation",
        get(move || async move {
            let code = StatusCode::from_u16(status).expect("status");
            (code, axum::Json(listed))
        })
        .put(move |body: axum::Json<Value>| async move {
            s.lock().expect("lock").push(body.0);
            StatusCode::OK
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), seen)
}

#[tokio::test]
async fn prepare_target_switches_mock_agents_off_and_tolerates_a_real_instance() {
    let off = AgentsSpec::default();
    let (base, seen) = switch_stub(200).await;
    assert_eq!(
        prepare_target(&off, &base, APP, &Default::default())
            .await
            .expect("switched"),
        MockSwitch::SwitchedOff
    );
    assert_eq!(
        seen.lock().expect("lock").as_slice(),
        [json!({"appId": APP, "agents": false})]
    );
    let err = prepare_target(&off, &base, "other-app", &Default::default())
        .await
        .expect_err("unknown app");
    assert!(err.to_string().contains("no app") && !err.to_string().contains("other-app"));
    let on = AgentsSpec {
        mock_agents: true,
        ..AgentsSpec::default()
    };
    assert_eq!(
        prepare_target(&on, &base, APP, &Default::default())
            .await
            .expect("kept"),
        MockSwitch::Kept
    );
    assert_eq!(
        seen.lock().expect("lock").len(),
        1,
        "mock_agents: on sends nothing"
    );

    let (real, seen) = switch_stub(404).await;
    assert_eq!(
        prepare_target(&off, &real, APP, &Default::default())
            .await
            .expect("a warning only"),
        MockSwitch::NotAMock
    );
    assert!(
        seen.lock().expect("lock").is_empty(),
        "no PUT to a real instance"
    );
    let (broken, _) = switch_stub(500).await;
    let err = prepare_target(&off, &broken, APP, &Default::default())
        .await
        .expect_err("500");
    assert!(err.to_string().contains("HTTP 500") && !err.to_string().contains(APP));
}
