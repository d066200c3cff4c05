//! Embeds the crates `spark-entrypoint` is built from into the binary, in the format
//! cargo-auditable defines (a `.dep-v0` section holding zlib-compressed JSON
//! `{"format":1,"packages":[{name, version, source, kind, dependencies, root}]}`), so
//! sparkimg's SBOM, trivy, syft and `rust-audit-info` read the same list back from the
//! file that goes into the image. Written here rather than by `cargo auditable build`
//! because that needs a cargo subcommand installed wherever the binary is built; the
//! section itself is placed by `src/main.rs`.
//!
//! The crate list comes from `cargo metadata` (what cargo resolved for this target):
//! every package reachable from this one through normal and build edges; `kind` is
//! `runtime` when reached through normal edges without passing a proc-macro (format 1:
//! proc-macros and what they use are build-time), else `build`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

fn main() {
    let dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let lock = dir.join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    println!("cargo:rerun-if-changed=Cargo.toml");
    let out = Command::new(env("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .arg("--filter-platform")
        .arg(env("TARGET"))
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata's JSON");
    let data = audit_json(&meta, &env("CARGO_PKG_NAME"));
    let bytes = serde_json::to_vec(&data).expect("serialise the crate list");
    let compressed = miniz_oxide::deflate::compress_to_vec_zlib(&bytes, 9);
    let file = PathBuf::from(env("OUT_DIR")).join("dep-v0.zlib");
    std::fs::write(&file, compressed).expect("write the crate list");
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name} for build scripts"))
}

/// cargo-auditable's source names.
fn source(s: &Value) -> &'static str {
    match s.as_str() {
        None => "local",
        Some(s) if s.ends_with("github.com/rust-lang/crates.io-index") => "crates.io",
        Some("sparse+https://index.crates.io/") => "crates.io",
        Some(s) if s.starts_with("git+") => "git",
        Some(_) => "registry",
    }
}

/// The audit data for `root`: packages sorted by name, version and source; each
/// dependency an index into that list.
fn audit_json(meta: &Value, root: &str) -> Value {
    let packages: BTreeMap<&str, &Value> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().expect("package id"), p))
        .collect();
    let proc_macro = |id: &str| {
        packages[id]["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| {
                t["kind"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k == "proc-macro")
            })
    };
    // Non-dev edges: id → [(dependency id, normal edge)].
    let mut edges: BTreeMap<&str, Vec<(&str, bool)>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().expect("resolve nodes") {
        let from = node["id"].as_str().expect("node id");
        for d in node["deps"].as_array().into_iter().flatten() {
            let kinds: Vec<&Value> = d["dep_kinds"].as_array().into_iter().flatten().collect();
            let normal = kinds.iter().any(|k| k["kind"].is_null());
            let build = kinds.iter().any(|k| k["kind"] == "build");
            if normal || build {
                let to = d["pkg"].as_str().expect("dependency id");
                edges.entry(from).or_default().push((to, normal));
            }
        }
    }
    let root_id = packages
        .iter()
        .find(|(_, p)| p["name"] == root && p["source"].is_null())
        .map(|(id, _)| *id)
        .expect("this package in cargo metadata");
    // Walk: every reachable package, and those reached as runtime.
    let (mut seen, mut runtime) = (BTreeSet::from([root_id]), BTreeSet::from([root_id]));
    let mut todo = vec![(root_id, true)];
    while let Some((id, rt)) = todo.pop() {
        for &(to, normal) in edges.get(id).into_iter().flatten() {
            let rt = rt && normal && !proc_macro(to);
            if seen.insert(to) || (rt && !runtime.contains(to)) {
                if rt {
                    runtime.insert(to);
                }
                todo.push((to, rt));
            }
        }
    }
    let key = |id: &str| {
        let p = packages[id];
        let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
        (s("name"), s("version"), source(&p["source"]))
    };
    let mut order: Vec<&str> = seen.iter().copied().collect();
    order.sort_by_key(|id| key(id));
    let index: BTreeMap<&str, usize> = order.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let list: Vec<Value> = order
        .iter()
        .map(|id| {
            let (name, version, src) = key(id);
            let mut p = json!({"name": name, "version": version, "source": src});
            let mut deps: Vec<usize> = edges
                .get(id)
                .into_iter()
                .flatten()
                .map(|(to, _)| index[to])
                .collect();
            deps.sort_unstable();
            deps.dedup();
            if !deps.is_empty() {
                p["dependencies"] = json!(deps);
            }
            if !runtime.contains(id) {
                p["kind"] = json!("build");
            }
            if *id == root_id {
                p["root"] = json!(true);
            }
            p
        })
        .collect();
    json!({"format": 1, "packages": list})
}
