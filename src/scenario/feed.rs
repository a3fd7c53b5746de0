//! CSV data feeds: rows handed to iterations sequentially, at random, or one
//! row per virtual user.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::Rng;
use serde_json::Value;

/// How iterations pick rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedMode {
    /// Next row for each iteration across all VUs, wrapping around.
    Sequential,
    /// A random row for each iteration.
    Random,
    /// Virtual user N always gets row N; more VUs than rows is an error.
    Unique,
}

impl FeedMode {
    pub fn parse(text: &str) -> Option<FeedMode> {
        match text {
            "sequential" => Some(FeedMode::Sequential),
            "random" => Some(FeedMode::Random),
            "unique" => Some(FeedMode::Unique),
            _ => None,
        }
    }
}

/// A loaded CSV file.
#[derive(Debug)]
pub struct Feed {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    pub mode: FeedMode,
    cursor: AtomicUsize,
}

impl Feed {
    /// Reads a CSV file with a header row.
    ///
    /// # Errors
    /// Unreadable file, malformed CSV, no header or no data rows.
    pub fn load(name: &str, path: &Path, mode: FeedMode) -> Result<Feed, String> {
        let mut reader = csv::Reader::from_path(path)
            .map_err(|e| format!("cannot read CSV file {}: {e}", path.display()))?;
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| {
                format!(
                    "CSV file {} has no readable header row: {e}",
                    path.display()
                )
            })?
            .iter()
            .map(|h| h.trim().to_owned())
            .collect();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| format!("CSV file {}: {e}", path.display()))?;
            rows.push(record.iter().map(|f| Value::String(f.to_owned())).collect());
        }
        if rows.is_empty() {
            return Err(format!(
                "CSV file {} has a header but no data rows",
                path.display()
            ));
        }
        Ok(Feed {
            name: name.to_owned(),
            columns,
            rows,
            mode,
            cursor: AtomicUsize::new(0),
        })
    }

    /// The row an iteration of virtual user `vu` (from 1) uses, if any.
    pub fn pick(&self, vu: u64, rng: &mut impl Rng) -> Option<&[Value]> {
        let index = match self.mode {
            FeedMode::Sequential => self.cursor.fetch_add(1, Ordering::Relaxed) % self.rows.len(),
            FeedMode::Random => rng.random_range(0..self.rows.len()),
            FeedMode::Unique => usize::try_from(vu.checked_sub(1)?)
                .ok()
                .filter(|i| *i < self.rows.len())?,
        };
        Some(&self.rows[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn modes_pick_rows_as_documented() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("people.csv");
        std::fs::write(
            &path,
            "name,email\nAda,ada@example.com\nAlan,alan@example.com\n",
        )
        .unwrap();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);

        let seq = Feed::load("people", &path, FeedMode::Sequential).unwrap();
        assert_eq!(seq.columns, ["name", "email"]);
        let names: Vec<_> = (0..3)
            .map(|_| seq.pick(1, &mut rng).unwrap()[0].clone())
            .collect();
        assert_eq!(
            names,
            [Value::from("Ada"), Value::from("Alan"), Value::from("Ada")]
        );

        let unique = Feed::load("people", &path, FeedMode::Unique).unwrap();
        assert_eq!(unique.pick(2, &mut rng).unwrap()[0], Value::from("Alan"));
        assert!(
            unique.pick(3, &mut rng).is_none(),
            "more VUs than rows must not reuse a row"
        );

        std::fs::write(&path, "name\n").unwrap();
        assert!(
            Feed::load("people", &path, FeedMode::Random)
                .unwrap_err()
                .contains("no data rows")
        );
    }
}
