//! What `bin/spark-submit` and `bin/spark-class` do, without a shell: plan the run of
//! Spark's launcher (`org.apache.spark.launcher.Main`) and read what it prints.
//!
//! Upstream's roles that start Spark through those bash scripts (the driver through
//! `spark-submit`; master, worker, history and 2.3's init through `spark-class`) get
//! a [`Launcher`]: the launcher JVM's argv with `spark-class`'s classpath rules for
//! the version, and the variables `spark-submit`, `find-spark-home` and
//! `load-spark-env.sh` export. `launch.rs` runs it, [`parse_output`] reads its
//! answer, and that command is what runs under the supervisor.
//!
//! **Pure**, like `plan.rs`: facts about the file system come through [`Probe`].

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::exit_code;
use crate::inputs::Env;
use crate::probe::{PathKind, Probe};
use crate::version::{Contract, SparkVersion};
use crate::words::split_ifs;

/// The launcher's entry point.
pub const LAUNCHER_MAIN: &str = "org.apache.spark.launcher.Main";
/// The class `bin/spark-submit` hands to `bin/spark-class`.
pub const SUBMIT_CLASS: &str = "org.apache.spark.deploy.SparkSubmit";

/// Which upstream script a role's argv starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// `$SPARK_HOME/bin/spark-submit ARGS…`
    Submit,
    /// `$SPARK_HOME/bin/spark-class CLASS ARGS…`
    Class,
}

/// The launcher step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launcher {
    /// `java -Xmx128m [$SPARK_LAUNCHER_OPTS] -cp <jars>/* org.apache.spark.launcher.Main CLASS ARGS…`
    pub argv: Vec<OsString>,
    /// What the scripts export, for the launcher and the command it prints.
    pub env: BTreeMap<OsString, OsString>,
    /// What the scripts unset (`SPARK_TESTING` drops `YARN_CONF_DIR`, `HADOOP_CONF_DIR`).
    pub unset: Vec<OsString>,
    /// The output has messages, a `\0\n` line, then the command (3.0+).
    pub separated_output: bool,
    /// Where `spark-class` would stop before starting the launcher, and with which status.
    pub refusal: Option<Refusal>,
}

/// An error `spark-class` reports itself (no Java was started).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub code: i32,
}

/// What [`plan`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run the launcher ourselves.
    Launcher(Launcher),
    /// `spark-env.sh` exists and bash is there to source it: run upstream's scripts,
    /// so that its exports apply.
    Scripts { spark_env_sh: PathBuf },
}

fn join(parts: &[&OsStr]) -> OsString {
    let mut out = OsString::new();
    for part in parts {
        out.push(part);
    }
    out
}

