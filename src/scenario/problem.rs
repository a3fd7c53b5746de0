//! One thing wrong with a scenario file, and where: the unit every check
//! (the YAML parser's, validation's) reports in.

use std::fmt;

use serde_saphyr::Location;

/// One thing wrong with a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: u64,
    pub column: u64,
    /// Where in the document, e.g. `flows[0].steps[3]`; empty for syntax errors.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Line and column of a YAML node (1-based; unknown → 1:1).
pub(crate) fn position(location: &Location) -> (u64, u64) {
    if *location == Location::UNKNOWN {
        (1, 1)
    } else {
        (location.line(), location.column())
    }
}
