//! Syntax and type errors of the YAML parser, said in plain words: the place
//! in the document (`steps[1].send_message.sender`) recovered from the text,
//! parser jargon ("invalid u32", "expected string scalar") translated, and
//! unquoted `{{ }}` (which YAML reads as a nested mapping) found everywhere
//! in the file at once, with what to write instead.

/// Every unquoted `{{` where YAML would start a flow mapping: (line, column,
/// the template text). Lines are 1-based, columns 1-based.
pub(crate) fn unquoted_templates(text: &str) -> Vec<(u64, u64, String)> {
    let mut found = Vec::new();
    let mut block_indent: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        if let Some(b) = block_indent {
            if line.trim().is_empty() || indent > b {
                continue;
            }
            block_indent = None;
        }
        scan_line(line, n as u64 + 1, &mut found);
        let code = strip_comment(line).trim_end();
        if code.ends_with('|')
            || code.ends_with('>')
            || code.ends_with("|-")
            || code.ends_with(">-")
        {
            block_indent = Some(indent);
        }
    }
    found
}

fn scan_line(line: &str, number: u64, found: &mut Vec<(u64, u64, String)>) {
    let bytes = line.as_bytes();
    let (mut quote, mut depth, mut prev) = (None::<u8>, 0usize, None::<u8>);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'#' if i == 0 || bytes[i - 1] == b' ' => return,
                b'"' | b'\'' if prev.is_none_or(|p| b":-,[{?".contains(&p)) => quote = Some(b),
                b'{' if bytes.get(i + 1) == Some(&b'{') => {
                    let starts_node = prev.is_none_or(|p| b":-,[{?".contains(&p));
                    if depth > 0 || starts_node {
                        let rest = &line[i..];
                        let end = rest.find("}}").map_or(rest.len(), |e| e + 2);
                        found.push((number, i as u64 + 1, rest[..end].to_owned()));
                        i += end;
                        prev = Some(b'}');
                        continue;
                    }
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        if b != b' ' {
            prev = Some(b);
        }
        i += 1;
    }
}

fn strip_comment(line: &str) -> &str {
    match line.find(" #") {
        Some(i) => &line[..i],
        None if line.trim_start().starts_with('#') => "",
        None => line,
    }
}

/// Whether `text` holds nothing but blank lines and comments.
pub(crate) fn is_empty(text: &str) -> bool {
    text.lines().all(|l| strip_comment(l).trim().is_empty())
}

/// The place of the parser's error `message` at `line:column`: as
/// [`place_at`], and the key there when the message is about that key's
/// value (serde points at `status` of `status: abc` when `abc` is of the
/// wrong kind).
pub(crate) fn place_of(text: &str, line: u64, column: u64, message: &str) -> String {
    let mut place = place_at(text, line, column);
    let Some(current) = text.lines().nth(line.saturating_sub(1) as usize) else {
        return place;
    };
    if let Some((found, _)) = wrong_kind(message)
        && let Some(value) = found.strip_prefix('`').and_then(|f| f.strip_suffix('`'))
        && let Some((key, after)) = key_at(&current[byte_offset(current, column)..])
        && after
            .trim_start()
            .trim_start_matches(['"', '\''])
            .starts_with(value)
    {
        if !place.is_empty() {
            place.push('.');
        }
        place.push_str(key);
    }
    place
}

/// The mapping key `text` starts with and what follows its `:`
/// (`status`, ` abc}` of `status: abc}`).
fn key_at(text: &str) -> Option<(&str, &str)> {
    let code = strip_comment(text);
    let colon = code
        .char_indices()
        .find(|&(i, c)| c == ':' && code[i + 1..].chars().next().is_none_or(|n| n == ' '))?
        .0;
    let key = code[..colon].trim_end();
    let plain = !key.is_empty()
        && !key.starts_with(['-', '{', '[', '"', '\'', '#'])
        && !key.contains([',', '{', '}', '[', ']']);
    plain.then_some((key, &code[colon + 1..]))
}

