//! The probes every operation gets, generated from the spec rather than
//! written per operation: credentials per auth class, a JSON body with a
//! wrong or missing `Content-Type`, generated invalid queries, generated
//! invalid and boundary-valid bodies (shrunk to a minimal failing body on a failure), and the methods
//! each path does not serve.
//!
//! The credential, query, content-type and invalid-body probes run just before an
//! operation's first happy call, in the state where that call succeeds, so
//! the probed fault is the only thing wrong with the request.

use serde_json::Value;

use super::checker::{Answer, Checker, Payload};
use super::generate::{self, Case};
use super::{Call, Creds, Kind, query};
use crate::api::{AuthClass, Method, Operation};

/// Credentials, generated invalid queries, content type and generated
/// invalid bodies for `call.op`.
pub(super) async fn before(c: &mut Checker, call: &Call<'_>) {
    let body = || call.body.as_ref().map_or(Payload::None, Payload::Json);
    for (label, creds, wanted) in auth_cases(call.op, c) {
        let answer = c.exchange(c.build_call(call, creds, body())).await;
        let expect = c.within_declared(call.op, wanted);
        c.judge(&named(label, &expect), call.op, Kind::Auth, &expect, answer);
    }
    let expect = c.within_declared(call.op, &[400]);
    for case in query::breaks(call.op, &call.query, call.body.as_ref()) {
        let probe = Call {
            query: case.query,
            ..call.clone()
        };
        let answer = c.exchange(c.build_call(&probe, call.creds, body())).await;
        let name = named(&format!("invalid query: {}", case.what), &expect);
        c.judge(&name, call.op, Kind::InvalidQuery, &expect, answer);
    }
    let Some(json) = &call.body else {
        return;
    };
    let bytes = serde_json::to_vec(json).unwrap_or_default();
    let expect = c.within_declared(call.op, &[400, 415]);
    for (label, content_type) in [
        ("JSON body sent as text/plain", Some("text/plain")),
        ("JSON body without Content-Type", None),
    ] {
        let payload = Payload::Raw(bytes.clone(), content_type);
        let answer = c.exchange(c.build_call(call, call.creds, payload)).await;
        c.judge(
            &named(label, &expect),
            call.op,
            Kind::ContentType,
            &expect,
            answer,
        );
    }
    let invalid = generate::cases(call.op, json, c.options, &c.tag).invalid;
    for case in invalid {
        generated(c, call, &case, &[400]).await;
    }
}

/// Boundary-valid generated bodies after `call`'s happy call, then the
/// happy body again (not a check) to put the resource back. A boundary a
/// unique field cannot reach is recorded as skipped, with its reason.
pub(super) async fn boundary(c: &mut Checker, call: &Call<'_>) {
    let Some(json) = &call.body else {
        return;
    };
    let cases = generate::cases(call.op, json, c.options, &c.tag);
    for skip in cases.skipped {
        c.skip(
            call.op,
            format!("boundary body: {}", skip.what),
            skip.reason,
        );
    }
    let valid = cases.valid;
    for case in &valid {
        generated(c, call, case, &[call.op.success_status()]).await;
    }
    if !valid.is_empty() {
        let _ = c
            .exchange(c.build_call(call, call.creds, Payload::Json(json)))
            .await;
    }
}

/// Credentials and content type for the multipart upload; `form` builds
/// its valid form.
pub(super) async fn upload(c: &mut Checker, form: &dyn Fn() -> Option<reqwest::multipart::Form>) {
    let op = Operation::UploadMedia;
    let call = Call::new("upload media", op, &[]);
    for (label, creds, wanted) in auth_cases(op, c) {
        let Some(form) = form() else { return };
        let answer = c
            .exchange(c.build_call(&call, creds, Payload::Form(form)))
            .await;
        let expect = c.within_declared(op, wanted);
        c.judge(&named(label, &expect), op, Kind::Auth, &expect, answer);
    }
    let expect = c.within_declared(op, &[400, 415]);
    let payload = Payload::Raw(b"{\"chatId\":\"x\"}".to_vec(), Some("application/json"));
    let answer = c
        .exchange(c.build_call(&call, Creds::for_op(op), payload))
        .await;
    let name = named("JSON body instead of multipart/form-data", &expect);
    c.judge(&name, op, Kind::ContentType, &expect, answer);
}

