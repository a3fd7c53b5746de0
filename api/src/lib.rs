//! The Agent Chat API's vocabulary, generated from `spec/agent-chat.openapi.yaml`
//! (by `build.rs`, which reads the spec once per build): every [`Operation`]
//! with its method, path template, parameter names, credential class
//! (`x-auth`) and success status; the webhook [`events`] and their default
//! subscription; the [`headers`]; the server URL. Both the harness
//! (`chatload`) and the mock (`chatload-mock`) name the API through this
//! crate, so adding or changing an operation or event is a spec edit plus
//! its behaviour.
//!
//! Vocabulary only: no payload types. The mock and the harness keep their
//! own request and response types, so the spec's schemas stay an
//! independent check of both. Besides the vocabulary: the ONE matcher from
//! a request's method and path to its operation ([`Operation::from_route`]),
//! the ONE loader of the embedded spec ([`spec`]) and, with the `schema`
//! feature, the ONE JSON Schema compiler ([`schema`]).
//!
//! Leaf crate, no I/O (the spec is embedded at compile time).

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

pub mod spec;

#[cfg(feature = "schema")]
pub mod schema;

include!(concat!(env!("OUT_DIR"), "/vocabulary.rs"));

/// Which credentials an operation accepts (`x-auth`, reference §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthClass {
    /// App ID alone, App ID + domain key, user token or secret.
    Public,
    /// Secret, or the acting user's own session token.
    User,
    /// App ID + secret only.
    Secret,
}

impl AuthClass {
    /// The spec's spelling: `public`, `user`, `secret`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthClass::Public => "public",
            AuthClass::User => "user",
            AuthClass::Secret => "secret",
        }
    }
}

/// HTTP methods the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    /// Every method the API uses (`ALL[m.index()] == m`).
    pub const ALL: [Method; 4] = [Method::Get, Method::Post, Method::Put, Method::Delete];

    /// Upper-case name as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    /// Parses an HTTP method name, case-insensitively, without allocating.
    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(name))
    }

    /// Position in [`Method::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the generated table.
#[derive(Debug)]
struct OperationInfo {
    id: &'static str,
    method: Method,
    path: &'static str,
    full_path: &'static str,
    route_key: &'static str,
    path_params: &'static [&'static str],
    query_params: &'static [&'static str],
    auth: AuthClass,
    success_status: u16,
    body_required: bool,
}

