//! Spark versions and what each one's `entrypoint.sh` does differently.
//!
//! Every version-dependent branch of the planner asks one named question here
//! (`has_resource_profile_id`, `executor_main_class`, …), so the per-version contract
//! from `research/entrypoint-contract.md` lives in one place.

use std::cmp::Ordering;
use std::fmt;

/// The oldest Spark with a Kubernetes backend.
const OLDEST: (u32, u32) = (2, 3);
/// The first major line we do not know the contract of.
const UNKNOWN_MAJOR: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparkVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// `SNAPSHOT`, `preview1`, `rc2`… A pre-release sorts before its release.
    pub pre: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VersionError {
    #[error("'{0}' is not a Spark version (expected MAJOR.MINOR[.PATCH][-SUFFIX], e.g. 3.5.3)")]
    Malformed(String),
    #[error(
        "Spark {0} has no Kubernetes entrypoint contract (Spark on Kubernetes starts at 2.3.0)"
    )]
    TooOld(String),
    #[error("Spark {0} is newer than any version this entrypoint knows (2.3 through 4.x)")]
    TooNew(String),
}

impl SparkVersion {
    /// Parses `3.5.3`, `3.5`, `3.0.0-SNAPSHOT`, `4.1.0-preview1`; refuses versions
    /// outside 2.3 … 4.x, whose entrypoint contract is unknown.
    pub fn parse(text: &str) -> Result<SparkVersion, VersionError> {
        let version = SparkVersion::parse_any(text)?;
        if (version.major, version.minor) < OLDEST {
            return Err(VersionError::TooOld(text.trim().to_string()));
        }
        if version.major >= UNKNOWN_MAJOR {
            return Err(VersionError::TooNew(text.trim().to_string()));
        }
        Ok(version)
    }

    fn parse_any(text: &str) -> Result<SparkVersion, VersionError> {
        let malformed = || VersionError::Malformed(text.to_string());
        let text = text.trim();
        let (numbers, pre) = match text.split_once(['-', '+']) {
            Some((numbers, pre)) if !pre.is_empty() => (numbers, Some(pre.to_string())),
            Some(_) => return Err(malformed()),
            None => (text, None),
        };
        let mut parts = numbers.split('.');
        let mut next = |required: bool| -> Result<u32, VersionError> {
            match parts.next() {
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse().map_err(|_| malformed())
                }
                None if !required => Ok(0),
                _ => Err(malformed()),
            }
        };
        let major = next(true)?;
        let minor = next(true)?;
        let patch = next(false)?;
        if parts.next().is_some() {
            return Err(malformed());
        }
        Ok(SparkVersion {
            major,
            minor,
            patch,
            pre,
        })
    }

    /// The version named in a distribution's `RELEASE` file (`Spark 3.5.3 built for Hadoop 3.3.4`).
    pub fn from_release_file(text: &str) -> Option<SparkVersion> {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("Spark "))?;
        let word = line.split_whitespace().nth(1)?;
        SparkVersion::parse_any(word).ok()
    }

    /// The version in a `spark-core_<scala>-<version>.jar` file name.
    pub fn from_core_jar_name(name: &str) -> Option<SparkVersion> {
        let rest = name.strip_prefix("spark-core_")?.strip_suffix(".jar")?;
        let (_scala, version) = rest.split_once('-')?;
        SparkVersion::parse_any(version).ok()
    }

    fn line(&self) -> (u32, u32) {
        (self.major, self.minor)
    }

    /// `self >= major.minor.patch`, where a pre-release (`3.0.0-SNAPSHOT`) is older than its release.
    pub fn at_least(&self, major: u32, minor: u32, patch: u32) -> bool {
        self.cmp(&SparkVersion {
            major,
            minor,
            patch,
            pre: None,
        }) != Ordering::Less
    }

    /// Spark 2.3's entrypoint: roles from env (`SPARK_DRIVER_CLASS`, …), `init`, no pass-through.
    pub fn is_2_3(&self) -> bool {
        self.line() == (2, 3)
    }

    /// Spark 2.4's entrypoint: `driver-py`/`driver-r` roles, PySpark/R variables.
    pub fn is_2_4(&self) -> bool {
        self.line() == (2, 4)
    }

    /// Anything that is not a Spark role runs as a command (2.4 and later).
    pub fn has_pass_through(&self) -> bool {
        !self.is_2_3()
    }

    /// The executor's `-cp` gets `SPARK_EXTRA_CLASSPATH` appended (2.4+).
    pub fn has_extra_classpath(&self) -> bool {
        self.line() >= (2, 4)
    }

    /// `HADOOP_CONF_DIR` (when set, even empty) is put first on the executor classpath (3.0 line, snapshots included).
    pub fn has_hadoop_conf_dir_prefix(&self) -> bool {
        self.line() >= (3, 0)
    }

    /// `SPARK_CONF_DIR`, else `$SPARK_HOME/conf`, is put first on the executor classpath (3.1+).
    pub fn has_conf_dir_prefix(&self) -> bool {
        self.at_least(3, 1, 0)
    }

    /// The work dir (`$PWD`) is on the executor classpath (SPARK-43540, 3.5+).
    pub fn has_pwd_on_classpath(&self) -> bool {
        self.at_least(3, 5, 0)
    }

    /// `SPARK_DIST_CLASSPATH` ends the executor classpath and is computed from
    /// `HADOOP_HOME` when empty (SPARK-29574: 3.0.0, backported to 2.4.8).
    pub fn has_dist_classpath(&self) -> bool {
        self.at_least(3, 0, 0) || (self.is_2_4() && self.at_least(2, 4, 8))
    }

    /// An empty `JAVA_HOME` is found from `java` on `PATH` (3.3-era scripts on; older ones ran `/bin/java`).
    pub fn detects_java_home(&self) -> bool {
        self.at_least(3, 3, 0)
    }

    /// The executor's main class.
    pub fn executor_main_class(&self) -> &'static str {
        if self.at_least(3, 3, 0) {
            "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend"
        } else {
            "org.apache.spark.executor.CoarseGrainedExecutorBackend"
        }
    }

    /// `--resourceProfileId $SPARK_RESOURCE_PROFILE_ID` (3.1+).
    pub fn has_resource_profile_id(&self) -> bool {
        self.at_least(3, 1, 0)
    }

    /// `--podName $SPARK_EXECUTOR_POD_NAME` (3.3+).
    pub fn has_pod_name(&self) -> bool {
        self.at_least(3, 3, 0)
    }

    /// The driver also passes `spark.executorEnv.SPARK_DRIVER_POD_IP` (3.5+).
    pub fn has_driver_pod_ip_conf(&self) -> bool {
        self.at_least(3, 5, 0)
    }

    /// `PYSPARK_MAJOR_PYTHON_VERSION` picks `python`/`python3` (2.4 and 3.0 lines).
    pub fn honours_pyspark_major_python_version(&self) -> bool {
        matches!(self.line(), (2, 4) | (3, 0))
    }

    /// The gecos field of a synthesized passwd entry uses `SPARK_USER_NAME` (3.0 line on).
    pub fn gecos_uses_spark_user_name(&self) -> bool {
        self.line() >= (3, 0)
    }
}

