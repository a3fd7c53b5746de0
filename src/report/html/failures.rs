//! The HTML report's "Why it failed" section: per step and failure kind, the first failures with
//! route, status, check, path, expected and actual values, the API's message, VU and iteration.
//! Every string is escaped (values come from responses).

use std::fmt::Write as _;

use super::RunReport;
use crate::report::format::{escape_html, group_thousands};

/// Writes the section; nothing when no step failed.
pub(super) fn section(out: &mut String, report: &RunReport) {
    if report.failure_samples.is_empty() {
        return;
    }
    out.push_str(
        "<section class=\"card\" id=\"why-it-failed\">\n<h2>Why it failed</h2>\n\
         <p class=\"hint\">The first failures of each step and kind; X
         tokens are shown as MASKED.</p>\n",
    );
    for entry in &report.failure_samples {
        let flow = entry
            .flow
            .as_deref()
            .map(|f| format!(" <span class=\"hint\">({})</span>", escape_html(f)))
            .unwrap_or_default();
        w!(
            out,
            "<h3><code>{}</code>{flow} · {} <span class=\"badtext\">× {}</span></h3>\n",
            escape_html(&entry.step),
            escape_html(&entry.kind),
            group_thousands(entry.count)
        );
        out.push_str(
            "<div class=\"scroll\"><table>\n<thead><tr><th>route</th>\
             <th class=\"num\">status</th><th>check</th><th>path</th><th>expected</th>\
             <th>actual</th><th>API message</th><th class=\"num\">vu</th>\
             <th class=\"num\">iteration</th></tr></thead>\n<tbody>\n",
        );
        for s in &entry.samples {
            let opt = |v: &Option<String>| escape_html(v.as_deref().unwrap_or(""));
            w!(
                out,
                "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td><code>{}</code></td>\
                 <td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td>\
                 <td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
                opt(&s.route),
                s.status.map(|c| c.to_string()).unwrap_or_default(),
                escape_html(&s.check),
                opt(&s.path),
                opt(&s.expected),
                opt(&s.actual),
                opt(&s.api_message),
                s.vu,
                s.iteration
            );
        }
        out.push_str("</tbody>\n</table></div>\n");
        if entry.more > 0 {
            w!(
                out,
                "<p class=\"hint\">… and {} more.</p>\n",
                group_thousands(entry.more)
            );
        }
    }
    out.push_str("</section>\n");
}