/// Plans the launcher for `upstream`, the argv upstream's entrypoint would exec
/// (`…/bin/spark-submit ARGS` or `…/bin/spark-class CLASS ARGS`). `env` is the
/// environment as that script would see it; warnings are appended to `warnings`.
pub fn plan(
    script: Script,
    upstream: &[OsString],
    env: &Env,
    version: &SparkVersion,
    probe: &dyn Probe,
    warnings: &mut Vec<String>,
) -> Decision {
    let mut set: BTreeMap<OsString, OsString> = BTreeMap::new();
    let mut refusal = None;
    // find-spark-home: the script's own parent directory when SPARK_HOME is empty;
    // upstream's argv is then `/bin/spark-…`, so that is `/`.
    let spark_home = match env.non_empty("SPARK_HOME") {
        Some(home) => home.to_os_string(),
        None => {
            set.insert("SPARK_HOME".into(), "/".into());
            OsString::from("/")
        }
    };
    if script == Script::Submit {
        // spark-submit: the same string hashes in every Python worker.
        set.insert("PYTHONHASHSEED".into(), "0".into());
    }

    // load-spark-env.sh: once per process tree.
    if env.non_empty("SPARK_ENV_LOADED").is_none() {
        set.insert("SPARK_ENV_LOADED".into(), "1".into());
        let conf_dir = match env.non_empty("SPARK_CONF_DIR") {
            Some(dir) => dir.to_os_string(),
            None => Path::new(&spark_home).join("conf").into_os_string(),
        };
        let spark_env_sh = Path::new(&conf_dir).join("spark-env.sh");
        set.insert("SPARK_CONF_DIR".into(), conf_dir);
        if probe.path_kind(&spark_env_sh) == PathKind::File {
            if scripts_can_run(env, probe) {
                return Decision::Scripts { spark_env_sh };
            }
            warnings.push(format!(
                "{} is ignored: it is a shell script and this image has no bash to run it\nhint: set its variables in the pod's environment instead",
                spark_env_sh.display()
            ));
        }
    }

    let scala = scala_version(env, version, &spark_home, probe, &mut set, &mut refusal);
    let java = match env.non_empty("JAVA_HOME") {
        Some(home) => join(&[home, OsStr::new("/bin/java")]),
        None => {
            if probe.find_program("java", env).is_none() {
                refusal.get_or_insert(Refusal {
                    message: "JAVA_HOME is not set\nhint: set JAVA_HOME to the JVM's home directory or put `java` on PATH".into(),
                    code: exit_code::UPSTREAM_ERROR,
                });
            }
            OsString::from("java")
        }
    };

    let testing = env.non_empty("SPARK_TESTING").is_some();
    let classpath = launch_classpath(env, &spark_home, &scala, probe, &mut refusal);
    let unset = if testing {
        vec!["YARN_CONF_DIR".into(), "HADOOP_CONF_DIR".into()]
    } else {
        Vec::new()
    };

    let mut argv = vec![java, "-Xmx128m".into()];
    if version.launcher_has_opts_and_separator() {
        argv.extend(split_ifs(env.value("SPARK_LAUNCHER_OPTS")));
    }
    argv.extend(["-cp".into(), classpath, LAUNCHER_MAIN.into()]);
    if script == Script::Submit {
        argv.push(SUBMIT_CLASS.into());
    }
    // spark-class's own first argument is the class, which goes on as is.
    argv.extend(upstream.iter().skip(1).cloned());
    Decision::Launcher(Launcher {
        argv,
        env: set,
        unset,
        separated_output: version.launcher_has_opts_and_separator(),
        refusal,
    })
}

/// Whether Spark's bash scripts can run here: they start `#!/usr/bin/env bash`.
pub fn scripts_can_run(env: &Env, probe: &dyn Probe) -> bool {
    probe.find_program("bash", env).is_some()
        && probe.path_kind(Path::new("/usr/bin/env")) == PathKind::File
}

/// One of Spark's programs a pass-through command can name, which the entrypoint
/// can run without bash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// `bin/spark-submit` or `bin/spark-class`: the launcher step on the same arguments.
    Script(Script),
    /// `sbin/start-connect-server.sh`: the `connect` role, in the foreground.
    StartConnectServer,
    /// `sbin/start-history-server.sh`: the `history` role, in the foreground.
    StartHistoryServer,
    /// `sbin/start-master.sh`: a standalone master, in the foreground.
    StartMaster,
    /// `sbin/start-worker.sh MASTER`: a standalone worker, in the foreground.
    StartWorker,
}

/// Spark's programs by their place under `$SPARK_HOME`.
const PROGRAMS: [(&str, &str, Program); 6] = [
    ("sbin", "start-master.sh", Program::StartMaster),
    ("sbin", "start-worker.sh", Program::StartWorker),
    ("bin", "spark-submit", Program::Script(Script::Submit)),
    ("bin", "spark-class", Program::Script(Script::Class)),
    (
        "sbin",
        "start-connect-server.sh",
        Program::StartConnectServer,
    ),
    (
        "sbin",
        "start-history-server.sh",
        Program::StartHistoryServer,
    ),
];