/// The place in the document of `line:column` (1-based), as validation
/// writes it (`steps[1].expect.body`), recovered from indentation and flow
/// brackets. Empty when nothing can be said.
pub(crate) fn place_at(text: &str, line: u64, column: u64) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Some(current) = lines.get(line.saturating_sub(1) as usize) else {
        return String::new();
    };
    let col = byte_offset(current, column);
    // Keys and items on the error's own line, up to the column.
    let mut parts = line_parts(&current[..col], true);
    let mut indent = current.len() - current.trim_start().len();
    if let Some(Part::Item(_, dash_col)) = parts.first()
        && *dash_col == indent
    {
        let index = item_index(&lines[..line.saturating_sub(1) as usize], *dash_col);
        parts[0] = Part::Item(index, *dash_col);
    }
    for j in (0..line.saturating_sub(1) as usize).rev() {
        let l = lines[j];
        let code = strip_comment(l);
        if code.trim().is_empty() {
            continue;
        }
        let ind = l.len() - l.trim_start().len();
        if ind >= indent {
            continue;
        }
        let mut above = line_parts(code, false);
        // `- key:` with the child at the key's column: a sibling, not a child.
        if let Some(Part::Key(_, key_col)) = above.last()
            && *key_col == indent
        {
            above.pop();
        }
        if let Some(Part::Item(_, dash_col)) = above.first() {
            let index = item_index(&lines[..j], *dash_col);
            above[0] = Part::Item(index, *dash_col);
        }
        above.extend(parts);
        parts = above;
        indent = ind;
        if ind == 0 {
            break;
        }
    }
    let mut out = String::new();
    for p in parts {
        match p {
            Part::Key(k, _) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&k);
            }
            Part::Item(i, _) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    /// A mapping key and its column.
    Key(String, usize),
    /// A list item's index and its dash's column.
    Item(usize, usize),
}

/// The keys and list items a line opens (`- create_user: {name: ` → item,
/// `create_user`, `name`). With `own`, flow brackets closed before the end
/// are dropped and list indexes inside `[...]` are counted.
fn line_parts(text: &str, own: bool) -> Vec<Part> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    // Block part: dashes and one key.
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' => i += 1,
            b'-' if bytes.get(i + 1).is_none_or(|c| *c == b' ') => {
                parts.push(Part::Item(0, i));
                i += 1;
            }
            _ => break,
        }
    }
    let mut scan = FlowScan {
        text,
        parts,
        stack: Vec::new(),
        token_start: i,
    };
    let mut quote = None::<u8>;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match b {
            b'"' | b'\'' => quote = Some(b),
            b':' if bytes.get(i + 1).is_none_or(|c| *c == b' ') => scan.key_ends(i),
            b'{' | b'[' => scan.open(b, i),
            b'}' | b']' => scan.close(i),
            b',' => scan.next_entry(i),
            _ => {}
        }
        i += 1;
    }
    scan.finish(own)
}

/// The parts of a line read so far, past its leading dashes.
struct FlowScan<'t> {
    text: &'t str,
    parts: Vec<Part>,
    /// Open `{` and `[`: how many parts there were before it and, for a
    /// list, the index of its current item.
    stack: Vec<(usize, Option<usize>)>,
    /// Where the token being read began.
    token_start: usize,
}

impl FlowScan<'_> {
    /// A `:` at `colon` ends a key (the token before it, unquoted).
    fn key_ends(&mut self, colon: usize) {
        let token = &self.text[self.token_start..colon];
        let key = token.trim().trim_matches(['"', '\'']);
        if !key.is_empty() {
            let column = self.token_start + (token.len() - token.trim_start().len());
            self.parts.push(Part::Key(key.to_owned(), column));
        }
        self.token_start = colon + 1;
    }

    /// A `{` or `[` at `at` opens a flow mapping or list (its first item).
    fn open(&mut self, bracket: u8, at: usize) {
        let list = bracket == b'[';
        self.stack.push((self.parts.len(), list.then_some(0)));
        if list {
            self.parts.push(Part::Item(0, at));
        }
        self.token_start = at + 1;
    }

    /// A `}` or `]` at `at` closes the innermost flow collection.
    fn close(&mut self, at: usize) {
        if let Some((len, _)) = self.stack.pop() {
            self.parts.truncate(len);
        }
        self.token_start = at + 1;
    }

    /// A `,` at `at` ends an entry: the next key, or a list's next item.
    fn next_entry(&mut self, at: usize) {
        if let Some((len, list)) = self.stack.last_mut() {
            self.parts.truncate(*len);
            if let Some(n) = list {
                *n += 1;
                self.parts.push(Part::Item(*n, at));
            }
        }
        self.token_start = at + 1;
    }

    /// The parts; without `own`, only those before the first bracket still open.
    fn finish(mut self, own: bool) -> Vec<Part> {
        if !own {
            let len = self.stack.first().map_or(self.parts.len(), |(len, _)| *len);
            self.parts.truncate(len);
        }
        self.parts
    }
}

