//! `cargo xtask fuzz [--secs N] [TARGET...]`: builds the cargo-fuzz targets of `fuzz/`
//! and runs each for N seconds (default 25: CI's smoke run) from a corpus seeded with
//! `fuzz/seeds/<target>/` (inputs taken from the tests). A crash fails the command and
//! leaves the input in `fuzz/artifacts/<target>/`; the corpus grows in
//! `target/fuzz-corpus/<target>/`, so local runs continue where the last one stopped.
//!
//! `cargo xtask fuzz --lint`: rustfmt and clippy (`-D warnings`, `--locked`) over the
//! fuzz crate, which `cargo fmt --all` and `cargo clippy --workspace` do not reach (it is
//! not a workspace member); `.ci/run` calls it beside them, so the crate cannot rot.
//!
//! The stable toolchain runs it with `RUSTC_BOOTSTRAP=1` (cargo-fuzz passes nightly
//! flags). Built without a sanitizer: the code under test is safe Rust, and the
//! AddressSanitizer build takes twice as long on CI's two cores.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util::{self, Step};

const USAGE: &str = "usage: cargo xtask fuzz [--secs N] [TARGET...] | cargo xtask fuzz --lint";

/// Pure: the targets of the fuzz crate's manifest, the `name` of each `[[bin]]`, in
/// order: the one list of targets (a new one needs no second place to be named).
pub fn targets(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if in_bin && key.trim() == "name" {
            out.push(value.trim().trim_matches('"').to_string());
        }
    }
    out
}

fn cargo_fuzz(fuzz_dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("cargo");
    c.arg("fuzz")
        .args(args)
        .current_dir(fuzz_dir)
        .env("RUSTC_BOOTSTRAP", "1");
    c
}

/// rustfmt and clippy over `fuzz/`, its check artifacts in the workspace's target
/// directory (the dependencies it shares with the workspace are checked once).
fn lint(fuzz: &Path) -> Result<()> {
    let manifest = fuzz.join("Cargo.toml");
    let manifest = manifest.to_str().context("fuzz manifest path")?;
    let step = Step::start("fuzz --lint: cargo fmt --check (fuzz/)");
    util::run(util::cargo().args(["fmt", "--check", "--manifest-path", manifest]))
        .context("fuzz/ is not formatted: run `cargo fmt --manifest-path fuzz/Cargo.toml`")?;
    step.done();
    let step = Step::start("fuzz --lint: cargo clippy -D warnings (fuzz/)");
    let target = util::target_dir();
    util::run(util::cargo().args([
        "clippy",
        "--locked",
        "--all-targets",
        "--manifest-path",
        manifest,
        "--target-dir",
        target.to_str().context("target path")?,
        "--",
        "-D",
        "warnings",
    ]))
    .context(
        "clippy failed on fuzz/ (if fuzz/Cargo.lock is out of date: \
         `cargo update --workspace --manifest-path fuzz/Cargo.toml`)",
    )?;
    step.done();
    Ok(())
}

pub fn main(args: Vec<String>) -> Result<()> {
    let root = util::root();
    let fuzz = root.join("fuzz");
    if args.iter().any(|a| a == "--lint") {
        if args.len() > 1 {
            bail!("fuzz --lint takes no other argument\n{USAGE}");
        }
        return lint(&fuzz);
    }
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml"))
        .with_context(|| format!("reading {}", fuzz.join("Cargo.toml").display()))?;
    let all = targets(&manifest);
    let mut secs = 25u32;
    let mut chosen: Vec<&str> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--secs" => {
                let v = it.next().context(USAGE)?;
                secs = v
                    .parse()
                    .with_context(|| format!("--secs {v}: not a number"))?;
            }
            t => match all.iter().find(|x| *x == t) {
                Some(x) => chosen.push(x),
                None => bail!(
                    "fuzz: unknown target {t:?} (targets: {})\n{USAGE}",
                    all.join(", ")
                ),
            },
        }
    }
    if chosen.is_empty() {
        chosen = all.iter().map(String::as_str).collect();
    }
    crate::prereq::ensure(crate::prereq::For::Fuzz)?;
    let step = Step::start("fuzz: build the targets (cargo fuzz build, no sanitizer)");
    util::run(&mut cargo_fuzz(&fuzz, &["build", "-s", "none"]))?;
    step.done();
    for t in chosen {
        let corpus = root.join("target/fuzz-corpus").join(t);
        std::fs::create_dir_all(&corpus)?;
        let seeds = fuzz.join("seeds").join(t);
        let step = Step::start(format!("fuzz: {t} for {secs}s"));
        let max = format!("-max_total_time={secs}");
        let mut c = cargo_fuzz(
            &fuzz,
            &[
                "run",
                "-s",
                "none",
                t,
                corpus.to_str().context("corpus path")?,
            ],
        );
        c.arg(seeds.to_str().context("seeds path")?).args([
            "--",
            &max,
            "-timeout=10",
            "-rss_limit_mb=2048",
            "-print_final_stats=1",
        ]);
        util::run(&mut c).with_context(|| {
            format!("fuzz target {t} failed: the input is in fuzz/artifacts/{t}/")
        })?;
        step.done();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_the_bins_of_the_manifest() {
        let m = "[package]\nname = \"sparkimg-fuzz\"\n\n[[bin]]\nname = \"a\"\npath = \"x\"\n\n\
                 [lib]\nname = \"l\"\n[[bin]]\n name=\"b_c\" \ntest = false\n";
        assert_eq!(targets(m), vec!["a", "b_c"]);
        assert!(targets("").is_empty());
    }

    /// The real manifest: every target has its source and its seeds.
    #[test]
    fn every_target_has_a_source_and_seeds() {
        let fuzz = util::root().join("fuzz");
        let all = targets(&std::fs::read_to_string(fuzz.join("Cargo.toml")).unwrap());
        assert!(all.len() >= 8, "{all:?}");
        for t in &all {
            assert!(fuzz.join(format!("fuzz_targets/{t}.rs")).is_file(), "{t}");
            assert!(fuzz.join("seeds").join(t).is_dir(), "{t} has no seeds");
        }
    }
}