/// Which of Spark's programs a pass-through command's `program` names:
/// `$SPARK_HOME/bin/spark-submit`, `…/sbin/start-connect-server.sh` and the others of
/// [`PROGRAMS`] by absolute path, by a path relative to the working directory, or by
/// bare name where `PATH` finds exactly that file. Paths are compared by name (see
/// [`normalized`]); a symlink to the script is not followed, since it may be anything.
pub fn spark_program(program: &OsStr, env: &Env, probe: &dyn Probe) -> Option<Program> {
    let home = Path::new(env.non_empty("SPARK_HOME")?);
    let is = |path: &Path, dir: &str, name: &str| {
        normalized(path) == normalized(&home.join(dir).join(name))
    };
    let path = Path::new(program);
    if program.as_bytes().contains(&b'/') {
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            Path::new(&probe.cwd()).join(path)
        };
        return PROGRAMS
            .into_iter()
            .find(|(dir, name, _)| is(&path, dir, name))
            .map(|(_, _, found)| found);
    }
    let (dir, name, found) = PROGRAMS.into_iter().find(|(_, name, _)| program == *name)?;
    let on_path = probe.find_program(name, env)?;
    is(&on_path, dir, name).then_some(found)
}

/// `path` without `.` components or repeated separators, `..` taken lexically. The
/// working directory it may start with is physical (getcwd), so its `..` is the real
/// parent; a symlinked directory named inside the argument itself could differ, and is
/// not worth a file system walk for a name match.
fn normalized(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// load-spark-env.sh's `SPARK_SCALA_VERSION` when it is not set (recorded in `set`).
fn scala_version(
    env: &Env,
    version: &SparkVersion,
    spark_home: &OsStr,
    probe: &dyn Probe,
    set: &mut BTreeMap<OsString, OsString>,
    refusal: &mut Option<Refusal>,
) -> OsString {
    if let Some(fixed) = version.fixed_scala_version() {
        set.insert("SPARK_SCALA_VERSION".into(), fixed.into());
        return OsString::from(fixed);
    }
    if let Some(scala) = env.non_empty("SPARK_SCALA_VERSION") {
        return scala.to_os_string();
    }
    let (first, second) = version.scala_version_detection();
    let assembly =
        |scala: &str| Path::new(spark_home).join(format!("assembly/target/scala-{scala}"));
    let has = |scala: &str| probe.path_kind(&assembly(scala)) == PathKind::Dir;
    if has(first) && has(second) {
        refusal.get_or_insert(Refusal {
            message: format!(
                "builds for two Scala versions found ({} and {})\nhint: remove one, or set SPARK_SCALA_VERSION={first}",
                assembly(first).display(),
                assembly(second).display()
            ),
            code: exit_code::UPSTREAM_ERROR,
        });
    }
    let chosen = if has(first) { first } else { second };
    set.insert("SPARK_SCALA_VERSION".into(), chosen.into());
    OsString::from(chosen)
}

/// spark-class's `LAUNCH_CLASSPATH`: `$SPARK_HOME/jars/*`, else a build's assembly
/// jars; a launcher build first with `SPARK_PREPEND_CLASSES`.
fn launch_classpath(
    env: &Env,
    spark_home: &OsStr,
    scala: &OsStr,
    probe: &dyn Probe,
    refusal: &mut Option<Refusal>,
) -> OsString {
    let scala_dir = join(&[OsStr::new("scala-"), scala]);
    let mut jars = Path::new(spark_home).join("jars");
    if probe.path_kind(&jars) != PathKind::Dir {
        jars = Path::new(spark_home)
            .join("assembly/target")
            .join(&scala_dir)
            .join("jars");
    }
    let testing =
        env.non_empty("SPARK_TESTING").is_some() || env.non_empty("SPARK_SQL_TESTING").is_some();
    if probe.path_kind(&jars) != PathKind::Dir && !testing {
        refusal.get_or_insert(Refusal {
            message: format!(
                "Failed to find Spark jars directory ({}).\nhint: is SPARK_HOME={} a Spark distribution?",
                jars.display(),
                Path::new(spark_home).display()
            ),
            code: exit_code::UPSTREAM_ERROR,
        });
    }
    let mut classpath = join(&[jars.as_os_str(), OsStr::new("/*")]);
    if env.non_empty("SPARK_PREPEND_CLASSES").is_some() {
        let classes = Path::new(spark_home)
            .join("launcher/target")
            .join(&scala_dir)
            .join("classes");
        classpath = join(&[classes.as_os_str(), OsStr::new(":"), &classpath]);
    }
    classpath
}

/// The command the launcher printed, split into the variables its `env` prefix sets
/// and the argv to exec.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    /// Lines printed before the separator (a JVM agent's banner, say); upstream echoes them.
    pub messages: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    pub argv: Vec<OsString>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error("Spark's launcher printed no command")]
    NoCommand,
    /// Text after the last NUL: what `spark-class` reports as a non-numeric exit code.
    #[error("Spark's launcher printed something that is not a command:\n{}", String::from_utf8_lossy(.0))]
    Garbled(Vec<u8>),
}

