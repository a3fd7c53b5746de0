//! Reading a scenario file: YAML parsing with located errors, then validation.
//!
//! Every problem carries the file, line and column it refers to, and all
//! problems of a file are reported together.

use std::path::{Path, PathBuf};

use super::Scenario;
use super::problem::{Problem, position};
use super::raw::RawScenario;
use super::spans;
use super::syntax;
use super::validate;

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render_problems(.0))]
    Invalid(Vec<Problem>),
}

impl ScenarioError {
    /// The problems found, if the file was read.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ScenarioError::Invalid(p) => p,
            ScenarioError::Read { .. } => &[],
        }
    }
}

fn render_problems(problems: &[Problem]) -> String {
    let mut out = format!(
        "invalid scenario ({} problem{})",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&p.to_string());
    }
    out
}

/// Loads and validates a scenario file.
///
/// # Errors
/// The file cannot be read, or it has syntax or validation problems.
pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_owned(),
        source,
    })?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let mut scenario = load_str(&text, &path.display().to_string(), base_dir)?;
    scenario.file = Some(path.to_owned());
    Ok(scenario)
}

/// Validates scenario text; `origin` names it in messages, `base_dir` resolves feed files.
///
/// # Errors
/// Syntax or validation problems.
pub fn load_str(text: &str, origin: &str, base_dir: &Path) -> Result<Scenario, ScenarioError> {
    let options = serde_saphyr::options! {};
    let raw: RawScenario = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| ScenarioError::Invalid(syntax_problems(&e, text, origin)))?;
    validate::validate(raw, origin, base_dir, &|name| std::env::var(name).ok()).map_err(
        |mut problems| {
            spans::refine(&mut problems, text);
            // In the order of the file, as a reader goes through it.
            problems.sort_by_key(|p| (p.line, p.column));
            ScenarioError::Invalid(problems)
        },
    )
}

/// What is wrong with a file the parser refused: every unquoted `{{ }}` (the
/// usual cause, and the parser stops at the first), else the parser's own
/// error in plain words; each with its place in the document.
fn syntax_problems(e: &serde_saphyr::Error, text: &str, origin: &str) -> Vec<Problem> {
    let problem = |line, column, message| Problem {
        file: origin.to_owned(),
        line,
        column,
        path: syntax::place_of(text, line, column, &syntax_message(e)),
        message,
    };
    let unquoted = syntax::unquoted_templates(text);
    if !unquoted.is_empty() {
        return unquoted
            .into_iter()
            .map(|(line, column, found)| {
                problem(
                    line,
                    column,
                    format!(
                        "unquoted `{found}`: YAML reads `{{{{ }}}}` outside quotes as a nested mapping; quote it: \"{found}\""
                    ),
                )
            })
            .collect();
    }
    if syntax::is_empty(text) {
        return vec![problem(
            1,
            1,
            "the file is empty: a scenario needs at least `name`, `load` and `steps`".to_owned(),
        )];
    }
    let (line, column) = e.location().map_or((1, 1), |l| position(&l));
    let message = syntax::plain_message(&syntax_message(e), text, line, column);
    vec![problem(line, column, message)]
}

/// The parser's message on one line, without its own location prefix or
/// hints addressed to programmers.
fn syntax_message(e: &serde_saphyr::Error) -> String {
    let rendered = e.to_string();
    let mut msg = rendered
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid YAML")
        .trim();
    msg = msg.strip_prefix("error: ").unwrap_or(msg);
    if let Some(rest) = msg.strip_prefix("line ")
        && let Some((_, after)) = rest.split_once(": ")
    {
        msg = after;
    }
    let msg = msg.split(", set DuplicateKeyPolicy").next().unwrap_or(msg);
    if msg.starts_with("duplicate mapping key") {
        return format!("{msg} (each key may appear once)");
    }
    msg.to_owned()
}
