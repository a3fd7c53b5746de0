//! Validation that catches nonsense: every problem of a file at once, each
//! at its line and column with its place, in plain words.

use std::path::Path;

use crate::scenario::load_str;

fn problems(yaml: &str) -> Vec<String> {
    match load_str(yaml, "s.yaml", Path::new(".")) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems().iter().map(ToString::to_string).collect(),
    }
}

fn has(p: &[String], wanted: &str) {
    assert!(
        p.iter().any(|m| m.starts_with(wanted)),
        "missing `{wanted}` in {p:#?}"
    );
}

#[test]
fn counts_and_durations_out_of_bounds_are_all_reported() {
    let yaml = "name: x\nload:\n  vus: -3\n  duration: -3s\n  iterations: 2000000000\n  graceful_stop: 8d\nsteps:\n  - get_settings:\n    repeat: 0\n  - get_settings:\n    think: {dist: uniform, min: 3s, max: 1s}\n    name: second\n";
    let p = problems(yaml);
    has(
        &p,
        "s.yaml:3:8: load.vus: vus must be from 1 to 100,000, not -3",
    );
    has(&p, "s.yaml:4:13: load.duration: `-3s` is negative");
    has(
        &p,
        "s.yaml:5:15: load.iterations: iterations must be from 1 to 1,000,000,000, not 2000000000",
    );
    has(
        &p,
        "s.yaml:6:18: load.graceful_stop: `8d` is longer than the 7-day limit",
    );
    has(
        &p,
        "s.yaml:9:13: steps[0].repeat: repeat must be from 1 to 1,000,000, not 0",
    );
    has(
        &p,
        "s.yaml:11:12: steps[1].think: uniform think time has min 3s > max 1s",
    );
    assert_eq!(p.len(), 6, "{p:#?}");
}

#[test]
fn open_model_rates_and_timeouts_have_bounds() {
    let yaml = "name: x\nload: {arrival_rate: 2000000, duration: 1s, max_vus: 1.5}\ntarget: {timeout: 0s}\nsteps:\n  - wait_until:\n      step: {get_settings: {}}\n      until: {status: 200}\n      timeout: 0s\n";
    let p = problems(yaml);
    has(
        &p,
        "s.yaml:2:22: load.arrival_rate: arrival_rate must be from 0 to 1,000,000 iterations per second, not 2000000",
    );
    has(
        &p,
        "s.yaml:2:54: load.max_vus: max_vus must be a whole number, not 1.5",
    );
    has(
        &p,
        "s.yaml:3:19: target.timeout: `0s` is zero: it must be more than 0",
    );
    has(&p, "s.yaml:8:16: steps[0].wait_until.timeout: `0s` is zero");
}

#[test]
fn thresholds_outside_their_range_are_located() {
    let yaml = "name: x\nload: {vus: 1, iterations: 1}\nsteps:\n  - get_settings:\nthresholds:\n  - errors.rate < 150%\n  - get_settings.p99 < -5ms\n";
    let p = problems(yaml);
    has(
        &p,
        "s.yaml:6:5: thresholds[0]: `errors.rate < 150%`: a rate is from 0% to 100%, not `150%`",
    );
    has(
        &p,
        "s.yaml:7:5: thresholds[1]: `get_settings.p99 < -5ms`: a latency cannot be negative",
    );
}

#[test]
fn a_request_matching_no_operation_names_the_closest() {
    let yaml = "name: x\nload: {vus: 1, iterations: 1}\nsteps:\n  - create_user:\n  - request: {method: GET, path: \"/user/{{ user_id }}\"}\n";
    let p = problems(yaml);
    has(
        &p,
        "s.yaml:5:5: steps[1].request.path: `GET /user/{user_id}` matches no operation of the API spec; the closest is `GET /users/{userId}` (getUser)",
    );
}

#[test]
fn flow_names_are_unique_and_not_empty() {
    let yaml = "name: x\nload: {vus: 1, iterations: 1}\nflows:\n  - name: browse\n    steps: [get_settings: {}]\n  - name: browse\n    steps: [queue_status: {}]\n  - name: ''\n    steps: [get_id: {}]\n";
    let yaml = yaml.replace("get_id: {}", "check_agents: {}");
    let p = problems(&yaml);
    has(
        &p,
        "s.yaml:6:5: flows[1].name: flow name `browse` is used twice",
    );
    has(&p, "s.yaml:8:5: flows[2].name: the flow name is empty");
}

#[test]
fn unquoted_templates_are_all_reported_with_what_to_write() {
    let yaml = "name: x\nload: {vus: 1, iterations: 1}\nsteps:\n  - create_user:\n  - send_message: {sender: {{ user_id }}}\n  - get_user:\n    expect:\n      body:\n        user.id: {{ user_id }}\n";
    let p = problems(yaml);
    assert_eq!(p.len(), 2, "{p:#?}");
    has(
        &p,
        "s.yaml:5:28: steps[1].send_message.sender: unquoted `{{ user_id }}`: YAML reads `{{ }}` outside quotes as a nested mapping; quote it: \"{{ user_id }}\"",
    );
    has(
        &p,
        "s.yaml:9:18: steps[2].expect.body.user.id: unquoted `{{ user_id }}`",
    );
}

#[test]
fn type_errors_are_said_in_plain_words() {
    let p = problems("name: x\nload: {vus: 1, iterations: 1}\nsteps:\n  get_user:\n");
    has(
        &p,
        "s.yaml:4:3: steps: expected a list (`- item` lines or [a, b]), found `get_user:`",
    );
    let p = problems("name: x\nload: [1]\nsteps:\n  - get_user:\n");
    has(
        &p,
        "s.yaml:2:7: load: expected a mapping (`key: value` lines or {key: value}), found a list",
    );
    let p = problems("name: x\nload: {vus: many, iterations: 1}\nsteps:\n  - get_user:\n");
    has(&p, "s.yaml:2:13: load.vus: expected a number, found `many`");
    for m in &p {
        assert!(!m.contains("invalid u32") && !m.contains("scalar"), "{m}");
    }
}
