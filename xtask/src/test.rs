//! `cargo xtask test`: the README's one test command.
//!
//! In order: the prerequisites (installed when we can, see `prereq`), the inputs the
//! tests use (fixture distribution, static entrypoint, and with a Docker Engine the JVM
//! base image), the workspace tests, a benchmark smoke run, and the privileged
//! entrypoint tests again from a clone under a private (0700) directory. Every step
//! runs even when an earlier one failed; the end lists what was skipped and why
//! (see the `sparkimg-skips` crate), and under CI a skip fails the run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::fixtures::{self, Selector};
use crate::prereq::{self, For};
use crate::util::{self, Step};
use crate::{base, dist};
use sparkimg_skips as skips;

pub fn main(args: Vec<String>) -> Result<()> {
    match args.first().map(String::as_str) {
        None => {}
        // Compiles what the workspace tests run, nothing else: `.ci/run` does this
        // while the fixtures download in the background. The tools first: building
        // builder needs ISA-L's (nasm, autotools).
        Some("--no-run") if args.len() == 1 => {
            prereq::ensure(For::Test)?;
            return build_tests();
        }
        Some(arg) => {
            bail!("test: unexpected argument {arg:?} (usage: cargo xtask test [--no-run])")
        }
    }
    prereq::ensure(For::Test)?;
    prepare_inputs()?;

    let log = util::target_dir().join("xtask-test").join("skips.log");
    std::fs::create_dir_all(log.parent().context("skip log has a parent")?)?;
    std::fs::write(&log, "").with_context(|| format!("truncate {}", log.display()))?;

    let mut failed = Vec::new();
    let mut attempt = |name: &str, result: Result<()>| {
        if let Err(err) = result {
            eprintln!("error: {name}: {err:#}");
            failed.push(name.to_string());
        }
    };
    attempt("workspace tests", workspace_tests(&log));
    attempt("benchmark smoke run", bench_smoke(&log));
    attempt("private clone", private_clone(&log));

    let skipped = skips::read(&log)?;
    println!("{}", skips::summary(&skipped));
    if !failed.is_empty() {
        bail!("test: failed: {}", failed.join(", "));
    }
    if skips::in_ci() && !skipped.is_empty() {
        bail!(
            "test: {} skipped under CI, where everything must run",
            skipped.len()
        );
    }
    Ok(())
}

/// What the integration tests read from `target/`: cached after the first run.
fn prepare_inputs() -> Result<()> {
    fixtures::build(&[Selector::Line(3, Some(5))])?;
    dist::build(false)?;
    // The engine tests and benchmarks build FROM the imported base; without an engine
    // they are skipped (and counted), so the base is not needed either.
    if util::docker_engine().is_some() {
        let built = base::ensure()?;
        base::docker_import(&built)?;
        // The apt tests build spark-py on a JVM base without python3 (deb.debian.org
        // is one of the package registries this machine, and CI, reach).
        base::ensure_variant(&base::JVM_ONLY)?;
    }
    Ok(())
}

