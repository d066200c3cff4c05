//! README.md tells users what the programs do: its environment-variable tables say
//! what the registries in the code say (`sparkimg::env_vars`, `spark_entrypoint::env_vars`),
//! and its links into docs/ lead somewhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).expect("README.md")
}

/// The `| `NAME` | meaning | default |` rows of the table under `heading`: name →
/// default, backticks dropped (they are markdown, not part of the value).
fn env_table(doc: &str, heading: &str) -> BTreeMap<String, String> {
    let start = doc
        .lines()
        .position(|l| l == heading)
        .unwrap_or_else(|| panic!("README.md has no line {heading:?}"));
    let rows: Vec<&str> = doc
        .lines()
        .skip(start + 1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .collect();
    assert!(!rows.is_empty(), "no table under {heading:?}");
    let mut table = BTreeMap::new();
    for row in rows {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(cells.len(), 3, "not a name | meaning | default row: {row}");
        let name = cells[0].replace('`', "");
        let default = cells[2].replace('`', "");
        assert!(
            table.insert(name.clone(), default).is_none(),
            "{name} is listed twice under {heading:?}"
        );
    }
    table
}

/// Every registry entry has a README row with its default, and every row is an entry.
fn check(heading: &str, registry: &[(&str, &str)]) {
    let readme = env_table(&readme(), heading);
    let code: BTreeMap<String, String> = registry
        .iter()
        .map(|(name, default)| (name.to_string(), default.to_string()))
        .collect();
    let mut problems = Vec::new();
    for (name, default) in &code {
        match readme.get(name) {
            None => problems.push(format!("{name} is read but has no row")),
            Some(d) if d != default => problems.push(format!(
                "{name}: the README says {d:?}, the code {default:?}"
            )),
            Some(_) => {}
        }
    }
    for name in readme.keys().filter(|n| !code.contains_key(*n)) {
        problems.push(format!("{name} has a row but is not in the registry"));
    }
    assert!(
        problems.is_empty(),
        "README.md, {heading}:\n{}",
        problems.join("\n")
    );
}

#[test]
fn sparkimg_variables_are_the_registrys() {
    let registry: Vec<(&str, &str)> = sparkimg::env_vars::ALL
        .iter()
        .map(|v| (v.name, v.default))
        .collect();
    check("## `sparkimg` environment variables", &registry);
}

#[test]
fn entrypoint_variables_are_the_registrys() {
    let registry: Vec<(&str, &str)> = spark_entrypoint::env_vars::ALL
        .iter()
        .map(|v| (v.name, v.default))
        .collect();
    check("### `spark-entrypoint` environment variables", &registry);
}

#[test]
fn a_wrong_default_or_a_stray_row_is_found() {
    let doc = "## vars\n\n| variable | meaning | default |\n|---|---|---|\n| `A` | x | `1` |\n| `B` | y | none |\n";
    let table = env_table(doc, "## vars");
    assert_eq!(table.get("A").map(String::as_str), Some("1"));
    assert_eq!(table.len(), 2);
}

/// Every `](docs/…)` link of the README names a file that exists, and the benchmark
/// document keeps the markers `cargo xtask bench table --write` needs.
#[test]
fn links_into_docs_exist() {
    let text = readme();
    let mut missing = Vec::new();
    for (at, _) in text.match_indices("](docs/") {
        let link = &text[at + 2..];
        let path = link[..link.find(')').expect("a closed link")]
            .split('#')
            .next()
            .unwrap_or("");
        if !root().join(path).is_file() {
            missing.push(path.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "README.md links to missing files: {missing:?}"
    );
    let bench =
        std::fs::read_to_string(root().join("docs/benchmarks.md")).expect("docs/benchmarks.md");
    assert!(bench.contains("<!-- bench table: ") && bench.contains("<!-- end of bench table -->"));
}
