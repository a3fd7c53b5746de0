//! One crate's file-level import graph and its circles.
//!
//! Every path a file names through `crate::`, `super::` or `self::` (see
//! [`super::scan`]) is mapped to the file that defines the longest module
//! prefix of it; an edge goes from the naming file to that file, unless it
//! is the file itself or one of its ancestors (a child naming its parent's
//! items is how Rust modules are built). Test code draws no edges: test
//! files (`tests.rs`, `*_tests.rs`, modules declared `#[cfg(test)] mod x;`)
//! and `#[cfg(test)]` items. A circle is a strongly connected component of
//! more than one file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

#[cfg(test)]
use super::in_memory;
use super::scan::scan;

/// A module's path from the crate root (`["report", "build"]`; the root is empty).
type Module = Vec<String>;

/// Importing file → imported file → the first path that imports it.
type Edges = BTreeMap<String, BTreeMap<String, String>>;

/// A crate's files and the imports between them.
#[derive(Debug)]
pub struct Graph {
    edges: Edges,
}

/// Files that import each other in a circle, and the imports that close it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Circle {
    pub files: BTreeSet<String>,
    /// `(from, to, path)`: `from` names `path`, which `to` defines.
    pub edges: Vec<(String, String, String)>,
}

impl Graph {
    /// The graph of `sources` (file name → source), files named by their
    /// path, which starts with `src_dir/` (the crate's `src`).
    pub fn of(src_dir: &str, sources: &BTreeMap<String, String>) -> Graph {
        let relative = |file: &str| file.strip_prefix(src_dir).unwrap_or(file).to_owned();
        let mut files: BTreeMap<Module, String> = BTreeMap::new();
        let mut test_modules: BTreeSet<Module> = BTreeSet::new();
        let mut scanned = Vec::new();
        for (file, source) in sources {
            let module = module_of(&relative(file));
            let found = scan(source);
            for child in &found.test_children {
                test_modules.insert([module.clone(), vec![child.clone()]].concat());
            }
            files.entry(module.clone()).or_insert_with(|| file.clone());
            scanned.push((file, module, found.paths));
        }
        let mut edges = Edges::new();
        for (file, from, paths) in scanned {
            let imports = edges.entry(file.clone()).or_default();
            if is_test_file(&relative(file)) || test_modules.iter().any(|t| from.starts_with(t)) {
                continue;
            }
            for path in paths {
                let Some(to) = resolve(&from, &path, &files) else {
                    continue;
                };
                if from.starts_with(&to) {
                    continue;
                }
                imports
                    .entry(files[&to].clone())
                    .or_insert_with(|| path.join("::"));
            }
        }
        Graph { edges }
    }

    /// Each file's imports: imported file → the first path naming it.
    pub fn imports(&self, file: &str) -> Option<&BTreeMap<String, String>> {
        self.edges.get(file)
    }

    /// The circles, each with the edges between its files.
    pub fn circles(&self) -> Vec<Circle> {
        let mut tarjan = Tarjan::new(&self.edges);
        for file in self.edges.keys() {
            if !tarjan.index.contains_key(file.as_str()) {
                tarjan.visit(file);
            }
        }
        let circle = |files: BTreeSet<String>| {
            let edges = files
                .iter()
                .flat_map(|from| {
                    self.edges[from]
                        .iter()
                        .filter(|(to, _)| files.contains(*to))
                        .map(move |(to, path)| (from.clone(), to.clone(), path.clone()))
                })
                .collect();
            Circle { files, edges }
        };
        tarjan.components.into_iter().map(circle).collect()
    }
}

/// The module `file` (relative to `src/`) defines: `mod.rs`, `lib.rs` and
/// `main.rs` stand for their directory.
fn module_of(file: &str) -> Module {
    let file = file.trim_start_matches('/').trim_end_matches(".rs");
    let mut module: Module = file.split('/').map(str::to_owned).collect();
    if module
        .last()
        .is_some_and(|m| matches!(m.as_str(), "mod" | "lib" | "main"))
    {
        module.pop();
    }
    module
}

/// Test code by its name: `tests.rs`, `*_tests.rs`, or under a `tests/` directory.
fn is_test_file(file: &str) -> bool {
    let mut parts = file.trim_end_matches(".rs").rsplit('/');
    let name = parts.next().unwrap_or_default();
    name == "tests" || name.ends_with("_tests") || parts.any(|dir| dir == "tests")
}

/// The file-defined module `path` (named in `from`) lands in: the longest
/// prefix of it that is a file.
fn resolve(from: &[String], path: &[String], files: &BTreeMap<Module, String>) -> Option<Module> {
    let (mut base, mut rest): (Module, &[String]) = match path.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &path[1..]),
        Some("super" | "self") => (from.to_vec(), path),
        _ => return None,
    };
    while let Some(step) = rest.first().filter(|s| *s == "super" || *s == "self") {
        if step == "super" {
            base.pop();
        }
        rest = &rest[1..];
    }
    let mut best = files.contains_key(&base).then(|| base.clone());
    for segment in rest {
        base.push(segment.clone());
        if files.contains_key(&base) {
            best = Some(base.clone());
        }
    }
    best
}

