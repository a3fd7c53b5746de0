//! The template engine: `{{ … }}` strings parsed (`Template::parse`, and
//! `ValueTemplate::parse` over a JSON value when the input is JSON) and then
//! rendered, as the engine does per request. Every name resolves to a slot;
//! even slots hold a value, odd ones are unset, so both render outcomes run.
#![no_main]

use chatload::scenario::VarTable;
use chatload::scenario::template::{RenderContext, Template, ValueTemplate, VarId};
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde_json::Value;

struct Cx {
    values: Vec<Option<Value>>,
    rng: SmallRng,
}

impl RenderContext for Cx {
    fn var(&self, id: VarId) -> Option<&Value> {
        self.values.get(id.0 as usize).and_then(Option::as_ref)
    }
    fn vu(&self) -> u64 {
        1
    }
    fn iteration(&self) -> u64 {
        0
    }
    fn rng(&mut self) -> &mut SmallRng {
        &mut self.rng
    }
}

fn context(vars: &VarTable) -> Cx {
    let values = (0..vars.names.len())
        .map(|i| (i % 2 == 0).then(|| Value::from(format!("v{i}"))))
        .collect();
    Cx {
        values,
        rng: SmallRng::seed_from_u64(0),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut vars = VarTable::default();
    // Names with a space never resolve, so unknown-variable errors run too.
    let mut resolve = |name: &str| (!name.contains(' ')).then(|| vars.intern(name, None));
    let template = Template::parse(text, &mut resolve);
    let value = serde_json::from_str::<Value>(text)
        .ok()
        .map(|v| ValueTemplate::parse(&v, &mut resolve));
    let mut cx = context(&vars);
    match template {
        Ok(t) => {
            let _ = std::hint::black_box(t.render(&mut cx));
            let _ = std::hint::black_box(t.render_value(&mut cx));
        }
        Err(e) => {
            std::hint::black_box(e.to_string());
        }
    }
    if let Some(Ok(v)) = value {
        let _ = std::hint::black_box(v.render(&mut cx));
    }
});