/// The credential probes of `op`'s auth class: what is sent, what answers.
fn auth_cases(op: Operation, c: &Checker) -> Vec<(&'static str, Creds<'static>, &'static [u16])> {
    let mut cases: Vec<(&'static str, Creds<'static>, &'static [u16])> = vec![
        ("no credentials", Creds::Nothing, &[401]),
        ("unknown App ID", Creds::UnknownApp, &[401]),
        ("wrong secret", Creds::WrongSecret, &[401, 403]),
    ];
    if op.auth() == AuthClass::Public {
        return cases;
    }
    cases.push(("App ID without secret", Creds::AppOnly, &[401]));
    match op.auth() {
        AuthClass::User => cases.push(("wrong token", Creds::WrongToken, &[401, 403])),
        _ => {
            cases.push((
                "a token on a secret-only route",
                Creds::WrongToken,
                &[401, 403],
            ));
            if c.target().domain_key.is_some() {
                cases.push((
                    "domain key on a secret-only route",
                    Creds::DomainKey,
                    &[403],
                ));
            }
        }
    }
    cases
}

/// `label → 401/403`.
fn named(label: &str, expect: &[u16]) -> String {
    let statuses: Vec<String> = expect.iter().map(u16::to_string).collect();
    format!("{label} → {}", statuses.join("/"))
}

/// Sends one generated body expecting `expect`; on a failure, shrinks it
/// to a minimal body that still fails and adds it to the check's message.
async fn generated(c: &mut Checker, call: &Call<'_>, case: &Case, expect: &[u16]) {
    let (kind, class) = if case.valid {
        (Kind::BoundaryBody, "boundary body")
    } else {
        (Kind::InvalidBody, "invalid body")
    };
    let expect = c.within_declared(call.op, expect);
    let name = named(&format!("{class}: {}", case.what), &expect);
    let answer = c
        .exchange(c.build_call(call, call.creds, Payload::Json(&case.body)))
        .await;
    if c.judge(&name, call.op, kind, &expect, answer).is_some() {
        return;
    }
    let minimal = shrink(c, call, case, &expect).await;
    if let Some(last) = c.results.last_mut() {
        last.message
            .push_str(&format!("; minimal failing body: {minimal}"));
    }
}

