//! The planner: from a pod's arguments and environment to the command upstream's
//! `entrypoint.sh` would run for that Spark version.
//!
//! **Invariant:** nothing in this module reads the process environment, the file system
//! or the clock; facts come in through [`Probe`]. That is what lets the vector tests
//! run every recorded upstream case in microseconds.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::exit_code;
use crate::inputs::Env;
use crate::javaopts;
use crate::launcher::{self, Launcher, Program, Script};
use crate::probe::{PathKind, Probe};
use crate::version::{Contract, SparkVersion};
use crate::words::split_ifs;

/// What upstream prints on stdout before running a non-Spark command (2.4 and later).
pub const PASS_THROUGH_NOTICE: &str =
    "Non-spark-on-k8s command provided, proceeding in pass-through mode...";

/// The role named by the first container argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Driver,
    /// 2.4 only: a PySpark driver whose primary file comes from `PYSPARK_PRIMARY`.
    DriverPy,
    /// 2.4 only: an R driver whose primary file comes from `R_PRIMARY`.
    DriverR,
    Executor,
    /// 2.3 only: the init container that downloads dependencies.
    Init,
    /// Standalone master (beyond upstream).
    Master,
    /// Standalone worker (beyond upstream).
    Worker,
    /// History server (beyond upstream).
    History,
    /// Spark Connect server, as `sbin/start-connect-server.sh` in the foreground (3.4+,
    /// beyond upstream).
    Connect,
    /// Anything else: run the arguments as a command.
    PassThrough,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Driver => "driver",
            Role::DriverPy => "driver-py",
            Role::DriverR => "driver-r",
            Role::Executor => "executor",
            Role::Init => "init",
            Role::Master => "master",
            Role::Worker => "worker",
            Role::History => "history",
            Role::Connect => "connect",
            Role::PassThrough => "pass-through",
        }
    }

    /// Spark's own processes, which drop root privileges; a pass-through command keeps
    /// the identity it was started with (so `docker run --user 0 IMAGE bash` stays root).
    pub fn is_spark_process(self) -> bool {
        self != Role::PassThrough
    }
}

/// Work to do on the file system before the exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepare {
    /// Copy the contents of `from` into the working directory (2.3's `SPARK_MOUNTED_FILES_DIR`).
    CopyDirIntoCwd { from: PathBuf },
}

