//! Documentation that must not drift from the code.

#[test]
fn readme_lists_every_exit_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for (code, meaning) in aiperf::exit_code::ExitCode::ALL {
        let row = format!("| {} | {meaning} |", code.0);
        assert!(
            readme.contains(&row),
            "README misses the exit code row {row}"
        );
    }
}

#[test]
fn metrics_doc_covers_every_metric() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md")).unwrap();
    for def in aiperf::registry::REGISTRY {
        assert!(
            doc.contains(&format!("| `{}` | {} |", def.tag, def.header)),
            "docs/metrics.md misses {}",
            def.tag
        );
    }
}

#[test]
fn ci_runs_the_readme_test_command() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run")).unwrap();
    assert!(readme.contains("```sh\ncargo test --locked\n```"));
    assert!(ci.lines().any(|l| l.trim() == "cargo test --locked"));
}

#[test]
fn plots_doc_covers_every_plot() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/plots.md")).unwrap();
    for preset in aiperf::plot::catalogue::PRESETS {
        assert!(
            doc.contains(&format!("| `{}`", preset.name))
                || doc.contains(&format!(", `{}`", preset.name)),
            "docs/plots.md misses the plot {}",
            preset.name
        );
    }
}