/// Drops the body's other top-level fields one at a time while the body
/// stays in its class (schema-valid or not) and the target still answers
/// outside `expect`; at most one request per field.
async fn shrink(c: &Checker, call: &Call<'_>, case: &Case, expect: &[u16]) -> Value {
    let mut body = case.body.clone();
    let keys: Vec<String> = body
        .as_object()
        .map(|o| {
            o.keys()
                .filter(|k| Some(k.as_str()) != case.field.as_deref())
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    for key in keys {
        let mut candidate = body.clone();
        if let Some(o) = candidate.as_object_mut() {
            o.remove(&key);
        }
        if generate::is_valid(call.op, &candidate) != Some(case.valid) {
            continue;
        }
        let answer = c
            .exchange(c.build_call(call, call.creds, Payload::Json(&candidate)))
            .await;
        if answer.is_ok_and(|a| !expect.contains(&a.status)) {
            body = candidate;
        }
    }
    body
}

/// Every path is sent each method it does not serve (and PATCH, which no
/// operation uses): 405, with an `Allow` header naming the methods it does
/// serve (RFC 9110 §15.5.6 requires it) and, when the body is JSON, the
/// error envelope with `code` 405.
pub(super) async fn methods(c: &mut Checker) {
    let mut templates: Vec<&'static str> = Operation::ALL.iter().map(|op| op.path()).collect();
    templates.dedup();
    templates.sort_unstable();
    templates.dedup();
    for template in templates {
        let ops: Vec<Operation> = Operation::ALL
            .into_iter()
            .filter(|op| op.path() == template)
            .collect();
        let params = c
            .paths
            .get(template)
            .cloned()
            .unwrap_or_else(|| vec!["conform-probe".to_owned(); ops[0].path_params().len()]);
        let refs: Vec<&str> = params.iter().map(String::as_str).collect();
        let path = ops[0].path_with(&refs);
        let served: Vec<Method> = ops.iter().map(|op| op.method()).collect();
        let mut unserved: Vec<reqwest::Method> = Method::ALL
            .into_iter()
            .filter(|m| !served.contains(m) && Operation::from_route(*m, &path).is_none())
            .map(crate::client::http_method)
            .collect();
        unserved.push(reqwest::Method::PATCH);
        for method in unserved {
            let answer = c
                .exchange(c.build(method.clone(), &path, Creds::Secret, Payload::None))
                .await;
            let name = format!("{method} not served → 405");
            let message = match &answer {
                Ok(a) => method_problem(a, &served).unwrap_or_default(),
                Err(why) => why.clone(),
            };
            let status = answer.ok().map(|a| a.status);
            c.record(
                &name,
                &format!("{method} {template}"),
                Kind::Method,
                &[405],
                status,
                message,
            );
        }
    }
}

/// What is wrong with the answer to a method a path does not serve.
fn method_problem(a: &Answer, served: &[Method]) -> Option<String> {
    if let Some(cut) = &a.cut {
        return Some(cut.clone());
    }
    if a.status != 405 {
        return Some(format!("expected status [405], got {}", a.status));
    }
    let allow = a.allow.as_deref().unwrap_or("");
    let listed: Vec<String> = allow
        .split(',')
        .map(|m| m.trim().to_ascii_uppercase())
        .collect();
    let absent: Vec<&str> = served
        .iter()
        .map(|m| m.as_str())
        .filter(|m| !listed.iter().any(|l| l == m))
        .collect();
    if !absent.is_empty() {
        return Some(format!(
            "Allow `{allow}` does not name {}",
            absent.join(", ")
        ));
    }
    let code = a.body.as_ref().and_then(|b| b.pointer("/error/code"));
    match (a.body.is_some(), code.and_then(Value::as_u64)) {
        (false, _) | (true, Some(405)) => None,
        (true, _) => Some("the JSON body is not the error envelope with code 405".to_owned()),
    }
}

impl Checker {
    /// `wanted` statuses that `op` declares (all of `wanted` when it declares none of them).
    pub(super) fn within_declared(&self, op: Operation, wanted: &[u16]) -> Vec<u16> {
        let declared: Vec<u16> = self.declared(op).collect();
        let kept: Vec<u16> = wanted
            .iter()
            .copied()
            .filter(|s| declared.contains(s))
            .collect();
        if kept.is_empty() {
            wanted.to_vec()
        } else {
            kept
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, allow: Option<&str>, body: Option<Value>) -> Answer {
        Answer {
            status,
            content_type: None,
            allow: allow.map(str::to_owned),
            body,
            bytes: Default::default(),
            cut: None,
            stalled: false,
        }
    }

    #[test]
    fn a_405_must_name_the_served_methods_and_carry_the_envelope() {
        let served = [Method::Get, Method::Put];
        let envelope = Some(json!({"error": {"code": 405, "message": "Method not allowed"}}));
        assert_eq!(
            method_problem(
                &answer(405, Some("GET,HEAD,PUT"), envelope.clone()),
                &served
            ),
            None
        );
        assert_eq!(
            method_problem(&answer(405, Some("get, put"), None), &served),
            None
        );
        let no_allow = method_problem(&answer(405, None, envelope), &served);
        assert_eq!(no_allow.as_deref(), Some("Allow `` does not name GET, PUT"));
        let partial = method_problem(&answer(405, Some("GET"), None), &served);
        assert_eq!(partial.as_deref(), Some("Allow `GET` does not name PUT"));
        let wrong_code = Some(json!({"error": {"code": 400}}));
        assert!(method_problem(&answer(405, Some("GET,PUT"), wrong_code), &served).is_some());
        let ok = method_problem(&answer(200, Some("GET,PUT"), None), &served);
        assert_eq!(ok.as_deref(), Some("expected status [405], got 200"));
        let mut cut = answer(405, Some("GET,PUT"), None);
        cut.cut = Some("the 405 response was cut off".to_owned());
        assert_eq!(
            method_problem(&cut, &served).as_deref(),
            Some("the 405 response was cut off")
        );
    }
}