/// Everything the effects side needs to start the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub role: Role,
    /// Program and arguments; the program is looked up on `PATH` when it has no `/`.
    pub argv: Vec<OsString>,
    /// Variables the plan sets or changes, on top of the inherited environment.
    pub env: BTreeMap<OsString, OsString>,
    /// A line for stdout before the exec (upstream's pass-through message).
    pub notice: Option<&'static str>,
    /// Lines for stderr: things upstream did silently that a user should know.
    pub warnings: Vec<String>,
    pub prepare: Vec<Prepare>,
    /// Run the command as our supervised child (always, today: we are PID 1).
    pub supervise: bool,
    /// Started as root, switch to `SPARK_RUN_AS` before the exec.
    pub drop_privileges: bool,
    /// The gecos field for a passwd entry made up for a uid without one.
    pub passwd_gecos: OsString,
    /// For roles upstream starts through `spark-submit`/`spark-class`: run Spark's
    /// launcher ourselves and exec the command it prints instead of `argv` (which stays
    /// upstream's, for `--print-plan` and the vectors). `None`: exec `argv`.
    pub launcher: Option<Launcher>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("No command to execute has been provided.\nhint: give a role (driver, executor{roles}) or a command to run")]
    NoCommand { roles: &'static str },
    #[error("Unknown command: {command}\nhint: Spark {version} images accept only {accepted}")]
    UnknownCommand {
        command: String,
        version: String,
        accepted: &'static str,
    },
    #[error("the first argument is an empty string; expected a role or a command")]
    EmptyCommand,
    #[error("role '{role}' needs {} but {} not set or empty\nhint: these come from the pod spec Spark creates; set them in the container's env when starting it by hand", .vars.join(", "), if .vars.len() == 1 { "it is" } else { "they are" })]
    MissingVariables {
        role: &'static str,
        vars: Vec<&'static str>,
    },
    #[error("role '{role}' runs java but JAVA_HOME is empty and no `java` is on PATH\nhint: set JAVA_HOME to the JVM's home directory")]
    JavaNotFound { role: &'static str },
    #[error("PYSPARK_MAJOR_PYTHON_VERSION={major} but `{python}` is not on PATH or does not run\nhint: install {python} in the image or set PYSPARK_MAJOR_PYTHON_VERSION to the Python it has")]
    PythonNotFound { major: String, python: &'static str },
    #[error("role 'connect': Spark {version} has no Spark Connect server (it arrived in Spark 3.4.0)\nhint: build the image for Spark 3.4 or later (4.x ships the server in jars/); on {version} the roles are driver, executor, master, worker and history")]
    ConnectUnsupported { version: String },
    #[error("{usage}\nhint: {hint}")]
    ScriptUsage {
        usage: &'static str,
        hint: &'static str,
    },
    #[error("{name}={value:?} is not a setting\nhint: set {name} to {accepted}, or unset it")]
    BadSetting {
        name: &'static str,
        value: String,
        accepted: &'static str,
    },
    #[error("role 'connect': Spark {version} does not ship the Spark Connect server: no spark-connect_*.jar in {jars}, and no --packages or --jars names it\nhint: add `--packages {coordinate}` to the container arguments, or build the image with `sparkimg build --packages {coordinate}`")]
    ConnectServerMissing {
        version: String,
        jars: String,
        coordinate: String,
    },
}

impl PlanError {
    pub fn exit_code(&self) -> i32 {
        match self {
            PlanError::NoCommand { .. }
            | PlanError::ScriptUsage { .. }
            | PlanError::UnknownCommand { .. }
            | PlanError::EmptyCommand => exit_code::UPSTREAM_ERROR,
            PlanError::MissingVariables { .. }
            | PlanError::ConnectUnsupported { .. }
            | PlanError::BadSetting { .. }
            | PlanError::ConnectServerMissing { .. } => exit_code::MISCONFIGURED,
            PlanError::JavaNotFound { .. } | PlanError::PythonNotFound { .. } => {
                exit_code::NOT_FOUND
            }
        }
    }
}

/// Plans the command for `args` (the container arguments: role first) under `version`.
pub fn plan(
    args: &[OsString],
    env: &Env,
    version: &SparkVersion,
    probe: &dyn Probe,
) -> Result<Plan, PlanError> {
    let role = dispatch(args, version)?;
    let mut planner = Planner {
        env,
        version,
        probe,
        role,
        set: BTreeMap::new(),
        warnings: Vec::new(),
        java_home: env.value("JAVA_HOME").to_os_string(),
    };
    let rest = if role == Role::PassThrough {
        args
    } else {
        &args[1..]
    };
    planner.common_setup()?;
    let argv = match role {
        Role::Executor => planner.executor()?,
        Role::Driver if version.is_2_3() => planner.driver_2_3(rest)?,
        Role::Driver | Role::DriverPy | Role::DriverR => planner.driver(rest)?,
        Role::Init => spark_class(
            env,
            "org.apache.spark.deploy.k8s.SparkPodInitContainer",
            rest,
        ),
        Role::Master => spark_class(env, "org.apache.spark.deploy.master.Master", rest),
        Role::Worker => planner.worker(rest)?,
        Role::History => spark_class(env, "org.apache.spark.deploy.history.HistoryServer", rest),
        Role::Connect => planner.connect(rest)?,
        Role::PassThrough => rest.to_vec(),
    };
    // What the launcher step runs when it is not `argv` (a start-*.sh script's command).
    let mut launched: Option<Vec<OsString>> = None;
    let script = match role {
        Role::Driver if version.is_2_3() => None,
        Role::Driver | Role::DriverPy | Role::DriverR | Role::Connect => Some(Script::Submit),
        Role::Init | Role::Master | Role::Worker | Role::History => Some(Script::Class),
        Role::Executor => None,
        Role::PassThrough => match pass_through_program(&argv, env, probe)? {
            None => None,
            Some(Program::Script(script)) => Some(script),
            Some(daemon) => {
                launched = Some(planner.daemon(daemon, &argv[1..])?);
                Some(if daemon == Program::StartConnectServer {
                    Script::Submit
                } else {
                    Script::Class
                })
            }
        },
    };
    let launcher = script.and_then(|script| {
        // The script sees the environment with this plan's changes applied.
        let mut view = env.clone();
        for (name, value) in &planner.set {
            view.set(name.clone(), value.clone());
        }
        let upstream = launched.as_deref().unwrap_or(&argv);
        match launcher::plan(
            script,
            upstream,
            &view,
            version,
            probe,
            &mut planner.warnings,
        ) {
            launcher::Decision::Launcher(launcher) => Some(launcher),
            launcher::Decision::Scripts { .. } => None,
        }
    });
    let prepare = match env.non_empty("SPARK_MOUNTED_FILES_DIR") {
        Some(dir) if version.is_2_3() => vec![Prepare::CopyDirIntoCwd { from: dir.into() }],
        _ => Vec::new(),
    };
    let passwd_gecos = match env.non_empty("SPARK_USER_NAME") {
        Some(name) if version.gecos_uses_spark_user_name() => name.to_os_string(),
        _ => OsString::from("anonymous uid"),
    };
    Ok(Plan {
        role,
        argv,
        env: planner.set,
        notice: (role == Role::PassThrough).then_some(PASS_THROUGH_NOTICE),
        warnings: planner.warnings,
        prepare,
        supervise: true,
        drop_privileges: role.is_spark_process(),
        passwd_gecos,
        launcher,
    })
}

fn dispatch(args: &[OsString], version: &SparkVersion) -> Result<Role, PlanError> {
    // 2.4's first `case` sends "" (no args, or an empty first one) to its error branch.
    if version.is_2_4() && args.first().is_none_or(|a| a.is_empty()) {
        return Err(PlanError::UnknownCommand {
            command: String::new(),
            version: version.to_string(),
            accepted: "driver, driver-py, driver-r, executor, master, worker, history or a command",
        });
    }
    let Some(first) = args.first() else {
        return Err(PlanError::NoCommand {
            roles: if version.is_2_3() {
                ", init, master, worker, history"
            } else if version.has_spark_connect() {
                ", master, worker, history, connect"
            } else {
                ", master, worker, history"
            },
        });
    };
    let role = match first.as_bytes() {
        b"" => return Err(PlanError::EmptyCommand),
        b"driver" => Role::Driver,
        b"executor" => Role::Executor,
        b"master" => Role::Master,
        b"worker" => Role::Worker,
        b"history" => Role::History,
        b"connect" if version.has_spark_connect() => Role::Connect,
        b"connect" => {
            return Err(PlanError::ConnectUnsupported {
                version: version.to_string(),
            })
        }
        b"init" if version.is_2_3() => Role::Init,
        b"driver-py" if version.is_2_4() => Role::DriverPy,
        b"driver-r" if version.is_2_4() => Role::DriverR,
        _ if version.has_pass_through() => Role::PassThrough,
        _ => {
            return Err(PlanError::UnknownCommand {
                command: first.to_string_lossy().into_owned(),
                version: version.to_string(),
                accepted: "driver, executor, init, master, worker and history",
            })
        }
    };
    Ok(role)
}

/// The variable that chooses how a pass-through command naming one of Spark's
/// programs ([`launcher::Program`]) runs, and its values.
pub const PASS_THROUGH_VAR: &str = "SPARKIMG_PASS_THROUGH";
const PASS_THROUGH_VALUES: &str =
    "auto (the default: the launcher step only where bash is missing) or launcher (always)";

/// A pass-through command naming one of Spark's programs (`bin/spark-submit`,
/// `bin/spark-class`, `sbin/start-{master,worker,connect-server,history-server}.sh`)
/// gets the launcher step
/// the roles have where the script cannot run (no bash) or where
/// `SPARKIMG_PASS_THROUGH=launcher` asks for it; elsewhere the script runs as before.
fn pass_through_program(
    argv: &[OsString],
    env: &Env,
    probe: &dyn Probe,
) -> Result<Option<Program>, PlanError> {
    let Some(program) = argv.first() else {
        return Ok(None);
    };
    let Some(found) = launcher::spark_program(program, env, probe) else {
        return Ok(None);
    };
    // Read only for Spark's programs: a typo must not stop an unrelated `bash -c …`.
    let always = match env.value(PASS_THROUGH_VAR).as_bytes() {
        b"" | b"auto" => false,
        b"launcher" => true,
        other => {
            return Err(PlanError::BadSetting {
                name: PASS_THROUGH_VAR,
                value: String::from_utf8_lossy(other).into_owned(),
                accepted: PASS_THROUGH_VALUES,
            })
        }
    };
    Ok((always || !launcher::scripts_can_run(env, probe)).then_some(found))
}

fn spark_home(env: &Env) -> &OsStr {
    env.value("SPARK_HOME")
}

fn join(parts: &[&OsStr]) -> OsString {
    let mut out = OsString::new();
    for part in parts {
        out.push(part);
    }
    out
}

fn spark_class(env: &Env, main_class: &str, rest: &[OsString]) -> Vec<OsString> {
    let mut argv = vec![
        join(&[spark_home(env), OsStr::new("/bin/spark-class")]),
        main_class.into(),
    ];
    argv.extend_from_slice(rest);
    argv
}

struct Planner<'a> {
    env: &'a Env,
    version: &'a SparkVersion,
    probe: &'a dyn Probe,
    role: Role,
    set: BTreeMap<OsString, OsString>,
    warnings: Vec<String>,
    /// `$JAVA_HOME` as the script sees it after its detection step (may stay empty).
    java_home: OsString,
}

impl Planner<'_> {
    /// A variable as the command will see it: our changes first, then the environment.
    fn var(&self, name: &str) -> &OsStr {
        self.set
            .get(OsStr::new(name))
            .map(OsString::as_os_str)
            .unwrap_or_else(|| self.env.value(name))
    }

    fn require(&self, vars: &[&'static str]) -> Result<(), PlanError> {
        let missing: Vec<&'static str> = vars
            .iter()
            .copied()
            .filter(|v| self.env.non_empty(v).is_none())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(PlanError::MissingVariables {
                role: self.role.name(),
                vars: missing,
            })
        }
    }

    /// The environment work upstream does before its `case`, in upstream's order.
    fn common_setup(&mut self) -> Result<(), PlanError> {
        let version = self.version;
        // 2.4 passes non-Spark commands through before doing anything else.
        let spark_role = self.role != Role::PassThrough;

        if version.detects_java_home() && self.env.non_empty("JAVA_HOME").is_none() {
            // Upstream assigns JAVA_HOME without `export`: the new value reaches the
            // child only when JAVA_HOME was already in the environment (set but empty).
            if let Some(home) = self.probe.java_home(self.env) {
                if self.env.is_set("JAVA_HOME") {
                    self.set.insert("JAVA_HOME".into(), home.clone());
                }
                self.java_home = home;
            }
        }

        if version.is_2_4() && spark_role {
            if let Some(files) = self.env.non_empty("PYSPARK_FILES") {
                // Upstream appends to PYTHONPATH with a leading ':' even when PYTHONPATH
                // is unset (and then never exports it); we set it whenever there are files.
                let value = match self.env.non_empty("PYTHONPATH") {
                    Some(path) => join(&[path, OsStr::new(":"), files]),
                    None => files.to_os_string(),
                };
                self.set.insert("PYTHONPATH".into(), value);
            }
        }

        if version.honours_pyspark_major_python_version() && (spark_role || !version.is_2_4()) {
            let major = self.env.value("PYSPARK_MAJOR_PYTHON_VERSION");
            let python = match major.as_bytes() {
                b"2" => Some("python"),
                b"3" => Some("python3"),
                _ => None,
            };
            if let Some(python) = python {
                let reported = self.probe.python_version(python, self.env).ok_or_else(|| {
                    PlanError::PythonNotFound {
                        major: major.to_string_lossy().into_owned(),
                        python,
                    }
                })?;
                // `python -V | cut -c 8-`: drop the "Python " prefix.
                let number = reported.get(7..).unwrap_or("").to_string();
                self.set.insert("PYTHON_VERSION".into(), number.into());
                self.set.insert("PYSPARK_PYTHON".into(), python.into());
                self.set
                    .insert("PYSPARK_DRIVER_PYTHON".into(), python.into());
            }
        }

        if version.has_dist_classpath() && self.env.non_empty("SPARK_DIST_CLASSPATH").is_none() {
            if let Some(hadoop_home) = self.env.non_empty("HADOOP_HOME") {
                let value = match self.probe.hadoop_classpath(hadoop_home, self.env) {
                    Ok(classpath) => classpath,
                    Err(why) => {
                        self.warnings.push(format!(
                            "HADOOP_HOME is set but `hadoop classpath` failed ({why}); continuing with an empty SPARK_DIST_CLASSPATH"
                        ));
                        OsString::new()
                    }
                };
                self.set.insert("SPARK_DIST_CLASSPATH".into(), value);
            }
        }

        for name in javaopts::ignored_names(self.env) {
            if matches!(self.role, Role::Executor)
                || (self.role == Role::Driver && version.is_2_3())
            {
                self.warnings.push(format!(
                    "ignoring {name}: Java options are read only from SPARK_JAVA_OPT_<number>"
                ));
            }
        }
        Ok(())
    }
}

