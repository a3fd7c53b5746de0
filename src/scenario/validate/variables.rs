//! The names a template can use: `variables:` (and the target's `room` and
//! `lang`), and the columns of the `feeds:` CSV files.

use std::path::Path;

use serde_json::Value;

use super::Validator;
use crate::scenario::raw::RawScenario;
use crate::scenario::{Feed, FeedMode, Workload};

pub(super) fn declare_variables(v: &mut Validator<'_>, raw: &RawScenario) {
    let target = raw.target.as_ref().map(|s| &s.value);
    let room = target
        .and_then(|t| t.room.clone())
        .unwrap_or(Value::from(1));
    v.vars.intern("room", Some(room));
    if let Some(lang) = target.and_then(|t| t.lang.clone()) {
        v.vars.intern("lang", Some(Value::String(lang)));
    }
    for (name, spanned) in &raw.variables {
        let at = spanned.referenced;
        let value = match &spanned.value {
            Value::String(s) => Value::String(v.expand_env(s, &at, &format!("variables.{name}"))),
            other => other.clone(),
        };
        if !is_identifier(name) {
            v.problem(
                &at,
                &format!("variables.{name}"),
                "variable names are letters, digits and `_`",
            );
        }
        v.vars.intern(name, Some(value));
    }
}

pub(in crate::scenario) fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) fn load_feeds(v: &mut Validator<'_>, raw: &RawScenario, base_dir: &Path) -> Vec<Feed> {
    let mut feeds = Vec::new();
    for (name, spanned) in &raw.feeds {
        let path = format!("feeds.{name}");
        let at = spanned.referenced;
        let mode = spanned.value.mode.as_deref().unwrap_or("sequential");
        let Some(mode) = FeedMode::parse(mode) else {
            v.problem(
                &at,
                &path,
                format!("unknown feed mode `{mode}`: expected sequential, random or unique"),
            );
            continue;
        };
        match Feed::load(name, &base_dir.join(&spanned.value.file), mode) {
            Ok(feed) => {
                for (column, header) in feed.columns.iter().enumerate() {
                    let id = v.vars.intern(&format!("feed.{name}.{header}"), None);
                    v.vars.feed_slots.push((id, feeds.len(), column));
                }
                feeds.push(feed);
            }
            Err(msg) => v.problem(&at, &path, msg),
        }
    }
    feeds
}

/// A `unique` feed needs a row for each virtual user the closed model may
/// run at once (its `vus` or its highest stage).
pub(super) fn check_unique_feeds(
    v: &mut Validator<'_>,
    raw: &RawScenario,
    feeds: &[Feed],
    load: &Workload,
) {
    let Workload::Closed { vus, stages, .. } = load else {
        return;
    };
    let peak = stages
        .iter()
        .map(|s| s.target.ceil() as u32)
        .max()
        .unwrap_or(0)
        .max(*vus);
    for feed in feeds
        .iter()
        .filter(|f| f.mode == FeedMode::Unique && (f.rows.len() as u32) < peak)
    {
        let at = raw.feeds[&feed.name].referenced;
        let message = format!(
            "feed `{}` is `unique` but has {} rows for up to {peak} virtual users",
            feed.name,
            feed.rows.len()
        );
        v.problem(&at, &format!("feeds.{}", feed.name), message);
    }
}
