//! The threshold parser: `SUBJECT.METRIC OP VALUE` as written in a
//! scenario's `thresholds:` or on the command line (`--threshold`), through
//! `threshold::parse` (against step names, as validation does) and
//! `parse_recorded` (as `merge` and `report` read one back from a report).
#![no_main]

use chatload::report::ThresholdDef;
use chatload::scenario::threshold;
use libfuzzer_sys::fuzz_target;

const STEPS: &[&str] = &["create_chat", "send_message", "close", "login"];

fuzz_target!(|data: &[u8]| {
    let Ok(expr) = std::str::from_utf8(data) else {
        return;
    };
    let abort = data.len() % 2 == 0;
    match threshold::parse(expr, STEPS, abort) {
        Ok(t) => {
            std::hint::black_box(format!("{t:?}"));
        }
        Err(e) => {
            std::hint::black_box(e);
        }
    }
    let def = ThresholdDef {
        threshold: expr.to_owned(),
        abort_on_fail: abort,
        allow_empty: !abort,
    };
    let _ = std::hint::black_box(threshold::parse_recorded(&def));
});
