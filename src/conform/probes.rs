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
/// happy body again (a set-up request, no check) to put the resource back:
/// what was wrong with its answer, naming it, is returned (it fails the
/// happy call's check). A boundary a unique field cannot reach is recorded
/// as skipped, with its reason.
pub(super) async fn boundary(c: &mut Checker, call: &Call<'_>) -> Option<String> {
    let json = call.body.as_ref()?;
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
    if valid.is_empty() {
        return None;
    }
    let what = "the happy body sent again after the boundary bodies";
    c.set_up(call, what).await.problem
}

/// Why the boundary bodies of a call whose happy call failed are not sent.
pub(super) const BOUNDARY_NOT_SENT: &str =
    "the happy call failed, so the boundary bodies were not sent";

/// After `call`'s happy call failed: its boundary-valid bodies are listed
/// as skipped checks ([`BOUNDARY_NOT_SENT`]), under the names they would
/// have had, and so are the boundaries a unique field cannot reach (with
/// their own reason).
pub(super) fn boundary_not_sent(c: &mut Checker, call: &Call<'_>) {
    let Some(json) = &call.body else {
        return;
    };
    let cases = generate::cases(call.op, json, c.options, &c.tag);
    for skip in cases.skipped {
        let name = format!("boundary body: {}", skip.what);
        c.skip(call.op, name, skip.reason);
    }
    let expect = c.within_declared(call.op, &[call.op.success_status()]);
    for case in &cases.valid {
        let name = case_name(case, &expect);
        c.skip(call.op, name, BOUNDARY_NOT_SENT.to_owned());
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
    let kind = if case.valid {
        Kind::BoundaryBody
    } else {
        Kind::InvalidBody
    };
    let expect = c.within_declared(call.op, expect);
    let name = case_name(case, &expect);
    let answer = c
        .exchange(c.build_call(call, call.creds, Payload::Json(&case.body)))
        .await;
    if c.judge(&name, call.op, kind, &expect, answer).is_some() {
        return;
    }
    let (minimal, problem) = shrink(c, call, case, &expect).await;
    if let Some(last) = c.results.last_mut() {
        last.message
            .push_str(&format!("; minimal failing body: {minimal}"));
        if let Some(why) = problem {
            last.message.push_str(&format!("; also {why}"));
        }
    }
}

/// `invalid body: WHAT → 400` or `boundary body: WHAT → 200`.
fn case_name(case: &Case, expect: &[u16]) -> String {
    let class = if case.valid {
        "boundary body"
    } else {
        "invalid body"
    };
    named(&format!("{class}: {}", case.what), expect)
}

/// Drops the body's other top-level fields one at a time while the body
/// stays in its class (schema-valid or not) and the target still answers
/// outside `expect`; at most one request per field. Each answer is judged
/// against the spec (any status it declares, with its content type and
/// schema): the first that breaks it is returned too, naming the request
/// (an undeclared status the failed check got too is not repeated).
async fn shrink(
    c: &Checker,
    call: &Call<'_>,
    case: &Case,
    expect: &[u16],
) -> (Value, Option<String>) {
    let declared: Vec<u16> = c.declared(call.op).collect();
    let failed_with = c.results.last().and_then(|r| r.status);
    let mut problem = None;
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
        // The status the check itself failed with is named there already.
        let repeated = answer
            .as_ref()
            .is_ok_and(|a| Some(a.status) == failed_with && !declared.contains(&a.status));
        if problem.is_none() && !repeated {
            let what = format!("a request shrinking the body (without `{key}`)");
            problem = c.set_up_problem(call, &what, &declared, &answer);
        }
        if answer.is_ok_and(|a| !expect.contains(&a.status)) {
            body = candidate;
        }
    }
    (body, problem)
}

/// Every path is sent each method it does not serve (and PATCH, which no
/// operation uses): 405, with an `Allow` header naming exactly the methods
/// it does serve (RFC 9110 §15.5.6 requires one; see [`method_problem`])
/// and, when the body is JSON, the error envelope with `code` 405.
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
                Ok(a) => method_problem(a, &served, method.as_str()).unwrap_or_default(),
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

