//! Terminal renderer (placeholder).
use super::RunReport;
/// Renders.
pub fn render(_report: &RunReport, _color: bool) -> String {
    String::new()
}
