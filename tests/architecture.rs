//! The dependency rule, checked on the source so it cannot rot: modules depend on each other in
//! one direction only (the graph has no cycle), `spec` sits at the bottom above the generic
//! helpers, clap stays in `cli`, and docs/architecture.md lists every module's dependencies as
//! they are.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Modules at the bottom: they import nothing from the crate but each other.
const LEAVES: &[&str] = &["support", "exit_code", "redact"];

/// What `spec` may import: the leaves and the metric registry.
const SPEC_MAY_IMPORT: &[&str] = &["support", "exit_code", "redact", "registry"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/plan/mod.rs` → `plan`, `src/redact.rs` →
/// `redact`); `None` for the crate roots.
fn module_of(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(Path::new(ROOT).join("src")).ok()?;
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs").to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// The code of a file without comments (a `crate::x` in a doc comment is not a dependency).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Top-level modules a text refers to: `crate::x::...` and `use crate::{x, y::z}`.
fn referenced_modules(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // A use group: every item at its top nesting level names a module.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(head(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            out.insert(head(&item));
        } else {
            out.insert(head(rest));
        }
    }
    out.remove("");
    out
}

fn head(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Module → the other modules it refers to.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("src"), &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&file) else {
            continue;
        };
        let text = code(&std::fs::read_to_string(&file).unwrap());
        let deps = graph.entry(module.clone()).or_default();
        for dep in referenced_modules(&text) {
            // `crate::VERSION`, `crate::sentence_error!` and the like are items of the crate
            // root, not modules.
            if dep != module && modules.contains(&dep) {
                deps.insert(dep);
            }
        }
    }
    graph
}

/// A cycle through `start`, if there is one.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        node: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(node).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    walk(graph, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn modules_depend_on_each_other_in_one_direction() {
    let graph = module_graph();
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|m| cycle_from(&graph, m))
        .map(|c| c.join(" -> "))
        .collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn spec_is_the_bottom_layer() {
    let graph = module_graph();
    let above: Vec<&String> = graph["spec"]
        .iter()
        .filter(|d| !SPEC_MAY_IMPORT.contains(&d.as_str()))
        .collect();
    assert!(
        above.is_empty(),
        "spec imports {above:?}; it may import only {SPEC_MAY_IMPORT:?}"
    );
    for leaf in LEAVES {
        let deps: Vec<&String> = graph[*leaf]
            .iter()
            .filter(|d| !LEAVES.contains(&d.as_str()))
            .collect();
        assert!(deps.is_empty(), "{leaf} is a leaf but imports {deps:?}");
    }
}

#[test]
fn clap_lives_in_cli() {
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("src"), &mut files);
    let mut offenders = Vec::new();
    for file in files {
        let module = module_of(&file);
        if module.as_deref() == Some("cli") || module.is_none() {
            continue;
        }
        let text = code(&std::fs::read_to_string(&file).unwrap());
        for pattern in ["clap::Args", "clap::Parser", "clap::Subcommand", "use clap"] {
            if text.contains(pattern) {
                offenders.push(format!("{}: {pattern}", file.display()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "clap argument types outside cli/ (value enums may derive clap::ValueEnum):\n{}",
        offenders.join("\n")
    );
}

/// docs/architecture.md has a line `- `module` → a, b, c` (or `→ nothing`) for every module,
/// matching the code.
#[test]
fn the_documented_module_graph_is_the_real_one() {
    let graph = module_graph();
    let doc = std::fs::read_to_string(Path::new(ROOT).join("docs/architecture.md")).unwrap();
    let mut documented: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in doc.lines() {
        let Some(rest) = line.strip_prefix("- `") else {
            continue;
        };
        let Some((module, deps)) = rest.split_once("` → ") else {
            continue;
        };
        let deps = deps
            .split(',')
            .map(|d| d.trim().trim_matches('`').to_string())
            .filter(|d| !d.is_empty() && d != "nothing")
            .collect();
        documented.insert(module.to_string(), deps);
    }
    let expected: Vec<String> = graph
        .iter()
        .map(|(m, deps)| {
            let list: Vec<&str> = deps.iter().map(String::as_str).collect();
            format!(
                "- `{m}` → {}",
                if list.is_empty() {
                    "nothing".to_string()
                } else {
                    list.join(", ")
                }
            )
        })
        .collect();
    assert!(
        documented == graph,
        "docs/architecture.md's module graph is stale; the code says:\n{}",
        expected.join("\n")
    );
}

#[test]
fn the_scanner_sees_use_groups_and_paths() {
    let text = "use crate::{spec::X, plan::{a, b}};\nlet x = crate::run::go();\n// crate::cli in a comment";
    let found = referenced_modules(&code(text));
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["plan", "run", "spec"]
    );
}
