//! The mock's config loader: YAML text → validated `MockConfig`, through
//! `MockConfig::from_yaml_str`, the function `from_yaml_file` (the mock's
//! `--config` and chatload's embedded mock) calls.
#![no_main]

use chatload_mock::MockConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match MockConfig::from_yaml_str(text, "fuzz.yaml") {
        Ok(config) => {
            std::hint::black_box(format!("{config:?}"));
        }
        Err(e) => {
            std::hint::black_box(e.to_string());
        }
    }
});
