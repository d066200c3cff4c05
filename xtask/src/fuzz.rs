//! `cargo xtask fuzz [--secs N] [--jobs N] [--build] [TARGET...]`: builds the cargo-fuzz
//! targets of `fuzz/` and runs each for N seconds (default 25: CI's smoke run), `--jobs`
//! at a time (default: one per core; `--build`: only build), from a corpus seeded with
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

const USAGE: &str =
    "usage: cargo xtask fuzz [--secs N] [--jobs N] [--build] [TARGET...] | cargo xtask fuzz --lint";

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

/// What `cargo xtask fuzz` was asked to do.
struct Args {
    secs: u32,
    /// Targets run at once (`--jobs N`; default: the machine's cores).
    jobs: usize,
    /// `--build`: only build the targets (CI builds them in the background).
    build_only: bool,
    chosen: Vec<String>,
}

fn parse_args(args: &[String], all: &[String]) -> Result<Args> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut parsed = Args {
        secs: 25,
        jobs: cores,
        build_only: false,
        chosen: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--secs" | "--jobs" => {
                let v = it.next().context(USAGE)?;
                let n: u32 = v
                    .parse()
                    .with_context(|| format!("{a} {v}: not a number\n{USAGE}"))?;
                if a == "--secs" {
                    parsed.secs = n;
                } else {
                    parsed.jobs = usize::try_from(n.max(1))?;
                }
            }
            "--build" => parsed.build_only = true,
            t => match all.iter().find(|x| *x == t) {
                Some(x) => parsed.chosen.push(x.clone()),
                None => bail!(
                    "fuzz: unknown target {t:?} (targets: {})\n{USAGE}",
                    all.join(", ")
                ),
            },
        }
    }
    if parsed.chosen.is_empty() {
        parsed.chosen = all.to_vec();
    }
    Ok(parsed)
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
    let args = parse_args(&args, &targets(&manifest))?;
    crate::prereq::ensure(crate::prereq::For::Fuzz)?;
    let step = Step::start("fuzz: build the targets (cargo fuzz build, no sanitizer)");
    util::run(&mut cargo_fuzz(&fuzz, &["build", "-s", "none"]))?;
    step.done();
    if args.build_only {
        return Ok(());
    }
    run_all(&fuzz, &args)
}

/// Runs the chosen targets, `jobs` at a time: libFuzzer runs on one core, so on a
/// machine doing nothing else two targets share the wall time of one, each still
/// getting its full `secs`. Each target's output goes to its own log (printed when it
/// ends), so parallel runs do not interleave.
fn run_all(fuzz: &Path, args: &Args) -> Result<()> {
    let logs = util::target_dir().join("fuzz-logs");
    std::fs::create_dir_all(&logs)?;
    let queue = std::sync::Mutex::new(args.chosen.iter());
    let failed = std::sync::Mutex::new(Vec::new());
    let step = Step::start(format!(
        "fuzz: {} targets for {}s each, {} at a time",
        args.chosen.len(),
        args.secs,
        args.jobs
    ));
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.min(args.chosen.len()) {
            scope.spawn(|| loop {
                let Some(t) = queue.lock().map(|mut q| q.next()).ok().flatten() else {
                    return;
                };
                if let Err(err) = run_one(fuzz, t, args.secs, &logs.join(format!("{t}.log"))) {
                    eprintln!("error: {err:#}");
                    failed.lock().map(|mut f| f.push(t.clone())).ok();
                }
            });
        }
    });
    step.done();
    let failed = failed.into_inner().unwrap_or_default();
    if !failed.is_empty() {
        bail!("fuzz: failed: {}", failed.join(", "));
    }
    Ok(())
}

/// One target for `secs` from its corpus and seeds; its output goes to `log`, whose
/// final statistics (or, on failure, its end) are printed when it stops.
fn run_one(fuzz: &Path, t: &str, secs: u32, log: &Path) -> Result<()> {
    let corpus = util::target_dir().join("fuzz-corpus").join(t);
    std::fs::create_dir_all(&corpus)?;
    let seeds = fuzz.join("seeds").join(t);
    let step = Step::start(format!("fuzz: {t} for {secs}s (log: {})", log.display()));
    let mut c = cargo_fuzz(fuzz, &["run", "-s", "none", t]);
    c.arg(&corpus).arg(&seeds).args([
        "--",
        &format!("-max_total_time={secs}"),
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
    ]);
    let file = std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
    c.stdin(std::process::Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file);
    let status = c.status().context("cannot start cargo fuzz run")?;
    step.done();
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = if status.success() {
        // -print_final_stats=1: the stat:: lines that close the run.
        lines.iter().filter(|l| l.starts_with("stat::")).count()
    } else {
        40
    };
    for line in &lines[lines.len().saturating_sub(tail)..] {
        eprintln!("  {t}: {line}");
    }
    anyhow::ensure!(
        status.success(),
        "fuzz target {t} failed ({status}): the input is in fuzz/artifacts/{t}/, the log in {}",
        log.display()
    );
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

    #[test]
    fn args_pick_secs_jobs_and_targets() {
        let all = vec!["a".to_string(), "b".to_string()];
        let args =
            |v: &[&str]| parse_args(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &all);
        let a = args(&["--secs", "3", "--jobs", "0", "b"]).unwrap();
        assert_eq!((a.secs, a.jobs, a.build_only), (3, 1, false));
        assert_eq!(a.chosen, ["b"]);
        let a = args(&["--build"]).unwrap();
        assert!(a.build_only && a.secs == 25 && a.jobs >= 1);
        assert_eq!(a.chosen, all);
        assert!(args(&["c"]).is_err());
        assert!(args(&["--jobs", "x"]).is_err());
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
