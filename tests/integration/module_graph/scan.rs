//! Reading one source file the way the module-graph check needs it: the
//! code without comments, string or char literals and `#[cfg(test)]` items,
//! the child modules it declares test-only (`#[cfg(test)] mod x;`), and
//! every path it names through `crate::`, `super::` or `self::`, or through
//! a child module it declares (`mod media;` ... `media::check()`, read as
//! `self::media::check`) — in `use` declarations (groups `{a, b::{c, self}}`
//! expanded) and inline in code.
//!
//! A lexer, not a parser: enough of Rust's token rules that a path in a
//! comment, a string or a test module is never taken for an import.

/// One file, scanned.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scanned {
    /// Each path named, as its segments (`["super", "build", "ratio"]`).
    pub paths: Vec<Vec<String>>,
    /// Child modules declared `#[cfg(test)] mod name;`: their files are test code.
    pub test_children: Vec<String>,
}

/// Scans one file's source.
pub fn scan(source: &str) -> Scanned {
    let code = code_only(source);
    let mut test_children = Vec::new();
    let code = without_test_items(&code, &mut test_children);
    let tokens = tokens(&code);
    let children = declared_children(&tokens);
    Scanned {
        paths: paths(&tokens, &children),
        test_children,
    }
}

/// `source` with each comment and each string or char literal replaced by
/// one space.
pub fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let after_ident = i > 0 && is_ident(chars[i - 1]);
        let skip = match &chars[i..] {
            ['/', '/', ..] => chars[i..].iter().take_while(|c| **c != '\n').count(),
            ['/', '*', ..] => block_comment(&chars[i..]),
            ['"', ..] => quoted(&chars[i..]),
            ['\'', ..] => char_literal(&chars[i..]),
            ['b', 'r', ..] if !after_ident => raw_string(&chars[i + 1..]).map_or(0, |n| n + 1),
            ['r', ..] if !after_ident => raw_string(&chars[i..]).unwrap_or(0),
            _ => 0,
        };
        if skip == 0 {
            out.push(chars[i]);
            i += 1;
        } else {
            out.push(' ');
            i += skip;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Length of the (nested) block comment `rest` starts with.
fn block_comment(rest: &[char]) -> usize {
    let (mut depth, mut i) = (0usize, 0);
    while i < rest.len() {
        match &rest[i..] {
            ['/', '*', ..] => (depth, i) = (depth + 1, i + 2),
            ['*', '/', ..] => {
                (depth, i) = (depth - 1, i + 2);
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    rest.len()
}

/// Length of the string literal `rest` starts with (at its `"`).
fn quoted(rest: &[char]) -> usize {
    let mut i = 1;
    while i < rest.len() {
        match rest[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    rest.len()
}

/// Length of the char literal `rest` starts with, or 0 for a lifetime or
/// label (`'a`).
fn char_literal(rest: &[char]) -> usize {
    match rest {
        ['\'', '\\', ..] => rest
            .iter()
            .skip(3)
            .position(|c| *c == '\'')
            .map_or(rest.len(), |p| p + 4),
        ['\'', _, '\'', ..] => 3,
        _ => 0,
    }
}

/// Length of the raw string `rest` starts with (at its `r`), if it is one.
fn raw_string(rest: &[char]) -> Option<usize> {
    let hashes = rest.iter().skip(1).take_while(|c| **c == '#').count();
    if rest.get(1 + hashes) != Some(&'"') {
        return None;
    }
    let body = 2 + hashes;
    let end = (body..rest.len()).find(|&i| {
        rest[i] == '"'
            && rest[i + 1..]
                .iter()
                .take(hashes)
                .filter(|c| **c == '#')
                .count()
                == hashes
    });
    Some(end.map_or(rest.len(), |e| e + 1 + hashes))
}

const CFG_TEST: &str = "#[cfg(test)]";

/// `code` without its `#[cfg(test)]` items (a block up to its closing
/// brace, anything else up to its `;`); test-only `mod name;` declarations
/// are pushed to `test_children`.
fn without_test_items(code: &str, test_children: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find(CFG_TEST) {
        out.push_str(&rest[..at]);
        let item = &rest[at + CFG_TEST.len()..];
        let end = item_end(item);
        if let Some(name) = declared_module(&item[..end]) {
            test_children.push(name);
        }
        out.push(' ');
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// Where the item `item` starts with ends: after the `;` or the block's `}`
/// that closes it at depth 0 (further attributes before it included).
fn item_end(item: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in item.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            ';' if depth == 0 => return i + 1,
            '{' if depth == 0 => return i + 1 + block_end(&item[i + 1..]),
            _ => {}
        }
    }
    item.len()
}

/// Length up to and including the `}` closing a block whose `{` came just before.
fn block_end(code: &str) -> usize {
    let mut depth = 1usize;
    for (i, c) in code.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// `name` when `item` is a file module's declaration (`pub(crate) mod name;`).
fn declared_module(item: &str) -> Option<String> {
    let words = tokens(item);
    let at = words.iter().position(|w| w == "mod")?;
    let name = words.get(at + 1)?;
    (words.get(at + 2).map(String::as_str) == Some(";")).then(|| name.clone())
}

/// The child modules `tokens` declare (`mod name;`, any visibility).
fn declared_children(tokens: &[String]) -> Vec<String> {
    tokens
        .windows(3)
        .filter(|w| w[0] == "mod" && w[2] == ";")
        .map(|w| w[1].clone())
        .collect()
}

/// Identifiers, `::` and single punctuation characters; numbers as one token.
fn tokens(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if is_ident(c) {
            let len = chars[i..].iter().take_while(|c| is_ident(**c)).count();
            out.push(chars[i..i + len].iter().collect());
            i += len;
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push("::".to_owned());
            i += 2;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

/// Every path starting with `crate`, `super`, `self` or one of the file's
/// `children` followed by `::`; a child's path is read as `self::child::…`.
fn paths(tokens: &[String], children: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let head = tokens[i].as_str();
        let starts =
            tokens.get(i + 1).is_some_and(|t| t == "::") && (i == 0 || tokens[i - 1] != "::");
        i = if starts && matches!(head, "crate" | "super" | "self") {
            path(tokens, i, Vec::new(), &mut out)
        } else if starts && children.iter().any(|c| c == head) {
            path(tokens, i, vec!["self".to_owned()], &mut out)
        } else {
            i + 1
        };
    }
    out
}

/// Reads the path at `tokens[i]` after the segments `prefix`, pushes each
/// path it names (a group names several) and returns the index after it.
fn path(
    tokens: &[String],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    while let Some(segment) = tokens.get(i).filter(|t| t.starts_with(is_ident)) {
        if segment != "self" || prefix.is_empty() {
            prefix.push(segment.clone());
        }
        i += 1;
        if tokens.get(i).is_none_or(|t| t != "::") {
            break;
        }
        i += 1;
        if tokens.get(i).is_some_and(|t| t == "{") {
            return group(tokens, i + 1, &prefix, out);
        }
    }
    out.push(prefix);
    i
}

/// Reads a `use` group's items (after its `{`) under `prefix`; returns the
/// index after its `}`.
fn group(tokens: &[String], mut i: usize, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    while let Some(token) = tokens.get(i) {
        match token.as_str() {
            "}" => return i + 1,
            "*" => {
                out.push(prefix.to_vec());
                i += 1;
            }
            "as" => i += 2,
            t if t.starts_with(is_ident) => i = path(tokens, i, prefix.to_vec(), out),
            _ => i += 1,
        }
    }
    i
}

#[test]
fn comments_strings_and_char_literals_are_not_code() {
    let source = "a // crate::x\nb /* c /* nested */ d */ e \"crate::y \\\" q\" f r#\"crate::z\"# g '\"' h 'a i '\\'' j";
    assert_eq!(
        code_only(source).split_whitespace().collect::<Vec<_>>(),
        ["a", "b", "e", "f", "g", "h", "'a", "i", "j"]
    );
}

#[test]
fn test_items_are_skipped_and_test_only_modules_named() {
    let source = "use crate::a::X;\n#[cfg(test)]\nmod tests {\n    use crate::b::{c, d};\n    fn f() { crate::e::g() }\n}\n\
                  #[cfg(test)]\npub(crate) mod testing;\n#[cfg(test)]\nuse crate::h;\nfn k() { self::m::n(); }\n";
    let scanned = scan(source);
    assert_eq!(
        scanned.paths,
        [vec!["crate", "a", "X"], vec!["self", "m", "n"]]
    );
    assert_eq!(scanned.test_children, ["testing"]);
}

#[test]
fn use_groups_expand_to_each_path() {
    let source = "use super::{Call, probes, x::{self, y::Z as W, *}};\nuse crate::q;\nlet v = super::super::r::S::<T>::new();";
    let names: Vec<String> = scan(source).paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        names,
        [
            "super::Call",
            "super::probes",
            "super::x",
            "super::x::y::Z",
            "super::x",
            "crate::q",
            "super::super::r::S",
        ]
    );
}

#[test]
fn a_declared_child_modules_paths_are_read_from_self() {
    let source = "mod media;\npub mod rates;\nuse rates::{ratio, per_second};\nfn f() { media::check(); other::g(); x::media::h(); }\n";
    let names: Vec<String> = scan(source).paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        names,
        [
            "self::rates::ratio",
            "self::rates::per_second",
            "self::media::check"
        ]
    );
}
