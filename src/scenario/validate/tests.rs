//! Scenario validation: what is accepted, and that every problem names its
//! line, column and what was expected.

use std::path::Path;

use crate::api::Operation;
use crate::scenario::{ChatEffect, OnError, StepAction, Workload, load_str};

const LIFECYCLE: &str = r#"
name: lifecycle
target:
  room: 2
load:
  vus: 3
  duration: 2s
steps:
  - check_agents:
    expect:
      body:
        agents.2: {gte: 1}
  - create_user: {name: "{{ fake.name }}"}
  - create_chat:
  - assign: {}
  - wait_until:
      step: {get_chat: {}}
      until:
        body: {chat.status: active}
      timeout: 5s
      interval: 100ms
  - send_message: {message: "hi {{ vu }}"}
    repeat: 2
    think: {dist: uniform, min: 10ms, max: 20ms}
    on_error: continue
  - close_chat:
"#;

#[test]
fn a_lifecycle_scenario_validates_with_defaults() {
    let s = load_str(LIFECYCLE, "s.yaml", Path::new(".")).unwrap();
    assert_eq!(s.name, "lifecycle");
    assert!(matches!(s.load, Workload::Closed { vus: 3, .. }));
    let steps = &s.flows[0].steps;
    let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "check_agents",
            "create_user",
            "create_chat",
            "assign",
            "wait_until",
            "send_message",
            "close_chat"
        ]
    );
    assert_eq!(steps[5].repeat, 2);
    assert_eq!(steps[5].on_error, OnError::Continue);
    let StepAction::Request(create_chat) = &steps[2].action else {
        panic!("request")
    };
    assert_eq!(create_chat.chat_effect, ChatEffect::Opens);
    assert_eq!(s.routes[create_chat.route as usize].key, "POST /chats");
    assert!(matches!(steps[4].action, StepAction::WaitUntil(_)));
    let keys: Vec<&str> = s.routes.iter().map(|r| r.key.as_str()).collect();
    assert!(keys.contains(&"GET /chats/{chatId}/assign"), "{keys:?}");
    assert_eq!(
        s.vars.initial[s.vars.get("room").unwrap().0 as usize],
        Some(serde_json::json!(2))
    );
}

#[test]
fn environment_references_resolve_or_fail_without_leaking_values() {
    let yaml = "name: x\ntarget: {base_url: 'http://127.0.0.1:9', secret: '${CHATLOAD_TEST_SECRET}'}\nload: {vus: 1, duration: 1s}\nsteps:\n  - get_settings:\n";
    let raw = serde_saphyr::from_str(yaml).unwrap();
    let env = |name: &str| (name == "CHATLOAD_TEST_SECRET").then(|| "s3cr3t".to_owned());
    let s = super::validate(raw, "s.yaml", Path::new("."), &env).unwrap();
    assert_eq!(s.target.secret.as_ref().unwrap().expose(), "s3cr3t");
    assert_eq!(
        format!("{:?}", s.target),
        format!("{:?}", s.target).replace("s3cr3t", "?"),
        "Debug must not print the secret"
    );
    let raw = serde_saphyr::from_str(yaml).unwrap();
    let err = super::validate(raw, "s.yaml", Path::new("."), &|_| None).unwrap_err();
    assert!(
        err[0].message.contains("`CHATLOAD_TEST_SECRET` is not set"),
        "{err:?}"
    );
}

#[test]
fn open_model_and_request_steps_match_catalogue_routes() {
    let yaml = r#"
name: open
load: {arrival_rate: 20, duration: 3s, max_vus: 5}
steps:
  - create_user:
  - request:
      method: get
      path: /users/{{ user_id }}
    capture: {uname: user.name}
  - request: {method: GET, path: /id}
  - request: {method: GET, path: "/agents/online", query: {roomId: 1}, auth: app_id}
"#;
    let s = load_str(yaml, "s.yaml", Path::new(".")).unwrap();
    assert!(matches!(
        s.load,
        Workload::Open {
            max_vus: 5,
            backlog: 5,
            ..
        }
    ));
    let keys: Vec<&str> = s.routes.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "POST /users",
            "GET /users/{userId}",
            "GET /id",
            "GET /agents/online"
        ]
    );
    assert_eq!(s.routes[1].operation, Operation::GetUser);
    assert_eq!(s.routes[2].operation, Operation::GetId);
}

#[test]
fn a_request_resolves_its_operation_after_environment_expansion() {
    let yaml = r#"
name: env-path
load: {vus: 1, iterations: 1}
steps:
  - create_user:
  - request: {method: GET, path: "/${CHATLOAD_TEST_RESOURCE:-users}/{{ user_id }}"}
"#;
    let s = load_str(yaml, "s.yaml", Path::new(".")).unwrap();
    let StepAction::Request(get) = &s.flows[0].steps[1].action else {
        panic!("a request step");
    };
    assert_eq!(get.op, Operation::GetUser);
    assert_eq!(s.routes[get.route as usize].operation, Operation::GetUser);
    assert_eq!(s.routes[get.route as usize].key, "GET /users/{userId}");
}

/// A named step with a problem of its own is reported once: a threshold on
/// it is not a second, misleading "unknown step", and the list of steps a
/// wrong name gets shows it.
#[test]
fn a_named_invalid_step_is_one_problem_and_still_a_step_name() {
    let yaml = "name: s\nload: {vus: 1, iterations: 1}\nsteps:\n  - create_user:\n  \
                - request: {method: GET, path: /nope}\n    name: weird\n  - create_chat:\n\
                thresholds:\n  - weird.p50 < 1s\n  - nothere.p50 < 1s\n";
    let err = load_str(yaml, "s.yaml", Path::new(".")).unwrap_err();
    let problems: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].contains("matches no operation"),
        "{problems:#?}"
    );
    assert!(
        problems[1].contains("unknown step `nothere`")
            && problems[1].contains("steps are create_user, weird, create_chat"),
        "{problems:#?}"
    );
}
