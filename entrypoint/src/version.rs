//! Spark versions and what each one's `entrypoint.sh` does differently.
//!
//! Every version-dependent branch of the planner asks one named question here
//! (`has_resource_profile_id`, `executor_main_class`, …), so the per-version contract
//! from `research/entrypoint-contract.md` lives in one place.

pub use spark_version::SparkVersion;
use spark_version::{Patch, VersionError as Grammar};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VersionError {
    #[error(transparent)]
    Malformed(#[from] Grammar),
    #[error(
        "Spark {0} has no Kubernetes entrypoint contract (Spark on Kubernetes starts at 2.3.0)"
    )]
    TooOld(String),
    #[error("Spark {0} is newer than any version this entrypoint knows (2.3 through 4.x)")]
    TooNew(String),
}

/// Parses `3.5.3`, `3.5`, `3.0.0-SNAPSHOT`, `4.1.0-preview1` (surrounding whitespace
/// ignored: the text comes from files and the environment); refuses versions outside
/// 2.3 … 4.x, whose entrypoint contract is unknown.
pub fn parse(text: &str) -> Result<SparkVersion, VersionError> {
    let text = text.trim();
    let version = SparkVersion::parse(text, Patch::Optional)?;
    if !version.has_kubernetes() {
        return Err(VersionError::TooOld(text.to_string()));
    }
    if !version.is_known() {
        return Err(VersionError::TooNew(text.to_string()));
    }
    Ok(version)
}

/// The per-version behaviour of upstream's `entrypoint.sh`, one question per difference.
pub trait Contract {
    /// The version the questions are about.
    fn version(&self) -> &SparkVersion;

    /// Spark 2.3's entrypoint: roles from env (`SPARK_DRIVER_CLASS`, …), `init`, no pass-through.
    fn is_2_3(&self) -> bool {
        self.version().line() == (2, 3)
    }

    /// Spark 2.4's entrypoint: `driver-py`/`driver-r` roles, PySpark/R variables.
    fn is_2_4(&self) -> bool {
        self.version().line() == (2, 4)
    }

    /// Anything that is not a Spark role runs as a command (2.4 and later).
    fn has_pass_through(&self) -> bool {
        !self.is_2_3()
    }

    /// The executor's `-cp` gets `SPARK_EXTRA_CLASSPATH` appended (2.4+).
    fn has_extra_classpath(&self) -> bool {
        self.version().line() >= (2, 4)
    }

    /// `HADOOP_CONF_DIR` (when set, even empty) is put first on the executor classpath (3.0 line, snapshots included).
    fn has_hadoop_conf_dir_prefix(&self) -> bool {
        self.version().line() >= (3, 0)
    }

    /// `SPARK_CONF_DIR`, else `$SPARK_HOME/conf`, is put first on the executor classpath (3.1+).
    fn has_conf_dir_prefix(&self) -> bool {
        self.version().at_least(3, 1, 0)
    }

    /// The work dir (`$PWD`) is on the executor classpath (SPARK-43540, 3.5+).
    fn has_pwd_on_classpath(&self) -> bool {
        self.version().at_least(3, 5, 0)
    }

    /// `SPARK_DIST_CLASSPATH` ends the executor classpath and is computed from
    /// `HADOOP_HOME` when empty (SPARK-29574: 3.0.0, backported to 2.4.8).
    fn has_dist_classpath(&self) -> bool {
        self.version().at_least(3, 0, 0) || (self.is_2_4() && self.version().at_least(2, 4, 8))
    }

    /// An empty `JAVA_HOME` is found from `java` on `PATH` (3.3-era scripts on; older ones ran `/bin/java`).
    fn detects_java_home(&self) -> bool {
        self.version().at_least(3, 3, 0)
    }

