//! Where each node of a scenario file is: the document read a second time
//! as a tree of located nodes, so that a problem can be moved from the node
//! validation could locate to the node its place names.
//!
//! Validation knows the place of a problem (`steps[0].on_error`) but only
//! the location of the nearest node the raw mirror keeps as `Spanned`
//! (the step). Rather than wrapping every field of `raw.rs`, which a new
//! field could forget, [`refine`] looks the place up in this tree: a problem
//! reported at an ancestor of the place (or nowhere) is moved to the place
//! itself, or to the deepest part of it the file has. A problem already
//! located elsewhere (a body entry, a template) is left where it is.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use super::problem::{Problem, position};

/// A node of the document with where it is written.
type Node = Spanned<Tree>;

/// A node's children.
#[derive(Debug)]
enum Tree {
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
    Scalar,
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Tree, E> {
        Ok(Tree::Scalar)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Tree, E> {
        Ok(Tree::Scalar)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Tree, E> {
        Ok(Tree::Scalar)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Tree, E> {
        Ok(Tree::Scalar)
    }
    fn visit_str<E>(self, _: &str) -> Result<Tree, E> {
        Ok(Tree::Scalar)
    }
    fn visit_unit<E>(self) -> Result<Tree, E> {
        Ok(Tree::Scalar)
    }
    fn visit_none<E>(self) -> Result<Tree, E> {
        Ok(Tree::Scalar)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        Tree::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Tree::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Key>()? {
            let value = map.next_value::<Node>()?;
            if let Some(key) = key.0 {
                entries.push((key, value));
            }
        }
        Ok(Tree::Map(entries))
    }
}

/// A mapping key as text (`None` for a collection used as a key).
struct Key(Option<String>);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping key")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
                Ok(Key(Some(v.to_string())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
                Ok(Key(Some(v.to_string())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
                Ok(Key(Some(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Key, E> {
                Ok(Key(Some(v.to_string())))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(Key(Some(v.to_owned())))
            }
            fn visit_unit<E>(self) -> Result<Key, E> {
                Ok(Key(Some("null".to_owned())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Key, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Key(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Key, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Key(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The locations of the nodes `path` (`steps[0].expect.body.chat.id`) goes
/// through from the document down, as far as the file has them.
fn chain(root: &Node, path: &str) -> Vec<Location> {
    let mut out = vec![root.referenced];
    let mut node = root;
    let mut rest = path;
    loop {
        rest = rest.strip_prefix('.').unwrap_or(rest);
        if rest.is_empty() {
            return out;
        }
        let next = match &node.value {
            Tree::Seq(items) => rest
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .and_then(|(n, after)| Some((items.get(n.parse::<usize>().ok()?)?, after))),
            // The longest key the place starts with (keys may hold dots).
            Tree::Map(entries) => entries
                .iter()
                .filter(|(k, _)| {
                    rest.strip_prefix(k.as_str())
                        .is_some_and(|after| after.is_empty() || after.starts_with(['.', '[']))
                })
                .max_by_key(|(k, _)| k.len())
                .map(|(k, v)| (v, &rest[k.len()..])),
            Tree::Scalar => None,
        };
        let Some((child, after)) = next else {
            return out;
        };
        out.push(child.referenced);
        node = child;
        rest = after;
    }
}

/// Moves each problem reported at an ancestor of its place (or at no
/// location) to the place, or the deepest part of it in `text`.
pub(crate) fn refine(problems: &mut [Problem], text: &str) {
    let Ok(root) = serde_saphyr::from_str::<Node>(text) else {
        return;
    };
    for p in problems {
        let chain = chain(&root, &p.path);
        let reported = (p.line, p.column);
        let unlocated = reported == (1, 1);
        let at_ancestor = chain.iter().any(|at| position(at) == reported);
        if let Some(deepest) = chain.last()
            && (unlocated || at_ancestor)
            && *deepest != Location::UNKNOWN
        {
            (p.line, p.column) = position(deepest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refined(text: &str, line: u64, column: u64, path: &str) -> (u64, u64) {
        let mut problems = vec![Problem {
            file: "s.yaml".to_owned(),
            line,
            column,
            path: path.to_owned(),
            message: String::new(),
        }];
        refine(&mut problems, text);
        (problems[0].line, problems[0].column)
    }

    const DOC: &str = "name: a\nload:\n  vus: 1\n  model: closd\nsteps:\n  - create_user:\n    on_error: skip\n    expect:\n      body:\n        chat.id: {eq: 1}\n";

    #[test]
    fn a_problem_at_an_ancestor_moves_to_its_place() {
        assert_eq!(refined(DOC, 3, 3, "load.model"), (4, 10));
        assert_eq!(refined(DOC, 6, 5, "steps[0].on_error"), (7, 15));
        assert_eq!(refined(DOC, 1, 1, "steps"), (6, 3));
        // Keys holding dots are found whole.
        assert_eq!(refined(DOC, 6, 5, "steps[0].expect.body.chat.id"), (10, 18));
    }

    #[test]
    fn a_place_the_file_lacks_goes_as_deep_as_it_has() {
        assert_eq!(refined(DOC, 1, 1, "flows"), (1, 1));
        assert_eq!(refined(DOC, 3, 3, "load.arrival_rate"), (3, 3));
        assert_eq!(refined(DOC, 6, 5, "steps[0].path"), (6, 5));
    }

    #[test]
    fn a_problem_located_elsewhere_stays() {
        assert_eq!(refined(DOC, 10, 18, "steps[0].expect.body"), (10, 18));
        assert_eq!(refined(DOC, 4, 3, "load"), (4, 3));
    }
}
