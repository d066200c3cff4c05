//! Tests that could not run, counted across one `cargo xtask test`.
//!
//! The protocol, shared with the test crates' `tests/common/mod.rs`: `cargo xtask test`
//! names a file in [`ENV`]; a test (or benchmark) that cannot run here appends one line
//! `<test>\t<reason>` to it and prints `SKIP: <test>: <reason>`. Under CI a skip is a
//! failure: the test itself panics, and `cargo xtask test` fails on any line.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

pub const ENV: &str = "SPARKIMG_SKIP_LOG";

/// CI=true (any value but empty, `0` or `false`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Appends a skip to the log named in [`ENV`], if any (benchmarks run as a child
/// process of `cargo xtask test`, which set it).
pub fn record(test: &str, why: &str) {
    eprintln!("SKIP: {test}: {why}");
    let Some(log) = std::env::var_os(ENV) else {
        return;
    };
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

/// The distinct `(test, reason)` pairs in a log's text (a harness-less test binary
/// may record the same group skip once per process).
pub fn parse(text: &str) -> BTreeSet<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(t, w)| (t.to_string(), w.to_string()))
        .collect()
}

pub fn read(log: &Path) -> Result<BTreeSet<(String, String)>> {
    match std::fs::read_to_string(log) {
        Ok(text) => Ok(parse(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(e).with_context(|| format!("read {}", log.display())),
    }
}

/// The end-of-run summary.
pub fn summary(skips: &BTreeSet<(String, String)>) -> String {
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
        assert_eq!(summary(&BTreeSet::new()), "test: nothing skipped");
    }
}
