//! Pure file-name resolution: which `spark-V-bin-<flavour>.tgz` a version ships.
//!
//! The per-version tables come from the research notes (§5.2): Apache renamed the Hadoop
//! flavours twice (`hadoop2.7`/`hadoop3.2` until 3.2, `hadoop2`/`hadoop3` from 3.3, no
//! Hadoop 2 from 3.4) and Scala 2.13 builds carry a suffix only while 2.12 was the default.

use super::error::FetchError;
pub use spark_version::{SparkVersion, VersionError};

/// Resolve the binary tarball name for `version`.
///
/// `hadoop`: `None` for the version's default, `"without"` for `-bin-without-hadoop`, or a
/// Hadoop line (`"3"`, `"3.2"`, `"2.7"`, `"2"`, also accepted with a `hadoop` prefix).
/// `scala`: `None` for the version's default build, else `"2.11"`, `"2.12"` or `"2.13"`.
pub fn resolve_file_name(
    version: &SparkVersion,
    hadoop: Option<&str>,
    scala: Option<&str>,
) -> Result<String, FetchError> {
    let unsupported = |reason: String| FetchError::UnsupportedBuild {
        version: version.to_string(),
        reason,
    };
    let (maj, min) = (version.major, version.minor);
    if maj < 2 {
        return Err(unsupported(
            "Spark 1.x is not supported (no container-era distributions)".into(),
        ));
    }

    // Hadoop flavour: default per line, then normalise the aliases PySpark's installer
    // also accepts, then check the line actually shipped it.
    let requested = hadoop.map(|h| {
        h.trim()
            .trim_start_matches("hadoop")
            .trim_start_matches('-')
    });
    let without = matches!(
        requested,
        Some("without") | Some("without-hadoop") | Some("none")
    );
    let (allowed, default): (&[&str], &str) = match (maj, min) {
        (2, 0..=2) => (&["2.7", "2.6", "2.4", "2.3"], "2.7"),
        (2, _) => (&["2.7", "2.6"], "2.7"),
        (3, 0..=2) => (&["2.7", "3.2"], "3.2"),
        (3, 3) => (&["2", "3"], "3"),
        _ => (&["3"], "3"),
    };
    let hadoop_line = if without {
        None
    } else {
        let h = match requested {
            None | Some("") => default.to_string(),
            Some(h) => normalise_hadoop(maj, min, h),
        };
        if !allowed.contains(&h.as_str()) {
            return Err(unsupported(format!(
                "no hadoop{h} build; this line ships {} or `without`",
                allowed
                    .iter()
                    .map(|a| format!("hadoop{a}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Some(h)
    };

    // Scala suffix: only non-default Scala builds are suffixed.
    let default_scala = match (maj, min) {
        (2, _) => "2.11",
        (3, _) => "2.12",
        _ => "2.13",
    };
    let scala = scala.map(|s| s.trim().trim_start_matches("scala").trim_start_matches('-'));
    let suffix = match scala {
        None | Some("") => String::new(),
        Some(s) if s == default_scala => String::new(),
        Some("2.12") if (maj, min) == (2, 4) && without => "-scala-2.12".to_string(),
        Some("2.12") if (maj, min) == (2, 4) => return Err(unsupported(
            "Spark 2.4 has Scala 2.12 only as `without-hadoop-scala-2.12`; use --hadoop without"
                .into(),
        )),
        Some("2.13") if maj == 3 && min >= 2 && !without => "-scala2.13".to_string(),
        Some("2.13") if maj == 3 && min >= 2 => {
            return Err(unsupported(
                "the without-hadoop build is Scala 2.12 only on 3.x".into(),
            ))
        }
        Some(s) => {
            return Err(unsupported(format!(
                "no Scala {s} build (default for this line is {default_scala})"
            )))
        }
    };

    let flavour = match hadoop_line {
        None => "without-hadoop".to_string(),
        Some(h) => format!("hadoop{h}"),
    };
    Ok(format!("spark-{version}-bin-{flavour}{suffix}.tgz"))
}

fn normalise_hadoop(maj: u32, min: u32, h: &str) -> String {
    // Until 3.2 the tarballs carried the minor Hadoop version; from 3.3 they dropped it.
    let old_names = maj == 2 || (maj == 3 && min <= 2);
    match (old_names, h) {
        (true, "2") => "2.7".into(),
        (true, "3") => "3.2".into(),
        (false, "2.7") => "2".into(),
        (false, "3.2" | "3.3" | "3.4") => "3".into(),
        _ => h.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(v: &str, h: Option<&str>, s: Option<&str>) -> Result<String, FetchError> {
        resolve_file_name(&v.parse().unwrap(), h, s)
    }

    #[test]
    fn defaults_per_line() {
        assert_eq!(
            name("2.3.0", None, None).unwrap(),
            "spark-2.3.0-bin-hadoop2.7.tgz"
        );
        assert_eq!(
            name("3.1.3", None, None).unwrap(),
            "spark-3.1.3-bin-hadoop3.2.tgz"
        );
        assert_eq!(
            name("3.3.4", None, None).unwrap(),
            "spark-3.3.4-bin-hadoop3.tgz"
        );
        assert_eq!(
            name("3.5.3", None, None).unwrap(),
            "spark-3.5.3-bin-hadoop3.tgz"
        );
        assert_eq!(
            name("4.0.1", None, None).unwrap(),
            "spark-4.0.1-bin-hadoop3.tgz"
        );
    }

    #[test]
    fn flavours_and_aliases() {
        assert_eq!(
            name("3.5.3", Some("3"), Some("2.13")).unwrap(),
            "spark-3.5.3-bin-hadoop3-scala2.13.tgz"
        );
        assert_eq!(
            name("3.2.4", Some("3"), Some("2.13")).unwrap(),
            "spark-3.2.4-bin-hadoop3.2-scala2.13.tgz"
        );
        assert_eq!(
            name("3.5.3", Some("without"), None).unwrap(),
            "spark-3.5.3-bin-without-hadoop.tgz"
        );
        assert_eq!(
            name("3.1.3", Some("2"), None).unwrap(),
            "spark-3.1.3-bin-hadoop2.7.tgz"
        );
        assert_eq!(
            name("3.3.4", Some("2.7"), None).unwrap(),
            "spark-3.3.4-bin-hadoop2.tgz"
        );
        assert_eq!(
            name("3.3.4", Some("hadoop3"), None).unwrap(),
            "spark-3.3.4-bin-hadoop3.tgz"
        );
        assert_eq!(
            name("2.4.8", Some("without"), Some("2.12")).unwrap(),
            "spark-2.4.8-bin-without-hadoop-scala-2.12.tgz"
        );
        assert_eq!(
            name("4.0.1", None, Some("2.13")).unwrap(),
            "spark-4.0.1-bin-hadoop3.tgz"
        );
        assert_eq!(
            name("4.0.0-preview1", None, None).unwrap(),
            "spark-4.0.0-preview1-bin-hadoop3.tgz"
        );
        assert_eq!(
            name("3.5.3", None, Some("2.12")).unwrap(),
            "spark-3.5.3-bin-hadoop3.tgz"
        );
    }

    #[test]
    fn rejects_builds_that_never_existed() {
        assert!(name("3.5.3", Some("2"), None).is_err());
        assert!(name("4.0.1", None, Some("2.12")).is_err());
        assert!(name("3.1.3", None, Some("2.13")).is_err());
        assert!(name("2.4.8", None, Some("2.12")).is_err());
        assert!(name("1.6.3", None, None).is_err());
    }

    #[test]
    fn version_parsing() {
        assert!("3.5".parse::<SparkVersion>().is_err());
        assert!("3.5.3.1".parse::<SparkVersion>().is_err());
        assert!("3.5.x".parse::<SparkVersion>().is_err());
        assert!("3.5.3-../../x".parse::<SparkVersion>().is_err());
        assert_eq!(
            "4.0.0-preview1"
                .parse::<SparkVersion>()
                .unwrap()
                .to_string(),
            "4.0.0-preview1"
        );
    }
}