impl Operation {
    fn info(self) -> &'static OperationInfo {
        &TABLE[self as usize]
    }

    /// The OpenAPI `operationId` (`getChat`).
    pub fn id(self) -> &'static str {
        self.info().id
    }

    /// The HTTP method.
    pub fn method(self) -> Method {
        self.info().method
    }

    /// The path template relative to [`BASE_PATH`] (`/chats/{chatId}`).
    pub fn path(self) -> &'static str {
        self.info().path
    }

    /// The path template with [`BASE_PATH`] (`/v1/chats/{chatId}`), as a
    /// server routes it.
    pub fn full_path(self) -> &'static str {
        self.info().full_path
    }

    /// `"GET /chats/{chatId}"`: the key of per-route metrics.
    pub fn route_key(self) -> &'static str {
        self.info().route_key
    }

    /// The path template's parameter names, in order (`["chatId"]`).
    pub fn path_params(self) -> &'static [&'static str] {
        self.info().path_params
    }

    /// The query parameters the spec declares (`["limit", "offset"]`).
    pub fn query_params(self) -> &'static [&'static str] {
        self.info().query_params
    }

    /// The credentials it accepts (`x-auth`).
    pub fn auth(self) -> AuthClass {
        self.info().auth
    }

    /// The status of its success response (the one 2xx it declares).
    pub fn success_status(self) -> u16 {
        self.info().success_status
    }

    /// Whether its request body is `required` (a request without one is a
    /// client error).
    pub fn body_required(self) -> bool {
        self.info().body_required
    }

    /// Position in [`Operation::ALL`], to index per-operation arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Looks an operation up by its `operationId`.
    pub fn from_id(id: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.id() == id)
    }

    /// The request path relative to [`BASE_PATH`]: the template with each
    /// parameter replaced by `params`, given in [`Operation::path_params`]
    /// order (`GetChat.path_with(&["c-1"])` is `/chats/c-1`).
    ///
    /// # Panics
    /// When `params` does not hold one value per path parameter (a
    /// programming error: the caller names the operation).
    pub fn path_with(self, params: &[&str]) -> String {
        assert_eq!(
            params.len(),
            self.path_params().len(),
            "{} takes {:?}",
            self.id(),
            self.path_params()
        );
        let mut out = String::with_capacity(self.path().len() + 16);
        let mut values = params.iter();
        for segment in self.path().split('/').skip(1) {
            out.push('/');
            if segment.starts_with('{') {
                out.push_str(values.next().copied().unwrap_or_default());
            } else {
                out.push_str(segment);
            }
        }
        out
    }

    /// The operation a request goes to, from its method and its path
    /// relative to [`BASE_PATH`] (query and trailing slash ignored). The
    /// path may be concrete (`/chats/c-1`) or a template (`/chats/{chatId}`);
    /// a `{…}` segment stands for a value known only later. Like a router,
    /// the path picks its route first (the template(s) with the most literal
    /// segments), and only then the method: `GET /agents/login` is no
    /// operation (its route answers 405), not `getAgent`.
    ///
    /// An exact template is one hash lookup (the mock calls this on every
    /// request with the path it matched).
    pub fn from_route(method: Method, path: &str) -> Option<Operation> {
        let path = path.split('?').next().unwrap_or_default();
        let path = match path.strip_suffix('/') {
            Some(p) if !p.is_empty() => p,
            _ => path,
        };
        if let Some(slots) = TEMPLATES.get(path) {
            return slots[method.index()];
        }
        let segments: Vec<PathSegment<'_>> = path
            .trim_start_matches('/')
            .split('/')
            .map(PathSegment::of)
            .collect();
        Operation::from_segments(method, &segments)
    }

    /// [`Operation::from_route`] over a path already split into segments.
    pub fn from_segments(method: Method, segments: &[PathSegment<'_>]) -> Option<Operation> {
        let fitting = Operation::ALL.into_iter().filter_map(|op| {
            let template = op.path().trim_start_matches('/').split('/');
            if template.clone().count() != segments.len() {
                return None;
            }
            let mut literals = 0;
            for (t, s) in template.zip(segments) {
                match (t.starts_with('{'), s) {
                    (true, PathSegment::Literal("")) => return None,
                    (true, _) => {}
                    (false, PathSegment::Literal(lit)) if t == *lit => literals += 1,
                    (false, _) => return None,
                }
            }
            Some((op, literals))
        });
        let fitting: Vec<(Operation, usize)> = fitting.collect();
        let best = fitting.iter().map(|(_, l)| *l).max()?;
        fitting
            .into_iter()
            .find(|(op, l)| *l == best && op.method() == method)
            .map(|(op, _)| op)
    }

    /// The operation whose method and path look most like a request that
    /// matches none (for "did you mean" messages): smallest edit distance
    /// between `METHOD /path` texts, with every parameter written `{}`.
    pub fn closest(method: Method, segments: &[PathSegment<'_>]) -> Operation {
        let mut wanted = format!("{method} ");
        for s in segments {
            wanted.push('/');
            wanted.push_str(match s {
                PathSegment::Literal(lit) => lit,
                PathSegment::Dynamic => "{}",
            });
        }
        let shape = |op: Operation| {
            let mut out = format!("{} ", op.method());
            for t in op.path().trim_start_matches('/').split('/') {
                out.push('/');
                out.push_str(if t.starts_with('{') { "{}" } else { t });
            }
            out
        };
        Operation::ALL
            .into_iter()
            .min_by_key(|op| edit_distance(&wanted, &shape(*op)))
            .unwrap_or(Operation::ALL[0])
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A path segment of a request: a literal, or a part only known later (a
/// `{param}` or a scenario's `{{ variable }}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathSegment<'a> {
    Literal(&'a str),
    Dynamic,
}

impl<'a> PathSegment<'a> {
    /// `{…}` is dynamic, anything else literal.
    pub fn of(segment: &'a str) -> PathSegment<'a> {
        if segment.starts_with('{') && segment.ends_with('}') {
            PathSegment::Dynamic
        } else {
            PathSegment::Literal(segment)
        }
    }
}

/// Template (relative to [`BASE_PATH`]) → operation per [`Method::index`].
static TEMPLATES: LazyLock<HashMap<&'static str, [Option<Operation>; 4]>> = LazyLock::new(|| {
    let mut map: HashMap<&'static str, [Option<Operation>; 4]> = HashMap::new();
    for op in Operation::ALL {
        map.entry(op.path()).or_default()[op.method().index()] = Some(op);
    }
    map
});

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The real service's URL for a region of [`REGIONS`] and an API version
/// (`eu`, `v1` → `https://agentchat-eu.inbenta.chat:8000/v1`).
///
/// # Errors
/// A region the spec does not list.
pub fn region_url(region: &str, version: &str) -> Result<String, String> {
    if !REGIONS.contains(&region) {
        return Err(format!(
            "unknown region `{region}`: expected {}",
            REGIONS.join(" or ")
        ));
    }
    let host = SERVER_URL.strip_suffix(BASE_PATH).unwrap_or(SERVER_URL);
    Ok(format!(
        "{}/{}",
        host.replace("{region}", region),
        version.trim_matches('/')
    ))
}

#[cfg(test)]
mod tests;
