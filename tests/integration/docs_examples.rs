//! The YAML examples of `docs/scenario-format.md` and `docs/webhooks.md`,
//! as a user copies them: every ```` ```yaml ```` block validates, a whole
//! scenario as it is and a fragment (a section, steps, an `expect` or a
//! `capture`) inside a small host scenario it fits into; and the README's
//! minimal mock configuration runs the shipped lifecycle in process, and its
//! lifecycle scenario is the shipped file.

use std::path::{Path, PathBuf};

use chatload::app::Exit;

use crate::common::{chatload, run_scenario, write_scenario};

/// The documents whose examples are checked.
const DOCUMENTS: [&str; 2] = ["docs/scenario-format.md", "docs/webhooks.md"];

/// The host a fragment is placed into: one flow named `chat` (the scenario's
/// name) with a user, an assigned chat, a message, a `retry_login` step (the
/// threshold examples name it) and a close; `{extra}` are the fragment's steps.
fn host_scenario(extra_steps: &str) -> String {
    format!(
        "name: chat\nload: {{vus: 1, iterations: 1}}\nwebhooks: {{}}\nsteps:\n  \
         - create_user:\n  - create_chat:\n  - assign:\n  - send_message: {{message: hello}}\n\
         {extra_steps}  - get_chat:\n    name: retry_login\n  - close_chat:\n"
    )
}

