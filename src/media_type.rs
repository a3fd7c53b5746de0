//! The response `Content-Type`s the API spec declares, per operation and
//! status, and the check every response of a run gets against them,
//! whatever `--schema` says: a web server answering an HTML page to every
//! call must not pass a run because the schema check was off or sampled.
//!
//! Built once per route before a run (from `chatload-api`'s walk of the
//! declared responses); during the run the check compares one header with a
//! short list, reads no body, allocates nothing and takes no lock.

use chatload_api::spec;
use reqwest::header::HeaderValue;

use crate::api::Operation;

/// What one declared response admits as its `Content-Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Admits {
    /// The response declares no content (nothing to check), or `*/*`.
    Anything,
    /// One of these media ranges, lower-case: `type/subtype` or `type/*`;
    /// `text` is the list as written in a failure's reason.
    OneOf {
        ranges: Box<[Box<str>]>,
        text: Box<str>,
    },
}

/// The `Content-Type`s one operation declares, by status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclaredTypes {
    statuses: Vec<(u16, Admits)>,
}

impl DeclaredTypes {
    /// The types `op` declares for each of its statuses.
    pub fn of(op: Operation) -> DeclaredTypes {
        let statuses = spec::responses(op)
            .into_iter()
            .map(|r| (r.status, admits(&r.media)))
            .collect();
        DeclaredTypes { statuses }
    }

    /// True when a response with `status` and `content_type` has a type the
    /// operation declares for that status. A status it does not declare is
    /// not judged here (the schema check counts it as a violation; the
    /// scenario's expected statuses judge it either way), nor is a response
    /// declared without content. Parameters (`; charset=utf-8`) and case do
    /// not count; a response without a `Content-Type` where one is declared
    /// does not pass.
    pub fn admits(&self, status: u16, content_type: Option<&HeaderValue>) -> bool {
        let Some(Admits::OneOf { ranges, .. }) = self.lookup(status) else {
            return true;
        };
        let Some(essence) = content_type.and_then(|t| t.to_str().ok()).map(essence) else {
            return false;
        };
        ranges.iter().any(|range| in_range(range, essence))
    }

    /// The types declared for `status`, as a failure's reason writes them
    /// (`application/json`, `application/json or text/csv`); `None` when
    /// any type goes.
    pub fn declared(&self, status: u16) -> Option<&str> {
        match self.lookup(status) {
            Some(Admits::OneOf { text, .. }) => Some(text),
            _ => None,
        }
    }

    fn lookup(&self, status: u16) -> Option<&Admits> {
        self.statuses
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, a)| a)
    }
}

/// What a response declared with these media types admits.
fn admits(media: &[String]) -> Admits {
    if media.is_empty() || media.iter().any(|m| m.trim() == "*/*") {
        return Admits::Anything;
    }
    let ranges: Box<[Box<str>]> = media
        .iter()
        .map(|m| essence(m).to_ascii_lowercase().into_boxed_str())
        .collect();
    let text = ranges.join(" or ").into_boxed_str();
    Admits::OneOf { ranges, text }
}

/// A media type without its parameters: `text/html; charset=utf-8` is `text/html`.
fn essence(content_type: &str) -> &str {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim_matches(|c: char| c.is_ascii_whitespace())
}

/// Whether `essence` falls in `range` (`application/json`, or `image/*`),
/// ignoring ASCII case.
fn in_range(range: &str, essence: &str) -> bool {
    match range.strip_suffix("/*") {
        Some(kind) => essence
            .split_once('/')
            .is_some_and(|(k, sub)| k.eq_ignore_ascii_case(kind) && !sub.is_empty()),
        None => range.eq_ignore_ascii_case(essence),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).expect("a valid header")
    }

    #[test]
    fn a_json_route_admits_json_only() {
        let settings = DeclaredTypes::of(Operation::GetSettings);
        let json = value("application/json");
        assert!(settings.admits(200, Some(&json)));
        assert!(settings.admits(200, Some(&value("Application/JSON; charset=utf-8"))));
        assert!(!settings.admits(200, Some(&value("text/html"))));
        assert!(!settings.admits(200, Some(&value("application/jsonx"))));
        assert!(!settings.admits(200, None), "a JSON body must say so");
        assert!(!settings.admits(401, Some(&value("text/html; charset=utf-8"))));
        assert_eq!(settings.declared(200), Some("application/json"));
        // Not declared: the status and schema checks judge it, not this one.
        assert!(settings.admits(599, Some(&value("text/html"))));
        assert_eq!(settings.declared(599), None);
    }

    #[test]
    fn a_download_admits_any_type_and_history_admits_csv_too() {
        let media = DeclaredTypes::of(Operation::GetMedia);
        assert!(media.admits(200, Some(&value("image/png"))));
        assert!(media.admits(200, None));
        assert_eq!(media.declared(200), None);
        assert!(!media.admits(404, Some(&value("text/html"))));
        let history = DeclaredTypes::of(Operation::GetChatHistory);
        assert!(history.admits(200, Some(&value("text/csv; charset=utf-8"))));
        assert!(history.admits(200, Some(&value("application/json"))));
        assert!(!history.admits(200, Some(&value("text/html"))));
        assert_eq!(history.declared(200), Some("application/json or text/csv"));
    }

    #[test]
    fn ranges_and_responses_without_content() {
        assert!(in_range("image/*", "IMAGE/png"));
        assert!(!in_range("image/*", "image/"));
        assert!(!in_range("image/*", "imagex/png"));
        assert_eq!(admits(&[]), Admits::Anything);
        assert_eq!(admits(&["*/*".to_owned()]), Admits::Anything);
        assert_eq!(essence("  text/html ;q=1"), "text/html");
    }
}
