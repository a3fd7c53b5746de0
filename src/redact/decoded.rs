//! Issued tokens inside base64 text, found by decoding it at the output
//! boundary instead of keeping each token's base64 forms (built once per
//! captured token, on the request path, they cost more than the rest of
//! the masking).
//!
//! A run of base64 characters (the standard and the URL-safe alphabet
//! alike) is decoded from each of its first four characters, since the
//! encoded text may start anywhere in the run (after `Basic `, after a
//! `user:` encoded with the token, after other characters of the alphabet);
//! the decoded bytes are searched like the text itself. A match masks the
//! characters that hold any of the token's bits: a token is found at any
//! alignment, inside a longer encoded text, padded or not.

use std::ops::Range;

/// Tokens shorter than this keep their base64 forms in the book: the
/// decoded search looks only for this many bytes or more, so that random
/// text decoded (a report is full of words the alphabet spells) cannot
/// match a short token by chance.
pub(super) const MIN_LEN: usize = super::forms::MIN_CORE_BYTES;

/// The characters of `text` to mask: those encoding a token `find` finds in
/// the decoded bytes, ascending and merged.
pub(super) fn ranges(text: &[u8], find: &impl Fn(&[u8]) -> Vec<Range<usize>>) -> Vec<Range<usize>> {
    let min_chars = (8 * MIN_LEN).div_ceil(6);
    let mut out = Vec::new();
    for run in runs(text).filter(|run| run.len() >= min_chars) {
        for start in run.start..(run.start + 4).min(run.end) {
            let decoded = decode(&text[start..run.end]);
            for hit in find(&decoded).into_iter().filter(|h| h.len() >= MIN_LEN) {
                let first = start + 8 * hit.start / 6;
                let last = (start + (8 * hit.end).div_ceil(6)).min(run.end);
                out.push(first..last);
            }
        }
    }
    merged(out)
}

/// The maximal runs of base64 characters in `text`.
fn runs(text: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let start = at + text[at..].iter().position(|&c| sextet(c).is_some())?;
        let len = text[start..]
            .iter()
            .position(|&c| sextet(c).is_none())
            .unwrap_or(text.len() - start);
        at = start + len;
        Some(start..at)
    })
}

/// The bytes base64 characters stand for (a last partial byte dropped).
fn decode(chars: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(chars.len() * 3 / 4);
    let (mut bits, mut held) = (0u32, 0u32);
    for value in chars.iter().filter_map(|&c| sextet(c)) {
        bits = (bits << 6) | u32::from(value);
        held += 6;
        if held >= 8 {
            held -= 8;
            out.push((bits >> held) as u8);
            bits &= (1 << held) - 1;
        }
    }
    out
}

/// A base64 character's value, in the standard or the URL-safe alphabet.
fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// `ranges` sorted, overlapping and touching ones joined.
fn merged(mut ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    ranges.sort_unstable_by_key(|r| r.start);
    let mut out: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match out.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => out.push(range),
        }
    }
    out
}
