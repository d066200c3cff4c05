//! Keeps ARCHITECTURE.md a true map: its code map names every source folder and every
//! file at the top of a crate's `src/` that exists, and nothing that does not, and the dependency and module-boundary
//! invariants it states hold in the code.
//!
//! The document is prose for people; these checks read only its conventions: a
//! `### \`dir/\`` heading per workspace crate, bullets that start with the backticked
//! path they describe, and the invariant sentences quoted in the tests below.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

fn architecture() -> String {
    std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md")
}

/// Backticked spans of `text`, in order.
fn ticks(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The code-map section of crate directory `dir` (`builder/`): from its `###` heading to
/// the next heading.
fn section<'a>(doc: &'a str, dir: &str) -> Option<&'a str> {
    let head = format!("### `{dir}`");
    let start = doc.find(&head)?;
    let rest = &doc[start + head.len()..];
    let end = rest.find("\n#").unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Every `.rs` file and folder under `src`, relative to it (`fetch/`, `fetch/names.rs`).
fn sources(src: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            let p = e.path();
            let rel = p.strip_prefix(src).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                out.push(format!("{rel}/"));
                stack.push(p);
            } else if rel.ends_with(".rs") {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

/// Whether the section names a source: a folder as `dir/` (or `a/dir/`); a file by its
/// path (`fetch/names.rs`), its name (`names.rs`) or its module name (`names`,
/// `fetch/names`). `mod.rs` and `lib.rs` are their folder's or crate's own.
fn named(section_ticks: &BTreeSet<&str>, rel: &str) -> bool {
    if let Some(dir) = rel.strip_suffix('/') {
        let last = dir.rsplit('/').next().unwrap_or(dir);
        return section_ticks.contains(format!("{dir}/").as_str())
            || section_ticks.contains(format!("{last}/").as_str());
    }
    let file = rel.rsplit('/').next().unwrap_or(rel);
    if file == "mod.rs" || file == "lib.rs" {
        return true;
    }
    let module = rel.trim_end_matches(".rs");
    let stem = file.trim_end_matches(".rs");
    [rel, file, module, stem]
        .iter()
        .any(|n| section_ticks.contains(n))
}

fn workspace_members() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let start = text.find("members").expect("workspace members");
    let list = &text[start..text[start..].find(']').unwrap() + start];
    list.split('"')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

#[test]
fn code_map_names_every_folder_and_top_level_file() {
    let doc = architecture();
    let mut problems = Vec::new();
    for member in workspace_members() {
        let Some(sec) = section(&doc, &format!("{member}/")) else {
            problems.push(format!("no `### \\`{member}/\\`` section in the code map"));
            continue;
        };
        let src = root().join(&member).join("src");
        let ticks: BTreeSet<&str> = ticks(sec).into_iter().collect();
        // Folders at any depth but the tests', and the files at the top of `src/`: a
        // map of the house, not an index of every file.
        let mapped = sources(&src)
            .into_iter()
            .filter(|rel| rel.ends_with('/') || !rel.contains('/'));
        for rel in mapped {
            if !named(&ticks, &rel) {
                problems.push(format!("{member}/src/{rel} is not in the code map"));
            }
        }
        // What a bullet is about must exist.
        for line in sec.lines() {
            let Some(item) = line.trim_start().strip_prefix("- `") else {
                continue;
            };
            let path = item.split('`').next().unwrap_or("");
            let exists = src.join(path).exists() || root().join(path).exists();
            if (path.ends_with(".rs") || path.ends_with('/')) && !exists {
                problems.push(format!("code map names {member}/src/{path}, which is gone"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md:\n{}",
        problems.join("\n")
    );
}

/// The fuzz crate is no workspace member, but its section maps it too: every source of
/// `fuzz/src/` and every target of `fuzz/fuzz_targets/` is named.
#[test]
fn code_map_names_every_fuzz_target() {
    let doc = architecture();
    let sec = section(&doc, "fuzz/").expect("a `### `fuzz/`` section in the code map");
    let ticks: BTreeSet<&str> = ticks(sec).into_iter().collect();
    let mut problems = Vec::new();
    for dir in ["src", "fuzz_targets"] {
        for rel in sources(&root().join("fuzz").join(dir)) {
            if !named(&ticks, &rel) {
                problems.push(format!("fuzz/{dir}/{rel} is not in the code map"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md:\n{}",
        problems.join("\n")
    );
}

/// Dependencies of one package of `kind` (`None`: normal; `Some("build")`), from
/// `cargo metadata`.
fn dependencies(package: &str, kind: Option<&str>) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pkg = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == package)
        .unwrap_or_else(|| panic!("no package {package}"));
    pkg["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"].as_str() == kind)
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect()
}

/// The invariant bullet that contains `phrase`, joined onto one line.
fn invariant(doc: &str, phrase: &str) -> String {
    // Bullets and paragraphs, each on one line, so a phrase wrapped in the source matches.
    doc.split("\n- ")
        .flat_map(|b| b.split("\n\n"))
        .map(|b| b.split_whitespace().collect::<Vec<_>>().join(" "))
        .find(|b| b.contains(phrase))
        .unwrap_or_else(|| panic!("no invariant '{phrase}'"))
}

#[test]
fn entrypoint_depends_only_on_what_the_document_allows() {
    let doc = architecture();
    let line = invariant(&doc, "`spark-entrypoint` depends only on");
    // The names between "depends only on" and the end of the bold clause.
    let after = line.split("depends only on").nth(1).unwrap();
    let allowed: BTreeSet<String> = ticks(after.split("**").next().unwrap_or(after))
        .into_iter()
        .map(String::from)
        .collect();
    let actual = dependencies("spark-entrypoint", None);
    assert_eq!(
        actual, allowed,
        "entrypoint/Cargo.toml and ARCHITECTURE.md ({line}) disagree"
    );
    // The build script's: named in the bold clause after "build-dependencies are only".
    let line = invariant(&doc, "build-dependencies are only");
    let after = line.split("build-dependencies are only").nth(1).unwrap();
    let allowed: BTreeSet<String> = ticks(after.split("**").next().unwrap_or(after))
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(
        dependencies("spark-entrypoint", Some("build")),
        allowed,
        "entrypoint/Cargo.toml's build-dependencies and ARCHITECTURE.md ({line}) disagree"
    );
}

/// Files under `builder/src` whose code contains `pattern` (comments aside).
fn files_using(pattern: &str) -> Vec<String> {
    let src = root().join("builder/src");
    sources(&src)
        .into_iter()
        .filter(|rel| rel.ends_with(".rs"))
        .filter(|rel| {
            let text = std::fs::read_to_string(src.join(rel)).unwrap();
            text.lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .any(|code| code.contains(pattern))
        })
        .collect()
}

#[test]
fn only_engine_knows_bollard_and_tokio() {
    let doc = architecture();
    invariant(&doc, "knows bollard and tokio");
    for word in ["bollard", "tokio"] {
        let outside: Vec<String> = files_using(&format!("{word}::"))
            .into_iter()
            .filter(|f| !f.starts_with("engine/"))
            .collect();
        assert!(
            outside.is_empty(),
            "{word} used outside engine/: {outside:?}"
        );
    }
}

#[test]
fn only_the_named_modules_open_network_connections() {
    let doc = architecture();
    let line = invariant(&doc, "open network connections");
    let clause = line
        .split(';')
        .find(|c| c.contains("open network connections"))
        .unwrap();
    let allowed: Vec<&str> = ticks(clause);
    assert!(!allowed.is_empty(), "{clause}");
    // What makes a connection: an HTTP client being built, or a raw socket. (Using
    // reqwest's header or status types does not.)
    let users: Vec<String> = [
        "Client::builder",
        "ClientBuilder",
        "ureq::",
        "TcpStream::connect",
    ]
    .iter()
    .flat_map(|w| files_using(w))
    .collect();
    for f in users {
        let module = f.trim_end_matches(".rs").trim_end_matches("/mod");
        assert!(
            allowed
                .iter()
                .any(|a| module == *a
                    || module.starts_with(&format!("{}/", a.trim_end_matches('/')))),
            "builder/src/{f} opens connections, but ARCHITECTURE.md allows only {allowed:?}"
        );
    }
}

/// The longest a function may be: one screen.
const MAX_FN_LINES: usize = 120;

/// `line` without the qualifiers that may precede `fn` (`pub(crate) async unsafe`), if
/// what follows them is a function item; `None` otherwise.
fn fn_item(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("fn ") {
            return Some(r);
        }
        let word_end = rest.find([' ', '(']).unwrap_or(rest.len());
        let after = match &rest[..word_end] {
            "pub" if rest[word_end..].starts_with('(') => &rest[rest.find(')')? + 1..],
            "pub" | "async" | "unsafe" | "const" | "default" => &rest[word_end..],
            "extern" => rest[word_end..]
                .trim_start()
                .strip_prefix('"')
                .and_then(|r| r.find('"').map(|q| &r[q + 1..]))?,
            _ => return None,
        };
        rest = after.trim_start();
    }
}

/// `(name, first line (1-based), lines)` of every function body in `text` that spans
/// more than `max` lines.
///
/// Hand-written rather than parsed with `syn`, which would add a proc-macro-sized
/// dependency to xtask's compile for one check. It leans on rustfmt (which
/// `cargo fmt --all --check` enforces): a function's closing brace is the first later
/// line that is exactly the `fn` line's indentation followed by `}`, so braces inside
/// strings, chars and closures never need lexing.
fn long_functions(text: &str, max: usize) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(sig) = fn_item(line) else { continue };
        let code = line.split("//").next().unwrap_or(line).trim_end();
        // Declarations without a body, and bodies on one line.
        if code.ends_with(';') || (code.contains('{') && code.ends_with('}')) {
            continue;
        }
        let indent = &line[..line.len() - line.trim_start().len()];
        let close = format!("{indent}}}");
        let Some(end) = lines[i + 1..].iter().position(|l| *l == close) else {
            continue;
        };
        let len = end + 2;
        if len > max {
            let name = sig.split(['(', '<', ' ']).next().unwrap_or(sig);
            out.push((name.to_string(), i + 1, len));
        }
    }
    out
}

#[test]
fn long_functions_are_found_with_their_length() {
    let body = "    let x = 1;\n".repeat(4);
    let text = format!(
        "fn short() {{}}\n\
         pub(crate) async fn long<T>(t: T)\nwhere\n    T: Copy,\n{{\n{body}}}\n\
         trait T {{\n    fn decl(&self);\n    fn inner(&self) {{\n{body}    }}\n}}\n"
    );
    assert_eq!(
        long_functions(&text, 4),
        vec![("long".to_string(), 2, 9), ("inner".to_string(), 13, 6)]
    );
    assert!(long_functions(&text, 9).is_empty());
}

#[test]
fn every_function_fits_on_a_screen() {
    let line = invariant(&architecture(), "Every function fits on a screen");
    assert!(
        line.contains(&format!("≤ {MAX_FN_LINES} lines")),
        "ARCHITECTURE.md states another limit: {line}"
    );
    let mut problems = Vec::new();
    // Test code too: each member's `src` (its `#[cfg(test)]` modules included) and
    // `tests`.
    let dirs = workspace_members()
        .into_iter()
        .flat_map(|m| [format!("{m}/src"), format!("{m}/tests")])
        // Not a workspace member, held to the same rules.
        .chain(["fuzz/src".to_string(), "fuzz/fuzz_targets".to_string()]);
    for dir in dirs {
        let src = root().join(&dir);
        if !src.is_dir() {
            continue;
        }
        for rel in sources(&src).into_iter().filter(|r| r.ends_with(".rs")) {
            let text = std::fs::read_to_string(src.join(&rel)).unwrap();
            for (name, line, len) in long_functions(&text, MAX_FN_LINES) {
                problems.push(format!("{dir}/{rel}:{line}: fn {name} is {len} lines"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "functions over {MAX_FN_LINES} lines (split them):\n{}",
        problems.join("\n")
    );
}

/// fuzz/ is its own workspace (cargo-fuzz needs that) with its own lock file, which CI's
/// `cargo xtask fuzz --lint` reads `--locked`: a dependency added to the builder must land
/// in fuzz/Cargo.lock too, and this says so in seconds rather than at CI's fuzz step.
#[test]
fn fuzz_lock_file_is_up_to_date() {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--locked", "--offline", "--depth", "0"])
        .arg("--manifest-path")
        .arg(root().join("fuzz/Cargo.toml"))
        .output()
        .expect("cargo tree");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("cannot update the lock file"),
        "fuzz/Cargo.lock is out of date; run `cargo update --workspace --manifest-path fuzz/Cargo.toml` and commit it:\n{stderr}"
    );
    // Cargo resolves against the lock file before it fetches anything: on a machine that
    // has not yet downloaded fuzz/'s crates (offline), a download error means the lock
    // file was read and is consistent.
    assert!(
        out.status.success() || stderr.contains("--offline was specified"),
        "cargo tree on fuzz/ failed:\n{stderr}"
    );
}
