//! Agent actors end to end: the mock's default world (simulated agents on),
//! switched off through `prepare_target`, real signed webhooks delivered to
//! the harness's `WebhookReceiver`, the pool answering `chats:assign`.

use std::sync::Arc;
use std::time::Duration;

use chatload::agents::{AgentPool, MockSwitch, prepare_target};
use chatload::client::{ApiClient, ClientConfig, Credentials};
use chatload::scenario::{AgentsSpec, Think};
use chatload::webhook::{EventRouter, WebhookReceiver};
use chatload_mock::testing::{DEMO_APP, DEMO_SECRET, poll, start_mock};
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn actors_work_a_chat_over_real_webhooks_with_the_mock_agents_off() {
    let mock = start_mock().await;
    let demo = mock.demo();
    let base = mock.base_url();
    let router = EventRouter::new();
    let receiver = WebhookReceiver::new(Arc::clone(&router), true);
    let running = receiver
        .start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("receiver starts");
    let events = [
        "invitations:new",
        "messages:new",
        "chats:close",
        "chats:leave",
        "chats:assign",
    ];
    let (_, secret) = demo.register_webhook(&events, &running.local_url()).await;
    receiver.add_secret(&secret);

    let spec = AgentsSpec {
        count: 2,
        capacity: 2,
        accept_delay: Think::Fixed(Duration::from_millis(100)),
        reply_think: Think::Fixed(Duration::from_millis(100)),
        reply: "agent {{agent_id}} here".to_owned(),
        ..AgentsSpec::default()
    };
    assert_eq!(
        prepare_target(&spec, &base, DEMO_APP, &Default::default())
            .await
            .expect("switch"),
        MockSwitch::SwitchedOff
    );
    let simulated = demo.get("/agents/a-1").await.success();
    assert_eq!(simulated["agent"]["status"], "offline", "{simulated}");
    let client = ApiClient::new(&ClientConfig {
        base_url: base.clone(),
        credentials: Credentials {
            app_id: Some(DEMO_APP.to_owned()),
            secret: Some(DEMO_SECRET.to_owned()),
            domain_key: None,
        },
        extra_headers: Vec::new(),
        timeout: Duration::from_secs(10),
        pool_size: 4,
        policy: Default::default(),
        max_body: chatload::client::DEFAULT_MAX_BODY,
    })
    .expect("client");
    let pool = AgentPool::start(
        &spec,
        Arc::new(client),
        Arc::clone(&router),
        None,
        3,
        &CancellationToken::new(),
    )
    .await
    .expect("agents log in");
    receiver.set_assign_responder(pool.assign_responder());
    let ids = pool.agent_ids();

    let (user, _) = demo.create_user("Fay").await;
    let chat = demo.create_chat(&user, 1).await;
    let chat = chat["id"].as_str().expect("chat").to_owned();
    demo.get(&format!("/chats/{chat}/assign")).await.success();
    let active = demo.wait_chat_status(&chat, "active").await;
    let agent = active["agent"].as_str().expect("an agent").to_owned();
    // The simulated agents a-1…a-4 of room 1 are off: an actor took it.
    assert!(ids.contains(&agent), "{agent} is not one of {ids:?}");

    demo.post(
        &format!("/chats/{chat}/messages"),
        json!({"sender": user, "message": "anyone?"}),
    )
    .await
    .success();
    let reply = poll("an agent reply", || async {
        let m = demo.get(&format!("/chats/{chat}/messages")).await.success();
        m["messages"]
            .as_array()?
            .iter()
            .find(|m| m["sender"] == agent.as_str())
            .map(|m| m["message"].clone())
    })
    .await;
    assert_eq!(reply, format!("agent {agent} here").as_str());

    demo.delete(&format!("/chats/{chat}"), Some(json!({"userId": user})))
        .await
        .success();
    poll("a slot freed", || async {
        pool.loads().iter().all(|l| *l == 0).then_some(())
    })
    .await;

    let summary = pool.stop().await;
    assert_eq!(summary.totals.accepted, 1, "{summary:?}");
    assert_eq!(summary.totals.replies, 1);
    assert_eq!(summary.totals.chats_handled, 1);
    assert_eq!(
        summary.totals.assigned, 1,
        "chats:assign answered by the pool"
    );
    assert_eq!(summary.totals.errors, 0);
    assert!(summary.actors.iter().all(|a| a.logged_out));
    let seen = receiver.counters();
    assert_eq!(seen.invalid_signatures, 0);
    assert!(seen.events >= 4, "{seen:?}");
    running.stop().await;
}

