//! `chatload validate` and the command line refuse nonsense with every
//! problem at once, located, in plain words.

use crate::common::{chatload, usage_error, write_scenario};

#[test]
fn validate_prints_every_problem_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(
        dir.path(),
        "nonsense.yaml",
        "name: nonsense\nload:\n  vus: -3\n  duration: 30d\nflows:\n  - name: main\n    steps:\n      - create_user:\n      - get_user:\n        expect: {body: {user.id: {ne: \"{{ user_id }}\"}}}\n        think: {dist: uniform, min: 3s, max: 1s}\n      - request: {method: GET, path: /userz}\n  - name: main\n    steps:\n      - get_settings:\n        expect: {body: {x: \"{{ chat_id }}\"}}\nthresholds:\n  - errors.rate < 150%\n",
    );
    let stderr = usage_error(chatload().arg("validate").arg(&path));
    let file = path.display().to_string();
    for wanted in [
        format!("{file}:3:8: load.vus: vus must be from 1 to 100,000, not -3"),
        format!("{file}:4:13: load.duration: `30d` is longer than the 7-day limit"),
        format!("{file}:11:16: flows[0].steps[1].think: uniform think time has min 3s > max 1s"),
        format!(
            "{file}:12:38: flows[0].steps[2].request.path: `GET /userz` matches no operation of the API spec; the closest is `GET /users`"
        ),
        format!("{file}:13:11: flows[1].name: flow name `main` is used twice"),
        format!("{file}:16:28: flows[1].steps[0].expect.body.x: unknown variable `chat_id`"),
        format!(
            "{file}:18:5: thresholds[0]: `errors.rate < 150%`: a rate is from 0% to 100%, not `150%`"
        ),
    ] {
        assert!(stderr.contains(&wanted), "missing `{wanted}` in\n{stderr}");
    }
    assert!(
        !stderr.contains("closed model needs"),
        "a bad duration is one problem, not two: {stderr}"
    );
    // The `expect` of the step that captures user_id is fine: get_user comes after.
    assert!(!stderr.contains("user_id"), "{stderr}");
    assert!(
        !stderr.contains("invalid u32") && !stderr.contains("scalar"),
        "{stderr}"
    );
}

#[test]
fn validate_says_to_quote_unquoted_templates() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(
        dir.path(),
        "unquoted.yaml",
        "name: unquoted\nload: {vus: 1, iterations: 1}\nsteps:\n  - create_user:\n  - get_user: {user: {{ user_id }}}\n",
    );
    let stderr = usage_error(chatload().arg("validate").arg(&path));
    let wanted = format!(
        "{}:5:22: steps[1].get_user.user: unquoted `{{{{ user_id }}}}`: YAML reads `{{{{ }}}}` outside quotes as a nested mapping; quote it: \"{{{{ user_id }}}}\"",
        path.display()
    );
    assert!(stderr.contains(&wanted), "missing `{wanted}` in\n{stderr}");
}

#[test]
fn a_negative_duration_on_the_command_line_says_what_is_expected() {
    let scenario = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/smoke.yaml");
    let stderr = usage_error(
        chatload()
            .args(["run", "--quiet", "--duration", "-3s"])
            .arg(&scenario),
    );
    assert!(
        stderr.contains("the run length must be a positive duration like 30s, not `-3s`"),
        "{stderr}"
    );
    assert!(!stderr.contains("tip:"), "{stderr}");
    let stderr = usage_error(
        chatload()
            .args(["run", "--quiet", "--vus", "-2"])
            .arg(&scenario),
    );
    assert!(
        stderr.contains("--vus must be from 1 to 100,000, not -2"),
        "{stderr}"
    );
}
