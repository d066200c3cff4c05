//! Stand-in for `java` / `spark-submit` in `cargo xtask bench entrypoint`.
//!
//! Records the moment it starts (CLOCK_MONOTONIC, in ns, the clock the harness
//! reads too) and the argv it got into the file named by `$XTASK_BENCH_STAMP`, then
//! exits 0. Built static so its own start-up (no ld.so) adds as little as possible
//! to both sides of the comparison.

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

const CLOCK_MONOTONIC: i32 = 1;

fn main() {
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
