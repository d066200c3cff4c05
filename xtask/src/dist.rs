//! `cargo xtask dist`: the static `spark-entrypoint` binary that goes into images.
//!
//! The image may have any libc (or none, e.g. distroless), so the binary must not
//! depend on the dynamic loader; and it sits in every Spark pod, so it must stay small.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::elf;
use crate::util::{self, human_size, Step};

/// 1.5 MiB: tini-static is ~0.7 MB; a glibc static-pie Rust binary lands at ~1.3 MB.
pub const MAX_SIZE: u64 = 1_572_864;

const GNU: &str = "x86_64-unknown-linux-gnu";
const MUSL: &str = "x86_64-unknown-linux-musl";

pub fn main(args: Vec<String>) -> Result<()> {
    let mut musl = false;
    for arg in args {
        match arg.as_str() {
            "--musl" => musl = true,
            other => bail!("dist: unknown option {other:?} (expected --musl)"),
        }
    }
    let path = build(musl)?;
    let size = fs::metadata(&path)?.len();
    println!("{} ({size} bytes, {})", path.display(), human_size(size));
    Ok(())
}

/// Builds, checks and installs the binary; returns `target/dist/spark-entrypoint`.
pub fn build(musl: bool) -> Result<PathBuf> {
    let step = Step::start(format!(
        "dist: build static spark-entrypoint ({}; about 1 min the first time)",
        if musl { MUSL } else { "glibc +crt-static" }
    ));
    let target = if musl { MUSL } else { GNU };
    if musl && !musl_installed()? {
        bail!("the {MUSL} standard library is not installed; run `rustup target add {MUSL}` or drop --musl");
    }

    let mut cmd = util::cargo();
    cmd.args([
        "build",
        "--profile",
        "dist",
        "-p",
        "spark-entrypoint",
        "--target",
    ])
    .arg(target);
    if !musl {
        // `--target` is what keeps these flags away from build scripts and proc-macros
        // (which cannot be linked statically against glibc). RUSTFLAGS beats the
        // per-target config variable, so extend it instead of relying on the latter;
        // CARGO_ENCODED_RUSTFLAGS would beat both and is removed for the same reason.
        let mut flags = std::env::var("RUSTFLAGS").unwrap_or_default();
        if !flags.is_empty() {
            flags.push(' ');
        }
        flags.push_str("-C target-feature=+crt-static");
        cmd.env("RUSTFLAGS", flags)
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
    }
    util::run(&mut cmd)?;

    let built = util::target_dir()
        .join(target)
        .join("dist")
        .join("spark-entrypoint");
    let data = fs::read(&built).with_context(|| format!("read {}", built.display()))?;
    let linkage = elf::linkage(&data).with_context(|| format!("inspect {}", built.display()))?;
    if !linkage.is_static() {
        bail!(
            "{} is not static: interpreter {:?}, {} DT_NEEDED entries",
            built.display(),
            linkage.interpreter,
            linkage.needed
        );
    }
    let size = data.len() as u64;
    if size > MAX_SIZE {
        bail!(
            "{} is {size} bytes ({}), over the {MAX_SIZE}-byte budget",
            built.display(),
            human_size(size)
        );
    }

    let out = util::target_dir().join("dist").join("spark-entrypoint");
    // Copy via a temporary file: a half-copied binary must never sit at the final path,
    // since images and benchmarks pick that path up as is.
    util::write_atomic_mode(&out, &data, 0o755)?;
    eprintln!(
        "dist: {} is {} ({size} bytes, limit {MAX_SIZE})",
        out.display(),
        linkage.describe()
    );
    step.done();
    Ok(out)
}

fn musl_installed() -> Result<bool> {
    let out = util::output(Command::new("rustup").args(["target", "list", "--installed"]))
        .context("cannot ask rustup which targets are installed")?;
    Ok(out.lines().any(|l| l.trim() == MUSL))
}
