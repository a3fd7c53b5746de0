//! `target:`: where requests go and with which credentials (each value may
//! come from `${ENV}` or a `CHATLOAD_*` variable), its timeout and TLS.

use std::path::{Path, PathBuf};

use serde_json::Value;
use serde_saphyr::{Location, Spanned};

use super::{DEFAULT_TIMEOUT, Validator};
use crate::scenario::raw::RawTarget;
use crate::scenario::{ConnPolicy, HttpVersion, Secret, TargetSpec};

/// Validates `target:` (all from the environment when it is left out).
pub(super) fn validate_target(
    v: &mut Validator<'_>,
    raw: Option<&Spanned<RawTarget>>,
    base_dir: &Path,
) -> TargetSpec {
    let default = RawTarget::default();
    let (t, at) = match raw {
        Some(s) => (&s.value, s.referenced),
        None => (&default, Location::UNKNOWN),
    };
    let base_url = base_url(v, t, &at);
    let app_id = field(v, &t.app_id, "app_id", "CHATLOAD_APP_ID").map(Secret::new);
    let secret = field(v, &t.secret, "secret", "CHATLOAD_SECRET").map(Secret::new);
    let domain_key = field(v, &t.domain_key, "domain_key", "CHATLOAD_DOMAIN_KEY").map(Secret::new);
    let headers = t
        .headers
        .iter()
        .map(|(k, val)| {
            let path = format!("target.headers.{k}");
            (k.clone(), v.expand_env(&val.value, &val.referenced, &path))
        })
        .collect();
    let timeout = t
        .timeout
        .as_ref()
        .and_then(|s| v.positive_duration(&s.value, &s.referenced, "target.timeout"))
        .unwrap_or(DEFAULT_TIMEOUT);
    let max_body = validate_max_body(v, t);
    let (ca_cert, http) = validate_tls(v, t, base_dir);
    let connection = validate_connection(v, t, &at, http);
    TargetSpec {
        base_url,
        app_id,
        secret,
        domain_key,
        headers,
        timeout,
        max_body,
        ca_cert,
        insecure: t.insecure.unwrap_or(false),
        http,
        connection,
    }
}

/// A `target.{name}` text with `${VAR}`s expanded (problems at the value),
/// else the environment variable `env_name`; empty counts as not given.
fn field(
    v: &mut Validator<'_>,
    value: &Option<Spanned<String>>,
    name: &str,
    env_name: &str,
) -> Option<String> {
    let path = format!("target.{name}");
    value
        .as_ref()
        .map(|text| v.expand_env(&text.value, &text.referenced, &path))
        .or_else(|| (v.env)(env_name))
        .filter(|s| !s.is_empty())
}

/// `base_url`, else the URL of `region` (with `version`, by default v1).
fn base_url(v: &mut Validator<'_>, t: &RawTarget, at: &Location) -> Option<String> {
    let base_url = field(v, &t.base_url, "base_url", "CHATLOAD_BASE_URL");
    let region = field(v, &t.region, "region", "CHATLOAD_REGION");
    let version = field(v, &t.version, "version", "CHATLOAD_API_VERSION");
    // The region's problem is placed at `region`, or at `target` when it
    // comes from the environment.
    let region_at = t.region.as_ref().map_or(*at, |r| r.referenced);
    match (base_url, region) {
        (Some(url), _) if crate::client::refuse_userinfo(&url).is_err() => {
            // Said without the URL: it holds the password.
            let url_at = t.base_url.as_ref().map_or(*at, |u| u.referenced);
            let e = crate::client::ClientBuildError::UserInfo;
            v.problem(&url_at, "target.base_url", e.to_string());
            None
        }
        (Some(url), _) => Some(url),
        (None, Some(region)) => match region_url(&region, version.as_deref().unwrap_or("v1")) {
            Ok(url) => Some(url),
            Err(msg) => {
                v.problem(&region_at, "target.region", msg);
                None
            }
        },
        (None, None) => None,
    }
}

/// `target.max_body`: a size of at least 1 byte (default
/// [`crate::client::DEFAULT_MAX_BODY`]).
fn validate_max_body(v: &mut Validator<'_>, t: &RawTarget) -> u64 {
    let Some(value) = &t.max_body else {
        return crate::client::DEFAULT_MAX_BODY;
    };
    match super::media::size_bytes(&value.value) {
        Ok(bytes) if bytes > 0 => bytes,
        Ok(_) => {
            v.problem(
                &value.referenced,
                "target.max_body",
                "must be more than 0 bytes".to_owned(),
            );
            crate::client::DEFAULT_MAX_BODY
        }
        Err(e) => {
            v.problem(&value.referenced, "target.max_body", e);
            crate::client::DEFAULT_MAX_BODY
        }
    }
}

/// `target.ca_cert` (an existing file, relative to the scenario) and `target.http`.
fn validate_tls(
    v: &mut Validator<'_>,
    t: &RawTarget,
    base_dir: &Path,
) -> (Option<PathBuf>, HttpVersion) {
    let ca_cert = t.ca_cert.as_ref().and_then(|text| {
        let at = &text.referenced;
        let path = base_dir.join(v.expand_env(&text.value, at, "target.ca_cert"));
        if path.is_file() {
            Some(path)
        } else {
            v.problem(
                at,
                "target.ca_cert",
                format!("no CA certificate file at {}", path.display()),
            );
            None
        }
    });
    let http = match &t.http {
        None => HttpVersion::Auto,
        Some(value) => {
            let text = match &value.value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            HttpVersion::parse(&text).unwrap_or_else(|e| {
                v.problem(&value.referenced, "target.http", e);
                HttpVersion::Auto
            })
        }
    };
    (ca_cert, http)
}

/// `target.connection` and `target.vus_per_connection`, each problem at
/// the key's value (`at`, the section, when `connection` is left out).
fn validate_connection(
    v: &mut Validator<'_>,
    t: &RawTarget,
    at: &Location,
    http: HttpVersion,
) -> ConnPolicy {
    let (text, conn_at) = match &t.connection {
        Some(c) => (c.value.as_str(), c.referenced),
        None => ("keep_alive", *at),
    };
    let per_conn = t.vus_per_connection.as_ref();
    let policy = ConnPolicy::parse(text, per_conn.map(|n| n.value)).unwrap_or_else(|e| {
        v.problem(&conn_at, "target.connection", e);
        ConnPolicy::KeepAlive
    });
    match (policy, per_conn) {
        (ConnPolicy::Http2 { .. }, _) if http == HttpVersion::Http1 => v.problem(
            &conn_at,
            "target.connection",
            "`http2` shares HTTP/2 connections: it cannot go with `http: 1.1`",
        ),
        (ConnPolicy::Http2 { .. }, Some(n)) if n.value == 0 => {
            v.problem(
                &n.referenced,
                "target.vus_per_connection",
                "expected at least 1",
            );
        }
        (ConnPolicy::KeepAlive | ConnPolicy::NewPerIteration, Some(n)) => {
            v.problem(
                &n.referenced,
                "target.vus_per_connection",
                "only with `connection: http2`",
            );
        }
        _ => {}
    }
    policy
}

/// `https://agentchat-{region}.inbenta.chat:8000/{version}`.
///
/// # Errors
/// A region other than `eu` or `us`.
pub fn region_url(region: &str, version: &str) -> Result<String, String> {
    match region {
        "eu" | "us" => Ok(format!(
            "https://agentchat-{region}.inbenta.chat:8000/{version}"
        )),
        other => Err(format!("unknown region `{other}`: expected eu or us")),
    }
}
