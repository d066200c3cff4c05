//! Where `spark-entrypoint` learns the Spark version, through the real binary:
//! `--spark-version`, else `SPARK_VERSION`, else `$SPARK_HOME/RELEASE`, else the
//! `spark-core_*.jar` name; nothing usable is a named error (exit 64).

use std::path::Path;
use std::process::{Command, Output};

use crate::common::BIN;

/// This theme's tests.
pub fn trials() -> Vec<libtest_mimic::Trial> {
    crate::trials![release_file_then_jar_name_then_error,]
}

/// An executor pod's environment (3.3+ variables included), without SPARK_VERSION.
fn executor(home: &Path, extra: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(["--print-plan", "executor"])
        .env_clear()
        .env("SPARK_HOME", home)
        .env("JAVA_HOME", "/jvm")
        .env(
            "SPARK_DRIVER_URL",
            "spark://CoarseGrainedScheduler@driver:7078",
        )
        .env("SPARK_EXECUTOR_ID", "1")
        .env("SPARK_EXECUTOR_CORES", "1")
        .env("SPARK_EXECUTOR_MEMORY", "1g")
        .env("SPARK_APPLICATION_ID", "spark-app")
        .env("SPARK_EXECUTOR_POD_IP", "10.0.0.2")
        .env("SPARK_RESOURCE_PROFILE_ID", "0")
        .env("SPARK_EXECUTOR_POD_NAME", "app-exec-1");
    for (k, v) in extra {
        c.env(k, v);
    }
    c.output().expect("run spark-entrypoint")
}

fn main_class(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
    plan["argv"]
        .as_array()
        .expect("argv")
        .iter()
        .filter_map(|a| a.as_str())
        .find(|a| a.ends_with("ExecutorBackend"))
        .expect("a backend class")
        .to_string()
}

const COARSE: &str = "org.apache.spark.executor.CoarseGrainedExecutorBackend";
const K8S: &str = "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend";

fn release_file_then_jar_name_then_error() {
    let home = tempfile::tempdir().expect("tempdir");
    let jars = home.path().join("jars");
    std::fs::create_dir_all(&jars).expect("jars dir");

    // Nothing to go by: a clear error naming what was looked at, exit 64.
    let out = executor(home.path(), &[]);
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SPARK_VERSION") && err.contains("RELEASE"),
        "{err}"
    );

    // The jar name.
    std::fs::write(jars.join("spark-core_2.12-3.3.0.jar"), b"").expect("jar");
    assert_eq!(main_class(&executor(home.path(), &[])), K8S);

    // RELEASE wins over the jar name.
    std::fs::write(
        home.path().join("RELEASE"),
        "Spark 3.2.4 built for Hadoop 3.3.4\nBuild flags: -B -Pkubernetes\n",
    )
    .expect("RELEASE");
    assert_eq!(main_class(&executor(home.path(), &[])), COARSE);

    // SPARK_VERSION wins over RELEASE, and --spark-version over SPARK_VERSION.
    assert_eq!(
        main_class(&executor(home.path(), &[("SPARK_VERSION", "3.5.3")])),
        K8S
    );
    let out = Command::new(BIN)
        .args(["--spark-version", "3.2.4", "--print-plan", "executor"])
        .env_clear()
        .env("SPARK_VERSION", "3.5.3")
        .env("SPARK_HOME", home.path())
        .env("JAVA_HOME", "/jvm")
        .envs([
            ("SPARK_DRIVER_URL", "spark://d:7078"),
            ("SPARK_EXECUTOR_ID", "1"),
            ("SPARK_EXECUTOR_CORES", "1"),
            ("SPARK_EXECUTOR_MEMORY", "1g"),
            ("SPARK_APPLICATION_ID", "a"),
            ("SPARK_EXECUTOR_POD_IP", "10.0.0.2"),
            ("SPARK_RESOURCE_PROFILE_ID", "0"),
        ])
        .output()
        .expect("run");
    assert_eq!(main_class(&out), COARSE);

    // Versions whose contract is unknown are refused by name.
    for (bad, needle) in [
        ("5.0.0", "newer"),
        ("2.2.3", "2.3.0"),
        ("3.five", "not a Spark version"),
    ] {
        let out = executor(home.path(), &[("SPARK_VERSION", bad)]);
        assert_eq!(out.status.code(), Some(64), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(needle) && err.contains("SPARK_VERSION"),
            "{bad}: {err}"
        );
    }
}

/// `--help` and `--version` alone are answered (exit 0, no Spark needed); beside other
/// arguments they stay the pass-through command's.
#[test]
fn help_and_version_alone_print_and_exit_0() {
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env_clear()
            .output()
            .expect("run")
    };
    let help = run(&["--help"]);
    assert!(help.status.success(), "{help:?}");
    assert!(String::from_utf8_lossy(&help.stdout).starts_with("usage: spark-entrypoint"));
    let version = run(&["--version"]);
    assert!(version.status.success(), "{version:?}");
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("spark-entrypoint {}", env!("CARGO_PKG_VERSION"))
    );
    // Not alone: planned as arguments, so the version question comes first (exit 64).
    let planned = run(&["--print-plan", "--help"]);
    assert_eq!(planned.status.code(), Some(64), "{planned:?}");
}