impl Planner<'_> {
    /// `${JAVA_HOME}/bin/java`, refusing an empty JAVA_HOME where upstream would have
    /// detected one (3.3+): there `/bin/java` would only be a confusing exec failure.
    fn java(&self) -> Result<OsString, PlanError> {
        if self.java_home.is_empty() && self.version.detects_java_home() {
            return Err(PlanError::JavaNotFound {
                role: self.role.name(),
            });
        }
        Ok(join(&[&self.java_home, OsStr::new("/bin/java")]))
    }

    /// The executor (and 2.3 driver) `-cp`, with upstream's exact string algebra: empty
    /// entries (a leading ':', '::') are kept because they mean "the cwd" to the JVM.
    fn classpath(&self) -> OsString {
        let env = self.env;
        let version = self.version;
        let colon = OsStr::new(":");
        let mut cp = join(&[
            env.value("SPARK_CLASSPATH"),
            colon,
            spark_home(env),
            OsStr::new("/jars/*"),
        ]);
        if version.is_2_3() {
            if let Some(mounted) = env.non_empty("SPARK_MOUNTED_CLASSPATH") {
                cp = join(&[&cp, colon, mounted]);
            }
        }
        if version.has_extra_classpath() {
            if let Some(extra) = env.non_empty("SPARK_EXTRA_CLASSPATH") {
                cp = join(&[&cp, colon, extra]);
            }
        }
        if version.has_hadoop_conf_dir_prefix() {
            if let Some(conf) = env.get("HADOOP_CONF_DIR") {
                cp = join(&[conf, colon, &cp]);
            }
        }
        if version.has_conf_dir_prefix() {
            if let Some(conf) = env.get("SPARK_CONF_DIR") {
                cp = join(&[conf, colon, &cp]);
            } else if let Some(home) = env.get("SPARK_HOME") {
                cp = join(&[home, OsStr::new("/conf"), colon, &cp]);
            }
        }
        if version.has_pwd_on_classpath() {
            cp = join(&[&cp, colon, &self.probe.cwd()]);
        }
        cp
    }

    fn executor(&self) -> Result<Vec<OsString>, PlanError> {
        let version = self.version;
        let mut required = vec![
            "SPARK_DRIVER_URL",
            "SPARK_EXECUTOR_ID",
            "SPARK_EXECUTOR_CORES",
            "SPARK_APPLICATION_ID",
            "SPARK_EXECUTOR_POD_IP",
            "SPARK_EXECUTOR_MEMORY",
        ];
        if version.has_resource_profile_id() {
            required.push("SPARK_RESOURCE_PROFILE_ID");
        }
        if version.has_pod_name() {
            required.push("SPARK_EXECUTOR_POD_NAME");
        }
        self.require(&required)?;

        let memory = self.env.value("SPARK_EXECUTOR_MEMORY");
        let mut cp = self.classpath();
        if version.has_dist_classpath() {
            cp = join(&[&cp, OsStr::new(":"), self.var("SPARK_DIST_CLASSPATH")]);
        }
        let mut argv = vec![self.java()?];
        argv.extend(javaopts::collect(self.env));
        argv.push(join(&[OsStr::new("-Xms"), memory]));
        argv.push(join(&[OsStr::new("-Xmx"), memory]));
        argv.push("-cp".into());
        argv.push(cp);
        argv.push(version.executor_main_class().into());
        let mut flag = |flag: &str, var: &str| {
            argv.push(flag.into());
            argv.push(self.env.value(var).to_os_string());
        };
        flag("--driver-url", "SPARK_DRIVER_URL");
        flag("--executor-id", "SPARK_EXECUTOR_ID");
        flag("--cores", "SPARK_EXECUTOR_CORES");
        flag("--app-id", "SPARK_APPLICATION_ID");
        flag("--hostname", "SPARK_EXECUTOR_POD_IP");
        if version.has_resource_profile_id() {
            flag("--resourceProfileId", "SPARK_RESOURCE_PROFILE_ID");
        }
        if version.has_pod_name() {
            flag("--podName", "SPARK_EXECUTOR_POD_NAME");
        }
        Ok(argv)
    }

    /// Spark 2.3's driver: java run directly, class and arguments from the environment.
    /// Container arguments after `driver` are ignored, as upstream did.
    fn driver_2_3(&mut self, rest: &[OsString]) -> Result<Vec<OsString>, PlanError> {
        self.require(&[
            "SPARK_DRIVER_BIND_ADDRESS",
            "SPARK_DRIVER_MEMORY",
            "SPARK_DRIVER_CLASS",
        ])?;
        if !rest.is_empty() {
            self.warnings.push(format!(
                "Spark {} drivers take their class and arguments from SPARK_DRIVER_CLASS/SPARK_DRIVER_ARGS; ignoring {} container argument(s)",
                self.version,
                rest.len()
            ));
        }
        let memory = self.env.value("SPARK_DRIVER_MEMORY");
        let mut argv = vec![self.java()?];
        argv.extend(javaopts::collect(self.env));
        argv.push("-cp".into());
        argv.push(self.classpath());
        argv.push(join(&[OsStr::new("-Xms"), memory]));
        argv.push(join(&[OsStr::new("-Xmx"), memory]));
        argv.push(join(&[
            OsStr::new("-Dspark.driver.bindAddress="),
            self.env.value("SPARK_DRIVER_BIND_ADDRESS"),
        ]));
        argv.extend(split_ifs(self.env.value("SPARK_DRIVER_CLASS")));
        argv.extend(split_ifs(self.env.value("SPARK_DRIVER_ARGS")));
        Ok(argv)
    }

    /// 2.4+: `spark-submit` in client mode inside the driver pod.
    fn driver(&self, rest: &[OsString]) -> Result<Vec<OsString>, PlanError> {
        let mut required = vec!["SPARK_DRIVER_BIND_ADDRESS"];
        match self.role {
            Role::DriverPy => required.push("PYSPARK_PRIMARY"),
            Role::DriverR => required.push("R_PRIMARY"),
            _ => {}
        }
        self.require(&required)?;
        let address = self.env.value("SPARK_DRIVER_BIND_ADDRESS");
        let mut argv = vec![
            join(&[spark_home(self.env), OsStr::new("/bin/spark-submit")]),
            "--conf".into(),
            join(&[OsStr::new("spark.driver.bindAddress="), address]),
        ];
        if self.version.has_driver_pod_ip_conf() {
            argv.push("--conf".into());
            argv.push(join(&[
                OsStr::new("spark.executorEnv.SPARK_DRIVER_POD_IP="),
                address,
            ]));
        }
        argv.push("--deploy-mode".into());
        argv.push("client".into());
        argv.extend_from_slice(rest);
        // The primary file is one path (kept whole); the app arguments were joined
        // with spaces by Spark, so they are split the way upstream's shell did.
        match self.role {
            Role::DriverPy => {
                argv.push(self.env.value("PYSPARK_PRIMARY").to_os_string());
                argv.extend(split_ifs(self.env.value("PYSPARK_APP_ARGS")));
            }
            Role::DriverR => {
                argv.push(self.env.value("R_PRIMARY").to_os_string());
                argv.extend(split_ifs(self.env.value("R_APP_ARGS")));
            }
            _ => {}
        }
        Ok(argv)
    }

    /// A standalone worker: the master URL is a `spark://` argument or `SPARK_MASTER_URL`.
    fn worker(&self, rest: &[OsString]) -> Result<Vec<OsString>, PlanError> {
        let mut argv = spark_class(self.env, "org.apache.spark.deploy.worker.Worker", rest);
        let has_master = rest.iter().any(|a| a.as_bytes().starts_with(b"spark://"));
        if !has_master {
            self.require(&["SPARK_MASTER_URL"])?;
            argv.push(self.env.value("SPARK_MASTER_URL").to_os_string());
        }
        Ok(argv)
    }
}

/// The Spark Connect server's main class (every version's `start-connect-server.sh`).
pub const CONNECT_SERVER_CLASS: &str = "org.apache.spark.sql.connect.service.SparkConnectServer";
/// The application name `start-connect-server.sh` gives the server.
pub const CONNECT_SERVER_NAME: &str = "Spark Connect server";

