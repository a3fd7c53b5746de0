//! Templates in checks and step parameters: the same rules and located
//! errors as request templates, and `${VAR}` expanded as in `target:`.

use std::path::Path;

use crate::scenario::{Scenario, StepAction};

fn validate(yaml: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Scenario, Vec<String>> {
    let raw = serde_saphyr::from_str(yaml).expect("YAML parses");
    super::validate(raw, "s.yaml", Path::new("."), env)
        .map_err(|p| p.iter().map(ToString::to_string).collect())
}

fn no_env(_: &str) -> Option<String> {
    None
}

const HEAD: &str = "name: x\nload: {vus: 1, iterations: 1}\n";

#[test]
fn checks_against_captures_keep_their_operand_as_a_template() {
    let yaml = format!(
        "{HEAD}steps:\n  - create_user:\n  - get_user:\n    expect: {{body: {{user.id: {{ne: \"{{{{ user_id }}}}\"}}, user.name: {{exists: true}}}}}}\n"
    );
    let s = validate(&yaml, &no_env).expect("valid");
    let StepAction::Request(spec) = &s.flows[0].steps[1].action else {
        panic!("a request");
    };
    let templated: Vec<bool> = spec
        .expect
        .body
        .iter()
        .map(|c| c.operand.is_some())
        .collect();
    assert_eq!(
        templated,
        [true, false],
        "only the templated operand renders"
    );
}

#[test]
fn env_references_in_step_parameters_expand_at_validation_or_fail() {
    let yaml = format!(
        "{HEAD}steps:\n  - create_user: {{name: \"${{USER_NAME}}\", external_id: \"$${{literal}}\"}}\n  - request:\n      method: GET\n      path: /users/${{USER_ID:-u-1}}\n      headers: {{x-team: \"${{TEAM}}\"}}\n    expect: {{body: {{user.name: \"${{USER_NAME}}\"}}}}\n"
    );
    let env = |n: &str| match n {
        "USER_NAME" => Some("Grace".to_owned()),
        "TEAM" => Some("qa".to_owned()),
        _ => None,
    };
    let s = validate(&yaml, &env).expect("valid");
    let StepAction::Request(spec) = &s.flows[0].steps[1].action else {
        panic!("a request");
    };
    assert_eq!(s.routes[spec.route as usize].key, "GET /users/{userId}");
    let StepAction::Request(create) = &s.flows[0].steps[0].action else {
        panic!("a request");
    };
    let body = format!("{:?}", create.body);
    assert!(
        body.contains("\"Grace\"") && body.contains("\"${literal}\""),
        "`${{VAR}}` expanded, `$${{` kept as `${{`: {body}"
    );
    assert_eq!(
        format!("{:?}", spec.headers[0].1),
        format!("{:?}", crate::scenario::template::Template::literal("qa"))
    );
    let p = validate(&yaml, &no_env).unwrap_err();
    assert!(
        p.iter().any(|m| m.starts_with(
            "s.yaml:4:5: steps[0].body.name: environment variable `USER_NAME` is not set"
        )),
        "{p:?}"
    );
    assert!(
        p.iter().any(|m| m.contains("steps[1].expect.body.user.name: environment variable `USER_NAME`")),
        "{p:?}"
    );
}

/// Outside audit 4, F12.8: a `${VAR}` operand of a body check is text, and
/// compares with a number of the response by its text, as a `{{ }}`
/// operand does; a numeric operator takes it when the text is a number.
#[test]
fn env_operands_of_body_checks_compare_by_their_text_like_templates() {
    use crate::scenario::template::RenderContext;
    use serde_json::{Value, json};
    struct Cx(rand::rngs::SmallRng);
    impl RenderContext for Cx {
        fn var(&self, _: crate::scenario::template::VarId) -> Option<&Value> {
            None
        }
        fn vu(&self) -> u64 {
            0
        }
        fn iteration(&self) -> u64 {
            0
        }
        fn rng(&mut self) -> &mut rand::rngs::SmallRng {
            &mut self.0
        }
    }
    let yaml = format!(
        "{HEAD}steps:\n  - create_user:\n  - create_chat:\n    expect:\n      body:\n        chat.room: \"${{ROOM:-1}}\"\n        chat.n: {{lte: \"${{MAX:-99}}\"}}\n        chat.m: {{in: [\"${{ROOM:-1}}\", 5]}}\n"
    );
    let s = validate(&yaml, &no_env).expect("valid");
    let StepAction::Request(spec) = &s.flows[0].steps[1].action else {
        panic!("a request");
    };
    let mut cx = Cx(rand::SeedableRng::seed_from_u64(0));
    let body = json!({"chat": {"room": 1, "n": 42, "m": 1}});
    for check in &spec.expect.body {
        assert!(check.holds(&body, &mut cx), "{}", check.path);
    }
    let body = json!({"chat": {"room": 2, "n": 100, "m": 2}});
    for check in &spec.expect.body {
        assert!(!check.holds(&body, &mut cx), "{}", check.path);
    }
    // A numeric operator is told when the variable's text is no number.
    let yaml = format!(
        "{HEAD}steps:\n  - create_user:\n  - create_chat:\n    expect: {{body: {{chat.n: {{lte: \"${{MAX}}\"}}}}}}\n"
    );
    let env = |n: &str| (n == "MAX").then(|| "lots".to_owned());
    let p = validate(&yaml, &env).unwrap_err();
    assert_eq!(
        p,
        [
            "s.yaml:6:29: steps[1].expect.body.chat.n: `lte` expects a number, found `lots` (from `${MAX}`)"
        ]
    );
}