/// Reads the launcher's stdout (the launcher exited with status 0).
///
/// 3.0+ (`separated`): lines, up to a line that is a single NUL, are messages; the
/// rest is the command, each argument followed by a NUL. 2.x: the command only. The
/// launcher puts a command that needs variables behind `env NAME=VALUE…`; those are
/// returned in [`Command::env`] so that no `env` binary is needed.
pub fn parse_output(stdout: &[u8], separated: bool) -> Result<Command, OutputError> {
    let mut messages = Vec::new();
    let mut rest = stdout;
    if separated {
        loop {
            let Some(end) = rest.iter().position(|b| *b == b'\n') else {
                // No separator: everything is a message and there is no command.
                if !rest.is_empty() {
                    messages.push(OsString::from_vec(rest.to_vec()));
                }
                rest = &[];
                break;
            };
            let line = &rest[..end];
            rest = &rest[end + 1..];
            if line == b"\0" {
                break;
            }
            if !line.is_empty() {
                messages.push(OsString::from_vec(line.to_vec()));
            }
        }
    }
    let mut fields: Vec<&[u8]> = rest.split(|b| *b == 0).collect();
    // Every argument ends with a NUL, so the last piece must be empty.
    let trailing = fields.pop().unwrap_or_default();
    if !trailing.is_empty() {
        return Err(OutputError::Garbled(trailing.to_vec()));
    }
    let mut argv: Vec<OsString> = fields
        .into_iter()
        .map(|f| OsString::from_vec(f.to_vec()))
        .collect();
    let mut env = Vec::new();
    let assignments = if argv.first().is_some_and(|a| a == "env") {
        argv[1..]
            .iter()
            .take_while(|a| a.as_bytes().iter().skip(1).any(|b| *b == b'='))
            .count()
    } else {
        0
    };
    // The launcher writes `env` only to set variables: without any, `env` is the program.
    if assignments > 0 {
        for assignment in argv.drain(..=assignments).skip(1) {
            let bytes = assignment.into_vec();
            // take_while above guarantees an '=' after the first byte.
            let eq = bytes.iter().skip(1).position(|b| *b == b'=').unwrap_or(0) + 1;
            env.push((
                OsString::from_vec(bytes[..eq].to_vec()),
                OsString::from_vec(bytes[eq + 1..].to_vec()),
            ));
        }
    }
    if argv.is_empty() {
        return Err(OutputError::NoCommand);
    }
    Ok(Command {
        messages,
        env,
        argv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file system with the given directories and files, and programs on PATH.
    #[derive(Default)]
    struct Machine {
        dirs: Vec<&'static str>,
        files: Vec<&'static str>,
        programs: Vec<&'static str>,
    }

    impl Probe for Machine {
        fn java_home(&self, _env: &Env) -> Option<OsString> {
            None
        }
        fn hadoop_classpath(&self, _home: &OsStr, _env: &Env) -> Result<OsString, String> {
            Err("no hadoop".into())
        }
        fn python_version(&self, _python: &str, _env: &Env) -> Option<String> {
            None
        }
        fn cwd(&self) -> OsString {
            "/opt/spark/work-dir".into()
        }
        fn path_kind(&self, path: &Path) -> PathKind {
            let path = path.to_str().expect("test paths are UTF-8");
            if self.dirs.contains(&path) {
                PathKind::Dir
            } else if self.files.contains(&path) {
                PathKind::File
            } else {
                PathKind::Missing
            }
        }
        fn find_program(&self, name: &str, _env: &Env) -> Option<PathBuf> {
            self.programs
                .contains(&name)
                .then(|| PathBuf::from("/usr/bin").join(name))
        }
        fn fqdn(&self) -> OsString {
            "host.example".into()
        }
        fn list_dir(&self, dir: &Path) -> Vec<OsString> {
            self.files
                .iter()
                .map(Path::new)
                .filter(|f| f.parent() == Some(dir))
                .filter_map(|f| f.file_name().map(OsStr::to_os_string))
                .collect()
        }
    }

    fn spark_dist() -> Machine {
        Machine {
            dirs: vec!["/opt/spark/jars"],
            ..Machine::default()
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Env {
        let mut env: Env = [("SPARK_HOME", "/opt/spark"), ("JAVA_HOME", "/jvm")]
            .into_iter()
            .collect();
        for (k, v) in pairs {
            env.set(*k, *v);
        }
        env
    }

    fn os(items: &[&str]) -> Vec<OsString> {
        items.iter().map(OsString::from).collect()
    }

    fn launcher(
        script: Script,
        upstream: &[&str],
        env: &Env,
        version: &str,
        machine: &Machine,
    ) -> (Decision, Vec<String>) {
        let version = crate::version::parse(version).expect("valid version");
        let mut warnings = Vec::new();
        let decision = plan(script, &os(upstream), env, &version, machine, &mut warnings);
        (decision, warnings)
    }

    fn expect_launcher(decision: Decision) -> Launcher {
        match decision {
            Decision::Launcher(launcher) => launcher,
            other => panic!("expected the launcher, got {other:?}"),
        }
    }

    #[test]
    fn submit_runs_the_launcher_with_the_scripts_exports() {
        let submit = [
            "/opt/spark/bin/spark-submit",
            "--deploy-mode",
            "client",
            "a b",
        ];
        let (decision, warnings) = launcher(
            Script::Submit,
            &submit,
            &env(&[("SPARK_LAUNCHER_OPTS", " -Da=1  -Db=2 ")]),
            "3.5.3",
            &spark_dist(),
        );
        assert!(warnings.is_empty());
        let l = expect_launcher(decision);
        assert_eq!(
            l.argv,
            os(&[
                "/jvm/bin/java",
                "-Xmx128m",
                "-Da=1",
                "-Db=2",
                "-cp",
                "/opt/spark/jars/*",
                LAUNCHER_MAIN,
                SUBMIT_CLASS,
                "--deploy-mode",
                "client",
                "a b"
            ])
        );
        let exported: Vec<(&str, &str)> = l
            .env
            .iter()
            .map(|(k, v)| (k.to_str().unwrap(), v.to_str().unwrap()))
            .collect();
        assert_eq!(
            exported,
            [
                ("PYTHONHASHSEED", "0"),
                ("SPARK_CONF_DIR", "/opt/spark/conf"),
                ("SPARK_ENV_LOADED", "1"),
                ("SPARK_SCALA_VERSION", "2.12"),
            ]
        );
        assert!(l.separated_output && l.refusal.is_none() && l.unset.is_empty());

        // 2.x: no SPARK_LAUNCHER_OPTS, no separator line.
        let (decision, _) = launcher(
            Script::Submit,
            &submit,
            &env(&[("SPARK_LAUNCHER_OPTS", "-Da=1")]),
            "2.4.8",
            &spark_dist(),
        );
        let l = expect_launcher(decision);
        assert_eq!(
            l.argv[..4],
            os(&["/jvm/bin/java", "-Xmx128m", "-cp", "/opt/spark/jars/*"])
        );
        assert!(!l.separated_output);
    }

    #[test]
    fn class_keeps_its_class_and_respects_what_is_already_set() {
        let e = env(&[
            ("SPARK_ENV_LOADED", "1"),
            ("SPARK_SCALA_VERSION", "2.13"),
            ("SPARK_HOME", "/s"),
        ]);
        let machine = Machine {
            dirs: vec!["/s/jars"],
            ..Machine::default()
        };
        let (decision, _) = launcher(
            Script::Class,
            &[
                "/s/bin/spark-class",
                "org.apache.spark.deploy.master.Master",
                "--port",
                "7077",
            ],
            &e,
            "3.5.3",
            &machine,
        );
        let l = expect_launcher(decision);
        assert!(l.env.is_empty(), "{:?}", l.env);
        assert_eq!(
            l.argv[4..],
            os(&[
                LAUNCHER_MAIN,
                "org.apache.spark.deploy.master.Master",
                "--port",
                "7077"
            ])
        );
    }

    /// 4.x's load-spark-env.sh exports 2.13 whatever the environment said.
    #[test]
    fn four_x_exports_scala_2_13_over_the_environment() {
        let e = env(&[("SPARK_SCALA_VERSION", "2.12"), ("SPARK_HOME", "/s")]);
        let machine = Machine {
            dirs: vec!["/s/jars"],
            ..Machine::default()
        };
        let master = [
            "/s/bin/spark-class",
            "org.apache.spark.deploy.master.Master",
        ];
        let (decision, _) = launcher(Script::Class, &master, &e, "4.0.1", &machine);
        let l = expect_launcher(decision);
        let scala = l
            .env
            .iter()
            .find(|(k, _)| *k == "SPARK_SCALA_VERSION")
            .map(|(_, v)| v.to_str().unwrap());
        assert_eq!(scala, Some("2.13"), "{:?}", l.env);
    }

    #[test]
    fn spark_env_sh_runs_through_the_scripts_only_when_bash_is_there() {
        let upstream = [
            "/opt/spark/bin/spark-class",
            "org.apache.spark.deploy.history.HistoryServer",
        ];
        let mut machine = spark_dist();
        machine.files = vec!["/etc/spark/spark-env.sh", "/usr/bin/env"];
        let e = env(&[("SPARK_CONF_DIR", "/etc/spark")]);
        machine.programs = vec!["bash"];
        let (decision, warnings) = launcher(Script::Class, &upstream, &e, "3.5.3", &machine);
        assert_eq!(
            decision,
            Decision::Scripts {
                spark_env_sh: "/etc/spark/spark-env.sh".into()
            }
        );
        assert!(warnings.is_empty());

        machine.programs.clear();
        let (decision, warnings) = launcher(Script::Class, &upstream, &e, "3.5.3", &machine);
        expect_launcher(decision);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with("/etc/spark/spark-env.sh is ignored"),
            "{warnings:?}"
        );

        // Loaded already (a parent script did it): not looked at again.
        let loaded = env(&[("SPARK_CONF_DIR", "/etc/spark"), ("SPARK_ENV_LOADED", "1")]);
        machine.programs = vec!["bash"];
        let (decision, warnings) = launcher(Script::Class, &upstream, &loaded, "3.5.3", &machine);
        expect_launcher(decision);
        assert!(warnings.is_empty());
    }

    #[test]
    fn refusals_are_spark_class_s() {
        let upstream = ["/opt/spark/bin/spark-class", "X"];
        let no_java = env(&[("JAVA_HOME", "")]);
        let (decision, _) = launcher(Script::Class, &upstream, &no_java, "3.5.3", &spark_dist());
        let refusal = expect_launcher(decision).refusal.expect("refused");
        assert!(refusal.message.starts_with("JAVA_HOME is not set"));
        assert_eq!(refusal.code, 1);

        let java_on_path = Machine {
            programs: vec!["java"],
            ..spark_dist()
        };
        let (decision, _) = launcher(Script::Class, &upstream, &no_java, "3.5.3", &java_on_path);
        let l = expect_launcher(decision);
        assert_eq!((l.argv[0].to_str(), l.refusal), (Some("java"), None));

        let (decision, _) = launcher(
            Script::Class,
            &upstream,
            &env(&[]),
            "3.5.3",
            &Machine::default(),
        );
        let refusal = expect_launcher(decision).refusal.expect("refused");
        assert!(refusal.message.starts_with(
            "Failed to find Spark jars directory (/opt/spark/assembly/target/scala-2.12/jars)."
        ));

        let both = Machine {
            dirs: vec![
                "/opt/spark/jars",
                "/opt/spark/assembly/target/scala-2.13",
                "/opt/spark/assembly/target/scala-2.12",
            ],
            ..Machine::default()
        };
        let (decision, _) = launcher(Script::Class, &upstream, &env(&[]), "3.5.3", &both);
        assert!(expect_launcher(decision).refusal.is_some());
    }

    #[test]
    fn build_trees_and_testing_switches() {
        let upstream = ["/opt/spark/bin/spark-class", "X"];
        let build = Machine {
            dirs: vec![
                "/opt/spark/assembly/target/scala-2.11",
                "/opt/spark/assembly/target/scala-2.11/jars",
            ],
            ..Machine::default()
        };
        let e = env(&[("SPARK_PREPEND_CLASSES", "1"), ("SPARK_TESTING", "1")]);
        let (decision, _) = launcher(Script::Class, &upstream, &e, "2.4.8", &build);
        let l = expect_launcher(decision);
        assert_eq!(
            l.argv[3].to_str(),
            Some("/opt/spark/launcher/target/scala-2.11/classes:/opt/spark/assembly/target/scala-2.11/jars/*")
        );
        assert_eq!(
            l.env
                .get(OsStr::new("SPARK_SCALA_VERSION"))
                .and_then(|v| v.to_str()),
            Some("2.11")
        );
        assert_eq!(l.unset, os(&["YARN_CONF_DIR", "HADOOP_CONF_DIR"]));
        assert_eq!(l.refusal, None);
    }

    #[test]
    fn reads_the_separated_output_of_3_0_and_later() {
        let out = b"Listening for transport dt_socket\n\n\0\nenv\0LD_LIBRARY_PATH=/x=y\0A=\0/jvm/bin/java\0-cp\0a b\0\0";
        let cmd = parse_output(out, true).unwrap();
        assert_eq!(cmd.messages, os(&["Listening for transport dt_socket"]));
        assert_eq!(
            cmd.env,
            vec![
                ("LD_LIBRARY_PATH".into(), "/x=y".into()),
                ("A".into(), "".into())
            ]
        );
        // An empty argument stays an argument.
        assert_eq!(cmd.argv, os(&["/jvm/bin/java", "-cp", "a b", ""]));
    }

    #[test]
    fn reads_the_nul_only_output_of_2_x() {
        let cmd = parse_output(b"/jvm/bin/java\0-cp\0x\0", false).unwrap();
        assert_eq!(cmd.argv, os(&["/jvm/bin/java", "-cp", "x"]));
        assert!(cmd.messages.is_empty() && cmd.env.is_empty());
        // An `env` whose first word has no '=' is the program `env` itself.
        let cmd = parse_output(b"env\0=x\0java\0", false).unwrap();
        assert_eq!(cmd.argv, os(&["env", "=x", "java"]));
    }

    #[test]
    fn refuses_what_is_not_a_command() {
        assert_eq!(
            parse_output(
                b"java\0-version\0Error occurred during initialization of VM\n",
                false
            ),
            Err(OutputError::Garbled(
                b"Error occurred during initialization of VM\n".to_vec()
            ))
        );
        assert_eq!(parse_output(b"", false), Err(OutputError::NoCommand));
        assert_eq!(
            parse_output(b"only a message\n", true),
            Err(OutputError::NoCommand)
        );
        assert_eq!(
            parse_output(b"\0\nenv\0A=1\0", true),
            Err(OutputError::NoCommand)
        );
    }
}
