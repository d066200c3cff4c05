//! Stand-in for `java` / `spark-submit` in `cargo xtask bench entrypoint`.
//!
//! Records the moment it starts (CLOCK_MONOTONIC, in ns, the clock the harness
//! reads too) and the argv it got into the file named by `$XTASK_BENCH_STAMP`, then
//! exits 0; started as Spark's launcher it prints a command instead (see
//! [`act_as_launcher`]). Built static so its own start-up (no ld.so) adds as little
//! as possible to both sides of the comparison.

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

const CLOCK_MONOTONIC: i32 = 1;

/// Invoked as Spark's launcher (`java … org.apache.spark.launcher.Main CLASS ARGS…`),
/// the stub answers as the launcher of Spark 3.x does: a NUL line, then the command
/// (itself as `java`, then CLASS ARGS…), each word NUL-terminated. Both sides of the
/// driver benchmark go through it: `spark-class` and spark-entrypoint alike.
fn act_as_launcher() -> bool {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let Some(main) = args.iter().position(|a| a == "org.apache.spark.launcher.Main") else {
        return false;
    };
    use std::io::Write;
    use std::os::unix::ffi::OsStrExt;
    let mut out = Vec::new();
    out.extend_from_slice(b"\0\n");
    for word in std::iter::once(&args[0]).chain(&args[main + 1..]) {
        out.extend_from_slice(word.as_bytes());
        out.push(0);
    }
    if std::io::stdout().write_all(&out).is_err() {
        std::process::exit(4);
    }
    true
}

fn main() {
    if act_as_launcher() {
        return;
    }
    let mut ts = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable Timespec for the duration of the call.
    let rc = unsafe { clock_gettime(CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        std::process::exit(2);
    }
    let ns = ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128;
    let Some(path) = std::env::var_os("XTASK_BENCH_STAMP") else {
        return;
    };
    let mut text = format!("{ns}\n");
    for arg in std::env::args_os() {
        text.push_str(&arg.to_string_lossy());
        text.push('\n');
    }
    if std::fs::write(path, text).is_err() {
        std::process::exit(3);
    }
}
