//! Helpers shared by the entrypoint's integration tests: the binary under test, tool
//! and privilege checks, and skipping with a reason.
//!
//! A test that cannot run here calls [`skip`]: it prints `SKIP: <test>: <reason>` and
//! appends `<test>\t<reason>` to the file named by `SPARKIMG_SKIP_LOG`, which
//! `cargo xtask test` sets, counts and lists at the end of its run. Under CI a skip
//! is a failure, so no test can pass there unrun.
#![allow(dead_code)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_spark-entrypoint");

/// CI=true (any value but empty, `0` or `false`), as `cargo xtask` reads it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Records that the running test cannot run here (see the module comment).
pub fn skip(why: &str) {
    // libtest runs each test on a thread named after it.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    skip_named(&format!("{}::{test}", env!("CARGO_CRATE_NAME")), why);
}

/// [`skip`] for a named test or group (harness-less tests have no named thread).
pub fn skip_named(test: &str, why: &str) {
    assert!(!in_ci(), "cannot run under CI: {test}: {why}");
    eprintln!("SKIP: {test}: {why}");
    if let Some(log) = std::env::var_os("SPARKIMG_SKIP_LOG") {
        let line = format!("{test}\t{why}\n");
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(err) = appended {
            eprintln!(
                "warning: cannot append to {}: {err}",
                Path::new(&log).display()
            );
        }
    }
}

/// Whether `program` is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// [`have`], or a recorded skip naming the tool.
pub fn need(program: &str) -> bool {
    let ok = have(program);
    if !ok {
        skip(&format!(
            "{program} is not installed (cargo xtask prereqs --install)"
        ));
    }
    ok
}

pub fn is_root() -> bool {
    // SAFETY: getuid cannot fail and touches no memory.
    unsafe { libc::getuid() == 0 }
}

/// [`is_root`], or a recorded skip.
pub fn need_root() -> bool {
    let ok = is_root();
    if !ok {
        skip("needs root");
    }
    ok
}

/// A temp dir that other users can enter (tests drop privileges), under /tmp rather
/// than `$TMPDIR`, which may be private.
pub fn tempdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("spark-entrypoint-test")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// A copy of the binary in `dir` (from [`tempdir`]), for tests that run it as another
/// UID: `target/` may sit below a directory only its owner can enter (a checkout in
/// `/root` or under `mktemp -d`), and the UID then cannot execute it in place.
pub fn reachable_binary(dir: &Path) -> PathBuf {
    let copy = dir.join("spark-entrypoint");
    if !copy.exists() {
        std::fs::copy(BIN, &copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    copy
}