/// The index of the list item whose dash is at `dash_col` on the line after
/// `above`: its earlier siblings, up to the first line less indented.
fn item_index(above: &[&str], dash_col: usize) -> usize {
    let mut index = 0;
    for l in above.iter().rev() {
        let code = strip_comment(l);
        if code.trim().is_empty() {
            continue;
        }
        let ind = l.len() - l.trim_start().len();
        if ind < dash_col {
            break;
        }
        if ind == dash_col && l.trim_start().starts_with('-') {
            index += 1;
        }
    }
    index
}

/// The parser's message in plain words; `text` is the file, `line:column`
/// where the parser stopped.
pub(crate) fn plain_message(message: &str, text: &str, line: u64, column: u64) -> String {
    let found = token_at(text, line, column);
    let found_kind = if found.starts_with("{{") {
        return format!(
            "unquoted `{found}`: YAML reads `{{{{ }}}}` outside quotes as a nested mapping; quote it: \"{found}\""
        );
    } else if found.starts_with('{') {
        "a mapping".to_owned()
    } else if found.starts_with('[') {
        "a list".to_owned()
    } else if found.is_empty() {
        "nothing".to_owned()
    } else {
        format!("`{found}`")
    };
    if let Some((found, expected)) = wrong_kind(message) {
        return format!("expected {expected}, found {found}");
    }
    if message.starts_with("simple key expected") {
        return format!(
            "expected `key: value` here, found {found_kind}: a `:` is missing, or the line is indented differently from the keys beside it"
        );
    }
    if message.starts_with("mapping values are not allowed") {
        return "a `key: value` cannot start here: check the indentation (a key indented under a plain value), or quote a value holding `: `".to_owned();
    }
    if message.starts_with("invalid u") || message.starts_with("invalid i") {
        return format!("expected a whole number of 0 or more, found {found_kind}");
    }
    if message.starts_with("invalid f") {
        return format!("expected a number, found {found_kind}");
    }
    if message.starts_with("invalid bool") || message.contains("expected a boolean") {
        return format!("expected true or false, found {found_kind}");
    }
    if message.starts_with("expected string scalar") || message.contains("expected a string") {
        return format!(
            "expected text here, found {found_kind} (quote text that starts with {{ or [)"
        );
    }
    if message.starts_with("expected sequence start") || message.contains("expected a sequence") {
        return format!("expected a list (`- item` lines or [a, b]), found {found_kind}");
    }
    if message.starts_with("expected mapping start") || message.contains("expected a map") {
        return format!(
            "expected a mapping (`key: value` lines or {{key: value}}), found {found_kind}"
        );
    }
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        return format!("`{field}` is required here");
    }
    if message.contains("did not find expected") {
        return format!("{message} (check the indentation and the `-` of list items)");
    }
    message.to_owned()
}

/// serde's `invalid type: string "abc", expected X` (and `invalid value: …`)
/// as what was found (`` `abc` ``: the value as written, not serde's name
/// for its kind) and what was expected.
fn wrong_kind(message: &str) -> Option<(String, &str)> {
    let rest = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))?;
    let (found, expected) = rest.split_once(", expected ")?;
    let found = match found {
        "map" => "a mapping".to_owned(),
        "sequence" => "a list".to_owned(),
        "unit value" | "null" | "Option value" => "nothing".to_owned(),
        other => {
            let value = other
                .split_once(['`', '"'])
                .map_or(other, |(_, v)| v.trim_end_matches(['`', '"']));
            format!("`{value}`")
        }
    };
    Some((found, expected))
}

