//! `cargo xtask test`: the README's one test command.

use std::process::{Command, Stdio};

use anyhow::{bail, Result};

use crate::util::{self, Step};

pub fn main(args: Vec<String>) -> Result<()> {
    if let Some(arg) = args.first() {
        bail!("test: unexpected argument {arg:?}");
    }
    let nextest = util::cargo()
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());

    let step = Step::start("test: workspace tests");
    if nextest {
        // nextest runs each test in its own process (isolation for the entrypoint's
        // signal and fork tests) but does not run doctests, so those follow separately.
        util::run(util::cargo().args(["nextest", "run", "--workspace", "--no-fail-fast"]))?;
        util::run(util::cargo().args(["test", "--workspace", "--doc"]))?;
    } else {
        util::run(util::cargo().args(["test", "--workspace", "--no-fail-fast"]))?;
    }
    step.done();

    // Only proves the benchmarks still run (about 2 minutes once fixtures are cached
    // and sparkimg's release build is fresh): --quick takes few samples and never
    // fails on a missed target. Without Docker, skopeo or docker-registry the benchmarks
    // needing them are skipped with a note, except under CI, which installs them.
    let step = Step::start("test: benchmark smoke run (bench all --quick)");
    let exe = std::env::current_exe()?;
    util::run(Command::new(exe).args(["bench", "all", "--quick"]))?;
    step.done();
    Ok(())
}
