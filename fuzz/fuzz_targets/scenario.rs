//! The scenario loader: YAML text → validated scenario, through
//! `chatload::scenario::load_str`, the function `load_file` (and so the
//! CLI's `run`, `validate` and `conform`) calls. Every outcome must be an
//! `Ok` or a located `Err`; a panic is a bug. The errors are rendered too,
//! since their file:line:column and excerpt code slices the input text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A directory that does not exist: feed and media files named by a
    // relative path are never found, so the fuzzer reads nothing from disk.
    let base = Path::new("/nonexistent/chatload-fuzz");
    match chatload::scenario::load_str(text, "fuzz.yaml", base) {
        Ok(scenario) => {
            std::hint::black_box(format!("{scenario:?}"));
        }
        Err(e) => {
            std::hint::black_box(e.to_string());
        }
    }
});
