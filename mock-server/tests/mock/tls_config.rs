//! The `tls:` section's errors: located in the configuration file, the OS
//! error said once, reported by `load_tls` before anything binds.

use chatload_mock::MockConfig;

// See: audit item 4.
#[test]
fn an_unreadable_certificate_is_reported_at_its_place_in_the_file() {
    let dir = std::env::temp_dir().join(format!("chatload-mock-tls-at-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mock.yaml");
    std::fs::write(&file, "seed: 3\ntls:\n  cert: nope.pem\n  key: nope.pem\n").unwrap();
    let config = MockConfig::from_yaml_file(&file).expect("the YAML is valid");
    let error = chatload_mock::load_tls(&config).expect_err("nope.pem is missing");
    let chain = format!("{:#}", anyhow::Error::from(error));
    let at = format!("{}:3:9: tls: cannot read", file.display());
    assert!(chain.starts_with(&at), "{chain}");
    assert_eq!(chain.matches("os error").count(), 1, "{chain}");
    let plain = MockConfig::from_yaml_str("seed: 3\n", "m.yaml").unwrap();
    assert!(chatload_mock::load_tls(&plain).unwrap().is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}