/// The ```` ```yaml ```` blocks of a document, with their first line number.
fn yaml_blocks(doc: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in doc.lines().enumerate() {
        match current.as_mut() {
            None if line == "```yaml" => current = Some((n + 2, String::new())),
            None => {}
            Some(_) if line.starts_with("```") => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    blocks
}

/// A document's top-level sections in order: each key with its text.
fn sections(yaml: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in yaml.lines() {
        let top_key = line.split_once(':').map(|(key, _)| key).filter(|key| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        });
        match (top_key, out.last_mut()) {
            (Some(key), _) => out.push((key.to_owned(), format!("{line}\n"))),
            (None, Some((_, text))) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// The scenario an example stands for: itself when it is one, else the
/// host with the fragment in place (its sections replace the host's).
fn as_scenario(example: &str) -> String {
    if example.starts_with("- ") {
        return host_scenario(&indent(example, 2));
    }
    let fragment = sections(example);
    match fragment.first().map(|(key, _)| key.as_str()) {
        Some("name") => example.to_owned(),
        Some("expect" | "capture") => {
            host_scenario(&format!("  - get_chat:\n{}", indent(example, 4)))
        }
        _ => {
            let mut host = sections(&host_scenario(""));
            for (key, text) in fragment {
                if key == "flows" {
                    host.retain(|(k, _)| k != "steps");
                }
                match host.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = text,
                    None => host.push((key, text)),
                }
            }
            host.into_iter().map(|(_, text)| text).collect()
        }
    }
}

/// Writes each example of `doc` into `dir` as a scenario; returns the files.
fn write_examples(dir: &Path, doc: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let stem = Path::new(doc)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("doc");
    yaml_blocks(&text)
        .into_iter()
        .map(|(line, example)| {
            let name = format!("{stem}-line{line}.yaml");
            write_scenario(dir, &name, &as_scenario(&example))
        })
        .collect()
}

/// The files the examples refer to, next to the scenarios.
fn write_referenced_files(dir: &Path) {
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    };
    std::fs::create_dir(dir.join("files")).expect("files/ is created");
    write("mock-ca.pem", b"");
    write("people.csv", b"name,email\nAda,ada@example.com\n");
    write("files/logo.png", b"\x89PNG\r\n\x1a\nlogo");
}

#[test]
fn every_yaml_example_of_the_scenario_docs_validates() {
    let dir = tempfile::tempdir().unwrap();
    write_referenced_files(dir.path());
    for doc in DOCUMENTS {
        let files = write_examples(dir.path(), doc);
        assert!(
            files.len() >= 3,
            "{doc}: only {} yaml blocks found",
            files.len()
        );
        let out = chatload()
            .arg("validate")
            .args(&files)
            .env("HOOK_SECRET", "example-hook-secret")
            .current_dir(dir.path())
            .output()
            .expect("chatload validate runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let shown: Vec<String> = files
            .iter()
            .map(|f| format!("{}:\n{}", f.display(), std::fs::read_to_string(f).unwrap()))
            .collect();
        assert!(
            out.status.success(),
            "{doc}: an example does not validate (the file name gives its line in {doc}):\n{stderr}\n{}",
            shown.join("\n")
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.matches(": ok (").count(), files.len(), "{stdout}");
    }
}

/// The README's "A minimal configuration" of the bundled mock.
fn readme_minimal_mock_config() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md is readable");
    let at = readme
        .find("A minimal configuration:")
        .expect("the minimal configuration");
    let (_, block) = yaml_blocks(&readme[at..])
        .into_iter()
        .next()
        .expect("its yaml block");
    block
}

/// `chatload run scenarios/chat-lifecycle.yaml --mock-config mock.yaml`, as
/// the README shows it: the configuration replaces the default world with
/// its own app (`shop-app`), and the scenario, which names no credentials,
/// runs as that app instead of failing every request as an unknown app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_mock_configuration_runs_the_shipped_lifecycle_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let config = readme_minimal_mock_config();
    assert!(config.contains("id: shop-app"), "{config}");
    let config_path = write_scenario(dir.path(), "mock.yaml", &config);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scenario = root.join("scenarios/chat-lifecycle.yaml");
    let args = [
        "--mock-config",
        config_path.to_str().unwrap(),
        "--vus",
        "2",
        "--iterations",
        "2",
    ];
    let (exit, report) = run_scenario(dir.path(), &scenario, &args).await;
    assert_eq!(exit, Exit::Passed, "{:?}", report.failure_samples);
    assert_eq!(report.totals.iterations, 2);
    assert_eq!(report.totals.errors, 0);
}

/// The shipped scenarios that name the default world's apps
/// (`agent-actors.yaml` names `demo-app`) against the README's minimal
/// configuration, whose only app is `shop-app`: refused before any load
/// (exit 2), saying the App ID is none of the configuration's apps, without
/// quoting it. It exited 3 ("cannot switch the mock's simulated agents
/// off") and `queue-mode.yaml` 3 too, after starting the run (audit 4, F5).
#[test]
fn a_scenario_naming_an_app_the_mock_configuration_lacks_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_scenario(dir.path(), "mock.yaml", &readme_minimal_mock_config());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for scenario in ["agent-actors.yaml", "queue-mode.yaml"] {
        let stderr = crate::common::usage_error(
            chatload()
                .arg("run")
                .arg(root.join("scenarios").join(scenario))
                .arg("--mock-config")
                .arg(&config_path)
                .args(["--quiet", "--out"])
                .arg(dir.path().join("r.json")),
        );
        assert!(
            stderr.contains("is not an app of the bundled mock") && stderr.contains("mock.yaml"),
            "{scenario}: {stderr}"
        );
        assert!(!stderr.contains("demo-"), "{scenario}: {stderr}");
        assert!(!dir.path().join("r.json").exists(), "{scenario}");
    }
}

/// The README shows `scenarios/chat-lifecycle.yaml` as shipped (from its
/// `name:` line on), so what a reader copies from it runs as the shipped
/// file does, within room 1's 12 agent slots.
#[test]
fn the_readme_lifecycle_scenario_is_the_shipped_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md is readable");
    let at = readme
        .find("`scenarios/chat-lifecycle.yaml` (without its opening comment):")
        .expect("the README introduces the shipped lifecycle scenario");
    let (_, block) = yaml_blocks(&readme[at..])
        .into_iter()
        .next()
        .expect("its yaml block");
    let shipped = std::fs::read_to_string(root.join("scenarios/chat-lifecycle.yaml"))
        .expect("the shipped scenario is readable");
    let from_name = shipped.find("name: chat-lifecycle").expect("its name");
    assert_eq!(block, &shipped[from_name..]);
}
