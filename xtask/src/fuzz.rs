//! `cargo xtask fuzz [--secs N] [TARGET...]`: builds the cargo-fuzz targets of `fuzz/`
//! and runs each for N seconds (default 25: CI's smoke run) from a corpus seeded with
//! `fuzz/seeds/<target>/` (inputs taken from the tests). A crash fails the command and
//! leaves the input in `fuzz/artifacts/<target>/`; the corpus grows in
//! `target/fuzz-corpus/<target>/`, so local runs continue where the last one stopped.
//!
//! The stable toolchain runs it with `RUSTC_BOOTSTRAP=1` (cargo-fuzz passes nightly
//! flags). Built without a sanitizer: the code under test is safe Rust, and the
//! AddressSanitizer build takes twice as long on CI's two cores.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util::{self, Step};

/// Every target in `fuzz/Cargo.toml`.
pub const TARGETS: &[&str] = &[
    "entrypoint_plan",
    "java_opts",
    "checksum",
    "image_reference",
    "www_authenticate",
    "manifest",
    "auth_file",
    "tar_extract",
    "spark_version",
];

const USAGE: &str = "usage: cargo xtask fuzz [--secs N] [TARGET...]";

fn cargo_fuzz(fuzz_dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("cargo");
    c.arg("fuzz")
        .args(args)
        .current_dir(fuzz_dir)
        .env("RUSTC_BOOTSTRAP", "1");
    c
}

pub fn main(args: Vec<String>) -> Result<()> {
    let mut secs = 25u32;
    let mut targets: Vec<&str> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--secs" => {
                let v = it.next().context(USAGE)?;
                secs = v
                    .parse()
                    .with_context(|| format!("--secs {v}: not a number"))?;
            }
            t => match TARGETS.iter().find(|x| **x == t) {
                Some(x) => targets.push(x),
                None => bail!(
                    "fuzz: unknown target {t:?} (targets: {})\n{USAGE}",
                    TARGETS.join(", ")
                ),
            },
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    crate::prereq::ensure(crate::prereq::For::Fuzz)?;
    let root = util::root();
    let fuzz = root.join("fuzz");
    let step = Step::start("fuzz: build the targets (cargo fuzz build, no sanitizer)");
    util::run(&mut cargo_fuzz(&fuzz, &["build", "-s", "none"]))?;
    step.done();
    for t in targets {
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