/// The scalar or bracket at `line:column`, up to the end of its value.
fn token_at(text: &str, line: u64, column: u64) -> String {
    let Some(l) = text.lines().nth(line.saturating_sub(1) as usize) else {
        return String::new();
    };
    let rest = strip_comment(&l[byte_offset(l, column)..]).trim_end();
    if rest.starts_with("{{") {
        let end = rest.find("}}").map_or(rest.len(), |e| e + 2);
        return rest[..end].to_owned();
    }
    let end = rest.find([',', '}', ']']).unwrap_or(rest.len());
    let token = rest[..end].trim();
    match rest.chars().next() {
        Some(first) if token.is_empty() => first.to_string(),
        _ => token.to_owned(),
    }
}

/// The byte offset in `line` of the 1-based `column`, which the YAML parser
/// counts in characters (the end of the line past it).
fn byte_offset(line: &str, column: u64) -> usize {
    let chars = column.saturating_sub(1) as usize;
    line.char_indices()
        .nth(chars)
        .map_or(line.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `fuzz/run.sh` (target `scenario`): the parser's column
    /// counts characters, and a `…` before it made a byte slice panic.
    #[test]
    fn an_error_after_a_multibyte_character_is_located_without_panicking() {
        let crash = include_str!("../../fuzz/crashes/scenario-syntax-rs-298.yaml");
        let error = crate::scenario::load_str(crash, "crash.yaml", std::path::Path::new("."))
            .expect_err("the fuzzer's input is no scenario");
        assert!(error.to_string().contains("crash.yaml:"), "{error}");
        // The column is in characters: the token after `…` is found whole.
        assert_eq!(token_at("a: {…} b", 1, 8), "b");
        assert_eq!(token_at("k: é", 1, 4), "é");
        assert_eq!(place_at("é: {…: [x", 1, 9), "é.…[0]");
        assert_eq!(place_at("e: {x: [x", 1, 9), "e.x[0]");
    }

    const DOC: &str = "name: x\nload: {vus: -3, duration: 1s}\nsteps:\n  - create_user:\n  - send_message: {sender: \"{{ a }}\", message: {{ b }}}\n    expect:\n      body:\n        user.id: {{ c }}\n    # {{ in a comment }}\n  - request:\n      body: |\n        {{ in a block }}\n      path: x {{ fine }}\n";

    #[test]
    fn unquoted_templates_are_found_everywhere_and_only_there() {
        let found = unquoted_templates(DOC);
        assert_eq!(
            found,
            vec![(5, 48, "{{ b }}".to_owned()), (8, 18, "{{ c }}".to_owned())]
        );
    }

    #[test]
    fn places_follow_indentation_and_flow_brackets() {
        assert_eq!(place_at(DOC, 2, 13), "load.vus");
        assert_eq!(place_at(DOC, 5, 48), "steps[1].send_message.message");
        assert_eq!(place_at(DOC, 8, 18), "steps[1].expect.body.user.id");
        assert_eq!(place_at(DOC, 13, 13), "steps[2].request.path");
    }

    #[test]
    fn parser_jargon_becomes_plain_words() {
        assert_eq!(
            plain_message("invalid u32", DOC, 2, 13),
            "expected a whole number of 0 or more, found `-3`"
        );
        assert!(
            plain_message("expected string scalar", DOC, 5, 48)
                .starts_with("unquoted `{{ b }}`: YAML reads `{{ }}` outside quotes as a nested mapping; quote it: \"{{ b }}\"")
        );
        assert_eq!(
            plain_message("expected sequence start", "steps:\n  get_user:\n", 2, 3),
            "expected a list (`- item` lines or [a, b]), found `get_user:`"
        );
        assert_eq!(
            plain_message("missing field `name`", DOC, 1, 1),
            "`name` is required here"
        );
    }
}
