use super::*;

/// `(kind, path)` pairs as `check_outputs` takes them.
fn extra<'a>(pairs: &[(Kind, &'a Path)]) -> Vec<(Kind, Option<&'a Path>)> {
    pairs.iter().map(|(k, p)| (*k, Some(*p))).collect()
}

#[test]
fn checking_the_outputs_changes_no_file_and_writing_replaces_them() {
    let dir = tempfile::tempdir().unwrap();
    let (out, junit) = (dir.path().join("out.json"), dir.path().join("j.xml"));
    std::fs::write(&out, "keep me").unwrap();
    std::fs::write(&junit, "keep me too").unwrap();
    let (html, default) = (dir.path().join("r.html"), dir.path().join("d/x.json"));
    let outputs = check_outputs(
        Some(&out),
        default.clone(),
        &extra(&[(Kind::Junit, &junit), (Kind::Html, &html)]),
    )
    .unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    assert_eq!(std::fs::read_to_string(&junit).unwrap(), "keep me too");
    assert!(!html.exists() && !default.exists());
    let delivered = outputs.deliver(|kind| Ok(format!("{kind:?}").into_bytes()));
    assert!(delivered.failures.is_empty(), "{:?}", delivered.failures);
    assert_eq!(delivered.report, Some(out.clone()));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "Json");
    assert_eq!(std::fs::read_to_string(&junit).unwrap(), "Junit");
    assert_eq!(std::fs::read_to_string(&html).unwrap(), "Html");
    // Without --out, the default name is created only when written.
    let outputs = check_outputs(None, default.clone(), &[]).unwrap();
    assert!(!default.exists());
    let delivered = outputs.deliver(|_| Ok(b"{}".to_vec()));
    assert_eq!(delivered.report, Some(default));
}

/// Audit 8, finding 3: an output whose directory was replaced by a file
/// during the work is named with its path and why; the JSON report goes to
/// the fallback (the default name), said where; the others are written.
#[test]
fn an_output_that_cannot_be_written_at_the_end_is_named_and_the_json_saved_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("gone");
    let (out, html) = (gone.join("r.json"), gone.join("r.html"));
    let (csv, default) = (dir.path().join("r.csv"), dir.path().join("d/x.json"));
    let outputs = check_outputs(
        Some(&out),
        default.clone(),
        &extra(&[(Kind::Html, &html), (Kind::Csv, &csv)]),
    )
    .unwrap();
    std::fs::remove_dir_all(&gone).unwrap();
    std::fs::write(&gone, "now a file").unwrap();
    let delivered = outputs.deliver(|kind| Ok(format!("{kind:?}").into_bytes()));
    assert_eq!(delivered.report, Some(default.clone()));
    assert_eq!(std::fs::read_to_string(&default).unwrap(), "Json");
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), "Csv");
    assert_eq!(delivered.written, [(Kind::Csv, csv)]);
    let not_a_dir = format!("{} is a file, not a directory", gone.display());
    assert_eq!(
        delivered.failures,
        [
            format!(
                "cannot write the JSON report to {}: {not_a_dir}; it was saved to {} instead",
                out.display(),
                default.display()
            ),
            format!(
                "cannot write the HTML report to {}: {not_a_dir}",
                html.display()
            ),
        ]
    );
    let error = delivered.exit(Exit::Passed).unwrap_err();
    assert_eq!(error.exit, Exit::RunFailed);
}

/// Audit 8, finding 4: two outputs naming one file, however spelled, are
/// refused before any work, naming both flags and paths; nothing is created.
#[test]
fn two_outputs_naming_one_file_however_spelled_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out/x.json");
    let spellings = [
        dir.path().join("out/./x.json"),
        dir.path().join("out/../out/x.json"),
        dir.path().join("./out/x.json"),
    ];
    let default = dir.path().join("d/x.json");
    for same in &spellings {
        for kind in [Kind::Junit, Kind::Html, Kind::Csv] {
            let Err(error) = check_outputs(Some(&out), default.clone(), &extra(&[(kind, same)]))
            else {
                panic!("{} accepted", same.display());
            };
            assert_eq!(error.exit, Exit::Usage);
            assert_eq!(
                error.message(),
                format!(
                    "--out {} and {} {} are the same file: one output would overwrite the \
                     other; give each its own path",
                    out.display(),
                    kind.flag(),
                    same.display()
                )
            );
        }
    }
    assert!(!dir.path().join("out").exists() && !default.exists());
    // Through a symbolic link to the directory, and between two renderings.
    std::fs::create_dir(dir.path().join("real")).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
        let (html, csv) = (dir.path().join("real/r"), dir.path().join("link/r"));
        let pairs = extra(&[(Kind::Html, &html), (Kind::Csv, &csv)]);
        let error = check_outputs(None, default.clone(), &pairs).err().unwrap();
        assert!(
            error.message().starts_with("--html "),
            "{}",
            error.message()
        );
    }
    // Different files pass.
    let other = dir.path().join("out/y.json");
    check_outputs(Some(&out), default, &extra(&[(Kind::Html, &other)])).unwrap();
}

/// A rendering naming the report it renders is refused.
#[test]
fn a_rendering_over_its_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("r.json");
    std::fs::write(&input, "{}").unwrap();
    let same = dir.path().join("./r.json");
    let error = check_renderings(
        ("the report to render", &input),
        &extra(&[(Kind::Csv, &same)]),
    )
    .err()
    .unwrap();
    assert_eq!(error.exit, Exit::Usage);
    assert!(
        error.message().starts_with(&format!(
            "--csv {} is {}, the report to render",
            same.display(),
            input.display()
        )),
        "{}",
        error.message()
    );
    assert_eq!(std::fs::read_to_string(&input).unwrap(), "{}");
}

/// Outside audit 4, F12.7: a parent that is a file is said so, not as
/// the OS's "File exists"; nothing is created.
#[test]
fn an_output_under_a_file_says_the_file_is_no_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("o.txt");
    std::fs::write(&file, "keep me").unwrap();
    for path in [file.join("x.html"), file.join("sub/x.html")] {
        let message = format!("{:#}", check_writable(&path).unwrap_err());
        assert_eq!(
            message,
            format!(
                "cannot write to {}: {} is a file, not a directory",
                path.display(),
                file.display()
            )
        );
        let message = format!("{:#}", create_report_file(&path).unwrap_err());
        assert_eq!(
            message,
            format!("{} is a file, not a directory", file.display())
        );
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

#[test]
fn a_default_report_name_never_overwrites_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    std::fs::write(&path, "keep me").unwrap();
    let (first, _) = create_new_report_file(path.clone()).unwrap();
    let (second, _) = create_new_report_file(path.clone()).unwrap();
    assert_eq!(first, dir.path().join("run-2.json"));
    assert_eq!(second, dir.path().join("run-3.json"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
}

/// Re-verification of audit 8, finding 4: a dangling symbolic link to the
/// JSON report, given as another output, was not seen as the same file.
#[cfg(unix)]
#[test]
fn a_dangling_link_names_the_file_it_points_to() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b.json");
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink("b.json", &link).unwrap();
    assert!(!out.exists(), "the link dangles");
    assert_eq!(file_identity(&link), file_identity(&out));
    // A loop of links ends, naming some path rather than hanging.
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::os::unix::fs::symlink("b", &a).unwrap();
    std::os::unix::fs::symlink("a", &b).unwrap();
    let _ = file_identity(&a);
}