/// What is wrong with the answer to `refused`, a method a path does not
/// serve: not 405, headers the suite cannot read, an `Allow` that does not
/// name exactly the methods in `served` (HEAD is accepted next to GET, and
/// OPTIONS always, which RFC 9110 lets a server answer on any resource; the
/// method just refused never), a JSON body that is not the 405 envelope.
fn method_problem(a: &Answer, served: &[Method], refused: &str) -> Option<String> {
    if let Some(cut) = &a.cut {
        return Some(cut.clone());
    }
    if a.status != 405 {
        return Some(format!("expected status [405], got {}", a.status));
    }
    if let Some(why) = &a.bad_headers {
        return Some(why.clone());
    }
    if let Some(why) = allow_problem(a.allow.as_deref().unwrap_or(""), served, refused) {
        return Some(why);
    }
    let code = a.body.as_ref().and_then(|b| b.pointer("/error/code"));
    match (a.body.is_some(), code.and_then(Value::as_u64)) {
        (false, _) | (true, Some(405)) => None,
        (true, _) => Some("the JSON body is not the error envelope with code 405".to_owned()),
    }
}

/// What is wrong with a 405's `Allow` header (see [`method_problem`]).
fn allow_problem(allow: &str, served: &[Method], refused: &str) -> Option<String> {
    let listed: Vec<String> = allow
        .split(',')
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
        .collect();
    let absent: Vec<&str> = served
        .iter()
        .map(|m| m.as_str())
        .filter(|m| !listed.iter().any(|l| l == m))
        .collect();
    let tolerated = |m: &str| m == "OPTIONS" || (m == "HEAD" && served.contains(&Method::Get));
    let extra: Vec<&str> = listed
        .iter()
        .map(String::as_str)
        .filter(|l| *l != refused && !tolerated(l))
        .filter(|l| !served.iter().any(|m| m.as_str() == *l))
        .collect();
    let mut wrong = Vec::new();
    if !absent.is_empty() {
        wrong.push(format!("does not name {}", absent.join(", ")));
    }
    if listed.iter().any(|l| l == refused) {
        wrong.push(format!("names {refused}, the method just refused"));
    }
    if !extra.is_empty() {
        wrong.push(format!(
            "names {}, which the path does not serve",
            extra.join(", ")
        ));
    }
    if wrong.is_empty() {
        return None;
    }
    Some(format!("Allow `{allow}` {}", wrong.join(" and ")))
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
            bad_headers: None,
        }
    }

    #[test]
    fn a_405_must_name_the_served_methods_and_carry_the_envelope() {
        let served = [Method::Get, Method::Put];
        let envelope = Some(json!({"error": {"code": 405, "message": "Method not allowed"}}));
        let problem = |a: &Answer| method_problem(a, &served, "DELETE");
        assert_eq!(
            problem(&answer(405, Some("GET,HEAD,PUT"), envelope.clone())),
            None
        );
        assert_eq!(problem(&answer(405, Some("get, put"), None)), None);
        let no_allow = problem(&answer(405, None, envelope));
        assert_eq!(no_allow.as_deref(), Some("Allow `` does not name GET, PUT"));
        let partial = problem(&answer(405, Some("GET"), None));
        assert_eq!(partial.as_deref(), Some("Allow `GET` does not name PUT"));
        let wrong_code = Some(json!({"error": {"code": 400}}));
        assert!(problem(&answer(405, Some("GET,PUT"), wrong_code)).is_some());
        let ok = problem(&answer(200, Some("GET,PUT"), None));
        assert_eq!(ok.as_deref(), Some("expected status [405], got 200"));
        let mut cut = answer(405, Some("GET,PUT"), None);
        cut.cut = Some("the 405 response was cut off".to_owned());
        assert_eq!(
            problem(&cut).as_deref(),
            Some("the 405 response was cut off")
        );
    }

    /// Audit 7, F5: `Allow: GET, POST, DELETE` on `/id` (GET only) passed
    /// the "POST not served → 405" check: it names the refused method and
    /// one the path does not serve. Allow names exactly the served methods
    /// (HEAD next to GET and OPTIONS are tolerated).
    #[test]
    fn a_405_allow_must_not_name_the_refused_method_nor_unserved_ones() {
        let served = [Method::Get];
        let wrong = method_problem(
            &answer(405, Some("GET, POST, DELETE"), None),
            &served,
            "POST",
        );
        assert_eq!(
            wrong.as_deref(),
            Some(
                "Allow `GET, POST, DELETE` names POST, the method just refused and names \
                 DELETE, which the path does not serve"
            )
        );
        let tolerated = answer(405, Some("GET, HEAD, OPTIONS"), None);
        assert_eq!(method_problem(&tolerated, &served, "POST"), None);
        let head_without_get = answer(405, Some("PUT, HEAD"), None);
        let only_put = [Method::Put];
        assert_eq!(
            method_problem(&head_without_get, &only_put, "GET").as_deref(),
            Some("Allow `PUT, HEAD` names HEAD, which the path does not serve")
        );
    }
}