    /// The executor's main class.
    fn executor_main_class(&self) -> &'static str {
        if self.version().at_least(3, 3, 0) {
            "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend"
        } else {
            "org.apache.spark.executor.CoarseGrainedExecutorBackend"
        }
    }

    /// `--resourceProfileId $SPARK_RESOURCE_PROFILE_ID` (3.1+).
    fn has_resource_profile_id(&self) -> bool {
        self.version().at_least(3, 1, 0)
    }

    /// `--podName $SPARK_EXECUTOR_POD_NAME` (3.3+).
    fn has_pod_name(&self) -> bool {
        self.version().at_least(3, 3, 0)
    }

    /// The driver also passes `spark.executorEnv.SPARK_DRIVER_POD_IP` (3.5+).
    fn has_driver_pod_ip_conf(&self) -> bool {
        self.version().at_least(3, 5, 0)
    }

    /// `PYSPARK_MAJOR_PYTHON_VERSION` picks `python`/`python3` (2.4 and 3.0 lines).
    fn honours_pyspark_major_python_version(&self) -> bool {
        matches!(self.version().line(), (2, 4) | (3, 0))
    }

    /// `bin/spark-class` passes `$SPARK_LAUNCHER_OPTS` to the launcher JVM, and the
    /// launcher prints a `\0\n` line between its messages and the command
    /// (SPARK-28525, 3.0; 2.x prints the NUL-separated command only).
    fn launcher_has_opts_and_separator(&self) -> bool {
        self.version().line() >= (3, 0)
    }

    /// 4.x's `load-spark-env.sh` exports `SPARK_SCALA_VERSION=2.13` outright (Scala 2.12
    /// is gone), over any value the environment had; earlier lines detect it.
    fn fixed_scala_version(&self) -> Option<&'static str> {
        (self.version().major >= 4).then_some("2.13")
    }

    /// `load-spark-env.sh`'s `SPARK_SCALA_VERSION` when unset: the first Scala version
    /// when `assembly/target/scala-<it>` exists, else the second; both existing is an
    /// error. 2.x chose between 2.11 and 2.12, 3.x and later between 2.13 and 2.12.
    fn scala_version_detection(&self) -> (&'static str, &'static str) {
        if self.version().line() >= (3, 0) {
            ("2.13", "2.12")
        } else {
            ("2.11", "2.12")
        }
    }

    /// The gecos field of a synthesized passwd entry uses `SPARK_USER_NAME` (3.0 line on).
    fn gecos_uses_spark_user_name(&self) -> bool {
        self.version().line() >= (3, 0)
    }

    /// Spark Connect and `sbin/start-connect-server.sh` exist (SPARK-42371, 3.4.0).
    fn has_spark_connect(&self) -> bool {
        self.version().at_least(3, 4, 0)
    }

    /// The Connect server (`spark-connect_<scala>-V.jar`) ships in the distribution's
    /// `jars/` (4.0 on); 3.4 and 3.5 need it added, by `--packages` as their docs say.
    fn ships_connect_server(&self) -> bool {
        self.version().major >= 4
    }

    /// 4.x's `start-connect-server.sh`: a leading `--wait` is taken as
    /// `SPARK_NO_DAEMONIZE=1` (SPARK-47040), and `SPARK_CONNECT_MODE=0` is exported so
    /// that the server itself starts a classic session (SPARK-51146's follow-up).
    fn connect_script_has_wait_and_mode(&self) -> bool {
        self.version().major >= 4
    }
}

impl Contract for SparkVersion {
    fn version(&self) -> &SparkVersion {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> SparkVersion {
        parse(s).expect("valid version")
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
        for bad in [
            "", "3", "3.x", "3.5.3.1", "v3.5.3", "3.5.3-", "-1.0", "3.5.3+b1",
        ] {
            assert!(
                matches!(parse(bad), Err(VersionError::Malformed(_))),
                "{bad:?}"
            );
        }
        let bounds = [
            ("2.2.3", Some(VersionError::TooOld("2.2.3".into()))),
            ("1.6", Some(VersionError::TooOld("1.6".into()))),
            ("2.3.0-SNAPSHOT", None),
            ("2.3", None),
            ("4.99.0", None),
            (
                "5.0.0-preview1",
                Some(VersionError::TooNew("5.0.0-preview1".into())),
            ),
            (" 5.0.0\n", Some(VersionError::TooNew("5.0.0".into()))),
        ];
        for (text, want) in bounds {
            assert_eq!(parse(text).err(), want, "{text:?}");
        }
    }

    #[test]
    fn messages() {
        assert_eq!(
            parse("3.x").unwrap_err().to_string(),
            "'3.x' is not a Spark version (expected MAJOR.MINOR.PATCH[-SUFFIX], e.g. 3.5.3)"
        );
        assert_eq!(
            parse("2.2.3").unwrap_err().to_string(),
            "Spark 2.2.3 has no Kubernetes entrypoint contract (Spark on Kubernetes starts at 2.3.0)"
        );
        assert_eq!(
            parse("5.0.0").unwrap_err().to_string(),
            "Spark 5.0.0 is newer than any version this entrypoint knows (2.3 through 4.x)"
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
        assert!(!v("2.4.8").launcher_has_opts_and_separator());
        assert!(v("3.0.0").launcher_has_opts_and_separator());
        assert_eq!(v("2.3.0").scala_version_detection(), ("2.11", "2.12"));
        assert_eq!(v("4.0.1").fixed_scala_version(), Some("2.13"));
        assert_eq!(v("3.5.9").fixed_scala_version(), None);
        assert!(!v("3.3.4").has_spark_connect() && v("3.4.0").has_spark_connect());
        assert!(!v("3.5.9").ships_connect_server() && v("4.0.0").ships_connect_server());
        assert!(!v("3.5.9").connect_script_has_wait_and_mode());
        assert!(v("4.1.0-preview1").connect_script_has_wait_and_mode());
    }
}