impl Planner<'_> {
    /// The command a `start-*.sh` script's `spark-daemon.sh` runs in the foreground
    /// (`SPARK_NO_DAEMONIZE`): the same as the role of that daemon.
    fn daemon(&mut self, daemon: Program, rest: &[OsString]) -> Result<Vec<OsString>, PlanError> {
        match daemon {
            Program::StartConnectServer if !self.version.has_spark_connect() => {
                return Err(PlanError::ConnectUnsupported {
                    version: self.version.to_string(),
                })
            }
            Program::StartConnectServer => return self.connect(rest),
            _ => {}
        }
        // spark-daemon.sh exports it for every daemon: the launcher echoes the command.
        self.set
            .insert("SPARK_PRINT_LAUNCH_COMMAND".into(), "1".into());
        let or = |name: &str, default: &str| match self.env.non_empty(name) {
            Some(value) => value.to_os_string(),
            None => OsString::from(default),
        };
        let mut args: Vec<OsString> = Vec::new();
        let class = match daemon {
            Program::StartMaster => {
                let host = match self.env.non_empty("SPARK_MASTER_HOST") {
                    Some(host) => host.to_os_string(),
                    None => self.probe.fqdn(),
                };
                args.extend(["--host".into(), host, "--port".into()]);
                args.push(or("SPARK_MASTER_PORT", "7077"));
                args.push("--webui-port".into());
                args.push(or("SPARK_MASTER_WEBUI_PORT", "8080"));
                "org.apache.spark.deploy.master.Master"
            }
            Program::StartWorker => {
                // The first argument is the master; the script puts its options before it.
                let Some(master) = rest.first() else {
                    return Err(PlanError::ScriptUsage {
                        usage: "Usage: ./sbin/start-worker.sh <master> [options]",
                        hint: "give the master's URL first, e.g. spark://spark-master:7077",
                    });
                };
                args.extend(["--webui-port".into(), or("SPARK_WORKER_WEBUI_PORT", "8081")]);
                if let Some(port) = self.env.non_empty("SPARK_WORKER_PORT") {
                    args.extend(["--port".into(), port.to_os_string()]);
                }
                args.push(master.clone());
                "org.apache.spark.deploy.worker.Worker"
            }
            // `Script` runs on its own argv and never comes here; history is the rest.
            _ => "org.apache.spark.deploy.history.HistoryServer",
        };
        let skip = usize::from(daemon == Program::StartWorker);
        args.extend_from_slice(&rest[skip..]);
        Ok(spark_class(self.env, class, &args))
    }

    /// `sbin/start-connect-server.sh ARGS` as `SPARK_NO_DAEMONIZE` runs it: the script
    /// hands `submit CLASS 1 --name "Spark Connect server" ARGS` to `spark-daemon.sh`,
    /// whose foreground `submit` is `bin/spark-submit --class CLASS …`. The port is
    /// Spark's: `spark.connect.grpc.binding.port`, 15002 unless `--conf` sets it.
    fn connect(&mut self, rest: &[OsString]) -> Result<Vec<OsString>, PlanError> {
        let mut rest = rest;
        if self.version.connect_script_has_wait_and_mode() {
            // `--wait` asks for the foreground, which is how the role always runs.
            if rest.first().is_some_and(|a| a == "--wait") {
                rest = &rest[1..];
            }
            self.set.insert("SPARK_CONNECT_MODE".into(), "0".into());
        }
        // spark-daemon.sh exports it for every daemon: the launcher echoes the command.
        self.set
            .insert("SPARK_PRINT_LAUNCH_COMMAND".into(), "1".into());
        self.check_connect_server(rest)?;
        let mut argv = vec![
            join(&[spark_home(self.env), OsStr::new("/bin/spark-submit")]),
            "--class".into(),
            CONNECT_SERVER_CLASS.into(),
            "--name".into(),
            CONNECT_SERVER_NAME.into(),
        ];
        argv.extend_from_slice(rest);
        Ok(argv)
    }

    /// 3.4 and 3.5 ship no server jar: without one in `jars/` or named by the arguments
    /// spark-submit would fail with a ClassNotFoundException after a JVM start; we
    /// refuse first, naming the coordinate. A properties file may name it where we do
    /// not look, so then it is a warning.
    fn check_connect_server(&mut self, rest: &[OsString]) -> Result<(), PlanError> {
        let jars_dir = Path::new(spark_home(self.env)).join("jars");
        let jars = self.probe.list_dir(&jars_dir);
        if jars.iter().any(|name| is_connect_server_jar(name)) || names_connect_server(rest) {
            return Ok(());
        }
        let scala = jars
            .iter()
            .find_map(|name| scala_of_core_jar(name))
            .or_else(|| {
                self.env
                    .non_empty("SPARK_SCALA_VERSION")
                    .map(|s| s.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "2.12".to_string());
        let coordinate = format!("org.apache.spark:spark-connect_{scala}:{}", self.version);
        if self.version.ships_connect_server() {
            if !jars.is_empty() {
                self.warnings.push(format!(
                    "no spark-connect_*.jar in {}: the Spark Connect server will not start\nhint: use a distribution that ships it, or add --packages {coordinate}",
                    jars_dir.display()
                ));
            }
            return Ok(());
        }
        let conf_dir = match self.env.non_empty("SPARK_CONF_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => Path::new(spark_home(self.env)).join("conf"),
        };
        let defaults = conf_dir.join("spark-defaults.conf");
        let properties_file = rest.iter().any(|a| {
            let a = a.as_bytes();
            a == b"--properties-file" || a.starts_with(b"--properties-file=")
        });
        if properties_file || self.probe.path_kind(&defaults) == PathKind::File {
            self.warnings.push(format!(
                "Spark {} does not ship the Spark Connect server and the arguments do not name it; unless a properties file sets spark.jars.packages to it, the server will not start\nhint: add --packages {coordinate}",
                self.version
            ));
            return Ok(());
        }
        Err(PlanError::ConnectServerMissing {
            version: self.version.to_string(),
            jars: jars_dir.display().to_string(),
            coordinate,
        })
    }
}

/// `spark-connect_2.12-3.5.3.jar` (not `spark-connect-common_…` or the client's).
fn is_connect_server_jar(name: &OsStr) -> bool {
    let name = name.as_bytes();
    name.starts_with(b"spark-connect_") && name.ends_with(b".jar")
}

/// `spark-core_2.13-3.5.3.jar` → `2.13`.
fn scala_of_core_jar(name: &OsStr) -> Option<String> {
    let rest = name.to_str()?.strip_prefix("spark-core_")?;
    let (scala, _) = rest.split_once('-')?;
    Some(scala.to_string())
}

/// Whether spark-submit options in `args` add the Connect server: `--packages`,
/// `--jars`, or `--conf spark.jars.packages=…`/`spark.jars=…`, each as `OPT VALUE` or
/// `OPT=VALUE`. Values are comma-separated lists, as spark-submit reads them.
fn names_connect_server(args: &[OsString]) -> bool {
    let package = |item: &str| item.trim().starts_with("org.apache.spark:spark-connect_");
    let jar = |item: &str| {
        let file = item.trim().rsplit('/').next().unwrap_or("");
        is_connect_server_jar(OsStr::new(file))
    };
    let mut words = args.iter().map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        let (option, inline) = match word.split_once('=') {
            Some((option, value)) if option.starts_with("--") => {
                (option.to_string(), Some(value.to_string()))
            }
            _ => (word.to_string(), None),
        };
        if !matches!(option.as_str(), "--packages" | "--jars" | "--conf" | "-c") {
            continue;
        }
        let Some(value) = inline.or_else(|| words.next().map(|w| w.into_owned())) else {
            break;
        };
        let (kind, list) = match option.as_str() {
            "--packages" => ("packages", value.as_str()),
            "--jars" => ("jars", value.as_str()),
            _ => match value.split_once('=') {
                Some(("spark.jars.packages", list)) => ("packages", list),
                Some(("spark.jars", list)) => ("jars", list),
                _ => continue,
            },
        };
        let found = if kind == "packages" {
            list.split(',').any(package)
        } else {
            list.split(',').any(jar)
        };
        if found {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A machine with nothing on it: no java on PATH, no hadoop, no python.
    struct Bare;

    impl Probe for Bare {
        fn java_home(&self, _env: &Env) -> Option<OsString> {
            None
        }
        fn hadoop_classpath(&self, home: &OsStr, _env: &Env) -> Result<OsString, String> {
            if home == "/opt/hadoop" {
                Ok("/opt/hadoop/share/*".into())
            } else {
                Err("no such file".into())
            }
        }
        fn python_version(&self, _python: &str, _env: &Env) -> Option<String> {
            None
        }
        fn cwd(&self) -> OsString {
            "/opt/spark/work-dir".into()
        }
        fn path_kind(&self, path: &std::path::Path) -> crate::probe::PathKind {
            // A Spark distribution under /opt/spark and nothing else.
            if path == std::path::Path::new("/opt/spark/jars") {
                crate::probe::PathKind::Dir
            } else {
                crate::probe::PathKind::Missing
            }
        }
        fn find_program(&self, _name: &str, _env: &Env) -> Option<PathBuf> {
            None
        }
        fn list_dir(&self, _dir: &Path) -> Vec<OsString> {
            Vec::new()
        }
        fn fqdn(&self) -> OsString {
            "spark-master-0.spark-master.default.svc.cluster.local".into()
        }
    }

    /// `Bare` with these names in `/opt/spark/jars`, these files elsewhere, and
    /// these programs on PATH (`(name, where)`).
    #[derive(Default)]
    struct Dist {
        jars: &'static [&'static str],
        files: &'static [&'static str],
        programs: &'static [(&'static str, &'static str)],
    }

    impl Probe for Dist {
        fn java_home(&self, env: &Env) -> Option<OsString> {
            Bare.java_home(env)
        }
        fn hadoop_classpath(&self, home: &OsStr, env: &Env) -> Result<OsString, String> {
            Bare.hadoop_classpath(home, env)
        }
        fn python_version(&self, python: &str, env: &Env) -> Option<String> {
            Bare.python_version(python, env)
        }
        fn cwd(&self) -> OsString {
            Bare.cwd()
        }
        fn path_kind(&self, path: &Path) -> crate::probe::PathKind {
            if self.files.iter().any(|f| Path::new(f) == path) {
                crate::probe::PathKind::File
            } else {
                Bare.path_kind(path)
            }
        }
        fn fqdn(&self) -> OsString {
            Bare.fqdn()
        }
        fn find_program(&self, name: &str, _env: &Env) -> Option<PathBuf> {
            self.programs
                .iter()
                .find(|(program, _)| *program == name)
                .map(|(_, path)| PathBuf::from(path))
        }
        fn list_dir(&self, dir: &Path) -> Vec<OsString> {
            if dir == Path::new("/opt/spark/jars") {
                self.jars.iter().map(OsString::from).collect()
            } else {
                Vec::new()
            }
        }
    }

    fn executor_env(extra: &[(&str, &str)]) -> Env {
        let mut env: Env = [
            ("SPARK_HOME", "/opt/spark"),
            ("JAVA_HOME", "/jvm"),
            (
                "SPARK_DRIVER_URL",
                "spark://CoarseGrainedScheduler@driver:7078",
            ),
            ("SPARK_EXECUTOR_ID", "3"),
            ("SPARK_EXECUTOR_CORES", "2"),
            ("SPARK_EXECUTOR_MEMORY", "2g"),
            ("SPARK_APPLICATION_ID", "spark-app"),
            ("SPARK_EXECUTOR_POD_IP", "10.0.0.9"),
            ("SPARK_RESOURCE_PROFILE_ID", "0"),
            ("SPARK_EXECUTOR_POD_NAME", "app-exec-3"),
            ("SPARK_CONF_DIR", "/opt/spark/conf"),
        ]
        .into_iter()
        .collect();
        for (k, v) in extra {
            env.set(*k, *v);
        }
        env
    }

    fn run(args: &[&str], env: &Env, version: &str) -> Result<Plan, PlanError> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let version = crate::version::parse(version).expect("valid version");
        plan(&args, env, &version, &Bare)
    }

    fn run_on(
        args: &[&str],
        env: &Env,
        version: &str,
        probe: &dyn Probe,
    ) -> Result<Plan, PlanError> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let version = crate::version::parse(version).expect("valid version");
        plan(&args, env, &version, probe)
    }

    fn argv(plan: &Plan) -> Vec<String> {
        plan.argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn tail_after_main(plan: &Plan) -> Vec<String> {
        let all = argv(plan);
        let main = all
            .iter()
            .position(|a| a.ends_with("ExecutorBackend"))
            .expect("executor main class");
        all[main..].to_vec()
    }

    #[test]
    fn executor_flags_follow_the_version() {
        let env = executor_env(&[]);
        let common = [
            "--driver-url",
            "spark://CoarseGrainedScheduler@driver:7078",
            "--executor-id",
            "3",
            "--cores",
            "2",
            "--app-id",
            "spark-app",
            "--hostname",
            "10.0.0.9",
        ];
        let coarse = "org.apache.spark.executor.CoarseGrainedExecutorBackend";
        let k8s = "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend";

        let mut want: Vec<&str> = vec![coarse];
        want.extend(common);
        assert_eq!(
            tail_after_main(&run(&["executor"], &env, "3.0.3").unwrap()),
            want
        );

        want.extend(["--resourceProfileId", "0"]);
        assert_eq!(
            tail_after_main(&run(&["executor"], &env, "3.2.4").unwrap()),
            want
        );

        let mut want: Vec<&str> = vec![k8s];
        want.extend(common);
        want.extend(["--resourceProfileId", "0", "--podName", "app-exec-3"]);
        for version in ["3.3.0", "3.4.4", "3.5.3", "4.0.1", "4.1.0-preview1"] {
            assert_eq!(
                tail_after_main(&run(&["executor"], &env, version).unwrap()),
                want,
                "{version}"
            );
        }
    }

    #[test]
    fn executor_classpath_by_version() {
        let env = executor_env(&[("SPARK_EXTRA_CLASSPATH", "/extra/*")]);
        let cp = |version: &str| {
            let plan = run(&["executor"], &env, version).unwrap();
            let all = argv(&plan);
            let i = all.iter().position(|a| a == "-cp").expect("-cp");
            all[i + 1].clone()
        };
        assert_eq!(cp("2.4.7"), ":/opt/spark/jars/*:/extra/*");
        assert_eq!(cp("3.0.3"), ":/opt/spark/jars/*:/extra/*:");
        assert_eq!(cp("3.4.4"), "/opt/spark/conf::/opt/spark/jars/*:/extra/*:");
        assert_eq!(
            cp("3.5.3"),
            "/opt/spark/conf::/opt/spark/jars/*:/extra/*:/opt/spark/work-dir:"
        );
    }

    #[test]
    fn hadoop_home_fills_the_dist_classpath_from_3_0_and_2_4_8() {
        let env = executor_env(&[("HADOOP_HOME", "/opt/hadoop")]);
        for (version, want) in [("2.4.7", None), ("2.4.8", Some("/opt/hadoop/share/*"))] {
            let plan = run(&["executor"], &env, version).unwrap();
            assert_eq!(
                plan.env.get(OsStr::new("SPARK_DIST_CLASSPATH")),
                want.map(OsString::from).as_ref(),
                "{version}"
            );
        }
        let plan = run(&["executor"], &env, "3.5.3").unwrap();
        assert!(argv(&plan).contains(
            &"/opt/spark/conf::/opt/spark/jars/*:/opt/spark/work-dir:/opt/hadoop/share/*"
                .to_string()
        ));

        let broken = executor_env(&[("HADOOP_HOME", "/nowhere")]);
        let plan = run(&["executor"], &broken, "3.5.3").unwrap();
        assert_eq!(
            plan.env.get(OsStr::new("SPARK_DIST_CLASSPATH")),
            Some(&OsString::new())
        );
        assert!(plan.warnings[0].contains("hadoop classpath"));
    }

    #[test]
    fn driver_submits_in_client_mode() {
        let env: Env = [
            ("SPARK_HOME", "/opt/spark"),
            ("SPARK_DRIVER_BIND_ADDRESS", "10.1.1.1"),
        ]
        .into_iter()
        .collect();
        let args = [
            "driver",
            "--properties-file",
            "/opt/spark/conf/spark.properties",
            "--class",
            "Pi",
            "spark-internal",
            "10",
        ];
        let mut want = vec![
            "/opt/spark/bin/spark-submit",
            "--conf",
            "spark.driver.bindAddress=10.1.1.1",
        ];
        let tail = [
            "--deploy-mode",
            "client",
            "--properties-file",
            "/opt/spark/conf/spark.properties",
            "--class",
            "Pi",
            "spark-internal",
            "10",
        ];
        let mut older = want.clone();
        older.extend(tail);
        assert_eq!(argv(&run(&args, &env, "3.4.4").unwrap()), older);
        want.extend(["--conf", "spark.executorEnv.SPARK_DRIVER_POD_IP=10.1.1.1"]);
        want.extend(tail);
        assert_eq!(argv(&run(&args, &env, "4.0.1").unwrap()), want);
        let plan = run(&args, &env, "4.0.1").unwrap();
        assert!(plan.drop_privileges && plan.supervise && plan.notice.is_none());
    }

    #[test]
    fn missing_variables_are_named_with_the_role() {
        let env: Env = [
            ("SPARK_HOME", "/opt/spark"),
            ("JAVA_HOME", "/jvm"),
            ("SPARK_DRIVER_URL", ""),
        ]
        .into_iter()
        .collect();
        let err = run(&["executor"], &env, "3.5.3").unwrap_err();
        assert_eq!(err.exit_code(), 64);
        let message = err.to_string();
        assert!(
            message.starts_with("role 'executor' needs SPARK_DRIVER_URL, "),
            "{message}"
        );
        assert!(message.contains("SPARK_EXECUTOR_POD_NAME"));

        let err = run(&["driver"], &env, "3.5.3").unwrap_err();
        assert_eq!(
            err,
            PlanError::MissingVariables {
                role: "driver",
                vars: vec!["SPARK_DRIVER_BIND_ADDRESS"]
            }
        );
    }

    #[test]
    fn java_home_detection_and_refusal() {
        let env = executor_env(&[("JAVA_HOME", "")]);
        // 3.3+ would have detected JAVA_HOME; with no java on PATH we refuse by name.
        let err = run(&["executor"], &env, "3.5.3").unwrap_err();
        assert_eq!(err, PlanError::JavaNotFound { role: "executor" });
        assert_eq!(err.exit_code(), 127);
        // Older versions ran `${JAVA_HOME}/bin/java` as it was.
        assert_eq!(
            argv(&run(&["executor"], &env, "3.2.4").unwrap())[0],
            "/bin/java"
        );
    }

    #[test]
    fn standalone_roles() {
        let env: Env = [("SPARK_HOME", "/opt/spark")].into_iter().collect();
        assert_eq!(
            argv(&run(&["master", "--host", "0.0.0.0"], &env, "3.5.3").unwrap()),
            [
                "/opt/spark/bin/spark-class",
                "org.apache.spark.deploy.master.Master",
                "--host",
                "0.0.0.0"
            ]
        );
        assert_eq!(
            argv(&run(&["worker", "spark://m:7077"], &env, "3.5.3").unwrap()),
            [
                "/opt/spark/bin/spark-class",
                "org.apache.spark.deploy.worker.Worker",
                "spark://m:7077"
            ]
        );
        assert_eq!(
            run(&["worker"], &env, "3.5.3").unwrap_err(),
            PlanError::MissingVariables {
                role: "worker",
                vars: vec!["SPARK_MASTER_URL"]
            }
        );
        let mut with_url = env.clone();
        with_url.set("SPARK_MASTER_URL", "spark://m:7077");
        assert_eq!(
            argv(&run(&["worker", "--cores", "2"], &with_url, "2.3.0").unwrap()),
            [
                "/opt/spark/bin/spark-class",
                "org.apache.spark.deploy.worker.Worker",
                "--cores",
                "2",
                "spark://m:7077"
            ]
        );
        assert_eq!(
            argv(&run(&["history"], &env, "4.0.1").unwrap()),
            [
                "/opt/spark/bin/spark-class",
                "org.apache.spark.deploy.history.HistoryServer"
            ]
        );
    }

    #[test]
    fn roles_and_refusals_per_version() {
        let env: Env = [("SPARK_HOME", "/opt/spark")].into_iter().collect();
        assert_eq!(
            run(&[], &env, "2.3.0")
                .unwrap_err()
                .to_string()
                .lines()
                .next(),
            Some("No command to execute has been provided.")
        );
        assert!(
            matches!(run(&[], &env, "2.4.4").unwrap_err(), PlanError::UnknownCommand { ref command, .. } if command.is_empty())
        );
        assert!(matches!(
            run(&[], &env, "3.5.3").unwrap_err(),
            PlanError::NoCommand { .. }
        ));
        assert_eq!(
            run(&[""], &env, "3.5.3").unwrap_err(),
            PlanError::EmptyCommand
        );
        assert!(matches!(
            run(&["bash"], &env, "2.3.4").unwrap_err(),
            PlanError::UnknownCommand { .. }
        ));
        let pass = run(&["bash", "-c", "echo hi"], &env, "3.5.3").unwrap();
        assert_eq!(pass.role, Role::PassThrough);
        assert_eq!(argv(&pass), ["bash", "-c", "echo hi"]);
        assert_eq!(pass.notice, Some(PASS_THROUGH_NOTICE));
        assert!(!pass.drop_privileges);
        assert_eq!(
            argv(
                &run(
                    &["init", "/etc/spark-init/spark-init.properties"],
                    &env,
                    "2.3.2"
                )
                .unwrap()
            ),
            [
                "/opt/spark/bin/spark-class",
                "org.apache.spark.deploy.k8s.SparkPodInitContainer",
                "/etc/spark-init/spark-init.properties"
            ]
        );
        assert_eq!(
            run(&["init"], &env, "3.0.3").unwrap().role,
            Role::PassThrough
        );
        assert_eq!(
            run(&["driver-py"], &env, "3.1.3").unwrap().role,
            Role::PassThrough
        );
    }

    #[test]
    fn only_the_scripts_roles_get_a_launcher_step() {
        let env = executor_env(&[
            ("SPARK_DRIVER_BIND_ADDRESS", "10.1.1.1"),
            ("SPARK_DRIVER_MEMORY", "1g"),
            ("SPARK_DRIVER_CLASS", "Pi"),
        ]);
        let launcher_tail = |args: &[&str], version: &str| {
            let plan = run(args, &env, version).unwrap();
            plan.launcher.map(|l| {
                let main = l.argv.iter().position(|a| a == launcher::LAUNCHER_MAIN);
                l.argv[main.expect("launcher main") + 1..]
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(launcher_tail(&["executor"], "3.5.3"), None);
        assert_eq!(launcher_tail(&["ls", "-l"], "3.5.3"), None);
        // 2.3's driver runs java itself.
        assert_eq!(launcher_tail(&["driver"], "2.3.4"), None);
        let submit = launcher_tail(&["driver", "--class", "Pi", "x.jar"], "3.5.3").unwrap();
        assert_eq!(submit[0], launcher::SUBMIT_CLASS);
        assert_eq!(submit[submit.len() - 3..], ["--class", "Pi", "x.jar"]);
        assert_eq!(
            launcher_tail(&["history"], "4.0.1").unwrap(),
            ["org.apache.spark.deploy.history.HistoryServer"]
        );
        assert_eq!(
            launcher_tail(&["init", "/etc/spark-init/p"], "2.3.4").unwrap(),
            [
                "org.apache.spark.deploy.k8s.SparkPodInitContainer",
                "/etc/spark-init/p"
            ]
        );
    }

    #[test]
    fn gecos_follows_spark_user_name_from_3_0() {
        let env: Env = [("SPARK_HOME", "/opt/spark"), ("SPARK_USER_NAME", "alice")]
            .into_iter()
            .collect();
        assert_eq!(
            run(&["bash"], &env, "2.4.7").unwrap().passwd_gecos,
            "anonymous uid"
        );
        assert_eq!(run(&["bash"], &env, "3.0.3").unwrap().passwd_gecos, "alice");
    }

    const SERVER_35: &[&str] = &["spark-core_2.12-3.5.3.jar", "spark-connect_2.12-3.5.3.jar"];
    const PLAIN_35: &[&str] = &["spark-core_2.12-3.5.3.jar", "spark-sql_2.12-3.5.3.jar"];
    const PLAIN_213: &[&str] = &["spark-core_2.13-3.5.3.jar"];
    const PLAIN_40: &[&str] = &["spark-core_2.13-4.0.1.jar", "spark-sql_2.13-4.0.1.jar"];
    const SERVER_40: &[&str] = &["spark-core_2.13-4.0.1.jar", "spark-connect_2.13-4.0.1.jar"];

    fn connect_head() -> Vec<String> {
        [
            "/opt/spark/bin/spark-submit",
            "--class",
            CONNECT_SERVER_CLASS,
            "--name",
            "Spark Connect server",
        ]
        .map(String::from)
        .to_vec()
    }

    fn spark_env() -> Env {
        [("SPARK_HOME", "/opt/spark"), ("JAVA_HOME", "/jvm")]
            .into_iter()
            .collect()
    }

    #[test]
    fn connect_runs_the_server_through_spark_submit_per_version() {
        let env = spark_env();
        let server = |jars| Dist {
            jars,
            ..Dist::default()
        };
        let args = ["connect", "--conf", "spark.connect.grpc.binding.port=15010"];
        for (version, jars) in [
            ("4.0.1", PLAIN_40),
            ("4.0.1", SERVER_40),
            ("4.1.0", &[][..]),
        ] {
            let plan = run_on(&args, &env, version, &server(jars)).unwrap();
            let mut want = connect_head();
            want.extend(["--conf", "spark.connect.grpc.binding.port=15010"].map(String::from));
            assert_eq!(argv(&plan), want, "{version}");
            assert_eq!(plan.role, Role::Connect);
            assert!(plan.drop_privileges && plan.supervise && plan.notice.is_none());
            let set = |name: &str| plan.env.get(OsStr::new(name)).cloned();
            assert_eq!(set("SPARK_CONNECT_MODE"), Some("0".into()), "{version}");
            assert_eq!(set("SPARK_PRINT_LAUNCH_COMMAND"), Some("1".into()));
            let launcher = plan.launcher.expect("a launcher step");
            let main = launcher
                .argv
                .iter()
                .position(|a| a == launcher::LAUNCHER_MAIN);
            let tail: Vec<String> = launcher.argv[main.expect("launcher main") + 1..]
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            assert_eq!(tail[0], launcher::SUBMIT_CLASS);
            assert_eq!(tail[1..], want[1..]);
        }
        // A 4.x distribution that lost the jar: a warning, Spark's own error at start.
        let plan = run_on(&["connect"], &env, "4.0.1", &server(PLAIN_40)).unwrap();
        assert!(plan.warnings[0].contains("no spark-connect_*.jar in /opt/spark/jars"));
        assert!(plan.warnings[0].contains("org.apache.spark:spark-connect_2.13:4.0.1"));
        assert!(run_on(&["connect"], &env, "4.0.1", &server(SERVER_40))
            .unwrap()
            .warnings
            .is_empty());
        // 3.5 with the jar in jars/ (built with `sparkimg build --packages …`).
        let plan = run_on(&["connect"], &env, "3.5.3", &server(SERVER_35)).unwrap();
        assert_eq!(argv(&plan), connect_head());
        assert_eq!(plan.env.get(OsStr::new("SPARK_CONNECT_MODE")), None);
        assert!(plan.warnings.is_empty());
    }

    #[test]
    fn connect_takes_wait_only_where_the_script_does() {
        let env = spark_env();
        let probe = Dist {
            jars: SERVER_35,
            ..Dist::default()
        };
        let plan = run_on(&["connect", "--wait", "--verbose"], &env, "4.0.1", &probe).unwrap();
        assert_eq!(argv(&plan)[5..], ["--verbose"]);
        // Only the first argument, as the script's `$1` test.
        let plan = run_on(&["connect", "--verbose", "--wait"], &env, "4.0.1", &probe).unwrap();
        assert_eq!(argv(&plan)[5..], ["--verbose", "--wait"]);
        // 3.5's script has no --wait: spark-submit gets it (and says what it thinks).
        let plan = run_on(&["connect", "--wait"], &env, "3.5.3", &probe).unwrap();
        assert_eq!(argv(&plan)[5..], ["--wait"]);
    }

    #[test]
    fn connect_on_3_4_and_3_5_needs_the_server_named() {
        let env = spark_env();
        let plain = Dist {
            jars: PLAIN_35,
            ..Dist::default()
        };
        let named = [
            &[
                "--packages",
                "io.delta:delta-spark_2.12:3.2.0,org.apache.spark:spark-connect_2.12:3.5.3",
            ][..],
            &["--packages=org.apache.spark:spark-connect_2.12:3.5.3"],
            &["--jars", "local:///opt/extra/spark-connect_2.12-3.5.3.jar"],
            &[
                "--conf",
                "spark.jars.packages=org.apache.spark:spark-connect_2.12:3.5.3",
            ],
            &["--conf=spark.jars=/x/spark-connect_2.12-3.5.3.jar"],
            &[
                "-c",
                "spark.jars.packages=org.apache.spark:spark-connect_2.12:3.5.3",
            ],
        ];
        for extra in named {
            let mut args = vec!["connect"];
            args.extend(extra);
            let plan = run_on(&args, &env, "3.5.3", &plain).unwrap();
            assert_eq!(argv(&plan)[5..], *extra, "{extra:?}");
            assert!(plan.warnings.is_empty(), "{extra:?}");
        }
        let not_named = [
            &[][..],
            &[
                "--packages",
                "org.apache.spark:spark-connect-client-jvm_2.12:3.5.3",
            ],
            &["--jars", "/x/spark-connect-common_2.12-3.5.3.jar"],
            &["--conf", "spark.connect.grpc.binding.port=15002"],
            &["--name", "--packages"],
            &["--packages"],
        ];
        for extra in not_named {
            let mut args = vec!["connect"];
            args.extend(extra);
            let err = run_on(&args, &env, "3.5.3", &plain).unwrap_err();
            assert_eq!(
                err,
                PlanError::ConnectServerMissing {
                    version: "3.5.3".into(),
                    jars: "/opt/spark/jars".into(),
                    coordinate: "org.apache.spark:spark-connect_2.12:3.5.3".into(),
                },
                "{extra:?}"
            );
            assert_eq!(err.exit_code(), 64);
        }
        let message = run_on(&["connect"], &env, "3.4.4", &plain)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("Spark 3.4.4 does not ship the Spark Connect server"),
            "{message}"
        );
        assert!(
            message.contains("hint: add `--packages org.apache.spark:spark-connect_2.12:3.4.4`"),
            "{message}"
        );
        // The coordinate follows the distribution's Scala.
        let scala_213 = Dist {
            jars: PLAIN_213,
            ..Dist::default()
        };
        assert!(matches!(
            run_on(&["connect"], &env, "3.5.3", &scala_213).unwrap_err(),
            PlanError::ConnectServerMissing { ref coordinate, .. } if coordinate == "org.apache.spark:spark-connect_2.13:3.5.3"
        ));
        let mut with_scala = env.clone();
        with_scala.set("SPARK_SCALA_VERSION", "2.13");
        assert!(matches!(
            run_on(&["connect"], &with_scala, "3.4.0", &Dist { jars: &[], ..Dist::default() }).unwrap_err(),
            PlanError::ConnectServerMissing { ref coordinate, .. } if coordinate == "org.apache.spark:spark-connect_2.13:3.4.0"
        ));
    }

    #[test]
    fn connect_warns_where_a_properties_file_may_name_the_server() {
        let env = spark_env();
        let defaults = Dist {
            jars: PLAIN_35,
            files: &["/opt/spark/conf/spark-defaults.conf"],
            ..Dist::default()
        };
        let plan = run_on(&["connect"], &env, "3.5.3", &defaults).unwrap();
        assert_eq!(argv(&plan), connect_head());
        assert!(plan.warnings[0]
            .contains("hint: add --packages org.apache.spark:spark-connect_2.12:3.5.3"));
        let mut conf_dir = env.clone();
        conf_dir.set("SPARK_CONF_DIR", "/etc/spark/conf");
        assert!(run_on(&["connect"], &conf_dir, "3.5.3", &defaults).is_err());
        let plain = Dist {
            jars: PLAIN_35,
            ..Dist::default()
        };
        for args in [
            &["connect", "--properties-file", "/etc/connect.conf"][..],
            &["connect", "--properties-file=/etc/connect.conf"],
        ] {
            let plan = run_on(args, &env, "3.5.3", &plain).unwrap();
            assert_eq!(plan.warnings.len(), 1, "{args:?}");
        }
    }

    #[test]
    fn connect_below_3_4_is_refused_by_name() {
        let env = spark_env();
        for version in ["2.3.4", "2.4.8", "3.0.3", "3.3.4"] {
            let err = run(&["connect"], &env, version).unwrap_err();
            assert_eq!(
                err,
                PlanError::ConnectUnsupported {
                    version: version.into()
                }
            );
            assert_eq!(err.exit_code(), 64);
            let message = err.to_string();
            assert!(message.contains(&format!("Spark {version} has no Spark Connect server")));
            assert!(message.contains("hint: build the image for Spark 3.4 or later"));
        }
        // The word names the role only as the first argument.
        let pass = run(&["echo", "connect"], &env, "3.3.4").unwrap();
        assert_eq!(pass.role, Role::PassThrough);
        let no_command = run(&[], &env, "3.5.3").unwrap_err().to_string();
        assert!(no_command.contains("history, connect)"), "{no_command}");
        let no_command = run(&[], &env, "3.3.4").unwrap_err().to_string();
        assert!(!no_command.contains("connect"), "{no_command}");
    }

    /// The launcher step's arguments after `org.apache.spark.launcher.Main`, if any.
    fn launcher_args(plan: &Plan) -> Option<Vec<String>> {
        let launcher = plan.launcher.as_ref()?;
        let main = launcher
            .argv
            .iter()
            .position(|a| a == launcher::LAUNCHER_MAIN)?;
        Some(
            launcher.argv[main + 1..]
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
        )
    }

    const BASH: (&str, &str) = ("bash", "/bin/bash");
    const SUBMIT_ON_PATH: (&str, &str) = ("spark-submit", "/opt/spark/bin/spark-submit");
    const CLASS_ON_PATH: (&str, &str) = ("spark-class", "/opt/spark/bin/spark-class");

    #[test]
    fn pass_through_spark_submit_runs_the_launcher_without_bash() {
        let env = spark_env();
        let shell_free = Dist {
            programs: &[SUBMIT_ON_PATH, CLASS_ON_PATH],
            ..Dist::default()
        };
        let submit = [
            "--master",
            "spark://m:7077",
            "--class",
            "org.apache.spark.examples.SparkPi",
            "/opt/spark/examples/jars/spark-examples.jar",
            "10",
        ];
        let mut want = vec![launcher::SUBMIT_CLASS.to_string()];
        want.extend(submit.map(String::from));
        for program in [
            "/opt/spark/bin/spark-submit",
            "/opt/spark/./bin//spark-submit",
            "spark-submit",
            "../bin/spark-submit",
        ] {
            let mut args = vec![program];
            args.extend(submit);
            let plan = run_on(&args, &env, "3.5.3", &shell_free).unwrap();
            assert_eq!(plan.role, Role::PassThrough, "{program}");
            assert_eq!(argv(&plan)[0], program, "upstream's argv stays as given");
            assert_eq!(plan.notice, Some(PASS_THROUGH_NOTICE));
            assert!(!plan.drop_privileges, "a pass-through keeps its identity");
            assert_eq!(launcher_args(&plan).as_ref(), Some(&want), "{program}");
        }
        let plan = run_on(
            &[
                "spark-class",
                "org.apache.spark.deploy.master.Master",
                "--host",
                "0.0.0.0",
            ],
            &env,
            "4.0.1",
            &shell_free,
        )
        .unwrap();
        assert_eq!(
            launcher_args(&plan).unwrap(),
            ["org.apache.spark.deploy.master.Master", "--host", "0.0.0.0"]
        );
        let plan = run_on(&["/opt/spark/bin/spark-class"], &env, "3.5.3", &shell_free).unwrap();
        assert_eq!(launcher_args(&plan).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn pass_through_leaves_what_is_not_spark_s_script_alone() {
        let env = spark_env();
        let shell_free = Dist {
            programs: &[("spark-submit", "/usr/local/bin/spark-submit")],
            ..Dist::default()
        };
        for args in [
            &["spark-submit", "--version"][..],
            &["/usr/local/bin/spark-submit", "--version"],
            &["/opt/spark/bin/spark-shell"],
            &["/opt/spark/sbin/spark-submit"],
            &["spark-class"],
            &["/opt/spark/bin/spark-submit.cmd"],
            &["java", "-version"],
        ] {
            let plan = run_on(args, &env, "3.5.3", &shell_free).unwrap();
            assert_eq!(plan.launcher, None, "{args:?}");
        }
        // No SPARK_HOME: no Spark scripts to speak of.
        let no_home: Env = [("PATH", "/usr/bin")].into_iter().collect();
        let plan = run_on(&["/bin/spark-submit"], &no_home, "3.5.3", &shell_free).unwrap();
        assert_eq!(plan.launcher, None);
    }

    #[test]
    fn pass_through_keeps_the_script_where_bash_runs_it_unless_asked() {
        let with_bash = Dist {
            programs: &[BASH, SUBMIT_ON_PATH],
            files: &["/usr/bin/env"],
            ..Dist::default()
        };
        let env = spark_env();
        let args = ["spark-submit", "--version"];
        assert_eq!(
            run_on(&args, &env, "3.5.3", &with_bash).unwrap().launcher,
            None
        );
        let mut auto = env.clone();
        auto.set(PASS_THROUGH_VAR, "auto");
        assert_eq!(
            run_on(&args, &auto, "3.5.3", &with_bash).unwrap().launcher,
            None
        );
        let mut opt_in = env.clone();
        opt_in.set(PASS_THROUGH_VAR, "launcher");
        let plan = run_on(&args, &opt_in, "3.5.3", &with_bash).unwrap();
        assert_eq!(
            launcher_args(&plan).unwrap(),
            [launcher::SUBMIT_CLASS, "--version"]
        );
        // bash without /usr/bin/env cannot run `#!/usr/bin/env bash` either.
        let no_env = Dist {
            programs: &[BASH, SUBMIT_ON_PATH],
            ..Dist::default()
        };
        assert!(run_on(&args, &env, "3.5.3", &no_env)
            .unwrap()
            .launcher
            .is_some());
        let mut typo = env.clone();
        typo.set(PASS_THROUGH_VAR, "always");
        assert!(run_on(&["bash", "-c", "id"], &typo, "3.5.3", &with_bash).is_ok());
        let err = run_on(&args, &typo, "3.5.3", &with_bash).unwrap_err();
        assert_eq!(err.exit_code(), 64);
        let message = err.to_string();
        assert!(
            message.starts_with("SPARKIMG_PASS_THROUGH=\"always\" is not a setting"),
            "{message}"
        );
        assert!(message.contains("auto (the default"), "{message}");
    }

    #[test]
    fn pass_through_start_scripts_run_their_daemon_in_the_foreground() {
        let env = spark_env();
        let shell_free = Dist {
            jars: SERVER_40,
            ..Dist::default()
        };
        let args = [
            "/opt/spark/sbin/start-connect-server.sh",
            "--conf",
            "spark.connect.grpc.binding.port=15002",
        ];
        let plan = run_on(&args, &env, "4.0.1", &shell_free).unwrap();
        assert_eq!(plan.role, Role::PassThrough);
        assert_eq!(argv(&plan), args);
        let mut want = vec![launcher::SUBMIT_CLASS.to_string()];
        want.extend(connect_head()[1..].iter().cloned());
        want.extend(args[1..].iter().map(|a| a.to_string()));
        assert_eq!(launcher_args(&plan).unwrap(), want);
        assert_eq!(
            plan.env.get(OsStr::new("SPARK_CONNECT_MODE")),
            Some(&"0".into())
        );
        // 3.5's rules and refusals are the role's.
        let plain = Dist {
            jars: PLAIN_35,
            ..Dist::default()
        };
        assert!(matches!(
            run_on(&args, &env, "3.5.3", &plain).unwrap_err(),
            PlanError::ConnectServerMissing { .. }
        ));
        assert!(matches!(
            run_on(&args, &env, "3.3.4", &plain).unwrap_err(),
            PlanError::ConnectUnsupported { .. }
        ));
        let plan = run_on(
            &[
                "/opt/spark/sbin/start-history-server.sh",
                "--properties-file",
                "/etc/h.conf",
            ],
            &env,
            "3.5.3",
            &plain,
        )
        .unwrap();
        assert_eq!(
            launcher_args(&plan).unwrap(),
            [
                "org.apache.spark.deploy.history.HistoryServer",
                "--properties-file",
                "/etc/h.conf"
            ]
        );
        assert_eq!(
            plan.env.get(OsStr::new("SPARK_PRINT_LAUNCH_COMMAND")),
            Some(&"1".into())
        );
        // Where bash runs the script, it does (and daemonizes, as upstream's would).
        let with_bash = Dist {
            jars: SERVER_40,
            programs: &[BASH],
            files: &["/usr/bin/env"],
        };
        let plan = run_on(&args, &env, "4.0.1", &with_bash).unwrap();
        assert_eq!(plan.launcher, None);
        assert!(plan.env.is_empty());
        // Not ours (yet): other sbin scripts stay commands.
        let plan = run_on(&["/opt/spark/sbin/stop-master.sh"], &env, "3.5.3", &plain).unwrap();
        assert_eq!(plan.launcher, None);
    }

    #[test]
    fn pass_through_start_master_and_worker_as_their_scripts() {
        let shell_free = Dist::default();
        let env = spark_env();
        let tail = |args: &[&str], env: &Env| {
            let plan = run_on(args, env, "3.5.3", &shell_free).unwrap();
            assert_eq!(
                plan.env.get(OsStr::new("SPARK_PRINT_LAUNCH_COMMAND")),
                Some(&"1".into())
            );
            launcher_args(&plan).unwrap()
        };
        assert_eq!(
            tail(&["/opt/spark/sbin/start-master.sh"], &env),
            [
                "org.apache.spark.deploy.master.Master",
                "--host",
                "spark-master-0.spark-master.default.svc.cluster.local",
                "--port",
                "7077",
                "--webui-port",
                "8080"
            ]
        );
        let mut set = env.clone();
        set.set("SPARK_MASTER_HOST", "0.0.0.0");
        set.set("SPARK_MASTER_PORT", "7078");
        set.set("SPARK_MASTER_WEBUI_PORT", "8090");
        set.set("SPARK_WORKER_WEBUI_PORT", "8091");
        set.set("SPARK_WORKER_PORT", "7079");
        assert_eq!(
            tail(
                &["/opt/spark/sbin/start-master.sh", "--properties-file", "/p"],
                &set
            )[1..],
            [
                "--host",
                "0.0.0.0",
                "--port",
                "7078",
                "--webui-port",
                "8090",
                "--properties-file",
                "/p"
            ]
        );
        assert_eq!(
            tail(
                &[
                    "/opt/spark/sbin/start-worker.sh",
                    "spark://m:7077",
                    "--cores",
                    "2"
                ],
                &env
            ),
            [
                "org.apache.spark.deploy.worker.Worker",
                "--webui-port",
                "8081",
                "spark://m:7077",
                "--cores",
                "2"
            ]
        );
        assert_eq!(
            tail(&["/opt/spark/sbin/start-worker.sh", "spark://m:7077"], &set)[1..],
            ["--webui-port", "8091", "--port", "7079", "spark://m:7077"]
        );
        let err = run_on(
            &["/opt/spark/sbin/start-worker.sh"],
            &env,
            "3.5.3",
            &shell_free,
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err
            .to_string()
            .starts_with("Usage: ./sbin/start-worker.sh <master> [options]"));
    }
}
