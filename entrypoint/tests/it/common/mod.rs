//! Helpers shared by the entrypoint's integration tests: the binary under test, tool
//! and privilege checks, and skipping with a reason.
//!
//! A test that cannot run here calls [`skip`], which records it in the run's skip log
//! (`sparkimg-skips`: counted and listed by `cargo xtask test`) and fails under CI, so
//! no test can pass there unrun.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_spark-entrypoint");

/// Records that the running test cannot run here (see the module comment).
pub fn skip(why: &str) {
    sparkimg_skips::skip(&sparkimg_skips::current_test(env!("CARGO_CRATE_NAME")), why);
}

/// [`skip`] for a named test or group (harness-less tests have no named thread).
pub fn skip_named(test: &str, why: &str) {
    sparkimg_skips::skip(test, why);
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