/// A scenario run with actors whose replies are overtaken by the user
/// closing the chat: the `409`s are counted as overtaken, not as failures,
/// so the run passes without thresholds (a reply that fails otherwise is a
/// failure: see `calls::overtaken`'s unit test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_overtaken_by_a_close_are_counted_not_failed() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Without `chats:close` the actors never hear of the close, so every
    // reply (400 ms after the message, while the user pauses 800 ms after
    // closing) lands on a closed chat: the race, made deterministic.
    let body = r#"webhooks:
  settle: 1s
  events: [chats:create, invitations:new, invitations:accept, chats:join, messages:new]
agents:
  count: 2
  ids: [a-1, a-2]
  reply_think: 400ms
load: {vus: 1, iterations: 3}
steps:
  - create_user:
  - create_chat:
  - assign:
  - wait_event: {event: chats:join, timeout: 5s}
  - send_message: {message: hi}
  - close_chat:
    think: 800ms
"#;
    let (exit, report) = crate::common::run_in_room_1(&mock, dir.path(), "overtaken", body).await;
    let json = serde_json::to_value(&report).unwrap();
    let totals = &json["agents"]["totals"];
    assert_eq!(totals["accepted"], 3, "{totals}");
    assert_eq!(totals["errors"], 0, "{totals}");
    assert_eq!(
        totals["overtaken"], 3,
        "each reply met a closed chat: {totals}"
    );
    assert_eq!(report.totals.errors, 0, "{:?}", report.errors_by_kind);
    assert_eq!(exit, chatload::app::Exit::Passed);
}

/// The pool's counts agree with the run: every chat an actor accepted is
/// either handled (it ended) or still active, and when every user closed
/// their chat none is active. The last `chats:close` used to reach the
/// actors after they stopped, leaving a chat counted as active (or neither).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_chat_is_handled_or_active_and_none_is_left_active() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let body = r#"webhooks:
  settle: 10s
agents:
  count: 2
  ids: [a-1, a-2]
  reply_think: 20ms
load: {vus: 3, iterations: 9}
steps:
  - create_user:
  - create_chat:
  - assign:
  - wait_event: {event: chats:join, timeout: 5s}
  - send_message: {message: hi}
  - wait_event: {event: messages:new, timeout: 5s, where: {data.message.sender: {ne: "{{ user_id }}"}}}
  - close_chat:
"#;
    let (exit, report) = crate::common::run_in_room_1(&mock, dir.path(), "counts", body).await;
    assert_eq!(
        exit,
        chatload::app::Exit::Passed,
        "{:?}",
        report.failure_samples
    );
    let agents = report.agents.as_ref().expect("agents section");
    for actor in &agents.actors {
        let c = &actor.counts;
        assert_eq!(
            c.chats_handled + u64::from(actor.active_at_stop),
            c.accepted,
            "{actor:?}"
        );
        assert_eq!(actor.active_at_stop, 0, "every chat was closed: {actor:?}");
    }
    assert_eq!(agents.totals.accepted, 9, "{:?}", agents.totals);
}

