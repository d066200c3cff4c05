//! The module graph of the `sparkimg` library, read from its `crate::` paths: no cycle
//! among its top-level modules, foundations that use only foundations, components that
//! use only foundations (never each other), and the pipeline (`build`) used by nothing
//! but the exit-code classifier. ARCHITECTURE.md names the same groups.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules that depend on no component: the OCI model, layers, hashing, HTTP, the
/// cache's locks, progress and messages.
const FOUNDATIONS: &[&str] = &[
    "digest", "oci", "layer", "jar", "http", "cache", "progress", "report", "usage", "env_vars",
];
/// What the pipeline is made of; each uses foundations only.
const COMPONENTS: &[&str] = &[
    "fetch", "registry", "apt", "maven", "sbom", "engine", "sign",
];
/// The pipeline, and the classifier that knows every error type.
const TOP: &[&str] = &["build", "exit"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .join("builder/src")
}

/// The library's files (not the binary's `main.rs`, `commands/`, `out.rs`), each with
/// the top-level module it belongs to.
fn library_files(src: &Path) -> Vec<(String, PathBuf)> {
    let binary = ["main.rs", "lib.rs", "out.rs", "version.rs"];
    let mut out = Vec::new();
    for e in walkdir(src) {
        let rel = e.strip_prefix(src).expect("under src").to_path_buf();
        let first = rel.components().next().expect("a component");
        let first = first.as_os_str().to_string_lossy().into_owned();
        if binary.contains(&first.as_str()) || first == "commands" {
            continue;
        }
        // Unit tests may use anything (e.g. `exit` to check codes).
        if rel.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        out.push((first.trim_end_matches(".rs").to_string(), e));
    }
    out
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("readable source folder")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// Top-level modules named by `crate::X` in the code of `text` (comments and the
/// `#[cfg(test)]` tail left out).
fn used_modules(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut used = BTreeSet::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        for (i, _) in line.match_indices("crate::") {
            let before = line[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let name: String = line[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                used.insert(name);
            }
        }
    }
    used
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, path) in library_files(&src()) {
        let text = std::fs::read_to_string(&path).expect("readable source");
        let uses = g.entry(module.clone()).or_default();
        uses.extend(used_modules(&text).into_iter().filter(|m| *m != module));
    }
    g
}

#[test]
fn used_modules_reads_paths_not_comments() {
    let text = "use crate::oci::Digest;\n// crate::build in a comment\nlet x = \
                crate::layer::plan::x();\nfoo_crate::nope();\n#[cfg(test)]\nuse crate::exit;";
    let want: BTreeSet<String> = ["layer", "oci"].map(String::from).into();
    assert_eq!(used_modules(text), want);
}

#[test]
fn every_library_module_has_its_place() {
    let placed: BTreeSet<&str> = FOUNDATIONS
        .iter()
        .chain(COMPONENTS)
        .chain(TOP)
        .copied()
        .collect();
    let unplaced: Vec<String> = graph()
        .into_keys()
        .filter(|m| !placed.contains(m.as_str()))
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules in no group of xtask/tests/modules.rs (and ARCHITECTURE.md): {unplaced:?}"
    );
}

#[test]
fn foundations_and_components_use_only_foundations() {
    let mut problems = Vec::new();
    for (module, uses) in graph() {
        let lower = FOUNDATIONS.contains(&module.as_str()) || COMPONENTS.contains(&module.as_str());
        for u in uses
            .iter()
            .filter(|u| lower && !FOUNDATIONS.contains(&u.as_str()))
        {
            problems.push(format!("{module} uses {u}"));
        }
        if module != "exit" && uses.contains("build") && module != "build" {
            problems.push(format!("{module} uses the pipeline"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_module_cycle() {
    let g = graph();
    // Depth-first search with colours; a grey node met again closes a cycle.
    fn visit<'a>(
        n: &'a str,
        g: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, bool>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(true) => return None,
            Some(false) => {
                let at = path.iter().position(|p| *p == n).unwrap_or(0);
                let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            None => {}
        }
        state.insert(n, false);
        path.push(n);
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n, true);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if let Some(cycle) = visit(n, &g, &mut state, &mut Vec::new()) {
            panic!("module cycle: {}", cycle.join(" -> "));
        }
    }
}
