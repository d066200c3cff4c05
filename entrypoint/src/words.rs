//! Word splitting of the space-joined variables Spark 2.x passes (`SPARK_DRIVER_ARGS`,
//! `PYSPARK_APP_ARGS`, `R_APP_ARGS`).
//!
//! Upstream expands them unquoted, so bash splits them on the default IFS (space, tab,
//! newline) and then glob-expands each word. We split the same way but never glob: a
//! word like `/opt/spark/jars/*.jar` reaches the program as written (documented
//! difference; upstream's result depended on which files happened to be in the cwd).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Splits `value` into words on space, tab and newline, dropping empty words.
pub fn split_ifs(value: &OsStr) -> Vec<OsString> {
    value
        .as_bytes()
        .split(|b| matches!(b, b' ' | b'\t' | b'\n'))
        .filter(|w| !w.is_empty())
        .map(|w| OsString::from_vec(w.to_vec()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        split_ifs(OsStr::new(s))
            .into_iter()
            .map(|w| w.into_string().expect("utf-8"))
            .collect()
    }

    #[test]
    fn splits_on_default_ifs_and_drops_empty_words() {
        assert_eq!(split("  a\tb\n\nc  "), ["a", "b", "c"]);
        assert!(split("").is_empty());
        assert!(split(" \t\n").is_empty());
    }

    #[test]
    fn quotes_and_globs_stay_literal() {
        assert_eq!(
            split("'s3a://data/out dir' /opt/spark/jars/*.jar"),
            ["'s3a://data/out", "dir'", "/opt/spark/jars/*.jar"]
        );
    }
}
