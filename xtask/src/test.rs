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

    // Only proves the benchmark still runs; its numbers are not judged on shared CI
    // machines (see `bench entrypoint` without --quick for the gate).
    let step = Step::start("test: entrypoint benchmark smoke run");
    let exe = std::env::current_exe()?;
    util::run(Command::new(exe).args(["bench", "entrypoint", "--quick"]))?;
    step.done();

    // `bench fetch` is deliberately not run here, not even with --quick: it needs a
    // release build of sparkimg (~55 s on a cold 2-core CI machine, on top of the
    // debug build the tests use) and writes ~1.3 GB per run, so it could not stay
    // under the ~30 s a smoke run may cost. Run `cargo xtask bench fetch [--quick]`.
    Ok(())
}