impl Ord for SparkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

impl PartialOrd for SparkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SparkVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(pre) = &self.pre {
            write!(f, "-{pre}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> SparkVersion {
        SparkVersion::parse(s).expect("valid version")
    }

    #[test]
    fn parses_release_and_pre_release_forms() {
        assert_eq!(v("3.5.3").to_string(), "3.5.3");
        assert_eq!(v("3.5").to_string(), "3.5.0");
        assert_eq!(v(" 4.1.0-preview1\n").to_string(), "4.1.0-preview1");
        assert!(v("3.0.0-SNAPSHOT") < v("3.0.0"));
        assert!(v("3.0.0-SNAPSHOT") > v("2.4.8"));
        assert!(v("3.10.0") > v("3.9.9"));
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        for bad in ["", "3", "3.x", "3.5.3.1", "v3.5.3", "3.5.3-", "-1.0"] {
            assert!(
                matches!(SparkVersion::parse(bad), Err(VersionError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            SparkVersion::parse("2.2.3"),
            Err(VersionError::TooOld(_))
        ));
        assert!(matches!(
            SparkVersion::parse("5.0.0"),
            Err(VersionError::TooNew(_))
        ));
    }

    #[test]
    fn reads_release_files_and_jar_names() {
        let release = "Spark 3.5.3 built for Hadoop 3.3.4\nBuild flags: -B -Pkubernetes\n";
        assert_eq!(SparkVersion::from_release_file(release), Some(v("3.5.3")));
        assert_eq!(SparkVersion::from_release_file("garbage"), None);
        assert_eq!(
            SparkVersion::from_core_jar_name("spark-core_2.13-4.0.1.jar"),
            Some(v("4.0.1"))
        );
        assert_eq!(
            SparkVersion::from_core_jar_name("spark-sql_2.13-4.0.1.jar"),
            None
        );
    }

    #[test]
    fn features_switch_on_at_the_documented_versions() {
        assert_eq!(
            v("3.2.4").executor_main_class(),
            "org.apache.spark.executor.CoarseGrainedExecutorBackend"
        );
        assert_eq!(
            v("3.3.0").executor_main_class(),
            "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend"
        );
        assert!(!v("3.0.3").has_resource_profile_id() && v("3.1.1").has_resource_profile_id());
        assert!(!v("3.2.4").has_pod_name() && v("3.3.0").has_pod_name());
        assert!(!v("3.4.4").has_driver_pod_ip_conf() && v("3.5.0").has_driver_pod_ip_conf());
        assert!(!v("3.0.0-SNAPSHOT").has_dist_classpath() && v("3.0.0").has_dist_classpath());
        assert!(!v("2.4.7").has_dist_classpath() && v("2.4.8").has_dist_classpath());
        assert!(v("3.0.0-SNAPSHOT").has_hadoop_conf_dir_prefix());
        assert!(!v("2.4.8").has_hadoop_conf_dir_prefix());
        assert!(v("2.3.4").is_2_3() && !v("2.3.4").has_pass_through());
        assert!(v("3.0.2").honours_pyspark_major_python_version());
        assert!(!v("3.1.1").honours_pyspark_major_python_version());
    }
}
