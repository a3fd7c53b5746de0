//! Renders a chatload JSON run report as the self-contained HTML page.
//!
//! `cargo run --example render_html -- RUN.json OUT.html`

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: render_html RUN.json OUT.html");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(input) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("cannot read {input}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let html = match chatload::report::RunReport::from_json(&bytes)
        .and_then(|report| chatload::report::html::render(&report))
    {
        Ok(html) => html,
        Err(e) => {
            eprintln!("{input}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::write(output, &html) {
        eprintln!("cannot write {output}: {e}");
        return ExitCode::FAILURE;
    }
    println!("wrote {output} ({} bytes)", html.len());
    ExitCode::SUCCESS
}
