//! The crate's layer rule, checked against the code: every top-level module
//! names (`crate::…`) only modules of lower layers, so the map in `lib.rs`
//! stays true and no import circle can come back. Test code is exempt.

use std::path::Path;

/// Layer of each top-level module, as `lib.rs` draws it (lowest first).
const LAYERS: &[(&str, u8)] = &[
    ("api", 0),
    ("metrics", 0),
    ("text", 0),
    ("redact", 1),
    // `redact`'s output macros, exported at the crate root.
    ("outln", 1),
    ("errln", 1),
    ("client", 2),
    ("schema", 2),
    ("media_type", 2),
    ("scenario", 3),
    ("webhook", 3),
    ("plan", 4),
    ("conform", 4),
    ("lifecycle", 4),
    ("cli", 4),
    ("engine", 5),
    ("report", 5),
    ("config", 5),
    ("agents", 6),
    ("progress", 6),
    ("verdict", 6),
    ("app", 7),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// The modules a file's non-test code names through `crate::`.
fn named_modules(source: &str) -> Vec<String> {
    let code = source
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    let mut out = Vec::new();
    for line in code.lines() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for (i, _) in line.match_indices("crate::") {
            let name: String = line[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

/// Every `.rs` file under `dir` (also used by the webhook slice's boundary test).
pub(crate) fn rust_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn every_module_names_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut broken = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or_default()
            .trim_end_matches(".rs")
            .to_owned();
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if matches!(top.as_str(), "lib" | "main" | "tests") || name == "tests.rs" {
            continue;
        }
        let own = layer(&top).unwrap_or_else(|| panic!("module `{top}` has no layer in LAYERS"));
        let source = std::fs::read_to_string(&file).expect("a readable source file");
        for dep in named_modules(&source) {
            if dep == top {
                continue;
            }
            match layer(&dep) {
                Some(l) if l < own => {}
                _ => broken.push(format!("{} names crate::{dep}", rel.display())),
            }
        }
    }
    broken.sort();
    broken.dedup();
    assert!(
        broken.is_empty(),
        "layer rule broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_checker_sees_imports_and_paths_but_not_comments_or_tests() {
    let source = "use crate::engine::Runner;\n// crate::app\nfn f() { crate::report::x(); }\n\
                  #[cfg(test)]\nmod tests {\n    use crate::app;\n}\n";
    assert_eq!(named_modules(source), ["engine", "report"]);
}