/// Whether `cargo nextest` is installed (else the tests run under `cargo test`).
fn have_nextest() -> bool {
    util::cargo()
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `--no-run`: the test binaries [`workspace_tests`] runs, built with the same command.
fn build_tests() -> Result<()> {
    let step = Step::start("test --no-run: build the workspace tests");
    let mut cmd = util::cargo();
    if have_nextest() {
        cmd.args(["nextest", "run"]);
    } else {
        cmd.arg("test");
    }
    util::run(cmd.args(["--workspace", "--no-run"]))?;
    step.done();
    Ok(())
}

fn workspace_tests(log: &Path) -> Result<()> {
    let nextest = have_nextest();
    let step = Step::start("test: workspace tests (about 5 min on 2 cores)");
    if nextest {
        // nextest runs each test in its own process (isolation for the entrypoint's
        // signal and fork tests) but does not run doctests, so those follow separately.
        util::run(
            util::cargo()
                .args(["nextest", "run", "--workspace", "--no-fail-fast"])
                .arg(format!("--test-threads={}", test_threads()))
                .env(skips::ENV, log),
        )?;
        print_slowest(&util::target_dir().join("nextest/default/junit.xml"));
        util::run(util::cargo().args(["test", "--workspace", "--doc"]))?;
    } else {
        util::run(
            util::cargo()
                .args(["test", "--workspace", "--no-fail-fast"])
                .env(skips::ENV, log),
        )?;
    }
    step.done();
    Ok(())
}

/// Twice the cores: much of the suite's time is waiting on the Debian mirror, the
/// Docker Engine and JVMs, not computing. On 2 cores, 4 at a time ran the whole suite
/// in 301 s on 296 CPU-seconds (half the machine's); 8 at a time took 283 s.
fn test_threads() -> usize {
    2 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The slowest tests of the run nextest recorded in `junit` (`.config/nextest.toml`),
/// so a CI log says where the suite's time goes.
fn print_slowest(junit: &Path) {
    let Ok(xml) = std::fs::read_to_string(junit) else {
        eprintln!(
            "warning: no {}: cannot list the slowest tests",
            junit.display()
        );
        return;
    };
    let tests = slowest(&xml, 15);
    let total: f64 = slowest(&xml, usize::MAX).iter().map(|(s, _)| s).sum();
    println!(
        "test: the {} slowest tests (all tests: {total:.0} s summed)",
        tests.len()
    );
    for (secs, name) in tests {
        println!("{secs:9.1} s  {name}");
    }
}

/// Pure: the `n` longest `<testcase>`s of a JUnit report as (seconds, `binary name`),
/// longest first.
fn slowest(xml: &str, n: usize) -> Vec<(f64, String)> {
    let attr = |case: &str, key: &str| -> Option<String> {
        let start = case.find(&format!(" {key}=\""))? + key.len() + 3;
        let len = case[start..].find('"')?;
        Some(case[start..start + len].to_string())
    };
    let mut out: Vec<(f64, String)> = xml
        .split("<testcase")
        .skip(1)
        .filter_map(|case| {
            let case = &case[..case.find('>')?];
            let secs = attr(case, "time")?.parse().ok()?;
            let name = format!("{} {}", attr(case, "classname")?, attr(case, "name")?);
            Some((secs, name))
        })
        .collect();
    out.sort_by(|a, b| b.0.total_cmp(&a.0));
    out.truncate(n);
    out
}

/// Only proves the benchmarks still run (about 2 minutes once fixtures are cached
/// and sparkimg's release build is fresh): --quick takes few samples and never fails
/// on a missed target. The prerequisites are installed by now, so a benchmark skips
/// only without a Docker Engine, and that is counted.
fn bench_smoke(log: &Path) -> Result<()> {
    let step = Step::start("test: benchmark smoke run (bench all --quick, about 2 min)");
    // Through cargo, not current_exe(): building the workspace's tests may have relinked
    // this very binary (features unify differently), leaving current_exe() deleted.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    util::run(
        Command::new(cargo)
            .args([
                "run",
                "--quiet",
                "--package",
                "xtask",
                "--bin",
                "xtask",
                "--",
            ])
            .args(["bench", "all", "--quick"])
            .env(skips::ENV, log),
    )?;
    step.done();
    Ok(())
}

/// The tests that run the entrypoint as another UID, from a clone of HEAD under a
/// `mktemp -d` (0700) directory, like a checkout in /root: they must not depend on
/// where the checkout is.
fn private_clone(log: &Path) -> Result<()> {
    const TEST: &str = "xtask::private_clone";
    let as_root = util::output(Command::new("id").arg("-u"))?.trim() == "0";
    if !as_root {
        if skips::in_ci() {
            bail!("{TEST} needs root under CI");
        }
        skips::record(TEST, "needs root (the tests switch UIDs)");
        return Ok(());
    }
    let step = Step::start(
        "test: entrypoint's privileged tests from a clone under a 0700 directory (about 1 min)",
    );
    let private = PathBuf::from(util::output(Command::new("mktemp").arg("-d"))?.trim());
    let result = run_in_clone(&private, log);
    let _ = std::fs::remove_dir_all(&private);
    result?;
    step.done();
    Ok(())
}

fn run_in_clone(private: &Path, log: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(private)?.permissions().mode() & 0o777;
    anyhow::ensure!(mode == 0o700, "mktemp -d made mode {mode:o}, not 700");
    let clone = private.join("sparkimg");
    util::run(
        Command::new("git")
            .args(["clone", "--quiet", "--no-hardlinks"])
            .arg(util::root())
            .arg(&clone),
    )?;
    let mut cmd = util::cargo();
    cmd.current_dir(&clone)
        .args(["test", "--locked", "-p", "spark-entrypoint"])
        // The integration tests (supervisor, vectors, version source): one binary.
        .args(["--test", "it"])
        // One trial at a time: supervisor and vector trials share this binary now, and
        // the decommission trials find "the executor" by scanning /proc, where another
        // trial's fake executor must not be.
        .args(["--", "--test-threads=1"])
        // The clone's own target/, below the private directory: the point of the test.
        .env_remove("CARGO_TARGET_DIR")
        .env(skips::ENV, log)
        .stdin(Stdio::null());
    eprintln!(
        "$ (in {}) cargo test --locked -p spark-entrypoint --test it -- --test-threads=1",
        clone.display()
    );
    let out = cmd
        .output()
        .context("cannot start cargo test in the clone")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    anyhow::ensure!(
        out.status.success(),
        "the tests failed in the clone: {}",
        out.status
    );
    // A filter or a rename must not turn this into a run of nothing.
    // The harness pads names to one width: `test supervisor::<name>   ... ok`.
    for test in ["random_uid_gets_a_passwd_entry", "root_switches_to_185"] {
        let passed = stdout.lines().any(|line| {
            line.strip_prefix(&format!("test supervisor::{test} "))
                .is_some_and(|rest| rest.trim_start() == "... ok")
        });
        anyhow::ensure!(passed, "{test} did not run and pass in the clone");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slowest_tests_come_first() {
        let xml = r#"<testsuites><testsuite name="b">
            <testcase name="quick" classname="b::t" time="0.5"/>
            <testcase name="slow" classname="b::t" timestamp="x" time="12.25">
            <failure/></testcase>
            <testcase name="untimed" classname="b::t"/>
            <testcase name="mid" classname="a::u" time="3"/></testsuite></testsuites>"#;
        assert_eq!(
            slowest(xml, 2),
            [
                (12.25, "b::t slow".to_string()),
                (3.0, "a::u mid".to_string())
            ]
        );
        assert_eq!(slowest(xml, 9).len(), 3);
        assert!(slowest("", 5).is_empty());
    }
}
