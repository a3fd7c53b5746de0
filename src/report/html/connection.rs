//! The HTML report's "Connections" card: the policy, and per route new and
//! reused connections (and the agent actors' pooled requests, in a run with them), TLS sessions resumed, and p50 / p99 of TCP connect,
//! TLS handshake and time to first byte. Absent when no route has them.

use std::fmt::Write as _;

use super::super::connection::Phase;
use super::super::format::escape_html;
use super::RunReport;

fn phase(p: Option<&Phase>) -> String {
    Phase::p50_p99(p, "–")
}

/// Appends the card to `out`.
pub(super) fn connection_section(out: &mut String, report: &RunReport) {
    if report.routes.iter().all(|r| r.connection.is_none()) {
        return;
    }
    out.push_str("<section class=\"card\">\n<h2>Connections</h2>\n");
    if let Some(meta) = &report.meta.connection {
        let per = meta
            .vus_per_connection
            .map_or(String::new(), |n| format!(", {n} VUs per connection"));
        let _ = writeln!(
            out,
            "<p>Policy <code>{}</code>{per}.</p>",
            escape_html(&meta.policy)
        );
    }
    let pooled = report
        .routes
        .iter()
        .any(|r| r.connection.as_ref().is_some_and(|c| c.pooled > 0));
    let _ = write!(
        out,
        "<div class=\"scroll\"><table>\n<thead><tr><th>route</th><th>new</th><th>reused</th>\
         {}<th>resumed</th><th>connect p50 / p99</th><th>TLS p50 / p99</th>\
         <th>first byte p50 / p99</th></tr></thead>\n<tbody>\n",
        if pooled { "<th>agents</th>" } else { "" }
    );
    for route in &report.routes {
        let Some(c) = &route.connection else {
            continue;
        };
        let agents = if pooled {
            format!("<td class=\"num\">{}</td>", c.pooled)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             {agents}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td></tr>",
            escape_html(&route.name),
            c.new_connections,
            c.reused,
            c.resumed,
            phase(c.connect.as_ref()),
            phase(c.tls_handshake.as_ref()),
            phase(c.first_byte.as_ref()),
        );
    }
    out.push_str(
        "</tbody>\n</table></div>\n<p class=\"hint\">Connect and TLS handshake: only the \
         requests that opened a connection; time to first byte: every answered request over \
         a VU's own connection.",
    );
    if pooled {
        out.push_str(
            " Agents: the agent actors' requests, over a shared pool whose connections are not \
             tracked; new + reused + agents is the route's count less its connect failures.",
        );
    }
    out.push_str("</p>\n</section>\n");
}
