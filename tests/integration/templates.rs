//! Templates outside request parts: `expect.body` operands, `wait_until.until`
//! and `wait_event.where` compare against what earlier steps captured.

use chatload::app::Exit;

use crate::common::{run_scenario, step, target_block, write_scenario};
use chatload_mock::testing::{start_mock, start_mock_yaml};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ne_check_against_a_capture_fails_the_run() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    // The user read back is the one created: `ne` its own id must fail.
    let yaml = format!(
        "name: ne\n{}load: {{vus: 1, iterations: 3}}\nsteps:\n  - create_user:\n  - get_user:\n    expect: {{body: {{user.id: {{ne: \"{{{{ user_id }}}}\"}}}}}}\n",
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "ne.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Failed);
    assert_eq!(step(&report, "get_user").errors, 3);
    assert_eq!(report.errors_by_kind.get("expectation"), Some(&3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eq_check_against_a_capture_passes() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"name: eq
{}load: {{vus: 1, iterations: 3}}
steps:
  - create_user:
  - get_user:
    expect:
      body:
        user.id: "{{{{ user_id }}}}"
        /user/id: {{eq: "{{{{ user_id }}}}"}}
        user.name: {{in: ["nobody", "{{{{ fake_name }}}}"]}}
variables:
  fake_name: Ada Lovelace
"#,
        target_block(&mock)
    )
    .replace(
        "  - create_user:\n",
        "  - create_user: {name: \"{{ fake_name }}\"}\n",
    );
    let path = write_scenario(dir.path(), "eq.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Passed, "{:?}", report.errors_by_kind);
    assert_eq!(step(&report, "get_user").count, 3);
    assert_eq!(step(&report, "get_user").errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_templated_wait_until_matches() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"name: until
{}load: {{vus: 1, iterations: 2}}
steps:
  - create_user:
  - create_chat:
  - assign:
  - wait_until:
      step: {{get_chat: {{}}}}
      until: {{body: {{chat.id: "{{{{ chat_id }}}}", chat.status: active}}}}
      timeout: 3s
      interval: 20ms
    name: wait_active
  - close_chat:
"#,
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "until.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Passed, "{:?}", report.errors_by_kind);
    assert_eq!(step(&report, "wait_active").count, 2);
    assert_eq!(step(&report, "wait_active").errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_templated_wait_event_where_matches_the_captured_agent() {
    let config = "simulation:\n  accept_delay: {dist: fixed, ms: 50}\n  reply_delay: {dist: fixed, ms: 20}\n  replies: true\n";
    let mock = start_mock_yaml(config).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"name: where
{}webhooks: {{settle: 200ms}}
load: {{vus: 1, iterations: 2}}
steps:
  - create_user:
  - create_chat:
  - assign:
  - wait_event:
      event: chats:join
      timeout: 5s
      capture: {{agent: data.userId}}
    name: wait_join
  - send_message:
  - wait_event:
      event: messages:new
      timeout: 5s
      where:
        data.message.sender: {{in: ["{{{{ agent }}}}"]}}
        data.message.chat: "{{{{ chat_id }}}}"
    name: wait_reply
  - close_chat:
"#,
        target_block(&mock)
    );
    let path = write_scenario(dir.path(), "where.yaml", &yaml);
    let (exit, report) = run_scenario(dir.path(), &path, &[]).await;
    assert_eq!(exit, Exit::Passed, "{:?}", report.errors_by_kind);
    assert_eq!(step(&report, "wait_reply").count, 2);
    assert_eq!(step(&report, "wait_reply").errors, 0);
}
