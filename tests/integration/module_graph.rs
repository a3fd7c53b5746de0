//! No file-level import circles (issue 11, "one house"): in each crate of
//! the workspace (`src/`, `mock-server/src/`, `api/src/`) the files must
//! import each other one way. A circle — `a.rs` names `crate::b`, `b.rs`
//! names `crate::a`, possibly through other files — fails the test with
//! the files and the imports that close it.
//!
//! The rules are those of the reference scan (`cycles.py`): every
//! `crate::`/`super::`/`self::` path outside comments and test code, in
//! `use` groups or inline, is an edge to the file defining it; a child
//! naming an ancestor is not ([`graph`]). The scanner itself is tested on
//! small in-memory trees, with and without a circle.

mod graph;
mod scan;

use std::collections::BTreeMap;
use std::path::Path;

use self::graph::{Circle, Graph};

/// The crates' source directories, relative to the workspace root.
const CRATES: [&str; 3] = ["src", "mock-server/src", "api/src"];

#[test]
fn no_crate_has_a_file_level_import_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut circles = Vec::new();
    for dir in CRATES {
        let sources = read_sources(root, dir);
        assert!(
            sources.len() > 2,
            "{dir}: only {} Rust files found",
            sources.len()
        );
        circles.extend(Graph::of(dir, &sources).circles());
    }
    if let Err(why) = check(&circles) {
        panic!("{why}");
    }
}

/// No circle at all.
///
/// # Errors
/// A message naming each circle: its files and the imports that close it.
fn check(circles: &[Circle]) -> Result<(), String> {
    if circles.is_empty() {
        return Ok(());
    }
    let problems: Vec<String> = circles
        .iter()
        .map(|circle| format!("file-level import {circle}"))
        .collect();
    Err(problems.join("\n"))
}

/// Every `.rs` file under `root/dir`, by its path from `root` (`/`-separated).
fn read_sources(root: &Path, dir: &str) -> BTreeMap<String, String> {
    let mut sources = BTreeMap::new();
    let mut pending = vec![root.join(dir)];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).expect("a readable source directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let name = path.strip_prefix(root).expect("under the root");
                let name = name.to_string_lossy().replace('\\', "/");
                let source = std::fs::read_to_string(&path).expect("a readable source file");
                sources.insert(name, source);
            }
        }
    }
    sources
}

/// An in-memory crate: `files` (name, source) under `src/`.
fn in_memory(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(f, s)| (format!("src/{f}"), (*s).to_owned()))
        .collect()
}

/// The circles of the in-memory crate `files`.
fn circles_of(files: &[(&str, &str)]) -> Vec<Circle> {
    Graph::of("src", &in_memory(files)).circles()
}

#[test]
fn a_circle_fails_the_check_with_its_files_and_edges() {
    let circles = circles_of(&[
        ("lib.rs", "mod checker; mod probes; mod suite;"),
        (
            "checker.rs",
            "use super::{Kind, probes};\nfn f() { probes::before() }",
        ),
        ("probes.rs", "use super::checker::{Answer, Checker};"),
        (
            "suite.rs",
            "use crate::checker::Checker;\nuse crate::probes;",
        ),
    ]);
    let why = check(&circles).expect_err("a circle fails");
    assert_eq!(
        why,
        "file-level import circle of 2 files: src/checker.rs, src/probes.rs\n  \
         src/checker.rs -> src/probes.rs (`super::probes`)\n  \
         src/probes.rs -> src/checker.rs (`super::checker::Answer`)\n"
    );
}

#[test]
fn a_tree_without_a_circle_passes_the_check() {
    let circles = circles_of(&[
        ("lib.rs", "mod calls; mod checker; mod probes;"),
        ("checker.rs", "use super::Kind;\n// use super::probes;"),
        ("probes.rs", "use super::checker::{Answer, Checker};"),
        ("calls.rs", "use super::{checker::Checker, probes};"),
    ]);
    assert_eq!(check(&circles), Ok(()));
}
