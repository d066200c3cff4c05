//! Every environment variable `spark-entrypoint` itself reads (not those it only sets
//! or passes on): its name, what it does and what applies when it is unset. The
//! README's table is checked against [`ALL`] (xtask/tests/readme.rs), and a test here
//! checks that every variable name the sources use is either in it or known not to be
//! read. Nothing reads the table at run time.

/// One environment variable the entrypoint reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvVar {
    /// The name; `<N>` stands for any digits.
    pub name: &'static str,
    pub meaning: &'static str,
    /// What applies when the variable is unset (or empty).
    pub default: &'static str,
}

const fn var(name: &'static str, meaning: &'static str, default: &'static str) -> EnvVar {
    EnvVar {
        name,
        meaning,
        default,
    }
}

/// Required by a role: missing or empty is exit 64, naming it.
const REQUIRED: &str = "required";

/// Every variable, grouped as a pod's reader meets them.
pub const ALL: &[EnvVar] = &[
    // The image.
    var(
        "SPARK_VERSION",
        "the Spark version to plan for (sparkimg sets it)",
        "$SPARK_HOME/RELEASE, else the spark-core_*.jar name",
    ),
    var(
        "SPARK_HOME",
        "the Spark distribution",
        "empty (paths start at /)",
    ),
    var(
        "JAVA_HOME",
        "the JVM: runs $JAVA_HOME/bin/java",
        "3.3+: found from java on PATH",
    ),
    var(
        "PATH",
        "where java, bash, python and pass-through commands are found",
        "the image's",
    ),
    var(
        "SPARK_RUN_AS",
        "started as root, Spark roles switch to this USER, UID, USER:GROUP or UID:GID",
        "185",
    ),
    var(
        "SPARKIMG_PASS_THROUGH",
        "a command naming $SPARK_HOME/bin/spark-submit, spark-class or sbin/start-{master,worker,connect-server,history-server}.sh: auto runs Spark's launcher step for it where bash is missing, launcher always does",
        "auto",
    ),
    var(
        "SPARK_USER_NAME",
        "the gecos of a random UID's passwd entry (3.0+)",
        "anonymous uid",
    ),
    // What Spark's Kubernetes backend gives an executor pod.
    var("SPARK_DRIVER_URL", "executor: --driver-url", REQUIRED),
    var("SPARK_EXECUTOR_ID", "executor: --executor-id", REQUIRED),
    var("SPARK_EXECUTOR_CORES", "executor: --cores", REQUIRED),
    var("SPARK_APPLICATION_ID", "executor: --app-id", REQUIRED),
    var("SPARK_EXECUTOR_POD_IP", "executor: --hostname", REQUIRED),
    var("SPARK_EXECUTOR_MEMORY", "executor: -Xms and -Xmx", REQUIRED),
    var(
        "SPARK_RESOURCE_PROFILE_ID",
        "executor: --resourceProfileId (3.1+)",
        REQUIRED,
    ),
    var(
        "SPARK_EXECUTOR_POD_NAME",
        "executor: --podName (3.3+)",
        REQUIRED,
    ),
    var(
        "SPARK_JAVA_OPT_<N>",
        "executor and 2.3 driver: JVM options, one argument each, in N order",
        "none",
    ),
    // The executor's (and 2.3 driver's) classpath, upstream's string for string.
    var("SPARK_CLASSPATH", "first on the classpath", "empty"),
    var(
        "SPARK_MOUNTED_CLASSPATH",
        "appended to the classpath (2.3)",
        "none",
    ),
    var(
        "SPARK_EXTRA_CLASSPATH",
        "appended to the classpath (2.4+)",
        "none",
    ),
    var(
        "HADOOP_CONF_DIR",
        "prepended to the classpath (3.0+)",
        "none",
    ),
    var(
        "SPARK_CONF_DIR",
        "prepended to the classpath (3.1+); the launcher's conf directory",
        "$SPARK_HOME/conf",
    ),
    var(
        "SPARK_DIST_CLASSPATH",
        "appended to the classpath (3.0+, 2.4.8)",
        "$HADOOP_HOME/bin/hadoop classpath when HADOOP_HOME is set",
    ),
    var(
        "HADOOP_HOME",
        "where hadoop classpath fills SPARK_DIST_CLASSPATH from",
        "none",
    ),
    // Drivers.
    var(
        "SPARK_DRIVER_BIND_ADDRESS",
        "driver: spark.driver.bindAddress",
        REQUIRED,
    ),
    var("SPARK_DRIVER_MEMORY", "2.3 driver: -Xms and -Xmx", REQUIRED),
    var("SPARK_DRIVER_CLASS", "2.3 driver: the main class", REQUIRED),
    var(
        "SPARK_DRIVER_ARGS",
        "2.3 driver: the application's arguments, split on blanks",
        "none",
    ),
    var(
        "PYSPARK_PRIMARY",
        "2.4 driver-py: the application file",
        REQUIRED,
    ),
    var(
        "PYSPARK_APP_ARGS",
        "2.4 driver-py: the application's arguments, split on blanks",
        "none",
    ),
    var("R_PRIMARY", "2.4 driver-r: the application file", REQUIRED),
    var(
        "R_APP_ARGS",
        "2.4 driver-r: the application's arguments, split on blanks",
        "none",
    ),
    var("PYSPARK_FILES", "2.4: appended to PYTHONPATH", "none"),
    var(
        "PYTHONPATH",
        "2.4: what PYSPARK_FILES is appended to",
        "none",
    ),
    var(
        "PYSPARK_MAJOR_PYTHON_VERSION",
        "2.4 and 3.0: 2 runs python, 3 runs python3",
        "none",
    ),
    var(
        "SPARK_MOUNTED_FILES_DIR",
        "2.3: copied into the working directory",
        "none",
    ),
    // Standalone.
    var(
        "SPARK_MASTER_URL",
        "worker: the master, when no spark:// argument is given",
        REQUIRED,
    ),
    // What spark-submit and spark-class would read (the launcher step).
    var(
        "SPARK_MASTER_HOST",
        "sbin/start-master.sh without bash: --host",
        "hostname -f (the host name's canonical name in /etc/hosts)",
    ),
    var(
        "SPARK_MASTER_PORT",
        "sbin/start-master.sh without bash: --port",
        "7077",
    ),
    var(
        "SPARK_MASTER_WEBUI_PORT",
        "sbin/start-master.sh without bash: --webui-port",
        "8080",
    ),
    var(
        "SPARK_WORKER_PORT",
        "sbin/start-worker.sh without bash: --port",
        "none (Spark picks one)",
    ),
    var(
        "SPARK_WORKER_WEBUI_PORT",
        "sbin/start-worker.sh without bash: --webui-port",
        "8081",
    ),
    var(
        "SPARK_ENV_LOADED",
        "set: conf/spark-env.sh is not loaded again",
        "unset: loaded, then set to 1",
    ),
    var(
        "SPARK_SCALA_VERSION",
        "the Scala version of a build's assembly directory",
        "detected: 2.12 or 2.13",
    ),
    var(
        "SPARK_TESTING",
        "set: a missing jars directory is allowed; YARN_CONF_DIR and HADOOP_CONF_DIR are unset",
        "unset",
    ),
    var(
        "SPARK_SQL_TESTING",
        "set: a missing jars directory is allowed",
        "unset",
    ),
    var(
        "SPARK_PREPEND_CLASSES",
        "set: a build's launcher classes go first on the launcher's classpath",
        "unset",
    ),
    var(
        "SPARK_LAUNCHER_OPTS",
        "the launcher JVM's options, split on blanks (3.0+)",
        "none",
    ),
    // Invoked as tini.
    var(
        "TINI_SUBREAPER",
        "set: register as child subreaper (tini -s)",
        "unset",
    ),
    var(
        "TINI_KILL_PROCESS_GROUP",
        "set: signal the child's process group (tini -g)",
        "unset",
    ),
    var("TINI_VERBOSITY", "tini's verbosity (tini -v)", "1"),
];