/// Every invitation an actor counts ends in exactly one of `accepted`,
/// `rejected`, `withdrawn` (the chat ended or moved on first) or
/// `unanswered`, per actor and in total. Users who give up while the actor
/// waits out its `accept_delay` used to leave their invitations in no
/// counter (`3 invitations, 0 accepted, 0 rejected, 0 overtaken`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invitation_ends_accepted_rejected_withdrawn_or_unanswered() {
    use chatload_mock::testing::{QUEUE_APP, QUEUE_SECRET};
    let mock = start_mock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // One actor with one slot, slower to accept than the users are patient:
    // the chats queue behind the one it works, and their users abandon
    // while it is still waiting to accept their invitations.
    let yaml = format!(
        r#"name: withdrawn
target:
  base_url: {base}
  app_id: {QUEUE_APP}
  secret: {QUEUE_SECRET}
  room: 1
webhooks: {{settle: 2s}}
agents: {{count: 1, capacity: 1, accept_delay: 800ms, reply_think: 50ms}}
load: {{vus: 3, iterations: 6, graceful_stop: 5s}}
steps:
  - create_user:
  - create_chat:
  - wait_event: {{event: chats:join, timeout: 1s, on_timeout: abandon, where: {{data.userId: {{ne: "{{{{ user_id }}}}"}}}}}}
    name: wait_join
  - close_chat:
"#,
        base = mock.base_url(),
    );
    let path = crate::common::write_scenario(dir.path(), "withdrawn.yaml", &yaml);
    let (_, report) = crate::common::run_scenario(dir.path(), &path, &[]).await;
    let json = serde_json::to_value(&report).unwrap();
    let abandoned = json["webhooks"]["queue"]["abandoned"].as_u64().unwrap_or(0);
    assert!(
        abandoned > 0,
        "users gave up: {}",
        json["webhooks"]["queue"]
    );
    let agents = &json["agents"];
    let count = |c: &serde_json::Value, name: &str| {
        c[name]
            .as_u64()
            .unwrap_or_else(|| panic!("no `{name}` counter: {c}"))
    };
    let mut counts: Vec<&serde_json::Value> = vec![&agents["totals"]];
    counts.extend(agents["actors"].as_array().expect("actors"));
    for c in counts {
        assert_eq!(
            count(c, "invitations"),
            count(c, "accepted")
                + count(c, "rejected")
                + count(c, "withdrawn")
                + count(c, "unanswered"),
            "{c}"
        );
    }
    let totals = &agents["totals"];
    assert!(count(totals, "withdrawn") > 0, "{totals}");
    assert!(
        count(totals, "invitations") > count(totals, "accepted"),
        "{totals}"
    );
}

/// A run with `agents:` against a standalone mock switches the mock's
/// simulated agents off for its app, and back on at its end: the next
/// ordinary run against that mock finds them working (they used to stay
/// off, and that run's users waited for an agent that never came). Agents
/// found off already are left off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_hands_the_mock_back_with_its_simulated_agents_as_it_found_them() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = format!(
        "name: restore\n{target}  room: 1\nwebhooks: {{settle: 1s}}\nagents: {{count: 1, ids: [a-1], reply_think: 20ms}}\nload: {{vus: 1, iterations: 1}}\nsteps:\n  - create_user:\n  - create_chat:\n  - assign:\n  - wait_event: {{event: chats:join, timeout: 5s}}\n  - close_chat:\n",
        target = crate::common::target_block(&mock),
    );
    let path = crate::common::write_scenario(dir.path(), "restore.yaml", &yaml);
    let agents_on = |listed: &serde_json::Value| listed["apps"][DEMO_APP]["agents"].clone();
    assert_eq!(agents_on(&mock.admin_get("/simulation").await), true);
    // Then found off (switched off by someone else): left off.
    for (found, off_first) in [(true, false), (false, true)] {
        if off_first {
            mock.admin_send(
                reqwest::Method::PUT,
                "/simulation",
                Some(json!({"appId": DEMO_APP, "agents": false})),
            )
            .await
            .success();
        }
        let (exit, report) = crate::common::run_scenario(dir.path(), &path, &[]).await;
        let passed = exit == chatload::app::Exit::Passed;
        assert!(passed, "{:?}", report.failure_samples);
        let after = mock.admin_get("/simulation").await;
        assert_eq!(agents_on(&after), found, "handed back as found: {after}");
    }
}
