//! Tests that could not run, counted across one `cargo xtask test`.
//!
//! `cargo xtask test` names a file in [`ENV`]. A test (or benchmark) that cannot run
//! here calls [`skip`]: it prints `SKIP: <test>: <reason>` and appends one line
//! `<test>\t<reason>` to that file; the run ends with the list ([`summary`]). Under CI
//! a skip is a failure: [`skip`] panics, and `cargo xtask test` fails on any line.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

/// The variable naming the log file.
pub const ENV: &str = "SPARKIMG_SKIP_LOG";

/// The distinct `(test, reason)` pairs of a run.
pub type Skips = BTreeSet<(String, String)>;

/// CI=true (any value but empty, `0` or `false`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Records that `test` cannot run here, and why; under CI, panics instead.
pub fn skip(test: &str, why: &str) {
    assert!(!in_ci(), "cannot run under CI: {test}: {why}");
    record(test, why);
}

/// Prints the skip and appends it to the log named in [`ENV`], if any, without the
/// CI check (for callers that fail under CI in their own way).
pub fn record(test: &str, why: &str) {
    eprintln!("SKIP: {test}: {why}");
    let Some(log) = std::env::var_os(ENV) else {
        return;
    };
    // One short write with O_APPEND: lines from parallel test processes do not mix.
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|mut f| f.write_all(format!("{test}\t{why}\n").as_bytes()));
    if let Err(err) = appended {
        eprintln!(
            "warning: cannot append to {}: {err}",
            Path::new(&log).display()
        );
    }
}

/// The name of the running libtest test, as `<test crate>::<test>`: libtest runs each
/// test on a thread named after it. Pass `env!("CARGO_CRATE_NAME")` of the caller.
pub fn current_test(krate: &str) -> String {
    let thread = std::thread::current();
    format!("{krate}::{}", thread.name().unwrap_or("?"))
}

/// The distinct records in a log's text (a harness-less test binary may record the
/// same group skip once per process).
pub fn parse(text: &str) -> Skips {
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(t, w)| (t.to_string(), w.to_string()))
        .collect()
}

/// The records in `log`; none when it does not exist.
pub fn read(log: &Path) -> std::io::Result<Skips> {
    match std::fs::read_to_string(log) {
        Ok(text) => Ok(parse(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Skips::new()),
        Err(e) => Err(e),
    }
}

/// The end-of-run summary.
pub fn summary(skips: &Skips) -> String {
    if skips.is_empty() {
        return "test: nothing skipped".to_string();
    }
    let mut s = format!("test: {} skipped (could not run here):", skips.len());
    for (test, why) in skips {
        s += &format!("\n  {test}: {why}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_count_once_and_junk_is_ignored() {
        let skips = parse("a::x\tneeds root\nnot a record\na::x\tneeds root\nb::y\tno docker\n");
        assert_eq!(skips.len(), 2);
        let text = summary(&skips);
        assert!(text.starts_with("test: 2 skipped"), "{text}");
        assert!(text.contains("\n  a::x: needs root"), "{text}");
        assert_eq!(summary(&Skips::new()), "test: nothing skipped");
    }

    #[test]
    fn the_test_thread_names_the_test() {
        assert_eq!(
            current_test("skips"),
            "skips::tests::the_test_thread_names_the_test"
        );
    }
}
