//! Collecting `SPARK_JAVA_OPT_<N>`: the JVM options Spark's Kubernetes backend gives an
//! executor (and a 2.3 driver), one option per variable.
//!
//! Spark numbers them `0..n-1` and only the number carries the order (the Scala side
//! builds them from a map). Upstream scripts got this wrong in several ways (2.3.0: no
//! order; the `env | grep | sort | sed` pipeline: cut at newlines, picked up
//! `MY_SPARK_JAVA_OPT_1` and values mentioning the prefix; spark-docker ≥3.4: name
//! order, so `_10` before `_2`). Here: only names `SPARK_JAVA_OPT_<digits>`, in
//! numeric order, each value one argument kept byte for byte.

use std::ffi::OsString;

use crate::inputs::Env;

pub const PREFIX: &str = "SPARK_JAVA_OPT_";

/// The options in numeric order of N. Equal numbers (`_1` and `_01`) keep name order.
pub fn collect(env: &Env) -> Vec<OsString> {
    let mut numbered: Vec<(u128, &[u8], OsString)> = env
        .iter()
        .filter_map(|(name, value)| {
            use std::os::unix::ffi::OsStrExt;
            let digits = name.as_bytes().strip_prefix(PREFIX.as_bytes())?;
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            // More digits than fit in u128 cannot come from Spark; sort them last.
            let n = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse().ok())
                .unwrap_or(u128::MAX);
            Some((n, name.as_bytes(), value.to_os_string()))
        })
        .collect();
    numbered.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    numbered.into_iter().map(|(_, _, value)| value).collect()
}

/// Variables that look like Java options but are not collected, so the entrypoint can
/// warn about them (`SPARK_JAVA_OPT_X`, `SPARK_JAVA_OPT_`).
pub fn ignored_names(env: &Env) -> Vec<String> {
    use std::os::unix::ffi::OsStrExt;
    env.iter()
        .map(|(name, _)| name.as_bytes())
        .filter(|name| {
            name.strip_prefix(PREFIX.as_bytes())
                .is_some_and(|rest| rest.is_empty() || !rest.iter().all(u8::is_ascii_digit))
        })
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn numeric_not_name_order() {
        let pairs: Vec<(String, String)> = (0..12)
            .rev()
            .map(|i| (format!("SPARK_JAVA_OPT_{i}"), format!("-Dopt{i}")))
            .collect();
        let env: Env = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let expected: Vec<OsString> = (0..12).map(|i| format!("-Dopt{i}").into()).collect();
        assert_eq!(collect(&env), expected);
    }

    #[test]
    fn gaps_keep_numeric_order() {
        let env = env(&[
            ("SPARK_JAVA_OPT_12", "-Dc"),
            ("SPARK_JAVA_OPT_5", "-Db"),
            ("SPARK_JAVA_OPT_0", "-Da"),
            ("SPARK_JAVA_OPT_1", "-Dab"),
        ]);
        assert_eq!(collect(&env), ["-Da", "-Dab", "-Db", "-Dc"]);
    }

    #[test]
    fn values_are_kept_byte_for_byte() {
        let special = [
            "-Dmy.prop=a b",
            "-Dx=y=z",
            "-Dq=\"double\" and 'single'",
            "-Dd=$HOME/${USER}/$(id -u)/`id`",
            "-Dg=/opt/spark/jars/*",
            "  -Dspaces=1  ",
            "",
            "-Dmulti=line1\nline2",
        ];
        let pairs: Vec<(String, &str)> = special
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("SPARK_JAVA_OPT_{i}"), *v))
            .collect();
        let env: Env = pairs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(collect(&env), special);
    }

    #[test]
    fn only_numbered_names_count() {
        let env = env(&[
            ("SPARK_JAVA_OPT_0", "-Dzero"),
            ("SPARK_JAVA_OPT_01", "-Dzero-one"),
            ("SPARK_JAVA_OPT_1", "-Done"),
            ("SPARK_JAVA_OPT_X", "-Dx"),
            ("SPARK_JAVA_OPT_", "-Dbare"),
            ("MY_SPARK_JAVA_OPT_1", "-Dprefixed"),
            ("OTHER", "mentions SPARK_JAVA_OPT_ in its value"),
        ]);
        assert_eq!(collect(&env), ["-Dzero", "-Dzero-one", "-Done"]);
        assert_eq!(ignored_names(&env), ["SPARK_JAVA_OPT_", "SPARK_JAVA_OPT_X"]);
    }
}