/// The entry for `name` (`SPARK_JAVA_OPT_12` finds `SPARK_JAVA_OPT_<N>`).
pub fn get(name: &str) -> Option<&'static EnvVar> {
    ALL.iter().find(|v| match v.name.strip_suffix("<N>") {
        Some(prefix) => name
            .strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        None => v.name == name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    /// Upper-case literals in the sources that are not variables the entrypoint reads:
    /// the ones it only sets (or unsets) for the command, signal and level names, file
    /// names, compile-time variables.
    const NOT_READ: &[&str] = &[
        "CARGO_PKG_VERSION",
        "OUT_DIR",
        "DEBUG",
        "FATAL",
        "RELEASE",
        "HOME",
        "LD_PRELOAD",
        "NSS_WRAPPER_GROUP",
        "NSS_WRAPPER_PASSWD",
        "PYSPARK_DRIVER_PYTHON",
        "PYSPARK_PYTHON",
        "PYTHONHASHSEED",
        "PYTHON_VERSION",
        "SPARK_CONNECT_MODE",
        "SPARK_PRINT_LAUNCH_COMMAND",
        "YARN_CONF_DIR",
    ];

    /// The code before each file's `#[cfg(test)]`.
    fn sources(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("src/").map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("env_vars.rs")
            {
                let text = std::fs::read_to_string(&path).expect("a source file");
                let code = text.split("#[cfg(test)]").next().unwrap_or("");
                out.push(code.to_string());
            }
        }
    }

    /// Whole string literals that look like variable names (`"SPARK_HOME"`).
    fn names(code: &str) -> BTreeSet<String> {
        code.split('"')
            .skip(1)
            .step_by(2)
            .filter(|s| s.len() > 2 && s.starts_with(|c: char| c.is_ascii_uppercase()))
            .filter(|s| {
                s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            })
            // Signal names (SIGTERM), never variables.
            .filter(|s| !s.starts_with("SIG") || s.contains('_'))
            .map(String::from)
            .collect()
    }

    /// `n` is a name of the table, or the prefix of a `<N>` pattern (the code matches
    /// those by prefix).
    fn listed(n: &str) -> bool {
        ALL.iter()
            .any(|v| v.name == n || v.name.strip_suffix("<N>") == Some(n))
    }

    #[test]
    fn the_table_and_the_sources_agree() {
        let mut code = Vec::new();
        sources(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut code,
        );
        let used: BTreeSet<String> = code.iter().flat_map(|c| names(c)).collect();
        let unlisted: Vec<&String> = used
            .iter()
            .filter(|n| !listed(n) && !NOT_READ.contains(&n.as_str()))
            .collect();
        assert!(
            unlisted.is_empty(),
            "read but not in env_vars::ALL: {unlisted:?}"
        );
        let unused: Vec<&str> = ALL
            .iter()
            .map(|v| v.name.trim_end_matches("<N>"))
            .filter(|n| !used.contains(*n))
            .collect();
        assert!(
            unused.is_empty(),
            "in env_vars::ALL but never used: {unused:?}"
        );
    }

    #[test]
    fn patterns_and_names() {
        assert_eq!(
            get("SPARK_JAVA_OPT_12").map(|v| v.name),
            Some("SPARK_JAVA_OPT_<N>")
        );
        assert!(get("SPARK_JAVA_OPT_X").is_none());
        assert!(get("SPARK_JAVA_OPT_").is_none());
        assert_eq!(
            get("SPARK_HOME").map(|v| v.default),
            Some("empty (paths start at /)")
        );
        let unique: BTreeSet<&str> = ALL.iter().map(|v| v.name).collect();
        assert_eq!(unique.len(), ALL.len(), "a name is listed twice");
    }
}