/// Tarjan's strongly connected components, keeping those of two files or more.
struct Tarjan<'g> {
    edges: &'g Edges,
    index: BTreeMap<&'g str, usize>,
    low: BTreeMap<&'g str, usize>,
    stack: Vec<&'g str>,
    on_stack: BTreeSet<&'g str>,
    components: Vec<BTreeSet<String>>,
}

impl<'g> Tarjan<'g> {
    fn new(edges: &'g Edges) -> Self {
        Tarjan {
            edges,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            components: Vec::new(),
        }
    }

    fn visit(&mut self, file: &'g str) {
        let index = self.index.len();
        self.index.insert(file, index);
        self.low.insert(file, index);
        self.stack.push(file);
        self.on_stack.insert(file);
        let edges = self.edges;
        for to in edges.get(file).into_iter().flat_map(BTreeMap::keys) {
            if !self.index.contains_key(to.as_str()) {
                self.visit(to);
                let low = self.low[file].min(self.low[to.as_str()]);
                self.low.insert(file, low);
            } else if self.on_stack.contains(to.as_str()) {
                let low = self.low[file].min(self.index[to.as_str()]);
                self.low.insert(file, low);
            }
        }
        if self.low[file] == index {
            let mut component = BTreeSet::new();
            while let Some(member) = self.stack.pop() {
                self.on_stack.remove(member);
                component.insert(member.to_owned());
                if member == file {
                    break;
                }
            }
            if component.len() > 1 {
                self.components.push(component);
            }
        }
    }
}

impl fmt::Display for Circle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: Vec<&str> = self.files.iter().map(String::as_str).collect();
        writeln!(f, "circle of {} files: {}", files.len(), files.join(", "))?;
        for (from, to, path) in &self.edges {
            writeln!(f, "  {from} -> {to} (`{path}`)")?;
        }
        Ok(())
    }
}

#[test]
fn paths_resolve_to_the_file_defining_their_longest_module() {
    let sources = in_memory(&[
        ("lib.rs", "pub mod a; pub mod b;"),
        ("a/mod.rs", "mod x; mod y;"),
        (
            "a/x.rs",
            "use super::y::Thing;\nuse crate::b::{self, f};\nuse super::Parent;",
        ),
        ("a/y.rs", "pub fn g() { self::inner::h() }\nmod inner {}"),
        ("b.rs", "pub fn f() {}"),
    ]);
    let graph = Graph::of("src", &sources);
    let imports: Vec<(&str, &str)> = graph
        .imports("src/a/x.rs")
        .unwrap()
        .iter()
        .map(|(to, path)| (to.as_str(), path.as_str()))
        .collect();
    assert_eq!(
        imports,
        [("src/a/y.rs", "super::y::Thing"), ("src/b.rs", "crate::b")],
        "a child naming its parent draws no edge"
    );
    assert!(
        graph.imports("src/a/y.rs").unwrap().is_empty(),
        "a module naming itself draws no edge"
    );
}

#[test]
fn a_circle_is_found_with_its_files_and_edges() {
    let sources = in_memory(&[
        ("lib.rs", "pub mod a; pub mod b; pub mod c; pub mod d;"),
        ("a.rs", "use crate::b::B;"),
        ("b.rs", "pub struct B;\nfn f() { crate::c::g() }"),
        ("c.rs", "pub fn g() { let _ = crate::a::A; }"),
        ("d.rs", "use crate::a::A;"),
    ]);
    let circles = Graph::of("src", &sources).circles();
    assert_eq!(circles.len(), 1, "{circles:?}");
    let names: Vec<&str> = circles[0].files.iter().map(String::as_str).collect();
    assert_eq!(
        names,
        ["src/a.rs", "src/b.rs", "src/c.rs"],
        "d imports the circle but is not in it"
    );
    assert_eq!(
        circles[0].to_string(),
        "circle of 3 files: src/a.rs, src/b.rs, src/c.rs\n  src/a.rs -> src/b.rs (`crate::b::B`)\n  \
         src/b.rs -> src/c.rs (`crate::c::g`)\n  src/c.rs -> src/a.rs (`crate::a::A`)\n"
    );
}

#[test]
fn test_code_draws_no_edge_so_makes_no_circle() {
    let sources = in_memory(&[
        ("lib.rs", "pub mod a; pub mod b;"),
        (
            "a/mod.rs",
            "use crate::b::B;\n#[cfg(test)]\nmod support;\n#[cfg(test)]\nmod tests;",
        ),
        ("a/tests.rs", "use crate::b::back;"),
        ("a/support.rs", "use crate::b::back;"),
        ("a/more_tests.rs", "use crate::b::back;"),
        (
            "b.rs",
            "pub struct B;\n// crate::a::A\nconst S: &str = \"crate::a::A\";\n\
                  #[cfg(test)]\nmod tests {\n    use crate::a::A;\n}\n",
        ),
    ]);
    let graph = Graph::of("src", &sources);
    assert!(graph.circles().is_empty(), "{:?}", graph.circles());
    assert!(
        graph
            .imports("src/a/mod.rs")
            .unwrap()
            .contains_key("src/b.rs"),
        "the real edge is kept"
    );
    let back = [
        "src/a/tests.rs",
        "src/a/support.rs",
        "src/a/more_tests.rs",
        "src/b.rs",
    ];
    for file in back {
        assert!(
            graph.imports(file).unwrap().is_empty(),
            "{file} is test code"
        );
    }
}
